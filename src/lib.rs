//! meshtop: a terminal UI for operating Istio on Kubernetes during upgrades.
//!
//! - `sandbox`: the sandbox cluster (an API server on loopback, loaded from a scenario) that
//!   `--demo`, the integration tests and the benchmarks run against.
//! - `cli`: the command line.
//! - `cluster`: the only code that talks to the API server: connecting, and the watchers.
//! - `logging`: tracing to a file, never to the terminal.
//! - `ui`: the terminal UI: views, keymap, themes.

pub mod cli;
pub mod cluster;
pub mod model;
pub mod logging;
pub mod sandbox;
pub mod ui;
