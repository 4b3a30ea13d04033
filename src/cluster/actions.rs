//! Action executors: every write meshtop makes to a cluster. Each action validates its input
//! first (names too: the TUI's requests come here without the CLI's checks), is refused by `--readonly` before any request, supports a server-side dry run
//! (`dryRun=All` on the very same requests) and appends one line to the audit log.
//!
//! The requests go through a client without kube's retries of 429 and 503: a refused
//! eviction is a PDB speaking, and the drain reports it and retries on its own schedule
//! instead of kube retrying silently.

pub mod audit;
pub mod drain;
pub mod install;
pub mod rollout;
pub mod run;
pub mod tag;
pub mod uninstall;
pub mod upgrade;
pub mod writes;

use std::future::Future;

pub use audit::{AuditLog, AuditRecord, default_audit_log};
pub use install::InstallOutcome;
pub use run::{RunOptions, run};

use super::Connection;
pub use crate::ops::ActionError;
use crate::ops::drain::{DrainEvent, DrainOptions, DrainOutcome};
use crate::ops::install::InstallPlan;
use crate::ops::label::{
    LabelOutcome, NamespaceLabelOutcome, parse_label_change, validate_revision,
};
use crate::ops::names;
use crate::ops::pdb::PdbTarget;
use crate::ops::workload::WorkloadRef;

/// meshtop's field manager on every write.
pub const FIELD_MANAGER: &str = "meshtop";

/// An API error in the server's own words, with what was being done.
pub(crate) fn api_error(doing: &str, err: &kube::Error) -> ActionError {
    ActionError::Api(format!("{doing}: {}", super::describe(err)))
}

/// The HTTP status of an API error, if it is one.
pub(crate) fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Runs actions against one cluster: the readonly guard and the audit log around each.
#[derive(Clone)]
pub struct Executor {
    pub(crate) client: kube::Client,
    readonly: bool,
    audit: Option<AuditLog>,
    context: String,
    user: String,
    /// helm, to uninstall a revision Helm installed.
    helm: Option<HelmProgram>,
}

/// helm on PATH with the flags that point it at the executor's cluster (`--kubeconfig`,
/// `--kube-context`), and the private kubeconfig it reads when that exists only in memory.
#[derive(Debug, Clone)]
pub struct HelmProgram {
    pub binary: std::path::PathBuf,
    pub args: Vec<String>,
    pub kubeconfig: Option<crate::ops::install::PrivateFile>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("readonly", &self.readonly)
            .field("audit", &self.audit)
            .field("context", &self.context)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The audit line of an action on its way: written when it ends, or, should it be dropped
/// first, as interrupted.
struct PendingAudit<'a> {
    executor: &'a Executor,
    action: &'a str,
    target: &'a str,
    dry_run: bool,
    started: jiff::Timestamp,
    done: bool,
    consent: Vec<String>,
}

/// What an interrupted action's audit line says.
pub const INTERRUPTED: &str =
    "interrupted: meshtop stopped before the action finished; what it did stays done";

impl PendingAudit<'_> {
    fn write(&self, result: Result<(), String>) -> Result<(), String> {
        let Some(log) = &self.executor.audit else {
            return Ok(());
        };
        let mut record = AuditRecord::since(
            self.started,
            &self.executor.context,
            &self.executor.user,
            self.action,
            self.target,
            self.dry_run,
            result,
        );
        record.consent = self.consent.clone();
        log.append(&record)
    }
}

impl Drop for PendingAudit<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.write(Err(INTERRUPTED.to_string()))
        {
            tracing::warn!(error = %e, "cannot write the audit line of an interrupted action");
        }
    }
}

impl Executor {
    /// An executor on the connection's client without retries; `audit: None` writes no log.
    pub fn new(connection: &Connection, readonly: bool, audit: Option<AuditLog>) -> Self {
        Self {
            client: connection.poll_client.clone(),
            readonly,
            audit,
            context: connection.context.clone(),
            user: connection.user.clone(),
            helm: None,
        }
    }

    /// The executor with helm to run for releases it uninstalls.
    pub fn with_helm(mut self, helm: Option<HelmProgram>) -> Self {
        self.helm = helm;
        self
    }

    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// Refuses under `--readonly`, before anything is sent.
    fn guard(&self, action: &str, target: &str) -> Result<(), ActionError> {
        if self.readonly {
            return Err(ActionError::Readonly {
                action: action.to_string(),
                target: target.to_string(),
            });
        }
        Ok(())
    }

    /// Runs one action that passed validation and the readonly guard, and audits its result.
    /// An action stopped before it ends (meshtop quit, Ctrl-C) is audited as interrupted
    /// when its future is dropped.
    async fn audited<T>(
        &self,
        action: &str,
        target: &str,
        dry_run: bool,
        run: impl Future<Output = Result<T, ActionError>>,
    ) -> Result<T, ActionError> {
        self.audited_as(action, target, dry_run, Vec::new(), run, |_| None)
            .await
    }

    /// [`Executor::audited`], where `failed` may say an `Ok` outcome is not a success (an
    /// install that only saved files).
    async fn audited_as<T>(
        &self,
        action: &str,
        target: &str,
        dry_run: bool,
        consent: Vec<String>,
        run: impl Future<Output = Result<T, ActionError>>,
        failed: impl FnOnce(&T) -> Option<String>,
    ) -> Result<T, ActionError> {
        let mut pending = PendingAudit {
            executor: self,
            action,
            target,
            dry_run,
            started: jiff::Timestamp::now(),
            done: false,
            consent,
        };
        let result = run.await;
        pending.done = true;
        let said = match &result {
            Ok(t) => failed(t).map_or(Ok(()), Err),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = pending.write(said) {
            // Never silent: the action's outcome carries it (the log was checked
            // writable before anything was sent, so this is rare: a full disk, say).
            tracing::warn!(error = %e, "cannot write the audit log");
            let outcome = match &result {
                Ok(_) => "it was done".to_string(),
                Err(err) => format!("it failed: {err}"),
            };
            return Err(ActionError::Unaudited(format!(
                "{action} {target}{}: {outcome}, but its audit line was not written: {e}",
                if dry_run { " (server dry run)" } else { "" }
            )));
        }
        result
    }

    /// Marks a node unschedulable (`kubectl cordon`). `Ok(false)`: it already was.
    pub async fn cordon(&self, node: &str, dry_run: bool) -> Result<bool, ActionError> {
        names::node(node)?;
        let target = format!("node/{node}");
        self.guard("cordon", &target)?;
        self.audited(
            "cordon",
            &target,
            dry_run,
            writes::set_unschedulable(&self.client, node, true, dry_run),
        )
        .await
    }

    /// Marks a node schedulable again (`kubectl uncordon`). `Ok(false)`: it already was.
    pub async fn uncordon(&self, node: &str, dry_run: bool) -> Result<bool, ActionError> {
        names::node(node)?;
        let target = format!("node/{node}");
        self.guard("uncordon", &target)?;
        self.audited(
            "uncordon",
            &target,
            dry_run,
            writes::set_unschedulable(&self.client, node, false, dry_run),
        )
        .await
    }

    /// Adds, changes (`KEY=VALUE`) or removes (`KEY-`) a node label; the syntax is checked
    /// before anything is sent.
    pub async fn label_node(
        &self,
        node: &str,
        change: &str,
        dry_run: bool,
    ) -> Result<LabelOutcome, ActionError> {
        names::node(node)?;
        let change = parse_label_change(change)?;
        let target = format!("node/{node}");
        self.guard("label", &target)?;
        self.audited(
            &format!("label {}", change.text()),
            &target,
            dry_run,
            writes::label_node(&self.client, node, &change, dry_run),
        )
        .await
    }

    /// Sets `istio.io/rev=REV` on a namespace, removes a conflicting `istio-injection`, and
    /// with `restart` rolls out every Deployment, StatefulSet and DaemonSet in it. `forced`:
    /// the user consented to it past a warning (see [`crate::ops::Request::consent`]); the
    /// audit line says so.
    pub async fn label_namespace(
        &self,
        namespace: &str,
        revision: &str,
        restart: bool,
        forced: bool,
        dry_run: bool,
    ) -> Result<NamespaceLabelOutcome, ActionError> {
        names::namespace(namespace)?;
        validate_revision(revision)?;
        let target = format!("namespace/{namespace}");
        self.guard("label", &target)?;
        let mut action = format!("label istio.io/rev={revision}");
        if restart {
            action.push_str(" and restart");
        }
        if forced {
            action.push_str(" (forced)");
        }
        self.audited(
            &action,
            &target,
            dry_run,
            writes::label_namespace(&self.client, namespace, revision, restart, dry_run),
        )
        .await
    }

    /// Relaxes a PDB so it allows disruptions, saving its spec on the object.
    pub async fn pdb_relax(&self, pdb: &str, dry_run: bool) -> Result<(), ActionError> {
        let t = PdbTarget::parse(pdb)?;
        let target = t.audit_target();
        self.guard("relax", &target)?;
        self.audited(
            "pdb relax",
            &target,
            dry_run,
            writes::pdb_relax(&self.client, &t, dry_run),
        )
        .await
    }

    /// Restores a relaxed PDB's saved spec and removes the saved copy. A budget changed since
    /// it was relaxed is left alone ([`ActionError::Conflict`]) unless `force`; the audit line
    /// says when the restore was forced.
    pub async fn pdb_restore(
        &self,
        pdb: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<(), ActionError> {
        let t = PdbTarget::parse(pdb)?;
        let target = t.audit_target();
        self.guard("restore", &target)?;
        self.audited(
            if force {
                "pdb restore (forced)"
            } else {
                "pdb restore"
            },
            &target,
            dry_run,
            writes::pdb_restore(&self.client, &t, force, dry_run),
        )
        .await
    }

    /// Runs an install plan's steps in order (see [`install`]): server-side apply with field
    /// manager `meshtop`, or istioctl, or files saved when neither is possible.
    pub async fn install(
        &self,
        plan: &InstallPlan,
        dry_run: bool,
    ) -> Result<InstallOutcome, ActionError> {
        let target = plan.audit_target();
        self.guard("install", &target)?;
        self.audited_as(
            &plan.audit_action(),
            &target,
            dry_run,
            Vec::new(),
            install::apply::run(&self.client, plan, dry_run),
            |out| out.not_installed(plan, dry_run),
        )
        .await
    }

    /// Sets a Deployment's or StatefulSet's replicas (`kubectl scale`); returns the replicas
    /// it had.
    pub async fn scale(
        &self,
        workload: &WorkloadRef,
        replicas: u32,
        dry_run: bool,
    ) -> Result<i32, ActionError> {
        workload.validate()?;
        workload.check_scalable()?;
        let target = workload.audit_target();
        self.guard("scale", &target)?;
        self.audited(
            &format!("scale --replicas={replicas}"),
            &target,
            dry_run,
            writes::scale(&self.client, workload, replicas, dry_run),
        )
        .await
    }

    /// Restarts one workload's pods (`kubectl rollout restart`).
    pub async fn restart(&self, workload: &WorkloadRef, dry_run: bool) -> Result<(), ActionError> {
        workload.validate()?;
        let target = workload.audit_target();
        self.guard("restart", &target)?;
        let at = jiff::Timestamp::now().to_string();
        self.audited(
            "rollout restart",
            &target,
            dry_run,
            writes::restart_workload(&self.client, workload, &at, dry_run),
        )
        .await
    }

    /// Points a revision tag at a revision as `istioctl tag set` does (see [`tag`]).
    pub async fn tag_set(
        &self,
        tag: &str,
        revision: &str,
        overwrite: bool,
        dry_run: bool,
    ) -> Result<tag::TagOutcome, ActionError> {
        crate::ops::tag::validate(tag, revision)?;
        let target = format!("revisiontag/{tag}");
        self.guard("tag set", &target)?;
        let action = if overwrite {
            format!("tag set --revision {revision} --overwrite")
        } else {
            format!("tag set --revision {revision}")
        };
        self.audited(
            &action,
            &target,
            dry_run,
            tag::set(&self.client, tag, revision, overwrite, dry_run),
        )
        .await
    }

    /// Enrolls a namespace in ambient mode (see [`crate::ops::ambient`]), and with `restart`
    /// restarts its workloads so their sidecars go.
    pub async fn enroll_ambient(
        &self,
        namespace: &str,
        waypoint: Option<&str>,
        restart: bool,
        dry_run: bool,
    ) -> Result<crate::ops::ambient::AmbientOutcome, ActionError> {
        crate::ops::ambient::validate(namespace, waypoint)?;
        let target = format!("namespace/{namespace}");
        self.guard("label", &target)?;
        let mut action = "label istio.io/dataplane-mode=ambient".to_string();
        if let Some(w) = waypoint {
            action.push_str(&format!(" istio.io/use-waypoint={w}"));
        }
        if restart {
            action.push_str(" and restart");
        }
        self.audited(
            &action,
            &target,
            dry_run,
            writes::enroll_ambient(&self.client, namespace, waypoint, restart, dry_run),
        )
        .await
    }

    /// Deletes one object of an uninstall; `Ok(false)`: it was not there.
    pub async fn delete(
        &self,
        target: &crate::ops::uninstall::DeleteTarget,
        dry_run: bool,
    ) -> Result<bool, ActionError> {
        let audit = target.audit_target();
        self.guard("delete", &audit)?;
        self.audited(
            "uninstall: delete",
            &audit,
            dry_run,
            uninstall::delete(&self.client, self.helm.as_ref(), target, dry_run),
        )
        .await
    }

    /// The Deployments, StatefulSets and DaemonSets of a namespace, read live.
    pub async fn workloads_in(&self, namespace: &str) -> Result<Vec<WorkloadRef>, ActionError> {
        names::namespace(namespace)?;
        writes::workloads_in(&self.client, namespace).await
    }

    /// Waits for restarted workloads to roll out (`kubectl rollout status`); read-only.
    pub async fn wait_rollouts(
        &self,
        namespace: &str,
        workloads: &[String],
        timeout: std::time::Duration,
        progress: &(dyn Fn(crate::ops::rollout::RolloutEvent) + Send + Sync),
    ) -> Result<(), ActionError> {
        names::namespace(namespace)?;
        rollout::wait(
            &self.client,
            namespace,
            workloads,
            timeout,
            std::time::Duration::from_secs(1),
            progress,
        )
        .await
    }

    /// Drains a node with kubectl's rules (see [`drain`]); `progress` hears each step.
    pub async fn drain(
        &self,
        node: &str,
        opts: &DrainOptions,
        progress: &(dyn Fn(DrainEvent) + Send + Sync),
    ) -> Result<DrainOutcome, ActionError> {
        names::node(node)?;
        let target = format!("node/{node}");
        self.guard("drain", &target)?;
        // The guard's consent is part of what the audit line says was done.
        let consent = if opts.evict_last_replica {
            vec!["evict-last-replica".to_string()]
        } else {
            Vec::new()
        };
        self.audited_as(
            "drain",
            &target,
            opts.dry_run,
            consent,
            drain::run(&self.client, node, opts, progress),
            |_| None,
        )
        .await
    }
}
