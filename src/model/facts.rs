//! Derived facts: what the views and `meshtop get` show, computed from the model's
//! summaries and aggregates. Each row type is serializable for `-o json|yaml`.
//!
//! One file per view under `facts/`; each iterates revisions, gateways, PDBs, nodes or
//! namespaces and their aggregates, never every pod.

pub(crate) mod disruption;
pub(crate) mod findings;
pub(crate) mod gateways;
pub(crate) mod namespaces;
pub(crate) mod nodes;
pub(crate) mod proxies;
pub(crate) mod revisions;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::intern::Name;
use super::summary::IntOrPercent;
use super::sync::{SyncState, XDS_TYPES, XdsStatus, XdsType};

/// How a revision was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevisionSource {
    IstioOperator,
    Istiod,
    Webhook,
    Tag,
    /// The non-revisioned control plane of Istio before 1.5 (istio-pilot, istio-galley...).
    Legacy,
}

/// One control-plane revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionRow {
    /// `default` for the revision-less install.
    pub revision: Name,
    pub sources: Vec<RevisionSource>,
    /// How it was installed: `helm <release>`, `sail <resource>`, `istioctl`,
    /// `operator`, `helm2 <release>`; `None` when nothing says.
    pub installed_by: Option<String>,
    /// `namespace/name` of its IstioOperator, if any.
    pub iop: Option<String>,
    /// IstioOperator `status.status` (HEALTHY, ...), if any.
    pub iop_status: Option<Name>,
    pub istiod_ready: u32,
    pub istiod_desired: u32,
    /// istiod's version (image tag of `discovery`).
    pub version: Option<Name>,
    /// Revision tags pointing at it.
    pub tags: Vec<Name>,
    /// Is it the default revision (owns `istio-injection=enabled`)?
    pub default: bool,
    /// Namespaces that select it (by label, directly or via a tag).
    pub namespaces: Vec<Name>,
    /// Pods it injected.
    pub pods: u32,
    /// Its Deployments, for the legacy control plane (`istio-pilot`, `istio-galley`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Name>,
}

impl RevisionRow {
    /// The non-revisioned control plane of Istio 1.4 and older: no revision to label a
    /// namespace or a gateway with.
    pub fn is_legacy(&self) -> bool {
        self.sources.contains(&RevisionSource::Legacy)
    }
}

/// One gateway deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayRow {
    pub namespace: Name,
    pub name: Name,
    /// `ingress` or `egress` (from labels / the IOP component), else `unknown`.
    pub kind: Name,
    pub revision: Option<Name>,
    /// `app` and `istio` labels of its pods.
    pub app: Option<Name>,
    pub istio: Option<Name>,
    pub ready: u32,
    pub desired: u32,
    pub hpa_min: Option<u32>,
    pub hpa_max: Option<u32>,
    pub service_type: Option<Name>,
    /// `port:nodePort/proto` (or `port/proto`) of its Service(s).
    pub ports: Vec<String>,
    /// Istio `Gateway` resources selecting it, `namespace/name`.
    pub gateway_resources: Vec<String>,
    /// Whether its namespace has the `istio-<rev>` ConfigMap it needs.
    pub has_mesh_config: bool,
    /// Does it mount that ConfigMap? Injected gateways (the `istio/gateway` chart's
    /// `image: auto`) and the ones istiod deploys get their config from istiod.
    pub needs_mesh_config: bool,
    /// Another gateway has the same `app`/`istio` labels.
    pub duplicate_labels: bool,
    /// Node ports also used by another Service.
    pub node_port_collisions: Vec<u16>,
    /// How it was installed (`helm <release>`, `istiod` for a Gateway API gateway, ...).
    pub installed_by: Option<String>,
    /// For a Gateway API `Gateway`: what it declares and what its status says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_api: Option<GatewayApiFacts>,
}

/// A Gateway API `Gateway` behind a gateway row (a gateway istiod deploys, or a waypoint).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayApiFacts {
    pub class: Name,
    /// `name port/protocol` per listener.
    pub listeners: Vec<String>,
    pub addresses: Vec<Name>,
    pub accepted: Option<bool>,
    pub programmed: Option<bool>,
    /// Why it is not Programmed, as its condition says.
    pub programmed_reason: Option<Name>,
    /// The Deployment istiod made for it, if there is one yet.
    pub deployment: Option<Name>,
    /// Waypoints: what traffic it serves (`istio.io/waypoint-for`).
    pub waypoint_for: Option<Name>,
    /// Waypoints: the namespaces and services that use it (`istio.io/use-waypoint`), as
    /// `namespace` and `namespace/service`.
    pub used_by: Vec<String>,
}

/// A pod a PDB selects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectedPod {
    pub name: Name,
    pub node: Option<Name>,
    pub ready: bool,
}

/// As Kubernetes writes an `IntOrString`: a number, or a string such as `"50%"`.
impl Serialize for IntOrPercent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrPercent::Int(n) => serializer.serialize_i32(*n),
            IntOrPercent::Percent(_) => serializer.collect_str(self),
        }
    }
}

/// One PodDisruptionBudget and the drains it blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PdbRow {
    pub namespace: Name,
    pub name: Name,
    /// `None` when the spec leaves it unset (kubectl's `N/A`).
    pub min_available: Option<IntOrPercent>,
    pub max_unavailable: Option<IntOrPercent>,
    pub allowed_disruptions: i32,
    pub current_healthy: i32,
    pub desired_healthy: i32,
    pub expected_pods: i32,
    /// Shared, so that a frame's copy of the rows copies no pod (thousands of budgets
    /// select a large cluster's pods).
    pub pods: Arc<[SelectedPod]>,
    /// Nodes whose drain it would block now (it allows no disruption and selects a pod
    /// running there).
    pub blocks_nodes: Arc<[Name]>,
    /// Relaxed by meshtop and not yet restored.
    pub relaxed: bool,
    /// Which drains it blocks cannot be told yet (pods or nodes still being listed, or not
    /// readable): `blocks_nodes` holds only what has been seen.
    #[serde(skip)]
    pub blocks_unknown: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DrainPreflight {
    /// Every pod can go (DaemonSet pods are skipped).
    Ok { evict: u32, daemonset_skipped: u32 },
    /// Refused now: these PDBs allow no disruption for pods on the node, or pods need consent.
    Blocked {
        pdbs: Vec<String>,
        unmanaged_pods: Vec<String>,
        empty_dir_pods: Vec<String>,
        evict: u32,
        daemonset_skipped: u32,
    },
    /// Not known: a source the answer needs is not listed in full (RBAC, `-n`, still
    /// syncing, an error); `why` says which.
    Unknown { why: String },
}

impl DrainPreflight {
    /// The pre-flight in a few words, the same in the TUI and in `meshtop get nodes`.
    pub fn summary(&self) -> String {
        match self {
            DrainPreflight::Ok {
                evict,
                daemonset_skipped,
            } => drain_ok(*evict, *daemonset_skipped),
            DrainPreflight::Blocked {
                pdbs,
                unmanaged_pods,
                empty_dir_pods,
                ..
            } => drain_blocked(pdbs, unmanaged_pods.len(), empty_dir_pods.len()),
            DrainPreflight::Unknown { why } => format!("unknown: {why}"),
        }
    }
}

fn drain_ok(evict: u32, daemonset_skipped: u32) -> String {
    format!("ok: evict {evict}, skip {daemonset_skipped} DaemonSet")
}

fn drain_blocked(pdbs: &[String], unmanaged: usize, empty_dir: usize) -> String {
    let mut why = Vec::new();
    if !pdbs.is_empty() {
        let names: Vec<&str> = pdbs
            .iter()
            .map(|p| p.rsplit_once('/').map_or(p.as_str(), |(_, n)| n))
            .collect();
        let s = if names.len() == 1 { "" } else { "s" };
        why.push(format!("PDB{s} {}", names.join(",")));
    }
    let pods = |n: usize| {
        if n == 1 {
            "1 pod".to_string()
        } else {
            format!("{n} pods")
        }
    };
    if unmanaged > 0 {
        why.push(format!("{} without controller", pods(unmanaged)));
    }
    if empty_dir > 0 {
        why.push(format!("{} with emptyDir", pods(empty_dir)));
    }
    format!("blocked by {}", why.join("; "))
}

/// A node's drain pre-flight in numbers, read from the counts kept per node as pods come and
/// go: what the Nodes view and the Overview show. `DrainPreflight` names the pods too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainCounts {
    /// PDBs that refuse an eviction of a pod on the node now, `namespace/name`.
    pub pdbs: Vec<String>,
    /// Running pods without a controller: a drain needs `--force`.
    pub unmanaged: u32,
    /// Running pods with emptyDir volumes: a drain needs `--delete-emptydir-data`.
    pub empty_dir: u32,
    pub evict: u32,
    pub daemonset_skipped: u32,
}

impl DrainCounts {
    /// A drain would be refused now (`DrainPreflight::Blocked`).
    pub fn blocked(&self) -> bool {
        !self.pdbs.is_empty() || self.unmanaged > 0 || self.empty_dir > 0
    }

    /// The same words as `DrainPreflight::summary`.
    pub fn summary(&self) -> String {
        if self.blocked() {
            drain_blocked(&self.pdbs, self.unmanaged as usize, self.empty_dir as usize)
        } else {
            drain_ok(self.evict, self.daemonset_skipped)
        }
    }
}

/// A node as the views show it, with its drain pre-flight: `NodeRow` in words and pod
/// names (`meshtop get nodes`, the details), `NodeLine` in numbers, built only for the
/// rows the Nodes view has on screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeFacts<P> {
    pub name: Name,
    pub roles: Vec<Name>,
    pub kubelet_version: Name,
    /// Minor versions behind the newest kubelet in the cluster (0 = newest).
    pub minor_skew: u32,
    pub ready: bool,
    pub cordoned: bool,
    pub labels: Vec<String>,
    pub pods: u32,
    /// The node's ztunnel, when the mesh runs ambient (several while one replaces another).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ztunnels: Vec<ZtunnelCell>,
    pub preflight: P,
}

/// A node's ztunnel pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZtunnelCell {
    pub pod: Name,
    pub version: Option<Name>,
    pub ready: bool,
    pub revision: Option<Name>,
}

pub type NodeRow = NodeFacts<DrainPreflight>;
pub type NodeLine = NodeFacts<DrainCounts>;

/// How a namespace's new pods join the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataplane {
    /// Not in the mesh.
    None,
    /// A revision injects sidecars.
    Sidecar,
    /// Enrolled in ambient mode (`istio.io/dataplane-mode=ambient`): ztunnel serves its pods.
    Ambient,
    /// Both: injection wins, so new pods get sidecars and ztunnel leaves them alone.
    Both,
}

impl Dataplane {
    pub fn word(self) -> &'static str {
        match self {
            Dataplane::None => "-",
            Dataplane::Sidecar => "sidecar",
            Dataplane::Ambient => "ambient",
            Dataplane::Both => "ambient+sidecar",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamespaceRow {
    pub name: Name,
    /// `istio-injection` label value.
    pub injection: Option<Name>,
    /// `istio.io/rev` label value.
    pub rev_label: Option<Name>,
    /// The revision tag the labels select, when they select one.
    pub tag: Option<Name>,
    /// The revision that injects new pods here (after the webhook precedence rules).
    pub revision: Option<Name>,
    pub dataplane: Dataplane,
    /// The waypoint its traffic goes through (`istio.io/use-waypoint`), `namespace/name`
    /// when it is another namespace's.
    pub waypoint: Option<Name>,
    /// Both labels set (IST0123): `istio-injection` wins.
    pub conflict: bool,
    pub pods: u32,
    pub injected_pods: u32,
    /// Running pods with no proxy that a restart would inject (the namespace selects a
    /// revision now).
    pub without_proxy: u32,
    /// Pods that need a restart to match the namespace: another revision's sidecar, no
    /// sidecar where one is injected now, or a sidecar in an ambient namespace.
    pub pods_to_restart: Vec<Name>,
}

/// How meshtop knows a proxy's sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyConnection {
    /// Reported by an istiod replica that answered the last poll.
    Connected,
    /// Last reported by a replica that does not answer now: the states are from its last
    /// answer and may be out of date.
    LastKnown,
    /// A running pod with a proxy that no replica reports, while every replica answers:
    /// connected to no istiod meshtop knows.
    Disconnected,
    /// A running pod with a proxy that no replica reports, while some replica has not
    /// answered yet: it may be that one's.
    Unknown,
}

/// One proxy: istiod's report (istioctl's proxy-status row) joined with its pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyRow {
    /// `<pod>.<namespace>`, istioctl's NAME.
    pub name: Name,
    pub namespace: Name,
    pub pod: Name,
    pub connection: ProxyConnection,
    /// `cluster_id` (1.13+), else empty.
    pub cluster: Name,
    /// `proxy_type` (1.18+), else empty.
    pub proxy_type: Name,
    /// The istiod pod reporting it (or the one that last did), istioctl's ISTIOD.
    pub istiod: Option<Name>,
    /// That istiod's revision and version.
    pub istiod_revision: Option<Name>,
    pub istiod_version: Option<Name>,
    /// Other replicas reporting the same proxy; istioctl prints one line per replica, meshtop
    /// one row for the preferred report (a live answer, then the first istiod by name).
    pub also_reported_by: Vec<Name>,
    /// Per type in `XdsType::ALL` order; empty when no replica reports the proxy.
    pub xds: Vec<XdsStatus>,
    /// The worst of its types, NOT SENT counting as in sync; `None` when not reported.
    pub state: Option<SyncState>,
    /// The version the proxy reports (`ISTIO_VERSION`), else its image tag.
    pub version: Option<Name>,
    /// Its major.minor differs from its istiod's (1.10-alpha proxy, 1.9.1 istiod).
    pub version_skew: bool,
    pub node: Option<Name>,
    pub owner_kind: Option<Name>,
    pub owner_name: Option<Name>,
    /// The revision that injected the pod.
    pub injected_revision: Option<Name>,
    /// istiod reports a proxy whose pod the cluster no longer has.
    pub pod_gone: bool,
    /// When the answer behind `xds` arrived (for `LastKnown`, the replica's last answer).
    pub reported_at: Option<Timestamp>,
}

impl ProxyRow {
    /// The state of one type; `None` when the proxy is not reported.
    pub fn state_of(&self, t: XdsType) -> Option<SyncState> {
        self.xds.get(t as usize).map(|x| x.state)
    }

    /// Every type SYNCED, NOT SENT or IGNORED, as a live replica reports it now.
    pub fn in_sync(&self) -> bool {
        self.connection == ProxyConnection::Connected
            && self.xds.iter().all(|x| {
                matches!(
                    x.state,
                    SyncState::Synced | SyncState::NotSent | SyncState::Ignored
                )
            })
    }
}

/// istioctl's NAME of a proxy, `<pod>.<namespace>`, made from its pod's names when it is
/// shown (the model does not keep it), or the name istiod spelled otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyName<'a> {
    pub pod: &'a str,
    pub namespace: &'a str,
    /// istiod's own spelling, when it is not the above.
    pub odd: Option<&'a str>,
}

impl ProxyName<'_> {
    /// Appends the name to `out` (a buffer reused across lines).
    pub fn write_to(&self, out: &mut String) {
        match self.odd {
            Some(odd) => out.push_str(odd),
            None => {
                out.push_str(self.pod);
                if !self.namespace.is_empty() {
                    out.push('.');
                    out.push_str(self.namespace);
                }
            }
        }
    }
}

impl std::fmt::Display for ProxyName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.odd {
            Some(odd) => f.write_str(odd),
            None if self.namespace.is_empty() => f.write_str(self.pod),
            None => write!(f, "{}.{}", self.pod, self.namespace),
        }
    }
}

/// One line of the Proxies view: the fields of a `ProxyRow` a table shows, borrowed from
/// what the model keeps per proxy, so that reaching any line costs the same at any cluster
/// size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyLine<'a> {
    /// `<pod>.<namespace>`, istioctl's NAME.
    pub name: ProxyName<'a>,
    pub namespace: &'a Name,
    pub pod: &'a str,
    pub connection: ProxyConnection,
    /// `cluster_id` (1.13+), else empty.
    pub cluster: &'a str,
    /// `proxy_type` (1.18+), else empty.
    pub proxy_type: &'a str,
    /// The istiod pod reporting it (or the one that last did).
    pub istiod: Option<&'a Name>,
    /// That istiod's version; for a proxy no replica reports, its revision's.
    pub istiod_version: Option<&'a Name>,
    /// Per type in `XdsType::ALL` order; `None` when no replica reports the proxy.
    pub states: Option<&'a [SyncState; XDS_TYPES]>,
    /// The version the proxy reports, else its image tag.
    pub version: Option<&'a Name>,
    pub node: Option<&'a Name>,
    /// The revision that injected the pod.
    pub injected_revision: Option<&'a Name>,
    /// istiod reports a proxy whose pod the cluster no longer has.
    pub pod_gone: bool,
}

impl ProxyLine<'_> {
    /// The state of one type; `None` when the proxy is not reported.
    pub fn state_of(&self, t: XdsType) -> Option<SyncState> {
        self.states.map(|s| s[t as usize])
    }

    /// Every type SYNCED, NOT SENT or IGNORED, as a live replica reports it now.
    pub fn in_sync(&self) -> bool {
        self.connection == ProxyConnection::Connected
            && self.states.is_some_and(|s| {
                s.iter().all(|s| {
                    matches!(
                        s,
                        SyncState::Synced | SyncState::NotSent | SyncState::Ignored
                    )
                })
            })
    }

    /// Its major.minor differs from its istiod's.
    pub fn version_skew(&self) -> bool {
        match (self.version, self.istiod_version) {
            (Some(p), Some(i)) => proxies::skewed(p, i),
            _ => false,
        }
    }
}

/// Pods with a proxy (sidecars and gateways) in numbers, kept as pods come and go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxiedPods {
    pub pods: usize,
    pub not_ready: u32,
    /// How many run each version: the proxy's image tag; `None` when unknown.
    pub versions: BTreeMap<Option<Name>, u32>,
}

/// Proxy counts of the whole mesh or of one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncTotals {
    /// Proxies a live replica reports, by their state (the worst of their types, NOT SENT
    /// counting as in sync).
    pub per_state: BTreeMap<SyncState, u32>,
    /// Proxies whose state is not known now: last reported by a replica that does not answer,
    /// or not reported while some replica has not answered yet.
    pub unknown: u32,
    /// Running pods with a proxy that no replica reports while every replica answers.
    pub disconnected: u32,
}

impl SyncTotals {
    pub fn proxies(&self) -> u32 {
        self.per_state.values().sum::<u32>() + self.unknown + self.disconnected
    }

    pub fn is_empty(&self) -> bool {
        self.proxies() == 0
    }

    fn add(&mut self, other: &SyncTotals) {
        for (s, n) in &other.per_state {
            *self.per_state.entry(*s).or_default() += n;
        }
        self.unknown += other.unknown;
        self.disconnected += other.disconnected;
    }
}

/// How one istiod replica answered the last poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaRow {
    pub namespace: Name,
    pub istiod: Name,
    pub revision: Name,
    /// `ok`, `forbidden`, `refused` or `unreachable`.
    pub state: &'static str,
    /// How it answered (`port-forward`, `pod-proxy`), when it did.
    pub via: Option<&'static str>,
    /// Why it did not answer; a refusal by RBAC names the missing permission.
    pub message: Option<String>,
    /// Proxies it reports now, or reported last when it does not answer.
    pub proxies: u32,
    /// When it last answered with its proxies.
    pub answered_at: Option<Timestamp>,
}

/// Proxy sync in numbers: the Overview's totals, the Revisions view's column.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProxySummary {
    /// No istiod replica has been heard from yet.
    pub waiting: bool,
    pub totals: SyncTotals,
    /// By revision: of the reporting istiod, else the one that injected the pod.
    pub per_revision: BTreeMap<Name, SyncTotals>,
    pub replicas: Vec<ReplicaRow>,
    /// Versions the proxies report, with how many run each.
    pub versions: BTreeMap<Name, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Something an expert would check by hand during an upgrade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Short, stable id, e.g. `pdb-blocks-drain`, `injection-conflict`.
    pub code: &'static str,
    pub message: String,
    /// What it is about, where one object is: the first of several named in the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<FindingObject>,
}

impl Finding {
    pub(crate) fn new(severity: Severity, code: &'static str, message: String) -> Finding {
        Finding {
            severity,
            code,
            message,
            object: None,
        }
    }

    pub(crate) fn on(self, object: FindingObject) -> Finding {
        Finding {
            object: Some(object),
            ..self
        }
    }
}

/// The kinds of object a finding can be about, by the view that lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Revision,
    Gateway,
    /// A pod with a proxy.
    Proxy,
    Pdb,
    Node,
    Namespace,
}

/// The object of a finding, by kind, namespace (for namespaced kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingObject {
    pub kind: FindingKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Name>,
    pub name: Name,
}

impl FindingObject {
    pub(crate) fn cluster(kind: FindingKind, name: &Name) -> FindingObject {
        FindingObject {
            kind,
            namespace: None,
            name: name.clone(),
        }
    }

    pub(crate) fn namespaced(kind: FindingKind, namespace: &Name, name: &Name) -> FindingObject {
        FindingObject {
            kind,
            namespace: Some(namespace.clone()),
            name: name.clone(),
        }
    }
}

/// When the model last changed, for the header clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LastEvent(pub Option<Timestamp>);
