//! Intake at any size, against the sandbox: the big kinds read leanly (pods also by the
//! reader of a list's pages) project exactly as the full objects do, a streamed first list gives the model a paged one gives, and the
//! first sync waits for a slow cluster while its lists make progress but names what is
//! missing when they stall.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use meshtop::cluster::watch::Lean;
use meshtop::cluster::{InitialList, WatchOptions};
use meshtop::model::Model;
use meshtop::model::intern::Interner;
use meshtop::model::project::{PodParts, Project};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::common::harness;
use crate::common::relay::{self, Pace};

/// The items of a list, as the API server sends them.
async fn items(client: &kube::Client, path: &str) -> Vec<Value> {
    let request = http::Request::get(path).body(Vec::new()).expect("request");
    let text = client.request_text(request).await.expect("list");
    let list: Value = serde_json::from_str(&text).expect("a list");
    list.get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Each item read in full (`K`) and leanly (`L`) projects to the same summary.
fn project_alike<K, L>(items: &[Value]) -> usize
where
    K: DeserializeOwned + Project,
    L: DeserializeOwned + Project,
{
    let (mut full_names, mut lean_names) = (Interner::default(), Interner::default());
    for item in items {
        let full: K = serde_json::from_value(item.clone()).expect("the full object");
        let lean: L = serde_json::from_value(item.clone()).expect("the lean object");
        let (full, lean) = (full.project(&mut full_names), lean.project(&mut lean_names));
        assert!(full.is_some(), "{item}");
        assert_eq!(lean, full, "{item}");
    }
    items.len()
}

/// Each pod read by the reader of a list's pages projects as the full pod does.
fn pods_read_by_lists_project_alike(items: &[Value]) {
    let (mut full_names, mut lean_names) = (Interner::default(), Interner::default());
    for item in items {
        let full: Pod = serde_json::from_value(item.clone()).expect("the full pod");
        let bytes = serde_json::to_vec(item).expect("JSON");
        let lean = Lean::<PodParts>::from_json(&bytes).expect("the pod read as a list's");
        assert_eq!(
            lean.project(&mut lean_names),
            full.project(&mut full_names),
            "{item}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_and_full_objects_project_alike() {
    for scenario in [
        "assets/scenarios/k1-upgrade.yaml",
        "assets/scenarios/canary-2026.yaml",
    ] {
        let (_sandbox, conn) = harness::connected(scenario).await;
        let pods = items(&conn.client, "/api/v1/pods").await;
        let nodes = items(&conn.client, "/api/v1/nodes").await;
        let replica_sets = items(&conn.client, "/apis/apps/v1/replicasets").await;
        assert!(
            project_alike::<Pod, Lean<PodParts>>(&pods) > 0,
            "{scenario}: no pods"
        );
        pods_read_by_lists_project_alike(&pods);
        assert!(
            project_alike::<Node, Lean<Node>>(&nodes) > 0,
            "{scenario}: no nodes"
        );
        assert!(
            project_alike::<ReplicaSet, Lean<ReplicaSet>>(&replica_sets) > 0,
            "{scenario}: no ReplicaSets"
        );
        let deployments = items(&conn.client, "/apis/apps/v1/deployments").await;
        assert!(
            project_alike::<Deployment, Lean<Deployment>>(&deployments) > 0,
            "{scenario}: no Deployments"
        );
    }
}

/// The pods, nodes and workloads of a model, as text to compare.
fn contents(model: &Model) -> String {
    let pods: Vec<String> = model.pods().iter().map(|p| format!("{p:?}")).collect();
    let nodes: Vec<String> = model.nodes().iter().map(|n| format!("{n:?}")).collect();
    let deployments: Vec<String> = model.deployments().map(|d| format!("{d:?}")).collect();
    format!(
        "{} pods\n{}\n{} nodes\n{}\n{}",
        pods.len(),
        pods.join("\n"),
        nodes.len(),
        nodes.join("\n"),
        deployments.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_first_list_gives_the_model_a_paged_one_gives() {
    // canary-2026's API server says v1.34, which streams first lists; its pods are ready
    // at once, so two syncs a moment apart see the same cluster.
    let (_sandbox, conn) = harness::connected("assets/scenarios/canary-2026.yaml").await;
    let sync = |initial_list, page_size| {
        let conn = conn.clone();
        async move {
            let opts = WatchOptions {
                initial_list,
                page_size,
                ..WatchOptions::default()
            };
            meshtop::app::synced_model(&conn, opts, Duration::from_secs(30))
                .await
                .expect("synced")
        }
    };
    let streamed = sync(InitialList::Streaming, 500).await;
    let detected = sync(InitialList::Auto, 500).await;
    let paged = sync(InitialList::Paged, 2).await;
    let text = contents(&paged);
    assert!(!paged.pods().is_empty(), "{text}");
    assert_eq!(contents(&streamed), text);
    assert_eq!(contents(&detected), text);
}

/// meshtop's connection to `sandbox` through a relay that paces the server's bytes.
async fn through(
    sandbox: &meshtop_sandbox::Sandbox,
    pace: Pace,
) -> (relay::Relay, meshtop::cluster::Connection) {
    let relay = relay::start(sandbox.addr(), pace).await;
    let yaml = relay.kubeconfig(&sandbox.kubeconfig_yaml(), sandbox.addr());
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    let conn = meshtop::cluster::connect_kubeconfig(
        kubeconfig,
        "the relay's kubeconfig",
        Some(harness::ADMIN_CONTEXT),
    )
    .await
    .expect("connect through the relay");
    (relay, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_cluster_that_keeps_sending_is_waited_for() {
    let sandbox = harness::start_file("assets/scenarios/k1-upgrade.yaml")
        .await
        .expect("sandbox");
    let pace = Pace::Slow {
        chunk: 1024,
        pause: Duration::from_millis(20),
    };
    let (relay, conn) = through(&sandbox, pace).await;
    let stall = Duration::from_secs(1);
    let opts = WatchOptions {
        // Paged, small pages: each page is progress.
        initial_list: InitialList::Paged,
        page_size: 3,
        ..WatchOptions::default()
    };
    let started = Instant::now();
    let model = meshtop::app::synced_model(&conn, opts, stall)
        .await
        .expect("a sync that keeps making progress does not time out");
    let took = started.elapsed();
    // The case at hand: the whole sync took longer than the allowed stall.
    assert!(
        took > stall * 2,
        "the relay passed {} bytes in {took:?}: not slow enough to test anything",
        relay.passed.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(!model.pods().is_empty());
    for (kind, state) in model.sources() {
        assert!(
            !matches!(state, meshtop::model::SourceState::Error(_)),
            "{kind:?}: {state:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_cluster_fails_naming_the_lists_not_finished() {
    let sandbox = harness::start_file("assets/scenarios/k1-upgrade.yaml")
        .await
        .expect("sandbox");
    // Enough for the TLS handshakes and the first pages, far from the whole pod list.
    let (relay, conn) = through(&sandbox, Pace::StallAfter { bytes: 60_000 }).await;
    let opts = WatchOptions {
        initial_list: InitialList::Paged,
        page_size: 3,
        ..WatchOptions::default()
    };
    let Err(err) = meshtop::app::synced_model(&conn, opts, Duration::from_secs(1)).await else {
        panic!("a stalled sync succeeded");
    };
    let message = err.to_string();
    assert!(
        message.contains("the initial sync made no progress for 1s; still waiting for:"),
        "{message}"
    );
    assert!(message.contains("pods ("), "{message}");
    assert!(
        relay.passed.load(std::sync::atomic::Ordering::SeqCst) >= 60_000,
        "the relay stalled before the server sent its budget: {message}"
    );
}
