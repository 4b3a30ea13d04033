//! The mesh model: compact summaries of what the watches report, aggregates kept up to date
//! incrementally, and the facts the views show. Pure: no IO, no clock reads, no tokio, no
//! kube::Api, no ratatui. Time arrives inside events.

pub mod event;
pub mod facts;
pub mod intern;
pub mod labels;
pub mod project;
pub mod summary;

use std::collections::BTreeMap;

use jiff::Timestamp;

pub use event::{ClusterEvent, Kind, SourceState, Stamped};
pub use facts::{
    DrainPreflight, Finding, GatewayRow, NamespaceRow, NodeRow, PdbRow, RevisionRow, Severity,
};
pub use summary::{Object, ObjectKey, PodSummary};

/// The model the UI loop owns.
#[derive(Debug, Default)]
pub struct Model {
    sources: BTreeMap<Kind, SourceState>,
    server_version: Option<String>,
    last_event: Option<Timestamp>,
    generation: u64,
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event.
    pub fn apply(&mut self, stamped: Stamped) {
        self.generation += 1;
        self.last_event = Some(stamped.at);
        match stamped.event {
            ClusterEvent::Source(kind, state) => {
                self.sources.insert(kind, state);
            }
            ClusterEvent::Server { git_version } => self.server_version = Some(git_version),
            ClusterEvent::Applied(_) | ClusterEvent::Deleted(..) | ClusterEvent::Relisted(..) => {}
        }
    }

    /// Bumps on every change; a view redraws when it moved.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn sources(&self) -> &BTreeMap<Kind, SourceState> {
        &self.sources
    }

    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    pub fn last_event(&self) -> Option<Timestamp> {
        self.last_event
    }

    pub fn revisions(&self) -> Vec<RevisionRow> {
        Vec::new()
    }

    pub fn gateways(&self) -> Vec<GatewayRow> {
        Vec::new()
    }

    pub fn disruption(&self) -> Vec<PdbRow> {
        Vec::new()
    }

    pub fn nodes(&self) -> Vec<NodeRow> {
        Vec::new()
    }

    pub fn namespaces(&self) -> Vec<NamespaceRow> {
        Vec::new()
    }

    pub fn findings(&self) -> Vec<Finding> {
        Vec::new()
    }

    /// Every pod, by namespace then name.
    pub fn pods(&self) -> Vec<&PodSummary> {
        Vec::new()
    }

    pub fn pods_on_node(&self, node: &str) -> Vec<&PodSummary> {
        let _ = node;
        Vec::new()
    }

    pub fn pods_in_namespace(&self, namespace: &str) -> Vec<&PodSummary> {
        let _ = namespace;
        Vec::new()
    }

    /// Pods with a proxy (sidecars and gateways): the Proxies view until sync status lands.
    pub fn proxied_pods(&self) -> Vec<&PodSummary> {
        Vec::new()
    }
}
