//! Views on ratatui's `TestBackend`: every view of the seed's cluster at 80x24 and 200x50
//! as insta snapshots, and the key flows (view switching, `:` commands with completion,
//! filter, drill-down and back, help, quit, a terminal too small).
//!
//! The model is built the way the app builds it: summaries applied as `Stamped` events. The
//! summaries come from the seed's cluster (`assets/scenarios/k1-upgrade.yaml`) through the
//! model's own projection, with what the sandbox's controllers would add to a scenario
//! (pods Running and Ready unless written otherwise, owners from the pod's labels,
//! workload status, ReplicaSets of Deployments), and what the sync poller would send after
//! its first poll of the seed's two istiod replicas (`seed_proxy_status`). The clock is fixed.

use crate::common::seed;
use crate::common::tui::{self, Lcg, Typed, draw, header, key, new_ui, press, press_key, runs};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kube::api::DynamicObject;
use meshtop::model::intern::Interner;
use meshtop::model::project::object_from_dynamic;
use meshtop::model::sync::{ProxyStatus, ReplicaState, ReplicaSync, SyncState, XdsStatus};
use meshtop::model::{ClusterEvent, Kind, Model, Name, SourceState, Stamped};
use meshtop::ui::{Command, Header, Keymap, Mode, ScreenId, Theme, Ui, ViewKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use serde_json::{Value, json};

/// The seed's istiod replicas.
const ISTIOD_A: &str = "istiod-1-9-1-58ff56d6f8-25z28";
const ISTIOD_B: &str = "istiod-1-9-1-58ff56d6f8-dftbh";

/// A nonce as istiod makes them (a UUID), stable for a proxy, type and push.
fn nonce(proxy: &str, kind: &str, push: u32) -> Name {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in proxy.bytes().chain(kind.bytes()).chain(push.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let g = h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    Name::from(format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        g >> 52,
        g & 0xffff_ffff_ffff
    ))
}

/// What a 1.9 istiod reports for one proxy (no cluster, no type, no ECDS: NOT SENT), with
/// the seed's pinned states; every other type SYNCED.
fn proxy_status(
    namespace: &str,
    pod: &str,
    version: &str,
    pinned: &[(usize, SyncState)],
) -> ProxyStatus {
    let proxy = format!("{pod}.{namespace}");
    let xds = |i: usize, kind: &str| {
        let state = pinned.iter().find(|(t, _)| *t == i).map_or(
            if i == 4 {
                SyncState::NotSent
            } else {
                SyncState::Synced
            },
            |(_, s)| *s,
        );
        let (sent, acked) = match state {
            SyncState::Synced => (nonce(&proxy, kind, 1), nonce(&proxy, kind, 1)),
            SyncState::NotSent => (Name::from(""), Name::from("")),
            _ => (nonce(&proxy, kind, 2), nonce(&proxy, kind, 1)),
        };
        XdsStatus::new(state, sent, acked)
    };
    ProxyStatus {
        proxy: Name::from(proxy.as_str()),
        pod: Name::from(pod),
        namespace: Name::from(namespace),
        cluster: Name::from(""),
        proxy_type: Name::from(""),
        version: Name::from(version),
        xds: [
            xds(0, "cluster"),
            xds(1, "listener"),
            xds(2, "endpoint"),
            xds(3, "route"),
            xds(4, "extensionconfig"),
            XdsStatus::ignored(),
            XdsStatus::ignored(),
        ],
    }
}

/// The seed's `istioctl proxy-status`, as the poller sends it: two istiod replicas sharing
/// the proxies (`sandbox.meshtop.dev/istiod`), `1.10-alpha` builds, the egress gateways' RDS
/// NOT SENT and reviews-v1's EDS STALE (`assets/scenarios/k1-upgrade.yaml`).
fn seed_proxy_status() -> Vec<ClusterEvent> {
    const GATEWAYS: &str = "1.10-alpha.f88f93ff2b8172b37c83d6066363d76b4477bd2d";
    const APPS: &str = "1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1";
    const RDS_NOT_SENT: &[(usize, SyncState)] = &[(3, SyncState::NotSent)];
    const EDS_STALE: &[(usize, SyncState)] = &[(2, SyncState::Stale)];
    let sys = "istio-system";
    let sample = "istio-gateway-sample";
    let a = vec![
        proxy_status(sys, "istio-ingressgateway-684d9c7755-brtsv", GATEWAYS, &[]),
        proxy_status(
            sys,
            "istio-egressgateway-66cb5c46c7-qjrwj",
            GATEWAYS,
            RDS_NOT_SENT,
        ),
        proxy_status(
            sample,
            "istio-ingressgateway-istio-gateway-sample-6d6998fc44-twcqp",
            GATEWAYS,
            &[],
        ),
        proxy_status("default", "details-v1-6f769b44-hzj8v", APPS, &[]),
        proxy_status("default", "reviews-v1-545db77b95-qvbm7", APPS, EDS_STALE),
    ];
    let b = vec![
        proxy_status(sys, "istio-ingressgateway-684d9c7755-dvtrd", GATEWAYS, &[]),
        proxy_status(
            sys,
            "istio-egressgateway-66cb5c46c7-c9q4b",
            GATEWAYS,
            RDS_NOT_SENT,
        ),
        proxy_status(
            sample,
            "istio-ingressgateway-istio-gateway-sample-6d6998fc44-rnfnr",
            GATEWAYS,
            &[],
        ),
        proxy_status("default", "api-gateway-6f87d9477f-xg5dq", APPS, &[]),
        proxy_status("default", "productpage-v1-6b746f74dc-9stvs", APPS, &[]),
        proxy_status("default", "ratings-v1-b6994bb9-ltxkz", APPS, &[]),
    ];
    [(ISTIOD_A, a), (ISTIOD_B, b)]
        .into_iter()
        .map(|(istiod, proxies)| {
            ClusterEvent::ProxySync(ReplicaSync {
                namespace: Name::from(sys),
                istiod: Name::from(istiod),
                revision: Name::from("1-9-1"),
                state: ReplicaState::Ok {
                    via: "port-forward",
                    proxies,
                },
            })
        })
        .collect()
}

/// The seed's cluster with istiod's first sync answers.
pub(crate) fn seed_model() -> Model {
    let mut model = seed::model();
    for event in seed_proxy_status() {
        model.apply(Stamped {
            at: seed::observed(),
            event,
        });
    }
    model
}

// --- snapshots ------------------------------------------------------------------------------

#[test]
fn every_view_at_80x24_and_200x50() {
    let model = seed_model();
    for view in ViewKind::ALL {
        let mut ui = new_ui();
        press(&mut ui, &model, &format!(":{}", view.name()));
        ui.on_key(key(KeyCode::Enter), &model);
        assert_eq!(ui.state().current_view(), view);
        for (w, h) in [(80, 24), (200, 50)] {
            let screen = draw(&ui, &model, w, h);
            insta::assert_snapshot!(format!("{}_{w}x{h}", view.name()), screen);
        }
    }
}

/// Enter on the row the filter leaves, at both sizes.
fn details_of(view: ViewKind, filter: &str) -> (Ui, Model) {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, &format!(":{}", view.name()));
    ui.on_key(key(KeyCode::Enter), &model);
    press(&mut ui, &model, &format!("/{filter}"));
    ui.on_key(key(KeyCode::Enter), &model);
    ui.on_key(key(KeyCode::Enter), &model);
    (ui, model)
}

#[test]
fn details_of_each_kind() {
    let cases = [
        (ViewKind::Nodes, "node03", "node_k1-node03"),
        (ViewKind::Revisions, "1-9-1", "revision_1-9-1"),
        (ViewKind::Disruption, "istio-pilot", "pdb_istio-pilot"),
        (ViewKind::Namespaces, "legacy", "namespace_legacy-shop"),
        (
            ViewKind::Gateways,
            "gateway-sample",
            "gateway_istio-gateway-sample",
        ),
        (ViewKind::Proxies, "reviews", "proxy_reviews-v1"),
    ];
    for (view, filter, name) in cases {
        let (ui, model) = details_of(view, filter);
        for (w, h) in [(80, 24), (200, 50)] {
            let screen = draw(&ui, &model, w, h);
            insta::assert_snapshot!(format!("details_{name}_{w}x{h}"), screen);
        }
    }
}

#[test]
fn help_overlay_at_80x24() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "6?");
    insta::assert_snapshot!("help_nodes_80x24", draw(&ui, &model, 80, 24));
}

#[test]
fn header_shows_source_states_readonly_and_scope() {
    let mut model = seed_model();
    let at = seed::observed();
    model.apply(Stamped {
        at,
        event: ClusterEvent::Source(Kind::IstioGateway, SourceState::Absent),
    });
    model.apply(Stamped {
        at,
        event: ClusterEvent::Source(Kind::Pdb, SourceState::Forbidden("list".into())),
    });
    model.apply(Stamped {
        at,
        event: ClusterEvent::Source(Kind::Pod, SourceState::Syncing),
    });
    let header = Header {
        namespace: Some("istio-system".into()),
        readonly: true,
        ..header()
    };
    let ui = new_ui();
    for (w, h) in [(80, 24), (200, 50)] {
        let screen = tui::render(&ui, &model, &header, seed::now(), w, h);
        let head: String = screen.lines().take(2).collect::<Vec<_>>().join("\n");
        insta::assert_snapshot!(format!("header_degraded_{w}x{h}"), head);
    }
}

/// A user who may not list nodes sees why there are none, and no drain answer, instead of
/// "no nodes" and "DRAINS 0 of 0".
#[test]
fn forbidden_nodes_are_said_forbidden_not_absent() {
    let mut model = Model::new();
    for kind in Kind::ALL {
        let state = match kind {
            Kind::Node => SourceState::Forbidden("cannot list nodes at the cluster scope".into()),
            _ => SourceState::Ready,
        };
        model.apply(Stamped {
            at: seed::observed(),
            event: ClusterEvent::Source(kind, state),
        });
    }
    let mut ui = new_ui();
    let overview = draw(&ui, &model, 120, 30);
    assert!(
        overview.contains("DRAINS unknown: nodes forbidden: cannot list nodes at the"),
        "{overview}"
    );
    assert!(!overview.contains("0 of 0"), "{overview}");
    press(&mut ui, &model, "6");
    let nodes = draw(&ui, &model, 120, 30);
    assert!(
        nodes.contains("nodes: forbidden: cannot list nodes at the cluster scope"),
        "{nodes}"
    );
    assert!(!nodes.contains("no nodes"), "{nodes}");
}

/// The API server lost: a banner says since when, and that every row is as last seen; the
/// rows stay. Back, the banner goes.
#[test]
fn a_lost_api_server_is_a_banner_over_the_last_known_rows() {
    let mut model = seed_model();
    let at = seed::observed();
    model.apply(Stamped {
        at,
        event: ClusterEvent::Source(Kind::Node, SourceState::Error("connection refused".into())),
    });
    let ui = new_ui();
    let screen = draw(&ui, &model, 120, 30);
    let second = screen.lines().nth(1).unwrap_or_default();
    assert_eq!(
        second,
        format!(
            " DISCONNECTED since {}  42s ago · every row is as last seen · connection refused",
            meshtop::ui::chrome::clock_time(at)
        )
    );
    assert!(screen.contains("1-9-1"), "{screen}");
    model.apply(Stamped {
        at: seed::now(),
        event: ClusterEvent::Source(Kind::Node, SourceState::Ready),
    });
    let screen = draw(&ui, &model, 120, 30);
    assert!(!screen.contains("DISCONNECTED"), "{screen}");
    assert!(
        screen
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with(" sources ")
    );
}

#[test]
fn an_empty_model_says_so() {
    let model = Model::new();
    let mut ui = new_ui();
    let screen = draw(&ui, &model, 80, 24);
    insta::assert_snapshot!("overview_empty_80x24", screen);
    // Nothing read yet: no claim that all is well.
    assert!(
        screen.contains("no findings yet: the cluster is still being read"),
        "{screen}"
    );
    // Every source listed and still nothing: then there are no findings.
    let mut ready = Model::new();
    for kind in Kind::ALL {
        ready.apply(Stamped {
            at: seed::observed(),
            event: ClusterEvent::Source(kind, SourceState::Ready),
        });
    }
    let screen = draw(&ui, &ready, 80, 24);
    assert!(screen.contains("│no findings "), "{screen}");
    press(&mut ui, &model, "6");
    let screen = draw(&ui, &model, 80, 24);
    // Not "no nodes" before the nodes are listed: that would claim what is not seen.
    assert!(screen.contains("nodes: still being listed"), "{screen}");
    assert!(screen.contains("no events yet"), "{screen}");
    assert!(screen.contains("connecting…"), "{screen}");
    let screen = draw(&ui, &ready, 80, 24);
    assert!(screen.contains("no nodes"), "{screen}");
}

#[test]
fn before_istiods_answer_the_proxies_view_says_it_waits() {
    let model = seed::model();
    let mut ui = new_ui();
    press(&mut ui, &model, "4");
    let screen = draw(&ui, &model, 80, 24);
    insta::assert_snapshot!("proxies_waiting_80x24", screen);
    assert!(
        screen.contains("waiting for istiod sync status"),
        "{screen}"
    );
    press(&mut ui, &model, "o");
    let screen = draw(&ui, &model, 120, 30);
    assert!(
        screen.contains("PROXIES 11") && screen.contains("  waiting for istiod sync status"),
        "{screen}"
    );
    press(&mut ui, &model, "r");
    let screen = draw(&ui, &model, 120, 30);
    assert!(screen.contains("waiting for istiod"), "{screen}");
}

#[test]
fn while_the_pods_are_listed_the_proxies_view_says_istiod_waits_for_them() {
    let mut model = seed::model();
    model.apply(Stamped {
        at: seed::observed(),
        event: ClusterEvent::Source(Kind::Pod, SourceState::Syncing),
    });
    let mut ui = new_ui();
    press(&mut ui, &model, "4");
    let screen = draw(&ui, &model, 100, 24);
    insta::assert_snapshot!("proxies_pods_listing_100x24", screen);
    assert!(
        screen
            .contains("pods: still being listed; istiod's sync status is asked for once they are"),
        "{screen}"
    );
    // Listed: then it is istiod that is waited for.
    model.apply(Stamped {
        at: seed::observed(),
        event: ClusterEvent::Source(Kind::Pod, SourceState::Ready),
    });
    let screen = draw(&ui, &model, 100, 24);
    assert!(
        screen.contains("waiting for istiod sync status") && !screen.contains("still being"),
        "{screen}"
    );
}

/// The seed with one istiod replica no longer answering.
fn seed_with_unreachable_istiod() -> Model {
    let mut model = seed_model();
    model.apply(Stamped {
        at: seed::now(),
        event: ClusterEvent::ProxySync(ReplicaSync {
            namespace: Name::from("istio-system"),
            istiod: Name::from(ISTIOD_A),
            revision: Name::from("1-9-1"),
            state: ReplicaState::Unreachable {
                message: "port-forward to pod istiod-1-9-1-58ff56d6f8-25z28:15014: timed out"
                    .into(),
            },
        }),
    });
    model
}

#[test]
fn an_unreachable_istiod_leaves_its_proxies_unknown() {
    let model = seed_with_unreachable_istiod();
    let mut ui = new_ui();
    press(&mut ui, &model, "4");
    let screen = draw(&ui, &model, 120, 30);
    insta::assert_snapshot!("proxies_istiod_unreachable_120x30", screen);
    let reviews = screen
        .lines()
        .find(|l| l.contains("reviews-v1"))
        .expect("reviews-v1 stays");
    assert!(reviews.contains("UNKNOWN"), "{screen}");
    let ratings = screen
        .lines()
        .find(|l| l.contains("ratings-v1"))
        .expect("ratings-v1");
    assert!(ratings.contains("SYNCED"), "{screen}");
    press(&mut ui, &model, "o");
    insta::assert_snapshot!(
        "overview_istiod_unreachable_120x30",
        draw(&ui, &model, 120, 30)
    );
}

// --- key flows ------------------------------------------------------------------------------

#[test]
fn x_keeps_only_the_proxies_out_of_sync() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "4");
    let proxy_rows = |screen: &str| -> Vec<String> {
        screen
            .lines()
            .filter(|l| l.contains("-v1-") || l.contains("gateway-"))
            .map(str::to_string)
            .collect()
    };
    let all = proxy_rows(&draw(&ui, &model, 200, 50));
    assert_eq!(all.len(), 11, "{all:#?}");
    press(&mut ui, &model, "x");
    assert!(ui.state().screen().problems_only);
    let screen = draw(&ui, &model, 200, 50);
    let rows = proxy_rows(&screen);
    assert_eq!(rows.len(), 1, "{screen}");
    assert!(
        rows[0].contains("reviews-v1") && rows[0].contains("STALE"),
        "{screen}"
    );
    assert!(screen.contains("(1 of 11) out of sync only"), "{screen}");
    assert!(
        !screen.contains("egressgateway"),
        "RDS NOT SENT is normal for an egress gateway:\n{screen}"
    );
    // The `/` filter still works on top, and x again shows everything.
    press(&mut ui, &model, "/details");
    ui.on_key(key(KeyCode::Enter), &model);
    let screen = draw(&ui, &model, 200, 50);
    assert!(
        screen.contains("no rows match the filter"),
        "details-v1 is SYNCED:\n{screen}"
    );
    ui.on_key(key(KeyCode::Esc), &model);
    press(&mut ui, &model, "x");
    assert_eq!(proxy_rows(&draw(&ui, &model, 200, 50)).len(), 11);
    // The help says what x keeps, whole at 80 columns.
    press(&mut ui, &model, "?");
    let help = draw(&ui, &model, 80, 60);
    assert!(
        help.contains(
            "x            toggle only out of sync (STALE/ERROR/unknown; NOT SENT is fine)"
        ),
        "{help}"
    );
    press(&mut ui, &model, "?");
    // The key is the Proxies view's only.
    press(&mut ui, &model, "6x");
    assert!(!ui.state().screen().problems_only);
}

#[test]
fn enter_on_a_proxy_shows_its_nonces() {
    let (mut ui, model) = details_of(ViewKind::Proxies, "reviews");
    let screen = draw(&ui, &model, 200, 50);
    assert!(
        screen.contains("Proxies › reviews-v1-545db77b95-qvbm7.default"),
        "{screen}"
    );
    let eds = screen
        .lines()
        .find(|l| l.contains("│EDS "))
        .expect("an EDS row");
    let proxy = "reviews-v1-545db77b95-qvbm7.default";
    assert!(eds.contains("STALE"), "{screen}");
    assert!(
        eds.contains(&*nonce(proxy, "endpoint", 2)),
        "sent: {screen}"
    );
    assert!(
        eds.contains(&*nonce(proxy, "endpoint", 1)),
        "acked: {screen}"
    );
    assert!(screen.contains("skew: istiod runs 1.9.1"), "{screen}");
    ui.on_key(key(KeyCode::Esc), &model);
    assert_eq!(ui.state().depth(), 0);
    assert_eq!(ui.state().current_view(), ViewKind::Proxies);
}

#[test]
fn digits_and_letters_switch_views() {
    let model = seed_model();
    let mut ui = new_ui();
    assert_eq!(ui.state().current_view(), ViewKind::Overview);
    for (keys, view) in [
        ("2", ViewKind::Revisions),
        ("w", ViewKind::Gateways),
        ("4", ViewKind::Proxies),
        ("b", ViewKind::Disruption),
        ("6", ViewKind::Nodes),
        ("N", ViewKind::Namespaces),
        ("r", ViewKind::Revisions),
        ("o", ViewKind::Overview),
        ("7", ViewKind::Namespaces),
    ] {
        press(&mut ui, &model, keys);
        assert_eq!(ui.state().current_view(), view, "after {keys}");
        let screen = draw(&ui, &model, 80, 24);
        let marker = match view {
            ViewKind::Overview => " Findings ",
            _ => view.title(),
        };
        assert!(screen.contains(marker), "{screen}");
    }
}

#[test]
fn command_mode_completes_and_switches() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, ":n");
    ui.on_key(key(KeyCode::Tab), &model);
    assert_eq!(ui.state().mode, Mode::Command { input: "n".into() });
    let screen = draw(&ui, &model, 80, 24);
    assert!(screen.contains(":n  tab: nodes namespaces"), "{screen}");
    press(&mut ui, &model, "o");
    ui.on_key(key(KeyCode::Tab), &model);
    assert_eq!(
        ui.state().mode,
        Mode::Command {
            input: "nodes".into()
        }
    );
    ui.on_key(key(KeyCode::Enter), &model);
    assert_eq!(ui.state().mode, Mode::Normal);
    assert_eq!(ui.state().current_view(), ViewKind::Nodes);

    // Aliases work; letters typed in the prompt are text, not keys.
    press(&mut ui, &model, ":pdb");
    assert_eq!(ui.state().current_view(), ViewKind::Nodes);
    ui.on_key(key(KeyCode::Enter), &model);
    assert_eq!(ui.state().current_view(), ViewKind::Disruption);

    // An unknown command is a message, and Esc leaves the prompt.
    press(&mut ui, &model, ":nope");
    ui.on_key(key(KeyCode::Enter), &model);
    let screen = draw(&ui, &model, 80, 24);
    assert!(screen.contains("unknown command :nope"), "{screen}");
    press(&mut ui, &model, ":gw");
    ui.on_key(key(KeyCode::Esc), &model);
    assert_eq!(ui.state().mode, Mode::Normal);
    assert_eq!(ui.state().current_view(), ViewKind::Disruption);
    assert_eq!(press(&mut ui, &model, ":q"), vec![]);
    assert_eq!(ui.on_key(key(KeyCode::Enter), &model), vec![Command::Quit]);
}

fn data_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.contains("k1-node") || l.contains("k1-master"))
        .collect()
}

#[test]
fn filter_narrows_rows_and_esc_clears() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "6");
    let all = data_rows(&draw(&ui, &model, 80, 24)).len();
    assert_eq!(all, 8, "the seed has 8 nodes");
    press(&mut ui, &model, "/node03");
    assert_eq!(ui.state().mode, Mode::Filter);
    let screen = draw(&ui, &model, 80, 24);
    let rows = data_rows(&screen);
    assert_eq!(rows.len(), 1, "{screen}");
    assert!(rows[0].contains("k1-node03"), "{screen}");
    assert!(screen.contains("(1 of 8) /node03"), "{screen}");
    // Enter keeps the filter; Esc in normal mode clears it.
    ui.on_key(key(KeyCode::Enter), &model);
    assert_eq!(ui.state().mode, Mode::Normal);
    assert_eq!(data_rows(&draw(&ui, &model, 80, 24)).len(), 1);
    ui.on_key(key(KeyCode::Esc), &model);
    assert_eq!(data_rows(&draw(&ui, &model, 80, 24)).len(), all);
    // Esc while typing clears it too.
    press(&mut ui, &model, "/master");
    assert_eq!(data_rows(&draw(&ui, &model, 80, 24)).len(), 3);
    ui.on_key(key(KeyCode::Esc), &model);
    assert_eq!(ui.state().mode, Mode::Normal);
    assert_eq!(data_rows(&draw(&ui, &model, 80, 24)).len(), all);
}

/// The Proxies view matches a filter against each line's fields where the model keeps
/// them; what it finds is what matching each line's whole text finds, for terms taken from
/// every field (a state, an istiod, a version, a node, a name's part), in either case, as
/// `~letters`, several at once, and terms no line holds. Under `-n` too.
#[test]
fn the_proxies_filter_matches_fields_in_place_as_it_matches_the_text() {
    use meshtop::ui::table::{self, Filter, TableSource};
    use meshtop::ui::views::proxies::ProxiesTable;

    let mut model = seed_model();
    let mut found = 0;
    for focus in [None, Some("default")] {
        model.set_focus(focus);
        let proxies = ProxiesTable::new(&model);
        assert!(proxies.len() > 3, "the seed has proxies");
        let mut words: Vec<String> = Vec::new();
        for row in 0..proxies.len() {
            let mut text = String::new();
            proxies.filter_text(row, &mut text);
            words.extend(text.split_whitespace().map(str::to_string));
        }
        words.sort();
        words.dedup();
        let mut filters: Vec<String> = Vec::new();
        for w in &words {
            let part: String = w.chars().skip(1).take(5).collect();
            filters.push(w.clone());
            filters.push(w.to_uppercase());
            filters.push(part.clone());
            filters.push(format!("~{}", w.chars().step_by(2).collect::<String>()));
            filters.push(format!("{part} stale"));
            filters.push(format!("{w}x"));
        }
        filters
            .extend(["", "  ", "~", "synced eds", "ISTIOD-1-9-1 node01", "nope"].map(String::from));
        for f in &filters {
            let filter = Filter::new(f);
            let by_text = table::rows_matching_text(&proxies, &filter, None);
            assert_eq!(proxies.matching_rows(&filter, None), by_text, "{f:?}");
            let within: Vec<usize> = (0..proxies.len()).step_by(2).collect();
            assert_eq!(
                proxies.matching_rows(&filter, Some(within.clone())),
                table::rows_matching_text(&proxies, &filter, Some(within)),
                "{f:?} within every other row"
            );
            if !by_text.is_empty() && by_text.len() < proxies.len() {
                found += 1;
            }
        }
        // The rows come in NAME order: the sort by NAME keeps them as they are.
        let names: Vec<String> = (0..proxies.len())
            .map(|row| proxies.cells(row)[0].0.clone())
            .collect();
        assert!(proxies.ordered_by(0));
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    }
    assert!(
        found > 50,
        "the filters pick some rows and not others: {found}"
    );
}

#[test]
fn enter_drills_into_a_node_and_esc_comes_back() {
    let model = seed_model();
    let (mut ui, _) = details_of(ViewKind::Nodes, "node03");
    assert_eq!(ui.state().depth(), 1);
    match &ui.state().screen().id {
        ScreenId::Details(s) => assert_eq!(s.label(), "k1-node03"),
        other => panic!("not a details screen: {other:?}"),
    }
    let screen = draw(&ui, &model, 200, 50);
    assert!(screen.contains("Nodes › k1-node03"), "{screen}");
    assert!(
        screen.contains("istio-pilot"),
        "the pilot PDB blocks node03:\n{screen}"
    );
    assert!(screen.contains("DaemonSet: skipped"), "{screen}");
    // Esc goes back to the filtered list, Esc again clears the filter.
    ui.on_key(key(KeyCode::Esc), &model);
    assert_eq!(ui.state().depth(), 0);
    assert_eq!(ui.state().screen().filter, "node03");
    ui.on_key(key(KeyCode::Esc), &model);
    assert_eq!(ui.state().screen().filter, "");
    // Enter on the Overview opens no details: it goes to the finding's object.
    press(&mut ui, &model, "o");
    ui.on_key(key(KeyCode::Enter), &model);
    assert_eq!(ui.state().depth(), 0);
}

#[test]
fn navigation_keys_move_the_selection() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "6");
    draw(&ui, &model, 80, 24);
    let sel = |ui: &Ui| ui.state().screen().selected;
    press(&mut ui, &model, "jj");
    assert_eq!(sel(&ui), 2);
    ui.on_key(key(KeyCode::Up), &model);
    assert_eq!(sel(&ui), 1);
    press(&mut ui, &model, "G");
    assert_eq!(sel(&ui), 7);
    press(&mut ui, &model, "j");
    assert_eq!(sel(&ui), 7, "stays on the last row");
    press(&mut ui, &model, "g");
    assert_eq!(sel(&ui), 0);
    ui.on_key(key(KeyCode::PageDown), &model);
    assert_eq!(sel(&ui), 7, "a page is longer than 8 nodes at 80x24");
    ui.on_key(key(KeyCode::PageUp), &model);
    assert_eq!(sel(&ui), 0);
}

#[test]
fn s_cycles_the_sort_column_and_shift_s_reverses() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "6");
    draw(&ui, &model, 80, 24);
    press(&mut ui, &model, "s");
    let screen = draw(&ui, &model, 80, 24);
    assert!(screen.contains("sorted by NAME↑"), "{screen}");
    press(&mut ui, &model, "S");
    let screen = draw(&ui, &model, 80, 24);
    assert!(screen.contains("sorted by NAME↓"), "{screen}");
    let rows = data_rows(&screen);
    assert!(
        rows.first().is_some_and(|r| r.contains("k1-node05")),
        "{screen}"
    );
    press(&mut ui, &model, "s");
    let screen = draw(&ui, &model, 80, 24);
    assert!(screen.contains("sorted by STATUS↑"), "{screen}");
}

#[test]
fn help_lists_every_key_of_the_current_view() {
    let model = seed_model();
    let keymap = Keymap::default();
    let mut ui = new_ui();
    press(&mut ui, &model, "6?");
    assert_eq!(ui.state().mode, Mode::Help { scroll: 0 });
    // Tall enough for the whole list.
    let screen = draw(&ui, &model, 120, 100);
    let scope = ui.state().scope();
    for b in keymap.help(scope) {
        assert!(
            screen.contains(&b.description),
            "help lacks {:?}:\n{screen}",
            b.description
        );
        assert!(
            screen.contains(&b.keys_label()),
            "help lacks {:?}:\n{screen}",
            b.keys_label()
        );
    }
    assert!(screen.contains("details of the selected row"), "{screen}");
    // Overview has no drill-down, so its help does not offer one.
    ui.on_key(key(KeyCode::Esc), &model);
    assert_eq!(ui.state().mode, Mode::Normal);
    press(&mut ui, &model, "o?");
    let screen = draw(&ui, &model, 120, 60);
    assert!(!screen.contains("details of the selected row"), "{screen}");
    press(&mut ui, &model, "?");
    assert_eq!(ui.state().mode, Mode::Normal);
}

#[test]
fn help_lines_too_long_for_the_terminal_go_on_under_their_description() {
    let model = seed_model();
    let keymap = Keymap::default();
    let mut ui = new_ui();
    press(&mut ui, &model, "6?");
    let scope = ui.state().scope();
    let dangerous = keymap.help(scope).iter().filter(|b| b.dangerous).count();
    assert!(
        dangerous >= 3,
        "the Nodes view has drain, cordon and uncordon"
    );
    // 80 columns: each action's line goes on under its description, nothing cut.
    let narrow = draw(&ui, &model, 80, 120);
    assert_eq!(
        narrow.matches("changes the cluster").count(),
        dangerous,
        "{narrow}"
    );
    let drain = narrow
        .lines()
        .position(|l| l.contains("drain the node: cordon, then evict"))
        .expect("the drain line");
    let next = narrow.lines().nth(drain + 1).unwrap_or_default();
    assert!(
        next.starts_with("│               c") && next.contains("changes the"),
        "{narrow}"
    );
    // A wide terminal's box is as wide as the longest line.
    let wide = draw(&ui, &model, 160, 120);
    assert!(
        wide.lines()
            .any(|l| l.contains("(type its name to confirm)  changes the cluster")),
        "{wide}"
    );
}

#[test]
fn q_and_ctrl_c_quit() {
    let model = seed_model();
    let mut ui = new_ui();
    assert_eq!(press(&mut ui, &model, "q"), vec![Command::Quit]);
    let mut ui = new_ui();
    press(&mut ui, &model, "/abc");
    assert_eq!(press(&mut ui, &model, "q"), vec![], "q is text in a filter");
    assert_eq!(
        ui.on_key(
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            &model
        ),
        vec![Command::Quit]
    );
}

#[test]
fn a_tiny_terminal_gets_a_message_never_a_panic() {
    let model = seed_model();
    let mut ui = new_ui();
    let screen = draw(&ui, &model, 59, 15);
    assert!(
        screen.contains("terminal too small (need 60x15, have 59x15)"),
        "{screen}"
    );
    insta::assert_snapshot!("too_small_40x10", draw(&ui, &model, 40, 10));
    for (w, h) in [(1, 1), (0, 0), (60, 15), (10, 40), (300, 3)] {
        draw(&ui, &model, w, h);
    }
    // Every view and the help at the minimum size.
    for view in ViewKind::ALL {
        press(&mut ui, &model, &format!(":{}", view.name()));
        ui.on_key(key(KeyCode::Enter), &model);
        let screen = draw(&ui, &model, 60, 15);
        assert!(!screen.contains("too small"), "{screen}");
    }
    press(&mut ui, &model, "?");
    draw(&ui, &model, 60, 15);
}

#[test]
fn dirty_until_drawn() {
    let model = seed_model();
    let mut ui = new_ui();
    assert!(ui.dirty(), "the first frame must be drawn");
    ui.mark_drawn();
    assert!(!ui.dirty());
    press(&mut ui, &model, "j");
    assert!(ui.dirty());
    ui.mark_drawn();
    ui.on_resize();
    assert!(ui.dirty());
}

/// The style of the first cell showing `text`.
fn style_of(ui: &Ui, model: &Model, header: &Header, text: &str) -> ratatui::style::Style {
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    terminal
        .draw(|frame| ui.render(frame, model, header, seed::now()))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    let first = text.chars().next().map(String::from).unwrap_or_default();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        if let Some(byte) = line.find(text) {
            let x = line[..byte].chars().count() as u16;
            assert_eq!(buffer[(x, y)].symbol(), first);
            return buffer[(x, y)].style();
        }
    }
    panic!("{text:?} is not on screen");
}

#[test]
fn states_are_colored_by_the_theme() {
    let mut model = seed_model();
    model.apply(Stamped {
        at: seed::observed(),
        event: ClusterEvent::Source(Kind::Pdb, SourceState::Forbidden("list".into())),
    });
    let theme = Theme::default();
    let mut ui = Ui::new(Keymap::default(), theme.clone());
    // The selected row (the first finding) has the selection's style: move it away.
    press(&mut ui, &model, "j");
    let header = Header {
        readonly: true,
        ..header()
    };
    let fg = |text| style_of(&ui, &model, &header, text).fg;
    assert_eq!(fg("ERROR "), theme.severity_error.fg);
    assert_eq!(fg("WARNING "), theme.severity_warning.fg);
    assert_eq!(fg("READ-ONLY"), theme.readonly.fg);
    assert_eq!(fg("✓"), theme.source_ready.fg);
    assert_eq!(fg("forbidden"), theme.source_forbidden.fg);
    // Proxy sync states, in the Proxies view (the selection on the second row).
    let mut proxies = Ui::new(Keymap::default(), theme.clone());
    press(&mut proxies, &model, "4j");
    let sync_fg = |text| style_of(&proxies, &model, &header, text).fg;
    assert_eq!(sync_fg("SYNCED "), theme.sync_synced.fg);
    assert_eq!(sync_fg("STALE "), theme.sync_stale.fg);
    assert_eq!(sync_fg("NOT SENT"), theme.sync_not_sent.fg);
    let mut plain_proxies = Ui::new(Keymap::default(), Theme::no_color());
    press(&mut plain_proxies, &model, "4j");
    for text in ["SYNCED ", "STALE ", "NOT SENT"] {
        let style = style_of(&plain_proxies, &model, &header, text);
        assert!(
            matches!(style.fg, None | Some(Color::Reset)),
            "{text} has a color: {style:?}"
        );
    }
    let no_color = Ui::new(Keymap::default(), Theme::no_color());
    for text in ["ERROR ", "READ-ONLY", "✓", "forbidden", "meshtop"] {
        let style = style_of(&no_color, &model, &header, text);
        let plain = |c: Option<Color>| matches!(c, None | Some(Color::Reset));
        assert!(
            plain(style.fg) && plain(style.bg),
            "{text} has a color: {style:?}"
        );
    }
}

#[test]
fn themes_render_the_same_text() {
    let model = seed_model();
    let plain = draw(&new_ui(), &model, 80, 24);
    for theme in [
        Theme::builtin("light").expect("light"),
        Theme::builtin("high-contrast").expect("high-contrast"),
        Theme::no_color(),
    ] {
        let ui = Ui::new(Keymap::default(), theme);
        assert_eq!(draw(&ui, &model, 80, 24), plain);
    }
}

// --- actions: preview, dry run, confirm; nothing sent without confirmation -------------------

use meshtop::ops::Request;
use meshtop::ui::action::{Blocked, TaskProgress, TaskUpdate};

/// The Nodes view with k1-node03 selected.
fn on_node03(model: &Model) -> Ui {
    let mut ui = new_ui();
    press(&mut ui, model, "6/node03");
    press_key(&mut ui, model, KeyCode::Enter);
    ui
}

#[test]
fn drain_previews_offers_a_dry_run_and_asks_for_the_node_name() {
    let model = seed_model();
    let mut ui = on_node03(&model);
    assert!(
        press(&mut ui, &model, "D").is_empty(),
        "D only opens the dialog"
    );
    let preview = draw(&ui, &model, 120, 40);
    insta::assert_snapshot!("drain_preview_120x40", preview);
    for text in [
        "drain node/k1-node03 · context k1-admin@k1",
        "cordon node/k1-node03, then evict its pods",
        "istio-system/istio-pilot-",
        "refused now by PDB istio-pilot",
        "stay (DaemonSet and mirror pods): kube-system/calico-node-",
        "PDB istio-system/istio-pilot allows 0 disruptions",
    ] {
        assert!(preview.contains(text), "{text:?} not in\n{preview}");
    }

    // d: a server dry run of exactly this drain.
    let dry = press(&mut ui, &model, "d");
    let expected = Request::Drain {
        node: "k1-node03".into(),
        delete_emptydir_data: false,
        force: false,
        evict_last_replica: false,
    };
    assert_eq!(runs(&dry).len(), 1);
    assert!(runs(&dry)[0].dry_run);
    assert_eq!(runs(&dry)[0].request, expected);
    let id = runs(&dry)[0].id;
    ui.on_task_update(TaskUpdate::Finished {
        id,
        result: Err("unable to drain node \"k1-node03\": evicting pod istio-system/istio-pilot-x would be refused: Cannot evict pod as it would violate the pod's disruption budget.".into()),
    });
    let screen = draw(&ui, &model, 120, 40);
    assert!(screen.contains("SERVER DRY RUN (dryRun=All)"), "{screen}");
    assert!(
        screen.contains("would violate the pod's disruption"),
        "{screen}"
    );

    // y: the confirmation asks for the node's name; a wrong name sends nothing.
    assert!(press(&mut ui, &model, "y").is_empty());
    let confirm = draw(&ui, &model, 120, 40);
    assert!(
        confirm.contains("type k1-node03 to drain node/k1-node03 in context k1-admin@k1:"),
        "{confirm}"
    );
    press(&mut ui, &model, "k1-node04");
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    let wrong = draw(&ui, &model, 120, 40);
    assert!(wrong.contains("that is not k1-node03"), "{wrong}");
    for _ in 0.."k1-node04".len() {
        press_key(&mut ui, &model, KeyCode::Backspace);
    }
    press(&mut ui, &model, "k1-node03");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(runs(&sent).len(), 1);
    assert!(!runs(&sent)[0].dry_run);
    assert_eq!(runs(&sent)[0].request, expected);
    assert_eq!(ui.state().mode, Mode::Normal);
}

#[test]
fn the_task_panel_shows_progress_the_refusing_pdb_and_the_countdown() {
    let model = seed_model();
    let mut ui = on_node03(&model);
    press(&mut ui, &model, "Dy");
    press(&mut ui, &model, "k1-node03");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    let id = runs(&sent)[0].id;
    ui.on_task_update(TaskUpdate::Line {
        id,
        text: "node/k1-node03 cordoned".into(),
    });
    let retry_at = seed::now()
        .checked_add(jiff::SignedDuration::from_secs(4))
        .expect("time");
    ui.on_task_update(TaskUpdate::Progress {
        id,
        progress: TaskProgress {
            done: 3,
            total: 4,
            unit: "evicted",
            blocked: vec![Blocked {
                pod: "istio-system/istio-pilot-r4wksrd5mb-9fsbh".into(),
                pdb: Some("istio-pilot".into()),
                message: "Cannot evict pod as it would violate the pod's disruption budget.".into(),
            }],
            retry_at: Some(retry_at),
        },
    });
    assert!(ui.ticking(), "a countdown on screen needs a frame a second");
    let screen = draw(&ui, &model, 120, 30);
    insta::assert_snapshot!("drain_blocked_panel_120x30", screen);
    assert!(screen.contains("3/4 evicted · 1 blocked · 1 remaining · retry in 4s · A aborts"));
    assert!(screen.contains(
        "istio-system/istio-pilot-r4wksrd5mb-9fsbh refused by PDB istio-pilot: allowed disruptions 0"
    ));
    // Relaxed since it refused: the line says the refusal no longer holds.
    let mut relaxed_model = seed_model();
    let mut pdb: Value = seed::docs()
        .into_iter()
        .find(|v: &Value| {
            v["kind"] == "PodDisruptionBudget" && v["metadata"]["name"] == "istio-pilot"
        })
        .expect("istio-pilot's PDB");
    pdb["spec"]["minAvailable"] = json!(0);
    pdb["status"] = json!({"disruptionsAllowed": 1, "currentHealthy": 1, "desiredHealthy": 0,
                           "expectedPods": 1});
    let dynamic: DynamicObject = serde_json::from_value(pdb).expect("object");
    let object = object_from_dynamic(Kind::Pdb, &dynamic, &mut Interner::default()).expect("pdb");
    relaxed_model.apply(Stamped {
        at: seed::observed(),
        event: ClusterEvent::Applied(object),
    });
    let screen = draw(&ui, &relaxed_model, 120, 30);
    assert!(
        screen.contains(
            "istio-system/istio-pilot-r4wksrd5mb-9fsbh was refused by PDB istio-pilot, which allows 1 disruption now"
        ),
        "{screen}"
    );

    // A asks the runner to stop this drain.
    assert_eq!(press(&mut ui, &model, "A"), vec![Command::Abort(id)]);
    assert!(draw(&ui, &model, 120, 30).contains("aborting…"));
    ui.on_task_update(TaskUpdate::Finished {
        id,
        result: Err("drain of node/k1-node03 aborted: 3 of 4 pod(s) evicted; node/k1-node03 remains cordoned".into()),
    });
    assert!(!ui.ticking());
    let screen = draw(&ui, &model, 120, 30);
    assert!(
        screen.contains("✗ drain node/k1-node03: drain of node/k1-node03 aborted"),
        "{screen}"
    );
}

#[test]
fn relax_and_restore_name_the_pdb_and_say_what_changes() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "5/pilot");
    press_key(&mut ui, &model, KeyCode::Enter);
    // Not relaxed yet: nothing to restore.
    assert!(press(&mut ui, &model, "U").is_empty());
    assert_eq!(ui.state().mode, Mode::Normal);
    assert!(
        ui.state()
            .status
            .as_deref()
            .is_some_and(|s| s.contains("nothing to restore")),
        "{:?}",
        ui.state().status
    );
    press(&mut ui, &model, "R");
    let screen = draw(&ui, &model, 120, 30);
    insta::assert_snapshot!("pdb_relax_preview_120x30", screen);
    assert!(screen.contains("→ minAvailable 0"), "{screen}");
    assert!(
        screen.contains("unblocks the drains of k1-node03"),
        "{screen}"
    );
    press(&mut ui, &model, "y");
    press(&mut ui, &model, "istio-pilot");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(
        runs(&sent)[0].request,
        Request::PdbRelax {
            namespace: "istio-system".into(),
            name: "istio-pilot".into()
        }
    );
    // The status line says it started, then how it ended.
    let id = runs(&sent)[0].id;
    let title = "relax poddisruptionbudget/istio-system/istio-pilot";
    assert_eq!(
        ui.state().status.as_deref(),
        Some(format!("{title}: started").as_str())
    );
    ui.on_task_update(TaskUpdate::Finished {
        id,
        result: Err("poddisruptionbudget istio-pilot: 409 Conflict".into()),
    });
    assert_eq!(
        ui.state().status.as_deref(),
        Some(format!("✗ {title}: poddisruptionbudget istio-pilot: 409 Conflict").as_str())
    );
}

#[test]
fn injection_asks_for_a_valid_revision_and_offers_the_restart() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "7/legacy");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "i");
    // Tab completes from the revisions in the cluster.
    press_key(&mut ui, &model, KeyCode::Tab);
    press_key(&mut ui, &model, KeyCode::Char('.'));
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    let screen = draw(&ui, &model, 120, 30);
    assert!(
        screen.contains("revision (tab completes): 1-9-1."),
        "{screen}"
    );
    assert!(
        screen.contains("DNS-1123") || screen.contains("revision"),
        "{screen}"
    );
    press_key(&mut ui, &model, KeyCode::Backspace);
    press_key(&mut ui, &model, KeyCode::Enter);
    // t adds the rollout restart; the preview lists the workloads it touches.
    press(&mut ui, &model, "t");
    let screen = draw(&ui, &model, 120, 30);
    insta::assert_snapshot!("label_namespace_preview_120x30", screen);
    assert!(
        screen.contains("label istio-injection: enabled → (removed"),
        "{screen}"
    );
    assert!(screen.contains("then rollout restart"), "{screen}");
    // Not destructive: y confirms, in the same context the dialog names.
    assert!(press(&mut ui, &model, "y").is_empty());
    assert!(draw(&ui, &model, 120, 30).contains("in context k1-admin@k1?"));
    let sent = press(&mut ui, &model, "y");
    assert_eq!(
        runs(&sent)[0].request,
        Request::LabelNamespace {
            namespace: "legacy-shop".into(),
            revision: "1-9-1".into(),
            restart: true,
            force: false,
        }
    );
}

#[test]
fn injection_by_a_revision_that_does_not_run_is_confirmed_by_the_namespace_name() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "7/legacy");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "i");
    press(&mut ui, &model, "canary");
    press_key(&mut ui, &model, KeyCode::Enter);
    let screen = draw(&ui, &model, 120, 30);
    assert!(
        screen.contains("no revision canary runs in the cluster: new pods would not be injected"),
        "{screen}"
    );
    // y goes on to a confirmation that wants the namespace's name, not a second y.
    assert!(press(&mut ui, &model, "y").is_empty());
    let screen = draw(&ui, &model, 120, 30);
    assert!(
        screen.contains("type legacy-shop to label namespace/legacy-shop"),
        "{screen}"
    );
    assert!(press(&mut ui, &model, "y").is_empty());
    assert!(press_key(&mut ui, &model, KeyCode::Enter).is_empty());
    assert!(matches!(ui.state().mode, Mode::Dialog(_)));
    for _ in 0..3 {
        press_key(&mut ui, &model, KeyCode::Backspace);
    }
    press(&mut ui, &model, "legacy-shop");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(
        runs(&sent)[0].request,
        Request::LabelNamespace {
            namespace: "legacy-shop".into(),
            revision: "canary".into(),
            restart: false,
            force: true,
        }
    );
}

fn random_session(rng: &mut Lcg) -> Vec<Typed> {
    let keys = [
        KeyCode::Char('j'),
        KeyCode::Char('k'),
        KeyCode::Char('D'),
        KeyCode::Char('c'),
        KeyCode::Char('u'),
        KeyCode::Char('l'),
        KeyCode::Char('i'),
        KeyCode::Char('R'),
        KeyCode::Char('U'),
        KeyCode::Char('y'),
        KeyCode::Char('y'),
        KeyCode::Char('d'),
        KeyCode::Char('e'),
        KeyCode::Char('f'),
        KeyCode::Char('t'),
        KeyCode::Char('n'),
        KeyCode::Char('x'),
        KeyCode::Char('6'),
        KeyCode::Char('5'),
        KeyCode::Char('7'),
        KeyCode::Enter,
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Backspace,
        KeyCode::Tab,
    ];
    let words = [
        "k1-node03",
        "k1-node05",
        "k1-node0",
        "istio-pilot",
        "istio-galley",
        "1-9-1",
        "taco-istio=enabled",
        "taco-istio-",
    ];
    let start = ["6", "5", "7"][rng.next(3)];
    let mut out: Vec<Typed> = start
        .chars()
        .map(|c| Typed::Key(KeyCode::Char(c)))
        .collect();
    for _ in 0..(4 + rng.next(14)) {
        if rng.next(5) == 0 {
            out.push(Typed::Word(words[rng.next(words.len())]));
        } else {
            out.push(Typed::Key(keys[rng.next(keys.len())]));
        }
    }
    out
}

/// No command is sent without confirmation. Thousands of random
/// sessions over every action key: a real (not dry) run only ever leaves on `y`/Enter
/// while the screen shows the confirmation naming the exact target and context, with the
/// target's name typed for the destructive ones.
#[test]
fn no_command_is_sent_without_confirmation() {
    let model = seed_model();
    let mut rng = Lcg(7);
    let (mut real, mut dry, mut refused_confirmations) = (0, 0, 0);
    for _ in 0..2000 {
        let mut ui = new_ui();
        for typed in random_session(&mut rng) {
            for code in typed.codes() {
                let confirming = matches!(code, KeyCode::Enter | KeyCode::Char('y'))
                    .then(|| draw(&ui, &model, 140, 40));
                // The name the open confirmation asks for (the action's, or one it asks for
                // this once, as for a revision that does not run).
                let asked_name = match &ui.state().mode {
                    Mode::Dialog(d) => d.confirm_name().map(str::to_string),
                    _ => None,
                };
                for r in runs(&press_key(&mut ui, &model, code)) {
                    if r.dry_run {
                        dry += 1;
                        continue;
                    }
                    real += 1;
                    let screen = confirming.as_deref().unwrap_or_else(|| {
                        panic!("{:?} sent by {code:?}, not a confirming key", r.request)
                    });
                    let asked = match asked_name.as_deref() {
                        Some(name) => format!(
                            "type {name} to {} in context k1-admin@k1: {name}",
                            r.request.title()
                        ),
                        None => format!("{} in context k1-admin@k1?", r.request.title()),
                    };
                    assert!(
                        screen.contains(&asked),
                        "{:?} sent without the screen asking {asked:?}:\n{screen}",
                        r.request
                    );
                }
                let wrong_name = |m: &Mode| match m {
                    Mode::Dialog(d) => d
                        .error
                        .as_deref()
                        .is_some_and(|e| e.starts_with("that is not")),
                    _ => false,
                };
                if code == KeyCode::Enter && wrong_name(&ui.state().mode) {
                    refused_confirmations += 1;
                }
            }
        }
    }
    // The sessions did reach every outcome: the property was exercised, not skipped.
    assert!(real > 20, "only {real} confirmed runs");
    assert!(dry > 20, "only {dry} dry runs");
    assert!(
        refused_confirmations > 5,
        "only {refused_confirmations} wrong names"
    );
}

#[test]
fn readonly_disables_every_action_and_says_why() {
    let model = seed_model();
    let keymap = Keymap::default();
    let dangerous: Vec<char> = keymap
        .bindings()
        .iter()
        .filter(|b| b.dangerous)
        .flat_map(|b| b.keys.iter().map(|k| k.label().to_string()))
        .filter_map(|k| k.chars().next().filter(|_| k.chars().count() == 1))
        .collect();
    assert!(dangerous.len() >= 7, "{dangerous:?}");
    let mut refused = 0;
    for view in ["6", "5", "7"] {
        for &k in &dangerous {
            let mut ui = new_ui();
            ui.set_readonly(true);
            press(&mut ui, &model, view);
            assert!(press(&mut ui, &model, &k.to_string()).is_empty());
            assert_eq!(ui.state().mode, Mode::Normal, "{k} opened a dialog");
            // A key bound in this view says why it does nothing.
            if let Some(status) = ui.state().status.clone() {
                assert!(status.contains("--readonly"), "{view}{k}: {status:?}");
                refused += 1;
            }
        }
    }
    // D c u L W (nodes), R U + T (disruption), i M (namespaces).
    assert_eq!(refused, 11);
    let mut ui = new_ui();
    ui.set_readonly(true);
    press(&mut ui, &model, "6/node03");
    press_key(&mut ui, &model, KeyCode::Enter);
    press(&mut ui, &model, "D");
    let screen = draw(&ui, &model, 100, 30);
    assert!(
        screen.contains("drain is disabled: meshtop runs with --readonly (nothing is sent)"),
        "{screen}"
    );
    // Random sessions under --readonly send nothing at all, not even a dry run.
    let mut rng = Lcg(11);
    for _ in 0..500 {
        let mut ui = new_ui();
        ui.set_readonly(true);
        for typed in random_session(&mut rng) {
            for code in typed.codes() {
                let out = press_key(&mut ui, &model, code);
                assert!(runs(&out).is_empty(), "{out:?} under --readonly");
            }
        }
    }
    // The help says which keys --readonly turns off.
    press(&mut ui, &model, "6?");
    let help = draw(&ui, &model, 120, 50);
    assert!(help.contains("disabled: --readonly"), "{help}");
}

#[test]
fn without_a_writable_audit_log_actions_are_disabled_and_say_why() {
    let model = seed_model();
    let why = "cannot write the audit log /nope/audit.log: Permission denied (os error 13) \
               (give another with --audit-log PATH)";
    let mut ui = new_ui();
    ui.disable_actions(why.to_string());
    // Said from the start, on the status line.
    let screen = draw(&ui, &model, 200, 30);
    assert!(
        screen.contains(&format!("actions are disabled: {why}")),
        "{screen}"
    );
    // Every action key of every view opens nothing and says why.
    let mut refused = 0;
    for (view, keys) in [
        ("6", "DcuLs"),
        ("5", "RU"),
        ("7", "i"),
        ("2", "I"),
        ("3", "I"),
    ] {
        for k in keys.chars() {
            let mut ui = new_ui();
            ui.disable_actions(why.to_string());
            press(&mut ui, &model, view);
            assert!(
                press(&mut ui, &model, &k.to_string()).is_empty(),
                "{view}{k}"
            );
            assert_eq!(ui.state().mode, Mode::Normal, "{view}{k} opened a dialog");
            let status = ui.state().status.clone().unwrap_or_default();
            if status.ends_with(&format!("is disabled: {why}")) {
                refused += 1;
            }
        }
    }
    // Every key but s (sort) is an action's.
    assert_eq!(refused, 9);
    // Random sessions send nothing at all.
    let mut rng = Lcg(17);
    for _ in 0..300 {
        let mut ui = new_ui();
        ui.disable_actions(why.to_string());
        for typed in random_session(&mut rng) {
            for code in typed.codes() {
                let out = press_key(&mut ui, &model, code);
                assert!(runs(&out).is_empty(), "{out:?} without an audit log");
            }
        }
    }
    let mut ui = new_ui();
    ui.disable_actions(why.to_string());
    press(&mut ui, &model, "6?");
    let help = draw(&ui, &model, 120, 70);
    assert!(help.contains("disabled: no audit log"), "{help}");
}

#[test]
fn quitting_while_a_drain_runs_asks_twice() {
    let model = seed_model();
    let mut ui = on_node03(&model);
    press(&mut ui, &model, "Dy");
    press(&mut ui, &model, "k1-node03");
    let sent = press_key(&mut ui, &model, KeyCode::Enter);
    assert_eq!(runs(&sent).len(), 1);
    assert!(press(&mut ui, &model, "q").is_empty());
    assert!(
        ui.state()
            .status
            .as_deref()
            .is_some_and(|s| s.contains("still running")),
    );
    assert_eq!(press(&mut ui, &model, "q"), vec![Command::Quit]);
}

#[test]
fn the_overview_says_how_old_istiods_answers_are_once_they_are_old() {
    let model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "o");
    let answered = model
        .proxy_summary()
        .replicas
        .iter()
        .filter_map(|r| r.answered_at)
        .min()
        .expect("the seed's replicas answered");
    let at = |secs: i64| {
        let now = answered
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .expect("a time");
        tui::render(&ui, &model, &header(), now, 200, 50)
    };
    let istiod = |screen: &str| {
        screen
            .lines()
            .find(|l| l.contains("answering"))
            .map(|l| {
                l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                    .to_string()
            })
            .unwrap_or_else(|| panic!("no istiod line:\n{screen}"))
    };
    // At the default interval answers are seconds old: nothing is said.
    let fresh = at(4);
    assert!(istiod(&fresh).ends_with("answering"), "{fresh}");
    // A large mesh's replicas are asked less often: the line says how old the oldest is.
    let old = at(35);
    assert!(istiod(&old).ends_with("answering, as of 35s ago"), "{old}");
}

#[test]
fn a_budgets_blocked_drains_are_unknown_while_pods_are_still_listed() {
    let mut model = seed_model();
    let mut ui = new_ui();
    press(&mut ui, &model, "5");
    let listed = draw(&ui, &model, 200, 50);
    assert!(listed.contains("k1-node04"), "{listed}");
    let set = |model: &mut Model, state: SourceState| {
        model.apply(Stamped {
            at: seed::now(),
            event: ClusterEvent::Source(Kind::Pod, state),
        });
    };
    // Listing pods again (after a 410, or while they first come): what a budget blocks is
    // not known, whatever the pods seen so far say.
    set(&mut model, SourceState::Syncing);
    let listing = draw(&ui, &model, 200, 50);
    let rows: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains("istio-system ") || l.contains("logging "))
        .collect();
    assert_eq!(rows.len(), 7, "{listing}");
    for row in &rows {
        assert!(
            row.trim_end_matches(['│', ' ']).ends_with("unknown"),
            "{row}"
        );
        assert!(!row.contains("k1-node"), "{row}");
    }
    // Listed again: the same rows as before (the header's clock moved with the events).
    set(&mut model, SourceState::Ready);
    let body = |screen: &str| {
        screen
            .lines()
            .skip(2)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(body(&draw(&ui, &model, 200, 50)), body(&listed));
}
