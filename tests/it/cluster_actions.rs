//! The action executors and their CLI twins against the sandbox on the seed's cluster:
//! drains blocked by its PDBs and finishing after PDB relief, dry runs, `--readonly`,
//! label syntax, namespace relabelling with restarts, the audit log, and the same drain
//! as `kubectl drain`.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use crate::common::harness;
use crate::common::process::{self, CliFiles, Run, audit_lines};
use crate::common::wait::eventually;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use meshtop::cluster::Connection;
use meshtop::cluster::actions::{AuditLog, Executor};
use meshtop::ops::ActionError;
use meshtop::ops::drain::{BudgetFacts, DrainEvent, DrainOptions};
use meshtop::ops::pdb::RELAXED_FROM;

const K1: &str = "assets/scenarios/k1-upgrade.yaml";

/// `(namespace/name, uid)` of every pod on a node.
async fn pods_on(conn: &Connection, node: &str) -> BTreeSet<(String, String)> {
    Api::<Pod>::all(conn.client.clone())
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .expect("pods")
        .items
        .into_iter()
        .map(|p| {
            (
                format!(
                    "{}/{}",
                    p.metadata.namespace.unwrap_or_default(),
                    p.metadata.name.unwrap_or_default()
                ),
                p.metadata.uid.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_blocked_by_istio_pilot_then_relaxed_then_restored() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    let events = Mutex::new(Vec::new());
    let record = |e: DrainEvent| events.lock().expect("lock").push(e);

    // The bookinfo apps on k1-node03 run one replica each: the mesh guard's consent.
    let opts = DrainOptions {
        timeout: Duration::from_secs(6),
        evict_last_replica: true,
        ..DrainOptions::default()
    };
    let err = exec
        .drain("k1-node03", &opts, &record)
        .await
        .expect_err("istio-pilot's PDB blocks the drain");
    assert!(matches!(err, ActionError::TimedOut(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("istio-pilot"), "{text}");
    assert!(text.contains("node/k1-node03 remains cordoned"), "{text}");
    assert!(harness::cordoned(&harness::node(&conn, "k1-node03").await));
    let refused: Vec<Option<String>> = events
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| match e {
            DrainEvent::Refused { pdb, retry_in, .. } => {
                assert_eq!(*retry_in, Some(Duration::from_secs(5)));
                Some(pdb.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        refused.len() >= 2,
        "refused, retried after 5s, refused again: {refused:?}"
    );
    assert!(refused.iter().all(|p| p.as_deref() == Some("istio-pilot")));
    // The budget is described once, after its first refusal: its numbers, what it
    // selects and where those pods run.
    let budgets: Vec<BudgetFacts> = events
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| match e {
            DrainEvent::Budget(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(budgets.len(), 1, "{budgets:?}");
    let b = &budgets[0];
    assert_eq!(
        (b.namespace.as_str(), b.name.as_str(), b.disruptions_allowed),
        ("istio-system", "istio-pilot", 0)
    );
    assert_eq!(b.min_available.as_deref(), Some("1"));
    assert_eq!((b.current_healthy, b.desired_healthy), (1, 1));
    assert_eq!(b.pods.len(), 1, "{b:?}");
    assert!(b.pods[0].0.starts_with("istio-pilot-"), "{b:?}");
    assert_eq!(b.pods[0].1, "k1-node03");
    let said = b.describe();
    assert!(
        said.starts_with(
            "poddisruptionbudget/istio-pilot -n istio-system: allowed disruptions 0 \
             (min available 1; 1 healthy, 1 needed); selects "
        ) && said.ends_with(&format!(": 1 pod(s): {} on k1-node03", b.pods[0].0)),
        "{said}"
    );

    exec.pdb_relax("istio-system/istio-pilot", false)
        .await
        .expect("relax");
    let again = exec
        .pdb_relax("istio-system/istio-pilot", false)
        .await
        .expect_err("already relaxed");
    assert!(matches!(again, ActionError::Conflict(_)), "{again:?}");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(conn.client.clone(), "istio-system");
    let relaxed = pdbs.get("istio-pilot").await.expect("pdb");
    let saved = relaxed
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RELAXED_FROM))
        .expect("the original spec is saved");
    let saved: serde_json::Value = serde_json::from_str(saved).expect("saved spec is JSON");
    assert_eq!(saved["minAvailable"], 1);

    let pilot_before: BTreeSet<String> = pods_on(&conn, "k1-node03")
        .await
        .into_iter()
        .filter(|(n, _)| n.starts_with("istio-system/istio-pilot-"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(pilot_before.len(), 1, "{pilot_before:?}");
    let opts = DrainOptions {
        timeout: Duration::from_secs(60),
        evict_last_replica: true,
        ..DrainOptions::default()
    };
    let last = Mutex::new(None);
    let out = exec
        .drain("k1-node03", &opts, &|e| {
            if let DrainEvent::Progress(p) = e {
                *last.lock().expect("lock") = Some(p);
            }
        })
        .await
        .expect("the drain finishes once the PDB is relaxed");
    let last = last.into_inner().expect("lock").expect("progress reported");
    assert_eq!(
        (last.evicted, last.total, last.remaining()),
        (out.evicted.len(), out.evicted.len(), 0)
    );
    assert!(last.blocked.is_empty(), "{last:?}");
    assert!(!out.cordoned, "the node was still cordoned");
    let evicted: BTreeSet<String> = out.evicted.iter().map(ToString::to_string).collect();
    assert!(evicted.is_superset(&pilot_before), "{evicted:?}");
    let left = pods_on(&conn, "k1-node03").await;
    assert!(
        left.iter()
            .all(|(n, _)| n.starts_with("kube-system/calico-node-")
                || n.starts_with("kube-system/kube-proxy-")),
        "only DaemonSet pods stay: {left:?}"
    );
    // The replacement istio-pilot pod runs on another node.
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), "istio-system");
    eventually(
        "a replacement istio-pilot pod",
        Duration::from_secs(20),
        || {
            let pods = pods.clone();
            async move {
                let list = pods
                    .list(&ListParams::default().labels("app=pilot"))
                    .await
                    .ok()?;
                list.items
                    .iter()
                    .find(|p| {
                        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                            && p.spec.as_ref().and_then(|s| s.node_name.as_deref())
                                != Some("k1-node03")
                    })
                    .map(|_| ())
            }
        },
    )
    .await;

    exec.pdb_restore("istio-system/istio-pilot", false, false)
        .await
        .expect("restore");
    let restored = pdbs.get("istio-pilot").await.expect("pdb");
    let spec = serde_json::to_value(restored.spec).expect("spec");
    assert_eq!(spec["minAvailable"], 1);
    assert!(spec.get("maxUnavailable").is_none_or(|v| v.is_null()));
    assert!(
        !restored
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key(RELAXED_FROM)
    );
    let again = exec
        .pdb_restore("istio-system/istio-pilot", false, false)
        .await
        .expect_err("not relaxed any more");
    assert!(matches!(again, ActionError::Conflict(_)), "{again:?}");
    exec.uncordon("k1-node03", false).await.expect("uncordon");
    assert!(!harness::cordoned(&harness::node(&conn, "k1-node03").await));

    let lines = audit_lines(&audit);
    let summary: Vec<(&str, &str, bool)> = lines
        .iter()
        .map(|l| (l.action.as_str(), l.target.as_str(), l.result == "ok"))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("drain", "node/k1-node03", false),
            (
                "pdb relax",
                "poddisruptionbudget/istio-system/istio-pilot",
                true
            ),
            (
                "pdb relax",
                "poddisruptionbudget/istio-system/istio-pilot",
                false
            ),
            ("drain", "node/k1-node03", true),
            (
                "pdb restore",
                "poddisruptionbudget/istio-system/istio-pilot",
                true
            ),
            (
                "pdb restore",
                "poddisruptionbudget/istio-system/istio-pilot",
                false
            ),
            ("uncordon", "node/k1-node03", true),
        ]
    );
    assert!(lines.iter().all(|l| l.context == harness::ADMIN_CONTEXT
        && l.user != "unknown"
        && !l.dry_run
        && !l.time.is_empty()));
    assert!(
        lines[0].result.contains("istio-pilot"),
        "{}",
        lines[0].result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing_and_readonly_and_bad_labels_send_nothing() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    let before = pods_on(&conn, "k1-node04").await;
    let node_before = harness::node(&conn, "k1-node04").await;

    let opts = DrainOptions {
        dry_run: true,
        timeout: Duration::from_secs(20),
        evict_last_replica: true,
        ..DrainOptions::default()
    };
    let err = exec
        .drain("k1-node04", &opts, &|_| {})
        .await
        .expect_err("istio-galley's PDB would refuse");
    assert!(err.to_string().contains("istio-galley"), "{err}");
    exec.cordon("k1-node04", true)
        .await
        .expect("dry-run cordon");
    exec.label_node("k1-node04", "example.com/upgrade-wave=2", true)
        .await
        .expect("dry-run label");
    exec.pdb_relax("istio-system/istio-galley", true)
        .await
        .expect("dry-run relax");
    let after = harness::node(&conn, "k1-node04").await;
    assert!(!harness::cordoned(&after));
    assert_eq!(after.metadata.labels, node_before.metadata.labels);
    assert_eq!(pods_on(&conn, "k1-node04").await, before);
    let galley = Api::<PodDisruptionBudget>::namespaced(conn.client.clone(), "istio-system")
        .get("istio-galley")
        .await
        .expect("pdb");
    assert!(galley.metadata.annotations.unwrap_or_default().is_empty());
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l.dry_run));

    // --readonly: every action refused before a request, nothing audited.
    let readonly = Executor::new(&conn, true, Some(AuditLog::new(&audit)));
    let refusals = [
        readonly.cordon("k1-node04", false).await.err(),
        readonly.uncordon("k1-node04", false).await.err(),
        readonly
            .drain("k1-node04", &DrainOptions::default(), &|_| {})
            .await
            .err(),
        readonly
            .label_node("k1-node04", "a=b", false)
            .await
            .err()
            .map(|e| e.to_string())
            .map(ActionError::Invalid),
        readonly
            .label_namespace("legacy-shop", "1-9-1", true, false, false)
            .await
            .err(),
        readonly
            .pdb_relax("istio-system/istio-galley", false)
            .await
            .err(),
        readonly
            .pdb_restore("istio-system/istio-galley", false, false)
            .await
            .err(),
    ];
    for r in &refusals {
        let e = r.as_ref().expect("refused");
        assert!(e.is_bad_input(), "{e:?}");
        assert!(e.to_string().contains("--readonly"), "{e}");
    }
    assert_eq!(
        audit_lines(&audit).len(),
        4,
        "refusals send and log nothing"
    );

    // Bad label syntax is rejected before any request.
    for bad in ["taco istio=enabled", "k=-v", "k", "UPPER_prefix/k=v"] {
        let e = exec
            .label_node("k1-node04", bad, false)
            .await
            .expect_err(bad);
        assert!(matches!(e, ActionError::Invalid(_)), "{bad}: {e:?}");
    }
    let e = exec
        .label_namespace("legacy-shop", "1.9.1", false, false, false)
        .await
        .expect_err("a revision with dots");
    assert!(matches!(e, ActionError::Invalid(_)), "{e:?}");
    assert_eq!(
        harness::node(&conn, "k1-node04").await.metadata.labels,
        node_before.metadata.labels
    );
    assert_eq!(audit_lines(&audit).len(), 4);

    // An unknown node is bad input.
    let e = exec
        .cordon("k1-node99", false)
        .await
        .expect_err("no such node");
    assert!(e.is_bad_input(), "{e:?}");

    // A real label change, then its removal.
    let out = exec
        .label_node("k1-node04", "example.com/upgrade-wave=2", false)
        .await
        .expect("label");
    assert_eq!(out.verb(), "labeled");
    let labels = harness::node(&conn, "k1-node04")
        .await
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels.get("example.com/upgrade-wave").map(String::as_str),
        Some("2")
    );
    exec.label_node("k1-node04", "example.com/upgrade-wave-", false)
        .await
        .expect("unlabel");
    assert_eq!(
        harness::node(&conn, "k1-node04").await.metadata.labels,
        node_before.metadata.labels
    );
    // Removing it again changes nothing and is no error, as with kubectl ("not labeled"),
    // which is what the dialog's preview promised.
    let out = exec
        .label_node("k1-node04", "example.com/upgrade-wave-", false)
        .await
        .expect("removing an absent label");
    assert_eq!(out.verb(), "not labeled");
    assert_eq!(
        harness::node(&conn, "k1-node04").await.metadata.labels,
        node_before.metadata.labels
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_namespace_with_restart_moves_legacy_shop_to_the_revision() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let exec = Executor::new(&conn, false, None);
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), "legacy-shop");
    let old: BTreeSet<String> = pods
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.uid)
        .collect();
    assert_eq!(old.len(), 2);
    let out = exec
        .label_namespace("legacy-shop", "1-9-1", true, false, false)
        .await
        .expect("label");
    assert_eq!(out.removed_injection.as_deref(), Some("enabled"));
    assert_eq!(
        out.restarted,
        vec!["deployment.apps/inventory", "deployment.apps/storefront"]
    );
    let ns = Api::<Namespace>::all(conn.client.clone())
        .get("legacy-shop")
        .await
        .expect("ns");
    let labels = ns.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.get("istio.io/rev").map(String::as_str),
        Some("1-9-1")
    );
    assert!(!labels.contains_key("istio-injection"), "{labels:?}");
    eventually(
        "legacy-shop's pods replaced and injected by 1-9-1",
        Duration::from_secs(30),
        || {
            let pods = pods.clone();
            let old = old.clone();
            async move {
                let list = pods.list(&ListParams::default()).await.ok()?;
                let running: Vec<&Pod> = list
                    .items
                    .iter()
                    .filter(|p| {
                        p.metadata.deletion_timestamp.is_none()
                            && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    })
                    .collect();
                let injected = |p: &Pod| {
                    let rev = Some(&"1-9-1".to_string());
                    (p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("istio.io/rev"))
                        == rev
                        || p.metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get("istio.io/rev"))
                            == rev)
                        && p.spec
                            .as_ref()
                            .is_some_and(|s| s.containers.iter().any(|c| c.name == "istio-proxy"))
                };
                (running.len() == 2
                    && list
                        .items
                        .iter()
                        .all(|p| p.metadata.uid.as_ref().is_none_or(|u| !old.contains(u)))
                    && running.iter().all(|p| injected(p)))
                .then_some(())
            }
        },
    )
    .await;
}

#[test]
fn cli_exit_codes_with_demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let log = dir.path().join("meshtop.log");
    let run = |extra: &[&str]| {
        let mut cmd = process::meshtop();
        cmd.arg("--demo")
            .arg("--log-file")
            .arg(&log)
            .args(extra)
            .env("MESHTOP_AUDIT_LOG", &audit);
        process::run(&mut cmd)
    };

    let out = run(&[
        "drain",
        "k1-node03",
        "--timeout",
        "6s",
        "--evict-last-replica",
    ]);
    assert_eq!(out.code, Some(1), "{out}");
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(stdout.contains("node/k1-node03 cordoned"), "{stdout}");
    assert!(
        stdout.contains("evicting pod istio-system/istio-pilot-"),
        "{stdout}"
    );
    assert!(
        stderr.contains("Warning: ignoring DaemonSet-managed Pods: kube-system/calico-node-"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error when evicting pods/\"istio-pilot-")
            && stderr.contains("-n \"istio-system\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."),
        "{stderr}"
    );
    assert!(
        stderr.contains("refused by poddisruptionbudget/istio-pilot -n istio-system"),
        "{stderr}"
    );
    // Once: what the budget allows, what it selects and where those pods run.
    let described = "  poddisruptionbudget/istio-pilot -n istio-system: allowed disruptions 0 \
                     (min available 1; 1 healthy, 1 needed); selects ";
    assert_eq!(stderr.matches(described).count(), 1, "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(described) && l.ends_with(" on k1-node03")),
        "{stderr}"
    );
    assert!(stderr.contains("remains cordoned"), "{stderr}");

    let out = run(&["--readonly", "drain", "k1-node03"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--readonly"), "{out}");
    let out = run(&["label", "node", "k1-node03", "taco istio=enabled"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("invalid label"), "{out}");
    let out = run(&["uncordon", "k1-node99"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("\"k1-node99\" not found"), "{out}");
    let out = run(&["cordon", "k1-node05", "--dry-run"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "node/k1-node05 cordoned (server dry run)\n");
    let out = run(&["pdb", "relax", "istio-system/istio-pilot"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "poddisruptionbudget.policy/istio-pilot relaxed\n"
    );
    // A relabel with --restart waits for each rollout, as `kubectl rollout status` does.
    let out = run(&[
        "label",
        "namespace",
        "legacy-shop",
        "--rev",
        "1-9-1",
        "--restart",
        "--timeout",
        "60s",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    let stdout = &out.stdout;
    // The closing line says what was done, after the rollouts it waited for.
    assert!(
        stdout.ends_with(
            "namespace/legacy-shop labeled istio.io/rev=1-9-1, istio-injection=enabled removed; \
             2 workloads restarted and \
             rolled out\n"
        ),
        "{stdout}"
    );
    for w in ["deployment.apps/inventory", "deployment.apps/storefront"] {
        let restarted = stdout.find(&format!("{w} restarted\n"));
        let rolled = stdout.find(&format!("{w} successfully rolled out\n"));
        assert!(
            restarted.is_some() && rolled.is_some() && restarted < rolled,
            "{stdout}"
        );
    }

    // Only the requests that reached a cluster are audited.
    let lines = audit_lines(&audit);
    let actions: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l.action.as_str(), l.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("drain", "node/k1-node03"),
            ("uncordon", "node/k1-node99"),
            ("cordon", "node/k1-node05"),
            ("pdb relax", "poddisruptionbudget/istio-system/istio-pilot"),
            (
                "label istio.io/rev=1-9-1 and restart",
                "namespace/legacy-shop"
            ),
        ]
    );
}

/// `(evicted, skipped)` pod names from kubectl drain's (and meshtop drain's) output.
fn drain_sets(stdout: &str, stderr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let evicted = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("evicting pod "))
        .map(str::to_string)
        .collect();
    let skipped = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("Warning: ignoring DaemonSet-managed Pods: "))
        .flat_map(|l| l.split(", ").map(str::to_string))
        .collect();
    (evicted, skipped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meshtop_drain_matches_kubectl_drain() {
    let kubectl = process::kubectl();
    let mut results = Vec::new();
    for who in ["meshtop", "kubectl"] {
        let sandbox = harness::start_file(K1).await.expect("start the sandbox");
        let files = CliFiles::new(&sandbox);
        let meshtop = || tokio::process::Command::from(files.meshtop());
        let relax = Run::from(
            meshtop()
                .args(["pdb", "relax", "istio-system/istio-galley"])
                .output()
                .await
                .expect("meshtop pdb relax"),
        );
        assert_eq!(relax.code, Some(0), "{relax}");
        let out = if who == "meshtop" {
            meshtop()
                // kubectl has no mesh guard: meshtop consents to match it.
                .args([
                    "drain",
                    "k1-node04",
                    "--timeout",
                    "30s",
                    "--evict-last-replica",
                ])
                .output()
                .await
                .expect("meshtop drain")
        } else {
            tokio::process::Command::new(&kubectl)
                .arg("--kubeconfig")
                .arg(&files.kubeconfig)
                .args([
                    "drain",
                    "k1-node04",
                    "--ignore-daemonsets",
                    "--timeout",
                    "30s",
                ])
                .output()
                .await
                .expect("kubectl drain")
        };
        let out = Run::from(out);
        assert_eq!(out.code, Some(0), "{who} drain failed:\n{out}");
        assert!(
            out.stdout.contains("node/k1-node04 drained"),
            "{who}: {out}"
        );
        results.push(drain_sets(&out.stdout, &out.stderr));
        drop(sandbox);
    }
    let (evicted, skipped) = &results[0];
    assert_eq!(evicted.len(), 5, "{evicted:?}");
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(
        results[0], results[1],
        "meshtop vs kubectl (evicted, skipped)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_refuses_pods_without_controller_or_with_emptydir_unless_told() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), "logging");
    let bare = |name: &str, extra: serde_json::Value| {
        let mut pod = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "logging", "labels": {"app": name}},
            "spec": {"nodeName": "k1-node05", "containers": [{"name": "c", "image": "busybox"}]},
        });
        json_patch::merge(&mut pod, &extra);
        serde_json::from_value::<Pod>(pod).expect("pod")
    };
    // Not in an injected namespace: the sidecar's emptyDir volumes would refuse them too.
    let pp = kube::api::PostParams::default();
    for pod in [
        bare("job-once", serde_json::json!({})),
        bare(
            "scratch",
            serde_json::json!({"spec": {"volumes": [{"name": "tmp", "emptyDir": {}}]}}),
        ),
        bare(
            "static-web",
            serde_json::json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "abc"}}}),
        ),
    ] {
        pods.create(&pp, &pod).await.expect("create a bare pod");
    }
    let exec = Executor::new(&conn, false, None);
    let before = pods_on(&conn, "k1-node05").await;
    let err = exec
        .drain(
            "k1-node05",
            &DrainOptions {
                evict_last_replica: true,
                ..DrainOptions::default()
            },
            &|_| {},
        )
        .await
        .expect_err("bare pods refuse the drain");
    assert!(matches!(err, ActionError::Refused(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("unable to drain node \"k1-node05\": "),
        "{text}"
    );
    // kubectl's filter order: local storage is checked before the controller.
    for part in [
        "cannot delete Pods that declare no controller (use --force to override): logging/job-once",
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): logging/scratch",
    ] {
        assert!(text.contains(part), "{text}");
    }
    assert!(
        text.ends_with("; node/k1-node05 remains cordoned"),
        "{text}"
    );
    assert!(harness::cordoned(&harness::node(&conn, "k1-node05").await));
    assert_eq!(pods_on(&conn, "k1-node05").await, before, "nothing evicted");

    // With consent, in a dry run: they would go, with kubectl's warnings; the mirror pod stays.
    let plans = Mutex::new(Vec::new());
    let opts = DrainOptions {
        dry_run: true,
        force: true,
        delete_emptydir_data: true,
        evict_last_replica: true,
        timeout: Duration::from_secs(20),
        ..DrainOptions::default()
    };
    let _ = exec
        .drain("k1-node05", &opts, &|e| {
            if let DrainEvent::Planned(p) = e {
                plans.lock().expect("lock").push(p);
            }
        })
        .await;
    let plans = plans.into_inner().expect("lock");
    let plan = plans.first().expect("a plan");
    assert!(plan.errors().is_empty(), "{:?}", plan.errors());
    let evict: Vec<String> = plan.to_evict().iter().map(|p| p.pod.to_string()).collect();
    assert!(
        evict.contains(&"logging/job-once".to_string())
            && evict.contains(&"logging/scratch".to_string()),
        "{evict:?}"
    );
    let skipped: Vec<String> = plan.skipped().iter().map(|p| p.pod.to_string()).collect();
    assert!(
        skipped.contains(&"logging/static-web".to_string()),
        "{skipped:?}"
    );
    let warnings = meshtop::ops::drain::describe_groups(&plan.warnings());
    assert!(
        warnings.contains(
            "deleting Pods that declare no controller: logging/job-once, logging/scratch"
        ),
        "{warnings}"
    );
    assert_eq!(
        pods_on(&conn, "k1-node05").await,
        before,
        "a dry run evicts nothing"
    );
}

/// An action that cannot be audited is not sent: the audit log is checked before anything
/// goes to the cluster; and should its line fail after the action ran, the outcome says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_cannot_be_audited_is_not_sent_and_a_lost_line_is_reported() {
    let (sandbox, conn) = harness::connected(K1).await;
    let files = CliFiles::new(&sandbox);
    // A plain file where the audit log's directory should be.
    let blocker = files.dir().join("state");
    std::fs::write(&blocker, "not a directory").expect("write");
    let unwritable = blocker.join("audit.log");

    for args in [
        vec!["cordon", "k1-node02"],
        vec!["drain", "k1-node02", "--timeout", "5s"],
        vec!["label", "node", "k1-node02", "taco-istio=disabled"],
        vec!["pdb", "relax", "istio-system/istio-pilot"],
    ] {
        let out = process::run(
            files
                .meshtop()
                .args(&args)
                .env("MESHTOP_AUDIT_LOG", &unwritable),
        );
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(
            out.stderr.contains(&format!(
                "cannot write the audit log {}",
                unwritable.display()
            )) && out.stderr.contains("nothing was sent"),
            "{args:?}: {out}"
        );
    }
    let n = harness::node(&conn, "k1-node02").await;
    assert!(!harness::cordoned(&n), "k1-node02 was cordoned");
    assert_ne!(
        n.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("taco-istio"))
            .map(String::as_str),
        Some("disabled")
    );
    let pdb: PodDisruptionBudget = Api::namespaced(conn.client.clone(), "istio-system")
        .get("istio-pilot")
        .await
        .expect("pdb");
    assert!(
        !pdb.metadata
            .annotations
            .unwrap_or_default()
            .contains_key(RELAXED_FROM),
        "istio-pilot was relaxed"
    );

    // The line fails after the check (here: from the start, bypassing it): the action ran,
    // and its outcome says that it did and that its line is missing.
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&unwritable)));
    let err = exec
        .cordon("k1-node02", false)
        .await
        .expect_err("the audit line cannot be written");
    assert!(matches!(err, ActionError::Unaudited(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("cordon node/k1-node02: it was done, but its audit line was not written:"),
        "{msg}"
    );
    assert!(!err.is_bad_input());
    assert!(harness::cordoned(&harness::node(&conn, "k1-node02").await));
    let err = exec
        .uncordon("k1-node99", false)
        .await
        .expect_err("no such node, and no audit line");
    assert!(
        err.to_string()
            .starts_with("uncordon node/k1-node99: it failed: "),
        "{err}"
    );
}

/// A signal stops a headless drain cleanly: exit 128 + the signal's number saying so, the
/// node stays cordoned, and the audit line says the drain was interrupted (when it started,
/// when it stopped). SIGINT is Ctrl-C; SIGHUP comes when the terminal closes.
async fn signal_stops_a_blocked_drain(signal: &str, name: &str, code: i32) {
    let (sandbox, conn) = harness::connected(K1).await;
    let files = CliFiles::new(&sandbox);
    let child = tokio::process::Command::from(files.meshtop())
        .args([
            "drain",
            "k1-node03",
            "--timeout",
            "5m",
            "--evict-last-replica",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run meshtop");
    let pid = child.id().expect("pid");
    // Blocked by istio-pilot's PDB: the other pods are gone, istio-pilot's stays.
    eventually(
        "the drain to be blocked",
        Duration::from_secs(30),
        || async {
            let left = pods_on(&conn, "k1-node03").await;
            let pilot = left
                .iter()
                .any(|(p, _)| p.starts_with("istio-system/istio-pilot-"));
            (pilot
                && left.len() == 3
                && harness::cordoned(&harness::node(&conn, "k1-node03").await))
            .then_some(())
        },
    )
    .await;
    assert!(files.audit_lines().is_empty(), "nothing ended yet");
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("meshtop stops on {name}"))
        .expect("wait");
    let out = Run::from(out);
    assert_eq!(out.code, Some(code), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "meshtop: interrupted by {name}: what was done stays done"
        )),
        "{out}"
    );
    assert!(harness::cordoned(&harness::node(&conn, "k1-node03").await));
    let lines = files.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0].action.as_str(), lines[0].target.as_str()),
        ("drain", "node/k1-node03")
    );
    assert_eq!(lines[0].result, meshtop::cluster::actions::INTERRUPTED);
    let started: jiff::Timestamp = lines[0].started.parse().expect("started");
    let ended: jiff::Timestamp = lines[0].time.parse().expect("time");
    assert!(started < ended, "{:?}", lines[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_drain_and_the_audit_says_interrupted() {
    signal_stops_a_blocked_drain("INT", "SIGINT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_stops_a_drain_and_the_audit_says_interrupted() {
    signal_stops_a_blocked_drain("HUP", "SIGHUP", 129).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigquit_stops_a_drain_and_the_audit_says_interrupted() {
    signal_stops_a_blocked_drain("QUIT", "SIGQUIT", 131).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_drain_and_the_audit_says_interrupted() {
    signal_stops_a_blocked_drain("TERM", "SIGTERM", 143).await;
}

/// `meshtop pdb restore` will not overwrite a change made to the budget after it was
/// relaxed: exit 1 saying what changed and that nothing was written; `--force` restores
/// anyway, and the audit line says so. An unchanged budget still round-trips.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdb_restore_refuses_to_overwrite_a_change_made_since_relief_unless_forced() {
    let (sandbox, conn) = harness::connected(K1).await;
    let files = CliFiles::new(&sandbox);
    let cli = |args: &[&str]| process::run(files.meshtop().args(args));
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(conn.client.clone(), "istio-system");
    let annotations = |p: &PodDisruptionBudget| p.metadata.annotations.clone().unwrap_or_default();
    let min_available = |p: &PodDisruptionBudget| {
        serde_json::to_value(&p.spec).expect("spec")["minAvailable"].clone()
    };

    let out = cli(&["pdb", "relax", "istio-system/istio-pilot"]);
    assert_eq!(out.code, Some(0), "{out}");
    let relaxed = pdbs.get("istio-pilot").await.expect("pdb");
    assert_eq!(
        annotations(&relaxed)
            .get(meshtop::ops::pdb::RELAXED_TO)
            .map(String::as_str),
        Some(r#"{"minAvailable":0}"#),
        "relief records what it wrote"
    );
    // Someone raises the budget while it is relaxed.
    harness::set_min_available(&conn, "istio-system", "istio-pilot", 2).await;
    let edited = pdbs.get("istio-pilot").await.expect("pdb");

    for dry_run in [true, false] {
        let mut args = vec!["pdb", "restore", "istio-system/istio-pilot"];
        if dry_run {
            args.push("--dry-run");
        }
        let out = cli(&args);
        assert_eq!(out.code, Some(1), "{out}");
        assert!(
            out.stderr.contains(
                "meshtop: poddisruptionbudget istio-system/istio-pilot changed since meshtop \
                 relaxed it: minAvailable is 2 (relaxed to 0); restoring would overwrite that \
                 with the saved minAvailable 1: nothing was written (use --force to restore \
                 anyway)"
            ),
            "{out}"
        );
        assert!(out.stdout.is_empty(), "{out}");
    }
    let kept = pdbs.get("istio-pilot").await.expect("pdb");
    assert_eq!(
        kept.metadata.resource_version, edited.metadata.resource_version,
        "nothing was written"
    );
    assert_eq!(min_available(&kept), 2);

    let out = cli(&["pdb", "restore", "istio-system/istio-pilot", "--force"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "poddisruptionbudget.policy/istio-pilot restored\n"
    );
    let restored = pdbs.get("istio-pilot").await.expect("pdb");
    assert_eq!(min_available(&restored), 1);
    let left = annotations(&restored);
    assert!(
        !left.contains_key(RELAXED_FROM) && !left.contains_key(meshtop::ops::pdb::RELAXED_TO),
        "{left:?}"
    );

    // Unchanged since relief: relax and restore round-trip without --force.
    for verb in ["relax", "restore"] {
        let out = cli(&["pdb", verb, "istio-system/istio-pilot"]);
        assert_eq!(out.code, Some(0), "{verb}: {out}");
    }
    assert_eq!(
        min_available(&pdbs.get("istio-pilot").await.expect("pdb")),
        1
    );

    let lines: Vec<(String, bool, String)> = files
        .audit_lines()
        .into_iter()
        .map(|l| (l.action, l.dry_run, l.result))
        .collect();
    let refused = lines[1].2.clone();
    assert!(
        refused.contains("changed since meshtop relaxed it"),
        "{refused}"
    );
    let ok = |a: &str| (a.to_string(), false, "ok".to_string());
    assert_eq!(
        lines,
        [
            ok("pdb relax"),
            ("pdb restore".to_string(), true, refused.clone()),
            ("pdb restore".to_string(), false, refused),
            ok("pdb restore (forced)"),
            ok("pdb relax"),
            ok("pdb restore"),
        ]
    );
}

/// `meshtop label namespace NS --rev REV` for a revision that does not run is refused (exit
/// 1, nothing sent) as the TUI asks for the namespace's name typed: `--force` gives that
/// consent, and the audit line says so. `-n` does not hide the revisions from the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_namespace_to_a_revision_that_does_not_run_needs_force() {
    let (sandbox, conn) = harness::connected(K1).await;
    let files = CliFiles::new(&sandbox);
    let cli = |args: &[&str]| process::run(files.meshtop().args(args));
    let namespaces: Api<Namespace> = Api::all(conn.client.clone());
    let before = namespaces.get("legacy-shop").await.expect("namespace");

    for extra in [&[][..], &["--dry-run"][..], &["--restart"][..]] {
        let mut args = vec!["label", "namespace", "legacy-shop", "--rev", "canary"];
        args.extend(extra);
        let out = cli(&args);
        assert_eq!(out.code, Some(1), "{extra:?}: {out}");
        assert!(
            out.stderr.contains(&format!(
                "meshtop: refusing to label namespace/legacy-shop istio.io/rev=canary in context \
                 {}: no revision canary runs in the cluster: new pods would not be injected; \
                 nothing was sent (use --force to do it anyway)",
                harness::ADMIN_CONTEXT
            )),
            "{extra:?}: {out}"
        );
    }
    let after = namespaces.get("legacy-shop").await.expect("namespace");
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "nothing was sent"
    );
    assert!(
        files.audit_lines().is_empty(),
        "nothing reached the cluster"
    );

    // A revision that runs needs no consent, even seen from one namespace with -n.
    let out = cli(&[
        "-n",
        "legacy-shop",
        "label",
        "namespace",
        "legacy-shop",
        "--rev",
        "1-9-1",
        "--dry-run",
    ]);
    assert_eq!(out.code, Some(0), "{out}");

    let out = cli(&[
        "label",
        "namespace",
        "legacy-shop",
        "--rev",
        "canary",
        "--force",
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "namespace/legacy-shop labeled istio.io/rev=canary, istio-injection=enabled removed\n"
    );
    let labels = namespaces
        .get("legacy-shop")
        .await
        .expect("namespace")
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels.get("istio.io/rev").map(String::as_str),
        Some("canary")
    );
    let actions: Vec<(String, bool, String)> = files
        .audit_lines()
        .into_iter()
        .map(|l| (l.action, l.dry_run, l.result))
        .collect();
    assert_eq!(
        actions,
        [
            (
                "label istio.io/rev=1-9-1".to_string(),
                true,
                "ok".to_string()
            ),
            (
                "label istio.io/rev=canary (forced)".to_string(),
                false,
                "ok".to_string()
            ),
        ]
    );
}
