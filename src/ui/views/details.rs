//! Details of one row (Enter): a panel of facts about it, and its pods with a note each: a
//! node's pods and what blocks its drain, a revision's namespaces and pods, a PDB's pods and
//! the nodes it blocks, a namespace's pods and those needing a restart, a gateway's ports,
//! resources and pods, a proxy's istiod, version and pod with the raw xDS nonces per type.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use std::borrow::Cow;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::sync::{XdsStatus, XdsType};
use crate::model::{DrainPreflight, Model, PodSummary, ProxyConnection, ProxyRow};

use super::super::state::Screen;
use super::super::table::{self, CellText, Column, SortKey, TableSource, Tone};
use super::super::theme::Theme;
use super::gateways::{hpa, labels, problems};
use super::pods::{Omit, PodLine, PodsTable};
use super::proxies::{connection_label, state_cell};
use super::{Subject, field, list, nodes, revisions};

fn matches_name(entry: &str, namespace: &str, name: &str) -> bool {
    entry == name || entry.split_once('/') == Some((namespace, name))
}

/// Whether a ReplicaSet name is `<deployment>-<pod-template-hash>`.
pub(super) fn owned_by_deployment(replica_set: &str, deployment: &str) -> bool {
    replica_set
        .strip_prefix(deployment)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| !hash.is_empty() && !hash.contains('-'))
}

/// The table of a details screen: a proxy's xDS types, else pods.
pub fn table<'m>(subject: &Subject, model: &'m Model) -> Box<dyn TableSource + 'm> {
    match subject {
        Subject::Proxy { namespace, pod } => Box::new(XdsTable::new(model.proxy(namespace, pod))),
        _ => Box::new(pods(subject, model)),
    }
}

/// Pods as they are, without notes.
fn listed(pods: Vec<PodSummary>, omit: Omit, empty: &'static str) -> PodsTable {
    let rows = pods
        .into_iter()
        .map(|pod| PodLine { pod, note: None })
        .collect();
    PodsTable::details(rows, Omit { note: true, ..omit }, empty)
}

/// Pods, each with the note `note` gives it.
fn noted(
    pods: Vec<PodSummary>,
    note: impl Fn(&PodSummary) -> CellText,
    omit: Omit,
    empty: &'static str,
) -> PodsTable {
    let rows = pods
        .into_iter()
        .map(|pod| PodLine {
            note: Some(note(&pod)),
            pod,
        })
        .collect();
    PodsTable::details(rows, omit, empty)
}

/// The pods of a details screen, with their notes.
pub fn pods(subject: &Subject, model: &Model) -> PodsTable {
    match subject {
        Subject::Proxy { namespace, pod } => listed(
            model.pod(namespace, pod).into_iter().collect(),
            Omit::default(),
            "the proxy's pod is gone",
        ),
        Subject::Node(node) => {
            let preflight = model.node_row(node).map(|n| n.preflight);
            // PDBs that allow no disruption now, with the pods they hold on this node.
            let blocking: Vec<_> = model
                .disruption()
                .into_iter()
                .filter(|p| p.blocks_nodes.contains(node))
                .collect();
            let note = |pod: &PodSummary| {
                let pdb = blocking.iter().find(|p| {
                    p.namespace == pod.namespace && p.pods.iter().any(|s| s.name == pod.name)
                });
                let listed = |list: &[String]| {
                    list.iter()
                        .any(|e| matches_name(e, &pod.namespace, &pod.name))
                };
                let is_daemonset = pod.owner.as_ref().is_some_and(|o| &*o.kind == "DaemonSet");
                if pod.mirror {
                    ("static pod: not evicted".to_string(), Tone::Dim)
                } else if is_daemonset {
                    ("DaemonSet: skipped".to_string(), Tone::Dim)
                } else if let Some(p) = pdb {
                    (format!("blocked by PDB {}", p.name), Tone::Bad)
                } else if let Some(DrainPreflight::Blocked {
                    unmanaged_pods,
                    empty_dir_pods,
                    ..
                }) = &preflight
                {
                    if listed(unmanaged_pods) {
                        (
                            "no controller: drain needs force (f)".to_string(),
                            Tone::Warn,
                        )
                    } else if listed(empty_dir_pods) {
                        ("emptyDir: data is lost".to_string(), Tone::Warn)
                    } else {
                        ("evict".to_string(), Tone::Plain)
                    }
                } else {
                    ("evict".to_string(), Tone::Plain)
                }
            };
            let omit = Omit {
                node: true,
                ..Omit::default()
            };
            noted(model.pods_on_node(node), note, omit, "no pods on this node")
        }
        Subject::Revision(rev) => listed(
            model
                .pods()
                .into_iter()
                .filter(|p| p.injected_revision.as_ref() == Some(rev))
                .collect(),
            Omit::default(),
            "no pod injected by this revision",
        ),
        Subject::Pdb { namespace, name } => {
            let row = model
                .disruption()
                .into_iter()
                .find(|p| p.namespace == *namespace && p.name == *name);
            let pods = match &row {
                None => Vec::new(),
                Some(row) => model
                    .pods_in_namespace(namespace)
                    .into_iter()
                    .filter(|pod| row.pods.iter().any(|s| s.name == pod.name))
                    .collect(),
            };
            let note = |pod: &PodSummary| {
                let blocks = pod
                    .node
                    .as_ref()
                    .is_some_and(|n| row.as_ref().is_some_and(|row| row.blocks_nodes.contains(n)));
                if blocks {
                    ("blocks the drain of its node".to_string(), Tone::Bad)
                } else if !pod.ready {
                    (
                        "not ready: counts against the budget".to_string(),
                        Tone::Warn,
                    )
                } else {
                    ("healthy".to_string(), Tone::Good)
                }
            };
            let omit = Omit {
                namespace: true,
                ..Omit::default()
            };
            noted(pods, note, omit, "the PDB selects no pod")
        }
        Subject::Namespace(ns) => {
            let row = model.namespaces().into_iter().find(|n| n.name == *ns);
            let note = |pod: &PodSummary| {
                let wants = row.as_ref().and_then(|r| r.revision.clone());
                let restart = row
                    .as_ref()
                    .is_some_and(|r| r.pods_to_restart.contains(&pod.name));
                if restart {
                    (
                        format!(
                            "restart: runs {}, namespace wants {}",
                            pod.injected_revision.as_deref().unwrap_or("no sidecar"),
                            wants.as_deref().unwrap_or("none")
                        ),
                        Tone::Warn,
                    )
                } else if pod.has_proxy {
                    ("sidecar ok".to_string(), Tone::Good)
                } else {
                    ("no sidecar".to_string(), Tone::Dim)
                }
            };
            let omit = Omit {
                namespace: true,
                ..Omit::default()
            };
            noted(
                model.pods_in_namespace(ns),
                note,
                omit,
                "no pods in this namespace",
            )
        }
        Subject::Gateway { namespace, name } => {
            let row = model
                .gateways()
                .into_iter()
                .find(|g| g.namespace == *namespace && g.name == *name);
            let pods = match &row {
                None => Vec::new(),
                Some(g) => {
                    // A Gateway API gateway's pods are its Deployment's, named by istiod.
                    let deployment = g
                        .gateway_api
                        .as_ref()
                        .and_then(|a| a.deployment.as_ref())
                        .unwrap_or(name);
                    model
                        .pods_in_namespace(namespace)
                        .into_iter()
                        .filter(|pod| {
                            g.app.is_some() && pod.labels.get("app") == g.app.as_ref()
                                || pod
                                    .owner
                                    .as_ref()
                                    .is_some_and(|o| owned_by_deployment(&o.name, deployment))
                        })
                        .collect()
                }
            };
            let omit = Omit {
                namespace: true,
                ..Omit::default()
            };
            listed(pods, omit, "no pods of this gateway")
        }
    }
}

/// The facts panel of a subject, or `None` when it is gone from the model.
fn facts<'a>(subject: &Subject, model: &Model, theme: &Theme) -> Option<Vec<Line<'a>>> {
    let t = theme;
    let plain = |s: String| Span::styled(s, t.base);
    let toned = |(s, tone): (String, Tone)| Span::styled(s, tone.style(t));
    let mut lines = Vec::new();
    match subject {
        Subject::Node(node) => {
            let r = model.node_row(node)?;
            let version = if r.minor_skew > 0 {
                (
                    format!("{} ({} minor behind)", r.kubelet_version, r.minor_skew),
                    Tone::Warn,
                )
            } else {
                (r.kubelet_version.to_string(), Tone::Plain)
            };
            let mut first = Vec::new();
            first.extend(field("status", toned(nodes::status(&r)), t));
            first.extend(field("roles", plain(list(&r.roles)), t));
            first.extend(field("kubelet", toned(version), t));
            first.extend(field("pods", plain(r.pods.to_string()), t));
            lines.push(Line::from(first));
            lines.push(Line::from(field("labels", plain(list(&r.labels)), t)));
            let mut drain = field("drain", toned(nodes::drain(&r.preflight)), t);
            if let DrainPreflight::Blocked {
                evict,
                daemonset_skipped,
                ..
            } = &r.preflight
            {
                drain.extend(field(
                    "would evict",
                    plain(format!("{evict}, skip {daemonset_skipped} DaemonSet")),
                    t,
                ));
            }
            lines.push(Line::from(drain));
        }
        Subject::Revision(rev) => {
            let r = model.revisions().into_iter().find(|r| r.revision == *rev)?;
            let mut first = Vec::new();
            if r.default {
                first.push(Span::styled("default  ", t.good));
            }
            first.extend(field(
                "istiod",
                toned((
                    format!("{}/{}", r.istiod_ready, r.istiod_desired),
                    revisions::istiod_tone(r.istiod_ready, r.istiod_desired),
                )),
                t,
            ));
            first.extend(field(
                "version",
                plain(r.version.as_deref().unwrap_or("-").to_string()),
                t,
            ));
            lines.push(Line::from(first));
            let mut iop = field(
                "IstioOperator",
                plain(r.iop.clone().unwrap_or("-".into())),
                t,
            );
            if let Some(s) = &r.iop_status {
                iop.push(toned((s.to_string(), revisions::iop_status_tone(s))));
                iop.push(Span::raw("  "));
            }
            iop.extend(field("tags", plain(list(&r.tags)), t));
            lines.push(Line::from(iop));
            let mut ns = field(
                "namespaces",
                plain(format!("{} ({})", list(&r.namespaces), r.namespaces.len())),
                t,
            );
            ns.extend(field("pods", plain(r.pods.to_string()), t));
            lines.push(Line::from(ns));
            let summary = model.proxy_summary();
            let mut sync = field(
                "proxies",
                toned(revisions::proxies_cell(
                    summary.per_revision.get(rev),
                    summary.waiting,
                )),
                t,
            );
            let replicas: Vec<String> = summary
                .replicas
                .iter()
                .filter(|x| x.revision == *rev)
                .map(|x| format!("{} {}", x.istiod, x.state))
                .collect();
            if !replicas.is_empty() {
                sync.extend(field("istiod replicas", plain(replicas.join(", ")), t));
            }
            lines.push(Line::from(sync));
        }
        Subject::Pdb { namespace, name } => {
            let r = model
                .disruption()
                .into_iter()
                .find(|p| p.namespace == *namespace && p.name == *name)?;
            let mut first = Vec::new();
            first.extend(field(
                "MIN AVAILABLE",
                plain(super::disruption::budget(&r.min_available)),
                t,
            ));
            first.extend(field(
                "MAX UNAVAILABLE",
                plain(super::disruption::budget(&r.max_unavailable)),
                t,
            ));
            first.extend(field(
                "ALLOWED DISRUPTIONS",
                toned((
                    r.allowed_disruptions.to_string(),
                    super::disruption::allowed_tone(r.allowed_disruptions),
                )),
                t,
            ));
            lines.push(Line::from(first));
            let mut second = field(
                "healthy",
                plain(format!("{}/{}", r.current_healthy, r.desired_healthy)),
                t,
            );
            second.extend(field(
                "expected pods",
                plain(r.expected_pods.to_string()),
                t,
            ));
            if r.relaxed {
                second.push(Span::styled("relaxed by meshtop", t.warn));
            }
            lines.push(Line::from(second));
            lines.push(Line::from(field(
                "blocks drain of",
                if r.blocks_nodes.is_empty() {
                    Span::styled("no node", t.good)
                } else {
                    Span::styled(list(&r.blocks_nodes), t.bad)
                },
                t,
            )));
        }
        Subject::Namespace(ns) => {
            let r = model.namespaces().into_iter().find(|n| n.name == *ns)?;
            let label = |v: &Option<crate::model::intern::Name>| match v {
                Some(v) => Span::styled(v.to_string(), if r.conflict { t.bad } else { t.base }),
                None => Span::styled("-", t.dim),
            };
            let mut first = Vec::new();
            first.extend(field("istio-injection", label(&r.injection), t));
            first.extend(field("istio.io/rev", label(&r.rev_label), t));
            first.extend(field(
                "revision",
                plain(r.revision.as_deref().unwrap_or("-").to_string()),
                t,
            ));
            lines.push(Line::from(first));
            let mut second = field("pods", plain(r.pods.to_string()), t);
            second.extend(field("injected", plain(r.injected_pods.to_string()), t));
            second.extend(field(
                "need a restart",
                if r.pods_to_restart.is_empty() {
                    Span::styled("0", t.good)
                } else {
                    Span::styled(r.pods_to_restart.len().to_string(), t.warn)
                },
                t,
            ));
            lines.push(Line::from(second));
            let notes = super::namespaces::notes(&r);
            if !notes.is_empty() {
                lines.push(Line::from(Span::styled(notes, t.warn)));
            }
        }
        Subject::Proxy { namespace, pod } => {
            let r = model.proxy(namespace, pod)?;
            lines.extend(proxy_facts(&r, model, t));
        }
        Subject::Gateway { namespace, name } => {
            let g = model
                .gateways()
                .into_iter()
                .find(|g| g.namespace == *namespace && g.name == *name)?;
            let mut first = Vec::new();
            first.extend(field("type", plain(g.kind.to_string()), t));
            first.extend(field(
                "revision",
                plain(g.revision.as_deref().unwrap_or("-").to_string()),
                t,
            ));
            first.extend(field(
                "ready",
                toned((
                    format!("{}/{}", g.ready, g.desired),
                    revisions::istiod_tone(g.ready, g.desired),
                )),
                t,
            ));
            first.extend(field("HPA", plain(hpa(&g)), t));
            lines.push(Line::from(first));
            let mut service = field(
                "service",
                plain(g.service_type.as_deref().unwrap_or("-").to_string()),
                t,
            );
            service.extend(field("ports", plain(list(&g.ports)), t));
            lines.push(Line::from(service));
            let mut labels_line = field(
                "labels",
                Span::styled(labels(&g), if g.duplicate_labels { t.bad } else { t.base }),
                t,
            );
            labels_line.extend(field(
                "Istio Gateways",
                plain(list(&g.gateway_resources)),
                t,
            ));
            // A Gateway API gateway is found by its name, not by labels or Istio Gateways.
            if g.gateway_api.is_none() {
                lines.push(Line::from(labels_line));
            }
            if let Some(api) = &g.gateway_api {
                let mut class = field("class", plain(api.class.to_string()), t);
                class.extend(field(
                    "deployment",
                    plain(api.deployment.as_deref().unwrap_or("none yet").to_string()),
                    t,
                ));
                class.extend(field("listeners", plain(list(&api.listeners)), t));
                lines.push(Line::from(class));
                let state = |v: Option<bool>| match v {
                    Some(true) => Span::styled("True", t.good),
                    Some(false) => Span::styled("False", t.bad),
                    None => Span::styled("unknown", t.warn),
                };
                let mut status = field("Accepted", state(api.accepted), t);
                status.extend(field("Programmed", state(api.programmed), t));
                status.extend(field("addresses", plain(list(&api.addresses)), t));
                lines.push(Line::from(status));
                if g.kind.as_ref() == "waypoint" {
                    lines.push(Line::from(field(
                        "used by",
                        plain(if api.used_by.is_empty() {
                            "nothing".to_string()
                        } else {
                            list(&api.used_by)
                        }),
                        t,
                    )));
                }
            }
            let cm = g
                .revision
                .as_deref()
                .map_or_else(|| "istio".to_string(), |r| format!("istio-{r}"));
            let mut config = field(
                "ConfigMap",
                if !g.needs_mesh_config {
                    Span::styled("none mounted: istiod configures it".to_string(), t.dim)
                } else if g.has_mesh_config {
                    Span::styled(format!("{cm} present"), t.good)
                } else {
                    Span::styled(format!("{cm} MISSING in {}", g.namespace), t.bad)
                },
                t,
            );
            let problems = problems(&g);
            if !problems.is_empty() {
                config.push(Span::styled(problems.join("; "), t.bad));
            }
            lines.push(Line::from(config));
        }
    }
    Some(lines)
}

/// A proxy's state, istiod, version and pod.
fn proxy_facts<'a>(r: &ProxyRow, model: &Model, t: &Theme) -> Vec<Line<'a>> {
    let plain = |s: String| Span::styled(s, t.base);
    let mut lines = Vec::new();
    let mut first = Vec::new();
    let state = match (r.connection, r.state) {
        (ProxyConnection::Connected, Some(s)) => Span::styled(
            if r.in_sync() {
                format!("{} (in sync)", s.label())
            } else {
                format!("{} (out of sync)", s.label())
            },
            state_cell(s).1.style(t),
        ),
        (c, _) => Span::styled(connection_label(c), t.sync_unknown),
    };
    first.extend(field("state", state, t));
    if !r.proxy_type.is_empty() {
        first.extend(field("type", plain(r.proxy_type.to_string()), t));
    }
    if !r.cluster.is_empty() {
        first.extend(field("cluster", plain(r.cluster.to_string()), t));
    }
    lines.push(Line::from(first));

    let replica = r.istiod.as_ref().and_then(|i| {
        model
            .proxy_summary()
            .replicas
            .into_iter()
            .find(|x| x.istiod == *i)
    });
    let mut istiod = match &r.istiod {
        Some(i) => field("istiod", plain(i.to_string()), t),
        None => field("istiod", Span::styled("none reports this proxy", t.warn), t),
    };
    if let Some(rev) = &r.istiod_revision {
        istiod.extend(field("revision", plain(rev.to_string()), t));
    }
    if let Some(x) = &replica {
        let answer = match (x.state, x.via, &x.message) {
            ("ok", Some(via), _) => Span::styled(format!("ok via {via}"), t.good),
            (state, _, Some(m)) => Span::styled(format!("{state}: {m}"), t.bad),
            (state, _, None) => Span::styled(state.to_string(), t.bad),
        };
        istiod.extend(field("answers", answer, t));
    }
    if let Some(at) = r.reported_at {
        let label = if r.connection == ProxyConnection::LastKnown {
            "states as last reported at"
        } else {
            "reported at"
        };
        istiod.extend(field(label, plain(format!("{at:.0}")), t));
    }
    lines.push(Line::from(istiod));
    if !r.also_reported_by.is_empty() {
        lines.push(Line::from(field(
            "also reported by",
            Span::styled(list(&r.also_reported_by), t.warn),
            t,
        )));
    }

    let mut version = field(
        "version",
        plain(r.version.as_deref().unwrap_or("-").to_string()),
        t,
    );
    if let Some(v) = &r.istiod_version {
        let (text, style) = if r.version_skew {
            (format!("skew: istiod runs {v}"), t.warn)
        } else {
            (format!("istiod runs {v}"), t.dim)
        };
        version.push(Span::styled(text, style));
    }
    lines.push(Line::from(version));

    if r.pod_gone {
        lines.push(Line::from(Span::styled(
            format!(
                "pod {}/{} is gone from the cluster; istiod still reports its proxy",
                r.namespace, r.pod
            ),
            t.warn,
        )));
    } else {
        let mut pod = field("pod", plain(format!("{}/{}", r.namespace, r.pod)), t);
        pod.extend(field(
            "node",
            plain(r.node.as_deref().unwrap_or("-").to_string()),
            t,
        ));
        let owner = match (&r.owner_kind, &r.owner_name) {
            (Some(k), Some(n)) => format!("{k}/{n}"),
            _ => "-".to_string(),
        };
        pod.extend(field("owner", plain(owner), t));
        pod.extend(field(
            "injected by",
            plain(r.injected_revision.as_deref().unwrap_or("-").to_string()),
            t,
        ));
        lines.push(Line::from(pod));
    }
    lines
}

const XDS_COLUMNS: [Column; 6] = [
    Column::new("TYPE", Length(5), 0),
    Column::new("STATE", Fill(1), 0),
    Column::new("SENT", Fill(1), 0),
    Column::new("ACKED", Fill(1), 0),
    Column::new("SENT AT", Length(20), 100),
    Column::new("LAST ERROR", Fill(2), 0),
];

/// A proxy's xDS types with the raw nonces sent and acknowledged, istioctl's inputs.
pub struct XdsTable {
    rows: Vec<(XdsType, XdsStatus)>,
    /// The states are the last answer of an istiod that does not answer now.
    last_known: bool,
}

impl XdsTable {
    pub fn new(row: Option<ProxyRow>) -> Self {
        let last_known = row
            .as_ref()
            .is_some_and(|r| r.connection == ProxyConnection::LastKnown);
        let rows = row
            .map(|r| XdsType::ALL.into_iter().zip(r.xds).collect())
            .unwrap_or_default();
        XdsTable { rows, last_known }
    }
}

impl TableSource for XdsTable {
    fn columns(&self) -> &[Column] {
        &XDS_COLUMNS
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cells(&self, i: usize) -> Vec<CellText> {
        let (t, x) = &self.rows[i];
        let text = |s: &str| {
            if s.is_empty() {
                ("-".to_string(), Tone::Dim)
            } else {
                (s.to_string(), Tone::Plain)
            }
        };
        let (state, tone) = state_cell(x.state);
        vec![
            (t.short().to_string(), Tone::Plain),
            if self.last_known {
                (format!("{state} (last known)"), Tone::SyncUnknown)
            } else {
                (state, tone)
            },
            text(x.sent.as_str()),
            text(x.acked.as_str()),
            match x.sent_time {
                Some(at) => (format!("{at:.0}"), Tone::Plain),
                None => ("-".to_string(), Tone::Dim),
            },
            match &x.last_error {
                Some(e) if !e.is_empty() => (e.to_string(), Tone::Bad),
                _ => ("-".to_string(), Tone::Dim),
            },
        ]
    }

    fn sort_key(&self, i: usize, column: usize) -> SortKey<'_> {
        let (t, x) = &self.rows[i];
        match column {
            1 => SortKey::Text(Cow::Borrowed(x.state.label())),
            2 => SortKey::Text(Cow::Borrowed(x.sent.as_str())),
            3 => SortKey::Text(Cow::Borrowed(x.acked.as_str())),
            4 => SortKey::Num(x.sent_time.map_or(0, |at| at.as_second())),
            5 => SortKey::Text(Cow::Owned(
                x.last_error.as_deref().unwrap_or("").to_string(),
            )),
            _ => SortKey::Num(*t as i64),
        }
    }

    fn filter_text(&self, i: usize, out: &mut String) {
        let (t, x) = &self.rows[i];
        out.push_str(t.short());
        for s in [x.state.label(), x.sent.as_str(), x.acked.as_str()] {
            out.push(' ');
            out.push_str(s);
        }
        if let Some(e) = &x.last_error {
            out.push(' ');
            out.push_str(e);
        }
    }

    fn empty_message(&self) -> &'static str {
        "no istiod reports this proxy: no xDS state to show"
    }
}

/// Rows a paragraph of `lines` takes when wrapped at `width`.
fn wrapped_height(lines: &[Line<'_>], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(width))
        .sum::<usize>()
        .try_into()
        .unwrap_or(u16::MAX)
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    subject: &Subject,
    screen: &Screen,
    model: &Model,
    theme: &Theme,
) -> usize {
    let crumbs = format!(" {} › {} ", subject.parent().title(), subject.label());
    let lines = facts(subject, model, theme).unwrap_or_else(|| {
        vec![Line::from(Span::styled(
            format!(
                "{} is gone from the cluster (deleted, or out of the namespace scope); esc goes back",
                subject.label()
            ),
            theme.warn,
        ))]
    });
    let wanted = wrapped_height(&lines, area.width.saturating_sub(2)) + 2;
    let [top, bottom] = Layout::vertical([
        Constraint::Length(wanted.min(area.height / 2)),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .style(theme.base)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.border)
                    .title(Span::styled(crumbs, theme.title)),
            ),
        top,
    );
    let source = table(subject, model);
    let rows = table::arrange(source.as_ref(), screen);
    let name = match subject {
        Subject::Proxy { .. } => "xDS",
        _ => "Pods",
    };
    let title = table::title(name, source.as_ref(), rows.len(), screen, theme);
    table::render(frame, bottom, source.as_ref(), &rows, screen, title, theme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_owns_only_its_own_replica_sets() {
        assert!(owned_by_deployment(
            "istio-ingressgateway-684d9c7755",
            "istio-ingressgateway"
        ));
        assert!(!owned_by_deployment(
            "istio-ingressgateway-istio-gateway-sample-6d6998fc44",
            "istio-ingressgateway"
        ));
        assert!(!owned_by_deployment(
            "istio-ingressgateway",
            "istio-ingressgateway"
        ));
    }
}
