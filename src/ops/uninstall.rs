//! Uninstalling a control-plane revision, or the non-revisioned legacy control plane, as data:
//! what still uses it (namespaces, tags, proxies: any of them refuses the uninstall), and the
//! objects it deletes, named as the istiod chart names them (`istiod-REV`, `istio-REV`,
//! `istio-sidecar-injector-REV`, …) or, for the legacy control plane, its components'
//! Deployments and what carries their names. Webhooks go first, so that no pod is sent to an
//! istiod that is going away.

use super::plan::{PlanLine, list_some};
use super::{ActionError, label};
use crate::model::Model;
use crate::model::facts::RevisionRow;
use crate::model::summary::WorkloadKind;

/// The name `meshtop get revisions` gives the legacy control plane's row.
pub const LEGACY: &str = "(legacy)";

/// One object an uninstall deletes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeleteTarget {
    /// kubectl's resource name: `deployment.apps`, `mutatingwebhookconfiguration…`.
    pub kind: DeleteKind,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

/// The kinds an uninstall deletes, in the order it deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeleteKind {
    MutatingWebhook,
    ValidatingWebhook,
    Deployment,
    Hpa,
    Pdb,
    Service,
    ConfigMap,
    /// A Sail `IstioRevision`: the Sail operator's objects go with it (owner references).
    IstioRevision,
    /// A Helm release, name and namespace: `helm uninstall` removes what its chart made.
    HelmRelease,
}

impl DeleteKind {
    /// kubectl's name of the resource.
    pub fn resource(self) -> &'static str {
        match self {
            DeleteKind::MutatingWebhook => {
                "mutatingwebhookconfiguration.admissionregistration.k8s.io"
            }
            DeleteKind::ValidatingWebhook => {
                "validatingwebhookconfiguration.admissionregistration.k8s.io"
            }
            DeleteKind::Deployment => "deployment.apps",
            DeleteKind::Hpa => "horizontalpodautoscaler.autoscaling",
            DeleteKind::Pdb => "poddisruptionbudget.policy",
            DeleteKind::Service => "service",
            DeleteKind::ConfigMap => "configmap",
            DeleteKind::IstioRevision => "istiorevision.sailoperator.io",
            DeleteKind::HelmRelease => "helm release",
        }
    }
}

impl DeleteTarget {
    fn new(kind: DeleteKind, namespace: &str, name: &str) -> Self {
        DeleteTarget {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// `deployment.apps/istiod-1-9-1 -n istio-system`; a release as helm is run on it.
    pub fn describe(&self) -> String {
        if self.kind == DeleteKind::HelmRelease {
            return format!("`helm uninstall {} -n {}`", self.name, self.namespace);
        }
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind.resource(), self.name)
        } else {
            format!(
                "{}/{} -n {}",
                self.kind.resource(),
                self.name,
                self.namespace
            )
        }
    }

    /// `deployment/istio-system/istiod-1-9-1`, as the audit log names objects.
    pub fn audit_target(&self) -> String {
        if self.kind == DeleteKind::HelmRelease {
            return format!("helm/{}/{}", self.namespace, self.name);
        }
        let kind = self.kind.resource().split('.').next().unwrap_or_default();
        if self.namespace.is_empty() {
            format!("{kind}/{}", self.name)
        } else {
            format!("{kind}/{}/{}", self.namespace, self.name)
        }
    }
}

/// Checks the revision's name (the legacy control plane has none).
pub fn validate(revision: &str, legacy: bool) -> Result<(), ActionError> {
    if legacy {
        return Ok(());
    }
    label::validate_revision(revision)
}

/// The row of what is uninstalled.
pub fn row(model: &Model, revision: &str, legacy: bool) -> Option<RevisionRow> {
    model.revisions().into_iter().find(|r| {
        if legacy {
            r.is_legacy()
        } else {
            !r.is_legacy() && r.revision.as_ref() == revision
        }
    })
}

/// What still uses it, one line each; an uninstall is refused while any is left.
pub fn users(row: &RevisionRow) -> Vec<String> {
    let mut out = Vec::new();
    let names = |v: &[crate::model::Name]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    if !row.namespaces.is_empty() {
        out.push(format!(
            "{} select it: {}",
            super::outcome::count(row.namespaces.len(), "namespace"),
            list_some(&names(&row.namespaces), 8)
        ));
    }
    if !row.tags.is_empty() {
        out.push(format!(
            "revision tags point at it: {}",
            list_some(&names(&row.tags), 8)
        ));
    }
    if row.pods > 0 {
        out.push(format!(
            "{} run its proxy",
            super::outcome::counted(row.pods as usize, "pod still", "pods still")
        ));
    }
    if row.default {
        out.push("it is the default revision (it owns istio-injection=enabled)".into());
    }
    out
}

/// The IstioRevision the Sail operator installed the revision from, if it did.
fn sail_revision(row: &RevisionRow) -> Option<&str> {
    row.installed_by
        .as_deref()?
        .strip_prefix("sail IstioRevision/")
        .filter(|n| !n.is_empty())
}

/// The namespace of the revision's istiod (`istio-system` when none runs).
fn istiod_namespace(model: &Model, row: &RevisionRow) -> String {
    model
        .istiod_deployments()
        .find(|(r, _)| **r == row.revision)
        .map(|(_, k)| k.namespace.to_string())
        .unwrap_or_else(|| "istio-system".into())
}

/// The Helm release that installed the revision's istiod (Helm 3), if one did.
fn helm_release(row: &RevisionRow) -> Option<&str> {
    row.installed_by
        .as_deref()?
        .strip_prefix("helm ")
        .filter(|r| !r.is_empty())
}

/// The objects an uninstall deletes, in order, from the model: the revision's istiod
/// Deployments and their namespace, or the legacy components.
pub fn targets(model: &Model, row: &RevisionRow) -> Vec<DeleteTarget> {
    let mut out = Vec::new();
    if let Some(resource) = sail_revision(row) {
        out.push(DeleteTarget::new(DeleteKind::IstioRevision, "", resource));
        return out;
    }
    if let Some(release) = helm_release(row).filter(|_| !row.is_legacy()) {
        // The istiod chart puts its objects in the release's namespace.
        out.push(DeleteTarget::new(
            DeleteKind::HelmRelease,
            &istiod_namespace(model, row),
            release,
        ));
        return out;
    }
    if row.is_legacy() {
        // The 1.4 components run in the istio namespace, each with the objects its chart
        // gave its name; the injector webhook and mesh ConfigMaps have no revision.
        let ns = model
            .deployments()
            .find(|d| row.components.contains(&d.name))
            .map(|d| d.namespace.to_string())
            .unwrap_or_else(|| "istio-system".into());
        out.push(DeleteTarget::new(
            DeleteKind::MutatingWebhook,
            "",
            "istio-sidecar-injector",
        ));
        for c in &row.components {
            for kind in [
                DeleteKind::Deployment,
                DeleteKind::Hpa,
                DeleteKind::Pdb,
                DeleteKind::Service,
            ] {
                out.push(DeleteTarget::new(kind, &ns, c));
            }
        }
        for cm in ["istio", "istio-sidecar-injector"] {
            out.push(DeleteTarget::new(DeleteKind::ConfigMap, &ns, cm));
        }
    } else {
        let rev = row.revision.as_ref();
        let istiod = format!("istiod-{rev}");
        let ns = istiod_namespace(model, row);
        out.push(DeleteTarget::new(
            DeleteKind::MutatingWebhook,
            "",
            &format!("istio-sidecar-injector-{rev}"),
        ));
        out.push(DeleteTarget::new(
            DeleteKind::ValidatingWebhook,
            "",
            &format!("istio-validator-{rev}-{ns}"),
        ));
        for kind in [
            DeleteKind::Deployment,
            DeleteKind::Hpa,
            DeleteKind::Pdb,
            DeleteKind::Service,
        ] {
            out.push(DeleteTarget::new(kind, &ns, &istiod));
        }
        for cm in [
            format!("istio-{rev}"),
            format!("istio-sidecar-injector-{rev}"),
        ] {
            out.push(DeleteTarget::new(DeleteKind::ConfigMap, &ns, &cm));
        }
    }
    out
}

/// Whether the model knows the object is there (`None`: the model does not keep that kind).
fn present(model: &Model, t: &DeleteTarget) -> Option<bool> {
    match t.kind {
        DeleteKind::Deployment => Some(
            model
                .workload(WorkloadKind::Deployment, &t.namespace, &t.name)
                .is_some(),
        ),
        DeleteKind::Pdb => Some(model.pdb(&t.namespace, &t.name).is_some()),
        DeleteKind::ConfigMap => Some(model.has_config_map(&t.namespace, &t.name)),
        _ => None,
    }
}

/// The preview of an uninstall, from the model as it is now.
pub fn plan(model: &Model, revision: &str, legacy: bool) -> Vec<PlanLine> {
    let mut out = Vec::new();
    let what = if legacy {
        "the non-revisioned (legacy) control plane".to_string()
    } else {
        format!("revision {revision}")
    };
    let Some(row) = row(model, revision, legacy) else {
        out.push(PlanLine::bad(format!("{what} is not in the cluster")));
        return out;
    };
    let users = users(&row);
    if !users.is_empty() {
        out.push(PlanLine::bad(format!(
            "refused: {what} is still in use; move these first"
        )));
        out.extend(users.into_iter().map(|u| PlanLine::bad(format!("  {u}"))));
        return out;
    }
    if let Some(release) = helm_release(&row).filter(|_| !legacy) {
        out.push(PlanLine::plain(format!(
            "uninstall {what} through Helm: nothing uses it (no namespace, tag or proxy); runs:"
        )));
        for t in targets(model, &row) {
            out.push(PlanLine::plain(format!("  {}", t.describe())));
        }
        out.push(PlanLine::dim(format!(
            "what the chart installed with release {release} goes with it (helm's own \
             --dry-run for a dry run)"
        )));
        return out;
    }
    if let Some(resource) = sail_revision(&row) {
        out.push(PlanLine::plain(format!(
            "uninstall {what} through Sail: nothing uses it (no namespace, tag or proxy); deletes:"
        )));
        for t in targets(model, &row) {
            out.push(PlanLine::plain(format!("  {}", t.describe())));
        }
        out.push(PlanLine::dim(format!(
            "the Sail operator's istiod, webhooks and ConfigMaps of the revision are owned by \
             istiorevision {resource} and go with it"
        )));
        return out;
    }
    out.push(PlanLine::plain(format!(
        "uninstall {what}: nothing uses it (no namespace, tag or proxy); deletes, in this order:"
    )));
    for t in targets(model, &row) {
        let line = format!("  {}", t.describe());
        out.push(match present(model, &t) {
            Some(false) => PlanLine::dim(format!("{line}  (not there: skipped)")),
            _ => PlanLine::plain(line),
        });
    }
    out.push(PlanLine::dim(
        "objects not found when it runs are skipped; its ServiceAccount and RBAC stay",
    ));
    if let Some(by) = row.installed_by.as_deref() {
        if let Some(release) = by
            .strip_prefix("helm ")
            .or_else(|| by.strip_prefix("helm2 "))
        {
            out.push(PlanLine::warn(format!(
                "installed by Helm: the release record {release} remains (deleted object by \
                 object here; `helm uninstall {release}` removes it and what else it installed)"
            )));
        } else if by.starts_with("operator") {
            out.push(PlanLine::warn(format!(
                "installed by an IstioOperator ({by}): delete that resource too, or the operator \
                 puts these objects back"
            )));
        } else if by.starts_with("sail") {
            out.push(PlanLine::warn(format!(
                "managed by Sail ({by}) without a known IstioRevision: delete its Istio or \
                 IstioRevision resource too, or Sail puts these objects back"
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_named_as_kubectl_and_the_audit_log_name_them() {
        let t = DeleteTarget::new(DeleteKind::Deployment, "istio-system", "istiod-1-9-1");
        assert_eq!(t.describe(), "deployment.apps/istiod-1-9-1 -n istio-system");
        assert_eq!(t.audit_target(), "deployment/istio-system/istiod-1-9-1");
        let w = DeleteTarget::new(DeleteKind::MutatingWebhook, "", "istio-sidecar-injector");
        assert_eq!(
            w.describe(),
            "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector"
        );
        assert_eq!(
            w.audit_target(),
            "mutatingwebhookconfiguration/istio-sidecar-injector"
        );
        let h = DeleteTarget::new(DeleteKind::HelmRelease, "istio-system", "istiod-1-31-0");
        assert_eq!(
            h.describe(),
            "`helm uninstall istiod-1-31-0 -n istio-system`"
        );
        assert_eq!(h.audit_target(), "helm/istio-system/istiod-1-31-0");
        let r = DeleteTarget::new(DeleteKind::IstioRevision, "", "default-v1-30-1");
        assert_eq!(
            r.describe(),
            "istiorevision.sailoperator.io/default-v1-30-1"
        );
        assert_eq!(r.audit_target(), "istiorevision/default-v1-30-1");
        assert!(validate("1.9", false).is_err());
        assert!(validate("", true).is_ok());
    }
}
