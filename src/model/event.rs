//! What flows into the model: one typed event per change, from watchers, the sync poller
//! and action executors. Time always arrives with the event.

use jiff::Timestamp;

use super::summary::{Object, ObjectKey};

/// A source of objects: one watched resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Node,
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Service,
    Hpa,
    Pdb,
    WebhookConfig,
    ConfigMap,
    IstioOperator,
    IstioGateway,
    /// Gateway API `Gateway`s (gateways istiod deploys, and waypoints).
    KubeGateway,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Service,
        Kind::Hpa,
        Kind::Pdb,
        Kind::WebhookConfig,
        Kind::ConfigMap,
        Kind::IstioOperator,
        Kind::IstioGateway,
        Kind::KubeGateway,
    ];

    /// The resource name shown in the header and in errors.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Node => "nodes",
            Kind::Pod => "pods",
            Kind::Deployment => "deployments",
            Kind::ReplicaSet => "replicasets",
            Kind::StatefulSet => "statefulsets",
            Kind::DaemonSet => "daemonsets",
            Kind::Service => "services",
            Kind::Hpa => "horizontalpodautoscalers",
            Kind::Pdb => "poddisruptionbudgets",
            Kind::WebhookConfig => "mutatingwebhookconfigurations",
            Kind::ConfigMap => "configmaps",
            Kind::IstioOperator => "istiooperators.install.istio.io",
            Kind::IstioGateway => "gateways.networking.istio.io",
            Kind::KubeGateway => "gateways.gateway.networking.k8s.io",
        }
    }

    /// The kind a Kubernetes object of this `apiVersion` and `kind` is watched as; `None`
    /// for what meshtop does not watch.
    pub fn of_type(api_version: &str, kind: &str) -> Option<Kind> {
        Some(match kind {
            "Namespace" => Kind::Namespace,
            "Node" => Kind::Node,
            "Pod" => Kind::Pod,
            "Deployment" => Kind::Deployment,
            "ReplicaSet" => Kind::ReplicaSet,
            "StatefulSet" => Kind::StatefulSet,
            "DaemonSet" => Kind::DaemonSet,
            "Service" => Kind::Service,
            "HorizontalPodAutoscaler" => Kind::Hpa,
            "PodDisruptionBudget" => Kind::Pdb,
            "MutatingWebhookConfiguration" => Kind::WebhookConfig,
            "ConfigMap" => Kind::ConfigMap,
            "IstioOperator" => Kind::IstioOperator,
            "Gateway" if api_version.starts_with("networking.istio.io/") => Kind::IstioGateway,
            "Gateway" if api_version.starts_with("gateway.networking.k8s.io/") => Kind::KubeGateway,
            _ => return None,
        })
    }

    /// The kind of an object.
    pub fn of(object: &Object) -> Kind {
        use super::summary::WorkloadKind as W;
        match object {
            Object::Namespace(_) => Kind::Namespace,
            Object::Node(_) => Kind::Node,
            Object::Pod(_) => Kind::Pod,
            Object::Workload(w) => match w.kind {
                W::Deployment => Kind::Deployment,
                W::ReplicaSet => Kind::ReplicaSet,
                W::StatefulSet => Kind::StatefulSet,
                W::DaemonSet => Kind::DaemonSet,
            },
            Object::Service(_) => Kind::Service,
            Object::Hpa(_) => Kind::Hpa,
            Object::Pdb(_) => Kind::Pdb,
            Object::WebhookConfig(_) => Kind::WebhookConfig,
            Object::ConfigMap(_) => Kind::ConfigMap,
            Object::IstioOperator(_) => Kind::IstioOperator,
            Object::IstioGateway(_) => Kind::IstioGateway,
            Object::KubeGateway(_) => Kind::KubeGateway,
        }
    }
}

/// The state of one source, shown in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    /// Listing for the first time (or again, after a 410).
    Syncing,
    /// Listed and watching.
    Ready,
    /// RBAC refused (403): the message says what is missing.
    Forbidden(String),
    /// The resource does not exist on this cluster (404: CRD not installed).
    Absent,
    /// The API server could not be reached or failed; retried with backoff.
    Error(String),
    /// Listed and watching in one namespace only: the cluster scope is forbidden. Facts
    /// that need the other namespaces are unknown; the message says why.
    Partial(String),
}

/// One change to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterEvent {
    /// An object was added or changed.
    Applied(Object),
    /// An object is gone.
    Deleted(Kind, ObjectKey),
    /// A full relist of one kind: objects not in it are gone (watch events can be lost
    /// while disconnected).
    Relisted(Kind, Vec<Object>),
    /// Objects of a relist still being read (a big kind's first thousands): applied at once,
    /// so the model is built while the rest is read rather than all at the end. The
    /// `Relisted` that ends the relist keeps them.
    RelistPart(Kind, Vec<Object>),
    /// The parts of an unfinished relist say nothing anymore: the list starts again.
    RelistAbandoned(Kind),
    /// A source changed state.
    Source(Kind, SourceState),
    /// What the API server said about itself.
    Server { git_version: String },
    /// One istiod replica's latest `/debug/syncz` answer (or why there is none).
    ProxySync(super::sync::ReplicaSync),
    /// One istiod replica answered again exactly as last time (the same bytes): the answer
    /// is not read again, only its time moves.
    ProxySyncUnchanged {
        namespace: super::intern::Name,
        istiod: super::intern::Name,
    },
    /// An istiod replica is no longer polled (its pod is gone).
    ProxySyncGone {
        namespace: super::intern::Name,
        istiod: super::intern::Name,
    },
}

/// An event with the time it was observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped {
    pub at: Timestamp,
    pub event: ClusterEvent,
}
