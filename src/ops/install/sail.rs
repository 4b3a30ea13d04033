//! The Sail route: where the Sail operator manages the cluster's revisions, a new revision is
//! an `IstioRevision` (sailoperator.io/v1, cluster-scoped) named after it, with the version
//! (`v1.30.1`), the namespace and the istiod chart's values the form gives; the operator
//! installs its istiod. The resource is shown in the preview and editable in `$EDITOR`; its
//! name and `spec.values.revision` cannot change there.

use serde_json::{Map, Value, json};

use super::super::ActionError;
use super::form::RevisionForm;
use super::render::at;

pub const SAIL_API_VERSION: &str = "sailoperator.io/v1";
pub const ISTIO_REVISION_KIND: &str = "IstioRevision";

/// `1.30.1` → `v1.30.1`, as Sail writes versions.
fn sail_version(tag: &str) -> String {
    if tag.starts_with('v') {
        tag.to_string()
    } else {
        format!("v{tag}")
    }
}

/// The IstioRevision of a revision form; `version` is the form's tag, else the newest
/// revision's version.
pub fn istio_revision(
    form: &RevisionForm,
    version: &str,
    istio_namespace: &str,
) -> Result<Value, ActionError> {
    let mut values = Value::Object(Map::new());
    *at(&mut values, &["revision"]) = json!(form.revision);
    *at(&mut values, &["global", "istioNamespace"]) = json!(istio_namespace);
    if let Some(hub) = &form.hub {
        *at(&mut values, &["global", "hub"]) = json!(hub);
    }
    if !form.node_selector.is_empty() {
        *at(&mut values, &["pilot", "nodeSelector"]) = json!(form.node_selector);
    }
    let (min, max) = form.hpa_bounds();
    *at(&mut values, &["pilot", "autoscaleMin"]) = json!(min);
    *at(&mut values, &["pilot", "autoscaleMax"]) = json!(max);
    let tag = form.tag.as_deref().unwrap_or(version);
    if tag.is_empty() {
        return Err(ActionError::Invalid(
            "tag: the Sail operator needs the Istio version to install (--tag 1.30.1)".into(),
        ));
    }
    Ok(json!({
        "apiVersion": SAIL_API_VERSION,
        "kind": ISTIO_REVISION_KIND,
        "metadata": {"name": form.revision},
        "spec": {
            "version": sail_version(tag),
            "namespace": istio_namespace,
            "values": values,
        },
    }))
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// An edited IstioRevision: still one, with the planned name and `spec.values.revision`, a
/// version and a namespace.
pub fn edited(yaml: &str, planned: &Value) -> Result<Value, ActionError> {
    let bad = |why: String| ActionError::Invalid(format!("not an IstioRevision: {why}"));
    let v: Value = serde_yaml::from_str(yaml).map_err(|e| bad(e.to_string()))?;
    for (field, want) in [
        ("/apiVersion", SAIL_API_VERSION),
        ("/kind", ISTIO_REVISION_KIND),
    ] {
        if text(&v, field) != want {
            return Err(bad(format!(
                "{} is {:?}, expected {want}",
                &field[1..],
                text(&v, field)
            )));
        }
    }
    for (field, what) in [
        ("/metadata/name", "metadata.name"),
        ("/spec/values/revision", "spec.values.revision"),
        ("/spec/namespace", "spec.namespace"),
    ] {
        let (was, now) = (text(planned, field), text(&v, field));
        if was != now {
            return Err(bad(format!(
                "the edit changes {what} from {was:?} to {now:?}: that was checked against the \
                 cluster; start a new install instead"
            )));
        }
    }
    if text(&v, "/spec/version").is_empty() {
        return Err(bad("spec.version is empty".into()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_resource_and_its_edits() {
        let mut f = RevisionForm::new("default-v1-30-1");
        f.hpa_min = Some(2);
        let r = istio_revision(&f, "1.30.1", "istio-system").expect("a version");
        assert_eq!(
            r,
            json!({
                "apiVersion": "sailoperator.io/v1",
                "kind": "IstioRevision",
                "metadata": {"name": "default-v1-30-1"},
                "spec": {"version": "v1.30.1", "namespace": "istio-system", "values": {
                    "revision": "default-v1-30-1",
                    "global": {"istioNamespace": "istio-system"},
                    "pilot": {"autoscaleMin": 2, "autoscaleMax": 5},
                }},
            })
        );
        assert!(istio_revision(&f, "", "istio-system").is_err());
        let yaml = serde_yaml::to_string(&r).expect("yaml");
        let more = yaml.replace("autoscaleMin: 2", "autoscaleMin: 3");
        let e = edited(&more, &r).expect("an edit of values");
        assert_eq!(e["spec"]["values"]["pilot"]["autoscaleMin"], 3);
        for bad in [
            yaml.replace("name: default-v1-30-1", "name: other"),
            yaml.replace("kind: IstioRevision", "kind: Istio"),
            yaml.replace("version: v1.30.1", "version: ''"),
            "- a\n".to_string(),
        ] {
            let err = edited(&bad, &r).expect_err(&bad);
            assert!(err.to_string().starts_with("not an IstioRevision"), "{err}");
        }
    }
}
