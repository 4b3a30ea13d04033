//! Installing a control-plane revision or a gateway as an IstioOperator resource (issue 6):
//! the forms and their checks ([`form`]), what the checks read from the cluster and whether
//! an in-cluster operator will act ([`facts`]), the rendering from the templates under
//! `assets/templates/` ([`render`]), the plan of ordered steps a preview shows ([`plan`]),
//! their execution ([`apply`], run by `Executor::install`), and editing the resource in
//! `$EDITOR` ([`editor`]).
//!
//! The flow, for the TUI and the CLI alike: fill a form and check it on its own
//! (`problems`/`validate`, no cluster) → [`InstallFacts::read`] → [`plan_revision`] or
//! [`plan_gateway`] (every check against the cluster, then the steps) → optionally
//! [`edit_in_editor`] and [`InstallPlan::with_edited_iop`] → show [`InstallPlan::preview`] →
//! `Executor::install(&plan, dry_run)`.

pub mod apply;
pub mod editor;
pub mod facts;
pub mod form;
pub mod plan;
pub mod render;

pub use apply::InstallOutcome;
pub use editor::{EditorCommand, edit_in_editor};
pub use facts::{
    ClusterObjects, DeclaredGateway, GatewaySelector, InstallFacts, IopSummary, NodePortUse,
    OperatorDeployment, OperatorDetection,
};
pub use form::{
    DEFAULT_PROFILE, GatewayForm, GatewayKind, NODE_PORT_RANGE, PROFILES, Problem, RevisionForm,
    ServiceType, parse_key_values,
};
pub use plan::{
    COPIED_FROM, InstallPlan, InstallTarget, PlanOptions, PrivateFile, Route, Step, StepKind,
    default_install_file, find_istioctl, find_on_path, gateway_conflicts, parse_istio_operator,
    plan_gateway, plan_revision, revision_conflicts,
};
pub use render::{render_gateway, render_revision};
