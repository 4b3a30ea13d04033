//! Disruption: PodDisruptionBudgets, as `kubectl get pdb` shows them, and the nodes whose
//! drain each one blocks now.

use std::borrow::Cow;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::{Model, PdbRow};

use super::super::table::{CellText, Column, Row, Rows, SortKey, Tone};
use super::{Subject, list};

/// Narrow terminals get short headers (`.until(119)`), wide ones kubectl's.
const COLUMNS: [Column; 11] = [
    Column::new("NAMESPACE", Length(14), 0).cut_middle(),
    Column::new("NAME", Fill(3), 0).cut_middle(),
    Column::new("MIN AVAIL", Length(9), 0).until(119),
    Column::new("MAX UNAVAIL", Length(11), 0).until(119),
    Column::new("ALLOWED", Length(7), 0).until(119),
    Column::new("MIN AVAILABLE", Length(13), 120),
    Column::new("MAX UNAVAILABLE", Length(15), 120),
    Column::new("ALLOWED DISRUPTIONS", Length(19), 120),
    Column::new("HEALTHY", Length(7), 140),
    Column::new("PODS", Length(4), 140),
    Column::new("BLOCKS DRAIN OF", Fill(2), 0),
];

/// The view's table: the rows in focus.
pub fn table(model: &Model) -> Rows<PdbRow> {
    Rows::new(
        model
            .disruption()
            .into_iter()
            .filter(|r| model.in_focus(&r.namespace))
            .collect(),
        model.unseen(crate::model::Kind::Pdb),
    )
}

pub use crate::model::summary::budget;

pub fn allowed_tone(allowed: i32) -> Tone {
    if allowed <= 0 { Tone::Bad } else { Tone::Good }
}

impl Row for PdbRow {
    const COLUMNS: &'static [Column] = &COLUMNS;
    const EMPTY: &'static str = "no PodDisruptionBudgets";

    fn cells(&self) -> Vec<CellText> {
        let r = self;
        let allowed = (
            r.allowed_disruptions.to_string(),
            allowed_tone(r.allowed_disruptions),
        );
        let mut name = r.name.to_string();
        if r.relaxed {
            name.push_str(" (relaxed)");
        }
        let min_available = (budget(&r.min_available), Tone::Plain);
        let max_unavailable = (budget(&r.max_unavailable), Tone::Plain);
        vec![
            (r.namespace.to_string(), Tone::Plain),
            (name, Tone::Plain),
            min_available.clone(),
            max_unavailable.clone(),
            allowed.clone(),
            min_available,
            max_unavailable,
            allowed,
            (
                format!("{}/{}", r.current_healthy, r.desired_healthy),
                if r.current_healthy < r.desired_healthy {
                    Tone::Warn
                } else {
                    Tone::Plain
                },
            ),
            (r.expected_pods.to_string(), Tone::Plain),
            if r.blocks_unknown {
                // Pods or nodes still being listed (or unreadable): a budget that blocks
                // nothing seen so far may block a drain all the same.
                ("unknown".into(), Tone::Warn)
            } else if r.blocks_nodes.is_empty() {
                ("-".into(), Tone::Dim)
            } else {
                (list(&r.blocks_nodes), Tone::Bad)
            },
        ]
    }

    fn sort_key(&self, column: usize) -> SortKey<'_> {
        let r = self;
        match column {
            0 => SortKey::Text(Cow::Borrowed(&r.namespace)),
            1 => SortKey::Text(Cow::Borrowed(&r.name)),
            2 | 5 => SortKey::Text(Cow::Owned(budget(&r.min_available))),
            3 | 6 => SortKey::Text(Cow::Owned(budget(&r.max_unavailable))),
            4 | 7 => SortKey::Num(i64::from(r.allowed_disruptions)),
            8 => SortKey::Num(i64::from(r.current_healthy) - i64::from(r.desired_healthy)),
            9 => SortKey::Num(i64::from(r.expected_pods)),
            _ => SortKey::Num(-(r.blocks_nodes.len() as i64)),
        }
    }

    fn filter_text(&self, out: &mut String) {
        let r = self;
        out.push_str(&r.namespace);
        out.push(' ');
        out.push_str(&r.name);
        for n in r.blocks_nodes.iter() {
            out.push(' ');
            out.push_str(n);
        }
    }

    fn subject(&self) -> Option<Subject> {
        let r = self;
        Some(Subject::Pdb {
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        })
    }
}
