//! The 2026 mesh of the built-in scenario `canary-2026` in the sandbox: what the installed
//! kubectl and the kube client see (Gateway API gateways istiod deployed, GatewayClasses, tag
//! webhooks, ztunnel and CNI on every node, native sidecars), and injection that follows
//! where a tag's webhooks call rather than its labels.

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::json;

use crate::common::harness;
use crate::common::process::SandboxProcess;
use crate::common::wait::{eventually, eventually_blocking};

const WITHIN: Duration = Duration::from_secs(20);

/// Rows of a kubectl table as whitespace-split cells (header first).
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn kubectl_until(sb: &SandboxProcess, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    eventually_blocking(
        &format!("kubectl {args:?} to satisfy the check"),
        WITHIN,
        || {
            let out = sb.kubectl_ok(args);
            if check(&out) { Ok(out) } else { Err(out) }
        },
    )
}

#[test]
fn kubectl_lists_gateways_classes_tags_and_node_agents() {
    // `meshtop sandbox` takes the built-in scenario by name.
    let sb = SandboxProcess::start("canary-2026");

    let out = kubectl_until(&sb, &["get", "gtw", "-A"], |o| {
        o.lines().filter(|l| l.contains(" True ")).count() == 2
    });
    let rows = rows(&out);
    assert_eq!(
        rows[0],
        ["NAMESPACE", "NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    );
    let gw: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[1].as_str(), r[2].as_str(), r[r.len() - 2].as_str()))
        .collect();
    assert_eq!(
        gw,
        [
            ("waypoint", "istio-waypoint", "True"),
            ("partner-edge", "istio", "False"),
            ("public", "istio", "True"),
        ]
    );
    let public = rows.iter().find(|r| r[1] == "public").expect("public");
    assert!(public[3].starts_with("203.0.113."), "{public:?}");
    // The full name answers the same.
    let full = sb.kubectl_ok(&[
        "get",
        "gateways.gateway.networking.k8s.io",
        "-A",
        "-o",
        "name",
    ]);
    assert_eq!(full.lines().count(), 3, "{full}");

    let out = sb.kubectl_ok(&["get", "gatewayclass"]);
    let rows = self::rows(&out);
    assert_eq!(rows[0], ["NAME", "CONTROLLER", "ACCEPTED", "AGE"]);
    let classes: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        classes,
        [
            ("istio", "istio.io/gateway-controller", "True"),
            ("istio-remote", "istio.io/unmanaged-gateway", "True"),
            ("istio-waypoint", "istio.io/mesh-controller", "True"),
        ]
    );

    let out = sb.kubectl_ok(&[
        "get",
        "mutatingwebhookconfigurations",
        "-l",
        "istio.io/tag",
        "-L",
        "istio.io/rev",
    ]);
    let tags: Vec<(String, String)> = self::rows(&out)[1..]
        .iter()
        .map(|r| (r[0].clone(), r[r.len() - 1].clone()))
        .collect();
    let tags: Vec<(&str, &str)> = tags.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        tags,
        [
            ("istio-revision-tag-canary", "1-30-1"),
            ("istio-revision-tag-default", "1-29-2"),
            ("istio-revision-tag-legacy", "1-27-4"),
            ("istio-revision-tag-prod-stable", "1-29-2"),
        ]
    );

    let out = sb.kubectl_ok(&["get", "ds", "-n", "istio-system"]);
    let ds: Vec<(String, String, String)> = self::rows(&out)[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        ds,
        [
            (
                "istio-cni-node".to_string(),
                "9".to_string(),
                "9".to_string()
            ),
            ("ztunnel".to_string(), "9".to_string(), "9".to_string()),
        ]
    );

    // Native sidecars count in READY as kubectl counts them.
    let out = kubectl_until(&sb, &["get", "pods", "-n", "payments"], |o| {
        o.lines().skip(1).all(|l| l.contains(" 2/2 "))
    });
    assert_eq!(out.lines().count(), 1 + 6, "{out}");
    let all = sb.kubectl_ok(&["get", "pods", "-A", "--no-headers"]);
    assert!(all.lines().count() > 50, "{all}");
    assert!(
        all.lines()
            .any(|l| l.starts_with("istio-system") && l.contains("ztunnel-7xk2p"))
    );

    // A tag webhook relabelled with kubectl is taken, as a real API server takes it.
    sb.kubectl_ok(&[
        "label",
        "mutatingwebhookconfiguration",
        "istio-revision-tag-prod-stable",
        "istio.io/rev=1-30-1",
        "--overwrite",
    ]);
    let rev = sb.kubectl_ok(&[
        "get",
        "mutatingwebhookconfiguration",
        "istio-revision-tag-prod-stable",
        "-o",
        "jsonpath={.metadata.labels.istio\\.io/rev}",
    ]);
    assert_eq!(rev, "1-30-1");
}

fn gvk(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        kind,
    ))
}

fn injected_by(pod: &Pod) -> Option<String> {
    let status = pod
        .metadata
        .annotations
        .as_ref()?
        .get("sidecar.istio.io/status")?;
    let v: serde_json::Value = serde_json::from_str(status).ok()?;
    v["revision"].as_str().map(str::to_string)
}

async fn new_pod(pods: &Api<Pod>, name: &str) -> Pod {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "shop/app:1"}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod")
}

#[tokio::test]
async fn the_kube_client_sees_the_mesh_and_injection_follows_the_tag_webhooks() {
    let sandbox = harness::start_file("assets/scenarios/canary-2026.yaml")
        .await
        .expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");

    let gateways: Api<DynamicObject> = Api::all_with(client.clone(), &gvk("Gateway"));
    let list = gateways
        .list(&ListParams::default())
        .await
        .expect("gateways");
    let mut names: Vec<String> = list
        .items
        .iter()
        .filter_map(|g| g.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["partner-edge", "public", "waypoint"]);
    let public: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "ingress", &gvk("Gateway"));
    eventually("public to be Programmed", WITHIN, || {
        let public = public.clone();
        async move {
            let g = public.get("public").await.map_err(|e| e.to_string())?;
            let conds = g.data["status"]["conditions"].clone();
            let programmed = conds
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Programmed"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            if programmed {
                Ok(())
            } else {
                Err(format!("{conds}"))
            }
        }
    })
    .await;
    let istio_pods: Api<Pod> = Api::namespaced(client.clone(), "istio-system");
    let ztunnels = istio_pods
        .list(&ListParams::default().labels("app=ztunnel"))
        .await
        .expect("ztunnels");
    assert_eq!(ztunnels.items.len(), 9);

    // payments is on prod-stable: 1-29-2, a native sidecar.
    let payments: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let p = new_pod(&payments, "probe-a").await;
    assert_eq!(injected_by(&p).as_deref(), Some("1-29-2"));
    let inits = p
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.clone())
        .unwrap_or_default();
    let proxy = inits
        .iter()
        .find(|c| c.name == "istio-proxy")
        .expect("native sidecar");
    assert_eq!(proxy.restart_policy.as_deref(), Some("Always"));

    // Relabelling the tag's webhook configuration moves nothing...
    let mwcs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    mwcs.patch(
        "istio-revision-tag-prod-stable",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"istio.io/rev": "1-30-1"}}})),
    )
    .await
    .expect("relabel");
    let p = new_pod(&payments, "probe-b").await;
    assert_eq!(injected_by(&p).as_deref(), Some("1-29-2"));

    // ...until its webhooks call the other revision's istiod.
    let mut mwc = mwcs
        .get("istio-revision-tag-prod-stable")
        .await
        .expect("get");
    for w in mwc.webhooks.iter_mut().flatten() {
        if let Some(s) = w.client_config.service.as_mut() {
            s.name = "istiod-1-30-1".into();
        }
    }
    mwcs.replace(
        "istio-revision-tag-prod-stable",
        &PostParams::default(),
        &mwc,
    )
    .await
    .expect("regenerate");
    let p = new_pod(&payments, "probe-c").await;
    assert_eq!(injected_by(&p).as_deref(), Some("1-30-1"));
    // The pod made before keeps what it was injected with.
    let before = payments.get("probe-a").await.expect("probe-a");
    assert_eq!(injected_by(&before).as_deref(), Some("1-29-2"));
}
