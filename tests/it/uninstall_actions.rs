//! Uninstalling a revision or the legacy control plane against the sandbox: refused while a
//! namespace, tag or proxy uses it (the 2026 mesh's revisions), the preview listing every
//! object it deletes, the dry run that deletes nothing, the deletion one audited object at a
//! time (the field report's Istio 1.4 components, which nothing uses any more).

use std::time::Duration;

use crate::common::harness;
use crate::common::process::{self, CliFiles, assert_refused};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};
use meshtop::cluster::{Connection, WatchOptions};
use meshtop::ops::Request;

const CANARY: &str = "assets/scenarios/canary-2026.yaml";
const K1: &str = "assets/scenarios/k1-upgrade.yaml";

async fn deployments(conn: &Connection) -> Vec<String> {
    Api::<Deployment>::namespaced(conn.client.clone(), "istio-system")
        .list(&ListParams::default())
        .await
        .expect("deployments")
        .items
        .into_iter()
        .filter_map(|d| d.metadata.name)
        .collect()
}

/// The uninstall's preview lines, as the TUI's `X` shows them, from a model synced now (the
/// objects read as the confirmation reads them; a refused uninstall's lines say why).
pub(crate) async fn uninstall_preview(
    conn: &Connection,
    revision: &str,
    legacy: bool,
) -> Vec<String> {
    let model = meshtop::app::synced_model(conn, WatchOptions::default(), Duration::from_secs(30))
        .await
        .expect("the initial sync");
    let mut request = Request::Uninstall {
        revision: revision.into(),
        legacy,
        targets: Vec::new(),
    };
    let _ = request.prepare(&model);
    meshtop::ops::plan(&request, &model)
        .lines
        .iter()
        .map(|l| l.text())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_in_use_are_refused_naming_what_uses_them() {
    let (sandbox, conn) = harness::connected(CANARY).await;
    let lines = uninstall_preview(&conn, "1-30-1", false).await;
    assert_eq!(
        lines[..3],
        [
            "refused: revision 1-30-1 is still in use; move these first",
            "  1 namespace select it: checkout",
            "  revision tags point at it: canary",
        ],
        "{lines:#?}"
    );
    let before = deployments(&conn).await;
    let files = CliFiles::new(&sandbox);
    let run = |args: &[&str]| process::run(files.meshtop().args(args));
    let out = run(&["uninstall", "revision", "1-29-2"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(
            "refusing to uninstall revision/1-29-2 in context meshtop-sandbox: revision 1-29-2 \
             is still in use: 2 namespaces select it: inventory, payments; revision tags point \
             at it: default, prod-stable;"
        ),
        "{out}"
    );
    assert!(out.stderr.contains("it is the default revision"), "{out}");
    let out = run(&["uninstall", "revision", "1-30-1", "--dry-run"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    // The 2026 mesh has no legacy control plane; 9-9-9 is no revision: bad input.
    assert_refused(
        run,
        &[
            (&["uninstall", "revision", "--legacy"], 2),
            (&["uninstall", "revision", "9-9-9"], 2),
            (&["uninstall", "revision", "Nine"], 2),
            (&["--readonly", "uninstall", "revision", "1-30-1"], 2),
        ],
    );
    assert_eq!(deployments(&conn).await, before);
    assert!(files.audit_lines().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_field_reports_istio_1_4_components_go_once_nothing_uses_them() {
    let (sandbox, conn) = harness::connected(K1).await;
    let lines = uninstall_preview(&conn, "", true).await;
    for want in [
        "uninstall the non-revisioned (legacy) control plane: nothing uses it (no namespace, tag or proxy); deletes, in this order:",
        "  mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector",
        "  deployment.apps/istio-pilot -n istio-system",
        "  poddisruptionbudget.policy/istio-pilot -n istio-system",
        "  configmap/istio -n istio-system  (not there: skipped)",
        "installed by Helm: the release record istio remains (deleted object by object here; `helm uninstall istio` removes it and what else it installed)",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want}\n{lines:#?}");
    }
    let legacy = [
        "istio-galley",
        "istio-pilot",
        "istio-policy",
        "istio-telemetry",
    ];

    let files = CliFiles::new(&sandbox);
    let run = |args: &[&str]| process::run(files.meshtop().args(args));
    let out = run(&["uninstall", "revision", "--legacy", "--dry-run"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .contains("deployment.apps \"istio-pilot\" deleted (server dry run)\n"),
        "{out}"
    );
    assert!(
        out.stdout.ends_with(
            "the legacy control plane uninstalled (server dry run): 15 objects deleted, 4 not found\n"
        ),
        "{out}"
    );
    let names = deployments(&conn).await;
    assert!(
        legacy.iter().all(|d| names.iter().any(|n| n == d)),
        "{names:?}"
    );

    let out = run(&["uninstall", "revision", "--legacy"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .ends_with("the legacy control plane uninstalled: 15 objects deleted, 4 not found\n"),
        "{out}"
    );
    let left = deployments(&conn).await;
    assert!(
        legacy.iter().all(|d| !left.iter().any(|n| n == d)),
        "{left:?}"
    );
    assert!(left.iter().any(|n| n == "istiod-1-9-1"), "{left:?}");
    // Gone: a second uninstall finds nothing to uninstall.
    let out = run(&["uninstall", "revision", "--legacy"]);
    assert_eq!(out.code, Some(2), "{out}");

    // One audit line per object, webhooks first; those not there say so as skipped.
    let lines = files.audit_lines();
    assert_eq!(lines.len(), 38, "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|l| l.action == "uninstall: delete" && l.result == "ok")
    );
    assert_eq!(
        lines[0].target,
        "mutatingwebhookconfiguration/istio-sidecar-injector"
    );
    assert_eq!(lines[1].target, "deployment/istio-system/istio-galley");
    assert!(lines[..19].iter().all(|l| l.dry_run));
    assert!(lines[19..].iter().all(|l| !l.dry_run));
}
