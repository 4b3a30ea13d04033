//! Shared strings: every namespace, node, label key and value is stored once.

use std::collections::HashSet;
use std::sync::Arc;

/// An interned string; clones share one allocation.
pub type Name = Arc<str>;

/// Hands out one shared `Name` per distinct string.
#[derive(Debug, Default)]
pub struct Interner {
    names: HashSet<Name>,
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

    /// Forgets strings nothing else holds any more.
    pub fn collect_garbage(&mut self) {
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
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
}
