//! Controller behaviour on small scenarios: scheduling, replacement, readiness, PDB status,
//! eviction, injection, the IstioOperator and the Sail operator.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::Cluster;
use super::super::api::{self, WriteOptions};
use super::super::scenario::Scenario;
use super::super::store::meta_str;
use super::{evict, reconcile};

fn t0() -> Timestamp {
    "2024-05-01T10:00:00Z".parse().expect("time")
}

fn after(secs: u64) -> Timestamp {
    t0().checked_add(Duration::from_secs(secs)).expect("time")
}

const HEADER: &str = "
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
  annotations: {sandbox.meshtop.dev/pod-ready-delay: 2s}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
";

/// A Ready node with an InternalIP; `extra` is more YAML for its `spec` (flow style).
fn node(name: &str, ip: &str, labels: &str, spec: &str) -> String {
    format!(
        "---
apiVersion: v1
kind: Node
metadata: {{name: {name}, labels: {{{labels}}}}}
spec: {{{spec}}}
status:
  conditions: [{{type: Ready, status: 'True'}}]
  addresses: [{{type: InternalIP, address: '{ip}'}}]
"
    )
}

/// Two schedulable nodes, n1 and n2.
fn two_nodes() -> String {
    node("n1", "192.168.0.1", "", "") + &node("n2", "192.168.0.2", "", "")
}

/// A Deployment of three `app: NAME` replicas in shop.
fn deployment_doc(name: &str) -> String {
    format!(
        "
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: app, image: 'shop/{name}:1'}}]
"
    )
}

fn build(docs: &str) -> Cluster {
    let text = format!("{HEADER}{docs}");
    let s = Scenario::parse(&text, "t.yaml").expect("parse");
    s.build(t0()).expect("build")
}

fn pod(c: &Cluster, ns: &str, name: &str) -> Value {
    c.store
        .get("pods", ns, name)
        .map(|p| p.full())
        .unwrap_or_else(|| panic!("pod {ns}/{name} missing"))
}

fn pods(c: &Cluster, ns: &str) -> Vec<Value> {
    c.store.list_cloned("pods", Some(ns))
}

fn ready(p: &Value) -> bool {
    super::is_ready(p)
}

fn node_of(p: &Value) -> &str {
    p.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn get(c: &Cluster, key: &str, ns: &str, name: &str) -> Value {
    c.store
        .get(key, ns, name)
        .map(|v| v.full())
        .unwrap_or_else(|| panic!("{key} {ns}/{name} missing"))
}

/// Whether the store holds the object.
fn exists(c: &Cluster, key: &str, ns: &str, name: &str) -> bool {
    c.store.get(key, ns, name).is_some()
}

fn update(c: &mut Cluster, api_version: &str, kind: &str, obj: Value) {
    let t = c
        .registry
        .by_kind(api_version, kind)
        .cloned()
        .expect("type");
    api::update(c, &t, obj, None, &WriteOptions::internal()).expect("update");
}

fn delete_pod(c: &mut Cluster, ns: &str, name: &str) {
    let t = c.registry.by_kind("v1", "Pod").cloned().expect("type");
    api::delete(c, &t, ns, name, t0(), &WriteOptions::client(false)).expect("delete");
}

fn create(c: &mut Cluster, obj: Value) -> Value {
    let av = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let t = c.registry.by_kind(&av, &kind).cloned().expect("type");
    api::create(c, &t, obj, t0(), &WriteOptions::client(false))
        .expect("create")
        .full()
}

fn bare_pod(name: &str, extra_spec: &str) -> String {
    format!(
        "---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: shop}}
spec:
  containers: [{{name: app, image: 'shop/app:1'}}]
  {extra_spec}
"
    )
}

#[test]
fn scheduler_respects_cordon_node_selector_and_taints() {
    let mut docs = String::new();
    docs += &node(
        "a-cordoned",
        "192.168.0.1",
        "disk: ssd",
        "unschedulable: true",
    );
    docs += &node(
        "b-tainted",
        "192.168.0.2",
        "disk: ssd, pool: istio",
        "taints: [{key: dedicated, value: istio, effect: NoSchedule}]",
    );
    docs += &node("c-ssd", "192.168.0.3", "disk: ssd", "");
    docs += &node("d-plain", "192.168.0.4", "", "");
    docs += &bare_pod("p1-ssd", "nodeSelector: {disk: ssd}");
    docs += &bare_pod("p2-any", "");
    docs += &bare_pod(
        "p3-istio",
        "nodeSelector: {pool: istio}\n  tolerations: [{key: dedicated, operator: Equal, value: istio, effect: NoSchedule}]",
    );
    docs += &bare_pod("p4-hdd", "nodeSelector: {disk: hdd}");
    let c = build(&docs);

    assert_eq!(
        node_of(&pod(&c, "shop", "p1-ssd")),
        "c-ssd",
        "cordoned and tainted nodes are skipped"
    );
    assert_eq!(
        node_of(&pod(&c, "shop", "p2-any")),
        "d-plain",
        "the least loaded fitting node wins"
    );
    assert_eq!(
        node_of(&pod(&c, "shop", "p3-istio")),
        "b-tainted",
        "a tolerated taint is no obstacle"
    );
    for name in ["p1-ssd", "p2-any", "p3-istio"] {
        let p = pod(&c, "shop", name);
        assert_eq!(p["status"]["phase"], "Running", "{name}");
        assert!(
            ready(&p),
            "scenario pods written without status turn Ready once placed: {name}"
        );
    }
    let p1 = pod(&c, "shop", "p1-ssd");
    assert_eq!(p1["status"]["hostIP"], "192.168.0.3");
    assert!(
        p1["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.233.")),
        "{}",
        p1["status"]
    );

    let p4 = pod(&c, "shop", "p4-hdd");
    assert_eq!(node_of(&p4), "");
    assert_eq!(p4["status"]["phase"], "Pending");
    let cond = &p4["status"]["conditions"][0];
    assert_eq!(cond["type"], "PodScheduled");
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "Unschedulable");
    let msg = cond["message"].as_str().unwrap_or("");
    assert!(msg.starts_with("0/4 nodes are available:"), "{msg}");
    assert!(msg.contains("1 node(s) were unschedulable"), "{msg}");
    assert!(
        msg.contains("1 node(s) had untolerated taint {dedicated: istio}"),
        "{msg}"
    );
    assert!(
        msg.contains("2 node(s) didn't match Pod's node affinity/selector"),
        "{msg}"
    );
}

#[test]
fn a_new_pod_waits_for_a_node_and_a_not_ready_node_is_skipped() {
    let mut docs = String::new();
    docs += &node("n1", "192.168.0.1", "", "");
    docs += "---
apiVersion: v1
kind: Node
metadata: {name: n0-down}
status:
  conditions: [{type: Ready, status: 'False'}]
";
    let mut c = build(&docs);
    let p = create(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
                                  "spec": {"containers": [{"name": "app", "image": "shop/app:1"}]}}),
    );
    assert_eq!(
        p["status"]["phase"], "Pending",
        "admission alone places nothing"
    );
    let next = reconcile(&mut c, t0());
    let p = pod(&c, "shop", "web");
    assert_eq!(node_of(&p), "n1");
    assert_eq!(p["status"]["phase"], "Running");
    assert!(!ready(&p), "a new pod is not Ready at once");
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], false);
    assert_eq!(
        next,
        Some(after(2)),
        "the controllers ask to run again when it turns Ready"
    );
    assert_eq!(reconcile(&mut c, after(1)), Some(after(2)));
    assert!(!ready(&pod(&c, "shop", "web")));
    assert_eq!(reconcile(&mut c, after(2)), None);
    let p = pod(&c, "shop", "web");
    assert!(ready(&p));
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
}

/// What a count from every pod gives: pods counting on each node, and the addresses in use.
fn counted(c: &Cluster) -> (std::collections::HashMap<String, usize>, Vec<String>) {
    let mut load = std::collections::HashMap::new();
    let mut ips = Vec::new();
    for p in c.store.list("pods", None).map(|p| p.head()) {
        if !node_of(p).is_empty() && !matches!(super::phase(p), "Succeeded" | "Failed") {
            *load.entry(node_of(p).to_string()).or_default() += 1;
        }
        if let Some(ip) = p.pointer("/status/podIP").and_then(Value::as_str) {
            ips.push(ip.to_string());
        }
    }
    ips.sort();
    (load, ips)
}

fn ips_in_use(c: &Cluster) -> Vec<String> {
    let mut ips: Vec<String> = c
        .controllers
        .ips
        .iter()
        .map(|ip| std::net::Ipv4Addr::from(*ip).to_string())
        .collect();
    ips.sort();
    ips
}

/// The scheduler's load per node and the addresses in use are kept in step with pod
/// writes (no walk over every pod); they agree with a count from every pod, also once the
/// history no longer reaches back to the last count.
#[test]
fn node_load_and_addresses_follow_pod_writes() {
    let mut c = build(&(two_nodes() + &deployment_doc("web") + &deployment_doc("api")));
    reconcile(&mut c, after(0));
    let (load, ips) = counted(&c);
    assert_eq!(load.values().sum::<usize>(), 6, "{load:?}");
    assert_eq!(c.controllers.node_load.catch_up(&mut c.store), &load);
    assert_eq!(ips_in_use(&c), ips);

    // Two deleted pods are replaced; a finished one stops counting.
    let on_n1: Vec<String> = pods(&c, "shop")
        .iter()
        .filter(|p| node_of(p) == "n1")
        .map(|p| meta_str(p, "name").to_string())
        .collect();
    assert!(on_n1.len() >= 2, "{on_n1:?}");
    for name in &on_n1[..2] {
        delete_pod(&mut c, "shop", name);
    }
    let mut done = pods(&c, "shop")
        .into_iter()
        .find(|p| node_of(p) == "n2")
        .expect("a pod on n2");
    done["status"]["phase"] = json!("Succeeded");
    update(&mut c, "v1", "Pod", done);
    reconcile(&mut c, after(1));
    let (load, ips) = counted(&c);
    assert_eq!(c.controllers.node_load.catch_up(&mut c.store), &load);
    assert_eq!(
        ips_in_use(&c),
        ips,
        "deleted pods' addresses are free again"
    );

    // Past the history: counted again from the pods.
    c.store.set_history_cap(1);
    let victims: Vec<String> = pods(&c, "shop")
        .iter()
        .take(3)
        .map(|p| meta_str(p, "name").to_string())
        .collect();
    for name in &victims {
        delete_pod(&mut c, "shop", name);
    }
    reconcile(&mut c, after(2));
    let (load, ips) = counted(&c);
    assert_eq!(c.controllers.node_load.catch_up(&mut c.store), &load);
    assert_eq!(ips_in_use(&c), ips);
}

#[test]
fn scenario_pods_keep_their_status() {
    let mut docs = String::new();
    docs += &node("n1", "192.168.0.1", "", "");
    docs += "---
apiVersion: v1
kind: Pod
metadata: {name: crashing, namespace: shop}
spec:
  nodeName: n1
  containers: [{name: app, image: 'shop/app:1'}]
status:
  phase: Running
  conditions: [{type: Ready, status: 'False', reason: ContainersNotReady}]
  containerStatuses:
  - {name: app, ready: false, restartCount: 187, state: {waiting: {reason: CrashLoopBackOff}}}
";
    docs += &bare_pod("fine", "nodeName: n1");
    let mut c = build(&docs);
    let before = get(&c, "pods", "shop", "crashing");
    reconcile(&mut c, after(600));
    assert_eq!(
        get(&c, "pods", "shop", "crashing"),
        before,
        "a written status is never touched"
    );
    let fine = pod(&c, "shop", "fine");
    assert!(ready(&fine));
    assert_eq!(fine["status"]["hostIP"], "192.168.0.1");
    assert_eq!(fine["status"]["qosClass"], "BestEffort");
    assert_eq!(
        fine["status"]["containerStatuses"][0]["image"],
        "shop/app:1"
    );
    assert_eq!(fine["status"]["containerStatuses"][0]["restartCount"], 0);
    assert!(fine["status"]["containerStatuses"][0]["state"]["running"]["startedAt"].is_string());
}

const WEB: &str = "
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: 'shop/web:1'}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d4b9c8f6d-abcde
  namespace: shop
  labels: {app: web, pod-template-hash: 7d4b9c8f6d}
spec:
  nodeName: n1
  containers: [{name: app, image: 'shop/web:1'}]
";

#[test]
fn replica_set_replaces_a_deleted_pod_on_another_node() {
    let mut docs = two_nodes();
    docs += WEB;
    let mut c = build(&docs);

    // Adoption: a ReplicaSet named after the pods' hash, owning the written pod.
    let rs = get(&c, "replicasets.apps", "shop", "web-7d4b9c8f6d");
    assert_eq!(rs["spec"]["replicas"], 1);
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        "7d4b9c8f6d"
    );
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    let p = pod(&c, "shop", "web-7d4b9c8f6d-abcde");
    let owner = &p["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ReplicaSet");
    assert_eq!(owner["name"], "web-7d4b9c8f6d");
    assert_eq!(owner["uid"], rs["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);
    assert_eq!(pods(&c, "shop").len(), 1, "no extra pod for an adopted one");
    let d = get(&c, "deployments.apps", "shop", "web");
    assert_eq!(d["status"]["readyReplicas"], 1);
    assert_eq!(d["status"]["availableReplicas"], 1);

    // Cordon n1, delete the pod: the replacement lands on n2.
    let mut n1 = get(&c, "nodes", "", "n1");
    n1["spec"]["unschedulable"] = json!(true);
    update(&mut c, "v1", "Node", n1);
    delete_pod(&mut c, "shop", "web-7d4b9c8f6d-abcde");
    let next = reconcile(&mut c, after(10));
    let all = pods(&c, "shop");
    assert_eq!(all.len(), 1);
    let new = &all[0];
    let name = meta_str(new, "name");
    assert!(
        name.starts_with("web-7d4b9c8f6d-") && name.len() == "web-7d4b9c8f6d-".len() + 5,
        "{name}"
    );
    assert_eq!(node_of(new), "n2");
    assert_eq!(new["metadata"]["labels"]["pod-template-hash"], "7d4b9c8f6d");
    assert_eq!(
        new["metadata"]["ownerReferences"][0]["uid"],
        rs["metadata"]["uid"]
    );
    assert!(!ready(new));
    assert_eq!(next, Some(after(12)));
    let d = get(&c, "deployments.apps", "shop", "web");
    assert!(
        d["status"].get("readyReplicas").is_none(),
        "{}",
        d["status"]
    );
    assert_eq!(d["status"]["unavailableReplicas"], 1);

    reconcile(&mut c, after(12));
    assert!(ready(&pod(&c, "shop", name)));
    let d = get(&c, "deployments.apps", "shop", "web");
    assert_eq!(d["status"]["readyReplicas"], 1);
    assert_eq!(d["status"]["updatedReplicas"], 1);
    assert_eq!(d["status"]["observedGeneration"], 1);
    let available = d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"))
        .cloned();
    assert_eq!(available.map(|c| c["status"].clone()), Some(json!("True")));
}

#[test]
fn pods_of_a_deleted_node_go_and_are_replaced() {
    let mut docs = two_nodes();
    docs += WEB;
    // A pod on a node the scenario never declared stays as written.
    docs += &bare_pod("elsewhere", "nodeName: ghost");
    let mut c = build(&docs);
    assert_eq!(pod(&c, "shop", "elsewhere")["status"]["phase"], "Running");
    let t = c.registry.by_kind("v1", "Node").cloned().expect("type");
    api::delete(&mut c, &t, "", "n1", t0(), &WriteOptions::client(false)).expect("delete node");
    reconcile(&mut c, after(1));
    assert!(
        c.store
            .get("pods", "shop", "web-7d4b9c8f6d-abcde")
            .is_none(),
        "the pod GC removed it"
    );
    let web: Vec<Value> = pods(&c, "shop")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "web")
        .collect();
    assert_eq!(web.len(), 1);
    assert_eq!(node_of(&web[0]), "n2");
    assert!(c.store.get("pods", "shop", "elsewhere").is_some());
}

#[test]
fn deployment_scales_and_rolls_to_a_new_template() {
    let mut docs = two_nodes();
    docs += &deployment_doc("api");
    let mut c = build(&docs);
    let sets = c.store.list_cloned("replicasets.apps", Some("shop"));
    assert_eq!(sets.len(), 1);
    let first = meta_str(&sets[0], "name").to_string();
    let hash = first
        .strip_prefix("api-")
        .expect("named after the deployment");
    assert_eq!(hash.len(), 10);
    assert!(
        hash.chars()
            .all(|ch| "bcdfghjklmnpqrstvwxz2456789".contains(ch)),
        "{hash}"
    );
    assert_eq!(
        build(&docs)
            .store
            .list_cloned("replicasets.apps", Some("shop"))[0]["metadata"]["name"],
        json!(first),
        "the hash is stable"
    );
    let ps = pods(&c, "shop");
    assert_eq!(ps.len(), 3);
    let on_n1 = ps.iter().filter(|p| node_of(p) == "n1").count();
    assert!(on_n1 == 1 || on_n1 == 2, "spread over both nodes");

    // Scale down to 1.
    let mut d = get(&c, "deployments.apps", "shop", "api");
    d["spec"]["replicas"] = json!(1);
    update(&mut c, "apps/v1", "Deployment", d);
    reconcile(&mut c, after(5));
    assert_eq!(pods(&c, "shop").len(), 1);
    assert_eq!(
        get(&c, "replicasets.apps", "shop", &first)["spec"]["replicas"],
        1
    );

    // `kubectl rollout restart`: a new ReplicaSet, the old one scaled to 0.
    let mut d = get(&c, "deployments.apps", "shop", "api");
    d["spec"]["template"]["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:10Z"});
    update(&mut c, "apps/v1", "Deployment", d);
    reconcile(&mut c, after(10));
    let sets = c.store.list_cloned("replicasets.apps", Some("shop"));
    assert_eq!(sets.len(), 2);
    let new = sets
        .iter()
        .find(|rs| meta_str(rs, "name") != first)
        .expect("new replicaset");
    assert_eq!(new["spec"]["replicas"], 1);
    assert_eq!(
        new["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(
        get(&c, "replicasets.apps", "shop", &first)["spec"]["replicas"],
        0
    );
    let ps = pods(&c, "shop");
    assert_eq!(ps.len(), 1);
    assert_eq!(
        ps[0]["metadata"]["ownerReferences"][0]["name"],
        new["metadata"]["name"]
    );
    assert_eq!(
        ps[0]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2024-05-01T10:00:10Z"
    );
    let d = get(&c, "deployments.apps", "shop", "api");
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(d["status"]["observedGeneration"], 3);
}

#[test]
fn stateful_set_creates_pods_in_order() {
    let mut docs = String::new();
    docs += &node("n1", "192.168.0.1", "", "");
    docs += "
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: 'shop/db:1'}]
";
    let mut c = build(&docs);
    let names: Vec<String> = pods(&c, "shop")
        .iter()
        .map(|p| meta_str(p, "name").to_string())
        .collect();
    assert_eq!(names, vec!["db-0"], "db-1 waits for db-0 to be Ready");
    let p0 = pod(&c, "shop", "db-0");
    assert_eq!(p0["spec"]["hostname"], "db-0");
    assert_eq!(p0["spec"]["subdomain"], "db");
    assert_eq!(
        p0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "db-0"
    );
    reconcile(&mut c, after(2));
    assert!(ready(&pod(&c, "shop", "db-0")));
    assert!(!ready(&pod(&c, "shop", "db-1")));
    reconcile(&mut c, after(4));
    let mut sts = get(&c, "statefulsets.apps", "shop", "db");
    assert_eq!(sts["status"]["replicas"], 2);
    assert_eq!(sts["status"]["readyReplicas"], 2);
    sts["spec"]["replicas"] = json!(1);
    update(&mut c, "apps/v1", "StatefulSet", sts);
    reconcile(&mut c, after(5));
    let names: Vec<String> = pods(&c, "shop")
        .iter()
        .map(|p| meta_str(p, "name").to_string())
        .collect();
    assert_eq!(
        names,
        vec!["db-0"],
        "scaling down removes the highest ordinal"
    );
}

#[test]
fn daemon_set_runs_one_pod_per_eligible_node() {
    let mut docs = String::new();
    docs += &node("n1", "192.168.0.1", "", "");
    docs += &node("n2", "192.168.0.2", "", "unschedulable: true");
    docs += &node(
        "m1",
        "192.168.0.3",
        "",
        "taints: [{key: node-role.kubernetes.io/master, effect: NoSchedule}]",
    );
    docs += "
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: 'shop/agent:1'}]
";
    let mut c = build(&docs);
    let mut nodes: Vec<String> = pods(&c, "shop")
        .iter()
        .map(|p| node_of(p).to_string())
        .collect();
    nodes.sort();
    assert_eq!(
        nodes,
        vec!["n1", "n2"],
        "cordoned nodes run daemons; untolerated taints keep them off"
    );
    reconcile(&mut c, after(2));
    let ds = get(&c, "daemonsets.apps", "shop", "agent");
    assert_eq!(ds["status"]["desiredNumberScheduled"], 2);
    assert_eq!(ds["status"]["currentNumberScheduled"], 2);
    assert_eq!(ds["status"]["numberReady"], 2);
    assert_eq!(ds["status"]["numberAvailable"], 2);
}

/// Three `app: shop` replicas of a Deployment on two nodes, and the PDBs in `pdbs`.
fn shop_with_pdbs(pdbs: &str) -> Cluster {
    let mut docs = two_nodes();
    docs += &deployment_doc("checkout");
    docs += pdbs;
    let mut c = build(&docs);
    reconcile(&mut c, after(2));
    c
}

fn pdb_doc(name: &str, budget: &str) -> String {
    format!(
        "---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}, namespace: shop}}
spec:
  {budget}
  selector: {{matchLabels: {{app: checkout}}}}
"
    )
}

fn pdb_status(c: &Cluster, name: &str) -> Value {
    get(c, "poddisruptionbudgets.policy", "shop", name)["status"].clone()
}

#[test]
fn pdb_status_counts_healthy_and_expected_pods() {
    let mut c = shop_with_pdbs(
        &(pdb_doc("min2", "minAvailable: 2") + &pdb_doc("pct", "minAvailable: '60%'")),
    );
    let s = pdb_status(&c, "min2");
    assert_eq!(s["expectedPods"], 3);
    assert_eq!(s["currentHealthy"], 3);
    assert_eq!(s["desiredHealthy"], 2);
    assert_eq!(s["disruptionsAllowed"], 1);
    assert_eq!(s["observedGeneration"], 1);
    assert_eq!(s["disruptedPods"], json!({}));
    assert_eq!(s["conditions"][0]["type"], "DisruptionAllowed");
    assert_eq!(s["conditions"][0]["status"], "True");
    assert_eq!(s["conditions"][0]["reason"], "SufficientPods");
    let s = pdb_status(&c, "pct");
    assert_eq!(s["desiredHealthy"], 2, "60% of 3 rounds up");
    assert_eq!(
        s["expectedPods"], 3,
        "a percentage counts the controller's replicas"
    );

    // A pod deleted: until its replacement is Ready, the budget is spent.
    let victim = meta_str(&pods(&c, "shop")[0], "name").to_string();
    delete_pod(&mut c, "shop", &victim);
    reconcile(&mut c, after(3));
    let s = pdb_status(&c, "min2");
    assert_eq!(s["currentHealthy"], 2);
    assert_eq!(s["disruptionsAllowed"], 0);
    assert_eq!(s["conditions"][0]["status"], "False");
    assert_eq!(s["conditions"][0]["reason"], "InsufficientPods");
    reconcile(&mut c, after(5));
    assert_eq!(pdb_status(&c, "min2")["disruptionsAllowed"], 1);
}

#[test]
fn pdb_max_unavailable_uses_the_controller_scale() {
    let c = shop_with_pdbs(&pdb_doc("max", "maxUnavailable: '50%'"));
    let s = pdb_status(&c, "max");
    assert_eq!(s["expectedPods"], 3);
    assert_eq!(s["desiredHealthy"], 1, "3 - ceil(1.5)");
    assert_eq!(s["disruptionsAllowed"], 2);
}

#[test]
fn eviction_respects_the_budget_and_spends_it_at_once() {
    let mut c = shop_with_pdbs(&pdb_doc("checkout", "minAvailable: 2"));
    let names: Vec<String> = pods(&c, "shop")
        .iter()
        .map(|p| meta_str(p, "name").to_string())
        .collect();

    evict(&mut c, "shop", &names[0], true, after(3)).expect("dry run");
    assert!(
        c.store.get("pods", "shop", &names[0]).is_some(),
        "a dry run deletes nothing"
    );
    assert_eq!(pdb_status(&c, "checkout")["disruptionsAllowed"], 1);

    evict(&mut c, "shop", &names[0], false, after(3)).expect("first eviction");
    assert!(c.store.get("pods", "shop", &names[0]).is_none());
    assert_eq!(
        pdb_status(&c, "checkout")["disruptionsAllowed"],
        0,
        "visible before any reconcile"
    );

    let err = evict(&mut c, "shop", &names[1], false, after(3)).expect_err("budget spent");
    assert_eq!(err.code, 429);
    assert_eq!(err.reason, "TooManyRequests");
    assert_eq!(
        err.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(
        err.details.as_deref(),
        Some(&json!({"causes": [{"reason": "DisruptionBudget",
                                "message": "The disruption budget checkout needs 2 healthy pods and has 2 currently"}]}))
    );
    assert!(c.store.get("pods", "shop", &names[1]).is_some());

    let err = evict(&mut c, "shop", "nope", false, after(3)).expect_err("missing");
    assert_eq!(err.code, 404);
    assert_eq!(err.message, "pods \"nope\" not found");

    // Once the replacement is Ready, the next eviction goes through.
    reconcile(&mut c, after(3));
    reconcile(&mut c, after(6));
    evict(&mut c, "shop", &names[1], false, after(6)).expect("budget back");
}

#[test]
fn eviction_with_two_budgets_is_an_internal_error() {
    let mut c =
        shop_with_pdbs(&(pdb_doc("one", "minAvailable: 1") + &pdb_doc("two", "maxUnavailable: 1")));
    let name = meta_str(&pods(&c, "shop")[0], "name").to_string();
    let err = evict(&mut c, "shop", &name, false, after(3)).expect_err("two PDBs");
    assert_eq!(err.code, 500);
    assert_eq!(err.reason, "InternalError");
    assert_eq!(
        err.message,
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    assert!(c.store.get("pods", "shop", &name).is_some());
}

#[test]
fn eviction_of_a_pod_that_is_not_running_skips_the_budget() {
    let mut docs = pdb_doc("strict", "minAvailable: 5");
    docs += &node("n1", "192.168.0.1", "", "");
    docs += "---
apiVersion: v1
kind: Pod
metadata: {name: stuck, namespace: shop, labels: {app: checkout}}
spec:
  nodeSelector: {disk: none}
  containers: [{name: app, image: 'shop/app:1'}]
";
    let mut c = build(&docs);
    assert_eq!(pod(&c, "shop", "stuck")["status"]["phase"], "Pending");
    evict(&mut c, "shop", "stuck", false, after(1))
        .expect("a pending pod is evicted whatever the budget");
    assert!(c.store.get("pods", "shop", "stuck").is_none());
}

const ISTIOD: &str = "
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod-canary, namespace: istio-system, labels: {app: istiod, istio.io/rev: canary}}
spec:
  replicas: 1
  selector: {matchLabels: {app: istiod, istio.io/rev: canary}}
  template:
    metadata: {labels: {app: istiod, istio.io/rev: canary, sidecar.istio.io/inject: 'false'}}
    spec:
      containers: [{name: discovery, image: 'docker.io/istio/pilot:1.20.3'}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod, istio.io/rev: default}}
spec:
  replicas: 1
  selector: {matchLabels: {app: istiod, istio.io/rev: default}}
  template:
    metadata: {labels: {app: istiod, istio.io/rev: default, sidecar.istio.io/inject: 'false'}}
    spec:
      containers: [{name: discovery, image: 'docker.io/istio/pilot:1.9.1'}]
---
apiVersion: v1
kind: Namespace
metadata: {name: by-rev, labels: {istio.io/rev: canary}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
";

fn new_pod(c: &mut Cluster, ns: &str, name: &str, labels: Value) -> Value {
    create(
        c,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"containers": [{"name": "app", "image": "shop/app:1"}]}}),
    )
}

fn containers(p: &Value, list: &str) -> Vec<String> {
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

fn proxy_image(p: &Value) -> String {
    p["spec"]["containers"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "istio-proxy"))
        .and_then(|c| c["image"].as_str())
        .unwrap_or("")
        .to_string()
}

fn sidecar_status(p: &Value) -> Value {
    serde_json::from_str(
        p["metadata"]["annotations"]["sidecar.istio.io/status"]
            .as_str()
            .unwrap_or("null"),
    )
    .expect("status json")
}

#[test]
fn injection_by_revision_label() {
    let mut c = build(ISTIOD);
    let p = new_pod(
        &mut c,
        "by-rev",
        "a",
        json!({"app": "reviews", "version": "v2"}),
    );
    assert_eq!(containers(&p, "containers"), vec!["app", "istio-proxy"]);
    assert_eq!(containers(&p, "initContainers"), vec!["istio-init"]);
    assert_eq!(proxy_image(&p), "docker.io/istio/proxyv2:1.20.3");
    let s = sidecar_status(&p);
    assert_eq!(s["revision"], "canary", "1.11+ records the revision");
    assert_eq!(s["containers"], json!(["istio-proxy"]));
    assert_eq!(
        p["metadata"]["annotations"]["istio.io/rev"], "canary",
        "1.18+ annotates the revision"
    );
    assert!(
        p["metadata"]["labels"].get("istio.io/rev").is_none(),
        "1.11+ no longer labels it"
    );
    assert_eq!(
        p["metadata"]["labels"]["security.istio.io/tlsMode"],
        "istio"
    );
    assert_eq!(
        p["metadata"]["labels"]["service.istio.io/canonical-name"],
        "reviews"
    );
    assert_eq!(
        p["metadata"]["labels"]["service.istio.io/canonical-revision"],
        "v2"
    );

    // The pod's own label counts only in a namespace with neither injection label.
    let p = new_pod(&mut c, "plain", "b", json!({"istio.io/rev": "canary"}));
    assert_eq!(proxy_image(&p), "docker.io/istio/proxyv2:1.20.3");
    let p = new_pod(&mut c, "plain", "c", json!({}));
    assert_eq!(containers(&p, "containers"), vec!["app"]);
    // Opting out.
    let p = new_pod(
        &mut c,
        "by-rev",
        "d",
        json!({"sidecar.istio.io/inject": "false"}),
    );
    assert_eq!(containers(&p, "containers"), vec!["app"]);
    // kube-system is never injected.
    let p = new_pod(
        &mut c,
        "kube-system",
        "f",
        json!({"istio.io/rev": "canary"}),
    );
    assert_eq!(containers(&p, "containers"), vec!["app"]);
    // A revision without istiod injects nothing.
    let p = new_pod(&mut c, "plain", "e", json!({"istio.io/rev": "gone"}));
    assert_eq!(containers(&p, "containers"), vec!["app"]);
}

#[test]
fn injection_by_istio_injection_label_uses_the_default_revision() {
    let mut c = build(ISTIOD);
    let p = new_pod(&mut c, "legacy", "a", json!({"app": "storefront"}));
    assert_eq!(proxy_image(&p), "docker.io/istio/proxyv2:1.9.1");
    let s = sidecar_status(&p);
    assert!(
        s.get("revision").is_none(),
        "1.9 has no revision in the status: {s}"
    );
    assert_eq!(s["initContainers"], json!(["istio-init"]));
    assert_eq!(s["imagePullSecrets"], Value::Null);
    assert_eq!(
        p["metadata"]["labels"]["istio.io/rev"], "default",
        "<=1.10 labels the pod"
    );

    // A `default` tag moves istio-injection=enabled to its revision.
    create(
        &mut c,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
               "metadata": {"name": "istio-revision-tag-default",
                            "labels": {"istio.io/rev": "canary", "istio.io/tag": "default", "app": "sidecar-injector"}},
               "webhooks": []}),
    );
    let p = new_pod(&mut c, "legacy", "b", json!({}));
    assert_eq!(proxy_image(&p), "docker.io/istio/proxyv2:1.20.3");
    assert_eq!(sidecar_status(&p)["revision"], "canary");
}

#[test]
fn no_default_revision_means_no_injection_and_scenario_pods_stay_as_written() {
    let docs = ISTIOD
        .replace("name: istiod, namespace", "name: istiod-other, namespace")
        .replace("istio.io/rev: default", "istio.io/rev: other")
        + "---
apiVersion: v1
kind: Pod
metadata: {name: written, namespace: by-rev}
spec:
  nodeName: n1
  containers: [{name: app, image: 'shop/app:1'}]
";
    let mut c = build(&(docs + &node("n1", "192.168.0.1", "", "")));
    assert_eq!(
        containers(&pod(&c, "by-rev", "written"), "containers"),
        vec!["app"],
        "a scenario pod is not injected"
    );
    let p = new_pod(&mut c, "legacy", "a", json!({}));
    assert_eq!(
        containers(&p, "containers"),
        vec!["app"],
        "istio-injection=enabled with no default revision"
    );
}

#[test]
fn pods_of_a_deployment_are_injected_when_created() {
    let mut docs = ISTIOD.to_string();
    docs += &node("n1", "192.168.0.1", "", "");
    docs += "
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: by-rev}
spec:
  replicas: 1
  selector: {matchLabels: {app: reviews}}
  template:
    metadata: {labels: {app: reviews}}
    spec:
      containers: [{name: reviews, image: 'shop/reviews:1'}]
";
    let mut c = build(&docs);
    let ps = pods(&c, "by-rev");
    assert_eq!(ps.len(), 1);
    assert_eq!(proxy_image(&ps[0]), "docker.io/istio/proxyv2:1.20.3");
    let env = ps[0]["spec"]["containers"][1]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let owner = env
        .iter()
        .find(|e| e["name"] == "ISTIO_META_OWNER")
        .map(|e| e["value"].clone());
    assert_eq!(
        owner,
        Some(json!(
            "kubernetes://apis/apps/v1/namespaces/by-rev/deployments/reviews-v1"
        ))
    );
    assert!(
        !ready(&ps[0]),
        "a pod a controller creates starts like any new pod"
    );
    reconcile(&mut c, after(2));
    assert!(ready(&pod(&c, "by-rev", meta_str(&ps[0], "name"))));
}

const IOP: &str = "
---
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
  annotations:
    sandbox.meshtop.dev/crds: istiooperators.install.istio.io
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: canary, namespace: istio-system}
spec:
  profile: default
  revision: 1-20-3
  tag: 1.20.3
  meshConfig: {accessLogFile: /dev/stdout}
  components:
    pilot:
      k8s:
        hpaSpec: {minReplicas: 2, maxReplicas: 4}
        nodeSelector: {istio: 'yes'}
    ingressGateways:
    - name: istio-ingressgateway-canary
      enabled: true
      label: {app: istio-ingressgateway, istio: ingressgateway-canary}
      k8s:
        service: {type: NodePort, ports: [{name: http2, port: 80, targetPort: 8080}]}
";

fn iop_cluster() -> Cluster {
    let mut docs = IOP.to_string();
    docs += &node("n1", "192.168.0.1", "istio: 'yes'", "");
    docs += &node("n2", "192.168.0.2", "istio: 'yes'", "");
    docs += &node("n3", "192.168.0.3", "", "");
    let s = Scenario::parse(&docs, "t.yaml").expect("parse");
    s.build(t0()).expect("build")
}

#[test]
fn istio_operator_installs_a_revision() {
    let mut c = iop_cluster();
    let d = get(&c, "deployments.apps", "istio-system", "istiod-1-20-3");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["labels"]["app"], "istiod");
    assert_eq!(d["metadata"]["labels"]["istio"], "pilot");
    assert_eq!(d["metadata"]["labels"]["istio.io/rev"], "1-20-3");
    assert_eq!(
        d["metadata"]["labels"]["operator.istio.io/component"],
        "Pilot"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["nodeSelector"],
        json!({"istio": "yes"})
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["name"],
        "discovery"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "docker.io/istio/pilot:1.20.3"
    );
    let svc = get(&c, "services", "istio-system", "istiod-1-20-3");
    let ports: Vec<(i64, i64)> = svc["spec"]["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["port"].as_i64().unwrap_or(0),
                        p["targetPort"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ports,
        vec![(15010, 15010), (15012, 15012), (443, 15017), (15014, 15014)]
    );
    let cm = get(&c, "configmaps", "istio-system", "istio-1-20-3");
    assert!(
        cm["data"]["mesh"]
            .as_str()
            .is_some_and(|m| m.contains("accessLogFile: /dev/stdout")),
        "{}",
        cm["data"]
    );
    let mwc = get(
        &c,
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "",
        "istio-sidecar-injector-1-20-3",
    );
    assert_eq!(mwc["metadata"]["labels"]["app"], "sidecar-injector");
    assert_eq!(mwc["metadata"]["labels"]["istio.io/rev"], "1-20-3");
    let pdb = get(
        &c,
        "poddisruptionbudgets.policy",
        "istio-system",
        "istiod-1-20-3",
    );
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        json!({"app": "istiod", "istio.io/rev": "1-20-3"})
    );
    let hpa = get(
        &c,
        "horizontalpodautoscalers.autoscaling",
        "istio-system",
        "istiod-1-20-3",
    );
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone()
        ),
        (json!(2), json!(4))
    );

    // The gateway from the component list, with its labels and service.
    let gw = get(
        &c,
        "deployments.apps",
        "istio-system",
        "istio-ingressgateway-canary",
    );
    assert_eq!(
        gw["spec"]["selector"]["matchLabels"],
        json!({"app": "istio-ingressgateway", "istio": "ingressgateway-canary"})
    );
    assert_eq!(
        gw["spec"]["template"]["metadata"]["labels"]["istio.io/rev"],
        "1-20-3"
    );
    assert_eq!(
        gw["spec"]["template"]["spec"]["containers"][0]["image"],
        "docker.io/istio/proxyv2:1.20.3"
    );
    let gsvc = get(
        &c,
        "services",
        "istio-system",
        "istio-ingressgateway-canary",
    );
    assert_eq!(gsvc["spec"]["type"], "NodePort");
    assert!(
        c.store
            .get("deployments.apps", "istio-system", "istio-ingressgateway")
            .is_none(),
        "the list replaces the profile's"
    );
    assert!(
        c.store
            .get(
                "poddisruptionbudgets.policy",
                "istio-system",
                "istio-ingressgateway-canary"
            )
            .is_some()
    );

    // istiod pods run on the selected nodes; the IOP reconciles until they are Ready.
    let istiod_pods: Vec<Value> = pods(&c, "istio-system")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "istiod")
        .collect();
    assert_eq!(istiod_pods.len(), 2);
    assert!(
        istiod_pods
            .iter()
            .all(|p| node_of(p) == "n1" || node_of(p) == "n2")
    );
    let iop = get(
        &c,
        "istiooperators.install.istio.io",
        "istio-system",
        "canary",
    );
    assert_eq!(iop["status"]["status"], "RECONCILING");
    assert_eq!(
        iop["status"]["componentStatus"]["Pilot"]["status"],
        "RECONCILING"
    );
    assert_eq!(
        iop["metadata"]["generation"], 1,
        "status writes leave the generation alone"
    );
    reconcile(&mut c, after(2));
    let iop = get(
        &c,
        "istiooperators.install.istio.io",
        "istio-system",
        "canary",
    );
    assert_eq!(iop["status"]["status"], "HEALTHY", "{}", iop["status"]);
    assert_eq!(
        iop["status"]["componentStatus"]["Pilot"]["status"],
        "HEALTHY"
    );
    assert_eq!(
        iop["status"]["componentStatus"]["IngressGateways"]["status"],
        "HEALTHY"
    );
    assert!(
        iop["status"]["componentStatus"]
            .get("EgressGateways")
            .is_none()
    );

    // A namespace labelled for the new revision now gets its sidecars.
    create(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"istio.io/rev": "1-20-3"}}}),
    );
    let p = new_pod(&mut c, "shop", "a", json!({}));
    assert_eq!(proxy_image(&p), "docker.io/istio/proxyv2:1.20.3");
}

#[test]
fn istio_operator_with_empty_profile_installs_no_istiod() {
    let docs = IOP.replace("profile: default", "profile: empty")
        + &node("n1", "192.168.0.1", "istio: 'yes'", "");
    let c = Scenario::parse(&docs, "t.yaml")
        .expect("parse")
        .build(t0())
        .expect("build");
    assert!(!exists(
        &c,
        "deployments.apps",
        "istio-system",
        "istiod-1-20-3"
    ));
    assert!(exists(
        &c,
        "deployments.apps",
        "istio-system",
        "istio-ingressgateway-canary"
    ));
    let iop = get(
        &c,
        "istiooperators.install.istio.io",
        "istio-system",
        "canary",
    );
    assert!(iop["status"]["componentStatus"].get("Pilot").is_none());
}

#[test]
fn the_shipped_scenario_loads_without_controllers_changing_it() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/scenarios/k1-upgrade.yaml");
    let s = Scenario::from_file(&path).expect("scenario");
    let written_pods = s
        .documents
        .iter()
        .filter(|d| d.object["kind"] == "Pod")
        .count();
    let mut c = s.build(t0()).expect("build");
    assert_eq!(
        c.store.list("pods", None).count(),
        written_pods,
        "every written pod is adopted, none added"
    );
    assert!(
        c.store
            .list("pods", None)
            .all(|p| super::controller_ref(p.head()).is_some()),
        "every pod has a controller"
    );
    assert!(
        c.store
            .get(
                "replicasets.apps",
                "istio-system",
                "istiod-1-9-1-58ff56d6f8"
            )
            .is_some()
    );
    let written = s
        .documents
        .iter()
        .find(|d| {
            d.object["kind"] == "Deployment" && d.object["metadata"]["name"] == "istiod-1-9-1"
        })
        .map(|d| d.object["status"].clone());
    assert_eq!(
        Some(get(&c, "deployments.apps", "istio-system", "istiod-1-9-1")["status"].clone()),
        written,
        "a Deployment whose pods are as written keeps its written status"
    );
    // The IOPs' objects were written: nothing is installed again (their PDBs were off or written).
    assert!(
        c.store
            .get(
                "poddisruptionbudgets.policy",
                "istio-system",
                "istiod-1-9-1"
            )
            .is_none()
    );
    assert!(
        c.store
            .get(
                "poddisruptionbudgets.policy",
                "istio-gateway-sample",
                "istio-ingressgateway-istio-gateway-sample"
            )
            .is_none()
    );
    let es = get(
        &c,
        "poddisruptionbudgets.policy",
        "logging",
        "elasticsearch-k1-master-pdb",
    );
    assert_eq!(es["status"]["disruptionsAllowed"], 0);
    assert_eq!(es["status"]["currentHealthy"], 2);
    assert_eq!(es["status"]["expectedPods"], 3);
    assert_eq!(
        es["status"]["conditions"][0]["lastTransitionTime"], "2020-01-08T22:47:13Z",
        "unchanged conditions keep their time"
    );
    let err = evict(
        &mut c,
        "istio-system",
        "istio-pilot-r4wksrd5mb-9fsbh",
        false,
        after(1),
    )
    .expect_err("the 1.4 pilot PDB");
    assert_eq!(err.code, 429);
    let rv = c.store.resource_version();
    reconcile(&mut c, after(60));
    assert_eq!(
        c.store.resource_version(),
        rv,
        "a settled scenario stays settled"
    );
}

#[test]
fn a_not_ready_pod_may_go_while_the_healthy_pods_suffice() {
    // The seed's Elasticsearch: 3 masters, maxUnavailable 1, es-2 crash-looping. Its budget
    // allows no disruption, yet policy/v1 lets the unhealthy es-2 go (2 healthy of 2
    // desired) without spending anything; a healthy master is still refused.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/scenarios/k1-upgrade.yaml");
    let scenario = crate::Scenario::from_file(&path).expect("scenario");
    let mut c = scenario.build(after(0)).expect("build");
    let pdb = |c: &Cluster| {
        c.store
            .get(
                "poddisruptionbudgets.policy",
                "logging",
                "elasticsearch-k1-master-pdb",
            )
            .map(|p| p.head()["status"].clone())
            .expect("pdb")
    };
    assert_eq!(pdb(&c)["disruptionsAllowed"], 0);
    let err = evict(
        &mut c,
        "logging",
        "elasticsearch-k1-master-0",
        false,
        after(1),
    )
    .expect_err("healthy master");
    assert_eq!(err.code, 429);
    evict(
        &mut c,
        "logging",
        "elasticsearch-k1-master-2",
        false,
        after(1),
    )
    .expect("unhealthy master goes");
    assert!(
        c.store
            .get("pods", "logging", "elasticsearch-k1-master-2")
            .is_none()
    );
    assert_eq!(pdb(&c)["currentHealthy"], 2, "no healthy pod was spent");
}

const SAIL: &str = "
---
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
  annotations:
    sandbox.meshtop.dev/crds: istios.sailoperator.io,istiorevisions.sailoperator.io
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec:
  version: v1.29.2
  namespace: istio-system
  values: {pilot: {autoscaleMin: 2}}
";

#[test]
fn sail_istio_in_place_upgrades_and_its_revision_owns_istiod() {
    let docs = SAIL.to_string() + &two_nodes();
    let mut c = Scenario::parse(&docs, "t.yaml")
        .expect("parse")
        .build(t0())
        .expect("build");
    reconcile(&mut c, after(5));
    // InPlace (the default): one revision named after the Istio, the default revision.
    let rev = get(&c, "istiorevisions.sailoperator.io", "", "default");
    assert_eq!(rev["spec"]["version"], "v1.29.2");
    let d = get(&c, "deployments.apps", "istio-system", "istiod");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "sail-operator"
    );
    assert_eq!(d["metadata"]["ownerReferences"][0]["kind"], "IstioRevision");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "docker.io/istio/pilot:1.29.2"
    );
    assert!(exists(
        &c,
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "",
        "istio-sidecar-injector"
    ));
    let rev = get(&c, "istiorevisions.sailoperator.io", "", "default");
    assert_eq!(rev["status"]["state"], "Healthy", "{rev}");
    let istio = get(&c, "istios.sailoperator.io", "", "default");
    assert_eq!(istio["status"]["activeRevisionName"], "default");
    assert_eq!(istio["status"]["revisions"]["ready"], 1, "{istio}");

    // A new version: the revision follows, and istiod rolls to its image.
    let mut istio = get(&c, "istios.sailoperator.io", "", "default");
    istio["spec"]["version"] = json!("v1.30.1");
    update(&mut c, "sailoperator.io/v1", "Istio", istio);
    reconcile(&mut c, after(10));
    let rev = get(&c, "istiorevisions.sailoperator.io", "", "default");
    assert_eq!(rev["spec"]["version"], "v1.30.1");
    let d = get(&c, "deployments.apps", "istio-system", "istiod");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "docker.io/istio/pilot:1.30.1"
    );

    // RevisionBased: a new revision beside the old one; deleting that one takes its istiod.
    let mut istio = get(&c, "istios.sailoperator.io", "", "default");
    istio["spec"]["updateStrategy"] = json!({"type": "RevisionBased"});
    update(&mut c, "sailoperator.io/v1", "Istio", istio);
    reconcile(&mut c, after(15));
    get(
        &c,
        "deployments.apps",
        "istio-system",
        "istiod-default-v1-30-1",
    );
    let t = c
        .registry
        .by_kind("sailoperator.io/v1", "IstioRevision")
        .cloned()
        .expect("type");
    api::delete(
        &mut c,
        &t,
        "",
        "default",
        after(16),
        &WriteOptions::client(false),
    )
    .expect("delete");
    reconcile(&mut c, after(17));
    assert!(!exists(&c, "deployments.apps", "istio-system", "istiod"));
    assert!(!exists(
        &c,
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "",
        "istio-sidecar-injector"
    ));
    get(
        &c,
        "deployments.apps",
        "istio-system",
        "istiod-default-v1-30-1",
    );
}

#[test]
fn changes_made_without_the_controllers_are_noted_small_and_followed_later() {
    let mut c = shop_with_pdbs(&pdb_doc("min2", "minAvailable: 2"));
    assert_eq!(pdb_status(&c, "min2")["currentHealthy"], 3);
    let t = c.registry.by_kind("v1", "Pod").cloned().expect("type");
    let mut victim = pods(&c, "shop").swap_remove(0);
    // As churn writes: straight to the store, many times, no controller run.
    for _ in 0..50 {
        if let Some(conds) = victim["status"]["conditions"].as_array_mut() {
            for cond in conds.iter_mut().filter(|c| c["type"] == "Ready") {
                cond["status"] = json!("False");
            }
        }
        c.store.replace(&t, victim.clone()).expect("replace");
        super::note_changes(&mut c);
    }
    // What the PDB controller follows is a namespace's name, not fifty pods.
    let pending: usize = c
        .controllers
        .pdb_feed
        .iter()
        .map(tokio::sync::mpsc::UnboundedReceiver::len)
        .sum();
    assert_eq!(pending, 0);
    assert_eq!(
        c.controllers.pdb_changed.iter().collect::<Vec<_>>(),
        ["shop"]
    );
    // The next run recomputes the namespace: the pod no longer counts as healthy.
    reconcile(&mut c, after(3));
    assert!(!ready(&pod(&c, "shop", meta_str(&victim, "name"))));
    assert_eq!(pdb_status(&c, "min2")["currentHealthy"], 2);
    assert!(c.controllers.pdb_changed.is_empty());
}
