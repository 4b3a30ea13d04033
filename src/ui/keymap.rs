//! Key bindings as data: the defaults are `assets/keymap.toml` compiled in; a user file only
//! overrides them. The help screen and the footer are generated from here.

use std::fmt;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::DialogOption;
use super::views::ViewKind;
use crate::ops::ActionKind;

/// The compiled-in bindings.
pub const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// What a key does. Only `update` in `state.rs` acts on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    Back,
    Drill,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Filter,
    Command,
    SortNext,
    SortReverse,
    /// Toggles showing only the rows that need attention.
    ProblemsOnly,
    View(ViewKind),
    PromptAccept,
    PromptCancel,
    PromptComplete,
    PromptDelete,
    /// Opens the dialog of an action on the selected row (dangerous: it changes the
    /// cluster, after a preview and a confirmation).
    Act(ActionKind),
    /// On a finding: its object's view, with the object selected.
    GoTo,
    /// On a finding: the dialog of the action that fixes it.
    Fix,
    /// Folds the finished tasks of the actions panel into one line, or shows them.
    FoldTasks,
    /// Aborts the running drain.
    Abort,
    /// Marks the selected node for a rolling upgrade (k9s's Space).
    Mark,
    /// Lets a rolling upgrade waiting for the user go on.
    Continue,
    /// In a dialog: preview → confirm → run.
    Proceed,
    /// In a dialog: a server-side dry run of the action.
    DryRun,
    /// In a dialog: flip an option.
    Toggle(DialogOption),
    /// In an install dialog's preview: edit the IstioOperator in `$EDITOR`.
    Edit,
    /// In an install form: the next field.
    FieldNext,
    /// In an install form: the previous field.
    FieldPrevious,
    /// In an install form: the next value of a choice (profile, kind, service type,
    /// revision).
    ChoiceNext,
    /// In an install form: the previous value of a choice.
    ChoicePrevious,
    /// Apply the fix an install form offers (a gateway's single replica under a budget).
    FormFix,
    /// Half a page down (a list, a pane).
    HalfPageDown,
    /// Half a page up.
    HalfPageUp,
    /// The selected row's object as YAML, read live, in a pane.
    Yaml,
    /// The selected row's object described, with its Events, read live, in a pane.
    Describe,
    /// The logs of the selected row's pod, followed, in a pane.
    Logs,
    /// Says how to edit the selected row's object: meshtop edits only through its actions.
    EditObject,
    /// Clears the namespace focus: every namespace.
    AllNamespaces,
    /// `:ctx [NAME]`: lists the kubeconfig's contexts, or switches to one.
    Context,
    /// `:sort COLUMN`: sorts by a named column.
    SortBy,
    /// In a log pane: pause or resume following new lines.
    Follow,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "quit" => Action::Quit,
            "help" => Action::Help,
            "back" => Action::Back,
            "drill" => Action::Drill,
            "up" => Action::Up,
            "down" => Action::Down,
            "page-up" => Action::PageUp,
            "page-down" => Action::PageDown,
            "top" => Action::Top,
            "bottom" => Action::Bottom,
            "filter" => Action::Filter,
            "command" => Action::Command,
            "sort-next" => Action::SortNext,
            "sort-reverse" => Action::SortReverse,
            "problems-only" => Action::ProblemsOnly,
            "prompt-accept" => Action::PromptAccept,
            "prompt-cancel" => Action::PromptCancel,
            "prompt-complete" => Action::PromptComplete,
            "prompt-delete" => Action::PromptDelete,
            "abort" => Action::Abort,
            "mark" => Action::Mark,
            "continue" => Action::Continue,
            "fold-tasks" => Action::FoldTasks,
            "go-to" => Action::GoTo,
            "fix" => Action::Fix,
            "proceed" => Action::Proceed,
            "dry-run" => Action::DryRun,
            "edit" => Action::Edit,
            "field-next" => Action::FieldNext,
            "field-previous" => Action::FieldPrevious,
            "choice-next" => Action::ChoiceNext,
            "choice-previous" => Action::ChoicePrevious,
            "form-fix" => Action::FormFix,
            "half-page-down" => Action::HalfPageDown,
            "half-page-up" => Action::HalfPageUp,
            "yaml" => Action::Yaml,
            "describe" => Action::Describe,
            "logs" => Action::Logs,
            "edit-object" => Action::EditObject,
            "all-namespaces" => Action::AllNamespaces,
            "context" => Action::Context,
            "sort" => Action::SortBy,
            "follow" => Action::Follow,
            "option:delete-emptydir-data" => Action::Toggle(DialogOption::DeleteEmptyDirData),
            "option:force" => Action::Toggle(DialogOption::Force),
            "option:evict-last-replica" => Action::Toggle(DialogOption::EvictLastReplica),
            "option:restart" => Action::Toggle(DialogOption::Restart),
            "option:wait" => Action::Toggle(DialogOption::Wait),
            _ => match ActionKind::parse(s) {
                Some(kind) => Action::Act(kind),
                None => Action::View(ViewKind::from_name(s.strip_prefix("view:")?)?),
            },
        })
    }
}

/// Where a binding applies: a top-level view, any details screen, or the details screens
/// opened from one view (`nodes-details`: a node's details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    View(ViewKind),
    Details,
    DetailsOf(ViewKind),
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::View(v) => v.name(),
            Scope::Details => "details",
            Scope::DetailsOf(v) => match v {
                ViewKind::Overview => "overview-details",
                ViewKind::Revisions => "revisions-details",
                ViewKind::Gateways => "gateways-details",
                ViewKind::Proxies => "proxies-details",
                ViewKind::Disruption => "disruption-details",
                ViewKind::Nodes => "nodes-details",
                ViewKind::Namespaces => "namespaces-details",
            },
        }
    }

    fn parse(s: &str) -> Option<Scope> {
        if s == "details" {
            return Some(Scope::Details);
        }
        if let Some(view) = s.strip_suffix("-details") {
            return ViewKind::from_name(view).map(Scope::DetailsOf);
        }
        ViewKind::from_name(s).map(Scope::View)
    }

    /// A binding written for `self` applies on screen `current`.
    fn covers(self, current: Scope) -> bool {
        self == current || (self == Scope::Details && matches!(current, Scope::DetailsOf(_)))
    }
}

/// One key: a code and the Ctrl/Alt modifiers (Shift is part of the character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    code: KeyCode,
    modifiers: KeyModifiers,
    label: String,
}

impl KeySpec {
    pub fn parse(s: &str) -> Option<KeySpec> {
        let (modifiers, rest) = if let Some(r) = s.strip_prefix("ctrl-") {
            (KeyModifiers::CONTROL, r)
        } else if let Some(r) = s.strip_prefix("alt-") {
            (KeyModifiers::ALT, r)
        } else {
            (KeyModifiers::NONE, s)
        };
        let code = match rest {
            "esc" => KeyCode::Esc,
            "enter" => KeyCode::Enter,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "space" => KeyCode::Char(' '),
            "backtab" => KeyCode::BackTab,
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => return None,
                }
            }
        };
        Some(KeySpec {
            code,
            modifiers,
            label: s.to_string(),
        })
    }

    pub fn matches(&self, key: &KeyEvent) -> bool {
        // Shift is already in the character ('G'), and terminals differ in reporting it.
        let relevant = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let code = match key.code {
            KeyCode::Char(c) if relevant.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        code == self.code && relevant == self.modifiers
    }

    /// As written in the keymap: `q`, `ctrl-c`, `pgdn`.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// One binding of the keymap.
#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    /// The action as the keymap file names it (`view:nodes`, `drain`).
    pub action_name: String,
    pub keys: Vec<KeySpec>,
    pub description: String,
    pub group: String,
    /// Changes the cluster: always behind a confirmation.
    pub dangerous: bool,
    /// Short label in the footer, if shown there.
    pub footer: Option<String>,
    /// Where it applies; `None` is everywhere.
    pub scopes: Option<Vec<Scope>>,
    /// Dialog bindings: the actions whose dialogs they work in; `None` is every dialog.
    pub dialogs: Option<Vec<ActionKind>>,
    /// `:` command name and aliases running this action.
    pub command: Option<String>,
    pub aliases: Vec<String>,
}

impl Binding {
    pub fn applies(&self, scope: Scope) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.iter().any(|b| b.covers(scope)))
    }

    pub fn is_prompt(&self) -> bool {
        self.group == PROMPT_GROUP
    }

    /// Applies only inside an action's dialog.
    pub fn is_dialog(&self) -> bool {
        self.group == DIALOG_GROUP
    }

    /// Applies only while an install form is filled in.
    pub fn is_form(&self) -> bool {
        self.group == FORM_GROUP
    }

    /// Applies only in a pane (YAML, description, logs).
    pub fn is_pane(&self) -> bool {
        self.group == PANE_GROUP
    }

    /// A dialog binding works in the dialog of this action.
    pub fn in_dialog(&self, kind: ActionKind) -> bool {
        self.dialogs.as_ref().is_none_or(|d| d.contains(&kind))
    }

    fn layer(&self) -> u8 {
        if self.is_prompt() {
            1
        } else if self.is_dialog() {
            2
        } else if self.is_form() {
            3
        } else if self.is_pane() {
            4
        } else {
            0
        }
    }

    /// `1 o`, `j down`: the keys as the help screen shows them; `:sort` for a command
    /// without keys.
    pub fn keys_label(&self) -> String {
        if self.keys.is_empty() {
            return format!(":{}", self.command.as_deref().unwrap_or("?"));
        }
        self.keys
            .iter()
            .map(KeySpec::label)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

const PROMPT_GROUP: &str = "prompt";
const DIALOG_GROUP: &str = "dialog";
const FORM_GROUP: &str = "install form";
const PANE_GROUP: &str = "pane";

/// A bad keymap file: names the file and the binding or key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct KeymapError {
    pub origin: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeymap {
    #[serde(default)]
    binding: Vec<RawBinding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    action: String,
    keys: Option<Vec<String>>,
    description: Option<String>,
    group: Option<String>,
    #[serde(default)]
    dangerous: Option<bool>,
    footer: Option<String>,
    views: Option<Vec<String>>,
    command: Option<String>,
    aliases: Option<Vec<String>>,
    dialogs: Option<Vec<String>>,
}

/// Every binding, in the order of the file.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    /// The compiled-in keymap. A unit test proves it parses; should it ever not, meshtop
    /// still starts with `q`/`ctrl-c` to quit rather than crash.
    fn default() -> Self {
        match Keymap::parse(DEFAULT_KEYMAP, "assets/keymap.toml") {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "the compiled-in keymap is invalid");
                Keymap {
                    bindings: vec![Binding {
                        action: Action::Quit,
                        action_name: "quit".into(),
                        keys: ["q", "ctrl-c"]
                            .iter()
                            .filter_map(|k| KeySpec::parse(k))
                            .collect(),
                        description: "quit meshtop".into(),
                        group: "general".into(),
                        dangerous: false,
                        footer: Some("quit".into()),
                        scopes: None,
                        dialogs: None,
                        command: None,
                        aliases: Vec::new(),
                    }],
                }
            }
        }
    }
}

impl Keymap {
    /// Parses a complete keymap (the format of `assets/keymap.toml`); `origin` names the
    /// file in errors.
    pub fn parse(src: &str, origin: &str) -> Result<Keymap, KeymapError> {
        let raw = parse_raw(src, origin)?;
        let mut bindings = Vec::with_capacity(raw.binding.len());
        for (i, b) in raw.binding.into_iter().enumerate() {
            bindings.push(complete_binding(b, None, origin, i)?);
        }
        let keymap = Keymap { bindings };
        keymap.check_conflicts(origin)?;
        Ok(keymap)
    }

    /// Applies a user file on top: each of its bindings replaces the keys (and any other
    /// field it gives) of the bindings with the same action and group.
    pub fn with_overrides(&self, src: &str, origin: &str) -> Result<Keymap, KeymapError> {
        let raw = parse_raw(src, origin)?;
        let mut out = self.clone();
        for (i, b) in raw.binding.into_iter().enumerate() {
            let action = Action::parse(&b.action).ok_or_else(|| KeymapError {
                origin: origin.into(),
                message: format!("binding {}: unknown action {:?}", i + 1, b.action),
            })?;
            let group = b.group.clone();
            let position = out
                .bindings
                .iter()
                .position(|d| d.action == action && group.as_ref().is_none_or(|g| *g == d.group));
            match position {
                Some(p) => {
                    let base = out.bindings[p].clone();
                    out.bindings[p] = complete_binding(b, Some(&base), origin, i)?;
                }
                None => out.bindings.push(complete_binding(b, None, origin, i)?),
            }
        }
        out.check_conflicts(origin)?;
        Ok(out)
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The compiled-in keymap with the user's file over it: `explicit` (`--keymap`), which
    /// must exist, else `$XDG_CONFIG_HOME/meshtop/keymap.toml` (else
    /// `~/.config/meshtop/keymap.toml`) if it exists.
    pub fn load(explicit: Option<&Path>) -> Result<Keymap, KeymapError> {
        let base = Keymap::default();
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match user_keymap_path() {
                Some(p) if p.exists() => p,
                _ => return Ok(base),
            },
        };
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(&path).map_err(|e| KeymapError {
            origin: origin.clone(),
            message: format!("cannot read the key map: {e}"),
        })?;
        base.with_overrides(&src, &origin)
    }

    /// Every binding as Markdown, one table per group: README's key table.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let mut groups: Vec<&str> = Vec::new();
        for b in &self.bindings {
            if !groups.contains(&b.group.as_str()) {
                groups.push(&b.group);
            }
        }
        let cell = |s: &str| {
            s.replace('|', "\\|")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        for group in groups {
            let heading = match group {
                PROMPT_GROUP => "while typing a filter, a command or a dialog's text",
                DIALOG_GROUP => "in an action's dialog",
                FORM_GROUP => "in an install form",
                PANE_GROUP => "in a pane (YAML, describe, logs, contexts)",
                other => other,
            };
            out.push_str(&format!(
                "**{heading}**\n\n| Keys | What | Where |\n| --- | --- | --- |\n"
            ));
            for b in self.bindings.iter().filter(|b| b.group == group) {
                let keys = if b.keys.is_empty() {
                    format!("`:{}`", b.command.as_deref().unwrap_or("?"))
                } else {
                    b.keys
                        .iter()
                        .map(|k| format!("`{}`", cell(k.label())))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let mut what = cell(&b.description);
                let commands: Vec<String> = b
                    .command
                    .iter()
                    .chain(&b.aliases)
                    .filter(|_| !b.keys.is_empty())
                    .map(|c| format!("`:{c}`"))
                    .collect();
                if !commands.is_empty() {
                    what.push_str(&format!(" ({})", commands.join(", ")));
                }
                if b.dangerous {
                    what.push_str(" — changes the cluster, after a preview and a confirmation");
                }
                let place = match (&b.scopes, &b.dialogs) {
                    (_, Some(d)) => d
                        .iter()
                        .map(|k| k.keymap_name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    (Some(s), None) => s.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
                    (None, None) => "everywhere".to_string(),
                };
                out.push_str(&format!("| {keys} | {what} | {place} |\n"));
            }
            out.push('\n');
        }
        out
    }

    /// The action of a key in normal mode (`prompt == false`) or while typing.
    pub fn action(&self, key: &KeyEvent, scope: Scope, prompt: bool) -> Option<Action> {
        self.bindings
            .iter()
            .filter(|b| {
                if prompt {
                    b.is_prompt()
                } else {
                    b.layer() == 0 && b.applies(scope)
                }
            })
            .find(|b| b.keys.iter().any(|k| k.matches(key)))
            .map(|b| b.action)
    }

    /// The action of a key in the dialog of `kind`; while `typing`, the prompt's keys come
    /// first and the dialog's letters are text.
    pub fn dialog_action(&self, key: &KeyEvent, typing: bool, kind: ActionKind) -> Option<Action> {
        self.bindings
            .iter()
            .filter(|b| {
                if typing {
                    b.is_prompt()
                } else {
                    b.is_dialog() && b.in_dialog(kind)
                }
            })
            .find(|b| b.keys.iter().any(|k| k.matches(key)))
            .map(|b| b.action)
    }

    /// The action of a key while an install form is filled in (moving between fields,
    /// changing a choice); `None` leaves the key to the prompt and the text.
    pub fn form_action(&self, key: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .filter(|b| b.is_form())
            .find(|b| b.keys.iter().any(|k| k.matches(key)))
            .map(|b| b.action)
    }

    /// The action of a key in a pane: its own keys first, then the normal keys of the
    /// screen under it (moving, scrolling, back, quit).
    pub fn pane_action(&self, key: &KeyEvent, scope: Scope) -> Option<Action> {
        self.bindings
            .iter()
            .filter(|b| b.is_pane())
            .find(|b| b.keys.iter().any(|k| k.matches(key)))
            .map(|b| b.action)
            .or_else(|| self.action(key, scope, false))
    }

    /// The first key of a pane's action.
    pub fn pane_key(&self, action: Action) -> Option<&str> {
        self.bindings
            .iter()
            .filter(|b| (b.is_pane() || b.layer() == 0) && b.action == action)
            .find_map(|b| b.keys.first())
            .map(KeySpec::label)
    }

    /// The keys of an install form's action, as its key line shows them (`tab/down`).
    pub fn form_keys(&self, action: Action) -> Option<String> {
        self.bindings
            .iter()
            .find(|b| b.is_form() && b.action == action)
            .map(|b| {
                b.keys
                    .iter()
                    .map(KeySpec::label)
                    .collect::<Vec<_>>()
                    .join("/")
            })
    }

    /// The first key of an action in the dialog, for the dialog's key line.
    pub fn dialog_key(&self, action: Action) -> Option<&str> {
        self.bindings
            .iter()
            .filter(|b| b.is_dialog() && b.action == action)
            .find_map(|b| b.keys.first())
            .map(KeySpec::label)
    }

    /// The first prompt key of an action (the form's enter and esc).
    pub fn prompt_key(&self, action: Action) -> Option<&str> {
        self.bindings
            .iter()
            .filter(|b| b.is_prompt() && b.action == action)
            .find_map(|b| b.keys.first())
            .map(KeySpec::label)
    }

    /// The first key of a normal-mode action (the abort key, in the task panel).
    pub fn key_of(&self, action: Action) -> Option<&str> {
        self.bindings
            .iter()
            .filter(|b| b.layer() == 0 && b.action == action)
            .find_map(|b| b.keys.first())
            .map(KeySpec::label)
    }

    /// Bindings that apply to a screen, prompt bindings last: what `?` lists. Keys of the
    /// dialogs of actions that cannot be opened there (an install form's, in the Nodes
    /// view) are left out.
    pub fn help(&self, scope: Scope) -> Vec<&Binding> {
        let mut out: Vec<&Binding> = self
            .bindings
            .iter()
            .filter(|b| b.layer() == 0 && b.applies(scope))
            .collect();
        let here: Vec<ActionKind> = out
            .iter()
            .filter_map(|b| match b.action {
                Action::Act(kind) => Some(kind),
                _ => None,
            })
            .collect();
        let install_here = here
            .iter()
            .any(|k| matches!(k, ActionKind::InstallRevision | ActionKind::InstallGateway));
        out.extend(self.bindings.iter().filter(|b| b.is_pane()));
        out.extend(self.bindings.iter().filter(|b| b.is_prompt()));
        out.extend(self.bindings.iter().filter(|b| {
            b.is_dialog()
                && b.dialogs
                    .as_ref()
                    .is_none_or(|d| d.iter().any(|k| here.contains(k)))
        }));
        if install_here {
            out.extend(self.bindings.iter().filter(|b| b.is_form()));
        }
        out
    }

    /// `(keys, label)` pairs for the footer of a screen. Views are summarised as one
    /// `1-7` entry when they are all bound to digits.
    pub fn footer(&self, scope: Scope) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for b in self
            .bindings
            .iter()
            .filter(|b| b.layer() == 0 && b.applies(scope))
        {
            let Some(label) = &b.footer else { continue };
            let keys = if let Action::View(_) = b.action {
                self.view_keys_summary()
                    .unwrap_or_else(|| b.keys.first().map(|k| k.label.clone()).unwrap_or_default())
            } else {
                b.keys.first().map(|k| k.label.clone()).unwrap_or_default()
            };
            out.push((keys, label.clone()));
        }
        out
    }

    /// `1-7` when the views are bound to consecutive digits.
    fn view_keys_summary(&self) -> Option<String> {
        let mut digits: Vec<char> = self
            .bindings
            .iter()
            .filter(|b| matches!(b.action, Action::View(_)))
            .filter_map(|b| {
                b.keys.iter().find_map(|k| match k.code {
                    KeyCode::Char(c) if c.is_ascii_digit() && k.modifiers.is_empty() => Some(c),
                    _ => None,
                })
            })
            .collect();
        digits.sort_unstable();
        let (first, last) = (*digits.first()?, *digits.last()?);
        let consecutive = digits
            .windows(2)
            .all(|w| (w[1] as u32).wrapping_sub(w[0] as u32) == 1);
        consecutive.then(|| format!("{first}-{last}"))
    }

    /// Every `:` command name (canonical names, then aliases) with its action.
    pub fn commands(&self) -> Vec<(&str, Action)> {
        let mut out: Vec<(&str, Action)> = self
            .bindings
            .iter()
            .filter_map(|b| b.command.as_deref().map(|c| (c, b.action)))
            .collect();
        for b in &self.bindings {
            out.extend(b.aliases.iter().map(|a| (a.as_str(), b.action)));
        }
        out
    }

    /// The action of a typed command, by name or alias.
    pub fn command(&self, typed: &str) -> Option<Action> {
        let typed = typed.trim();
        self.commands()
            .into_iter()
            .find(|(name, _)| *name == typed)
            .map(|(_, a)| a)
    }

    /// Canonical command names starting with `prefix`, for Tab completion.
    pub fn completions(&self, prefix: &str) -> Vec<&str> {
        let prefix = prefix.trim_start();
        self.bindings
            .iter()
            .filter_map(|b| b.command.as_deref())
            .filter(|c| c.starts_with(prefix))
            .collect()
    }

    fn check_conflicts(&self, origin: &str) -> Result<(), KeymapError> {
        for (i, a) in self.bindings.iter().enumerate() {
            for b in &self.bindings[i + 1..] {
                if a.layer() != b.layer() || !scopes_overlap(a, b) || !dialogs_overlap(a, b) {
                    continue;
                }
                if let Some(k) = a.keys.iter().find(|k| b.keys.contains(k)) {
                    if a.action == b.action {
                        continue;
                    }
                    return Err(KeymapError {
                        origin: origin.into(),
                        message: format!(
                            "key {:?} is bound twice in the same place: to {:?} and to {:?} \
                             (group {:?})",
                            k.label, a.action_name, b.action_name, a.group
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `$XDG_CONFIG_HOME/meshtop/keymap.toml`, else `~/.config/meshtop/keymap.toml`.
pub fn user_keymap_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("meshtop").join("keymap.toml"))
}

fn scopes_overlap(a: &Binding, b: &Binding) -> bool {
    match (&a.scopes, &b.scopes) {
        (Some(x), Some(y)) => x
            .iter()
            .any(|s| y.iter().any(|t| s.covers(*t) || t.covers(*s))),
        _ => true,
    }
}

fn dialogs_overlap(a: &Binding, b: &Binding) -> bool {
    match (&a.dialogs, &b.dialogs) {
        (Some(x), Some(y)) => x.iter().any(|k| y.contains(k)),
        _ => true,
    }
}

fn parse_raw(src: &str, origin: &str) -> Result<RawKeymap, KeymapError> {
    toml::from_str(src).map_err(|e| KeymapError {
        origin: origin.into(),
        message: e.to_string().trim_end().to_string(),
    })
}

fn complete_binding(
    raw: RawBinding,
    base: Option<&Binding>,
    origin: &str,
    index: usize,
) -> Result<Binding, KeymapError> {
    let err = |message: String| KeymapError {
        origin: origin.into(),
        message: format!("binding {} ({}): {message}", index + 1, raw.action),
    };
    let action = Action::parse(&raw.action)
        .ok_or_else(|| err(format!("unknown action {:?}", raw.action)))?;
    let keys = match (&raw.keys, base) {
        (Some(keys), _) => keys
            .iter()
            .map(|k| KeySpec::parse(k).ok_or_else(|| err(format!("key {k:?}: unknown key"))))
            .collect::<Result<Vec<_>, _>>()?,
        (None, Some(b)) => b.keys.clone(),
        (None, None) => return Err(err("key \"keys\": missing".into())),
    };
    let command = raw
        .command
        .clone()
        .or_else(|| base.and_then(|b| b.command.clone()));
    if keys.is_empty() && command.is_none() {
        return Err(err(
            "key \"keys\": empty (only a `:` command may have no key)".into(),
        ));
    }
    let description = raw
        .description
        .clone()
        .or_else(|| base.map(|b| b.description.clone()))
        .ok_or_else(|| err("key \"description\": missing".into()))?;
    let group = raw
        .group
        .clone()
        .or_else(|| base.map(|b| b.group.clone()))
        .ok_or_else(|| err("key \"group\": missing".into()))?;
    let scopes = match &raw.views {
        Some(v) => Some(
            v.iter()
                .map(|s| {
                    Scope::parse(s).ok_or_else(|| err(format!("key \"views\": unknown view {s:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => base.and_then(|b| b.scopes.clone()),
    };
    let dialogs = match &raw.dialogs {
        Some(d) => Some(
            d.iter()
                .map(|s| {
                    ActionKind::parse(s)
                        .ok_or_else(|| err(format!("key \"dialogs\": unknown action {s:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => base.and_then(|b| b.dialogs.clone()),
    };
    Ok(Binding {
        action,
        action_name: raw.action.clone(),
        keys,
        description,
        group,
        dangerous: raw
            .dangerous
            .unwrap_or_else(|| base.is_some_and(|b| b.dangerous)),
        footer: raw
            .footer
            .clone()
            .or_else(|| base.and_then(|b| b.footer.clone())),
        scopes,
        dialogs,
        command,
        aliases: raw
            .aliases
            .clone()
            .or_else(|| base.map(|b| b.aliases.clone()))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn the_compiled_in_keymap_parses() {
        let k = Keymap::parse(DEFAULT_KEYMAP, "assets/keymap.toml").expect("default keymap");
        assert!(k.bindings().len() > 20);
        for v in ViewKind::ALL {
            assert!(
                k.bindings().iter().any(|b| b.action == Action::View(v)),
                "{v:?} has no key"
            );
            assert_eq!(k.command(v.name()), Some(Action::View(v)));
        }
    }

    #[test]
    fn keys_resolve_by_scope_and_mode() {
        let k = Keymap::default();
        let nodes = Scope::View(ViewKind::Nodes);
        let ch = |c| press(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(k.action(&ch('q'), nodes, false), Some(Action::Quit));
        assert_eq!(
            k.action(
                &press(KeyCode::Char('c'), KeyModifiers::CONTROL),
                nodes,
                true
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            k.action(&ch('q'), nodes, true),
            None,
            "q is text in a prompt"
        );
        assert_eq!(
            k.action(
                &press(KeyCode::Char('G'), KeyModifiers::SHIFT),
                nodes,
                false
            ),
            Some(Action::Bottom)
        );
        assert_eq!(k.action(&ch('g'), nodes, false), Some(Action::Top));
        assert_eq!(
            k.action(&ch('6'), nodes, false),
            Some(Action::View(ViewKind::Nodes))
        );
        let enter = press(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(k.action(&enter, nodes, false), Some(Action::Drill));
        // A finding has no details: Enter goes to its object.
        assert_eq!(
            k.action(&enter, Scope::View(ViewKind::Overview), false),
            Some(Action::GoTo)
        );
        assert_eq!(k.action(&enter, nodes, true), Some(Action::PromptAccept));
    }

    #[test]
    fn completion_and_aliases() {
        let k = Keymap::default();
        assert_eq!(k.completions("no"), vec!["nodes"]);
        assert_eq!(k.completions("n"), vec!["nodes", "namespaces"]);
        assert_eq!(k.command("ns"), Some(Action::View(ViewKind::Namespaces)));
        assert_eq!(k.command("q"), Some(Action::Quit));
        assert_eq!(k.command("nope"), None);
    }

    #[test]
    fn the_footer_summarises_views_as_digits() {
        let k = Keymap::default();
        let footer = k.footer(Scope::View(ViewKind::Nodes));
        assert_eq!(footer[0], ("1-7".to_string(), "views".to_string()));
        assert!(footer.iter().any(|(k, l)| k == "enter" && l == "details"));
        let overview = k.footer(Scope::View(ViewKind::Overview));
        assert!(!overview.iter().any(|(_, l)| l == "details"));
    }

    #[test]
    fn bad_files_name_the_file_and_the_key() {
        let err = Keymap::parse(
            "[[binding]]\naction = \"fly\"\nkeys = [\"x\"]\ndescription = \"\"\ngroup = \"g\"\n",
            "my.toml",
        )
        .expect_err("unknown action");
        assert_eq!(
            err.to_string(),
            "my.toml: binding 1 (fly): unknown action \"fly\""
        );
        let err = Keymap::parse(
            "[[binding]]\naction = \"quit\"\nkeys = [\"ctrl-\"]\ndescription = \"\"\ngroup = \"g\"\n",
            "my.toml",
        )
        .expect_err("bad key");
        assert!(
            err.to_string().contains("key \"ctrl-\": unknown key"),
            "{err}"
        );
        let err = Keymap::parse("[[binding]]\naction = \"quit\"\nkyes = []\n", "my.toml")
            .expect_err("unknown field");
        assert!(err.to_string().starts_with("my.toml: "), "{err}");
        assert!(err.to_string().contains("kyes"), "{err}");
    }

    #[test]
    fn dialog_keys_belong_to_the_dialogs_they_name() {
        let k = Keymap::default();
        let e = press(KeyCode::Char('e'), KeyModifiers::NONE);
        assert_eq!(
            k.dialog_action(&e, false, ActionKind::Drain),
            Some(Action::Toggle(DialogOption::DeleteEmptyDirData))
        );
        assert_eq!(
            k.dialog_action(&e, false, ActionKind::InstallGateway),
            Some(Action::Edit)
        );
        assert_eq!(k.dialog_action(&e, false, ActionKind::Cordon), None);
        let tab = press(KeyCode::Tab, KeyModifiers::NONE);
        assert_eq!(k.form_action(&tab), Some(Action::FieldNext));
        let backtab = press(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(k.form_action(&backtab), Some(Action::FieldPrevious));
        // Form keys are not normal keys: tab does nothing in a view.
        assert_eq!(k.action(&tab, Scope::View(ViewKind::Nodes), false), None);
        let i = press(KeyCode::Char('I'), KeyModifiers::SHIFT);
        assert_eq!(
            k.action(&i, Scope::View(ViewKind::Gateways), false),
            Some(Action::Act(ActionKind::InstallGateway))
        );
        assert_eq!(
            k.action(&i, Scope::DetailsOf(ViewKind::Revisions), false),
            Some(Action::Act(ActionKind::InstallRevision))
        );
        let err = Keymap::parse(
            "[[binding]]\naction = \"edit\"\nkeys = [\"e\"]\ndescription = \"\"\ngroup = \"dialog\"\ndialogs = [\"fly\"]\n",
            "my.toml",
        )
        .expect_err("unknown dialog");
        assert!(err.to_string().contains("unknown action \"fly\""), "{err}");
    }

    /// README's key table is what `meshtop keys --markdown` prints. When this fails, paste
    /// the table it prints between README's `keys:begin` and `keys:end` lines.
    #[test]
    fn readme_key_table_is_generated_from_the_keymap() {
        let readme = include_str!("../../README.md");
        let fresh = Keymap::default().markdown();
        let begin = readme
            .find("<!-- keys:begin")
            .and_then(|i| readme[i..].find('\n').map(|n| i + n + 1))
            .expect("README has a keys:begin line");
        let end = readme.find("<!-- keys:end -->").expect("keys:end line");
        let written = readme.get(begin..end).unwrap_or_default();
        assert!(
            written == fresh,
            "README's key table differs from the keymap; the table to paste:\n\n{fresh}"
        );
    }

    #[test]
    fn k9s_keys_mean_what_they_mean_in_k9s_and_dialog_keys_stay() {
        let k = Keymap::default();
        let ch = |c| press(KeyCode::Char(c), KeyModifiers::NONE);
        let ctrl = |c| press(KeyCode::Char(c), KeyModifiers::CONTROL);
        let nodes = Scope::View(ViewKind::Nodes);
        let pdbs = Scope::View(ViewKind::Disruption);
        for scope in [nodes, pdbs, Scope::DetailsOf(ViewKind::Nodes)] {
            assert_eq!(k.action(&ch('y'), scope, false), Some(Action::Yaml));
            assert_eq!(k.action(&ch('d'), scope, false), Some(Action::Describe));
            assert_eq!(k.action(&ch('l'), scope, false), Some(Action::Logs));
            assert_eq!(k.action(&ch('e'), scope, false), Some(Action::EditObject));
            assert_eq!(
                k.action(&ch('0'), scope, false),
                Some(Action::AllNamespaces)
            );
            assert_eq!(
                k.action(&ctrl('d'), scope, false),
                Some(Action::HalfPageDown)
            );
            assert_eq!(k.action(&ctrl('u'), scope, false), Some(Action::HalfPageUp));
        }
        assert_eq!(
            k.action(&ch('b'), nodes, false),
            Some(Action::View(ViewKind::Disruption))
        );
        assert_eq!(
            k.action(&ch('5'), nodes, false),
            Some(Action::View(ViewKind::Disruption))
        );
        assert_eq!(k.command("pdb"), Some(Action::View(ViewKind::Disruption)));
        assert_eq!(
            k.action(&ch('L'), nodes, false),
            Some(Action::Act(ActionKind::LabelNode))
        );
        assert_eq!(k.command("ctx"), Some(Action::Context));
        assert_eq!(k.command("sort"), Some(Action::SortBy));
        // In a dialog, d is still the dry run and y still goes on.
        assert_eq!(
            k.dialog_action(&ch('d'), false, ActionKind::Drain),
            Some(Action::DryRun)
        );
        assert_eq!(
            k.dialog_action(&ch('y'), false, ActionKind::PdbRelax),
            Some(Action::Proceed)
        );
        // In a pane: f follows, esc and q close it, the screen's keys scroll it.
        assert_eq!(k.pane_action(&ch('f'), nodes), Some(Action::Follow));
        assert_eq!(k.pane_action(&ch('q'), nodes), Some(Action::Back));
        assert_eq!(k.pane_action(&ctrl('d'), nodes), Some(Action::HalfPageDown));
        assert_eq!(k.pane_action(&ch('G'), nodes), Some(Action::Bottom));
        // A command without a key shows as the command in the help.
        let sort = k
            .bindings()
            .iter()
            .find(|b| b.action == Action::SortBy)
            .expect("sort binding");
        assert_eq!(sort.keys_label(), ":sort");
    }

    #[test]
    fn a_user_file_overrides_and_its_errors_name_the_file_the_binding_and_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("keymap.toml");
        std::fs::write(
            &file,
            "[[binding]]\naction = \"view:disruption\"\nkeys = [\"5\", \"B\"]\n\n\
             [[binding]]\naction = \"dry-run\"\ngroup = \"dialog\"\nkeys = [\"r\"]\n",
        )
        .expect("write");
        let k = Keymap::load(Some(&file)).expect("a valid override");
        let ch = |c| press(KeyCode::Char(c), KeyModifiers::NONE);
        let nodes = Scope::View(ViewKind::Nodes);
        assert_eq!(
            k.action(&ch('B'), nodes, false),
            Some(Action::View(ViewKind::Disruption))
        );
        assert_eq!(k.action(&ch('b'), nodes, false), None);
        assert_eq!(
            k.dialog_action(&ch('r'), false, ActionKind::Drain),
            Some(Action::DryRun)
        );
        assert_eq!(k.dialog_action(&ch('d'), false, ActionKind::Drain), None);
        let origin = file.display().to_string();
        let cases = [
            (
                "[[binding]]\naction = \"fly\"\nkeys = [\"x\"]\n",
                "binding 1: unknown action \"fly\"",
            ),
            (
                "[[binding]]\naction = \"yaml\"\nkeys = [\"ctrl-shift-y\"]\n",
                "binding 1 (yaml): key \"ctrl-shift-y\": unknown key",
            ),
            (
                "[[binding]]\naction = \"yaml\"\nkeys = [\"d\"]\n",
                "key \"d\" is bound twice in the same place: to \"yaml\" and to \"describe\"",
            ),
        ];
        for (text, says) in cases {
            std::fs::write(&file, text).expect("write");
            let err = Keymap::load(Some(&file)).expect_err(text).to_string();
            assert!(err.starts_with(&format!("{origin}: ")), "{err}");
            assert!(err.contains(says), "{err}");
        }
        let missing = dir.path().join("nope.toml");
        let err = Keymap::load(Some(&missing))
            .expect_err("missing")
            .to_string();
        assert!(err.contains("nope.toml: cannot read the key map"), "{err}");
    }

    #[test]
    fn conflicting_keys_are_refused_and_overrides_apply() {
        let k = Keymap::default();
        let err = k
            .with_overrides(
                "[[binding]]\naction = \"help\"\nkeys = [\"q\"]\n",
                "user.toml",
            )
            .expect_err("q is quit");
        assert!(err.to_string().contains("\"q\""), "{err}");
        let k = k
            .with_overrides(
                "[[binding]]\naction = \"help\"\nkeys = [\"h\"]\n",
                "user.toml",
            )
            .expect("override");
        let nodes = Scope::View(ViewKind::Nodes);
        let h = press(KeyCode::Char('h'), KeyModifiers::NONE);
        assert_eq!(k.action(&h, nodes, false), Some(Action::Help));
        let q = press(KeyCode::Char('?'), KeyModifiers::NONE);
        assert_eq!(k.action(&q, nodes, false), None);
    }
}
