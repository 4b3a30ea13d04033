//! The seed's cluster (`assets/scenarios/k1-upgrade.yaml`) as the model sees it, for tests
//! of the TUI on ratatui's `TestBackend`: the scenario's objects through the model's own
//! projection, with what the sandbox's controllers would add (pods Running and Ready unless
//! written otherwise, owners from the pod's labels, workload status, ReplicaSets of
//! Deployments). The clock is fixed.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use kube::api::DynamicObject;
use meshtop::model::intern::Interner;
use meshtop::model::labels::Selector;
use meshtop::model::project::object_from_dynamic;
use meshtop::model::summary::{Owner, PodPhase, WorkloadKind, WorkloadSummary};
use meshtop::model::{ClusterEvent, Kind, Model, Object, SourceState, Stamped};
use serde_json::Value;

const SCENARIO: &str = include_str!("../../assets/scenarios/k1-upgrade.yaml");

/// When the model last heard from the cluster.
pub fn observed() -> Timestamp {
    "2020-01-09T07:15:00Z".parse().expect("timestamp")
}

/// The injected clock: 42 seconds after the last event.
pub fn now() -> Timestamp {
    "2020-01-09T07:15:42Z".parse().expect("timestamp")
}

/// The scenario's documents.
pub fn docs() -> Vec<Value> {
    serde_yaml::Deserializer::from_str(SCENARIO)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| v.is_object())
        .collect()
}

/// The kind a scenario document is watched as, if meshtop watches it.
fn kind_of(doc: &Value) -> Option<Kind> {
    Kind::of_type(doc["apiVersion"].as_str()?, doc["kind"].as_str()?)
}

/// What the sandbox's controllers would have done to an object written in the scenario.
fn as_running(object: &mut Object, doc: &Value, nodes: u32) {
    match object {
        Object::Pod(p) => {
            if doc.get("status").is_none() {
                let containers = doc["spec"]["containers"]
                    .as_array()
                    .map_or(0, |c| c.len() as u16);
                p.phase = PodPhase::Running;
                p.status = Arc::from("Running");
                p.ready = true;
                p.containers = containers;
                p.containers_ready = containers;
            }
            if p.owner.is_none() {
                let labels = &p.labels;
                let trimmed = p.name.rsplit_once('-').map(|(base, _)| base);
                let kind = if labels.contains_key("pod-template-hash") {
                    Some("ReplicaSet")
                } else if labels.contains_key("statefulset.kubernetes.io/pod-name") {
                    Some("StatefulSet")
                } else if labels.contains_key("controller-revision-hash") {
                    Some("DaemonSet")
                } else {
                    None
                };
                if let (Some(kind), Some(name)) = (kind, trimmed) {
                    p.owner = Some(Owner {
                        kind: Arc::from(kind),
                        name: Arc::from(name),
                    });
                }
            }
        }
        Object::Workload(w) if doc.get("status").is_none() => {
            if w.kind == WorkloadKind::DaemonSet {
                w.desired = nodes;
            }
            w.ready = w.desired;
            w.available = w.desired;
        }
        _ => {}
    }
}

/// The ReplicaSet the Deployment controller made for a pod with a `pod-template-hash`.
fn replica_set_of(pod: &Object, deployments: &[WorkloadSummary]) -> Option<Object> {
    let Object::Pod(p) = pod else { return None };
    let owner = p.owner.as_ref().filter(|o| &*o.kind == "ReplicaSet")?;
    let d = deployments
        .iter()
        .find(|d| d.namespace == p.namespace && d.selector.matches(&p.labels))?;
    Some(Object::Workload(WorkloadSummary {
        kind: WorkloadKind::ReplicaSet,
        namespace: p.namespace.clone(),
        name: owner.name.clone(),
        labels: p.labels.clone(),
        selector: Selector::from_labels(&p.labels),
        template_labels: p.labels.clone(),
        desired: d.desired,
        ready: d.desired,
        available: d.desired,
        owner: Some(Owner {
            kind: Arc::from("Deployment"),
            name: d.name.clone(),
        }),
        images: d.images.clone(),
        node_selector: d.node_selector.clone(),
        operator: None,
        installer: None,
        created: None,
    }))
}

/// The seed's cluster as the model sees it once every watch is ready, before istiod's sync
/// status arrives.
pub fn model() -> Model {
    let mut interner = Interner::default();
    let docs = docs();
    let nodes = docs.iter().filter(|d| d["kind"] == "Node").count() as u32;
    let mut objects = Vec::new();
    for doc in &docs {
        let Some(kind) = kind_of(doc) else { continue };
        let dynamic: DynamicObject = serde_json::from_value(doc.clone()).expect("object");
        let Some(mut object) = object_from_dynamic(kind, &dynamic, &mut interner) else {
            continue;
        };
        as_running(&mut object, doc, nodes);
        objects.push(object);
    }
    let deployments: Vec<WorkloadSummary> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Workload(w) if w.kind == WorkloadKind::Deployment => Some(w.clone()),
            _ => None,
        })
        .collect();
    let mut replica_sets: BTreeMap<String, Object> = BTreeMap::new();
    for o in &objects {
        if let Some(rs) = replica_set_of(o, &deployments)
            && let Object::Workload(w) = &rs
        {
            replica_sets.insert(format!("{}/{}", w.namespace, w.name), rs);
        }
    }
    objects.extend(replica_sets.into_values());

    let mut model = Model::new();
    let at = observed();
    let mut apply = |event| model.apply(Stamped { at, event });
    for kind in Kind::ALL {
        apply(ClusterEvent::Source(kind, SourceState::Syncing));
    }
    apply(ClusterEvent::Server {
        git_version: "v1.15.6".into(),
    });
    for o in objects {
        apply(ClusterEvent::Applied(o));
    }
    for kind in Kind::ALL {
        apply(ClusterEvent::Source(kind, SourceState::Ready));
    }
    model
}
