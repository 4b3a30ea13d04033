//! Proxies: `istioctl proxy-status`, live and joined with the pods: each proxy's xDS states
//! in istioctl's words, the istiod it is connected to, its version against istiod's, the
//! revision that injected it and its node. `x` keeps the proxies out of sync; Enter shows
//! the raw nonces per type.
//!
//! The rows are the lines the model keeps (`ProxyLines`): a frame formats the lines on
//! screen only; the filter, a sort and `x` read every line, without formatting.

use std::borrow::Cow;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::intern::Name;
use crate::model::sync::{SyncState, XdsType};
use crate::model::{
    Model, ProxyConnection, ProxyLine, ProxyLines, ReplicaRow, RowChange, SyncTotals,
};

use super::super::table::{
    self, CellText, Column, Filter, SharedFieldTerms, SortKey, TableSource, TermSet, Tone,
};
use super::Subject;

/// What each column shows; the spec below says how wide and from which table width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyColumn {
    /// istioctl's NAME, `<pod>.<namespace>`, cut in the pod's middle when narrow.
    Name,
    Cluster,
    Type(XdsType),
    Istiod,
    /// The istiod pod's own suffix (`25z28`): replicas of one revision differ only there.
    IstiodShort,
    /// The version with its build hash cut to 7 characters.
    Version,
    /// The version without its build hash (`1.10-alpha`): narrow terminals.
    VersionShort,
    Revision,
    Node,
}

/// Narrow terminals drop NODE, ECDS, CLUSTER and then VERSION, and shorten ISTIOD; NAME,
/// which tells the rows apart, keeps the room and is cut in the pod's middle.
/// CLUSTER shows only when some istiod reports one (1.13+).
const SPEC: [(ProxyColumn, Column); 15] = [
    (
        ProxyColumn::Name,
        Column::new("NAME", Fill(3), 0).cut_middle(),
    ),
    (
        ProxyColumn::Cluster,
        Column::new("CLUSTER", Length(10), 150),
    ),
    (
        ProxyColumn::Type(XdsType::Cds),
        Column::new("CDS", Length(8), 0),
    ),
    (
        ProxyColumn::Type(XdsType::Lds),
        Column::new("LDS", Length(8), 0),
    ),
    (
        ProxyColumn::Type(XdsType::Eds),
        Column::new("EDS", Length(8), 0),
    ),
    (
        ProxyColumn::Type(XdsType::Rds),
        Column::new("RDS", Length(8), 0),
    ),
    (
        ProxyColumn::Type(XdsType::Ecds),
        Column::new("ECDS", Length(8), 110),
    ),
    (
        ProxyColumn::Type(XdsType::Wds),
        Column::new("WDS", Length(8), 120),
    ),
    (
        ProxyColumn::Type(XdsType::Wads),
        Column::new("WADS", Length(8), 120),
    ),
    (ProxyColumn::Istiod, Column::new("ISTIOD", Fill(2), 170)),
    (
        ProxyColumn::IstiodShort,
        Column::new("ISTIOD", Length(7), 0).until(169),
    ),
    (ProxyColumn::Version, Column::new("VERSION", Fill(1), 160)),
    (
        ProxyColumn::VersionShort,
        Column::new("VERSION", Length(10), 100).until(159),
    ),
    (
        ProxyColumn::Revision,
        Column::new("REVISION", Length(8), 100),
    ),
    (ProxyColumn::Node, Column::new("NODE", Length(11), 120)),
];

pub struct ProxiesTable<'m> {
    lines: ProxyLines<'m>,
    columns: Vec<Column>,
    /// Under `-n`, the positions of that namespace's lines; `None`: every line.
    focused: Option<Vec<usize>>,
    /// The istiod replicas that did not answer, for the title.
    replica_problems: Vec<String>,
    generation: u64,
    /// The model, for the lines' changes: only while every line is a row (no `-n`).
    moves: Option<&'m Model>,
    /// Why istiod has not been asked yet: the pods are still being listed.
    unseen: Option<&'static str>,
}

impl<'m> ProxiesTable<'m> {
    pub fn new(model: &'m Model) -> Self {
        let lines = model.proxy_lines();
        let clusters = lines.clusters();
        let ztunnels = model.has_ztunnels();
        let columns = SPEC
            .iter()
            .map(|(c, col)| match c {
                ProxyColumn::Cluster if !clusters => col.hidden(),
                // ztunnel's types: only where ztunnels run.
                ProxyColumn::Type(XdsType::Wds | XdsType::Wads) if !ztunnels => col.hidden(),
                _ => *col,
            })
            .collect();
        // istioctl's order interleaves namespaces: `-n` picks its lines out once a frame.
        let focused = model.focus().map(|ns| {
            lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.namespace == ns)
                .map(|(i, _)| i)
                .collect()
        });
        // The TUI asks istiod once the pods are listed.
        let unseen = (lines.waiting() && model.listing(crate::model::Kind::Pod))
            .then_some("pods: still being listed; istiod's sync status is asked for once they are");
        ProxiesTable {
            lines,
            columns,
            focused,
            replica_problems: replica_problems(&model.proxy_summary().replicas),
            generation: model.proxy_generation(),
            moves: model.focus().is_none().then_some(model),
            unseen,
        }
    }

    fn line(&self, i: usize) -> Option<ProxyLine<'_>> {
        match &self.focused {
            Some(at) => self.lines.get(*at.get(i)?),
            None => self.lines.get(i),
        }
    }

    /// The rows among `rows` (every row when `None`) whose line `keep` keeps, in order.
    /// Every row is read in one walk over the lines, not looked up one by one.
    fn rows_where(
        &self,
        rows: Option<Vec<usize>>,
        mut keep: impl FnMut(&ProxyLine<'_>) -> bool,
    ) -> Vec<usize> {
        match (rows, &self.focused) {
            (None, None) => self
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| keep(l))
                .map(|(i, _)| i)
                .collect(),
            (rows, _) => {
                let mut rows = rows.unwrap_or_else(|| (0..self.len()).collect());
                rows.retain(|&i| self.line(i).is_some_and(|l| keep(&l)));
                rows
            }
        }
    }
}

/// The terms of `filter` a line matches: the fields `filter_text` joins, each matched where
/// the model keeps it (its name, unique, every time; the shared ones once a scan).
fn line_terms(
    line: &ProxyLine<'_>,
    filter: &Filter,
    shared: &mut SharedFieldTerms<'_>,
    name: &mut String,
) -> TermSet {
    let all = filter.all_terms();
    // The name is made from the pod's (the model does not keep it), in a reused buffer.
    name.clear();
    line.name.write_to(name);
    let mut terms = filter.field_terms(name);
    let mut add = |field: &str| {
        if terms != all {
            terms |= shared.of(field);
        }
    };
    add(line.cluster);
    add(line.proxy_type);
    for t in XdsType::EVERY {
        if let Some(s) = line.state_of(t) {
            add(t.short());
            add(s.label());
        }
    }
    if line.connection != ProxyConnection::Connected {
        add(connection_label(line.connection));
    }
    for s in [line.istiod, line.version, line.injected_revision, line.node]
        .into_iter()
        .flatten()
    {
        add(s);
    }
    terms
}

/// A state in istioctl's words, toned by the theme.
pub fn state_cell(state: SyncState) -> CellText {
    (state.label().to_string(), Tone::Sync(state))
}

/// How sure meshtop is of a proxy's states, in a few words.
pub fn connection_label(c: ProxyConnection) -> &'static str {
    match c {
        ProxyConnection::Connected => "connected",
        ProxyConnection::LastKnown => "unknown: its istiod does not answer",
        ProxyConnection::Disconnected => "disconnected: no istiod reports it",
        ProxyConnection::Unknown => "unknown: an istiod has not answered yet",
    }
}

/// `1.10-alpha.ba8228c`: a 40-hex build hash cut to a short commit, as git shows it.
pub fn short_version(v: &str) -> Cow<'_, str> {
    match v.rsplit_once('.') {
        Some((head, hash)) if hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Cow::Owned(format!("{head}.{}", &hash[..7]))
        }
        _ => Cow::Borrowed(v),
    }
}

/// `1.10-alpha`: a version without its build hash.
pub fn release(v: &str) -> &str {
    match v.rsplit_once('.') {
        Some((head, hash)) if hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head
        }
        _ => v,
    }
}

/// The part of an istiod pod's name that tells its replicas apart.
fn istiod_suffix(name: &str) -> &str {
    name.rsplit_once('-').map_or(name, |(_, s)| s)
}

/// Worse states sort later.
fn state_rank(r: &ProxyLine<'_>, t: XdsType) -> i64 {
    r.state_of(t).map_or(10, |s| i64::from(s.severity()))
}

fn cell(r: &ProxyLine<'_>, c: ProxyColumn) -> CellText {
    let dash = || ("-".to_string(), Tone::Dim);
    match c {
        ProxyColumn::Name => (
            r.name.to_string(),
            if r.pod_gone { Tone::Dim } else { Tone::Plain },
        ),
        ProxyColumn::Cluster if r.cluster.is_empty() => dash(),
        ProxyColumn::Cluster => (r.cluster.to_string(), Tone::Plain),
        ProxyColumn::Type(t) => match (r.connection, r.state_of(t)) {
            (ProxyConnection::Connected, Some(s)) => state_cell(s),
            (ProxyConnection::Disconnected, _) => dash(),
            _ => ("UNKNOWN".to_string(), Tone::SyncUnknown),
        },
        ProxyColumn::Istiod | ProxyColumn::IstiodShort => {
            let Some(istiod) = r.istiod else {
                return match r.connection {
                    ProxyConnection::Disconnected => ("<none>".to_string(), Tone::Warn),
                    _ => ("?".to_string(), Tone::SyncUnknown),
                };
            };
            let text = if c == ProxyColumn::Istiod {
                istiod.to_string()
            } else {
                istiod_suffix(istiod).to_string()
            };
            let tone = if r.connection == ProxyConnection::Connected {
                Tone::Plain
            } else {
                Tone::SyncUnknown
            };
            (text, tone)
        }
        ProxyColumn::Version | ProxyColumn::VersionShort => match r.version {
            Some(v) => (
                if c == ProxyColumn::Version {
                    short_version(v).into_owned()
                } else {
                    release(v).to_string()
                },
                if r.version_skew() {
                    Tone::Warn
                } else {
                    Tone::Plain
                },
            ),
            None => dash(),
        },
        ProxyColumn::Revision => match r.injected_revision {
            Some(rev) => (rev.to_string(), Tone::Plain),
            None => dash(),
        },
        ProxyColumn::Node => match r.node {
            Some(n) => (n.to_string(), Tone::Plain),
            None if r.pod_gone => ("pod gone".to_string(), Tone::Dim),
            None => dash(),
        },
    }
}

impl TableSource for ProxiesTable<'_> {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation)
    }

    fn rows_moved(&self) -> Option<u64> {
        self.moves.map(Model::proxy_lines_moved)
    }

    fn row_changes(&self, since: u64) -> Option<Vec<RowChange>> {
        self.moves?.proxy_line_changes(since)
    }

    fn title_note(&self) -> Option<(String, Tone)> {
        (!self.replica_problems.is_empty())
            .then(|| (self.replica_problems.join(", "), Tone::SyncUnknown))
    }

    fn len(&self) -> usize {
        match &self.focused {
            Some(at) => at.len(),
            None => self.lines.len(),
        }
    }

    fn cells(&self, i: usize) -> Vec<CellText> {
        let Some(r) = self.line(i) else {
            return Vec::new();
        };
        SPEC.iter().map(|(c, _)| cell(&r, *c)).collect()
    }

    fn sort_key(&self, i: usize, column: usize) -> SortKey<'_> {
        let Some(r) = self.line(i) else {
            return SortKey::Num(0);
        };
        let opt = |v: Option<&Name>| SortKey::Text(Cow::Owned(v.map_or("", |v| v).to_string()));
        match SPEC.get(column).map(|(c, _)| *c) {
            Some(ProxyColumn::Name) | None => SortKey::Text(Cow::Owned(r.name.to_string())),
            Some(ProxyColumn::Cluster) => SortKey::Text(Cow::Borrowed(r.cluster)),
            Some(ProxyColumn::Type(t)) => SortKey::Num(state_rank(&r, t)),
            Some(ProxyColumn::Istiod | ProxyColumn::IstiodShort) => opt(r.istiod),
            Some(ProxyColumn::Version | ProxyColumn::VersionShort) => opt(r.version),
            Some(ProxyColumn::Revision) => opt(r.injected_revision),
            Some(ProxyColumn::Node) => opt(r.node),
        }
    }

    fn filter_text(&self, i: usize, out: &mut String) {
        let Some(r) = self.line(i) else {
            return;
        };
        r.name.write_to(out);
        for s in [r.cluster, r.proxy_type] {
            out.push(' ');
            out.push_str(s);
        }
        for t in XdsType::EVERY {
            if let Some(s) = r.state_of(t) {
                out.push(' ');
                out.push_str(t.short());
                out.push(' ');
                out.push_str(s.label());
            }
        }
        if r.connection != ProxyConnection::Connected {
            out.push(' ');
            out.push_str(connection_label(r.connection));
        }
        for s in [r.istiod, r.version, r.injected_revision, r.node]
            .into_iter()
            .flatten()
        {
            out.push(' ');
            out.push_str(s);
        }
    }

    fn matching_rows(&self, filter: &Filter, rows: Option<Vec<usize>>) -> Vec<usize> {
        if !filter.fits_term_set() {
            return table::rows_matching_text(self, filter, rows);
        }
        let all = filter.all_terms();
        let mut shared = SharedFieldTerms::new(filter);
        let mut name = String::new();
        self.rows_where(rows, |l| {
            line_terms(l, filter, &mut shared, &mut name) == all
        })
    }

    fn problem_rows(&self) -> Vec<usize> {
        self.rows_where(None, |l| !l.in_sync())
    }

    fn ordered_by(&self, column: usize) -> bool {
        // istioctl's order is by NAME, and a NAME (`<pod>.<namespace>`, a namespace
        // holding no dot) names one pod.
        matches!(SPEC.get(column), Some((ProxyColumn::Name, _)))
    }

    fn subject(&self, i: usize) -> Option<Subject> {
        let r = self.line(i)?;
        Some(Subject::Proxy {
            namespace: r.namespace.clone(),
            pod: Name::from(r.pod),
        })
    }

    fn is_problem(&self, i: usize) -> bool {
        self.line(i).is_some_and(|r| !r.in_sync())
    }

    fn problems_label(&self) -> &'static str {
        "out of sync only"
    }

    fn unseen(&self) -> Option<&str> {
        self.unseen
    }

    fn empty_message(&self) -> &'static str {
        if self.lines.waiting() {
            "waiting for istiod sync status (each istiod replica's /debug/syncz is polled)"
        } else {
            "no proxies: no istiod reports one and no running pod has a proxy"
        }
    }
}

/// `SYNCED 10`, `STALE 1`, `UNKNOWN 5`, `DISCONNECTED 2`: proxy totals in istioctl's words,
/// each toned like the state.
pub fn totals_parts(t: &SyncTotals) -> Vec<CellText> {
    let mut out: Vec<CellText> = t
        .per_state
        .iter()
        .map(|(s, n)| (format!("{} {n}", s.label()), Tone::Sync(*s)))
        .collect();
    if t.unknown > 0 {
        out.push((format!("UNKNOWN {}", t.unknown), Tone::SyncUnknown));
    }
    if t.disconnected > 0 {
        out.push((format!("DISCONNECTED {}", t.disconnected), Tone::Warn));
    }
    out
}

/// The tone of the worst part of some totals.
pub fn totals_tone(t: &SyncTotals) -> Tone {
    let out_of_sync = t.per_state.keys().any(|s| {
        matches!(
            s,
            SyncState::Stale | SyncState::StaleNeverAcknowledged | SyncState::Error
        )
    });
    if t.per_state.contains_key(&SyncState::Error) {
        Tone::Sync(SyncState::Error)
    } else if out_of_sync {
        Tone::Sync(SyncState::Stale)
    } else if t.disconnected > 0 {
        Tone::Warn
    } else if t.unknown > 0 {
        Tone::SyncUnknown
    } else if t.is_empty() {
        Tone::Dim
    } else {
        Tone::Sync(SyncState::Synced)
    }
}

/// `istiod-…-25z28 unreachable`: replicas that did not answer, for a title.
fn replica_problems(replicas: &[ReplicaRow]) -> Vec<String> {
    replicas
        .iter()
        .filter(|r| r.state != "ok")
        .map(|r| format!("{} {}", r.istiod, r.state))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_hashes_are_cut_like_git_commits() {
        assert_eq!(
            short_version("1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1"),
            "1.10-alpha.ba8228c"
        );
        assert_eq!(short_version("1.9.1"), "1.9.1");
        assert_eq!(short_version("latest"), "latest");
    }

    #[test]
    fn one_column_of_each_kind_at_every_width() {
        let columns: Vec<Column> = SPEC.iter().map(|(_, c)| *c).collect();
        for width in [60, 80, 99, 100, 149, 150, 159, 160, 169, 170, 200] {
            let shown = table::visible_columns(&columns, width);
            for header in ["NAME", "ISTIOD", "VERSION", "CDS"] {
                let n = shown
                    .iter()
                    .filter(|&&i| columns[i].header == header)
                    .count();
                // VERSION gives its room to NAME below 100 columns.
                let wanted = usize::from(header != "VERSION" || width >= 100);
                assert_eq!(n, wanted, "{header} at {width}");
            }
        }
        assert_eq!(
            release("1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1"),
            "1.10-alpha"
        );
        assert_eq!(release("1.9.1"), "1.9.1");
    }
}
