//! A rolling node upgrade as data: the nodes in order, and for each the steps (cordon, make
//! room for what the drain would leave without a ready replica, drain, wait for the new
//! kubelet or the user, restart the node's ztunnel, uncordon); which budgets are relaxed for
//! the whole plan and which workloads are scaled up instead; the preview from the model; the
//! events and the words of where a stopped plan stands. Pure: `cluster::actions::upgrade`
//! carries it out.

use std::fmt;

use crate::model::facts::PdbRow;
use crate::model::summary::{IntOrPercent, WorkloadKind};
use crate::model::{Model, PodSummary};

use super::outcome::count;
use super::plan::{PlanLine, last_replicas_in};

/// Pods listed by name per node in a preview before the rest are counted.
const LISTED_PODS: usize = 8;

/// The step of a node's turn, as a stopped plan names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeStep {
    Cordon,
    ScaleUp,
    Relax,
    Drain,
    WaitKubelet,
    WaitContinue,
    RestartZtunnel,
    Uncordon,
    Restore,
}

impl fmt::Display for UpgradeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpgradeStep::Cordon => "cordon",
            UpgradeStep::ScaleUp => "scale up",
            UpgradeStep::Relax => "relax budgets",
            UpgradeStep::Drain => "drain",
            UpgradeStep::WaitKubelet => "wait for the new kubelet",
            UpgradeStep::WaitContinue => "wait for continue",
            UpgradeStep::RestartZtunnel => "restart ztunnel",
            UpgradeStep::Uncordon => "uncordon",
            UpgradeStep::Restore => "restore",
        })
    }
}

/// A workload scaled up for the plan: `replicas` is what it had, `to` what it has now.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scaled {
    pub namespace: String,
    /// `deployment.apps/istiod`.
    pub workload: String,
    pub replicas: u32,
    pub to: u32,
}

impl fmt::Display for Scaled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -n {} ({} → {})",
            self.workload, self.namespace, self.replicas, self.to
        )
    }
}

/// A budget in the way of a node's drain, as the plan judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetInWay {
    pub namespace: String,
    pub name: String,
    /// `minAvailable` when it is a number.
    pub min_available: Option<i32>,
    pub allowed: i32,
    /// It carries a saved spec already (relaxed by the plan, or before it).
    pub relaxed: bool,
    /// The workloads of the pods it selects on the node.
    pub workloads: Vec<String>,
}

/// What the plan does about a budget in a node's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relief {
    /// It allows the drain's evictions already.
    NotInTheWay,
    /// Relaxed before (by this plan or someone): left as it is.
    AlreadyRelaxed,
    /// The workloads it selects are scaled up: with the new replicas it allows the
    /// evictions and keeps protecting them.
    Scaled,
    /// Relaxed for the rest of the plan, restored after its last node.
    Relax,
}

/// A budget with a numeric `minAvailable` over one Deployment or StatefulSet that has at least
/// that many replicas is better served by one more replica than by relaxing it.
pub fn scale_instead(b: &BudgetInWay, replicas: impl Fn(&str, &str) -> Option<u32>) -> bool {
    let ([workload], Some(min)) = (b.workloads.as_slice(), b.min_available) else {
        return false;
    };
    let scalable =
        workload.starts_with("deployment.apps/") || workload.starts_with("statefulset.apps/");
    scalable
        && replicas(&b.namespace, workload).is_some_and(|r| i64::from(r) >= i64::from(min) && r > 0)
}

/// The rule for one budget, given the workloads scaled up for this node.
pub fn relief(b: &BudgetInWay, scaled: &[Scaled]) -> Relief {
    if b.allowed > 0 {
        return Relief::NotInTheWay;
    }
    if b.relaxed {
        return Relief::AlreadyRelaxed;
    }
    let covered = !b.workloads.is_empty()
        && b.workloads.iter().all(|w| {
            scaled.iter().any(|s| {
                s.namespace == b.namespace
                    && &s.workload == w
                    && b.min_available
                        .is_some_and(|m| i64::from(s.replicas) >= i64::from(m))
            })
        });
    if covered {
        Relief::Scaled
    } else {
        Relief::Relax
    }
}

/// What the plan did so far, to say where it stands when it stops.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpgradeStand {
    /// The node whose turn it is, and its step.
    pub at: Option<(String, UpgradeStep)>,
    /// Nodes done (uncordoned).
    pub done: Vec<String>,
    /// Nodes the plan cordoned and has not uncordoned.
    pub cordoned: Vec<String>,
    /// Budgets relaxed by the plan and not yet restored (`namespace/name`).
    pub relaxed: Vec<String>,
    /// Workloads scaled up by the plan and not yet scaled back.
    pub scaled: Vec<Scaled>,
}

impl UpgradeStand {
    /// `stopped at node/k1-node03 (drain); done: k1-node01, k1-node02; cordoned: k1-node03;
    /// relaxed: istio-system/istio-pilot; scaled up: …`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some((node, step)) = &self.at {
            parts.push(format!("stopped at node/{node} ({step})"));
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        parts.push(format!("upgraded: {}", list(&self.done)));
        parts.push(format!("still cordoned: {}", list(&self.cordoned)));
        if !self.relaxed.is_empty() {
            parts.push(format!(
                "still relaxed: {} (meshtop pdb restore NAMESPACE/NAME puts each back)",
                self.relaxed.join(", ")
            ));
        }
        if !self.scaled.is_empty() {
            let s: Vec<String> = self.scaled.iter().map(ToString::to_string).collect();
            parts.push(format!("still scaled up: {}", s.join(", ")));
        }
        parts.join("; ")
    }
}

/// What a rolling upgrade reports as it goes (a drain's own events come as drain events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeEvent {
    /// A node's turn starts: `index` counts from 1.
    NodeStarted {
        node: String,
        index: usize,
        total: usize,
    },
    Cordoned {
        node: String,
        already: bool,
    },
    /// Scaled up so that a replacement is ready elsewhere before the node's replicas go.
    ScaledUp(Scaled),
    /// The scaled workload has a ready replica off the node.
    ReplacementReady {
        namespace: String,
        workload: String,
    },
    Relaxed {
        namespace: String,
        name: String,
    },
    /// The budget allows the evictions with the workload's new replicas.
    KeptBudget {
        namespace: String,
        name: String,
    },
    WaitingKubelet {
        node: String,
        version: String,
        current: String,
    },
    KubeletUpgraded {
        node: String,
        version: String,
    },
    WaitingContinue {
        node: String,
    },
    Continued {
        node: String,
    },
    ZtunnelDeleted {
        node: String,
        pod: String,
    },
    ZtunnelReady {
        node: String,
        pod: String,
    },
    Uncordoned {
        node: String,
    },
    NodeDone {
        node: String,
        index: usize,
        total: usize,
    },
    Restored {
        namespace: String,
        name: String,
    },
    ScaledBack(Scaled),
    /// What could not be put back at the end (the plan goes on putting back the rest).
    NotRestored {
        what: String,
        why: String,
    },
}

impl UpgradeEvent {
    /// The event's line, kubectl-style; `warning` lines go to stderr.
    pub fn line(&self, suffix: &str) -> (String, bool) {
        let out = |s: String| (s, false);
        match self {
            UpgradeEvent::NodeStarted { node, index, total } => {
                out(format!("node/{node}: upgrade {index} of {total}"))
            }
            UpgradeEvent::Cordoned { node, already } => out(if *already {
                format!("node/{node} already cordoned{suffix}")
            } else {
                format!("node/{node} cordoned{suffix}")
            }),
            UpgradeEvent::ScaledUp(s) => out(format!(
                "{} -n {} scaled from {} to {}{suffix}",
                s.workload, s.namespace, s.replicas, s.to
            )),
            UpgradeEvent::ReplacementReady {
                namespace,
                workload,
            } => out(format!(
                "{workload} -n {namespace} has a ready replica on another node"
            )),
            UpgradeEvent::Relaxed { namespace, name } => out(format!(
                "poddisruptionbudget/{name} -n {namespace} relaxed for the upgrade{suffix}"
            )),
            UpgradeEvent::KeptBudget { namespace, name } => out(format!(
                "poddisruptionbudget/{name} -n {namespace} kept: it allows the evictions with one more replica"
            )),
            UpgradeEvent::WaitingKubelet {
                node,
                version,
                current,
            } => out(format!(
                "Waiting for node/{node} to run kubelet {version} (now {current})..."
            )),
            UpgradeEvent::KubeletUpgraded { node, version } => {
                out(format!("node/{node} runs kubelet {version}"))
            }
            UpgradeEvent::WaitingContinue { node } => out(format!(
                "node/{node} is drained: upgrade it, then press continue"
            )),
            UpgradeEvent::Continued { node } => out(format!("node/{node}: continued")),
            UpgradeEvent::ZtunnelDeleted { node, pod } => out(format!(
                "pod/{pod} deleted{suffix}: ztunnel of node/{node} restarts"
            )),
            UpgradeEvent::ZtunnelReady { node, pod } => {
                out(format!("ztunnel pod/{pod} on node/{node} is Ready"))
            }
            UpgradeEvent::Uncordoned { node } => out(format!("node/{node} uncordoned{suffix}")),
            UpgradeEvent::NodeDone { node, index, total } => {
                out(format!("node/{node} upgraded ({index} of {total})"))
            }
            UpgradeEvent::Restored { namespace, name } => out(format!(
                "poddisruptionbudget/{name} -n {namespace} restored{suffix}"
            )),
            UpgradeEvent::ScaledBack(s) => out(format!(
                "{} -n {} scaled back from {} to {}{suffix}",
                s.workload, s.namespace, s.to, s.replicas
            )),
            UpgradeEvent::NotRestored { what, why } => {
                (format!("error: {what} was not put back: {why}"), true)
            }
        }
    }
}

/// The workload a pod counts for in the model (a ReplicaSet's Deployment).
fn workload_in_model(model: &Model, p: &PodSummary) -> Option<String> {
    let controller = p.owner.as_ref().map(|o| (o.kind.as_ref(), o.name.as_ref()));
    super::drain::workload_of(controller, |rs| {
        model
            .workload(WorkloadKind::ReplicaSet, &p.namespace, rs)
            .and_then(|w| w.owner.as_ref())
            .filter(|o| o.kind.as_ref() == "Deployment")
            .map(|o| o.name.to_string())
    })
}

/// A workload's desired replicas in the model.
fn replicas_in_model(model: &Model, namespace: &str, workload: &str) -> Option<u32> {
    let (kind, name) = workload.split_once('/')?;
    let kind = match kind {
        "deployment.apps" => WorkloadKind::Deployment,
        "statefulset.apps" => WorkloadKind::StatefulSet,
        _ => return None,
    };
    model.workload(kind, namespace, name).map(|w| w.desired)
}

/// The budgets of the model in the way of `node`'s drain now.
fn budgets_in_way(model: &Model, rows: &[PdbRow], node: &str) -> Vec<BudgetInWay> {
    rows.iter()
        .filter(|b| b.blocks_nodes.iter().any(|n| n.as_ref() == node))
        .map(|b| {
            let mut workloads: Vec<String> = b
                .pods
                .iter()
                .filter(|s| s.node.as_ref().is_some_and(|n| n.as_ref() == node))
                .filter_map(|s| {
                    model
                        .pods_on_node(node)
                        .into_iter()
                        .find(|p| p.namespace == b.namespace && p.name == s.name)
                        .and_then(|p| workload_in_model(model, &p))
                })
                .collect();
            workloads.sort();
            workloads.dedup();
            BudgetInWay {
                namespace: b.namespace.to_string(),
                name: b.name.to_string(),
                min_available: match b.min_available {
                    Some(IntOrPercent::Int(m)) => Some(m),
                    _ => None,
                },
                allowed: b.allowed_disruptions,
                relaxed: b.relaxed,
                workloads,
            }
        })
        .collect()
}

/// Whether a workload is part of the mesh's control or data path people notice at once.
fn mesh_critical(namespace: &str, workload: &str, model: &Model) -> bool {
    let name = workload.rsplit('/').next().unwrap_or(workload);
    name.starts_with("istiod")
        || name == "istio-pilot"
        || model
            .gateways()
            .iter()
            .any(|g| g.namespace.as_ref() == namespace && g.name.as_ref() == name)
}

/// The preview of a rolling upgrade over `nodes`, from the model as it is now. Each node is
/// read again when its turn comes: pods evicted earlier land on other nodes.
pub fn preview(
    model: &Model,
    nodes: &[String],
    wait_kubelet: Option<&str>,
    pause: bool,
    delete_emptydir_data: bool,
) -> Vec<PlanLine> {
    let mut out = vec![PlanLine::plain(format!(
        "upgrade {} one at a time: cordon, drain (mesh guard on), {}, restart ztunnel where one runs, uncordon",
        count(nodes.len(), "node"),
        match (wait_kubelet, pause) {
            (Some(v), _) => format!("wait until its kubelet runs {v}"),
            (None, true) => "wait for continue (C) while you upgrade it".to_string(),
            (None, false) => "no wait".to_string(),
        }
    ))];
    out.push(PlanLine::dim(
        "as the cluster is now; each node is read again when its turn comes",
    ));
    let rows = model.disruption();
    let mut relaxed_total: Vec<String> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(n) = model.node(node) else {
            out.push(PlanLine::bad(format!("node/{node} is not in the cluster")));
            continue;
        };
        out.push(PlanLine::title(format!(
            "{}. node/{node}  kubelet {}{}",
            i + 1,
            n.kubelet_version,
            if n.unschedulable { "  (cordoned)" } else { "" }
        )));
        let evict = model.pods_to_evict(node);
        let names: Vec<String> = evict
            .iter()
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        if names.is_empty() {
            out.push(PlanLine::dim("   no pod to evict"));
        } else {
            let shown: Vec<String> = names.iter().take(LISTED_PODS).cloned().collect();
            let more = names.len().saturating_sub(LISTED_PODS);
            out.push(PlanLine::plain(format!(
                "   evict {}: {}{}",
                count(names.len(), "pod"),
                shown.join(", "),
                if more > 0 {
                    format!(", {more} more")
                } else {
                    String::new()
                }
            )));
        }
        let empty_dir: Vec<String> = evict
            .iter()
            .filter(|p| p.has_empty_dir && !p.phase.finished())
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        if !empty_dir.is_empty() {
            out.push(if delete_emptydir_data {
                PlanLine::warn(format!(
                    "   emptyDir data is lost: {}",
                    empty_dir.join(", ")
                ))
            } else {
                PlanLine::bad(format!(
                    "   refused unless you allow deleting emptyDir data: {}",
                    empty_dir.join(", ")
                ))
            });
        }
        // The guard's view with every budget set aside: what would be left without a ready
        // replica once its budget lets go.
        let last = last_replicas_in(model, &[], node, &evict);
        let budgets = budgets_in_way(model, &rows, node);
        let replicas = |ns: &str, w: &str| replicas_in_model(model, ns, w);
        let mut scaled: Vec<Scaled> = last
            .iter()
            .filter_map(|l| {
                let r = replicas(&l.namespace, &l.workload)?;
                Some(Scaled {
                    namespace: l.namespace.clone(),
                    workload: l.workload.clone(),
                    replicas: r,
                    to: r + l.evicted,
                })
            })
            .collect();
        for b in budgets.iter().filter(|b| scale_instead(b, replicas)) {
            for w in &b.workloads {
                if scaled
                    .iter()
                    .any(|s| &s.workload == w && s.namespace == b.namespace)
                {
                    continue;
                }
                if let Some(r) = replicas(&b.namespace, w) {
                    let here = evict
                        .iter()
                        .filter(|p| p.namespace.as_ref() == b.namespace)
                        .filter(|p| workload_in_model(model, p).as_deref() == Some(w.as_str()))
                        .count();
                    let here = u32::try_from(here).unwrap_or(1).max(1);
                    scaled.push(Scaled {
                        namespace: b.namespace.clone(),
                        workload: w.clone(),
                        replicas: r,
                        to: r + here,
                    });
                }
            }
        }
        for l in &last {
            let critical = mesh_critical(&l.namespace, &l.workload, model);
            let who = if critical { "the mesh's " } else { "" };
            match scaled.iter().find(|s| s.workload == l.workload && s.namespace == l.namespace) {
                Some(s) => out.push(PlanLine::warn(format!(
                    "   {who}last ready replica here: scale {s} for the plan, evict once the new one is Ready elsewhere"
                ))),
                None => out.push(PlanLine::bad(format!(
                    "   {who}last ready replica here: {} -n {} cannot be scaled: the drain is refused",
                    l.workload, l.namespace
                ))),
            }
        }
        for b in &budgets {
            match relief(b, &scaled) {
                Relief::NotInTheWay => {}
                Relief::AlreadyRelaxed => out.push(PlanLine::dim(format!(
                    "   PDB {}/{} is relaxed already: left as it is",
                    b.namespace, b.name
                ))),
                Relief::Scaled => {
                    if let Some(s) = scaled.iter().find(|s| b.workloads.contains(&s.workload)) {
                        if !last.iter().any(|l| l.workload == s.workload) {
                            out.push(PlanLine::good(format!(
                                "   PDB {}/{} blocks: scale {s} for the plan instead of relaxing it",
                                b.namespace, b.name
                            )));
                        } else {
                            out.push(PlanLine::good(format!(
                                "   PDB {}/{} blocks: kept, it allows the eviction once scaled",
                                b.namespace, b.name
                            )));
                        }
                    }
                }
                Relief::Relax => {
                    let name = format!("{}/{}", b.namespace, b.name);
                    out.push(PlanLine::warn(format!(
                        "   PDB {name} blocks: relaxed for the plan (its spec saved on it), restored after the last node"
                    )));
                    if !relaxed_total.contains(&name) {
                        relaxed_total.push(name);
                    }
                }
            }
        }
        let ztunnels: Vec<PodSummary> = model
            .pods_on_node(node)
            .into_iter()
            .filter(|p| p.labels.get("app").is_some_and(|a| a.as_ref() == "ztunnel"))
            .collect();
        for z in ztunnels {
            out.push(PlanLine::plain(format!(
                "   restart ztunnel {}/{} (deleted; its DaemonSet makes a new one) and wait for it Ready",
                z.namespace, z.name
            )));
        }
    }
    out.push(PlanLine::plain(""));
    out.push(PlanLine::plain(if relaxed_total.is_empty() {
        "no budget is relaxed now; one that blocks a node when its turn comes is relaxed then and restored at the end".to_string()
    } else {
        format!(
            "relaxed for the plan: {}; restored at the end, or when you abort",
            relaxed_total.join(", ")
        )
    }));
    out.push(PlanLine::dim(
        "scaled workloads go back to their replicas at the end; the plan stops at the first failure and says where it stands",
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(min: Option<i32>, allowed: i32, workloads: &[&str]) -> BudgetInWay {
        BudgetInWay {
            namespace: "istio-system".into(),
            name: "istio-pilot".into(),
            min_available: min,
            allowed,
            relaxed: false,
            workloads: workloads.iter().map(|w| w.to_string()).collect(),
        }
    }

    #[test]
    fn one_replica_under_min_available_one_is_scaled_not_relaxed() {
        let pilot = budget(Some(1), 0, &["deployment.apps/istio-pilot"]);
        assert!(scale_instead(&pilot, |_, _| Some(1)));
        let scaled = [Scaled {
            namespace: "istio-system".into(),
            workload: "deployment.apps/istio-pilot".into(),
            replicas: 1,
            to: 2,
        }];
        assert_eq!(relief(&pilot, &scaled), Relief::Scaled);
        assert_eq!(relief(&pilot, &[]), Relief::Relax);
        // Two workloads behind one budget, a percentage, or fewer replicas than it needs:
        // relaxed.
        assert!(!scale_instead(
            &budget(Some(1), 0, &["deployment.apps/a", "deployment.apps/b"]),
            |_, _| Some(1)
        ));
        assert!(!scale_instead(
            &budget(None, 0, &["deployment.apps/a"]),
            |_, _| Some(1)
        ));
        assert!(!scale_instead(
            &budget(Some(3), 0, &["deployment.apps/a"]),
            |_, _| Some(2)
        ));
        assert!(!scale_instead(
            &budget(Some(1), 0, &["replicaset.apps/a"]),
            |_, _| Some(1)
        ));
        let mut relaxed = budget(Some(1), 0, &[]);
        relaxed.relaxed = true;
        assert_eq!(relief(&relaxed, &[]), Relief::AlreadyRelaxed);
        assert_eq!(relief(&budget(Some(1), 1, &[]), &[]), Relief::NotInTheWay);
    }

    #[test]
    fn a_stopped_plan_says_where_it_stands() {
        let stand = UpgradeStand {
            at: Some(("k1-node03".into(), UpgradeStep::Drain)),
            done: vec!["k1-node01".into(), "k1-node02".into()],
            cordoned: vec!["k1-node03".into()],
            relaxed: vec!["logging/es".into()],
            scaled: vec![Scaled {
                namespace: "istio-system".into(),
                workload: "deployment.apps/istio-pilot".into(),
                replicas: 1,
                to: 2,
            }],
        };
        assert_eq!(
            stand.describe(),
            "stopped at node/k1-node03 (drain); upgraded: k1-node01, k1-node02; still cordoned: \
             k1-node03; still relaxed: logging/es (meshtop pdb restore NAMESPACE/NAME puts each \
             back); still scaled up: deployment.apps/istio-pilot -n istio-system (1 → 2)"
        );
        assert_eq!(
            UpgradeStand::default().describe(),
            "upgraded: none; still cordoned: none"
        );
    }
}
