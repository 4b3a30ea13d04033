//! The command line: global options and subcommands. Every flag has a `MESHTOP_*` variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "meshtop",
    version,
    about = "A terminal UI for operating Istio on Kubernetes during upgrades",
    arg_required_else_help = true
)]
pub struct Cli {
    /// Write logs to this file (filter with MESHTOP_LOG, e.g. MESHTOP_LOG=debug).
    /// Default: $XDG_STATE_HOME/meshtop/meshtop.log.
    #[arg(long, global = true, env = "MESHTOP_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a sandbox Kubernetes API server on loopback, loaded from a scenario.
    #[command(long_about = SANDBOX_LONG_ABOUT, after_long_help = crate::sandbox::scenario::FORMAT_HELP)]
    Sandbox(SandboxCmd),
}

const SANDBOX_LONG_ABOUT: &str = "Serve a sandbox Kubernetes API server on loopback, loaded from a scenario, until \
Ctrl-C or SIGTERM. It speaks the real wire protocol, so kubectl and meshtop use it like a \
real cluster. When ready it prints the address it serves and the path of a kubeconfig with \
the contexts `meshtop-sandbox` (may do everything) and `meshtop-sandbox-restricted` \
(refused what the scenario's restricted-deny setting names), each carrying a random bearer \
token; requests without a valid token get 401.";

#[derive(Debug, Args)]
pub struct SandboxCmd {
    /// The scenario to load (multi-document YAML, format below).
    #[arg(long, env = "MESHTOP_SANDBOX_SCENARIO", value_name = "PATH")]
    pub scenario: PathBuf,
    /// Address to serve on; only loopback addresses are accepted. Port 0 picks a free port.
    #[arg(
        long,
        env = "MESHTOP_SANDBOX_LISTEN",
        default_value = "127.0.0.1:0",
        value_name = "IP:PORT"
    )]
    pub listen: String,
    /// Where to write the kubeconfig. Default: a file in the temp directory named after the port.
    #[arg(long, env = "MESHTOP_SANDBOX_KUBECONFIG_OUT", value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,
}
