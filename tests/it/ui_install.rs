//! The install dialog (`I` in the Revisions and Gateways views) on ratatui's `TestBackend`:
//! the form checks what is typed as it is typed (its own checks, then against the cluster's
//! facts once read) and a form with a problem never reaches the preview; the preview shows
//! the plan's steps; `e` hands the IstioOperator (the IstioRevision where Sail manages the
//! revisions) to `$EDITOR` and checks what comes back;
//! nothing is sent before the IstioOperator's name is typed; `--readonly` opens nothing.
//! Then the same flow against the sandbox, driving `Ui` and the app's `TaskRunner`: a gateway
//! installed from the TUI, its namespace, the copied ConfigMap and the resource in the cluster.
//!
//! The model is the seed's cluster (`assets/scenarios/k1-upgrade.yaml`) as the model's own
//! projection reads it; the install facts are that model's (`InstallFacts::from_model`), with
//! the mesh ConfigMap's contents taken from the same file, as `read_mesh_configs` reads them
//! from the cluster. The clock is fixed.

use std::time::{Duration, Instant};

use crate::common::seed;
use crate::common::tui::{self, Lcg, Typed, draw, press, press_key, runs};
use crossterm::event::KeyCode;
use meshtop::model::summary::Installer;
use meshtop::model::{ClusterEvent, Kind, Model, SourceState, Stamped};
use meshtop::ops::Request;
use meshtop::ops::install::{InstallFacts, PlanOptions, find_on_path};
use meshtop::ui::action::{Stage, TaskUpdate};
use meshtop::ui::install::Facts;
use meshtop::ui::{Command, Keymap, Mode, Theme, Ui};

/// The install facts of the seed's cluster: the model's, and the contents of the mesh
/// ConfigMaps they name, as `read_mesh_configs` reads them.
fn seed_facts() -> InstallFacts {
    let mut facts = InstallFacts::from_model(&seed::model(), "istio-system").expect("all listed");
    let wanted = facts.mesh_configs_to_read();
    for v in seed::docs() {
        let name = v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if v["kind"] == "ConfigMap"
            && v["metadata"]["namespace"] == "istio-system"
            && wanted.contains(&name)
        {
            facts.mesh_config_contents.insert(name, v);
        }
    }
    facts
}

/// Plans never find istioctl (a test must not depend on one being installed) and save
/// under a fixed path, so the snapshots do not depend on the machine.
fn no_istioctl() -> PlanOptions {
    PlanOptions {
        istioctl: None,
        force_istioctl: false,
        file: Some("/var/lib/meshtop/install/iop.yaml".into()),
        istioctl_args: Vec::new(),
        istioctl_kubeconfig: None,
        helm: None,
        helm_args: Vec::new(),
        chart: None,
    }
}

fn new_ui() -> Ui {
    let mut ui = tui::new_ui();
    ui.set_install_options(no_istioctl());
    ui
}

/// The dialog's text with its wrapping undone: the lines inside its border, joined.
fn dialog_text(screen: &str) -> String {
    screen
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split('│').collect();
            (parts.len() >= 5).then(|| parts[2].trim())
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The id of the facts read the dialog asked for.
fn facts_read(commands: &[Command]) -> u64 {
    let reads: Vec<u64> = commands
        .iter()
        .filter_map(|c| match c {
            Command::ReadInstallFacts(id) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(reads.len(), 1, "{commands:?}");
    reads[0]
}

fn stage(ui: &Ui) -> Option<Stage> {
    match &ui.state().mode {
        Mode::Dialog(d) => Some(d.stage),
        _ => None,
    }
}

fn dialog_error(ui: &Ui) -> Option<String> {
    match &ui.state().mode {
        Mode::Dialog(d) => d.error.clone(),
        _ => None,
    }
}

/// The install dialog of `view` ("2" revisions, "3" gateways) with the seed's facts read.
fn open_install(model: &Model, view: &str) -> Ui {
    let mut ui = new_ui();
    press(&mut ui, model, view);
    let opened = press(&mut ui, model, "I");
    assert!(runs(&opened).is_empty(), "I only opens the dialog");
    let id = facts_read(&opened);
    assert_eq!(stage(&ui), Some(Stage::Form));
    ui.on_task_update(TaskUpdate::InstallFacts {
        id,
        facts: Ok(Box::new(seed_facts())),
    });
    ui
}

/// Clears the focused field.
fn clear(ui: &mut Ui, model: &Model) {
    for _ in 0..80 {
        press_key(ui, model, KeyCode::Backspace);
    }
}

/// Moves to the next field.
fn tab(ui: &mut Ui, model: &Model) {
    press_key(ui, model, KeyCode::Tab);
}

// --- the form -------------------------------------------------------------------------------

#[test]
fn revision_form_rejects_bad_and_used_names_before_the_preview() {
    let model = seed::model();
    let mut ui = new_ui();
    press(&mut ui, &model, "2");
    let opened = press(&mut ui, &model, "I");
    let id = facts_read(&opened);
    let reading = draw(&ui, &model, 120, 40);
    assert!(
        reading.contains("install a control-plane revision · context k1-admin@k1"),
        "{reading}"
    );
    assert!(reading.contains("reading the cluster"), "{reading}");
    // Before the facts arrive, the preview waits for them.
    press(&mut ui, &model, "canary");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert!(
        dialog_error(&ui).is_some_and(|e| e.contains("still reading the cluster")),
        "{:?}",
        dialog_error(&ui)
    );
    // An answer for another dialog's read is not this form's.
    ui.on_task_update(TaskUpdate::InstallFacts {
        id: id + 100,
        facts: Err("not mine".into()),
    });
    assert!(!draw(&ui, &model, 120, 40).contains("not mine"));
    ui.on_task_update(TaskUpdate::InstallFacts {
        id,
        facts: Ok(Box::new(seed_facts())),
    });
    clear(&mut ui, &model);

    // A name that is not a DNS-1123 label: shown as it is typed.
    press(&mut ui, &model, "1.10.0");
    let screen = draw(&ui, &model, 120, 40);
    assert!(screen.contains("› revision         1.10.0"), "{screen}");
    assert!(screen.contains("DNS-1123"), "{screen}");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert_eq!(stage(&ui), Some(Stage::Form));
    assert!(
        dialog_error(&ui).is_some_and(|e| e.contains("1 problem to fix first: nothing is sent")),
        "{:?}",
        dialog_error(&ui)
    );

    // The seed's revision is in use; the node selector and the autoscaler are checked too.
    clear(&mut ui, &model);
    press(&mut ui, &model, "1-9-1");
    for _ in 0..4 {
        tab(&mut ui, &model);
    }
    press(&mut ui, &model, "taco istio=enabled");
    tab(&mut ui, &model);
    press(&mut ui, &model, "3");
    tab(&mut ui, &model);
    press(&mut ui, &model, "2");
    let screen = draw(&ui, &model, 120, 40);
    insta::assert_snapshot!("install_revision_form_120x40", screen);
    for text in [
        "revision 1-9-1 is already in use: istiooperator istio-system/istio-controlplane",
        "node selector",
        "the autoscaler's minimum 3 is above the maximum 2",
    ] {
        assert!(screen.contains(text), "{text:?} not in\n{screen}");
    }
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert_eq!(stage(&ui), Some(Stage::Form));

    // Fixed: the preview. No operator acts on revision canary and istioctl is not on PATH:
    // the files are saved and the preview says nothing in the cluster changes.
    press_key(&mut ui, &model, KeyCode::Backspace);
    press(&mut ui, &model, "4");
    press_key(&mut ui, &model, KeyCode::Up);
    press_key(&mut ui, &model, KeyCode::Up);
    clear(&mut ui, &model);
    press(&mut ui, &model, "taco-istio=enabled");
    for _ in 0..4 {
        press_key(&mut ui, &model, KeyCode::Up);
    }
    clear(&mut ui, &model);
    press(&mut ui, &model, "canary");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert_eq!(stage(&ui), Some(Stage::Preview), "{:?}", dialog_error(&ui));
    let preview = draw(&ui, &model, 120, 40);
    assert!(
        preview.contains("install revision canary · context k1-admin@k1"),
        "{preview}"
    );
    assert!(
        preview.contains("note: istioctl is not on PATH: nothing in the cluster changes"),
        "{preview}"
    );
}

/// Where the Sail operator manages the revisions (here the seed's revision, as if Sail had
/// installed it): the preview shows the IstioRevision, `e` edits it, and a rename is refused.
#[test]
fn a_sail_managed_cluster_previews_an_istio_revision_and_e_edits_it() {
    let model = seed::model();
    let mut ui = new_ui();
    press(&mut ui, &model, "2");
    let id = facts_read(&press(&mut ui, &model, "I"));
    let mut facts = seed_facts();
    facts.installers = [(
        "1-9-1".to_string(),
        Installer::Sail {
            resource: "IstioRevision/1-9-1".into(),
        },
    )]
    .into();
    ui.on_task_update(TaskUpdate::InstallFacts {
        id,
        facts: Ok(Box::new(facts)),
    });
    clear(&mut ui, &model);
    press(&mut ui, &model, "1-10-0");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert_eq!(stage(&ui), Some(Stage::Preview), "{:?}", dialog_error(&ui));
    let preview = draw(&ui, &model, 120, 40);
    insta::assert_snapshot!("install_revision_sail_preview_120x40", preview);
    let text = dialog_text(&preview);
    for want in [
        "apply istiorevision.sailoperator.io/1-10-0",
        "installer: sail (the Sail operator manages the cluster's revisions: IstioRevision/1-9-1)",
        "ISTIOREVISION 1-10-0",
        "e edit the IstioRevision in $EDITOR",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    let yaml = match press(&mut ui, &model, "e").as_slice() {
        [Command::Edit(yaml)] => yaml.clone(),
        other => panic!("e asks the app for the editor: {other:?}"),
    };
    assert!(yaml.contains("kind: IstioRevision"), "{yaml}");
    ui.on_edited(Ok(yaml.replace("name: 1-10-0", "name: other")));
    assert!(draw(&ui, &model, 120, 40).contains("the edit is not taken"));
    ui.on_edited(Ok(yaml.replace("autoscaleMin: 1", "autoscaleMin: 2")));
    let screen = dialog_text(&draw(&ui, &model, 120, 40));
    assert!(
        screen.contains("the IstioRevision is as edited in $EDITOR"),
        "{screen}"
    );
    assert!(planned_yaml(&ui).contains("autoscaleMin: 2"));
}

#[test]
fn gateway_form_rejects_taken_labels_and_node_ports_then_previews_the_plan() {
    let model = seed::model();
    let mut ui = open_install(&model, "3");
    let empty = draw(&ui, &model, 120, 40);
    // The revision comes from the cluster; an untouched form does not complain yet.
    assert!(empty.contains("revision         1-9-1"), "{empty}");
    assert!(!empty.contains('✗'), "{empty}");

    press(&mut ui, &model, "istio-gateway-shop");
    tab(&mut ui, &model);
    tab(&mut ui, &model);
    tab(&mut ui, &model);
    tab(&mut ui, &model);
    // The labels of the seed's istio-system gateway, and its node port for http2.
    press(
        &mut ui,
        &model,
        "app=istio-ingressgateway,istio=ingressgateway",
    );
    tab(&mut ui, &model);
    press_key(&mut ui, &model, KeyCode::Right);
    tab(&mut ui, &model);
    press(&mut ui, &model, "31080");
    tab(&mut ui, &model);
    press(&mut ui, &model, "31080");
    let screen = draw(&ui, &model, 120, 40);
    insta::assert_snapshot!("install_gateway_form_120x40", screen);
    for text in [
        "name             istio-ingressgateway-istio-gateway-shop",
        "label istio=ingressgateway already selects gateway istio-system/istio-ingressgateway",
        "node port 31080 is already used by service/istio-system/istio-ingressgateway",
        "http2 and https cannot share node port 31080",
        "service type     ‹ NodePort ›",
    ] {
        assert!(screen.contains(text), "{text:?} not in\n{screen}");
    }
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(stage(&ui), Some(Stage::Form));
    assert!(
        dialog_error(&ui).is_some_and(|e| e.contains("problems to fix first")),
        "{:?}",
        dialog_error(&ui)
    );

    // Labels of its own (empty: the name's), free node ports.
    for _ in 0..3 {
        press_key(&mut ui, &model, KeyCode::Up);
    }
    clear(&mut ui, &model);
    tab(&mut ui, &model);
    tab(&mut ui, &model);
    clear(&mut ui, &model);
    press(&mut ui, &model, "31082");
    tab(&mut ui, &model);
    clear(&mut ui, &model);
    press(&mut ui, &model, "31444");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert_eq!(stage(&ui), Some(Stage::Preview), "{:?}", dialog_error(&ui));
    let preview = draw(&ui, &model, 120, 40);
    insta::assert_snapshot!("install_gateway_preview_120x40", preview);
    for text in [
        "install gateway istio-gateway-shop/istio-ingressgateway-istio-gateway-shop (revision 1-9-1)",
        "1. create namespace/istio-gateway-shop (it does not exist)",
        "2. copy configmap/istio-1-9-1 from istio-system to istio-gateway-shop",
        "3. apply istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-shop in istio-system",
        "operator: ",
        "e edit the IstioOperator in $EDITOR",
    ] {
        assert!(preview.contains(text), "{text:?} not in\n{preview}");
    }

    // esc goes back to the form, as it was typed.
    press_key(&mut ui, &model, KeyCode::Esc);
    assert_eq!(stage(&ui), Some(Stage::Form));
    assert!(draw(&ui, &model, 120, 40).contains("31444"));
    press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(stage(&ui), Some(Stage::Preview));
    // Back in the form, esc cancels the install: nothing was sent.
    press_key(&mut ui, &model, KeyCode::Esc);
    assert!(press_key(&mut ui, &model, KeyCode::Esc).is_empty());
    assert_eq!(ui.state().mode, Mode::Normal);
    assert_eq!(
        ui.state().status.as_deref(),
        Some("cancelled install a gateway: nothing was sent")
    );
}

/// The gateway form filled in for istio-gateway-shop, at its preview.
fn shop_preview(model: &Model) -> Ui {
    let mut ui = open_install(model, "3");
    press(&mut ui, model, "istio-gateway-shop");
    assert!(press_key(&mut ui, model, KeyCode::Enter).is_empty());
    assert_eq!(stage(&ui), Some(Stage::Preview), "{:?}", dialog_error(&ui));
    ui
}

const SHOP_IOP: &str = "istio-ingressgateway-istio-gateway-shop";

/// The IstioOperator the dialog's preview will apply, as YAML.
fn planned_yaml(ui: &Ui) -> String {
    match &ui.state().mode {
        Mode::Dialog(d) => match &d.request {
            Request::Install(r) => r.planned.as_ref().expect("planned").plan.document_yaml(),
            other => panic!("not an install: {other:?}"),
        },
        other => panic!("no dialog: {other:?}"),
    }
}

/// The dialog's "lines A-B of N" on its bottom border.
fn shown_lines(screen: &str) -> Option<(usize, usize, usize)> {
    let at = screen.find(" lines ")?;
    let rest = &screen[at + " lines ".len()..];
    let (range, rest) = rest.split_once(" of ")?;
    let (a, b) = range.split_once('-')?;
    let total: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((a.parse().ok()?, b.parse().ok()?, total.parse().ok()?))
}

#[test]
fn the_preview_shows_the_resource_and_scrolls_under_its_keys() {
    let model = seed::model();
    let mut ui = shop_preview(&model);
    let yaml = planned_yaml(&ui);
    assert!(yaml.contains("kind: IstioOperator"), "{yaml}");

    // Tall enough: every line of the resource is in the preview, under its name.
    let tall = draw(&ui, &model, 120, 90);
    assert!(
        tall.contains(&format!("ISTIOOPERATOR istio-system/{SHOP_IOP}")),
        "{tall}"
    );
    for line in yaml.lines() {
        assert!(
            tall.contains(&format!("  {line}")),
            "{line:?} not in\n{tall}"
        );
    }
    assert_eq!(shown_lines(&tall), None, "nothing to scroll:\n{tall}");

    // A small terminal shows the steps first, the keys and where the text stands.
    let last = yaml.lines().last().expect("yaml").trim().to_string();
    let small = draw(&ui, &model, 100, 24);
    assert!(
        small.contains("1. create namespace/istio-gateway-shop"),
        "{small}"
    );
    assert!(small.contains("y continue to confirm"), "{small}");
    let (first, to, total) = shown_lines(&small).expect("a scroll position");
    assert_eq!(first, 1, "{small}");
    assert!(to < total, "{small}");

    // Paging down, even past the end, reaches the resource's last line; the keys stay.
    for _ in 0..20 {
        assert!(press_key(&mut ui, &model, KeyCode::PageDown).is_empty());
        draw(&ui, &model, 100, 24);
    }
    let end = draw(&ui, &model, 100, 24);
    assert!(end.contains(&last), "{last:?} not in\n{end}");
    assert!(!end.contains("1. create namespace"), "{end}");
    assert!(end.contains("y continue to confirm"), "{end}");
    let (end_first, end_to, end_total) = shown_lines(&end).expect("a scroll position");
    assert_eq!((end_to, end_total), (total, total), "{end}");
    // One line up moves at once: paging past the end did not pile up.
    press(&mut ui, &model, "k");
    let up = draw(&ui, &model, 100, 24);
    assert_eq!(
        shown_lines(&up),
        Some((end_first - 1, total - 1, total)),
        "{up}"
    );
    press(&mut ui, &model, "j");
    assert_eq!(
        shown_lines(&draw(&ui, &model, 100, 24)),
        Some((end_first, total, total))
    );

    // A server dry run: the text follows its answer at the end.
    let sent = press(&mut ui, &model, "d");
    assert_eq!(runs(&sent).len(), 1, "{sent:?}");
    assert!(runs(&sent)[0].dry_run);
    let dry = draw(&ui, &model, 100, 24);
    assert!(dry.contains("SERVER DRY RUN (dryRun=All)"), "{dry}");
    assert!(dry.contains("y continue to confirm"), "{dry}");
    // Still an install's preview: the scroll keys sent nothing.
    assert_eq!(stage(&ui), Some(Stage::Preview));
}

#[test]
fn e_hands_the_resource_to_the_editor_and_checks_what_comes_back() {
    let model = seed::model();
    let mut ui = shop_preview(&model);
    let out = press(&mut ui, &model, "e");
    let yaml = match out.as_slice() {
        [Command::Edit(yaml)] => yaml.clone(),
        other => panic!("e asks the app for the editor: {other:?}"),
    };
    assert!(yaml.contains(&format!("name: {SHOP_IOP}")), "{yaml}");

    // The editor failed: the resource stays as it was, and the dialog says why.
    ui.on_edited(Err(
        "the editor \"vi\" exited with exit status: 1: the edit is discarded".into(),
    ));
    assert!(
        draw(&ui, &model, 120, 40).contains("the edit is discarded: the resource is unchanged")
    );
    // A renamed resource was not the one checked: refused.
    ui.on_edited(Ok(yaml.replace(&format!("name: {SHOP_IOP}"), "name: other")));
    let screen = draw(&ui, &model, 120, 40);
    assert!(screen.contains("the edit is not taken"), "{screen}");
    // A label another gateway has: refused, as the form would.
    let taken = yaml.replace(
        "istio: ingressgateway-istio-gateway-shop",
        "istio: ingressgateway",
    );
    assert_ne!(taken, yaml);
    ui.on_edited(Ok(taken));
    assert!(
        draw(&ui, &model, 120, 40)
            .contains("already selects gateway istio-system/istio-ingressgateway")
    );
    // A change that passes: the plan now carries it, and the preview says so.
    ui.on_edited(Ok(yaml.replace("type: LoadBalancer", "type: ClusterIP")));
    let screen = draw(&ui, &model, 120, 40);
    assert!(
        screen.contains("the IstioOperator is as edited in $EDITOR"),
        "{screen}"
    );
    let Mode::Dialog(d) = &ui.state().mode else {
        panic!("the dialog closed")
    };
    let Request::Install(r) = &d.request else {
        panic!("{:?}", d.request)
    };
    let plan = &r.planned.as_ref().expect("planned").plan;
    assert!(plan.document_yaml().contains("type: ClusterIP"));
    assert!(d.error.is_none(), "{:?}", d.error);
    // Back to the form: the preview's key says the edit is dropped, and going back says so.
    assert!(
        dialog_text(&screen).contains("back to the form (drops the $EDITOR changes)"),
        "{screen}"
    );
    assert!(press_key(&mut ui, &model, KeyCode::Esc).is_empty());
    assert_eq!(stage(&ui), Some(Stage::Form));
    assert!(
        dialog_error(&ui).is_some_and(|e| e.starts_with("the changes made in $EDITOR are dropped")),
        "{:?}",
        dialog_error(&ui)
    );
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert!(!planned_yaml(&ui).contains("type: ClusterIP"));
}

#[test]
fn nothing_is_sent_until_the_resource_name_is_typed() {
    let model = seed::model();
    let mut ui = shop_preview(&model);
    // d: a server dry run of exactly this plan.
    let dry = press(&mut ui, &model, "d");
    assert_eq!(runs(&dry).len(), 1);
    assert!(runs(&dry)[0].dry_run);
    assert_eq!(runs(&dry)[0].request.confirm_name(), Some(SHOP_IOP));
    let id = runs(&dry)[0].id;
    ui.on_task_update(TaskUpdate::Line {
        id,
        text: "namespace/istio-gateway-shop created (server dry run)".into(),
    });
    ui.on_task_update(TaskUpdate::Finished {
        id,
        result: Ok("dry run done, nothing changed".into()),
    });
    let screen = draw(&ui, &model, 120, 40);
    assert!(screen.contains("SERVER DRY RUN (dryRun=All)"), "{screen}");
    assert!(screen.contains("namespace/istio-gateway-shop created (server dry run)"));

    // y: the confirmation asks for the resource's name; a wrong one sends nothing.
    assert!(press(&mut ui, &model, "y").is_empty());
    let confirm = dialog_text(&draw(&ui, &model, 120, 40));
    assert!(
        confirm.contains(&format!(
            "type {SHOP_IOP} to install gateway istio-gateway-shop/{SHOP_IOP} (revision 1-9-1) in \
             context k1-admin@k1:"
        )),
        "{confirm}"
    );
    press(&mut ui, &model, "istio-ingressgateway");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert!(draw(&ui, &model, 120, 40).contains(&format!("that is not {SHOP_IOP}")));
    press(&mut ui, &model, "-istio-gateway-shop");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(runs(&sent).len(), 1);
    assert!(!runs(&sent)[0].dry_run);
    assert_eq!(
        runs(&sent)[0].request.title(),
        format!("install gateway istio-gateway-shop/{SHOP_IOP} (revision 1-9-1)")
    );
    assert_eq!(ui.state().mode, Mode::Normal);
    let id = runs(&sent)[0].id;
    ui.on_task_update(TaskUpdate::Line {
        id,
        text: format!("istiooperator.install.istio.io/{SHOP_IOP} created"),
    });
    let panel = draw(&ui, &model, 120, 40);
    assert!(
        panel.contains("▶ install gateway istio-gateway-shop/"),
        "{panel}"
    );
}

/// No command is sent without confirmation. Random sessions in both install
/// dialogs: a real run only leaves on enter/y while the screen asks for the resource's name
/// and the name was typed; the facts read is the only other thing asked of the app.
#[test]
fn random_sessions_send_nothing_without_the_typed_name() {
    let model = seed::model();
    // Weighted by repetition: the keys that move a dialog on, and the right names, come
    // often enough for sessions to reach the confirmation.
    let keys = [
        Typed::Key(KeyCode::Tab),
        Typed::Key(KeyCode::Down),
        Typed::Key(KeyCode::Up),
        Typed::Key(KeyCode::Right),
        Typed::Key(KeyCode::Left),
        Typed::Key(KeyCode::Enter),
        Typed::Key(KeyCode::Enter),
        Typed::Key(KeyCode::Enter),
        Typed::Key(KeyCode::Esc),
        Typed::Key(KeyCode::Backspace),
        Typed::Key(KeyCode::Char('y')),
        Typed::Key(KeyCode::Char('y')),
        Typed::Key(KeyCode::Char('y')),
        Typed::Key(KeyCode::Char('d')),
        Typed::Key(KeyCode::Char('e')),
        Typed::Key(KeyCode::Char('I')),
        Typed::Word("istio-gateway-shop"),
        Typed::Word("canary"),
        Typed::Word("1-9-1"),
        Typed::Word(SHOP_IOP),
        Typed::Entered(SHOP_IOP),
        Typed::Word("istio-controlplane-canary"),
        Typed::Entered("istio-controlplane-canary"),
        Typed::Word("31080"),
    ];
    let facts = seed_facts();
    let mut rng = Lcg(3);
    let (mut real, mut dry, mut previews, mut confirms) = (0, 0, 0, 0);
    for _ in 0..1000 {
        let mut ui = new_ui();
        let view = ["2", "3"][rng.next(2)];
        press(&mut ui, &model, view);
        for c in press(&mut ui, &model, "I") {
            if let Command::ReadInstallFacts(id) = c {
                ui.on_task_update(TaskUpdate::InstallFacts {
                    id,
                    facts: Ok(Box::new(facts.clone())),
                });
            }
        }
        // Most sessions start with a valid first field, so that many reach a preview.
        let first = match (view, rng.next(3)) {
            (_, 0) => None,
            ("2", _) => Some(Typed::Word("canary")),
            _ => Some(Typed::Word("istio-gateway-shop")),
        };
        let session: Vec<Typed> = first
            .into_iter()
            .chain((0..(6 + rng.next(30))).map(|_| keys[rng.next(keys.len())]))
            .collect();
        for typed in session {
            for code in typed.codes() {
                // Drawn only at a confirmation: a run sent from anywhere else finds no
                // screen and fails the test all the same.
                let before = (matches!(code, KeyCode::Enter | KeyCode::Char('y'))
                    && stage(&ui) == Some(Stage::Confirm))
                .then(|| draw(&ui, &model, 140, 40));
                for c in press_key(&mut ui, &model, code) {
                    match c {
                        Command::Run(r) if r.dry_run => dry += 1,
                        Command::Run(r) => {
                            real += 1;
                            let name = r
                                .request
                                .confirm_name()
                                .expect("an install names its resource");
                            let asked = format!(
                                "type {name} to {} in context k1-admin@k1: {name}",
                                r.request.title()
                            );
                            let screen = before.as_deref().unwrap_or_else(|| {
                                panic!("{:?} sent by {code:?}", r.request.title())
                            });
                            assert!(
                                dialog_text(screen).contains(&asked),
                                "sent without {asked:?}:\n{screen}"
                            );
                        }
                        Command::ReadInstallFacts(id) => {
                            ui.on_task_update(TaskUpdate::InstallFacts {
                                id,
                                facts: Ok(Box::new(facts.clone())),
                            })
                        }
                        Command::Edit(_) => ui.on_edited(Err("no editor here".into())),
                        Command::Quit
                        | Command::Abort(_)
                        | Command::Resume(_)
                        | Command::Inspect { .. }
                        | Command::ClosePane(_)
                        | Command::Focus(_)
                        | Command::SwitchContext(_) => {}
                    }
                }
                match stage(&ui) {
                    Some(Stage::Preview) => previews += 1,
                    Some(Stage::Confirm) => {
                        confirms += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(previews > 50, "only {previews} keys at a preview");
    assert!(dry > 10, "only {dry} dry runs");
    assert!(
        real > 0,
        "no session confirmed ({confirms} keys at a confirmation): the property was not exercised"
    );
}

#[test]
fn readonly_opens_no_install_and_says_why() {
    let model = seed::model();
    for (view, what) in [("2", "install revision"), ("3", "install gateway")] {
        let mut ui = new_ui();
        ui.set_readonly(true);
        press(&mut ui, &model, view);
        let out = press(&mut ui, &model, "I");
        assert!(out.is_empty(), "{out:?}: not even the facts are read");
        assert_eq!(ui.state().mode, Mode::Normal);
        assert_eq!(
            ui.state().status.as_deref(),
            Some(
                format!("{what} is disabled: meshtop runs with --readonly (nothing is sent)")
                    .as_str()
            )
        );
    }
    // The key belongs to those two views only.
    let mut ui = new_ui();
    press(&mut ui, &model, "6");
    assert!(press(&mut ui, &model, "I").is_empty());
    assert_eq!(ui.state().mode, Mode::Normal);
}

#[test]
fn a_failed_read_is_shown_and_enter_reads_again() {
    let model = seed::model();
    let mut ui = new_ui();
    press(&mut ui, &model, "3");
    let id = facts_read(&press(&mut ui, &model, "I"));
    ui.on_task_update(TaskUpdate::InstallFacts {
        id,
        facts: Err("deployments.apps is forbidden: User \"viewer\" cannot list".into()),
    });
    let screen = draw(&ui, &model, 120, 40);
    assert!(
        screen.contains("✗ reading the cluster failed: deployments.apps is forbidden"),
        "{screen}"
    );
    let again = facts_read(&press_key(&mut ui, &model, KeyCode::Enter));
    assert_ne!(again, id);
    let Mode::Dialog(d) = &ui.state().mode else {
        panic!("closed")
    };
    assert_eq!(
        d.install.as_ref().map(|f| &f.facts),
        Some(&Facts::Reading(again))
    );
}

#[test]
fn the_gateway_revision_follows_the_selection() {
    let model = seed::model();
    let mut ui = new_ui();
    press(&mut ui, &model, "3/sample");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "I");
    let Mode::Dialog(d) = &ui.state().mode else {
        panic!("no dialog")
    };
    let form = d.install.as_ref().expect("form");
    assert_eq!(
        form.value(meshtop::ui::install::FieldId::GatewayRevision),
        "1-9-1"
    );
    // The help lists the key in the Gateways view, as dangerous.
    let mut ui = new_ui();
    press(&mut ui, &model, "3?");
    let help = draw(&ui, &model, 120, 60);
    assert!(
        help.contains("install a gateway (Helm or IstioOperator; type its name to confirm)"),
        "{help}"
    );
}

// --- against the sandbox --------------------------------------------------------------------

mod sandbox {
    use super::*;
    use crate::common::harness;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::api::Api;
    use meshtop::app::tasks::TaskRunner;
    use meshtop::cluster::actions::{AuditLog, Executor};
    use meshtop::cluster::{self, WatchOptions};
    use tokio::sync::mpsc;

    const K1: &str = "assets/scenarios/k1-upgrade.yaml";

    /// The app's loop, reduced to what an install needs: the UI's commands go to the
    /// runner, the runner's updates come back to the UI.
    struct App {
        ui: Ui,
        model: Model,
        events: mpsc::Receiver<Stamped>,
        runner: TaskRunner,
        updates: mpsc::UnboundedReceiver<TaskUpdate>,
    }

    impl App {
        fn keys(&mut self, codes: &[KeyCode]) {
            for &code in codes {
                let commands = press_key(&mut self.ui, &self.model, code);
                for c in commands {
                    match c {
                        Command::Run(run) => self.runner.run(run, &self.model),
                        Command::ReadInstallFacts(id) => {
                            self.runner.read_install_facts(id, &self.model)
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
        }

        fn type_str(&mut self, text: &str) {
            let codes: Vec<KeyCode> = text.chars().map(KeyCode::Char).collect();
            self.keys(&codes);
        }

        /// Feeds the runner's updates to the UI and the watch events to the model, as the
        /// app's loop does, until `done` holds.
        async fn until(&mut self, what: &str, done: impl Fn(&Ui, &Model) -> bool) {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !done(&self.ui, &self.model) {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "timed out waiting for {what}");
                tokio::select! {
                    u = self.updates.recv() => match u {
                        Some(u) => self.ui.on_task_update(u),
                        None => panic!("the runner stopped"),
                    },
                    ev = self.events.recv() => match ev {
                        Some(ev) => {
                            self.model.apply(ev);
                            self.runner.model_changed(&self.model);
                        }
                        None => panic!("the watchers stopped"),
                    },
                    _ = tokio::time::sleep(left) => panic!("timed out waiting for {what}"),
                }
            }
        }
    }

    fn facts_ready(ui: &Ui) -> bool {
        match &ui.state().mode {
            Mode::Dialog(d) => d
                .install
                .as_ref()
                .is_some_and(|f| matches!(f.facts, Facts::Ready(_))),
            _ => false,
        }
    }

    fn dry_run_result(ui: &Ui) -> Option<Result<String, String>> {
        match &ui.state().mode {
            Mode::Dialog(d) => d.dry_run.as_ref()?.result.clone(),
            _ => None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gateway_installed_from_the_tui_lands_in_the_cluster() {
        let (_sandbox, conn) = harness::connected(K1).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty-path");
        std::fs::create_dir_all(&empty).expect("dir");
        let audit = dir.path().join("audit.log");

        let (tx, events) = mpsc::channel(4096);
        let _watchers = cluster::spawn_watchers(&conn, WatchOptions::default(), tx);
        let (utx, updates) = mpsc::unbounded_channel();
        let runner = TaskRunner::new(
            Executor::new(&conn, false, Some(AuditLog::new(&audit))),
            utx,
        )
        .with_istio_namespace("istio-system");
        let mut ui = Ui::new(Keymap::default(), Theme::default());
        ui.set_install_options(PlanOptions {
            istioctl: find_on_path("istioctl", Some(empty.as_os_str())),
            force_istioctl: false,
            file: Some(dir.path().join("iop.yaml")),
            istioctl_args: Vec::new(),
            istioctl_kubeconfig: None,
            helm: None,
            helm_args: Vec::new(),
            chart: None,
        });
        let mut app = App {
            ui,
            model: Model::new(),
            events,
            runner,
            updates,
        };
        // The model as the app builds it: the watchers' events until every source is ready.
        app.until("the initial sync", |_, model| {
            model.sources().len() == Kind::ALL.len()
                && model
                    .sources()
                    .values()
                    .all(|s| !matches!(s, SourceState::Syncing))
        })
        .await;

        // Gateways view, I: the form, its facts read from the sandbox.
        app.type_str("3I");
        app.until("the facts", |ui, _| facts_ready(ui)).await;
        app.type_str("istio-gateway-tui");
        app.keys(&[KeyCode::Tab; 5]);
        app.keys(&[KeyCode::Right]);
        app.keys(&[KeyCode::Tab]);
        // The seed's gateway holds 31080: refused before anything is sent.
        app.type_str("31080");
        app.keys(&[KeyCode::Enter]);
        assert_eq!(stage(&app.ui), Some(Stage::Form));
        let screen = draw(&app.ui, &app.model, 120, 40);
        assert!(
            screen.contains("node port 31080 is already used by service/istio-system/"),
            "{screen}"
        );
        app.keys(&[KeyCode::Backspace]);
        app.type_str("5");
        app.keys(&[KeyCode::Enter]);
        assert_eq!(
            stage(&app.ui),
            Some(Stage::Preview),
            "{:?}",
            dialog_error(&app.ui)
        );
        let preview = draw(&app.ui, &app.model, 120, 40);
        for text in [
            "1. create namespace/istio-gateway-tui (it does not exist)",
            "2. copy configmap/istio-1-9-1 from istio-system to istio-gateway-tui",
            "3. apply istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-tui",
        ] {
            assert!(preview.contains(text), "{text:?} not in\n{preview}");
        }

        // d: the server dry run changes nothing.
        app.keys(&[KeyCode::Char('d')]);
        app.until("the dry run", |ui, _| dry_run_result(ui).is_some())
            .await;
        assert!(
            matches!(dry_run_result(&app.ui), Some(Ok(_))),
            "{:?}",
            dry_run_result(&app.ui)
        );
        let namespaces: Api<Namespace> = Api::all(conn.client.clone());
        assert!(
            namespaces
                .get_opt("istio-gateway-tui")
                .await
                .expect("get")
                .is_none()
        );

        // y, the resource's name, enter: it runs in the task panel.
        app.keys(&[KeyCode::Char('y')]);
        app.type_str("istio-ingressgateway-istio-gateway-tui");
        app.keys(&[KeyCode::Enter]);
        assert_eq!(app.ui.state().mode, Mode::Normal);
        app.until("the install", |ui, _| {
            ui.state().tasks.iter().any(|t| t.result.is_some())
        })
        .await;
        let task = &app.ui.state().tasks[0];
        assert!(
            matches!(&task.result, Some(Ok(s)) if s.contains("istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-tui created")),
            "{task:?}"
        );
        assert_eq!(
            task.lines,
            vec![
                "namespace/istio-gateway-tui created",
                "configmap/istio-1-9-1 copied to istio-gateway-tui",
                "istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-tui created",
            ]
        );
        let panel = draw(&app.ui, &app.model, 160, 40);
        assert!(
            panel.contains(
                "✓ istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-tui created; \
                 operator istio-operator/istio-operator-1-9-1 installs it"
            ),
            "{panel}"
        );

        // The cluster has them: the namespace, the ConfigMap copy, the resource.
        assert!(
            namespaces
                .get_opt("istio-gateway-tui")
                .await
                .expect("get")
                .is_some()
        );
        let copy = Api::<ConfigMap>::namespaced(conn.client.clone(), "istio-gateway-tui")
            .get("istio-1-9-1")
            .await
            .expect("the ConfigMap copy");
        let source = Api::<ConfigMap>::namespaced(conn.client.clone(), "istio-system")
            .get("istio-1-9-1")
            .await
            .expect("the source");
        assert_eq!(copy.data, source.data);
        let iops: Api<kube::api::DynamicObject> = Api::namespaced_with(
            conn.client.clone(),
            "istio-system",
            &kube::api::ApiResource::from_gvk_with_plural(
                &kube::api::GroupVersionKind::gvk("install.istio.io", "v1alpha1", "IstioOperator"),
                "istiooperators",
            ),
        );
        assert!(
            iops.get_opt("istio-ingressgateway-istio-gateway-tui")
                .await
                .expect("get")
                .is_some()
        );
        // The dry run and the install, each one audit line.
        let audit_lines = std::fs::read_to_string(&audit).expect("audit log");
        assert_eq!(audit_lines.lines().count(), 2, "{audit_lines}");

        // The same form again, once the model's watch has the new resource: the gateway now
        // exists, and the form says so at once.
        app.until("the model to have the resource", |_, model| {
            model
                .istio_operators()
                .iter()
                .any(|i| &*i.name == "istio-ingressgateway-istio-gateway-tui")
        })
        .await;
        app.type_str("I");
        app.until("the facts", |ui, _| facts_ready(ui)).await;
        app.type_str("istio-gateway-tui");
        let screen = draw(&app.ui, &app.model, 120, 40);
        assert!(
            screen.contains(
                "gateway istio-gateway-tui/istio-ingressgateway-istio-gateway-tui already exists"
            ),
            "{screen}"
        );
    }

    /// The facts come from the model: a form opened before the watches' first lists reads
    /// the cluster until they are in, then has them; a model of one namespace cannot answer
    /// for the cluster, and says so, before anything is sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_form_waits_for_the_watches_and_a_partial_model_says_why() {
        let (_sandbox, conn) = harness::connected(K1).await;
        let (tx, events) = mpsc::channel(4096);
        let _watchers = cluster::spawn_watchers(&conn, WatchOptions::default(), tx);
        let (utx, updates) = mpsc::unbounded_channel();
        let runner = TaskRunner::new(Executor::new(&conn, false, None), utx);
        let mut app = App {
            ui: new_ui(),
            model: Model::new(),
            events,
            runner,
            updates,
        };
        // Not one event applied yet: the form reads, nothing answers.
        app.type_str("3I");
        assert!(!facts_ready(&app.ui));
        assert!(app.updates.try_recv().is_err(), "answered before any list");
        app.until("the facts, once the watches listed", |ui, _| {
            facts_ready(ui)
        })
        .await;
        assert!(
            app.model
                .sources()
                .get(&Kind::Deployment)
                .is_some_and(|s| *s == SourceState::Ready)
        );

        // Under -n with RBAC that forbids the cluster scope, a source sees one namespace
        // only: the install checks need every one, and say so instead of guessing.
        app.model.apply(Stamped {
            at: jiff::Timestamp::now(),
            event: ClusterEvent::Source(
                Kind::Service,
                SourceState::Partial(
                    "only namespace istio-gateway-sample is visible: cannot list services at the cluster scope".into(),
                ),
            ),
        });
        let (utx, mut updates) = mpsc::unbounded_channel();
        let mut scoped = TaskRunner::new(Executor::new(&conn, false, None), utx);
        scoped.read_install_facts(7, &app.model);
        match updates.try_recv() {
            Ok(TaskUpdate::InstallFacts {
                id: 7,
                facts: Err(e),
            }) => assert!(
                e.contains("services: only namespace istio-gateway-sample is visible"),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
    }
}

// --- in a real terminal ---------------------------------------------------------------------

/// `e` in a real terminal: `meshtop --demo` under tmux, its own tmux server. The editor is a
/// script that asks a question on the normal screen and reads the answer from the terminal:
/// the TUI has left the alternate screen and raw mode while it runs, the answer typed reaches
/// the editor, and afterwards the TUI has its screen and keys back: the preview says the
/// resource was edited, and the install goes on to its end.
mod terminal {
    use crate::common::tmux::{Session, require_tmux};

    #[test]
    fn e_gives_the_terminal_to_the_editor_and_takes_it_back() {
        require_tmux();
        let dir = tempfile::tempdir().expect("tempdir");
        let answers = dir.path().join("answers");
        let editor = dir.path().join("editor.sh");
        std::fs::write(
            &editor,
            format!(
                "#!/bin/sh\nprintf 'service type for the gateway? ' > /dev/tty\nread t < /dev/tty\n\
                 echo \"$t\" >> {}\nsed -i \"s/type: LoadBalancer/type: $t/\" \"$1\"\n",
                answers.display()
            ),
        )
        .expect("editor script");
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let tmux = Session::start_with_env(
            "--demo",
            130,
            40,
            &[
                ("EDITOR", editor.as_os_str()),
                ("XDG_STATE_HOME", dir.path().as_os_str()),
                ("PATH", "/usr/bin:/bin".as_ref()),
            ],
        );

        tmux.wait_for("the demo", |s| {
            s.contains("meshtop-sandbox") && s.contains("1-9-1")
        });
        tmux.keys(&["3"]);
        tmux.wait_for("the Gateways view", |s| s.contains("Gateways ("));
        tmux.keys(&["I"]);
        tmux.wait_for("the form with the facts read", |s| {
            s.contains("install a gateway") && s.contains("checked as you type")
        });
        tmux.keys(&["istio-gateway-tmux", "Enter"]);
        tmux.wait_for("the preview", |s| {
            s.contains("1. create namespace/istio-gateway-tmux")
        });
        tmux.keys(&["e"]);
        tmux.wait_for("the editor's question", |s| {
            s.contains("service type for the gateway?") && !s.contains("Gateways (")
        });
        tmux.keys(&["NodePort", "Enter"]);
        let edited = tmux.wait_for("the preview again, edited", |s| {
            s.contains("the IstioOperator is as edited in $EDITOR")
        });
        assert!(
            edited.contains("1. create namespace/istio-gateway-tmux"),
            "{edited}"
        );
        assert_eq!(
            std::fs::read_to_string(&answers).expect("the editor ran"),
            "NodePort\n",
            "the editor read the answer typed for it"
        );
        // meshtop has its keys back: confirm, type the name, install.
        tmux.keys(&["y"]);
        tmux.wait_for("the confirmation", |s| {
            s.contains("type istio-ingressgateway-istio-gateway-tmux")
        });
        tmux.keys(&["istio-ingressgateway-istio-gateway-tmux", "Enter"]);
        tmux.wait_for("the install's outcome", |s| {
            s.contains(
                "✓ istiooperator.install.istio.io/istio-ingressgateway-istio-gateway-tmux created",
            )
        });
        // The saved resource (the audit log records the run) and a clean exit.
        let audit = std::fs::read_to_string(dir.path().join("meshtop").join("audit.log"))
            .expect("audit log");
        assert!(
            audit.contains("istiooperator/istio-system/istio-ingressgateway-istio-gateway-tmux"),
            "{audit}"
        );
        tmux.keys(&["q"]);
        assert_eq!(tmux.wait_exit(), Some(0));
    }
}
