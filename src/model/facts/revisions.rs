//! Control-plane revisions: found from IstioOperators, istiod Deployments and pods, injector
//! webhooks and revision tags (as `istioctl tag list` and `x revision list` do), and which
//! revision a namespace's labels select (the webhook selectors' precedence).

use std::collections::{BTreeMap, BTreeSet};

use super::super::intern::Name;
use super::super::labels::{Labels, keys};
use super::super::project::image_tag;
use super::super::store::Store;
use super::super::summary::{Installer, WorkloadSummary};
use super::{RevisionRow, RevisionSource};

const TAG_PREFIX: &str = "istio-revision-tag-";
const INJECTOR_PREFIX: &str = "istio-sidecar-injector";

/// What the revision-related objects say, computed once per frame.
#[derive(Debug, Default)]
pub(crate) struct RevisionMap {
    /// Tag → the revision it points at.
    pub tags: BTreeMap<Name, Name>,
    /// The revision owning `istio-injection=enabled`.
    pub default: Option<Name>,
    /// Every revision found, with how.
    pub known: BTreeMap<Name, Vec<RevisionSource>>,
}

fn named(s: &str) -> Name {
    Name::from(s)
}

/// `""` is the revision-less install, called `default`.
fn revision_name(rev: &str) -> Name {
    if rev.is_empty() {
        named("default")
    } else {
        named(rev)
    }
}

impl RevisionMap {
    pub fn of(store: &Store) -> Self {
        let mut map = RevisionMap::default();
        let add = |known: &mut BTreeMap<Name, Vec<RevisionSource>>, rev: Name, s| {
            let sources = known.entry(rev).or_default();
            if !sources.contains(&s) {
                sources.push(s);
            }
        };
        for iop in store.iops.values().filter(|o| o.pilot_enabled) {
            add(
                &mut map.known,
                revision_name(&iop.revision),
                RevisionSource::IstioOperator,
            );
        }
        for rev in store
            .index
            .istiod_deployments
            .keys()
            .chain(store.index.istiod_pods.keys())
        {
            add(&mut map.known, rev.clone(), RevisionSource::Istiod);
        }
        for w in store.webhooks.values() {
            let rev_label = w.labels.get(keys::ISTIO_REV).filter(|r| !r.is_empty());
            let tag = w
                .labels
                .get(keys::ISTIO_TAG)
                .cloned()
                .or_else(|| w.name.strip_prefix(TAG_PREFIX).map(named));
            if let Some(tag) = tag {
                if let Some(rev) = rev_label {
                    map.tags.insert(tag, rev.clone());
                    add(&mut map.known, rev.clone(), RevisionSource::Tag);
                }
                continue;
            }
            let rev = rev_label.cloned().or_else(|| {
                let suffix = w.name.strip_prefix(INJECTOR_PREFIX)?;
                Some(match suffix.strip_prefix('-') {
                    Some(rev) if !rev.is_empty() => named(rev),
                    _ if suffix.is_empty() => named("default"),
                    _ => return None,
                })
            });
            if let Some(rev) = rev {
                add(&mut map.known, rev, RevisionSource::Webhook);
            }
        }
        for sources in map.known.values_mut() {
            sources.sort_by_key(|s| *s as u8);
        }
        map.default = map
            .tags
            .get("default")
            .cloned()
            .or_else(|| map.known.contains_key("default").then(|| named("default")));
        map
    }

    /// A tag's revision, or the name itself.
    pub fn resolve(&self, rev: &Name) -> Name {
        self.tags.get(rev).cloned().unwrap_or_else(|| rev.clone())
    }

    /// The revision (or tag) a namespace's labels select: `istio-injection` wins; `enabled`
    /// means the default revision, any other value means none; else `istio.io/rev`.
    pub fn selected_by(&self, labels: &Labels) -> Option<Name> {
        match labels.get(keys::ISTIO_INJECTION) {
            Some(v) if v.as_ref() == "enabled" => self.default.clone(),
            Some(_) => None,
            None => labels
                .get(keys::ISTIO_REV)
                .filter(|r| !r.is_empty())
                .cloned(),
        }
    }

    /// The revision that injects new pods in a namespace, tags resolved.
    pub fn effective(&self, labels: &Labels) -> Option<Name> {
        self.selected_by(labels).map(|r| self.resolve(&r))
    }

    /// Revision names (and tags) whose pods belong to `rev`.
    pub fn aliases<'a>(&'a self, rev: &'a Name) -> impl Iterator<Item = &'a Name> + 'a {
        std::iter::once(rev).chain(
            self.tags
                .iter()
                .filter(move |(_, r)| *r == rev)
                .map(|(t, _)| t),
        )
    }
}

/// The istiod Deployments of a revision.
fn istiod_deployments<'s>(
    store: &'s Store,
    rev: &Name,
) -> impl Iterator<Item = &'s WorkloadSummary> {
    store
        .index
        .istiod_deployments
        .get(rev)
        .into_iter()
        .flatten()
        .filter_map(|k| store.deployments.get(k))
}

/// The most common istiod version of a revision, else the image tag of its Deployment.
pub(crate) fn istiod_version(store: &Store, rev: &Name) -> Option<Name> {
    let mut counts: BTreeMap<Name, u32> = BTreeMap::new();
    for key in store.index.istiod_pods.get(rev).into_iter().flatten() {
        if let Some(v) = store.pods.get(key).and_then(|p| p.istiod_version) {
            *counts.entry(v).or_default() += 1;
        }
    }
    if let Some((v, _)) = counts
        .iter()
        .max_by_key(|(v, n)| (**n, std::cmp::Reverse(*v)))
    {
        return Some(v.clone());
    }
    istiod_deployments(store, rev)
        .flat_map(|w| w.images.iter())
        .find(|img| img.contains("pilot"))
        .and_then(|img| image_tag(img))
        .map(named)
}

/// The name the legacy control plane's row goes by: no revision can be called that.
pub const LEGACY: &str = "(legacy)";

/// Words for how an object was installed; the in-cluster operator when one reconciles the
/// IstioOperator named, else istioctl.
fn installed_by(store: &Store, installer: &Installer, namespace: &Name) -> String {
    match installer {
        Installer::IstioOperator { resource } => {
            let reconciled = store.deployments.values().any(|w| {
                w.operator
                    .as_ref()
                    .is_some_and(|t| t.watched.as_ref().is_none_or(|ns| ns.contains(namespace)))
            });
            let iop = store.iops.keys().find(|k| k.name == *resource);
            if let (true, Some(iop)) = (reconciled, iop) {
                format!("operator {}/{}", iop.namespace, iop.name)
            } else {
                "istioctl".into()
            }
        }
        other => other.words(),
    }
}

/// Is `w` a Deployment of the control plane Istio ran before revisions (1.4 and older):
/// pilot, galley, mixer's policy and telemetry, citadel, the sidecar injector? The store
/// keeps them (`Index::legacy_components`), so a frame does not look at every Deployment.
pub(crate) fn is_legacy_component(w: &WorkloadSummary) -> bool {
    const ISTIO_LABELS: [&str; 6] = [
        "pilot",
        "galley",
        "mixer",
        "citadel",
        "sidecar-injector",
        "istio-policy",
    ];
    let istio = w.labels.get(keys::ISTIO).map(|v| v.as_ref());
    let app = w.labels.get(keys::APP).map(|v| v.as_ref());
    app != Some("istiod")
        && istio.is_some_and(|v| ISTIO_LABELS.contains(&v))
        && w.images.iter().any(|i| {
            image_tag(i)
                .and_then(|t| t.strip_prefix("1."))
                .and_then(|t| t.split('.').next())
                .and_then(|m| m.parse::<u32>().ok())
                .is_some_and(|minor| minor < 5)
        })
}

/// The legacy control plane's Deployments, by namespace and name.
fn legacy_components(store: &Store) -> Vec<&WorkloadSummary> {
    store
        .index
        .legacy_components
        .iter()
        .filter_map(|k| store.deployments.get(k))
        .collect()
}

/// The legacy control plane as a row, when one runs: its pilot's version, its components,
/// and the pods still carrying its sidecars (injected with no revision, same minor).
fn legacy_row(store: &Store) -> Option<RevisionRow> {
    let components = legacy_components(store);
    let first = components.first()?;
    let version = components
        .iter()
        .find(|w| {
            w.labels
                .get(keys::ISTIO)
                .is_some_and(|v| v.as_ref() == "pilot")
        })
        .unwrap_or(first)
        .images
        .iter()
        .find_map(|i| image_tag(i))
        .map(named);
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    let pods = version.as_ref().map_or(0, |v| {
        store
            .index
            .revision_proxy_versions
            .get("default")
            .into_iter()
            .flatten()
            .filter(|(pv, _)| minor(pv) == minor(v))
            .map(|(_, n)| *n)
            .sum()
    });
    Some(RevisionRow {
        revision: named(LEGACY),
        sources: vec![RevisionSource::Legacy],
        installed_by: first
            .installer
            .as_ref()
            .map(|i| installed_by(store, i, &first.namespace)),
        iop: None,
        iop_status: None,
        istiod_ready: components.iter().map(|w| w.ready).sum(),
        istiod_desired: components.iter().map(|w| w.desired).sum(),
        version,
        tags: Vec::new(),
        default: false,
        namespaces: Vec::new(),
        pods,
        components: components.iter().map(|w| w.name.clone()).collect(),
    })
}

pub(crate) fn rows(store: &Store, map: &RevisionMap) -> Vec<RevisionRow> {
    let mut namespaces: BTreeMap<Name, Vec<Name>> = BTreeMap::new();
    for ns in store.namespaces.values() {
        if let Some(rev) = map.effective(&ns.labels) {
            namespaces.entry(rev).or_default().push(ns.name.clone());
        }
    }
    map.known
        .iter()
        .map(|(rev, sources)| {
            let iop = store
                .iops
                .values()
                .find(|o| o.pilot_enabled && revision_name(&o.revision) == *rev);
            let deployments: Vec<_> = istiod_deployments(store, rev).collect();
            let (ready, desired) = if deployments.is_empty() {
                let pods: Vec<_> = store
                    .index
                    .istiod_pods
                    .get(rev)
                    .into_iter()
                    .flatten()
                    .filter_map(|k| store.pods.get(k))
                    .collect();
                (
                    pods.iter().filter(|p| p.ready).count() as u32,
                    pods.len() as u32,
                )
            } else {
                (
                    deployments.iter().map(|w| w.ready).sum(),
                    deployments.iter().map(|w| w.desired).sum(),
                )
            };
            let tags: Vec<Name> = map
                .tags
                .iter()
                .filter(|(_, r)| *r == rev)
                .map(|(t, _)| t.clone())
                .collect();
            let pods: usize = map
                .aliases(rev)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|r| store.index.revision_pods.get(r).map_or(0, |&n| n as usize))
                .sum();
            let installed = deployments
                .iter()
                .find_map(|w| w.installer.as_ref().map(|i| (i, &w.namespace)))
                .map(|(i, ns)| installed_by(store, i, ns))
                .or_else(|| {
                    iop.map(|o| {
                        installed_by(
                            store,
                            &Installer::IstioOperator {
                                resource: o.name.clone(),
                            },
                            &o.namespace,
                        )
                    })
                });
            RevisionRow {
                revision: rev.clone(),
                sources: sources.clone(),
                installed_by: installed,
                iop: iop.map(|o| format!("{}/{}", o.namespace, o.name)),
                iop_status: iop.map(|o| o.status.clone()).filter(|s| !s.is_empty()),
                istiod_ready: ready,
                istiod_desired: desired,
                version: istiod_version(store, rev),
                tags,
                default: map.default.as_ref() == Some(rev),
                namespaces: namespaces.get(rev).cloned().unwrap_or_default(),
                pods: pods as u32,
                components: Vec::new(),
            }
        })
        .chain(legacy_row(store))
        .collect()
}
