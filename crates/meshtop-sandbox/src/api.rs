//! The API server's write semantics, shared by HTTP handlers, the scenario loader and the
//! controllers: validation, defaults, status subresource rules, namespaces, garbage
//! collection, admission (injection) and dry runs.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::Cluster;
use super::controllers;
use super::error::ApiError;
use super::resources::{ResourceType, crd_status};
use super::store::{Stored, meta_str, resource_name};
use super::validation;

/// How a write was asked for.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// Whether a client (not the scenario loader or a controller) asked.
    pub from_client: bool,
}

impl WriteOptions {
    pub fn client(dry_run: bool) -> Self {
        Self {
            dry_run,
            from_client: true,
        }
    }

    pub fn internal() -> Self {
        Self {
            dry_run: false,
            from_client: false,
        }
    }
}

/// DNS-1123 subdomain, the rule for most object names.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn random_suffix(n: usize) -> String {
    // The alphabet Kubernetes uses for generated names (no vowels, no confusable digits).
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn generated_name(prefix: &str, n: usize) -> String {
    format!("{prefix}{}", random_suffix(n))
}

fn check_namespace(cluster: &Cluster, t: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if !t.namespaced {
        return Ok(());
    }
    let ns = meta_str(obj, "namespace");
    if ns.is_empty() {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    match cluster.store.get("namespaces", "", ns) {
        None => Err(ApiError::not_found("namespaces", ns)),
        Some(n)
            if n.head().pointer("/status/phase").and_then(Value::as_str) == Some("Terminating") =>
        {
            Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    resource_name(t),
                    meta_str(obj, "name")
                ),
            ))
        }
        Some(_) => Ok(()),
    }
}

/// Creates an object through the API server's create path.
pub fn create(
    cluster: &mut Cluster,
    t: &ResourceType,
    mut obj: Value,
    now: Timestamp,
    opts: &WriteOptions,
) -> Result<Arc<Stored>, ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request is not a JSON object",
        ));
    }
    obj["apiVersion"] = json!(t.api_version(obj_version(&obj, t)));
    obj["kind"] = json!(t.kind);
    if meta_str(&obj, "name").is_empty() {
        let prefix = meta_str(&obj, "generateName").to_string();
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                &t.kind,
                &t.key(),
                "",
                "metadata.name",
                "name or generateName is required",
            ));
        }
        obj["metadata"]["name"] = json!(generated_name(&prefix, 5));
    }
    let name = meta_str(&obj, "name").to_string();
    if opts.from_client
        && let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut)
    {
        // The API server gives every new object its own uid and generation, whatever the
        // client sent.
        m.remove("uid");
        m.remove("generation");
    }
    check_fields(t, &obj)?;
    check_namespace(cluster, t, &obj)?;
    if opts.from_client && t.has_subresource("status") && t.kind != "Namespace" && t.kind != "Node"
    {
        // The status of a kind with a status subresource is the server's, not the client's.
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    default_object(t, &mut obj);
    if t.kind == "Pod" {
        controllers::admit_pod(cluster, &mut obj, now);
    }
    if t.kind == "CustomResourceDefinition" {
        check_crd(cluster, t, &name, &mut obj)?;
    }
    if opts.dry_run {
        if cluster
            .store
            .get(&t.key(), meta_str(&obj, "namespace"), &name)
            .is_some()
        {
            return Err(ApiError::already_exists(&resource_name(t), &name));
        }
        let m = &mut obj["metadata"];
        m["uid"] = json!(super::store::new_uid());
        m["creationTimestamp"] = json!(super::store::timestamp(now));
        return Ok(Arc::new(Stored::new(obj)));
    }
    let created = cluster.store.create(t, obj, now)?;
    if t.kind == "Namespace" {
        ensure_default_service_account(cluster, &name, now);
    }
    if t.kind == "CustomResourceDefinition" {
        let _ = cluster.registry.add_crd(created.head());
    }
    Ok(created)
}

/// Refuses what a real API server's validation refuses, with its 422 body.
fn check_fields(t: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let errs = validation::validate(t, obj);
    if errs.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid_fields(
        &t.kind,
        &t.group,
        meta_str(obj, "name"),
        &errs,
    ))
}

/// Every namespace has a `default` ServiceAccount, as the service account controller makes.
fn ensure_default_service_account(cluster: &mut Cluster, namespace: &str, now: Timestamp) {
    let Some(sa) = cluster.registry.by_key("serviceaccounts").cloned() else {
        return;
    };
    if cluster.store.get(&sa.key(), namespace, "default").is_some() {
        return;
    }
    let obj = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace}
    });
    if let Err(e) = cluster.store.create(&sa, obj, now) {
        tracing::warn!(namespace, error = %e, "could not create the default ServiceAccount");
    }
}

fn obj_version<'a>(obj: &'a Value, t: &'a ResourceType) -> &'a str {
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let v = av.rsplit('/').next().unwrap_or("");
    if t.versions.iter().any(|x| x == v) {
        v
    } else {
        t.preferred_version()
    }
}

/// Server-side defaults for a new object.
fn default_object(t: &ResourceType, obj: &mut Value) {
    match t.kind.as_str() {
        "Namespace" => {
            let name = meta_str(obj, "name").to_string();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            if obj.pointer("/status/phase").is_none() {
                obj["status"]["phase"] = json!("Active");
            }
        }
        "Pod" => {
            if obj.pointer("/status/phase").is_none() {
                obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
            if obj.pointer("/spec/restartPolicy").is_none() {
                obj["spec"]["restartPolicy"] = json!("Always");
            }
            if obj.pointer("/spec/schedulerName").is_none() {
                obj["spec"]["schedulerName"] = json!("default-scheduler");
            }
        }
        "Service" if obj.pointer("/spec/type").is_none() => {
            obj["spec"]["type"] = json!("ClusterIP");
        }
        _ => {}
    }
}

/// Replaces an object (PUT, or the result of a patch). `subresource` is `Some("status")` for
/// writes to `/status`, which change only the status; writes to the object keep the status
/// of kinds that have a status subresource.
pub fn update(
    cluster: &mut Cluster,
    t: &ResourceType,
    mut obj: Value,
    subresource: Option<&str>,
    opts: &WriteOptions,
) -> Result<Arc<Stored>, ApiError> {
    let ns = if t.namespaced {
        meta_str(&obj, "namespace").to_string()
    } else {
        String::new()
    };
    let name = meta_str(&obj, "name").to_string();
    let old = cluster
        .store
        .get(&t.key(), &ns, &name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&resource_name(t), &name))?;
    let sent_rv = meta_str(&obj, "resourceVersion");
    if !sent_rv.is_empty() && sent_rv != meta_str(old.head(), "resourceVersion") {
        return Err(ApiError::conflict(&resource_name(t), &name));
    }
    let sent_uid = meta_str(&obj, "uid");
    if !sent_uid.is_empty() && sent_uid != meta_str(old.head(), "uid") {
        return Err(ApiError::conflict(&resource_name(t), &name));
    }
    obj["apiVersion"] = json!(t.api_version(obj_version(&obj, t)));
    obj["kind"] = json!(t.kind);
    match subresource {
        Some("status") => {
            let status = obj.get("status").cloned();
            obj = old.full();
            match status {
                Some(s) => obj["status"] = s,
                None => {
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        Some(other) => {
            return Err(ApiError::not_found_path().with_details(json!({"subresource": other})));
        }
        None if opts.from_client
            && t.has_subresource("status")
            && t.kind != "CustomResourceDefinition" =>
        {
            match old.field("status") {
                Some(s) => obj["status"] = s,
                None => {
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        None => {}
    }
    if t.kind == "Namespace" {
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
    }
    check_fields(t, &obj)?;
    if t.kind == "CustomResourceDefinition" {
        check_crd(cluster, t, &name, &mut obj)?;
    }
    if opts.dry_run {
        for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
            if let Some(v) = old.head().pointer(&format!("/metadata/{field}")) {
                obj["metadata"][field] = v.clone();
            }
        }
        return Ok(Arc::new(Stored::new(obj)));
    }
    let updated = cluster.store.replace(t, obj)?;
    if t.kind == "CustomResourceDefinition" {
        let _ = cluster.registry.add_crd(updated.head());
    }
    Ok(updated)
}

/// Deletes an object. Namespaces terminate first (their content goes, then they do);
/// dependents (by ownerReferences) are collected in the background, as with the default
/// propagation policy; a CRD takes its custom resources with it.
pub fn delete(
    cluster: &mut Cluster,
    t: &ResourceType,
    namespace: &str,
    name: &str,
    now: Timestamp,
    opts: &WriteOptions,
) -> Result<Arc<Stored>, ApiError> {
    let ns = if t.namespaced { namespace } else { "" };
    let old = cluster
        .store
        .get(&t.key(), ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&resource_name(t), name))?;
    if opts.dry_run {
        return Ok(old);
    }
    if t.kind == "Namespace" {
        let mut terminating = old.full();
        terminating["metadata"]["deletionTimestamp"] = json!(super::store::timestamp(now));
        terminating["status"]["phase"] = json!("Terminating");
        let shown = cluster.store.replace(t, terminating)?;
        let types: Vec<ResourceType> = cluster
            .registry
            .all()
            .iter()
            .filter(|x| x.namespaced)
            .cloned()
            .collect();
        for nt in &types {
            let names: Vec<String> = cluster
                .store
                .list(&nt.key(), Some(name))
                .map(|o| meta_str(o.head(), "name").to_string())
                .collect();
            for n in names {
                let _ = cluster.store.remove(nt, name, &n);
            }
        }
        cluster.store.remove(t, "", name)?;
        return Ok(shown);
    }
    let gone = cluster.store.remove(t, ns, name)?;
    if t.kind == "CustomResourceDefinition" {
        if let Some(ct) = cluster.registry.by_key(name).cloned() {
            cluster.store.remove_all(&ct);
        }
        cluster.registry.remove_crd(name);
    }
    collect_dependents(cluster, meta_str(old.head(), "uid"), ns);
    Ok(gone)
}

/// Removes objects whose controller owner (by uid) is gone, recursively.
fn collect_dependents(cluster: &mut Cluster, owner_uid: &str, namespace: &str) {
    if owner_uid.is_empty() {
        return;
    }
    let types: Vec<ResourceType> = cluster.registry.all().to_vec();
    let mut orphans: Vec<(ResourceType, String, String, String)> = Vec::new();
    for t in &types {
        let scope = if t.namespaced && !namespace.is_empty() {
            Some(namespace)
        } else {
            None
        };
        for o in cluster.store.list(&t.key(), scope) {
            let owned = o
                .head()
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| {
                    refs.iter()
                        .any(|r| r.get("uid").and_then(Value::as_str) == Some(owner_uid))
                });
            if owned {
                orphans.push((
                    t.clone(),
                    meta_str(o.head(), "namespace").to_string(),
                    meta_str(o.head(), "name").to_string(),
                    meta_str(o.head(), "uid").to_string(),
                ));
            }
        }
    }
    for (t, ns, name, uid) in orphans {
        if cluster.store.remove(&t, &ns, &name).is_ok() {
            collect_dependents(cluster, &uid, &ns);
        }
    }
}

/// A CRD written must register: it is tried on a copy of the registry, which a refusal
/// leaves as it was. Its status then says what it serves.
fn check_crd(
    cluster: &Cluster,
    t: &ResourceType,
    name: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let mut probe = cluster.registry.clone();
    probe
        .add_crd(obj)
        .map_err(|e| ApiError::invalid(&t.kind, &t.key(), name, "spec", &e))?;
    obj["status"] = crd_status(obj);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc1123() {
        assert!(valid_name("istiod-1-9-1"));
        assert!(valid_name("a.b"));
        assert!(!valid_name("Bad"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
        let g = generated_name("web-", 5);
        assert_eq!(g.len(), 9);
        assert!(valid_name(&g));
    }
}
