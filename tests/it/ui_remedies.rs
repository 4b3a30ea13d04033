//! Today's remedies on `TestBackend`, on the field report's cluster: `+` scales the workload
//! of a budget's row to the replicas typed, `X` on the legacy control plane previews every
//! object it deletes and sends exactly those once its name is typed, and `X` on a revision
//! in use is refused at the preview, naming what uses it; `M` asks for the waypoint an
//! ambient namespace should use.

use crossterm::event::KeyCode;
use meshtop::model::summary::WorkloadKind;
use meshtop::ops::Request;
use meshtop::ops::workload::WorkloadRef;
use meshtop::ui::Mode;

use crate::common::tui::{draw, new_ui, press, press_key, runs};
use crate::ui_views::seed_model;

#[test]
fn plus_on_istio_pilots_budget_scales_istio_pilot_to_the_replicas_typed() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "5/pilot");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "+");
    let asking = draw(&ui, &model, 120, 30);
    assert!(asking.contains("replicas: "), "{asking}");
    // Not a number: said, and nothing moves on.
    press(&mut ui, &model, "two");
    press_key(&mut ui, &model, KeyCode::Enter);
    assert!(
        draw(&ui, &model, 120, 30).contains("invalid replicas \"two\""),
        "{}",
        draw(&ui, &model, 120, 30)
    );
    for _ in 0..3 {
        press_key(&mut ui, &model, KeyCode::Backspace);
    }
    press(&mut ui, &model, "2");
    press_key(&mut ui, &model, KeyCode::Enter);
    let screen = draw(&ui, &model, 120, 30);
    insta::assert_snapshot!("scale_preview_120x30", screen);
    assert!(
        screen.contains("it stops blocking the drains of k1-node03"),
        "{screen}"
    );
    press(&mut ui, &model, "y");
    assert!(
        draw(&ui, &model, 120, 30).contains("type istio-pilot to"),
        "{}",
        draw(&ui, &model, 120, 30)
    );
    press(&mut ui, &model, "istio-pilot");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(
        runs(&sent)[0].request,
        Request::Scale {
            workload: WorkloadRef::new(WorkloadKind::Deployment, "istio-system", "istio-pilot"),
            replicas: Some(2),
        }
    );
}

#[test]
fn x_on_the_legacy_control_plane_deletes_what_its_preview_lists() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "2/legacy");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "X");
    let screen = draw(&ui, &model, 120, 40);
    insta::assert_snapshot!("uninstall_legacy_preview_120x40", screen);
    press(&mut ui, &model, "y");
    assert!(
        draw(&ui, &model, 120, 40).contains("type legacy to"),
        "{}",
        draw(&ui, &model, 120, 40)
    );
    press(&mut ui, &model, "legacy");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    let Request::Uninstall {
        legacy, targets, ..
    } = &runs(&sent)[0].request
    else {
        panic!("an uninstall: {sent:?}");
    };
    assert!(legacy);
    // Exactly what the preview listed, in its order.
    let listed: Vec<String> = targets.iter().map(|t| t.describe()).collect();
    let shown: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.split('│').nth(2))
        .map(str::trim)
        .filter(|l| l.contains(" -n istio-system") || l.starts_with("mutatingwebhook"))
        .map(|l| l.split("  (").next().unwrap_or(l))
        .collect();
    assert_eq!(listed, shown, "{screen}");
}

#[test]
fn x_on_a_revision_in_use_is_refused_at_the_preview() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "2/1-9-1");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "X");
    let screen = draw(&ui, &model, 120, 30);
    assert!(
        screen.contains("refused: revision 1-9-1 is still in use; move these first"),
        "{screen}"
    );
    assert!(
        screen.contains("1 namespace select it: default"),
        "{screen}"
    );
    let sent = press(&mut ui, &model, "y");
    assert!(sent.is_empty());
    assert!(matches!(ui.state().mode, Mode::Dialog(_)));
    let screen = draw(&ui, &model, 120, 30);
    // The dialog says why it does not go on, in the words of the command line's refusal.
    assert!(
        screen.contains("revision 1-9-1 is still in use: 1 namespace select it: default;"),
        "{screen}"
    );
    assert!(!screen.contains("type 1-9-1 to"), "{screen}");
}

/// `M` in the Namespaces view asks for the waypoint first: a bad name is said at the prompt,
/// a good one is in the preview (with the warning that no such waypoint runs there) and in
/// the request sent once the namespace's name is typed; empty keeps the one it uses.
#[test]
fn m_asks_for_the_waypoint_the_namespace_should_use() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "7/legacy-shop");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "M");
    let asking = draw(&ui, &model, 120, 30);
    assert!(
        asking.contains("waypoint (empty: keep the one it uses now): "),
        "{asking}"
    );
    press(&mut ui, &model, "Shop_WP");
    press_key(&mut ui, &model, KeyCode::Enter);
    let refused = draw(&ui, &model, 120, 30);
    assert!(
        refused.contains("invalid waypoint \"Shop_WP\""),
        "{refused}"
    );
    for _ in 0.."Shop_WP".len() {
        press_key(&mut ui, &model, KeyCode::Backspace);
    }
    press(&mut ui, &model, "shop-waypoint");
    press_key(&mut ui, &model, KeyCode::Enter);
    let preview = draw(&ui, &model, 160, 40);
    for said in [
        "namespace/legacy-shop: label istio.io/use-waypoint: (none) → shop-waypoint",
        "no waypoint shop-waypoint (Gateway of class istio-waypoint) in legacy-shop",
    ] {
        assert!(preview.contains(said), "{said:?} not in\n{preview}");
    }
    press(&mut ui, &model, "y");
    press(&mut ui, &model, "legacy-shop");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(
        runs(&sent).first().map(|r| &r.request),
        Some(&Request::Ambient {
            namespace: "legacy-shop".into(),
            waypoint: Some("shop-waypoint".into()),
            restart: false,
        })
    );

    // Empty: the waypoint it uses now stays.
    let mut ui = new_ui();
    press(&mut ui, &model, "7/legacy-shop");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "M");
    press_key(&mut ui, &model, KeyCode::Enter);
    let preview = draw(&ui, &model, 160, 40);
    assert!(!preview.contains("use-waypoint"), "{preview}");
    assert!(
        preview.contains("namespace/legacy-shop: label istio.io/dataplane-mode: (none) → ambient"),
        "{preview}"
    );
}
