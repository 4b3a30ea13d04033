//! The mesh model: compact summaries of what the watches report, aggregates kept up to date
//! incrementally, and the facts the views show. Pure: no IO, no clock reads, no tokio, no
//! kube::Api, no ratatui. Time arrives inside events.
//!
//! - `project`: Kubernetes objects → summaries (`summary`), sharing strings (`intern`).
//! - `store`: the summaries per kind and the aggregates (per node, namespace, revision, PDB).
//! - `facts`: the rows each view shows and the findings, computed from the aggregates, so a
//!   frame costs the same at 50 pods and at 100,000.

pub mod event;
pub mod facts;
#[cfg(test)]
pub mod fixture;
pub mod intern;
pub mod labels;
pub mod project;
mod store;
pub mod summary;
pub mod sync;
pub mod syncz;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

pub use event::{ClusterEvent, Kind, SourceState, Stamped};
pub use facts::nodes::{BlockedDrains, NodeLines};
pub use facts::proxies::ProxyLines;
pub use facts::{
    DrainCounts, DrainPreflight, Finding, FindingKind, FindingObject, GatewayRow, NamespaceRow,
    NodeFacts, NodeLine, NodeRow, PdbRow, ProxiedPods, ProxyConnection, ProxyLine, ProxyName,
    ProxyRow, ProxySummary, ReplicaRow, RevisionRow, Severity, SyncTotals,
};
pub use intern::Name;
pub use store::ranked::RowChange;
pub use summary::{Object, ObjectKey, PodSummary};

use facts::revisions::RevisionMap;
use store::{DrainClass, Store, drain_class};
use summary::{
    IstioOperatorSummary, NamespaceSummary, NodeSummary, PdbSummary, WorkloadKind, WorkloadSummary,
};

/// The model the UI loop owns.
#[derive(Debug, Default)]
pub struct Model {
    sources: BTreeMap<Kind, SourceState>,
    server_version: Option<String>,
    last_event: Option<Timestamp>,
    generation: u64,
    /// Moves with `generation`, except for pod changes: those move only the lines they
    /// change (`Store::sync`'s log), or, for istiod's own pods, every line.
    proxy_generation: u64,
    /// Moves with `generation`, except for istiod's answers: what the watched objects alone
    /// make (the Disruption view's budgets) is not built again when a large mesh's answer
    /// arrives.
    object_generation: u64,
    /// The summaries and aggregates, with the latest `/debug/syncz` answer of each istiod
    /// replica (`store.sync`).
    store: Store,
    /// `-n`: the namespace the lists show. Facts (drains, the control plane) still count
    /// every namespace the watches see.
    focus: Option<Name>,
    /// Since when each source in Error has been failing.
    failing_since: BTreeMap<Kind, Timestamp>,
    /// The facts the views read whole, as of the generation they were built for: a frame
    /// with nothing changed (a key press, the clock) reads them again for a copy.
    memo: Memo,
}

/// One fact's rows and the generation they were built for.
#[derive(Debug)]
struct Memoized<T>(std::sync::Mutex<Option<(u64, T)>>);

impl<T> Default for Memoized<T> {
    fn default() -> Self {
        Self(std::sync::Mutex::new(None))
    }
}

impl<T: Clone> Memoized<T> {
    /// The rows built for `generation`, building them if they are not.
    fn get(&self, generation: u64, build: impl FnOnce() -> T) -> T {
        // A poisoned lock only means a build panicked: build again.
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*slot {
            Some((g, rows)) if *g == generation => rows.clone(),
            _ => {
                let rows = build();
                *slot = Some((generation, rows.clone()));
                rows
            }
        }
    }
}

#[derive(Debug, Default)]
struct Memo {
    revisions: Memoized<Vec<RevisionRow>>,
    gateways: Memoized<Vec<GatewayRow>>,
    disruption: Memoized<Vec<PdbRow>>,
    namespaces: Memoized<Vec<NamespaceRow>>,
    findings: Memoized<Vec<Finding>>,
    /// As of `proxy_generation`: they read only istiod's answers.
    out_of_sync: Memoized<std::sync::Arc<[Finding]>>,
}

fn key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        namespace: Name::from(namespace),
        name: Name::from(name),
    }
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows only `namespace`'s objects in the lists (`-n`); `None`: every namespace.
    pub fn set_focus(&mut self, namespace: Option<&str>) {
        self.focus = namespace.map(Name::from);
        self.generation += 1;
        self.proxy_generation += 1;
        self.object_generation += 1;
    }

    /// The namespace the lists show, if one.
    pub fn focus(&self) -> Option<&Name> {
        self.focus.as_ref()
    }

    /// Whether a namespaced object's row belongs in the lists.
    pub fn in_focus(&self, namespace: &str) -> bool {
        self.focus.as_ref().is_none_or(|f| f.as_ref() == namespace)
    }

    /// Is the first list of `kind` still being read (its source has not answered yet)?
    pub fn listing(&self, kind: Kind) -> bool {
        self.sources
            .get(&kind)
            .is_none_or(|s| matches!(s, SourceState::Syncing))
    }

    /// Why a kind's objects may be missing from the model: its source is not listed in
    /// full. `None`: what the model holds is what the cluster has.
    pub fn unseen(&self, kind: Kind) -> Option<String> {
        let resource = kind.resource();
        match self.sources.get(&kind) {
            Some(SourceState::Ready) => None,
            None | Some(SourceState::Syncing) => Some(format!("{resource}: still being listed")),
            Some(SourceState::Forbidden(m)) => Some(format!("{resource}: forbidden: {m}")),
            Some(SourceState::Partial(m)) => Some(format!("{resource}: {m}")),
            Some(SourceState::Error(m)) => Some(format!("{resource}: not readable: {m}")),
            Some(SourceState::Absent) => Some(format!("{resource}: not served by this cluster")),
        }
    }

    /// Since when, and why, the API server does not answer the watches of namespaces, nodes
    /// or pods: every row shown is then as last seen. `None`: they are listed and watched.
    pub fn disconnected(&self) -> Option<(Timestamp, &str)> {
        [Kind::Namespace, Kind::Node, Kind::Pod]
            .iter()
            .filter_map(|kind| match self.sources.get(kind) {
                Some(SourceState::Error(m)) => Some((*self.failing_since.get(kind)?, m.as_str())),
                _ => None,
            })
            .min_by_key(|(since, _)| *since)
    }

    /// Why drain answers (blocked nodes, what a drain evicts, the budgets in its way) cannot
    /// be known now: a source they need is not listed in full. `None`: they can.
    pub fn drain_unknown(&self) -> Option<String> {
        [Kind::Node, Kind::Pod, Kind::Pdb].iter().find_map(|kind| {
            let resource = kind.resource();
            match self.sources.get(kind) {
                Some(SourceState::Ready) => None,
                None | Some(SourceState::Syncing) => Some(format!("{resource} still being listed")),
                Some(SourceState::Forbidden(m)) => Some(format!("{resource} forbidden: {m}")),
                Some(SourceState::Partial(m)) => Some(format!("{resource}: {m}")),
                Some(SourceState::Error(m)) => Some(format!("{resource} not readable: {m}")),
                Some(SourceState::Absent) => Some(format!("{resource} not served")),
            }
        })
    }

    /// Applies one event. The generation moves only if something changed.
    pub fn apply(&mut self, stamped: Stamped) {
        self.last_event = Some(stamped.at);
        let pod_event = matches!(
            &stamped.event,
            ClusterEvent::Applied(Object::Pod(_)) | ClusterEvent::Deleted(Kind::Pod, _)
        );
        let istiod_pods = self.store.istiod_pods_moved();
        let answer = matches!(
            &stamped.event,
            ClusterEvent::ProxySync(_)
                | ClusterEvent::ProxySyncUnchanged { .. }
                | ClusterEvent::ProxySyncGone { .. }
        );
        let changed = match stamped.event {
            ClusterEvent::Source(kind, state) => {
                if matches!(state, SourceState::Error(_)) {
                    self.failing_since.entry(kind).or_insert(stamped.at);
                } else {
                    self.failing_since.remove(&kind);
                }
                self.sources.insert(kind, state.clone()) != Some(state)
            }
            ClusterEvent::Server { git_version } => {
                let changed = self.server_version.as_deref() != Some(git_version.as_str());
                self.server_version = Some(git_version);
                changed
            }
            ClusterEvent::Applied(object) => self.store.upsert(object),
            ClusterEvent::Deleted(kind, key) => self.store.remove(kind, &key),
            ClusterEvent::Relisted(kind, objects) => self.store.relist(kind, objects),
            ClusterEvent::RelistPart(kind, objects) => self.store.relist_part(kind, objects),
            ClusterEvent::RelistAbandoned(kind) => self.store.relist_abandoned(kind),
            ClusterEvent::ProxySync(replica) => {
                let store = &mut self.store;
                store.sync.answer(replica, stamped.at, &store.pods)
            }
            ClusterEvent::ProxySyncUnchanged { namespace, istiod } => {
                let key = ObjectKey {
                    namespace,
                    name: istiod,
                };
                self.store.sync.answered_again(&key, stamped.at)
            }
            ClusterEvent::ProxySyncGone { namespace, istiod } => {
                let store = &mut self.store;
                let key = ObjectKey {
                    namespace,
                    name: istiod,
                };
                store.sync.forget(&key, &store.pods)
            }
        };
        if changed {
            self.generation += 1;
            if !answer {
                self.object_generation += 1;
            }
            if !pod_event || self.store.istiod_pods_moved() != istiod_pods {
                self.proxy_generation += 1;
            }
        }
    }

    /// The latest sync answer of each istiod replica, by namespace and pod, without its
    /// proxies (the model keeps those packed: `proxies()`, `proxy()`, `proxy_lines()`).
    pub fn sync_replicas(&self) -> &BTreeMap<ObjectKey, sync::ReplicaSync> {
        &self.store.sync.replicas
    }

    /// Every proxy istiod reports, joined with its pod, and every running pod with a proxy
    /// that no replica reports; by proxy name (`<pod>.<namespace>`), as istioctl sorts.
    /// Empty until some istiod replica has been heard from.
    pub fn proxies(&self) -> Vec<ProxyRow> {
        facts::proxies::rows(&self.store)
    }

    /// The Proxies view's lines, in the same order as `proxies()`, kept as pods and answers
    /// arrive: reading a page of them costs the same at 50 and at 100,000 proxies.
    pub fn proxy_lines(&self) -> ProxyLines<'_> {
        ProxyLines::new(&self.store)
    }

    /// Does any node run a ztunnel (the mesh runs ambient)?
    pub fn has_ztunnels(&self) -> bool {
        !self.store.index.ztunnels.is_empty()
    }

    /// One proxy's row, by its pod.
    pub fn proxy(&self, namespace: &str, pod: &str) -> Option<ProxyRow> {
        facts::proxies::row(&self.store, &key(namespace, pod))
    }

    /// Proxy totals per state and per revision, and how each istiod replica answered.
    pub fn proxy_summary(&self) -> ProxySummary {
        facts::proxies::summary(&self.store)
    }

    /// Bumps on every change; a view redraws when it moved.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Bumps on every change of what the Proxies view's lines read as a whole (istiod's
    /// answers and pods, the revisions, `-n`), but not on a pod change: that moves at most
    /// its own line (`proxy_lines_moved`, `proxy_line_changes`), and the view's arranged
    /// rows (`x`, `/`, a sort) are patched with it rather than arranged again.
    pub fn proxy_generation(&self) -> u64 {
        self.proxy_generation
    }

    /// Moves with every change of a line of the Proxies view.
    pub fn proxy_lines_moved(&self) -> u64 {
        self.store.sync.lines_moved
    }

    /// How the Proxies view's lines moved, by position, since `proxy_lines_moved()` was
    /// `since`; `None` when that is no longer known.
    pub fn proxy_line_changes(&self, since: u64) -> Option<Vec<RowChange>> {
        self.store.sync.line_changes(since)
    }

    pub fn sources(&self) -> &BTreeMap<Kind, SourceState> {
        &self.sources
    }

    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    pub fn last_event(&self) -> Option<Timestamp> {
        self.last_event
    }

    /// Every control-plane revision, by name.
    pub fn revisions(&self) -> Vec<RevisionRow> {
        self.memo.revisions.get(self.generation, || {
            facts::revisions::rows(&self.store, &RevisionMap::of(&self.store))
        })
    }

    /// Every gateway Deployment, by namespace and name.
    pub fn gateways(&self) -> Vec<GatewayRow> {
        self.memo
            .gateways
            .get(self.generation, || facts::gateways::rows(&self.store))
    }

    /// Every PodDisruptionBudget, by namespace and name.
    pub fn disruption(&self) -> Vec<PdbRow> {
        let mut rows = self.memo.disruption.get(self.object_generation, || {
            facts::disruption::rows(&self.store)
        });
        if self.drain_unknown().is_some() {
            for r in &mut rows {
                r.blocks_unknown = true;
            }
        }
        rows
    }

    /// Every node, by name, naming the pods a drain needs consent for.
    pub fn nodes(&self) -> Vec<NodeRow> {
        let mut rows = facts::nodes::rows(&self.store);
        if let Some(why) = self.drain_unknown() {
            for r in &mut rows {
                r.preflight = DrainPreflight::Unknown { why: why.clone() };
            }
        }
        rows
    }

    /// One node's row, naming the pods a drain needs consent for: what `nodes()` has for
    /// it, without building the others.
    pub fn node_row(&self, name: &str) -> Option<NodeRow> {
        let newest = facts::nodes::newest_kubelet(&self.store).map(|(v, _)| v);
        let n = self.store.nodes.get(name)?;
        let mut row = facts::nodes::row(&self.store, n, newest);
        if let Some(why) = self.drain_unknown() {
            row.preflight = DrainPreflight::Unknown { why };
        }
        Some(row)
    }

    /// The Nodes view's lines, by name: the pre-flight in numbers, built per line asked for.
    pub fn node_lines(&self) -> NodeLines<'_> {
        NodeLines::new(&self.store, self.drain_unknown())
    }

    /// How many Node objects the model holds.
    pub fn node_count(&self) -> usize {
        self.store.nodes.len()
    }

    /// The nodes whose drain would be refused now, by name.
    pub fn blocked_drains(&self) -> BlockedDrains<'_> {
        BlockedDrains::new(&self.store)
    }

    /// Cordoned nodes, by name.
    pub fn cordoned_nodes(&self) -> impl Iterator<Item = &Name> + '_ {
        self.store.index.cordoned.iter()
    }

    /// How many nodes run a kubelet behind the newest.
    pub fn skewed_kubelets(&self) -> u32 {
        facts::nodes::skewed_kubelets(&self.store)
    }

    /// Every namespace, by name.
    pub fn namespaces(&self) -> Vec<NamespaceRow> {
        self.memo.namespaces.get(self.generation, || {
            facts::namespaces::rows(&self.store, &RevisionMap::of(&self.store))
        })
    }

    /// Everything worth a look, errors first.
    pub fn findings(&self) -> Vec<Finding> {
        self.memo.findings.get(self.generation, || {
            let out_of_sync = self.memo.out_of_sync.get(self.proxy_generation, || {
                facts::proxies::out_of_sync(&self.store).into()
            });
            facts::findings::all(&self.store, &self.sources, &out_of_sync)
        })
    }

    /// Every pod, by namespace then name.
    pub fn pods(&self) -> Vec<PodSummary> {
        self.store.pods.values().collect()
    }

    /// The pods scheduled on a node, by namespace then name.
    pub fn pods_on_node(&self, node: &str) -> Vec<PodSummary> {
        let ids = self
            .store
            .index
            .nodes
            .get(node)
            .into_iter()
            .flat_map(|n| n.pods.iter());
        self.store.pods.in_order(ids.copied())
    }

    pub fn pods_in_namespace(&self, namespace: &str) -> Vec<PodSummary> {
        self.store.pods.in_namespace(namespace).collect()
    }

    /// Pods with a proxy in numbers: what `proxied_pods()` adds up to, without the pods.
    pub fn proxied_counts(&self) -> ProxiedPods {
        let index = &self.store.index;
        ProxiedPods {
            pods: index.proxied as usize,
            not_ready: index.proxied_not_ready,
            versions: index.proxied_versions.clone(),
        }
    }

    /// Pods with a proxy (sidecars and gateways), by namespace then name: a scan of every
    /// pod (`proxied_counts()` is what a frame reads).
    pub fn proxied_pods(&self) -> Vec<PodSummary> {
        self.store.pods.values().filter(|p| p.has_proxy).collect()
    }

    // --- lookups for drill-downs and actions ---------------------------------------------

    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodSummary> {
        self.store.pods.get(&key(namespace, name))
    }

    pub fn node(&self, name: &str) -> Option<&NodeSummary> {
        self.store.nodes.get(name)
    }

    pub fn namespace(&self, name: &str) -> Option<&NamespaceSummary> {
        self.store.namespaces.get(name)
    }

    pub fn pdb(&self, namespace: &str, name: &str) -> Option<&PdbSummary> {
        self.store.pdbs.get(&key(namespace, name))
    }

    /// A Deployment, ReplicaSet, StatefulSet or DaemonSet.
    pub fn workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> Option<&WorkloadSummary> {
        let k = key(namespace, name);
        match kind {
            WorkloadKind::Deployment => self.store.deployments.get(&k),
            WorkloadKind::ReplicaSet => self.store.replica_sets.get(&k),
            WorkloadKind::StatefulSet => self.store.stateful_sets.get(&k),
            WorkloadKind::DaemonSet => self.store.daemon_sets.get(&k),
        }
    }

    pub fn istio_operators(&self) -> Vec<&IstioOperatorSummary> {
        self.store.iops.values().collect()
    }

    /// Every namespace's name, in order.
    pub fn namespace_names(&self) -> impl Iterator<Item = &Name> + '_ {
        self.store.namespaces.keys()
    }

    /// Every Deployment, by namespace and name.
    pub fn deployments(&self) -> impl Iterator<Item = &WorkloadSummary> + '_ {
        self.store.deployments.values()
    }

    /// The istiod Deployments and the revision of each (`default` for none).
    pub fn istiod_deployments(&self) -> impl Iterator<Item = (&Name, &ObjectKey)> + '_ {
        self.store
            .index
            .istiod_deployments
            .iter()
            .flat_map(|(rev, keys)| keys.iter().map(move |k| (rev, k)))
    }

    /// The Deployments the Gateways view lists, by namespace and name.
    pub fn gateway_deployments(&self) -> impl Iterator<Item = &WorkloadSummary> + '_ {
        facts::gateways::deployments(&self.store)
    }

    /// The Services that take each node port.
    pub fn node_ports(&self) -> &BTreeMap<u16, BTreeSet<ObjectKey>> {
        &self.store.index.node_ports
    }

    /// The ConfigMaps held (only `istio-*` ones are watched), by namespace and name.
    pub fn config_maps(&self) -> impl Iterator<Item = &ObjectKey> + '_ {
        self.store.config_maps.keys()
    }

    /// Is there a ConfigMap of that name (only `istio-*` ones are watched)?
    pub fn has_config_map(&self, namespace: &str, name: &str) -> bool {
        self.store.config_maps.contains_key(&key(namespace, name))
    }

    /// Namespaces holding a ConfigMap of that name (where to copy `istio-<rev>` from).
    pub fn config_map_namespaces(&self, name: &str) -> Vec<Name> {
        self.store
            .config_maps
            .values()
            .filter(|c| c.name.as_ref() == name)
            .map(|c| c.namespace.clone())
            .collect()
    }

    /// The revision that owns `istio-injection=enabled`.
    pub fn default_revision(&self) -> Option<Name> {
        RevisionMap::of(&self.store).default
    }

    /// Revision tags and the revision each points at.
    pub fn revision_tags(&self) -> BTreeMap<Name, Name> {
        RevisionMap::of(&self.store).tags
    }

    /// Pods injected by a revision (or by a tag pointing at it), by namespace then name: a
    /// scan of every pod, for an action's plan (the model keeps only how many).
    pub fn pods_of_revision(&self, revision: &str) -> Vec<PodSummary> {
        let map = RevisionMap::of(&self.store);
        let rev = map.resolve(&Name::from(revision));
        let aliases: Vec<&Name> = map.aliases(&rev).collect();
        self.store
            .pods
            .values()
            .filter(|p| {
                p.injected_revision
                    .as_ref()
                    .is_some_and(|r| aliases.contains(&r))
            })
            .collect()
    }

    /// The proxy versions of a revision's pods, with how many run each.
    pub fn proxy_versions(&self, revision: &str) -> Vec<(Name, u32)> {
        self.store
            .index
            .revision_proxy_versions
            .get(revision)
            .map(|m| m.iter().map(|(v, n)| (v.clone(), *n)).collect())
            .unwrap_or_default()
    }

    /// The pods a PDB selects.
    pub fn pods_of_pdb(&self, namespace: &str, name: &str) -> Vec<PodSummary> {
        let ids = self.store.index.pdb_pods.get(&key(namespace, name));
        self.store.pods.in_order(ids.into_iter().flatten().copied())
    }

    /// The pods a drain of the node would evict (`--ignore-daemonsets`: DaemonSet and mirror
    /// pods stay).
    pub fn pods_to_evict(&self, node: &str) -> Vec<PodSummary> {
        self.pods_on_node(node)
            .into_iter()
            .filter(|p| matches!(drain_class(p), DrainClass::Evict { .. }))
            .collect()
    }

    /// The workloads whose pods in this namespace run another revision than the namespace
    /// selects: what a rollout restart should touch. ReplicaSets are resolved to their
    /// Deployment.
    pub fn workloads_to_restart(&self, namespace: &str) -> Vec<(WorkloadKind, Name)> {
        let Some(ns) = self.store.namespaces.get(namespace) else {
            return Vec::new();
        };
        let map = RevisionMap::of(&self.store);
        let row = facts::namespaces::row(&self.store, &map, ns);
        let mut out: Vec<(WorkloadKind, Name)> = row
            .pods_to_restart
            .iter()
            .filter_map(|pod| self.store.pods.get(&key(namespace, pod)))
            .filter_map(|p| p.owner)
            .filter_map(|o| match o.kind.as_ref() {
                "ReplicaSet" => {
                    let rs = self.store.replica_sets.get(&key(namespace, &o.name));
                    match rs.and_then(|rs| rs.owner.as_ref()) {
                        Some(d) if d.kind.as_ref() == "Deployment" => {
                            Some((WorkloadKind::Deployment, d.name.clone()))
                        }
                        _ => Some((WorkloadKind::ReplicaSet, o.name.clone())),
                    }
                }
                "StatefulSet" => Some((WorkloadKind::StatefulSet, o.name.clone())),
                "DaemonSet" => Some((WorkloadKind::DaemonSet, o.name.clone())),
                "Deployment" => Some((WorkloadKind::Deployment, o.name.clone())),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// How many pods the model holds.
    pub fn pod_count(&self) -> usize {
        self.store.pods.len()
    }
}
