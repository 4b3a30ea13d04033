//! istiod's `/debug/syncz` answer → `ProxyStatus`es, with each xDS type's state computed as
//! `istioctl proxy-status` computes it on its HTTP path, and the answers of several replicas
//! merged into istioctl's table.
//!
//! Every shape istiod has served parses: 1.9's `*_sent`/`*_acked` pairs, `cluster_id`
//! (1.13), `extensionconfig_*` (1.14), `proxy_type` (1.18) and the `resources` map (1.23),
//! which wins where present. Unknown keys are ignored and a missing key is an empty value
//! (istiod marks every key `omitempty`); a key of the wrong JSON type counts as missing.

use std::fmt::Write as _;

use std::borrow::Cow;
use std::sync::LazyLock;

use jiff::Timestamp;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use super::intern::{self, Interner, Name};
use super::sync::{
    ProxyStatus, ReplicaState, ReplicaSync, SentTime, SyncState, Text, XDS_TYPES, XdsStatus,
    XdsType,
};

/// Why a `/debug/syncz` answer could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynczError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("expected a JSON array of proxies, got {0}")]
    NotAnArray(&'static str),
}

/// The prefix of each type's `*_sent` / `*_acked` keys; ztunnel's types have none (only
/// the 1.23+ `resources` map names them).
fn key_prefix(t: XdsType) -> Option<&'static str> {
    match t {
        XdsType::Cds => Some("cluster"),
        XdsType::Lds => Some("listener"),
        XdsType::Eds => Some("endpoint"),
        XdsType::Rds => Some("route"),
        XdsType::Ecds => Some("extensionconfig"),
        XdsType::Wds | XdsType::Wads => None,
    }
}

/// Parses one replica's answer. An element that is not an object or names no proxy is
/// skipped: one odd entry must not hide every other proxy.
///
/// The answer is read straight into its entries, strings borrowed from it where they hold
/// no escape: a large mesh's answer is tens of megabytes, and a parsed `Value` of it would
/// be several times that.
pub fn parse(json: &[u8]) -> Result<Vec<ProxyStatus>, SynczError> {
    let entries = match serde_json::from_slice::<Doc<'_>>(json) {
        Ok(Doc::Entries(entries)) => entries,
        Ok(Doc::NotAnArray(kind)) => return Err(SynczError::NotAnArray(kind)),
        Err(e) => return Err(SynczError::Json(e.to_string())),
    };
    let mut names = Interner::default();
    Ok(entries
        .iter()
        .filter_map(|e| entry(e, &mut names))
        .collect())
}

/// The whole answer: its entries (those that are objects), or what it is instead of an
/// array. Go marshals a nil slice as `null`: no connections.
enum Doc<'a> {
    Entries(Vec<Entry<'a>>),
    NotAnArray(&'static str),
}

impl<'de> Deserialize<'de> for Doc<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Doc<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON array of proxies")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
                let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Object(e)) = seq.next_element::<Object<Entry<'de>>>()? {
                    entries.extend(e);
                }
                Ok(Doc::Entries(entries))
            }
            fn visit_unit<E>(self) -> Result<Doc<'de>, E> {
                Ok(Doc::Entries(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Doc::NotAnArray("an object"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Doc<'de>, E> {
                Ok(Doc::NotAnArray("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Doc<'de>, E> {
                Ok(Doc::NotAnArray("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Doc<'de>, E> {
                Ok(Doc::NotAnArray("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Doc<'de>, E> {
                Ok(Doc::NotAnArray("a number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Doc<'de>, E> {
                Ok(Doc::NotAnArray("a string"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string value; missing, `null` or another type is empty (Go's `omitempty`; a key of the
/// wrong JSON type counts as missing).
#[derive(Debug, Default)]
struct Lenient<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Lenient<'de>, E> {
                Ok(Lenient(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Lenient<'de>, E> {
                Ok(Lenient(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Lenient<'de>, E> {
                Ok(Lenient(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lenient<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lenient<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// What is read of a JSON object, one key at a time; a key seen twice keeps its last value,
/// as a parsed object would.
trait Fields<'de>: Default {
    fn field<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A)
    -> Result<(), A::Error>;
}

/// `Some` for a JSON object, `None` for any other value.
struct Object<T>(Option<T>);

impl<'de, T: Fields<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for V<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<T>, A::Error> {
                let mut t = T::default();
                while let Some(Lenient(key)) = map.next_key::<Lenient<'de>>()? {
                    t.field(key, &mut map)?;
                }
                Ok(Object(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Object<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Object(None))
            }
            fn visit_unit<E>(self) -> Result<Object<T>, E> {
                Ok(Object(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Object<T>, E> {
                Ok(Object(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Object<T>, E> {
                Ok(Object(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Object<T>, E> {
                Ok(Object(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Object<T>, E> {
                Ok(Object(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Object<T>, E> {
                Ok(Object(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The keys of the 1.9 `*_sent` / `*_acked` pairs, per type in `XdsType::EVERY` order
/// (see `key_prefix`).
static OLD_KEYS: LazyLock<[Option<(String, String)>; XDS_TYPES]> = LazyLock::new(|| {
    XdsType::EVERY.map(|t| key_prefix(t).map(|p| (format!("{p}_sent"), format!("{p}_acked"))))
});

/// One proxy's entry, its strings borrowed from the answer.
#[derive(Default)]
struct Entry<'a> {
    proxy: Cow<'a, str>,
    proxy_type: Cow<'a, str>,
    istio_version: Cow<'a, str>,
    proxy_version: Cow<'a, str>,
    cluster_id: Cow<'a, str>,
    /// `*_sent` and `*_acked` per type, in `XdsType::EVERY` order.
    old: [(Cow<'a, str>, Cow<'a, str>); XDS_TYPES],
    /// The 1.23+ `resources` map when it is an object: each type URL and its report, if
    /// that is an object.
    resources: Option<Vec<(Cow<'a, str>, Option<Resource<'a>>)>>,
}

impl<'de> Fields<'de> for Entry<'de> {
    fn field<A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let text = |map: &mut A| map.next_value::<Lenient<'de>>().map(|l| l.0);
        match key.as_ref() {
            "proxy" => self.proxy = text(map)?,
            "proxy_type" => self.proxy_type = text(map)?,
            "istio_version" => self.istio_version = text(map)?,
            "proxy_version" => self.proxy_version = text(map)?,
            "cluster_id" => self.cluster_id = text(map)?,
            "resources" => {
                self.resources = map.next_value::<Object<Resources<'de>>>()?.0.map(|r| r.0)
            }
            k => {
                let old = OLD_KEYS
                    .iter()
                    .zip(self.old.iter_mut())
                    .find_map(|(keys, slot)| {
                        let (sent, acked) = keys.as_ref()?;
                        if k == sent {
                            Some(&mut slot.0)
                        } else if k == acked {
                            Some(&mut slot.1)
                        } else {
                            None
                        }
                    });
                match old {
                    Some(slot) => *slot = text(map)?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `resources` map, in the order of its keys.
#[derive(Default)]
struct Resources<'a>(Vec<(Cow<'a, str>, Option<Resource<'a>>)>);

impl<'de> Fields<'de> for Resources<'de> {
    fn field<A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let report = map.next_value::<Object<Resource<'de>>>()?.0;
        self.0.push((key, report));
        Ok(())
    }
}

/// One type's report in the `resources` map.
#[derive(Default)]
struct Resource<'a> {
    sent: Cow<'a, str>,
    acked: Cow<'a, str>,
    sent_time: Cow<'a, str>,
    last_error: Cow<'a, str>,
}

impl<'de> Fields<'de> for Resource<'de> {
    fn field<A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let slot = match key.as_ref() {
            "sent" => &mut self.sent,
            "acked" => &mut self.acked,
            "sentTime" => &mut self.sent_time,
            "lastError" => &mut self.last_error,
            _ => {
                map.next_value::<IgnoredAny>()?;
                return Ok(());
            }
        };
        *slot = map.next_value::<Lenient<'de>>()?.0;
        Ok(())
    }
}

fn name(names: &mut Interner, s: &str) -> Name {
    if s.is_empty() {
        intern::empty()
    } else {
        names.intern(s)
    }
}

/// `<pod>.<namespace>` → (pod, namespace). A namespace is a DNS label and holds no dot,
/// while a pod name is a DNS subdomain and may, so the split is at the last dot.
pub fn split_proxy_id(proxy: &str) -> (&str, &str) {
    proxy.rsplit_once('.').unwrap_or((proxy, ""))
}

/// istioctl's rule for one type on its HTTP path (reference 1.4).
pub fn http_state(sent: &str, acked: &str, ztunnel: bool) -> SyncState {
    if sent.is_empty() {
        if ztunnel {
            SyncState::Ignored
        } else {
            SyncState::NotSent
        }
    } else if sent == acked {
        SyncState::Synced
    } else if acked.is_empty() {
        SyncState::StaleNeverAcknowledged
    } else {
        SyncState::Stale
    }
}

/// `sentTime`: Go's zero time (`0001-01-01T00:00:00Z`, a type never sent) is no time.
fn sent_time(s: &str) -> Option<Timestamp> {
    const GO_ZERO_TIME: i64 = -62_135_596_800;
    s.parse::<Timestamp>()
        .ok()
        .filter(|t| t.as_second() > GO_ZERO_TIME)
}

fn entry(e: &Entry<'_>, names: &mut Interner) -> Option<ProxyStatus> {
    let proxy = e.proxy.as_ref();
    if proxy.is_empty() {
        return None;
    }
    let (pod, namespace) = split_proxy_id(proxy);
    let proxy_type = e.proxy_type.as_ref();
    let ztunnel = proxy_type == "ztunnel";
    let version = match e.istio_version.as_ref() {
        "" => e.proxy_version.as_ref(),
        v => v,
    };
    let mut old = e.old.iter();
    let xds = XdsType::EVERY.map(|t| {
        let (old_sent, old_acked) = old
            .next()
            .map_or(("", ""), |(s, a)| (s.as_ref(), a.as_ref()));
        match &e.resources {
            // Before 1.23 nobody reported ztunnel's types: not applicable.
            None if key_prefix(t).is_none() => XdsStatus::ignored(),
            None => XdsStatus::new(
                http_state(old_sent, old_acked, ztunnel),
                names.text(old_sent),
                names.text(old_acked),
            ),
            // The last value of a type URL named twice, as a parsed object keeps it.
            Some(map) => match t.type_urls().iter().find_map(|url| {
                map.iter()
                    .rev()
                    .find(|(k, _)| k == url)
                    .and_then(|(_, r)| r.as_ref())
            }) {
                // 1.23+: a type the proxy does not watch is not listed.
                None => XdsStatus::new(
                    SyncState::Ignored,
                    names.text(old_sent),
                    names.text(old_acked),
                ),
                Some(r) => {
                    let (sent, acked, last_error) =
                        (r.sent.as_ref(), r.acked.as_ref(), r.last_error.as_ref());
                    XdsStatus {
                        state: if last_error.is_empty() {
                            http_state(sent, acked, ztunnel)
                        } else {
                            SyncState::Error
                        },
                        sent: names.text(sent),
                        acked: names.text(acked),
                        sent_time: sent_time(&r.sent_time).and_then(SentTime::new),
                        last_error: (!last_error.is_empty()).then(|| Text::from(last_error)),
                    }
                }
            },
        }
    });
    Some(ProxyStatus {
        proxy: Name::from(proxy),
        pod: name(names, pod),
        namespace: name(names, namespace),
        cluster: name(names, &e.cluster_id),
        proxy_type: name(names, proxy_type),
        version: name(names, version),
        xds,
    })
}

/// One row of `meshtop proxy-status`: a proxy as one istiod replica reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyStatusRow {
    /// The istiod pod that reported it (istioctl's ISTIOD).
    pub istiod: Name,
    pub revision: Name,
    pub status: ProxyStatus,
}

/// The proxies of every replica that answered, concatenated as istioctl does (a proxy
/// connected to two replicas at once shows twice), sorted by proxy then istiod.
pub fn merge<'a>(replicas: impl IntoIterator<Item = &'a ReplicaSync>) -> Vec<ProxyStatusRow> {
    let mut rows: Vec<ProxyStatusRow> = replicas
        .into_iter()
        .flat_map(|r| {
            let proxies = match &r.state {
                ReplicaState::Ok { proxies, .. } => proxies.as_slice(),
                _ => &[],
            };
            proxies.iter().map(|p| ProxyStatusRow {
                istiod: r.istiod.clone(),
                revision: r.revision.clone(),
                status: p.clone(),
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        a.status
            .proxy
            .cmp(&b.status.proxy)
            .then_with(|| a.istiod.cmp(&b.istiod))
    });
    rows
}

/// The header of istioctl 1.14–1.26's table.
pub const TABLE_HEADER: [&str; 9] = [
    "NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION",
];

/// The header of istioctl 1.27+'s table.
pub const CURRENT_HEADER: [&str; 5] = ["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"];

/// Which istioctl's table to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// istioctl 1.14–1.26: a column per Envoy type.
    Legacy,
    /// istioctl 1.27+: the types each proxy subscribes to, counted.
    Current,
}

impl TableFormat {
    /// The format of the istioctl that matches the newest istiod: 1.27 changed it.
    pub fn for_istiod<'a>(versions: impl IntoIterator<Item = &'a str>) -> TableFormat {
        let newest = versions
            .into_iter()
            .filter_map(super::facts::nodes::major_minor)
            .max();
        match newest {
            Some(v) if v >= (1, 27) => TableFormat::Current,
            _ => TableFormat::Legacy,
        }
    }
}

/// istioctl 1.27+'s SUBSCRIBED TYPES: `5 (CDS,LDS,EDS,RDS,ECDS)`.
pub fn subscribed(s: &ProxyStatus) -> String {
    let types: Vec<&str> = s.subscribed().map(XdsType::short).collect();
    format!("{} ({})", types.len(), types.join(","))
}

/// istioctl's table in the format asked.
pub fn table(rows: &[ProxyStatusRow], format: TableFormat) -> String {
    let subscribed: Vec<String> = match format {
        TableFormat::Current => rows.iter().map(|r| subscribed(&r.status)).collect(),
        TableFormat::Legacy => Vec::new(),
    };
    let mut cells: Vec<Vec<&str>> = Vec::with_capacity(rows.len() + 1);
    match format {
        TableFormat::Legacy => cells.push(TABLE_HEADER.to_vec()),
        TableFormat::Current => cells.push(CURRENT_HEADER.to_vec()),
    }
    for (i, r) in rows.iter().enumerate() {
        let s = &r.status;
        let mut line = vec![s.proxy.as_ref(), s.cluster.as_ref()];
        match format {
            TableFormat::Legacy => {
                line.extend(XdsType::ALL.iter().map(|&t| s.state(t).label()));
                line.push(r.istiod.as_ref());
                line.push(s.version.as_ref());
            }
            TableFormat::Current => {
                line.push(r.istiod.as_ref());
                line.push(s.version.as_ref());
                line.push(subscribed.get(i).map_or("", String::as_str));
            }
        }
        cells.push(line);
    }
    tabwriter(&cells)
}

/// Go's tabwriter with padding 5, as istioctl prints: each column but the last is as wide
/// as its widest cell plus five spaces.
fn tabwriter(cells: &[Vec<&str>]) -> String {
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            cells
                .iter()
                .map(|l| l.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in cells {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                let _ = write!(text, "{cell:<w$}", w = w + 5);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// The rows as JSON: each proxy with its istiod and revision, and per type the state in
/// istioctl's words with the raw nonces behind it.
pub fn json_rows(rows: &[ProxyStatusRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                let s = &r.status;
                let xds: Map<String, Value> = XdsType::EVERY
                    .iter()
                    .map(|&t| {
                        let x = &s.xds[t as usize];
                        (
                            t.short().to_string(),
                            json!({
                                "state": x.state.label(),
                                "sent": x.sent.as_ref(),
                                "acked": x.acked.as_ref(),
                                "sent_time": x.sent_time.map(|t| t.to_string()),
                                "last_error": x.last_error.as_deref(),
                            }),
                        )
                    })
                    .collect();
                json!({
                    "proxy": s.proxy.as_ref(),
                    "pod": s.pod.as_ref(),
                    "namespace": s.namespace.as_ref(),
                    "cluster": s.cluster.as_ref(),
                    "proxy_type": s.proxy_type.as_ref(),
                    "version": s.version.as_ref(),
                    "istiod": r.istiod.as_ref(),
                    "revision": r.revision.as_ref(),
                    "xds": xds,
                    "subscribed": s.subscribed().map(XdsType::short).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests;
