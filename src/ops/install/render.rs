//! Rendering the forms into IstioOperator objects from the templates under
//! `assets/templates/`, compiled in. A template's placeholders are whole scalar values,
//! filled with JSON-quoted strings (valid YAML whatever the value holds); the optional parts
//! are set on the parsed object, so an unset field keeps the operator's default.

use serde_json::{Map, Value, json};

use super::super::ActionError;
use super::form::{GatewayForm, GatewayKind, RevisionForm};

pub const IOP_API_VERSION: &str = "install.istio.io/v1alpha1";
pub const IOP_KIND: &str = "IstioOperator";

const REVISION_TEMPLATE: &str = include_str!("../../../assets/templates/revision.yaml");
const INGRESS_TEMPLATE: &str = include_str!("../../../assets/templates/gateway-ingress.yaml");
const EGRESS_TEMPLATE: &str = include_str!("../../../assets/templates/gateway-egress.yaml");

/// Fills `${key}` placeholders and parses the result.
fn fill(template: &str, name: &str, vars: &[(&str, &str)]) -> Result<Value, ActionError> {
    let broken = |why: String| ActionError::Invalid(format!("template {name}: {why}"));
    let mut text: String = template
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    for (key, value) in vars {
        let quoted = serde_json::to_string(value).map_err(|e| broken(e.to_string()))?;
        text = text.replace(&format!("${{{key}}}"), &quoted);
    }
    if let Some(at) = text.find("${") {
        let rest: String = text[at..].chars().take(40).collect();
        return Err(broken(format!("unfilled placeholder at {rest:?}")));
    }
    serde_yaml::from_str(&text).map_err(|e| broken(e.to_string()))
}

/// The value at a path of object keys, made (as objects) where missing.
pub(super) fn at<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Value {
    let mut cur = v;
    for k in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = &mut cur[*k];
    }
    cur
}

/// A control-plane revision's IstioOperator, in the istio namespace.
pub fn render_revision(form: &RevisionForm, istio_namespace: &str) -> Result<Value, ActionError> {
    let iop_name = form.iop_name();
    let discovery = format!("istiod-{}.{istio_namespace}.svc:15012", form.revision);
    let mut iop = fill(
        REVISION_TEMPLATE,
        "revision.yaml",
        &[
            ("iop_name", &iop_name),
            ("iop_namespace", istio_namespace),
            ("revision", &form.revision),
            ("profile", &form.profile),
            ("discovery_address", &discovery),
            ("istio_namespace", istio_namespace),
        ],
    )?;
    if let Some(hub) = &form.hub {
        *at(&mut iop, &["spec", "hub"]) = json!(hub);
    }
    if let Some(tag) = &form.tag {
        *at(&mut iop, &["spec", "tag"]) = json!(tag);
    }
    let k8s = at(&mut iop, &["spec", "components", "pilot", "k8s"]);
    if !form.node_selector.is_empty() {
        *at(k8s, &["nodeSelector"]) = json!(form.node_selector);
    }
    if let Some(min) = form.hpa_min {
        *at(k8s, &["hpaSpec", "minReplicas"]) = json!(min);
    }
    if let Some(max) = form.hpa_max {
        *at(k8s, &["hpaSpec", "maxReplicas"]) = json!(max);
    }
    Ok(iop)
}

/// A gateway's IstioOperator, in the istio namespace; the gateway goes to its namespace.
pub fn render_gateway(form: &GatewayForm, istio_namespace: &str) -> Result<Value, ActionError> {
    let (template, name) = match form.kind {
        GatewayKind::Ingress => (INGRESS_TEMPLATE, "gateway-ingress.yaml"),
        GatewayKind::Egress => (EGRESS_TEMPLATE, "gateway-egress.yaml"),
    };
    let iop_name = form.iop_name();
    let mut iop = fill(
        template,
        name,
        &[
            ("iop_name", &iop_name),
            ("iop_namespace", istio_namespace),
            ("revision", &form.revision),
            ("istio_namespace", istio_namespace),
            ("name", &form.name),
            ("namespace", &form.namespace),
            ("service_type", form.effective_service_type().as_str()),
        ],
    )?;
    // The revisionless control plane is written without a revision.
    if form.revision == "default"
        && let Some(spec) = iop.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.remove("revision");
    }
    let pointer = format!("/spec/components/{}/0", form.kind.component_list());
    let Some(gateway) = iop.pointer_mut(&pointer) else {
        return Err(ActionError::Invalid(format!(
            "template {name}: no gateway at {pointer}"
        )));
    };
    *at(gateway, &["label"]) = json!(form.effective_labels());
    let node_ports = form.node_ports();
    if let Some(ports) = gateway
        .pointer_mut("/k8s/service/ports")
        .and_then(Value::as_array_mut)
    {
        for port in ports.iter_mut() {
            let pname = port.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some((_, np)) = node_ports.iter().find(|(n, _)| *n == pname) {
                port["nodePort"] = json!(np);
            }
        }
    }
    let k8s = at(gateway, &["k8s"]);
    if let Some(n) = form.replicas {
        // The operator's autoscaler stays on: its minimum keeps the replicas asked for.
        *at(k8s, &["replicaCount"]) = json!(n);
        *at(k8s, &["hpaSpec", "minReplicas"]) = json!(n);
        *at(k8s, &["hpaSpec", "maxReplicas"]) = json!(n.max(form.hpa_bounds().1));
    } else if form.hpa_min.is_some() || form.hpa_max.is_some() {
        let (min, max) = form.hpa_bounds();
        *at(k8s, &["hpaSpec", "minReplicas"]) = json!(min);
        *at(k8s, &["hpaSpec", "maxReplicas"]) = json!(max);
    }
    Ok(iop)
}

#[cfg(test)]
mod tests {
    use super::super::form::ServiceType;
    use super::*;

    #[test]
    fn templates_are_filled_and_have_no_placeholders_left() {
        for (t, n) in [
            (REVISION_TEMPLATE, "revision"),
            (INGRESS_TEMPLATE, "ingress"),
            (EGRESS_TEMPLATE, "egress"),
        ] {
            let keys = [
                "iop_name",
                "iop_namespace",
                "revision",
                "profile",
                "discovery_address",
                "istio_namespace",
                "name",
                "namespace",
                "service_type",
            ];
            let vars: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "x: \"y\" #z")).collect();
            let v = fill(t, n, &vars).expect(n);
            assert_eq!(v["apiVersion"], IOP_API_VERSION, "{n}");
            assert_eq!(v["kind"], IOP_KIND, "{n}");
            // A value with YAML syntax in it stays one string.
            assert_eq!(v["metadata"]["name"], "x: \"y\" #z", "{n}");
        }
        assert!(fill("a: ${b}\n", "t", &[]).is_err());
    }

    #[test]
    fn revision_renders_like_the_seeds_control_plane() {
        let mut f = RevisionForm::new("1-10-0");
        let plain = render_revision(&f, "istio-system").expect("render");
        assert_eq!(
            plain,
            json!({
                "apiVersion": "install.istio.io/v1alpha1",
                "kind": "IstioOperator",
                "metadata": {"name": "istio-controlplane-1-10-0", "namespace": "istio-system"},
                "spec": {
                    "revision": "1-10-0",
                    "profile": "minimal",
                    "meshConfig": {
                        "accessLogFile": "/dev/stdout",
                        "enablePrometheusMerge": true,
                        "defaultConfig": {"discoveryAddress": "istiod-1-10-0.istio-system.svc:15012"},
                    },
                    "values": {"global": {"istioNamespace": "istio-system"}},
                    "components": {"pilot": {"enabled": true, "k8s": {}}},
                },
            })
        );
        f.hub = Some("docker.io/istio".into());
        f.tag = Some("1.10.0".into());
        f.node_selector
            .insert("taco-istio".into(), "enabled".into());
        f.hpa_min = Some(2);
        f.hpa_max = Some(10);
        f.profile = "default".into();
        let v = render_revision(&f, "istio-system").expect("render");
        assert_eq!(v["spec"]["hub"], "docker.io/istio");
        assert_eq!(v["spec"]["tag"], "1.10.0");
        assert_eq!(v["spec"]["profile"], "default");
        assert_eq!(
            v["spec"]["components"]["pilot"]["k8s"],
            json!({"nodeSelector": {"taco-istio": "enabled"}, "hpaSpec": {"minReplicas": 2, "maxReplicas": 10}})
        );
    }

    #[test]
    fn gateway_renders_like_the_seeds_sample_gateway() {
        let mut f = GatewayForm::new(
            "istio-gateway-sample",
            "istio-ingressgateway-istio-gateway-sample",
            "1-9-1",
        );
        f.http_node_port = Some(31081);
        f.https_node_port = Some(31443);
        f.iop_name = Some("istio-gateway-sample".into());
        let v = render_gateway(&f, "istio-system").expect("render");
        assert_eq!(v["metadata"]["name"], "istio-gateway-sample");
        assert_eq!(v["spec"]["profile"], "empty");
        assert_eq!(v["spec"]["revision"], "1-9-1");
        let gw = &v["spec"]["components"]["ingressGateways"][0];
        assert_eq!(gw["namespace"], "istio-gateway-sample");
        assert_eq!(
            gw["label"],
            json!({"app": "istio-ingressgateway-istio-gateway-sample", "istio": "ingressgateway-istio-gateway-sample"})
        );
        assert_eq!(gw["k8s"]["service"]["type"], "NodePort");
        let ports = gw["k8s"]["service"]["ports"].as_array().expect("ports");
        let by_name = |n: &str| ports.iter().find(|p| p["name"] == n).expect(n).clone();
        assert_eq!(by_name("http2")["nodePort"], 31081);
        assert_eq!(by_name("https")["nodePort"], 31443);
        assert!(by_name("status-port").get("nodePort").is_none());

        let mut e = GatewayForm::new("egress", "istio-egressgateway-egress", "default");
        e.kind = GatewayKind::Egress;
        e.service_type = Some(ServiceType::ClusterIP);
        let v = render_gateway(&e, "istio-system").expect("render");
        assert!(v["spec"].get("revision").is_none());
        let gw = &v["spec"]["components"]["egressGateways"][0];
        assert_eq!(gw["k8s"]["service"]["type"], "ClusterIP");
        assert!(v["spec"]["components"].get("ingressGateways").is_none());
    }
}
