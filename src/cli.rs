//! The command line: global options and subcommands. Every flag has a `MESHTOP_*` variable.

mod install;

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

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
2 bad input (options, kubeconfig, an unknown node, namespace, PDB, workload or revision, --readonly); 128 + N when \
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

    /// Objects per page when meshtop reads a list in pages: from API servers older than
    /// Kubernetes 1.32, or that refuse to stream a watch's first list.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_LIST_PAGE_SIZE",
        default_value = "500",
        value_name = "OBJECTS",
        value_parser = clap::value_parser!(u32).range(1..=100_000)
    )]
    pub list_page_size: u32,

    /// Color theme: default, light, high-contrast, or a path to a theme file. NO_COLOR is honoured.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_THEME",
        default_value = "default",
        value_name = "NAME|PATH"
    )]
    pub theme: String,

    /// A key map file overriding some key bindings (same format as the built-in one; see
    /// README). Default: $XDG_CONFIG_HOME/meshtop/keymap.toml, else
    /// ~/.config/meshtop/keymap.toml, when it exists.
    #[arg(long, global = true, env = "MESHTOP_KEYMAP", value_name = "FILE")]
    pub keymap: Option<PathBuf>,

    /// Refuse every action that would change the cluster.
    #[arg(long, global = true, env = "MESHTOP_READONLY", value_parser = BoolishValueParser::new())]
    pub readonly: bool,

    /// Start the sandbox cluster in-process and connect to it exactly as to a real cluster.
    /// Plain `--demo` runs the field report's cluster in the middle of its upgrade (or the
    /// scenario --demo-scenario names);
    /// `--demo=NAME` a built-in scenario (k1-upgrade, canary-2026: a 2026 mesh mid canary
    /// upgrade), `--demo=PATH` a scenario file.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_DEMO",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "NAME|PATH"
    )]
    pub demo: Option<String>,

    /// Run the sandbox of --demo on this built-in scenario (k1-upgrade, canary-2026) or
    /// scenario file instead (implies --demo; the format is in `meshtop sandbox --help`).
    #[arg(
        long,
        global = true,
        env = "MESHTOP_DEMO_SCENARIO",
        value_name = "NAME|PATH"
    )]
    pub demo_scenario: Option<PathBuf>,

    /// How often each istiod replica is asked for its proxies' sync state, in seconds
    /// (default 5). A large mesh's replicas are asked less often, so that their answers come
    /// to at most 4 MiB a second in all (up to once a minute).
    #[arg(
        long,
        global = true,
        env = "MESHTOP_ISTIOD_INTERVAL",
        value_name = "SECONDS",
        value_parser = positive_seconds
    )]
    istiod_interval: Option<f64>,

    /// How long an istiod replica may keep meshtop waiting, in seconds (default 5): for its
    /// answer to begin, then for each next piece of it.
    #[arg(
        long,
        global = true,
        env = "MESHTOP_ISTIOD_TIMEOUT",
        value_name = "SECONDS",
        value_parser = positive_seconds
    )]
    istiod_timeout: Option<f64>,

    /// The former name of --istiod-interval, still read so that scripts keep working.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "MESHTOP_SYNCZ_INTERVAL",
        value_parser = positive_seconds
    )]
    syncz_interval: Option<f64>,

    /// The former name of --istiod-timeout: one letter from --sync-timeout, which means
    /// something else.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "MESHTOP_SYNCZ_TIMEOUT",
        value_parser = positive_seconds
    )]
    syncz_timeout: Option<f64>,

    /// Append one JSON line per action (time, context, user, action, target, dry_run, result)
    /// to this file. Default: $XDG_STATE_HOME/meshtop/audit.log.
    #[arg(long, global = true, env = "MESHTOP_AUDIT_LOG", value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Write logs to this file (filter with MESHTOP_LOG, e.g. MESHTOP_LOG=debug).
    /// Default: $XDG_STATE_HOME/meshtop/meshtop.log.
    #[arg(long, global = true, env = "MESHTOP_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

/// What `--demo` runs the sandbox on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoScenario {
    /// A scenario built into the binary, by name (the field report's cluster by default).
    BuiltIn(&'static str),
    /// A scenario file, or a word that names no built-in scenario (refused when loaded).
    File(PathBuf),
}

impl DemoScenario {
    fn of(arg: &std::path::Path) -> Self {
        match meshtop_sandbox::scenario::BUILT_IN
            .iter()
            .find(|(n, _)| arg.to_str() == Some(n))
        {
            Some((name, _)) => Self::BuiltIn(name),
            None => Self::File(arg.to_path_buf()),
        }
    }
}

/// The default of `--istiod-interval` and `--istiod-timeout`, in seconds.
const ISTIOD_DEFAULT_SECONDS: f64 = 5.0;

impl GlobalArgs {
    /// The sandbox `--demo` (or `--demo-scenario`) asks for, if any.
    pub fn demo(&self) -> Option<DemoScenario> {
        if let Some(path) = &self.demo_scenario {
            return Some(DemoScenario::of(path));
        }
        // `--demo` alone, or MESHTOP_DEMO=true as the flag was set before it took a value.
        match self.demo.as_deref()?.trim() {
            "" | "true" | "yes" | "on" | "1" | "y" => {
                Some(DemoScenario::BuiltIn(meshtop_sandbox::DEFAULT_DEMO))
            }
            "false" | "no" | "off" | "0" | "n" => None,
            other => Some(DemoScenario::of(std::path::Path::new(other))),
        }
    }

    /// `--istiod-interval`, else its former name, in seconds.
    pub fn istiod_interval(&self) -> f64 {
        self.istiod_interval
            .or(self.syncz_interval)
            .unwrap_or(ISTIOD_DEFAULT_SECONDS)
    }

    /// `--istiod-timeout`, else its former name, in seconds.
    pub fn istiod_timeout(&self) -> f64 {
        self.istiod_timeout
            .or(self.syncz_timeout)
            .unwrap_or(ISTIOD_DEFAULT_SECONDS)
    }
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
    /// Print one view of the cluster once its initial sync is done, and exit (for scripts).
    Get(GetCmd),
    /// Print every proxy's xDS sync state as `istioctl proxy-status` does (NAME CLUSTER CDS
    /// LDS EDS RDS ECDS ISTIOD VERSION) and exit: ask every istiod replica once. Given a
    /// proxy, print its state per xDS type instead.
    ProxyStatus(ProxyStatusCmd),
    /// Print the findings an expert would check by hand before going on with an upgrade, and
    /// exit 1 when any reaches --fail-on: read the cluster as `get` does and ask every istiod
    /// replica once as `proxy-status` does.
    #[command(after_long_help = CHECK_HELP)]
    Check(CheckCmd),
    /// Cordon a node, then evict its pods through the Eviction API with kubectl drain's rules
    /// (DaemonSet and mirror pods stay; PDB refusals are retried every 5s).
    Drain(DrainCmd),
    /// Upgrade nodes one at a time: cordon, drain with the mesh guard, wait for the new
    /// kubelet, restart the node's ztunnel (ambient), uncordon, then the next; budgets in the
    /// way are relaxed for the plan (or their workload scaled up) and put back at its end.
    #[command(after_long_help = UPGRADE_HELP)]
    UpgradeNodes(UpgradeNodesCmd),
    /// Mark a node unschedulable.
    Cordon(NodeCmd),
    /// Mark a node schedulable again.
    Uncordon(NodeCmd),
    /// Set a namespace's injection revision or ambient mode, or a node label.
    #[command(subcommand)]
    Label(LabelCmd),
    /// Relax a PodDisruptionBudget (saving its spec on it), or restore the saved spec.
    #[command(subcommand)]
    Pdb(PdbCmd),
    /// Install a control-plane revision or a gateway through the cluster's installer (Helm, or an
    /// IstioOperator resource).
    #[command(subcommand)]
    Install(InstallCmd),
    /// Copy the current context's cluster into a scenario file for `meshtop --demo=FILE`:
    /// the kinds meshtop shows, in every namespace you may list, with their status, uids and
    /// owner references, and each proxy's sync state as istiod reports it (never a Secret).
    Snapshot(SnapshotCmd),
    /// Set a Deployment's or StatefulSet's replicas through its scale subresource, as
    /// `kubectl scale` does (e.g. to 2, so that its PodDisruptionBudget allows a drain).
    Scale(ScaleCmd),
    /// Restart a workload's pods as `kubectl rollout restart` does.
    #[command(subcommand)]
    Rollout(RolloutCmd),
    /// Point a revision tag at a control-plane revision, as `istioctl tag set` does.
    #[command(subcommand)]
    Tag(TagCmd),
    /// Delete a control-plane revision's objects once nothing uses it.
    #[command(subcommand)]
    Uninstall(UninstallCmd),
    /// Serve a sandbox Kubernetes API server on loopback, loaded from a scenario.
    #[command(long_about = SANDBOX_LONG_ABOUT, after_long_help = meshtop_sandbox::scenario::FORMAT_HELP)]
    Sandbox(SandboxCmd),
    /// Print a shell completion script (e.g. `source <(meshtop completion bash)`).
    Completion(CompletionCmd),
    /// Print the key bindings in effect (the user key map applied).
    Keys(KeysCmd),
}

const CHECK_HELP: &str = "Exit codes: 0 when no finding reaches --fail-on; 1 when one does, or \
when the cluster or istiod could not be read in time (the findings read so far are printed); \
2 bad input.";

/// What `meshtop get` prints. The names, short names and singulars are kubectl's where
/// kubectl has the kind, matched without regard to case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum View {
    /// Control-plane revisions (also rev, revision).
    #[value(alias = "rev", alias = "revision")]
    Revisions,
    /// Gateway deployments (also gw, gateway).
    #[value(alias = "gw", alias = "gateway")]
    Gateways,
    /// Proxies and their xDS sync state (also proxy).
    #[value(alias = "proxy")]
    Proxies,
    /// PodDisruptionBudgets and the drains they block (also pdb, pdbs, poddisruptionbudget,
    /// poddisruptionbudgets).
    #[value(
        alias = "pdb",
        alias = "pdbs",
        alias = "poddisruptionbudget",
        alias = "poddisruptionbudgets"
    )]
    Disruption,
    /// Nodes (also no, node).
    #[value(alias = "no", alias = "node")]
    Nodes,
    /// Namespaces (also ns, namespace).
    #[value(alias = "ns", alias = "namespace")]
    Namespaces,
}

/// The formats of `proxy-status` and `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// The formats of `get`: kubectl's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    /// The columns the TUI shows at --width.
    Table,
    /// Every column, whatever the width.
    Wide,
    /// One `kind/name` line per row, as kubectl prints them.
    Name,
    Json,
    Yaml,
}

/// `--sync-timeout`: how long a command waits for the cluster's first answers without
/// progress.
#[derive(Debug, Clone, Copy, Args)]
pub struct SyncTimeout {
    /// How long the cluster's first answers (the watches' first lists, each istiod
    /// replica's first sync report) may go without progress before the command gives up, in
    /// seconds (1 to 86400): a large cluster whose lists keep arriving is waited for.
    #[arg(
        long = "sync-timeout",
        default_value = "30",
        env = "MESHTOP_SYNC_TIMEOUT",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT.as_secs())
    )]
    pub seconds: u64,
}

impl SyncTimeout {
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }
}

#[derive(Debug, Args)]
pub struct GetCmd {
    /// What to print.
    #[arg(value_enum, ignore_case = true)]
    pub view: View,
    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "table",
        env = "MESHTOP_OUTPUT"
    )]
    pub output: GetOutput,
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
    #[command(flatten)]
    pub sync: SyncTimeout,
}

#[derive(Debug, Args)]
pub struct ProxyStatusCmd {
    /// One proxy: its pod's name, as POD.NAMESPACE or with -n NAMESPACE (without either,
    /// the pod's name must be unique in the mesh).
    #[arg(value_name = "POD[.NAMESPACE]")]
    pub proxy: Option<String>,
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
    /// The table of which istioctl: `current` (1.27+: the types each proxy subscribes
    /// to) or `legacy` (a column per Envoy type). Default: the one matching the cluster's
    /// newest istiod.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ProxyStatusFormat>,
    #[command(flatten)]
    pub sync: SyncTimeout,
}

/// The table formats of `proxy-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProxyStatusFormat {
    Legacy,
    Current,
}

/// The lowest severity `check` fails on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

#[derive(Debug, Args)]
pub struct CheckCmd {
    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "table",
        env = "MESHTOP_OUTPUT"
    )]
    pub output: Output,
    /// Exit 1 when a finding is this severe or more.
    #[arg(
        long,
        value_enum,
        default_value = "error",
        env = "MESHTOP_FAIL_ON",
        value_name = "SEVERITY"
    )]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub sync: SyncTimeout,
}

#[derive(Debug, Args)]
pub struct KeysCmd {
    /// As a Markdown table (README's).
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotCmd {
    /// Write the scenario to this file instead of standard output.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        env = "MESHTOP_SNAPSHOT_OUTPUT"
    )]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub sync: SyncTimeout,
}

#[derive(Debug, Args)]
pub struct CompletionCmd {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The command line as `--help` shows it, for the completion scripts: clap_complete offers
/// hidden flags too, and those are either refused (kubectl's drain flags) or former names.
pub fn offered() -> clap::Command {
    fn visible(command: &clap::Command) -> clap::Command {
        let mut offered = clap::Command::new(command.get_name().to_string());
        if let Some(about) = command.get_about() {
            offered = offered.about(about.clone());
        }
        if let Some(version) = command.get_version() {
            offered = offered.version(version.to_string());
        }
        for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
            offered = offered.arg(arg.clone());
        }
        for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
            offered = offered.subcommand(visible(sub));
        }
        offered
    }
    visible(&<Cli as clap::CommandFactory>::command())
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
    #[arg(long, alias = "delete-local-data")]
    pub delete_emptydir_data: bool,
    /// Also evict pods that declare no controller (nothing recreates them).
    #[arg(long)]
    pub force: bool,
    /// Drain even when it evicts the last ready replica of a workload (istiod, a gateway,
    /// any Deployment or StatefulSet): without it such a drain is refused before the cordon.
    #[arg(long)]
    pub evict_last_replica: bool,
    #[command(flatten)]
    pub kubectl: KubectlDrainFlags,
}

/// kubectl drain's flags that meshtop's drain has no room for: accepted where they ask for
/// what meshtop does anyway, refused with the reason otherwise.
#[derive(Debug, Args)]
pub struct KubectlDrainFlags {
    /// Accepted as kubectl takes it: meshtop always leaves DaemonSet-managed pods in place.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = go_bool
    )]
    pub ignore_daemonsets: Option<bool>,
    #[arg(long, hide = true, value_name = "SELECTOR")]
    pub pod_selector: Option<String>,
    #[arg(long, hide = true, value_name = "SECONDS", allow_hyphen_values = true)]
    pub grace_period: Option<i64>,
    #[arg(
        long,
        hide = true,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = go_bool
    )]
    pub disable_eviction: Option<bool>,
}

/// A boolean as kubectl (Go's `strconv.ParseBool`) reads one.
fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("expected true or false, got {text:?}")),
    }
}

impl KubectlDrainFlags {
    /// Why meshtop will not drain as these flags ask, if it will not. kubectl's defaults
    /// (`--grace-period=-1`, `--disable-eviction=false`) ask for nothing and pass.
    pub fn refusal(&self) -> Option<String> {
        if self.ignore_daemonsets == Some(false) {
            return Some(
                "--ignore-daemonsets=false is not supported: meshtop always leaves \
                 DaemonSet-managed pods on the node (their DaemonSet would put them back at \
                 once)"
                    .into(),
            );
        }
        if self.pod_selector.is_some() {
            return Some(
                "--pod-selector is not supported: meshtop evicts every pod a drain may evict, \
                 so that the node can be upgraded or removed; evict single pods with kubectl"
                    .into(),
            );
        }
        if self.grace_period.is_some_and(|s| s != -1) {
            return Some(
                "--grace-period is not supported: meshtop evicts each pod with its own \
                 terminationGracePeriodSeconds"
                    .into(),
            );
        }
        if self.disable_eviction == Some(true) {
            return Some(
                "--disable-eviction is not supported: meshtop drains only through the Eviction \
                 API, so that every PodDisruptionBudget is honoured; relax a budget that blocks \
                 the drain with `meshtop pdb relax NAMESPACE/NAME`"
                    .into(),
            );
        }
        None
    }
}

const UPGRADE_HELP: &str = "A workload whose last ready replica runs on the node (istiod, a \
gateway, any Deployment or StatefulSet), or whose budget has a numeric minAvailable it meets \
exactly, is scaled up by the replicas on the node first, and the node's pods are evicted once a \
replacement is Ready elsewhere. Other budgets that block are relaxed (their spec saved on them, as \
`meshtop pdb relax` does) and stay relaxed until the last node. The plan stops at the first \
failure and says where it stands (node, step, what is cordoned, relaxed or scaled). Exit codes: \
0 every node upgraded and everything put back; 1 a step failed, timed out or was interrupted; 2 \
bad input, --readonly, or not confirmed.";

#[derive(Debug, Args)]
pub struct UpgradeNodesCmd {
    /// The nodes, upgraded in this order.
    #[arg(required = true, value_name = "NODE")]
    pub nodes: Vec<String>,
    /// After each drain, wait until the node's kubelet reports this version (e.g. v1.15.6)
    /// before its ztunnel restart and uncordon.
    #[arg(long, value_name = "VERSION")]
    pub wait_kubelet: Option<String>,
    /// Print the plan, then send every write with dryRun=All: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
    /// Also evict pods with emptyDir volumes (their data is lost), on every node.
    #[arg(long, alias = "delete-local-data")]
    pub delete_emptydir_data: bool,
    /// Go on without asking (the plan is printed all the same).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long each wait may last: a drain, a replacement getting Ready, the kubelet, the
    /// new ztunnel (1s to 24h).
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = duration)]
    pub timeout: std::time::Duration,
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
    /// Set `istio.io/rev=REV` on a namespace and remove a conflicting `istio-injection` (and
    /// `istio.io/dataplane-mode=ambient`: sidecar mode); refused when no revision REV runs in
    /// the cluster, unless --force. Or, with --ambient, enroll it in ambient mode.
    #[command(group(clap::ArgGroup::new("mode").required(true).args(["rev", "ambient"])))]
    Namespace {
        namespace: String,
        /// The control-plane revision (or tag) whose sidecars its pods get.
        #[arg(long, value_name = "REV")]
        rev: Option<String>,
        /// Ambient mode instead: `istio.io/dataplane-mode=ambient`, with `istio-injection` and
        /// `istio.io/rev` removed so that new pods get no sidecar.
        #[arg(long)]
        ambient: bool,
        /// With --ambient: `istio.io/use-waypoint=NAME`, the waypoint its traffic goes through.
        #[arg(long, value_name = "NAME")]
        waypoint: Option<String>,
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

#[derive(Debug, Args)]
pub struct ScaleCmd {
    /// The workload: deployment/NAME or statefulset/NAME (kubectl's short names work too),
    /// in the namespace of -n (default: default).
    #[arg(value_name = "TYPE/NAME")]
    pub workload: String,
    /// The replicas it should have (0 to 1000).
    #[arg(long, value_name = "N", value_parser = replicas)]
    pub replicas: u32,
    /// Send the request with dryRun=All: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCmd {
    /// Set `kubectl.kubernetes.io/restartedAt` on the workload's pod template, so that its
    /// pods are replaced as its update strategy says.
    Restart {
        /// deployment/NAME, statefulset/NAME or daemonset/NAME, in the namespace of -n
        /// (default: default).
        #[arg(value_name = "TYPE/NAME")]
        workload: String,
        /// Then wait for the rollout as `kubectl rollout status` does.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits (at most 24h).
        #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = duration)]
        timeout: std::time::Duration,
        /// Send the request with dryRun=All: nothing changes.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UninstallCmd {
    /// Delete a revision's objects (injector and validating webhooks, istiod Deployment, HPA,
    /// PDB and Service, its ConfigMaps), or with --legacy those of the non-revisioned
    /// control plane (its components' Deployments, HPAs, PDBs and Services, the
    /// istio-sidecar-injector webhook, the istio ConfigMaps). It first reads the cluster and
    /// refuses (exit 1, nothing sent) while any namespace, revision tag or proxy still uses
    /// it, naming them. A revision Helm installed is `helm uninstall` of its release (helm's
    /// --dry-run for --dry-run); one the Sail operator installed is its IstioRevision deleted.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["rev", "legacy"])))]
    Revision {
        /// The revision.
        #[arg(value_name = "REV")]
        rev: Option<String>,
        /// The non-revisioned (Istio 1.4 and older) control plane instead.
        #[arg(long)]
        legacy: bool,
        /// Send every request with dryRun=All: nothing changes.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TagCmd {
    /// Regenerate the tag's MutatingWebhookConfiguration (`istio-revision-tag-TAG`) from the
    /// revision's injector webhook and point the tag's Service (Istio 1.28+) at the revision's
    /// istiod; where Sail manages the revision, apply its IstioRevisionTag instead. Refused
    /// (exit 1) when the revision runs no ready istiod, or the tag exists without
    /// --overwrite; exit 2 when no injector webhook of the revision exists.
    Set {
        tag: String,
        /// The revision the tag should point at.
        #[arg(long, value_name = "REV")]
        revision: String,
        /// Move a tag that already exists.
        #[arg(long)]
        overwrite: bool,
        /// Then rollout-restart every workload of the namespaces that follow the tag, one at a
        /// time, waiting for each rollout.
        #[arg(long)]
        restart: bool,
        /// How long to wait for each rollout after --restart (at most 24h; 0s: do not wait).
        #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = duration_or_zero)]
        timeout: std::time::Duration,
        /// Send every request with dryRun=All: nothing changes.
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
    /// The budget: NAMESPACE/NAME, or NAME with -n NAMESPACE as kubectl takes it.
    #[arg(value_name = "NAMESPACE/NAME|NAME")]
    pub pdb: String,
    /// Send the request with dryRun=All: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
}

fn replicas(text: &str) -> Result<u32, String> {
    crate::ops::workload::parse_replicas(text).map_err(|e| e.to_string())
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
    /// The scenario to load: a built-in one by name (k1-upgrade, canary-2026) or a file
    /// (multi-document YAML, format below).
    #[arg(
        long,
        env = "MESHTOP_SANDBOX_SCENARIO",
        value_name = "NAME|PATH",
        required_unless_present = "generate",
        conflicts_with = "generate"
    )]
    pub scenario: Option<PathBuf>,
    /// Serve a generated mesh instead of a scenario: `nodes=N,pods=M` and optionally
    /// `namespaces=K,revisions=R,gateways=G,daemonsets=D,replicas=P,churn=C` (pods counts
    /// every pod: 2 per istiod revision and gateway, one per node and DaemonSet, the rest in
    /// Deployments of P replicas). Injected pods are as big as real ones; loading runs no
    /// controller. churn=C changes C application pods a second while serving (a container
    /// restart, 1 in 10 a readiness flip, 1 in 10 a label).
    #[arg(long, env = "MESHTOP_SANDBOX_GENERATE", value_name = "SPEC")]
    pub generate: Option<String>,
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
    fn demo_is_a_flag_and_its_scenario_a_separate_option() {
        let c = Cli::try_parse_from(["meshtop", "--demo"]).expect("parse");
        assert_eq!(c.global.demo(), Some(DemoScenario::BuiltIn("k1-upgrade")));
        assert!(c.command.is_none());
        // The subcommand after --demo is a subcommand, not a scenario.
        let c = Cli::try_parse_from(["meshtop", "--demo", "get", "nodes"]).expect("parse");
        assert_eq!(c.global.demo(), Some(DemoScenario::BuiltIn("k1-upgrade")));
        assert!(matches!(
            c.command,
            Some(Command::Get(GetCmd {
                view: View::Nodes,
                ..
            }))
        ));
        let c = Cli::try_parse_from(["meshtop", "--demo", "proxy-status"]).expect("parse");
        assert!(matches!(c.command, Some(Command::ProxyStatus(_))));
        let c = Cli::try_parse_from(["meshtop", "--demo-scenario", "x.yaml", "get", "namespaces"])
            .expect("parse");
        assert_eq!(
            c.global.demo(),
            Some(DemoScenario::File(PathBuf::from("x.yaml")))
        );
        let c = Cli::try_parse_from(["meshtop", "get", "nodes", "-o", "json", "--demo"])
            .expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::Get(GetCmd {
                view: View::Nodes,
                output: GetOutput::Json,
                ..
            }))
        ));
        // With an equals sign --demo takes a scenario: a built-in name or a file.
        let c = Cli::try_parse_from(["meshtop", "--demo=x.yaml"]).expect("parse");
        assert_eq!(
            c.global.demo(),
            Some(DemoScenario::File(PathBuf::from("x.yaml")))
        );
        let c = Cli::try_parse_from(["meshtop", "--demo=canary-2026", "get", "gateways"])
            .expect("parse");
        assert_eq!(c.global.demo(), Some(DemoScenario::BuiltIn("canary-2026")));
        let c = Cli::try_parse_from(["meshtop", "--demo-scenario", "canary-2026"]).expect("parse");
        assert_eq!(c.global.demo(), Some(DemoScenario::BuiltIn("canary-2026")));
        let c = Cli::try_parse_from(["meshtop"]).expect("parse");
        assert_eq!(c.global.demo(), None);
    }

    #[test]
    fn get_takes_kubectls_names_for_its_views_and_outputs() {
        let view = |name: &str| {
            let c = Cli::try_parse_from(["meshtop", "get", name]).expect(name);
            match c.command {
                Some(Command::Get(cmd)) => cmd.view,
                other => panic!("{name}: {other:?}"),
            }
        };
        for (names, want) in [
            (&["revisions", "revision", "rev"][..], View::Revisions),
            (&["gateways", "gateway", "gw"], View::Gateways),
            (&["proxies", "proxy"], View::Proxies),
            (
                &[
                    "disruption",
                    "pdb",
                    "pdbs",
                    "poddisruptionbudget",
                    "poddisruptionbudgets",
                    "PDB",
                ],
                View::Disruption,
            ),
            (&["nodes", "node", "no", "Nodes"], View::Nodes),
            (&["namespaces", "namespace", "ns"], View::Namespaces),
        ] {
            for name in names {
                assert_eq!(view(name), want, "{name}");
            }
        }
        assert!(Cli::try_parse_from(["meshtop", "get", "pods"]).is_err());
        for (name, want) in [
            ("table", GetOutput::Table),
            ("wide", GetOutput::Wide),
            ("name", GetOutput::Name),
            ("json", GetOutput::Json),
            ("yaml", GetOutput::Yaml),
        ] {
            let c = Cli::try_parse_from(["meshtop", "get", "no", "-o", name]).expect(name);
            assert!(
                matches!(c.command, Some(Command::Get(GetCmd { output, .. })) if output == want)
            );
        }
    }

    #[test]
    fn kubectl_drain_flags_pass_when_they_ask_for_what_meshtop_does() {
        let flags = |args: &[&str]| {
            let mut all = vec!["meshtop", "drain", "n1"];
            all.extend(args);
            match Cli::try_parse_from(&all).expect("parse").command {
                Some(Command::Drain(d)) => d,
                other => panic!("{other:?}"),
            }
        };
        for args in [
            &["--ignore-daemonsets"][..],
            &["--ignore-daemonsets=true"],
            &["--ignore-daemonsets=1"],
            &["--grace-period", "-1"],
            &["--grace-period=-1"],
            &["--disable-eviction=false"],
            &["--delete-local-data"],
        ] {
            assert_eq!(flags(args).kubectl.refusal(), None, "{args:?}");
        }
        assert!(flags(&["--delete-local-data"]).delete_emptydir_data);
        for (args, named) in [
            (
                &["--ignore-daemonsets=false"][..],
                "--ignore-daemonsets=false",
            ),
            (&["--pod-selector", "app=web"], "--pod-selector"),
            (&["--grace-period", "30"], "--grace-period"),
            (&["--grace-period=0"], "--grace-period"),
            (&["--disable-eviction"], "--disable-eviction"),
            (&["--disable-eviction=true"], "--disable-eviction"),
        ] {
            let why = flags(args).kubectl.refusal().expect("refused");
            assert!(
                why.starts_with(named) && why.contains("not supported"),
                "{why}"
            );
        }
        // The boolean takes its value after `=` only, so a node name is never swallowed.
        let c =
            Cli::try_parse_from(["meshtop", "drain", "--ignore-daemonsets", "n1"]).expect("parse");
        assert!(matches!(c.command, Some(Command::Drain(d)) if d.node == "n1"));
        assert!(
            Cli::try_parse_from(["meshtop", "drain", "n1", "--ignore-daemonsets=maybe"]).is_err()
        );
        let help = Cli::command()
            .find_subcommand_mut("drain")
            .expect("drain")
            .render_long_help()
            .to_string();
        assert!(help.contains("--ignore-daemonsets"), "{help}");
        for hidden in ["--pod-selector", "--grace-period", "--disable-eviction"] {
            assert!(!help.contains(hidden), "{hidden} is refused, not offered");
        }
    }

    #[test]
    fn the_former_names_of_the_istiod_flags_still_work_and_are_not_offered() {
        let c = Cli::try_parse_from(["meshtop"]).expect("parse");
        assert_eq!(
            (c.global.istiod_interval(), c.global.istiod_timeout()),
            (5.0, 5.0)
        );
        let c = Cli::try_parse_from(["meshtop", "--syncz-interval", "0.5", "--syncz-timeout", "2"])
            .expect("parse");
        assert_eq!(
            (c.global.istiod_interval(), c.global.istiod_timeout()),
            (0.5, 2.0)
        );
        let c = Cli::try_parse_from([
            "meshtop",
            "--istiod-interval",
            "3",
            "--syncz-interval",
            "0.5",
            "--istiod-timeout",
            "1",
        ])
        .expect("parse");
        assert_eq!(
            (c.global.istiod_interval(), c.global.istiod_timeout()),
            (3.0, 1.0)
        );
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("--istiod-timeout") && !help.contains("syncz"),
            "{help}"
        );
    }

    #[test]
    fn check_and_completion_parse() {
        let c = Cli::try_parse_from(["meshtop", "check"]).expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::Check(CheckCmd {
                output: Output::Table,
                fail_on: FailOn::Error,
                ..
            }))
        ));
        let c = Cli::try_parse_from(["meshtop", "check", "-o", "json", "--fail-on", "warning"])
            .expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::Check(CheckCmd {
                output: Output::Json,
                fail_on: FailOn::Warning,
                ..
            }))
        ));
        assert!(Cli::try_parse_from(["meshtop", "check", "--fail-on", "info"]).is_err());
        for shell in ["bash", "zsh", "fish"] {
            let c = Cli::try_parse_from(["meshtop", "completion", shell]).expect(shell);
            assert!(matches!(c.command, Some(Command::Completion(_))));
        }
        assert!(Cli::try_parse_from(["meshtop", "completion", "tcsh"]).is_err());
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
        refused(&["--istiod-interval", "1e300"], "--istiod-interval");
        refused(&["--istiod-timeout", "inf"], "--istiod-timeout");
        refused(&["--syncz-timeout", "inf"], "--syncz-timeout");
        refused(&["check", "--sync-timeout", "0"], "--sync-timeout");
        refused(
            &["install", "revision", "--rev", "x", "--sync-timeout", &huge],
            "--sync-timeout",
        );
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
        assert!(Cli::try_parse_from(["meshtop", "--istiod-timeout", "0"]).is_err());
        assert!(Cli::try_parse_from(["meshtop", "--istiod-timeout", "NaN"]).is_err());
        assert!(Cli::try_parse_from(["meshtop", "--syncz-timeout", "NaN"]).is_err());
        assert_eq!(cmd.revision.as_deref(), Some("canary"));
        let c = Cli::try_parse_from(["meshtop", "proxy-status", "--demo"]).expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::ProxyStatus(ProxyStatusCmd {
                output: Output::Table,
                revision: None,
                proxy: None,
                ..
            }))
        ));
        let c = Cli::try_parse_from(["meshtop", "-n", "default", "proxy-status", "web-1"])
            .expect("parse");
        assert!(matches!(
            c.command,
            Some(Command::ProxyStatus(ProxyStatusCmd { proxy: Some(p), .. })) if p == "web-1"
        ));
    }
}
