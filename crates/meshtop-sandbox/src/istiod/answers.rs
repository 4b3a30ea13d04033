//! Answers a replica already wrote, served again while nothing they depend on has moved: no
//! pod written since (the proxies, their states and the replicas are all pods), the same
//! sync delay, and no instant passed at which a state turns with time alone. meshtop polls
//! every replica every few seconds; an unchanged mesh then costs a lookup.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;

use super::super::store::Store;

const PODS: &str = "pods";

/// Answers kept at most, and their bytes; a new one past either drops the others (a client
/// asking with many namespace filters). Four replicas of a 100,000-pod mesh answer about
/// 160 MB.
const KEPT: usize = 32;
const KEPT_BYTES: usize = 512 << 20;

/// Which answer: the replica (namespace, name) and the `?namespace=` filter as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    pub namespace: String,
    pub name: String,
    pub filter: Option<String>,
}

#[derive(Debug)]
struct Answer {
    /// The store's resourceVersion it was written at.
    rv: u64,
    delay: Duration,
    written: Timestamp,
    /// When it changes with no write (a new proxy turning SYNCED), if it does.
    until: Option<Timestamp>,
    body: Bytes,
}

impl Answer {
    fn holds(&self, store: &Store, delay: Duration, now: Timestamp) -> bool {
        !store.type_changed_since(PODS, self.rv)
            && self.delay == delay
            && self.written <= now
            && self.until.is_none_or(|u| now < u)
    }
}

#[derive(Debug, Default)]
pub struct AnswerCache {
    answers: HashMap<AnswerKey, Answer>,
}

impl AnswerCache {
    /// The answer written earlier, if it is still the answer at `now`.
    pub fn get(
        &self,
        key: &AnswerKey,
        store: &Store,
        delay: Duration,
        now: Timestamp,
    ) -> Option<Bytes> {
        self.answers
            .get(key)
            .filter(|a| a.holds(store, delay, now))
            .map(|a| a.body.clone())
    }

    /// Keeps an answer written at `now` from the store as it is; answers a pod write has
    /// made old go.
    pub fn put(
        &mut self,
        key: AnswerKey,
        store: &Store,
        delay: Duration,
        now: Timestamp,
        until: Option<Timestamp>,
        body: Bytes,
    ) {
        self.answers.retain(|_, a| a.holds(store, delay, now));
        let bytes: usize = self.answers.values().map(|a| a.body.len()).sum();
        if self.answers.len() >= KEPT || bytes.saturating_add(body.len()) > KEPT_BYTES {
            self.answers.clear();
        }
        self.answers.insert(
            key,
            Answer {
                rv: store.resource_version(),
                delay,
                written: now,
                until,
                body,
            },
        );
    }
}
