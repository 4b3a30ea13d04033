//! `meshtop sandbox` as a command: bad input gets a clear error and exit code 2; a good
//! start prints where it serves; SIGTERM stops it cleanly; `--help` documents scenarios.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::process::{self, Run};
use crate::common::wait::eventually_blocking;

fn meshtop(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    process::run(
        process::meshtop()
            .args(args)
            .arg("--log-file")
            .arg(dir.path().join("meshtop.log"))
            .stdin(Stdio::null()),
    )
}

#[test]
fn malformed_scenario_names_document_and_field_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: three\n  selector: {matchLabels: {app: web}}\n",
    )
    .expect("write");
    let out = meshtop(&["sandbox", "--scenario", path.to_str().expect("utf8")]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("document 2 (Deployment shop/web): spec.replicas: expected a non-negative integer, got a string"), "{out}");
    assert!(
        out.stdout.is_empty(),
        "nothing is served from a bad scenario"
    );
}

#[test]
fn missing_scenario_file_exits_2() {
    let out = meshtop(&["sandbox", "--scenario", "/nonexistent/scenario.yaml"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr
            .contains("cannot read scenario /nonexistent/scenario.yaml"),
        "{out}"
    );
}

#[test]
fn non_loopback_listen_is_refused_with_exit_2() {
    for addr in ["0.0.0.0:0", "192.0.2.10:6443"] {
        let out = meshtop(&[
            "sandbox",
            "--scenario",
            "assets/scenarios/small.yaml",
            "--listen",
            addr,
        ]);
        assert_eq!(out.code, Some(2), "{addr}: {out}");
        assert!(
            out.stderr.contains("only binds loopback addresses"),
            "{out}"
        );
    }
    let out = meshtop(&[
        "sandbox",
        "--scenario",
        "assets/scenarios/small.yaml",
        "--listen",
        "localhost",
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("expected IP:PORT"), "{out}");
}

#[test]
fn port_in_use_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = meshtop(&[
        "sandbox",
        "--scenario",
        "assets/scenarios/small.yaml",
        "--listen",
        &addr,
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains(&format!("--listen {addr}")), "{out}");
    assert!(out.stderr.to_lowercase().contains("in use"), "{out}");
}

#[test]
fn help_documents_the_scenario_format() {
    let out = meshtop(&["sandbox", "--help"]);
    assert_eq!(out.code, Some(0), "{out}");
    let help = &out.stdout;
    for needle in [
        "--scenario",
        "--listen",
        "--kubeconfig-out",
        "SCENARIO FORMAT",
        "sandbox.meshtop.dev/xds",
        "restricted-deny",
        "meshtop-sandbox-restricted",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}");
    }
}

#[test]
fn serves_prints_address_and_kubeconfig_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kc");
    let mut child = process::meshtop()
        .args([
            "sandbox",
            "--scenario",
            "assets/scenarios/small.yaml",
            "--kubeconfig-out",
        ])
        .arg(&kubeconfig)
        .arg("--log-file")
        .arg(dir.path().join("meshtop.log"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf8");
    assert!(first.contains("on https://127.0.0.1:"), "{first}");
    let second = lines.next().expect("a line").expect("utf8");
    assert_eq!(second, format!("kubeconfig: {}", kubeconfig.display()));
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(text.contains("current-context: meshtop-sandbox"));
    assert!(text.contains("certificate-authority-data:"));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = eventually_blocking(
        "meshtop sandbox to stop on SIGTERM",
        Duration::from_secs(10),
        || child.try_wait().expect("wait").ok_or("still running"),
    );
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean stop");
}
