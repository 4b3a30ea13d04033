//! Shared strings: every namespace, node, label key and value is stored once, and so is every
//! distinct label set (pods of one template share one `Labels`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// The hasher of the model's own tables: foldhash, seeded per process, several times
/// faster than std's SipHash on short strings (SipHash was 4 % of a 100k-pod full sync).
pub(crate) type Hashing = foldhash::fast::RandomState;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};

use super::labels::Labels;
use super::sync::Text;

/// An interned string; clones share one allocation.
pub type Name = Arc<str>;

static EMPTY: LazyLock<Name> = LazyLock::new(|| Arc::from(""));

/// The empty name (the namespace of cluster-scoped objects), without allocating.
pub fn empty() -> Name {
    EMPTY.clone()
}

/// A string of a [`Symbols`] table in 4 bytes (and `Option<Sym>` too), where a `Name` takes
/// 16: what the model keeps per proxy many times over (node, versions, revision, cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(NonZeroU32);

/// The strings behind [`Sym`]s, each once. Only few distinct strings are kept this way
/// (node names, versions, revisions, clusters, proxy types), and they are kept for the
/// table's life: a symbol never changes its string.
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    names: Vec<Name>,
    ids: HashMap<Name, Sym, Hashing>,
    /// The last strings asked for, found by pointer: the proxies of one answer share their
    /// cluster, type and version, interned once by the poller.
    recent: VecDeque<(Name, Sym)>,
}

/// How many strings `Symbols::recent` holds.
const RECENT: usize = 4;

impl Symbols {
    /// The symbol of a string, made on first sight.
    pub fn id(&mut self, s: &Name) -> Sym {
        if let Some((_, id)) = self.recent.iter().find(|(n, _)| Arc::ptr_eq(n, s)) {
            return *id;
        }
        let id = self.lookup(s);
        if self.recent.len() == RECENT {
            self.recent.pop_back();
        }
        self.recent.push_front((s.clone(), id));
        id
    }

    fn lookup(&mut self, s: &Name) -> Sym {
        if let Some(&id) = self.ids.get(s.as_ref()) {
            return id;
        }
        // Past 4 billion distinct strings the last symbol is reused rather than
        // wrapping: unreachable for the few strings kept here.
        let next = u32::try_from(self.names.len() + 1).unwrap_or(u32::MAX);
        let id = Sym(NonZeroU32::new(next).unwrap_or(NonZeroU32::MAX));
        self.names.push(s.clone());
        self.ids.insert(s.clone(), id);
        id
    }

    /// The string of a symbol (the empty string for one of another table).
    pub fn get(&self, id: Sym) -> &Name {
        static NONE: LazyLock<Name> = LazyLock::new(empty);
        self.names
            .get(id.0.get() as usize - 1)
            .unwrap_or_else(|| &NONE)
    }
}

/// Values (strings, label sets) kept once each for as long as something holds them: what
/// the pods' rows keep in 4 bytes where a `Name` takes 16 and a `Labels` 16. Unlike
/// [`Symbols`], a value is counted: `take` adds a holder, `give_back` removes one, and the
/// slot of a value nobody holds any more is reused (node names, namespaces and owners come
/// and go for as long as meshtop runs).
#[derive(Debug)]
pub(crate) struct Counted<T> {
    slots: Vec<Option<(T, u32)>>,
    ids: HashMap<T, Sym, Hashing>,
    free: Vec<Sym>,
}

impl<T> Default for Counted<T> {
    fn default() -> Self {
        Counted {
            slots: Vec::new(),
            ids: HashMap::default(),
            free: Vec::new(),
        }
    }
}

impl<T: Clone + Eq + std::hash::Hash> Counted<T> {
    /// The symbol of a value, one holder more.
    pub fn take(&mut self, value: &T) -> Sym {
        if let Some(&id) = self.ids.get(value) {
            self.hold(id);
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.slots.get_mut(slot_of(id)) {
                    *slot = Some((value.clone(), 1));
                }
                id
            }
            None => {
                self.slots.push(Some((value.clone(), 1)));
                // Past 4 billion distinct values the last symbol is reused rather than
                // wrapping: unreachable for what a cluster holds.
                let next = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                Sym(NonZeroU32::new(next).unwrap_or(NonZeroU32::MAX))
            }
        };
        self.ids.insert(value.clone(), id);
        id
    }

    /// [`take`](Self::take) of an optional value.
    pub fn take_opt(&mut self, value: Option<&T>) -> Option<Sym> {
        value.map(|v| self.take(v))
    }

    fn hold(&mut self, id: Sym) {
        if let Some(Some((_, n))) = self.slots.get_mut(slot_of(id)) {
            *n += 1;
        }
    }

    /// One holder less; the value is forgotten with its last.
    pub fn give_back(&mut self, id: Sym) {
        let Some(slot) = self.slots.get_mut(slot_of(id)) else {
            return;
        };
        let last = match slot {
            Some((_, n)) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => true,
            None => false,
        };
        if last && let Some((value, _)) = slot.take() {
            self.ids.remove(&value);
            self.free.push(id);
        }
    }

    /// [`give_back`](Self::give_back) of an optional symbol.
    pub fn give_back_opt(&mut self, id: Option<Sym>) {
        if let Some(id) = id {
            self.give_back(id);
        }
    }

    /// The symbol of `value` for a holder that held `held`: the same one, without a
    /// lookup, while the value has not changed.
    pub fn retake(&mut self, held: Sym, value: &T) -> Sym {
        if self.get(held) == Some(value) {
            return held;
        }
        let id = self.take(value);
        self.give_back(held);
        id
    }

    /// [`retake`](Self::retake) of optional values.
    pub fn retake_opt(&mut self, held: Option<Sym>, value: Option<&T>) -> Option<Sym> {
        match (held, value) {
            (Some(h), Some(v)) => Some(self.retake(h, v)),
            (None, v) => self.take_opt(v),
            (Some(h), None) => {
                self.give_back(h);
                None
            }
        }
    }

    /// The value of a symbol (`None` for one given back by all its holders).
    pub fn get(&self, id: Sym) -> Option<&T> {
        self.slots
            .get(slot_of(id))
            .and_then(|s| s.as_ref())
            .map(|(v, _)| v)
    }

    /// Distinct values held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    #[cfg(test)]
    pub fn contains(&self, value: &T) -> bool {
        self.ids.contains_key(value)
    }
}

fn slot_of(id: Sym) -> usize {
    id.0.get() as usize - 1
}

/// Hands out one shared `Name` per distinct string and one shared `Labels` per distinct
/// label set.
#[derive(Debug, Default)]
pub struct Interner {
    names: HashSet<Name, Hashing>,
    label_sets: HashSet<Labels, Hashing>,
    texts: HashSet<Text, Hashing>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Name {
        if let Some(n) = self.names.get(s) {
            return n.clone();
        }
        let n: Name = Arc::from(s);
        self.names.insert(n.clone());
        n
    }

    /// One shared `Text` per distinct string (istiod's nonces: many proxies and types
    /// repeat one push's).
    pub fn text(&mut self, s: &str) -> Text {
        if let Some(t) = self.texts.get(s) {
            return t.clone();
        }
        let t = Text::from(s);
        if !s.is_empty() {
            self.texts.insert(t.clone());
        }
        t
    }

    /// The shared label set for a Kubernetes label map (`None` is the empty set).
    pub fn labels(&mut self, map: Option<&BTreeMap<String, String>>) -> Labels {
        let pairs = map
            .into_iter()
            .flatten()
            .map(|(k, v)| (self.intern(k), self.intern(v)))
            .collect();
        self.label_set(Labels::new(pairs))
    }

    /// The shared copy of a label set built elsewhere.
    pub fn label_set(&mut self, labels: Labels) -> Labels {
        if let Some(l) = self.label_sets.get(&labels) {
            return l.clone();
        }
        self.label_sets.insert(labels.clone());
        labels
    }

    /// Forgets strings and label sets nothing else holds any more.
    pub fn collect_garbage(&mut self) {
        self.label_sets.retain(|l| Arc::strong_count(&l.0) > 1);
        self.names.retain(|n| Arc::strong_count(n) > 1);
        self.texts.retain(Text::shared);
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Distinct label sets held.
    pub fn label_sets(&self) -> usize {
        self.label_sets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation() {
        let mut i = Interner::default();
        let a = i.intern("istio-system");
        let b = i.intern("istio-system");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(i.len(), 1);
        drop((a, b));
        i.collect_garbage();
        assert!(i.is_empty());
    }

    #[test]
    fn symbols_are_four_bytes_and_give_back_their_strings() {
        assert_eq!(std::mem::size_of::<Option<Sym>>(), 4);
        let mut s = Symbols::default();
        let a = s.id(&Name::from("node-1"));
        let b = s.id(&Name::from("node-2"));
        assert_ne!(a, b);
        assert_eq!(s.id(&Name::from("node-1")), a);
        assert_eq!(s.get(b).as_ref(), "node-2");
        assert_eq!(s.get(a).as_ref(), "node-1");
        // A symbol of another table reads as the empty string, not a panic.
        let mut other = Symbols::default();
        for i in 0..3 {
            other.id(&Name::from(format!("x{i}")));
        }
        let foreign = other.id(&Name::from("x9"));
        assert_eq!(s.get(foreign).as_ref(), "");
    }

    #[test]
    fn counted_values_live_while_held_and_their_slots_are_reused() {
        let mut c: Counted<Name> = Counted::default();
        let a = c.take(&Name::from("node-1"));
        let b = c.take(&Name::from("node-1"));
        assert_eq!(a, b);
        let other = c.take(&Name::from("node-2"));
        assert_ne!(a, other);
        c.give_back(a);
        assert_eq!(c.get(b).map(|n| n.as_ref()), Some("node-1"));
        c.give_back(b);
        assert_eq!(c.get(a), None);
        assert_eq!(c.len(), 1);
        // The freed slot goes to the next new value; the held one keeps its own.
        let next = c.take(&Name::from("node-3"));
        assert_eq!(next, a);
        assert_eq!(c.get(other).map(|n| n.as_ref()), Some("node-2"));
        // Unchanged, the same symbol; changed, the new value's, the old given back.
        assert_eq!(c.retake(other, &Name::from("node-2")), other);
        let moved = c.retake(other, &Name::from("node-3"));
        assert_eq!(moved, next);
        assert_eq!(c.get(other), None);
        assert_eq!(c.retake_opt(Some(moved), None), None);
        c.give_back(next);
        assert_eq!(c.len(), 0);
        // Giving back what is not held is harmless.
        c.give_back(next);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn equal_texts_are_shared_until_nothing_holds_them() {
        let mut i = Interner::default();
        let a = i.text("v-42");
        let b = i.text("v-42");
        assert_eq!(a, b);
        assert!(a.shared() && b.shared());
        assert!(i.text("").is_empty());
        drop((a, b));
        i.collect_garbage();
        assert!(i.texts.is_empty());
    }

    #[test]
    fn equal_label_sets_share_one_allocation() {
        let mut i = Interner::default();
        let map: BTreeMap<String, String> = [("app", "reviews"), ("version", "v1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let a = i.labels(Some(&map));
        let b = i.labels(Some(&map));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(i.label_sets(), 1);
        assert_eq!(a.get("version").map(|v| v.as_ref()), Some("v1"));
        assert!(i.labels(None).is_empty());
        drop((a, b));
        i.collect_garbage();
        assert_eq!(i.label_sets(), 0);
        assert!(i.is_empty());
    }
}
