//! Waiting for restarted workloads the way `kubectl rollout status` does: a Deployment is
//! done when the controller saw its new generation and every replica is updated and
//! available; a StatefulSet when every replica is ready on the update revision; a
//! DaemonSet when every scheduled pod is updated and available. Read-only.

use serde_json::Value;

/// The pod-template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Where one workload's rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutState {
    Done,
    /// kubectl's words for what it waits on.
    Waiting(String),
}

fn int(v: &Value, path: &str) -> i64 {
    v.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

/// The rollout state of a Deployment, StatefulSet or DaemonSet (`kind` as in
/// `deployment.apps`), from the object's JSON.
pub fn rollout_state(kind: &str, obj: &Value) -> RolloutState {
    let generation = int(obj, "/metadata/generation");
    let observed = int(obj, "/status/observedGeneration");
    if observed < generation {
        return RolloutState::Waiting("waiting for the rollout to be observed".into());
    }
    match kind {
        "deployment.apps" => {
            let want = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let updated = int(obj, "/status/updatedReplicas");
            let total = int(obj, "/status/replicas");
            let available = int(obj, "/status/availableReplicas");
            if updated < want {
                RolloutState::Waiting(format!(
                    "{updated} out of {want} new replicas have been updated"
                ))
            } else if total > updated {
                RolloutState::Waiting(format!(
                    "{} old replicas are pending termination",
                    total - updated
                ))
            } else if available < updated {
                RolloutState::Waiting(format!(
                    "{available} of {updated} updated replicas are available"
                ))
            } else {
                RolloutState::Done
            }
        }
        "statefulset.apps" => {
            let want = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let ready = int(obj, "/status/readyReplicas");
            let current = obj
                .pointer("/status/currentRevision")
                .and_then(Value::as_str);
            let update = obj
                .pointer("/status/updateRevision")
                .and_then(Value::as_str);
            if ready < want {
                RolloutState::Waiting(format!("{ready} of {want} pods are ready"))
            } else if update.is_some() && current != update {
                RolloutState::Waiting(format!(
                    "waiting for pods to move to revision {}",
                    update.unwrap_or_default()
                ))
            } else {
                RolloutState::Done
            }
        }
        "daemonset.apps" => {
            let desired = int(obj, "/status/desiredNumberScheduled");
            let updated = obj
                .pointer("/status/updatedNumberScheduled")
                .and_then(Value::as_i64)
                .unwrap_or(desired);
            let available = obj
                .pointer("/status/numberAvailable")
                .and_then(Value::as_i64)
                .unwrap_or_else(|| int(obj, "/status/numberReady"));
            if updated < desired {
                RolloutState::Waiting(format!(
                    "{updated} out of {desired} new pods have been updated"
                ))
            } else if available < desired {
                RolloutState::Waiting(format!(
                    "{available} of {desired} updated pods are available"
                ))
            } else {
                RolloutState::Done
            }
        }
        other => RolloutState::Waiting(format!("{other}: not a workload kind")),
    }
}

/// What [`wait`] reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutEvent {
    /// A workload is still rolling out (reported when its words change).
    Waiting { workload: String, why: String },
    /// A workload finished; `done` of `total` now.
    Done {
        workload: String,
        done: usize,
        total: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubectl_rollout_status_rules() {
        let d = |generation: i64, obs: i64, upd: i64, total: i64, avail: i64| {
            json!({"metadata": {"generation": generation}, "spec": {"replicas": 2},
                   "status": {"observedGeneration": obs, "updatedReplicas": upd,
                              "replicas": total, "availableReplicas": avail}})
        };
        let state = |v: &Value| rollout_state("deployment.apps", v);
        assert_eq!(
            state(&d(3, 2, 2, 2, 2)),
            RolloutState::Waiting("waiting for the rollout to be observed".into())
        );
        assert_eq!(
            state(&d(3, 3, 1, 3, 2)),
            RolloutState::Waiting("1 out of 2 new replicas have been updated".into())
        );
        assert_eq!(
            state(&d(3, 3, 2, 3, 2)),
            RolloutState::Waiting("1 old replicas are pending termination".into())
        );
        assert_eq!(
            state(&d(3, 3, 2, 2, 1)),
            RolloutState::Waiting("1 of 2 updated replicas are available".into())
        );
        assert_eq!(state(&d(3, 3, 2, 2, 2)), RolloutState::Done);

        let sts = json!({"metadata": {"generation": 1}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "readyReplicas": 3,
                       "currentRevision": "a", "updateRevision": "b"}});
        assert!(matches!(
            rollout_state("statefulset.apps", &sts),
            RolloutState::Waiting(_)
        ));
        let ds = json!({"metadata": {"generation": 2},
            "status": {"observedGeneration": 2, "desiredNumberScheduled": 5,
                       "updatedNumberScheduled": 5, "numberAvailable": 4}});
        assert_eq!(
            rollout_state("daemonset.apps", &ds),
            RolloutState::Waiting("4 of 5 updated pods are available".into())
        );
    }
}
