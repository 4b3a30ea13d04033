//! PodDisruptionBudgets as `kubectl get pdb` shows them, with the pods each selects and the
//! nodes whose drain it would block now.

use std::collections::BTreeSet;

use super::super::intern::Name;
use super::super::store::{PodId, Store, guarded};
use super::super::summary::PdbSummary;
use super::{PdbRow, SelectedPod};

/// Whether evicting a pod guarded by `pdb` is refused now. A PDB allowing no disruption
/// refuses ready pods; a not-ready pod may still go while the healthy pods suffice
/// (policy/v1's eviction of unhealthy pods).
pub(crate) fn blocks(pdb: &PdbSummary, pod_ready: bool) -> bool {
    pdb.disruptions_allowed <= 0 && (pod_ready || pdb.current_healthy < pdb.desired_healthy)
}

/// The ids of the pods `pdb` selects, from the index.
fn selected_ids<'a>(store: &'a Store, pdb: &PdbSummary) -> Option<&'a BTreeSet<PodId>> {
    let key = super::super::summary::ObjectKey {
        namespace: pdb.namespace.clone(),
        name: pdb.name.clone(),
    };
    store.index.pdb_pods.get(&key)
}

/// The pods `pdb` selects, in order.
fn selected(store: &Store, pdb: &PdbSummary) -> Vec<crate::model::summary::PodSummary> {
    store
        .pods
        .in_order(selected_ids(store, pdb).into_iter().flatten().copied())
}

/// The nodes whose drain `pdb` blocks now among its `selected` pods.
fn blocked_nodes(pdb: &PdbSummary, selected: &[crate::model::summary::PodSummary]) -> Vec<Name> {
    if pdb.disruptions_allowed > 0 {
        return Vec::new();
    }
    let nodes: BTreeSet<Name> = selected
        .iter()
        .filter(|p| guarded(p) && blocks(pdb, p.ready))
        .filter_map(|p| p.node.clone())
        .collect();
    nodes.into_iter().collect()
}

/// What the findings read of a budget: the nodes whose drain it blocks now, and whether it
/// selects any pod. The pods are read only for a budget that allows no disruption: a large
/// cluster's budgets select half its pods, and the findings are built at every change.
pub(crate) fn blocking(store: &Store, pdb: &PdbSummary) -> (Vec<Name>, bool) {
    let selects_any = selected_ids(store, pdb).is_some_and(|ids| !ids.is_empty());
    if pdb.disruptions_allowed > 0 || !selects_any {
        return (Vec::new(), selects_any);
    }
    (blocked_nodes(pdb, &selected(store, pdb)), selects_any)
}

pub(crate) fn row(store: &Store, pdb: &PdbSummary) -> PdbRow {
    let selected = selected(store, pdb);
    let blocks_nodes = blocked_nodes(pdb, &selected);
    PdbRow {
        namespace: pdb.namespace.clone(),
        name: pdb.name.clone(),
        min_available: pdb.min_available.clone(),
        max_unavailable: pdb.max_unavailable.clone(),
        allowed_disruptions: pdb.disruptions_allowed,
        current_healthy: pdb.current_healthy,
        desired_healthy: pdb.desired_healthy,
        expected_pods: pdb.expected_pods,
        pods: selected
            .iter()
            .map(|p| SelectedPod {
                name: p.name.clone(),
                node: p.node.clone(),
                ready: p.ready,
            })
            .collect(),
        blocks_nodes: blocks_nodes.into(),
        relaxed: pdb.relaxed_from.is_some(),
        blocks_unknown: false,
    }
}

pub(crate) fn rows(store: &Store) -> Vec<PdbRow> {
    store.pdbs.values().map(|p| row(store, p)).collect()
}
