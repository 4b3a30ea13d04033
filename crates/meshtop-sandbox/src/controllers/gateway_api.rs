//! istiod's Gateway API controllers: the built-in GatewayClasses and their status, and for each
//! `Gateway` of class `istio` or `istio-waypoint` the Deployment and Service istiod deploys
//! (the `kube-gateway` and `waypoint` templates of the istiod chart), owned by the Gateway, and
//! the Gateway's status (`Accepted`, `Programmed` once a pod is Ready, `addresses`).
//!
//! Names and labels follow `pilot/pkg/config/kube/gateway/deploymentcontroller.go` (1.29): the
//! Deployment is `<gateway>-<class>` for `istio` and the Gateway's own name for waypoints, selected
//! by `gateway.networking.k8s.io/gateway-name`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use jiff::Timestamp;

use super::super::api::{self, WriteOptions};
use super::super::patch::strategic_merge_patch;
use super::super::resources::ResourceType;
use super::super::store::{Stored, meta_str, timestamp};
use super::injection::{default_revision, istiod_of, release_of, resolve_tag};
use super::{
    Cluster, Types, at, fnv64, is_deleting, is_ready, label, log_write, objects, owner_ref,
    set_condition, write_status,
};

const GROUP: &str = "gateway.networking.k8s.io";
const NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
const CLASS_LABEL: &str = "gateway.networking.k8s.io/gateway-class-name";
const MANAGED_LABEL: &str = "gateway.istio.io/managed";

/// A GatewayClass istiod creates and answers for.
struct BuiltinClass {
    name: &'static str,
    controller: &'static str,
    description: &'static str,
}

/// The classes istiod 1.29 creates with its default settings (`getBuiltinClasses`).
const BUILTIN_CLASSES: [BuiltinClass; 3] = [
    BuiltinClass {
        name: "istio",
        controller: "istio.io/gateway-controller",
        description: "The default Istio GatewayClass",
    },
    BuiltinClass {
        name: "istio-remote",
        controller: "istio.io/unmanaged-gateway",
        description: "Remote to this cluster. Does not deploy or affect configuration.",
    },
    BuiltinClass {
        name: "istio-waypoint",
        controller: "istio.io/mesh-controller",
        description: "The default Istio waypoint GatewayClass",
    },
];

/// What istiod deploys for a class.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deployed {
    /// `istio`: an ingress gateway, a LoadBalancer Service, `proxy router`.
    Router,
    /// `istio-waypoint`: a waypoint, a ClusterIP Service, `proxy waypoint`.
    Waypoint,
}

impl Deployed {
    fn of(class: &str) -> Option<Self> {
        match class {
            "istio" => Some(Self::Router),
            "istio-waypoint" => Some(Self::Waypoint),
            _ => None,
        }
    }

    fn deployment_name(self, gateway: &str, class: &str) -> String {
        match self {
            Self::Router => format!("{gateway}-{class}"),
            Self::Waypoint => gateway.to_string(),
        }
    }

    fn managed(self) -> &'static str {
        match self {
            Self::Router => "istio.io-gateway-controller",
            Self::Waypoint => "istio.io-mesh-controller",
        }
    }
}

pub(super) fn reconcile(cluster: &mut Cluster, types: &Types, now: Timestamp) {
    if let Some(gc) = &types.gateway_class {
        classes(cluster, gc, now);
    }
    let Some(gt) = &types.gateway else { return };
    for gw in objects(cluster, gt) {
        if is_deleting(gw.head()) {
            continue;
        }
        gateway(cluster, types, gt, &gw, now);
    }
}

/// Creates the built-in classes once some istiod runs, and accepts the classes istiod owns.
fn classes(cluster: &mut Cluster, gc: &ResourceType, now: Timestamp) {
    // istiod runs in istio-system, looked at first so that a write does not walk every
    // Deployment of the cluster.
    let is_istiod = |d: &Arc<Stored>| label(d.head(), "app") == Some("istiod");
    let has_istiod = cluster
        .store
        .list("deployments.apps", Some("istio-system"))
        .any(is_istiod)
        || cluster.store.list("deployments.apps", None).any(is_istiod);
    if has_istiod {
        for class in &BUILTIN_CLASSES {
            if cluster.store.get(&gc.key(), "", class.name).is_none() {
                let obj = json!({
                    "apiVersion": format!("{GROUP}/v1"),
                    "kind": "GatewayClass",
                    "metadata": {"name": class.name},
                    "spec": {"controllerName": class.controller, "description": class.description},
                });
                log_write(
                    "create gatewayclass",
                    class.name,
                    api::create(cluster, gc, obj, now, &WriteOptions::internal()),
                );
            }
        }
    }
    let ts = timestamp(now);
    for class in objects(cluster, gc) {
        let controller = at(class.head(), &["spec", "controllerName"])
            .and_then(Value::as_str)
            .unwrap_or("");
        if !BUILTIN_CLASSES.iter().any(|b| b.controller == controller) || !has_istiod {
            continue;
        }
        let mut status = status_of(class.head());
        let generation = class.head().pointer("/metadata/generation").cloned();
        let cond = json!({"type": "Accepted", "status": "True", "reason": "Accepted",
                          "message": "Handled by Istio controller", "observedGeneration": generation});
        set_condition(&mut status, cond, &ts, false);
        write_status(cluster, gc, &class, status);
    }
}

fn status_of(obj: &Value) -> Value {
    obj.get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

/// The revision that owns a Gateway: its `istio.io/rev` label (a tag resolves to its
/// revision), else the default revision.
fn owning_revision(cluster: &Cluster, gw: &Value) -> Option<String> {
    match label(gw, "istio.io/rev") {
        Some(rev) => Some(resolve_tag(cluster, rev)),
        None => default_revision(cluster),
    }
}

/// The Service ports of a Gateway: the status port, then one per listener port
/// (`<protocol>-<port>`); a waypoint serves HBONE on 15008.
fn service_ports(gw: &Value, kind: Deployed) -> Vec<Value> {
    let mut ports = vec![
        json!({"name": "status-port", "port": 15021, "protocol": "TCP", "appProtocol": "tcp"}),
    ];
    if kind == Deployed::Waypoint {
        ports.push(json!({"name": "mesh", "port": 15008, "protocol": "TCP", "appProtocol": "all"}));
        return ports;
    }
    let mut seen = Vec::new();
    for l in listeners(gw) {
        let Some(port) = l.get("port").and_then(Value::as_u64) else {
            continue;
        };
        if seen.contains(&port) {
            continue;
        }
        seen.push(port);
        let protocol = l
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_lowercase();
        let app = match protocol.as_str() {
            "http" => "http",
            "https" | "tls" => "https",
            _ => "tcp",
        };
        ports.push(
            json!({"name": format!("{protocol}-{port}"), "port": port, "protocol": "TCP",
                          "appProtocol": app}),
        );
    }
    ports
}

fn listeners(gw: &Value) -> impl Iterator<Item = &Value> {
    at(gw, &["spec", "listeners"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The customisation a Gateway names in `spec.infrastructure.parametersRef` (a ConfigMap
/// whose `deployment` key is merged into the Deployment istiod renders).
fn deployment_overlay(cluster: &Cluster, gw: &Value) -> Option<Value> {
    let r = at(gw, &["spec", "infrastructure", "parametersRef"])?;
    if r.get("kind").and_then(Value::as_str) != Some("ConfigMap") {
        return None;
    }
    let name = r.get("name").and_then(Value::as_str)?;
    let cm = cluster
        .store
        .get("configmaps", meta_str(gw, "namespace"), name)?;
    let text = at(cm.head(), &["data", "deployment"]).and_then(Value::as_str)?;
    serde_yaml::from_str::<Value>(text).ok()
}

/// The labels of everything istiod deploys for a Gateway: the Gateway's own, then its marks.
fn infrastructure_labels(gw: &Value, class: &str, extra: &[(&str, &str)]) -> Value {
    let mut m: Map<String, Value> = at(gw, &["metadata", "labels"])
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    m.insert(NAME_LABEL.into(), json!(meta_str(gw, "name")));
    m.insert(CLASS_LABEL.into(), json!(class));
    for (k, v) in extra {
        m.insert((*k).into(), json!(v));
    }
    Value::Object(m)
}

fn gateway(cluster: &mut Cluster, types: &Types, gt: &ResourceType, gw: &Stored, now: Timestamp) {
    let class = at(gw.head(), &["spec", "gatewayClassName"])
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(kind) = Deployed::of(&class) else {
        return;
    };
    // A Gateway no running revision owns is left alone, with no status, as istiod does.
    let Some(revision) = owning_revision(cluster, gw.head()) else {
        return;
    };
    let Some(istiod) = istiod_of(cluster, &revision) else {
        return;
    };
    let name = meta_str(gw.head(), "name").to_string();
    let ns = meta_str(gw.head(), "namespace").to_string();
    let deploy_name = kind.deployment_name(&name, &class);
    let owner = owner_ref(gw.head());
    if cluster
        .store
        .get(&types.service.key(), &ns, &deploy_name)
        .is_none()
    {
        let mut svc = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": deploy_name, "namespace": ns, "labels": infrastructure_labels(gw.head(), &class, &[]),
                         "ownerReferences": [owner.clone()]},
            "spec": {
                "ports": service_ports(gw.head(), kind),
                "selector": {NAME_LABEL: name},
                "type": if kind == Deployed::Router { "LoadBalancer" } else { "ClusterIP" },
            },
        });
        if kind == Deployed::Router {
            // The address a load balancer gives; the documentation range, stable per Service.
            let host = 10 + fnv64(format!("{ns}/{deploy_name}").as_bytes()) % 240;
            svc["status"] = json!({"loadBalancer": {"ingress": [{"ip": format!("203.0.113.{host}"), "ipMode": "VIP"}]}});
        }
        log_write(
            "gateway service",
            &deploy_name,
            api::create(cluster, &types.service, svc, now, &WriteOptions::internal()),
        );
    }
    if cluster
        .store
        .get(&types.deployment.key(), &ns, &deploy_name)
        .is_none()
    {
        let mut deployment =
            rendered_deployment(gw.head(), &class, kind, &deploy_name, &revision, &istiod);
        if let Some(overlay) = deployment_overlay(cluster, gw.head())
            && let Ok(merged) = strategic_merge_patch(&deployment, &overlay)
        {
            deployment = merged;
        }
        log_write(
            "gateway deployment",
            &deploy_name,
            api::create(
                cluster,
                &types.deployment,
                deployment,
                now,
                &WriteOptions::internal(),
            ),
        );
    }
    gateway_status(cluster, gt, gw, kind, &deploy_name, now);
}

/// The Deployment the `kube-gateway` / `waypoint` template renders.
fn rendered_deployment(
    gw: &Value,
    class: &str,
    kind: Deployed,
    deploy_name: &str,
    revision: &str,
    istiod: &Value,
) -> Value {
    let name = meta_str(gw, "name");
    let ns = meta_str(gw, "namespace");
    let (hub, tag) = release_of(istiod);
    let mut pod_labels = vec![
        ("sidecar.istio.io/inject", "false"),
        ("service.istio.io/canonical-name", deploy_name),
        ("service.istio.io/canonical-revision", "latest"),
        (MANAGED_LABEL, kind.managed()),
    ];
    if kind == Deployed::Waypoint {
        pod_labels.push(("istio.io/dataplane-mode", "none"));
    }
    let istiod_addr = format!(
        "{}.{}.svc:15012",
        meta_str(istiod, "name"),
        meta_str(istiod, "namespace")
    );
    let mode = match kind {
        Deployed::Router => "router",
        Deployed::Waypoint => "waypoint",
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deploy_name,
            "namespace": ns,
            "labels": infrastructure_labels(gw, class, &[(MANAGED_LABEL, kind.managed())]),
            "ownerReferences": [owner_ref(gw)],
        },
        "spec": {
            "selector": {"matchLabels": {NAME_LABEL: name}},
            "template": {
                "metadata": {
                    "annotations": {"istio.io/rev": revision, "prometheus.io/path": "/stats/prometheus",
                                    "prometheus.io/port": "15020", "prometheus.io/scrape": "true"},
                    "labels": infrastructure_labels(gw, class, &pod_labels),
                },
                "spec": {
                    "serviceAccountName": deploy_name,
                    "containers": [{
                        "name": "istio-proxy",
                        "image": format!("{hub}/proxyv2:{tag}"),
                        "args": ["proxy", mode, "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning",
                                 "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
                        "env": [
                            {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                            {"name": "CA_ADDR", "value": istiod_addr},
                            {"name": "ISTIO_META_WORKLOAD_NAME", "value": deploy_name},
                            {"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"},
                        ],
                        "ports": [{"containerPort": 15020, "name": "metrics", "protocol": "TCP"},
                                  {"containerPort": 15021, "name": "status-port", "protocol": "TCP"},
                                  {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
                        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
                                           "failureThreshold": 4, "initialDelaySeconds": 0, "periodSeconds": 15,
                                           "successThreshold": 1, "timeoutSeconds": 1},
                        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                    }],
                },
            },
        },
    })
}

/// Accepted, and Programmed once a pod behind the Service is Ready, with the addresses and
/// the reasons istiod gives (`conversion.go` setProgrammedCondition).
fn gateway_status(
    cluster: &mut Cluster,
    gt: &ResourceType,
    gw: &Stored,
    kind: Deployed,
    deploy_name: &str,
    now: Timestamp,
) {
    let ns = meta_str(gw.head(), "namespace");
    let name = meta_str(gw.head(), "name");
    let host = format!("{deploy_name}.{ns}.svc.cluster.local");
    let ready = cluster
        .store
        .list("pods", Some(ns))
        .any(|p| label(p.head(), NAME_LABEL) == Some(name) && is_ready(p.head()));
    let generation = gw.head().pointer("/metadata/generation").cloned();
    let ts = timestamp(now);
    let mut status = status_of(gw.head());
    let lb_ip = cluster
        .store
        .get("services", ns, deploy_name)
        .and_then(|s| s.head().pointer("/status/loadBalancer/ingress/0/ip"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let addresses = match (kind, &lb_ip) {
        (Deployed::Router, Some(ip)) if ready => json!([{"type": "IPAddress", "value": ip}]),
        (Deployed::Waypoint, _) if ready => json!([{"type": "Hostname", "value": host}]),
        _ => json!([]),
    };
    let accepted = json!({"type": "Accepted", "status": "True", "reason": "Accepted",
                          "message": "Resource accepted", "observedGeneration": generation});
    let programmed = if ready {
        let ports: Vec<String> = service_ports(gw.head(), kind)
            .iter()
            .skip(1)
            .filter_map(|p| p.get("port").and_then(Value::as_u64))
            .map(|p| format!("{host}:{p}"))
            .collect();
        json!({"type": "Programmed", "status": "True", "reason": "Programmed",
               "message": format!("Resource programmed, assigned to service(s) {}", ports.join(", ")),
               "observedGeneration": generation})
    } else {
        json!({"type": "Programmed", "status": "False", "reason": "AddressNotAssigned",
               "message": format!("Failed to assign to any requested addresses: no instances found for hostname {host:?}"),
               "observedGeneration": generation})
    };
    set_condition(&mut status, accepted, &ts, false);
    set_condition(&mut status, programmed, &ts, false);
    if addresses.as_array().is_some_and(|a| a.is_empty()) {
        if let Some(m) = status.as_object_mut() {
            m.remove("addresses");
        }
    } else {
        status["addresses"] = addresses;
    }
    let old_listeners = status.get("listeners").cloned();
    let listeners: Vec<Value> = listeners(gw.head())
        .map(|l| {
            let lname = l.get("name").and_then(Value::as_str).unwrap_or("");
            let mut ls = old_listeners
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|x| x.get("name").and_then(Value::as_str) == Some(lname)))
                .cloned()
                .unwrap_or_else(|| json!({"name": lname}));
            ls["attachedRoutes"] = json!(attached_routes(cluster, gw.head(), lname));
            ls["supportedKinds"] = json!([{"group": GROUP, "kind": "HTTPRoute"}, {"group": GROUP, "kind": "GRPCRoute"}]);
            for (t, reason, message) in [
                ("Accepted", "Accepted", "No errors found"),
                ("Conflicted", "NoConflicts", "No errors found"),
                ("Programmed", "Programmed", "No errors found"),
                ("ResolvedRefs", "ResolvedRefs", "No errors found"),
            ] {
                let s = if t == "Conflicted" { "False" } else { "True" };
                let c = json!({"type": t, "status": s, "reason": reason, "message": message,
                               "observedGeneration": generation});
                set_condition(&mut ls, c, &ts, false);
            }
            ls
        })
        .collect();
    if !listeners.is_empty() {
        status["listeners"] = json!(listeners);
    }
    write_status(cluster, gt, gw, status);
}

/// HTTPRoutes whose `parentRefs` name this Gateway (and this listener, or none).
fn attached_routes(cluster: &Cluster, gw: &Value, listener: &str) -> u64 {
    let ns = meta_str(gw, "namespace");
    let name = meta_str(gw, "name");
    cluster
        .store
        .list("httproutes.gateway.networking.k8s.io", None)
        .filter(|r| {
            at(r.head(), &["spec", "parentRefs"])
                .and_then(Value::as_array)
                .is_some_and(|refs| {
                    refs.iter().any(|p| {
                        let pns = p
                            .get("namespace")
                            .and_then(Value::as_str)
                            .unwrap_or(meta_str(r.head(), "namespace"));
                        let section = p.get("sectionName").and_then(Value::as_str);
                        p.get("name").and_then(Value::as_str) == Some(name)
                            && pns == ns
                            && section.is_none_or(|s| s == listener)
                    })
                })
        })
        .count() as u64
}
