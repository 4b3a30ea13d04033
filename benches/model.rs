//! Benchmarks of the model and the frame at 1,000, 20,000 and 100,000 pods: the event apply
//! rate (the initial relist of every kind, a stream of pod updates, one istiod replica's
//! sync answer), the facts a frame reads and the full lists, `Ui::render` of each view at
//! 200x50 on `TestBackend` (the Proxies and Nodes views also filtered, sorted, scrolled to
//! the end), and the bytes the model retains after loading.
//!
//! Plain std timing (warm-up, then several runs, median and min) so that `cargo bench`
//! compiles nothing more than meshtop itself. `cargo bench -- 1000` runs one scale only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use meshtop::model::intern::{Interner, Name};
use meshtop::model::labels::{Labels, Selector};
use meshtop::model::summary::{
    ConfigMapSummary, GatewayKind, HpaSummary, IntOrPercent, IopGateway, IstioGatewaySummary,
    IstioOperatorSummary, MeshRole, NamespaceSummary, NodeSummary, Object, ObjectKey, Owner,
    PdbSummary, PodPhase, PodSummary, ServicePort, ServiceSummary, WebhookConfigSummary,
    WorkloadKind, WorkloadSummary,
};
use meshtop::model::sync::{ProxyStatus, ReplicaState, ReplicaSync, SyncState, XdsStatus, XdsType};
use meshtop::model::syncz::http_state;
use meshtop::model::{ClusterEvent, Kind, Model, SourceState, Stamped};
use meshtop::ui::{Header, Keymap, Theme, Ui};

// --- counting allocator ------------------------------------------------------------------

/// Live heap bytes: allocated minus freed, across the whole process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// The package denies unsafe code; a global allocator cannot be written without it, and this
// one only forwards to `System` and counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

// --- timing ------------------------------------------------------------------------------

/// Median, min and 99th percentile of several runs.
#[derive(Debug, Clone, Copy)]
struct Timing {
    median: Duration,
    min: Duration,
    p99: Duration,
}

impl Timing {
    fn of(mut runs: Vec<Duration>) -> Timing {
        runs.sort();
        // The smallest run that at least 99 % of the runs do not exceed.
        let p99 = (runs.len() * 99).div_ceil(100).clamp(1, runs.len()) - 1;
        Timing {
            median: runs[runs.len() / 2],
            min: runs[0],
            p99: runs[p99],
        }
    }

    /// Median and 99th percentile, in ms.
    fn ms_p99(self) -> String {
        format!(
            "{:.3} / {:.3}",
            self.median.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }

    fn ms(self) -> String {
        format!(
            "{:.3} ({:.3})",
            self.median.as_secs_f64() * 1e3,
            self.min.as_secs_f64() * 1e3
        )
    }

    /// Items per second at the median (and at the min).
    fn rate(self, items: usize) -> String {
        let per_s = |d: Duration| items as f64 / d.as_secs_f64().max(1e-9);
        format!("{} ({})", si(per_s(self.median)), si(per_s(self.min)))
    }
}

fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Runs `f` once to warm up, then until `budget` is spent (at least `min_runs`, at most
/// `max_runs` times).
fn time(min_runs: usize, max_runs: usize, budget: Duration, mut f: impl FnMut()) -> Timing {
    f();
    let start = Instant::now();
    let mut runs = Vec::new();
    while runs.len() < min_runs || (runs.len() < max_runs && start.elapsed() < budget) {
        let t = Instant::now();
        f();
        runs.push(t.elapsed());
    }
    Timing::of(runs)
}

// --- the synthetic cluster ---------------------------------------------------------------

const APP_NAMESPACES: usize = 48;
const PODS_PER_DEPLOYMENT: usize = 20;
/// The stable revision, the canary, and the revision tag `default` pointing at the stable.
const STABLE: &str = "1-21-2";
const CANARY: &str = "1-22-1";
const KUBELET_NEW: &str = "v1.29.4";
const KUBELET_OLD: &str = "v1.28.9";

fn now() -> Timestamp {
    "2026-11-25T04:00:00Z"
        .parse()
        .expect("a valid RFC 3339 timestamp")
}

fn stamped(event: ClusterEvent) -> Stamped {
    Stamped { at: now(), event }
}

/// Builds summaries with shared strings, as the watchers do (one interner for every kind).
struct Builder {
    names: Interner,
    created: Timestamp,
}

impl Builder {
    fn n(&mut self, s: &str) -> Name {
        self.names.intern(s)
    }

    fn labels(&mut self, pairs: &[(&str, &str)]) -> Labels {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (self.names.intern(k), self.names.intern(v)))
            .collect();
        self.names.label_set(Labels::new(pairs))
    }

    #[allow(clippy::too_many_arguments)]
    fn workload(
        &mut self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        pod_labels: &[(&str, &str)],
        replicas: u32,
        ready: u32,
        owner: Option<(&str, &str)>,
        image: &str,
    ) -> Object {
        let template_labels = self.labels(pod_labels);
        Object::Workload(WorkloadSummary {
            kind,
            namespace: self.n(namespace),
            name: self.n(name),
            labels: template_labels.clone(),
            selector: Selector::from_labels(&template_labels),
            template_labels,
            desired: replicas,
            ready,
            available: ready,
            owner: owner.map(|(k, n)| Owner {
                kind: self.n(k),
                name: self.n(n),
            }),
            images: vec![self.n(image)],
            node_selector: Labels::default(),
            operator: None,
            installer: None,
            created: Some(self.created),
        })
    }

    fn service(
        &mut self,
        namespace: &str,
        name: &str,
        type_: &str,
        selector: &[(&str, &str)],
        ports: &[(u16, Option<u16>)],
    ) -> Object {
        let ports = ports
            .iter()
            .map(|(port, node_port)| ServicePort {
                name: self.n(&format!("p{port}")),
                port: *port,
                target_port: self.n(&port.to_string()),
                node_port: *node_port,
                protocol: self.n("TCP"),
            })
            .collect();
        Object::Service(ServiceSummary {
            namespace: self.n(namespace),
            name: self.n(name),
            type_: self.n(type_),
            selector: self.labels(selector),
            ports,
            labels: Labels::default(),
        })
    }

    fn pdb(
        &mut self,
        namespace: &str,
        name: &str,
        select: &[(&str, &str)],
        allowed: i32,
        healthy: i32,
    ) -> Object {
        let selector = Selector::from_labels(&self.labels(select));
        Object::Pdb(PdbSummary {
            namespace: self.n(namespace),
            name: self.n(name),
            min_available: Some(IntOrPercent::Int(healthy - allowed)),
            max_unavailable: None,
            selector,
            disruptions_allowed: allowed,
            current_healthy: healthy,
            desired_healthy: healthy - allowed,
            expected_pods: healthy,
            relaxed_from: None,
            relaxed_to: None,
            created: Some(self.created),
        })
    }
}

/// A pod of a workload, before it becomes a summary.
struct PodSpec<'a> {
    namespace: &'a str,
    name: String,
    node: &'a str,
    labels: Labels,
    owner: (&'a str, String),
    /// Injected by (or a gateway of) this revision, running this proxy version.
    proxy: Option<(&'a str, &'a str)>,
    istiod_version: Option<&'a str>,
    ready: bool,
}

impl Builder {
    fn pod(&mut self, spec: PodSpec<'_>) -> PodSummary {
        let sidecar = spec.proxy.is_some();
        PodSummary {
            namespace: self.n(spec.namespace),
            name: self.n(&spec.name),
            node: Some(self.n(spec.node)),
            phase: PodPhase::Running,
            status: self.n(if spec.ready {
                "Running"
            } else {
                "CrashLoopBackOff"
            }),
            ready: spec.ready,
            containers_ready: if spec.ready {
                1 + u16::from(sidecar)
            } else {
                0
            },
            containers: 1 + u16::from(sidecar),
            restarts: u32::from(!spec.ready) * 7,
            owner: Some(Owner {
                kind: self.n(spec.owner.0),
                name: self.n(&spec.owner.1),
            }),
            labels: spec.labels,
            has_proxy: sidecar,
            mesh_role: if sidecar {
                MeshRole::Sidecar
            } else {
                MeshRole::None
            },
            injected_revision: spec.proxy.map(|(rev, _)| self.n(rev)),
            proxy_version: spec.proxy.map(|(_, v)| self.n(v)),
            istiod_version: spec.istiod_version.map(|v| self.n(v)),
            has_empty_dir: sidecar,
            mirror: false,
            deleting: false,
            created: Some(self.created),
        }
    }
}

/// The cluster at one scale: every object by kind, the sync answers, and the pods again for
/// the update stream.
struct Cluster {
    relists: Vec<(Kind, Vec<Object>)>,
    sync: Vec<ReplicaSync>,
    pods: Vec<PodSummary>,
    nodes: usize,
    pdbs: usize,
    gateways: usize,
    istiod_replicas: usize,
}

impl Cluster {
    fn objects(&self) -> usize {
        self.relists.iter().map(|(_, o)| o.len()).sum()
    }

    /// Every source ready, the server version, the relist of every kind (pods last, as the
    /// largest list arrives last), then each istiod replica's answer.
    fn events(&self) -> Vec<Stamped> {
        let mut events: Vec<Stamped> = Kind::ALL
            .into_iter()
            .map(|k| stamped(ClusterEvent::Source(k, SourceState::Ready)))
            .collect();
        events.push(stamped(ClusterEvent::Server {
            git_version: KUBELET_NEW.into(),
        }));
        for (kind, objects) in &self.relists {
            events.push(stamped(ClusterEvent::Relisted(*kind, objects.clone())));
        }
        for replica in &self.sync {
            events.push(stamped(ClusterEvent::ProxySync(replica.clone())));
        }
        events
    }
}

/// A pseudo-random but fixed choice, so every run builds the same cluster.
fn pick(i: usize, salt: usize) -> usize {
    let mut x = (i as u64 ^ (salt as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x as usize
}

fn xds(names: &mut Interner, nonce: &str, stale: bool, t: XdsType) -> XdsStatus {
    // Egress gateways and most sidecars have no ECDS: NOT SENT, as istiod reports it.
    let (sent, acked) = match t {
        XdsType::Ecds => (String::new(), String::new()),
        _ if stale && t == XdsType::Eds => (format!("{nonce}-2"), nonce.to_string()),
        _ => (nonce.to_string(), nonce.to_string()),
    };
    let state: SyncState = http_state(&sent, &acked, false);
    XdsStatus::new(state, names.text(&sent), names.text(&acked))
}

fn build(target_pods: usize) -> Cluster {
    let mut b = Builder {
        names: Interner::default(),
        created: now() - SignedDuration::from_hours(24 * 30),
    };
    let workers = (target_pods / 100).max(20);
    let nodes: Vec<String> = (1..=3)
        .map(|i| format!("master-{i}"))
        .chain((1..=workers).map(|i| format!("worker-{i:04}")))
        .collect();
    let worker = |i: usize| nodes[3 + i % workers].as_str();
    // 2, 4 or 6 istiod replicas: one, two or three per revision.
    let per_revision = match target_pods {
        0..=5_000 => 1,
        5_001..=50_000 => 2,
        _ => 3,
    };
    let revisions = [(STABLE, "1.21.2"), (CANARY, "1.22.1")];

    let mut namespaces = Vec::new();
    let mut node_objects = Vec::new();
    let mut deployments = Vec::new();
    let mut replica_sets = Vec::new();
    let mut daemon_sets = Vec::new();
    let mut services = Vec::new();
    let mut hpas = Vec::new();
    let mut pdbs = Vec::new();
    let mut webhooks = Vec::new();
    let mut config_maps = Vec::new();
    let mut iops = Vec::new();
    let mut istio_gateways = Vec::new();
    let mut pods: Vec<PodSummary> = Vec::new();

    for (i, name) in nodes.iter().enumerate() {
        let master = i < 3;
        // The masters and the first half of the workers are upgraded; a few are cordoned.
        let upgraded = master || i - 3 < workers / 2;
        let labels = b.labels(&[
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("topology.kubernetes.io/zone", ["a", "b", "c"][i % 3]),
        ]);
        let summary = NodeSummary {
            name: b.n(name),
            labels,
            roles: if master {
                vec![b.n("control-plane")]
            } else {
                Vec::new()
            },
            kubelet_version: b.n(if upgraded { KUBELET_NEW } else { KUBELET_OLD }),
            ready: true,
            unschedulable: !master && i % 50 == 7,
            internal_ip: Some(b.n(&format!("10.0.{}.{}", i / 250, i % 250))),
            taints: if master {
                vec![b.n("node-role.kubernetes.io/control-plane:NoSchedule")]
            } else {
                Vec::new()
            },
            created: Some(b.created),
        };
        node_objects.push(Object::Node(summary));
    }

    // kube-system: two DaemonSets, a pod of each on every node.
    let mut ns_objects = vec![("kube-system", Vec::new()), ("istio-system", Vec::new())];
    for ds in ["kube-proxy", "node-exporter"] {
        let l = [("k8s-app", ds)];
        daemon_sets.push(b.workload(
            WorkloadKind::DaemonSet,
            "kube-system",
            ds,
            &l,
            nodes.len() as u32,
            nodes.len() as u32,
            None,
            "registry.k8s.io/kube-proxy:v1.29.4",
        ));
        let labels = b.labels(&l);
        for (i, node) in nodes.iter().enumerate() {
            pods.push(b.pod(PodSpec {
                namespace: "kube-system",
                name: format!("{ds}-{i:05x}"),
                node,
                labels: labels.clone(),
                owner: ("DaemonSet", ds.to_string()),
                proxy: None,
                istiod_version: None,
                ready: true,
            }));
        }
    }

    // The control plane: per revision an IstioOperator, istiod (Deployment, HPA, Service,
    // pods), its injector webhook and ConfigMap, and an ingress and egress gateway.
    let mut istiod_pods: Vec<(String, &str)> = Vec::new();
    for (r, (rev, version)) in revisions.iter().enumerate() {
        let gateway_names = [
            (GatewayKind::Ingress, format!("istio-ingressgateway-{rev}")),
            (GatewayKind::Egress, format!("istio-egressgateway-{rev}")),
        ];
        let iop_gateways = gateway_names
            .iter()
            .map(|(kind, name)| IopGateway {
                kind: *kind,
                name: b.n(name),
                namespace: b.n("istio-system"),
                enabled: true,
                labels: Labels::default(),
                node_ports: Vec::new(),
                min_replicas: 1,
                from_profile: false,
            })
            .collect();
        iops.push(Object::IstioOperator(IstioOperatorSummary {
            namespace: b.n("istio-system"),
            name: b.n(&format!("control-plane-{rev}")),
            revision: b.n(rev),
            profile: b.n("default"),
            status: b.n("HEALTHY"),
            pilot_enabled: true,
            pilot_min_replicas: 1,
            install_namespace: b.n("istio-system"),
            gateways: iop_gateways,
            deleting: false,
            created: Some(b.created),
        }));
        let istiod = format!("istiod-{rev}");
        let l = [("app", "istiod"), ("istio", "pilot"), ("istio.io/rev", rev)];
        let image = format!("docker.io/istio/pilot:{version}");
        deployments.push(b.workload(
            WorkloadKind::Deployment,
            "istio-system",
            &istiod,
            &l,
            per_revision as u32,
            per_revision as u32,
            None,
            &image,
        ));
        let rs = format!("{istiod}-5d9c8f7b6");
        replica_sets.push(b.workload(
            WorkloadKind::ReplicaSet,
            "istio-system",
            &rs,
            &l,
            per_revision as u32,
            per_revision as u32,
            Some(("Deployment", &istiod)),
            &image,
        ));
        hpas.push(Object::Hpa(HpaSummary {
            namespace: b.n("istio-system"),
            name: b.n(&istiod),
            target_kind: b.n("Deployment"),
            target_name: b.n(&istiod),
            min_replicas: per_revision as u32,
            max_replicas: 10,
            current_replicas: per_revision as u32,
        }));
        services.push(b.service(
            "istio-system",
            &istiod,
            "ClusterIP",
            &l,
            &[(15010, None), (15012, None), (443, None), (15014, None)],
        ));
        let labels = b.labels(&l);
        for k in 0..per_revision {
            let name = format!("{rs}-{k:05x}");
            pods.push(b.pod(PodSpec {
                namespace: "istio-system",
                name: name.clone(),
                node: worker(r * 7 + k),
                labels: labels.clone(),
                owner: ("ReplicaSet", rs.clone()),
                proxy: None,
                istiod_version: Some(version),
                ready: true,
            }));
            istiod_pods.push((name, rev));
        }
        webhooks.push(Object::WebhookConfig(WebhookConfigSummary {
            name: b.n(&format!("istio-sidecar-injector-{rev}")),
            labels: b.labels(&[("app", "sidecar-injector"), ("istio.io/rev", rev)]),
            webhooks: Vec::new(),
        }));
        config_maps.push(Object::ConfigMap(ConfigMapSummary {
            namespace: b.n("istio-system"),
            name: b.n(&format!("istio-{rev}")),
        }));
        for (g, (kind, name)) in gateway_names.iter().enumerate() {
            let istio = match kind {
                GatewayKind::Ingress => "ingressgateway",
                GatewayKind::Egress => "egressgateway",
            };
            let l = [
                ("app", name.as_str()),
                ("istio", istio),
                ("istio.io/rev", rev),
                (
                    "operator.istio.io/component",
                    match kind {
                        GatewayKind::Ingress => "IngressGateways",
                        GatewayKind::Egress => "EgressGateways",
                    },
                ),
                ("sidecar.istio.io/inject", "false"),
            ];
            let image = format!("docker.io/istio/proxyv2:{version}");
            deployments.push(b.workload(
                WorkloadKind::Deployment,
                "istio-system",
                name,
                &l,
                2,
                2,
                None,
                &image,
            ));
            let rs = format!("{name}-7c9f5d8b4");
            replica_sets.push(b.workload(
                WorkloadKind::ReplicaSet,
                "istio-system",
                &rs,
                &l,
                2,
                2,
                Some(("Deployment", name)),
                &image,
            ));
            hpas.push(Object::Hpa(HpaSummary {
                namespace: b.n("istio-system"),
                name: b.n(name),
                target_kind: b.n("Deployment"),
                target_name: b.n(name),
                min_replicas: 2,
                max_replicas: 5,
                current_replicas: 2,
            }));
            let ports: &[(u16, Option<u16>)] = match kind {
                // Both revisions' ingress gateways on the same node ports: a collision.
                GatewayKind::Ingress => &[(15021, Some(32021)), (80, Some(31080)), (443, None)],
                GatewayKind::Egress => &[(80, None), (443, None)],
            };
            let type_ = match kind {
                GatewayKind::Ingress => "NodePort",
                GatewayKind::Egress => "ClusterIP",
            };
            services.push(b.service("istio-system", name, type_, &l[..3], ports));
            pdbs.push(b.pdb("istio-system", name, &l[..3], 1, 2));
            let labels = b.labels(&l);
            for k in 0..2 {
                pods.push(b.pod(PodSpec {
                    namespace: "istio-system",
                    name: format!("{rs}-{k:05x}"),
                    node: worker(r * 11 + g * 3 + k),
                    labels: labels.clone(),
                    owner: ("ReplicaSet", rs.clone()),
                    proxy: Some((rev, version)),
                    istiod_version: None,
                    ready: true,
                }));
            }
        }
    }
    webhooks.push(Object::WebhookConfig(WebhookConfigSummary {
        name: b.n("istio-revision-tag-default"),
        labels: b.labels(&[("istio.io/rev", STABLE), ("istio.io/tag", "default")]),
        webhooks: Vec::new(),
    }));
    istio_gateways.push(Object::IstioGateway(IstioGatewaySummary {
        namespace: b.n("istio-system"),
        name: b.n("public"),
        selector: b.labels(&[("istio", "ingressgateway")]),
        hosts: vec![b.n("*.example.com")],
    }));

    // The applications: 48 namespaces, Deployments of 20 pods. Namespaces 0..16 moved to the
    // canary label but most of their pods still run the stable proxy (mid-migration); 16..40
    // on the stable revision; 40..44 on `istio-injection=enabled`; the rest not in the mesh.
    let app_pods = target_pods.saturating_sub(pods.len());
    let deployment_count = app_pods.div_ceil(PODS_PER_DEPLOYMENT).max(APP_NAMESPACES);
    let mut remaining = app_pods;
    let app_ns: Vec<String> = (0..APP_NAMESPACES)
        .map(|i| format!("team-{i:02}"))
        .collect();
    for (i, ns) in app_ns.iter().enumerate() {
        let labels: &[(&str, &str)] = match i {
            0..16 => &[("istio.io/rev", CANARY)],
            16..40 => &[("istio.io/rev", STABLE)],
            40..44 => &[("istio-injection", "enabled")],
            _ => &[],
        };
        ns_objects.push((ns.as_str(), labels.to_vec()));
    }
    for d in 0..deployment_count {
        let ns_index = d % APP_NAMESPACES;
        let ns = app_ns[ns_index].as_str();
        let replicas = remaining
            .min(PODS_PER_DEPLOYMENT)
            .min(app_pods / deployment_count + 1);
        remaining -= replicas;
        let app = format!("app-{d:05}");
        let rs = format!("{app}-6b8f9c7d5");
        let l = [("app", app.as_str()), ("pod-template-hash", "6b8f9c7d5")];
        let image = format!("registry.example.com/{app}:1.4.2");
        // 1 in 40 Deployments has a crash-looping pod.
        let unready = usize::from(pick(d, 1).is_multiple_of(40));
        deployments.push(b.workload(
            WorkloadKind::Deployment,
            ns,
            &app,
            &l[..1],
            replicas as u32,
            (replicas - unready.min(replicas)) as u32,
            None,
            &image,
        ));
        replica_sets.push(b.workload(
            WorkloadKind::ReplicaSet,
            ns,
            &rs,
            &l,
            replicas as u32,
            (replicas - unready.min(replicas)) as u32,
            Some(("Deployment", &app)),
            &image,
        ));
        services.push(b.service(ns, &app, "ClusterIP", &l[..1], &[(8080, None)]));
        // About 100 PDBs: the first two Deployments of each of the first 48 namespaces... and
        // a few allow no disruption, blocking the drain of their nodes.
        if d < 2 * APP_NAMESPACES + 4 {
            let allowed = i32::from(!pick(d, 2).is_multiple_of(8));
            pdbs.push(b.pdb(ns, &format!("{app}-pdb"), &l[..1], allowed, replicas as i32));
        }
        let labels = b.labels(&l);
        let proxy = match ns_index {
            // Mid-migration: the canary namespaces' pods were restarted for 1 in 4 Deployments.
            0..16 if d % 4 == 0 => Some((CANARY, "1.22.1")),
            0..16 => Some((STABLE, "1.21.2")),
            // A few Deployments still run the previous minor's proxy: version skew.
            16..40 if pick(d, 3).is_multiple_of(10) => Some((STABLE, "1.20.6")),
            16..44 => Some((STABLE, "1.21.2")),
            _ => None,
        };
        for k in 0..replicas {
            let n = pods.len();
            pods.push(b.pod(PodSpec {
                namespace: ns,
                name: format!("{rs}-{k:05x}"),
                node: worker(pick(n, 4)),
                labels: labels.clone(),
                owner: ("ReplicaSet", rs.clone()),
                proxy,
                istiod_version: None,
                ready: !(unready == 1 && k == 0),
            }));
        }
    }
    for (name, labels) in ns_objects {
        let labels = b.labels(&labels);
        namespaces.push(Object::Namespace(NamespaceSummary {
            name: b.n(name),
            labels,
            phase: b.n("Active"),
            created: Some(b.created),
        }));
    }
    for ns in ["istio-system", "team-00", "team-16"] {
        config_maps.push(Object::ConfigMap(ConfigMapSummary {
            namespace: b.n(ns),
            name: b.n(&format!("istio-{STABLE}")),
        }));
    }

    // Sync answers: each proxy is connected to one replica of its revision; 1 in 200 has a
    // stale EDS push.
    let mut per_replica: Vec<Vec<ProxyStatus>> = vec![Vec::new(); istiod_pods.len()];
    for (i, p) in pods.iter().enumerate() {
        let (Some(rev), Some(version)) = (&p.injected_revision, &p.proxy_version) else {
            continue;
        };
        let r = revisions
            .iter()
            .position(|(name, _)| **name == **rev)
            .expect("every proxy runs one of the two revisions");
        let replica = r * per_revision + pick(i, 5) % per_revision;
        let nonce = format!("{:016x}", pick(i, 6));
        let stale = pick(i, 7).is_multiple_of(200);
        let status = ProxyStatus {
            proxy: b.n(&format!("{}.{}", p.name, p.namespace)),
            pod: p.name.clone(),
            namespace: p.namespace.clone(),
            cluster: b.n("Kubernetes"),
            proxy_type: b.n("sidecar"),
            version: version.clone(),
            xds: XdsType::EVERY.map(|t| xds(&mut b.names, &nonce, stale, t)),
        };
        per_replica[replica].push(status);
    }
    let sync = istiod_pods
        .iter()
        .zip(per_replica)
        .map(|((istiod, rev), proxies)| ReplicaSync {
            namespace: b.n("istio-system"),
            istiod: b.n(istiod),
            revision: b.n(rev),
            state: ReplicaState::Ok {
                via: "port-forward",
                proxies,
            },
        })
        .collect();

    let counts = (node_objects.len(), pdbs.len());
    let gateways = 2 * revisions.len();
    let relists = vec![
        (Kind::Namespace, namespaces),
        (Kind::Node, node_objects),
        (Kind::Deployment, deployments),
        (Kind::ReplicaSet, replica_sets),
        (Kind::StatefulSet, Vec::new()),
        (Kind::DaemonSet, daemon_sets),
        (Kind::Service, services),
        (Kind::Hpa, hpas),
        (Kind::Pdb, pdbs),
        (Kind::WebhookConfig, webhooks),
        (Kind::ConfigMap, config_maps),
        (Kind::IstioOperator, iops),
        (Kind::IstioGateway, istio_gateways),
        (Kind::Pod, pods.iter().cloned().map(Object::Pod).collect()),
    ];
    Cluster {
        relists,
        sync,
        pods,
        nodes: counts.0,
        pdbs: counts.1,
        gateways,
        istiod_replicas: istiod_pods.len(),
    }
}

/// `count` pod updates as a watch sends them: restarts move, 1 in 10 flips readiness.
/// `round` makes each batch a change against the previous one.
fn pod_updates(cluster: &Cluster, count: usize, round: u32) -> Vec<Stamped> {
    (0..count)
        .map(|i| {
            let mut p = cluster.pods[pick(i, 8) % cluster.pods.len()].clone();
            p.restarts += round + 1;
            if i % 10 == 0 {
                p.ready = !p.ready;
                p.containers_ready = if p.ready { p.containers } else { 0 };
            }
            stamped(ClusterEvent::Applied(Object::Pod(p)))
        })
        .collect()
}

/// Pods deleted and created again, in turn (`count` events): each moves its proxy's line
/// (its pod gone, then back), as churn does.
fn pod_churn(cluster: &Cluster, count: usize) -> Vec<Stamped> {
    (0..count)
        .map(|i| {
            let p = &cluster.pods[pick(i / 2, 9) % cluster.pods.len()];
            stamped(if i % 2 == 0 {
                ClusterEvent::Deleted(
                    Kind::Pod,
                    ObjectKey {
                        namespace: p.namespace.clone(),
                        name: p.name.clone(),
                    },
                )
            } else {
                ClusterEvent::Applied(Object::Pod(p.clone()))
            })
        })
        .collect()
}

// --- the measurements --------------------------------------------------------------------

/// Each frame measured: its label, the keys pressed first (`\n` is Enter), and a text the
/// frame must show (so that the keys did what the label says).
const VIEWS: [(&str, &str, &str); 15] = [
    ("Overview", "1", "DRAINS"),
    ("Revisions", "2", " Revisions "),
    ("Gateways", "3", " Gateways "),
    ("Proxies", "4", " Proxies "),
    ("Proxies at the last line (`G`)", "4G", " Proxies "),
    ("Proxies out of sync only (`x`)", "4x", "out of sync only"),
    ("Proxies filtered (`/stale`)", "4/stale\n", "/stale"),
    ("Proxies sorted by NAME (`s`)", "4s", "sorted by NAME"),
    ("Disruption", "5", " Disruption "),
    ("Nodes", "6", " Nodes "),
    ("Nodes sorted by NAME (`s`)", "6s", "sorted by NAME"),
    ("Nodes filtered (`/node1`)", "6/node1\n", "/node1"),
    ("Namespaces", "7", " Namespaces "),
    ("a proxy's details (`4`, Enter)", "4\n", "CDS"),
    ("a node's details (`6`, Enter)", "6\n", "drain"),
];

/// The first eight are what frames read (the Proxies view, the Nodes view and the
/// Overview read lines and counts, a page at a time); the full lists come after.
const FACTS: [&str; 11] = [
    "revisions()",
    "gateways()",
    "disruption()",
    "namespaces()",
    "findings()",
    "proxy_lines(), 50 lines from the middle",
    "node_lines(), 50 lines",
    "blocked_drains(), count and 50 nodes",
    "all eight",
    "nodes(), every row, pods named",
    "proxies(), every row, sorted",
];

/// How many lines a frame shows at most: 200x50 less its borders and headers.
const PAGE: usize = 50;

fn fact(model: &Model, which: usize) {
    match which {
        0 => drop(black_box(model.revisions())),
        1 => drop(black_box(model.gateways())),
        2 => drop(black_box(model.disruption())),
        3 => drop(black_box(model.namespaces())),
        4 => drop(black_box(model.findings())),
        5 => {
            let lines = model.proxy_lines();
            let from = lines.len() / 2;
            for i in from..from + PAGE {
                black_box(lines.get(i));
            }
        }
        6 => {
            let lines = model.node_lines();
            for i in 0..PAGE {
                black_box(lines.get(i));
            }
        }
        7 => {
            let blocked = model.blocked_drains();
            black_box(blocked.len());
            for line in blocked.iter().take(PAGE) {
                black_box(line);
            }
        }
        8 => {
            for f in 0..8 {
                fact(model, f);
            }
        }
        9 => drop(black_box(model.nodes())),
        _ => drop(black_box(model.proxies())),
    }
}

/// What one scale measured.
struct Results {
    pods: usize,
    nodes: usize,
    objects: usize,
    pdbs: usize,
    gateways: usize,
    replicas: usize,
    proxies: usize,
    retained: usize,
    /// Of `retained`, what the objects take without the sync answers (and so without the
    /// Proxies view's lines).
    retained_objects: usize,
    /// Of `retained_objects`, what every object but the pods takes.
    retained_others: usize,
    load: Timing,
    updates: usize,
    update: Timing,
    answer_proxies: usize,
    answer: Timing,
    facts: Vec<Timing>,
    frames: Vec<Timing>,
    /// Each view's frame right after one pod changed (what was kept for the last frame is
    /// no use then).
    changed_frames: Vec<Timing>,
    /// The same, a pod deleted or created again before each frame: its proxy's line moves.
    churned_frames: Vec<Timing>,
    /// Each view's keys pressed on a fresh UI, then its first frame drawn.
    key_to_screen: Vec<Timing>,
}

fn measure(target_pods: usize) -> Results {
    let budget = Duration::from_millis(600);
    let load_runs = match target_pods {
        0..=5_000 => 10,
        5_001..=50_000 => 5,
        _ => 3,
    };

    // Memory first, while nothing else is held: the cluster's summaries are made (as the
    // watchers make them), their interner is dropped, and the model takes them in.
    // The objects alone first (every event but the sync answers), then everything.
    // And the objects but the pods, so that what the pods take shows apart.
    let load = |sync: bool, pods: bool| {
        let cluster = build(target_pods);
        let events = cluster.events();
        drop(cluster);
        let mut model = Model::new();
        for e in events {
            let wanted = match &e.event {
                ClusterEvent::ProxySync(_) => sync,
                ClusterEvent::Relisted(Kind::Pod, _) => pods,
                _ => true,
            };
            if wanted {
                model.apply(e);
            }
        }
        model
    };
    let before = live_bytes();
    let others = load(false, false);
    let retained_others = live_bytes().saturating_sub(before);
    drop(others);
    let before = live_bytes();
    let objects = load(false, true);
    let retained_objects = live_bytes().saturating_sub(before);
    drop(objects);
    let before = live_bytes();
    let mut model = load(true, true);
    let retained = live_bytes().saturating_sub(before);

    let cluster = build(target_pods);
    let pods = model.pod_count();
    let proxies = cluster
        .sync
        .iter()
        .map(|r| match &r.state {
            ReplicaState::Ok { proxies, .. } => proxies.len(),
            _ => 0,
        })
        .sum();

    // (1) Apply: the initial load, from an empty model, events made beforehand.
    let mut runs = Vec::new();
    for _ in 0..=load_runs {
        let events = cluster.events();
        let mut fresh = Model::new();
        let t = Instant::now();
        for e in events {
            fresh.apply(e);
        }
        runs.push(t.elapsed());
        black_box(&fresh);
    }
    runs.remove(0);
    let load = Timing::of(runs);

    // A stream of pod updates on the loaded model.
    let updates = 20_000;
    let mut runs = Vec::new();
    for round in 0..=load_runs.max(5) as u32 {
        let events = pod_updates(&cluster, updates, round);
        let generation = model.generation();
        let t = Instant::now();
        for e in events {
            model.apply(e);
        }
        runs.push(t.elapsed());
        assert!(model.generation() > generation, "the updates changed pods");
    }
    runs.remove(0);
    let update = Timing::of(runs);

    // A new answer of the replica with the most proxies (what the poller sends every 5 s).
    let busiest = cluster
        .sync
        .iter()
        .max_by_key(|r| match &r.state {
            ReplicaState::Ok { proxies, .. } => proxies.len(),
            _ => 0,
        })
        .expect("at least one istiod replica");
    let answer_proxies = match &busiest.state {
        ReplicaState::Ok { proxies, .. } => proxies.len(),
        _ => 0,
    };
    let mut runs = Vec::new();
    for round in 0..=load_runs.max(5) {
        let mut replica = busiest.clone();
        // Alternate between two answers so that each one is a change.
        if let ReplicaState::Ok { proxies, .. } = &mut replica.state
            && round % 2 == 1
            && let Some(p) = proxies.first_mut()
        {
            p.xds[XdsType::Eds as usize].state = SyncState::Stale;
        }
        let t = Instant::now();
        model.apply(stamped(ClusterEvent::ProxySync(replica)));
        runs.push(t.elapsed());
    }
    runs.remove(0);
    let answer = Timing::of(runs);

    // (2) The facts a frame asks for.
    let facts = (0..FACTS.len())
        .map(|f| time(3, 200, budget, || fact(&model, f)))
        .collect();

    // (3) Full frames: every view at 200x50.
    let header = Header {
        context: "bench".into(),
        server: "https://127.0.0.1:6443".into(),
        namespace: None,
        readonly: false,
    };
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("a TestBackend never fails");
    let press = |ui: &mut Ui, keys: &str, model: &Model| {
        for c in keys.chars() {
            let code = if c == '\n' {
                KeyCode::Enter
            } else {
                KeyCode::Char(c)
            };
            ui.on_key(KeyEvent::new(code, KeyModifiers::NONE), model);
        }
    };
    let frame_runs = (30, 300);
    let mut changes = pod_updates(&cluster, 4_000, 100).into_iter().cycle();
    let mut changed_frames = Vec::new();
    let mut churn = pod_churn(&cluster, 4_000).into_iter().cycle();
    let mut churned_frames = Vec::new();
    let mut key_to_screen = Vec::new();
    let mut frames = Vec::new();
    for (label, keys, shows) in VIEWS {
        let mut ui = Ui::new(Keymap::default(), Theme::default());
        press(&mut ui, keys, &model);
        frames.push({
            terminal
                .draw(|frame| ui.render(frame, &model, &header, now()))
                .expect("a TestBackend never fails");
            let screen: String = terminal
                .backend()
                .buffer()
                .content()
                .iter()
                .map(|c| c.symbol())
                .collect();
            assert!(screen.contains(shows), "{label}: no {shows:?} on screen");
            time(frame_runs.0, frame_runs.1, budget, || {
                terminal
                    .draw(|frame| ui.render(frame, &model, &header, now()))
                    .expect("a TestBackend never fails");
            })
        });
        // One pod changes between frames (not timed): the model moved, as under churn.
        let mut frames_after = |next: &mut dyn Iterator<Item = Stamped>| {
            let mut runs = Vec::new();
            let start = Instant::now();
            while runs.len() < frame_runs.0
                || (runs.len() < frame_runs.1 && start.elapsed() < budget)
            {
                if let Some(change) = next.next() {
                    model.apply(change);
                }
                let t = Instant::now();
                terminal
                    .draw(|frame| ui.render(frame, &model, &header, now()))
                    .expect("a TestBackend never fails");
                runs.push(t.elapsed());
            }
            Timing::of(runs)
        };
        changed_frames.push(frames_after(&mut changes));
        churned_frames.push(frames_after(&mut churn));
        // The keys on a fresh UI, and the frame that shows what they did.
        let mut runs = Vec::new();
        let start = Instant::now();
        while runs.len() < frame_runs.0 || (runs.len() < frame_runs.1 && start.elapsed() < budget) {
            let mut ui = Ui::new(Keymap::default(), Theme::default());
            let t = Instant::now();
            press(&mut ui, keys, &model);
            terminal
                .draw(|frame| ui.render(frame, &model, &header, now()))
                .expect("a TestBackend never fails");
            runs.push(t.elapsed());
        }
        key_to_screen.push(Timing::of(runs));
    }

    Results {
        pods,
        nodes: cluster.nodes,
        objects: cluster.objects(),
        pdbs: cluster.pdbs,
        gateways: cluster.gateways,
        replicas: cluster.istiod_replicas,
        proxies,
        retained,
        retained_objects,
        retained_others,
        load,
        updates,
        update,
        answer_proxies,
        answer,
        facts,
        frames,
        changed_frames,
        churned_frames,
        key_to_screen,
    }
}

fn row(label: &str, cells: impl IntoIterator<Item = String>) {
    let cells: Vec<String> = cells.into_iter().collect();
    println!("| {label} | {} |", cells.join(" | "));
}

fn main() {
    // `cargo bench` passes `--bench`; any number on the command line picks the scales.
    let chosen: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace(['_', ','], "").parse().ok())
        .collect();
    let scales = if chosen.is_empty() {
        vec![1_000, 20_000, 100_000]
    } else {
        chosen
    };
    let results: Vec<Results> = scales
        .iter()
        .map(|&n| {
            eprintln!("measuring {n} pods…");
            measure(n)
        })
        .collect();

    println!();
    println!("Times in ms, median (min); rates per second, at the median (at the min).");
    println!();
    let header: Vec<String> = results.iter().map(|r| format!("{} pods", r.pods)).collect();
    row("", header);
    println!("|---|{}", "---|".repeat(results.len()));
    let each = |f: &dyn Fn(&Results) -> String| results.iter().map(f).collect::<Vec<_>>();
    row(
        "cluster",
        each(&|r| {
            format!(
                "{} nodes, {} objects, {} PDBs, {} gateways, {} proxies, {} istiod",
                r.nodes, r.objects, r.pdbs, r.gateways, r.proxies, r.replicas
            )
        }),
    );
    row(
        "**memory** retained by the model",
        each(&|r| format!("{:.1} MiB", r.retained as f64 / (1024.0 * 1024.0))),
    );
    row(
        "bytes per pod",
        each(&|r| format!("{}", r.retained / r.pods.max(1))),
    );
    row(
        "of which the objects, bytes per pod",
        each(&|r| format!("{}", r.retained_objects / r.pods.max(1))),
    );
    row(
        "of which the pods themselves, bytes per pod",
        each(&|r| {
            format!(
                "{}",
                r.retained_objects.saturating_sub(r.retained_others) / r.pods.max(1)
            )
        }),
    );
    row(
        "of which the other objects, bytes per pod",
        each(&|r| format!("{}", r.retained_others / r.pods.max(1))),
    );
    row(
        "of which the sync answers and the Proxies view's lines, bytes per proxy",
        each(&|r| {
            format!(
                "{}",
                r.retained.saturating_sub(r.retained_objects) / r.proxies.max(1)
            )
        }),
    );
    row("**apply** initial load, ms", each(&|r| r.load.ms()));
    row(
        "initial load, objects/s",
        each(&|r| r.load.rate(r.objects + r.proxies)),
    );
    row(
        "pod updates (Applied), events/s",
        each(&|r| r.update.rate(r.updates)),
    );
    row(
        "one istiod answer, ms",
        each(&|r| format!("{} for {} proxies", r.answer.ms(), r.answer_proxies)),
    );
    for (i, name) in FACTS.iter().enumerate() {
        let label = if i == 0 {
            format!("**facts** {name}, ms")
        } else {
            format!("{name}, ms")
        };
        row(&label, each(&|r| r.facts[i].ms()));
    }
    type Of = fn(&Results) -> &Vec<Timing>;
    let blocks: [(&str, Of); 4] = [
        ("**frame** 200x50", |r| &r.frames),
        ("**frame after a pod change**", |r| &r.changed_frames),
        ("**frame after a pod deleted or re-created**", |r| {
            &r.churned_frames
        }),
        ("**key to screen** (keys, then the frame)", |r| {
            &r.key_to_screen
        }),
    ];
    for (block, timings) in blocks {
        for (i, (view, _, _)) in VIEWS.iter().enumerate() {
            let label = if i == 0 {
                format!("{block} {view}, ms median / p99")
            } else {
                format!("{view}, ms")
            };
            row(&label, each(&|r| timings(r)[i].ms_p99()));
        }
    }
}
