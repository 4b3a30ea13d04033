//! The Helm route: where the cluster's revisions are Helm releases, a new revision is the
//! `istio/istiod` chart installed as release `istiod-<rev>` with value `revision`, and a
//! gateway the `istio/gateway` chart as a release named after it, in its namespace. The
//! form becomes the chart's values (shown in the preview, editable in `$EDITOR`); the
//! revision is always given with `--set`, so an edit cannot move the release to another.

use serde_json::{Map, Value, json};

use super::super::ActionError;
use super::form::{GatewayForm, RevisionForm};
use super::render::at;

/// The charts' names in Istio's Helm repository, as `helm repo add istio …` names them.
pub const ISTIOD_CHART: &str = "istio/istiod";
pub const GATEWAY_CHART: &str = "istio/gateway";

/// One `helm upgrade --install` of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct HelmRelease {
    pub release: String,
    pub namespace: String,
    /// A repository chart (`istio/istiod`) or a local chart directory or archive.
    pub chart: String,
    /// The chart's version (`--version`): the Istio version, for Istio's charts.
    pub version: Option<String>,
    /// The control-plane revision, given as `--set revision=<rev>`; `None` for the
    /// revisionless control plane.
    pub revision: Option<String>,
    /// The values file's contents.
    pub values: Value,
}

/// A chart version: `1.30.1`, `1.30.0-beta.1`. An image tag such as `1.30.1-distroless`
/// is not one (Istio publishes no chart by that name): it goes to `global.tag`.
fn is_chart_version(tag: &str) -> bool {
    let (core, pre) = tag.split_once('-').unwrap_or((tag, ""));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && (pre.is_empty() || ["alpha", "beta", "rc"].iter().any(|w| pre.starts_with(w)))
}

impl HelmRelease {
    /// istiod of a revision: release `istiod-<rev>` in the istio namespace. Values: the
    /// hub (`global.hub`), the tag when it is no chart version (`global.tag`), the node
    /// selector and autoscaler bounds of `pilot`.
    pub fn istiod(form: &RevisionForm, chart: Option<&str>, istio_namespace: &str) -> Self {
        let mut values = Value::Object(Map::new());
        let mut version = None;
        if let Some(hub) = &form.hub {
            *at(&mut values, &["global", "hub"]) = json!(hub);
        }
        if let Some(tag) = &form.tag {
            if is_chart_version(tag) {
                version = Some(tag.clone());
            } else {
                *at(&mut values, &["global", "tag"]) = json!(tag);
            }
        }
        if !form.node_selector.is_empty() {
            *at(&mut values, &["pilot", "nodeSelector"]) = json!(form.node_selector);
        }
        let (min, max) = form.hpa_bounds();
        *at(&mut values, &["pilot", "autoscaleMin"]) = json!(min);
        *at(&mut values, &["pilot", "autoscaleMax"]) = json!(max);
        Self {
            release: format!("istiod-{}", form.revision),
            namespace: istio_namespace.to_string(),
            chart: chart.unwrap_or(ISTIOD_CHART).to_string(),
            version,
            revision: Some(form.revision.clone()),
            values,
        }
    }

    /// A gateway: release named after it in its namespace (the chart names the Deployment
    /// and Service after the release). Values: its labels when they are not the chart's own
    /// (`app: <release>`, `istio: <release without istio->`), the Service type and node
    /// ports, the replicas and autoscaler. No PodDisruptionBudget: the chart makes none
    /// unless `podDisruptionBudget` is set.
    pub fn gateway(form: &GatewayForm, chart: Option<&str>, version: Option<&str>) -> Self {
        let mut values = Value::Object(Map::new());
        if !form.labels.is_empty() {
            *at(&mut values, &["labels"]) = json!(form.labels);
        }
        *at(&mut values, &["service", "type"]) = json!(form.effective_service_type().as_str());
        let ports: Vec<Value> = [
            ("status-port", 15021, 15021, None),
            ("http2", 80, 80, form.http_node_port),
            ("https", 443, 443, form.https_node_port),
        ]
        .into_iter()
        .map(|(name, port, target, node_port)| {
            let mut p =
                json!({"name": name, "port": port, "protocol": "TCP", "targetPort": target});
            if let Some(n) = node_port {
                p["nodePort"] = json!(n);
            }
            p
        })
        .collect();
        *at(&mut values, &["service", "ports"]) = json!(ports);
        if let Some(replicas) = form.replicas {
            *at(&mut values, &["replicaCount"]) = json!(replicas);
        }
        if form.hpa_min.is_some() || form.hpa_max.is_some() {
            let (min, max) = form.hpa_bounds();
            *at(&mut values, &["autoscaling"]) =
                json!({"enabled": true, "minReplicas": min, "maxReplicas": max});
        } else if form.replicas.is_some() {
            // The chart's Deployment takes replicaCount only with its autoscaler off.
            *at(&mut values, &["autoscaling", "enabled"]) = json!(false);
        }
        Self {
            release: form.name.clone(),
            namespace: form.namespace.clone(),
            chart: chart.unwrap_or(GATEWAY_CHART).to_string(),
            version: version.filter(|v| is_chart_version(v)).map(str::to_string),
            revision: (form.revision != "default").then(|| form.revision.clone()),
            values,
        }
    }

    /// `helm upgrade --install REL CHART -n NS [--set revision=REV] [--version V] -f FILE`.
    pub fn args(&self, file: &str) -> Vec<String> {
        let mut args = vec![
            "upgrade".to_string(),
            "--install".into(),
            self.release.clone(),
            self.chart.clone(),
            "-n".into(),
            self.namespace.clone(),
        ];
        if let Some(rev) = &self.revision {
            args.extend(["--set".to_string(), format!("revision={rev}")]);
        }
        if let Some(v) = &self.version {
            args.extend(["--version".to_string(), v.clone()]);
        }
        args.extend(["-f".to_string(), file.to_string()]);
        args
    }

    pub fn values_yaml(&self) -> String {
        serde_yaml::to_string(&self.values).unwrap_or_default()
    }

    /// The release with edited values: any YAML mapping (empty is the chart's defaults).
    pub fn with_values(&self, yaml: &str) -> Result<Self, ActionError> {
        let bad = |why: String| ActionError::Invalid(format!("not a Helm values file: {why}"));
        let v: Value = serde_yaml::from_str(yaml).map_err(|e| bad(e.to_string()))?;
        let values = match v {
            Value::Null => Value::Object(Map::new()),
            Value::Object(_) => v,
            _ => return Err(bad("it is not a mapping of values".into())),
        };
        Ok(Self {
            values,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istiod_values_and_arguments() {
        let mut f = RevisionForm::new("1-31-0");
        f.tag = Some("1.31.0".into());
        f.hub = Some("registry.example.com/istio".into());
        f.hpa_min = Some(2);
        f.node_selector.insert("pool".into(), "system".into());
        let h = HelmRelease::istiod(&f, None, "istio-system");
        assert_eq!(
            h.args("/tmp/v.yaml"),
            [
                "upgrade",
                "--install",
                "istiod-1-31-0",
                "istio/istiod",
                "-n",
                "istio-system",
                "--set",
                "revision=1-31-0",
                "--version",
                "1.31.0",
                "-f",
                "/tmp/v.yaml"
            ]
        );
        assert_eq!(
            h.values,
            json!({
                "global": {"hub": "registry.example.com/istio"},
                "pilot": {"nodeSelector": {"pool": "system"}, "autoscaleMin": 2, "autoscaleMax": 5},
            })
        );
        // An image tag that names no chart goes to the values; a local chart is kept.
        f.tag = Some("1.31.0-distroless".into());
        let h = HelmRelease::istiod(
            &f,
            Some("./manifests/charts/istio-control/istio-discovery"),
            "istio-system",
        );
        assert_eq!(h.version, None);
        assert_eq!(h.values["global"]["tag"], "1.31.0-distroless");
        assert_eq!(h.chart, "./manifests/charts/istio-control/istio-discovery");
        assert!(
            is_chart_version("1.30.0-beta.1")
                && !is_chart_version("1.30")
                && !is_chart_version("latest")
        );
    }

    #[test]
    fn edited_values() {
        let h = HelmRelease::istiod(&RevisionForm::new("r"), None, "istio-system");
        let e = h
            .with_values("pilot:\n  autoscaleMin: 3\n")
            .expect("a mapping");
        assert_eq!(e.values, json!({"pilot": {"autoscaleMin": 3}}));
        assert_eq!(e.release, "istiod-r");
        assert_eq!(h.with_values("").expect("empty").values, json!({}));
        for bad in ["- a\n- b\n", "pilot: [", "3"] {
            let e = h.with_values(bad).expect_err(bad);
            assert!(e.to_string().starts_with("not a Helm values file"), "{e}");
        }
    }
}
