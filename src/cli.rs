//! The command line: global options and subcommands. Every flag has a `MESHTOP_*` variable.

mod install;

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
kubeconfig context (or on the built-in sandbox cluster with --demo).",
    after_long_help = EXIT_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

const EXIT_HELP: &str = "Exit codes: 0 done; 1 failed, timed out, or refused without --force; \
2 bad input (options, kubeconfig, an unknown node, namespace or PDB, --readonly); 128 + N when \
signal N stopped meshtop.\n\nSignals: SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT stop the TUI \
and the action commands the same way: the terminal is given back (main screen, cursor shown, raw mode \
off), each action still running is stopped and audited as interrupted (what it did stays done: \
a node being drained stays cordoned), and meshtop exits with 128 + the signal's number (130, \
143, 129, 131).";

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster config).
    #[arg(long, global = true, env = "MESHTOP_KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context (default: the current context).
    #[arg(long, global = true, env = "MESHTOP_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    /// Show only this namespace's objects in the lists (default: all namespaces). Drain
    /// answers and the control plane still count every namespace the user may list; where
    /// RBAC allows this namespace only, they are shown as unknown, with why.
    #[arg(
        short = 'n',
        long,
        global = true,
        env = "MESHTOP_NAMESPACE",
        value_name = "NAMESPACE",
        value_parser = namespace_name
    )]
    pub namespace: Option<String>,

    /// The namespace of the Istio control plane.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_ISTIO_NAMESPACE",
        default_value = "istio-system",
        value_name = "NAMESPACE",
        value_parser = namespace_name
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

    /// How often each istiod replica is asked for its proxies' sync state, in seconds.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_SYNCZ_INTERVAL",
        default_value = "5",
        value_name = "SECONDS",
        value_parser = positive_seconds
    )]
    pub syncz_interval: f64,

    /// How long one ask of an istiod replica may take, in seconds.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_SYNCZ_TIMEOUT",
        default_value = "5",
        value_name = "SECONDS",
        value_parser = positive_seconds
    )]
    pub syncz_timeout: f64,

    /// Append one JSON line per action (time, context, user, action, target, dry_run, result)
    /// to this file. Default: $XDG_STATE_HOME/meshtop/audit.log.
    #[arg(long, global = true, env = "MESHTOP_AUDIT_LOG", value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Write logs to this file (filter with MESHTOP_LOG, e.g. MESHTOP_LOG=debug).
    /// Default: $XDG_STATE_HOME/meshtop/meshtop.log.
    #[arg(long, global = true, env = "MESHTOP_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

/// A namespace flag: it becomes part of request paths, so it is checked as the API server
/// checks a namespace's name.
fn namespace_name(text: &str) -> Result<String, String> {
    crate::ops::names::namespace(text)
        .map(|()| text.to_string())
        .map_err(|e| e.to_string())
}

/// A duration in seconds: finite, at least 0.01, at most a day.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if (0.01..=MAX_WAIT.as_secs_f64()).contains(&s) => Ok(s),
        _ => Err(format!(
            "expected a number of seconds between 0.01 and 86400, got {text:?}"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one view of the model and exit: connect, wait for the initial sync, print.
    Get(GetCmd),
    /// Print every proxy's xDS sync state as `istioctl proxy-status` does (NAME CLUSTER CDS
    /// LDS EDS RDS ECDS ISTIOD VERSION) and exit: ask every istiod replica once.
    ProxyStatus(ProxyStatusCmd),
    /// Cordon a node, then evict its pods through the Eviction API with kubectl drain's rules
    /// (DaemonSet and mirror pods stay; PDB refusals are retried every 5s).
    Drain(DrainCmd),
    /// Mark a node unschedulable.
    Cordon(NodeCmd),
    /// Mark a node schedulable again.
    Uncordon(NodeCmd),
    /// Set a namespace's injection revision, or a node label.
    #[command(subcommand)]
    Label(LabelCmd),
    /// Relax a PodDisruptionBudget (saving its spec on it), or restore the saved spec.
    #[command(subcommand)]
    Pdb(PdbCmd),
    /// Install a control-plane revision or a gateway as an IstioOperator resource.
    #[command(subcommand)]
    Install(InstallCmd),
    /// Serve a sandbox Kubernetes API server on loopback, loaded from a scenario.
    #[command(long_about = SANDBOX_LONG_ABOUT, after_long_help = meshtop_sandbox::scenario::FORMAT_HELP)]
    Sandbox(SandboxCmd),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum View {
    Revisions,
    Gateways,
    Proxies,
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
    /// The width `-o table` is laid out for, in characters: it prints the columns the TUI
    /// shows at this width. Default: the terminal's width when stdout is a terminal, else
    /// every column.
    #[arg(
        long,
        env = "MESHTOP_WIDTH",
        value_name = "COLUMNS",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub width: Option<u16>,
    /// How long to wait for the initial sync, in seconds (1 to 86400).
    #[arg(
        long,
        default_value = "30",
        env = "MESHTOP_SYNC_TIMEOUT",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT.as_secs())
    )]
    pub sync_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ProxyStatusCmd {
    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "table",
        env = "MESHTOP_OUTPUT"
    )]
    pub output: Output,
    /// Only ask this revision's istiod (its `istio.io/rev` label; `default` for none).
    #[arg(long, env = "MESHTOP_REVISION", value_name = "REV")]
    pub revision: Option<String>,
    /// How long to wait for every istiod replica to answer, in seconds (1 to 86400).
    #[arg(
        long,
        default_value = "30",
        env = "MESHTOP_SYNC_TIMEOUT",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT.as_secs())
    )]
    pub sync_timeout: u64,
}

#[derive(Debug, Args)]
pub struct DrainCmd {
    /// The node to drain.
    pub node: String,
    /// Send every request with dryRun=All: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
    /// Give up after this long (e.g. 90s, 5m, 1h; 1s to 24h); the node stays cordoned.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = duration)]
    pub timeout: std::time::Duration,
    /// Also evict pods with emptyDir volumes (their data is lost).
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// Also evict pods that declare no controller (nothing recreates them).
    #[arg(long)]
    pub force: bool,
    /// Drain even when it evicts the last ready replica of a workload (istiod, a gateway,
    /// any Deployment or StatefulSet): without it such a drain is refused before the cordon.
    #[arg(long)]
    pub evict_last_replica: bool,
}

#[derive(Debug, Args)]
pub struct NodeCmd {
    pub node: String,
    /// Send the request with dryRun=All: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum LabelCmd {
    /// Set `istio.io/rev=REV` on a namespace and remove a conflicting `istio-injection`;
    /// refused when no revision REV runs in the cluster, unless --force.
    Namespace {
        namespace: String,
        /// The control-plane revision.
        #[arg(long, value_name = "REV")]
        rev: String,
        /// Then rollout-restart its Deployments, StatefulSets and DaemonSets, and wait for
        /// each rollout as `kubectl rollout status` does.
        #[arg(long)]
        restart: bool,
        /// How long to wait for the rollouts after --restart (at most 24h; 0s: do not wait).
        #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = duration_or_zero)]
        timeout: std::time::Duration,
        /// Send every request with dryRun=All: nothing changes.
        #[arg(long)]
        dry_run: bool,
        /// Set it even when no such revision runs in the cluster (the namespace's new pods
        /// would get no proxy); without it that is refused (exit 1, nothing sent). The audit
        /// line says the label was forced.
        #[arg(long)]
        force: bool,
    },
    /// Set (KEY=VALUE) or remove (KEY-) a node label.
    Node {
        node: String,
        #[arg(value_name = "KEY=VALUE|KEY-")]
        label: String,
        /// Send the request with dryRun=All: nothing changes.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `meshtop install`: defined in `cli/install.rs`.
pub use install::InstallCmd;

#[derive(Debug, Subcommand)]
pub enum PdbCmd {
    /// Let a PDB allow every disruption (minAvailable 0, or maxUnavailable 100%), saving its
    /// spec in the `meshtop.dev/relaxed-from` annotation and what it wrote in
    /// `meshtop.dev/relaxed-to`.
    Relax(PdbTargetCmd),
    /// Put a relaxed PDB's saved spec back and remove the annotations. Refused (exit 1,
    /// nothing written) when the budget's minAvailable or maxUnavailable changed since it was
    /// relaxed, unless --force.
    Restore(PdbRestoreCmd),
}

#[derive(Debug, Args)]
pub struct PdbRestoreCmd {
    #[command(flatten)]
    pub target: PdbTargetCmd,
    /// Restore even when the budget changed since it was relaxed, overwriting that change
    /// (the audit line says the restore was forced).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PdbTargetCmd {
    #[arg(value_name = "NAMESPACE/NAME")]
    pub pdb: String,
    /// Send the request with dryRun=All: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
}

/// The longest wait any flag may ask for: a day. Longer ones are typos, and a deadline that
/// far must still fit the clock.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A wait of at least a second: `90s`, `5m`, `1h`, `1m30s`, or bare seconds; at most 24h.
fn duration(text: &str) -> Result<std::time::Duration, String> {
    match duration_or_zero(text)? {
        d if d.is_zero() => Err(format!("expected at least 1s, got {text:?}")),
        d => Ok(d),
    }
}

/// [`duration`], where `0s` (or `0`) means not waiting at all.
fn duration_or_zero(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("expected a duration like 90s, 5m or 1h30m (at most 24h), got {text:?}");
    let t = text.trim();
    let total = match t.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => {
            let mut total = 0u64;
            let mut number = String::new();
            for c in t.chars() {
                if c.is_ascii_digit() {
                    number.push(c);
                    continue;
                }
                let n: u64 = number.parse().map_err(|_| bad())?;
                number.clear();
                let unit = match c {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    _ => return Err(bad()),
                };
                total = n
                    .checked_mul(unit)
                    .and_then(|v| total.checked_add(v))
                    .ok_or_else(bad)?;
            }
            if !number.is_empty() || t.is_empty() {
                return Err(bad());
            }
            total
        }
    };
    let d = std::time::Duration::from_secs(total);
    if d > MAX_WAIT {
        return Err(bad());
    }
    Ok(d)
}

const SANDBOX_LONG_ABOUT: &str = "Serve a sandbox Kubernetes API server on loopback, loaded from a scenario, until \
Ctrl-C, SIGTERM, SIGHUP or SIGQUIT. It speaks the real wire protocol, so kubectl and meshtop use it like a \
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

    #[test]
    fn actions_parse() {
        let c = Cli::try_parse_from([
            "meshtop",
            "drain",
            "k1-node03",
            "--timeout",
            "6s",
            "--force",
            "--audit-log",
            "/tmp/a.log",
        ])
        .expect("parse");
        let Some(Command::Drain(cmd)) = c.command else {
            panic!("not drain: {:?}", c.command);
        };
        assert_eq!(cmd.timeout, std::time::Duration::from_secs(6));
        assert!(cmd.force && !cmd.dry_run && !cmd.delete_emptydir_data);
        assert_eq!(
            c.global.audit_log.as_deref(),
            Some(std::path::Path::new("/tmp/a.log"))
        );
        assert_eq!(duration("5m"), Ok(std::time::Duration::from_secs(300)));
        assert_eq!(duration("1m30s"), Ok(std::time::Duration::from_secs(90)));
        assert!(duration("5x").is_err() && duration("m").is_err() && duration("5m3").is_err());
        let c = Cli::try_parse_from([
            "meshtop",
            "label",
            "namespace",
            "legacy-shop",
            "--rev",
            "1-9-1",
            "--restart",
        ])
        .expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::Label(LabelCmd::Namespace { restart: true, .. }))
        ));
        let c = Cli::try_parse_from(["meshtop", "pdb", "relax", "istio-system/istio-pilot"])
            .expect("parse");
        assert!(matches!(c.command, Some(Command::Pdb(PdbCmd::Relax(_)))));
        // Consent is a flag on the command line, never an environment variable.
        let c = Cli::try_parse_from([
            "meshtop",
            "pdb",
            "restore",
            "istio-system/istio-pilot",
            "--force",
        ])
        .expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::Pdb(PdbCmd::Restore(PdbRestoreCmd {
                force: true,
                ..
            })))
        ));
        let c = Cli::try_parse_from([
            "meshtop",
            "label",
            "namespace",
            "shop",
            "--rev",
            "canary",
            "--force",
        ])
        .expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::Label(LabelCmd::Namespace { force: true, .. }))
        ));
        assert!(
            Cli::try_parse_from(["meshtop", "pdb", "relax", "a/b", "--force"]).is_err(),
            "relax has nothing to force"
        );
    }

    #[test]
    fn every_wait_is_bounded_at_parse_time_and_the_error_names_the_flag() {
        let refused = |args: &[&str], flag: &str| {
            let mut all = vec!["meshtop"];
            all.extend(args);
            let e = Cli::try_parse_from(&all).expect_err("refused").to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
        };
        let huge = u64::MAX.to_string();
        let hours = format!("{}h", u64::MAX / 3600);
        refused(&["get", "nodes", "--sync-timeout", &huge], "--sync-timeout");
        refused(
            &["get", "nodes", "--sync-timeout", "86401"],
            "--sync-timeout",
        );
        refused(&["get", "nodes", "--sync-timeout", "0"], "--sync-timeout");
        refused(&["proxy-status", "--sync-timeout", &huge], "--sync-timeout");
        refused(&["drain", "n1", "--timeout", &hours], "--timeout");
        refused(&["drain", "n1", "--timeout", "25h"], "--timeout");
        refused(&["drain", "n1", "--timeout", "0s"], "--timeout");
        let label = ["label", "namespace", "shop", "--rev", "canary", "--restart"];
        refused(&[&label[..], &["--timeout", &hours]].concat(), "--timeout");
        refused(&["--syncz-interval", "1e300"], "--syncz-interval");
        refused(&["--syncz-timeout", "inf"], "--syncz-timeout");
        refused(&["-n", "a/b", "get", "nodes"], "--namespace");
        refused(
            &["--istio-namespace", "..", "get", "nodes"],
            "--istio-namespace",
        );

        // `0s` is what the help says: no wait for the rollouts.
        for zero in ["0s", "0", "0m"] {
            let c = Cli::try_parse_from([&["meshtop"][..], &label, &["--timeout", zero]].concat())
                .expect("parse");
            let Some(Command::Label(LabelCmd::Namespace { timeout, .. })) = c.command else {
                panic!("not label namespace");
            };
            assert!(timeout.is_zero(), "{zero}");
        }
        let c = Cli::try_parse_from(["meshtop", "drain", "n1", "--timeout", "24h"]).expect("24h");
        assert!(matches!(c.command, Some(Command::Drain(d)) if d.timeout == MAX_WAIT));
    }

    /// Every subcommand and flag name, at any depth: the words garbage is mixed with.
    fn vocabulary(cmd: &clap::Command, words: &mut Vec<String>) {
        words.push(cmd.get_name().to_string());
        for arg in cmd.get_arguments() {
            words.extend(arg.get_long().map(|l| format!("--{l}")));
            words.extend(arg.get_short().map(|s| format!("-{s}")));
        }
        for sub in cmd.get_subcommands() {
            vocabulary(sub, words);
        }
    }

    #[test]
    fn garbage_on_the_command_line_is_an_error_never_a_panic() {
        let mut words = Vec::new();
        vocabulary(&Cli::command(), &mut words);
        let mut g = crate::garbage::Garbage::new(0x6d65_7368);
        for _ in 0..2000 {
            let mut args = vec!["meshtop".to_string()];
            for _ in 0..g.below(8) {
                let arg = match g.below(4) {
                    0 | 1 => g.pick(&words).clone(),
                    2 => g.text(),
                    _ => format!("{}={}", g.pick(&words), g.text()),
                };
                args.push(arg);
            }
            match Cli::try_parse_from(&args) {
                Ok(cli) => {
                    let _ = format!("{cli:?}");
                }
                Err(e) => {
                    let _ = e.render().to_string();
                }
            }
        }
    }

    #[test]
    fn proxy_status_takes_output_and_revision() {
        let c = Cli::try_parse_from([
            "meshtop",
            "proxy-status",
            "-o",
            "json",
            "--revision",
            "canary",
        ])
        .expect("parse");
        let Some(Command::ProxyStatus(cmd)) = c.command else {
            panic!("not proxy-status: {:?}", c.command);
        };
        assert_eq!(cmd.output, Output::Json);
        assert_eq!(
            (c.global.syncz_interval, c.global.syncz_timeout),
            (5.0, 5.0)
        );
        let c = Cli::try_parse_from(["meshtop", "--syncz-interval", "0.5", "proxy-status"])
            .expect("parse");
        assert_eq!(c.global.syncz_interval, 0.5);
        assert!(Cli::try_parse_from(["meshtop", "--syncz-timeout", "0"]).is_err());
        assert!(Cli::try_parse_from(["meshtop", "--syncz-timeout", "NaN"]).is_err());
        assert_eq!(cmd.revision.as_deref(), Some("canary"));
        let c = Cli::try_parse_from(["meshtop", "proxy-status", "--demo"]).expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::ProxyStatus(ProxyStatusCmd {
                output: Output::Table,
                revision: None,
                ..
            }))
        ));
    }
}
