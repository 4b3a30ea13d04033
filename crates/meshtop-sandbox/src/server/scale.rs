//! The `scale` subresource of Deployments, ReplicaSets and StatefulSets (`autoscaling/v1`
//! `Scale`), as `kubectl scale` and the HorizontalPodAutoscaler use it: read the replicas,
//! or change them by a patch or a replace of the Scale; the workload controllers do the rest.

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Incoming;
use serde_json::{Value, json};

use super::super::api::{self, WriteOptions};
use super::super::error::ApiError;
use super::super::resources::ResourceType;
use super::super::store::{meta_str, resource_name};
use super::super::{Shared, patch};
use super::{Body, content_type, is_dry_run, json_response, parse_object, read_body};

/// The Scale of a workload object, with its selector as the API server writes it.
pub(super) fn of(obj: &Value) -> Value {
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
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta_str(obj, "name"),
            "namespace": meta_str(obj, "namespace"),
            "uid": meta_str(obj, "uid"),
            "resourceVersion": meta_str(obj, "resourceVersion"),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

/// GET, PATCH or PUT of `…/{name}/scale`.
pub(super) async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    t: &ResourceType,
    ns: &str,
    name: &str,
    verb: &str,
    q: &HashMap<String, String>,
) -> Result<hyper::Response<Body>, ApiError> {
    let current = |shared: &Shared| {
        shared
            .lock()
            .store
            .get(&t.key(), ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&resource_name(t), name))
    };
    if verb == "get" {
        let obj = current(&shared)?;
        return Ok(json_response(200, &of(&obj)));
    }
    let (parts, bytes) = read_body(req).await?;
    let ct = content_type(&parts);
    let old = current(&shared)?;
    let scale = of(&old);
    let new_scale = match verb {
        "update" => parse_object(&bytes, &ct)?,
        "patch" => {
            let body: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if ct.starts_with("application/json-patch+json") {
                patch::json_patch(&scale, &body)?
            } else if ct.starts_with("application/merge-patch+json")
                || ct.starts_with("application/strategic-merge-patch+json")
            {
                patch::merge_patch(&scale, &body)
            } else {
                return Err(ApiError::unsupported_media_type(&ct));
            }
        }
        _ => {
            return Err(ApiError::method_not_allowed(
                "scale takes get, patch and update",
            ));
        }
    };
    let replicas = match new_scale.pointer("/spec/replicas") {
        Some(Value::Number(n)) => n.as_i64().filter(|r| *r >= 0),
        None | Some(Value::Null) => Some(0),
        Some(_) => None,
    }
    .ok_or_else(|| {
        ApiError::invalid(
            "Scale",
            &format!("{}.{}", t.plural, t.group),
            name,
            "spec.replicas",
            "must be greater than or equal to 0",
        )
    })?;
    let sent_rv = meta_str(&new_scale, "resourceVersion");
    if !sent_rv.is_empty() && sent_rv != meta_str(&old, "resourceVersion") {
        return Err(ApiError::conflict(&resource_name(t), name));
    }
    let mut obj = (*old).clone();
    obj["spec"]["replicas"] = json!(replicas);
    let dry_run = is_dry_run(q);
    let mut cluster = shared.lock();
    let updated = api::update(&mut cluster, t, obj, None, &WriteOptions::client(dry_run))?;
    if !dry_run {
        shared.reconcile(&mut cluster);
    }
    Ok(json_response(200, &of(&updated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_carries_the_replicas_and_the_selector() {
        let d = json!({"metadata": {"name": "web", "namespace": "shop", "uid": "u",
            "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "v": "1"}}},
            "status": {"replicas": 2}});
        let s = of(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web,v=1");
        assert_eq!(s["metadata"]["resourceVersion"], "7");
    }
}
