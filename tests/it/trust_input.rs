//! What meshtop does with input it must not trust, against the sandbox with the real
//! binary: hostile names refused before any request (the CLI's and the TUI's paths),
//! waits bounded at parse time, kubeconfig credentials taken as kubectl takes them, a
//! failing credential plugin told without its secrets, and private files created private.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use crate::common::harness;
use crate::common::process::{CliFiles, Run};
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use meshtop::cluster::Connection;
use meshtop::cluster::actions::{AuditLog, Executor, RunOptions};
use meshtop::ops::{ActionError, Request};
use meshtop_sandbox::Sandbox;

const K1: &str = "assets/scenarios/k1-upgrade.yaml";

/// Names that would change a request's path, or that Kubernetes refuses anyway.
fn hostile() -> Vec<String> {
    [
        "worker-1/status",
        "a/b",
        "a?b",
        "a#b",
        "a%2Fb",
        "..",
        "",
        "K1-NODE03",
    ]
    .into_iter()
    .map(String::from)
    .chain(["a".repeat(254)])
    .collect()
}

/// What the actions could change: every node's schedulability and labels, every
/// namespace's labels, every PDB's spec and annotations.
async fn state(conn: &Connection) -> BTreeMap<String, String> {
    let lp = ListParams::default();
    let mut out = BTreeMap::new();
    let nodes = Api::<Node>::all(conn.client.clone())
        .list(&lp)
        .await
        .expect("nodes");
    for n in nodes {
        let key = format!("node/{}", n.metadata.name.clone().unwrap_or_default());
        let spec = serde_json::to_string(&(n.spec, n.metadata.labels)).expect("json");
        out.insert(key, spec);
    }
    let namespaces = Api::<Namespace>::all(conn.client.clone())
        .list(&lp)
        .await
        .expect("namespaces");
    for ns in namespaces {
        let key = format!("namespace/{}", ns.metadata.name.clone().unwrap_or_default());
        out.insert(
            key,
            serde_json::to_string(&ns.metadata.labels).expect("json"),
        );
    }
    let pdbs = Api::<PodDisruptionBudget>::all(conn.client.clone())
        .list(&lp)
        .await
        .expect("pdbs");
    for p in pdbs {
        let key = format!(
            "pdb/{}/{}",
            p.metadata.namespace.clone().unwrap_or_default(),
            p.metadata.name.clone().unwrap_or_default()
        );
        let spec = serde_json::to_string(&(p.spec, p.metadata.annotations)).expect("json");
        out.insert(key, spec);
    }
    assert!(out.len() > 20, "{out:?}");
    out
}

/// Runs the meshtop binary on a kubeconfig, given by flag, with the files' audit log and log.
async fn meshtop(kubeconfig: &Path, files: &CliFiles, args: &[&str]) -> Run {
    tokio::process::Command::from(files.meshtop())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .await
        .expect("run meshtop")
        .into()
}

/// Each action command on a hostile name, and the field its error must name.
fn commands(name: &str) -> Vec<(Vec<String>, &'static str)> {
    let v = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let node = "invalid node name";
    let pdb = "invalid PodDisruptionBudget name";
    // `NAMESPACE/NAME` splits at the first `/`: a name with one fails as the PDB's name.
    let pdb_namespace = if name.contains('/') {
        pdb
    } else {
        "invalid namespace"
    };
    vec![
        (v(&["drain", name, "--timeout", "5s"]), node),
        (v(&["cordon", name]), node),
        (v(&["uncordon", name]), node),
        (v(&["label", "node", name, "taco-istio=enabled"]), node),
        (
            v(&["label", "namespace", name, "--rev", "1-9-1", "--restart"]),
            "invalid namespace",
        ),
        (v(&["pdb", "relax", &format!("istio-system/{name}")]), pdb),
        (v(&["pdb", "restore", &format!("istio-system/{name}")]), pdb),
        (
            v(&["pdb", "relax", &format!("{name}/istio-pilot")]),
            pdb_namespace,
        ),
        (
            v(&["pdb", "restore", &format!("{name}/istio-pilot")]),
            pdb_namespace,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_on_the_command_line_are_refused_before_any_request() {
    let (sandbox, conn) = harness::connected(K1).await;
    let before = state(&conn).await;
    let files = CliFiles::new(&sandbox);
    // A server that only counts connections: the same kubeconfig pointed at it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    silent.set_nonblocking(true).expect("nonblocking");
    let silent_kubeconfig = files.dir().join("silent.kubeconfig");
    let silent_url = format!("https://{}", silent.local_addr().expect("addr"));
    std::fs::write(
        &silent_kubeconfig,
        sandbox
            .kubeconfig_yaml()
            .replace(&sandbox.url(), &silent_url),
    )
    .expect("kubeconfig");

    for name in hostile() {
        for (args, field) in commands(&name) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            for kubeconfig in [&files.kubeconfig, &silent_kubeconfig] {
                let out = meshtop(kubeconfig, &files, &args).await;
                assert_eq!(out.code, Some(2), "{args:?}\n{out}");
                let expected = format!("{field} ");
                assert!(
                    out.stderr.starts_with("meshtop: invalid ") && out.stderr.contains(&expected),
                    "{args:?}: {out}"
                );
                assert_eq!(out.stdout, "", "{args:?}");
            }
        }
    }
    let out = meshtop(&files.kubeconfig, &files, &["drain", "worker-1/status"]).await;
    assert_eq!(
        out.stderr,
        "meshtop: invalid node name \"worker-1/status\": a lowercase RFC 1123 subdomain must \
         consist of lower case alphanumeric characters, '-' or '.', and must start and end with \
         an alphanumeric character (e.g. 'example.com', regex used for validation is \
         '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n"
    );

    // Not even a connection was opened, nothing changed, nothing was audited.
    let accepted = silent.accept().map(|(_, peer)| peer);
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "{accepted:?}"
    );
    assert_eq!(state(&conn).await, before);
    assert!(!files.audit.exists(), "an audit log was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_from_the_tui_path_are_refused_by_the_executor() {
    let (_sandbox, conn) = harness::connected(K1).await;
    let before = state(&conn).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let executor = Executor::new(&conn, false, Some(AuditLog::new(&audit)));
    let opts = RunOptions {
        drain_timeout: Duration::from_secs(5),
        ..RunOptions::default()
    };
    let report = |_| {};
    for name in hostile() {
        let requests = [
            Request::Drain {
                node: name.clone(),
                delete_emptydir_data: false,
                force: false,
                evict_last_replica: true,
            },
            Request::Cordon { node: name.clone() },
            Request::Uncordon { node: name.clone() },
            Request::LabelNode {
                node: name.clone(),
                change: "taco-istio=enabled".into(),
            },
            Request::LabelNamespace {
                namespace: name.clone(),
                revision: "1-9-1".into(),
                restart: true,
                force: true,
            },
            Request::PdbRelax {
                namespace: "istio-system".into(),
                name: name.clone(),
            },
            Request::PdbRestore {
                namespace: name.clone(),
                name: "istio-pilot".into(),
                force: true,
            },
        ];
        for request in requests {
            // The executor's own check, without the request's: what the TUI's task runner
            // calls.
            let result = meshtop::cluster::actions::run(&executor, &request, &opts, &report).await;
            assert!(
                matches!(&result, Err(ActionError::Invalid(e)) if e.starts_with("invalid ")),
                "{request:?}: {result:?}"
            );
            assert!(request.validate().is_err(), "{request:?}");
        }
        let waited = executor
            .wait_rollouts(
                &name,
                &["deployment.apps/x".into()],
                Duration::from_secs(1),
                &|_| {},
            )
            .await;
        assert!(matches!(waited, Err(ActionError::Invalid(_))), "{waited:?}");
    }
    assert_eq!(state(&conn).await, before);
    assert!(!audit.exists(), "an audit log was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_past_the_clock_are_refused_before_anything_is_sent() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let files = CliFiles::new(&sandbox);
    let kc = files.kubeconfig.clone();
    let huge = format!("{}h", u64::MAX / 3600);
    for args in [
        vec!["get", "nodes", "--sync-timeout", "18446744073709551615"],
        vec!["proxy-status", "--sync-timeout", "18446744073709551615"],
        vec!["drain", "k1-node05", "--timeout", &huge],
        vec!["drain", "k1-node05", "--timeout", "0s"],
        vec![
            "label",
            "namespace",
            "legacy-shop",
            "--rev",
            "1-9-1",
            "--restart",
            "--timeout",
            &huge,
        ],
    ] {
        let out = meshtop(&kc, &files, &args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        let flag = args.iter().rfind(|a| a.starts_with("--")).expect("a flag");
        assert!(out.stderr.contains(flag), "{args:?}: {out}");
    }
    assert!(!files.audit.exists(), "an audit log was written");

    // `--timeout 0s` is what the help says: restart, and do not wait for the rollouts.
    let out = meshtop(
        &kc,
        &files,
        &[
            "label",
            "namespace",
            "legacy-shop",
            "--rev",
            "1-9-1",
            "--restart",
            "--timeout",
            "0s",
        ],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .contains("deployment.apps/storefront restarted\n")
            && !out.stdout.contains("rolled out"),
        "{out}"
    );
}

/// The sandbox's kubeconfig with the admin user's credentials changed by `change`.
fn with_admin_user(sandbox: &Sandbox, change: impl FnOnce(&mut serde_yaml::Mapping)) -> String {
    let mut v: serde_yaml::Value =
        serde_yaml::from_str(&sandbox.kubeconfig_yaml()).expect("kubeconfig");
    let user = v["users"][0]["user"]
        .as_mapping_mut()
        .expect("the admin user");
    change(user);
    serde_yaml::to_string(&v).expect("yaml")
}

fn admin_token(user: &mut serde_yaml::Mapping) -> String {
    user.remove("token")
        .and_then(|t| t.as_str().map(str::to_string))
        .expect("a token")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_ending_in_a_newline_works_and_the_files_are_private() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let yaml = with_admin_user(&sandbox, |user| {
        let token = admin_token(user);
        user.insert("token".into(), format!("{token}\n").into());
    });
    let written: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("yaml");
    let token = written["users"][0]["user"]["token"]
        .as_str()
        .unwrap_or_default();
    assert!(token.len() > 1 && token.ends_with('\n'), "{token:?}");
    let files = CliFiles::with_kubeconfig(&yaml);
    let args = [
        "--context",
        "meshtop-sandbox",
        "cordon",
        "k1-node05",
        "--dry-run",
    ];
    let out = meshtop(&files.kubeconfig, &files, &args).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "node/k1-node05 cordoned (server dry run)\n");
    assert_eq!(mode(&files.audit), 0o600);
    assert_eq!(mode(&files.log), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_ending_in_a_newline_works() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    let yaml = with_admin_user(&sandbox, |user| {
        let token = admin_token(user);
        std::fs::write(&token_file, format!("{token}\n")).expect("token file");
        user.insert("tokenFile".into(), token_file.display().to_string().into());
    });
    let files = CliFiles::with_kubeconfig(&yaml);
    let out = meshtop(
        &files.kubeconfig,
        &files,
        &["get", "nodes", "-o", "json", "--sync-timeout", "30"],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("\"k1-node05\""), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_credential_plugin_is_told_without_its_secrets() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("credential-plugin");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho 'credential-plugin: the identity provider said no' >&2\nexit 3\n",
    )
    .expect("plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let yaml = with_admin_user(&sandbox, |user| {
        admin_token(user);
        let exec: serde_yaml::Value = serde_yaml::from_str(&format!(
            "apiVersion: client.authentication.k8s.io/v1beta1\n\
             command: {}\n\
             args: [--password, hunter2]\n\
             env: [{{name: SECRET, value: hunter2}}]\n",
            plugin.display()
        ))
        .expect("exec");
        user.insert("exec".into(), exec);
    });
    let files = CliFiles::with_kubeconfig(&yaml);
    for args in [
        vec!["get", "nodes"],
        vec!["cordon", "k1-node05", "--dry-run"],
    ] {
        let out = meshtop(&files.kubeconfig, &files, &args).await;
        let stderr = &out.stderr;
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(
            stderr.contains(&format!(
                "getting credentials: exec: executable {} failed with exit code 3",
                plugin.display()
            )),
            "{stderr}"
        );
        // The plugin's own words reach the user, as with kubectl.
        assert!(
            stderr.contains("credential-plugin: the identity provider said no"),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
        let log = std::fs::read_to_string(&files.log).expect("log file");
        assert!(log.contains("failed with exit code 3"), "{log}");
        assert!(!log.contains("hunter2"), "{log}");
    }
    assert!(
        !files.audit.exists()
            || std::fs::read_to_string(&files.audit)
                .expect("audit")
                .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbolic_link_where_a_private_file_goes_is_not_followed() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let files = CliFiles::new(&sandbox);
    let target = files.dir().join("someone-elses-file");
    std::fs::write(&target, "theirs\n").expect("target");
    std::os::unix::fs::symlink(&target, &files.audit).expect("symlink");
    std::os::unix::fs::symlink(&target, &files.log).expect("symlink");
    let out = meshtop(
        &files.kubeconfig,
        &files,
        &["cordon", "k1-node05", "--dry-run"],
    )
    .await;
    let stderr = &out.stderr;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(stderr.contains("continuing without a log"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&target).expect("target"),
        "theirs\n"
    );
}
