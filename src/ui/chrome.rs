//! Everything around the views: the header (context, server, cluster version, state of each
//! source, namespace scope, READ-ONLY, clock of the last event), the footer (keys, prompt,
//! status), the help overlay, and the message for a terminal too small.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::model::{Kind, Model, SourceState};

use super::keymap::{Action, Keymap};
use super::state::{Mode, UiState};
use super::theme::Theme;
use super::views::ScreenId;
use super::{Header, MIN_HEIGHT, MIN_WIDTH};

/// `12s`, `3m4s`, `2h5m`, `3d4h`: how long ago, as kubectl writes ages; `0s` for a time
/// ahead of the clock (callers write "… ago" after it).
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let secs = now.duration_since(then).as_secs().max(0);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match () {
        _ if secs < 60 => format!("{s}s"),
        _ if secs < 3600 => format!("{m}m{s}s"),
        _ if secs < 86_400 => format!("{}h{m}m", secs / 3600),
        _ => format!("{d}d{h}h"),
    }
}

/// `14:03:27`, in the local time zone.
pub fn clock_time(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%H:%M:%S")
        .to_string()
}

/// kubectl's short names, for the header.
pub fn short_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Namespace => "ns",
        Kind::Node => "no",
        Kind::Pod => "po",
        Kind::Deployment => "deploy",
        Kind::ReplicaSet => "rs",
        Kind::StatefulSet => "sts",
        Kind::DaemonSet => "ds",
        Kind::Service => "svc",
        Kind::Hpa => "hpa",
        Kind::Pdb => "pdb",
        Kind::WebhookConfig => "mwc",
        Kind::ConfigMap => "cm",
        Kind::IstioOperator => "iop",
        Kind::IstioGateway => "gw",
        Kind::KubeGateway => "gtw",
    }
}

/// The mark of a source's state and its style.
fn source_mark<'a>(state: &SourceState, theme: &Theme) -> Span<'a> {
    match state {
        SourceState::Ready => Span::styled("✓", theme.source_ready),
        SourceState::Syncing => Span::styled("…", theme.source_syncing),
        SourceState::Forbidden(_) => Span::styled(" forbidden", theme.source_forbidden),
        SourceState::Absent => Span::styled(" absent", theme.source_absent),
        SourceState::Error(_) => Span::styled(" error", theme.source_error),
        SourceState::Partial(_) => Span::styled(" 1 ns", theme.source_forbidden),
    }
}

fn width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// The sources line: every source when it fits, else a count and the ones not ready.
fn sources_line<'a>(model: &Model, theme: &Theme, max: usize) -> Line<'a> {
    let sources = model.sources();
    let label = Span::styled(" sources ", theme.header_label);
    if sources.is_empty() {
        return Line::from(vec![
            label,
            Span::styled("connecting…", theme.source_syncing),
        ]);
    }
    let mut all = vec![label.clone()];
    for (kind, state) in sources {
        all.push(Span::styled(short_name(*kind), theme.header));
        all.push(source_mark(state, theme));
        all.push(Span::raw(" "));
    }
    if width(&all) <= max {
        return Line::from(all);
    }
    let ready = sources
        .values()
        .filter(|s| **s == SourceState::Ready)
        .count();
    let mut short = vec![
        label,
        Span::styled(
            format!("{ready}/{} ", sources.len()),
            if ready == sources.len() {
                theme.source_ready
            } else {
                theme.header
            },
        ),
        Span::styled("ready ", theme.header),
    ];
    for (kind, state) in sources.iter().filter(|(_, s)| **s != SourceState::Ready) {
        short.push(Span::styled(short_name(*kind), theme.header));
        short.push(source_mark(state, theme));
        short.push(Span::raw(" "));
    }
    Line::from(short)
}

pub fn header(
    frame: &mut Frame,
    area: Rect,
    model: &Model,
    header: &Header,
    now: Timestamp,
    theme: &Theme,
) {
    let t = theme;
    let clock = match model.last_event() {
        Some(at) => format!("last event {} ago ", age(now, at)),
        None => "no events yet ".to_string(),
    };
    let max = usize::from(area.width).saturating_sub(clock.len() + 1);
    let field = |label: &'static str, value: String| {
        vec![
            Span::styled(label, t.header_label),
            Span::styled(value, t.header),
            Span::raw("  "),
        ]
    };
    let version = model.server_version().unwrap_or("?").to_string();
    // The focus `:ns` and `0` change; `-n` sets it at start.
    let scope = model
        .focus()
        .map(|n| n.to_string())
        .or_else(|| header.namespace.clone())
        .unwrap_or_else(|| "all".into());
    // Dropped from the right of this list first when the line is too narrow.
    let mut parts: Vec<Vec<Span<'_>>> = vec![
        vec![Span::styled(" meshtop  ", t.title)],
        field("ctx ", header.context.clone()),
        field("ns ", scope),
        field("k8s ", version),
        field("server ", header.server.clone()),
    ];
    if header.readonly {
        parts.insert(
            1,
            vec![Span::styled(" READ-ONLY ", t.readonly), Span::raw("  ")],
        );
    }
    while parts.len() > 2 && parts.iter().map(|p| width(p)).sum::<usize>() > max {
        parts.pop();
    }
    let mut first: Vec<Span<'_>> = parts.into_iter().flatten().collect();
    let used = width(&first);
    first.push(Span::raw(" ".repeat(
        usize::from(area.width).saturating_sub(used + clock.len()),
    )));
    first.push(Span::styled(clock, t.header_label));
    let [l1, l2] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(first)).style(t.header), l1);
    // Lost: the banner takes the sources line, which would only repeat "error".
    let second = match model.disconnected() {
        Some((since, why)) => Line::from(vec![
            Span::styled(
                format!(" DISCONNECTED since {} ", clock_time(since)),
                t.readonly,
            ),
            Span::styled(
                format!(
                    " {} ago · every row is as last seen · {why}",
                    age(now, since)
                ),
                t.source_error,
            ),
        ]),
        None => sources_line(model, t, usize::from(area.width)),
    };
    frame.render_widget(Paragraph::new(second).style(t.header), l2);
}

pub fn footer(frame: &mut Frame, area: Rect, state: &UiState, keymap: &Keymap, theme: &Theme) {
    let t = theme;
    let line = match &state.mode {
        Mode::Filter => {
            let text = format!("/{}", state.screen().filter);
            frame.set_cursor_position((area.x + text.chars().count() as u16, area.y));
            Line::from(vec![
                Span::styled(text, t.prompt),
                Span::styled("  enter keeps · esc clears", t.dim),
            ])
        }
        Mode::Command { input } => {
            let text = format!(":{input}");
            frame.set_cursor_position((area.x + text.chars().count() as u16, area.y));
            let candidates = keymap.completions(input);
            let hint = if input.contains(' ') {
                // An argument: a column, a context, a namespace; Tab lists the choices.
                match &state.status {
                    Some(choices) => format!("  {choices}"),
                    None => "  tab completes · enter runs".into(),
                }
            } else if input.is_empty() {
                format!("  {} · tab completes", candidates.join(" "))
            } else if candidates.is_empty() {
                "  no such command".into()
            } else {
                format!("  tab: {}", candidates.join(" "))
            };
            Line::from(vec![
                Span::styled(text, t.prompt),
                Span::styled(hint, t.dim),
            ])
        }
        Mode::Help { .. } => Line::from(vec![
            Span::styled(" ? ", t.footer_key),
            Span::styled("or ", t.footer_text),
            Span::styled("esc ", t.footer_key),
            Span::styled("closes · ", t.footer_text),
            Span::styled("j/k ", t.footer_key),
            Span::styled("scroll", t.footer_text),
        ]),
        Mode::Dialog(d) => Line::from(vec![
            Span::styled(format!(" {} ", d.request.title()), t.footer_text),
            Span::styled("esc ", t.footer_key),
            Span::styled("cancels: nothing is sent until you confirm", t.footer_text),
        ]),
        Mode::Pane(_) | Mode::Normal => match &state.status {
            Some(msg) => Line::from(Span::styled(format!(" {msg}"), t.status)),
            None => {
                let mut spans = vec![Span::raw(" ")];
                for (i, (key, label)) in keymap.footer(state.scope()).into_iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::raw("  "));
                    }
                    spans.push(Span::styled(key, t.footer_key));
                    spans.push(Span::raw(" "));
                    spans.push(Span::styled(label, t.footer_text));
                }
                Line::from(spans)
            }
        },
    };
    frame.render_widget(Paragraph::new(line).style(t.base), area);
}

/// The help overlay: every key of the current screen, generated from the keymap.
pub fn help(
    frame: &mut Frame,
    area: Rect,
    state: &UiState,
    keymap: &Keymap,
    theme: &Theme,
    scroll: usize,
) {
    let t = theme;
    let scope = state.scope();
    let bindings = keymap.help(scope);
    let key_width = bindings
        .iter()
        .map(|b| b.keys_label().chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let heading_of = |b: &super::keymap::Binding| {
        if b.is_prompt() {
            "WHILE TYPING A FILTER, A COMMAND OR A DIALOG'S TEXT".to_string()
        } else if b.is_dialog() {
            "IN AN ACTION'S DIALOG (PREVIEW, DRY RUN, CONFIRM)".to_string()
        } else if b.is_pane() {
            "IN A PANE (YAML, DESCRIBE, LOGS, CONTEXTS; THE KEYS ABOVE SCROLL IT)".to_string()
        } else if matches!(b.action, Action::View(_)) {
            format!(
                "{}  (or :name, e.g. :nodes :ns :pdb)",
                b.group.to_uppercase()
            )
        } else {
            b.group.to_uppercase()
        }
    };
    // What each binding says after its keys, in pieces of one style each.
    let texts: Vec<Vec<(String, ratatui::style::Style)>> = bindings
        .iter()
        .map(|b| {
            let mut pieces = vec![(b.description.clone(), t.base)];
            if let Some(c) = b
                .command
                .as_ref()
                // Views say `:name` in their heading; a command without keys is its key.
                .filter(|_| !matches!(b.action, Action::View(_)) && !b.keys.is_empty())
            {
                pieces.push((format!("  (:{c})"), t.dim));
            }
            if b.dangerous && state.readonly {
                pieces.push(("  disabled: --readonly".into(), t.dim));
            } else if b.dangerous && state.actions_disabled.is_some() {
                pieces.push(("  disabled: no audit log".into(), t.dim));
            } else if b.dangerous {
                pieces.push(("  changes the cluster".into(), t.bad));
            }
            pieces
        })
        .collect();
    // A box as wide as the widest line (100 columns at least), the whole body when that does
    // not fit: there a line too long goes on under its description.
    let widest = texts
        .iter()
        .map(|pieces| 2 + key_width + pieces.iter().map(|(s, _)| s.chars().count()).sum::<usize>())
        .chain(bindings.iter().map(|b| heading_of(b).chars().count()))
        .max()
        .unwrap_or(0);
    let want = u16::try_from(widest + 2).unwrap_or(u16::MAX).max(100);
    let popup = if area.width < want + 4 {
        area
    } else {
        centered(area, want, area.height.saturating_sub(2))
    };
    let text_width = usize::from(popup.width.saturating_sub(2))
        .saturating_sub(2 + key_width)
        .max(10);
    let mut lines = Vec::new();
    let mut group = "";
    for (b, pieces) in bindings.iter().zip(texts) {
        if b.group != group {
            if !lines.is_empty() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::from(Span::styled(heading_of(b), t.title)));
            group = &b.group;
        }
        for (i, row) in wrap_pieces(pieces, text_width).into_iter().enumerate() {
            let keys = if i == 0 {
                b.keys_label()
            } else {
                String::new()
            };
            let mut spans = vec![Span::styled(format!("  {keys:<key_width$}"), t.footer_key)];
            spans.extend(row);
            lines.push(Line::from(spans));
        }
    }
    let where_ = match &state.screen().id {
        ScreenId::View(v) => v.title().to_string(),
        ScreenId::Details(s) => format!("{} details", s.parent().title()),
    };
    frame.render_widget(Clear, popup);
    let scroll = u16::try_from(scroll.min(lines.len().saturating_sub(1))).unwrap_or(0);
    frame.render_widget(
        Paragraph::new(lines)
            .style(t.base)
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.border)
                    .title(Span::styled(format!(" Help: {where_} "), t.title)),
            ),
        popup,
    );
}

/// Styled pieces of text in lines of at most `width` characters, broken between words (a
/// word longer than a line gets one of its own); the pieces keep their styles.
pub(super) fn wrap_pieces(
    pieces: Vec<(String, ratatui::style::Style)>,
    width: usize,
) -> Vec<Vec<Span<'static>>> {
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut len = 0;
    for (text, style) in pieces {
        for (n, word) in text.split(' ').enumerate() {
            let words = word.chars().count();
            // The space before a word, unless it starts its piece or a line.
            let gap = usize::from(n > 0 && len > 0);
            if len > 0 && len + gap + words > width {
                rows.push(Vec::new());
                len = 0;
            }
            if len == 0 && word.is_empty() {
                continue;
            }
            let gap = usize::from(n > 0 && len > 0);
            let shown = format!("{}{word}", " ".repeat(gap));
            len += gap + words;
            if let Some(row) = rows.last_mut() {
                row.push(Span::styled(shown, style));
            }
        }
    }
    rows
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// The whole screen is a message when the terminal is below the minimum size.
pub fn too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let text = format!(
        "terminal too small (need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{})",
        area.width, area.height
    );
    let lines = u16::try_from(text.chars().count().div_ceil(usize::from(area.width)))
        .unwrap_or(u16::MAX)
        .min(area.height);
    let y = area.y + (area.height - lines) / 2;
    frame.render_widget(
        Paragraph::new(Span::styled(text, theme.status))
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect {
            y,
            height: area.height - (y - area.y),
            ..area
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_writes_them_and_a_time_ahead_is_0s() {
        let now: Timestamp = "2026-12-06T10:00:00Z".parse().expect("time");
        let ago = |secs: i64| age(now, now - jiff::SignedDuration::from_secs(secs));
        assert_eq!(ago(12), "12s");
        assert_eq!(ago(184), "3m4s");
        assert_eq!(ago(2 * 3600 + 5 * 60), "2h5m");
        assert_eq!(ago(3 * 86_400 + 4 * 3600), "3d4h");
        // The clock behind the cluster's: "last event 0s ago", not "just now ago".
        assert_eq!(ago(-5), "0s");
    }
}
