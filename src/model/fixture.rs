//! Test fixtures: small builders for summaries and the seed's cluster mid-upgrade (the shape
//! of `assets/scenarios/k1-upgrade.yaml`), for the model's tests and the views' snapshots.

use jiff::Timestamp;

use super::Model;
use super::event::{ClusterEvent, Kind, Stamped};
use super::intern::Name;
use super::labels::{Labels, Selector};
use super::summary::{
    ConfigMapSummary, GatewayKind, HpaSummary, IntOrPercent, IopGateway, IstioGatewaySummary,
    IstioOperatorSummary, MeshRole, NamespaceSummary, NodeSummary, Object, ObjectKey, Owner,
    PdbSummary, PodPhase, PodSummary, ServicePort, ServiceSummary, WebhookConfigSummary,
    WorkloadKind, WorkloadSummary,
};

pub fn n(s: &str) -> Name {
    Name::from(s)
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| (n(k), n(v))).collect())
}

pub fn key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        namespace: n(namespace),
        name: n(name),
    }
}

/// The fixed time of every fixture event: the seed's `kubectl get nodes`.
pub fn at() -> Timestamp {
    "2020-01-09T07:15:00Z".parse().unwrap_or_default()
}

pub fn stamped(event: ClusterEvent) -> Stamped {
    Stamped { at: at(), event }
}

pub fn applied(object: Object) -> Stamped {
    stamped(ClusterEvent::Applied(object))
}

pub fn deleted(kind: Kind, namespace: &str, name: &str) -> Stamped {
    stamped(ClusterEvent::Deleted(kind, key(namespace, name)))
}

pub fn namespace(name: &str, l: &[(&str, &str)]) -> Object {
    Object::Namespace(NamespaceSummary {
        name: n(name),
        labels: labels(l),
        phase: n("Active"),
        created: None,
    })
}

pub struct NodeBuilder(NodeSummary);

pub fn node(name: &str, kubelet: &str) -> NodeBuilder {
    NodeBuilder(NodeSummary {
        name: n(name),
        labels: labels(&[
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
        ]),
        roles: Vec::new(),
        kubelet_version: n(kubelet),
        ready: true,
        unschedulable: false,
        internal_ip: None,
        taints: Vec::new(),
        created: None,
    })
}

impl NodeBuilder {
    pub fn master(mut self) -> Self {
        self.0.roles = vec![n("master")];
        self.0.taints = vec![n("node-role.kubernetes.io/master:NoSchedule")];
        self.label("node-role.kubernetes.io/master", "")
    }
    pub fn label(mut self, k: &str, v: &str) -> Self {
        let mut l: Vec<(Name, Name)> = self
            .0
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        l.push((n(k), n(v)));
        self.0.labels = Labels::new(l);
        self
    }
    pub fn cordoned(mut self) -> Self {
        self.0.unschedulable = true;
        self
    }
    pub fn not_ready(mut self) -> Self {
        self.0.ready = false;
        self
    }
    pub fn build(self) -> Object {
        Object::Node(self.0)
    }
}

pub struct PodBuilder(PodSummary);

fn owner(kind: &str, name: &str) -> Owner {
    Owner {
        kind: n(kind),
        name: n(name),
    }
}

pub fn pod(namespace: &str, name: &str) -> PodBuilder {
    PodBuilder(PodSummary {
        namespace: n(namespace),
        name: n(name),
        node: None,
        phase: PodPhase::Running,
        status: n("Running"),
        ready: true,
        containers_ready: 1,
        containers: 1,
        restarts: 0,
        owner: None,
        labels: Labels::default(),
        has_proxy: false,
        mesh_role: MeshRole::None,
        injected_revision: None,
        proxy_version: None,
        istiod_version: None,
        has_empty_dir: false,
        mirror: false,
        deleting: false,
        created: None,
    })
}

impl PodBuilder {
    pub fn on(mut self, node: &str) -> Self {
        self.0.node = Some(n(node));
        self
    }
    pub fn labels(mut self, l: &[(&str, &str)]) -> Self {
        self.0.labels = labels(l);
        self
    }
    pub fn owner(mut self, kind: &str, name: &str) -> Self {
        self.0.owner = Some(owner(kind, name));
        self
    }
    /// A sidecar injected by `rev`, with its emptyDir volumes.
    pub fn injected(mut self, rev: &str, version: &str) -> Self {
        self.0.has_proxy = true;
        self.0.mesh_role = MeshRole::Sidecar;
        self.0.injected_revision = Some(n(rev));
        self.0.proxy_version = Some(n(version));
        self.0.has_empty_dir = true;
        self.0.containers = 2;
        self.0.containers_ready = 2;
        self
    }
    /// A gateway pod: a proxy and the `istio.io/rev` label, no injection.
    pub fn gateway(mut self, rev: &str, version: &str) -> Self {
        self.0.has_proxy = true;
        self.0.mesh_role = MeshRole::Gateway;
        self.0.injected_revision = Some(n(rev));
        self.0.proxy_version = Some(n(version));
        self
    }
    pub fn istiod(mut self, version: &str) -> Self {
        self.0.istiod_version = Some(n(version));
        self
    }
    pub fn phase(mut self, phase: PodPhase, status: &str) -> Self {
        self.0.phase = phase;
        self.0.status = n(status);
        self
    }
    pub fn not_ready(mut self, status: &str) -> Self {
        self.0.ready = false;
        self.0.containers_ready = 0;
        self.0.status = n(status);
        self
    }
    pub fn empty_dir(mut self) -> Self {
        self.0.has_empty_dir = true;
        self
    }
    pub fn mirror(mut self) -> Self {
        self.0.mirror = true;
        self
    }
    pub fn deleting(mut self) -> Self {
        self.0.deleting = true;
        self.0.status = n("Terminating");
        self
    }
    pub fn summary(self) -> PodSummary {
        self.0
    }
    pub fn build(self) -> Object {
        Object::Pod(self.0)
    }
}

pub struct WorkloadBuilder(WorkloadSummary);

pub fn workload(kind: WorkloadKind, namespace: &str, name: &str) -> WorkloadBuilder {
    WorkloadBuilder(WorkloadSummary {
        kind,
        namespace: n(namespace),
        name: n(name),
        labels: Labels::default(),
        selector: Selector::everything(),
        template_labels: Labels::default(),
        desired: 1,
        ready: 1,
        available: 1,
        owner: None,
        images: Vec::new(),
        node_selector: Labels::default(),
        operator: None,
        installer: None,
        created: None,
    })
}

pub fn deployment(namespace: &str, name: &str) -> WorkloadBuilder {
    workload(WorkloadKind::Deployment, namespace, name)
}

impl WorkloadBuilder {
    /// Template labels; the selector selects them all.
    pub fn pods(mut self, l: &[(&str, &str)]) -> Self {
        self.0.template_labels = labels(l);
        self.0.labels = labels(l);
        self.0.selector = Selector::from_labels(&self.0.template_labels);
        self
    }
    pub fn replicas(mut self, ready: u32, desired: u32) -> Self {
        self.0.ready = ready;
        self.0.available = ready;
        self.0.desired = desired;
        self
    }
    pub fn image(mut self, image: &str) -> Self {
        self.0.images.push(n(image));
        self
    }
    pub fn owner(mut self, kind: &str, name: &str) -> Self {
        self.0.owner = Some(owner(kind, name));
        self
    }
    pub fn build(self) -> Object {
        Object::Workload(self.0)
    }
}

/// A Service; `ports` are `(port, node port)`.
pub fn service(
    namespace: &str,
    name: &str,
    type_: &str,
    selector: &[(&str, &str)],
    ports: &[(u16, Option<u16>)],
) -> Object {
    Object::Service(ServiceSummary {
        namespace: n(namespace),
        name: n(name),
        type_: n(type_),
        selector: labels(selector),
        ports: ports
            .iter()
            .map(|(port, node_port)| ServicePort {
                name: n(""),
                port: *port,
                target_port: n(&port.to_string()),
                node_port: *node_port,
                protocol: n("TCP"),
            })
            .collect(),
        labels: Labels::default(),
    })
}

pub fn hpa(namespace: &str, name: &str, min: u32, max: u32) -> Object {
    Object::Hpa(HpaSummary {
        namespace: n(namespace),
        name: n(name),
        target_kind: n("Deployment"),
        target_name: n(name),
        min_replicas: min,
        max_replicas: max,
        current_replicas: min,
    })
}

pub struct PdbBuilder(PdbSummary);

pub fn pdb(namespace: &str, name: &str, select: &[(&str, &str)]) -> PdbBuilder {
    PdbBuilder(PdbSummary {
        namespace: n(namespace),
        name: n(name),
        min_available: None,
        max_unavailable: None,
        selector: Selector::from_labels(&labels(select)),
        disruptions_allowed: 0,
        current_healthy: 0,
        desired_healthy: 0,
        expected_pods: 0,
        relaxed_from: None,
        relaxed_to: None,
        created: None,
    })
}

impl PdbBuilder {
    pub fn min_available(mut self, v: i32) -> Self {
        self.0.min_available = Some(IntOrPercent::Int(v));
        self
    }
    pub fn max_unavailable(mut self, v: i32) -> Self {
        self.0.max_unavailable = Some(IntOrPercent::Int(v));
        self
    }
    /// `status`: allowed disruptions, current and desired healthy, expected pods.
    pub fn status(mut self, allowed: i32, current: i32, desired: i32, expected: i32) -> Self {
        self.0.disruptions_allowed = allowed;
        self.0.current_healthy = current;
        self.0.desired_healthy = desired;
        self.0.expected_pods = expected;
        self
    }
    pub fn relaxed_from(mut self, original: &str) -> Self {
        self.0.relaxed_from = Some(n(original));
        self
    }
    /// The budget fields relief recorded writing.
    pub fn relaxed_to(mut self, written: &str) -> Self {
        self.0.relaxed_to = Some(n(written));
        self
    }
    pub fn selector(mut self, selector: Selector) -> Self {
        self.0.selector = selector;
        self
    }
    pub fn build(self) -> Object {
        Object::Pdb(self.0)
    }
}

pub fn webhook(name: &str, l: &[(&str, &str)]) -> Object {
    Object::WebhookConfig(WebhookConfigSummary {
        name: n(name),
        labels: labels(l),
        webhooks: Vec::new(),
    })
}

pub fn config_map(namespace: &str, name: &str) -> Object {
    Object::ConfigMap(ConfigMapSummary {
        namespace: n(namespace),
        name: n(name),
    })
}

/// A gateway an IOP declares: kind, name, namespace, labels.
pub type IopGatewaySpec<'a> = (GatewayKind, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// An IstioOperator.
pub fn iop(
    namespace: &str,
    name: &str,
    revision: &str,
    profile: &str,
    status: &str,
    gateways: &[IopGatewaySpec<'_>],
) -> Object {
    Object::IstioOperator(IstioOperatorSummary {
        namespace: n(namespace),
        name: n(name),
        revision: n(revision),
        profile: n(profile),
        status: n(status),
        pilot_enabled: profile != "empty",
        pilot_min_replicas: 1,
        install_namespace: n(namespace),
        gateways: gateways
            .iter()
            .map(|(kind, name, ns, l)| IopGateway {
                kind: *kind,
                name: n(name),
                namespace: n(ns),
                enabled: true,
                labels: labels(l),
                node_ports: Vec::new(),
                min_replicas: 1,
                from_profile: false,
            })
            .collect(),
        deleting: false,
        created: None,
    })
}

pub fn istio_gateway(namespace: &str, name: &str, selector: &[(&str, &str)]) -> Object {
    Object::IstioGateway(IstioGatewaySummary {
        namespace: n(namespace),
        name: n(name),
        selector: labels(selector),
        hosts: vec![n("*")],
    })
}

const INGRESS: &[(&str, &str)] = &[
    ("app", "istio-ingressgateway"),
    ("istio", "ingressgateway"),
    ("istio.io/rev", "1-9-1"),
    ("operator.istio.io/component", "IngressGateways"),
    ("sidecar.istio.io/inject", "false"),
];
const EGRESS: &[(&str, &str)] = &[
    ("app", "istio-egressgateway"),
    ("istio", "egressgateway"),
    ("istio.io/rev", "1-9-1"),
    ("operator.istio.io/component", "EgressGateways"),
    ("sidecar.istio.io/inject", "false"),
];
const SAMPLE: &[(&str, &str)] = &[
    ("app", "istio-ingressgateway-istio-gateway-sample"),
    ("istio", "ingressgateway-istio-gateway-sample"),
    ("istio.io/rev", "1-9-1"),
    ("operator.istio.io/component", "IngressGateways"),
    ("sidecar.istio.io/inject", "false"),
];
const ISTIOD: &[(&str, &str)] = &[
    ("app", "istiod"),
    ("istio", "pilot"),
    ("istio.io/rev", "1-9-1"),
];

/// The seed's cluster mid-upgrade: masters on v1.15.6, workers on v1.14.3; Istio 1.9.1 by
/// revision `1-9-1` (control plane and a gateway-only IOP), the old Istio 1.4 pods and their
/// PDBs, Elasticsearch with one master crash-looping, `legacy-shop` on `istio-injection`.
pub fn seed_objects() -> Vec<Object> {
    let mut o = vec![
        namespace("kube-system", &[]),
        namespace("default", &[("istio.io/rev", "1-9-1")]),
        namespace("istio-system", &[]),
        namespace("istio-operator", &[("istio-injection", "disabled")]),
        namespace("istio-gateway-sample", &[]),
        namespace("logging", &[]),
        namespace("legacy-shop", &[("istio-injection", "enabled")]),
    ];
    for m in ["k1-master01", "k1-master02", "k1-master03"] {
        o.push(node(m, "v1.15.6").master().build());
    }
    for w in ["k1-node01", "k1-node02"] {
        o.push(node(w, "v1.14.3").build());
    }
    for w in ["k1-node03", "k1-node04", "k1-node05"] {
        o.push(node(w, "v1.14.3").label("taco-istio", "enabled").build());
    }
    let nodes = [
        "k1-master01",
        "k1-master02",
        "k1-master03",
        "k1-node01",
        "k1-node02",
        "k1-node03",
        "k1-node04",
        "k1-node05",
    ];
    for ds in ["kube-proxy", "calico-node"] {
        o.push(
            workload(WorkloadKind::DaemonSet, "kube-system", ds)
                .pods(&[("k8s-app", ds)])
                .replicas(8, 8)
                .build(),
        );
        for (i, node) in nodes.iter().enumerate() {
            o.push(
                pod("kube-system", &format!("{ds}-{i}"))
                    .on(node)
                    .labels(&[("k8s-app", ds)])
                    .owner("DaemonSet", ds)
                    .build(),
            );
        }
    }
    o.push(
        deployment("kube-system", "coredns")
            .pods(&[("k8s-app", "kube-dns")])
            .replicas(2, 2)
            .build(),
    );
    for (name, node) in [
        ("coredns-58687784f9-6qkb2", "k1-node01"),
        ("coredns-58687784f9-rl9cw", "k1-node02"),
    ] {
        o.push(
            pod("kube-system", name)
                .on(node)
                .labels(&[("k8s-app", "kube-dns")])
                .owner("ReplicaSet", "coredns-58687784f9")
                .build(),
        );
    }
    o.push(
        pod("kube-system", "metrics-server-6bc4f4c9b6-g8jwd")
            .on("k1-node01")
            .labels(&[("k8s-app", "metrics-server")])
            .owner("ReplicaSet", "metrics-server-6bc4f4c9b6")
            .empty_dir()
            .build(),
    );

    // Istio 1.9.1, revision 1-9-1, installed by the operator.
    let ingress_ports: &[(u16, Option<u16>)] = &[
        (15021, Some(32021)),
        (80, Some(31080)),
        (443, Some(30443)),
        (31400, Some(31400)),
        (15443, Some(32443)),
    ];
    let sample_ports: &[(u16, Option<u16>)] = &[
        (15021, Some(32022)),
        (80, Some(31081)),
        (443, Some(31443)),
        (31400, Some(31401)),
        (15443, Some(32444)),
    ];
    o.extend([
        iop(
            "istio-system",
            "istio-controlplane",
            "1-9-1",
            "default",
            "HEALTHY",
            &[
                (
                    GatewayKind::Egress,
                    "istio-egressgateway",
                    "istio-system",
                    &EGRESS[..2],
                ),
                (
                    GatewayKind::Ingress,
                    "istio-ingressgateway",
                    "istio-system",
                    &INGRESS[..2],
                ),
            ],
        ),
        iop(
            "istio-system",
            "istio-gateway-sample",
            "1-9-1",
            "empty",
            "HEALTHY",
            &[(
                GatewayKind::Ingress,
                "istio-ingressgateway-istio-gateway-sample",
                "istio-gateway-sample",
                &SAMPLE[..2],
            )],
        ),
        deployment("istio-system", "istiod-1-9-1")
            .pods(ISTIOD)
            .replicas(2, 2)
            .image("docker.io/istio/pilot:1.9.1")
            .build(),
        hpa("istio-system", "istiod-1-9-1", 2, 10),
        service(
            "istio-system",
            "istiod-1-9-1",
            "ClusterIP",
            ISTIOD,
            &[(15010, None), (15012, None), (443, None), (15014, None)],
        ),
        webhook(
            "istio-sidecar-injector-1-9-1",
            &[("app", "sidecar-injector"), ("istio.io/rev", "1-9-1")],
        ),
        config_map("istio-system", "istio-1-9-1"),
        config_map("istio-gateway-sample", "istio-1-9-1"),
        deployment("istio-system", "istio-ingressgateway")
            .pods(INGRESS)
            .replicas(2, 2)
            .image("docker.io/istio/proxyv2:1.9.1")
            .build(),
        hpa("istio-system", "istio-ingressgateway", 2, 10),
        service(
            "istio-system",
            "istio-ingressgateway",
            "NodePort",
            &INGRESS[..2],
            ingress_ports,
        ),
        deployment("istio-system", "istio-egressgateway")
            .pods(EGRESS)
            .replicas(2, 2)
            .image("docker.io/istio/proxyv2:1.9.1")
            .build(),
        hpa("istio-system", "istio-egressgateway", 2, 10),
        service(
            "istio-system",
            "istio-egressgateway",
            "ClusterIP",
            &EGRESS[..2],
            &[(80, None), (443, None), (15443, None)],
        ),
        deployment(
            "istio-gateway-sample",
            "istio-ingressgateway-istio-gateway-sample",
        )
        .pods(SAMPLE)
        .replicas(2, 2)
        .image("docker.io/istio/proxyv2:1.9.1")
        .build(),
        hpa(
            "istio-gateway-sample",
            "istio-ingressgateway-istio-gateway-sample",
            2,
            10,
        ),
        service(
            "istio-gateway-sample",
            "istio-ingressgateway-istio-gateway-sample",
            "NodePort",
            &SAMPLE[..2],
            sample_ports,
        ),
        istio_gateway(
            "istio-gateway-sample",
            "sample-gateway",
            &[("istio", "ingressgateway-istio-gateway-sample")],
        ),
    ]);
    for (name, node) in [
        ("istiod-1-9-1-58ff56d6f8-dftbh", "k1-node04"),
        ("istiod-1-9-1-58ff56d6f8-25z28", "k1-node05"),
    ] {
        o.push(
            pod("istio-system", name)
                .on(node)
                .labels(ISTIOD)
                .owner("ReplicaSet", "istiod-1-9-1-58ff56d6f8")
                .istiod("1.9.1")
                .build(),
        );
    }
    for (name, node, l, rs) in [
        (
            "istio-ingressgateway-684d9c7755-brtsv",
            "k1-node03",
            INGRESS,
            "istio-ingressgateway-684d9c7755",
        ),
        (
            "istio-ingressgateway-684d9c7755-dvtrd",
            "k1-node04",
            INGRESS,
            "istio-ingressgateway-684d9c7755",
        ),
        (
            "istio-egressgateway-66cb5c46c7-c9q4b",
            "k1-node04",
            EGRESS,
            "istio-egressgateway-66cb5c46c7",
        ),
        (
            "istio-egressgateway-66cb5c46c7-qjrwj",
            "k1-node05",
            EGRESS,
            "istio-egressgateway-66cb5c46c7",
        ),
    ] {
        o.push(
            pod("istio-system", name)
                .on(node)
                .labels(l)
                .owner("ReplicaSet", rs)
                .gateway("1-9-1", "1.9.1")
                .build(),
        );
    }
    for (name, node) in [
        (
            "istio-ingressgateway-istio-gateway-sample-6d6998fc44-rnfnr",
            "k1-node03",
        ),
        (
            "istio-ingressgateway-istio-gateway-sample-6d6998fc44-twcqp",
            "k1-node05",
        ),
    ] {
        o.push(
            pod("istio-gateway-sample", name)
                .on(node)
                .labels(SAMPLE)
                .owner(
                    "ReplicaSet",
                    "istio-ingressgateway-istio-gateway-sample-6d6998fc44",
                )
                .gateway("1-9-1", "1.9.1")
                .build(),
        );
    }

    // The old Istio 1.4 control plane, one replica each, and its PDBs.
    for (app, istio, name, node) in [
        (
            "pilot",
            "pilot",
            "istio-pilot-r4wksrd5mb-9fsbh",
            "k1-node03",
        ),
        (
            "galley",
            "galley",
            "istio-galley-bfr87rd5c2-cwr6w",
            "k1-node04",
        ),
        (
            "policy",
            "mixer",
            "istio-policy-8spdzh72zt-tmvhf",
            "k1-node02",
        ),
        (
            "telemetry",
            "mixer",
            "istio-telemetry-xq6f4chxsc-jchrb",
            "k1-node05",
        ),
    ] {
        let l = [("app", app), ("istio", istio), ("release", "istio")];
        o.push(
            pod("istio-system", name)
                .on(node)
                .labels(&l)
                .owner("ReplicaSet", &name[..name.len() - 6])
                .build(),
        );
        o.push(
            pdb("istio-system", &format!("istio-{app}"), &l)
                .min_available(1)
                .status(0, 1, 1, 1)
                .build(),
        );
    }
    for (app, istio) in [
        ("istio-ingressgateway", "ingressgateway"),
        ("istio-egressgateway", "egressgateway"),
    ] {
        o.push(
            pdb(
                "istio-system",
                app,
                &[("app", app), ("istio", istio), ("release", "istio")],
            )
            .min_available(1)
            .build(),
        );
    }

    // Elasticsearch: master-2 crash-loops, so its PDB allows nothing.
    o.push(
        workload(
            WorkloadKind::StatefulSet,
            "logging",
            "elasticsearch-k1-master",
        )
        .pods(&[("app", "elasticsearch-k1-master")])
        .replicas(2, 3)
        .build(),
    );
    for (i, node) in ["k1-node01", "k1-node02", "k1-node05"].iter().enumerate() {
        let p = pod("logging", &format!("elasticsearch-k1-master-{i}"))
            .on(node)
            .labels(&[("app", "elasticsearch-k1-master")])
            .owner("StatefulSet", "elasticsearch-k1-master");
        o.push(
            if i == 2 {
                p.not_ready("CrashLoopBackOff")
            } else {
                p
            }
            .build(),
        );
    }
    o.push(
        pdb(
            "logging",
            "elasticsearch-k1-master-pdb",
            &[("app", "elasticsearch-k1-master")],
        )
        .max_unavailable(1)
        .status(0, 2, 2, 3)
        .build(),
    );

    // Applications of `default`, injected by 1-9-1; their proxies are 1.10 alpha builds.
    for (app, rs, name, node) in [
        (
            "api-gateway",
            "api-gateway-6f87d9477f",
            "api-gateway-6f87d9477f-xg5dq",
            "k1-node01",
        ),
        (
            "details",
            "details-v1-6f769b44",
            "details-v1-6f769b44-hzj8v",
            "k1-node02",
        ),
        (
            "productpage",
            "productpage-v1-6b746f74dc",
            "productpage-v1-6b746f74dc-9stvs",
            "k1-node03",
        ),
        (
            "ratings",
            "ratings-v1-b6994bb9",
            "ratings-v1-b6994bb9-ltxkz",
            "k1-node05",
        ),
        (
            "reviews",
            "reviews-v1-545db77b95",
            "reviews-v1-545db77b95-qvbm7",
            "k1-node04",
        ),
    ] {
        o.push(
            pod("default", name)
                .on(node)
                .labels(&[("app", app), ("istio.io/rev", "1-9-1")])
                .owner("ReplicaSet", rs)
                .injected("1-9-1", "1.10-alpha.f2ba4b8")
                .build(),
        );
    }
    // legacy-shop: labelled istio-injection=enabled, which nothing serves: no sidecars.
    for (app, name, node) in [
        ("storefront", "storefront-m84d9g596f-5rsnf", "k1-node01"),
        ("inventory", "inventory-9s4ctch8vq-kk6dv", "k1-node02"),
    ] {
        o.push(
            pod("legacy-shop", name)
                .on(node)
                .labels(&[("app", app)])
                .owner("ReplicaSet", &name[..name.len() - 6])
                .build(),
        );
    }
    o
}

/// Every object the model holds, as events would bring them again.
pub fn objects(m: &Model) -> Vec<Object> {
    let s = &m.store;
    let mut o: Vec<Object> = Vec::new();
    o.extend(s.namespaces.values().cloned().map(Object::Namespace));
    o.extend(s.nodes.values().cloned().map(Object::Node));
    o.extend(s.pods.values().map(Object::Pod));
    for w in [
        &s.deployments,
        &s.replica_sets,
        &s.stateful_sets,
        &s.daemon_sets,
    ] {
        o.extend(w.values().cloned().map(Object::Workload));
    }
    o.extend(s.services.values().cloned().map(Object::Service));
    o.extend(s.hpas.values().cloned().map(Object::Hpa));
    o.extend(s.pdbs.values().cloned().map(Object::Pdb));
    o.extend(s.webhooks.values().cloned().map(Object::WebhookConfig));
    o.extend(s.config_maps.values().cloned().map(Object::ConfigMap));
    o.extend(s.iops.values().cloned().map(Object::IstioOperator));
    o.extend(s.istio_gateways.values().cloned().map(Object::IstioGateway));
    o.extend(s.kube_gateways.values().cloned().map(Object::KubeGateway));
    o
}

/// A model holding `seed_objects()`, every source ready.
pub fn seed() -> Model {
    let mut m = Model::new();
    for kind in Kind::ALL {
        m.apply(stamped(ClusterEvent::Source(
            kind,
            super::SourceState::Ready,
        )));
    }
    m.apply(stamped(ClusterEvent::Server {
        git_version: "v1.15.6".into(),
    }));
    for o in seed_objects() {
        m.apply(applied(o));
    }
    m
}

/// The documents of a scenario file (a path from the crate root).
pub fn scenario_docs(path: &str) -> Vec<serde_json::Value> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(full).expect("scenario");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml document"))
        .filter(|v: &serde_json::Value| v.is_object())
        .collect()
}

/// A model holding a scenario file's objects as the watches project them, every source
/// ready (the sandbox's controllers do not run: objects are as written).
pub fn scenario(path: &str) -> Model {
    let mut interner = super::intern::Interner::default();
    let mut m = Model::new();
    for kind in Kind::ALL {
        m.apply(stamped(ClusterEvent::Source(
            kind,
            super::SourceState::Ready,
        )));
    }
    for doc in scenario_docs(path) {
        let Some(kind) = Kind::of_type(
            doc["apiVersion"].as_str().unwrap_or_default(),
            doc["kind"].as_str().unwrap_or_default(),
        ) else {
            continue;
        };
        let object: kube::api::DynamicObject =
            serde_json::from_value(doc).expect("a Kubernetes object");
        if let Some(o) = super::project::object_from_dynamic(kind, &object, &mut interner) {
            m.apply(applied(o));
        }
    }
    m
}
