//! PodDisruptionBudgets as `kubectl get pdb` shows them, with the pods each selects and the
//! nodes whose drain it would block now.

use std::collections::BTreeSet;

use super::super::intern::Name;
use super::super::store::{Store, guarded};
use super::super::summary::PdbSummary;
use super::{PdbRow, SelectedPod};

/// Whether evicting a pod guarded by `pdb` is refused now. A PDB allowing no disruption
/// refuses ready pods; a not-ready pod may still go while the healthy pods suffice
/// (policy/v1's eviction of unhealthy pods).
pub(crate) fn blocks(pdb: &PdbSummary, pod_ready: bool) -> bool {
    pdb.disruptions_allowed <= 0 && (pod_ready || pdb.current_healthy < pdb.desired_healthy)
}

pub(crate) fn row(store: &Store, pdb: &PdbSummary) -> PdbRow {
    let key = super::super::summary::ObjectKey {
        namespace: pdb.namespace.clone(),
        name: pdb.name.clone(),
    };
    let selected = store.pods.in_order(
        store
            .index
            .pdb_pods
            .get(&key)
            .into_iter()
            .flatten()
            .copied(),
    );
    let blocks_nodes: BTreeSet<Name> = if pdb.disruptions_allowed <= 0 {
        selected
            .iter()
            .filter(|p| guarded(p) && blocks(pdb, p.ready))
            .filter_map(|p| p.node.clone())
            .collect()
    } else {
        BTreeSet::new()
    };
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
        blocks_nodes: blocks_nodes.into_iter().collect(),
        relaxed: pdb.relaxed_from.is_some(),
    }
}

pub(crate) fn rows(store: &Store) -> Vec<PdbRow> {
    store.pdbs.values().map(|p| row(store, p)).collect()
}
