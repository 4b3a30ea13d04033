//! Projection of Kubernetes objects into summaries, done once per object as it arrives: only
//! what a view or a finding needs is kept, with strings and label sets shared through the
//! `Interner`. Every function returns `None` for an object without a name.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerStatus, Namespace, Node, Pod, PodTemplateSpec, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use serde_json::Value;

use super::event::Kind;
use super::intern::{Interner, Name, empty};
use super::labels::{Labels, Requirement, Selector, keys};
use super::summary::{
    ConfigMapSummary, GatewayKind, HpaSummary, Installer, IntOrPercent, IopGateway,
    IstioGatewaySummary, IstioOperatorSummary, KubeGatewaySummary, Listener, MeshRole,
    NamespaceSummary, NodeSummary, Object, ObjectKey, OperatorTarget, Owner, PdbSummary, PodPhase,
    PodSummary, ServicePort, ServiceSummary, Webhook, WebhookConfigSummary, WorkloadKind,
    WorkloadSummary,
};

/// The name of the proxy container in sidecars and gateways.
pub const PROXY_CONTAINER: &str = "istio-proxy";
/// The name of istiod's container.
pub const DISCOVERY_CONTAINER: &str = "discovery";

/// A Kubernetes object the model can hold, projected into its summary.
pub trait Project {
    fn project(&self, i: &mut Interner) -> Option<Object>;
}

macro_rules! project_with {
    ($($ty:ty => $f:ident => $variant:ident),* $(,)?) => {
        $(impl Project for $ty {
            fn project(&self, i: &mut Interner) -> Option<Object> {
                $f(self, i).map(Object::$variant)
            }
        })*
    };
}

project_with! {
    Namespace => namespace => Namespace,
    Node => node => Node,
    Pod => pod => Pod,
    PodParts => pod_parts => Pod,
    Deployment => deployment => Workload,
    ReplicaSet => replica_set => Workload,
    StatefulSet => stateful_set => Workload,
    DaemonSet => daemon_set => Workload,
    Service => service => Service,
    HorizontalPodAutoscaler => hpa => Hpa,
    PodDisruptionBudget => pdb => Pdb,
    MutatingWebhookConfiguration => webhook_config => WebhookConfig,
    ConfigMap => config_map => ConfigMap,
}

/// Projects a `DynamicObject` of the given kind: the Istio custom resources directly, the
/// built-in kinds through their typed form. `None` if unnamed or not of that shape.
pub fn object_from_dynamic(kind: Kind, o: &DynamicObject, i: &mut Interner) -> Option<Object> {
    fn typed<K: serde::de::DeserializeOwned + Project>(
        o: &DynamicObject,
        i: &mut Interner,
    ) -> Option<Object> {
        let v = serde_json::to_value(o).ok()?;
        serde_json::from_value::<K>(v).ok()?.project(i)
    }
    match kind {
        Kind::IstioOperator => istio_operator(o, i).map(Object::IstioOperator),
        Kind::IstioGateway => istio_gateway(o, i).map(Object::IstioGateway),
        Kind::KubeGateway => kube_gateway(o, i).map(Object::KubeGateway),
        Kind::Namespace => typed::<Namespace>(o, i),
        Kind::Node => typed::<Node>(o, i),
        Kind::Pod => typed::<Pod>(o, i),
        Kind::Deployment => typed::<Deployment>(o, i),
        Kind::ReplicaSet => typed::<ReplicaSet>(o, i),
        Kind::StatefulSet => typed::<StatefulSet>(o, i),
        Kind::DaemonSet => typed::<DaemonSet>(o, i),
        Kind::Service => typed::<Service>(o, i),
        Kind::Hpa => typed::<HorizontalPodAutoscaler>(o, i),
        Kind::Pdb => typed::<PodDisruptionBudget>(o, i),
        Kind::WebhookConfig => typed::<MutatingWebhookConfiguration>(o, i),
        Kind::ConfigMap => typed::<ConfigMap>(o, i),
    }
}

/// The key of an object's summary; cluster-scoped kinds have an empty namespace.
pub fn key_of(object: &Object) -> ObjectKey {
    let (namespace, name) = match object {
        Object::Namespace(n) => (empty(), n.name.clone()),
        Object::Node(n) => (empty(), n.name.clone()),
        Object::Pod(p) => (p.namespace.clone(), p.name.clone()),
        Object::Workload(w) => (w.namespace.clone(), w.name.clone()),
        Object::Service(s) => (s.namespace.clone(), s.name.clone()),
        Object::Hpa(h) => (h.namespace.clone(), h.name.clone()),
        Object::Pdb(p) => (p.namespace.clone(), p.name.clone()),
        Object::WebhookConfig(w) => (empty(), w.name.clone()),
        Object::ConfigMap(c) => (c.namespace.clone(), c.name.clone()),
        Object::IstioOperator(o) => (o.namespace.clone(), o.name.clone()),
        Object::IstioGateway(g) => (g.namespace.clone(), g.name.clone()),
        Object::KubeGateway(g) => (g.namespace.clone(), g.name.clone()),
    };
    ObjectKey { namespace, name }
}

// --- metadata -------------------------------------------------------------------------------

fn names(meta: &ObjectMeta, i: &mut Interner) -> Option<(Name, Name)> {
    let name = meta.name.as_deref().filter(|n| !n.is_empty())?;
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    Some((i.intern(namespace), i.intern(name)))
}

fn created(meta: &ObjectMeta) -> Option<jiff::Timestamp> {
    meta.creation_timestamp.as_ref().map(|Time(t)| *t)
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn owner(meta: &ObjectMeta, i: &mut Interner) -> Option<Owner> {
    let r = meta
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))?;
    Some(Owner {
        kind: i.intern(&r.kind),
        name: i.intern(&r.name),
    })
}

/// A label selector as the API means it: `None` selects nothing; an empty one selects all.
pub fn selector(s: Option<&LabelSelector>, i: &mut Interner) -> Selector {
    let Some(s) = s else {
        return Selector::Nothing;
    };
    let mut reqs = Vec::new();
    for (k, v) in s.match_labels.iter().flatten() {
        reqs.push(Requirement::Equals(i.intern(k), i.intern(v)));
    }
    for e in s.match_expressions.iter().flatten() {
        let key = i.intern(&e.key);
        let values: Vec<Name> = e.values.iter().flatten().map(|v| i.intern(v)).collect();
        reqs.push(match e.operator.as_str() {
            "In" => Requirement::In(key, values),
            "NotIn" => Requirement::NotIn(key, values),
            "Exists" => Requirement::Exists(key),
            "DoesNotExist" => Requirement::DoesNotExist(key),
            // An operator the API server would have refused: select nothing rather than guess.
            _ => return Selector::Nothing,
        });
    }
    Selector::Requirements(reqs)
}

/// The tag of a container image (`docker.io/istio/proxyv2:1.9.1-distroless` → `1.9.1`),
/// without a digest or the `-distroless` flavour.
pub fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image);
    let (repo, tag) = image.rsplit_once(':')?;
    if tag.contains('/') || repo.is_empty() || tag.is_empty() {
        // `registry:5000/istio/proxyv2` has a port, not a tag.
        return None;
    }
    Some(tag.strip_suffix("-distroless").unwrap_or(tag))
}

// --- cluster-scoped ---------------------------------------------------------------------------

pub fn namespace(ns: &Namespace, i: &mut Interner) -> Option<NamespaceSummary> {
    let (_, name) = names(&ns.metadata, i)?;
    let phase = ns
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Active");
    Some(NamespaceSummary {
        name,
        labels: i.labels(ns.metadata.labels.as_ref()),
        phase: i.intern(phase),
        created: created(&ns.metadata),
    })
}

pub fn node(n: &Node, i: &mut Interner) -> Option<NodeSummary> {
    let (_, name) = names(&n.metadata, i)?;
    let labels = i.labels(n.metadata.labels.as_ref());
    let mut roles: Vec<Name> = labels
        .iter()
        .filter_map(|(k, v)| {
            if let Some(role) = k.strip_prefix(keys::NODE_ROLE_PREFIX) {
                (!role.is_empty()).then(|| i.intern(role))
            } else if k.as_ref() == keys::NODE_ROLE_OLD && !v.is_empty() {
                Some(v.clone())
            } else {
                None
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    let status = n.status.as_ref();
    let kubelet = status
        .and_then(|s| s.node_info.as_ref())
        .map(|ni| ni.kubelet_version.as_str())
        .unwrap_or_default();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let internal_ip = status
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| i.intern(&a.address));
    let taints = n
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .map(|t| match t.value.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => i.intern(&format!("{}={v}:{}", t.key, t.effect)),
            None => i.intern(&format!("{}:{}", t.key, t.effect)),
        })
        .collect();
    Some(NodeSummary {
        name,
        labels,
        roles,
        kubelet_version: i.intern(kubelet),
        ready,
        unschedulable: n
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
        internal_ip,
        taints,
        created: created(&n.metadata),
    })
}

pub fn webhook_config(
    m: &MutatingWebhookConfiguration,
    i: &mut Interner,
) -> Option<WebhookConfigSummary> {
    let (_, name) = names(&m.metadata, i)?;
    let webhooks = m
        .webhooks
        .iter()
        .flatten()
        .map(|w| Webhook {
            name: i.intern(&w.name),
            // A webhook without a selector applies to everything.
            namespace_selector: w
                .namespace_selector
                .as_ref()
                .map_or_else(Selector::everything, |s| selector(Some(s), i)),
            object_selector: w
                .object_selector
                .as_ref()
                .map_or_else(Selector::everything, |s| selector(Some(s), i)),
            service: w.client_config.service.as_ref().map(|s| ObjectKey {
                namespace: i.intern(&s.namespace),
                name: i.intern(&s.name),
            }),
        })
        .collect();
    Some(WebhookConfigSummary {
        name,
        labels: i.labels(m.metadata.labels.as_ref()),
        webhooks,
    })
}

// --- pods -------------------------------------------------------------------------------------

/// What the projection reads of a pod, and nothing else: made from a full `Pod`, or read
/// straight from a list's JSON by the watchers (a k8s-openapi `Pod` is kilobytes of empty
/// fields, its containers most of them, built and dropped for every pod of a sync).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodParts {
    /// Name, namespace, labels, owner references, timestamps and the annotations read.
    pub meta: ObjectMeta,
    pub node_name: Option<String>,
    pub containers: Vec<ContainerParts>,
    pub init_containers: Vec<ContainerParts>,
    /// An emptyDir volume: a drain deletes its data.
    pub has_empty_dir: bool,
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub conditions: Vec<ConditionParts>,
    pub container_statuses: Vec<ContainerStatusParts>,
    pub init_container_statuses: Vec<ContainerStatusParts>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerParts {
    pub name: String,
    pub image: Option<String>,
    pub restart_policy: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConditionParts {
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerStatusParts {
    pub name: String,
    pub ready: bool,
    pub started: Option<bool>,
    pub restart_count: i32,
    /// `state.waiting`, with its reason.
    pub waiting: Option<Option<String>>,
    /// `state.running` is there.
    pub running: bool,
    pub terminated: Option<TerminatedParts>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TerminatedParts {
    pub exit_code: i32,
    pub reason: Option<String>,
    pub signal: Option<i32>,
}

impl From<&Pod> for PodParts {
    fn from(p: &Pod) -> Self {
        let spec = p.spec.as_ref();
        let status = p.status.as_ref();
        let containers = |c: Option<&Vec<Container>>| -> Vec<ContainerParts> {
            c.into_iter()
                .flatten()
                .map(|c| ContainerParts {
                    name: c.name.clone(),
                    image: c.image.clone(),
                    restart_policy: c.restart_policy.clone(),
                })
                .collect()
        };
        let statuses = |s: Option<&Vec<ContainerStatus>>| -> Vec<ContainerStatusParts> {
            s.into_iter()
                .flatten()
                .map(|c| {
                    let state = c.state.as_ref();
                    ContainerStatusParts {
                        name: c.name.clone(),
                        ready: c.ready,
                        started: c.started,
                        restart_count: c.restart_count,
                        waiting: state
                            .and_then(|s| s.waiting.as_ref())
                            .map(|w| w.reason.clone()),
                        running: state.is_some_and(|s| s.running.is_some()),
                        terminated: state.and_then(|s| s.terminated.as_ref()).map(|t| {
                            TerminatedParts {
                                exit_code: t.exit_code,
                                reason: t.reason.clone(),
                                signal: t.signal,
                            }
                        }),
                    }
                })
                .collect()
        };
        PodParts {
            meta: p.metadata.clone(),
            node_name: spec.and_then(|s| s.node_name.clone()),
            containers: containers(spec.map(|s| &s.containers)),
            init_containers: containers(spec.and_then(|s| s.init_containers.as_ref())),
            has_empty_dir: spec
                .and_then(|s| s.volumes.as_ref())
                .into_iter()
                .flatten()
                .any(|v| v.empty_dir.is_some()),
            phase: status.and_then(|s| s.phase.clone()),
            reason: status.and_then(|s| s.reason.clone()),
            conditions: status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .map(|c| ConditionParts {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                })
                .collect(),
            container_statuses: statuses(status.and_then(|s| s.container_statuses.as_ref())),
            init_container_statuses: statuses(
                status.and_then(|s| s.init_container_statuses.as_ref()),
            ),
        }
    }
}

fn phase(s: Option<&str>) -> PodPhase {
    PodPhase::parse(s)
}

/// A native sidecar: an init container that keeps running.
fn restartable(c: Option<&ContainerParts>) -> bool {
    c.and_then(|c| c.restart_policy.as_deref()) == Some("Always")
}

/// What `kubectl get pods` prints in STATUS and RESTARTS, and the ready/total containers
/// (kubernetes `printPod`).
struct PodStatusLine<'a> {
    /// Borrowed from the pod, or a word of its own: only a formatted one is allocated.
    status: Cow<'a, str>,
    restarts: u32,
    ready: u16,
    total: u16,
}

fn status_line(p: &PodParts) -> PodStatusLine<'_> {
    let containers = &p.containers;
    let init_containers = &p.init_containers;
    let init_statuses = &p.init_container_statuses;
    let statuses = &p.container_statuses;
    let init_by_name = |name: &str| init_containers.iter().find(|c| c.name == name);

    let mut reason: Cow<'_, str> = p.phase.as_deref().unwrap_or("Unknown").into();
    if let Some(r) = p.reason.as_deref().filter(|r| !r.is_empty()) {
        reason = r.into();
    }
    let conditions = &p.conditions;
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".into();
    }

    let mut total = containers.len() as u16;
    let mut ready = 0u16;
    let mut restarts = 0u32;
    let mut sidecar_restarts = 0u32;
    for c in init_statuses {
        if restartable(init_by_name(&c.name)) {
            total += 1;
            if c.started == Some(true) && c.ready {
                ready += 1;
            }
        }
    }
    let mut initializing = false;
    for (n, c) in init_statuses.iter().enumerate() {
        let count = c.restart_count.max(0) as u32;
        restarts += count;
        let sidecar = restartable(init_by_name(&c.name));
        if sidecar {
            sidecar_restarts += count;
        }
        let terminated = c.terminated.as_ref();
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if sidecar && c.started == Some(true) {
            continue;
        }
        reason = if let Some(t) = terminated {
            match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None if t.signal.unwrap_or(0) != 0 => {
                    format!("Init:Signal:{}", t.signal.unwrap_or(0))
                }
                None => format!("Init:ExitCode:{}", t.exit_code),
            }
            .into()
        } else if let Some(r) = c
            .waiting
            .as_ref()
            .and_then(Option::as_deref)
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            format!("Init:{r}").into()
        } else {
            format!("Init:{n}/{}", init_containers.len()).into()
        };
        initializing = true;
        break;
    }
    let initialized = conditions
        .iter()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        let mut has_running = false;
        for c in statuses.iter().rev() {
            restarts += c.restart_count.max(0) as u32;
            let terminated = c.terminated.as_ref();
            if let Some(r) = c
                .waiting
                .as_ref()
                .and_then(Option::as_deref)
                .filter(|r| !r.is_empty())
            {
                reason = r.into();
            } else if let Some(t) = terminated {
                reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.into(),
                    None if t.signal.unwrap_or(0) != 0 => {
                        format!("Signal:{}", t.signal.unwrap_or(0)).into()
                    }
                    None => format!("ExitCode:{}", t.exit_code).into(),
                };
            } else if c.ready && c.running {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let ready_condition = conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if ready_condition {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }
    if p.meta.deletion_timestamp.is_some() {
        let terminal = matches!(p.phase.as_deref(), Some("Succeeded" | "Failed"));
        if p.reason.as_deref() == Some("NodeLost") {
            reason = "Unknown".into();
        } else if !terminal {
            reason = "Terminating".into();
        }
    }
    PodStatusLine {
        status: reason,
        restarts,
        ready,
        total,
    }
}

/// The revision that injected a pod: the `revision` of `sidecar.istio.io/status` (1.11+),
/// else the `istio.io/rev` annotation (1.18+) or label (≤1.10, or a gateway's), else
/// `default` for a pod the injector marked. None for a pod without a proxy.
fn injected_revision<'a>(
    meta: &'a ObjectMeta,
    labels: &'a Labels,
    has_proxy: bool,
) -> Option<Cow<'a, str>> {
    let status = annotation(meta, keys::SIDECAR_STATUS);
    if status.is_none() && !has_proxy {
        return None;
    }
    /// What is read of `sidecar.istio.io/status`: the rest (containers, volumes, image
    /// pull secrets) is skipped, not built. A revision that is not a string fails the
    /// read, as it is no revision.
    #[derive(serde::Deserialize)]
    struct SidecarStatus<'a> {
        #[serde(borrow)]
        revision: Option<Cow<'a, str>>,
    }
    let from_status = status
        .and_then(|s| serde_json::from_str::<SidecarStatus>(s).ok())
        .and_then(|v| v.revision)
        .filter(|r| !r.is_empty());
    let rev = from_status
        .or_else(|| annotation(meta, keys::ISTIO_REV).map(Cow::Borrowed))
        .or_else(|| labels.get(keys::ISTIO_REV).map(|v| Cow::Borrowed(&**v)))
        .filter(|r| !r.is_empty());
    match (rev, status) {
        (Some(r), _) => Some(r),
        (None, Some(_)) => Some("default".into()),
        (None, None) => None,
    }
}

/// What a pod is to the mesh: ztunnel by its `app` label, a waypoint or gateway by the
/// labels istiod and the gateway charts give their pods, else by where its proxy runs.
fn mesh_role(
    labels: &Labels,
    proxy: Option<&ContainerParts>,
    init_containers: &[ContainerParts],
) -> MeshRole {
    let label = |k: &str| labels.get(k).map(|v| v.as_ref());
    if label(keys::APP) == Some("ztunnel") {
        return MeshRole::Ztunnel;
    }
    let Some(proxy) = proxy else {
        return MeshRole::None;
    };
    if label("gateway.istio.io/managed") == Some("istio.io-mesh-controller")
        || label(keys::WAYPOINT_FOR).is_some() && label(keys::GATEWAY_NAME).is_some()
    {
        return MeshRole::Waypoint;
    }
    if label(keys::GATEWAY_NAME).is_some() || super::store::gateway_labels(labels) {
        return MeshRole::Gateway;
    }
    let init = init_containers.iter().any(|c| std::ptr::eq(c, proxy));
    if init && restartable(Some(proxy)) {
        MeshRole::NativeSidecar
    } else {
        MeshRole::Sidecar
    }
}

pub fn pod(p: &Pod, i: &mut Interner) -> Option<PodSummary> {
    pod_parts(&PodParts::from(p), i)
}

/// A pod's summary from the parts the projection reads.
pub fn pod_parts(p: &PodParts, i: &mut Interner) -> Option<PodSummary> {
    let meta = &p.meta;
    let (namespace, name) = names(meta, i)?;
    let labels = i.labels(meta.labels.as_ref());
    let containers = p.containers.as_slice();
    let init_containers = p.init_containers.as_slice();
    let proxy = containers
        .iter()
        .chain(init_containers)
        .find(|c| c.name == PROXY_CONTAINER);
    let has_proxy = proxy.is_some();
    let mesh_role = mesh_role(&labels, proxy, init_containers);
    let proxy_version = proxy
        .and_then(|c| c.image.as_deref())
        .and_then(image_tag)
        .map(|t| i.intern(t));
    let istiod_version = if labels
        .get(keys::APP)
        .is_some_and(|a| a.as_ref() == "istiod")
    {
        containers
            .iter()
            .find(|c| c.name == DISCOVERY_CONTAINER)
            .and_then(|c| c.image.as_deref())
            .and_then(image_tag)
            .map(|t| i.intern(t))
    } else {
        None
    };
    let injected_revision = injected_revision(meta, &labels, has_proxy).map(|r| i.intern(&r));
    let line = status_line(p);
    let ready = p
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    Some(PodSummary {
        namespace,
        name,
        node: p
            .node_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(|n| i.intern(n)),
        phase: phase(p.phase.as_deref()),
        status: i.intern(&line.status),
        ready,
        containers_ready: line.ready,
        containers: line.total,
        restarts: line.restarts,
        owner: owner(meta, i),
        labels,
        has_proxy,
        mesh_role,
        injected_revision,
        proxy_version,
        istiod_version,
        has_empty_dir: p.has_empty_dir,
        mirror: annotation(meta, keys::MIRROR_POD).is_some(),
        deleting: meta.deletion_timestamp.is_some(),
        created: created(meta),
    })
}

// --- workloads --------------------------------------------------------------------------------

struct WorkloadParts<'a> {
    kind: WorkloadKind,
    meta: &'a ObjectMeta,
    selector: Option<&'a LabelSelector>,
    template: Option<&'a PodTemplateSpec>,
    desired: u32,
    ready: u32,
    available: u32,
}

fn count(n: Option<i32>) -> u32 {
    n.unwrap_or(0).max(0) as u32
}

/// Istio's in-cluster operator, if one of these containers runs it: the operator image
/// (`…/operator:<tag>`) or the command `operator server`.
fn operator_target(containers: &[Container], i: &mut Interner) -> Option<OperatorTarget> {
    let operator = containers.iter().find(|c| {
        let image = c.image.as_deref().unwrap_or_default();
        let repo = image.split('@').next().unwrap_or(image);
        let last = repo.rsplit('/').next().unwrap_or(repo);
        let last = last.split(':').next().unwrap_or(last);
        let command = c.command.as_deref().unwrap_or_default();
        last == "operator" || command.starts_with(&["operator".into(), "server".into()])
    })?;
    let env = |name: &str| -> Option<&str> {
        operator
            .env
            .iter()
            .flatten()
            .find(|e| e.name == name)
            .and_then(|e| e.value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let watched = env("WATCH_NAMESPACE").map(|w| {
        w.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| i.intern(n))
            .collect()
    });
    Some(OperatorTarget {
        watched,
        revision: env("REVISION").map(|r| i.intern(r)),
    })
}

/// Who installed an object, from the marks Helm, Tiller, the Sail operator and istioctl
/// (or the in-cluster operator) leave on it.
pub(crate) fn installer(meta: &ObjectMeta, i: &mut Interner) -> Option<Installer> {
    let label = |k: &str| {
        meta.labels
            .as_ref()
            .and_then(|l| l.get(k))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let sail_owner = meta.owner_references.iter().flatten().find(|r| {
        r.api_version.starts_with("sailoperator.io/")
            && matches!(
                r.kind.as_str(),
                "IstioRevision" | "Istio" | "IstioCNI" | "ZTunnel"
            )
    });
    if let Some(r) = sail_owner {
        return Some(Installer::Sail {
            resource: i.intern(&format!("{}/{}", r.kind, r.name)),
        });
    }
    if label(keys::MANAGED_BY) == Some("sail-operator")
        || label(keys::SAIL_MANAGED_BY) == Some("sail-operator")
    {
        return Some(Installer::Sail {
            resource: i.intern(""),
        });
    }
    if label(keys::MANAGED_BY) == Some("Helm") {
        let release = annotation(meta, keys::HELM_RELEASE).unwrap_or_default();
        return Some(Installer::Helm {
            release: i.intern(release),
        });
    }
    if let Some(iop) = label(keys::OWNING_RESOURCE) {
        return Some(Installer::IstioOperator {
            resource: i.intern(iop),
        });
    }
    if label(keys::HERITAGE) == Some("Tiller") {
        return Some(Installer::Tiller {
            release: i.intern(label(keys::RELEASE).unwrap_or_default()),
        });
    }
    None
}

fn workload(w: WorkloadParts<'_>, i: &mut Interner) -> Option<WorkloadSummary> {
    let (namespace, name) = names(w.meta, i)?;
    let template_meta = w.template.and_then(|t| t.metadata.as_ref());
    let pod_spec = w.template.and_then(|t| t.spec.as_ref());
    let images = pod_spec
        .map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
                .filter_map(|c| c.image.as_deref())
                .map(|img| i.intern(img))
                .collect()
        })
        .unwrap_or_default();
    Some(WorkloadSummary {
        kind: w.kind,
        namespace,
        name,
        labels: i.labels(w.meta.labels.as_ref()),
        selector: selector(w.selector, i),
        template_labels: i.labels(template_meta.and_then(|m| m.labels.as_ref())),
        desired: w.desired,
        ready: w.ready,
        available: w.available,
        owner: owner(w.meta, i),
        images,
        node_selector: i.labels(pod_spec.and_then(|s| s.node_selector.as_ref())),
        operator: pod_spec.and_then(|s| operator_target(&s.containers, i)),
        installer: installer(w.meta, i),
        created: created(w.meta),
    })
}

pub fn deployment(d: &Deployment, i: &mut Interner) -> Option<WorkloadSummary> {
    let spec = Some(&d.spec);
    let status = d.status.as_ref();
    workload(
        WorkloadParts {
            kind: WorkloadKind::Deployment,
            meta: &d.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.map(|s| &s.template),
            desired: spec.and_then(|s| s.replicas).map_or(1, |r| r.max(0) as u32),
            ready: count(status.and_then(|s| s.ready_replicas)),
            available: count(status.and_then(|s| s.available_replicas)),
        },
        i,
    )
}

pub fn replica_set(r: &ReplicaSet, i: &mut Interner) -> Option<WorkloadSummary> {
    let spec = Some(&r.spec);
    let status = r.status.as_ref();
    workload(
        WorkloadParts {
            kind: WorkloadKind::ReplicaSet,
            meta: &r.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.and_then(|s| s.template.as_ref()),
            desired: spec.and_then(|s| s.replicas).map_or(1, |r| r.max(0) as u32),
            ready: count(status.and_then(|s| s.ready_replicas)),
            available: count(status.and_then(|s| s.available_replicas)),
        },
        i,
    )
}

pub fn stateful_set(s: &StatefulSet, i: &mut Interner) -> Option<WorkloadSummary> {
    let spec = Some(&s.spec);
    let status = s.status.as_ref();
    workload(
        WorkloadParts {
            kind: WorkloadKind::StatefulSet,
            meta: &s.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.map(|s| &s.template),
            desired: spec.and_then(|s| s.replicas).map_or(1, |r| r.max(0) as u32),
            ready: count(status.and_then(|s| s.ready_replicas)),
            available: count(status.and_then(|s| s.available_replicas)),
        },
        i,
    )
}

pub fn daemon_set(d: &DaemonSet, i: &mut Interner) -> Option<WorkloadSummary> {
    let spec = Some(&d.spec);
    let status = d.status.as_ref();
    workload(
        WorkloadParts {
            kind: WorkloadKind::DaemonSet,
            meta: &d.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.map(|s| &s.template),
            desired: count(status.map(|s| s.desired_number_scheduled)),
            ready: count(status.map(|s| s.number_ready)),
            available: count(status.and_then(|s| s.number_available)),
        },
        i,
    )
}

// --- services, autoscalers, budgets, config -------------------------------------------------

fn int_or_string(v: &IntOrString, i: &mut Interner) -> Name {
    match v {
        IntOrString::Int(n) => i.intern(&n.to_string()),
        IntOrString::String(s) => i.intern(s),
    }
}

pub fn service(s: &Service, i: &mut Interner) -> Option<ServiceSummary> {
    let (namespace, name) = names(&s.metadata, i)?;
    let spec = s.spec.as_ref();
    let ports = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .map(|p| ServicePort {
            name: i.intern(p.name.as_deref().unwrap_or_default()),
            port: u16::try_from(p.port).unwrap_or(0),
            target_port: match &p.target_port {
                Some(t) => int_or_string(t, i),
                None => i.intern(&p.port.to_string()),
            },
            node_port: p.node_port.and_then(|n| u16::try_from(n).ok()),
            protocol: i.intern(p.protocol.as_deref().unwrap_or("TCP")),
        })
        .collect();
    Some(ServiceSummary {
        namespace,
        name,
        type_: i.intern(spec.and_then(|s| s.type_.as_deref()).unwrap_or("ClusterIP")),
        selector: i.labels(spec.and_then(|s| s.selector.as_ref())),
        ports,
        labels: i.labels(s.metadata.labels.as_ref()),
    })
}

pub fn hpa(h: &HorizontalPodAutoscaler, i: &mut Interner) -> Option<HpaSummary> {
    let (namespace, name) = names(&h.metadata, i)?;
    let spec = Some(&h.spec);
    Some(HpaSummary {
        namespace,
        name,
        target_kind: i.intern(
            spec.map(|s| s.scale_target_ref.kind.as_str())
                .unwrap_or_default(),
        ),
        target_name: i.intern(
            spec.map(|s| s.scale_target_ref.name.as_str())
                .unwrap_or_default(),
        ),
        min_replicas: spec
            .and_then(|s| s.min_replicas)
            .map_or(1, |m| m.max(0) as u32),
        max_replicas: count(spec.map(|s| s.max_replicas)),
        current_replicas: count(h.status.as_ref().and_then(|s| s.current_replicas)),
    })
}

pub(crate) fn int_or_percent(v: &IntOrString) -> Option<IntOrPercent> {
    match v {
        IntOrString::Int(n) => Some(IntOrPercent::Int(*n)),
        IntOrString::String(s) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse().ok().map(IntOrPercent::Percent),
            None => s.trim().parse().ok().map(IntOrPercent::Int),
        },
    }
}

pub fn pdb(p: &PodDisruptionBudget, i: &mut Interner) -> Option<PdbSummary> {
    let (namespace, name) = names(&p.metadata, i)?;
    let spec = p.spec.as_ref();
    let status = p.status.as_ref();
    Some(PdbSummary {
        namespace,
        name,
        min_available: spec
            .and_then(|s| s.min_available.as_ref())
            .and_then(int_or_percent),
        max_unavailable: spec
            .and_then(|s| s.max_unavailable.as_ref())
            .and_then(int_or_percent),
        selector: selector(spec.and_then(|s| s.selector.as_ref()), i),
        disruptions_allowed: status.and_then(|s| s.disruptions_allowed).unwrap_or(0),
        current_healthy: status.and_then(|s| s.current_healthy).unwrap_or(0),
        desired_healthy: status.and_then(|s| s.desired_healthy).unwrap_or(0),
        expected_pods: status.and_then(|s| s.expected_pods).unwrap_or(0),
        relaxed_from: annotation(&p.metadata, keys::RELAXED_FROM).map(|a| i.intern(a)),
        relaxed_to: annotation(&p.metadata, keys::RELAXED_TO).map(|a| i.intern(a)),
        created: created(&p.metadata),
    })
}

pub fn config_map(c: &ConfigMap, i: &mut Interner) -> Option<ConfigMapSummary> {
    let (namespace, name) = names(&c.metadata, i)?;
    Some(ConfigMapSummary { namespace, name })
}

// --- Istio custom resources -----------------------------------------------------------------

fn string_map(v: Option<&Value>, i: &mut Interner) -> Labels {
    let map: BTreeMap<String, String> = v
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), v))
        })
        .collect();
    i.labels(Some(&map))
}

/// Which gateways an IstioOperator profile turns on by itself.
fn profile_gateways(profile: &str) -> &'static [GatewayKind] {
    match profile {
        "default" | "preview" | "stable" | "openshift" => &[GatewayKind::Ingress],
        "demo" => &[GatewayKind::Ingress, GatewayKind::Egress],
        _ => &[],
    }
}

/// The name and the chart's pod labels (`app`, `istio`) of a profile's gateway of a kind.
fn default_gateway(kind: GatewayKind) -> (&'static str, &'static str) {
    match kind {
        GatewayKind::Ingress => ("istio-ingressgateway", "ingressgateway"),
        GatewayKind::Egress => ("istio-egressgateway", "egressgateway"),
    }
}

/// An `enabled` switch as written: a boolean, or the string the operator also accepts.
fn switch(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The fewest replicas a component's `k8s` settings keep: the autoscaler's minimum, else
/// `replicaCount`, else Istio's default of 1.
fn min_replicas(k8s: Option<&Value>) -> u32 {
    k8s.and_then(|k| {
        k.pointer("/hpaSpec/minReplicas")
            .or_else(|| k.get("replicaCount"))
    })
    .and_then(Value::as_u64)
    .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The `nodePort`s a component's `k8s.service.ports` name.
fn declared_node_ports(k8s: Option<&Value>) -> Vec<u16> {
    k8s.and_then(|k| k.pointer("/service/ports"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .collect()
}

/// An IstioOperator (`install.istio.io/v1alpha1`): its revision, whether it installs
/// istiod, and the gateways it turns on with the labels, node ports and replicas the
/// operator gives them.
pub fn istio_operator(o: &DynamicObject, i: &mut Interner) -> Option<IstioOperatorSummary> {
    let (namespace, name) = names(&o.metadata, i)?;
    let spec = o.data.get("spec");
    let field = |path: &str| spec.and_then(|s| s.pointer(path));
    let revision = field("/revision")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let profile = field("/profile")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or("default");
    let status = o
        .data
        .pointer("/status/status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let pilot_enabled = switch(field("/components/pilot/enabled"))
        .unwrap_or(!matches!(profile, "empty" | "remote"));
    let install_ns = field("/namespace")
        .and_then(Value::as_str)
        .or_else(|| field("/values/global/istioNamespace").and_then(Value::as_str))
        .filter(|n| !n.is_empty())
        .map_or_else(|| namespace.clone(), |n| i.intern(n));

    let defaults = profile_gateways(profile);
    let mut gateways = Vec::new();
    for kind in [GatewayKind::Ingress, GatewayKind::Egress] {
        let (default_name, istio) = default_gateway(kind);
        let chart_labels = || -> BTreeMap<String, String> {
            BTreeMap::from([
                ("app".to_string(), default_name.to_string()),
                ("istio".to_string(), istio.to_string()),
            ])
        };
        let profile_on = defaults.contains(&kind);
        let entries =
            field(&format!("/components/{}", kind.component_list())).and_then(Value::as_array);
        let mut listed_default = false;
        for g in entries.into_iter().flatten() {
            let gw_name = g
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(default_name);
            listed_default |= gw_name == default_name;
            let gw_ns = g
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map_or_else(|| install_ns.clone(), |n| i.intern(n));
            // The chart's labels, overridden and extended by the component's `label`: the
            // operator merges them, so a gateway keeps `app`/`istio` unless it sets them.
            let mut pairs = chart_labels();
            for (k, v) in string_map(g.get("label"), i).iter() {
                pairs.insert(k.to_string(), v.to_string());
            }
            gateways.push(IopGateway {
                kind,
                name: i.intern(gw_name),
                namespace: gw_ns,
                enabled: switch(g.get("enabled")).unwrap_or(profile_on && gw_name == default_name),
                labels: i.labels(Some(&pairs)),
                node_ports: declared_node_ports(g.get("k8s")),
                min_replicas: min_replicas(g.get("k8s")),
                from_profile: false,
            });
        }
        // A profile gateway the IOP does not list is still installed.
        if profile_on && !listed_default {
            gateways.push(IopGateway {
                kind,
                name: i.intern(default_name),
                namespace: install_ns.clone(),
                enabled: true,
                labels: i.labels(Some(&chart_labels())),
                node_ports: Vec::new(),
                min_replicas: 1,
                from_profile: true,
            });
        }
    }
    Some(IstioOperatorSummary {
        namespace,
        name,
        revision: i.intern(revision),
        profile: i.intern(profile),
        status: i.intern(status),
        pilot_enabled,
        pilot_min_replicas: min_replicas(field("/components/pilot/k8s")),
        install_namespace: install_ns,
        gateways,
        deleting: o.metadata.deletion_timestamp.is_some(),
        created: created(&o.metadata),
    })
}

/// A `networking.istio.io` Gateway.
pub fn istio_gateway(o: &DynamicObject, i: &mut Interner) -> Option<IstioGatewaySummary> {
    let (namespace, name) = names(&o.metadata, i)?;
    let spec = o.data.get("spec");
    let mut hosts: Vec<Name> = spec
        .and_then(|s| s.get("servers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|s| {
            s.get("hosts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_str)
        .map(|h| i.intern(h))
        .collect();
    hosts.sort();
    hosts.dedup();
    Some(IstioGatewaySummary {
        namespace,
        name,
        selector: string_map(spec.and_then(|s| s.get("selector")), i),
        hosts,
    })
}

/// A condition of a Gateway API status: `Some(true)` for `"True"`, `None` when absent.
fn condition<'a>(status: Option<&'a Value>, kind: &str) -> Option<&'a Value> {
    status?
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// A Gateway API `Gateway`.
pub fn kube_gateway(o: &DynamicObject, i: &mut Interner) -> Option<KubeGatewaySummary> {
    let (namespace, name) = names(&o.metadata, i)?;
    let spec = o.data.get("spec");
    let status = o.data.get("status");
    let text = |v: Option<&Value>, k: &str| {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let listeners = spec
        .and_then(|s| s.get("listeners"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| Listener {
            name: i.intern(&text(Some(l), "name")),
            port: l
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            protocol: i.intern(&text(Some(l), "protocol")),
        })
        .collect();
    let addresses = status
        .and_then(|s| s.get("addresses"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("value").and_then(Value::as_str))
        .map(|a| i.intern(a))
        .collect();
    let state = |kind: &str| {
        condition(status, kind)
            .and_then(|c| c.get("status"))
            .and_then(Value::as_str)
            .and_then(|s| match s {
                "True" => Some(true),
                "False" => Some(false),
                _ => None,
            })
    };
    let programmed = state("Programmed");
    let programmed_reason = condition(status, "Programmed")
        .filter(|_| programmed != Some(true))
        .map(|c| {
            let reason = text(Some(c), "reason");
            let message = text(Some(c), "message");
            match (reason.is_empty(), message.is_empty()) {
                (false, false) => format!("{reason}: {message}"),
                (false, true) => reason,
                _ => message,
            }
        })
        .filter(|r| !r.is_empty())
        .map(|r| i.intern(&r));
    Some(KubeGatewaySummary {
        namespace,
        name,
        class: i.intern(&text(spec, "gatewayClassName")),
        labels: i.labels(o.metadata.labels.as_ref()),
        listeners,
        addresses,
        accepted: state("Accepted"),
        programmed,
        programmed_reason,
        created: created(&o.metadata),
    })
}

#[cfg(test)]
mod tests;
