//! Moving a revision tag against the sandbox with the real kube client, as `istioctl tag set`
//! does: the preview from the model (where the tag is, which namespaces move, which
//! workloads need a restart), the refusals (an existing tag without overwrite, a revision
//! without injector webhook, a tag named like a revision, `--readonly`), the dry run, the
//! move and the restart one workload at a time, the audit lines, and the CLI twin on both
//! built-in scenarios.

use std::time::Duration;

use crate::common::harness;
use crate::common::process::{self, CliFiles, assert_refused, step};
use crate::common::wait::eventually;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams};
use meshtop::cluster::actions::{AuditLog, Executor, RunOptions};
use meshtop::cluster::{Connection, WatchOptions};
use meshtop::model::Model;
use meshtop::ops::{ActionError, Request};

const CANARY: &str = "assets/scenarios/canary-2026.yaml";
const K1: &str = "assets/scenarios/k1-upgrade.yaml";

/// The model once every istiod of the revision is ready.
async fn model_with_ready_istiod(conn: &Connection, revision: &str) -> Model {
    eventually(
        "istiod ready in the model",
        Duration::from_secs(30),
        || async {
            let m =
                meshtop::app::synced_model(conn, WatchOptions::default(), Duration::from_secs(30))
                    .await
                    .expect("the initial sync");
            let ready = m
                .revisions()
                .iter()
                .any(|r| r.revision.as_ref() == revision && r.istiod_ready > 0);
            ready.then_some(m).ok_or("not yet")
        },
    )
    .await
}

/// The revision the tag's webhook names now.
async fn tag_revision(conn: &Connection, tag: &str) -> Option<String> {
    let mwc = Api::<MutatingWebhookConfiguration>::all(conn.client.clone())
        .get_opt(&format!("istio-revision-tag-{tag}"))
        .await
        .expect("read the webhook")?;
    mwc.metadata
        .labels
        .and_then(|l| l.get("istio.io/rev").cloned())
}

/// The revisions that injected a namespace's pods (from `sidecar.istio.io/status`).
async fn injected_by(conn: &Connection, namespace: &str) -> Vec<String> {
    let pods = Api::<Pod>::namespaced(conn.client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .expect("pods");
    let mut revs: Vec<String> = pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            p.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("sidecar.istio.io/status"))
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                .and_then(|s| {
                    s.get("revision")
                        .and_then(|r| r.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "none".into())
        })
        .collect();
    revs.sort();
    revs.dedup();
    revs
}

/// The preview's lines of a request, as text.
fn preview_lines(request: &Request, model: &Model) -> Vec<String> {
    meshtop::ops::plan(request, model)
        .lines
        .iter()
        .map(|l| l.text())
        .collect()
}

fn tag_set(tag: &str, revision: &str, overwrite: bool, restart: bool) -> Request {
    Request::TagSet {
        tag: tag.into(),
        revision: revision.into(),
        overwrite,
        restart,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_prod_stable_to_the_canary_moves_payments_and_restarts_it() {
    let (_sandbox, conn) = harness::connected(CANARY).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    let model = model_with_ready_istiod(&conn, "1-30-1").await;

    let preview: Vec<String> = preview_lines(&tag_set("prod-stable", "1-30-1", true, true), &model);
    let has = |text: &str| preview.iter().any(|l| l.contains(text));
    assert!(has("tag prod-stable: 1-29-2 → 1-30-1"), "{preview:#?}");
    assert!(
        has(
            "mutatingwebhookconfiguration/istio-revision-tag-prod-stable: regenerated from the injector webhook of 1-30-1"
        ),
        "{preview:#?}"
    );
    assert!(
        has("moves the new pods of 1 namespace: payments"),
        "{preview:#?}"
    );
    assert!(
        has("deployment.apps/payments-api (3 pods: on 1-29-2)"),
        "{preview:#?}"
    );
    assert!(
        has("Helm installed 1-30-1 (release istiod-1-30-1)"),
        "{preview:#?}"
    );
    assert!(has("then rollout restart every workload"), "{preview:#?}");
    // Without overwrite, an existing tag is refused in the preview as by the executor.
    let refused = meshtop::ops::plan(&tag_set("prod-stable", "1-30-1", false, false), &model);
    assert!(
        refused.lines.iter().any(|l| l.text()
            == "revision tag \"prod-stable\" already exists (on 1-29-2), and --overwrite is false"),
        "{refused:?}"
    );

    let err = exec
        .tag_set("prod-stable", "1-30-1", false, false)
        .await
        .expect_err("no overwrite");
    assert_eq!(
        err,
        ActionError::Refused(
            "revision tag \"prod-stable\" already exists, and --overwrite is false".into()
        )
    );
    assert!(matches!(
        exec.tag_set("prod-stable", "9-9-9", true, false).await,
        Err(ActionError::NotFound(_))
    ));
    assert!(matches!(
        exec.tag_set("1-29-2", "1-30-1", true, false).await,
        Err(ActionError::Invalid(_))
    ));
    let readonly = Executor::new(&conn, true, Some(AuditLog::new(&audit)));
    assert!(matches!(
        readonly.tag_set("prod-stable", "1-30-1", true, false).await,
        Err(ActionError::Readonly { .. })
    ));

    // The dry run (with its restarts) changes nothing.
    let report = |_| {};
    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let out = meshtop::cluster::actions::run(
        &exec,
        &tag_set("prod-stable", "1-30-1", true, true),
        &dry,
        &report,
    )
    .await
    .expect("the dry run");
    assert_eq!(
        out.text(true),
        "Revision tag \"prod-stable\" created, referencing control plane revision \"1-30-1\" \
         (server dry run); moved from 1-29-2 with 1 namespace; 3 workloads restarted"
    );
    assert_eq!(
        tag_revision(&conn, "prod-stable").await.as_deref(),
        Some("1-29-2")
    );
    assert_eq!(injected_by(&conn, "payments").await, ["1-29-2"]);

    let events = std::sync::Mutex::new(Vec::new());
    let record = |e| events.lock().expect("lock").push(e);
    let opts = RunOptions {
        rollout_timeout: Duration::from_secs(60),
        ..RunOptions::default()
    };
    let out = meshtop::cluster::actions::run(
        &exec,
        &tag_set("prod-stable", "1-30-1", true, true),
        &opts,
        &record,
    )
    .await
    .expect("moved");
    assert_eq!(
        out.text(false),
        "Revision tag \"prod-stable\" created, referencing control plane revision \"1-30-1\"; \
         moved from 1-29-2 with 1 namespace; 3 workloads restarted and rolled out"
    );
    assert_eq!(
        tag_revision(&conn, "prod-stable").await.as_deref(),
        Some("1-30-1")
    );
    let svc = Api::<Service>::namespaced(conn.client.clone(), "istio-system")
        .get("istiod-revision-tag-prod-stable")
        .await
        .expect("the tag's service");
    let selector = serde_json::to_value(&svc).expect("json")["spec"]["selector"].clone();
    assert_eq!(
        selector,
        serde_json::json!({"app": "istiod", "istio.io/rev": "1-30-1"})
    );
    // One workload at a time: each restarted, then rolled out, before the next.
    let said: Vec<String> = events
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|e| meshtop::ops::outcome::lines(e, false))
        .map(|l| l.text)
        .filter(|l| !l.starts_with("Waiting for "))
        .collect();
    assert_eq!(
        said,
        [
            "deployment.apps/fraud-check restarted",
            "deployment.apps/fraud-check successfully rolled out",
            "deployment.apps/ledger restarted",
            "deployment.apps/ledger successfully rolled out",
            "deployment.apps/payments-api restarted",
            "deployment.apps/payments-api successfully rolled out",
        ]
    );
    eventually(
        "payments' pods injected by 1-30-1",
        Duration::from_secs(30),
        || async {
            let revs = injected_by(&conn, "payments").await;
            (revs == ["1-30-1"])
                .then_some(())
                .ok_or(format!("{revs:?}"))
        },
    )
    .await;

    let tag = "revisiontag/prod-stable";
    let set = "tag set --revision 1-30-1 --overwrite";
    let mut want = vec![
        step(
            "tag set --revision 1-30-1",
            tag,
            false,
            "revision tag \"prod-stable\" already exists, and --overwrite is false",
        ),
        step(
            "tag set --revision 9-9-9 --overwrite",
            tag,
            false,
            "cannot modify tag: cannot find MutatingWebhookConfiguration with revision \"9-9-9\"",
        ),
        step(
            set,
            "revisiontag/1-29-2",
            false,
            "cannot create revision tag \"1-29-2\": found existing control plane revision with same name",
        ),
    ];
    for dry_run in [true, false] {
        want.push(step(set, tag, dry_run, "ok"));
        for w in ["fraud-check", "ledger", "payments-api"] {
            let workload = format!("deployment/payments/{w}");
            want.push(step("rollout restart", &workload, dry_run, "ok"));
        }
    }
    assert_eq!(process::audit_steps(&audit), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_set_on_the_command_line_as_istioctl_says_it() {
    let sandbox = harness::start_file(K1).await.expect("start the sandbox");
    let conn = harness::connection(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("connect");
    model_with_ready_istiod(&conn, "1-9-1").await;
    let files = CliFiles::new(&sandbox);
    let run = |args: &[&str]| process::run(files.meshtop().args(args));

    // The field report's cluster has no tag yet: one is created on 1-9-1.
    let out = run(&["tag", "set", "prod", "--revision", "1-9-1", "--dry-run"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "Revision tag \"prod\" created, referencing control plane revision \"1-9-1\" (server dry run)\n"
    );
    let out = run(&["tag", "set", "prod", "--revision", "1-9-1"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        "Revision tag \"prod\" created, referencing control plane revision \"1-9-1\"\n"
    );
    let kubectl = process::run(process::kubectl_at(&files.kubeconfig).args([
        "get",
        "mutatingwebhookconfiguration",
        "istio-revision-tag-prod",
        "-o",
        "jsonpath={.metadata.labels.istio\\.io/rev} {.webhooks[0].namespaceSelector.matchExpressions[0].values[0]} {.webhooks[0].clientConfig.service.name}",
    ]));
    assert_eq!(kubectl.stdout, "1-9-1 prod istiod-1-9-1", "{kubectl}");
    // Again without --overwrite: refused, exit 1.
    let out = run(&["tag", "set", "prod", "--revision", "1-9-1"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains("already exists, and --overwrite is false"),
        "{out}"
    );
    assert_refused(
        run,
        &[
            (
                &["tag", "set", "prod", "--revision", "2-0-0", "--overwrite"],
                2,
            ),
            (&["tag", "set", "Prod", "--revision", "1-9-1"], 2),
            (&["tag", "set", "prod", "--revision", "1.9.1"], 2),
            (
                &["--readonly", "tag", "set", "prod", "--revision", "1-9-1"],
                2,
            ),
        ],
    );
    let prod = "revisiontag/prod";
    let set = "tag set --revision 1-9-1";
    assert_eq!(
        process::audit_steps(&files.audit),
        [
            step(set, prod, true, "ok"),
            step(set, prod, false, "ok"),
            step(
                set,
                prod,
                false,
                "revision tag \"prod\" already exists, and --overwrite is false"
            ),
            step(
                "tag set --revision 2-0-0 --overwrite",
                prod,
                false,
                "cannot modify tag: cannot find MutatingWebhookConfiguration with revision \"2-0-0\""
            ),
        ]
    );
}

/// Where Sail manages the revision, the tag is Sail's `IstioRevisionTag`: meshtop applies
/// its `spec.targetRef` and leaves the webhook to Sail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sail_managed_revision_gets_its_istio_revision_tag_written() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{DynamicObject, Patch, PatchParams, PostParams};

    let (_sandbox, conn) = harness::connected(CANARY).await;
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "istiorevisiontags.sailoperator.io"},
        "spec": {
            "group": "sailoperator.io",
            "names": {"kind": "IstioRevisionTag", "listKind": "IstioRevisionTagList",
                      "plural": "istiorevisiontags", "singular": "istiorevisiontag"},
            "scope": "Cluster",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    }))
    .expect("a CRD");
    Api::<CustomResourceDefinition>::all(conn.client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .expect("the CRD created");
    let sail = serde_json::json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": "sail-operator"}}});
    Api::<MutatingWebhookConfiguration>::all(conn.client.clone())
        .patch(
            "istio-sidecar-injector-1-30-1",
            &PatchParams::default(),
            &Patch::Merge(&sail),
        )
        .await
        .expect("the injector marked as Sail's");
    Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(conn.client.clone(), "istio-system")
        .patch(
            "istiod-1-30-1",
            &PatchParams::default(),
            &Patch::Merge(&sail),
        )
        .await
        .expect("istiod marked as Sail's");

    let model = eventually("1-30-1 seen as Sail's", Duration::from_secs(30), || async {
        let m = model_with_ready_istiod(&conn, "1-30-1").await;
        let sail = m.revisions().iter().any(|r| {
            r.revision.as_ref() == "1-30-1"
                && r.installed_by
                    .as_deref()
                    .is_some_and(|i| i.starts_with("sail"))
        });
        sail.then_some(m).ok_or("not yet")
    })
    .await;
    let preview: Vec<String> =
        preview_lines(&tag_set("prod-stable", "1-30-1", true, false), &model);
    assert!(
        preview.iter().any(|l| l.starts_with(
            "1-30-1 is managed by Sail: istiorevisiontag.sailoperator.io/prod-stable gets spec.targetRef IstioRevision/1-30-1"
        )),
        "{preview:#?}"
    );

    let exec = Executor::new(&conn, false, None);
    let out = exec
        .tag_set("prod-stable", "1-30-1", true, false)
        .await
        .expect("applied");
    assert!(out.sail);
    assert_eq!(out.from.as_deref(), Some("1-29-2"));
    let resource = meshtop::cluster::actions::tag::istio_revision_tags();
    let tag = Api::<DynamicObject>::all_with(conn.client.clone(), &resource)
        .get("prod-stable")
        .await
        .expect("the IstioRevisionTag");
    assert_eq!(
        tag.data["spec"]["targetRef"],
        serde_json::json!({"kind": "IstioRevision", "name": "1-30-1"})
    );
    // The webhook is Sail's to regenerate: meshtop did not write it.
    assert_eq!(
        tag_revision(&conn, "prod-stable").await.as_deref(),
        Some("1-29-2")
    );
}

/// A validating webhook configuration of istiod `service` labelled `labels`, as the istiod
/// chart writes one per revision (and `istioctl tag set default` the default one).
fn validator(
    name: &str,
    service: &str,
    labels: serde_json::Value,
) -> ValidatingWebhookConfiguration {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": labels},
        "webhooks": [{
            "name": "rev.validation.istio.io",
            "clientConfig": {"service": {"name": service, "namespace": "istio-system", "path": "/validate"}},
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["networking.istio.io"],
                       "apiVersions": ["*"], "resources": ["*"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "failurePolicy": "Ignore",
        }],
    }))
    .expect("a ValidatingWebhookConfiguration")
}

/// The `default` tag also carries the cluster-wide validation: moving it regenerates
/// `istiod-default-validator` from the target revision's validating webhook, as
/// `istioctl tag set default` does; the other tags leave it alone, and a revision without a
/// validating webhook leaves it as it was, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_tag_takes_the_cluster_wide_validation_with_it() {
    let sandbox = harness::start_file(CANARY)
        .await
        .expect("start the sandbox");
    let conn = harness::connection(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("connect");
    let vwcs: Api<ValidatingWebhookConfiguration> = Api::all(conn.client.clone());
    let pp = kube::api::PostParams::default();
    let files = CliFiles::new(&sandbox);
    // `meshtop tag set TAG --revision 1-30-1 --overwrite [--dry-run]`, which must succeed:
    // its stdout.
    let set = |tag: &str, dry_run: bool| {
        let mut cmd = files.meshtop();
        cmd.args(["tag", "set", tag, "--revision", "1-30-1", "--overwrite"]);
        if dry_run {
            cmd.arg("--dry-run");
        }
        let out = process::run(&mut cmd);
        assert_eq!(out.code, Some(0), "{out}");
        out.stdout
    };
    let model = model_with_ready_istiod(&conn, "1-30-1").await;
    let preview: Vec<String> = preview_lines(&tag_set("default", "1-30-1", true, false), &model);
    assert!(
        preview.iter().any(|l| l.starts_with(
            "validatingwebhookconfiguration/istiod-default-validator: regenerated from the validating webhook of 1-30-1"
        )),
        "{preview:#?}"
    );
    // No validating webhook of 1-30-1 yet: said, nothing written.
    let out = set("default", true);
    assert!(
        out.ends_with(
            "; 1-30-1 has no validating webhook to copy: istiod-default-validator is unchanged\n"
        ),
        "{out}"
    );
    for v in [
        validator(
            "istiod-default-validator",
            "istiod-1-29-2",
            serde_json::json!({"app": "istiod", "istio.io/rev": "1-29-2", "istio.io/tag": "default"}),
        ),
        validator(
            "istio-validator-1-30-1-istio-system",
            "istiod-1-30-1",
            serde_json::json!({"app": "istiod", "istio": "istiod", "istio.io/rev": "1-30-1"}),
        ),
    ] {
        vwcs.create(&pp, &v).await.expect("create the validator");
    }
    let served_by = || async {
        let v = vwcs
            .get("istiod-default-validator")
            .await
            .expect("the default validator");
        let rev = v
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("istio.io/rev"))
            .cloned();
        let service = v
            .webhooks
            .unwrap_or_default()
            .first()
            .and_then(|w| w.client_config.service.as_ref())
            .map(|s| s.name.clone());
        (rev, service)
    };
    // Another tag leaves the validation alone.
    let out = set("prod-stable", false);
    assert!(!out.contains("validat"), "{out}");
    assert_eq!(
        served_by().await,
        (Some("1-29-2".into()), Some("istiod-1-29-2".into()))
    );
    // The dry run sends it with dryRun: unchanged.
    set("default", true);
    assert_eq!(
        served_by().await,
        (Some("1-29-2".into()), Some("istiod-1-29-2".into()))
    );
    let out = set("default", false);
    assert!(
        out.ends_with(
            "; validatingwebhookconfiguration/istiod-default-validator now validates for 1-30-1\n"
        ),
        "{out}"
    );
    assert_eq!(
        served_by().await,
        (Some("1-30-1".into()), Some("istiod-1-30-1".into()))
    );
    let mwc = Api::<MutatingWebhookConfiguration>::all(conn.client.clone())
        .get("istio-revision-tag-default")
        .await
        .expect("the default tag's webhook");
    assert_eq!(
        mwc.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("istio.io/rev"))
            .map(String::as_str),
        Some("1-30-1")
    );
}
