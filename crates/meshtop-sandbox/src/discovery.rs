//! Discovery documents (`/version`, `/api`, `/apis`, resource lists).

use serde_json::{Value, json};

use super::Cluster;
use super::resources::{Registry, ResourceType};

/// Extra facts discovery gives about a subresource: (kind, verbs, group, version).
fn subresource_info(
    t: &ResourceType,
    sub: &str,
) -> (
    String,
    Vec<&'static str>,
    Option<(&'static str, &'static str)>,
) {
    match (t.kind.as_str(), sub) {
        (_, "status") => (t.kind.clone(), vec!["get", "patch", "update"], None),
        ("Pod", "eviction") => ("Eviction".into(), vec!["create"], Some(("policy", "v1"))),
        ("Pod", "proxy") => (
            "PodProxyOptions".into(),
            vec!["create", "delete", "get", "patch", "update"],
            None,
        ),
        ("Node", "proxy") => (
            "NodeProxyOptions".into(),
            vec!["create", "delete", "get", "patch", "update"],
            None,
        ),
        ("Service", "proxy") => (
            "ServiceProxyOptions".into(),
            vec!["create", "delete", "get", "patch", "update"],
            None,
        ),
        ("Pod", "portforward") => ("PodPortForwardOptions".into(), vec!["create", "get"], None),
        ("Pod", "log") => ("Pod".into(), vec!["get"], None),
        ("Pod", "binding") => ("Binding".into(), vec!["create"], None),
        (_, "scale") => (
            "Scale".into(),
            vec!["get", "patch", "update"],
            Some(("autoscaling", "v1")),
        ),
        ("Namespace", "finalize") => ("Namespace".into(), vec!["update"], None),
        _ => (t.kind.clone(), vec!["get"], None),
    }
}

/// `/api/v1`, `/apis/{group}/{version}`.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = registry
        .all()
        .iter()
        .filter(|t| t.group == group && t.versions.iter().any(|v| v == version))
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in types {
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs(),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        for sub in &t.subresources {
            let (kind, verbs, gv) = subresource_info(t, sub);
            let mut r = json!({
                "name": format!("{}/{sub}", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if let Some((g, v)) = gv {
                r["group"] = json!(g);
                r["version"] = json!(v);
            }
            resources.push(r);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn group_doc(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

fn version_doc(git_version: &str) -> Value {
    let trimmed = git_version.trim_start_matches('v');
    let mut parts = trimmed.split(['.', '-', '+']);
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("0");
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The documents served at fixed paths, or `None` for paths handled elsewhere.
pub fn document(cluster: &Cluster, path: &str) -> Option<Value> {
    let registry = &cluster.registry;
    match path.trim_end_matches('/') {
        "/version" => Some(version_doc(&cluster.settings.server_version)),
        "/api" => Some(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        })),
        "/apis" => Some(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": registry.groups().iter().map(|(g, vs)| group_doc(g, vs)).collect::<Vec<_>>(),
        })),
        p if p.starts_with("/apis/") && p.matches('/').count() == 2 => {
            let g = p.trim_start_matches("/apis/");
            registry
                .groups()
                .into_iter()
                .find(|(name, _)| name == g)
                .map(|(name, vs)| {
                    let mut d = group_doc(&name, &vs);
                    d["kind"] = json!("APIGroup");
                    d["apiVersion"] = json!("v1");
                    d
                })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_names_eviction_with_its_group_version() {
        let reg = Registry::new();
        let doc = resource_list(&reg, "", "v1").expect("v1");
        let ev = doc["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|x| x["name"] == "pods/eviction"))
            .expect("pods/eviction");
        assert_eq!(ev["group"], "policy");
        assert_eq!(ev["version"], "v1");
        assert_eq!(ev["kind"], "Eviction");
        assert!(resource_list(&reg, "apps", "v1").is_some());
        assert!(resource_list(&reg, "apps", "v2").is_none());
    }

    #[test]
    fn version_document_splits_major_minor() {
        let v = version_doc("v1.15.6");
        assert_eq!(
            (v["major"].as_str(), v["minor"].as_str()),
            (Some("1"), Some("15"))
        );
    }
}
