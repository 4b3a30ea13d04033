//! Pod tables: the pod list of every details screen, with a note per pod saying why it
//! matters there.

use std::borrow::Cow;

use ratatui::layout::Constraint::{self, Fill, Length};

use crate::model::PodSummary;
use crate::ops::inspect::{ObjectKind, ObjectRef};

use super::super::table::{CellText, Column, SortKey, TableSource, Tone};

/// The columns a pod table can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodColumn {
    Namespace,
    Name,
    Ready,
    Status,
    Restarts,
    Node,
    Revision,
    Version,
    Note,
}

impl PodColumn {
    fn header(self) -> &'static str {
        match self {
            PodColumn::Namespace => "NAMESPACE",
            PodColumn::Name => "NAME",
            PodColumn::Ready => "READY",
            PodColumn::Status => "STATUS",
            PodColumn::Restarts => "RESTARTS",
            PodColumn::Node => "NODE",
            PodColumn::Revision => "REVISION",
            PodColumn::Version => "VERSION",
            PodColumn::Note => "NOTE",
        }
    }
}

/// A pod and what the screen says about it.
pub struct PodLine {
    pub pod: PodSummary,
    pub note: Option<(String, Tone)>,
}

pub struct PodsTable {
    rows: Vec<PodLine>,
    ids: Vec<PodColumn>,
    columns: Vec<Column>,
    empty: &'static str,
}

/// What a details screen's pod table leaves out (it is the same for every row).
#[derive(Debug, Clone, Copy, Default)]
pub struct Omit {
    pub namespace: bool,
    pub node: bool,
    /// No notes: the namespace then shows at every width, in the note's room.
    pub note: bool,
}

impl PodsTable {
    /// The pods of a details screen, each with its note.
    pub fn details(rows: Vec<PodLine>, omit: Omit, empty: &'static str) -> Self {
        let spec: [(PodColumn, Constraint, u16); 9] = [
            (PodColumn::Namespace, Length(20), 120),
            (PodColumn::Name, Fill(1), 0),
            (PodColumn::Ready, Length(5), 0),
            (PodColumn::Status, Length(16), 100),
            (PodColumn::Restarts, Length(8), 140),
            (PodColumn::Node, Length(11), 0),
            (PodColumn::Revision, Length(8), 100),
            (PodColumn::Version, Length(12), 140),
            (PodColumn::Note, Fill(1), 0),
        ];
        let spec: Vec<_> = spec
            .into_iter()
            .filter(|(c, _, _)| match c {
                PodColumn::Namespace => !omit.namespace,
                PodColumn::Node => !omit.node,
                PodColumn::Note => !omit.note,
                _ => true,
            })
            .map(|(c, w, min)| match c {
                PodColumn::Namespace if omit.note => (c, w, 0),
                _ => (c, w, min),
            })
            .collect();
        Self::build(rows, &spec, empty)
    }

    fn build(
        rows: Vec<PodLine>,
        spec: &[(PodColumn, Constraint, u16)],
        empty: &'static str,
    ) -> Self {
        PodsTable {
            rows,
            ids: spec.iter().map(|(c, _, _)| *c).collect(),
            columns: spec
                .iter()
                .map(|(c, w, min)| Column::new(c.header(), *w, *min))
                .collect(),
            empty,
        }
    }
}

/// `1.9.1`: the proxy's version, or istiod's for istiod pods.
pub fn version(p: &PodSummary) -> Option<&str> {
    p.proxy_version.as_deref().or(p.istiod_version.as_deref())
}

fn cell(p: &PodLine, c: PodColumn) -> CellText {
    let pod = &p.pod;
    match c {
        PodColumn::Namespace => (pod.namespace.to_string(), Tone::Plain),
        PodColumn::Name => (pod.name.to_string(), Tone::Plain),
        PodColumn::Ready => (
            format!("{}/{}", pod.containers_ready, pod.containers),
            if pod.ready { Tone::Good } else { Tone::Bad },
        ),
        PodColumn::Status => (
            pod.status.to_string(),
            if pod.ready || &*pod.status == "Completed" {
                Tone::Plain
            } else {
                Tone::Bad
            },
        ),
        PodColumn::Restarts => (
            pod.restarts.to_string(),
            if pod.restarts > 0 {
                Tone::Warn
            } else {
                Tone::Plain
            },
        ),
        PodColumn::Node => match &pod.node {
            Some(n) => (n.to_string(), Tone::Plain),
            None => ("<none>".into(), Tone::Dim),
        },
        PodColumn::Revision => match &pod.injected_revision {
            Some(r) => (r.to_string(), Tone::Plain),
            None => ("-".into(), Tone::Dim),
        },
        PodColumn::Version => match version(pod) {
            Some(v) => (v.to_string(), Tone::Plain),
            None => ("-".into(), Tone::Dim),
        },
        PodColumn::Note => p.note.clone().unwrap_or_else(|| ("-".into(), Tone::Dim)),
    }
}

impl PodsTable {
    /// Its pods, in the model's order.
    pub fn pods(&self) -> impl Iterator<Item = &PodSummary> + '_ {
        self.rows.iter().map(|r| &r.pod)
    }
}

impl TableSource for PodsTable {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cells(&self, i: usize) -> Vec<CellText> {
        let row = &self.rows[i];
        self.ids.iter().map(|c| cell(row, *c)).collect()
    }

    fn pod(&self, i: usize) -> Option<ObjectRef> {
        let pod = &self.rows.get(i)?.pod;
        Some(ObjectRef::new(
            ObjectKind::Pod,
            Some(&pod.namespace),
            &pod.name,
        ))
    }

    fn sort_key(&self, i: usize, column: usize) -> SortKey<'_> {
        let row = &self.rows[i];
        let pod = &row.pod;
        let opt = |v: Option<&str>| SortKey::Text(Cow::Owned(v.unwrap_or("").to_string()));
        match self.ids.get(column) {
            Some(PodColumn::Namespace) => SortKey::Text(Cow::Borrowed(&pod.namespace)),
            Some(PodColumn::Name) | None => SortKey::Text(Cow::Borrowed(&pod.name)),
            Some(PodColumn::Ready) => SortKey::Num(i64::from(pod.ready)),
            Some(PodColumn::Status) => SortKey::Text(Cow::Borrowed(&pod.status)),
            Some(PodColumn::Restarts) => SortKey::Num(i64::from(pod.restarts)),
            Some(PodColumn::Node) => opt(pod.node.as_deref()),
            Some(PodColumn::Revision) => opt(pod.injected_revision.as_deref()),
            Some(PodColumn::Version) => opt(version(pod)),
            Some(PodColumn::Note) => opt(row.note.as_ref().map(|(n, _)| n.as_str())),
        }
    }

    fn filter_text(&self, i: usize, out: &mut String) {
        let row = &self.rows[i];
        let pod = &row.pod;
        out.push_str(&pod.namespace);
        out.push(' ');
        out.push_str(&pod.name);
        out.push(' ');
        out.push_str(&pod.status);
        for v in [
            pod.node.as_deref(),
            pod.injected_revision.as_deref(),
            version(pod),
        ]
        .into_iter()
        .flatten()
        {
            out.push(' ');
            out.push_str(v);
        }
        if let Some((n, _)) = &row.note {
            out.push(' ');
            out.push_str(n);
        }
    }

    fn empty_message(&self) -> &'static str {
        self.empty
    }
}
