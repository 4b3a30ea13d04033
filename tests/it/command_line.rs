//! The command line as kubectl and istioctl users type it, run as the real binary: `--demo`
//! before a subcommand, `meshtop check` as an upgrade's gate (failing on the field report's
//! blocking budgets, passing once they are relieved), kubectl's short names and output
//! formats, one proxy's `proxy-status`, kubectl's drain and `-n` habits, shell completion.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use meshtop_sandbox::Sandbox;
use serde_json::Value;

use crate::common::harness;

const K1: &str = "assets/scenarios/k1-upgrade.yaml";

/// The budgets that block a drain on the field report's cluster, as `NAMESPACE/NAME`.
const BLOCKING: [&str; 5] = [
    "istio-system/istio-galley",
    "istio-system/istio-pilot",
    "istio-system/istio-policy",
    "istio-system/istio-telemetry",
    "logging/elasticsearch-k1-master-pdb",
];

/// What a meshtop run gave back.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// meshtop with its own log and audit files, on `target`'s cluster.
struct Meshtop {
    dir: tempfile::TempDir,
    /// The global flags that say which cluster.
    target: Vec<String>,
}

impl Meshtop {
    /// On the sandbox meshtop starts in-process: `--demo`.
    fn demo() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            target: vec!["--demo".into()],
        }
    }

    /// On `sandbox`, through a kubeconfig file as on a real cluster.
    fn on(sandbox: &Sandbox) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, sandbox.kubeconfig_yaml()).expect("write kubeconfig");
        Self {
            target: vec!["--kubeconfig".into(), kubeconfig.display().to_string()],
            dir,
        }
    }

    fn audit(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    async fn run(&self, args: &[&str]) -> Run {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_meshtop"))
            .args(&self.target)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("MESHTOP_LOG_FILE", self.dir.path().join("meshtop.log"))
            .env("MESHTOP_AUDIT_LOG", self.audit())
            .env_remove("KUBECONFIG")
            .env_remove("MESHTOP_KUBECONFIG")
            .env_remove("MESHTOP_CONTEXT")
            .env_remove("MESHTOP_NAMESPACE")
            .env_remove("MESHTOP_OUTPUT")
            .env_remove("MESHTOP_DEMO")
            .env_remove("MESHTOP_DEMO_SCENARIO")
            .env_remove("MESHTOP_FAIL_ON")
            .output()
            .await
            .expect("run meshtop");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed.
    async fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
        run
    }
}

async fn start() -> Sandbox {
    harness::start_file(K1).await.expect("start the sandbox")
}

/// The `name` of each row of a `-o json` listing.
fn names(run: &Run) -> Vec<String> {
    run.json()
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["name"].as_str().expect("a name").to_string())
        .collect()
}

/// `(severity, code)` of each finding of `meshtop check -o json`, and the error messages.
fn findings(run: &Run) -> (BTreeSet<(String, String)>, Vec<String>) {
    let rows = run.json();
    let rows = rows.as_array().expect("an array of findings");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let kinds = rows
        .iter()
        .map(|f| (text(&f["severity"]), text(&f["code"])))
        .collect();
    let errors = rows
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| text(&f["message"]))
        .collect();
    (kinds, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_is_a_flag_so_the_subcommand_after_it_runs() {
    let m = Meshtop::demo();
    let nodes = m.ok(&["get", "nodes", "-o", "json"]).await;
    assert_eq!(
        names(&nodes),
        [
            "k1-master01",
            "k1-master02",
            "k1-master03",
            "k1-node01",
            "k1-node02",
            "k1-node03",
            "k1-node04",
            "k1-node05",
        ]
    );
    let status = m.ok(&["proxy-status"]).await;
    assert!(status.stdout.starts_with("NAME "), "{status:?}");
    assert!(
        status
            .stdout
            .contains("reviews-v1-545db77b95-qvbm7.default"),
        "{status:?}"
    );

    // Another scenario is its own option, and implies --demo.
    let scenario = Meshtop {
        dir: tempfile::tempdir().expect("tempdir"),
        target: vec![
            "--demo-scenario".into(),
            "assets/scenarios/small.yaml".into(),
        ],
    };
    let namespaces = names(&scenario.ok(&["get", "namespaces", "-o", "json"]).await);
    assert!(
        namespaces.contains(&"istio-system".to_string())
            && !namespaces.contains(&"logging".to_string()),
        "the small cluster's, without the field report's logging: {namespaces:?}"
    );

    // A scenario after --demo is not one: the word is taken as a subcommand and refused.
    let run = m.run(&["assets/scenarios/small.yaml"]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("unrecognized subcommand"), "{run:?}");
}

/// The pipeline: `meshtop check` refuses the field report's cluster, naming the
/// budgets that block drains; relieved with `meshtop pdb relax` (every error finding of that
/// cluster is one of them), it passes, while `--fail-on warning` still sees the relief.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_the_field_reports_cluster_until_its_blocking_budgets_are_relieved() {
    let demo = Meshtop::demo().run(&["check"]).await;
    assert_eq!(demo.code, Some(1), "{demo:?}");
    assert!(demo.stdout.starts_with("SEVERITY "), "{demo:?}");
    for pdb in BLOCKING {
        assert!(
            demo.stdout.lines().any(|l| l.starts_with("ERROR ")
                && l.contains("pdb-blocks-drain")
                && l.contains(&format!("PDB {pdb} allows 0 disruptions"))),
            "{pdb} is among the errors:\n{}",
            demo.stdout
        );
    }
    assert_eq!(
        demo.stderr.trim_end(),
        "meshtop: check failed: 5 errors (--fail-on error)"
    );

    let sandbox = start().await;
    let m = Meshtop::on(&sandbox);
    let before = m.run(&["check", "-o", "json"]).await;
    assert_eq!(before.code, Some(1), "{before:?}");
    let (kinds, errors) = findings(&before);
    let error_codes: BTreeSet<&str> = kinds
        .iter()
        .filter(|(s, _)| s == "error")
        .map(|(_, c)| c.as_str())
        .collect();
    assert_eq!(
        error_codes,
        BTreeSet::from(["pdb-blocks-drain"]),
        "{kinds:?}"
    );
    assert_eq!(errors.len(), BLOCKING.len(), "{errors:?}");
    // istiod was asked: the stale proxy is a finding the watches alone cannot make.
    assert!(
        kinds.contains(&("warning".into(), "proxy-not-synced".into())),
        "{kinds:?}"
    );

    // The budgets as `get` lists them, relieved the ways kubectl users and meshtop name them.
    let pdbs = m.ok(&["get", "pdb", "-o", "json"]).await.json();
    let blocking: Vec<(String, String)> = pdbs
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["blocks_nodes"].as_array().is_some_and(|n| !n.is_empty()))
        .map(|r| {
            let s = |k: &str| r[k].as_str().expect(k).to_string();
            (s("namespace"), s("name"))
        })
        .collect();
    let names: Vec<String> = blocking.iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
    assert_eq!(names, BLOCKING);
    for (i, (namespace, name)) in blocking.iter().enumerate() {
        let qualified = format!("{namespace}/{name}");
        let args: Vec<&str> = match i % 3 {
            0 => vec!["pdb", "relax", name, "-n", namespace],
            1 => vec!["-n", namespace, "pdb", "relax", name],
            _ => vec!["pdb", "relax", &qualified],
        };
        let run = m.ok(&args).await;
        assert_eq!(
            run.stdout.trim_end(),
            format!("poddisruptionbudget.policy/{name} relaxed"),
            "{args:?}"
        );
    }

    // The budgets' status follows the relief through the cluster's controller.
    let passed =
        crate::common::wait::eventually("check to pass", Duration::from_secs(30), || async {
            let run = m.run(&["check"]).await;
            (run.code == Some(0)).then_some(run)
        })
        .await;
    assert!(
        !passed.stdout.lines().any(|l| l.starts_with("ERROR ")),
        "{passed:?}"
    );
    assert_eq!(
        passed
            .stdout
            .lines()
            .filter(|l| l.contains("pdb-relaxed"))
            .count(),
        BLOCKING.len(),
        "{passed:?}"
    );
    assert_eq!(passed.stderr, "", "{passed:?}");

    let strict = m
        .run(&["check", "--fail-on", "warning", "-o", "yaml"])
        .await;
    assert_eq!(strict.code, Some(1), "{strict:?}");
    assert!(strict.stdout.contains("code: pdb-relaxed"), "{strict:?}");
    // Warnings only: the errors are gone.
    let reason = strict.stderr.trim_end();
    assert!(
        reason.starts_with("meshtop: check failed: ")
            && reason.ends_with(" warnings (--fail-on warning)")
            && !reason.contains("error"),
        "{strict:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_takes_kubectls_short_names_and_output_formats() {
    let sandbox = start().await;
    let m = Meshtop::on(&sandbox);
    for (canonical, others) in [
        (
            "disruption",
            &["pdb", "pdbs", "poddisruptionbudgets", "PodDisruptionBudget"][..],
        ),
        ("namespaces", &["ns", "namespace"]),
        ("nodes", &["no", "node"]),
        ("gateways", &["gw", "gateway"]),
        ("revisions", &["rev", "revision"]),
        ("proxies", &["proxy"]),
    ] {
        let want = m.ok(&["get", canonical, "-o", "name"]).await.stdout;
        assert!(!want.is_empty(), "{canonical} has rows");
        for other in others {
            let got = m.ok(&["get", other, "-o", "name"]).await.stdout;
            assert_eq!(got, want, "get {other}");
        }
    }

    // kubectl's `kind/name`, without the namespace as kubectl prints them.
    let lines = |run: Run| run.stdout.lines().map(String::from).collect::<Vec<_>>();
    let pdbs = lines(m.ok(&["get", "pdb", "-o", "name"]).await);
    assert_eq!(pdbs.len(), 7, "{pdbs:?}");
    assert!(pdbs.contains(&"poddisruptionbudget.policy/istio-pilot".to_string()));
    assert!(
        pdbs.iter()
            .all(|l| l.starts_with("poddisruptionbudget.policy/"))
    );
    let gateways = lines(m.ok(&["get", "gw", "-o", "name"]).await);
    assert!(
        gateways.contains(&"deployment.apps/istio-ingressgateway".to_string()),
        "{gateways:?}"
    );
    assert_eq!(
        lines(m.ok(&["get", "rev", "-o", "name"]).await),
        ["revision/1-9-1", "revision/(legacy)"]
    );
    // A proxy's rows come from istiod, asked once as proxy-status asks it.
    let proxies = lines(m.ok(&["get", "proxies", "-o", "name"]).await);
    assert!(
        proxies.contains(&"pod/reviews-v1-545db77b95-qvbm7".to_string()),
        "{proxies:?}"
    );
    let revisions = m.ok(&["get", "rev"]).await.stdout;
    assert!(revisions.contains("STALE 1"), "{revisions}");

    // `-n` picks the same rows in every format.
    let logging = m.ok(&["-n", "logging", "get", "pdb", "-o", "name"]).await;
    assert_eq!(
        logging.stdout,
        "poddisruptionbudget.policy/elasticsearch-k1-master-pdb\n"
    );
    let json = m
        .ok(&["-n", "logging", "get", "pdb", "-o", "json"])
        .await
        .json();
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json}");

    // wide: every column whatever the width; the table: those the TUI shows at it.
    let header = |run: Run| run.stdout.lines().next().unwrap_or_default().to_string();
    let narrow = header(m.ok(&["get", "pdb", "--width", "60"]).await);
    let wide = header(m.ok(&["get", "pdb", "-o", "wide", "--width", "60"]).await);
    // The namespace tells budgets apart, so it stays at every width; HEALTHY does not.
    assert!(
        narrow.contains("NAMESPACE") && !narrow.contains("HEALTHY"),
        "{narrow}"
    );
    for column in [
        "NAMESPACE",
        "MIN AVAILABLE",
        "ALLOWED DISRUPTIONS",
        "HEALTHY",
        "BLOCKS DRAIN OF",
    ] {
        assert!(wide.contains(column), "{column} in {wide}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_status_of_one_proxy_shows_each_xds_type() {
    let sandbox = start().await;
    let m = Meshtop::on(&sandbox);
    let stale = "reviews-v1-545db77b95-qvbm7";
    for args in [
        vec!["proxy-status", "reviews-v1-545db77b95-qvbm7.default"],
        vec!["-n", "default", "proxy-status", stale],
        vec!["proxy-status", stale, "--namespace", "default"],
        // A pod's name found in one namespace only needs none.
        vec!["proxy-status", stale],
    ] {
        let run = m.ok(&args).await;
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert!(lines[0].starts_with("NAME "), "{args:?}: {run:?}");
        assert!(
            lines[1].starts_with(&format!("{stale}.default ")),
            "{args:?}: {run:?}"
        );
        assert_eq!(lines[2], "", "{run:?}");
        let types: Vec<(&str, &str)> = lines[4..]
            .iter()
            .map(|l| {
                let mut words = l.split_whitespace();
                (
                    words.next().unwrap_or_default(),
                    words.next().unwrap_or_default(),
                )
            })
            .collect();
        assert!(
            lines[3].starts_with("TYPE ") && lines[3].contains("ACKED"),
            "{run:?}"
        );
        assert_eq!(
            types,
            [
                ("CDS", "SYNCED"),
                ("LDS", "SYNCED"),
                ("EDS", "STALE"),
                ("RDS", "SYNCED"),
                ("ECDS", "NOT")
            ],
            "{run:?}"
        );
    }
    let json = m.ok(&["proxy-status", stale, "-o", "json"]).await.json();
    let rows = json.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["xds"]["EDS"]["state"], "STALE");
    assert_ne!(
        rows[0]["xds"]["EDS"]["sent"],
        rows[0]["xds"]["EDS"]["acked"]
    );

    let missing = m.run(&["proxy-status", "nope.default"]).await;
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert_eq!(
        missing.stderr.trim_end(),
        "meshtop: no istiod replica reports a proxy nope.default"
    );
    assert_eq!(missing.stdout, "");
    let elsewhere = m.run(&["-n", "logging", "proxy-status", stale]).await;
    assert_eq!(elsewhere.code, Some(1), "{elsewhere:?}");
    assert!(
        elsewhere.stderr.contains("in namespace logging"),
        "{elsewhere:?}"
    );

    // `-n` without a proxy: that namespace's lines of the table.
    let default = m.ok(&["-n", "default", "proxy-status"]).await;
    let names: Vec<&str> = default
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(!names.is_empty());
    assert!(names.iter().all(|n| n.ends_with(".default")), "{names:?}");

    // The former name of --istiod-timeout still works.
    m.ok(&["--syncz-timeout", "3", "proxy-status", stale]).await;
}

async fn cordoned(sandbox: &Sandbox, node: &str) -> bool {
    let client = harness::client(sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    Api::<Node>::all(client)
        .get(node)
        .await
        .expect("node")
        .spec
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

fn audit_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectls_drain_and_namespace_habits() {
    let sandbox = start().await;
    let m = Meshtop::on(&sandbox);

    // What meshtop does anyway is accepted; the rest refused before anything is sent.
    for refused in [
        &["--pod-selector", "app=web"][..],
        &["--grace-period", "10"],
        &["--disable-eviction"],
        &["--ignore-daemonsets=false"],
    ] {
        let mut args = vec!["drain", "k1-master01"];
        args.extend(refused);
        let run = m.run(&args).await;
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(
            run.stderr.starts_with(&format!("meshtop: {}", refused[0]))
                && run.stderr.contains(" is not supported: ")
                && run.stderr.trim_end().ends_with("nothing was sent"),
            "{run:?}"
        );
        assert_eq!(run.stdout, "");
    }
    assert!(!cordoned(&sandbox, "k1-master01").await);
    assert_eq!(audit_lines(&m.audit()), 0, "nothing was audited");

    let run = m
        .ok(&[
            "drain",
            "k1-master01",
            "--ignore-daemonsets",
            "--grace-period=-1",
        ])
        .await;
    assert!(run.stdout.contains("node/k1-master01 drained"), "{run:?}");
    assert!(cordoned(&sandbox, "k1-master01").await);
    m.ok(&["uncordon", "k1-master01"]).await;

    // A budget named by -n, as kubectl names it; a contradiction or no namespace refused.
    for args in [
        &["pdb", "relax", "istio-pilot"][..],
        &["-n", "logging", "pdb", "relax", "istio-system/istio-pilot"],
    ] {
        let run = m.run(args).await;
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(
            run.stderr
                .starts_with("meshtop: invalid PodDisruptionBudget "),
            "{run:?}"
        );
    }
    let run = m
        .ok(&[
            "pdb",
            "relax",
            "istio-pilot",
            "-n",
            "istio-system",
            "--dry-run",
        ])
        .await;
    assert_eq!(
        run.stdout,
        "poddisruptionbudget.policy/istio-pilot relaxed (server dry run)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_scripts_complete_subcommands() {
    let m = Meshtop::demo();
    let bash = m.ok(&["completion", "bash"]).await.stdout;
    // bash itself completes `meshtop ch` and `meshtop get -o w` with the script.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("meshtop.bash");
    std::fs::write(&script, &bash).expect("write");
    // As bash calls a completion function: the words so far, the one being completed
    // (`$2`) and the one before it (`$3`).
    let complete = |words: &str| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; \
             _meshtop meshtop \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &program])
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("meshtop ch"), ["check"]);
    assert!(complete("meshtop pro").contains(&"proxy-status".to_string()));
    assert_eq!(complete("meshtop get -o w"), ["wide"]);
    assert_eq!(complete("meshtop completion z"), ["zsh"]);
    let drain = complete("meshtop drain --");
    assert!(
        drain.contains(&"--ignore-daemonsets".to_string()),
        "{drain:?}"
    );
    // Refused or former flags are not offered.
    for hidden in ["--grace-period", "--pod-selector", "--syncz-timeout"] {
        assert!(!drain.contains(&hidden.to_string()), "{drain:?}");
    }

    let zsh = m.ok(&["completion", "zsh"]).await.stdout;
    assert!(zsh.starts_with("#compdef meshtop"), "{zsh}");
    let fish = m.ok(&["completion", "fish"]).await.stdout;
    assert!(fish.contains("complete -c meshtop"), "{fish}");
    for script in [&zsh, &fish] {
        for word in ["proxy-status", "check", "--demo-scenario", "--fail-on"] {
            assert!(script.contains(word), "{word}");
        }
        assert!(
            !script.contains("grace-period") && !script.contains("syncz"),
            "refused and former flags are not offered"
        );
    }
}
