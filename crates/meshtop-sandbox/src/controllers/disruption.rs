//! PodDisruptionBudget status, as the disruption controller computes it, and the Eviction
//! API that consults it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::api::{self, WriteOptions};
use super::super::error::ApiError;
use super::super::selector::LabelSelector;
use super::super::store::{Stored, meta_str, timestamp};
use super::{
    Cluster, Types, controller_ref, is_deleting, is_ready, labels, phase, replicas, set_condition,
    write_status,
};

/// The numbers of a PDB's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Budget {
    expected: u64,
    current_healthy: u64,
    desired_healthy: u64,
}

impl Budget {
    fn allowed(&self) -> u64 {
        self.current_healthy.saturating_sub(self.desired_healthy)
    }
}

/// `minAvailable`/`maxUnavailable`: a count, or a percentage of `total` rounded up.
fn scaled_up(v: &Value, total: u64) -> u64 {
    match v {
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<u64>().ok())
            .map_or(0, |p| (total * p).div_ceil(100)),
        other => other.as_u64().unwrap_or(0),
    }
}

/// The replicas the controller of a pod wants (a ReplicaSet of a Deployment counts as the
/// Deployment), with the controller's uid so each counts once.
fn controller_scale(cluster: &Cluster, pod: &Value) -> Option<(String, u64)> {
    let r = controller_ref(pod)?;
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let ns = meta_str(pod, "namespace");
    match kind {
        "ReplicaSet" => {
            let rs = cluster.store.get("replicasets.apps", ns, name)?;
            if let Some(d) = controller_ref(rs.head())
                .filter(|d| d.get("kind").and_then(Value::as_str) == Some("Deployment"))
            {
                let dname = d.get("name").and_then(Value::as_str).unwrap_or("");
                if let Some(deploy) = cluster.store.get("deployments.apps", ns, dname) {
                    return Some((
                        meta_str(deploy.head(), "uid").to_string(),
                        replicas(deploy.head()),
                    ));
                }
            }
            Some((meta_str(rs.head(), "uid").to_string(), replicas(rs.head())))
        }
        "StatefulSet" => {
            let sts = cluster.store.get("statefulsets.apps", ns, name)?;
            Some((
                meta_str(sts.head(), "uid").to_string(),
                replicas(sts.head()),
            ))
        }
        "DaemonSet" => {
            let ds = cluster.store.get("daemonsets.apps", ns, name)?;
            let n = ds
                .head()
                .pointer("/status/desiredNumberScheduled")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            Some((meta_str(ds.head(), "uid").to_string(), n))
        }
        _ => None,
    }
}

/// The pods of a namespace, indexed by label so a selector's pods are found without a
/// scan per PDB; those going away are left out.
struct PodIndex<'a> {
    all: Vec<&'a Arc<Stored>>,
    by_label: HashMap<(&'a str, &'a str), Vec<&'a Arc<Stored>>>,
}

impl<'a> PodIndex<'a> {
    fn new(cluster: &'a Cluster, namespace: &'a str) -> Self {
        let mut all = Vec::new();
        let mut by_label: HashMap<(&str, &str), Vec<&Arc<Stored>>> = HashMap::new();
        for p in cluster
            .store
            .list("pods", Some(namespace))
            .filter(|p| !is_deleting(p.head()))
        {
            all.push(p);
            if let Some(l) = labels(p.head()).and_then(Value::as_object) {
                for (k, v) in l {
                    by_label
                        .entry((k.as_str(), v.as_str().unwrap_or("")))
                        .or_default()
                        .push(p);
                }
            }
        }
        Self { all, by_label }
    }

    /// The pods a PDB selects.
    fn select(&self, pdb: &Value) -> Vec<&'a Arc<Stored>> {
        let selector = pdb.pointer("/spec/selector");
        let Ok(sel) = LabelSelector::from_object(selector) else {
            return Vec::new();
        };
        // Every matchLabels pair must hold: the rarest one bounds the pods to check.
        let none: &[&Arc<Stored>] = &[];
        let candidates = selector
            .and_then(|s| s.get("matchLabels"))
            .and_then(Value::as_object)
            .and_then(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let key = (k.as_str(), v.as_str().unwrap_or(""));
                        self.by_label.get(&key).map_or(none, Vec::as_slice)
                    })
                    .min_by_key(|l| l.len())
            })
            .unwrap_or(&self.all);
        candidates
            .iter()
            .filter(|p| sel.matches(labels(p.head())))
            .copied()
            .collect()
    }
}

fn budget(cluster: &Cluster, pdb: &Value, pods: &[&Arc<Stored>]) -> Budget {
    let current_healthy = pods
        .iter()
        .filter(|p| phase(p.head()) == "Running" && is_ready(p.head()))
        .count() as u64;
    // The scale of the pods' controllers, each counted once; a pod without one counts itself.
    let expected_scale = || {
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for p in pods {
            match controller_scale(cluster, p.head()) {
                Some((uid, n)) => {
                    if seen.insert(uid) {
                        total += n;
                    }
                }
                None => total += 1,
            }
        }
        total
    };
    let spec = pdb.get("spec");
    let (expected, desired_healthy) = if let Some(mu) = spec.and_then(|s| s.get("maxUnavailable")) {
        let expected = expected_scale();
        (expected, expected.saturating_sub(scaled_up(mu, expected)))
    } else if let Some(ma) = spec.and_then(|s| s.get("minAvailable")) {
        if ma.is_string() {
            let expected = expected_scale();
            (expected, scaled_up(ma, expected))
        } else {
            // An integer minAvailable needs no controller: the pods themselves are expected.
            (pods.len() as u64, scaled_up(ma, 0))
        }
    } else {
        (pods.len() as u64, 0)
    };
    Budget {
        expected,
        current_healthy,
        desired_healthy,
    }
}

/// Recomputes one PDB's status and writes it if it changed; returns the numbers.
fn refresh(cluster: &mut Cluster, types: &Types, pdb: &Stored, now: Timestamp) -> Budget {
    let b = {
        let index = PodIndex::new(cluster, meta_str(pdb.head(), "namespace"));
        budget(cluster, pdb.head(), &index.select(pdb.head()))
    };
    write_budget(cluster, types, pdb, b, now);
    b
}

/// Writes a PDB's status from its numbers, if that changes it.
fn write_budget(cluster: &mut Cluster, types: &Types, pdb: &Stored, b: Budget, now: Timestamp) {
    let generation = pdb
        .head()
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let mut status = pdb
        .head()
        .get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    status["observedGeneration"] = generation.clone();
    status["disruptionsAllowed"] = json!(b.allowed());
    status["currentHealthy"] = json!(b.current_healthy);
    status["desiredHealthy"] = json!(b.desired_healthy);
    status["expectedPods"] = json!(b.expected);
    if !status.get("disruptedPods").is_some_and(Value::is_object) {
        status["disruptedPods"] = json!({});
    }
    let cond = if b.allowed() > 0 {
        json!({"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "", "observedGeneration": generation})
    } else {
        json!({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "", "observedGeneration": generation})
    };
    set_condition(&mut status, cond, &timestamp(now), false);
    write_status(cluster, &types.pdb, pdb, status);
}

/// What a PDB's status is computed from.
const INPUTS: &[&str] = &[
    "pods",
    "poddisruptionbudgets.policy",
    "replicasets.apps",
    "deployments.apps",
    "statefulsets.apps",
    "daemonsets.apps",
];

/// Takes the namespaces of the inputs' changes off the feed, into the set the next run
/// reads.
pub(super) fn note_changes(cluster: &mut Cluster) {
    let controllers = &mut cluster.controllers;
    for rx in controllers.pdb_feed.iter_mut() {
        while let Ok(ev) = rx.try_recv() {
            if !controllers.pdb_changed.contains(&ev.namespace) {
                controllers.pdb_changed.insert(ev.namespace.clone());
            }
        }
    }
}

/// The namespaces where an input changed since the last run; `None` on the first run,
/// when everything is new.
fn changed_namespaces(cluster: &mut Cluster) -> Option<BTreeSet<String>> {
    if cluster.controllers.pdb_feed.is_empty() {
        let feed: Vec<_> = INPUTS
            .iter()
            .map(|key| cluster.store.subscribe(key, None))
            .collect();
        cluster.controllers.pdb_feed = feed;
        return None;
    }
    note_changes(cluster);
    Some(std::mem::take(&mut cluster.controllers.pdb_changed))
}

pub(super) fn reconcile(cluster: &mut Cluster, types: &Types, now: Timestamp) {
    let changed = changed_namespaces(cluster);
    // Only the namespaces where something moved, each a range of the store.
    let key = types.pdb.key();
    let pdbs: Vec<Arc<Stored>> = match &changed {
        None => cluster.store.list(&key, None).cloned().collect(),
        Some(namespaces) => namespaces
            .iter()
            .flat_map(|ns| cluster.store.list(&key, Some(ns)))
            .cloned()
            .collect(),
    };
    let budgets: Vec<Budget> = {
        let mut indexes: HashMap<&str, PodIndex> = HashMap::new();
        pdbs.iter()
            .map(|pdb| {
                let ns = meta_str(pdb.head(), "namespace");
                let index = indexes
                    .entry(ns)
                    .or_insert_with(|| PodIndex::new(cluster, ns));
                budget(cluster, pdb.head(), &index.select(pdb.head()))
            })
            .collect()
    };
    for (pdb, b) in pdbs.iter().zip(budgets) {
        write_budget(cluster, types, pdb, b, now);
    }
}

/// The Eviction API: refuse (429) when a PDB allows no disruption, else delete the pod.
pub fn evict(
    cluster: &mut Cluster,
    namespace: &str,
    name: &str,
    dry_run: bool,
    now: Timestamp,
) -> Result<(), ApiError> {
    let types = Types::get(&cluster.registry)
        .ok_or_else(|| ApiError::internal("the sandbox has no Pod type"))?;
    let pod = cluster
        .store
        .get("pods", namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("pods", name))?;
    let opts = WriteOptions {
        dry_run,
        from_client: true,
    };
    // A pod that is not running has no disruption to budget for.
    if phase(pod.head()) != "Running" || is_deleting(pod.head()) {
        api::delete(cluster, &types.pod, namespace, name, now, &opts)?;
        return Ok(());
    }
    let pdbs: Vec<Arc<Stored>> = cluster
        .store
        .list(&types.pdb.key(), Some(namespace))
        .filter(|pdb| {
            LabelSelector::from_object(pdb.head().pointer("/spec/selector"))
                .is_ok_and(|s| s.matches_object(pod.head()))
        })
        .cloned()
        .collect();
    if pdbs.len() > 1 {
        return Err(ApiError::internal("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
            .with_details(json!({"causes": [{"message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}]})));
    }
    let Some(pdb) = pdbs.first() else {
        api::delete(cluster, &types.pod, namespace, name, now, &opts)?;
        return Ok(());
    };
    let b = refresh(cluster, &types, pdb, now);
    // policy/v1 (unhealthyPodEvictionPolicy IfHealthyBudget, the default): a pod that is not
    // ready may go while the budget's healthy pods suffice, and spends no disruption.
    if !is_ready(pod.head()) && b.current_healthy >= b.desired_healthy {
        api::delete(cluster, &types.pod, namespace, name, now, &opts)?;
        return Ok(());
    }
    if b.allowed() == 0 {
        let pdb_name = meta_str(pdb.head(), "name");
        return Err(ApiError::new(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
            .with_details(json!({"causes": [{
                "reason": "DisruptionBudget",
                "message": format!("The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                                   b.desired_healthy, b.current_healthy),
            }]})));
    }
    api::delete(cluster, &types.pod, namespace, name, now, &opts)?;
    if !dry_run {
        // The budget is spent at once: the next eviction sees one disruption fewer.
        let fresh = cluster
            .store
            .get(&types.pdb.key(), namespace, meta_str(pdb.head(), "name"))
            .cloned();
        if let Some(fresh) = fresh {
            refresh(cluster, &types, &fresh, now);
        }
    }
    Ok(())
}
