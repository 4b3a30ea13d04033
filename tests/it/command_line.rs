//! The command line as kubectl and istioctl users type it, run as the real binary: `--demo`
//! before a subcommand.

use std::path::PathBuf;

use serde_json::Value;

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

/// The `name` of each row of a `-o json` listing.
fn names(run: &Run) -> Vec<String> {
    run.json()
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["name"].as_str().expect("a name").to_string())
        .collect()
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
