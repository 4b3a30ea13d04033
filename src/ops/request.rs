//! What a user asks meshtop to change, complete and ready to plan: the TUI's dialogs and the
//! CLI's commands both make a [`Request`], and both ask the same [`Consent`] of the user
//! when the cluster makes an action riskier than it looks.

use super::install::{InstallKind, Planned};
use super::workload::{WorkloadRef, parse_replicas};
use super::{ActionError, label, names};
use crate::model::{Finding, Model};

/// One change to the cluster, complete and ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Drain {
        node: String,
        /// kubectl's `--delete-emptydir-data`.
        delete_emptydir_data: bool,
        /// kubectl's `--force`: pods without a controller go too.
        force: bool,
        /// The mesh guard's consent: the last ready replicas of a workload go too.
        evict_last_replica: bool,
    },
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    /// `change`: `KEY=VALUE` or `KEY-`.
    LabelNode {
        node: String,
        change: String,
    },
    /// `istio.io/rev=REVISION`, removing a conflicting `istio-injection`; `restart` rolls
    /// out the namespace's workloads so their pods move to the revision.
    LabelNamespace {
        namespace: String,
        revision: String,
        restart: bool,
        /// The user gave the [`Consent`] it needed (typed the namespace's name, or
        /// `--force`): the audit line says it was forced.
        force: bool,
    },
    PdbRelax {
        namespace: String,
        name: String,
    },
    PdbRestore {
        namespace: String,
        name: String,
        /// Restore even over a change made to the budget since it was relaxed.
        force: bool,
    },
    /// A control-plane revision or a gateway, as an IstioOperator resource.
    Install(Box<InstallRequest>),
    /// A rolling upgrade of these nodes, in order (see [`super::upgrade`]).
    UpgradeNodes {
        nodes: Vec<String>,
        /// Wait after each drain until the node's kubelet reports this version.
        wait_kubelet: Option<String>,
        /// Wait after each drain until the user presses continue.
        pause: bool,
        /// kubectl's `--delete-emptydir-data`, for every drain of the plan.
        delete_emptydir_data: bool,
    },
    /// `kubectl scale --replicas`: `None` until the dialog is told how many.
    Scale {
        workload: WorkloadRef,
        replicas: Option<u32>,
    },
    /// `kubectl rollout restart`; `wait`: follow the rollout to its end.
    Restart {
        workload: WorkloadRef,
        wait: bool,
    },
    /// `istioctl tag set TAG --revision REV`: `tag` is typed in the dialog (empty until
    /// then); `restart` then restarts what the tag's namespaces run, one workload at a time.
    TagSet {
        tag: String,
        revision: String,
        overwrite: bool,
        restart: bool,
    },
    /// `istio.io/dataplane-mode=ambient`, the injection labels removed, optionally
    /// `istio.io/use-waypoint`; `restart` takes the sidecars away.
    Ambient {
        namespace: String,
        waypoint: Option<String>,
        restart: bool,
    },
    /// A revision (or, `legacy`, the non-revisioned control plane) deleted: `targets`, the
    /// objects, are read from the model by [`Request::prepare`] right before it is sent.
    Uninstall {
        revision: String,
        legacy: bool,
        targets: Vec<super::uninstall::DeleteTarget>,
    },
}

/// What an install dialog installs; the checked form and its plan from the preview on.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallRequest {
    pub kind: InstallKind,
    /// `None` while the form is filled in: nothing can run yet.
    pub planned: Option<Planned>,
}

// The plan's objects are JSON values, whose numbers are never NaN: equality is total.
impl Eq for InstallRequest {}

impl InstallRequest {
    /// The name typed to confirm: the IstioOperator's, or the Helm release's.
    pub fn confirm_name(&self) -> Option<&str> {
        self.planned.as_ref()?.plan.confirm_name()
    }
}

impl Request {
    /// Checks every name and text the request carries as the API server would, so that
    /// nothing is sent for one it would misread: a name is a segment of a request's path.
    /// An install's names are its form's to check.
    pub fn validate(&self) -> Result<(), ActionError> {
        match self {
            Request::Drain { node, .. } | Request::Cordon { node } | Request::Uncordon { node } => {
                names::node(node)
            }
            Request::LabelNode { node, change } => {
                names::node(node)?;
                label::parse_label_change(change).map(drop)
            }
            Request::LabelNamespace {
                namespace,
                revision,
                ..
            } => {
                names::namespace(namespace)?;
                label::validate_revision(revision)
            }
            Request::PdbRelax { namespace, name }
            | Request::PdbRestore {
                namespace, name, ..
            } => {
                names::namespace(namespace)?;
                names::pdb(name)
            }
            Request::Install(_) => Ok(()),
            Request::UpgradeNodes { nodes, .. } => {
                if nodes.is_empty() {
                    return Err(ActionError::Invalid("no node to upgrade".into()));
                }
                nodes.iter().try_for_each(|n| names::node(n))
            }
            Request::Scale { workload, .. } => {
                workload.validate()?;
                workload.check_scalable()
            }
            Request::Restart { workload, .. } => workload.validate(),
            Request::TagSet { tag, revision, .. } => super::tag::validate(tag, revision),
            Request::Ambient {
                namespace,
                waypoint,
                ..
            } => super::ambient::validate(namespace, waypoint.as_deref()),
            Request::Uninstall {
                revision, legacy, ..
            } => super::uninstall::validate(revision, *legacy),
        }
    }

    /// The action (and its key binding) this request comes from.
    pub fn kind(&self) -> ActionKind {
        match self {
            Request::Drain { .. } => ActionKind::Drain,
            Request::Cordon { .. } => ActionKind::Cordon,
            Request::Uncordon { .. } => ActionKind::Uncordon,
            Request::LabelNode { .. } => ActionKind::LabelNode,
            Request::LabelNamespace { .. } => ActionKind::LabelNamespace,
            Request::PdbRelax { .. } => ActionKind::PdbRelax,
            Request::PdbRestore { .. } => ActionKind::PdbRestore,
            Request::Install(r) => match r.kind {
                InstallKind::Revision => ActionKind::InstallRevision,
                InstallKind::Gateway => ActionKind::InstallGateway,
            },
            Request::UpgradeNodes { .. } => ActionKind::UpgradeNodes,
            Request::Scale { .. } => ActionKind::Scale,
            Request::Restart { .. } => ActionKind::Restart,
            Request::TagSet { .. } => ActionKind::TagSet,
            Request::Ambient { .. } => ActionKind::Ambient,
            Request::Uninstall { .. } => ActionKind::Uninstall,
        }
    }

    /// The verb, as the audit log and kubectl say it.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Drain { .. } => "drain",
            Request::Cordon { .. } => "cordon",
            Request::Uncordon { .. } => "uncordon",
            Request::LabelNode { .. } | Request::LabelNamespace { .. } => "label",
            Request::PdbRelax { .. } => "relax",
            Request::PdbRestore { .. } => "restore",
            Request::Install(_) => "install",
            Request::UpgradeNodes { .. } => "upgrade",
            Request::Scale { .. } => "scale",
            Request::Restart { .. } => "restart",
            Request::TagSet { .. } => "tag set",
            Request::Ambient { .. } => "label",
            Request::Uninstall { .. } => "uninstall",
        }
    }

    /// The object it changes, `kind/name` (`kind/namespace/name` when namespaced).
    pub fn target(&self) -> String {
        match self {
            Request::Drain { node, .. }
            | Request::Cordon { node }
            | Request::Uncordon { node }
            | Request::LabelNode { node, .. } => format!("node/{node}"),
            Request::LabelNamespace { namespace, .. } | Request::Ambient { namespace, .. } => {
                format!("namespace/{namespace}")
            }
            Request::PdbRelax { namespace, name }
            | Request::PdbRestore {
                namespace, name, ..
            } => {
                format!("poddisruptionbudget/{namespace}/{name}")
            }
            Request::Install(r) => match &r.planned {
                Some(p) => p.plan.audit_target(),
                None => "istiooperator".into(),
            },
            Request::UpgradeNodes { nodes, .. } => format!("node/{}", nodes.join(",")),
            Request::Scale { workload, .. } | Request::Restart { workload, .. } => {
                workload.audit_target()
            }
            Request::TagSet { tag, .. } => format!("revisiontag/{tag}"),
            Request::Uninstall { legacy: true, .. } => "revision/(legacy)".into(),
            Request::Uninstall { revision, .. } => format!("revision/{revision}"),
        }
    }

    /// `drain node/k1-node03`.
    pub fn title(&self) -> String {
        match self {
            Request::LabelNode { change, .. } if !change.is_empty() => {
                format!("label {} {change}", self.target())
            }
            Request::LabelNamespace { revision, .. } if !revision.is_empty() => {
                format!("label {} istio.io/rev={revision}", self.target())
            }
            Request::Install(r) => match &r.planned {
                Some(p) => p.plan.title(),
                None => r.kind.title().to_string(),
            },
            Request::UpgradeNodes { nodes, .. } => {
                format!(
                    "upgrade {}: {}",
                    super::outcome::count(nodes.len(), "node"),
                    nodes.join(", ")
                )
            }
            Request::Scale {
                workload,
                replicas: Some(n),
            } => format!("scale {workload} -n {} --replicas={n}", workload.namespace),
            Request::Scale { workload, .. } => {
                format!("scale {workload} -n {}", workload.namespace)
            }
            Request::Restart { workload, .. } => {
                format!("rollout restart {workload} -n {}", workload.namespace)
            }
            Request::TagSet { tag, revision, .. } if !tag.is_empty() => {
                format!("tag set {tag} --revision {revision}")
            }
            Request::TagSet { revision, .. } => format!("tag set --revision {revision}"),
            Request::Ambient { waypoint, .. } => format!(
                "label {} istio.io/dataplane-mode=ambient{}",
                self.target(),
                waypoint
                    .as_deref()
                    .map(|w| format!(" istio.io/use-waypoint={w}"))
                    .unwrap_or_default()
            ),
            _ => format!("{} {}", self.verb(), self.target()),
        }
    }

    /// Destructive actions are confirmed by typing this name (the node's or the PDB's).
    pub fn confirm_name(&self) -> Option<&str> {
        match self {
            Request::Drain { node, .. } => Some(node),
            Request::PdbRelax { name, .. } | Request::PdbRestore { name, .. } => Some(name),
            // Installing deletes nothing, but it starts a control plane or a gateway: it is
            // confirmed like the destructive actions, by the IstioOperator's (or release's) name.
            Request::Install(r) => r.confirm_name(),
            // It drains every node: confirmed by the first one's name.
            Request::UpgradeNodes { nodes, .. } => nodes.first().map(String::as_str),
            // Scaling down deletes pods and a restart replaces them all: both by name.
            Request::Scale { workload, .. } | Request::Restart { workload, .. } => {
                Some(&workload.name)
            }
            // It moves every namespace on the tag to another control plane.
            Request::TagSet { tag, .. } => Some(tag),
            // Its pods leave the sidecar data plane: typed, as a tag move is.
            Request::Ambient { namespace, .. } => Some(namespace),
            Request::Uninstall { legacy: true, .. } => Some("legacy"),
            Request::Uninstall { revision, .. } => Some(revision),
            _ => None,
        }
    }

    /// The consent this request needs because of the cluster as it is now, if any: the TUI
    /// asks to type its name, the command line refuses without `--force`.
    pub fn consent(&self, model: &Model) -> Option<Consent> {
        match self {
            Request::LabelNamespace {
                namespace,
                revision,
                ..
            } if !model.revisions().iter().any(|r| {
                // A revision tag injects as the revision it points at.
                r.revision.as_ref() == revision.as_str()
                    || r.tags.iter().any(|t| t.as_ref() == revision.as_str())
            }) =>
            {
                Some(Consent {
                    name: namespace.clone(),
                    why: format!(
                        "no revision {revision} runs in the cluster: new pods would not be injected"
                    ),
                })
            }
            _ => None,
        }
    }

    /// Whether [`Request::consent`] may ask something of this request that the user has not
    /// given yet, or [`Request::prepare`] has to read the model: only then must the command
    /// line read the cluster before sending it.
    pub fn may_need_consent(&self) -> bool {
        matches!(
            self,
            Request::LabelNamespace { force: false, .. } | Request::Uninstall { .. }
        )
    }

    /// Why the cluster as it is now refuses this request outright (no consent lifts it).
    pub fn refusal(&self, model: &Model) -> Option<String> {
        let Request::Uninstall {
            revision, legacy, ..
        } = self
        else {
            return None;
        };
        let what = if *legacy {
            "the legacy control plane".to_string()
        } else {
            format!("revision {revision}")
        };
        let Some(row) = super::uninstall::row(model, revision, *legacy) else {
            return Some(format!("{what} is not in the cluster"));
        };
        let users = super::uninstall::users(&row);
        (!users.is_empty()).then(|| format!("{what} is still in use: {}", users.join("; ")))
    }

    /// Reads from the model what the request sends, right before it is sent (an uninstall's
    /// objects), or says why it is refused.
    pub fn prepare(&mut self, model: &Model) -> Result<(), ActionError> {
        if let Request::Uninstall {
            revision, legacy, ..
        } = self
            && super::uninstall::row(model, revision, *legacy).is_none()
        {
            return Err(ActionError::NotFound(if *legacy {
                "the legacy control plane is not in the cluster".into()
            } else {
                format!("revision {revision} is not in the cluster")
            }));
        }
        if let Some(why) = self.refusal(model) {
            return Err(ActionError::Refused(why));
        }
        if let Request::Uninstall {
            revision,
            legacy,
            targets,
        } = self
            && let Some(row) = super::uninstall::row(model, revision, *legacy)
        {
            *targets = super::uninstall::targets(model, &row);
        }
        Ok(())
    }

    /// Records that the user gave the request's [`Consent`].
    pub fn consented(&mut self) {
        if let Request::LabelNamespace { force, .. } = self {
            *force = true;
        }
    }

    /// The free text the dialog asks for before it can preview, if any, and whether it is
    /// still missing.
    pub fn input(&self) -> Option<InputKind> {
        match self {
            Request::LabelNode { .. } => Some(InputKind::LabelChange),
            Request::LabelNamespace { .. } => Some(InputKind::Revision),
            Request::Scale { replicas: None, .. } => Some(InputKind::Replicas),
            Request::TagSet { tag, .. } if tag.is_empty() => Some(InputKind::Tag),
            Request::Ambient { .. } => Some(InputKind::Waypoint),
            _ => None,
        }
    }

    /// Takes the typed text into the request after checking it; the error says why not.
    pub fn take_input(&mut self, text: &str) -> Result<(), String> {
        let text = text.trim();
        match self {
            Request::LabelNode { change, .. } => {
                label::parse_label_change(text).map_err(|e| e.to_string())?;
                *change = text.to_string();
            }
            Request::LabelNamespace { revision, .. } => {
                label::validate_revision(text).map_err(|e| e.to_string())?;
                *revision = text.to_string();
            }
            Request::Scale { replicas, .. } => {
                *replicas = Some(parse_replicas(text).map_err(|e| e.to_string())?);
            }
            Request::TagSet { tag, revision, .. } => {
                super::tag::validate(text, revision).map_err(|e| e.to_string())?;
                *tag = text.to_string();
            }
            Request::Ambient {
                namespace,
                waypoint,
                ..
            } => {
                let typed = (!text.is_empty()).then(|| text.to_string());
                super::ambient::validate(namespace, typed.as_deref()).map_err(|e| e.to_string())?;
                *waypoint = typed;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Consent an action needs beyond being asked for (setting a namespace's injection to a
/// revision that does not run leaves its new pods without a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// What the TUI asks to type to give it.
    pub name: String,
    /// Why it is needed.
    pub why: String,
}

/// What a dialog asks the user to type before the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `KEY=VALUE` or `KEY-`.
    LabelChange,
    /// A revision name (Tab completes from the revisions in the cluster).
    Revision,
    /// How many replicas a workload should have.
    Replicas,
    /// A revision tag's name (Tab completes from the tags in the cluster).
    Tag,
    /// The waypoint an ambient namespace uses; empty keeps the one it uses now.
    Waypoint,
}

impl InputKind {
    pub fn prompt(self) -> &'static str {
        match self {
            InputKind::LabelChange => "label (KEY=VALUE sets, KEY- removes): ",
            InputKind::Revision => "revision (tab completes): ",
            InputKind::Replicas => "replicas: ",
            InputKind::Tag => "tag to point here (tab completes): ",
            InputKind::Waypoint => "waypoint (empty: keep the one it uses now): ",
        }
    }
}

/// The actions a key can open a dialog for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Drain,
    Cordon,
    Uncordon,
    LabelNode,
    LabelNamespace,
    PdbRelax,
    PdbRestore,
    InstallRevision,
    InstallGateway,
    UpgradeNodes,
    Scale,
    Restart,
    TagSet,
    Ambient,
    Uninstall,
}

impl ActionKind {
    /// The name in the keymap (`action`, and a dialog binding's `dialogs`).
    pub fn keymap_name(self) -> &'static str {
        match self {
            ActionKind::Drain => "drain",
            ActionKind::Cordon => "cordon",
            ActionKind::Uncordon => "uncordon",
            ActionKind::LabelNode => "label-node",
            ActionKind::LabelNamespace => "label-namespace",
            ActionKind::PdbRelax => "pdb-relax",
            ActionKind::PdbRestore => "pdb-restore",
            ActionKind::InstallRevision => "install-revision",
            ActionKind::InstallGateway => "install-gateway",
            ActionKind::UpgradeNodes => "upgrade-nodes",
            ActionKind::Scale => "scale",
            ActionKind::Restart => "restart",
            ActionKind::TagSet => "tag-set",
            ActionKind::Ambient => "ambient",
            ActionKind::Uninstall => "uninstall",
        }
    }

    pub const ALL: [ActionKind; 15] = [
        ActionKind::Drain,
        ActionKind::Cordon,
        ActionKind::Uncordon,
        ActionKind::LabelNode,
        ActionKind::LabelNamespace,
        ActionKind::PdbRelax,
        ActionKind::PdbRestore,
        ActionKind::InstallRevision,
        ActionKind::InstallGateway,
        ActionKind::UpgradeNodes,
        ActionKind::Scale,
        ActionKind::Restart,
        ActionKind::TagSet,
        ActionKind::Ambient,
        ActionKind::Uninstall,
    ];

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.keymap_name() == s)
    }

    /// The action that fixes a finding, on the finding's object. Only the fixes meshtop
    /// can carry out and preview: a NotReady node or a missing istiod need a human.
    pub fn fixing(finding: &Finding) -> Option<ActionKind> {
        finding.object.as_ref()?;
        Some(match finding.code {
            "pdb-blocks-drain" => ActionKind::PdbRelax,
            "pdb-relaxed" => ActionKind::PdbRestore,
            "legacy-injection-label"
            | "injection-conflict"
            | "unknown-revision"
            | "pods-need-restart" => ActionKind::LabelNamespace,
            "node-cordoned" => ActionKind::Uncordon,
            _ => return None,
        })
    }

    /// The name the user knows it by, in messages.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Drain => "drain",
            ActionKind::Cordon => "cordon",
            ActionKind::Uncordon => "uncordon",
            ActionKind::LabelNode => "label node",
            ActionKind::LabelNamespace => "set injection revision",
            ActionKind::PdbRelax => "relax PDB",
            ActionKind::PdbRestore => "restore PDB",
            ActionKind::InstallRevision => "install revision",
            ActionKind::InstallGateway => "install gateway",
            ActionKind::UpgradeNodes => "rolling node upgrade",
            ActionKind::Scale => "scale",
            ActionKind::Restart => "rollout restart",
            ActionKind::TagSet => "move revision tag",
            ActionKind::Ambient => "enroll in ambient mode",
            ActionKind::Uninstall => "uninstall revision",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture;

    #[test]
    fn a_revision_that_does_not_run_needs_consent_a_tag_of_one_that_does_not() {
        let mut model = fixture::seed();
        model.apply(fixture::applied(fixture::webhook(
            "istio-revision-tag-prod",
            &[("istio.io/rev", "1-9-1"), ("istio.io/tag", "prod")],
        )));
        let label = |revision: &str| Request::LabelNamespace {
            namespace: "legacy-shop".into(),
            revision: revision.into(),
            restart: false,
            force: false,
        };
        assert_eq!(label("1-9-1").consent(&model), None);
        assert_eq!(label("prod").consent(&model), None, "a tag of 1-9-1");
        let mut canary = label("canary");
        assert_eq!(
            canary.consent(&model),
            Some(Consent {
                name: "legacy-shop".into(),
                why: "no revision canary runs in the cluster: new pods would not be injected"
                    .into(),
            })
        );
        assert!(canary.may_need_consent());
        canary.consented();
        assert!(!canary.may_need_consent(), "given once, not asked again");
        assert!(!Request::Cordon { node: "n".into() }.may_need_consent());
    }
}
