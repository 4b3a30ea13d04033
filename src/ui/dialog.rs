//! Drawing an action's dialog (what will change, the server dry run, the confirmation) and
//! the panel of running actions. Pure, like every view: the model is read live, so the
//! preview follows the cluster while the dialog is open.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::model::Model;

use super::Header;
use super::action::{Dialog, Fold, Stage, Task, TaskProgress};
use super::install::{Facts, FieldId, InstallForm};
use super::keymap::{Action, Keymap};
use super::theme::Theme;
use crate::ops::Request;
use crate::ops::install::InstallKind;
use crate::ops::plan::{Plan, list_some, plan};

/// The dialog, centred over `area`: its text (the form, or what will change and the server
/// dry run's answer) scrolls; its keys, prompt and error stay in view below it.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    dialog: &Dialog,
    model: &Model,
    header: &Header,
    keymap: &Keymap,
    theme: &Theme,
) {
    let t = theme;
    let width = area.width.saturating_sub(4).clamp(20, 110).min(area.width);
    let inner_width = width.saturating_sub(2).max(1);
    // The cursor: a line of the text (`in_text`) or of the footer, and a column.
    let mut cursor_line = None;
    let mut in_text = false;
    let mut text = match dialog.stage {
        Stage::Form => match &dialog.install {
            Some(form) => {
                let fix = keymap
                    .form_keys(Action::FormFix)
                    .unwrap_or_else(|| "?".into());
                let (lines, cursor) = form_lines(form, usize::from(inner_width), t, &fix);
                cursor_line = cursor;
                in_text = cursor.is_some();
                lines
            }
            None => Vec::new(),
        },
        Stage::Input(_) => Vec::new(),
        Stage::Preview | Stage::Confirm => plan_lines(&plan(&dialog.request, model), t),
    };
    if let Some(task) = &dialog.dry_run {
        text.push(Line::raw(""));
        text.push(Line::from(Span::styled(
            "SERVER DRY RUN (dryRun=All)",
            t.title,
        )));
        text.extend(task_lines(task, model, keymap, t, None, usize::MAX));
    }
    let mut footer = Vec::new();
    let options = dialog.options();
    if !options.is_empty() && !matches!(dialog.stage, Stage::Input(_)) {
        let mut spans = vec![Span::styled("options ", t.dim)];
        for (option, on) in options {
            let key = keymap
                .dialog_key(Action::Toggle(option))
                .unwrap_or("?")
                .to_string();
            spans.push(Span::styled(if on { "[x] " } else { "[ ] " }, t.base));
            spans.push(Span::styled(format!("{key} "), t.footer_key));
            spans.push(Span::styled(
                format!("{}  ", dialog.option_label(option)),
                t.base,
            ));
        }
        footer.push(Line::raw(""));
        footer.push(Line::from(spans));
    }
    footer.push(Line::raw(""));
    let key = |a: Action| keymap.dialog_key(a).unwrap_or("?").to_string();
    let typed = dialog.input.chars().count();
    match dialog.stage {
        Stage::Form => {
            let form_key = |a: Action| keymap.form_keys(a).unwrap_or_else(|| "?".into());
            let prompt_key = |a: Action| keymap.prompt_key(a).unwrap_or("?").to_string();
            footer.push(Line::from(vec![
                Span::styled(format!("{} ", form_key(Action::FieldNext)), t.footer_key),
                Span::styled("next field · ", t.footer_text),
                Span::styled(
                    format!("{} ", form_key(Action::FieldPrevious)),
                    t.footer_key,
                ),
                Span::styled("previous · ", t.footer_text),
                Span::styled(
                    format!(
                        "{}/{} ",
                        form_key(Action::ChoicePrevious),
                        form_key(Action::ChoiceNext)
                    ),
                    t.footer_key,
                ),
                Span::styled("change a choice · ", t.footer_text),
                Span::styled(
                    format!("{} ", prompt_key(Action::PromptAccept)),
                    t.footer_key,
                ),
                Span::styled("previews · ", t.footer_text),
                Span::styled(
                    format!("{} ", prompt_key(Action::PromptCancel)),
                    t.footer_key,
                ),
                Span::styled("cancels: nothing is sent", t.footer_text),
            ]));
        }
        Stage::Input(kind) => {
            cursor_line = Some((footer.len(), kind.prompt().chars().count() + typed));
            footer.push(Line::from(vec![
                Span::styled(kind.prompt(), t.prompt),
                Span::styled(dialog.input.clone(), t.base),
            ]));
            footer.push(Line::from(Span::styled(
                "enter previews · esc cancels: nothing is sent",
                t.dim,
            )));
        }
        Stage::Preview if matches!(dialog.request, Request::Install(_)) => {
            let edited = matches!(&dialog.request, Request::Install(r)
                if r.planned.as_ref().is_some_and(|p| p.edited));
            footer.push(Line::from(vec![
                Span::styled(format!("{} ", key(Action::Proceed)), t.footer_key),
                Span::styled("continue to confirm · ", t.footer_text),
                Span::styled(format!("{} ", key(Action::DryRun)), t.footer_key),
                Span::styled("server dry run · ", t.footer_text),
                Span::styled(format!("{} ", key(Action::Edit)), t.footer_key),
                Span::styled(
                    format!(
                        "edit {} in $EDITOR · ",
                        match &dialog.request {
                            Request::Install(r) => r
                                .planned
                                .as_ref()
                                .map_or("the IstioOperator", |p| p.plan.document_words()),
                            _ => "the IstioOperator",
                        }
                    ),
                    t.footer_text,
                ),
                Span::styled(format!("{} ", key(Action::Back)), t.footer_key),
                Span::styled(
                    if edited {
                        "back to the form (drops the $EDITOR changes): nothing is sent"
                    } else {
                        "back to the form: nothing is sent"
                    },
                    t.footer_text,
                ),
            ]));
        }
        Stage::Preview => {
            footer.push(Line::from(vec![
                Span::styled(format!("{} ", key(Action::Proceed)), t.footer_key),
                Span::styled("continue to confirm · ", t.footer_text),
                Span::styled(format!("{} ", key(Action::DryRun)), t.footer_key),
                Span::styled("server dry run · ", t.footer_text),
                Span::styled(format!("{} ", key(Action::Back)), t.footer_key),
                Span::styled("cancel: nothing is sent", t.footer_text),
            ]));
        }
        Stage::Confirm => match dialog.confirm_name() {
            Some(name) => {
                let ask = format!(
                    "type {name} to {} in context {}: ",
                    dialog.request.title(),
                    header.context
                );
                cursor_line = Some((footer.len(), ask.chars().count() + typed));
                footer.push(Line::from(vec![
                    Span::styled(ask, t.warn),
                    Span::styled(dialog.input.clone(), t.base),
                ]));
                footer.push(Line::from(Span::styled(
                    "enter runs it · esc cancels: nothing is sent",
                    t.dim,
                )));
            }
            None => {
                footer.push(Line::from(vec![
                    Span::styled(
                        format!("{} in context {}? ", dialog.request.title(), header.context),
                        t.warn,
                    ),
                    Span::styled(format!("{} ", key(Action::Proceed)), t.footer_key),
                    Span::styled("runs it · ", t.footer_text),
                    Span::styled(format!("{} ", key(Action::DryRun)), t.footer_key),
                    Span::styled("dry run · ", t.footer_text),
                    Span::styled(format!("{} ", key(Action::Back)), t.footer_key),
                    Span::styled("cancels", t.footer_text),
                ]));
            }
        },
    }
    if let Some(e) = &dialog.error {
        footer.push(Line::from(Span::styled(e.clone(), t.bad)));
    }

    let wrapped = |lines: &[Line<'_>]| {
        Paragraph::new(lines.to_vec())
            .wrap(Wrap { trim: false })
            .line_count(inner_width)
    };
    // The cursor's line, counted in wrapped lines of its part.
    let cursor_row = cursor_line.map(|(line, col)| {
        let part = if in_text { &text } else { &footer };
        (wrapped(&part[..line.min(part.len())]), col)
    });
    let text_rows = wrapped(&text);
    let footer_rows = wrapped(&footer);
    let height = u16::try_from(text_rows + footer_rows)
        .unwrap_or(u16::MAX)
        .saturating_add(2)
        .min(area.height)
        .max(3);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    let title = format!(" {} · context {} ", dialog.request.title(), header.context);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(title, t.title));
    let inner = block.inner(popup);
    // The footer keeps its rows (its end when even those do not fit); the text has the rest.
    let footer_height = u16::try_from(footer_rows)
        .unwrap_or(u16::MAX)
        .min(inner.height);
    let text_height = inner.height - footer_height;
    let max_scroll = text_rows.saturating_sub(usize::from(text_height));
    dialog.scroll.max.set(max_scroll);
    dialog.scroll.page.set(usize::from(text_height));
    let scroll = match cursor_row {
        // A form scrolls to its focused field.
        Some((row, _)) if in_text => row.saturating_sub(usize::from(text_height.saturating_sub(1))),
        _ => dialog.scroll.shown(),
    }
    .min(max_scroll);
    if max_scroll > 0 {
        let shown_to = (scroll + usize::from(text_height)).min(text_rows);
        let scroll_keys = format!(
            "{}/{} {}/{}",
            keymap.dialog_key(Action::Down).unwrap_or("?"),
            keymap.dialog_key(Action::Up).unwrap_or("?"),
            keymap.dialog_key(Action::PageDown).unwrap_or("?"),
            keymap.dialog_key(Action::PageUp).unwrap_or("?"),
        );
        let where_ = if dialog.stage == Stage::Form {
            format!(" lines {}-{shown_to} of {text_rows} ", scroll + 1)
        } else {
            format!(
                " lines {}-{shown_to} of {text_rows} · {scroll_keys} scroll ",
                scroll + 1
            )
        };
        block = block.title_bottom(Line::from(Span::styled(where_, t.dim)).right_aligned());
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let text_area = Rect {
        height: text_height,
        ..inner
    };
    let footer_area = Rect {
        y: inner.y + text_height,
        height: footer_height,
        ..inner
    };
    let scroll = u16::try_from(scroll).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(text)
            .style(t.base)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        text_area,
    );
    // When even the footer does not fit, keep its end (the prompt) in view.
    let footer_skip =
        u16::try_from(footer_rows.saturating_sub(usize::from(footer_height))).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(footer)
            .style(t.base)
            .wrap(Wrap { trim: false })
            .scroll((footer_skip, 0)),
        footer_area,
    );
    if let Some((row, col)) = cursor_row {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        let row = u16::try_from(row).unwrap_or(u16::MAX);
        let (top, skip, rows) = if in_text {
            (text_area.y, scroll, text_area.height)
        } else {
            (footer_area.y, footer_skip, footer_area.height)
        };
        if row >= skip && row - skip < rows {
            frame.set_cursor_position((
                inner.x + col.min(inner.width.saturating_sub(1)),
                top + row - skip,
            ));
        }
    }
}

/// Width of a form's labels, and where its values start (after the focus mark).
const FORM_LABEL: usize = 17;
const FORM_VALUE_COLUMN: usize = 2 + FORM_LABEL;

/// What a field wants: shown after the focused field.
fn field_hint(form: &InstallForm, id: FieldId) -> String {
    match id {
        FieldId::Revision => "a DNS-1123 label not in use, e.g. 1-10-0 or canary".into(),
        FieldId::Profile => "minimal is istiod alone; default and demo add gateways".into(),
        FieldId::Hub => "image registry, e.g. docker.io/istio; empty: the operator's".into(),
        FieldId::Tag => {
            "the Istio version (the chart's on Helm), e.g. 1.30.1; empty: the installer's".into()
        }
        FieldId::NodeSelector => "where istiod runs: KEY=VALUE,… e.g. taco-istio=enabled".into(),
        FieldId::HpaMin | FieldId::HpaMax if form.kind == InstallKind::Revision => {
            "istiod's autoscaler; empty: 1 and 5".into()
        }
        FieldId::HpaMin | FieldId::HpaMax => "the autoscaler; empty: 1 and 5".into(),
        FieldId::Replicas => "fixed replicas, no autoscaler; 2 keeps its node drainable".into(),
        FieldId::Namespace => {
            "created if missing; a copy of istio-<rev> unless Helm installs it".into()
        }
        FieldId::Name => "its Deployment and Service; follows the namespace until typed".into(),
        FieldId::GatewayRevision if form.revisions.is_empty() => "an installed revision".into(),
        FieldId::GatewayRevision => format!("installed: {}", form.revisions.join(", ")),
        FieldId::Kind => "ingress or egress".into(),
        FieldId::Labels => "KEY=VALUE,… selecting this gateway alone".into(),
        FieldId::ServiceType => "auto: Istio's default for the kind and ports".into(),
        FieldId::HttpNodePort | FieldId::HttpsNodePort => {
            "30000-32767, unused; empty: Kubernetes picks one".into()
        }
    }
}

/// Words of `text` in lines of at most `width` characters (a word longer than that gets a
/// line of its own).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    super::chrome::wrap_pieces(vec![(text.to_string(), Style::default())], width)
        .into_iter()
        .filter(|row| !row.is_empty())
        .map(|row| row.iter().map(|s| s.content.as_ref()).collect())
        .collect()
}

/// `text` cut to `width` characters, `…` marking the cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// An install form in `width` columns: what is known of the cluster, one line per field
/// (the focused one with its hint) and its problems under it, the budget warning with the key
/// `fix` that fixes it; and where the cursor goes
/// (the end of the focused text field).
fn form_lines<'a>(
    form: &InstallForm,
    width: usize,
    t: &Theme,
    fix: &str,
) -> (Vec<Line<'a>>, Option<(usize, usize)>) {
    let mut out = Vec::new();
    let (status, style) = match &form.facts {
        Facts::Reading(_) => (
            "reading the cluster (namespaces, revisions, gateways, node ports, IstioOperators, \
             operators)…"
                .to_string(),
            t.dim,
        ),
        Facts::Ready(_) => (
            match form.kind {
                InstallKind::Revision => {
                    "checked as you type: the form, then the revisions and IstioOperators in the \
                     cluster"
                }
                InstallKind::Gateway => {
                    "checked as you type: the form, then the cluster's revisions, gateways' \
                     labels and node ports"
                }
            }
            .to_string(),
            t.dim,
        ),
        Facts::Failed(e) => (
            format!("✗ reading the cluster failed: {e} (enter reads it again)"),
            t.bad,
        ),
    };
    out.extend(
        wrap_words(&status, width)
            .into_iter()
            .map(|l| Line::styled(l, style)),
    );
    out.push(Line::raw(""));
    let checked = form.check();
    let warning = form.budget_warning();
    let problem_width = width.saturating_sub(FORM_VALUE_COLUMN + 2).max(10);
    let mut cursor = None;
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let mut spans = vec![
            Span::styled(if focused { "› " } else { "  " }, t.title),
            Span::styled(
                format!("{:<FORM_LABEL$}", field.id.label()),
                if focused { t.title } else { t.dim },
            ),
        ];
        let value = if field.is_choice() {
            format!("‹ {} ›", field.value)
        } else {
            field.value.clone()
        };
        let value_len = value.chars().count();
        if focused && !field.is_choice() {
            cursor = Some((out.len(), FORM_VALUE_COLUMN + value_len));
        }
        spans.push(Span::styled(value, t.base));
        let mut after = Vec::new();
        if let Some(effective) = form.effective(field.id) {
            after.push(format!("({effective})"));
        }
        if focused {
            after.push(field_hint(form, field.id));
        }
        let room = width.saturating_sub(FORM_VALUE_COLUMN + value_len + 3);
        if !after.is_empty() && room > 8 {
            spans.push(Span::styled(
                format!("   {}", fit(&after.join("  "), room)),
                t.dim,
            ));
        }
        out.push(Line::from(spans));
        if form.shows_problems(field) {
            let mut seen: Vec<&str> = Vec::new();
            for p in checked.of(field.id) {
                if seen.contains(&p.message.as_str()) {
                    continue;
                }
                seen.push(&p.message);
                for (j, l) in wrap_words(&p.message, problem_width)
                    .into_iter()
                    .enumerate()
                {
                    let mark = if j == 0 { "✗ " } else { "  " };
                    out.push(Line::styled(
                        format!("{:FORM_VALUE_COLUMN$}{mark}{l}", ""),
                        t.bad,
                    ));
                }
            }
        }
        if let Some((_, text)) = warning.as_ref().filter(|(f, _)| *f == field.id) {
            let text = format!("{text} ({fix} fixes)");
            for (j, l) in wrap_words(&text, problem_width).into_iter().enumerate() {
                let mark = if j == 0 { "! " } else { "  " };
                out.push(Line::styled(
                    format!("{:FORM_VALUE_COLUMN$}{mark}{l}", ""),
                    t.warn,
                ));
            }
        }
    }
    for p in checked.unplaced() {
        for l in wrap_words(&format!("✗ {}", p.message), width) {
            out.push(Line::styled(l, t.bad));
        }
    }
    (out, cursor)
}

/// The plan's lines in the theme's colours.
fn plan_lines<'a>(plan: &Plan, t: &Theme) -> Vec<Line<'a>> {
    plan.lines
        .iter()
        .map(|l| {
            Line::from(
                l.spans
                    .iter()
                    .map(|(text, tone)| Span::styled(text.clone(), tone.style(t)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// Seconds until `at`, rounded up; zero once it passed.
fn seconds_until(at: Timestamp, now: Timestamp) -> i64 {
    let ms = at.as_millisecond() - now.as_millisecond();
    if ms <= 0 { 0 } else { (ms + 999) / 1000 }
}

fn bar(p: &TaskProgress, width: usize) -> String {
    let filled = (p.done * width).checked_div(p.total).unwrap_or(width);
    format!(
        "[{}{}]",
        "█".repeat(filled),
        "░".repeat(width - filled.min(width))
    )
}

/// A task's lines: its progress or outcome, the pods a PDB refuses (and why), its last
/// steps. `now`: for the retry countdown (none in a dialog's dry run).
fn task_lines<'a>(
    task: &Task,
    model: &Model,
    keymap: &Keymap,
    t: &Theme,
    now: Option<Timestamp>,
    max_steps: usize,
) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    let title = if task.dry_run {
        format!("{} (server dry run)", task.request.title())
    } else {
        task.request.title()
    };
    let mut head: Vec<Span> = Vec::new();
    match &task.result {
        None => head.push(Span::styled(format!("▶ {title}  "), t.title)),
        Some(Ok(_)) => head.push(Span::styled("✓ ", t.good)),
        Some(Err(_)) => head.push(Span::styled(format!("✗ {title}: "), t.bad)),
    }
    match &task.result {
        Some(Ok(summary)) => head.push(Span::styled(summary.clone(), t.base)),
        Some(Err(message)) => head.push(Span::styled(message.clone(), t.bad)),
        None => {
            if let Some(p) = &task.progress {
                head.push(Span::styled(bar(p, 20), t.good));
                let mut words = format!(" {}/{} {}", p.done, p.total, p.unit);
                if !p.blocked.is_empty() {
                    words.push_str(&format!(" · {} blocked", p.blocked.len()));
                }
                words.push_str(&format!(" · {} remaining", p.total.saturating_sub(p.done)));
                if let (Some(at), Some(now)) = (p.retry_at, now)
                    && !p.blocked.is_empty()
                {
                    words.push_str(&format!(" · retry in {}s", seconds_until(at, now)));
                }
                head.push(Span::styled(words, t.base));
            } else {
                head.push(Span::styled("starting…", t.dim));
            }
            if task.aborting {
                head.push(Span::styled(" · aborting…", t.warn));
            } else if matches!(task.request, Request::Drain { .. })
                && !task.dry_run
                && let Some(k) = keymap.key_of(Action::Abort)
            {
                head.push(Span::styled(format!(" · {k} "), t.footer_key));
                head.push(Span::styled("aborts", t.footer_text));
            }
        }
    }
    out.push(Line::from(head));
    if task.running()
        && let Some(p) = &task.progress
    {
        for b in &p.blocked {
            out.push(Line::styled(
                format!("  {}", blocked_reason(b, model)),
                t.warn,
            ));
        }
    }
    let skip = task.lines.len().saturating_sub(max_steps);
    for l in &task.lines[skip..] {
        out.push(Line::styled(format!("  {l}"), t.dim));
    }
    out
}

/// Why a pod cannot go: the PDB's numbers, what it selects and where those pods run.
fn blocked_reason(b: &super::action::Blocked, model: &Model) -> String {
    let Some(pdb) = &b.pdb else {
        return format!("{}: {}", b.pod, b.message);
    };
    let ns = b.pod.split_once('/').map_or("", |(ns, _)| ns);
    let row = model
        .disruption()
        .into_iter()
        .find(|r| r.namespace.as_ref() == ns && r.name.as_ref() == pdb.as_str());
    match row {
        Some(r) => {
            let nodes: Vec<String> = r
                .pods
                .iter()
                .map(|p| {
                    format!(
                        "{}@{}{}",
                        p.name,
                        p.node.as_deref().unwrap_or("unscheduled"),
                        if p.ready { "" } else { " (not ready)" }
                    )
                })
                .collect();
            if r.allowed_disruptions > 0 {
                // Relaxed (or healthier) since it refused: say so rather than a refusal
                // that no longer holds.
                return format!(
                    "{} was refused by PDB {pdb}, which allows {} now: the next \
                     retry should evict it",
                    b.pod,
                    crate::ops::outcome::count(
                        usize::try_from(r.allowed_disruptions).unwrap_or(0),
                        "disruption"
                    )
                );
            }
            format!(
                "{} refused by PDB {pdb}: allowed disruptions {} (healthy {} of {} needed); it \
                 selects {}",
                b.pod,
                r.allowed_disruptions,
                r.current_healthy,
                r.desired_healthy,
                list_some(&nodes, 4)
            )
        }
        None => format!("{} refused by PDB {pdb}: {}", b.pod, b.message),
    }
}

/// Lines the task panel needs for these tasks.
/// The rows the actions panel needs for `lines` at `width`: wrapped, so a long refusal or
/// outcome is read whole.
pub fn tasks_height(lines: &[Line<'_>], width: u16) -> u16 {
    let rows = Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width.max(1));
    u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .saturating_add(1)
        .min(12)
}

/// The actions panel's lines: the folded finished tasks as one line, then each other
/// task's head, its refusals and its newest step.
pub fn panel_lines<'a>(
    tasks: &[Task],
    fold: Fold,
    model: &Model,
    keymap: &Keymap,
    theme: &Theme,
    now: Timestamp,
) -> Vec<Line<'a>> {
    for task in tasks.iter().filter(|t| !t.running()) {
        if task.shown_finished.get().is_none() {
            task.shown_finished.set(Some(now));
        }
    }
    let (folded, open): (Vec<&Task>, Vec<&Task>) =
        tasks.iter().partition(|t| t.folded(fold, Some(now)));
    let mut lines = Vec::new();
    if !folded.is_empty() {
        lines.push(folded_line(&folded, keymap, theme));
    }
    for task in open {
        let steps = if task.running() { 1 } else { 0 };
        lines.extend(task_lines(task, model, keymap, theme, Some(now), steps));
    }
    lines
}

/// Finished tasks in one line: how many ended well, how many failed, the latest failure.
fn folded_line<'a>(folded: &[&Task], keymap: &Keymap, t: &Theme) -> Line<'a> {
    let failed: Vec<&&Task> = folded
        .iter()
        .filter(|task| matches!(task.result, Some(Err(_))))
        .collect();
    let done = folded.len() - failed.len();
    let mut spans = Vec::new();
    if done > 0 {
        spans.push(Span::styled(format!("✓ {done} done  "), t.good));
    }
    if let Some(last) = failed.last() {
        spans.push(Span::styled(
            format!(
                "✗ {} failed (last: {})  ",
                failed.len(),
                last.request.title()
            ),
            t.bad,
        ));
    }
    if let Some(k) = keymap.key_of(Action::FoldTasks) {
        spans.push(Span::styled(format!("{k} "), t.footer_key));
        spans.push(Span::styled("shows them", t.footer_text));
    }
    Line::from(spans)
}

/// The running actions and the latest outcomes, newest last, above the footer.
pub fn render_tasks(frame: &mut Frame, area: Rect, lines: Vec<Line<'_>>, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Span::styled(" actions ", theme.title));
    // Wrapped, keeping the newest rows when they do not fit.
    let paragraph = Paragraph::new(lines)
        .style(Style::default().patch(theme.base))
        .wrap(Wrap { trim: false });
    let inner = usize::from(area.height.saturating_sub(1));
    let rows = paragraph.line_count(area.width.max(1));
    let skip = u16::try_from(rows.saturating_sub(inner)).unwrap_or(u16::MAX);
    frame.render_widget(Clear, area);
    frame.render_widget(paragraph.block(block).scroll((skip, 0)), area);
}
