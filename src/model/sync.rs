//! Proxy sync status as istiod reports it on `/debug/syncz`: the types, and the states
//! computed exactly as istioctl computes them.

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

/// One xDS type of one proxy: the state and the raw values behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct XdsStatus {
    pub state: SyncState,
    /// Nonce (or version) last sent; empty if never.
    pub sent: Name,
    /// Nonce last acknowledged; empty if never.
    pub acked: Name,
    /// 1.23+: when it was last sent.
    pub sent_time: Option<Timestamp>,
    /// 1.23+: the proxy's last NACK.
    pub last_error: Option<Name>,
}

impl XdsStatus {
    /// A type with neither a send time nor an error, as every istiod before 1.23 reports it.
    pub fn new(state: SyncState, sent: Name, acked: Name) -> Self {
        Self {
            state,
            sent,
            acked,
            sent_time: None,
            last_error: None,
        }
    }

    /// A type the proxy does not watch (ztunnel's types on an Envoy proxy, and the reverse).
    pub fn ignored() -> Self {
        Self::new(SyncState::Ignored, Name::from(""), Name::from(""))
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
        self.xds.iter().all(|x| {
            matches!(
                x.state,
                SyncState::Synced | SyncState::NotSent | SyncState::Ignored
            )
        })
    }
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
