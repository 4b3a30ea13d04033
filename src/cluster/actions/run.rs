//! One way to carry out a request, for the TUI's task runner and the CLI alike: the executor's
//! calls in order, each step reported as an [`Event`], the end as an [`Outcome`].

use std::time::Duration;

use tokio::sync::watch;

use super::Executor;
use crate::ops::drain::{DrainEvent, DrainOptions};
use crate::ops::outcome::{Event, Outcome};
use crate::ops::rollout::RolloutEvent;
use crate::ops::{ActionError, Request};

/// How a request runs, beyond what it asks.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub dry_run: bool,
    /// How long a drain keeps retrying evictions a PDB refuses.
    pub drain_timeout: Duration,
    pub retry_interval: Duration,
    /// Becomes `true` when the user aborts: a drain stops between requests.
    pub abort: Option<watch::Receiver<bool>>,
    /// How long to follow the rollouts of a namespace's restart; zero: not at all.
    pub rollout_timeout: Duration,
    /// Changes when the user presses continue: a rolling upgrade waiting for it goes on.
    pub resume: Option<watch::Receiver<u64>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        let drain = DrainOptions::default();
        RunOptions {
            dry_run: false,
            drain_timeout: drain.timeout,
            retry_interval: drain.retry_interval,
            abort: None,
            rollout_timeout: Duration::from_secs(10 * 60),
            resume: None,
        }
    }
}

/// Carries out every request but an install (which has its own plan and checks).
pub async fn run(
    executor: &Executor,
    request: &Request,
    opts: &RunOptions,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, ActionError> {
    let dry_run = opts.dry_run;
    match request {
        Request::Drain {
            node,
            delete_emptydir_data,
            force,
            evict_last_replica,
        } => {
            let drain = DrainOptions {
                dry_run,
                timeout: opts.drain_timeout,
                delete_emptydir_data: *delete_emptydir_data,
                force: *force,
                evict_last_replica: *evict_last_replica,
                retry_interval: opts.retry_interval,
                abort: opts.abort.clone(),
                ..DrainOptions::default()
            };
            let on_drain = |e: DrainEvent| report(Event::Drain(e));
            let outcome = executor.drain(node, &drain, &on_drain).await?;
            Ok(Outcome::Drained {
                node: node.clone(),
                evicted: outcome.evicted.len(),
                stayed: outcome.plan.skipped().len(),
            })
        }
        Request::Cordon { node } | Request::Uncordon { node } => {
            let cordon = matches!(request, Request::Cordon { .. });
            let changed = if cordon {
                executor.cordon(node, dry_run).await?
            } else {
                executor.uncordon(node, dry_run).await?
            };
            Ok(Outcome::Cordoned {
                node: node.clone(),
                cordon,
                changed,
            })
        }
        Request::LabelNode { node, change } => {
            let out = executor.label_node(node, change, dry_run).await?;
            Ok(Outcome::NodeLabeled {
                node: node.clone(),
                verb: out.verb(),
            })
        }
        Request::LabelNamespace {
            namespace,
            revision,
            restart,
            force,
        } => {
            let out = executor
                .label_namespace(namespace, revision, *restart, *force, dry_run)
                .await?;
            let follow = follow_restarts(executor, namespace, &out.restarted, opts, report).await?;
            Ok(Outcome::NamespaceLabeled {
                namespace: namespace.clone(),
                revision: revision.clone(),
                labeled: out.labeled,
                removed_injection: out.removed_injection,
                removed_ambient: out.removed_ambient,
                restarted: restart.then_some((out.restarted.len(), follow)),
            })
        }
        Request::PdbRelax { namespace, name } => {
            executor
                .pdb_relax(&format!("{namespace}/{name}"), dry_run)
                .await?;
            Ok(Outcome::PdbRelaxed {
                namespace: namespace.clone(),
                name: name.clone(),
            })
        }
        Request::PdbRestore {
            namespace,
            name,
            force,
        } => {
            executor
                .pdb_restore(&format!("{namespace}/{name}"), *force, dry_run)
                .await?;
            Ok(Outcome::PdbRestored {
                namespace: namespace.clone(),
                name: name.clone(),
            })
        }
        Request::UpgradeNodes {
            nodes,
            wait_kubelet,
            pause,
            delete_emptydir_data,
        } => {
            let wait = super::upgrade::UpgradeWait {
                kubelet: wait_kubelet.clone(),
                pause: *pause,
                delete_emptydir_data: *delete_emptydir_data,
            };
            super::upgrade::run(executor, nodes, &wait, opts, report).await
        }
        Request::Scale { workload, replicas } => {
            let Some(replicas) = replicas else {
                return Err(ActionError::Invalid(format!(
                    "scale {workload}: no replicas given"
                )));
            };
            executor.scale(workload, *replicas, dry_run).await?;
            Ok(Outcome::Scaled {
                workload: workload.to_string(),
            })
        }
        Request::Restart { workload, wait } => {
            executor.restart(workload, dry_run).await?;
            let name = workload.to_string();
            let follow = *wait && !dry_run && !opts.rollout_timeout.is_zero();
            if follow {
                // Said before the wait, as kubectl says it; without the wait the outcome
                // says it.
                report(Event::Restarted(name.clone()));
                report(Event::RolloutStarted { total: 1 });
                let on_rollout = |e| report(Event::Rollout(e));
                executor
                    .wait_rollouts(
                        &workload.namespace,
                        std::slice::from_ref(&name),
                        opts.rollout_timeout,
                        &on_rollout,
                    )
                    .await?;
            }
            Ok(Outcome::Restarted {
                workload: name,
                rolled_out: follow,
            })
        }
        Request::Uninstall {
            revision,
            legacy,
            targets,
        } => {
            if targets.is_empty() {
                return Err(ActionError::Invalid(
                    "uninstall: no object to delete was read from the cluster".into(),
                ));
            }
            let (mut deleted, mut skipped) = (0, 0);
            for t in targets {
                let found = executor.delete(t, dry_run).await?;
                if found {
                    deleted += 1;
                } else {
                    skipped += 1;
                }
                report(Event::Deleted {
                    what: format!("{} {:?}", t.kind.resource(), t.name),
                    found,
                });
            }
            Ok(Outcome::Uninstalled {
                what: if *legacy {
                    "the legacy control plane".into()
                } else {
                    format!("revision {revision}")
                },
                deleted,
                skipped,
            })
        }
        Request::Ambient {
            namespace,
            waypoint,
            restart,
        } => {
            let out = executor
                .enroll_ambient(namespace, waypoint.as_deref(), *restart, dry_run)
                .await?;
            let follow = follow_restarts(executor, namespace, &out.restarted, opts, report).await?;
            Ok(Outcome::Enrolled {
                namespace: namespace.clone(),
                waypoint: waypoint.clone(),
                labeled: out.labeled,
                removed: out.removed,
                restarted: restart.then_some((out.restarted.len(), follow)),
            })
        }
        Request::TagSet {
            tag,
            revision,
            overwrite,
            restart,
        } => {
            let out = executor.tag_set(tag, revision, *overwrite, dry_run).await?;
            let restarted = if *restart {
                Some(restart_one_by_one(executor, &out.namespaces, opts, report).await?)
            } else {
                None
            };
            Ok(Outcome::TagSet {
                tag: tag.clone(),
                revision: revision.clone(),
                from: out.from,
                sail: out.sail,
                namespaces: out.namespaces.len(),
                validator: out.validator,
                restarted,
            })
        }
        Request::Install(_) => Err(ActionError::Invalid(
            "an install runs from its plan, not as a plain request".into(),
        )),
    }
}

/// Restarts every workload of the namespaces, one at a time, each followed to the end of its
/// rollout before the next (unless a dry run, or no wait is asked): a tag move's restart.
/// Returns how many were restarted and whether they were followed.
async fn restart_one_by_one(
    executor: &Executor,
    namespaces: &[String],
    opts: &RunOptions,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(usize, bool), ActionError> {
    let mut workloads = Vec::new();
    for ns in namespaces {
        workloads.extend(executor.workloads_in(ns).await?);
    }
    let follow = !opts.dry_run && !opts.rollout_timeout.is_zero();
    let total = workloads.len();
    if follow && total > 0 {
        report(Event::RolloutStarted { total });
    }
    for (i, w) in workloads.iter().enumerate() {
        executor.restart(w, opts.dry_run).await?;
        let name = w.to_string();
        report(Event::Restarted(name.clone()));
        if follow {
            let on_rollout = |e| {
                report(Event::Rollout(match e {
                    RolloutEvent::Done { workload, .. } => RolloutEvent::Done {
                        workload,
                        done: i + 1,
                        total,
                    },
                    waiting => waiting,
                }))
            };
            executor
                .wait_rollouts(
                    &w.namespace,
                    std::slice::from_ref(&name),
                    opts.rollout_timeout,
                    &on_rollout,
                )
                .await?;
        }
    }
    Ok((total, follow))
}

/// Reports a namespace's restarted workloads and follows their rollouts (unless a dry run or
/// no wait is asked); whether they were followed.
async fn follow_restarts(
    executor: &Executor,
    namespace: &str,
    restarted: &[String],
    opts: &RunOptions,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<bool, ActionError> {
    for w in restarted {
        report(Event::Restarted(w.clone()));
    }
    let follow = !opts.dry_run && !opts.rollout_timeout.is_zero() && !restarted.is_empty();
    if follow {
        report(Event::RolloutStarted {
            total: restarted.len(),
        });
        let on_rollout = |e| report(Event::Rollout(e));
        executor
            .wait_rollouts(namespace, restarted, opts.rollout_timeout, &on_rollout)
            .await?;
    }
    Ok(follow)
}
