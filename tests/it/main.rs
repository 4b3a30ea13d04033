//! meshtop's integration tests, in one binary: the sandbox cluster over loopback, the real
//! kube client and kubectl against it, the CLI as a process, and the TUI under tmux.

#[path = "../common/mod.rs"]
mod common;

mod ambient_actions;
mod cluster_actions;
mod cluster_inspect;
mod cluster_install;
mod cluster_sync;
mod cluster_watch;
mod command_line;
mod disconnect;
mod drain_guard;
mod install_helm;
mod install_istioctl;
mod install_sail;
mod intake;
mod mesh_2026;
mod paging;
mod panes;
mod sandbox_cli;
mod sandbox_conformance;
mod sandbox_istiod;
mod sandbox_kubectl;
mod sandbox_mesh;
mod sandbox_scale;
mod sandbox_validation;
mod snapshot;
mod tag_actions;
mod trust_input;
mod tui_tmux;
mod tui_workload;
mod ui_actions;
mod ui_install;
mod ui_remedies;
mod ui_views;
mod uninstall_actions;
mod upgrade_nodes;
mod worklist;
mod workload_actions;
