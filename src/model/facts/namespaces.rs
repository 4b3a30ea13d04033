//! Namespaces: their injection labels, the revision those select (`istio-injection` wins),
//! conflicts, and the injected pods still on another revision.

use super::super::intern::Name;
use super::super::labels::{Labels, keys};
use super::super::store::Store;
use super::super::summary::NamespaceSummary;
use super::revisions::RevisionMap;
use super::{Dataplane, NamespaceRow};

/// How a namespace's pods join the mesh, by its labels: sidecar injection wins over
/// ambient enrollment (the injector acts first, and ztunnel leaves pods with a sidecar alone).
pub(crate) fn dataplane(labels: &Labels, revision: Option<&Name>) -> Dataplane {
    let ambient = labels
        .get(keys::DATAPLANE_MODE)
        .is_some_and(|v| v.as_ref() == "ambient");
    match (ambient, revision.is_some()) {
        (true, true) => Dataplane::Both,
        (true, false) => Dataplane::Ambient,
        (false, true) => Dataplane::Sidecar,
        (false, false) => Dataplane::None,
    }
}

pub(crate) fn row(store: &Store, map: &RevisionMap, ns: &NamespaceSummary) -> NamespaceRow {
    let injection = ns.labels.get(keys::ISTIO_INJECTION).cloned();
    let rev_label = ns.labels.get(keys::ISTIO_REV).cloned();
    let revision = map.effective(&ns.labels);
    let dataplane = dataplane(&ns.labels, revision.as_ref());
    let tag = map
        .selected_by(&ns.labels)
        .filter(|selected| map.tags.contains_key(selected));
    let pods = store.index.namespaces.get(&ns.name);
    let mut pods_to_restart = Vec::new();
    let mut without_proxy = 0;
    if let Some(pods) = pods {
        for (injected_by, names) in &pods.restartable {
            // Another revision's sidecar; or, in an ambient namespace, any sidecar.
            let moves = match &revision {
                Some(rev) => map.resolve(injected_by) != *rev,
                None => dataplane == Dataplane::Ambient,
            };
            if moves {
                pods_to_restart.extend(names.iter().filter_map(|&id| store.pods.name(id)).cloned());
            }
        }
        if revision.is_some() {
            without_proxy = pods.without_proxy.len() as u32;
            pods_to_restart.extend(
                pods.without_proxy
                    .iter()
                    .filter_map(|&id| store.pods.name(id))
                    .cloned(),
            );
        }
        pods_to_restart.sort();
        pods_to_restart.dedup();
    }
    let waypoint = ns.labels.get(keys::USE_WAYPOINT).map(|w| {
        match ns.labels.get(keys::USE_WAYPOINT_NAMESPACE) {
            Some(other) if *other != ns.name => Name::from(format!("{other}/{w}")),
            _ => w.clone(),
        }
    });
    NamespaceRow {
        name: ns.name.clone(),
        conflict: injection.is_some() && rev_label.is_some(),
        injection,
        rev_label,
        tag,
        revision,
        dataplane,
        waypoint,
        pods: pods.map_or(0, |p| p.pods),
        injected_pods: pods.map_or(0, |p| p.injected),
        without_proxy,
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
