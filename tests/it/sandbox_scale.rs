//! The sandbox at size: a generated cluster served to the real kube client and kubectl.
//! Paged lists come from one snapshot (each pod exactly once, while pods come and go), an
//! expired snapshot answers 410 Expired as a real server does, and the streaming initial
//! list of a watch (WatchList) ends with the `k8s.io/initial-events-end` bookmark.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;

use crate::common::harness;
use crate::common::process::{CliFiles, SandboxProcess, kubectl_at, run};

/// 40 namespaces: among them `checkout-prod`, `checkout-prod-eu` and `checkout-prod-eu-2`,
/// whose names prefix one another.
const SPEC: &str = "nodes=20,pods=1500,namespaces=40";
const PODS: usize = 1500;

fn key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default()
    )
}

fn bare_pod(ns: &str, name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/late:1"}]},
    }))
    .expect("pod")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paged_pod_list_returns_the_snapshot_once_while_pods_come_and_go() {
    let sandbox = harness::start_generated(SPEC).await.expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    let pods = Api::<Pod>::all(client.clone());
    let whole: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(key)
        .collect();
    assert_eq!(whole.len(), PODS);
    for ns in ["checkout-prod/", "checkout-prod-eu/", "checkout-prod-eu-2/"] {
        assert!(whole.iter().any(|k| k.starts_with(ns)), "no pod in {ns}");
    }
    // Pods near the end of the list go away, and new ones come, between pages.
    let doomed: Vec<&String> = whole.iter().rev().step_by(37).take(8).collect();
    let mut lp = ListParams::default().limit(100);
    let mut names = Vec::new();
    let mut page = 0;
    loop {
        let list = pods.list(&lp).await.expect("a page");
        if page == 0 {
            assert_eq!(
                list.metadata.remaining_item_count,
                Some((PODS - 100) as i64)
            );
        }
        names.extend(list.items.iter().map(key));
        let Some(token) = list.metadata.continue_.filter(|c| !c.is_empty()) else {
            break;
        };
        lp = lp.continue_token(&token);
        if let Some(gone) = doomed.get(page) {
            let (ns, name) = gone.split_once('/').expect("ns/name");
            Api::<Pod>::namespaced(client.clone(), ns)
                .delete(name, &DeleteParams::default().grace_period(0))
                .await
                .expect("delete between pages");
            Api::<Pod>::namespaced(client.clone(), "checkout-prod-eu")
                .create(
                    &PostParams::default(),
                    &bare_pod("checkout-prod-eu", &format!("late-{page}")),
                )
                .await
                .expect("create between pages");
        }
        page += 1;
    }
    assert_eq!(page, 14, "1,500 pods in pages of 100");
    assert_eq!(names, whole, "the snapshot, each pod once, in order");
    // The churn was real: a list now sees it.
    let now: BTreeSet<String> = pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(key)
        .collect();
    assert!(now.contains("checkout-prod-eu/late-0"));
    assert!(!now.contains(doomed[0].as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_snapshot_answers_410_with_a_token_that_goes_on() {
    let sandbox = harness::start_generated(SPEC).await.expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    let pods = Api::<Pod>::all(client);
    let first = pods
        .list(&ListParams::default().limit(500))
        .await
        .expect("first page");
    let token = first.metadata.continue_.clone().expect("more pages");
    // What etcd's compaction does to a real server's snapshot.
    sandbox.shared().lock().store.drop_snapshots();
    let err = pods
        .list(&ListParams::default().limit(500).continue_token(&token))
        .await
        .expect_err("expired");
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err}")
    };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
    assert!(
        status.message.starts_with(
            "The provided continue parameter is too old to display a consistent list result."
        ),
        "{}",
        status.message
    );
    let again = status
        .metadata
        .and_then(|m| m.continue_)
        .expect("a token to go on with");
    let mut names: Vec<String> = first.items.iter().map(key).collect();
    let mut lp = ListParams::default().limit(500).continue_token(&again);
    loop {
        let list = pods.list(&lp).await.expect("a page");
        names.extend(list.items.iter().map(key));
        match list.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(t) => lp = lp.continue_token(&t),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "no pod twice");
    assert_eq!(names.len(), PODS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_list_sends_every_pod_then_the_initial_events_end_bookmark() {
    let sandbox = harness::start_generated(SPEC).await.expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    let pods = Api::<Pod>::all(client);
    // The raw protocol: ADDED for each pod, then the bookmark that ends the initial events.
    let mut stream = pods
        .watch(&WatchParams::streaming_lists().timeout(60), "0")
        .await
        .expect("watch")
        .boxed();
    let mut added = BTreeSet::new();
    let bookmark = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(ev) = stream.try_next().await.expect("event") {
            match ev {
                WatchEvent::Added(p) => {
                    added.insert(key(&p));
                }
                WatchEvent::Bookmark(b) => return b,
                other => panic!("unexpected before the bookmark: {other:?}"),
            }
        }
        panic!("the watch ended before its bookmark")
    })
    .await
    .expect("the bookmark within a minute");
    assert_eq!(added.len(), PODS);
    assert_eq!(
        bookmark
            .metadata
            .annotations
            .get("k8s.io/initial-events-end")
            .map(String::as_str),
        Some("true")
    );
    assert!(!bookmark.metadata.resource_version.is_empty());

    // kube-rs's watcher in streaming-list mode: one Init, every pod, then InitDone.
    let mut events = watcher(pods, watcher::Config::default().streaming_lists()).boxed();
    let mut applied = 0;
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.try_next().await.expect("watcher") {
                Some(watcher::Event::Init) => applied = 0,
                Some(watcher::Event::InitApply(_)) => applied += 1,
                Some(watcher::Event::InitDone) => return,
                Some(other) => panic!("unexpected before InitDone: {other:?}"),
                None => panic!("the watcher ended"),
            }
        }
    })
    .await
    .expect("InitDone within a minute");
    assert_eq!(applied, PODS);
}

#[test]
fn kubectl_lists_a_generated_cluster_in_pages_as_a_table_and_as_json() {
    let sb = SandboxProcess::generated(SPEC);
    // kubectl asks for 500 rows at a time and follows the continue tokens.
    let table = sb.kubectl_ok(&["get", "pods", "-A", "--no-headers"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), PODS);
    let unique: BTreeSet<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(unique.len(), PODS, "each pod once");
    let running = rows.iter().filter(|r| r[3] == "Running").count();
    assert_eq!(running, PODS);
    let injected = rows.iter().filter(|r| r[2] == "2/2").count();
    assert!(
        injected > PODS / 2,
        "{injected} pods with their sidecar ready"
    );

    let json = sb.kubectl_ok(&[
        "get",
        "pods",
        "-n",
        "checkout-prod-eu",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let list: serde_json::Value = serde_json::from_str(&json).expect("kubectl's JSON");
    let items = list["items"].as_array().expect("items");
    let in_table = rows.iter().filter(|r| r[0] == "checkout-prod-eu").count();
    assert_eq!(items.len(), in_table);
    for p in items {
        assert_eq!(p["kind"], "Pod");
        assert!(p["metadata"]["managedFields"].is_array());
        assert!(p["metadata"]["annotations"]["sidecar.istio.io/status"].is_string());
    }
    let meta = sb.kubectl_ok(&["get", "--raw", "/api/v1/pods?limit=1"]);
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("raw list");
    assert_eq!(meta["kind"], "PodList");
    assert_eq!(meta["metadata"]["remainingItemCount"], PODS - 1);
    assert!(
        meta["items"][0].get("kind").is_none(),
        "items carry no kind"
    );
}

/// The store keeps `metadata.managedFields` as JSON text beside the parsed object: what is
/// served (a get, a list, kubectl's `--show-managed-fields`) is still the whole object, the
/// managed fields in their place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_pods_carry_their_managed_fields_in_place() {
    let sandbox = harness::start_generated("nodes=3,pods=40")
        .await
        .expect("sandbox");
    let (ns, name, whole) = {
        let cluster = sandbox.shared().lock();
        let pod = cluster
            .store
            .list("pods", None)
            .find(|p| {
                p.head()["metadata"]["labels"]
                    .get("pod-template-hash")
                    .is_some()
            })
            .expect("an app pod");
        let whole = pod.full();
        (
            whole["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            whole["metadata"]["name"].as_str().unwrap_or("").to_string(),
            whole,
        )
    };
    assert!(
        whole["metadata"]["managedFields"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );
    let files = CliFiles::new(&sandbox);
    let kubectl = |args: &[&str]| {
        // kubectl waits for the sandbox, served by this test's runtime.
        let out = tokio::task::block_in_place(|| run(kubectl_at(&files.kubeconfig).args(args)));
        assert_eq!(out.code, Some(0), "kubectl {args:?}: {}", out.stderr);
        out.stdout
    };
    // Byte for byte what the object serializes to whole.
    let raw = kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/{ns}/pods/{name}"),
    ]);
    assert_eq!(raw, serde_json::to_string(&whole).expect("json"));
    let shown: serde_json::Value = serde_json::from_str(&kubectl(&[
        "get",
        "pods",
        "-n",
        &ns,
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .expect("kubectl's JSON");
    let listed = shown["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|p| p["metadata"]["name"] == name.as_str())
        })
        .expect("the pod in kubectl's list");
    assert_eq!(listed["metadata"], whole["metadata"]);
    assert_eq!(listed["spec"], whole["spec"]);
}

/// `churn=N` changes application pods through the store's write path: a watch sees them
/// MODIFIED, a container restarted (its restart count up), some readiness flipped, some
/// labelled, and never a pod of the control plane or of a DaemonSet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_changes_application_pods_as_watches_see_them() {
    let sandbox = harness::start_generated("nodes=5,pods=200,churn=200")
        .await
        .expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    let pods = Api::<Pod>::all(client);
    let listed = pods.list(&ListParams::default()).await.expect("list");
    let restarts = |p: &Pod| -> i32 {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |c| c.iter().map(|c| c.restart_count).sum())
    };
    let before: std::collections::BTreeMap<String, i32> =
        listed.items.iter().map(|p| (key(p), restarts(p))).collect();
    let ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True")
    };
    let rv = listed.metadata.resource_version.unwrap_or_default();
    let mut stream = pods
        .watch(&WatchParams::default().timeout(60), &rv)
        .await
        .expect("watch")
        .boxed();
    let (mut modified, mut restarted, mut unready, mut labelled) = (0, 0, 0, 0);
    tokio::time::timeout(Duration::from_secs(60), async {
        while modified < 100 || unready == 0 || labelled == 0 {
            match stream.try_next().await.expect("event") {
                Some(WatchEvent::Modified(p)) => {
                    let ns = p.metadata.namespace.clone().unwrap_or_default();
                    assert!(
                        !matches!(ns.as_str(), "kube-system" | "istio-system"),
                        "{} churned",
                        key(&p)
                    );
                    modified += 1;
                    if before.get(&key(&p)).is_some_and(|&r| restarts(&p) > r) {
                        restarted += 1;
                    }
                    if !ready(&p) {
                        unready += 1;
                    }
                    let churned = p
                        .metadata
                        .labels
                        .as_ref()
                        .is_some_and(|l| l.contains_key("sandbox.meshtop.dev/churn"));
                    if churned {
                        labelled += 1;
                    }
                }
                Some(WatchEvent::Bookmark(_)) => {}
                Some(other) => panic!("churn only modifies pods: {other:?}"),
                None => panic!("the watch ended"),
            }
        }
    })
    .await
    .expect("100 changes, readiness and labels among them, within a minute");
    assert!(restarted > 0, "{restarted} of {modified} restarted");
    assert!(
        restarted < modified,
        "not only restarts: {restarted} of {modified}"
    );
}
