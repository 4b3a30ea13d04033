//! Shared strings: every namespace, node, label key and value is stored once, and so is every
//! distinct label set (pods of one template share one `Labels`).

use std::collections::{BTreeMap, HashSet};
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
