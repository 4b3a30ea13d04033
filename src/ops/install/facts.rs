//! What the install checks need to know about the cluster, read once: namespaces, the
//! revisions in use, every gateway's selector labels, every node port, the mesh ConfigMaps
//! and where copies of them are, the IstioOperator resources (or that their CRD is absent)
//! and the in-cluster operators. Building [`InstallFacts`] from objects is pure; only
//! [`InstallFacts::read`] talks to the API server.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::form::GatewayKind;

const REV_LABEL: &str = "istio.io/rev";
const COMPONENT_LABEL: &str = "operator.istio.io/component";

pub(crate) fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Number(n) => Some((k.clone(), n.to_string())),
                    Value::Bool(b) => Some((k.clone(), b.to_string())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `namespace/name` of an object.
fn key(obj: &Value) -> (String, String) {
    (
        s(obj, "/metadata/namespace").to_string(),
        s(obj, "/metadata/name").to_string(),
    )
}

/// A gateway and the labels that select its pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySelector {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Where it was seen: `deployment` or `istiooperator NS/NAME`.
    pub source: String,
}

/// A node port taken, and by what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePortUse {
    pub port: u16,
    /// `service/NS/NAME`, or `istiooperator/NS/NAME` for a gateway an IOP declares.
    pub owner: String,
}

/// A gateway an IstioOperator declares (installed or not yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredGateway {
    pub namespace: String,
    pub name: String,
    pub kind: GatewayKind,
    pub labels: BTreeMap<String, String>,
    pub node_ports: Vec<u16>,
    /// Replicas it keeps at the least: the autoscaler's minimum, else `replicaCount`, else 1.
    pub min_replicas: u64,
    /// Turned on by the profile, not listed in the resource.
    pub from_profile: bool,
}

/// The fewest replicas a component's `k8s` settings keep: the autoscaler's minimum, else
/// `replicaCount`, else Istio's default of 1.
pub fn min_replicas(k8s: Option<&Value>) -> u64 {
    let k8s = k8s.unwrap_or(&Value::Null);
    k8s.pointer("/hpaSpec/minReplicas")
        .or_else(|| k8s.get("replicaCount"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// One IstioOperator resource, as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IopSummary {
    pub namespace: String,
    pub name: String,
    /// `spec.revision` as written (empty for the revisionless control plane).
    pub revision: String,
    pub gateways: Vec<DeclaredGateway>,
}

/// Which gateways a profile turns on when the IOP lists none of that kind.
fn profile_gateways(profile: &str) -> &'static [GatewayKind] {
    match profile {
        "demo" => &[GatewayKind::Ingress, GatewayKind::Egress],
        "default" | "preview" | "stable" | "openshift" => &[GatewayKind::Ingress],
        _ => &[],
    }
}

fn default_gateway(kind: GatewayKind) -> (&'static str, BTreeMap<String, String>) {
    let (name, short) = match kind {
        GatewayKind::Ingress => ("istio-ingressgateway", "ingressgateway"),
        GatewayKind::Egress => ("istio-egressgateway", "egressgateway"),
    };
    let labels = BTreeMap::from([
        ("app".to_string(), name.to_string()),
        ("istio".to_string(), short.to_string()),
    ]);
    (name, labels)
}

fn enabled(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The node ports a gateway's `k8s.service.ports` names.
pub(super) fn declared_node_ports(k8s: Option<&Value>) -> Vec<u16> {
    node_ports(k8s.and_then(|k| k.pointer("/service/ports")))
}

/// The `nodePort`s of a Service's port list.
fn node_ports(ports: Option<&Value>) -> Vec<u16> {
    ports
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .filter_map(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .collect()
        })
        .unwrap_or_default()
}

impl IopSummary {
    /// Reads an IstioOperator: its revision and the gateways it turns on, with the labels
    /// and node ports the operator gives them (a listed gateway without `label` gets the
    /// default gateway's labels, as the charts do).
    pub fn of(iop: &Value) -> Self {
        let (namespace, name) = key(iop);
        let spec = iop.get("spec").cloned().unwrap_or(Value::Null);
        let profile = match s(&spec, "/profile") {
            "" => "default",
            p => p,
        };
        let gateway_ns = [
            s(&spec, "/components/pilot/namespace"),
            s(&spec, "/namespace"),
            s(&spec, "/values/global/istioNamespace"),
        ]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or(namespace.as_str())
        .to_string();
        let mut gateways = Vec::new();
        for kind in [GatewayKind::Ingress, GatewayKind::Egress] {
            let (default_name, default_labels) = default_gateway(kind);
            let from_profile = profile_gateways(profile).contains(&kind);
            let list = spec
                .pointer(&format!("/components/{}", kind.component_list()))
                .and_then(Value::as_array);
            let Some(list) = list else {
                if from_profile {
                    gateways.push(DeclaredGateway {
                        namespace: gateway_ns.clone(),
                        name: default_name.to_string(),
                        kind,
                        labels: default_labels,
                        node_ports: Vec::new(),
                        min_replicas: 1,
                        from_profile: true,
                    });
                }
                continue;
            };
            for entry in list {
                let name = match s(entry, "/name") {
                    "" => default_name,
                    n => n,
                };
                let on =
                    enabled(entry.get("enabled")).unwrap_or(from_profile && name == default_name);
                if !on {
                    continue;
                }
                let labels = match string_map(entry.get("label")) {
                    l if l.is_empty() => default_labels.clone(),
                    l => l,
                };
                gateways.push(DeclaredGateway {
                    namespace: match s(entry, "/namespace") {
                        "" => gateway_ns.clone(),
                        n => n.to_string(),
                    },
                    name: name.to_string(),
                    kind,
                    labels,
                    node_ports: declared_node_ports(entry.get("k8s")),
                    min_replicas: min_replicas(entry.get("k8s")),
                    from_profile: false,
                });
            }
        }
        Self {
            revision: s(&spec, "/revision").to_string(),
            namespace,
            name,
            gateways,
        }
    }
}

/// An in-cluster Istio operator Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorDeployment {
    pub namespace: String,
    pub name: String,
    /// The namespaces whose IstioOperators it reconciles (`WATCH_NAMESPACE`, comma
    /// separated); `None`: every namespace (the variable empty or absent).
    pub watched: Option<Vec<String>>,
    /// Its `REVISION`: it ignores every IstioOperator whose `spec.revision` differs
    /// (istio/istio operator/pkg/controller/istiocontrolplane). `None`: it takes them all.
    pub revision: Option<String>,
    pub replicas: u64,
    pub ready: u64,
}

impl OperatorDeployment {
    /// Reads an operator from a Deployment: one whose container runs the operator image
    /// (`…/operator:<tag>`) or the command `operator server`.
    pub fn of(deployment: &Value) -> Option<Self> {
        let containers = deployment
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)?;
        let operator = containers.iter().find(|c| {
            let image = s(c, "/image");
            let repo = image.split('@').next().unwrap_or(image);
            let last = repo.rsplit('/').next().unwrap_or(repo);
            let last = last.split(':').next().unwrap_or(last);
            let command: Vec<&str> = c
                .get("command")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            last == "operator" || command.starts_with(&["operator", "server"])
        })?;
        let env = |name: &str| -> Option<String> {
            operator
                .get("env")
                .and_then(Value::as_array)?
                .iter()
                .find(|e| s(e, "/name") == name)
                .map(|e| s(e, "/value").trim().to_string())
        };
        let watched = env("WATCH_NAMESPACE").filter(|w| !w.is_empty()).map(|w| {
            w.split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect()
        });
        let (namespace, name) = key(deployment);
        Some(Self {
            namespace,
            name,
            watched,
            revision: env("REVISION").filter(|r| !r.is_empty()),
            replicas: deployment
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(1),
            ready: deployment
                .pointer("/status/readyReplicas")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    pub fn watches(&self, namespace: &str) -> bool {
        self.watched
            .as_ref()
            .is_none_or(|w| w.iter().any(|n| n == namespace))
    }

    /// Whether it acts on an IstioOperator with this `spec.revision` (as written).
    pub fn reconciles(&self, revision: &str) -> bool {
        self.revision.as_deref().is_none_or(|r| r == revision)
    }

    /// `istio-operator/istio-operator-1-9-1 (watches istio-system, revision 1-9-1, 1/1 ready)`.
    pub fn describe(&self) -> String {
        let watches = match &self.watched {
            None => "every namespace".to_string(),
            Some(w) => w.join(","),
        };
        let revision = self.revision.as_deref().unwrap_or("any");
        format!(
            "{}/{} (watches {watches}, revision {revision}, {}/{} ready)",
            self.namespace, self.name, self.ready, self.replicas
        )
    }
}

/// Whether an in-cluster operator will act on an IstioOperator, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorDetection {
    /// The IstioOperator CRD is not installed (Istio 1.24 and later have none).
    NoCrd,
    /// The CRD is there, but no operator Deployment.
    NoOperator,
    /// Operators run, none watching the resource's namespace.
    NotWatching {
        namespace: String,
        operators: Vec<OperatorDeployment>,
    },
    /// Operators watch the namespace, each for another revision.
    OtherRevision {
        revision: String,
        operators: Vec<OperatorDeployment>,
    },
    /// The operator that would act is scaled to zero.
    ScaledDown(OperatorDeployment),
    /// This operator will install it.
    Acts(OperatorDeployment),
}

impl OperatorDetection {
    pub fn acting(&self) -> Option<&OperatorDeployment> {
        match self {
            OperatorDetection::Acts(o) => Some(o),
            _ => None,
        }
    }

    /// One line for the preview.
    pub fn describe(&self) -> String {
        let list = |ops: &[OperatorDeployment]| {
            ops.iter()
                .map(OperatorDeployment::describe)
                .collect::<Vec<_>>()
                .join("; ")
        };
        match self {
            OperatorDetection::NoCrd => {
                "no operator: the IstioOperator CRD is not installed (Istio 1.24 removed the \
                 in-cluster operator)"
                    .to_string()
            }
            OperatorDetection::NoOperator => {
                "no operator: the IstioOperator CRD is installed but no operator Deployment runs"
                    .to_string()
            }
            OperatorDetection::NotWatching {
                namespace,
                operators,
            } => format!(
                "no operator watches namespace {namespace}: {}",
                list(operators)
            ),
            OperatorDetection::OtherRevision {
                revision,
                operators,
            } => {
                let rev = if revision.is_empty() {
                    "default"
                } else {
                    revision
                };
                format!(
                    "no operator reconciles revision {rev} (an operator ignores the \
                     IstioOperators of other revisions; `istioctl operator init --revision \
                     {rev}` adds one): {}",
                    list(operators)
                )
            }
            OperatorDetection::ScaledDown(o) => {
                format!("the operator is scaled to zero: {}", o.describe())
            }
            OperatorDetection::Acts(o) => format!("{} installs it", o.describe()),
        }
    }
}

/// What the checks and the plan read from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallFacts {
    /// Where istiod and the mesh ConfigMaps live, and where IstioOperators go.
    pub istio_namespace: String,
    pub namespaces: BTreeSet<String>,
    /// `None`: the IstioOperator CRD is absent (listing them answered 404).
    pub iops: Option<Vec<IopSummary>>,
    /// istiod Deployments: `(namespace, name)` → revision (`default` without a label).
    pub istiods: BTreeMap<(String, String), String>,
    pub gateways: Vec<GatewaySelector>,
    pub node_ports: Vec<NodePortUse>,
    /// Every Deployment, `(namespace, name)`.
    pub deployments: BTreeSet<(String, String)>,
    /// The mesh ConfigMaps (`istio`, `istio-<rev>`) in the istio namespace, by name.
    pub mesh_config_maps: BTreeMap<String, Value>,
    /// Where ConfigMaps of those names exist elsewhere: `(namespace, name)`.
    pub config_map_copies: BTreeSet<(String, String)>,
    pub operators: Vec<OperatorDeployment>,
}

/// The objects [`InstallFacts`] is built from, as the API server returns them.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    pub namespaces: Vec<Value>,
    pub deployments: Vec<Value>,
    pub services: Vec<Value>,
    /// `None`: the IstioOperator CRD is absent.
    pub iops: Option<Vec<Value>>,
    /// ConfigMaps in the istio namespace.
    pub istio_config_maps: Vec<Value>,
    /// ConfigMaps elsewhere that carry a mesh ConfigMap's name.
    pub config_map_copies: Vec<Value>,
}

/// Does this Deployment run a gateway: the operator's component label, or an Envoy image
/// (`proxyv2`, or `auto` for an injected gateway)?
fn is_gateway(d: &Value) -> bool {
    let component = d
        .pointer("/metadata/labels")
        .and_then(|l| l.get(COMPONENT_LABEL))
        .and_then(Value::as_str)
        .unwrap_or("");
    if matches!(component, "IngressGateways" | "EgressGateways") {
        return true;
    }
    d.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                let image = s(c, "/image");
                let last = image.rsplit('/').next().unwrap_or(image);
                image == "auto" || last.starts_with("proxyv2")
            })
        })
}

/// A mesh ConfigMap: `istio` or `istio-<rev>` holding a `mesh` key.
pub(crate) fn is_mesh_config_map(cm: &Value) -> bool {
    let name = s(cm, "/metadata/name");
    (name == "istio" || name.starts_with("istio-")) && cm.pointer("/data/mesh").is_some()
}

impl InstallFacts {
    pub fn from_objects(istio_namespace: &str, objects: &ClusterObjects) -> Self {
        let mut facts = InstallFacts {
            istio_namespace: istio_namespace.to_string(),
            ..InstallFacts::default()
        };
        facts.namespaces = objects
            .namespaces
            .iter()
            .map(|n| s(n, "/metadata/name").to_string())
            .collect();
        for d in &objects.deployments {
            let k = key(d);
            facts.deployments.insert(k.clone());
            let labels = string_map(d.pointer("/metadata/labels"));
            if labels.get("app").map(String::as_str) == Some("istiod") {
                let rev = labels
                    .get(REV_LABEL)
                    .cloned()
                    .unwrap_or_else(|| "default".into());
                facts.istiods.insert(k.clone(), rev);
            }
            if is_gateway(d) {
                facts.gateways.push(GatewaySelector {
                    namespace: k.0.clone(),
                    name: k.1.clone(),
                    labels: string_map(d.pointer("/spec/selector/matchLabels")),
                    source: "deployment".into(),
                });
            }
            if let Some(op) = OperatorDeployment::of(d) {
                facts.operators.push(op);
            }
        }
        for svc in &objects.services {
            let (ns, name) = key(svc);
            for port in node_ports(svc.pointer("/spec/ports")) {
                facts.node_ports.push(NodePortUse {
                    port,
                    owner: format!("service/{ns}/{name}"),
                });
            }
        }
        facts.iops = objects.iops.as_ref().map(|iops| {
            iops.iter()
                .filter(|i| i.pointer("/metadata/deletionTimestamp").is_none())
                .map(IopSummary::of)
                .collect()
        });
        for iop in facts.iops.iter().flatten() {
            for g in &iop.gateways {
                let owner = format!("istiooperator/{}/{}", iop.namespace, iop.name);
                for port in &g.node_ports {
                    facts.node_ports.push(NodePortUse {
                        port: *port,
                        owner: format!("{owner} (gateway {}/{})", g.namespace, g.name),
                    });
                }
                let seen = facts
                    .gateways
                    .iter()
                    .any(|s| s.namespace == g.namespace && s.name == g.name);
                if !seen {
                    facts.gateways.push(GatewaySelector {
                        namespace: g.namespace.clone(),
                        name: g.name.clone(),
                        labels: g.labels.clone(),
                        source: format!("istiooperator {}/{}", iop.namespace, iop.name),
                    });
                }
            }
        }
        facts.mesh_config_maps = objects
            .istio_config_maps
            .iter()
            .filter(|cm| s(cm, "/metadata/namespace") == istio_namespace)
            .filter(|cm| is_mesh_config_map(cm))
            .map(|cm| (s(cm, "/metadata/name").to_string(), cm.clone()))
            .collect();
        facts.config_map_copies = objects
            .config_map_copies
            .iter()
            .map(key)
            .filter(|(ns, name)| ns != istio_namespace && facts.mesh_config_maps.contains_key(name))
            .collect();
        facts
    }

    /// Every revision in use and what uses it: IstioOperators' `spec.revision` and istiod
    /// Deployments' `istio.io/rev` (`default` for none).
    pub fn revisions(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for iop in self.iops.iter().flatten() {
            let rev = if iop.revision.is_empty() {
                "default"
            } else {
                &iop.revision
            };
            out.entry(rev.to_string())
                .or_default()
                .push(format!("istiooperator {}/{}", iop.namespace, iop.name));
        }
        for ((ns, name), rev) in &self.istiods {
            out.entry(rev.clone())
                .or_default()
                .push(format!("deployment {ns}/{name}"));
        }
        out
    }

    /// Whether an in-cluster operator acts on an IstioOperator in `namespace` with this
    /// `spec.revision` (as written: empty for the revisionless control plane).
    pub fn detect_operator(&self, namespace: &str, revision: &str) -> OperatorDetection {
        if self.iops.is_none() {
            return OperatorDetection::NoCrd;
        }
        if self.operators.is_empty() {
            return OperatorDetection::NoOperator;
        }
        let watching: Vec<&OperatorDeployment> = self
            .operators
            .iter()
            .filter(|o| o.watches(namespace))
            .collect();
        if watching.is_empty() {
            return OperatorDetection::NotWatching {
                namespace: namespace.to_string(),
                operators: self.operators.clone(),
            };
        }
        let matching: Vec<&OperatorDeployment> = watching
            .iter()
            .copied()
            .filter(|o| o.reconciles(revision))
            .collect();
        match matching.iter().find(|o| o.replicas > 0) {
            Some(o) => OperatorDetection::Acts((*o).clone()),
            None => match matching.first() {
                Some(o) => OperatorDetection::ScaledDown((*o).clone()),
                None => OperatorDetection::OtherRevision {
                    revision: revision.to_string(),
                    operators: watching.into_iter().cloned().collect(),
                },
            },
        }
    }

    pub fn iop_exists(&self, namespace: &str, name: &str) -> bool {
        self.iops
            .iter()
            .flatten()
            .any(|i| i.namespace == namespace && i.name == name)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The objects of a scenario file, as [`ClusterObjects`] for `istio-system`.
    pub(in super::super) fn scenario(path: &str) -> ClusterObjects {
        let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let text = std::fs::read_to_string(full).expect("scenario");
        let mut o = ClusterObjects {
            iops: Some(Vec::new()),
            ..ClusterObjects::default()
        };
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc).expect("yaml document");
            match s(&v, "/kind") {
                "Namespace" => o.namespaces.push(v),
                "Deployment" => o.deployments.push(v),
                "Service" => o.services.push(v),
                "IstioOperator" => o.iops.get_or_insert_default().push(v),
                "ConfigMap" if s(&v, "/metadata/namespace") == "istio-system" => {
                    o.istio_config_maps.push(v)
                }
                "ConfigMap" => o.config_map_copies.push(v),
                _ => {}
            }
        }
        o
    }

    pub(in super::super) fn k1() -> InstallFacts {
        InstallFacts::from_objects(
            "istio-system",
            &scenario("assets/scenarios/k1-upgrade.yaml"),
        )
    }

    #[test]
    fn k1_facts() {
        let f = k1();
        let revs = f.revisions();
        assert_eq!(
            revs.get("1-9-1"),
            Some(&vec![
                "istiooperator istio-system/istio-controlplane".to_string(),
                "istiooperator istio-system/istio-gateway-sample".to_string(),
                "deployment istio-system/istiod-1-9-1".to_string(),
            ])
        );
        assert_eq!(f.operators.len(), 1, "{:?}", f.operators);
        let op = &f.operators[0];
        assert_eq!(op.watched, Some(vec!["istio-system".to_string()]));
        assert_eq!(op.revision.as_deref(), Some("1-9-1"));
        assert!(f.mesh_config_maps.contains_key("istio-1-9-1"));
        assert!(
            f.config_map_copies
                .contains(&("istio-gateway-sample".into(), "istio-1-9-1".into()))
        );
        let sample = f
            .gateways
            .iter()
            .find(|g| g.name == "istio-ingressgateway-istio-gateway-sample")
            .expect("the sample gateway");
        assert_eq!(
            sample.labels.get("istio").map(String::as_str),
            Some("ingressgateway-istio-gateway-sample")
        );
        assert!(!f.gateways.iter().any(|g| g.name == "api-gateway"));
        let ports: BTreeSet<u16> = f.node_ports.iter().map(|u| u.port).collect();
        for p in [31080, 30443, 31081, 31443] {
            assert!(ports.contains(&p), "{p}");
        }
    }

    #[test]
    fn operator_detection() {
        let f = k1();
        assert!(matches!(
            f.detect_operator("istio-system", "1-9-1"),
            OperatorDetection::Acts(_)
        ));
        let d = f.detect_operator("istio-system", "1-10-0");
        assert!(
            matches!(d, OperatorDetection::OtherRevision { .. }),
            "{d:?}"
        );
        assert!(d.describe().contains("revision 1-9-1"), "{}", d.describe());
        assert!(matches!(
            f.detect_operator("other", "1-9-1"),
            OperatorDetection::NotWatching { .. }
        ));

        let small =
            InstallFacts::from_objects("istio-system", &scenario("assets/scenarios/small.yaml"));
        assert_eq!(
            small.detect_operator("istio-system", "r2"),
            OperatorDetection::NoOperator
        );
        let mut no_crd = small.clone();
        no_crd.iops = None;
        assert_eq!(
            no_crd.detect_operator("istio-system", "r2"),
            OperatorDetection::NoCrd
        );

        // An operator without WATCH_NAMESPACE or REVISION takes everything; scaled to zero
        // it takes nothing.
        let mut any = OperatorDeployment::of(&serde_json::json!({
            "metadata": {"namespace": "istio-operator", "name": "istio-operator"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "x", "image": "gcr.io/istio-release/operator:1.20.0@sha256:ab"}]}}},
        }))
        .expect("an operator");
        assert!(any.watches("anywhere") && any.reconciles("canary"));
        any.replicas = 0;
        let mut facts = small.clone();
        facts.operators = vec![any];
        assert!(matches!(
            facts.detect_operator("istio-system", "canary"),
            OperatorDetection::ScaledDown(_)
        ));
        assert!(
            OperatorDeployment::of(&serde_json::json!({
                "spec": {"template": {"spec": {"containers": [{"image": "docker.io/istio/pilot:1.9.1"}]}}}
            }))
            .is_none()
        );
    }
}
