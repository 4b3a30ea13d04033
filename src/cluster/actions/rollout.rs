//! Follows restarted workloads until they roll out, by `kubectl rollout status`'s rules
//! ([`crate::ops::rollout`]). Read-only.

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;

use super::api_error;
use crate::ops::ActionError;
use crate::ops::rollout::{RolloutEvent, RolloutState, rollout_state};

fn resource(kind: &str) -> Option<ApiResource> {
    let (k, plural) = match kind {
        "deployment.apps" => ("Deployment", "deployments"),
        "statefulset.apps" => ("StatefulSet", "statefulsets"),
        "daemonset.apps" => ("DaemonSet", "daemonsets"),
        _ => return None,
    };
    Some(ApiResource {
        group: "apps".into(),
        version: "v1".into(),
        api_version: "apps/v1".into(),
        kind: k.into(),
        plural: plural.into(),
    })
}

/// Waits until every workload (`deployment.apps/NAME`, as the restart names them) has
/// rolled out, polling every `poll`; gives up after `timeout` naming what is left.
pub async fn wait(
    client: &kube::Client,
    namespace: &str,
    workloads: &[String],
    timeout: Duration,
    poll: Duration,
    report: &(dyn Fn(RolloutEvent) + Send + Sync),
) -> Result<(), ActionError> {
    let total = workloads.len();
    let mut pending: Vec<(String, Option<String>)> =
        workloads.iter().map(|w| (w.clone(), None)).collect();
    let deadline = crate::cluster::deadline_in(timeout);
    let mut done = 0;
    loop {
        let mut still = Vec::new();
        for (workload, last) in pending {
            let Some((kind, name)) = workload.split_once('/') else {
                continue;
            };
            let Some(ar) = resource(kind) else {
                continue;
            };
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
            let obj = api
                .get_opt(name)
                .await
                .map_err(|e| api_error(&format!("reading {workload}"), &e))?;
            let state = match obj {
                // Deleted meanwhile: nothing left to wait for.
                None => RolloutState::Done,
                Some(o) => {
                    let v = serde_json::to_value(&o).unwrap_or_default();
                    rollout_state(kind, &v)
                }
            };
            match state {
                RolloutState::Done => {
                    done += 1;
                    report(RolloutEvent::Done {
                        workload: workload.clone(),
                        done,
                        total,
                    });
                }
                RolloutState::Waiting(why) => {
                    if last.as_deref() != Some(why.as_str()) {
                        report(RolloutEvent::Waiting {
                            workload: workload.clone(),
                            why: why.clone(),
                        });
                    }
                    still.push((workload, Some(why)));
                }
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let left: Vec<String> = still
                .iter()
                .map(|(w, why)| format!("{w} ({})", why.clone().unwrap_or_default()))
                .collect();
            return Err(ActionError::TimedOut(format!(
                "rollout not finished after {}: {}",
                crate::ops::drain::humantime(timeout),
                left.join(", ")
            )));
        }
        pending = still;
        tokio::time::sleep(poll).await;
    }
}
