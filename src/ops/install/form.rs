//! The two install forms and the checks that need no cluster: names, label syntax, image
//! references, autoscaler bounds, node ports. Each problem names its field, so a form can
//! show it where it belongs.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::super::ActionError;
use super::super::label::{LabelChange, parse_label_change, validate_revision};
use super::super::names::{self, is_dns1123_label, is_dns1123_subdomain};
pub use crate::model::summary::GatewayKind;

/// The profiles a revision may start from: those that run istiod. `remote` runs none, and the operator skips `ambient`. `minimal` comes first:
/// it is istiod alone, what a canary revision wants (gateways are installed on their own).
pub const PROFILES: &[&str] = &[
    "minimal",
    "default",
    "demo",
    "empty",
    "preview",
    "stable",
    "openshift",
];

/// The profile a revision form starts with.
pub const DEFAULT_PROFILE: &str = "minimal";

/// Kubernetes' default `--service-node-port-range`.
pub const NODE_PORT_RANGE: RangeInclusive<u16> = 30000..=32767;

/// The autoscaler bounds the Istio charts use when the IOP sets none.
pub const DEFAULT_HPA_MIN: u32 = 1;
pub const DEFAULT_HPA_MAX: u32 = 5;

/// istiod's Service is `istiod-<rev>`, a DNS-1035 label of at most 63 characters.
const MAX_REVISION_LEN: usize = 63 - "istiod-".len();

/// One thing wrong with one field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The form field: `revision`, `profile`, `hub`, `tag`, `node_selector`, `hpa`,
    /// `iop_name`, `namespace`, `name`, `labels`, `service_type`, `node_ports`, `replicas`.
    pub field: &'static str,
    pub message: String,
}

impl Problem {
    pub(super) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// All problems as one [`ActionError::Invalid`], or `Ok` when there are none.
pub fn reject(problems: &[Problem]) -> Result<(), ActionError> {
    if problems.is_empty() {
        return Ok(());
    }
    let text: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    Err(ActionError::Invalid(text.join("; ")))
}

fn check_iop_name(name: &str, problems: &mut Vec<Problem>) {
    if !is_dns1123_subdomain(name) {
        problems.push(Problem::new(
            "iop_name",
            format!(
                "invalid IstioOperator name {name:?}: it must be a DNS-1123 subdomain (lowercase \
                 letters, digits, '-' and '.', at most 253 characters)"
            ),
        ));
    }
}

/// Parses `KEY=VALUE` items (node selectors, gateway labels) with Kubernetes' label syntax.
pub fn parse_key_values(
    items: &[String],
    what: &str,
) -> Result<BTreeMap<String, String>, ActionError> {
    let mut out = BTreeMap::new();
    for item in items {
        let bad = |why: &str| ActionError::Invalid(format!("invalid {what} {item:?}: {why}"));
        match parse_label_change(item) {
            Ok(LabelChange::Set { key, value }) => {
                if out.insert(key.clone(), value).is_some() {
                    return Err(bad(&format!("{key} is given twice")));
                }
            }
            Ok(LabelChange::Remove { .. }) => return Err(bad("expected KEY=VALUE")),
            Err(e) => return Err(ActionError::Invalid(format!("{what}: {e}"))),
        }
    }
    Ok(out)
}

fn check_labels(
    field: &'static str,
    what: &str,
    labels: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) {
    for (k, v) in labels {
        if let Err(e) = parse_label_change(&format!("{k}={v}")) {
            problems.push(Problem::new(field, format!("{what}: {e}")));
        }
    }
}

/// An image registry and repository path, as in `docker.io/istio`.
fn is_hub(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b':'))
        && !s.starts_with(['/', ':', '.', '-'])
        && !s.ends_with(['/', ':'])
        && !s.contains("//")
}

/// An image tag: up to 128 of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`.
fn is_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !s.starts_with(['.', '-'])
}

/// The autoscaler's bounds, a missing one taken as the charts' default.
fn check_hpa(hpa_min: Option<u32>, hpa_max: Option<u32>, problems: &mut Vec<Problem>) {
    let (min, max) = (
        hpa_min.unwrap_or(DEFAULT_HPA_MIN),
        hpa_max.unwrap_or(DEFAULT_HPA_MAX),
    );
    if min == 0 || max == 0 {
        problems.push(Problem::new(
            "hpa",
            "the autoscaler's minimum and maximum must be at least 1",
        ));
    } else if min > max {
        let max_from = if hpa_max.is_some() {
            "the maximum"
        } else {
            "the default maximum"
        };
        problems.push(Problem::new(
            "hpa",
            format!("the autoscaler's minimum {min} is above {max_from} {max}"),
        ));
    }
}

/// A control-plane revision: `istiod-<revision>` and its injector, from the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionForm {
    pub revision: String,
    pub profile: String,
    /// The image registry (`spec.hub`); the operator's default when `None`.
    pub hub: Option<String>,
    /// The image tag, i.e. the Istio version (`spec.tag`); the operator's when `None`.
    pub tag: Option<String>,
    /// Where istiod may run (the seed: `taco-istio=enabled`).
    pub node_selector: BTreeMap<String, String>,
    pub hpa_min: Option<u32>,
    pub hpa_max: Option<u32>,
    /// The IstioOperator's name; `istio-controlplane-<revision>` when `None`.
    pub iop_name: Option<String>,
}

impl RevisionForm {
    pub fn new(revision: impl Into<String>) -> Self {
        Self {
            revision: revision.into(),
            profile: DEFAULT_PROFILE.to_string(),
            hub: None,
            tag: None,
            node_selector: BTreeMap::new(),
            hpa_min: None,
            hpa_max: None,
            iop_name: None,
        }
    }

    pub fn iop_name(&self) -> String {
        self.iop_name
            .clone()
            .unwrap_or_else(|| format!("istio-controlplane-{}", self.revision))
    }

    /// The autoscaler bounds in effect: the form's, else the charts' defaults.
    pub fn hpa_bounds(&self) -> (u32, u32) {
        (
            self.hpa_min.unwrap_or(DEFAULT_HPA_MIN),
            self.hpa_max.unwrap_or(DEFAULT_HPA_MAX),
        )
    }

    /// What is wrong with the form on its own (no cluster needed).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let rev = self.revision.as_str();
        if let Err(e) = validate_revision(rev) {
            problems.push(Problem::new("revision", e.to_string()));
        } else if rev == "default" {
            problems.push(Problem::new(
                "revision",
                "revision \"default\" is the name of the revisionless control plane; choose a \
                 revision name such as 1-10-0 or canary",
            ));
        } else if rev.len() > MAX_REVISION_LEN {
            problems.push(Problem::new(
                "revision",
                format!(
                    "revision {rev:?} is too long: istiod's Service istiod-{rev} must fit in 63 \
                     characters, so a revision has at most {MAX_REVISION_LEN}"
                ),
            ));
        }
        if !PROFILES.contains(&self.profile.as_str()) {
            problems.push(Problem::new(
                "profile",
                format!(
                    "unknown profile {:?}: one of {} (remote runs no istiod; the operator skips \
                     ambient)",
                    self.profile,
                    PROFILES.join(", ")
                ),
            ));
        }
        if let Some(hub) = &self.hub
            && !is_hub(hub)
        {
            problems.push(Problem::new(
                "hub",
                format!("invalid hub {hub:?}: expected a registry path such as docker.io/istio"),
            ));
        }
        if let Some(tag) = &self.tag
            && !is_tag(tag)
        {
            problems.push(Problem::new(
                "tag",
                format!(
                    "invalid tag {tag:?}: at most 128 letters, digits, '_', '.' and '-', not \
                     starting with '.' or '-'"
                ),
            ));
        }
        check_labels(
            "node_selector",
            "node selector",
            &self.node_selector,
            &mut problems,
        );
        check_hpa(self.hpa_min, self.hpa_max, &mut problems);
        if let Some(name) = &self.iop_name {
            check_iop_name(name, &mut problems);
        }
        problems
    }

    pub fn validate(&self) -> Result<(), ActionError> {
        reject(&self.problems())
    }
}

/// The gateway Service's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceType {
    NodePort,
    LoadBalancer,
    ClusterIP,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ClusterIP => "ClusterIP",
        }
    }

    /// Node ports exist on NodePort and LoadBalancer Services.
    pub fn has_node_ports(self) -> bool {
        !matches!(self, ServiceType::ClusterIP)
    }
}

/// A gateway of a revision, in a namespace of its own (the seed's "a gateway per service").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayForm {
    /// Where the gateway runs; created if missing.
    pub namespace: String,
    /// The gateway's Deployment and Service.
    pub name: String,
    /// The control-plane revision it belongs to; it must be installed.
    pub revision: String,
    pub kind: GatewayKind,
    /// Its pod labels, which are also its selector; see [`GatewayForm::effective_labels`].
    pub labels: BTreeMap<String, String>,
    /// `None`: NodePort when node ports are given, else LoadBalancer for an ingress and
    /// ClusterIP for an egress gateway (Istio's defaults).
    pub service_type: Option<ServiceType>,
    /// The node port of `http2` (port 80).
    pub http_node_port: Option<u16>,
    /// The node port of `https` (port 443).
    pub https_node_port: Option<u16>,
    /// Replicas with no autoscaler; `None`: the installer's default (an autoscaler).
    pub replicas: Option<u32>,
    /// The autoscaler's bounds; a missing one is the charts' default (1, 5).
    pub hpa_min: Option<u32>,
    pub hpa_max: Option<u32>,
    /// The IstioOperator's name; the gateway's name when `None`.
    pub iop_name: Option<String>,
}

impl GatewayForm {
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        revision: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            revision: revision.into(),
            kind: GatewayKind::Ingress,
            labels: BTreeMap::new(),
            service_type: None,
            http_node_port: None,
            https_node_port: None,
            replicas: None,
            hpa_min: None,
            hpa_max: None,
            iop_name: None,
        }
    }

    /// The autoscaler bounds in effect: the form's, else the charts' defaults.
    pub fn hpa_bounds(&self) -> (u32, u32) {
        (
            self.hpa_min.unwrap_or(DEFAULT_HPA_MIN),
            self.hpa_max.unwrap_or(DEFAULT_HPA_MAX),
        )
    }

    /// The fewest replicas the gateway runs: its autoscaler's minimum, else its replicas.
    pub fn min_replicas(&self) -> u32 {
        match (
            self.replicas,
            self.hpa_min.or(self.hpa_max.map(|_| DEFAULT_HPA_MIN)),
        ) {
            (_, Some(min)) => min,
            (Some(n), None) => n,
            (None, None) => DEFAULT_HPA_MIN,
        }
    }

    /// The seed's naming: `istio-ingressgateway-<namespace>` (or egress).
    pub fn suggested_name(kind: GatewayKind, namespace: &str) -> String {
        format!("istio-{}gateway-{namespace}", kind.word())
    }

    pub fn iop_name(&self) -> String {
        self.iop_name.clone().unwrap_or_else(|| self.name.clone())
    }

    /// The form's labels, else those of the seed's per-service gateway: `app: <name>` and
    /// `istio: <name without "istio-">`, distinct from every other gateway's by construction.
    pub fn effective_labels(&self) -> BTreeMap<String, String> {
        if !self.labels.is_empty() {
            return self.labels.clone();
        }
        let short = self.name.strip_prefix("istio-").unwrap_or(&self.name);
        BTreeMap::from([
            ("app".to_string(), self.name.clone()),
            ("istio".to_string(), short.to_string()),
        ])
    }

    pub fn effective_service_type(&self) -> ServiceType {
        match self.service_type {
            Some(t) => t,
            None if self.http_node_port.is_some() || self.https_node_port.is_some() => {
                ServiceType::NodePort
            }
            None => match self.kind {
                GatewayKind::Ingress => ServiceType::LoadBalancer,
                GatewayKind::Egress => ServiceType::ClusterIP,
            },
        }
    }

    /// The node ports asked for, by Service port name.
    pub fn node_ports(&self) -> Vec<(&'static str, u16)> {
        let mut v = Vec::new();
        if let Some(p) = self.http_node_port {
            v.push(("http2", p));
        }
        if let Some(p) = self.https_node_port {
            v.push(("https", p));
        }
        v
    }

    /// What is wrong with the form on its own (no cluster needed).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Err(e) = names::namespace(&self.namespace) {
            problems.push(Problem::new("namespace", e.to_string()));
        }
        // The name is also the gateway's Service name: a DNS-1035 label, so a letter first.
        if !is_dns1123_label(&self.name) || !self.name.starts_with(|c: char| c.is_ascii_lowercase())
        {
            problems.push(Problem::new(
                "name",
                format!(
                    "invalid gateway name {:?}: it names the gateway's Deployment and Service, so \
                     it must be a DNS-1123 label starting with a letter (at most 63 lowercase \
                     letters, digits and '-')",
                    self.name
                ),
            ));
        }
        if let Err(e) = validate_revision(&self.revision) {
            problems.push(Problem::new("revision", e.to_string()));
        }
        check_labels("labels", "gateway label", &self.labels, &mut problems);
        let ports = self.node_ports();
        for (name, port) in &ports {
            if !NODE_PORT_RANGE.contains(port) {
                problems.push(Problem::new(
                    "node_ports",
                    format!(
                        "node port {port} for {name} is outside the node port range {}-{}",
                        NODE_PORT_RANGE.start(),
                        NODE_PORT_RANGE.end()
                    ),
                ));
            }
        }
        if let [(_, a), (_, b)] = ports.as_slice()
            && a == b
        {
            problems.push(Problem::new(
                "node_ports",
                format!("http2 and https cannot share node port {a}"),
            ));
        }
        if self.hpa_min.is_some() || self.hpa_max.is_some() {
            check_hpa(self.hpa_min, self.hpa_max, &mut problems);
            if self.replicas.is_some() {
                problems.push(Problem::new(
                    "replicas",
                    "give replicas or autoscaler bounds, not both: the autoscaler sets the \
                     replicas",
                ));
            }
        }
        if self.replicas == Some(0) {
            problems.push(Problem::new(
                "replicas",
                "a gateway needs at least 1 replica",
            ));
        }
        if !ports.is_empty() && !self.effective_service_type().has_node_ports() {
            problems.push(Problem::new(
                "service_type",
                "a ClusterIP Service has no node ports: use NodePort or LoadBalancer, or drop \
                 the node ports",
            ));
        }
        if let Some(name) = &self.iop_name {
            check_iop_name(name, &mut problems);
        }
        problems
    }

    pub fn validate(&self) -> Result<(), ActionError> {
        reject(&self.problems())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(p: &[Problem]) -> Vec<&'static str> {
        p.iter().map(|p| p.field).collect()
    }

    #[test]
    fn revision_names() {
        for ok in ["1-10-0", "canary", &"a".repeat(56)] {
            assert!(RevisionForm::new(ok).problems().is_empty(), "{ok}");
        }
        for bad in [
            "",
            "1.10.0",
            "Canary",
            "-x",
            "x-",
            "a_b",
            "default",
            &"a".repeat(57),
            &"a".repeat(64),
        ] {
            let p = RevisionForm::new(bad).problems();
            assert_eq!(fields(&p), vec!["revision"], "{bad}: {p:?}");
        }
        let e = RevisionForm::new("1.10.0").validate().expect_err("dots");
        assert!(matches!(e, ActionError::Invalid(_)), "{e:?}");
        assert!(e.to_string().contains("DNS-1123"), "{e}");
    }

    #[test]
    fn revision_fields() {
        let mut f = RevisionForm::new("canary");
        f.profile = "remote".into();
        f.hub = Some("docker.io/ istio".into());
        f.tag = Some("-1.10".into());
        f.node_selector
            .insert("taco istio".into(), "enabled".into());
        f.hpa_min = Some(3);
        f.hpa_max = Some(2);
        f.iop_name = Some("Bad_Name".into());
        assert_eq!(
            fields(&f.problems()),
            vec!["profile", "hub", "tag", "node_selector", "hpa", "iop_name"]
        );

        let mut f = RevisionForm::new("canary");
        f.hub = Some("registry.example.com:5000/istio".into());
        f.tag = Some("1.10.0-distroless".into());
        f.node_selector
            .insert("taco-istio".into(), "enabled".into());
        f.hpa_min = Some(2);
        f.hpa_max = Some(10);
        assert!(f.problems().is_empty(), "{:?}", f.problems());
        assert_eq!(f.iop_name(), "istio-controlplane-canary");

        // One bound alone is checked against the charts' default for the other.
        let mut f = RevisionForm::new("canary");
        f.hpa_min = Some(7);
        let p = f.problems();
        assert_eq!(fields(&p), vec!["hpa"]);
        assert!(p[0].message.contains("default maximum 5"), "{p:?}");
        f.hpa_min = Some(0);
        assert_eq!(fields(&f.problems()), vec!["hpa"]);
    }

    #[test]
    fn gateway_fields() {
        let f = GatewayForm::new("istio-gateway-shop", "istio-ingressgateway-shop", "1-9-1");
        assert!(f.problems().is_empty(), "{:?}", f.problems());
        assert_eq!(
            f.effective_labels(),
            BTreeMap::from([
                ("app".into(), "istio-ingressgateway-shop".into()),
                ("istio".into(), "ingressgateway-shop".into()),
            ])
        );
        assert_eq!(f.effective_service_type(), ServiceType::LoadBalancer);
        assert_eq!(f.iop_name(), "istio-ingressgateway-shop");
        assert_eq!(
            GatewayForm::suggested_name(GatewayKind::Egress, "shop"),
            "istio-egressgateway-shop"
        );

        let mut f = GatewayForm::new("Shop", "1gw", "1.9.1");
        f.labels.insert("istio".into(), "bad value!".into());
        f.http_node_port = Some(8080);
        f.https_node_port = Some(8080);
        f.service_type = Some(ServiceType::ClusterIP);
        assert_eq!(
            fields(&f.problems()),
            vec![
                "namespace",
                "name",
                "revision",
                "labels",
                "node_ports",
                "node_ports",
                "node_ports",
                "service_type"
            ]
        );

        let mut f = GatewayForm::new("shop", "gw", "default");
        f.kind = GatewayKind::Egress;
        assert_eq!(f.effective_service_type(), ServiceType::ClusterIP);
        f.https_node_port = Some(31443);
        assert_eq!(f.effective_service_type(), ServiceType::NodePort);
        assert!(f.problems().is_empty(), "{:?}", f.problems());
    }

    #[test]
    fn key_values() {
        let m =
            parse_key_values(&["taco-istio=enabled".into(), "zone=a".into()], "x").expect("valid");
        assert_eq!(m.len(), 2);
        for bad in [
            vec!["k".to_string()],
            vec!["k-".to_string()],
            vec!["k=v".to_string(), "k=w".to_string()],
        ] {
            assert!(parse_key_values(&bad, "x").is_err(), "{bad:?}");
        }
    }
}
