//! Moving a namespace between sidecar and ambient mode against the sandbox: the preview from
//! the model, the CLI twin (`label namespace NS --ambient [--waypoint W] [--restart]`, and
//! `--rev REV` back to sidecars), its dry run, refusals, the restart that takes the sidecars
//! away or brings them back, and the audit lines.

use std::time::Duration;

use crate::common::harness;
use crate::common::process::{self, CliFiles, assert_refused, step};
use crate::common::wait::eventually;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use meshtop::cluster::{Connection, WatchOptions};
use meshtop::ops::Request;

const CANARY: &str = "assets/scenarios/canary-2026.yaml";
const K1: &str = "assets/scenarios/k1-upgrade.yaml";

/// A namespace's labels, `k=v` sorted, without kubernetes.io/metadata.name.
async fn labels(conn: &Connection, ns: &str) -> Vec<String> {
    let n = Api::<Namespace>::all(conn.client.clone())
        .get(ns)
        .await
        .expect("the namespace");
    let mut out: Vec<String> = n
        .metadata
        .labels
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "kubernetes.io/metadata.name")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    out.sort();
    out
}

/// How many of a namespace's running pods carry a sidecar, of how many.
async fn sidecars(conn: &Connection, ns: &str) -> (usize, usize) {
    let pods = Api::<Pod>::namespaced(conn.client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("pods");
    let live: Vec<&Pod> = pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let with = live
        .iter()
        .filter(|p| {
            p.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("sidecar.istio.io/status"))
        })
        .count();
    (with, live.len())
}

fn preview(request: &Request, model: &meshtop::model::Model) -> Vec<String> {
    meshtop::ops::plan(request, model)
        .lines
        .iter()
        .map(|l| l.text())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_into_ambient_with_its_waypoint_and_search_back_to_sidecars() {
    let (sandbox, conn) = harness::connected(CANARY).await;
    let model = meshtop::app::synced_model(&conn, WatchOptions::default(), Duration::from_secs(30))
        .await
        .expect("the initial sync");
    let enroll = Request::Ambient {
        namespace: "payments".into(),
        waypoint: Some("waypoint".into()),
        restart: true,
    };
    let lines = preview(&enroll, &model);
    for want in [
        "namespace/payments: label istio.io/dataplane-mode: (none) → ambient",
        "namespace/payments: label istio.io/rev: prod-stable → (removed: new pods get no sidecar)",
        "namespace/payments: label istio.io/use-waypoint: (none) → waypoint",
        "then rollout restart (kubectl.kubernetes.io/restartedAt), waiting for each:",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want}: {lines:#?}");
    }
    // The waypoint is bookinfo's, not payments': the preview warns.
    assert!(
        lines
            .iter()
            .any(|l| l
                .starts_with("no waypoint waypoint (Gateway of class istio-waypoint) in payments")),
        "{lines:#?}"
    );
    let back = Request::LabelNamespace {
        namespace: "search".into(),
        revision: "1-30-1".into(),
        restart: false,
        force: false,
    };
    assert!(
        preview(&back, &model).iter().any(|l| l
            .starts_with("namespace/search: label istio.io/dataplane-mode: ambient → (removed")),
        "{:#?}",
        preview(&back, &model)
    );

    let files = CliFiles::new(&sandbox);
    let run = |args: &[&str]| process::run(files.meshtop().args(args));
    let out = run(&[
        "label",
        "namespace",
        "payments",
        "--ambient",
        "--waypoint",
        "waypoint",
        "--dry-run",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "namespace/payments labeled istio.io/dataplane-mode=ambient, istio.io/use-waypoint=waypoint, \
         istio.io/rev=prod-stable removed (server dry run)\n"
    );
    assert_eq!(
        labels(&conn, "payments").await,
        ["istio.io/rev=prod-stable"]
    );
    let ns = ["label", "namespace"];
    assert_refused(
        |args: &[&str]| run(&[&ns[..], args].concat()),
        &[
            (&["payments", "--ambient", "--waypoint", "Way/Point"], 2),
            (&["payments", "--ambient", "--rev", "1-30-1"], 2),
            (&["payments", "--rev", "1-30-1", "--waypoint", "w"], 2),
            (&["payments"], 2),
            (&["no-such", "--ambient"], 2),
        ],
    );
    let out = run(&["--readonly", "label", "namespace", "payments", "--ambient"]);
    assert_eq!(out.code, Some(2), "{out}");

    let out = run(&[
        "label",
        "namespace",
        "payments",
        "--ambient",
        "--waypoint",
        "waypoint",
        "--restart",
        "--timeout",
        "60s",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout.ends_with(
            "namespace/payments labeled istio.io/dataplane-mode=ambient, istio.io/use-waypoint=waypoint, \
             istio.io/rev=prod-stable removed; 3 workloads restarted and rolled out\n"
        ),
        "{out}"
    );
    assert_eq!(
        labels(&conn, "payments").await,
        [
            "istio.io/dataplane-mode=ambient",
            "istio.io/use-waypoint=waypoint"
        ]
    );
    eventually(
        "payments' pods without sidecars",
        Duration::from_secs(30),
        || async {
            let (with, all) = sidecars(&conn, "payments").await;
            (with == 0 && all == 6)
                .then_some(())
                .ok_or(format!("{with} of {all}"))
        },
    )
    .await;

    // And back: search leaves ambient mode for 1-30-1's sidecars.
    let out = run(&[
        "label",
        "namespace",
        "search",
        "--rev",
        "1-30-1",
        "--restart",
        "--timeout",
        "60s",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout.ends_with(
            "namespace/search labeled istio.io/rev=1-30-1, istio.io/dataplane-mode=ambient removed; \
             2 workloads restarted and rolled out\n"
        ),
        "{out}"
    );
    assert_eq!(labels(&conn, "search").await, ["istio.io/rev=1-30-1"]);
    eventually(
        "search's pods with sidecars",
        Duration::from_secs(30),
        || async {
            let (with, all) = sidecars(&conn, "search").await;
            (with == all && all > 0)
                .then_some(())
                .ok_or(format!("{with} of {all}"))
        },
    )
    .await;

    let enroll = "label istio.io/dataplane-mode=ambient istio.io/use-waypoint=waypoint";
    assert_eq!(
        process::audit_steps(&files.audit),
        [
            step(enroll, "namespace/payments", true, "ok"),
            step(
                "label istio.io/dataplane-mode=ambient",
                "namespace/no-such",
                false,
                "namespace \"no-such\" not found"
            ),
            step(
                &format!("{enroll} and restart"),
                "namespace/payments",
                false,
                "ok"
            ),
            step(
                "label istio.io/rev=1-30-1 and restart",
                "namespace/search",
                false,
                "ok"
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_field_reports_cluster_ambient_has_no_data_plane() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let model = meshtop::app::synced_model(&conn, WatchOptions::default(), Duration::from_secs(30))
        .await
        .expect("the initial sync");
    let lines = preview(
        &Request::Ambient {
            namespace: "legacy-shop".into(),
            waypoint: None,
            restart: false,
        },
        &model,
    );
    assert!(
        lines.contains(
            &"no ztunnel runs in the cluster: ambient pods would have no data plane".to_string()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"namespace/legacy-shop: label istio-injection: enabled → (removed: new pods get no sidecar)".to_string()),
        "{lines:#?}"
    );
}
