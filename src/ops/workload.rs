//! One workload's actions as data: which Deployment, StatefulSet or DaemonSet (named as
//! kubectl names it), scaling it and what that does to the PodDisruptionBudgets that select
//! its pods, and restarting it as `kubectl rollout restart` does. Pure: the executor in
//! `cluster::actions::workload` sends the writes.

use crate::model::Model;
use crate::model::facts::PdbRow;
use crate::model::summary::WorkloadKind;

use super::outcome::count;
use super::plan::{PlanLine, list_some};
use super::{ActionError, names, pdb};

/// A workload meshtop can scale or restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
}

impl WorkloadRef {
    pub fn new(kind: WorkloadKind, namespace: &str, name: &str) -> Self {
        WorkloadRef {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// `TYPE/NAME` as kubectl takes it (`deployment/web`, `deploy/web`, `sts/db`,
    /// `deployment.apps/web`), in `namespace`.
    pub fn parse(text: &str, namespace: &str) -> Result<Self, ActionError> {
        let bad = |why: &str| ActionError::Invalid(format!("invalid workload {text:?}: {why}"));
        let (kind, name) = text
            .split_once('/')
            .ok_or_else(|| bad("expected TYPE/NAME, e.g. deployment/web"))?;
        let kind =
            match kind.to_ascii_lowercase().as_str() {
                "deployment" | "deployments" | "deploy" | "deployment.apps"
                | "deployments.apps" => WorkloadKind::Deployment,
                "statefulset" | "statefulsets" | "sts" | "statefulset.apps"
                | "statefulsets.apps" => WorkloadKind::StatefulSet,
                "daemonset" | "daemonsets" | "ds" | "daemonset.apps" | "daemonsets.apps" => {
                    WorkloadKind::DaemonSet
                }
                _ => return Err(bad("the type must be deployment, statefulset or daemonset")),
            };
        let w = WorkloadRef::new(kind, namespace, name);
        w.validate()?;
        Ok(w)
    }

    /// Checks both names as the API server would.
    pub fn validate(&self) -> Result<(), ActionError> {
        names::namespace(&self.namespace)?;
        names::workload(&self.name)?;
        if self.kind == WorkloadKind::ReplicaSet {
            return Err(ActionError::Invalid(format!(
                "replicaset {:?}: scale or restart its Deployment",
                self.name
            )));
        }
        Ok(())
    }

    /// kubectl's resource name: `deployment.apps`.
    pub fn resource(&self) -> &'static str {
        match self.kind {
            WorkloadKind::Deployment => "deployment.apps",
            WorkloadKind::StatefulSet => "statefulset.apps",
            WorkloadKind::DaemonSet => "daemonset.apps",
            WorkloadKind::ReplicaSet => "replicaset.apps",
        }
    }

    /// `deployment/payments/fraud-check`, as the audit log names objects.
    pub fn audit_target(&self) -> String {
        format!(
            "{}/{}/{}",
            self.kind.as_str().to_ascii_lowercase(),
            self.namespace,
            self.name
        )
    }

    /// Whether it can be scaled (a DaemonSet runs one pod per node).
    pub fn check_scalable(&self) -> Result<(), ActionError> {
        match self.kind {
            WorkloadKind::Deployment | WorkloadKind::StatefulSet => Ok(()),
            _ => Err(ActionError::Invalid(format!(
                "{self}: a {} cannot be scaled (it runs one pod per eligible node)",
                self.kind.as_str()
            ))),
        }
    }
}

/// `deployment.apps/fraud-check`, kubectl's words.
impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.resource(), self.name)
    }
}

/// The most replicas a scale asks for: more is a typo.
pub const MAX_REPLICAS: u32 = 1000;

/// Parses the replicas typed in a dialog or given to `--replicas`.
pub fn parse_replicas(text: &str) -> Result<u32, ActionError> {
    match text.trim().parse::<u32>() {
        Ok(n) if n <= MAX_REPLICAS => Ok(n),
        _ => Err(ActionError::Invalid(format!(
            "invalid replicas {text:?}: expected a whole number from 0 to {MAX_REPLICAS}"
        ))),
    }
}

/// What a scale does to one PodDisruptionBudget selecting the workload's pods, once the
/// workload has its new replicas and they are ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetChange {
    pub pdb: String,
    pub allowed_now: i32,
    pub allowed_after: i32,
    pub healthy_after: i32,
    pub needed_after: i32,
    /// Nodes whose drain it blocks now, and after.
    pub blocks_now: Vec<String>,
    pub blocks_after: Vec<String>,
}

/// The budget's arithmetic after `delta` replicas more (or fewer) of a workload it selects,
/// as the disruption controller counts: expected and healthy pods move by `delta`.
pub fn budget_after(row: &PdbRow, delta: i32) -> BudgetChange {
    let expected = (row.expected_pods + delta).max(0);
    let healthy = (row.current_healthy + delta).max(0);
    let needed = pdb::desired_healthy(
        row.min_available.as_ref(),
        row.max_unavailable.as_ref(),
        expected,
    )
    .unwrap_or(row.desired_healthy);
    let allowed = (healthy - needed).max(0);
    // Allowing none, it blocks the nodes it blocks now and those of its ready pods.
    let mut nodes: Vec<String> = row
        .pods
        .iter()
        .filter(|p| p.ready)
        .filter_map(|p| p.node.as_ref().map(ToString::to_string))
        .chain(row.blocks_nodes.iter().map(ToString::to_string))
        .collect();
    nodes.sort();
    nodes.dedup();
    BudgetChange {
        pdb: row.name.to_string(),
        allowed_now: row.allowed_disruptions,
        allowed_after: allowed,
        healthy_after: healthy,
        needed_after: needed,
        blocks_now: row.blocks_nodes.iter().map(ToString::to_string).collect(),
        blocks_after: if allowed > 0 { Vec::new() } else { nodes },
    }
}

/// The budgets in the workload's namespace whose selector matches its pod template.
pub fn budgets_of<'a>(model: &Model, w: &WorkloadRef, rows: &'a [PdbRow]) -> Vec<&'a PdbRow> {
    let Some(summary) = model.workload(w.kind, &w.namespace, &w.name) else {
        return Vec::new();
    };
    rows.iter()
        .filter(|r| r.namespace.as_ref() == w.namespace.as_str())
        .filter(|r| {
            model
                .pdb(&r.namespace, &r.name)
                .is_some_and(|p| p.selector.matches(&summary.template_labels))
        })
        .collect()
}

/// The one Deployment or StatefulSet whose pods a PodDisruptionBudget selects: what a scale
/// from its row scales. The error says why there is none to pick.
pub fn of_pdb(model: &Model, namespace: &str, pdb: &str) -> Result<WorkloadRef, String> {
    let mut found: Vec<WorkloadRef> = Vec::new();
    let by_owner = model
        .pods_of_pdb(namespace, pdb)
        .into_iter()
        .filter_map(|p| p.owner)
        .filter_map(|o| match o.kind.as_ref() {
            "ReplicaSet" => model
                .workload(WorkloadKind::ReplicaSet, namespace, &o.name)
                .and_then(|rs| rs.owner.as_ref())
                .filter(|d| d.kind.as_ref() == "Deployment")
                .map(|d| WorkloadRef::new(WorkloadKind::Deployment, namespace, &d.name)),
            "StatefulSet" => Some(WorkloadRef::new(
                WorkloadKind::StatefulSet,
                namespace,
                &o.name,
            )),
            _ => None,
        });
    for w in by_owner {
        if !found.contains(&w) {
            found.push(w);
        }
    }
    if found.is_empty() {
        // Scaled to nothing: the Deployments whose template the budget selects.
        let selector = model.pdb(namespace, pdb).map(|p| &p.selector);
        found = model
            .deployments()
            .filter(|d| d.namespace.as_ref() == namespace)
            .filter(|d| selector.is_some_and(|s| s.matches(&d.template_labels)))
            .map(|d| WorkloadRef::new(WorkloadKind::Deployment, namespace, &d.name))
            .collect();
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!(
            "poddisruptionbudget {namespace}/{pdb} selects no pod of a Deployment or StatefulSet"
        )),
        n => Err(format!(
            "poddisruptionbudget {namespace}/{pdb} selects the pods of {n} workloads ({}): \
             scale one with meshtop scale",
            found
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The preview of a scale, from the model as it is now.
pub fn scale_plan(model: &Model, w: &WorkloadRef, replicas: u32) -> Vec<PlanLine> {
    let mut out = Vec::new();
    if let Err(e) = w.check_scalable() {
        out.push(PlanLine::bad(e.to_string()));
        return out;
    }
    let Some(summary) = model.workload(w.kind, &w.namespace, &w.name) else {
        out.push(PlanLine::bad(format!(
            "{w} -n {} is not in the cluster",
            w.namespace
        )));
        return out;
    };
    let now = summary.desired;
    out.push(PlanLine::plain(format!(
        "{w} -n {}: replicas {now} → {replicas} (through its scale subresource)",
        w.namespace
    )));
    out.push(PlanLine::dim(format!(
        "now {} ready of {}",
        summary.ready,
        count(now as usize, "replica")
    )));
    if now == replicas {
        out.push(PlanLine::dim("it already has that many: nothing changes"));
        return out;
    }
    if replicas < now {
        out.push(PlanLine::warn(format!(
            "{} deleted by its controller",
            count((now - replicas) as usize, "pod")
        )));
    }
    if replicas == 0 {
        out.push(PlanLine::bad(
            "at 0 replicas it serves nothing until scaled up again",
        ));
    }
    let delta = i32::try_from(i64::from(replicas) - i64::from(now)).unwrap_or(0);
    let rows = model.disruption();
    let budgets = budgets_of(model, w, &rows);
    if budgets.is_empty() {
        out.push(PlanLine::dim("no PodDisruptionBudget selects its pods"));
    }
    for row in budgets {
        let c = budget_after(row, delta);
        out.push(PlanLine::plain(format!(
            "poddisruptionbudget/{}: allows {} now → {} once its pods are ready ({} healthy, {} needed)",
            c.pdb,
            count(usize::try_from(c.allowed_now.max(0)).unwrap_or(0), "disruption"),
            c.allowed_after,
            c.healthy_after,
            c.needed_after
        )));
        let freed: Vec<String> = c
            .blocks_now
            .iter()
            .filter(|n| !c.blocks_after.contains(n))
            .cloned()
            .collect();
        let blocked: Vec<String> = c
            .blocks_after
            .iter()
            .filter(|n| !c.blocks_now.contains(n))
            .cloned()
            .collect();
        if !freed.is_empty() {
            out.push(PlanLine::good(format!(
                "  it stops blocking the drains of {}",
                list_some(&freed, 8)
            )));
        }
        if !blocked.is_empty() {
            out.push(PlanLine::warn(format!(
                "  it starts blocking the drains of {}",
                list_some(&blocked, 8)
            )));
        }
        let still: Vec<String> = c
            .blocks_after
            .iter()
            .filter(|n| c.blocks_now.contains(n))
            .cloned()
            .collect();
        if !still.is_empty() {
            out.push(PlanLine::warn(format!(
                "  it still blocks the drains of {}",
                list_some(&still, 8)
            )));
        }
        if c.blocks_now.is_empty() && c.blocks_after.is_empty() {
            out.push(PlanLine::dim("  it blocks no drain, before or after"));
        }
    }
    out
}

/// The preview of a rollout restart.
pub fn restart_plan(model: &Model, w: &WorkloadRef, wait: bool) -> Vec<PlanLine> {
    let mut out = Vec::new();
    let Some(summary) = model.workload(w.kind, &w.namespace, &w.name) else {
        out.push(PlanLine::bad(format!(
            "{w} -n {} is not in the cluster",
            w.namespace
        )));
        return out;
    };
    out.push(PlanLine::plain(format!(
        "{w} -n {}: pod template annotation {} set to now",
        w.namespace,
        super::rollout::RESTARTED_AT
    )));
    out.push(PlanLine::plain(format!(
        "its {} are replaced as its update strategy says (new pods are injected by the \
         revision their namespace selects now)",
        count(summary.desired as usize, "pod")
    )));
    out.push(if wait {
        PlanLine::plain("then waits for the rollout, as kubectl rollout status does")
    } else {
        PlanLine::dim("the rollout is not followed (w waits for it)")
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::facts::SelectedPod;
    use crate::model::summary::IntOrPercent;

    fn row(min: Option<IntOrPercent>, max: Option<IntOrPercent>, healthy: i32) -> PdbRow {
        PdbRow {
            namespace: "payments".into(),
            name: "fraud-check".into(),
            min_available: min,
            max_unavailable: max,
            allowed_disruptions: 0,
            current_healthy: healthy,
            desired_healthy: healthy,
            expected_pods: healthy,
            pods: std::sync::Arc::from([SelectedPod {
                name: "fraud-check-1".into(),
                node: Some("worker-3".into()),
                ready: true,
            }]),
            blocks_nodes: std::sync::Arc::from([crate::model::intern::Name::from("worker-3")]),
            relaxed: false,
            blocks_unknown: false,
        }
    }

    #[test]
    fn kubectl_names_workloads() {
        let w = WorkloadRef::parse("deploy/web", "shop").expect("a deployment");
        assert_eq!(w.to_string(), "deployment.apps/web");
        assert_eq!(w.audit_target(), "deployment/shop/web");
        assert_eq!(
            WorkloadRef::parse("sts/db", "shop").map(|w| w.kind),
            Ok(WorkloadKind::StatefulSet)
        );
        for bad in [
            "web",
            "pod/web",
            "deployment/",
            "deployment/a/b",
            "deployment/Web",
        ] {
            assert!(WorkloadRef::parse(bad, "shop").is_err(), "{bad}");
        }
        assert!(
            WorkloadRef::parse("ds/ztunnel", "istio-system")
                .expect("a daemonset")
                .check_scalable()
                .is_err()
        );
        assert_eq!(parse_replicas(" 2 "), Ok(2));
        for bad in ["-1", "two", "", "1001", "2.5"] {
            assert!(parse_replicas(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_single_replica_budget_stops_blocking_at_two_replicas() {
        let min1 = row(Some(IntOrPercent::Int(1)), None, 1);
        let c = budget_after(&min1, 1);
        assert_eq!(
            (c.allowed_after, c.healthy_after, c.needed_after),
            (1, 2, 1)
        );
        assert!(c.blocks_after.is_empty());
        assert_eq!(c.blocks_now, ["worker-3"]);
        // maxUnavailable 0 never allows one, whatever the scale.
        let c = budget_after(&row(None, Some(IntOrPercent::Int(0)), 1), 3);
        assert_eq!(c.allowed_after, 0);
        assert_eq!(c.blocks_after, ["worker-3"]);
        // 50% of 3 rounds up to 2 needed: 1 allowed.
        let c = budget_after(&row(Some(IntOrPercent::Percent(50)), None, 1), 2);
        assert_eq!((c.allowed_after, c.needed_after), (1, 2));
        // Scaling down to nothing leaves nothing to disrupt.
        let c = budget_after(&row(Some(IntOrPercent::Int(1)), None, 1), -1);
        assert_eq!((c.allowed_after, c.healthy_after), (0, 0));
    }
}
