//! The Overview's findings as a worklist: Enter goes to a finding's object in its view, and
//! the fix key opens the dialog of the action that fixes it, preview first, nothing sent.

use super::ui_views::seed_model;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::Timestamp;
use meshtop::model::{FindingKind, Model};
use meshtop::ops::Request;
use meshtop::ui::action::Stage;
use meshtop::ui::views::Subject;
use meshtop::ui::{Command, Header, Keymap, Mode, Theme, Ui, ViewKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn now() -> Timestamp {
    "2020-01-09T07:15:42Z".parse().expect("timestamp")
}

fn draw(ui: &Ui, model: &Model, width: u16, height: u16) -> String {
    let header = Header {
        context: "k1-admin@k1".into(),
        server: "https://192.168.0.11:6443".into(),
        namespace: None,
        readonly: false,
    };
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|frame| ui.render(frame, model, &header, now()))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn key(ui: &mut Ui, model: &Model, code: KeyCode) -> Vec<Command> {
    ui.on_key(KeyEvent::new(code, KeyModifiers::NONE), model)
}

fn press(ui: &mut Ui, model: &Model, keys: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for c in keys.chars() {
        out.extend(key(ui, model, KeyCode::Char(c)));
    }
    out
}

/// A fresh UI on the Overview with the one finding the filter keeps selected.
fn on_finding(model: &Model, filter: &str) -> Ui {
    let mut ui = Ui::new(Keymap::default(), Theme::default());
    press(&mut ui, model, "o/");
    press(&mut ui, model, filter);
    key(&mut ui, model, KeyCode::Enter);
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
    key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(ui.state().current_view(), ViewKind::Disruption);
    assert_eq!(ui.state().depth(), 0);
    assert_eq!(ui.state().selected_subject(&model), Some(pilot()));
    let screen = draw(&ui, &model, 120, 40);
    assert!(screen.contains("Disruption"), "{screen}");
    key(&mut ui, &model, KeyCode::Esc);
    assert_eq!(ui.state().current_view(), ViewKind::Overview);
}

#[test]
fn enter_shows_the_row_even_when_the_view_filter_hid_it() {
    let model = seed_model();
    let mut ui = Ui::new(Keymap::default(), Theme::default());
    press(&mut ui, &model, "5/zzz");
    key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "o/");
    press(&mut ui, &model, "pdb-blocks-drain istio-system/istio-pilot");
    key(&mut ui, &model, KeyCode::Enter);
    key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(ui.state().current_view(), ViewKind::Disruption);
    assert_eq!(ui.state().screen().filter, "");
    assert_eq!(ui.state().selected_subject(&model), Some(pilot()));
}

#[test]
fn a_node_finding_goes_to_nodes() {
    let model = seed_model();
    let mut ui = on_finding(&model, "kubelet-skew");
    key(&mut ui, &model, KeyCode::Enter);
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
    assert!(key(&mut ui, &model, KeyCode::Enter).is_empty());
    key(&mut ui, &model, KeyCode::Esc);
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
