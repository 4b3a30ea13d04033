//! The small writes: cordon, labels, rollout restarts, PDB relief. Each is one precise patch
//! with field manager `meshtop`, and `dryRun=All` when asked.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::{FIELD_MANAGER, api_code, api_error};
use crate::model::labels::keys::{DATAPLANE_MODE, USE_WAYPOINT};
use crate::model::summary::WorkloadKind;
use crate::ops::ActionError;
use crate::ops::ambient::{self, AmbientOutcome};
use crate::ops::label::{LabelChange, LabelOutcome, NamespaceLabelOutcome};
use crate::ops::pdb::{
    PdbTarget, RELAXED_FROM, RELAXED_TO, budget_fields, changed_since_relaxed, describe_fields,
    relaxed_fields, relaxed_spec, restored_spec,
};
use crate::ops::rollout::RESTARTED_AT;
use crate::ops::workload::WorkloadRef;
use std::collections::BTreeMap;

const REV_LABEL: &str = "istio.io/rev";
const INJECTION_LABEL: &str = "istio-injection";

fn params(dry_run: bool) -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run,
        ..PatchParams::default()
    }
}

fn not_found(kind: &str, name: &str, err: &kube::Error, doing: &str) -> ActionError {
    if api_code(err) == Some(404) {
        ActionError::NotFound(format!("{kind} \"{name}\" not found"))
    } else {
        api_error(doing, err)
    }
}

/// Sets `spec.unschedulable`; `Ok(false)` when it already had that value (nothing sent).
pub(super) async fn set_unschedulable(
    client: &kube::Client,
    node: &str,
    unschedulable: bool,
    dry_run: bool,
) -> Result<bool, ActionError> {
    let api: Api<Node> = Api::all(client.clone());
    let current = api
        .get(node)
        .await
        .map_err(|e| not_found("node", node, &e, &format!("reading node/{node}")))?;
    let is = current
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if is == unschedulable {
        return Ok(false);
    }
    let patch = json!({"spec": {"unschedulable": unschedulable}});
    api.patch(node, &params(dry_run), &Patch::Strategic(patch))
        .await
        .map_err(|e| not_found("node", node, &e, &format!("patching node/{node}")))?;
    Ok(true)
}

/// The merge patch for one label change.
pub(super) fn label_patch(change: &LabelChange) -> Value {
    match change {
        LabelChange::Set { key, value } => json!({"metadata": {"labels": {key: value}}}),
        LabelChange::Remove { key } => json!({"metadata": {"labels": {key: null}}}),
    }
}

pub(super) async fn label_node(
    client: &kube::Client,
    node: &str,
    change: &LabelChange,
    dry_run: bool,
) -> Result<LabelOutcome, ActionError> {
    let api: Api<Node> = Api::all(client.clone());
    let current = api
        .get(node)
        .await
        .map_err(|e| not_found("node", node, &e, &format!("reading node/{node}")))?;
    let labels = current.metadata.labels.unwrap_or_default();
    let outcome = match change {
        LabelChange::Set { key, value } if labels.get(key) == Some(value) => {
            return Ok(LabelOutcome::Unchanged);
        }
        // kubectl: `label "KEY" not found.`, `node/NODE not labeled`, and no error.
        LabelChange::Remove { key } if !labels.contains_key(key) => {
            return Ok(LabelOutcome::Unchanged);
        }
        LabelChange::Set { .. } => LabelOutcome::Labeled,
        LabelChange::Remove { .. } => LabelOutcome::Unlabeled,
    };
    api.patch(node, &params(dry_run), &Patch::Merge(label_patch(change)))
        .await
        .map_err(|e| api_error(&format!("labelling node/{node}"), &e))?;
    Ok(outcome)
}

/// The merge patch that moves a namespace to a revision: `istio.io/rev` set, and a
/// conflicting `istio-injection` removed (injection would otherwise ignore the revision), and
/// `istio.io/dataplane-mode=ambient` removed (sidecars would win over it anyway).
pub(super) fn namespace_patch(revision: &str, has_injection: bool, has_ambient: bool) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert(REV_LABEL.into(), json!(revision));
    if has_injection {
        labels.insert(INJECTION_LABEL.into(), Value::Null);
    }
    if has_ambient {
        labels.insert(DATAPLANE_MODE.into(), Value::Null);
    }
    json!({"metadata": {"labels": labels}})
}

/// The strategic merge patch of `kubectl rollout restart`.
pub(super) fn restart_patch(at: &str) -> Value {
    json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}})
}

/// A namespace relabelled: `patch` is given its labels and says what to change, if anything;
/// with `restart`, every Deployment, StatefulSet and DaemonSet in it is then restarted.
/// Returns its labels before, whether it was patched, and the workloads restarted.
async fn relabel_namespace(
    client: &kube::Client,
    namespace: &str,
    restart: bool,
    dry_run: bool,
    patch: impl FnOnce(&BTreeMap<String, String>) -> Option<Value>,
) -> Result<(BTreeMap<String, String>, bool, Vec<String>), ActionError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let current = api.get(namespace).await.map_err(|e| {
        not_found(
            "namespace",
            namespace,
            &e,
            &format!("reading namespace/{namespace}"),
        )
    })?;
    let labels = current.metadata.labels.unwrap_or_default();
    let mut labeled = false;
    if let Some(patch) = patch(&labels) {
        api.patch(namespace, &params(dry_run), &Patch::Merge(patch))
            .await
            .map_err(|e| api_error(&format!("labelling namespace/{namespace}"), &e))?;
        labeled = true;
    }
    let mut restarted = Vec::new();
    if restart {
        let at = jiff::Timestamp::now().to_string();
        for w in workloads_in(client, namespace).await? {
            restart_workload(client, &w, &at, dry_run).await?;
            restarted.push(w.to_string());
        }
    }
    Ok((labels, labeled, restarted))
}

pub(super) async fn label_namespace(
    client: &kube::Client,
    namespace: &str,
    revision: &str,
    restart: bool,
    dry_run: bool,
) -> Result<NamespaceLabelOutcome, ActionError> {
    let (labels, labeled, restarted) =
        relabel_namespace(client, namespace, restart, dry_run, |labels| {
            let injection = labels.contains_key(INJECTION_LABEL);
            let ambient = labels.get(DATAPLANE_MODE).map(String::as_str) == Some("ambient");
            (labels.get(REV_LABEL).map(String::as_str) != Some(revision) || injection || ambient)
                .then(|| namespace_patch(revision, injection, ambient))
        })
        .await?;
    Ok(NamespaceLabelOutcome {
        labeled,
        removed_injection: labels.get(INJECTION_LABEL).cloned(),
        removed_ambient: labels.get(DATAPLANE_MODE).map(String::as_str) == Some("ambient"),
        restarted,
    })
}

/// Enrolls a namespace in ambient mode (see [`crate::ops::ambient`]).
pub(super) async fn enroll_ambient(
    client: &kube::Client,
    namespace: &str,
    waypoint: Option<&str>,
    restart: bool,
    dry_run: bool,
) -> Result<AmbientOutcome, ActionError> {
    let (labels, labeled, restarted) =
        relabel_namespace(client, namespace, restart, dry_run, |labels| {
            let done = labels.get(DATAPLANE_MODE).map(String::as_str) == Some("ambient")
                && !labels.contains_key(INJECTION_LABEL)
                && !labels.contains_key(REV_LABEL)
                && waypoint.is_none_or(|w| labels.get(USE_WAYPOINT).map(String::as_str) == Some(w));
            (!done).then(|| {
                ambient::enroll_patch(
                    labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    waypoint,
                )
            })
        })
        .await?;
    Ok(AmbientOutcome {
        labeled,
        removed: [INJECTION_LABEL, REV_LABEL]
            .iter()
            .filter_map(|k| labels.get(*k).map(|v| format!("{k}={v}")))
            .collect(),
        restarted,
    })
}

/// A namespace's Deployments, StatefulSets and DaemonSets, in that order.
pub(super) async fn workloads_in(
    client: &kube::Client,
    namespace: &str,
) -> Result<Vec<WorkloadRef>, ActionError> {
    let lp = ListParams::default();
    let mut out = Vec::new();
    for kind in [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
    ] {
        for name in workload_names(client, kind, namespace, &lp).await? {
            out.push(WorkloadRef::new(kind, namespace, &name));
        }
    }
    Ok(out)
}

/// The names of a namespace's workloads of one kind.
async fn workload_names(
    client: &kube::Client,
    kind: WorkloadKind,
    namespace: &str,
    lp: &ListParams,
) -> Result<Vec<String>, ActionError> {
    let listed = |e: kube::Error| {
        api_error(
            &format!(
                "listing {}s in {namespace}",
                kind.as_str().to_ascii_lowercase()
            ),
            &e,
        )
    };
    let c = client.clone();
    match kind {
        WorkloadKind::Deployment => names_in(Api::<Deployment>::namespaced(c, namespace), lp).await,
        WorkloadKind::StatefulSet => {
            names_in(Api::<StatefulSet>::namespaced(c, namespace), lp).await
        }
        WorkloadKind::DaemonSet => names_in(Api::<DaemonSet>::namespaced(c, namespace), lp).await,
        WorkloadKind::ReplicaSet => Ok(Vec::new()),
    }
    .map_err(listed)
}

/// The names of the objects an API lists.
async fn names_in<K>(api: Api<K>, lp: &ListParams) -> Result<Vec<String>, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(api
        .list_metadata(lp)
        .await?
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect())
}

/// `kubectl rollout restart` of one workload: its pod template's restartedAt set to `at`.
pub(super) async fn restart_workload(
    client: &kube::Client,
    w: &WorkloadRef,
    at: &str,
    dry_run: bool,
) -> Result<(), ActionError> {
    let patch = Patch::Strategic(restart_patch(at));
    let p = params(dry_run);
    let ns = &w.namespace;
    let done = match w.kind {
        WorkloadKind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
            .patch(&w.name, &p, &patch)
            .await
            .map(drop),
        WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .patch(&w.name, &p, &patch)
            .await
            .map(drop),
        WorkloadKind::DaemonSet => Api::<DaemonSet>::namespaced(client.clone(), ns)
            .patch(&w.name, &p, &patch)
            .await
            .map(drop),
        WorkloadKind::ReplicaSet => return w.validate(),
    };
    done.map_err(|e| {
        not_found(
            w.resource(),
            &w.name,
            &e,
            &format!("restarting {w} -n {ns}"),
        )
    })
}

/// Sets a Deployment's or StatefulSet's replicas through its scale subresource, as
/// `kubectl scale` does; returns the replicas it had.
pub(super) async fn scale(
    client: &kube::Client,
    w: &WorkloadRef,
    replicas: u32,
    dry_run: bool,
) -> Result<i32, ActionError> {
    w.check_scalable()?;
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let p = params(dry_run);
    let ns = &w.namespace;
    let fail = |doing: &str| {
        let doing = format!("{doing} {w} -n {ns}");
        move |e: kube::Error| not_found(w.resource(), &w.name, &e, &doing)
    };
    let before = match w.kind {
        WorkloadKind::Deployment => {
            let api = Api::<Deployment>::namespaced(client.clone(), ns);
            let before = api.get_scale(&w.name).await.map_err(fail("reading"))?;
            api.patch_scale(&w.name, &p, &patch)
                .await
                .map_err(fail("scaling"))?;
            before
        }
        _ => {
            let api = Api::<StatefulSet>::namespaced(client.clone(), ns);
            let before = api.get_scale(&w.name).await.map_err(fail("reading"))?;
            api.patch_scale(&w.name, &p, &patch)
                .await
                .map_err(fail("scaling"))?;
            before
        }
    };
    Ok(before.spec.and_then(|s| s.replicas).unwrap_or(0))
}

async fn get_pdb(
    client: &kube::Client,
    t: &PdbTarget,
) -> Result<(Api<PodDisruptionBudget>, Value), ActionError> {
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &t.namespace);
    let pdb = api.get(&t.name).await.map_err(|e| {
        not_found(
            "poddisruptionbudget",
            &format!("{}/{}", t.namespace, t.name),
            &e,
            "reading the PodDisruptionBudget",
        )
    })?;
    let value = serde_json::to_value(&pdb).map_err(|e| ActionError::Api(e.to_string()))?;
    Ok((api, value))
}

pub(super) async fn pdb_relax(
    client: &kube::Client,
    t: &PdbTarget,
    dry_run: bool,
) -> Result<(), ActionError> {
    let (api, pdb) = get_pdb(client, t).await?;
    if pdb
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(RELAXED_FROM))
        .is_some()
    {
        return Err(ActionError::Conflict(format!(
            "poddisruptionbudget {}/{} is already relaxed (its original spec is in the \
             {RELAXED_FROM} annotation); restore it first",
            t.namespace, t.name
        )));
    }
    let spec = pdb.get("spec").cloned().unwrap_or_else(|| json!({}));
    let relaxed = relaxed_spec(&spec);
    let json = |v: &Value| serde_json::to_string(v).map_err(|e| ActionError::Api(e.to_string()));
    // The resourceVersion makes the patch fail rather than save a spec someone just changed.
    let patch = json!({
        "metadata": {
            "resourceVersion": pdb.pointer("/metadata/resourceVersion"),
            "annotations": {RELAXED_FROM: json(&spec)?, RELAXED_TO: json(&relaxed)?},
        },
        "spec": relaxed,
    });
    api.patch(&t.name, &params(dry_run), &Patch::Merge(patch))
        .await
        .map_err(|e| api_error("relaxing the PodDisruptionBudget", &e))?;
    Ok(())
}

/// Puts a relaxed budget's saved spec back, unless its budget fields changed since they were
/// relaxed: then nothing is written, unless `force`.
pub(super) async fn pdb_restore(
    client: &kube::Client,
    t: &PdbTarget,
    force: bool,
    dry_run: bool,
) -> Result<(), ActionError> {
    let (api, pdb) = get_pdb(client, t).await?;
    let annotations = pdb.pointer("/metadata/annotations");
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str);
    let Some(saved) = annotation(RELAXED_FROM) else {
        return Err(ActionError::Conflict(format!(
            "poddisruptionbudget {}/{} is not relaxed (no {RELAXED_FROM} annotation)",
            t.namespace, t.name
        )));
    };
    let saved: Value = serde_json::from_str(saved).map_err(|e| {
        ActionError::Conflict(format!(
            "the {RELAXED_FROM} annotation of {}/{} is not a JSON spec: {e}",
            t.namespace, t.name
        ))
    })?;
    let relaxed = relaxed_fields(&saved, annotation(RELAXED_TO)).map_err(|e| {
        ActionError::Conflict(format!(
            "poddisruptionbudget {}/{}: {e}",
            t.namespace, t.name
        ))
    })?;
    let current = budget_fields(pdb.get("spec").unwrap_or(&Value::Null));
    if let Some(change) = changed_since_relaxed(&current, &relaxed)
        && !force
    {
        return Err(ActionError::Conflict(format!(
            "poddisruptionbudget {}/{} changed since meshtop relaxed it: {change}; restoring \
             would overwrite that with the saved {}: nothing was written (use --force to \
             restore anyway)",
            t.namespace,
            t.name,
            describe_fields(&restored_spec(&saved))
        )));
    }
    // The resourceVersion makes the patch fail rather than overwrite a change made since the
    // comparison above.
    let patch = json!({
        "metadata": {
            "resourceVersion": pdb.pointer("/metadata/resourceVersion"),
            "annotations": {RELAXED_FROM: null, RELAXED_TO: null},
        },
        "spec": restored_spec(&saved),
    });
    api.patch(&t.name, &params(dry_run), &Patch::Merge(patch))
        .await
        .map_err(|e| api_error("restoring the PodDisruptionBudget", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches() {
        assert_eq!(
            label_patch(&LabelChange::Remove { key: "k".into() }),
            json!({"metadata": {"labels": {"k": null}}})
        );
        assert_eq!(
            namespace_patch("1-9-1", true, false),
            json!({"metadata": {"labels": {"istio.io/rev": "1-9-1", "istio-injection": null}}})
        );
        assert_eq!(
            namespace_patch("1-9-1", false, true),
            json!({"metadata": {"labels": {"istio.io/rev": "1-9-1", "istio.io/dataplane-mode": null}}})
        );
        assert_eq!(
            restart_patch("2026-01-01T00:00:00Z"),
            json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}})
        );
    }

    #[test]
    fn pdb_relief_keeps_the_kind_of_budget() {
        let min = json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "pilot"}}});
        assert_eq!(relaxed_spec(&min), json!({"minAvailable": 0}));
        assert_eq!(
            restored_spec(&min),
            json!({"minAvailable": 1, "maxUnavailable": null})
        );
        let max = json!({"maxUnavailable": 1});
        assert_eq!(relaxed_spec(&max), json!({"maxUnavailable": "100%"}));
        assert_eq!(
            restored_spec(&max),
            json!({"minAvailable": null, "maxUnavailable": 1})
        );
        assert!(PdbTarget::parse("istio-system/istio-pilot").is_ok());
        for bad in ["istio-pilot", "/x", "x/", "a/b/c"] {
            assert!(PdbTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
