//! An object's JSON text, kept so that what many objects repeat is kept once.
//!
//! The replicas of one workload carry the same values: a pod's containers, probes,
//! environment, volumes, annotations and most of its `managedFields` are the same text in
//! every pod of a ReplicaSet, while a few small values differ in each (its name, uid,
//! times, addresses, the name of its token volume in every container's mounts). So
//! [`encode`] writes an object's compact JSON as serde_json does and, below the top-level
//! fields, looks up every value whose text is at least `SHARED_MIN` bytes in one table of
//! shared pieces: an equal piece already kept is referenced instead of copied, a value
//! seen once before is kept there now, and the rest is written out, its own large values
//! looked up in turn. What stays the object's own is one buffer, the shared pieces
//! references into it. Served bytes stay the same: own bytes and pieces, in order, are the
//! compact JSON.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use serde_json::{Map, Value};

/// A value below the top-level fields whose text is at least this long is shared when
/// another object holds the same.
const SHARED_MIN: usize = 64;

/// An object's JSON text: its own bytes, with the shared pieces put in between.
#[derive(Debug, Clone)]
pub struct Text {
    /// Everything but the shared pieces, in order.
    own: Box<str>,
    /// Each shared piece, with the offset in `own` it stands before, in order.
    shared: Box<[(u32, Arc<str>)]>,
}

impl Text {
    /// The text's parts in order: runs of its own bytes and shared pieces.
    fn segments(&self) -> impl Iterator<Item = &str> {
        let mut at = 0;
        let mut next = self.shared.iter();
        let mut pending: Option<&Arc<str>> = None;
        std::iter::from_fn(move || {
            if let Some(piece) = pending.take() {
                return Some(&**piece);
            }
            match next.next() {
                Some((pos, piece)) => {
                    let pos = (*pos as usize).min(self.own.len());
                    let run = self.own.get(at..pos).unwrap_or_default();
                    at = pos;
                    if run.is_empty() {
                        Some(&**piece)
                    } else {
                        pending = Some(piece);
                        Some(run)
                    }
                }
                None => {
                    let run = self.own.get(at..).unwrap_or_default();
                    at = self.own.len();
                    (!run.is_empty()).then_some(run)
                }
            }
        })
    }

    /// The length of the whole text in bytes.
    pub fn len(&self) -> usize {
        self.own.len() + self.shared.iter().map(|(_, p)| p.len()).sum::<usize>()
    }

    /// The whole text: borrowed when it shares nothing.
    pub fn as_str(&self) -> Cow<'_, str> {
        if self.shared.is_empty() {
            return Cow::Borrowed(&self.own);
        }
        let mut out = String::with_capacity(self.len());
        self.segments().for_each(|s| out.push_str(s));
        Cow::Owned(out)
    }

    /// Appends the whole text to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.segments()
            .for_each(|s| out.extend_from_slice(s.as_bytes()));
    }

    /// Appends bytes `start..end` of the text to `out`.
    pub fn write_range(&self, out: &mut Vec<u8>, start: usize, end: usize) {
        self.write_spans(out, [(start, end)], b',');
    }

    /// Appends the byte ranges `spans` of the text to `out`, `separator` between them, in
    /// one walk over the text's parts: `spans` are in order and do not overlap.
    pub fn write_spans(
        &self,
        out: &mut Vec<u8>,
        spans: impl IntoIterator<Item = (usize, usize)>,
        separator: u8,
    ) {
        let mut segments = self.segments();
        // The part being read and where it starts in the whole text.
        let (mut part, mut part_at): (&[u8], usize) = (b"", 0);
        for (i, (start, end)) in spans.into_iter().enumerate() {
            if i > 0 {
                out.push(separator);
            }
            let mut at = start;
            while at < end {
                while part_at + part.len() <= at {
                    part_at += part.len();
                    match segments.next() {
                        Some(s) => part = s.as_bytes(),
                        None => return,
                    }
                }
                let to = (end - part_at).min(part.len());
                out.extend_from_slice(part.get(at - part_at..to).unwrap_or_default());
                at = part_at + to;
            }
        }
    }

    /// Bytes `start..end` of the text; `None` when they do not lie on character
    /// boundaries.
    pub fn range(&self, start: usize, end: usize) -> Option<Cow<'_, str>> {
        let mut at = 0;
        for s in self.segments() {
            if start >= at && end <= at + s.len() {
                return s.get(start - at..end - at).map(Cow::Borrowed);
            }
            at += s.len();
            if at > start {
                break;
            }
        }
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        self.write_range(&mut out, start, end);
        String::from_utf8(out).ok().map(Cow::Owned)
    }

    /// The heap this text holds alone, and its shared pieces (address, heap), for a
    /// measurement that counts each shared piece once.
    pub fn heap(&self, shared: &mut std::collections::HashMap<usize, usize>) -> usize {
        for (_, s) in &*self.shared {
            shared.insert(Arc::as_ptr(s) as *const u8 as usize, chunk(s.len() + 16));
        }
        chunk(self.own.len()) + chunk(self.shared.len() * std::mem::size_of::<(u32, Arc<str>)>())
    }
}

/// The heap a glibc-style allocator gives a request of `n` bytes: a 16-byte aligned
/// chunk with an 8-byte header, 32 bytes at least.
pub fn chunk(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).div_ceil(16).max(2) * 16
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.segments().try_for_each(|s| f.write_str(s))
    }
}

/// Writes a text from its parts, sharing what repeats.
struct Writer<'a> {
    /// The whole text so far, contiguous: what a value's text is looked up by.
    flat: Vec<u8>,
    /// The object's own bytes so far.
    own: Vec<u8>,
    shared: Vec<(u32, Arc<str>)>,
    table: MutexGuard<'a, Shared>,
}

impl Writer<'_> {
    /// Writes bytes of the object's own.
    fn raw(&mut self, bytes: &[u8]) {
        self.flat.extend_from_slice(bytes);
        self.own.extend_from_slice(bytes);
    }

    /// Writes a scalar, or a whole value not to be shared, as serde_json does.
    fn plain(&mut self, v: &Value) {
        let from = self.flat.len();
        // Writing a `Value` into a Vec does not fail.
        let _ = serde_json::to_writer(&mut self.flat, v);
        let Self { flat, own, .. } = self;
        own.extend_from_slice(flat.get(from..).unwrap_or_default());
    }

    fn key(&mut self, k: &str) {
        let from = self.flat.len();
        let _ = serde_json::to_writer(&mut self.flat, k);
        self.flat.push(b':');
        let Self { flat, own, .. } = self;
        own.extend_from_slice(flat.get(from..).unwrap_or_default());
    }

    /// Writes an object, each of its members as [`Writer::value`] does.
    fn members(&mut self, m: &Map<String, Value>) {
        self.raw(b"{");
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.key(k);
            self.value(v);
        }
        self.raw(b"}");
    }

    /// Writes a value, each of its parts long enough looked up among the shared pieces
    /// first, then the value as a whole.
    fn value(&mut self, v: &Value) {
        let (from, own_from, shared_from) = (self.flat.len(), self.own.len(), self.shared.len());
        match v {
            Value::Object(m) => self.members(m),
            Value::Array(a) => {
                self.raw(b"[");
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",");
                    }
                    self.value(v);
                }
                self.raw(b"]");
            }
            scalar => self.plain(scalar),
        }
        let text = self.flat.get(from..).unwrap_or_default();
        if text.len() < SHARED_MIN {
            return;
        }
        // serde_json writes UTF-8, and values start and end on character boundaries.
        let Ok(text) = std::str::from_utf8(text) else {
            return;
        };
        if let Some(piece) = self.table.shared(text) {
            self.own.truncate(own_from);
            self.shared.truncate(shared_from);
            self.shared
                .push((u32::try_from(own_from).unwrap_or(u32::MAX), piece));
        }
    }

    fn finish(self) -> Text {
        let own = String::from_utf8(self.own)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Text {
            own: Box::from(own.as_str()),
            shared: exact(self.shared),
        }
    }
}

/// The items of `v` in a block of just their size. Shrinking `v` in place is not enough:
/// mimalloc, meshtop's allocator, keeps a block that shrinks by less than half as it is,
/// which left up to half of each object's text unused.
pub fn exact<T>(v: Vec<T>) -> Box<[T]> {
    if v.len() == v.capacity() {
        return v.into_boxed_slice();
    }
    let mut out = Vec::with_capacity(v.len());
    out.extend(v);
    out.into_boxed_slice()
}

/// The compact JSON of a value (the bytes `serde_json::to_vec` writes) and where each of
/// its top-level fields lies in it.
pub fn encode(value: &Value) -> (Text, Box<[(u32, u32)]>) {
    let mut w = Writer {
        flat: Vec::with_capacity(1024),
        own: Vec::with_capacity(1024),
        shared: Vec::new(),
        table: shared().lock().unwrap_or_else(PoisonError::into_inner),
    };
    let Some(map) = value.as_object() else {
        w.plain(value);
        return (w.finish(), Box::default());
    };
    let mut fields = Vec::with_capacity(map.len());
    w.raw(b"{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        let start = w.flat.len();
        w.key(k);
        match v.as_object() {
            Some(inner) => w.members(inner),
            None => w.plain(v),
        }
        fields.push((
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(w.flat.len()).unwrap_or(u32::MAX),
        ));
    }
    w.raw(b"}");
    (w.finish(), fields.into_boxed_slice())
}

/// The shared pieces. A piece only this table holds is dropped at the next sweep, once a
/// quarter more pieces (at least `FIRST_SWEEP`) than the last sweep left have been added:
/// what pieces no object holds any more cost at most a quarter of those still held.
struct Shared {
    set: HashSet<Arc<str>>,
    sweep_at: usize,
    /// Hashes of the texts looked up once and not kept: a text is kept the second time
    /// it comes. Forgotten all at once when `SEEN_MAX` are held (the replicas of a
    /// workload come together).
    seen: HashSet<u64>,
    hasher: RandomState,
}

const FIRST_SWEEP: usize = 4096;
const SEEN_MAX: usize = 1 << 16;

impl Shared {
    /// The kept piece equal to `text`: one already kept, or a new one when the same text
    /// was looked up before; `None` the first time.
    fn shared(&mut self, text: &str) -> Option<Arc<str>> {
        if let Some(kept) = self.set.get(text) {
            return Some(kept.clone());
        }
        let hash = self.hasher.hash_one(text);
        if self.seen.remove(&hash) {
            return Some(self.keep(text));
        }
        if self.seen.len() >= SEEN_MAX {
            self.seen.clear();
        }
        self.seen.insert(hash);
        None
    }

    /// Keeps `text` as a piece.
    fn keep(&mut self, text: &str) -> Arc<str> {
        if self.set.len() >= self.sweep_at {
            self.set.retain(|p| Arc::strong_count(p) > 1);
            self.sweep_at = self.set.len() + (self.set.len() / 4).max(FIRST_SWEEP);
        }
        let piece: Arc<str> = Arc::from(text);
        self.set.insert(piece.clone());
        piece
    }
}

fn shared() -> &'static Mutex<Shared> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    SHARED.get_or_init(|| {
        Mutex::new(Shared {
            set: HashSet::new(),
            sweep_at: FIRST_SWEEP,
            seen: HashSet::new(),
            hasher: RandomState::new(),
        })
    })
}

/// The kept piece equal to `text`, kept now if it was not.
#[cfg(test)]
fn intern(text: &str) -> Arc<str> {
    let mut s = shared().lock().unwrap_or_else(PoisonError::into_inner);
    match s.set.get(text) {
        Some(kept) => kept.clone(),
        None => s.keep(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(t: &Text) -> Vec<*const u8> {
        t.shared
            .iter()
            .map(|(_, p)| Arc::as_ptr(p) as *const u8)
            .collect()
    }

    #[test]
    fn pieces_join_to_the_compact_json_and_repeated_values_are_kept_once() {
        let (long, image) = ("x".repeat(SHARED_MIN), "v".repeat(SHARED_MIN));
        // Replicas: the same containers but for one mount each names differently.
        let pod = |name: &str, token: &str| {
            json!({"kind": "Pod", "metadata": {"name": name, "managedFields": [{"manager": long, "time": name}]},
                "spec": {"containers": [{"name": "c", "image": image, "env": [{"name": "E", "value": "\u{e9}t\u{e9} \"q\""}],
                    "volumeMounts": [{"name": token, "mountPath": "/var/run"}]}], "nodeName": "n1"}, "n": 1})
        };
        let objects = [pod("a", "t-a"), pod("b", "t-b"), pod("c", "t-c")];
        let texts: Vec<_> = objects.iter().map(encode).collect();
        for (o, (t, fields)) in objects.iter().zip(&texts) {
            let whole = serde_json::to_string(o).expect("json");
            assert_eq!(t.as_str(), whole);
            assert_eq!(t.to_string(), whole);
            assert_eq!(t.len(), whole.len());
            let mut out = Vec::new();
            t.write(&mut out);
            assert_eq!(out, whole.as_bytes());
            // Ranges read across pieces.
            for &(start, end) in &**fields {
                let (s, e) = (start as usize, end as usize);
                assert_eq!(t.range(s, e).as_deref(), whole.get(s..e));
                let mut out = Vec::new();
                t.write_range(&mut out, s, e);
                assert_eq!(out, whole.as_bytes()[s..e]);
            }
            for (s, e) in [(0, 1), (5, 200), (whole.len() - 3, whole.len())] {
                assert_eq!(t.range(s, e).as_deref(), whole.get(s..e), "{s}..{e}");
            }
        }
        // The first is all its own; from the second on, the long values that repeat
        // (the image, the manager) are one piece each, inside values that differ.
        let [a, b, c] = [&texts[0].0, &texts[1].0, &texts[2].0];
        assert!(a.shared.is_empty(), "{:?}", a.shared);
        assert!(
            b.own.len() + 2 * SHARED_MIN <= a.own.len(),
            "{} of {}",
            b.own.len(),
            a.own.len()
        );
        assert_eq!(pointers(b), pointers(c));
        assert_eq!(pointers(b).len(), 2, "{:?}", b.shared);
        assert!(b.own.contains("t-b") && !b.own.contains(&long) && !b.own.contains(&image));
        // Not an object, and short values: all its own.
        let (t, f) = encode(&json!([1, 2]));
        assert_eq!((t.as_str().as_ref(), f.len()), ("[1,2]", 0));
        assert!(matches!(t.as_str(), Cow::Borrowed(_)));
    }

    #[test]
    fn a_value_seen_again_whole_is_one_piece() {
        let annotations = json!({"a": "y".repeat(SHARED_MIN), "b": "z".repeat(SHARED_MIN / 2), "c": "w".repeat(SHARED_MIN / 2)});
        let obj = |name: &str| json!({"metadata": {"name": name, "annotations": annotations}});
        let texts: Vec<Text> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| encode(&obj(n)).0)
            .collect();
        // Second: the long annotation; third on: all the annotations, one piece.
        assert_eq!(pointers(&texts[2]).len(), 1);
        assert_eq!(pointers(&texts[2]), pointers(&texts[3]));
        assert_eq!(
            texts[3].shared.first().map(|(_, p)| p.to_string()),
            Some(annotations.to_string())
        );
        for (t, n) in texts.iter().zip(["a", "b", "c", "d"]) {
            assert_eq!(t.as_str(), obj(n).to_string());
        }
    }

    #[test]
    fn pieces_no_object_holds_are_swept() {
        let obj = || json!({"metadata": {"a": format!("held {}", "y".repeat(SHARED_MIN))}});
        let _first = encode(&obj()).0;
        let held = encode(&obj()).0;
        let gone = format!("\"gone {}\"", "z".repeat(SHARED_MIN));
        drop(intern(&gone));
        let kept = |text: &str| {
            shared()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .set
                .contains(text)
        };
        assert!(kept(&gone));
        // Other pieces come and go until a sweep has run.
        let mut added = 0;
        while kept(&gone) && added < 10 * FIRST_SWEEP + 1_000_000 {
            drop(intern(&format!("{added} {}", "w".repeat(SHARED_MIN))));
            added += 1;
        }
        assert!(!kept(&gone), "swept after {added} pieces");
        // What an object holds stays, and is still the one piece for that text.
        let again = encode(&obj()).0;
        assert_eq!(pointers(&held).len(), 1);
        assert_eq!(pointers(&held), pointers(&again));
    }
}
