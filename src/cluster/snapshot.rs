//! Reads what `meshtop snapshot` copies: every object of the kinds meshtop models, in every
//! namespace the user may list, as the API server holds it. A kind refused (403) is named
//! and left out; a kind whose CRD is absent is skipped.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

use super::connect::Connection;

/// A built-in kind meshtop models: (group, version, kind, plural).
const BUILT_IN_KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "Namespace", "namespaces"),
    ("", "v1", "Node", "nodes"),
    ("", "v1", "Pod", "pods"),
    ("", "v1", "Service", "services"),
    ("", "v1", "ConfigMap", "configmaps"),
    ("apps", "v1", "Deployment", "deployments"),
    ("apps", "v1", "ReplicaSet", "replicasets"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("apps", "v1", "DaemonSet", "daemonsets"),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
    ),
];

/// The CRDs of the custom kinds meshtop models, copied with their objects when present.
pub const MODELLED_CRDS: &[&str] = &[
    "istiooperators.install.istio.io",
    "gateways.networking.istio.io",
    "gatewayclasses.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
];

/// What was read: the objects (CRDs included) and a warning per kind left out.
#[derive(Debug, Default)]
pub struct ClusterCopy {
    pub objects: Vec<Value>,
    pub warnings: Vec<String>,
    /// The API server's `gitVersion`, when /version answered.
    pub server_version: Option<String>,
}

/// Reads every kind; only a failure to reach the server at all is an error.
pub async fn read(conn: &Connection) -> Result<ClusterCopy, String> {
    let client = conn.client.clone();
    let mut copy = ClusterCopy {
        server_version: client.apiserver_version().await.ok().map(|v| v.git_version),
        ..ClusterCopy::default()
    };
    let mut kinds: Vec<(ApiResource, bool)> = BUILT_IN_KINDS
        .iter()
        .map(|(group, version, kind, plural)| {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let namespaced =
                !matches!(*kind, "Namespace" | "Node" | "MutatingWebhookConfiguration");
            (ApiResource::from_gvk_with_plural(&gvk, plural), namespaced)
        })
        .collect();
    let crd_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    );
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource);
    for name in MODELLED_CRDS {
        match crds.get_opt(name).await {
            Ok(Some(crd)) => {
                let mut value = serde_json::to_value(&crd).map_err(|e| e.to_string())?;
                value["apiVersion"] = Value::from("apiextensions.k8s.io/v1");
                value["kind"] = Value::from("CustomResourceDefinition");
                if let Some(kind) = custom_kind(&value) {
                    kinds.push(kind);
                }
                copy.objects.push(value);
            }
            Ok(None) => {}
            Err(e) => copy
                .warnings
                .push(format!("customresourcedefinitions {name}: {}", reason(&e))),
        }
    }
    let mut namespaces: Vec<String> = Vec::new();
    for (resource, namespaced) in &kinds {
        let all: Api<DynamicObject> = Api::all_with(client.clone(), resource);
        match list_all(&all, resource).await {
            Ok(items) => copy.objects.extend(items),
            Err(e) if forbidden(&e) && *namespaced && !namespaces.is_empty() => {
                // Refused across the cluster: the namespaces the user may list, one by one.
                for ns in &namespaces {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client.clone(), ns, resource);
                    match list_all(&api, resource).await {
                        Ok(items) => copy.objects.extend(items),
                        Err(e) => copy.warnings.push(format!(
                            "{} in {ns}: {}",
                            resource.plural,
                            reason(&e)
                        )),
                    }
                }
            }
            Err(e) if is_unreachable(&e) => {
                return Err(format!("cannot read the cluster: {}", reason(&e)));
            }
            Err(e) => copy
                .warnings
                .push(format!("{}: {}", resource.plural, reason(&e))),
        }
        if resource.kind == "Namespace" {
            namespaces = copy
                .objects
                .iter()
                .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"))
                .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
        }
    }
    Ok(copy)
}

/// The kind a CRD serves, at its storage version.
fn custom_kind(crd: &Value) -> Option<(ApiResource, bool)> {
    let group = crd.pointer("/spec/group")?.as_str()?;
    let kind = crd.pointer("/spec/names/kind")?.as_str()?;
    let plural = crd.pointer("/spec/names/plural")?.as_str()?;
    let versions = crd.pointer("/spec/versions")?.as_array()?;
    let version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .or_else(|| versions.first())?
        .get("name")?
        .as_str()?;
    let namespaced = crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, plural), namespaced))
}

/// Every object, page by page, each with its `apiVersion` and `kind` (lists leave them out).
async fn list_all(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
) -> Result<Vec<Value>, kube::Error> {
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await?;
        for item in &page.items {
            if let Ok(mut v) = serde_json::to_value(item) {
                v["apiVersion"] = Value::from(resource.api_version.clone());
                v["kind"] = Value::from(resource.kind.clone());
                out.push(v);
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

fn forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}

fn is_unreachable(e: &kube::Error) -> bool {
    !matches!(e, kube::Error::Api(_))
}

fn reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!("forbidden: {}", s.message),
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}
