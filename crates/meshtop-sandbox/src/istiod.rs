//! istiod as the sandbox plays it: `/debug/syncz` for the proxies connected to each
//! replica, reached through the pod proxy and through a port-forward (WebSocket channels as
//! kube-rs speaks them, SPDY as kubectl does).
//!
//! istiod's HTTP ports: 15014 serves `/metrics` and the `/debug/*`
//! handlers, 8080 serves `/ready` and the same `/debug/*` handlers. From 1.11 the debug handlers
//! answer 401 to a caller that is not on loopback and brings no Istio credentials, which is
//! every request relayed by the API server's pod proxy; a port-forward arrives on loopback.

mod answers;
mod index;
pub mod portforward;
mod syncz;

pub use syncz::{connected_proxies, istiod_version_text};

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use serde_json::Value;

use super::Cluster;
use super::error::ApiError;

/// istiod's monitoring port: `/metrics` and `/debug/*`.
pub const MONITORING_PORT: u16 = 15014;
/// istiod's HTTP port: `/ready` and `/debug/*`.
pub const HTTP_PORT: u16 = 8080;

/// What the istiod replicas keep between requests: the proxies each holds, and the
/// answers they wrote while nothing has changed.
#[derive(Debug, Default)]
pub struct IstiodState {
    pub(crate) proxies: index::ProxyIndex,
    answers: answers::AnswerCache,
}

/// An answer of a pod's HTTP server, as the API server's pod proxy relays it.
pub struct PodHttpResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

impl PodHttpResponse {
    fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8".into(),
            body: body.into(),
        }
    }
}

/// Whether something listens on `port` of this pod, as far as the sandbox plays it.
fn serves_http(pod: &Value, port: u16) -> bool {
    syncz::is_istiod(pod) && syncz::is_running(pod) && matches!(port, MONITORING_PORT | HTTP_PORT)
}

fn pod_ip(pod: &Value) -> &str {
    pod.pointer("/status/podIP")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// How long an istiod replica takes to answer `/debug/syncz` through a port-forward: the
/// scenario's `syncz-delay` annotation (a replica busy with a large mesh), else no time.
fn syncz_delay(istiod: &Value, path: &str) -> Duration {
    if path.trim_start_matches('/') != "debug/syncz" {
        return Duration::ZERO;
    }
    istiod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(format!("{}syncz-delay", super::ANNOTATION_PREFIX)))
        .and_then(Value::as_str)
        .and_then(|d| super::scenario::parse_duration(d).ok())
        .unwrap_or(Duration::ZERO)
}

/// The API server's answer when it cannot reach the pod.
fn unreachable(pod: &Value, port: u16) -> ApiError {
    let message = match pod_ip(pod) {
        "" => "error trying to reach service: dial tcp: missing address".to_string(),
        ip => format!(
            "error trying to reach service: dial tcp {ip}:{port}: connect: connection refused"
        ),
    };
    ApiError::new(503, "ServiceUnavailable", message)
}

/// `GET /api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path}`.
pub fn pod_proxy(
    cluster: &mut Cluster,
    namespace: &str,
    pod: &str,
    port: u16,
    path: &str,
    query: &str,
) -> Result<PodHttpResponse, ApiError> {
    let obj = cluster
        .store
        .get("pods", namespace, pod)
        .cloned()
        .ok_or_else(|| ApiError::not_found("pods", pod))?;
    if !serves_http(obj.head(), port) {
        return Err(unreachable(obj.head(), port));
    }
    // The API server dials the pod IP: istiod sees a remote address, never loopback.
    Ok(istiod_http(
        cluster,
        obj.head(),
        port,
        path,
        query,
        false,
        Timestamp::now(),
    ))
}

/// What istiod answers on `port` to `GET /{path}?{query}`. `loopback` says whether the
/// request comes from 127.0.0.1 (a port-forward) or from elsewhere (the pod proxy).
pub fn istiod_http(
    cluster: &mut Cluster,
    istiod: &Value,
    port: u16,
    path: &str,
    query: &str,
    loopback: bool,
    now: Timestamp,
) -> PodHttpResponse {
    let version = syncz::istiod_version(istiod);
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let path = path.strip_prefix('/').unwrap_or(path);
    match (path, port) {
        ("debug/syncz", MONITORING_PORT | HTTP_PORT) => {
            if !loopback && version.at_least(11) {
                // allowAuthenticatedOrLocalhost writes the status and no body.
                return PodHttpResponse::text(401, Bytes::new());
            }
            let namespace = params.get("namespace").map(String::as_str);
            let body = if params.contains_key("pretty") {
                let doc = syncz::document(cluster, istiod, namespace, now);
                serde_json::to_vec_pretty(&doc).unwrap_or_default().into()
            } else {
                syncz_answer(cluster, istiod, namespace, now)
            };
            PodHttpResponse {
                status: 200,
                content_type: "application/json".into(),
                body,
            }
        }
        ("ready", HTTP_PORT) => {
            let ready = syncz::is_ready(istiod);
            PodHttpResponse::text(if ready { 200 } else { 503 }, Bytes::new())
        }
        ("metrics", MONITORING_PORT) => PodHttpResponse {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8".into(),
            body: metrics(cluster, istiod).into(),
        },
        _ => PodHttpResponse::text(404, "404 page not found\n"),
    }
}

/// The compact `/debug/syncz` of `istiod`: the one written before while it still holds,
/// else written now, each entry straight into the answer (a replica of a large mesh holds
/// thousands of proxies).
fn syncz_answer(
    cluster: &mut Cluster,
    istiod: &Value,
    namespace: Option<&str>,
    now: Timestamp,
) -> Bytes {
    let key = answers::AnswerKey {
        namespace: syncz::meta_str(istiod, "namespace").to_string(),
        name: syncz::meta_str(istiod, "name").to_string(),
        filter: namespace.map(str::to_string),
    };
    let delay = cluster.settings.proxy_sync_delay;
    if let Some(body) = cluster
        .controllers
        .istiod
        .answers
        .get(&key, &cluster.store, delay, now)
    {
        return body;
    }
    let mut body = Vec::new();
    let until = syncz::write_document(&mut body, cluster, istiod, namespace, now);
    let body = Bytes::from(body);
    cluster
        .controllers
        .istiod
        .answers
        .put(key, &cluster.store, delay, now, until, body.clone());
    body
}

/// A few lines of istiod's Prometheus metrics: its build and its xDS connections.
fn metrics(cluster: &mut Cluster, istiod: &Value) -> String {
    let mut by_version: BTreeMap<&str, usize> = BTreeMap::new();
    for p in syncz::connected_proxies(cluster, istiod) {
        *by_version.entry(p.version()).or_default() += 1;
    }
    let v = syncz::istiod_version(istiod);
    let build =
        syncz::istiod_version_text(istiod).unwrap_or_else(|| format!("{}.{}", v.major, v.minor));
    let mut out = String::new();
    out.push_str(
        "# HELP pilot_info Pilot version and build information.\n# TYPE pilot_info gauge\n",
    );
    out.push_str(&format!("pilot_info{{version=\"{build}\"}} 1\n"));
    out.push_str("# HELP pilot_xds Number of endpoints connected to this pilot using XDS.\n# TYPE pilot_xds gauge\n");
    for (version, n) in &by_version {
        out.push_str(&format!("pilot_xds{{version=\"{version}\"}} {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::syncz::tests::{istiod, pod, sidecar};
    use super::*;
    use crate::Settings;
    use serde_json::json;

    fn cluster() -> Cluster {
        let now = Timestamp::now();
        let mut c = Cluster::new(Settings::default());
        pod(&mut c, istiod("istiod-old", "1-9-1", "1.9.1"), now);
        pod(&mut c, istiod("istiod-new", "1-23-2", "1.23.2"), now);
        pod(
            &mut c,
            sidecar(
                "reviews",
                "default",
                "1-9-1",
                "2026-01-01T00:00:00Z",
                json!({}),
            ),
            now,
        );
        pod(
            &mut c,
            sidecar(
                "ratings",
                "default",
                "1-23-2",
                "2026-01-01T00:00:00Z",
                json!({}),
            ),
            now,
        );
        let mut pending = istiod("istiod-pending", "1-23-2", "1.23.2");
        pending["status"] = json!({"phase": "Pending"});
        pod(&mut c, pending, now);
        c
    }

    #[test]
    fn pod_proxy_answers_1_9_and_refuses_1_23() {
        let mut c = cluster();
        let r = pod_proxy(
            &mut c,
            "istio-system",
            "istiod-old",
            15014,
            "debug/syncz",
            "",
        )
        .expect("1.9 answers");
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "application/json");
        let doc: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(doc[0]["proxy"], "reviews.default");
        let r = pod_proxy(
            &mut c,
            "istio-system",
            "istiod-old",
            8080,
            "debug/syncz",
            "pretty",
        )
        .expect("8080 too");
        assert!(
            std::str::from_utf8(&r.body).expect("utf8").contains("\n  "),
            "?pretty indents"
        );

        let r = pod_proxy(
            &mut c,
            "istio-system",
            "istiod-new",
            15014,
            "debug/syncz",
            "",
        )
        .expect("an answer");
        assert_eq!(r.status, 401);
        assert!(r.body.is_empty());
        assert!(r.content_type.starts_with("text/plain"));
        assert_eq!(
            pod_proxy(
                &mut c,
                "istio-system",
                "istiod-new",
                8080,
                "debug/syncz",
                ""
            )
            .map(|r| r.status)
            .ok(),
            Some(401)
        );
    }

    #[test]
    fn pod_proxy_errors_like_the_api_server() {
        let mut c = cluster();
        let e = pod_proxy(&mut c, "istio-system", "nope", 15014, "debug/syncz", "")
            .err()
            .expect("404");
        assert_eq!((e.code, e.reason), (404, "NotFound"));
        assert_eq!(e.message, "pods \"nope\" not found");
        let e = pod_proxy(
            &mut c,
            "istio-system",
            "istiod-old",
            9999,
            "debug/syncz",
            "",
        )
        .err()
        .expect("503");
        assert_eq!((e.code, e.reason), (503, "ServiceUnavailable"));
        assert_eq!(
            e.message,
            "error trying to reach service: dial tcp 10.0.0.9:9999: connect: connection refused"
        );
        let e = pod_proxy(&mut c, "default", "reviews", 15014, "debug/syncz", "")
            .err()
            .expect("503");
        assert_eq!(e.code, 503);
        let e = pod_proxy(
            &mut c,
            "istio-system",
            "istiod-pending",
            15014,
            "debug/syncz",
            "",
        )
        .err()
        .expect("503");
        assert_eq!(e.code, 503);
        assert!(
            e.message.starts_with("error trying to reach service: "),
            "{}",
            e.message
        );
    }

    #[test]
    fn istiod_serves_ready_metrics_and_404() {
        let mut c = cluster();
        let old = c
            .store
            .get("pods", "istio-system", "istiod-old")
            .cloned()
            .expect("pod");
        let now = Timestamp::now();
        assert_eq!(
            istiod_http(&mut c, old.head(), 8080, "/ready", "", true, now).status,
            200
        );
        assert_eq!(
            istiod_http(&mut c, old.head(), 15014, "/ready", "", true, now).status,
            404
        );
        let m = istiod_http(&mut c, old.head(), 15014, "metrics", "", false, now);
        assert_eq!(m.status, 200);
        let text = String::from_utf8(m.body.to_vec()).expect("utf8");
        assert!(
            text.contains("pilot_xds{version=\"1.10-alpha.abc\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("pilot_info{version=\"1.9.1\"} 1\n"), "{text}");
        let nf = istiod_http(&mut c, old.head(), 15014, "/debug/nope", "", true, now);
        assert_eq!(
            (nf.status, &nf.body[..]),
            (404, &b"404 page not found\n"[..])
        );
        // Loopback is always allowed.
        let new = c
            .store
            .get("pods", "istio-system", "istiod-new")
            .cloned()
            .expect("pod");
        let r = istiod_http(&mut c, new.head(), 15014, "/debug/syncz", "", true, now);
        assert_eq!(r.status, 200);
        let doc: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(doc[0]["proxy"], "ratings.default");
        assert!(doc[0].get("resources").is_some());
    }

    /// syncz of each istiod in canary-2026, at a time when every proxy has settled.
    fn canary_syncz(replica_prefix: &str) -> Vec<Value> {
        let mut c = crate::controllers::mesh_tests::canary();
        let now: Timestamp = "2026-03-02T09:01:00Z".parse().expect("time");
        let replicas: Vec<std::sync::Arc<crate::Stored>> = c
            .store
            .list("pods", Some("istio-system"))
            .filter(|p| {
                syncz::is_istiod(p.head()) && meta_name(p.head()).starts_with(replica_prefix)
            })
            .cloned()
            .collect();
        replicas
            .iter()
            .flat_map(|p| {
                let r = istiod_http(&mut c, p.head(), 15014, "debug/syncz", "", true, now);
                serde_json::from_slice::<Vec<Value>>(&r.body).expect("json")
            })
            .collect()
    }

    fn meta_name(p: &Value) -> &str {
        p.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    #[test]
    fn syncz_lists_ztunnels_waypoints_and_gateways_in_the_1_23_shape() {
        let entries = canary_syncz("istiod-1-29-2");
        let of_type =
            |t: &str| -> Vec<&Value> { entries.iter().filter(|e| e["proxy_type"] == t).collect() };
        let ztunnels = of_type("ztunnel");
        assert_eq!(ztunnels.len(), 9, "one ztunnel per node: {entries:?}");
        let old = ztunnels
            .iter()
            .find(|e| e["proxy"] == "ztunnel-7xk2p.istio-system")
            .expect("the old ztunnel");
        assert_eq!(old["istio_version"], "1.27.3");
        assert!(
            old.get("cluster_sent").is_none(),
            "ztunnel watches no Envoy type"
        );
        let res = old["resources"].as_object().expect("resources");
        let urls: Vec<&String> = res.keys().collect();
        assert_eq!(
            urls,
            [
                "type.googleapis.com/istio.security.Authorization",
                "type.googleapis.com/istio.workload.Address"
            ]
        );
        // Pinned WADS=STALE: sent differs from acked.
        let wads = &res["type.googleapis.com/istio.security.Authorization"];
        assert_ne!(wads["sent"], wads["acked"]);
        let wds = &res["type.googleapis.com/istio.workload.Address"];
        assert_eq!(wds["sent"], wds["acked"]);

        let waypoint = of_type("waypoint");
        assert_eq!(waypoint.len(), 1);
        assert!(
            waypoint[0]["proxy"]
                .as_str()
                .expect("id")
                .ends_with(".bookinfo")
        );
        assert!(waypoint[0].get("cluster_sent").is_some());
        let routers: Vec<&str> = of_type("router")
            .iter()
            .filter_map(|e| e["proxy"].as_str())
            .collect();
        assert_eq!(
            routers.len(),
            2,
            "public-istio and the chart gateway: {routers:?}"
        );
        // Native sidecars are proxies too: payments' and inventory's pods report to 1-29-2.
        let sidecars = of_type("sidecar");
        assert!(sidecars.iter().any(|e| {
            e["proxy"]
                .as_str()
                .is_some_and(|p| p.ends_with(".payments"))
        }));
        assert!(
            sidecars.iter().all(|e| e["proxy"].as_str().is_some_and(
                |p| !p.ends_with(".checkout") || p.starts_with("checkout-web-6d9f7c8b5-")
            ))
        );
        let versions: std::collections::BTreeSet<&str> = sidecars
            .iter()
            .filter_map(|e| e["istio_version"].as_str())
            .collect();
        assert_eq!(
            versions.into_iter().collect::<Vec<_>>(),
            ["1.29.1", "1.29.2"]
        );

        // The canary's istiod holds the canary's proxies, and the Gateway on its tag has none
        // Ready; the 1.27 proxies of legacy-billing are connected to nothing.
        let canary = canary_syncz("istiod-1-30-1");
        assert!(
            canary.iter().all(|e| e["istio_version"] == "1.30.1"),
            "{canary:?}"
        );
        assert!(canary.iter().any(|e| {
            e["proxy"]
                .as_str()
                .is_some_and(|p| p.ends_with(".checkout"))
        }));
        assert!(entries.iter().chain(&canary).all(|e| {
            !e["proxy"]
                .as_str()
                .unwrap_or("")
                .ends_with(".legacy-billing")
        }));
    }

    #[test]
    fn ztunnel_entries_before_1_23_have_no_resources() {
        let now = Timestamp::now();
        let mut c = Cluster::new(Settings::default());
        pod(&mut c, istiod("istiod-x", "1-22-0", "1.22.0"), now);
        pod(
            &mut c,
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "ztunnel-a", "namespace": "istio-system", "labels": {"app": "ztunnel"},
                             "annotations": {"istio.io/rev": "1-22-0"}},
                "spec": {"containers": [{"name": "istio-proxy", "image": "docker.io/istio/ztunnel:1.22.0"}]},
                "status": {"phase": "Running", "podIP": "10.0.0.7", "startTime": "2026-01-01T00:00:00Z",
                           "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
            now,
        );
        let x = c
            .store
            .get("pods", "istio-system", "istiod-x")
            .cloned()
            .expect("pod");
        let r = istiod_http(&mut c, x.head(), 15014, "debug/syncz", "", true, now);
        let doc: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            doc,
            json!([{"cluster_id": "Kubernetes", "proxy": "ztunnel-a.istio-system", "proxy_type": "ztunnel", "istio_version": "1.22.0"}])
        );
    }
}
