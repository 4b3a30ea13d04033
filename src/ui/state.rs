//! UI state (screens, selection, filter, sort, prompt) and `update`, the only function that
//! changes it.

use std::cell::Cell;

use crate::model::Model;

use super::Command;
use super::keymap::{Action, Keymap, Scope};
use super::table::{self, Sort};
use super::views::{self, ScreenId, ViewKind};

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
}

#[derive(Debug)]
pub struct UiState {
    /// One screen per top-level view, in `ViewKind::ALL` order, so each keeps its place.
    views: Vec<Screen>,
    current: ViewKind,
    /// Details screens opened with Enter, innermost last.
    details: Vec<Screen>,
    pub mode: Mode,
    /// A one-line message in the footer until the next key.
    pub status: Option<String>,
    /// Data rows of the table on the last frame: the PgUp/PgDn step.
    pub page: Cell<usize>,
    /// Width of the table on the last frame: which columns `s` cycles through.
    pub table_width: Cell<u16>,
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
            mode: Mode::Normal,
            status: None,
            page: Cell::new(10),
            table_width: Cell::new(80),
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
        if self.details.is_empty() {
            Scope::View(self.current)
        } else {
            Scope::Details
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
            Mode::Normal | Mode::Help { .. } => {}
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

    pub fn update(&mut self, action: Action, model: &Model, keymap: &Keymap) -> Vec<Command> {
        if let Mode::Help { scroll } = &mut self.mode {
            match action {
                Action::Help | Action::Back | Action::PromptCancel => self.mode = Mode::Normal,
                Action::Down => *scroll += 1,
                Action::Up => *scroll = scroll.saturating_sub(1),
                Action::PageDown => *scroll += self.page.get().max(1),
                Action::PageUp => *scroll = scroll.saturating_sub(self.page.get().max(1)),
                Action::Top => *scroll = 0,
                Action::Quit => return vec![Command::Quit],
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Action::Quit => return vec![Command::Quit],
            Action::Help => self.mode = Mode::Help { scroll: 0 },
            Action::Back => {
                let s = self.screen_mut();
                if !s.filter.is_empty() {
                    s.filter.clear();
                    s.selected = 0;
                } else {
                    self.details.pop();
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
            }
            Action::PromptAccept => match std::mem::replace(&mut self.mode, Mode::Normal) {
                Mode::Command { input } => return self.run_command(&input, model, keymap),
                Mode::Filter | Mode::Normal | Mode::Help { .. } => {}
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
                Mode::Normal | Mode::Help { .. } => {}
            },
            Action::PromptComplete => {
                if let Mode::Command { input } = &mut self.mode {
                    let candidates = keymap.completions(input);
                    if let Some(prefix) = common_prefix(&candidates) {
                        *input = prefix;
                    }
                }
            }
        }
        Vec::new()
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

    fn run_command(&mut self, input: &str, model: &Model, keymap: &Keymap) -> Vec<Command> {
        let typed = input.trim();
        if typed.is_empty() {
            return Vec::new();
        }
        match keymap.command(typed) {
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
