//! meshtop: a terminal UI for operating Istio on Kubernetes during upgrades.
//!
//! Data flows one way: `cluster` (the only code that talks to the API server: watchers,
//! later the sync poller and action executors) sends events → `model` (pure: summaries,
//! aggregates, derived facts) → `ui` (pure views, keymap, themes) draws; `app` owns the
//! loop that ties them together. `headless` prints the same facts for `meshtop get`;
//! `files` writes the files that are the user's alone (audit log, log file, kubeconfig copies).
//! The sandbox cluster behind `--demo` and the tests is its own crate (`meshtop-sandbox`,
//! under `crates/`); the product only starts it.

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod cluster;
pub mod files;
#[cfg(test)]
mod garbage;
pub mod headless;
pub mod logging;
pub mod model;
pub mod ops;
pub mod signals;
pub mod snapshot;
pub mod ui;
