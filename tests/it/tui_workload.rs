//! Today's remedies from the keyboard, in a real terminal, on the 2026 mesh: fraud-check's
//! single-replica budget blocks the drain of its node, and `+` on the budget's row scales it
//! to 2 so that the node's drain pre-flight turns clear; `t` on the canary revision moves the
//! `prod-stable` tag to it, and its namespace follows, restarted one workload at a time.

use crate::common::process::{audit_steps, step};
use crate::common::tmux::{Session, require_tmux};

/// The line of a screen that contains every word.
fn line_with<'a>(screen: &'a str, words: &[&str]) -> Option<&'a str> {
    screen.lines().find(|l| words.iter().all(|w| l.contains(w)))
}

/// meshtop on the 2026 mesh in a 160x45 terminal, auditing to a temporary file (the
/// directory is kept alive by the caller).
fn on_the_2026_mesh() -> (Session, tempfile::TempDir, std::path::PathBuf) {
    require_tmux();
    let audit = tempfile::tempdir().expect("tempdir");
    let audit_log = audit.path().join("audit.log");
    let s = Session::start(
        &format!("--demo=canary-2026 --audit-log {}", audit_log.display()),
        160,
        45,
    );
    (s, audit, audit_log)
}

#[test]
fn scaling_fraud_check_to_two_from_the_disruption_view_unblocks_its_node() {
    let (s, _audit, audit_log) = on_the_2026_mesh();
    s.wait_for("the overview", |sc| sc.contains("1-29-2"));

    s.keys(&["6"]);
    s.wait_for("worker-3's drain blocked by fraud-check", |sc| {
        line_with(sc, &["worker-3", "blocked by PDB", "fraud-check"]).is_some()
    });

    s.keys(&["5", "/"]);
    s.keys(&["-l", "fraud"]);
    s.keys(&["Enter"]);
    // Its one pod ready: the budget allows nothing and blocks worker-3.
    s.wait_for("fraud-check alone in the Disruption view, blocking", |sc| {
        sc.contains("Disruption (1 of 4)")
            && line_with(sc, &["payments", "fraud-check", " 0 ", "1/1", "worker-3"]).is_some()
    });
    s.keys(&["+"]);
    s.wait_for("the replicas prompt", |sc| sc.contains("replicas: "));
    s.keys(&["-l", "2"]);
    s.keys(&["Enter"]);
    let preview = s.wait_for("the scale preview", |sc| {
        sc.contains("replicas 1 → 2") && sc.contains("it stops blocking the drains of worker-3")
    });
    assert!(
        preview.contains("poddisruptionbudget/fraud-check: allows 0 disruptions now → 1"),
        "{preview}"
    );
    s.keys(&["y"]);
    s.wait_for("the confirmation", |sc| sc.contains("type fraud-check to"));
    s.keys(&["-l", "fraud-check"]);
    s.keys(&["Enter"]);
    s.wait_for("the scale done", |sc| {
        sc.contains("✓ deployment.apps/fraud-check scaled")
    });
    // Two healthy pods of the one needed: the budget allows one disruption, blocks no drain.
    s.wait_for("the budget allowing a disruption", |sc| {
        line_with(sc, &["payments", "fraud-check", " 1 ", "2/1", " -"]).is_some()
    });
    s.keys(&["6"]);
    let nodes = s.wait_for("the Nodes view", |sc| sc.contains("Nodes (9)"));
    let worker3 = line_with(&nodes, &["worker-3"]).expect("worker-3's row");
    assert!(!worker3.contains("fraud-check"), "{nodes}");
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
    assert_eq!(
        audit_steps(&audit_log),
        [step(
            "scale --replicas=2",
            "deployment/payments/fraud-check",
            false,
            "ok"
        )]
    );
}

#[test]
fn moving_prod_stable_to_the_canary_from_the_revisions_view_moves_payments() {
    let (s, _audit, audit_log) = on_the_2026_mesh();
    s.keys(&["2"]);
    s.wait_for("both revisions, istiod ready", |sc| {
        line_with(
            sc,
            &["1-29-2", "2/2", "inventory,payments", "default,prod-stable"],
        )
        .is_some()
            && line_with(sc, &["1-30-1", "1/1", "checkout", "canary"]).is_some()
    });
    s.keys(&["/"]);
    s.keys(&["-l", "1-30-1"]);
    s.keys(&["Enter"]);
    s.wait_for("1-30-1 alone", |sc| sc.contains("Revisions (1 of 3)"));
    s.keys(&["t"]);
    s.wait_for("the tag prompt", |sc| {
        sc.contains("tag to point here (tab completes): ")
    });
    // Tab completes the tag from the cluster's.
    s.keys(&["-l", "pro"]);
    s.keys(&["Tab"]);
    s.wait_for("the tag completed", |sc| {
        sc.contains("tag to point here (tab completes): prod-stable")
    });
    s.keys(&["Enter"]);
    let preview = s.wait_for("the tag move preview", |sc| {
        sc.contains("tag prod-stable: 1-29-2 → 1-30-1")
            && sc.contains("moves the new pods of 1 namespace: payments")
    });
    assert!(
        preview.contains("deployment.apps/payments-api (3 pods: on 1-29-2)"),
        "{preview}"
    );
    s.keys(&["t"]);
    s.wait_for("the restart chosen", |sc| {
        sc.contains("[x] t restart the tag's workloads")
            && sc.contains("then rollout restart every workload of these namespaces")
    });
    s.keys(&["y"]);
    s.wait_for("the confirmation", |sc| sc.contains("type prod-stable to"));
    s.keys(&["-l", "prod-stable"]);
    s.keys(&["Enter"]);
    s.wait_for("the move and its restarts done", |sc| {
        sc.contains("✓ Revision tag \"prod-stable\" created, referencing control plane revision \"1-30-1\"; moved from 1-29-2 with 1 namespace; 3 workloads restarted and rolled out")
    });
    // The tag and its namespace are the canary's now, its pods on the canary's proxy.
    s.keys(&["Escape"]);
    s.wait_for("the revisions after the move", |sc| {
        line_with(sc, &["1-30-1", "checkout,payments", "canary,prod-stable"]).is_some()
            && line_with(sc, &["1-29-2", "inventory", "default "]).is_some()
    });
    s.keys(&["7"]);
    s.wait_for("payments on 1-30-1 with nothing to restart", |sc| {
        line_with(
            sc,
            &["payments", "prod-stable", "1-30-1", "sidecar", "6", " - "],
        )
        .is_some()
    });
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
    let restart = |w: &str| {
        step(
            "rollout restart",
            &format!("deployment/payments/{w}"),
            false,
            "ok",
        )
    };
    assert_eq!(
        audit_steps(&audit_log),
        [
            step(
                "tag set --revision 1-30-1 --overwrite",
                "revisiontag/prod-stable",
                false,
                "ok"
            ),
            restart("fraud-check"),
            restart("ledger"),
            restart("payments-api"),
        ]
    );
}
