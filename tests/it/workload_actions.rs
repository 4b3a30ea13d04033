//! Scaling and restarting one workload against the sandbox with the real kube client: the
//! preview read from the model (which PodDisruptionBudget stops blocking which drain), the
//! server dry run that changes nothing, `--readonly`, the audit lines, the sandbox's scale
//! subresource (kubectl's `scale` too), and the CLI twins' output and exit codes on both
//! built-in scenarios.

use std::time::Duration;

use crate::common::harness;
use crate::common::process::{self, CliFiles, assert_refused, step};
use crate::common::wait::{eventually, eventually_blocking};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use meshtop::cluster::Connection;
use meshtop::cluster::WatchOptions;
use meshtop::cluster::actions::{AuditLog, Executor, RunOptions};
use meshtop::model::Model;
use meshtop::model::summary::WorkloadKind;
use meshtop::ops::workload::{WorkloadRef, of_pdb};
use meshtop::ops::{ActionError, Request};

const CANARY: &str = "assets/scenarios/canary-2026.yaml";
const K1: &str = "assets/scenarios/k1-upgrade.yaml";

async fn model(conn: &Connection) -> Model {
    meshtop::app::synced_model(conn, WatchOptions::default(), Duration::from_secs(30))
        .await
        .expect("the initial sync")
}

/// The model once fraud-check's budget counts `healthy` pods.
async fn model_with_healthy(conn: &Connection, healthy: i32) -> Model {
    eventually(
        "the budget's healthy pods in the model",
        Duration::from_secs(30),
        || async {
            let m = model(conn).await;
            let seen = m
                .disruption()
                .iter()
                .any(|r| r.name.as_ref() == "fraud-check" && r.current_healthy == healthy);
            seen.then_some(m).ok_or("not yet")
        },
    )
    .await
}

fn preview(request: &Request, model: &Model) -> Vec<String> {
    meshtop::ops::plan(request, model)
        .lines
        .iter()
        .map(|l| l.text())
        .collect()
}

async fn replicas(conn: &Connection, ns: &str, name: &str) -> (i32, i32) {
    let d = deployment(conn, ns, name).await;
    let int = |path: &str| {
        d.pointer(path)
            .and_then(serde_json::Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or_default()
    };
    (int("/spec/replicas"), int("/status/readyReplicas"))
}

async fn deployment(conn: &Connection, ns: &str, name: &str) -> serde_json::Value {
    let d = Api::<Deployment>::namespaced(conn.client.clone(), ns)
        .get(name)
        .await
        .expect("the deployment");
    serde_json::to_value(d).expect("json")
}

async fn allowed(conn: &Connection, ns: &str, name: &str) -> i32 {
    let pdb = Api::<PodDisruptionBudget>::namespaced(conn.client.clone(), ns)
        .get(name)
        .await
        .expect("the budget");
    serde_json::to_value(pdb)
        .expect("json")
        .pointer("/status/disruptionsAllowed")
        .and_then(serde_json::Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or_default()
}

fn scale(workload: &WorkloadRef, n: u32) -> Request {
    Request::Scale {
        workload: workload.clone(),
        replicas: Some(n),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_fraud_check_to_two_unblocks_the_drain_of_its_node() {
    let (_sandbox, conn) = harness::connected(CANARY).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    // Its pod ready and the budget's status written: then the model is read.
    eventually("fraud-check ready", Duration::from_secs(30), || async {
        let r = replicas(&conn, "payments", "fraud-check").await;
        (r == (1, 1)).then_some(()).ok_or(format!("{r:?}"))
    })
    .await;
    let model = model_with_healthy(&conn, 1).await;

    // The workload of the budget's row, and the node whose drain the budget blocks now.
    let fraud = of_pdb(&model, "payments", "fraud-check").expect("one workload");
    assert_eq!(
        fraud,
        WorkloadRef::new(WorkloadKind::Deployment, "payments", "fraud-check")
    );
    let row = model
        .disruption()
        .into_iter()
        .find(|r| r.name.as_ref() == "fraud-check")
        .expect("the budget's row");
    assert_eq!(row.allowed_disruptions, 0);
    let node = row
        .blocks_nodes
        .first()
        .expect("a blocked node")
        .to_string();

    let lines = preview(&scale(&fraud, 2), &model);
    assert_eq!(
        lines[0],
        "deployment.apps/fraud-check -n payments: replicas 1 → 2 (through its scale subresource)"
    );
    assert!(
        lines.contains(&format!("  it stops blocking the drains of {node}")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "poddisruptionbudget/fraud-check: allows 0 disruptions now → 1 once its pods are ready (2 healthy, 1 needed)"
        )),
        "{lines:#?}"
    );
    // A budget meshtop cannot see the workload of says so.
    assert!(of_pdb(&model, "payments", "nope").is_err());

    // The server dry run changes nothing.
    let report = |_| {};
    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let out = meshtop::cluster::actions::run(&exec, &scale(&fraud, 2), &dry, &report)
        .await
        .expect("the dry run");
    assert_eq!(
        out.text(true),
        "deployment.apps/fraud-check scaled (server dry run)"
    );
    assert_eq!(replicas(&conn, "payments", "fraud-check").await.0, 1);

    // --readonly refuses before anything is sent, and writes no audit line.
    let readonly = Executor::new(&conn, true, Some(AuditLog::new(&audit)));
    let err = readonly
        .scale(&fraud, 2, false)
        .await
        .expect_err("readonly");
    assert!(matches!(err, ActionError::Readonly { .. }), "{err}");
    // A DaemonSet is refused before anything is sent.
    let ztunnel = WorkloadRef::new(WorkloadKind::DaemonSet, "istio-system", "ztunnel");
    assert!(matches!(
        exec.scale(&ztunnel, 2, false).await,
        Err(ActionError::Invalid(_))
    ));
    let missing = WorkloadRef::new(WorkloadKind::Deployment, "payments", "nope");
    assert!(matches!(
        exec.scale(&missing, 2, false).await,
        Err(ActionError::NotFound(_))
    ));

    exec.scale(&fraud, 2, false).await.expect("scaled");
    eventually(
        "2 ready replicas and a budget allowing 1",
        Duration::from_secs(30),
        || async {
            let r = replicas(&conn, "payments", "fraud-check").await;
            let a = allowed(&conn, "payments", "fraud-check").await;
            (r == (2, 2) && a == 1)
                .then_some(())
                .ok_or(format!("{r:?}, allows {a}"))
        },
    )
    .await;
    // The model sees it: the preview of going back to 1 says the block comes back.
    let model = model_with_healthy(&conn, 2).await;
    let back = preview(&scale(&fraud, 1), &model);
    assert!(
        back.iter()
            .any(|l| l.starts_with("  it starts blocking the drains of ")),
        "{back:#?}"
    );
    assert!(
        back.contains(&"1 pod deleted by its controller".to_string()),
        "{back:#?}"
    );

    // A restart: dry run first (the template stays), then for real, followed to its end.
    let restart = Request::Restart {
        workload: fraud.clone(),
        wait: true,
    };
    meshtop::cluster::actions::run(&exec, &restart, &dry, &report)
        .await
        .expect("the restart's dry run");
    let annotated = || async {
        deployment(&conn, "payments", "fraud-check")
            .await
            .pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt")
            .cloned()
    };
    assert_eq!(annotated().await, None);
    let events = std::sync::Mutex::new(Vec::new());
    let record = |e| events.lock().expect("lock").push(e);
    let opts = RunOptions {
        rollout_timeout: Duration::from_secs(60),
        ..RunOptions::default()
    };
    let out = meshtop::cluster::actions::run(&exec, &restart, &opts, &record)
        .await
        .expect("restarted");
    assert_eq!(
        out.text(false),
        "deployment.apps/fraud-check restarted and rolled out"
    );
    assert!(annotated().await.is_some());
    let said: Vec<String> = events
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|e| meshtop::ops::outcome::lines(e, false))
        .map(|l| l.text)
        .collect();
    assert_eq!(
        said.first().map(String::as_str),
        Some("deployment.apps/fraud-check restarted")
    );
    assert_eq!(
        said.last().map(String::as_str),
        Some("deployment.apps/fraud-check successfully rolled out")
    );

    let target = "deployment/payments/fraud-check";
    let nope = "deployment.apps \"nope\" not found";
    assert_eq!(
        process::audit_steps(&audit),
        [
            step("scale --replicas=2", target, true, "ok"),
            step(
                "scale --replicas=2",
                "deployment/payments/nope",
                false,
                nope
            ),
            step("scale --replicas=2", target, false, "ok"),
            step("rollout restart", target, true, "ok"),
            step("rollout restart", target, false, "ok"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_and_rollout_restart_on_the_command_line_as_kubectl_says_them() {
    let sandbox = harness::start_file(K1).await.expect("start the sandbox");
    let files = CliFiles::new(&sandbox);
    let run = |args: &[&str]| process::run(files.meshtop().args(args));

    let out = run(&[
        "-n",
        "istio-system",
        "scale",
        "deploy/istio-pilot",
        "--replicas",
        "3",
        "--dry-run",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "deployment.apps/istio-pilot scaled (server dry run)\n"
    );
    let out = run(&[
        "--readonly",
        "-n",
        "istio-system",
        "scale",
        "deploy/istio-pilot",
        "--replicas",
        "3",
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--readonly"), "{out}");
    assert_refused(
        run,
        &[
            (&["scale", "istio-pilot", "--replicas", "2"], 2),
            (&["scale", "deploy/istio-pilot", "--replicas", "-1"], 2),
            (&["scale", "deploy/istio-pilot", "--replicas", "many"], 2),
            (&["scale", "ds/istio-cni-node", "--replicas", "2"], 2),
            (&["scale", "deploy/Istio_Pilot", "--replicas", "2"], 2),
        ],
    );
    let out = run(&[
        "-n",
        "istio-system",
        "scale",
        "deploy/no-such",
        "--replicas",
        "2",
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr.contains("deployment.apps \"no-such\" not found"),
        "{out}"
    );

    let out = run(&[
        "-n",
        "istio-system",
        "scale",
        "deploy/istio-pilot",
        "--replicas",
        "2",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "deployment.apps/istio-pilot scaled\n");
    // kubectl reads the same through the sandbox's scale subresource, and scales with it.
    let kubectl = || process::kubectl_at(&files.kubeconfig);
    eventually_blocking(
        "two istio-pilot pods ready",
        Duration::from_secs(30),
        || {
            let out = process::run(kubectl().args([
                "-n",
                "istio-system",
                "get",
                "deploy/istio-pilot",
                "-o",
                "jsonpath={.spec.replicas}/{.status.readyReplicas}",
            ]));
            (out.stdout == "2/2").then_some(()).ok_or(out.to_string())
        },
    );
    let out = process::run(kubectl().args([
        "-n",
        "istio-system",
        "scale",
        "deploy/istio-pilot",
        "--replicas",
        "1",
    ]));
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "deployment.apps/istio-pilot scaled\n");

    let out = run(&[
        "-n",
        "istio-system",
        "rollout",
        "restart",
        "deployment/istio-pilot",
        "--dry-run",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "deployment.apps/istio-pilot restarted (server dry run)\n"
    );
    let out = run(&[
        "-n",
        "istio-system",
        "rollout",
        "restart",
        "deployment/istio-pilot",
        "--wait",
        "--timeout",
        "60s",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .starts_with("deployment.apps/istio-pilot restarted\n"),
        "{out}"
    );
    assert!(
        out.stdout.ends_with(
            "deployment.apps/istio-pilot successfully rolled out\ndeployment.apps/istio-pilot restarted and rolled out\n"
        ),
        "{out}"
    );
    let out = run(&[
        "-n",
        "istio-system",
        "rollout",
        "restart",
        "deployment/gone",
    ]);
    assert_eq!(out.code, Some(2), "{out}");

    let pilot = "deployment/istio-system/istio-pilot";
    let missing = |name: &str| format!("deployment.apps \"{name}\" not found");
    assert_eq!(
        process::audit_steps(&files.audit),
        [
            step("scale --replicas=3", pilot, true, "ok"),
            step(
                "scale --replicas=2",
                "deployment/istio-system/no-such",
                false,
                &missing("no-such")
            ),
            step("scale --replicas=2", pilot, false, "ok"),
            step("rollout restart", pilot, true, "ok"),
            step("rollout restart", pilot, false, "ok"),
            step(
                "rollout restart",
                "deployment/istio-system/gone",
                false,
                &missing("gone")
            ),
        ]
    );
}
