//! The object store: every object as JSON, one resourceVersion counter, and the event
//! history that watches resume from.
//!
//! An object is kept parsed, except its `metadata.managedFields`: those are about half of a
//! pod's JSON and, parsed, half of its memory (deep maps of tiny maps), yet only
//! server-side apply and field ownership read them. They are kept as their JSON text and
//! put back, where they were, whenever the object is served or read whole.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::error::ApiError;
use super::resources::ResourceType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// An object as the store keeps it. It reads as its JSON without `metadata.managedFields`
/// (`Deref`); it serializes whole, byte for byte as it was given; [`Stored::full`] gives it
/// whole as a `Value`, for code that changes it or reads its managed fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    value: Value,
    managed: Option<Managed>,
}

/// `metadata.managedFields` as JSON text, and its place among the metadata's fields.
#[derive(Debug, Clone)]
struct Managed {
    at: usize,
    json: Box<RawValue>,
}

/// Equal as JSON values are: the same text, or the same fields in another order.
impl PartialEq for Managed {
    fn eq(&self, other: &Self) -> bool {
        self.json.get() == other.json.get()
            || matches!(
                (
                    serde_json::from_str::<Value>(self.json.get()),
                    serde_json::from_str::<Value>(other.json.get()),
                ),
                (Ok(a), Ok(b)) if a == b
            )
    }
}

impl Stored {
    pub fn new(mut value: Value) -> Self {
        let managed = value
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .and_then(|meta| {
                let at = meta.keys().position(|k| k == "managedFields")?;
                let fields = meta.shift_remove("managedFields")?;
                match serde_json::value::to_raw_value(&fields) {
                    Ok(json) => Some(Managed { at, json }),
                    // Not reachable for a `Value`; kept parsed rather than lost.
                    Err(_) => {
                        meta.shift_insert(at, "managedFields".into(), fields);
                        None
                    }
                }
            });
        Self {
            value: compact(value),
            managed,
        }
    }

    /// The whole object, managed fields included.
    pub fn full(&self) -> Value {
        self.clone().into_full()
    }

    pub fn into_full(self) -> Value {
        let mut value = self.value;
        if let Some(m) = self.managed
            && let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut)
            && let Ok(fields) = serde_json::from_str::<Value>(m.json.get())
        {
            meta.shift_insert(m.at.min(meta.len()), "managedFields".into(), fields);
        }
        value
    }

    /// The object without its managed fields.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The object without its managed fields, to change other fields in place.
    pub fn value_mut(&mut self) -> &mut Value {
        &mut self.value
    }
}

/// The same value with every map and array holding just what it needs: parsing grows
/// them by doubling, which leaves up to half of each unused.
fn compact(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(k, compact(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => {
            let mut out: Vec<Value> = a.into_iter().map(compact).collect();
            out.shrink_to_fit();
            Value::Array(out)
        }
        other => other,
    }
}

impl std::ops::Deref for Stored {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.value
    }
}

impl From<Value> for Stored {
    fn from(value: Value) -> Self {
        Self::new(value)
    }
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => self.value.fmt(f),
        }
    }
}

impl Stored {
    /// The object's top-level fields, each ready to serialize whole (metadata with its
    /// managed fields); `None` if the object is not a JSON object.
    pub fn fields(&self) -> Option<impl Iterator<Item = (&String, Field<'_>)>> {
        let fields = self.value.as_object()?;
        Some(fields.iter().map(|(k, v)| {
            let field = match (&self.managed, v.as_object()) {
                (Some(managed), Some(meta)) if k == "metadata" => {
                    Field::Metadata(WithManaged { meta, managed })
                }
                _ => Field::Plain(v),
            };
            (k, field)
        }))
    }
}

impl Serialize for Stored {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(fields) = self.fields() else {
            return self.value.serialize(s);
        };
        let mut map = s.serialize_map(self.value.as_object().map(Map::len))?;
        for (k, v) in fields {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

/// One top-level field of a stored object, as served.
pub enum Field<'a> {
    Plain(&'a Value),
    Metadata(WithManaged<'a>),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Plain(v) => v.serialize(s),
            Field::Metadata(m) => m.serialize(s),
        }
    }
}

/// Metadata with its managed fields back in their place.
pub struct WithManaged<'a> {
    meta: &'a Map<String, Value>,
    managed: &'a Managed,
}

impl Serialize for WithManaged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.meta.len() + 1))?;
        let at = self.managed.at.min(self.meta.len());
        for (i, (k, v)) in self.meta.iter().enumerate() {
            if i == at {
                map.serialize_entry("managedFields", &self.managed.json)?;
            }
            map.serialize_entry(k, v)?;
        }
        if at == self.meta.len() {
            map.serialize_entry("managedFields", &self.managed.json)?;
        }
        map.end()
    }
}

/// One change, as kept in the history and sent to watches.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: u64,
    /// The type key (`pods`, `deployments.apps`, a CRD name).
    pub key: String,
    pub namespace: String,
    pub type_: EventType,
    pub object: Arc<Stored>,
    /// The object before the change, so a selector watch can tell an object that left it.
    pub old: Option<Arc<Stored>>,
}

struct Watcher {
    key: String,
    namespace: Option<String>,
    tx: mpsc::UnboundedSender<Arc<WatchEvent>>,
}

/// The events a watch replays, and the channel of the ones to come.
pub type WatchStart = (
    Vec<Arc<WatchEvent>>,
    mpsc::UnboundedReceiver<Arc<WatchEvent>>,
);

type Objects = BTreeMap<(String, String), Arc<Stored>>;

/// A type's objects as they were at one resourceVersion, in (namespace, name) order: the
/// pages of one paged list all come from it, so objects created or deleted between pages
/// neither repeat nor go missing. Holding it costs a pointer per object.
pub type Snapshot = Arc<Vec<Arc<Stored>>>;

struct ListSnapshot {
    key: String,
    namespace: Option<String>,
    rv: u64,
    taken: std::time::Instant,
    objects: Snapshot,
}

/// Snapshots kept for paged lists, newest last; the oldest go first, and any older than
/// `SNAPSHOT_TTL`, as etcd compacts after five minutes and a real server's continue
/// tokens then expire.
const SNAPSHOTS_KEPT: usize = 32;
const SNAPSHOT_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// All objects of the sandbox.
pub struct Store {
    rv: u64,
    objects: HashMap<String, Objects>,
    history: VecDeque<Arc<WatchEvent>>,
    history_cap: usize,
    /// The resourceVersion of the newest event dropped from the history.
    compacted: u64,
    watchers: Vec<Watcher>,
    snapshots: VecDeque<ListSnapshot>,
}

/// RFC 3339 at whole seconds, the way the API server writes timestamps.
pub fn timestamp(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    uuid_v4_shape(&b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// 32 hex digits as a UUID of version 4, the shape Kubernetes gives uids and
/// istiod its nonces.
pub fn uuid_v4_shape(hex: &str) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Kinds whose objects carry `metadata.generation`.
fn uses_generation(t: &ResourceType) -> bool {
    t.custom
        || matches!(
            t.kind.as_str(),
            "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "PodDisruptionBudget"
                | "HorizontalPodAutoscaler"
                | "MutatingWebhookConfiguration"
                | "CustomResourceDefinition"
                | "Pod"
        )
}

/// What of an object counts towards its generation: all but metadata and status.
fn spec_part(v: &Value) -> Value {
    match v.as_object() {
        Some(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => Value::Null,
    }
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The strings of a JSON array; none if it is not one.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

impl Store {
    pub fn new(history_cap: usize) -> Self {
        Self {
            rv: 0,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_cap: history_cap.max(1),
            compacted: 0,
            watchers: Vec::new(),
            snapshots: VecDeque::new(),
        }
    }

    /// The objects of a type (in one namespace or all) now, kept for the pages that follow.
    pub fn snapshot(&mut self, key: &str, namespace: Option<&str>) -> Snapshot {
        if let Some(s) = self.snapshot_at(key, namespace, self.rv) {
            return s;
        }
        let objects: Snapshot = Arc::new(self.list(key, namespace).cloned().collect());
        if self.snapshots.len() >= SNAPSHOTS_KEPT {
            self.snapshots.pop_front();
        }
        self.snapshots.push_back(ListSnapshot {
            key: key.to_string(),
            namespace: namespace.map(str::to_string),
            rv: self.rv,
            taken: std::time::Instant::now(),
            objects: objects.clone(),
        });
        objects
    }

    /// The snapshot a paged list took at `rv`, if it is still kept.
    pub fn snapshot_at(&mut self, key: &str, namespace: Option<&str>, rv: u64) -> Option<Snapshot> {
        self.snapshots.retain(|s| s.taken.elapsed() < SNAPSHOT_TTL);
        self.snapshots
            .iter()
            .find(|s| s.rv == rv && s.key == key && s.namespace.as_deref() == namespace)
            .map(|s| s.objects.clone())
    }

    /// Forgets every list snapshot, as a server whose storage compacted.
    pub fn drop_snapshots(&mut self) {
        self.snapshots.clear();
    }

    pub fn set_history_cap(&mut self, cap: usize) {
        self.history_cap = cap.max(1);
        self.trim_history();
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, key: &str, namespace: &str, name: &str) -> Option<&Arc<Stored>> {
        self.objects
            .get(key)?
            .get(&(namespace.to_string(), name.to_string()))
    }

    /// Objects of a type, in one namespace or all, ordered by namespace then name. One
    /// namespace is a range of the ordered map: its cost does not grow with the others.
    pub fn list<'a>(
        &'a self,
        key: &str,
        namespace: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Stored>> + 'a> {
        let Some(m) = self.objects.get(key) else {
            return Box::new(std::iter::empty());
        };
        match namespace {
            None => Box::new(m.values()),
            Some(n) => Box::new(
                m.range((n.to_string(), String::new())..)
                    .take_while(move |((ns, _), _)| ns == n)
                    .map(|(_, v)| v),
            ),
        }
    }

    /// Whether an object may have been removed after resourceVersion `rv` (also when the
    /// history no longer reaches back that far).
    pub fn removed_since(&self, rv: u64) -> bool {
        rv < self.compacted
            || self
                .history
                .iter()
                .rev()
                .take_while(|e| e.rv > rv)
                .any(|e| e.type_ == EventType::Deleted)
    }

    /// The namespaces objects changed in after resourceVersion `rv`; `None` when that
    /// cannot be told (the history no longer reaches back that far) or when a cluster-scoped
    /// object changed, which may concern every namespace.
    pub fn changed_since(&self, rv: u64) -> Option<std::collections::BTreeSet<String>> {
        if rv < self.compacted {
            return None;
        }
        let mut namespaces = std::collections::BTreeSet::new();
        for e in self.history.iter().rev().take_while(|e| e.rv > rv) {
            if e.namespace.is_empty() {
                return None;
            }
            namespaces.insert(e.namespace.clone());
        }
        Some(namespaces)
    }

    /// Owned copies, whole, for code that writes while iterating.
    pub fn list_cloned(&self, key: &str, namespace: Option<&str>) -> Vec<Value> {
        self.list(key, namespace).map(|v| v.full()).collect()
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores a new object, filling the metadata the server owns.
    pub fn create(
        &mut self,
        t: &ResourceType,
        mut obj: Value,
        now: Timestamp,
    ) -> Result<Arc<Stored>, ApiError> {
        let namespace = if t.namespaced {
            meta_str(&obj, "namespace").to_string()
        } else {
            String::new()
        };
        let name = meta_str(&obj, "name").to_string();
        if self.get(&t.key(), &namespace, &name).is_some() {
            return Err(ApiError::already_exists(&resource_name(t), &name));
        }
        let rv = self.next_rv();
        let meta = obj
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("object is not a JSON object"))?
            .entry("metadata")
            .or_insert_with(|| json!({}));
        let meta = meta
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata is not an object"))?;
        if !t.namespaced {
            meta.remove("namespace");
        }
        // A uid given by the scenario loader is kept, so owner references written with it
        // still point at their owner; clients' uids are dropped before this (api::create).
        if meta
            .get("uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            meta.insert("uid".into(), json!(new_uid()));
        }
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        if !meta.get("creationTimestamp").is_some_and(Value::is_string) {
            meta.insert("creationTimestamp".into(), json!(timestamp(now)));
        }
        if uses_generation(t) {
            // A loaded object keeps its generation (clients' are dropped in api::create).
            let given = meta
                .get("generation")
                .and_then(Value::as_i64)
                .filter(|g| *g > 0);
            meta.insert("generation".into(), json!(given.unwrap_or(1)));
        } else {
            meta.remove("generation");
        }
        meta.remove("deletionTimestamp");
        meta.remove("selfLink");
        let obj = Arc::new(Stored::new(obj));
        self.objects
            .entry(t.key())
            .or_default()
            .insert((namespace.clone(), name), obj.clone());
        self.record(t.key(), namespace, EventType::Added, obj.clone(), None, rv);
        Ok(obj)
    }

    /// Replaces an existing object. `obj` carries the whole new state; the server-owned
    /// metadata (uid, creationTimestamp, generation, resourceVersion) is kept or advanced here.
    /// An unchanged object is not rewritten and makes no event.
    pub fn replace(&mut self, t: &ResourceType, mut obj: Value) -> Result<Arc<Stored>, ApiError> {
        let namespace = if t.namespaced {
            meta_str(&obj, "namespace").to_string()
        } else {
            String::new()
        };
        let name = meta_str(&obj, "name").to_string();
        let old = self
            .get(&t.key(), &namespace, &name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&resource_name(t), &name))?;
        {
            let meta = obj
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| ApiError::bad_request("metadata is required"))?;
            for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
                match old.pointer(&format!("/metadata/{field}")) {
                    Some(v) => meta.insert(field.into(), v.clone()),
                    None => meta.remove(field),
                };
            }
            if !t.namespaced {
                meta.remove("namespace");
            }
        }
        let mut obj = Stored::new(obj);
        if obj == *old {
            return Ok(old);
        }
        if uses_generation(t) && spec_part(&obj) != spec_part(&old) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            obj.value_mut()["metadata"]["generation"] = json!(g);
        }
        let rv = self.next_rv();
        obj.value_mut()["metadata"]["resourceVersion"] = json!(rv.to_string());
        let obj = Arc::new(obj);
        self.objects
            .entry(t.key())
            .or_default()
            .insert((namespace.clone(), name), obj.clone());
        self.record(
            t.key(),
            namespace,
            EventType::Modified,
            obj.clone(),
            Some(old),
            rv,
        );
        Ok(obj)
    }

    /// Removes an object for good.
    pub fn remove(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Stored>, ApiError> {
        let namespace = if t.namespaced { namespace } else { "" };
        let old = self
            .objects
            .get_mut(&t.key())
            .and_then(|m| m.remove(&(namespace.to_string(), name.to_string())))
            .ok_or_else(|| ApiError::not_found(&resource_name(t), name))?;
        let rv = self.next_rv();
        let mut gone = (*old).clone();
        gone.value_mut()["metadata"]["resourceVersion"] = json!(rv.to_string());
        let gone = Arc::new(gone);
        self.record(
            t.key(),
            namespace.to_string(),
            EventType::Deleted,
            gone.clone(),
            Some(old),
            rv,
        );
        Ok(gone)
    }

    /// Drops every object of a type (its CRD went away); watches see them deleted.
    pub fn remove_all(&mut self, t: &ResourceType) {
        let keys: Vec<(String, String)> = self
            .objects
            .get(&t.key())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for (ns, name) in keys {
            let _ = self.remove(t, &ns, &name);
        }
    }

    fn record(
        &mut self,
        key: String,
        namespace: String,
        type_: EventType,
        object: Arc<Stored>,
        old: Option<Arc<Stored>>,
        rv: u64,
    ) {
        let ev = Arc::new(WatchEvent {
            rv,
            key,
            namespace,
            type_,
            object,
            old,
        });
        self.watchers.retain(|w| {
            if w.key != ev.key || w.namespace.as_ref().is_some_and(|n| *n != ev.namespace) {
                return !w.tx.is_closed();
            }
            w.tx.send(ev.clone()).is_ok()
        });
        self.history.push_back(ev);
        self.trim_history();
    }

    fn trim_history(&mut self) {
        while self.history.len() > self.history_cap {
            if let Some(e) = self.history.pop_front() {
                self.compacted = e.rv;
            }
        }
    }

    /// Starts a watch after resourceVersion `from`: the events already past it, then a
    /// channel for the ones to come. `from` older than the kept history is `Err` (410 Gone).
    pub fn watch_from(
        &mut self,
        key: &str,
        namespace: Option<&str>,
        from: u64,
    ) -> Result<WatchStart, ApiError> {
        if from < self.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {from} ({})",
                self.compacted + 1
            )));
        }
        let backlog = self
            .history
            .iter()
            .filter(|e| e.rv > from && e.key == key && namespace.is_none_or(|n| n == e.namespace))
            .cloned()
            .collect();
        Ok((backlog, self.subscribe(key, namespace)))
    }

    pub fn subscribe(
        &mut self,
        key: &str,
        namespace: Option<&str>,
    ) -> mpsc::UnboundedReceiver<Arc<WatchEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.watchers.push(Watcher {
            key: key.to_string(),
            namespace: namespace.map(str::to_string),
            tx,
        });
        rx
    }
}

/// The name a real server uses for a type in messages: `pods`, `deployments.apps`.
pub fn resource_name(t: &ResourceType) -> String {
    t.key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn cm(name: &str, data: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {"k": data}})
    }

    #[test]
    fn create_replace_remove_advance_resource_version_and_record_events() {
        let reg = Registry::new();
        let t = reg.by_kind("v1", "ConfigMap").expect("cm").clone();
        let mut s = Store::new(100);
        let now = Timestamp::now();
        let a = s.create(&t, cm("a", "1"), now).expect("create");
        assert_eq!(a["metadata"]["resourceVersion"], "1");
        assert!(a["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
        assert!(
            s.create(&t, cm("a", "1"), now)
                .is_err_and(|e| e.code == 409)
        );
        let same = s.replace(&t, cm("a", "1")).expect("noop");
        assert_eq!(
            same["metadata"]["resourceVersion"], "1",
            "unchanged object keeps its rv"
        );
        let b = s.replace(&t, cm("a", "2")).expect("replace");
        assert_eq!(b["metadata"]["resourceVersion"], "2");
        assert_eq!(b["metadata"]["uid"], a["metadata"]["uid"]);
        s.remove(&t, "ns", "a").expect("remove");
        assert!(s.get("configmaps", "ns", "a").is_none());
        let (backlog, _rx) = s.watch_from("configmaps", None, 1).expect("watch");
        let types: Vec<_> = backlog.iter().map(|e| e.type_).collect();
        assert_eq!(types, vec![EventType::Modified, EventType::Deleted]);
    }

    #[test]
    fn stored_objects_serve_and_read_whole_byte_for_byte() {
        let spec = crate::generate::GenerateSpec::parse("nodes=3,pods=40").expect("spec");
        let cluster = crate::generate::build(&spec, Timestamp::now()).expect("build");
        let mut with_managed = 0;
        for key in ["pods", "deployments.apps", "replicasets.apps", "nodes"] {
            for o in cluster.store.list(key, None) {
                let whole = o.full();
                // Served as it was given: the managed fields back where they were.
                let served = serde_json::to_vec(&**o).expect("json");
                assert_eq!(served, serde_json::to_vec(&whole).expect("json"));
                assert_eq!(Stored::new(whole.clone()), **o);
                assert_eq!(serde_json::to_value(&**o).expect("value"), whole);
                if let Some(m) = whole.pointer("/metadata/managedFields") {
                    with_managed += 1;
                    assert!(o.pointer("/metadata/managedFields").is_none());
                    assert!(m.as_array().is_some_and(|a| !a.is_empty()));
                }
            }
        }
        assert!(
            with_managed > 40,
            "{with_managed} objects with managed fields"
        );
    }

    #[test]
    fn managed_fields_keep_their_place_among_the_metadata() {
        let text = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","managedFields":[{"manager":"m","fieldsV1":{"f:data":{"f:k":{}}}}],"namespace":"ns"},"data":{"k":"v"}}"#;
        let v: Value = serde_json::from_str(text).expect("json");
        let s = Stored::new(v.clone());
        assert_eq!(serde_json::to_string(&s).expect("json"), text);
        assert_eq!(s.full(), v);
        let whole = s.full();
        let keys: Vec<&String> = whole["metadata"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["name", "managedFields", "namespace"]);
        // The same fields in another order are the same object.
        let reordered: Value = serde_json::from_str(&text.replace(
            r#"{"manager":"m","fieldsV1":{"f:data":{"f:k":{}}}}"#,
            r#"{"fieldsV1":{"f:data":{"f:k":{}}},"manager":"m"}"#,
        ))
        .expect("json");
        assert_eq!(Stored::new(reordered), s);
    }

    #[test]
    fn watch_from_compacted_history_is_gone() {
        let reg = Registry::new();
        let t = reg.by_kind("v1", "ConfigMap").expect("cm").clone();
        let mut s = Store::new(3);
        for i in 0..6 {
            s.create(&t, cm(&format!("c{i}"), "x"), Timestamp::now())
                .expect("create");
        }
        let err = s.watch_from("configmaps", None, 1).expect_err("gone");
        assert_eq!(err.code, 410);
        assert_eq!(err.reason, "Expired");
        assert!(s.watch_from("configmaps", None, 3).is_ok());
    }

    #[test]
    fn generation_moves_only_with_spec() {
        let reg = Registry::new();
        let t = reg
            .by_kind("apps/v1", "Deployment")
            .expect("deploy")
            .clone();
        let mut s = Store::new(10);
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"}, "spec": {"replicas": 1}});
        s.create(&t, d.clone(), Timestamp::now()).expect("create");
        let mut with_status = d.clone();
        with_status["status"] = json!({"replicas": 1});
        let o = s.replace(&t, with_status.clone()).expect("status");
        assert_eq!(o["metadata"]["generation"], 1);
        with_status["spec"]["replicas"] = json!(2);
        let o = s.replace(&t, with_status).expect("spec");
        assert_eq!(o["metadata"]["generation"], 2);
    }
}
