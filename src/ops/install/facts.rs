//! What the install checks need to know about the cluster: namespaces, the revisions in
//! use, every gateway's selector labels, every node port, the mesh ConfigMaps and where copies
//! of them are, the IstioOperator resources (or that their CRD is absent) and the in-cluster
//! operators. [`InstallFacts::from_model`] takes them from the model the watches keep, pure;
//! only the contents a ConfigMap copy carries are read apart (the model keeps names only).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::model::facts::gateways::mesh_config_name;
use crate::model::labels::{Requirement, Selector};
use crate::model::summary::{Installer, IstioOperatorSummary, WorkloadSummary};
use crate::model::{Kind, Model, SourceState};

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

/// An in-cluster Istio operator Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorDeployment {
    pub namespace: String,
    pub name: String,
    /// The namespaces whose IstioOperators it reconciles; `None`: every namespace.
    pub watched: Option<Vec<String>>,
    /// The only `spec.revision` it acts on; `None`: it takes them all.
    pub revision: Option<String>,
    pub replicas: u64,
    pub ready: u64,
}

impl OperatorDeployment {
    /// The operator a Deployment runs, if it runs one.
    pub fn of(deployment: &WorkloadSummary) -> Option<Self> {
        let target = deployment.operator.as_ref()?;
        Some(Self {
            namespace: deployment.namespace.to_string(),
            name: deployment.name.to_string(),
            watched: target
                .watched
                .as_ref()
                .map(|w| w.iter().map(|n| n.to_string()).collect()),
            revision: target.revision.as_ref().map(|r| r.to_string()),
            replicas: u64::from(deployment.desired),
            ready: u64::from(deployment.ready),
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
    /// `None`: the IstioOperator CRD is absent (its watch answered 404).
    pub iops: Option<Vec<IstioOperatorSummary>>,
    /// istiod Deployments: `(namespace, name)` → revision (`default` without a label).
    pub istiods: BTreeMap<(String, String), String>,
    pub gateways: Vec<GatewaySelector>,
    pub node_ports: Vec<NodePortUse>,
    /// Every Deployment, `(namespace, name)`.
    pub deployments: BTreeSet<(String, String)>,
    /// The `istio` and `istio-*` ConfigMaps in the istio namespace (those the model watches),
    /// by name: among them each revision's mesh config, `istio-<rev>`.
    pub mesh_config_maps: BTreeSet<String>,
    /// What the mesh ConfigMaps of the revisions in use hold, by name, for a copy in a
    /// gateway's namespace: read apart ([`InstallFacts::mesh_configs_to_read`]).
    pub mesh_config_contents: BTreeMap<String, Value>,
    /// Where ConfigMaps of those names exist elsewhere: `(namespace, name)`.
    pub config_map_copies: BTreeSet<(String, String)>,
    pub operators: Vec<OperatorDeployment>,
    /// Who installed each revision's istiod, by revision, where its marks say.
    pub installers: BTreeMap<String, Installer>,
    /// Each revision's istiod version (the image tag of `discovery`), by revision.
    pub versions: BTreeMap<String, String>,
}

/// The sources [`InstallFacts`] is read from. Without one of them listed, a check would
/// pass for want of objects it never saw.
const SOURCES: [Kind; 5] = [
    Kind::Namespace,
    Kind::Deployment,
    Kind::Service,
    Kind::ConfigMap,
    Kind::IstioOperator,
];

/// The model cannot answer for the cluster yet: some source the checks read is not listed
/// (`None`: it has not reported at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the watches do not know the cluster yet: {}", describe(.sources))]
pub struct NotListed {
    pub sources: Vec<(Kind, Option<SourceState>)>,
}

fn describe(sources: &[(Kind, Option<SourceState>)]) -> String {
    sources
        .iter()
        .map(|(kind, state)| {
            let what = kind.resource();
            match state {
                Some(SourceState::Absent) => format!("{what}: not served by the API server"),
                Some(
                    SourceState::Forbidden(m) | SourceState::Error(m) | SourceState::Partial(m),
                ) => format!("{what}: {m}"),
                _ => format!("{what} still listing"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl NotListed {
    /// Only first lists are awaited: the answer comes by itself as the watches go on.
    pub fn settles(&self) -> bool {
        self.sources
            .iter()
            .all(|(_, s)| matches!(s, None | Some(SourceState::Syncing)))
    }
}

/// `1.30.1` as numbers to compare (a part that is no number counts 0).
fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// The labels a selector's `matchLabels` require.
fn match_labels(selector: &Selector) -> BTreeMap<String, String> {
    match selector {
        Selector::Nothing => BTreeMap::new(),
        Selector::Requirements(reqs) => reqs
            .iter()
            .filter_map(|r| match r {
                Requirement::Equals(k, v) => Some((k.to_string(), v.to_string())),
                _ => None,
            })
            .collect(),
    }
}

impl InstallFacts {
    /// The facts as the model holds them: every source they come from must be listed (the
    /// IstioOperator CRD may be absent: that is a fact too).
    pub fn from_model(model: &Model, istio_namespace: &str) -> Result<Self, NotListed> {
        let sources: Vec<(Kind, Option<SourceState>)> = SOURCES
            .into_iter()
            .map(|kind| (kind, model.sources().get(&kind).cloned()))
            .filter(|(kind, state)| match state {
                Some(SourceState::Ready) => false,
                Some(SourceState::Absent) => *kind != Kind::IstioOperator,
                _ => true,
            })
            .collect();
        if !sources.is_empty() {
            return Err(NotListed { sources });
        }
        let mut facts = InstallFacts {
            istio_namespace: istio_namespace.to_string(),
            namespaces: model.namespace_names().map(|n| n.to_string()).collect(),
            ..InstallFacts::default()
        };
        for d in model.deployments() {
            facts
                .deployments
                .insert((d.namespace.to_string(), d.name.to_string()));
            facts.operators.extend(OperatorDeployment::of(d));
        }
        for (revision, k) in model.istiod_deployments() {
            facts.istiods.insert(
                (k.namespace.to_string(), k.name.to_string()),
                revision.to_string(),
            );
        }
        for d in model.deployments() {
            let key = (d.namespace.to_string(), d.name.to_string());
            if let (Some(rev), Some(installer)) = (facts.istiods.get(&key), &d.installer) {
                facts.installers.insert(rev.clone(), installer.clone());
            }
        }
        for row in model.revisions() {
            if let Some(v) = row.version {
                facts
                    .versions
                    .insert(row.revision.to_string(), v.to_string());
            }
        }
        for d in model.gateway_deployments() {
            facts.gateways.push(GatewaySelector {
                namespace: d.namespace.to_string(),
                name: d.name.to_string(),
                labels: match_labels(&d.selector),
                source: "deployment".into(),
            });
        }
        for (port, services) in model.node_ports() {
            for s in services {
                facts.node_ports.push(NodePortUse {
                    port: *port,
                    owner: format!("service/{}/{}", s.namespace, s.name),
                });
            }
        }
        let crd = model.sources().get(&Kind::IstioOperator) == Some(&SourceState::Ready);
        facts.iops = crd.then(|| {
            model
                .istio_operators()
                .into_iter()
                .filter(|i| !i.deleting)
                .cloned()
                .collect()
        });
        for iop in facts.iops.iter().flatten() {
            let owner = format!("istiooperator/{}/{}", iop.namespace, iop.name);
            for g in iop.gateways.iter().filter(|g| g.enabled) {
                for port in &g.node_ports {
                    facts.node_ports.push(NodePortUse {
                        port: *port,
                        owner: format!("{owner} (gateway {}/{})", g.namespace, g.name),
                    });
                }
                let seen = facts
                    .gateways
                    .iter()
                    .any(|s| s.namespace == g.namespace.as_ref() && s.name == g.name.as_ref());
                if !seen {
                    facts.gateways.push(GatewaySelector {
                        namespace: g.namespace.to_string(),
                        name: g.name.to_string(),
                        labels: g
                            .labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        source: format!("istiooperator {}/{}", iop.namespace, iop.name),
                    });
                }
            }
        }
        facts.mesh_config_maps = model
            .config_maps()
            .filter(|k| k.namespace.as_ref() == istio_namespace)
            .map(|k| k.name.to_string())
            .collect();
        facts.config_map_copies = model
            .config_maps()
            .filter(|k| {
                k.namespace.as_ref() != istio_namespace
                    && facts.mesh_config_maps.contains(k.name.as_ref())
            })
            .map(|k| (k.namespace.to_string(), k.name.to_string()))
            .collect();
        Ok(facts)
    }

    /// The mesh ConfigMaps a gateway's install may copy: those of the revisions in use that
    /// exist. Their contents go to [`InstallFacts::mesh_config_contents`].
    pub fn mesh_configs_to_read(&self) -> Vec<String> {
        self.revisions()
            .keys()
            .map(|rev| mesh_config_name(Some(rev)))
            .filter(|name| self.mesh_config_maps.contains(name))
            .collect()
    }

    /// Every revision in use and what uses it: IstioOperators' `spec.revision` and istiod
    /// Deployments' `istio.io/rev` (`default` for none).
    pub fn revisions(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for iop in self.iops.iter().flatten() {
            let rev = match iop.revision.as_ref() {
                "" => "default",
                rev => rev,
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

    /// The Helm releases of the cluster's revisions, when Helm installed every revision
    /// whose installer is known (and at least one): a new revision goes the same way.
    pub fn helm_releases(&self) -> Option<Vec<String>> {
        let releases: Vec<String> = self
            .installers
            .values()
            .map(|i| match i {
                Installer::Helm { release } => Some(release.to_string()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        (!releases.is_empty()).then_some(releases)
    }

    /// The Sail resources of the cluster's revisions, when the Sail operator manages every
    /// revision whose installer is known (and at least one): a new revision goes the same way.
    pub fn sail_resources(&self) -> Option<Vec<String>> {
        let resources: Vec<String> = self
            .installers
            .values()
            .map(|i| match i {
                Installer::Sail { resource } if resource.is_empty() => Some("sail".to_string()),
                Installer::Sail { resource } => Some(resource.to_string()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        (!resources.is_empty()).then_some(resources)
    }

    /// The Helm release of one revision's istiod, if Helm installed it.
    pub fn helm_release_of(&self, revision: &str) -> Option<String> {
        match self.installers.get(revision)? {
            Installer::Helm { release } => Some(release.to_string()),
            _ => None,
        }
    }

    /// The version of the newest revision's istiod (highest version), to pre-fill a form.
    pub fn newest_version(&self) -> Option<&str> {
        self.versions
            .values()
            .max_by_key(|v| version_key(v))
            .map(String::as_str)
    }

    pub fn iop_exists(&self, namespace: &str, name: &str) -> bool {
        self.iops
            .iter()
            .flatten()
            .any(|i| i.namespace.as_ref() == namespace && i.name.as_ref() == name)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::fixture;
    use crate::model::{ClusterEvent, Stamped};

    /// The facts of a scenario file's cluster for `istio-system`, from the model its objects
    /// make, with the mesh ConfigMaps' contents the cluster side reads apart.
    pub(in super::super) fn facts_of(path: &str) -> InstallFacts {
        let model = fixture::scenario(path);
        let mut facts = InstallFacts::from_model(&model, "istio-system").expect("all listed");
        let wanted = facts.mesh_configs_to_read();
        for doc in fixture::scenario_docs(path) {
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if doc["kind"] == "ConfigMap"
                && doc["metadata"]["namespace"] == "istio-system"
                && wanted.contains(&name)
            {
                facts.mesh_config_contents.insert(name, doc);
            }
        }
        facts
    }

    pub(in super::super) fn k1() -> InstallFacts {
        facts_of("assets/scenarios/k1-upgrade.yaml")
    }

    pub(in super::super) fn small() -> InstallFacts {
        facts_of("assets/scenarios/small.yaml")
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
        assert!(f.mesh_config_maps.contains("istio-1-9-1"));
        assert_eq!(f.mesh_configs_to_read(), ["istio-1-9-1"]);
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

    /// A source not listed yet, refused or failing is not an empty one; an absent
    /// IstioOperator CRD is a fact.
    #[test]
    fn facts_wait_for_the_sources_they_read() {
        fn set(model: &mut Model, kind: Kind, state: SourceState) {
            model.apply(Stamped {
                at: fixture::at(),
                event: ClusterEvent::Source(kind, state),
            });
        }
        let mut model = fixture::scenario("assets/scenarios/small.yaml");
        set(&mut model, Kind::IstioOperator, SourceState::Absent);
        set(&mut model, Kind::Deployment, SourceState::Syncing);
        let e = InstallFacts::from_model(&model, "istio-system").expect_err("syncing");
        assert!(e.settles());
        assert_eq!(
            e.to_string(),
            "the watches do not know the cluster yet: deployments still listing"
        );
        set(
            &mut model,
            Kind::Service,
            SourceState::Forbidden("services is forbidden: User \"viewer\"".into()),
        );
        let e = InstallFacts::from_model(&model, "istio-system").expect_err("forbidden");
        assert!(!e.settles());
        assert!(
            e.to_string()
                .ends_with("; services: services is forbidden: User \"viewer\""),
            "{e}"
        );
        set(&mut model, Kind::Deployment, SourceState::Ready);
        set(&mut model, Kind::Service, SourceState::Ready);
        let f = InstallFacts::from_model(&model, "istio-system").expect("listed");
        assert_eq!(f.iops, None);
        assert_eq!(
            f.detect_operator("istio-system", "r2"),
            OperatorDetection::NoCrd
        );
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

        let small = small();
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
        let operator = |containers: Value| {
            let d = serde_json::from_value(serde_json::json!({
                "metadata": {"namespace": "istio-operator", "name": "istio-operator"},
                "spec": {"selector": {}, "template": {"spec": {"containers": containers}}},
            }))
            .expect("a Deployment");
            let summary = crate::model::project::deployment(
                &d,
                &mut crate::model::intern::Interner::default(),
            )
            .expect("named");
            OperatorDeployment::of(&summary)
        };
        let mut any = operator(serde_json::json!([
            {"name": "x", "image": "gcr.io/istio-release/operator:1.20.0@sha256:ab"}]))
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
            operator(serde_json::json!([
                {"name": "discovery", "image": "docker.io/istio/pilot:1.9.1"}]))
            .is_none()
        );
    }
}
