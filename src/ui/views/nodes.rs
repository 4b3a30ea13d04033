//! Nodes: roles, kubelet version and its skew, cordoned, and the drain pre-flight (in
//! numbers: a node's details name the pods).

use std::borrow::Cow;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::facts::ZtunnelCell;
use crate::model::{DrainCounts, DrainPreflight, Model, NodeLine, NodeLines, NodeRow};

use super::super::table::{CellText, Column, SortKey, TableSource, Tone};
use super::{Subject, list};

const COLUMNS: [Column; 9] = [
    Column::new("NAME", Fill(2), 0),
    Column::new("STATUS", Length(14), 0),
    Column::new("ROLES", Length(12), 100),
    Column::new("VERSION", Length(8), 0),
    Column::new("SKEW", Length(4), 0),
    Column::new("PODS", Length(4), 0),
    Column::new("ZTUNNEL", Length(10), 100),
    Column::new("DRAIN", Fill(3), 0),
    Column::new("LABELS", Fill(3), 150),
];

pub struct NodesTable<'m> {
    lines: NodeLines<'m>,
    unseen: Option<String>,
    columns: Vec<Column>,
    generation: u64,
}

impl<'m> NodesTable<'m> {
    pub fn new(model: &'m Model) -> Self {
        NodesTable {
            lines: model.node_lines(),
            unseen: model.unseen(crate::model::Kind::Node),
            generation: model.generation(),
            // ZTUNNEL only where the mesh runs ambient.
            columns: COLUMNS
                .iter()
                .map(|c| match c.header {
                    "ZTUNNEL" if !model.has_ztunnels() => c.hidden(),
                    _ => *c,
                })
                .collect(),
        }
    }
}

/// `Ready`, `Ready,cordoned`, `NotReady`: kubectl's column with the word SREs use.
pub fn status(r: &NodeRow) -> (String, Tone) {
    node_status(r.ready, r.cordoned)
}

fn node_status(ready: bool, cordoned: bool) -> (String, Tone) {
    let mut s = String::from(if ready { "Ready" } else { "NotReady" });
    if cordoned {
        s.push_str(",cordoned");
    }
    let tone = if !ready {
        Tone::Bad
    } else if cordoned {
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
        DrainPreflight::Unknown { .. } => Tone::Warn,
    };
    (p.summary(), tone)
}

/// The same, from the pre-flight in numbers.
fn drain_counts(c: &DrainCounts) -> (String, Tone) {
    let tone = if c.blocked() { Tone::Bad } else { Tone::Good };
    (c.summary(), tone)
}

/// The node's ztunnel: its version, toned by readiness; `-` where none runs.
pub fn ztunnel(cells: &[ZtunnelCell]) -> (String, Tone) {
    if cells.is_empty() {
        return ("-".into(), Tone::Dim);
    }
    let text = cells
        .iter()
        .map(|z| {
            let v = z.version.as_deref().unwrap_or("unknown");
            if z.ready {
                v.to_string()
            } else {
                format!("{v} (not ready)")
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let tone = if cells.iter().all(|z| z.ready) {
        Tone::Good
    } else {
        Tone::Bad
    };
    (text, tone)
}

pub fn skew(minor: u32) -> (String, Tone) {
    if minor == 0 {
        ("-".into(), Tone::Dim)
    } else {
        (format!("-{minor}"), Tone::Warn)
    }
}

impl TableSource for NodesTable<'_> {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation)
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn cells(&self, i: usize) -> Vec<CellText> {
        let Some(r) = self.lines.get(i) else {
            return Vec::new();
        };
        vec![
            (r.name.to_string(), Tone::Plain),
            node_status(r.ready, r.cordoned),
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
            ztunnel(&r.ztunnels),
            match self.lines.drain_unknown() {
                Some(why) => (format!("unknown: {why}"), Tone::Warn),
                None => drain_counts(&r.preflight),
            },
            (r.labels.join(","), Tone::Dim),
        ]
    }

    fn sort_key(&self, i: usize, column: usize) -> SortKey<'_> {
        let Some(n) = self.lines.node(i) else {
            return SortKey::Num(0);
        };
        match column {
            0 => SortKey::Text(Cow::Borrowed(&n.name)),
            1 => SortKey::Num(i64::from(n.ready) * 2 + i64::from(!n.unschedulable)),
            2 => SortKey::Text(Cow::Owned(list(&n.roles))),
            3 => SortKey::Text(Cow::Borrowed(&n.kubelet_version)),
            _ => {
                let Some(r) = self.lines.get(i) else {
                    return SortKey::Num(0);
                };
                line_sort_key(&r, column)
            }
        }
    }

    fn filter_text(&self, i: usize, out: &mut String) {
        let Some(r) = self.lines.get(i) else {
            return;
        };
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
        for z in &r.ztunnels {
            out.push_str(" ztunnel ");
            out.push_str(z.version.as_deref().unwrap_or_default());
        }
        for s in &r.labels {
            out.push(' ');
            out.push_str(s);
        }
    }

    fn subject(&self, i: usize) -> Option<Subject> {
        Some(Subject::Node(self.lines.node(i)?.name.clone()))
    }

    fn unseen(&self) -> Option<&str> {
        self.unseen.as_deref()
    }

    fn empty_message(&self) -> &'static str {
        "no nodes"
    }
}

/// Sort keys of the columns a line is built for.
fn line_sort_key(r: &NodeLine, column: usize) -> SortKey<'static> {
    match column {
        4 => SortKey::Num(i64::from(r.minor_skew)),
        5 => SortKey::Num(i64::from(r.pods)),
        6 => SortKey::Text(Cow::Owned(ztunnel(&r.ztunnels).0)),
        7 => SortKey::Num(i64::from(!r.preflight.blocked())),
        _ => SortKey::Text(Cow::Owned(r.labels.join(","))),
    }
}
