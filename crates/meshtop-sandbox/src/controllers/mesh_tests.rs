//! The 2026 mesh (`canary-2026`): Gateway API gateways and waypoints istiod deploys,
//! injection that follows where tag webhooks call, native sidecars, ambient namespaces, and
//! DaemonSets on every node.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::Cluster;
use super::super::api::{self, WriteOptions};
use super::super::scenario::Scenario;
use super::super::store::meta_str;
use super::reconcile;

fn t0() -> Timestamp {
    "2026-03-02T09:00:00Z".parse().expect("time")
}

fn after(secs: u64) -> Timestamp {
    t0().checked_add(Duration::from_secs(secs)).expect("time")
}

/// canary-2026 as loaded, then settled (pods Ready, gateways Programmed where they can be).
pub(crate) fn canary() -> Cluster {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/scenarios/canary-2026.yaml");
    let s = Scenario::from_file(&path).expect("scenario");
    let mut c = s.build(t0()).expect("build");
    reconcile(&mut c, after(10));
    c
}

fn get(c: &Cluster, key: &str, ns: &str, name: &str) -> Value {
    c.store
        .get(key, ns, name)
        .map(|v| v.full())
        .unwrap_or_else(|| panic!("{key} {ns}/{name} missing"))
}

fn pods_labelled(c: &Cluster, ns: &str, key: &str, value: &str) -> Vec<Value> {
    c.store
        .list("pods", Some(ns))
        .filter(|p| p.head()["metadata"]["labels"][key] == value)
        .map(|p| p.full())
        .collect()
}

fn condition<'a>(obj: &'a Value, type_: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

fn create(c: &mut Cluster, obj: Value, now: Timestamp) -> Value {
    let av = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let t = c.registry.by_kind(&av, &kind).cloned().expect("type");
    api::create(c, &t, obj, now, &WriteOptions::client(false))
        .expect("create")
        .full()
}

fn replace(c: &mut Cluster, obj: Value) {
    let av = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let t = c.registry.by_kind(&av, &kind).cloned().expect("type");
    api::update(c, &t, obj, None, &WriteOptions::internal()).expect("update");
}

fn new_pod(c: &mut Cluster, ns: &str, name: &str) -> Value {
    create(
        c,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
               "spec": {"containers": [{"name": "app", "image": "shop/app:1"}]}}),
        after(20),
    )
}

fn names(p: &Value, list: &str) -> Vec<String> {
    p["spec"][list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn injected_by(p: &Value) -> Option<String> {
    let status: Value =
        serde_json::from_str(p["metadata"]["annotations"]["sidecar.istio.io/status"].as_str()?)
            .ok()?;
    status["revision"].as_str().map(str::to_string)
}

fn proxy_image(p: &Value) -> String {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|l| p["spec"][l].as_array())
        .flatten()
        .find(|c| c["name"] == "istio-proxy")
        .and_then(|c| c["image"].as_str())
        .unwrap_or("")
        .to_string()
}

#[test]
fn istiod_deploys_gateway_api_gateways_and_reports_their_status() {
    let mut c = canary();
    let d = get(&c, "deployments.apps", "ingress", "public-istio");
    let labels = &d["metadata"]["labels"];
    assert_eq!(labels["gateway.networking.k8s.io/gateway-name"], "public");
    assert_eq!(
        labels["gateway.networking.k8s.io/gateway-class-name"],
        "istio"
    );
    assert_eq!(
        labels["gateway.istio.io/managed"],
        "istio.io-gateway-controller"
    );
    let gw = get(
        &c,
        "gateways.gateway.networking.k8s.io",
        "ingress",
        "public",
    );
    let owner = &d["metadata"]["ownerReferences"][0];
    assert_eq!(
        (
            owner["kind"].as_str(),
            owner["name"].as_str(),
            owner["uid"].as_str()
        ),
        (
            Some("Gateway"),
            Some("public"),
            gw["metadata"]["uid"].as_str()
        )
    );
    assert_eq!(
        d["spec"]["template"]["metadata"]["annotations"]["istio.io/rev"],
        "1-29-2"
    );
    let svc = get(&c, "services", "ingress", "public-istio");
    assert_eq!(svc["spec"]["type"], "LoadBalancer");
    let ports: Vec<&str> = svc["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(ports, ["status-port", "http-80", "https-443"]);
    let ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .expect("lb ip")
        .to_string();
    let pods = pods_labelled(
        &c,
        "ingress",
        "gateway.networking.k8s.io/gateway-name",
        "public",
    );
    assert_eq!(pods.len(), 1);
    assert_eq!(proxy_image(&pods[0]), "docker.io/istio/proxyv2:1.29.2");
    assert_eq!(condition(&gw, "Accepted")["status"], "True");
    assert_eq!(condition(&gw, "Programmed")["status"], "True");
    assert_eq!(
        gw["status"]["addresses"],
        json!([{"type": "IPAddress", "value": ip}])
    );
    assert_eq!(gw["status"]["listeners"][1]["attachedRoutes"], 2);

    // On the canary tag, pinned to an instance type no node has: its pod waits, so it is not
    // Programmed, and has no address.
    let partner = get(
        &c,
        "gateways.gateway.networking.k8s.io",
        "ingress",
        "partner-edge",
    );
    let programmed = condition(&partner, "Programmed");
    assert_eq!(programmed["status"], "False");
    assert_eq!(programmed["reason"], "AddressNotAssigned");
    assert!(partner["status"].get("addresses").is_none());
    let pending = pods_labelled(
        &c,
        "ingress",
        "gateway.networking.k8s.io/gateway-name",
        "partner-edge",
    );
    assert_eq!(pending.len(), 1);
    assert_eq!(proxy_image(&pending[0]), "docker.io/istio/proxyv2:1.30.1");
    assert_eq!(
        condition(&pending[0], "PodScheduled")["reason"],
        "Unschedulable"
    );

    // A waypoint is named after its Gateway, ClusterIP, `proxy waypoint`.
    let w = get(&c, "deployments.apps", "bookinfo", "waypoint");
    assert_eq!(
        w["metadata"]["labels"]["gateway.istio.io/managed"],
        "istio.io-mesh-controller"
    );
    assert_eq!(
        w["spec"]["template"]["spec"]["containers"][0]["args"][1],
        "waypoint"
    );
    assert_eq!(
        get(&c, "services", "bookinfo", "waypoint")["spec"]["type"],
        "ClusterIP"
    );

    // Deleting the Gateway takes what istiod made for it.
    let t = c
        .registry
        .by_kind("gateway.networking.k8s.io/v1", "Gateway")
        .cloned()
        .expect("type");
    api::delete(
        &mut c,
        &t,
        "ingress",
        "public",
        after(20),
        &WriteOptions::client(false),
    )
    .expect("delete");
    reconcile(&mut c, after(21));
    assert!(
        c.store
            .get("deployments.apps", "ingress", "public-istio")
            .is_none()
    );
    assert!(c.store.get("services", "ingress", "public-istio").is_none());
    assert!(
        pods_labelled(
            &c,
            "ingress",
            "gateway.networking.k8s.io/gateway-name",
            "public"
        )
        .is_empty()
    );

    // A new Gateway is deployed and turns Programmed once its pod is Ready (the scenario
    // starts its pods Ready at once; this one takes the default 2 s).
    c.settings.pod_ready_delay = std::time::Duration::from_secs(2);
    create(
        &mut c,
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "internal", "namespace": "ingress"},
        "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]}}),
        after(30),
    );
    reconcile(&mut c, after(30));
    let gw = get(
        &c,
        "gateways.gateway.networking.k8s.io",
        "ingress",
        "internal",
    );
    assert_eq!(condition(&gw, "Programmed")["status"], "False");
    reconcile(&mut c, after(40));
    let gw = get(
        &c,
        "gateways.gateway.networking.k8s.io",
        "ingress",
        "internal",
    );
    assert_eq!(condition(&gw, "Programmed")["status"], "True");
}

#[test]
fn gateway_classes_are_accepted_by_istiod() {
    let c = canary();
    for name in ["istio", "istio-waypoint", "istio-remote"] {
        let gc = get(&c, "gatewayclasses.gateway.networking.k8s.io", "", name);
        assert_eq!(condition(&gc, "Accepted")["status"], "True", "{name}");
        assert_eq!(
            condition(&gc, "Accepted")["message"],
            "Handled by Istio controller"
        );
    }
}

#[test]
fn injection_follows_where_the_tag_webhook_calls() {
    let mut c = canary();
    // checkout is on the canary tag: 1-30-1 injects; the two older pods keep 1-29-2.
    let p = new_pod(&mut c, "checkout", "a");
    assert_eq!(injected_by(&p).as_deref(), Some("1-30-1"));
    assert_eq!(proxy_image(&p), "docker.io/istio/proxyv2:1.30.1");
    let old = get(&c, "pods", "checkout", "checkout-web-6d9f7c8b5-4jxwq");
    assert_eq!(injected_by(&old).as_deref(), Some("1-29-2"));

    // Relabelling the tag's webhook configuration alone moves nothing.
    let mut mwc = get(
        &c,
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "",
        "istio-revision-tag-canary",
    );
    mwc["metadata"]["labels"]["istio.io/rev"] = json!("1-29-2");
    replace(&mut c, mwc.clone());
    assert_eq!(
        injected_by(&new_pod(&mut c, "checkout", "b")).as_deref(),
        Some("1-30-1")
    );

    // Regenerated webhooks (what `istioctl tag set --overwrite` writes) move it.
    let mut mwc = get(
        &c,
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "",
        "istio-revision-tag-canary",
    );
    for w in mwc["webhooks"].as_array_mut().expect("webhooks") {
        w["clientConfig"]["service"]["name"] = json!("istiod-1-29-2");
    }
    replace(&mut c, mwc);
    let p = new_pod(&mut c, "checkout", "c");
    assert_eq!(injected_by(&p).as_deref(), Some("1-29-2"));
    // Existing pods are not changed by the move; only a restart re-injects.
    let still = get(&c, "pods", "checkout", "a");
    assert_eq!(injected_by(&still).as_deref(), Some("1-30-1"));
}

#[test]
fn revisions_from_1_28_inject_native_sidecars() {
    let mut c = canary();
    let p = new_pod(&mut c, "payments", "n");
    assert_eq!(injected_by(&p).as_deref(), Some("1-29-2"));
    assert_eq!(
        names(&p, "initContainers"),
        ["istio-validation", "istio-proxy"]
    );
    assert_eq!(names(&p, "containers"), ["app"]);
    let proxy = &p["spec"]["initContainers"][1];
    assert_eq!(proxy["restartPolicy"], "Always");
    let status: Value = serde_json::from_str(
        p["metadata"]["annotations"]["sidecar.istio.io/status"]
            .as_str()
            .expect("status"),
    )
    .expect("json");
    assert_eq!(
        status["initContainers"],
        json!(["istio-validation", "istio-proxy"])
    );
    // The pinned image of ledger's template is kept.
    let ledger = pods_labelled(&c, "payments", "app", "ledger");
    assert!(
        ledger
            .iter()
            .all(|p| proxy_image(p) == "docker.io/istio/proxyv2:1.29.1")
    );
    // Started: the sidecar runs and is Ready beside the app.
    reconcile(&mut c, after(20));
    reconcile(&mut c, after(40));
    let p = get(&c, "pods", "payments", "n");
    let s = &p["status"]["initContainerStatuses"][1];
    assert_eq!(s["name"], "istio-proxy");
    assert!(s["state"]["running"].is_object());
    assert_eq!(s["ready"], true);
}

#[test]
fn ambient_namespaces_get_no_sidecar_and_a_migrating_one_still_does() {
    let mut c = canary();
    for ns in ["bookinfo", "search", "reports"] {
        let p = new_pod(&mut c, ns, "x");
        assert!(injected_by(&p).is_none(), "{ns}");
        assert_eq!(names(&p, "containers"), ["app"], "{ns}");
        assert!(names(&p, "initContainers").is_empty(), "{ns}");
    }
    // Both labels: the injector's webhooks still match istio-injection=enabled.
    let p = new_pod(&mut c, "inventory", "x");
    assert_eq!(injected_by(&p).as_deref(), Some("1-29-2"));
    // A tag whose revision is gone injects nothing.
    let p = new_pod(&mut c, "legacy-billing", "x");
    assert!(injected_by(&p).is_none());
}

#[test]
fn node_agents_run_on_every_node_and_follow_nodes() {
    let mut c = canary();
    let nodes: Vec<String> = c
        .store
        .list("nodes", None)
        .map(|n| meta_str(n.head(), "name").to_string())
        .collect();
    assert_eq!(nodes.len(), 9);
    for app in [("app", "ztunnel"), ("k8s-app", "istio-cni-node")] {
        let mut on: Vec<String> = pods_labelled(&c, "istio-system", app.0, app.1)
            .iter()
            .map(|p| p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
            .collect();
        on.sort();
        let mut want = nodes.clone();
        want.sort();
        assert_eq!(on, want, "{app:?} on every node, the cordoned worker-4 too");
    }
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-7", "labels": {"kubernetes.io/os": "linux"}},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "10.0.1.17"}]}});
    create(&mut c, node, after(20));
    reconcile(&mut c, after(20));
    let on_new = |c: &Cluster| {
        c.store
            .list("pods", Some("istio-system"))
            .filter(|p| p.head()["spec"]["nodeName"] == "worker-7")
            .count()
    };
    assert_eq!(on_new(&c), 2, "a ztunnel and a CNI agent on the new node");
    let t = c.registry.by_kind("v1", "Node").cloned().expect("type");
    api::delete(
        &mut c,
        &t,
        "",
        "worker-7",
        after(30),
        &WriteOptions::client(false),
    )
    .expect("delete");
    reconcile(&mut c, after(31));
    assert_eq!(on_new(&c), 0);
}
