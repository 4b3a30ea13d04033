//! What an action will do, as data, from the model as it is now: the lines its preview
//! shows (each with a tone the UI colours), the pods and budgets involved, and the
//! arithmetic of PodDisruptionBudgets. The TUI's dialog formats a [`Plan`]; it computes
//! nothing itself.

use crate::model::summary::{WorkloadKind, budget};
use crate::model::sync::SyncState;
use crate::model::{Model, PodSummary};

use super::Request;
use super::drain::{GuardedPod, LastReplica, last_replicas, workload_of};
use super::outcome::count;

/// Pods listed by name in a preview before the rest are counted.
const LISTED_PODS: usize = 12;

/// How a piece of text reads (a part of a plan's line, a table's cell): the UI picks the
/// colour from its theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Dim,
    Good,
    Warn,
    Bad,
    Title,
    /// A finding's severity.
    Error,
    Warning,
    Info,
    /// A proxy's xDS state.
    Sync(SyncState),
    /// A proxy whose state is not known.
    SyncUnknown,
}

/// One line of a plan, in parts of different tones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    pub spans: Vec<(String, Tone)>,
}

impl PlanLine {
    pub fn toned(text: impl Into<String>, tone: Tone) -> Self {
        PlanLine {
            spans: vec![(text.into(), tone)],
        }
    }
    pub fn plain(text: impl Into<String>) -> Self {
        Self::toned(text, Tone::Plain)
    }
    pub fn dim(text: impl Into<String>) -> Self {
        Self::toned(text, Tone::Dim)
    }
    pub fn good(text: impl Into<String>) -> Self {
        Self::toned(text, Tone::Good)
    }
    pub fn warn(text: impl Into<String>) -> Self {
        Self::toned(text, Tone::Warn)
    }
    pub fn bad(text: impl Into<String>) -> Self {
        Self::toned(text, Tone::Bad)
    }
    pub fn title(text: impl Into<String>) -> Self {
        Self::toned(text, Tone::Title)
    }

    /// The line's text without its tones.
    pub fn text(&self) -> String {
        self.spans.iter().map(|(s, _)| s.as_str()).collect()
    }
}

/// What an action will do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub lines: Vec<PlanLine>,
}

fn finished(p: &PodSummary) -> bool {
    p.phase.finished()
}

fn pod_name(p: &PodSummary) -> String {
    format!("{}/{}", p.namespace, p.name)
}

/// What the action will change, from the model as it is now.
pub fn plan(request: &Request, model: &Model) -> Plan {
    let mut out = Vec::new();
    match request {
        Request::Install(r) => {
            let Some(planned) = &r.planned else {
                return Plan { lines: out };
            };
            for line in planned.plan.preview() {
                let tone = if line.starts_with("note: ") {
                    Tone::Warn
                } else if line.starts_with("operator: ") {
                    Tone::Dim
                } else {
                    Tone::Plain
                };
                out.push(PlanLine::toned(line, tone));
            }
            if planned.edited {
                out.push(PlanLine::good(if planned.plan.helm().is_some() {
                    "the values are as edited in $EDITOR".to_string()
                } else {
                    format!(
                        "{} is as edited in $EDITOR (checked again against the cluster)",
                        planned.plan.document_words()
                    )
                }));
            }
            // The document itself, exactly as it will be applied, given to helm or saved.
            out.push(PlanLine::plain(""));
            out.push(PlanLine::title(planned.plan.document_title()));
            for line in planned.plan.document_yaml().lines() {
                out.push(PlanLine::plain(format!("  {line}")));
            }
        }
        Request::UpgradeNodes {
            nodes,
            wait_kubelet,
            pause,
            delete_emptydir_data,
        } => {
            out.extend(super::upgrade::preview(
                model,
                nodes,
                wait_kubelet.as_deref(),
                *pause,
                *delete_emptydir_data,
            ));
        }
        Request::Scale { workload, replicas } => {
            if let Some(n) = replicas {
                out.extend(super::workload::scale_plan(model, workload, *n));
            }
        }
        Request::Restart { workload, wait } => {
            out.extend(super::workload::restart_plan(model, workload, *wait));
        }
        Request::Uninstall {
            revision, legacy, ..
        } => out.extend(super::uninstall::plan(model, revision, *legacy)),
        Request::Ambient {
            namespace,
            waypoint,
            restart,
        } => out.extend(super::ambient::plan(
            model,
            namespace,
            waypoint.as_deref(),
            *restart,
        )),
        Request::TagSet {
            tag,
            revision,
            overwrite,
            restart,
        } => {
            if !tag.is_empty() {
                out.extend(super::tag::plan(model, tag, revision, *overwrite, *restart));
            }
        }
        Request::Drain {
            node,
            delete_emptydir_data,
            force,
            evict_last_replica,
        } => {
            let Some(n) = model.node(node) else {
                out.push(PlanLine::bad(format!("node/{node} is not in the cluster")));
                return Plan { lines: out };
            };
            out.push(PlanLine::plain(if n.unschedulable {
                format!("node/{node} is already cordoned; evict its pods (policy/v1 Eviction):")
            } else {
                format!("cordon node/{node}, then evict its pods (policy/v1 Eviction):")
            }));
            let evict = model.pods_to_evict(node);
            // Built once: the budgets in the drain's way and the mesh guard both read them.
            let budgets = model.disruption();
            let blocking: Vec<_> = budgets
                .iter()
                .filter(|p| p.blocks_nodes.iter().any(|b| b.as_ref() == node.as_str()))
                .collect();
            let blocked_pod = |p: &PodSummary| {
                blocking
                    .iter()
                    .find(|b| b.namespace == p.namespace && b.pods.iter().any(|s| s.name == p.name))
            };
            for p in evict.iter().take(LISTED_PODS) {
                let mut spans = vec![(format!("  {}", pod_name(p)), Tone::Plain)];
                if let Some(b) = blocked_pod(p) {
                    spans.push((format!("  refused now by PDB {}", b.name), Tone::Warn));
                }
                if p.has_empty_dir && !finished(p) {
                    spans.push(("  emptyDir".into(), Tone::Dim));
                }
                if p.owner.is_none() && !finished(p) {
                    spans.push(("  no controller".into(), Tone::Dim));
                }
                out.push(PlanLine { spans });
            }
            if evict.len() > LISTED_PODS {
                out.push(PlanLine::dim(format!(
                    "  … and {} more",
                    evict.len() - LISTED_PODS
                )));
            }
            if evict.is_empty() {
                out.push(PlanLine::dim("  no pod to evict"));
            }
            let skipped: Vec<String> = model
                .pods_on_node(node)
                .into_iter()
                .filter(|p| {
                    !evict
                        .iter()
                        .any(|e| e.namespace == p.namespace && e.name == p.name)
                })
                .map(|p| pod_name(&p))
                .collect();
            if !skipped.is_empty() {
                out.push(PlanLine::dim(format!(
                    "stay (DaemonSet and mirror pods): {}",
                    list_some(&skipped, LISTED_PODS)
                )));
            }
            let empty_dir: Vec<String> = evict
                .iter()
                .filter(|p| p.has_empty_dir && !finished(p))
                .map(pod_name)
                .collect();
            if !empty_dir.is_empty() && !delete_emptydir_data {
                out.push(PlanLine::bad(format!(
                    "refused unless you allow deleting emptyDir data: {}",
                    list_some(&empty_dir, LISTED_PODS)
                )));
            }
            let unmanaged: Vec<String> = evict
                .iter()
                .filter(|p| p.owner.is_none() && !finished(p))
                .map(pod_name)
                .collect();
            if !unmanaged.is_empty() && !force {
                out.push(PlanLine::bad(format!(
                    "refused unless forced (no controller recreates them): {}",
                    list_some(&unmanaged, LISTED_PODS)
                )));
            }
            for b in &blocking {
                let nodes: Vec<String> = b
                    .pods
                    .iter()
                    .filter_map(|p| p.node.as_ref().map(ToString::to_string))
                    .collect();
                out.push(PlanLine::warn(format!(
                    "blocked now: PDB {}/{} allows {} (min available {}, max unavailable {}); \
                         it selects {}, on {}. The drain retries every 5s until it allows one \
                         (relax it in the Disruption view).",
                    b.namespace,
                    b.name,
                    count(
                        usize::try_from(b.allowed_disruptions.max(0)).unwrap_or(0),
                        "disruption"
                    ),
                    budget(&b.min_available),
                    budget(&b.max_unavailable),
                    count(b.pods.len(), "pod"),
                    list_some(&dedup(nodes), 6)
                )));
            }
            let last = last_replicas_in(model, &budgets, node, &evict);
            if !last.is_empty() {
                let names: Vec<String> = last.iter().map(ToString::to_string).collect();
                if *evict_last_replica {
                    out.push(PlanLine::warn(format!(
                        "evicts the last ready replica of {} (allowed: L)",
                        names.join("; ")
                    )));
                } else {
                    out.push(PlanLine::bad(format!(
                        "refused: it would evict the last ready replica of {}; scale it up or \
                         let it reschedule first, or allow it with L",
                        names.join("; ")
                    )));
                }
            }
        }
        Request::Cordon { node } | Request::Uncordon { node } => {
            let to = matches!(request, Request::Cordon { .. });
            match model.node(node) {
                Some(n) => {
                    out.push(PlanLine::plain(format!(
                        "node/{node}: spec.unschedulable {} → {to}",
                        n.unschedulable
                    )));
                    if n.unschedulable == to {
                        out.push(PlanLine::dim("it already is: nothing changes"));
                    } else if to {
                        out.push(PlanLine::dim(
                            "new pods are not scheduled there; running pods stay",
                        ));
                    }
                }
                None => out.push(PlanLine::bad(format!("node/{node} is not in the cluster"))),
            }
        }
        Request::LabelNode { node, change } => {
            let current = model.node(node).map(|n| &n.labels);
            let (key, value) = match change.strip_suffix('-') {
                Some(k) => (k, None),
                None => match change.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (change.as_str(), Some("")),
                },
            };
            let old = current.and_then(|l| l.get(key)).map(|v| v.to_string());
            out.push(PlanLine::plain(format!(
                "node/{node}: label {key}: {} → {}",
                old.as_deref().unwrap_or("(none)"),
                value.unwrap_or("(removed)")
            )));
            if old.as_deref() == value {
                out.push(PlanLine::dim("it already is: nothing changes"));
            }
        }
        Request::LabelNamespace {
            namespace,
            revision,
            restart,
            ..
        } => {
            let labels = model.namespace(namespace).map(|n| &n.labels);
            let get = |k: &str| labels.and_then(|l| l.get(k)).map(|v| v.to_string());
            out.push(PlanLine::plain(format!(
                "namespace/{namespace}: label istio.io/rev: {} → {revision}",
                get("istio.io/rev").as_deref().unwrap_or("(none)")
            )));
            if let Some(inj) = get("istio-injection") {
                out.push(PlanLine::plain(format!(
                    "namespace/{namespace}: label istio-injection: {inj} → (removed: it would win over istio.io/rev)"
                )));
            }
            if get(crate::model::labels::keys::DATAPLANE_MODE).as_deref() == Some("ambient") {
                out.push(PlanLine::plain(format!(
                    "namespace/{namespace}: label istio.io/dataplane-mode: ambient → (removed: \
                     it leaves ambient mode; ztunnel leaves pods with a sidecar alone)"
                )));
            }
            if let Some(consent) = request.consent(model) {
                out.push(PlanLine::bad(consent.why));
            }
            // What the restart touches: every workload of the namespace's pods (the
            // executor restarts each Deployment, StatefulSet and DaemonSet there).
            let workloads = namespace_workloads(model, namespace, None);
            if *restart {
                if workloads.is_empty() {
                    out.push(PlanLine::dim("rollout restart: no workload has pods here"));
                } else {
                    out.push(PlanLine::plain(
                        "then rollout restart (kubectl.kubernetes.io/restartedAt), waiting for each:",
                    ));
                    for (w, revs) in workloads.iter().take(LISTED_PODS) {
                        out.push(PlanLine::plain(format!("  {w}  ({})", describe_pods(revs))));
                    }
                    if workloads.len() > LISTED_PODS {
                        out.push(PlanLine::dim(format!(
                            "  … and {} more",
                            workloads.len() - LISTED_PODS
                        )));
                    }
                }
            } else if !workloads.is_empty() {
                out.push(PlanLine::dim(format!(
                        "running pods keep their proxies until restarted: {} workloads (t adds the restart)",
                        workloads.len()
                    )));
            }
        }
        Request::PdbRelax { namespace, name }
        | Request::PdbRestore {
            namespace, name, ..
        } => {
            let relax = matches!(request, Request::PdbRelax { .. });
            let force = matches!(request, Request::PdbRestore { force: true, .. });
            let row = model.disruption().into_iter().find(|p| {
                p.namespace.as_ref() == namespace.as_str() && p.name.as_ref() == name.as_str()
            });
            match (row, model.pdb(namespace, name)) {
                (Some(row), Some(pdb)) => {
                    out.push(PlanLine::plain(format!(
                        "poddisruptionbudget/{name} -n {namespace}: min available {}, max unavailable {}, allowed disruptions {}",
                        budget(&row.min_available),
                        budget(&row.max_unavailable),
                        row.allowed_disruptions
                    )));
                    if relax {
                        let to = if row.max_unavailable.is_some() {
                            "maxUnavailable 100%"
                        } else {
                            "minAvailable 0"
                        };
                        out.push(PlanLine::plain(format!(
                            "→ {to}: every pod it selects may be evicted; the current spec is kept in \
                             the annotation meshtop.dev/relaxed-from until U restores it"
                        )));
                        if !row.blocks_nodes.is_empty() {
                            out.push(PlanLine::good(format!(
                                "unblocks the drains of {}",
                                list_some(
                                    &row.blocks_nodes
                                        .iter()
                                        .map(ToString::to_string)
                                        .collect::<Vec<_>>(),
                                    8
                                )
                            )));
                        }
                    } else {
                        match &pdb.relaxed_from {
                            Some(saved) => {
                                out.push(PlanLine::plain(format!(
                                    "→ the saved spec {saved}; the annotations meshtop.dev/relaxed-from and meshtop.dev/relaxed-to are removed"
                                )));
                                out.extend(restore_conflict(saved, pdb, force));
                                if let Some(line) = restore_blocks(saved, &row) {
                                    out.push(PlanLine::warn(line));
                                }
                            }
                            None => out.push(PlanLine::bad(
                                "not relaxed by meshtop: there is no saved spec to restore",
                            )),
                        }
                    }
                }
                _ => out.push(PlanLine::bad(format!(
                    "poddisruptionbudget/{name} -n {namespace} is not in the cluster"
                ))),
            }
        }
    }
    Plan { lines: out }
}

/// The workloads of a namespace's pods (`deployment.apps/NAME`), each with what its pods
/// run (`on 1-29-2`, `no proxy`), sorted; with `not_on`, only the pods not on that revision.
pub fn namespace_workloads(
    model: &Model,
    namespace: &str,
    not_on: Option<&str>,
) -> Vec<(String, Vec<String>)> {
    let mut workloads: Vec<(String, Vec<String>)> = Vec::new();
    for p in model.pods_in_namespace(namespace) {
        if not_on.is_some() && p.injected_revision.as_deref() == not_on {
            continue;
        }
        let Some(owner) = &p.owner else { continue };
        let workload = match owner.kind.as_ref() {
            "ReplicaSet" => model
                .workload(WorkloadKind::ReplicaSet, namespace, &owner.name)
                .and_then(|rs| rs.owner.as_ref())
                .filter(|d| d.kind.as_ref() == "Deployment")
                .map(|d| format!("deployment.apps/{}", d.name)),
            "StatefulSet" => Some(format!("statefulset.apps/{}", owner.name)),
            "DaemonSet" => Some(format!("daemonset.apps/{}", owner.name)),
            "Deployment" => Some(format!("deployment.apps/{}", owner.name)),
            _ => None,
        };
        let Some(workload) = workload else { continue };
        let on = p
            .injected_revision
            .as_ref()
            .map_or_else(|| "no proxy".to_string(), |r| format!("on {r}"));
        match workloads.iter_mut().find(|(w, _)| *w == workload) {
            Some((_, revs)) => revs.push(on),
            None => workloads.push((workload, vec![on])),
        }
    }
    workloads.sort();
    workloads
}

/// `2 pods: on 1-29-2, no proxy`, from [`namespace_workloads`]' words per pod.
pub fn describe_pods(revs: &[String]) -> String {
    format!(
        "{}: {}",
        count(revs.len(), "pod"),
        dedup(revs.to_vec()).join(", ")
    )
}

/// The mesh guard, from the model: the workloads whose every ready replica on a node that
/// is not cordoned is among the pods a drain of `node` evicts.
pub fn last_replicas_in(
    model: &Model,
    budgets: &[crate::model::facts::PdbRow],
    node: &str,
    evict: &[PodSummary],
) -> Vec<LastReplica> {
    let workload = |p: &PodSummary| {
        let controller = p.owner.as_ref().map(|o| (o.kind.as_ref(), o.name.as_ref()));
        workload_of(controller, |rs| {
            model
                .workload(WorkloadKind::ReplicaSet, &p.namespace, rs)
                .and_then(|w| w.owner.as_ref())
                .filter(|o| o.kind.as_ref() == "Deployment")
                .map(|o| o.name.to_string())
        })
    };
    let protected = |p: &PodSummary| {
        budgets.iter().any(|b| {
            b.namespace == p.namespace
                && b.allowed_disruptions <= 0
                && b.pods.iter().any(|s| s.name == p.name)
        })
    };
    let guarded: Vec<GuardedPod> = evict
        .iter()
        .map(|p| GuardedPod {
            namespace: p.namespace.to_string(),
            workload: workload(p),
            ready: p.ready && !p.deleting,
            protected: protected(p),
        })
        .collect();
    last_replicas(&guarded, |ns, w| {
        let count = model
            .pods_in_namespace(ns)
            .into_iter()
            .filter(|p| p.ready && !p.deleting)
            .filter(|p| {
                p.node.as_ref().is_some_and(|n| {
                    n.as_ref() != node && !model.node(n).is_some_and(|n| n.unschedulable)
                })
            })
            .filter(|p| workload(p).as_deref() == Some(w))
            .count();
        u32::try_from(count).ok()
    })
}

/// Whether a relaxed budget's fields changed since relief wrote them, as the executor judges
/// it: then the restore is refused, unless forced (`f`), which overwrites that change.
fn restore_conflict(
    saved: &str,
    pdb: &crate::model::summary::PdbSummary,
    force: bool,
) -> Vec<PlanLine> {
    use super::pdb;
    let refused = |why: String| vec![PlanLine::bad(format!("{why}: the restore is refused"))];
    let saved: serde_json::Value = match serde_json::from_str(saved) {
        Ok(v) => v,
        Err(e) => return refused(format!("the saved spec is not JSON ({e})")),
    };
    let relaxed = match pdb::relaxed_fields(&saved, pdb.relaxed_to.as_deref()) {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let current = pdb::budget_fields(&serde_json::json!({
        "minAvailable": pdb.min_available,
        "maxUnavailable": pdb.max_unavailable,
    }));
    let Some(change) = pdb::changed_since_relaxed(&current, &relaxed) else {
        return Vec::new();
    };
    let changed = format!("changed since meshtop relaxed it: {change}");
    if force {
        vec![
            PlanLine::warn(changed),
            PlanLine::warn("forced (f): the restore overwrites that change"),
        ]
    } else {
        vec![
            PlanLine::bad(changed),
            PlanLine::bad(
                "the restore is refused and writes nothing; f forces it, overwriting that change",
            ),
        ]
    }
}

/// What restoring `saved` (`{"minAvailable":1}`, `{"maxUnavailable":"25%"}`) would allow,
/// as the disruption controller counts it, and the drains it would block again: the nodes
/// its ready pods run on, when it would allow none.
fn restore_blocks(saved: &str, row: &crate::model::facts::PdbRow) -> Option<String> {
    let spec: serde_json::Value = serde_json::from_str(saved).ok()?;
    let desired = super::pdb::desired_healthy(
        spec.get("minAvailable")
            .and_then(super::pdb::budget_field)
            .as_ref(),
        spec.get("maxUnavailable")
            .and_then(super::pdb::budget_field)
            .as_ref(),
        row.expected_pods,
    )?;
    let allowed = (row.current_healthy - desired).max(0);
    if allowed > 0 {
        return Some(format!(
            "it will allow {} ({} healthy, {desired} needed): it blocks no drain",
            super::outcome::count(usize::try_from(allowed).unwrap_or(0), "disruption"),
            row.current_healthy
        ));
    }
    let nodes = dedup(
        row.pods
            .iter()
            .filter(|p| p.ready)
            .filter_map(|p| p.node.as_ref().map(ToString::to_string))
            .collect(),
    );
    Some(if nodes.is_empty() {
        format!(
            "it will allow no disruption ({} healthy, {desired} needed)",
            row.current_healthy
        )
    } else {
        format!(
            "it will allow no disruption ({} healthy, {desired} needed): it blocks the drains of \
             {} again",
            row.current_healthy,
            list_some(&nodes, 8)
        )
    })
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// `a, b, c and 4 more`.
pub fn list_some(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "-".into();
    }
    let shown = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        format!("{shown} and {} more", items.len() - max)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::facts::{PdbRow, SelectedPod};
    use crate::model::summary::IntOrPercent;

    fn row(healthy: i32, expected: i32, pods: &[(&str, &str, bool)]) -> PdbRow {
        PdbRow {
            namespace: "logging".into(),
            name: "es".into(),
            min_available: Some(IntOrPercent::Int(0)),
            max_unavailable: None,
            allowed_disruptions: healthy,
            current_healthy: healthy,
            desired_healthy: 0,
            expected_pods: expected,
            pods: pods
                .iter()
                .map(|(name, node, ready)| SelectedPod {
                    name: (*name).into(),
                    node: Some((*node).into()),
                    ready: *ready,
                })
                .collect(),
            blocks_nodes: std::sync::Arc::from([]),
            relaxed: true,
            blocks_unknown: false,
        }
    }

    #[test]
    fn a_restore_says_what_it_allows_and_which_drains_it_blocks_again() {
        let es = row(
            2,
            3,
            &[
                ("es-0", "n1", true),
                ("es-1", "n2", true),
                ("es-2", "n5", false),
            ],
        );
        // maxUnavailable 1 of 3 expected: 2 needed, 2 healthy, nothing allowed.
        assert_eq!(
            restore_blocks(r#"{"maxUnavailable":1}"#, &es).as_deref(),
            Some(
                "it will allow no disruption (2 healthy, 2 needed): it blocks the drains of n1, n2 again"
            )
        );
        // 50% of 3, rounded up: 2 needed.
        assert_eq!(
            restore_blocks(r#"{"minAvailable":"50%"}"#, &es).as_deref(),
            Some(
                "it will allow no disruption (2 healthy, 2 needed): it blocks the drains of n1, n2 again"
            )
        );
        assert_eq!(
            restore_blocks(r#"{"minAvailable":1}"#, &es).as_deref(),
            Some("it will allow 1 disruption (2 healthy, 1 needed): it blocks no drain")
        );
        assert_eq!(restore_blocks("not json", &es), None);
        assert_eq!(restore_blocks("{}", &es), None);
    }

    #[test]
    fn a_restore_over_a_budget_changed_since_relief_is_refused_unless_forced() {
        use crate::model::fixture;
        use crate::model::summary::Object;
        let relaxed = |min: i32| match fixture::pdb("istio-system", "istio-pilot", &[])
            .min_available(min)
            .relaxed_from(r#"{"minAvailable":1}"#)
            .relaxed_to(r#"{"minAvailable":0}"#)
            .build()
        {
            Object::Pdb(p) => p,
            _ => unreachable!("a PDB"),
        };
        let texts = |lines: Vec<PlanLine>| -> Vec<(String, Tone)> {
            lines
                .into_iter()
                .map(|l| (l.text(), l.spans[0].1))
                .collect()
        };
        assert!(restore_conflict(r#"{"minAvailable":1}"#, &relaxed(0), false).is_empty());
        assert_eq!(
            texts(restore_conflict(r#"{"minAvailable":1}"#, &relaxed(2), false)),
            [
                (
                    "changed since meshtop relaxed it: minAvailable is 2 (relaxed to 0)".into(),
                    Tone::Bad
                ),
                (
                    "the restore is refused and writes nothing; f forces it, overwriting that change"
                        .into(),
                    Tone::Bad
                ),
            ]
        );
        assert_eq!(
            texts(restore_conflict(r#"{"minAvailable":1}"#, &relaxed(2), true))[1],
            (
                "forced (f): the restore overwrites that change".into(),
                Tone::Warn
            )
        );
    }
}
