//! One watcher per watched kind: list, then watch, projecting each object into its summary
//! as it arrives, and sending `ClusterEvent`s on the one channel the UI loop reads. Each
//! source reports its state (syncing, ready, forbidden, absent, error) as events too.

mod events;
mod lean;
mod pager;
mod scan;

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use jiff::Timestamp;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, DefaultBackoff, Event, watcher};
use kube::{Client, Resource};
use tokio::sync::{OnceCell, mpsc};
use tokio::task::JoinSet;

pub use self::lean::{KEPT_ANNOTATIONS, Lean};
use self::pager::ListItem;

use super::Connection;
use crate::model::intern::Interner;
use crate::model::project::{self, PodParts, Project};
use crate::model::summary::{Object, ObjectKey};
use crate::model::{ClusterEvent, Kind, SourceState, Stamped};

/// How often a source that is absent (404) or forbidden (403) is tried again by default:
/// a CRD being installed or a role being granted shows up within this, without hammering
/// the API server meanwhile.
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(30);

/// How often the API server's version is asked again: a Kubernetes upgrade changes it.
const VERSION_POLL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Watch namespaced kinds in this namespace only; `None`: all namespaces. Namespaces,
    /// Nodes, MutatingWebhookConfigurations and IstioOperators (the control plane's
    /// definition, wherever it lives) are always watched cluster-wide.
    pub namespace: Option<String>,
    /// How often an absent or forbidden source is tried again.
    pub recheck: Duration,
    /// How the first list of each kind is read.
    pub initial_list: InitialList,
    /// Objects per page of a paged list.
    pub page_size: u32,
}

/// Objects per page of a paged list by default: client-go's and kube's.
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// A big relist goes to the model in parts of this many objects as they are read, so the
/// model is built alongside the reading (at 100,000 pods, applying them all at the end
/// kept one core busy for 0.4 s after the last page) and the screen never waits on one
/// long apply.
const RELIST_PART: usize = 2_000;

/// How a watcher reads its first list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialList {
    /// Streamed (`sendInitialEvents`, the WatchList protocol) when the API server is 1.32
    /// or newer, paged otherwise; paged from then on if the server refuses the stream.
    Auto,
    /// A paged list (`limit` and `continue`), then a watch.
    Paged,
    /// Streamed, falling back to paged if the server refuses.
    Streaming,
}

/// The oldest Kubernetes minor version asked for a streamed first list: the WatchList
/// feature is on by default from 1.32 (beta).
const STREAMING_SINCE_MINOR: u32 = 32;

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            recheck: DEFAULT_RECHECK,
            initial_list: InitialList::Auto,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// The running watchers. Dropping it stops them all.
#[derive(Debug)]
pub struct WatchHandle {
    tasks: JoinSet<()>,
    progress: Progress,
}

impl WatchHandle {
    /// Stops every watcher now (dropping the handle does the same).
    pub fn abort(&mut self) {
        self.tasks.abort_all();
    }

    /// What the watchers have received so far: how a caller waiting for the first lists
    /// tells a slow cluster from a stalled one.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }
}

/// Objects received by each watcher (list items and watch events, kept or not), counted as
/// they arrive, before a list is complete. Cheap to read; shared by clones.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    received: Arc<[AtomicU64; Kind::ALL.len()]>,
}

impl Progress {
    fn record(&self, kind: Kind) {
        if let Some(n) = self.received.get(kind as usize) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Objects of `kind` received so far.
    pub fn received(&self, kind: Kind) -> u64 {
        self.received
            .get(kind as usize)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// Objects of every kind received so far.
    pub fn total(&self) -> u64 {
        self.received
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }
}

/// The watchers' shared choice of first list: decided once per connection, from the API
/// server's version, and turned to paged for good when the server refuses a stream.
#[derive(Clone)]
struct Intake {
    client: Client,
    page_size: u32,
    initial_list: InitialList,
    server_streams: Arc<OnceCell<bool>>,
    refused: Arc<AtomicBool>,
}

impl Intake {
    async fn config(&self) -> watcher::Config {
        let config = watcher::Config::default().page_size(self.page_size.max(1));
        if self.streams().await {
            config.streaming_lists()
        } else {
            config
        }
    }

    async fn streams(&self) -> bool {
        if self.refused.load(Ordering::Relaxed) {
            return false;
        }
        match self.initial_list {
            InitialList::Paged => false,
            InitialList::Streaming => true,
            InitialList::Auto => *self
                .server_streams
                .get_or_init(|| async {
                    match self.client.apiserver_version().await {
                        Ok(info) => streams_since(&info.major, &info.minor),
                        Err(e) => {
                            tracing::debug!(error = %super::describe(&e), "server version unknown: paged lists");
                            false
                        }
                    }
                })
                .await,
        }
    }

    /// Whether the watches now ask for streamed first lists.
    fn streaming_now(&self) -> bool {
        if self.refused.load(Ordering::Relaxed) {
            return false;
        }
        match self.initial_list {
            InitialList::Paged => false,
            InitialList::Streaming => true,
            InitialList::Auto => self.server_streams.get().copied().unwrap_or(false),
        }
    }
}

/// Whether a server of this version (`/version`'s `major` and `minor`, e.g. `1` and `32+`)
/// serves streamed first lists by default.
fn streams_since(major: &str, minor: &str) -> bool {
    let digits = |s: &str| -> Option<u32> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s.get(..end)?.parse().ok()
    };
    match (digits(major), digits(minor)) {
        (Some(1), Some(minor)) => minor >= STREAMING_SINCE_MINOR,
        (Some(major), _) => major > 1,
        _ => false,
    }
}

/// Starts one watcher per `Kind` and the API server version poll; every event goes to
/// `tx`. Must be called inside a tokio runtime. The watchers stop when `tx`'s receiver is
/// dropped or the handle is.
pub fn spawn_watchers(
    conn: &Connection,
    opts: WatchOptions,
    tx: mpsc::Sender<Stamped>,
) -> WatchHandle {
    let progress = Progress::default();
    let shared = Shared {
        tx,
        interner: Arc::new(Mutex::new(Interner::default())),
        recheck: opts.recheck,
        progress: progress.clone(),
        intake: Intake {
            client: conn.client.clone(),
            page_size: opts.page_size,
            initial_list: opts.initial_list,
            server_streams: Arc::new(OnceCell::new()),
            refused: Arc::new(AtomicBool::new(false)),
        },
    };
    let mut tasks = JoinSet::new();
    tasks.spawn(poll_server_version(conn.client.clone(), shared.tx.clone()));
    for kind in Kind::ALL {
        spawn_kind(
            &mut tasks,
            kind,
            &conn.client,
            opts.namespace.as_deref(),
            shared.clone(),
        );
    }
    WatchHandle { tasks, progress }
}

/// Where a namespaced kind is watched, and how RBAC errors describe it.
struct Scope<'a> {
    client: &'a Client,
    namespace: Option<&'a str>,
}

impl Scope<'_> {
    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    fn dynamic(&self, resource: &ApiResource) -> Api<DynamicObject> {
        match self.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }

    fn words(&self) -> String {
        match self.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "at the cluster scope".to_string(),
        }
    }
}

fn spawn_kind(
    tasks: &mut JoinSet<()>,
    kind: Kind,
    client: &Client,
    namespace: Option<&str>,
    shared: Shared,
) {
    let cluster = Scope {
        client,
        namespace: None,
    };
    let scoped = Scope { client, namespace };
    let all = || client.clone();
    match kind {
        Kind::Namespace => spawn_typed(tasks, kind, &cluster, Api::<Namespace>::all(all()), shared),
        Kind::Node => spawn_typed(tasks, kind, &cluster, Api::<Lean<Node>>::all(all()), shared),
        Kind::Pod => spawn_namespaced::<Lean<PodParts>>(tasks, kind, &scoped, shared),
        Kind::Deployment => spawn_namespaced::<Lean<Deployment>>(tasks, kind, &scoped, shared),
        Kind::ReplicaSet => spawn_namespaced::<Lean<ReplicaSet>>(tasks, kind, &scoped, shared),
        Kind::StatefulSet => spawn_namespaced::<StatefulSet>(tasks, kind, &scoped, shared),
        Kind::DaemonSet => spawn_namespaced::<DaemonSet>(tasks, kind, &scoped, shared),
        Kind::Service => spawn_namespaced::<Service>(tasks, kind, &scoped, shared),
        Kind::Hpa => spawn_namespaced::<HorizontalPodAutoscaler>(tasks, kind, &scoped, shared),
        Kind::Pdb => spawn_namespaced::<PodDisruptionBudget>(tasks, kind, &scoped, shared),
        Kind::WebhookConfig => spawn_typed(
            tasks,
            kind,
            &cluster,
            Api::<MutatingWebhookConfiguration>::all(all()),
            shared,
        ),
        Kind::ConfigMap => {
            // Only the names matter, so only metadata is fetched: ConfigMaps can be large.
            let mut source = Source::new(kind, &cluster, shared, project_config_map);
            source.keep = is_istio_config_map;
            if let Some(ns) = scoped.namespace {
                source.fallback = Some((
                    ns.to_string(),
                    Box::new(typed(scoped.api::<PartialObjectMeta<ConfigMap>>())),
                ));
            }
            tasks.spawn(source.run(typed(cluster.api::<PartialObjectMeta<ConfigMap>>())));
        }
        Kind::IstioOperator => {
            let resource = custom(
                "install.istio.io",
                "v1alpha1",
                "IstioOperator",
                "istiooperators",
            );
            let source = Source::new(kind, &cluster, shared, |o: &DynamicObject, i| {
                project::istio_operator(o, i).map(Object::IstioOperator)
            });
            tasks.spawn(source.run(typed(cluster.dynamic(&resource))));
        }
        Kind::IstioGateway => {
            let resource = custom("networking.istio.io", "v1beta1", "Gateway", "gateways");
            let mut source = Source::new(kind, &cluster, shared, |o: &DynamicObject, i| {
                project::istio_gateway(o, i).map(Object::IstioGateway)
            });
            if let Some(ns) = scoped.namespace {
                source.fallback =
                    Some((ns.to_string(), Box::new(typed(scoped.dynamic(&resource)))));
            }
            tasks.spawn(source.run(typed(cluster.dynamic(&resource))));
        }
        Kind::KubeGateway => {
            let resource = custom("gateway.networking.k8s.io", "v1", "Gateway", "gateways");
            let mut source = Source::new(kind, &cluster, shared, |o: &DynamicObject, i| {
                project::kube_gateway(o, i).map(Object::KubeGateway)
            });
            if let Some(ns) = scoped.namespace {
                source.fallback =
                    Some((ns.to_string(), Box::new(typed(scoped.dynamic(&resource)))));
            }
            tasks.spawn(source.run(typed(cluster.dynamic(&resource))));
        }
    }
}

/// A watcher of a namespaced built-in kind: at the cluster scope, whatever `-n` says (drains
/// and the control plane need every namespace), and in `-n`'s namespace only when RBAC
/// forbids the cluster scope: then the source is `Partial`.
fn spawn_namespaced<K>(tasks: &mut JoinSet<()>, kind: Kind, scoped: &Scope<'_>, shared: Shared)
where
    K: Project
        + Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + ListItem
        + Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let cluster = Scope {
        client: scoped.client,
        namespace: None,
    };
    let mut source = Source::new(kind, &cluster, shared, <K as Project>::project);
    if let Some(ns) = scoped.namespace {
        source.fallback = Some((ns.to_string(), Box::new(typed(scoped.api::<K>()))));
    }
    tasks.spawn(source.run(typed(cluster.api::<K>())));
}

/// A watcher of a built-in kind, projected by its `Project` impl.
fn spawn_typed<K>(
    tasks: &mut JoinSet<()>,
    kind: Kind,
    scope: &Scope<'_>,
    api: Api<K>,
    shared: Shared,
) where
    K: Project + Resource + Clone + ListItem + Debug + Send + 'static,
{
    let source = Source::new(kind, scope, shared, <K as Project>::project);
    tasks.spawn(source.run(typed(api)));
}

fn custom(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// The ConfigMaps the model knows about: a revision's mesh config `istio-<rev>` (and the
/// other `istio-*` ones), and `istio`, the mesh config of the default revision.
fn is_istio_config_map(name: &str) -> bool {
    name == "istio" || name.starts_with("istio-")
}

fn project_config_map(meta: &PartialObjectMeta<ConfigMap>, i: &mut Interner) -> Option<Object> {
    // Annotations (a last-applied-configuration can be big) and managed fields stay out.
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: meta.metadata.name.clone(),
            namespace: meta.metadata.namespace.clone(),
            labels: meta.metadata.labels.clone(),
            creation_timestamp: meta.metadata.creation_timestamp.clone(),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    project::config_map(&config_map, i).map(Object::ConfigMap)
}

type WatchStream<T> = BoxStream<'static, Result<Event<T>, watcher::Error>>;

/// Starts a watch afresh, configured as given.
type Rewatch<T> = Box<dyn Fn(watcher::Config) -> WatchStream<T> + Send + Sync>;

/// A fresh watcher over `api`, with kube's default backoff between failed attempts: kube's
/// for a streamed first list, meshtop's pipelined pages otherwise (`pager`).
fn typed<K>(api: Api<K>) -> impl Fn(watcher::Config) -> WatchStream<K> + Send + Sync + 'static
where
    K: Resource + Clone + ListItem + Debug + Send + 'static,
{
    move |config| match config.initial_list_strategy {
        watcher::InitialListStrategy::StreamingList => {
            watcher(api.clone(), config).default_backoff().boxed()
        }
        watcher::InitialListStrategy::ListWatch => pager::watch_paged(api.clone(), config),
    }
}

// The kinds whose pages serde reads (pods have a reader of their own: `lean`).
impl ListItem for Namespace {}
impl ListItem for Lean<Node> {}
impl ListItem for StatefulSet {}
impl ListItem for DaemonSet {}
impl ListItem for Service {}
impl ListItem for HorizontalPodAutoscaler {}
impl ListItem for PodDisruptionBudget {}
impl ListItem for MutatingWebhookConfiguration {}
impl ListItem for PartialObjectMeta<ConfigMap> {}
impl ListItem for DynamicObject {}

/// What every watcher shares: the channel, the string interner, the recheck period, how
/// first lists are read, and the count of what arrived.
#[derive(Clone)]
struct Shared {
    tx: mpsc::Sender<Stamped>,
    /// One interner for all kinds, so a node or namespace name is stored once whichever
    /// kind mentions it. Locked only while one object is projected, never across an await.
    interner: Arc<Mutex<Interner>>,
    recheck: Duration,
    intake: Intake,
    progress: Progress,
}

/// The receiver is gone: meshtop is shutting down.
struct Closed;

/// What the watch loop does next.
enum Flow {
    Continue,
    /// Absent or forbidden: drop the watch and try again after the recheck period.
    Pause,
    /// The watch connection broke: start over with a fresh list after a backoff, as
    /// client-go's reflector does. kube's watcher would resume from the last
    /// resourceVersion without a word, so the source could not tell when the server is
    /// back; a relist ends in `InitDone`, and with it `Ready`.
    Restart,
}

/// One watched kind: turns watcher events into cluster events and tracks its state.
struct Source<T> {
    kind: Kind,
    scope: String,
    project: fn(&T, &mut Interner) -> Option<Object>,
    /// Objects of other names are not the model's business (ConfigMaps).
    keep: fn(&str) -> bool,
    shared: Shared,
    state: Option<SourceState>,
    /// A relist was sent, so the model holds objects of this kind.
    delivered: bool,
    /// Parts of a relist not yet ended were sent (`RelistPart`).
    parts_sent: bool,
    /// `-n`'s namespace and its watch, for when the cluster scope is forbidden.
    fallback: Option<(String, Rewatch<T>)>,
    /// Why the source watches only the fallback's namespace, once it does.
    narrowed: Option<String>,
}

fn keep_all(_: &str) -> bool {
    true
}

impl<T> Source<T>
where
    T: Resource + Send + 'static,
{
    fn new(
        kind: Kind,
        scope: &Scope<'_>,
        shared: Shared,
        project: fn(&T, &mut Interner) -> Option<Object>,
    ) -> Self {
        Self {
            kind,
            scope: scope.words(),
            project,
            keep: keep_all,
            shared,
            state: None,
            delivered: false,
            parts_sent: false,
            fallback: None,
            narrowed: None,
        }
    }

    /// Ready, or Partial when only `-n`'s namespace is watched.
    fn listed(&self) -> SourceState {
        match &self.narrowed {
            Some(why) => SourceState::Partial(why.clone()),
            None => SourceState::Ready,
        }
    }

    async fn run<F>(mut self, watch: F)
    where
        F: Fn(watcher::Config) -> WatchStream<T> + Send + 'static,
    {
        if self.set(SourceState::Syncing).await.is_err() {
            return;
        }
        // kube's own backoff between restarts too; it resets after two quiet minutes.
        let mut restart = DefaultBackoff::default();
        loop {
            let config = self.shared.intake.config().await;
            let mut stream = match (&self.narrowed, &self.fallback) {
                (Some(_), Some((_, narrow))) => narrow(config),
                _ => watch(config),
            };
            let mut relist = Vec::new();
            let wait = loop {
                let step = match stream.next().await {
                    Some(Ok(event)) => self.on_event(event, &mut relist).await,
                    Some(Err(err)) => self.on_error(&err).await,
                    // A watcher never ends by itself; if it does, start a new one.
                    None => Ok(Flow::Restart),
                };
                match step {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Pause) => {
                        // The cluster scope is forbidden: `-n`'s namespace may not be.
                        if let (None, Some((ns, _)), Some(SourceState::Forbidden(why))) =
                            (&self.narrowed, &self.fallback, &self.state)
                        {
                            self.narrowed = Some(format!("only namespace {ns} is visible: {why}"));
                            self.scope = format!("in namespace {ns}");
                            break Duration::ZERO;
                        }
                        break self.shared.recheck;
                    }
                    Ok(Flow::Restart) => break restart.next().unwrap_or(self.shared.recheck),
                    Err(Closed) => return,
                }
            };
            drop(stream);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shared.tx.closed() => return,
            }
        }
    }

    async fn on_event(
        &mut self,
        event: Event<T>,
        relist: &mut Vec<Object>,
    ) -> Result<Flow, Closed> {
        match event {
            Event::Init => {
                relist.clear();
                self.abandon_parts().await?;
                // `Init` comes before the list is even tried, so after a failure it says
                // nothing about the server: the failure stays shown until a list succeeds.
                if matches!(
                    self.state,
                    Some(SourceState::Ready | SourceState::Partial(_))
                ) {
                    self.set(SourceState::Syncing).await?;
                }
            }
            Event::InitApply(obj) => {
                self.shared.progress.record(self.kind);
                if let Some(object) = self.project(&obj) {
                    relist.push(object);
                }
                if relist.len() >= RELIST_PART {
                    let part = std::mem::take(relist);
                    self.send(ClusterEvent::RelistPart(self.kind, part)).await?;
                    self.parts_sent = true;
                    self.delivered = true;
                }
            }
            Event::InitDone => {
                let objects = std::mem::take(relist);
                tracing::debug!(kind = ?self.kind, count = objects.len(), "relisted");
                self.send(ClusterEvent::Relisted(self.kind, objects))
                    .await?;
                self.delivered = true;
                self.parts_sent = false;
                self.shared
                    .interner
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .collect_garbage();
                self.set(self.listed()).await?;
            }
            Event::Apply(obj) => {
                self.shared.progress.record(self.kind);
                if (self.keep)(name_of(&obj)) {
                    let event = match self.project(&obj) {
                        Some(object) => ClusterEvent::Applied(object),
                        // An object that no longer reads as its kind is dropped from the
                        // model rather than shown as it was.
                        None => ClusterEvent::Deleted(self.kind, self.key(&obj)),
                    };
                    self.send(event).await?;
                }
                self.set(self.listed()).await?;
            }
            Event::Delete(obj) => {
                self.shared.progress.record(self.kind);
                if (self.keep)(name_of(&obj)) {
                    let key = self.key(&obj);
                    self.send(ClusterEvent::Deleted(self.kind, key)).await?;
                }
                self.set(self.listed()).await?;
            }
        }
        Ok(Flow::Continue)
    }

    /// A relist that sent parts and did not end: the model forgets which objects they held,
    /// so the next relist's end removes what it does not hold itself.
    async fn abandon_parts(&mut self) -> Result<(), Closed> {
        if std::mem::take(&mut self.parts_sent) {
            self.send(ClusterEvent::RelistAbandoned(self.kind)).await?;
        }
        Ok(())
    }

    async fn on_error(&mut self, err: &watcher::Error) -> Result<Flow, Closed> {
        let (verb, status, cause) = match err {
            watcher::Error::InitialListFailed(e) => ("list", api_status(e), super::describe(e)),
            watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
                ("watch", api_status(e), super::describe(e))
            }
            watcher::Error::WatchError(s) => ("watch", Some(s.as_ref()), super::status_text(s)),
            watcher::Error::NoResourceVersion => ("list", None, err.to_string()),
        };
        let resource = self.kind.resource();
        let code = status.map(|s| s.code);
        if matches!(code, Some(400 | 422)) && self.shared.intake.streaming_now() {
            // A server without the WatchList feature refuses `sendInitialEvents`: page the
            // lists of every kind from now on.
            tracing::info!(kind = ?self.kind, %cause, "streamed list refused: paging instead");
            self.shared.intake.refused.store(true, Ordering::Relaxed);
            return Ok(Flow::Restart);
        }
        match code {
            Some(403) => {
                tracing::warn!(kind = ?self.kind, %cause, "forbidden");
                let message = format!("cannot {verb} {resource} {}", self.scope);
                self.set(SourceState::Forbidden(message)).await?;
                Ok(Flow::Pause)
            }
            Some(404) => {
                tracing::info!(kind = ?self.kind, %cause, "resource absent");
                // A CRD removed while watched takes its objects with it.
                self.abandon_parts().await?;
                if self.delivered {
                    self.send(ClusterEvent::Relisted(self.kind, Vec::new()))
                        .await?;
                    self.delivered = false;
                }
                self.set(SourceState::Absent).await?;
                Ok(Flow::Pause)
            }
            Some(410) => {
                // The watcher relists by itself.
                tracing::debug!(kind = ?self.kind, "resourceVersion expired, relisting");
                self.set(SourceState::Syncing).await?;
                Ok(Flow::Continue)
            }
            _ => {
                tracing::warn!(kind = ?self.kind, %cause, "watch failed, retrying with backoff");
                self.set(SourceState::Error(format!("{verb} {resource}: {cause}")))
                    .await?;
                let broken = matches!(
                    err,
                    watcher::Error::WatchStartFailed(_) | watcher::Error::WatchFailed(_)
                );
                Ok(if broken {
                    Flow::Restart
                } else {
                    Flow::Continue
                })
            }
        }
    }

    fn project(&self, obj: &T) -> Option<Object> {
        if !(self.keep)(name_of(obj)) {
            return None;
        }
        let mut interner = self
            .shared
            .interner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let object = (self.project)(obj, &mut interner);
        if object.is_none() {
            tracing::debug!(kind = ?self.kind, name = name_of(obj), "object skipped: not readable as its kind");
        }
        object
    }

    fn key(&self, obj: &T) -> ObjectKey {
        let mut interner = self
            .shared
            .interner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ObjectKey {
            namespace: interner.intern(obj.meta().namespace.as_deref().unwrap_or("")),
            name: interner.intern(name_of(obj)),
        }
    }

    async fn set(&mut self, state: SourceState) -> Result<(), Closed> {
        if self.state.as_ref() == Some(&state) {
            return Ok(());
        }
        tracing::info!(kind = ?self.kind, ?state, "source state");
        self.state = Some(state.clone());
        self.send(ClusterEvent::Source(self.kind, state)).await
    }

    async fn send(&self, event: ClusterEvent) -> Result<(), Closed> {
        send(&self.shared.tx, event).await
    }
}

fn name_of<T: Resource>(obj: &T) -> &str {
    obj.meta().name.as_deref().unwrap_or("")
}

fn api_status(err: &kube::Error) -> Option<&kube::core::Status> {
    match err {
        kube::Error::Api(status) => Some(status),
        _ => None,
    }
}

async fn send(tx: &mpsc::Sender<Stamped>, event: ClusterEvent) -> Result<(), Closed> {
    tx.send(Stamped {
        at: Timestamp::now(),
        event,
    })
    .await
    .map_err(|_| Closed)
}

/// Sends the API server's version at start, and again whenever it changes (an upgrade of
/// the control plane). Failures are retried quietly: the watchers report the server's state.
async fn poll_server_version(client: Client, tx: mpsc::Sender<Stamped>) {
    let mut last: Option<String> = None;
    let mut retry = Duration::from_secs(1);
    loop {
        let wait = match client.apiserver_version().await {
            Ok(info) => {
                retry = Duration::from_secs(1);
                if last.as_deref() != Some(info.git_version.as_str()) {
                    last = Some(info.git_version.clone());
                    let event = ClusterEvent::Server {
                        git_version: info.git_version,
                    };
                    if send(&tx, event).await.is_err() {
                        return;
                    }
                }
                VERSION_POLL
            }
            Err(e) => {
                tracing::debug!(error = %super::describe(&e), "server version unavailable");
                let wait = retry;
                retry = (retry * 2).min(VERSION_POLL);
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The event and state logic of one source, driven by scripted watcher streams: what a
    //! real server rarely does on cue (410 Gone, an outage, a role granted later).

    use std::collections::VecDeque;

    use futures::stream;
    use kube::core::Status;

    use super::*;

    /// One scripted step of a watcher stream.
    enum Step {
        Init,
        Apply(&'static str),
        InitDone,
        Applied(&'static str),
        Deleted(&'static str),
        Fail(u16),
        /// The watch request found no server.
        Refused,
        /// The list request found no server.
        ListRefused,
    }

    fn config_map(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some("istio-system".to_string()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    fn refused() -> kube::Error {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        kube::Error::Service(Box::new(io))
    }

    fn item(step: Step) -> Result<Event<ConfigMap>, watcher::Error> {
        let api = |code| {
            kube::Error::Api(
                Status::failure("scripted", "Scripted")
                    .with_code(code)
                    .boxed(),
            )
        };
        Ok(match step {
            Step::Init => Event::Init,
            Step::Apply(n) => Event::InitApply(config_map(n)),
            Step::InitDone => Event::InitDone,
            Step::Applied(n) => Event::Apply(config_map(n)),
            Step::Deleted(n) => Event::Delete(config_map(n)),
            Step::Fail(410) => {
                return Err(watcher::Error::WatchError(
                    Status::failure("too old resource version", "Expired")
                        .with_code(410)
                        .boxed(),
                ));
            }
            Step::Fail(code) => return Err(watcher::Error::InitialListFailed(api(code))),
            Step::Refused => return Err(watcher::Error::WatchStartFailed(refused())),
            Step::ListRefused => return Err(watcher::Error::InitialListFailed(refused())),
        })
    }

    /// Runs a ConfigMap source over one script per watcher started, and returns the first
    /// `count` events it sends, and whether it sent more right away.
    async fn run(scripts: Vec<Vec<Step>>, count: usize) -> Vec<ClusterEvent> {
        let (tx, mut rx) = mpsc::channel(64);
        let client = kube::Client::try_from(kube::Config::new(
            "https://127.0.0.1:1".parse().expect("url"),
        ))
        .expect("client");
        let shared = Shared {
            tx,
            interner: Arc::new(Mutex::new(Interner::default())),
            recheck: Duration::from_millis(1),
            progress: Progress::default(),
            intake: Intake {
                client: client.clone(),
                page_size: DEFAULT_PAGE_SIZE,
                initial_list: InitialList::Paged,
                server_streams: Arc::new(OnceCell::new()),
                refused: Arc::new(AtomicBool::new(false)),
            },
        };
        let scope = Scope {
            client: &client,
            namespace: None,
        };
        let mut source = Source::new(
            Kind::ConfigMap,
            &scope,
            shared,
            <ConfigMap as Project>::project,
        );
        source.keep = is_istio_config_map;
        let scripts = Arc::new(Mutex::new(VecDeque::from(scripts)));
        let task = tokio::spawn(source.run(move |_| {
            let script = scripts
                .lock()
                .expect("scripts")
                .pop_front()
                .unwrap_or_default();
            stream::iter(script.into_iter().map(item))
                .chain(stream::pending())
                .boxed()
        }));
        let mut events = Vec::new();
        while events.len() < count {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(s)) => events.push(s.event),
                _ => panic!("only {:?}", script(&events)),
            }
        }
        // The scripts are played out: anything more would already be queued or on its way.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        if let Ok(extra) = rx.try_recv() {
            events.push(extra.event);
        }
        task.abort();
        events
    }

    fn names(objects: &[Object]) -> Vec<&str> {
        objects
            .iter()
            .map(|o| match o {
                Object::ConfigMap(c) => &*c.name,
                _ => "?",
            })
            .collect()
    }

    /// The events in a compact form: `Syncing`, `Relisted[a,b]`, `Applied a`, `Deleted a`.
    fn script(events: &[ClusterEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                ClusterEvent::Source(_, s) => format!("{s:?}"),
                ClusterEvent::Relisted(_, o) => format!("Relisted{:?}", names(o)),
                ClusterEvent::RelistPart(_, o) => format!("RelistPart of {}", o.len()),
                ClusterEvent::RelistAbandoned(_) => "RelistAbandoned".to_string(),
                ClusterEvent::Applied(o) => {
                    format!("Applied {}", names(std::slice::from_ref(o))[0])
                }
                ClusterEvent::Deleted(_, k) => format!("Deleted {}", k.name),
                ClusterEvent::Server { .. } => "Server".to_string(),
                ClusterEvent::ProxySync(r) => format!("ProxySync {}", r.istiod),
                ClusterEvent::ProxySyncUnchanged { istiod, .. } => {
                    format!("ProxySyncUnchanged {istiod}")
                }
                ClusterEvent::ProxySyncGone { istiod, .. } => format!("ProxySyncGone {istiod}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_big_relist_is_sent_in_parts_as_it_is_read_and_a_broken_one_is_abandoned() {
        use Step::*;
        let name = |i: usize| -> &'static str { Box::leak(format!("istio-{i}").into_boxed_str()) };
        let many = |n: usize| (0..n).map(|i| Apply(name(i))).collect::<Vec<_>>();
        let mut first = vec![Init];
        first.extend(many(RELIST_PART * 2 + 1));
        first.push(InitDone);
        // The list breaks after one part; the next one is small.
        first.push(Fail(410));
        first.push(Init);
        first.extend(many(RELIST_PART));
        first.push(Fail(500));
        first.extend([Init, Apply("istio"), InitDone]);
        let events = run(vec![first], 11).await;
        assert_eq!(
            script(&events),
            [
                "Syncing",
                &format!("RelistPart of {RELIST_PART}"),
                &format!("RelistPart of {RELIST_PART}"),
                &format!("Relisted[\"istio-{}\"]", RELIST_PART * 2),
                "Ready",
                "Syncing",
                &format!("RelistPart of {RELIST_PART}"),
                r#"Error("list configmaps: 500 Scripted: scripted")"#,
                "RelistAbandoned",
                r#"Relisted["istio"]"#,
                "Ready",
            ]
        );
    }

    #[tokio::test]
    async fn a_relist_is_sent_whole_at_init_done_then_changes_one_by_one() {
        use Step::*;
        let events = run(
            vec![vec![
                Init,
                Apply("istio-1-9-1"),
                Apply("kube-root-ca.crt"),
                Apply("istio"),
                InitDone,
                Applied("istio-canary"),
                Applied("coredns"),
                Deleted("istio-1-9-1"),
                Deleted("coredns"),
            ]],
            5,
        )
        .await;
        assert_eq!(
            script(&events),
            [
                "Syncing",
                r#"Relisted["istio-1-9-1", "istio"]"#,
                "Ready",
                "Applied istio-canary",
                "Deleted istio-1-9-1",
            ]
        );
    }

    #[tokio::test]
    async fn gone_shows_syncing_until_the_relist_is_done() {
        use Step::*;
        let events = run(
            vec![vec![
                Init,
                Apply("istio-a"),
                InitDone,
                Fail(410),
                Init,
                Apply("istio-b"),
                InitDone,
            ]],
            6,
        )
        .await;
        assert_eq!(
            script(&events),
            [
                "Syncing",
                r#"Relisted["istio-a"]"#,
                "Ready",
                "Syncing",
                r#"Relisted["istio-b"]"#,
                "Ready",
            ]
        );
    }

    #[tokio::test]
    async fn an_outage_shows_the_error_until_a_list_succeeds() {
        use Step::*;
        let events = run(
            vec![
                vec![Init, InitDone, Refused, Applied("never-read")],
                vec![
                    Init,
                    ListRefused,
                    Init,
                    ListRefused,
                    Init,
                    Apply("istio-a"),
                    InitDone,
                ],
            ],
            7,
        )
        .await;
        assert_eq!(
            script(&events),
            [
                "Syncing",
                "Relisted[]",
                "Ready",
                r#"Error("watch configmaps: Connection refused")"#,
                r#"Error("list configmaps: Connection refused")"#,
                r#"Relisted["istio-a"]"#,
                "Ready",
            ]
        );
    }

    #[tokio::test]
    async fn forbidden_is_rechecked_later_and_clears_when_granted() {
        use Step::*;
        let events = run(
            vec![
                vec![Init, Fail(403)],
                vec![Init, Fail(403)],
                vec![Init, Apply("istio-a"), InitDone],
            ],
            4,
        )
        .await;
        assert_eq!(
            script(&events),
            [
                "Syncing",
                r#"Forbidden("cannot list configmaps at the cluster scope")"#,
                r#"Relisted["istio-a"]"#,
                "Ready",
            ]
        );
    }

    #[tokio::test]
    async fn a_crd_removed_while_watched_takes_its_objects_with_it() {
        use Step::*;
        let events = run(vec![vec![Init, Apply("istio-a"), InitDone, Fail(404)]], 5).await;
        assert_eq!(
            script(&events),
            [
                "Syncing",
                r#"Relisted["istio-a"]"#,
                "Ready",
                "Relisted[]",
                "Absent",
            ]
        );
    }

    #[test]
    fn first_lists_stream_from_kubernetes_1_32() {
        assert!(streams_since("1", "32"));
        assert!(streams_since("1", "34+"));
        assert!(streams_since("2", "0"));
        assert!(!streams_since("1", "31"));
        assert!(!streams_since("1", "15+"));
        assert!(!streams_since("", ""));
        assert!(!streams_since("1", "x"));
    }
}
