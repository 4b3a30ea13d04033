//! The installed kubectl, a real client nobody here wrote, against `meshtop sandbox` on the
//! seed's cluster (`assets/scenarios/k1-upgrade.yaml`). If kubectl cannot work with the
//! sandbox, the sandbox is wrong.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::common::process::{Lines, SandboxProcess};
use crate::common::wait::eventually_blocking;

fn k1() -> SandboxProcess {
    SandboxProcess::start("assets/scenarios/k1-upgrade.yaml")
}

/// Polls kubectl until `check` accepts its stdout, or fails with the last output.
fn kubectl_until(
    sb: &SandboxProcess,
    args: &[&str],
    within: Duration,
    check: impl Fn(&str) -> bool,
) -> String {
    eventually_blocking(
        &format!("kubectl {args:?} to satisfy the check"),
        within,
        || {
            let out = sb.kubectl_ok(args);
            if check(&out) { Ok(out) } else { Err(out) }
        },
    )
}

/// Rows of a kubectl table as whitespace-split cells (header first).
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn get_nodes_shows_masters_upgraded_and_workers_behind() {
    let sb = k1();
    let out = sb.kubectl_ok(&["get", "nodes"]);
    let rows = rows(&out);
    assert_eq!(rows[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    let nodes: Vec<(&str, &str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str(), r[4].as_str()))
        .collect();
    assert_eq!(
        nodes,
        vec![
            ("k1-master01", "Ready", "master", "v1.15.6"),
            ("k1-master02", "Ready", "master", "v1.15.6"),
            ("k1-master03", "Ready", "master", "v1.15.6"),
            ("k1-node01", "Ready", "ingress,node", "v1.14.3"),
            ("k1-node02", "Ready", "node", "v1.14.3"),
            ("k1-node03", "Ready", "node", "v1.14.3"),
            ("k1-node04", "Ready", "node", "v1.14.3"),
            ("k1-node05", "Ready", "node", "v1.14.3"),
        ]
    );
    let labelled = sb.kubectl_ok(&["get", "nodes", "-l", "taco-istio=enabled", "-o", "name"]);
    assert_eq!(
        labelled.lines().collect::<Vec<_>>(),
        ["node/k1-node03", "node/k1-node04", "node/k1-node05"]
    );
}

#[test]
fn get_pdb_shows_the_seeds_table() {
    let sb = k1();
    let out = sb.kubectl_ok(&["get", "pdb", "-A"]);
    let header: Vec<&str> = out
        .lines()
        .next()
        .expect("header")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "MIN AVAILABLE",
            "MAX UNAVAILABLE",
            "ALLOWED DISRUPTIONS",
            "AGE"
        ]
    );
    let table: Vec<Vec<String>> = rows(&out)[1..].iter().map(|r| r[..5].to_vec()).collect();
    let want = [
        ["istio-system", "istio-egressgateway", "1", "N/A", "0"],
        ["istio-system", "istio-galley", "1", "N/A", "0"],
        ["istio-system", "istio-ingressgateway", "1", "N/A", "0"],
        ["istio-system", "istio-pilot", "1", "N/A", "0"],
        ["istio-system", "istio-policy", "1", "N/A", "0"],
        ["istio-system", "istio-telemetry", "1", "N/A", "0"],
        ["logging", "elasticsearch-k1-master-pdb", "N/A", "1", "0"],
    ];
    assert_eq!(table, want.map(|r| r.map(str::to_string).to_vec()).to_vec());
}

#[test]
fn get_iop_shows_revision_and_status() {
    let sb = k1();
    let out = sb.kubectl_ok(&["get", "iop", "-A"]);
    let rows = rows(&out);
    assert_eq!(rows[0], ["NAMESPACE", "NAME", "REVISION", "STATUS", "AGE"]);
    let iops: Vec<&[String]> = rows[1..].iter().map(|r| &r[..4]).collect();
    assert_eq!(iops.len(), 2, "{out}");
    assert_eq!(
        iops[0],
        ["istio-system", "istio-controlplane", "1-9-1", "HEALTHY"]
    );
    assert_eq!(
        iops[1],
        ["istio-system", "istio-gateway-sample", "1-9-1", "HEALTHY"]
    );
}

#[test]
fn get_pods_wide_places_pods_on_nodes() {
    let sb = k1();
    let out = sb.kubectl_ok(&["get", "pods", "-A", "-o", "wide"]);
    let rows = rows(&out);
    assert_eq!(
        rows[0][..6],
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    assert!(out.lines().next().is_some_and(|h| h.contains("NODE")
        && h.contains("NOMINATED NODE")
        && h.contains("READINESS GATES")));
    let pilot = rows
        .iter()
        .find(|r| r[1].starts_with("istio-pilot-"))
        .expect("istio-pilot pod");
    assert_eq!(
        (pilot[0].as_str(), pilot[2].as_str(), pilot[3].as_str()),
        ("istio-system", "1/1", "Running")
    );
    assert!(pilot.contains(&"k1-node03".to_string()), "{pilot:?}");
    let istiods: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[1].starts_with("istiod-1-9-1-"))
        .collect();
    assert_eq!(istiods.len(), 2);
    let es2 = rows
        .iter()
        .find(|r| r[1] == "elasticsearch-k1-master-2")
        .expect("es-2");
    assert_eq!(
        (es2[2].as_str(), es2[3].as_str()),
        ("0/1", "CrashLoopBackOff")
    );
    let details = rows
        .iter()
        .find(|r| r[1] == "details-v1-6f769b44-hzj8v")
        .expect("details-v1");
    assert_eq!(details[2], "2/2", "app pods carry their sidecar");
}

#[test]
fn label_namespace_for_a_revision() {
    let sb = k1();
    let out = sb.kubectl_ok(&[
        "label",
        "ns",
        "default",
        "istio.io/rev=1-9-1",
        "--overwrite",
    ]);
    assert!(out.contains("namespace/default"), "{out}");
    let out = sb.kubectl_ok(&[
        "label",
        "ns",
        "legacy-shop",
        "istio.io/rev=1-9-1",
        "istio-injection-",
    ]);
    // kubectl says "unlabeled" when the object got shorter, "not labeled" when unchanged.
    assert!(
        matches!(
            out.trim(),
            "namespace/legacy-shop labeled" | "namespace/legacy-shop unlabeled"
        ),
        "{out}"
    );
    let labels = sb.kubectl_ok(&[
        "get",
        "ns",
        "legacy-shop",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    let labels: serde_json::Value = serde_json::from_str(&labels).expect("labels json");
    assert_eq!(labels["istio.io/rev"], "1-9-1");
    assert!(labels.get("istio-injection").is_none(), "{labels}");
    let out = sb.kubectl(&["label", "ns", "default", "istio.io/rev=canary"]);
    assert_ne!(
        out.code,
        Some(0),
        "changing a label without --overwrite must be refused"
    );
}

#[test]
fn cordon_and_uncordon() {
    let sb = k1();
    assert_eq!(
        sb.kubectl_ok(&["cordon", "k1-node03"]).trim(),
        "node/k1-node03 cordoned"
    );
    let out = sb.kubectl_ok(&["get", "node", "k1-node03"]);
    assert_eq!(rows(&out)[1][1], "Ready,SchedulingDisabled");
    assert_eq!(
        sb.kubectl_ok(&["uncordon", "k1-node03"]).trim(),
        "node/k1-node03 uncordoned"
    );
    let out = sb.kubectl_ok(&["get", "node", "k1-node03"]);
    assert_eq!(rows(&out)[1][1], "Ready");
}

#[test]
fn get_pods_watch_sees_changes() {
    let sb = k1();
    let mut watch = sb
        .kubectl_command()
        .args(["get", "pods", "-n", "default", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let lines = Lines::read(watch.stdout.take().expect("stdout"));
    let next_line = |what: &str| lines.until(what, Duration::from_secs(20));
    // The initial listing, then a pod made after it started.
    next_line("details-v1-6f769b44-hzj8v");
    sb.kubectl_ok(&[
        "run",
        "probe",
        "-n",
        "default",
        "--image=busybox",
        "--restart=Never",
    ]);
    let added = next_line("probe");
    assert!(added.starts_with("probe"), "{added}");
    sb.kubectl_ok(&["delete", "pod", "probe", "-n", "default", "--wait=false"]);
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn apply_and_server_side_apply_the_seeds_gateway_operator() {
    let sb = k1();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/istio-gateway-cr.yaml"
    );
    // The scenario created it without kubectl's annotation: apply adopts it, as on a real cluster.
    let out = sb.kubectl_ok(&["apply", "-f", file]);
    assert_eq!(
        out.trim(),
        "istiooperator.install.istio.io/istio-gateway-sample configured"
    );
    let out = sb.kubectl_ok(&["apply", "-f", file]);
    assert_eq!(
        out.trim(),
        "istiooperator.install.istio.io/istio-gateway-sample unchanged"
    );
    let out = sb.kubectl_ok(&["apply", "--server-side", "-f", file]);
    assert_eq!(
        out.trim(),
        "istiooperator.install.istio.io/istio-gateway-sample serverside-applied"
    );
    let managers = sb.kubectl_ok(&[
        "get",
        "iop",
        "istio-gateway-sample",
        "-n",
        "istio-system",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(
        managers.split_whitespace().any(|m| m == "kubectl"),
        "{managers}"
    );
    // A second gateway from the same file under a new name: created by apply, shown by get.
    let text = std::fs::read_to_string(file).expect("read").replace(
        "name: istio-gateway-sample\n",
        "name: istio-gateway-canary\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let canary = dir.path().join("canary.yaml");
    std::fs::write(&canary, text).expect("write");
    let out = sb.kubectl_ok(&[
        "apply",
        "--server-side",
        "-f",
        canary.to_str().expect("path"),
    ]);
    assert_eq!(
        out.trim(),
        "istiooperator.install.istio.io/istio-gateway-canary serverside-applied"
    );
    let rev = sb.kubectl_ok(&[
        "get",
        "iop",
        "istio-gateway-canary",
        "-n",
        "istio-system",
        "-o",
        "jsonpath={.spec.revision}/{.spec.profile}",
    ]);
    assert_eq!(rev, "1-9-1/empty");
}

#[test]
fn drain_is_refused_by_the_pdb_then_succeeds_once_relaxed() {
    let sb = k1();
    let out = sb.kubectl(&["drain", "k1-node03", "--ignore-daemonsets", "--timeout=20s"]);
    assert_ne!(
        out.code,
        Some(0),
        "drain must fail while istio-pilot's PDB allows no disruption\n{out}"
    );
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(stdout.contains("node/k1-node03 cordoned"), "{stdout}");
    assert!(
        stderr.contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{stderr}"
    );
    assert!(
        stderr.contains("istio-pilot-"),
        "the refused pod is istio-pilot's: {stderr}"
    );
    // The node stays cordoned after a failed drain.
    assert_eq!(
        rows(&sb.kubectl_ok(&["get", "node", "k1-node03"]))[1][1],
        "Ready,SchedulingDisabled"
    );

    // The author's remedy: set Istio's minAvailable to 0.
    sb.set_min_available("istio-system", "istio-pilot", 0);
    kubectl_until(
        &sb,
        &[
            "get",
            "pdb",
            "istio-pilot",
            "-n",
            "istio-system",
            "-o",
            "jsonpath={.status.disruptionsAllowed}",
        ],
        Duration::from_secs(10),
        |o| o == "1",
    );
    let out = sb.kubectl(&["drain", "k1-node03", "--ignore-daemonsets", "--timeout=60s"]);
    assert_eq!(out.code, Some(0), "drain after relief failed: {out}");
    assert!(out.stdout.contains("node/k1-node03 drained"), "{out}");

    // Only DaemonSet pods remain on the node; the evicted pods came back elsewhere.
    let left = sb.kubectl_ok(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        "spec.nodeName=k1-node03",
        "-o",
        "jsonpath={range .items[*]}{.metadata.ownerReferences[0].kind}{\"\\n\"}{end}",
    ]);
    assert!(
        !left.trim().is_empty() && left.lines().all(|k| k == "DaemonSet"),
        "{left}"
    );
    let pilot = kubectl_until(
        &sb,
        &[
            "get",
            "pods",
            "-n",
            "istio-system",
            "-l",
            "app=pilot",
            "-o",
            "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}",
        ],
        Duration::from_secs(20),
        |o| o.lines().any(|l| l.ends_with(" Running")),
    );
    assert!(
        pilot.lines().all(|l| !l.starts_with("k1-node03")),
        "{pilot}"
    );
    // Restore the budget: the author's temporary change is undone.
    sb.set_min_available("istio-system", "istio-pilot", 1);
    sb.kubectl_ok(&["uncordon", "k1-node03"]);
}

#[test]
fn version_and_discovery() {
    let sb = k1();
    let out = sb.kubectl_ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["serverVersion"]["gitVersion"], "v1.15.6");
    let resources = sb.kubectl_ok(&["api-resources", "-o", "name"]);
    for name in [
        "pods",
        "nodes",
        "poddisruptionbudgets.policy",
        "istiooperators.install.istio.io",
        "gateways.networking.istio.io",
        "virtualservices.networking.istio.io",
    ] {
        assert!(
            resources.lines().any(|l| l == name),
            "api-resources lacks {name}:\n{resources}"
        );
    }
}

const ISTIOD: &str = "istiod-1-9-1-58ff56d6f8-25z28";

#[test]
fn kubectl_logs_reads_istiods_lines_and_tail_cuts_them() {
    let sb = k1();
    let out = sb.kubectl_ok(&["logs", "-n", "istio-system", ISTIOD, "--tail=3"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "--tail=3 gives 3 lines:\n{out}");
    assert!(
        lines.iter().all(|l| l.contains("\tinfo\tads\t")),
        "istiod's discovery container tells of ads:\n{out}"
    );
    // The proxies connected to this istiod are the ones its lines name.
    let all = sb.kubectl_ok(&["logs", "-n", "istio-system", ISTIOD]);
    assert!(all.lines().count() > 3, "{all}");
    assert!(all.contains("ADS: new connection for node:"), "{all}");
    let gateway = sb.kubectl_ok(&[
        "logs",
        "-n",
        "default",
        "details-v1-6f769b44-hzj8v",
        "-c",
        "istio-proxy",
        "--tail=8",
        "--timestamps",
    ]);
    assert!(gateway.contains("HTTP/1.1\""), "an access log:\n{gateway}");
    assert!(gateway.contains("\twarning\tenvoy"), "{gateway}");
    let first = gateway.lines().next().unwrap_or("");
    let stamp = first.split(' ').next().unwrap_or("");
    assert!(
        stamp.parse::<jiff::Timestamp>().is_ok(),
        "--timestamps puts an RFC 3339 stamp first: {first}"
    );
}

#[test]
fn kubectl_logs_refuses_a_wrong_container_and_a_missing_previous() {
    let sb = k1();
    let out = sb.kubectl(&["logs", "-n", "istio-system", ISTIOD, "-c", "nope"]);
    assert_ne!(out.code, Some(0), "{out}");
    assert!(
        out.stderr
            .contains(&format!("container nope is not valid for pod {ISTIOD}")),
        "{out}"
    );
    let out = sb.kubectl(&["logs", "-n", "istio-system", ISTIOD, "--previous"]);
    assert_ne!(out.code, Some(0), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "previous terminated container \"discovery\" in pod \"{ISTIOD}\" not found"
        )),
        "{out}"
    );
}

#[test]
fn kubectl_logs_follow_streams_new_lines_until_killed() {
    let sb = k1();
    let mut follow = sb
        .kubectl_command()
        .args(["logs", "-f", "--tail=1", "-n", "istio-system", ISTIOD])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl logs -f");
    let lines = Lines::read(follow.stdout.take().expect("stdout"));
    let first = lines.until("\tinfo\t", Duration::from_secs(20));
    // Lines written after kubectl started: each names a later moment than the first.
    let stamp = |l: &str| l.split('\t').next().unwrap_or("").to_string();
    let later = lines.until("\tinfo\t", Duration::from_secs(20));
    let last = lines.until("\tinfo\t", Duration::from_secs(20));
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(stamp(&first) < stamp(&later), "{first}\n{later}");
    assert!(stamp(&later) < stamp(&last), "{later}\n{last}");
}

/// kubectl's everyday commands, each answered as a real API server answers them: creates
/// sent as protobuf, ServiceAccounts and their tokens, the scale subresource, access reviews
/// for both contexts, label/patch/apply/describe, and an AlreadyExists refusal worded as the
/// captured one (`shared/wire/409-already-exists.json`).
#[test]
fn everyday_commands_answer_as_a_real_server_does() {
    let sb = SandboxProcess::start("assets/scenarios/small.yaml");
    let ok = |args: &[&str], expected: &str| {
        assert_eq!(sb.kubectl_ok(args).trim(), expected, "kubectl {args:?}");
    };
    ok(&["create", "namespace", "zz"], "namespace/zz created");
    ok(
        &["create", "deployment", "web", "--image=nginx", "-n", "zz"],
        "deployment.apps/web created",
    );
    ok(
        &[
            "create",
            "configmap",
            "c1",
            "--from-literal=a=b",
            "-n",
            "zz",
        ],
        "configmap/c1 created",
    );
    ok(
        &["create", "serviceaccount", "bob", "-n", "zz"],
        "serviceaccount/bob created",
    );
    // What protobuf carried arrives whole.
    ok(
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "zz",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.spec.selector.matchLabels.app}",
        ],
        "nginx web",
    );
    ok(
        &[
            "get",
            "configmap",
            "c1",
            "-n",
            "zz",
            "-o",
            "jsonpath={.data.a}",
        ],
        "b",
    );
    // Every namespace has its `default` ServiceAccount.
    ok(
        &["get", "serviceaccounts", "-n", "zz", "-o", "name"],
        "serviceaccount/bob\nserviceaccount/default",
    );
    let table = rows(&sb.kubectl_ok(&["get", "sa", "bob", "-n", "zz"]));
    assert_eq!(table[0], vec!["NAME", "SECRETS", "AGE"]);
    assert_eq!(table[1][..2], ["bob".to_string(), "0".to_string()]);

    // A token request answers with a JWT naming the account.
    let token = sb.kubectl_ok(&["create", "token", "bob", "-n", "zz"]);
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("base64url claims"),
    )
    .expect("JSON claims");
    assert_eq!(claims["sub"], "system:serviceaccount:zz:bob");

    // scale, and the Scale it writes through.
    ok(
        &["scale", "deployment", "web", "-n", "zz", "--replicas=3"],
        "deployment.apps/web scaled",
    );
    let scale: serde_json::Value = serde_json::from_str(&sb.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/zz/deployments/web/scale",
    ]))
    .expect("a Scale");
    assert_eq!(
        (
            &scale["kind"],
            &scale["apiVersion"],
            &scale["spec"]["replicas"]
        ),
        (&json!("Scale"), &json!("autoscaling/v1"), &json!(3))
    );
    assert_eq!(scale["status"]["selector"], "app=web");
    kubectl_until(
        &sb,
        &["get", "pods", "-n", "zz", "-l", "app=web", "-o", "name"],
        Duration::from_secs(20),
        |out| out.lines().count() == 3,
    );

    // auth can-i, for both contexts: the restricted one is refused what its rules name.
    ok(&["auth", "can-i", "list", "nodes"], "yes");
    let restricted = |args: &[&str]| {
        let mut all = vec!["--context", "meshtop-sandbox-restricted", "auth", "can-i"];
        all.extend_from_slice(args);
        sb.kubectl(&all)
    };
    let no = restricted(&["list", "nodes"]);
    assert_eq!((no.code, no.stdout.trim()), (Some(1), "no"), "{no}");
    let pf = ["create", "pods", "--subresource=portforward"];
    let no = restricted(&[&pf[..], &["-n", "istio-system"]].concat());
    assert_eq!((no.code, no.stdout.trim()), (Some(1), "no"), "{no}");
    let yes = restricted(&[&pf[..], &["-n", "shop"]].concat());
    assert_eq!((yes.code, yes.stdout.trim()), (Some(0), "yes"), "{yes}");
    let list = restricted(&["--list", "-n", "istio-system"]);
    let verbs_of = |resource: &str| -> Vec<String> {
        rows(&list.stdout)
            .into_iter()
            .find(|r| r.first().map(String::as_str) == Some(resource))
            .map(|r| r.into_iter().skip(3).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        verbs_of("pods/portforward"),
        vec![
            "[delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch]"
        ],
        "{list}"
    );
    assert_eq!(
        verbs_of("nodes"),
        vec![
            "[create",
            "delete",
            "deletecollection",
            "get",
            "patch",
            "update",
            "watch]"
        ],
        "{list}"
    );

    // label, patch, apply, describe.
    ok(
        &["label", "configmap", "c1", "-n", "zz", "team=a"],
        "configmap/c1 labeled",
    );
    ok(
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            "zz",
            "--type=merge",
            "-p",
            r#"{"metadata":{"annotations":{"x":"y"}}}"#,
        ],
        "deployment.apps/web patched",
    );
    let mut apply = sb.kubectl_command();
    apply
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = apply.spawn().expect("kubectl apply");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(
                br#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"carol","namespace":"zz"}}"#,
            )
            .expect("write the manifest");
    }
    let out = child.wait_with_output().expect("kubectl apply ends");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "serviceaccount/carol created"
    );
    let described = sb.kubectl_ok(&["describe", "serviceaccount", "bob", "-n", "zz"]);
    assert!(
        described.contains("Name:                bob")
            && described.contains("Namespace:           zz"),
        "{described}"
    );

    // A name that exists: the server's words, as captured from a real one
    // (shared/wire/409-already-exists.json: `namespaces "old-apps" already exists`).
    let again = sb.kubectl(&["create", "namespace", "zz"]);
    assert_eq!(again.code, Some(1));
    assert_eq!(
        again.stderr.trim(),
        "Error from server (AlreadyExists): namespaces \"zz\" already exists"
    );
}

/// The lines of `kubectl explain` from its header to the end of the first description.
fn explain_head(out: &str) -> Vec<&str> {
    out.lines()
        .map(str::trim_end)
        .take_while(|l| *l != "FIELDS:")
        .filter(|l| !l.is_empty())
        .collect()
}

/// `kubectl explain` reads the OpenAPI v3 documents: built-in kinds with the descriptions
/// Kubernetes gives them, custom kinds with what their CRD declares.
#[test]
fn explain_describes_built_in_and_custom_kinds() {
    let sb = k1();
    let containers = sb.kubectl_ok(&["explain", "pod.spec.containers"]);
    assert_eq!(
        explain_head(&containers)[..4],
        [
            "KIND:       Pod",
            "VERSION:    v1",
            "FIELD: containers <[]Container>",
            "DESCRIPTION:"
        ],
        "{containers}"
    );
    assert!(
        containers.contains("List of containers belonging to the pod."),
        "{containers}"
    );
    for field in [
        "  image\t<string>",
        "  name\t<string> -required-",
        "  ports\t<[]ContainerPort>",
    ] {
        assert!(containers.contains(field), "no {field:?} in {containers}");
    }

    let replicas = sb.kubectl_ok(&["explain", "deployment.spec.replicas"]);
    assert_eq!(
        explain_head(&replicas),
        [
            "GROUP:      apps",
            "KIND:       Deployment",
            "VERSION:    v1",
            "FIELD: replicas <integer>",
            "DESCRIPTION:",
            "    Number of desired pods. This is a pointer to distinguish between explicit",
            "    zero and not specified. Defaults to 1.",
        ]
    );

    let pdb = sb.kubectl_ok(&["explain", "poddisruptionbudget"]);
    assert_eq!(
        explain_head(&pdb)[..4],
        [
            "GROUP:      policy",
            "KIND:       PodDisruptionBudget",
            "VERSION:    v1",
            "DESCRIPTION:"
        ],
        "{pdb}"
    );
    for field in [
        "  metadata\t<ObjectMeta>",
        "  spec\t<PodDisruptionBudgetSpec>",
        "  status\t<PodDisruptionBudgetStatus>",
    ] {
        assert!(pdb.contains(field), "no {field:?} in {pdb}");
    }

    // The v2 document, which kubectl reads as protobuf, describes the same fields.
    let v2 = sb.kubectl_ok(&[
        "explain",
        "deployment.spec.replicas",
        "--output=plaintext-openapiv2",
    ]);
    let v2: Vec<&str> = v2
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        v2,
        [
            "KIND:     Deployment",
            "VERSION:  apps/v1",
            "FIELD:    replicas <integer>",
            "DESCRIPTION:",
            "     Number of desired pods. This is a pointer to distinguish between explicit",
            "     zero and not specified. Defaults to 1.",
        ]
    );

    // A CRD's own schema, descriptions included.
    let hosts = sb.kubectl_ok(&["explain", "virtualservice.spec.hosts"]);
    assert_eq!(
        explain_head(&hosts)[..4],
        [
            "GROUP:      networking.istio.io",
            "KIND:       VirtualService",
            "VERSION:    v1",
            "FIELD: hosts <[]string>"
        ],
        "{hosts}"
    );
    assert!(
        hosts.contains("The destination hosts to which traffic is being sent."),
        "{hosts}"
    );
    // Istio's IstioOperator CRD declares no fields (it keeps whatever it is given), so a
    // real server publishes only apiVersion, kind and metadata for it.
    let iop = sb.kubectl_ok(&["explain", "istiooperator"]);
    assert_eq!(
        explain_head(&iop)[..3],
        [
            "GROUP:      install.istio.io",
            "KIND:       IstioOperator",
            "VERSION:    v1alpha1"
        ],
        "{iop}"
    );
    assert!(iop.contains("  metadata\t<ObjectMeta>"), "{iop}");
    let spec = sb.kubectl(&["explain", "istiooperator.spec"]);
    assert_eq!(spec.code, Some(1), "{spec}");
    assert!(
        spec.stderr.contains("field \"spec\" does not exist"),
        "{spec}"
    );
}

/// `kubectl apply` validates as it does against a 1.32 server: it finds `fieldValidation`
/// in the OpenAPI document and leaves unknown fields to the server, which refuses them.
#[test]
fn apply_with_an_unknown_field_is_refused_by_strict_field_validation() {
    let sb = SandboxProcess::start("assets/scenarios/small.yaml");
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, spec: &str, container: &str| {
        let path = dir.path().join(name);
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\n\
             spec:\n{spec}  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      \
             labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n{container}"
        );
        std::fs::write(&path, text).expect("write manifest");
        path.to_string_lossy().into_owned()
    };
    let bad = write("bad.yaml", "  foo: 1\n  replicas: 2\n", "");
    let refused = sb.kubectl(&["apply", "-f", &bad]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert_eq!(
        refused.stderr.trim(),
        format!(
            "Error from server (BadRequest): error when creating \"{bad}\": Deployment in version \"v1\" \
             cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\""
        )
    );
    let missing = sb.kubectl(&["get", "deployment", "web", "-n", "default"]);
    assert_eq!(missing.code, Some(1), "nothing was created: {missing}");

    let good = write("good.yaml", "  replicas: 2\n", "");
    assert_eq!(
        sb.kubectl_ok(&["apply", "-f", &good]).trim(),
        "deployment.apps/web created"
    );
    // An update carrying an unknown field deep in the template is refused as well, and the
    // object is left as it was.
    let deep = write("deep.yaml", "  replicas: 3\n", "        colour: red\n");
    let refused = sb.kubectl(&["apply", "-f", &deep]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .stderr
            .contains("unknown field \"spec.template.spec.containers[0].colour\""),
        "{refused}"
    );
    // A field of the stored Deployment, by its JSONPath.
    let stored = |path: &str| {
        let jsonpath = format!("jsonpath={path}");
        sb.kubectl_ok(&["get", "deployment", "web", "-n", "default", "-o", &jsonpath])
    };
    assert_eq!(stored("{.spec.replicas}"), "2");
    // `--validate=warn`: the server drops what it does not know, and says so.
    let warned = sb.kubectl(&["apply", "--validate=warn", "-f", &deep]);
    assert_eq!(
        (warned.code, warned.stdout.trim()),
        (Some(0), "deployment.apps/web configured"),
        "{warned}"
    );
    assert_eq!(
        warned.stderr.trim(),
        "Warning: unknown field \"spec.template.spec.containers[0].colour\""
    );
    assert_eq!(stored("{.spec.replicas}"), "3");
    let container = stored("{.spec.template.spec.containers[0]}");
    let container: serde_json::Value = serde_json::from_str(&container).expect("a container");
    assert_eq!(container["image"], "nginx");
    assert!(container.get("colour").is_none(), "{container}");
    // `--validate=false`: dropped without a word, as a real server does.
    let ignored = sb.kubectl(&["apply", "--validate=false", "-f", &bad]);
    assert_eq!(
        (ignored.code, ignored.stdout.trim(), ignored.stderr.trim()),
        (Some(0), "deployment.apps/web configured", ""),
        "{ignored}"
    );
    assert_eq!(stored("{.spec.replicas}"), "2");
    let spec: serde_json::Value = serde_json::from_str(&stored("{.spec}")).expect("a spec");
    assert!(spec.get("foo").is_none(), "{spec}");
}

/// A `kubectl port-forward` running in the background; killed on drop.
struct PortForward {
    child: std::process::Child,
    /// The local port kubectl listens on.
    port: u16,
    stderr: Lines,
}

impl PortForward {
    /// `kubectl port-forward -n NS pod/POD :REMOTE`, once kubectl says where it listens.
    fn start(
        sb: &SandboxProcess,
        env: &[(&str, &str)],
        namespace: &str,
        pod: &str,
        remote: u16,
    ) -> Self {
        let mut cmd = sb.kubectl_command();
        cmd.args(["port-forward", "-n", namespace])
            .arg(format!("pod/{pod}"))
            .arg(format!(":{remote}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("kubectl port-forward");
        let stdout = Lines::read(child.stdout.take().expect("stdout"));
        let stderr = Lines::read(child.stderr.take().expect("stderr"));
        let line = stdout.until("Forwarding from 127.0.0.1:", Duration::from_secs(20));
        let port = line
            .trim_start_matches("Forwarding from 127.0.0.1:")
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no local port in {line:?}"));
        Self {
            child,
            port,
            stderr,
        }
    }

    /// `GET path` through the forward, one connection: (status line, body).
    fn get(&self, path: &str) -> (String, String) {
        use std::io::{Read, Write};
        let mut conn =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the forward");
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .expect("send request");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("read answer");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        (
            head.lines().next().unwrap_or("").to_string(),
            body.to_string(),
        )
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxies an istiod's `/debug/syncz` lists, sorted.
fn synced_proxies(body: &str) -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut names: Vec<String> = doc
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|p| p["proxy"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    names
}

/// `kubectl port-forward` as 1.31+ speaks it (SPDY tunnelled in WebSocket), and as older
/// kubectl and its fallback do (a plain SPDY upgrade): istiod's debug port answers through
/// the forward what the API server's pod proxy answers, connection after connection.
#[test]
fn port_forward_reaches_istiods_debug_port() {
    let sb = k1();
    let via_proxy = sb.kubectl_ok(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/istio-system/pods/{ISTIOD}:15014/proxy/debug/syncz"),
    ]);
    let expected = synced_proxies(&via_proxy);
    assert!(!expected.is_empty(), "{via_proxy}");
    for env in [&[][..], &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")][..]] {
        let pf = PortForward::start(&sb, env, "istio-system", ISTIOD, 15014);
        for _ in 0..2 {
            let (status, body) = pf.get("/debug/syncz");
            assert_eq!(status, "HTTP/1.1 200 OK", "{env:?}: {body}");
            assert_eq!(synced_proxies(&body), expected, "{env:?}");
        }
        let (status, _) = pf.get("/no/such/page");
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{env:?}");
    }
}

/// A port nothing listens on inside the pod: kubectl reports the kubelet's refusal and
/// gives up, as it does against a real cluster.
#[test]
fn port_forward_to_a_closed_port_reports_the_refusal() {
    let sb = k1();
    let mut pf = PortForward::start(&sb, &[], "istio-system", ISTIOD, 9999);
    use std::io::Read;
    // kubectl accepts the connection, then closes it without a byte once the pod refuses.
    let mut conn =
        std::net::TcpStream::connect(("127.0.0.1", pf.port)).expect("connect to the forward");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut nothing = Vec::new();
    let _ = conn.read_to_end(&mut nothing);
    assert!(nothing.is_empty(), "{}", String::from_utf8_lossy(&nothing));
    let refusal = pf
        .stderr
        .until("an error occurred forwarding", Duration::from_secs(20));
    assert!(
        refusal.contains(&format!(
            "error forwarding port 9999 to pod {ISTIOD}, uid : failed to connect to localhost:9999"
        )),
        "{refusal}"
    );
    pf.stderr
        .until("error: lost connection to pod", Duration::from_secs(20));
    let status = eventually_blocking("kubectl to exit", Duration::from_secs(20), || {
        match pf.child.try_wait() {
            Ok(Some(s)) => Ok(s),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(status.code(), Some(1));
}
