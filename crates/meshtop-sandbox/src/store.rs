//! The object store: every object as JSON, one resourceVersion counter, and the event
//! history that watches resume from.
//!
//! An object is kept as its compact JSON text, written once when it is stored, and served
//! as it is: a list, a watch event or a GET copies the bytes, never re-encodes them. The
//! values the replicas of a workload repeat (what their containers, volumes, annotations
//! and managedFields have in common) are kept once and shared between the objects that
//! hold them ([`text`]). Beside
//! the text the store keeps parsed only what its indexes and readers look at on every
//! object: `apiVersion`, `kind`, the metadata (without `managedFields`) and the few fields
//! field selectors match on ([`Stored::head`]). Whatever reads more of an object parses it
//! ([`Stored::full`], or a lean typed read with [`Stored::read`]).

mod text;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::error::ApiError;
use super::resources::ResourceType;
use text::{Text, encode};

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

/// An object as the store keeps it: its JSON text, byte for byte as it is served, and its
/// head parsed.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The whole object, compact; what it repeats of other objects shared with them.
    json: Text,
    /// Where each top-level `"key":value` lies in `json`, in order.
    fields: Box<[(u32, u32)]>,
    /// Which of `fields` are `kind` and `apiVersion`, one bit each by position (see
    /// [`type_fields`]): what a list item leaves out or replaces, told without reading
    /// the text.
    typed: u32,
    /// The object without `metadata.managedFields` and without the bulky parts of the
    /// kinds a cluster holds by the thousand (see [`Stored::head`]).
    head: Value,
}

/// Of a pod, the head keeps only these fields of `spec` and `status` (what field
/// selectors match on, and what the controllers and istiod read of every pod); of each of
/// its containers and init containers only `CONTAINER`, and of its conditions only the
/// Ready one's `READY`.
const POD_SPEC: &[&str] = &[
    "containers",
    "initContainers",
    "nodeName",
    "restartPolicy",
    "schedulerName",
    "serviceAccountName",
];
const CONTAINER: &[&str] = &["name", "image", "restartPolicy"];
const READY: &[&str] = &["type", "status", "lastTransitionTime"];
const POD_STATUS: &[&str] = &[
    "phase",
    "conditions",
    "podIP",
    "nominatedNodeName",
    "startTime",
];

/// Two objects are equal when their JSON is: the same text, or the same fields in
/// another order.
impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.json.as_str() == other.json.as_str() || self.full() == other.full()
    }
}

impl Stored {
    pub fn new(value: Value) -> Self {
        let (json, fields) = encode(&value);
        Self {
            json,
            fields,
            typed: type_fields(&value),
            head: head_of(value),
        }
    }

    /// The object's head: the object as parsed JSON without `metadata.managedFields`,
    /// and without what is bulky in the kinds a cluster holds by the thousand: a pod's head
    /// keeps of `spec` and `status` only the fields in `POD_SPEC` and `POD_STATUS`, of its
    /// containers only their names, images and restart policies, and of its conditions only
    /// Ready's type, status and time; a
    /// Deployment's, ReplicaSet's, StatefulSet's, DaemonSet's or Job's has no
    /// `spec.template`; a node's no `status.images`. Read those with [`Stored::full`] or
    /// [`Stored::read`].
    pub fn head(&self) -> &Value {
        &self.head
    }

    /// The object's metadata, without `managedFields`.
    pub fn meta(&self) -> &Value {
        self.head.get("metadata").unwrap_or(&Value::Null)
    }

    /// The whole object, parsed.
    pub fn full(&self) -> Value {
        serde_json::from_str(&self.json.as_str()).unwrap_or(Value::Null)
    }

    /// A typed read of the object: a struct naming only the fields wanted skips the rest
    /// without building it. `None` when the object does not have that shape.
    pub fn read<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(&self.json.as_str()).ok()
    }

    /// One top-level field of the object, whole (`spec`, `status`), parsed from its
    /// text alone.
    pub fn field(&self, key: &str) -> Option<Value> {
        // Keys are written as serde_json writes them: compared as text, before the value
        // is read (a pod's spec or metadata runs to kilobytes).
        let mut quoted = serde_json::to_string(key).ok()?;
        quoted.push(':');
        let (start, end) = self.fields.iter().find_map(|&(start, end)| {
            let (start, end) = (start as usize, end as usize);
            let value_at = start + quoted.len();
            (value_at < end && self.json.range(start, value_at)? == quoted.as_str())
                .then_some((value_at, end))
        })?;
        serde_json::from_str(&self.json.range(start, end)?).ok()
    }

    /// The object's JSON, as served.
    pub fn json(&self) -> Cow<'_, str> {
        self.json.as_str()
    }

    /// The length of the object's JSON in bytes.
    pub fn json_len(&self) -> usize {
        self.json.len()
    }

    /// Appends the object's JSON, as served, to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.json.write(out);
    }

    /// The same object with `metadata.resourceVersion` set to `rv`.
    pub fn at_resource_version(&self, rv: u64) -> Self {
        let mut v = self.full();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
        }
        Self::new(v)
    }

    /// Writes the object as an item of a list: a real server leaves out `kind` and
    /// `apiVersion` of built-in kinds (`api_version` `None`), and shows custom resources
    /// at the version asked for.
    pub fn write_item(&self, out: &mut Vec<u8>, api_version: Option<&str>) {
        if self.fields.is_empty() {
            self.json.write(out);
            return;
        }
        let spans = self
            .fields
            .iter()
            .map(|&(start, end)| (start as usize, end as usize));
        if api_version.is_none() && self.typed & TYPED_FAR == 0 {
            // A built-in kind's item: every field but `kind` and `apiVersion`, copied in
            // one walk over the text.
            out.push(b'{');
            let kept = spans
                .enumerate()
                .filter(|(i, _)| self.typed_field(*i) != Some(true))
                .map(|(_, span)| span);
            self.json.write_spans(out, kept, b',');
            out.push(b'}');
            return;
        }
        out.push(b'{');
        let mut first = true;
        for (i, (start, end)) in spans.enumerate() {
            let key = if self.typed_field(i) == Some(false) {
                Cow::Borrowed("")
            } else {
                self.json
                    .range(start, (start + 13).min(end))
                    .unwrap_or_default()
            };
            let replaced = if key.starts_with("\"kind\":") {
                if api_version.is_none() {
                    continue;
                }
                None
            } else if key.starts_with("\"apiVersion\":") {
                match api_version {
                    None => continue,
                    Some(av) => Some(av),
                }
            } else {
                None
            };
            if !first {
                out.push(b',');
            }
            first = false;
            match replaced {
                Some(av) => {
                    out.extend_from_slice(b"\"apiVersion\":");
                    let _ = serde_json::to_writer(&mut *out, av);
                }
                None => self.json.write_range(out, start, end),
            }
        }
        out.push(b'}');
    }

    /// Whether the top-level field at position `i` is `kind` or `apiVersion`; `None` when
    /// only its key can tell.
    fn typed_field(&self, i: usize) -> Option<bool> {
        if i < TYPED_FAR_BIT {
            Some(self.typed & (1 << i) != 0)
        } else if self.typed & TYPED_FAR == 0 {
            Some(false)
        } else {
            None
        }
    }

    /// The same object at another `apiVersion` (a custom resource served at the version
    /// asked for), its fields in their places.
    pub fn at_api_version(&self, api_version: &str) -> Self {
        let mut out = Vec::with_capacity(self.json_len() + api_version.len());
        self.write_item(&mut out, Some(api_version));
        match String::from_utf8(out)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        {
            Some(v) => Self::new(v),
            None => self.clone(),
        }
    }
}

/// In [`Stored::typed`], the bit set when `kind` or `apiVersion` lies at this position or
/// later, where no bit of its own marks it; such an object's items are written by reading
/// each field's key.
const TYPED_FAR_BIT: usize = 31;
const TYPED_FAR: u32 = 1 << TYPED_FAR_BIT;

/// The positions of an object's top-level `kind` and `apiVersion` (see [`Stored::typed`]).
fn type_fields(value: &Value) -> u32 {
    let Some(map) = value.as_object() else {
        return 0;
    };
    map.keys()
        .enumerate()
        .filter(|(_, k)| matches!(k.as_str(), "kind" | "apiVersion"))
        .fold(0, |typed, (i, _)| typed | (1 << i.min(TYPED_FAR_BIT)))
}

/// What the store holds, in bytes of heap by part: a measurement aid (the pod_bytes bench).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Footprint {
    pub objects: usize,
    /// The text each object holds alone, and its piece list.
    pub text_own: usize,
    /// The shared pieces, each counted once.
    pub text_shared: usize,
    pub shared_pieces: usize,
    /// The top-level field offsets.
    pub fields: usize,
    /// The index: keys and nodes of the ordered maps, and the `Arc<Stored>` boxes.
    pub index: usize,
    pub history_events: usize,
    pub snapshots: usize,
}

impl Store {
    #[doc(hidden)]
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint::default();
        let mut shared = HashMap::new();
        for m in self.objects.values() {
            for ((ns, name), o) in m {
                f.objects += 1;
                f.text_own += o.json.heap(&mut shared);
                f.fields += text::chunk(o.fields.len() * 8);
                // A BTreeMap leaf holds 11 entries of key and value: about 1/8 of a
                // node (~600 bytes) an entry, half-full on average.
                f.index += text::chunk(ns.len())
                    + text::chunk(name.len())
                    + 80
                    + text::chunk(std::mem::size_of::<Stored>() + 16);
            }
        }
        f.shared_pieces = shared.len();
        f.text_shared = shared.values().sum();
        f.history_events = self.history.len();
        f.snapshots = self.snapshots.iter().map(|s| s.objects.len()).sum();
        f
    }
}

/// The head of an object (see [`Stored::head`]), built from its parts.
fn head_of(value: Value) -> Value {
    let Value::Object(mut whole) = value else {
        return value;
    };
    if let Some(meta) = whole.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    let kind = whole.get("kind").and_then(Value::as_str).unwrap_or("");
    let keep_only = |part: Option<&mut Value>, keep: &[&str]| {
        if let Some(m) = part.and_then(Value::as_object_mut) {
            m.retain(|k, _| keep.contains(&k.as_str()));
        }
    };
    match kind {
        "Pod" => {
            keep_only(whole.get_mut("spec"), POD_SPEC);
            keep_only(whole.get_mut("status"), POD_STATUS);
            if let Some(conditions) = whole
                .get_mut("status")
                .and_then(|s| s.get_mut("conditions"))
                .and_then(Value::as_array_mut)
            {
                conditions.retain(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
                for c in conditions {
                    keep_only(Some(c), READY);
                }
            }
            for list in ["containers", "initContainers"] {
                if let Some(items) = whole
                    .get_mut("spec")
                    .and_then(|s| s.get_mut(list))
                    .and_then(Value::as_array_mut)
                {
                    for c in items {
                        keep_only(Some(c), CONTAINER);
                    }
                }
            }
        }
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => {
            if let Some(spec) = whole.get_mut("spec").and_then(Value::as_object_mut) {
                spec.shift_remove("template");
            }
        }
        "Node" => {
            if let Some(status) = whole.get_mut("status").and_then(Value::as_object_mut) {
                status.shift_remove("images");
            }
        }
        _ => {}
    }
    compact(Value::Object(whole))
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
            // A new vector of just the length, not the parsed one shrunk (see `text::exact`).
            let mut out = Vec::with_capacity(a.len());
            out.extend(a.into_iter().map(compact));
            Value::Array(out)
        }
        other => other,
    }
}

impl From<Value> for Stored {
    fn from(value: Value) -> Self {
        Self::new(value)
    }
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.json.fmt(f)
    }
}

/// Serializes as the stored text (into JSON, byte for byte).
impl Serialize for Stored {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = match self.json.as_str() {
            Cow::Borrowed(text) => serde_json::from_str::<&RawValue>(text).map(Cow::Borrowed),
            Cow::Owned(text) => RawValue::from_string(text).map(Cow::Owned),
        };
        match raw {
            Ok(raw) => raw.serialize(s),
            Err(_) => self.full().serialize(s),
        }
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
    /// The resourceVersion of each type's last change.
    changed_at: HashMap<String, u64>,
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
            changed_at: HashMap::new(),
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

    /// The type keys that hold objects.
    pub fn keys(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
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

    /// Whether an object of a type (`nodes`) changed after resourceVersion `rv`.
    pub fn type_changed_since(&self, key: &str, rv: u64) -> bool {
        self.changed_at.get(key).is_some_and(|at| *at > rv)
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
        let before = old.full();
        {
            let meta = obj
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| ApiError::bad_request("metadata is required"))?;
            for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
                match old.meta().get(field) {
                    Some(v) => meta.insert(field.into(), v.clone()),
                    None => meta.remove(field),
                };
            }
            if !t.namespaced {
                meta.remove("namespace");
            }
        }
        if obj == before {
            return Ok(old);
        }
        if uses_generation(t) && spec_part(&obj) != spec_part(&before) {
            let g = old
                .meta()
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            obj["metadata"]["generation"] = json!(g);
        }
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let obj = Arc::new(Stored::new(obj));
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
        let gone = Arc::new(old.at_resource_version(rv));
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
        match self.changed_at.get_mut(&key) {
            Some(at) => *at = rv,
            None => {
                self.changed_at.insert(key.clone(), rv);
            }
        }
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
        assert_eq!(a.head()["metadata"]["resourceVersion"], "1");
        assert!(
            a.head()["metadata"]["uid"]
                .as_str()
                .is_some_and(|u| u.len() == 36)
        );
        assert!(
            s.create(&t, cm("a", "1"), now)
                .is_err_and(|e| e.code == 409)
        );
        let same = s.replace(&t, cm("a", "1")).expect("noop");
        assert_eq!(
            same.head()["metadata"]["resourceVersion"],
            "1",
            "unchanged object keeps its rv"
        );
        let b = s.replace(&t, cm("a", "2")).expect("replace");
        assert_eq!(b.head()["metadata"]["resourceVersion"], "2");
        assert_eq!(b.head()["metadata"]["uid"], a.head()["metadata"]["uid"]);
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
                    assert!(o.head().pointer("/metadata/managedFields").is_none());
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
    fn list_items_heads_and_fields_come_from_the_stored_text() {
        let meta = r#""metadata":{"name":"p","namespace":"ns","managedFields":[{"manager":"m"}]}"#;
        let spec = r#""spec":{"nodeName":"n","containers":[{"name":"app","image":"a:1","ports":[{"containerPort":80}]}]}"#;
        let status = r#""status":{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"t"}],"containerStatuses":[{"name":"app"}]}"#;
        let text = format!(r#"{{"kind":"Pod",{meta},"apiVersion":"v1",{spec},{status}}}"#);
        let s = Stored::new(serde_json::from_str(&text).expect("json"));
        assert_eq!(s.json(), text);
        assert_eq!(serde_json::to_string(&s).expect("json"), text);
        let mut item = Vec::new();
        s.write_item(&mut item, None);
        assert_eq!(
            String::from_utf8(item).expect("utf-8"),
            format!("{{{meta},{spec},{status}}}")
        );
        let mut item = Vec::new();
        s.write_item(&mut item, Some("v2"));
        assert_eq!(
            String::from_utf8(item).expect("utf-8"),
            format!(r#"{{"kind":"Pod",{meta},"apiVersion":"v2",{spec},{status}}}"#)
        );
        // The head: no managed fields, and of the pod's spec and status what every
        // reader needs.
        assert_eq!(
            s.head(),
            &json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns"},
                "spec": {"nodeName": "n", "containers": [{"name": "app", "image": "a:1"}]},
                "status": {"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "t"}]}})
        );
        assert_eq!(
            s.field("status"),
            Some(
                json!({"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "t"}],
                "containerStatuses": [{"name": "app"}]})
            )
        );
        assert_eq!(s.field("missing"), None);
        assert_eq!(
            s.at_resource_version(7).meta()["resourceVersion"],
            json!("7")
        );
    }

    /// A list item as a real server writes it, from the parsed object: without `kind` and
    /// `apiVersion`, or at the version asked for.
    fn item_of(whole: &Value, api_version: Option<&str>) -> String {
        let mut v = whole.clone();
        if let Some(m) = v.as_object_mut() {
            match api_version {
                None => {
                    m.shift_remove("kind");
                    m.shift_remove("apiVersion");
                }
                Some(av) => {
                    if let Some(old) = m.get_mut("apiVersion") {
                        *old = json!(av);
                    }
                }
            }
        }
        serde_json::to_string(&v).expect("json")
    }

    fn item(s: &Stored, api_version: Option<&str>) -> String {
        let mut out = Vec::new();
        s.write_item(&mut out, api_version);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn list_items_leave_out_kind_and_api_version_wherever_they_lie() {
        // Generated objects share pieces of their text with each other.
        let spec = crate::generate::GenerateSpec::parse("nodes=2,pods=30").expect("spec");
        let cluster = crate::generate::build(&spec, Timestamp::now()).expect("build");
        let mut checked = 0;
        for key in ["pods", "replicasets.apps", "nodes", "namespaces"] {
            for o in cluster.store.list(key, None) {
                let whole = o.full();
                assert_eq!(item(o, None), item_of(&whole, None), "{key}");
                assert_eq!(item(o, Some("v9")), item_of(&whole, Some("v9")));
                checked += 1;
            }
        }
        assert!(checked > 30, "{checked} objects");
        // `kind` and `apiVersion` last, in the middle, missing, and among or beyond the
        // 31st of 40 fields.
        let wide = |kind_at: usize| {
            let mut m = Map::new();
            for i in 0..40 {
                if i == kind_at {
                    m.insert("kind".into(), json!("Wide"));
                }
                m.insert(format!("f{i:02}"), json!({"n": i}));
            }
            m.insert("apiVersion".into(), json!("example.com/v1"));
            Value::Object(m)
        };
        let shapes = [
            json!({"metadata": {"name": "a"}, "data": {"k": "v"}, "kind": "ConfigMap", "apiVersion": "v1"}),
            json!({"metadata": {"name": "a"}, "apiVersion": "v1", "data": {"k": "v"}, "kind": "ConfigMap"}),
            json!({"kind": "ConfigMap", "apiVersion": "v1"}),
            json!({"metadata": {"name": "a"}}),
            wide(35),
            wide(0),
            {
                let mut near = wide(1);
                if let Some(m) = near.as_object_mut() {
                    m.shift_remove("apiVersion");
                }
                near
            },
        ];
        for whole in shapes {
            let s = Stored::new(whole.clone());
            assert_eq!(item(&s, None), item_of(&whole, None));
            assert_eq!(item(&s, Some("v2")), item_of(&whole, Some("v2")));
        }
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
        assert_eq!(o.head()["metadata"]["generation"], 1);
        with_status["spec"]["replicas"] = json!(2);
        let o = s.replace(&t, with_status).expect("spec");
        assert_eq!(o.head()["metadata"]["generation"], 2);
    }
}
