//! istiod's `/debug/syncz` answer → `ProxyStatus`es, with each xDS type's state computed as
//! `istioctl proxy-status` computes it on its HTTP path, and the answers of several replicas
//! merged into istioctl's table.
//!
//! Every shape istiod has served parses: 1.9's `*_sent`/`*_acked` pairs, `cluster_id`
//! (1.13), `extensionconfig_*` (1.14), `proxy_type` (1.18) and the `resources` map (1.23),
//! which wins where present. Unknown keys are ignored and a missing key is an empty value
//! (istiod marks every key `omitempty`); a key of the wrong JSON type counts as missing.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::intern::{self, Interner, Name};
use super::sync::{
    ProxyStatus, ReplicaState, ReplicaSync, SentTime, SyncState, Text, XdsStatus, XdsType,
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
pub fn parse(json: &[u8]) -> Result<Vec<ProxyStatus>, SynczError> {
    let doc: Value = serde_json::from_slice(json).map_err(|e| SynczError::Json(e.to_string()))?;
    let entries = match doc {
        Value::Array(a) => a,
        // Go marshals a nil slice as `null`: no connections.
        Value::Null => return Ok(Vec::new()),
        other => return Err(SynczError::NotAnArray(json_kind(&other))),
    };
    let mut names = Interner::default();
    Ok(entries
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|e| entry(e, &mut names))
        .collect())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string value; missing, `null` or another type is empty (Go's `omitempty`).
fn text<'a>(o: &'a Map<String, Value>, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
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

fn entry(o: &Map<String, Value>, names: &mut Interner) -> Option<ProxyStatus> {
    let proxy = text(o, "proxy");
    if proxy.is_empty() {
        return None;
    }
    let (pod, namespace) = split_proxy_id(proxy);
    let proxy_type = text(o, "proxy_type");
    let ztunnel = proxy_type == "ztunnel";
    let version = match text(o, "istio_version") {
        "" => text(o, "proxy_version"),
        v => v,
    };
    let resources = o.get("resources").and_then(Value::as_object);
    let xds = XdsType::EVERY.map(|t| {
        let prefix = key_prefix(t);
        let (old_sent, old_acked) = match prefix {
            Some(prefix) => (
                text(o, &format!("{prefix}_sent")),
                text(o, &format!("{prefix}_acked")),
            ),
            None => ("", ""),
        };
        match resources {
            // Before 1.23 nobody reported ztunnel's types: not applicable.
            None if prefix.is_none() => XdsStatus::ignored(),
            None => XdsStatus::new(
                http_state(old_sent, old_acked, ztunnel),
                names.text(old_sent),
                names.text(old_acked),
            ),
            Some(map) => match t
                .type_urls()
                .iter()
                .find_map(|url| map.get(*url).and_then(Value::as_object))
            {
                // 1.23+: a type the proxy does not watch is not listed.
                None => XdsStatus::new(
                    SyncState::Ignored,
                    names.text(old_sent),
                    names.text(old_acked),
                ),
                Some(r) => {
                    let sent = text(r, "sent");
                    let acked = text(r, "acked");
                    let last_error = text(r, "lastError");
                    XdsStatus {
                        state: if last_error.is_empty() {
                            http_state(sent, acked, ztunnel)
                        } else {
                            SyncState::Error
                        },
                        sent: names.text(sent),
                        acked: names.text(acked),
                        sent_time: sent_time(text(r, "sentTime")).and_then(SentTime::new),
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
        cluster: name(names, text(o, "cluster_id")),
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
