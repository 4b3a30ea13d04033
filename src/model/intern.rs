//! Shared strings: every namespace, node, label key and value is stored once, and so is every
//! distinct label set (pods of one template share one `Labels`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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
    ids: HashMap<Name, Sym>,
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

/// Hands out one shared `Name` per distinct string and one shared `Labels` per distinct
/// label set.
#[derive(Debug, Default)]
pub struct Interner {
    names: HashSet<Name>,
    label_sets: HashSet<Labels>,
    texts: HashSet<Text>,
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
