//! Nodes: roles, kubelet version and skew, cordon, labels that matter, and a drain pre-flight
//! as `kubectl drain --ignore-daemonsets` would see it now.
//!
//! `rows` names every pod a drain needs consent for (`meshtop get nodes`, a node's
//! details); the Nodes view and the Overview read the pre-flight in numbers (`NodeLines`,
//! `BlockedDrains`), from counts the model keeps per node, so a frame does not grow with
//! the pods.

use std::collections::BTreeSet;

use super::super::intern::Name;
use super::super::labels::keys;
use super::super::store::{NodePods, PodId, Store};
use super::super::summary::{NodeSummary, ObjectKey};
use super::disruption::blocks;
use super::{DrainCounts, DrainPreflight, NodeFacts, NodeLine, NodeRow, ZtunnelCell};

/// `v1.15.6` → `(1, 15)`.
pub(crate) fn major_minor(version: &str) -> Option<(u32, u32)> {
    let v = version.trim_start_matches('v');
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

/// The newest kubelet among the nodes.
pub(crate) fn newest_kubelet(store: &Store) -> Option<((u32, u32), Name)> {
    store
        .index
        .kubelets
        .keys()
        .filter_map(|v| major_minor(v).map(|mm| (mm, v.clone())))
        .max()
}

/// Minor versions a kubelet is behind the newest (0 when newest, or another major).
fn minor_skew(newest: Option<(u32, u32)>, version: &str) -> u32 {
    match (newest, major_minor(version)) {
        (Some((major, newest)), Some((m, minor))) if major == m => newest.saturating_sub(minor),
        _ => 0,
    }
}

/// How many nodes run a kubelet behind the newest.
pub(crate) fn skewed_kubelets(store: &Store) -> u32 {
    let newest = newest_kubelet(store).map(|(v, _)| v);
    store
        .index
        .kubelets
        .iter()
        .filter(|(v, _)| minor_skew(newest, v) > 0)
        .map(|(_, n)| n)
        .sum()
}

/// Labels worth showing: not the `*kubernetes.io/` ones every node has.
fn shown_label(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, _)) => !prefix.ends_with("kubernetes.io"),
        None => true,
    }
}

fn key_name(k: &ObjectKey) -> String {
    format!("{}/{}", k.namespace, k.name)
}

/// `namespace/name` of some pods, by namespace then name.
fn key_names(store: &Store, pods: &BTreeSet<PodId>) -> Vec<String> {
    store.pods.names_in_order(pods.iter().copied())
}

/// The drain pre-flight in numbers: the counts kept for the node, and the PDBs guarding its
/// pods that refuse an eviction now.
pub(crate) fn counts(store: &Store, pods: Option<&NodePods>) -> DrainCounts {
    let Some(np) = pods else {
        return DrainCounts {
            pdbs: Vec::new(),
            unmanaged: 0,
            empty_dir: 0,
            evict: 0,
            daemonset_skipped: 0,
        };
    };
    let pdbs: Vec<String> = np
        .guarded_by
        .iter()
        .filter(|(k, g)| {
            store.pdbs.get(*k).is_some_and(|p| {
                (g.ready > 0 && blocks(p, true)) || (g.not_ready > 0 && blocks(p, false))
            })
        })
        .map(|(k, _)| key_name(k))
        .collect();
    DrainCounts {
        pdbs,
        unmanaged: np.unmanaged.len() as u32,
        empty_dir: np.empty_dir.len() as u32,
        evict: np.evict,
        daemonset_skipped: np.daemonset,
    }
}

pub(crate) fn preflight(store: &Store, pods: Option<&NodePods>) -> DrainPreflight {
    let c = counts(store, pods);
    match pods {
        Some(np) if c.blocked() => DrainPreflight::Blocked {
            pdbs: c.pdbs,
            unmanaged_pods: key_names(store, &np.unmanaged),
            empty_dir_pods: key_names(store, &np.empty_dir),
            evict: c.evict,
            daemonset_skipped: c.daemonset_skipped,
        },
        _ => DrainPreflight::Ok {
            evict: c.evict,
            daemonset_skipped: c.daemonset_skipped,
        },
    }
}

pub(crate) fn line(store: &Store, n: &NodeSummary, newest: Option<(u32, u32)>) -> NodeLine {
    facts(
        n,
        store,
        newest,
        counts(store, store.index.nodes.get(&n.name)),
    )
}

pub(crate) fn row(store: &Store, n: &NodeSummary, newest: Option<(u32, u32)>) -> NodeRow {
    facts(
        n,
        store,
        newest,
        preflight(store, store.index.nodes.get(&n.name)),
    )
}

fn facts<P>(
    n: &NodeSummary,
    store: &Store,
    newest: Option<(u32, u32)>,
    preflight: P,
) -> NodeFacts<P> {
    NodeFacts {
        name: n.name.clone(),
        roles: n.roles.clone(),
        kubelet_version: n.kubelet_version.clone(),
        minor_skew: minor_skew(newest, &n.kubelet_version),
        ready: n.ready,
        cordoned: n.unschedulable,
        labels: n
            .labels
            .iter()
            .filter(|(k, _)| shown_label(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        pods: store
            .index
            .nodes
            .get(&n.name)
            .map_or(0, |p| p.pods.len() as u32),
        ztunnels: ztunnels(store, &n.name),
        preflight,
    }
}

/// The ztunnel pods of a node.
pub(crate) fn ztunnels(store: &Store, node: &Name) -> Vec<ZtunnelCell> {
    store
        .index
        .ztunnels
        .get(node)
        .into_iter()
        .flatten()
        .filter_map(|k| store.pods.get(k))
        .map(|p| ZtunnelCell {
            pod: p.name.clone(),
            version: p.proxy_version.clone(),
            ready: p.ready,
            revision: p
                .injected_revision
                .clone()
                .or_else(|| p.labels.get(keys::ISTIO_REV).cloned()),
        })
        .collect()
}

pub(crate) fn rows(store: &Store) -> Vec<NodeRow> {
    let newest = newest_kubelet(store).map(|(v, _)| v);
    store
        .nodes
        .values()
        .map(|n| row(store, n, newest))
        .collect()
}

/// The Nodes view's lines, by name; each is built when asked for.
pub struct NodeLines<'m> {
    store: &'m Store,
    /// Why no line's drain answer can be known now, if so.
    unknown: Option<String>,
    nodes: Vec<&'m NodeSummary>,
    newest: Option<(u32, u32)>,
}

impl<'m> NodeLines<'m> {
    pub(crate) fn new(store: &'m Store, unknown: Option<String>) -> Self {
        NodeLines {
            store,
            unknown,
            nodes: store.nodes.values().collect(),
            newest: newest_kubelet(store).map(|(v, _)| v),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Why the drain answers are unknown, if they are.
    pub fn drain_unknown(&self) -> Option<&str> {
        self.unknown.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node at position `i`, as the model holds it.
    pub fn node(&self, i: usize) -> Option<&'m NodeSummary> {
        self.nodes.get(i).copied()
    }

    /// The line at position `i`.
    pub fn get(&self, i: usize) -> Option<NodeLine> {
        Some(line(self.store, self.node(i)?, self.newest))
    }
}

/// The nodes whose drain would be refused now (`DrainPreflight::Blocked`), by name: those
/// with pods that need consent (kept as pods come and go) and those a PDB allowing no
/// disruption guards pods on (found from the PDBs, not from the pods).
pub struct BlockedDrains<'m> {
    store: &'m Store,
    by_pdb: BTreeSet<Name>,
}

impl<'m> BlockedDrains<'m> {
    pub(crate) fn new(store: &'m Store) -> Self {
        let mut by_pdb = BTreeSet::new();
        // The budgets that allow no disruption are among the noted ones: a large cluster
        // has a budget per workload, most of them allowing one.
        for (key, pdb) in store
            .index
            .noted_pdbs
            .iter()
            .filter_map(|key| Some((key, store.pdbs.get(key)?)))
            .filter(|(_, p)| p.disruptions_allowed <= 0)
        {
            for (node, g) in store.index.pdb_guards.get(key).into_iter().flatten() {
                let refused =
                    (g.ready > 0 && blocks(pdb, true)) || (g.not_ready > 0 && blocks(pdb, false));
                if refused && store.nodes.contains_key(node) {
                    by_pdb.insert(node.clone());
                }
            }
        }
        BlockedDrains { store, by_pdb }
    }

    pub fn len(&self) -> usize {
        let consent = &self.store.index.needs_consent;
        consent.len() + self.by_pdb.difference(consent).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The blocked nodes by name, each with its pre-flight in numbers.
    pub fn iter(&self) -> impl Iterator<Item = (&'m Name, DrainCounts)> + '_ {
        let store = self.store;
        store
            .index
            .needs_consent
            .union(&self.by_pdb)
            .filter_map(move |name| self.with_counts(name))
    }

    /// How many of them a budget blocks (some may also hold pods that need consent).
    pub fn by_budget(&self) -> usize {
        self.by_pdb.len()
    }

    /// The same nodes, those a budget blocks first (a budget must change before they drain),
    /// then those whose pods only need consent (`--delete-emptydir-data`, `--force`); each
    /// part by name.
    pub fn budgets_first(&self) -> impl Iterator<Item = (&'m Name, DrainCounts)> + '_ {
        let consent_only = self.store.index.needs_consent.difference(&self.by_pdb);
        self.by_pdb
            .iter()
            .chain(consent_only)
            .filter_map(move |name| self.with_counts(name))
    }

    fn with_counts(&self, name: &Name) -> Option<(&'m Name, DrainCounts)> {
        let store = self.store;
        let (name, _) = store.nodes.get_key_value(name)?;
        Some((name, counts(store, store.index.nodes.get(name))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_labels() {
        assert_eq!(major_minor("v1.15.6"), Some((1, 15)));
        assert_eq!(major_minor("v1.30.0-eks-123"), Some((1, 30)));
        assert_eq!(major_minor("v1.29+k3s1"), Some((1, 29)));
        assert_eq!(major_minor(""), None);
        assert!(shown_label("taco-istio"));
        assert!(shown_label("example.com/pool"));
        assert!(!shown_label("kubernetes.io/hostname"));
        assert!(!shown_label("beta.kubernetes.io/arch"));
        assert!(!shown_label("node-role.kubernetes.io/master"));
        assert!(!shown_label("topology.kubernetes.io/zone"));
    }
}
