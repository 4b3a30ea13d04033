//! The istiod sync poller: finds the istiod pods of every revision and asks each replica for
//! its `/debug/syncz` on a schedule, the way that works on every Istio version: plain HTTP
//! over a port-forward to port 15014, which arrives on istiod's loopback, with the API server's pod proxy as the fallback that only
//! istiod ≤1.10 answers. Each answer, or why there is none, goes on the one channel as
//! `ClusterEvent::ProxySync`; a replica whose pod is gone as `ProxySyncGone`.
//!
//! One task per replica keeps its port-forward and the HTTP/1.1 connection over it open
//! between polls and opens new ones when they break. Requests use the connection's
//! `poll_client`, which does not retry on its own; every step has a deadline, and repeated
//! failures back off.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Connection;
use crate::model::intern::Name;
use crate::model::sync::{ProxyStatus, ReplicaState, ReplicaSync};
use crate::model::{ClusterEvent, Stamped, syncz};

/// How often each replica is asked, and the istiod pods listed, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long one attempt (port-forward and request, or the pod proxy) may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// istiod's monitoring port, which serves `/debug/*` (reference 1.1).
pub const MONITORING_PORT: u16 = 15014;
/// The shortest interval honoured, so a zero interval cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The longest wait between attempts at a replica that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How many bytes of answers meshtop reads a second, on average over every replica: on a
/// large mesh each answer is tens of megabytes, the same at every poll while nothing changes,
/// and reading them every interval would keep meshtop (and istiod) busy for nothing. At
/// 100,000 proxies (about 160 MB of answers from four replicas) each is asked about every
/// 40 s: reading an unchanged answer through a port-forward still costs its transfer, TLS
/// and copies, and at 8 MiB/s that was 2.4 % of a core on a 2.25 GHz EPYC.
const ANSWER_BYTES_PER_SECOND: f64 = 4.0 * 1024.0 * 1024.0;
/// The largest `/debug/syncz` answer read: about 100,000 proxies.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// How many timeouts an answer that keeps arriving may take in all through a port-forward:
/// each step waits at most one timeout, and a large mesh's answer is not cut off while its
/// bytes keep coming (two minutes at the default timeout).
const MAX_ANSWER_TIMEOUTS: u32 = 24;
const SYNCZ_PATH: &str = "/debug/syncz";

/// `ReplicaState::Ok::via` for each transport.
pub const VIA_PORT_FORWARD: &str = "port-forward";
pub const VIA_POD_PROXY: &str = "pod-proxy";

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Where istiod runs.
    pub istio_namespace: String,
    /// How often each replica is asked, and the istiod pods listed again.
    pub interval: Duration,
    /// The deadline of each attempt.
    pub timeout: Duration,
    /// Only this revision's istiod (istioctl's `--revision`: `istio.io/rev=REV`); `None`:
    /// every revision.
    pub revision: Option<String>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            istio_namespace: "istio-system".to_string(),
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            revision: None,
        }
    }
}

/// One istiod pod being polled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Replica {
    pub name: String,
    /// `istio.io/rev`, else `default`.
    pub revision: String,
}

/// What the last listing of istiod pods found: for a one-shot caller that must know when
/// every replica has answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// How many listings finished (successfully or not).
    pub rounds: u64,
    /// The replicas being polled, by name.
    pub replicas: Vec<Replica>,
    /// Why the last listing failed; the replicas are then those of the listing before.
    pub error: Option<String>,
}

/// The running poller. Dropping it stops the poller and every replica's connections.
#[derive(Debug)]
pub struct SyncHandle {
    task: JoinHandle<()>,
    discovery: watch::Receiver<Discovery>,
}

impl SyncHandle {
    /// Follows what each listing of istiod pods found.
    pub fn discovery(&self) -> watch::Receiver<Discovery> {
        self.discovery.clone()
    }

    /// Stops the poller now (dropping the handle does the same).
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts polling every istiod replica in `opts.istio_namespace`; every answer goes to
/// `tx`. Must be called inside a tokio runtime. Stops when `tx`'s receiver is dropped or
/// the handle is.
pub fn spawn_sync_poller(
    conn: &Connection,
    opts: SyncOptions,
    tx: mpsc::Sender<Stamped>,
) -> SyncHandle {
    let (discovery_tx, discovery) = watch::channel(Discovery::default());
    let task = tokio::spawn(supervise(conn.poll_client.clone(), opts, tx, discovery_tx));
    SyncHandle { task, discovery }
}

/// Waits until every replica of the first listing has answered once (or is gone), for a
/// one-shot caller such as `meshtop proxy-status`. Returns each replica's answer, by name;
/// an error if the listing failed, found no istiod, or a replica did not answer in time.
pub async fn first_answers(
    handle: &SyncHandle,
    rx: &mut mpsc::Receiver<Stamped>,
    opts: &SyncOptions,
    timeout: Duration,
) -> Result<Vec<ReplicaSync>, String> {
    let mut deadline = super::deadline_in(timeout);
    let mut discovery = handle.discovery();
    let first = match tokio::time::timeout_at(deadline, discovery.wait_for(|d| d.rounds > 0)).await
    {
        Ok(Ok(d)) => d.clone(),
        Ok(Err(_)) => return Err("the sync poller stopped".to_string()),
        Err(_) => {
            return Err(format!(
                "no list of istiod pods within {}",
                seconds(timeout)
            ));
        }
    };
    if let Some(e) = first.error {
        return Err(e);
    }
    if first.replicas.is_empty() {
        let selector = list_params(opts.revision.as_deref())
            .label_selector
            .unwrap_or_default();
        return Err(format!(
            "no running istiod pods ({selector}) in namespace {}",
            opts.istio_namespace
        ));
    }
    let mut waiting: std::collections::BTreeSet<String> =
        first.replicas.into_iter().map(|r| r.name).collect();
    let mut answers: BTreeMap<Name, ReplicaSync> = BTreeMap::new();
    while !waiting.is_empty() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Stamped { event, .. })) => match event {
                // An answer is progress: the others get `timeout` again (a large mesh's
                // replicas answer one after another).
                ClusterEvent::ProxySync(r) => {
                    if waiting.remove(r.istiod.as_ref()) {
                        deadline = super::deadline_in(timeout);
                    }
                    answers.insert(r.istiod.clone(), r);
                }
                ClusterEvent::ProxySyncGone { istiod, .. } => {
                    waiting.remove(istiod.as_ref());
                    answers.remove(&istiod);
                }
                _ => {}
            },
            Ok(None) => return Err("the sync poller stopped".to_string()),
            Err(_) => {
                let names: Vec<&str> = waiting.iter().map(String::as_str).collect();
                return Err(format!(
                    "no answer within {} from istiod {}",
                    seconds(timeout),
                    names.join(", ")
                ));
            }
        }
    }
    Ok(answers.into_values().collect())
}

/// The message of a replica RBAC keeps meshtop from asking.
pub fn portforward_forbidden(namespace: &str) -> String {
    format!(
        "cannot create pods/portforward in namespace {namespace} (RBAC): meshtop needs \
         `create` on `pods/portforward` there"
    )
}

/// Aborts a task when dropped: a replica's poller lives exactly as long as its entry.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Running {
    uid: String,
    _task: AbortOnDrop,
}

/// What one listing says about an istiod pod worth polling.
struct Found {
    uid: String,
    revision: String,
    port: u16,
}

fn stamp(event: ClusterEvent) -> Stamped {
    Stamped {
        at: Timestamp::now(),
        event,
    }
}

/// istioctl's selector: `app=istiod` (and `istio.io/rev=REV`), Running pods only.
fn list_params(revision: Option<&str>) -> ListParams {
    let labels = match revision {
        Some(rev) => format!("app=istiod,istio.io/rev={rev}"),
        None => "app=istiod".to_string(),
    };
    ListParams::default()
        .labels(&labels)
        .fields("status.phase=Running")
}

/// The version of each running istiod pod (the image tag of its `discovery` container),
/// by pod name: what `meshtop proxy-status` compares the proxies' versions with.
pub async fn istiod_versions(conn: &Connection, opts: &SyncOptions) -> BTreeMap<String, String> {
    let api: Api<Pod> = Api::namespaced(conn.poll_client.clone(), &opts.istio_namespace);
    let Ok(Ok(pods)) = tokio::time::timeout(
        opts.timeout,
        api.list(&list_params(opts.revision.as_deref())),
    )
    .await
    else {
        return BTreeMap::new();
    };
    pods.items
        .iter()
        .filter_map(|p| {
            let name = p.metadata.name.clone()?;
            let image = p
                .spec
                .as_ref()?
                .containers
                .iter()
                .find(|c| c.name == "discovery")?
                .image
                .clone()?;
            let tag = crate::model::project::image_tag(&image)?;
            Some((name, tag.trim_end_matches("-distroless").to_string()))
        })
        .collect()
}

fn found(pod: &Pod) -> Option<(String, Found)> {
    let name = pod.metadata.name.clone()?;
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if !running {
        return None;
    }
    let revision = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("istio.io/rev"))
        .filter(|r| !r.is_empty())
        .cloned()
        .unwrap_or_else(|| "default".to_string());
    // istioctl 1.22+ reads the port from the scrape annotation, as istiod's chart sets it.
    let port = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("prometheus.io/port"))
        .and_then(|p| p.parse().ok())
        .filter(|&p: &u16| p != 0)
        .unwrap_or(MONITORING_PORT);
    Some((
        name,
        Found {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            revision,
            port,
        },
    ))
}

async fn supervise(
    client: kube::Client,
    opts: SyncOptions,
    tx: mpsc::Sender<Stamped>,
    discovery: watch::Sender<Discovery>,
) {
    let namespace = opts.istio_namespace.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let params = list_params(opts.revision.as_deref());
    let mut polled: BTreeMap<String, Running> = BTreeMap::new();
    let sizes = AnswerSizes::default();
    let mut ticker = tokio::time::interval(opts.interval.max(MIN_INTERVAL));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if tx.is_closed() {
            return;
        }
        let listed = match tokio::time::timeout(opts.timeout, pods.list(&params)).await {
            Ok(Ok(list)) => Ok(list
                .items
                .iter()
                .filter_map(found)
                .collect::<BTreeMap<_, _>>()),
            Ok(Err(kube::Error::Api(s))) if s.code == 403 => Err(format!(
                "cannot list pods in namespace {namespace} (RBAC): meshtop needs `list` on \
                 `pods` there to find istiod"
            )),
            Ok(Err(e)) => Err(format!(
                "cannot list istiod pods in namespace {namespace}: {}",
                super::describe(&e)
            )),
            Err(_) => Err(format!(
                "cannot list istiod pods in namespace {namespace}: no answer within {}",
                seconds(opts.timeout)
            )),
        };
        let listed = match listed {
            Ok(l) => l,
            Err(message) => {
                tracing::warn!(%message, "sync poller: istiod discovery failed");
                discovery.send_modify(|d| {
                    d.rounds += 1;
                    d.error = Some(message);
                });
                continue;
            }
        };
        let gone: Vec<String> = polled
            .iter()
            .filter(|(name, r)| listed.get(*name).is_none_or(|f| f.uid != r.uid))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            // Stopped before the event, so its last answer cannot arrive after it.
            polled.remove(&name);
            sizes.forget(&name);
            if listed.contains_key(&name) {
                // The same name for a new pod (a StatefulSet-like replacement): start over.
                continue;
            }
            tracing::info!(istiod = %name, "sync poller: istiod replica gone");
            let event = ClusterEvent::ProxySyncGone {
                namespace: Name::from(namespace.as_str()),
                istiod: Name::from(name.as_str()),
            };
            if tx.send(stamp(event)).await.is_err() {
                return;
            }
        }
        for (name, f) in &listed {
            if polled.contains_key(name) {
                continue;
            }
            tracing::info!(istiod = %name, revision = %f.revision, "sync poller: polling istiod replica");
            let replica = ReplicaPoller {
                pods: pods.clone(),
                client: client.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                port: f.port,
                timeout: opts.timeout,
                interval: opts.interval,
                forward: None,
                forward_failures: 0,
                forward_retry_at: None,
                forward_failure: ForwardFailure::None,
                last_answer: None,
                answer_len: None,
            };
            let task = tokio::spawn(poll_replica(
                replica,
                Name::from(f.revision.as_str()),
                opts.interval,
                sizes.clone(),
                tx.clone(),
            ));
            polled.insert(
                name.clone(),
                Running {
                    uid: f.uid.clone(),
                    _task: AbortOnDrop(task),
                },
            );
        }
        discovery.send_modify(|d| {
            d.rounds += 1;
            d.error = None;
            d.replicas = listed
                .iter()
                .map(|(name, f)| Replica {
                    name: name.clone(),
                    revision: f.revision.clone(),
                })
                .collect();
        });
    }
}

/// The wait before the next attempt after `failures` failures in a row: the interval,
/// doubling per failure up to a minute.
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(10);
    interval
        .saturating_mul(factor)
        .min(MAX_BACKOFF.max(interval))
}

/// The wait between polls of a replica when the last answers of every replica came to
/// `answered` bytes in all: the interval, or longer so that answers are read at
/// `ANSWER_BYTES_PER_SECOND` at most, up to a minute (never shorter than the interval).
pub fn spaced(interval: Duration, answered: usize) -> Duration {
    #[allow(clippy::cast_precision_loss)] // bytes, far below 2^52
    let reading = Duration::try_from_secs_f64(answered as f64 / ANSWER_BYTES_PER_SECOND)
        .unwrap_or(MAX_BACKOFF);
    reading.min(MAX_BACKOFF).max(interval)
}

/// The size of each replica's last answer, by name: what spaces the polls of all of them.
#[derive(Debug, Clone, Default)]
struct AnswerSizes(std::sync::Arc<std::sync::Mutex<BTreeMap<String, usize>>>);

impl AnswerSizes {
    fn set(&self, name: &str, len: usize) {
        if let Ok(mut sizes) = self.0.lock() {
            sizes.insert(name.to_string(), len);
        }
    }

    fn forget(&self, name: &str) {
        if let Ok(mut sizes) = self.0.lock() {
            sizes.remove(name);
        }
    }

    fn total(&self) -> usize {
        self.0
            .lock()
            .map(|sizes| sizes.values().fold(0usize, |a, b| a.saturating_add(*b)))
            .unwrap_or(0)
    }
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

async fn poll_replica(
    mut replica: ReplicaPoller,
    revision: Name,
    interval: Duration,
    sizes: AnswerSizes,
    tx: mpsc::Sender<Stamped>,
) {
    let namespace = Name::from(replica.namespace.as_str());
    let istiod = Name::from(replica.name.as_str());
    let mut failures = 0u32;
    loop {
        let event = match replica.poll().await {
            Polled::Unchanged => {
                failures = 0;
                ClusterEvent::ProxySyncUnchanged {
                    namespace: namespace.clone(),
                    istiod: istiod.clone(),
                }
            }
            Polled::State(state) => {
                failures = match &state {
                    ReplicaState::Ok { .. } => 0,
                    other => {
                        tracing::debug!(istiod = %istiod, state = ?other, "sync poller: no answer");
                        failures.saturating_add(1)
                    }
                };
                ClusterEvent::ProxySync(ReplicaSync {
                    namespace: namespace.clone(),
                    istiod: istiod.clone(),
                    revision: revision.clone(),
                    state,
                })
            }
        };
        if tx.send(stamp(event)).await.is_err() {
            return;
        }
        if let Some(len) = replica.answer_len {
            sizes.set(&replica.name, len);
        }
        let wait = backoff(interval, failures).max(spaced(interval, sizes.total()));
        if wait > interval && failures == 0 {
            tracing::debug!(istiod = %istiod, wait = ?wait, "sync poller: a large mesh's answers, asked less often");
        }
        tokio::time::sleep(wait.max(MIN_INTERVAL)).await;
    }
}

/// Why the port-forward was not used on the last attempt.
#[derive(Debug, Clone)]
enum ForwardFailure {
    None,
    /// RBAC refused `create pods/portforward`.
    Forbidden,
    Failed(String),
}

/// What one poll of a replica found.
enum Polled {
    /// The answer, or why there is none.
    State(ReplicaState),
    /// The same bytes as the last answer read, through the same transport.
    Unchanged,
}

/// A 200 answer: read, or the same as last time.
enum Answer {
    New(Vec<ProxyStatus>),
    Unchanged,
}

/// An answer's body as it arrived, in the pieces it arrived in: an unchanged answer is
/// fingerprinted piece by piece and dropped, never copied into one buffer.
#[derive(Debug, Default)]
struct Body {
    pieces: Vec<Bytes>,
    len: usize,
}

impl Body {
    fn push(&mut self, piece: Bytes) {
        self.len = self.len.saturating_add(piece.len());
        self.pieces.push(piece);
    }

    /// A fingerprint of the bytes: an idle mesh's replicas answer the same bytes at every
    /// poll, and hashing them (xxh3, several bytes a cycle) costs a small part of parsing.
    fn digest(&self) -> (usize, u64) {
        let mut h = xxhash_rust::xxh3::Xxh3Default::new();
        for piece in &self.pieces {
            h.update(piece);
        }
        (self.len, h.digest())
    }

    /// The bytes in one piece, copied only when they came in several.
    fn joined(self) -> Bytes {
        match <[Bytes; 1]>::try_from(self.pieces) {
            Ok([one]) => one,
            Err(pieces) => {
                let mut all = Vec::with_capacity(self.len);
                for piece in &pieces {
                    all.extend_from_slice(piece);
                }
                Bytes::from(all)
            }
        }
    }
}

impl From<Bytes> for Body {
    fn from(one: Bytes) -> Self {
        let mut body = Body::default();
        body.push(one);
        body
    }
}

/// How an attempt failed.
enum Failure {
    /// RBAC refused the port-forward.
    Forbidden,
    /// istiod itself answered 401 or 403.
    Refused(String),
    Other(String),
}

/// An open port-forward to one istiod port, with an HTTP/1.1 connection over it.
struct Forward {
    forwarder: kube::api::Portforwarder,
    sender: SendRequest<Empty<Bytes>>,
    connection: JoinHandle<()>,
    /// Resolves when the forward reports an error on the port or ends.
    error: Pin<Box<dyn Future<Output = Option<String>> + Send>>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.connection.abort();
        self.forwarder.abort();
    }
}

/// Why a request over an open port-forward got no answer.
enum ForwardError {
    /// The connection or the forward broke: a new one may do better.
    Broken(String),
    /// istiod did not answer, or stopped sending its answer, within the timeout.
    Slow(String),
}

impl Forward {
    /// `GET /debug/syncz`: the status and body, or why there is none. `timeout` bounds the
    /// wait for the answer's head and then for each piece of its body, so the deadline moves
    /// while the answer keeps arriving.
    async fn get(&mut self, timeout: Duration) -> Result<(http::StatusCode, Body), ForwardError> {
        let ready = self.sender.ready().await;
        ready.map_err(|e| {
            ForwardError::Broken(format!(
                "the HTTP connection over the port-forward closed: {e}"
            ))
        })?;
        let request = http::Request::get(SYNCZ_PATH)
            .header(http::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .map_err(|e| ForwardError::Broken(e.to_string()))?;
        let exchange = async {
            let response = tokio::time::timeout(timeout, self.sender.send_request(request))
                .await
                .map_err(|_| {
                    ForwardError::Slow(format!(
                        "no answer through the port-forward within {}",
                        seconds(timeout)
                    ))
                })?
                .map_err(|e| ForwardError::Broken(format!("HTTP over the port-forward: {e}")))?;
            let (parts, mut body) = response.into_parts();
            let mut read = Body::default();
            loop {
                let frame = tokio::time::timeout(timeout, body.frame())
                    .await
                    .map_err(|_| {
                        ForwardError::Slow(format!(
                            "the answer through the port-forward stopped for {} after {} bytes",
                            seconds(timeout),
                            read.len
                        ))
                    })?;
                let Some(frame) = frame else { break };
                let frame = frame.map_err(|e| {
                    ForwardError::Broken(format!("reading the answer over the port-forward: {e}"))
                })?;
                if let Ok(data) = frame.into_data() {
                    if read.len.saturating_add(data.len()) > MAX_BODY {
                        return Err(ForwardError::Broken(format!(
                            "the answer through the port-forward is larger than {MAX_BODY} bytes"
                        )));
                    }
                    read.push(data);
                }
            }
            Ok((parts.status, read))
        };
        let result = tokio::select! {
            biased;
            r = exchange => r,
            e = &mut self.error => Err(ForwardError::Broken(
                e.unwrap_or_else(|| "the port-forward closed".to_string()),
            )),
        };
        // The kubelet's reason (e.g. nothing listens on the port) arrives before the stream
        // closes, so when the exchange failed it is already there: it says more.
        result.map_err(|e| match (&mut self.error).now_or_never() {
            Some(Some(reason)) => ForwardError::Broken(format!("port-forward: {}", reason.trim())),
            _ => e,
        })
    }
}

/// One istiod replica: its transports and their state between polls.
struct ReplicaPoller {
    pods: Api<Pod>,
    client: kube::Client,
    namespace: String,
    name: String,
    port: u16,
    timeout: Duration,
    interval: Duration,
    forward: Option<Forward>,
    /// Port-forward failures in a row; the forward is tried again at `forward_retry_at`,
    /// the pod proxy answering meanwhile if it can.
    forward_failures: u32,
    forward_retry_at: Option<Instant>,
    forward_failure: ForwardFailure,
    /// The transport, length and digest of the last answer read, while answers keep coming.
    last_answer: Option<(&'static str, usize, u64)>,
    /// The length of the last answer that arrived whole, changed or not.
    answer_len: Option<usize>,
}

impl ReplicaPoller {
    async fn poll(&mut self) -> Polled {
        let polled = self.attempt().await;
        if !matches!(
            polled,
            Polled::Unchanged | Polled::State(ReplicaState::Ok { .. })
        ) {
            // The model shows the failure now: the next answer is news even if it is the
            // same as the last one.
            self.last_answer = None;
        }
        polled
    }

    /// Parses an answer unless it is, byte for byte, the last one read through `via`.
    fn read_answer(&mut self, via: &'static str, body: Body) -> Result<Answer, Failure> {
        let (len, digest) = body.digest();
        self.answer_len = Some(len);
        if self.last_answer == Some((via, len, digest)) {
            return Ok(Answer::Unchanged);
        }
        let proxies = syncz::parse(&body.joined())
            .map_err(|e| Failure::Other(format!("istiod's {SYNCZ_PATH} answer: {e}")))?;
        self.last_answer = Some((via, len, digest));
        Ok(Answer::New(proxies))
    }

    async fn attempt(&mut self) -> Polled {
        let answered = |via: &'static str, answer: Answer| match answer {
            Answer::New(proxies) => Polled::State(ReplicaState::Ok { via, proxies }),
            Answer::Unchanged => Polled::Unchanged,
        };
        let due = self.forward_retry_at.is_none_or(|t| Instant::now() >= t);
        if due {
            let cap = self.timeout.saturating_mul(MAX_ANSWER_TIMEOUTS);
            let outcome = tokio::time::timeout(cap, self.via_forward()).await;
            let failure = match outcome {
                Ok(Ok(answer)) => {
                    self.forward_failures = 0;
                    self.forward_retry_at = None;
                    self.forward_failure = ForwardFailure::None;
                    return answered(VIA_PORT_FORWARD, answer);
                }
                // istiod refused a loopback caller: the pod proxy cannot do better.
                Ok(Err(Failure::Refused(message))) => {
                    self.forward = None;
                    return Polled::State(ReplicaState::Refused { message });
                }
                Ok(Err(Failure::Forbidden)) => ForwardFailure::Forbidden,
                Ok(Err(Failure::Other(m))) => ForwardFailure::Failed(m),
                Err(_) => ForwardFailure::Failed(format!(
                    "the answer through the port-forward took longer than {}",
                    seconds(cap)
                )),
            };
            self.forward = None;
            self.forward_failures = self.forward_failures.saturating_add(1);
            self.forward_retry_at = Some(super::deadline_in(backoff(
                self.interval,
                self.forward_failures,
            )));
            self.forward_failure = failure;
        }
        let via_proxy = tokio::time::timeout(self.timeout, self.via_pod_proxy()).await;
        let proxy_failure = match via_proxy {
            Ok(Ok(answer)) => return answered(VIA_POD_PROXY, answer),
            Ok(Err(f)) => f,
            Err(_) => Failure::Other(format!("no answer within {}", seconds(self.timeout))),
        };
        Polled::State(match (&self.forward_failure, proxy_failure) {
            // Whatever the pod proxy said (401 from istiod 1.11+), the fix is the grant.
            (ForwardFailure::Forbidden, _) => ReplicaState::Forbidden {
                message: portforward_forbidden(&self.namespace),
            },
            // istiod 1.11+ refuses every pod proxy caller: when the port-forward failed or
            // was too slow, that failure is the replica's state, not the refusal.
            (ForwardFailure::Failed(f), Failure::Refused(m)) => ReplicaState::Unreachable {
                message: format!("{f}; pod proxy: {m}"),
            },
            (ForwardFailure::None, Failure::Refused(message)) => ReplicaState::Refused { message },
            (forward, Failure::Forbidden) => ReplicaState::Unreachable {
                message: with_forward(
                    "pod proxy: RBAC refused `get pods/proxy`".to_string(),
                    forward,
                ),
            },
            (forward, Failure::Other(m)) => ReplicaState::Unreachable {
                message: with_forward(format!("pod proxy: {m}"), forward),
            },
        })
    }

    /// Over the open port-forward, or a new one if there is none or it broke since.
    async fn via_forward(&mut self) -> Result<Answer, Failure> {
        let timeout = self.timeout;
        if let Some(forward) = self.forward.as_mut() {
            match forward.get(timeout).await {
                Ok(answer) => return self.read_forward_answer(answer),
                Err(ForwardError::Slow(m)) => return Err(Failure::Other(m)),
                Err(ForwardError::Broken(e)) => {
                    tracing::debug!(istiod = %self.name, error = %e, "sync poller: reopening the port-forward");
                    self.forward = None;
                }
            }
        }
        let mut forward = tokio::time::timeout(timeout, self.open_forward())
            .await
            .map_err(|_| {
                Failure::Other(format!(
                    "no port-forward to istiod within {}",
                    seconds(timeout)
                ))
            })??;
        let answer = forward.get(timeout).await.map_err(|e| match e {
            ForwardError::Broken(m) | ForwardError::Slow(m) => Failure::Other(m),
        })?;
        self.forward = Some(forward);
        self.read_forward_answer(answer)
    }

    fn read_forward_answer(
        &mut self,
        (status, body): (http::StatusCode, Body),
    ) -> Result<Answer, Failure> {
        match status.as_u16() {
            200 => self.read_answer(VIA_PORT_FORWARD, body),
            code @ (401 | 403) => Err(Failure::Refused(format!(
                "istiod answered {code} to {SYNCZ_PATH} through the port-forward"
            ))),
            _ => Err(Failure::Other(format!(
                "istiod answered {status} to {SYNCZ_PATH} through the port-forward"
            ))),
        }
    }

    async fn open_forward(&mut self) -> Result<Forward, Failure> {
        tracing::debug!(istiod = %self.name, port = self.port, "sync poller: opening a port-forward");
        let mut forwarder = match self.pods.portforward(&self.name, &[self.port]).await {
            Ok(f) => f,
            Err(kube::Error::Api(s)) if s.code == 403 => return Err(Failure::Forbidden),
            Err(e) => {
                return Err(Failure::Other(format!(
                    "port-forward: {}",
                    super::describe(&e)
                )));
            }
        };
        let stream = forwarder
            .take_stream(self.port)
            .ok_or_else(|| Failure::Other("port-forward: no stream for the port".to_string()))?;
        let error = forwarder
            .take_error(self.port)
            .map(|f| f.fuse().boxed())
            .ok_or_else(|| Failure::Other("port-forward: no error channel".to_string()))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| Failure::Other(format!("HTTP over the port-forward: {e}")))?;
        let name = self.name.clone();
        let connection = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(istiod = %name, error = %e, "sync poller: HTTP connection ended");
            }
        });
        Ok(Forward {
            forwarder,
            sender,
            connection,
            error,
        })
    }

    /// `GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/debug/syncz`.
    async fn via_pod_proxy(&mut self) -> Result<Answer, Failure> {
        let pod_port = format!("{}:{}", self.name, self.port);
        let mut segments = vec![
            "api",
            "v1",
            "namespaces",
            &self.namespace,
            "pods",
            &pod_port,
            "proxy",
        ];
        segments.extend(SYNCZ_PATH.split('/').filter(|s| !s.is_empty()));
        let path = super::path::api_path(&segments).map_err(Failure::Other)?;
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| Failure::Other(e.to_string()))?;
        match self.client.request_text(request).await {
            Ok(text) => self.read_answer(VIA_POD_PROXY, Bytes::from(text).into()),
            // The API server's own refusals carry its Status; istiod's carry none.
            Err(kube::Error::Api(s)) if s.code == 403 && s.reason == "Forbidden" => {
                Err(Failure::Forbidden)
            }
            Err(kube::Error::Api(s)) if matches!(s.code, 401 | 403) => {
                Err(Failure::Refused(format!(
                    "istiod answered {} to {SYNCZ_PATH} through the API server's pod proxy \
                     (istiod 1.11+ serves it only to loopback callers, i.e. a port-forward)",
                    s.code
                )))
            }
            Err(e) => Err(Failure::Other(super::describe(&e))),
        }
    }
}

fn with_forward(message: String, forward: &ForwardFailure) -> String {
    match forward {
        ForwardFailure::Failed(f) => format!("{f}; {message}"),
        ForwardFailure::None | ForwardFailure::Forbidden => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(5), 0), s(5));
        assert_eq!(backoff(s(5), 1), s(5));
        assert_eq!(backoff(s(5), 2), s(10));
        assert_eq!(backoff(s(5), 4), s(40));
        assert_eq!(backoff(s(5), 5), s(60));
        assert_eq!(backoff(s(5), u32::MAX), s(60));
        // An interval longer than the cap is never shortened.
        assert_eq!(backoff(s(120), 3), s(120));
    }

    #[test]
    fn large_answers_are_asked_for_less_often() {
        let s = Duration::from_secs;
        let mib = 1024 * 1024;
        // A small mesh (4 replicas of 4 MiB at 10,000 proxies): the interval.
        assert_eq!(spaced(s(5), 16 * mib), s(5));
        assert_eq!(spaced(s(5), 0), s(5));
        // 20,000 proxies: 32 MiB, read at 4 MiB a second; 100,000: about 160 MiB.
        assert_eq!(spaced(s(5), 32 * mib), s(8));
        assert_eq!(spaced(s(5), 160 * mib), s(40));
        // Never more than a minute, never less than the interval asked for.
        assert_eq!(spaced(s(5), 10_000 * mib), s(60));
        assert_eq!(spaced(s(90), 160 * mib), s(90));
        assert_eq!(spaced(s(5), usize::MAX), s(60));
    }

    #[test]
    fn the_selector_is_istioctls() {
        let p = list_params(None);
        assert_eq!(p.label_selector.as_deref(), Some("app=istiod"));
        assert_eq!(p.field_selector.as_deref(), Some("status.phase=Running"));
        let p = list_params(Some("canary"));
        assert_eq!(
            p.label_selector.as_deref(),
            Some("app=istiod,istio.io/rev=canary")
        );
    }

    #[test]
    fn revision_and_port_come_from_the_pod() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "istiod-x", "uid": "u1",
                "labels": {"app": "istiod"},
                "annotations": {"prometheus.io/port": "15015"}},
            "status": {"phase": "Running"},
        }))
        .expect("pod");
        let (name, f) = found(&pod).expect("found");
        assert_eq!(
            (name.as_str(), f.revision.as_str(), f.port, f.uid.as_str()),
            ("istiod-x", "default", 15015, "u1")
        );
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "istiod-y", "labels": {"app": "istiod", "istio.io/rev": "1-9-1"},
                "annotations": {"prometheus.io/port": "nope"}},
            "status": {"phase": "Running"},
        }))
        .expect("pod");
        let (_, f) = found(&pod).expect("found");
        assert_eq!((f.revision.as_str(), f.port), ("1-9-1", MONITORING_PORT));
        let pending: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "istiod-z"}, "status": {"phase": "Pending"},
        }))
        .expect("pod");
        assert!(found(&pending).is_none());
    }

    #[test]
    fn the_forbidden_message_names_the_permission() {
        assert_eq!(
            portforward_forbidden("istio-system"),
            "cannot create pods/portforward in namespace istio-system (RBAC): meshtop needs \
             `create` on `pods/portforward` there"
        );
    }
}
