//! The mesh of a 2026 upgrade (`--demo=canary-2026`) as a person sees it: Helm revisions and
//! their tags, ambient namespaces and the waypoint they use, ztunnel on every node, Gateway
//! API gateways beside a chart gateway, and a tag moved with kubectl reaching the screen.

use crate::common::process::{SandboxProcess, meshtop};
use crate::common::tmux::{Session, require_tmux};

/// The line of a screen that contains every word.
fn line_with<'a>(screen: &'a str, words: &[&str]) -> Option<&'a str> {
    screen.lines().find(|l| words.iter().all(|w| l.contains(w)))
}

#[test]
fn every_fact_of_the_2026_mesh_is_on_screen_and_a_tag_move_reaches_it() {
    require_tmux();
    let cluster = SandboxProcess::start("assets/scenarios/canary-2026.yaml");
    let s = Session::start(
        &format!("--kubeconfig {}", cluster.kubeconfig.display()),
        200,
        50,
    );
    s.wait_for("the overview", |sc| sc.contains("1-29-2"));

    s.keys(&[":", "revisions", "Enter"]);
    let revisions = s.wait_for("the revisions with their tags and installers", |sc| {
        line_with(sc, &["1-29-2", "default,prod-stable", "helm istiod-1-29-2"]).is_some()
            && line_with(sc, &["1-30-1", "canary", "helm istiod-1-30-1"]).is_some()
    });
    assert!(
        line_with(&revisions, &["1-27-4", "legacy-billing"]).is_some(),
        "the tag whose revision is gone:\n{revisions}"
    );

    s.keys(&[":", "namespaces", "Enter"]);
    let namespaces = s.wait_for("ambient namespaces and the waypoint", |sc| {
        line_with(sc, &["bookinfo", "ambient", "waypoint"]).is_some()
    });
    for words in [
        &["inventory", "ambient+sidecar"][..],
        &["payments", "prod-stable", "1-29-2", "sidecar"],
        &["checkout", "canary", "1-30-1"],
        &["search", "ambient"],
    ] {
        assert!(
            line_with(&namespaces, words).is_some(),
            "no line with {words:?}:\n{namespaces}"
        );
    }

    s.keys(&[":", "nodes", "Enter"]);
    let nodes = s.wait_for("every node's ztunnel", |sc| {
        sc.contains("ZTUNNEL") && line_with(sc, &["worker-6", "1.27.3"]).is_some()
    });
    assert!(
        line_with(&nodes, &["worker-1", "1.29.2"]).is_some(),
        "{nodes}"
    );

    s.keys(&[":", "gateways", "Enter"]);
    let gateways = s.wait_for("Gateway API gateways and the waypoint", |sc| {
        line_with(sc, &["public", "istio", "http 80/HTTP"]).is_some()
            && line_with(sc, &["waypoint", "istio-waypoint", "used by bookinfo"]).is_some()
    });
    assert!(
        line_with(&gateways, &["partner-edge", "not Programmed"]).is_some(),
        "{gateways}"
    );
    assert!(
        line_with(&gateways, &["istio-ingressgateway", "1-29-2", "n/a"]).is_some(),
        "the chart gateway, whose config comes from istiod:\n{gateways}"
    );

    s.keys(&[":", "proxies", "Enter"]);
    s.wait_for("ztunnels among the proxies, with their WDS", |sc| {
        sc.contains("WDS")
            && sc
                .lines()
                .any(|l| l.contains("ztunnel-") && l.contains("SYNCED"))
    });

    s.keys(&[":", "overview", "Enter"]);
    let overview = s.wait_for("the new findings", |sc| {
        sc.contains("tag-revision-gone") && sc.contains("ztunnel-version-skew")
    });
    assert!(overview.contains("ambient-and-sidecar"), "{overview}");

    // The tag moved by hand, as `kubectl label` does it: the namespaces on it follow.
    s.keys(&[":", "namespaces", "Enter"]);
    s.wait_for("payments on 1-29-2", |sc| {
        line_with(sc, &["payments", "prod-stable", "1-29-2"]).is_some()
    });
    cluster.kubectl_ok(&[
        "label",
        "mutatingwebhookconfiguration",
        "istio-revision-tag-prod-stable",
        "istio.io/rev=1-30-1",
        "--overwrite",
    ]);
    s.wait_for("payments moved to 1-30-1 with its pods to restart", |sc| {
        line_with(sc, &["payments", "prod-stable", "1-30-1", "restart them"]).is_some()
    });
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
}

#[test]
fn get_json_carries_the_2026_facts() {
    let get = |what: &str| -> serde_json::Value {
        let out = meshtop()
            .args([
                "--demo=canary-2026",
                "--log-file",
                "/dev/null",
                "get",
                what,
                "-o",
                "json",
            ])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let namespaces = get("namespaces");
    let ns = |name: &str| {
        namespaces
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no namespace {name}"))
    };
    assert_eq!(ns("bookinfo")["dataplane"], "ambient");
    assert_eq!(ns("bookinfo")["waypoint"], "waypoint");
    assert_eq!(ns("inventory")["dataplane"], "both");
    assert_eq!(ns("payments")["tag"], "prod-stable");

    let revisions = get("revisions");
    let stable = revisions
        .as_array()
        .and_then(|a| a.iter().find(|r| r["revision"] == "1-29-2"))
        .expect("1-29-2");
    assert_eq!(stable["installed_by"], "helm istiod-1-29-2");
    assert_eq!(
        stable["tags"],
        serde_json::json!(["default", "prod-stable"])
    );

    let gateways = get("gateways");
    let waypoint = gateways
        .as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == "waypoint"))
        .expect("the waypoint");
    assert_eq!(waypoint["gateway_api"]["class"], "istio-waypoint");
    assert_eq!(
        waypoint["gateway_api"]["used_by"],
        serde_json::json!(["bookinfo"])
    );

    let nodes = get("nodes");
    let skewed = nodes
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "worker-6"))
        .expect("worker-6");
    assert_eq!(skewed["ztunnels"][0]["version"], "1.27.3");
}

/// `proxy-status` prints the table of the istioctl matching the newest istiod: 1.27+'s
/// SUBSCRIBED TYPES on the 2026 mesh (ztunnels subscribe to WDS and WADS), the column per type
/// on the field report's 1.9 cluster; `--format` picks either.
#[test]
fn proxy_status_prints_the_format_of_the_newest_istiod() {
    let run = |args: &[&str]| -> String {
        let out = meshtop()
            .args(["--log-file", "/dev/null"])
            .args(args)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let current = run(&["--demo=canary-2026", "proxy-status"]);
    let header = current.lines().next().unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "NAME",
            "CLUSTER",
            "ISTIOD",
            "VERSION",
            "SUBSCRIBED",
            "TYPES"
        ]
    );
    assert!(
        current
            .lines()
            .any(|l| l.starts_with("ztunnel-") && l.ends_with("2 (WDS,WADS)")),
        "{current}"
    );
    assert!(
        current.lines().any(|l| l.contains("(CDS,LDS,EDS,RDS")),
        "{current}"
    );
    let legacy = run(&["--demo=canary-2026", "proxy-status", "--format", "legacy"]);
    assert!(legacy.starts_with("NAME "), "{legacy}");
    assert!(legacy.lines().next().unwrap_or_default().contains("ECDS"));
    let old = run(&["--demo", "proxy-status"]);
    assert!(
        old.lines().next().unwrap_or_default().contains("CDS"),
        "the field report's istiod is 1.9: {old}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&["--demo=canary-2026", "proxy-status", "-o", "json"]))
            .expect("json");
    let ztunnel = json
        .as_array()
        .and_then(|a| a.iter().find(|r| r["proxy_type"] == "ztunnel"))
        .expect("a ztunnel row");
    assert_eq!(ztunnel["subscribed"], serde_json::json!(["WDS", "WADS"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_lists_drains_a_budget_blocks_before_those_waiting_for_consent() {
    // Every injected pod of the 2026 mesh has emptyDir volumes, so most drains wait only for
    // consent (`e`), and two are blocked by budgets.
    let (_sandbox, conn) =
        crate::common::harness::connected("assets/scenarios/canary-2026.yaml").await;
    let model = meshtop::app::synced_model(
        &conn,
        meshtop::cluster::WatchOptions::default(),
        std::time::Duration::from_secs(30),
    )
    .await
    .expect("synced");
    let drains = model.blocked_drains();
    let by_budget = drains.by_budget();
    assert!(
        by_budget > 0 && by_budget < drains.len(),
        "{by_budget} of {} by budgets",
        drains.len()
    );
    let screen = crate::common::tui::draw(&crate::common::tui::new_ui(), &model, 200, 50);
    let header = format!(
        "DRAINS {} of {} nodes blocked ({by_budget} by budgets)",
        drains.len(),
        model.node_count()
    );
    let at = screen
        .lines()
        .position(|l| l.contains(&header))
        .unwrap_or_else(|| panic!("{header}:\n{screen}"));
    let listed: Vec<&str> = screen
        .lines()
        .skip(at + 1)
        .map_while(|l| {
            l.split_once("│  ✗ ")
                .map(|(_, rest)| rest.trim_end_matches([' ', '│']))
        })
        .collect();
    assert_eq!(listed.len(), drains.len(), "{screen}");
    let consent = |l: &&str| l.contains("emptyDir") || l.contains("without a controller");
    assert!(!listed[..by_budget].iter().any(consent), "{screen}");
    assert!(listed[by_budget..].iter().all(consent), "{screen}");
    // Each part by name.
    for part in [&listed[..by_budget], &listed[by_budget..]] {
        assert!(part.is_sorted(), "{part:#?}");
    }
}
