//! The compact summaries the model keeps instead of whole Kubernetes objects: only what a
//! view or a finding needs, with shared strings.

use jiff::Timestamp;

use super::intern::Name;
use super::labels::{Labels, Selector};

/// Namespace and name; the namespace is empty for cluster-scoped objects. Ordered by
/// namespace, then name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    pub namespace: Name,
    pub name: Name,
}

impl Ord for ObjectKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Namespaces are interned: one shared string is the same namespace, and the
        // comparison reads no string but the names (a lookup among 100,000 pods compares
        // some 30 keys).
        if !std::sync::Arc::ptr_eq(&self.namespace, &other.namespace) {
            match self.namespace.cmp(&other.namespace) {
                std::cmp::Ordering::Equal => {}
                order => return order,
            }
        }
        self.name.cmp(&other.name)
    }
}

impl PartialOrd for ObjectKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The controller owning an object (`ownerReferences[controller=true]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub kind: Name,
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceSummary {
    pub name: Name,
    pub labels: Labels,
    /// `Active` or `Terminating`.
    pub phase: Name,
    pub created: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeSummary {
    pub name: Name,
    pub labels: Labels,
    /// From `node-role.kubernetes.io/<role>` labels, sorted.
    pub roles: Vec<Name>,
    /// `status.nodeInfo.kubeletVersion`, e.g. `v1.14.3`.
    pub kubelet_version: Name,
    pub ready: bool,
    /// `spec.unschedulable`: cordoned.
    pub unschedulable: bool,
    pub internal_ip: Option<Name>,
    /// Taints with effect NoSchedule/NoExecute, as `key=value:Effect`.
    pub taints: Vec<Name>,
    pub created: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl PodPhase {
    /// `status.phase` as the API writes it; anything else is Unknown.
    pub fn parse(s: Option<&str>) -> PodPhase {
        match s {
            Some("Pending") => PodPhase::Pending,
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            _ => PodPhase::Unknown,
        }
    }

    /// Succeeded or Failed: the pod will not run again.
    pub fn finished(self) -> bool {
        matches!(self, PodPhase::Succeeded | PodPhase::Failed)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodSummary {
    pub namespace: Name,
    pub name: Name,
    pub node: Option<Name>,
    pub phase: PodPhase,
    /// The status kubectl shows (`Running`, `CrashLoopBackOff`, `Terminating`, ...).
    pub status: Name,
    /// The Ready condition.
    pub ready: bool,
    pub containers_ready: u16,
    pub containers: u16,
    pub restarts: u32,
    pub owner: Option<Owner>,
    pub labels: Labels,
    /// Has an `istio-proxy` container (a sidecar, a gateway, a waypoint or a ztunnel).
    pub has_proxy: bool,
    /// What the pod is to the mesh: a plain workload, or one of Istio's own proxies.
    pub mesh_role: MeshRole,
    /// The control-plane revision that injected the pod: the `revision` of
    /// `sidecar.istio.io/status`, else the `istio.io/rev` label/annotation. None if not
    /// injected.
    pub injected_revision: Option<Name>,
    /// The proxy's version: the image tag of `istio-proxy`.
    pub proxy_version: Option<Name>,
    /// Pods of `app=istiod`: the version from the `discovery` container's image tag.
    pub istiod_version: Option<Name>,
    /// Uses an emptyDir volume (drain needs consent to delete its data).
    pub has_empty_dir: bool,
    /// A static (mirror) pod: drain never evicts it.
    pub mirror: bool,
    pub deleting: bool,
    pub created: Option<Timestamp>,
}

/// What a pod is to the mesh, from how its proxy runs and the labels Istio gives its own
/// pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeshRole {
    /// No proxy of its own (ambient pods are served by their node's ztunnel).
    #[default]
    None,
    /// An `istio-proxy` container beside the app.
    Sidecar,
    /// `istio-proxy` as an init container with `restartPolicy: Always` (1.28+ default).
    NativeSidecar,
    /// A gateway's Envoy (chart, operator or Gateway API).
    Gateway,
    /// A waypoint's Envoy (Gateway API class `istio-waypoint`).
    Waypoint,
    /// The ambient node proxy (`app=ztunnel`).
    Ztunnel,
}

impl MeshRole {
    /// A sidecar of either kind: what injection put there.
    pub fn sidecar(self) -> bool {
        matches!(self, MeshRole::Sidecar | MeshRole::NativeSidecar)
    }

    pub fn word(self) -> &'static str {
        match self {
            MeshRole::None => "none",
            MeshRole::Sidecar => "sidecar",
            MeshRole::NativeSidecar => "native sidecar",
            MeshRole::Gateway => "gateway",
            MeshRole::Waypoint => "waypoint",
            MeshRole::Ztunnel => "ztunnel",
        }
    }
}

/// Who installed a control-plane or gateway object, from the marks installers leave on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installer {
    /// `app.kubernetes.io/managed-by: Helm`, release from `meta.helm.sh/release-name`.
    Helm { release: Name },
    /// Helm 2's Tiller (`heritage: Tiller`), release from the `release` label.
    Tiller { release: Name },
    /// The Sail operator: `managed-by: sail-operator`, owned by an `IstioRevision` (or
    /// `Istio`, `IstioCNI`, `ZTunnel`) resource.
    Sail { resource: Name },
    /// istioctl or the in-cluster operator: `install.operator.istio.io/owning-resource`.
    IstioOperator { resource: Name },
}

impl Installer {
    /// In words: `helm <release>`, `helm2 <release>`, `sail <resource>`,
    /// `istio operator <resource>`.
    pub fn words(&self) -> String {
        let (who, what) = match self {
            Installer::Helm { release } => ("helm", release),
            Installer::Tiller { release } => ("helm2", release),
            Installer::Sail { resource } => ("sail", resource),
            Installer::IstioOperator { resource } => ("istio operator", resource),
        };
        if what.is_empty() {
            who.to_string()
        } else {
            format!("{who} {what}")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSummary {
    pub kind: WorkloadKind,
    pub namespace: Name,
    pub name: Name,
    pub labels: Labels,
    pub selector: Selector,
    /// Labels of the pod template.
    pub template_labels: Labels,
    /// Desired replicas (DaemonSet: desiredNumberScheduled).
    pub desired: u32,
    pub ready: u32,
    pub available: u32,
    pub owner: Option<Owner>,
    /// Container images of the template.
    pub images: Vec<Name>,
    pub node_selector: Labels,
    /// Set when a container runs Istio's in-cluster operator.
    pub operator: Option<OperatorTarget>,
    /// Who installed it, when it carries an installer's marks.
    pub installer: Option<Installer>,
    pub created: Option<Timestamp>,
}

/// Which IstioOperator resources an in-cluster operator reconciles, from its container's
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorTarget {
    /// `WATCH_NAMESPACE`, comma separated; `None`: every namespace (empty or absent).
    pub watched: Option<Vec<Name>>,
    /// `REVISION`: it ignores every IstioOperator whose `spec.revision` differs
    /// (istio/istio operator/pkg/controller/istiocontrolplane). `None`: it takes them all.
    pub revision: Option<Name>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePort {
    pub name: Name,
    pub port: u16,
    pub target_port: Name,
    pub node_port: Option<u16>,
    pub protocol: Name,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSummary {
    pub namespace: Name,
    pub name: Name,
    /// `ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`.
    pub type_: Name,
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HpaSummary {
    pub namespace: Name,
    pub name: Name,
    pub target_kind: Name,
    pub target_name: Name,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub current_replicas: u32,
}

/// An `IntOrString` of a PDB: a count or a percentage.
/// A budget's `minAvailable` or `maxUnavailable`, `N/A` when unset, as kubectl shows it.
pub fn budget(v: &Option<IntOrPercent>) -> String {
    v.as_ref()
        .map_or_else(|| "N/A".into(), IntOrPercent::to_string)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i32),
    Percent(u32),
}

impl std::fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrPercent::Int(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PdbSummary {
    pub namespace: Name,
    pub name: Name,
    pub min_available: Option<IntOrPercent>,
    pub max_unavailable: Option<IntOrPercent>,
    pub selector: Selector,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
    pub current_healthy: i32,
    pub desired_healthy: i32,
    pub expected_pods: i32,
    /// The original spec saved by meshtop's PDB relief, if the PDB is relaxed now.
    pub relaxed_from: Option<Name>,
    /// The budget fields that relief wrote, as it recorded them.
    pub relaxed_to: Option<Name>,
    pub created: Option<Timestamp>,
}

/// One webhook of a MutatingWebhookConfiguration.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub name: Name,
    pub namespace_selector: Selector,
    pub object_selector: Selector,
    /// The Service it calls, `namespace/name`.
    pub service: Option<ObjectKey>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfigSummary {
    pub name: Name,
    pub labels: Labels,
    pub webhooks: Vec<Webhook>,
}

/// Only `istio-*` ConfigMaps are watched: their presence is what matters.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigMapSummary {
    pub namespace: Name,
    pub name: Name,
}

/// Ingress (north-south traffic in) or egress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GatewayKind {
    Ingress,
    Egress,
}

impl GatewayKind {
    /// The IstioOperator component list: `ingressGateways` / `egressGateways`.
    pub fn component_list(self) -> &'static str {
        match self {
            GatewayKind::Ingress => "ingressGateways",
            GatewayKind::Egress => "egressGateways",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            GatewayKind::Ingress => "ingress",
            GatewayKind::Egress => "egress",
        }
    }
}

/// A gateway an IstioOperator declares in `components`, or its profile turns on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IopGateway {
    pub kind: GatewayKind,
    pub name: Name,
    /// Where it goes (the component's `namespace`, else the IOP's).
    pub namespace: Name,
    pub enabled: bool,
    pub labels: Labels,
    /// The node ports its `k8s.service.ports` name.
    pub node_ports: Vec<u16>,
    /// Replicas it keeps at the least: the autoscaler's minimum, else `replicaCount`, else 1.
    pub min_replicas: u32,
    /// Turned on by the profile, not listed in the resource.
    pub from_profile: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IstioOperatorSummary {
    pub namespace: Name,
    pub name: Name,
    /// `spec.revision`; empty means the default revision.
    pub revision: Name,
    pub profile: Name,
    /// `status.status`: HEALTHY, RECONCILING, ERROR, ... (empty if none).
    pub status: Name,
    /// Whether it installs istiod (`profile: empty` and no pilot component: no).
    pub pilot_enabled: bool,
    /// The fewest istiod replicas it keeps, counted as for a gateway.
    pub pilot_min_replicas: u32,
    /// Where istiod and the gateways without a namespace of their own go: `spec.namespace`,
    /// else `values.global.istioNamespace`, else the resource's namespace.
    pub install_namespace: Name,
    pub gateways: Vec<IopGateway>,
    /// Being deleted: the operator is tearing down what it installed.
    pub deleting: bool,
    pub created: Option<Timestamp>,
}

/// A `networking.istio.io` Gateway: which gateway pods it selects.
#[derive(Debug, Clone, PartialEq)]
pub struct IstioGatewaySummary {
    pub namespace: Name,
    pub name: Name,
    pub selector: Labels,
    pub hosts: Vec<Name>,
}

/// One listener of a Gateway API `Gateway`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: Name,
    pub port: u16,
    pub protocol: Name,
}

/// A Gateway API `Gateway` (`gateway.networking.k8s.io`): an ingress or egress gateway
/// istiod deploys itself (class `istio`), or a waypoint (class `istio-waypoint`).
#[derive(Debug, Clone, PartialEq)]
pub struct KubeGatewaySummary {
    pub namespace: Name,
    pub name: Name,
    pub class: Name,
    pub labels: Labels,
    pub listeners: Vec<Listener>,
    /// `status.addresses[].value`.
    pub addresses: Vec<Name>,
    /// The `Accepted` condition; `None` while the status does not say.
    pub accepted: Option<bool>,
    /// The `Programmed` condition; `None` while the status does not say.
    pub programmed: Option<bool>,
    /// The reason (and message) of a `Programmed` condition that is not True.
    pub programmed_reason: Option<Name>,
    pub created: Option<Timestamp>,
}

impl KubeGatewaySummary {
    /// Class `istio-waypoint`.
    pub fn is_waypoint(&self) -> bool {
        self.class.as_ref() == "istio-waypoint"
    }
}

/// Every kind of object the model holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Namespace(NamespaceSummary),
    Node(NodeSummary),
    Pod(PodSummary),
    Workload(WorkloadSummary),
    Service(ServiceSummary),
    Hpa(HpaSummary),
    Pdb(PdbSummary),
    WebhookConfig(WebhookConfigSummary),
    ConfigMap(ConfigMapSummary),
    IstioOperator(IstioOperatorSummary),
    IstioGateway(IstioGatewaySummary),
    KubeGateway(KubeGatewaySummary),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_namespace_then_name_shared_or_not() {
        let shared = Name::from("checkout-prod");
        let pairs = [
            (shared.clone(), "b"),
            (Name::from("checkout-prod"), "a"),
            (Name::from("checkout-prod-eu"), "a"),
            (shared.clone(), "a-1"),
            (Name::from("checkout"), "z"),
            (Name::from(""), "node-1"),
            (shared, "a"),
        ];
        let mut keys: Vec<ObjectKey> = pairs
            .iter()
            .map(|(ns, n)| ObjectKey {
                namespace: ns.clone(),
                name: Name::from(*n),
            })
            .collect();
        keys.sort();
        let got: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| (k.namespace.as_ref(), k.name.as_ref()))
            .collect();
        let mut expected: Vec<(&str, &str)> =
            pairs.iter().map(|(ns, n)| (ns.as_ref(), *n)).collect();
        expected.sort();
        assert_eq!(got, expected);
        assert_eq!(keys[2].cmp(&keys[3]), std::cmp::Ordering::Equal);
    }
}
