//! Proxy sync aggregates: each istiod replica's latest answer, the last proxies of a replica
//! that stopped answering, which replicas report each proxy, the totals the Overview, the
//! Revisions view and the findings read, and the Proxies view's lines, kept in step as
//! answers and pods change so that none of them walks every proxy.
//!
//! A replica that stops answering (unreachable, forbidden, refused) keeps its last proxies
//! as *last known*: they are counted as unknown, not as vanished and not as disconnected,
//! until the replica answers again or is gone (`ProxySyncGone`). A proxy reported by several
//! replicas is counted once, for the preferred report: a live answer before a last-known
//! one, then the first replica by namespace and name (stable, so rows do not flicker
//! between replicas from poll to poll).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use jiff::Timestamp;

use super::super::intern::{Name, Sym, Symbols};
use super::super::summary::{ObjectKey, PodPhase, PodSummary};
use super::super::sync::{
    ProxyStatus, ReplicaState, ReplicaSync, SentTime, SyncState, Text, XDS_TYPES, XdsStatus,
    all_in_sync,
};
use super::ranked::{RankedMap, RowChange, Spot};
use super::{Pods, group_member, set_member, tally};

/// One replica's report of a proxy, in 12 bytes. The preferred report comes first
/// (`SyncIndex::order`): a live one, then by the replica's namespace and name, then by
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reporter {
    /// From the last answer of a replica that does not answer now.
    pub stale: bool,
    /// The replica, by its id (`SyncIndex::istiod_of`).
    pub replica: u32,
    /// Position of the proxy in that answer.
    pub index: u32,
}

/// The reports of one proxy, preferred first. Most proxies have one, kept in place
/// (no allocation of its own: 12 bytes a proxy less than a `Vec`); none or several are
/// a `Vec` (empty only while being changed: `SyncIndex::report` drops an empty one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reporters {
    One(Reporter),
    Many(Vec<Reporter>),
}

impl Default for Reporters {
    fn default() -> Self {
        Reporters::Many(Vec::new())
    }
}

impl std::ops::Deref for Reporters {
    type Target = [Reporter];

    fn deref(&self) -> &[Reporter] {
        match self {
            Reporters::One(r) => std::slice::from_ref(r),
            Reporters::Many(v) => v,
        }
    }
}

impl Reporters {
    /// Puts `r` at `at` (`at` as `binary_search_by` gave it: at most `len()`).
    fn insert(&mut self, at: usize, r: Reporter) {
        match self {
            Reporters::Many(v) if v.is_empty() => *self = Reporters::One(r),
            Reporters::One(one) => {
                let mut v = Vec::with_capacity(2);
                v.push(*one);
                v.insert(at.min(1), r);
                *self = Reporters::Many(v);
            }
            Reporters::Many(v) => v.insert(at.min(v.len()), r),
        }
    }

    /// Takes away the report at `at`, if there is one.
    fn remove(&mut self, at: usize) {
        match self {
            Reporters::One(_) if at == 0 => *self = Reporters::default(),
            Reporters::One(_) => {}
            Reporters::Many(v) => {
                if at < v.len() {
                    v.remove(at);
                }
                if let [only] = v.as_slice() {
                    *self = Reporters::One(*only);
                }
            }
        }
    }
}

/// One proxy as one replica reports it, packed: a `ProxyStatus` takes 432 bytes, this
/// about a quarter. The short strings are symbols of the index's table; the 14 nonces of
/// the seven types are positions in the few distinct texts they hold (most types repeat
/// one push's nonce); send times and errors (istiod 1.23+) are boxed apart, only for a
/// report that has some. `SyncIndex::unpack` gives the `ProxyStatus` back, equal to the
/// one reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// `<pod>.<namespace>`, istioctl's NAME (the lines share it).
    pub proxy: Name,
    pub pod: Name,
    pub namespace: Name,
    pub cluster: Sym,
    pub proxy_type: Sym,
    pub version: Sym,
    pub states: [SyncState; XDS_TYPES],
    /// Per type, the sent (low four bits) and acked (high four bits) nonces: 0 for none,
    /// else a position in `texts` + 1 (at most 14: four bits hold it).
    nonces: [u8; XDS_TYPES],
    texts: Box<[Text]>,
    extras: Option<Box<Extras>>,
}

/// What istiod 1.23+ adds to each type.
#[derive(Debug, Clone, PartialEq)]
struct Extras {
    sent_time: [Option<SentTime>; XDS_TYPES],
    last_error: [Option<Text>; XDS_TYPES],
}

impl Report {
    fn pack(status: &ProxyStatus, syms: &mut Symbols) -> Report {
        // At most 14 distinct texts: gathered on the stack, then boxed in one allocation.
        let mut texts: [Text; 2 * XDS_TYPES] = Default::default();
        let mut held = 0;
        let mut slot = |t: &Text| -> u8 {
            if t.is_empty() {
                return 0;
            }
            let at = texts[..held]
                .iter()
                .position(|x| x == t)
                .unwrap_or_else(|| {
                    texts[held] = t.clone();
                    held += 1;
                    held - 1
                });
            // At most 14: `texts` holds no more.
            u8::try_from(at + 1).unwrap_or(0x0f) & 0x0f
        };
        let nonces = status
            .xds
            .each_ref()
            .map(|x| slot(&x.sent) | slot(&x.acked) << 4);
        let has_extras = status
            .xds
            .iter()
            .any(|x| x.sent_time.is_some() || x.last_error.is_some());
        let extras = has_extras.then(|| {
            Box::new(Extras {
                sent_time: status.xds.each_ref().map(|x| x.sent_time),
                last_error: status.xds.each_ref().map(|x| x.last_error.clone()),
            })
        });
        Report {
            proxy: status.proxy.clone(),
            pod: status.pod.clone(),
            namespace: status.namespace.clone(),
            cluster: syms.id(&status.cluster),
            proxy_type: syms.id(&status.proxy_type),
            version: syms.id(&status.version),
            states: status.xds.each_ref().map(|x| x.state),
            nonces,
            texts: texts.into_iter().take(held).collect(),
            extras,
        }
    }

    /// The report says what `status` does: what `pack(status)` would equal, read in
    /// place (an answer again is mostly the same reports).
    fn matches(&self, status: &ProxyStatus, syms: &Symbols) -> bool {
        let text_is = |slot: u8, t: &Text| match slot.checked_sub(1) {
            None => t.is_empty(),
            Some(at) => self.texts.get(usize::from(at)).is_some_and(|x| x == t),
        };
        let extras = |t: usize, x: &XdsStatus| match &self.extras {
            None => x.sent_time.is_none() && x.last_error.is_none(),
            Some(e) => e.sent_time[t] == x.sent_time && e.last_error[t] == x.last_error,
        };
        self.proxy == status.proxy
            && self.pod == status.pod
            && self.namespace == status.namespace
            && *syms.get(self.cluster) == status.cluster
            && *syms.get(self.proxy_type) == status.proxy_type
            && *syms.get(self.version) == status.version
            && status.xds.iter().enumerate().all(|(t, x)| {
                let [sent, acked] = self.nonce_slots(t);
                self.states[t] == x.state
                    && text_is(sent, &x.sent)
                    && text_is(acked, &x.acked)
                    && extras(t, x)
            })
    }

    /// The sent and acked nonces' slots of type `t`.
    fn nonce_slots(&self, t: usize) -> [u8; 2] {
        let both = self.nonces.get(t).copied().unwrap_or(0);
        [both & 0x0f, both >> 4]
    }

    fn text(&self, slot: u8) -> Text {
        match slot.checked_sub(1) {
            Some(at) => self.texts.get(usize::from(at)).cloned().unwrap_or_default(),
            None => Text::default(),
        }
    }

    /// The state in one word, as `overall` says of the status.
    pub fn overall(&self) -> SyncState {
        worst(self.states)
    }

    /// Every type SYNCED (or not applicable), as `ProxyStatus::in_sync` says.
    pub fn in_sync(&self) -> bool {
        all_in_sync(self.states)
    }

    /// The pod behind the proxy.
    pub fn pod_key(&self) -> ObjectKey {
        ObjectKey {
            namespace: self.namespace.clone(),
            name: self.pod.clone(),
        }
    }
}

/// The order of reports, preferred first: live ones, then by replica (`keys`: the
/// replicas by id), then position.
fn order(keys: &[ObjectKey], a: &Reporter, b: &Reporter) -> Ordering {
    let istiod = |r: &Reporter| keys.get(r.replica as usize);
    a.stale
        .cmp(&b.stale)
        .then_with(|| istiod(a).cmp(&istiod(b)))
        .then_with(|| a.index.cmp(&b.index))
}

/// The last proxies a replica reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Known {
    /// When it last answered with its proxies.
    pub at: Timestamp,
    /// `None` while its latest answer is Ok (the proxies are in `answers`); once it stops
    /// answering, the proxies of its last Ok answer.
    pub stale: Option<Vec<Report>>,
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

/// A proxy's place in the Proxies view, by its pod: istioctl's order, by NAME
/// (`<pod>.<namespace>`, what the pod and namespace are split from), compared without
/// building the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyKey(pub ObjectKey);

impl ProxyKey {
    fn name_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let k = &self.0;
        let dot: &[u8] = if k.namespace.is_empty() { b"" } else { b"." };
        k.name
            .bytes()
            .chain(dot.iter().copied())
            .chain(k.namespace.bytes())
    }
}

impl Ord for ProxyKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.0.name.as_bytes(), other.0.name.as_bytes());
        let common = a.len().min(b.len());
        // Pod names mostly differ within their common length: one memcmp decides.
        a[..common]
            .cmp(&b[..common])
            .then_with(|| {
                self.name_bytes()
                    .skip(common)
                    .cmp(other.name_bytes().skip(common))
            })
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for ProxyKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a proxy's line in the Proxies view shows that its own preferred report and its pod
/// decide, kept in step with both. What depends on the whole mesh (istiod's versions,
/// whether every replica has answered, when a replica last answered) is read when the line
/// is shown. Its strings but the name are symbols of the index's table: 56 bytes a line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    /// istioctl's NAME: the report's, else `<pod>.<namespace>`.
    pub name: Name,
    /// `None`: a running pod with a proxy that no replica reports.
    pub report: Option<LineReport>,
    pub pod: LinePod,
}

/// The preferred report behind a line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineReport {
    /// The reporting replica, by id (`SyncIndex::istiod_of`).
    pub replica: u32,
    /// From the last answer of a replica that does not answer now.
    pub stale: bool,
    pub cluster: Sym,
    pub proxy_type: Sym,
    /// The version the proxy reports; empty when it does not say.
    pub version: Sym,
    /// Per type, in `XdsType::ALL` order.
    pub states: [SyncState; XDS_TYPES],
}

/// What a line reads from its pod.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinePod {
    /// The model holds the pod.
    pub held: bool,
    /// `expects_connection`: it has a line whether a replica reports it or not.
    pub running: bool,
    pub node: Option<Sym>,
    pub proxy_version: Option<Sym>,
    pub injected_revision: Option<Sym>,
}

impl LinePod {
    fn of(p: Option<&PodSummary>, syms: &mut Symbols) -> Self {
        let mut sym = |n: Option<&Name>| n.map(|n| syms.id(n));
        LinePod {
            held: p.is_some(),
            running: p.is_some_and(expects_connection),
            node: sym(p.and_then(|p| p.node.as_ref())),
            proxy_version: sym(p.and_then(|p| p.proxy_version.as_ref())),
            injected_revision: sym(p.and_then(|p| p.injected_revision.as_ref())),
        }
    }

    /// Would the pod's line change from `old` to `new`?
    fn moved(old: Option<&PodSummary>, new: Option<&PodSummary>) -> bool {
        fn inputs(p: &PodSummary) -> (bool, Option<&str>, Option<&str>, Option<&str>) {
            (
                expects_connection(p),
                p.node.as_deref(),
                p.proxy_version.as_deref(),
                p.injected_revision.as_deref(),
            )
        }
        match (old, new) {
            (Some(o), Some(n)) => inputs(o) != inputs(n),
            (None, None) => false,
            _ => true,
        }
    }
}

impl Line {
    fn names_cluster(&self, syms: &Symbols) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| !syms.get(r.cluster).is_empty())
    }

    /// The version the proxy reports, else its pod's image tag.
    pub fn version<'a>(&self, syms: &'a Symbols) -> Option<&'a Name> {
        self.report
            .as_ref()
            .map(|r| syms.get(r.version))
            .filter(|v| !v.is_empty())
            .or(self.pod.proxy_version.map(|v| syms.get(v)))
    }
}

/// The reports of one replica that changed between two answers, by position.
struct Changes {
    positions: Vec<usize>,
    gone: Vec<(u32, ObjectKey)>,
    came: Vec<(u32, ObjectKey)>,
}

#[derive(Debug, Default)]
pub(crate) struct SyncIndex {
    /// The latest answer of each replica, by istiod pod, without its proxies: an Ok
    /// answer's are in `answers`, packed.
    pub replicas: BTreeMap<ObjectKey, ReplicaSync>,
    /// The proxies of each replica whose latest answer is Ok, in its order.
    answers: BTreeMap<ObjectKey, Vec<Report>>,
    /// Every replica ever heard from, by id (what reports and lines name it by).
    replica_keys: Vec<ObjectKey>,
    /// The short strings of reports and lines.
    pub syms: Symbols,
    /// Replicas that have answered with their proxies at least once.
    pub known: BTreeMap<ObjectKey, Known>,
    /// The reports of each proxy, by its pod, preferred first (sorted; most proxies have
    /// one, which `Reporters` holds in place).
    pub reporters: HashMap<ObjectKey, Reporters>,
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
    /// The Proxies view's lines, in istioctl's order: every reported proxy and every
    /// running pod with a proxy that no replica reports.
    pub lines: RankedMap<ProxyKey, Line>,
    /// Lines are kept once some replica has answered (the view waits for istiod before);
    /// the first answer makes them all at once.
    pub lines_kept: bool,
    /// Lines whose report names a cluster (istiod 1.13+): the CLUSTER column shows then.
    pub lines_with_cluster: u32,
    /// Moves whenever a line is put, taken away or made afresh: what the Proxies view's
    /// kept rows compare (with what else the lines read) to know they still stand.
    pub lines_moved: u64,
    /// The latest line changes by position, the first one taking `lines_moved` from
    /// `log_start`: what the kept rows are patched with rather than arranged again.
    log: VecDeque<RowChange>,
    log_start: u64,
}

/// The line changes kept for patching; older ones are dropped (rows kept from before them
/// are arranged again).
const LOG_LEN: usize = 1024;

/// A proxy's state in one word: the worst of its types, where NOT SENT and IGNORED count as
/// in sync (egress gateways have no routes; ECDS is rarely used) unless nothing was sent at
/// all.
pub(crate) fn overall(status: &ProxyStatus) -> SyncState {
    worst(status.xds.iter().map(|x| x.state))
}

fn worst(states: impl IntoIterator<Item = SyncState>) -> SyncState {
    states
        .into_iter()
        .max_by_key(|s| s.severity())
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

/// A pod whose proxy should be connected to some istiod.
pub(crate) fn expects_connection(p: &PodSummary) -> bool {
    p.has_proxy && p.phase == PodPhase::Running && !p.deleting
}

impl SyncIndex {
    /// The proxies a replica reports now (`false`) or last reported (`true`: last known).
    pub fn proxies_of(&self, istiod: &ObjectKey) -> Option<(&[Report], bool)> {
        match self.replicas.get(istiod).map(|r| &r.state) {
            Some(ReplicaState::Ok { .. }) => self.answers.get(istiod).map(|p| (&p[..], false)),
            _ => self.known.get(istiod)?.stale.as_deref().map(|p| (p, true)),
        }
    }

    pub fn status(&self, r: &Reporter) -> Option<&Report> {
        let istiod = self.istiod_of(r.replica)?;
        self.proxies_of(istiod)?.0.get(r.index as usize)
    }

    /// The istiod pod of a replica id.
    pub fn istiod_of(&self, replica: u32) -> Option<&ObjectKey> {
        self.replica_keys.get(replica as usize)
    }

    /// The id of a replica, made on first sight.
    fn replica_id(&mut self, istiod: &ObjectKey) -> u32 {
        if let Some(at) = self.replica_keys.iter().position(|k| k == istiod) {
            return at as u32;
        }
        self.replica_keys.push(istiod.clone());
        (self.replica_keys.len() - 1) as u32
    }

    /// A report as istiod made it.
    pub fn unpack(&self, r: &Report) -> ProxyStatus {
        let xds = std::array::from_fn(|t| {
            let [sent, acked] = r.nonce_slots(t);
            XdsStatus {
                state: r.states[t],
                sent: r.text(sent),
                acked: r.text(acked),
                sent_time: r.extras.as_ref().and_then(|e| e.sent_time[t]),
                last_error: r.extras.as_ref().and_then(|e| e.last_error[t].clone()),
            }
        });
        ProxyStatus {
            proxy: r.proxy.clone(),
            pod: r.pod.clone(),
            namespace: r.namespace.clone(),
            cluster: self.syms.get(r.cluster).clone(),
            proxy_type: self.syms.get(r.proxy_type).clone(),
            version: self.syms.get(r.version).clone(),
            xds,
        }
    }

    /// The reports of a proxy, preferred first.
    pub fn reporters(&self, pod: &ObjectKey) -> &[Reporter] {
        self.reporters.get(pod).map_or(&[], |r| r)
    }

    /// The report a proxy's row shows.
    pub fn preferred(&self, pod: &ObjectKey) -> Option<&Reporter> {
        self.reporters(pod).first()
    }

    /// How the lines moved since `lines_moved` was `since`, in order; `None` when that is
    /// no longer known (too long ago, or the lines were made afresh since).
    pub fn line_changes(&self, since: u64) -> Option<Vec<RowChange>> {
        let skip = usize::try_from(since.checked_sub(self.log_start)?).ok()?;
        (skip <= self.log.len()).then(|| self.log.iter().skip(skip).copied().collect())
    }

    /// Replicas with no proxies known yet (never answered, or refused since they started).
    pub fn pending(&self) -> bool {
        self.replicas.keys().any(|k| !self.known.contains_key(k))
    }

    /// Adds (or takes away) what one proxy's pod counts for, by its preferred report.
    fn contribute(
        &mut self,
        pod: &ObjectKey,
        preferred: Option<&Reporter>,
        pods: &Pods,
        add: bool,
    ) {
        let Some(r) = preferred else {
            if let Some(p) = pods.get(pod).filter(expects_connection) {
                group_member(&mut self.unreported, &p.injected_revision, pod.clone(), add);
            }
            return;
        };
        let Some(status) = self.status(r) else {
            return;
        };
        let Some(istiod) = self.istiod_of(r.replica) else {
            return;
        };
        let state = status.overall();
        let in_sync = status.in_sync();
        let version = self.syms.get(status.version).clone();
        let revision = self
            .replicas
            .get(istiod)
            .map(replica_revision)
            .unwrap_or_else(|| Name::from("default"));
        let istiod = istiod.clone();
        let counts = self.counts.entry(revision.clone()).or_default();
        if r.stale {
            super::inc(&mut counts.last_known, add);
        } else {
            tally(&mut counts.per_state, &state, add);
            if !in_sync {
                set_member(&mut self.out_of_sync, pod.clone(), add);
            }
            if !version.is_empty() {
                let versions = self.versions.entry(istiod.clone()).or_default();
                tally(versions, &version, add);
                if versions.is_empty() {
                    self.versions.remove(&istiod);
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

    /// Changes the reports of one proxy, moving its contribution and its line along.
    fn report(&mut self, pod: &ObjectKey, reporter: Reporter, pods: &Pods, add: bool) {
        let keys = &self.replica_keys;
        let reports = self.reporters.entry(pod.clone()).or_default();
        let before = reports.first().copied();
        match (add, reports.binary_search_by(|r| order(keys, r, &reporter))) {
            (true, Err(at)) => reports.insert(at, reporter),
            (false, Ok(at)) => {
                reports.remove(at);
            }
            _ => {}
        }
        let after = reports.first().copied();
        if reports.is_empty() {
            self.reporters.remove(pod);
        }
        // Only the preferred report counts, and only it shows on the line.
        if before == after {
            return;
        }
        self.contribute(pod, before.as_ref(), pods, false);
        self.contribute(pod, after.as_ref(), pods, true);
        if self.lines_kept {
            let key = ProxyKey(pod.clone());
            let spot = self.lines.locate(&key);
            // The pod part of a line stands (`pod_changed` keeps it): only a pod without a
            // line yet is looked up.
            let held = match self.lines.at_spot(spot) {
                Some(line) => line.pod.clone(),
                None => LinePod::of(pods.get(pod).as_ref(), &mut self.syms),
            };
            let line = self.make_line(pod, after.as_ref(), held);
            self.put_line(spot, key, line);
        }
    }

    /// A pod's line, as its preferred report and its pod (`held`) say now.
    fn make_line(
        &self,
        pod: &ObjectKey,
        preferred: Option<&Reporter>,
        held: LinePod,
    ) -> Option<Line> {
        let Some(r) = preferred else {
            return held.running.then(|| Line {
                name: Name::from(format!("{}.{}", pod.name, pod.namespace)),
                report: None,
                pod: held,
            });
        };
        let status = self.status(r)?;
        Some(Line {
            name: status.proxy.clone(),
            report: Some(LineReport {
                replica: r.replica,
                stale: r.stale,
                cluster: status.cluster,
                proxy_type: status.proxy_type,
                version: status.version,
                states: status.states,
            }),
            pod: held,
        })
    }

    /// Puts a pod's line at its spot (or takes it away).
    fn put_line(&mut self, spot: Spot, key: ProxyKey, line: Option<Line>) {
        let held = self.lines.at_spot(spot);
        if held == line.as_ref() {
            return;
        }
        let at = self.lines.rank(spot);
        let change = match (held.is_some(), line.is_some()) {
            (true, true) => RowChange::Changed(at),
            (true, false) => RowChange::Removed(at),
            _ => RowChange::Inserted(at),
        };
        self.lines_moved += 1;
        self.log.push_back(change);
        if self.log.len() > LOG_LEN {
            self.log.pop_front();
            self.log_start += 1;
        }
        self.lines_with_cluster += u32::from(
            line.as_ref()
                .is_some_and(|line| line.names_cluster(&self.syms)),
        );
        let old = self.lines.put(spot, key, line);
        if old.is_some_and(|old| old.names_cluster(&self.syms)) {
            self.lines_with_cluster -= 1;
        }
    }

    /// Makes every line afresh, when they come or go all at once: the first replica
    /// answered, or the last is gone. The pods are read in order rather than looked up one
    /// by one, and the lines, almost in order already (by namespace, then name), are
    /// sorted once rather than inserted one by one.
    fn rebuild_lines(&mut self, pods: &Pods) {
        self.lines_moved += 1;
        self.log.clear();
        self.log_start = self.lines_moved;
        self.lines = RankedMap::default();
        self.lines_with_cluster = 0;
        self.lines_kept = !self.replicas.is_empty();
        if !self.lines_kept {
            return;
        }
        let syms = &mut self.syms;
        let reporters = &self.reporters;
        let mut pod_parts: Vec<(ObjectKey, LinePod)> = Vec::new();
        for p in pods.values() {
            let key = ObjectKey {
                namespace: p.namespace.clone(),
                name: p.name.clone(),
            };
            if expects_connection(&p) || reporters.contains_key(&key) {
                pod_parts.push((key, LinePod::of(Some(&p), syms)));
            }
        }
        pod_parts.extend(
            self.gone
                .iter()
                .map(|k| (k.clone(), LinePod::of(None, syms))),
        );
        let mut made: Vec<(ProxyKey, Line)> = pod_parts
            .into_iter()
            .filter_map(|(k, held)| {
                let line = self.make_line(&k, self.preferred(&k), held)?;
                Some((ProxyKey(k), line))
            })
            .collect();
        made.sort_by(|(a, _), (b, _)| a.cmp(b));
        made.dedup_by(|(a, _), (b, _)| a == b);
        self.lines_with_cluster = made
            .iter()
            .filter(|(_, l)| l.names_cluster(&self.syms))
            .count() as u32;
        self.lines = RankedMap::from_sorted(made);
    }

    /// Adds or takes away every report of one replica.
    fn replica_reports(&mut self, istiod: &ObjectKey, pods: &Pods, add: bool) {
        let replica = self.replica_id(istiod);
        let Some((proxies, stale)) = self.proxies_of(istiod) else {
            return;
        };
        let reports: Vec<(ObjectKey, Reporter)> = proxies
            .iter()
            .enumerate()
            .map(|(index, p)| {
                (
                    p.pod_key(),
                    Reporter {
                        stale,
                        replica,
                        index: index as u32,
                    },
                )
            })
            .collect();
        for (pod, reporter) in reports {
            self.report(&pod, reporter, pods, add);
        }
    }

    /// Takes a replica's latest answer; true if anything changed.
    /// A replica answered as it did last time: only the time of its answer moves, which no
    /// view shows live (so nothing changed for a frame).
    pub fn answered_again(&mut self, key: &ObjectKey, at: Timestamp) -> bool {
        let ok = matches!(
            self.replicas.get(key).map(|r| &r.state),
            Some(ReplicaState::Ok { .. })
        );
        if ok && let Some(known) = self.known.get_mut(key) {
            known.at = at;
        }
        false
    }

    pub fn answer(&mut self, mut replica: ReplicaSync, at: Timestamp, pods: &Pods) -> bool {
        let key = ObjectKey {
            namespace: replica.namespace.clone(),
            name: replica.istiod.clone(),
        };
        // The proxies are kept packed, apart from the rest of the answer.
        let proxies: Option<Vec<ProxyStatus>> = match &mut replica.state {
            ReplicaState::Ok { proxies, .. } => Some(std::mem::take(proxies)),
            _ => None,
        };
        let same = self.replicas.get(&key) == Some(&replica);
        if let Some(new) = &proxies
            && let Some(changes) = self.changes(&key, &replica, new)
        {
            if same && changes.positions.is_empty() {
                // The same answer again: only its time moves, which no view shows live.
                if let Some(known) = self.known.get_mut(&key) {
                    known.at = at;
                }
                return false;
            }
            self.answer_again(key, replica, new, changes, at, pods);
            return true;
        }
        if same && proxies.is_none() {
            return false;
        }
        let reports: Option<Vec<Report>> = proxies.map(|proxies| {
            proxies
                .iter()
                .map(|p| Report::pack(p, &mut self.syms))
                .collect()
        });
        let first = self.replicas.is_empty();
        self.replica_id(&key);
        self.replica_reports(&key, pods, false);
        self.replicas.insert(key.clone(), replica);
        let last_ok = self.answers.remove(&key);
        match reports {
            Some(reports) => {
                self.answers.insert(key.clone(), reports);
                self.known.insert(key.clone(), Known { at, stale: None });
            }
            None => {
                if let Some(proxies) = last_ok {
                    let last = self.known.get(&key).map_or(at, |k| k.at);
                    self.known.insert(
                        key.clone(),
                        Known {
                            at: last,
                            stale: Some(proxies),
                        },
                    );
                }
            }
        }
        self.replica_reports(&key, pods, true);
        if first {
            self.rebuild_lines(pods);
        }
        true
    }

    /// How a replica's answer differs from its last, when both are Ok for the same revision:
    /// the reports at each position that changed, before (`gone`) and after (`came`).
    fn changes(
        &self,
        key: &ObjectKey,
        replica: &ReplicaSync,
        new: &[ProxyStatus],
    ) -> Option<Changes> {
        let last = self.replicas.get(key)?;
        let (ReplicaState::Ok { .. }, ReplicaState::Ok { .. }) = (&last.state, &replica.state)
        else {
            return None;
        };
        if last.revision != replica.revision {
            return None;
        }
        let old = self.answers.get(key)?;
        let positions: Vec<usize> = (0..old.len().max(new.len()))
            .filter(|&i| match (old.get(i), new.get(i)) {
                (Some(o), Some(n)) => !o.matches(n, &self.syms),
                (None, None) => false,
                _ => true,
            })
            .collect();
        let gone = positions
            .iter()
            .filter_map(|&i| Some((i as u32, old.get(i)?.pod_key())))
            .collect();
        let came = positions
            .iter()
            .filter_map(|&i| {
                let p = new.get(i)?;
                let pod = ObjectKey {
                    namespace: p.namespace.clone(),
                    name: p.pod.clone(),
                };
                Some((i as u32, pod))
            })
            .collect();
        Some(Changes {
            positions,
            gone,
            came,
        })
    }

    /// A replica that answered with its proxies answers again (what the poller brings every
    /// few seconds): only the proxies whose report changed (by position in the answer) are
    /// taken away and added again, so an answer costs what changed in it, not its size.
    fn answer_again(
        &mut self,
        key: ObjectKey,
        replica: ReplicaSync,
        new: &[ProxyStatus],
        changes: Changes,
        at: Timestamp,
        pods: &Pods,
    ) {
        let Changes {
            positions,
            gone,
            came,
        } = changes;
        let id = self.replica_id(&key);
        let reporter = |index| Reporter {
            stale: false,
            replica: id,
            index,
        };
        for (i, pod) in &gone {
            self.report(pod, reporter(*i), pods, false);
        }
        self.replicas.insert(key.clone(), replica);
        // Only the reports that changed are packed again.
        let syms = &mut self.syms;
        let reports = self.answers.entry(key.clone()).or_default();
        reports.truncate(new.len());
        for &i in &positions {
            let Some(status) = new.get(i) else {
                continue;
            };
            let packed = Report::pack(status, syms);
            match reports.get_mut(i) {
                Some(r) => *r = packed,
                None => reports.push(packed),
            }
        }
        self.known.insert(key.clone(), Known { at, stale: None });
        for (i, pod) in &came {
            self.report(pod, reporter(*i), pods, true);
        }
    }

    /// A replica is no longer polled (its pod is gone); true if it was known.
    pub fn forget(&mut self, key: &ObjectKey, pods: &Pods) -> bool {
        if !self.replicas.contains_key(key) {
            return false;
        }
        let last = self.replicas.len() == 1;
        if last {
            // No lines without replicas: not worth bringing in step one by one.
            self.lines_kept = false;
        }
        self.replica_reports(key, pods, false);
        self.replicas.remove(key);
        self.answers.remove(key);
        self.known.remove(key);
        if last {
            self.rebuild_lines(pods);
        }
        true
    }

    /// A pod was added, changed or removed.
    pub fn pod_changed(
        &mut self,
        key: &ObjectKey,
        old: Option<&PodSummary>,
        new: Option<&PodSummary>,
    ) {
        let reported = !self.reporters(key).is_empty();
        let has_line =
            reported || old.is_some_and(expects_connection) || new.is_some_and(expects_connection);
        if self.lines_kept && has_line && LinePod::moved(old, new) {
            let held = LinePod::of(new, &mut self.syms);
            let line = self.make_line(key, self.preferred(key), held);
            let key = ProxyKey(key.clone());
            let spot = self.lines.locate(&key);
            self.put_line(spot, key, line);
        }
        if reported {
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

/// A line with its symbols and replica read back: what two models' lines compare by (each
/// numbers its strings in the order it met them).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShownLine {
    pub name: Name,
    pub istiod: Option<ObjectKey>,
    pub stale: bool,
    pub cluster: Name,
    pub proxy_type: Name,
    pub version: Option<Name>,
    pub states: Option<[SyncState; XDS_TYPES]>,
    pub held: bool,
    pub running: bool,
    pub node: Option<Name>,
    pub proxy_version: Option<Name>,
    pub injected_revision: Option<Name>,
}

#[cfg(test)]
impl SyncIndex {
    fn shown(&self, line: &Line) -> ShownLine {
        let sym = |s: Option<Sym>| s.map(|s| self.syms.get(s).clone());
        let r = line.report.as_ref();
        ShownLine {
            name: line.name.clone(),
            istiod: r.and_then(|r| self.istiod_of(r.replica)).cloned(),
            stale: r.is_some_and(|r| r.stale),
            cluster: sym(r.map(|r| r.cluster)).unwrap_or_default(),
            proxy_type: sym(r.map(|r| r.proxy_type)).unwrap_or_default(),
            version: sym(r.map(|r| r.version)),
            states: r.map(|r| r.states),
            held: line.pod.held,
            running: line.pod.running,
            node: sym(line.pod.node),
            proxy_version: sym(line.pod.proxy_version),
            injected_revision: sym(line.pod.injected_revision),
        }
    }

    /// The lines kept, in order.
    pub fn kept_lines(&self) -> Vec<(ProxyKey, ShownLine)> {
        self.lines
            .iter()
            .map(|(k, l)| (k.clone(), self.shown(l)))
            .collect()
    }

    /// Each proxy's reports, preferred first, with their replicas named.
    pub fn shown_reporters(&self) -> BTreeMap<ObjectKey, Vec<(bool, Option<ObjectKey>, u32)>> {
        self.reporters
            .iter()
            .map(|(pod, rs)| {
                let rs = rs
                    .iter()
                    .map(|r| (r.stale, self.istiod_of(r.replica).cloned(), r.index))
                    .collect();
                (pod.clone(), rs)
            })
            .collect()
    }

    /// A replica's latest answer as it came, its proxies included.
    pub fn answer_of(&self, istiod: &ObjectKey) -> Option<ReplicaSync> {
        let mut r = self.replicas.get(istiod)?.clone();
        if let ReplicaState::Ok { proxies, .. } = &mut r.state {
            *proxies = self
                .answers
                .get(istiod)
                .map(|a| a.iter().map(|p| self.unpack(p)).collect())
                .unwrap_or_default();
        }
        Some(r)
    }

    /// The last proxies of a replica that stopped answering, as they came.
    pub fn last_known_of(&self, istiod: &ObjectKey) -> Option<Vec<ProxyStatus>> {
        let stale = self.known.get(istiod)?.stale.as_ref()?;
        Some(stale.iter().map(|p| self.unpack(p)).collect())
    }

    /// The lines made from scratch from the reports and the pods, in order: what the lines
    /// kept must equal.
    pub fn rebuilt_lines(&self, pods: &Pods) -> Vec<(ProxyKey, ShownLine)> {
        let mut lines = Vec::new();
        if self.replicas.is_empty() {
            return lines;
        }
        for pod in self.reporters.keys().cloned().chain(pods.keys()) {
            let pod = &pod;
            // The pod's part is read from the pod itself, not from the symbols.
            let p = pods.get(pod);
            let p = p.as_ref();
            let held = LinePod {
                held: p.is_some(),
                running: p.is_some_and(expects_connection),
                node: None,
                proxy_version: None,
                injected_revision: None,
            };
            if let Some(line) = self.make_line(pod, self.preferred(pod), held) {
                let mut shown = self.shown(&line);
                shown.node = p.and_then(|p| p.node.clone());
                shown.proxy_version = p.and_then(|p| p.proxy_version.clone());
                shown.injected_revision = p.and_then(|p| p.injected_revision.clone());
                lines.push((ProxyKey(pod.clone()), shown));
            }
        }
        lines.sort_by(|(a, _), (b, _)| a.cmp(b));
        lines.dedup_by(|(a, _), (b, _)| a == b);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(namespace: &str, name: &str) -> ProxyKey {
        ProxyKey(ObjectKey {
            namespace: Name::from(namespace),
            name: Name::from(name),
        })
    }

    fn status(nonce: &str) -> ProxyStatus {
        let synced = || XdsStatus::new(SyncState::Synced, nonce, nonce);
        ProxyStatus {
            proxy: Name::from("reviews-v1-545db77b95-qvbm7.default"),
            pod: Name::from("reviews-v1-545db77b95-qvbm7"),
            namespace: Name::from("default"),
            cluster: Name::from("Kubernetes"),
            proxy_type: Name::from("sidecar"),
            version: Name::from("1.22.1"),
            xds: [
                synced(),
                synced(),
                XdsStatus::new(SyncState::Stale, format!("{nonce}-2").as_str(), nonce),
                synced(),
                XdsStatus::new(SyncState::NotSent, "", ""),
                XdsStatus::ignored(),
                XdsStatus::ignored(),
            ],
        }
    }

    #[test]
    fn a_packed_report_gives_back_what_istiod_said_and_knows_it() {
        let mut sync = SyncIndex::default();
        let plain = status("c1a9");
        let mut newer = status("c1a9");
        newer.xds[1].sent_time = SentTime::new(Timestamp::UNIX_EPOCH);
        newer.xds[3].last_error = Some(Text::from("rejected: bad route"));
        newer.xds[4].last_error = Some(Text::default());
        for s in [&plain, &newer] {
            let r = Report::pack(s, &mut sync.syms);
            assert_eq!(sync.unpack(&r), *s);
            assert!(r.matches(s, &sync.syms));
            assert_eq!(r.overall(), overall(s));
            assert_eq!(r.in_sync(), s.in_sync());
        }
        let r = Report::pack(&plain, &mut sync.syms);
        // Two texts for fourteen nonces; no extras before istiod 1.23.
        assert_eq!(r.texts.len(), 2);
        assert!(r.extras.is_none());
        assert!(!r.matches(&newer, &sync.syms));
        let mut other = status("c1a9");
        other.xds[2].acked = Text::from("c1a9-2");
        assert!(!r.matches(&other, &sync.syms));
        let mut other = status("c1a9");
        other.version = Name::from("1.22.2");
        assert!(!r.matches(&other, &sync.syms));
        let mut other = status("c1a9");
        other.xds[0].state = SyncState::Stale;
        assert!(!r.matches(&other, &sync.syms));
        assert!(!r.matches(&status("c1b0"), &sync.syms));
        assert!(std::mem::size_of::<Report>() <= 104);
        assert!(std::mem::size_of::<Line>() <= 56);
        assert!(std::mem::size_of::<Reporter>() <= 12);
        assert!(std::mem::size_of::<Reporters>() <= 24);
    }

    #[test]
    fn reporters_keep_one_in_place_and_several_in_order() {
        let r = |index| Reporter {
            stale: false,
            replica: 0,
            index,
        };
        let mut rs = Reporters::default();
        assert!(rs.is_empty());
        rs.insert(0, r(5));
        assert_eq!(rs, Reporters::One(r(5)));
        rs.insert(0, r(2));
        rs.insert(2, r(9));
        assert_eq!(&rs[..], &[r(2), r(5), r(9)]);
        rs.remove(1);
        assert_eq!(&rs[..], &[r(2), r(9)]);
        rs.remove(0);
        assert_eq!(rs, Reporters::One(r(9)));
        rs.remove(1);
        assert_eq!(rs, Reporters::One(r(9)));
        rs.remove(0);
        assert!(rs.is_empty());
        rs.remove(0);
        assert!(rs.is_empty());
    }

    #[test]
    fn proxy_keys_sort_like_istioctls_names() {
        let keys = [
            ("default", "reviews"),
            ("default", "reviews-v1"),
            ("default", "reviews.v1"),
            ("a", "reviews"),
            ("default", "reviews-v1-545db77b95-qvbm7"),
            ("istio-system", "istiod"),
            ("istio", "istiod"),
            ("istio-system", "istiod-1"),
            ("", "ztunnel"),
            ("", "ztunnel-a"),
            ("b", "x.y"),
            ("y.b", "x"),
        ];
        let mut by_key: Vec<ProxyKey> = keys.iter().map(|(ns, n)| key(ns, n)).collect();
        by_key.sort();
        let mut by_name: Vec<(String, &str, &str)> = keys
            .iter()
            .map(|(ns, n)| {
                let name = if ns.is_empty() {
                    n.to_string()
                } else {
                    format!("{n}.{ns}")
                };
                (name, *ns, *n)
            })
            .collect();
        by_name.sort();
        let expected: Vec<ProxyKey> = by_name.iter().map(|(_, ns, n)| key(ns, n)).collect();
        assert_eq!(by_key, expected);
    }
}
