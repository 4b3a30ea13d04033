//! Actions that change the cluster, as the UI holds them: what the user asked for
//! ([`ActionRequest`]), the dialog that previews, dry-runs and confirms it ([`Dialog`]), and
//! the tasks that run in the background ([`Task`]). Nothing here talks to the API server:
//! a confirmed dialog becomes a [`super::Command::Run`], and the app's runner sends
//! [`TaskUpdate`]s back.

use std::cell::Cell;

use jiff::Timestamp;

use crate::cluster::actions::install::InstallFacts;

use super::install::{InstallForm, InstallKind, Planned};
use super::keymap::ActionKind;

/// One change to the cluster, complete and ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionRequest {
    Drain {
        node: String,
        /// kubectl's `--delete-emptydir-data`.
        delete_emptydir_data: bool,
        /// kubectl's `--force`: pods without a controller go too.
        force: bool,
    },
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    /// `change`: `KEY=VALUE` or `KEY-`.
    LabelNode {
        node: String,
        change: String,
    },
    /// `istio.io/rev=REVISION`, removing a conflicting `istio-injection`; `restart` rolls
    /// out the namespace's workloads so their pods move to the revision.
    LabelNamespace {
        namespace: String,
        revision: String,
        restart: bool,
    },
    PdbRelax {
        namespace: String,
        name: String,
    },
    PdbRestore {
        namespace: String,
        name: String,
    },
    /// A control-plane revision or a gateway, as an IstioOperator resource.
    Install(Box<InstallRequest>),
}

/// What an install dialog installs; the checked form and its plan from the preview on.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallRequest {
    pub kind: InstallKind,
    /// `None` while the form is filled in: nothing can run yet.
    pub planned: Option<Planned>,
}

// The plan's objects are JSON values, whose numbers are never NaN: equality is total.
impl Eq for InstallRequest {}

impl InstallRequest {
    /// The IstioOperator's name, typed to confirm.
    pub fn iop_name(&self) -> Option<&str> {
        self.planned
            .as_ref()?
            .plan
            .iop()
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
    }
}

impl ActionRequest {
    /// The action (and its key binding) this request comes from.
    pub fn kind(&self) -> ActionKind {
        match self {
            ActionRequest::Drain { .. } => ActionKind::Drain,
            ActionRequest::Cordon { .. } => ActionKind::Cordon,
            ActionRequest::Uncordon { .. } => ActionKind::Uncordon,
            ActionRequest::LabelNode { .. } => ActionKind::LabelNode,
            ActionRequest::LabelNamespace { .. } => ActionKind::LabelNamespace,
            ActionRequest::PdbRelax { .. } => ActionKind::PdbRelax,
            ActionRequest::PdbRestore { .. } => ActionKind::PdbRestore,
            ActionRequest::Install(r) => match r.kind {
                InstallKind::Revision => ActionKind::InstallRevision,
                InstallKind::Gateway => ActionKind::InstallGateway,
            },
        }
    }

    /// The verb, as the audit log and kubectl say it.
    pub fn verb(&self) -> &'static str {
        match self {
            ActionRequest::Drain { .. } => "drain",
            ActionRequest::Cordon { .. } => "cordon",
            ActionRequest::Uncordon { .. } => "uncordon",
            ActionRequest::LabelNode { .. } | ActionRequest::LabelNamespace { .. } => "label",
            ActionRequest::PdbRelax { .. } => "relax",
            ActionRequest::PdbRestore { .. } => "restore",
            ActionRequest::Install(_) => "install",
        }
    }

    /// The object it changes, `kind/name` (`kind/namespace/name` when namespaced).
    pub fn target(&self) -> String {
        match self {
            ActionRequest::Drain { node, .. }
            | ActionRequest::Cordon { node }
            | ActionRequest::Uncordon { node }
            | ActionRequest::LabelNode { node, .. } => format!("node/{node}"),
            ActionRequest::LabelNamespace { namespace, .. } => format!("namespace/{namespace}"),
            ActionRequest::PdbRelax { namespace, name }
            | ActionRequest::PdbRestore { namespace, name } => {
                format!("poddisruptionbudget/{namespace}/{name}")
            }
            ActionRequest::Install(r) => match &r.planned {
                Some(p) => p.plan.audit_target(),
                None => "istiooperator".into(),
            },
        }
    }

    /// `drain node/k1-node03`.
    pub fn title(&self) -> String {
        match self {
            ActionRequest::LabelNode { change, .. } if !change.is_empty() => {
                format!("label {} {change}", self.target())
            }
            ActionRequest::LabelNamespace { revision, .. } if !revision.is_empty() => {
                format!("label {} istio.io/rev={revision}", self.target())
            }
            ActionRequest::Install(r) => match &r.planned {
                Some(p) => p.plan.title(),
                None => r.kind.title().to_string(),
            },
            _ => format!("{} {}", self.verb(), self.target()),
        }
    }

    /// Destructive actions are confirmed by typing this name (the node's or the PDB's).
    pub fn confirm_name(&self) -> Option<&str> {
        match self {
            ActionRequest::Drain { node, .. } => Some(node),
            ActionRequest::PdbRelax { name, .. } | ActionRequest::PdbRestore { name, .. } => {
                Some(name)
            }
            // Installing deletes nothing, but it starts a control plane or a gateway: it is
            // confirmed like the destructive actions, by the IstioOperator's name.
            ActionRequest::Install(r) => r.iop_name(),
            _ => None,
        }
    }

    /// The free text the dialog asks for before it can preview, if any, and whether it is
    /// still missing.
    pub fn input(&self) -> Option<InputKind> {
        match self {
            ActionRequest::LabelNode { .. } => Some(InputKind::LabelChange),
            ActionRequest::LabelNamespace { .. } => Some(InputKind::Revision),
            _ => None,
        }
    }

    /// Takes the typed text into the request after checking it; the error says why not.
    fn take_input(&mut self, text: &str) -> Result<(), String> {
        let text = text.trim();
        match self {
            ActionRequest::LabelNode { change, .. } => {
                crate::cluster::actions::parse_label_change(text).map_err(|e| e.to_string())?;
                *change = text.to_string();
            }
            ActionRequest::LabelNamespace { revision, .. } => {
                crate::cluster::actions::validate_revision(text).map_err(|e| e.to_string())?;
                *revision = text.to_string();
            }
            _ => {}
        }
        Ok(())
    }
}

/// What a dialog asks the user to type before the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `KEY=VALUE` or `KEY-`.
    LabelChange,
    /// A revision name (Tab completes from the revisions in the cluster).
    Revision,
}

impl InputKind {
    pub fn prompt(self) -> &'static str {
        match self {
            InputKind::LabelChange => "label (KEY=VALUE sets, KEY- removes): ",
            InputKind::Revision => "revision (tab completes): ",
        }
    }
}

/// Identifies a running action between the UI and the runner.
pub type TaskId = u64;

/// A request to run, as the UI hands it to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRun {
    pub id: TaskId,
    pub request: ActionRequest,
    /// Every write with `dryRun=All`: the server checks it, nothing changes.
    pub dry_run: bool,
}

/// A pod whose eviction a PodDisruptionBudget refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// `namespace/name`.
    pub pod: String,
    /// The budget's name (in the pod's namespace), when the API named it.
    pub pdb: Option<String>,
    /// The API's own words.
    pub message: String,
}

/// Where a running action stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskProgress {
    pub done: usize,
    pub total: usize,
    /// What `done` counts: `evicted`, `restarted`.
    pub unit: &'static str,
    pub blocked: Vec<Blocked>,
    /// When the refused evictions are tried again.
    pub retry_at: Option<Timestamp>,
}

/// What the runner reports about a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskUpdate {
    /// A step done, in kubectl's words (`node/k1-node03 cordoned`).
    Line {
        id: TaskId,
        text: String,
    },
    Progress {
        id: TaskId,
        progress: TaskProgress,
    },
    /// The outcome: a summary, or the API's error message.
    Finished {
        id: TaskId,
        result: Result<String, String>,
    },
    /// What an install form checks against, read from the cluster when its dialog opened
    /// (a read: nothing is written).
    InstallFacts {
        id: TaskId,
        facts: Result<Box<InstallFacts>, String>,
    },
}

impl TaskUpdate {
    pub fn id(&self) -> TaskId {
        match self {
            TaskUpdate::Line { id, .. }
            | TaskUpdate::Progress { id, .. }
            | TaskUpdate::Finished { id, .. }
            | TaskUpdate::InstallFacts { id, .. } => *id,
        }
    }
}

/// An action sent to the cluster, and what came back so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub request: ActionRequest,
    pub dry_run: bool,
    pub lines: Vec<String>,
    pub progress: Option<TaskProgress>,
    pub result: Option<Result<String, String>>,
    /// The user asked to abort; the runner has not answered yet.
    pub aborting: bool,
}

/// The most lines a task keeps (the newest).
const TASK_LINES: usize = 200;

impl Task {
    pub fn new(run: &ActionRun) -> Task {
        Task {
            id: run.id,
            request: run.request.clone(),
            dry_run: run.dry_run,
            lines: Vec::new(),
            progress: None,
            result: None,
            aborting: false,
        }
    }

    pub fn running(&self) -> bool {
        self.result.is_none()
    }

    pub fn apply(&mut self, update: TaskUpdate) {
        match update {
            TaskUpdate::Line { text, .. } => {
                self.lines.push(text);
                if self.lines.len() > TASK_LINES {
                    self.lines.remove(0);
                }
            }
            TaskUpdate::Progress { progress, .. } => self.progress = Some(progress),
            TaskUpdate::Finished { result, .. } => {
                self.result = Some(result);
                self.aborting = false;
                if let Some(p) = &mut self.progress {
                    p.retry_at = None;
                }
            }
            TaskUpdate::InstallFacts { .. } => {}
        }
    }
}

/// Where a dialog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Filling in an install form.
    Form,
    /// Typing what the action needs (a label, a revision).
    Input(InputKind),
    /// What will change; a server dry run may be asked for.
    Preview,
    /// The last step: typing the target's name (destructive) or pressing `y`.
    Confirm,
}

/// The dialog of one action: preview → (dry run) → confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub request: ActionRequest,
    pub stage: Stage,
    /// What is typed at an input or confirm stage.
    pub input: String,
    /// Why the typed text was not taken.
    pub error: Option<String>,
    /// The server dry run of the request as it is now, if one was asked for.
    pub dry_run: Option<Task>,
    /// An install's form (kept from the preview on, to go back to it).
    pub install: Option<Box<InstallForm>>,
    /// How far the dialog's text (above its keys and prompt) is scrolled.
    pub scroll: DialogScroll,
    /// A name to type at the confirmation that the action alone would not ask for (setting
    /// a namespace's injection to a revision that does not run: its new pods go uninjected).
    pub confirm_extra: Option<String>,
}

/// The scroll of a dialog's text. The last frame drawn says how far it can go and how tall
/// a page is, so that keys never scroll past the end (views stay pure: they only record
/// what they drew).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialogScroll {
    /// Lines scrolled from the top; `usize::MAX` follows the end (a dry run's answer).
    pub offset: usize,
    /// The largest useful offset at the last frame.
    pub max: Cell<usize>,
    /// The text's visible height at the last frame.
    pub page: Cell<usize>,
}

impl DialogScroll {
    /// The offset a frame shows.
    pub fn shown(&self) -> usize {
        self.offset.min(self.max.get())
    }

    pub fn down(&mut self, lines: usize) {
        self.offset = self.shown().saturating_add(lines).min(self.max.get());
    }

    pub fn up(&mut self, lines: usize) {
        self.offset = self.shown().saturating_sub(lines);
    }

    pub fn page_lines(&self) -> usize {
        self.page.get().saturating_sub(1).max(1)
    }

    /// Back to the top (a new text).
    pub fn reset(&mut self) {
        self.offset = 0;
    }

    /// Follow the end as it grows (a dry run's answer arriving).
    pub fn follow_end(&mut self) {
        self.offset = usize::MAX;
    }
}

impl Dialog {
    pub fn new(request: ActionRequest) -> Dialog {
        let stage = match request.input() {
            Some(kind) => Stage::Input(kind),
            None => Stage::Preview,
        };
        Dialog {
            request,
            stage,
            input: String::new(),
            error: None,
            dry_run: None,
            install: None,
            scroll: DialogScroll::default(),
            confirm_extra: None,
        }
    }

    /// The dialog of an install: its form first.
    pub fn install(form: InstallForm) -> Dialog {
        let request = ActionRequest::Install(Box::new(InstallRequest {
            kind: form.kind,
            planned: None,
        }));
        Dialog {
            stage: Stage::Form,
            install: Some(Box::new(form)),
            ..Dialog::new(request)
        }
    }

    /// Keys type text (rather than act) at this stage.
    pub fn typing(&self) -> bool {
        match self.stage {
            Stage::Form | Stage::Input(_) => true,
            Stage::Confirm => self.confirm_name().is_some(),
            Stage::Preview => false,
        }
    }

    /// The name the confirmation asks to type, if it asks for one.
    pub fn confirm_name(&self) -> Option<&str> {
        self.request
            .confirm_name()
            .or(self.confirm_extra.as_deref())
    }

    /// The typed text confirms the action.
    pub fn confirmed(&self) -> bool {
        self.stage == Stage::Confirm
            && match self.confirm_name() {
                Some(name) => self.input == name,
                None => true,
            }
    }

    /// Input stage: take the typed text and go to the preview, or say why not.
    pub fn accept_input(&mut self) {
        if let Err(e) = self.request.take_input(&self.input) {
            self.error = Some(e);
            return;
        }
        self.input.clear();
        self.error = None;
        self.stage = Stage::Preview;
    }

    /// Flips an option of the request; a dry run of the old request no longer applies.
    pub fn toggle(&mut self, option: DialogOption) -> bool {
        let changed = match (&mut self.request, option) {
            (
                ActionRequest::Drain {
                    delete_emptydir_data,
                    ..
                },
                DialogOption::DeleteEmptyDirData,
            ) => {
                *delete_emptydir_data = !*delete_emptydir_data;
                true
            }
            (ActionRequest::Drain { force, .. }, DialogOption::Force) => {
                *force = !*force;
                true
            }
            (ActionRequest::LabelNamespace { restart, .. }, DialogOption::Restart) => {
                *restart = !*restart;
                true
            }
            _ => false,
        };
        if changed {
            self.dry_run = None;
        }
        changed
    }

    /// The options this action has, with their state: `(option, on)`.
    pub fn options(&self) -> Vec<(DialogOption, bool)> {
        match &self.request {
            ActionRequest::Drain {
                delete_emptydir_data,
                force,
                ..
            } => vec![
                (DialogOption::DeleteEmptyDirData, *delete_emptydir_data),
                (DialogOption::Force, *force),
            ],
            ActionRequest::LabelNamespace { restart, .. } => {
                vec![(DialogOption::Restart, *restart)]
            }
            _ => Vec::new(),
        }
    }
}

/// A switch of an action, flipped in its dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogOption {
    DeleteEmptyDirData,
    Force,
    Restart,
}

impl DialogOption {
    pub fn label(self) -> &'static str {
        match self {
            DialogOption::DeleteEmptyDirData => "delete emptyDir data",
            DialogOption::Force => "force (pods without controller)",
            DialogOption::Restart => "rollout restart the workloads",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destructive_actions_confirm_by_name() {
        let drain = ActionRequest::Drain {
            node: "k1-node03".into(),
            delete_emptydir_data: false,
            force: false,
        };
        let mut d = Dialog::new(drain);
        assert_eq!(d.stage, Stage::Preview);
        assert!(!d.typing());
        d.stage = Stage::Confirm;
        assert!(d.typing());
        d.input = "k1-node0".into();
        assert!(!d.confirmed());
        d.input = "k1-node03".into();
        assert!(d.confirmed());

        let mut c = Dialog::new(ActionRequest::Cordon {
            node: "k1-node03".into(),
        });
        assert!(!c.confirmed(), "a preview is not a confirmation");
        c.stage = Stage::Confirm;
        assert!(!c.typing());
        assert!(c.confirmed());
    }

    #[test]
    fn input_is_checked_before_the_preview() {
        let mut d = Dialog::new(ActionRequest::LabelNode {
            node: "n1".into(),
            change: String::new(),
        });
        assert_eq!(d.stage, Stage::Input(InputKind::LabelChange));
        d.input = "bad key!=x".into();
        d.accept_input();
        assert!(d.error.is_some());
        assert_eq!(d.stage, Stage::Input(InputKind::LabelChange));
        d.input = "taco-istio=enabled".into();
        d.accept_input();
        assert_eq!(d.stage, Stage::Preview);
        assert_eq!(d.request.title(), "label node/n1 taco-istio=enabled");

        let mut n = Dialog::new(ActionRequest::LabelNamespace {
            namespace: "shop".into(),
            revision: String::new(),
            restart: false,
        });
        n.input = "1.9.1".into();
        n.accept_input();
        assert!(n.error.is_some(), "dots are not allowed in a revision");
        n.input = "1-9-1".into();
        n.accept_input();
        assert_eq!(n.stage, Stage::Preview);
    }

    #[test]
    fn toggling_an_option_drops_the_dry_run() {
        let mut d = Dialog::new(ActionRequest::Drain {
            node: "n".into(),
            delete_emptydir_data: false,
            force: false,
        });
        let run = ActionRun {
            id: 1,
            request: d.request.clone(),
            dry_run: true,
        };
        d.dry_run = Some(Task::new(&run));
        assert!(d.toggle(DialogOption::Force));
        assert!(d.dry_run.is_none());
        assert!(!d.toggle(DialogOption::Restart), "a drain has no restart");
        assert_eq!(
            d.options(),
            vec![
                (DialogOption::DeleteEmptyDirData, false),
                (DialogOption::Force, true)
            ]
        );
    }
}
