//! The one table widget every view uses: a column spec per table, a row function per kind
//! (`TableSource`), filter and sort over row indices, and drawing of only the rows
//! that are on screen.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::model::RowChange;
use crate::model::sync::SyncState;
pub use crate::ops::plan::Tone;

use super::state::Screen;
use super::theme::Theme;
use super::views::Subject;
use crate::ops::inspect::ObjectRef;

/// One column: its header, how wide, and the narrowest table at which it shows.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub width: Constraint,
    /// Hidden when the table is narrower than this (0: always shown).
    pub min_width: u16,
    /// Hidden when the table is wider than this: the narrow variant of a wider column.
    pub max_width: u16,
    /// Cut long text in the middle, keeping its end: pod names differ in their suffix.
    pub cut_middle: bool,
}

impl Column {
    pub const fn new(header: &'static str, width: Constraint, min_width: u16) -> Column {
        Column {
            header,
            width,
            min_width,
            max_width: u16::MAX,
            cut_middle: false,
        }
    }

    /// Long text is cut in the middle rather than at the end.
    pub const fn cut_middle(mut self) -> Column {
        self.cut_middle = true;
        self
    }

    /// Never shown (a column with nothing to say on this cluster).
    pub const fn hidden(mut self) -> Column {
        self.min_width = u16::MAX;
        self.max_width = 0;
        self
    }

    /// Shown only up to this table width (a shorter header for narrow terminals).
    pub const fn until(mut self, max_width: u16) -> Column {
        self.max_width = max_width;
        self
    }

    pub fn shows_at(&self, width: u16) -> bool {
        self.min_width <= width && width <= self.max_width
    }
}

/// The columns shown in a table of this width, by index.
pub fn visible_columns(columns: &[Column], width: u16) -> Vec<usize> {
    (0..columns.len())
        .filter(|&i| columns[i].shows_at(width))
        .collect()
}

impl Tone {
    /// How the theme draws text of this tone.
    pub fn style(self, theme: &Theme) -> Style {
        match self {
            Tone::Plain => theme.base,
            Tone::Dim => theme.dim,
            Tone::Good => theme.good,
            Tone::Warn => theme.warn,
            Tone::Bad => theme.bad,
            Tone::Title => theme.title,
            Tone::Error => theme.severity_error,
            Tone::Warning => theme.severity_warning,
            Tone::Info => theme.severity_info,
            Tone::Sync(SyncState::Synced) => theme.sync_synced,
            Tone::Sync(SyncState::NotSent | SyncState::Ignored) => theme.sync_not_sent,
            Tone::Sync(SyncState::Stale | SyncState::StaleNeverAcknowledged) => theme.sync_stale,
            Tone::Sync(SyncState::Error) => theme.sync_error,
            Tone::SyncUnknown => theme.sync_unknown,
        }
    }
}

/// One cell's text and tone.
pub type CellText = (String, Tone);

/// The longest cell text, in characters; longer text ends in `…`. A cell may list what a
/// whole cluster holds (a revision selected by thousands of namespaces), while a screen's
/// coordinates are `u16` and a script reading `meshtop get` expects a line it can hold.
pub const MAX_CELL_CHARS: usize = 4096;

/// A row's cells, each within `MAX_CELL_CHARS`: what the TUI draws and `meshtop get` prints.
pub fn row_cells(source: &dyn TableSource, row: usize) -> Vec<CellText> {
    let mut cells = source.cells(row);
    for (text, _) in &mut cells {
        if let Cow::Owned(cut) = truncate(text, MAX_CELL_CHARS) {
            *text = cut;
        }
    }
    cells
}

/// What a column sorts by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey<'a> {
    Num(i64),
    Text(Cow<'a, str>),
}

/// A sort column and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: usize,
    pub reverse: bool,
}

/// The rows of one table kind. Only `cells` builds text for display, and only for the rows
/// on screen.
pub trait TableSource {
    fn columns(&self) -> &[Column];
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One cell per column (hidden columns included; the widget drops them).
    fn cells(&self, row: usize) -> Vec<CellText>;
    fn sort_key(&self, row: usize, column: usize) -> SortKey<'_>;
    /// The text a `/` filter matches against.
    fn filter_text(&self, row: usize, out: &mut String);
    /// The rows among `rows` (every row when `None`) that `filter` matches, in their order.
    /// A source of many rows matches the fields it keeps in place rather than build each
    /// row's text, as this does.
    fn matching_rows(&self, filter: &Filter, rows: Option<Vec<usize>>) -> Vec<usize> {
        rows_matching_text(self, filter, rows)
    }
    /// The rows the problems-only toggle keeps, in order.
    fn problem_rows(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_problem(i)).collect()
    }
    /// Whether the rows come in ascending order of this column's sort key, no two equal:
    /// sorting by it then costs nothing.
    fn ordered_by(&self, _column: usize) -> bool {
        false
    }
    /// What Enter drills into, if anything.
    fn subject(&self, _row: usize) -> Option<Subject> {
        None
    }
    /// The pod of a row that is one (a details screen's pods): what `y`, `d` and `l` read.
    fn pod(&self, _row: usize) -> Option<ObjectRef> {
        None
    }
    /// Whether a row needs attention: what the problems-only toggle keeps.
    fn is_problem(&self, _row: usize) -> bool {
        false
    }
    /// How the title names the problems-only toggle (`out of sync only`).
    fn problems_label(&self) -> &'static str {
        "problems only"
    }
    /// Shown when there are no rows at all.
    fn empty_message(&self) -> &'static str;
    /// Why rows may be missing: the source behind them is forbidden, failing or still
    /// listing. Shown instead of `empty_message`: "no nodes" would claim what is not seen.
    fn unseen(&self) -> Option<&str> {
        None
    }
    /// What the title says last, about the table as a whole.
    fn title_note(&self) -> Option<(String, Tone)> {
        None
    }
    /// The model generation the rows are read from, for a table whose rows depend on the
    /// model alone: a screen then keeps its arranged rows until the generation moves. `None`
    /// (small tables, and tables of one subject): arranged afresh every time.
    fn generation(&self) -> Option<u64> {
        None
    }
    /// For a table whose rows can say how they moved within one generation (a pod's line
    /// changing, coming or going): a count that moves with every row change. `None`: they
    /// cannot, and any change comes with a new generation.
    fn rows_moved(&self) -> Option<u64> {
        None
    }
    /// How the rows moved since `rows_moved()` was `since`, by position, in order; `None`
    /// when that is no longer known.
    fn row_changes(&self, _since: u64) -> Option<Vec<RowChange>> {
        None
    }
}

/// A row of a view that lists the model's rows of one kind as they come: its view's column
/// spec, its cells, and what Enter opens. [`Rows`] makes the view's table of them.
pub trait Row {
    const COLUMNS: &'static [Column];
    /// Shown when there are no rows at all.
    const EMPTY: &'static str;
    /// One cell per column.
    fn cells(&self) -> Vec<CellText>;
    fn sort_key(&self, column: usize) -> SortKey<'_>;
    /// The text a `/` filter matches against.
    fn filter_text(&self, out: &mut String);
    fn subject(&self) -> Option<Subject>;
}

/// The table of a view of [`Row`]s: the rows, and why some may be missing.
pub struct Rows<R> {
    rows: Vec<R>,
    unseen: Option<String>,
}

impl<R: Row> Rows<R> {
    pub fn new(rows: Vec<R>, unseen: Option<String>) -> Self {
        Rows { rows, unseen }
    }
}

impl<R: Row> TableSource for Rows<R> {
    fn columns(&self) -> &[Column] {
        R::COLUMNS
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cells(&self, row: usize) -> Vec<CellText> {
        self.rows[row].cells()
    }

    fn sort_key(&self, row: usize, column: usize) -> SortKey<'_> {
        self.rows[row].sort_key(column)
    }

    fn filter_text(&self, row: usize, out: &mut String) {
        self.rows[row].filter_text(out);
    }

    fn subject(&self, row: usize) -> Option<Subject> {
        self.rows[row].subject()
    }

    fn empty_message(&self) -> &'static str {
        R::EMPTY
    }

    fn unseen(&self) -> Option<&str> {
        self.unseen.as_deref()
    }
}

/// Whether a row's text matches a `/` filter. Each space-separated term must be a part of
/// the text, ignoring case: `pdb` finds the PDB rows, not `proxy-version-skew`, whose letters
/// merely come in that order. A term written `~term` matches its letters in order inside one
/// word of the text (`~n03` finds `k1-node03`, not `k1-node01 … v1.14.3`).
pub fn filter_match(needle: &str, haystack: &str) -> bool {
    Filter::new(needle).matches(haystack)
}

/// A `/` filter read once: its terms in lower case, ready to be matched against every row
/// of a table without building anything per row.
///
/// A term holds no space, so it matches a row's text exactly when it matches one of the
/// fields the text joins with spaces: a source may match its fields where they are kept
/// ([`Filter::field_terms`]) rather than build each row's text.
#[derive(Debug, Clone)]
pub struct Filter {
    terms: Vec<Term>,
}

#[derive(Debug, Clone)]
struct Term {
    /// In lower case (ASCII terms: byte for byte).
    text: String,
    /// `~term`: the letters in order inside one word.
    letters: bool,
}

/// Which terms of a [`Filter`] a field matches, one bit each.
pub type TermSet = u64;

impl Filter {
    pub fn new(filter: &str) -> Filter {
        let mut terms: Vec<Term> = Vec::new();
        for term in filter.split_whitespace() {
            let (text, letters) = match term.strip_prefix('~') {
                Some(letters) => (letters, true),
                None => (term, false),
            };
            let term = Term {
                text: text.to_lowercase(),
                letters,
            };
            // A term twice asks nothing more.
            if !terms
                .iter()
                .any(|t| t.text == term.text && t.letters == term.letters)
            {
                terms.push(term);
            }
        }
        Filter { terms }
    }

    /// No term: every row matches.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether a row's whole text matches.
    pub fn matches(&self, text: &str) -> bool {
        self.terms.iter().all(|t| t.matches(text))
    }

    /// Whether the terms can be told apart in a [`TermSet`]: at most 64 of them (a
    /// filter with more is matched against each row's text).
    pub fn fits_term_set(&self) -> bool {
        self.terms.len() <= TermSet::BITS as usize
    }

    /// The set of every term: a row matches when its fields' terms add up to it.
    pub fn all_terms(&self) -> TermSet {
        match self.terms.len() {
            n if n >= TermSet::BITS as usize => TermSet::MAX,
            n => (1 << n) - 1,
        }
    }

    /// The terms one field of a row matches (the first 64; see `fits_term_set`).
    pub fn field_terms(&self, field: &str) -> TermSet {
        let mut set = 0;
        for (i, term) in self.terms.iter().take(TermSet::BITS as usize).enumerate() {
            if term.matches(field) {
                set |= 1 << i;
            }
        }
        set
    }
}

impl Term {
    fn matches(&self, haystack: &str) -> bool {
        if self.letters {
            letters_in_a_word(&self.text, haystack)
        } else {
            contains_ignoring_case(haystack, &self.text)
        }
    }
}

/// Whether `term` (in lower case) is a part of `haystack`, ignoring case.
fn contains_ignoring_case(haystack: &str, term: &str) -> bool {
    // Names in a cluster are ASCII: compare bytes, without Unicode case mapping (a filter
    // runs over every row of the table). Only where the first letter matches, found in
    // either case by `memchr2` many bytes at a time, is the rest compared.
    if term.is_ascii() && haystack.is_ascii() {
        let (hay, term) = (haystack.as_bytes(), term.as_bytes());
        let Some((&first, rest)) = term.split_first() else {
            return true;
        };
        if hay.len() < term.len() {
            return false;
        }
        let last_start = hay.len() - term.len();
        let candidates = &hay[..=last_start];
        return memchr::memchr2_iter(first, first.to_ascii_uppercase(), candidates)
            .any(|at| hay[at + 1..at + term.len()].eq_ignore_ascii_case(rest));
    }
    haystack.to_lowercase().contains(term)
}

/// Whether the letters of `term` (in lower case) come in order inside one word.
fn letters_in_a_word(term: &str, haystack: &str) -> bool {
    if term.is_ascii() && haystack.is_ascii() {
        return haystack.split_whitespace().any(|word| {
            let mut hay = word.bytes().map(|b| b.to_ascii_lowercase());
            term.bytes().all(|n| hay.any(|h| h == n))
        });
    }
    haystack.split_whitespace().any(|word| {
        let mut hay = word.chars().flat_map(char::to_lowercase);
        term.chars().all(|n| hay.any(|h| h == n))
    })
}

/// The rows among `rows` (every row when `None`) whose text (`filter_text`) `filter`
/// matches, in their order: one text built per row.
pub fn rows_matching_text<S: TableSource + ?Sized>(
    source: &S,
    filter: &Filter,
    rows: Option<Vec<usize>>,
) -> Vec<usize> {
    let mut rows = rows.unwrap_or_else(|| (0..source.len()).collect());
    let mut text = String::new();
    rows.retain(|&i| {
        text.clear();
        source.filter_text(i, &mut text);
        filter.matches(&text)
    });
    rows
}

/// The terms of a [`Filter`] that fields shared by many rows match, remembered by where
/// the field's text lives: an interned name (a node, a version, an istiod) or a word of
/// meshtop's own is matched once per scan, not once per row. Valid while the rows it
/// reads are borrowed: text at one place does not change meanwhile.
pub struct SharedFieldTerms<'f> {
    filter: &'f Filter,
    /// Direct-mapped by address: (address, length, terms).
    slots: Vec<(usize, usize, TermSet)>,
}

impl<'f> SharedFieldTerms<'f> {
    const SLOTS: usize = 512;

    pub fn new(filter: &'f Filter) -> Self {
        SharedFieldTerms {
            filter,
            // No text lives at address 0 with length `usize::MAX`: every slot starts empty.
            slots: vec![(0, usize::MAX, 0); Self::SLOTS],
        }
    }

    /// The terms `field` matches.
    pub fn of(&mut self, field: &str) -> TermSet {
        let (at, len) = (field.as_ptr() as usize, field.len());
        let slot = (at >> 3).wrapping_add(len) % Self::SLOTS;
        match self.slots.get_mut(slot) {
            Some(&mut (a, l, terms)) if a == at && l == len => terms,
            Some(entry) => {
                let terms = self.filter.field_terms(field);
                *entry = (at, len, terms);
                terms
            }
            None => self.filter.field_terms(field),
        }
    }
}

/// A screen's rows as last arranged, and what they were arranged from.
#[derive(Debug, Clone)]
pub struct Arranged {
    generation: u64,
    rows_moved: Option<u64>,
    len: usize,
    problems_only: bool,
    sort: Option<Sort>,
    filter: String,
    rows: Vec<usize>,
}

/// The row indices a screen shows: its problems-only toggle, its `/` filter, its sort.
/// Without any of them this does no per-row work beyond the index list. For a table that
/// depends on the model alone, the screen keeps the result: the frames and key presses
/// that follow (scrolling, PgDn) reuse it until the model or the screen's choice changes,
/// and a filter typed one more letter only narrows the rows it had.
pub fn arrange(source: &dyn TableSource, screen: &Screen) -> Vec<usize> {
    let Some(generation) = source.generation() else {
        return arrange_rows(source, screen);
    };
    let len = source.len();
    let rows_moved = source.rows_moved();
    let same_rows = |a: &Arranged| {
        a.generation == generation
            && a.rows_moved == rows_moved
            && a.len == len
            && a.problems_only == screen.problems_only
            && a.sort == screen.sort
    };
    let mut kept = screen.arranged.borrow_mut();
    // Rows that moved since (a pod's line changed, came or went) are patched in.
    if let Some(a) = kept.as_mut()
        && a.generation == generation
        && a.problems_only == screen.problems_only
        && a.sort == screen.sort
        && let (Some(since), Some(now)) = (a.rows_moved, rows_moved)
        && since != now
        && let Some(changes) = source.row_changes(since)
        && patch(source, a, &changes)
    {
        a.rows_moved = rows_moved;
    }
    let narrowed = match kept.as_mut().filter(|a| same_rows(a)) {
        Some(a) if a.filter == screen.filter => return a.rows.clone(),
        // Each term must still match, and a longer term matches fewer rows: the rows that
        // matched the shorter filter, in their order, are all there is to look at.
        Some(a) if screen.filter.starts_with(a.filter.as_str()) => {
            Some(std::mem::take(&mut a.rows))
        }
        _ => None,
    };
    let rows = match narrowed {
        Some(within) => filter_rows(source, &screen.filter, Some(within)),
        None => arrange_rows(source, screen),
    };
    *kept = Some(Arranged {
        generation,
        rows_moved,
        len,
        problems_only: screen.problems_only,
        sort: screen.sort,
        filter: screen.filter.clone(),
        rows: rows.clone(),
    });
    rows
}

/// More row changes than this are arranged afresh rather than patched in one by one.
const MAX_PATCHED: usize = 256;

/// Brings rows arranged earlier in step with `changes` (the source's row changes since,
/// in order): positions shift past rows that came or went, and each row that came or
/// changed is looked at once, as the source holds it now, and put where the filter and the
/// sort place it. False (the rows left unusable) when there are too many changes to patch
/// or they do not add up to the source's length.
fn patch(source: &dyn TableSource, a: &mut Arranged, changes: &[RowChange]) -> bool {
    if changes.len() > MAX_PATCHED {
        return false;
    }
    let shift = |rows: &mut Vec<usize>, from: usize, up: bool| {
        for i in rows.iter_mut().filter(|i| **i >= from) {
            if up {
                *i += 1;
            } else {
                *i -= 1;
            }
        }
    };
    // First the positions, as the changes came; the rows touched are looked at after, at
    // their positions in the source as it is now.
    let mut len = a.len;
    let mut touched: Vec<usize> = Vec::new();
    for change in changes {
        match *change {
            RowChange::Inserted(at) => {
                shift(&mut a.rows, at, true);
                shift(&mut touched, at, true);
                touched.push(at);
                len += 1;
            }
            RowChange::Removed(at) => {
                a.rows.retain(|&i| i != at);
                touched.retain(|&i| i != at);
                shift(&mut a.rows, at + 1, false);
                shift(&mut touched, at + 1, false);
                let Some(shorter) = len.checked_sub(1) else {
                    return false;
                };
                len = shorter;
            }
            RowChange::Changed(at) => {
                a.rows.retain(|&i| i != at);
                touched.push(at);
            }
        }
    }
    if len != source.len() {
        return false;
    }
    touched.sort_unstable();
    touched.dedup();
    let filter = Filter::new(&a.filter);
    for at in touched.into_iter().filter(|&at| at < len) {
        if a.problems_only && !source.is_problem(at) {
            continue;
        }
        if !filter.is_empty() && source.matching_rows(&filter, Some(vec![at])).is_empty() {
            continue;
        }
        // Where `arrange_rows` would have put it: by position, or by the sort key with
        // equal keys in position order (the sort is stable over rows in position order).
        let place = match a.sort.filter(|s| s.column < source.columns().len()) {
            None => a.rows.partition_point(|&i| i < at),
            Some(sort) => {
                let key = source.sort_key(at, sort.column);
                a.rows.partition_point(|&i| {
                    let k = source.sort_key(i, sort.column);
                    let by_key = if sort.reverse {
                        key.cmp(&k)
                    } else {
                        k.cmp(&key)
                    };
                    by_key.then(i.cmp(&at)).is_lt()
                })
            }
        };
        a.rows.insert(place, at);
    }
    a.len = len;
    true
}

/// The rows of `rows` (every row when `None`) whose text matches `filter`, in their order.
fn filter_rows(source: &dyn TableSource, filter: &str, rows: Option<Vec<usize>>) -> Vec<usize> {
    let filter = Filter::new(filter);
    if filter.is_empty() {
        return rows.unwrap_or_else(|| (0..source.len()).collect());
    }
    source.matching_rows(&filter, rows)
}

fn arrange_rows(source: &dyn TableSource, screen: &Screen) -> Vec<usize> {
    let (filter, sort) = (screen.filter.as_str(), screen.sort);
    let rows = screen.problems_only.then(|| source.problem_rows());
    let mut rows = filter_rows(source, filter, rows);
    if let Some(sort) = sort
        && sort.column < source.columns().len()
    {
        if source.ordered_by(sort.column) {
            // Already in order, each key once: descending is the order reversed.
            if sort.reverse {
                rows.reverse();
            }
            return rows;
        }
        // One key per row rather than two per comparison: a key may be built (a proxy's
        // line looked up, a text formatted), and a sort compares n log n times.
        let mut keyed: Vec<(SortKey<'_>, usize)> = rows
            .iter()
            .map(|&i| (source.sort_key(i, sort.column), i))
            .collect();
        // Stable, as before: equal keys keep the source's order either way.
        keyed.sort_by(|(a, _), (b, _)| if sort.reverse { b.cmp(a) } else { a.cmp(b) });
        rows = keyed.into_iter().map(|(_, i)| i).collect();
    }
    rows
}

/// Truncates to `width` characters, ending with `…` when cut. Names in a cluster are ASCII;
/// the few symbols meshtop draws are one cell wide.
pub fn truncate(s: &str, width: usize) -> Cow<'_, str> {
    if s.chars().count() <= width {
        return Cow::Borrowed(s);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    Cow::Owned(out)
}

/// Truncates to `width` characters with `…` in the middle, keeping the last third: the
/// part of a pod's name that tells replicas apart. A `<pod>.<namespace>` is cut in each
/// part, the namespace getting up to half: two gateways of one name in two namespaces, and
/// two replicas of one, stay two rows.
pub fn truncate_middle(s: &str, width: usize) -> Cow<'_, str> {
    let len = s.chars().count();
    if len <= width {
        return Cow::Borrowed(s);
    }
    if let Some((pod, namespace)) = s.rsplit_once('.')
        && !namespace.is_empty()
        && width >= 11
    {
        let namespace_width = namespace.chars().count().min((width - 1) / 2);
        let pod = cut_middle(pod, width - 1 - namespace_width);
        let namespace = cut_middle(namespace, namespace_width);
        return Cow::Owned(format!("{pod}.{namespace}"));
    }
    Cow::Owned(cut_middle(s, width))
}

fn cut_middle(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len <= width {
        return s.to_string();
    }
    if width < 5 {
        return truncate(s, width).into_owned();
    }
    let tail = (width - 1) / 3;
    let head = width - 1 - tail;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(len - tail));
    out
}

/// Cuts a line of spans to `width` characters, ending with `…` when cut: panels show the
/// start of a long line rather than wrap it.
pub fn fit_line(line: Line<'_>, width: usize) -> Line<'_> {
    let total: usize = line.spans.iter().map(|s| s.content.chars().count()).sum();
    if total <= width {
        return line;
    }
    let mut left = width;
    let mut spans = Vec::new();
    for span in line.spans {
        if left == 0 {
            break;
        }
        let n = span.content.chars().count();
        if n < left {
            left -= n;
            spans.push(span);
        } else {
            let cut = truncate(&span.content, left).into_owned();
            spans.push(Span::styled(cut, span.style));
            left = 0;
        }
    }
    Line::from(spans).style(line.style)
}

/// The title of a table: name, counts, filter, sort.
pub fn title<'a>(
    name: &str,
    source: &dyn TableSource,
    shown: usize,
    screen: &Screen,
    theme: &Theme,
) -> Line<'a> {
    let mut spans = vec![Span::styled(format!(" {name} "), theme.title)];
    if screen.filter.is_empty() && !screen.problems_only {
        spans.push(Span::styled(format!("({}) ", source.len()), theme.title));
    } else {
        spans.push(Span::styled(
            format!("({shown} of {}) ", source.len()),
            theme.title,
        ));
    }
    if screen.problems_only {
        spans.push(Span::styled(
            format!("{} ", source.problems_label()),
            theme.prompt,
        ));
    }
    if !screen.filter.is_empty() {
        spans.push(Span::styled(format!("/{} ", screen.filter), theme.prompt));
    }
    if let Some(sort) = screen.sort
        && let Some(c) = source.columns().get(sort.column)
    {
        let arrow = if sort.reverse { "↓" } else { "↑" };
        spans.push(Span::styled(
            format!("sorted by {}{arrow} ", c.header),
            theme.dim,
        ));
    }
    if let Some((note, tone)) = source.title_note() {
        spans.push(Span::styled(format!("{note} "), tone.style(theme)));
    }
    Line::from(spans)
}

/// Widths of the visible columns: `Length` columns get their length; the others share what
/// is left by weight, none wider than its widest cell on screen, so short columns do not
/// stretch into gaps. Space no column wants is left at the right.
pub fn column_widths(
    columns: &[Column],
    visible: &[usize],
    wants: &[usize],
    width: u16,
) -> Vec<u16> {
    let spacing = visible.len().saturating_sub(1);
    let mut widths = vec![0usize; visible.len()];
    let mut flexible: Vec<(usize, usize)> = Vec::new();
    let mut fixed = 0;
    for (slot, &col) in visible.iter().enumerate() {
        match columns[col].width {
            Constraint::Length(n) => {
                widths[slot] = usize::from(n);
                fixed += usize::from(n);
            }
            Constraint::Fill(w) => flexible.push((slot, usize::from(w.max(1)))),
            _ => flexible.push((slot, 1)),
        }
    }
    let mut remaining = usize::from(width).saturating_sub(fixed + spacing);
    // Water-filling: columns that want less than their share get what they want, and the
    // rest is shared again among the others.
    loop {
        let total_weight: usize = flexible.iter().map(|(_, w)| w).sum();
        if flexible.is_empty() || total_weight == 0 {
            break;
        }
        let satisfied: Vec<(usize, usize)> = flexible
            .iter()
            .copied()
            .filter(|&(slot, w)| wants[slot] <= remaining * w / total_weight)
            .collect();
        if satisfied.is_empty() {
            let mut given = 0;
            let last = flexible.len() - 1;
            for (n, &(slot, w)) in flexible.iter().enumerate() {
                let share = if n == last {
                    remaining - given
                } else {
                    remaining * w / total_weight
                };
                widths[slot] = share;
                given += share;
            }
            break;
        }
        for (slot, _) in &satisfied {
            widths[*slot] = wants[*slot];
            remaining -= wants[*slot];
        }
        flexible.retain(|f| !satisfied.contains(f));
    }
    widths
        .into_iter()
        .map(|w| u16::try_from(w).unwrap_or(u16::MAX))
        .collect()
}

/// Draws a bordered table of `rows` (indices into `source`) in `area`, scrolled so the
/// selected row shows. Only the rows on screen are formatted. Returns the number of data
/// rows that fit (the page size).
pub fn render(
    frame: &mut Frame,
    area: Rect,
    source: &dyn TableSource,
    rows: &[usize],
    screen: &Screen,
    title: Line<'_>,
    theme: &Theme,
) -> usize {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(title)
        .style(theme.base);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return 0;
    }
    let page = usize::from(inner.height.saturating_sub(1));
    let columns = source.columns();
    let visible = visible_columns(columns, area.width);
    let selected = screen.selected.min(rows.len().saturating_sub(1));
    let offset = scroll_offset(screen.offset.get(), selected, page, rows.len());
    screen.offset.set(offset);
    let on_screen: Vec<(usize, Vec<CellText>)> = rows
        .iter()
        .skip(offset)
        .take(page)
        .map(|&row| {
            let mut cells = row_cells(source, row);
            // A row marked with Space shows it in its first cell, as k9s does.
            if let Some((first, tone)) = cells.first_mut()
                && screen.marked.contains(first.as_str())
            {
                *first = format!("✓ {first}");
                *tone = Tone::Good;
            }
            (row, cells)
        })
        .collect();
    let headers: Vec<String> = visible
        .iter()
        .map(|&col| {
            let mut header = columns[col].header.to_string();
            if let Some(sort) = screen.sort
                && sort.column == col
            {
                header.push(if sort.reverse { '↓' } else { '↑' });
            }
            header
        })
        .collect();
    let wants: Vec<usize> = visible
        .iter()
        .enumerate()
        .map(|(slot, &col)| {
            on_screen
                .iter()
                .filter_map(|(_, cells)| cells.get(col))
                .map(|(text, _)| text.chars().count())
                .chain([headers[slot].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut widths = column_widths(columns, &visible, &wants, inner.width);
    // The sort arrow widens its header by one: a fixed-width column takes that from the
    // widest other column rather than cut its header.
    if let Some(slot) = screen
        .sort
        .and_then(|sort| visible.iter().position(|&c| c == sort.column))
    {
        let need = u16::try_from(headers[slot].chars().count()).unwrap_or(u16::MAX);
        let short = need.saturating_sub(widths[slot]);
        if short > 0
            && let Some(widest) = (0..widths.len())
                .filter(|&i| i != slot)
                .max_by_key(|&i| widths[i])
            && widths[widest] > short + 3
        {
            widths[widest] -= short;
            widths[slot] = need;
        }
    }
    let mut xs = Vec::with_capacity(widths.len());
    let mut x = inner.x;
    for w in &widths {
        xs.push(x);
        x = x.saturating_add(*w).saturating_add(1);
    }
    let right = inner.right();
    let put = |buf: &mut Buffer, slot: usize, y: u16, text: &str, style: Style| {
        let (x, width) = (xs[slot], widths[slot]);
        if x < right {
            let width = usize::from(width.min(right - x));
            let text = if columns[visible[slot]].cut_middle {
                truncate_middle(text, width)
            } else {
                truncate(text, width)
            };
            buf.set_string(x, y, text, style);
        }
    };
    for (slot, header) in headers.iter().enumerate() {
        put(
            frame.buffer_mut(),
            slot,
            inner.y,
            header,
            theme.table_header,
        );
    }
    if rows.is_empty() {
        let message = if source.is_empty() {
            source.unseen().unwrap_or(source.empty_message())
        } else if screen.filter.is_empty() {
            "no row needs attention (the same key again shows every row)"
        } else {
            "no rows match the filter (esc clears it)"
        };
        if inner.height > 1 {
            frame.render_widget(
                Paragraph::new(Span::styled(message, theme.dim)),
                Rect {
                    y: inner.y + 1,
                    height: 1,
                    ..inner
                },
            );
        }
        return page;
    }
    let buf = frame.buffer_mut();
    for (line, (_, cells)) in on_screen.iter().enumerate() {
        let y = inner.y + 1 + line as u16;
        let is_selected = offset + line == selected;
        if is_selected {
            buf.set_style(
                Rect {
                    y,
                    height: 1,
                    ..inner
                },
                theme.selected,
            );
        }
        for (slot, &col) in visible.iter().enumerate() {
            let Some((text, tone)) = cells.get(col) else {
                continue;
            };
            let style = if is_selected {
                theme.selected
            } else {
                tone.style(theme)
            };
            put(buf, slot, y, text, style);
        }
    }
    page
}

/// Keeps the previous offset unless the selection left the window.
pub fn scroll_offset(previous: usize, selected: usize, page: usize, len: usize) -> usize {
    if page == 0 {
        return selected;
    }
    let mut offset = previous.min(len.saturating_sub(page));
    if selected < offset {
        offset = selected;
    } else if selected >= offset + page {
        offset = selected + 1 - page;
    }
    offset
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_term_is_a_part_of_the_text_ignoring_case() {
        assert!(filter_match("node03", "k1-node03"));
        assert!(filter_match("NODE03", "k1-node03"));
        assert!(filter_match("k1-NODE03", "k1-node03"));
        assert!(!filter_match("k1-node033", "k1-node03"));
        assert!(!filter_match("node03", ""));
        assert!(filter_match("stale", "eds STALE"));
        assert!(!filter_match("stale", "eds STAL"));
        assert!(filter_match("", "anything"));
        assert!(filter_match(
            "pdb",
            "ERROR pdb-blocks-drain PDB istio-system/istio-pilot"
        ));
        assert!(
            !filter_match(
                "pdb",
                "WARNING proxy-version-skew 5 proxies of revision 1-9-1"
            ),
            "scattered letters are not a match"
        );
        assert!(!filter_match("n03", "k1-node03"));
        // Every term, anywhere in the row.
        assert!(filter_match("node01 1.14", "k1-node01 v1.14.3"));
        assert!(!filter_match("node01 1.15", "k1-node01 v1.14.3"));
        assert!(filter_match("ÄY", "xäyb"));
        assert!(filter_match("node03", "k1-node03 ×2"));
    }

    #[test]
    fn a_tilde_term_is_an_ordered_subsequence_of_one_word() {
        assert!(filter_match("~n03", "k1-node03"));
        assert!(filter_match("~K1N3", "k1-node03"));
        assert!(!filter_match("~30n", "k1-node03"));
        assert!(filter_match("~es ~pdb", "elasticsearch-k1-master-pdb"));
        assert!(
            !filter_match("~n03", "k1-node01 v1.14.3"),
            "a term stays in one word"
        );
        assert!(filter_match("~n01 14", "k1-node01 v1.14.3"));
        // Beyond ASCII, by Unicode's lower case: the same answers.
        assert!(filter_match("~ÄB", "xäyb"));
        assert!(filter_match("~n03", "k1-node03 ×2"));
        assert!(!filter_match("~n03", "k1-node01 ×3"));
    }

    #[test]
    fn a_filter_says_which_terms_each_field_matches() {
        let filter = Filter::new("EDS stale ~n03 stale");
        // A term twice asks nothing more.
        assert_eq!(filter.all_terms(), 0b111);
        assert_eq!(filter.field_terms("eds"), 0b001);
        assert_eq!(filter.field_terms("STALE"), 0b010);
        assert_eq!(filter.field_terms("k1-node03"), 0b100);
        assert_eq!(filter.field_terms("k1-node01"), 0);
        // Across fields, every term: the row matches as its joined text does.
        let fields = ["k1-node03", "eds", "STALE"];
        let terms = fields.iter().fold(0, |t, f| t | filter.field_terms(f));
        assert_eq!(terms, filter.all_terms());
        assert!(filter.matches(&fields.join(" ")));
        assert!(Filter::new(" ").is_empty());
        // More terms than a set holds: said so, and the text still matches them all.
        let many: Vec<String> = (0..70).map(|i| format!("t{i}")).collect();
        let filter = Filter::new(&many.join(" "));
        assert!(!filter.fits_term_set());
        assert_eq!(filter.all_terms(), TermSet::MAX);
        assert!(filter.matches(&many.join(" ")));
        assert!(!filter.matches(&many[1..].join(" ")));
    }

    #[test]
    fn remembered_shared_fields_answer_as_matching_them_does() {
        let filter = Filter::new("node");
        let mut shared = SharedFieldTerms::new(&filter);
        let node: crate::model::Name = "k1-node03".into();
        let other: crate::model::Name = "k1-master".into();
        for _ in 0..3 {
            assert_eq!(shared.of(&node), 1);
            assert_eq!(shared.of(&other), 0);
        }
        // The same text elsewhere: the same answer.
        assert_eq!(shared.of(&String::from("k1-node03")), 1);
        assert_eq!(shared.of(""), 0);
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("istio-system", 20), "istio-system");
        assert_eq!(truncate("istio-system", 6), "istio…");
        assert_eq!(truncate("istio-system", 0), "");
    }

    #[test]
    fn a_middle_cut_keeps_the_end() {
        assert_eq!(
            truncate_middle("istio-egressgateway-66cb5c46c7-c9q4b", 23),
            "istio-egressgat…7-c9q4b"
        );
        assert_eq!(truncate_middle("short", 23), "short");
        assert_eq!(truncate_middle("istio-system", 4), "ist…");
        assert_eq!(
            truncate_middle("istio-egressgateway-66cb5c46c7-c9q4b.istio-system", 34),
            "istio-egressga…-c9q4b.istio-system"
        );
        // Too long a namespace for half the width: both parts are cut.
        assert_eq!(
            truncate_middle(
                "istio-ingressgateway-istio-gateway-sample-5b9c4d6f84-rnfnr.istio-gateway-sample",
                34
            ),
            "istio-ingre…rnfnr.istio-gate…ample"
        );
    }

    #[test]
    fn long_lines_are_cut_with_an_ellipsis() {
        let line = Line::from(vec![
            Span::raw("k1-node01 "),
            Span::raw("logging/elasticsearch"),
        ]);
        let cut = fit_line(line, 16);
        assert_eq!(cut.to_string(), "k1-node01 loggi…");
        let short = fit_line(Line::raw("ok"), 16);
        assert_eq!(short.to_string(), "ok");
    }

    /// Names from a model of a given generation, counting how often rows are read.
    struct Named {
        names: Vec<String>,
        generation: u64,
        reads: Cell<usize>,
    }

    const NAMED_COLUMNS: [Column; 1] = [Column::new("NAME", Constraint::Length(8), 0)];

    impl TableSource for Named {
        fn columns(&self) -> &[Column] {
            &NAMED_COLUMNS
        }
        fn len(&self) -> usize {
            self.names.len()
        }
        fn cells(&self, row: usize) -> Vec<CellText> {
            vec![(self.names[row].clone(), Tone::Plain)]
        }
        fn sort_key(&self, row: usize, _column: usize) -> SortKey<'_> {
            SortKey::Text(Cow::Borrowed(&self.names[row]))
        }
        fn filter_text(&self, row: usize, out: &mut String) {
            self.reads.set(self.reads.get() + 1);
            out.push_str(&self.names[row]);
        }
        fn empty_message(&self) -> &'static str {
            "none"
        }
        fn generation(&self) -> Option<u64> {
            Some(self.generation)
        }
    }

    #[test]
    fn a_screen_keeps_its_rows_until_the_model_or_its_choice_changes() {
        let names = ["web-2", "db-1", "web-1", "cache-1", "web-3", "db-2"];
        let source = |generation| Named {
            names: names.iter().map(|n| n.to_string()).collect(),
            generation,
            reads: Cell::new(0),
        };
        let mut screen = Screen::new(super::super::views::ScreenId::View(
            super::super::views::ViewKind::Proxies,
        ));
        screen.sort = Some(Sort {
            column: 0,
            reverse: true,
        });
        screen.filter = "w".into();
        let model = source(1);
        let n = names.len();
        assert_eq!(arrange(&model, &screen), [4, 0, 2]);
        assert_eq!(model.reads.get(), n);
        // The next frame reads no row.
        assert_eq!(arrange(&model, &screen), [4, 0, 2]);
        assert_eq!(model.reads.get(), n);
        // One more letter: only the rows that matched are read, in their sorted order.
        screen.filter = "web-".into();
        assert_eq!(arrange(&model, &screen), [4, 0, 2]);
        assert_eq!(model.reads.get(), n + 3);
        screen.filter = "web-1".into();
        assert_eq!(arrange(&model, &screen), [2]);
        assert_eq!(model.reads.get(), n + 6);
        // Another filter, or a new generation of the model: every row again.
        screen.filter = "b".into();
        assert_eq!(arrange(&model, &screen), [4, 0, 2, 5, 1]);
        assert_eq!(model.reads.get(), 2 * n + 6);
        let newer = source(2);
        assert_eq!(arrange(&newer, &screen), [4, 0, 2, 5, 1]);
        assert_eq!(newer.reads.get(), n);
        // Without the sort, the source's order.
        screen.sort = None;
        assert_eq!(arrange(&newer, &screen), [0, 1, 2, 4, 5]);
    }

    /// Rows that change, come and go within one generation, and say so by position.
    struct Moving {
        names: Vec<String>,
        log: Vec<RowChange>,
        reads: Cell<usize>,
    }

    impl TableSource for Moving {
        fn columns(&self) -> &[Column] {
            &NAMED_COLUMNS
        }
        fn len(&self) -> usize {
            self.names.len()
        }
        fn cells(&self, row: usize) -> Vec<CellText> {
            vec![(self.names[row].clone(), Tone::Plain)]
        }
        fn sort_key(&self, row: usize, _column: usize) -> SortKey<'_> {
            SortKey::Text(Cow::Borrowed(&self.names[row]))
        }
        fn filter_text(&self, row: usize, out: &mut String) {
            self.reads.set(self.reads.get() + 1);
            out.push_str(&self.names[row]);
        }
        fn is_problem(&self, row: usize) -> bool {
            self.names[row].ends_with('!')
        }
        fn empty_message(&self) -> &'static str {
            "none"
        }
        fn generation(&self) -> Option<u64> {
            Some(7)
        }
        fn rows_moved(&self) -> Option<u64> {
            Some(self.log.len() as u64)
        }
        fn row_changes(&self, since: u64) -> Option<Vec<RowChange>> {
            self.log
                .get(usize::try_from(since).ok()?..)
                .map(<[_]>::to_vec)
        }
    }

    #[test]
    fn kept_rows_are_patched_as_rows_change_come_and_go() {
        let words = ["web", "db", "cache", "web!", "db!", "api"];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        };
        let mut source = Moving {
            names: (0..400)
                .map(|i| words[i % words.len()].to_string())
                .collect(),
            log: Vec::new(),
            reads: Cell::new(0),
        };
        let view = super::super::views::ScreenId::View(super::super::views::ViewKind::Proxies);
        let screens: Vec<Screen> = [
            (false, None, ""),
            (true, None, ""),
            (false, None, "we"),
            (false, Some(false), ""),
            (false, Some(true), "b"),
            (true, Some(true), ""),
        ]
        .into_iter()
        .map(|(problems_only, reverse, filter)| {
            let mut screen = Screen::new(view.clone());
            screen.problems_only = problems_only;
            screen.sort = reverse.map(|reverse| Sort { column: 0, reverse });
            screen.filter = filter.into();
            screen
        })
        .collect();
        for screen in &screens {
            assert_eq!(arrange(&source, screen), arrange_rows(&source, screen));
        }
        for round in 0..300 {
            // One to three changes between frames, as pods change under churn.
            for _ in 0..=next(3) {
                let len = source.names.len();
                let word = words[next(words.len())].to_string();
                match next(3) {
                    0 => {
                        let at = next(len + 1);
                        source.names.insert(at, word);
                        source.log.push(RowChange::Inserted(at));
                    }
                    1 if len > 0 => {
                        let at = next(len);
                        source.names.remove(at);
                        source.log.push(RowChange::Removed(at));
                    }
                    _ if len > 0 => {
                        let at = next(len);
                        source.names[at] = word;
                        source.log.push(RowChange::Changed(at));
                    }
                    _ => {}
                }
            }
            for screen in &screens {
                source.reads.set(0);
                let patched = arrange(&source, screen);
                let reads = source.reads.get();
                assert_eq!(patched, arrange_rows(&source, screen), "round {round}");
                // Only the rows that moved were looked at, not every row.
                assert!(reads <= 3, "round {round}: {reads} rows read");
            }
        }
        // A change log no longer known: arranged afresh.
        source.log.clear();
        source.names.truncate(10);
        for screen in &screens {
            assert_eq!(arrange(&source, screen), arrange_rows(&source, screen));
        }
    }

    /// One row whose second cell lists far more than a screen holds.
    struct Huge;

    const HUGE_COLUMNS: [Column; 2] = [
        Column::new("REVISION", Constraint::Length(8), 0),
        Column::new("NAMESPACES", Constraint::Fill(1), 0),
    ];

    impl TableSource for Huge {
        fn columns(&self) -> &[Column] {
            &HUGE_COLUMNS
        }
        fn len(&self) -> usize {
            1
        }
        fn cells(&self, _row: usize) -> Vec<CellText> {
            let namespaces: Vec<String> = (0..7000).map(|i| format!("ns-{i:05}")).collect();
            vec![
                ("1-9-1".into(), Tone::Plain),
                (namespaces.join(","), Tone::Plain),
            ]
        }
        fn sort_key(&self, _row: usize, _column: usize) -> SortKey<'_> {
            SortKey::Num(0)
        }
        fn filter_text(&self, _row: usize, _out: &mut String) {}
        fn empty_message(&self) -> &'static str {
            "none"
        }
    }

    #[test]
    fn a_cell_longer_than_the_bound_ends_in_an_ellipsis_and_draws() {
        let cells = row_cells(&Huge, 0);
        assert_eq!(cells[0].0, "1-9-1");
        let long = &cells[1].0;
        assert_eq!(long.chars().count(), MAX_CELL_CHARS);
        assert!(long.starts_with("ns-00000,ns-00001,") && long.ends_with('…'));

        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 10)).expect("terminal");
        let screen = Screen::new(super::super::views::ScreenId::View(
            super::super::views::ViewKind::Revisions,
        ));
        terminal
            .draw(|frame| {
                let area = frame.area();
                render(
                    frame,
                    area,
                    &Huge,
                    &[0],
                    &screen,
                    Line::raw("t"),
                    &Theme::default(),
                );
            })
            .expect("draw");
        let buffer = terminal.backend().buffer();
        let row: String = (0..200).map(|x| buffer[(x, 2)].symbol()).collect();
        assert!(row.contains("1-9-1    ns-00000,ns-00001,"), "{row}");
        assert!(row.trim_end().ends_with("…│"), "{row}");
    }

    #[test]
    fn flexible_columns_take_what_their_cells_need() {
        let columns = [
            Column::new("NAME", Constraint::Fill(2), 0),
            Column::new("READY", Constraint::Length(5), 0),
            Column::new("NOTE", Constraint::Fill(1), 0),
        ];
        // Room for everything: each gets what it wants, the rest stays blank.
        assert_eq!(
            column_widths(&columns, &[0, 1, 2], &[20, 5, 10], 100),
            vec![20, 5, 10]
        );
        // Too narrow: NOTE fits in its share, NAME gets the rest.
        assert_eq!(
            column_widths(&columns, &[0, 1, 2], &[60, 5, 10], 50),
            vec![33, 5, 10]
        );
        // Both too wide: shared by weight.
        assert_eq!(
            column_widths(&columns, &[0, 1, 2], &[60, 5, 60], 37),
            vec![20, 5, 10]
        );
    }

    #[test]
    fn the_window_follows_the_selection() {
        assert_eq!(scroll_offset(0, 0, 10, 100), 0);
        assert_eq!(scroll_offset(0, 10, 10, 100), 1);
        assert_eq!(scroll_offset(5, 7, 10, 100), 5);
        assert_eq!(scroll_offset(5, 2, 10, 100), 2);
        assert_eq!(
            scroll_offset(95, 19, 10, 20),
            10,
            "the list shrank under the window"
        );
    }
}
