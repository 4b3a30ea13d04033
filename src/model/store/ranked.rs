//! A map in key order that also reaches its i-th entry in O(log n): short sorted chunks and
//! a Fenwick tree of their lengths. The Proxies view reads one page of 100,000 lines at any
//! scroll position without walking the lines before it, and a line comes or goes without
//! moving the others.

use std::fmt;

/// A chunk splits in two above this many entries; entries are moved within one chunk only,
/// so this bounds the cost of an insert or a removal.
const MAX_CHUNK: usize = 128;
/// A chunk this short is merged into its neighbour when they fit together, so that the
/// chunks stay few after many removals.
const MIN_CHUNK: usize = 32;
/// Chunks built at once are half full: room to grow before they split.
const FILLED_CHUNK: usize = MAX_CHUNK / 2;

pub(crate) struct RankedMap<K, V> {
    /// Non-empty, each sorted, in order.
    chunks: Vec<Vec<(K, V)>>,
    /// Fenwick tree (1-based) over the chunks' lengths.
    tree: Vec<usize>,
    len: usize,
}

impl<K, V> Default for RankedMap<K, V> {
    fn default() -> Self {
        RankedMap {
            chunks: Vec::new(),
            tree: vec![0],
            len: 0,
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for RankedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.chunks.iter().flatten().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: PartialEq, V: PartialEq> PartialEq for RankedMap<K, V> {
    /// The same entries in the same order, however they are chunked.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<K, V> RankedMap<K, V> {
    /// From entries already in key order, each key once.
    pub fn from_sorted(entries: Vec<(K, V)>) -> Self {
        let len = entries.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(FILLED_CHUNK));
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            chunks.push(entries.by_ref().take(FILLED_CHUNK).collect());
        }
        let mut map = RankedMap {
            chunks,
            tree: Vec::new(),
            len,
        };
        map.rebuild();
        map
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.chunks.iter().flatten().map(|(k, v)| (k, v))
    }

    /// The entry at position `i` in key order.
    pub fn at(&self, i: usize) -> Option<(&K, &V)> {
        if i >= self.len {
            return None;
        }
        // Fenwick descent: the last chunk whose prefix count is at most `i`.
        let mut chunk = 0;
        let mut rest = i;
        let mut step = (self.tree.len() - 1).next_power_of_two();
        while step > 0 {
            let next = chunk + step;
            if next < self.tree.len() && self.tree[next] <= rest {
                chunk = next;
                rest -= self.tree[next];
            }
            step /= 2;
        }
        self.chunks.get(chunk)?.get(rest).map(|(k, v)| (k, v))
    }

    fn grow(&mut self, chunk: usize) {
        let mut i = chunk + 1;
        while i < self.tree.len() {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    fn shrink(&mut self, chunk: usize) {
        let mut i = chunk + 1;
        while i < self.tree.len() {
            self.tree[i] -= 1;
            i += i & i.wrapping_neg();
        }
    }

    /// After chunks were split, merged, added or removed: O(chunks).
    fn rebuild(&mut self) {
        let n = self.chunks.len();
        self.tree.clear();
        self.tree.push(0);
        self.tree.extend(self.chunks.iter().map(Vec::len));
        for i in 1..=n {
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                self.tree[parent] += self.tree[i];
            }
        }
    }
}

/// How one entry of a `RankedMap` moved, by its position: what a list kept from the map's
/// entries (filtered, sorted) is patched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    /// A new entry at this position: the entries from there on moved one down.
    Inserted(usize),
    /// The entry at this position went: the entries after it moved one up.
    Removed(usize),
    /// The entry at this position changed in place.
    Changed(usize),
}

/// Where a key is in a `RankedMap`, or would go: valid until the map changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spot {
    chunk: usize,
    index: usize,
    found: bool,
}

impl<K: Ord, V> RankedMap<K, V> {
    /// Finds where `key` is, or would go: one search, then `at_spot` and `put` use it.
    #[cfg(test)]
    pub fn locate(&self, key: &K) -> Spot {
        self.locate_by(|k| k.cmp(key))
    }

    #[cfg(test)]
    pub fn get(&self, key: &K) -> Option<&V> {
        self.at_spot(self.locate(key))
    }

    /// Adds or replaces an entry; the value it replaced.
    #[cfg(test)]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let spot = self.locate(&key);
        self.put(spot, key, Some(value))
    }

    #[cfg(test)]
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let spot = self.locate(key);
        spot.found.then(|| self.take(spot.chunk, spot.index))
    }
}

impl<K, V> RankedMap<K, V> {
    /// [`locate`](Self::locate) for keys ordered by what they stand for rather than by
    /// themselves: `cmp` tells how a held key stands to the one looked for.
    pub fn locate_by(&self, cmp: impl Fn(&K) -> std::cmp::Ordering) -> Spot {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|(last, _)| cmp(last).is_lt()))
            .min(self.chunks.len().saturating_sub(1));
        let (index, found) = match self
            .chunks
            .get(chunk)
            .map(|c| c.binary_search_by(|(k, _)| cmp(k)))
        {
            Some(Ok(i)) => (i, true),
            Some(Err(i)) => (i, false),
            None => (0, false),
        };
        Spot {
            chunk,
            index,
            found,
        }
    }

    /// The position in key order of the entry at `spot` (or where it would go).
    pub fn rank(&self, spot: Spot) -> usize {
        // Fenwick prefix sum: the lengths of the chunks before `spot.chunk`.
        let mut before = 0;
        let mut i = spot.chunk.min(self.tree.len().saturating_sub(1));
        while i > 0 {
            before += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        before + spot.index
    }

    /// The value at a spot `locate` found.
    pub fn at_spot(&self, spot: Spot) -> Option<&V> {
        if !spot.found {
            return None;
        }
        self.chunks.get(spot.chunk)?.get(spot.index).map(|(_, v)| v)
    }

    /// Gives the entry at a spot `locate` found another key that stands at the same place
    /// in the order; false if the spot holds no entry.
    pub fn rekey(&mut self, spot: Spot, key: K) -> bool {
        match self
            .chunks
            .get_mut(spot.chunk)
            .and_then(|c| c.get_mut(spot.index))
        {
            Some(entry) if spot.found => {
                entry.0 = key;
                true
            }
            _ => false,
        }
    }

    /// Puts `value` (or nothing) at the spot `locate` found for `key`, the map unchanged
    /// since; the value it replaced.
    pub fn put(&mut self, spot: Spot, key: K, value: Option<V>) -> Option<V> {
        let Spot {
            chunk: c,
            index: i,
            found,
        } = spot;
        match (found, value) {
            (true, Some(value)) => Some(std::mem::replace(&mut self.chunks[c][i].1, value)),
            (true, None) => Some(self.take(c, i)),
            (false, Some(value)) => {
                self.add(c, i, key, value);
                None
            }
            (false, None) => None,
        }
    }

    fn add(&mut self, c: usize, i: usize, key: K, value: V) {
        self.len += 1;
        if self.chunks.is_empty() {
            self.chunks.push(vec![(key, value)]);
            self.rebuild();
            return;
        }
        self.chunks[c].insert(i, (key, value));
        if self.chunks[c].len() > MAX_CHUNK {
            let half = self.chunks[c].len() / 2;
            let tail = self.chunks[c].split_off(half);
            self.chunks.insert(c + 1, tail);
            self.rebuild();
        } else {
            self.grow(c);
        }
    }

    fn take(&mut self, c: usize, i: usize) -> V {
        let (_, value) = self.chunks[c].remove(i);
        self.len -= 1;
        let short = self.chunks[c].len();
        if short == 0 {
            self.chunks.remove(c);
            self.rebuild();
        } else if short < MIN_CHUNK
            && let Some(next) = self.chunks.get(c + 1).map(Vec::len)
            && short + next <= MAX_CHUNK
        {
            let next = self.chunks.remove(c + 1);
            self.chunks[c].extend(next);
            self.rebuild();
        } else {
            self.shrink(c);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    impl<K: Ord, V> RankedMap<K, V> {
        fn check(&self) {
            assert!(self.chunks.iter().all(|c| !c.is_empty()), "no empty chunk");
            assert!(self.chunks.iter().all(|c| c.len() <= MAX_CHUNK));
            let keys: Vec<&K> = self.iter().map(|(k, _)| k).collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "in order");
            assert_eq!(keys.len(), self.len);
            let lengths: Vec<usize> = self.chunks.iter().map(Vec::len).collect();
            let mut expected = vec![0; lengths.len() + 1];
            for (c, n) in lengths.iter().enumerate() {
                let mut i = c + 1;
                while i < expected.len() {
                    expected[i] += n;
                    i += i & i.wrapping_neg();
                }
            }
            assert_eq!(self.tree, expected, "the tree counts the chunks");
        }
    }

    /// xorshift: the same sequence on every run.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn agrees_with_a_btree_map_through_inserts_and_removals() {
        let mut ranked = RankedMap::default();
        let mut plain = BTreeMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15;
        // Grow to a few thousand, then shrink to a few: splits, then merges.
        for round in 0..20_000u32 {
            let key = next(&mut state) % 4_000;
            let grow = round < 12_000;
            if next(&mut state).is_multiple_of(3) || !grow {
                assert_eq!(ranked.remove(&key), plain.remove(&key), "remove {key}");
            } else {
                assert_eq!(ranked.insert(key, round), plain.insert(key, round));
            }
            if round % 997 == 0 {
                ranked.check();
            }
        }
        ranked.check();
        assert_eq!(ranked.len(), plain.len());
        for (i, (k, v)) in plain.iter().enumerate() {
            assert_eq!(ranked.at(i), Some((k, v)), "entry {i}");
            assert_eq!(ranked.get(k), Some(v));
            assert_eq!(ranked.rank(ranked.locate(k)), i, "rank of {k}");
        }
        // A key not held ranks where it would go.
        let absent = (0..4_000u64).find(|k| !plain.contains_key(k));
        if let Some(k) = absent {
            let before = plain.range(..k).count();
            assert_eq!(ranked.rank(ranked.locate(&k)), before, "rank of absent {k}");
        }
        assert_eq!(ranked.at(plain.len()), None);
        assert!(ranked.iter().eq(plain.iter()));

        let built = RankedMap::from_sorted(plain.iter().map(|(k, v)| (*k, *v)).collect());
        built.check();
        assert_eq!(built, ranked);
        assert_eq!(built.at(plain.len() / 2), ranked.at(plain.len() / 2));
    }

    #[test]
    fn in_order_and_reverse_inserts_and_emptying() {
        let mut ranked = RankedMap::default();
        for k in 0..1_000 {
            ranked.insert(k, ());
        }
        for k in (1_000..2_000).rev() {
            ranked.insert(k, ());
        }
        ranked.check();
        assert_eq!(ranked.at(1_500), Some((&1_500, &())));
        for k in 0..2_000 {
            assert_eq!(ranked.remove(&k), Some(()));
        }
        ranked.check();
        assert_eq!(ranked.len(), 0);
        assert_eq!(ranked.at(0), None);
        assert_eq!(ranked.remove(&0), None);
        assert_eq!(ranked, RankedMap::default());
    }
}
