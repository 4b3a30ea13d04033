//! Namespaces: injection labels, the revision they select, conflicts, and pods that need a
//! restart to move to the namespace's revision.

use std::borrow::Cow;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::facts::Dataplane;
use crate::model::{Model, NamespaceRow};
use crate::ops::outcome::count;

use super::super::table::{CellText, Column, Row, Rows, SortKey, Tone};
use super::Subject;

const COLUMNS: [Column; 10] = [
    Column::new("NAME", Fill(2), 0),
    Column::new("ISTIO-INJECTION", Length(15), 0),
    Column::new("ISTIO.IO/REV", Length(12), 0),
    Column::new("REVISION", Length(8), 0),
    Column::new("MODE", Length(15), 100),
    Column::new("PODS", Length(4), 0),
    Column::new("INJECTED", Length(8), 100),
    Column::new("RESTART", Length(7), 0),
    Column::new("WAYPOINT", Fill(1), 110),
    Column::new("NOTES", Fill(3), 130),
];

/// The view's table: the rows in focus.
pub fn table(model: &Model) -> Rows<NamespaceRow> {
    Rows::new(
        model
            .namespaces()
            .into_iter()
            .filter(|r| model.in_focus(&r.name))
            .collect(),
        model.unseen(crate::model::Kind::Namespace),
    )
}

pub fn notes(r: &NamespaceRow) -> String {
    let mut out = Vec::new();
    if r.conflict {
        out.push("both labels set: istio-injection wins (IST0123)".to_string());
    }
    if let (Some(tag), Some(rev)) = (&r.tag, &r.revision) {
        out.push(format!("tag {tag} → {rev}"));
    }
    if r.dataplane == Dataplane::Both {
        out.push("ambient and sidecar labels: sidecars win".to_string());
    }
    let moving =
        r.pods_to_restart.len() as u32 - r.without_proxy.min(r.pods_to_restart.len() as u32);
    if moving > 0 {
        out.push(format!(
            "{} {}: restart them",
            count(moving as usize, "pod"),
            if r.revision.is_some() {
                "on another revision"
            } else {
                "with a sidecar in ambient mode"
            }
        ));
    }
    if r.without_proxy > 0 {
        out.push(format!(
            "{} without a proxy: restart to inject",
            count(r.without_proxy as usize, "pod")
        ));
    }
    out.join("; ")
}

impl Row for NamespaceRow {
    const COLUMNS: &'static [Column] = &COLUMNS;
    const EMPTY: &'static str = "no namespaces";

    fn cells(&self) -> Vec<CellText> {
        let r = self;
        let label = |v: &Option<crate::model::intern::Name>| match v {
            Some(v) => (
                v.to_string(),
                if r.conflict { Tone::Bad } else { Tone::Plain },
            ),
            None => ("-".into(), Tone::Dim),
        };
        let restart = r.pods_to_restart.len();
        vec![
            (r.name.to_string(), Tone::Plain),
            label(&r.injection),
            label(&r.rev_label),
            match &r.revision {
                Some(rev) => (rev.to_string(), Tone::Plain),
                None => ("-".into(), Tone::Dim),
            },
            match r.dataplane {
                Dataplane::None => ("-".into(), Tone::Dim),
                Dataplane::Both => (r.dataplane.word().into(), Tone::Warn),
                d => (d.word().into(), Tone::Plain),
            },
            (r.pods.to_string(), Tone::Plain),
            (r.injected_pods.to_string(), Tone::Plain),
            if restart == 0 {
                ("-".into(), Tone::Dim)
            } else {
                (restart.to_string(), Tone::Warn)
            },
            label(&r.waypoint),
            (notes(r), Tone::Warn),
        ]
    }

    fn sort_key(&self, column: usize) -> SortKey<'_> {
        let r = self;
        let opt = |v: &Option<crate::model::intern::Name>| {
            SortKey::Text(Cow::Owned(v.as_deref().unwrap_or("").to_string()))
        };
        match column {
            0 => SortKey::Text(Cow::Borrowed(&r.name)),
            1 => opt(&r.injection),
            2 => opt(&r.rev_label),
            3 => opt(&r.revision),
            4 => SortKey::Text(Cow::Borrowed(r.dataplane.word())),
            5 => SortKey::Num(i64::from(r.pods)),
            6 => SortKey::Num(i64::from(r.injected_pods)),
            7 => SortKey::Num(r.pods_to_restart.len() as i64),
            8 => opt(&r.waypoint),
            _ => SortKey::Num(i64::from(r.conflict)),
        }
    }

    fn filter_text(&self, out: &mut String) {
        let r = self;
        out.push_str(&r.name);
        out.push(' ');
        out.push_str(r.dataplane.word());
        for v in [&r.injection, &r.rev_label, &r.revision, &r.tag, &r.waypoint]
            .into_iter()
            .flatten()
        {
            out.push(' ');
            out.push_str(v);
        }
    }

    fn subject(&self) -> Option<Subject> {
        Some(Subject::Namespace(self.name.clone()))
    }
}
