//! Moving a revision tag, as data: `istioctl tag set TAG --revision REV [--overwrite]`. The
//! tag's MutatingWebhookConfiguration is regenerated from the target revision's injector
//! webhook (its clientConfig, the tag's selectors, `istio.io/rev`), its Service follows the
//! revision's istiod, and where Sail manages the revision its `IstioRevisionTag` is written
//! instead. The `default` tag also takes `istio-injection=enabled` and the cluster-wide
//! validation (`istiod-default-validator`, from the revision's validating webhook). The preview says which namespaces move and which workloads need a restart.

use serde_json::{Value, json};

use super::plan::{PlanLine, list_some};
use super::{ActionError, label};
use crate::model::Model;

/// `istio.io/rev`.
pub const REV_LABEL: &str = "istio.io/rev";
/// `istio.io/tag`: on a tag's webhook and Service.
pub const TAG_LABEL: &str = "istio.io/tag";
/// The tag `default` also owns `istio-injection=enabled`.
pub const DEFAULT_TAG: &str = "default";

/// The tag's webhook, as istioctl and the Helm chart name it (in istio-system).
pub fn webhook_name(tag: &str) -> String {
    format!("istio-revision-tag-{tag}")
}

/// The tag's Service (Istio 1.28 and later).
pub fn service_name(tag: &str) -> String {
    format!("istiod-revision-tag-{tag}")
}

/// Checks a tag's and a revision's names: both are label values and name objects.
pub fn validate(tag: &str, revision: &str) -> Result<(), ActionError> {
    label::validate_revision(tag).map_err(|e| ActionError::Invalid(format!("invalid tag: {e}")))?;
    label::validate_revision(revision)
}

fn selector(expressions: Value) -> Value {
    json!({ "matchExpressions": expressions })
}

fn not_opted_out() -> Value {
    json!({"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]})
}

/// The namespace and object selectors of one of a tag's injector webhooks, by the webhook's
/// name (`rev.namespace.sidecar-injector.istio.io`…), as the `revision-tags` chart template
/// writes them; `None` for a webhook a tag does not carry.
pub fn tag_selectors(webhook: &str, tag: &str) -> Option<(Value, Value)> {
    let injection_absent = json!({"key": "istio-injection", "operator": "DoesNotExist"});
    let rev_absent = json!({"key": REV_LABEL, "operator": "DoesNotExist"});
    let rev_is_tag = json!({"key": REV_LABEL, "operator": "In", "values": [tag]});
    let suffix = webhook.rsplit_once("sidecar-injector.istio.io")?.0;
    Some(match suffix {
        "rev.namespace." => (
            selector(json!([rev_is_tag, injection_absent])),
            selector(json!([not_opted_out()])),
        ),
        "rev.object." => (
            selector(json!([rev_absent, injection_absent])),
            selector(json!([not_opted_out(), rev_is_tag])),
        ),
        "namespace." if tag == DEFAULT_TAG => (
            selector(json!([{"key": "istio-injection", "operator": "In", "values": ["enabled"]}])),
            selector(json!([not_opted_out()])),
        ),
        "object." if tag == DEFAULT_TAG => (
            selector(json!([injection_absent, rev_absent])),
            selector(json!([
                {"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]},
                rev_absent
            ])),
        ),
        _ => return None,
    })
}

/// The tag's webhook configuration regenerated from the revision's injector webhook
/// configuration `canonical`: its webhooks' clientConfig and rules, the tag's selectors, its
/// labels with `istio.io/rev` the revision and `istio.io/tag` the tag. `existing`: the tag's
/// webhook now, whose name and resourceVersion the replace keeps.
pub fn tag_webhook(
    canonical: &Value,
    existing: Option<&Value>,
    tag: &str,
    revision: &str,
) -> Result<Value, ActionError> {
    let webhooks: Vec<Value> = canonical
        .get("webhooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|w| {
            let name = w.get("name")?.as_str()?;
            let (ns, obj) = tag_selectors(name, tag)?;
            let mut w = w.clone();
            w["namespaceSelector"] = ns;
            w["objectSelector"] = obj;
            Some(w)
        })
        .collect();
    if !webhooks.iter().any(|w| {
        w.get("name").and_then(Value::as_str) == Some("rev.namespace.sidecar-injector.istio.io")
    }) {
        return Err(ActionError::Refused(format!(
            "cannot modify tag: the injector webhook of revision {revision:?} has no \
             rev.namespace.sidecar-injector.istio.io webhook to copy"
        )));
    }
    let mut labels = canonical
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    labels[REV_LABEL] = json!(revision);
    labels[TAG_LABEL] = json!(tag);
    let mut metadata = json!({
        "name": existing
            .and_then(|e| e.pointer("/metadata/name"))
            .cloned()
            .unwrap_or_else(|| json!(webhook_name(tag))),
        "labels": labels,
    });
    if let Some(a) = canonical.pointer("/metadata/annotations") {
        metadata["annotations"] = a.clone();
    }
    if let Some(rv) = existing.and_then(|e| e.pointer("/metadata/resourceVersion")) {
        metadata["resourceVersion"] = rv.clone();
    }
    Ok(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": webhooks,
    }))
}

/// The validating webhook the `default` tag also owns: `istiod-default-validator` validates
/// Istio's resources cluster-wide for the default revision (`istioctl tag set default`).
pub const DEFAULT_VALIDATOR: &str = "istiod-default-validator";

/// `istiod-default-validator` regenerated from the revision's own validating webhook
/// configuration `canonical` (its webhooks' clientConfig and rules), labelled with the revision
/// and the tag `default`; `existing`: the one there now, whose resourceVersion the replace
/// keeps.
pub fn default_validator(canonical: &Value, existing: Option<&Value>, revision: &str) -> Value {
    let mut labels = canonical
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    labels[REV_LABEL] = json!(revision);
    labels[TAG_LABEL] = json!(DEFAULT_TAG);
    let mut metadata = json!({"name": DEFAULT_VALIDATOR, "labels": labels});
    if let Some(rv) = existing.and_then(|e| e.pointer("/metadata/resourceVersion")) {
        metadata["resourceVersion"] = rv.clone();
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": canonical.get("webhooks").cloned().unwrap_or_else(|| json!([])),
    })
}

/// The merge patch pointing a tag's Service at the revision's istiod.
pub fn service_patch(revision: &str) -> Value {
    json!({
        "metadata": {"labels": {REV_LABEL: revision}},
        "spec": {"selector": {"app": "istiod", REV_LABEL: revision}},
    })
}

/// Sail's `IstioRevisionTag` pointing the tag at the revision.
pub fn sail_revision_tag(tag: &str, revision: &str) -> Value {
    json!({
        "apiVersion": "sailoperator.io/v1",
        "kind": "IstioRevisionTag",
        "metadata": {"name": tag},
        "spec": {"targetRef": {"kind": "IstioRevision", "name": revision}},
    })
}

/// The namespaces that follow a tag (`istio.io/rev=TAG`), by name.
pub fn namespaces_of(model: &Model, tag: &str) -> Vec<String> {
    model
        .namespaces()
        .into_iter()
        .filter(|n| n.rev_label.as_deref() == Some(tag))
        .map(|n| n.name.to_string())
        .collect()
}

/// The preview of a tag move, from the model as it is now.
pub fn plan(
    model: &Model,
    tag: &str,
    revision: &str,
    overwrite: bool,
    restart: bool,
) -> Vec<PlanLine> {
    let mut out = Vec::new();
    let rows = model.revisions();
    let tags = model.revision_tags();
    let from = tags.get(tag).map(ToString::to_string);
    let Some(target) = rows.iter().find(|r| r.revision.as_ref() == revision) else {
        out.push(PlanLine::bad(format!(
            "no revision {revision} runs in the cluster: a tag must point at a revision's istiod"
        )));
        return out;
    };
    if target.is_legacy() {
        out.push(PlanLine::bad(
            "the non-revisioned control plane has no injector a tag could point at",
        ));
        return out;
    }
    if rows.iter().any(|r| r.revision.as_ref() == tag) {
        out.push(PlanLine::bad(format!(
            "cannot create revision tag {tag:?}: found existing control plane revision with same name"
        )));
        return out;
    }
    if target.istiod_ready == 0 {
        out.push(PlanLine::bad(format!(
            "revision {revision} runs no ready istiod ({}/{} ready): new pods would not be injected",
            target.istiod_ready, target.istiod_desired
        )));
    }
    match &from {
        Some(f) if f == revision => {
            out.push(PlanLine::dim(format!(
                "tag {tag} already points at {revision}: the webhook is regenerated, nothing moves"
            )));
        }
        Some(f) if !overwrite => {
            out.push(PlanLine::bad(format!(
                "revision tag {tag:?} already exists (on {f}), and --overwrite is false"
            )));
            return out;
        }
        Some(f) => out.push(PlanLine::plain(format!("tag {tag}: {f} → {revision}"))),
        None => out.push(PlanLine::plain(format!("tag {tag}: new, on {revision}"))),
    }
    let sail = target
        .installed_by
        .as_deref()
        .is_some_and(|i| i.starts_with("sail"));
    if sail {
        out.push(PlanLine::plain(format!(
            "{revision} is managed by Sail: istiorevisiontag.sailoperator.io/{tag} gets \
             spec.targetRef IstioRevision/{revision}, and Sail regenerates the webhook"
        )));
    } else {
        out.push(PlanLine::plain(format!(
            "mutatingwebhookconfiguration/{}: regenerated from the injector webhook of \
             {revision} (its clientConfig: service istiod-{revision}), selecting istio.io/rev={tag}; \
             istio.io/rev={revision}",
            webhook_name(tag)
        )));
        out.push(PlanLine::plain(format!(
            "service/{} (if present, Istio 1.28+): selector istio.io/rev={revision}",
            service_name(tag)
        )));
        if tag == DEFAULT_TAG {
            out.push(PlanLine::plain(format!(
                "validatingwebhookconfiguration/{DEFAULT_VALIDATOR}: regenerated from the \
                 validating webhook of {revision}, which then validates Istio's resources \
                 cluster-wide (left as it is if {revision} has none); the default tag also \
                 injects namespaces labelled istio-injection=enabled"
            )));
        }
        if let Some(helm) = target
            .installed_by
            .as_deref()
            .and_then(|i| i.strip_prefix("helm "))
        {
            out.push(PlanLine::warn(format!(
                "Helm installed {revision} (release {helm}): give the release revisionTags \
                 [{tag}] too, or the next helm upgrade of the tag's release puts it back"
            )));
        }
    }
    let namespaces = namespaces_of(model, tag);
    if namespaces.is_empty() {
        out.push(PlanLine::dim(format!("no namespace follows tag {tag}")));
        return out;
    }
    let moving = from.as_deref() != Some(revision);
    out.push(PlanLine::plain(format!(
        "{} {}: {}",
        if moving {
            "moves the new pods of"
        } else {
            "followed by"
        },
        super::outcome::count(namespaces.len(), "namespace"),
        list_some(&namespaces, 8)
    )));
    let mut any = false;
    for ns in &namespaces {
        let workloads = super::plan::namespace_workloads(model, ns, Some(revision));
        if workloads.is_empty() {
            continue;
        }
        any = true;
        out.push(PlanLine::plain(format!(
            "  {ns}: {}",
            workloads
                .iter()
                .map(|(w, revs)| format!("{w} ({})", super::plan::describe_pods(revs)))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    if !any {
        out.push(PlanLine::good("every pod there already runs a proxy of it"));
    } else if restart {
        out.push(PlanLine::plain(
            "then rollout restart every workload of these namespaces, one at a time, waiting \
             for each rollout",
        ));
    } else {
        out.push(PlanLine::dim(
            "running pods keep their proxies until restarted (t adds the restart)",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_webhook_is_the_revisions_injector_with_the_tags_selectors() {
        let canonical = json!({
            "metadata": {"name": "istio-sidecar-injector-1-30-1",
                "labels": {"istio.io/rev": "1-30-1", "app": "sidecar-injector"},
                "annotations": {"meta.helm.sh/release-name": "istiod-1-30-1"}},
            "webhooks": [
                {"name": "rev.namespace.sidecar-injector.istio.io",
                 "clientConfig": {"service": {"name": "istiod-1-30-1", "namespace": "istio-system", "path": "/inject"}},
                 "namespaceSelector": {"matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": ["1-30-1"]}]}},
                {"name": "rev.object.sidecar-injector.istio.io",
                 "clientConfig": {"service": {"name": "istiod-1-30-1", "namespace": "istio-system", "path": "/inject"}}},
                {"name": "namespace.sidecar-injector.istio.io"}
            ]
        });
        let existing = json!({"metadata": {"name": "istio-revision-tag-prod-stable", "resourceVersion": "41"}});
        let wh = tag_webhook(&canonical, Some(&existing), "prod-stable", "1-30-1").expect("made");
        assert_eq!(wh["metadata"]["name"], "istio-revision-tag-prod-stable");
        assert_eq!(wh["metadata"]["resourceVersion"], "41");
        assert_eq!(wh["metadata"]["labels"]["istio.io/rev"], "1-30-1");
        assert_eq!(wh["metadata"]["labels"]["istio.io/tag"], "prod-stable");
        let hooks = wh["webhooks"].as_array().expect("webhooks");
        assert_eq!(
            hooks.len(),
            2,
            "a tag other than default has no legacy webhooks"
        );
        assert_eq!(hooks[0]["clientConfig"]["service"]["name"], "istiod-1-30-1");
        assert_eq!(
            hooks[0]["namespaceSelector"]["matchExpressions"][0]["values"][0],
            "prod-stable"
        );
        assert_eq!(
            hooks[1]["objectSelector"]["matchExpressions"][1],
            json!({"key": "istio.io/rev", "operator": "In", "values": ["prod-stable"]})
        );
        let new = tag_webhook(&canonical, None, "default", "1-30-1").expect("made");
        assert_eq!(new["metadata"]["name"], "istio-revision-tag-default");
        assert_eq!(new["webhooks"].as_array().map(Vec::len), Some(3));
        assert!(tag_webhook(&json!({"webhooks": []}), None, "x", "1-30-1").is_err());
        assert_eq!(
            sail_revision_tag("prod", "1-30-1")["spec"]["targetRef"],
            json!({"kind": "IstioRevision", "name": "1-30-1"})
        );
    }
}
