//! Drawing an action's dialog (what will change, the server dry run, the confirmation) and
//! the panel of running actions. Pure, like every view: the model is read live, so the
//! preview follows the cluster while the dialog is open.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::model::summary::{PodPhase, WorkloadKind};
use crate::model::{Model, PodSummary};

use super::Header;
use super::action::{ActionRequest, Dialog, Stage, Task, TaskProgress};
use super::install::{Facts, FieldId, InstallForm, InstallKind};
use super::keymap::{Action, Keymap};
use super::theme::Theme;
use super::views::disruption::budget;

/// Pods listed by name in a preview before the rest are counted.
const LISTED_PODS: usize = 12;

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
                let (lines, cursor) = form_lines(form, usize::from(inner_width), t);
                cursor_line = cursor;
                in_text = cursor.is_some();
                lines
            }
            None => Vec::new(),
        },
        Stage::Input(_) => Vec::new(),
        Stage::Preview | Stage::Confirm => preview(&dialog.request, model, t),
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
    if !options.is_empty() && dialog.stage != Stage::Input(super::action::InputKind::Revision) {
        let mut spans = vec![Span::styled("options ", t.dim)];
        for (option, on) in options {
            let key = keymap
                .dialog_key(Action::Toggle(option))
                .unwrap_or("?")
                .to_string();
            spans.push(Span::styled(if on { "[x] " } else { "[ ] " }, t.base));
            spans.push(Span::styled(format!("{key} "), t.footer_key));
            spans.push(Span::styled(format!("{}  ", option.label()), t.base));
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
        Stage::Preview if matches!(dialog.request, ActionRequest::Install(_)) => {
            let edited = matches!(&dialog.request, ActionRequest::Install(r)
                if r.planned.as_ref().is_some_and(|p| p.edited));
            footer.push(Line::from(vec![
                Span::styled(format!("{} ", key(Action::Proceed)), t.footer_key),
                Span::styled("continue to confirm · ", t.footer_text),
                Span::styled(format!("{} ", key(Action::DryRun)), t.footer_key),
                Span::styled("server dry run · ", t.footer_text),
                Span::styled(format!("{} ", key(Action::Edit)), t.footer_key),
                Span::styled("edit the IstioOperator in $EDITOR · ", t.footer_text),
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
        FieldId::Tag => "the Istio version, e.g. 1.10.0; empty: the operator's".into(),
        FieldId::NodeSelector => "where istiod runs: KEY=VALUE,… e.g. taco-istio=enabled".into(),
        FieldId::HpaMin | FieldId::HpaMax => "istiod's autoscaler; empty: 1 and 5".into(),
        FieldId::Namespace => "created if missing; gets a copy of configmap istio-<rev>".into(),
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
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
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
/// (the focused one with its hint) and its problems under it; and where the cursor goes
/// (the end of the focused text field).
fn form_lines<'a>(
    form: &InstallForm,
    width: usize,
    t: &Theme,
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
    }
    for p in checked.unplaced() {
        for l in wrap_words(&format!("✗ {}", p.message), width) {
            out.push(Line::styled(l, t.bad));
        }
    }
    (out, cursor)
}

fn finished(p: &PodSummary) -> bool {
    matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed)
}

fn pod_name(p: &PodSummary) -> String {
    format!("{}/{}", p.namespace, p.name)
}

/// What the action will change, from the model as it is now.
pub fn preview<'a>(request: &ActionRequest, model: &Model, t: &Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    match request {
        ActionRequest::Install(r) => {
            let Some(planned) = &r.planned else {
                return out;
            };
            for line in planned.plan.preview() {
                let style = if line.starts_with("note: ") {
                    t.warn
                } else if line.starts_with("operator: ") {
                    t.dim
                } else {
                    t.base
                };
                out.push(Line::styled(line, style));
            }
            if planned.edited {
                out.push(Line::styled(
                    "the IstioOperator is as edited in $EDITOR (checked again against the cluster)",
                    t.good,
                ));
            }
            // The resource itself, exactly as it will be applied or saved.
            let iop = planned.plan.iop();
            out.push(Line::raw(""));
            out.push(Line::styled(
                format!(
                    "ISTIOOPERATOR {}/{}",
                    iop.pointer("/metadata/namespace")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or(""),
                    iop.pointer("/metadata/name")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                ),
                t.title,
            ));
            for line in planned.plan.iop_yaml().lines() {
                out.push(Line::styled(format!("  {line}"), t.base));
            }
        }
        ActionRequest::Drain {
            node,
            delete_emptydir_data,
            force,
        } => {
            let Some(n) = model.node(node) else {
                out.push(Line::styled(
                    format!("node/{node} is not in the cluster"),
                    t.bad,
                ));
                return out;
            };
            out.push(Line::from(if n.unschedulable {
                format!("node/{node} is already cordoned; evict its pods (policy/v1 Eviction):")
            } else {
                format!("cordon node/{node}, then evict its pods (policy/v1 Eviction):")
            }));
            let evict = model.pods_to_evict(node);
            let blocking: Vec<_> = model
                .disruption()
                .into_iter()
                .filter(|p| p.blocks_nodes.iter().any(|b| b.as_ref() == node.as_str()))
                .collect();
            let blocked_pod = |p: &PodSummary| {
                blocking
                    .iter()
                    .find(|b| b.namespace == p.namespace && b.pods.iter().any(|s| s.name == p.name))
            };
            for p in evict.iter().take(LISTED_PODS) {
                let mut spans = vec![Span::raw(format!("  {}", pod_name(p)))];
                if let Some(b) = blocked_pod(p) {
                    spans.push(Span::styled(
                        format!("  refused now by PDB {}", b.name),
                        t.warn,
                    ));
                }
                if p.has_empty_dir && !finished(p) {
                    spans.push(Span::styled("  emptyDir", t.dim));
                }
                if p.owner.is_none() && !finished(p) {
                    spans.push(Span::styled("  no controller", t.dim));
                }
                out.push(Line::from(spans));
            }
            if evict.len() > LISTED_PODS {
                out.push(Line::styled(
                    format!("  … and {} more", evict.len() - LISTED_PODS),
                    t.dim,
                ));
            }
            if evict.is_empty() {
                out.push(Line::styled("  no pod to evict", t.dim));
            }
            let skipped: Vec<String> = model
                .pods_on_node(node)
                .into_iter()
                .filter(|p| {
                    !evict
                        .iter()
                        .any(|e| e.namespace == p.namespace && e.name == p.name)
                })
                .map(pod_name)
                .collect();
            if !skipped.is_empty() {
                out.push(Line::styled(
                    format!(
                        "stay (DaemonSet and mirror pods): {}",
                        list_some(&skipped, LISTED_PODS)
                    ),
                    t.dim,
                ));
            }
            let empty_dir: Vec<String> = evict
                .iter()
                .filter(|p| p.has_empty_dir && !finished(p))
                .map(|p| pod_name(p))
                .collect();
            if !empty_dir.is_empty() && !delete_emptydir_data {
                out.push(Line::styled(
                    format!(
                        "refused unless you allow deleting emptyDir data: {}",
                        list_some(&empty_dir, LISTED_PODS)
                    ),
                    t.bad,
                ));
            }
            let unmanaged: Vec<String> = evict
                .iter()
                .filter(|p| p.owner.is_none() && !finished(p))
                .map(|p| pod_name(p))
                .collect();
            if !unmanaged.is_empty() && !force {
                out.push(Line::styled(
                    format!(
                        "refused unless forced (no controller recreates them): {}",
                        list_some(&unmanaged, LISTED_PODS)
                    ),
                    t.bad,
                ));
            }
            for b in &blocking {
                let nodes: Vec<String> = b
                    .pods
                    .iter()
                    .filter_map(|p| p.node.as_ref().map(ToString::to_string))
                    .collect();
                out.push(Line::styled(
                    format!(
                        "blocked now: PDB {}/{} allows {} disruptions (min available {}, max unavailable {}); \
                         it selects {} pods, on {}. The drain retries every 5s until it allows one \
                         (relax it in the Disruption view).",
                        b.namespace,
                        b.name,
                        b.allowed_disruptions,
                        budget(&b.min_available),
                        budget(&b.max_unavailable),
                        b.pods.len(),
                        list_some(&dedup(nodes), 6)
                    ),
                    t.warn,
                ));
            }
        }
        ActionRequest::Cordon { node } | ActionRequest::Uncordon { node } => {
            let to = matches!(request, ActionRequest::Cordon { .. });
            match model.node(node) {
                Some(n) => {
                    out.push(Line::from(format!(
                        "node/{node}: spec.unschedulable {} → {to}",
                        n.unschedulable
                    )));
                    if n.unschedulable == to {
                        out.push(Line::styled("it already is: nothing changes", t.dim));
                    } else if to {
                        out.push(Line::styled(
                            "new pods are not scheduled there; running pods stay",
                            t.dim,
                        ));
                    }
                }
                None => out.push(Line::styled(
                    format!("node/{node} is not in the cluster"),
                    t.bad,
                )),
            }
        }
        ActionRequest::LabelNode { node, change } => {
            let current = model.node(node).map(|n| &n.labels);
            let (key, value) = match change.strip_suffix('-') {
                Some(k) => (k, None),
                None => match change.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (change.as_str(), Some("")),
                },
            };
            let old = current.and_then(|l| l.get(key)).map(|v| v.to_string());
            out.push(Line::from(format!(
                "node/{node}: label {key}: {} → {}",
                old.as_deref().unwrap_or("(none)"),
                value.unwrap_or("(removed)")
            )));
            if old.as_deref() == value {
                out.push(Line::styled("it already is: nothing changes", t.dim));
            }
        }
        ActionRequest::LabelNamespace {
            namespace,
            revision,
            restart,
        } => {
            let labels = model.namespace(namespace).map(|n| &n.labels);
            let get = |k: &str| labels.and_then(|l| l.get(k)).map(|v| v.to_string());
            out.push(Line::from(format!(
                "namespace/{namespace}: label istio.io/rev: {} → {revision}",
                get("istio.io/rev").as_deref().unwrap_or("(none)")
            )));
            if let Some(inj) = get("istio-injection") {
                out.push(Line::from(format!(
                    "namespace/{namespace}: label istio-injection: {inj} → (removed: it would win over istio.io/rev)"
                )));
            }
            if !model
                .revisions()
                .iter()
                .any(|r| r.revision.as_ref() == revision.as_str())
            {
                out.push(Line::styled(
                    format!(
                        "no revision {revision} runs in the cluster: new pods would not be injected"
                    ),
                    t.bad,
                ));
            }
            // What the restart touches: every workload of the namespace's pods (the
            // executor restarts each Deployment, StatefulSet and DaemonSet there).
            let mut workloads: Vec<(String, Vec<String>)> = Vec::new();
            for p in model.pods_in_namespace(namespace) {
                let Some(owner) = &p.owner else { continue };
                let workload = match owner.kind.as_ref() {
                    "ReplicaSet" => model
                        .workload(WorkloadKind::ReplicaSet, namespace, &owner.name)
                        .and_then(|rs| rs.owner.as_ref())
                        .filter(|d| d.kind.as_ref() == "Deployment")
                        .map(|d| format!("deployment.apps/{}", d.name)),
                    "StatefulSet" => Some(format!("statefulset.apps/{}", owner.name)),
                    "DaemonSet" => Some(format!("daemonset.apps/{}", owner.name)),
                    "Deployment" => Some(format!("deployment.apps/{}", owner.name)),
                    _ => None,
                };
                let Some(workload) = workload else { continue };
                let on = p
                    .injected_revision
                    .as_ref()
                    .map_or_else(|| "no proxy".to_string(), |r| format!("on {r}"));
                match workloads.iter_mut().find(|(w, _)| *w == workload) {
                    Some((_, revs)) => revs.push(on),
                    None => workloads.push((workload, vec![on])),
                }
            }
            workloads.sort();
            let describe = |revs: &[String]| {
                format!("{} pods: {}", revs.len(), dedup(revs.to_vec()).join(", "))
            };
            if *restart {
                if workloads.is_empty() {
                    out.push(Line::styled(
                        "rollout restart: no workload has pods here",
                        t.dim,
                    ));
                } else {
                    out.push(Line::from(
                        "then rollout restart (kubectl.kubernetes.io/restartedAt), waiting for each:",
                    ));
                    for (w, revs) in workloads.iter().take(LISTED_PODS) {
                        out.push(Line::from(format!("  {w}  ({})", describe(revs))));
                    }
                    if workloads.len() > LISTED_PODS {
                        out.push(Line::styled(
                            format!("  … and {} more", workloads.len() - LISTED_PODS),
                            t.dim,
                        ));
                    }
                }
            } else if !workloads.is_empty() {
                out.push(Line::styled(
                    format!(
                        "running pods keep their proxies until restarted: {} workloads (t adds the restart)",
                        workloads.len()
                    ),
                    t.dim,
                ));
            }
        }
        ActionRequest::PdbRelax { namespace, name }
        | ActionRequest::PdbRestore { namespace, name } => {
            let relax = matches!(request, ActionRequest::PdbRelax { .. });
            let row = model.disruption().into_iter().find(|p| {
                p.namespace.as_ref() == namespace.as_str() && p.name.as_ref() == name.as_str()
            });
            match (row, model.pdb(namespace, name)) {
                (Some(row), Some(pdb)) => {
                    out.push(Line::from(format!(
                        "poddisruptionbudget/{name} -n {namespace}: min available {}, max unavailable {}, allowed disruptions {}",
                        budget(&row.min_available),
                        budget(&row.max_unavailable),
                        row.allowed_disruptions
                    )));
                    if relax {
                        let to = if row.max_unavailable.is_some() {
                            "maxUnavailable 100%"
                        } else {
                            "minAvailable 0"
                        };
                        out.push(Line::from(format!(
                            "→ {to}: every pod it selects may be evicted; the current spec is kept in \
                             the annotation meshtop.dev/relaxed-from until U restores it"
                        )));
                        if !row.blocks_nodes.is_empty() {
                            out.push(Line::styled(
                                format!(
                                    "unblocks the drains of {}",
                                    list_some(
                                        &row.blocks_nodes
                                            .iter()
                                            .map(ToString::to_string)
                                            .collect::<Vec<_>>(),
                                        8
                                    )
                                ),
                                t.good,
                            ));
                        }
                    } else {
                        match &pdb.relaxed_from {
                            Some(saved) => {
                                out.push(Line::from(format!(
                                    "→ the saved spec {saved}; the annotation meshtop.dev/relaxed-from is removed"
                                )));
                                if let Some(line) = restore_blocks(saved, &row) {
                                    out.push(Line::styled(line, t.warn));
                                }
                            }
                            None => out.push(Line::styled(
                                "not relaxed by meshtop: there is no saved spec to restore",
                                t.bad,
                            )),
                        }
                    }
                }
                _ => out.push(Line::styled(
                    format!("poddisruptionbudget/{name} -n {namespace} is not in the cluster"),
                    t.bad,
                )),
            }
        }
    }
    out
}

/// What restoring `saved` (`{"minAvailable":1}`, `{"maxUnavailable":"25%"}`) would allow,
/// as the disruption controller counts it, and the drains it would block again: the nodes
/// its ready pods run on, when it would allow none.
fn restore_blocks(saved: &str, row: &crate::model::facts::PdbRow) -> Option<String> {
    let spec: serde_json::Value = serde_json::from_str(saved).ok()?;
    let expected = row.expected_pods.max(0);
    // An int, or a percentage of the expected pods rounded up, as the controller does.
    let count = |v: &serde_json::Value| -> Option<i32> {
        match v {
            serde_json::Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            serde_json::Value::String(s) => {
                let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
                i32::try_from((pct * i64::from(expected) + 99) / 100).ok()
            }
            _ => None,
        }
    };
    let desired = match (spec.get("minAvailable"), spec.get("maxUnavailable")) {
        (Some(m), _) => count(m)?,
        (None, Some(u)) => (expected - count(u)?).max(0),
        (None, None) => return None,
    };
    let allowed = (row.current_healthy - desired).max(0);
    if allowed > 0 {
        return Some(format!(
            "it will allow {allowed} disruption(s) ({} healthy, {desired} needed): it blocks no drain",
            row.current_healthy
        ));
    }
    let nodes = dedup(
        row.pods
            .iter()
            .filter(|p| p.ready)
            .filter_map(|p| p.node.as_ref().map(ToString::to_string))
            .collect(),
    );
    Some(if nodes.is_empty() {
        format!(
            "it will allow no disruption ({} healthy, {desired} needed)",
            row.current_healthy
        )
    } else {
        format!(
            "it will allow no disruption ({} healthy, {desired} needed): it blocks the drains of \
             {} again",
            row.current_healthy,
            list_some(&nodes, 8)
        )
    })
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// `a, b, c and 4 more`.
fn list_some(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "-".into();
    }
    let shown = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        format!("{shown} and {} more", items.len() - max)
    } else {
        shown
    }
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
            } else if matches!(task.request, ActionRequest::Drain { .. })
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
                    "{} was refused by PDB {pdb}, which allows {} disruption(s) now: the next \
                     retry should evict it",
                    b.pod, r.allowed_disruptions
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

/// The actions panel's lines: each task's head, its refusals and its newest step.
pub fn panel_lines<'a>(
    tasks: &[Task],
    model: &Model,
    keymap: &Keymap,
    theme: &Theme,
    now: Timestamp,
) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for task in tasks {
        let steps = if task.running() { 1 } else { 0 };
        lines.extend(task_lines(task, model, keymap, theme, Some(now), steps));
    }
    lines
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::facts::{PdbRow, SelectedPod};
    use crate::model::summary::IntOrPercent;

    fn row(healthy: i32, expected: i32, pods: &[(&str, &str, bool)]) -> PdbRow {
        PdbRow {
            namespace: "logging".into(),
            name: "es".into(),
            min_available: Some(IntOrPercent::Int(0)),
            max_unavailable: None,
            allowed_disruptions: healthy,
            current_healthy: healthy,
            desired_healthy: 0,
            expected_pods: expected,
            pods: pods
                .iter()
                .map(|(name, node, ready)| SelectedPod {
                    name: (*name).into(),
                    node: Some((*node).into()),
                    ready: *ready,
                })
                .collect(),
            blocks_nodes: Vec::new(),
            relaxed: true,
        }
    }

    #[test]
    fn a_restore_says_what_it_allows_and_which_drains_it_blocks_again() {
        let es = row(
            2,
            3,
            &[
                ("es-0", "n1", true),
                ("es-1", "n2", true),
                ("es-2", "n5", false),
            ],
        );
        // maxUnavailable 1 of 3 expected: 2 needed, 2 healthy, nothing allowed.
        assert_eq!(
            restore_blocks(r#"{"maxUnavailable":1}"#, &es).as_deref(),
            Some(
                "it will allow no disruption (2 healthy, 2 needed): it blocks the drains of n1, n2 again"
            )
        );
        // 50% of 3, rounded up: 2 needed.
        assert_eq!(
            restore_blocks(r#"{"minAvailable":"50%"}"#, &es).as_deref(),
            Some(
                "it will allow no disruption (2 healthy, 2 needed): it blocks the drains of n1, n2 again"
            )
        );
        assert_eq!(
            restore_blocks(r#"{"minAvailable":1}"#, &es).as_deref(),
            Some("it will allow 1 disruption(s) (2 healthy, 1 needed): it blocks no drain")
        );
        assert_eq!(restore_blocks("not json", &es), None);
        assert_eq!(restore_blocks("{}", &es), None);
    }
}
