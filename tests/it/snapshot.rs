//! `meshtop snapshot` against a sandbox running each built-in scenario, its copy loaded into
//! a fresh sandbox: the same answers from `meshtop get` and kubectl, the same uids, and a copy
//! of the copy the same file. A plain `kubectl get -o yaml` dump loads with no second pods.

use std::path::Path;

use serde_json::Value;

use crate::common::process::{CliFiles, SandboxProcess, run};

/// Views `meshtop get` answers, compared between a cluster and its copy.
const VIEWS: &[&str] = &["nodes", "disruption", "revisions", "gateways", "namespaces"];

/// Kinds counted with `kubectl get KIND -A --no-headers`.
const KINDS: &[&str] = &[
    "namespaces",
    "nodes",
    "pods",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "services",
    "pdb",
    "hpa",
    "mutatingwebhookconfigurations",
];

fn files(sandbox: &SandboxProcess) -> CliFiles {
    let yaml = std::fs::read_to_string(&sandbox.kubeconfig).expect("read the kubeconfig");
    CliFiles::with_kubeconfig(&yaml)
}

/// `meshtop snapshot -o FILE`, which must succeed; the file's text.
fn snapshot(files: &CliFiles, out: &Path) -> String {
    let r = run(files.meshtop().arg("snapshot").arg("-o").arg(out));
    assert_eq!(r.code, Some(0), "snapshot failed: {r}");
    assert!(r.stdout.is_empty(), "snapshot -o wrote to stdout: {r}");
    std::fs::read_to_string(out).expect("read the snapshot")
}

/// `meshtop get VIEW -o json`, with the moments things were read left out.
fn get(files: &CliFiles, view: &str) -> Value {
    let r = run(files.meshtop().args(["get", view, "-o", "json"]));
    assert_eq!(r.code, Some(0), "get {view} failed: {r}");
    let mut v: Value = serde_json::from_str(&r.stdout).expect("get's JSON");
    drop_moments(&mut v);
    v
}

fn drop_moments(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("_at") && k != "age");
            m.values_mut().for_each(drop_moments);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_moments),
        _ => {}
    }
}

fn count(sandbox: &SandboxProcess, kind: &str) -> usize {
    sandbox
        .kubectl_ok(&["get", kind, "-A", "--no-headers"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn pod_uids(sandbox: &SandboxProcess) -> Vec<String> {
    let out = sandbox.kubectl_ok(&[
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.uid}{\"\\n\"}{end}",
    ]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn round_trip(scenario: &str) {
    let original = SandboxProcess::start(scenario);
    let of_original = files(&original);
    let path = of_original.dir().join("mine.yaml");
    let text = snapshot(&of_original, &path);
    assert!(!text.contains("managedFields"), "managedFields kept");
    assert!(!text.contains("resourceVersion:"), "resourceVersion kept");
    // A document's own kind is at the start of a line; a Gateway's `certificateRefs` name
    // Secrets further in.
    assert!(!text.contains("\nkind: Secret"), "a Secret copied");
    assert!(
        !text.contains("\nkind: ServiceAccount"),
        "a ServiceAccount copied"
    );
    assert!(
        text.contains("sandbox.meshtop.dev/istiod:"),
        "no istiod captured"
    );
    assert!(
        text.contains("sandbox.meshtop.dev/server-version:"),
        "no server version"
    );

    let copy = SandboxProcess::start(path.to_str().expect("utf-8 path"));
    let of_copy = files(&copy);
    for view in VIEWS {
        assert_eq!(
            get(&of_original, view),
            get(&of_copy, view),
            "{scenario}: get {view} differs in the copy"
        );
    }
    for kind in KINDS {
        assert_eq!(
            count(&original, kind),
            count(&copy, kind),
            "{scenario}: kubectl get {kind} -A counts differ in the copy"
        );
    }
    let uids = pod_uids(&original);
    assert!(uids.len() > 10, "{scenario}: too few pods: {uids:?}");
    assert_eq!(
        uids,
        pod_uids(&copy),
        "{scenario}: pods or their uids differ"
    );

    let again = snapshot(&of_copy, &of_copy.dir().join("again.yaml"));
    assert_eq!(
        text, again,
        "{scenario}: a snapshot of the copy is not the same file"
    );
}

#[test]
fn a_copy_of_k1_upgrade_answers_as_the_original() {
    round_trip("assets/scenarios/k1-upgrade.yaml");
}

#[test]
fn a_copy_of_canary_2026_answers_as_the_original() {
    round_trip("assets/scenarios/canary-2026.yaml");
}

#[test]
fn a_kubectl_dump_loads_with_no_second_pods() {
    let original = SandboxProcess::start("assets/scenarios/k1-upgrade.yaml");
    let dump = original.kubectl_ok(&[
        "get",
        "namespaces,nodes,deployments,replicasets,daemonsets,statefulsets,pods,services,pdb",
        "-A",
        "-o",
        "yaml",
    ]);
    assert!(
        dump.contains("pod-template-hash"),
        "no ReplicaSet pods in the dump"
    );
    assert!(dump.contains("kind: DaemonSet"), "no DaemonSet in the dump");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dump.yaml");
    std::fs::write(&path, &dump).expect("write the dump");
    let loaded = SandboxProcess::start(path.to_str().expect("utf-8 path"));
    for kind in [
        "pods",
        "replicasets",
        "deployments",
        "daemonsets",
        "statefulsets",
    ] {
        assert_eq!(
            count(&original, kind),
            count(&loaded, kind),
            "kubectl get {kind} -A counts differ after loading the dump"
        );
    }
    assert_eq!(pod_uids(&original), pod_uids(&loaded));
}
