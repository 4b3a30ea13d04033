//! Nodes: roles, kubelet version and skew, cordon, labels that matter, and a drain pre-flight
//! as `kubectl drain --ignore-daemonsets` would see it now.

use super::super::intern::Name;
use super::super::store::{NodePods, Store};
use super::super::summary::{NodeSummary, ObjectKey};
use super::{DrainPreflight, NodeRow};

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
        .nodes
        .values()
        .filter_map(|n| major_minor(&n.kubelet_version).map(|v| (v, n.kubelet_version.clone())))
        .max()
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

pub(crate) fn preflight(store: &Store, pods: Option<&NodePods>) -> DrainPreflight {
    let Some(np) = pods else {
        return DrainPreflight::Ok {
            evict: 0,
            daemonset_skipped: 0,
        };
    };
    let pdbs: Vec<String> = np
        .guarded_by
        .iter()
        .filter(|(k, g)| {
            store.pdbs.get(*k).is_some_and(|p| {
                (g.ready > 0 && super::disruption::blocks(p, true))
                    || (g.not_ready > 0 && super::disruption::blocks(p, false))
            })
        })
        .map(|(k, _)| key_name(k))
        .collect();
    if pdbs.is_empty() && np.unmanaged.is_empty() && np.empty_dir.is_empty() {
        return DrainPreflight::Ok {
            evict: np.evict,
            daemonset_skipped: np.daemonset,
        };
    }
    DrainPreflight::Blocked {
        pdbs,
        unmanaged_pods: np.unmanaged.iter().map(key_name).collect(),
        empty_dir_pods: np.empty_dir.iter().map(key_name).collect(),
        evict: np.evict,
        daemonset_skipped: np.daemonset,
    }
}

pub(crate) fn row(store: &Store, n: &NodeSummary, newest: Option<(u32, u32)>) -> NodeRow {
    let np = store.index.nodes.get(&n.name);
    let minor_skew = match (newest, major_minor(&n.kubelet_version)) {
        (Some((major, newest)), Some((m, minor))) if major == m => newest.saturating_sub(minor),
        _ => 0,
    };
    NodeRow {
        name: n.name.clone(),
        roles: n.roles.clone(),
        kubelet_version: n.kubelet_version.clone(),
        minor_skew,
        ready: n.ready,
        cordoned: n.unschedulable,
        labels: n
            .labels
            .iter()
            .filter(|(k, _)| shown_label(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        pods: np.map_or(0, |p| p.pods.len() as u32),
        preflight: preflight(store, np),
    }
}

pub(crate) fn rows(store: &Store) -> Vec<NodeRow> {
    let newest = newest_kubelet(store).map(|(v, _)| v);
    store
        .nodes
        .values()
        .map(|n| row(store, n, newest))
        .collect()
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
