//! An object's JSON text, kept in pieces so that what many objects repeat is kept once.
//!
//! The replicas of one workload carry the same large values: a pod's `managedFields`,
//! its containers, init containers, volumes and annotations are the same text in every
//! pod of a ReplicaSet. [`encode`] writes an object's compact JSON as serde_json does and
//! cuts out each large value one level below the top (`metadata.managedFields`,
//! `spec.containers`, ...): that text is looked up in one table of shared pieces, and an
//! equal piece already kept is reused instead of copied. Served bytes stay the same: the
//! pieces, concatenated, are the compact JSON.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::Value;

/// A value one level below the top whose text is at least this long is shared.
const SHARED_MIN: usize = 256;

#[derive(Debug, Clone)]
enum Piece {
    Own(Box<str>),
    Shared(Arc<str>),
}

impl Piece {
    fn as_str(&self) -> &str {
        match self {
            Piece::Own(s) => s,
            Piece::Shared(s) => s,
        }
    }
}

/// An object's JSON text as pieces, in order.
#[derive(Debug, Clone)]
pub struct Text {
    pieces: Box<[Piece]>,
}

impl Text {
    /// The length of the whole text in bytes.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.as_str().len()).sum()
    }

    /// The whole text: borrowed when it is one piece.
    pub fn as_str(&self) -> Cow<'_, str> {
        match &*self.pieces {
            [] => Cow::Borrowed(""),
            [one] => Cow::Borrowed(one.as_str()),
            many => Cow::Owned(many.iter().map(Piece::as_str).collect()),
        }
    }

    /// Appends the whole text to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        for p in &*self.pieces {
            out.extend_from_slice(p.as_str().as_bytes());
        }
    }

    /// Appends bytes `start..end` of the text to `out`.
    pub fn write_range(&self, out: &mut Vec<u8>, start: usize, end: usize) {
        let mut at = 0;
        for p in &*self.pieces {
            let s = p.as_str().as_bytes();
            let (from, to) = (start.max(at), end.min(at + s.len()));
            if from < to {
                out.extend_from_slice(s.get(from - at..to - at).unwrap_or_default());
            }
            at += s.len();
            if at >= end {
                break;
            }
        }
    }

    /// Bytes `start..end` of the text; `None` when they do not lie on character
    /// boundaries.
    pub fn range(&self, start: usize, end: usize) -> Option<Cow<'_, str>> {
        let mut at = 0;
        for p in &*self.pieces {
            let s = p.as_str();
            if start >= at && end <= at + s.len() {
                return s.get(start - at..end - at).map(Cow::Borrowed);
            }
            at += s.len();
        }
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        self.write_range(&mut out, start, end);
        String::from_utf8(out).ok().map(Cow::Owned)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pieces.iter().try_for_each(|p| f.write_str(p.as_str()))
    }
}

/// Writes a text from its parts, cutting out the shared ones.
struct Writer {
    pieces: Vec<Piece>,
    /// What follows the last piece, not yet cut.
    buf: Vec<u8>,
    /// The length of the pieces already cut.
    done: usize,
}

impl Writer {
    fn pos(&self) -> usize {
        self.done + self.buf.len()
    }

    fn cut(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.buf);
        self.done += bytes.len();
        // serde_json writes UTF-8 and cuts fall between values.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        self.pieces.push(Piece::Own(text.into_boxed_str()));
    }

    /// Writes a value: shared when it is long enough.
    fn value(&mut self, v: &Value, share: bool) {
        if !share {
            // Writing a `Value` into a Vec does not fail.
            let _ = serde_json::to_writer(&mut self.buf, v);
            return;
        }
        let mut own = Vec::new();
        let _ = serde_json::to_writer(&mut own, v);
        match std::str::from_utf8(&own) {
            Ok(text) if text.len() >= SHARED_MIN => {
                self.cut();
                self.done += text.len();
                self.pieces.push(Piece::Shared(intern(text)));
            }
            _ => self.buf.extend_from_slice(&own),
        }
    }

    fn key(&mut self, k: &str) {
        let _ = serde_json::to_writer(&mut self.buf, k);
        self.buf.push(b':');
    }
}

/// The compact JSON of a value (the bytes `serde_json::to_vec` writes) and where each of
/// its top-level fields lies in it.
pub fn encode(value: &Value) -> (Text, Box<[(u32, u32)]>) {
    let mut w = Writer {
        pieces: Vec::new(),
        buf: Vec::with_capacity(1024),
        done: 0,
    };
    let Some(map) = value.as_object() else {
        w.value(value, false);
        w.cut();
        return (w.finish(), Box::default());
    };
    let mut fields = Vec::with_capacity(map.len());
    w.buf.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            w.buf.push(b',');
        }
        let start = w.pos();
        w.key(k);
        match v.as_object() {
            Some(inner) => {
                w.buf.push(b'{');
                for (j, (k, v)) in inner.iter().enumerate() {
                    if j > 0 {
                        w.buf.push(b',');
                    }
                    w.key(k);
                    w.value(v, true);
                }
                w.buf.push(b'}');
            }
            None => w.value(v, false),
        }
        fields.push((
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(w.pos()).unwrap_or(u32::MAX),
        ));
    }
    w.buf.push(b'}');
    w.cut();
    (w.finish(), fields.into_boxed_slice())
}

impl Writer {
    fn finish(self) -> Text {
        Text {
            pieces: self.pieces.into_boxed_slice(),
        }
    }
}

/// The shared pieces. A piece only this table holds is dropped at the next sweep, once a
/// quarter more pieces (at least `FIRST_SWEEP`) than the last sweep left have been added:
/// what pieces no object holds any more cost at most a quarter of those still held.
struct Shared {
    set: HashSet<Arc<str>>,
    sweep_at: usize,
}

const FIRST_SWEEP: usize = 4096;

fn shared() -> &'static Mutex<Shared> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    SHARED.get_or_init(|| {
        Mutex::new(Shared {
            set: HashSet::new(),
            sweep_at: FIRST_SWEEP,
        })
    })
}

/// The kept piece equal to `text`, or a new one.
fn intern(text: &str) -> Arc<str> {
    let mut s = shared().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(kept) = s.set.get(text) {
        return kept.clone();
    }
    if s.set.len() >= s.sweep_at {
        s.set.retain(|p| Arc::strong_count(p) > 1);
        s.sweep_at = s.set.len() + (s.set.len() / 4).max(FIRST_SWEEP);
    }
    let piece: Arc<str> = Arc::from(text);
    s.set.insert(piece.clone());
    piece
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pieces_join_to_the_compact_json_and_repeated_values_are_kept_once() {
        let long = "x".repeat(SHARED_MIN);
        let a = json!({"kind": "Pod", "metadata": {"name": "a", "managedFields": [{"manager": long}]},
            "spec": {"containers": [{"name": "c", "image": long}], "nodeName": "n1"}, "n": 1});
        let b = json!({"kind": "Pod", "metadata": {"name": "b", "managedFields": [{"manager": long}]},
            "spec": {"containers": [{"name": "c", "image": long}], "nodeName": "n2"}, "n": 1});
        let (ta, fa) = encode(&a);
        let (tb, _) = encode(&b);
        assert_eq!(ta.as_str(), serde_json::to_string(&a).expect("json"));
        assert_eq!(tb.as_str(), serde_json::to_string(&b).expect("json"));
        assert_eq!(ta.len(), ta.as_str().len());
        let shared: Vec<&Arc<str>> = ta
            .pieces
            .iter()
            .zip(tb.pieces.iter())
            .filter_map(|p| match p {
                (Piece::Shared(x), Piece::Shared(y)) => Some((x, y)),
                _ => None,
            })
            .map(|(x, y)| {
                assert!(Arc::ptr_eq(x, y), "one copy of {x}");
                x
            })
            .collect();
        assert_eq!(shared.len(), 2, "{:?}", ta.pieces);
        // Ranges read across pieces.
        let whole = ta.as_str().into_owned();
        for &(start, end) in &*fa {
            let (s, e) = (start as usize, end as usize);
            assert_eq!(ta.range(s, e).as_deref(), whole.get(s..e));
            let mut out = Vec::new();
            ta.write_range(&mut out, s, e);
            assert_eq!(out, whole.as_bytes()[s..e]);
        }
        assert_eq!(ta.to_string(), whole);
        // Not an object, and short values: one piece.
        let (t, f) = encode(&json!([1, 2]));
        assert_eq!((t.as_str().as_ref(), f.len()), ("[1,2]", 0));
        assert!(matches!(t.as_str(), Cow::Borrowed(_)));
    }

    #[test]
    fn pieces_no_object_holds_are_swept() {
        let held =
            encode(&json!({"metadata": {"a": format!("held {}", "y".repeat(SHARED_MIN))}})).0;
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
        let again =
            encode(&json!({"metadata": {"a": format!("held {}", "y".repeat(SHARED_MIN))}})).0;
        let ptrs = |t: &Text| {
            t.pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Shared(a) => Some(Arc::as_ptr(a)),
                    Piece::Own(_) => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(ptrs(&held).len(), 1);
        assert_eq!(ptrs(&held), ptrs(&again));
    }
}
