//! Proxy sync status as istiod reports it on `/debug/syncz`: the types, and the states
//! computed exactly as istioctl computes them.

use std::fmt;
use std::num::NonZeroI64;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::intern::Name;

/// The xDS types meshtop shows: Envoy's in istioctl's column order, then ztunnel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum XdsType {
    Cds,
    Lds,
    Eds,
    Rds,
    Ecds,
    /// ztunnel's workloads and addresses.
    Wds,
    /// ztunnel's authorization policies.
    Wads,
}

/// How many types a proxy's report holds: `XdsType::EVERY`.
pub const XDS_TYPES: usize = 7;

impl XdsType {
    /// Envoy's types: the columns of istioctl's table (1.14–1.26) and of the Proxies view.
    pub const ALL: [XdsType; 5] = [
        XdsType::Cds,
        XdsType::Lds,
        XdsType::Eds,
        XdsType::Rds,
        XdsType::Ecds,
    ];

    /// Every type a report holds, in order (`t as usize` is the position).
    pub const EVERY: [XdsType; XDS_TYPES] = [
        XdsType::Cds,
        XdsType::Lds,
        XdsType::Eds,
        XdsType::Rds,
        XdsType::Ecds,
        XdsType::Wds,
        XdsType::Wads,
    ];

    pub fn short(self) -> &'static str {
        match self {
            XdsType::Cds => "CDS",
            XdsType::Lds => "LDS",
            XdsType::Eds => "EDS",
            XdsType::Rds => "RDS",
            XdsType::Ecds => "ECDS",
            XdsType::Wds => "WDS",
            XdsType::Wads => "WADS",
        }
    }

    /// The full type URLs, the keys of the 1.23+ `resources` map: ztunnel has asked for
    /// its workloads as `Address` since 1.19, as `Workload` before.
    pub fn type_urls(self) -> &'static [&'static str] {
        match self {
            XdsType::Wds => &[
                "type.googleapis.com/istio.workload.Address",
                "type.googleapis.com/istio.workload.Workload",
            ],
            XdsType::Wads => &["type.googleapis.com/istio.security.Authorization"],
            XdsType::Cds => &["type.googleapis.com/envoy.config.cluster.v3.Cluster"],
            XdsType::Lds => &["type.googleapis.com/envoy.config.listener.v3.Listener"],
            XdsType::Eds => &["type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"],
            XdsType::Rds => &["type.googleapis.com/envoy.config.route.v3.RouteConfiguration"],
            XdsType::Ecds => &["type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"],
        }
    }

    /// The main type URL.
    pub fn type_url(self) -> &'static str {
        self.type_urls()[0]
    }
}

/// A proxy's state for one xDS type, in istioctl's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SyncState {
    Synced,
    NotSent,
    Stale,
    StaleNeverAcknowledged,
    /// Not applicable (ztunnel), or a type the proxy does not watch (1.23+).
    Ignored,
    /// The proxy rejected the last push (1.23+ `lastError`).
    Error,
}

impl SyncState {
    /// The words istioctl prints.
    pub fn label(self) -> &'static str {
        match self {
            SyncState::Synced => "SYNCED",
            SyncState::NotSent => "NOT SENT",
            SyncState::Stale => "STALE",
            SyncState::StaleNeverAcknowledged => "STALE (Never Acknowledged)",
            SyncState::Ignored => "IGNORED",
            SyncState::Error => "ERROR",
        }
    }

    /// How far from in sync, for the worst of a proxy's types and for sorting: types not
    /// watched and types never sent weigh least.
    pub fn severity(self) -> u8 {
        match self {
            SyncState::Ignored => 0,
            SyncState::NotSent => 1,
            SyncState::Synced => 2,
            SyncState::Stale => 3,
            SyncState::StaleNeverAcknowledged => 4,
            SyncState::Error => 5,
        }
    }
}

/// A nonce or a message of istiod's, shared between the proxies and types that repeat
/// it: one pointer wide (a proxy's report holds seven types of three), the empty text
/// without allocating.
#[derive(Clone, Default)]
pub struct Text(Option<Arc<Box<str>>>);

impl Text {
    pub fn as_str(&self) -> &str {
        self.0.as_deref().map_or("", |s| s)
    }

    /// Held elsewhere too (an interner keeps it while it is).
    pub(crate) fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|s| Arc::strong_count(s) > 1)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text((!s.is_empty()).then(|| Arc::new(Box::from(s))))
    }
}

impl From<&Name> for Text {
    fn from(s: &Name) -> Self {
        Text::from(s.as_ref())
    }
}

impl From<Name> for Text {
    fn from(s: Name) -> Self {
        Text::from(s.as_ref())
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        // Interned texts are compared by pointer: an answer compared with the last one
        // (14 texts a proxy) reads no string held in both.
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for Text {}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// When a type was last sent, to the nanosecond, in 8 bytes (a `Timestamp` takes 16, and
/// 24 as an `Option`): istiod's times fall well within the ±292 years around 1970 that
/// nanoseconds in an `i64` cover.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SentTime(NonZeroI64);

impl SentTime {
    /// `None` for a time outside the years it covers.
    pub fn new(at: Timestamp) -> Option<SentTime> {
        let nanos = i64::try_from(at.as_nanosecond()).ok()?;
        // The epoch itself is kept a nanosecond later: no report names it.
        NonZeroI64::new(nanos).or(NonZeroI64::new(1)).map(SentTime)
    }

    pub fn get(self) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(self.0.get())).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    pub fn as_second(self) -> i64 {
        self.get().as_second()
    }
}

impl fmt::Debug for SentTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

/// As a `Timestamp` shows: the precision asked for (`{:.0}`) is passed on.
impl fmt::Display for SentTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

impl Serialize for SentTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.get())
    }
}

/// One xDS type of one proxy: the state and the raw values behind it, in 48 bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct XdsStatus {
    pub state: SyncState,
    /// Nonce (or version) last sent; empty if never.
    pub sent: Text,
    /// Nonce last acknowledged; empty if never.
    pub acked: Text,
    /// 1.23+: when it was last sent.
    pub sent_time: Option<SentTime>,
    /// 1.23+: the proxy's last NACK.
    pub last_error: Option<Text>,
}

impl XdsStatus {
    /// A type with neither a send time nor an error, as every istiod before 1.23 reports it.
    pub fn new(state: SyncState, sent: impl Into<Text>, acked: impl Into<Text>) -> Self {
        Self {
            state,
            sent: sent.into(),
            acked: acked.into(),
            sent_time: None,
            last_error: None,
        }
    }

    /// A type the proxy does not watch (ztunnel's types on an Envoy proxy, and the reverse).
    pub fn ignored() -> Self {
        Self::new(SyncState::Ignored, Text::default(), Text::default())
    }
}

/// One proxy as one istiod replica reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyStatus {
    /// `<pod>.<namespace>`, istioctl's NAME.
    pub proxy: Name,
    pub pod: Name,
    pub namespace: Name,
    /// `cluster_id` (1.13+), else empty.
    pub cluster: Name,
    /// `proxy_type` (1.18+): sidecar, router, waypoint, ztunnel; else empty.
    pub proxy_type: Name,
    /// `istio_version` (the proxy's ISTIO_VERSION), else `proxy_version`.
    pub version: Name,
    /// Per type, in `XdsType::EVERY` order.
    pub xds: [XdsStatus; XDS_TYPES],
}

impl ProxyStatus {
    pub fn state(&self, t: XdsType) -> SyncState {
        self.xds[t as usize].state
    }

    /// The types it subscribes to (every one not IGNORED), in `XdsType::EVERY` order:
    /// istioctl 1.27+'s SUBSCRIBED TYPES.
    pub fn subscribed(&self) -> impl Iterator<Item = XdsType> + '_ {
        XdsType::EVERY
            .into_iter()
            .filter(|&t| self.state(t) != SyncState::Ignored)
    }

    /// Every type SYNCED (or not applicable).
    pub fn in_sync(&self) -> bool {
        all_in_sync(self.xds.iter().map(|x| x.state))
    }
}

/// Every state SYNCED, NOT SENT or IGNORED.
pub(crate) fn all_in_sync(states: impl IntoIterator<Item = SyncState>) -> bool {
    states.into_iter().all(|s| {
        matches!(
            s,
            SyncState::Synced | SyncState::NotSent | SyncState::Ignored
        )
    })
}

/// How one istiod replica answered the last poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ReplicaState {
    /// Answered; `via` says how (`port-forward` or `pod-proxy`).
    Ok {
        via: &'static str,
        proxies: Vec<ProxyStatus>,
    },
    /// RBAC refused what meshtop needs: the message names the missing permission.
    Forbidden { message: String },
    /// istiod refused (401/403 from istiod itself).
    Refused { message: String },
    /// Could not be reached (port-forward failed, timeout, pod not running).
    Unreachable { message: String },
}

/// The latest answer of one istiod replica, as the sync poller sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaSync {
    pub namespace: Name,
    /// The istiod pod asked (istioctl's ISTIOD column).
    pub istiod: Name,
    pub revision: Name,
    pub state: ReplicaState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_stays_compact() {
        // Seven types a proxy, 90,000 proxies in a large mesh: every byte here is 630 KB.
        assert!(std::mem::size_of::<XdsStatus>() <= 48);
        assert!(std::mem::size_of::<ProxyStatus>() <= 432);
        assert_eq!(std::mem::size_of::<Text>(), 8);
        assert_eq!(std::mem::size_of::<Option<SentTime>>(), 8);
    }

    #[test]
    fn sent_times_keep_their_nanoseconds_and_texts_their_words() {
        for at in ["2026-08-01T10:00:00.123456789Z", "1999-12-31T23:59:59Z"] {
            let t: Timestamp = at.parse().expect("a timestamp");
            let sent = SentTime::new(t).expect("within the years covered");
            assert_eq!(sent.get(), t);
            assert_eq!(sent.to_string(), t.to_string());
            assert_eq!(format!("{sent:.0}"), format!("{t:.0}"));
            assert_eq!(
                serde_json::to_value(sent).expect("serializes"),
                serde_json::to_value(t.to_string()).expect("serializes")
            );
        }
        // Beyond what nanoseconds in an i64 hold: no time rather than a wrong one.
        let far: Timestamp = "2300-01-01T00:00:00Z".parse().expect("a timestamp");
        assert_eq!(SentTime::new(far), None);
        assert_eq!(
            SentTime::new(Timestamp::UNIX_EPOCH).map(|s| s.as_second()),
            Some(0)
        );
        let empty = Text::from("");
        assert!(empty.is_empty() && empty == Text::default());
        let nonce = Text::from("2026-08-01T10:00:00Z/42");
        assert_eq!(nonce.as_str(), "2026-08-01T10:00:00Z/42");
        assert_eq!(format!("{nonce:?}"), "\"2026-08-01T10:00:00Z/42\"");
        assert_eq!(
            serde_json::to_value(&nonce).expect("serializes"),
            serde_json::json!("2026-08-01T10:00:00Z/42")
        );
    }
}
