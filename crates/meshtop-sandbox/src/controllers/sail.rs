//! The Sail operator (sailoperator.io/v1): an `Istio` gets its `IstioRevision` (named after
//! it with the InPlace update strategy, `<name>-<version with dashes>` with RevisionBased),
//! and an `IstioRevision` its istiod, installed as the IstioOperator controller installs one
//! but labelled by Sail and owned by the revision, so that deleting the revision removes it.
//! With InPlace, a new version of the Istio goes to its revision, and istiod's image follows.
//! Statuses: the conditions Reconciled, Ready and InUse, and `state`.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::api::{self, WriteOptions};

use super::super::store::meta_str;
use super::operator::{Plan, deployment_health, install_istiod};
use super::{
    Cluster, Types, is_deleting, label, log_write, objects, owner_ref, set_condition, write_status,
};

/// The IstioRevision an `Istio` makes for its version.
pub(super) fn revision_name(istio: &Value) -> String {
    let name = meta_str(istio, "name");
    let strategy = istio
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .unwrap_or("InPlace");
    let version = istio
        .pointer("/spec/version")
        .and_then(Value::as_str)
        .unwrap_or("");
    if strategy == "RevisionBased" && !version.is_empty() {
        format!("{name}-{}", version.replace('.', "-"))
    } else {
        name.to_string()
    }
}

/// The IstioRevision of an `Istio`: its version, namespace and values, with `revision`
/// and `global.istioNamespace` set as the operator sets them.
fn revision_of(istio: &Value, name: &str) -> Value {
    let namespace = istio
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("istio-system");
    let mut values = istio
        .pointer("/spec/values")
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or(json!({}));
    if name != "default" {
        values["revision"] = json!(name);
    }
    values["global"]["istioNamespace"] = json!(namespace);
    json!({
        "apiVersion": "sailoperator.io/v1",
        "kind": "IstioRevision",
        "metadata": {
            "name": name,
            "labels": {"operator.istio.io/component": "IstioRevision"},
            "ownerReferences": [owner_ref(istio)],
        },
        "spec": {
            "version": istio.pointer("/spec/version").cloned().unwrap_or(json!("")),
            "namespace": namespace,
            "values": values,
        },
    })
}

pub(super) fn reconcile(cluster: &mut Cluster, types: &Types, now: Timestamp) {
    let (Some(istio_t), Some(rev_t)) = (&types.istio, &types.istio_revision) else {
        return;
    };
    for istio in objects(cluster, istio_t) {
        if is_deleting(istio.head()) {
            continue;
        }
        let name = revision_name(istio.head());
        let want = revision_of(istio.head(), &name);
        if let Some(have) = cluster.store.get(&rev_t.key(), "", &name).cloned() {
            // InPlace: a new version or new values of the Istio go to its one revision.
            if have.head().get("spec") != want.get("spec") && !is_deleting(have.head()) {
                let mut updated = have.full();
                updated["spec"] = want["spec"].clone();
                log_write(
                    "sail istio update",
                    &name,
                    api::update(cluster, rev_t, updated, None, &WriteOptions::internal()),
                );
            }
        } else {
            log_write(
                "sail istio",
                &name,
                api::create(cluster, rev_t, want, now, &WriteOptions::internal()),
            );
        }
    }
    for rev in objects(cluster, rev_t) {
        if is_deleting(rev.head()) {
            continue;
        }
        let plan = Plan::of_sail_revision(rev.head());
        if plan.installs_istiod() {
            install_istiod(cluster, types, &plan, now);
            roll_to_version(cluster, types, &plan);
        }
    }
}

/// An InPlace upgrade: istiod's image follows the revision's version (its Deployment rolls).
fn roll_to_version(cluster: &mut Cluster, types: &Types, plan: &Plan) {
    let name = plan.istiod_name();
    let Some(d) = cluster
        .store
        .get(&types.deployment.key(), plan.namespace(), &name)
        .cloned()
    else {
        return;
    };
    let image = plan.pilot_image();
    let pointer = "/spec/template/spec/containers/0/image";
    let mut updated = d.full();
    if updated.pointer(pointer).and_then(Value::as_str) == Some(image.as_str()) {
        return;
    }
    if let Some(v) = updated.pointer_mut(pointer) {
        *v = json!(image);
        log_write(
            "sail istiod version",
            &name,
            api::update(
                cluster,
                &types.deployment,
                updated,
                None,
                &WriteOptions::internal(),
            ),
        );
    }
}

/// Sets a condition whose reason and message are this controller's alone: a condition that
/// turns True loses the reason it had while False.
fn put_condition(status: &mut Value, cond: Value, now: &str) {
    if let Some(list) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in list
            .iter_mut()
            .filter(|c| c.get("type") == cond.get("type"))
        {
            if let Some(m) = c.as_object_mut() {
                m.remove("reason");
                m.remove("message");
            }
        }
    }
    set_condition(status, cond, now, false);
}

/// Whether a namespace or a pod (other than istiod's) names the revision.
fn in_use(cluster: &Cluster, types: &Types, revision: &str) -> bool {
    let names = |o: &Value| label(o, "istio.io/rev") == Some(revision);
    cluster
        .store
        .list("namespaces", None)
        .any(|n| names(n.head()))
        || cluster
            .store
            .list(&types.pod.key(), None)
            .any(|p| names(p.head()) && label(p.head(), "app") != Some("istiod"))
}

pub(super) fn update_status(cluster: &mut Cluster, types: &Types, now: Timestamp) {
    let (Some(istio_t), Some(rev_t)) = (&types.istio, &types.istio_revision) else {
        return;
    };
    let now = super::super::store::timestamp(now);
    for rev in objects(cluster, rev_t) {
        if is_deleting(rev.head()) {
            continue;
        }
        let plan = Plan::of_sail_revision(rev.head());
        let (health, error) = deployment_health(cluster, plan.namespace(), &plan.istiod_name());
        let mut status = rev.head().get("status").cloned().unwrap_or(json!({}));
        if !status.is_object() {
            status = json!({});
        }
        let reconciled = error.is_none();
        let ready = health == "HEALTHY";
        let state = match (reconciled, ready) {
            (false, _) => "ReconcileError",
            (true, false) => "IstiodNotReady",
            (true, true) => "Healthy",
        };
        let cond = |type_: &str, ok: bool, reason: &str, message: &str| {
            let mut c = json!({"type": type_, "status": if ok { "True" } else { "False" }});
            if !reason.is_empty() {
                c["reason"] = json!(reason);
            }
            if !message.is_empty() {
                c["message"] = json!(message);
            }
            c
        };
        put_condition(
            &mut status,
            cond(
                "Reconciled",
                reconciled,
                if reconciled { "" } else { "ReconcileError" },
                error.as_deref().unwrap_or(""),
            ),
            &now,
        );
        put_condition(
            &mut status,
            cond(
                "Ready",
                ready,
                if ready { "" } else { "IstiodNotReady" },
                if ready {
                    ""
                } else {
                    "not all istiod pods are ready"
                },
            ),
            &now,
        );
        let used = in_use(cluster, types, plan.revision());
        put_condition(
            &mut status,
            cond(
                "InUse",
                used,
                if used {
                    "ReferencedByWorkloads"
                } else {
                    "NotReferencedByAnything"
                },
                "",
            ),
            &now,
        );
        status["state"] = json!(state);
        if let Some(g) = rev.head().pointer("/metadata/generation") {
            status["observedGeneration"] = g.clone();
        }
        write_status(cluster, rev_t, &rev, status);
    }
    for istio in objects(cluster, istio_t) {
        if is_deleting(istio.head()) {
            continue;
        }
        let uid = meta_str(istio.head(), "uid");
        let owned: Vec<Value> = cluster
            .store
            .list(&rev_t.key(), None)
            .filter(|r| {
                r.head()
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| refs.iter().any(|o| o["uid"] == uid))
            })
            .map(|r| r.full())
            .collect();
        let is = |r: &Value, type_: &str| super::condition_status(r, type_) == Some("True");
        let active = revision_name(istio.head());
        let active_rev = owned.iter().find(|r| meta_str(r, "name") == active);
        let mut status = istio.head().get("status").cloned().unwrap_or(json!({}));
        if !status.is_object() {
            status = json!({});
        }
        status["activeRevisionName"] = json!(active);
        status["revisions"] = json!({
            "total": owned.len(),
            "ready": owned.iter().filter(|r| is(r, "Ready")).count(),
            "inUse": owned.iter().filter(|r| is(r, "InUse")).count(),
        });
        let (reconciled, ready) = active_rev
            .map(|r| (is(r, "Reconciled"), is(r, "Ready")))
            .unwrap_or((false, false));
        for (type_, ok, reason) in [
            ("Reconciled", reconciled, "ReconcileError"),
            ("Ready", ready, "IstiodNotReady"),
        ] {
            let mut c = json!({"type": type_, "status": if ok { "True" } else { "False" }});
            if !ok {
                c["reason"] = json!(reason);
            }
            put_condition(&mut status, c, &now);
        }
        status["state"] = json!(match (reconciled, ready) {
            (false, _) => "ReconcileError",
            (true, false) => "IstiodNotReady",
            (true, true) => "Healthy",
        });
        if let Some(g) = istio.head().pointer("/metadata/generation") {
            status["observedGeneration"] = g.clone();
        }
        write_status(cluster, istio_t, &istio, status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_named_by_the_update_strategy() {
        let istio = |strategy: Option<&str>| {
            let mut v = json!({"apiVersion": "sailoperator.io/v1", "kind": "Istio",
                "metadata": {"name": "default", "uid": "u1"},
                "spec": {"version": "v1.30.1", "namespace": "istio-system",
                         "values": {"pilot": {"autoscaleMin": 2}}}});
            if let Some(s) = strategy {
                v["spec"]["updateStrategy"] = json!({"type": s});
            }
            v
        };
        assert_eq!(revision_name(&istio(None)), "default");
        assert_eq!(revision_name(&istio(Some("InPlace"))), "default");
        assert_eq!(
            revision_name(&istio(Some("RevisionBased"))),
            "default-v1-30-1"
        );
        let r = revision_of(&istio(Some("RevisionBased")), "default-v1-30-1");
        assert_eq!(r["metadata"]["ownerReferences"][0]["kind"], "Istio");
        assert_eq!(
            r["spec"],
            json!({"version": "v1.30.1", "namespace": "istio-system", "values": {
                "pilot": {"autoscaleMin": 2}, "revision": "default-v1-30-1",
                "global": {"istioNamespace": "istio-system"}}})
        );
        // The default revision carries no revision value, as the operator writes it.
        let d = revision_of(&istio(None), "default");
        assert!(d["spec"]["values"].get("revision").is_none());
    }
}
