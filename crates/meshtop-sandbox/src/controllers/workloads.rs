//! Workload controllers: adoption of orphans by selector, Deployment → ReplicaSet (a new
//! ReplicaSet per pod template, the old ones scaled to 0), ReplicaSet and StatefulSet →
//! pods, DaemonSet → one pod per eligible node, and the status of each.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::api::{self, WriteOptions};
use super::super::resources::ResourceType;
use super::super::selector::LabelSelector;
use super::super::store::{Stored, meta_str, timestamp};
use super::kubelet::{matches_node_selector, untolerated_taint};
use super::{
    Cluster, Scope, Types, controller_ref, controller_uid, delete_pod, is_active, is_deleting,
    is_ready, label, log_write, owner_ref, phase, replicas, set_condition, set_count, spec_str,
    stable_hash, write_status,
};

const HASH_LABEL: &str = "pod-template-hash";
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

pub(super) fn reconcile(cluster: &mut Cluster, types: &Types, now: Timestamp, scope: &Scope) {
    adopt(cluster, &types.replica_set, &[&types.deployment], scope);
    deployments(cluster, types, now, scope);
    adopt(
        cluster,
        &types.pod,
        &[&types.replica_set, &types.stateful_set, &types.daemon_set],
        scope,
    );
    let owned = pods_by_owner(cluster, types, scope);
    replica_sets(cluster, types, &owned, now, scope);
    stateful_sets(cluster, types, &owned, now, scope);
    daemon_sets(cluster, types, &owned, now, scope);
}

fn selector_of(obj: &Value) -> Option<LabelSelector> {
    LabelSelector::from_object(obj.pointer("/spec/selector"))
        .ok()
        .filter(|s| !s.is_empty())
}

/// Orphans of `child` (no controller) matching the selector of an owner kind in their
/// namespace get that owner as controller, the first kind and name winning.
fn adopt(
    cluster: &mut Cluster,
    child: &ResourceType,
    owner_kinds: &[&ResourceType],
    scope: &Scope,
) {
    let orphans: Vec<Arc<Stored>> = scope
        .objects(cluster, child)
        .into_iter()
        .filter(|o| controller_ref(o.head()).is_none() && !is_deleting(o.head()))
        .collect();
    if orphans.is_empty() {
        return;
    }
    let mut owners: BTreeMap<String, Vec<(Arc<Stored>, LabelSelector)>> = BTreeMap::new();
    for t in owner_kinds {
        for o in scope
            .objects(cluster, t)
            .into_iter()
            .filter(|o| !is_deleting(o.head()))
        {
            if let Some(sel) = selector_of(o.head()) {
                owners
                    .entry(meta_str(o.head(), "namespace").to_string())
                    .or_default()
                    .push((o, sel));
            }
        }
    }
    let mut adoptions = Vec::new();
    for orphan in &orphans {
        let Some(candidates) = owners.get(meta_str(orphan.head(), "namespace")) else {
            continue;
        };
        if let Some((owner, _)) = candidates
            .iter()
            .find(|(_, sel)| sel.matches_object(orphan.head()))
        {
            let mut new = orphan.full();
            let mut refs = new
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            refs.push(owner_ref(owner.head()));
            new["metadata"]["ownerReferences"] = json!(refs);
            adoptions.push(new);
        }
    }
    for new in adoptions {
        let name = meta_str(&new, "name").to_string();
        log_write(
            "adopt",
            &name,
            api::update(cluster, child, new, None, &WriteOptions::internal()),
        );
    }
}

/// Pods by the uid of their controller.
fn pods_by_owner(
    cluster: &Cluster,
    types: &Types,
    scope: &Scope,
) -> HashMap<String, Vec<Arc<Stored>>> {
    let mut m: HashMap<String, Vec<Arc<Stored>>> = HashMap::new();
    for p in scope.objects(cluster, &types.pod) {
        if let Some(uid) = controller_uid(p.head()) {
            m.entry(uid.to_string()).or_default().push(p);
        }
    }
    m
}

/// A pod template without the label the Deployment controller adds, to compare with the
/// Deployment's own.
/// A workload's pod template (not in the stored head).
fn template_of(owner: &Stored) -> Value {
    owner
        .field("spec")
        .and_then(|mut s| s.get_mut("template").map(Value::take))
        .unwrap_or(Value::Null)
}

fn template_without_hash(rs: &Stored) -> Value {
    let mut t = template_of(rs);
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove(HASH_LABEL);
        if l.is_empty()
            && let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.remove("labels");
        }
    }
    t
}

fn revision_of(obj: &Value) -> u64 {
    obj.pointer(&format!(
        "/metadata/annotations/{}",
        REVISION_ANNOTATION.replace('/', "~1")
    ))
    .and_then(Value::as_str)
    .and_then(|s| s.parse().ok())
    .unwrap_or(0)
}

/// The `pod-template-hash` most of a Deployment's pods carry, for a Deployment written
/// with pods but without ReplicaSets.
fn hash_from_pods(cluster: &Cluster, deploy: &Value, sel: &LabelSelector) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in cluster
        .store
        .list("pods", Some(meta_str(deploy, "namespace")))
    {
        if sel.matches_object(p.head())
            && let Some(h) = label(p.head(), HASH_LABEL)
        {
            *counts.entry(h).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(h, _)| h.to_string())
}

fn deployments(cluster: &mut Cluster, types: &Types, now: Timestamp, scope: &Scope) {
    let deploys = scope.objects(cluster, &types.deployment);
    let ts = timestamp(now);
    for d in deploys {
        if is_deleting(d.head()) {
            continue;
        }
        let Some(sel) = selector_of(d.head()) else {
            continue;
        };
        let ns = meta_str(d.head(), "namespace").to_string();
        let uid = meta_str(d.head(), "uid").to_string();
        let owned: Vec<Arc<Stored>> = cluster
            .store
            .list(&types.replica_set.key(), Some(&ns))
            .filter(|rs| controller_uid(rs.head()) == Some(uid.as_str()))
            .cloned()
            .collect();
        let template = template_of(&d);
        let mut current = owned
            .iter()
            .find(|rs| template_without_hash(rs) == template)
            .cloned();
        if current.is_none()
            && d.head().pointer("/spec/paused").and_then(Value::as_bool) != Some(true)
        {
            let hash = if owned.is_empty() {
                hash_from_pods(cluster, d.head(), &sel)
            } else {
                None
            };
            let revision = owned
                .iter()
                .map(|rs| revision_of(rs.head()))
                .max()
                .unwrap_or(0)
                + 1;
            current = create_replica_set(cluster, types, &d.full(), hash, revision, now);
        }
        let Some(current) = current else { continue };
        let desired = replicas(d.head());
        for rs in &owned {
            let want = if meta_str(rs.head(), "uid") == meta_str(current.head(), "uid") {
                desired
            } else {
                0
            };
            if rs.head().pointer("/spec/replicas").and_then(Value::as_u64) != Some(want) {
                let mut new = rs.full();
                new["spec"]["replicas"] = json!(want);
                log_write(
                    "scale replicaset",
                    meta_str(rs.head(), "name"),
                    api::update(
                        cluster,
                        &types.replica_set,
                        new,
                        None,
                        &WriteOptions::internal(),
                    ),
                );
            }
        }
        // The Deployment's revision annotation follows its current ReplicaSet.
        let revision = revision_of(current.head());
        if revision > 0 && revision_of(d.head()) != revision {
            let mut new = d.full();
            new["metadata"]["annotations"][REVISION_ANNOTATION] = json!(revision.to_string());
            log_write(
                "annotate deployment",
                meta_str(d.head(), "name"),
                api::update(
                    cluster,
                    &types.deployment,
                    new,
                    None,
                    &WriteOptions::internal(),
                ),
            );
        }
        deployment_status(
            cluster,
            types,
            &uid,
            &ns,
            meta_str(d.head(), "name"),
            current.head(),
            &ts,
        );
    }
}

fn create_replica_set(
    cluster: &mut Cluster,
    types: &Types,
    d: &Value,
    hash: Option<String>,
    revision: u64,
    now: Timestamp,
) -> Option<Arc<Stored>> {
    let ns = meta_str(d, "namespace").to_string();
    let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
    for salt in 0..5u32 {
        let hash = match (&hash, salt) {
            (Some(h), 0) => h.clone(),
            _ => stable_hash(&template, salt),
        };
        let name = format!("{}-{hash}", meta_str(d, "name"));
        if cluster
            .store
            .get(&types.replica_set.key(), &ns, &name)
            .is_some()
        {
            continue;
        }
        let mut tmpl = template.clone();
        tmpl["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let mut labels = template
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(json!({}));
        labels[HASH_LABEL] = json!(hash);
        let mut spec = json!({"replicas": replicas(d), "selector": selector, "template": tmpl});
        if let Some(m) = d.pointer("/spec/minReadySeconds") {
            spec["minReadySeconds"] = m.clone();
        }
        let rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": replicas(d).to_string(),
                    "deployment.kubernetes.io/max-replicas": replicas(d).to_string(),
                    REVISION_ANNOTATION: revision.to_string(),
                },
                "ownerReferences": [owner_ref(d)],
            },
            "spec": spec,
        });
        return log_write(
            "create replicaset",
            &name,
            api::create(
                cluster,
                &types.replica_set,
                rs,
                now,
                &WriteOptions::internal(),
            ),
        );
    }
    None
}

/// A count or percentage of a total (`maxUnavailable: 25%`), rounded down.
fn int_or_percent_down(v: Option<&Value>, total: u64, default_percent: u64) -> u64 {
    match v {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<u64>().ok())
            .map_or(0, |p| total * p / 100),
        _ => total * default_percent / 100,
    }
}

fn deployment_status(
    cluster: &mut Cluster,
    types: &Types,
    uid: &str,
    ns: &str,
    name: &str,
    current: &Value,
    ts: &str,
) {
    let Some(d) = cluster
        .store
        .get(&types.deployment.key(), ns, name)
        .cloned()
    else {
        return;
    };
    let owned: Vec<Arc<Stored>> = cluster
        .store
        .list(&types.replica_set.key(), Some(ns))
        .filter(|rs| controller_uid(rs.head()) == Some(uid))
        .cloned()
        .collect();
    // Wait until the ReplicaSet controller has seen every ReplicaSet as it is now, so a
    // fresh or just scaled one does not make the Deployment look unavailable for a moment.
    if owned.iter().any(|rs| {
        rs.head().pointer("/status/observedGeneration") != rs.head().pointer("/metadata/generation")
    }) {
        return;
    }
    let count = |f: &str| -> u64 {
        owned
            .iter()
            .map(|rs| {
                rs.head()
                    .pointer(&format!("/status/{f}"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            })
            .sum()
    };
    let (total, ready, available) = (
        count("replicas"),
        count("readyReplicas"),
        count("availableReplicas"),
    );
    let current_name = meta_str(current, "name");
    let updated = owned
        .iter()
        .find(|rs| meta_str(rs.head(), "name") == current_name)
        .and_then(|rs| rs.head().pointer("/status/replicas"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let desired = replicas(d.head());
    let max_unavailable = if d
        .head()
        .pointer("/spec/strategy/type")
        .and_then(Value::as_str)
        == Some("Recreate")
    {
        desired
    } else {
        int_or_percent_down(
            d.head()
                .pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
            desired,
            25,
        )
    };
    let mut status = d
        .head()
        .get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    status["observedGeneration"] = d
        .head()
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    set_count(&mut status, "replicas", total, true);
    set_count(&mut status, "updatedReplicas", updated, true);
    set_count(&mut status, "readyReplicas", ready, true);
    set_count(&mut status, "availableReplicas", available, true);
    set_count(
        &mut status,
        "unavailableReplicas",
        desired.saturating_sub(available),
        true,
    );
    let available_ok = available + max_unavailable >= desired;
    let available_cond = if available_ok {
        json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."})
    } else {
        json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
    };
    let done = updated == desired && total == desired && available >= desired;
    let progressing = if done {
        json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
               "message": format!("ReplicaSet \"{current_name}\" has successfully progressed.")})
    } else {
        json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
               "message": format!("ReplicaSet \"{current_name}\" is progressing.")})
    };
    set_condition(&mut status, available_cond, ts, true);
    set_condition(&mut status, progressing, ts, true);
    write_status(cluster, &types.deployment, &d, status);
}

/// A pod from a controller's template.
fn pod_from_template(owner: &Value, name: Option<String>) -> Value {
    let t = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let mut meta = json!({
        "namespace": meta_str(owner, "namespace"),
        "ownerReferences": [owner_ref(owner)],
    });
    match name {
        Some(n) => meta["name"] = json!(n),
        None => meta["generateName"] = json!(format!("{}-", meta_str(owner, "name"))),
    }
    for f in ["labels", "annotations"] {
        if let Some(v) = t
            .pointer(&format!("/metadata/{f}"))
            .filter(|v| v.is_object())
        {
            meta[f] = v.clone();
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": t.get("spec").cloned().unwrap_or(json!({}))})
}

fn create_pod(cluster: &mut Cluster, types: &Types, pod: Value, now: Timestamp) {
    // A generated name can collide; the API server's answer is 409, and another try works.
    for _ in 0..3 {
        match api::create(
            cluster,
            &types.pod,
            pod.clone(),
            now,
            &WriteOptions::internal(),
        ) {
            Err(e) if e.code == 409 && meta_str(&pod, "name").is_empty() => continue,
            other => {
                log_write("create pod", meta_str(&pod, "generateName"), other);
                return;
            }
        }
    }
}

/// The order in which surplus pods go: unplaced, then pending, then not ready, then the
/// newest, as the ReplicaSet controller ranks them.
fn deletion_rank(p: &Value) -> (bool, u8, bool, std::cmp::Reverse<String>, String) {
    let phase_rank = match phase(p) {
        "Pending" | "" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    (
        !spec_str(p, "nodeName").is_empty(),
        phase_rank,
        is_ready(p),
        std::cmp::Reverse(meta_str(p, "creationTimestamp").to_string()),
        meta_str(p, "name").to_string(),
    )
}

fn available_count(pods: &[&Arc<Stored>]) -> u64 {
    pods.iter()
        .filter(|p| phase(p.head()) == "Running" && is_ready(p.head()))
        .count() as u64
}

fn replica_sets(
    cluster: &mut Cluster,
    types: &Types,
    owned: &HashMap<String, Vec<Arc<Stored>>>,
    now: Timestamp,
    scope: &Scope,
) {
    let sets = scope.objects(cluster, &types.replica_set);
    let empty = Vec::new();
    for rs in sets {
        if is_deleting(rs.head()) {
            continue;
        }
        let mut pods: Vec<&Arc<Stored>> = owned
            .get(meta_str(rs.head(), "uid"))
            .unwrap_or(&empty)
            .iter()
            .filter(|p| is_active(p.head()))
            .collect();
        let desired = replicas(rs.head()) as usize;
        if pods.len() < desired {
            for _ in pods.len()..desired {
                create_pod(cluster, types, pod_from_template(&rs.full(), None), now);
            }
        } else if pods.len() > desired {
            pods.sort_by_key(|p| deletion_rank(p.head()));
            let surplus = pods.len() - desired;
            for p in pods.drain(..surplus) {
                delete_pod(cluster, types, p.head(), now);
            }
        }
        let ready = pods.iter().filter(|p| is_ready(p.head())).count() as u64;
        let mut status = rs
            .head()
            .get("status")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        set_count(&mut status, "replicas", pods.len() as u64, false);
        set_count(&mut status, "fullyLabeledReplicas", pods.len() as u64, true);
        set_count(&mut status, "readyReplicas", ready, true);
        set_count(
            &mut status,
            "availableReplicas",
            available_count(&pods),
            true,
        );
        status["observedGeneration"] = rs
            .head()
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        write_status(cluster, &types.replica_set, &rs, status);
    }
}

/// The ordinal of a StatefulSet pod name (`web-2` → 2).
fn ordinal(sts_name: &str, pod_name: &str) -> Option<u64> {
    pod_name
        .strip_prefix(sts_name)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

fn stateful_sets(
    cluster: &mut Cluster,
    types: &Types,
    owned: &HashMap<String, Vec<Arc<Stored>>>,
    now: Timestamp,
    scope: &Scope,
) {
    let sets = scope.objects(cluster, &types.stateful_set);
    let empty = Vec::new();
    for sts in sets {
        if is_deleting(sts.head()) {
            continue;
        }
        let name = meta_str(sts.head(), "name").to_string();
        let ns = meta_str(sts.head(), "namespace").to_string();
        let pods: Vec<&Arc<Stored>> = owned
            .get(meta_str(sts.head(), "uid"))
            .unwrap_or(&empty)
            .iter()
            .filter(|p| is_active(p.head()))
            .collect();
        let by_ordinal: BTreeMap<u64, &Arc<Stored>> = pods
            .iter()
            .filter_map(|p| ordinal(&name, meta_str(p.head(), "name")).map(|o| (o, *p)))
            .collect();
        let desired = replicas(sts.head());
        let parallel = sts
            .head()
            .pointer("/spec/podManagementPolicy")
            .and_then(Value::as_str)
            == Some("Parallel");
        let revision = sts
            .head()
            .pointer("/status/updateRevision")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{name}-{}", stable_hash(&template_of(&sts), 0)));
        for o in 0..desired {
            match by_ordinal.get(&o) {
                // OrderedReady: a pod that is not Ready holds back the ones after it.
                Some(p) if parallel || (phase(p.head()) == "Running" && is_ready(p.head())) => {
                    continue;
                }
                Some(_) => break,
                None => {
                    let pod_name = format!("{name}-{o}");
                    if cluster.store.get("pods", &ns, &pod_name).is_some() {
                        // A pod of that name that is not ours, or one going away.
                        break;
                    }
                    let mut pod = pod_from_template(&sts.full(), Some(pod_name.clone()));
                    pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] =
                        json!(pod_name);
                    pod["metadata"]["labels"]["controller-revision-hash"] = json!(revision);
                    pod["spec"]["hostname"] = json!(pod_name);
                    if let Some(svc) = sts
                        .head()
                        .pointer("/spec/serviceName")
                        .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
                    {
                        pod["spec"]["subdomain"] = svc.clone();
                    }
                    create_pod(cluster, types, pod, now);
                    if !parallel {
                        break;
                    }
                }
            }
        }
        // Scaled down: the highest ordinals go. A pod without an ordinal is not a member
        // and is left alone.
        let mut surplus: Vec<(u64, &Arc<Stored>)> = pods
            .iter()
            .filter_map(|p| ordinal(&name, meta_str(p.head(), "name")).map(|o| (o, *p)))
            .filter(|(o, _)| *o >= desired)
            .collect();
        surplus.sort_by_key(|(o, _)| std::cmp::Reverse(*o));
        for (_, p) in &surplus {
            delete_pod(cluster, types, p.head(), now);
        }
        let kept: Vec<&Arc<Stored>> = pods
            .iter()
            .filter(|p| ordinal(&name, meta_str(p.head(), "name")).is_some_and(|o| o < desired))
            .copied()
            .collect();
        let ready = kept.iter().filter(|p| is_ready(p.head())).count() as u64;
        let mut status = sts
            .head()
            .get("status")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        set_count(&mut status, "replicas", kept.len() as u64, false);
        set_count(&mut status, "readyReplicas", ready, true);
        set_count(&mut status, "currentReplicas", kept.len() as u64, true);
        set_count(&mut status, "updatedReplicas", kept.len() as u64, true);
        set_count(
            &mut status,
            "availableReplicas",
            available_count(&kept),
            true,
        );
        status["observedGeneration"] = sts
            .head()
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        if status.get("currentRevision").is_none() {
            status["currentRevision"] = json!(revision);
        }
        if status.get("updateRevision").is_none() {
            status["updateRevision"] = json!(revision);
        }
        write_status(cluster, &types.stateful_set, &sts, status);
    }
}

/// The tolerations the DaemonSet controller adds to its pods.
fn daemon_tolerations(template_tolerations: Option<&Value>) -> Value {
    let mut list = template_tolerations
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (key, effect) in [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ] {
        if !list
            .iter()
            .any(|t| t.get("key").and_then(Value::as_str) == Some(key))
        {
            list.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
    Value::Array(list)
}

fn daemon_sets(
    cluster: &mut Cluster,
    types: &Types,
    owned: &HashMap<String, Vec<Arc<Stored>>>,
    now: Timestamp,
    scope: &Scope,
) {
    let sets = scope.objects(cluster, &types.daemon_set);
    let nodes: Vec<Arc<Stored>> = cluster.store.list("nodes", None).cloned().collect();
    let empty = Vec::new();
    for ds in sets {
        if is_deleting(ds.head()) {
            continue;
        }
        let template = template_of(&ds);
        let tolerations = daemon_tolerations(template.pointer("/spec/tolerations"));
        let node_selector = template.pointer("/spec/nodeSelector");
        let pods: Vec<&Arc<Stored>> = owned
            .get(meta_str(ds.head(), "uid"))
            .unwrap_or(&empty)
            .iter()
            .filter(|p| is_active(p.head()))
            .collect();
        let mut by_node: BTreeMap<&str, Vec<&Arc<Stored>>> = BTreeMap::new();
        for p in &pods {
            by_node
                .entry(spec_str(p.head(), "nodeName"))
                .or_default()
                .push(p);
        }
        let hash = stable_hash(&template, 0);
        let (mut desired, mut current, mut ready, mut misscheduled) = (0u64, 0u64, 0u64, 0u64);
        let mut doomed: Vec<&Arc<Stored>> = Vec::new();
        for node in &nodes {
            let node_name = meta_str(node.head(), "name");
            let selected = matches_node_selector(node.head(), node_selector);
            let should_run = selected
                && untolerated_taint(
                    node.head(),
                    Some(&tolerations),
                    &["NoSchedule", "NoExecute"],
                )
                .is_none();
            let may_stay = selected
                && untolerated_taint(node.head(), Some(&tolerations), &["NoExecute"]).is_none();
            let here = by_node.remove(node_name).unwrap_or_default();
            if should_run {
                desired += 1;
            }
            match here.split_first() {
                None if should_run => {
                    let mut pod = pod_from_template(&ds.full(), None);
                    pod["metadata"]["labels"]["controller-revision-hash"] = json!(hash);
                    pod["metadata"]["labels"]["pod-template-generation"] = json!(
                        ds.head()
                            .pointer("/metadata/generation")
                            .and_then(Value::as_i64)
                            .unwrap_or(1)
                            .to_string()
                    );
                    pod["spec"]["nodeName"] = json!(node_name);
                    pod["spec"]["tolerations"] = tolerations.clone();
                    create_pod(cluster, types, pod, now);
                }
                None => {}
                Some((first, extra)) => {
                    doomed.extend(extra.iter().copied());
                    if !may_stay {
                        doomed.push(first);
                    } else if should_run {
                        current += 1;
                        if is_ready(first.head()) {
                            ready += 1;
                        }
                    } else {
                        misscheduled += 1;
                    }
                }
            }
        }
        // Pods on nodes that are gone, or never placed.
        doomed.extend(by_node.into_values().flatten());
        for p in doomed {
            delete_pod(cluster, types, p.head(), now);
        }
        let mut status = ds
            .head()
            .get("status")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        set_count(&mut status, "desiredNumberScheduled", desired, false);
        set_count(&mut status, "currentNumberScheduled", current, false);
        set_count(&mut status, "numberMisscheduled", misscheduled, false);
        set_count(&mut status, "numberReady", ready, false);
        set_count(&mut status, "updatedNumberScheduled", current, true);
        set_count(&mut status, "numberAvailable", ready, true);
        set_count(
            &mut status,
            "numberUnavailable",
            desired.saturating_sub(ready),
            true,
        );
        status["observedGeneration"] = ds
            .head()
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        write_status(cluster, &types.daemon_set, &ds, status);
    }
}
