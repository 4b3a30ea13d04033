//! `GET pods/{name}/log`: the lines a container would have written, made up from what the
//! pod is. istiod's `discovery` container tells of pushes and of the `ads` streams of the
//! proxies connected to it, an `istio-proxy` container writes Envoy access-log lines and
//! the odd `warning envoy`, any other container generic lines. `container`, `tailLines`,
//! `timestamps`, `previous` and `follow` mean what they mean to the real API server and
//! kubelet; with `follow=true` a new line comes every couple of seconds until the client
//! closes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::controllers::container_names;
use super::error::ApiError;
use super::server::{Body, channel_body, full};
use super::store::meta_str;
use super::{Cluster, Shared, istiod};

/// Lines a container has written before the request: what `tailLines` cuts.
const HISTORY: u64 = 40;
/// The time between two lines, in the history and while following.
const EVERY: Duration = Duration::from_secs(2);

/// What a container writes.
#[derive(Debug, Clone)]
enum Writer {
    /// istiod: its version and the proxies connected to it (`name.namespace`, IP).
    Discovery {
        version: String,
        proxies: Vec<(String, String)>,
    },
    /// A sidecar or a gateway's Envoy: the pod's name and IP.
    Envoy { pod: String, ip: String },
    /// Anything else: the container's name.
    Generic { container: String },
}

/// The query of a log request.
#[derive(Debug, Clone)]
struct LogQuery {
    container: Option<String>,
    tail: Option<u64>,
    follow: bool,
    timestamps: bool,
    previous: bool,
}

impl LogQuery {
    fn parse(q: &HashMap<String, String>) -> Result<LogQuery, ApiError> {
        let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
        let tail = match q.get("tailLines") {
            None => None,
            Some(t) => Some(t.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("invalid tailLines {t:?}: not a number"))
            })?),
        };
        // kubectl sends -1 for "all"; the API server rejects other negatives.
        let tail = match tail {
            None | Some(-1) => None,
            Some(n) if n < 0 => {
                return Err(ApiError::bad_request(format!(
                    "tailLines: Invalid value: {n}: must be greater than or equal to 0"
                )));
            }
            Some(n) => Some(n.unsigned_abs()),
        };
        Ok(LogQuery {
            container: q.get("container").filter(|c| !c.is_empty()).cloned(),
            tail,
            follow: flag("follow"),
            timestamps: flag("timestamps"),
            previous: flag("previous"),
        })
    }
}

/// The container a request reads, as the API server picks it: the one named, else the only
/// one; several and none named is an error listing them.
fn pick_container(pod: &Value, asked: Option<&str>) -> Result<String, ApiError> {
    let name = meta_str(pod, "name");
    let containers = container_names(pod, "containers");
    let init = container_names(pod, "initContainers");
    match asked {
        Some(c) if containers.iter().chain(&init).any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None => match containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            many => {
                let mut message = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    many.join(" ")
                );
                if !init.is_empty() {
                    message.push_str(&format!(
                        " or one of the init containers: [{}]",
                        init.join(" ")
                    ));
                }
                Err(ApiError::bad_request(message))
            }
        },
    }
}

/// Whether the container ran before and was restarted: only then has it a previous log.
fn has_previous(pod: &Value, container: &str) -> bool {
    ["/status/containerStatuses", "/status/initContainerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter(|s| s.get("name").and_then(Value::as_str) == Some(container))
        .any(|s| {
            s.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0
                || s.pointer("/lastState/terminated").is_some()
        })
}

fn writer(cluster: &mut Cluster, pod: &Value, container: &str) -> Writer {
    let ip = pod
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .unwrap_or("10.0.0.1")
        .to_string();
    match container {
        "discovery" => Writer::Discovery {
            version: istiod::istiod_version_text(pod).unwrap_or_else(|| "unknown".into()),
            proxies: istiod::connected_proxies(cluster, pod)
                .into_iter()
                .map(|p| {
                    (
                        format!("{}.{}", p.name(), p.namespace()),
                        p.ip().unwrap_or("10.0.0.1").to_string(),
                    )
                })
                .collect(),
        },
        "istio-proxy" => Writer::Envoy {
            pod: meta_str(pod, "name").to_string(),
            ip,
        },
        other => Writer::Generic {
            container: other.to_string(),
        },
    }
}

/// The `n`th line the container wrote, at `at`; the same `n` always reads the same.
fn line(writer: &Writer, n: u64, at: Timestamp) -> String {
    let stamp = at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ");
    match writer {
        Writer::Discovery { version, proxies } => {
            if n == 0 {
                return format!("{stamp}\tinfo\tistiod version {version} starting");
            }
            let proxy = (!proxies.is_empty())
                .then(|| &proxies[(n as usize / 3) % proxies.len()])
                .map(|(id, ip)| (id.as_str(), ip.as_str()));
            match (n % 3, proxy) {
                (1, Some((id, ip))) => format!(
                    "{stamp}\tinfo\tads\tADS: new connection for node:{id}-{n} from {ip}:{}",
                    40000 + n % 20000
                ),
                (2, Some((id, _))) => format!(
                    "{stamp}\tinfo\tads\tCDS: PUSH request for node:{id} resources:{} size:{}kB",
                    20 + n % 30,
                    5 + n % 40
                ),
                _ => format!(
                    "{stamp}\tinfo\tads\tPush debounce stable[{n}] {}: {}ms since last change, \
                     for {} proxies",
                    1 + n % 4,
                    100 + n % 900,
                    proxies.len()
                ),
            }
        }
        Writer::Envoy { pod, ip } => {
            if n % 7 == 3 {
                return format!(
                    "{stamp}\twarning\tenvoy config\tgRPC config for \
                     type.googleapis.com/envoy.config.route.v3.RouteConfiguration rejected: \
                     route not found (pod {pod})"
                );
            }
            let (method, path, code) = match n % 4 {
                0 => ("GET", "/productpage", 200),
                1 => ("GET", "/reviews/0", 200),
                2 => ("POST", "/api/v1/ratings", 201),
                _ => ("GET", "/details/0", 503),
            };
            format!(
                "[{stamp}] \"{method} {path} HTTP/1.1\" {code} - via_upstream - \"-\" 0 {} {} {} \
                 \"-\" \"curl/7.68.0\" \"{:08x}-{:04x}\" \"{ip}:9080\" \"inbound|9080||\"",
                100 + n % 4000,
                1 + n % 50,
                n % 40,
                0x9e37_79b9_u64.wrapping_mul(n + 1) & 0xffff_ffff,
                n % 0xffff
            )
        }
        Writer::Generic { container } => {
            format!(
                "{stamp} {container}: handled request {n} in {}ms",
                1 + n % 90
            )
        }
    }
}

/// One line as the client reads it: with `timestamps`, kubelet's RFC 3339 stamp first.
fn render(writer: &Writer, n: u64, at: Timestamp, timestamps: bool) -> Bytes {
    let text = line(writer, n, at);
    Bytes::from(if timestamps {
        format!("{} {text}\n", at.strftime("%Y-%m-%dT%H:%M:%S%.9fZ"))
    } else {
        format!("{text}\n")
    })
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`.
pub fn handle(
    shared: Arc<Shared>,
    namespace: &str,
    name: &str,
    q: &HashMap<String, String>,
    mut stop: watch::Receiver<bool>,
) -> Result<hyper::Response<Body>, ApiError> {
    let query = LogQuery::parse(q)?;
    let now = Timestamp::now();
    let writer = {
        let mut cluster = shared.lock();
        let pod = cluster
            .store
            .get("pods", namespace, name)
            .ok_or_else(|| ApiError::not_found("pods", name))?
            .full();
        let container = pick_container(&pod, query.container.as_deref())?;
        if query.previous && !has_previous(&pod, &container) {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        writer(&mut cluster, &pod, &container)
    };
    // The lines written so far, oldest first; the newest was written just now.
    let keep = query.tail.unwrap_or(HISTORY).min(HISTORY);
    let history: Vec<Bytes> = (HISTORY - keep..HISTORY)
        .map(|n| {
            let back = SignedDuration::try_from(EVERY * (HISTORY - 1 - n) as u32)
                .unwrap_or(SignedDuration::ZERO);
            render(
                &writer,
                n,
                now.checked_sub(back).unwrap_or(now),
                query.timestamps,
            )
        })
        .collect();
    if !query.follow {
        return Ok(text_response(full(history.concat())));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let timestamps = query.timestamps;
    tokio::spawn(async move {
        for b in history {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let mut tick = tokio::time::interval(EVERY);
        tick.tick().await;
        let mut n = HISTORY;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if tx.send(render(&writer, n, Timestamp::now(), timestamps)).await.is_err() {
                        return;
                    }
                    n += 1;
                }
                _ = stop.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(text_response(channel_body(rx)))
}

fn text_response(body: Body) -> hyper::Response<Body> {
    hyper::Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(body)
        .unwrap_or_else(|_| hyper::Response::new(full(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str]) -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": containers.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
                     "initContainers": [{"name": "istio-init"}]},
            "status": {"containerStatuses": [{"name": "app", "restartCount": 2}]}
        })
    }

    #[test]
    fn the_container_is_picked_as_the_api_server_picks_it() {
        let two = pod(&["app", "istio-proxy"]);
        assert_eq!(pick_container(&two, Some("app")).ok(), Some("app".into()));
        assert_eq!(
            pick_container(&two, None).err().map(|e| e.message),
            Some(
                "a container name must be specified for pod p, choose one of: [app istio-proxy] \
                 or one of the init containers: [istio-init]"
                    .into()
            )
        );
        assert_eq!(
            pick_container(&two, Some("nope")).err().map(|e| e.message),
            Some("container nope is not valid for pod p".into())
        );
        assert_eq!(
            pick_container(&pod(&["app"]), None).ok(),
            Some("app".into())
        );
        assert!(has_previous(&two, "app"));
        assert!(!has_previous(&two, "istio-proxy"));
    }

    #[test]
    fn lines_are_stable_and_shaped_by_the_container() {
        let at = Timestamp::UNIX_EPOCH;
        let istiod = Writer::Discovery {
            version: "1.9.1".into(),
            proxies: vec![("ratings-v1-abc.default".into(), "10.1.2.3".into())],
        };
        assert_eq!(line(&istiod, 4, at), line(&istiod, 4, at));
        assert!(line(&istiod, 4, at).contains("ADS: new connection for node:ratings-v1-abc"));
        let envoy = Writer::Envoy {
            pod: "p".into(),
            ip: "10.0.0.9".into(),
        };
        assert!(line(&envoy, 3, at).contains("\twarning\tenvoy"));
        assert!(line(&envoy, 0, at).contains("\"GET /productpage HTTP/1.1\" 200"));
    }
}
