//! The `scale` subresource of Deployments, ReplicaSets and StatefulSets: an
//! `autoscaling/v1` Scale to read, replace or patch, as `kubectl scale` and autoscalers use it.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::api::{self, WriteOptions};
use super::error::{ApiError, FieldError};
use super::resources::ResourceType;
use super::store::{meta_str, resource_name};
use super::{Cluster, patch};

/// The Scale of a workload object.
pub fn view(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut m = json!({});
    for key in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(key) {
            m[key] = v.clone();
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector
        }
    })
}

/// How a client changes a Scale.
pub enum Change<'a> {
    /// PUT of a whole Scale.
    Replace(Value),
    /// PATCH with this content type and body.
    Patch(&'a str, Value),
}

/// Writes a new replica count through the object's update path; the Scale after it.
pub fn write(
    cluster: &mut Cluster,
    t: &ResourceType,
    ns: &str,
    name: &str,
    change: Change<'_>,
    q: &HashMap<String, String>,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let old = cluster
        .store
        .get(&t.key(), ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&resource_name(t), name))?;
    let current = view(old.head());
    let wanted = match change {
        Change::Replace(body) => body,
        Change::Patch(ct, body) => {
            if ct.starts_with("application/json-patch+json") {
                patch::json_patch(&current, &body)?
            } else if ct.starts_with("application/merge-patch+json")
                || ct.starts_with("application/strategic-merge-patch+json")
            {
                patch::merge_patch(&current, &body)
            } else {
                return Err(ApiError::unsupported_media_type(ct));
            }
        }
    };
    let sent_rv = meta_str(&wanted, "resourceVersion");
    if !sent_rv.is_empty() && sent_rv != meta_str(old.head(), "resourceVersion") {
        return Err(ApiError::conflict(&resource_name(t), name));
    }
    let replicas = wanted
        .pointer("/spec/replicas")
        .cloned()
        .unwrap_or(json!(0));
    if replicas.as_i64().is_none_or(|n| n < 0) {
        return Err(ApiError::invalid_fields(
            "Scale",
            "autoscaling",
            name,
            &[FieldError {
                field: "spec.replicas".into(),
                reason: "FieldValueInvalid",
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            }],
        ));
    }
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    // Whole, managed fields included: field ownership reads them.
    let old = old.full();
    let mut obj = old.clone();
    obj["spec"]["replicas"] = replicas;
    if let Some(m) = obj.pointer_mut("/metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    let manager = q
        .get("fieldManager")
        .cloned()
        .unwrap_or_else(|| "kubectl".to_string());
    patch::record_update(Some(&old), &mut obj, &manager, "Update", now);
    let updated = api::update(cluster, t, obj, None, &WriteOptions::client(dry_run))?;
    Ok(view(updated.head()))
}
