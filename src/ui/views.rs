//! The screens, one file per view. Each view is a `TableSource` (its column spec and row
//! function) and, where it needs more than a table, a render function. Views read the model
//! and the UI state and draw; they never change anything.

pub mod details;
pub mod disruption;
pub mod gateways;
pub mod namespaces;
pub mod nodes;
pub mod overview;
pub mod pods;
pub mod proxies;
pub mod revisions;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::model::intern::Name;
use crate::model::{FindingKind, FindingObject, Model};
use crate::ops::inspect::{ObjectKind, ObjectRef};

use super::state::Screen;
use super::table::{self, TableSource};
use super::theme::Theme;

/// The top-level views, in the order of their digit keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViewKind {
    Overview,
    Revisions,
    Gateways,
    Proxies,
    Disruption,
    Nodes,
    Namespaces,
}

impl ViewKind {
    pub const ALL: [ViewKind; 7] = [
        ViewKind::Overview,
        ViewKind::Revisions,
        ViewKind::Gateways,
        ViewKind::Proxies,
        ViewKind::Disruption,
        ViewKind::Nodes,
        ViewKind::Namespaces,
    ];

    /// The name in the keymap and after `:`.
    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Overview => "overview",
            ViewKind::Revisions => "revisions",
            ViewKind::Gateways => "gateways",
            ViewKind::Proxies => "proxies",
            ViewKind::Disruption => "disruption",
            ViewKind::Nodes => "nodes",
            ViewKind::Namespaces => "namespaces",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ViewKind::Overview => "Overview",
            ViewKind::Revisions => "Revisions",
            ViewKind::Gateways => "Gateways",
            ViewKind::Proxies => "Proxies",
            ViewKind::Disruption => "Disruption",
            ViewKind::Nodes => "Nodes",
            ViewKind::Namespaces => "Namespaces",
        }
    }

    pub fn from_name(s: &str) -> Option<ViewKind> {
        ViewKind::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// What a details screen is about: the row Enter was pressed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Revision(Name),
    Gateway {
        namespace: Name,
        name: Name,
    },
    Pdb {
        namespace: Name,
        name: Name,
    },
    Node(Name),
    Namespace(Name),
    /// A proxy, by its pod.
    Proxy {
        namespace: Name,
        pod: Name,
    },
}

impl Subject {
    /// A finding's object, as the row of its view.
    pub fn of(object: &FindingObject) -> Subject {
        let name = object.name.clone();
        let namespace = || object.namespace.clone().unwrap_or_default();
        match object.kind {
            FindingKind::Revision => Subject::Revision(name),
            FindingKind::Gateway => Subject::Gateway {
                namespace: namespace(),
                name,
            },
            FindingKind::Proxy => Subject::Proxy {
                namespace: namespace(),
                pod: name,
            },
            FindingKind::Pdb => Subject::Pdb {
                namespace: namespace(),
                name,
            },
            FindingKind::Node => Subject::Node(name),
            FindingKind::Namespace => Subject::Namespace(name),
        }
    }

    /// The view it was opened from.
    pub fn parent(&self) -> ViewKind {
        match self {
            Subject::Revision(_) => ViewKind::Revisions,
            Subject::Gateway { .. } => ViewKind::Gateways,
            Subject::Pdb { .. } => ViewKind::Disruption,
            Subject::Node(_) => ViewKind::Nodes,
            Subject::Namespace(_) => ViewKind::Namespaces,
            Subject::Proxy { .. } => ViewKind::Proxies,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Subject::Revision(n) | Subject::Node(n) | Subject::Namespace(n) => n.to_string(),
            Subject::Gateway { namespace, name } | Subject::Pdb { namespace, name } => {
                format!("{namespace}/{name}")
            }
            // istioctl's NAME.
            Subject::Proxy { namespace, pod } => format!("{pod}.{namespace}"),
        }
    }

    /// The cluster object its row stands for: what `y` and `d` read. A revision is its
    /// IstioOperator, else its istiod Deployment.
    pub fn object(&self, model: &Model) -> Option<ObjectRef> {
        let of = |kind, ns: Option<&str>, name: &str| Some(ObjectRef::new(kind, ns, name));
        match self {
            Subject::Revision(rev) => {
                let row = model.revisions().into_iter().find(|r| r.revision == *rev);
                if let Some((ns, name)) = row
                    .and_then(|r| r.iop)
                    .as_deref()
                    .and_then(|iop| iop.split_once('/'))
                {
                    return of(ObjectKind::IstioOperator, Some(ns), name);
                }
                let (_, key) = model.istiod_deployments().find(|(r, _)| *r == rev)?;
                of(ObjectKind::Deployment, Some(&key.namespace), &key.name)
            }
            Subject::Gateway { namespace, name } => {
                of(ObjectKind::Deployment, Some(namespace), name)
            }
            Subject::Pdb { namespace, name } => of(ObjectKind::Pdb, Some(namespace), name),
            Subject::Node(name) => of(ObjectKind::Node, None, name),
            Subject::Namespace(name) => of(ObjectKind::Namespace, None, name),
            Subject::Proxy { namespace, pod } => of(ObjectKind::Pod, Some(namespace), pod),
        }
    }

    /// The pod whose logs `l` shows: a proxy's pod, a gateway's first pod (a ready one if
    /// any), a revision's istiod pod; else why there is none.
    pub fn log_pod(&self, model: &Model) -> Result<ObjectRef, String> {
        let pod = |p: &crate::model::PodSummary| {
            ObjectRef::new(ObjectKind::Pod, Some(&p.namespace), &p.name)
        };
        let first_ready = |mut pods: Vec<crate::model::PodSummary>| {
            pods.sort_by_key(|p| !p.ready);
            pods.first().map(&pod)
        };
        let found = match self {
            Subject::Proxy {
                namespace,
                pod: name,
            } => Some(ObjectRef::new(ObjectKind::Pod, Some(namespace), name)),
            Subject::Gateway { .. } => {
                first_ready(details::pods(self, model).pods().cloned().collect())
            }
            Subject::Revision(rev) => {
                let deployments: Vec<_> = model
                    .istiod_deployments()
                    .filter(|(r, _)| *r == rev)
                    .map(|(_, k)| k.clone())
                    .collect();
                first_ready(
                    model
                        .pods()
                        .into_iter()
                        .filter(|p| {
                            deployments.iter().any(|d| {
                                d.namespace == p.namespace
                                    && p.owner.as_ref().is_some_and(|o| {
                                        details::owned_by_deployment(&o.name, &d.name)
                                    })
                            })
                        })
                        .collect(),
                )
            }
            Subject::Pdb { .. } | Subject::Node(_) | Subject::Namespace(_) => {
                return Err(format!(
                    "logs are a pod's: open {} (enter) and pick one of its pods",
                    self.label()
                ));
            }
        };
        found.ok_or_else(|| format!("{} has no pod to read logs from", self.label()))
    }
}

/// Which screen: a top-level view or the details of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenId {
    View(ViewKind),
    Details(Subject),
}

/// The rows of a screen.
pub fn source<'m>(id: &ScreenId, model: &'m Model) -> Box<dyn TableSource + 'm> {
    match id {
        ScreenId::View(ViewKind::Overview) => Box::new(overview::FindingsTable::new(model)),
        ScreenId::View(ViewKind::Revisions) => Box::new(revisions::RevisionsTable::new(model)),
        ScreenId::View(ViewKind::Gateways) => Box::new(gateways::table(model)),
        ScreenId::View(ViewKind::Proxies) => Box::new(proxies::ProxiesTable::new(model)),
        ScreenId::View(ViewKind::Disruption) => Box::new(disruption::table(model)),
        ScreenId::View(ViewKind::Nodes) => Box::new(nodes::NodesTable::new(model)),
        ScreenId::View(ViewKind::Namespaces) => Box::new(namespaces::table(model)),
        ScreenId::Details(subject) => details::table(subject, model),
    }
}

/// Draws a screen's body; returns the page size of its table.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    screen: &Screen,
    model: &Model,
    theme: &Theme,
    now: jiff::Timestamp,
) -> usize {
    match &screen.id {
        ScreenId::View(ViewKind::Overview) => {
            overview::render(frame, area, screen, model, theme, now)
        }
        ScreenId::View(view) => {
            let source = source(&screen.id, model);
            let rows = table::arrange(source.as_ref(), screen);
            let title = table::title(view.title(), source.as_ref(), rows.len(), screen, theme);
            table::render(frame, area, source.as_ref(), &rows, screen, title, theme)
        }
        ScreenId::Details(subject) => details::render(frame, area, subject, screen, model, theme),
    }
}

/// `label value` spans for panels.
pub(crate) fn field<'a>(label: &'a str, value: Span<'a>, theme: &Theme) -> Vec<Span<'a>> {
    vec![
        Span::styled(label, theme.dim),
        Span::raw(" "),
        value,
        Span::raw("  "),
    ]
}

/// A section heading inside a panel.
pub(crate) fn heading<'a>(text: &'a str, theme: &Theme) -> Line<'a> {
    Line::from(Span::styled(text, theme.title))
}

/// `name` of a `namespace/name`: where the namespace is shown elsewhere or space is short.
pub(crate) fn short_name(namespaced: &str) -> &str {
    namespaced.rsplit_once('/').map_or(namespaced, |(_, n)| n)
}

/// `a,b,c`, or `-` when empty.
pub(crate) fn list<T: AsRef<str>>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}
