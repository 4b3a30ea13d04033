//! Actions that change the cluster, as the UI holds them: what the user asked for
//! ([`Request`]), the dialog that previews, dry-runs and confirms it ([`Dialog`]), and
//! the tasks that run in the background ([`Task`]). Nothing here talks to the API server:
//! a confirmed dialog becomes a [`super::Command::Run`], and the app's runner sends
//! [`TaskUpdate`]s back.

use std::cell::Cell;

use jiff::Timestamp;

use crate::ops::install::InstallFacts;

use super::install::InstallForm;
use crate::ops::{InputKind, InstallRequest, Request};

/// Identifies a running action between the UI and the runner.
pub type TaskId = u64;

/// A request to run, as the UI hands it to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRun {
    pub id: TaskId,
    pub request: Request,
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
    pub request: Request,
    pub dry_run: bool,
    pub lines: Vec<String>,
    pub progress: Option<TaskProgress>,
    pub result: Option<Result<String, String>>,
    /// The user asked to abort; the runner has not answered yet.
    pub aborting: bool,
    /// When a frame first showed it finished: its outcome stays in full for `FOLD_AFTER`
    /// from then. Kept by the renderer, which is given the time, like a table's offset.
    pub shown_finished: Cell<Option<Timestamp>>,
}

/// How long a finished task's outcome stays in full in the actions panel before it folds
/// into one line; the status line said it too.
pub const FOLD_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

/// How the actions panel shows finished tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fold {
    /// Each in full for `FOLD_AFTER` after it is first shown, then folded.
    #[default]
    Auto,
    /// All folded into one line, by the fold key.
    Folded,
    /// All in full, by the fold key.
    Shown,
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
            shown_finished: Cell::new(None),
        }
    }

    pub fn running(&self) -> bool {
        self.result.is_none()
    }

    /// Whether the actions panel folds it at `now` (a frame's time; `None` before any).
    pub fn folded(&self, fold: Fold, now: Option<Timestamp>) -> bool {
        if self.running() {
            return false;
        }
        match fold {
            Fold::Folded => true,
            Fold::Shown => false,
            Fold::Auto => match (self.shown_finished.get(), now) {
                (Some(at), Some(now)) => now.duration_since(at) >= FOLD_AFTER,
                _ => false,
            },
        }
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
    pub request: Request,
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
    pub fn new(request: Request) -> Dialog {
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
        let request = Request::Install(Box::new(InstallRequest {
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
                Request::Drain {
                    delete_emptydir_data,
                    ..
                }
                | Request::UpgradeNodes {
                    delete_emptydir_data,
                    ..
                },
                DialogOption::DeleteEmptyDirData,
            ) => {
                *delete_emptydir_data = !*delete_emptydir_data;
                true
            }
            (
                Request::Drain { force, .. } | Request::PdbRestore { force, .. },
                DialogOption::Force,
            ) => {
                *force = !*force;
                true
            }
            (
                Request::Drain {
                    evict_last_replica, ..
                },
                DialogOption::EvictLastReplica,
            ) => {
                *evict_last_replica = !*evict_last_replica;
                true
            }
            (Request::LabelNamespace { restart, .. }, DialogOption::Restart) => {
                *restart = !*restart;
                true
            }
            (
                Request::TagSet { restart, .. } | Request::Ambient { restart, .. },
                DialogOption::Restart,
            ) => {
                *restart = !*restart;
                true
            }
            (Request::Restart { wait, .. }, DialogOption::Wait) => {
                *wait = !*wait;
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
            Request::Drain {
                delete_emptydir_data,
                force,
                evict_last_replica,
                ..
            } => vec![
                (DialogOption::DeleteEmptyDirData, *delete_emptydir_data),
                (DialogOption::Force, *force),
                (DialogOption::EvictLastReplica, *evict_last_replica),
            ],
            Request::LabelNamespace { restart, .. } => {
                vec![(DialogOption::Restart, *restart)]
            }
            Request::PdbRestore { force, .. } => vec![(DialogOption::Force, *force)],
            Request::UpgradeNodes {
                delete_emptydir_data,
                ..
            } => vec![(DialogOption::DeleteEmptyDirData, *delete_emptydir_data)],
            Request::Restart { wait, .. } => vec![(DialogOption::Wait, *wait)],
            Request::TagSet { restart, .. } | Request::Ambient { restart, .. } => {
                vec![(DialogOption::Restart, *restart)]
            }
            _ => Vec::new(),
        }
    }

    /// What an option of this dialog's action does, in a word or three.
    pub fn option_label(&self, option: DialogOption) -> &'static str {
        match (&self.request, option) {
            (Request::TagSet { .. }, DialogOption::Restart) => {
                "restart the tag's workloads, one at a time"
            }
            (Request::PdbRestore { .. }, DialogOption::Force) => {
                "force (over a change made since relax)"
            }
            _ => option.label(),
        }
    }
}

/// A switch of an action, flipped in its dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogOption {
    DeleteEmptyDirData,
    Force,
    EvictLastReplica,
    Restart,
    /// Follow a rollout to its end.
    Wait,
}

impl DialogOption {
    /// What the option does in a drain's or a namespace's dialog ([`Dialog::option_label`]
    /// says it for any dialog).
    fn label(self) -> &'static str {
        match self {
            DialogOption::DeleteEmptyDirData => "delete emptyDir data",
            DialogOption::Force => "force (pods without controller)",
            DialogOption::EvictLastReplica => "evict last ready replicas",
            DialogOption::Restart => "rollout restart the workloads",
            DialogOption::Wait => "wait for the rollout",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destructive_actions_confirm_by_name() {
        let drain = Request::Drain {
            node: "k1-node03".into(),
            delete_emptydir_data: false,
            force: false,
            evict_last_replica: false,
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

        let mut c = Dialog::new(Request::Cordon {
            node: "k1-node03".into(),
        });
        assert!(!c.confirmed(), "a preview is not a confirmation");
        c.stage = Stage::Confirm;
        assert!(!c.typing());
        assert!(c.confirmed());
    }

    #[test]
    fn input_is_checked_before_the_preview() {
        let mut d = Dialog::new(Request::LabelNode {
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

        let mut n = Dialog::new(Request::LabelNamespace {
            namespace: "shop".into(),
            revision: String::new(),
            restart: false,
            force: false,
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
        let mut d = Dialog::new(Request::Drain {
            node: "n".into(),
            delete_emptydir_data: false,
            force: false,
            evict_last_replica: false,
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
                (DialogOption::Force, true),
                (DialogOption::EvictLastReplica, false),
            ]
        );
    }
}
