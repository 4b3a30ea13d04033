//! Runs the actions the UI confirmed, in the background: each on its own task, through the
//! executor (readonly guard, audit log), its progress and outcome sent back to the loop as
//! [`TaskUpdate`]s. The UI stays live while a drain waits on a PodDisruptionBudget. When
//! meshtop ends, [`TaskRunner::stop_all`] stops what still runs, each audited as interrupted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::cluster::actions::{self, Executor, RunOptions};
use crate::model::Model;
use crate::ops::drain::{DrainEvent, DrainOptions, PodRef};
use crate::ops::install::{InstallFacts, Route};
use crate::ops::outcome::{self, Event, Outcome};
use crate::ops::rollout::RolloutEvent;
use crate::ops::upgrade::UpgradeEvent;
use crate::ops::{InstallRequest, Request};
use crate::ui::action::{ActionRun, Blocked, TaskId, TaskProgress, TaskUpdate};

/// How long a drain started from the TUI keeps retrying refused evictions before it gives
/// up (the node stays cordoned). The abort key stops it sooner.
pub const TUI_DRAIN_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How long the TUI follows the rollouts of a namespace's restart.
pub const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The most lines of istioctl's output an install's task keeps (its end).
const ISTIOCTL_LINES: usize = 20;

/// How long [`TaskRunner::stop_all`] waits for the stopped actions to write their audit lines.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// Starts confirmed actions and aborts them on request.
#[derive(Debug)]
pub struct TaskRunner {
    executor: Executor,
    updates: mpsc::UnboundedSender<TaskUpdate>,
    aborts: BTreeMap<TaskId, watch::Sender<bool>>,
    /// Each rolling upgrade's continue signal.
    resumes: BTreeMap<TaskId, watch::Sender<u64>>,
    /// The actions running; dropping the set aborts them.
    actions: JoinSet<()>,
    /// The install forms' reads of the cluster.
    reads: JoinSet<()>,
    drain_timeout: Duration,
    retry_interval: Duration,
    /// Where istiod, the mesh ConfigMaps and the IstioOperators live (`--istio-namespace`).
    istio_namespace: String,
    /// An install form's read of the facts, waiting for the watches' first lists.
    waiting_facts: Option<TaskId>,
}

impl TaskRunner {
    pub fn new(executor: Executor, updates: mpsc::UnboundedSender<TaskUpdate>) -> Self {
        Self {
            executor,
            updates,
            aborts: BTreeMap::new(),
            resumes: BTreeMap::new(),
            actions: JoinSet::new(),
            reads: JoinSet::new(),
            drain_timeout: TUI_DRAIN_TIMEOUT,
            retry_interval: DrainOptions::default().retry_interval,
            istio_namespace: "istio-system".into(),
            waiting_facts: None,
        }
    }

    /// Where installs read and put their resources (`--istio-namespace`).
    pub fn with_istio_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.istio_namespace = namespace.into();
        self
    }

    /// The install facts the model holds now.
    fn install_facts(&self, model: &Model) -> Result<InstallFacts, String> {
        InstallFacts::from_model(model, &self.istio_namespace).map_err(|e| e.to_string())
    }

    /// Takes what an install form checks against from the model, and what the mesh
    /// ConfigMaps hold from the API server; the answer arrives on the channel as
    /// [`TaskUpdate::InstallFacts`]. While the watches have not listed the cluster yet, the
    /// read waits for them ([`TaskRunner::model_changed`]). Only reads: allowed under
    /// `--readonly`.
    pub fn read_install_facts(&mut self, id: TaskId, model: &Model) {
        self.waiting_facts = None;
        let facts = match InstallFacts::from_model(model, &self.istio_namespace) {
            Err(e) if e.settles() => {
                self.waiting_facts = Some(id);
                return;
            }
            facts => facts.map_err(|e| e.to_string()),
        };
        let updates = self.updates.clone();
        let facts = match facts {
            Ok(facts) => facts,
            Err(e) => {
                let _ = updates.send(TaskUpdate::InstallFacts { id, facts: Err(e) });
                return;
            }
        };
        while self.reads.try_join_next().is_some() {}
        let client = self.executor.client.clone();
        self.reads.spawn(async move {
            let facts = actions::install::read_mesh_configs(&client, facts)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string());
            let _ = updates.send(TaskUpdate::InstallFacts { id, facts });
        });
    }

    /// The model changed: a read of install facts waiting for the watches tries again.
    pub fn model_changed(&mut self, model: &Model) {
        if let Some(id) = self.waiting_facts.take() {
            self.read_install_facts(id, model);
        }
    }

    /// Drain timings (tests shorten them).
    pub fn with_drain_timing(mut self, timeout: Duration, retry_interval: Duration) -> Self {
        self.drain_timeout = timeout;
        self.retry_interval = retry_interval;
        self
    }

    /// Starts one action; its updates and its end arrive on the channel. An install is
    /// checked again against the model as it is now.
    pub fn run(&mut self, run: ActionRun, model: &Model) {
        let facts = match &run.request {
            Request::Install(_) => match self.install_facts(model) {
                Ok(facts) => Some(facts),
                Err(e) => {
                    let _ = self.updates.send(TaskUpdate::Finished {
                        id: run.id,
                        result: Err(format!("nothing was sent: {e}")),
                    });
                    return;
                }
            },
            _ => None,
        };
        self.aborts.retain(|_, tx| !tx.is_closed());
        while self.actions.try_join_next().is_some() {}
        let (abort_tx, abort_rx) = watch::channel(false);
        self.aborts.insert(run.id, abort_tx);
        self.resumes.retain(|_, tx| !tx.is_closed());
        let (resume_tx, resume_rx) = watch::channel(0u64);
        self.resumes.insert(run.id, resume_tx);
        let executor = self.executor.clone();
        let updates = self.updates.clone();
        let timing = (self.drain_timeout, self.retry_interval);
        self.actions.spawn(async move {
            let signals = (abort_rx, resume_rx);
            let result = execute(&executor, &run, signals, &updates, timing, facts.as_ref()).await;
            let _ = updates.send(TaskUpdate::Finished { id: run.id, result });
        });
    }

    /// Lets a rolling upgrade waiting for the user go on.
    pub fn resume(&mut self, id: TaskId) {
        if let Some(tx) = self.resumes.get(&id) {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Asks a running action to stop (a drain stops between requests).
    pub fn abort(&mut self, id: TaskId) {
        if let Some(tx) = self.aborts.get(&id) {
            let _ = tx.send(true);
        }
    }

    /// Stops every running action now and waits (up to a deadline) until each is dropped,
    /// so that its audit line (interrupted) is written before meshtop exits. Returns how many
    /// actions were still running.
    pub async fn stop_all(&mut self) -> usize {
        while self.actions.try_join_next().is_some() {}
        let running = self.actions.len();
        self.actions.abort_all();
        self.reads.abort_all();
        let drained = async {
            while self.actions.join_next().await.is_some() {}
            while self.reads.join_next().await.is_some() {}
        };
        if tokio::time::timeout(STOP_DEADLINE, drained).await.is_err() {
            tracing::warn!(
                "actions still stopping after {}s: their audit lines may be missing",
                STOP_DEADLINE.as_secs()
            );
        }
        running
    }
}

async fn execute(
    executor: &Executor,
    run: &ActionRun,
    (abort, resume): (watch::Receiver<bool>, watch::Receiver<u64>),
    updates: &mpsc::UnboundedSender<TaskUpdate>,
    (drain_timeout, retry_interval): (Duration, Duration),
    install_facts: Option<&InstallFacts>,
) -> Result<String, String> {
    let id = run.id;
    let dry_run = run.dry_run;
    if let Request::Install(request) = &run.request {
        return install(executor, install_facts, id, request, dry_run, updates).await;
    }
    let opts = RunOptions {
        dry_run,
        drain_timeout,
        retry_interval,
        abort: Some(abort),
        rollout_timeout: ROLLOUT_TIMEOUT,
        resume: Some(resume),
    };
    let tracker = EventTracker::new(id, updates.clone(), dry_run);
    let report = |e: Event| tracker.on_event(e);
    let outcome = actions::run(executor, &run.request, &opts, &report)
        .await
        .map_err(|e| e.to_string())?;
    let mut text = outcome.text(dry_run);
    if matches!(outcome, Outcome::PdbRelaxed { .. }) && !dry_run {
        text.push_str("; U restores it");
    }
    Ok(text)
}

/// Runs an install's plan, after checking its form again against the facts of the cluster as
/// the model holds it now (the form was checked when its dialog opened, maybe minutes ago).
async fn install(
    executor: &Executor,
    facts: Option<&InstallFacts>,
    id: TaskId,
    request: &InstallRequest,
    dry_run: bool,
    updates: &mpsc::UnboundedSender<TaskUpdate>,
) -> Result<String, String> {
    let line = |text: String| {
        let _ = updates.send(TaskUpdate::Line { id, text });
    };
    let Some(planned) = &request.planned else {
        return Err("nothing to install: the form was not previewed".into());
    };
    let plan = &planned.plan;
    let Some(facts) = facts else {
        return Err(
            "nothing was sent: the cluster's facts were not taken before the install".into(),
        );
    };
    let conflicts = planned.form.conflicts(facts);
    if !conflicts.is_empty() {
        let text: Vec<&str> = conflicts.iter().map(|p| p.message.as_str()).collect();
        return Err(format!(
            "the cluster changed since the preview, nothing was sent: {}",
            text.join("; ")
        ));
    }
    let outcome = executor
        .install(plan, dry_run)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(output) = &outcome.istioctl_output {
        let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
        for l in &lines[lines.len().saturating_sub(ISTIOCTL_LINES)..] {
            line(format!("istioctl: {l}"));
        }
    }
    for l in &outcome.lines {
        line(l.clone());
    }
    let title = plan.title();
    if let Some(why) = outcome.not_installed(plan, dry_run) {
        return Err(format!("{title}: {why}"));
    }
    if dry_run {
        return Ok(format!("{title}: dry run done, nothing changed"));
    }
    // The last step names what was installed; the task's title is in its lines above.
    let last = outcome
        .lines
        .last()
        .cloned()
        .unwrap_or_else(|| title.clone());
    Ok(match plan.operator().acting() {
        Some(o) if matches!(plan.route(), Route::Operator) => {
            format!("{last}; operator {}/{} installs it", o.namespace, o.name)
        }
        _ => last,
    })
}

/// Turns an action's events into the task's lines (the CLI's words) and progress.
struct EventTracker {
    id: TaskId,
    updates: mpsc::UnboundedSender<TaskUpdate>,
    dry_run: bool,
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    /// The last refusal of each pod: the budget and the API's words.
    refusals: BTreeMap<PodRef, (Option<String>, String)>,
    retry_at: Option<Timestamp>,
    rollouts: usize,
}

impl EventTracker {
    fn new(id: TaskId, updates: mpsc::UnboundedSender<TaskUpdate>, dry_run: bool) -> Self {
        Self {
            id,
            updates,
            dry_run,
            state: Mutex::new(TrackerState::default()),
        }
    }

    fn line(&self, text: String) {
        let _ = self.updates.send(TaskUpdate::Line { id: self.id, text });
    }

    fn progress(&self, progress: TaskProgress) {
        let _ = self.updates.send(TaskUpdate::Progress {
            id: self.id,
            progress,
        });
    }

    fn on_event(&self, event: Event) {
        for l in outcome::lines(&event, self.dry_run) {
            self.line(l.text);
        }
        match event {
            Event::Drain(e) => self.on_drain(e),
            Event::RolloutStarted { total } => {
                if let Ok(mut s) = self.state.lock() {
                    s.rollouts = total;
                }
                self.progress(rolled_out(0, total));
            }
            Event::Rollout(RolloutEvent::Done { done, total, .. }) => {
                self.progress(rolled_out(done, total))
            }
            Event::Upgrade(UpgradeEvent::NodeDone { index, total, .. }) => {
                self.progress(TaskProgress {
                    done: index,
                    total,
                    unit: "nodes upgraded",
                    ..TaskProgress::default()
                })
            }
            Event::Rollout(RolloutEvent::Waiting { .. })
            | Event::Restarted(_)
            | Event::Upgrade(_)
            | Event::Deleted { .. } => {}
        }
    }

    fn on_drain(&self, event: DrainEvent) {
        match event {
            DrainEvent::Refused {
                pod,
                pdb,
                message,
                cause,
                retry_in,
            } => {
                let words = match &cause {
                    Some(c) => format!("{message} ({c})"),
                    None => message.clone(),
                };
                if let Ok(mut s) = self.state.lock() {
                    s.refusals.insert(pod.clone(), (pdb.clone(), words));
                    s.retry_at = retry_in.and_then(|d| {
                        let d = jiff::SignedDuration::try_from(d).ok()?;
                        Timestamp::now().checked_add(d).ok()
                    });
                }
            }
            DrainEvent::Evicted(pod) => {
                if let Ok(mut s) = self.state.lock() {
                    s.refusals.remove(&pod);
                }
            }
            DrainEvent::Progress(p) => {
                let (blocked, retry_at) = match self.state.lock() {
                    Ok(s) => (
                        p.blocked
                            .iter()
                            .map(|(pod, pdb)| {
                                let (known_pdb, message) =
                                    s.refusals.get(pod).cloned().unwrap_or_default();
                                Blocked {
                                    pod: pod.to_string(),
                                    pdb: pdb.clone().or(known_pdb),
                                    message,
                                }
                            })
                            .collect(),
                        s.retry_at,
                    ),
                    Err(_) => (Vec::new(), None),
                };
                let progress = TaskProgress {
                    done: p.evicted,
                    total: p.total,
                    unit: "evicted",
                    blocked,
                    retry_at,
                };
                self.progress(progress);
            }
            DrainEvent::Cordoned { .. }
            | DrainEvent::LastReplicas(_)
            | DrainEvent::Planned(_)
            | DrainEvent::Evicting(_)
            | DrainEvent::Budget(_) => {}
        }
    }
}

fn rolled_out(done: usize, total: usize) -> TaskProgress {
    TaskProgress {
        done,
        total,
        unit: "rolled out",
        ..TaskProgress::default()
    }
}
