//! Conformance of the sandbox API server with the real kube client (kube 5 and kube-runtime):
//! the verbs, selectors, patch types, watch modes and error bodies a client relies on, each
//! checked against what a real kube-apiserver answers. When one of these fails, the sandbox
//! is wrong, not kube.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use crate::common::harness;
use crate::common::wait::eventually;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use http::StatusCode;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, EvictParams, GroupVersionKind, ListParams,
    ObjectList, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Status;
use kube::core::response::StatusDetails;
use kube::discovery::{Discovery, Scope};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use meshtop_sandbox::Sandbox;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// How long any awaited condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// A cluster that gives the controllers nothing to do, so the store's resourceVersion moves
/// only when a test writes: two namespaces to write in and a CRD with a status subresource.
/// Watch history and bookmarks as in `small.yaml`.
const QUIET: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
  annotations:
    sandbox.meshtop.dev/watch-history: "50"
    sandbox.meshtop.dev/bookmark-interval: 1s
---
apiVersion: v1
kind: Namespace
metadata:
  name: conf
---
apiVersion: v1
kind: Namespace
metadata:
  name: noise
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.conformance.meshtop.dev
spec:
  group: conformance.meshtop.dev
  names:
    kind: Widget
    listKind: WidgetList
    plural: widgets
    singular: widget
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

/// Pods whose node and phase the scenario fixes (a pod written with a status keeps it):
/// p1 (a, n1, Running), p2 (a, n2, Pending), p3 (b, n1, Succeeded).
fn pods_on_nodes() -> String {
    let mut text = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n\
         ---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n\
         ---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n\
         ---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n\
         ---\napiVersion: v1\nkind: Node\nmetadata: {name: n2}\n",
    );
    for (name, namespace, node, phase) in [
        ("p1", "a", "n1", "Running"),
        ("p2", "a", "n2", "Pending"),
        ("p3", "b", "n1", "Succeeded"),
    ] {
        text += &format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
             spec:\n  nodeName: {node}\n  containers: [{{name: app, image: 'example/app:1'}}]\n\
             status: {{phase: {phase}}}\n"
        );
    }
    text
}

const SMALL: &str = "assets/scenarios/small.yaml";

// ---------------------------------------------------------------------------------------------
// Helpers

async fn start(scenario: &str) -> (Sandbox, Client) {
    let sandbox = harness::start_text(scenario).await.expect("sandbox starts");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("admin client");
    (sandbox, client)
}

async fn start_small() -> (Sandbox, Client) {
    let sandbox = harness::start_file(SMALL).await.expect("sandbox starts");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("admin client");
    (sandbox, client)
}

/// A client built from a kubeconfig text, the way the harness builds one. `retry: false`
/// turns off kube 5's default retry of 429/503/504, which would otherwise keep re-sending a
/// refused eviction for minutes before the caller sees the 429.
async fn client_from(yaml: &str, context: &str, retry: bool) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(yaml).expect("kubeconfig parses");
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("kube config");
    config.default_retry = retry;
    Client::try_from(config).expect("client")
}

/// Creates an object, which must succeed; the object as the server stored it.
async fn create<K>(api: &Api<K>, obj: &K) -> K
where
    K: Clone + DeserializeOwned + Serialize + Debug,
{
    api.create(&PostParams::default(), obj)
        .await
        .expect("create")
}

/// A JSON merge patch, which must succeed; the object as patched.
async fn merge<K>(api: &Api<K>, name: &str, patch: Value) -> K
where
    K: Clone + DeserializeOwned + Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patch")
}

/// What a failed call's Status says: code, reason and message.
fn said(status: &Status) -> (u16, &str, &str) {
    (status.code, &status.reason, &status.message)
}

/// A write refused for a stale resourceVersion, in a real server's words.
fn assert_conflict(status: Status, resource: &str, name: &str) {
    assert_eq!(
        said(&status),
        (
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            )
            .as_str()
        )
    );
    about(status, name, resource);
}

/// The details of a failed call's Status, which must name the object it is about.
fn about(status: Status, name: &str, kind: &str) -> StatusDetails {
    let details = status.details.expect("details");
    assert_eq!((details.name.as_str(), details.kind.as_str()), (name, kind));
    details
}

/// The `kind: Status` of a failed call.
fn api_error<T: Debug>(result: kube::Result<T>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error (a kind: Status body), got {other:?}"),
    }
}

fn config_map(name: &str, labels: Value, data: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "data": data,
    }))
    .expect("a ConfigMap")
}

fn data_of(cm: &ConfigMap) -> Value {
    serde_json::to_value(cm.data.clone().unwrap_or_default()).expect("data as JSON")
}

fn sorted_names<K: ResourceExt>(items: &[K]) -> Vec<String> {
    let mut names: Vec<String> = items.iter().map(|o| o.name_any()).collect();
    names.sort();
    names
}

/// A resourceVersion, which clients treat as opaque but this server promises is an integer.
fn rv_number(rv: Option<&str>) -> u64 {
    let rv = rv.expect("a resourceVersion");
    rv.parse()
        .unwrap_or_else(|_| panic!("resourceVersion {rv:?} is not an integer"))
}

fn rv_of<K: ResourceExt>(obj: &K) -> u64 {
    rv_number(obj.meta().resource_version.as_deref())
}

fn list_rv<K>(list: &ObjectList<K>) -> u64
where
    K: Clone,
{
    rv_number(list.metadata.resource_version.as_deref())
}

async fn list_all<K>(api: &Api<K>) -> ObjectList<K>
where
    K: Clone + DeserializeOwned + Debug,
{
    api.list(&ListParams::default()).await.expect("list")
}

/// Lists with each selector of `cases` (`param` names it, `select` sets it), expecting the
/// names given with it.
async fn assert_selects<K>(
    api: &Api<K>,
    cases: &[(&str, &[&str])],
    param: &str,
    select: impl Fn(&str) -> ListParams,
) where
    K: Clone + DeserializeOwned + Debug + ResourceExt,
{
    for (selector, want) in cases {
        let list = api
            .list(&select(selector))
            .await
            .unwrap_or_else(|e| panic!("list with {param} {selector:?}: {e}"));
        assert_eq!(sorted_names(&list.items), *want, "{param} {selector:?}");
    }
}

type Events<K> = BoxStream<'static, kube::Result<WatchEvent<K>>>;

async fn watch<K>(api: &Api<K>, wp: &WatchParams, rv: &str) -> Events<K>
where
    K: Clone + DeserializeOwned + Debug + Send + 'static,
{
    api.watch(wp, rv).await.expect("watch starts").boxed()
}

/// The next item of a stream, failing the test if none comes within `deadline`.
async fn next_within<S: Stream + Unpin>(stream: &mut S, deadline: Duration) -> Option<S::Item> {
    tokio::time::timeout(deadline, stream.next())
        .await
        .unwrap_or_else(|_| panic!("nothing arrived on the stream within {deadline:?}"))
}

/// The next watch event that is not a bookmark.
async fn next_change<K>(events: &mut Events<K>) -> WatchEvent<K> {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match next_within(events, left).await {
            Some(Ok(WatchEvent::Bookmark(_))) => continue,
            Some(Ok(event)) => return event,
            Some(Err(e)) => panic!("watch failed: {e}"),
            None => panic!("the watch ended"),
        }
    }
}

/// (type, name, resourceVersion) of a watch event, for assertions.
fn summary<K: ResourceExt>(event: &WatchEvent<K>) -> (&'static str, String, u64) {
    match event {
        WatchEvent::Added(o) => ("ADDED", o.name_any(), rv_of(o)),
        WatchEvent::Modified(o) => ("MODIFIED", o.name_any(), rv_of(o)),
        WatchEvent::Deleted(o) => ("DELETED", o.name_any(), rv_of(o)),
        WatchEvent::Bookmark(b) => (
            "BOOKMARK",
            String::new(),
            rv_number(Some(&b.metadata.resource_version)),
        ),
        WatchEvent::Error(s) => panic!("unexpected ERROR event: {s:?}"),
    }
}

/// The next item of a kube-runtime watcher stream.
async fn next_watcher_event<S, K>(stream: &mut S) -> Result<watcher::Event<K>, watcher::Error>
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Unpin,
{
    next_within(stream, DEADLINE)
        .await
        .expect("a watcher stream never ends")
}

fn describe_watcher_event<K: ResourceExt>(e: &watcher::Event<K>) -> String {
    match e {
        watcher::Event::Init => "Init".into(),
        watcher::Event::InitApply(o) => format!("InitApply({})", o.name_any()),
        watcher::Event::InitDone => "InitDone".into(),
        watcher::Event::Apply(o) => format!("Apply({})", o.name_any()),
        watcher::Event::Delete(o) => format!("Delete({})", o.name_any()),
    }
}

fn widget_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("conformance.meshtop.dev", "v1", "Widget"),
        "widgets",
    )
}

// ---------------------------------------------------------------------------------------------
// list

#[tokio::test]
async fn list_filters_by_every_label_selector_operator() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "fe"})),
        ("b", json!({"app": "api", "tier": "be"})),
        ("c", json!({"app": "db"})),
        ("d", json!({})),
    ] {
        create(&cms, &config_map(name, labels, json!({}))).await;
    }
    // The same labels in another namespace must not leak into a namespaced list.
    let noise: Api<ConfigMap> = Api::namespaced(client, "noise");
    create(&noise, &config_map("a", json!({"app": "web"}), json!({}))).await;

    let cases: &[(&str, &[&str])] = &[
        ("app=web", &["a"]),
        ("app==web", &["a"]),
        // `!=` also selects objects without the label, as on a real server.
        ("app!=web", &["b", "c", "d"]),
        ("app in (web,api)", &["a", "b"]),
        ("app in (web, api)", &["a", "b"]),
        ("app notin (web,api)", &["c", "d"]),
        ("tier", &["a", "b"]),
        ("!tier", &["c", "d"]),
        ("app in (web,db),!tier", &["c"]),
        ("app=web,tier=be", &[]),
        ("", &["a", "b", "c", "d"]),
    ];
    assert_selects(&cms, cases, "labelSelector", |l| {
        ListParams::default().labels(l)
    })
    .await;

    let status = api_error(cms.list(&ListParams::default().labels("app in web")).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (400, "BadRequest"),
        "{status:?}"
    );
}

#[tokio::test]
async fn list_filters_by_name_namespace_node_and_phase_fields() {
    let (_sandbox, client) = start(&pods_on_nodes()).await;
    let all: Api<Pod> = Api::all(client.clone());
    let cases: &[(&str, &[&str])] = &[
        ("metadata.name=p1", &["p1"]),
        ("metadata.namespace=b", &["p3"]),
        ("metadata.namespace!=b", &["p1", "p2"]),
        ("spec.nodeName=n1", &["p1", "p3"]),
        ("spec.nodeName==n2", &["p2"]),
        ("status.phase=Running", &["p1"]),
        ("status.phase!=Running", &["p2", "p3"]),
        ("spec.nodeName=n1,status.phase!=Running", &["p3"]),
        ("spec.nodeName=n3", &[]),
    ];
    assert_selects(&all, cases, "fieldSelector", |f| {
        ListParams::default().fields(f)
    })
    .await;
    let in_a: Api<Pod> = Api::namespaced(client.clone(), "a");
    let list = in_a
        .list(&ListParams::default().fields("spec.nodeName=n1"))
        .await
        .expect("list");
    assert_eq!(sorted_names(&list.items), ["p1"]);

    // A field the kind does not index is refused with the real server's words.
    let status = api_error(
        all.list(&ListParams::default().fields("spec.hostname=x"))
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (400, "BadRequest"),
        "{status:?}"
    );
    assert_eq!(status.message, "field label not supported: spec.hostname");
}

#[tokio::test]
async fn list_paging_walks_every_item_exactly_once() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let mut want = Vec::new();
    for i in 0..7 {
        let name = format!("page-{i}");
        create(&cms, &config_map(&name, json!({}), json!({}))).await;
        want.push(name);
    }

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    let mut first_rv = None;
    loop {
        let mut lp = ListParams::default().limit(3);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = cms.list(&lp).await.expect("list page");
        let rv = list_rv(&page);
        // Every page answers at the resourceVersion of the first.
        assert_eq!(*first_rv.get_or_insert(rv), rv, "page resourceVersion");
        seen.extend(page.items.iter().map(|o| o.name_any()));
        pages.push((page.items.len(), page.metadata.remaining_item_count));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert_eq!(
        pages,
        vec![(3, Some(4)), (3, Some(1)), (1, None)],
        "(items, remainingItemCount) per page"
    );
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "an item came twice: {seen:?}");
    assert_eq!(sorted, want);
}

#[tokio::test]
async fn list_resource_version_is_an_integer_that_grows_with_writes() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let before = list_rv(&list_all(&cms).await);
    let created = create(&cms, &config_map("x", json!({}), json!({}))).await;
    let after = list_rv(&list_all(&cms).await);
    assert!(
        before < rv_of(&created) && rv_of(&created) <= after,
        "list rv {before} -> write rv {} -> list rv {after}",
        rv_of(&created)
    );
    // A list of an empty collection still carries the store's resourceVersion.
    let empty: Api<ConfigMap> = Api::namespaced(cms.clone().into_client(), "noise");
    assert_eq!(list_rv(&list_all(&empty).await), after);
}

// ---------------------------------------------------------------------------------------------
// get, create, update, delete

#[tokio::test]
async fn get_finds_an_object_and_answers_404_not_found_for_a_missing_one() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    create(
        &cms,
        &config_map("here", json!({"k": "v"}), json!({"x": "1"})),
    )
    .await;
    let got = cms.get("here").await.expect("get");
    assert_eq!(got.name_any(), "here");
    assert_eq!(got.namespace().as_deref(), Some("conf"));
    assert_eq!(data_of(&got), json!({"x": "1"}));

    let status = api_error(cms.get("x").await);
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "NotFound");
    assert_eq!(status.message, "configmaps \"x\" not found");
    assert!(status.is_failure(), "{status:?}");
    about(status, "x", "configmaps");

    let status = api_error(
        Api::<Pod>::namespaced(client.clone(), "conf")
            .get("x")
            .await,
    );
    assert_eq!(said(&status), (404, "NotFound", "pods \"x\" not found"));
    // A kind in a named group is named with its group, as a real server does.
    let status = api_error(Api::<Deployment>::namespaced(client, "conf").get("x").await);
    assert_eq!(
        said(&status),
        (404, "NotFound", "deployments.apps \"x\" not found")
    );
    assert_eq!(status.details.expect("details").group, "apps");
}

#[tokio::test]
async fn create_answers_201_and_fills_the_metadata_the_server_owns() {
    let (_sandbox, client) = start(QUIET).await;

    // The status code, which the typed API hides.
    let body = serde_json::to_vec(&config_map("raw", json!({}), json!({}))).expect("json");
    let request = kube::api::Request::new("/api/v1/namespaces/conf/configmaps")
        .create(&PostParams::default(), body)
        .expect("request");
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::CREATED);

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    let cm = create(&cms, &config_map("typed", json!({}), json!({"a": "1"}))).await;
    let uid = cm.uid().expect("uid");
    assert_eq!(uid.len(), 36, "a UUID: {uid}");
    assert!(cm.creation_timestamp().is_some(), "creationTimestamp");
    rv_of(&cm);
    assert_eq!(cm.meta().generation, None, "a ConfigMap has no generation");
    assert_eq!(data_of(&cm), json!({"a": "1"}));

    let deployments: Api<Deployment> = Api::namespaced(client, "conf");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example/web:1"}]}
            }
        }
    }))
    .expect("a Deployment");
    let d = deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    assert_eq!(d.meta().generation, Some(1));
    assert!(d.uid().is_some() && d.creation_timestamp().is_some());
    assert_ne!(d.uid(), cm.uid());
}

#[tokio::test]
async fn create_of_an_existing_name_is_409_already_exists() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    let cm = config_map("dup", json!({}), json!({}));
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let status = api_error(cms.create(&PostParams::default(), &cm).await);
    assert_eq!(
        said(&status),
        (409, "AlreadyExists", "configmaps \"dup\" already exists")
    );

    let namespaces: Api<Namespace> = Api::all(client);
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "conf"}})).expect("a Namespace");
    let status = api_error(namespaces.create(&PostParams::default(), &ns).await);
    assert_eq!(
        said(&status),
        (409, "AlreadyExists", "namespaces \"conf\" already exists")
    );
    about(status, "conf", "namespaces");
}

#[tokio::test]
async fn create_in_a_missing_namespace_is_404() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "nope");
    let status = api_error(
        cms.create(
            &PostParams::default(),
            &config_map("x", json!({}), json!({})),
        )
        .await,
    );
    assert_eq!(
        said(&status),
        (404, "NotFound", "namespaces \"nope\" not found")
    );
}

#[tokio::test]
async fn update_with_a_stale_resource_version_is_409_conflict() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    let created = create(&cms, &config_map("c", json!({}), json!({"v": "1"}))).await;

    let mut fresh = created.clone();
    fresh.data = Some([("v".to_string(), "2".to_string())].into());
    let updated = cms
        .replace("c", &PostParams::default(), &fresh)
        .await
        .expect("replace at the current resourceVersion");
    assert!(rv_of(&updated) > rv_of(&created));

    let mut stale = created.clone();
    stale.data = Some([("v".to_string(), "3".to_string())].into());
    let status = api_error(cms.replace("c", &PostParams::default(), &stale).await);
    assert_conflict(status, "configmaps", "c");
    assert_eq!(
        data_of(&cms.get("c").await.expect("get")),
        json!({"v": "2"})
    );

    // A PATCH carrying a stale metadata.resourceVersion is a precondition that fails the
    // same way (the captured answer is for a namespace).
    let namespaces: Api<Namespace> = Api::all(client);
    let old = namespaces.get("conf").await.expect("get");
    merge(
        &namespaces,
        "conf",
        json!({"metadata": {"labels": {"touched": "yes"}}}),
    )
    .await;
    let status = api_error(
        namespaces
            .patch(
                "conf",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {
                    "resourceVersion": old.resource_version(),
                    "labels": {"wire": "sample"},
                }})),
            )
            .await,
    );
    assert_conflict(status, "namespaces", "conf");
}

#[tokio::test]
async fn delete_removes_the_object_and_answers_like_a_real_server() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    let created = create(&cms, &config_map("gone", json!({}), json!({}))).await;
    // A real server answers the immediate delete of a ConfigMap (as of most kinds) with a
    // Status naming what went, and of a Pod with the Pod itself.
    let status = cms
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete")
        .either(
            |cm| {
                panic!(
                    "a ConfigMap delete answered with the object ({}), not a Status",
                    cm.name_any()
                )
            },
            |status| status,
        );
    assert!(status.is_success(), "{status:?}");
    let details = about(status, "gone", "configmaps");
    assert_eq!(Some(details.uid), created.uid());
    let status = api_error(cms.get("gone").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert!(list_all(&cms).await.items.is_empty());
    let status = api_error(cms.delete("gone", &DeleteParams::default()).await);
    assert_eq!(
        said(&status),
        (404, "NotFound", "configmaps \"gone\" not found")
    );

    let pods: Api<Pod> = Api::namespaced(client, "conf");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "lonely"},
        "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}
    }))
    .expect("a Pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let deleted = pods
        .delete("lonely", &DeleteParams::default())
        .await
        .expect("delete")
        .either(
            |p| p,
            |status| panic!("a Pod delete answered with {status:?}"),
        );
    assert_eq!(deleted.name_any(), "lonely");
    // Never scheduled, so nothing waits for a kubelet: the pod is gone at once.
    assert_eq!(
        api_error(pods.get("lonely").await).code,
        404,
        "pod still there"
    );
}

#[tokio::test]
async fn deleting_a_deployment_collects_its_replica_set_and_pods() {
    let (_sandbox, client) = start_small().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "shop");
    let pods: Api<Pod> = Api::namespaced(client, "shop");
    let cart_uid = deployments.get("cart").await.expect("get").uid();

    let owned_by = |refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
                    uid: &Option<String>| {
        refs.iter()
            .any(|r| Some(&r.uid) == uid.as_ref() && r.controller == Some(true))
    };
    let rs = eventually("cart's ReplicaSet", DEADLINE, || async {
        list_all(&replica_sets)
            .await
            .items
            .into_iter()
            .find(|rs| owned_by(rs.owner_references(), &cart_uid))
    })
    .await;
    let rs_uid = rs.uid();
    let cart_pods = eventually("cart's two pods", DEADLINE, || async {
        let owned: Vec<String> = list_all(&pods)
            .await
            .items
            .iter()
            .filter(|p| owned_by(p.owner_references(), &rs_uid))
            .map(|p| p.name_any())
            .collect();
        (owned.len() == 2).then_some(owned)
    })
    .await;

    deployments
        .delete("cart", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("cart's ReplicaSet to be collected", DEADLINE, || async {
        replica_sets
            .get_opt(&rs.name_any())
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    eventually("cart's pods to be collected", DEADLINE, || async {
        let left: Vec<String> = pods
            .list(&ListParams::default().labels("app=cart"))
            .await
            .expect("list")
            .items
            .iter()
            .map(|p| p.name_any())
            .collect();
        left.is_empty().then_some(())
    })
    .await;
    for name in &cart_pods {
        assert!(pods.get_opt(name).await.expect("get").is_none(), "{name}");
    }
    // Only cart's: checkout keeps its Deployment, ReplicaSet and pods.
    assert!(
        deployments
            .get_opt("checkout")
            .await
            .expect("get")
            .is_some()
    );
    let checkout = pods
        .list(&ListParams::default().labels("app=checkout"))
        .await
        .expect("list");
    assert_eq!(checkout.items.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// patch

#[tokio::test]
async fn merge_patch_changes_only_what_it_names() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let created = create(
        &cms,
        &config_map("m", json!({"keep": "me"}), json!({"a": "1", "b": "2"})),
    )
    .await;
    let patched = cms
        .patch(
            "m",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(data_of(&patched), json!({"b": "2", "c": "3"}));
    assert_eq!(patched.labels().get("keep").map(String::as_str), Some("me"));
    assert_eq!(patched.uid(), created.uid());
    assert!(rv_of(&patched) > rv_of(&created));
    assert_eq!(
        data_of(&cms.get("m").await.expect("get")),
        json!({"b": "2", "c": "3"})
    );
}

#[tokio::test]
async fn strategic_merge_patch_cordons_a_node_and_merges_containers_by_name() {
    let (_sandbox, client) = start_small().await;
    let nodes: Api<Node> = Api::all(client.clone());
    // What `kubectl cordon` sends, plus a label.
    let cordoned = nodes
        .patch(
            "worker-1",
            &PatchParams::default(),
            &Patch::Strategic(json!({
                "metadata": {"labels": {"conformance": "yes"}},
                "spec": {"unschedulable": true}
            })),
        )
        .await
        .expect("strategic merge patch");
    assert_eq!(
        cordoned.spec.as_ref().and_then(|s| s.unschedulable),
        Some(true)
    );
    assert_eq!(
        cordoned.labels().get("conformance").map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        cordoned
            .labels()
            .get("kubernetes.io/hostname")
            .map(String::as_str),
        Some("worker-1"),
        "existing labels stay"
    );
    assert_eq!(
        cordoned.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()),
        Some("10.244.1.0/24")
    );
    let unschedulable = nodes
        .list(&ListParams::default().fields("spec.unschedulable=true"))
        .await
        .expect("list");
    assert_eq!(sorted_names(&unschedulable.items), ["worker-1"]);
    // `kubectl uncordon`.
    let uncordoned = nodes
        .patch(
            "worker-1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"unschedulable": null}})),
        )
        .await
        .expect("strategic merge patch");
    assert_eq!(uncordoned.spec.as_ref().and_then(|s| s.unschedulable), None);

    // Lists of containers merge by name: the sidecar stays.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let before = deployments.get("checkout").await.expect("get");
    let after = deployments
        .patch(
            "checkout",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "checkout", "image": "ghcr.io/example/shop-checkout:2.5.0"}
            ]}}}})),
        )
        .await
        .expect("strategic merge patch");
    let containers: Vec<(String, Option<String>)> = after
        .spec
        .template
        .spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        containers,
        vec![
            (
                "checkout".to_string(),
                Some("ghcr.io/example/shop-checkout:2.5.0".to_string())
            ),
            (
                "istio-proxy".to_string(),
                Some("docker.io/istio/proxyv2:1.23.0".to_string())
            ),
        ]
    );
    assert_eq!(
        after.meta().generation,
        before.meta().generation.map(|g| g + 1),
        "a spec change moves the generation"
    );

    // Custom resources have no strategic merge: 415, as on a real server.
    let iop = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "install.istio.io",
        "v1alpha1",
        "IstioOperator",
    ));
    let iops: Api<DynamicObject> = Api::namespaced_with(client, "istio-system", &iop);
    let status = api_error(
        iops.patch(
            "canary",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"tag": "1.23.1"}})),
        )
        .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (415, "UnsupportedMediaType")
    );
}

#[tokio::test]
async fn json_patch_applies_its_ops_and_a_failing_test_op_is_422() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    create(
        &cms,
        &config_map("j", json!({}), json!({"a": "1", "b": "2"})),
    )
    .await;
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"}
    ]))
    .expect("ops");
    let patched = cms
        .patch("j", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .expect("json patch");
    assert_eq!(data_of(&patched), json!({"a": "10", "c": "3"}));

    let failing: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "changed"}
    ]))
    .expect("ops");
    let status = api_error(
        cms.patch("j", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let now = cms.get("j").await.expect("get");
    assert_eq!(
        data_of(&now),
        json!({"a": "10", "c": "3"}),
        "nothing applied"
    );
    assert_eq!(rv_of(&now), rv_of(&patched), "nothing written");
}

#[tokio::test]
async fn server_side_apply_owns_prunes_conflicts_and_forces() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let applied = |data: Value| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "applied", "namespace": "conf"},
            "data": data,
        })
    };
    let owns = |cm: &ConfigMap, manager: &str, key: &str| {
        cm.managed_fields().iter().any(|e| {
            e.manager.as_deref() == Some(manager)
                && e.fields_v1
                    .as_ref()
                    .is_some_and(|f| f.0.pointer(&format!("/f:data/f:{key}")).is_some())
        })
    };

    // Apply creates.
    let created = cms
        .patch(
            "applied",
            &PatchParams::apply("meshtop"),
            &Patch::Apply(applied(json!({"a": "1", "b": "2"}))),
        )
        .await
        .expect("apply creates");
    assert_eq!(data_of(&created), json!({"a": "1", "b": "2"}));
    let entry = created
        .managed_fields()
        .iter()
        .find(|e| e.manager.as_deref() == Some("meshtop"))
        .expect("a managedFields entry for meshtop");
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
    assert!(owns(&created, "meshtop", "a") && owns(&created, "meshtop", "b"));

    // Re-applying without `b` prunes it: meshtop owned it and nobody else does.
    let pruned = cms
        .patch(
            "applied",
            &PatchParams::apply("meshtop"),
            &Patch::Apply(applied(json!({"a": "1"}))),
        )
        .await
        .expect("apply");
    assert_eq!(data_of(&pruned), json!({"a": "1"}));
    assert!(!owns(&pruned, "meshtop", "b"));

    // Another manager setting a field meshtop owns to another value conflicts.
    let status = api_error(
        cms.patch(
            "applied",
            &PatchParams::apply("other"),
            &Patch::Apply(applied(json!({"a": "9"}))),
        )
        .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status.message.starts_with("Apply failed with 1 conflict:")
            && status.message.contains("conflict with \"meshtop\"")
            && status.message.contains(".data.a"),
        "{}",
        status.message
    );
    let causes = status.details.expect("details").causes;
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(
        (causes[0].reason.as_str(), causes[0].field.as_str()),
        ("FieldManagerConflict", ".data.a")
    );
    let unchanged = cms.get("applied").await.expect("get");
    assert_eq!(data_of(&unchanged), json!({"a": "1"}));
    assert_eq!(rv_of(&unchanged), rv_of(&pruned));

    // Forced, the other manager wins the field and meshtop loses it.
    let forced = cms
        .patch(
            "applied",
            &PatchParams::apply("other").force(),
            &Patch::Apply(applied(json!({"a": "9"}))),
        )
        .await
        .expect("forced apply");
    assert_eq!(data_of(&forced), json!({"a": "9"}));
    assert!(owns(&forced, "other", "a"));
    assert!(!owns(&forced, "meshtop", "a"));
}

// ---------------------------------------------------------------------------------------------
// status subresource and generation

#[tokio::test]
async fn status_subresource_writes_only_status_and_generation_follows_spec() {
    let (_sandbox, client) = start(QUIET).await;
    let ar = widget_resource();
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, "conf", &ar);
    let w = DynamicObject::new("w", &ar)
        .within("conf")
        .data(json!({"spec": {"size": 1}, "status": {"phase": "Forged"}}));
    let created = widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("create");
    assert_eq!(created.data["spec"]["size"], 1);
    assert!(
        created.data.get("status").is_none(),
        "status is not set through the main resource: {}",
        created.data
    );
    assert_eq!(created.metadata.generation, Some(1));

    // patch_status changes the status and nothing else.
    let patched = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 5}, "status": {"phase": "Ready"}})),
        )
        .await
        .expect("patch status");
    assert_eq!(patched.data["status"]["phase"], "Ready");
    assert_eq!(patched.data["spec"]["size"], 1, "spec unchanged");
    assert_eq!(patched.metadata.generation, Some(1), "status is not spec");
    assert!(rv_of(&patched) > rv_of(&created));

    // replace_status likewise.
    let mut whole = widgets.get("w").await.expect("get");
    whole.data["spec"]["size"] = json!(7);
    whole.data["status"]["phase"] = json!("Degraded");
    let replaced = widgets
        .replace_status("w", &PostParams::default(), &whole)
        .await
        .expect("replace status");
    assert_eq!(replaced.data["status"]["phase"], "Degraded");
    assert_eq!(replaced.data["spec"]["size"], 1, "spec unchanged");
    assert_eq!(replaced.metadata.generation, Some(1));
    let status_view = widgets.get_status("w").await.expect("get status");
    assert_eq!(status_view.data["status"]["phase"], "Degraded");

    // An update of the main resource cannot change the status; its spec change moves the
    // generation.
    let mut whole = widgets.get("w").await.expect("get");
    whole.data["spec"]["size"] = json!(2);
    whole.data["status"]["phase"] = json!("Hacked");
    let updated = widgets
        .replace("w", &PostParams::default(), &whole)
        .await
        .expect("replace");
    assert_eq!(updated.data["spec"]["size"], 2);
    assert_eq!(updated.data["status"]["phase"], "Degraded", "status kept");
    assert_eq!(updated.metadata.generation, Some(2));

    // Neither metadata nor status moves it.
    let labelled = merge(&widgets, "w", json!({"metadata": {"labels": {"l": "1"}}})).await;
    assert_eq!(labelled.metadata.generation, Some(2));
    let restatused = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}})),
        )
        .await
        .expect("patch status");
    assert_eq!(restatused.metadata.generation, Some(2));
    assert!(rv_of(&restatused) > rv_of(&labelled));
}

// ---------------------------------------------------------------------------------------------
// dryRun=All

#[tokio::test]
async fn dry_run_answers_like_a_write_and_stores_nothing() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let dry_post = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let dry_patch = PatchParams::default().dry_run();

    let before = list_rv(&list_all(&cms).await);
    let ghost = cms
        .create(
            &dry_post,
            &config_map("ghost", json!({}), json!({"a": "1"})),
        )
        .await
        .expect("dry-run create");
    assert_eq!(ghost.name_any(), "ghost");
    assert_eq!(data_of(&ghost), json!({"a": "1"}));
    assert!(ghost.uid().is_some() && ghost.creation_timestamp().is_some());
    assert_eq!(api_error(cms.get("ghost").await).code, 404);
    let after = list_all(&cms).await;
    assert!(after.items.is_empty());
    assert_eq!(list_rv(&after), before, "a dry run writes nothing");

    let real = create(&cms, &config_map("real", json!({}), json!({"a": "1"}))).await;
    let stored_rv = list_rv(&list_all(&cms).await);

    let status = api_error(cms.create(&dry_post, &real).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );

    let mut changed = real.clone();
    changed.data = Some([("a".to_string(), "2".to_string())].into());
    let answered = cms
        .replace("real", &dry_post, &changed)
        .await
        .expect("dry-run replace");
    assert_eq!(data_of(&answered), json!({"a": "2"}));

    let answered = cms
        .patch(
            "real",
            &dry_patch,
            &Patch::Merge(json!({"data": {"b": "3"}})),
        )
        .await
        .expect("dry-run patch");
    assert_eq!(data_of(&answered), json!({"a": "1", "b": "3"}));

    let answered = cms
        .patch(
            "real",
            &PatchParams::apply("meshtop").dry_run(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "real"}, "data": {"c": "4"}
            })),
        )
        .await
        .expect("dry-run apply");
    assert_eq!(data_of(&answered)["c"], "4", "{}", data_of(&answered));

    cms.delete("real", &DeleteParams::default().dry_run())
        .await
        .expect("dry-run delete");

    let now = cms.get("real").await.expect("still there");
    assert_eq!(data_of(&now), json!({"a": "1"}));
    assert_eq!(rv_of(&now), rv_of(&real));
    assert_eq!(
        list_rv(&list_all(&cms).await),
        stored_rv,
        "dry runs wrote nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// watch

#[tokio::test]
async fn watch_from_a_list_resource_version_sees_the_writes_after_it() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    create(&cms, &config_map("old", json!({}), json!({}))).await;
    let list = list_all(&cms).await;
    let mut events = watch(&cms, &WatchParams::default(), &list_rv(&list).to_string()).await;

    // Another namespace's writes are not this watch's.
    let noise: Api<ConfigMap> = Api::namespaced(client, "noise");
    create(&noise, &config_map("elsewhere", json!({}), json!({}))).await;
    let added = create(&cms, &config_map("new", json!({}), json!({}))).await;
    let modified = merge(&cms, "new", json!({"data": {"x": "1"}})).await;
    cms.delete("new", &DeleteParams::default())
        .await
        .expect("delete");
    let old_modified = merge(&cms, "old", json!({"data": {"y": "2"}})).await;

    let e = next_change(&mut events).await;
    assert_eq!(summary(&e), ("ADDED", "new".into(), rv_of(&added)));
    let e = next_change(&mut events).await;
    assert_eq!(summary(&e), ("MODIFIED", "new".into(), rv_of(&modified)));
    if let WatchEvent::Modified(cm) = &e {
        assert_eq!(data_of(cm), json!({"x": "1"}));
    }
    let e = next_change(&mut events).await;
    let (kind, name, rv) = summary(&e);
    assert_eq!((kind, name.as_str()), ("DELETED", "new"));
    assert!(
        rv > rv_of(&modified),
        "a deletion has its own resourceVersion"
    );
    let e = next_change(&mut events).await;
    assert_eq!(
        summary(&e),
        ("MODIFIED", "old".into(), rv_of(&old_modified))
    );
}

#[tokio::test]
async fn watch_resumed_from_an_older_resource_version_replays_only_what_came_after() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let a = create(&cms, &config_map("a", json!({}), json!({}))).await;
    let b = create(&cms, &config_map("b", json!({}), json!({}))).await;
    let a2 = merge(&cms, "a", json!({"data": {"v": "2"}})).await;
    let c = create(&cms, &config_map("c", json!({}), json!({}))).await;

    let mut events = watch(&cms, &WatchParams::default(), &rv_of(&a).to_string()).await;
    let replayed = [
        summary(&next_change(&mut events).await),
        summary(&next_change(&mut events).await),
        summary(&next_change(&mut events).await),
    ];
    assert_eq!(
        replayed,
        [
            ("ADDED", "b".to_string(), rv_of(&b)),
            ("MODIFIED", "a".to_string(), rv_of(&a2)),
            ("ADDED", "c".to_string(), rv_of(&c)),
        ]
    );
    // Then live events, with nothing in between.
    let d = create(&cms, &config_map("d", json!({}), json!({}))).await;
    assert_eq!(
        summary(&next_change(&mut events).await),
        ("ADDED", "d".to_string(), rv_of(&d))
    );
}

#[tokio::test]
async fn watch_with_bookmarks_gets_a_bookmark_within_seconds() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let list = list_all(&cms).await;
    let wp = WatchParams {
        bookmarks: true,
        ..WatchParams::default()
    };
    let mut events = watch(&cms, &wp, &list_rv(&list).to_string()).await;
    let created = create(&cms, &config_map("x", json!({}), json!({}))).await;

    // small.yaml's bookmark-interval is 1s; a bookmark must never run ahead of an event it
    // has not delivered.
    let end = Instant::now() + Duration::from_secs(5);
    let mut last_event_rv = list_rv(&list);
    let mut seen_created = false;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match next_within(&mut events, left).await {
            Some(Ok(WatchEvent::Bookmark(b))) => {
                let rv = rv_number(Some(&b.metadata.resource_version));
                assert!(
                    rv >= last_event_rv,
                    "bookmark {rv} behind event {last_event_rv}"
                );
                assert_eq!(b.types.kind, "ConfigMap");
                assert_eq!(b.types.api_version, "v1");
                if seen_created {
                    assert!(rv >= rv_of(&created));
                    break;
                }
                assert!(
                    rv < rv_of(&created),
                    "bookmark ahead of an undelivered event"
                );
            }
            Some(Ok(e)) => {
                let (kind, name, rv) = summary(&e);
                assert_eq!((kind, name.as_str()), ("ADDED", "x"));
                last_event_rv = rv;
                seen_created = true;
            }
            other => panic!("watch: {other:?}"),
        }
    }
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_is_410_expired() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    // The scenario keeps 50 events of history.
    for i in 0..60 {
        create(&cms, &config_map(&format!("w-{i}"), json!({}), json!({}))).await;
    }
    // As from a real server's watch cache: HTTP 200, then one ERROR event, then the end.
    // (kube-runtime's watcher relists on this event; on a 410 *response* it would retry the
    // same resourceVersion forever.)
    let mut events = cms
        .watch(&WatchParams::default(), "1")
        .await
        .expect("the watch itself is accepted")
        .boxed();
    match next_within(&mut events, DEADLINE).await {
        Some(Ok(WatchEvent::Error(status))) => {
            assert_eq!(
                (status.code, status.reason.as_str()),
                (410, "Expired"),
                "{status:?}"
            );
            assert!(
                status.message.starts_with("too old resource version: 1 ("),
                "{}",
                status.message
            );
        }
        other => panic!("expected an ERROR event with 410, got {other:?}"),
    }
    assert!(
        next_within(&mut events, DEADLINE).await.is_none(),
        "the watch ends after the error"
    );
}

#[tokio::test]
async fn watcher_relists_after_its_resource_version_expires_and_keeps_delivering() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "conf");
    let noise: Api<ConfigMap> = Api::namespaced(client, "noise");
    create(&cms, &config_map("before", json!({}), json!({}))).await;

    let mut stream = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut initial = Vec::new();
    for _ in 0..3 {
        let e = next_watcher_event(&mut stream)
            .await
            .expect("watcher event");
        initial.push(describe_watcher_event(&e));
    }
    assert_eq!(initial, ["Init", "InitApply(before)", "InitDone"]);

    // The stream is lazy: after InitDone it watches from the list's resourceVersion only
    // when polled again. Meanwhile that version falls out of the 50 events kept.
    cms.delete("before", &DeleteParams::default())
        .await
        .expect("delete");
    create(&cms, &config_map("during", json!({}), json!({}))).await;
    for i in 0..60 {
        create(&noise, &config_map(&format!("n-{i}"), json!({}), json!({}))).await;
    }

    match next_watcher_event(&mut stream).await {
        Err(watcher::Error::WatchError(status)) => assert_eq!(status.code, 410, "{status:?}"),
        other => panic!(
            "expected the 410 from the watch, got {:?}",
            other.map(|e| describe_watcher_event(&e))
        ),
    }
    let mut relist = Vec::new();
    for _ in 0..3 {
        let e = next_watcher_event(&mut stream)
            .await
            .expect("watcher event after the relist");
        relist.push(describe_watcher_event(&e));
    }
    assert_eq!(
        relist,
        ["Init", "InitApply(during)", "InitDone"],
        "the relist shows the object deleted while the watch was away as gone"
    );

    create(&cms, &config_map("after", json!({}), json!({}))).await;
    let e = next_watcher_event(&mut stream)
        .await
        .expect("watcher event");
    assert_eq!(describe_watcher_event(&e), "Apply(after)");
}

#[tokio::test]
async fn label_selector_watch_sees_objects_enter_and_leave_the_selection() {
    let (_sandbox, client) = start(QUIET).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "conf");
    let list = cms
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    let mut events = watch(
        &cms,
        &WatchParams::default().labels("app=web"),
        &list_rv(&list).to_string(),
    )
    .await;
    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));

    create(&cms, &config_map("a", json!({"app": "web"}), json!({}))).await;
    create(&cms, &config_map("b", json!({"app": "api"}), json!({}))).await;
    let b_in = cms
        .patch("b", &PatchParams::default(), &relabel("web"))
        .await
        .expect("patch");
    let a_out = cms
        .patch("a", &PatchParams::default(), &relabel("api"))
        .await
        .expect("patch");
    merge(&cms, "a", json!({"data": {"unseen": "yes"}})).await;
    cms.delete("b", &DeleteParams::default())
        .await
        .expect("delete");
    let c = create(&cms, &config_map("c", json!({"app": "web"}), json!({}))).await;

    let e = next_change(&mut events).await;
    assert_eq!((summary(&e).0, summary(&e).1.as_str()), ("ADDED", "a"));
    let e = next_change(&mut events).await;
    assert_eq!(
        summary(&e),
        ("ADDED", "b".into(), rv_of(&b_in)),
        "an object entering the selection is ADDED"
    );
    let e = next_change(&mut events).await;
    assert_eq!(
        summary(&e),
        ("DELETED", "a".into(), rv_of(&a_out)),
        "an object leaving the selection is DELETED"
    );
    // As a real server's watch cache sends it: the object as it was when it last matched,
    // at the resourceVersion of the change.
    if let WatchEvent::Deleted(cm) = &e {
        assert_eq!(cm.labels().get("app").map(String::as_str), Some("web"));
    }
    let e = next_change(&mut events).await;
    assert_eq!((summary(&e).0, summary(&e).1.as_str()), ("DELETED", "b"));
    let e = next_change(&mut events).await;
    assert_eq!(summary(&e), ("ADDED", "c".into(), rv_of(&c)));
}

// ---------------------------------------------------------------------------------------------
// authentication and authorization

#[tokio::test]
async fn unauthenticated_clients_get_401_unauthorized() {
    let sandbox = harness::start_file(SMALL).await.expect("sandbox starts");
    let anonymous = harness::anonymous_client(&sandbox)
        .await
        .expect("anonymous client");
    let status = api_error(
        Api::<Pod>::all(anonymous)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(said(&status), (401, "Unauthorized", "Unauthorized"));
    assert!(status.is_failure());

    let yaml = sandbox
        .kubeconfig_yaml()
        .replace(&sandbox.shared().admin_token, "not-a-token");
    let stranger = client_from(&yaml, harness::ADMIN_CONTEXT, true).await;
    let status = api_error(
        Api::<Namespace>::all(stranger)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(said(&status), (401, "Unauthorized", "Unauthorized"));
}

#[tokio::test]
async fn the_restricted_context_is_refused_only_what_the_scenario_denies() {
    let (sandbox, admin) = start_small().await;
    let restricted = harness::client(&sandbox, harness::RESTRICTED_CONTEXT)
        .await
        .expect("restricted client");

    let status = api_error(
        Api::<Node>::all(restricted.clone())
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "nodes is forbidden: User \"meshtop-sandbox-restricted\" cannot list resource \"nodes\" \
         in API group \"\" at the cluster scope"
    );
    assert_eq!(status.details.expect("details").kind, "nodes");

    // Everything else is allowed: other verbs on nodes, and pods.
    let node = Api::<Node>::all(restricted.clone())
        .get("worker-1")
        .await
        .expect("get node");
    assert_eq!(node.name_any(), "worker-1");
    let pods = list_all(&Api::<Pod>::all(restricted)).await;
    assert_eq!(
        sorted_names(&pods.items),
        sorted_names(&list_all(&Api::<Pod>::all(admin.clone())).await.items)
    );
    assert!(!pods.items.is_empty());
    assert_eq!(list_all(&Api::<Node>::all(admin)).await.items.len(), 4);
}

// ---------------------------------------------------------------------------------------------
// custom resources and discovery

#[tokio::test]
async fn istio_operators_are_served_as_dynamic_objects() {
    let (_sandbox, client) = start_small().await;
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "install.istio.io",
        "v1alpha1",
        "IstioOperator",
    ));
    assert_eq!(ar.plural, "istiooperators");
    let iops: Api<DynamicObject> = Api::namespaced_with(client, "istio-system", &ar);
    let obj = DynamicObject::new("conformance", &ar)
        .within("istio-system")
        .data(json!({"spec": {"profile": "empty", "revision": "conformance"}}));
    let created = iops
        .create(&PostParams::default(), &obj)
        .await
        .expect("create");
    assert!(created.uid().is_some());
    assert_eq!(created.metadata.generation, Some(1));
    let types = created.types.as_ref().expect("apiVersion and kind");
    assert_eq!(
        (types.api_version.as_str(), types.kind.as_str()),
        ("install.istio.io/v1alpha1", "IstioOperator")
    );

    let list = list_all(&iops).await;
    assert_eq!(sorted_names(&list.items), ["canary", "conformance"]);
    let got = iops.get("conformance").await.expect("get");
    assert_eq!(got.data["spec"]["revision"], "conformance");
    assert_eq!(got.uid(), created.uid());

    let status = api_error(iops.get("nope").await);
    assert_eq!(
        said(&status),
        (
            404,
            "NotFound",
            "istiooperators.install.istio.io \"nope\" not found"
        )
    );
    let details = status.details.expect("details");
    assert_eq!(
        (details.group.as_str(), details.kind.as_str()),
        ("install.istio.io", "istiooperators")
    );
}

#[tokio::test]
async fn discovery_finds_istio_operators_and_pod_eviction() {
    let (_sandbox, client) = start_small().await;
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");

    let group = discovery
        .get("install.istio.io")
        .expect("group install.istio.io");
    assert_eq!(group.preferred_version(), Some("v1alpha1"));
    let (ar, caps) = group
        .versioned_resources("v1alpha1")
        .into_iter()
        .find(|(ar, _)| ar.plural == "istiooperators")
        .expect("istiooperators");
    assert_eq!(ar.kind, "IstioOperator");
    assert!(matches!(caps.scope, Scope::Namespaced));
    for verb in ["get", "list", "watch", "create", "patch", "delete"] {
        assert!(
            caps.supports_operation(verb),
            "{verb}: {:?}",
            caps.operations
        );
    }
    let resolved = discovery.resolve_gvk(&GroupVersionKind::gvk(
        "install.istio.io",
        "v1alpha1",
        "IstioOperator",
    ));
    assert_eq!(
        resolved.map(|(ar, _)| ar.plural).as_deref(),
        Some("istiooperators")
    );

    // kube's Discovery keeps no short names; the resource list it reads has them.
    let list = client
        .list_api_group_resources("install.istio.io/v1alpha1")
        .await
        .expect("APIResourceList");
    let iop = list
        .resources
        .iter()
        .find(|r| r.name == "istiooperators")
        .expect("istiooperators");
    assert!(
        iop.short_names
            .as_ref()
            .is_some_and(|s| s.iter().any(|n| n == "iop")),
        "{:?}",
        iop.short_names
    );

    let core = discovery.get("").expect("the core group");
    let (_, pods) = core
        .versioned_resources("v1")
        .into_iter()
        .find(|(ar, _)| ar.plural == "pods")
        .expect("pods");
    let (eviction, eviction_caps) = pods
        .subresources
        .iter()
        .find(|(ar, _)| ar.plural == "eviction")
        .expect("pods/eviction");
    assert_eq!(
        (
            eviction.group.as_str(),
            eviction.version.as_str(),
            eviction.kind.as_str()
        ),
        ("policy", "v1", "Eviction")
    );
    assert_eq!(eviction_caps.operations, ["create"]);
}

// ---------------------------------------------------------------------------------------------
// eviction

#[tokio::test]
async fn eviction_honours_pod_disruption_budgets() {
    let sandbox = harness::start_file(SMALL).await.expect("sandbox starts");
    // kube 5 retries 429 by default (15 times, backing off): a drain must see the refusal.
    let client = client_from(&sandbox.kubeconfig_yaml(), harness::ADMIN_CONTEXT, false).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client, "shop");
    let running = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let checkout = eventually("three running checkout pods", DEADLINE, || async {
        let list = pods
            .list(&ListParams::default().labels("app=checkout"))
            .await
            .expect("list");
        (list.items.len() == 3 && list.items.iter().all(running)).then_some(list.items)
    })
    .await;
    let victim = checkout[0].name_any();

    // minAvailable 3 of 3: no disruption allowed.
    let status = api_error(pods.evict(&victim, &EvictParams::default()).await);
    assert_eq!(
        said(&status),
        (
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget."
        )
    );
    let causes = status.details.expect("details").causes;
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].reason, "DisruptionBudget");
    assert!(
        causes[0]
            .message
            .starts_with("The disruption budget checkout needs 3 healthy pods"),
        "{}",
        causes[0].message
    );
    assert!(
        pods.get_opt(&victim).await.expect("get").is_some(),
        "not evicted"
    );

    // Two budgets over one pod: the eviction API refuses to choose.
    let extra: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "checkout-extra"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "checkout"}}}
    }))
    .expect("a PDB");
    pdbs.create(&PostParams::default(), &extra)
        .await
        .expect("create");
    let status = api_error(pods.evict(&victim, &EvictParams::default()).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (500, "InternalError")
    );
    assert!(
        status.message.contains("more than one PodDisruptionBudget"),
        "{}",
        status.message
    );
    assert!(
        pods.get_opt(&victim).await.expect("get").is_some(),
        "not evicted"
    );

    // Relaxed to one budget that allows a disruption, the eviction goes through.
    pdbs.delete("checkout-extra", &DeleteParams::default())
        .await
        .expect("delete");
    merge(&pdbs, "checkout", json!({"spec": {"minAvailable": 2}})).await;
    eventually(
        "the checkout PDB to allow a disruption",
        DEADLINE,
        || async {
            let pdb = pdbs.get("checkout").await.expect("get");
            (pdb.status.as_ref().and_then(|s| s.disruptions_allowed) == Some(1)).then_some(())
        },
    )
    .await;
    let status = pods
        .evict(&victim, &EvictParams::default())
        .await
        .expect("eviction allowed");
    assert!(status.is_success(), "{status:?}");
    eventually("the evicted pod to go away", DEADLINE, || async {
        pods.get_opt(&victim)
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
}
