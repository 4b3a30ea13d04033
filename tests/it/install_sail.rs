//! The Sail route, at the command line, on a mesh the Sail operator manages
//! (tests/data/sail-mesh.yaml: an Istio `default`, RevisionBased, at v1.29.2, whose
//! IstioRevision default-v1-29-2 the sandbox reconciles into istiod as the operator does). A
//! new revision is an IstioRevision applied with meshtop's field manager; the sandbox's Sail
//! controller installs its istiod, owned by the IstioRevision; `meshtop get revisions` reads
//! it back as installed by Sail. Uninstalling it deletes the IstioRevision, and istiod goes
//! with it.

use std::time::Duration;

use super::install_istioctl::{deployment, ready};
use super::uninstall_actions::uninstall_preview;
use crate::common::harness;
use crate::common::process::{self, CliFiles, audit_steps, step};
use crate::common::wait::eventually;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

const SAIL: &str = "tests/data/sail-mesh.yaml";
const REV: &str = "default-v1-30-1";

fn istio_revisions(client: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("sailoperator.io", "v1", "IstioRevision"),
            "istiorevisions",
        ),
    )
}

/// The IstioRevision's condition `type`'s status, once the sandbox wrote one.
fn condition(rev: &DynamicObject, type_: &str) -> Option<String> {
    rev.data
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?["status"]
        .as_str()
        .map(str::to_string)
}

/// `meshtop get revisions -o json`'s row for `rev`.
fn revision_row(files: &CliFiles, rev: &str) -> Option<Value> {
    let out = process::run(files.meshtop().args(["get", "revisions", "-o", "json"]));
    assert_eq!(out.code, Some(0), "{out}");
    let rows: Value = serde_json::from_str(&out.stdout).expect("JSON");
    rows.as_array()?
        .iter()
        .find(|r| r["revision"] == rev)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sail_managed_mesh_gets_its_new_revision_as_an_istio_revision() {
    let sandbox = harness::start_file(SAIL).await.expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    // The scenario's Istio made its revision, and the revision its istiod, owned by it.
    ready(&client, "istio-system", "istiod-default-v1-29-2").await;
    let istiod = deployment(&client, "istio-system", "istiod-default-v1-29-2")
        .await
        .expect("istiod");
    let owner = istiod
        .metadata
        .owner_references
        .as_deref()
        .and_then(|r| r.first())
        .map(|r| format!("{}/{}", r.kind, r.name));
    assert_eq!(owner.as_deref(), Some("IstioRevision/default-v1-29-2"));
    let files = CliFiles::new(&sandbox);
    let row = revision_row(&files, "default-v1-29-2").expect("the Sail revision");
    assert_eq!(
        row["installed_by"], "sail IstioRevision/default-v1-29-2",
        "{row}"
    );

    let install = [
        "install",
        "revision",
        "--rev",
        REV,
        "--tag",
        "1.30.1",
        "--hpa-min",
        "2",
    ];
    let run = |extra: &[&str]| process::run(files.meshtop().args(install).args(extra));

    // -o yaml: the resource, nothing sent.
    let out = run(&["-o", "yaml"]);
    assert_eq!(out.code, Some(0), "{out}");
    let resource: Value = serde_yaml::from_str(&out.stdout).expect("YAML");
    assert_eq!(
        resource,
        json!({
            "apiVersion": "sailoperator.io/v1",
            "kind": "IstioRevision",
            "metadata": {"name": REV},
            "spec": {"version": "v1.30.1", "namespace": "istio-system", "values": {
                "revision": REV,
                "global": {"istioNamespace": "istio-system"},
                "pilot": {"autoscaleMin": 2, "autoscaleMax": 5},
            }},
        })
    );

    // The dry run: the server's, which stores nothing.
    let out = run(&["--dry-run"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        format!(
            "install revision {REV} on context {ctx}:\n  1. apply \
             istiorevision.sailoperator.io/{REV} (version v1.30.1; server-side apply, field \
             manager meshtop); the Sail operator installs its istiod\n  installer: sail (the \
             Sail operator manages the cluster's revisions: IstioRevision/default-v1-29-2)\n\
             istiorevision.sailoperator.io/{REV} created (server dry run)\n",
            ctx = harness::ADMIN_CONTEXT
        )
    );
    assert!(
        istio_revisions(&client)
            .get_opt(REV)
            .await
            .expect("get")
            .is_none()
    );
    assert!(revision_row(&files, REV).is_none());

    // The install: the IstioRevision, then its istiod, Ready with its autoscaler's minimum.
    let out = run(&[]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .ends_with(&format!("istiorevision.sailoperator.io/{REV} created\n")),
        "{out}"
    );
    let name = format!("istiod-{REV}");
    ready(&client, "istio-system", &name).await;
    let d = deployment(&client, "istio-system", &name)
        .await
        .expect("istiod");
    assert_eq!(d.spec.replicas, Some(2));
    let revs = istio_revisions(&client);
    eventually(
        "the new IstioRevision Ready and Reconciled",
        Duration::from_secs(30),
        || async {
            let r = revs.get(REV).await.ok()?;
            (condition(&r, "Ready").as_deref() == Some("True")
                && condition(&r, "Reconciled").as_deref() == Some("True")
                && condition(&r, "InUse").as_deref() == Some("False"))
            .then_some(())
        },
    )
    .await;
    let stored = revs.get(REV).await.expect("stored");
    let managers: Vec<&str> = stored
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.as_deref())
        .collect();
    assert!(managers.contains(&"meshtop"), "{managers:?}");
    let row = revision_row(&files, REV).expect("the new revision");
    assert_eq!(
        row["installed_by"],
        format!("sail IstioRevision/{REV}"),
        "{row}"
    );
    assert_eq!(row["version"], "1.30.1", "{row}");

    // kubectl reads the Sail resources with their printer columns.
    let listed = process::run(process::kubectl_at(&files.kubeconfig).args([
        "get",
        "istiorevisions",
        "--no-headers",
    ]));
    assert_eq!(listed.code, Some(0), "{listed}");
    assert!(
        listed.stdout.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.first() == Some(&REV) && cols.get(2) == Some(&"True") && cols.contains(&"v1.30.1")
        }),
        "{listed}"
    );

    // An IstioRevision without an istiod (pilot turned off) is no revision the model sees:
    // the install finds it before it writes, and changes nothing.
    let spare = json!({
        "apiVersion": "sailoperator.io/v1", "kind": "IstioRevision",
        "metadata": {"name": "spare"},
        "spec": {"version": "v1.30.1", "namespace": "istio-system",
                 "values": {"revision": "spare", "pilot": {"enabled": false}}},
    });
    revs.create(
        &kube::api::PostParams::default(),
        &serde_json::from_value(spare).expect("an object"),
    )
    .await
    .expect("create spare");
    let out = process::run(
        files
            .meshtop()
            .args(["install", "revision", "--rev", "spare", "--tag", "1.31.0"]),
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains("istiorevision.sailoperator.io/spare already exists: nothing was changed"),
        "{out}"
    );
    let kept = revs.get("spare").await.expect("spare");
    assert_eq!(kept.data["spec"]["version"], "v1.30.1");

    // In use now: a second install is refused before anything is sent.
    let out = run(&[]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr
            .contains(&format!("revision {REV} is already in use")),
        "{out}"
    );

    let action = format!("install revision {REV} (sail)");
    let target = format!("istiorevision/{REV}");
    assert_eq!(
        audit_steps(&files.audit),
        [
            step(&action, &target, true, "ok"),
            step(&action, &target, false, "ok"),
            step(
                "install revision spare (sail)",
                "istiorevision/spare",
                false,
                "istiorevision.sailoperator.io/spare already exists: nothing was changed; \
                 choose another revision name"
            ),
        ]
    );

    // Uninstall through Sail: the revision in use is refused; the new one is its
    // IstioRevision deleted, istiod and its webhook going with it.
    let uninstall =
        |extra: &[&str]| process::run(files.meshtop().args(["uninstall", "revision"]).args(extra));
    let out = uninstall(&["default-v1-29-2"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("1 namespace select it: shop"), "{out}");
    // The preview (the TUI's X and the CLI read the same plan) says it goes through Sail.
    let conn = harness::connection(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("connect");
    let lines = uninstall_preview(&conn, REV, false).await;
    assert_eq!(
        lines,
        [
            format!(
                "uninstall revision {REV} through Sail: nothing uses it (no namespace, tag or \
                 proxy); deletes:"
            ),
            format!("  istiorevision.sailoperator.io/{REV}"),
            format!(
                "the Sail operator's istiod, webhooks and ConfigMaps of the revision are owned \
                 by istiorevision {REV} and go with it"
            ),
        ]
    );
    let out = uninstall(&[REV, "--dry-run"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stdout,
        format!(
            "istiorevision.sailoperator.io \"{REV}\" deleted (server dry run)\nrevision {REV} \
             uninstalled (server dry run): 1 object deleted, 0 not found\n"
        )
    );
    assert!(revs.get_opt(REV).await.expect("get").is_some());
    assert!(deployment(&client, "istio-system", &name).await.is_some());
    let out = uninstall(&[REV]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(revs.get_opt(REV).await.expect("get").is_none());
    eventually(
        "istiod of the uninstalled revision gone",
        Duration::from_secs(30),
        || async {
            deployment(&client, "istio-system", &name)
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;
    let webhooks = Api::<MutatingWebhookConfiguration>::all(client.clone());
    let hook = format!("istio-sidecar-injector-{REV}");
    assert!(webhooks.get_opt(&hook).await.expect("get").is_none());
    assert!(revision_row(&files, REV).is_none());
    assert!(
        deployment(&client, "istio-system", "istiod-default-v1-29-2")
            .await
            .is_some()
    );
    let deleted = format!("istiorevision/{REV}");
    assert_eq!(
        audit_steps(&files.audit)[3..],
        [
            step("uninstall: delete", &deleted, true, "ok"),
            step("uninstall: delete", &deleted, false, "ok"),
        ]
    );
}

/// The Istio's active revision, used by nothing, is refused: the Sail operator would create
/// it again at once. Nothing is deleted, and the refusal is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_revision_of_an_istio_is_not_uninstalled_under_it() {
    let scenario = std::fs::read_to_string(SAIL).expect("the scenario");
    let unused = scenario.replace("    istio.io/rev: default-v1-29-2\n", "");
    assert_ne!(unused, scenario);
    let sandbox = harness::start_text(&unused).await.expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    ready(&client, "istio-system", "istiod-default-v1-29-2").await;
    let files = CliFiles::new(&sandbox);
    for extra in [&["--dry-run"][..], &[]] {
        let out = process::run(
            files
                .meshtop()
                .args(["uninstall", "revision", "default-v1-29-2"])
                .args(extra),
        );
        assert_eq!(out.code, Some(1), "{out}");
        assert!(
            out.stderr.contains(
                "istiorevision.sailoperator.io/default-v1-29-2 is the active revision of istio \
                 default: the Sail operator would create it again"
            ),
            "{out}"
        );
    }
    assert!(
        istio_revisions(&client)
            .get_opt("default-v1-29-2")
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        deployment(&client, "istio-system", "istiod-default-v1-29-2")
            .await
            .is_some()
    );
    let results: Vec<(bool, bool)> = audit_steps(&files.audit)
        .into_iter()
        .map(|(_, target, dry_run, result)| {
            assert_eq!(target, "istiorevision/default-v1-29-2");
            (dry_run, result.contains("is the active revision"))
        })
        .collect();
    assert_eq!(results, [(true, true), (false, true)]);
}
