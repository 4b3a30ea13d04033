//! `install revision` and `install gateway` against the sandbox with the real kube client:
//! the operator route on the seed's cluster (a revision needs an operator of its own
//! revision; a gateway of 1-9-1 goes to the seed's operator), the namespace created and the
//! `istio-1-9-1` ConfigMap copied for a gateway, dry runs, `--readonly`, the checks that
//! reject bad input before anything is written, the audit log, the small cluster without an
//! operator (files saved, istioctl not on PATH), the CLI's exit codes, and kubectl reading
//! the result.

use std::path::Path;
use std::time::Duration;

use crate::common::harness;
use crate::common::process::{self, CliFiles, Run, audit_lines};
use crate::common::wait::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Service};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use meshtop::cluster::actions::{AuditLog, Executor};
use meshtop::cluster::{Connection, WatchOptions};
use meshtop::ops::ActionError;
use meshtop::ops::install::{
    GatewayForm, GatewayKind, InstallFacts, InstallPlan, OperatorDetection, PlanOptions,
    RevisionForm, Route, ServiceType, StepKind, find_on_path, parse_istio_operator, plan_gateway,
    plan_revision,
};
use serde_json::{Value, json};

const K1: &str = "assets/scenarios/k1-upgrade.yaml";
const SMALL: &str = "assets/scenarios/small.yaml";

fn iops(conn: &Connection) -> Api<DynamicObject> {
    let ar = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("install.istio.io", "v1alpha1", "IstioOperator"),
        "istiooperators",
    );
    Api::namespaced_with(conn.client.clone(), "istio-system", &ar)
}

async fn iop(conn: &Connection, name: &str) -> Option<Value> {
    iops(conn)
        .get_opt(name)
        .await
        .expect("get iop")
        .map(|o| serde_json::to_value(o).expect("json"))
}

async fn namespace_exists(conn: &Connection, name: &str) -> bool {
    Api::<Namespace>::all(conn.client.clone())
        .get_opt(name)
        .await
        .expect("get namespace")
        .is_some()
}

/// Plan options that never find istioctl (none is installed here, and a test must not
/// depend on one being installed elsewhere) and save under `dir`.
fn no_istioctl(dir: &Path) -> PlanOptions {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).expect("dir");
    PlanOptions {
        istioctl: find_on_path("istioctl", Some(empty.as_os_str())),
        force_istioctl: false,
        file: Some(dir.join("iop.yaml")),
        istioctl_args: Vec::new(),
        istioctl_kubeconfig: None,
        helm: None,
        helm_args: Vec::new(),
        chart: None,
    }
}

/// The install facts as `meshtop install` takes them: a model synced from fresh watches of
/// every namespace, then the mesh ConfigMaps' contents.
async fn facts(conn: &Connection) -> InstallFacts {
    let model = meshtop::app::synced_model(conn, WatchOptions::default(), Duration::from_secs(30))
        .await
        .expect("the initial sync");
    let facts = InstallFacts::from_model(&model, "istio-system").expect("every source listed");
    meshtop::cluster::actions::install::read_mesh_configs(&conn.client, facts)
        .await
        .expect("read the mesh ConfigMaps")
}

/// An operator Deployment for another revision, as `istioctl operator init --revision REV`
/// adds one: the seed's, renamed, with its own selector and `REVISION`.
async fn add_operator(conn: &Connection, revision: &str) {
    let api: Api<Deployment> = Api::namespaced(conn.client.clone(), "istio-operator");
    let seed = api
        .get("istio-operator-1-9-1")
        .await
        .expect("the seed's operator");
    let mut d = serde_json::to_value(seed).expect("json");
    let name = format!("istio-operator-{revision}");
    d["metadata"] = json!({"name": name, "namespace": "istio-operator"});
    d["spec"]["selector"] = json!({"matchLabels": {"name": name}});
    d["spec"]["template"]["metadata"]["labels"] = json!({"name": name});
    let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .expect("env");
    for e in env.iter_mut() {
        if e["name"] == "REVISION" {
            e["value"] = json!(revision);
        }
    }
    d.as_object_mut().expect("object").remove("status");
    let d: Deployment = serde_json::from_value(d).expect("deployment");
    api.create(&PostParams::default(), &d)
        .await
        .expect("create the operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_install_goes_through_an_operator_of_its_revision() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    let mut form = RevisionForm::new("1-10-0");
    form.tag = Some("1.10.0".into());
    form.node_selector
        .insert("taco-istio".into(), "enabled".into());
    form.hpa_min = Some(2);
    form.hpa_max = Some(10);

    // The seed's operator runs with REVISION=1-9-1: it would ignore a 1-10-0 resource.
    let plan = plan_revision(&form, &facts(&conn).await, &no_istioctl(dir.path())).expect("plan");
    match plan.operator() {
        OperatorDetection::OtherRevision { operators, .. } => {
            assert_eq!(operators[0].name, "istio-operator-1-9-1")
        }
        other => panic!("expected OtherRevision, got {other:?}"),
    }
    assert_eq!(plan.route(), &Route::SaveOnly);

    add_operator(&conn, "1-10-0").await;
    let plan = plan_revision(&form, &facts(&conn).await, &no_istioctl(dir.path())).expect("plan");
    assert_eq!(plan.route(), &Route::Operator);
    let preview = plan.preview();
    assert_eq!(
        preview[0],
        "1. apply istiooperator.install.istio.io/istio-controlplane-1-10-0 in istio-system \
         (server-side apply, field manager meshtop); operator istio-operator/istio-operator-1-10-0 \
         installs it"
    );

    // A dry run: the same request with dryRun=All, nothing stored.
    let out = exec.install(&plan, true).await.expect("dry run");
    assert_eq!(
        out.lines,
        vec!["istiooperator.install.istio.io/istio-controlplane-1-10-0 created (server dry run)"]
    );
    assert!(iop(&conn, "istio-controlplane-1-10-0").await.is_none());

    let out = exec.install(&plan, false).await.expect("install");
    assert!(out.installed);
    assert_eq!(
        out.lines,
        vec!["istiooperator.install.istio.io/istio-controlplane-1-10-0 created"]
    );
    let stored = iop(&conn, "istio-controlplane-1-10-0")
        .await
        .expect("the resource is stored");
    assert_eq!(stored["spec"], plan.iop()["spec"]);
    let managers: Vec<&str> = stored["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"meshtop"), "{managers:?}");

    // The operator brings up istiod-1-10-0: two replicas (hpaSpec.minReplicas), ready, on
    // the taco-istio nodes, and reports HEALTHY.
    let deployments: Api<Deployment> = Api::namespaced(conn.client.clone(), "istio-system");
    let istiod = eventually("istiod-1-10-0 ready", Duration::from_secs(30), || async {
        let d = deployments.get_opt("istiod-1-10-0").await.ok()??;
        let ready = d.status.as_ref()?.ready_replicas.unwrap_or(0);
        (ready >= 2).then_some(d)
    })
    .await;
    let istiod = serde_json::to_value(&istiod).expect("json");
    assert_eq!(
        istiod["spec"]["template"]["spec"]["containers"][0]["image"],
        "docker.io/istio/pilot:1.10.0"
    );
    let pods = Api::<Pod>::namespaced(conn.client.clone(), "istio-system")
        .list(&ListParams::default().labels("app=istiod,istio.io/rev=1-10-0"))
        .await
        .expect("pods");
    assert_eq!(pods.items.len(), 2);
    let nodes = Api::<Node>::all(conn.client.clone());
    for p in &pods.items {
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .expect("scheduled");
        let labels = nodes
            .get(&node)
            .await
            .expect("node")
            .metadata
            .labels
            .unwrap_or_default();
        assert_eq!(
            labels.get("taco-istio").map(String::as_str),
            Some("enabled"),
            "{node}"
        );
    }
    eventually("the resource HEALTHY", Duration::from_secs(30), || async {
        let v = iop(&conn, "istio-controlplane-1-10-0").await?;
        (v["status"]["status"] == "HEALTHY").then_some(())
    })
    .await;

    // Now the revision is in use: a second install is refused before any write.
    let e =
        plan_revision(&form, &facts(&conn).await, &no_istioctl(dir.path())).expect_err("in use");
    assert!(e.is_bad_input(), "{e:?}");
    assert!(
        e.to_string().contains("revision 1-10-0 is already in use"),
        "{e}"
    );

    let lines = audit_lines(&audit);
    let seen: Vec<(&str, &str, bool, &str)> = lines
        .iter()
        .map(|l| {
            (
                l.action.as_str(),
                l.target.as_str(),
                l.dry_run,
                l.result.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "install revision 1-10-0",
                "istiooperator/istio-system/istio-controlplane-1-10-0",
                true,
                "ok"
            ),
            (
                "install revision 1-10-0",
                "istiooperator/istio-system/istio-controlplane-1-10-0",
                false,
                "ok"
            ),
        ]
    );
}

fn shop_gateway() -> GatewayForm {
    let mut f = GatewayForm::new(
        "istio-gateway-shop",
        GatewayForm::suggested_name(GatewayKind::Ingress, "istio-gateway-shop"),
        "1-9-1",
    );
    f.service_type = Some(ServiceType::NodePort);
    f.http_node_port = Some(31082);
    f.https_node_port = Some(31444);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_install_creates_the_namespace_copies_the_config_map_and_comes_up() {
    let (sandbox, conn) = harness::connected(K1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    let form = shop_gateway();
    let plan = plan_gateway(&form, &facts(&conn).await, &no_istioctl(dir.path())).expect("plan");
    assert_eq!(plan.route(), &Route::Operator);
    let kinds: Vec<&StepKind> = plan.steps().iter().map(|s| &s.kind).collect();
    assert!(
        matches!(kinds[0], StepKind::CreateNamespace { .. }),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[1], StepKind::CopyConfigMap { .. }),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[2], StepKind::ApplyIstioOperator),
        "{kinds:?}"
    );

    // The dry run sends the namespace and the resource with dryRun=All; the ConfigMap
    // cannot be sent into a namespace that does not exist yet, and says so.
    let out = exec.install(&plan, true).await.expect("dry run");
    assert_eq!(
        out.lines,
        vec![
            "namespace/istio-gateway-shop created (server dry run)".to_string(),
            "configmap/istio-1-9-1 would be copied to istio-gateway-shop (not sent in the server \
             dry run: namespace/istio-gateway-shop does not exist before this install)"
                .to_string(),
            "istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-shop created \
             (server dry run)"
                .to_string(),
        ]
    );
    assert!(!namespace_exists(&conn, "istio-gateway-shop").await);
    assert!(
        iop(&conn, "istio-ingressgateway-istio-gateway-shop")
            .await
            .is_none()
    );

    let out = exec.install(&plan, false).await.expect("install");
    assert_eq!(
        out.lines,
        vec![
            "namespace/istio-gateway-shop created",
            "configmap/istio-1-9-1 copied to istio-gateway-shop",
            "istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-shop created",
        ]
    );
    assert!(namespace_exists(&conn, "istio-gateway-shop").await);
    let source = Api::<ConfigMap>::namespaced(conn.client.clone(), "istio-system")
        .get("istio-1-9-1")
        .await
        .expect("source");
    let copy = Api::<ConfigMap>::namespaced(conn.client.clone(), "istio-gateway-shop")
        .get("istio-1-9-1")
        .await
        .expect("the copy");
    assert_eq!(copy.data, source.data);
    let labels = copy.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.get("istio.io/rev").map(String::as_str),
        Some("1-9-1")
    );
    assert!(
        !labels.keys().any(|k| k.contains("operator.istio.io")),
        "{labels:?}"
    );

    // The seed's operator (1-9-1, watching istio-system) installs the gateway.
    let deployments: Api<Deployment> = Api::namespaced(conn.client.clone(), "istio-gateway-shop");
    let gw = eventually("the gateway ready", Duration::from_secs(30), || async {
        let d = deployments
            .get_opt("istio-ingressgateway-istio-gateway-shop")
            .await
            .ok()??;
        (d.status.as_ref()?.ready_replicas.unwrap_or(0) >= 1).then_some(d)
    })
    .await;
    let gw = serde_json::to_value(&gw).expect("json");
    assert_eq!(
        gw["spec"]["selector"]["matchLabels"],
        json!({"app": "istio-ingressgateway-istio-gateway-shop", "istio": "ingressgateway-istio-gateway-shop"})
    );
    let svc = Api::<Service>::namespaced(conn.client.clone(), "istio-gateway-shop")
        .get("istio-ingressgateway-istio-gateway-shop")
        .await
        .expect("service");
    let spec = svc.spec.expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    let node_ports: Vec<i32> = spec
        .ports
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.node_port)
        .collect();
    assert!(
        node_ports.contains(&31082) && node_ports.contains(&31444),
        "{node_ports:?}"
    );
    eventually("the resource HEALTHY", Duration::from_secs(30), || async {
        let v = iop(&conn, "istio-ingressgateway-istio-gateway-shop").await?;
        (v["status"]["status"] == "HEALTHY").then_some(())
    })
    .await;

    // kubectl, an independent client, reads the result: `kubectl get iop -A`.
    {
        let files = CliFiles::new(&sandbox);
        let kubectl = |args: &[&str]| {
            tokio::process::Command::from(process::kubectl_at(&files.kubeconfig))
                .args(args)
                .output()
        };
        let out = Run::from(
            kubectl(&["get", "iop", "-A"])
                .await
                .expect("kubectl get iop -A"),
        );
        assert_eq!(out.code, Some(0), "{out}");
        let stdout = &out.stdout;
        let row = stdout
            .lines()
            .find(|l| l.contains("istio-ingressgateway-istio-gateway-shop"))
            .unwrap_or_else(|| panic!("no row for the new resource:\n{stdout}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            &cols[..4],
            [
                "istio-system",
                "istio-ingressgateway-istio-gateway-shop",
                "1-9-1",
                "HEALTHY"
            ],
            "{stdout}"
        );
        assert_eq!(
            stdout.lines().filter(|l| l.contains("HEALTHY")).count(),
            3,
            "{stdout}"
        );
        let out = kubectl(&[
            "get",
            "configmap",
            "istio-1-9-1",
            "-n",
            "istio-gateway-shop",
            "-o",
            "jsonpath={.metadata.annotations}",
        ])
        .await
        .expect("kubectl get configmap");
        let annotations = Run::from(out).stdout;
        assert!(
            annotations.contains("istio-system/istio-1-9-1"),
            "{annotations}"
        );
    }

    // The gateway now holds its labels and node ports: another one with them is refused.
    let mut again = shop_gateway();
    again.name = "second-gateway".into();
    let e = plan_gateway(&again, &facts(&conn).await, &no_istioctl(dir.path()))
        .expect_err("labels of another gateway");
    let text = e.to_string();
    assert!(
        text.contains("node port 31082 is already used by service/istio-gateway-shop/"),
        "{text}"
    );
    assert_eq!(audit_lines(&audit).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_clashes_and_readonly_write_nothing() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let facts = facts(&conn).await;
    let opts = no_istioctl(dir.path());

    // Names: the forms reject them on their own, without a cluster.
    for bad in ["1.10.0", "Canary", "-x", "default", &"r".repeat(57)] {
        let e = RevisionForm::new(bad).validate().expect_err(bad);
        assert!(matches!(e, ActionError::Invalid(_)), "{bad}: {e:?}");
    }
    for (ns, name) in [
        ("Shop", "gw"),
        ("shop_1", "gw"),
        ("shop", "1gw"),
        ("shop", "Gw"),
    ] {
        let e = GatewayForm::new(ns, name, "1-9-1")
            .validate()
            .expect_err(name);
        assert!(matches!(e, ActionError::Invalid(_)), "{ns}/{name}: {e:?}");
    }

    // Clashes with the cluster: refused at planning, before any write.
    let mut clash = Vec::new();
    clash.push(plan_revision(&RevisionForm::new("1-9-1"), &facts, &opts).expect_err("in use"));
    let mut f = shop_gateway();
    f.labels.insert("app".into(), "istio-ingressgateway".into());
    clash.push(plan_gateway(&f, &facts, &opts).expect_err("labels"));
    let mut f = shop_gateway();
    f.https_node_port = Some(31443);
    clash.push(plan_gateway(&f, &facts, &opts).expect_err("node port"));
    let wants = [
        "revision 1-9-1 is already in use",
        "label app=istio-ingressgateway already selects gateway istio-system/istio-ingressgateway",
        "node port 31443 is already used by service/istio-gateway-sample/istio-ingressgateway-istio-gateway-sample",
    ];
    for (e, want) in clash.iter().zip(wants) {
        assert!(matches!(e, ActionError::Invalid(_)), "{e:?}");
        assert!(e.to_string().contains(want), "{want}: {e}");
    }

    // --readonly: a valid plan is refused before any request, and nothing is audited.
    let plan = plan_gateway(&shop_gateway(), &facts, &opts).expect("plan");
    let readonly = Executor::new(&conn, true, Some(AuditLog::new(&audit)));
    for dry_run in [false, true] {
        let e = readonly
            .install(&plan, dry_run)
            .await
            .expect_err("readonly");
        assert!(matches!(e, ActionError::Readonly { .. }), "{e:?}");
        assert!(e.to_string().contains("--readonly"), "{e}");
    }
    assert!(!namespace_exists(&conn, "istio-gateway-shop").await);
    assert!(
        iop(&conn, "istio-ingressgateway-istio-gateway-shop")
            .await
            .is_none()
    );
    assert!(audit_lines(&audit).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_operator_the_files_are_saved_and_nothing_changes() {
    let (_sandbox, conn) = harness::connected(SMALL).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let exec = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    let facts = facts(&conn).await;
    let opts = no_istioctl(dir.path());

    let plan = plan_revision(&RevisionForm::new("r2"), &facts, &opts).expect("plan");
    assert_eq!(plan.operator(), &OperatorDetection::NoOperator);
    assert_eq!(plan.route(), &Route::SaveOnly);
    let preview = plan.preview().join("\n");
    assert!(
        preview.contains("operator: no operator: the IstioOperator CRD is installed but no operator Deployment runs"),
        "{preview}"
    );
    assert!(preview.contains("istioctl is not on PATH"), "{preview}");
    let out = exec.install(&plan, false).await.expect("saved");
    assert!(!out.installed);
    let file = dir.path().join("iop.yaml");
    assert_eq!(out.saved, vec![file.clone()]);
    assert_eq!(out.lines, vec![format!("saved {}", file.display())]);
    let saved = std::fs::read_to_string(&file).expect("the saved file");
    assert_eq!(
        &parse_istio_operator(&saved).expect("an IstioOperator"),
        plan.iop()
    );
    assert!(iop(&conn, "istio-controlplane-r2").await.is_none());

    // A gateway: the namespace and the ConfigMap copy go to a second file, applied first.
    let f = GatewayForm::new("edge", "istio-ingressgateway-edge", "canary");
    let plan: InstallPlan = plan_gateway(&f, &facts, &opts).expect("plan");
    let out = exec.install(&plan, false).await.expect("saved");
    let pre = dir.path().join("iop.prerequisites.yaml");
    assert_eq!(out.saved, vec![pre.clone(), file.clone()]);
    let text = std::fs::read_to_string(&pre).expect("prerequisites");
    assert!(
        text.contains("kind: Namespace") && text.contains("name: istio-canary"),
        "{text}"
    );
    assert!(!namespace_exists(&conn, "edge").await);

    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].action, "install revision r2 (saved to files only)");
    // Not a success: nothing was installed, and the line says so and where the files are.
    assert_eq!(
        lines[0].result,
        format!(
            "not installed: no operator acts on the resource ({}) and istioctl is not on PATH; \
             the files are saved: {}",
            OperatorDetection::NoOperator.describe(),
            file.display()
        )
    );
    assert!(
        lines[1].result.ends_with(&format!(
            "the files are saved: {}, {}",
            pre.display(),
            file.display()
        )),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.dry_run));

    // A dry run writes no file either.
    let elsewhere = PlanOptions {
        file: Some(dir.path().join("dry/iop.yaml")),
        ..no_istioctl(dir.path())
    };
    let plan = plan_revision(&RevisionForm::new("r3"), &facts, &elsewhere).expect("plan");
    let out = exec.install(&plan, true).await.expect("a dry run");
    assert!(out.saved.is_empty());
    assert_eq!(
        out.lines,
        vec![format!(
            "would save {} (dry run: nothing written)",
            dir.path().join("dry/iop.yaml").display()
        )]
    );
    assert!(!dir.path().join("dry").exists());
    let last = audit_lines(&audit).pop().expect("audited");
    assert!(last.dry_run);
    assert!(
        last.result
            .contains("the files would be saved (dry run: nothing written)"),
        "{last:?}"
    );
}

#[test]
fn cli_install_exit_codes_and_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log").display().to_string();
    let log = dir.path().join("meshtop.log").display().to_string();
    let empty_path = dir.path().join("bin");
    std::fs::create_dir_all(&empty_path).expect("dir");
    let empty_path = empty_path.display().to_string();
    let run = |demo: &str, extra: &[&str], env: &[(&str, &str)]| {
        process::run(
            process::meshtop()
                .args([
                    "--demo-scenario",
                    demo,
                    "--log-file",
                    &log,
                    "--audit-log",
                    &audit,
                ])
                .args(extra)
                .envs(env.iter().copied()),
        )
    };
    let k1 = |extra: &[&str]| run(K1, extra, &[]);

    // Bad input: exit 2 before any connection (a kubeconfig that does not exist is never read).
    for (args, want) in [
        (
            vec!["install", "revision", "--rev", "1.10.0"],
            "invalid revision \"1.10.0\"",
        ),
        (
            vec![
                "install",
                "revision",
                "--rev",
                "canary",
                "--hpa-min",
                "4",
                "--hpa-max",
                "2",
            ],
            "minimum 4 is above the maximum 2",
        ),
        (
            vec![
                "install",
                "gateway",
                "--namespace",
                "Shop",
                "--name",
                "gw",
                "--rev",
                "1-9-1",
            ],
            "invalid namespace \"Shop\"",
        ),
        (
            vec!["install", "gateway", "--name", "gw", "--rev", "1-9-1"],
            "--namespace NS",
        ),
        (
            vec![
                "install",
                "gateway",
                "--namespace",
                "shop",
                "--name",
                "gw",
                "--rev",
                "1-9-1",
                "--http-node-port",
                "8080",
            ],
            "outside the node port range",
        ),
    ] {
        let out = process::run(
            process::meshtop()
                .args(["--kubeconfig", "/nonexistent/kubeconfig"])
                .args(&args),
        );
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains(want), "{want}: {out}");
    }
    let out = k1(&["--readonly", "install", "revision", "--rev", "1-10-0"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--readonly"), "{out}");
    let out = k1(&["install", "revision", "--rev", "1-9-1"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("already in use"), "{out}");
    let gw = [
        "install",
        "gateway",
        "--namespace",
        "istio-gateway-shop",
        "--name",
        "istio-ingressgateway-istio-gateway-shop",
        "--rev",
        "1-9-1",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [&gw[..], extra].concat() };
    let out = k1(&with(&["--label", "istio=ingressgateway"]));
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr
            .contains("already selects gateway istio-system/istio-ingressgateway"),
        "{out}"
    );
    let out = k1(&with(&["--http-node-port", "31080"]));
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr.contains("node port 31080 is already used"),
        "{out}"
    );

    // -o yaml: the objects, nothing applied (allowed under --readonly).
    let out = k1(&with(&["--readonly", "-o", "yaml"]));
    assert_eq!(out.code, Some(0), "{out}");
    let yaml = &out.stdout;
    let kinds: Vec<String> = serde_yaml::Deserializer::from_str(yaml)
        .map(|d| {
            let v: Value = serde::Deserialize::deserialize(d).expect("yaml");
            v["kind"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap", "IstioOperator"], "{yaml}");

    // A dry run prints the preview, then kubectl's lines.
    let out = k1(&with(&["--dry-run"]));
    assert_eq!(out.code, Some(0), "{out}");
    let stdout = &out.stdout;
    assert!(stdout.starts_with(
        "install gateway istio-gateway-shop/istio-ingressgateway-istio-gateway-shop (revision 1-9-1) on context meshtop-sandbox:\n  1. create namespace/istio-gateway-shop"
    ), "{stdout}");
    assert!(
        stdout.contains("\nnamespace/istio-gateway-shop created (server dry run)\n"),
        "{stdout}"
    );
    assert!(stdout.contains(
        "\nistiooperator.install.istio.io/istio-ingressgateway-istio-gateway-shop created (server dry run)\n"
    ), "{stdout}");

    // --edit: the edited resource is checked again; a clashing label is refused (exit 2).
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/istio: ingressgateway-istio-gateway-shop/istio: ingressgateway/' \"$1\"\n",
    )
    .expect("editor");
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let editor = editor.display().to_string();
    let out = run(K1, &with(&["--edit", "--dry-run"]), &[("EDITOR", &editor)]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr
            .contains("label istio=ingressgateway already selects"),
        "{out}"
    );

    // No operator, no istioctl: the file is saved, and the exit code says nothing was installed.
    let file = dir.path().join("r2.yaml");
    let file_arg = file.display().to_string();
    let out = run(
        SMALL,
        &["install", "revision", "--rev", "r2", "--file", &file_arg],
        &[("PATH", &empty_path)],
    );
    assert_eq!(out.code, Some(1), "{out}");
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(stdout.contains("operator: no operator"), "{stdout}");
    assert!(stdout.contains(&format!("saved {file_arg}\n")), "{stdout}");
    assert!(stderr.contains("istioctl is not on PATH"), "{stderr}");
    assert!(parse_istio_operator(&std::fs::read_to_string(&file).expect("saved")).is_ok());

    // Refusals are not audited; the dry run and the save are.
    let lines = audit_lines(Path::new(&audit));
    let seen: Vec<(&str, bool)> = lines
        .iter()
        .map(|l| (l.action.as_str(), l.dry_run))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "install gateway istio-gateway-shop/istio-ingressgateway-istio-gateway-shop (revision 1-9-1)",
                true
            ),
            ("install revision r2 (saved to files only)", false),
        ]
    );
}
