//! Findings: what an expert checks by hand while an upgrade is half done, worst first.

use crate::ops::outcome::count;
use std::collections::{BTreeMap, BTreeSet};

use super::super::event::{Kind, SourceState};
use super::super::intern::Name;
use super::super::store::Store;
use super::super::summary::{ObjectKey, PdbSummary};
use super::revisions::{RevisionMap, istiod_version};
use super::{
    Dataplane, Finding, FindingKind, FindingObject, Severity, disruption, gateways, namespaces,
    nodes, proxies,
};

fn finding(severity: Severity, code: &'static str, message: String) -> Finding {
    Finding::new(severity, code, message)
}

fn list(items: &[impl AsRef<str>]) -> String {
    const SHOWN: usize = 5;
    let mut s = items
        .iter()
        .take(SHOWN)
        .map(|i| i.as_ref())
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

/// A source that is not known to be listed fully: its absence of objects proves nothing.
fn incomplete(sources: &BTreeMap<Kind, SourceState>, kind: Kind) -> bool {
    sources
        .get(&kind)
        .is_some_and(|s| !matches!(s, SourceState::Ready))
}

/// One finding per kind of trouble, naming every source in it and the first one's words:
/// an RBAC role that forbids ten kinds is one fact, not ten.
fn source_findings(sources: &BTreeMap<Kind, SourceState>, out: &mut Vec<Finding>) {
    let group = |wanted: fn(&SourceState) -> Option<&str>| {
        let mut resources = Vec::new();
        let mut first = None;
        for (kind, state) in sources {
            if let Some(msg) = wanted(state) {
                resources.push(kind.resource());
                first.get_or_insert(msg.to_string());
            }
        }
        (!resources.is_empty()).then(|| (resources.join(", "), first.unwrap_or_default()))
    };
    if let Some((names, msg)) = group(|s| match s {
        SourceState::Error(m) => Some(m),
        _ => None,
    }) {
        out.push(finding(
            Severity::Error,
            "source-error",
            format!("watch failing, retrying: {names} ({msg}); their rows are as last seen"),
        ));
    }
    if let Some((names, msg)) = group(|s| match s {
        SourceState::Forbidden(m) => Some(m),
        _ => None,
    }) {
        out.push(finding(
            Severity::Warning,
            "source-forbidden",
            format!("forbidden by RBAC, not shown: {names} ({msg})"),
        ));
    }
    if let Some((names, msg)) = group(|s| match s {
        SourceState::Partial(m) => Some(m),
        _ => None,
    }) {
        out.push(finding(
            Severity::Warning,
            "source-partial",
            format!("one namespace only: {names} ({msg}); what needs the others is unknown"),
        ));
    }
    if let Some((names, _)) = group(|s| match s {
        SourceState::Absent => Some(""),
        _ => None,
    }) {
        out.push(finding(
            Severity::Info,
            "source-absent",
            format!("not served by this cluster (CRD not installed): {names}"),
        ));
    }
}

/// Only the budgets worth a finding are read (`Index::noted_pdbs`, `unselective_pdbs`): a
/// large cluster has a budget per workload, and the findings are built at every frame that
/// follows a change.
fn disruption_findings(
    store: &Store,
    sources: &BTreeMap<Kind, SourceState>,
    out: &mut Vec<Finding>,
) {
    let object = |budget: &PdbSummary| {
        FindingObject::namespaced(FindingKind::Pdb, &budget.namespace, &budget.name)
    };
    let budgets = |keys: &'_ BTreeSet<ObjectKey>| {
        keys.iter()
            .filter_map(|key| store.pdbs.get(key))
            .collect::<Vec<_>>()
    };
    for budget in budgets(&store.index.noted_pdbs) {
        let name = format!("{}/{}", budget.namespace, budget.name);
        let (blocks_nodes, _) = disruption::blocking(store, budget);
        if !blocks_nodes.is_empty() {
            out.push(
                finding(
                    Severity::Error,
                    "pdb-blocks-drain",
                    format!(
                        "PDB {name} allows {} disruptions: it blocks the drain of {}",
                        budget.disruptions_allowed,
                        list(&blocks_nodes)
                    ),
                )
                .on(object(budget)),
            );
        }
        if budget.relaxed_from.is_some() {
            out.push(
                finding(
                    Severity::Warning,
                    "pdb-relaxed",
                    format!("PDB {name} was relaxed by meshtop and is not restored yet"),
                )
                .on(object(budget)),
            );
        }
    }
    if incomplete(sources, Kind::Pod) {
        return;
    }
    for budget in budgets(&store.index.unselective_pdbs) {
        out.push(
            finding(
                Severity::Warning,
                "pdb-selects-nothing",
                format!("PDB {}/{} selects no pods", budget.namespace, budget.name),
            )
            .on(object(budget)),
        );
    }
}

/// Cordoned and NotReady nodes come from the index; the nodes are read one by one only
/// when some kubelet is behind the newest (to name them): a frame does not read every node
/// of a large cluster that runs one version.
fn node_findings(store: &Store, out: &mut Vec<Finding>) {
    let named: [(&BTreeSet<Name>, Severity, &'static str, &str); 2] = [
        (
            &store.index.cordoned,
            Severity::Warning,
            "node-cordoned",
            "is cordoned (SchedulingDisabled)",
        ),
        (
            &store.index.not_ready_nodes,
            Severity::Error,
            "node-not-ready",
            "is NotReady",
        ),
    ];
    for (names, severity, code, words) in named {
        for n in names.iter().filter_map(|name| store.nodes.get(name)) {
            out.push(
                finding(severity, code, format!("node {} {words}", n.name))
                    .on(FindingObject::cluster(FindingKind::Node, &n.name)),
            );
        }
    }
    let Some((newest, newest_version)) = nodes::newest_kubelet(store) else {
        return;
    };
    let is_behind = |version: &str| nodes::major_minor(version).is_some_and(|v| v < newest);
    if !store.index.kubelets.keys().any(|v| is_behind(v)) {
        return;
    }
    let mut behind: BTreeMap<Name, Vec<Name>> = BTreeMap::new();
    for n in store
        .nodes
        .values()
        .filter(|n| is_behind(&n.kubelet_version))
    {
        behind
            .entry(n.kubelet_version.clone())
            .or_default()
            .push(n.name.clone());
    }
    for (version, names) in behind {
        let first = names
            .first()
            .map(|n| FindingObject::cluster(FindingKind::Node, n));
        out.push(Finding {
            object: first,
            ..finding(
                Severity::Warning,
                "kubelet-skew",
                format!(
                    "{} {} kubelet {version}, behind {newest_version}: {}",
                    count(names.len(), "node"),
                    if names.len() == 1 { "runs" } else { "run" },
                    list(&names)
                ),
            )
        });
    }
}

/// Does a revision run an istiod (a Deployment or pods of it)?
fn has_istiod(store: &Store, rev: &Name) -> bool {
    store.index.istiod_deployments.contains_key(rev) || store.index.istiod_pods.contains_key(rev)
}

fn namespace_findings(
    store: &Store,
    map: &RevisionMap,
    sources: &BTreeMap<Kind, SourceState>,
    out: &mut Vec<Finding>,
) {
    let revisioned = map.known.keys().any(|r| r.as_ref() != "default");
    for ns in store.namespaces.values() {
        let row = namespaces::row(store, map, ns);
        let name = &row.name;
        let object = FindingObject::cluster(FindingKind::Namespace, name);
        if row.conflict {
            out.push(
                finding(
                    Severity::Warning,
                    "injection-conflict",
                    format!(
                        "namespace {name} has both istio-injection={} and istio.io/rev={}: \
                     istio-injection wins (IST0123)",
                        row.injection.as_deref().unwrap_or_default(),
                        row.rev_label.as_deref().unwrap_or_default()
                    ),
                )
                .on(object.clone()),
            );
        }
        if row.injection.as_deref() == Some("enabled") && revisioned {
            let message = match &row.revision {
                Some(rev) => format!(
                    "namespace {name} still uses istio-injection=enabled: it gets the default \
                     revision {rev}; label it istio.io/rev=<revision> instead"
                ),
                None => format!(
                    "namespace {name} still uses istio-injection=enabled, which no revision \
                     serves: new pods get no sidecar; label it istio.io/rev=<revision>"
                ),
            };
            out.push(
                finding(Severity::Warning, "legacy-injection-label", message).on(object.clone()),
            );
        }
        if let Some(selected) = map.selected_by(&ns.labels) {
            let rev = map.resolve(&selected);
            if !map.known.is_empty() && !map.known.contains_key(&rev) {
                out.push(
                    finding(
                        Severity::Warning,
                        "unknown-revision",
                        format!(
                            "namespace {name} selects revision {selected}, which no control plane \
                         serves: new pods get no sidecar"
                        ),
                    )
                    .on(object.clone()),
                );
            }
        }
        if let Some(tag) = &row.tag
            && let Some(rev) = &row.revision
            && !has_istiod(store, rev)
            && !incomplete(sources, Kind::Pod)
            && !incomplete(sources, Kind::Deployment)
        {
            out.push(
                finding(
                    Severity::Error,
                    "tag-revision-gone",
                    format!(
                        "namespace {name} is on tag {tag}, which points at revision {rev}: no \
                         istiod of {rev} runs, so its new pods cannot be injected; move the tag \
                         to a running revision"
                    ),
                )
                .on(object.clone()),
            );
        }
        if row.dataplane == Dataplane::Both {
            out.push(
                finding(
                    Severity::Warning,
                    "ambient-and-sidecar",
                    format!(
                        "namespace {name} is labelled for ambient mode (istio.io/dataplane-mode=\
                         ambient) and for sidecar injection (revision {}): new pods get \
                         sidecars and ztunnel leaves them alone; remove one of the labels",
                        row.revision.as_deref().unwrap_or_default()
                    ),
                )
                .on(object.clone()),
            );
        }
        if !row.pods_to_restart.is_empty() {
            let from: BTreeSet<&Name> = store
                .index
                .namespaces
                .get(&ns.name)
                .into_iter()
                .flat_map(|p| p.restartable.iter())
                .filter(|(r, _)| Some(map.resolve(r)) != row.revision)
                .map(|(r, _)| r)
                .collect();
            let n = row.pods_to_restart.len();
            let runs = if n == 1 { "runs" } else { "run" };
            let what = match (&row.revision, from.is_empty()) {
                (Some(_), false) if row.without_proxy > 0 => format!(
                    "{runs} revision {} or no proxy",
                    list(&from.into_iter().collect::<Vec<_>>())
                ),
                (Some(_), false) => format!(
                    "{runs} revision {}",
                    list(&from.into_iter().collect::<Vec<_>>())
                ),
                (Some(_), true) => format!("{runs} no proxy"),
                (None, _) => format!("{runs} a sidecar"),
            };
            let selects = match (&row.revision, &row.tag) {
                (Some(rev), Some(tag)) => format!("selects {rev} (through tag {tag})"),
                (Some(rev), None) => format!("selects {rev}"),
                (None, _) => "is in ambient mode".to_string(),
            };
            out.push(
                finding(
                    Severity::Warning,
                    "pods-need-restart",
                    format!(
                        "{} in {name} {what} but the namespace {selects}: restart them to move",
                        count(n, "pod"),
                    ),
                )
                .on(object),
            );
        }
    }
}

fn revision_findings(
    store: &Store,
    map: &RevisionMap,
    sources: &BTreeMap<Kind, SourceState>,
    out: &mut Vec<Finding>,
) {
    for row in super::revisions::rows(store, map) {
        let rev = &row.revision;
        let object = FindingObject::cluster(FindingKind::Revision, rev);
        let proxies = store
            .sync
            .counts
            .get(rev)
            .is_some_and(|c| !c.per_state.is_empty() || c.last_known > 0);
        let unused = row.namespaces.is_empty() && row.tags.is_empty() && row.pods == 0 && !proxies;
        let complete = !incomplete(sources, Kind::Pod) && !incomplete(sources, Kind::Namespace);
        if row.is_legacy() {
            let components = list(&row.components);
            let version = row.version.as_deref().unwrap_or("unknown version");
            out.push(
                if unused && complete {
                    finding(
                        Severity::Info,
                        "legacy-control-plane",
                        format!(
                            "the non-revisioned Istio {version} control plane ({components}) \
                             still runs and nothing uses it: safe to remove"
                        ),
                    )
                } else {
                    finding(
                        Severity::Warning,
                        "legacy-control-plane",
                        format!(
                            "the non-revisioned Istio {version} control plane ({components}) \
                             still runs, and {} still {} its sidecars",
                            count(row.pods as usize, "pod"),
                            if row.pods == 1 { "carries" } else { "carry" }
                        ),
                    )
                }
                .on(object.clone()),
            );
            continue;
        }
        if unused && complete && !row.default && row.istiod_desired > 0 {
            out.push(
                finding(
                    Severity::Info,
                    "revision-unused",
                    format!("revision {rev} serves no namespace, tag or proxy: safe to remove"),
                )
                .on(object.clone()),
            );
        }
        let has_istiod =
            row.istiod_desired > 0 || row.sources.contains(&super::RevisionSource::Istiod);
        if !has_istiod && !incomplete(sources, Kind::Pod) && !incomplete(sources, Kind::Deployment)
        {
            out.push(
                finding(
                    Severity::Error,
                    "istiod-missing",
                    format!("revision {rev} has no istiod: its injector and tags point at nothing"),
                )
                .on(object.clone()),
            );
        } else if has_istiod && row.istiod_ready == 0 {
            out.push(
                finding(
                    Severity::Error,
                    "istiod-unavailable",
                    format!(
                        "revision {rev}: no istiod replica is ready (0/{})",
                        row.istiod_desired
                    ),
                )
                .on(object.clone()),
            );
        } else if row.istiod_ready < row.istiod_desired {
            out.push(
                finding(
                    Severity::Warning,
                    "istiod-degraded",
                    format!(
                        "revision {rev}: istiod {}/{} ready",
                        row.istiod_ready, row.istiod_desired
                    ),
                )
                .on(object.clone()),
            );
        }
        if let (Some(iop), Some(status)) = (&row.iop, &row.iop_status) {
            let severity = match status.as_ref() {
                "HEALTHY" | "NONE" => None,
                "ERROR" => Some(Severity::Error),
                _ => Some(Severity::Warning),
            };
            if let Some(severity) = severity {
                out.push(
                    finding(
                        severity,
                        "iop-not-healthy",
                        format!("IstioOperator {iop} (revision {rev}) is {status}"),
                    )
                    .on(object.clone()),
                );
            }
        }
        // With istiod's sync reports, the proxies' own versions say it better (below).
        if let Some(version) = istiod_version(store, rev)
            && !proxies::reported_revision(store, map, rev)
        {
            for alias in map.aliases(rev) {
                for (proxy, n) in store
                    .index
                    .revision_proxy_versions
                    .get(alias)
                    .into_iter()
                    .flatten()
                {
                    if *proxy != version {
                        out.push(finding(
                            Severity::Warning,
                            "proxy-version-skew",
                            format!(
                                "{n} proxies of revision {rev} run {proxy} while its istiod runs \
                                 {version}"
                            ),
                        ).on(object.clone()));
                    }
                }
            }
        }
    }
    // Pods injected by a revision nothing serves any more.
    if !map.known.is_empty() {
        for (rev, pods) in &store.index.revision_pods {
            if !map.known.contains_key(&map.resolve(rev)) {
                out.push(finding(
                    Severity::Warning,
                    "orphaned-proxies",
                    format!(
                        "{} {} injected by revision {rev}, which no control plane \
                         serves any more",
                        count(*pods as usize, "pod"),
                        if *pods == 1 { "was" } else { "were" }
                    ),
                ));
            }
        }
    }
}

fn gateway_findings(store: &Store, sources: &BTreeMap<Kind, SourceState>, out: &mut Vec<Finding>) {
    let rows = gateways::rows(store);
    let mut by_istio: BTreeMap<&Name, Vec<String>> = BTreeMap::new();
    for row in &rows {
        let name = format!("{}/{}", row.namespace, row.name);
        let object = FindingObject::namespaced(FindingKind::Gateway, &row.namespace, &row.name);
        if let Some(istio) = &row.istio {
            by_istio.entry(istio).or_default().push(name.clone());
        }
        if let Some(api) = &row.gateway_api
            && api.programmed == Some(false)
        {
            let what = if row.kind.as_ref() == "waypoint" {
                "waypoint"
            } else {
                "Gateway"
            };
            out.push(
                finding(
                    Severity::Error,
                    "gateway-not-programmed",
                    format!(
                        "{what} {name} (class {}) is not Programmed{}",
                        api.class,
                        api.programmed_reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ),
                )
                .on(object.clone()),
            );
        }
        if row.needs_mesh_config && !row.has_mesh_config && !incomplete(sources, Kind::ConfigMap) {
            let cm = gateways::mesh_config_name(row.revision.as_deref());
            let source = store
                .config_maps
                .values()
                .filter(|c| c.name.as_ref() == cm)
                .map(|c| c.namespace.clone())
                .max_by_key(|ns| ns.as_ref() == "istio-system");
            let hint = match source {
                Some(ns) => format!("copy it from {ns}"),
                None => "no namespace has it".into(),
            };
            out.push(
                finding(
                    Severity::Error,
                    "gateway-missing-mesh-config",
                    format!(
                        "gateway {name} needs ConfigMap {cm} in namespace {} ({hint})",
                        row.namespace
                    ),
                )
                .on(object),
            );
        }
    }
    for (istio, names) in by_istio {
        if names.len() > 1 {
            out.push(finding(
                Severity::Warning,
                "duplicate-gateway-labels",
                format!(
                    "gateways {} share the label istio={istio}: Gateway resources selecting it \
                     bind to all of them",
                    list(&names)
                ),
            ));
        }
    }
    let mut apps: BTreeMap<&Name, Vec<String>> = BTreeMap::new();
    for row in &rows {
        if let Some(app) = &row.app {
            apps.entry(app)
                .or_default()
                .push(format!("{}/{}", row.namespace, row.name));
        }
    }
    for (app, names) in apps {
        let istio_dup = rows
            .iter()
            .filter(|r| r.app.as_ref() == Some(app))
            .filter_map(|r| r.istio.as_ref())
            .collect::<BTreeSet<_>>()
            .len()
            < names.len();
        // Already reported through the `istio` label.
        if names.len() > 1 && !istio_dup {
            out.push(finding(
                Severity::Warning,
                "duplicate-gateway-labels",
                format!("gateways {} share the label app={app}", list(&names)),
            ));
        }
    }
    for (port, services) in &store.index.node_ports {
        if services.len() > 1 {
            let names: Vec<String> = services
                .iter()
                .map(|k| format!("{}/{}", k.namespace, k.name))
                .collect();
            out.push(finding(
                Severity::Error,
                "node-port-collision",
                format!(
                    "node port {port} is taken by several Services: {}",
                    list(&names)
                ),
            ));
        }
    }
}

/// ztunnel must stay within one minor version of its control plane.
fn ztunnel_findings(store: &Store, map: &RevisionMap, out: &mut Vec<Finding>) {
    let newest = map
        .known
        .keys()
        .filter_map(|r| istiod_version(store, r))
        .filter_map(|v| nodes::major_minor(&v).map(|mm| (mm, v)))
        .max();
    let mut skewed: BTreeMap<(Name, Name), Vec<Name>> = BTreeMap::new();
    for (node, keys) in &store.index.ztunnels {
        for p in keys.iter().filter_map(|k| store.pods.get(k)) {
            let Some(version) = &p.proxy_version else {
                continue;
            };
            let plane = p
                .injected_revision
                .as_ref()
                .map(|r| map.resolve(r))
                .and_then(|r| istiod_version(store, &r))
                .or_else(|| newest.as_ref().map(|(_, v)| v.clone()));
            let (Some(plane), Some((pm, pn))) = (plane, nodes::major_minor(version)) else {
                continue;
            };
            if let Some((cm, cn)) = nodes::major_minor(&plane)
                && (pm != cm || pn.abs_diff(cn) > 1)
            {
                skewed
                    .entry((version.clone(), plane))
                    .or_default()
                    .push(node.clone());
            }
        }
    }
    for ((version, plane), nodes) in skewed {
        let Some(first) = nodes.first() else {
            continue;
        };
        out.push(
            finding(
                Severity::Error,
                "ztunnel-version-skew",
                format!(
                    "ztunnel {version} on {} is more than one minor from its control plane \
                     {plane} (Istio supports one): upgrade it node by node ({})",
                    count(nodes.len(), "node"),
                    list(&nodes)
                ),
            )
            .on(FindingObject::cluster(FindingKind::Node, first)),
        );
    }
}

/// Every finding, worst first; `out_of_sync`: `proxies::out_of_sync(store)`.
pub(crate) fn all(
    store: &Store,
    sources: &BTreeMap<Kind, SourceState>,
    out_of_sync: &[Finding],
) -> Vec<Finding> {
    let map = RevisionMap::of(store);
    let mut out = Vec::new();
    source_findings(sources, &mut out);
    disruption_findings(store, sources, &mut out);
    node_findings(store, &mut out);
    namespace_findings(store, &map, sources, &mut out);
    ztunnel_findings(store, &map, &mut out);
    revision_findings(store, &map, sources, &mut out);
    gateway_findings(store, sources, &mut out);
    proxies::findings(store, sources, list, out_of_sync, &mut out);
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.code.cmp(b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    out
}
