//! Overview: the control plane (revisions, gateways), proxies, blocked drains, and the
//! findings an expert would check by hand, on one screen. The panels read counts the model
//! keeps and build only the lines that can show.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Constraint::{self, Fill, Length};
use ratatui::layout::{Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::model::{Finding, Model, Severity};

use super::super::state::Screen;
use super::super::table::{self, CellText, Column, SortKey, TableSource, Tone};
use super::super::theme::Theme;
use super::revisions::{iop_status_tone, istiod_tone};
use super::{Subject, heading, proxies, short_name};

/// From this age on, the Overview says how old istiod's oldest answer is: at the default
/// 5 s interval answers are never this old, at 100,000 proxies they are polled about every
/// 40 s.
const OLD_ANSWER_SECS: i64 = 15;

const COLUMNS: [Column; 3] = [
    Column::new("SEVERITY", Length(8), 0),
    Column::new("CHECK", Length(24), 100),
    Column::new("FINDING", Fill(1), 0),
];

/// The findings, most severe first.
pub struct FindingsTable {
    rows: Vec<Finding>,
    /// Some source has not listed yet (or no source has reported): "no findings" would be
    /// a claim the model cannot make.
    syncing: bool,
}

impl FindingsTable {
    pub fn new(model: &Model) -> Self {
        let mut rows = model.findings();
        rows.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let sources = model.sources();
        let syncing = sources.is_empty()
            || sources
                .values()
                .any(|s| matches!(s, crate::model::SourceState::Syncing));
        FindingsTable { rows, syncing }
    }

    pub fn finding(&self, i: usize) -> Option<&Finding> {
        self.rows.get(i)
    }
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    }
}

impl TableSource for FindingsTable {
    fn columns(&self) -> &[Column] {
        &COLUMNS
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cells(&self, i: usize) -> Vec<CellText> {
        let f = &self.rows[i];
        let tone = match f.severity {
            Severity::Error => Tone::Error,
            Severity::Warning => Tone::Warning,
            Severity::Info => Tone::Info,
        };
        vec![
            (severity_name(f.severity).into(), tone),
            (f.code.into(), Tone::Dim),
            (f.message.clone(), Tone::Plain),
        ]
    }

    fn sort_key(&self, i: usize, column: usize) -> SortKey<'_> {
        let f = &self.rows[i];
        match column {
            0 => SortKey::Num(-(f.severity as i64)),
            1 => SortKey::Text(Cow::Borrowed(f.code)),
            _ => SortKey::Text(Cow::Borrowed(&f.message)),
        }
    }

    fn filter_text(&self, i: usize, out: &mut String) {
        let f = &self.rows[i];
        out.push_str(severity_name(f.severity));
        out.push(' ');
        out.push_str(f.code);
        out.push(' ');
        out.push_str(&f.message);
    }

    fn subject(&self, i: usize) -> Option<Subject> {
        self.rows[i].object.as_ref().map(Subject::of)
    }

    fn empty_message(&self) -> &'static str {
        if self.syncing {
            "no findings yet: the cluster is still being read"
        } else {
            "no findings"
        }
    }
}

fn control_plane<'a>(model: &Model, theme: &Theme) -> Vec<Line<'a>> {
    let t = theme;
    let mut lines = vec![heading("REVISIONS", t)];
    let revisions = model.revisions();
    if revisions.is_empty() {
        lines.push(Line::from(Span::styled("  none found yet", t.dim)));
    }
    for r in &revisions {
        let legacy = r.is_legacy();
        let mut spans = vec![
            Span::styled(format!("  {} ", r.revision), t.base),
            Span::styled(if legacy { "components " } else { "istiod " }, t.dim),
            Span::styled(
                format!("{}/{} ", r.istiod_ready, r.istiod_desired),
                istiod_tone(r.istiod_ready, r.istiod_desired).style(t),
            ),
            Span::styled(format!("{} ", r.version.as_deref().unwrap_or("-")), t.base),
        ];
        if let Some(s) = &r.iop_status {
            spans.push(Span::styled(format!("{s} "), iop_status_tone(s).style(t)));
        }
        if r.default {
            spans.push(Span::styled("default ", t.good));
        }
        spans.push(Span::styled(
            format!(
                "{} ns, {}",
                r.namespaces.len(),
                crate::ops::outcome::count(usize::try_from(r.pods).unwrap_or(usize::MAX), "pod")
            ),
            t.dim,
        ));
        lines.push(Line::from(spans));
    }
    lines.push(heading("GATEWAYS", t));
    let gateways = model.gateways();
    if gateways.is_empty() {
        lines.push(Line::from(Span::styled("  none found yet", t.dim)));
    }
    for g in &gateways {
        let healthy =
            g.ready >= g.desired && g.desired > 0 && super::gateways::problems(g).is_empty();
        let (mark, style) = if healthy {
            ("✓", t.good)
        } else {
            ("✗", t.bad)
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {mark} "), style),
            Span::styled(
                format!("{}/{} ", g.ready, g.desired),
                istiod_tone(g.ready, g.desired).style(t),
            ),
            Span::styled(format!("{} ", g.name), t.base),
            Span::styled(g.namespace.to_string(), t.dim),
        ]));
    }
    lines
}

/// The right panel's lines. `room` bounds what is built: the panel is never taller or wider
/// than `room`, and a list that would not fit is cut past it (the panel's height is the
/// same whether it counts those lines or not: more than it can show either way).
fn proxies_and_drains<'a>(
    model: &Model,
    theme: &Theme,
    room: Rect,
    now: Timestamp,
) -> Vec<Line<'a>> {
    let t = theme;
    let summary = model.proxy_summary();
    let proxied = model.proxied_counts();
    let not_ready = proxied.not_ready;
    let mut head = vec![Span::styled("PROXIES ", t.title)];
    let mut lines = Vec::new();
    if summary.waiting {
        head.push(Span::styled(format!("{} ", proxied.pods), t.base));
        if not_ready > 0 {
            head.push(Span::styled(format!("{not_ready} not ready "), t.warn));
        }
        lines.push(Line::from(head));
        lines.push(Line::from(Span::styled(
            "  waiting for istiod sync status",
            t.dim,
        )));
        // Until istiod reports, the versions are the images' (the Pods list's VERSION).
        let mut versions: BTreeMap<&str, u32> = BTreeMap::new();
        for (v, n) in &proxied.versions {
            *versions.entry(v.as_deref().unwrap_or("?")).or_default() += n;
        }
        lines.extend(versions_line(
            versions.into_iter().map(|(v, n)| (v.to_string(), n)),
            t,
        ));
    } else {
        head.push(Span::styled(
            format!("{} ", summary.totals.proxies()),
            t.base,
        ));
        for (text, tone) in proxies::totals_parts(&summary.totals) {
            head.push(Span::styled(text, tone.style(t)));
            head.push(Span::raw(" "));
        }
        if not_ready > 0 {
            head.push(Span::styled(
                format!(
                    "({} not ready)",
                    crate::ops::outcome::count(
                        usize::try_from(not_ready).unwrap_or(usize::MAX),
                        "pod"
                    )
                ),
                t.warn,
            ));
        }
        lines.push(Line::from(head));
        lines.extend(versions_line(
            summary
                .versions
                .iter()
                .map(|(v, n)| (proxies::short_version(v).into_owned(), *n)),
            t,
        ));
        let answering = summary.replicas.iter().filter(|r| r.state == "ok").count();
        let mut istiod = vec![
            Span::styled("  istiod ", t.dim),
            Span::styled(
                format!("{answering}/{} answering", summary.replicas.len()),
                if answering == summary.replicas.len() {
                    t.good
                } else {
                    t.bad
                },
            ),
        ];
        // A large mesh's answers are asked for less often (tens of megabytes each): say how
        // old the sync states shown may be once that is more than a few polls' worth.
        let oldest = summary
            .replicas
            .iter()
            .filter(|r| r.state == "ok")
            .filter_map(|r| r.answered_at)
            .min();
        if let Some(at) = oldest
            && now.duration_since(at).as_secs() >= OLD_ANSWER_SECS
        {
            istiod.push(Span::styled(
                format!(", as of {} ago", crate::ui::chrome::age(now, at)),
                t.dim,
            ));
        }
        lines.push(Line::from(istiod));
        for r in summary.replicas.iter().filter(|r| r.state != "ok") {
            lines.push(Line::from(vec![
                Span::styled("  ✗ ", t.bad),
                Span::styled(format!("{} ", r.istiod), t.base),
                Span::styled(
                    format!("{}: {}", r.state, r.message.as_deref().unwrap_or("")),
                    t.sync_unknown,
                ),
            ]));
        }
    }
    let blocked = model.blocked_drains();
    let blocked_count = blocked.len();
    let unknown = model.drain_unknown();
    lines.push(Line::from(vec![
        Span::styled("DRAINS ", t.title),
        match &unknown {
            // A count from part of the cluster would read as an answer: say why there is none.
            Some(why) => Span::styled(format!("unknown: {why}"), t.warn),
            None => {
                let by_budget = blocked.by_budget();
                // In a mesh every injected pod has emptyDir volumes: most drains wait only
                // for consent, and those a budget blocks would be lost among them.
                let of_them = if by_budget > 0 && by_budget < blocked_count {
                    format!(" ({by_budget} by budgets)")
                } else {
                    String::new()
                };
                Span::styled(
                    format!(
                        "{blocked_count} of {} nodes blocked{of_them}",
                        model.node_count()
                    ),
                    if blocked_count == 0 { t.good } else { t.bad },
                )
            }
        },
    ]));

    let shown = if unknown.is_some() {
        0
    } else {
        usize::from(room.height).saturating_sub(lines.len())
    };
    for (name, drain) in blocked.budgets_first().take(shown) {
        let why = if drain.pdbs.is_empty() {
            // Pods a drain refuses without consent: which kind, as the Nodes view says.
            let summary = drain.summary();
            summary
                .strip_prefix("blocked by ")
                .unwrap_or(&summary)
                .to_string()
        } else {
            drain
                .pdbs
                .iter()
                .map(|p| short_name(p))
                .collect::<Vec<_>>()
                .join(",")
        };
        lines.push(Line::from(vec![
            Span::styled("  ✗ ", t.bad),
            Span::styled(format!("{name} "), t.base),
            Span::styled(why, t.dim),
        ]));
    }
    // Names up to the panel's width: the line is cut there anyway.
    let mut cordoned = String::new();
    for name in model.cordoned_nodes() {
        if cordoned.chars().count() > usize::from(room.width) {
            break;
        }
        if !cordoned.is_empty() {
            cordoned.push(',');
        }
        cordoned.push_str(name);
    }
    if !cordoned.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("  cordoned ", t.dim),
            Span::styled(cordoned, t.warn),
        ]));
    }
    let skewed = model.skewed_kubelets();
    if skewed > 0 {
        lines.push(Line::from(vec![
            Span::styled("  kubelet skew ", t.dim),
            Span::styled(format!("{skewed} nodes behind the newest"), t.warn),
        ]));
    }
    lines
}

/// `versions 1.9.1 ×11`, warned when there is more than one.
fn versions_line<'a>(versions: impl Iterator<Item = (String, u32)>, t: &Theme) -> Option<Line<'a>> {
    let by_version: Vec<String> = versions.map(|(v, n)| format!("{v} ×{n}")).collect();
    if by_version.is_empty() {
        return None;
    }
    let style = if by_version.len() > 1 { t.warn } else { t.base };
    Some(Line::from(vec![
        Span::styled("  versions ", t.dim),
        Span::styled(by_version.join(", "), style),
    ]))
}

fn panel<'a>(title: &'a str, lines: Vec<Line<'a>>, area: Rect, theme: &Theme) -> Paragraph<'a> {
    let width = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line<'a>> = lines
        .into_iter()
        .map(|l| table::fit_line(l, width))
        .collect();
    Paragraph::new(lines).style(theme.base).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border)
            .title(Span::styled(title, theme.title)),
    )
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    screen: &Screen,
    model: &Model,
    theme: &Theme,
    now: Timestamp,
) -> usize {
    let left = control_plane(model, theme);
    let right = proxies_and_drains(model, theme, area, now);
    let wanted = u16::try_from(left.len().max(right.len()) + 2).unwrap_or(u16::MAX);
    // The findings keep at least 6 rows: a header and a few findings.
    let top_height = wanted.min(area.height.saturating_sub(6)).max(3);
    let [top, bottom] = Layout::vertical([Constraint::Length(top_height), Fill(1)]).areas(area);
    let [l, r] = Layout::horizontal([Fill(1), Fill(1)]).areas(top);
    frame.render_widget(panel(" Control plane ", left, l, theme), l);
    frame.render_widget(panel(" Proxies and drains ", right, r, theme), r);

    let source = FindingsTable::new(model);
    let rows = table::arrange(&source, screen);
    let title = table::title("Findings", &source, rows.len(), screen, theme);
    table::render(frame, bottom, &source, &rows, screen, title, theme)
}
