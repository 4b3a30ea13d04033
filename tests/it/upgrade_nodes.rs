//! The rolling node upgrade on the field report's cluster: the five workers one at a time,
//! the Istio 1.4 budgets handled and put back, istiod and every gateway kept at one ready
//! replica or more all along (watched while it runs), the kubelet wait, an abort that puts
//! back what the plan changed, and a failure that stops and says where it stands; on the 2026
//! cluster (ambient), the ztunnel restart of each node's step.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use meshtop::cluster::Connection;
use meshtop::cluster::actions::upgrade::{self, UpgradeWait};
use meshtop::cluster::actions::{AuditLog, Executor, RunOptions};
use meshtop::ops::outcome::{Event, Outcome};
use meshtop::ops::upgrade::UpgradeEvent;
use meshtop::ops::{ActionError, Request};
use serde_json::json;
use tokio::sync::watch;

use crate::common::harness;
use crate::common::process::{CliFiles, audit_lines};

const WORKERS: [&str; 5] = [
    "k1-node01",
    "k1-node02",
    "k1-node03",
    "k1-node04",
    "k1-node05",
];

/// The mesh's control planes and gateways, by their pods' `app` label.
const MESH: [&str; 5] = [
    "istiod",
    "pilot",
    "istio-ingressgateway",
    "istio-egressgateway",
    "istio-ingressgateway-istio-gateway-sample",
];

fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Watches the mesh's pods and keeps, per `app`, the fewest ready pods seen after any event.
fn watch_mesh(
    conn: &Connection,
) -> (
    Arc<Mutex<BTreeMap<String, usize>>>,
    tokio::task::JoinHandle<()>,
) {
    let fewest: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let seen = fewest.clone();
    let api: Api<Pod> = Api::all(conn.client.clone());
    let task = tokio::spawn(async move {
        let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
        let mut initial: BTreeMap<String, Pod> = BTreeMap::new();
        let mut listed = false;
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            let Ok(event) = event else { continue };
            match event {
                watcher::Event::Init => initial.clear(),
                watcher::Event::InitApply(p) => {
                    initial.insert(key(&p), p);
                }
                watcher::Event::InitDone => {
                    pods = std::mem::take(&mut initial);
                    listed = true;
                }
                watcher::Event::Apply(p) => {
                    pods.insert(key(&p), p);
                }
                watcher::Event::Delete(p) => {
                    pods.remove(&key(&p));
                }
            }
            if !listed {
                continue;
            }
            let mut counts: BTreeMap<String, usize> =
                MESH.iter().map(|a| (a.to_string(), 0)).collect();
            for p in pods.values().filter(|p| ready(p)) {
                let app = p.metadata.labels.as_ref().and_then(|l| l.get("app"));
                if let Some(c) = app.and_then(|a| counts.get_mut(a)) {
                    *c += 1;
                }
            }
            if let Ok(mut f) = seen.lock() {
                for (app, n) in counts {
                    let e = f.entry(app).or_insert(n);
                    *e = (*e).min(n);
                }
            }
        }
    });
    (fewest, task)
}

fn key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default()
    )
}

fn opts() -> RunOptions {
    RunOptions {
        drain_timeout: Duration::from_secs(60),
        retry_interval: Duration::from_millis(300),
        ..RunOptions::default()
    }
}

async fn replicas(conn: &Connection, ns: &str, name: &str) -> Option<i32> {
    Api::<Deployment>::namespaced(conn.client.clone(), ns)
        .get(name)
        .await
        .expect("deployment")
        .spec
        .replicas
}

async fn budgets(conn: &Connection) -> Vec<PodDisruptionBudget> {
    let mut out = Vec::new();
    for ns in ["istio-system", "logging"] {
        let list = Api::<PodDisruptionBudget>::namespaced(conn.client.clone(), ns)
            .list(&Default::default())
            .await
            .expect("budgets");
        out.extend(list.items);
    }
    out
}

/// The budgets' specs, by `namespace/name`.
async fn budget_specs(conn: &Connection) -> BTreeMap<String, serde_json::Value> {
    budgets(conn)
        .await
        .into_iter()
        .map(|b| {
            (
                format!(
                    "{}/{}",
                    b.metadata.namespace.clone().unwrap_or_default(),
                    b.metadata.name.clone().unwrap_or_default()
                ),
                serde_json::to_value(&b.spec).expect("spec"),
            )
        })
        .collect()
}

/// Sets a node's kubelet version in its status, as the node's upgrade would.
async fn upgrade_kubelet(client: kube::Client, node: String, version: &str) {
    Api::<Node>::all(client)
        .patch_status(
            &node,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"nodeInfo": {"kubeletVersion": version}}})),
        )
        .await
        .expect("patch the node's status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_five_workers_upgrade_one_by_one_with_the_mesh_always_ready() {
    let (_sandbox, conn) = harness::connected("assets/scenarios/k1-upgrade.yaml").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&log)));
    let specs_before = budget_specs(&conn).await;
    let (fewest, monitor) = watch_mesh(&conn);
    // The kubelet of each node is upgraded when the plan waits for it, as Kubespray would.
    let (waiting_tx, mut waiting_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let client = conn.client.clone();
    let kubelets = tokio::spawn(async move {
        while let Some(node) = waiting_rx.recv().await {
            upgrade_kubelet(client.clone(), node, "v1.15.6").await;
        }
    });
    let events: Arc<Mutex<Vec<UpgradeEvent>>> = Arc::default();
    let seen = events.clone();
    let report = move |e: Event| {
        if let Event::Upgrade(e) = e {
            if let UpgradeEvent::WaitingKubelet { node, .. } = &e {
                let _ = waiting_tx.send(node.clone());
            }
            if let Ok(mut v) = seen.lock() {
                v.push(e);
            }
        }
    };
    let nodes: Vec<String> = WORKERS.iter().map(|s| s.to_string()).collect();
    let wait = UpgradeWait {
        kubelet: Some("v1.15.6".into()),
        pause: false,
        delete_emptydir_data: true,
    };
    let outcome = upgrade::run(&exec, &nodes, &wait, &opts(), &report)
        .await
        .expect("the upgrade completes");
    monitor.abort();
    kubelets.abort();
    let Outcome::NodesUpgraded {
        nodes: done,
        restored,
        scaled_back,
    } = outcome
    else {
        panic!("not an upgrade's outcome: {outcome:?}");
    };
    assert_eq!(done, nodes);
    assert!(scaled_back > 0 && restored > 0, "{restored} {scaled_back}");

    // istiod, the legacy pilot and every gateway kept a ready replica all along.
    let fewest = fewest.lock().expect("fewest").clone();
    assert_eq!(fewest.len(), MESH.len(), "{fewest:?}");
    for (app, n) in &fewest {
        assert!(
            *n >= 1,
            "{app} fell to {n} ready during the upgrade: {fewest:?}"
        );
    }
    // Every node uncordoned, on the new kubelet.
    for n in WORKERS {
        let node = harness::node(&conn, n).await;
        assert!(!harness::cordoned(&node), "{n} is still cordoned");
        assert_eq!(
            node.status
                .and_then(|s| s.node_info)
                .map(|i| i.kubelet_version)
                .as_deref(),
            Some("v1.15.6")
        );
    }
    // The Istio 1.4 budgets and the others are as they were, with no saved spec left.
    assert_eq!(budget_specs(&conn).await, specs_before);
    for b in budgets(&conn).await {
        let annotations = b.metadata.annotations.unwrap_or_default();
        assert!(
            !annotations.keys().any(|k| k.starts_with("meshtop.dev/")),
            "{:?} keeps {annotations:?}",
            b.metadata.name
        );
    }
    // The 1.4 components are back to one replica, istiod to two.
    assert_eq!(
        replicas(&conn, "istio-system", "istio-pilot").await,
        Some(1)
    );
    assert_eq!(
        replicas(&conn, "istio-system", "istiod-1-9-1").await,
        Some(2)
    );

    let events = events.lock().expect("events").clone();
    let pilot_scaled = events.iter().any(
        |e| matches!(e, UpgradeEvent::ScaledUp(s) if s.workload == "deployment.apps/istio-pilot"),
    );
    assert!(pilot_scaled, "{events:#?}");
    assert!(events.iter().any(|e| matches!(e,
        UpgradeEvent::Relaxed { name, .. } if name == "elasticsearch-k1-master-pdb")));
    assert!(events.iter().any(|e| matches!(e,
        UpgradeEvent::Restored { name, .. } if name == "elasticsearch-k1-master-pdb")));
    // One audit line per step: a cordon, a drain and an uncordon per node, in order.
    let lines = audit_lines(&log);
    for n in WORKERS {
        let target = format!("node/{n}");
        let steps: Vec<&str> = lines
            .iter()
            .filter(|r| r.target == target)
            .map(|r| r.action.as_str())
            .collect();
        assert_eq!(steps, ["cordon", "drain", "uncordon"], "{n}");
    }
    assert!(lines.iter().all(|r| r.result == "ok"), "{lines:#?}");
    assert!(lines.iter().any(|r| r.action == "pdb relax"));
    assert!(lines.iter().any(|r| r.action == "pdb restore"));
    assert!(
        lines.iter().any(|r| r.action == "scale --replicas=2"
            && r.target == "deployment/istio-system/istio-pilot")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_puts_back_what_the_plan_relaxed_and_scaled() {
    let (_sandbox, conn) = harness::connected("assets/scenarios/k1-upgrade.yaml").await;
    let exec = Executor::new(&conn, false, None);
    let specs_before = budget_specs(&conn).await;
    let (abort_tx, abort_rx) = watch::channel(false);
    let report = move |e: Event| {
        // The user aborts while the plan waits for node01's kubelet.
        if matches!(e, Event::Upgrade(UpgradeEvent::WaitingKubelet { .. })) {
            let _ = abort_tx.send(true);
        }
    };
    let nodes: Vec<String> = WORKERS.iter().map(|s| s.to_string()).collect();
    let wait = UpgradeWait {
        kubelet: Some("v1.15.6".into()),
        pause: false,
        delete_emptydir_data: true,
    };
    let run = RunOptions {
        abort: Some(abort_rx),
        ..opts()
    };
    let err = upgrade::run(&exec, &nodes, &wait, &run, &report)
        .await
        .expect_err("aborted");
    let ActionError::Aborted(text) = &err else {
        panic!("not an abort: {err:?}");
    };
    assert!(
        text.contains("stopped at node/k1-node01 (wait for the new kubelet)")
            && text.contains("still cordoned: k1-node01"),
        "{text}"
    );
    assert!(!text.contains("still relaxed"), "{text}");
    assert_eq!(budget_specs(&conn).await, specs_before);
    // node01's single replicas were scaled up for it and are back to one.
    assert_eq!(replicas(&conn, "default", "api-gateway").await, Some(1));
    assert_eq!(
        replicas(&conn, "kube-system", "metrics-server").await,
        Some(1)
    );
    // The node stays cordoned, as an aborted drain leaves it; the next is untouched.
    assert!(harness::cordoned(&harness::node(&conn, "k1-node01").await));
    assert!(!harness::cordoned(&harness::node(&conn, "k1-node02").await));
}

/// The command line's twin: a kubelet that never comes stops the plan at node01 with exit
/// code 1, saying where it stands; a dry run changes nothing; bad input exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_stops_at_the_first_failure_and_says_where_it_stands() {
    let (sandbox, conn) = harness::connected("assets/scenarios/k1-upgrade.yaml").await;
    let files = CliFiles::new(&sandbox);
    let run = |args: &[&str]| {
        let mut cmd = files.meshtop();
        cmd.arg("upgrade-nodes").args(args);
        let out = tokio::task::block_in_place(|| cmd.output()).expect("run meshtop");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // Not confirmed (no terminal, no --yes): the plan is shown, nothing is sent.
    let (code, out, err) = run(&["k1-node01", "k1-node03"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("1. node/k1-node01") && out.contains("2. node/k1-node03"),
        "{out}"
    );
    assert!(
        out.contains(
            "PDB istio-system/istio-pilot blocks: kept, it allows the eviction once scaled"
        ),
        "{out}"
    );
    assert!(err.contains("pass --yes"), "{err}");
    assert!(files.audit_lines().is_empty());
    let (code, _, err) = run(&["k1-node01", "k1-node01", "--yes"]);
    assert_eq!(code, Some(2), "{err}");

    // A dry run: each write sent with dryRun=All, nothing changes.
    let (code, out, err) = run(&[
        "k1-node01",
        "k1-node02",
        "--dry-run",
        "--delete-emptydir-data",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("node/k1-node01 cordoned (server dry run)"),
        "{out}"
    );
    assert!(out.contains("2 nodes upgraded (server dry run)"), "{out}");
    assert!(!harness::cordoned(&harness::node(&conn, "k1-node01").await));
    assert!(files.audit_lines().iter().all(|r| r.dry_run));

    let (code, out, err) = run(&[
        "k1-node01",
        "k1-node02",
        "--wait-kubelet",
        "v1.15.6",
        "--timeout",
        "2s",
        "--delete-emptydir-data",
        "--yes",
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("Waiting for node/k1-node01 to run kubelet v1.15.6 (now v1.14.3)..."),
        "{out}"
    );
    for said in [
        "node/k1-node01 still runs kubelet v1.14.3 after 2s, not v1.15.6",
        "stopped at node/k1-node01 (wait for the new kubelet)",
        "upgraded: none",
        "still cordoned: k1-node01",
        "still relaxed: logging/elasticsearch-k1-master-pdb",
        "still scaled up: deployment.apps/api-gateway -n default (1 → 2)",
    ] {
        assert!(err.contains(said), "{said:?} not in {err}");
    }
    assert!(harness::cordoned(&harness::node(&conn, "k1-node01").await));
    assert!(!harness::cordoned(&harness::node(&conn, "k1-node02").await));
    let nodes: BTreeSet<String> = files
        .audit_lines()
        .iter()
        .filter(|r| !r.dry_run && r.target.starts_with("node/"))
        .map(|r| format!("{} {}", r.action, r.target))
        .collect();
    assert_eq!(
        nodes,
        BTreeSet::from([
            "cordon node/k1-node01".to_string(),
            "drain node/k1-node01".to_string()
        ])
    );
    // --readonly refuses before anything is sent.
    let before = files.audit_lines().len();
    let out = tokio::task::block_in_place(|| {
        files
            .meshtop()
            .args(["--readonly", "upgrade-nodes", "k1-node02", "--yes"])
            .output()
    })
    .expect("run meshtop");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--readonly"));
    assert_eq!(files.audit_lines().len(), before);
    let empty = Request::UpgradeNodes {
        nodes: vec![],
        wait_kubelet: None,
        pause: false,
        delete_emptydir_data: false,
    };
    assert!(empty.validate().is_err());
}

/// The ztunnel pods on `node` (ambient mode's node proxy), as `(name, uid, ready)`.
async fn ztunnels_on(conn: &Connection, node: &str) -> Vec<(String, String, bool)> {
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), "istio-system");
    pods.list(&kube::api::ListParams::default().labels("app=ztunnel"))
        .await
        .expect("list ztunnels")
        .items
        .into_iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
        })
        .map(|p| {
            let r = ready(&p);
            (
                p.metadata.name.unwrap_or_default(),
                p.metadata.uid.unwrap_or_default(),
                r,
            )
        })
        .collect()
}

/// On the 2026 cluster, whose mesh runs ambient, each node's step restarts its ztunnel after
/// the drain (the old pod deleted, its DaemonSet's new one awaited Ready) and before the
/// uncordon: audited as its own step, the node schedulable again at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_ambient_mesh_each_node_gets_a_new_ztunnel_before_its_uncordon() {
    let (sandbox, conn) = harness::connected("assets/scenarios/canary-2026.yaml").await;
    let files = CliFiles::new(&sandbox);
    let node = "worker-6";
    let before = ztunnels_on(&conn, node).await;
    let [(old_name, old_uid, true)] = before.as_slice() else {
        panic!("one ready ztunnel on {node}: {before:?}");
    };
    let out = tokio::task::block_in_place(|| {
        files
            .meshtop()
            .args(["upgrade-nodes", node, "--delete-emptydir-data", "--yes"])
            .output()
    })
    .expect("run meshtop");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let after = ztunnels_on(&conn, node).await;
    let [(new_name, new_uid, true)] = after.as_slice() else {
        panic!("one new ready ztunnel on {node}: {after:?}\n{stdout}");
    };
    assert!(new_uid != old_uid && new_name != old_name, "{after:?}");
    assert!(!harness::cordoned(&harness::node(&conn, node).await));
    let steps: Vec<String> = files
        .audit_lines()
        .iter()
        .filter(|r| !r.dry_run)
        .map(|r| format!("{} {}", r.action, r.target))
        .filter(|s| s.ends_with(&format!("node/{node}")) || s.starts_with("restart ztunnel"))
        .collect();
    assert_eq!(
        steps,
        [
            format!("cordon node/{node}"),
            format!("drain node/{node}"),
            format!("restart ztunnel pod/istio-system/{old_name}"),
            format!("uncordon node/{node}"),
        ],
        "{stdout}"
    );
}
