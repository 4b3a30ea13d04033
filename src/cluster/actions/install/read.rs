//! What an install reads from the API server beyond the model: the contents of the mesh
//! ConfigMaps a gateway's namespace gets a copy of (the watches fetch ConfigMaps' names only).

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, GroupVersionKind};

use super::super::api_error;
use crate::ops::ActionError;
use crate::ops::install::InstallFacts;

/// The IstioOperator resource type.
pub(super) fn iop_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("install.istio.io", "v1alpha1", "IstioOperator"),
        "istiooperators",
    )
}

/// The Sail operator's IstioRevision (cluster-scoped).
pub(crate) fn istio_revision_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("sailoperator.io", "v1", "IstioRevision"),
        "istiorevisions",
    )
}

/// Adds what the mesh ConfigMaps of the revisions in use hold to facts taken from the
/// model, one GET each. One deleted since the model saw it is left out: a plan that would
/// copy it then says it was not read.
pub async fn read_mesh_configs(
    client: &kube::Client,
    mut facts: InstallFacts,
) -> Result<InstallFacts, ActionError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &facts.istio_namespace);
    for name in facts.mesh_configs_to_read() {
        let doing = format!("reading configmap {}/{name}", facts.istio_namespace);
        let Some(cm) = api
            .get_opt(&name)
            .await
            .map_err(|e| api_error(&doing, &e))?
        else {
            continue;
        };
        let value =
            serde_json::to_value(cm).map_err(|e| ActionError::Api(format!("{doing}: {e}")))?;
        facts.mesh_config_contents.insert(name, value);
    }
    Ok(facts)
}
