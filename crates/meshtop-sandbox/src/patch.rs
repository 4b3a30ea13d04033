//! Patches as the API server applies them: JSON merge (RFC 7386), JSON patch (RFC 6902),
//! strategic merge for built-in kinds, and server-side apply with field managers, conflicts
//! and `managedFields`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::resources::ResourceType;
use super::store::{meta_str, resource_name, timestamp};

pub fn merge_patch(old: &Value, patch: &Value) -> Value {
    let mut out = old.clone();
    json_patch::merge(&mut out, patch);
    out
}

pub fn json_patch(old: &Value, ops: &Value) -> Result<Value, ApiError> {
    let p: json_patch::Patch = serde_json::from_value(ops.clone())
        .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}")))?;
    let mut out = old.clone();
    json_patch::patch(&mut out, &p).map_err(|e| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {e}"),
        )
    })?;
    Ok(out)
}

/// The merge key of a list field in the built-in kinds, for strategic merge.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| {
        items
            .iter()
            .all(|i| i.get(k).is_some() || i.get("$patch").is_some())
    };
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" if has("port") => Some("port"),
        _ => None,
    }
}

/// Strategic merge patch (the parts kubectl sends: maps, `null` deletes, lists merged by
/// their merge key, `$patch` and `$setElementOrder`/`$retainKeys` directives).
pub fn strategic_merge_patch(old: &Value, patch: &Value) -> Result<Value, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "strategic merge patch must be a JSON object",
        ));
    }
    Ok(smp_object(old, patch).unwrap_or(Value::Null))
}

fn smp_object(old: &Value, patch: &Value) -> Option<Value> {
    let Some(pm) = patch.as_object() else {
        return Some(patch.clone());
    };
    match pm.get("$patch").and_then(Value::as_str) {
        Some("delete") => return None,
        Some("replace") => {
            let mut m = pm.clone();
            m.remove("$patch");
            return Some(Value::Object(m));
        }
        _ => {}
    }
    let mut out: Map<String, Value> = old.as_object().cloned().unwrap_or_default();
    for (k, v) in pm {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (out.get_mut(field), v.as_array()) {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v) {
            (Some(o @ Value::Object(_)), Value::Object(_)) => smp_object(o, v),
            (Some(Value::Array(ol)), Value::Array(pl)) => Some(match merge_key(k, pl) {
                Some(key) => Value::Array(merge_list(ol, pl, key)),
                None if k == "finalizers" => {
                    let mut l = ol.clone();
                    l.extend(pl.iter().filter(|x| !ol.contains(x)).cloned());
                    Value::Array(l)
                }
                None => v.clone(),
            }),
            (_, Value::Object(_)) => smp_object(&Value::Object(Map::new()), v),
            _ => Some(v.clone()),
        };
        match merged {
            Some(m) => {
                out.insert(k.clone(), m);
            }
            None => {
                out.remove(k);
            }
        }
    }
    Some(Value::Object(out))
}

fn merge_list(old: &[Value], patch: &[Value], key: &str) -> Vec<Value> {
    let mut out: Vec<Value> = old.to_vec();
    for item in patch {
        let id = item.get(key);
        let pos = out.iter().position(|o| o.get(key) == id && id.is_some());
        let directive = item.get("$patch").and_then(Value::as_str);
        match (pos, directive) {
            (Some(i), Some("delete")) => {
                out.remove(i);
            }
            (None, Some("delete")) => {}
            (Some(i), _) => match smp_object(&out[i], item) {
                Some(m) => out[i] = m,
                None => {
                    out.remove(i);
                }
            },
            (None, _) => {
                if let Some(m) = smp_object(&Value::Object(Map::new()), item) {
                    out.push(m);
                }
            }
        }
    }
    out
}

type FieldPath = Vec<String>;

/// Metadata the server owns; never tracked as a manager's field.
fn untracked(path: &[String]) -> bool {
    match path {
        [a, ..] if a == "apiVersion" || a == "kind" || a == "status" => true,
        [m, f, ..] if m == "metadata" => matches!(
            f.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "managedFields"
                | "deletionTimestamp"
                | "selfLink"
        ),
        _ => false,
    }
}

/// Leaf paths of an object; lists count as one atomic field.
fn leaf_paths(v: &Value) -> BTreeSet<FieldPath> {
    leaves(v, Some)
        .into_iter()
        .filter(|p| !untracked(p))
        .collect()
}

/// The paths to the leaves of nested maps (an empty map is a leaf), each key as `name`
/// reads it; a key it gives no name is passed over with what is below it.
fn leaves<'a>(v: &'a Value, name: fn(&'a str) -> Option<&'a str>) -> BTreeSet<FieldPath> {
    fn walk<'a>(
        v: &'a Value,
        name: fn(&'a str) -> Option<&'a str>,
        prefix: &mut FieldPath,
        out: &mut BTreeSet<FieldPath>,
    ) {
        match v.as_object() {
            Some(m) if !m.is_empty() => {
                for (k, x) in m {
                    let Some(k) = name(k) else { continue };
                    prefix.push(k.to_string());
                    walk(x, name, prefix, out);
                    prefix.pop();
                }
            }
            _ => {
                if !prefix.is_empty() {
                    out.insert(prefix.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(v, name, &mut Vec::new(), &mut out);
    out
}

fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

fn remove_at(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let emptied = {
        let mut cur = &mut *v;
        for k in parents {
            match cur.get_mut(k) {
                Some(next) => cur = next,
                None => return,
            }
        }
        match cur.as_object_mut() {
            Some(m) => {
                m.remove(last);
                m.is_empty()
            }
            None => false,
        }
    };
    // Drop maps emptied by the removal, as apply does (but never the top-level ones).
    if emptied && parents.len() > 1 {
        remove_at(v, parents);
    }
}

fn to_fields_v1(paths: &BTreeSet<FieldPath>) -> Value {
    fn insert(m: &mut Map<String, Value>, p: &[String]) {
        if let Some((first, rest)) = p.split_first()
            && let Value::Object(inner) = m.entry(format!("f:{first}")).or_insert_with(|| json!({}))
        {
            insert(inner, rest);
        }
    }
    let mut root = Map::new();
    for p in paths {
        insert(&mut root, p);
    }
    Value::Object(root)
}

fn from_fields_v1(v: &Value) -> BTreeSet<FieldPath> {
    leaves(v, |k| k.strip_prefix("f:"))
}

/// (manager, operation) → the fields it owns, read from `metadata.managedFields`.
fn managers(obj: &Value) -> BTreeMap<(String, String), (String, BTreeSet<FieldPath>)> {
    let mut out = BTreeMap::new();
    for e in obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let manager = e
            .get("manager")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let op = e
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or("Update")
            .to_string();
        let api_version = e
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let fields = e.get("fieldsV1").map(from_fields_v1).unwrap_or_default();
        out.insert((manager, op), (api_version, fields));
    }
    out
}

fn write_managers(
    obj: &mut Value,
    m: &BTreeMap<(String, String), (String, BTreeSet<FieldPath>)>,
    touched: &(String, String),
    now: Timestamp,
) {
    let previous: Vec<Value> = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let time_of = |manager: &str, op: &str| {
        previous
            .iter()
            .find(|e| {
                e.get("manager").and_then(Value::as_str) == Some(manager)
                    && e.get("operation").and_then(Value::as_str) == Some(op)
            })
            .and_then(|e| e.get("time").cloned())
    };
    let entries: Vec<Value> = m
        .iter()
        .filter(|(_, (_, fields))| !fields.is_empty())
        .map(|((manager, op), (api_version, fields))| {
            let time = if (manager, op) == (&touched.0, &touched.1) {
                json!(timestamp(now))
            } else {
                time_of(manager, op).unwrap_or_else(|| json!(timestamp(now)))
            };
            json!({
                "manager": manager,
                "operation": op,
                "apiVersion": api_version,
                "time": time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(fields),
            })
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// Records an Update (create, replace or non-apply patch): the fields it changed move to
/// `manager`.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    operation: &str,
    now: Timestamp,
) {
    let changed: BTreeSet<FieldPath> = leaf_paths(new)
        .into_iter()
        .filter(|p| old.is_none_or(|o| value_at(o, p) != value_at(new, p)))
        .collect();
    // The client's managedFields are not trusted: they come from the stored object.
    let mut m = old.map(managers).unwrap_or_default();
    if changed.is_empty() {
        if let Some(o) = old {
            new["metadata"]["managedFields"] = o
                .pointer("/metadata/managedFields")
                .cloned()
                .unwrap_or(Value::Null);
            if new["metadata"]["managedFields"].is_null()
                && let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.remove("managedFields");
            }
        }
        return;
    }
    for (_, fields) in m.values_mut() {
        fields.retain(|p| {
            !changed
                .iter()
                .any(|c| c == p || c.starts_with(p) || p.starts_with(c))
        });
    }
    let api_version = new
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let key = (manager.to_string(), operation.to_string());
    let entry = m
        .entry(key.clone())
        .or_insert_with(|| (api_version.clone(), BTreeSet::new()));
    entry.0 = api_version;
    entry.1.extend(changed);
    write_managers(new, &m, &key, now);
}

/// Server-side apply of `applied` over `old` by `manager`: conflicts with other managers are
/// refused (409) unless forced; fields this manager applied before and no longer applies are
/// removed when nobody else owns them.
pub fn apply(
    old: &Value,
    applied: &Value,
    manager: &str,
    force: bool,
    t: &ResourceType,
) -> Result<Value, ApiError> {
    let applied_paths = leaf_paths(applied);
    let owners = managers(old);
    let mut conflicts: Vec<(String, String, String)> = Vec::new();
    for p in &applied_paths {
        let differs = value_at(old, p).is_some_and(|live| Some(live) != value_at(applied, p));
        if !differs {
            continue;
        }
        for ((m, _), (api_version, fields)) in &owners {
            if m != manager && fields.contains(p) {
                conflicts.push((m.clone(), api_version.clone(), format!(".{}", p.join("."))));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let n = conflicts.len();
        let list: Vec<String> = conflicts
            .iter()
            .map(|(m, v, f)| format!("conflict with \"{m}\" using {v}: {f}"))
            .collect();
        let message = if n == 1 {
            format!("Apply failed with 1 conflict: {}", list[0])
        } else {
            format!("Apply failed with {n} conflicts: {}", list.join("\n"))
        };
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(m, v, f)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {v}"), "field": f}))
            .collect();
        return Err(ApiError::new(409, "Conflict", message).with_details(json!({
            "name": meta_str(old, "name"),
            "kind": resource_name(t),
            "causes": causes,
        })));
    }
    let mut out = old.clone();
    deep_merge(&mut out, applied);
    let before: BTreeSet<FieldPath> = owners
        .get(&(manager.to_string(), "Apply".to_string()))
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    for p in before.difference(&applied_paths) {
        let owned_by_other = owners
            .iter()
            .any(|((m, op), (_, f))| !(m == manager && op == "Apply") && f.contains(p));
        if !owned_by_other {
            remove_at(&mut out, p);
        }
    }
    Ok(out)
}

fn deep_merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

/// Records an Apply: `manager` now owns exactly what it applied; other managers lose those
/// fields (after a forced apply, or where values agreed).
pub fn record_apply(
    old: Option<&Value>,
    applied: &Value,
    new: &mut Value,
    manager: &str,
    now: Timestamp,
) {
    let applied_paths = leaf_paths(applied);
    let mut m = old.map(managers).unwrap_or_default();
    for ((name, _), (_, fields)) in m.iter_mut() {
        if name != manager {
            fields.retain(|p| {
                !applied_paths.contains(p)
                    || old.is_some_and(|o| value_at(o, p) == value_at(applied, p))
            });
        }
    }
    let api_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let key = (manager.to_string(), "Apply".to_string());
    m.insert(key.clone(), (api_version, applied_paths));
    write_managers(new, &m, &key, now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn strategic_merge_labels_unschedulable_and_containers() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "app", "image": "x:1"}, {"name": "side", "image": "y:1"}]}});
        let p = json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"unschedulable": true, "containers": [{"name": "side", "image": "y:2"}]}});
        let out = strategic_merge_patch(&old, &p).expect("smp");
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(out["spec"]["unschedulable"], true);
        assert_eq!(out["spec"]["containers"][0]["image"], "x:1");
        assert_eq!(out["spec"]["containers"][1]["image"], "y:2");
        let del = json!({"spec": {"containers": [{"name": "app", "$patch": "delete"}], "$setElementOrder/containers": [{"name": "side"}]}});
        let out = strategic_merge_patch(&out, &del).expect("smp");
        assert_eq!(out["spec"]["containers"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn merge_and_json_patch() {
        let old = json!({"spec": {"minAvailable": 1}, "metadata": {"annotations": {"x": "y"}}});
        let out = merge_patch(
            &old,
            &json!({"spec": {"minAvailable": 0}, "metadata": {"annotations": null}}),
        );
        assert_eq!(out, json!({"spec": {"minAvailable": 0}, "metadata": {}}));
        let out = json_patch(
            &old,
            &json!([{"op": "replace", "path": "/spec/minAvailable", "value": 0}]),
        )
        .expect("patch");
        assert_eq!(out["spec"]["minAvailable"], 0);
        let err = json_patch(
            &old,
            &json!([{"op": "test", "path": "/spec/minAvailable", "value": 5}]),
        )
        .expect_err("test op fails");
        assert_eq!(err.code, 422);
    }

    fn iop_type() -> ResourceType {
        let text = include_str!("../../../assets/crds/istiooperator-crd.yaml");
        // The upstream file ends with an empty document: take the first.
        let crd: Value = serde_yaml::Deserializer::from_str(text)
            .next()
            .and_then(|d| serde::Deserialize::deserialize(d).ok())
            .and_then(|y: serde_yaml::Value| serde_json::to_value(y).ok())
            .expect("crd");
        let mut reg = Registry::new();
        reg.add_crd(&crd).expect("type")
    }

    #[test]
    fn apply_owns_fields_conflicts_and_prunes() {
        let t = iop_type();
        let now = Timestamp::now();
        let first = json!({"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator", "metadata": {"name": "gw", "namespace": "istio-system"}, "spec": {"profile": "empty", "revision": "1-9-1", "tag": "1.9.1"}});
        let mut live = first.clone();
        record_apply(None, &first, &mut live, "meshtop", now);
        let mf = &live["metadata"]["managedFields"][0];
        assert_eq!(mf["manager"], "meshtop");
        assert_eq!(mf["operation"], "Apply");
        assert!(mf["fieldsV1"]["f:spec"]["f:profile"].is_object());

        // Another manager changes a field by update: it now owns it.
        let mut edited = live.clone();
        edited["spec"]["revision"] = json!("canary");
        record_update(Some(&live), &mut edited, "kubectl-edit", "Update", now);
        let live = edited;

        // Applying a different value for that field conflicts...
        let again = json!({"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator", "metadata": {"name": "gw"}, "spec": {"profile": "empty", "revision": "1-9-1"}});
        let err = apply(&live, &again, "meshtop", false, &t).expect_err("conflict");
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains("conflict with \"kubectl-edit\""),
            "{}",
            err.message
        );
        assert!(err.message.contains(".spec.revision"), "{}", err.message);
        // ...unless forced; and the dropped `tag` (owned only by meshtop) is pruned.
        let mut out = apply(&live, &again, "meshtop", true, &t).expect("forced");
        record_apply(Some(&live), &again, &mut out, "meshtop", now);
        assert_eq!(out["spec"]["revision"], "1-9-1");
        assert!(out["spec"].get("tag").is_none(), "{out}");
        let owners: Vec<&str> = out["metadata"]["managedFields"]
            .as_array()
            .expect("mf")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(owners, vec!["meshtop"]);
    }
}
