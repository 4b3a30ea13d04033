//! Events in, facts out: the seed's cluster, then changes to it, each fact checked after
//! incremental updates and deletes and against a model rebuilt from scratch.

use std::collections::{BTreeMap, BTreeSet};

use super::facts::{Dataplane, DrainCounts, DrainPreflight, RevisionSource};
use super::fixture::*;
use super::labels::{Labels, Requirement, Selector};
use super::summary::{GatewayKind, IntOrPercent, PodPhase, WorkloadKind};
use super::*;

fn names<T: AsRef<str>>(v: &[T]) -> Vec<&str> {
    v.iter().map(|s| s.as_ref()).collect()
}

fn codes(m: &Model) -> Vec<&'static str> {
    m.findings().iter().map(|f| f.code).collect()
}

fn findings_of(m: &Model, code: &str) -> Vec<String> {
    m.findings()
        .into_iter()
        .filter(|f| f.code == code)
        .map(|f| f.message)
        .collect()
}

fn pdb_row(m: &Model, ns: &str, name: &str) -> PdbRow {
    m.disruption()
        .into_iter()
        .find(|r| r.namespace.as_ref() == ns && r.name.as_ref() == name)
        .expect("pdb row")
}

fn node_row(m: &Model, name: &str) -> NodeRow {
    m.nodes()
        .into_iter()
        .find(|r| r.name.as_ref() == name)
        .expect("node row")
}

fn ns_row(m: &Model, name: &str) -> NamespaceRow {
    m.namespaces()
        .into_iter()
        .find(|r| r.name.as_ref() == name)
        .expect("namespace row")
}

fn gateway_row(m: &Model, name: &str) -> GatewayRow {
    m.gateways()
        .into_iter()
        .find(|r| r.name.as_ref() == name)
        .expect("gateway row")
}

fn blocking_pdbs(row: &NodeRow) -> Vec<String> {
    match &row.preflight {
        DrainPreflight::Ok { .. } => Vec::new(),
        DrainPreflight::Blocked { pdbs, .. } => pdbs.clone(),
        DrainPreflight::Unknown { why } => panic!("drain answers unknown: {why}"),
    }
}

/// The incremental aggregates must equal those of a model built from the same objects at
/// once, in another order (PDBs before pods).
fn assert_consistent(m: &Model) {
    let mut fresh = Model::new();
    for (kind, state) in m.sources() {
        fresh.apply(stamped(ClusterEvent::Source(*kind, state.clone())));
    }
    let mut objs = objects(m);
    objs.reverse();
    for o in objs {
        fresh.apply(applied(o));
    }
    assert_eq!(m.revisions(), fresh.revisions());
    assert_eq!(m.gateways(), fresh.gateways());
    assert_eq!(m.disruption(), fresh.disruption());
    assert_eq!(m.nodes(), fresh.nodes());
    assert_eq!(m.namespaces(), fresh.namespaces());
    assert_eq!(m.findings(), fresh.findings());
    assert_eq!(m.proxied_pods(), fresh.proxied_pods());
    assert_reads_agree(m);
    assert_reads_agree(&fresh);
    assert_eq!(
        m.store.sync.kept_lines(&m.store.pods),
        fresh.store.sync.kept_lines(&fresh.store.pods),
        "proxy lines"
    );
    let idx = |m: &Model| {
        // Pods are held by id, which differ between the two models: compare their keys.
        let keys = |ids: &BTreeSet<crate::model::store::PodId>| {
            m.store.pods.keys_in_order(ids.iter().copied())
        };
        let mut nodes: Vec<_> = m
            .store
            .index
            .nodes
            .iter()
            .map(|(k, v)| {
                let counts = (
                    v.daemonset,
                    v.mirror,
                    v.evict,
                    format!("{:?}", v.guarded_by),
                );
                let sets = (keys(&v.pods), keys(&v.unmanaged), keys(&v.empty_dir));
                (k.clone(), counts, sets)
            })
            .collect();
        nodes.sort();
        let mut pdbs: Vec<_> = m
            .store
            .index
            .pdb_pods
            .iter()
            .map(|(k, v)| (k.clone(), keys(v)))
            .collect();
        pdbs.sort();
        let mut guards: Vec<_> = m
            .store
            .index
            .pdb_guards
            .iter()
            .map(|(k, v)| (k.clone(), format!("{v:?}")))
            .collect();
        guards.sort();
        let i = &m.store.index;
        (
            (
                guards,
                i.needs_consent.clone(),
                i.kubelets.clone(),
                i.cordoned.clone(),
                i.proxied_not_ready,
                i.proxied_versions.clone(),
            ),
            nodes,
            pdbs,
            m.store.index.revision_pods.clone(),
            m.store.index.revision_proxy_versions.clone(),
            m.store.index.istiod_pods.clone(),
            m.store.index.istiod_deployments.clone(),
            m.store.index.gateway_deployments.clone(),
            m.store.index.node_ports.clone(),
            (
                m.store.index.legacy_components.clone(),
                m.store.index.unselective_pdbs.clone(),
                m.store.index.noted_pdbs.clone(),
                m.store.index.not_ready_nodes.clone(),
            ),
        )
    };
    assert_eq!(idx(m), idx(&fresh));
}

/// What a frame reads (the Nodes view's and the Proxies view's lines, the Overview's counts)
/// equals what the full rows, built from scratch, say; and the proxy lines the model keeps
/// equal lines made afresh from the reports and the pods.
pub(crate) fn assert_reads_agree(m: &Model) {
    let rows = m.nodes();
    let lines = m.node_lines();
    assert_eq!(lines.len(), rows.len(), "node lines");
    for (i, row) in rows.iter().enumerate() {
        let line = lines.get(i).expect("a line per node");
        let drain = match &row.preflight {
            DrainPreflight::Ok {
                evict,
                daemonset_skipped,
            } => DrainCounts {
                pdbs: Vec::new(),
                unmanaged: 0,
                empty_dir: 0,
                evict: *evict,
                daemonset_skipped: *daemonset_skipped,
            },
            DrainPreflight::Blocked {
                pdbs,
                unmanaged_pods,
                empty_dir_pods,
                evict,
                daemonset_skipped,
            } => DrainCounts {
                pdbs: pdbs.clone(),
                unmanaged: unmanaged_pods.len() as u32,
                empty_dir: empty_dir_pods.len() as u32,
                evict: *evict,
                daemonset_skipped: *daemonset_skipped,
            },
            DrainPreflight::Unknown { .. } => {
                assert!(lines.drain_unknown().is_some(), "rows unknown, lines not");
                line.preflight.clone()
            }
        };
        let expected = NodeLine {
            name: row.name.clone(),
            roles: row.roles.clone(),
            kubelet_version: row.kubelet_version.clone(),
            minor_skew: row.minor_skew,
            ready: row.ready,
            cordoned: row.cordoned,
            labels: row.labels.clone(),
            pods: row.pods,
            ztunnels: row.ztunnels.clone(),
            preflight: drain,
        };
        assert_eq!(line, expected);
        assert_eq!(m.node_row(&row.name).as_ref(), Some(row));
        assert_eq!(line.preflight.summary(), row.preflight.summary());
        assert_eq!(line.preflight.blocked(), blocking(row));
    }
    assert_eq!(lines.get(rows.len()), None);
    let blocked: Vec<(Name, Vec<String>)> = rows
        .iter()
        .filter(|r| blocking(r))
        .map(|r| (r.name.clone(), blocking_pdbs(r)))
        .collect();
    let drains = m.blocked_drains();
    assert_eq!(drains.len(), blocked.len(), "blocked drains");
    let read: Vec<(Name, Vec<String>)> = drains.iter().map(|(n, c)| (n.clone(), c.pdbs)).collect();
    assert_eq!(read, blocked);
    let cordoned: Vec<&Name> = rows
        .iter()
        .filter(|r| r.cordoned)
        .map(|r| &r.name)
        .collect();
    assert_eq!(m.cordoned_nodes().collect::<Vec<_>>(), cordoned);
    let skewed = rows.iter().filter(|r| r.minor_skew > 0).count();
    assert_eq!(m.skewed_kubelets() as usize, skewed);
    assert_eq!(m.node_count(), rows.len());

    let pods = m.proxied_pods();
    let mut versions: BTreeMap<Option<Name>, u32> = BTreeMap::new();
    for p in &pods {
        let v = p.proxy_version.clone().or(p.istiod_version.clone());
        *versions.entry(v).or_default() += 1;
    }
    let counts = m.proxied_counts();
    assert_eq!(counts.pods, pods.len());
    assert_eq!(
        counts.not_ready as usize,
        pods.iter().filter(|p| !p.ready).count()
    );
    assert_eq!(counts.versions, versions);

    let rows = m.proxies();
    assert!(
        rows.windows(2)
            .all(|w| (&w[0].name, &w[0].namespace) <= (&w[1].name, &w[1].namespace)),
        "in istioctl's order: by NAME, then namespace"
    );
    let lines = m.proxy_lines();
    assert_eq!(lines.len(), rows.len(), "proxy lines");
    let read: Vec<ProxyRow> = lines.iter().map(|l| as_row(&l)).collect();
    let full: Vec<ProxyRow> = rows.iter().map(as_row_shown).collect();
    assert_eq!(read, full);
    for (i, row) in full.iter().enumerate() {
        assert_eq!(lines.get(i).map(|l| as_row(&l)).as_ref(), Some(row));
    }
    assert_eq!(lines.get(rows.len()), None);
    assert_eq!(lines.clusters(), rows.iter().any(|r| !r.cluster.is_empty()));
    for (line, row) in lines.iter().zip(&rows) {
        assert_eq!(line.in_sync(), row.in_sync());
        assert_eq!(line.version_skew(), row.version_skew);
        for t in sync::XdsType::ALL {
            assert_eq!(line.state_of(t), row.state_of(t));
        }
    }
    let sync = &m.store.sync;
    let kept = sync.kept_lines(&m.store.pods);
    assert_eq!(
        kept,
        sync.rebuilt_lines(&m.store.pods),
        "lines from scratch"
    );
    assert!(sync.unreported_gone() == 0, "no proxy without reports");
    assert_eq!(sync.lines_kept, !sync.replicas.is_empty());
    let with_cluster = kept.iter().filter(|(_, l)| !l.cluster.is_empty()).count();
    assert_eq!(sync.lines_with_cluster as usize, with_cluster);
}

fn blocking(row: &NodeRow) -> bool {
    matches!(row.preflight, DrainPreflight::Blocked { .. })
}

/// A line as a row, with what a line does not carry left empty (its states are compared
/// apart).
fn as_row(l: &ProxyLine<'_>) -> ProxyRow {
    ProxyRow {
        name: Name::from(l.name.to_string()),
        namespace: l.namespace.clone(),
        pod: Name::from(l.pod),
        connection: l.connection,
        cluster: Name::from(l.cluster),
        proxy_type: Name::from(l.proxy_type),
        istiod: l.istiod.cloned(),
        istiod_revision: None,
        istiod_version: l.istiod_version.cloned(),
        also_reported_by: Vec::new(),
        xds: Vec::new(),
        state: None,
        version: l.version.cloned(),
        version_skew: l.version_skew(),
        node: l.node.cloned(),
        owner_kind: None,
        owner_name: None,
        injected_revision: l.injected_revision.cloned(),
        pod_gone: l.pod_gone,
        reported_at: None,
    }
}

/// A full row with only what a line carries (its states are compared apart).
fn as_row_shown(r: &ProxyRow) -> ProxyRow {
    ProxyRow {
        istiod_revision: None,
        also_reported_by: Vec::new(),
        xds: Vec::new(),
        state: None,
        owner_kind: None,
        owner_name: None,
        reported_at: None,
        ..r.clone()
    }
}

// --- the seed's cluster -----------------------------------------------------------------------

#[test]
fn seed_revisions() {
    let m = seed();
    let revs = m.revisions();
    assert_eq!(revs.len(), 1, "{revs:#?}");
    let r = &revs[0];
    assert_eq!(r.revision.as_ref(), "1-9-1");
    assert_eq!(
        r.sources,
        [
            RevisionSource::IstioOperator,
            RevisionSource::Istiod,
            RevisionSource::Webhook
        ]
    );
    assert_eq!(r.iop.as_deref(), Some("istio-system/istio-controlplane"));
    assert_eq!(r.iop_status.as_deref(), Some("HEALTHY"));
    assert_eq!((r.istiod_ready, r.istiod_desired), (2, 2));
    assert_eq!(r.version.as_deref(), Some("1.9.1"));
    assert!(r.tags.is_empty());
    // No `default` tag and no revision-less install: nothing owns istio-injection=enabled.
    assert!(!r.default);
    assert_eq!(m.default_revision(), None);
    assert_eq!(names(&r.namespaces), ["default"]);
    // Five sidecars and six gateway proxies.
    assert_eq!(r.pods, 11);
    assert_eq!(m.pods_of_revision("1-9-1").len(), 11);
    assert_eq!(
        m.proxy_versions("1-9-1"),
        vec![(n("1.10-alpha.f2ba4b8"), 5), (n("1.9.1"), 6)]
    );
}

#[test]
fn seed_gateways() {
    let m = seed();
    let rows = m.gateways();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| format!("{}/{}", r.namespace, r.name))
        .collect();
    assert_eq!(
        ids,
        [
            "istio-gateway-sample/istio-ingressgateway-istio-gateway-sample",
            "istio-system/istio-egressgateway",
            "istio-system/istio-ingressgateway"
        ]
    );
    let ingress = gateway_row(&m, "istio-ingressgateway");
    assert_eq!(ingress.kind.as_ref(), "ingress");
    assert_eq!(ingress.revision.as_deref(), Some("1-9-1"));
    assert_eq!(ingress.app.as_deref(), Some("istio-ingressgateway"));
    assert_eq!(ingress.istio.as_deref(), Some("ingressgateway"));
    assert_eq!((ingress.ready, ingress.desired), (2, 2));
    assert_eq!((ingress.hpa_min, ingress.hpa_max), (Some(2), Some(10)));
    assert_eq!(ingress.service_type.as_deref(), Some("NodePort"));
    assert_eq!(
        ingress.ports,
        [
            "15021:32021/TCP",
            "80:31080/TCP",
            "443:30443/TCP",
            "31400:31400/TCP",
            "15443:32443/TCP"
        ]
    );
    assert!(ingress.has_mesh_config);
    assert!(!ingress.duplicate_labels);
    assert!(ingress.node_port_collisions.is_empty());
    assert!(ingress.gateway_resources.is_empty());

    let egress = gateway_row(&m, "istio-egressgateway");
    assert_eq!(egress.kind.as_ref(), "egress");
    assert_eq!(egress.service_type.as_deref(), Some("ClusterIP"));
    assert_eq!(egress.ports, ["80/TCP", "443/TCP", "15443/TCP"]);

    let sample = gateway_row(&m, "istio-ingressgateway-istio-gateway-sample");
    assert_eq!(sample.namespace.as_ref(), "istio-gateway-sample");
    assert_eq!(
        sample.istio.as_deref(),
        Some("ingressgateway-istio-gateway-sample")
    );
    assert_eq!(
        sample.gateway_resources,
        ["istio-gateway-sample/sample-gateway"]
    );
    assert!(sample.has_mesh_config);
    assert!(sample.ports.contains(&"80:31081/TCP".to_string()));
}

#[test]
fn seed_disruption_is_the_seeds_pdb_table() {
    let m = seed();
    let table: Vec<(String, Option<IntOrPercent>, Option<IntOrPercent>, i32)> = m
        .disruption()
        .into_iter()
        .map(|r| {
            (
                format!("{}/{}", r.namespace, r.name),
                r.min_available,
                r.max_unavailable,
                r.allowed_disruptions,
            )
        })
        .collect();
    let one = Some(IntOrPercent::Int(1));
    let expected = [
        ("istio-system/istio-egressgateway", one.clone(), None, 0),
        ("istio-system/istio-galley", one.clone(), None, 0),
        ("istio-system/istio-ingressgateway", one.clone(), None, 0),
        ("istio-system/istio-pilot", one.clone(), None, 0),
        ("istio-system/istio-policy", one.clone(), None, 0),
        ("istio-system/istio-telemetry", one.clone(), None, 0),
        ("logging/elasticsearch-k1-master-pdb", None, one, 0),
    ]
    .map(|(a, b, c, d)| (a.to_string(), b, c, d));
    assert_eq!(table, expected);

    let blocks = |name: &str| {
        let ns = if name.starts_with("elastic") {
            "logging"
        } else {
            "istio-system"
        };
        pdb_row(&m, ns, name)
            .blocks_nodes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(blocks("istio-pilot"), ["k1-node03"]);
    assert_eq!(blocks("istio-galley"), ["k1-node04"]);
    assert_eq!(blocks("istio-policy"), ["k1-node02"]);
    assert_eq!(blocks("istio-telemetry"), ["k1-node05"]);
    assert_eq!(
        blocks("elasticsearch-k1-master-pdb"),
        ["k1-node01", "k1-node02"]
    );
    // The 1.4 gateway PDBs select nothing since the 1.9.1 gateways replaced those pods.
    let gw = pdb_row(&m, "istio-system", "istio-ingressgateway");
    assert!(gw.pods.is_empty() && gw.blocks_nodes.is_empty());

    let es = pdb_row(&m, "logging", "elasticsearch-k1-master-pdb");
    assert_eq!(es.pods.len(), 3);
    let crashing = es
        .pods
        .iter()
        .find(|p| p.name.as_ref() == "elasticsearch-k1-master-2");
    assert_eq!(
        crashing.map(|p| (p.ready, p.node.as_deref())),
        Some((false, Some("k1-node05")))
    );
    assert_eq!(
        (es.current_healthy, es.desired_healthy, es.expected_pods),
        (2, 2, 3)
    );
    assert!(!es.relaxed);
}

#[test]
fn seed_nodes() {
    let m = seed();
    let rows = m.nodes();
    assert_eq!(rows.len(), 8);
    let master = node_row(&m, "k1-master01");
    assert_eq!(names(&master.roles), ["master"]);
    assert_eq!(
        (master.kubelet_version.as_ref(), master.minor_skew),
        ("v1.15.6", 0)
    );
    assert!(master.ready && !master.cordoned);
    assert!(master.labels.is_empty(), "{:?}", master.labels);
    assert_eq!(master.pods, 2);
    assert_eq!(
        master.preflight,
        DrainPreflight::Ok {
            evict: 0,
            daemonset_skipped: 2
        }
    );

    let node03 = node_row(&m, "k1-node03");
    assert_eq!(
        (node03.kubelet_version.as_ref(), node03.minor_skew),
        ("v1.14.3", 1)
    );
    assert_eq!(node03.labels, ["taco-istio=enabled"]);
    // kube-proxy, calico, ingress gateway, sample gateway, istio-pilot, productpage.
    assert_eq!(node03.pods, 6);
    assert_eq!(
        node03.preflight,
        DrainPreflight::Blocked {
            pdbs: vec!["istio-system/istio-pilot".into()],
            unmanaged_pods: vec![],
            empty_dir_pods: vec!["default/productpage-v1-6b746f74dc-9stvs".into()],
            evict: 4,
            daemonset_skipped: 2,
        }
    );
    // es-2 on k1-node05 is not ready and the budget's two healthy masters suffice: policy/v1
    // lets it be evicted, so only istio-telemetry blocks k1-node05.
    assert_eq!(
        blocking_pdbs(&node_row(&m, "k1-node05")),
        ["istio-system/istio-telemetry"]
    );
    assert_eq!(m.pods_on_node("k1-node03").len(), 6);
    assert_eq!(m.pods_to_evict("k1-node03").len(), 4);
}

#[test]
fn seed_namespaces() {
    let m = seed();
    let default = ns_row(&m, "default");
    assert_eq!(default.rev_label.as_deref(), Some("1-9-1"));
    assert_eq!(default.injection, None);
    assert_eq!(default.revision.as_deref(), Some("1-9-1"));
    assert!(!default.conflict);
    assert_eq!((default.pods, default.injected_pods), (5, 5));
    assert!(default.pods_to_restart.is_empty());

    let legacy = ns_row(&m, "legacy-shop");
    assert_eq!(legacy.injection.as_deref(), Some("enabled"));
    assert_eq!(legacy.revision, None);
    assert_eq!((legacy.pods, legacy.injected_pods), (2, 0));

    let operator = ns_row(&m, "istio-operator");
    assert_eq!(operator.injection.as_deref(), Some("disabled"));
    assert_eq!(operator.revision, None);

    // Gateways carry the revision but opt out of injection: nothing to restart.
    let system = ns_row(&m, "istio-system");
    assert_eq!(system.injected_pods, 4);
    assert!(system.pods_to_restart.is_empty());
    assert_eq!(m.pods_in_namespace("default").len(), 5);
}

#[test]
fn seed_findings() {
    let m = seed();
    let f = m.findings();
    // Worst first.
    assert!(
        f.windows(2).all(|w| w[0].severity >= w[1].severity),
        "{f:#?}"
    );
    assert_eq!(findings_of(&m, "pdb-blocks-drain").len(), 5);
    assert!(
        findings_of(&m, "pdb-blocks-drain").contains(
            &"PDB istio-system/istio-pilot allows 0 disruptions: it blocks the drain of k1-node03"
                .to_string()
        )
    );
    assert_eq!(
        findings_of(&m, "pdb-selects-nothing"),
        [
            "PDB istio-system/istio-egressgateway selects no pods",
            "PDB istio-system/istio-ingressgateway selects no pods"
        ]
    );
    assert_eq!(
        findings_of(&m, "kubelet-skew"),
        [
            "5 nodes run kubelet v1.14.3, behind v1.15.6: k1-node01, k1-node02, k1-node03, k1-node04, k1-node05"
        ]
    );
    assert_eq!(findings_of(&m, "legacy-injection-label").len(), 1);
    assert!(findings_of(&m, "legacy-injection-label")[0].contains("legacy-shop"));
    assert_eq!(
        findings_of(&m, "proxy-version-skew"),
        ["5 proxies of revision 1-9-1 run 1.10-alpha.f2ba4b8 while its istiod runs 1.9.1"]
    );
    for absent in [
        "gateway-missing-mesh-config",
        "duplicate-gateway-labels",
        "node-port-collision",
        "injection-conflict",
        "pods-need-restart",
        "node-cordoned",
        "pdb-relaxed",
        "istiod-unavailable",
        "source-forbidden",
    ] {
        assert!(!codes(&m).contains(&absent), "{absent}: {f:#?}");
    }
    assert_eq!(f[0].severity, Severity::Error);
    assert_consistent(&m);
}

#[test]
fn seed_lookups() {
    let m = seed();
    assert_eq!(m.server_version(), Some("v1.15.6"));
    assert_eq!(m.last_event(), Some(at()));
    assert_eq!(m.pod_count(), m.pods().len());
    assert_eq!(m.proxied_pods().len(), 11);
    assert!(m.pod("default", "reviews-v1-545db77b95-qvbm7").is_some());
    assert!(m.node("k1-node03").is_some_and(|n| !n.unschedulable));
    assert!(m.namespace("legacy-shop").is_some());
    assert!(m.pdb("istio-system", "istio-pilot").is_some());
    assert_eq!(m.pods_of_pdb("istio-system", "istio-pilot").len(), 1);
    assert!(m.has_config_map("istio-gateway-sample", "istio-1-9-1"));
    assert_eq!(
        names(&m.config_map_namespaces("istio-1-9-1")),
        ["istio-gateway-sample", "istio-system"]
    );
    assert_eq!(m.istio_operators().len(), 2);
    assert!(
        m.workload(WorkloadKind::Deployment, "istio-system", "istiod-1-9-1")
            .is_some()
    );
    // Sorted by namespace, then name.
    let pods = m.pods();
    assert!(
        pods.windows(2)
            .all(|w| (&w[0].namespace, &w[0].name) < (&w[1].namespace, &w[1].name))
    );
}

// --- changes -----------------------------------------------------------------------------------

#[test]
fn deleting_a_pod_leaves_its_pdb_and_the_nodes_blockers() {
    let mut m = seed();
    let g = m.generation();
    m.apply(deleted(
        Kind::Pod,
        "istio-system",
        "istio-pilot-r4wksrd5mb-9fsbh",
    ));
    assert!(m.generation() > g);
    let pilot = pdb_row(&m, "istio-system", "istio-pilot");
    assert!(pilot.pods.is_empty() && pilot.blocks_nodes.is_empty());
    let node03 = node_row(&m, "k1-node03");
    assert!(blocking_pdbs(&node03).is_empty());
    assert_eq!(node03.pods, 5);
    assert!(
        findings_of(&m, "pdb-selects-nothing")
            .iter()
            .any(|f| f.contains("istio-pilot"))
    );
    assert_eq!(findings_of(&m, "pdb-blocks-drain").len(), 4);

    // One of three Elasticsearch masters goes: node02 is no longer blocked by its PDB.
    m.apply(deleted(Kind::Pod, "logging", "elasticsearch-k1-master-1"));
    assert_eq!(
        names(&pdb_row(&m, "logging", "elasticsearch-k1-master-pdb").blocks_nodes),
        ["k1-node01"]
    );

    // Once the healthy masters no longer suffice, the not-ready es-2 is guarded too.
    m.apply(applied(
        pdb(
            "logging",
            "elasticsearch-k1-master-pdb",
            &[("app", "elasticsearch-k1-master")],
        )
        .max_unavailable(1)
        .status(0, 1, 2, 3)
        .build(),
    ));
    assert_eq!(
        names(&pdb_row(&m, "logging", "elasticsearch-k1-master-pdb").blocks_nodes),
        ["k1-node01", "k1-node05"]
    );
    assert!(
        blocking_pdbs(&node_row(&m, "k1-node05"))
            .contains(&"logging/elasticsearch-k1-master-pdb".to_string())
    );
    assert_eq!(
        blocking_pdbs(&node_row(&m, "k1-node02")),
        ["istio-system/istio-policy"]
    );
    assert_consistent(&m);

    // Deleting what is not there changes nothing.
    let g = m.generation();
    m.apply(deleted(Kind::Pod, "logging", "elasticsearch-k1-master-1"));
    assert_eq!(m.generation(), g);
}

#[test]
fn readiness_flips_move_only_the_counts_by_readiness() {
    let mut m = seed();
    let pods: Vec<PodSummary> = m.pods();
    let proxied = m.proxied_counts();
    let mut not_ready = proxied.not_ready;
    for p in &pods {
        let mut flipped = p.clone();
        flipped.ready = !p.ready;
        flipped.restarts += 1;
        let g = m.generation();
        m.apply(applied(Object::Pod(flipped)));
        assert!(m.generation() > g, "{} flipped", p.name);
        if p.has_proxy {
            if p.ready {
                not_ready += 1;
            } else {
                not_ready -= 1;
            }
        }
        assert_eq!(m.proxied_counts().not_ready, not_ready, "{}", p.name);
    }
    assert_eq!(m.proxied_counts().pods, proxied.pods);
    // es-2 was the not-ready master: ready now, and its PDB counts it so.
    let es = m
        .pod("logging", "elasticsearch-k1-master-2")
        .expect("the seed's es-2");
    assert!(es.ready);
    assert_consistent(&m);
    // And back: every aggregate as before the flips.
    for p in &pods {
        m.apply(applied(Object::Pod(p.clone())));
    }
    assert_eq!(m.proxied_counts(), proxied);
    assert_eq!(m.disruption(), seed().disruption());
    assert_eq!(m.nodes(), seed().nodes());
    assert_consistent(&m);
}

#[test]
fn relaxing_a_pdb_unblocks_its_nodes_and_restoring_blocks_again() {
    let mut m = seed();
    let l = [("app", "pilot"), ("istio", "pilot"), ("release", "istio")];
    m.apply(applied(
        pdb("istio-system", "istio-pilot", &l)
            .min_available(0)
            .status(1, 1, 0, 1)
            .relaxed_from("{\"minAvailable\":1}")
            .build(),
    ));
    let row = pdb_row(&m, "istio-system", "istio-pilot");
    assert!(row.blocks_nodes.is_empty());
    assert!(row.relaxed);
    assert_eq!(
        (row.min_available, row.allowed_disruptions),
        (Some(IntOrPercent::Int(0)), 1)
    );
    assert_eq!(row.pods.len(), 1);
    let node03 = node_row(&m, "k1-node03");
    assert!(blocking_pdbs(&node03).is_empty());
    assert_eq!(
        findings_of(&m, "pdb-relaxed"),
        ["PDB istio-system/istio-pilot was relaxed by meshtop and is not restored yet"]
    );
    assert_consistent(&m);

    m.apply(applied(
        pdb("istio-system", "istio-pilot", &l)
            .min_available(1)
            .status(0, 1, 1, 1)
            .build(),
    ));
    assert_eq!(
        names(&pdb_row(&m, "istio-system", "istio-pilot").blocks_nodes),
        ["k1-node03"]
    );
    assert_eq!(
        blocking_pdbs(&node_row(&m, "k1-node03")),
        ["istio-system/istio-pilot"]
    );
    assert!(findings_of(&m, "pdb-relaxed").is_empty());
}

#[test]
fn deleting_a_pdb_unblocks_and_a_new_selector_rescans() {
    let mut m = seed();
    m.apply(deleted(Kind::Pdb, "logging", "elasticsearch-k1-master-pdb"));
    assert_eq!(
        blocking_pdbs(&node_row(&m, "k1-node01")),
        Vec::<String>::new()
    );
    assert_eq!(
        blocking_pdbs(&node_row(&m, "k1-node05")),
        ["istio-system/istio-telemetry"]
    );
    assert_consistent(&m);

    // A PDB whose selector changes to catch the 1.9.1 ingress gateway.
    m.apply(applied(
        pdb(
            "istio-system",
            "istio-ingressgateway",
            &[("app", "istio-ingressgateway"), ("istio", "ingressgateway")],
        )
        .min_available(2)
        .status(0, 2, 2, 2)
        .build(),
    ));
    let row = pdb_row(&m, "istio-system", "istio-ingressgateway");
    assert_eq!(row.pods.len(), 2);
    assert_eq!(names(&row.blocks_nodes), ["k1-node03", "k1-node04"]);
    assert_eq!(
        blocking_pdbs(&node_row(&m, "k1-node04")),
        [
            "istio-system/istio-galley",
            "istio-system/istio-ingressgateway"
        ]
    );
    assert_consistent(&m);
}

#[test]
fn a_relist_sent_in_parts_keeps_what_its_parts_held_and_drops_the_rest() {
    let mut m = seed();
    let all: Vec<Object> = m.pods().into_iter().map(Object::Pod).collect();
    let logging = |o: &Object| matches!(o, Object::Pod(p) if p.namespace.as_ref() == "logging");
    // Without the Elasticsearch masters: the first half in a part, the rest at the end.
    let kept: Vec<Object> = all.iter().filter(|o| !logging(o)).cloned().collect();
    let (part, rest) = kept.split_at(kept.len() / 2);
    assert!(!part.is_empty() && !rest.is_empty());
    let g = m.generation();
    m.apply(stamped(ClusterEvent::RelistPart(Kind::Pod, part.to_vec())));
    // A part changes nothing that is already so, and removes nothing.
    assert_eq!(m.generation(), g);
    assert!(!m.pods_in_namespace("logging").is_empty());
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, rest.to_vec())));
    assert!(m.pods_in_namespace("logging").is_empty());
    assert_eq!(m.pods().len(), kept.len());
    assert_consistent(&m);

    // A part brings what is new at once.
    m.apply(stamped(ClusterEvent::RelistPart(Kind::Pod, all.clone())));
    assert_eq!(m.pods().len(), all.len());
    assert_consistent(&m);
    // That relist is abandoned: the next one, whole, holds no Elasticsearch master, and
    // the abandoned part does not keep them.
    m.apply(stamped(ClusterEvent::RelistAbandoned(Kind::Pod)));
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, kept.clone())));
    assert!(m.pods_in_namespace("logging").is_empty());
    assert_eq!(m.pods().len(), kept.len());
    // A finished relist's parts are not carried into the next one.
    m.apply(stamped(ClusterEvent::RelistPart(Kind::Pod, all.clone())));
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, Vec::new())));
    assert_eq!(m.pods().len(), all.len());
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, kept)));
    assert!(m.pods_in_namespace("logging").is_empty());
    // Parts of one kind say nothing of another.
    m.apply(stamped(ClusterEvent::RelistPart(Kind::Node, all)));
    assert!(m.pods_in_namespace("logging").is_empty());
    assert_consistent(&m);
}

#[test]
fn relisted_drops_stale_objects_and_their_aggregates() {
    let mut m = seed();
    // The relist of pods no longer has the Elasticsearch masters (deleted while disconnected).
    let pods: Vec<Object> = m
        .pods()
        .into_iter()
        .filter(|p| p.namespace.as_ref() != "logging")
        .map(Object::Pod)
        .collect();
    let g = m.generation();
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, pods.clone())));
    assert!(m.generation() > g);
    assert!(m.pods_in_namespace("logging").is_empty());
    let es = pdb_row(&m, "logging", "elasticsearch-k1-master-pdb");
    assert!(es.pods.is_empty() && es.blocks_nodes.is_empty());
    assert_eq!(
        blocking_pdbs(&node_row(&m, "k1-node01")),
        Vec::<String>::new()
    );
    assert_eq!(node_row(&m, "k1-node01").pods, 6);
    assert_consistent(&m);

    // The same relist again changes nothing.
    let g = m.generation();
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, pods)));
    assert_eq!(m.generation(), g);

    // Relisting PDBs without the Istio 1.4 ones.
    let es_pdb = pdb(
        "logging",
        "elasticsearch-k1-master-pdb",
        &[("app", "elasticsearch-k1-master")],
    )
    .max_unavailable(1)
    .status(0, 2, 2, 3)
    .build();
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pdb, vec![es_pdb])));
    assert_eq!(m.disruption().len(), 1);
    assert!(blocking_pdbs(&node_row(&m, "k1-node03")).is_empty());

    // An empty relist of webhooks forgets the revision's injector.
    m.apply(stamped(ClusterEvent::Relisted(Kind::WebhookConfig, vec![])));
    assert_eq!(
        m.revisions()[0].sources,
        [RevisionSource::IstioOperator, RevisionSource::Istiod]
    );
    assert_consistent(&m);
}

/// A canary revision `1-10-0` next to 1-9-1, for the upgrade tests.
fn with_canary(m: &mut Model) {
    let l = [
        ("app", "istiod"),
        ("istio", "pilot"),
        ("istio.io/rev", "1-10-0"),
    ];
    for o in [
        iop(
            "istio-system",
            "istio-canary",
            "1-10-0",
            "minimal",
            "RECONCILING",
            &[],
        ),
        deployment("istio-system", "istiod-1-10-0")
            .pods(&l)
            .replicas(1, 1)
            .image("docker.io/istio/pilot:1.10.0")
            .build(),
        pod("istio-system", "istiod-1-10-0-7d4f8b-x1")
            .on("k1-node03")
            .labels(&l)
            .owner("ReplicaSet", "istiod-1-10-0-7d4f8b")
            .istiod("1.10.0")
            .build(),
        webhook(
            "istio-sidecar-injector-1-10-0",
            &[("app", "sidecar-injector"), ("istio.io/rev", "1-10-0")],
        ),
    ] {
        m.apply(applied(o));
    }
}

#[test]
fn relabelling_a_namespace_changes_the_pods_to_restart() {
    let mut m = seed();
    with_canary(&mut m);
    let canary = m
        .revisions()
        .into_iter()
        .find(|r| r.revision.as_ref() == "1-10-0")
        .expect("canary");
    assert_eq!(canary.version.as_deref(), Some("1.10.0"));
    assert_eq!(canary.iop_status.as_deref(), Some("RECONCILING"));
    assert_eq!(canary.pods, 0);
    assert!(codes(&m).contains(&"iop-not-healthy"));

    m.apply(applied(namespace("default", &[("istio.io/rev", "1-10-0")])));
    let row = ns_row(&m, "default");
    assert_eq!(row.revision.as_deref(), Some("1-10-0"));
    assert_eq!(row.pods_to_restart.len(), 5);
    assert_eq!(
        row.pods_to_restart[0].as_ref(),
        "api-gateway-6f87d9477f-xg5dq"
    );
    let revs = m.revisions();
    assert_eq!(
        names(
            &revs
                .iter()
                .find(|r| r.revision.as_ref() == "1-10-0")
                .expect("canary")
                .namespaces
        ),
        ["default"]
    );
    assert!(
        revs.iter()
            .find(|r| r.revision.as_ref() == "1-9-1")
            .expect("1-9-1")
            .namespaces
            .is_empty()
    );
    assert_eq!(
        findings_of(&m, "pods-need-restart"),
        [
            "5 pods in default run revision 1-9-1 but the namespace selects 1-10-0: restart them to move"
        ]
    );

    // One pod restarted onto the canary.
    m.apply(deleted(Kind::Pod, "default", "reviews-v1-545db77b95-qvbm7"));
    m.apply(applied(
        pod("default", "reviews-v1-7c8d9-abcde")
            .on("k1-node04")
            .labels(&[("app", "reviews")])
            .owner("ReplicaSet", "reviews-v1-7c8d9")
            .injected("1-10-0", "1.10.0")
            .build(),
    ));
    assert_eq!(ns_row(&m, "default").pods_to_restart.len(), 4);
    assert_eq!(
        m.revisions()
            .into_iter()
            .find(|r| r.revision.as_ref() == "1-10-0")
            .map(|r| r.pods),
        Some(1)
    );
    assert_consistent(&m);

    // Back to 1-9-1: now the restarted pod is the odd one.
    m.apply(applied(namespace("default", &[("istio.io/rev", "1-9-1")])));
    assert_eq!(
        names(&ns_row(&m, "default").pods_to_restart),
        ["reviews-v1-7c8d9-abcde"]
    );
}

#[test]
fn workloads_to_restart_resolve_replica_sets_to_deployments() {
    let mut m = seed();
    with_canary(&mut m);
    m.apply(applied(
        workload(WorkloadKind::ReplicaSet, "default", "reviews-v1-545db77b95")
            .owner("Deployment", "reviews-v1")
            .build(),
    ));
    m.apply(applied(namespace("default", &[("istio.io/rev", "1-10-0")])));
    let w = m.workloads_to_restart("default");
    assert_eq!(w.len(), 5);
    assert!(w.contains(&(WorkloadKind::Deployment, n("reviews-v1"))));
    assert!(w.contains(&(WorkloadKind::ReplicaSet, n("details-v1-6f769b44"))));
    assert!(m.workloads_to_restart("legacy-shop").is_empty());
}

#[test]
fn revision_tags_and_the_default_revision() {
    let mut m = seed();
    with_canary(&mut m);
    m.apply(applied(webhook(
        "istio-revision-tag-default",
        &[("istio.io/rev", "1-9-1"), ("istio.io/tag", "default")],
    )));
    // A tag known only by its name.
    m.apply(applied(webhook(
        "istio-revision-tag-prod",
        &[("istio.io/rev", "1-10-0")],
    )));
    assert_eq!(m.default_revision().as_deref(), Some("1-9-1"));
    let tags = m.revision_tags();
    assert_eq!(tags.get("prod").map(|r| r.as_ref()), Some("1-10-0"));

    let revs = m.revisions();
    let stable = revs
        .iter()
        .find(|r| r.revision.as_ref() == "1-9-1")
        .expect("1-9-1");
    assert!(stable.default);
    assert_eq!(names(&stable.tags), ["default"]);
    assert!(stable.sources.contains(&RevisionSource::Tag));
    // istio-injection=enabled now reaches the default tag's revision.
    assert_eq!(names(&stable.namespaces), ["default", "legacy-shop"]);
    assert_eq!(ns_row(&m, "legacy-shop").revision.as_deref(), Some("1-9-1"));
    assert!(findings_of(&m, "legacy-injection-label")[0].contains("default revision 1-9-1"));

    // A namespace on the `prod` tag selects the canary; its 1-9-1 pods need a restart.
    m.apply(applied(namespace("default", &[("istio.io/rev", "prod")])));
    let row = ns_row(&m, "default");
    assert_eq!(
        (row.rev_label.as_deref(), row.revision.as_deref()),
        (Some("prod"), Some("1-10-0"))
    );
    assert_eq!(row.pods_to_restart.len(), 5);
    let canary = m
        .revisions()
        .into_iter()
        .find(|r| r.revision.as_ref() == "1-10-0")
        .expect("canary");
    assert_eq!(names(&canary.tags), ["prod"]);
    assert_eq!(names(&canary.namespaces), ["default"]);
    assert!(!canary.default);

    // A pod whose label names the tag counts for the tag's revision.
    m.apply(applied(
        pod("legacy-shop", "tagged")
            .on("k1-node01")
            .owner("ReplicaSet", "tagged-1")
            .injected("prod", "1.10.0")
            .build(),
    ));
    assert_eq!(m.pods_of_revision("1-10-0").len(), 1);
    assert_eq!(m.pods_of_revision("prod").len(), 1);
    assert_consistent(&m);
}

/// The pods of a namespace that run with no proxy, by name.
fn names_without_proxy(m: &Model, namespace: &str) -> Vec<String> {
    let mut out: Vec<String> = m
        .pods_in_namespace(namespace)
        .into_iter()
        .filter(|p| !p.has_proxy && !p.phase.finished())
        .map(|p| p.name.to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn both_injection_labels_conflict_and_istio_injection_wins() {
    let mut m = seed();
    m.apply(applied(namespace(
        "legacy-shop",
        &[("istio-injection", "enabled"), ("istio.io/rev", "1-9-1")],
    )));
    let row = ns_row(&m, "legacy-shop");
    assert!(row.conflict);
    // No default revision: istio-injection=enabled wins and nothing injects.
    assert_eq!(row.revision, None);
    assert_eq!(
        findings_of(&m, "injection-conflict"),
        [
            "namespace legacy-shop has both istio-injection=enabled and istio.io/rev=1-9-1: istio-injection wins (IST0123)"
        ]
    );

    m.apply(applied(namespace(
        "legacy-shop",
        &[("istio-injection", "disabled"), ("istio.io/rev", "1-9-1")],
    )));
    let row = ns_row(&m, "legacy-shop");
    assert!(row.conflict);
    assert_eq!(row.revision, None);
    assert!(findings_of(&m, "legacy-injection-label").is_empty());

    m.apply(applied(namespace(
        "legacy-shop",
        &[("istio.io/rev", "1-9-1")],
    )));
    let row = ns_row(&m, "legacy-shop");
    assert!(!row.conflict);
    assert_eq!(row.revision.as_deref(), Some("1-9-1"));
    // Its pods were never injected: a restart injects them now that it selects a revision.
    let without = names_without_proxy(&m, "legacy-shop");
    assert!(!without.is_empty());
    assert_eq!(row.without_proxy as usize, without.len());
    assert_eq!(names(&row.pods_to_restart), without);
    assert_eq!(findings_of(&m, "pods-need-restart").len(), 1);
    assert!(
        findings_of(&m, "pods-need-restart")[0]
            .contains("run no proxy but the namespace selects 1-9-1"),
        "{:?}",
        findings_of(&m, "pods-need-restart")
    );

    // A revision nobody serves.
    m.apply(applied(namespace(
        "legacy-shop",
        &[("istio.io/rev", "1-8-0")],
    )));
    assert_eq!(findings_of(&m, "unknown-revision").len(), 1);
}

#[test]
fn gateway_namespace_without_its_mesh_config_is_the_seeds_trap() {
    let mut m = seed();
    m.apply(deleted(
        Kind::ConfigMap,
        "istio-gateway-sample",
        "istio-1-9-1",
    ));
    let sample = gateway_row(&m, "istio-ingressgateway-istio-gateway-sample");
    assert!(!sample.has_mesh_config);
    assert_eq!(
        findings_of(&m, "gateway-missing-mesh-config"),
        [
            "gateway istio-gateway-sample/istio-ingressgateway-istio-gateway-sample needs ConfigMap istio-1-9-1 in namespace istio-gateway-sample (copy it from istio-system)"
        ]
    );
    // Not known while ConfigMaps are still listing.
    m.apply(stamped(ClusterEvent::Source(
        Kind::ConfigMap,
        SourceState::Syncing,
    )));
    assert!(findings_of(&m, "gateway-missing-mesh-config").is_empty());
    m.apply(stamped(ClusterEvent::Source(
        Kind::ConfigMap,
        SourceState::Ready,
    )));
    m.apply(applied(config_map("istio-gateway-sample", "istio-1-9-1")));
    assert!(gateway_row(&m, "istio-ingressgateway-istio-gateway-sample").has_mesh_config);
    assert!(findings_of(&m, "gateway-missing-mesh-config").is_empty());
}

#[test]
fn a_second_gateway_with_default_labels_is_a_duplicate() {
    let mut m = seed();
    let l = [
        ("app", "istio-ingressgateway"),
        ("istio", "ingressgateway"),
        ("istio.io/rev", "1-9-1"),
        ("operator.istio.io/component", "IngressGateways"),
    ];
    m.apply(applied(namespace("shop-gw", &[])));
    m.apply(applied(
        deployment("shop-gw", "istio-ingressgateway")
            .pods(&l)
            .replicas(0, 1)
            .image("docker.io/istio/proxyv2:1.9.1")
            .build(),
    ));
    let rows = m.gateways();
    assert_eq!(rows.len(), 4);
    let dups: Vec<String> = rows
        .iter()
        .filter(|r| r.duplicate_labels)
        .map(|r| format!("{}/{}", r.namespace, r.name))
        .collect();
    assert_eq!(
        dups,
        [
            "istio-system/istio-ingressgateway",
            "shop-gw/istio-ingressgateway"
        ]
    );
    assert_eq!(
        findings_of(&m, "duplicate-gateway-labels"),
        [
            "gateways istio-system/istio-ingressgateway, shop-gw/istio-ingressgateway share the label istio=ingressgateway: Gateway resources selecting it bind to all of them"
        ]
    );
    // Its namespace lacks istio-1-9-1 too.
    assert!(findings_of(&m, "gateway-missing-mesh-config")[0].contains("shop-gw"));

    m.apply(deleted(Kind::Deployment, "shop-gw", "istio-ingressgateway"));
    assert_eq!(m.gateways().len(), 3);
    assert!(findings_of(&m, "duplicate-gateway-labels").is_empty());
}

#[test]
fn node_port_collisions_across_services() {
    let mut m = seed();
    m.apply(applied(service(
        "default",
        "shop",
        "NodePort",
        &[("app", "shop")],
        &[(80, Some(31080))],
    )));
    assert_eq!(
        gateway_row(&m, "istio-ingressgateway").node_port_collisions,
        [31080]
    );
    assert_eq!(
        findings_of(&m, "node-port-collision"),
        [
            "node port 31080 is taken by several Services: default/shop, istio-system/istio-ingressgateway"
        ]
    );
    assert_consistent(&m);
    // Moved to another port.
    m.apply(applied(service(
        "default",
        "shop",
        "NodePort",
        &[("app", "shop")],
        &[(80, Some(31999))],
    )));
    assert!(
        gateway_row(&m, "istio-ingressgateway")
            .node_port_collisions
            .is_empty()
    );
    assert!(findings_of(&m, "node-port-collision").is_empty());
    m.apply(deleted(Kind::Service, "default", "shop"));
    assert_consistent(&m);
}

#[test]
fn cordoned_and_not_ready_nodes() {
    let mut m = seed();
    m.apply(applied(
        node("k1-node03", "v1.15.6")
            .label("taco-istio", "enabled")
            .cordoned()
            .build(),
    ));
    m.apply(applied(node("k1-node04", "v1.14.3").not_ready().build()));
    let row = node_row(&m, "k1-node03");
    assert!(row.cordoned);
    assert_eq!(row.minor_skew, 0);
    assert_eq!(
        findings_of(&m, "node-cordoned"),
        ["node k1-node03 is cordoned (SchedulingDisabled)"]
    );
    assert_eq!(
        findings_of(&m, "node-not-ready"),
        ["node k1-node04 is NotReady"]
    );
    assert!(findings_of(&m, "kubelet-skew")[0].starts_with("4 nodes run"));
    // Uncordoned.
    m.apply(applied(
        node("k1-node03", "v1.15.6")
            .label("taco-istio", "enabled")
            .build(),
    ));
    assert!(findings_of(&m, "node-cordoned").is_empty());
    // A node deleted keeps no row, and its pods' aggregates stay until they go.
    m.apply(deleted(Kind::Node, "", "k1-node04"));
    assert_eq!(m.nodes().len(), 7);
    assert_eq!(m.pods_on_node("k1-node04").len(), 7);
}

#[test]
fn node_objects_coming_and_going_keep_the_drain_counts() {
    let mut m = seed();
    let blocked = |m: &Model| -> Vec<String> {
        m.blocked_drains()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect()
    };
    let before = blocked(&m);
    assert!(before.contains(&"k1-node03".to_string()), "{before:?}");
    assert_eq!(m.blocked_drains().len(), before.len());
    assert_consistent(&m);

    // k1-node03's object goes while its pods are still listed: it is no node to drain.
    m.apply(deleted(Kind::Node, "", "k1-node03"));
    assert!(!blocked(&m).contains(&"k1-node03".to_string()));
    assert_eq!(m.node_count(), 7);
    assert_consistent(&m);

    // It comes back cordoned, on a kubelet newer than any: every other node is behind now.
    m.apply(applied(node("k1-node03", "v1.16.1").cordoned().build()));
    assert_eq!(blocked(&m), before);
    assert_eq!(
        names(&m.cordoned_nodes().collect::<Vec<_>>()),
        ["k1-node03"]
    );
    assert_eq!(m.skewed_kubelets(), 7);
    assert_consistent(&m);

    // Uncordoned and back on its old kubelet.
    m.apply(applied(
        node("k1-node03", "v1.14.3")
            .label("taco-istio", "enabled")
            .build(),
    ));
    assert_eq!(m.cordoned_nodes().count(), 0);
    assert_consistent(&m);

    // A relist of nodes without k1-node05 and with k1-node01 cordoned.
    let nodes: Vec<Object> = m
        .store
        .nodes
        .values()
        .filter(|n| n.name.as_ref() != "k1-node05")
        .cloned()
        .map(|mut n| {
            n.unschedulable |= n.name.as_ref() == "k1-node01";
            Object::Node(n)
        })
        .collect();
    m.apply(stamped(ClusterEvent::Relisted(Kind::Node, nodes)));
    assert!(!blocked(&m).contains(&"k1-node05".to_string()));
    assert_eq!(
        names(&m.cordoned_nodes().collect::<Vec<_>>()),
        ["k1-node01"]
    );
    assert_consistent(&m);

    // A relist of pods without those on k1-node03: nothing there needs consent any more.
    let pods: Vec<Object> = m
        .pods()
        .into_iter()
        .filter(|p| p.node.as_deref() != Some("k1-node03"))
        .map(Object::Pod)
        .collect();
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, pods)));
    assert!(!blocked(&m).contains(&"k1-node03".to_string()));
    assert_eq!(node_row(&m, "k1-node03").pods, 0);
    assert_consistent(&m);

    // An unmanaged pod with an emptyDir lands there, not ready, with a proxy.
    m.apply(applied(
        pod("default", "debug")
            .on("k1-node03")
            .injected("1-9-1", "1.9.1")
            .empty_dir()
            .not_ready("Running")
            .build(),
    ));
    assert!(blocked(&m).contains(&"k1-node03".to_string()));
    let lines = m.node_lines();
    let drain = (0..lines.len())
        .filter_map(|i| lines.get(i))
        .find(|l| l.name.as_ref() == "k1-node03")
        .map(|l| l.preflight);
    assert_eq!(
        drain.map(|d| (d.unmanaged, d.empty_dir)),
        Some((1, 1)),
        "counted, not named"
    );
    assert_consistent(&m);
    m.apply(deleted(Kind::Pod, "default", "debug"));
    assert!(!blocked(&m).contains(&"k1-node03".to_string()));
    assert_consistent(&m);
}

#[test]
fn source_states_become_findings() {
    let mut m = seed();
    m.apply(stamped(ClusterEvent::Source(
        Kind::WebhookConfig,
        SourceState::Forbidden("cannot list mutatingwebhookconfigurations".into()),
    )));
    m.apply(stamped(ClusterEvent::Source(
        Kind::IstioGateway,
        SourceState::Absent,
    )));
    m.apply(stamped(ClusterEvent::Source(
        Kind::Node,
        SourceState::Error("connection refused".into()),
    )));
    assert_eq!(findings_of(&m, "source-forbidden").len(), 1);
    assert_eq!(
        findings_of(&m, "source-absent"),
        ["not served by this cluster (CRD not installed): gateways.networking.istio.io"]
    );
    assert_eq!(findings_of(&m, "source-error").len(), 1);
    // A role that forbids several kinds is one finding naming them all.
    m.apply(stamped(ClusterEvent::Source(
        Kind::Pdb,
        SourceState::Forbidden("cannot list poddisruptionbudgets".into()),
    )));
    assert_eq!(
        findings_of(&m, "source-forbidden"),
        [
            "forbidden by RBAC, not shown: poddisruptionbudgets, mutatingwebhookconfigurations \
             (cannot list poddisruptionbudgets)"
        ]
    );
    // Nodes failing and budgets forbidden: no drain answer is given, and why.
    assert_eq!(
        m.drain_unknown().as_deref(),
        Some("nodes not readable: connection refused")
    );
    // Under -n with a role limited to the namespace: pods of one namespace only.
    m.apply(stamped(ClusterEvent::Source(
        Kind::Node,
        SourceState::Ready,
    )));
    m.apply(stamped(ClusterEvent::Source(
        Kind::Pod,
        SourceState::Partial("only namespace default is visible: cannot list pods".into()),
    )));
    assert_eq!(
        m.drain_unknown().as_deref(),
        Some("pods: only namespace default is visible: cannot list pods")
    );
    assert!(
        m.nodes()
            .iter()
            .all(|n| matches!(n.preflight, DrainPreflight::Unknown { .. }))
    );
    assert_eq!(findings_of(&m, "source-partial").len(), 1);
    // While pods are relisting, an empty PDB proves nothing.
    m.apply(stamped(ClusterEvent::Source(
        Kind::Pod,
        SourceState::Syncing,
    )));
    assert!(findings_of(&m, "pdb-selects-nothing").is_empty());
    // The same state again is no change.
    let g = m.generation();
    m.apply(stamped(ClusterEvent::Source(
        Kind::Pod,
        SourceState::Syncing,
    )));
    assert_eq!(m.generation(), g);
    let f = m.findings();
    assert!(f.windows(2).all(|w| w[0].severity >= w[1].severity));
}

#[test]
fn generation_moves_only_on_change() {
    let mut m = Model::new();
    assert_eq!(m.generation(), 0);
    let p = pod("default", "a").on("n1").build();
    m.apply(applied(p.clone()));
    assert_eq!(m.generation(), 1);
    m.apply(applied(p));
    assert_eq!(m.generation(), 1);
    m.apply(stamped(ClusterEvent::Server {
        git_version: "v1.30.0".into(),
    }));
    m.apply(stamped(ClusterEvent::Server {
        git_version: "v1.30.0".into(),
    }));
    assert_eq!(m.generation(), 2);
    m.apply(deleted(Kind::Pod, "default", "a"));
    assert_eq!(m.generation(), 3);
    assert!(m.pods().is_empty() && m.pods_on_node("n1").is_empty());
    assert!(m.store.index.nodes.is_empty() && m.store.index.namespaces.is_empty());
}

#[test]
fn drain_preflight_is_kubectls() {
    let mut m = Model::new();
    // Before nodes, pods and budgets are listed, no drain answer is given.
    m.apply(applied(node("n1", "v1.30.0").build()));
    assert_eq!(
        node_row(&m, "n1").preflight,
        DrainPreflight::Unknown {
            why: "nodes still being listed".into()
        }
    );
    for kind in [Kind::Node, Kind::Pod, Kind::Pdb] {
        m.apply(stamped(ClusterEvent::Source(kind, SourceState::Ready)));
    }
    m.apply(applied(
        pdb("default", "web", &[("app", "web")])
            .min_available(1)
            .status(0, 1, 1, 1)
            .build(),
    ));
    for o in [
        pod("kube-system", "kube-apiserver-n1")
            .on("n1")
            .mirror()
            .build(),
        pod("kube-system", "kube-proxy-1")
            .on("n1")
            .owner("DaemonSet", "kube-proxy")
            .empty_dir()
            .build(),
        // A finished DaemonSet pod is evicted like any other (kubectl's DaemonSet filter
        // lets it go), as the executor's plan does.
        pod("kube-system", "node-check-done")
            .on("n1")
            .owner("DaemonSet", "node-check")
            .phase(PodPhase::Failed, "Error")
            .build(),
        pod("default", "bare").on("n1").build(),
        pod("default", "cache")
            .on("n1")
            .owner("ReplicaSet", "cache-1")
            .empty_dir()
            .build(),
        // Finished pods go without --force or --delete-emptydir-data.
        pod("default", "job-done")
            .on("n1")
            .phase(PodPhase::Succeeded, "Completed")
            .empty_dir()
            .build(),
        // A pending pod and a deleting one are not budgeted by their PDB.
        pod("default", "web-pending")
            .on("n1")
            .labels(&[("app", "web")])
            .owner("ReplicaSet", "web-1")
            .phase(PodPhase::Pending, "ContainerCreating")
            .build(),
        pod("default", "web-going")
            .on("n1")
            .labels(&[("app", "web")])
            .owner("ReplicaSet", "web-1")
            .deleting()
            .build(),
    ] {
        m.apply(applied(o));
    }
    let row = node_row(&m, "n1");
    assert_eq!(row.pods, 8);
    assert_eq!(
        row.preflight,
        DrainPreflight::Blocked {
            pdbs: vec![],
            unmanaged_pods: vec!["default/bare".into()],
            empty_dir_pods: vec!["default/cache".into()],
            evict: 6,
            daemonset_skipped: 1,
        }
    );
    // Which consent each needs, in words (the Nodes view, the Overview, `get nodes`).
    assert_eq!(
        row.preflight.summary(),
        "blocked by 1 pod without controller; 1 pod with emptyDir"
    );
    assert_eq!(pdb_row(&m, "default", "web").pods.len(), 2);
    assert!(pdb_row(&m, "default", "web").blocks_nodes.is_empty());

    // The web pod starts running: now the PDB guards it.
    m.apply(applied(
        pod("default", "web-pending")
            .on("n1")
            .labels(&[("app", "web")])
            .owner("ReplicaSet", "web-1")
            .build(),
    ));
    assert_eq!(blocking_pdbs(&node_row(&m, "n1")), ["default/web"]);
    assert_eq!(names(&pdb_row(&m, "default", "web").blocks_nodes), ["n1"]);
    assert_consistent(&m);

    m.apply(deleted(Kind::Pod, "default", "bare"));
    m.apply(deleted(Kind::Pod, "default", "cache"));
    m.apply(deleted(Kind::Pod, "default", "web-pending"));
    assert_eq!(
        node_row(&m, "n1").preflight,
        DrainPreflight::Ok {
            evict: 3,
            daemonset_skipped: 1
        }
    );
    assert_eq!(
        names(
            &m.pods_to_evict("n1")
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
        ),
        ["job-done", "web-going", "node-check-done"]
    );
}

#[test]
fn a_pod_moving_between_nodes_and_labels() {
    let mut m = seed();
    let l = [("app", "pilot"), ("istio", "pilot"), ("release", "istio")];
    let pilot_on_node01 = |labels: &[(&str, &str)]| {
        applied(
            pod("istio-system", "istio-pilot-r4wksrd5mb-9fsbh")
                .on("k1-node01")
                .labels(labels)
                .owner("ReplicaSet", "istio-pilot-r4wksrd5mb")
                .build(),
        )
    };
    // Rescheduled on node01 (the same name, as a StatefulSet would).
    m.apply(pilot_on_node01(&l));
    assert!(blocking_pdbs(&node_row(&m, "k1-node03")).is_empty());
    assert!(
        blocking_pdbs(&node_row(&m, "k1-node01")).contains(&"istio-system/istio-pilot".to_string())
    );
    // Relabelled out of its PDB.
    m.apply(pilot_on_node01(&[("app", "pilot")]));
    assert!(pdb_row(&m, "istio-system", "istio-pilot").pods.is_empty());
    assert!(
        !blocking_pdbs(&node_row(&m, "k1-node01"))
            .contains(&"istio-system/istio-pilot".to_string())
    );
    let pilot_selects_nothing = |m: &Model| {
        findings_of(m, "pdb-selects-nothing")
            .iter()
            .any(|f| f.contains("istio-system/istio-pilot "))
    };
    assert!(pilot_selects_nothing(&m));
    assert_consistent(&m);
    // Labelled back into it.
    m.apply(pilot_on_node01(&l));
    assert!(!pilot_selects_nothing(&m));
    assert_eq!(pdb_row(&m, "istio-system", "istio-pilot").pods.len(), 1);
    assert_consistent(&m);
}

#[test]
fn pdbs_selecting_everything_or_nothing() {
    let mut m = seed();
    m.apply(applied(
        pdb("legacy-shop", "all", &[])
            .selector(Selector::everything())
            .status(0, 2, 2, 2)
            .build(),
    ));
    m.apply(applied(
        pdb("legacy-shop", "none", &[])
            .selector(Selector::Nothing)
            .build(),
    ));
    m.apply(applied(
        pdb("legacy-shop", "not-inventory", &[])
            .selector(Selector::Requirements(vec![Requirement::NotIn(
                n("app"),
                vec![n("inventory")],
            )]))
            .status(1, 1, 0, 1)
            .build(),
    ));
    assert_eq!(pdb_row(&m, "legacy-shop", "all").pods.len(), 2);
    assert_eq!(
        names(&pdb_row(&m, "legacy-shop", "all").blocks_nodes),
        ["k1-node01", "k1-node02"]
    );
    assert!(pdb_row(&m, "legacy-shop", "none").pods.is_empty());
    let ni = pdb_row(&m, "legacy-shop", "not-inventory");
    assert_eq!(
        ni.pods.iter().map(|p| p.name.as_ref()).collect::<Vec<_>>(),
        ["storefront-m84d9g596f-5rsnf"]
    );
    assert!(ni.blocks_nodes.is_empty());
    assert_consistent(&m);
}

#[test]
fn revisions_from_a_default_install_and_an_iop_alone() {
    let mut m = Model::new();
    let l = [("app", "istiod"), ("istio", "pilot")];
    m.apply(applied(
        deployment("istio-system", "istiod")
            .pods(&l)
            .replicas(0, 1)
            .build(),
    ));
    m.apply(applied(webhook(
        "istio-sidecar-injector",
        &[("app", "sidecar-injector")],
    )));
    m.apply(applied(namespace(
        "shop",
        &[("istio-injection", "enabled")],
    )));
    m.apply(applied(iop(
        "istio-system",
        "next",
        "1-24-0",
        "default",
        "",
        &[],
    )));
    let revs = m.revisions();
    let names_: Vec<&str> = revs.iter().map(|r| r.revision.as_ref()).collect();
    assert_eq!(names_, ["1-24-0", "default"]);
    let default = &revs[1];
    assert!(default.default);
    assert_eq!(
        default.sources,
        [RevisionSource::Istiod, RevisionSource::Webhook]
    );
    assert_eq!(names(&default.namespaces), ["shop"]);
    assert_eq!((default.istiod_ready, default.istiod_desired), (0, 1));
    assert_eq!(revs[0].iop_status, None);
    assert_eq!(ns_row(&m, "shop").revision.as_deref(), Some("default"));
    // A plain install with istio-injection=enabled is normal.
    assert!(findings_of(&m, "legacy-injection-label").len() == 1);
    assert_eq!(
        findings_of(&m, "istiod-unavailable"),
        ["revision default: no istiod replica is ready (0/1)"]
    );
    assert_eq!(
        findings_of(&m, "istiod-missing"),
        ["revision 1-24-0 has no istiod: its injector and tags point at nothing"]
    );
    // Pods injected by a revision that is gone.
    m.apply(applied(
        pod("shop", "old")
            .on("n1")
            .owner("ReplicaSet", "old-1")
            .injected("1-8-0", "1.8.0")
            .build(),
    ));
    assert_eq!(findings_of(&m, "orphaned-proxies").len(), 1);
}

#[test]
fn gateways_found_by_their_pods_and_istio_gateways_everywhere() {
    let mut m = seed();
    // A Helm-chart gateway: `image: auto`, injected, found by its labels.
    let l = [
        ("app", "edge-gateway"),
        ("istio", "edge-gateway"),
        ("sidecar.istio.io/inject", "true"),
    ];
    m.apply(applied(namespace("edge", &[("istio.io/rev", "1-9-1")])));
    m.apply(applied(
        deployment("edge", "edge-gateway")
            .pods(&l)
            .replicas(1, 1)
            .image("auto")
            .build(),
    ));
    m.apply(applied(istio_gateway(
        "default",
        "edge",
        &[("istio", "edge-gateway")],
    )));
    m.apply(applied(istio_gateway("default", "catch-all", &[])));
    let row = gateway_row(&m, "edge-gateway");
    assert_eq!(row.kind.as_ref(), "unknown");
    assert_eq!(row.gateway_resources, ["default/catch-all", "default/edge"]);
    assert_eq!(row.hpa_min, None);
    assert_eq!(row.service_type, None);
    // Injected gateways get their mesh config from istiod: no ConfigMap finding.
    assert!(!row.has_mesh_config);
    assert!(findings_of(&m, "gateway-missing-mesh-config").is_empty());

    // A gateway-labelled Deployment without any proxy is not a gateway.
    let l = [("app", "fake"), ("istio", "fake-gateway")];
    m.apply(applied(
        deployment("edge", "fake")
            .pods(&l)
            .image("nginx:1.19")
            .build(),
    ));
    assert!(m.gateways().iter().all(|g| g.name.as_ref() != "fake"));
    // ...until one of its pods turns out to carry one.
    m.apply(applied(
        pod("edge", "fake-1")
            .on("k1-node01")
            .labels(&l)
            .gateway("1-9-1", "1.9.1")
            .build(),
    ));
    assert!(m.gateways().iter().any(|g| g.name.as_ref() == "fake"));
}

#[test]
fn iop_gateway_kinds() {
    let m = seed();
    let iops = m.istio_operators();
    let cp = iops
        .iter()
        .find(|o| o.name.as_ref() == "istio-controlplane")
        .expect("iop");
    assert_eq!(
        cp.gateways.iter().map(|g| g.kind).collect::<Vec<_>>(),
        [GatewayKind::Egress, GatewayKind::Ingress]
    );
}

#[test]
fn twenty_thousand_pods_then_facts() {
    let mut m = seed();
    let nodes: Vec<String> = (0..200).map(|i| format!("w{i:03}")).collect();
    for node_name in &nodes {
        m.apply(applied(node(node_name, "v1.15.6").build()));
    }
    m.apply(applied(
        pdb("default", "bulk", &[("app", "bulk-7")])
            .min_available(10)
            .status(0, 10, 10, 10)
            .build(),
    ));
    for i in 0..20_000 {
        let app = format!("bulk-{}", i % 50);
        m.apply(applied(
            pod("default", &format!("bulk-{i:05}"))
                .on(&nodes[i % nodes.len()])
                .labels(&[("app", &app), ("istio.io/rev", "1-9-1")])
                .owner("ReplicaSet", &format!("{app}-rs"))
                .injected("1-9-1", "1.9.1")
                .build(),
        ));
    }
    assert_eq!(m.pod_count(), 20_000 + 41);
    let rev = &m.revisions()[0];
    assert_eq!(rev.pods, 20_011);
    assert_eq!(ns_row(&m, "default").injected_pods, 20_005);
    assert_eq!(pdb_row(&m, "default", "bulk").pods.len(), 400);
    assert_eq!(node_row(&m, "w007").pods, 100);
    assert!(!m.findings().is_empty());
    assert_eq!(m.gateways().len(), 3);
    // Moving the namespace to a canary marks all of them.
    with_canary(&mut m);
    m.apply(applied(namespace("default", &[("istio.io/rev", "1-10-0")])));
    assert_eq!(ns_row(&m, "default").pods_to_restart.len(), 20_005);
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, Vec::new())));
    assert_eq!(m.pod_count(), 0);
    assert!(m.store.index.nodes.is_empty());
    assert!(m.store.index.pdb_pods.values().all(|s| s.is_empty()));
    assert!(m.store.index.revision_pods.is_empty());
}

/// A canary nothing uses yet is safe to remove; once a namespace selects it, it is not.
#[test]
fn a_revision_nothing_uses_is_safe_to_remove() {
    let mut m = seed();
    for kind in Kind::ALL {
        m.apply(stamped(ClusterEvent::Source(kind, SourceState::Ready)));
    }
    with_canary(&mut m);
    assert_eq!(
        findings_of(&m, "revision-unused"),
        ["revision 1-10-0 serves no namespace, tag or proxy: safe to remove"]
    );
    m.apply(applied(namespace(
        "legacy-shop",
        &[("istio.io/rev", "1-10-0")],
    )));
    assert!(findings_of(&m, "revision-unused").is_empty());
    assert_consistent(&m);
}

/// A scenario file projected as the watchers will, every kind meshtop watches.
fn through_projection(file: &str) -> Model {
    use k8s_openapi::api::{
        admissionregistration::v1::MutatingWebhookConfiguration,
        apps::v1::{DaemonSet, Deployment, StatefulSet},
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{ConfigMap, Namespace, Node, Pod, Service},
        policy::v1::PodDisruptionBudget,
    };
    use serde::Deserialize;

    use super::intern::Interner;
    use super::project::{Project, object_from_dynamic};

    fn typed<K: serde::de::DeserializeOwned + Project>(
        v: serde_json::Value,
        i: &mut Interner,
    ) -> Option<Object> {
        serde_json::from_value::<K>(v)
            .expect("valid object")
            .project(i)
    }

    let text = std::fs::read_to_string(format!(
        "{}/assets/scenarios/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("scenario");
    let mut i = Interner::default();
    let mut m = Model::new();
    for kind in Kind::ALL {
        m.apply(stamped(ClusterEvent::Source(kind, SourceState::Ready)));
    }
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_json::Value::deserialize(doc).expect("yaml");
        let api_version = v["apiVersion"].as_str().unwrap_or_default().to_string();
        let object = match v["kind"].as_str().unwrap_or_default() {
            "Namespace" => typed::<Namespace>(v, &mut i),
            "Node" => typed::<Node>(v, &mut i),
            "Pod" => typed::<Pod>(v, &mut i),
            "Deployment" => typed::<Deployment>(v, &mut i),
            "StatefulSet" => typed::<StatefulSet>(v, &mut i),
            "DaemonSet" => typed::<DaemonSet>(v, &mut i),
            "Service" => typed::<Service>(v, &mut i),
            "HorizontalPodAutoscaler" => typed::<HorizontalPodAutoscaler>(v, &mut i),
            "PodDisruptionBudget" => typed::<PodDisruptionBudget>(v, &mut i),
            "MutatingWebhookConfiguration" => typed::<MutatingWebhookConfiguration>(v, &mut i),
            "ConfigMap" => typed::<ConfigMap>(v, &mut i),
            kind => match Kind::of_type(&api_version, kind) {
                Some(k @ (Kind::IstioOperator | Kind::IstioGateway | Kind::KubeGateway)) => {
                    object_from_dynamic(k, &serde_json::from_value(v).expect("dynamic"), &mut i)
                }
                _ => None,
            },
        };
        if let Some(o) = object {
            m.apply(applied(o));
        }
    }
    m
}

/// The 2026 scenario: Helm revisions and their tags, ambient namespaces behind a waypoint,
/// Gateway API gateways, native sidecars, a ztunnel too old for its control plane; then a
/// tag moved as `kubectl label` moves it, applied incrementally and checked against a model
/// rebuilt from scratch.
#[test]
fn the_canary_2026_scenario_through_projection() {
    let mut m = through_projection("canary-2026.yaml");
    let rev = |m: &Model, name: &str| {
        m.revisions()
            .into_iter()
            .find(|r| r.revision.as_ref() == name)
            .unwrap_or_else(|| panic!("no revision {name}"))
    };
    let stable = rev(&m, "1-29-2");
    assert_eq!(stable.installed_by.as_deref(), Some("helm istiod-1-29-2"));
    assert_eq!(names(&stable.tags), ["default", "prod-stable"]);
    assert!(stable.default);
    let canary = rev(&m, "1-30-1");
    assert_eq!(canary.installed_by.as_deref(), Some("helm istiod-1-30-1"));
    assert_eq!(names(&canary.tags), ["canary"]);
    assert_eq!(names(&canary.namespaces), ["checkout"]);

    let payments = ns_row(&m, "payments");
    assert_eq!(payments.tag.as_deref(), Some("prod-stable"));
    assert_eq!(payments.revision.as_deref(), Some("1-29-2"));
    assert_eq!(payments.dataplane, Dataplane::Sidecar);
    let bookinfo = ns_row(&m, "bookinfo");
    assert_eq!(bookinfo.dataplane, Dataplane::Ambient);
    assert_eq!(bookinfo.waypoint.as_deref(), Some("waypoint"));
    assert_eq!(ns_row(&m, "inventory").dataplane, Dataplane::Both);
    assert_eq!(ns_row(&m, "reports").dataplane, Dataplane::None);

    let gateways = m.gateways();
    let waypoint = gateways
        .iter()
        .find(|g| g.kind.as_ref() == "waypoint")
        .expect("the waypoint");
    let api = waypoint
        .gateway_api
        .as_ref()
        .expect("a Gateway API gateway");
    assert_eq!(api.class.as_ref(), "istio-waypoint");
    assert_eq!(api.used_by, ["bookinfo"]);
    let public = gateways
        .iter()
        .find(|g| g.name.as_ref() == "public")
        .expect("the public Gateway");
    let api = public.gateway_api.as_ref().expect("Gateway API facts");
    assert_eq!(api.class.as_ref(), "istio");
    let chart = gateways
        .iter()
        .find(|g| g.name.as_ref() == "istio-ingressgateway")
        .expect("the chart gateway");
    assert!(chart.gateway_api.is_none());
    assert!(!chart.needs_mesh_config);

    // worker-6's ztunnel, written in the scenario, is too old for 1.29 (the others are the
    // DaemonSet's, made by the sandbox).
    let nodes = m.nodes();
    let old = nodes
        .iter()
        .find(|n| n.name.as_ref() == "worker-6")
        .expect("worker-6");
    assert_eq!(old.ztunnels[0].version.as_deref(), Some("1.27.3"));

    for code in [
        "tag-revision-gone",
        "ambient-and-sidecar",
        "ztunnel-version-skew",
        "pods-need-restart",
    ] {
        assert!(!findings_of(&m, code).is_empty(), "no {code} finding");
    }
    assert!(
        findings_of(&m, "pods-need-restart")
            .iter()
            .any(|f| f.contains("in checkout") && f.contains("through tag canary")),
        "{:?}",
        findings_of(&m, "pods-need-restart")
    );
    assert_consistent(&m);

    // `kubectl label mwc istio-revision-tag-prod-stable istio.io/rev=1-30-1 --overwrite`.
    let mut tag = m
        .store
        .webhooks
        .get("istio-revision-tag-prod-stable")
        .cloned()
        .expect("the prod-stable tag");
    tag.labels = Labels::new(
        tag.labels
            .iter()
            .map(|(k, v)| {
                let v = if k.as_ref() == "istio.io/rev" {
                    Name::from("1-30-1")
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
    );
    m.apply(applied(Object::WebhookConfig(tag)));
    let payments = ns_row(&m, "payments");
    assert_eq!(payments.revision.as_deref(), Some("1-30-1"));
    assert_eq!(names(&rev(&m, "1-30-1").tags), ["canary", "prod-stable"]);
    assert_eq!(names(&rev(&m, "1-29-2").tags), ["default"]);
    assert_consistent(&m);
}

/// The sandbox's scenario file, projected as the watchers will: the seed's facts come out.
#[test]
fn the_k1_upgrade_scenario_through_projection() {
    let m = through_projection("k1-upgrade.yaml");
    let revs = m.revisions();
    assert_eq!(revs.len(), 2);
    // The Istio 1.4 components still run beside 1-9-1: the legacy control plane.
    let legacy = &revs[1];
    assert_eq!(legacy.revision.as_ref(), "(legacy)");
    assert_eq!(legacy.version.as_deref(), Some("1.4.3"));
    assert_eq!(legacy.installed_by.as_deref(), Some("helm2 istio"));
    assert_eq!(
        names(&legacy.components),
        [
            "istio-galley",
            "istio-pilot",
            "istio-policy",
            "istio-telemetry"
        ]
    );
    assert_eq!(legacy.pods, 0);
    assert_eq!(
        findings_of(&m, "legacy-control-plane"),
        [
            "the non-revisioned Istio 1.4.3 control plane (istio-galley, istio-pilot, istio-policy, \
          istio-telemetry) still runs and nothing uses it: safe to remove"
        ]
    );
    let r = &revs[0];
    assert_eq!(r.revision.as_ref(), "1-9-1");
    assert_eq!(
        r.installed_by.as_deref(),
        Some("operator istio-system/istio-controlplane")
    );
    assert_eq!((r.istiod_ready, r.istiod_desired), (2, 2));
    assert_eq!(r.version.as_deref(), Some("1.9.1"));
    assert_eq!(r.iop_status.as_deref(), Some("HEALTHY"));
    assert_eq!(names(&r.namespaces), ["default"]);

    let gateways: Vec<String> = m
        .gateways()
        .iter()
        .map(|g| format!("{}/{}", g.namespace, g.name))
        .collect();
    assert_eq!(
        gateways,
        [
            "istio-gateway-sample/istio-ingressgateway-istio-gateway-sample",
            "istio-system/istio-egressgateway",
            "istio-system/istio-ingressgateway"
        ]
    );
    let ingress = gateway_row(&m, "istio-ingressgateway");
    assert!(
        ingress.ports.contains(&"80:31080/TCP".to_string()),
        "{:?}",
        ingress.ports
    );
    assert!(ingress.ports.contains(&"443:30443/TCP".to_string()));
    assert_eq!((ingress.hpa_min, ingress.hpa_max), (Some(2), Some(10)));
    let sample = gateway_row(&m, "istio-ingressgateway-istio-gateway-sample");
    assert!(sample.ports.contains(&"80:31081/TCP".to_string()));
    assert!(sample.has_mesh_config);
    assert!(
        m.gateways()
            .iter()
            .all(|g| !g.duplicate_labels && g.node_port_collisions.is_empty())
    );

    type Budget = Option<IntOrPercent>;
    let table: Vec<(String, Budget, Budget, i32, Vec<String>)> = m
        .disruption()
        .into_iter()
        .map(|r| {
            (
                r.name.to_string(),
                r.min_available,
                r.max_unavailable,
                r.allowed_disruptions,
                r.blocks_nodes.iter().map(|n| n.to_string()).collect(),
            )
        })
        .collect();
    let one = || Some(IntOrPercent::Int(1));
    let row = |name: &str, min: Budget, max: Budget, nodes: &[&str]| {
        (
            name.to_string(),
            min,
            max,
            0,
            nodes.iter().map(|n| n.to_string()).collect(),
        )
    };
    assert_eq!(
        table,
        [
            row("istio-egressgateway", one(), None, &[]),
            row("istio-galley", one(), None, &["k1-node04"]),
            row("istio-ingressgateway", one(), None, &[]),
            row("istio-pilot", one(), None, &["k1-node03"]),
            row("istio-policy", one(), None, &["k1-node02"]),
            row("istio-telemetry", one(), None, &["k1-node05"]),
            row(
                "elasticsearch-k1-master-pdb",
                None,
                one(),
                &["k1-node01", "k1-node02"]
            ),
        ]
    );

    let skew: Vec<(String, u32)> = m
        .nodes()
        .iter()
        .map(|n| (n.name.to_string(), n.minor_skew))
        .collect();
    assert_eq!(skew.iter().filter(|(_, s)| *s == 1).count(), 5);
    assert_eq!(node_row(&m, "k1-node03").labels, ["taco-istio=enabled"]);
    assert_eq!(ns_row(&m, "default").revision.as_deref(), Some("1-9-1"));
    assert_eq!(ns_row(&m, "legacy-shop").revision, None);
    assert_eq!(
        m.pod("logging", "elasticsearch-k1-master-2")
            .map(|p| p.status.to_string())
            .as_deref(),
        Some("CrashLoopBackOff")
    );
    assert!(codes(&m).contains(&"legacy-injection-label"));
    assert!(!codes(&m).contains(&"gateway-missing-mesh-config"));
    // Pods of one template share one label set.
    let a = m.pod("kube-system", "kube-proxy-jm2z4").expect("pod");
    let b = m.pod("kube-system", "kube-proxy-mtjfb").expect("pod");
    assert!(std::sync::Arc::ptr_eq(&a.labels.0, &b.labels.0));
}

#[test]
fn facts_read_again_are_the_same_until_the_model_changes() {
    let mut m = Model::new();
    m.apply(applied(
        pdb("default", "web", &[("app", "web")])
            .min_available(1)
            .status(0, 1, 1, 1)
            .build(),
    ));
    let first = m.disruption();
    assert_eq!(first.len(), 1);
    // Nothing changed: the same rows, built once.
    assert_eq!(m.disruption(), first);
    // A second budget moves the generation: the rows are built again and show it.
    m.apply(applied(
        pdb("default", "api", &[("app", "api")])
            .min_available(1)
            .status(1, 2, 2, 2)
            .build(),
    ));
    let names: Vec<String> = m.disruption().iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, ["api", "web"]);
    let findings = m.findings();
    assert_eq!(m.findings(), findings);
    m.set_focus(Some("default"));
    assert_eq!(
        m.disruption().len(),
        2,
        "facts count every namespace under -n"
    );
}
