//! The pods, kept as packed rows: each pod a row of 4-byte symbols (namespace, node, status,
//! owner, revision, versions, its label set), its flags in bits and its own name, indexed by
//! a `u32` id. A pod is found by key in one hash lookup (a table of ids, hashed by namespace
//! and name), walked in key order through each namespace's ids sorted by name, and given
//! back as a `PodSummary` made on demand. The aggregates hold ids, not keys.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::HashTable;
use jiff::Timestamp;

use super::super::intern::{Counted, Name, Sym};
use super::super::labels::Labels;
use super::super::summary::{MeshRole, ObjectKey, Owner, PodPhase, PodSummary};

/// A pod's place in [`Pods`]: stable while the pod stays, reused after it went.
pub(crate) type PodId = u32;

const READY: u8 = 1;
const HAS_PROXY: u8 = 1 << 1;
const HAS_EMPTY_DIR: u8 = 1 << 2;
const MIRROR: u8 = 1 << 3;
const DELETING: u8 = 1 << 4;
const CREATED: u8 = 1 << 5;

/// One pod, packed: 80 bytes and its name, where a `PodSummary` takes about 200. The name
/// stays a shared `Name` (16 bytes of counts more than a `Box<str>`): summaries made from
/// rows by the thousand (a PDB's pods, the pods to restart) clone it rather than allocate.
#[derive(Debug)]
struct Row {
    name: Name,
    created_second: i64,
    restarts: u32,
    created_nanosecond: i32,
    namespace: Sym,
    status: Sym,
    labels: Sym,
    node: Option<Sym>,
    owner_kind: Option<Sym>,
    owner_name: Option<Sym>,
    injected_revision: Option<Sym>,
    proxy_version: Option<Sym>,
    istiod_version: Option<Sym>,
    containers_ready: u16,
    containers: u16,
    phase: PodPhase,
    mesh_role: MeshRole,
    flags: u8,
}

impl Row {
    fn flag(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    fn created(&self) -> Option<Timestamp> {
        self.flag(CREATED)
            .then(|| Timestamp::new(self.created_second, self.created_nanosecond).ok())
            .flatten()
    }
}

fn flags(p: &PodSummary) -> u8 {
    let mut f = 0;
    for (on, bit) in [
        (p.ready, READY),
        (p.has_proxy, HAS_PROXY),
        (p.has_empty_dir, HAS_EMPTY_DIR),
        (p.mirror, MIRROR),
        (p.deleting, DELETING),
        (p.created.is_some(), CREATED),
    ] {
        if on {
            f |= bit;
        }
    }
    f
}

/// What a proxy's line in the Proxies view reads of its pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineParts<'a> {
    /// It has a proxy, runs and is not being deleted: its proxy should be connected to
    /// some istiod (`proxies::expects_connection` of its summary).
    pub running: bool,
    pub node: Option<&'a Name>,
    pub proxy_version: Option<&'a Name>,
    pub injected_revision: Option<&'a Name>,
}

/// How a pod's new summary differs from the row it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing.
    None,
    /// Only what views read from the summary itself (status words, container counts,
    /// restarts, creation time): no aggregate and no line moves.
    Shown,
    /// Its readiness, and perhaps the above: only the counts by readiness move.
    Readiness,
    /// Something the aggregates or the lines read.
    Other,
}

/// Every pod, packed (see the module's note).
#[derive(Debug, Default)]
pub(crate) struct Pods {
    rows: Vec<Option<Row>>,
    free: Vec<PodId>,
    by_key: HashTable<PodId>,
    hasher: crate::model::intern::Hashing,
    /// Per namespace, by name, its pods' ids sorted by name.
    order: BTreeMap<Name, Vec<PodId>>,
    strings: Counted<Name>,
    label_sets: Counted<Labels>,
}

impl Pods {
    fn hash(&self, namespace: &str, name: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        namespace.hash(&mut h);
        name.hash(&mut h);
        h.finish()
    }

    fn row(&self, id: PodId) -> Option<&Row> {
        self.rows.get(id as usize).and_then(Option::as_ref)
    }

    fn text(&self, sym: Sym) -> Option<&Name> {
        self.strings.get(sym)
    }

    fn text_opt(&self, sym: Option<Sym>) -> Option<&Name> {
        sym.and_then(|s| self.text(s))
    }

    fn namespace_of(&self, row: &Row) -> &str {
        self.text(row.namespace).map_or("", |n| n.as_ref())
    }

    fn is(&self, id: PodId, namespace: &str, name: &str) -> bool {
        self.row(id)
            .is_some_and(|r| &*r.name == name && self.namespace_of(r) == namespace)
    }

    /// The id of the pod with this key.
    pub fn id(&self, key: &ObjectKey) -> Option<PodId> {
        self.id_of(&key.namespace, &key.name)
    }

    /// The id of the pod of this namespace and name.
    pub fn id_of(&self, namespace: &str, name: &str) -> Option<PodId> {
        let hash = self.hash(namespace, name);
        self.by_key
            .find(hash, |&id| self.is(id, namespace, name))
            .copied()
    }

    /// A pod's namespace and name, borrowed from its row.
    pub fn names(&self, id: PodId) -> Option<(&Name, &str)> {
        let r = self.row(id)?;
        Some((self.text(r.namespace)?, &r.name))
    }

    /// What a proxy's line reads of its pod, borrowed from its row.
    pub fn line_parts(&self, id: PodId) -> Option<LineParts<'_>> {
        let r = self.row(id)?;
        Some(LineParts {
            running: r.flag(HAS_PROXY) && r.phase == PodPhase::Running && !r.flag(DELETING),
            node: self.text_opt(r.node),
            proxy_version: self.text_opt(r.proxy_version),
            injected_revision: self.text_opt(r.injected_revision),
        })
    }

    /// The summary of the pod with this key, made from its row.
    pub fn get(&self, key: &ObjectKey) -> Option<PodSummary> {
        self.summary(self.id(key)?)
    }

    /// The summary of a pod, made from its row.
    pub fn summary(&self, id: PodId) -> Option<PodSummary> {
        let r = self.row(id)?;
        let name = |s: Sym| {
            self.text(s)
                .cloned()
                .unwrap_or_else(super::super::intern::empty)
        };
        let owner = match (r.owner_kind, r.owner_name) {
            (Some(kind), Some(owner)) => Some(Owner {
                kind: name(kind),
                name: name(owner),
            }),
            _ => None,
        };
        Some(PodSummary {
            namespace: name(r.namespace),
            name: r.name.clone(),
            node: self.text_opt(r.node).cloned(),
            phase: r.phase,
            status: name(r.status),
            ready: r.flag(READY),
            containers_ready: r.containers_ready,
            containers: r.containers,
            restarts: r.restarts,
            owner,
            labels: self.label_sets.get(r.labels).cloned().unwrap_or_default(),
            has_proxy: r.flag(HAS_PROXY),
            mesh_role: r.mesh_role,
            injected_revision: self.text_opt(r.injected_revision).cloned(),
            proxy_version: self.text_opt(r.proxy_version).cloned(),
            istiod_version: self.text_opt(r.istiod_version).cloned(),
            has_empty_dir: r.flag(HAS_EMPTY_DIR),
            mirror: r.flag(MIRROR),
            deleting: r.flag(DELETING),
            created: r.created(),
        })
    }

    /// A pod's key.
    pub fn key(&self, id: PodId) -> Option<ObjectKey> {
        let r = self.row(id)?;
        Some(ObjectKey {
            namespace: self.text(r.namespace).cloned()?,
            name: r.name.clone(),
        })
    }

    /// A pod's name, without the rest of its summary.
    pub fn name(&self, id: PodId) -> Option<&Name> {
        self.row(id).map(|r| &r.name)
    }

    /// A pod's labels, without the rest of its summary.
    pub fn labels(&self, id: PodId) -> Option<&Labels> {
        self.row(id).and_then(|r| self.label_sets.get(r.labels))
    }

    /// How `p`, a new summary of pod `id`, differs from what its row holds.
    pub fn change(&self, id: PodId, p: &PodSummary) -> Change {
        let Some(r) = self.row(id) else {
            return Change::Other;
        };
        let same = |sym: Sym, v: &Name| self.text(sym) == Some(v);
        let same_opt = |sym: Option<Sym>, v: Option<&Name>| self.text_opt(sym) == v;
        let owner_same = match (&p.owner, r.owner_kind, r.owner_name) {
            (None, None, _) => true,
            (Some(o), Some(kind), Some(name)) => same(kind, &o.kind) && same(name, &o.name),
            _ => false,
        };
        let moves_aggregates = !(*r.name == *p.name
            && same(r.namespace, &p.namespace)
            && same_opt(r.node, p.node.as_ref())
            && r.phase == p.phase
            && owner_same
            && self.label_sets.get(r.labels) == Some(&p.labels)
            && r.flag(HAS_PROXY) == p.has_proxy
            && r.mesh_role == p.mesh_role
            && same_opt(r.injected_revision, p.injected_revision.as_ref())
            && same_opt(r.proxy_version, p.proxy_version.as_ref())
            && same_opt(r.istiod_version, p.istiod_version.as_ref())
            && r.flag(HAS_EMPTY_DIR) == p.has_empty_dir
            && r.flag(MIRROR) == p.mirror
            && r.flag(DELETING) == p.deleting);
        if moves_aggregates {
            return Change::Other;
        }
        if r.flag(READY) != p.ready {
            return Change::Readiness;
        }
        if same(r.status, &p.status)
            && r.containers_ready == p.containers_ready
            && r.containers == p.containers
            && r.restarts == p.restarts
            && r.created() == p.created
        {
            Change::None
        } else {
            Change::Shown
        }
    }

    /// Packs `p` into a row, taking its symbols; `held` is the row it replaces, whose
    /// symbols are kept where the value did not change and given back where it did.
    fn pack(&mut self, p: &PodSummary, held: Option<Row>) -> Row {
        let (created_second, created_nanosecond) = p
            .created
            .map_or((0, 0), |t| (t.as_second(), t.subsec_nanosecond()));
        let (kind, owner) = match &p.owner {
            Some(o) => (Some(&o.kind), Some(&o.name)),
            None => (None, None),
        };
        let row = |s: &mut Counted<Name>, labels: Sym, held: Option<&Row>| Row {
            name: p.name.clone(),
            created_second,
            restarts: p.restarts,
            created_nanosecond,
            namespace: match held {
                Some(h) => s.retake(h.namespace, &p.namespace),
                None => s.take(&p.namespace),
            },
            status: match held {
                Some(h) => s.retake(h.status, &p.status),
                None => s.take(&p.status),
            },
            labels,
            node: s.retake_opt(held.and_then(|h| h.node), p.node.as_ref()),
            owner_kind: s.retake_opt(held.and_then(|h| h.owner_kind), kind),
            owner_name: s.retake_opt(held.and_then(|h| h.owner_name), owner),
            injected_revision: s.retake_opt(
                held.and_then(|h| h.injected_revision),
                p.injected_revision.as_ref(),
            ),
            proxy_version: s
                .retake_opt(held.and_then(|h| h.proxy_version), p.proxy_version.as_ref()),
            istiod_version: s.retake_opt(
                held.and_then(|h| h.istiod_version),
                p.istiod_version.as_ref(),
            ),
            containers_ready: p.containers_ready,
            containers: p.containers,
            phase: p.phase,
            mesh_role: p.mesh_role,
            flags: flags(p),
        };
        let labels = match &held {
            Some(h) => self.label_sets.retake(h.labels, &p.labels),
            None => self.label_sets.take(&p.labels),
        };
        row(&mut self.strings, labels, held.as_ref())
    }

    /// Gives back the symbols of a row that goes.
    fn unpack(&mut self, r: &Row) {
        let s = &mut self.strings;
        s.give_back(r.namespace);
        s.give_back(r.status);
        for sym in [
            r.node,
            r.owner_kind,
            r.owner_name,
            r.injected_revision,
            r.proxy_version,
            r.istiod_version,
        ] {
            s.give_back_opt(sym);
        }
        self.label_sets.give_back(r.labels);
    }

    /// Adds a pod not held yet; its id.
    pub(super) fn insert(&mut self, p: &PodSummary) -> PodId {
        let row = self.pack(p, None);
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.rows.get_mut(id as usize) {
                    *slot = Some(row);
                }
                id
            }
            None => {
                if self.rows.len() == self.rows.capacity() {
                    // Grown by an eighth rather than doubled: doubling leaves up to half
                    // of the 80-byte rows unused (a quarter on average), an eighth at most
                    // this way, for a copy of the rows now and then.
                    self.rows.reserve_exact(self.rows.len() / 8 + 64);
                }
                // Ids are u32: past 4 billion pods the last is reused (unreachable).
                let id = PodId::try_from(self.rows.len()).unwrap_or(PodId::MAX);
                self.rows.push(Some(row));
                id
            }
        };
        let hash = self.hash(&p.namespace, &p.name);
        let (rows, strings, hasher) = (&self.rows, &self.strings, &self.hasher);
        self.by_key.insert_unique(hash, id, |&other| {
            let Some(r) = rows.get(other as usize).and_then(Option::as_ref) else {
                return 0;
            };
            let namespace = strings.get(r.namespace).map_or("", |n| n.as_ref());
            let mut h = hasher.build_hasher();
            namespace.hash(&mut h);
            r.name.hash(&mut h);
            h.finish()
        });
        let ids = self.order.entry(p.namespace.clone()).or_default();
        let at = ids
            .binary_search_by(|&other| rows_name(&self.rows, other).cmp(&p.name))
            .unwrap_or_else(|at| at);
        ids.insert(at, id);
        id
    }

    /// Replaces the row of pod `id` with `p`, the same pod (same key).
    pub(super) fn replace(&mut self, id: PodId, p: &PodSummary) {
        let Some(held) = self.rows.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        let row = self.pack(p, Some(held));
        if let Some(slot) = self.rows.get_mut(id as usize) {
            *slot = Some(row);
        }
    }

    /// Takes pod `id` away.
    pub(super) fn remove(&mut self, id: PodId) {
        let Some(key) = self.key(id) else {
            return;
        };
        let hash = self.hash(&key.namespace, &key.name);
        if let Ok(entry) = self.by_key.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        if let Some(ids) = self.order.get_mut(&key.namespace) {
            let rows = &self.rows;
            if let Ok(at) = ids.binary_search_by(|&other| rows_name(rows, other).cmp(&key.name)) {
                ids.remove(at);
            }
            if ids.is_empty() {
                self.order.remove(&key.namespace);
            }
        }
        if let Some(row) = self.rows.get_mut(id as usize).and_then(Option::take) {
            self.unpack(&row);
            self.free.push(id);
        }
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Every pod's id, by namespace then name.
    pub fn ids(&self) -> impl Iterator<Item = PodId> + '_ {
        self.order.values().flatten().copied()
    }

    /// Every pod's key, by namespace then name.
    pub fn keys(&self) -> impl Iterator<Item = ObjectKey> + '_ {
        self.ids().filter_map(|id| self.key(id))
    }

    /// Every pod, by namespace then name.
    pub fn values(&self) -> impl Iterator<Item = PodSummary> + '_ {
        self.ids().filter_map(|id| self.summary(id))
    }

    /// The ids of one namespace's pods, by name.
    pub fn ids_in_namespace(&self, namespace: &str) -> impl Iterator<Item = PodId> + '_ {
        self.order.get(namespace).into_iter().flatten().copied()
    }

    /// The pods of one namespace, by name.
    pub fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = PodSummary> + '_ {
        self.ids_in_namespace(namespace)
            .filter_map(|id| self.summary(id))
    }

    /// The namespace and name of a pod, borrowed.
    fn key_strs(&self, id: PodId) -> (&str, &str) {
        self.row(id)
            .map_or(("", ""), |r| (self.namespace_of(r), &*r.name))
    }

    /// Some ids, by their pods' namespace then name (the pods' rows compared in place).
    fn sorted(&self, ids: impl IntoIterator<Item = PodId>) -> Vec<PodId> {
        let mut ids: Vec<PodId> = ids
            .into_iter()
            .filter(|&id| self.row(id).is_some())
            .collect();
        // Ids are handed out in the order pods come, mostly key order after a relist.
        if !ids.is_sorted_by(|&a, &b| self.key_strs(a) <= self.key_strs(b)) {
            ids.sort_by(|&a, &b| self.key_strs(a).cmp(&self.key_strs(b)));
        }
        ids
    }

    /// The pods of some ids, by namespace then name.
    pub fn in_order(&self, ids: impl IntoIterator<Item = PodId>) -> Vec<PodSummary> {
        self.sorted(ids)
            .into_iter()
            .filter_map(|id| self.summary(id))
            .collect()
    }

    /// `namespace/name` of some pods, by namespace then name.
    pub fn names_in_order(&self, ids: impl IntoIterator<Item = PodId>) -> Vec<String> {
        self.sorted(ids)
            .into_iter()
            .map(|id| {
                let (namespace, name) = self.key_strs(id);
                format!("{namespace}/{name}")
            })
            .collect()
    }

    /// The keys of some ids, by namespace then name.
    #[cfg(test)]
    pub fn keys_in_order(&self, ids: impl IntoIterator<Item = PodId>) -> Vec<ObjectKey> {
        self.sorted(ids)
            .into_iter()
            .filter_map(|id| self.key(id))
            .collect()
    }
}

fn rows_name(rows: &[Option<Row>], id: PodId) -> &str {
    rows.get(id as usize)
        .and_then(Option::as_ref)
        .map_or("", |r| &*r.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture::pod;

    #[test]
    fn a_row_is_small_and_gives_back_the_summary_it_was_given() {
        assert!(std::mem::size_of::<Option<Row>>() <= 80);
        let mut pods = Pods::default();
        let a = pod("shop", "cart-1")
            .on("n1")
            .owner("ReplicaSet", "cart-7d9")
            .labels(&[("app", "cart")])
            .injected("1-22-1", "1.22.1")
            .summary();
        let b = pod("shop", "cart-0").on("n2").summary();
        let c = pod("default", "z").summary();
        let ia = pods.insert(&a);
        let ib = pods.insert(&b);
        pods.insert(&c);
        assert_eq!(pods.summary(ia).as_ref(), Some(&a));
        assert_eq!(pods.get(&key_of(&b)).as_ref(), Some(&b));
        let names: Vec<String> = pods
            .keys()
            .map(|k| format!("{}/{}", k.namespace, k.name))
            .collect();
        assert_eq!(names, ["default/z", "shop/cart-0", "shop/cart-1"]);

        let mut moved = a.clone();
        moved.node = Some(Name::from("n3"));
        assert_eq!(pods.change(ia, &moved), Change::Other);
        let mut restarted = a.clone();
        restarted.restarts += 1;
        assert_eq!(pods.change(ia, &restarted), Change::Shown);
        let mut unready = restarted.clone();
        unready.ready = false;
        assert_eq!(pods.change(ia, &unready), Change::Readiness);
        assert_eq!(pods.change(ia, &a), Change::None);
        pods.replace(ia, &moved);
        assert_eq!(pods.summary(ia).as_ref(), Some(&moved));

        pods.remove(ib);
        assert_eq!(pods.get(&key_of(&b)), None);
        assert_eq!(pods.len(), 2);
        // The node only the removed pod named is forgotten; a new pod takes its id.
        assert!(!pods.strings.contains(&Name::from("n2")));
        assert!(pods.strings.contains(&Name::from("n3")));
        let d = pod("shop", "cart-2").summary();
        assert_eq!(pods.insert(&d), ib);
        assert_eq!(pods.get(&key_of(&d)).as_ref(), Some(&d));
        pods.remove(ia);
        pods.remove(ib);
        pods.remove(ib);
        assert_eq!(pods.len(), 1);
        assert_eq!(pods.values().count(), 1);
    }

    fn key_of(p: &PodSummary) -> ObjectKey {
        ObjectKey {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
        }
    }
}
