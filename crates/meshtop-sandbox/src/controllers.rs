//! The sandbox's small controllers: workloads, scheduling, readiness, PDB status,
//! IstioOperator reconcile, Gateway API deployments, sidecar injection, eviction. Deterministic and driven by the
//! clock passed in.
//!
//! Rooms: `workloads` (adoption, Deployment → ReplicaSet → Pods, StatefulSet, DaemonSet),
//! `kubelet` (scheduler, pod start and readiness, pod addresses), `disruption` (PDB status
//! and the Eviction API), `injection` (the sidecar injector), `operator` (IstioOperator),
//! `gateway_api` (istiod's Gateway API deployments and status), `sail` (the Sail operator's
//! Istio and IstioRevision).

mod disruption;
mod gateway_api;
mod injection;
mod kubelet;

pub(crate) use kubelet::names as container_names;
mod operator;
mod sail;
mod workloads;

#[cfg(test)]
pub(crate) mod mesh_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::api::{self, WriteOptions};
use super::error::ApiError;
use super::resources::{Registry, ResourceType};
use super::store::{EventType, Store, Stored, WatchEvent, meta_str};
use super::{Cluster, Shared};

pub use disruption::evict;
pub use injection::{admit_pod, parse_version};

/// Passes of all controllers before `reconcile` gives up looking for a fixed point. A
/// Deployment settles in three (ReplicaSet and pods, statuses, nothing left to do).
const MAX_PASSES: usize = 8;

/// How a scenario wrote a pod, remembered by name until the pod has a uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loaded {
    /// Written with a status: the status is the scenario's and is never changed.
    Frozen,
    /// Written without status or node: Ready as soon as it is placed.
    ReadyWhenPlaced,
    /// Written without status but with a node: already made Running and Ready.
    Started,
}

/// What the controllers remember between runs (never part of an object).
#[derive(Debug, Default)]
pub struct State {
    /// Scenario pods by (namespace, name), between loading and the first reconcile.
    loaded: BTreeMap<(String, String), Loaded>,
    /// Pods (by uid) whose status is the scenario's.
    frozen: BTreeSet<String>,
    /// Pods (by uid) that turn Ready at once when they start.
    ready_when_placed: BTreeSet<String>,
    /// Pods (by uid) turning Ready at a time: namespace, name, when.
    ready_at: BTreeMap<String, (String, String, Timestamp)>,
    /// IstioOperators (by uid) whose status the sandbox keeps: those that had none.
    iop_status: BTreeSet<String>,
    /// Pod IPs in use, as numbers.
    ips: BTreeSet<u32>,
    /// Next host number to try per /24 network.
    ip_cursor: BTreeMap<u32, u32>,
    /// The nodes of the last run, to tell which went away.
    nodes: BTreeSet<String>,
    /// Changes to the objects PDB status depends on, so only the namespaces where
    /// something moved are recomputed; empty until the first run subscribes.
    pdb_feed: Vec<mpsc::UnboundedReceiver<Arc<WatchEvent>>>,
    /// The namespaces the feed named since the last run: writes that run no controllers
    /// (churn) are taken off the feed as they come, so it never holds more than a
    /// namespace's name each.
    pdb_changed: BTreeSet<String>,
    /// The store's resourceVersion when the controllers last finished: the workload
    /// controllers then look only where something changed after it.
    seen_rv: u64,
    /// Pods counting on each node, for the scheduler.
    node_load: kubelet::NodeLoad,
    /// What istiod's replicas keep between requests (the proxies each holds).
    pub(crate) istiod: super::istiod::IstiodState,
}

/// Where a pass of the workload controllers looks: everywhere, or only the namespaces where
/// something changed since the last pass (a Deployment, its ReplicaSets and their pods
/// share a namespace), so that a write costs what its namespace holds, not the cluster.
pub(crate) enum Scope {
    All,
    Namespaces(BTreeSet<String>),
}

impl Scope {
    /// The objects of a type in scope, copied out so that the caller can write.
    pub(crate) fn objects(&self, cluster: &Cluster, t: &ResourceType) -> Vec<Arc<Stored>> {
        match self {
            Scope::All => cluster.store.list(&t.key(), None).cloned().collect(),
            Scope::Namespaces(set) => set
                .iter()
                .flat_map(|ns| cluster.store.list(&t.key(), Some(ns)))
                .cloned()
                .collect(),
        }
    }
}

impl State {
    /// Whether a pod's status belongs to the scenario (the controllers leave it alone).
    pub fn is_frozen(&self, uid: &str) -> bool {
        self.frozen.contains(uid)
    }
}

/// The built-in types the controllers write, looked up once per run.
pub(crate) struct Types {
    pub pod: ResourceType,
    pub service: ResourceType,
    pub config_map: ResourceType,
    pub deployment: ResourceType,
    pub replica_set: ResourceType,
    pub stateful_set: ResourceType,
    pub daemon_set: ResourceType,
    pub pdb: ResourceType,
    pub hpa: ResourceType,
    pub mwc: ResourceType,
    /// Only when the IstioOperator CRD is loaded.
    pub iop: Option<ResourceType>,
    /// Only when the Gateway API CRDs are loaded.
    pub gateway: Option<ResourceType>,
    pub gateway_class: Option<ResourceType>,
    /// Only when the Sail operator's CRDs are loaded.
    pub istio: Option<ResourceType>,
    pub istio_revision: Option<ResourceType>,
}

impl Types {
    pub fn get(registry: &Registry) -> Option<Self> {
        let t = |av: &str, kind: &str| registry.by_kind(av, kind).cloned();
        Some(Self {
            pod: t("v1", "Pod")?,
            service: t("v1", "Service")?,
            config_map: t("v1", "ConfigMap")?,
            deployment: t("apps/v1", "Deployment")?,
            replica_set: t("apps/v1", "ReplicaSet")?,
            stateful_set: t("apps/v1", "StatefulSet")?,
            daemon_set: t("apps/v1", "DaemonSet")?,
            pdb: t("policy/v1", "PodDisruptionBudget")?,
            hpa: t("autoscaling/v2", "HorizontalPodAutoscaler")?,
            mwc: t(
                "admissionregistration.k8s.io/v1",
                "MutatingWebhookConfiguration",
            )?,
            iop: t("install.istio.io/v1alpha1", "IstioOperator"),
            gateway: t("gateway.networking.k8s.io/v1", "Gateway"),
            gateway_class: t("gateway.networking.k8s.io/v1", "GatewayClass"),
            istio: t("sailoperator.io/v1", "Istio"),
            istio_revision: t("sailoperator.io/v1", "IstioRevision"),
        })
    }
}

/// Fills what a scenario object needs before it is stored (e.g. a pod written without
/// status starts Running and Ready).
pub fn prepare_loaded(cluster: &mut Cluster, t: &ResourceType, obj: &mut Value, now: Timestamp) {
    if t.kind != "Pod" || t.custom {
        return;
    }
    let key = (
        meta_str(obj, "namespace").to_string(),
        meta_str(obj, "name").to_string(),
    );
    let how = if obj.get("status").is_some_and(|s| !s.is_null()) {
        if let Some(ip) = obj
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .and_then(kubelet::parse_ipv4)
        {
            cluster.controllers.ips.insert(ip);
        }
        Loaded::Frozen
    } else if spec_str(obj, "nodeName").is_empty() {
        Loaded::ReadyWhenPlaced
    } else {
        let started = meta_str(obj, "creationTimestamp")
            .parse::<Timestamp>()
            .unwrap_or(now);
        kubelet::start_loaded(cluster, obj, started);
        Loaded::Started
    };
    cluster.controllers.loaded.insert(key, how);
}

/// Notes what changed for the controllers that follow changes, after writes that run no
/// controllers (churn): what they are told is kept small, not every changed object.
pub fn note_changes(cluster: &mut Cluster) {
    disruption::note_changes(cluster);
}

/// Runs every controller until nothing changes; returns when it next needs to run.
pub fn reconcile(cluster: &mut Cluster, now: Timestamp) -> Option<Timestamp> {
    resolve_loaded(cluster);
    let types = Types::get(&cluster.registry)?;
    let mut since = cluster.controllers.seen_rv;
    for _ in 0..MAX_PASSES {
        let before = cluster.store.resource_version();
        let scope = cluster
            .store
            .changed_since(since)
            .map_or(Scope::All, Scope::Namespaces);
        since = before;
        operator::reconcile(cluster, &types, now);
        sail::reconcile(cluster, &types, now);
        gateway_api::reconcile(cluster, &types, now);
        workloads::reconcile(cluster, &types, now, &scope);
        kubelet::reconcile(cluster, &types, now, &scope);
        disruption::reconcile(cluster, &types, now);
        operator::update_status(cluster, &types);
        sail::update_status(cluster, &types, now);
        if cluster.store.resource_version() == before {
            break;
        }
    }
    // Only a removal leaves something to forget.
    if cluster.store.removed_since(cluster.controllers.seen_rv) {
        prune(cluster);
    }
    cluster.controllers.seen_rv = cluster.store.resource_version();
    // istiod's proxies follow every write, so the first poll of a loaded mesh finds them
    // read already.
    cluster
        .controllers
        .istiod
        .proxies
        .catch_up(&mut cluster.store);
    kubelet::next_deadline(cluster, now)
}

/// Turns the names of freshly loaded scenario pods into uids.
fn resolve_loaded(cluster: &mut Cluster) {
    let loaded = std::mem::take(&mut cluster.controllers.loaded);
    for ((ns, name), how) in loaded {
        let Some(uid) = cluster
            .store
            .get("pods", &ns, &name)
            .map(|p| meta_str(p.head(), "uid").to_string())
        else {
            continue;
        };
        match how {
            Loaded::Frozen => {
                cluster.controllers.frozen.insert(uid);
            }
            Loaded::ReadyWhenPlaced => {
                cluster.controllers.ready_when_placed.insert(uid);
            }
            Loaded::Started => {}
        }
    }
}

/// The changes to a type's objects after resourceVersion `rv`, oldest first, from the
/// store's history; `None` when the history no longer reaches back that far (the caller
/// then reads every object again).
pub(crate) fn changes_since(store: &mut Store, key: &str, rv: u64) -> Option<Vec<Arc<WatchEvent>>> {
    if !store.type_changed_since(key, rv) {
        return Some(Vec::new());
    }
    store
        .watch_from(key, None, rv)
        .ok()
        .map(|(events, _)| events)
}

fn pod_ip(pod: &Value) -> Option<u32> {
    at(pod, &["status", "podIP"])
        .and_then(Value::as_str)
        .and_then(kubelet::parse_ipv4)
}

/// Forgets pods and operators that are gone: the pods deleted since the last run, or,
/// when the history does not reach back that far, all pods not in the store.
fn prune(cluster: &mut Cluster) {
    let since = cluster.controllers.seen_rv;
    match changes_since(&mut cluster.store, "pods", since) {
        Some(events) => {
            let state = &mut cluster.controllers;
            for e in events.iter().filter(|e| e.type_ == EventType::Deleted) {
                let gone = e.object.head();
                let uid = meta_str(gone, "uid");
                state.frozen.remove(uid);
                state.ready_when_placed.remove(uid);
                state.ready_at.remove(uid);
                // The sandbox gives no address twice, so a deleted pod's is free again.
                if let Some(ip) = pod_ip(gone) {
                    state.ips.remove(&ip);
                }
            }
        }
        None => {
            let mut uids = BTreeSet::new();
            let mut ips = BTreeSet::new();
            for p in cluster.store.list("pods", None) {
                uids.insert(meta_str(p.head(), "uid").to_string());
                ips.extend(pod_ip(p.head()));
            }
            let state = &mut cluster.controllers;
            state.frozen.retain(|u| uids.contains(u));
            state.ready_when_placed.retain(|u| uids.contains(u));
            state.ready_at.retain(|u, _| uids.contains(u));
            state.ips = ips;
        }
    }
    let iops: BTreeSet<String> = cluster
        .store
        .list("istiooperators.install.istio.io", None)
        .map(|o| meta_str(o.head(), "uid").to_string())
        .collect();
    cluster.controllers.iop_status.retain(|u| iops.contains(u));
}

/// Whether the controllers have gone over every write so far.
#[cfg(test)]
pub(crate) fn settled(cluster: &Cluster) -> bool {
    cluster.controllers.seen_rv == cluster.store.resource_version()
}

/// The controller task: runs `reconcile` at each deadline and after each write.
pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let next = reconcile(&mut shared.lock(), Timestamp::now());
        let sleep = match next {
            Some(t) => {
                let d = t.duration_since(Timestamp::now());
                std::time::Duration::try_from(d).unwrap_or_default()
            }
            None => std::time::Duration::from_secs(3600),
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = shared.wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

// Small readers shared by the controllers.

/// A field by path; unlike `Value::pointer` it allocates nothing, which matters in the
/// loops over every pod.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn spec_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("spec")
        .and_then(|s| s.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn labels(obj: &Value) -> Option<&Value> {
    at(obj, &["metadata", "labels"])
}

fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    labels(obj).and_then(|l| l.get(key)).and_then(Value::as_str)
}

fn phase(pod: &Value) -> &str {
    at(pod, &["status", "phase"])
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn is_deleting(obj: &Value) -> bool {
    at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
}

/// The pod's Ready condition is True.
fn is_ready(pod: &Value) -> bool {
    condition_status(pod, "Ready") == Some("True")
}

fn condition_status<'a>(obj: &'a Value, type_: &str) -> Option<&'a str> {
    at(obj, &["status", "conditions"])
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
}

/// A pod that counts for its controller: not finished, not going away.
fn is_active(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !is_deleting(pod)
}

/// The ownerReference with `controller: true`, if any.
fn controller_ref(obj: &Value) -> Option<&Value> {
    at(obj, &["metadata", "ownerReferences"])
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

fn controller_uid(obj: &Value) -> Option<&str> {
    controller_ref(obj)
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
}

/// The ownerReference a controller puts on what it owns.
fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": meta_str(owner, "name"),
        "uid": meta_str(owner, "uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// `spec.replicas`, which defaults to 1.
fn replicas(obj: &Value) -> u64 {
    at(obj, &["spec", "replicas"])
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// Sets a count in a status; `omit_zero` follows the `omitempty` of the real type.
fn set_count(status: &mut Value, field: &str, n: u64, omit_zero: bool) {
    if n == 0 && omit_zero {
        if let Some(m) = status.as_object_mut() {
            m.remove(field);
        }
    } else {
        status[field] = json!(n);
    }
}

/// Sets a condition, keeping its times when nothing about it changed, as controllers do.
/// `update_time`: the kind also records `lastUpdateTime` (Deployments).
fn set_condition(status: &mut Value, mut cond: Value, now: &str, update_time: bool) {
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let Some(list) = status["conditions"].as_array_mut() else {
        return;
    };
    let type_ = cond.get("type").cloned();
    let same = |a: &Value, b: &Value, f: &str| a.get(f) == b.get(f);
    match list.iter_mut().find(|c| c.get("type") == type_.as_ref()) {
        Some(old) => {
            let transition = if same(old, &cond, "status") {
                old.get("lastTransitionTime")
                    .cloned()
                    .unwrap_or_else(|| json!(now))
            } else {
                json!(now)
            };
            if update_time {
                let unchanged = same(old, &cond, "status")
                    && same(old, &cond, "reason")
                    && same(old, &cond, "message");
                cond["lastUpdateTime"] = if unchanged {
                    old.get("lastUpdateTime")
                        .cloned()
                        .unwrap_or_else(|| json!(now))
                } else {
                    json!(now)
                };
            }
            cond["lastTransitionTime"] = transition;
            if let Some(m) = old.as_object() {
                // Fields this controller does not manage stay as written.
                for (k, v) in m {
                    if cond.get(k).is_none() {
                        cond[k] = v.clone();
                    }
                }
            }
            *old = cond;
        }
        None => {
            if update_time {
                cond["lastUpdateTime"] = json!(now);
            }
            cond["lastTransitionTime"] = json!(now);
            list.push(cond);
        }
    }
}

/// Replaces an object's status through the store (generation does not move), if it changed.
fn write_status(cluster: &mut Cluster, t: &ResourceType, obj: &Stored, status: Value) {
    if obj.field("status").as_ref() == Some(&status) {
        return;
    }
    let mut new = obj.full();
    new["status"] = status;
    if let Err(e) = cluster.store.replace(t, new) {
        tracing::debug!(kind = %t.kind, name = meta_str(obj.head(), "name"), error = %e, "status write failed");
    }
}

/// A stable 64-bit FNV-1a hash.
fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// JSON with object keys sorted, so equal values hash equally whatever their key order.
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// A 10-character name suffix from a value, in the alphabet Kubernetes uses for generated
/// names (the shape of `pod-template-hash`).
fn stable_hash(v: &Value, salt: u32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = fnv64(format!("{salt}/{}", canonical_json(v)).as_bytes());
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// A kind's objects, copied out of the store, so that a controller can write while it goes
/// through them.
fn objects(cluster: &Cluster, t: &ResourceType) -> Vec<Arc<Stored>> {
    cluster.store.list(&t.key(), None).cloned().collect()
}

/// Deletes a pod as a controller does (the write logged if it fails).
fn delete_pod(cluster: &mut Cluster, types: &Types, pod: &Value, now: Timestamp) {
    let name = meta_str(pod, "name").to_string();
    log_write(
        "delete pod",
        &name,
        api::delete(
            cluster,
            &types.pod,
            meta_str(pod, "namespace"),
            &name,
            now,
            &WriteOptions::internal(),
        ),
    );
}

/// The error an API call from a controller gave, for the log.
fn log_write(what: &str, name: &str, result: Result<Arc<Stored>, ApiError>) -> Option<Arc<Stored>> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!(what, name, error = %e, "controller write failed");
            None
        }
    }
}
