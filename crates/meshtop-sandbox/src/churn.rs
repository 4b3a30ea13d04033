//! Pod churn for generated clusters: `--generate …,churn=N` changes N pods a second, as a
//! busy cluster does, through the store's ordinary write path, so that every watch sees a
//! MODIFIED event. Most changes are a container restarting (its restart count goes up, a
//! new start time); one in ten flips the pod's readiness, one in ten moves a label. Pods
//! outside `kube-system` and `istio-system` are changed, one after another in a fixed
//! shuffled order.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::Shared;
use super::store::{meta_str, timestamp};

/// How often a batch of changes is made: often enough that the changes come as a stream.
const BATCH_EVERY: Duration = Duration::from_millis(10);

/// The label a churned pod's label change moves.
const CHURN_LABEL: &str = "sandbox.meshtop.dev/churn";

/// What one change does to a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Restart,
    Readiness,
    Label,
}

impl Change {
    /// The n-th change's kind: 8 in 10 restarts, 1 readiness flip, 1 label.
    fn nth(n: u64) -> Change {
        match n % 10 {
            3 => Change::Readiness,
            7 => Change::Label,
            _ => Change::Restart,
        }
    }
}

/// Changes `per_second` pods a second until `stop` turns true.
pub async fn run(shared: Arc<Shared>, per_second: usize, mut stop: watch::Receiver<bool>) {
    if per_second == 0 {
        return;
    }
    let pods = churned_pods(&shared);
    if pods.is_empty() {
        return;
    }
    let started = tokio::time::Instant::now();
    let mut made: u64 = 0;
    let mut tick = tokio::time::interval(BATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // After a stall (the process stopped, the store busy), at most a second's worth at
    // once, not a burst of everything missed.
    let most = per_second as u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let due = (started.elapsed().as_secs_f64() * per_second as f64) as u64;
        made = made.max(due.saturating_sub(most));
        let batch = due.saturating_sub(made);
        if batch == 0 {
            continue;
        }
        let now = Timestamp::now();
        let mut cluster = shared.lock();
        let Some(pod_type) = cluster.registry.by_kind("v1", "Pod").cloned() else {
            return;
        };
        for _ in 0..batch {
            let (namespace, name) = &pods[(made % pods.len() as u64) as usize];
            // Shifted a step each round, so that a pod's next change is of another kind.
            let change = Change::nth(made + made / pods.len() as u64);
            made += 1;
            let Some(stored) = cluster.store.get(&pod_type.key(), namespace, name) else {
                continue;
            };
            let mut pod = stored.full();
            apply(&mut pod, change, now);
            if let Err(e) = cluster.store.replace(&pod_type, pod) {
                tracing::debug!(namespace = %namespace, name = %name, error = %e, "churn write failed");
            }
        }
        // No controller runs after churn's writes: what they follow is noted now, so it
        // does not pile up (a changed pod is kilobytes).
        crate::controllers::note_changes(&mut cluster);
    }
}

/// The pods churn changes, in a fixed shuffled order: application pods, not the
/// control plane's.
fn churned_pods(shared: &Shared) -> Vec<(String, String)> {
    let cluster = shared.lock();
    let Some(pod_type) = cluster.registry.by_kind("v1", "Pod") else {
        return Vec::new();
    };
    let mut pods: Vec<(u64, (String, String))> = cluster
        .store
        .list(&pod_type.key(), None)
        .filter_map(|p| {
            let namespace = meta_str(p.head(), "namespace");
            (!matches!(namespace, "kube-system" | "istio-system")).then(|| {
                (
                    namespace.to_string(),
                    meta_str(p.head(), "name").to_string(),
                )
            })
        })
        .enumerate()
        .map(|(i, pod)| (shuffle(i as u64), pod))
        .collect();
    pods.sort_unstable_by_key(|(order, _)| *order);
    pods.into_iter().map(|(_, pod)| pod).collect()
}

/// A stable mix of a number (splitmix64's finaliser): a fixed order that is not the
/// namespace order.
fn shuffle(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Makes one change to a pod's whole JSON.
fn apply(pod: &mut Value, change: Change, now: Timestamp) {
    let now = timestamp(now);
    match change {
        Change::Restart => {
            if let Some(status) = pod
                .pointer_mut("/status/containerStatuses")
                .and_then(Value::as_array_mut)
                .and_then(|s| s.first_mut())
            {
                let restarts = status
                    .get("restartCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                status["restartCount"] = json!(restarts + 1);
                status["state"] = json!({"running": {"startedAt": now}});
            }
        }
        Change::Readiness => {
            let ready = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| {
                    c.iter()
                        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
                })
                .and_then(|c| c.get("status"))
                .and_then(Value::as_str)
                != Some("False");
            let word = if ready { "False" } else { "True" };
            if let Some(conditions) = pod
                .pointer_mut("/status/conditions")
                .and_then(Value::as_array_mut)
            {
                for c in conditions.iter_mut().filter(|c| {
                    matches!(
                        c.get("type").and_then(Value::as_str),
                        Some("Ready" | "ContainersReady")
                    )
                }) {
                    c["status"] = json!(word);
                    c["lastTransitionTime"] = json!(now);
                }
            }
            if let Some(first) = pod
                .pointer_mut("/status/containerStatuses")
                .and_then(Value::as_array_mut)
                .and_then(|s| s.first_mut())
            {
                first["ready"] = json!(!ready);
            }
        }
        Change::Label => {
            let round = pod
                .pointer(&format!(
                    "/metadata/labels/{}",
                    CHURN_LABEL.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if let Some(labels) = pod
                .pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut)
            {
                labels.insert(CHURN_LABEL.into(), json!((round + 1).to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"},
                    {"type": "PodScheduled", "status": "True"}
                ],
                "containerStatuses": [{"name": "web", "ready": true, "restartCount": 2}]
            }
        })
    }

    #[test]
    fn each_change_moves_what_it_says() {
        let now = Timestamp::UNIX_EPOCH;
        let mut p = pod();
        apply(&mut p, Change::Restart, now);
        assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 3);
        apply(&mut p, Change::Readiness, now);
        assert_eq!(p["status"]["conditions"][0]["status"], "False");
        assert_eq!(p["status"]["conditions"][1]["status"], "False");
        assert_eq!(p["status"]["conditions"][2]["status"], "True");
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], false);
        apply(&mut p, Change::Readiness, now);
        assert_eq!(p["status"]["conditions"][0]["status"], "True");
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
        apply(&mut p, Change::Label, now);
        apply(&mut p, Change::Label, now);
        assert_eq!(p["metadata"]["labels"][CHURN_LABEL], "2");
        assert_eq!(p["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn one_change_in_ten_flips_readiness_and_one_moves_a_label() {
        let kinds: Vec<Change> = (0..100).map(Change::nth).collect();
        let count = |c| kinds.iter().filter(|&&k| k == c).count();
        assert_eq!(count(Change::Readiness), 10);
        assert_eq!(count(Change::Label), 10);
        assert_eq!(count(Change::Restart), 80);
    }
}
