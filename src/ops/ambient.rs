//! Enrolling a namespace in ambient mode, as data: `istio.io/dataplane-mode=ambient` set,
//! the injection labels (`istio-injection`, `istio.io/rev`) removed so that new pods get no
//! sidecar, optionally `istio.io/use-waypoint`; the restart that takes the sidecars away is
//! the namespace relabel's. The way back is `label namespace --rev`, which removes the
//! ambient label (see [`super::label`]).

use serde_json::{Map, Value, json};

use super::plan::{PlanLine, describe_pods, namespace_workloads};
use super::{ActionError, names};
use crate::model::Model;
use crate::model::labels::keys::{DATAPLANE_MODE, USE_WAYPOINT};

const INJECTION: &str = "istio-injection";
const REV: &str = "istio.io/rev";

/// What an enrollment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmbientOutcome {
    /// The namespace's labels changed.
    pub labeled: bool,
    /// The injection labels removed, `KEY=VALUE`.
    pub removed: Vec<String>,
    /// The workloads restarted, `deployment.apps/NAME`.
    pub restarted: Vec<String>,
}

/// Checks the namespace's and the waypoint's names.
pub fn validate(namespace: &str, waypoint: Option<&str>) -> Result<(), ActionError> {
    names::namespace(namespace)?;
    if let Some(w) = waypoint {
        names::workload(w).map_err(|_| {
            ActionError::Invalid(format!(
                "invalid waypoint {w:?}: a Gateway's name is a lowercase RFC 1123 subdomain"
            ))
        })?;
    }
    Ok(())
}

/// The merge patch that enrolls a namespace whose labels are `labels` (key → value).
pub fn enroll_patch<'a>(
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    waypoint: Option<&str>,
) -> Value {
    let mut out = Map::new();
    out.insert(DATAPLANE_MODE.into(), json!("ambient"));
    for (k, _) in labels {
        if k == INJECTION || k == REV {
            out.insert(k.into(), Value::Null);
        }
    }
    if let Some(w) = waypoint {
        out.insert(USE_WAYPOINT.into(), json!(w));
    }
    json!({"metadata": {"labels": out}})
}

/// The preview of an enrollment, from the model as it is now.
pub fn plan(
    model: &Model,
    namespace: &str,
    waypoint: Option<&str>,
    restart: bool,
) -> Vec<PlanLine> {
    let mut out = Vec::new();
    let Some(ns) = model.namespace(namespace) else {
        out.push(PlanLine::bad(format!(
            "namespace/{namespace} is not in the cluster"
        )));
        return out;
    };
    let get = |k: &str| ns.labels.get(k).map(ToString::to_string);
    let mode = get(DATAPLANE_MODE);
    out.push(PlanLine::plain(format!(
        "namespace/{namespace}: label {DATAPLANE_MODE}: {} → ambient",
        mode.as_deref().unwrap_or("(none)")
    )));
    for k in [INJECTION, REV] {
        if let Some(v) = get(k) {
            out.push(PlanLine::plain(format!(
                "namespace/{namespace}: label {k}: {v} → (removed: new pods get no sidecar)"
            )));
        }
    }
    if let Some(w) = waypoint {
        out.push(PlanLine::plain(format!(
            "namespace/{namespace}: label {USE_WAYPOINT}: {} → {w}",
            get(USE_WAYPOINT).as_deref().unwrap_or("(none)")
        )));
        let exists = model.gateways().iter().any(|g| {
            g.namespace.as_ref() == namespace
                && g.name.as_ref() == w
                && g.gateway_api
                    .as_ref()
                    .is_some_and(|a| a.class.as_ref() == "istio-waypoint")
        });
        if !exists {
            out.push(PlanLine::warn(format!(
                "no waypoint {w} (Gateway of class istio-waypoint) in {namespace}: traffic \
                 through it fails until one is deployed"
            )));
        }
    }
    if !model.has_ztunnels() {
        out.push(PlanLine::bad(
            "no ztunnel runs in the cluster: ambient pods would have no data plane",
        ));
    }
    let workloads = namespace_workloads(model, namespace, None);
    let sidecars: Vec<&(String, Vec<String>)> = workloads
        .iter()
        .filter(|(_, revs)| revs.iter().any(|r| r != "no proxy"))
        .collect();
    if restart {
        if workloads.is_empty() {
            out.push(PlanLine::dim("rollout restart: no workload has pods here"));
        } else {
            out.push(PlanLine::plain(
                "then rollout restart (kubectl.kubernetes.io/restartedAt), waiting for each:",
            ));
            for (w, revs) in &workloads {
                out.push(PlanLine::plain(format!("  {w}  ({})", describe_pods(revs))));
            }
        }
    } else if !sidecars.is_empty() {
        out.push(PlanLine::warn(format!(
            "{} keep their sidecars until restarted (t adds the restart); ztunnel leaves \
             pods with a sidecar alone",
            super::outcome::count(sidecars.len(), "workload")
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolling_removes_the_injection_labels_and_sets_the_waypoint() {
        assert_eq!(
            enroll_patch(
                [("istio.io/rev", "prod-stable"), ("team", "a")],
                Some("waypoint")
            ),
            json!({"metadata": {"labels": {
                "istio.io/dataplane-mode": "ambient",
                "istio.io/rev": null,
                "istio.io/use-waypoint": "waypoint"
            }}})
        );
        assert_eq!(
            enroll_patch([("istio-injection", "enabled")], None),
            json!({"metadata": {"labels": {
                "istio.io/dataplane-mode": "ambient",
                "istio-injection": null
            }}})
        );
        assert!(validate("shop", Some("Way/point")).is_err());
        assert!(validate("shop", None).is_ok());
    }
}
