//! Reads of one object for the TUI's panes: a GET of the object, the Events about it, and a
//! pod's log stream. Reads only: nothing here writes.

use futures::{AsyncBufReadExt as _, Stream, StreamExt as _};
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

use super::{Connection, describe};
use crate::ops::inspect::{LOG_TAIL, ObjectRef, log_container};

fn api(conn: &Connection, object: &ObjectRef) -> Api<DynamicObject> {
    let (group, version, kind, plural) = object.kind.resource();
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match &object.namespace {
        Some(ns) => Api::namespaced_with(conn.client.clone(), ns, &resource),
        None => Api::all_with(conn.client.clone(), &resource),
    }
}

/// The object as the API server has it now; the error in the server's own words.
pub async fn get(conn: &Connection, object: &ObjectRef) -> Result<Value, String> {
    let found = api(conn, object)
        .get(&object.name)
        .await
        .map_err(|e| format!("{}: {}", object.label(), describe(&e)))?;
    serde_json::to_value(found).map_err(|e| e.to_string())
}

/// The Events about the object (`involvedObject` name, namespace and kind).
pub async fn events(conn: &Connection, object: &ObjectRef) -> Result<Vec<Value>, String> {
    let (_, _, kind, _) = object.kind.resource();
    let mut selector = format!(
        "involvedObject.name={},involvedObject.kind={kind}",
        object.name
    );
    if let Some(ns) = &object.namespace {
        selector.push_str(&format!(",involvedObject.namespace={ns}"));
    }
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Event"), "events");
    // A cluster-scoped object's Events may be in any namespace, as kubectl describe finds them.
    let events: Api<DynamicObject> = match &object.namespace {
        Some(ns) => Api::namespaced_with(conn.client.clone(), ns, &resource),
        None => Api::all_with(conn.client.clone(), &resource),
    };
    let list = events
        .list(&ListParams::default().fields(&selector))
        .await
        .map_err(|e| describe(&e))?;
    list.items
        .into_iter()
        .map(|e| serde_json::to_value(e).map_err(|e| e.to_string()))
        .collect()
}

/// A pod's log, its last lines then each new one as it is written, with the container it
/// reads. Dropping the stream closes the request.
pub async fn follow_logs(
    conn: &Connection,
    pod: &ObjectRef,
) -> Result<(String, impl Stream<Item = Result<String, String>> + use<>), String> {
    let found = get(conn, pod).await?;
    let container = log_container(&found)
        .ok_or_else(|| format!("{}: the pod has no container", pod.label()))?;
    let ns = pod.namespace.as_deref().unwrap_or("default");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(conn.client.clone(), ns);
    let params = LogParams {
        container: Some(container.clone()),
        follow: true,
        tail_lines: Some(LOG_TAIL),
        ..LogParams::default()
    };
    let reader = pods
        .log_stream(&pod.name, &params)
        .await
        .map_err(|e| format!("{} logs: {}", pod.label(), describe(&e)))?;
    let lines = reader
        .lines()
        .map(|l| l.map_err(|e| format!("the log stream broke: {e}")));
    Ok((container, lines))
}
