//! `meshtop snapshot`: turns what was read of a cluster and istiod's sync answers into a
//! scenario file (assets/scenario-format.txt) the sandbox loads as that cluster: ordinary
//! manifests with status, uids and owner references, istiod's states as pod annotations.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::model::sync::{SyncState, XdsType};
use crate::model::syncz::ProxyStatusRow;

const PREFIX: &str = "sandbox.meshtop.dev/";

/// What istiod reported of one proxy, as the scenario's pod annotations say it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyFacts {
    pub istiod: String,
    /// `TYPE=STATE` for each type not SYNCED (and watched), e.g. `RDS=NOT SENT`.
    pub xds: String,
    /// The last NACK of a type in ERROR.
    pub error: Option<String>,
}

/// Each proxy's facts by (namespace, pod), from the first istiod replica reporting it.
pub fn proxy_facts(rows: &[ProxyStatusRow]) -> BTreeMap<(String, String), ProxyFacts> {
    let mut out = BTreeMap::new();
    for row in rows {
        let s = &row.status;
        let key = (s.namespace.to_string(), s.pod.to_string());
        if out.contains_key(&key) {
            continue;
        }
        let mut pinned = Vec::new();
        let mut error = None;
        for t in XdsType::EVERY {
            let state = s.state(t);
            if matches!(state, SyncState::Synced | SyncState::Ignored) {
                continue;
            }
            pinned.push(format!("{}={}", t.short(), state.label()));
            if state == SyncState::Error && error.is_none() {
                error = s.xds[t as usize].last_error.as_ref().map(|e| e.to_string());
            }
        }
        out.insert(
            key,
            ProxyFacts {
                istiod: row.istiod.to_string(),
                xds: pinned.join(","),
                error,
            },
        );
    }
    out
}

/// Whether an object belongs in the copy: never a Secret, and of ConfigMaps only Istio's.
fn kept(obj: &Value) -> bool {
    match obj.get("kind").and_then(Value::as_str) {
        Some("Secret" | "ServiceAccount") | None => false,
        Some("ConfigMap") => obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.starts_with("istio")),
        _ => true,
    }
}

/// An object as a manifest: what the API server alone keeps (managedFields,
/// resourceVersion, selfLink) removed; labels and annotations in key order, so a copy of a
/// copy reads the same.
fn manifest(mut obj: Value) -> Value {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in ["managedFields", "resourceVersion", "selfLink"] {
            m.remove(f);
        }
    }
    obj
}

fn sort_labels_and_annotations(obj: &mut Value) {
    let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for f in ["labels", "annotations"] {
        if let Some(Value::Object(map)) = m.get_mut(f) {
            let mut sorted: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            map.extend(sorted);
        }
    }
}

fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn annotations(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let m = obj.get_mut("metadata")?.as_object_mut()?;
    m.entry("annotations")
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

/// The scenario: CRDs, Namespaces, Nodes, then everything else, each by namespace and name;
/// kube-system carrying the server version; each proxy's pod its istiod and pinned states.
pub fn scenario(
    objects: Vec<Value>,
    server_version: Option<&str>,
    proxies: &BTreeMap<(String, String), ProxyFacts>,
) -> Vec<Value> {
    let mut docs: Vec<Value> = objects.into_iter().filter(kept).map(manifest).collect();
    // The sandbox needs every namespace an object uses declared, and kube-system for its
    // settings, even when the namespaces could not be listed.
    let declared: BTreeSet<String> = docs
        .iter()
        .filter(|d| d.get("kind").and_then(Value::as_str) == Some("Namespace"))
        .map(|d| meta(d, "name").to_string())
        .collect();
    let mut used: BTreeSet<String> = docs
        .iter()
        .map(|d| meta(d, "namespace").to_string())
        .filter(|ns| !ns.is_empty())
        .collect();
    used.insert("kube-system".to_string());
    for ns in used.difference(&declared) {
        docs.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    for d in &mut docs {
        match d.get("kind").and_then(Value::as_str) {
            Some("Namespace") if meta(d, "name") == "kube-system" => {
                if let (Some(v), Some(a)) = (server_version, annotations(d)) {
                    a.insert(format!("{PREFIX}server-version"), json!(v));
                }
            }
            Some("Pod") => {
                let key = (
                    meta(d, "namespace").to_string(),
                    meta(d, "name").to_string(),
                );
                let Some(facts) = proxies.get(&key) else {
                    continue;
                };
                let Some(a) = annotations(d) else { continue };
                // What istiod says now replaces what a copy of a sandbox carried.
                for k in ["xds", "xds-error", "disconnected"] {
                    a.remove(&format!("{PREFIX}{k}"));
                }
                a.insert(format!("{PREFIX}istiod"), json!(facts.istiod));
                if !facts.xds.is_empty() {
                    a.insert(format!("{PREFIX}xds"), json!(facts.xds));
                }
                if let Some(e) = &facts.error {
                    a.insert(format!("{PREFIX}xds-error"), json!(e));
                }
            }
            _ => {}
        }
        sort_labels_and_annotations(d);
    }
    let rank = |d: &Value| match d.get("kind").and_then(Value::as_str) {
        Some("CustomResourceDefinition") => 0,
        Some("Namespace") => 1,
        Some("Node") => 2,
        _ => 3,
    };
    docs.sort_by(|a, b| {
        (
            rank(a),
            a.get("kind").and_then(Value::as_str),
            meta(a, "namespace"),
            meta(a, "name"),
        )
            .cmp(&(
                rank(b),
                b.get("kind").and_then(Value::as_str),
                meta(b, "namespace"),
                meta(b, "name"),
            ))
    });
    docs
}

/// The documents as one multi-document YAML file.
pub fn to_yaml(docs: &[Value], header: &str) -> Result<String, String> {
    let mut text = String::new();
    for line in header.lines() {
        text.push_str(&format!("# {line}\n"));
    }
    for d in docs {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(d).map_err(|e| e.to_string())?);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_other_configmaps_stay_out_and_server_fields_go() {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio-1-27", "namespace": "istio-system",
                "resourceVersion": "7", "managedFields": [{"manager": "x"}], "uid": "u1"}}),
        ];
        let docs = scenario(objects, Some("v1.31.2"), &BTreeMap::new());
        let names: Vec<(&str, &str)> = docs
            .iter()
            .map(|d| (d["kind"].as_str().unwrap_or(""), meta(d, "name")))
            .collect();
        assert_eq!(
            names,
            [
                ("Namespace", "istio-system"),
                ("Namespace", "kube-system"),
                ("ConfigMap", "istio-1-27")
            ]
        );
        assert_eq!(
            docs[1].pointer("/metadata/annotations/sandbox.meshtop.dev~1server-version"),
            Some(&json!("v1.31.2"))
        );
        assert_eq!(
            docs[2]["metadata"],
            json!({"name": "istio-1-27", "namespace": "istio-system", "uid": "u1"})
        );
    }
}
