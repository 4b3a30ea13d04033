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
//!
//! A proxy is named by its pod's row id ([`Who`]), not by its pod's key: reports, their
//! reporters and the lines hold 4 bytes where the key takes 32, and the proxy's name
//! (`<pod>.<namespace>`) is made from the pod's row when it is shown. The few proxies
//! istiod reports for pods the model does not hold are kept apart with their keys
//! (`SyncIndex::gone`), and move to the pod's id when it comes (and back when it goes).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::LazyLock;

use jiff::Timestamp;

use super::super::intern::{Name, Sym, Symbols, empty};
use super::super::summary::{ObjectKey, PodPhase, PodSummary};
use super::super::sync::{
    ProxyStatus, ReplicaState, ReplicaSync, SentTime, SyncState, Text, XDS_TYPES, XdsStatus,
    all_in_sync,
};
use super::pods::{LineParts, PodId};
use super::ranked::{RankedMap, RowChange, Spot};
use super::{Pods, group_member, set_member, tally};

/// The proxy a report or a line is about, in 4 bytes: the pod the model holds, by its row
/// id, or a pod it does not hold whose proxy istiod still reports, by its place in
/// `SyncIndex::gone_proxies` (the high bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Who(u32);

const GONE_BIT: u32 = 1 << 31;

/// What a [`Who`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Pod(PodId),
    Gone(u32),
}

impl Who {
    /// Row ids stay far below 2^31 (a row is 80 bytes): the high bit is free.
    pub fn pod(id: PodId) -> Who {
        Who(id & !GONE_BIT)
    }

    fn gone(at: u32) -> Who {
        Who(at | GONE_BIT)
    }

    pub fn place(self) -> Place {
        if self.0 & GONE_BIT == 0 {
            Place::Pod(self.0)
        } else {
            Place::Gone(self.0 & !GONE_BIT)
        }
    }
}

/// What a report says of its proxy besides its states and nonces: its cluster, type and
/// version. Proxies share few of them (one per kind of proxy and version), so reports and
/// lines name one by a 4-byte id of `SyncIndex::profiles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Profile {
    pub cluster: Sym,
    pub proxy_type: Sym,
    pub version: Sym,
}

/// The profiles met, each once, for the table's life (like `Symbols`).
#[derive(Debug, Default)]
pub(crate) struct Profiles {
    list: Vec<Profile>,
    ids: HashMap<Profile, u32>,
}

impl Profiles {
    fn id(&mut self, p: Profile) -> u32 {
        if let Some(&id) = self.ids.get(&p) {
            return id;
        }
        // Past 4 billion distinct profiles the last is reused: unreachable.
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(p);
        self.ids.insert(p, id);
        id
    }

    fn get(&self, id: u32) -> Option<Profile> {
        self.list.get(id as usize).copied()
    }
}

/// The empty name, for what a report does not say.
static NO_NAME: LazyLock<Name> = LazyLock::new(empty);

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

/// The reports of one proxy, preferred first, in 16 bytes: most proxies have one, kept in
/// place; several are boxed apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Reporters {
    #[default]
    None,
    One(Reporter),
    // Boxed, a `Vec` takes one pointer here: `Reporters` stays 16 bytes a pod (a `Vec` or a
    // boxed slice in place would make it 24 or 32) for the few proxies reported twice.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Reporter>>),
}

impl std::ops::Deref for Reporters {
    type Target = [Reporter];

    fn deref(&self) -> &[Reporter] {
        match self {
            Reporters::None => &[],
            Reporters::One(r) => std::slice::from_ref(r),
            Reporters::Many(v) => v,
        }
    }
}

impl Reporters {
    /// Puts `r` at `at` (`at` as `binary_search_by` gave it: at most `len()`).
    fn insert(&mut self, at: usize, r: Reporter) {
        match self {
            Reporters::None => *self = Reporters::One(r),
            Reporters::One(one) => {
                let mut v = Vec::with_capacity(2);
                v.push(*one);
                v.insert(at.min(1), r);
                *self = Reporters::Many(Box::new(v));
            }
            Reporters::Many(v) => v.insert(at.min(v.len()), r),
        }
    }

    /// Takes away the report at `at`, if there is one.
    fn remove(&mut self, at: usize) {
        match self {
            Reporters::None => {}
            Reporters::One(_) if at == 0 => *self = Reporters::None,
            Reporters::One(_) => {}
            Reporters::Many(v) => {
                if at < v.len() {
                    v.remove(at);
                }
                match v.as_slice() {
                    [] => *self = Reporters::None,
                    [only] => *self = Reporters::One(*only),
                    _ => {}
                }
            }
        }
    }
}

/// One proxy as one replica reports it, packed: a `ProxyStatus` takes 432 bytes, this 48
/// and its nonces. The proxy is its pod's [`Who`] (its name is made from the pod's; one
/// istiod spells otherwise is kept with the extras); its cluster, type and version are a
/// [`Profile`]; the 14 nonces of the seven types are positions in the few distinct texts
/// they hold, kept in one allocation of their own (istiod makes each push's nonce anew for
/// each proxy and type, so they are not shared between proxies); send times and errors
/// (istiod 1.23+) are boxed apart, only for a report that has some. `SyncIndex::unpack`
/// gives the `ProxyStatus` back, equal to the one reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub who: Who,
    /// Its cluster, type and version (`SyncIndex::profile`).
    pub profile: u32,
    pub states: [SyncState; XDS_TYPES],
    /// Per type, the sent (low four bits) and acked (high four bits) nonces: 0 for none,
    /// else a position in `texts` + 1 (at most 14: four bits hold it).
    nonces: [u8; XDS_TYPES],
    texts: NonceTexts,
    extras: Option<Box<Extras>>,
}

/// The distinct nonces of one report in one allocation: how many, where each ends (4 bytes
/// each), then their bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NonceTexts(Box<[u8]>);

impl NonceTexts {
    fn new(texts: &[&str]) -> NonceTexts {
        if texts.is_empty() {
            return NonceTexts::default();
        }
        let len: usize = texts.iter().map(|t| t.len()).sum();
        let mut out = Vec::with_capacity(1 + 4 * texts.len() + len);
        // At most 14 texts: a byte counts them.
        out.push(u8::try_from(texts.len()).unwrap_or(u8::MAX));
        let mut end = 0usize;
        for t in texts {
            end += t.len();
            out.extend_from_slice(&u32::try_from(end).unwrap_or(u32::MAX).to_le_bytes());
        }
        for t in texts {
            out.extend_from_slice(t.as_bytes());
        }
        NonceTexts(out.into_boxed_slice())
    }

    fn len(&self) -> usize {
        self.0.first().map_or(0, |&n| usize::from(n))
    }

    fn end(&self, at: usize) -> Option<usize> {
        let bytes = self.0.get(1 + 4 * at..1 + 4 * at + 4)?;
        let end = u32::from_le_bytes(bytes.try_into().ok()?);
        usize::try_from(end).ok()
    }

    /// The text at `at`; empty for one it does not hold.
    fn get(&self, at: usize) -> &str {
        let n = self.len();
        if at >= n {
            return "";
        }
        let start = match at.checked_sub(1) {
            Some(before) => self.end(before),
            None => Some(0),
        };
        let data = 1 + 4 * n;
        let (Some(start), Some(end)) = (start, self.end(at)) else {
            return "";
        };
        self.0
            .get(data + start..data + end)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

/// What a report keeps apart, for the few that need it: what istiod 1.23+ adds to each
/// type, and a NAME that is not `<pod>.<namespace>` of the pod split from it.
#[derive(Debug, Clone, PartialEq)]
struct Extras {
    sent_time: [Option<SentTime>; XDS_TYPES],
    last_error: [Option<Text>; XDS_TYPES],
    proxy: Option<Name>,
}

/// Is `proxy` `<pod>.<namespace>` (compared in place, without building it)?
fn is_proxy_name(proxy: &str, pod: &str, namespace: &str) -> bool {
    if namespace.is_empty() {
        return proxy == pod;
    }
    proxy.len() == pod.len() + 1 + namespace.len()
        && proxy.starts_with(pod)
        && proxy.ends_with(namespace)
        && proxy.as_bytes().get(pod.len()) == Some(&b'.')
}

/// istioctl's NAME of a pod's proxy: `<pod>.<namespace>`.
pub(crate) fn proxy_name(pod: &str, namespace: &str) -> String {
    if namespace.is_empty() {
        pod.to_string()
    } else {
        format!("{pod}.{namespace}")
    }
}

impl Report {
    fn pack(status: &ProxyStatus, who: Who, syms: &mut Symbols, profiles: &mut Profiles) -> Report {
        // At most 14 distinct texts: gathered on the stack, then kept in one allocation.
        fn slot<'a>(texts: &mut [&'a str; 2 * XDS_TYPES], held: &mut usize, t: &'a str) -> u8 {
            if t.is_empty() {
                return 0;
            }
            let at = texts[..*held]
                .iter()
                .position(|x| *x == t)
                .unwrap_or_else(|| {
                    texts[*held] = t;
                    *held += 1;
                    *held - 1
                });
            // At most 14: `texts` holds no more.
            u8::try_from(at + 1).unwrap_or(0x0f) & 0x0f
        }
        let mut texts: [&str; 2 * XDS_TYPES] = Default::default();
        let mut held = 0;
        let nonces = status.xds.each_ref().map(|x| {
            let sent = slot(&mut texts, &mut held, x.sent.as_str());
            sent | slot(&mut texts, &mut held, x.acked.as_str()) << 4
        });
        let odd_name = !is_proxy_name(&status.proxy, &status.pod, &status.namespace);
        let has_extras = odd_name
            || status
                .xds
                .iter()
                .any(|x| x.sent_time.is_some() || x.last_error.is_some());
        let extras = has_extras.then(|| {
            Box::new(Extras {
                sent_time: status.xds.each_ref().map(|x| x.sent_time),
                last_error: status.xds.each_ref().map(|x| x.last_error.clone()),
                proxy: odd_name.then(|| status.proxy.clone()),
            })
        });
        Report {
            who,
            profile: profiles.id(Profile {
                cluster: syms.id(&status.cluster),
                proxy_type: syms.id(&status.proxy_type),
                version: syms.id(&status.version),
            }),
            states: status.xds.each_ref().map(|x| x.state),
            nonces,
            texts: NonceTexts::new(&texts[..held]),
            extras,
        }
    }

    /// The report says what `status` does: what `pack(status)` would equal, read in
    /// place (an answer again is mostly the same reports). `names` are the namespace and
    /// name of the report's pod.
    fn matches(
        &self,
        status: &ProxyStatus,
        (syms, profiles): (&Symbols, &Profiles),
        names: Option<(&str, &str)>,
    ) -> bool {
        let Some(profile) = profiles.get(self.profile) else {
            return false;
        };
        let text_is = |slot: u8, t: &Text| match slot.checked_sub(1) {
            None => t.is_empty(),
            Some(at) => usize::from(at) < self.texts.len() && self.texts.get(at.into()) == &**t,
        };
        let extras = |t: usize, x: &XdsStatus| match &self.extras {
            None => x.sent_time.is_none() && x.last_error.is_none(),
            Some(e) => e.sent_time[t] == x.sent_time && e.last_error[t] == x.last_error,
        };
        let proxy = match self.extras.as_ref().and_then(|e| e.proxy.as_ref()) {
            Some(odd) => *odd == status.proxy,
            None => is_proxy_name(&status.proxy, &status.pod, &status.namespace),
        };
        names == Some((status.namespace.as_ref(), status.pod.as_ref()))
            && proxy
            && *syms.get(profile.cluster) == status.cluster
            && *syms.get(profile.proxy_type) == status.proxy_type
            && *syms.get(profile.version) == status.version
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
            Some(at) => Text::from(self.texts.get(at.into())),
            None => Text::default(),
        }
    }

    /// istiod's NAME of the proxy when it is not `<pod>.<namespace>`.
    pub fn odd_name(&self) -> Option<&Name> {
        self.extras.as_ref()?.proxy.as_ref()
    }

    /// The state in one word, as `overall` says of the status.
    pub fn overall(&self) -> SyncState {
        worst(self.states)
    }

    /// Every type SYNCED (or not applicable), as `ProxyStatus::in_sync` says.
    pub fn in_sync(&self) -> bool {
        all_in_sync(self.states)
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

/// istioctl's order of proxies, by NAME (`<pod>.<namespace>`), compared from a pod's
/// namespace and name without building the name; equal names (a pod name holding a dot)
/// by namespace, then name.
pub(crate) fn proxy_order(a: (&str, &str), b: (&str, &str)) -> Ordering {
    fn name_bytes<'a>((namespace, pod): (&'a str, &'a str)) -> impl Iterator<Item = u8> + 'a {
        let dot: &[u8] = if namespace.is_empty() { b"" } else { b"." };
        pod.bytes()
            .chain(dot.iter().copied())
            .chain(namespace.bytes())
    }
    let (x, y) = (a.1.as_bytes(), b.1.as_bytes());
    let common = x.len().min(y.len());
    // Pod names mostly differ within their common length: one memcmp decides.
    x[..common]
        .cmp(&y[..common])
        .then_with(|| name_bytes(a).skip(common).cmp(name_bytes(b).skip(common)))
        .then_with(|| a.cmp(&b))
}

/// A proxy's place in the Proxies view, by its pod's key: istioctl's order
/// (`proxy_order`). What the full list of rows sorts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyKey(pub ObjectKey);

impl Ord for ProxyKey {
    fn cmp(&self, other: &Self) -> Ordering {
        proxy_order(
            (&self.0.namespace, &self.0.name),
            (&other.0.namespace, &other.0.name),
        )
    }
}

impl PartialOrd for ProxyKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a proxy's line in the Proxies view shows that its preferred report decides, kept
/// in step with it: 24 bytes. What its pod says (node, versions, whether it runs) is read
/// from the pod's row when the line is shown, and what depends on the whole mesh
/// (istiod's versions, whether every replica has answered) from the mesh.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    /// `None`: a running pod with a proxy that no replica reports.
    pub report: Option<LineReport>,
}

/// The preferred report behind a line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineReport {
    /// The reporting replica, by id (`SyncIndex::istiod_of`).
    pub replica: u32,
    /// `STALE` and `ODD_NAME`, in bits.
    flags: u8,
    /// Its cluster, type and version (`SyncIndex::profile`); the version empty when the
    /// proxy does not say.
    pub profile: u32,
    /// Per type, in `XdsType::ALL` order.
    pub states: [SyncState; XDS_TYPES],
}

/// `LineReport::stale`'s bit.
const STALE: u8 = 1;
/// `LineReport::odd_name`'s bit.
const ODD_NAME: u8 = 1 << 1;

impl LineReport {
    /// From the last answer of a replica that does not answer now.
    pub fn stale(&self) -> bool {
        self.flags & STALE != 0
    }

    /// istiod spells the proxy's NAME otherwise than `<pod>.<namespace>` (the report
    /// keeps it).
    pub fn odd_name(&self) -> bool {
        self.flags & ODD_NAME != 0
    }
}

impl Line {
    fn names_cluster(&self, sync: &SyncIndex) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| !sync.profile(r.profile).cluster.is_empty())
    }

    /// The version the proxy reports, else its pod's image tag.
    pub fn version<'a>(
        &self,
        sync: &'a SyncIndex,
        pod: Option<&LineParts<'a>>,
    ) -> Option<&'a Name> {
        self.report
            .as_ref()
            .map(|r| sync.profile(r.profile).version)
            .filter(|v| !v.is_empty())
            .or(pod.and_then(|p| p.proxy_version))
    }
}

/// A profile's texts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProfileNames<'a> {
    pub cluster: &'a Name,
    pub proxy_type: &'a Name,
    pub version: &'a Name,
}

/// Would a pod's line change from `old` to `new`?
fn line_moved(old: Option<&PodSummary>, new: Option<&PodSummary>) -> bool {
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

/// A reported proxy whose pod the model does not hold.
#[derive(Debug)]
struct GoneProxy {
    key: ObjectKey,
    reporters: Reporters,
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
    /// Their cluster, type and version, together.
    profiles: Profiles,
    /// Replicas that have answered with their proxies at least once.
    pub known: BTreeMap<ObjectKey, Known>,
    /// The reports of the proxy of each pod the model holds, by the pod's row id,
    /// preferred first.
    held: Vec<Reporters>,
    /// Reported proxies whose pod the model does not hold, by `Who::gone`'s id.
    gone_proxies: Vec<Option<GoneProxy>>,
    free_gone: Vec<u32>,
    /// The same by pod key, in key order: what the findings name.
    pub gone: BTreeMap<ObjectKey, u32>,
    /// Ids of `gone_proxies` that may have lost their last report during a change: freed
    /// at its end if they have (a replica's reports are taken away and added again).
    sweep: Vec<u32>,
    /// By the reporting replica's revision.
    pub counts: BTreeMap<Name, Counts>,
    /// Running pods with a proxy that no replica reports, by the revision that injected
    /// them.
    pub unreported: BTreeMap<Option<Name>, BTreeSet<PodId>>,
    /// Live-reported proxies with a type STALE or ERROR.
    pub out_of_sync: BTreeSet<ObjectKey>,
    /// Versions the live-reported proxies run, by the replica reporting them.
    pub versions: BTreeMap<ObjectKey, BTreeMap<Name, u32>>,
    /// The Proxies view's lines, in istioctl's order (`proxy_order` of their pods' names):
    /// every reported proxy and every running pod with a proxy that no replica reports.
    pub lines: RankedMap<Who, Line>,
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

/// The reports of `who`, in `held` or `gone_proxies`; `held` grows to hold a new pod's.
fn reporters_in<'a>(
    held: &'a mut Vec<Reporters>,
    gone: &'a mut [Option<GoneProxy>],
    who: Who,
) -> Option<&'a mut Reporters> {
    match who.place() {
        Place::Pod(id) => {
            let at = id as usize;
            if held.len() <= at {
                held.resize_with(at + 1, Reporters::default);
            }
            held.get_mut(at)
        }
        Place::Gone(at) => gone
            .get_mut(at as usize)
            .and_then(Option::as_mut)
            .map(|g| &mut g.reporters),
    }
}

impl SyncIndex {
    /// The proxies a replica reports now (`false`) or last reported (`true`: last known).
    pub fn proxies_of(&self, istiod: &ObjectKey) -> Option<(&[Report], bool)> {
        match self.replicas.get(istiod).map(|r| &r.state) {
            Some(ReplicaState::Ok { .. }) => self.answers.get(istiod).map(|p| (&p[..], false)),
            _ => self.known.get(istiod)?.stale.as_deref().map(|p| (p, true)),
        }
    }

    fn proxies_of_mut(&mut self, istiod: &ObjectKey) -> Option<&mut [Report]> {
        match self.replicas.get(istiod).map(|r| &r.state) {
            Some(ReplicaState::Ok { .. }) => self.answers.get_mut(istiod).map(|p| &mut p[..]),
            _ => self.known.get_mut(istiod)?.stale.as_deref_mut(),
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

    /// The cluster, type and version of a profile id (empty for an unknown one).
    pub fn profile(&self, id: u32) -> ProfileNames<'_> {
        match self.profiles.get(id) {
            Some(p) => ProfileNames {
                cluster: self.syms.get(p.cluster),
                proxy_type: self.syms.get(p.proxy_type),
                version: self.syms.get(p.version),
            },
            None => ProfileNames {
                cluster: &NO_NAME,
                proxy_type: &NO_NAME,
                version: &NO_NAME,
            },
        }
    }

    /// The id of a replica, made on first sight.
    fn replica_id(&mut self, istiod: &ObjectKey) -> u32 {
        if let Some(at) = self.replica_keys.iter().position(|k| k == istiod) {
            return at as u32;
        }
        self.replica_keys.push(istiod.clone());
        (self.replica_keys.len() - 1) as u32
    }

    /// The namespace and name of a proxy's pod.
    pub fn names_of<'a>(&'a self, who: Who, pods: &'a Pods) -> Option<(&'a Name, &'a str)> {
        match who.place() {
            Place::Pod(id) => pods.names(id),
            Place::Gone(at) => {
                let g = self.gone_proxies.get(at as usize)?.as_ref()?;
                Some((&g.key.namespace, &g.key.name))
            }
        }
    }

    /// The key of a proxy's pod.
    pub fn key_of(&self, who: Who, pods: &Pods) -> Option<ObjectKey> {
        let (namespace, name) = self.names_of(who, pods)?;
        Some(ObjectKey {
            namespace: namespace.clone(),
            name: Name::from(name),
        })
    }

    /// The proxy of the pod with this key: the pod's, if the model holds it, else one
    /// istiod still reports.
    pub fn who(&self, key: &ObjectKey, pods: &Pods) -> Option<Who> {
        match pods.id(key) {
            Some(id) => Some(Who::pod(id)),
            None => self.gone.get(key).map(|&at| Who::gone(at)),
        }
    }

    /// The proxy of a reported pod, made among the gone ones if the model does not hold
    /// the pod.
    fn reported_who(&mut self, namespace: &Name, name: &Name, pods: &Pods) -> Who {
        if let Some(id) = pods.id_of(namespace, name) {
            return Who::pod(id);
        }
        let key = ObjectKey {
            namespace: namespace.clone(),
            name: name.clone(),
        };
        if let Some(&at) = self.gone.get(&key) {
            return Who::gone(at);
        }
        let at = self.new_gone(key);
        // Freed at the end of the change unless a report names it by then.
        self.sweep.push(at);
        Who::gone(at)
    }

    /// A place among the gone proxies for a pod's key, without reports yet.
    fn new_gone(&mut self, key: ObjectKey) -> u32 {
        let proxy = GoneProxy {
            key: key.clone(),
            reporters: Reporters::None,
        };
        let at = match self.free_gone.pop() {
            Some(at) => {
                if let Some(slot) = self.gone_proxies.get_mut(at as usize) {
                    *slot = Some(proxy);
                }
                at
            }
            None => {
                self.gone_proxies.push(Some(proxy));
                // Past 2^31 reported proxies without pods the last is reused: unreachable.
                u32::try_from(self.gone_proxies.len() - 1).unwrap_or(GONE_BIT - 1)
            }
        };
        self.gone.insert(key, at);
        at
    }

    /// Frees the gone proxies that lost their last report in the change just made.
    fn sweep(&mut self) {
        for at in std::mem::take(&mut self.sweep) {
            let Some(slot) = self.gone_proxies.get_mut(at as usize) else {
                continue;
            };
            if slot.as_ref().is_some_and(|g| g.reporters.is_empty())
                && let Some(g) = slot.take()
            {
                self.gone.remove(&g.key);
                self.free_gone.push(at);
            }
        }
    }

    /// A report as istiod made it.
    pub fn unpack(&self, r: &Report, pods: &Pods) -> ProxyStatus {
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
        let (namespace, pod) = self
            .names_of(r.who, pods)
            .map_or_else(|| (empty(), empty()), |(ns, n)| (ns.clone(), Name::from(n)));
        let profile = self.profile(r.profile);
        ProxyStatus {
            proxy: match r.odd_name() {
                Some(name) => name.clone(),
                None => Name::from(proxy_name(&pod, &namespace)),
            },
            pod,
            namespace,
            cluster: profile.cluster.clone(),
            proxy_type: profile.proxy_type.clone(),
            version: profile.version.clone(),
            xds,
        }
    }

    /// The reports of a proxy, preferred first.
    pub fn reporters(&self, who: Who) -> &[Reporter] {
        match who.place() {
            Place::Pod(id) => self.held.get(id as usize).map_or(&[], |r| r),
            Place::Gone(at) => self
                .gone_proxies
                .get(at as usize)
                .and_then(Option::as_ref)
                .map_or(&[], |g| &g.reporters),
        }
    }

    /// The report a proxy's row shows.
    pub fn preferred(&self, who: Who) -> Option<&Reporter> {
        self.reporters(who).first()
    }

    /// Every reported proxy with its reports, preferred first: the pods' by id, then the
    /// gone ones.
    pub fn reported(&self) -> impl Iterator<Item = (Who, &[Reporter])> + '_ {
        let held = self
            .held
            .iter()
            .enumerate()
            .map(|(id, r)| (Who::pod(id as PodId), &r[..]));
        let gone = self
            .gone_proxies
            .iter()
            .enumerate()
            .filter_map(|(at, g)| Some((Who::gone(at as u32), &g.as_ref()?.reporters[..])));
        held.chain(gone).filter(|(_, r)| !r.is_empty())
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

    /// Where a proxy's line is, or would go.
    fn line_spot(&self, who: Who, pods: &Pods) -> Spot {
        let names = |w: Who| {
            self.names_of(w, pods)
                .map_or(("", ""), |(ns, n)| (ns.as_ref(), n))
        };
        let target = names(who);
        self.lines
            .locate_by(|held| proxy_order(names(*held), target))
    }

    /// Adds (or takes away) what one proxy counts for, by its preferred report.
    fn contribute(&mut self, who: Who, preferred: Option<&Reporter>, pods: &Pods, add: bool) {
        let Some(r) = preferred else {
            if let Place::Pod(id) = who.place()
                && let Some(p) = pods.line_parts(id).filter(|p| p.running)
            {
                let revision = p.injected_revision.cloned();
                group_member(&mut self.unreported, &revision, id, add);
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
        let version = self.profile(status.profile).version.clone();
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
            if !in_sync && let Some(key) = self.key_of(who, pods) {
                set_member(&mut self.out_of_sync, key, add);
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
    }

    /// Changes the reports of one proxy, moving its contribution and its line along.
    fn report(&mut self, who: Who, reporter: Reporter, pods: &Pods, add: bool) {
        let keys = &self.replica_keys;
        let Some(reports) = reporters_in(&mut self.held, &mut self.gone_proxies, who) else {
            return;
        };
        let before = reports.first().copied();
        match (add, reports.binary_search_by(|r| order(keys, r, &reporter))) {
            (true, Err(at)) => reports.insert(at, reporter),
            (false, Ok(at)) => reports.remove(at),
            _ => {}
        }
        let after = reports.first().copied();
        if let (Place::Gone(at), None) = (who.place(), after) {
            self.sweep.push(at);
        }
        // Only the preferred report counts, and only it shows on the line.
        if before == after {
            return;
        }
        self.contribute(who, before.as_ref(), pods, false);
        self.contribute(who, after.as_ref(), pods, true);
        if self.lines_kept {
            let running = match who.place() {
                Place::Pod(id) => pods.line_parts(id).is_some_and(|p| p.running),
                Place::Gone(_) => false,
            };
            let line = self.make_line(after.as_ref(), running);
            let spot = self.line_spot(who, pods);
            self.put_line(spot, who, line, false);
        }
    }

    /// A proxy's line, as its preferred report says now and whether its pod runs with a
    /// proxy (`running`: it has a line whether a replica reports it or not).
    fn make_line(&self, preferred: Option<&Reporter>, running: bool) -> Option<Line> {
        let Some(r) = preferred else {
            return running.then_some(Line { report: None });
        };
        let status = self.status(r)?;
        Some(Line {
            report: Some(LineReport {
                replica: r.replica,
                flags: if r.stale { STALE } else { 0 }
                    | if status.odd_name().is_some() {
                        ODD_NAME
                    } else {
                        0
                    },
                profile: status.profile,
                states: status.states,
            }),
        })
    }

    /// Puts a proxy's line at its spot (or takes it away). `pod_moved`: what the line
    /// reads of its pod changed, so a line that stays changed too.
    fn put_line(&mut self, spot: Spot, who: Who, line: Option<Line>, pod_moved: bool) {
        let held = self.lines.at_spot(spot);
        if held == line.as_ref() && !(pod_moved && held.is_some()) {
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
        self.lines_with_cluster +=
            u32::from(line.as_ref().is_some_and(|line| line.names_cluster(self)));
        let old = self.lines.put(spot, who, line);
        if old.is_some_and(|old| old.names_cluster(self)) {
            self.lines_with_cluster -= 1;
        }
    }

    /// Makes every line afresh, when they come or go all at once: the first replica
    /// answered, or the last is gone. The pods are read in order rather than looked up one
    /// by one, and the lines are sorted once rather than inserted one by one.
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
        let mut made: Vec<((&str, &str), Who, Line)> = Vec::new();
        for id in pods.ids() {
            let who = Who::pod(id);
            let running = pods.line_parts(id).is_some_and(|p| p.running);
            if let Some(line) = self.make_line(self.preferred(who), running)
                && let Some((ns, name)) = pods.names(id)
            {
                made.push(((ns, name), who, line));
            }
        }
        for (key, &at) in &self.gone {
            let who = Who::gone(at);
            if let Some(line) = self.make_line(self.preferred(who), false) {
                made.push(((&key.namespace, &key.name), who, line));
            }
        }
        made.sort_by(|(a, _, _), (b, _, _)| proxy_order(*a, *b));
        let made: Vec<(Who, Line)> = made.into_iter().map(|(_, w, l)| (w, l)).collect();
        self.lines_with_cluster = made.iter().filter(|(_, l)| l.names_cluster(self)).count() as u32;
        self.lines = RankedMap::from_sorted(made);
    }

    /// Adds or takes away every report of one replica.
    fn replica_reports(&mut self, istiod: &ObjectKey, pods: &Pods, add: bool) {
        let replica = self.replica_id(istiod);
        let Some((proxies, stale)) = self.proxies_of(istiod) else {
            return;
        };
        let reports: Vec<(Who, Reporter)> = proxies
            .iter()
            .enumerate()
            .map(|(index, p)| {
                (
                    p.who,
                    Reporter {
                        stale,
                        replica,
                        index: index as u32,
                    },
                )
            })
            .collect();
        for (who, reporter) in reports {
            self.report(who, reporter, pods, add);
        }
    }

    /// Packs a report, naming its proxy by its pod.
    fn pack(&mut self, status: &ProxyStatus, pods: &Pods) -> Report {
        let who = self.reported_who(&status.namespace, &status.pod, pods);
        Report::pack(status, who, &mut self.syms, &mut self.profiles)
    }

    /// Points the reports `listed` lists at `to`, as a proxy's pod comes or goes.
    fn point_reports(&mut self, listed: Who, to: Who) {
        let reporters: Vec<Reporter> = self.reporters(listed).to_vec();
        for r in reporters {
            let Some(istiod) = self.istiod_of(r.replica).cloned() else {
                continue;
            };
            if let Some(report) = self
                .proxies_of_mut(&istiod)
                .and_then(|p| p.get_mut(r.index as usize))
            {
                report.who = to;
            }
        }
    }

    /// The pod of a proxy istiod reports without it came: its reports and line move to
    /// the pod's id.
    fn adopt(&mut self, id: PodId, key: &ObjectKey, pods: &Pods) {
        let Some(&at) = self.gone.get(key) else {
            return;
        };
        let (from, to) = (Who::gone(at), Who::pod(id));
        self.point_reports(from, to);
        if self.lines_kept {
            let spot = self.line_spot(from, pods);
            self.lines.rekey(spot, to);
        }
        let reporters = self
            .gone_proxies
            .get_mut(at as usize)
            .and_then(Option::take)
            .map(|g| g.reporters)
            .unwrap_or_default();
        if let Some(slot) = reporters_in(&mut self.held, &mut self.gone_proxies, to) {
            *slot = reporters;
        }
        self.gone.remove(key);
        self.free_gone.push(at);
    }

    /// The pod of a reported proxy goes (still held in `pods` for its name): its reports
    /// and line move among the gone proxies.
    fn orphan(&mut self, id: PodId, key: &ObjectKey, pods: &Pods) {
        let from = Who::pod(id);
        let reporters = match self.held.get_mut(id as usize) {
            Some(r) if !r.is_empty() => std::mem::take(r),
            _ => return,
        };
        let to = Who::gone(self.new_gone(key.clone()));
        if let Some(slot) = reporters_in(&mut self.held, &mut self.gone_proxies, to) {
            *slot = reporters;
        }
        self.point_reports(to, to);
        if self.lines_kept {
            // The pod is still in `pods`: the line is found by its name.
            let spot = self.line_spot(from, pods);
            self.lines.rekey(spot, to);
        }
    }

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

    /// Takes a replica's latest answer; true if anything changed.
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
            && let Some(positions) = self.changes(&key, &replica, new, pods)
        {
            if same && positions.is_empty() {
                // The same answer again: only its time moves, which no view shows live.
                if let Some(known) = self.known.get_mut(&key) {
                    known.at = at;
                }
                return false;
            }
            self.answer_again(key, replica, new, &positions, at, pods);
            self.sweep();
            return true;
        }
        if same && proxies.is_none() {
            return false;
        }
        let first = self.replicas.is_empty();
        self.replica_id(&key);
        self.replica_reports(&key, pods, false);
        self.replicas.insert(key.clone(), replica);
        let last_ok = self.answers.remove(&key);
        match proxies {
            Some(proxies) => {
                let reports = proxies.iter().map(|p| self.pack(p, pods)).collect();
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
        self.sweep();
        true
    }

    /// How a replica's answer differs from its last, when both are Ok for the same revision:
    /// the positions whose report changed.
    fn changes(
        &self,
        key: &ObjectKey,
        replica: &ReplicaSync,
        new: &[ProxyStatus],
        pods: &Pods,
    ) -> Option<Vec<usize>> {
        let last = self.replicas.get(key)?;
        let (ReplicaState::Ok { .. }, ReplicaState::Ok { .. }) = (&last.state, &replica.state)
        else {
            return None;
        };
        if last.revision != replica.revision {
            return None;
        }
        let old = self.answers.get(key)?;
        let names = |r: &Report| self.names_of(r.who, pods).map(|(ns, n)| (ns.as_ref(), n));
        Some(
            (0..old.len().max(new.len()))
                .filter(|&i| match (old.get(i), new.get(i)) {
                    (Some(o), Some(n)) => !o.matches(n, (&self.syms, &self.profiles), names(o)),
                    (None, None) => false,
                    _ => true,
                })
                .collect(),
        )
    }

    /// A replica that answered with its proxies answers again (what the poller brings every
    /// few seconds): only the proxies whose report changed (by position in the answer) are
    /// taken away and added again, so an answer costs what changed in it, not its size.
    fn answer_again(
        &mut self,
        key: ObjectKey,
        replica: ReplicaSync,
        new: &[ProxyStatus],
        positions: &[usize],
        at: Timestamp,
        pods: &Pods,
    ) {
        let id = self.replica_id(&key);
        let reporter = |index: usize| Reporter {
            stale: false,
            replica: id,
            index: index as u32,
        };
        let gone: Vec<(usize, Who)> = match self.answers.get(&key) {
            Some(old) => positions
                .iter()
                .filter_map(|&i| Some((i, old.get(i)?.who)))
                .collect(),
            None => Vec::new(),
        };
        for (i, who) in gone {
            self.report(who, reporter(i), pods, false);
        }
        self.replicas.insert(key.clone(), replica);
        // Only the reports that changed are packed again.
        self.answers
            .entry(key.clone())
            .or_default()
            .truncate(new.len());
        let mut came = Vec::with_capacity(positions.len());
        for &i in positions {
            let Some(status) = new.get(i) else {
                continue;
            };
            let packed = self.pack(status, pods);
            came.push((i, packed.who));
            let reports = self.answers.entry(key.clone()).or_default();
            match reports.get_mut(i) {
                Some(r) => *r = packed,
                None => reports.push(packed),
            }
        }
        self.known.insert(key.clone(), Known { at, stale: None });
        for (i, who) in came {
            self.report(who, reporter(i), pods, true);
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
        self.sweep();
        if last {
            self.rebuild_lines(pods);
        }
        true
    }

    /// Pod `id` (`key`) was added, changed or is being removed: called after it is put in
    /// `pods`, and before it is taken out of them (its name is read from its row).
    pub fn pod_changed(
        &mut self,
        (id, key): (PodId, &ObjectKey),
        old: Option<&PodSummary>,
        new: Option<&PodSummary>,
        pods: &Pods,
    ) {
        let who = Who::pod(id);
        if old.is_none() && new.is_some() {
            self.adopt(id, key, pods);
        }
        let reported = !self.reporters(who).is_empty();
        let has_line =
            reported || old.is_some_and(expects_connection) || new.is_some_and(expects_connection);
        if self.lines_kept && has_line && line_moved(old, new) {
            let running = new.is_some_and(expects_connection);
            let line = self.make_line(self.preferred(who), running);
            let spot = self.line_spot(who, pods);
            self.put_line(spot, who, line, true);
        }
        if reported {
            if new.is_none() {
                self.orphan(id, key, pods);
            }
            return;
        }
        if let Some(p) = old.filter(|p| expects_connection(p)) {
            group_member(&mut self.unreported, &p.injected_revision, id, false);
        }
        if let Some(p) = new.filter(|p| expects_connection(p)) {
            group_member(&mut self.unreported, &p.injected_revision, id, true);
        }
    }
}

/// A line with its symbols, replica and pod read back: what two models' lines compare by
/// (each numbers its strings and pods in the order it met them).
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
fn no_key() -> ObjectKey {
    ObjectKey {
        namespace: empty(),
        name: empty(),
    }
}

#[cfg(test)]
impl SyncIndex {
    fn shown(&self, who: Who, line: &Line, pods: &Pods) -> ShownLine {
        let r = line.report.as_ref();
        let key = self.key_of(who, pods).unwrap_or_else(no_key);
        let parts = match who.place() {
            Place::Pod(id) => pods.line_parts(id),
            Place::Gone(_) => None,
        };
        let name = match r.filter(|r| r.odd_name()) {
            Some(_) => self
                .preferred(who)
                .and_then(|p| self.status(p))
                .and_then(|s| s.odd_name().cloned())
                .unwrap_or_default(),
            None => Name::from(proxy_name(&key.name, &key.namespace)),
        };
        ShownLine {
            name,
            istiod: r.and_then(|r| self.istiod_of(r.replica)).cloned(),
            stale: r.is_some_and(|r| r.stale()),
            cluster: r
                .map(|r| self.profile(r.profile).cluster.clone())
                .unwrap_or_default(),
            proxy_type: r
                .map(|r| self.profile(r.profile).proxy_type.clone())
                .unwrap_or_default(),
            version: r.map(|r| self.profile(r.profile).version.clone()),
            states: r.map(|r| r.states),
            held: parts.is_some(),
            running: parts.is_some_and(|p| p.running),
            node: parts.and_then(|p| p.node.cloned()),
            proxy_version: parts.and_then(|p| p.proxy_version.cloned()),
            injected_revision: parts.and_then(|p| p.injected_revision.cloned()),
        }
    }

    /// The lines kept, in order.
    pub fn kept_lines(&self, pods: &Pods) -> Vec<(ProxyKey, ShownLine)> {
        self.lines
            .iter()
            .map(|(w, l)| {
                let key = self.key_of(*w, pods).unwrap_or_else(no_key);
                (ProxyKey(key), self.shown(*w, l, pods))
            })
            .collect()
    }

    /// Each proxy's reports, preferred first, with their replicas named, by pod key.
    pub fn shown_reporters(
        &self,
        pods: &Pods,
    ) -> BTreeMap<ObjectKey, Vec<(bool, Option<ObjectKey>, u32)>> {
        self.reported()
            .map(|(who, rs)| {
                let rs = rs
                    .iter()
                    .map(|r| (r.stale, self.istiod_of(r.replica).cloned(), r.index))
                    .collect();
                (self.key_of(who, pods).unwrap_or_else(no_key), rs)
            })
            .collect()
    }

    /// Proxies kept among the gone ones that no report names any more (none should be).
    pub fn unreported_gone(&self) -> usize {
        let held = self.gone_proxies.iter().flatten();
        let empty = held.clone().filter(|g| g.reporters.is_empty()).count();
        empty + held.count().abs_diff(self.gone.len())
    }

    /// The running pods no replica reports, by revision, by key.
    pub fn shown_unreported(&self, pods: &Pods) -> BTreeMap<Option<Name>, Vec<ObjectKey>> {
        self.unreported
            .iter()
            .map(|(rev, ids)| (rev.clone(), pods.keys_in_order(ids.iter().copied())))
            .collect()
    }

    /// A replica's latest answer as it came, its proxies included.
    pub fn answer_of(&self, istiod: &ObjectKey, pods: &Pods) -> Option<ReplicaSync> {
        let mut r = self.replicas.get(istiod)?.clone();
        if let ReplicaState::Ok { proxies, .. } = &mut r.state {
            *proxies = self
                .answers
                .get(istiod)
                .map(|a| a.iter().map(|p| self.unpack(p, pods)).collect())
                .unwrap_or_default();
        }
        Some(r)
    }

    /// The last proxies of a replica that stopped answering, as they came.
    pub fn last_known_of(&self, istiod: &ObjectKey, pods: &Pods) -> Option<Vec<ProxyStatus>> {
        let stale = self.known.get(istiod)?.stale.as_ref()?;
        Some(stale.iter().map(|p| self.unpack(p, pods)).collect())
    }

    /// The lines made from scratch from the reports and the pods' summaries, in order:
    /// what the lines kept must equal.
    pub fn rebuilt_lines(&self, pods: &Pods) -> Vec<(ProxyKey, ShownLine)> {
        let mut lines = Vec::new();
        if self.replicas.is_empty() {
            return lines;
        }
        let reported = self.reported().filter_map(|(w, _)| self.key_of(w, pods));
        for pod in reported.chain(pods.keys()) {
            let p = pods.get(&pod);
            let p = p.as_ref();
            let who = self.who(&pod, pods);
            let preferred = who.and_then(|w| self.preferred(w));
            let Some(status) = preferred.and_then(|r| Some((r, self.status(r)?))) else {
                if p.is_some_and(expects_connection) {
                    lines.push((ProxyKey(pod.clone()), self.pod_line(&pod, p, None)));
                }
                continue;
            };
            lines.push((ProxyKey(pod.clone()), self.pod_line(&pod, p, Some(status))));
        }
        lines.sort_by(|(a, _), (b, _)| a.cmp(b));
        lines.dedup_by(|(a, _), (b, _)| a == b);
        lines
    }

    /// A line made from a pod's summary and its preferred report.
    fn pod_line(
        &self,
        pod: &ObjectKey,
        p: Option<&PodSummary>,
        report: Option<(&Reporter, &Report)>,
    ) -> ShownLine {
        let status = report.map(|(_, s)| s);
        ShownLine {
            name: status
                .and_then(|s| s.odd_name().cloned())
                .unwrap_or_else(|| Name::from(proxy_name(&pod.name, &pod.namespace))),
            istiod: report.and_then(|(r, _)| self.istiod_of(r.replica)).cloned(),
            stale: report.is_some_and(|(r, _)| r.stale),
            cluster: status
                .map(|s| self.profile(s.profile).cluster.clone())
                .unwrap_or_default(),
            proxy_type: status
                .map(|s| self.profile(s.profile).proxy_type.clone())
                .unwrap_or_default(),
            version: status.map(|s| self.profile(s.profile).version.clone()),
            states: status.map(|s| s.states),
            held: p.is_some(),
            running: p.is_some_and(expects_connection),
            node: p.and_then(|p| p.node.clone()),
            proxy_version: p.and_then(|p| p.proxy_version.clone()),
            injected_revision: p.and_then(|p| p.injected_revision.clone()),
        }
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
        let mut pods = Pods::default();
        let id = pods.insert(
            &crate::model::fixture::pod("default", "reviews-v1-545db77b95-qvbm7").summary(),
        );
        let who = Who::pod(id);
        let names = Some(("default", "reviews-v1-545db77b95-qvbm7"));
        let plain = status("c1a9");
        let mut newer = status("c1a9");
        newer.xds[1].sent_time = SentTime::new(Timestamp::UNIX_EPOCH);
        newer.xds[3].last_error = Some(Text::from("rejected: bad route"));
        newer.xds[4].last_error = Some(Text::default());
        // istiod's NAME is kept when it is not the pod's and namespace's joined.
        let mut odd = status("c1a9");
        odd.proxy = Name::from("reviews-v1-545db77b95-qvbm7.default.");
        for s in [&plain, &newer, &odd] {
            let r = Report::pack(s, who, &mut sync.syms, &mut sync.profiles);
            assert_eq!(sync.unpack(&r, &pods), *s);
            assert!(r.matches(s, (&sync.syms, &sync.profiles), names));
            assert_eq!(r.overall(), overall(s));
            assert_eq!(r.in_sync(), s.in_sync());
        }
        let r = Report::pack(&plain, who, &mut sync.syms, &mut sync.profiles);
        // Two texts for fourteen nonces; no extras before istiod 1.23.
        assert_eq!(r.texts.len(), 2);
        assert_eq!(r.texts.get(1), "c1a9-2");
        assert_eq!(r.texts.get(2), "");
        assert!(r.extras.is_none());
        assert!(!r.matches(&newer, (&sync.syms, &sync.profiles), names));
        assert!(!r.matches(&odd, (&sync.syms, &sync.profiles), names));
        assert!(!r.matches(
            &plain,
            (&sync.syms, &sync.profiles),
            Some(("default", "reviews"))
        ));
        assert!(!r.matches(&plain, (&sync.syms, &sync.profiles), None));
        let mut other = status("c1a9");
        other.xds[2].acked = Text::from("c1a9-2");
        assert!(!r.matches(&other, (&sync.syms, &sync.profiles), names));
        let mut other = status("c1a9");
        other.version = Name::from("1.22.2");
        assert!(!r.matches(&other, (&sync.syms, &sync.profiles), names));
        let mut other = status("c1a9");
        other.xds[0].state = SyncState::Stale;
        assert!(!r.matches(&other, (&sync.syms, &sync.profiles), names));
        assert!(!r.matches(&status("c1b0"), (&sync.syms, &sync.profiles), names));
        assert!(std::mem::size_of::<Report>() <= 48);
        assert!(std::mem::size_of::<Line>() <= 16);
        assert!(std::mem::size_of::<(Who, Line)>() <= 20);
        assert!(std::mem::size_of::<Reporter>() <= 12);
        assert!(std::mem::size_of::<Reporters>() <= 16);
    }

    #[test]
    fn nonce_texts_read_back_and_broken_ones_read_empty() {
        let texts = NonceTexts::new(&["a1", "", "ünï"]);
        assert_eq!(texts.len(), 3);
        assert_eq!(
            [texts.get(0), texts.get(1), texts.get(2)],
            ["a1", "", "ünï"]
        );
        assert_eq!(texts.get(3), "");
        assert_eq!(NonceTexts::default().get(0), "");
        // A header claiming more than the bytes hold reads as empty texts, not a panic.
        let broken = NonceTexts(vec![9, 200, 0, 0, 0, b'x'].into_boxed_slice());
        assert_eq!(broken.get(0), "");
        assert_eq!(broken.get(8), "");
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
        assert_eq!(rs, Reporters::None);
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
        assert_eq!(rs, Reporters::None);
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
