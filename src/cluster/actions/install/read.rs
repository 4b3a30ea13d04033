//! What an install's checks read from the cluster, listed from the API server.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

use super::super::{api_code, api_error};
use crate::ops::ActionError;
use crate::ops::install::facts::{is_mesh_config_map, s};
use crate::ops::install::{ClusterObjects, InstallFacts};

/// The IstioOperator resource type.
pub(super) fn iop_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("install.istio.io", "v1alpha1", "IstioOperator"),
        "istiooperators",
    )
}

/// Reads what the checks need, with list requests only; the IstioOperator CRD's absence
/// (404) is a fact, not an error.
pub async fn read_facts(
    client: &kube::Client,
    istio_namespace: &str,
) -> Result<InstallFacts, ActionError> {
    async fn list<K>(api: Api<K>, lp: &ListParams, what: &str) -> Result<Vec<Value>, ActionError>
    where
        K: kube::Resource
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let items = api
            .list(lp)
            .await
            .map_err(|e| api_error(&format!("listing {what}"), &e))?
            .items;
        items
            .iter()
            .map(|o| serde_json::to_value(o).map_err(|e| ActionError::Api(e.to_string())))
            .collect()
    }
    let lp = ListParams::default();
    let c = client.clone();
    let iops = async {
        let api: Api<DynamicObject> = Api::all_with(c.clone(), &iop_resource());
        match api.list(&lp).await {
            Ok(l) => l
                .items
                .iter()
                .map(|o| serde_json::to_value(o).map_err(|e| ActionError::Api(e.to_string())))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Err(e) if api_code(&e) == Some(404) => Ok(None),
            Err(e) => Err(api_error("listing istiooperators", &e)),
        }
    };
    let in_istio_ns = format!("configmaps in {istio_namespace}");
    let (namespaces, deployments, services, iops, istio_config_maps) = futures::try_join!(
        list(Api::<Namespace>::all(c.clone()), &lp, "namespaces"),
        list(Api::<Deployment>::all(c.clone()), &lp, "deployments"),
        list(Api::<Service>::all(c.clone()), &lp, "services"),
        iops,
        list(
            Api::<ConfigMap>::namespaced(c.clone(), istio_namespace),
            &lp,
            &in_istio_ns,
        ),
    )?;
    // Where each mesh ConfigMap has copies: one list per name, by field selector.
    let mut config_map_copies = Vec::new();
    for cm in istio_config_maps.iter().filter(|cm| is_mesh_config_map(cm)) {
        let name = s(cm, "/metadata/name");
        let by_name = ListParams::default().fields(&format!("metadata.name={name}"));
        config_map_copies.extend(
            list(
                Api::<ConfigMap>::all(c.clone()),
                &by_name,
                &format!("configmaps named {name}"),
            )
            .await?,
        );
    }
    let objects = ClusterObjects {
        namespaces,
        deployments,
        services,
        iops,
        istio_config_maps,
        config_map_copies,
    };
    Ok(InstallFacts::from_objects(istio_namespace, &objects))
}
