//! The command line: global options and subcommands. Every flag has a `MESHTOP_*` variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The scenario `--demo` runs when given no path: built into the binary.
pub const DEMO_BUILTIN: &str = "builtin:k1-upgrade";

#[derive(Debug, Parser)]
#[command(
    name = "meshtop",
    version,
    about = "A terminal UI for operating Istio on Kubernetes during upgrades",
    long_about = "A terminal UI for operating Istio on Kubernetes during upgrades: control-plane \
revisions, gateways, proxies, PodDisruptionBudgets and the drains they block, nodes and \
namespaces, live on one screen.\n\nWithout a subcommand, meshtop starts the TUI on the current \
kubeconfig context (or on the built-in sandbox cluster with --demo)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster config).
    #[arg(long, global = true, env = "MESHTOP_KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context (default: the current context).
    #[arg(long, global = true, env = "MESHTOP_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    /// Only this namespace for namespaced resources (default: all namespaces).
    #[arg(
        short = 'n',
        long,
        global = true,
        env = "MESHTOP_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub namespace: Option<String>,

    /// The namespace of the Istio control plane.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_ISTIO_NAMESPACE",
        default_value = "istio-system",
        value_name = "NAMESPACE"
    )]
    pub istio_namespace: String,

    /// Color theme: default, light, high-contrast, or a path to a theme file. NO_COLOR is honoured.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_THEME",
        default_value = "default",
        value_name = "NAME|PATH"
    )]
    pub theme: String,

    /// Refuse every action that would change the cluster.
    #[arg(long, global = true, env = "MESHTOP_READONLY")]
    pub readonly: bool,

    /// Start the sandbox cluster in-process on the built-in scenario (the seed's cluster in the
    /// middle of its upgrade), or on the scenario file given, and connect to it exactly as to
    /// a real cluster.
    #[arg(long, global = true, env = "MESHTOP_DEMO", value_name = "SCENARIO", num_args = 0..=1, default_missing_value = DEMO_BUILTIN)]
    pub demo: Option<String>,

    /// Write logs to this file (filter with MESHTOP_LOG, e.g. MESHTOP_LOG=debug).
    /// Default: $XDG_STATE_HOME/meshtop/meshtop.log.
    #[arg(long, global = true, env = "MESHTOP_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one view of the model and exit: connect, wait for the initial sync, print.
    Get(GetCmd),
    /// Serve a sandbox Kubernetes API server on loopback, loaded from a scenario.
    #[command(long_about = SANDBOX_LONG_ABOUT, after_long_help = crate::sandbox::scenario::FORMAT_HELP)]
    Sandbox(SandboxCmd),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum View {
    Revisions,
    Gateways,
    Disruption,
    Nodes,
    Namespaces,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct GetCmd {
    /// What to print.
    #[arg(value_enum)]
    pub view: View,
    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "table",
        env = "MESHTOP_OUTPUT"
    )]
    pub output: Output,
    /// How long to wait for the initial sync, in seconds.
    #[arg(
        long,
        default_value = "30",
        env = "MESHTOP_SYNC_TIMEOUT",
        value_name = "SECONDS"
    )]
    pub sync_timeout: u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_takes_an_optional_scenario() {
        let c = Cli::try_parse_from(["meshtop", "--demo"]).expect("parse");
        assert_eq!(c.global.demo.as_deref(), Some(DEMO_BUILTIN));
        let c = Cli::try_parse_from(["meshtop", "--demo", "x.yaml"]).expect("parse");
        assert_eq!(c.global.demo.as_deref(), Some("x.yaml"));
        let c = Cli::try_parse_from(["meshtop", "get", "nodes", "-o", "json", "--demo"])
            .expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::Get(GetCmd {
                view: View::Nodes,
                output: Output::Json,
                ..
            }))
        ));
    }
}
