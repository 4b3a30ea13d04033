//! Carries out a rolling node upgrade ([`crate::ops::upgrade`]) one node at a time, each step
//! through the executor's own audited actions (cordon, PDB relief, drain with the mesh guard,
//! uncordon) or the two written here (scale, ztunnel restart). Budgets relaxed for the plan
//! and workloads scaled up for it are put back after the last node, or when the user aborts;
//! on a failure the plan stops and says where it stands.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams};
use kube::core::SelectorExt;

use super::drain::{
    aborted, last_replicas_live, list_pods, look_up_daemon_sets, pod_ready, ready_elsewhere,
    workload_live,
};
use super::{Executor, RunOptions, api_error};
use crate::model::summary::WorkloadKind;
use crate::ops::ActionError;
use crate::ops::drain::{DrainEvent, DrainOptions, PodRef, plan_drain};
use crate::ops::outcome::{Event, Outcome};
use crate::ops::pdb::RELAXED_FROM;
use crate::ops::upgrade::{
    BudgetInWay, Relief, Scaled, UpgradeEvent, UpgradeStand, UpgradeStep, relief, scale_instead,
};
use crate::ops::workload::WorkloadRef;

/// What the user asked of the plan beyond its nodes.
#[derive(Debug, Clone, Default)]
pub struct UpgradeWait {
    /// Wait until each drained node's kubelet reports this version.
    pub kubelet: Option<String>,
    /// Wait for the user's continue (the TUI's key) after each drain.
    pub pause: bool,
    /// kubectl's `--delete-emptydir-data` for every drain.
    pub delete_emptydir_data: bool,
}

/// Between reads of what the plan waits for.
const POLL: Duration = Duration::from_millis(500);

impl Executor {
    /// Scales a workload the plan names as `deployment.apps/NAME` or `statefulset.apps/NAME`
    /// through the one scale action.
    async fn scale_named(
        &self,
        namespace: &str,
        workload: &str,
        replicas: u32,
        dry_run: bool,
    ) -> Result<(), ActionError> {
        let kind = match workload.split_once('/') {
            Some(("deployment.apps", name)) => Some((WorkloadKind::Deployment, name)),
            Some(("statefulset.apps", name)) => Some((WorkloadKind::StatefulSet, name)),
            _ => None,
        };
        let Some((kind, name)) = kind else {
            return Err(ActionError::Invalid(format!(
                "{workload} cannot be scaled: only Deployments and StatefulSets"
            )));
        };
        self.scale(&WorkloadRef::new(kind, namespace, name), replicas, dry_run)
            .await
            .map(drop)
    }

    /// Deletes a node's ztunnel pod so that its DaemonSet starts a new one.
    async fn restart_ztunnel(&self, pod: &PodRef, dry_run: bool) -> Result<(), ActionError> {
        let target = format!("pod/{}/{}", pod.namespace, pod.name);
        self.guard("delete", &target)?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
        let params = DeleteParams {
            dry_run,
            ..DeleteParams::default()
        };
        self.audited("restart ztunnel", &target, dry_run, async {
            api.delete(&pod.name, &params)
                .await
                .map(drop)
                .map_err(|e| api_error(&format!("deleting pod {pod}"), &e))
        })
        .await
    }

    /// A workload's `spec.replicas`, read live.
    async fn replicas(&self, namespace: &str, workload: &str) -> Option<u32> {
        let replicas = match workload.split_once('/')? {
            ("deployment.apps", name) => {
                Api::<Deployment>::namespaced(self.client.clone(), namespace)
                    .get(name)
                    .await
                    .ok()?
                    .spec
                    .replicas
            }
            ("statefulset.apps", name) => {
                Api::<StatefulSet>::namespaced(self.client.clone(), namespace)
                    .get(name)
                    .await
                    .ok()?
                    .spec
                    .replicas
            }
            _ => return None,
        };
        u32::try_from(replicas.unwrap_or(1)).ok()
    }
}

/// An error with where the plan stands appended, keeping its kind (and so the exit code).
fn standing(e: ActionError, stand: &UpgradeStand) -> ActionError {
    let add = |m: String| format!("{m}; {}", stand.describe());
    match e {
        ActionError::Invalid(m) => ActionError::Invalid(add(m)),
        ActionError::NotFound(m) => ActionError::NotFound(add(m)),
        ActionError::Conflict(m) => ActionError::Conflict(add(m)),
        ActionError::Api(m) => ActionError::Api(add(m)),
        ActionError::Refused(m) => ActionError::Refused(add(m)),
        ActionError::TimedOut(m) => ActionError::TimedOut(add(m)),
        ActionError::Aborted(m) => ActionError::Aborted(add(m)),
        ActionError::Unaudited(m) => ActionError::Unaudited(add(m)),
        e @ ActionError::Readonly { .. } => e,
    }
}

/// Runs the plan over `nodes` in order.
pub async fn run(
    executor: &Executor,
    nodes: &[String],
    wait: &UpgradeWait,
    opts: &RunOptions,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, ActionError> {
    for node in nodes {
        crate::ops::names::node(node)?;
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = nodes.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(ActionError::Invalid(format!(
            "node/{dup} is named twice: each node is upgraded once"
        )));
    }
    if nodes.is_empty() {
        return Err(ActionError::Invalid("no node to upgrade".into()));
    }
    executor.guard("upgrade", &format!("node/{}", nodes.join(",")))?;
    let say = |e: UpgradeEvent| report(Event::Upgrade(e));
    let mut stand = UpgradeStand::default();
    let total = nodes.len();
    for (i, node) in nodes.iter().enumerate() {
        say(UpgradeEvent::NodeStarted {
            node: node.clone(),
            index: i + 1,
            total,
        });
        let turn = node_turn(executor, node, wait, opts, report, &mut stand);
        let result = tokio::select! {
            r = turn => r,
            () = aborted(opts.abort.clone()) => Err(ActionError::Aborted(format!(
                "upgrade aborted at node/{node}"
            ))),
        };
        if let Err(e) = result {
            if matches!(e, ActionError::Aborted(_)) {
                // What was relaxed or scaled for the plan goes back; the node stays cordoned.
                put_back(executor, &mut stand, opts.dry_run, &say).await;
            }
            return Err(standing(e, &stand));
        }
        stand.at = None;
        stand.done.push(node.clone());
        say(UpgradeEvent::NodeDone {
            node: node.clone(),
            index: i + 1,
            total,
        });
    }
    let (restored, scaled_back) = (stand.relaxed.len(), stand.scaled.len());
    put_back(executor, &mut stand, opts.dry_run, &say).await;
    if !stand.relaxed.is_empty() || !stand.scaled.is_empty() {
        return Err(ActionError::Api(format!(
            "every node was upgraded, but not everything was put back: {}",
            stand.describe()
        )));
    }
    Ok(Outcome::NodesUpgraded {
        nodes: stand.done,
        restored,
        scaled_back,
    })
}

/// Restores the budgets relaxed for the plan and scales back what it scaled up; what cannot
/// be put back stays in `stand`, reported.
async fn put_back(
    executor: &Executor,
    stand: &mut UpgradeStand,
    dry_run: bool,
    say: &(dyn Fn(UpgradeEvent) + Send + Sync),
) {
    let mut left = Vec::new();
    for name in std::mem::take(&mut stand.relaxed) {
        match executor.pdb_restore(&name, false, dry_run).await {
            Ok(()) => {
                let (namespace, name) = name.split_once('/').unwrap_or(("", &name));
                say(UpgradeEvent::Restored {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                });
            }
            Err(e) => {
                say(UpgradeEvent::NotRestored {
                    what: format!("poddisruptionbudget {name}"),
                    why: e.to_string(),
                });
                left.push(name);
            }
        }
    }
    stand.relaxed = left;
    let mut left = Vec::new();
    for s in std::mem::take(&mut stand.scaled) {
        let now = executor.replicas(&s.namespace, &s.workload).await;
        if now != Some(s.to) {
            say(UpgradeEvent::NotRestored {
                what: format!("{} -n {}", s.workload, s.namespace),
                why: format!(
                    "its replicas changed since the plan scaled it to {} (now {}): left as it is",
                    s.to,
                    now.map_or_else(|| "unknown".to_string(), |n| n.to_string())
                ),
            });
            continue;
        }
        match executor
            .scale_named(&s.namespace, &s.workload, s.replicas, dry_run)
            .await
        {
            Ok(()) => say(UpgradeEvent::ScaledBack(s)),
            Err(e) => {
                say(UpgradeEvent::NotRestored {
                    what: format!("{} -n {}", s.workload, s.namespace),
                    why: e.to_string(),
                });
                left.push(s);
            }
        }
    }
    stand.scaled = left;
}

/// One node's turn: every step in order.
async fn node_turn(
    executor: &Executor,
    node: &str,
    wait: &UpgradeWait,
    opts: &RunOptions,
    report: &(dyn Fn(Event) + Send + Sync),
    stand: &mut UpgradeStand,
) -> Result<(), ActionError> {
    let say = |e: UpgradeEvent| report(Event::Upgrade(e));
    let dry_run = opts.dry_run;
    let client = &executor.client;
    let at = |stand: &mut UpgradeStand, step| stand.at = Some((node.to_string(), step));

    at(stand, UpgradeStep::Cordon);
    let changed = executor.cordon(node, dry_run).await?;
    if changed && !dry_run {
        stand.cordoned.push(node.to_string());
    }
    say(UpgradeEvent::Cordoned {
        node: node.to_string(),
        already: !changed,
    });

    // What the drain would evict, and who would be left without a ready replica once the
    // budgets let go.
    let drain_opts = DrainOptions {
        dry_run,
        timeout: opts.drain_timeout,
        retry_interval: opts.retry_interval,
        abort: opts.abort.clone(),
        delete_emptydir_data: wait.delete_emptydir_data,
        ..DrainOptions::default()
    };
    let pods = list_pods(client, node, "").await?;
    let daemon_sets = look_up_daemon_sets(client, &pods).await;
    let plan = plan_drain(&pods, &drain_opts, &daemon_sets);
    let last = last_replicas_live(client, node, &pods, &plan, false).await;
    let budgets = budgets_in_way(client, node, &pods, &plan).await;
    let mut wanted: Vec<(String, String)> = Vec::new();
    for l in &last {
        wanted.push((l.namespace.clone(), l.workload.clone()));
    }
    for b in &budgets {
        for w in &b.workloads {
            wanted.push((b.namespace.clone(), w.clone()));
        }
    }
    let mut replicas = BTreeMap::new();
    for w in wanted {
        if let std::collections::btree_map::Entry::Vacant(slot) = replicas.entry(w) {
            let (ns, workload) = slot.key();
            let r = executor.replicas(ns, workload).await;
            slot.insert(r);
        }
    }
    let replicas_of = |ns: &str, w: &str| {
        replicas
            .get(&(ns.to_string(), w.to_string()))
            .copied()
            .flatten()
    };
    let evicted_here = |ns: &str, w: &str| {
        last.iter()
            .find(|l| l.namespace == ns && l.workload == w)
            .map_or(1, |l| l.evicted)
    };
    let mut to_scale: Vec<Scaled> = Vec::new();
    let mut want = |ns: &str, w: &str| {
        // A workload the plan scaled for an earlier node is scaled again from where it is
        // now: its replicas may have moved here together.
        if to_scale
            .iter()
            .any(|s| s.namespace == ns && s.workload == w)
        {
            return;
        }
        if let Some(r) = replicas_of(ns, w) {
            to_scale.push(Scaled {
                namespace: ns.to_string(),
                workload: w.to_string(),
                replicas: r,
                to: r + evicted_here(ns, w),
            });
        }
    };
    for l in &last {
        want(&l.namespace, &l.workload);
    }
    for b in budgets.iter().filter(|b| b.allowed <= 0 && !b.relaxed) {
        if scale_instead(b, replicas_of) {
            for w in &b.workloads {
                want(&b.namespace, w);
            }
        }
    }

    at(stand, UpgradeStep::ScaleUp);
    for s in &to_scale {
        executor
            .scale_named(&s.namespace, &s.workload, s.to, dry_run)
            .await?;
        if !dry_run {
            match stand
                .scaled
                .iter_mut()
                .find(|t| t.namespace == s.namespace && t.workload == s.workload)
            {
                Some(earlier) => earlier.to = s.to,
                None => stand.scaled.push(s.clone()),
            }
        }
        say(UpgradeEvent::ScaledUp(s.clone()));
    }
    if !dry_run {
        for s in &to_scale {
            wait_replacement(client, node, s, opts).await?;
            say(UpgradeEvent::ReplacementReady {
                namespace: s.namespace.clone(),
                workload: s.workload.clone(),
            });
        }
    }

    at(stand, UpgradeStep::Relax);
    for b in &budgets {
        match relief(b, &to_scale) {
            Relief::Relax => {
                let name = format!("{}/{}", b.namespace, b.name);
                executor.pdb_relax(&name, dry_run).await?;
                if !dry_run {
                    stand.relaxed.push(name);
                }
                say(UpgradeEvent::Relaxed {
                    namespace: b.namespace.clone(),
                    name: b.name.clone(),
                });
            }
            Relief::Scaled => say(UpgradeEvent::KeptBudget {
                namespace: b.namespace.clone(),
                name: b.name.clone(),
            }),
            Relief::NotInTheWay | Relief::AlreadyRelaxed => {}
        }
    }

    at(stand, UpgradeStep::Drain);
    if dry_run {
        // The budgets and replicas above were only dry-run: the evictions they make room
        // for would be refused. The plan of the drain is what a dry run can tell.
        report(Event::Drain(DrainEvent::Planned(plan)));
    } else {
        let on_drain = |e: DrainEvent| {
            // The plan said the cordon already.
            if !matches!(e, DrainEvent::Cordoned { .. }) {
                report(Event::Drain(e));
            }
        };
        executor.drain(node, &drain_opts, &on_drain).await?;
    }

    if let Some(version) = &wait.kubelet
        && !dry_run
    {
        at(stand, UpgradeStep::WaitKubelet);
        wait_kubelet(client, node, version, opts, &say).await?;
    }
    if wait.pause && !dry_run {
        at(stand, UpgradeStep::WaitContinue);
        say(UpgradeEvent::WaitingContinue {
            node: node.to_string(),
        });
        match opts.resume.clone() {
            Some(mut rx) => {
                rx.borrow_and_update();
                if rx.changed().await.is_err() {
                    return Err(ActionError::Aborted(
                        "nobody is left to press continue".into(),
                    ));
                }
            }
            None => {
                return Err(ActionError::Invalid(
                    "waiting for continue needs the TUI".into(),
                ));
            }
        }
        say(UpgradeEvent::Continued {
            node: node.to_string(),
        });
    }

    at(stand, UpgradeStep::RestartZtunnel);
    restart_ztunnels(executor, node, opts, &say).await?;

    at(stand, UpgradeStep::Uncordon);
    executor.uncordon(node, dry_run).await?;
    stand.cordoned.retain(|n| n != node);
    say(UpgradeEvent::Uncordoned {
        node: node.to_string(),
    });
    Ok(())
}

/// The budgets that select pods the drain of `node` would evict, read live, with the
/// workloads of those pods.
async fn budgets_in_way(
    client: &kube::Client,
    node: &str,
    pods: &[Pod],
    plan: &crate::ops::drain::DrainPlan,
) -> Vec<BudgetInWay> {
    let evicted: BTreeSet<&PodRef> = plan.to_evict().iter().map(|p| &p.pod).collect();
    let evicting: Vec<&Pod> = pods
        .iter()
        .filter(|p| {
            evicted.contains(&PodRef {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                name: p.metadata.name.clone().unwrap_or_default(),
            })
        })
        .collect();
    let namespaces: BTreeSet<String> = evicting
        .iter()
        .filter_map(|p| p.metadata.namespace.clone())
        .collect();
    let mut owners = BTreeMap::new();
    let mut out = Vec::new();
    for ns in namespaces {
        let Ok(list) = Api::<PodDisruptionBudget>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
        else {
            tracing::debug!(namespace = %ns, node, "cannot list budgets: the drain reports them");
            continue;
        };
        for b in list.items {
            let Some(spec) = b.spec.as_ref() else {
                continue;
            };
            let Some(selector) = spec
                .selector
                .clone()
                .and_then(|s| kube::core::Selector::try_from(s).ok())
            else {
                continue;
            };
            let mut workloads = Vec::new();
            let mut selects = false;
            for p in evicting
                .iter()
                .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
            {
                let labels = p.metadata.labels.clone().unwrap_or_default();
                if selector.matches(&labels) {
                    selects = true;
                    if let Some(w) = workload_live(client, p, &mut owners).await {
                        workloads.push(w);
                    }
                }
            }
            if !selects {
                continue;
            }
            workloads.sort();
            workloads.dedup();
            out.push(BudgetInWay {
                namespace: ns.clone(),
                name: b.metadata.name.clone().unwrap_or_default(),
                min_available: match &spec.min_available {
                    Some(IntOrString::Int(m)) => Some(*m),
                    _ => None,
                },
                allowed: b
                    .status
                    .as_ref()
                    .and_then(|s| s.disruptions_allowed)
                    .unwrap_or(0),
                relaxed: b
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(RELAXED_FROM)),
                workloads,
            });
        }
    }
    out
}

/// Sleeps between reads, giving up after the run's timeout.
fn past(started: tokio::time::Instant, opts: &RunOptions) -> bool {
    started.elapsed() >= opts.drain_timeout
}

/// Waits until the scaled workload has a ready replica on a schedulable node but `node`.
async fn wait_replacement(
    client: &kube::Client,
    node: &str,
    s: &Scaled,
    opts: &RunOptions,
) -> Result<(), ActionError> {
    let started = tokio::time::Instant::now();
    loop {
        let cordoned: BTreeSet<String> = Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| api_error("listing nodes", &e))?
            .items
            .into_iter()
            .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
            .filter_map(|n| n.metadata.name)
            .collect();
        let ready = ready_elsewhere(client, &s.namespace, &s.workload, node, &cordoned).await;
        if ready.unwrap_or(0) > 0 {
            return Ok(());
        }
        if past(started, opts) {
            return Err(ActionError::TimedOut(format!(
                "{} -n {} has no ready replica off node/{node} after {}s",
                s.workload,
                s.namespace,
                opts.drain_timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the node's kubelet reports `version`.
async fn wait_kubelet(
    client: &kube::Client,
    node: &str,
    version: &str,
    opts: &RunOptions,
    say: &(dyn Fn(UpgradeEvent) + Send + Sync),
) -> Result<(), ActionError> {
    let api: Api<Node> = Api::all(client.clone());
    let started = tokio::time::Instant::now();
    let mut told = false;
    loop {
        let n = api
            .get(node)
            .await
            .map_err(|e| api_error(&format!("reading node/{node}"), &e))?;
        let current = n
            .status
            .and_then(|s| s.node_info)
            .map(|i| i.kubelet_version)
            .unwrap_or_default();
        if current == version {
            say(UpgradeEvent::KubeletUpgraded {
                node: node.to_string(),
                version: version.to_string(),
            });
            return Ok(());
        }
        if !told {
            say(UpgradeEvent::WaitingKubelet {
                node: node.to_string(),
                version: version.to_string(),
                current: current.clone(),
            });
            told = true;
        }
        if past(started, opts) {
            return Err(ActionError::TimedOut(format!(
                "node/{node} still runs kubelet {current} after {}s, not {version}",
                opts.drain_timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Deletes the node's ztunnel pods (ambient mode) and waits for their replacements Ready.
async fn restart_ztunnels(
    executor: &Executor,
    node: &str,
    opts: &RunOptions,
    say: &(dyn Fn(UpgradeEvent) + Send + Sync),
) -> Result<(), ActionError> {
    let client = &executor.client;
    let ztunnels = |client: kube::Client| async move {
        Api::<Pod>::all(client)
            .list(
                &ListParams::default()
                    .labels("app=ztunnel")
                    .fields(&format!("spec.nodeName={node}")),
            )
            .await
            .map(|l| l.items)
            .map_err(|e| api_error(&format!("listing the ztunnel of node/{node}"), &e))
    };
    let old = ztunnels(client.clone()).await?;
    if old.is_empty() {
        return Ok(());
    }
    let old_uids: BTreeSet<String> = old.iter().filter_map(|p| p.metadata.uid.clone()).collect();
    for p in &old {
        let pod = PodRef {
            namespace: p.metadata.namespace.clone().unwrap_or_default(),
            name: p.metadata.name.clone().unwrap_or_default(),
        };
        executor.restart_ztunnel(&pod, opts.dry_run).await?;
        say(UpgradeEvent::ZtunnelDeleted {
            node: node.to_string(),
            pod: pod.name.clone(),
        });
    }
    if opts.dry_run {
        return Ok(());
    }
    let started = tokio::time::Instant::now();
    loop {
        let now = ztunnels(client.clone()).await?;
        let fresh: Vec<&Pod> = now
            .iter()
            .filter(|p| {
                p.metadata
                    .uid
                    .as_ref()
                    .is_some_and(|u| !old_uids.contains(u))
            })
            .collect();
        if let Some(p) = fresh.iter().find(|p| pod_ready(p)) {
            say(UpgradeEvent::ZtunnelReady {
                node: node.to_string(),
                pod: p.metadata.name.clone().unwrap_or_default(),
            });
            return Ok(());
        }
        if past(started, opts) {
            return Err(ActionError::TimedOut(format!(
                "no new ztunnel is Ready on node/{node} after {}s",
                opts.drain_timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
