//! `kubectl drain`, with kubectl's rules: cordon first; skip DaemonSet-managed and mirror
//! pods; refuse pods without a controller (unless `force`) and pods with emptyDir volumes
//! (unless `delete_emptydir_data`), naming them; evict everything else, finished pods
//! included, through the policy/v1 Eviction API, never a plain delete; on a PDB's 429 say
//! which budget refuses and retry every 5 s; wait for each evicted pod to be gone (404, or
//! a new pod of the same name); give up at the timeout with the node left cordoned.
//!
//! The plan ([`plan_drain`]) is made from the listed pods; `cluster::actions::drain` does the IO.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use crate::model::summary::PodPhase;

const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// kubectl's words for each rule.
pub const DAEMONSET_WARNING: &str = "ignoring DaemonSet-managed Pods";
pub const LOCAL_STORAGE_FATAL: &str =
    "cannot delete Pods with local storage (use --delete-emptydir-data to override)";
pub const LOCAL_STORAGE_WARNING: &str = "deleting Pods with local storage";
pub const UNMANAGED_FATAL: &str =
    "cannot delete Pods that declare no controller (use --force to override)";
pub const UNMANAGED_WARNING: &str = "deleting Pods that declare no controller";

#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// Every write with `dryRun=All`: the node is not cordoned, no pod goes. A PDB refusal
    /// is reported, not retried.
    pub dry_run: bool,
    /// For the evictions and the waits after the cordon.
    pub timeout: Duration,
    pub delete_emptydir_data: bool,
    pub force: bool,
    /// Evict even the last ready replicas of a workload (the mesh guard's consent).
    pub evict_last_replica: bool,
    /// Between retries of an eviction a PDB refused (kubectl: 5 s).
    pub retry_interval: Duration,
    /// Between checks that an evicted pod is gone (kubectl: 1 s).
    pub poll_interval: Duration,
    /// Becomes `true` when the user aborts the drain: it stops between requests, the node
    /// stays cordoned.
    pub abort: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Default for DrainOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            timeout: Duration::from_secs(300),
            delete_emptydir_data: false,
            force: false,
            evict_last_replica: false,
            retry_interval: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            abort: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What the drain does with one pod on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodDecision {
    /// Evicted; a warning (kubectl's words) when it goes only by the user's consent.
    Evict { warning: Option<String> },
    /// Left on the node: DaemonSet-managed (with kubectl's warning) or a mirror pod (none).
    Skip { warning: Option<String> },
    /// Stops the whole drain before any eviction: kubectl's error for it.
    Refuse { error: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPod {
    pub pod: PodRef,
    pub uid: Option<String>,
    pub decision: PodDecision,
}

/// Whether the DaemonSet a pod names as controller exists (kubectl looks each one up: an
/// orphan may go with `force`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonSetLookup {
    Exists,
    NotFound(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DrainPlan {
    pub pods: Vec<PlannedPod>,
}

impl DrainPlan {
    pub fn to_evict(&self) -> Vec<&PlannedPod> {
        self.pods
            .iter()
            .filter(|p| matches!(p.decision, PodDecision::Evict { .. }))
            .collect()
    }

    pub fn skipped(&self) -> Vec<&PlannedPod> {
        self.pods
            .iter()
            .filter(|p| matches!(p.decision, PodDecision::Skip { .. }))
            .collect()
    }

    /// kubectl's warnings, each with its pods: `(message, pods)`.
    pub fn warnings(&self) -> Vec<(String, Vec<PodRef>)> {
        group(self.pods.iter().filter_map(|p| match &p.decision {
            PodDecision::Evict { warning: Some(w) } | PodDecision::Skip { warning: Some(w) } => {
                Some((w.clone(), p.pod.clone()))
            }
            _ => None,
        }))
    }

    /// kubectl's errors, each with its pods; any of them stops the drain.
    pub fn errors(&self) -> Vec<(String, Vec<PodRef>)> {
        group(self.pods.iter().filter_map(|p| match &p.decision {
            PodDecision::Refuse { error } => Some((error.clone(), p.pod.clone())),
            _ => None,
        }))
    }
}

fn group(items: impl Iterator<Item = (String, PodRef)>) -> Vec<(String, Vec<PodRef>)> {
    let mut out: Vec<(String, Vec<PodRef>)> = Vec::new();
    for (message, pod) in items {
        match out.iter_mut().find(|(m, _)| *m == message) {
            Some((_, pods)) => pods.push(pod),
            None => out.push((message, vec![pod])),
        }
    }
    out
}

/// `msg: a, b; msg2: c`, as kubectl joins its warnings and errors.
pub fn describe_groups(groups: &[(String, Vec<PodRef>)]) -> String {
    groups
        .iter()
        .map(|(m, pods)| {
            let names: Vec<String> = pods.iter().map(ToString::to_string).collect();
            format!("{m}: {}", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn finished(pod: &Pod) -> bool {
    PodPhase::parse(pod.status.as_ref().and_then(|s| s.phase.as_deref())).finished()
}

pub fn controller_of(pod: &Pod) -> Option<(&str, &str)> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.as_str(), o.name.as_str()))
}

fn pod_ref(pod: &Pod) -> PodRef {
    PodRef {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
    }
}

/// kubectl's filters in kubectl's order (DaemonSet, mirror, local storage, no controller),
/// the first that does not let a pod go deciding; `daemon_sets` answers for each
/// `(namespace, name)` a pod names as controller.
pub fn plan_drain(
    pods: &[Pod],
    opts: &DrainOptions,
    daemon_sets: &BTreeMap<(String, String), DaemonSetLookup>,
) -> DrainPlan {
    let mut planned = Vec::new();
    for pod in pods {
        let r = pod_ref(pod);
        let decision = decide(pod, &r, opts, daemon_sets);
        planned.push(PlannedPod {
            pod: r,
            uid: pod.metadata.uid.clone(),
            decision,
        });
    }
    planned.sort_by(|a, b| a.pod.cmp(&b.pod));
    DrainPlan { pods: planned }
}

/// What a pod is to kubectl's drain filters: the facts they read, from a listed pod or the
/// model's summary of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodTraits<'a> {
    /// The controlling owner's kind and name.
    pub controller: Option<(&'a str, &'a str)>,
    /// A static pod's mirror (`kubernetes.io/config.mirror`).
    pub mirror: bool,
    /// Succeeded or Failed.
    pub finished: bool,
    pub empty_dir: bool,
}

impl<'a> PodTraits<'a> {
    pub fn of(pod: &'a Pod) -> Self {
        PodTraits {
            controller: controller_of(pod),
            mirror: pod
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION)),
            finished: finished(pod),
            empty_dir: pod
                .spec
                .as_ref()
                .and_then(|s| s.volumes.as_ref())
                .is_some_and(|v| v.iter().any(|v| v.empty_dir.is_some())),
        }
    }
}

/// The first of kubectl's filters that holds a pod back, in kubectl's order; the flags and
/// the DaemonSet lookup are applied after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainRule<'a> {
    /// Managed by a running DaemonSet, which would put it right back: skipped when the
    /// DaemonSet exists. A finished DaemonSet pod is evicted like any other.
    DaemonSet(&'a str),
    /// A mirror pod: the kubelet owns it, it stays.
    Mirror,
    /// Evicted; `local_storage` needs `--delete-emptydir-data` and `unmanaged` `--force`
    /// (both only for pods still running: finished pods go without).
    Evict {
        local_storage: bool,
        unmanaged: bool,
    },
}

impl DrainRule<'_> {
    /// The rule for a pod.
    pub fn of<'a>(pod: &PodTraits<'a>) -> DrainRule<'a> {
        match pod.controller {
            Some(("DaemonSet", name)) if !pod.finished => return DrainRule::DaemonSet(name),
            _ => {}
        }
        if pod.mirror {
            return DrainRule::Mirror;
        }
        DrainRule::Evict {
            local_storage: pod.empty_dir && !pod.finished,
            unmanaged: pod.controller.is_none() && !pod.finished,
        }
    }
}

fn decide(
    pod: &Pod,
    r: &PodRef,
    opts: &DrainOptions,
    daemon_sets: &BTreeMap<(String, String), DaemonSetLookup>,
) -> PodDecision {
    let traits = PodTraits::of(pod);
    let mut warning = None;
    let (local_storage, unmanaged) = match DrainRule::of(&traits) {
        DrainRule::Mirror => return PodDecision::Skip { warning: None },
        DrainRule::DaemonSet(ds) => {
            match daemon_sets.get(&(r.namespace.clone(), ds.to_string())) {
                Some(DaemonSetLookup::Exists) => {
                    return PodDecision::Skip {
                        warning: Some(DAEMONSET_WARNING.to_string()),
                    };
                }
                // An orphan of a deleted DaemonSet: kubectl lets --force take it, and the
                // filters after this one still apply.
                Some(DaemonSetLookup::NotFound(m)) if opts.force => warning = Some(m.clone()),
                Some(DaemonSetLookup::NotFound(m) | DaemonSetLookup::Failed(m)) => {
                    return PodDecision::Refuse { error: m.clone() };
                }
                None => {
                    return PodDecision::Refuse {
                        error: format!("daemonsets.apps \"{ds}\" was not looked up"),
                    };
                }
            }
            if traits.mirror {
                return PodDecision::Skip { warning: None };
            }
            (traits.empty_dir, false)
        }
        DrainRule::Evict {
            local_storage,
            unmanaged,
        } => (local_storage, unmanaged),
    };
    if local_storage {
        if !opts.delete_emptydir_data {
            return PodDecision::Refuse {
                error: LOCAL_STORAGE_FATAL.to_string(),
            };
        }
        warning = Some(LOCAL_STORAGE_WARNING.to_string());
    }
    if unmanaged {
        if !opts.force {
            return PodDecision::Refuse {
                error: UNMANAGED_FATAL.to_string(),
            };
        }
        warning = Some(UNMANAGED_WARNING.to_string());
    }
    PodDecision::Evict { warning }
}

/// The flag that lets a drain evict the last ready replicas of a workload.
pub const LAST_REPLICA_FLAG: &str = "--evict-last-replica";

/// A pod a drain would evict, as the mesh guard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedPod {
    pub namespace: String,
    /// The workload that keeps its replicas (`deployment.apps/istiod`); none for pods that
    /// no Deployment, StatefulSet or ReplicaSet runs.
    pub workload: Option<String>,
    pub ready: bool,
    /// A PodDisruptionBudget selecting it allows no disruption now: the eviction is refused
    /// and retried, so the budget, not the guard, holds the replica (relaxing it is the
    /// consent).
    pub protected: bool,
}

/// A workload the drain would leave with no ready replica: istiod, a gateway, anything.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LastReplica {
    pub namespace: String,
    pub workload: String,
    /// Its ready pods on the drained node.
    pub evicted: u32,
}

impl std::fmt::Display for LastReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -n {} ({} ready on this node, none elsewhere)",
            self.workload, self.namespace, self.evicted
        )
    }
}

/// The workloads whose every ready replica is among `pods`. `ready_elsewhere` counts a
/// workload's ready pods on other nodes that are not cordoned (a cordoned node may be
/// drained next, or already is: its pods are not counted on); `None` when unknown, which
/// the guard takes as none.
pub fn last_replicas(
    pods: &[GuardedPod],
    ready_elsewhere: impl Fn(&str, &str) -> Option<u32>,
) -> Vec<LastReplica> {
    let mut evicted: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for p in pods.iter().filter(|p| p.ready && !p.protected) {
        if let Some(w) = &p.workload {
            *evicted
                .entry((p.namespace.as_str(), w.as_str()))
                .or_default() += 1;
        }
    }
    evicted
        .into_iter()
        .filter(|((ns, w), _)| ready_elsewhere(ns, w).unwrap_or(0) == 0)
        .map(|((ns, w), n)| LastReplica {
            namespace: ns.to_string(),
            workload: w.to_string(),
            evicted: n,
        })
        .collect()
}

/// Why a drain that would take the last replicas is refused, and how to go on anyway.
pub fn last_replica_refusal(node: &str, last: &[LastReplica]) -> String {
    let names: Vec<String> = last.iter().map(ToString::to_string).collect();
    format!(
        "refusing to drain node/{node}: it would evict the last ready replica of {}; \
         scale it up or let it reschedule first, or pass {LAST_REPLICA_FLAG} to drain anyway \
         (nothing was changed)",
        names.join("; ")
    )
}

/// The workload a pod counts for, `kind.group/name`, from its controller and, for a
/// ReplicaSet, the Deployment that owns it (`replica_set_owner`).
pub fn workload_of(
    controller: Option<(&str, &str)>,
    replica_set_owner: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    match controller? {
        ("ReplicaSet", rs) => Some(match replica_set_owner(rs) {
            Some(d) => format!("deployment.apps/{d}"),
            None => format!("replicaset.apps/{rs}"),
        }),
        ("StatefulSet", name) => Some(format!("statefulset.apps/{name}")),
        ("Deployment", name) => Some(format!("deployment.apps/{name}")),
        _ => None,
    }
}

/// Where a drain stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DrainProgress {
    /// Pods to evict.
    pub total: usize,
    /// Evicted and gone.
    pub evicted: usize,
    /// Pods whose last eviction a PDB refused, with the budget's name when the API said it.
    pub blocked: BTreeMap<PodRef, Option<String>>,
}

impl DrainProgress {
    pub fn remaining(&self) -> usize {
        self.total.saturating_sub(self.evicted)
    }
}

/// What a drain reports as it goes, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum DrainEvent {
    /// The node is unschedulable now; `already`: it was before.
    Cordoned { node: String, already: bool },
    /// The pods and what happens to each.
    Planned(DrainPlan),
    /// The drain takes the last ready replicas of these workloads, as consented.
    LastReplicas(Vec<LastReplica>),
    /// The first eviction request for a pod is about to be sent.
    Evicting(PodRef),
    /// A PodDisruptionBudget refused an eviction (HTTP 429): `message` is the API's,
    /// `cause` the budget's own explanation; the next try is after `retry_in` (none in a
    /// dry run).
    Refused {
        pod: PodRef,
        pdb: Option<String>,
        message: String,
        cause: Option<String>,
        retry_in: Option<Duration>,
    },
    /// What a budget that refused is, told once per budget after its first refusal: its
    /// numbers and where the pods it selects run.
    Budget(BudgetFacts),
    /// The pod was evicted and is gone (a dry run: the server accepted the eviction).
    Evicted(PodRef),
    /// After every change.
    Progress(DrainProgress),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainOutcome {
    pub plan: DrainPlan,
    /// Whether the drain cordoned the node (false: it already was).
    pub cordoned: bool,
    pub evicted: Vec<PodRef>,
}

/// A PodDisruptionBudget that refuses evictions, as read when it first refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetFacts {
    pub namespace: String,
    pub name: String,
    pub disruptions_allowed: i32,
    pub min_available: Option<String>,
    pub max_unavailable: Option<String>,
    pub current_healthy: i32,
    pub desired_healthy: i32,
    /// Its selector in kubectl's words (`app=istio-pilot`).
    pub selector: String,
    /// The pods it selects, `(name, node)`; the node is empty for a pod not scheduled.
    pub pods: Vec<(String, String)>,
}

/// Pods named in a budget's description before the rest are counted.
const BUDGET_PODS_NAMED: usize = 5;

impl BudgetFacts {
    /// `poddisruptionbudget/istio-pilot -n istio-system: allowed disruptions 0 (min available
    /// 1; 1 healthy, 1 needed); selects app=istio-pilot: 1 pod: istio-pilot-x on k1-node03`.
    pub fn describe(&self) -> String {
        let spec = match (&self.min_available, &self.max_unavailable) {
            (Some(m), _) => format!("min available {m}"),
            (None, Some(m)) => format!("max unavailable {m}"),
            (None, None) => "no minimum or maximum".to_string(),
        };
        let mut pods: Vec<String> = self
            .pods
            .iter()
            .take(BUDGET_PODS_NAMED)
            .map(|(pod, node)| {
                if node.is_empty() {
                    format!("{pod} (not scheduled)")
                } else {
                    format!("{pod} on {node}")
                }
            })
            .collect();
        if self.pods.len() > BUDGET_PODS_NAMED {
            pods.push(format!("{} more", self.pods.len() - BUDGET_PODS_NAMED));
        }
        format!(
            "poddisruptionbudget/{} -n {}: allowed disruptions {} ({spec}; {} healthy, {} \
             needed); selects {}: {} pod(s){}{}",
            self.name,
            self.namespace,
            self.disruptions_allowed,
            self.current_healthy,
            self.desired_healthy,
            if self.selector.is_empty() {
                "every pod"
            } else {
                &self.selector
            },
            self.pods.len(),
            if pods.is_empty() { "" } else { ": " },
            pods.join(", ")
        )
    }
}

/// The budget's name from a 429's cause: "The disruption budget NAME needs ...".
pub fn pdb_from_cause(cause: &str) -> Option<String> {
    cause
        .strip_prefix("The disruption budget ")?
        .split_whitespace()
        .next()
        .map(str::to_string)
}

/// The policy/v1 Eviction for a pod.
pub fn eviction_body(pod: &PodRef, dry_run: bool) -> Value {
    let mut body = json!({
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod.name, "namespace": pod.namespace},
    });
    if dry_run {
        body["deleteOptions"] = json!({"dryRun": ["All"]});
    }
    body
}

/// `6s`, `5m0s`: kubectl's way of printing a duration.
pub fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_names_workloads_left_without_a_ready_replica() {
        let pod = |ns: &str, w: Option<&str>, ready| GuardedPod {
            namespace: ns.into(),
            workload: w.map(Into::into),
            ready,
            protected: false,
        };
        let pods = [
            pod("istio-system", Some("deployment.apps/istiod"), true),
            pod(
                "istio-system",
                Some("deployment.apps/istio-ingressgateway"),
                true,
            ),
            pod("shop", Some("deployment.apps/web"), true),
            // Not ready: evicting it takes nothing that serves.
            pod("shop", Some("deployment.apps/cache"), false),
            pod("default", None, true),
            // Its budget allows no disruption: the budget holds it, not the guard.
            GuardedPod {
                protected: true,
                ..pod("istio-system", Some("deployment.apps/istio-pilot"), true)
            },
        ];
        let elsewhere = |ns: &str, w: &str| match (ns, w) {
            ("istio-system", "deployment.apps/istiod") => Some(0),
            ("istio-system", "deployment.apps/istio-ingressgateway") => None,
            ("shop", "deployment.apps/web") => Some(2),
            _ => Some(0),
        };
        let last = last_replicas(&pods, elsewhere);
        assert_eq!(
            last.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "deployment.apps/istio-ingressgateway -n istio-system (1 ready on this node, none elsewhere)",
                "deployment.apps/istiod -n istio-system (1 ready on this node, none elsewhere)",
            ]
        );
        assert!(last_replica_refusal("n1", &last).contains("--evict-last-replica"));
        assert_eq!(
            workload_of(Some(("ReplicaSet", "istiod-5d9")), |_| Some(
                "istiod".into()
            )),
            Some("deployment.apps/istiod".into())
        );
        assert_eq!(
            workload_of(Some(("ReplicaSet", "orphan-1")), |_| None),
            Some("replicaset.apps/orphan-1".into())
        );
        assert_eq!(workload_of(Some(("DaemonSet", "ztunnel")), |_| None), None);
        assert_eq!(workload_of(None, |_| None), None);
    }

    #[test]
    fn a_budget_says_its_numbers_and_where_its_pods_run() {
        let mut b = BudgetFacts {
            namespace: "logging".into(),
            name: "es".into(),
            disruptions_allowed: 0,
            min_available: None,
            max_unavailable: Some("1".into()),
            current_healthy: 2,
            desired_healthy: 2,
            selector: "app=es".into(),
            pods: vec![("es-0".into(), "n1".into()), ("es-1".into(), String::new())],
        };
        assert_eq!(
            b.describe(),
            "poddisruptionbudget/es -n logging: allowed disruptions 0 (max unavailable 1; 2 \
             healthy, 2 needed); selects app=es: 2 pod(s): es-0 on n1, es-1 (not scheduled)"
        );
        b.pods = (0..7).map(|i| (format!("es-{i}"), "n1".into())).collect();
        assert!(
            b.describe().ends_with("es-4 on n1, 2 more"),
            "{}",
            b.describe()
        );
    }

    fn pod(ns: &str, name: &str, extra: Value) -> Pod {
        let mut v = json!({
            "metadata": {"namespace": ns, "name": name, "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Running"},
        });
        json_patch::merge(&mut v, &extra);
        serde_json::from_value(v).expect("pod")
    }

    fn owned(kind: &str, owner: &str) -> Value {
        json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": "u", "controller": true}]}})
    }

    fn decisions(plan: &DrainPlan) -> Vec<(String, PodDecision)> {
        plan.pods
            .iter()
            .map(|p| (p.pod.name.clone(), p.decision.clone()))
            .collect()
    }

    #[test]
    fn kubectl_rules() {
        let mut emptydir = owned("ReplicaSet", "cache-1");
        emptydir["spec"] = json!({"volumes": [{"name": "tmp", "emptyDir": {}}]});
        let pods = vec![
            pod("shop", "a-web", owned("ReplicaSet", "web-1")),
            pod("kube-system", "b-proxy", owned("DaemonSet", "kube-proxy")),
            pod("kube-system", "c-orphan", owned("DaemonSet", "gone")),
            pod(
                "kube-system",
                "d-mirror",
                json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}}}),
            ),
            pod("shop", "e-cache", emptydir),
            pod("old", "f-job-once", json!({})),
            pod("old", "g-done", json!({"status": {"phase": "Succeeded"}})),
        ];
        let ds = BTreeMap::from([
            (
                ("kube-system".into(), "kube-proxy".into()),
                DaemonSetLookup::Exists,
            ),
            (
                ("kube-system".into(), "gone".into()),
                DaemonSetLookup::NotFound("daemonsets.apps \"gone\" not found".into()),
            ),
        ]);
        let plan = plan_drain(&pods, &DrainOptions::default(), &ds);
        let evict = PodDecision::Evict { warning: None };
        let refuse = |e: &str| PodDecision::Refuse { error: e.into() };
        // Sorted by namespace, then name.
        assert_eq!(
            decisions(&plan),
            vec![
                (
                    "b-proxy".into(),
                    PodDecision::Skip {
                        warning: Some(DAEMONSET_WARNING.into())
                    }
                ),
                (
                    "c-orphan".into(),
                    refuse("daemonsets.apps \"gone\" not found")
                ),
                ("d-mirror".into(), PodDecision::Skip { warning: None }),
                ("f-job-once".into(), refuse(UNMANAGED_FATAL)),
                ("g-done".into(), evict.clone()),
                ("a-web".into(), evict.clone()),
                ("e-cache".into(), refuse(LOCAL_STORAGE_FATAL)),
            ]
        );
        assert_eq!(
            describe_groups(&plan.errors()),
            "daemonsets.apps \"gone\" not found: kube-system/c-orphan; \
             cannot delete Pods that declare no controller (use --force to override): old/f-job-once; \
             cannot delete Pods with local storage (use --delete-emptydir-data to override): shop/e-cache"
        );

        let consent = DrainOptions {
            force: true,
            delete_emptydir_data: true,
            ..DrainOptions::default()
        };
        let plan = plan_drain(&pods, &consent, &ds);
        assert!(plan.errors().is_empty(), "{:?}", plan.errors());
        let names: Vec<&str> = plan
            .to_evict()
            .iter()
            .map(|p| p.pod.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["c-orphan", "f-job-once", "g-done", "a-web", "e-cache"]
        );
        assert_eq!(
            describe_groups(&plan.warnings()),
            "ignoring DaemonSet-managed Pods: kube-system/b-proxy; \
             daemonsets.apps \"gone\" not found: kube-system/c-orphan; \
             deleting Pods that declare no controller: old/f-job-once; \
             deleting Pods with local storage: shop/e-cache"
        );
    }

    #[test]
    fn eviction_and_refusal_words() {
        let p = PodRef {
            namespace: "istio-system".into(),
            name: "istio-pilot-x".into(),
        };
        assert_eq!(
            eviction_body(&p, true),
            json!({"apiVersion": "policy/v1", "kind": "Eviction",
                   "metadata": {"name": "istio-pilot-x", "namespace": "istio-system"},
                   "deleteOptions": {"dryRun": ["All"]}})
        );
        assert_eq!(
            pdb_from_cause(
                "The disruption budget istio-pilot needs 1 healthy pods and has 1 currently"
            )
            .as_deref(),
            Some("istio-pilot")
        );
        assert_eq!(pdb_from_cause("something else"), None);
        assert_eq!(humantime(Duration::from_secs(6)), "6s");
        assert_eq!(humantime(Duration::from_secs(300)), "5m0s");
    }
}
