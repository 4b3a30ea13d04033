//! Deleting one object of an uninstall, with `dryRun=All` when asked; one that is not there
//! any more is skipped, not an error (the uninstall's plan names what it expected).

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind};

use super::{HelmProgram, api_code, api_error};
use crate::ops::ActionError;
use crate::ops::uninstall::{DeleteKind, DeleteTarget};

async fn delete_in<K>(api: Api<K>, name: &str, dp: &DeleteParams) -> Result<bool, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, dp).await {
        Ok(_) => Ok(true),
        // Gone already, or a kind this cluster does not serve.
        Err(e) if api_code(&e) == Some(404) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `helm uninstall RELEASE -n NS [--dry-run]` with the flags that reach the cluster; a
/// release helm does not know is not there (`Ok(false)`).
async fn helm_uninstall(
    helm: Option<&HelmProgram>,
    t: &DeleteTarget,
    dry_run: bool,
) -> Result<bool, ActionError> {
    let Some(helm) = helm else {
        return Err(ActionError::Refused(format!(
            "helm is not on PATH: the revision is Helm release {} in {}; run `helm uninstall {} \
             -n {}`",
            t.name, t.namespace, t.name, t.namespace
        )));
    };
    let mut args = vec![
        "uninstall".to_string(),
        t.name.clone(),
        "-n".into(),
        t.namespace.clone(),
    ];
    args.extend(helm.args.iter().cloned());
    if dry_run {
        args.push("--dry-run".into());
    }
    let what = format!("helm uninstall {}", t.name);
    match super::install::apply::run_installer(&helm.binary, &args, helm.kubeconfig.as_ref(), &what)
        .await
    {
        Ok(_) => Ok(true),
        Err(ActionError::Api(e)) if e.contains("not found") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes a Sail IstioRevision, unless it is the active revision of the `Istio` that owns
/// it: the operator would make it again at once (the Istio's version must move first).
async fn delete_istio_revision(
    client: kube::Client,
    t: &DeleteTarget,
    dp: &DeleteParams,
) -> Result<bool, ActionError> {
    let what = t.describe();
    let fail = |e: kube::Error| api_error(&format!("deleting {what}"), &e);
    let revisions = Api::<DynamicObject>::all_with(
        client.clone(),
        &super::install::read::istio_revision_resource(),
    );
    let Some(revision) = revisions.get_opt(&t.name).await.map_err(fail)? else {
        return Ok(false);
    };
    let owner = revision
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.kind == "Istio" && r.api_version.starts_with("sailoperator.io/"));
    if let Some(owner) = owner {
        let istios = Api::<DynamicObject>::all_with(
            client,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("sailoperator.io", "v1", "Istio"),
                "istios",
            ),
        );
        let active = istios
            .get_opt(&owner.name)
            .await
            .map_err(fail)?
            .and_then(|i| {
                i.data
                    .pointer("/status/activeRevisionName")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            });
        if active.as_deref() == Some(t.name.as_str()) {
            return Err(ActionError::Refused(format!(
                "{what} is the active revision of istio {}: the Sail operator would create it \
                 again; change that Istio's version (or delete the Istio) instead",
                owner.name
            )));
        }
    }
    match revisions.delete(&t.name, dp).await {
        Ok(_) => Ok(true),
        Err(e) if api_code(&e) == Some(404) => Ok(false),
        Err(e) => Err(fail(e)),
    }
}

pub(super) async fn delete(
    client: &kube::Client,
    helm: Option<&HelmProgram>,
    t: &DeleteTarget,
    dry_run: bool,
) -> Result<bool, ActionError> {
    if t.kind == DeleteKind::HelmRelease {
        return helm_uninstall(helm, t, dry_run).await;
    }
    let dp = DeleteParams {
        dry_run,
        ..DeleteParams::default()
    };
    let c = client.clone();
    let ns = t.namespace.as_str();
    let name = t.name.as_str();
    let done = match t.kind {
        DeleteKind::MutatingWebhook => {
            delete_in(Api::<MutatingWebhookConfiguration>::all(c), name, &dp).await
        }
        DeleteKind::ValidatingWebhook => {
            delete_in(Api::<ValidatingWebhookConfiguration>::all(c), name, &dp).await
        }
        DeleteKind::Deployment => delete_in(Api::<Deployment>::namespaced(c, ns), name, &dp).await,
        DeleteKind::Hpa => {
            delete_in(Api::<HorizontalPodAutoscaler>::namespaced(c, ns), name, &dp).await
        }
        DeleteKind::Pdb => {
            delete_in(Api::<PodDisruptionBudget>::namespaced(c, ns), name, &dp).await
        }
        DeleteKind::Service => delete_in(Api::<Service>::namespaced(c, ns), name, &dp).await,
        DeleteKind::ConfigMap => delete_in(Api::<ConfigMap>::namespaced(c, ns), name, &dp).await,
        DeleteKind::IstioRevision => return delete_istio_revision(c, t, &dp).await,
        DeleteKind::HelmRelease => return helm_uninstall(helm, t, dry_run).await,
    };
    done.map_err(|e| api_error(&format!("deleting {}", t.describe()), &e))
}
