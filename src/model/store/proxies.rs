//! Proxy sync aggregates: each istiod replica's latest answer, the last proxies of a replica
//! that stopped answering, which replicas report each proxy, and the totals the Overview,
//! the Revisions view and the findings read, kept in step as answers and pods change so
//! that none of them walks every proxy.
//!
//! A replica that stops answering (unreachable, forbidden, refused) keeps its last proxies
//! as *last known*: they are counted as unknown, not as vanished and not as disconnected,
//! until the replica answers again or is gone (`ProxySyncGone`). A proxy reported by several
//! replicas is counted once, for the preferred report: a live answer before a last-known
//! one, then the first replica by namespace and name (stable, so rows do not flicker
//! between replicas from poll to poll).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::super::intern::Name;
use super::super::summary::{ObjectKey, PodPhase, PodSummary};
use super::super::sync::{ProxyStatus, ReplicaState, ReplicaSync, SyncState};
use super::{group_member, set_member};

/// One replica's report of a proxy. Ordered so that the preferred report comes first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Reporter {
    /// From the last answer of a replica that does not answer now.
    pub stale: bool,
    pub istiod: ObjectKey,
    /// Position of the proxy in that answer.
    pub index: usize,
}

/// The last proxies a replica reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Known {
    /// When it last answered with its proxies.
    pub at: Timestamp,
    /// `None` while its latest answer is Ok (the proxies are in that answer); once it stops
    /// answering, the proxies of its last Ok answer.
    pub stale: Option<Vec<ProxyStatus>>,
}

/// Proxies of one revision, by the preferred report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Reported by a live answer, by overall state (`overall`).
    pub per_state: BTreeMap<SyncState, u32>,
    /// Reported only by the last answer of a replica that does not answer now.
    pub last_known: u32,
}

impl Counts {
    fn is_empty(&self) -> bool {
        self.per_state.is_empty() && self.last_known == 0
    }
}

#[derive(Debug, Default)]
pub(crate) struct SyncIndex {
    /// The latest answer of each replica, by istiod pod.
    pub replicas: BTreeMap<ObjectKey, ReplicaSync>,
    /// Replicas that have answered with their proxies at least once.
    pub known: BTreeMap<ObjectKey, Known>,
    /// The reports of each proxy, by its pod, preferred first.
    pub reporters: HashMap<ObjectKey, BTreeSet<Reporter>>,
    /// By the reporting replica's revision.
    pub counts: BTreeMap<Name, Counts>,
    /// Running pods with a proxy that no replica reports, by the revision that injected them.
    pub unreported: BTreeMap<Option<Name>, BTreeSet<ObjectKey>>,
    /// Live-reported proxies with a type STALE or ERROR.
    pub out_of_sync: BTreeSet<ObjectKey>,
    /// Reported proxies whose pod the model does not hold.
    pub gone: BTreeSet<ObjectKey>,
    /// Versions the live-reported proxies run, by the replica reporting them.
    pub versions: BTreeMap<ObjectKey, BTreeMap<Name, u32>>,
}

/// A proxy's state in one word: the worst of its types, where NOT SENT and IGNORED count as
/// in sync (egress gateways have no routes; ECDS is rarely used) unless nothing was sent at
/// all.
pub(crate) fn overall(status: &ProxyStatus) -> SyncState {
    let rank = |s: SyncState| match s {
        SyncState::Ignored => 0,
        SyncState::NotSent => 1,
        SyncState::Synced => 2,
        SyncState::Stale => 3,
        SyncState::StaleNeverAcknowledged => 4,
        SyncState::Error => 5,
    };
    status
        .xds
        .iter()
        .map(|x| x.state)
        .max_by_key(|s| rank(*s))
        .unwrap_or(SyncState::Ignored)
}

/// The revision a replica serves; `default` for the revision-less install.
pub(crate) fn replica_revision(replica: &ReplicaSync) -> Name {
    if replica.revision.is_empty() {
        Name::from("default")
    } else {
        replica.revision.clone()
    }
}

/// The pod behind a proxy.
pub(crate) fn pod_key(status: &ProxyStatus) -> ObjectKey {
    ObjectKey {
        namespace: status.namespace.clone(),
        name: status.pod.clone(),
    }
}

/// A pod whose proxy should be connected to some istiod.
pub(crate) fn expects_connection(p: &PodSummary) -> bool {
    p.has_proxy && p.phase == PodPhase::Running && !p.deleting
}

fn bump<K: Ord + Clone>(map: &mut BTreeMap<K, u32>, key: &K, add: bool) {
    if add {
        *map.entry(key.clone()).or_default() += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl SyncIndex {
    /// The proxies a replica reports now (`false`) or last reported (`true`: last known).
    pub fn proxies_of(&self, istiod: &ObjectKey) -> Option<(&[ProxyStatus], bool)> {
        match self.replicas.get(istiod).map(|r| &r.state) {
            Some(ReplicaState::Ok { proxies, .. }) => Some((proxies, false)),
            _ => self.known.get(istiod)?.stale.as_deref().map(|p| (p, true)),
        }
    }

    pub fn status(&self, r: &Reporter) -> Option<&ProxyStatus> {
        self.proxies_of(&r.istiod)?.0.get(r.index)
    }

    /// The report a proxy's row shows.
    pub fn preferred(&self, pod: &ObjectKey) -> Option<&Reporter> {
        self.reporters.get(pod)?.first()
    }

    /// Replicas with no proxies known yet (never answered, or refused since they started).
    pub fn pending(&self) -> bool {
        self.replicas.keys().any(|k| !self.known.contains_key(k))
    }

    /// Adds (or takes away) what one proxy's pod counts for, by its preferred report.
    fn contribute(&mut self, pod: &ObjectKey, pods: &BTreeMap<ObjectKey, PodSummary>, add: bool) {
        let Some(r) = self.preferred(pod).cloned() else {
            if let Some(p) = pods.get(pod).filter(|p| expects_connection(p)) {
                group_member(&mut self.unreported, &p.injected_revision, pod.clone(), add);
            }
            return;
        };
        let Some(status) = self.status(&r) else {
            return;
        };
        let state = overall(status);
        let in_sync = status.in_sync();
        let version = status.version.clone();
        let revision = self
            .replicas
            .get(&r.istiod)
            .map(replica_revision)
            .unwrap_or_else(|| Name::from("default"));
        let counts = self.counts.entry(revision.clone()).or_default();
        if r.stale {
            super::inc(&mut counts.last_known, add);
        } else {
            bump(&mut counts.per_state, &state, add);
            if !in_sync {
                set_member(&mut self.out_of_sync, pod.clone(), add);
            }
            if !version.is_empty() {
                let versions = self.versions.entry(r.istiod.clone()).or_default();
                bump(versions, &version, add);
                if versions.is_empty() {
                    self.versions.remove(&r.istiod);
                }
            }
        }
        if self.counts.get(&revision).is_some_and(Counts::is_empty) {
            self.counts.remove(&revision);
        }
        if !pods.contains_key(pod) {
            set_member(&mut self.gone, pod.clone(), add);
        }
    }

    /// Changes the reports of one proxy, moving its contribution along.
    fn report(
        &mut self,
        pod: &ObjectKey,
        reporter: Reporter,
        pods: &BTreeMap<ObjectKey, PodSummary>,
        add: bool,
    ) {
        self.contribute(pod, pods, false);
        if add {
            self.reporters
                .entry(pod.clone())
                .or_default()
                .insert(reporter);
        } else if let Some(set) = self.reporters.get_mut(pod) {
            set.remove(&reporter);
            if set.is_empty() {
                self.reporters.remove(pod);
            }
        }
        self.contribute(pod, pods, true);
    }

    /// Adds or takes away every report of one replica.
    fn replica_reports(
        &mut self,
        istiod: &ObjectKey,
        pods: &BTreeMap<ObjectKey, PodSummary>,
        add: bool,
    ) {
        let Some((proxies, stale)) = self.proxies_of(istiod) else {
            return;
        };
        let reports: Vec<(ObjectKey, Reporter)> = proxies
            .iter()
            .enumerate()
            .map(|(index, p)| {
                (
                    pod_key(p),
                    Reporter {
                        stale,
                        istiod: istiod.clone(),
                        index,
                    },
                )
            })
            .collect();
        for (pod, reporter) in reports {
            self.report(&pod, reporter, pods, add);
        }
    }

    /// Takes a replica's latest answer; true if anything changed.
    pub fn answer(
        &mut self,
        replica: ReplicaSync,
        at: Timestamp,
        pods: &BTreeMap<ObjectKey, PodSummary>,
    ) -> bool {
        let key = ObjectKey {
            namespace: replica.namespace.clone(),
            name: replica.istiod.clone(),
        };
        let ok = matches!(replica.state, ReplicaState::Ok { .. });
        if self.replicas.get(&key) == Some(&replica) {
            // The same answer again: only its time moves, which no view shows live.
            if ok && let Some(known) = self.known.get_mut(&key) {
                known.at = at;
            }
            return false;
        }
        self.replica_reports(&key, pods, false);
        let old = self.replicas.insert(key.clone(), replica);
        if ok {
            self.known.insert(key.clone(), Known { at, stale: None });
        } else if let Some(ReplicaSync {
            state: ReplicaState::Ok { proxies, .. },
            ..
        }) = old
        {
            let last = self.known.get(&key).map_or(at, |k| k.at);
            self.known.insert(
                key.clone(),
                Known {
                    at: last,
                    stale: Some(proxies),
                },
            );
        }
        self.replica_reports(&key, pods, true);
        true
    }

    /// A replica is no longer polled (its pod is gone); true if it was known.
    pub fn forget(&mut self, key: &ObjectKey, pods: &BTreeMap<ObjectKey, PodSummary>) -> bool {
        if !self.replicas.contains_key(key) {
            return false;
        }
        self.replica_reports(key, pods, false);
        self.replicas.remove(key);
        self.known.remove(key);
        true
    }

    /// A pod was added, changed or removed.
    pub fn pod_changed(
        &mut self,
        key: &ObjectKey,
        old: Option<&PodSummary>,
        new: Option<&PodSummary>,
    ) {
        if self.reporters.contains_key(key) {
            set_member(&mut self.gone, key.clone(), new.is_none());
            return;
        }
        if let Some(p) = old.filter(|p| expects_connection(p)) {
            group_member(
                &mut self.unreported,
                &p.injected_revision,
                key.clone(),
                false,
            );
        }
        if let Some(p) = new.filter(|p| expects_connection(p)) {
            group_member(
                &mut self.unreported,
                &p.injected_revision,
                key.clone(),
                true,
            );
        }
    }
}
