//! Carries out a drain planned by [`crate::ops::drain`]: cordon, list the node's pods, evict
//! them through the policy/v1 Eviction API, describe a refusing budget once, retry, wait.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};
use kube::core::SelectorExt;
use serde_json::Value;

use super::{api_code, api_error, writes};
use crate::model::labels::Selector;
use crate::ops::ActionError;
use crate::ops::drain::{
    BudgetFacts, DaemonSetLookup, DrainEvent, DrainOptions, DrainOutcome, DrainPlan, DrainProgress,
    GuardedPod, LastReplica, PlannedPod, PodRef, controller_of, describe_groups, eviction_body,
    finished, humantime, last_replica_refusal, last_replicas, pdb_from_cause, plan_drain,
    workload_of,
};

/// Reads a budget and the pods it selects; `None` when it cannot be read (the refusal is
/// reported all the same).
async fn budget_facts(client: &kube::Client, namespace: &str, name: &str) -> Option<BudgetFacts> {
    let pdb = Api::<PodDisruptionBudget>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| tracing::debug!(error = %e, "reading the refusing budget"))
        .ok()?;
    let spec = pdb.spec.unwrap_or_default();
    let status = pdb.status.unwrap_or_default();
    let int_or = |v: Option<IntOrString>| {
        v.map(|v| match v {
            IntOrString::Int(i) => i.to_string(),
            IntOrString::String(s) => s,
        })
    };
    // The model's reading of a selector: none (or one the API would refuse) selects nothing
    // (policy/v1); an empty one selects every pod.
    let selector = crate::model::project::selector(
        spec.selector.as_ref(),
        &mut crate::model::intern::Interner::default(),
    );
    let (selector, pods) = match &selector {
        Selector::Nothing => ("nothing".to_string(), Vec::new()),
        Selector::Requirements(requirements) => {
            let text = if requirements.is_empty() {
                String::new()
            } else {
                selector.to_query()
            };
            let pods = Api::<Pod>::namespaced(client.clone(), namespace)
                .list(&ListParams::default().labels(&text))
                .await
                .map_err(|e| tracing::debug!(error = %e, "listing the budget's pods"))
                .ok()?;
            let mut pods: Vec<(String, String)> = pods
                .items
                .into_iter()
                .map(|p| {
                    (
                        p.metadata.name.unwrap_or_default(),
                        p.spec.and_then(|s| s.node_name).unwrap_or_default(),
                    )
                })
                .collect();
            pods.sort();
            (text, pods)
        }
    };
    Some(BudgetFacts {
        namespace: namespace.to_string(),
        name: name.to_string(),
        disruptions_allowed: status.disruptions_allowed.unwrap_or(0),
        min_available: int_or(spec.min_available),
        max_unavailable: int_or(spec.max_unavailable),
        current_healthy: status.current_healthy.unwrap_or(0),
        desired_healthy: status.desired_healthy.unwrap_or(0),
        selector,
        pods,
    })
}

async fn evict(client: &kube::Client, pod: &PodRef, dry_run: bool) -> Result<(), kube::Error> {
    let mut url = crate::cluster::path::api_path(&[
        "api",
        "v1",
        "namespaces",
        &pod.namespace,
        "pods",
        &pod.name,
        "eviction",
    ])
    .map_err(|e| kube::Error::BuildRequest(kube::core::request::Error::Validation(e)))?;
    if dry_run {
        url.push_str("?dryRun=All");
    }
    let body = serde_json::to_vec(&eviction_body(pod, dry_run)).map_err(kube::Error::SerdeError)?;
    let req = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(kube::Error::HttpError)?;
    client.request::<Value>(req).await.map(|_| ())
}

struct Shared<'a> {
    progress: Mutex<DrainProgress>,
    /// The budgets already described (`namespace/name`).
    described: Mutex<BTreeSet<String>>,
    report: &'a (dyn Fn(DrainEvent) + Send + Sync),
}

impl Shared<'_> {
    fn update(&self, change: impl FnOnce(&mut DrainProgress)) {
        let snapshot = match self.progress.lock() {
            Ok(mut p) => {
                change(&mut p);
                p.clone()
            }
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        (self.report)(DrainEvent::Progress(snapshot));
    }

    fn snapshot(&self) -> DrainProgress {
        match self.progress.lock() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Evicts one pod, retrying while a PDB refuses, then waits until it is gone.
async fn evict_one(
    client: &kube::Client,
    planned: &PlannedPod,
    opts: &DrainOptions,
    shared: &Shared<'_>,
) -> Result<(), ActionError> {
    let pod = &planned.pod;
    (shared.report)(DrainEvent::Evicting(pod.clone()));
    loop {
        match evict(client, pod, opts.dry_run).await {
            Ok(()) => break,
            Err(e) if api_code(&e) == Some(404) => break,
            Err(kube::Error::Api(status)) if status.code == 429 => {
                let cause = status
                    .details
                    .as_ref()
                    .and_then(|d| d.causes.iter().find(|c| !c.message.is_empty()))
                    .map(|c| c.message.clone());
                let pdb = cause.as_deref().and_then(pdb_from_cause);
                let retry_in = (!opts.dry_run).then_some(opts.retry_interval);
                (shared.report)(DrainEvent::Refused {
                    pod: pod.clone(),
                    pdb: pdb.clone(),
                    message: status.message.clone(),
                    cause: cause.clone(),
                    retry_in,
                });
                shared.update(|p| {
                    p.blocked.insert(pod.clone(), pdb.clone());
                });
                if let Some(name) = &pdb {
                    let first = shared
                        .described
                        .lock()
                        .map(|mut d| d.insert(format!("{}/{name}", pod.namespace)))
                        .unwrap_or(false);
                    if first && let Some(facts) = budget_facts(client, &pod.namespace, name).await {
                        (shared.report)(DrainEvent::Budget(facts));
                    }
                }
                if opts.dry_run {
                    return Err(ActionError::Api(format!(
                        "evicting pod {pod} would be refused: {}{}",
                        status.message,
                        cause.map(|c| format!(" ({c})")).unwrap_or_default()
                    )));
                }
                tokio::time::sleep(opts.retry_interval).await;
            }
            Err(e) => return Err(api_error(&format!("evicting pod {pod}"), &e)),
        }
    }
    if !opts.dry_run {
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
        loop {
            match api.get_opt(&pod.name).await {
                Ok(None) => break,
                Ok(Some(p)) if p.metadata.uid != planned.uid => break,
                Ok(Some(_)) => tokio::time::sleep(opts.poll_interval).await,
                Err(e) => {
                    return Err(api_error(
                        &format!("waiting for pod {pod} to be deleted"),
                        &e,
                    ));
                }
            }
        }
    }
    shared.update(|p| {
        p.blocked.remove(pod);
        p.evicted += 1;
    });
    (shared.report)(DrainEvent::Evicted(pod.clone()));
    Ok(())
}

/// The pods bound to `node`; `left` says what the node is left as when that fails.
pub(super) async fn list_pods(
    client: &kube::Client,
    node: &str,
    left: &str,
) -> Result<Vec<Pod>, ActionError> {
    Api::<Pod>::all(client.clone())
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .map(|l| l.items)
        .map_err(|e| {
            ActionError::Api(format!(
                "listing the pods of node/{node}: {}{left}",
                super::super::describe(&e)
            ))
        })
}

pub(super) async fn look_up_daemon_sets(
    client: &kube::Client,
    pods: &[Pod],
) -> BTreeMap<(String, String), DaemonSetLookup> {
    let wanted: BTreeSet<(String, String)> = pods
        .iter()
        .filter(|p| !finished(p))
        .filter_map(|p| match controller_of(p) {
            Some(("DaemonSet", name)) => Some((
                p.metadata.namespace.clone().unwrap_or_default(),
                name.to_string(),
            )),
            _ => None,
        })
        .collect();
    let mut out = BTreeMap::new();
    for (ns, name) in wanted {
        let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
        let found = match api.get_opt(&name).await {
            Ok(Some(_)) => DaemonSetLookup::Exists,
            Ok(None) => DaemonSetLookup::NotFound(format!(
                "daemonsets.apps \"{name}\" not found (its pods are orphans; --force deletes them)"
            )),
            Err(e) => DaemonSetLookup::Failed(super::super::describe(&e)),
        };
        out.insert((ns, name), found);
    }
    out
}

/// The mesh guard, read live: the workloads whose every ready replica not on a cordoned
/// node runs on `node` among the pods the drain would evict. What cannot be read counts as
/// no replica elsewhere, so a guard that cannot see refuses rather than lets go.
pub(super) async fn last_replicas_live(
    client: &kube::Client,
    node: &str,
    pods: &[Pod],
    plan: &DrainPlan,
    budgets_hold: bool,
) -> Vec<LastReplica> {
    let evicted: BTreeSet<&PodRef> = plan.to_evict().iter().map(|p| &p.pod).collect();
    let mut owners: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    let mut refusing: BTreeMap<String, Vec<kube::core::Selector>> = BTreeMap::new();
    let mut guarded = Vec::new();
    for pod in pods {
        let r = PodRef {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
        };
        if !evicted.contains(&r) {
            continue;
        }
        let workload = workload_live(client, pod, &mut owners).await;
        // One list of budgets per namespace, however many of its pods the node runs.
        if !refusing.contains_key(&r.namespace) {
            let selectors = refusing_budgets(client, &r.namespace).await;
            refusing.insert(r.namespace.clone(), selectors);
        }
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let protected = budgets_hold
            && refusing
                .get(&r.namespace)
                .is_some_and(|sels| sels.iter().any(|s| s.matches(&labels)));
        guarded.push(GuardedPod {
            namespace: r.namespace,
            workload,
            ready: pod_ready(pod),
            protected,
        });
    }
    if guarded.iter().all(|p| p.workload.is_none() || !p.ready) {
        return Vec::new();
    }
    let cordoned: Option<BTreeSet<String>> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .ok()
        .map(|l| {
            l.items
                .into_iter()
                .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
                .filter_map(|n| n.metadata.name)
                .collect()
        });
    let mut elsewhere: BTreeMap<(String, String), Option<u32>> = BTreeMap::new();
    for p in &guarded {
        let (Some(w), true) = (&p.workload, p.ready) else {
            continue;
        };
        let key = (p.namespace.clone(), w.clone());
        if elsewhere.contains_key(&key) {
            continue;
        }
        let count = match &cordoned {
            Some(cordoned) => ready_elsewhere(client, &p.namespace, w, node, cordoned).await,
            None => None,
        };
        elsewhere.insert(key, count);
    }
    last_replicas(&guarded, |ns, w| {
        elsewhere
            .get(&(ns.to_string(), w.to_string()))
            .copied()
            .flatten()
    })
}

/// The workload a pod counts for, read live (`owners` keeps each ReplicaSet's Deployment).
pub(super) async fn workload_live(
    client: &kube::Client,
    pod: &Pod,
    owners: &mut BTreeMap<(String, String), Option<String>>,
) -> Option<String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let controller = controller_of(pod);
    if let Some(("ReplicaSet", rs)) = controller {
        let key = (namespace.clone(), rs.to_string());
        if let std::collections::btree_map::Entry::Vacant(slot) = owners.entry(key) {
            let owner = Api::<ReplicaSet>::namespaced(client.clone(), &namespace)
                .get_opt(rs)
                .await
                .ok()
                .flatten()
                .and_then(|rs| {
                    rs.metadata
                        .owner_references?
                        .into_iter()
                        .find(|o| o.controller == Some(true) && o.kind == "Deployment")
                })
                .map(|o| o.name);
            slot.insert(owner);
        }
    }
    workload_of(controller, |rs| {
        owners
            .get(&(namespace.clone(), rs.to_string()))
            .cloned()
            .flatten()
    })
}

/// The selectors of a namespace's PodDisruptionBudgets that allow no disruption now: a pod
/// they select is held by its budget. Unknown (the budgets cannot be read) is none: the
/// guard then looks at the replicas.
async fn refusing_budgets(client: &kube::Client, namespace: &str) -> Vec<kube::core::Selector> {
    let Ok(budgets) = Api::<PodDisruptionBudget>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
    else {
        return Vec::new();
    };
    budgets
        .items
        .into_iter()
        .filter(|b| {
            b.status
                .as_ref()
                .and_then(|s| s.disruptions_allowed)
                .unwrap_or(0)
                <= 0
        })
        .filter_map(|b| kube::core::Selector::try_from(b.spec?.selector?).ok())
        .filter(|s| !s.selects_all())
        .collect()
}

/// A workload's ready pods on schedulable nodes other than `node`; `None` when unknown.
pub(super) async fn ready_elsewhere(
    client: &kube::Client,
    namespace: &str,
    workload: &str,
    node: &str,
    cordoned: &BTreeSet<String>,
) -> Option<u32> {
    let (kind, name) = workload.split_once('/')?;
    let selector = match kind {
        "deployment.apps" => {
            Api::<Deployment>::namespaced(client.clone(), namespace)
                .get(name)
                .await
                .ok()?
                .spec
                .selector
        }
        "statefulset.apps" => {
            Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .get(name)
                .await
                .ok()?
                .spec
                .selector
        }
        "replicaset.apps" => {
            Api::<ReplicaSet>::namespaced(client.clone(), namespace)
                .get(name)
                .await
                .ok()?
                .spec
                .selector
        }
        _ => return None,
    };
    let selector = kube::core::Selector::try_from(selector).ok()?;
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels_from(&selector))
        .await
        .ok()?;
    let count = pods
        .items
        .iter()
        .filter(|p| pod_ready(p))
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| n != node && !cordoned.contains(n))
        })
        .count();
    u32::try_from(count).ok()
}

pub(super) fn pod_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Drains `node`; see the module's rules. Errors after the cordon say the node stays
/// cordoned.
pub async fn run(
    client: &kube::Client,
    node: &str,
    opts: &DrainOptions,
    report: &(dyn Fn(DrainEvent) + Send + Sync),
) -> Result<DrainOutcome, ActionError> {
    // The mesh guard comes before the cordon: a drain it refuses changes nothing.
    let before = list_pods(client, node, "").await?;
    let daemon_sets = look_up_daemon_sets(client, &before).await;
    let last = last_replicas_live(
        client,
        node,
        &before,
        &plan_drain(&before, opts, &daemon_sets),
        true,
    )
    .await;
    if !last.is_empty() {
        if !opts.evict_last_replica {
            return Err(ActionError::Refused(last_replica_refusal(node, &last)));
        }
        report(DrainEvent::LastReplicas(last));
    }
    let cordoned = writes::set_unschedulable(client, node, true, opts.dry_run).await?;
    report(DrainEvent::Cordoned {
        node: node.to_string(),
        already: !cordoned,
    });
    let left = if opts.dry_run {
        String::new()
    } else {
        format!("; node/{node} remains cordoned")
    };
    let listed = list_pods(client, node, &left).await?;
    let daemon_sets = look_up_daemon_sets(client, &listed).await;
    let plan = plan_drain(&listed, opts, &daemon_sets);
    report(DrainEvent::Planned(plan.clone()));
    let errors = plan.errors();
    if !errors.is_empty() {
        return Err(ActionError::Refused(format!(
            "unable to drain node \"{node}\": {}{left}",
            describe_groups(&errors)
        )));
    }
    let to_evict = plan.to_evict();
    let shared = Shared {
        progress: Mutex::new(DrainProgress {
            total: to_evict.len(),
            ..DrainProgress::default()
        }),
        described: Mutex::new(BTreeSet::new()),
        report,
    };
    shared.update(|_| {});
    let all = join_all(to_evict.iter().map(|p| evict_one(client, p, opts, &shared)));
    let aborted = aborted(opts.abort.clone());
    let outcome = tokio::select! {
        r = tokio::time::timeout(opts.timeout, all) => Some(r),
        () = aborted => None,
    };
    let Some(outcome) = outcome else {
        let p = shared.snapshot();
        return Err(ActionError::Aborted(format!(
            "drain of node/{node} aborted: {} of {} pod(s) evicted{left}",
            p.evicted, p.total
        )));
    };
    let results = match outcome {
        Ok(results) => results,
        Err(_) => {
            let p = shared.snapshot();
            let mut blocked: Vec<String> = p
                .blocked
                .iter()
                .map(|(pod, pdb)| match pdb {
                    Some(pdb) => format!("{pod} (refused by poddisruptionbudget {pdb})"),
                    None => pod.to_string(),
                })
                .collect();
            if blocked.is_empty() {
                blocked.push("pods not yet gone".to_string());
            }
            return Err(ActionError::TimedOut(format!(
                "drain of node/{node} timed out after {}: {} of {} pod(s) not evicted: {}{left}",
                humantime(opts.timeout),
                p.remaining(),
                p.total,
                blocked.join(", ")
            )));
        }
    };
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    if !failures.is_empty() {
        return Err(ActionError::Api(format!(
            "unable to drain node \"{node}\": {}{left}",
            failures.join("; ")
        )));
    }
    Ok(DrainOutcome {
        evicted: to_evict.iter().map(|p| p.pod.clone()).collect(),
        plan,
        cordoned,
    })
}

/// Resolves when the abort signal turns `true`; never without one (or once its sender is
/// gone without aborting).
pub(super) async fn aborted(abort: Option<tokio::sync::watch::Receiver<bool>>) {
    match abort {
        Some(mut rx) => {
            if rx.wait_for(|a| *a).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
