//! What the sandbox reads of a proxy's pod, and the `/debug/syncz` document a replica
//! serves about the proxies connected to it, in the shape of the replica's Istio version
//! (nonces chosen so that istioctl's rules recover the state).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::super::scenario::parse_xds;
pub(super) use super::super::store::meta_str;
use super::super::store::timestamp;
use super::super::{ANNOTATION_PREFIX, Cluster};

/// An Istio release line, `major.minor`: what decides the syncz shape and the debug auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IstioVersion {
    pub major: u32,
    pub minor: u32,
}

impl IstioVersion {
    /// What an istiod whose version can't be read behaves as: the newest shape.
    pub const NEWEST: IstioVersion = IstioVersion {
        major: 1,
        minor: 30,
    };

    /// `1.9.1`, `v1.10-alpha.abc`, `1.23.0-distroless` → (1, 9), (1, 10), (1, 23): the
    /// same reading the scenario loader validates `istio-version` with.
    pub fn parse(text: &str) -> Option<Self> {
        crate::controllers::parse_version(text).map(|(major, minor, _)| Self { major, minor })
    }

    /// Whether this is `1.minor` or later.
    pub fn at_least(self, minor: u32) -> bool {
        self.major > 1 || (self.major == 1 && self.minor >= minor)
    }
}

/// One xDS type as `/debug/syncz` names it.
struct XdsType {
    short: &'static str,
    /// The prefix of its `*_sent` / `*_acked` keys.
    key: &'static str,
    url: &'static str,
    /// The first 1.x that reports it.
    since: u32,
}

/// The Envoy types, in the order of the Go struct's fields.
const XDS_TYPES: [XdsType; 5] = [
    XdsType {
        short: "CDS",
        key: "cluster",
        url: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        since: 0,
    },
    XdsType {
        short: "LDS",
        key: "listener",
        url: "type.googleapis.com/envoy.config.listener.v3.Listener",
        since: 0,
    },
    XdsType {
        short: "RDS",
        key: "route",
        url: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        since: 0,
    },
    XdsType {
        short: "EDS",
        key: "endpoint",
        url: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
        since: 0,
    },
    XdsType {
        short: "ECDS",
        key: "extensionconfig",
        url: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
        since: 14,
    },
];

/// What ztunnel subscribes to (`pkg/model/xds.go`: AddressType, WorkloadAuthorizationType).
/// istiod has no `*_sent` keys for them: they appear only in the `resources` map (1.23+).
const ZTUNNEL_TYPES: [XdsType; 2] = [
    XdsType {
        short: "WDS",
        key: "",
        url: "type.googleapis.com/istio.workload.Address",
        since: 18,
    },
    XdsType {
        short: "WADS",
        key: "",
        url: "type.googleapis.com/istio.security.Authorization",
        since: 18,
    },
];

/// What Go's zero `time.Time` marshals to; `sentTime` of a type never sent.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The NACK an ERROR state reports when the scenario gives none.
const DEFAULT_NACK: &str = "sandbox: the proxy rejected this configuration";

/// A proxy's state for one xDS type, as istioctl names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdsState {
    Synced,
    NotSent,
    Stale,
    NeverAcknowledged,
    Error,
}

impl XdsState {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "SYNCED" => Self::Synced,
            "NOT SENT" => Self::NotSent,
            "STALE" => Self::Stale,
            "STALE (Never Acknowledged)" => Self::NeverAcknowledged,
            "ERROR" => Self::Error,
            _ => return None,
        })
    }
}

fn label<'a>(pod: &'a Value, key: &str) -> Option<&'a str> {
    pod.pointer("/metadata/labels")?.get(key)?.as_str()
}

fn annotation<'a>(pod: &'a Value, key: &str) -> Option<&'a str> {
    pod.pointer("/metadata/annotations")?.get(key)?.as_str()
}

fn sandbox_annotation<'a>(pod: &'a Value, key: &str) -> Option<&'a str> {
    // A pod has a few annotations: a walk costs less than building the full key.
    pod.pointer("/metadata/annotations")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.strip_prefix(ANNOTATION_PREFIX) == Some(key))?
        .1
        .as_str()
}

/// The image of a container (or a native-sidecar init container) by name.
fn container_image<'a>(pod: &'a Value, name: &str) -> Option<&'a str> {
    ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        .map(|c| c.get("image").and_then(Value::as_str).unwrap_or(""))
}

/// `docker.io/istio/pilot:1.9.1` → `1.9.1`; none for an untagged or digest-only image.
pub fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':')
        .map(|(_, tag)| tag)
        .filter(|t| !t.is_empty())
}

pub fn is_running(pod: &Value) -> bool {
    pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
}

fn ready_condition(pod: &Value) -> Option<&Value> {
    pod.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
}

pub fn is_ready(pod: &Value) -> bool {
    is_running(pod)
        && pod.pointer("/metadata/deletionTimestamp").is_none()
        && ready_condition(pod)
            .and_then(|c| c.get("status"))
            .and_then(Value::as_str)
            == Some("True")
}

pub fn is_istiod(pod: &Value) -> bool {
    label(pod, "app") == Some("istiod")
}

fn has_proxy(pod: &Value) -> bool {
    container_image(pod, "istio-proxy").is_some()
}

/// The version an istiod replica says it is: the scenario's annotation, else its image tag.
pub fn istiod_version_text(istiod: &Value) -> Option<String> {
    sandbox_annotation(istiod, "istio-version")
        .or_else(|| container_image(istiod, "discovery").and_then(image_tag))
        .map(str::to_string)
}

/// The version an istiod replica behaves as.
pub fn istiod_version(istiod: &Value) -> IstioVersion {
    istiod_version_text(istiod)
        .and_then(|v| IstioVersion::parse(&v))
        .unwrap_or(IstioVersion::NEWEST)
}

pub(super) fn istiod_revision(istiod: &Value) -> &str {
    label(istiod, "istio.io/rev")
        .filter(|r| !r.is_empty())
        .unwrap_or("default")
}

/// The `revision` of `sidecar.istio.io/status`, else the `istio.io/rev` annotation, else the
/// `istio.io/rev` label, else `default`.
fn proxy_revision(pod: &Value) -> String {
    /// Of the injection status, only the revision: the rest is skipped, not built.
    #[derive(serde::Deserialize)]
    struct InjectionStatus {
        revision: Option<String>,
    }
    annotation(pod, "sidecar.istio.io/status")
        .and_then(|s| serde_json::from_str::<InjectionStatus>(s).ok())
        .and_then(|s| s.revision)
        .filter(|r| !r.is_empty())
        .or_else(|| {
            // Gateways istiod deploys and ztunnel carry their revision as an annotation.
            annotation(pod, "istio.io/rev")
                .filter(|r| !r.is_empty())
                .map(str::to_string)
        })
        .or_else(|| {
            label(pod, "istio.io/rev")
                .filter(|r| !r.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "default".to_string())
}

/// The `ISTIO_VERSION` a proxy reports; the image variant is not part of it.
pub fn proxy_version(pod: &Value) -> Option<String> {
    if let Some(v) = sandbox_annotation(pod, "proxy-version") {
        return Some(v.to_string());
    }
    let tag = container_image(pod, "istio-proxy").and_then(image_tag)?;
    let tag = tag
        .strip_suffix("-distroless")
        .or_else(|| tag.strip_suffix("-debug"))
        .unwrap_or(tag);
    Some(tag.to_string())
}

fn is_gateway(pod: &Value) -> bool {
    label(pod, "istio").is_some_and(|v| v.contains("gateway"))
        || label(pod, "operator.istio.io/component").is_some_and(|v| v.ends_with("Gateways"))
}

/// The `proxy_type` istiod reports (`pkg/model/proxy.go` NodeType): ztunnel (the chart's
/// `app: ztunnel`), a waypoint or a gateway istiod deployed (`gateway.istio.io/managed`),
/// a chart gateway, or a sidecar.
pub fn proxy_type(pod: &Value) -> &'static str {
    if label(pod, "app") == Some("ztunnel") {
        return "ztunnel";
    }
    match label(pod, "gateway.istio.io/managed") {
        Some("istio.io-mesh-controller") => "waypoint",
        Some(_) => "router",
        None if is_gateway(pod) => "router",
        None => "sidecar",
    }
}

/// When the proxy's xDS stream to istiod started.
fn connected_since(pod: &Value) -> Option<Timestamp> {
    let parse = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok())
    };
    parse(ready_condition(pod).and_then(|c| c.get("lastTransitionTime")))
        .or_else(|| parse(pod.pointer("/status/startTime")))
        .or_else(|| parse(pod.pointer("/metadata/creationTimestamp")))
}

/// FNV-1a: stable across runs and Rust versions, unlike `DefaultHasher`.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A separator, so ("ab", "c") and ("a", "bc") differ.
            h ^= 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Whether this pod runs a proxy that holds an xDS stream to some istiod.
fn is_connected_proxy(pod: &Value) -> bool {
    is_running(pod) && has_proxy(pod) && sandbox_annotation(pod, "disconnected") != Some("true")
}

/// What one syncz entry is written from, read from the proxy's pod once, when the pod is
/// written, instead of on every poll of every replica.
#[derive(Debug)]
pub struct Proxy {
    name: Box<str>,
    namespace: Box<str>,
    /// What the nonces derive from: the pod's uid, else its id.
    uid: Box<str>,
    kind: &'static str,
    /// The `ISTIO_VERSION` it reports, empty included.
    version: Option<Box<str>>,
    /// The scenario's state for each xDS type of its kind (`XDS_TYPES`, or `ZTUNNEL_TYPES`
    /// for a ztunnel), in their order; `None` follows the clock.
    pinned: [Option<XdsState>; XDS_TYPES.len()],
    /// When its xDS stream started, and that time as `sentTime` is written.
    since: Option<(Timestamp, Box<str>)>,
    /// The NACK an ERROR state reports.
    error: Box<str>,
    /// The replica the scenario pins it to.
    istiod: Option<Box<str>>,
    /// What spreads the proxies that are not pinned over their revision's replicas.
    spread: u64,
    ip: Option<Box<str>>,
}

impl Proxy {
    /// The proxy of a pod and the revision it belongs to; none if the pod holds no xDS
    /// stream.
    pub fn read(pod: &Value) -> Option<(String, Proxy)> {
        if !is_connected_proxy(pod) {
            return None;
        }
        let (name, namespace) = (meta_str(pod, "name"), meta_str(pod, "namespace"));
        let kind = proxy_type(pod);
        let types: &[XdsType] = if kind == "ztunnel" {
            &ZTUNNEL_TYPES
        } else {
            &XDS_TYPES
        };
        let given: Vec<(String, String)> = sandbox_annotation(pod, "xds")
            .and_then(|t| parse_xds(t).ok())
            .unwrap_or_default();
        let mut pinned = [None; XDS_TYPES.len()];
        for (slot, t) in pinned.iter_mut().zip(types) {
            // The last mention of a type counts, even when its state is not one.
            *slot = given
                .iter()
                .rev()
                .find(|(ty, _)| ty == t.short)
                .and_then(|(_, s)| XdsState::parse(s));
        }
        let uid = match meta_str(pod, "uid") {
            "" => format!("{name}.{namespace}"),
            uid => uid.to_string(),
        };
        let proxy = Proxy {
            name: name.into(),
            namespace: namespace.into(),
            uid: uid.into(),
            kind,
            version: proxy_version(pod).map(Into::into),
            pinned,
            since: connected_since(pod).map(|t| (t, timestamp(t).into())),
            error: sandbox_annotation(pod, "xds-error")
                .filter(|e| !e.is_empty())
                .unwrap_or(DEFAULT_NACK)
                .into(),
            istiod: sandbox_annotation(pod, "istiod").map(Into::into),
            spread: fnv1a(&[name]),
            ip: pod
                .pointer("/status/podIP")
                .and_then(Value::as_str)
                .map(Into::into),
        };
        Some((proxy_revision(pod), proxy))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Its `ISTIO_VERSION`, empty when the pod gives none.
    pub fn version(&self) -> &str {
        self.version.as_deref().unwrap_or("")
    }

    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }

    /// Which of `replicas` (the names of a revision's Ready replicas, in order) it is
    /// connected to: the first of the name the scenario pins it to, else one spread by its
    /// name.
    pub fn assigned(&self, replicas: &[&str]) -> Option<usize> {
        if let Some(named) = &self.istiod
            && let Some(i) = replicas.iter().position(|r| *r == &**named)
        {
            return Some(i);
        }
        if replicas.is_empty() {
            return None;
        }
        let n = replicas.len() as u64;
        usize::try_from(self.spread % n).ok()
    }
}

/// Keeps the earliest of the instants an answer changes at with no write to the cluster.
fn changes_at(slot: &mut Option<Timestamp>, at: Timestamp) {
    if slot.is_none_or(|t| at < t) {
        *slot = Some(at);
    }
}

/// A UUID-shaped nonce, the same on every poll for the same pod, type and push: 32 hex
/// digits of two FNV-1a hashes in the shape of a version 4 UUID, without allocating.
fn nonce(uid: &str, type_url: &str, push: &str) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let a = fnv1a(&[uid, type_url, push, "hi"]);
    let b = fnv1a(&[uid, type_url, push, "lo"]);
    let mut hex = [0u8; 32];
    for (i, d) in hex.iter_mut().enumerate() {
        let word = if i < 16 { a } else { b };
        let shift = 60 - 4 * (i % 16);
        *d = HEX[usize::try_from((word >> shift) & 0xf).unwrap_or(0)];
    }
    let mut out = [b'-'; 36];
    out[..8].copy_from_slice(&hex[..8]);
    out[9..13].copy_from_slice(&hex[8..12]);
    out[14] = b'4';
    out[15..18].copy_from_slice(&hex[13..16]);
    out[19] = b'a';
    out[20..23].copy_from_slice(&hex[17..20]);
    out[24..].copy_from_slice(&hex[20..32]);
    out
}

/// The nonces (sent, acked) that make istioctl's rules read back `state`; `None` is an
/// empty nonce (the key is left out).
fn nonces(uid: &str, type_url: &str, state: XdsState) -> (Option<[u8; 36]>, Option<[u8; 36]>) {
    let current = || Some(nonce(uid, type_url, "push-2"));
    let previous = || Some(nonce(uid, type_url, "push-1"));
    match state {
        XdsState::Synced => (current(), current()),
        XdsState::NotSent => (None, None),
        // A NACK leaves the acked nonce at the push before.
        XdsState::Stale | XdsState::Error => (current(), previous()),
        XdsState::NeverAcknowledged => (current(), None),
    }
}

/// Each type's state: pinned by the scenario, else SYNCED once the proxy has been
/// connected for `delay`. When a state will change with time alone is kept in `until`.
fn states(
    proxy: &Proxy,
    types: &[XdsType],
    delay: Duration,
    now: Timestamp,
    until: &mut Option<Timestamp>,
) -> [XdsState; XDS_TYPES.len()] {
    let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
    let settled_at = proxy
        .since
        .as_ref()
        .map(|(since, _)| since.checked_add(delay).ok());
    let settled = match settled_at {
        None => true,
        Some(Some(at)) => now >= at,
        // Never, within what a timestamp holds.
        Some(None) => false,
    };
    let default = if settled {
        XdsState::Synced
    } else {
        XdsState::NeverAcknowledged
    };
    let mut out = [default; XDS_TYPES.len()];
    for (i, state) in out.iter_mut().enumerate().take(types.len()) {
        match proxy.pinned.get(i).copied().flatten() {
            Some(pinned) => *state = pinned,
            None if !settled => {
                if let Some(Some(at)) = settled_at {
                    changes_at(until, at);
                }
            }
            None => {}
        }
    }
    out
}

/// Appends `text` as a JSON string, quoted and escaped by serde_json (writing into a
/// `Vec` cannot fail).
fn push_string(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(out, text);
}

/// A compact JSON object being written straight into the answer.
struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> ObjectWriter<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    /// Starts the member `key` (a key needing no escapes); its value is written next.
    fn key(&mut self, key: &[&str]) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        for part in key {
            self.out.extend_from_slice(part.as_bytes());
        }
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn string(&mut self, key: &[&str], value: &str) {
        push_string(self.key(key), value);
    }

    fn nonce(&mut self, key: &[&str], value: &[u8; 36]) {
        let out = self.key(key);
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// How one answer is written: the replica's shape, the cluster's sync delay and the time.
struct Shape {
    version: IstioVersion,
    delay: Duration,
    now: Timestamp,
}

/// Appends one element of the syncz array, as `version` writes it (every key `omitempty`),
/// in the order of the Go struct's fields.
fn write_entry(out: &mut Vec<u8>, p: &Proxy, shape: &Shape, until: &mut Option<Timestamp>) {
    let version = shape.version;
    let mut m = ObjectWriter::open(out);
    if version.at_least(13) {
        m.string(&["cluster_id"], "Kubernetes");
    }
    m.string(&["proxy"], &format!("{}.{}", p.name, p.namespace));
    if version.at_least(18) {
        m.string(&["proxy_type"], p.kind);
    }
    if let Some(v) = p.version.as_deref().filter(|v| !v.is_empty()) {
        m.string(&["istio_version"], v);
    }
    let types: &[XdsType] = if p.kind == "ztunnel" {
        &ZTUNNEL_TYPES
    } else {
        &XDS_TYPES
    };
    let states = states(p, types, shape.delay, shape.now, until);
    let mut resources = Vec::new();
    for (t, &state) in types.iter().zip(&states) {
        if !version.at_least(t.since) {
            continue;
        }
        let (sent, acked) = nonces(&p.uid, t.url, state);
        if !t.key.is_empty() {
            if let Some(sent) = &sent {
                m.nonce(&[t.key, "_sent"], sent);
            }
            if let Some(acked) = &acked {
                m.nonce(&[t.key, "_acked"], acked);
            }
        }
        if version.at_least(23) {
            resources.push((t.url, state, sent, acked));
        }
    }
    if !resources.is_empty() {
        // A Go map: its keys in order.
        resources.sort_by(|a, b| a.0.cmp(b.0));
        let now_text;
        let sent_time: &str = match &p.since {
            Some((_, text)) => text,
            None => {
                // The answer then changes every second.
                let next = Timestamp::from_second(shape.now.as_second().saturating_add(1));
                if let Ok(next) = next {
                    changes_at(until, next);
                }
                now_text = timestamp(shape.now);
                &now_text
            }
        };
        let out = m.key(&["resources"]);
        let mut r = ObjectWriter::open(out);
        for (url, state, sent, acked) in resources {
            let mut t = ObjectWriter::open(r.key(&[url]));
            if let Some(sent) = &sent {
                t.nonce(&["sent"], sent);
            }
            if let Some(acked) = &acked {
                t.nonce(&["acked"], acked);
            }
            t.string(
                &["sentTime"],
                if sent.is_some() { sent_time } else { ZERO_TIME },
            );
            if state == XdsState::Error {
                t.string(&["lastError"], &p.error);
            }
            t.close();
        }
        r.close();
    }
    m.close();
}

/// The proxies connected to `istiod`, in the order of their ids (`name.namespace`, as
/// their bytes compare), the index first brought up to date with the store.
pub fn connected_proxies<'a>(cluster: &'a mut Cluster, istiod: &Value) -> Vec<&'a Proxy> {
    let index = &mut cluster.controllers.istiod.proxies;
    index.catch_up(&mut cluster.store);
    index.connected(meta_str(istiod, "namespace"), meta_str(istiod, "name"))
}

/// Appends the compact `/debug/syncz` array of `istiod` at `now` to `out`, each entry
/// written straight into it. `namespace` is the `?namespace=` filter, which istiod honours
/// from 1.19. Returns when the answer next changes with no write to the cluster (a new
/// proxy turning SYNCED), if it does.
pub fn write_document(
    out: &mut Vec<u8>,
    cluster: &mut Cluster,
    istiod: &Value,
    namespace: Option<&str>,
    now: Timestamp,
) -> Option<Timestamp> {
    let shape = Shape {
        version: istiod_version(istiod),
        delay: cluster.settings.proxy_sync_delay,
        now,
    };
    let namespace = namespace.filter(|n| !n.is_empty() && shape.version.at_least(19));
    let proxies: Vec<&Proxy> = connected_proxies(cluster, istiod)
        .into_iter()
        .filter(|p| namespace.is_none_or(|n| *p.namespace == *n))
        .collect();
    let mut until = None;
    out.reserve(proxies.len().saturating_mul(1600));
    out.push(b'[');
    for (i, p) in proxies.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_entry(out, p, &shape, &mut until);
    }
    out.push(b']');
    until
}

/// The `/debug/syncz` array of `istiod` at `now`, parsed.
pub fn document(
    cluster: &mut Cluster,
    istiod: &Value,
    namespace: Option<&str>,
    now: Timestamp,
) -> Value {
    let mut out = Vec::new();
    write_document(&mut out, cluster, istiod, namespace, now);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

#[cfg(test)]
fn proxy_id(pod: &Value) -> String {
    format!("{}.{}", meta_str(pod, "name"), meta_str(pod, "namespace"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Settings;
    use serde_json::json;
    use std::time::Duration;

    pub(crate) fn pod(cluster: &mut Cluster, obj: Value, now: Timestamp) {
        let t = cluster
            .registry
            .by_kind("v1", "Pod")
            .cloned()
            .expect("Pod type");
        cluster.store.create(&t, obj, now).expect("create pod");
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn running(since: &str) -> Value {
        json!({
            "phase": "Running",
            "podIP": "10.0.0.9",
            "startTime": since,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": since}],
        })
    }

    pub(crate) fn istiod(name: &str, rev: &str, version: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "istio-system",
                "labels": {"app": "istiod", "istio.io/rev": rev}},
            "spec": {"containers": [{"name": "discovery", "image": format!("docker.io/istio/pilot:{version}")}]},
            "status": running("2026-01-01T00:00:00Z"),
        })
    }

    pub(crate) fn sidecar(
        name: &str,
        ns: &str,
        rev: &str,
        since: &str,
        annotations: Value,
    ) -> Value {
        let mut ann = annotations;
        ann["sidecar.istio.io/status"] = json!(format!(
            "{{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"revision\":\"{rev}\"}}"
        ));
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "annotations": ann, "labels": {"app": name}},
            "spec": {"containers": [
                {"name": "app", "image": "example/app:1"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.10-alpha.abc"}]},
            "status": running(since),
        })
    }

    fn cluster() -> Cluster {
        Cluster::new(Settings {
            proxy_sync_delay: Duration::from_secs(3),
            ..Default::default()
        })
    }

    fn get(cluster: &Cluster, name: &str) -> std::sync::Arc<crate::Stored> {
        cluster
            .store
            .list("pods", None)
            .find(|p| meta_str(p.head(), "name") == name)
            .cloned()
            .expect("pod")
    }

    /// The answer of the istiod pod `name`, parsed.
    fn answer_of(c: &mut Cluster, name: &str, namespace: Option<&str>, now: Timestamp) -> Value {
        let istiod = get(c, name);
        document(c, istiod.head(), namespace, now)
    }

    /// istioctl's HTTP rule for one `*_sent` / `*_acked` pair.
    fn istioctl_status(entry: &Value, key: &str) -> &'static str {
        let sent = entry
            .get(format!("{key}_sent"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let acked = entry
            .get(format!("{key}_acked"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if sent.is_empty() {
            "NOT SENT"
        } else if sent == acked {
            "SYNCED"
        } else if acked.is_empty() {
            "STALE (Never Acknowledged)"
        } else {
            "STALE"
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    const LONG_AGO: &str = "2026-01-01T00:00:00Z";

    #[test]
    fn versions_parse_from_tags_and_annotations() {
        assert_eq!(
            IstioVersion::parse("1.9.1"),
            Some(IstioVersion { major: 1, minor: 9 })
        );
        assert_eq!(
            IstioVersion::parse("v1.10-alpha.abc"),
            Some(IstioVersion {
                major: 1,
                minor: 10
            })
        );
        assert_eq!(
            IstioVersion::parse("1.23.0-distroless"),
            Some(IstioVersion {
                major: 1,
                minor: 23
            })
        );
        assert_eq!(IstioVersion::parse("latest"), None);
        assert_eq!(image_tag("docker.io/istio/pilot:1.9.1"), Some("1.9.1"));
        assert_eq!(image_tag("localhost:5000/istio/pilot"), None);
        assert_eq!(
            image_tag("gcr.io/istio-release/pilot:1.23.2@sha256:abcd"),
            Some("1.23.2")
        );
        let mut p = istiod("istiod-a", "default", "1.23.2");
        assert_eq!(
            istiod_version(&p),
            IstioVersion {
                major: 1,
                minor: 23
            }
        );
        p["metadata"]["annotations"] = json!({"sandbox.meshtop.dev/istio-version": "1.9.1"});
        assert_eq!(istiod_version(&p), IstioVersion { major: 1, minor: 9 });
    }

    /// The keys of each version's entry, in order.
    #[test]
    fn syncz_keys_follow_the_version() {
        let now = ts("2026-02-01T00:00:00Z");
        let cases: &[(&str, &[&str])] = &[
            (
                "1.9.1",
                &[
                    "proxy",
                    "istio_version",
                    "cluster_sent",
                    "cluster_acked",
                    "listener_sent",
                    "listener_acked",
                    "route_sent",
                    "route_acked",
                    "endpoint_sent",
                    "endpoint_acked",
                ],
            ),
            (
                "1.13.0",
                &[
                    "cluster_id",
                    "proxy",
                    "istio_version",
                    "cluster_sent",
                    "cluster_acked",
                    "listener_sent",
                    "listener_acked",
                    "route_sent",
                    "route_acked",
                    "endpoint_sent",
                    "endpoint_acked",
                ],
            ),
            (
                "1.14.3",
                &[
                    "cluster_id",
                    "proxy",
                    "istio_version",
                    "cluster_sent",
                    "cluster_acked",
                    "listener_sent",
                    "listener_acked",
                    "route_sent",
                    "route_acked",
                    "endpoint_sent",
                    "endpoint_acked",
                    "extensionconfig_sent",
                    "extensionconfig_acked",
                ],
            ),
            (
                "1.18.0",
                &[
                    "cluster_id",
                    "proxy",
                    "proxy_type",
                    "istio_version",
                    "cluster_sent",
                    "cluster_acked",
                    "listener_sent",
                    "listener_acked",
                    "route_sent",
                    "route_acked",
                    "endpoint_sent",
                    "endpoint_acked",
                    "extensionconfig_sent",
                    "extensionconfig_acked",
                ],
            ),
            (
                "1.23.2",
                &[
                    "cluster_id",
                    "proxy",
                    "proxy_type",
                    "istio_version",
                    "cluster_sent",
                    "cluster_acked",
                    "listener_sent",
                    "listener_acked",
                    "route_sent",
                    "route_acked",
                    "endpoint_sent",
                    "endpoint_acked",
                    "extensionconfig_sent",
                    "extensionconfig_acked",
                    "resources",
                ],
            ),
        ];
        for (version, want) in cases {
            let mut c = cluster();
            pod(&mut c, istiod("istiod-a", "default", version), now);
            pod(
                &mut c,
                sidecar("web-1", "shop", "default", LONG_AGO, json!({})),
                now,
            );
            let doc = answer_of(&mut c, "istiod-a", None, now);
            let entries = doc.as_array().expect("array");
            assert_eq!(entries.len(), 1, "{version}: {doc}");
            assert_eq!(keys(&entries[0]), *want, "{version}");
            assert_eq!(entries[0]["proxy"], "web-1.shop");
            assert_eq!(entries[0]["istio_version"], "1.10-alpha.abc");
            assert!(entries[0].get("proxy_version").is_none());
            for k in ["cluster", "listener", "route", "endpoint"] {
                assert_eq!(istioctl_status(&entries[0], k), "SYNCED", "{version} {k}");
            }
        }
    }

    #[test]
    fn pinned_states_read_back_through_istioctl_rules() {
        let now = ts("2026-02-01T00:00:00Z");
        for version in ["1.9.1", "1.13.0", "1.18.0", "1.23.2"] {
            let mut c = cluster();
            pod(&mut c, istiod("istiod-a", "default", version), now);
            let pins = json!({"sandbox.meshtop.dev/xds": "RDS=NOT SENT,EDS=STALE,LDS=STALE (Never Acknowledged),ECDS=ERROR",
                "sandbox.meshtop.dev/xds-error": "Error adding/updating listener(s) virtualInbound: bad filter"});
            pod(
                &mut c,
                sidecar("reviews-v1", "default", "default", LONG_AGO, pins),
                now,
            );
            let doc = answer_of(&mut c, "istiod-a", None, now);
            let e = &doc[0];
            assert_eq!(istioctl_status(e, "cluster"), "SYNCED", "{version}");
            assert_eq!(
                istioctl_status(e, "listener"),
                "STALE (Never Acknowledged)",
                "{version}"
            );
            assert_eq!(istioctl_status(e, "route"), "NOT SENT", "{version}");
            assert_eq!(istioctl_status(e, "endpoint"), "STALE", "{version}");
            assert!(
                e.get("route_sent").is_none() && e.get("route_acked").is_none(),
                "{version}: {e}"
            );
            if version == "1.23.2" {
                // An ERROR is a NACK: STALE on the HTTP path, with the message in `resources`.
                assert_eq!(istioctl_status(e, "extensionconfig"), "STALE");
                let r = &e["resources"];
                let ecds = &r["type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"];
                assert_eq!(
                    ecds["lastError"],
                    "Error adding/updating listener(s) virtualInbound: bad filter"
                );
                let rds = &r["type.googleapis.com/envoy.config.route.v3.RouteConfiguration"];
                assert_eq!(keys(rds), ["sentTime"]);
                assert_eq!(rds["sentTime"], ZERO_TIME);
                let cds = &r["type.googleapis.com/envoy.config.cluster.v3.Cluster"];
                assert_eq!(keys(cds), ["sent", "acked", "sentTime"]);
                assert_eq!(cds["sent"], e["cluster_sent"]);
                assert_eq!(cds["sentTime"], LONG_AGO);
                let urls: Vec<&str> = keys(r);
                let mut sorted = urls.clone();
                sorted.sort();
                assert_eq!(urls, sorted);
                assert_eq!(urls.len(), 5);
            } else {
                assert!(e.get("resources").is_none());
            }
        }
    }

    #[test]
    fn a_new_proxy_is_never_acknowledged_until_the_sync_delay() {
        let now = ts("2026-02-01T00:00:10Z");
        let mut c = cluster();
        pod(&mut c, istiod("istiod-a", "default", "1.18.0"), now);
        pod(
            &mut c,
            sidecar(
                "fresh",
                "default",
                "default",
                "2026-02-01T00:00:08Z",
                json!({}),
            ),
            now,
        );
        let doc = answer_of(&mut c, "istiod-a", None, now);
        for k in [
            "cluster",
            "listener",
            "route",
            "endpoint",
            "extensionconfig",
        ] {
            assert_eq!(
                istioctl_status(&doc[0], k),
                "STALE (Never Acknowledged)",
                "{k}"
            );
        }
        let later = ts("2026-02-01T00:00:11Z");
        let again = answer_of(&mut c, "istiod-a", None, later);
        for k in [
            "cluster",
            "listener",
            "route",
            "endpoint",
            "extensionconfig",
        ] {
            assert_eq!(istioctl_status(&again[0], k), "SYNCED", "{k}");
        }
        // The nonce istiod sent does not change when the proxy acknowledges it.
        assert_eq!(doc[0]["cluster_sent"], again[0]["cluster_sent"]);
        assert_eq!(
            again,
            answer_of(&mut c, "istiod-a", None, later),
            "repeated polls are equal"
        );
    }

    #[test]
    fn gateways_are_routers_and_filters_apply_from_1_19() {
        let now = ts("2026-02-01T00:00:00Z");
        let mut c = cluster();
        pod(&mut c, istiod("istiod-a", "default", "1.19.0"), now);
        pod(
            &mut c,
            sidecar("web", "shop", "default", LONG_AGO, json!({})),
            now,
        );
        let mut gw = sidecar(
            "istio-ingressgateway-abc",
            "istio-system",
            "default",
            LONG_AGO,
            json!({}),
        );
        gw["metadata"]["labels"] = json!({"istio": "ingressgateway"});
        pod(&mut c, gw, now);
        let mut egw = sidecar("egress-abc", "istio-system", "default", LONG_AGO, json!({}));
        egw["metadata"]["labels"] = json!({"operator.istio.io/component": "EgressGateways"});
        pod(&mut c, egw, now);
        let doc = answer_of(&mut c, "istiod-a", None, now);
        let types: Vec<(&str, &str)> = doc
            .as_array()
            .expect("array")
            .iter()
            .map(|e| {
                (
                    e["proxy"].as_str().unwrap_or(""),
                    e["proxy_type"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            types,
            [
                ("egress-abc.istio-system", "router"),
                ("istio-ingressgateway-abc.istio-system", "router"),
                ("web.shop", "sidecar")
            ]
        );
        let only_shop = answer_of(&mut c, "istiod-a", Some("shop"), now);
        assert_eq!(only_shop.as_array().map(Vec::len), Some(1));
        // 1.18 ignores the filter.
        let mut c18 = cluster();
        pod(&mut c18, istiod("istiod-a", "default", "1.18.0"), now);
        pod(
            &mut c18,
            sidecar("web", "shop", "default", LONG_AGO, json!({})),
            now,
        );
        pod(
            &mut c18,
            sidecar("api", "other", "default", LONG_AGO, json!({})),
            now,
        );
        assert_eq!(
            answer_of(&mut c18, "istiod-a", Some("shop"), now)
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn every_proxy_is_under_exactly_one_replica_of_its_revision() {
        let now = ts("2026-02-01T00:00:00Z");
        let mut c = cluster();
        pod(&mut c, istiod("istiod-1-9-1-aaaa", "1-9-1", "1.9.1"), now);
        pod(&mut c, istiod("istiod-1-9-1-bbbb", "1-9-1", "1.9.1"), now);
        pod(
            &mut c,
            istiod("istiod-1-23-2-cccc", "1-23-2", "1.23.2"),
            now,
        );
        let mut names = Vec::new();
        for i in 0..20 {
            let name = format!("app-{i}");
            pod(
                &mut c,
                sidecar(&name, "default", "1-9-1", LONG_AGO, json!({})),
                now,
            );
            names.push(format!("{name}.default"));
        }
        pod(
            &mut c,
            sidecar("new-rev", "default", "1-23-2", LONG_AGO, json!({})),
            now,
        );
        pod(
            &mut c,
            sidecar(
                "gone",
                "default",
                "1-9-1",
                LONG_AGO,
                json!({"sandbox.meshtop.dev/disconnected": "true"}),
            ),
            now,
        );
        let pinned = sidecar(
            "pinned",
            "default",
            "1-9-1",
            LONG_AGO,
            json!({"sandbox.meshtop.dev/istiod": "istiod-1-9-1-bbbb"}),
        );
        pod(&mut c, pinned, now);
        names.push("pinned.default".into());
        let mut ids = |istiod: &str| -> Vec<String> {
            answer_of(&mut c, istiod, None, now)
                .as_array()
                .expect("array")
                .iter()
                .map(|e| e["proxy"].as_str().unwrap_or("").to_string())
                .collect()
        };
        let a = ids("istiod-1-9-1-aaaa");
        let b = ids("istiod-1-9-1-bbbb");
        assert!(
            !a.is_empty() && !b.is_empty(),
            "both replicas hold proxies: {a:?} {b:?}"
        );
        let mut all: Vec<String> = a.iter().chain(&b).cloned().collect();
        all.sort();
        names.sort();
        assert_eq!(
            all, names,
            "each 1-9-1 proxy once, the disconnected one nowhere"
        );
        assert!(b.contains(&"pinned.default".to_string()));
        assert_eq!(ids("istiod-1-23-2-cccc"), ["new-rev.default"]);
        c.controllers.istiod.proxies.catch_up(&mut c.store);
        for p in c.store.list("pods", None) {
            let under = c
                .controllers
                .istiod
                .proxies
                .istiod_of(p.head())
                .map(|(_, name)| name.to_string());
            let id = proxy_id(p.head());
            let expected = if a.contains(&id) {
                Some("istiod-1-9-1-aaaa")
            } else if b.contains(&id) {
                Some("istiod-1-9-1-bbbb")
            } else if id == "new-rev.default" {
                Some("istiod-1-23-2-cccc")
            } else {
                None
            };
            assert_eq!(under.as_deref(), expected, "{id}");
        }
    }

    #[test]
    fn a_proxy_pinned_to_a_missing_replica_moves_to_a_ready_one() {
        let now = ts("2026-02-01T00:00:00Z");
        let mut c = cluster();
        pod(&mut c, istiod("istiod-a", "default", "1.9.1"), now);
        let mut not_ready = istiod("istiod-b", "default", "1.9.1");
        not_ready["status"]["conditions"][0]["status"] = json!("False");
        pod(&mut c, not_ready, now);
        pod(
            &mut c,
            sidecar(
                "web",
                "default",
                "default",
                LONG_AGO,
                json!({"sandbox.meshtop.dev/istiod": "istiod-b"}),
            ),
            now,
        );
        assert_eq!(
            answer_of(&mut c, "istiod-a", None, now)
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(answer_of(&mut c, "istiod-b", None, now), json!([]));
    }

    /// A mesh with every kind of proxy and pinned state, under replicas of every syncz
    /// shape: what the golden answers below are taken from.
    fn varied_mesh(now: Timestamp) -> Cluster {
        let mut c = cluster();
        // Nonces derive from uids: fixed ones keep the answers the same from run to run.
        let add = |c: &mut Cluster, mut p: Value, now: Timestamp| {
            let uid = format!("{}-{}", meta_str(&p, "namespace"), meta_str(&p, "name"));
            p["metadata"]["uid"] = json!(uid);
            pod(c, p, now);
        };
        let versions = [
            ("1-9-1", "1.9.1"),
            ("1-13-0", "1.13.0"),
            ("1-14-3", "1.14.3"),
            ("1-18-0", "1.18.0"),
            ("1-19-0", "1.19.0"),
            ("1-23-2", "1.23.2"),
        ];
        for (rev, version) in versions {
            add(
                &mut c,
                istiod(&format!("istiod-{rev}-a"), rev, version),
                now,
            );
            add(
                &mut c,
                istiod(&format!("istiod-{rev}-b"), rev, version),
                now,
            );
            let pins = [
                json!({}),
                json!({"sandbox.meshtop.dev/xds": "CDS=SYNCED,LDS=NOT SENT,RDS=STALE,EDS=STALE (Never Acknowledged),ECDS=ERROR"}),
                json!({"sandbox.meshtop.dev/xds": "EDS=ERROR,EDS=SYNCED,RDS=ERROR",
                    "sandbox.meshtop.dev/xds-error": "bad \"route\" \u{e9}\n\ttab"}),
                json!({"sandbox.meshtop.dev/xds": "nonsense"}),
                json!({"sandbox.meshtop.dev/proxy-version": ""}),
                json!({"sandbox.meshtop.dev/proxy-version": "1.22.1-\"q\""}),
                json!({"sandbox.meshtop.dev/disconnected": "true"}),
                json!({"sandbox.meshtop.dev/istiod": format!("istiod-{rev}-b")}),
            ];
            for (i, ann) in pins.into_iter().enumerate() {
                for ns in ["shop", "default"] {
                    let name = format!("app-{rev}-{i}");
                    add(&mut c, sidecar(&name, ns, rev, LONG_AGO, ann.clone()), now);
                }
            }
            add(
                &mut c,
                sidecar(
                    &format!("fresh-{rev}"),
                    "shop",
                    rev,
                    "2026-02-01T00:00:09Z",
                    json!({}),
                ),
                now,
            );
            let mut gw = sidecar(
                &format!("ingress-{rev}"),
                "istio-system",
                rev,
                LONG_AGO,
                json!({}),
            );
            gw["metadata"]["labels"] = json!({"istio": "ingressgateway"});
            add(&mut c, gw, now);
            let mut wp = sidecar(&format!("waypoint-{rev}"), "shop", rev, LONG_AGO, json!({}));
            wp["metadata"]["labels"] =
                json!({"gateway.istio.io/managed": "istio.io-mesh-controller"});
            add(&mut c, wp, now);
            let mut zt = sidecar(
                &format!("ztunnel-{rev}"),
                "istio-system",
                rev,
                LONG_AGO,
                json!({"sandbox.meshtop.dev/xds": "WDS=STALE,WADS=ERROR"}),
            );
            zt["metadata"]["labels"] = json!({"app": "ztunnel"});
            add(&mut c, zt, now);
            let mut by_label =
                sidecar(&format!("labelled-{rev}"), "shop", rev, LONG_AGO, json!({}));
            by_label["metadata"]["annotations"] = json!({});
            by_label["metadata"]["labels"] = json!({"istio.io/rev": rev});
            by_label["spec"]["containers"][1]["image"] =
                json!("docker.io/istio/proxyv2:1.23.2-distroless");
            add(&mut c, by_label, now);
            let mut pending = sidecar(&format!("pending-{rev}"), "shop", rev, LONG_AGO, json!({}));
            pending["status"]["phase"] = json!("Pending");
            add(&mut c, pending, now);
        }
        c
    }

    /// Every replica's answer to each query, as served: compact and pretty, filtered and
    /// not. The golden file was written by the first implementation (a `serde_json::Value`
    /// per proxy); every later one must serve the same bytes.
    fn varied_answers() -> String {
        let now = ts("2026-02-01T00:00:10Z");
        let mut c = varied_mesh(now);
        let mut out = String::new();
        let istiods: Vec<std::sync::Arc<crate::Stored>> = c
            .store
            .list("pods", None)
            .filter(|p| is_istiod(p.head()))
            .cloned()
            .collect();
        for i in istiods {
            let i = i.head();
            for query in ["", "namespace=shop", "pretty"] {
                let r =
                    crate::istiod::istiod_http(&mut c, i, 15014, "/debug/syncz", query, true, now);
                out.push_str(&format!("{} ?{query} {}\n", meta_str(i, "name"), r.status));
                out.push_str(&String::from_utf8_lossy(&r.body));
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn answers_are_byte_for_byte_the_golden_ones() {
        let got = varied_answers();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/istiod/testdata/syncz-golden.txt"
        );
        let want = std::fs::read_to_string(path).expect("golden file");
        assert!(
            got.len() > 10_000,
            "the mesh has answers: {} bytes",
            got.len()
        );
        for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "line {}", n + 1);
        }
        assert_eq!(got.lines().count(), want.lines().count());
    }

    /// The compact answer of the istiod pod `name` as served (from the answers kept when
    /// they still hold).
    fn served(c: &mut Cluster, name: &str, query: &str, now: Timestamp) -> bytes::Bytes {
        let istiod = get(c, name);
        let r =
            crate::istiod::istiod_http(c, istiod.head(), 15014, "debug/syncz", query, true, now);
        assert_eq!(r.status, 200);
        r.body
    }

    fn entry<'a>(doc: &'a Value, id: &str) -> Option<&'a Value> {
        doc.as_array()?.iter().find(|e| e["proxy"] == id)
    }

    fn pod_type(c: &Cluster) -> crate::resources::ResourceType {
        c.registry.by_kind("v1", "Pod").cloned().expect("Pod type")
    }

    /// Rewrites a stored pod through the store, as an API write does.
    fn rewrite(c: &mut Cluster, ns: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let t = pod_type(c);
        let mut p = c.store.get("pods", ns, name).expect("pod").full();
        change(&mut p);
        c.store.replace(&t, p).expect("replace");
    }

    #[test]
    fn an_unchanged_mesh_answers_from_the_kept_bytes_and_a_write_shows_at_once() {
        let now = ts("2026-02-01T00:00:10Z");
        let mut c = cluster();
        pod(&mut c, istiod("istiod-a", "default", "1.23.2"), now);
        for name in ["web", "api", "db"] {
            pod(
                &mut c,
                sidecar(name, "shop", "default", LONG_AGO, json!({})),
                now,
            );
        }
        let first = served(&mut c, "istiod-a", "", now);
        let again = served(&mut c, "istiod-a", "", now);
        assert_eq!(first, again);
        assert_eq!(
            first.as_ptr(),
            again.as_ptr(),
            "the second answer is the kept one"
        );
        // Another filter is another answer.
        let filtered = served(&mut c, "istiod-a", "namespace=default", now);
        assert_eq!(&filtered[..], b"[]");

        // A pinned state shows in the very next answer.
        rewrite(&mut c, "shop", "api", |p| {
            p["metadata"]["annotations"]["sandbox.meshtop.dev/xds"] = json!("EDS=STALE");
        });
        let doc: Value =
            serde_json::from_slice(&served(&mut c, "istiod-a", "", now)).expect("json");
        assert_eq!(
            istioctl_status(entry(&doc, "api.shop").expect("api"), "endpoint"),
            "STALE"
        );
        assert_eq!(
            istioctl_status(entry(&doc, "web.shop").expect("web"), "endpoint"),
            "SYNCED"
        );

        // So does a deleted pod, and one that stops running.
        let t = pod_type(&c);
        c.store.remove(&t, "shop", "db").expect("delete");
        rewrite(&mut c, "shop", "web", |p| {
            p["status"]["phase"] = json!("Failed");
        });
        let doc: Value =
            serde_json::from_slice(&served(&mut c, "istiod-a", "", now)).expect("json");
        let ids: Vec<&str> = doc
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|e| e["proxy"].as_str())
            .collect();
        assert_eq!(ids, ["api.shop"]);

        // A new replica takes its share of the proxies at once.
        pod(&mut c, istiod("istiod-b", "default", "1.23.2"), now);
        for i in 0..8 {
            pod(
                &mut c,
                sidecar(&format!("app-{i}"), "shop", "default", LONG_AGO, json!({})),
                now,
            );
        }
        let a: Value = serde_json::from_slice(&served(&mut c, "istiod-a", "", now)).expect("json");
        let b: Value = serde_json::from_slice(&served(&mut c, "istiod-b", "", now)).expect("json");
        let (a, b) = (
            a.as_array().map_or(0, Vec::len),
            b.as_array().map_or(0, Vec::len),
        );
        assert_eq!(a + b, 9, "every proxy once");
        assert!(a > 0 && b > 0, "both replicas hold proxies: {a} and {b}");
    }

    #[test]
    fn a_kept_answer_turns_synced_when_the_sync_delay_has_passed() {
        let start = ts("2026-02-01T00:00:10Z");
        let mut c = cluster();
        pod(&mut c, istiod("istiod-a", "default", "1.23.2"), start);
        pod(
            &mut c,
            sidecar(
                "fresh",
                "shop",
                "default",
                "2026-02-01T00:00:09Z",
                json!({}),
            ),
            start,
        );
        let state = |body: &[u8]| {
            let doc: Value = serde_json::from_slice(body).expect("json");
            istioctl_status(&doc[0], "cluster")
        };
        // Connected at :09 with a 3 s delay: never acknowledged until :12.
        let before = served(&mut c, "istiod-a", "", start);
        assert_eq!(state(&before), "STALE (Never Acknowledged)");
        let still = served(&mut c, "istiod-a", "", ts("2026-02-01T00:00:11.900Z"));
        assert_eq!(
            still.as_ptr(),
            before.as_ptr(),
            "kept until the delay passes"
        );
        let after = served(&mut c, "istiod-a", "", ts("2026-02-01T00:00:12Z"));
        assert_eq!(state(&after), "SYNCED");
        // A clock that went back does not get a later answer.
        let back = served(&mut c, "istiod-a", "", start);
        assert_eq!(state(&back), "STALE (Never Acknowledged)");
    }

    /// Every replica's compact answers, by name.
    fn all_answers(c: &mut Cluster, now: Timestamp) -> Vec<(String, String)> {
        let names: Vec<String> = c
            .store
            .list("pods", None)
            .filter(|p| is_istiod(p.head()))
            .map(|p| meta_str(p.head(), "name").to_string())
            .collect();
        names
            .into_iter()
            .flat_map(|n| {
                ["", "namespace=shop"].map(|q| {
                    let body = served(c, &n, q, now);
                    (
                        format!("{n}?{q}"),
                        String::from_utf8_lossy(&body).to_string(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn the_index_kept_in_step_with_writes_agrees_with_one_read_afresh() {
        let now = ts("2026-02-01T00:00:10Z");
        let mut c = varied_mesh(now);
        let before = all_answers(&mut c, now);
        let t = pod_type(&c);
        // Every kind of write that moves a proxy: state, revision, replica pin and
        // readiness, disconnection, deletion, a new pod, a replica going unready.
        rewrite(&mut c, "shop", "app-1-23-2-0", |p| {
            p["metadata"]["annotations"]["sandbox.meshtop.dev/xds"] = json!("CDS=ERROR");
        });
        rewrite(&mut c, "default", "app-1-19-0-0", |p| {
            p["metadata"]["annotations"]["sidecar.istio.io/status"] =
                json!("{\"revision\":\"1-23-2\"}");
        });
        rewrite(&mut c, "shop", "app-1-9-1-3", |p| {
            p["metadata"]["annotations"]["sandbox.meshtop.dev/disconnected"] = json!("true");
        });
        rewrite(&mut c, "shop", "app-1-14-3-0", |p| {
            p["metadata"]["annotations"]["sandbox.meshtop.dev/istiod"] = json!("istiod-1-14-3-a");
        });
        c.store
            .remove(&t, "shop", "waypoint-1-18-0")
            .expect("delete");
        pod(
            &mut c,
            sidecar("late", "shop", "1-13-0", LONG_AGO, json!({})),
            now,
        );
        rewrite(&mut c, "istio-system", "istiod-1-18-0-b", |p| {
            p["status"]["conditions"][0]["status"] = json!("False");
        });
        let kept = all_answers(&mut c, now);
        assert_ne!(kept, before, "the writes show");
        let doc = |answers: &[(String, String)], at: &str| -> Value {
            let (_, body) = answers.iter().find(|(k, _)| k == at).expect("answer");
            serde_json::from_str(body).expect("json")
        };
        let new = doc(&kept, "istiod-1-23-2-a?");
        let moved = doc(&kept, "istiod-1-23-2-b?");
        assert!(
            entry(&new, "app-1-19-0-0.default")
                .or(entry(&moved, "app-1-19-0-0.default"))
                .is_some(),
            "the proxy moved to its new revision"
        );
        assert_eq!(
            doc(&kept, "istiod-1-18-0-b?"),
            json!([]),
            "a replica that is not Ready holds nothing"
        );
        // The same answers from an index read afresh from the pods.
        c.controllers.istiod = crate::istiod::IstiodState::default();
        assert_eq!(all_answers(&mut c, now), kept);

        // And when the history no longer reaches back to the index, it reads the pods
        // again.
        c.store.set_history_cap(2);
        for name in ["app-1-23-2-1", "app-1-23-2-2", "app-1-23-2-4"] {
            c.store.remove(&t, "shop", name).expect("delete");
        }
        let after = all_answers(&mut c, now);
        let gone = doc(&after, "istiod-1-23-2-a?").to_string()
            + &doc(&after, "istiod-1-23-2-b?").to_string();
        assert!(!gone.contains("app-1-23-2-1.shop") && !gone.contains("app-1-23-2-4.shop"));
        c.controllers.istiod = crate::istiod::IstiodState::default();
        assert_eq!(all_answers(&mut c, now), after);
    }
}
