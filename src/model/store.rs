//! The summaries the model holds, per kind, and the aggregates kept up to date as they change:
//! pods per node and namespace, injected pods per revision, the pods each PDB selects and
//! where they run, the drain pre-flight of each node in numbers. Every change touches only
//! what it affects (a pod: its node, namespace, revision and the PDBs of its namespace; a
//! PDB: the pods of its namespace), so the facts never rescan all pods. `proxies`: the same
//! for istiod's proxy sync answers and the Proxies view's lines; `ranked`: the ordered map
//! those lines are kept in.

pub(crate) mod pods;
pub(crate) mod proxies;
pub(crate) mod ranked;

pub(crate) use pods::{Change, PodId, Pods};

use crate::ops::drain::{DrainRule, PodTraits};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::event::Kind;
use super::intern::{Name, empty};
use super::labels::{Labels, Selector, keys};
use super::project::key_of;
use super::summary::{
    ConfigMapSummary, HpaSummary, IstioGatewaySummary, IstioOperatorSummary, KubeGatewaySummary,
    MeshRole, NamespaceSummary, NodeSummary, Object, ObjectKey, PdbSummary, PodPhase, PodSummary,
    ServiceSummary, WebhookConfigSummary, WorkloadKind, WorkloadSummary,
};

/// What the pods scheduled on one node add up to.
#[derive(Debug, Default)]
pub(crate) struct NodePods {
    pub pods: BTreeSet<PodId>,
    /// DaemonSet pods: a drain skips them.
    pub daemonset: u32,
    /// Mirror pods of static pods: a drain skips them.
    pub mirror: u32,
    /// Pods a drain would evict.
    pub evict: u32,
    /// Running pods without a controller: a drain needs `--force`.
    pub unmanaged: BTreeSet<PodId>,
    /// Running pods with emptyDir volumes: a drain needs `--delete-emptydir-data`.
    pub empty_dir: BTreeSet<PodId>,
    /// Per PDB, how many of the pods it selects here are guarded by it on eviction:
    /// (ready, not ready). policy/v1 lets a not-ready pod go while the budget's healthy
    /// pods suffice, so the two count apart.
    pub guarded_by: BTreeMap<ObjectKey, Guarded>,
}

impl NodePods {
    fn is_empty(&self) -> bool {
        self.pods.is_empty() && self.guarded_by.is_empty()
    }

    /// A drain refuses these pods without `--force` or `--delete-emptydir-data`.
    pub fn needs_consent(&self) -> bool {
        !self.unmanaged.is_empty() || !self.empty_dir.is_empty()
    }
}

/// Pods a PDB guards on one node, by readiness.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guarded {
    pub ready: u32,
    pub not_ready: u32,
}

impl Guarded {
    fn slot(&mut self, ready: bool) -> &mut u32 {
        if ready {
            &mut self.ready
        } else {
            &mut self.not_ready
        }
    }
}

/// What the pods of one namespace add up to.
#[derive(Debug, Default)]
pub(crate) struct NamespacePods {
    pub pods: u32,
    pub injected: u32,
    /// Pods a rollout restart would inject again, by the revision that injected them now.
    pub restartable: BTreeMap<Name, BTreeSet<PodId>>,
    /// Running pods without a proxy that a rollout restart would inject, were the
    /// namespace labelled for a revision (they do not opt out).
    pub without_proxy: BTreeSet<PodId>,
}

/// The aggregates, derived from the summaries and kept in step with them.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// By node name; a node may be known from its pods before its own object arrives.
    pub nodes: HashMap<Name, NodePods>,
    pub namespaces: HashMap<Name, NamespacePods>,
    /// How many pods each revision (or tag) recorded on them injected.
    pub revision_pods: BTreeMap<Name, u32>,
    /// Proxy versions of the injected pods, by revision.
    pub revision_proxy_versions: BTreeMap<Name, BTreeMap<Name, u32>>,
    /// istiod pods (`app=istiod`) by their `istio.io/rev`.
    pub istiod_pods: BTreeMap<Name, BTreeSet<ObjectKey>>,
    /// How many pods have an `istio-proxy` container.
    pub proxied: u32,
    /// Of those, the ones not ready.
    pub proxied_not_ready: u32,
    /// Of those, how many run each version: the proxy's image tag (an istiod pod's own
    /// version for istiod), `None` when unknown.
    pub proxied_versions: BTreeMap<Option<Name>, u32>,
    /// The pods each PDB selects.
    pub pdb_pods: HashMap<ObjectKey, BTreeSet<PodId>>,
    /// `NodePods::guarded_by` the other way round: per PDB, the nodes where it guards pods.
    pub pdb_guards: HashMap<ObjectKey, BTreeMap<Name, Guarded>>,
    /// PDBs that select no pod now.
    pub unselective_pdbs: BTreeSet<ObjectKey>,
    /// PDBs that allow no disruption or were relaxed by meshtop: with the unselective ones,
    /// the only budgets the findings name, so a frame does not read every budget.
    pub noted_pdbs: BTreeSet<ObjectKey>,
    /// Nodes (of the Node objects held) with pods a drain refuses without consent
    /// (`NodePods::needs_consent`): blocked whatever the PDBs say.
    pub needs_consent: BTreeSet<Name>,
    /// Nodes (of the Node objects held) per kubelet version.
    pub kubelets: BTreeMap<Name, u32>,
    /// Cordoned nodes (of the Node objects held).
    pub cordoned: BTreeSet<Name>,
    /// NotReady nodes (of the Node objects held).
    pub not_ready_nodes: BTreeSet<Name>,
    /// istiod Deployments by revision.
    pub istiod_deployments: BTreeMap<Name, BTreeSet<ObjectKey>>,
    /// Deployments labelled like gateways.
    pub gateway_deployments: BTreeSet<ObjectKey>,
    /// Deployments of the control plane Istio ran before revisions.
    pub legacy_components: BTreeSet<ObjectKey>,
    /// ztunnel pods by the node they run on.
    pub ztunnels: BTreeMap<Name, BTreeSet<ObjectKey>>,
    /// Services by the node ports they take.
    pub node_ports: BTreeMap<u16, BTreeSet<ObjectKey>>,
}

/// Every summary, by kind.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub namespaces: BTreeMap<Name, NamespaceSummary>,
    pub nodes: BTreeMap<Name, NodeSummary>,
    pub pods: Pods,
    pub deployments: BTreeMap<ObjectKey, WorkloadSummary>,
    pub replica_sets: BTreeMap<ObjectKey, WorkloadSummary>,
    pub stateful_sets: BTreeMap<ObjectKey, WorkloadSummary>,
    pub daemon_sets: BTreeMap<ObjectKey, WorkloadSummary>,
    pub services: BTreeMap<ObjectKey, ServiceSummary>,
    pub hpas: BTreeMap<ObjectKey, HpaSummary>,
    pub pdbs: BTreeMap<ObjectKey, PdbSummary>,
    pub webhooks: BTreeMap<Name, WebhookConfigSummary>,
    pub config_maps: BTreeMap<ObjectKey, ConfigMapSummary>,
    pub iops: BTreeMap<ObjectKey, IstioOperatorSummary>,
    pub istio_gateways: BTreeMap<ObjectKey, IstioGatewaySummary>,
    pub kube_gateways: BTreeMap<ObjectKey, KubeGatewaySummary>,
    pub index: Index,
    /// istiod's sync answers and what they add up to with the pods.
    pub sync: proxies::SyncIndex,
    /// Moves when an istiod pod comes, changes or goes: the Proxies view's lines read the
    /// istiod versions and whether every istiod has answered.
    istiod_pods_moved: u64,
    /// The keys of each kind's relist still being read, sent in parts so far.
    relisting: HashMap<Kind, HashSet<ObjectKey>>,
}

/// An istiod pod, whose version and state the Proxies view's lines read.
fn istiod_pod(p: &PodSummary) -> bool {
    p.istiod_version.is_some() || istiod_revision(&p.labels).is_some()
}

/// The entries of a namespaced map that belong to one namespace, in name order.
pub(crate) fn in_namespace<'a, T>(
    map: &'a BTreeMap<ObjectKey, T>,
    namespace: &Name,
) -> impl Iterator<Item = (&'a ObjectKey, &'a T)> + 'a {
    let (start, within) = namespace_keys(namespace);
    map.range(start..).take_while(move |(k, _)| within(k))
}

/// Where a namespace's keys start in key order, and whether a key is still one of them.
fn namespace_keys(namespace: &Name) -> (ObjectKey, impl Fn(&ObjectKey) -> bool + use<>) {
    let start = ObjectKey {
        namespace: namespace.clone(),
        name: empty(),
    };
    let namespace = namespace.clone();
    (start, move |k: &ObjectKey| k.namespace == namespace)
}

pub(crate) fn finished(p: &PodSummary) -> bool {
    p.phase.finished()
}

/// Would an eviction of this pod be checked against its PDBs? The API server lets pods that
/// are finished, pending or already deleting go without.
pub(crate) fn guarded(p: &PodSummary) -> bool {
    !p.deleting && matches!(p.phase, PodPhase::Running | PodPhase::Unknown)
}

/// Would a rollout restart inject this pod again (by the namespace's revision)? Not the
/// proxies istiod deploys itself (waypoints) nor ztunnel: their revision is their own.
pub(crate) fn restartable(p: &PodSummary) -> bool {
    p.injected_revision.is_some()
        && !matches!(p.mesh_role, MeshRole::Ztunnel | MeshRole::Waypoint)
        && !p.deleting
        && !finished(p)
        && p.labels.get(keys::SIDECAR_INJECT).map(|v| v.as_ref()) != Some("false")
}

/// A running pod without a proxy that the injector would give one on a restart, were its
/// namespace labelled: not opting out, not a mirror pod, not finished.
pub(crate) fn injectable_without_proxy(p: &PodSummary) -> bool {
    !p.has_proxy
        && p.injected_revision.is_none()
        && !p.mirror
        && !p.deleting
        && !finished(p)
        && p.labels.get(keys::SIDECAR_INJECT).map(|v| v.as_ref()) != Some("false")
        && p.labels.get(keys::DATAPLANE_MODE).map(|v| v.as_ref()) != Some("ambient")
}

/// How `kubectl drain --ignore-daemonsets` treats a pod, by [`DrainRule`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainClass {
    Mirror,
    DaemonSet,
    Evict { unmanaged: bool, empty_dir: bool },
}

pub(crate) fn drain_class(p: &PodSummary) -> DrainClass {
    let traits = PodTraits {
        controller: p.owner.as_ref().map(|o| (o.kind.as_ref(), o.name.as_ref())),
        mirror: p.mirror,
        finished: finished(p),
        empty_dir: p.has_empty_dir,
    };
    match DrainRule::of(&traits) {
        DrainRule::Mirror => DrainClass::Mirror,
        DrainRule::DaemonSet(_) => DrainClass::DaemonSet,
        DrainRule::Evict {
            local_storage,
            unmanaged,
        } => DrainClass::Evict {
            unmanaged,
            empty_dir: local_storage,
        },
    }
}

/// The node of a pod a drain refuses without `--force` or `--delete-emptydir-data`.
fn consent_node(p: &PodSummary) -> Option<Name> {
    match drain_class(p) {
        DrainClass::Evict {
            unmanaged,
            empty_dir,
        } if unmanaged || empty_dir => p.node.clone(),
        _ => None,
    }
}

fn default_rev() -> Name {
    Name::from("default")
}

/// The revision of an istiod Deployment or pod, by its `app=istiod` and `istio.io/rev` labels.
pub(crate) fn istiod_revision(labels: &Labels) -> Option<Name> {
    if labels.get(keys::APP).map(|v| v.as_ref()) != Some("istiod") {
        return None;
    }
    Some(
        labels
            .get(keys::ISTIO_REV)
            .filter(|r| !r.is_empty())
            .cloned()
            .unwrap_or_else(default_rev),
    )
}

pub(crate) fn istiod_deployment_revision(w: &WorkloadSummary) -> Option<Name> {
    istiod_revision(&w.template_labels).or_else(|| istiod_revision(&w.labels))
}

/// Labelled like a gateway: `istio=*gateway*` or installed as an Ingress/EgressGateways
/// component.
pub(crate) fn gateway_labels(labels: &Labels) -> bool {
    labels
        .get(keys::ISTIO)
        .is_some_and(|v| v.contains("gateway"))
        || labels
            .get(keys::OPERATOR_COMPONENT)
            .is_some_and(|v| matches!(v.as_ref(), "IngressGateways" | "EgressGateways"))
}

pub(crate) fn is_gateway_deployment(w: &WorkloadSummary) -> bool {
    w.kind == WorkloadKind::Deployment
        && istiod_deployment_revision(w).is_none()
        && (gateway_labels(&w.template_labels) || gateway_labels(&w.labels))
}

fn inc(n: &mut u32, add: bool) {
    if add {
        *n += 1;
    } else {
        *n = n.saturating_sub(1);
    }
}

fn set_member<T: Ord>(set: &mut BTreeSet<T>, item: T, add: bool) {
    if add {
        set.insert(item);
    } else {
        set.remove(&item);
    }
}

/// Adds `key` to or removes it from the set under `group`, dropping emptied groups.
fn group_member<K: Ord + Clone, T: Ord>(
    map: &mut BTreeMap<K, BTreeSet<T>>,
    group: &K,
    item: T,
    add: bool,
) {
    if add {
        map.entry(group.clone()).or_default().insert(item);
    } else if let Some(set) = map.get_mut(group) {
        set.remove(&item);
        if set.is_empty() {
            map.remove(group);
        }
    }
}

/// Counts `key` in or out, dropping it at zero.
pub(crate) fn tally<K: Ord + Clone>(map: &mut BTreeMap<K, u32>, key: &K, add: bool) {
    if add {
        *map.entry(key.clone()).or_default() += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// Counts one guarded pod in or out of `map[key]`, dropping emptied entries.
fn count_guarded<K: Ord + Clone>(map: &mut BTreeMap<K, Guarded>, key: &K, ready: bool, add: bool) {
    if add {
        *map.entry(key.clone()).or_default().slot(ready) += 1;
    } else if let Some(g) = map.get_mut(key) {
        let n = g.slot(ready);
        *n = n.saturating_sub(1);
        if *g == Guarded::default() {
            map.remove(key);
        }
    }
}

impl Index {
    fn node_pods(&mut self, node: &Name) -> &mut NodePods {
        self.nodes.entry(node.clone()).or_default()
    }

    fn drop_node_if_empty(&mut self, node: &Name) {
        if self.nodes.get(node).is_some_and(NodePods::is_empty) {
            self.nodes.remove(node);
        }
    }

    /// A pod's readiness moved and nothing else its aggregates read: only the counts by
    /// readiness move (proxied pods not ready, the pods each PDB guards on its node).
    fn pod_readiness(
        &mut self,
        pdbs: &BTreeMap<ObjectKey, PdbSummary>,
        id: PodId,
        p: &PodSummary,
        ready: bool,
    ) {
        if p.has_proxy {
            inc(&mut self.proxied_not_ready, !ready);
        }
        let Some(node) = p.node.as_ref().filter(|_| guarded(p)) else {
            return;
        };
        for (pdb_key, _) in in_namespace(pdbs, &p.namespace) {
            if self
                .pdb_pods
                .get(pdb_key)
                .is_some_and(|set| set.contains(&id))
            {
                self.guard(node, pdb_key, !ready, false);
                self.guard(node, pdb_key, ready, true);
            }
        }
    }

    fn guard(&mut self, node: &Name, pdb: &ObjectKey, ready: bool, add: bool) {
        count_guarded(&mut self.node_pods(node).guarded_by, pdb, ready, add);
        self.drop_node_if_empty(node);
        let nodes = self.pdb_guards.entry(pdb.clone()).or_default();
        count_guarded(nodes, node, ready, add);
        if nodes.is_empty() {
            self.pdb_guards.remove(pdb);
        }
    }

    /// Adds a Node object's contributions (or takes them away).
    fn node(&mut self, n: &NodeSummary, add: bool) {
        tally(&mut self.kubelets, &n.kubelet_version, add);
        if n.unschedulable {
            set_member(&mut self.cordoned, n.name.clone(), add);
        }
        if !n.ready {
            set_member(&mut self.not_ready_nodes, n.name.clone(), add);
        }
    }

    /// Adds a pod's contributions (or, with `add == false`, takes them away). `pdbs` is the
    /// store's PDBs; membership is tested by selector on add and read back on removal.
    fn pod(
        &mut self,
        pdbs: &BTreeMap<ObjectKey, PdbSummary>,
        (id, key): (PodId, &ObjectKey),
        p: &PodSummary,
        add: bool,
    ) {
        if let Some(node) = &p.node {
            let np = self.node_pods(node);
            set_member(&mut np.pods, id, add);
            match drain_class(p) {
                DrainClass::Mirror => inc(&mut np.mirror, add),
                DrainClass::DaemonSet => inc(&mut np.daemonset, add),
                DrainClass::Evict {
                    unmanaged,
                    empty_dir,
                } => {
                    inc(&mut np.evict, add);
                    if unmanaged {
                        set_member(&mut np.unmanaged, id, add);
                    }
                    if empty_dir {
                        set_member(&mut np.empty_dir, id, add);
                    }
                }
            }
        }

        let ns = self.namespaces.entry(p.namespace.clone()).or_default();
        inc(&mut ns.pods, add);
        if let Some(rev) = &p.injected_revision {
            inc(&mut ns.injected, add);
            if restartable(p) {
                group_member(&mut ns.restartable, rev, id, add);
            }
        }
        if injectable_without_proxy(p) {
            set_member(&mut ns.without_proxy, id, add);
        }
        if p.mesh_role == MeshRole::Ztunnel
            && let Some(node) = &p.node
        {
            group_member(&mut self.ztunnels, node, key.clone(), add);
        }
        if ns.pods == 0 {
            self.namespaces.remove(&p.namespace);
        }

        if let Some(rev) = &p.injected_revision {
            tally(&mut self.revision_pods, rev, add);
            if let Some(v) = &p.proxy_version {
                let versions = self.revision_proxy_versions.entry(rev.clone()).or_default();
                let n = versions.entry(v.clone()).or_default();
                inc(n, add);
                if *n == 0 {
                    versions.remove(v);
                }
                if versions.is_empty() {
                    self.revision_proxy_versions.remove(rev);
                }
            }
        }
        if let Some(rev) = istiod_revision(&p.labels) {
            group_member(&mut self.istiod_pods, &rev, key.clone(), add);
        }
        if p.has_proxy {
            inc(&mut self.proxied, add);
            if !p.ready {
                inc(&mut self.proxied_not_ready, add);
            }
            let version = p.proxy_version.as_ref().or(p.istiod_version.as_ref());
            tally(&mut self.proxied_versions, &version.cloned(), add);
        }

        for (pdb_key, pdb) in in_namespace(pdbs, &p.namespace) {
            let member = if add {
                let selected = pdb.selector.matches(&p.labels);
                if selected {
                    self.pdb_pods.entry(pdb_key.clone()).or_default().insert(id);
                    self.unselective_pdbs.remove(pdb_key);
                }
                selected
            } else {
                let (member, none_left) = self
                    .pdb_pods
                    .get_mut(pdb_key)
                    .map_or((false, false), |set| (set.remove(&id), set.is_empty()));
                if member && none_left {
                    self.unselective_pdbs.insert(pdb_key.clone());
                }
                member
            };
            if member
                && guarded(p)
                && let Some(node) = &p.node
            {
                self.guard(node, pdb_key, p.ready, add);
            }
        }
        if let Some(node) = &p.node {
            self.drop_node_if_empty(node);
        }
    }

    /// Adds a PDB's selection (scanning its namespace's pods) or takes it away.
    fn pdb(&mut self, pods: &Pods, key: &ObjectKey, pdb: &PdbSummary, add: bool) {
        if add {
            let selected: BTreeSet<PodId> = pods
                .ids_in_namespace(&pdb.namespace)
                .filter(|&id| pods.labels(id).is_some_and(|l| pdb.selector.matches(l)))
                .collect();
            for &id in &selected {
                if let Some(p) = pods.summary(id).filter(guarded)
                    && let Some(node) = &p.node
                {
                    self.guard(node, key, p.ready, true);
                }
            }
            set_member(&mut self.unselective_pdbs, key.clone(), selected.is_empty());
            set_member(
                &mut self.noted_pdbs,
                key.clone(),
                pdb.disruptions_allowed <= 0 || pdb.relaxed_from.is_some(),
            );
            self.pdb_pods.insert(key.clone(), selected);
        } else {
            self.unselective_pdbs.remove(key);
            self.noted_pdbs.remove(key);
            let Some(selected) = self.pdb_pods.remove(key) else {
                return;
            };
            for &id in &selected {
                if let Some(p) = pods.summary(id).filter(guarded)
                    && let Some(node) = &p.node
                {
                    self.guard(node, key, p.ready, false);
                }
            }
        }
    }

    fn deployment(&mut self, key: &ObjectKey, w: &WorkloadSummary, add: bool) {
        if w.kind != WorkloadKind::Deployment {
            return;
        }
        if let Some(rev) = istiod_deployment_revision(w) {
            group_member(&mut self.istiod_deployments, &rev, key.clone(), add);
        }
        if is_gateway_deployment(w) {
            set_member(&mut self.gateway_deployments, key.clone(), add);
        }
        if super::facts::revisions::is_legacy_component(w) {
            set_member(&mut self.legacy_components, key.clone(), add);
        }
    }

    fn service(&mut self, key: &ObjectKey, s: &ServiceSummary, add: bool) {
        for port in s.ports.iter().filter_map(|p| p.node_port) {
            group_member(&mut self.node_ports, &port, key.clone(), add);
        }
    }
}

/// Replaces `map[key]` with `value`; false if it was already equal.
fn replace<K: Ord, V: PartialEq>(map: &mut BTreeMap<K, V>, key: K, value: V) -> bool {
    if map.get(&key) == Some(&value) {
        return false;
    }
    map.insert(key, value);
    true
}

impl Store {
    fn workloads(&self, kind: WorkloadKind) -> &BTreeMap<ObjectKey, WorkloadSummary> {
        match kind {
            WorkloadKind::Deployment => &self.deployments,
            WorkloadKind::ReplicaSet => &self.replica_sets,
            WorkloadKind::StatefulSet => &self.stateful_sets,
            WorkloadKind::DaemonSet => &self.daemon_sets,
        }
    }

    /// Keeps `index.needs_consent` in step for one node, after its pods or its object
    /// changed.
    fn refresh_consent(&mut self, node: &Name) {
        let needs = self.nodes.contains_key(node)
            && self
                .index
                .nodes
                .get(node)
                .is_some_and(NodePods::needs_consent);
        set_member(&mut self.index.needs_consent, node.clone(), needs);
    }

    fn workloads_mut(&mut self, kind: WorkloadKind) -> &mut BTreeMap<ObjectKey, WorkloadSummary> {
        match kind {
            WorkloadKind::Deployment => &mut self.deployments,
            WorkloadKind::ReplicaSet => &mut self.replica_sets,
            WorkloadKind::StatefulSet => &mut self.stateful_sets,
            WorkloadKind::DaemonSet => &mut self.daemon_sets,
        }
    }

    /// Adds or replaces an object; true if anything changed.
    pub fn upsert(&mut self, object: Object) -> bool {
        let key = key_of(&object);
        match object {
            Object::Namespace(n) => replace(&mut self.namespaces, key.name, n),
            Object::Node(n) => {
                if self.nodes.get(&key.name) == Some(&n) {
                    return false;
                }
                if let Some(old) = self.nodes.remove(&key.name) {
                    self.index.node(&old, false);
                }
                self.index.node(&n, true);
                self.nodes.insert(key.name.clone(), n);
                self.refresh_consent(&key.name);
                true
            }
            Object::WebhookConfig(w) => replace(&mut self.webhooks, key.name, w),
            Object::Hpa(h) => replace(&mut self.hpas, key, h),
            Object::ConfigMap(c) => replace(&mut self.config_maps, key, c),
            Object::IstioOperator(o) => replace(&mut self.iops, key, o),
            Object::IstioGateway(g) => replace(&mut self.istio_gateways, key, g),
            Object::KubeGateway(g) => replace(&mut self.kube_gateways, key, g),
            Object::Pod(p) => {
                let held = self.pods.id(&key);
                if let Some(id) = held {
                    match self.pods.change(id, &p) {
                        Change::None => return false,
                        // What most updates are (a restart counted, a status worded
                        // anew): nothing the aggregates or the lines read moved, so only
                        // the row is replaced, in place.
                        Change::Shown => {
                            self.pods.replace(id, &p);
                            return true;
                        }
                        // A readiness flip: its counts move, the row is replaced in place.
                        Change::Readiness => {
                            if istiod_pod(&p) {
                                self.istiod_pods_moved += 1;
                            }
                            self.index.pod_readiness(&self.pdbs, id, &p, p.ready);
                            self.pods.replace(id, &p);
                            return true;
                        }
                        Change::Other => {}
                    }
                }
                let old = held.and_then(|id| self.pods.summary(id).map(|old| (id, old)));
                if istiod_pod(&p) || old.as_ref().is_some_and(|(_, o)| istiod_pod(o)) {
                    self.istiod_pods_moved += 1;
                }
                let id = match &old {
                    Some((id, old)) => {
                        self.index.pod(&self.pdbs, (*id, &key), old, false);
                        self.pods.replace(*id, &p);
                        *id
                    }
                    None => self.pods.insert(&p),
                };
                self.index.pod(&self.pdbs, (id, &key), &p, true);
                let old = old.map(|(_, old)| old);
                self.sync
                    .pod_changed((id, &key), old.as_ref(), Some(&p), &self.pods);
                // Only a pod that needs consent, coming, going or moving, changes its node's.
                let before = old.as_ref().and_then(consent_node);
                let after = consent_node(&p);
                if before != after {
                    if let Some(node) = &before {
                        self.refresh_consent(node);
                    }
                    // A node that needs consent still does with one pod more.
                    if let Some(node) = &after
                        && !self.index.needs_consent.contains(node)
                    {
                        self.refresh_consent(node);
                    }
                }
                true
            }
            Object::Pdb(pdb) => {
                let old = match self.pdbs.get(&key) {
                    Some(old) if *old == pdb => return false,
                    Some(old) => Some(old.selector.clone()),
                    None => None,
                };
                match old {
                    // Only the status moved: the selection stands.
                    Some(selector) if selector == pdb.selector => {}
                    Some(_) => {
                        self.index.pdb(&self.pods, &key, &pdb, false);
                        self.index.pdb(&self.pods, &key, &pdb, true);
                    }
                    None => self.index.pdb(&self.pods, &key, &pdb, true),
                }
                self.pdbs.insert(key, pdb);
                true
            }
            Object::Workload(w) => {
                let kind = w.kind;
                if self.workloads(kind).get(&key) == Some(&w) {
                    return false;
                }
                if let Some(old) = self.workloads_mut(kind).remove(&key) {
                    self.index.deployment(&key, &old, false);
                }
                self.index.deployment(&key, &w, true);
                self.workloads_mut(kind).insert(key, w);
                true
            }
            Object::Service(s) => {
                if self.services.get(&key) == Some(&s) {
                    return false;
                }
                if let Some(old) = self.services.remove(&key) {
                    self.index.service(&key, &old, false);
                }
                self.index.service(&key, &s, true);
                self.services.insert(key, s);
                true
            }
        }
    }

    /// Removes an object; true if it was there.
    pub fn remove(&mut self, kind: Kind, key: &ObjectKey) -> bool {
        match kind {
            Kind::Namespace => self.namespaces.remove(&key.name).is_some(),
            Kind::Node => match self.nodes.remove(&key.name) {
                Some(old) => {
                    self.index.node(&old, false);
                    self.refresh_consent(&key.name);
                    true
                }
                None => false,
            },
            Kind::WebhookConfig => self.webhooks.remove(&key.name).is_some(),
            Kind::Hpa => self.hpas.remove(key).is_some(),
            Kind::ConfigMap => self.config_maps.remove(key).is_some(),
            Kind::IstioOperator => self.iops.remove(key).is_some(),
            Kind::IstioGateway => self.istio_gateways.remove(key).is_some(),
            Kind::KubeGateway => self.kube_gateways.remove(key).is_some(),
            Kind::Pod => match self
                .pods
                .id(key)
                .and_then(|id| Some((id, self.pods.summary(id)?)))
            {
                Some((id, old)) => {
                    if istiod_pod(&old) {
                        self.istiod_pods_moved += 1;
                    }
                    self.index.pod(&self.pdbs, (id, key), &old, false);
                    // Before the pod leaves `pods`: its proxy's line is found by its name.
                    self.sync
                        .pod_changed((id, key), Some(&old), None, &self.pods);
                    self.pods.remove(id);
                    if let Some(node) = consent_node(&old) {
                        self.refresh_consent(&node);
                    }
                    true
                }
                None => false,
            },
            Kind::Pdb => match self.pdbs.remove(key) {
                Some(old) => {
                    self.index.pdb(&self.pods, key, &old, false);
                    true
                }
                None => false,
            },
            Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet | Kind::DaemonSet => {
                let wk = match kind {
                    Kind::Deployment => WorkloadKind::Deployment,
                    Kind::ReplicaSet => WorkloadKind::ReplicaSet,
                    Kind::StatefulSet => WorkloadKind::StatefulSet,
                    _ => WorkloadKind::DaemonSet,
                };
                match self.workloads_mut(wk).remove(key) {
                    Some(old) => {
                        self.index.deployment(key, &old, false);
                        true
                    }
                    None => false,
                }
            }
            Kind::Service => match self.services.remove(key) {
                Some(old) => {
                    self.index.service(key, &old, false);
                    true
                }
                None => false,
            },
        }
    }

    fn keys(&self, kind: Kind) -> Vec<ObjectKey> {
        fn cluster<T>(map: &BTreeMap<Name, T>) -> Vec<ObjectKey> {
            map.keys()
                .map(|name| ObjectKey {
                    namespace: empty(),
                    name: name.clone(),
                })
                .collect()
        }
        fn namespaced<T>(map: &BTreeMap<ObjectKey, T>) -> Vec<ObjectKey> {
            map.keys().cloned().collect()
        }
        match kind {
            Kind::Namespace => cluster(&self.namespaces),
            Kind::Node => cluster(&self.nodes),
            Kind::WebhookConfig => cluster(&self.webhooks),
            Kind::Pod => self.pods.keys().collect(),
            Kind::Deployment => namespaced(&self.deployments),
            Kind::ReplicaSet => namespaced(&self.replica_sets),
            Kind::StatefulSet => namespaced(&self.stateful_sets),
            Kind::DaemonSet => namespaced(&self.daemon_sets),
            Kind::Service => namespaced(&self.services),
            Kind::Hpa => namespaced(&self.hpas),
            Kind::Pdb => namespaced(&self.pdbs),
            Kind::ConfigMap => namespaced(&self.config_maps),
            Kind::IstioOperator => namespaced(&self.iops),
            Kind::IstioGateway => namespaced(&self.istio_gateways),
            Kind::KubeGateway => namespaced(&self.kube_gateways),
        }
    }

    /// Replaces every object of a kind: those not listed are removed. Objects of another
    /// kind in the list are ignored.
    pub fn relist(&mut self, kind: Kind, objects: Vec<Object>) -> bool {
        // The last part: then whatever neither it nor the parts before it held is gone.
        let mut changed = self.relist_part(kind, objects);
        let listed = self.relisting.remove(&kind).unwrap_or_default();
        for key in self.keys(kind) {
            if !listed.contains(&key) {
                changed |= self.remove(kind, &key);
            }
        }
        changed
    }

    /// Objects of a relist still being read: upserted now, and remembered so that the
    /// relist's end keeps them.
    pub fn relist_part(&mut self, kind: Kind, objects: Vec<Object>) -> bool {
        let mut listed = self.relisting.remove(&kind).unwrap_or_default();
        let mut changed = false;
        for o in objects.into_iter().filter(|o| Kind::of(o) == kind) {
            listed.insert(key_of(&o));
            changed |= self.upsert(o);
        }
        self.relisting.insert(kind, listed);
        changed
    }

    /// An unfinished relist's parts are forgotten (what they applied stays until the next
    /// relist ends).
    pub fn relist_abandoned(&mut self, kind: Kind) -> bool {
        self.relisting.remove(&kind);
        false
    }

    /// Moves when an istiod pod comes, changes or goes.
    pub fn istiod_pods_moved(&self) -> u64 {
        self.istiod_pods_moved
    }

    /// Pods of a namespace matching a selector (a Service's or a Deployment's).
    pub fn pods_matching<'a>(
        &'a self,
        namespace: &Name,
        selector: &'a Selector,
    ) -> impl Iterator<Item = PodSummary> + 'a {
        self.pods
            .ids_in_namespace(namespace)
            .filter(|&id| self.pods.labels(id).is_some_and(|l| selector.matches(l)))
            .filter_map(|id| self.pods.summary(id))
    }
}
