//! The mesh guard: a drain that would evict the last ready replica of a workload (istiod, a
//! gateway, any Deployment) is refused before the cordon unless the user consents, and the
//! consent is audited; the TUI runs one drain at a time.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use meshtop::cluster::Connection;
use meshtop::cluster::actions::{AuditLog, AuditRecord, Executor};
use meshtop::ops::ActionError;
use meshtop::ops::drain::{DrainEvent, DrainOptions};

use crate::common::harness;
use crate::common::process::{self, CliFiles, audit_lines};
use crate::common::wait::eventually;

async fn start() -> (meshtop_sandbox::Sandbox, Connection) {
    harness::connected("assets/scenarios/k1-upgrade.yaml").await
}

async fn cordoned(conn: &Connection, node: &str) -> bool {
    harness::cordoned(&harness::node(conn, node).await)
}

/// The nodes of istiod-1-9-1's ready pods.
async fn istiod_nodes(conn: &Connection) -> Vec<String> {
    let pods = Api::<Pod>::namespaced(conn.client.clone(), "istio-system")
        .list(&ListParams::default().labels("app=istiod"))
        .await
        .expect("istiod pods");
    let mut nodes: Vec<String> = pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    nodes.sort();
    nodes
}

/// The field report's sequence with istiod: drain the node of one replica, it reschedules
/// next to the other, drain that node: the guard refuses before the cordon, naming istiod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_drain_of_istiod_is_refused_before_the_cordon() {
    let (_sandbox, conn) = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&log)));
    assert_eq!(istiod_nodes(&conn).await, ["k1-node04", "k1-node05"]);
    // Only k1-node05 may take the evicted replica.
    for n in ["k1-node01", "k1-node02", "k1-node03"] {
        exec.cordon(n, false).await.expect("cordon");
    }
    // istiod has a replica on k1-node05: draining k1-node04 does not take its last one
    // (the apps there do: that is consented, and audited).
    let relax = exec.pdb_relax("istio-system/istio-galley", false).await;
    relax.expect("relax galley");
    let consented = std::sync::Mutex::new(Vec::new());
    exec.drain(
        "k1-node04",
        &DrainOptions {
            timeout: Duration::from_secs(60),
            evict_last_replica: true,
            ..DrainOptions::default()
        },
        &|e| {
            if let DrainEvent::LastReplicas(l) = e {
                consented.lock().expect("lock").extend(l);
            }
        },
    )
    .await
    .expect("drain k1-node04");
    let consented = consented.into_inner().expect("lock");
    assert!(
        consented.iter().all(|l| !l.workload.contains("istiod")),
        "{consented:?}"
    );
    let nodes = eventually(
        "istiod ready twice on k1-node05",
        Duration::from_secs(30),
        || {
            let conn = conn.clone();
            async move {
                let nodes = istiod_nodes(&conn).await;
                (nodes == ["k1-node05", "k1-node05"]).then_some(nodes)
            }
        },
    )
    .await;
    assert_eq!(nodes.len(), 2);

    // Now both replicas run on k1-node05: its drain would leave istiod with none.
    let err = exec
        .drain("k1-node05", &DrainOptions::default(), &|_| {})
        .await
        .expect_err("the guard refuses");
    assert!(matches!(err, ActionError::Refused(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(
            "deployment.apps/istiod-1-9-1 -n istio-system (2 ready on this node, none elsewhere)"
        ),
        "{text}"
    );
    assert!(text.contains("--evict-last-replica"), "{text}");
    assert!(
        !cordoned(&conn, "k1-node05").await,
        "refused before the cordon"
    );
    assert_eq!(istiod_nodes(&conn).await, ["k1-node05", "k1-node05"]);

    let lines = audit_lines(&log);
    let drains: Vec<&AuditRecord> = lines.iter().filter(|l| l.action == "drain").collect();
    assert_eq!(drains.len(), 2, "{lines:?}");
    assert_eq!(drains[0].target, "node/k1-node04");
    assert_eq!(drains[0].consent, ["evict-last-replica"]);
    assert_eq!(drains[1].target, "node/k1-node05");
    assert!(drains[1].consent.is_empty());
    assert!(
        drains[1]
            .result
            .starts_with("refusing to drain node/k1-node05")
    );
}

/// The CLI twin: refused with exit 1 and the reason; consent lets it go and is audited.
#[test]
fn the_cli_asks_for_consent_to_evict_a_last_replica() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (sandbox, conn) = runtime.block_on(start());
    let files = CliFiles::new(&sandbox);
    let meshtop = |extra: &[&str]| {
        process::run(
            files
                .meshtop()
                .args(["drain", "k1-node03", "--timeout", "60s"])
                .args(extra),
        )
    };
    let out = meshtop(&[]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(
            "it would evict the last ready replica of deployment.apps/productpage-v1 -n default"
        ),
        "{out}"
    );
    assert!(!runtime.block_on(cordoned(&conn, "k1-node03")));

    // With consent the drain starts (istio-pilot's budget then holds it: dry run shows it).
    let out = meshtop(&["--evict-last-replica", "--dry-run"]);
    assert!(
        out.stderr
            .contains("Warning: evicting the last ready replica of deployment.apps/productpage-v1"),
        "{out}"
    );
    let lines = files.audit_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].consent.is_empty());
    assert_eq!(lines[1].consent, ["evict-last-replica"]);
    assert!(lines[1].dry_run);
}

/// `-n` narrows the lists, not the drain answers: `get nodes` under `-n default` says what
/// it says without it (a drain acts on the whole node).
#[test]
fn drain_answers_do_not_change_under_a_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let get = |extra: &[&str]| {
        let out = process::run(
            process::meshtop()
                .arg("--log-file")
                .arg(dir.path().join("m.log"))
                .args(extra)
                .args(["get", "nodes", "-o", "json", "--demo"]),
        );
        assert_eq!(out.code, Some(0), "{out}");
        serde_json::from_str::<serde_json::Value>(&out.stdout).expect("json")
    };
    let all = get(&[]);
    let scoped = get(&["-n", "default"]);
    assert_eq!(scoped, all);
    let blocked: Vec<&str> = all
        .as_array()
        .expect("rows")
        .iter()
        .filter(|n| n["preflight"]["state"] == "blocked")
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(
        blocked,
        [
            "k1-node01",
            "k1-node02",
            "k1-node03",
            "k1-node04",
            "k1-node05"
        ]
    );
}
