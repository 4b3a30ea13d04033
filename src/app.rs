//! The one event loop: terminal input, cluster events and a slow tick, one `select!`.
//! The loop owns the model and the UI state; watchers only send events. It also runs the
//! non-interactive commands.

mod editor;
mod install;
mod panes;
pub mod tasks;

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt as _;
use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::cli::{
    CheckCmd, Cli, Command, DemoScenario, DrainCmd, FailOn, GetCmd, GlobalArgs, LabelCmd, NodeCmd,
    Output, PdbCmd, ProxyStatusCmd, RolloutCmd, ScaleCmd, SnapshotCmd, TagCmd, UninstallCmd,
    UpgradeNodesCmd, View,
};
use crate::cluster::actions::RunOptions;
use crate::cluster::actions::{AuditLog, Executor};
use crate::cluster::{self, Connection, Progress, SyncOptions, WatchOptions};
use crate::model::sync::{ReplicaState, ReplicaSync};
use crate::model::{ClusterEvent, Kind, Model, Name, Severity, SourceState, Stamped, syncz};
use crate::ops::Request;
use crate::ops::outcome::{self, Event};
use crate::ops::workload::WorkloadRef;
use crate::ops::{self, ActionError};
use crate::signals::{StopSignal, stop_signal};
use crate::ui::{self, Header, Keymap, Theme, Ui};
use meshtop_sandbox::{self as sandbox, Sandbox, Scenario};

/// Why meshtop stopped with an error; the exit code follows from it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input: options, kubeconfig, scenario, theme. Exit code 2.
    #[error("{0}")]
    Usage(String),
    /// Anything else. Exit code 1.
    #[error("{0}")]
    Failed(String),
    /// Stopped by a signal, after restoring the terminal and auditing what was running.
    /// Exit code 128 + the signal's number, as a shell reports a process the signal killed.
    #[error("interrupted by {}: {message}", signal.name())]
    Interrupted { signal: StopSignal, message: String },
}

impl AppError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            AppError::Usage(_) => ExitCode::from(2),
            AppError::Failed(_) => ExitCode::from(1),
            AppError::Interrupted { signal, .. } => ExitCode::from(signal.exit_code()),
        }
    }
}

/// A connection, and the in-process sandbox behind it for `--demo`.
struct Target {
    connection: Connection,
    _sandbox: Option<Sandbox>,
    /// The kubeconfig and its origin, for `:ctx` to switch in (none in a cluster's pod).
    kubeconfig: Option<(kube::config::Kubeconfig, String)>,
}

impl Target {
    fn contexts(&self) -> Vec<String> {
        self.kubeconfig
            .as_ref()
            .map(|(k, _)| k.contexts.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }
}

async fn connect(global: &GlobalArgs) -> Result<Target, AppError> {
    let Some(demo) = global.demo() else {
        let opts = cluster::ConnectOptions {
            kubeconfig: global.kubeconfig.clone(),
            context: global.context.clone(),
        };
        let connection = cluster::connect(&opts)
            .await
            .map_err(|e| AppError::Usage(e.to_string()))?;
        return Ok(Target {
            connection,
            _sandbox: None,
            kubeconfig: cluster::connect::loaded_kubeconfig(global.kubeconfig.as_deref()),
        });
    };
    let scenario = match demo {
        DemoScenario::BuiltIn(name) => Scenario::built_in(name),
        DemoScenario::File(path) => Some(Scenario::named_or_file(&path)),
    }
    .ok_or_else(|| AppError::Usage("no such built-in scenario".into()))?
    .map_err(|e| AppError::Usage(e.to_string()))?;
    let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let sandbox = Sandbox::start(&scenario, listen)
        .await
        .map_err(|e| AppError::Usage(e.to_string()))?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig_yaml())
        .map_err(|e| AppError::Failed(e.to_string()))?;
    let context = global
        .context
        .clone()
        .unwrap_or_else(|| sandbox::ADMIN_CONTEXT.to_string());
    let origin = "the demo sandbox";
    let connection = cluster::connect_kubeconfig(kubeconfig.clone(), origin, Some(&context))
        .await
        .map_err(|e| AppError::Usage(e.to_string()))?;
    Ok(Target {
        connection,
        _sandbox: Some(sandbox),
        kubeconfig: Some((kubeconfig, origin.to_string())),
    })
}

fn sync_options(global: &GlobalArgs) -> SyncOptions {
    SyncOptions {
        istio_namespace: global.istio_namespace.clone(),
        interval: Duration::from_secs_f64(global.istiod_interval()),
        timeout: Duration::from_secs_f64(global.istiod_timeout()),
        revision: None,
    }
}

fn watch_options(global: &GlobalArgs) -> WatchOptions {
    WatchOptions {
        namespace: global.namespace.clone(),
        page_size: global.list_page_size,
        ..WatchOptions::default()
    }
}

/// Runs what the command line asked for.
pub async fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        Some(Command::Sandbox(cmd)) => {
            let args = sandbox::SandboxArgs {
                scenario: cmd.scenario.unwrap_or_default(),
                generate: cmd.generate,
                listen: cmd.listen,
                kubeconfig_out: cmd.kubeconfig_out,
            };
            let stop = stop_signal();
            sandbox::run(args, async { stop.await.name() })
                .await
                .map_err(|e| AppError::Usage(e.to_string()))
        }
        Some(Command::Get(cmd)) => get(&cli.global, &cmd).await,
        Some(Command::ProxyStatus(cmd)) => proxy_status(&cli.global, &cmd).await,
        Some(Command::Check(cmd)) => check(&cli.global, &cmd).await,
        Some(Command::Snapshot(cmd)) => snapshot(&cli.global, &cmd).await,
        Some(Command::Completion(cmd)) => completion(cmd.shell),
        Some(Command::Keys(cmd)) => keys(&cli.global, cmd.markdown),
        Some(Command::Drain(cmd)) => interruptible(drain(&cli.global, &cmd)).await,
        Some(Command::UpgradeNodes(cmd)) => interruptible(upgrade_nodes(&cli.global, &cmd)).await,
        Some(Command::Cordon(cmd)) => interruptible(cordon(&cli.global, &cmd, true)).await,
        Some(Command::Uncordon(cmd)) => interruptible(cordon(&cli.global, &cmd, false)).await,
        Some(Command::Label(cmd)) => interruptible(label(&cli.global, &cmd)).await,
        Some(Command::Pdb(cmd)) => interruptible(pdb(&cli.global, &cmd)).await,
        Some(Command::Install(cmd)) => interruptible(install::run(&cli.global, &cmd)).await,
        Some(Command::Scale(cmd)) => interruptible(scale(&cli.global, &cmd)).await,
        Some(Command::Rollout(cmd)) => interruptible(rollout(&cli.global, &cmd)).await,
        Some(Command::Tag(cmd)) => interruptible(tag(&cli.global, &cmd)).await,
        Some(Command::Uninstall(cmd)) => interruptible(uninstall(&cli.global, &cmd)).await,
        None => tui(&cli.global).await,
    }
}

/// `meshtop keys`: the key bindings in effect (the user's key map applied).
fn keys(global: &GlobalArgs, markdown: bool) -> Result<(), AppError> {
    let keymap =
        Keymap::load(global.keymap.as_deref()).map_err(|e| AppError::Usage(e.to_string()))?;
    let text = if markdown {
        keymap.markdown()
    } else {
        let mut text = String::new();
        for b in keymap.bindings() {
            text.push_str(&format!(
                "{:<14} {:<22} {}\n",
                b.group,
                b.keys_label(),
                b.description
            ));
        }
        text
    };
    print_out(&text)
}

/// An action command that a [`StopSignal`] stops cleanly: the action's future is dropped
/// before this returns, which writes its audit line as interrupted.
async fn interruptible(
    command: impl Future<Output = Result<(), AppError>>,
) -> Result<(), AppError> {
    let stopped = stop_signal();
    tokio::select! {
        result = command => result,
        signal = stopped => Err(AppError::Interrupted {
            signal,
            message: "what was done stays done (a node being drained stays cordoned); the \
                      audit log says so"
                .into(),
        }),
    }
}

fn load_theme(global: &GlobalArgs) -> Result<Theme, AppError> {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return Ok(Theme::no_color());
    }
    Theme::load(&global.theme).map_err(|e| AppError::Usage(e.to_string()))
}

/// Applies events until every source has answered once (ready, forbidden, absent or error).
/// Gives up only when the sources still listing go `stall` without receiving anything: a
/// large cluster that keeps sending pages is waited for, however long its lists take.
async fn initial_sync(
    model: &mut Model,
    rx: &mut mpsc::Receiver<Stamped>,
    stall: Duration,
    progress: &Progress,
) -> Result<(), AppError> {
    fn listing(model: &Model) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| model.listing(*k))
            .collect()
    }
    // What moves while a source lists: how many sources are still listing, and how many
    // objects those received.
    let moved = |model: &Model| {
        let waiting = listing(model);
        let received: u64 = waiting.iter().map(|k| progress.received(*k)).sum();
        (waiting.len(), received)
    };
    // Looked at a few times per `stall`, so a stall is reported soon after `stall`.
    let look = (stall / 4).max(Duration::from_millis(10));
    let mut last = moved(model);
    let mut last_moved = tokio::time::Instant::now();
    loop {
        let waiting = listing(model);
        if waiting.is_empty() {
            return Ok(());
        }
        match tokio::time::timeout(look, rx.recv()).await {
            Ok(Some(ev)) => model.apply(ev),
            Ok(None) => {
                return Err(AppError::Failed(
                    "the watchers stopped before the initial sync".into(),
                ));
            }
            Err(_) => {}
        }
        let now = moved(model);
        if now != last {
            last = now;
            last_moved = tokio::time::Instant::now();
        } else if last_moved.elapsed() >= stall {
            let waiting: Vec<String> = listing(model)
                .into_iter()
                .map(|k| match progress.received(k) {
                    0 => format!("{} (nothing received)", k.resource()),
                    n => format!("{} ({n} received, the list not finished)", k.resource()),
                })
                .collect();
            return Err(AppError::Failed(format!(
                "the initial sync made no progress for {}s; still waiting for: {}",
                stall.as_secs_f64(),
                waiting.join(", ")
            )));
        }
    }
}

/// The model as the watches list the cluster once, for a command without a UI: every
/// source answered (ready, forbidden, absent or failed), the watches stopped. Fails when the
/// lists still running receive nothing for `stall`.
pub async fn synced_model(
    connection: &Connection,
    opts: WatchOptions,
    stall: Duration,
) -> Result<Model, AppError> {
    let (tx, mut rx) = mpsc::channel(4096);
    let focus = opts.namespace.clone();
    let watchers = cluster::spawn_watchers(connection, opts, tx);
    let mut model = Model::new();
    model.set_focus(focus.as_deref());
    initial_sync(&mut model, &mut rx, stall, &watchers.progress()).await?;
    // Take what already arrived, so the model is as fresh as the sync.
    while let Ok(ev) = rx.try_recv() {
        model.apply(ev);
    }
    Ok(model)
}

async fn get(global: &GlobalArgs, cmd: &GetCmd) -> Result<(), AppError> {
    let target = connect(global).await?;
    let mut model = synced_model(
        &target.connection,
        watch_options(global),
        cmd.sync.duration(),
    )
    .await?;
    // The proxies' rows are istiod's answers, which the watches do not have: without them
    // there is nothing to print. A revision's row has a column of them, and is worth
    // printing without it (a revision without istiod is what it may show).
    if matches!(cmd.view, View::Proxies | View::Revisions) {
        match poll_istiod_once(&target, &sync_options(global), cmd.sync.duration()).await {
            Ok(replicas) => {
                apply_answers(&mut model, &replicas);
                warn_unanswered(&replicas);
            }
            Err(e) if cmd.view == View::Proxies => return Err(AppError::Failed(e)),
            Err(e) => eprintln!("warning: istiod: {e}"),
        }
    }
    let width = crate::headless::table_width(cmd.width);
    let text =
        crate::headless::render(&model, cmd.view, cmd.output, width).map_err(AppError::Failed)?;
    print_out(&text)?;
    warn_unread_sources(&model);
    Ok(())
}

/// Writes a command's output to stdout, all of it or an error. A reader that stopped
/// reading (`| head`) took what it wanted: that is no failure.
fn print_out(text: &str) -> Result<(), AppError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(AppError::Failed(format!("writing output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Names on stderr each source the model could not read in full: what was printed lacks it.
fn warn_unread_sources(model: &Model) {
    for (kind, state) in model.sources() {
        match state {
            SourceState::Forbidden(m) | SourceState::Error(m) | SourceState::Partial(m) => {
                eprintln!("warning: {}: {m}", kind.resource())
            }
            _ => {}
        }
    }
}

/// Asks every istiod replica once (the replicas of `opts.revision`, else all of them) and
/// waits for each first answer.
async fn poll_istiod_once(
    target: &Target,
    opts: &SyncOptions,
    timeout: Duration,
) -> Result<Vec<ReplicaSync>, String> {
    let (tx, mut rx) = mpsc::channel(256);
    let poller = cluster::spawn_sync_poller(&target.connection, opts.clone(), tx);
    cluster::sync::first_answers(&poller, &mut rx, opts, timeout).await
}

/// Gives the model istiod's answers, as the TUI's poller does.
fn apply_answers(model: &mut Model, replicas: &[ReplicaSync]) {
    for r in replicas {
        model.apply(Stamped {
            at: Timestamp::now(),
            event: ClusterEvent::ProxySync(r.clone()),
        });
    }
}

/// `meshtop proxy-status [PROXY]`: ask every istiod replica once, print istioctl's table,
/// or one proxy's lines of it and its state per xDS type.
async fn proxy_status(global: &GlobalArgs, cmd: &ProxyStatusCmd) -> Result<(), AppError> {
    let target = connect(global).await?;
    let opts = SyncOptions {
        revision: cmd.revision.clone(),
        ..sync_options(global)
    };
    let replicas = poll_istiod_once(&target, &opts, cmd.sync.duration())
        .await
        .map_err(AppError::Failed)?;
    let istiod_versions = cluster::sync::istiod_versions(&target.connection, &opts).await;
    let mut rows = syncz::merge(&replicas);
    let proxy = match &cmd.proxy {
        Some(name) => Some(pick_proxy(&rows, name, global.namespace.as_deref())?),
        None => None,
    };
    rows.retain(|r| match &proxy {
        Some((namespace, pod)) => r.status.namespace == *namespace && r.status.pod == *pod,
        None => global
            .namespace
            .as_deref()
            .is_none_or(|ns| r.status.namespace.as_ref() == ns),
    });
    let text = match cmd.output {
        Output::Table => {
            let format = match cmd.format {
                Some(crate::cli::ProxyStatusFormat::Legacy) => syncz::TableFormat::Legacy,
                Some(crate::cli::ProxyStatusFormat::Current) => syncz::TableFormat::Current,
                None => {
                    syncz::TableFormat::for_istiod(istiod_versions.values().map(String::as_str))
                }
            };
            let mut text = syncz::table(&rows, format);
            if let Some((namespace, pod)) = &proxy {
                let mut model = Model::new();
                apply_answers(&mut model, &replicas);
                text.push('\n');
                text.push_str(&crate::headless::proxy_xds_table(&model, namespace, pod));
            }
            text
        }
        output => crate::headless::structured(&syncz::json_rows(&rows), output)
            .map_err(AppError::Failed)?,
    };
    print_out(&text)?;
    // istioctl's table has no room for it, so the skew goes below it, on stderr.
    let mut skew: BTreeMap<(String, String), usize> = BTreeMap::new();
    for row in &rows {
        if let Some(istiod) = istiod_versions.get(row.istiod.as_ref())
            && crate::model::facts::proxies::skewed(&row.status.version, istiod)
        {
            *skew
                .entry((row.status.version.to_string(), istiod.clone()))
                .or_default() += 1;
        }
    }
    for ((proxy, istiod), n) in &skew {
        let run = if *n == 1 { "runs" } else { "run" };
        eprintln!(
            "warning: version skew: {} {run} {proxy} against istiod {istiod}",
            crate::ops::outcome::counted(*n, "proxy", "proxies")
        );
    }
    warn_unanswered(&replicas);
    Ok(())
}

/// `meshtop snapshot [-o FILE]`: copy the cluster and istiod's sync states into a scenario.
async fn snapshot(global: &GlobalArgs, cmd: &SnapshotCmd) -> Result<(), AppError> {
    let target = connect(global).await?;
    let copy = cluster::snapshot::read(&target.connection)
        .await
        .map_err(AppError::Failed)?;
    for w in &copy.warnings {
        eprintln!("warning: left out {w}");
    }
    let opts = sync_options(global);
    let proxies = match poll_istiod_once(&target, &opts, cmd.sync.duration()).await {
        Ok(replicas) => {
            warn_unanswered(&replicas);
            crate::snapshot::proxy_facts(&syncz::merge(&replicas))
        }
        Err(e) => {
            eprintln!("warning: no proxy sync states copied: {e}");
            BTreeMap::new()
        }
    };
    let docs = crate::snapshot::scenario(copy.objects, copy.server_version.as_deref(), &proxies);
    let header = format!(
        "meshtop snapshot of context {} ({} objects), for `meshtop --demo=FILE`",
        target.connection.context,
        docs.len()
    );
    let text = crate::snapshot::to_yaml(&docs, &header).map_err(AppError::Failed)?;
    match &cmd.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| AppError::Failed(format!("cannot write {}: {e}", path.display()))),
        None => print_out(&text),
    }
}

/// Names on stderr each istiod replica that could not be asked, with the reason.
fn warn_unanswered(replicas: &[ReplicaSync]) {
    for r in replicas {
        match &r.state {
            ReplicaState::Ok { .. } => {}
            ReplicaState::Forbidden { message }
            | ReplicaState::Refused { message }
            | ReplicaState::Unreachable { message } => {
                eprintln!(
                    "warning: istiod {} (revision {}): {message}",
                    r.istiod, r.revision
                )
            }
        }
    }
}

/// The `(namespace, pod)` of the proxy `name` names, as istioctl reads it: `POD.NAMESPACE`,
/// or `POD` in `-n`'s namespace, or a pod's name that only one namespace has.
fn pick_proxy(
    rows: &[syncz::ProxyStatusRow],
    name: &str,
    namespace: Option<&str>,
) -> Result<(Name, Name), AppError> {
    let mut found: Vec<(Name, Name)> = rows
        .iter()
        .map(|r| &r.status)
        .filter(|s| match namespace {
            Some(ns) => {
                s.namespace.as_ref() == ns && (s.pod.as_ref() == name || s.proxy.as_ref() == name)
            }
            None => s.proxy.as_ref() == name,
        })
        .map(|s| (s.namespace.clone(), s.pod.clone()))
        .collect();
    if found.is_empty() && namespace.is_none() {
        found = rows
            .iter()
            .map(|r| &r.status)
            .filter(|s| s.pod.as_ref() == name)
            .map(|s| (s.namespace.clone(), s.pod.clone()))
            .collect();
    }
    found.sort();
    found.dedup();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(AppError::Failed(format!(
            "no istiod replica reports a proxy {name}{}",
            namespace
                .map(|ns| format!(" in namespace {ns}"))
                .unwrap_or_default()
        ))),
        several => Err(AppError::Usage(format!(
            "{} have a proxy {name}: {}; give it as {name}.NAMESPACE or with -n NAMESPACE",
            crate::ops::outcome::counted(several.len(), "namespace", "namespaces"),
            several
                .iter()
                .map(|(ns, _)| ns.as_ref())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `meshtop check`: the model as `get` reads it, with every istiod replica's answer as
/// `proxy-status` asks for it; its findings printed; exit 1 when one reaches `--fail-on`.
async fn check(global: &GlobalArgs, cmd: &CheckCmd) -> Result<(), AppError> {
    let target = connect(global).await?;
    let mut model = synced_model(
        &target.connection,
        watch_options(global),
        cmd.sync.duration(),
    )
    .await?;
    let unanswered =
        match poll_istiod_once(&target, &sync_options(global), cmd.sync.duration()).await {
            Ok(replicas) => {
                apply_answers(&mut model, &replicas);
                None
            }
            Err(e) => Some(e),
        };
    let findings = model.findings();
    let text = match cmd.output {
        Output::Table => crate::headless::findings_table(&model),
        output => crate::headless::structured(&findings, output).map_err(AppError::Failed)?,
    };
    print_out(&text)?;
    if let Some(e) = unanswered {
        return Err(AppError::Failed(format!(
            "the proxies' sync state is unknown, so the check cannot pass: {e}"
        )));
    }
    let threshold = match cmd.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    let of = |severity| findings.iter().filter(|f| f.severity == severity).count();
    let reached: Vec<String> = [
        (Severity::Error, "error", "errors"),
        (Severity::Warning, "warning", "warnings"),
    ]
    .into_iter()
    .filter(|(severity, ..)| *severity >= threshold && of(*severity) > 0)
    .map(|(severity, one, many)| crate::ops::outcome::counted(of(severity), one, many))
    .collect();
    if reached.is_empty() {
        return Ok(());
    }
    let flag = match cmd.fail_on {
        FailOn::Error => "error",
        FailOn::Warning => "warning",
    };
    Err(AppError::Failed(format!(
        "check failed: {} (--fail-on {flag})",
        reached.join(" and ")
    )))
}

/// `meshtop completion SHELL`: the script that completes meshtop's subcommands and flags.
fn completion(shell: clap_complete::Shell) -> Result<(), AppError> {
    let mut command = crate::cli::offered();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "meshtop", &mut script);
    print_out(&String::from_utf8_lossy(&script))
}

impl From<ActionError> for AppError {
    fn from(e: ActionError) -> Self {
        if e.is_bad_input() {
            AppError::Usage(e.to_string())
        } else {
            AppError::Failed(e.to_string())
        }
    }
}

/// Checks made before connecting: `--readonly` and the audit log (the input's syntax is the
/// request's own check). Nothing is sent to a cluster that refuses them, not even the
/// connection's probe.
fn preflight(global: &GlobalArgs, action: &str, target: &str) -> Result<(), AppError> {
    if global.readonly {
        return Err(ActionError::Readonly {
            action: action.to_string(),
            target: target.to_string(),
        }
        .into());
    }
    audit_log(global)
        .map(drop)
        .map_err(|e| AppError::Usage(format!("{e}: nothing was sent")))
}

/// The audit log (`--audit-log`, else the default), checked writable: an action that could
/// not be audited is not sent.
fn audit_log(global: &GlobalArgs) -> Result<AuditLog, String> {
    let log = global
        .audit_log
        .clone()
        .or_else(crate::cluster::actions::default_audit_log)
        .map(AuditLog::new)
        .ok_or_else(|| {
            "no place for the audit log: neither XDG_STATE_HOME nor HOME is set \
             (give one with --audit-log PATH)"
                .to_string()
        })?;
    log.check()
        .map_err(|e| format!("{e} (give another with --audit-log PATH)"))?;
    Ok(log)
}

/// The executor for a command: the no-retry client, `--readonly`, the audit log.
async fn executor(global: &GlobalArgs) -> Result<(Target, Executor), AppError> {
    let target = connect(global).await?;
    let audit = global
        .audit_log
        .clone()
        .or_else(crate::cluster::actions::default_audit_log)
        .map(AuditLog::new);
    let executor = Executor::new(&target.connection, global.readonly, audit)
        .with_helm(install::helm_program(global, &target));
    Ok((target, executor))
}

/// Prints an action's report as kubectl would: warnings and refusals on stderr. A line that
/// cannot be written (the terminal hung up) is dropped rather than panicking mid-action: the
/// SIGHUP that follows stops the action with its audit line.
fn print_event(event: Event, dry_run: bool) {
    for line in outcome::lines(&event, dry_run) {
        let _ = if line.warning {
            writeln!(std::io::stderr(), "{}", line.text)
        } else {
            writeln!(std::io::stdout(), "{}", line.text)
        };
    }
}

/// Runs a request from the command line through the same path as the TUI's, printing its
/// report and its closing line. A request that may need the user's consent is checked
/// against the cluster first (the TUI's typed confirmation is `--force` here).
async fn run_request(
    global: &GlobalArgs,
    mut request: Request,
    opts: RunOptions,
) -> Result<(), AppError> {
    request.validate()?;
    preflight(global, request.verb(), &request.target())?;
    let (target, executor) = executor(global).await?;
    if request.may_need_consent() {
        ask_consent(&target, &mut request).await?;
    }
    let dry_run = opts.dry_run;
    let report = move |e: Event| print_event(e, dry_run);
    let outcome = crate::cluster::actions::run(&executor, &request, &opts, &report).await?;
    println!("{}", outcome.text(dry_run));
    Ok(())
}

/// Reads the cluster into a model and refuses the request if it needs [`ops::Consent`].
async fn ask_consent(target: &Target, request: &mut Request) -> Result<(), AppError> {
    // Every namespace, whatever -n says: istiod runs in its own.
    let model = synced_model(
        &target.connection,
        WatchOptions::default(),
        CONSENT_SYNC_TIMEOUT,
    )
    .await?;
    let context = &target.connection.context;
    request.prepare(&model).map_err(|e| match e {
        ActionError::NotFound(why) => {
            ActionError::NotFound(format!("{why} (context {context}); nothing was sent"))
        }
        other => ActionError::Refused(format!(
            "refusing to {} in context {context}: {other}; nothing was sent",
            request.title()
        )),
    })?;
    let Some(consent) = request.consent(&model) else {
        return Ok(());
    };
    // What could not be read may be why the revision is not seen.
    let unread: Vec<&str> = [
        Kind::Deployment,
        Kind::Pod,
        Kind::WebhookConfig,
        Kind::IstioOperator,
    ]
    .iter()
    .filter(|k| {
        matches!(
            model.sources().get(k),
            Some(SourceState::Forbidden(_) | SourceState::Error(_))
        )
    })
    .map(|k| k.resource())
    .collect();
    let unread = if unread.is_empty() {
        String::new()
    } else {
        format!(" (meshtop could not read: {})", unread.join(", "))
    };
    Err(ActionError::Refused(format!(
        "refusing to {} in context {}: {}{unread}; nothing was sent (use --force to do it \
         anyway)",
        request.title(),
        target.connection.context,
        consent.why
    ))
    .into())
}

/// How long [`ask_consent`] waits for the cluster's first listing.
const CONSENT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// `meshtop drain NODE`.
async fn drain(global: &GlobalArgs, cmd: &DrainCmd) -> Result<(), AppError> {
    if let Some(why) = cmd.kubectl.refusal() {
        return Err(AppError::Usage(format!("{why}; nothing was sent")));
    }
    let request = Request::Drain {
        node: cmd.node.clone(),
        delete_emptydir_data: cmd.delete_emptydir_data,
        force: cmd.force,
        evict_last_replica: cmd.evict_last_replica,
    };
    let opts = RunOptions {
        dry_run: cmd.dry_run,
        drain_timeout: cmd.timeout,
        ..RunOptions::default()
    };
    run_request(global, request, opts).await
}

/// `meshtop upgrade-nodes NODE...`: prints the plan from the cluster as it is, asks (unless
/// `--yes` or `--dry-run`), then runs it.
async fn upgrade_nodes(global: &GlobalArgs, cmd: &UpgradeNodesCmd) -> Result<(), AppError> {
    let request = Request::UpgradeNodes {
        nodes: cmd.nodes.clone(),
        wait_kubelet: cmd.wait_kubelet.clone(),
        pause: false,
        delete_emptydir_data: cmd.delete_emptydir_data,
    };
    request.validate()?;
    if let Some(v) = &cmd.wait_kubelet
        && v.trim().is_empty()
    {
        return Err(AppError::Usage("--wait-kubelet needs a version".into()));
    }
    preflight(global, request.verb(), &request.target())?;
    let (target, executor) = executor(global).await?;
    let model = synced_model(
        &target.connection,
        WatchOptions::default(),
        CONSENT_SYNC_TIMEOUT,
    )
    .await?;
    let plan = ops::plan(&request, &model);
    let mut text = String::new();
    for line in &plan.lines {
        text.push_str(&line.text());
        text.push('\n');
    }
    print_out(&text)?;
    if !cmd.yes && !cmd.dry_run {
        let first = cmd.nodes.first().cloned().unwrap_or_default();
        if !std::io::stdin().is_terminal() {
            return Err(AppError::Usage(
                "not confirmed: pass --yes to run the plan (nothing was sent)".into(),
            ));
        }
        eprint!(
            "Type {first} to upgrade {}: ",
            ops::outcome::count(cmd.nodes.len(), "node")
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if answer.trim() != first {
            return Err(AppError::Usage("not confirmed: nothing was sent".into()));
        }
    }
    let opts = RunOptions {
        dry_run: cmd.dry_run,
        drain_timeout: cmd.timeout,
        ..RunOptions::default()
    };
    let dry_run = opts.dry_run;
    let report = move |e: Event| print_event(e, dry_run);
    let outcome = crate::cluster::actions::run(&executor, &request, &opts, &report).await?;
    println!("{}", outcome.text(dry_run));
    Ok(())
}

/// `meshtop cordon NODE` and `meshtop uncordon NODE`.
async fn cordon(global: &GlobalArgs, cmd: &NodeCmd, cordon: bool) -> Result<(), AppError> {
    let node = cmd.node.clone();
    let request = if cordon {
        Request::Cordon { node }
    } else {
        Request::Uncordon { node }
    };
    let opts = RunOptions {
        dry_run: cmd.dry_run,
        ..RunOptions::default()
    };
    run_request(global, request, opts).await
}

/// `meshtop label namespace|node`.
async fn label(global: &GlobalArgs, cmd: &LabelCmd) -> Result<(), AppError> {
    let (request, opts) = match cmd {
        LabelCmd::Namespace {
            namespace,
            rev,
            ambient: _,
            waypoint,
            restart,
            timeout,
            dry_run,
            force,
        } => {
            if rev.is_some() && waypoint.is_some() {
                return Err(AppError::Usage(
                    "--waypoint goes with --ambient: a waypoint serves ambient namespaces".into(),
                ));
            }
            let request = match rev {
                Some(rev) => Request::LabelNamespace {
                    namespace: namespace.clone(),
                    revision: rev.clone(),
                    restart: *restart,
                    force: *force,
                },
                None => Request::Ambient {
                    namespace: namespace.clone(),
                    waypoint: waypoint.clone(),
                    restart: *restart,
                },
            };
            let opts = RunOptions {
                dry_run: *dry_run,
                rollout_timeout: *timeout,
                ..RunOptions::default()
            };
            (request, opts)
        }
        LabelCmd::Node {
            node,
            label,
            dry_run,
        } => {
            let request = Request::LabelNode {
                node: node.clone(),
                change: label.clone(),
            };
            let opts = RunOptions {
                dry_run: *dry_run,
                ..RunOptions::default()
            };
            (request, opts)
        }
    };
    run_request(global, request, opts).await
}

/// `meshtop pdb relax|restore NS/NAME`.
async fn pdb(global: &GlobalArgs, cmd: &PdbCmd) -> Result<(), AppError> {
    let (t, restore_force) = match cmd {
        PdbCmd::Relax(t) => (t, None),
        PdbCmd::Restore(r) => (&r.target, Some(r.force)),
    };
    let ops::pdb::PdbTarget { namespace, name } =
        ops::pdb::PdbTarget::parse(&pdb_name(&t.pdb, global.namespace.as_deref())?)?;
    let request = match restore_force {
        None => Request::PdbRelax { namespace, name },
        Some(force) => Request::PdbRestore {
            namespace,
            name,
            force,
        },
    };
    let opts = RunOptions {
        dry_run: t.dry_run,
        ..RunOptions::default()
    };
    run_request(global, request, opts).await
}

/// The namespace a command's object is in: `-n`, else kubectl's `default`.
fn object_namespace(global: &GlobalArgs) -> &str {
    global.namespace.as_deref().unwrap_or("default")
}

/// `meshtop scale TYPE/NAME --replicas N`.
async fn scale(global: &GlobalArgs, cmd: &ScaleCmd) -> Result<(), AppError> {
    let workload = WorkloadRef::parse(&cmd.workload, object_namespace(global))?;
    let request = Request::Scale {
        workload,
        replicas: Some(cmd.replicas),
    };
    let opts = RunOptions {
        dry_run: cmd.dry_run,
        ..RunOptions::default()
    };
    run_request(global, request, opts).await
}

/// `meshtop rollout restart TYPE/NAME`.
async fn rollout(global: &GlobalArgs, cmd: &RolloutCmd) -> Result<(), AppError> {
    let RolloutCmd::Restart {
        workload,
        wait,
        timeout,
        dry_run,
    } = cmd;
    let request = Request::Restart {
        workload: WorkloadRef::parse(workload, object_namespace(global))?,
        wait: *wait,
    };
    let opts = RunOptions {
        dry_run: *dry_run,
        rollout_timeout: *timeout,
        ..RunOptions::default()
    };
    run_request(global, request, opts).await
}

/// `meshtop uninstall revision REV|--legacy`.
async fn uninstall(global: &GlobalArgs, cmd: &UninstallCmd) -> Result<(), AppError> {
    let UninstallCmd::Revision {
        rev,
        legacy,
        dry_run,
    } = cmd;
    let request = Request::Uninstall {
        revision: rev.clone().unwrap_or_default(),
        legacy: *legacy,
        targets: Vec::new(),
    };
    let opts = RunOptions {
        dry_run: *dry_run,
        ..RunOptions::default()
    };
    run_request(global, request, opts).await
}

/// `meshtop tag set TAG --revision REV`.
async fn tag(global: &GlobalArgs, cmd: &TagCmd) -> Result<(), AppError> {
    let TagCmd::Set {
        tag,
        revision,
        overwrite,
        restart,
        timeout,
        dry_run,
    } = cmd;
    let request = Request::TagSet {
        tag: tag.clone(),
        revision: revision.clone(),
        overwrite: *overwrite,
        restart: *restart,
    };
    let opts = RunOptions {
        dry_run: *dry_run,
        rollout_timeout: *timeout,
        ..RunOptions::default()
    };
    run_request(global, request, opts).await
}

/// `NAMESPACE/NAME` of the budget a command names, as kubectl users name it too: `NAME` with
/// `-n NAMESPACE`. A `NAMESPACE/NAME` outside `-n`'s namespace is a contradiction, refused.
fn pdb_name(text: &str, namespace: Option<&str>) -> Result<String, ActionError> {
    match (text.split_once('/'), namespace) {
        (None, Some(ns)) => Ok(format!("{ns}/{text}")),
        (None, None) => Err(ActionError::Invalid(format!(
            "invalid PodDisruptionBudget {text:?}: expected NAMESPACE/NAME, or NAME with -n \
             NAMESPACE"
        ))),
        (Some((in_text, _)), Some(ns)) if in_text != ns => Err(ActionError::Invalid(format!(
            "invalid PodDisruptionBudget {text:?}: it names namespace {in_text:?}, but -n says \
             {ns:?}"
        ))),
        (Some(_), _) => Ok(text.to_string()),
    }
}

/// The terminal in raw mode on the alternate screen; restored on drop and on panic.
struct TerminalGuard {
    terminal: ratatui::DefaultTerminal,
}

impl TerminalGuard {
    fn enter() -> Result<Self, AppError> {
        // `ratatui::try_init` also installs a panic hook that restores the terminal before
        // the previous hook (color-eyre's) reports the panic.
        let terminal = ratatui::try_init()
            .map_err(|e| AppError::Failed(format!("cannot set up the terminal: {e}")))?;
        Ok(Self { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Gives the terminal back as meshtop found it: raw mode off, the main screen, the cursor
/// shown. Every step is tried even when one fails, and nothing is printed: after a SIGHUP
/// the terminal may be gone, and a failed write must not become a panic here.
fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(out, crossterm::terminal::LeaveAlternateScreen);
    let _ = crossterm::execute!(out, crossterm::cursor::Show);
}

/// The fastest meshtop redraws, however busy the cluster.
const FRAME: Duration = Duration::from_millis(50);

/// While only the cluster changes, frames are spaced at least this many times what the
/// last one took to draw: on a big, busy cluster drawing keeps to a small share of a core
/// (an eighth at most) and the screen still follows. A key always draws at once.
const FRAME_SHARE: u32 = 8;

/// istiod's sync poller for the TUI, started once the first list of pods is in, as `meshtop
/// get` asks istiod only after its lists. Asked earlier, every replica's answer (a
/// port-forward each, as large as the mesh) competes with the lists for the API server and
/// the CPU, and is joined with pods still arriving: at 20,000 pods the TUI took two to three
/// times as long as `meshtop get` to list them. Until then the views say the pods are still
/// being listed, so nothing reads as answered.
struct DeferredPoller {
    opts: SyncOptions,
    /// Where the poller sends, once started.
    tx: mpsc::Sender<Stamped>,
    running: Option<cluster::SyncHandle>,
}

impl DeferredPoller {
    fn new(opts: SyncOptions, tx: mpsc::Sender<Stamped>) -> Self {
        Self {
            opts,
            tx,
            running: None,
        }
    }

    /// Starts the poller once the pods' source has answered (listed, or forbidden, or
    /// failing: then istiod's answers are all there is to show).
    fn start_once_pods_listed(&mut self, model: &Model, connection: &Connection) {
        if self.running.is_some() || model.listing(Kind::Pod) {
            return;
        }
        tracing::info!("pods listed: asking istiod for its sync status");
        self.running = Some(cluster::spawn_sync_poller(
            connection,
            self.opts.clone(),
            self.tx.clone(),
        ));
    }
}

/// The TUI: the views until `q`, or until a [`StopSignal`]. Either way the terminal is
/// restored first, then every running action is stopped (its audit line says interrupted)
/// before this returns.
async fn tui(global: &GlobalArgs) -> Result<(), AppError> {
    // Registered before anything else, so that no signal finds the default handler (which
    // would kill meshtop with the terminal in raw mode).
    let mut stop = std::pin::pin!(stop_signal());
    let theme = load_theme(global)?;
    let keymap =
        Keymap::load(global.keymap.as_deref()).map_err(|e| AppError::Usage(e.to_string()))?;
    let mut target = tokio::select! {
        target = connect(global) => target?,
        signal = &mut stop => {
            return Err(AppError::Interrupted {
                signal,
                message: "stopped while connecting".into(),
            });
        }
    };
    let mut header = Header {
        context: target.connection.context.clone(),
        server: target.connection.server.clone(),
        namespace: global.namespace.clone(),
        readonly: global.readonly,
    };
    let (tx, mut rx) = mpsc::channel(4096);
    let mut sync = DeferredPoller::new(sync_options(global), tx.clone());
    let mut watchers = cluster::spawn_watchers(&target.connection, watch_options(global), tx);
    let mut model = Model::new();
    model.set_focus(global.namespace.as_deref());
    let mut ui = Ui::new(keymap, theme);
    ui.set_readonly(global.readonly);
    ui.set_contexts(target.contexts(), target.connection.context.clone());
    ui.set_watched_namespace(global.namespace.clone());
    let (pane_tx, mut pane_rx) = mpsc::unbounded_channel();
    let mut panes = panes::PaneReads::new(pane_tx);
    let (switch_tx, mut switch_rx) = mpsc::unbounded_channel::<Result<Connection, String>>();
    // An action that cannot be audited is not offered; the views work as ever.
    let audit = match audit_log(global) {
        Ok(log) => Some(log),
        Err(e) if !global.readonly => {
            tracing::warn!(error = %e, "actions disabled");
            ui.disable_actions(e);
            None
        }
        Err(_) => None,
    };
    let (task_tx, mut task_rx) = mpsc::unbounded_channel();
    let mut runner = tasks::TaskRunner::new(
        Executor::new(&target.connection, global.readonly, audit)
            .with_helm(install::helm_program(global, &target)),
        task_tx.clone(),
    )
    .with_istio_namespace(global.istio_namespace.clone());
    ui.set_install_options(install_options(global, &target));
    let mut guard = TerminalGuard::enter()?;
    // `Ok(Some(signal))`: stopped by a signal.
    let ended: Result<Option<StopSignal>, AppError> = async {
        let mut keys = crossterm::event::EventStream::new();
        // The header's clock shows the age of the last event: it needs a slow tick, nothing
        // more.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut drawn_generation = u64::MAX;
        let mut force = true;
        let started = tokio::time::Instant::now();
        let mut last_draw = started.checked_sub(FRAME).unwrap_or(started);
        // The least time between two frames the cluster alone asks for.
        let mut frame_gap = FRAME;
        loop {
            // An install form waiting for the watches' first lists gets its facts once
            // they are.
            runner.model_changed(&model);
            // A key or a resize draws at once; a burst of cluster events waits for the next
            // frame, merging into it. The wait is one more branch of the `select!` below, so
            // a key pressed meanwhile never waits behind it.
            let next_frame = last_draw + frame_gap;
            let urgent = force || ui.dirty();
            let changed = model.generation() != drawn_generation;
            if urgent || (changed && tokio::time::Instant::now() >= next_frame) {
                let now = Timestamp::now();
                let drawing = tokio::time::Instant::now();
                guard
                    .terminal
                    .draw(|frame| ui.render(frame, &model, &header, now))
                    .map_err(|e| AppError::Failed(format!("drawing: {e}")))?;
                ui.mark_drawn();
                drawn_generation = model.generation();
                last_draw = tokio::time::Instant::now();
                frame_gap = FRAME.max(last_draw.duration_since(drawing) * FRAME_SHARE);
                force = false;
            }
            // Cluster changes not drawn yet: the frame they wait for.
            let frame_due = last_draw + frame_gap;
            let undrawn = model.generation() != drawn_generation;
            let mut edit = None;
            tokio::select! {
                _ = tokio::time::sleep_until(frame_due), if undrawn => {}
                key = keys.next() => match key {
                    Some(Ok(crossterm::event::Event::Key(k))) if k.kind == crossterm::event::KeyEventKind::Press => {
                        for command in ui.on_key(k, &model) {
                            match command {
                                ui::Command::Quit => return Ok(None),
                                ui::Command::Run(run) => runner.run(run, &model),
                                ui::Command::Abort(id) => runner.abort(id),
                                ui::Command::Resume(id) => runner.resume(id),
                                ui::Command::ReadInstallFacts(id) => {
                                    runner.read_install_facts(id, &model)
                                }
                                ui::Command::Edit(text) => edit = Some(text),
                                ui::Command::Inspect { id, what } => {
                                    panes.open(&target.connection, id, what)
                                }
                                ui::Command::ClosePane(id) => panes.close(id),
                                ui::Command::Focus(namespace) => {
                                    model.set_focus(namespace.as_deref())
                                }
                                ui::Command::SwitchContext(name) => {
                                    switch_context(&target, name, switch_tx.clone())
                                }
                            }
                        }
                    }
                    Some(Ok(crossterm::event::Event::Resize(..))) => {
                        ui.on_resize();
                        force = true;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(AppError::Failed(format!("reading the terminal: {e}"))),
                    None => return Ok(None),
                },
                ev = rx.recv() => match ev {
                    Some(ev) => {
                        model.apply(ev);
                        // Merge a burst of watch events into one frame.
                        while let Ok(more) = rx.try_recv() {
                            model.apply(more);
                        }
                        sync.start_once_pods_listed(&model, &target.connection);
                    }
                    None => return Err(AppError::Failed("the watchers stopped".into())),
                },
                Some(update) = task_rx.recv() => ui.on_task_update(update),
                Some(update) = pane_rx.recv() => ui.on_pane_update(update),
                Some(switched) = switch_rx.recv() => match switched {
                    Err(why) => ui.on_context_switched(Err(why)),
                    Ok(connection) => {
                        // The old context's reads stop before the new one's start: nothing
                        // of the old cluster reaches the new model.
                        panes.close_all();
                        drop(sync);
                        drop(watchers);
                        let (tx, new_rx) = mpsc::channel(4096);
                        rx = new_rx;
                        sync = DeferredPoller::new(sync_options(global), tx.clone());
                        watchers = cluster::spawn_watchers(&connection, watch_options(global), tx);
                        let focus = model.focus().map(|n| n.to_string());
                        model = Model::new();
                        model.set_focus(focus.as_deref());
                        header.context = connection.context.clone();
                        header.server = connection.server.clone();
                        target.connection = connection;
                        runner = tasks::TaskRunner::new(
                            Executor::new(&target.connection, global.readonly, audit_log(global).ok())
                                .with_helm(install::helm_program(global, &target)),
                            task_tx.clone(),
                        )
                        .with_istio_namespace(global.istio_namespace.clone());
                        ui.set_install_options(install_options(global, &target));
                        ui.on_context_switched(Ok(target.connection.context.clone()));
                        force = true;
                    }
                },
                signal = &mut stop => return Ok(Some(signal)),
                _ = tick.tick() => force = true,
            }
            if let Some(text) = edit.take() {
                // The editor reads the terminal: the key stream stops while it runs, so that
                // crossterm's reader thread, which polls the terminal for it, cannot race the
                // editor for its keys (a precaution: the tmux test passes either way). A
                // signal that arrives meanwhile is acted on when the editor exits: the
                // terminal is the editor's until then.
                drop(keys);
                let edited = edit_outside(&mut guard, text).await?;
                keys = crossterm::event::EventStream::new();
                ui.on_edited(edited);
                force = true;
            }
        }
    }
    .await;
    // The terminal first: it is the user's again even if an action is slow to stop.
    drop(guard);
    let stopped = runner.stop_all().await;
    match ended? {
        None => Ok(()),
        Some(signal) => Err(AppError::Interrupted {
            signal,
            message: match stopped {
                0 => "no action was running".to_string(),
                n => format!(
                    "{} stopped, audited as interrupted; what was done stays done (a node \
                     being drained stays cordoned)",
                    ops::outcome::count(n, "running action")
                ),
            },
        }),
    }
}

/// Connects to context `name` of the target's kubeconfig in a task of its own, so the
/// screen keeps drawing while it does; the connection (or why not) comes back on `done`.
fn switch_context(
    target: &Target,
    name: String,
    done: mpsc::UnboundedSender<Result<Connection, String>>,
) {
    let Some((kubeconfig, origin)) = target.kubeconfig.clone() else {
        let _ = done.send(Err("no kubeconfig to switch context in".into()));
        return;
    };
    tokio::spawn(async move {
        let result = cluster::connect_kubeconfig(kubeconfig, &origin, Some(&name))
            .await
            .map_err(|e| e.to_string());
        let _ = done.send(result);
    });
}

/// How the TUI plans installs: istioctl and helm where they are on PATH, with the flags
/// that point them at the cluster meshtop shows (the demo's kubeconfig lives in memory: the
/// installer gets a private copy while it runs).
fn install_options(global: &GlobalArgs, target: &Target) -> ops::install::PlanOptions {
    install::plan_options(
        global,
        target,
        &ops::install::default_install_file(&global.istio_namespace, "demo"),
    )
}

/// Runs `$EDITOR` on `text` with the terminal handed to it: raw mode and the alternate
/// screen are left before and entered again after, on a new `Terminal` whose empty buffers
/// make the next frame draw everything. This is `ratatui::init` without its panic hook (one
/// more per edit would stack) and without `Terminal::clear`, which asks the terminal for the
/// cursor position: an answer crossterm's key reader may take first (crossterm#963).
async fn edit_outside(
    guard: &mut TerminalGuard,
    text: String,
) -> Result<Result<String, String>, AppError> {
    restore_terminal();
    let edited = tokio::task::spawn_blocking(move || editor::edit_in_editor(&text))
        .await
        .map_err(|e| format!("the editor: {e}"))
        .and_then(|r| r.map_err(|e| e.to_string()));
    let back = |e: std::io::Error| AppError::Failed(format!("restoring the terminal: {e}"));
    crossterm::terminal::enable_raw_mode().map_err(back)?;
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )
    .map_err(back)?;
    guard.terminal =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
            .map_err(back)?;
    Ok(edited)
}
