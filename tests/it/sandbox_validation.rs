//! The sandbox refuses what a real API server refuses, in its words: names by kind, label
//! keys and values, annotations' size, PDB and replica ranges (422 Invalid with one cause per
//! field), on create, update, patch and scenario load; and it takes a `bearer` scheme
//! written in any case, as kube-apiserver does.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Status;
use serde_json::{Value, json};

use crate::common::harness;
use crate::common::process::SandboxProcess;

const SMALL: &str = "assets/scenarios/small.yaml";

fn invalid<T: std::fmt::Debug>(result: kube::Result<T>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected a 422 Status, got {other:?}"),
    }
}

/// (field, reason, message) of each cause.
fn causes(status: &Status) -> Vec<(String, String, String)> {
    status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| (c.field.clone(), c.reason.clone(), c.message.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn from<K: serde::de::DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).expect("a well-formed object")
}

#[tokio::test]
async fn writes_are_refused_with_the_servers_422_and_its_causes() {
    let sandbox = harness::start_file(SMALL).await.expect("sandbox starts");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    let long = "v".repeat(64);

    // create: a label value over 63 characters.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let cm = from(json!({"metadata": {"name": "c", "labels": {"app": long}}}));
    let status = invalid(cms.create(&PostParams::default(), &cm).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let why = format!("Invalid value: \"{long}\": must be no more than 63 characters");
    assert_eq!(
        status.message,
        format!("ConfigMap \"c\" is invalid: metadata.labels: {why}")
    );
    assert_eq!(
        causes(&status),
        vec![("metadata.labels".into(), "FieldValueInvalid".into(), why)]
    );
    assert!(
        cms.get_opt("c").await.expect("get").is_none(),
        "nothing stored"
    );

    // patch: a Deployment scaled below zero keeps its replicas.
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let d = deploys.list(&Default::default()).await.expect("list");
    let name = d.items[0].metadata.name.clone().expect("a deployment");
    let before = d.items[0].spec.replicas;
    let status = invalid(
        deploys
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": -1}})),
            )
            .await,
    );
    assert_eq!(
        status.message,
        format!(
            "Deployment.apps \"{name}\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        )
    );
    assert_eq!(
        status.details.as_ref().map(|d| d.group.as_str()),
        Some("apps")
    );
    let after = deploys.get(&name).await.expect("get");
    assert_eq!(after.spec.replicas, before);

    // create: a PDB with both bounds, one of them negative: two causes, bracketed.
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "shop");
    let pdb = from(
        json!({"metadata": {"name": "p"}, "spec": {"minAvailable": -5, "maxUnavailable": "50%"}}),
    );
    let status = invalid(pdbs.create(&PostParams::default(), &pdb).await);
    let fields: Vec<String> = causes(&status).into_iter().map(|c| c.0).collect();
    assert_eq!(fields, vec!["spec", "spec.minAvailable"]);
    assert!(
        status
            .message
            .starts_with("PodDisruptionBudget.policy \"p\" is invalid: [spec: Invalid value: "),
        "{}",
        status.message
    );
    assert!(
        status
            .message
            .ends_with("spec.minAvailable: Invalid value: -5: must be greater than or equal to 0]")
    );

    // update (PUT): annotations over 256 KiB in all.
    let nss: Api<Namespace> = Api::all(client.clone());
    let mut ns = nss.get("shop").await.expect("get");
    ns.metadata
        .annotations
        .get_or_insert_default()
        .insert("big".into(), "a".repeat(256 * 1024));
    let status = invalid(nss.replace("shop", &PostParams::default(), &ns).await);
    assert_eq!(
        causes(&status),
        vec![(
            "metadata.annotations".into(),
            "FieldValueTooLong".into(),
            "Too long: must have at most 262144 bytes".into()
        )]
    );

    // A namespace name is a DNS label: no dots.
    let bad: Namespace = from(json!({"metadata": {"name": "a.b"}}));
    let status = invalid(nss.create(&PostParams::default(), &bad).await);
    assert!(status.message.starts_with(
        "Namespace \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of"
    ));
}

#[tokio::test]
async fn a_scenario_with_an_invalid_object_does_not_load() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: \"has spaces\"\n";
    let err = harness::start_text(text).await.err().expect("refused");
    assert!(
        err.contains(
            "metadata.labels: Invalid value: \"has spaces\": a valid label must be an empty string"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_lowercase_bearer_scheme_is_accepted() {
    let sandbox = harness::start_file(SMALL).await.expect("sandbox starts");
    let mut kubeconfig = Kubeconfig::from_yaml(&sandbox.kubeconfig_yaml()).expect("parses");
    for user in &mut kubeconfig.auth_infos {
        if let Some(info) = user.auth_info.as_mut() {
            info.token = None;
        }
    }
    let options = KubeConfigOptions {
        context: Some(harness::ADMIN_CONTEXT.to_string()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    let value = format!("bearer {}", sandbox.shared().admin_token);
    config.headers.push((
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&value).expect("header"),
    ));
    let client = kube::Client::try_from(config).expect("client");
    let nss: Api<Namespace> = Api::all(client);
    let names: Vec<String> = nss
        .list(&Default::default())
        .await
        .expect("the lowercase scheme authenticates")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"shop".to_string()), "{names:?}");
}

#[test]
fn kubectl_shows_the_servers_refusal() {
    let sb = SandboxProcess::start(SMALL);
    let long = "v".repeat(64);
    // `kubectl label` checks a value itself; a patch leaves it to the server.
    let patch = format!(r#"{{"metadata":{{"labels":{{"team":"{long}"}}}}}}"#);
    let out = sb.kubectl(&["patch", "namespace", "shop", "--type=merge", "-p", &patch]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(
        out.stderr.trim(),
        format!(
            "The Namespace \"shop\" is invalid: metadata.labels: Invalid value: \"{long}\": must be no more than 63 characters"
        )
    );
    let out = sb.kubectl(&[
        "patch",
        "pdb",
        "checkout",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":-5}}"#,
    ]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .starts_with("The PodDisruptionBudget \"checkout\" is invalid: ")
            && out.stderr.contains(
                "spec.minAvailable: Invalid value: -5: must be greater than or equal to 0"
            ),
        "{out}"
    );
}
