//! The TUI's action flows end to end, without a terminal: keys into `Ui`, its commands into
//! the app's `TaskRunner`, the real executor and kube client against the sandbox on the
//! seed's cluster, watch events back into the `Model` and task updates back into the UI —
//! the same wiring as the event loop in `app.rs`.

use std::path::Path;
use std::time::Duration;

use crate::common::harness;
use crate::common::process::audit_lines;
use crate::common::tui::{self, press_key};
use crate::common::wait::eventually;
use crossterm::event::KeyCode;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use meshtop::app::tasks::TaskRunner;
use meshtop::cluster::actions::{AuditLog, Executor};
use meshtop::cluster::{self, Connection, WatchOptions};
use meshtop::model::{Model, SourceState, Stamped};
use meshtop::ui::action::{Task, TaskUpdate};
use meshtop::ui::{Command, Header, Ui};
use meshtop_sandbox::Sandbox;
use tokio::sync::mpsc;

const K1: &str = "assets/scenarios/k1-upgrade.yaml";

/// The loop of `app.rs`, stepped by the test.
struct Session {
    _sandbox: Sandbox,
    conn: Connection,
    model: Model,
    ui: Ui,
    events: mpsc::Receiver<Stamped>,
    _watchers: cluster::WatchHandle,
    runner: TaskRunner,
    updates: mpsc::UnboundedReceiver<TaskUpdate>,
    header: Header,
}

impl Session {
    async fn start(audit: &Path) -> Session {
        let (sandbox, conn) = harness::connected(K1).await;
        let (tx, events) = mpsc::channel(4096);
        let watchers = cluster::spawn_watchers(&conn, WatchOptions::default(), tx);
        let (task_tx, updates) = mpsc::unbounded_channel();
        let runner = TaskRunner::new(
            Executor::new(&conn, false, Some(AuditLog::new(audit))),
            task_tx,
        )
        .with_drain_timing(Duration::from_secs(90), Duration::from_millis(500));
        let header = Header {
            context: conn.context.clone(),
            server: conn.server.clone(),
            namespace: None,
            readonly: false,
        };
        let mut s = Session {
            _sandbox: sandbox,
            conn,
            model: Model::new(),
            ui: tui::new_ui(),
            events,
            _watchers: watchers,
            runner,
            updates,
            header,
        };
        s.until("the initial sync", |s| {
            s.model.sources().len() == meshtop::model::Kind::ALL.len()
                && s.model
                    .sources()
                    .values()
                    .all(|v| matches!(v, SourceState::Ready | SourceState::Absent))
        })
        .await;
        s
    }

    /// Applies what arrived, as the loop does between frames.
    fn pump(&mut self) {
        while let Ok(ev) = self.events.try_recv() {
            self.model.apply(ev);
        }
        self.runner.model_changed(&self.model);
        while let Ok(u) = self.updates.try_recv() {
            self.ui.on_task_update(u);
        }
    }

    /// Steps the loop until `done`, or panics naming `what` with the screen.
    async fn until(&mut self, what: &str, done: impl Fn(&Session) -> bool) {
        eventually(what, Duration::from_secs(60), || {
            self.pump();
            let seen = if done(self) {
                Ok(())
            } else {
                Err(self.screen())
            };
            async move { seen }
        })
        .await
    }

    /// Keys typed as text; each command goes where the loop sends it.
    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn key(&mut self, code: KeyCode) {
        for command in press_key(&mut self.ui, &self.model, code) {
            match command {
                Command::Run(run) => self.runner.run(run, &self.model),
                Command::Abort(id) => self.runner.abort(id),
                Command::Resume(id) => self.runner.resume(id),
                Command::ReadInstallFacts(id) => self.runner.read_install_facts(id, &self.model),
                Command::Edit(_) => panic!("no editor in this test"),
                Command::Quit => panic!("quit"),
                // Reads and the focus change nothing in the cluster.
                Command::Inspect { .. }
                | Command::ClosePane(_)
                | Command::Focus(_)
                | Command::SwitchContext(_) => {}
            }
        }
    }

    fn screen(&self) -> String {
        tui::render(
            &self.ui,
            &self.model,
            &self.header,
            Timestamp::now(),
            150,
            45,
        )
    }

    fn task(&self, title: &str) -> Option<&Task> {
        self.ui
            .state()
            .tasks
            .iter()
            .rev()
            .find(|t| t.request.title() == title)
    }

    /// Selects the row a filter leaves in a view (`6` Nodes, `5` Disruption, `7` Namespaces).
    /// Drains k1-node04 from the Nodes view until istio-galley's budget refuses an
    /// eviction; the drain's task title.
    async fn drain_node04_until_blocked(&mut self) -> &'static str {
        self.select("6", "node04");
        self.confirm("D", Some("k1-node04"));
        let first = "drain node/k1-node04";
        self.until("istio-galley's PDB to refuse", |s| {
            s.task(first)
                .and_then(|t| t.progress.as_ref())
                .is_some_and(|p| !p.blocked.is_empty())
        })
        .await;
        first
    }

    fn select(&mut self, view: &str, filter: &str) {
        self.key(KeyCode::Esc);
        self.keys(&format!("{view}/{filter}"));
        self.key(KeyCode::Enter);
    }

    /// Opens an action, goes past the preview and confirms it with `confirm` typed.
    fn confirm(&mut self, action_key: &str, confirm: Option<&str>) {
        self.keys(action_key);
        if action_key == "D" {
            // The demo's apps run one replica each: the mesh guard's consent (L).
            self.keys("L");
        }
        self.keys("y");
        match confirm {
            Some(name) => {
                self.keys(name);
                self.key(KeyCode::Enter);
            }
            None => self.keys("y"),
        }
    }

    async fn node(&self, name: &str) -> Node {
        harness::node(&self.conn, name).await
    }
}

fn finished_ok(t: Option<&Task>) -> bool {
    matches!(t.and_then(|t| t.result.as_ref()), Some(Ok(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_from_the_ui_is_blocked_by_istio_pilot_then_finishes_after_relief() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let mut s = Session::start(&log).await;
    let pilot_before: Vec<String> = s
        .model
        .pods_on_node("k1-node03")
        .iter()
        .filter(|p| p.name.starts_with("istio-pilot"))
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(
        pilot_before.len(),
        1,
        "the seed runs istio-pilot on k1-node03"
    );

    s.select("6", "node03");
    s.confirm("D", Some("k1-node03"));
    let drain = "drain node/k1-node03";
    s.until("the drain to be refused by istio-pilot's PDB", |s| {
        s.task(drain)
            .and_then(|t| t.progress.as_ref())
            .is_some_and(|p| {
                p.blocked
                    .iter()
                    .any(|b| b.pdb.as_deref() == Some("istio-pilot"))
                    && p.done + 1 == p.total
            })
    })
    .await;
    let screen = s.screen();
    assert!(
        screen.contains("1 blocked · 1 remaining · retry in"),
        "{screen}"
    );
    assert!(
        screen.contains("refused by PDB istio-pilot: allowed disruptions 0"),
        "{screen}"
    );
    assert!(harness::cordoned(&s.node("k1-node03").await));
    assert!(s.task(drain).is_some_and(Task::running));

    // Relief from the Disruption view, while the drain keeps retrying.
    s.select("5", "pilot");
    s.confirm("R", Some("istio-pilot"));
    s.until("the drain to finish", |s| finished_ok(s.task(drain)))
        .await;
    assert!(finished_ok(
        s.task("relax poddisruptionbudget/istio-system/istio-pilot")
    ));
    let summary = s.task(drain).and_then(|t| t.result.clone());
    assert_eq!(
        summary,
        Some(Ok(
            "node/k1-node03 drained: 4 pods evicted, 2 stayed (DaemonSet or mirror)".into()
        ))
    );
    // istio-pilot runs again, elsewhere.
    let pods: Vec<Pod> = Api::<Pod>::namespaced(s.conn.client.clone(), "istio-system")
        .list(&ListParams::default().labels("istio=pilot"))
        .await
        .expect("pods")
        .items;
    let nodes: Vec<String> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
        .collect();
    assert!(
        !nodes.is_empty() && nodes.iter().all(|n| n != "k1-node03"),
        "{nodes:?}"
    );

    // One key restores the saved spec.
    s.until("the model to see the PDB relaxed", |s| {
        s.model
            .pdb("istio-system", "istio-pilot")
            .is_some_and(|p| p.relaxed_from.is_some())
    })
    .await;
    // Its preview says what restoring does: istio-pilot's one pod, now on another node,
    // blocks that node's drain again.
    s.select("5", "pilot");
    s.keys("U");
    let again = format!(
        "it will allow no disruption (1 healthy, 1 needed): it blocks the drains of {} again",
        nodes[0]
    );
    s.until("the restore preview to name the drain it blocks", |s| {
        s.screen().contains(&again)
    })
    .await;
    s.key(KeyCode::Esc);
    s.select("5", "pilot");
    s.confirm("U", Some("istio-pilot"));
    s.until("the restore", |s| {
        finished_ok(s.task("restore poddisruptionbudget/istio-system/istio-pilot"))
    })
    .await;
    let pdb = Api::<PodDisruptionBudget>::namespaced(s.conn.client.clone(), "istio-system")
        .get("istio-pilot")
        .await
        .expect("pdb");
    let spec = pdb.spec.expect("spec");
    assert_eq!(
        spec.min_available,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
    );
    // The node stays cordoned until someone uncordons it: from the UI too.
    s.select("6", "node03");
    s.confirm("u", None);
    s.until("the uncordon", |s| {
        finished_ok(s.task("uncordon node/k1-node03"))
    })
    .await;
    assert!(!harness::cordoned(&s.node("k1-node03").await));

    let records = audit_lines(&log);
    let seen: Vec<(String, String, bool, String)> = records
        .iter()
        .map(|r| {
            let v = serde_json::to_value(r).expect("json");
            (
                v["action"].as_str().unwrap_or_default().to_string(),
                v["target"].as_str().unwrap_or_default().to_string(),
                v["dry_run"].as_bool().unwrap_or(true),
                v["result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let ok = |a: &str, t: &str| (a.to_string(), t.to_string(), false, "ok".to_string());
    assert_eq!(
        seen,
        vec![
            ok("pdb relax", "poddisruptionbudget/istio-system/istio-pilot"),
            ok("drain", "node/k1-node03"),
            ok(
                "pdb restore",
                "poddisruptionbudget/istio-system/istio-pilot"
            ),
            ok("uncordon", "node/k1-node03"),
        ]
    );
}

/// One drain at a time: while one waits on a budget, a second is refused before it is sent
/// (the guard counts the replicas each leaves; two at once could each take the other's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_drain_waits_for_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let mut s = Session::start(&log).await;
    let first = s.drain_node04_until_blocked().await;
    s.key(KeyCode::Esc);
    s.select("6", "node05");
    s.confirm("D", Some("k1-node05"));
    let screen = s.screen();
    assert!(
        screen.contains("refused: drain node/k1-node04 is still running; one drain at a time"),
        "{screen}"
    );
    assert!(s.task("drain node/k1-node05").is_none(), "not started");
    assert!(!harness::cordoned(&s.node("k1-node05").await));
    s.keys("A");
    s.until("the first drain to stop", |s| {
        s.task(first).is_some_and(|t| !t.running())
    })
    .await;
}

/// A rolling upgrade drains too: it waits for a running drain as a second drain does, so `A`
/// always knows which one to abort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_waits_for_a_running_drain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let mut s = Session::start(&log).await;
    let first = s.drain_node04_until_blocked().await;
    s.key(KeyCode::Esc);
    s.select("6", "node05");
    s.keys(" ");
    s.keys("W");
    s.keys("y");
    s.keys("k1-node05");
    s.key(KeyCode::Enter);
    let screen = s.screen();
    assert!(
        screen.contains("refused: drain node/k1-node04 is still running; one drain at a time"),
        "{screen}"
    );
    let titles: Vec<String> =
        s.ui.state()
            .tasks
            .iter()
            .map(|t| t.request.title())
            .collect();
    assert_eq!(titles, [first], "no upgrade started");
    assert!(!harness::cordoned(&s.node("k1-node05").await));
    s.keys("A");
    s.until("the drain to stop", |s| {
        s.task(first).is_some_and(|t| !t.running())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_a_blocked_drain_and_the_node_stays_cordoned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let mut s = Session::start(&log).await;
    s.select("6", "node04");
    s.confirm("D", Some("k1-node04"));
    let drain = "drain node/k1-node04";
    s.until("istio-galley's PDB to refuse", |s| {
        s.task(drain)
            .and_then(|t| t.progress.as_ref())
            .is_some_and(|p| {
                p.blocked
                    .iter()
                    .any(|b| b.pdb.as_deref() == Some("istio-galley"))
            })
    })
    .await;
    s.keys("A");
    s.until("the drain to stop", |s| {
        s.task(drain).is_some_and(|t| !t.running())
    })
    .await;
    let result = s.task(drain).and_then(|t| t.result.clone());
    let Some(Err(message)) = result else {
        panic!("an aborted drain is not a success: {result:?}");
    };
    assert!(
        message.contains("drain of node/k1-node04 aborted"),
        "{message}"
    );
    assert!(
        message.contains("node/k1-node04 remains cordoned"),
        "{message}"
    );
    assert!(harness::cordoned(&s.node("k1-node04").await));
    let screen = s.screen();
    assert!(
        screen.contains("✗ drain node/k1-node04: drain of node/k1-node04 aborted"),
        "{screen}"
    );
    let records = audit_lines(&log);
    assert_eq!(records.len(), 1);
    let v = serde_json::to_value(&records[0]).expect("json");
    assert!(
        v["result"].as_str().is_some_and(|r| r.contains("aborted")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_from_the_dialog_changes_nothing_and_cancel_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let mut s = Session::start(&log).await;
    s.select("6", "node05");
    s.keys("c");
    s.keys("d");
    s.until("the dry run's answer", |s| {
        matches!(
            &s.ui.state().mode,
            meshtop::ui::Mode::Dialog(d) if d.dry_run.as_ref().is_some_and(|t| !t.running())
        )
    })
    .await;
    let screen = s.screen();
    assert!(
        screen.contains("✓ node/k1-node05 cordoned (server dry run)"),
        "{screen}"
    );
    s.key(KeyCode::Esc);
    assert!(!harness::cordoned(&s.node("k1-node05").await));
    // The drain's dry run reports the PDB that would refuse, and changes nothing either.
    s.select("6", "node05");
    s.keys("D");
    s.keys("L");
    s.keys("d");
    s.until("the drain's dry run", |s| {
        matches!(
            &s.ui.state().mode,
            meshtop::ui::Mode::Dialog(d) if d.dry_run.as_ref().is_some_and(|t| !t.running())
        )
    })
    .await;
    let screen = s.screen();
    assert!(screen.contains("would be refused"), "{screen}");
    s.keys("n");
    assert!(!harness::cordoned(&s.node("k1-node05").await));
    let before = s.model.pods_on_node("k1-node05").len();
    s.pump();
    assert_eq!(s.model.pods_on_node("k1-node05").len(), before);
    let records = audit_lines(&log);
    assert_eq!(records.len(), 2, "each dry run is audited");
    for r in records {
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(v["dry_run"], true, "{v}");
    }
    assert!(
        s.ui.state().tasks.is_empty(),
        "dry runs stay in their dialog"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_with_restart_follows_each_rollout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let mut s = Session::start(&log).await;
    s.select("7", "legacy");
    s.keys("i");
    s.keys("1-9-1");
    s.key(KeyCode::Enter);
    s.keys("t");
    s.confirm("", None);
    let title = "label namespace/legacy-shop istio.io/rev=1-9-1";
    s.until("the relabel and rollouts", |s| finished_ok(s.task(title)))
        .await;
    let task = s.task(title).expect("task").clone();
    assert_eq!(
        task.result,
        Some(Ok(
            "namespace/legacy-shop labeled istio.io/rev=1-9-1, istio-injection=enabled removed; 2 workloads restarted and rolled out"
                .into()
        ))
    );
    for w in ["deployment.apps/inventory", "deployment.apps/storefront"] {
        assert!(
            task.lines
                .iter()
                .any(|l| *l == format!("{w} successfully rolled out")),
            "{:?}",
            task.lines
        );
    }
    let progress = task.progress.expect("progress");
    assert_eq!((progress.done, progress.total), (2, 2));
    s.until("the restarted pods to run 1-9-1 proxies", |s| {
        let pods = s.model.pods_in_namespace("legacy-shop");
        !pods.is_empty()
            && pods
                .iter()
                .filter(|p| p.status.as_ref() == "Running")
                .all(|p| p.injected_revision.as_deref() == Some("1-9-1"))
    })
    .await;
}

/// A budget edited after meshtop relaxed it: the restore preview says what changed and that
/// the restore is refused; confirmed as it is, the restore writes nothing; with `f` (force) it
/// overwrites the change, and the audit line says it was forced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_a_budget_changed_since_relief_is_refused_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let mut s = Session::start(&log).await;
    s.select("5", "pilot");
    s.confirm("R", Some("istio-pilot"));
    s.until("the relief", |s| {
        finished_ok(s.task("relax poddisruptionbudget/istio-system/istio-pilot"))
    })
    .await;
    let pdbs = Api::<PodDisruptionBudget>::namespaced(s.conn.client.clone(), "istio-system");
    // Someone raises the budget while it is relaxed.
    harness::set_min_available(&s.conn, "istio-system", "istio-pilot", 2).await;
    s.until("the model to see the edit", |s| {
        s.model.pdb("istio-system", "istio-pilot").is_some_and(|p| {
            p.relaxed_from.is_some()
                && p.min_available == Some(meshtop::model::summary::IntOrPercent::Int(2))
        })
    })
    .await;
    s.select("5", "pilot");
    s.keys("U");
    s.until("the preview to say the budget changed", |s| {
        s.screen()
            .contains("changed since meshtop relaxed it: minAvailable is 2 (relaxed to 0)")
            && s.screen()
                .contains("the restore is refused and writes nothing")
    })
    .await;
    s.keys("y");
    s.keys("istio-pilot");
    s.key(KeyCode::Enter);
    let title = "restore poddisruptionbudget/istio-system/istio-pilot";
    s.until("the refusal", |s| {
        matches!(s.task(title).and_then(|t| t.result.as_ref()), Some(Err(_)))
    })
    .await;
    let refusal = s
        .task(title)
        .and_then(|t| t.result.clone())
        .expect("a result")
        .expect_err("refused");
    assert!(
        refusal.contains("minAvailable is 2 (relaxed to 0)")
            && refusal.contains("nothing was written"),
        "{refusal}"
    );
    let kept = pdbs.get("istio-pilot").await.expect("pdb");
    assert_eq!(
        kept.spec.and_then(|s| s.min_available),
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(2)),
        "the edit stays"
    );

    s.select("5", "pilot");
    s.keys("U");
    s.keys("f");
    s.until("the preview to say the restore is forced", |s| {
        s.screen()
            .contains("forced (f): the restore overwrites that change")
    })
    .await;
    s.keys("y");
    s.keys("istio-pilot");
    s.key(KeyCode::Enter);
    s.until("the forced restore", |s| {
        s.ui.state()
            .tasks
            .iter()
            .filter(|t| t.request.title() == title)
            .any(|t| matches!(t.result, Some(Ok(_))))
    })
    .await;
    let restored = pdbs.get("istio-pilot").await.expect("pdb");
    assert_eq!(
        restored.spec.and_then(|s| s.min_available),
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
    );
    let actions: Vec<(String, bool)> = audit_lines(&log)
        .into_iter()
        .map(|r| (r.action, r.result == "ok"))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("pdb relax".to_string(), true),
            ("pdb restore".to_string(), false),
            ("pdb restore (forced)".to_string(), true),
        ]
    );
}
