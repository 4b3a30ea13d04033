//! istiod in the sandbox, reached the ways meshtop and istioctl reach it, with the real kube
//! client: `/debug/syncz` through a WebSocket port-forward (loopback, so every version
//! answers) and through the API server's pod proxy (401 from 1.11).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use meshtop_sandbox::{Sandbox, Scenario};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const OLD: &str = "istiod-1-9-1-7d9c6b5f4-x2k8m";
const NEW: &str = "istiod-1-23-2-5b8f7c9d6-q4z7t";

/// Two revisions, one istiod each, and three proxies; statuses written out so the test does
/// not wait on the sandbox's scheduler.
const SCENARIO: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
  annotations:
    sandbox.meshtop.dev/proxy-sync-delay: 0s
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
status:
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: istiod-1-9-1-7d9c6b5f4-x2k8m
  namespace: istio-system
  labels: {app: istiod, istio.io/rev: 1-9-1}
spec:
  nodeName: node-1
  containers: [{name: discovery, image: docker.io/istio/pilot:1.9.1}]
status:
  phase: Running
  podIP: 10.233.64.10
  startTime: "2026-01-01T00:00:00Z"
  conditions: [{type: Ready, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: istiod-1-23-2-5b8f7c9d6-q4z7t
  namespace: istio-system
  labels: {app: istiod, istio.io/rev: 1-23-2}
spec:
  nodeName: node-1
  containers: [{name: discovery, image: docker.io/istio/pilot:1.23.2}]
status:
  phase: Running
  podIP: 10.233.64.11
  startTime: "2026-01-01T00:00:00Z"
  conditions: [{type: Ready, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1-5c8b9d7f6-abcde
  namespace: default
  labels: {app: reviews, istio.io/rev: 1-9-1}
  annotations:
    sandbox.meshtop.dev/xds: RDS=NOT SENT
spec:
  nodeName: node-1
  containers:
  - {name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v1:1.16.2}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.9.1}
status:
  phase: Running
  podIP: 10.233.64.20
  startTime: "2026-01-01T00:00:00Z"
  conditions: [{type: Ready, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: productpage-v1-6b746f74dc-9stvs
  namespace: default
  labels: {app: productpage}
  annotations:
    sidecar.istio.io/status: '{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":"1-23-2"}'
spec:
  nodeName: node-1
  containers:
  - {name: productpage, image: docker.io/istio/examples-bookinfo-productpage-v1:1.16.2}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.23.2}
status:
  phase: Running
  podIP: 10.233.64.21
  startTime: "2026-01-01T00:00:00Z"
  conditions: [{type: Ready, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z"}]
"#;

async fn start() -> (Sandbox, kube::Client) {
    let scenario = Scenario::parse(SCENARIO, "inline").expect("scenario parses");
    let sandbox = Sandbox::start(&scenario, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox starts");
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig_yaml()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    (sandbox, client)
}

async fn client_without_retry(sandbox: &Sandbox) -> kube::Client {
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig_yaml()).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    config.default_retry = false;
    kube::Client::try_from(config).expect("client")
}

/// One HTTP/1.1 GET on a forwarded stream: (status, body). Needs a Content-Length answer.
async fn http_get<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read head");
        assert!(
            n > 0,
            "connection closed before the response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim())
        })
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    (
        status,
        String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string(),
    )
}

fn proxies(doc: &Value) -> Vec<&str> {
    doc.as_array()
        .expect("syncz is an array")
        .iter()
        .filter_map(|e| e["proxy"].as_str())
        .collect()
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("finished in time")
}

#[tokio::test]
async fn port_forward_serves_syncz_on_loopback_for_every_version() {
    within(async {
        let (_sandbox, client) = start().await;
        let pods: Api<Pod> = Api::namespaced(client, "istio-system");

        let mut forward = pods
            .portforward(NEW, &[15014])
            .await
            .expect("port-forward to 1.23");
        let mut stream = forward.take_stream(15014).expect("stream");
        let (status, body) = http_get(&mut stream, "/debug/syncz").await;
        assert_eq!(status, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(proxies(&doc), ["productpage-v1-6b746f74dc-9stvs.default"]);
        let entry = &doc[0];
        assert_eq!(entry["cluster_id"], "Kubernetes");
        assert_eq!(entry["proxy_type"], "sidecar");
        assert_eq!(entry["istio_version"], "1.23.2");
        assert_eq!(entry["cluster_sent"], entry["cluster_acked"]);
        assert!(
            entry["resources"]["type.googleapis.com/envoy.config.cluster.v3.Cluster"]["sentTime"]
                .is_string()
        );

        // Keep-alive: a second request on the same forward, and a third with a query.
        let (status, again) = http_get(&mut stream, "/debug/syncz").await;
        assert_eq!(status, 200);
        assert_eq!(again, body, "nonces are stable between polls");
        let (status, filtered) = http_get(&mut stream, "/debug/syncz?namespace=istio-system").await;
        assert_eq!((status, filtered.as_str()), (200, "[]"));
        drop(stream);
        forward.join().await.expect("forward ends cleanly");

        let mut forward = pods
            .portforward(OLD, &[15014])
            .await
            .expect("port-forward to 1.9");
        let mut stream = forward.take_stream(15014).expect("stream");
        let (status, body) = http_get(&mut stream, "/debug/syncz").await;
        assert_eq!(status, 200);
        let doc: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(proxies(&doc), ["reviews-v1-5c8b9d7f6-abcde.default"]);
        let entry = &doc[0];
        assert!(
            entry.get("cluster_id").is_none() && entry.get("resources").is_none(),
            "1.9 shape: {entry}"
        );
        assert!(
            entry.get("route_sent").is_none(),
            "RDS pinned NOT SENT: {entry}"
        );
        assert_eq!(entry["listener_sent"], entry["listener_acked"]);
        drop(stream);
        forward.join().await.expect("forward ends cleanly");
    })
    .await;
}

/// istiod keeps an answer while nothing changes; a write to a proxy's pod through the API
/// shows in the very next answer on the same forward.
#[tokio::test]
async fn a_pod_write_shows_in_the_next_answer() {
    within(async {
        let (_sandbox, client) = start().await;
        let istio: Api<Pod> = Api::namespaced(client.clone(), "istio-system");
        let apps: Api<Pod> = Api::namespaced(client, "default");
        let productpage = "productpage-v1-6b746f74dc-9stvs";
        let mut forward = istio
            .portforward(NEW, &[15014])
            .await
            .expect("port-forward");
        let mut stream = forward.take_stream(15014).expect("stream");
        let (status, body) = http_get(&mut stream, "/debug/syncz").await;
        assert_eq!(status, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(doc[0]["cluster_sent"], doc[0]["cluster_acked"], "{body}");
        assert_eq!(http_get(&mut stream, "/debug/syncz").await, (200, body));

        let pin = json!({"metadata": {"annotations": {"sandbox.meshtop.dev/xds": "CDS=STALE"}}});
        apps.patch(productpage, &PatchParams::default(), &Patch::Merge(&pin))
            .await
            .expect("patch");
        let (_, body) = http_get(&mut stream, "/debug/syncz").await;
        let doc: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(proxies(&doc), [format!("{productpage}.default")]);
        let entry = &doc[0];
        let cds = &entry["resources"]["type.googleapis.com/envoy.config.cluster.v3.Cluster"];
        assert!(
            entry["cluster_acked"].is_string() && entry["cluster_sent"] != entry["cluster_acked"],
            "STALE: {entry}"
        );
        assert_ne!(cds["sent"], cds["acked"], "{entry}");
        assert_eq!(entry["listener_sent"], entry["listener_acked"], "{entry}");

        apps.delete(productpage, &DeleteParams::default())
            .await
            .expect("delete");
        assert_eq!(
            http_get(&mut stream, "/debug/syncz").await,
            (200, "[]".to_string())
        );
        drop(stream);
        forward.join().await.expect("forward ends cleanly");
    })
    .await;
}

#[tokio::test]
async fn port_forward_carries_several_ports_and_reports_closed_ones() {
    within(async {
        let (_sandbox, client) = start().await;
        let pods: Api<Pod> = Api::namespaced(client, "istio-system");
        let mut forward = pods
            .portforward(NEW, &[8080, 9999, 15014])
            .await
            .expect("port-forward");
        let refused = forward.take_error(9999).expect("error future").await;
        let refused = refused.expect("an error message for 9999");
        assert!(
            refused.starts_with(&format!("error forwarding port 9999 to pod {NEW}, uid : ")),
            "{refused}"
        );

        let mut ready = forward.take_stream(8080).expect("8080");
        assert_eq!(http_get(&mut ready, "/ready").await, (200, String::new()));
        let mut monitoring = forward.take_stream(15014).expect("15014");
        let (status, metrics) = http_get(&mut monitoring, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            metrics.contains("pilot_xds{version=\"1.23.2\"} 1"),
            "{metrics}"
        );
        let (status, _) = http_get(&mut ready, "/debug/syncz").await;
        assert_eq!(status, 200, "8080 serves the debug handlers too");
        drop(ready);
        drop(monitoring);
        forward.join().await.expect("forward ends cleanly");

        // A pod that serves nothing: the error arrives and the server closes the stream.
        let mut forward = pods.portforward(OLD, &[9999]).await.expect("port-forward");
        let message = forward
            .take_error(9999)
            .expect("error future")
            .await
            .expect("message");
        assert!(message.contains("connection refused"), "{message}");
        let mut stream = forward.take_stream(9999).expect("stream");
        let mut rest = Vec::new();
        stream
            .read_to_end(&mut rest)
            .await
            .expect("EOF after the close");
        assert!(rest.is_empty());
    })
    .await;
}

#[tokio::test]
async fn pod_proxy_answers_up_to_1_10_and_refuses_from_1_11() {
    within(async {
        let (sandbox, client) = start().await;
        let get = |pod: &str, port: u16, path: &str| {
            http::Request::get(format!("/api/v1/namespaces/istio-system/pods/{pod}:{port}/proxy/{path}"))
                .body(Vec::new())
                .expect("request")
        };
        let text = client.request_text(get(OLD, 15014, "debug/syncz")).await.expect("1.9 answers the pod proxy");
        let doc: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(proxies(&doc), ["reviews-v1-5c8b9d7f6-abcde.default"]);

        for port in [15014, 8080] {
            match client.request_text(get(NEW, port, "debug/syncz")).await {
                Err(kube::Error::Api(status)) => assert_eq!(status.code, 401, "{status:?}"),
                other => panic!("1.23 through the pod proxy on {port}: expected 401, got {other:?}"),
            }
        }
        // kube 5 retries a 503 up to 15 times with exponential backoff by default: a caller of
        // the pod proxy has to turn that off (or bound the call) to see the answer.
        let no_retry = client_without_retry(&sandbox).await;
        match no_retry.request_text(get(NEW, 9999, "debug/syncz")).await {
            Err(kube::Error::Api(status)) => {
                assert_eq!((status.code, status.reason.as_str()), (503, "ServiceUnavailable"));
                assert_eq!(status.message, "error trying to reach service: dial tcp 10.233.64.11:9999: connect: connection refused");
            }
            other => panic!("expected 503, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn port_forward_without_upgrade_is_a_bad_request() {
    within(async {
        let (_sandbox, client) = start().await;
        let req = http::Request::get(format!(
            "/api/v1/namespaces/istio-system/pods/{NEW}/portforward?ports=15014"
        ))
        .body(Vec::new())
        .expect("request");
        match client.request_text(req).await {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 400);
                assert_eq!(status.message, "Upgrade request required");
            }
            other => panic!("expected 400, got {other:?}"),
        }
        let pods: Api<Pod> = Api::namespaced(client, "istio-system");
        match pods.portforward("istiod-missing", &[15014]).await {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 404),
            Err(other) => panic!("expected 404, got {other:?}"),
            Ok(_) => panic!("expected 404, got a forward"),
        }
    })
    .await;
}
