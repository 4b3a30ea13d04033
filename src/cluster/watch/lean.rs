//! The big kinds (pods, nodes, ReplicaSets, Deployments) read with only the fields the model keeps: the
//! rest of each object (managedFields, env, probes, volume mounts, images on a node, most of
//! spec and status) is skipped by the JSON reader without being built, so intake costs what
//! is kept, not what the API server sends. Nodes and workloads read into the usual
//! k8s-openapi type with every other field empty; pods into `PodParts`, what their projection
//! reads (a k8s-openapi `Pod` is kilobytes of empty fields), and a list's pages of pods by
//! meshtop's own reader (`scan`). Either way the same code projects them as full objects.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::pager::{ListItem, ReadItem};
use super::scan::{self, Reader};
use crate::model::intern::Interner;
use crate::model::labels::keys;
use crate::model::project::{
    ConditionParts, ContainerParts, ContainerStatusParts, PodParts, Project, TerminatedParts,
};
use crate::model::summary::Object;

/// A Kubernetes object read leanly: a `K` holding only what `K`'s projection reads. Watched
/// through kube like `K` itself (same group, version, kind and URL).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Lean<K>(pub K);

impl<K: k8s_openapi::Resource> k8s_openapi::Resource for Lean<K> {
    const API_VERSION: &'static str = K::API_VERSION;
    const GROUP: &'static str = K::GROUP;
    const KIND: &'static str = K::KIND;
    const VERSION: &'static str = K::VERSION;
    const URL_PATH_SEGMENT: &'static str = K::URL_PATH_SEGMENT;
    type Scope = K::Scope;
}

impl<K: k8s_openapi::Metadata<Ty = ObjectMeta>> k8s_openapi::Metadata for Lean<K> {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        self.0.metadata()
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        self.0.metadata_mut()
    }
}

impl<K: Project> Project for Lean<K> {
    fn project(&self, i: &mut Interner) -> Option<Object> {
        self.0.project(i)
    }
}

/// The annotations a projection reads; every other one (a `last-applied-configuration`
/// can be bigger than the rest of the object) is skipped. A projection that starts reading
/// another annotation adds it here: `lean_and_full_objects_project_alike` fails until then.
pub const KEPT_ANNOTATIONS: [&str; 6] = [
    keys::SIDECAR_STATUS,
    keys::ISTIO_REV,
    keys::MIRROR_POD,
    keys::HELM_RELEASE,
    keys::RELAXED_FROM,
    keys::RELAXED_TO,
];

/// A string map (annotations) keeping only `KEPT_ANNOTATIONS`; `null` reads as absent.
fn kept_annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Kept;
    impl<'de> Visitor<'de> for Kept {
        type Value = Option<BTreeMap<String, String>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of annotations")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut kept = BTreeMap::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if KEPT_ANNOTATIONS.contains(&key.as_ref()) {
                    kept.insert(key.into_owned(), map.next_value::<String>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(Some(kept))
        }
    }
    d.deserialize_option(Kept)
}

/// `null` or absent reads as the type's default (JSON from some servers and tools writes
/// `"containers": null`).
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "kept_annotations")]
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
}

impl From<Meta> for ObjectMeta {
    fn from(m: Meta) -> Self {
        ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            resource_version: m.resource_version,
            labels: m.labels,
            annotations: m.annotations,
            owner_references: m.owner_references,
            creation_timestamp: m.creation_timestamp,
            deletion_timestamp: m.deletion_timestamp,
            ..ObjectMeta::default()
        }
    }
}

/// What the projections read of a container: a pod's, or a workload template's (whose
/// command and environment name an in-cluster operator).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Container {
    #[serde(default, deserialize_with = "or_default")]
    name: String,
    image: Option<String>,
    restart_policy: Option<String>,
    command: Option<Vec<String>>,
    env: Option<Vec<EnvVar>>,
}

#[derive(Deserialize)]
struct EnvVar {
    #[serde(default, deserialize_with = "or_default")]
    name: String,
    value: Option<String>,
}

impl From<Container> for core::Container {
    fn from(c: Container) -> Self {
        core::Container {
            name: c.name,
            image: c.image,
            restart_policy: c.restart_policy,
            command: c.command,
            env: each(c.env, |e| core::EnvVar {
                name: e.name,
                value: e.value,
                value_from: None,
            }),
            ..core::Container::default()
        }
    }
}

/// What the projections read of a pod's own container: its command and environment are
/// read of workload templates only, so a pod's (the injector's twenty variables on every
/// proxy) are skipped.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodContainer {
    #[serde(default, deserialize_with = "or_default")]
    name: String,
    image: Option<String>,
    restart_policy: Option<String>,
}

impl From<PodContainer> for core::Container {
    fn from(c: PodContainer) -> Self {
        core::Container {
            name: c.name,
            image: c.image,
            restart_policy: c.restart_policy,
            ..core::Container::default()
        }
    }
}

fn containers<C: Into<core::Container>>(c: Vec<C>) -> Vec<core::Container> {
    c.into_iter().map(Into::into).collect()
}

/// Each item of an optional list, made into another type.
fn each<T, U>(list: Option<Vec<T>>, make: impl FnMut(T) -> U) -> Option<Vec<U>> {
    list.map(|l| l.into_iter().map(make).collect())
}

// --- pods -------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Pod {
    metadata: Option<Meta>,
    spec: Option<PodSpec<PodContainer>>,
    status: Option<PodStatus>,
}

/// A pod's spec, or a workload template's (`C`: what is read of each container).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec<C> {
    node_name: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    containers: Vec<C>,
    init_containers: Option<Vec<C>>,
    node_selector: Option<BTreeMap<String, String>>,
    volumes: Option<Vec<Volume>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    #[serde(default, deserialize_with = "or_default")]
    name: String,
    empty_dir: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    phase: Option<String>,
    reason: Option<String>,
    conditions: Option<Vec<Condition>>,
    container_statuses: Option<Vec<ContainerStatus>>,
    init_container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type", default, deserialize_with = "or_default")]
    type_: String,
    #[serde(default, deserialize_with = "or_default")]
    status: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatus {
    #[serde(default, deserialize_with = "or_default")]
    name: String,
    #[serde(default, deserialize_with = "or_default")]
    ready: bool,
    started: Option<bool>,
    #[serde(default, deserialize_with = "or_default")]
    restart_count: i32,
    state: Option<ContainerState>,
}

#[derive(Deserialize)]
struct ContainerState {
    waiting: Option<Waiting>,
    running: Option<IgnoredAny>,
    terminated: Option<Terminated>,
}

#[derive(Deserialize)]
struct Waiting {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Terminated {
    #[serde(default, deserialize_with = "or_default")]
    exit_code: i32,
    reason: Option<String>,
    signal: Option<i32>,
}

impl From<ContainerStatus> for ContainerStatusParts {
    fn from(s: ContainerStatus) -> Self {
        let (waiting, running, terminated) = match s.state {
            Some(st) => (
                st.waiting.map(|w| w.reason),
                st.running.is_some(),
                st.terminated.map(Into::into),
            ),
            None => (None, false, None),
        };
        ContainerStatusParts {
            name: s.name,
            ready: s.ready,
            started: s.started,
            restart_count: s.restart_count,
            waiting,
            running,
            terminated,
        }
    }
}

impl From<Terminated> for TerminatedParts {
    fn from(t: Terminated) -> Self {
        TerminatedParts {
            exit_code: t.exit_code,
            reason: t.reason,
            signal: t.signal,
        }
    }
}

impl From<Condition> for ConditionParts {
    fn from(c: Condition) -> Self {
        ConditionParts {
            type_: c.type_,
            status: c.status,
            reason: c.reason,
        }
    }
}

impl From<PodContainer> for ContainerParts {
    fn from(c: PodContainer) -> Self {
        ContainerParts {
            name: c.name,
            image: c.image,
            restart_policy: c.restart_policy,
        }
    }
}

impl<C: Into<core::Container>> From<PodSpec<C>> for core::PodSpec {
    fn from(s: PodSpec<C>) -> Self {
        core::PodSpec {
            node_name: s.node_name,
            containers: containers(s.containers),
            init_containers: each(s.init_containers, Into::into),
            node_selector: s.node_selector,
            // Only emptyDir volumes are read (a drain must delete their data): the others
            // are not built (a `Volume` has room for every kind of source).
            volumes: s.volumes.map(|v| {
                v.into_iter()
                    .filter(|v| v.empty_dir.is_some())
                    .map(|v| core::Volume {
                        name: v.name,
                        empty_dir: Some(core::EmptyDirVolumeSource::default()),
                        ..core::Volume::default()
                    })
                    .collect()
            }),
            ..core::PodSpec::default()
        }
    }
}

/// A pod's parts, watched through kube as a pod.
impl k8s_openapi::Resource for PodParts {
    const API_VERSION: &'static str = <core::Pod as k8s_openapi::Resource>::API_VERSION;
    const GROUP: &'static str = <core::Pod as k8s_openapi::Resource>::GROUP;
    const KIND: &'static str = <core::Pod as k8s_openapi::Resource>::KIND;
    const VERSION: &'static str = <core::Pod as k8s_openapi::Resource>::VERSION;
    const URL_PATH_SEGMENT: &'static str = <core::Pod as k8s_openapi::Resource>::URL_PATH_SEGMENT;
    type Scope = <core::Pod as k8s_openapi::Resource>::Scope;
}

impl k8s_openapi::Metadata for PodParts {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.meta
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

/// Watch events' pods (and streamed lists') are read through serde.
impl<'de> Deserialize<'de> for Lean<PodParts> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Pod::deserialize(d).map(Lean::from)
    }
}

impl From<Pod> for Lean<PodParts> {
    fn from(p: Pod) -> Self {
        let (node_name, containers, init_containers, has_empty_dir) = match p.spec {
            Some(s) => (
                s.node_name,
                s.containers.into_iter().map(Into::into).collect(),
                s.init_containers
                    .into_iter()
                    .flatten()
                    .map(Into::into)
                    .collect(),
                s.volumes.iter().flatten().any(|v| v.empty_dir.is_some()),
            ),
            None => (None, Vec::new(), Vec::new(), false),
        };
        let mut parts = PodParts {
            meta: p.metadata.map(Into::into).unwrap_or_default(),
            node_name,
            containers,
            init_containers,
            has_empty_dir,
            ..PodParts::default()
        };
        if let Some(s) = p.status {
            let statuses = |s: Option<Vec<ContainerStatus>>| -> Vec<ContainerStatusParts> {
                s.into_iter().flatten().map(Into::into).collect()
            };
            parts.phase = s.phase;
            parts.reason = s.reason;
            parts.conditions = s.conditions.into_iter().flatten().map(Into::into).collect();
            parts.container_statuses = statuses(s.container_statuses);
            parts.init_container_statuses = statuses(s.init_container_statuses);
        }
        Lean(parts)
    }
}

/// A list's pods are read by meshtop's own reader (`scan`), straight into their parts: the
/// same fields as the `Deserialize` above, what is not kept skipped at a fraction of serde's
/// cost.
impl ListItem for Lean<PodParts> {
    const READER: Option<ReadItem<Self>> = Some(|r| read_pod(r).map(Lean));
}

impl Lean<PodParts> {
    /// Reads one pod from its JSON as a list's pages are read.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let mut r = Reader::new(bytes);
        let pod = read_pod(&mut r)?;
        r.end()?;
        Ok(Lean(pod))
    }
}

fn read_pod(r: &mut Reader<'_>) -> scan::Result<PodParts> {
    let mut pod = PodParts::default();
    r.record(|r, key| {
        match key {
            b"metadata" => pod.meta = read_meta(r)?.map(Into::into).unwrap_or_default(),
            b"spec" => read_pod_spec(r, &mut pod)?,
            b"status" => read_pod_status(r, &mut pod)?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(pod)
}

fn read_meta(r: &mut Reader<'_>) -> scan::Result<Option<Meta>> {
    let mut m = Meta {
        name: None,
        namespace: None,
        uid: None,
        resource_version: None,
        labels: None,
        annotations: None,
        owner_references: None,
        creation_timestamp: None,
        deletion_timestamp: None,
    };
    let present = r.object(|r, key| {
        match key {
            b"name" => m.name = r.opt_string()?,
            b"namespace" => m.namespace = r.opt_string()?,
            b"uid" => m.uid = r.opt_string()?,
            b"resourceVersion" => m.resource_version = r.opt_string()?,
            b"labels" => m.labels = r.string_map()?,
            b"annotations" => m.annotations = read_kept_annotations(r)?,
            b"ownerReferences" => m.owner_references = r.value()?,
            b"creationTimestamp" => m.creation_timestamp = r.value()?,
            b"deletionTimestamp" => m.deletion_timestamp = r.value()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(present.then_some(m))
}

fn read_kept_annotations(r: &mut Reader<'_>) -> scan::Result<Option<BTreeMap<String, String>>> {
    let mut kept = BTreeMap::new();
    let present = r.object(|r, key| {
        match KEPT_ANNOTATIONS.iter().find(|k| k.as_bytes() == key) {
            Some(k) => {
                kept.insert(k.to_string(), r.string()?.into_owned());
            }
            None => r.skip()?,
        }
        Ok(())
    })?;
    Ok(present.then_some(kept))
}

/// A pod's spec, which may be `null`, into its parts: each member read as the `Deserialize`
/// above reads it (a volume's name included, though only whether it is an emptyDir is kept).
fn read_pod_spec(r: &mut Reader<'_>, pod: &mut PodParts) -> scan::Result<()> {
    let (mut node_name, mut containers, mut init_containers, mut has_empty_dir) =
        (None, Vec::new(), Vec::new(), false);
    r.object(|r, key| {
        match key {
            b"nodeName" => node_name = r.opt_string()?,
            b"containers" => containers = r.list(read_container)?.unwrap_or_default(),
            b"initContainers" => init_containers = r.list(read_container)?.unwrap_or_default(),
            b"nodeSelector" => {
                // Read as serde would (a map of strings), not kept.
                r.object(|r, _| r.string().map(drop))?;
            }
            b"volumes" => {
                let volumes = r.list(read_volume)?.unwrap_or_default();
                has_empty_dir = volumes.contains(&true);
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    (
        pod.node_name,
        pod.containers,
        pod.init_containers,
        pod.has_empty_dir,
    ) = (node_name, containers, init_containers, has_empty_dir);
    Ok(())
}

fn read_container(r: &mut Reader<'_>) -> scan::Result<ContainerParts> {
    let mut c = ContainerParts::default();
    r.record(|r, key| {
        match key {
            b"name" => c.name = r.string_or_empty()?,
            b"image" => c.image = r.opt_string()?,
            b"restartPolicy" => c.restart_policy = r.opt_string()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(c)
}

/// Whether a volume is an emptyDir; its name is checked to be a string, not kept.
fn read_volume(r: &mut Reader<'_>) -> scan::Result<bool> {
    let mut empty_dir = false;
    r.record(|r, key| {
        match key {
            b"name" => {
                if !r.null()? {
                    r.string()?;
                }
            }
            b"emptyDir" => {
                empty_dir = !r.null()?;
                if empty_dir {
                    r.skip()?;
                }
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(empty_dir)
}

fn read_pod_status(r: &mut Reader<'_>, pod: &mut PodParts) -> scan::Result<()> {
    let mut read = PodParts::default();
    r.object(|r, key| {
        match key {
            b"phase" => read.phase = r.opt_string()?,
            b"reason" => read.reason = r.opt_string()?,
            b"conditions" => read.conditions = r.list(read_condition)?.unwrap_or_default(),
            b"containerStatuses" => {
                read.container_statuses = r.list(read_container_status)?.unwrap_or_default();
            }
            b"initContainerStatuses" => {
                read.init_container_statuses = r.list(read_container_status)?.unwrap_or_default();
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    pod.phase = read.phase;
    pod.reason = read.reason;
    pod.conditions = read.conditions;
    pod.container_statuses = read.container_statuses;
    pod.init_container_statuses = read.init_container_statuses;
    Ok(())
}

fn read_condition(r: &mut Reader<'_>) -> scan::Result<ConditionParts> {
    let mut c = ConditionParts::default();
    r.record(|r, key| {
        match key {
            b"type" => c.type_ = r.string_or_empty()?,
            b"status" => c.status = r.string_or_empty()?,
            b"reason" => c.reason = r.opt_string()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(c)
}

fn read_container_status(r: &mut Reader<'_>) -> scan::Result<ContainerStatusParts> {
    let mut c = ContainerStatusParts::default();
    r.record(|r, key| {
        match key {
            b"name" => c.name = r.string_or_empty()?,
            b"ready" => c.ready = r.value::<Option<bool>>()?.unwrap_or_default(),
            b"started" => c.started = r.value()?,
            b"restartCount" => c.restart_count = r.value::<Option<i32>>()?.unwrap_or_default(),
            b"state" => {
                let (mut waiting, mut running, mut terminated) = (None, false, None);
                r.object(|r, key| {
                    match key {
                        b"waiting" => {
                            let mut reason = None;
                            if r.object(|r, key| {
                                match key {
                                    b"reason" => reason = r.opt_string()?,
                                    _ => r.skip()?,
                                }
                                Ok(())
                            })? {
                                waiting = Some(reason);
                            }
                        }
                        b"running" => {
                            running = !r.null()?;
                            if running {
                                r.skip()?;
                            }
                        }
                        b"terminated" => {
                            terminated = r.value::<Option<Terminated>>()?.map(Into::into);
                        }
                        _ => r.skip()?,
                    }
                    Ok(())
                })?;
                (c.waiting, c.running, c.terminated) = (waiting, running, terminated);
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(c)
}

// --- nodes ------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Node {
    metadata: Option<Meta>,
    spec: Option<NodeSpec>,
    status: Option<NodeStatus>,
}

#[derive(Deserialize)]
struct NodeSpec {
    taints: Option<Vec<Taint>>,
    unschedulable: Option<bool>,
}

#[derive(Deserialize)]
struct Taint {
    #[serde(default, deserialize_with = "or_default")]
    key: String,
    value: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    effect: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeStatus {
    node_info: Option<NodeInfo>,
    conditions: Option<Vec<Condition>>,
    addresses: Option<Vec<Address>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeInfo {
    #[serde(default, deserialize_with = "or_default")]
    kubelet_version: String,
}

#[derive(Deserialize)]
struct Address {
    #[serde(rename = "type", default, deserialize_with = "or_default")]
    type_: String,
    #[serde(default, deserialize_with = "or_default")]
    address: String,
}

impl<'de> Deserialize<'de> for Lean<core::Node> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = Node::deserialize(d)?;
        Ok(Lean(core::Node {
            metadata: n.metadata.map(Into::into).unwrap_or_default(),
            spec: n.spec.map(|s| core::NodeSpec {
                taints: each(s.taints, |t| core::Taint {
                    key: t.key,
                    value: t.value,
                    effect: t.effect,
                    time_added: None,
                }),
                unschedulable: s.unschedulable,
                ..core::NodeSpec::default()
            }),
            status: n.status.map(|s| core::NodeStatus {
                node_info: s.node_info.map(|i| core::NodeSystemInfo {
                    kubelet_version: i.kubelet_version,
                    ..core::NodeSystemInfo::default()
                }),
                conditions: each(s.conditions, |c| core::NodeCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    ..core::NodeCondition::default()
                }),
                addresses: each(s.addresses, |a| core::NodeAddress {
                    type_: a.type_,
                    address: a.address,
                }),
                ..core::NodeStatus::default()
            }),
        }))
    }
}

// --- ReplicaSets and Deployments -------------------------------------------------------------

/// A ReplicaSet or a Deployment: what their projections read is the same.
#[derive(Deserialize)]
struct Workload {
    metadata: Option<Meta>,
    spec: Option<WorkloadSpec>,
    status: Option<WorkloadStatus>,
}

#[derive(Deserialize)]
struct WorkloadSpec {
    replicas: Option<i32>,
    selector: Option<LabelSelector>,
    template: Option<PodTemplate>,
}

#[derive(Deserialize)]
struct PodTemplate {
    metadata: Option<TemplateMeta>,
    spec: Option<PodSpec<Container>>,
}

#[derive(Deserialize)]
struct TemplateMeta {
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadStatus {
    ready_replicas: Option<i32>,
    available_replicas: Option<i32>,
}

impl From<PodTemplate> for core::PodTemplateSpec {
    fn from(t: PodTemplate) -> Self {
        core::PodTemplateSpec {
            metadata: t.metadata.map(|m| ObjectMeta {
                labels: m.labels,
                ..ObjectMeta::default()
            }),
            spec: t.spec.map(Into::into),
        }
    }
}

impl<'de> Deserialize<'de> for Lean<apps::ReplicaSet> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Workload::deserialize(d).map(Into::into)
    }
}

impl From<Workload> for Lean<apps::ReplicaSet> {
    fn from(r: Workload) -> Self {
        let spec = r
            .spec
            .map(|s| apps::ReplicaSetSpec {
                replicas: s.replicas,
                selector: s.selector.unwrap_or_default(),
                template: s.template.map(Into::into),
                ..apps::ReplicaSetSpec::default()
            })
            .unwrap_or_default();
        Lean(apps::ReplicaSet {
            metadata: r.metadata.map(Into::into).unwrap_or_default(),
            spec,
            status: r.status.map(|s| apps::ReplicaSetStatus {
                ready_replicas: s.ready_replicas,
                available_replicas: s.available_replicas,
                ..apps::ReplicaSetStatus::default()
            }),
        })
    }
}

impl<'de> Deserialize<'de> for Lean<apps::Deployment> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Workload::deserialize(d).map(Into::into)
    }
}

impl From<Workload> for Lean<apps::Deployment> {
    fn from(r: Workload) -> Self {
        let spec = r
            .spec
            .map(|s| apps::DeploymentSpec {
                replicas: s.replicas,
                selector: s.selector.unwrap_or_default(),
                template: s.template.map(Into::into).unwrap_or_default(),
                ..apps::DeploymentSpec::default()
            })
            .unwrap_or_default();
        Lean(apps::Deployment {
            metadata: r.metadata.map(Into::into).unwrap_or_default(),
            spec,
            status: r.status.map(|s| apps::DeploymentStatus {
                ready_replicas: s.ready_replicas,
                available_replicas: s.available_replicas,
                ..apps::DeploymentStatus::default()
            }),
        })
    }
}

/// A list's ReplicaSets and Deployments are read by meshtop's own reader too: at 100,000
/// pods they are about 40,000 objects, each with its managedFields and its pod template,
/// and serde's tokenizing of what is skipped was a tenth of a full sync.
impl ListItem for Lean<apps::ReplicaSet> {
    const READER: Option<ReadItem<Self>> = Some(|r| read_workload(r).map(Into::into));
}

impl ListItem for Lean<apps::Deployment> {
    const READER: Option<ReadItem<Self>> = Some(|r| read_workload(r).map(Into::into));
}

/// A ReplicaSet or a Deployment, the same fields as `Workload`'s `Deserialize` reads.
fn read_workload(r: &mut Reader<'_>) -> scan::Result<Workload> {
    let mut w = Workload {
        metadata: None,
        spec: None,
        status: None,
    };
    r.record(|r, key| {
        match key {
            b"metadata" => w.metadata = read_meta(r)?,
            b"spec" => w.spec = read_workload_spec(r)?,
            b"status" => {
                let mut status = WorkloadStatus {
                    ready_replicas: None,
                    available_replicas: None,
                };
                let present = r.object(|r, key| {
                    match key {
                        b"readyReplicas" => status.ready_replicas = r.value()?,
                        b"availableReplicas" => status.available_replicas = r.value()?,
                        _ => r.skip()?,
                    }
                    Ok(())
                })?;
                w.status = present.then_some(status);
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(w)
}

fn read_workload_spec(r: &mut Reader<'_>) -> scan::Result<Option<WorkloadSpec>> {
    let mut spec = WorkloadSpec {
        replicas: None,
        selector: None,
        template: None,
    };
    let present = r.object(|r, key| {
        match key {
            b"replicas" => spec.replicas = r.value()?,
            b"selector" => spec.selector = r.value()?,
            b"template" => {
                let mut template = PodTemplate {
                    metadata: None,
                    spec: None,
                };
                let present = r.object(|r, key| {
                    match key {
                        b"metadata" => {
                            let mut labels = None;
                            let present = r.object(|r, key| {
                                match key {
                                    b"labels" => labels = r.string_map()?,
                                    _ => r.skip()?,
                                }
                                Ok(())
                            })?;
                            template.metadata = present.then_some(TemplateMeta { labels });
                        }
                        b"spec" => template.spec = read_template_spec(r)?,
                        _ => r.skip()?,
                    }
                    Ok(())
                })?;
                spec.template = present.then_some(template);
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(present.then_some(spec))
}

/// A workload template's pod spec: its containers' command and environment are read too.
fn read_template_spec(r: &mut Reader<'_>) -> scan::Result<Option<PodSpec<Container>>> {
    let mut spec = PodSpec {
        node_name: None,
        containers: Vec::new(),
        init_containers: None,
        node_selector: None,
        volumes: None,
    };
    let present = r.object(|r, key| {
        match key {
            b"nodeName" => spec.node_name = r.opt_string()?,
            b"containers" => spec.containers = r.list(read_template_container)?.unwrap_or_default(),
            b"initContainers" => spec.init_containers = r.list(read_template_container)?,
            b"nodeSelector" => spec.node_selector = r.string_map()?,
            b"volumes" => spec.volumes = r.value()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(present.then_some(spec))
}

fn read_template_container(r: &mut Reader<'_>) -> scan::Result<Container> {
    let mut c = Container::default();
    r.record(|r, key| {
        match key {
            b"name" => c.name = r.string_or_empty()?,
            b"image" => c.image = r.opt_string()?,
            b"restartPolicy" => c.restart_policy = r.opt_string()?,
            b"command" => c.command = r.value()?,
            b"env" => c.env = r.value()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An injected pod as the API server sends one: native sidecar, init container done,
    /// managedFields, a `last-applied-configuration`, env and probes, `null`s.
    fn injected_pod() -> serde_json::Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "reviews-v1-7d9c8-abcde",
                "namespace": "shop",
                "uid": "0d9f",
                "resourceVersion": "812",
                "creationTimestamp": "2026-11-25T10:00:00Z",
                "labels": {"app": "reviews", "istio.io/rev": "1-22-1", "pod-template-hash": "7d9c8"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"a\": 1}",
                    "sidecar.istio.io/status": "{\"revision\":\"1-22-1\",\"initContainers\":[\"istio-init\"]}",
                    "prometheus.io/port": "15020",
                    "istio.io/rev": "1-22-1"
                },
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "reviews-v1-7d9c8", "uid": "9", "controller": true}],
                "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}}}],
                "finalizers": null
            },
            "spec": {
                "nodeName": "node-7",
                "containers": [{
                    "name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20",
                    "env": [{"name": "LOG_DIR", "value": "/tmp/logs"}],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 9080}},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]
                }],
                "initContainers": [
                    {"name": "istio-init", "image": "docker.io/istio/proxyv2:1.22.1"},
                    {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.1-distroless",
                     "restartPolicy": "Always", "args": ["proxy", "sidecar"]}
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "x"}}],
                "tolerations": null
            },
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": null},
                    {"type": "Ready", "status": "True"},
                    {"type": "PodScheduled", "status": "True"}
                ],
                "initContainerStatuses": [
                    {"name": "istio-init", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "istio-proxy", "ready": true, "started": true, "restartCount": 2,
                     "image": "i", "imageID": "", "state": {"running": {"startedAt": "2026-11-25T10:00:05Z"}}}
                ],
                "containerStatuses": [
                    {"name": "reviews", "ready": true, "restartCount": 1, "image": "i", "imageID": "",
                     "state": {"running": {"startedAt": "2026-11-25T10:00:06Z"}},
                     "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}
                ],
                "podIP": "10.0.0.7"
            }
        })
    }

    #[test]
    fn an_injected_pod_reads_leanly_as_it_reads_in_full() {
        let value = injected_pod();
        let full: core::Pod = serde_json::from_value(value.clone()).expect("full");
        let lean: Lean<PodParts> = serde_json::from_value(value).expect("lean");
        let (full, lean_object) = (
            full.project(&mut Interner::default()),
            lean.project(&mut Interner::default()),
        );
        assert!(full.is_some());
        assert_eq!(lean_object, full);
        // What no projection reads is not kept.
        let meta = &lean.0.meta;
        assert!(meta.managed_fields.is_none());
        let annotations = meta.annotations.as_ref().expect("annotations");
        assert_eq!(
            annotations.keys().map(String::as_str).collect::<Vec<_>>(),
            ["istio.io/rev", "sidecar.istio.io/status"]
        );
        assert_eq!(lean.0.containers.len(), 1);
        assert!(lean.0.has_empty_dir);
    }

    #[test]
    fn a_list_reads_pods_as_serde_does() {
        let mut unusual = injected_pod();
        unusual["metadata"]["annotations"]["istio.io/rev"] = json!("caf\u{e9} \"rev\"");
        unusual["metadata"]["deletionTimestamp"] = json!("2026-11-25T11:00:00Z");
        unusual["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}, "running": null});
        unusual["status"]["initContainerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 1, "signal": 9, "reason": null}});
        unusual["status"]["initContainerStatuses"][1]["ready"] = json!(null);
        unusual["spec"]["volumes"] = json!([{"emptyDir": null, "name": "a"}, {"name": null, "emptyDir": {"medium": "Memory"}}]);
        let sparse = json!({
            "metadata": {"name": "p", "namespace": "ns", "annotations": null, "labels": null},
            "spec": {"containers": null, "initContainers": [{"name": null}], "volumes": null},
            "status": null
        });
        for value in [injected_pod(), unusual, sparse, json!({})] {
            let bytes = serde_json::to_vec(&value).expect("JSON");
            let by_serde: Lean<PodParts> = serde_json::from_slice(&bytes).expect("serde");
            let by_reader = Lean::<PodParts>::from_json(&bytes).expect("meshtop's reader");
            assert_eq!(by_reader.0, by_serde.0, "{value}");
        }
    }

    /// A Deployment as the API server sends one (its ReplicaSet has the same shape): an
    /// operator's command and environment in the template, managedFields, a status.
    fn deployment() -> serde_json::Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "istio-operator",
                "namespace": "istio-operator",
                "uid": "7c1e",
                "resourceVersion": "4411",
                "generation": 3,
                "creationTimestamp": "2021-03-01T09:00:00Z",
                "labels": {"app": "istio-operator"},
                "annotations": {"deployment.kubernetes.io/revision": "3", "istio.io/rev": "1-9-1"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Namespace", "name": "x", "uid": "u1"}],
                "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {".": {},
                    "k:{\"type\":\"Available\"}": {".": {}, "f:status": {}}}}}}]
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"name": "istio-operator"},
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                "template": {
                    "metadata": {"labels": {"name": "istio-operator"}, "annotations": {"a": "b"}},
                    "spec": {
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always"}],
                        "containers": [{
                            "name": "istio-operator",
                            "image": "docker.io/istio/operator:1.9.1",
                            "command": ["operator", "server"],
                            "env": [{"name": "WATCH_NAMESPACE", "value": "istio-system"},
                                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                            "resources": {"limits": {"cpu": "200m"}}
                        }],
                        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
                    }
                }
            },
            "status": {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1,
                "conditions": [{"type": "Available", "status": "False"}]}
        })
    }

    fn workload_by_reader(bytes: &[u8]) -> scan::Result<Workload> {
        let mut r = Reader::new(bytes);
        let workload = read_workload(&mut r)?;
        r.end()?;
        Ok(workload)
    }

    #[test]
    fn a_list_reads_replicasets_and_deployments_as_serde_does() {
        let mut unusual = deployment();
        unusual["spec"]["template"]["spec"]["containers"][0]["env"] = json!(null);
        unusual["spec"]["template"]["spec"]["initContainers"] = json!(null);
        unusual["spec"]["template"]["metadata"] = json!({"labels": null});
        unusual["metadata"]["labels"]["caf\u{e9}"] = json!("\"quoted\" \\");
        unusual["status"] = json!({"readyReplicas": null});
        let sparse = json!({"metadata": {"name": "r"}, "spec": {"template": null, "selector": null}, "status": null});
        let bare = json!({"spec": {"template": {"spec": null, "metadata": null}}});
        for value in [deployment(), unusual, sparse, bare, json!({})] {
            let bytes = serde_json::to_vec(&value).expect("JSON");
            let by_reader = || workload_by_reader(&bytes).expect("meshtop's reader");
            let rs: Lean<apps::ReplicaSet> = serde_json::from_slice(&bytes).expect("serde");
            assert_eq!(
                Lean::<apps::ReplicaSet>::from(by_reader()).0,
                rs.0,
                "{value}"
            );
            let d: Lean<apps::Deployment> = serde_json::from_slice(&bytes).expect("serde");
            assert_eq!(
                Lean::<apps::Deployment>::from(by_reader()).0,
                d.0,
                "{value}"
            );
        }
        // What the projections read is there, and what they do not is not.
        let d = Lean::<apps::Deployment>::from(
            workload_by_reader(&serde_json::to_vec(&deployment()).expect("JSON")).expect("read"),
        );
        let container =
            &d.0.spec
                .template
                .spec
                .as_ref()
                .expect("a template")
                .containers[0];
        assert_eq!(
            container.command.as_deref(),
            Some(&["operator".into(), "server".into()][..])
        );
        assert_eq!(container.env.as_ref().map(Vec::len), Some(2));
        assert!(container.resources.is_none());
        assert!(d.0.metadata.managed_fields.is_none());
        assert_eq!(d.0.status.as_ref().and_then(|s| s.ready_replicas), Some(1));
        // Wrong types are errors, as they are for serde.
        for text in [
            r#"{"spec": {"replicas": "2"}}"#,
            r#"{"spec": {"template": {"spec": {"containers": [{"command": "sh"}]}}}}"#,
            r#"{"spec": {"template": {"metadata": {"labels": {"a": 1}}}}}"#,
            r#"{"status": {"availableReplicas": []}}"#,
            r#"null"#,
        ] {
            assert!(workload_by_reader(text.as_bytes()).is_err(), "{text}");
            assert!(
                serde_json::from_str::<Lean<apps::Deployment>>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn a_pod_the_reader_cannot_read_is_an_error() {
        for text in [
            r#"{"metadata": {"name": 7}}"#,
            r#"{"metadata": {"annotations": {"istio.io/rev": null}}}"#,
            r#"{"spec": {"containers": [null]}}"#,
            r#"{"spec": {"volumes": [{"name": 1}]}}"#,
            r#"{"status": {"phase": []}}"#,
            r#"{"status": {"containerStatuses": [{"restartCount": "2"}]}}"#,
            r#"{"status": {"conditions": [{"type": {}}]}}"#,
            r#"{"metadata": {"labels": {"a": "b"}}"#,
            r#"null"#,
            r#"{} {}"#,
        ] {
            assert!(
                Lean::<PodParts>::from_json(text.as_bytes()).is_err(),
                "{text}"
            );
            assert!(
                serde_json::from_str::<Lean<PodParts>>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn nulls_and_missing_parts_read_as_absent() {
        let pod: Lean<PodParts> = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "annotations": null, "labels": null},
            "spec": {"containers": null},
            "status": null
        }))
        .expect("a sparse pod");
        assert_eq!(pod.0.meta.annotations, None);
        assert!(pod.0.containers.is_empty());
        let node: Lean<core::Node> =
            serde_json::from_value(json!({"metadata": {"name": "n"}})).expect("a bare node");
        assert_eq!(node.0.metadata.name.as_deref(), Some("n"));
        let rs: Lean<apps::ReplicaSet> =
            serde_json::from_value(json!({"metadata": {"name": "r"}, "spec": {"template": null}}))
                .expect("a bare ReplicaSet");
        assert!(rs.0.spec.template.is_none());
    }

    /// `text` cut at every byte, and with every byte replaced by each of the bytes that
    /// steer a JSON reader: `read` (and the projection of what it reads) never panics, and
    /// the text cut short is always an error.
    fn every_cut_and_change_is_read_without_a_panic<T>(
        text: &[u8],
        read: impl Fn(&[u8]) -> scan::Result<T>,
        project: impl Fn(T),
    ) {
        const STEERING: [u8; 16] = [
            b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'n', b'0', b'-', b'u', 0x01,
            0x80, 0xff,
        ];
        project(read(text).expect("the text reads whole"));
        for cut in 0..text.len() {
            assert!(
                read(&text[..cut]).is_err(),
                "cut at {cut}: {}",
                String::from_utf8_lossy(&text[..cut])
            );
        }
        let mut changed = text.to_vec();
        for at in 0..text.len() {
            for &b in &STEERING {
                changed[at] = b;
                if let Ok(read) = read(&changed) {
                    project(read);
                }
            }
            changed[at] = text[at];
        }
    }

    #[test]
    fn a_pod_or_workload_cut_or_changed_anywhere_is_read_without_a_panic() {
        let pod = serde_json::to_vec(&injected_pod()).expect("json");
        every_cut_and_change_is_read_without_a_panic(&pod, Lean::<PodParts>::from_json, |p| {
            p.project(&mut Interner::default());
        });
        let deployment = serde_json::to_vec(&deployment()).expect("json");
        // Read twice: as a Deployment and as a ReplicaSet.
        every_cut_and_change_is_read_without_a_panic(
            &deployment,
            |b| Ok((workload_by_reader(b)?, workload_by_reader(b)?)),
            |(d, r)| {
                Lean::<apps::Deployment>::from(d).project(&mut Interner::default());
                Lean::<apps::ReplicaSet>::from(r).project(&mut Interner::default());
            },
        );
    }

    #[test]
    fn a_wrong_type_is_an_error_not_a_panic() {
        let wrong = json!({"metadata": {"name": 7}});
        assert!(serde_json::from_value::<Lean<PodParts>>(wrong.clone()).is_err());
        assert!(serde_json::from_value::<Lean<core::Node>>(wrong).is_err());
    }
}
