//! The install plan: the checks against the cluster, then the ordered steps, each with a
//! one-line description and the objects it writes, so a preview shows exactly what
//! changes. Planning is pure: it reads [`InstallFacts`], never the API server.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::super::ActionError;
use super::facts::{GatewaySelector, InstallFacts, NodePortUse, OperatorDetection};
use super::form::{GatewayForm, Problem, RevisionForm, reject};
use super::helm::HelmRelease;
use super::render::{IOP_API_VERSION, IOP_KIND, render_gateway, render_revision};
use crate::model::facts::gateways::mesh_config_name;
use crate::model::intern::Interner;
use crate::model::project;
use crate::model::summary::{IopGateway, IstioOperatorSummary};

/// Where a copied ConfigMap says it came from.
pub const COPIED_FROM: &str = "meshtop.dev/copied-from";

/// What the plan installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallTarget {
    Revision {
        revision: String,
    },
    Gateway {
        namespace: String,
        name: String,
        revision: String,
    },
}

/// How the IstioOperator takes effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Server-side apply of the resource; the in-cluster operator installs it.
    Operator,
    /// No operator acts on it (or `--istioctl`): save it and run `istioctl install -y -f FILE`.
    Istioctl { binary: PathBuf },
    /// The cluster's revisions are Helm releases: `helm upgrade --install` of Istio's chart
    /// with the values saved to a file.
    Helm { binary: PathBuf },
    /// The Sail operator manages the cluster's revisions: server-side apply of an
    /// `IstioRevision`; the operator installs it.
    Sail,
    /// No operator acts on it and istioctl is not on PATH (or, on the Helm route, helm is
    /// not): save the files for the user to apply; nothing in the cluster changes.
    SaveOnly,
}

/// What one step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// Server-side apply of a Namespace that does not exist yet.
    CreateNamespace { namespace: String },
    /// Server-side apply of a copy of the revision's mesh ConfigMap into the gateway's
    /// namespace (the seed's trap: the operator does not put it there).
    CopyConfigMap {
        name: String,
        from: String,
        to: String,
    },
    /// Server-side apply of the IstioOperator; the operator installs it.
    ApplyIstioOperator,
    /// Save the IstioOperator to `file`, run `istioctl install -y -f FILE`.
    IstioctlInstall { binary: PathBuf, file: PathBuf },
    /// Save the values to `file`, run `helm upgrade --install` of the plan's release.
    HelmInstall { binary: PathBuf, file: PathBuf },
    /// Server-side apply of the Sail `IstioRevision`; the Sail operator installs it.
    ApplyIstioRevision,
    /// Save the objects to `file` (multi-document YAML) for the user.
    Save { file: PathBuf },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// One line, for the preview.
    pub description: String,
    /// The objects it writes, as sent.
    pub objects: Vec<Value>,
}

/// What the plan needs besides the form and the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `istioctl` on PATH ([`find_istioctl`]), if any.
    pub istioctl: Option<PathBuf>,
    /// Take the istioctl route even when an operator would act.
    pub force_istioctl: bool,
    /// Where the istioctl route saves the IstioOperator ([`default_install_file`]).
    pub file: Option<PathBuf>,
    /// Flags given to istioctl after `install -y -f FILE` (`--kubeconfig`, `--context`), so it
    /// talks to the cluster meshtop talks to.
    pub istioctl_args: Vec<String>,
    /// A kubeconfig istioctl (or helm) needs that exists only in memory (the demo's):
    /// written, private, only while the program runs.
    pub istioctl_kubeconfig: Option<PrivateFile>,
    /// `helm` on PATH, if any: the route where the cluster's revisions are Helm releases.
    pub helm: Option<PathBuf>,
    /// Flags given to helm after its own (`--kubeconfig`, `--kube-context`).
    pub helm_args: Vec<String>,
    /// The chart, a repository name or a local path; Istio's (`istio/istiod`,
    /// `istio/gateway`) when `None`.
    pub chart: Option<String>,
}

/// A file holding a secret (a kubeconfig with a bearer token): written with mode 0600 right
/// before the program that reads it runs, removed after. Its contents never show in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateFile {
    pub path: PathBuf,
    pub contents: String,
}

impl std::fmt::Debug for PrivateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PrivateFile {
    /// Where a private kubeconfig for istioctl goes next to the resource's file (never the
    /// resource's file itself).
    pub fn kubeconfig_beside(file: &Path) -> PathBuf {
        let candidate = file.with_extension("kubeconfig");
        if candidate == file {
            let mut name = file.as_os_str().to_owned();
            name.push(".istioctl.kubeconfig");
            PathBuf::from(name)
        } else {
            candidate
        }
    }
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            istioctl: find_istioctl(),
            force_istioctl: false,
            file: None,
            istioctl_args: Vec::new(),
            istioctl_kubeconfig: None,
            helm: find_on_path("helm", std::env::var_os("PATH").as_deref()),
            helm_args: Vec::new(),
            chart: None,
        }
    }
}

/// What the checks of an edited resource compare with: the cluster's gateways and node
/// ports when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Existing {
    gateways: Vec<GatewaySelector>,
    node_ports: Vec<NodePortUse>,
    deployments: BTreeSet<(String, String)>,
}

impl Existing {
    fn of(facts: &InstallFacts) -> Self {
        Self {
            gateways: facts.gateways.clone(),
            node_ports: facts.node_ports.clone(),
            deployments: facts.deployments.clone(),
        }
    }

    /// Clashes of the gateways a resource lists with the cluster's: the same name, a
    /// selector label another gateway has (a Gateway resource selecting by it would pick
    /// both), a node port taken.
    fn gateway_problems(&self, gateways: &[IopGateway]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for g in gateways.iter().filter(|g| g.enabled && !g.from_profile) {
            let (ns, name) = (g.namespace.as_ref(), g.name.as_ref());
            if self
                .deployments
                .contains(&(ns.to_string(), name.to_string()))
                || self
                    .gateways
                    .iter()
                    .any(|e| e.namespace == ns && e.name == name)
            {
                problems.push(Problem::new(
                    "name",
                    format!("gateway {ns}/{name} already exists"),
                ));
            }
            for e in &self.gateways {
                for (k, v) in g.labels.iter() {
                    if e.labels.get(k.as_ref()).map(String::as_str) == Some(v.as_ref()) {
                        problems.push(Problem::new(
                            "labels",
                            format!(
                                "label {k}={v} already selects gateway {}/{} ({}): a Gateway \
                                 resource selecting it would pick both; give this gateway \
                                 labels of its own",
                                e.namespace, e.name, e.source
                            ),
                        ));
                    }
                }
            }
            for port in &g.node_ports {
                let owners: Vec<&str> = self
                    .node_ports
                    .iter()
                    .filter(|u| u.port == *port)
                    .map(|u| u.owner.as_str())
                    .collect();
                if !owners.is_empty() {
                    problems.push(Problem::new(
                        "node_ports",
                        format!("node port {port} is already used by {}", owners.join(", ")),
                    ));
                }
            }
        }
        problems
    }
}

/// An install, checked and planned. Made only by [`plan_revision`], [`plan_gateway`] and
/// [`InstallPlan::with_edited_document`], so a plan handed to the executor passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallPlan {
    target: InstallTarget,
    iop: Value,
    steps: Vec<Step>,
    operator: OperatorDetection,
    route: Route,
    notes: Vec<String>,
    file: PathBuf,
    istioctl_args: Vec<String>,
    istioctl_kubeconfig: Option<PrivateFile>,
    existing: Existing,
    /// The release, on the Helm route (also when helm is missing and the values are only
    /// saved).
    helm: Option<HelmRelease>,
    helm_args: Vec<String>,
    /// Why the Helm route: the releases seen.
    helm_reason: Option<String>,
    /// The IstioRevision, on the Sail route, and why: the Sail resources seen.
    sail: Option<(Value, String)>,
}

/// `istioctl` on PATH, if any.
pub fn find_istioctl() -> Option<PathBuf> {
    find_on_path("istioctl", std::env::var_os("PATH").as_deref())
}

/// The first executable file named `program` in a PATH-like list.
pub fn find_on_path(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// `$XDG_STATE_HOME/meshtop/install/<namespace>-<name>.yaml` (else under the temp directory).
pub fn default_install_file(iop_namespace: &str, iop_name: &str) -> PathBuf {
    let dir = crate::logging::default_log_file()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| std::env::temp_dir().join("meshtop"))
        .join("install");
    dir.join(format!("{iop_namespace}-{iop_name}.yaml"))
}

/// The file the prerequisites go to when only files are saved: next to the resource's.
fn prerequisites_file(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "install".into());
    file.with_file_name(format!("{stem}.prerequisites.yaml"))
}

/// An IstioOperator resource as the model projects one: the gateways it turns on with
/// their labels, node ports and replicas, its istiod. `None` for an unnamed one.
fn declared(iop: &Value) -> Option<IstioOperatorSummary> {
    let object = serde_json::from_value(iop.clone()).ok()?;
    project::istio_operator(&object, &mut Interner::default())
}

/// The gateways a resource turns on.
fn declared_gateways(iop: &Value) -> Vec<IopGateway> {
    declared(iop)
        .map(|s| s.gateways.into_iter().filter(|g| g.enabled).collect())
        .unwrap_or_default()
}

fn namespace_object(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// A copy of a mesh ConfigMap for another namespace: its data, its `istio.io/rev` and other
/// labels, but none of the operator's (`operator.istio.io/*`, `install.operator.istio.io/*`):
/// with them the operator would take the copy for an object of its own and prune it.
fn config_map_copy(source: &Value, namespace: &str) -> Value {
    let name = source
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let from = format!(
        "{}/{name}",
        source
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
    );
    let labels: BTreeMap<&String, &Value> = source
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !k.starts_with("operator.istio.io/")
                        && !k.starts_with("install.operator.istio.io/")
                })
                .collect()
        })
        .unwrap_or_default();
    let mut copy = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {COPIED_FROM: from},
        },
    });
    if !labels.is_empty() {
        copy["metadata"]["labels"] = json!(labels);
    }
    for field in ["data", "binaryData"] {
        if let Some(v) = source.get(field).filter(|v| !v.is_null()) {
            copy[field] = v.clone();
        }
    }
    copy
}

/// The PodDisruptionBudgets Istio 1.5–1.27 create with what the resource installs
/// (`global.defaultPodDisruptionBudget.enabled`, on by default): `minAvailable: 1` even over
/// a single replica, so the drain of that replica's node is refused, as in the field report.
fn budget_notes(iop: &Value) -> Vec<String> {
    if iop.pointer("/spec/values/global/defaultPodDisruptionBudget/enabled") == Some(&json!(false))
    {
        return Vec::new();
    }
    let Some(summary) = declared(iop) else {
        return Vec::new();
    };
    let mut single = Vec::new();
    if summary.pilot_enabled && summary.pilot_min_replicas < 2 {
        let name = match summary.revision.as_ref() {
            "" | "default" => "istiod".to_string(),
            revision => format!("istiod-{revision}"),
        };
        single.push(format!("{}/{name}", summary.install_namespace));
    }
    // The gateways the resource lists (a profile's own are not its to warn about).
    single.extend(
        summary
            .gateways
            .iter()
            .filter(|g| g.enabled && !g.from_profile && g.min_replicas < 2)
            .map(|g| format!("{}/{}", g.namespace, g.name)),
    );
    single
        .into_iter()
        .map(|pdb| {
            format!(
                "the operator also creates PodDisruptionBudget {pdb} (minAvailable 1) over a single \
                 replica: draining the node it runs on will be refused until it runs 2 (an \
                 autoscaler minimum of 2) or the budget is relaxed (Istio 1.5-1.27; 1.28+ \
                 creates none for one replica)"
            )
        })
        .collect()
}

/// The budget a Helm release makes over a single replica: the istiod chart's
/// `istiod-<rev>` (charts 1.5-1.27 make it whatever the replicas; 1.28+ only above one), and
/// a gateway's when its values ask for one (the gateway chart makes none by default).
fn helm_budget_notes(release: &HelmRelease) -> Vec<String> {
    let v = &release.values;
    let istiod = release.chart.ends_with("istiod") || release.release.starts_with("istiod");
    // Where the budget is switched, then where the autoscaler, the fixed replicas and the
    // autoscaler's minimum are, in the chart's values.
    let (budget_off, [autoscaler, replicas, minimum]) = if istiod {
        (
            v.pointer("/global/defaultPodDisruptionBudget/enabled") == Some(&json!(false)),
            [
                "/pilot/autoscaleEnabled",
                "/pilot/replicaCount",
                "/pilot/autoscaleMin",
            ],
        )
    } else {
        (
            v.get("podDisruptionBudget")
                .is_none_or(|b| b.as_object().is_none_or(|o| o.is_empty())),
            [
                "/autoscaling/enabled",
                "/replicaCount",
                "/autoscaling/minReplicas",
            ],
        )
    };
    if budget_off {
        return Vec::new();
    }
    let fewest = if v.pointer(autoscaler) == Some(&json!(false)) {
        replicas
    } else {
        minimum
    };
    let min = v.pointer(fewest).and_then(Value::as_u64).unwrap_or(1);
    let pdb = &release.release;
    if min >= 2 {
        return Vec::new();
    }
    vec![format!(
        "the chart may also create PodDisruptionBudget {}/{pdb} over a single replica: \
         draining the node it runs on will be refused until it runs 2 (an autoscaler minimum \
         of 2) or the budget is dropped (istiod charts 1.5-1.27; 1.28+ create none for one \
         replica)",
        release.namespace
    )]
}

fn iop_text(iop: &Value, field: &str) -> String {
    iop.pointer(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The objects as multi-document YAML.
pub fn to_yaml(objects: &[Value]) -> String {
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml::to_string(o).unwrap_or_default());
    }
    out
}

/// The installer a plan goes through other than an IstioOperator's, and why.
enum Installer {
    Helm(HelmRelease, String),
    Sail(Value, String),
}

/// The Sail route's step: the IstioRevision applied.
fn sail_step(revision: &Value) -> Step {
    let name = iop_text(revision, "/metadata/name");
    Step {
        kind: StepKind::ApplyIstioRevision,
        description: format!(
            "apply istiorevision.sailoperator.io/{name} (version {}; server-side apply, field \
             manager meshtop); the Sail operator installs its istiod",
            iop_text(revision, "/spec/version")
        ),
        objects: vec![revision.clone()],
    }
}

/// The Helm route's steps: the prerequisites, then helm run on the saved values (or, without
/// helm, the values saved for the user); its route and the values file.
fn helm_steps(
    release: &HelmRelease,
    prerequisites: Vec<Step>,
    opts: &PlanOptions,
    notes: &mut Vec<String>,
) -> (Route, Vec<Step>, PathBuf) {
    let file = opts.file.clone().unwrap_or_else(|| {
        default_install_file(&release.namespace, &format!("{}.values", release.release))
    });
    notes.extend(helm_budget_notes(release));
    let route = match &opts.helm {
        Some(binary) => Route::Helm {
            binary: binary.clone(),
        },
        None => Route::SaveOnly,
    };
    let args = release.args(&file.display().to_string()).join(" ");
    let mut steps = prerequisites;
    match &route {
        Route::Helm { binary } => steps.push(Step {
            kind: StepKind::HelmInstall {
                binary: binary.clone(),
                file: file.clone(),
            },
            description: format!(
                "save the values to {} and run `{} {args}`",
                file.display(),
                binary.display()
            ),
            objects: vec![release.values.clone()],
        }),
        _ => {
            notes.push(format!(
                "helm is not on PATH: nothing in the cluster changes; the values are \
                     saved for you to run `helm {args}`"
            ));
            steps.push(Step {
                kind: StepKind::Save { file: file.clone() },
                description: format!("save the values to {}", file.display()),
                objects: vec![release.values.clone()],
            });
        }
    }
    (route, steps, file)
}

impl InstallPlan {
    /// The steps after the prerequisites, for the route the cluster allows.
    fn build(
        target: InstallTarget,
        iop: Value,
        prerequisites: Vec<Step>,
        facts: &InstallFacts,
        opts: &PlanOptions,
        mut notes: Vec<String>,
        installer: Option<Installer>,
    ) -> Self {
        let (helm, sail) = match installer {
            Some(Installer::Helm(release, why)) => (Some((release, why)), None),
            Some(Installer::Sail(revision, why)) => (None, Some((revision, why))),
            None => (None, None),
        };
        let iop_ns = iop_text(&iop, "/metadata/namespace");
        let operator = facts.detect_operator(&iop_ns, &iop_text(&iop, "/spec/revision"));
        let helm = helm.filter(|_| !opts.force_istioctl);
        let sail = sail.filter(|_| !opts.force_istioctl && helm.is_none());
        let (route, steps, file) = match (&helm, &sail) {
            (Some((release, _)), _) => helm_steps(release, prerequisites, opts, &mut notes),
            (None, Some((revision, _))) => {
                let mut steps = prerequisites;
                steps.push(sail_step(revision));
                (Route::Sail, steps, PathBuf::new())
            }
            (None, None) => Self::iop_steps(&iop, &operator, prerequisites, opts, &mut notes),
        };
        let (release, helm_reason) = match helm {
            Some((release, reason)) => (Some(release), Some(reason)),
            None => (None, None),
        };
        Self {
            target,
            iop,
            steps,
            operator,
            route,
            notes,
            file,
            istioctl_args: opts.istioctl_args.clone(),
            istioctl_kubeconfig: opts.istioctl_kubeconfig.clone(),
            existing: Existing::of(facts),
            helm_args: match release {
                Some(_) => opts.helm_args.clone(),
                None => Vec::new(),
            },
            helm: release,
            helm_reason,
            sail,
        }
    }

    /// The IstioOperator routes' steps: applied where an operator acts, else istioctl run
    /// on the saved resource, else the files saved; the route and the resource's file.
    fn iop_steps(
        iop: &Value,
        operator: &OperatorDetection,
        prerequisites: Vec<Step>,
        opts: &PlanOptions,
        notes: &mut Vec<String>,
    ) -> (Route, Vec<Step>, PathBuf) {
        let iop_ns = iop_text(iop, "/metadata/namespace");
        let iop_name = iop_text(iop, "/metadata/name");
        notes.extend(budget_notes(iop));
        let file = opts
            .file
            .clone()
            .unwrap_or_else(|| default_install_file(&iop_ns, &iop_name));
        let route = match (operator, &opts.istioctl) {
            (OperatorDetection::Acts(_), _) if !opts.force_istioctl => Route::Operator,
            (_, Some(binary)) => Route::Istioctl {
                binary: binary.clone(),
            },
            (_, None) => Route::SaveOnly,
        };
        let resource = format!("istiooperator.install.istio.io/{iop_name}");
        let mut steps = Vec::new();
        match &route {
            // Helm and Sail are taken above, where the release or resource is known.
            Route::Operator | Route::Helm { .. } | Route::Sail => {
                steps.extend(prerequisites);
                let by = operator
                    .acting()
                    .map(|o| format!("{}/{}", o.namespace, o.name))
                    .unwrap_or_default();
                steps.push(Step {
                    kind: StepKind::ApplyIstioOperator,
                    description: format!(
                        "apply {resource} in {iop_ns} (server-side apply, field manager \
                         meshtop); operator {by} installs it"
                    ),
                    objects: vec![iop.clone()],
                });
            }
            Route::Istioctl { binary } => {
                steps.extend(prerequisites);
                if opts.force_istioctl && operator.acting().is_some() {
                    notes.push(
                        "istioctl route asked for: the resource is not applied, the operator \
                         does not see it"
                            .into(),
                    );
                }
                let mut args = vec![
                    "install".to_string(),
                    "-y".into(),
                    "-f".into(),
                    file.display().to_string(),
                ];
                args.extend(opts.istioctl_args.iter().cloned());
                steps.push(Step {
                    kind: StepKind::IstioctlInstall {
                        binary: binary.clone(),
                        file: file.clone(),
                    },
                    description: format!(
                        "save {resource} to {} and run `{} {}`",
                        file.display(),
                        binary.display(),
                        args.join(" ")
                    ),
                    objects: vec![iop.clone()],
                });
            }
            Route::SaveOnly => {
                notes.push(format!(
                    "istioctl is not on PATH: nothing in the cluster changes; the files are \
                     saved for you to apply{}, then `istioctl install -y -f {}`",
                    if prerequisites.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (first `kubectl apply -f {}`)",
                            prerequisites_file(&file).display()
                        )
                    },
                    file.display()
                ));
                if !prerequisites.is_empty() {
                    let pre = prerequisites_file(&file);
                    let what: Vec<String> = prerequisites
                        .iter()
                        .map(|s| s.description.clone())
                        .collect();
                    steps.push(Step {
                        kind: StepKind::Save { file: pre.clone() },
                        description: format!(
                            "save to {} what must exist first: {}",
                            pre.display(),
                            what.join("; ")
                        ),
                        objects: prerequisites.into_iter().flat_map(|s| s.objects).collect(),
                    });
                }
                steps.push(Step {
                    kind: StepKind::Save { file: file.clone() },
                    description: format!(
                        "save {resource} to {} for `istioctl install -y -f {}`",
                        file.display(),
                        file.display()
                    ),
                    objects: vec![iop.clone()],
                });
            }
        }
        (route, steps, file)
    }

    pub fn target(&self) -> &InstallTarget {
        &self.target
    }

    /// The IstioOperator resource.
    pub fn iop(&self) -> &Value {
        &self.iop
    }

    /// The document the preview shows and `$EDITOR` edits: the IstioOperator, on the
    /// Helm route the release's values, on the Sail route the IstioRevision.
    pub fn document_yaml(&self) -> String {
        match (&self.helm, &self.sail) {
            (Some(h), _) => h.values_yaml(),
            (None, Some((r, _))) => serde_yaml::to_string(r).unwrap_or_default(),
            (None, None) => serde_yaml::to_string(&self.iop).unwrap_or_default(),
        }
    }

    /// What the document is, in words: `the IstioOperator`, `the values`, `the IstioRevision`.
    pub fn document_words(&self) -> &'static str {
        match (&self.helm, &self.sail) {
            (Some(_), _) => "the values",
            (None, Some(_)) => "the IstioRevision",
            (None, None) => "the IstioOperator",
        }
    }

    /// The IstioRevision, on the Sail route.
    pub fn sail_revision(&self) -> Option<&Value> {
        self.sail.as_ref().map(|(r, _)| r)
    }

    /// The document's heading: `ISTIOOPERATOR NS/NAME`, or `HELM VALUES NS/RELEASE (chart
    /// CHART[ VERSION])`.
    pub fn document_title(&self) -> String {
        if let Some((r, _)) = &self.sail {
            return format!("ISTIOREVISION {}", iop_text(r, "/metadata/name"));
        }
        match &self.helm {
            Some(h) => format!(
                "HELM VALUES {}/{} (chart {}{})",
                h.namespace,
                h.release,
                h.chart,
                h.version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            ),
            None => format!(
                "ISTIOOPERATOR {}/{}",
                iop_text(&self.iop, "/metadata/namespace"),
                iop_text(&self.iop, "/metadata/name")
            ),
        }
    }

    /// The name typed to confirm the install: the Helm release's on the Helm route, else the
    /// IstioOperator's.
    pub fn confirm_name(&self) -> Option<&str> {
        if let Some((r, _)) = &self.sail {
            return r.pointer("/metadata/name").and_then(Value::as_str);
        }
        match &self.helm {
            Some(h) => Some(&h.release),
            None => self.iop.pointer("/metadata/name").and_then(Value::as_str),
        }
    }

    /// The Helm release, on the Helm route.
    pub fn helm(&self) -> Option<&HelmRelease> {
        self.helm.as_ref()
    }

    /// Flags given to helm after the release's own.
    pub fn helm_args(&self) -> &[String] {
        &self.helm_args
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn operator(&self) -> &OperatorDetection {
        &self.operator
    }

    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Warnings the preview shows below the steps.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Where the istioctl route saves the resource.
    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn istioctl_args(&self) -> &[String] {
        &self.istioctl_args
    }

    /// The private kubeconfig istioctl reads, if meshtop must write one.
    pub fn istioctl_kubeconfig(&self) -> Option<&PrivateFile> {
        self.istioctl_kubeconfig.as_ref()
    }

    /// `install revision 1-10-0` / `install gateway NS/NAME (revision REV)`.
    pub fn title(&self) -> String {
        match &self.target {
            InstallTarget::Revision { revision } => format!("install revision {revision}"),
            InstallTarget::Gateway {
                namespace,
                name,
                revision,
            } => format!("install gateway {namespace}/{name} (revision {revision})"),
        }
    }

    /// The preview: the numbered steps, the operator line, the notes.
    pub fn preview(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}. {}", i + 1, s.description))
            .collect();
        match (&self.helm_reason, &self.sail) {
            (Some(why), _) => lines.push(format!("installer: helm ({why})")),
            (None, Some((_, why))) => lines.push(format!("installer: sail ({why})")),
            (None, None) => lines.push(format!("operator: {}", self.operator.describe())),
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        lines
    }

    /// Every object the steps write, as multi-document YAML (`-o yaml`).
    pub fn objects_yaml(&self) -> String {
        let objects: Vec<Value> = self
            .steps
            .iter()
            .flat_map(|s| s.objects.iter().cloned())
            .collect();
        to_yaml(&objects)
    }

    pub(crate) fn audit_action(&self) -> String {
        match self.route {
            Route::SaveOnly => format!("{} (saved to files only)", self.title()),
            Route::Istioctl { .. } => format!("{} (istioctl)", self.title()),
            Route::Helm { .. } => format!("{} (helm)", self.title()),
            Route::Sail => format!("{} (sail)", self.title()),
            Route::Operator => self.title(),
        }
    }

    pub(crate) fn audit_target(&self) -> String {
        if let Some((r, _)) = &self.sail {
            return format!("istiorevision/{}", iop_text(r, "/metadata/name"));
        }
        if let Some(h) = &self.helm {
            return format!("helm/{}/{}", h.namespace, h.release);
        }
        format!(
            "istiooperator/{}/{}",
            iop_text(&self.iop, "/metadata/namespace"),
            iop_text(&self.iop, "/metadata/name")
        )
    }

    /// The plan with the document replaced by an edited one. On the Helm route, any values
    /// (the release, chart and revision stay as planned; the budget note is made again).
    /// Otherwise the resource is checked again: it must still be
    /// this IstioOperator (apiVersion, kind, name, namespace, revision), and the gateways it
    /// lists must still clash with none of the cluster's (names, labels, node ports).
    pub fn with_edited_document(&self, yaml: &str) -> Result<InstallPlan, ActionError> {
        if let Some(h) = &self.helm {
            let edited = h.with_values(yaml)?;
            let mut plan = self.clone();
            plan.notes.retain(|n| !n.contains("PodDisruptionBudget"));
            plan.notes.extend(helm_budget_notes(&edited));
            for step in &mut plan.steps {
                if matches!(
                    step.kind,
                    StepKind::HelmInstall { .. } | StepKind::Save { .. }
                ) {
                    step.objects = vec![edited.values.clone()];
                }
            }
            plan.helm = Some(edited);
            return Ok(plan);
        }
        if let Some((revision, why)) = &self.sail {
            let edited = super::sail::edited(yaml, revision)?;
            let mut plan = self.clone();
            for step in &mut plan.steps {
                if step.kind == StepKind::ApplyIstioRevision {
                    *step = sail_step(&edited);
                }
            }
            plan.sail = Some((edited, why.clone()));
            return Ok(plan);
        }
        let edited = parse_istio_operator(yaml)?;
        let mut problems = Vec::new();
        for (field, what) in [
            ("/metadata/name", "name"),
            ("/metadata/namespace", "namespace"),
            ("/spec/revision", "spec.revision"),
        ] {
            let (was, now) = (iop_text(&self.iop, field), iop_text(&edited, field));
            if was != now {
                problems.push(Problem::new(
                    "iop",
                    format!(
                        "the edited resource changes its {what} from {was:?} to {now:?}: that \
                         was checked against the cluster; start a new install instead"
                    ),
                ));
            }
        }
        problems.extend(self.existing.gateway_problems(&declared_gateways(&edited)));
        reject(&problems)?;
        let mut plan = self.clone();
        for step in &mut plan.steps {
            for o in &mut step.objects {
                if o.get("kind").and_then(Value::as_str) == Some(IOP_KIND) {
                    *o = edited.clone();
                }
            }
        }
        plan.iop = edited;
        Ok(plan)
    }
}

/// Parses YAML as one IstioOperator resource: `install.istio.io/v1alpha1`, kind
/// `IstioOperator`, a valid name, a spec.
pub fn parse_istio_operator(yaml: &str) -> Result<Value, ActionError> {
    let bad = |why: String| ActionError::Invalid(format!("not an IstioOperator: {why}"));
    let v: Value = serde_yaml::from_str(yaml).map_err(|e| bad(e.to_string()))?;
    if iop_text(&v, "/apiVersion") != IOP_API_VERSION {
        return Err(bad(format!(
            "apiVersion is {:?}, expected {IOP_API_VERSION}",
            iop_text(&v, "/apiVersion")
        )));
    }
    if iop_text(&v, "/kind") != IOP_KIND {
        return Err(bad(format!(
            "kind is {:?}, expected {IOP_KIND}",
            iop_text(&v, "/kind")
        )));
    }
    let name = iop_text(&v, "/metadata/name");
    if !crate::ops::names::is_dns1123_subdomain(&name) {
        return Err(bad(format!(
            "metadata.name {name:?} is not a DNS-1123 subdomain"
        )));
    }
    if !v.get("spec").is_some_and(Value::is_object) {
        return Err(bad("it has no spec".into()));
    }
    Ok(v)
}

/// Checks a revision form against the cluster: the revision not in use, the resource's
/// name free.
pub fn revision_conflicts(form: &RevisionForm, facts: &InstallFacts) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(users) = facts.revisions().get(&form.revision) {
        problems.push(Problem::new(
            "revision",
            format!(
                "revision {} is already in use: {}",
                form.revision,
                users.join(", ")
            ),
        ));
    }
    problems.extend(iop_taken(facts, &form.iop_name()));
    problems
}

/// The IstioOperator's name, when a resource of that name exists in the Istio namespace.
fn iop_taken(facts: &InstallFacts, name: &str) -> Option<Problem> {
    facts.iop_exists(&facts.istio_namespace, name).then(|| {
        Problem::new(
            "iop_name",
            format!(
                "istiooperator {}/{name} already exists",
                facts.istio_namespace
            ),
        )
    })
}

/// Checks a gateway form against the cluster: the revision installed with its mesh
/// ConfigMap, the resource's and the gateway's names free, labels and node ports unused.
pub fn gateway_conflicts(form: &GatewayForm, facts: &InstallFacts) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !facts.revisions().contains_key(&form.revision) {
        let known: Vec<String> = facts.revisions().into_keys().collect();
        problems.push(Problem::new(
            "revision",
            format!(
                "revision {} is not installed (installed: {})",
                form.revision,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    }
    let cm = mesh_config_name(Some(&form.revision));
    if !facts.mesh_config_maps.contains(&cm) {
        problems.push(Problem::new(
            "revision",
            format!(
                "configmap {}/{cm} not found: the gateway reads its mesh config from it",
                facts.istio_namespace
            ),
        ));
    }
    problems.extend(iop_taken(facts, &form.iop_name()));
    if let Ok(iop) = render_gateway(form, &facts.istio_namespace) {
        problems.extend(Existing::of(facts).gateway_problems(&declared_gateways(&iop)));
    }
    problems
}

fn create_namespace_step(namespace: &str) -> Step {
    Step {
        kind: StepKind::CreateNamespace {
            namespace: namespace.to_string(),
        },
        description: format!("create namespace/{namespace} (it does not exist)"),
        objects: vec![namespace_object(namespace)],
    }
}

/// Plans a control-plane revision: every check first (form, then cluster), then the steps.
pub fn plan_revision(
    form: &RevisionForm,
    facts: &InstallFacts,
    opts: &PlanOptions,
) -> Result<InstallPlan, ActionError> {
    form.validate()?;
    reject(&revision_conflicts(form, facts))?;
    let iop = render_revision(form, &facts.istio_namespace)?;
    let mut prerequisites = Vec::new();
    if !facts.namespaces.contains(&facts.istio_namespace) {
        prerequisites.push(create_namespace_step(&facts.istio_namespace));
    }
    let mut notes = Vec::new();
    for g in declared_gateways(&iop).iter().filter(|g| g.from_profile) {
        let taken = facts
            .deployments
            .contains(&(g.namespace.to_string(), g.name.to_string()));
        notes.push(if taken {
            format!(
                "profile {} also installs gateway {}/{}, which exists: the operator would move \
                 it to revision {}; profile minimal installs istiod alone",
                form.profile, g.namespace, g.name, form.revision
            )
        } else {
            format!(
                "profile {} also installs gateway {}/{}",
                form.profile, g.namespace, g.name
            )
        });
    }
    let helm = facts.helm_releases().map(|releases| {
        // The profile's gateways are the IstioOperator's: the istiod chart installs istiod.
        notes.retain(|n| !n.starts_with("profile "));
        (
            HelmRelease::istiod(form, opts.chart.as_deref(), &facts.istio_namespace),
            format!(
                "the cluster's revisions are Helm releases: {}",
                releases.join(", ")
            ),
        )
    });
    let sail = match facts.sail_resources() {
        Some(resources) if helm.is_none() => {
            notes.retain(|n| !n.starts_with("profile "));
            let version = facts.newest_version().unwrap_or_default();
            let revision = super::sail::istio_revision(form, version, &facts.istio_namespace)?;
            Some((
                revision,
                format!(
                    "the Sail operator manages the cluster's revisions: {}",
                    resources.join(", ")
                ),
            ))
        }
        _ => None,
    };
    Ok(InstallPlan::build(
        InstallTarget::Revision {
            revision: form.revision.clone(),
        },
        iop,
        prerequisites,
        facts,
        opts,
        notes,
        helm.map(|(r, why)| Installer::Helm(r, why))
            .or(sail.map(|(r, why)| Installer::Sail(r, why))),
    ))
}

/// Plans a gateway: every check first (form, then cluster), then the steps: its namespace
/// if missing, the mesh ConfigMap copied there if missing, the resource.
pub fn plan_gateway(
    form: &GatewayForm,
    facts: &InstallFacts,
    opts: &PlanOptions,
) -> Result<InstallPlan, ActionError> {
    form.validate()?;
    reject(&gateway_conflicts(form, facts))?;
    let iop = render_gateway(form, &facts.istio_namespace)?;
    let ns = &form.namespace;
    let mut prerequisites = Vec::new();
    if !facts.namespaces.contains(&facts.istio_namespace) {
        prerequisites.push(create_namespace_step(&facts.istio_namespace));
    }
    if !facts.namespaces.contains(ns) && ns != &facts.istio_namespace {
        prerequisites.push(create_namespace_step(ns));
    }
    // The gateway chart's pods are injected: istiod gives them their config, no ConfigMap
    // copy is needed.
    let helm = facts
        .helm_release_of(&form.revision)
        .filter(|_| !opts.force_istioctl)
        .map(|release| {
            let version = facts.versions.get(&form.revision).map(String::as_str);
            (
                HelmRelease::gateway(form, opts.chart.as_deref(), version),
                format!("revision {} is Helm release {release}", form.revision),
            )
        });
    let cm = mesh_config_name(Some(&form.revision));
    let has_copy =
        ns == &facts.istio_namespace || facts.config_map_copies.contains(&(ns.clone(), cm.clone()));
    if !has_copy && helm.is_none() && facts.mesh_config_maps.contains(&cm) {
        let Some(source) = facts.mesh_config_contents.get(&cm) else {
            return Err(ActionError::Conflict(format!(
                "configmap {}/{cm} was not read: its copy in {ns} needs what it holds",
                facts.istio_namespace
            )));
        };
        prerequisites.push(Step {
            kind: StepKind::CopyConfigMap {
                name: cm.clone(),
                from: facts.istio_namespace.clone(),
                to: ns.clone(),
            },
            description: format!(
                "copy configmap/{cm} from {} to {ns} (the gateway reads istiod's address from \
                 it; the operator does not create it there)",
                facts.istio_namespace
            ),
            objects: vec![config_map_copy(source, ns)],
        });
    }
    Ok(InstallPlan::build(
        InstallTarget::Gateway {
            namespace: ns.clone(),
            name: form.name.clone(),
            revision: form.revision.clone(),
        },
        iop,
        prerequisites,
        facts,
        opts,
        Vec::new(),
        helm.map(|(r, why)| Installer::Helm(r, why)),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::facts::tests::{k1, small};
    use super::super::form::GatewayKind;
    use super::*;

    fn opts(istioctl: Option<&str>) -> PlanOptions {
        PlanOptions {
            istioctl: istioctl.map(PathBuf::from),
            force_istioctl: false,
            file: Some(PathBuf::from("/tmp/x/iop.yaml")),
            istioctl_args: vec!["--context".into(), "ctx".into()],
            istioctl_kubeconfig: None,
            helm: None,
            helm_args: Vec::new(),
            chart: None,
        }
    }

    /// On the 2026 cluster (Helm releases), a revision is the istiod chart: helm when it is
    /// on PATH, the values saved otherwise, istioctl only when asked for; the budget note
    /// follows the values, edited ones included.
    #[test]
    fn helm_releases_take_the_helm_route() {
        let facts = super::super::facts::tests::facts_of("assets/scenarios/canary-2026.yaml");
        assert_eq!(
            facts.helm_releases(),
            Some(vec![
                "istiod-1-29-2".to_string(),
                "istiod-1-30-1".to_string()
            ])
        );
        assert_eq!(facts.newest_version(), Some("1.30.1"));
        let form = RevisionForm::new("1-31-0");
        let mut o = opts(Some("/usr/bin/istioctl"));
        o.helm = Some(PathBuf::from("/usr/bin/helm"));
        o.file = None;
        let plan = plan_revision(&form, &facts, &o).expect("plan");
        assert_eq!(
            plan.route(),
            &Route::Helm {
                binary: "/usr/bin/helm".into()
            }
        );
        assert_eq!(plan.audit_target(), "helm/istio-system/istiod-1-31-0");
        assert_eq!(plan.audit_action(), "install revision 1-31-0 (helm)");
        assert!(
            plan.file()
                .ends_with("install/istio-system-istiod-1-31-0.values.yaml")
        );
        assert_eq!(
            plan.document_title(),
            "HELM VALUES istio-system/istiod-1-31-0 (chart istio/istiod)"
        );
        let budget = |p: &InstallPlan| {
            p.notes()
                .iter()
                .any(|n| n.contains("PodDisruptionBudget istio-system/istiod-1-31-0"))
        };
        assert!(budget(&plan), "{:?}", plan.notes());
        let edited = plan
            .with_edited_document("pilot:\n  autoscaleMin: 2\n")
            .expect("values");
        assert!(!budget(&edited), "{:?}", edited.notes());
        assert_eq!(
            edited.steps()[0].objects,
            vec![json!({"pilot": {"autoscaleMin": 2}})]
        );
        assert!(plan.with_edited_document("- 1\n").is_err());

        o.helm = None;
        let plan = plan_revision(&form, &facts, &o).expect("plan");
        assert_eq!(plan.route(), &Route::SaveOnly);
        assert!(
            plan.notes()
                .iter()
                .any(|n| n.starts_with("helm is not on PATH")),
            "{:?}",
            plan.notes()
        );
        o.force_istioctl = true;
        let plan = plan_revision(&form, &facts, &o).expect("plan");
        assert!(matches!(plan.route(), Route::Istioctl { .. }));
        assert!(plan.helm().is_none());
    }

    fn kinds(plan: &InstallPlan) -> Vec<&StepKind> {
        plan.steps().iter().map(|s| &s.kind).collect()
    }

    #[test]
    fn revision_in_use_and_taken_names_are_rejected() {
        let facts = k1();
        let e =
            plan_revision(&RevisionForm::new("1-9-1"), &facts, &opts(None)).expect_err("in use");
        assert!(
            matches!(e, ActionError::Invalid(_)) && e.is_bad_input(),
            "{e:?}"
        );
        assert!(
            e.to_string().contains(
                "revision 1-9-1 is already in use: istiooperator istio-system/istio-controlplane"
            ),
            "{e}"
        );
        let mut f = RevisionForm::new("1-10-0");
        f.iop_name = Some("istio-controlplane".into());
        let e = plan_revision(&f, &facts, &opts(None)).expect_err("name taken");
        assert!(e.to_string().contains("already exists"), "{e}");
    }

    #[test]
    fn a_single_replica_gets_a_budget_that_blocks_drains_and_the_plan_says_so() {
        let pdbs = |iop: &Value| -> Vec<String> {
            budget_notes(iop)
                .iter()
                .map(|n| n.split_whitespace().nth(5).unwrap_or_default().to_string())
                .collect()
        };
        let mut form = RevisionForm::new("1-10-0");
        let iop = render_revision(&form, "istio-system").expect("render");
        assert_eq!(pdbs(&iop), ["istio-system/istiod-1-10-0"]);
        assert!(budget_notes(&iop)[0].contains("(minAvailable 1) over a single replica"));
        form.hpa_min = Some(2);
        assert!(budget_notes(&render_revision(&form, "istio-system").expect("render")).is_empty());
        let mut off = iop.clone();
        off["spec"]["values"]["global"]["defaultPodDisruptionBudget"] = json!({"enabled": false});
        assert!(budget_notes(&off).is_empty());
        let gw = GatewayForm::new("shop", "istio-ingressgateway-shop", "1-9-1");
        let iop = render_gateway(&gw, "istio-system").expect("render");
        assert_eq!(pdbs(&iop), ["shop/istio-ingressgateway-shop"]);
    }

    #[test]
    fn istioctls_kubeconfig_never_takes_the_resources_place() {
        assert_eq!(
            PrivateFile::kubeconfig_beside(Path::new("/s/istio-system-x.yaml")),
            PathBuf::from("/s/istio-system-x.kubeconfig")
        );
        assert_eq!(
            PrivateFile::kubeconfig_beside(Path::new("/s/x.kubeconfig")),
            PathBuf::from("/s/x.kubeconfig.istioctl.kubeconfig")
        );
    }

    #[test]
    fn revision_without_an_operator_of_its_revision_goes_to_istioctl() {
        let facts = k1();
        let f = RevisionForm::new("1-10-0");
        let plan = plan_revision(&f, &facts, &opts(Some("/usr/bin/istioctl"))).expect("plan");
        assert_eq!(
            plan.route(),
            &Route::Istioctl {
                binary: "/usr/bin/istioctl".into()
            }
        );
        assert_eq!(plan.steps().len(), 1);
        assert_eq!(
            plan.steps()[0].description,
            "save istiooperator.install.istio.io/istio-controlplane-1-10-0 to /tmp/x/iop.yaml and \
             run `/usr/bin/istioctl install -y -f /tmp/x/iop.yaml --context ctx`"
        );
        let plan = plan_revision(&f, &facts, &opts(None)).expect("plan");
        assert_eq!(plan.route(), &Route::SaveOnly);
        assert!(
            plan.preview()
                .iter()
                .any(|l| l.starts_with("note: istioctl is not on PATH")),
            "{:?}",
            plan.preview()
        );

        // With an operator of that revision (what `istioctl operator init --revision` adds).
        let mut facts = k1();
        let mut op = facts.operators[0].clone();
        op.name = "istio-operator-1-10-0".into();
        op.revision = Some("1-10-0".into());
        facts.operators.push(op);
        let plan = plan_revision(&f, &facts, &opts(None)).expect("plan");
        assert_eq!(plan.route(), &Route::Operator);
        assert_eq!(kinds(&plan), vec![&StepKind::ApplyIstioOperator]);
        assert_eq!(
            plan.audit_target(),
            "istiooperator/istio-system/istio-controlplane-1-10-0"
        );
        let preview = plan.preview();
        assert!(
            preview[1].starts_with("operator: istio-operator/istio-operator-1-10-0 (watches"),
            "{preview:?}"
        );
        // Profile default would take over the seed's istio-ingressgateway: said so.
        let mut d = f.clone();
        d.profile = "default".into();
        let plan = plan_revision(&d, &facts, &opts(None)).expect("plan");
        assert!(
            plan.notes()[0].contains("istio-system/istio-ingressgateway, which exists"),
            "{:?}",
            plan.notes()
        );
    }

    fn sample_gateway(ns: &str) -> GatewayForm {
        GatewayForm::new(
            ns,
            GatewayForm::suggested_name(GatewayKind::Ingress, ns),
            "1-9-1",
        )
    }

    #[test]
    fn gateway_in_a_new_namespace_creates_it_and_copies_the_config_map() {
        let facts = k1();
        let mut f = sample_gateway("istio-gateway-shop");
        f.http_node_port = Some(31082);
        f.https_node_port = Some(31444);
        let plan = plan_gateway(&f, &facts, &opts(None)).expect("plan");
        assert_eq!(plan.route(), &Route::Operator);
        assert_eq!(
            kinds(&plan),
            vec![
                &StepKind::CreateNamespace {
                    namespace: "istio-gateway-shop".into()
                },
                &StepKind::CopyConfigMap {
                    name: "istio-1-9-1".into(),
                    from: "istio-system".into(),
                    to: "istio-gateway-shop".into()
                },
                &StepKind::ApplyIstioOperator,
            ]
        );
        let copy = &plan.steps()[1].objects[0];
        let source = &facts.mesh_config_contents["istio-1-9-1"];
        assert_eq!(copy["data"], source["data"]);
        assert_eq!(copy["metadata"]["namespace"], "istio-gateway-shop");
        assert_eq!(
            copy["metadata"]["labels"],
            json!({"istio.io/rev": "1-9-1", "release": "istio"})
        );
        assert_eq!(
            copy["metadata"]["annotations"][COPIED_FROM],
            "istio-system/istio-1-9-1"
        );
        let yaml = plan.objects_yaml();
        assert_eq!(yaml.matches("---\n").count(), 2, "{yaml}");
        assert!(yaml.contains("kind: IstioOperator"), "{yaml}");

        // The sample namespace already has its copy: no copy step, no namespace step.
        let mut f = sample_gateway("istio-gateway-sample");
        f.name = "istio-egressgateway-istio-gateway-sample".into();
        f.kind = GatewayKind::Egress;
        let plan = plan_gateway(&f, &facts, &opts(None)).expect("plan");
        assert_eq!(kinds(&plan), vec![&StepKind::ApplyIstioOperator]);
    }

    #[test]
    fn gateway_clashes_are_rejected() {
        let facts = k1();
        let check = |f: &GatewayForm, want: &str| {
            let e = plan_gateway(f, &facts, &opts(None)).expect_err(want);
            assert!(e.is_bad_input(), "{e:?}");
            assert!(e.to_string().contains(want), "{e}");
        };
        let mut f = sample_gateway("istio-gateway-shop");
        f.labels.insert("istio".into(), "ingressgateway".into());
        check(
            &f,
            "label istio=ingressgateway already selects gateway istio-system/istio-ingressgateway",
        );
        let mut f = sample_gateway("istio-gateway-shop");
        f.http_node_port = Some(31080);
        check(
            &f,
            "node port 31080 is already used by service/istio-system/istio-ingressgateway",
        );
        let f = sample_gateway("istio-gateway-sample");
        check(
            &f,
            "gateway istio-gateway-sample/istio-ingressgateway-istio-gateway-sample already exists",
        );
        let mut f = sample_gateway("istio-gateway-shop");
        f.revision = "1-10-0".into();
        check(&f, "revision 1-10-0 is not installed (installed: 1-9-1)");
        check(&f, "configmap istio-system/istio-1-10-0 not found");
        let mut f = sample_gateway("istio-gateway-shop");
        f.iop_name = Some("istio-gateway-sample".into());
        check(
            &f,
            "istiooperator istio-system/istio-gateway-sample already exists",
        );
    }

    #[test]
    fn no_operator_saves_files_only() {
        let facts = small();
        let f = GatewayForm::new("edge", "istio-ingressgateway-edge", "canary");
        let plan = plan_gateway(&f, &facts, &opts(None)).expect("plan");
        assert_eq!(plan.operator(), &OperatorDetection::NoOperator);
        assert_eq!(plan.route(), &Route::SaveOnly);
        assert_eq!(
            kinds(&plan),
            vec![
                &StepKind::Save {
                    file: "/tmp/x/iop.prerequisites.yaml".into()
                },
                &StepKind::Save {
                    file: "/tmp/x/iop.yaml".into()
                },
            ]
        );
        assert_eq!(plan.steps()[0].objects.len(), 2);
        assert!(plan.audit_action().ends_with("(saved to files only)"));
    }

    #[test]
    fn edited_resources_are_checked_again() {
        let facts = k1();
        let f = sample_gateway("istio-gateway-shop");
        let plan = plan_gateway(&f, &facts, &opts(None)).expect("plan");
        let yaml = plan.document_yaml();

        let bigger = yaml.replace("profile: empty", "profile: empty\n  tag: 1.9.2");
        let edited = plan.with_edited_document(&bigger).expect("a tag is fine");
        assert_eq!(edited.iop()["spec"]["tag"], "1.9.2");
        let applied = &edited.steps().last().expect("a step").objects[0];
        assert_eq!(applied["spec"]["tag"], "1.9.2");

        for (from, to, want) in [
            (
                "kind: IstioOperator",
                "kind: ConfigMap",
                "kind is \"ConfigMap\"",
            ),
            (
                "apiVersion: install.istio.io/v1alpha1",
                "apiVersion: v1",
                "apiVersion is \"v1\"",
            ),
            (
                "revision: 1-9-1",
                "revision: 1-10-0",
                "changes its spec.revision",
            ),
            (
                "name: istio-ingressgateway-istio-gateway-shop\n  namespace",
                "name: other\n  namespace",
                "changes its name",
            ),
            (
                "istio: ingressgateway-istio-gateway-shop",
                "istio: ingressgateway",
                "label istio=ingressgateway already selects",
            ),
        ] {
            assert!(yaml.contains(from), "{from} not in\n{yaml}");
            let e = plan
                .with_edited_document(&yaml.replace(from, to))
                .expect_err(want);
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
        assert!(plan.with_edited_document("a: [").is_err());

        // A node port set in the editor is checked as the form's are.
        let mut iop = plan.iop().clone();
        iop["spec"]["components"]["ingressGateways"][0]["k8s"]["service"]["ports"][1]["nodePort"] =
            json!(30443);
        let text = serde_yaml::to_string(&iop).expect("yaml");
        let e = plan
            .with_edited_document(&text)
            .expect_err("a taken node port");
        assert!(
            e.to_string().contains(
                "node port 30443 is already used by service/istio-system/istio-ingressgateway"
            ),
            "{e}"
        );
    }

    #[test]
    fn path_search() {
        let dir = std::env::temp_dir();
        assert_eq!(find_on_path("istioctl", None), None);
        let path = std::env::join_paths([dir.as_path(), Path::new("/nonexistent")]).expect("join");
        assert_eq!(find_on_path("no-such-program-here", Some(&path)), None);
        let sh = find_on_path("sh", Some(OsStr::new("/bin:/usr/bin")));
        assert!(sh.is_some_and(|p| p.ends_with("sh")));
    }
}
