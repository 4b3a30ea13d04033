//! The Overview's findings as a worklist: Enter goes to a finding's object in its view, and
//! the fix key opens the dialog of the action that fixes it, preview first, nothing sent.
//! The actions panel folds what is finished, so the list keeps the screen.

use super::ui_views::seed_model;
use crate::common::seed;
use crate::common::tui::{self, draw, press, press_key};
use crossterm::event::KeyCode;
use jiff::Timestamp;
use meshtop::model::{FindingKind, Model};
use meshtop::ops::Request;
use meshtop::ui::action::{Stage, TaskUpdate};
use meshtop::ui::views::Subject;
use meshtop::ui::{Command, Mode, Ui, ViewKind};

/// The shared frame at `now` (the folding of finished actions follows the clock).
fn draw_at(ui: &Ui, model: &Model, width: u16, height: u16, now: Timestamp) -> String {
    tui::render(ui, model, &tui::header(), now, width, height)
}

/// A fresh UI on the Overview with the one finding the filter keeps selected.
fn on_finding(model: &Model, filter: &str) -> Ui {
    let mut ui = tui::new_ui();
    press(&mut ui, model, "o/");
    press(&mut ui, model, filter);
    press_key(&mut ui, model, KeyCode::Enter);
    draw(&ui, model, 120, 40);
    ui
}

fn pilot() -> Subject {
    Subject::Pdb {
        namespace: "istio-system".into(),
        name: "istio-pilot".into(),
    }
}

#[test]
fn findings_carry_their_object() {
    let model = seed_model();
    let findings = model.findings();
    let blocking = findings
        .iter()
        .find(|f| f.code == "pdb-blocks-drain" && f.message.contains("istio-system/istio-pilot"))
        .expect("the pilot PDB blocks a drain");
    let object = blocking.object.as_ref().expect("an object");
    assert_eq!(object.kind, FindingKind::Pdb);
    assert_eq!(object.namespace.as_deref(), Some("istio-system"));
    assert_eq!(&*object.name, "istio-pilot");
    let json = serde_json::to_value(blocking).expect("json");
    assert_eq!(json["object"]["kind"], "pdb");
}

#[test]
fn enter_on_a_blocking_pdb_goes_to_it_and_esc_comes_back() {
    let model = seed_model();
    let mut ui = on_finding(&model, "pdb-blocks-drain istio-system/istio-pilot");
    press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(ui.state().current_view(), ViewKind::Disruption);
    assert_eq!(ui.state().depth(), 0);
    assert_eq!(ui.state().selected_subject(&model), Some(pilot()));
    let screen = draw(&ui, &model, 120, 40);
    assert!(screen.contains("Disruption"), "{screen}");
    press_key(&mut ui, &model, KeyCode::Esc);
    assert_eq!(ui.state().current_view(), ViewKind::Overview);
}

#[test]
fn enter_shows_the_row_even_when_the_view_filter_hid_it() {
    let model = seed_model();
    let mut ui = tui::new_ui();
    press(&mut ui, &model, "5/zzz");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "o/");
    press(&mut ui, &model, "pdb-blocks-drain istio-system/istio-pilot");
    press_key(&mut ui, &model, KeyCode::Enter);
    press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(ui.state().current_view(), ViewKind::Disruption);
    assert_eq!(ui.state().screen().filter, "");
    assert_eq!(ui.state().selected_subject(&model), Some(pilot()));
}

#[test]
fn a_node_finding_goes_to_nodes() {
    let model = seed_model();
    let mut ui = on_finding(&model, "kubelet-skew");
    press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(ui.state().current_view(), ViewKind::Nodes);
    assert_eq!(
        ui.state().selected_subject(&model),
        Some(Subject::Node("k1-node01".into()))
    );
    // No action of meshtop upgrades a kubelet: the fix key says so and opens nothing.
    let mut ui = on_finding(&model, "kubelet-skew");
    assert!(press(&mut ui, &model, "a").is_empty());
    assert_eq!(ui.state().mode, Mode::Normal);
    assert!(
        ui.state()
            .status
            .as_deref()
            .is_some_and(|s| s.contains("no action of meshtop fixes kubelet-skew")),
        "{:?}",
        ui.state().status
    );
}

#[test]
fn the_fix_of_a_blocking_pdb_is_the_relax_dialog_with_its_preview() {
    let model = seed_model();
    let mut ui = on_finding(&model, "pdb-blocks-drain istio-system/istio-pilot");
    assert!(press(&mut ui, &model, "a").is_empty(), "nothing is sent");
    let Mode::Dialog(dialog) = &ui.state().mode else {
        panic!("no dialog: {:?}", ui.state().status);
    };
    assert_eq!(
        dialog.request,
        Request::PdbRelax {
            namespace: "istio-system".into(),
            name: "istio-pilot".into()
        }
    );
    assert_eq!(dialog.stage, Stage::Preview);
    let screen = draw(&ui, &model, 120, 30);
    assert!(screen.contains("→ minAvailable 0"), "{screen}");
    // Confirming still asks for the name; a wrong one sends nothing.
    assert!(press(&mut ui, &model, "y").is_empty());
    assert!(press(&mut ui, &model, "istio-x").is_empty());
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    press_key(&mut ui, &model, KeyCode::Esc);
    assert_eq!(ui.state().current_view(), ViewKind::Overview);
}

#[test]
fn the_fix_of_a_legacy_injection_label_is_the_injection_dialog() {
    let model = seed_model();
    let mut ui = on_finding(&model, "legacy-injection-label");
    assert!(press(&mut ui, &model, "a").is_empty());
    let Mode::Dialog(dialog) = &ui.state().mode else {
        panic!("no dialog: {:?}", ui.state().status);
    };
    assert!(
        matches!(&dialog.request, Request::LabelNamespace { namespace, .. } if !namespace.is_empty()),
        "{:?}",
        dialog.request
    );
}

#[test]
fn readonly_keeps_the_fix_key_from_opening_anything() {
    let model = seed_model();
    let mut ui = on_finding(&model, "pdb-blocks-drain istio-system/istio-pilot");
    ui.set_readonly(true);
    assert!(press(&mut ui, &model, "a").is_empty());
    assert_eq!(ui.state().mode, Mode::Normal);
    assert!(
        ui.state()
            .status
            .as_deref()
            .is_some_and(|s| s.contains("--readonly")),
        "{:?}",
        ui.state().status
    );
}

/// Cordons a node through its dialog; the id of the task it started.
fn cordon(ui: &mut Ui, model: &Model, node: &str) -> u64 {
    press(ui, model, "6/");
    press(ui, model, node);
    press_key(ui, model, KeyCode::Enter);
    press(ui, model, "c");
    let sent = press(ui, model, "yy");
    press_key(ui, model, KeyCode::Esc);
    match sent.as_slice() {
        [Command::Run(run)] => run.id,
        other => panic!(
            "cordon {node} sent {other:?}; status {:?}",
            ui.state().status
        ),
    }
}

fn finish(ui: &mut Ui, id: u64, result: Result<&str, &str>) {
    ui.on_task_update(TaskUpdate::Finished {
        id,
        result: result.map(str::to_string).map_err(str::to_string),
    });
}

/// Rows of the actions panel: from its top border to the footer.
fn panel_rows(screen: &str) -> usize {
    let lines: Vec<&str> = screen.lines().collect();
    lines
        .iter()
        .position(|l| l.contains(" actions "))
        .map_or(0, |top| lines.len() - 1 - top)
}

#[test]
fn finished_actions_fold_after_a_while_and_on_the_fold_key() {
    let model = seed_model();
    let mut ui = tui::new_ui();
    let ids = [
        cordon(&mut ui, &model, "node01"),
        cordon(&mut ui, &model, "node02"),
        cordon(&mut ui, &model, "node04"),
    ];
    finish(&mut ui, ids[0], Ok("node/k1-node01 cordoned"));
    finish(&mut ui, ids[1], Ok("node/k1-node02 cordoned"));
    finish(&mut ui, ids[2], Err("nodes \"k1-node04\" is forbidden"));
    press(&mut ui, &model, "o");
    // Just finished: each outcome in full.
    let fresh = draw(&ui, &model, 80, 24);
    assert!(fresh.contains("k1-node04\" is forbidden"), "{fresh}");
    let full = panel_rows(&fresh);
    // A while later: one line says what they came to.
    let later = seed::now()
        .checked_add(jiff::SignedDuration::from_secs(11))
        .expect("time");
    let folded = draw_at(&ui, &model, 80, 24, later);
    insta::assert_snapshot!("finished_actions_folded_80x24", folded);
    assert_eq!(panel_rows(&folded), 2, "{folded}");
    assert!(panel_rows(&folded) < full, "{fresh}\n{folded}");
    assert!(folded.contains("✓ 2 done"), "{folded}");
    assert!(folded.contains("✗ 1 failed"), "{folded}");
    // F shows them again, and F folds them.
    press(&mut ui, &model, "F");
    assert_eq!(panel_rows(&draw_at(&ui, &model, 80, 24, later)), full);
    press(&mut ui, &model, "F");
    assert_eq!(panel_rows(&draw_at(&ui, &model, 80, 24, later)), 2);
}

#[test]
fn the_fold_key_folds_outcomes_at_once_but_never_a_running_action() {
    let model = seed_model();
    let mut ui = tui::new_ui();
    let done = cordon(&mut ui, &model, "node01");
    cordon(&mut ui, &model, "node02");
    finish(&mut ui, done, Ok("node/k1-node01 cordoned"));
    draw(&ui, &model, 80, 24);
    press(&mut ui, &model, "F");
    let screen = draw(&ui, &model, 80, 24);
    assert!(screen.contains("✓ 1 done"), "{screen}");
    assert!(screen.contains("▶ cordon node/k1-node02"), "{screen}");
}

#[test]
fn the_filter_matches_words_and_tilde_matches_letters() {
    let model = seed_model();
    let findings = model.findings();
    assert!(
        findings.iter().any(|f| f.code == "proxy-version-skew"),
        "the seed has skewed proxies"
    );
    let mut ui = tui::new_ui();
    press(&mut ui, &model, "o/pdb");
    let screen = draw(&ui, &model, 200, 50);
    assert!(screen.contains("istio-system/istio-pilot"), "{screen}");
    assert!(!screen.contains("proxies of revision"), "{screen}");
    // The letters in order, inside one word.
    press_key(&mut ui, &model, KeyCode::Esc);
    press(&mut ui, &model, "6/~n03");
    let screen = draw(&ui, &model, 80, 24);
    assert!(screen.contains("Nodes (1 of 8)"), "{screen}");
    assert!(screen.contains("k1-node03"), "{screen}");
}

#[test]
fn narrow_terminals_keep_what_tells_rows_apart() {
    let model = seed_model();
    for (keys, name) in [("3", "gateways"), ("4", "proxies")] {
        let mut ui = tui::new_ui();
        press(&mut ui, &model, keys);
        for (w, h) in [(80, 24), (100, 30)] {
            let screen = draw(&ui, &model, w, h);
            insta::assert_snapshot!(format!("narrow_{name}_{w}x{h}"), screen);
            if name == "gateways" {
                assert!(screen.contains("NAMESPACE"), "{screen}");
                assert!(screen.contains("REVISION"), "{screen}");
                assert!(screen.contains("istio-system"), "{screen}");
            } else {
                assert!(screen.contains("-c9q4b.istio-system"), "{screen}");
                assert!(screen.contains("-qjrwj.istio-system"), "{screen}");
            }
        }
    }
}

#[test]
fn a_finding_about_no_one_object_says_so() {
    let mut model = seed_model();
    model.apply(meshtop::model::Stamped {
        at: seed::now(),
        event: meshtop::model::ClusterEvent::Source(
            meshtop::model::Kind::IstioOperator,
            meshtop::model::SourceState::Absent,
        ),
    });
    let mut ui = on_finding(&model, "source-absent");
    press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(ui.state().current_view(), ViewKind::Overview);
    assert!(
        ui.state()
            .status
            .as_deref()
            .is_some_and(|s| s.contains("source-absent is not about one object")),
        "{:?}",
        ui.state().status
    );
}
