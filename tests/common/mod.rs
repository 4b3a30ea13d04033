//! What the integration tests share: a sandbox started from a scenario and meshtop's kube
//! client connected to it, waiting for a condition with a deadline, meshtop and kubectl as
//! processes, and meshtop in a real terminal under tmux.
// (`mod.rs` and not `common.rs`: cargo would take a `tests/common.rs` for a test binary.)

pub mod harness;
pub mod process;
pub mod relay;
pub mod seed;
pub mod stand_in;
pub mod tmux;
pub mod tui;
pub mod wait;
