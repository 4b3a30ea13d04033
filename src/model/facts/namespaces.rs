//! Namespaces: their injection labels, the revision those select (`istio-injection` wins),
//! conflicts, and the injected pods still on another revision.

use super::super::labels::keys;
use super::super::store::Store;
use super::super::summary::NamespaceSummary;
use super::NamespaceRow;
use super::revisions::RevisionMap;

pub(crate) fn row(store: &Store, map: &RevisionMap, ns: &NamespaceSummary) -> NamespaceRow {
    let injection = ns.labels.get(keys::ISTIO_INJECTION).cloned();
    let rev_label = ns.labels.get(keys::ISTIO_REV).cloned();
    let revision = map.effective(&ns.labels);
    let pods = store.index.namespaces.get(&ns.name);
    let mut pods_to_restart = Vec::new();
    if let (Some(rev), Some(pods)) = (&revision, pods) {
        for (injected_by, names) in &pods.restartable {
            if map.resolve(injected_by) != *rev {
                pods_to_restart.extend(names.iter().cloned());
            }
        }
        pods_to_restart.sort();
    }
    NamespaceRow {
        name: ns.name.clone(),
        conflict: injection.is_some() && rev_label.is_some(),
        injection,
        rev_label,
        revision,
        pods: pods.map_or(0, |p| p.pods),
        injected_pods: pods.map_or(0, |p| p.injected),
        pods_to_restart,
    }
}

pub(crate) fn rows(store: &Store, map: &RevisionMap) -> Vec<NamespaceRow> {
    store
        .namespaces
        .values()
        .map(|ns| row(store, map, ns))
        .collect()
}
