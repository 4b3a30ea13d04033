//! The kinds the sandbox serves: built-in Kubernetes kinds plus those of loaded CRDs.

use serde_json::{Value, json};

use super::store::strings;

/// One column a CRD asks `kubectl get` to show (`additionalPrinterColumns`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub json_path: String,
    pub description: String,
    pub priority: i64,
}

/// A resource type as discovery describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    /// Served versions; the first is the preferred one.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Subresources besides the object itself, e.g. `status`, `eviction`.
    pub subresources: Vec<String>,
    /// For custom resources: the printer columns per version.
    pub printer_columns: Vec<(String, Vec<PrinterColumn>)>,
    /// Set for custom resources (their store key is the CRD's name).
    pub custom: bool,
}

impl ResourceType {
    /// The key objects of this type are stored under: `plural.group` (`pods` for core).
    pub fn key(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    pub fn preferred_version(&self) -> &str {
        self.versions.first().map(String::as_str).unwrap_or("v1")
    }

    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s == sub)
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }

    pub fn printer_columns_for(&self, version: &str) -> Option<&[PrinterColumn]> {
        self.printer_columns
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, c)| c.as_slice())
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    subresources: &'static [&'static str],
    categories: &'static [&'static str],
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
        short: &["ns"],
        subresources: &["status", "finalize"],
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        namespaced: false,
        short: &["no"],
        subresources: &["status", "proxy"],
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        short: &["po"],
        subresources: &[
            "status",
            "eviction",
            "proxy",
            "portforward",
            "log",
            "binding",
        ],
        categories: &["all"],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        namespaced: true,
        short: &["svc"],
        subresources: &["status", "proxy"],
        categories: &["all"],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
        short: &["cm"],
        subresources: &[],
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
        short: &["sa"],
        subresources: &["token"],
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        namespaced: true,
        short: &["ev"],
        subresources: &[],
        categories: &[],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
        short: &["deploy"],
        subresources: &["status", "scale"],
        categories: &["all"],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        namespaced: true,
        short: &["rs"],
        subresources: &["status", "scale"],
        categories: &["all"],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        namespaced: true,
        short: &["sts"],
        subresources: &["status", "scale"],
        categories: &["all"],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        namespaced: true,
        short: &["ds"],
        subresources: &["status"],
        categories: &["all"],
    },
    Builtin {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        namespaced: true,
        short: &["pdb"],
        subresources: &["status"],
        categories: &[],
    },
    Builtin {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        namespaced: true,
        short: &["hpa"],
        subresources: &["status"],
        categories: &["all"],
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        namespaced: false,
        short: &[],
        subresources: &[],
        categories: &["api-extensions"],
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingWebhookConfiguration",
        plural: "validatingwebhookconfigurations",
        namespaced: false,
        short: &[],
        subresources: &[],
        categories: &["api-extensions"],
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        namespaced: false,
        short: &["crd", "crds"],
        subresources: &["status"],
        categories: &["api-extensions"],
    },
];

/// All kinds the sandbox knows at a moment: built-ins plus loaded CRDs.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        let types = BUILTINS
            .iter()
            .map(|b| ResourceType {
                group: b.group.to_string(),
                versions: vec![b.version.to_string()],
                kind: b.kind.to_string(),
                plural: b.plural.to_string(),
                singular: b.kind.to_lowercase(),
                namespaced: b.namespaced,
                short_names: b.short.iter().map(|s| s.to_string()).collect(),
                categories: b.categories.iter().map(|s| s.to_string()).collect(),
                subresources: b.subresources.iter().map(|s| s.to_string()).collect(),
                printer_columns: Vec::new(),
                custom: false,
            })
            .collect();
        Self { types }
    }

    pub fn all(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type served at `group/version` under `plural`.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| {
            t.group == group && t.plural == plural && t.versions.iter().any(|v| v == version)
        })
    }

    /// The type of a manifest's `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.kind == kind && t.versions.iter().any(|v| v == version))
    }

    pub fn by_key(&self, key: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.key() == key)
    }

    /// Groups with their versions, in a stable order (core first, then by first appearance).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) => {
                    for v in &t.versions {
                        if !versions.contains(v) {
                            versions.push(v.clone());
                        }
                    }
                }
                None => out.push((t.group.clone(), t.versions.clone())),
            }
        }
        out
    }

    /// Registers the kind a CRD object defines, replacing an earlier definition.
    pub fn add_crd(&mut self, crd: &Value) -> Result<ResourceType, String> {
        let t = crd_to_type(crd)?;
        self.types.retain(|x| x.key() != t.key());
        self.types.push(t.clone());
        Ok(t)
    }

    pub fn remove_crd(&mut self, crd_name: &str) {
        self.types.retain(|t| !(t.custom && t.key() == crd_name));
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn crd_to_type(crd: &Value) -> Result<ResourceType, String> {
    let group = str_at(crd, &["spec", "group"]).ok_or("spec.group is required")?;
    let plural =
        str_at(crd, &["spec", "names", "plural"]).ok_or("spec.names.plural is required")?;
    let kind = str_at(crd, &["spec", "names", "kind"]).ok_or("spec.names.kind is required")?;
    let singular = str_at(crd, &["spec", "names", "singular"])
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let scope = str_at(crd, &["spec", "scope"]).ok_or("spec.scope is required")?;
    let names = |key: &str| strings(crd.pointer(&format!("/spec/names/{key}")));
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions is required")?;
    let mut served: Vec<(String, bool)> = Vec::new();
    let mut printer_columns = Vec::new();
    let mut subresources = Vec::new();
    for v in versions {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or("spec.versions[].name is required")?;
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let storage = v.get("storage").and_then(Value::as_bool) == Some(true);
        served.push((name.to_string(), storage));
        if let Some(sub) = v.get("subresources").and_then(Value::as_object) {
            for s in sub.keys() {
                if !subresources.contains(s) {
                    subresources.push(s.clone());
                }
            }
        }
        let cols = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: c
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        type_: c
                            .get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("string")
                            .to_string(),
                        json_path: c
                            .get("jsonPath")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        description: c
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        printer_columns.push((name.to_string(), cols));
    }
    if served.is_empty() {
        return Err("spec.versions has no served version".into());
    }
    // Discovery lists the storage version first, as the preferred one.
    served.sort_by_key(|(_, storage)| !*storage);
    Ok(ResourceType {
        group: group.to_string(),
        versions: served.into_iter().map(|(n, _)| n).collect(),
        kind: kind.to_string(),
        plural: plural.to_string(),
        singular,
        namespaced: scope == "Namespaced",
        short_names: names("shortNames"),
        categories: names("categories"),
        subresources,
        printer_columns,
        custom: true,
    })
}

/// The `status` a loaded CRD reports, as the real apiextensions controller sets it.
pub fn crd_status(crd: &Value) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": "2020-01-01T00:00:00Z"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": "2020-01-01T00:00:00Z"}
        ],
        "storedVersions": stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_operator_crd_registers_with_printer_columns() {
        let text = include_str!("../../../assets/crds/istiooperator-crd.yaml");
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(text)
            .filter_map(|d| serde::Deserialize::deserialize(d).ok())
            .filter(|v: &Value| !v.is_null())
            .collect();
        let mut reg = Registry::new();
        let t = reg.add_crd(&docs[0]).expect("crd");
        assert_eq!(t.key(), "istiooperators.install.istio.io");
        assert_eq!(t.short_names, vec!["iop", "io"]);
        let cols = t.printer_columns_for("v1alpha1").expect("columns");
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["Revision", "Status", "Age"]);
        assert!(
            reg.by_kind("install.istio.io/v1alpha1", "IstioOperator")
                .is_some()
        );
        assert!(
            reg.by_plural("install.istio.io", "v1alpha1", "istiooperators")
                .is_some()
        );
    }

    #[test]
    fn gateway_crd_prefers_storage_version() {
        let text = include_str!("../../../assets/crds/gateway-crd.yaml");
        let doc: Value = serde_yaml::from_str(text).expect("yaml");
        let mut reg = Registry::new();
        let t = reg.add_crd(&doc).expect("crd");
        assert_eq!(t.preferred_version(), "v1");
        assert!(t.versions.contains(&"v1alpha3".to_string()));
    }
}
