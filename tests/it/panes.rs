//! The k9s keys on `TestBackend`: `y`, `d` and `l` open a pane on the selected row's object
//! and ask the app to read it; the pane shows what comes back, scrolls, and closes. The
//! answers are made of the seed's own objects with the product's text functions.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meshtop::ops::inspect::{Inspect, ObjectKind, ObjectRef, describe_text, yaml_text};
use meshtop::ui::pane::PaneUpdate;
use meshtop::ui::{Command, Mode, Ui};
use serde_json::{Value, json};

use crate::common::seed;
use crate::common::tui::{draw, new_ui, press, press_key};
use crate::ui_views::seed_model;

/// The scenario's document of that kind and name.
fn doc(kind: &str, name: &str) -> Value {
    seed::docs()
        .into_iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the seed"))
}

/// The one read the keys asked for.
fn read_asked(commands: &[Command]) -> (u64, Inspect) {
    match commands {
        [Command::Inspect { id, what }] => (*id, what.clone()),
        other => panic!("expected one read, got {other:?}"),
    }
}

/// The Nodes view with `name` selected.
fn on_node(ui: &mut Ui, name: &str) {
    let model = seed_model();
    press(ui, &model, &format!("6/{name}"));
    press_key(ui, &model, KeyCode::Enter);
}

#[test]
fn y_on_a_node_reads_its_yaml_and_folds_managed_fields() {
    let model = seed_model();
    let mut ui = new_ui();
    on_node(&mut ui, "k1-node03");
    let (id, what) = read_asked(&press(&mut ui, &model, "y"));
    assert_eq!(
        what,
        Inspect::Yaml(ObjectRef::new(ObjectKind::Node, None, "k1-node03"))
    );
    let reading = draw(&ui, &model, 80, 24);
    assert!(
        reading.contains("reading from the API server…"),
        "{reading}"
    );
    let mut node = doc("Node", "k1-node03");
    node["metadata"]["managedFields"] = json!([
        {"manager": "kubelet", "operation": "Update"},
        {"manager": "kube-controller-manager", "operation": "Update"},
        {"manager": "kubectl-label", "operation": "Update"},
        {"manager": "meshtop", "operation": "Apply"}
    ]);
    ui.on_pane_update(PaneUpdate::Text {
        id,
        text: yaml_text(&node),
    });
    insta::assert_snapshot!("yaml_node_80x24", draw(&ui, &model, 80, 24));
    insta::assert_snapshot!("yaml_node_100x30", draw(&ui, &model, 100, 30));
    // Ctrl-d moves half a page (of the frame last drawn); G the end; g the top; esc
    // closes and stops the read.
    draw(&ui, &model, 80, 24);
    let ctrl_d = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL);
    assert!(ui.on_key(ctrl_d, &model).is_empty());
    let half = draw(&ui, &model, 80, 24);
    assert!(half.contains("rows 10-"), "{half}");
    press(&mut ui, &model, "G");
    let end = draw(&ui, &model, 80, 24);
    // The last row shown is the last there is.
    let (shown, total) = rows_shown(&end);
    assert_eq!(shown, total, "{end}");
    assert!(total >= node_yaml_lines(&node), "{end}");
    press(&mut ui, &model, "g");
    assert_eq!(rows_shown(&draw(&ui, &model, 80, 24)).0, 18);
    assert_eq!(
        press_key(&mut ui, &model, KeyCode::Esc),
        vec![Command::ClosePane(id)]
    );
    assert_eq!(ui.state().mode, Mode::Normal);
}

/// `(last row shown, rows in all)` from the pane's `rows 1-18 of 86` line.
fn rows_shown(screen: &str) -> (usize, usize) {
    let line = screen
        .lines()
        .find_map(|l| l.split("rows ").nth(1))
        .unwrap_or_else(|| panic!("no rows line:\n{screen}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let last = words[0].split('-').nth(1).and_then(|n| n.parse().ok());
    let total = words[2].parse().ok();
    match (last, total) {
        (Some(l), Some(t)) => (l, t),
        _ => panic!("unreadable rows line:\n{screen}"),
    }
}

fn node_yaml_lines(node: &Value) -> usize {
    yaml_text(node).lines().count()
}

#[test]
fn d_on_a_pdb_describes_it_with_its_events() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "5/istio-ingressgateway");
    press_key(&mut ui, &model, KeyCode::Enter);
    let (id, what) = read_asked(&press(&mut ui, &model, "d"));
    assert_eq!(
        what,
        Inspect::Describe(ObjectRef::new(
            ObjectKind::Pdb,
            Some("istio-system"),
            "istio-ingressgateway"
        ))
    );
    let pdb = doc("PodDisruptionBudget", "istio-ingressgateway");
    let events: Vec<Value> = seed::docs()
        .into_iter()
        .filter(|d| {
            d["kind"] == "Event"
                && d["involvedObject"]["kind"] == "PodDisruptionBudget"
                && d["involvedObject"]["name"] == "istio-ingressgateway"
        })
        .collect();
    assert_eq!(events.len(), 1);
    ui.on_pane_update(PaneUpdate::Text {
        id,
        text: describe_text(&pdb, Ok(&events), seed::now()),
    });
    // The events are at the end: where G goes.
    press(&mut ui, &model, "G");
    insta::assert_snapshot!("describe_pdb_80x24", draw(&ui, &model, 80, 24));
    insta::assert_snapshot!("describe_pdb_100x30", draw(&ui, &model, 100, 30));
    // An answer for another pane is not this one's.
    ui.on_pane_update(PaneUpdate::Failed {
        id: id + 1,
        why: "404 NotFound".into(),
    });
    assert!(!draw(&ui, &model, 80, 24).contains("404"));
    // Read again, and refused: the pane says so.
    press_key(&mut ui, &model, KeyCode::Esc);
    let (id, _) = read_asked(&press(&mut ui, &model, "d"));
    ui.on_pane_update(PaneUpdate::Failed {
        id,
        why: "403 Forbidden: poddisruptionbudgets.policy is forbidden".into(),
    });
    let failed = draw(&ui, &model, 80, 24);
    assert!(
        failed.contains("could not read it: 403 Forbidden"),
        "{failed}"
    );
}

#[test]
fn l_on_a_revision_follows_its_istiod_pod_and_f_pauses() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "2/1-9-1");
    press_key(&mut ui, &model, KeyCode::Enter);
    let (id, what) = read_asked(&press(&mut ui, &model, "l"));
    let Inspect::Logs(pod) = &what else {
        panic!("{what:?}")
    };
    assert_eq!(pod.kind, ObjectKind::Pod);
    assert_eq!(pod.namespace.as_deref(), Some("istio-system"));
    assert!(pod.name.starts_with("istiod-1-9-1-"), "{pod:?}");
    ui.on_pane_update(PaneUpdate::Following {
        id,
        container: "discovery".into(),
    });
    let line = |n: u32| {
        format!(
            "2020-01-09T07:15:{n:02}.000000Z\tinfo\tads\tADS: new connection for node:ratings-v1-b6994bb9-ltxkz.default-{n}"
        )
    };
    for n in 0..30 {
        ui.on_pane_update(PaneUpdate::Line { id, line: line(n) });
    }
    insta::assert_snapshot!("logs_istiod_80x24", draw(&ui, &model, 80, 24));
    insta::assert_snapshot!("logs_istiod_100x30", draw(&ui, &model, 100, 30));
    // Following: a new line shows at the bottom at once.
    ui.on_pane_update(PaneUpdate::Line { id, line: line(30) });
    let followed = draw(&ui, &model, 80, 24);
    assert!(followed.contains("default-30"), "{followed}");
    // Paused: new lines are kept, the view stays put.
    press(&mut ui, &model, "f");
    ui.on_pane_update(PaneUpdate::Line { id, line: line(31) });
    let paused = draw(&ui, &model, 80, 24);
    assert!(paused.contains(" paused ┐"), "{paused}");
    assert!(!paused.contains("default-31"), "{paused}");
    press(&mut ui, &model, "f");
    let resumed = draw(&ui, &model, 80, 24);
    assert!(resumed.contains("default-31"), "{resumed}");
    ui.on_pane_update(PaneUpdate::Ended {
        id,
        why: "the API server closed it".into(),
    });
    let ended = draw(&ui, &model, 80, 24);
    assert!(
        ended.contains("the stream ended: the API server closed it"),
        "{ended}"
    );
    assert_eq!(
        press_key(&mut ui, &model, KeyCode::Char('q')),
        vec![Command::ClosePane(id)],
        "q closes the pane, not meshtop"
    );
}

#[test]
fn l_where_there_is_no_pod_says_why_and_e_names_kubectl_edit() {
    let model = seed_model();
    let mut ui = new_ui();
    on_node(&mut ui, "k1-node03");
    assert!(press(&mut ui, &model, "l").is_empty());
    let status = ui.state().status.clone().unwrap_or_default();
    assert!(
        status.starts_with("logs are a pod's: open k1-node03"),
        "{status}"
    );
    assert!(press(&mut ui, &model, "e").is_empty());
    let status = ui.state().status.clone().unwrap_or_default();
    assert!(status.ends_with("kubectl edit node k1-node03"), "{status}");
    // In a node's details, the keys read the selected pod.
    press_key(&mut ui, &model, KeyCode::Enter);
    let (_, what) = read_asked(&press(&mut ui, &model, "l"));
    let Inspect::Logs(pod) = what else {
        panic!("{what:?}")
    };
    assert!(
        model
            .pods_on_node("k1-node03")
            .iter()
            .any(|p| *p.name == *pod.name),
        "{pod:?}"
    );
}

#[test]
fn ns_focuses_a_namespace_and_zero_clears_it() {
    let model = seed_model();
    let mut ui = new_ui();
    let typed = |ui: &mut Ui, text: &str| {
        press(ui, &model, ":");
        press(ui, &model, text);
        press_key(ui, &model, KeyCode::Enter)
    };
    assert_eq!(
        typed(&mut ui, "ns default"),
        vec![Command::Focus(Some("default".into()))]
    );
    assert!(typed(&mut ui, "ns nowhere").is_empty());
    let status = ui.state().status.clone().unwrap_or_default();
    assert!(
        status.starts_with("unknown namespace \"nowhere\""),
        "{status}"
    );
    assert_eq!(press(&mut ui, &model, "0"), vec![Command::Focus(None)]);
    assert_eq!(typed(&mut ui, "ns -A"), vec![Command::Focus(None)]);
    // :ns alone is still the Namespaces view.
    assert!(typed(&mut ui, "ns").is_empty());
    assert_eq!(ui.state().current_view(), meshtop::ui::ViewKind::Namespaces);
    // With -n, the watches read one namespace: another is refused.
    ui.set_watched_namespace(Some("default".into()));
    assert!(typed(&mut ui, "ns istio-system").is_empty());
    let status = ui.state().status.clone().unwrap_or_default();
    assert!(status.contains("started with -n default"), "{status}");
}

#[test]
fn ctx_lists_the_contexts_and_switches_only_to_a_known_one() {
    let model = seed_model();
    let mut ui = new_ui();
    ui.set_contexts(
        vec!["k1-admin@k1".into(), "k1-readonly@k1".into()],
        "k1-admin@k1".into(),
    );
    press(&mut ui, &model, ":ctx");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    let list = draw(&ui, &model, 80, 24);
    assert!(list.contains("* k1-admin@k1"), "{list}");
    assert!(list.contains("  k1-readonly@k1"), "{list}");
    press_key(&mut ui, &model, KeyCode::Esc);
    press(&mut ui, &model, ":ctx k1-r");
    press_key(&mut ui, &model, KeyCode::Tab);
    assert_eq!(
        press_key(&mut ui, &model, KeyCode::Enter),
        vec![Command::SwitchContext("k1-readonly@k1".into())]
    );
    ui.on_context_switched(Ok("k1-readonly@k1".into()));
    assert_eq!(ui.state().context, "k1-readonly@k1");
    press(&mut ui, &model, ":ctx k1-nope");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    let status = ui.state().status.clone().unwrap_or_default();
    assert!(
        status.starts_with("unknown context \"k1-nope\"")
            && status.ends_with("still on k1-readonly@k1"),
        "{status}"
    );
}

#[test]
fn sort_by_a_named_column_and_again_reverses() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "6:sort ve");
    press_key(&mut ui, &model, KeyCode::Tab);
    press_key(&mut ui, &model, KeyCode::Enter);
    let sorted = draw(&ui, &model, 100, 30);
    assert!(sorted.contains("VERSION↑"), "{sorted}");
    let rows: Vec<&str> = sorted.lines().filter(|l| l.starts_with("│k1-")).collect();
    assert!(
        rows.first().is_some_and(|r| r.contains("v1.14")),
        "the oldest kubelet first:\n{sorted}"
    );
    press(&mut ui, &model, ":sort version");
    press_key(&mut ui, &model, KeyCode::Enter);
    let reversed = draw(&ui, &model, 100, 30);
    assert!(reversed.contains("VERSION↓"), "{reversed}");
    press(&mut ui, &model, ":sort nope");
    press_key(&mut ui, &model, KeyCode::Enter);
    let status = ui.state().status.clone().unwrap_or_default();
    assert!(status.starts_with("no column \"nope\" here"), "{status}");
}
