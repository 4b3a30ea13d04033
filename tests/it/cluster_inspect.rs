//! The reads behind `y`, `d` and `l` with the real kube client against the sandbox: a GET of
//! any kind the views show, the Events about an object by field selector, a pod's log
//! followed, and the API server's own words when a read fails.

use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use meshtop::cluster::inspect;
use meshtop::ops::inspect::{ObjectKind, ObjectRef, describe_text, yaml_text};

use crate::common::harness;

const K1: &str = "assets/scenarios/k1-upgrade.yaml";

#[tokio::test]
async fn every_kind_the_views_show_is_read_live() {
    let (sandbox, conn) = harness::connected(K1).await;
    let objects = [
        ObjectRef::new(ObjectKind::Node, None, "k1-node03"),
        ObjectRef::new(ObjectKind::Namespace, None, "legacy-shop"),
        ObjectRef::new(ObjectKind::Pdb, Some("istio-system"), "istio-pilot"),
        ObjectRef::new(
            ObjectKind::Pod,
            Some("default"),
            "details-v1-6f769b44-hzj8v",
        ),
        ObjectRef::new(
            ObjectKind::Deployment,
            Some("istio-system"),
            "istio-ingressgateway",
        ),
    ];
    for object in &objects {
        let found = inspect::get(&conn, object)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", object.label()));
        assert_eq!(found["metadata"]["name"], object.name.as_str());
        assert_eq!(found["kind"], object.kind.resource().2);
    }
    // A write by kubectl's field manager leaves managedFields: the YAML folds them.
    let node = ObjectRef::new(ObjectKind::Node, None, "k1-node01");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(conn.client.clone());
    nodes
        .patch(
            "k1-node01",
            &kube::api::PatchParams::apply("kubectl-label"),
            &kube::api::Patch::Apply(serde_json::json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "k1-node01", "labels": {"team": "mesh"}}
            })),
        )
        .await
        .expect("apply a label");
    let text = yaml_text(&inspect::get(&conn, &node).await.expect("node"));
    assert!(text.contains("team: mesh"), "{text}");
    let folded = text
        .lines()
        .find(|l| l.trim_start().starts_with("managedFields:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(folded.ends_with("folded)"), "{folded}");

    let gone = ObjectRef::new(ObjectKind::Pdb, Some("istio-system"), "nope");
    let err = inspect::get(&conn, &gone).await.expect_err("404");
    assert!(
        err.starts_with("pdb istio-system/nope: 404 NotFound"),
        "{err}"
    );
    drop(sandbox);
    let err = inspect::get(&conn, &node).await.expect_err("server gone");
    assert!(err.starts_with("node k1-node01: "), "{err}");
}

#[tokio::test]
async fn a_pdbs_events_are_found_by_field_selector() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let pdb = ObjectRef::new(
        ObjectKind::Pdb,
        Some("istio-system"),
        "istio-ingressgateway",
    );
    let events = inspect::events(&conn, &pdb).await.expect("events");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["reason"], "NoPods");
    // Another PDB's events are not this one's.
    let pilot = ObjectRef::new(ObjectKind::Pdb, Some("istio-system"), "istio-pilot");
    assert!(
        inspect::events(&conn, &pilot)
            .await
            .expect("events")
            .is_empty()
    );
    let found = inspect::get(&conn, &pdb).await.expect("pdb");
    let text = describe_text(&found, Ok(&events), jiff::Timestamp::now());
    assert!(text.contains("No matching pods found"), "{text}");
}

#[tokio::test]
async fn an_istiod_log_is_followed_and_a_missing_container_is_the_servers_error() {
    let (sandbox, conn) = harness::connected(K1).await;
    let istiod = ObjectRef::new(
        ObjectKind::Pod,
        Some("istio-system"),
        "istiod-1-9-1-58ff56d6f8-25z28",
    );
    let (container, lines) = inspect::follow_logs(&conn, &istiod).await.expect("logs");
    assert_eq!(container, "discovery");
    let mut lines = std::pin::pin!(lines);
    let mut seen = Vec::new();
    // The tail, then at least one line written after the request, within a deadline.
    let tail = 40;
    while seen.len() <= tail {
        match tokio::time::timeout(Duration::from_secs(20), lines.next()).await {
            Ok(Some(Ok(line))) => seen.push(line),
            other => panic!("no further line ({other:?}) after {seen:?}"),
        }
    }
    assert!(seen.iter().all(|l| l.contains("\tinfo\t")), "{seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("ADS: new connection for node:")),
        "{seen:?}"
    );
    // A pod with a sidecar and no container named: the API server's 400 names them.
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), "default");
    let err = pods
        .logs("details-v1-6f769b44-hzj8v", &LogParams::default())
        .await
        .expect_err("two containers");
    let text = err.to_string();
    assert!(
        text.contains(
            "a container name must be specified for pod details-v1-6f769b44-hzj8v, choose one \
             of: [details istio-proxy]"
        ),
        "{text}"
    );
    drop(sandbox);
}
