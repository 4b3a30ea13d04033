//! The terminal UI: views of the model, keys, themes. `Ui` is what the event loop in
//! `app.rs` holds: keys go in through `on_key` (key → keymap → `Action` → `update`), frames
//! come out of `render`, which is pure (no IO, no clock: time comes in as `now`).
//!
//! - `keymap`: bindings as data (`assets/keymap.toml`), help and footer generated from it.
//! - `theme`: styles as data (`themes/*.toml`).
//! - `state`: screens, selection, filter, sort, prompt; `update` changes them.
//! - `table`: the one table widget every view uses.
//! - `views`: one file per screen.
//! - `chrome`: header, footer, help overlay, the "terminal too small" message.
//! - `action`, `dialog`, `install`: the actions' requests, their dialogs (the install form
//!   among them) and the panel of running actions.
//! - `pane`: an object's YAML, description or logs, read live, over the views.

pub mod action;
pub mod chrome;
pub mod dialog;
pub mod install;
pub mod keymap;
pub mod pane;
pub mod state;
pub mod table;
pub mod theme;
pub mod views;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

use crate::model::Model;
use crate::ops::install as cluster_install;

pub use keymap::{Action, Keymap, KeymapError};
pub use state::{Mode, UiState};
pub use theme::{Theme, ThemeError};
pub use views::{ScreenId, Subject, ViewKind};

/// The smallest terminal meshtop draws in; smaller gets a message.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// What the header says about the connection; the app fills it from the CLI and kubeconfig.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// kubeconfig context.
    pub context: String,
    /// API server URL.
    pub server: String,
    /// `-n` scope; `None` is all namespaces.
    pub namespace: Option<String>,
    /// `--readonly`: actions disabled.
    pub readonly: bool,
}

/// What the app must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Quit,
    /// Send a confirmed action (or a dry run) to the cluster.
    Run(action::ActionRun),
    /// Stop a running action.
    Abort(action::TaskId),
    /// A rolling upgrade waiting for the user goes on.
    Resume(action::TaskId),
    /// Read what an install form checks against (a read: nothing is written); the answer
    /// comes back as [`action::TaskUpdate::InstallFacts`] with this id.
    ReadInstallFacts(action::TaskId),
    /// Suspend the terminal and edit this text (an IstioOperator) in `$EDITOR`; the
    /// result goes back through [`Ui::on_edited`].
    Edit(String),
    /// Read what a pane shows (reads only); the text comes back through
    /// [`Ui::on_pane_update`] with this id.
    Inspect {
        id: pane::PaneId,
        what: crate::ops::inspect::Inspect,
    },
    /// The pane closed: stop its reads (a log stream).
    ClosePane(pane::PaneId),
    /// Show only this namespace's objects (`None`: every namespace).
    Focus(Option<String>),
    /// Connect to this kubeconfig context and read the cluster anew; the outcome goes back
    /// through [`Ui::on_context_switched`].
    SwitchContext(String),
}

/// The UI: its state, keymap and theme.
#[derive(Debug)]
pub struct Ui {
    state: UiState,
    keymap: Keymap,
    theme: Theme,
    dirty: bool,
}

impl Ui {
    pub fn new(keymap: Keymap, theme: Theme) -> Self {
        Ui {
            state: UiState::default(),
            keymap,
            theme,
            dirty: true,
        }
    }

    /// `--readonly`: action keys say why they do nothing, and nothing is sent.
    pub fn set_readonly(&mut self, readonly: bool) {
        self.state.readonly = readonly;
    }

    /// Actions cannot run (`why`: the audit log cannot be written): their keys say why, and
    /// the status line says it from the start.
    pub fn disable_actions(&mut self, why: String) {
        self.state.status = Some(format!("actions are disabled: {why}"));
        self.state.actions_disabled = Some(why);
    }

    /// How install plans are made: istioctl on PATH, its flags, where files go.
    pub fn set_install_options(&mut self, options: cluster_install::PlanOptions) {
        self.state.install_options = options;
    }

    /// The kubeconfig's contexts and the current one, for `:ctx`.
    pub fn set_contexts(&mut self, contexts: Vec<String>, current: String) {
        self.state.contexts = contexts;
        self.state.context = current;
    }

    /// `-n`: the only namespace the watches read.
    pub fn set_watched_namespace(&mut self, namespace: Option<String>) {
        self.state.watched_namespace = namespace;
    }

    /// What the app's reads say about a pane.
    pub fn on_pane_update(&mut self, update: pane::PaneUpdate) {
        self.state.on_pane_update(update);
        self.dirty = true;
    }

    /// The app switched context, or says why it could not.
    pub fn on_context_switched(&mut self, result: Result<String, String>) {
        self.state.on_context_switched(result);
        self.dirty = true;
    }

    /// What came back from `$EDITOR` (or why nothing did).
    pub fn on_edited(&mut self, edited: Result<String, String>) {
        self.state.on_edited(edited);
        self.dirty = true;
    }

    /// What the app's runner says about an action.
    pub fn on_task_update(&mut self, update: action::TaskUpdate) {
        self.state.on_task_update(update);
        self.dirty = true;
    }

    /// A retry countdown is on screen: the next second must be drawn.
    pub fn ticking(&self) -> bool {
        let counting = |t: &action::Task| {
            t.running() && t.progress.as_ref().is_some_and(|p| p.retry_at.is_some())
        };
        self.state.tasks.iter().any(counting)
    }

    /// Handles one key press; returns what the app must do.
    pub fn on_key(&mut self, key: KeyEvent, model: &Model) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        self.dirty = true;
        self.state.status = None;
        if let Mode::Dialog(d) = &self.state.mode {
            let typing = d.typing();
            let form = (d.stage == action::Stage::Form)
                .then(|| self.keymap.form_action(&key))
                .flatten();
            let action = form.or_else(|| self.keymap.dialog_action(&key, typing, d.request.kind()));
            return match action {
                Some(action) => self.state.update_dialog(action, model),
                None => {
                    if typing && let Some(c) = typed_char(&key) {
                        self.state.type_char(c);
                    }
                    Vec::new()
                }
            };
        }
        let scope = self.state.scope();
        if let Mode::Pane(_) = &self.state.mode {
            return match self.keymap.pane_action(&key, scope) {
                Some(action) => self.state.update_pane(action),
                None => Vec::new(),
            };
        }
        let prompt = self.state.prompt_active();
        match self.keymap.action(&key, scope, prompt) {
            Some(action) => self.state.update(action, model, &self.keymap),
            None => {
                if prompt && let Some(c) = typed_char(&key) {
                    self.state.type_char(c);
                }
                Vec::new()
            }
        }
    }

    /// The terminal was resized: the next frame must be drawn.
    pub fn on_resize(&mut self) {
        self.dirty = true;
    }

    /// Draws everything. Pure: no IO, no clock reads (time comes in `now`).
    pub fn render(&self, frame: &mut Frame, model: &Model, header: &Header, now: Timestamp) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            chrome::too_small(frame, area, &self.theme);
            return;
        }
        let [head, body, foot] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        chrome::header(frame, head, model, header, now, &self.theme);
        let (body, tasks) = if self.state.tasks.is_empty() {
            (body, None)
        } else {
            let lines = dialog::panel_lines(
                &self.state.tasks,
                self.state.fold,
                model,
                &self.keymap,
                &self.theme,
                now,
            );
            let height = dialog::tasks_height(&lines, body.width).min(body.height / 2);
            let [body, tasks] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(height)]).areas(body);
            (body, Some((tasks, lines)))
        };
        let page = views::render(frame, body, self.state.screen(), model, &self.theme, now);
        if let Some((area, lines)) = tasks {
            dialog::render_tasks(frame, area, lines, &self.theme);
        }
        self.state.page.set(page);
        self.state.drawn_at.set(Some(now));
        self.state.table_width.set(body.width);
        chrome::footer(frame, foot, &self.state, &self.keymap, &self.theme);
        match &self.state.mode {
            Mode::Help { scroll } => {
                chrome::help(frame, body, &self.state, &self.keymap, &self.theme, *scroll)
            }
            Mode::Dialog(d) => {
                dialog::render(frame, body, d, model, header, &self.keymap, &self.theme)
            }
            Mode::Pane(p) => pane::render(frame, body, p, &self.keymap, &self.theme),
            _ => {}
        }
    }

    /// True when something in the UI changed since the last render.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    pub fn mark_drawn(&mut self) {
        self.dirty = false;
    }

    pub fn state(&self) -> &UiState {
        &self.state
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }
}

/// The character a key types into a prompt or a form: a character key without Ctrl or Alt,
/// which are the keymap's.
fn typed_char(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    }
}
