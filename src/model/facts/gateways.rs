//! Gateway deployments: their labels, replicas, autoscaler, Services and node ports, the Istio
//! `Gateway` resources that bind to them, and the `istio-<rev>` ConfigMap their namespace
//! needs (the seed's trap).

use std::collections::BTreeMap;

use super::super::intern::Name;
use super::super::labels::{Labels, Selector, keys};
use super::super::store::{Store, in_namespace};
use super::super::summary::{
    Installer, KubeGatewaySummary, ObjectKey, ServiceSummary, WorkloadSummary,
};
use super::{GatewayApiFacts, GatewayRow};

/// The mesh ConfigMap a proxy of this revision reads: `istio-<rev>`, or `istio`.
pub(crate) fn mesh_config_name(revision: Option<&str>) -> String {
    match revision {
        None | Some("" | "default") => "istio".into(),
        Some(rev) => format!("istio-{rev}"),
    }
}

fn label<'a>(w: &'a WorkloadSummary, key: &str) -> Option<&'a Name> {
    w.template_labels
        .get(key)
        .or_else(|| w.labels.get(key))
        .filter(|v| !v.is_empty())
}

fn kind(w: &WorkloadSummary) -> &'static str {
    match label(w, keys::OPERATOR_COMPONENT).map(|c| c.as_ref()) {
        Some("IngressGateways") => return "ingress",
        Some("EgressGateways") => return "egress",
        _ => {}
    }
    let istio = label(w, keys::ISTIO).map_or("", |v| v.as_ref());
    if istio.contains("egress") || w.name.contains("egress") {
        "egress"
    } else if istio.contains("ingress") || w.name.contains("ingress") {
        "ingress"
    } else {
        "unknown"
    }
}

/// Does the image run Envoy: `proxyv2`, or `auto` (the injector fills it in)?
fn proxy_image(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    image == "auto" || last.starts_with("proxyv2")
}

/// Whether the Deployment's pods run a proxy: by its images, else by a pod it runs.
fn runs_proxy(store: &Store, w: &WorkloadSummary) -> bool {
    w.images.iter().any(|i| proxy_image(i))
        || store
            .pods_matching(&w.namespace, &w.selector)
            .any(|p| p.has_proxy)
}

/// Does a label map (a Service's or an Istio Gateway's selector) select these pod labels?
fn selects(selector: &Labels, pod_labels: &Labels) -> bool {
    Selector::from_labels(selector).matches(pod_labels)
}

fn port_line(s: &ServiceSummary) -> impl Iterator<Item = String> + '_ {
    s.ports.iter().map(|p| match p.node_port {
        Some(np) => format!("{}:{np}/{}", p.port, p.protocol),
        None => format!("{}/{}", p.port, p.protocol),
    })
}

/// The gateway Deployments, in namespace/name order.
pub(crate) fn deployments(store: &Store) -> impl Iterator<Item = &WorkloadSummary> + '_ {
    store
        .index
        .gateway_deployments
        .iter()
        .filter_map(|k| store.deployments.get(k))
        .filter(|w| runs_proxy(store, w))
}

/// The row of one gateway Deployment: replicas, autoscaler, Services, Istio `Gateway`s.
fn deployment_row(store: &Store, w: &WorkloadSummary) -> GatewayRow {
    let revision = label(w, keys::ISTIO_REV).cloned();
    let hpa = in_namespace(&store.hpas, &w.namespace)
        .map(|(_, h)| h)
        .find(|h| h.target_kind.as_ref() == "Deployment" && h.target_name == w.name);
    // A Service with an empty selector selects nothing (its endpoints are manual).
    let services: Vec<&ServiceSummary> = in_namespace(&store.services, &w.namespace)
        .map(|(_, s)| s)
        .filter(|s| !s.selector.is_empty() && selects(&s.selector, &w.template_labels))
        .collect();
    let service_type = services
        .iter()
        .map(|s| &s.type_)
        .max_by_key(|t| match t.as_ref() {
            "LoadBalancer" => 3,
            "NodePort" => 2,
            "ClusterIP" => 1,
            _ => 0,
        })
        .cloned();
    let mut node_port_collisions: Vec<u16> = services
        .iter()
        .flat_map(|s| s.ports.iter().filter_map(|p| p.node_port))
        .filter(|np| store.index.node_ports.get(np).is_some_and(|s| s.len() > 1))
        .collect();
    node_port_collisions.sort_unstable();
    node_port_collisions.dedup();
    let gateway_resources = store
        .istio_gateways
        .values()
        .filter(|g| selects(&g.selector, &w.template_labels))
        .map(|g| format!("{}/{}", g.namespace, g.name))
        .collect();
    let config_map = ObjectKey {
        namespace: w.namespace.clone(),
        name: Name::from(mesh_config_name(revision.as_deref())),
    };
    GatewayRow {
        namespace: w.namespace.clone(),
        name: w.name.clone(),
        kind: Name::from(kind(w)),
        revision,
        app: label(w, keys::APP).cloned(),
        istio: label(w, keys::ISTIO).cloned(),
        ready: w.ready,
        desired: w.desired,
        hpa_min: hpa.map(|h| h.min_replicas),
        hpa_max: hpa.map(|h| h.max_replicas),
        service_type,
        ports: services.iter().flat_map(|s| port_line(s)).collect(),
        gateway_resources,
        has_mesh_config: store.config_maps.contains_key(&config_map),
        needs_mesh_config: w
            .template_labels
            .get(keys::SIDECAR_INJECT)
            .is_none_or(|v| v.as_ref() != "true"),
        duplicate_labels: false,
        node_port_collisions,
        installed_by: w.installer.as_ref().map(Installer::words),
        gateway_api: None,
    }
}

/// The Deployment istiod made for a Gateway API `Gateway`: labelled with its name.
fn gateway_deployment<'s>(store: &'s Store, g: &KubeGatewaySummary) -> Option<&'s WorkloadSummary> {
    in_namespace(&store.deployments, &g.namespace)
        .map(|(_, w)| w)
        .find(|w| w.labels.get(keys::GATEWAY_NAME) == Some(&g.name))
}

/// Is this Gateway one istiod serves: class `istio` or `istio-waypoint`?
pub(crate) fn istio_class(g: &KubeGatewaySummary) -> bool {
    matches!(g.class.as_ref(), "istio" | "istio-waypoint")
}

/// Who uses a waypoint: namespaces and services labelled `istio.io/use-waypoint` with its
/// name (in its namespace, or pointing at it with `istio.io/use-waypoint-namespace`).
fn waypoint_users(store: &Store, g: &KubeGatewaySummary) -> Vec<String> {
    let uses = |labels: &Labels, own_namespace: &Name| {
        labels.get(keys::USE_WAYPOINT) == Some(&g.name)
            && labels
                .get(keys::USE_WAYPOINT_NAMESPACE)
                .unwrap_or(own_namespace)
                == &g.namespace
    };
    let namespaces = store
        .namespaces
        .values()
        .filter(|ns| uses(&ns.labels, &ns.name))
        .map(|ns| ns.name.to_string());
    let services = store
        .services
        .values()
        .filter(|s| uses(&s.labels, &s.namespace))
        .map(|s| format!("{}/{}", s.namespace, s.name));
    namespaces.chain(services).collect()
}

/// A Gateway API `Gateway` as a gateway row: its Deployment's facts when istiod has made
/// one, and what the resource declares and its status says.
fn kube_gateway_row(store: &Store, g: &KubeGatewaySummary) -> GatewayRow {
    let deployment = gateway_deployment(store, g);
    let mut row = match deployment {
        Some(w) => deployment_row(store, w),
        None => GatewayRow {
            namespace: g.namespace.clone(),
            name: g.name.clone(),
            kind: Name::from(""),
            revision: None,
            app: None,
            istio: None,
            ready: 0,
            desired: 0,
            hpa_min: None,
            hpa_max: None,
            service_type: None,
            ports: Vec::new(),
            gateway_resources: Vec::new(),
            has_mesh_config: true,
            needs_mesh_config: false,
            duplicate_labels: false,
            node_port_collisions: Vec::new(),
            installed_by: None,
            gateway_api: None,
        },
    };
    row.name = g.name.clone();
    row.kind = Name::from(if g.is_waypoint() {
        "waypoint"
    } else {
        "ingress"
    });
    row.revision = g.labels.get(keys::ISTIO_REV).cloned().or(row.revision);
    row.installed_by = Some("istiod (Gateway API)".into());
    // istiod's own gateways read their mesh config from istiod, not a ConfigMap.
    row.needs_mesh_config = false;
    row.gateway_api = Some(GatewayApiFacts {
        class: g.class.clone(),
        listeners: g
            .listeners
            .iter()
            .map(|l| format!("{} {}/{}", l.name, l.port, l.protocol))
            .collect(),
        addresses: g.addresses.clone(),
        accepted: g.accepted,
        programmed: g.programmed,
        programmed_reason: g.programmed_reason.clone(),
        deployment: deployment.map(|w| w.name.clone()),
        waypoint_for: g.labels.get(keys::WAYPOINT_FOR).cloned(),
        used_by: if g.is_waypoint() {
            waypoint_users(store, g)
        } else {
            Vec::new()
        },
    });
    row
}

pub(crate) fn rows(store: &Store) -> Vec<GatewayRow> {
    let kube: Vec<&KubeGatewaySummary> = store
        .kube_gateways
        .values()
        .filter(|g| istio_class(g))
        .collect();
    let made_by_istiod = |w: &WorkloadSummary| {
        w.labels.get(keys::GATEWAY_NAME).is_some_and(|name| {
            kube.iter()
                .any(|g| g.namespace == w.namespace && g.name == *name)
        })
    };
    let mut rows: Vec<GatewayRow> = deployments(store)
        .filter(|w| !made_by_istiod(w))
        .map(|w| deployment_row(store, w))
        .chain(kube.iter().map(|g| kube_gateway_row(store, g)))
        .collect();
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));

    // Istio `Gateway` resources pick their gateway by these labels, in every namespace.
    let mut seen: BTreeMap<(&'static str, Name), u32> = BTreeMap::new();
    for r in &rows {
        for (k, v) in [("app", &r.app), ("istio", &r.istio)] {
            if let Some(v) = v {
                *seen.entry((k, v.clone())).or_default() += 1;
            }
        }
    }
    for r in &mut rows {
        r.duplicate_labels = [("app", &r.app), ("istio", &r.istio)]
            .into_iter()
            .any(|(k, v)| v.as_ref().is_some_and(|v| seen[&(k, v.clone())] > 1));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_images() {
        assert!(proxy_image("docker.io/istio/proxyv2:1.9.1"));
        assert!(proxy_image(
            "gcr.io/istio-release/proxyv2:1.30.3-distroless"
        ));
        assert!(proxy_image("auto"));
        assert!(!proxy_image("docker.io/istio/pilot:1.9.1"));
        assert!(!proxy_image("nginx:1.19"));
    }

    #[test]
    fn mesh_config_names() {
        assert_eq!(mesh_config_name(Some("1-9-1")), "istio-1-9-1");
        assert_eq!(mesh_config_name(Some("default")), "istio");
        assert_eq!(mesh_config_name(Some("")), "istio");
        assert_eq!(mesh_config_name(None), "istio");
    }
}
