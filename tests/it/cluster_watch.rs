//! The watchers of `meshtop::cluster` end to end: the sandbox API server, the real kube
//! client built from the sandbox's kubeconfig by `cluster::connect`, and the events that
//! arrive on the channel. Every wait is on the channel with a deadline, never a sleep.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::harness;
use crate::common::process::CliFiles;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams};
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use meshtop::cluster::{self, ConnectError, ConnectOptions, Connection, WatchHandle, WatchOptions};
use meshtop::model::facts::DrainPreflight;
use meshtop::model::summary::IntOrPercent;
use meshtop::model::{ClusterEvent, Kind, Model, Object, SourceState, Stamped};
use meshtop_sandbox::Sandbox;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long any awaited event may take before the test fails. Generous: the machine is
/// shared and the first list of every kind races fourteen watchers.
const DEADLINE: Duration = Duration::from_secs(30);

/// The field report's cluster has no Gateway API.
const K1_ABSENT: &[Kind] = &[Kind::KubeGateway];

/// small.yaml installs the IstioOperator CRD only.
const SMALL_ABSENT: &[Kind] = &[Kind::IstioGateway, Kind::KubeGateway];

/// A scenario without any CRD: Istio's custom resources are absent.
const NO_CRDS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: default
"#;

async fn connect(sandbox: &Sandbox, context: &str) -> Connection {
    harness::connection(sandbox, context)
        .await
        .expect("connect to the sandbox")
}

/// The small scenario's sandbox, meshtop's admin connection to it, and its watchers once
/// every source is synced.
async fn small_synced(opts: WatchOptions) -> (Sandbox, Connection, Feed) {
    let sandbox = harness::start_file("assets/scenarios/small.yaml")
        .await
        .expect("sandbox");
    let conn = connect(&sandbox, harness::ADMIN_CONTEXT).await;
    let mut feed = Feed::start(&conn, opts);
    feed.until_synced(SMALL_ABSENT).await;
    (sandbox, conn, feed)
}

/// The receiving end of the watchers, with what has arrived so far.
struct Feed {
    rx: mpsc::Receiver<Stamped>,
    _handle: WatchHandle,
    seen: Vec<ClusterEvent>,
    /// The model, fed every event as it arrives, as the UI loop does.
    model: Model,
    /// The latest state of each source.
    states: BTreeMap<Kind, SourceState>,
    /// The latest relist of each kind, its parts included.
    relists: BTreeMap<Kind, Vec<Object>>,
    /// The parts of each kind's relist still coming.
    parts: BTreeMap<Kind, Vec<Object>>,
}

impl Feed {
    fn start(conn: &Connection, opts: WatchOptions) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        let handle = cluster::spawn_watchers(conn, opts, tx);
        Self {
            rx,
            _handle: handle,
            seen: Vec::new(),
            model: Model::new(),
            states: BTreeMap::new(),
            relists: BTreeMap::new(),
            parts: BTreeMap::new(),
        }
    }

    /// Receives until `pred` holds for an event, and returns that event.
    async fn until(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&ClusterEvent) -> bool,
    ) -> ClusterEvent {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let event = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(stamped)) => {
                    self.model.apply(stamped.clone());
                    stamped.event
                }
                Ok(None) => panic!("the watchers stopped while waiting for {what}"),
                Err(_) => panic!(
                    "no {what} within {DEADLINE:?}; states: {:?}; last events: {:#?}",
                    self.states,
                    self.seen
                        .iter()
                        .rev()
                        .take(15)
                        .map(brief)
                        .collect::<Vec<_>>()
                ),
            };
            match &event {
                ClusterEvent::Source(kind, state) => {
                    if *state == SourceState::Ready {
                        assert!(
                            self.relists.contains_key(kind),
                            "{kind:?} turned Ready before its relist"
                        );
                    }
                    self.states.insert(*kind, state.clone());
                }
                ClusterEvent::Relisted(kind, objects) | ClusterEvent::RelistPart(kind, objects) => {
                    assert!(
                        objects.iter().all(|o| Kind::of(o) == *kind),
                        "a relist of {kind:?} holds another kind"
                    );
                    let mut relist = self.parts.remove(kind).unwrap_or_default();
                    relist.extend(objects.iter().cloned());
                    if matches!(event, ClusterEvent::Relisted(..)) {
                        self.relists.insert(*kind, relist);
                    } else {
                        self.parts.insert(*kind, relist);
                    }
                }
                ClusterEvent::RelistAbandoned(kind) => {
                    self.parts.remove(kind);
                }
                _ => {}
            }
            self.seen.push(event.clone());
            if pred(&event) {
                return event;
            }
        }
    }

    /// Receives until every kind of `want` is in the state given.
    async fn until_states(&mut self, want: &[(Kind, SourceState)]) {
        let done = |states: &BTreeMap<Kind, SourceState>| {
            want.iter().all(|(k, s)| states.get(k) == Some(s))
        };
        if done(&self.states) {
            return;
        }
        let what = format!("states {want:?}");
        let mut states = self.states.clone();
        self.until(&what, |e| {
            if let ClusterEvent::Source(k, s) = e {
                states.insert(*k, s.clone());
            }
            done(&states)
        })
        .await;
    }

    /// Receives until every source is Ready, except `absent` ones, which are Absent.
    async fn until_synced(&mut self, absent: &[Kind]) {
        let want: Vec<_> = Kind::ALL
            .iter()
            .map(|k| match absent.contains(k) {
                true => (*k, SourceState::Absent),
                false => (*k, SourceState::Ready),
            })
            .collect();
        self.until_states(&want).await;
    }

    /// Receives until a source turns Error; its kind and message.
    async fn until_error(&mut self) -> (Kind, String) {
        let error = self
            .until("a source in Error", |e| {
                matches!(e, ClusterEvent::Source(_, SourceState::Error(_)))
            })
            .await;
        let ClusterEvent::Source(kind, SourceState::Error(message)) = error else {
            unreachable!("`until` returns the event it waited for")
        };
        (kind, message)
    }

    fn relisted(&self, kind: Kind) -> &[Object] {
        self.relists
            .get(&kind)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// One line per event, for failure messages.
fn brief(event: &ClusterEvent) -> String {
    match event {
        ClusterEvent::Applied(o) => format!("Applied {:?} {}", Kind::of(o), name(o)),
        ClusterEvent::Deleted(k, key) => format!("Deleted {k:?} {}/{}", key.namespace, key.name),
        ClusterEvent::Relisted(k, objects) => format!("Relisted {k:?} ({} objects)", objects.len()),
        ClusterEvent::RelistPart(k, objects) => {
            format!("RelistPart {k:?} ({} objects)", objects.len())
        }
        ClusterEvent::RelistAbandoned(k) => format!("RelistAbandoned {k:?}"),
        ClusterEvent::Source(k, s) => format!("Source {k:?} {s:?}"),
        ClusterEvent::Server { git_version } => format!("Server {git_version}"),
        ClusterEvent::ProxySync(r) => format!("ProxySync {}/{}", r.namespace, r.istiod),
        ClusterEvent::ProxySyncUnchanged { namespace, istiod } => {
            format!("ProxySyncUnchanged {namespace}/{istiod}")
        }
        ClusterEvent::ProxySyncGone { namespace, istiod } => {
            format!("ProxySyncGone {namespace}/{istiod}")
        }
    }
}

fn name(o: &Object) -> String {
    match o {
        Object::Namespace(x) => x.name.to_string(),
        Object::Node(x) => x.name.to_string(),
        Object::Pod(x) => format!("{}/{}", x.namespace, x.name),
        Object::Workload(x) => format!("{}/{}", x.namespace, x.name),
        Object::Service(x) => format!("{}/{}", x.namespace, x.name),
        Object::Hpa(x) => format!("{}/{}", x.namespace, x.name),
        Object::Pdb(x) => format!("{}/{}", x.namespace, x.name),
        Object::WebhookConfig(x) => x.name.to_string(),
        Object::ConfigMap(x) => format!("{}/{}", x.namespace, x.name),
        Object::IstioOperator(x) => format!("{}/{}", x.namespace, x.name),
        Object::IstioGateway(x) => format!("{}/{}", x.namespace, x.name),
        Object::KubeGateway(x) => format!("{}/{}", x.namespace, x.name),
    }
}

fn names(objects: &[Object]) -> Vec<String> {
    let mut v: Vec<String> = objects.iter().map(name).collect();
    v.sort();
    v
}

#[tokio::test]
async fn every_kind_relists_then_turns_ready() {
    let sandbox = harness::start_file("assets/scenarios/k1-upgrade.yaml")
        .await
        .expect("sandbox");
    let conn = connect(&sandbox, harness::ADMIN_CONTEXT).await;
    assert_eq!(conn.context, harness::ADMIN_CONTEXT);
    assert_eq!(conn.server, sandbox.url());
    let mut feed = Feed::start(&conn, WatchOptions::default());
    feed.until_synced(K1_ABSENT).await;
    if !feed
        .seen
        .iter()
        .any(|e| matches!(e, ClusterEvent::Server { .. }))
    {
        feed.until("the server version", |e| {
            matches!(e, ClusterEvent::Server { .. })
        })
        .await;
    }
    let version = feed.seen.iter().find_map(|e| match e {
        ClusterEvent::Server { git_version } => Some(git_version.clone()),
        _ => None,
    });
    assert_eq!(version.as_deref(), Some("v1.15.6"));

    let nodes = names(feed.relisted(Kind::Node));
    assert_eq!(nodes.len(), 8, "{nodes:?}");
    assert!(nodes.contains(&"k1-node03".to_string()), "{nodes:?}");
    let iops = names(feed.relisted(Kind::IstioOperator));
    assert_eq!(
        iops,
        [
            "istio-system/istio-controlplane",
            "istio-system/istio-gateway-sample"
        ]
    );
    let pdbs = names(feed.relisted(Kind::Pdb));
    assert!(
        pdbs.contains(&"istio-system/istio-pilot".to_string()),
        "{pdbs:?}"
    );
    // Only the `istio-*` ConfigMaps reach the model.
    let config_maps = names(feed.relisted(Kind::ConfigMap));
    assert!(!config_maps.is_empty());
    assert!(
        config_maps.iter().all(|n| n
            .split('/')
            .nth(1)
            .is_some_and(|n| n == "istio" || n.starts_with("istio-"))),
        "{config_maps:?}"
    );
    for kind in [
        Kind::Namespace,
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::DaemonSet,
        Kind::Service,
        Kind::Hpa,
        Kind::WebhookConfig,
    ] {
        assert!(!feed.relisted(kind).is_empty(), "{kind:?} relisted nothing");
    }
}

#[tokio::test]
async fn changes_made_through_the_api_arrive_as_applied() {
    let (_sandbox, conn, mut feed) = small_synced(WatchOptions::default()).await;
    let client = conn.client.clone();
    let pp = PatchParams::default();

    Api::<Namespace>::all(client.clone())
        .patch(
            "shop",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"istio.io/rev": "1-9-1"}}})),
        )
        .await
        .expect("label the namespace");
    feed.until("shop relabelled", |e| {
        matches!(e, ClusterEvent::Applied(Object::Namespace(ns))
            if &*ns.name == "shop" && ns.labels.get("istio.io/rev").map(|v| &**v) == Some("1-9-1"))
    })
    .await;

    Api::<Node>::all(client.clone())
        .patch(
            "worker-1",
            &pp,
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");
    feed.until("worker-1 cordoned", |e| {
        matches!(e, ClusterEvent::Applied(Object::Node(n)) if &*n.name == "worker-1" && n.unschedulable)
    })
    .await;

    harness::set_min_available(&conn, "shop", "checkout", 1).await;
    feed.until("checkout relaxed to minAvailable 1", |e| {
        matches!(e, ClusterEvent::Applied(Object::Pdb(p))
            if &*p.name == "checkout" && p.min_available == Some(IntOrPercent::Int(1)))
    })
    .await;
}

#[tokio::test]
async fn a_deleted_pod_arrives_as_deleted() {
    let (_sandbox, conn, mut feed) = small_synced(WatchOptions::default()).await;
    let pods = Api::<Pod>::namespaced(conn.client.clone(), "shop");
    let victim = pods
        .list(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .into_iter()
        .find_map(|p| p.metadata.name)
        .expect("a pod in shop");
    pods.delete(&victim, &DeleteParams::default())
        .await
        .expect("delete");
    feed.until("the pod's Deleted", |e| {
        matches!(e, ClusterEvent::Deleted(Kind::Pod, key) if &*key.namespace == "shop" && *key.name == *victim)
    })
    .await;
}

/// `-n` does not narrow what the watches see when RBAC allows the cluster scope: drains and
/// the control plane need every namespace (the lists are filtered by the model's focus).
#[tokio::test]
async fn a_namespace_scope_still_watches_the_cluster_when_allowed() {
    let opts = WatchOptions {
        namespace: Some("shop".into()),
        ..WatchOptions::default()
    };
    let (_sandbox, _conn, feed) = small_synced(opts).await;
    let pods = names(feed.relisted(Kind::Pod));
    assert!(pods.iter().any(|p| p.starts_with("shop/")), "{pods:?}");
    assert!(
        pods.iter().any(|p| p.starts_with("istio-system/")),
        "{pods:?}"
    );
    assert_eq!(feed.relisted(Kind::Node).len(), 4);
    assert_eq!(feed.model.drain_unknown(), None);
}

/// A role bound in one namespace only: the cluster scope is refused, `-n`'s namespace is
/// watched, and the source says it is partial, so drain answers are unknown, not "ok".
#[tokio::test]
async fn a_namespace_scope_falls_back_to_its_namespace_when_the_cluster_is_forbidden() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/scenarios/small.yaml"
    ))
    .expect("scenario");
    let text = text.replace(
        "sandbox.meshtop.dev/restricted-deny: create pods/portforward istio-system; list nodes",
        "sandbox.meshtop.dev/restricted-deny: list pods :cluster; watch pods :cluster",
    );
    let sandbox = harness::start_text(&text).await.expect("sandbox");
    let conn = connect(&sandbox, harness::RESTRICTED_CONTEXT).await;
    let opts = WatchOptions {
        namespace: Some("shop".into()),
        ..WatchOptions::default()
    };
    let mut feed = Feed::start(&conn, opts);
    feed.until("pods in shop only", |e| {
        matches!(e, ClusterEvent::Source(Kind::Pod, SourceState::Partial(_)))
    })
    .await;
    let pods = names(feed.relisted(Kind::Pod));
    assert!(!pods.is_empty());
    assert!(pods.iter().all(|p| p.starts_with("shop/")), "{pods:?}");
    let Some(SourceState::Partial(why)) = feed.states.get(&Kind::Pod) else {
        panic!("{:?}", feed.states.get(&Kind::Pod));
    };
    assert!(
        why.starts_with("only namespace shop is visible: cannot list pods at the cluster scope"),
        "{why}"
    );
    // The model says why drain answers are unknown instead of "ok".
    feed.until_states(&[
        (Kind::Node, SourceState::Ready),
        (Kind::Pdb, SourceState::Ready),
    ])
    .await;
    let unknown = feed.model.drain_unknown().expect("drain answers unknown");
    assert!(
        unknown.starts_with("pods: only namespace shop is visible"),
        "{unknown}"
    );
    assert!(
        feed.model
            .nodes()
            .iter()
            .all(|n| matches!(n.preflight, DrainPreflight::Unknown { .. }))
    );
}

#[tokio::test]
async fn a_refused_list_makes_its_source_forbidden_and_the_others_ready() {
    let sandbox = harness::start_file("assets/scenarios/small.yaml")
        .await
        .expect("sandbox");
    let conn = connect(&sandbox, harness::RESTRICTED_CONTEXT).await;
    let mut feed = Feed::start(&conn, WatchOptions::default());
    let mut want: Vec<_> = Kind::ALL
        .iter()
        .filter(|k| !matches!(k, Kind::Node | Kind::IstioGateway | Kind::KubeGateway))
        .map(|k| (*k, SourceState::Ready))
        .collect();
    want.push((Kind::IstioGateway, SourceState::Absent));
    want.push((Kind::KubeGateway, SourceState::Absent));
    // The scenario's restricted user may not `list nodes`: the state says so.
    let refusal = "cannot list nodes at the cluster scope".to_string();
    want.push((Kind::Node, SourceState::Forbidden(refusal)));
    feed.until_states(&want).await;
    assert!(
        !feed.relists.contains_key(&Kind::Node),
        "no node was ever listed"
    );
}

#[tokio::test]
async fn missing_istio_crds_make_their_sources_absent() {
    let sandbox = harness::start_text(NO_CRDS).await.expect("sandbox");
    let conn = connect(&sandbox, harness::ADMIN_CONTEXT).await;
    let mut feed = Feed::start(&conn, WatchOptions::default());
    let want: Vec<_> = Kind::ALL
        .iter()
        .map(|k| match k {
            Kind::IstioOperator | Kind::IstioGateway | Kind::KubeGateway => {
                (*k, SourceState::Absent)
            }
            _ => (*k, SourceState::Ready),
        })
        .collect();
    feed.until_states(&want).await;
    assert_eq!(
        names(feed.relisted(Kind::Namespace)),
        ["default", "kube-system"]
    );
}

#[tokio::test]
async fn an_odd_custom_resource_does_not_stop_its_stream() {
    let (_sandbox, conn, mut feed) = small_synced(WatchOptions::default()).await;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("install.istio.io", "v1alpha1", "IstioOperator"),
        "istiooperators",
    );
    let iops =
        Api::<DynamicObject>::namespaced_with(conn.client.clone(), "istio-system", &resource);
    for (name, spec) in [
        (
            "odd",
            json!({"revision": 7, "components": "none", "values": [1, 2]}),
        ),
        ("fine", json!({"revision": "next", "profile": "empty"})),
    ] {
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "install.istio.io/v1alpha1",
            "kind": "IstioOperator",
            "metadata": {"name": name, "namespace": "istio-system"},
            "spec": spec,
        }))
        .expect("object");
        iops.create(&PostParams::default(), &obj)
            .await
            .expect("create");
    }
    feed.until(
        "the IstioOperator after the odd one",
        |e| matches!(e, ClusterEvent::Applied(Object::IstioOperator(iop)) if &*iop.name == "fine"),
    )
    .await;
    assert_eq!(
        feed.states.get(&Kind::IstioOperator),
        Some(&SourceState::Ready)
    );
}

#[tokio::test]
async fn a_stopped_server_turns_sources_to_error() {
    let (sandbox, _conn, mut feed) = small_synced(WatchOptions::default()).await;
    sandbox.stop();
    let (kind, message) = feed.until_error().await;
    assert!(message.contains(kind.resource()), "{message}");
}

/// A TCP relay to the sandbox that can be cut, closing every connection through it, and
/// restored on the same port: the API server lost and back, as a client sees it.
struct Relay {
    addr: std::net::SocketAddr,
    target: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(addr: std::net::SocketAddr, target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay address");
        let task = tokio::spawn(async move {
            // Dropped with the task when cut: every relayed connection closes with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, target, task }
    }

    fn cut(&self) {
        self.task.abort();
    }

    async fn restore(self) -> Self {
        let _ = self.task.await;
        Relay::start(self.addr, self.target).await
    }
}

#[tokio::test]
async fn a_lost_server_shows_error_then_ready_again() {
    let sandbox = harness::start_file("assets/scenarios/small.yaml")
        .await
        .expect("sandbox");
    let relay = Relay::start(([127, 0, 0, 1], 0).into(), sandbox.addr()).await;
    let yaml = sandbox
        .kubeconfig_yaml()
        .replace(&sandbox.url(), &format!("https://{}", relay.addr));
    let kubeconfig = Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    let conn = cluster::connect_kubeconfig(kubeconfig, "the relayed kubeconfig", None)
        .await
        .expect("connect through the relay");
    let mut feed = Feed::start(&conn, WatchOptions::default());
    feed.until_synced(SMALL_ABSENT).await;

    relay.cut();
    let (kind, message) = feed.until_error().await;
    assert!(message.contains(kind.resource()), "{message}");

    // Back: the source that saw the server gone relists and is Ready again (the others
    // may have resumed their watches without ever noticing).
    let _relay = relay.restore().await;
    feed.relists.remove(&kind);
    feed.until_synced(SMALL_ABSENT).await;
    assert!(feed.relists.contains_key(&kind), "{kind:?} did not relist");
}

#[tokio::test]
async fn a_malformed_kubeconfig_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken-kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters: [\n  - {name: a\n",
    )
    .expect("write");
    let opts = ConnectOptions {
        kubeconfig: Some(path.clone()),
        context: None,
    };
    let err = cluster::connect(&opts)
        .await
        .expect_err("a malformed kubeconfig");
    assert!(
        matches!(err, ConnectError::KubeconfigMalformed { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("malformed"),
        "{text}"
    );

    let missing = dir.path().join("missing");
    let opts = ConnectOptions {
        kubeconfig: Some(missing.clone()),
        context: None,
    };
    let err = cluster::connect(&opts)
        .await
        .expect_err("a missing kubeconfig");
    assert!(
        matches!(err, ConnectError::KubeconfigUnreadable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_context_is_an_error_listing_the_contexts() {
    let sandbox = harness::start_file("assets/scenarios/small.yaml")
        .await
        .expect("sandbox");
    let files = CliFiles::new(&sandbox);
    let path = files.kubeconfig.clone();
    let opts = ConnectOptions {
        kubeconfig: Some(path.clone()),
        context: Some("prod-eu".into()),
    };
    let err = cluster::connect(&opts)
        .await
        .expect_err("an unknown context");
    let text = err.to_string();
    assert!(
        matches!(err, ConnectError::UnknownContext { .. }),
        "{err:?}"
    );
    assert!(text.contains("prod-eu"), "{text}");
    assert!(
        text.contains(harness::ADMIN_CONTEXT) && text.contains(harness::RESTRICTED_CONTEXT),
        "{text}"
    );

    // The same file and a context it has: connected, and the header's facts are right.
    let opts = ConnectOptions {
        kubeconfig: Some(path),
        context: Some(harness::RESTRICTED_CONTEXT.into()),
    };
    let conn = cluster::connect(&opts).await.expect("connect");
    assert_eq!(conn.context, harness::RESTRICTED_CONTEXT);
    assert_eq!(conn.server, sandbox.url());
    assert_eq!(conn.default_namespace, "default");
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_naming_it() {
    let sandbox = harness::start_file("assets/scenarios/small.yaml")
        .await
        .expect("sandbox");
    let kubeconfig = Kubeconfig::from_yaml(&sandbox.kubeconfig_yaml()).expect("kubeconfig");
    let url = sandbox.url();
    sandbox.stop();
    drop(sandbox);
    let err = cluster::connect_kubeconfig(kubeconfig, "the sandbox kubeconfig", None)
        .await
        .expect_err("nothing listens any more");
    assert!(matches!(err, ConnectError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn the_model_fed_by_the_watchers_shows_istio_pilot_blocking_k1_node03() {
    let sandbox = harness::start_file("assets/scenarios/k1-upgrade.yaml")
        .await
        .expect("sandbox");
    let conn = connect(&sandbox, harness::ADMIN_CONTEXT).await;
    let mut feed = Feed::start(&conn, WatchOptions::default());
    feed.until_synced(K1_ABSENT).await;
    let rows = feed.model.disruption();
    let pilot = rows
        .iter()
        .find(|r| &*r.namespace == "istio-system" && &*r.name == "istio-pilot")
        .unwrap_or_else(|| {
            panic!(
                "no istio-pilot PDB in {:?}",
                rows.iter().map(|r| &r.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(pilot.allowed_disruptions, 0);
    assert!(
        pilot.blocks_nodes.iter().any(|n| &**n == "k1-node03"),
        "istio-pilot blocks {:?}",
        pilot.blocks_nodes
    );
}
