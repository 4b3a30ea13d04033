//! Deleting one object of an uninstall, with `dryRun=All` when asked; one that is not there
//! any more is skipped, not an error (the uninstall's plan names what it expected).

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, DynamicObject};

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
        DeleteKind::IstioRevision => {
            let resource = super::install::read::istio_revision_resource();
            match Api::<DynamicObject>::all_with(c, &resource)
                .delete(name, &dp)
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if api_code(&e) == Some(404) => Ok(false),
                Err(e) => Err(e),
            }
        }
        DeleteKind::HelmRelease => return helm_uninstall(helm, t, dry_run).await,
    };
    done.map_err(|e| api_error(&format!("deleting {}", t.describe()), &e))
}
