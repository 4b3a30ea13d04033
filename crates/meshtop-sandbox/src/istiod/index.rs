//! Which proxies each istiod replica holds, kept in step with pod writes: a proxy's pod is
//! read when it is written, so a poll costs what the replica holds, not what the cluster
//! holds. The index follows the store's history of pod events; when that no longer reaches
//! back far enough, it is read again from the pods.

use std::collections::{BTreeMap, BTreeSet};

use super::super::controllers::changes_since;
use super::super::store::{Store, Stored, meta_str};
use super::syncz::{self, Proxy};

const PODS: &str = "pods";

/// An istiod pod, as the proxies of its revision see it.
#[derive(Debug)]
struct Replica {
    revision: String,
    ready: bool,
}

/// A proxy's place in an answer: its id (`name.namespace`) as bytes compare, then its
/// namespace, which keeps the store's order among equal ids.
type Place = (Box<str>, Box<str>);

/// The proxies of the cluster by revision, and the istiod replicas.
#[derive(Debug, Default)]
pub struct ProxyIndex {
    /// Whether it has been read from the pods once.
    built: bool,
    /// The store's resourceVersion it reflects.
    rv: u64,
    by_revision: BTreeMap<String, BTreeMap<Place, Proxy>>,
    /// Every istiod pod, by (namespace, name).
    replicas: BTreeMap<(String, String), Replica>,
}

fn place(namespace: &str, name: &str) -> Place {
    (format!("{name}.{namespace}").into(), namespace.into())
}

impl ProxyIndex {
    /// Brings the index up to the store's state: only the pods written since the last call
    /// are read again.
    pub fn catch_up(&mut self, store: &mut Store) {
        let rv = store.resource_version();
        // The events are only a list of what changed: each pod is read as it is now.
        let changed: Option<BTreeSet<(String, String)>> = self
            .built
            .then(|| changes_since(store, PODS, self.rv))
            .flatten()
            .map(|events| {
                events
                    .iter()
                    .map(|e| {
                        (
                            e.namespace.clone(),
                            meta_str(e.object.head(), "name").to_string(),
                        )
                    })
                    .collect()
            });
        match changed {
            Some(pods) => {
                for (namespace, name) in pods {
                    self.forget(&namespace, &name);
                    if let Some(pod) = store.get(PODS, &namespace, &name) {
                        self.learn(pod);
                    }
                }
            }
            None => {
                self.by_revision.clear();
                self.replicas.clear();
                for pod in store.list(PODS, None) {
                    self.learn(pod);
                }
                self.built = true;
            }
        }
        self.rv = rv;
    }

    fn learn(&mut self, pod: &Stored) {
        let head = pod.head();
        let (namespace, name) = (meta_str(head, "namespace"), meta_str(head, "name"));
        if syncz::is_istiod(head) {
            self.replicas.insert(
                (namespace.to_string(), name.to_string()),
                Replica {
                    revision: syncz::istiod_revision(head).to_string(),
                    ready: syncz::is_ready(head),
                },
            );
        }
        if let Some((revision, proxy)) = Proxy::read(head) {
            self.by_revision
                .entry(revision)
                .or_default()
                .insert(place(namespace, name), proxy);
        }
    }

    fn forget(&mut self, namespace: &str, name: &str) {
        self.replicas
            .remove(&(namespace.to_string(), name.to_string()));
        let at = place(namespace, name);
        // A handful of revisions: looking in each costs less than remembering where.
        self.by_revision.retain(|_, proxies| {
            proxies.remove(&at);
            !proxies.is_empty()
        });
    }

    /// The Ready replicas of a revision, by name then namespace: the ones a proxy can hold
    /// a stream to (its Service lists Ready pods only).
    fn ready_replicas(&self, revision: &str) -> Vec<(&str, &str)> {
        let mut ready: Vec<(&str, &str)> = self
            .replicas
            .iter()
            .filter(|(_, r)| r.ready && r.revision == revision)
            .map(|((ns, name), _)| (name.as_str(), ns.as_str()))
            .collect();
        ready.sort_unstable();
        ready
    }

    /// The proxies connected to the istiod pod `namespace/name`, in answer order.
    pub fn connected(&self, namespace: &str, name: &str) -> Vec<&Proxy> {
        let Some(replica) = self
            .replicas
            .get(&(namespace.to_string(), name.to_string()))
        else {
            return Vec::new();
        };
        let ready = self.ready_replicas(&replica.revision);
        if !ready.contains(&(name, namespace)) {
            return Vec::new();
        }
        let names: Vec<&str> = ready.iter().map(|(n, _)| *n).collect();
        // Which of the replicas this one is: proxies are spread over positions, and a
        // proxy pinned by name goes to the first replica of that name.
        let Some(position) = ready.iter().position(|r| *r == (name, namespace)) else {
            return Vec::new();
        };
        self.by_revision
            .get(&replica.revision)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|p| p.assigned(&names) == Some(position))
            .collect()
    }

    /// The replica a proxy pod is connected to, as `(namespace, name)`; none when it holds
    /// no stream.
    #[cfg(test)]
    pub fn istiod_of(&self, pod: &serde_json::Value) -> Option<(&str, &str)> {
        let (revision, proxy) = Proxy::read(pod)?;
        let ready = self.ready_replicas(&revision);
        let names: Vec<&str> = ready.iter().map(|(n, _)| *n).collect();
        let (name, namespace) = ready.get(proxy.assigned(&names)?)?;
        Some((namespace, name))
    }
}
