//! UI state (screens, selection, filter, sort, prompt) and `update`, the only function that
//! changes it.

use std::cell::{Cell, RefCell};

use crate::model::{Finding, Model};
use crate::ops::install::PlanOptions;

use super::Command;
use super::action::{ActionRun, Dialog, Fold, Stage, Task, TaskId, TaskUpdate};
use super::install::{Facts, InstallForm};
use super::keymap::{Action, Keymap, Scope};
use super::pane::{Pane, PaneId, PaneKind, PaneUpdate};
use super::table::{self, Sort};
use super::views::{self, ScreenId, Subject, ViewKind};
use crate::model::Kind;
use crate::model::summary::WorkloadKind;
use crate::ops::inspect::{Inspect, ObjectRef};
use crate::ops::workload::WorkloadRef;
use crate::ops::{ActionKind, InputKind, Request};
use jiff::Timestamp;

/// One screen's place: selection, scroll, filter, sort.
#[derive(Debug)]
pub struct Screen {
    pub id: ScreenId,
    /// Index into the filtered, sorted rows.
    pub selected: usize,
    /// First row on screen. Kept by the renderer (like ratatui's `TableState`), so the
    /// window only moves when the selection leaves it.
    pub offset: Cell<usize>,
    pub filter: String,
    pub sort: Option<Sort>,
    /// Only the rows needing attention (Proxies: those out of sync).
    pub problems_only: bool,
    /// Rows marked with Space, by their first cell (the Nodes view's node names).
    pub marked: std::collections::BTreeSet<String>,
    /// The rows as last arranged, kept by `table::arrange` (like `offset`, by the
    /// renderer) while the model and the screen's filter, sort and toggle stay the same.
    pub arranged: RefCell<Option<table::Arranged>>,
}

impl Screen {
    pub fn new(id: ScreenId) -> Screen {
        Screen {
            id,
            selected: 0,
            offset: Cell::new(0),
            filter: String::new(),
            sort: None,
            problems_only: false,
            marked: std::collections::BTreeSet::new(),
            arranged: RefCell::new(None),
        }
    }
}

/// What keys do right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a `/` filter; it applies as it is typed.
    Filter,
    /// Typing a `:` command.
    Command {
        input: String,
    },
    /// The help overlay, scrolled by this many lines.
    Help {
        scroll: usize,
    },
    /// An action's dialog: preview, dry run, confirmation.
    Dialog(Box<Dialog>),
    /// A pane over the views: YAML, a description, logs, the contexts.
    Pane(Box<Pane>),
}

/// Finished actions kept in the panel, besides the running ones.
const FINISHED_TASKS: usize = 3;

#[derive(Debug)]
pub struct UiState {
    /// One screen per top-level view, in `ViewKind::ALL` order, so each keeps its place.
    views: Vec<Screen>,
    current: ViewKind,
    /// Details screens opened with Enter, innermost last.
    details: Vec<Screen>,
    /// The view a finding's Enter left, which Esc goes back to.
    came_from: Option<ViewKind>,
    pub mode: Mode,
    /// A one-line message in the footer until the next key.
    pub status: Option<String>,
    /// Data rows of the table on the last frame: the PgUp/PgDn step.
    pub page: Cell<usize>,
    /// Width of the table on the last frame: which columns `s` cycles through.
    pub table_width: Cell<u16>,
    /// The time of the last frame: what the fold key sees as shown.
    pub drawn_at: Cell<Option<Timestamp>>,
    /// How the actions panel shows finished tasks.
    pub fold: Fold,
    /// Actions sent to the cluster: the running ones and the latest outcomes, oldest first.
    pub tasks: Vec<Task>,
    next_task: TaskId,
    /// `--readonly`: action keys only say why they do nothing.
    pub readonly: bool,
    /// Why actions cannot run at all (the audit log cannot be written): their keys say so.
    pub actions_disabled: Option<String>,
    /// Quit was pressed once while actions run; the next quit leaves.
    quit_armed: bool,
    /// How install plans are made (the app sets istioctl and its flags).
    pub install_options: PlanOptions,
    next_pane: PaneId,
    /// The kubeconfig's contexts (empty in a cluster's pod) and the current one.
    pub contexts: Vec<String>,
    pub context: String,
    /// `-n`: the only namespace the watches read, so the only one a focus can show.
    pub watched_namespace: Option<String>,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            views: ViewKind::ALL
                .iter()
                .map(|v| Screen::new(ScreenId::View(*v)))
                .collect(),
            current: ViewKind::Overview,
            details: Vec::new(),
            came_from: None,
            mode: Mode::Normal,
            status: None,
            page: Cell::new(10),
            table_width: Cell::new(80),
            drawn_at: Cell::new(None),
            fold: Fold::Auto,
            tasks: Vec::new(),
            next_task: 1,
            readonly: false,
            actions_disabled: None,
            quit_armed: false,
            // No istioctl until the app looks for one: a test never depends on its PATH.
            install_options: PlanOptions {
                istioctl: None,
                force_istioctl: false,
                file: None,
                istioctl_args: Vec::new(),
                istioctl_kubeconfig: None,
                helm: None,
                helm_args: Vec::new(),
                chart: None,
            },
            next_pane: 1,
            contexts: Vec::new(),
            context: String::new(),
            watched_namespace: None,
        }
    }
}

fn view_index(v: ViewKind) -> usize {
    ViewKind::ALL.iter().position(|x| *x == v).unwrap_or(0)
}

impl UiState {
    pub fn screen(&self) -> &Screen {
        self.details
            .last()
            .unwrap_or(&self.views[view_index(self.current)])
    }

    fn screen_mut(&mut self) -> &mut Screen {
        match self.details.last_mut() {
            Some(s) => s,
            None => &mut self.views[view_index(self.current)],
        }
    }

    pub fn current_view(&self) -> ViewKind {
        self.current
    }

    /// Details screens open above the current view.
    pub fn depth(&self) -> usize {
        self.details.len()
    }

    /// Where keys are looked up.
    pub fn scope(&self) -> Scope {
        match self.details.last().map(|s| &s.id) {
            Some(ScreenId::Details(subject)) => Scope::DetailsOf(subject.parent()),
            Some(ScreenId::View(_)) => Scope::Details,
            None => Scope::View(self.current),
        }
    }

    pub fn prompt_active(&self) -> bool {
        matches!(self.mode, Mode::Filter | Mode::Command { .. })
    }

    /// Typed text in a prompt.
    pub fn type_char(&mut self, c: char) {
        match &mut self.mode {
            Mode::Filter => {
                let s = self.screen_mut();
                s.filter.push(c);
                s.selected = 0;
            }
            Mode::Command { input } => input.push(c),
            Mode::Dialog(d) => {
                if d.stage == Stage::Form {
                    if let Some(form) = &mut d.install {
                        form.type_char(c);
                    }
                    d.error = None;
                } else if d.typing() {
                    d.input.push(c);
                    d.error = None;
                }
            }
            Mode::Normal | Mode::Help { .. } | Mode::Pane(_) => {}
        }
    }

    /// Rows of the current screen after filter and sort.
    fn row_count(&self, model: &Model) -> usize {
        let s = self.screen();
        let source = views::source(&s.id, model);
        table::arrange(source.as_ref(), s).len()
    }

    fn move_selection(&mut self, model: &Model, f: impl FnOnce(usize, usize, usize) -> usize) {
        let len = self.row_count(model);
        let page = self.page.get().max(1);
        let s = self.screen_mut();
        let current = s.selected.min(len.saturating_sub(1));
        s.selected = f(current, len, page).min(len.saturating_sub(1));
    }

    /// Quit, unless actions are running and this is the first ask: leaving stops them.
    fn quit(&mut self) -> Vec<Command> {
        let running = self.tasks.iter().filter(|t| t.running()).count();
        if running > 0 && !self.quit_armed {
            self.quit_armed = true;
            self.status = Some(format!(
                "{} still running: quit again to stop them and leave \
                 (a drained node stays cordoned)",
                crate::ops::outcome::count(running, "action")
            ));
            return Vec::new();
        }
        vec![Command::Quit]
    }

    pub fn update(&mut self, action: Action, model: &Model, keymap: &Keymap) -> Vec<Command> {
        if action != Action::Quit {
            self.quit_armed = false;
        }
        if let Mode::Help { scroll } = &mut self.mode {
            match action {
                Action::Help | Action::Back | Action::PromptCancel => self.mode = Mode::Normal,
                Action::Down => *scroll += 1,
                Action::Up => *scroll = scroll.saturating_sub(1),
                Action::PageDown => *scroll += self.page.get().max(1),
                Action::PageUp => *scroll = scroll.saturating_sub(self.page.get().max(1)),
                Action::Top => *scroll = 0,
                Action::Quit => return self.quit(),
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Action::Quit => return self.quit(),
            Action::Help => self.mode = Mode::Help { scroll: 0 },
            Action::Back => {
                let s = self.screen_mut();
                if !s.filter.is_empty() {
                    s.filter.clear();
                    s.selected = 0;
                } else if self.details.pop().is_none()
                    && let Some(view) = self.came_from.take()
                {
                    self.current = view;
                }
            }
            Action::Drill => {
                let s = self.screen();
                let source = views::source(&s.id, model);
                let rows = table::arrange(source.as_ref(), s);
                let subject = rows
                    .get(s.selected.min(rows.len().saturating_sub(1)))
                    .and_then(|&i| source.subject(i));
                drop(source);
                if let Some(subject) = subject {
                    self.details.push(Screen::new(ScreenId::Details(subject)));
                }
            }
            Action::HalfPageDown => self.move_selection(model, |c, _, p| c + p.div_ceil(2)),
            Action::HalfPageUp => {
                self.move_selection(model, |c, _, p| c.saturating_sub(p.div_ceil(2)))
            }
            Action::Yaml | Action::Describe | Action::Logs => return self.inspect(action, model),
            Action::EditObject => {
                self.status = Some(match self.selected_object(model) {
                    Ok(o) => format!(
                        "meshtop changes objects only through its previewed actions; to edit \
                         {} by hand: {}",
                        o.label(),
                        o.kubectl_edit()
                    ),
                    Err(why) => why,
                });
            }
            Action::AllNamespaces => return self.focus("all", model),
            Action::Context => self.open_contexts(),
            Action::SortBy => {
                let s = self.screen();
                let source = views::source(&s.id, model);
                let names: Vec<&str> = source.columns().iter().map(|c| c.header).collect();
                self.status = Some(format!(
                    "sort by which column? :sort NAME (Tab completes): {}",
                    names.join(" ")
                ));
            }
            Action::Down => self.move_selection(model, |c, _, _| c + 1),
            Action::Up => self.move_selection(model, |c, _, _| c.saturating_sub(1)),
            Action::PageDown => self.move_selection(model, |c, _, p| c + p),
            Action::PageUp => self.move_selection(model, |c, _, p| c.saturating_sub(p)),
            Action::Top => self.move_selection(model, |_, _, _| 0),
            Action::Bottom => self.move_selection(model, |_, len, _| len.saturating_sub(1)),
            Action::Filter => self.mode = Mode::Filter,
            Action::Command => {
                self.mode = Mode::Command {
                    input: String::new(),
                }
            }
            Action::SortNext | Action::SortReverse => self.sort(action, model),
            Action::ProblemsOnly => {
                let s = self.screen_mut();
                s.problems_only = !s.problems_only;
                s.selected = 0;
            }
            Action::View(v) => {
                self.current = v;
                self.details.clear();
                self.came_from = None;
            }
            Action::GoTo => {
                if let Some(finding) = self.selected_finding(model) {
                    match &finding.object {
                        Some(object) => self.go_to(&Subject::of(object), model),
                        None => {
                            self.status = Some(format!(
                                "{} is not about one object: it has nowhere to go",
                                finding.code
                            ));
                        }
                    }
                }
            }
            Action::Fix => return self.fix(model),
            Action::PromptAccept => match std::mem::replace(&mut self.mode, Mode::Normal) {
                Mode::Command { input } => return self.run_command(&input, model, keymap),
                Mode::Filter
                | Mode::Normal
                | Mode::Help { .. }
                | Mode::Dialog(_)
                | Mode::Pane(_) => {}
            },
            Action::PromptCancel => {
                if self.mode == Mode::Filter {
                    let s = self.screen_mut();
                    s.filter.clear();
                    s.selected = 0;
                }
                self.mode = Mode::Normal;
            }
            Action::PromptDelete => match &mut self.mode {
                Mode::Filter => {
                    let s = self.screen_mut();
                    s.filter.pop();
                    s.selected = 0;
                }
                Mode::Command { input } => {
                    input.pop();
                }
                Mode::Normal | Mode::Help { .. } | Mode::Dialog(_) | Mode::Pane(_) => {}
            },
            Action::PromptComplete => return self.complete(model, keymap),
            Action::Act(kind) => return self.open_dialog(kind, model),
            Action::Abort => return self.abort(),
            Action::Mark => self.mark(model),
            Action::Continue => return self.resume(),
            Action::FoldTasks => {
                let now = self.drawn_at.get();
                let open = self
                    .tasks
                    .iter()
                    .any(|t| !t.running() && !t.folded(self.fold, now));
                self.fold = if open { Fold::Folded } else { Fold::Shown };
            }
            // Dialog, form and pane keys mean nothing outside them.
            Action::Follow
            | Action::Proceed
            | Action::DryRun
            | Action::Toggle(_)
            | Action::Edit
            | Action::FieldNext
            | Action::FieldPrevious
            | Action::ChoiceNext
            | Action::ChoicePrevious
            | Action::FormFix => {}
        }
        Vec::new()
    }

    /// What the selected row (or the open details screen) is about.
    pub fn selected_subject(&self, model: &Model) -> Option<Subject> {
        let s = self.screen();
        if let ScreenId::Details(subject) = &s.id {
            return Some(subject.clone());
        }
        let source = views::source(&s.id, model);
        let rows = table::arrange(source.as_ref(), s);
        rows.get(s.selected.min(rows.len().saturating_sub(1)))
            .and_then(|&i| source.subject(i))
    }

    /// The finding selected on the Overview.
    fn selected_finding(&self, model: &Model) -> Option<Finding> {
        let s = self.screen();
        if s.id != ScreenId::View(ViewKind::Overview) {
            return None;
        }
        let source = views::overview::FindingsTable::new(model);
        let rows = table::arrange(&source, s);
        rows.get(s.selected.min(rows.len().saturating_sub(1)))
            .and_then(|&i| source.finding(i))
            .cloned()
    }

    /// The view that lists the subject, with its row selected: the row is shown even if
    /// the view's filter hid it.
    fn go_to(&mut self, subject: &Subject, model: &Model) {
        let view = subject.parent();
        if self.details.is_empty() && self.current != view {
            self.came_from = Some(self.current);
        }
        self.current = view;
        self.details.clear();
        let position = |state: &UiState| {
            let s = state.screen();
            let source = views::source(&s.id, model);
            let rows = table::arrange(source.as_ref(), s);
            rows.iter()
                .position(|&i| source.subject(i).as_ref() == Some(subject))
        };
        let mut found = position(self);
        if found.is_none() {
            let s = self.screen_mut();
            s.filter.clear();
            s.problems_only = false;
            found = position(self);
        }
        match found {
            Some(i) => self.screen_mut().selected = i,
            None => {
                self.status = Some(format!(
                    "{} is not in the {} view",
                    subject.label(),
                    view.title()
                ));
            }
        }
    }

    /// Opens the dialog of the action that fixes the selected finding, or says why none.
    fn fix(&mut self, model: &Model) -> Vec<Command> {
        let Some(finding) = self.selected_finding(model) else {
            return Vec::new();
        };
        let (Some(kind), Some(object)) = (ActionKind::fixing(&finding), &finding.object) else {
            self.status = Some(if finding.object.is_some() {
                format!(
                    "no action of meshtop fixes {}: Enter goes to what it is about",
                    finding.code
                )
            } else {
                format!(
                    "{} is not about one object: no action fixes it",
                    finding.code
                )
            });
            return Vec::new();
        };
        self.open_dialog_on(kind, Some(Subject::of(object)), model)
    }

    /// Opens the dialog of an action on the selected row.
    fn open_dialog(&mut self, kind: ActionKind, model: &Model) -> Vec<Command> {
        let subject = self.selected_subject(model);
        self.open_dialog_on(kind, subject, model)
    }

    /// Opens the dialog of an action on a subject, or says why it cannot. An install's
    /// dialog asks the runner to read what its checks need.
    fn open_dialog_on(
        &mut self,
        kind: ActionKind,
        subject: Option<Subject>,
        model: &Model,
    ) -> Vec<Command> {
        if self.readonly {
            self.status = Some(format!(
                "{} is disabled: meshtop runs with --readonly (nothing is sent)",
                kind.name()
            ));
            return Vec::new();
        }
        if let Some(why) = &self.actions_disabled {
            self.status = Some(format!("{} is disabled: {why}", kind.name()));
            return Vec::new();
        }
        if kind == ActionKind::UpgradeNodes {
            let marked = &self.views[view_index(ViewKind::Nodes)].marked;
            let nodes: Vec<String> = if marked.is_empty() {
                match subject {
                    Some(Subject::Node(n)) => vec![n.to_string()],
                    _ => Vec::new(),
                }
            } else {
                marked.iter().cloned().collect()
            };
            if nodes.is_empty() {
                self.status = Some("mark nodes with space in the Nodes view first".into());
                return Vec::new();
            }
            let request = Request::UpgradeNodes {
                nodes,
                wait_kubelet: None,
                pause: true,
                delete_emptydir_data: false,
            };
            self.mode = Mode::Dialog(Box::new(Dialog::new(request)));
            return Vec::new();
        }
        if matches!(
            kind,
            ActionKind::InstallRevision | ActionKind::InstallGateway
        ) {
            let id = self.next_task;
            self.next_task += 1;
            let options = self.install_options.clone();
            let form = if kind == ActionKind::InstallRevision {
                InstallForm::revision(id, options)
            } else {
                let rows = model.revisions();
                let revisions: Vec<String> = rows
                    .iter()
                    .filter(|r| !r.is_legacy())
                    .map(|r| r.revision.to_string())
                    .collect();
                let selected = match &subject {
                    Some(Subject::Revision(r)) => Some(r.to_string()),
                    Some(Subject::Gateway { namespace, name }) => model
                        .gateways()
                        .into_iter()
                        .find(|g| g.namespace == *namespace && g.name == *name)
                        .and_then(|g| g.revision.map(|r| r.to_string())),
                    _ => None,
                };
                // The selected one, else the default revision, else the only one.
                let revision = selected
                    .or_else(|| {
                        rows.iter()
                            .find(|r| r.default)
                            .map(|r| r.revision.to_string())
                    })
                    .or_else(|| (revisions.len() == 1).then(|| revisions[0].clone()))
                    .unwrap_or_default();
                InstallForm::gateway(id, &revision, revisions, options)
            };
            self.mode = Mode::Dialog(Box::new(Dialog::install(form)));
            return vec![Command::ReadInstallFacts(id)];
        }
        let request = match (kind, subject) {
            (ActionKind::Drain, Some(Subject::Node(n))) => Request::Drain {
                node: n.to_string(),
                delete_emptydir_data: false,
                force: false,
                evict_last_replica: false,
            },
            (ActionKind::Cordon, Some(Subject::Node(n))) => {
                if model.node(&n).is_some_and(|n| n.unschedulable) {
                    self.status = Some(format!("node/{n} is already cordoned"));
                    return Vec::new();
                }
                Request::Cordon {
                    node: n.to_string(),
                }
            }
            (ActionKind::Uncordon, Some(Subject::Node(n))) => {
                if model.node(&n).is_some_and(|n| !n.unschedulable) {
                    self.status = Some(format!("node/{n} is not cordoned"));
                    return Vec::new();
                }
                Request::Uncordon {
                    node: n.to_string(),
                }
            }
            (ActionKind::LabelNode, Some(Subject::Node(n))) => Request::LabelNode {
                node: n.to_string(),
                change: String::new(),
            },
            (ActionKind::LabelNamespace, Some(Subject::Namespace(n))) => Request::LabelNamespace {
                namespace: n.to_string(),
                revision: String::new(),
                restart: false,
                force: false,
            },
            (ActionKind::PdbRelax, Some(Subject::Pdb { namespace, name })) => {
                if model
                    .pdb(&namespace, &name)
                    .is_some_and(|p| p.relaxed_from.is_some())
                {
                    self.status = Some(format!(
                        "poddisruptionbudget {namespace}/{name} is already relaxed (restore it first)"
                    ));
                    return Vec::new();
                }
                Request::PdbRelax {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                }
            }
            (ActionKind::PdbRestore, Some(Subject::Pdb { namespace, name })) => {
                if model
                    .pdb(&namespace, &name)
                    .is_some_and(|p| p.relaxed_from.is_none())
                {
                    self.status = Some(format!(
                        "poddisruptionbudget {namespace}/{name} was not relaxed by meshtop: nothing to restore"
                    ));
                    return Vec::new();
                }
                Request::PdbRestore {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    force: false,
                }
            }
            (ActionKind::Ambient, Some(Subject::Namespace(n))) => Request::Ambient {
                namespace: n.to_string(),
                // Asked for first: empty keeps the one it uses now.
                waypoint: None,
                restart: false,
            },
            (ActionKind::Uninstall, Some(Subject::Revision(revision))) => {
                let legacy = model
                    .revisions()
                    .iter()
                    .any(|r| r.revision == revision && r.is_legacy());
                let mut request = Request::Uninstall {
                    revision: revision.to_string(),
                    legacy,
                    targets: Vec::new(),
                };
                // The preview says why when it is refused; the targets are read again at
                // the confirmation.
                let _ = request.prepare(model);
                request
            }
            (ActionKind::TagSet, Some(Subject::Revision(revision))) => {
                if model
                    .revisions()
                    .iter()
                    .any(|r| r.revision == revision && r.is_legacy())
                {
                    self.status = Some(
                        "the non-revisioned control plane has no injector a tag could point at"
                            .into(),
                    );
                    return Vec::new();
                }
                Request::TagSet {
                    tag: String::new(),
                    revision: revision.to_string(),
                    // Moving a tag that exists is what the dialog is for: its preview says
                    // where the tag is now, and the tag's name is typed to confirm.
                    overwrite: true,
                    restart: false,
                }
            }
            (ActionKind::Scale | ActionKind::Restart, Some(subject)) => {
                let workload = match subject {
                    Subject::Pdb { namespace, name } => {
                        crate::ops::workload::of_pdb(model, &namespace, &name)
                    }
                    Subject::Gateway { namespace, name }
                        if model
                            .workload(WorkloadKind::Deployment, &namespace, &name)
                            .is_some() =>
                    {
                        Ok(WorkloadRef::new(
                            WorkloadKind::Deployment,
                            &namespace,
                            &name,
                        ))
                    }
                    _ => Err(format!(
                        "{} applies to a gateway (Gateways view) or the workload of a \
                         PodDisruptionBudget (Disruption view)",
                        kind.name()
                    )),
                };
                match workload {
                    Ok(workload) if kind == ActionKind::Scale => Request::Scale {
                        workload,
                        replicas: None,
                    },
                    Ok(workload) => Request::Restart {
                        workload,
                        wait: true,
                    },
                    Err(why) => {
                        self.status = Some(why);
                        return Vec::new();
                    }
                }
            }
            (kind, _) => {
                let on = match kind {
                    ActionKind::Drain
                    | ActionKind::Cordon
                    | ActionKind::Uncordon
                    | ActionKind::LabelNode => "a node (Nodes view)",
                    ActionKind::LabelNamespace => "a namespace (Namespaces view)",
                    ActionKind::PdbRelax | ActionKind::PdbRestore => {
                        "a PodDisruptionBudget (Disruption view)"
                    }
                    ActionKind::InstallRevision | ActionKind::InstallGateway => "the cluster",
                    ActionKind::UpgradeNodes => "marked nodes (Nodes view, Space marks)",
                    ActionKind::TagSet | ActionKind::Uninstall => "a revision (Revisions view)",
                    ActionKind::Ambient => "a namespace (Namespaces view)",
                    ActionKind::Scale | ActionKind::Restart => {
                        "a gateway (Gateways view) or a PodDisruptionBudget's workload \
                         (Disruption view)"
                    }
                };
                self.status = Some(format!("{} applies to {on}", kind.name()));
                return Vec::new();
            }
        };
        self.mode = Mode::Dialog(Box::new(Dialog::new(request)));
        Vec::new()
    }

    /// A key while an install form is filled in.
    fn update_form(&mut self, action: Action) -> Vec<Command> {
        let Mode::Dialog(dialog) = &mut self.mode else {
            return Vec::new();
        };
        let Some(form) = dialog.install.as_mut() else {
            return Vec::new();
        };
        match action {
            Action::FieldNext | Action::PromptComplete => form.next_field(),
            Action::FieldPrevious => form.previous_field(),
            Action::ChoiceNext => form.cycle(true),
            Action::ChoicePrevious => form.cycle(false),
            Action::FormFix => {
                form.apply_fix();
            }
            Action::PromptDelete => form.delete(),
            Action::PromptAccept | Action::Proceed => {
                form.submitted = true;
                if matches!(form.facts, Facts::Failed(_)) {
                    // Read again: the answer may differ now.
                    let id = self.next_task;
                    self.next_task += 1;
                    form.facts = Facts::Reading(id);
                    dialog.error = Some("reading the cluster again…".into());
                    return vec![Command::ReadInstallFacts(id)];
                }
                match form.plan() {
                    Ok(planned) => {
                        if let Request::Install(r) = &mut dialog.request {
                            r.planned = Some(planned);
                        }
                        dialog.stage = Stage::Preview;
                        dialog.error = None;
                        dialog.dry_run = None;
                        dialog.scroll.reset();
                    }
                    Err(e) => dialog.error = Some(e),
                }
                return Vec::new();
            }
            _ => return Vec::new(),
        }
        dialog.error = None;
        Vec::new()
    }

    /// The text `$EDITOR` saved for the install's IstioOperator, checked again.
    pub fn on_edited(&mut self, edited: Result<String, String>) {
        let Mode::Dialog(dialog) = &mut self.mode else {
            return;
        };
        let Request::Install(r) = &mut dialog.request else {
            return;
        };
        let Some(planned) = r.planned.as_mut() else {
            return;
        };
        let text = match edited {
            Ok(text) => text,
            Err(e) => {
                dialog.error = Some(format!("{e}: the resource is unchanged"));
                return;
            }
        };
        if text == planned.plan.document_yaml() {
            dialog.error = Some("the editor saved no change".into());
            return;
        }
        match planned.plan.with_edited_document(&text) {
            Ok(plan) => {
                planned.plan = plan;
                planned.edited = true;
                dialog.error = None;
                // A dry run of the resource as it was no longer applies.
                dialog.dry_run = None;
                dialog.stage = Stage::Preview;
                dialog.scroll.reset();
            }
            Err(e) => {
                dialog.error = Some(format!("the edit is not taken: {e}"));
            }
        }
    }

    /// A key in an action's dialog. Only a confirmed dialog, or a dry run, sends anything.
    pub fn update_dialog(&mut self, action: Action, model: &Model) -> Vec<Command> {
        let Mode::Dialog(dialog) = &mut self.mode else {
            return Vec::new();
        };
        let install = matches!(dialog.request, Request::Install(_));
        match action {
            Action::Quit => {
                self.mode = Mode::Normal;
                return self.quit();
            }
            Action::Back | Action::PromptCancel if install && dialog.stage == Stage::Preview => {
                // Back to the form, to change what the preview showed. The form renders the
                // resource anew: an edit made in $EDITOR does not survive it, and says so.
                let mut edited = false;
                if let Request::Install(r) = &mut dialog.request {
                    edited = r.planned.as_ref().is_some_and(|p| p.edited);
                    r.planned = None;
                }
                dialog.stage = Stage::Form;
                dialog.dry_run = None;
                dialog.error = edited.then(|| {
                    "the changes made in $EDITOR are dropped: the preview renders the form \
                     anew (e edits it again)"
                        .to_string()
                });
            }
            Action::Back | Action::PromptCancel => {
                let title = dialog.request.title();
                self.mode = Mode::Normal;
                self.status = Some(format!("cancelled {title}: nothing was sent"));
            }
            _ if dialog.stage == Stage::Form => return self.update_form(action),
            Action::Down => dialog.scroll.down(1),
            Action::Up => dialog.scroll.up(1),
            Action::PageDown => dialog.scroll.down(dialog.scroll.page_lines()),
            Action::PageUp => dialog.scroll.up(dialog.scroll.page_lines()),
            Action::Top => dialog.scroll.reset(),
            Action::Bottom => dialog.scroll.follow_end(),
            Action::Edit if dialog.stage == Stage::Preview => {
                if let Request::Install(r) = &dialog.request
                    && let Some(p) = &r.planned
                {
                    dialog.error = None;
                    return vec![Command::Edit(p.plan.document_yaml())];
                }
            }
            Action::PromptDelete => {
                dialog.input.pop();
                dialog.error = None;
            }
            Action::PromptComplete
                if matches!(
                    dialog.stage,
                    Stage::Input(InputKind::Revision | InputKind::Tag)
                ) =>
            {
                // A revision, or a tag, from those in the cluster.
                let (what, names): (&str, Vec<String>) =
                    if dialog.stage == Stage::Input(InputKind::Tag) {
                        (
                            "tags",
                            model
                                .revision_tags()
                                .keys()
                                .map(ToString::to_string)
                                .collect(),
                        )
                    } else {
                        (
                            "revisions",
                            model
                                .revisions()
                                .iter()
                                .filter(|r| !r.is_legacy())
                                .map(|r| r.revision.to_string())
                                .collect(),
                        )
                    };
                let candidates: Vec<&str> = names
                    .iter()
                    .map(String::as_str)
                    .filter(|r| r.starts_with(dialog.input.trim()))
                    .collect();
                if let Some(prefix) = common_prefix(&candidates) {
                    dialog.input = prefix;
                }
                if candidates.len() > 1 {
                    dialog.error = Some(format!("{what}: {}", candidates.join(" ")));
                }
            }
            Action::PromptAccept | Action::Proceed => match dialog.stage {
                Stage::Form => {}
                Stage::Input(_) => dialog.accept_input(),
                Stage::Preview => {
                    // Refused by the cluster as it is now (an uninstall of what is in use),
                    // or what it sends read afresh from the model.
                    if let Err(e) = dialog.request.prepare(model) {
                        dialog.error = Some(e.to_string());
                        return Vec::new();
                    }
                    dialog.stage = Stage::Confirm;
                    dialog.input.clear();
                    dialog.error = None;
                    // Consent the cluster makes necessary is given by typing its name, as a
                    // drain is confirmed.
                    dialog.confirm_extra = dialog.request.consent(model).map(|c| c.name);
                }
                Stage::Confirm => {
                    if dialog.confirmed() {
                        let mut request = dialog.request.clone();
                        if dialog.confirm_extra.is_some() {
                            request.consented();
                        }
                        self.mode = Mode::Normal;
                        return self.run(request, false);
                    }
                    if let Some(name) = dialog.confirm_name() {
                        dialog.error = Some(format!(
                            "that is not {name}: type the name exactly, or esc to cancel"
                        ));
                    }
                }
            },
            Action::DryRun => {
                if matches!(dialog.stage, Stage::Preview | Stage::Confirm) {
                    let request = dialog.request.clone();
                    return self.run(request, true);
                }
            }
            Action::Toggle(option) if dialog.stage == Stage::Preview => {
                dialog.toggle(option);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Hands a request to the app: a dry run stays in its dialog, a real run goes to the
    /// task panel.
    fn run(&mut self, request: Request, dry_run: bool) -> Vec<Command> {
        // One drain at a time (a rolling upgrade drains too): the mesh guard counts the
        // replicas a drain leaves, and two drains running at once could each leave the
        // other's last one. So `A` always knows which one to abort.
        if !dry_run
            && drains(&request)
            && let Some(running) = self
                .tasks
                .iter()
                .find(|t| t.running() && !t.dry_run && drains(&t.request))
        {
            self.status = Some(format!(
                "refused: {} is still running; one drain at a time (wait for it, or abort it)",
                running.request.title()
            ));
            return Vec::new();
        }
        let run = ActionRun {
            id: self.next_task,
            request,
            dry_run,
        };
        self.next_task += 1;
        let task = Task::new(&run);
        if dry_run {
            if let Mode::Dialog(d) = &mut self.mode {
                d.dry_run = Some(task);
                // Its answer comes at the end of the text: follow it there.
                d.scroll.follow_end();
            }
        } else {
            self.status = Some(format!("{}: started", run.request.title()));
            // Its outcome is news: shown in full for a while, whatever was folded before.
            self.fold = Fold::Auto;
            self.tasks.push(task);
            self.trim_tasks();
        }
        vec![Command::Run(run)]
    }

    /// Marks or unmarks the selected node (Nodes view) for a rolling upgrade.
    fn mark(&mut self, model: &Model) {
        let s = self.screen();
        if s.id != ScreenId::View(ViewKind::Nodes) {
            return;
        }
        let source = views::source(&s.id, model);
        let rows = table::arrange(source.as_ref(), s);
        let name = rows
            .get(s.selected)
            .and_then(|&i| source.subject(i))
            .and_then(|sub| match sub {
                Subject::Node(n) => Some(n.to_string()),
                _ => None,
            });
        let Some(name) = name else { return };
        let s = &mut self.views[view_index(ViewKind::Nodes)];
        if !s.marked.remove(&name) {
            s.marked.insert(name);
        }
        let n = s.marked.len();
        self.status = Some(if n == 0 {
            "no node marked".to_string()
        } else {
            format!(
                "{} marked: {} (W upgrades them in this order)",
                crate::ops::outcome::count(n, "node"),
                s.marked.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        });
        // The next row, as k9s moves on after a mark.
        let len = rows.len();
        let s = &mut self.views[view_index(ViewKind::Nodes)];
        if s.selected + 1 < len {
            s.selected += 1;
        }
    }

    /// Lets the newest rolling upgrade waiting for the user go on.
    fn resume(&mut self) -> Vec<Command> {
        let waiting = self.tasks.iter().rev().find(|t| {
            t.running() && !t.dry_run && matches!(t.request, Request::UpgradeNodes { .. })
        });
        match waiting {
            Some(t) => vec![Command::Resume(t.id)],
            None => {
                self.status = Some("no rolling upgrade is running".into());
                Vec::new()
            }
        }
    }

    /// Asks to abort the newest running drain or rolling upgrade.
    fn abort(&mut self) -> Vec<Command> {
        let running = self
            .tasks
            .iter_mut()
            .rev()
            .find(|t| t.running() && !t.dry_run && drains(&t.request));
        match running {
            Some(t) => {
                t.aborting = true;
                vec![Command::Abort(t.id)]
            }
            None => {
                self.status = Some("no drain is running".into());
                Vec::new()
            }
        }
    }

    /// What the runner says about a task.
    pub fn on_task_update(&mut self, update: TaskUpdate) {
        let id = update.id();
        if let TaskUpdate::InstallFacts { facts, .. } = update {
            if let Mode::Dialog(d) = &mut self.mode
                && let Some(form) = d.install.as_mut()
                && form.facts == Facts::Reading(id)
            {
                form.on_facts(facts);
                if d.stage == Stage::Form {
                    d.error = None;
                }
            }
            return;
        }
        if let Mode::Dialog(d) = &mut self.mode
            && let Some(task) = d.dry_run.as_mut().filter(|t| t.id == id)
        {
            task.apply(update);
            return;
        }
        if let Some(task) = self.tasks.iter_mut().find(|t| t.id == id) {
            let was_running = task.running();
            task.apply(update);
            // The status line said it started: now it says how it ended.
            let started = format!("{}: started", task.request.title());
            if was_running && self.status.as_deref() == Some(started.as_str()) {
                self.status = match &task.result {
                    Some(Ok(_)) => Some(format!("✓ {}: done", task.request.title())),
                    Some(Err(e)) => Some(format!("✗ {}: {e}", task.request.title())),
                    None => self.status.take(),
                };
            }
        }
        self.trim_tasks();
    }

    /// Keeps every running task and the newest finished ones.
    fn trim_tasks(&mut self) {
        let finished = self.tasks.iter().filter(|t| !t.running()).count();
        let mut drop = finished.saturating_sub(FINISHED_TASKS);
        self.tasks.retain(|t| {
            if drop > 0 && !t.running() {
                drop -= 1;
                false
            } else {
                true
            }
        });
    }

    fn sort(&mut self, action: Action, model: &Model) {
        let width = self.table_width.get();
        let s = self.screen();
        let source = views::source(&s.id, model);
        let visible = table::visible_columns(source.columns(), width);
        drop(source);
        let s = self.screen_mut();
        s.sort = match (action, s.sort) {
            (Action::SortReverse, Some(sort)) => Some(Sort {
                reverse: !sort.reverse,
                ..sort
            }),
            (Action::SortReverse, None) => visible.first().map(|&column| Sort {
                column,
                reverse: true,
            }),
            (_, None) => visible.first().map(|&column| Sort {
                column,
                reverse: false,
            }),
            (_, Some(sort)) => visible
                .iter()
                .find(|&&c| c > sort.column)
                .map(|&column| Sort {
                    column,
                    reverse: false,
                }),
        };
        s.selected = 0;
    }

    /// What the selected row (or the open details screen) stands for in the cluster: a
    /// details screen's selected pod, else the row's subject.
    pub fn selected_object(&self, model: &Model) -> Result<ObjectRef, String> {
        let subject = match self.selected_pod_or_subject(model)? {
            Ok(pod) => return Ok(pod),
            Err(subject) => subject,
        };
        subject
            .object(model)
            .ok_or_else(|| format!("{} is not an object meshtop can read", subject.label()))
    }

    /// The selected row's pod when the row is one (a details screen's pods), else what the
    /// row (or the open details screen) is about.
    fn selected_pod_or_subject(&self, model: &Model) -> Result<Result<ObjectRef, Subject>, String> {
        let s = self.screen();
        let source = views::source(&s.id, model);
        let rows = table::arrange(source.as_ref(), s);
        let row = rows
            .get(s.selected.min(rows.len().saturating_sub(1)))
            .copied();
        if let Some(pod) = row.and_then(|i| source.pod(i)) {
            return Ok(Ok(pod));
        }
        let subject = match &s.id {
            ScreenId::Details(subject) => Some(subject.clone()),
            ScreenId::View(_) => row.and_then(|i| source.subject(i)),
        };
        subject
            .map(Err)
            .ok_or_else(|| "no row is selected".to_string())
    }

    /// Opens a pane on the selected row's object: `y` its YAML, `d` its description, `l`
    /// its pod's logs.
    fn inspect(&mut self, action: Action, model: &Model) -> Vec<Command> {
        let what = match action {
            Action::Logs => match self.selected_pod_or_subject(model) {
                Ok(Ok(pod)) => Ok(Inspect::Logs(pod)),
                Ok(Err(subject)) => subject.log_pod(model).map(Inspect::Logs),
                Err(why) => Err(why),
            },
            Action::Describe => self.selected_object(model).map(Inspect::Describe),
            _ => self.selected_object(model).map(Inspect::Yaml),
        };
        let what = match what {
            Ok(w) => w,
            Err(why) => {
                self.status = Some(why);
                return Vec::new();
            }
        };
        let title = match &what {
            Inspect::Yaml(o) => format!("YAML · {}", o.label()),
            Inspect::Describe(o) => format!("Describe · {}", o.label()),
            Inspect::Logs(o) => format!(
                "Logs · {}/{}",
                o.namespace.as_deref().unwrap_or_default(),
                o.name
            ),
        };
        let id = self.next_pane;
        self.next_pane += 1;
        self.mode = Mode::Pane(Box::new(Pane::new(
            id,
            PaneKind::Inspect(what.clone()),
            title,
        )));
        vec![Command::Inspect { id, what }]
    }

    /// A key in a pane.
    pub fn update_pane(&mut self, action: Action) -> Vec<Command> {
        let Mode::Pane(pane) = &mut self.mode else {
            return Vec::new();
        };
        if action == Action::Quit {
            let id = pane.id;
            self.mode = Mode::Normal;
            let mut out = vec![Command::ClosePane(id)];
            out.extend(self.quit());
            return out;
        }
        if pane.on_action(action) {
            return Vec::new();
        }
        let id = pane.id;
        self.mode = Mode::Normal;
        vec![Command::ClosePane(id)]
    }

    /// What the app's reads say about a pane; an answer for a closed pane is dropped.
    pub fn on_pane_update(&mut self, update: PaneUpdate) {
        if let Mode::Pane(pane) = &mut self.mode
            && pane.id == update.id()
        {
            pane.apply(update);
        }
    }

    /// `:ctx`: the kubeconfig's contexts, the current one marked.
    fn open_contexts(&mut self) {
        if self.contexts.is_empty() {
            self.status = Some(format!(
                "no kubeconfig contexts: meshtop runs on {}",
                self.context
            ));
            return;
        }
        let mut text = String::new();
        for c in &self.contexts {
            let mark = if *c == self.context { "*" } else { " " };
            text.push_str(&format!("{mark} {c}\n"));
        }
        text.push_str("\n:ctx NAME switches to a context (Tab completes its name)\n");
        let id = self.next_pane;
        self.next_pane += 1;
        self.mode = Mode::Pane(Box::new(Pane::with_text(
            id,
            PaneKind::Contexts,
            format!(
                "Contexts ({}) · current {}",
                self.contexts.len(),
                self.context
            ),
            &text,
        )));
    }

    /// `:ctx NAME`: the app connects to it; the views read the cluster anew.
    fn switch_context(&mut self, name: &str) -> Vec<Command> {
        if name == self.context {
            self.status = Some(format!("already on context {name}"));
            return Vec::new();
        }
        if !self.contexts.iter().any(|c| c == name) {
            self.status = Some(if self.contexts.is_empty() {
                format!("unknown context \"{name}\": there is no kubeconfig to switch in")
            } else {
                format!(
                    "unknown context \"{name}\"; the kubeconfig has: {}; still on {}",
                    self.contexts.join(", "),
                    self.context
                )
            });
            return Vec::new();
        }
        let running = self.tasks.iter().filter(|t| t.running()).count();
        if running > 0 {
            self.status = Some(format!(
                "{} still running on context {}: wait for them or abort them before switching",
                crate::ops::outcome::count(running, "action"),
                self.context
            ));
            return Vec::new();
        }
        self.status = Some(format!("switching to context {name}…"));
        vec![Command::SwitchContext(name.to_string())]
    }

    /// The app switched context (or could not: why).
    pub fn on_context_switched(&mut self, result: Result<String, String>) {
        match result {
            Ok(name) => {
                self.status = Some(format!(
                    "context {name}: reading the cluster anew (syncing)"
                ));
                self.context = name;
                self.tasks.retain(|t| t.running());
            }
            Err(why) => {
                self.status = Some(format!("{why}; still on context {}", self.context));
            }
        }
    }

    /// `:ns NAME`, `:ns all`, `0`: the namespace the lists show.
    fn focus(&mut self, name: &str, model: &Model) -> Vec<Command> {
        if matches!(name, "all" | "-A" | "--all-namespaces") {
            if let Some(ns) = &self.watched_namespace {
                self.status = Some(format!(
                    "meshtop reads only namespace {ns} (started with -n {ns}): restart \
                     without -n to see every namespace"
                ));
                return Vec::new();
            }
            self.status = Some("every namespace".into());
            return vec![Command::Focus(None)];
        }
        if let Some(ns) = self.watched_namespace.as_ref().filter(|ns| *ns != name) {
            self.status = Some(format!(
                "meshtop reads only namespace {ns} (started with -n {ns}): restart with -n \
                 {name} to see it; focus unchanged"
            ));
            return Vec::new();
        }
        if model.namespace(name).is_none() {
            match model.unseen(Kind::Namespace) {
                None => {
                    self.status = Some(format!(
                        "unknown namespace \"{name}\" (Tab completes the names); focus unchanged"
                    ));
                    return Vec::new();
                }
                Some(why) => {
                    self.status = Some(format!(
                        "namespace {name}: cannot tell whether it exists ({why})"
                    ));
                }
            }
        } else {
            self.status = Some(format!("namespace {name} (0 or :ns all: every namespace)"));
        }
        vec![Command::Focus(Some(name.to_string()))]
    }

    /// `:sort NAME`: sorts by the column of that header; the same column again reverses.
    fn sort_by(&mut self, name: &str, model: &Model) {
        let s = self.screen();
        let source = views::source(&s.id, model);
        let headers: Vec<&'static str> = source.columns().iter().map(|c| c.header).collect();
        drop(source);
        let wanted = name.trim().to_ascii_uppercase();
        let column = headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(&wanted))
            .or_else(|| {
                let mut matching = headers
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| h.starts_with(&wanted));
                match (matching.next(), matching.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            });
        let Some(column) = column else {
            self.status = Some(format!(
                "no column {name:?} here; the columns are: {}",
                headers.join(" ")
            ));
            return;
        };
        let s = self.screen_mut();
        s.sort = Some(match s.sort {
            Some(sort) if sort.column == column => Sort {
                column,
                reverse: !sort.reverse,
            },
            _ => Sort {
                column,
                reverse: false,
            },
        });
        s.selected = 0;
    }

    /// Tab in a command: the command's name, or its argument (a column, a context, a
    /// namespace).
    fn complete(&mut self, model: &Model, keymap: &Keymap) -> Vec<Command> {
        let Mode::Command { input } = &self.mode else {
            return Vec::new();
        };
        let input = input.clone();
        let Some((name, arg)) = input.split_once(' ') else {
            let candidates = keymap.completions(&input);
            if let Some(prefix) = common_prefix(&candidates) {
                self.mode = Mode::Command { input: prefix };
            }
            return Vec::new();
        };
        let arg = arg.trim_start();
        let options: Vec<String> = match keymap.command(name) {
            Some(Action::SortBy) => {
                let s = self.screen();
                let source = views::source(&s.id, model);
                source
                    .columns()
                    .iter()
                    .map(|c| c.header.to_string())
                    .collect()
            }
            Some(Action::Context) => self.contexts.clone(),
            Some(Action::View(ViewKind::Namespaces)) => std::iter::once("all".to_string())
                .chain(model.namespace_names().map(|n| n.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        let candidates: Vec<&str> = options
            .iter()
            .map(String::as_str)
            .filter(|o| o.starts_with(arg) || o.to_ascii_lowercase().starts_with(arg))
            .collect();
        if let Some(prefix) = common_prefix(&candidates) {
            self.mode = Mode::Command {
                input: format!("{name} {prefix}"),
            };
        }
        if candidates.len() > 1 {
            self.status = Some(candidates.join(" "));
        }
        Vec::new()
    }

    fn run_command(&mut self, input: &str, model: &Model, keymap: &Keymap) -> Vec<Command> {
        let typed = input.trim();
        if typed.is_empty() {
            return Vec::new();
        }
        let (name, arg) = match typed.split_once(char::is_whitespace) {
            Some((name, arg)) => (name, arg.trim()),
            None => (typed, ""),
        };
        match keymap.command(name) {
            Some(Action::View(ViewKind::Namespaces)) if !arg.is_empty() => self.focus(arg, model),
            Some(Action::Context) if !arg.is_empty() => self.switch_context(arg),
            Some(Action::SortBy) if !arg.is_empty() => {
                self.sort_by(arg, model);
                Vec::new()
            }
            Some(_) if !arg.is_empty() => {
                self.status = Some(format!(":{name} takes no argument"));
                Vec::new()
            }
            Some(action) if !matches!(action, Action::Command) => {
                self.update(action, model, keymap)
            }
            _ => {
                let hint = keymap.completions(typed);
                self.status = Some(if hint.is_empty() {
                    format!("unknown command :{typed} (? lists them)")
                } else {
                    format!(
                        "unknown command :{typed}; did you mean :{}?",
                        hint.join(", :")
                    )
                });
                Vec::new()
            }
        }
    }
}

/// Does the action evict pods: a drain, or a rolling upgrade's drains?
fn drains(request: &Request) -> bool {
    matches!(
        request,
        Request::Drain { .. } | Request::UpgradeNodes { .. }
    )
}

/// The longest prefix the candidates share; `None` if there are none.
fn common_prefix(candidates: &[&str]) -> Option<String> {
    let first = candidates.first()?;
    let mut len = first.len();
    for c in &candidates[1..] {
        len = first
            .char_indices()
            .zip(c.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(len);
    }
    Some(first[..len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefix_of_commands() {
        assert_eq!(common_prefix(&["nodes", "namespaces"]), Some("n".into()));
        assert_eq!(common_prefix(&["proxies"]), Some("proxies".into()));
        assert_eq!(common_prefix(&["nodes", "xyz"]), Some(String::new()));
        assert_eq!(common_prefix(&[]), None);
    }
}
