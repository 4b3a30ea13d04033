//! Scenario files: multi-document YAML of ordinary manifests plus `sandbox.meshtop.dev/`
//! annotations (see `assets/scenario-format.txt`). A scenario is checked whole before
//! anything is loaded: a malformed one names the document and the field, and loads nothing.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::api::{self, WriteOptions};
use super::generate::{self, GenerateSpec};
use super::resources::ResourceType;
use super::selector::LabelSelector;
use super::store::meta_str;
use super::{ANNOTATION_PREFIX, Cluster, DenyRule, DenyScope, SandboxError, Settings, controllers};

/// The CRDs the sandbox ships, loadable by name from a scenario.
pub const SHIPPED_CRDS: &[(&str, &str)] = &[
    (
        "istiooperators.install.istio.io",
        include_str!("../../../assets/crds/istiooperator-crd.yaml"),
    ),
    (
        "gateways.networking.istio.io",
        include_str!("../../../assets/crds/gateway-crd.yaml"),
    ),
    (
        "virtualservices.networking.istio.io",
        include_str!("../../../assets/crds/virtualservice-crd.yaml"),
    ),
    (
        "gatewayclasses.gateway.networking.k8s.io",
        include_str!("../../../assets/crds/gatewayapi-gatewayclass-crd.yaml"),
    ),
    (
        "gateways.gateway.networking.k8s.io",
        include_str!("../../../assets/crds/gatewayapi-gateway-crd.yaml"),
    ),
    (
        "httproutes.gateway.networking.k8s.io",
        include_str!("../../../assets/crds/gatewayapi-httproute-crd.yaml"),
    ),
    (
        "istios.sailoperator.io",
        include_str!("../../../assets/crds/sail-istio-crd.yaml"),
    ),
    (
        "istiorevisions.sailoperator.io",
        include_str!("../../../assets/crds/sail-istiorevision-crd.yaml"),
    ),
    (
        "istiorevisiontags.sailoperator.io",
        include_str!("../../../assets/crds/sail-istiorevisiontag-crd.yaml"),
    ),
    (
        "istiocnis.sailoperator.io",
        include_str!("../../../assets/crds/sail-istiocni-crd.yaml"),
    ),
    (
        "ztunnels.sailoperator.io",
        include_str!("../../../assets/crds/sail-ztunnel-crd.yaml"),
    ),
];

/// The scenarios built into meshtop, by name: the field report's cluster (the default demo) and
/// a 2026 mesh in the middle of a canary upgrade.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "k1-upgrade",
        include_str!("../../../assets/scenarios/k1-upgrade.yaml"),
    ),
    (
        "canary-2026",
        include_str!("../../../assets/scenarios/canary-2026.yaml"),
    ),
];

/// The names of the built-in scenarios, for help and errors: `k1-upgrade, canary-2026`.
pub fn built_in_names() -> String {
    BUILT_IN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text of the scenario format, shown by `meshtop sandbox --help`.
pub const FORMAT_HELP: &str = include_str!("../../../assets/scenario-format.txt");

/// One document of a scenario, with its 1-based position in the file.
#[derive(Debug, Clone)]
pub struct Document {
    pub index: usize,
    pub object: Value,
}

impl Document {
    fn label(&self) -> String {
        let kind = self
            .object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let name = self
            .object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        match self
            .object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
        {
            Some(ns) => format!("document {} ({kind} {ns}/{name})", self.index),
            None => format!("document {} ({kind} {name})", self.index),
        }
    }

    fn error(&self, field: &str, problem: impl std::fmt::Display) -> String {
        format!("{}: {field}: {problem}", self.label())
    }
}

/// A parsed scenario, not yet loaded.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub path: String,
    pub documents: Vec<Document>,
    /// A generated cluster instead of documents (`--generate`).
    pub generated: Option<GenerateSpec>,
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| t.split_at(i))
        .ok_or_else(|| format!("{t:?} has no unit (use ms, s or m)"))?;
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{t:?} is not a duration"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{t:?}: unknown unit {unit:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{t:?} is too long"))
}

fn parse_deny(text: &str) -> Result<Vec<DenyRule>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let parts: Vec<&str> = r.split_whitespace().collect();
            match parts.as_slice() {
                [verb, resource] => Ok(DenyRule {
                    verb: verb.to_string(),
                    resource: resource.to_string(),
                    namespace: None,
                }),
                [verb, resource, ns] => Ok(DenyRule {
                    verb: verb.to_string(),
                    resource: resource.to_string(),
                    namespace: Some(match *ns {
                        ":cluster" => DenyScope::Cluster,
                        ns => DenyScope::Namespace(ns.to_string()),
                    }),
                }),
                _ => Err(format!(
                    "rule {r:?} is not `VERB RESOURCE[/SUBRESOURCE] [NAMESPACE]`"
                )),
            }
        })
        .collect()
}

/// Valid values of `sandbox.meshtop.dev/xds` states.
pub const XDS_STATES: &[&str] = &[
    "SYNCED",
    "NOT SENT",
    "STALE",
    "STALE (Never Acknowledged)",
    "ERROR",
];
pub const XDS_TYPES: &[&str] = &["CDS", "LDS", "EDS", "RDS", "ECDS", "WDS", "WADS"];

/// Parses `RDS=NOT SENT,EDS=STALE` into (type, state) pairs.
pub fn parse_xds(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (ty, state) = p
                .split_once('=')
                .ok_or_else(|| format!("{p:?} is not TYPE=STATE"))?;
            let (ty, state) = (ty.trim(), state.trim());
            if !XDS_TYPES.contains(&ty) {
                return Err(format!(
                    "unknown xDS type {ty:?} (one of {})",
                    XDS_TYPES.join(", ")
                ));
            }
            if !XDS_STATES.contains(&state) {
                return Err(format!(
                    "unknown state {state:?} (one of {})",
                    XDS_STATES.join(", ")
                ));
            }
            Ok((ty.to_string(), state.to_string()))
        })
        .collect()
}

impl Scenario {
    /// A generated cluster of the size a spec says (`nodes=N,pods=M,…`).
    pub fn generate(spec: GenerateSpec) -> Self {
        Self {
            path: spec.describe(),
            documents: Vec::new(),
            generated: Some(spec),
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, SandboxError> {
        let text = std::fs::read_to_string(path).map_err(|source| SandboxError::ReadScenario {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string()).map_err(|message| SandboxError::Scenario {
            path: path.display().to_string(),
            message,
        })
    }

    /// A built-in scenario by name.
    pub fn built_in(name: &str) -> Option<Result<Self, SandboxError>> {
        let (name, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
        let path = format!("{name} (built in)");
        Some(Self::parse(text, &path).map_err(|message| SandboxError::Scenario { path, message }))
    }

    /// A built-in scenario by name, else the scenario file at that path. A word that names
    /// neither (no directory, no `.yaml`) is refused with the built-in names.
    pub fn named_or_file(arg: &Path) -> Result<Self, SandboxError> {
        if let Some(built_in) = arg.to_str().and_then(Self::built_in) {
            return built_in;
        }
        let word = arg.components().count() == 1
            && !matches!(
                arg.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            );
        if word && !arg.exists() {
            return Err(SandboxError::UnknownScenario {
                name: arg.display().to_string(),
                known: built_in_names(),
            });
        }
        Self::from_file(arg)
    }

    /// Parses the YAML; structure is checked here, meaning when the scenario is built.
    pub fn parse(text: &str, path: &str) -> Result<Self, String> {
        let mut documents = Vec::new();
        for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let index = i + 1;
            let value =
                serde_yaml::Value::deserialize(de).map_err(|e| format!("document {index}: {e}"))?;
            if value.is_null() {
                continue;
            }
            let object =
                serde_json::to_value(&value).map_err(|e| format!("document {index}: {e}"))?;
            if object.get("kind").and_then(Value::as_str) == Some("List") {
                let items = object
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                documents.extend(items.into_iter().map(|object| Document { index, object }));
            } else {
                documents.push(Document { index, object });
            }
        }
        for d in &documents {
            check_shape(d)?;
        }
        Ok(Self {
            path: path.to_string(),
            documents,
            generated: None,
        })
    }

    /// The sandbox settings from the `kube-system` Namespace's annotations.
    pub fn settings(&self) -> Result<(Settings, Vec<String>), String> {
        let mut s = Settings::default();
        let mut crds = Vec::new();
        let Some(doc) = self.documents.iter().find(|d| {
            d.object.get("kind").and_then(Value::as_str) == Some("Namespace")
                && d.object.pointer("/metadata/name").and_then(Value::as_str) == Some("kube-system")
        }) else {
            return Ok((s, crds));
        };
        let Some(ann) = doc
            .object
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
        else {
            return Ok((s, crds));
        };
        for (k, v) in ann {
            let Some(key) = k.strip_prefix(ANNOTATION_PREFIX) else {
                continue;
            };
            let field = format!("metadata.annotations.{k}");
            let v = v.as_str().unwrap_or("");
            match key {
                "server-version" => {
                    if !v.starts_with('v') || v.split('.').count() < 3 {
                        return Err(
                            doc.error(&field, format!("{v:?} is not a version like v1.15.6"))
                        );
                    }
                    s.server_version = v.to_string();
                }
                "pod-ready-delay" => {
                    s.pod_ready_delay = parse_duration(v).map_err(|e| doc.error(&field, e))?
                }
                "proxy-sync-delay" => {
                    s.proxy_sync_delay = parse_duration(v).map_err(|e| doc.error(&field, e))?
                }
                "bookmark-interval" => {
                    s.bookmark_interval = parse_duration(v).map_err(|e| doc.error(&field, e))?;
                    if s.bookmark_interval.is_zero() {
                        return Err(doc.error(&field, "must be more than 0"));
                    }
                }
                "watch-history" => {
                    s.watch_history = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        doc.error(&field, format!("{v:?} is not a positive number"))
                    })?
                }
                "restricted-deny" => {
                    s.restricted_deny = parse_deny(v).map_err(|e| doc.error(&field, e))?
                }
                "gc-orphans" => {
                    s.gc_orphans = match v {
                        "true" => true,
                        "false" => false,
                        _ => return Err(doc.error(&field, "expected \"true\" or \"false\"")),
                    }
                }
                "crds" => {
                    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        if !SHIPPED_CRDS.iter().any(|(n, _)| *n == name) {
                            let known: Vec<&str> = SHIPPED_CRDS.iter().map(|(n, _)| *n).collect();
                            return Err(doc.error(
                                &field,
                                format!("no shipped CRD {name:?} (shipped: {})", known.join(", ")),
                            ));
                        }
                        crds.push(name.to_string());
                    }
                }
                other => {
                    return Err(doc.error(&field, format!("unknown sandbox setting {other:?}")));
                }
            }
        }
        Ok((s, crds))
    }

    /// Builds a cluster holding the whole scenario, or says what is wrong with it.
    pub fn build(&self, now: Timestamp) -> Result<Cluster, String> {
        if let Some(spec) = &self.generated {
            return generate::build(spec, now);
        }
        let (settings, shipped) = self.settings()?;
        let mut cluster = Cluster::new(settings);
        let opts = WriteOptions::internal();
        let crd_type = cluster
            .registry
            .by_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            .cloned()
            .ok_or("no CRD kind")?;
        // A CRD the scenario writes itself (a snapshot does) is loaded as written.
        let written_crds: Vec<&str> = self
            .documents
            .iter()
            .filter(|d| {
                d.object.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
            })
            .filter_map(|d| d.object.pointer("/metadata/name").and_then(Value::as_str))
            .collect();
        for name in shipped
            .iter()
            .filter(|n| !written_crds.contains(&n.as_str()))
        {
            let text = SHIPPED_CRDS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t)
                .unwrap_or("");
            for de in serde_yaml::Deserializer::from_str(text) {
                let v = serde_yaml::Value::deserialize(de)
                    .map_err(|e| format!("shipped CRD {name}: {e}"))?;
                if v.is_null() {
                    continue;
                }
                let crd =
                    serde_json::to_value(&v).map_err(|e| format!("shipped CRD {name}: {e}"))?;
                api::create(&mut cluster, &crd_type, crd, now, &opts)
                    .map_err(|e| format!("shipped CRD {name}: {}", e.message))?;
            }
        }
        let rank = |d: &Document| match d.object.get("kind").and_then(Value::as_str) {
            Some("CustomResourceDefinition") => 0,
            Some("Namespace") => 1,
            Some("Node") => 2,
            _ => 3,
        };
        let mut ordered: Vec<&Document> = self.documents.iter().collect();
        ordered.sort_by_key(|d| rank(d));
        let mut uids: HashSet<&str> = HashSet::new();
        for d in ordered {
            if let Some(uid) = d.object.pointer("/metadata/uid").and_then(Value::as_str)
                && !uids.insert(uid)
            {
                return Err(d.error(
                    "metadata.uid",
                    format!("{uid:?} is already another object's uid"),
                ));
            }
            let api_version = d
                .object
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let kind = d.object.get("kind").and_then(Value::as_str).unwrap_or("");
            let t: ResourceType = cluster.registry.by_kind(api_version, kind).cloned().ok_or_else(|| {
                d.error(
                    "kind",
                    format!("{api_version} {kind} is not served by the sandbox (not a supported kind, or its CRD is not loaded)"),
                )
            })?;
            let mut obj = d.object.clone();
            if t.namespaced {
                if obj
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .is_none()
                {
                    obj["metadata"]["namespace"] = Value::from("default");
                }
                let ns = obj
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if cluster.store.get("namespaces", "", ns).is_none() {
                    return Err(d.error(
                        "metadata.namespace",
                        format!("namespace {ns:?} is not declared in the scenario"),
                    ));
                }
            }
            check_meaning(d, &t)?;
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
            if t.kind == "ServiceAccount" {
                // The scenario's own account replaces the one made with its namespace.
                let ns = meta_str(&obj, "namespace").to_string();
                let _ = cluster.store.remove(&t, &ns, meta_str(&obj, "name"));
            }
            controllers::prepare_loaded(&mut cluster, &t, &mut obj, now);
            api::create(&mut cluster, &t, obj, now, &opts)
                .map_err(|e| d.error("metadata.name", e.message))?;
        }
        link_owners(&mut cluster);
        if cluster.settings.gc_orphans {
            collect_orphans(&mut cluster);
        }
        controllers::reconcile(&mut cluster, now);
        Ok(cluster)
    }
}

/// The uid, by kind, namespace and name, of every object loaded.
fn uids_by_name(cluster: &Cluster) -> HashMap<(String, String, String), String> {
    let mut m = HashMap::new();
    for t in cluster.registry.all() {
        for o in cluster.store.list(&t.key(), None) {
            m.insert(
                (
                    t.kind.clone(),
                    meta_str(o.head(), "namespace").to_string(),
                    meta_str(o.head(), "name").to_string(),
                ),
                meta_str(o.head(), "uid").to_string(),
            );
        }
    }
    m
}

/// Owner references written without a uid get the uid of the owner they name (same kind,
/// same namespace), so hand-written ownership works as a dump's does.
fn link_owners(cluster: &mut Cluster) {
    let uids = uids_by_name(cluster);
    let types: Vec<ResourceType> = cluster.registry.all().to_vec();
    for t in &types {
        let mut linked = Vec::new();
        for o in cluster.store.list(&t.key(), None) {
            let Some(refs) = o
                .head()
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
            else {
                continue;
            };
            if refs.iter().all(|r| {
                r.get("uid")
                    .and_then(Value::as_str)
                    .is_some_and(|u| !u.is_empty())
            }) {
                continue;
            }
            let ns = meta_str(o.head(), "namespace").to_string();
            let mut new = o.full();
            if let Some(refs) = new
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                for r in refs.iter_mut() {
                    if r.get("uid")
                        .and_then(Value::as_str)
                        .is_some_and(|u| !u.is_empty())
                    {
                        continue;
                    }
                    let kind = r
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let name = r
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let uid = uids
                        .get(&(kind.clone(), ns.clone(), name.clone()))
                        .or_else(|| uids.get(&(kind, String::new(), name)));
                    if let Some(uid) = uid {
                        r["uid"] = Value::from(uid.clone());
                    }
                }
            }
            linked.push(new);
        }
        for new in linked {
            let name = meta_str(&new, "name").to_string();
            if let Err(e) = api::update(cluster, t, new, None, &WriteOptions::internal()) {
                tracing::warn!(name, error = %e.message, "could not link owner references");
            }
        }
    }
}

/// With `gc-orphans: "true"`, objects whose owners are all missing go, and what they own
/// after them, as the garbage collector would remove them.
fn collect_orphans(cluster: &mut Cluster) {
    let types: Vec<ResourceType> = cluster.registry.all().to_vec();
    loop {
        let live: HashSet<String> = uids_by_name(cluster).into_values().collect();
        let mut doomed = Vec::new();
        for t in &types {
            for o in cluster.store.list(&t.key(), None) {
                let Some(refs) = o
                    .head()
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                else {
                    continue;
                };
                let orphaned = !refs.is_empty()
                    && refs.iter().all(|r| {
                        !r.get("uid")
                            .and_then(Value::as_str)
                            .is_some_and(|u| live.contains(u))
                    });
                if orphaned {
                    doomed.push((
                        t.clone(),
                        meta_str(o.head(), "namespace").to_string(),
                        meta_str(o.head(), "name").to_string(),
                    ));
                }
            }
        }
        if doomed.is_empty() {
            return;
        }
        for (t, ns, name) in doomed {
            let _ = cluster.store.remove(&t, &ns, &name);
        }
    }
}

fn check_string_map(d: &Document, path: &str) -> Result<(), String> {
    let pointer = format!("/{}", path.replace('.', "/"));
    match d.object.pointer(&pointer) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if !v.is_string() {
                    return Err(d.error(
                        &format!("{path}.{k}"),
                        format!("expected a string, got {}", type_name(v)),
                    ));
                }
            }
            Ok(())
        }
        Some(v) => Err(d.error(
            path,
            format!("expected a map of strings, got {}", type_name(v)),
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The shape every manifest must have.
fn check_shape(d: &Document) -> Result<(), String> {
    if !d.object.is_object() {
        return Err(format!(
            "document {}: expected a Kubernetes object (a map), got {}",
            d.index,
            type_name(&d.object)
        ));
    }
    for field in ["apiVersion", "kind"] {
        match d.object.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(v) => {
                return Err(d.error(field, format!("expected a string, got {}", type_name(v))));
            }
            None => return Err(d.error(field, "is required")),
        }
    }
    match d.object.pointer("/metadata/name") {
        Some(Value::String(n)) if api::valid_name(n) => {}
        Some(Value::String(n)) => {
            return Err(d.error(
                "metadata.name",
                format!("{n:?} is not a valid name (lowercase RFC 1123)"),
            ));
        }
        Some(v) => {
            return Err(d.error(
                "metadata.name",
                format!("expected a string, got {}", type_name(v)),
            ));
        }
        None => return Err(d.error("metadata.name", "is required")),
    }
    if let Some(ns) = d.object.pointer("/metadata/namespace")
        && !ns.is_string()
    {
        return Err(d.error(
            "metadata.namespace",
            format!("expected a string, got {}", type_name(ns)),
        ));
    }
    check_string_map(d, "metadata.labels")?;
    check_string_map(d, "metadata.annotations")?;
    Ok(())
}

/// What the sandbox relies on in fields and annotations.
fn check_meaning(d: &Document, t: &ResourceType) -> Result<(), String> {
    let o = &d.object;
    if matches!(
        t.kind.as_str(),
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "PodDisruptionBudget"
    ) {
        let sel = o.pointer("/spec/selector");
        if sel.is_none() {
            return Err(d.error("spec.selector", "is required"));
        }
        LabelSelector::from_object(sel).map_err(|e| d.error("spec.selector", e))?;
    }
    if let Some(r) = o.pointer("/spec/replicas")
        && !r.is_u64()
    {
        return Err(d.error(
            "spec.replicas",
            format!("expected a non-negative integer, got {}", type_name(r)),
        ));
    }
    if t.kind == "PodDisruptionBudget" {
        for f in ["minAvailable", "maxUnavailable"] {
            if let Some(v) = o.pointer(&format!("/spec/{f}")) {
                let ok = v.is_u64()
                    || v.as_str().is_some_and(|s| {
                        s.strip_suffix('%')
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                    });
                if !ok {
                    return Err(d.error(
                        &format!("spec.{f}"),
                        "expected an integer or a percentage like \"50%\"",
                    ));
                }
            }
        }
    }
    if let Some(ann) = o
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (k, v) in ann {
            let Some(key) = k.strip_prefix(ANNOTATION_PREFIX) else {
                continue;
            };
            let field = format!("metadata.annotations.{k}");
            let v = v.as_str().unwrap_or("");
            match (t.kind.as_str(), key) {
                ("Namespace", _)
                    if d.object.pointer("/metadata/name").and_then(Value::as_str)
                        == Some("kube-system") => {}
                ("Pod", "xds") => {
                    parse_xds(v).map_err(|e| d.error(&field, e))?;
                }
                ("Pod", "istio-version") => {
                    if controllers::parse_version(v).is_none() {
                        return Err(
                            d.error(&field, format!("{v:?} is not an Istio version like 1.9.1"))
                        );
                    }
                }
                ("Pod", "disconnected") => {
                    if v != "true" && v != "false" {
                        return Err(d.error(&field, "expected \"true\" or \"false\""));
                    }
                }
                ("Pod", "syncz-delay") => {
                    parse_duration(v).map_err(|e| d.error(&field, e))?;
                }
                ("Pod", "istiod" | "proxy-version" | "xds-error") => {}
                _ => {
                    return Err(d.error(
                        &field,
                        format!("unknown sandbox annotation on a {}", t.kind),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
  annotations:
    sandbox.meshtop.dev/pod-ready-delay: 500ms
    sandbox.meshtop.dev/restricted-deny: create pods/portforward istio-system; list nodes
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
data: {a: b}
";

    #[test]
    fn settings_come_from_kube_system() {
        let s = Scenario::parse(OK, "t.yaml").expect("parse");
        let (settings, crds) = s.settings().expect("settings");
        assert_eq!(settings.pod_ready_delay, Duration::from_millis(500));
        assert_eq!(settings.restricted_deny.len(), 2);
        assert_eq!(
            settings.restricted_deny[0].namespace,
            Some(DenyScope::Namespace("istio-system".into()))
        );
        let cluster_only = parse_deny("list pods :cluster").expect("rule");
        assert_eq!(cluster_only[0].namespace, Some(DenyScope::Cluster));
        assert!(crds.is_empty());
        let c = s.build(Timestamp::now()).expect("build");
        assert!(c.store.get("configmaps", "shop", "c").is_some());
    }

    fn err_of(text: &str) -> String {
        match Scenario::parse(text, "t.yaml") {
            Err(e) => e,
            Ok(s) => match s.build(Timestamp::now()) {
                Err(e) => e,
                Ok(_) => panic!("expected an error for {text}"),
            },
        }
    }

    #[test]
    fn malformed_documents_name_document_and_field() {
        let e = err_of(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: b}\n",
        );
        assert_eq!(e, "document 2 (ConfigMap b): apiVersion: is required");
        let e = err_of("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {x: 1}}\n");
        assert_eq!(
            e,
            "document 1 (Namespace a): metadata.labels.x: expected a string, got a number"
        );
        let e = err_of("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: nope}\n");
        assert!(
            e.starts_with("document 1 (ConfigMap nope/b): metadata.namespace:"),
            "{e}"
        );
        let e = err_of("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
        assert!(e.starts_with("document 1 (Widget w): kind:"), "{e}");
        let e = err_of(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, annotations: {sandbox.meshtop.dev/xds: 'RDS=MAYBE'}}\n",
        );
        assert!(
            e.contains(
                "document 2 (Pod a/p): metadata.annotations.sandbox.meshtop.dev/xds: unknown state"
            ),
            "{e}"
        );
        let e = err_of("a: [1,\n");
        assert!(e.starts_with("document 1:"), "{e}");
        let e = err_of(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n  annotations: {sandbox.meshtop.dev/watch-history: lots}\n",
        );
        assert!(
            e.contains("watch-history: \"lots\" is not a positive number"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5y").is_err());
        // Too long for a Duration: an error, not a panic.
        assert!(parse_duration(&format!("{}s", "9".repeat(400))).is_err());
        assert!(parse_duration("1.7976931348623157e308s").is_err());
    }

    #[test]
    fn built_in_scenarios_go_by_name_and_unknown_words_are_refused() {
        for (name, _) in BUILT_IN {
            let s = Scenario::named_or_file(Path::new(name)).expect(name);
            assert_eq!(s.path, format!("{name} (built in)"));
        }
        let e = Scenario::named_or_file(Path::new("canary")).expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "no scenario \"canary\": the built-in scenarios are k1-upgrade, canary-2026; anything else is a path to a scenario file"
        );
        let e = Scenario::named_or_file(Path::new("missing.yaml")).expect_err("no file");
        assert!(
            e.to_string()
                .starts_with("cannot read scenario missing.yaml"),
            "{e}"
        );
    }

    #[test]
    fn shipped_scenarios_load() {
        for path in [
            "assets/scenarios/k1-upgrade.yaml",
            "assets/scenarios/canary-2026.yaml",
            "assets/scenarios/small.yaml",
        ] {
            let full = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(path);
            if !full.exists() {
                panic!("{path} is missing");
            }
            let s = Scenario::from_file(&full).expect(path);
            s.build(Timestamp::now())
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
}

#[cfg(test)]
mod dump_tests {
    use super::*;

    /// `kubectl get -o yaml` of a small real-shaped cluster: a Deployment with its
    /// `pod-template-hash` ReplicaSet and pods, a DaemonSet's pod per node, the namespace's
    /// own `default` ServiceAccount, and a pod whose ReplicaSet is gone.
    const DUMP: &str = "
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop, uid: ns-shop}
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: default, namespace: shop, uid: sa-default}
- apiVersion: v1
  kind: Node
  metadata: {name: n1, uid: node-1}
  status: {conditions: [{type: Ready, status: 'True'}]}
- apiVersion: v1
  kind: Node
  metadata: {name: n2, uid: node-2}
  status: {conditions: [{type: Ready, status: 'True'}]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop, uid: dep-web, generation: 4, resourceVersion: '99',
    managedFields: [{manager: kubectl, operation: Update}]}
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec: {containers: [{name: web, image: web:1}]}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: web-5d9c8
    namespace: shop
    uid: rs-web
    labels: {app: web, pod-template-hash: 5d9c8}
    ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: dep-web, controller: true}]
  spec:
    replicas: 2
    selector: {matchLabels: {app: web, pod-template-hash: 5d9c8}}
    template:
      metadata: {labels: {app: web, pod-template-hash: 5d9c8}}
      spec: {containers: [{name: web, image: web:1}]}
- apiVersion: apps/v1
  kind: DaemonSet
  metadata: {name: agent, namespace: shop, uid: ds-agent}
  spec:
    selector: {matchLabels: {app: agent}}
    template:
      metadata: {labels: {app: agent}}
      spec: {containers: [{name: agent, image: agent:1}]}
";

    fn pod(name: &str, app: &str, node: &str, owner: (&str, &str, &str)) -> String {
        let (kind, owner_name, uid) = owner;
        format!(
            "- apiVersion: v1
  kind: Pod
  metadata:
    name: {name}
    namespace: shop
    uid: pod-{name}
    labels: {{app: {app}}}
    ownerReferences: [{{apiVersion: apps/v1, kind: {kind}, name: {owner_name}, uid: {uid}, controller: true}}]
  spec: {{nodeName: {node}, containers: [{{name: {app}, image: {app}:1}}]}}
  status: {{phase: Running, conditions: [{{type: Ready, status: 'True'}}]}}
"
        )
    }

    fn dump(extra_settings: &str) -> String {
        let mut text = DUMP.to_string();
        text.push_str(&pod(
            "web-5d9c8-aaaaa",
            "web",
            "n1",
            ("ReplicaSet", "web-5d9c8", "rs-web"),
        ));
        text.push_str(&pod(
            "web-5d9c8-bbbbb",
            "web",
            "n2",
            ("ReplicaSet", "web-5d9c8", "rs-web"),
        ));
        text.push_str(&pod(
            "agent-x1",
            "agent",
            "n1",
            ("DaemonSet", "agent", "ds-agent"),
        ));
        text.push_str(&pod(
            "agent-x2",
            "agent",
            "n2",
            ("DaemonSet", "agent", "ds-agent"),
        ));
        text.push_str(&pod(
            "old-7f7f7-ccccc",
            "old",
            "n1",
            ("ReplicaSet", "old-7f7f7", "rs-gone"),
        ));
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: kube-system\n    annotations: {{{extra_settings}}}\n"
        ));
        text
    }

    fn names(c: &Cluster, key: &str) -> Vec<String> {
        let mut v: Vec<String> = c
            .store
            .list(key, None)
            .map(|o| meta_str(o.head(), "name").to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_dump_loads_with_its_uids_and_owners_and_no_second_pods() {
        let s = Scenario::parse(&dump(""), "dump.yaml").expect("parse");
        let c = s.build(Timestamp::now()).expect("build");
        assert_eq!(
            names(&c, "pods"),
            [
                "agent-x1",
                "agent-x2",
                "old-7f7f7-ccccc",
                "web-5d9c8-aaaaa",
                "web-5d9c8-bbbbb"
            ]
        );
        assert_eq!(names(&c, "replicasets.apps"), ["web-5d9c8"]);
        let rs = c
            .store
            .get("replicasets.apps", "shop", "web-5d9c8")
            .expect("rs");
        assert_eq!(meta_str(rs.head(), "uid"), "rs-web");
        let d = c
            .store
            .get("deployments.apps", "shop", "web")
            .expect("deployment");
        assert_eq!(meta_str(d.head(), "uid"), "dep-web");
        assert!(d.head().pointer("/metadata/managedFields").is_none());
        assert_eq!(
            d.head().pointer("/status/readyReplicas"),
            Some(&json_u64(2))
        );
        let sa = c
            .store
            .get("serviceaccounts", "shop", "default")
            .expect("sa");
        assert_eq!(meta_str(sa.head(), "uid"), "sa-default");
    }

    fn json_u64(n: u64) -> Value {
        Value::from(n)
    }

    #[test]
    fn orphans_go_only_when_asked() {
        let s = Scenario::parse(&dump("sandbox.meshtop.dev/gc-orphans: 'true'"), "dump.yaml")
            .expect("parse");
        let c = s.build(Timestamp::now()).expect("build");
        assert!(c.store.get("pods", "shop", "old-7f7f7-ccccc").is_none());
        assert_eq!(names(&c, "pods").len(), 4);
    }

    #[test]
    fn a_deployment_adopts_an_orphan_replica_set_of_its_template() {
        let text = dump("").replace(
            "    ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: dep-web, controller: true}]\n",
            "",
        );
        let c = Scenario::parse(&text, "dump.yaml")
            .expect("parse")
            .build(Timestamp::now())
            .expect("build");
        assert_eq!(names(&c, "replicasets.apps"), ["web-5d9c8"]);
        assert_eq!(names(&c, "pods").len(), 5);
    }

    #[test]
    fn owner_references_without_uids_are_linked_by_name_and_uids_are_unique() {
        let text = dump("").replace(", uid: ds-agent, controller", ", controller");
        let c = Scenario::parse(&text, "dump.yaml")
            .expect("parse")
            .build(Timestamp::now())
            .expect("build");
        let p = c.store.get("pods", "shop", "agent-x1").expect("pod");
        assert_eq!(
            p.head().pointer("/metadata/ownerReferences/0/uid"),
            Some(&Value::from("ds-agent"))
        );
        assert_eq!(names(&c, "pods").len(), 5);
        let twice = dump("").replace("uid: node-2", "uid: node-1");
        let Err(e) = Scenario::parse(&twice, "dump.yaml")
            .expect("parse")
            .build(Timestamp::now())
        else {
            panic!("a uid written twice loads");
        };
        assert!(
            e.contains("metadata.uid: \"node-1\" is already another object's uid"),
            "{e}"
        );
    }
}
