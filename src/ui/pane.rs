//! A pane over the views: the selected object's YAML, its description with Events, a pod's
//! logs (followed), or the kubeconfig's contexts. Its text comes from the app's reads
//! ([`PaneUpdate`]); it scrolls with the keys that move a table's selection.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::action::DialogScroll;
use super::keymap::{Action, Keymap};
use super::theme::Theme;
use crate::ops::inspect::Inspect;

/// Identifies a pane's reads between the UI and the app: an answer for a pane that was
/// closed is dropped.
pub type PaneId = u64;

/// What a pane shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneKind {
    Inspect(Inspect),
    /// The kubeconfig's contexts, the current one marked.
    Contexts,
}

/// Where a pane's text stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneState {
    Reading,
    /// All there is (YAML, a description).
    Done,
    /// Lines keep coming (logs); `paused`: new lines are kept but the view stays put.
    Following {
        paused: bool,
    },
    /// The read failed, or the stream ended: why, in the server's words.
    Failed(String),
    Ended(String),
}

/// A pane's content and scroll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    pub id: PaneId,
    pub kind: PaneKind,
    pub title: String,
    pub lines: Vec<String>,
    pub state: PaneState,
    pub scroll: DialogScroll,
}

/// What the app's reads say about a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneUpdate {
    /// The whole text.
    Text {
        id: PaneId,
        text: String,
    },
    /// A log stream opened on `container`.
    Following {
        id: PaneId,
        container: String,
    },
    /// A line of a followed log.
    Line {
        id: PaneId,
        line: String,
    },
    Failed {
        id: PaneId,
        why: String,
    },
    /// The log stream ended.
    Ended {
        id: PaneId,
        why: String,
    },
}

impl PaneUpdate {
    pub fn id(&self) -> PaneId {
        match self {
            PaneUpdate::Text { id, .. }
            | PaneUpdate::Following { id, .. }
            | PaneUpdate::Line { id, .. }
            | PaneUpdate::Failed { id, .. }
            | PaneUpdate::Ended { id, .. } => *id,
        }
    }
}

/// Tabs as spaces to the next multiple of 8, as a terminal shows them (a cell of the
/// screen holds no tab). istiod's log lines are tab-separated.
fn expand_tabs(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut column = 0;
    for c in line.chars() {
        if c == '\t' {
            let next = (column / 8 + 1) * 8;
            out.extend(std::iter::repeat_n(' ', next - column));
            column = next;
        } else {
            out.push(c);
            column += 1;
        }
    }
    out
}

/// Lines a log pane keeps; older ones are dropped as new ones come.
const MAX_LINES: usize = 10_000;

impl Pane {
    pub fn new(id: PaneId, kind: PaneKind, title: String) -> Pane {
        Pane {
            id,
            kind,
            title,
            lines: Vec::new(),
            state: PaneState::Reading,
            scroll: DialogScroll::default(),
        }
    }

    /// A pane whose text is known already (the contexts).
    pub fn with_text(id: PaneId, kind: PaneKind, title: String, text: &str) -> Pane {
        let mut pane = Pane::new(id, kind, title);
        pane.lines = text.lines().map(expand_tabs).collect();
        pane.state = PaneState::Done;
        pane
    }

    pub fn apply(&mut self, update: PaneUpdate) {
        match update {
            PaneUpdate::Text { text, .. } => {
                self.lines = text.lines().map(expand_tabs).collect();
                self.state = PaneState::Done;
            }
            PaneUpdate::Following { container, .. } => {
                self.title = format!("{} · {container}", self.title);
                self.state = PaneState::Following { paused: false };
                self.scroll.follow_end();
            }
            PaneUpdate::Line { line, .. } => {
                self.lines.push(expand_tabs(&line));
                if self.lines.len() > MAX_LINES {
                    let extra = self.lines.len() - MAX_LINES;
                    self.lines.drain(..extra);
                    if self.scroll.offset != usize::MAX {
                        self.scroll.offset = self.scroll.offset.saturating_sub(extra);
                    }
                }
            }
            PaneUpdate::Failed { why, .. } => self.state = PaneState::Failed(why),
            PaneUpdate::Ended { why, .. } => self.state = PaneState::Ended(why),
        }
    }

    /// Pauses or resumes following a log: paused, the view stays where it is.
    pub fn toggle_follow(&mut self) {
        if let PaneState::Following { paused } = &mut self.state {
            *paused = !*paused;
            if *paused {
                self.scroll.offset = self.scroll.shown();
            } else {
                self.scroll.follow_end();
            }
        }
    }

    /// A key's action on the pane; `false`: the pane closes.
    pub fn on_action(&mut self, action: Action) -> bool {
        let page = self.scroll.page_lines();
        let following = matches!(self.state, PaneState::Following { paused: false });
        // Scrolling up while following pauses it: the lines a person reads stay put.
        if following
            && matches!(
                action,
                Action::Up | Action::PageUp | Action::HalfPageUp | Action::Top
            )
        {
            self.toggle_follow();
        }
        match action {
            Action::Back | Action::PromptCancel => return false,
            Action::Down => self.scroll.down(1),
            Action::Up => self.scroll.up(1),
            Action::PageDown => self.scroll.down(page),
            Action::PageUp => self.scroll.up(page),
            Action::HalfPageDown => self.scroll.down(page.div_ceil(2)),
            Action::HalfPageUp => self.scroll.up(page.div_ceil(2)),
            Action::Top => self.scroll.reset(),
            Action::Bottom => self.scroll.follow_end(),
            Action::Follow => self.toggle_follow(),
            _ => {}
        }
        true
    }
}

/// Draws the pane over `area`: a title with where the text stands, the lines, and a last
/// line saying which keys scroll and close it.
pub fn render(frame: &mut Frame, area: Rect, pane: &Pane, keymap: &Keymap, theme: &Theme) {
    let t = theme;
    frame.render_widget(Clear, area);
    let key = |a: Action| keymap.pane_key(a).unwrap_or("?").to_string();
    let (note, note_style) = match &pane.state {
        PaneState::Reading => ("reading…".to_string(), t.source_syncing),
        PaneState::Done => (String::new(), t.dim),
        PaneState::Following { paused: false } => ("following".to_string(), t.source_ready),
        PaneState::Following { paused: true } => ("paused".to_string(), t.source_syncing),
        PaneState::Failed(_) => ("failed".to_string(), t.source_error),
        PaneState::Ended(_) => ("stream ended".to_string(), t.source_error),
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.dim)
        .title(Line::from(Span::styled(
            format!(" {} ", pane.title),
            t.title,
        )));
    // Right-aligned, so a long title never hides where the text stands.
    if !note.is_empty() {
        block = block
            .title_top(Line::from(Span::styled(format!(" {note} "), note_style)).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let mut text: Vec<Line<'_>> = Vec::new();
    match &pane.state {
        PaneState::Failed(why) => {
            text.push(Line::from(Span::styled(
                format!("could not read it: {why}"),
                t.source_error,
            )));
        }
        PaneState::Reading if pane.lines.is_empty() => {
            text.push(Line::from(Span::styled(
                "reading from the API server…",
                t.dim,
            )));
        }
        _ => {}
    }
    text.extend(pane.lines.iter().map(|l| Line::raw(l.as_str())));
    if let PaneState::Ended(why) = &pane.state {
        text.push(Line::from(Span::styled(
            format!("— the stream ended: {why}"),
            t.source_error,
        )));
    }
    // The last row keeps the keys in view. Long lines wrap: a log line or an event's
    // message is read whole; the scroll counts rows on screen.
    let height = usize::from(inner.height.saturating_sub(1)).max(1);
    let paragraph = Paragraph::new(text).wrap(Wrap { trim: false });
    let count = paragraph.line_count(inner.width);
    let max = count.saturating_sub(height);
    pane.scroll.max.set(max);
    pane.scroll.page.set(height);
    let offset = pane.scroll.shown();
    let body = Rect {
        height: inner.height.saturating_sub(1),
        ..inner
    };
    frame.render_widget(
        paragraph.scroll((u16::try_from(offset).unwrap_or(u16::MAX), 0)),
        body,
    );
    let mut keys = format!(
        "{}/{} {}/{} scroll · {} {} · {} back",
        key(Action::Down),
        key(Action::Up),
        key(Action::HalfPageDown),
        key(Action::HalfPageUp),
        key(Action::Top),
        key(Action::Bottom),
        key(Action::Back),
    );
    if matches!(pane.state, PaneState::Following { .. }) {
        keys.push_str(&format!(" · {} pause/follow", key(Action::Follow)));
    }
    let position = if count == 0 {
        String::new()
    } else {
        format!(
            "rows {}-{} of {count} · ",
            (offset + 1).min(count),
            (offset + height).min(count)
        )
    };
    let foot = Rect {
        y: inner.y + inner.height.saturating_sub(1),
        height: 1,
        ..inner
    };
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(format!("{position}{keys}"), t.dim))),
        foot,
    );
}
