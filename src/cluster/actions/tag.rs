//! `istioctl tag set` against the cluster: the checks istioctl makes (the revision's injector
//! webhook exists once, no revision bears the tag's name, an existing tag moves only with
//! overwrite) plus one of meshtop's (the revision runs a ready istiod), then the tag's
//! webhook replaced (or created) from the revision's, its Service pointed at the revision's
//! istiod, or, where Sail manages the revision, its `IstioRevisionTag` applied. The
//! `default` tag also points `istiod-default-validator` at the revision.

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::{FIELD_MANAGER, api_error};
use crate::ops::ActionError;
use crate::ops::tag::{
    DEFAULT_TAG, DEFAULT_VALIDATOR, REV_LABEL, TAG_LABEL, default_validator, sail_revision_tag,
    service_patch, tag_webhook,
};

/// What a tag move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagOutcome {
    /// The revision the tag pointed at before, if it existed.
    pub from: Option<String>,
    /// Written as Sail's `IstioRevisionTag`.
    pub sail: bool,
    /// The namespaces that follow the tag (`istio.io/rev=TAG`).
    pub namespaces: Vec<String>,
    /// For the `default` tag: whether `istiod-default-validator` now points at the revision
    /// (`None`: the revision has no validating webhook to copy; validation is as it was).
    pub validator: Option<bool>,
}

/// Sail's `IstioRevisionTag` resource (cluster-scoped, `sailoperator.io/v1`).
pub fn istio_revision_tags() -> ApiResource {
    ApiResource {
        group: "sailoperator.io".into(),
        version: "v1".into(),
        api_version: "sailoperator.io/v1".into(),
        kind: "IstioRevisionTag".into(),
        plural: "istiorevisiontags".into(),
    }
}

fn to_value<T: serde::Serialize>(o: &T) -> Result<Value, ActionError> {
    serde_json::to_value(o).map_err(|e| ActionError::Api(e.to_string()))
}

fn label<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Whether Sail manages the object (its labels or its owner say so).
fn sail_managed(o: &Value) -> bool {
    label(o, "app.kubernetes.io/managed-by") == Some("sail-operator")
        || o.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter().any(|r| {
                    r.get("apiVersion")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.starts_with("sailoperator.io/"))
                })
            })
}

async fn webhooks(
    api: &Api<MutatingWebhookConfiguration>,
    selector: &str,
) -> Result<Vec<Value>, ActionError> {
    api.list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| api_error("listing mutatingwebhookconfigurations", &e))?
        .items
        .iter()
        .map(to_value)
        .collect()
}

pub(super) async fn set(
    client: &kube::Client,
    tag: &str,
    revision: &str,
    overwrite: bool,
    dry_run: bool,
) -> Result<TagOutcome, ActionError> {
    let mwcs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    if tag != DEFAULT_TAG
        && !webhooks(&mwcs, &format!("{REV_LABEL}={tag},!{TAG_LABEL}"))
            .await?
            .is_empty()
    {
        return Err(ActionError::Invalid(format!(
            "cannot create revision tag {tag:?}: found existing control plane revision with same name"
        )));
    }
    let canonical = webhooks(&mwcs, &format!("{REV_LABEL}={revision},!{TAG_LABEL}")).await?;
    let canonical = match canonical.as_slice() {
        [one] => one,
        [] => {
            return Err(ActionError::NotFound(format!(
                "cannot modify tag: cannot find MutatingWebhookConfiguration with revision {revision:?}"
            )));
        }
        _ => {
            return Err(ActionError::Refused(format!(
                "cannot modify tag: found multiple canonical webhooks with revision {revision:?}"
            )));
        }
    };
    let istiods: Api<Deployment> = Api::all(client.clone());
    let ready: i64 = istiods
        .list(&ListParams::default().labels(&format!("app=istiod,{REV_LABEL}={revision}")))
        .await
        .map_err(|e| api_error("listing istiod deployments", &e))?
        .items
        .iter()
        .filter_map(|d| to_value(d).ok())
        .filter_map(|d| d.pointer("/status/readyReplicas").and_then(Value::as_i64))
        .sum();
    if ready == 0 {
        return Err(ActionError::Refused(format!(
            "revision {revision:?} runs no ready istiod: a tag pointing at it would leave new pods \
             uninjected; nothing was changed"
        )));
    }
    let existing = webhooks(&mwcs, &format!("{TAG_LABEL}={tag}")).await?;
    let from = existing
        .first()
        .and_then(|e| label(e, REV_LABEL))
        .map(str::to_string);
    if !existing.is_empty() && !overwrite {
        return Err(ActionError::Refused(format!(
            "revision tag {tag:?} already exists, and --overwrite is false"
        )));
    }
    let pp = PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_string()),
    };
    let sail = sail_managed(canonical);
    let mut validator = None;
    if sail {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &istio_revision_tags());
        let params = PatchParams {
            dry_run,
            force: true,
            ..PatchParams::apply(FIELD_MANAGER)
        };
        api.patch(
            tag,
            &params,
            &Patch::Apply(sail_revision_tag(tag, revision)),
        )
        .await
        .map_err(|e| api_error(&format!("applying istiorevisiontag {tag}"), &e))?;
    } else {
        let wh = tag_webhook(canonical, existing.first(), tag, revision)?;
        let wh: MutatingWebhookConfiguration =
            serde_json::from_value(wh).map_err(|e| ActionError::Api(e.to_string()))?;
        match existing.first().and_then(|e| e.pointer("/metadata/name")) {
            Some(Value::String(name)) => {
                mwcs.replace(name, &pp, &wh).await.map(drop).map_err(|e| {
                    api_error(
                        &format!("replacing mutatingwebhookconfiguration {name}"),
                        &e,
                    )
                })?
            }
            _ => mwcs
                .create(&pp, &wh)
                .await
                .map(drop)
                .map_err(|e| api_error("creating the tag's mutatingwebhookconfiguration", &e))?,
        }
        if tag == DEFAULT_TAG {
            validator = Some(point_default_validator(client, revision, &pp).await?);
        }
        let services: Api<Service> = Api::all(client.clone());
        let tagged = services
            .list(&ListParams::default().labels(&format!("{TAG_LABEL}={tag}")))
            .await
            .map_err(|e| api_error("listing the tag's services", &e))?;
        let params = PatchParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        for svc in tagged.items {
            let (Some(ns), Some(name)) = (svc.metadata.namespace, svc.metadata.name) else {
                continue;
            };
            Api::<Service>::namespaced(client.clone(), &ns)
                .patch(&name, &params, &Patch::Merge(service_patch(revision)))
                .await
                .map_err(|e| api_error(&format!("pointing service/{name} at {revision}"), &e))?;
        }
    }
    let namespaces = Api::<Namespace>::all(client.clone())
        .list_metadata(&ListParams::default().labels(&format!("{REV_LABEL}={tag}")))
        .await
        .map_err(|e| api_error("listing the tag's namespaces", &e))?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    Ok(TagOutcome {
        from,
        sail,
        namespaces,
        validator,
    })
}

/// Points `istiod-default-validator` at the revision, as `istioctl tag set default` does:
/// regenerated from the revision's own validating webhook configuration. `false` when the
/// revision has none (nothing to copy: validation stays as it was).
async fn point_default_validator(
    client: &kube::Client,
    revision: &str,
    pp: &PostParams,
) -> Result<bool, ActionError> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let list = |selector: String| {
        let api = api.clone();
        async move {
            api.list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| api_error("listing validatingwebhookconfigurations", &e))
                .map(|l| {
                    l.items
                        .into_iter()
                        .filter_map(|w| to_value(&w).ok())
                        .collect::<Vec<_>>()
                })
        }
    };
    let canonical = list(format!("{REV_LABEL}={revision},!{TAG_LABEL}")).await?;
    let Some(canonical) = canonical
        .iter()
        .find(|w| w.pointer("/metadata/name").and_then(Value::as_str) != Some(DEFAULT_VALIDATOR))
    else {
        return Ok(false);
    };
    let existing = match api.get_opt(DEFAULT_VALIDATOR).await {
        Ok(e) => e.and_then(|e| to_value(&e).ok()),
        Err(e) => return Err(api_error(&format!("reading {DEFAULT_VALIDATOR}"), &e)),
    };
    let vwc: ValidatingWebhookConfiguration =
        serde_json::from_value(default_validator(canonical, existing.as_ref(), revision))
            .map_err(|e| ActionError::Api(e.to_string()))?;
    let what = format!("validatingwebhookconfiguration {DEFAULT_VALIDATOR}");
    match existing {
        Some(_) => api.replace(DEFAULT_VALIDATOR, pp, &vwc).await.map(drop),
        None => api.create(pp, &vwc).await.map(drop),
    }
    .map_err(|e| api_error(&format!("writing {what}"), &e))?;
    Ok(true)
}
