//! Where pods run and how they start: the scheduler (Ready, schedulable nodes that match
//! `nodeSelector` and whose taints are tolerated, least loaded first), the kubelet's part
//! (a placed pod runs, then turns Ready after `pod-ready-delay`), pod addresses, and the
//! garbage collection of pods whose node is gone.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::api::{self, WriteOptions};
use super::super::store::{EventType, Store, Stored, meta_str, timestamp};
use super::{
    Cluster, Scope, Types, changes_since, delete_pod, fnv64, is_deleting, log_write, phase,
    spec_str,
};

pub(super) fn parse_ipv4(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

fn format_ipv4(n: u32) -> String {
    std::net::Ipv4Addr::from(n).to_string()
}

fn node_internal_ip(node: &Value) -> Option<&str> {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)?
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
        .and_then(|a| a.get("address"))
        .and_then(Value::as_str)
}

/// The /24 a node's pods get addresses from: its `spec.podCIDR` when that is an IPv4
/// network, else one of 10.233.64.0/18 picked by a hash of the node's name.
fn node_network(node_name: &str, node: Option<&Value>) -> u32 {
    let from_cidr = node
        .and_then(|n| n.pointer("/spec/podCIDR"))
        .and_then(Value::as_str)
        .and_then(|c| c.split('/').next())
        .and_then(parse_ipv4);
    from_cidr.map(|ip| ip & 0xffff_ff00).unwrap_or_else(|| {
        let third = 64 + (fnv64(node_name.as_bytes()) % 64) as u32;
        (10 << 24) | (233 << 16) | (third << 8)
    })
}

/// A free pod IP on the node's network, taken in order (so the same history gives the same
/// addresses); a full network lends from 10.128.0.0/9.
fn allocate_ip(cluster: &mut Cluster, node_name: &str) -> String {
    let node = cluster.store.get("nodes", "", node_name).cloned();
    let net = node_network(node_name, node.as_deref().map(Stored::head));
    let state = &mut cluster.controllers;
    let start = state.ip_cursor.get(&net).copied().unwrap_or(1);
    for i in 0..254u32 {
        let host = (start - 1 + i) % 254 + 1;
        let ip = net | host;
        if state.ips.insert(ip) {
            state.ip_cursor.insert(net, host % 254 + 1);
            return format_ipv4(ip);
        }
    }
    // The spill network is big enough for any synthetic cluster and walked with a cursor.
    let spill: u32 = (10 << 24) | (128 << 16);
    let size: u32 = 1 << 23;
    let mut host = state.ip_cursor.get(&spill).copied().unwrap_or(1);
    let mut ip = spill + host;
    for _ in 0..size {
        ip = spill + host;
        host = host % (size - 1) + 1;
        if ip & 0xff != 0 && ip & 0xff != 255 && state.ips.insert(ip) {
            break;
        }
    }
    state.ip_cursor.insert(spill, host);
    format_ipv4(ip)
}

/// The QoS class the kubelet gives a pod from its containers' requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let res =
        |c: &Value, kind: &str, r: &str| c.pointer(&format!("/resources/{kind}/{r}")).cloned();
    let any = containers.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|k| ["cpu", "memory"].iter().any(|r| res(c, k, r).is_some()))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"]
            .iter()
            .all(|r| match (res(c, "requests", r), res(c, "limits", r)) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(a), Some(b)) => a == b,
            })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn container_id(uid: &str, name: &str) -> String {
    let h: String = (0..4u8)
        .map(|i| format!("{:016x}", fnv64(format!("{i}/{uid}/{name}").as_bytes())))
        .collect();
    format!("containerd://{h}")
}

/// The names of a pod's `containers` or `initContainers`.
pub(crate) fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The status of a pod the kubelet has just started (init containers done, containers
/// running), Ready or not yet.
fn running_status(pod: &Value, host_ip: &str, pod_ip: &str, started: &str, ready: bool) -> Value {
    let uid = meta_str(pod, "uid");
    let image = |c: &Value| c.get("image").cloned().unwrap_or(json!(""));
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    json!({
                        "name": name,
                        "state": {"running": {"startedAt": started}},
                        "lastState": {},
                        "ready": ready,
                        "restartCount": 0,
                        "image": image(c),
                        "imageID": "",
                        "containerID": container_id(uid, name),
                        "started": true,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let inits: Vec<Value> = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    let id = container_id(uid, name);
                    if is_sidecar(c) {
                        // A native sidecar starts with the init containers and keeps running.
                        return json!({
                            "name": name,
                            "state": {"running": {"startedAt": started}},
                            "lastState": {},
                            "ready": ready,
                            "restartCount": 0,
                            "image": image(c),
                            "imageID": "",
                            "containerID": id,
                            "started": true,
                        });
                    }
                    json!({
                        "name": name,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                                 "finishedAt": started, "containerID": id}},
                        "lastState": {},
                        "ready": true,
                        "restartCount": 0,
                        "image": image(c),
                        "imageID": "",
                        "containerID": id,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let unready = if ready {
        None
    } else {
        Some(format!(
            "containers with unready status: [{}]",
            names(pod, "containers").join(" ")
        ))
    };
    let cond = |type_: &str, ok: bool| {
        let mut c = json!({"type": type_, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": started});
        if let (false, Some(m)) = (ok, &unready) {
            c["reason"] = json!("ContainersNotReady");
            c["message"] = json!(m);
        }
        c
    };
    let mut status = json!({
        "phase": "Running",
        "conditions": [cond("Initialized", true), cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", true)],
        "hostIP": host_ip,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": started,
        "containerStatuses": containers,
        "qosClass": qos_class(pod),
    });
    if !host_ip.is_empty() {
        status["hostIPs"] = json!([{"ip": host_ip}]);
    }
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(inits);
    }
    status
}

/// The same status once every container passes its readiness probe.
fn mark_ready(status: &mut Value, now: &str) {
    if let Some(conds) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conds.iter_mut() {
            let t = c.get("type").and_then(Value::as_str).unwrap_or("");
            if matches!(t, "Ready" | "ContainersReady")
                && c.get("status").and_then(Value::as_str) != Some("True")
            {
                *c = json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
            }
        }
    }
    if let Some(cs) = status
        .get_mut("containerStatuses")
        .and_then(Value::as_array_mut)
    {
        for c in cs.iter_mut() {
            c["ready"] = json!(true);
        }
    }
    if let Some(cs) = status
        .get_mut("initContainerStatuses")
        .and_then(Value::as_array_mut)
    {
        for c in cs
            .iter_mut()
            .filter(|c| c.pointer("/state/running").is_some())
        {
            c["ready"] = json!(true);
        }
    }
}

/// An init container with `restartPolicy: Always`: a Kubernetes native sidecar.
pub(super) fn is_sidecar(container: &Value) -> bool {
    container.get("restartPolicy").and_then(Value::as_str) == Some("Always")
}

/// The InternalIP of a node, empty if it has none (or is not there).
fn host_ip(cluster: &Cluster, node_name: &str) -> String {
    cluster
        .store
        .get("nodes", "", node_name)
        .and_then(|n| node_internal_ip(n.head()))
        .unwrap_or("")
        .to_string()
}

/// A scenario pod written without status but with a node: Running and Ready since `started`.
pub(super) fn start_loaded(cluster: &mut Cluster, pod: &mut Value, started: Timestamp) {
    let node_name = spec_str(pod, "nodeName").to_string();
    let host_ip = host_ip(cluster, &node_name);
    let pod_ip = allocate_ip(cluster, &node_name);
    pod["status"] = running_status(pod, &host_ip, &pod_ip, &timestamp(started), true);
}

/// Whether a toleration list tolerates a taint.
pub(super) fn tolerates(tolerations: Option<&Value>, taint: &Value) -> bool {
    let s = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
    let (key, value, effect) = (s(taint, "key"), s(taint, "value"), s(taint, "effect"));
    tolerations.and_then(Value::as_array).is_some_and(|ts| {
        ts.iter().any(|t| {
            let t_effect = s(t, "effect");
            if !t_effect.is_empty() && t_effect != effect {
                return false;
            }
            let op = s(t, "operator");
            let t_key = s(t, "key");
            if t_key.is_empty() {
                return op == "Exists";
            }
            t_key == key
                && (op == "Exists" || ((op.is_empty() || op == "Equal") && s(t, "value") == value))
        })
    })
}

/// The first taint with one of `effects` that the tolerations do not tolerate.
pub(super) fn untolerated_taint<'a>(
    node: &'a Value,
    tolerations: Option<&Value>,
    effects: &[&str],
) -> Option<&'a Value> {
    node.pointer("/spec/taints")
        .and_then(Value::as_array)?
        .iter()
        .find(|taint| {
            let effect = taint.get("effect").and_then(Value::as_str).unwrap_or("");
            effects.contains(&effect) && !tolerates(tolerations, taint)
        })
}

/// Whether the node's labels satisfy a pod's `nodeSelector`.
pub(super) fn matches_node_selector(node: &Value, selector: Option<&Value>) -> bool {
    selector.and_then(Value::as_object).is_none_or(|sel| {
        sel.iter()
            .all(|(k, v)| node.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
    })
}

fn node_ready(node: &Value) -> bool {
    super::condition_status(node, "Ready") == Some("True")
}

/// Why the scheduler cannot place a pod on a node, in the words of its event.
fn misfit(pod: &Value, node: &Value) -> Option<String> {
    let tolerations = pod.pointer("/spec/tolerations");
    if !node_ready(node) {
        let tolerated = tolerates(
            tolerations,
            &json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}),
        );
        if !tolerated {
            return Some("node(s) had untolerated taint {node.kubernetes.io/not-ready: }".into());
        }
    }
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        let tolerated = tolerates(
            tolerations,
            &json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}),
        );
        if !tolerated {
            return Some("node(s) were unschedulable".into());
        }
    }
    if let Some(taint) = untolerated_taint(node, tolerations, &["NoSchedule", "NoExecute"]) {
        let key = taint.get("key").and_then(Value::as_str).unwrap_or("");
        let value = taint.get("value").and_then(Value::as_str).unwrap_or("");
        return Some(format!("node(s) had untolerated taint {{{key}: {value}}}"));
    }
    if !matches_node_selector(node, pod.pointer("/spec/nodeSelector")) {
        return Some("node(s) didn't match Pod's node affinity/selector".into());
    }
    None
}

/// Pods that count towards a node's load.
fn counts_on_node(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed")
}

/// How many pods count on each node, kept in step with pod writes: a pod to place then
/// costs what the nodes cost, not what the pods do.
#[derive(Debug, Default)]
pub(super) struct NodeLoad {
    /// Whether it has been counted from the pods once.
    built: bool,
    /// The store's resourceVersion it reflects.
    rv: u64,
    pods: HashMap<String, usize>,
}

impl NodeLoad {
    fn count(&mut self, pod: &Value, up: bool) {
        let node = spec_str(pod, "nodeName");
        if node.is_empty() || !counts_on_node(pod) {
            return;
        }
        if up {
            *self.pods.entry(node.to_string()).or_default() += 1;
        } else if let Some(n) = self.pods.get_mut(node) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pods.remove(node);
            }
        }
    }

    /// The counts as the store is now: only the pod writes since the last call are read.
    pub(super) fn catch_up(&mut self, store: &mut Store) -> &HashMap<String, usize> {
        let rv = store.resource_version();
        match self
            .built
            .then(|| changes_since(store, "pods", self.rv))
            .flatten()
        {
            Some(events) => {
                for e in events {
                    if let Some(old) = &e.old {
                        self.count(old.head(), false);
                    }
                    if e.type_ != EventType::Deleted {
                        self.count(e.object.head(), true);
                    }
                }
            }
            None => {
                self.pods.clear();
                for p in store.list("pods", None) {
                    self.count(p.head(), true);
                }
                self.built = true;
            }
        }
        self.rv = rv;
        &self.pods
    }
}

pub(super) fn reconcile(cluster: &mut Cluster, types: &Types, now: Timestamp, scope: &Scope) {
    collect_orphaned_pods(cluster, types, now);
    schedule(cluster, types, now, scope);
    start_pods(cluster, types, now, scope);
    turn_ready(cluster, types, now);
}

/// Pods bound to a node that was deleted are deleted too, as the pod GC does. A pod a
/// scenario bound to a node it never declared is left as written.
fn collect_orphaned_pods(cluster: &mut Cluster, types: &Types, now: Timestamp) {
    // Only a change to the nodes can remove one: other writes do not walk them.
    if !cluster
        .store
        .type_changed_since("nodes", cluster.controllers.seen_rv)
    {
        return;
    }
    let nodes: BTreeSet<String> = cluster
        .store
        .list("nodes", None)
        .map(|n| meta_str(n.head(), "name").to_string())
        .collect();
    let known = std::mem::replace(&mut cluster.controllers.nodes, nodes);
    let removed: HashSet<&str> = known
        .difference(&cluster.controllers.nodes)
        .map(String::as_str)
        .collect();
    if removed.is_empty() {
        return;
    }
    let gone: Vec<Arc<Stored>> = cluster
        .store
        .list("pods", None)
        .filter(|p| removed.contains(spec_str(p.head(), "nodeName")))
        .cloned()
        .collect();
    for pod in gone {
        delete_pod(cluster, types, pod.head(), now);
    }
}

/// Pods wait for a node only after a change in their namespace (their creation, an
/// eviction) or a node's, which makes the scope everything.
fn schedule(cluster: &mut Cluster, types: &Types, now: Timestamp, scope: &Scope) {
    let pending: Vec<Arc<Stored>> = scope
        .objects(cluster, &types.pod)
        .into_iter()
        .filter(|p| {
            spec_str(p.head(), "nodeName").is_empty()
                && matches!(phase(p.head()), "" | "Pending")
                && !is_deleting(p.head())
        })
        .collect();
    if pending.is_empty() {
        return;
    }
    let nodes: Vec<Arc<Stored>> = cluster.store.list("nodes", None).cloned().collect();
    // A copy: the pods bound below count once their writes are read back.
    let mut load = cluster
        .controllers
        .node_load
        .catch_up(&mut cluster.store)
        .clone();
    let ts = timestamp(now);
    for pod in pending {
        let frozen = cluster
            .controllers
            .frozen
            .contains(meta_str(pod.head(), "uid"));
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut best: Option<(usize, &str)> = None;
        let whole = pod.full();
        for node in &nodes {
            match misfit(&whole, node.head()) {
                Some(r) => *reasons.entry(r).or_default() += 1,
                None => {
                    let name = meta_str(node.head(), "name");
                    let l = load.get(name).copied().unwrap_or(0);
                    if best.is_none_or(|b| (l, name) < b) {
                        best = Some((l, name));
                    }
                }
            }
        }
        let mut new = whole;
        match best {
            Some((_, node)) => {
                let node = node.to_string();
                new["spec"]["nodeName"] = json!(node);
                if !frozen {
                    let mut conds: Vec<Value> = new
                        .pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .map(|c| {
                            c.iter()
                                .filter(|c| {
                                    c.get("type").and_then(Value::as_str) != Some("PodScheduled")
                                })
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": ts}));
                    new["status"]["conditions"] = json!(conds);
                }
                *load.entry(node).or_default() += 1;
                log_write(
                    "bind pod",
                    meta_str(pod.head(), "name"),
                    api::update(cluster, &types.pod, new, None, &WriteOptions::internal()),
                );
            }
            None if frozen => {}
            None => {
                let detail: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                let message = if detail.is_empty() {
                    "no nodes available to schedule pods".to_string()
                } else {
                    format!(
                        "0/{} nodes are available: {}.",
                        nodes.len(),
                        detail.join(", ")
                    )
                };
                let cond = json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                                  "reason": "Unschedulable", "message": message});
                let mut status = new.get("status").cloned().unwrap_or_else(|| json!({}));
                status["phase"] = json!("Pending");
                super::set_condition(&mut status, cond, &ts, false);
                super::write_status(cluster, &types.pod, &pod, status);
            }
        }
    }
}

/// Placed pods that have not started yet start now: Running, and Ready at once (scenario
/// pods) or after `pod-ready-delay`.
fn start_pods(cluster: &mut Cluster, types: &Types, now: Timestamp, scope: &Scope) {
    let due: Vec<Arc<Stored>> = scope
        .objects(cluster, &types.pod)
        .into_iter()
        .filter(|p| {
            !spec_str(p.head(), "nodeName").is_empty()
                && matches!(phase(p.head()), "" | "Pending")
                && !is_deleting(p.head())
                && !cluster
                    .controllers
                    .frozen
                    .contains(meta_str(p.head(), "uid"))
                && cluster
                    .store
                    .get("nodes", "", spec_str(p.head(), "nodeName"))
                    .is_some()
        })
        .collect();
    let delay = cluster.settings.pod_ready_delay;
    let ts = timestamp(now);
    for pod in due {
        let uid = meta_str(pod.head(), "uid").to_string();
        let node_name = spec_str(pod.head(), "nodeName").to_string();
        let host_ip = host_ip(cluster, &node_name);
        let pod_ip = allocate_ip(cluster, &node_name);
        let ready_at = now.checked_add(delay).unwrap_or(now);
        let ready = cluster.controllers.ready_when_placed.remove(&uid) || ready_at <= now;
        let status = running_status(&pod.full(), &host_ip, &pod_ip, &ts, ready);
        if !ready {
            cluster.controllers.ready_at.insert(
                uid,
                (
                    meta_str(pod.head(), "namespace").to_string(),
                    meta_str(pod.head(), "name").to_string(),
                    ready_at,
                ),
            );
        }
        super::write_status(cluster, &types.pod, &pod, status);
    }
}

fn turn_ready(cluster: &mut Cluster, types: &Types, now: Timestamp) {
    let due: Vec<(String, String, String)> = cluster
        .controllers
        .ready_at
        .iter()
        .filter(|(_, (_, _, at))| *at <= now)
        .map(|(uid, (ns, name, _))| (uid.clone(), ns.clone(), name.clone()))
        .collect();
    let ts = timestamp(now);
    for (uid, ns, name) in due {
        cluster.controllers.ready_at.remove(&uid);
        let Some(pod) = cluster.store.get("pods", &ns, &name).cloned() else {
            continue;
        };
        if meta_str(pod.head(), "uid") != uid
            || phase(pod.head()) != "Running"
            || is_deleting(pod.head())
        {
            continue;
        }
        let mut status = pod.field("status").unwrap_or_else(|| json!({}));
        mark_ready(&mut status, &ts);
        super::write_status(cluster, &types.pod, &pod, status);
    }
}

/// The earliest moment a pod turns Ready.
pub(super) fn next_deadline(cluster: &Cluster, now: Timestamp) -> Option<Timestamp> {
    cluster
        .controllers
        .ready_at
        .values()
        .map(|(_, _, at)| *at)
        .filter(|at| *at > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_follow_kubernetes_rules() {
        let master = json!({"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"});
        let dedicated = json!({"key": "dedicated", "value": "istio", "effect": "NoSchedule"});
        assert!(!tolerates(None, &master));
        assert!(tolerates(Some(&json!([{"operator": "Exists"}])), &master));
        assert!(tolerates(
            Some(&json!([{"key": "node-role.kubernetes.io/master", "operator": "Exists"}])),
            &master
        ));
        assert!(!tolerates(
            Some(
                &json!([{"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoExecute"}])
            ),
            &master
        ));
        assert!(tolerates(
            Some(&json!([{"key": "dedicated", "operator": "Equal", "value": "istio"}])),
            &dedicated
        ));
        assert!(tolerates(
            Some(&json!([{"key": "dedicated", "value": "istio"}])),
            &dedicated
        ));
        assert!(!tolerates(
            Some(&json!([{"key": "dedicated", "operator": "Equal", "value": "other"}])),
            &dedicated
        ));
        // An empty key only means "all" with Exists.
        assert!(!tolerates(
            Some(&json!([{"operator": "Equal"}])),
            &dedicated
        ));
    }

    #[test]
    fn qos_class_from_resources() {
        let pod = |res: Value| json!({"spec": {"containers": [{"name": "a", "resources": res}]}});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&pod(json!({"requests": {"cpu": "1"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&pod(
                json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
    }

    #[test]
    fn pod_networks_come_from_the_node() {
        let node = json!({"spec": {"podCIDR": "10.233.70.0/24"}});
        assert_eq!(format_ipv4(node_network("n", Some(&node))), "10.233.70.0");
        let net = node_network("k1-node09", None);
        assert_eq!(net, node_network("k1-node09", None));
        assert_eq!(net >> 16, (10 << 8) | 233);
    }
}
