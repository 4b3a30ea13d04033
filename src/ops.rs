//! Actions as data: what a user asks for ([`Request`]), the checks made before any request
//! leaves ([`names`], [`label`]), kubectl's drain rules and a drain's plan and events
//! ([`drain`]), PodDisruptionBudget relief ([`pdb`]), rollouts ([`rollout`]), scaling and
//! restarting one workload ([`workload`]), installs as forms, facts and plans ([`install`]),
//! and the words of their outcomes. Pure: no kube client, no terminal; `cluster::actions`
//! carries the plans out, `ui` and the CLI show them.

pub mod ambient;
pub mod drain;
pub mod inspect;
pub mod install;
pub mod label;
pub mod names;
pub mod outcome;
pub mod pdb;
pub mod plan;
pub mod request;
pub mod rollout;
pub mod tag;
pub mod uninstall;
pub mod upgrade;
pub mod workload;

pub use plan::{Plan, plan};
pub use request::{ActionKind, Consent, InputKind, InstallRequest, Request};

/// Why an action did not happen or did not finish. [`ActionError::is_bad_input`] tells a
/// caller's exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// `--readonly` is set: nothing was sent.
    #[error("refusing to {action} {target}: meshtop runs with --readonly")]
    Readonly { action: String, target: String },
    /// The input is malformed (label syntax, revision name): nothing was sent.
    #[error("{0}")]
    Invalid(String),
    /// The target does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The target is not in a state the action applies to (a PDB already relaxed, or not).
    #[error("{0}")]
    Conflict(String),
    /// The API server refused or failed a request: its own words.
    #[error("{0}")]
    Api(String),
    /// Refused for want of the user's explicit consent (`--force` and the like): a drain
    /// that kubectl's rules refuse to start (pods without controller, local storage), a
    /// namespace set to a revision that does not run.
    #[error("{0}")]
    Refused(String),
    /// The drain did not finish within its timeout; the node stays cordoned.
    #[error("{0}")]
    TimedOut(String),
    /// The user stopped it; what was done stays done.
    #[error("{0}")]
    Aborted(String),
    /// The action ran (or failed) but the audit log could not take its line.
    #[error("{0}")]
    Unaudited(String),
}

impl ActionError {
    /// Bad input: the user asked for something that cannot be (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ActionError::Readonly { .. } | ActionError::Invalid(_) | ActionError::NotFound(_)
        )
    }
}
