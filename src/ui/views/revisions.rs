//! Revisions: every control-plane revision, its istiod, the namespaces and pods on it: the
//! progress of a canary upgrade, with its proxies' sync states.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::facts::RevisionSource;
use crate::model::intern::Name;
use crate::model::{Model, RevisionRow, SyncTotals};

use super::super::table::{CellText, Column, SortKey, TableSource, Tone};
use super::proxies::{totals_parts, totals_tone};
use super::{Subject, list};

const COLUMNS: [Column; 10] = [
    Column::new("REVISION", Length(10), 0),
    Column::new("DEFAULT", Length(7), 0),
    Column::new("ISTIOD", Length(6), 0),
    Column::new("VERSION", Length(12), 0),
    Column::new("STATUS", Length(11), 0),
    Column::new("PODS", Length(5), 0),
    Column::new("PROXIES", Fill(3), 0),
    Column::new("NAMESPACES", Fill(2), 100),
    Column::new("TAGS", Fill(1), 100),
    Column::new("INSTALLED BY", Fill(2), 120),
];

pub struct RevisionsTable {
    rows: Vec<RevisionRow>,
    /// Proxy totals by revision; `None` until istiod has been heard from.
    proxies: Option<BTreeMap<Name, SyncTotals>>,
}

impl RevisionsTable {
    pub fn new(model: &Model) -> Self {
        let summary = model.proxy_summary();
        RevisionsTable {
            rows: model.revisions(),
            proxies: (!summary.waiting).then_some(summary.per_revision),
        }
    }

    fn proxies(&self, rev: &Name) -> Option<&SyncTotals> {
        self.proxies.as_ref()?.get(rev)
    }
}

/// `SYNCED 10 · STALE 1`, or why there is nothing to count.
pub fn proxies_cell(totals: Option<&SyncTotals>, waiting: bool) -> CellText {
    match totals {
        _ if waiting => ("waiting for istiod".into(), Tone::Dim),
        Some(t) if !t.is_empty() => (
            totals_parts(t)
                .into_iter()
                .map(|(s, _)| s)
                .collect::<Vec<_>>()
                .join(" · "),
            totals_tone(t),
        ),
        _ => ("-".into(), Tone::Dim),
    }
}

pub fn istiod_tone(ready: u32, desired: u32) -> Tone {
    if desired == 0 {
        Tone::Dim
    } else if ready >= desired {
        Tone::Good
    } else if ready == 0 {
        Tone::Bad
    } else {
        Tone::Warn
    }
}

pub fn iop_status_tone(status: &str) -> Tone {
    match status {
        "HEALTHY" => Tone::Good,
        "ERROR" | "ACTION_REQUIRED" => Tone::Bad,
        _ => Tone::Warn,
    }
}

fn source_name(s: RevisionSource) -> &'static str {
    match s {
        RevisionSource::IstioOperator => "iop",
        RevisionSource::Istiod => "istiod",
        RevisionSource::Webhook => "webhook",
        RevisionSource::Tag => "tag",
        RevisionSource::Legacy => "legacy components",
    }
}

impl TableSource for RevisionsTable {
    fn columns(&self) -> &[Column] {
        &COLUMNS
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cells(&self, i: usize) -> Vec<CellText> {
        let r = &self.rows[i];
        let status = r.iop_status.as_deref().unwrap_or("-");
        vec![
            (r.revision.to_string(), Tone::Plain),
            if r.default {
                ("yes".into(), Tone::Good)
            } else {
                ("-".into(), Tone::Dim)
            },
            (
                format!("{}/{}", r.istiod_ready, r.istiod_desired),
                istiod_tone(r.istiod_ready, r.istiod_desired),
            ),
            (r.version.as_deref().unwrap_or("-").to_string(), Tone::Plain),
            (
                status.to_string(),
                if r.iop_status.is_some() {
                    iop_status_tone(status)
                } else {
                    Tone::Dim
                },
            ),
            (r.pods.to_string(), Tone::Plain),
            if r.is_legacy() {
                // meshtop asks istiod, not the legacy pilot, for its proxies' sync.
                ("not asked".into(), Tone::Dim)
            } else {
                proxies_cell(self.proxies(&r.revision), self.proxies.is_none())
            },
            (list(&r.namespaces), Tone::Plain),
            (list(&r.tags), Tone::Plain),
            (
                r.installed_by.clone().unwrap_or_else(|| {
                    let found: Vec<&str> = r.sources.iter().map(|s| source_name(*s)).collect();
                    format!("- (found by {})", found.join(","))
                }),
                if r.installed_by.is_some() {
                    Tone::Plain
                } else {
                    Tone::Dim
                },
            ),
        ]
    }

    fn sort_key(&self, i: usize, column: usize) -> SortKey<'_> {
        let r = &self.rows[i];
        let text = |s: &str| SortKey::Text(Cow::Owned(s.to_string()));
        match column {
            0 => SortKey::Text(Cow::Borrowed(&r.revision)),
            1 => SortKey::Num(i64::from(!r.default)),
            2 => SortKey::Num(i64::from(r.istiod_ready) - i64::from(r.istiod_desired)),
            3 => text(r.version.as_deref().unwrap_or("")),
            4 => text(r.iop_status.as_deref().unwrap_or("")),
            5 => SortKey::Num(i64::from(r.pods)),
            6 => SortKey::Num(
                self.proxies(&r.revision)
                    .map_or(0, |t| i64::from(t.proxies())),
            ),
            7 => SortKey::Num(r.namespaces.len() as i64),
            8 => SortKey::Text(Cow::Owned(list(&r.tags))),
            _ => text(r.installed_by.as_deref().unwrap_or("")),
        }
    }

    fn filter_text(&self, i: usize, out: &mut String) {
        let r = &self.rows[i];
        out.push_str(&r.revision);
        for s in [&r.version, &r.iop_status].into_iter().flatten() {
            out.push(' ');
            out.push_str(s);
        }
        for s in r.tags.iter().chain(&r.namespaces) {
            out.push(' ');
            out.push_str(s);
        }
        for s in [&r.iop, &r.installed_by].into_iter().flatten() {
            out.push(' ');
            out.push_str(s);
        }
    }

    fn subject(&self, i: usize) -> Option<Subject> {
        Some(Subject::Revision(self.rows[i].revision.clone()))
    }

    fn empty_message(&self) -> &'static str {
        "no control-plane revision found (no IstioOperator, istiod or injector webhook)"
    }
}
