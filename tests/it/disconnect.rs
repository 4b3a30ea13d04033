//! The API server goes away: the watches fail, the model says since when, and the TUI's
//! header carries the banner over the rows it last saw.

use std::time::Duration;

use meshtop::cluster::{self, WatchOptions};
use meshtop::model::{Kind, Model, SourceState};
use tokio::sync::mpsc;

use crate::common::{harness, tui};

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_told_as_disconnected_since_then() {
    let sandbox = harness::start_file("assets/scenarios/small.yaml")
        .await
        .expect("sandbox");
    let conn = harness::connection(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("connect");
    let (tx, mut rx) = mpsc::channel(4096);
    let _watchers = cluster::spawn_watchers(&conn, WatchOptions::default(), tx);
    let mut model = Model::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut next = async |model: &mut Model, what: &str| {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("watchers running");
        model.apply(ev);
    };
    while model.sources().get(&Kind::Node) != Some(&SourceState::Ready) {
        next(&mut model, "nodes listed").await;
    }
    assert_eq!(model.disconnected(), None);
    let nodes = model.node_count();
    assert!(nodes > 0);

    sandbox.stop();
    while model.disconnected().is_none() {
        next(&mut model, "a core source in error").await;
    }
    let (since, why) = model.disconnected().expect("disconnected");
    assert!(!why.is_empty());
    // The rows stay, as last seen.
    assert_eq!(model.node_count(), nodes);

    let ui = tui::new_ui();
    let header = meshtop::ui::Header {
        context: "meshtop-sandbox".into(),
        server: sandbox.url(),
        namespace: None,
        readonly: false,
    };
    let screen = tui::render(&ui, &model, &header, jiff::Timestamp::now(), 120, 30);
    let second = screen.lines().nth(1).unwrap_or_default();
    assert!(
        second.starts_with(&format!(
            " DISCONNECTED since {} ",
            meshtop::ui::chrome::clock_time(since)
        )),
        "{second}"
    );
    assert!(second.contains("every row is as last seen"), "{second}");
}
