//! What every integration test shares: a sandbox started from a scenario, meshtop's kube
//! client connected to it, and waiting for a condition with a deadline.
// (`mod.rs` and not `common.rs`: cargo would take a `tests/common.rs` for a test binary.)

pub mod harness;
