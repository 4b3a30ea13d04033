//! Nodes: roles, kubelet version and its skew, cordoned, and the drain pre-flight.

use std::borrow::Cow;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::{DrainPreflight, Model, NodeRow};

use super::super::table::{CellText, Column, SortKey, TableSource, Tone};
use super::{Subject, list};

const COLUMNS: [Column; 8] = [
    Column::new("NAME", Fill(2), 0),
    Column::new("STATUS", Length(14), 0),
    Column::new("ROLES", Length(12), 100),
    Column::new("VERSION", Length(8), 0),
    Column::new("SKEW", Length(4), 0),
    Column::new("PODS", Length(4), 0),
    Column::new("DRAIN", Fill(3), 0),
    Column::new("LABELS", Fill(3), 150),
];

pub struct NodesTable {
    rows: Vec<NodeRow>,
}

impl NodesTable {
    pub fn new(model: &Model) -> Self {
        NodesTable {
            rows: model.nodes(),
        }
    }
}

/// `Ready`, `Ready,cordoned`, `NotReady`: kubectl's column with the word SREs use.
pub fn status(r: &NodeRow) -> (String, Tone) {
    let mut s = String::from(if r.ready { "Ready" } else { "NotReady" });
    if r.cordoned {
        s.push_str(",cordoned");
    }
    let tone = if !r.ready {
        Tone::Bad
    } else if r.cordoned {
        Tone::Warn
    } else {
        Tone::Good
    };
    (s, tone)
}

/// The drain pre-flight in a few words, toned.
pub fn drain(p: &DrainPreflight) -> (String, Tone) {
    let tone = match p {
        DrainPreflight::Ok { .. } => Tone::Good,
        DrainPreflight::Blocked { .. } => Tone::Bad,
    };
    (p.summary(), tone)
}

pub fn skew(minor: u32) -> (String, Tone) {
    if minor == 0 {
        ("-".into(), Tone::Dim)
    } else {
        (format!("-{minor}"), Tone::Warn)
    }
}

impl TableSource for NodesTable {
    fn columns(&self) -> &[Column] {
        &COLUMNS
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cells(&self, i: usize) -> Vec<CellText> {
        let r = &self.rows[i];
        vec![
            (r.name.to_string(), Tone::Plain),
            status(r),
            (list(&r.roles), Tone::Plain),
            (
                r.kubelet_version.to_string(),
                if r.minor_skew > 0 {
                    Tone::Warn
                } else {
                    Tone::Plain
                },
            ),
            skew(r.minor_skew),
            (r.pods.to_string(), Tone::Plain),
            drain(&r.preflight),
            (r.labels.join(","), Tone::Dim),
        ]
    }

    fn sort_key(&self, i: usize, column: usize) -> SortKey<'_> {
        let r = &self.rows[i];
        match column {
            0 => SortKey::Text(Cow::Borrowed(&r.name)),
            1 => SortKey::Num(i64::from(r.ready) * 2 + i64::from(!r.cordoned)),
            2 => SortKey::Text(Cow::Owned(list(&r.roles))),
            3 => SortKey::Text(Cow::Borrowed(&r.kubelet_version)),
            4 => SortKey::Num(i64::from(r.minor_skew)),
            5 => SortKey::Num(i64::from(r.pods)),
            6 => SortKey::Num(i64::from(matches!(r.preflight, DrainPreflight::Ok { .. }))),
            _ => SortKey::Text(Cow::Owned(r.labels.join(","))),
        }
    }

    fn filter_text(&self, i: usize, out: &mut String) {
        let r = &self.rows[i];
        out.push_str(&r.name);
        out.push(' ');
        out.push_str(&r.kubelet_version);
        for s in &r.roles {
            out.push(' ');
            out.push_str(s);
        }
        if r.cordoned {
            out.push_str(" cordoned");
        }
        for s in &r.labels {
            out.push(' ');
            out.push_str(s);
        }
    }

    fn subject(&self, i: usize) -> Option<Subject> {
        Some(Subject::Node(self.rows[i].name.clone()))
    }

    fn empty_message(&self) -> &'static str {
        "no nodes"
    }
}
