//! Proxies: what each istiod replica reports on `/debug/syncz` (istioctl proxy-status),
//! joined with the pods behind the proxies, and the running pods with a proxy no replica
//! reports.
//!
//! Choices (the reasons are in `store/proxies.rs` too):
//! - A proxy reported by several replicas is one row, for the preferred report (a live
//!   answer, then the first istiod by namespace and name); the others are named in
//!   `also_reported_by`. istioctl prints one line per replica.
//! - A replica that stops answering keeps its last proxies: they are rows marked
//!   `LastKnown` (the istiod they were on, their last states), counted as unknown; neither
//!   vanished nor disconnected. A pod no replica reports is `Disconnected` only while every
//!   replica (and every running istiod pod) has answered, else `Unknown`.
//! - Version skew: the proxy's major.minor differs from its istiod pod's (else its
//!   revision's istiod version).
//!
//! `rows` builds every row (`meshtop`'s full list, and the tests' reference); the Proxies
//! view reads `ProxyLines` instead, the lines the model keeps in istioctl's order, and
//! formats only those on screen.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use super::super::event::{Kind, SourceState};
use super::super::intern::Name;
use super::super::store::Store;
use super::super::store::proxies::{
    Line, Place, ProxyKey, Reporter, SyncIndex, Who, overall, replica_revision,
};
use super::super::summary::{ObjectKey, PodPhase};
use super::super::sync::{ProxyStatus, ReplicaState, SyncState, XdsType};
use super::nodes::major_minor;
use super::revisions::{RevisionMap, istiod_version};
use super::{
    Finding, FindingKind, FindingObject, ProxyConnection, ProxyLine, ProxyName, ProxyRow,
    ProxySummary, ReplicaRow, Severity, SyncTotals,
};

/// `major.minor` of two versions differ; unknown versions are no skew.
pub(crate) fn skewed(proxy: &str, istiod: &str) -> bool {
    match (major_minor(proxy), major_minor(istiod)) {
        (Some(p), Some(i)) => p != i,
        _ => false,
    }
}

/// istiod versions looked up once per call: per revision, and per replica (its pod's
/// version, else its revision's). Only revisions the model knows have an istiod.
struct Versions {
    map: RevisionMap,
    by_revision: BTreeMap<Name, Option<Name>>,
    by_replica: BTreeMap<ObjectKey, Option<Name>>,
}

impl Versions {
    fn new(store: &Store) -> Self {
        let map = RevisionMap::of(store);
        let by_revision: BTreeMap<Name, Option<Name>> = map
            .known
            .keys()
            .map(|rev| (rev.clone(), istiod_version(store, rev)))
            .collect();
        let mut versions = Versions {
            map,
            by_revision,
            by_replica: BTreeMap::new(),
        };
        versions.by_replica = store
            .sync
            .replicas
            .iter()
            .map(|(key, r)| {
                let own = store.pods.get(key).and_then(|p| p.istiod_version.clone());
                let v = own.or_else(|| versions.of_revision(&replica_revision(r)).cloned());
                (key.clone(), v)
            })
            .collect();
        versions
    }

    fn of_revision(&self, rev: &Name) -> Option<&Name> {
        self.by_revision.get(&self.map.resolve(rev))?.as_ref()
    }

    /// The version of a replica's istiod pod, else of its revision.
    fn of_replica(&self, istiod: &ObjectKey) -> Option<&Name> {
        self.by_replica.get(istiod)?.as_ref()
    }
}

/// Some istiod has not answered with its proxies yet: a replica that never did, or a running
/// istiod pod the poller has not reported on (its first poll is on its way). A pod no
/// replica reports may then be that istiod's, so it is unknown rather than disconnected.
pub(crate) fn pending(store: &Store) -> bool {
    let sync = &store.sync;
    sync.pending()
        || store
            .index
            .istiod_pods
            .values()
            .flatten()
            .filter(|k| !sync.replicas.contains_key(*k))
            .any(|k| {
                store
                    .pods
                    .get(k)
                    .is_some_and(|p| p.phase == PodPhase::Running && !p.deleting)
            })
}

fn non_empty(n: &Name) -> Option<Name> {
    (!n.is_empty()).then(|| n.clone())
}

/// The row of a reported proxy, for its preferred report.
fn reported_row(
    store: &Store,
    versions: &Versions,
    (who, pod_key): (Who, &ObjectKey),
    reporter: &Reporter,
    status: &ProxyStatus,
) -> ProxyRow {
    let sync = &store.sync;
    let istiod = sync.istiod_of(reporter.replica);
    let replica = istiod.and_then(|k| sync.replicas.get(k));
    let revision = replica.map(replica_revision);
    let istiod_version = istiod.and_then(|k| versions.of_replica(k)).cloned();
    let pod = store.pods.get(pod_key);
    let pod = pod.as_ref();
    let version = non_empty(&status.version).or_else(|| pod.and_then(|p| p.proxy_version.clone()));
    let version_skew = match (&version, &istiod_version) {
        (Some(p), Some(i)) => skewed(p, i),
        _ => false,
    };
    let also_reported_by = sync
        .reporters(who)
        .iter()
        .skip(1)
        .filter_map(|r| Some(sync.istiod_of(r.replica)?.name.clone()))
        .collect();
    ProxyRow {
        name: status.proxy.clone(),
        namespace: pod_key.namespace.clone(),
        pod: pod_key.name.clone(),
        connection: if reporter.stale {
            ProxyConnection::LastKnown
        } else {
            ProxyConnection::Connected
        },
        cluster: status.cluster.clone(),
        proxy_type: status.proxy_type.clone(),
        istiod: istiod.map(|k| k.name.clone()),
        istiod_revision: revision,
        istiod_version,
        also_reported_by,
        xds: status.xds.to_vec(),
        state: Some(overall(status)),
        version,
        version_skew,
        node: pod.and_then(|p| p.node.clone()),
        owner_kind: pod.and_then(|p| p.owner.as_ref().map(|o| o.kind.clone())),
        owner_name: pod.and_then(|p| p.owner.as_ref().map(|o| o.name.clone())),
        injected_revision: pod.and_then(|p| p.injected_revision.clone()),
        pod_gone: pod.is_none(),
        reported_at: istiod.and_then(|k| sync.known.get(k)).map(|k| k.at),
    }
}

/// The row of a running pod with a proxy that no replica reports.
fn unreported_row(
    store: &Store,
    versions: &Versions,
    pod_key: &ObjectKey,
    pending: bool,
) -> Option<ProxyRow> {
    let pod = store.pods.get(pod_key)?;
    let istiod_version = pod
        .injected_revision
        .as_ref()
        .and_then(|rev| versions.of_revision(rev))
        .cloned();
    let version_skew = match (&pod.proxy_version, &istiod_version) {
        (Some(p), Some(i)) => skewed(p, i),
        _ => false,
    };
    Some(ProxyRow {
        name: Name::from(format!("{}.{}", pod.name, pod.namespace)),
        namespace: pod.namespace.clone(),
        pod: pod.name.clone(),
        connection: if pending {
            ProxyConnection::Unknown
        } else {
            ProxyConnection::Disconnected
        },
        cluster: Name::from(""),
        proxy_type: Name::from(""),
        istiod: None,
        istiod_revision: None,
        istiod_version,
        also_reported_by: Vec::new(),
        xds: Vec::new(),
        state: None,
        version: pod.proxy_version.clone(),
        version_skew,
        node: pod.node.clone(),
        owner_kind: pod.owner.as_ref().map(|o| o.kind.clone()),
        owner_name: pod.owner.as_ref().map(|o| o.name.clone()),
        injected_revision: pod.injected_revision.clone(),
        pod_gone: false,
        reported_at: None,
    })
}

pub(crate) fn rows(store: &Store) -> Vec<ProxyRow> {
    let sync = &store.sync;
    if sync.replicas.is_empty() {
        return Vec::new();
    }
    let versions = Versions::new(store);
    let pods = &store.pods;
    let mut out: Vec<(ProxyKey, ProxyRow)> = sync
        .reported()
        .filter_map(|(who, reporters)| {
            let r = reporters.first()?;
            let pod = sync.key_of(who, pods)?;
            let status = sync.unpack(sync.status(r)?, pods);
            let row = reported_row(store, &versions, (who, &pod), r, &status);
            Some((ProxyKey(pod), row))
        })
        .collect();
    let pending = pending(store);
    out.extend(sync.unreported.values().flatten().filter_map(|&id| {
        let k = pods.key(id)?;
        let row = unreported_row(store, &versions, &k, pending)?;
        Some((ProxyKey(k), row))
    }));
    out.sort_by(|(a, _), (b, _)| a.cmp(b));
    out.into_iter().map(|(_, row)| row).collect()
}

/// The Proxies view's lines: every reported proxy and every running pod with a proxy no
/// replica reports, in istioctl's order, as the model keeps them. Reading one costs the
/// same at any position and any cluster size; what depends on the whole mesh (istiod
/// versions, whether every istiod has answered) is looked up once, here.
pub struct ProxyLines<'m> {
    store: &'m Store,
    versions: Versions,
    pending: bool,
    /// The empty name, for a line whose pod cannot be named (none such is kept).
    none: Name,
}

impl<'m> ProxyLines<'m> {
    pub(crate) fn new(store: &'m Store) -> Self {
        ProxyLines {
            store,
            versions: Versions::new(store),
            pending: pending(store),
            none: Name::from(""),
        }
    }

    /// No istiod replica has been heard from yet: no lines.
    pub fn waiting(&self) -> bool {
        self.store.sync.replicas.is_empty()
    }

    pub fn len(&self) -> usize {
        if self.waiting() {
            0
        } else {
            self.store.sync.lines.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Some line's report names a cluster (istiod 1.13+).
    pub fn clusters(&self) -> bool {
        !self.waiting() && self.store.sync.lines_with_cluster > 0
    }

    /// The line at position `i`.
    pub fn get(&self, i: usize) -> Option<ProxyLine<'_>> {
        if self.waiting() {
            return None;
        }
        let (who, line) = self.store.sync.lines.at(i)?;
        Some(self.line(*who, line))
    }

    /// Every line, in order.
    pub fn iter(&self) -> impl Iterator<Item = ProxyLine<'_>> + '_ {
        let lines = if self.waiting() {
            None
        } else {
            Some(self.store.sync.lines.iter())
        };
        lines
            .into_iter()
            .flatten()
            .map(|(who, line)| self.line(*who, line))
    }

    fn line<'a>(&'a self, who: Who, line: &'a Line) -> ProxyLine<'a> {
        let sync = &self.store.sync;
        let pods = &self.store.pods;
        let report = line.report.as_ref();
        let (namespace, pod) = sync.names_of(who, pods).unwrap_or((&self.none, ""));
        let parts = match who.place() {
            Place::Pod(id) => pods.line_parts(id),
            Place::Gone(_) => None,
        };
        // istiod's own spelling of the NAME, for the rare report that keeps one.
        let odd = report
            .filter(|r| r.odd_name())
            .and_then(|_| sync.status(sync.preferred(who)?)?.odd_name())
            .map(|n| n.as_ref());
        let istiod = report.and_then(|r| sync.istiod_of(r.replica));
        let connection = match report {
            Some(r) if r.stale() => ProxyConnection::LastKnown,
            Some(_) => ProxyConnection::Connected,
            None if self.pending => ProxyConnection::Unknown,
            None => ProxyConnection::Disconnected,
        };
        let istiod_version = match report {
            Some(_) => istiod.and_then(|k| self.versions.of_replica(k)),
            None => parts
                .and_then(|p| p.injected_revision)
                .and_then(|rev| self.versions.of_revision(rev)),
        };
        ProxyLine {
            name: ProxyName {
                pod,
                namespace,
                odd,
            },
            namespace,
            pod,
            connection,
            cluster: report.map_or("", |r| sync.profile(r.profile).cluster),
            proxy_type: report.map_or("", |r| sync.profile(r.profile).proxy_type),
            istiod: istiod.map(|k| &k.name),
            istiod_version,
            states: report.map(|r| &r.states),
            version: line.version(sync, parts.as_ref()),
            node: parts.and_then(|p| p.node),
            injected_revision: parts.and_then(|p| p.injected_revision),
            pod_gone: parts.is_none(),
        }
    }
}

pub(crate) fn row(store: &Store, pod: &ObjectKey) -> Option<ProxyRow> {
    let sync = &store.sync;
    if sync.replicas.is_empty() {
        return None;
    }
    let versions = Versions::new(store);
    let who = sync.who(pod, &store.pods)?;
    match sync.preferred(who) {
        Some(r) => {
            let status = sync.unpack(sync.status(r)?, &store.pods);
            Some(reported_row(store, &versions, (who, pod), r, &status))
        }
        None => {
            let p = store.pods.get(pod)?;
            let listed = matches!(who.place(), Place::Pod(id) if sync
                .unreported
                .get(&p.injected_revision)
                .is_some_and(|s| s.contains(&id)));
            listed
                .then(|| unreported_row(store, &versions, pod, pending(store)))
                .flatten()
        }
    }
}

fn replica_row(sync: &SyncIndex, key: &ObjectKey) -> Option<ReplicaRow> {
    let r = sync.replicas.get(key)?;
    let (state, via, message) = match &r.state {
        ReplicaState::Ok { via, .. } => ("ok", Some(*via), None),
        ReplicaState::Forbidden { message } => ("forbidden", None, Some(message.clone())),
        ReplicaState::Refused { message } => ("refused", None, Some(message.clone())),
        ReplicaState::Unreachable { message } => ("unreachable", None, Some(message.clone())),
    };
    Some(ReplicaRow {
        namespace: r.namespace.clone(),
        istiod: r.istiod.clone(),
        revision: replica_revision(r),
        state,
        via,
        message,
        proxies: sync.proxies_of(key).map_or(0, |(p, _)| p.len() as u32),
        answered_at: sync.known.get(key).map(|k| k.at),
    })
}

pub(crate) fn summary(store: &Store) -> ProxySummary {
    let sync = &store.sync;
    if sync.replicas.is_empty() {
        return ProxySummary {
            waiting: true,
            ..ProxySummary::default()
        };
    }
    let map = RevisionMap::of(store);
    let pending = pending(store);
    let mut per_revision: BTreeMap<Name, SyncTotals> = BTreeMap::new();
    let mut totals = SyncTotals::default();
    for (rev, counts) in &sync.counts {
        let t = per_revision.entry(map.resolve(rev)).or_default();
        for (s, n) in &counts.per_state {
            *t.per_state.entry(*s).or_default() += n;
        }
        t.unknown += counts.last_known;
    }
    for (rev, pods) in &sync.unreported {
        let n = pods.len() as u32;
        let mut t = SyncTotals::default();
        if pending {
            t.unknown = n;
        } else {
            t.disconnected = n;
        }
        match rev {
            Some(rev) => per_revision.entry(map.resolve(rev)).or_default().add(&t),
            None => totals.add(&t),
        }
    }
    for t in per_revision.values() {
        totals.add(t);
    }
    let mut versions: BTreeMap<Name, u32> = BTreeMap::new();
    for per_istiod in sync.versions.values() {
        for (v, n) in per_istiod {
            *versions.entry(v.clone()).or_default() += n;
        }
    }
    ProxySummary {
        waiting: false,
        totals,
        per_revision,
        replicas: sync
            .replicas
            .keys()
            .filter_map(|k| replica_row(sync, k))
            .collect(),
        versions,
    }
}

fn finding(severity: Severity, code: &'static str, message: String) -> Finding {
    Finding::new(severity, code, message)
}

/// `EDS STALE, RDS ERROR (the NACK)`: the types of a proxy that are not in sync.
pub(crate) fn out_of_sync_types(status: &ProxyStatus) -> String {
    XdsType::EVERY
        .iter()
        .zip(&status.xds)
        .filter(|(_, x)| {
            !matches!(
                x.state,
                SyncState::Synced | SyncState::NotSent | SyncState::Ignored
            )
        })
        .map(|(t, x)| match &x.last_error {
            Some(e) if !e.is_empty() => format!("{} {} ({e})", t.short(), x.state.label()),
            _ => format!("{} {}", t.short(), x.state.label()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the revision's proxies have live sync reports: their versions then come from
/// istiod, not from image tags.
pub(crate) fn reported_revision(store: &Store, map: &RevisionMap, rev: &Name) -> bool {
    store.sync.replicas.iter().any(|(k, r)| {
        map.resolve(&replica_revision(r)) == *rev && store.sync.versions.contains_key(k)
    })
}

/// The proxies' findings; `out_of_sync`: `out_of_sync(store)`, which a caller may keep
/// while istiod's answers stay as they are.
pub(crate) fn findings(
    store: &Store,
    sources: &BTreeMap<Kind, SourceState>,
    list: impl Fn(&[String]) -> String,
    out_of_sync: &[Finding],
    out: &mut Vec<Finding>,
) {
    let sync = &store.sync;
    if sync.replicas.is_empty() {
        return;
    }
    for (key, r) in &sync.replicas {
        let last = sync.proxies_of(key).map_or(0, |(p, _)| p.len());
        let proxies = if last > 0 {
            format!("; its {last} proxies show as unknown")
        } else {
            String::new()
        };
        let (code, what, message) = match &r.state {
            ReplicaState::Ok { .. } => continue,
            ReplicaState::Forbidden { message } => {
                ("istiod-sync-forbidden", "forbidden by RBAC", message)
            }
            ReplicaState::Refused { message } => ("istiod-sync-refused", "refused", message),
            ReplicaState::Unreachable { message } => ("istiod-unreachable", "unreachable", message),
        };
        out.push(finding(
            Severity::Error,
            code,
            format!(
                "istiod {}/{}: sync status {what}: {message}{proxies}",
                r.namespace, r.istiod
            ),
        ));
    }
    out.extend_from_slice(out_of_sync);
    // Skew by revision, from the versions the proxies report.
    let versions = Versions::new(store);
    let mut skew: BTreeMap<(Name, Name), BTreeMap<Name, u32>> = BTreeMap::new();
    for (key, per_version) in &sync.versions {
        let Some(rev) = sync.replicas.get(key).map(replica_revision) else {
            continue;
        };
        let Some(istiod) = versions.of_replica(key) else {
            continue;
        };
        for (v, n) in per_version.iter().filter(|(v, _)| skewed(v, istiod)) {
            *skew
                .entry((rev.clone(), istiod.clone()))
                .or_default()
                .entry(v.clone())
                .or_default() += n;
        }
    }
    for ((rev, istiod), per_version) in skew {
        let n: u32 = per_version.values().sum();
        let minors: BTreeSet<String> = per_version
            .keys()
            .filter_map(|v| major_minor(v))
            .map(|(major, minor)| format!("{major}.{minor}"))
            .collect();
        let runs: Vec<String> = per_version
            .iter()
            .map(|(v, n)| format!("{v} ×{n}"))
            .collect();
        out.push(
            finding(
                Severity::Warning,
                "proxy-version-skew",
                format!(
                    "{} of revision {rev} {} {} while their istiod runs {istiod}: {}",
                    crate::ops::outcome::counted(n as usize, "proxy", "proxies"),
                    if n == 1 { "runs" } else { "run" },
                    minors.into_iter().collect::<Vec<_>>().join(", "),
                    runs.join(", ")
                ),
            )
            .on(FindingObject::cluster(FindingKind::Revision, &rev)),
        );
    }
    if !pending(store) {
        let pods: Vec<String> = sync
            .unreported
            .values()
            .flat_map(|ids| store.pods.names_in_order(ids.iter().copied()))
            .collect();
        if !pods.is_empty() {
            out.push(finding(
                Severity::Warning,
                "proxy-disconnected",
                format!(
                    "{} with a proxy {} connected to no istiod: {}",
                    crate::ops::outcome::count(pods.len(), "running pod"),
                    if pods.len() == 1 { "is" } else { "are" },
                    list(&pods)
                ),
            ));
        }
    }
    let pods_listed = matches!(sources.get(&Kind::Pod), None | Some(SourceState::Ready));
    if pods_listed && !sync.gone.is_empty() {
        let gone: Vec<String> = sync
            .gone
            .keys()
            .map(|k| format!("{}.{}", k.name, k.namespace))
            .collect();
        out.push(finding(
            Severity::Info,
            "proxy-pod-gone",
            format!(
                "istiod still reports {} proxies whose pod is gone: {}",
                gone.len(),
                list(&gone)
            ),
        ));
    }
}

/// One finding per live-reported proxy out of sync. It reads only istiod's answers (which
/// proxy each replica reports, and how), never what a pod's change moves: a large mesh has
/// hundreds of them, built again only when an answer changes.
pub(crate) fn out_of_sync(store: &Store) -> Vec<Finding> {
    let sync = &store.sync;
    let mut out = Vec::new();
    for pod in &sync.out_of_sync {
        let Some(r) = sync.who(pod, &store.pods).and_then(|w| sync.preferred(w)) else {
            continue;
        };
        let (Some(status), Some(istiod)) = (sync.status(r), sync.istiod_of(r.replica)) else {
            continue;
        };
        let status = sync.unpack(status, &store.pods);
        out.push(
            finding(
                Severity::Warning,
                "proxy-not-synced",
                format!(
                    "proxy {}: {} (istiod {})",
                    status.proxy,
                    out_of_sync_types(&status),
                    istiod.name
                ),
            )
            .on(FindingObject::namespaced(
                FindingKind::Proxy,
                &pod.namespace,
                &pod.name,
            )),
        );
    }
    out
}
