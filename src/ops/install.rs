//! Installing a control-plane revision or a gateway as an IstioOperator resource: the forms
//! and their checks ([`form`]), what the checks know of the cluster and whether an in-cluster
//! operator will act ([`facts`]), the rendering from the templates under `assets/templates/`
//! ([`render`]), and the plan of ordered steps a preview shows ([`plan`]).
//!
//! The flow, for the TUI and the CLI alike: fill a form and check it on its own
//! (`problems`/`validate`, no cluster) → the facts, from the model
//! ([`InstallFacts::from_model`]) → [`plan_revision`] or [`plan_gateway`]
//! (every check against the cluster, then the steps) → optionally an edit in `$EDITOR` and
//! [`InstallPlan::with_edited_document`] → show [`InstallPlan::preview`] → `Executor::install`.

pub mod facts;
pub mod form;
pub mod helm;
pub mod plan;
pub mod render;
pub mod sail;

pub use facts::{
    GatewaySelector, InstallFacts, NodePortUse, NotListed, OperatorDeployment, OperatorDetection,
};
pub use form::{
    DEFAULT_PROFILE, GatewayForm, GatewayKind, NODE_PORT_RANGE, PROFILES, Problem, RevisionForm,
    ServiceType, parse_key_values,
};
pub use helm::{GATEWAY_CHART, HelmRelease, ISTIOD_CHART};
pub use plan::{
    COPIED_FROM, InstallPlan, InstallTarget, PlanOptions, PrivateFile, Route, Step, StepKind,
    default_install_file, find_istioctl, find_on_path, gateway_conflicts, parse_istio_operator,
    plan_gateway, plan_revision, revision_conflicts,
};
pub use render::{render_gateway, render_revision};

/// What an install dialog installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstallKind {
    Revision,
    Gateway,
}

impl InstallKind {
    /// The dialog's title before there is a plan.
    pub fn title(self) -> &'static str {
        match self {
            InstallKind::Revision => "install a control-plane revision",
            InstallKind::Gateway => "install a gateway",
        }
    }
}

/// A checked form, as the plan was made from it (the runner checks it again against the
/// cluster right before it installs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installable {
    Revision(RevisionForm),
    Gateway(GatewayForm),
}

impl Installable {
    /// Its clashes with the cluster as `facts` say it is.
    pub fn conflicts(&self, facts: &InstallFacts) -> Vec<Problem> {
        match self {
            Installable::Revision(f) => revision_conflicts(f, facts),
            Installable::Gateway(f) => gateway_conflicts(f, facts),
        }
    }
}

/// A form that passed every check, and its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub form: Installable,
    pub plan: InstallPlan,
    /// The IstioOperator was changed in `$EDITOR`.
    pub edited: bool,
}
