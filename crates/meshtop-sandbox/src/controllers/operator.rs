//! The in-cluster IstioOperator controller: an IOP installs
//! its revision's istiod (Deployment, Service, mesh ConfigMap, injector webhook, PDB, HPA)
//! and its gateways, and reports RECONCILING until they are ready, then HEALTHY. What a
//! scenario already wrote is never installed again.

use serde_json::{Map, Value, json};

use jiff::Timestamp;

use super::super::api::{self, WriteOptions};
use super::super::resources::ResourceType;
use super::super::store::meta_str;
use super::{Cluster, Types, is_deleting, log_write, replicas, write_status};

const DEFAULT_HUB: &str = "docker.io/istio";
const DEFAULT_TAG: &str = "1.9.1";

/// One gateway of `components.ingressGateways[]` / `egressGateways[]`.
struct GatewayPlan {
    name: String,
    namespace: String,
    ingress: bool,
    /// The pod labels that also select it (`app`, `istio`).
    selector: Map<String, Value>,
    k8s: Value,
}

/// Who installs: the in-cluster operator (its labels name the IstioOperator), or the Sail
/// operator (its label, and an owner reference to the IstioRevision on everything).
pub(super) enum Installer {
    Operator,
    Sail { owner: Value },
}

/// What an IstioOperator (or a Sail IstioRevision) asks for.
pub(super) struct Plan {
    installer: Installer,
    iop_name: String,
    iop_namespace: String,
    revision: String,
    /// `""` for the default revision, `-<rev>` otherwise.
    suffix: String,
    namespace: String,
    hub: String,
    tag: String,
    base: bool,
    pilot: bool,
    pilot_k8s: Value,
    pdb: bool,
    hpa: bool,
    mesh_config: Value,
    gateways: Vec<GatewayPlan>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Plan {
    fn of(iop: &Value) -> Self {
        let spec = iop.get("spec").cloned().unwrap_or(json!({}));
        let s = |p: &str| spec.pointer(p);
        let revision = text(s("/revision")).unwrap_or_else(|| "default".into());
        let suffix = if revision == "default" {
            String::new()
        } else {
            format!("-{revision}")
        };
        let iop_namespace = meta_str(iop, "namespace").to_string();
        let namespace = text(s("/components/pilot/namespace"))
            .or_else(|| text(s("/namespace")))
            .or_else(|| text(s("/values/global/istioNamespace")))
            .unwrap_or_else(|| iop_namespace.clone());
        let profile = text(s("/profile")).unwrap_or_else(|| "default".into());
        let control_plane = !matches!(profile.as_str(), "empty" | "remote");
        let (ingress_default, egress_default) = match profile.as_str() {
            "demo" => (true, true),
            "default" | "preview" | "stable" | "openshift" => (true, false),
            _ => (false, false),
        };
        let mut gateways = Vec::new();
        for (list, ingress, default_on, default_name) in [
            (
                "ingressGateways",
                true,
                ingress_default,
                "istio-ingressgateway",
            ),
            (
                "egressGateways",
                false,
                egress_default,
                "istio-egressgateway",
            ),
        ] {
            // A list in the IOP replaces the profile's, as the operator's overlay does.
            let entries = match s(&format!("/components/{list}")).and_then(Value::as_array) {
                Some(a) => a.clone(),
                None if default_on => vec![json!({"name": default_name, "enabled": true})],
                None => Vec::new(),
            };
            for e in entries {
                let name = text(e.get("name")).unwrap_or_else(|| default_name.to_string());
                let enabled = flag(e.get("enabled")).unwrap_or(default_on && name == default_name);
                if !enabled {
                    continue;
                }
                let selector = match e.get("label").and_then(Value::as_object) {
                    Some(l) if !l.is_empty() => l.clone(),
                    _ => {
                        let short = if ingress {
                            "ingressgateway"
                        } else {
                            "egressgateway"
                        };
                        let mut m = Map::new();
                        m.insert("app".into(), json!(format!("istio-{short}")));
                        m.insert("istio".into(), json!(short));
                        m
                    }
                };
                gateways.push(GatewayPlan {
                    namespace: text(e.get("namespace")).unwrap_or_else(|| namespace.clone()),
                    name,
                    ingress,
                    selector,
                    k8s: e.get("k8s").cloned().unwrap_or(json!({})),
                });
            }
        }
        Plan {
            installer: Installer::Operator,
            iop_name: meta_str(iop, "name").to_string(),
            iop_namespace,
            suffix,
            namespace,
            hub: text(s("/hub")).unwrap_or_else(|| DEFAULT_HUB.into()),
            tag: text(s("/tag")).unwrap_or_else(|| DEFAULT_TAG.into()),
            base: flag(s("/components/base/enabled")).unwrap_or(control_plane),
            pilot: flag(s("/components/pilot/enabled")).unwrap_or(control_plane),
            pilot_k8s: s("/components/pilot/k8s").cloned().unwrap_or(json!({})),
            pdb: flag(s("/values/global/defaultPodDisruptionBudget/enabled")) != Some(false),
            hpa: flag(s("/values/pilot/autoscaleEnabled")) != Some(false),
            mesh_config: s("/meshConfig").cloned().unwrap_or(json!({})),
            gateways,
            revision,
        }
    }

    /// What a Sail `IstioRevision` asks for: its istiod, from the Helm values the istiod
    /// chart reads (`revision`, `global.hub`/`tag`, `pilot.*`, `meshConfig`), the version's
    /// image tag when the values name none.
    pub(super) fn of_sail_revision(rev: &Value) -> Self {
        let name = meta_str(rev, "name").to_string();
        let spec = rev.get("spec").cloned().unwrap_or(json!({}));
        let v = |p: &str| spec.pointer(&format!("/values{p}"));
        let revision = match text(v("/revision")) {
            Some(r) => r,
            None if name == "default" || name.is_empty() => "default".into(),
            None => name.clone(),
        };
        let suffix = if revision == "default" {
            String::new()
        } else {
            format!("-{revision}")
        };
        let version = text(spec.get("version")).unwrap_or_default();
        let mut pilot_k8s = json!({});
        for (from, to) in [
            ("/pilot/autoscaleMin", "minReplicas"),
            ("/pilot/autoscaleMax", "maxReplicas"),
        ] {
            if let Some(n) = v(from).and_then(Value::as_u64) {
                pilot_k8s["hpaSpec"][to] = json!(n);
            }
        }
        if let Some(n) = v("/pilot/replicaCount").and_then(Value::as_u64) {
            pilot_k8s["replicaCount"] = json!(n);
        }
        for f in ["nodeSelector", "tolerations", "affinity", "resources"] {
            if let Some(x) = v(&format!("/pilot/{f}")).filter(|x| !x.is_null()) {
                pilot_k8s[f] = x.clone();
            }
        }
        Plan {
            installer: Installer::Sail {
                owner: super::owner_ref(rev),
            },
            iop_name: name,
            iop_namespace: String::new(),
            suffix,
            namespace: text(spec.get("namespace")).unwrap_or_else(|| "istio-system".into()),
            hub: text(v("/global/hub")).unwrap_or_else(|| DEFAULT_HUB.into()),
            tag: text(v("/global/tag"))
                .unwrap_or_else(|| version.trim_start_matches('v').to_string()),
            base: false,
            pilot: flag(v("/pilot/enabled")) != Some(false),
            pilot_k8s,
            pdb: flag(v("/global/defaultPodDisruptionBudget/enabled")) != Some(false),
            hpa: flag(v("/pilot/autoscaleEnabled")) != Some(false),
            mesh_config: v("/meshConfig").cloned().unwrap_or(json!({})),
            gateways: Vec::new(),
            revision,
        }
    }

    pub(super) fn istiod_name(&self) -> String {
        format!("istiod{}", self.suffix)
    }

    /// istiod's image: `<hub>/pilot:<tag>`.
    pub(super) fn pilot_image(&self) -> String {
        format!("{}/pilot:{}", self.hub, self.tag)
    }

    /// Whether istiod is installed (`pilot.enabled`).
    pub(super) fn installs_istiod(&self) -> bool {
        self.pilot
    }

    pub(super) fn namespace(&self) -> &str {
        &self.namespace
    }

    pub(super) fn revision(&self) -> &str {
        &self.revision
    }

    /// An object to install, with the owner reference the installer puts on it.
    fn owned(&self, mut obj: Value) -> Value {
        if let Installer::Sail { owner } = &self.installer {
            obj["metadata"]["ownerReferences"] = json!([owner]);
        }
        obj
    }

    /// The labels the operator puts on everything of a component.
    fn labels(&self, component: &str) -> Map<String, Value> {
        let mut m = Map::new();
        if let Installer::Sail { .. } = &self.installer {
            m.insert("istio.io/rev".into(), json!(self.revision));
            m.insert(
                "app.kubernetes.io/managed-by".into(),
                json!("sail-operator"),
            );
            m.insert("app.kubernetes.io/version".into(), json!(self.tag));
            return m;
        }
        for (k, v) in [
            ("istio.io/rev", self.revision.as_str()),
            ("operator.istio.io/component", component),
            (
                "install.operator.istio.io/owning-resource",
                self.iop_name.as_str(),
            ),
            (
                "install.operator.istio.io/owning-resource-namespace",
                self.iop_namespace.as_str(),
            ),
            ("operator.istio.io/managed", "Reconcile"),
            ("operator.istio.io/version", self.tag.as_str()),
        ] {
            m.insert(k.into(), json!(v));
        }
        m
    }
}

fn merged(base: &Map<String, Value>, extra: &[(&str, &str)]) -> Value {
    let mut m = base.clone();
    for (k, v) in extra {
        m.insert((*k).into(), json!(v));
    }
    Value::Object(m)
}

/// `hpaSpec.minReplicas`, else `replicaCount`, else 1.
fn replica_count(k8s: &Value) -> u64 {
    k8s.pointer("/hpaSpec/minReplicas")
        .and_then(Value::as_u64)
        .or_else(|| k8s.get("replicaCount").and_then(Value::as_u64))
        .unwrap_or(1)
}

fn create_missing(cluster: &mut Cluster, t: &ResourceType, obj: Value, now: Timestamp) {
    let ns = if t.namespaced {
        meta_str(&obj, "namespace")
    } else {
        ""
    };
    if cluster
        .store
        .get(&t.key(), ns, meta_str(&obj, "name"))
        .is_some()
    {
        return;
    }
    let name = meta_str(&obj, "name").to_string();
    log_write(
        "operator install",
        &name,
        api::create(cluster, t, obj, now, &WriteOptions::internal()),
    );
}

/// Applies the k8s settings every component takes to a pod spec.
fn pod_settings(spec: &mut Value, k8s: &Value) {
    for f in [
        "nodeSelector",
        "tolerations",
        "affinity",
        "priorityClassName",
    ] {
        if let Some(v) = k8s.get(f).filter(|v| !v.is_null()) {
            spec[f] = v.clone();
        }
    }
}

fn hpa(name: &str, ns: &str, labels: Value, k8s: &Value) -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "minReplicas": k8s.pointer("/hpaSpec/minReplicas").and_then(Value::as_u64).unwrap_or(1),
            "maxReplicas": k8s.pointer("/hpaSpec/maxReplicas").and_then(Value::as_u64).unwrap_or(5),
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        },
    })
}

fn service(
    name: &str,
    ns: &str,
    labels: &Value,
    service_type: &str,
    selector: &Value,
    ports: Value,
) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"type": service_type, "selector": selector, "ports": ports},
    })
}

/// The Deployment of a component, rolled out as the operator's charts do.
fn deployment(
    name: &str,
    ns: &str,
    labels: &Value,
    k8s: &Value,
    selector: &Value,
    template: Value,
) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": replica_count(k8s),
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}},
            "template": template,
        },
    })
}

fn pdb(name: &str, ns: &str, labels: Value, selector: Value) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
    })
}

fn webhook(name: &str, plan: &Plan, namespace_selector: Value, object_selector: Value) -> Value {
    json!({
        "name": name,
        "admissionReviewVersions": ["v1beta1", "v1"],
        "clientConfig": {"service": {"name": plan.istiod_name(), "namespace": plan.namespace, "path": "/inject", "port": 443}},
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "namespaceSelector": namespace_selector,
        "objectSelector": object_selector,
        "reinvocationPolicy": "Never",
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "*"}],
        "sideEffects": "None",
        "timeoutSeconds": 10,
    })
}

/// The injector webhooks of a revision, with the selectors of the istiod chart.
fn injector_webhooks(plan: &Plan) -> Value {
    let expr = |key: &str, op: &str, values: &[&str]| {
        let mut e = json!({"key": key, "operator": op});
        if !values.is_empty() {
            e["values"] = json!(values);
        }
        e
    };
    let rev = plan.revision.as_str();
    let not_false = expr("sidecar.istio.io/inject", "NotIn", &["false"]);
    let mut hooks = vec![
        webhook(
            "rev.namespace.sidecar-injector.istio.io",
            plan,
            json!({"matchExpressions": [expr("istio.io/rev", "In", &[rev]), expr("istio-injection", "DoesNotExist", &[])]}),
            json!({"matchExpressions": [not_false.clone()]}),
        ),
        webhook(
            "rev.object.sidecar-injector.istio.io",
            plan,
            json!({"matchExpressions": [expr("istio.io/rev", "DoesNotExist", &[]), expr("istio-injection", "DoesNotExist", &[])]}),
            json!({"matchExpressions": [not_false.clone(), expr("istio.io/rev", "In", &[rev])]}),
        ),
    ];
    if rev == "default" {
        hooks.push(webhook(
            "namespace.sidecar-injector.istio.io",
            plan,
            json!({"matchExpressions": [expr("istio-injection", "In", &["enabled"])]}),
            json!({"matchExpressions": [not_false]}),
        ));
        hooks.push(webhook(
            "object.sidecar-injector.istio.io",
            plan,
            json!({"matchExpressions": [expr("istio-injection", "DoesNotExist", &[]), expr("istio.io/rev", "DoesNotExist", &[])]}),
            json!({"matchExpressions": [expr("sidecar.istio.io/inject", "In", &["true"]), expr("istio.io/rev", "DoesNotExist", &[])]}),
        ));
    }
    Value::Array(hooks)
}

pub(super) fn install_istiod(cluster: &mut Cluster, types: &Types, plan: &Plan, now: Timestamp) {
    let name = plan.istiod_name();
    let ns = plan.namespace.clone();
    if cluster
        .store
        .get(&types.deployment.key(), &ns, &name)
        .is_some()
    {
        return;
    }
    let base = plan.labels("Pilot");
    let rev = plan.revision.as_str();
    let labels = merged(&base, &[("app", "istiod"), ("istio", "pilot")]);
    let selector = json!({"app": "istiod", "istio.io/rev": rev});
    let ports = json!([
        {"name": "grpc-xds", "port": 15010, "protocol": "TCP", "targetPort": 15010},
        {"name": "https-dns", "port": 15012, "protocol": "TCP", "targetPort": 15012},
        {"name": "https-webhook", "port": 443, "protocol": "TCP", "targetPort": 15017},
        {"name": "http-monitoring", "port": 15014, "protocol": "TCP", "targetPort": 15014},
    ]);
    let service = service(&name, &ns, &labels, "ClusterIP", &selector, ports);
    create_missing(cluster, &types.service, plan.owned(service), now);
    let mut mesh = plan.mesh_config.clone();
    if !mesh.is_object() {
        mesh = json!({});
    }
    for (k, v) in [
        ("rootNamespace", ns.as_str()),
        ("trustDomain", "cluster.local"),
    ] {
        if mesh.get(k).is_none() {
            mesh[k] = json!(v);
        }
    }
    let mesh_yaml = serde_yaml::to_string(&mesh).unwrap_or_default();
    create_missing(
        cluster,
        &types.config_map,
        plan.owned(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": format!("istio{}", plan.suffix), "namespace": ns, "labels": merged(&base, &[("release", "istio")])},
            "data": {"mesh": mesh_yaml, "meshNetworks": "networks: {}\n"},
        })),
        now,
    );
    let mwc_name = if ns == "istio-system" {
        format!("istio-sidecar-injector{}", plan.suffix)
    } else {
        format!("istio-sidecar-injector{}-{ns}", plan.suffix)
    };
    create_missing(
        cluster,
        &types.mwc,
        plan.owned(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": mwc_name, "labels": merged(&base, &[("app", "sidecar-injector"), ("release", "istio")])},
            "webhooks": injector_webhooks(plan),
        })),
        now,
    );
    if plan.pdb {
        create_missing(
            cluster,
            &types.pdb,
            plan.owned(pdb(&name, &ns, labels.clone(), selector.clone())),
            now,
        );
    }
    if plan.hpa {
        create_missing(
            cluster,
            &types.hpa,
            plan.owned(hpa(&name, &ns, labels.clone(), &plan.pilot_k8s)),
            now,
        );
    }
    let k8s = &plan.pilot_k8s;
    let mut env = vec![
        json!({"name": "REVISION", "value": rev}),
        json!({"name": "JWT_POLICY", "value": "first-party-jwt"}),
        json!({"name": "PILOT_CERT_PROVIDER", "value": "istiod"}),
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}),
        json!({"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}}),
        json!({"name": "ISTIOD_ADDR", "value": format!("{name}.{ns}.svc:15012")}),
        json!({"name": "CLUSTER_ID", "value": "Kubernetes"}),
    ];
    env.extend(
        k8s.get("env")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    let pod_labels = merged(
        &plan.labels("Pilot"),
        &[
            ("app", "istiod"),
            ("istio", "pilot"),
            ("sidecar.istio.io/inject", "false"),
        ],
    );
    let mut pod_spec = json!({
        "serviceAccountName": name,
        "containers": [{
            "name": "discovery",
            "image": plan.pilot_image(),
            "imagePullPolicy": "IfNotPresent",
            "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info", "--domain", "cluster.local",
                     "--keepaliveMaxServerConnectionAge", "30m"],
            "env": env,
            "ports": [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 15010, "protocol": "TCP"},
                      {"containerPort": 15017, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 1,
                               "periodSeconds": 3, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 3},
            "resources": k8s.get("resources").cloned().unwrap_or(json!({"requests": {"cpu": "500m", "memory": "2048Mi"}})),
        }],
    });
    pod_settings(&mut pod_spec, k8s);
    let template = json!({
        "metadata": {
            "labels": pod_labels,
            "annotations": {"prometheus.io/port": "15014", "prometheus.io/scrape": "true", "sidecar.istio.io/inject": "false"},
        },
        "spec": pod_spec,
    });
    let deployment = deployment(&name, &ns, &labels, k8s, &selector, template);
    create_missing(cluster, &types.deployment, plan.owned(deployment), now);
}

fn default_gateway_ports(ingress: bool) -> Value {
    if ingress {
        json!([
            {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
            {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 8080},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            {"name": "tcp-istiod", "port": 15012, "protocol": "TCP", "targetPort": 15012},
            {"name": "tls", "port": 15443, "protocol": "TCP", "targetPort": 15443},
        ])
    } else {
        json!([
            {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 8080},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            {"name": "tls", "port": 15443, "protocol": "TCP", "targetPort": 15443},
        ])
    }
}

fn install_gateway(
    cluster: &mut Cluster,
    types: &Types,
    plan: &Plan,
    gw: &GatewayPlan,
    now: Timestamp,
) {
    let (name, ns) = (gw.name.as_str(), gw.namespace.as_str());
    if cluster
        .store
        .get(&types.deployment.key(), ns, name)
        .is_some()
    {
        return;
    }
    let component = if gw.ingress {
        "IngressGateways"
    } else {
        "EgressGateways"
    };
    let mut labels = plan.labels(component);
    labels.extend(gw.selector.clone());
    let labels = Value::Object(labels);
    let selector = Value::Object(gw.selector.clone());
    let k8s = &gw.k8s;
    let mut ports = k8s
        .pointer("/service/ports")
        .cloned()
        .unwrap_or_else(|| default_gateway_ports(gw.ingress));
    if let Some(ps) = ports.as_array_mut() {
        for p in ps.iter_mut() {
            if p.get("protocol").is_none() {
                p["protocol"] = json!("TCP");
            }
        }
    }
    let default_type = if gw.ingress {
        "LoadBalancer"
    } else {
        "ClusterIP"
    };
    let service_type = k8s
        .pointer("/service/type")
        .and_then(Value::as_str)
        .unwrap_or(default_type);
    let service = service(name, ns, &labels, service_type, &selector, ports);
    create_missing(cluster, &types.service, service, now);
    if plan.pdb {
        create_missing(
            cluster,
            &types.pdb,
            pdb(name, ns, labels.clone(), selector.clone()),
            now,
        );
    }
    create_missing(cluster, &types.hpa, hpa(name, ns, labels.clone(), k8s), now);
    let mut pod_labels = plan.labels(component);
    pod_labels.extend(gw.selector.clone());
    for (k, v) in [
        ("service.istio.io/canonical-name", name),
        ("service.istio.io/canonical-revision", "latest"),
        ("sidecar.istio.io/inject", "false"),
    ] {
        pod_labels.insert(k.into(), json!(v));
    }
    let mut pod_spec = json!({
        "serviceAccountName": format!("{name}-service-account"),
        "containers": [{
            "name": "istio-proxy",
            "image": format!("{}/proxyv2:{}", plan.hub, plan.tag),
            "imagePullPolicy": "IfNotPresent",
            "args": ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning",
                     "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
            "env": [
                {"name": "JWT_POLICY", "value": "first-party-jwt"},
                {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                {"name": "CA_ADDR", "value": format!("{}.{}.svc:15012", plan.istiod_name(), plan.namespace)},
                {"name": "ISTIO_META_WORKLOAD_NAME", "value": name},
                {"name": "ISTIO_META_ROUTER_MODE", "value": "sni-dnat"},
            ],
            "ports": [{"containerPort": 15021, "protocol": "TCP"}, {"containerPort": 8080, "protocol": "TCP"},
                      {"containerPort": 8443, "protocol": "TCP"}, {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}, "initialDelaySeconds": 1,
                               "periodSeconds": 2, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 30},
            "resources": k8s.get("resources").cloned().unwrap_or(json!({"requests": {"cpu": "100m", "memory": "128Mi"},
                                                                         "limits": {"cpu": "2", "memory": "1024Mi"}})),
        }],
    });
    pod_settings(&mut pod_spec, k8s);
    let template = json!({
        "metadata": {
            "labels": pod_labels,
            "annotations": {"prometheus.io/path": "/stats/prometheus", "prometheus.io/port": "15020",
                            "prometheus.io/scrape": "true", "sidecar.istio.io/inject": "false"},
        },
        "spec": pod_spec,
    });
    let deployment = deployment(name, ns, &labels, k8s, &selector, template);
    create_missing(cluster, &types.deployment, deployment, now);
}

fn ignored(iop: &Value) -> bool {
    is_deleting(iop)
        || iop
            .pointer("/metadata/annotations/install.istio.io~1ignoreReconcile")
            .and_then(Value::as_str)
            == Some("true")
}

pub(super) fn reconcile(cluster: &mut Cluster, types: &Types, now: Timestamp) {
    let Some(t) = &types.iop else { return };
    let iops: Vec<_> = cluster.store.list(&t.key(), None).cloned().collect();
    for iop in iops {
        if ignored(iop.head()) {
            continue;
        }
        let plan = Plan::of(iop.head());
        if plan.pilot {
            install_istiod(cluster, types, &plan, now);
        }
        for gw in &plan.gateways {
            install_gateway(cluster, types, &plan, gw, now);
        }
    }
}

/// HEALTHY when the Deployment has all its replicas updated and ready, RECONCILING before,
/// ERROR when it could not be installed.
pub(super) fn deployment_health(
    cluster: &Cluster,
    ns: &str,
    name: &str,
) -> (&'static str, Option<String>) {
    let Some(d) = cluster.store.get("deployments.apps", ns, name) else {
        return (
            "ERROR",
            Some(format!("Deployment {ns}/{name} could not be installed")),
        );
    };
    let n = |f: &str| {
        d.head()
            .pointer(&format!("/status/{f}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let observed = d
        .head()
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let generation = d
        .head()
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let want = replicas(d.head());
    if observed >= generation && n("readyReplicas") >= want && n("updatedReplicas") >= want {
        ("HEALTHY", None)
    } else {
        ("RECONCILING", None)
    }
}

fn worst<'a>(states: impl Iterator<Item = &'a str>) -> &'a str {
    let rank = |s: &str| match s {
        "ERROR" => 4,
        "UPDATING" => 3,
        "RECONCILING" => 2,
        "HEALTHY" => 1,
        _ => 0,
    };
    states.max_by_key(|s| rank(s)).unwrap_or("HEALTHY")
}

/// The status of the IOPs the sandbox reports on: those written without one.
pub(super) fn update_status(cluster: &mut Cluster, types: &Types) {
    let Some(t) = &types.iop else { return };
    let iops: Vec<_> = cluster.store.list(&t.key(), None).cloned().collect();
    for iop in iops {
        let uid = meta_str(iop.head(), "uid").to_string();
        if iop.head().get("status").is_none_or(Value::is_null) {
            cluster.controllers.iop_status.insert(uid.clone());
        }
        if !cluster.controllers.iop_status.contains(&uid) || ignored(iop.head()) {
            continue;
        }
        let plan = Plan::of(iop.head());
        let mut components = Map::new();
        let mut put = |key: &str, (status, error): (&str, Option<String>)| {
            let mut c = json!({"status": status});
            if let Some(e) = error {
                c["error"] = json!(e);
            }
            components.insert(key.into(), c);
        };
        if plan.base {
            put("Base", ("HEALTHY", None));
        }
        if plan.pilot {
            put(
                "Pilot",
                deployment_health(cluster, &plan.namespace, &plan.istiod_name()),
            );
        }
        for (key, ingress) in [("IngressGateways", true), ("EgressGateways", false)] {
            let states: Vec<(&str, Option<String>)> = plan
                .gateways
                .iter()
                .filter(|g| g.ingress == ingress)
                .map(|g| deployment_health(cluster, &g.namespace, &g.name))
                .collect();
            if !states.is_empty() {
                let status = worst(states.iter().map(|(s, _)| *s));
                let errors: Vec<String> = states.iter().filter_map(|(_, e)| e.clone()).collect();
                put(
                    key,
                    (status, (!errors.is_empty()).then(|| errors.join("; "))),
                );
            }
        }
        let overall = worst(
            components
                .values()
                .filter_map(|c| c.get("status").and_then(Value::as_str)),
        );
        let status = json!({"status": overall, "componentStatus": components});
        write_status(cluster, t, &iop, status);
    }
}
