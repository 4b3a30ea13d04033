//! meshtop in a real terminal: `meshtop --demo` under tmux, keys sent with `send-keys`, the
//! screen read with `capture-pane`, the way a person sees it.

use std::process::Command;

use crate::common::process::{SandboxProcess, meshtop};
use crate::common::tmux::{Session, require_tmux};

#[test]
fn demo_shows_the_seeds_cluster_and_quits_cleanly() {
    require_tmux();
    let s = Session::start("--demo", 160, 45);
    let overview = s.wait_for("the overview with revision 1-9-1", |sc| {
        sc.contains("meshtop-sandbox") && sc.contains("1-9-1")
    });
    assert!(
        overview.contains("v1.15.6"),
        "header shows the cluster version:\n{overview}"
    );

    s.keys(&[":", "disruption", "Enter"]);
    let disruption = s.wait_for("the Disruption view", |sc| {
        sc.contains("istio-pilot") && sc.contains("ALLOWED")
    });
    let pilot = disruption
        .lines()
        .find(|l| l.contains("istio-pilot"))
        .expect("istio-pilot row");
    assert!(
        pilot.contains("k1-node03"),
        "istio-pilot blocks k1-node03:\n{disruption}"
    );
    assert!(
        disruption.contains("elasticsearch-k1-master-pdb"),
        "{disruption}"
    );

    s.keys(&[":", "nodes", "Enter"]);
    let nodes = s.wait_for("the Nodes view", |sc| {
        sc.contains("k1-master01") && sc.contains("v1.14.3")
    });
    assert!(nodes.contains("v1.15.6"), "{nodes}");

    s.keys(&["?"]);
    s.wait_for("the help screen", |sc| {
        sc.contains("Help: Nodes") && sc.contains("next row")
    });
    s.keys(&["Escape"]);
    // ESC and a key sent together read as Alt+key: wait for the help to close first, as a
    // person would.
    s.wait_for("the help closed", |sc| !sc.contains("Help:"));

    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0), "q quits with status 0");
    let after = s.screen();
    assert!(
        !after.contains("ALLOWED"),
        "the alternate screen is gone after quitting:\n{after}"
    );
}

#[test]
fn proxies_view_filters_to_the_proxies_out_of_sync() {
    require_tmux();
    let s = Session::start("--demo", 200, 50);
    // Every source listed (no `…` in the header) before judging what the proxies join with.
    s.wait_for("the overview with every source ready", |sc| {
        sc.contains("1-9-1")
            && sc
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains("sources") && !l.contains('…'))
    });
    s.keys(&["4"]);
    // The sandbox's proxies turn SYNCED a few seconds after they connect; reviews-v1 is
    // pinned EDS STALE and the egress gateways RDS NOT SENT.
    let all = s.wait_for("the seed's proxies with their sync states", |sc| {
        let row = |name: &str| sc.lines().find(|l| l.contains(name)).unwrap_or("");
        sc.contains("Proxies (11)")
            && row("details-v1").contains("SYNCED")
            && !row("details-v1").contains("STALE")
            && row("reviews-v1").contains("STALE")
            && row("istio-egressgateway").contains("NOT SENT")
    });
    assert!(all.contains("Proxies (11)"), "{all}");
    assert!(
        all.contains("1.10-alpha"),
        "versions as the proxies report them:\n{all}"
    );

    s.keys(&["x"]);
    let filtered = s.wait_for("only the proxies out of sync", |sc| {
        sc.contains("out of sync only")
    });
    assert!(filtered.contains("(1 of 11)"), "{filtered}");
    let reviews = filtered
        .lines()
        .find(|l| l.contains("reviews-v1"))
        .unwrap_or_else(|| panic!("reviews-v1 stays:\n{filtered}"));
    assert!(reviews.contains("STALE"), "{filtered}");
    assert!(!filtered.contains("details-v1"), "{filtered}");
    assert!(
        !filtered.contains("istio-egressgateway"),
        "NOT SENT counts as in sync:\n{filtered}"
    );

    // Enter on it: the raw nonces of its stale EDS.
    s.keys(&["Enter"]);
    let details = s.wait_for("the proxy's details", |sc| {
        sc.contains("Proxies › reviews-v1") && sc.contains("ACKED")
    });
    let eds = details
        .lines()
        .find(|l| l.contains("EDS ") && l.contains("STALE"))
        .unwrap_or_else(|| panic!("no EDS row:\n{details}"));
    // TYPE STATE SENT ACKED ...: a stale type acknowledged an older nonce than it was sent.
    let cells: Vec<&str> = eds
        .trim_matches(|c| c == '│' || c == ' ')
        .split_whitespace()
        .collect();
    assert!(
        cells.len() > 3 && cells[2] != "-" && cells[3] != "-" && cells[2] != cells[3],
        "nonces sent and acked differ:\n{details}"
    );

    // Esc and x apart: together a terminal reads them as Alt-x.
    s.keys(&["Escape"]);
    s.wait_for("the filtered list again", |sc| {
        sc.contains("out of sync only")
    });
    s.keys(&["x"]);
    s.wait_for("every proxy again", |sc| {
        sc.contains("Proxies (11)") && sc.contains("details-v1")
    });
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
}

#[test]
fn tiny_terminal_gets_a_message_not_a_panic() {
    require_tmux();
    let s = Session::start("--demo", 40, 10);
    let screen = s.wait_for("the too-small message", |sc| {
        sc.to_lowercase().contains("too small")
    });
    assert!(!screen.contains("panicked"), "{screen}");
    s.tmux(&["resize-window", "-t", "t", "-x", "160", "-y", "45"]);
    s.wait_for("the overview after growing", |sc| sc.contains("1-9-1"));
    s.keys(&["C-c"]);
    assert_eq!(s.wait_exit(), Some(0));
}

#[test]
fn bad_theme_is_a_clear_error_with_exit_2() {
    let out = meshtop()
        .args([
            "--demo",
            "--theme",
            "/nonexistent/theme.toml",
            "--log-file",
            "/dev/null",
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/theme.toml"));
}

#[test]
fn a_bad_keymap_file_is_an_error_naming_the_file_the_binding_and_the_key_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keymap.toml");
    std::fs::write(
        &file,
        "[[binding]]\naction = \"describe\"\nkeys = [\"y\"]\n",
    )
    .expect("write");
    let out = meshtop()
        .args(["--demo", "--log-file", "/dev/null", "--keymap"])
        .arg(&file)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: key \"y\" is bound twice in the same place: to \"yaml\" and to \"describe\"",
            file.display()
        )),
        "{stderr}"
    );
    // A good file is taken, by the TUI and by `meshtop keys`, which prints README's table.
    std::fs::write(
        &file,
        "[[binding]]\naction = \"view:disruption\"\nkeys = [\"5\", \"B\"]\n",
    )
    .expect("write");
    let out = meshtop()
        .args(["keys", "--markdown", "--keymap"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| `5` `B` | Disruption: PDBs (budgets) and the drains they block"),
        "{table}"
    );
}

#[test]
fn get_disruption_json_lists_the_blocked_nodes() {
    let out = meshtop()
        .args([
            "get",
            "disruption",
            "-o",
            "json",
            "--demo",
            "--log-file",
            "/dev/null",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 7, "the seed's seven PDBs");
    let blocks = |name: &str| -> Vec<String> {
        rows.iter()
            .find(|r| r["name"] == name)
            .and_then(|r| r["blocks_nodes"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    assert_eq!(blocks("istio-pilot"), ["k1-node03"]);
    assert_eq!(blocks("istio-galley"), ["k1-node04"]);
    assert_eq!(blocks("istio-policy"), ["k1-node02"]);
    assert_eq!(blocks("istio-telemetry"), ["k1-node05"]);
    // Orphaned 1.4 gateway PDBs select nothing, so they block nothing.
    assert!(blocks("istio-ingressgateway").is_empty());
    // The crash-looping es-2 on k1-node05 may go (policy/v1 lets an unhealthy pod be evicted
    // while the budget's healthy pods suffice); its two healthy peers may not.
    let mut es = blocks("elasticsearch-k1-master-pdb");
    es.sort();
    assert_eq!(es, ["k1-node01", "k1-node02"]);
}

/// istiod is asked for its sync status once the pods are listed, not while they are: its
/// answers, as large as the mesh, would compete with the lists. The proxies then show with
/// their states.
#[test]
fn istiod_is_asked_once_the_pods_are_listed() {
    require_tmux();
    let cluster = SandboxProcess::generated("nodes=20,pods=400");
    let s = Session::start(
        &format!("--kubeconfig {}", cluster.kubeconfig.display()),
        200,
        50,
    );
    s.wait_for("every source listed", |sc| {
        sc.lines()
            .nth(1)
            .is_some_and(|l| l.contains("po✓") && !l.contains('…'))
    });
    s.keys(&["4"]);
    s.wait_for("the proxies with istiod's sync states", |sc| {
        sc.contains(" Proxies (") && sc.contains(" SYNCED ") && !sc.contains("waiting for")
    });
    let log = s.log();
    let listed = log.find("kind=Pod state=Ready");
    let asked = log.find("sync poller: polling istiod replica");
    assert!(
        listed.is_some() && asked.is_some() && listed < asked,
        "the pods listed before istiod is asked:\n{log}"
    );
}

/// A change made through the API by another client shows up on meshtop's screen.
#[test]
fn changes_made_through_the_api_reach_the_screen() {
    require_tmux();
    let cluster = SandboxProcess::start("assets/scenarios/k1-upgrade.yaml");
    let s = Session::start(
        &format!("--kubeconfig {}", cluster.kubeconfig.display()),
        160,
        45,
    );
    s.wait_for("the overview", |sc| sc.contains("1-9-1"));

    s.keys(&[":", "nodes", "Enter"]);
    // The Overview names k1-node03 too: wait for the Nodes view's own title.
    s.wait_for("the Nodes view", |sc| {
        sc.contains("Nodes (") && sc.contains("k1-node03")
    });
    cluster.kubectl_ok(&["cordon", "k1-node03"]);
    let nodes = s.wait_for("k1-node03 cordoned", |sc| {
        sc.lines()
            .any(|l| l.contains("k1-node03") && l.contains("cordoned"))
    });
    assert!(
        nodes.lines().filter(|l| l.contains("cordoned")).count() == 1,
        "only k1-node03 is cordoned:\n{nodes}"
    );

    s.keys(&[":", "namespaces", "Enter"]);
    s.wait_for("the Namespaces view", |sc| {
        sc.contains("Namespaces (") && sc.contains("legacy-shop")
    });
    cluster.kubectl_ok(&[
        "label",
        "ns",
        "legacy-shop",
        "istio.io/rev=1-9-1",
        "istio-injection-",
    ]);
    s.wait_for("legacy-shop on revision 1-9-1", |sc| {
        sc.lines()
            .any(|l| l.contains("legacy-shop") && l.contains("1-9-1") && !l.contains("enabled"))
    });

    s.keys(&[":", "disruption", "Enter"]);
    s.wait_for("istio-pilot blocking k1-node03", |sc| {
        sc.lines()
            .any(|l| l.contains("istio-pilot") && l.contains("k1-node03"))
    });
    cluster.set_min_available("istio-system", "istio-pilot", 0);
    let relaxed = s.wait_for("istio-pilot relaxed", |sc| {
        sc.lines().any(|l| {
            l.contains("istio-pilot")
                && !l.contains("k1-node03")
                && l.split_whitespace().any(|c| c == "1")
        })
    });
    assert!(
        relaxed
            .lines()
            .any(|l| l.contains("istio-galley") && l.contains("k1-node04")),
        "{relaxed}"
    );
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
}

/// `meshtop --demo` writing its audit to `audit_log`, with a drain of k1-node03 started from
/// the Nodes view and blocked by istio-pilot's PDB: the session and the blocked screen.
fn drain_node03_until_blocked(audit_log: &std::path::Path) -> (Session, String) {
    let s = Session::start(
        &format!("--demo --audit-log {}", audit_log.display()),
        150,
        45,
    );
    s.wait_for("the overview", |sc| {
        sc.contains("meshtop-sandbox") && sc.contains("1-9-1")
    });

    s.keys(&["6", "/"]);
    s.keys(&["-l", "node03"]);
    s.keys(&["Enter"]);
    s.wait_for("k1-node03 alone in the Nodes view", |sc| {
        sc.contains("Nodes (1 of 8)")
    });
    s.keys(&["D"]);
    let preview = s.wait_for("the drain preview", |sc| {
        sc.contains("cordon node/k1-node03, then evict its pods")
    });
    assert!(
        preview.contains("refused now by PDB istio-pilot"),
        "{preview}"
    );
    // productpage-v1 runs one replica, on k1-node03: the mesh guard asks for consent.
    assert!(
        preview.contains(
            "refused: it would evict the last ready replica of deployment.apps/productpage-v1"
        ),
        "{preview}"
    );
    s.keys(&["L"]);
    s.wait_for("the guard's consent", |sc| {
        sc.contains("evicts the last ready replica of deployment.apps/productpage-v1")
    });
    s.keys(&["y"]);
    s.wait_for("the confirmation", |sc| {
        sc.contains("type k1-node03 to drain node/k1-node03 in context meshtop-sandbox:")
    });
    s.keys(&["-l", "k1-node03"]);
    s.keys(&["Enter"]);
    let blocked = s.wait_for("the drain blocked by istio-pilot's PDB", |sc| {
        // The other three pods go at once; istio-pilot's stays refused.
        sc.contains("refused by PDB istio-pilot")
            && sc.contains("retry in")
            && sc.contains("3/4 evicted · 1 blocked · 1 remaining")
    });
    (s, blocked)
}

/// The field report's worst hour, from the keyboard: drain k1-node03, see istio-pilot's PDB
/// refuse it with a countdown, relax the PDB from the Disruption view, see the drain finish.
#[test]
fn drain_blocked_by_a_pdb_then_relaxed_finishes() {
    require_tmux();
    let audit = tempfile::tempdir().expect("tempdir");
    let audit_log = audit.path().join("audit.log");
    let (s, blocked) = drain_node03_until_blocked(&audit_log);
    assert!(blocked.contains("▶ drain node/k1-node03"), "{blocked}");
    assert!(
        blocked.contains("3/4 evicted · 1 blocked · 1 remaining"),
        "{blocked}"
    );
    assert!(blocked.contains("Ready,cordoned"), "{blocked}");

    s.keys(&["5", "/"]);
    s.keys(&["-l", "pilot"]);
    s.keys(&["Enter"]);
    s.wait_for("istio-pilot alone in the Disruption view", |sc| {
        sc.contains("Disruption (1 of 7)")
    });
    s.keys(&["R"]);
    s.wait_for("the relief preview", |sc| {
        sc.contains("→ minAvailable 0") && sc.contains("unblocks the drains of k1-node03")
    });
    s.keys(&["y"]);
    s.wait_for("the relief confirmation", |sc| {
        sc.contains("type istio-pilot to relax")
    });
    s.keys(&["-l", "istio-pilot"]);
    s.keys(&["Enter"]);
    let done = s.wait_for("the drain to finish", |sc| {
        sc.contains("✓ node/k1-node03 drained: 4 pods evicted, 2 stayed")
    });
    assert!(done.contains("istio-pilot (relaxed)"), "{done}");
    assert!(
        done.contains("✓ poddisruptionbudget.policy/istio-pilot relaxed"),
        "{done}"
    );

    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
    let lines = std::fs::read_to_string(&audit_log).expect("the audit log");
    let actions: Vec<String> = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            format!("{} {} {}", v["action"], v["target"], v["result"])
        })
        .collect();
    assert_eq!(
        actions,
        [
            r#""pdb relax" "poddisruptionbudget/istio-system/istio-pilot" "ok""#,
            r#""drain" "node/k1-node03" "ok""#,
        ]
    );
}

/// The audit log's one line: the drain of k1-node03, interrupted.
fn assert_drain_audited_as_interrupted(audit_log: &std::path::Path) {
    let text = std::fs::read_to_string(audit_log).expect("the audit log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = &lines[0];
    assert_eq!(line["action"], "drain");
    assert_eq!(line["target"], "node/k1-node03");
    assert_eq!(line["dry_run"], false);
    assert_eq!(
        line["result"],
        "interrupted: meshtop stopped before the action finished; what it did stays done"
    );
    let started: jiff::Timestamp = line["started"]
        .as_str()
        .expect("started")
        .parse()
        .expect("time");
    let ended: jiff::Timestamp = line["time"].as_str().expect("time").parse().expect("time");
    assert!(started < ended, "{line}");
}

/// A signal sent to meshtop while its drain is blocked: the terminal is given back (main
/// screen, cursor shown, raw mode off), the drain is audited as interrupted, and meshtop
/// exits with 128 + the signal's number, saying why.
fn signal_during_a_blocked_drain(signal: &str, name: &str, code: i32) {
    require_tmux();
    let audit = tempfile::tempdir().expect("tempdir");
    let audit_log = audit.path().join("audit.log");
    let (s, _) = drain_node03_until_blocked(&audit_log);
    assert_eq!(
        s.screen_and_cursor(),
        "1 0",
        "the TUI: alternate screen, no cursor"
    );
    let pid = s.meshtop_pid();
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(s.wait_exit(), Some(code), "{}", s.history());
    let screen = s.wait_for("the terminal's mode", |sc| sc.contains("terminal mode: "));
    assert_eq!(
        s.screen_and_cursor(),
        "0 1",
        "main screen, cursor shown:\n{screen}"
    );
    assert!(
        screen
            .lines()
            .any(|l| l.trim_end() == "terminal mode: icanon"),
        "raw mode is off:\n{screen}"
    );
    assert!(
        screen.contains(&format!(
            "meshtop: interrupted by {name}: 1 running action stopped, audited as interrupted"
        )),
        "{screen}"
    );
    // Each line starts at the left edge: the newlines carriage-return again.
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with(&format!("meshtop exited with {code}"))),
        "{screen}"
    );
    assert!(
        !screen.contains("ALLOWED"),
        "the alternate screen is gone:\n{screen}"
    );
    assert_drain_audited_as_interrupted(&audit_log);
}

#[test]
fn sigterm_during_a_drain_restores_the_terminal_and_audits_it_as_interrupted() {
    signal_during_a_blocked_drain("TERM", "SIGTERM", 143);
}

#[test]
fn sighup_during_a_drain_restores_the_terminal_and_audits_it_as_interrupted() {
    signal_during_a_blocked_drain("HUP", "SIGHUP", 129);
}

/// Quitting while a drain is blocked asks twice; the drain it stops is audited as
/// interrupted (its line written as meshtop leaves), and the node stays cordoned.
#[test]
fn quitting_during_a_drain_audits_it_as_interrupted() {
    require_tmux();
    let audit = tempfile::tempdir().expect("tempdir");
    let audit_log = audit.path().join("audit.log");
    let (s, _) = drain_node03_until_blocked(&audit_log);
    s.keys(&["q"]);
    s.wait_for("the second ask", |sc| {
        sc.contains("1 action still running: quit again to stop them")
    });
    assert!(
        std::fs::read_to_string(&audit_log)
            .unwrap_or_default()
            .is_empty(),
        "nothing ended yet"
    );
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
    assert_drain_audited_as_interrupted(&audit_log);
}

/// The stamp of the newest istiod log line on screen (its lines start with one).
fn newest_log_stamp(screen: &str) -> Option<String> {
    screen
        .lines()
        .filter_map(|l| l.trim_start_matches('│').split_whitespace().next())
        .filter(|w| w.starts_with("20") && w.ends_with('Z'))
        .max()
        .map(str::to_string)
}

#[test]
fn k9s_keys_read_the_object_live_yaml_describe_logs() {
    require_tmux();
    let cluster = SandboxProcess::start("assets/scenarios/k1-upgrade.yaml");
    // kubectl's write leaves managedFields on the node, as on any real cluster.
    cluster.kubectl_ok(&["label", "node", "k1-node01", "team=mesh"]);
    let s = Session::start(
        &format!("--kubeconfig {}", cluster.kubeconfig.display()),
        120,
        40,
    );
    s.wait_for("the overview", |sc| sc.contains("1-9-1"));

    // y on a node: its YAML as the API server has it, managedFields on one line.
    s.keys(&["6"]);
    s.wait_for("the Nodes view", |sc| sc.contains("Nodes (8)"));
    s.keys(&["/", "node01", "Enter"]);
    s.wait_for("k1-node01 alone", |sc| sc.contains("Nodes (1 of 8)"));
    s.keys(&["y"]);
    let yaml = s.wait_for("the node's YAML", |sc| {
        sc.contains("YAML · node k1-node01") && sc.contains("kind: Node")
    });
    assert!(yaml.contains("team: mesh"), "read live:\n{yaml}");
    let folded = yaml
        .lines()
        .find(|l| l.contains("managedFields:"))
        .unwrap_or_else(|| panic!("no managedFields line:\n{yaml}"));
    assert!(
        folded.contains("entries, folded)") || folded.contains("(1 entry, folded)"),
        "{folded}"
    );
    assert!(!yaml.contains("fieldsV1"), "{yaml}");
    // Ctrl-d: half a page down.
    s.keys(&["C-d"]);
    s.wait_for("half a page down", |sc| {
        sc.contains("rows ") && !sc.contains("rows 1-")
    });
    s.keys(&["Escape"]);
    s.wait_for("the pane closed", |sc| !sc.contains("YAML ·"));

    // d on a PDB: its description ends with its Events.
    s.keys(&["5"]);
    s.wait_for("the Disruption view", |sc| sc.contains("Disruption ("));
    s.keys(&["/", "istio-system istio-ingressgateway", "Enter"]);
    s.wait_for("one budget", |sc| sc.contains("(1 of "));
    s.keys(&["d"]);
    s.wait_for("the description", |sc| {
        sc.contains("Describe · pdb istio-system/istio-ingressgateway") && sc.contains("Name:")
    });
    s.keys(&["G"]);
    let events = s.wait_for("its events", |sc| sc.contains("Events:"));
    let event = events
        .lines()
        .find(|l| l.contains("NoPods"))
        .unwrap_or_else(|| panic!("no NoPods event:\n{events}"));
    assert!(event.contains("controllermanager"), "{event}");
    assert!(events.contains("No matching pods found"), "{events}");
    s.keys(&["Escape"]);
    s.wait_for("the pane closed", |sc| !sc.contains("Describe ·"));

    // l on the revision: its istiod's log, new lines arriving while the pane is open.
    s.keys(&["2"]);
    s.wait_for("the Revisions view", |sc| sc.contains("Revisions ("));
    s.keys(&["/", "1-9-1", "Enter"]);
    s.wait_for("revision 1-9-1 alone", |sc| sc.contains("(1 of "));
    s.keys(&["l"]);
    let first = s.wait_for("istiod's log, followed", |sc| {
        sc.contains("Logs · istio-system/istiod-1-9-1-")
            && sc.contains("· discovery")
            && sc.contains(" following ")
            && sc.contains("ads")
    });
    let before = newest_log_stamp(&first).unwrap_or_else(|| panic!("no stamp:\n{first}"));
    let later = s.wait_for("a newer line", |sc| {
        newest_log_stamp(sc).is_some_and(|stamp| stamp > before)
    });
    assert!(later.contains(" following "), "{later}");
    s.keys(&["f"]);
    s.wait_for("paused", |sc| sc.contains(" paused "));
    s.keys(&["Escape"]);
    s.wait_for("the pane closed", |sc| !sc.contains("Logs ·"));
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
}

#[test]
fn ns_focus_zero_and_a_live_context_switch() {
    require_tmux();
    let s = Session::start("--demo", 120, 40);
    s.wait_for("the overview", |sc| sc.contains("1-9-1"));
    let header = |sc: &str| sc.lines().next().unwrap_or("").to_string();
    s.keys(&["4"]);
    s.wait_for("the proxies", |sc| sc.contains("Proxies (11)"));
    s.keys(&[":", "ns default", "Enter"]);
    let focused = s.wait_for("the focus on default", |sc| {
        header(sc).contains("ns default") && sc.contains("Proxies (")
    });
    let proxies: Vec<&str> = focused.lines().filter(|l| l.contains(".default")).collect();
    assert!(!proxies.is_empty(), "{focused}");
    assert!(!focused.contains("istio-egressgateway"), "{focused}");
    s.keys(&[":", "ns nowhere", "Enter"]);
    s.wait_for("an unknown namespace refused", |sc| {
        sc.contains("unknown namespace \"nowhere\"") && header(sc).contains("ns default")
    });
    s.keys(&["0"]);
    s.wait_for("every namespace", |sc| {
        header(sc).contains("ns all") && sc.contains("Proxies (11)")
    });

    s.keys(&[":", "ctx", "Enter"]);
    s.wait_for("the contexts", |sc| {
        sc.contains("Contexts (2) · current meshtop-sandbox ")
            && sc.contains("  meshtop-sandbox-restricted")
    });
    s.keys(&["Escape"]);
    s.wait_for("the contexts closed", |sc| !sc.contains("Contexts ("));
    s.keys(&[":", "ctx nope", "Enter"]);
    s.wait_for("an unknown context refused", |sc| {
        sc.contains("unknown context \"nope\"") && header(sc).contains("ctx meshtop-sandbox ")
    });
    s.keys(&[":", "ctx meshtop-sandbox-restricted", "Enter"]);
    let switched = s.wait_for("the header on the new context", |sc| {
        header(sc).contains("ctx meshtop-sandbox-restricted")
    });
    assert!(
        switched.contains("context meshtop-sandbox-restricted: reading the cluster anew"),
        "the status line says the views read the new context:\n{switched}"
    );
    s.wait_for("the proxies read again", |sc| sc.contains("Proxies (11)"));
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
}

/// The rolling upgrade in a real terminal: Space marks two workers in the Nodes view, W
/// previews the plan, the first node's name confirms it, and C goes on after each drain;
/// both nodes end uncordoned with the budgets and replicas put back.
#[test]
fn a_rolling_upgrade_of_marked_nodes_runs_with_continue_between_nodes() {
    let s = Session::start("--demo", 200, 50);
    s.wait_for("the overview", |sc| sc.contains("1-9-1"));
    s.keys(&[":", "nodes", "Enter"]);
    s.wait_for("the Nodes view", |sc| sc.contains("k1-node05"));
    s.keys(&["/", "k1-node0", "Enter"]);
    s.keys(&["Space", "Space"]);
    let marked = s.wait_for("two nodes marked", |sc| {
        sc.contains("2 nodes marked: k1-node01, k1-node02")
    });
    assert!(
        marked.contains("✓ k1-node01") && marked.contains("✓ k1-node02"),
        "{marked}"
    );
    assert!(!marked.contains("✓ k1-node03"), "{marked}");
    s.keys(&["W"]);
    let preview = s.wait_for("the plan's preview", |sc| {
        sc.contains("upgrade 2 nodes one at a time") && sc.contains("2. node/k1-node02")
    });
    assert!(preview.contains("wait for continue"), "{preview}");
    s.keys(&["e", "y"]);
    s.keys(&["k1-node01", "Enter"]);
    s.wait_for("node01 drained, waiting for continue", |sc| {
        sc.contains("node/k1-node01 is drained: upgrade it, then press continue")
    });
    s.keys(&["C"]);
    s.wait_for("node02 drained, waiting for continue", |sc| {
        sc.contains("node/k1-node02 is drained: upgrade it, then press continue")
    });
    s.keys(&["C"]);
    let done = s.wait_for("the upgrade's end", |sc| sc.contains("2 nodes upgraded"));
    assert!(done.contains("k1-node01, k1-node02"), "{done}");
    s.keys(&["q"]);
}
