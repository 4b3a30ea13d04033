//! `meshtop install revision|gateway` on the istioctl route, at the command line: meshtop
//! saves the IstioOperator to `--file` and really runs `istioctl install -y -f FILE
//! --kubeconfig K --context C [--dry-run]` as a process. istioctl cannot be installed here,
//! so each test writes a stand-in `istioctl` (a POSIX sh script) into a temp directory put
//! first on meshtop's PATH (where `find_istioctl` looks). As far as meshtop can tell it is
//! istioctl: it refuses any other arguments, records them for the test, and applies FILE to
//! the sandbox with the installed kubectl (`apply --server-side`, `--dry-run=server` for a
//! dry run), printing istioctl's lines; the failing variant prints istioctl's kind of error
//! and exits 1 without touching the cluster. The sandbox's IstioOperator controller then
//! brings up what the applied resource asks for, as an operator or istioctl would.
//!
//! Covered: the exact arguments (with and without `--dry-run`, a kubeconfig given with
//! `--kubeconfig`/`--context` and the demo sandbox's copy), the saved file (where `--file`
//! says, else under `$XDG_STATE_HOME`) against what `-o yaml` renders, meshtop's stdout
//! (the plan, istioctl's output, `istioctl install -y -f FILE: done`), the cluster after
//! the run, the exit codes, the error's tail on stderr and one audit line per run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::harness;
use crate::common::process::{self, Run, audit_lines};
use crate::common::stand_in::{self, sh_quote};
use crate::common::wait::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use meshtop::cluster::actions::AuditRecord;
use meshtop::ops::install::parse_istio_operator;
use meshtop_sandbox::Sandbox;
use serde_json::{Value, json};

const K1: &str = "assets/scenarios/k1-upgrade.yaml";
const CONTEXT: &str = harness::ADMIN_CONTEXT;
/// A revision the seed's cluster does not run and no operator reconciles (the seed's
/// operator has `REVISION=1-9-1`): without `--istioctl` it already takes the istioctl route.
const REV: &str = "1-10-0";
const REV_IOP: &str = "istio-controlplane-1-10-0";
const REV_ISTIOD: &str = "istiod-1-10-0";
const REV_AUDIT_ACTION: &str = "install revision 1-10-0 (istioctl)";
const REV_AUDIT_TARGET: &str = "istiooperator/istio-system/istio-controlplane-1-10-0";
const GW_NS: &str = "istio-gateway-shop";
const GW_NAME: &str = "istio-ingressgateway-istio-gateway-shop";

/// What the failing stand-in prints on stdout (before it fails) and then on stderr: five
/// lines, exactly the tail meshtop keeps of istioctl's output (stdout, then stderr).
const FAILING_STDOUT: [&str; 2] = [
    "✔ Istio core installed",
    "- Processing resources for Istiod.",
];
const FAILING_STDERR: [&str; 5] = [
    "Error: failed to install manifests: errors occurred during operation:",
    "  creating default tag would conflict:",
    "Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector-1-10-0) Webhook overlaps with others: [istio-sidecar-injector-1-9-1/rev.namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.",
    "✘ Istiod encountered an error: failed to wait for resource: resources not ready after 5m0s: timed out waiting for the condition",
    "Deployment/istio-system/istiod-1-10-0 (containers with unready status: [discovery])",
];

/// The stand-in after its prologue ([`stand_in::prologue`]). Placeholders `@NAME@` are
/// filled with shell-quoted values.
const STAND_IN: &str = r#"kubectl_log=@KUBECTL_LOG@
kubectl=@KUBECTL@
behaviour=@BEHAVIOUR@
if [ "$#" -ne 8 ] && [ "$#" -ne 9 ]; then usage "$@"; fi
if [ "$1" != install ] || [ "$2" != -y ] || [ "$3" != -f ] || [ "$5" != --kubeconfig ] || [ "$7" != --context ]; then
    usage "$@"
fi
file=$4
kubeconfig=$6
context=$8
dry_run=
if [ "$#" -eq 9 ]; then
    if [ "$9" != --dry-run ]; then usage "$@"; fi
    dry_run=--dry-run=server
fi
if [ ! -r "$file" ]; then echo "Error: open $file: no such file or directory" >&2; exit 1; fi
if [ ! -r "$kubeconfig" ]; then echo "Error: stat $kubeconfig: no such file or directory" >&2; exit 1; fi
# What the kubeconfig was while istioctl ran: its mode and a copy.
stat -c '%a' "$kubeconfig" >"$calls.kubeconfig-mode"
cp "$kubeconfig" "$calls.kubeconfig"
# And the resource it was given.
cp "$file" "$calls.file"
if ! grep -qx 'kind: IstioOperator' "$file"; then echo "Error: $file is not an IstioOperator" >&2; exit 1; fi
if [ "$behaviour" = fails ]; then
@FAILING@
    exit 1
fi
if ! applied=$("$kubectl" --kubeconfig "$kubeconfig" --context "$context" apply --server-side $dry_run -f "$file" 2>&1); then
    printf 'Error: failed to apply %s: %s\n' "$file" "$applied" >&2
    exit 1
fi
printf '%s\n' "$applied" >>"$kubectl_log"
echo '✔ Istio core installed'
if ! grep -qx '  profile: empty' "$file"; then echo '✔ Istiod installed'; fi
if grep -q 'ingressGateways:' "$file"; then echo '✔ Ingress gateways installed'; fi
echo '✔ Installation complete'
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Applies the file to the cluster (server dry run with `--dry-run`), exits 0.
    Installs,
    /// Prints istioctl's kind of failure, exits 1, applies nothing.
    Fails,
}

/// The stand-in istioctl in `<root>/bin`, and what it records.
struct StandIn {
    bin: PathBuf,
    path: PathBuf,
    calls: PathBuf,
    kubectl_log: PathBuf,
}

impl StandIn {
    fn write(root: &Path, kubectl: &Path, behaviour: Behaviour) -> Self {
        let bin = root.join("bin");
        let calls = root.join("istioctl.calls");
        let kubectl_log = root.join("istioctl.kubectl.log");
        let failing: String = FAILING_STDOUT
            .iter()
            .map(|l| format!("    printf '%s\\n' {}\n", sh_quote(l)))
            .chain(
                FAILING_STDERR
                    .iter()
                    .map(|l| format!("    printf '%s\\n' {} >&2\n", sh_quote(l))),
            )
            .collect();
        let script = stand_in::prologue(
            "istioctl",
            &calls,
            "install -y -f FILE --kubeconfig K --context C [--dry-run]",
        ) + &STAND_IN
            .replace(
                "@KUBECTL_LOG@",
                &sh_quote(&kubectl_log.display().to_string()),
            )
            .replace("@KUBECTL@", &sh_quote(&kubectl.display().to_string()))
            .replace(
                "@BEHAVIOUR@",
                match behaviour {
                    Behaviour::Installs => "installs",
                    Behaviour::Fails => "fails",
                },
            )
            .replace("@FAILING@\n", &failing);
        let path = stand_in::write_script(&bin, "istioctl", &script);
        Self {
            bin,
            path,
            calls,
            kubectl_log,
        }
    }

    /// The arguments of each call, in order.
    fn calls(&self) -> Vec<Vec<String>> {
        stand_in::calls(&self.calls)
    }

    /// What kubectl printed for the stand-in's applies.
    fn kubectl_output(&self) -> String {
        std::fs::read_to_string(&self.kubectl_log).unwrap_or_default()
    }

    /// The resource file the last call was given, parsed, as it was while it ran.
    fn file_seen(&self) -> Value {
        let mut name = self.calls.as_os_str().to_owned();
        name.push(".file");
        let text = std::fs::read_to_string(PathBuf::from(name)).expect("the stand-in's copy");
        parse_istio_operator(&text).expect("an IstioOperator")
    }

    /// The kubeconfig the last call was given, as it was while it ran, and its mode.
    fn kubeconfig_seen(&self) -> (String, String) {
        let mut name = self.calls.as_os_str().to_owned();
        name.push(".kubeconfig");
        let copy = PathBuf::from(name);
        let mut mode = copy.as_os_str().to_owned();
        mode.push("-mode");
        (
            std::fs::read_to_string(&copy).expect("the stand-in's copy of its kubeconfig"),
            std::fs::read_to_string(PathBuf::from(mode))
                .expect("the kubeconfig's mode")
                .trim()
                .to_string(),
        )
    }
}

/// The arguments meshtop must give istioctl.
fn istioctl_argv(file: &Path, kubeconfig: &Path, dry_run: bool) -> Vec<String> {
    let mut argv: Vec<String> = ["install", "-y", "-f"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.push(file.display().to_string());
    argv.extend([
        "--kubeconfig".to_string(),
        kubeconfig.display().to_string(),
        "--context".to_string(),
        CONTEXT.to_string(),
    ]);
    if dry_run {
        argv.push("--dry-run".into());
    }
    argv
}

/// meshtop's surroundings: a temp directory with the stand-in, the kubeconfig (or the
/// demo's scenario), the audit log, the log and `$XDG_STATE_HOME`.
struct Env {
    dir: tempfile::TempDir,
    istioctl: StandIn,
    kubeconfig: PathBuf,
    audit: PathBuf,
    /// The global flags that reach the cluster: `--kubeconfig K --context C`, or
    /// `--demo-scenario S`.
    target: Vec<String>,
}

impl Env {
    /// meshtop pointed at `sandbox` through a kubeconfig file.
    fn new(sandbox: &Sandbox, behaviour: Behaviour) -> Self {
        let mut env = Self::bare(behaviour);
        std::fs::write(&env.kubeconfig, sandbox.kubeconfig_yaml()).expect("write kubeconfig");
        env.target = vec![
            "--kubeconfig".into(),
            env.kubeconfig.display().to_string(),
            "--context".into(),
            CONTEXT.into(),
        ];
        env
    }

    /// meshtop running its own sandbox (`--demo-scenario SCENARIO`).
    fn demo(scenario: &str, behaviour: Behaviour) -> Self {
        let mut env = Self::bare(behaviour);
        env.target = vec!["--demo-scenario".into(), scenario.into()];
        env
    }

    fn bare(behaviour: Behaviour) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let istioctl = StandIn::write(dir.path(), &process::kubectl(), behaviour);
        Self {
            kubeconfig: dir.path().join("kubeconfig"),
            audit: dir.path().join("audit.log"),
            istioctl,
            dir,
            target: Vec::new(),
        }
    }

    fn state_home(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Runs the meshtop binary with the stand-in first on PATH.
    async fn meshtop(&self, args: &[&str]) -> Run {
        stand_in::meshtop(&self.istioctl.bin, self.dir.path(), &self.target, args).await
    }

    /// The IstioOperator meshtop renders for `install` (its `-o yaml`): istioctl is not run.
    async fn rendered(&self, install: &[&str]) -> Value {
        let calls = self.istioctl.calls().len();
        let out = self.meshtop(&[install, &["-o", "yaml"]].concat()).await;
        assert_eq!(out.code, Some(0), "-o yaml: {out}");
        assert_eq!(self.istioctl.calls().len(), calls, "-o yaml ran istioctl");
        let docs: Vec<&str> = out.stdout.split("\n---\n").collect();
        parse_istio_operator(docs.last().expect("a document")).expect("an IstioOperator")
    }

    fn audit(&self) -> Vec<AuditRecord> {
        audit_lines(&self.audit)
    }
}

/// The saved file, parsed.
fn saved(file: &Path) -> Value {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("the resource is saved to {}: {e}", file.display()));
    parse_istio_operator(&text).expect("the saved file is an IstioOperator")
}

/// (action, target, dry_run, result) of each audit line.
fn audit_rows(lines: &[AuditRecord]) -> Vec<(String, String, bool, String)> {
    lines
        .iter()
        .map(|l| {
            assert_eq!(l.context, CONTEXT, "{l:?}");
            (
                l.action.clone(),
                l.target.clone(),
                l.dry_run,
                l.result.clone(),
            )
        })
        .collect()
}

fn row(action: &str, target: &str, dry_run: bool, result: &str) -> (String, String, bool, String) {
    (action.into(), target.into(), dry_run, result.into())
}

fn iops(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("install.istio.io", "v1alpha1", "IstioOperator"),
        "istiooperators",
    );
    Api::namespaced_with(client.clone(), "istio-system", &ar)
}

async fn iop(client: &kube::Client, name: &str) -> Option<Value> {
    iops(client)
        .get_opt(name)
        .await
        .expect("get iop")
        .map(|o| serde_json::to_value(o).expect("json"))
}

async fn iop_names(client: &kube::Client) -> Vec<String> {
    let mut names: Vec<String> = iops(client)
        .list(&ListParams::default())
        .await
        .expect("list iops")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    names.sort();
    names
}

pub(crate) async fn deployment(client: &kube::Client, ns: &str, name: &str) -> Option<Deployment> {
    Api::<Deployment>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .expect("get deployment")
}

/// The field managers of a stored object.
fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["manager"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits for a Deployment to have a ready replica.
pub(crate) async fn ready(client: &kube::Client, ns: &str, name: &str) {
    eventually(
        &format!("deployment {ns}/{name} ready"),
        Duration::from_secs(30),
        || async {
            let d = deployment(client, ns, name).await?;
            (d.status?.ready_replicas.unwrap_or(0) >= 1).then_some(())
        },
    )
    .await
}

async fn healthy(client: &kube::Client, name: &str) {
    eventually(
        &format!("istiooperator {name} HEALTHY"),
        Duration::from_secs(30),
        || async {
            let v = iop(client, name).await?;
            (v["status"]["status"] == "HEALTHY").then_some(())
        },
    )
    .await
}

fn revision_args(file: &str) -> Vec<&str> {
    vec!["install", "revision", "--rev", REV, "--file", file]
}

fn gateway_args(file: &str) -> Vec<&str> {
    vec![
        "install",
        "gateway",
        "--namespace",
        GW_NS,
        "--name",
        GW_NAME,
        "--rev",
        "1-9-1",
        "--istioctl",
        "--file",
        file,
    ]
}

/// The preview's step for the istioctl route.
fn istioctl_step(n: usize, resource: &str, istioctl: &Path, argv: &[String]) -> String {
    format!(
        "  {n}. save istiooperator.install.istio.io/{resource} to {} and run `{} {}`\n",
        argv[3],
        istioctl.display(),
        argv.join(" ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_goes_through_istioctl_which_installs_it() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let client = harness::client(&sandbox, CONTEXT).await.expect("client");
    let env = Env::new(&sandbox, Behaviour::Installs);
    // A directory that does not exist yet: meshtop creates it.
    let file = env.dir.path().join("saved").join("rev-1-10-0.yaml");
    let file_arg = file.display().to_string();
    let args = revision_args(&file_arg);
    let iops_before = iop_names(&client).await;
    assert!(
        !iops_before.contains(&REV_IOP.to_string()),
        "{iops_before:?}"
    );

    let rendered = env.rendered(&args).await;
    assert_eq!(
        rendered["metadata"],
        json!({"name": REV_IOP, "namespace": "istio-system"})
    );
    assert_eq!(rendered["spec"]["revision"], REV);
    assert!(!file.exists(), "-o yaml saved {}", file.display());

    // --dry-run: istioctl gets --dry-run; the stand-in's server dry run changes nothing,
    // and neither does meshtop: istioctl reads a private temporary copy of the resource,
    // removed after, and --file is not written.
    let out = env.meshtop(&[&args[..], &["--dry-run"]].concat()).await;
    assert_eq!(out.code, Some(0), "{out}");
    let calls = env.istioctl.calls();
    assert_eq!(calls.len(), 1, "{out}");
    let scratch = PathBuf::from(&calls[0][3]);
    assert!(
        scratch.starts_with(std::env::temp_dir())
            && scratch
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d.to_string_lossy().starts_with("meshtop-dry-run-"))
            && scratch.file_name() == file.file_name(),
        "{}",
        scratch.display()
    );
    assert_eq!(
        calls[0],
        istioctl_argv(&scratch, &env.kubeconfig, true),
        "{out}"
    );
    assert_eq!(env.istioctl.file_seen(), rendered);
    assert!(!scratch.exists(), "{} was left behind", scratch.display());
    assert!(!file.exists(), "the dry run wrote {}", file.display());
    let real_argv = istioctl_argv(&file, &env.kubeconfig, false);
    let preview = format!(
        "install revision {REV} on context {CONTEXT}:\n{}  operator: ",
        // The preview shows the command without --dry-run: the plan is the same either way.
        istioctl_step(1, REV_IOP, &env.istioctl.path, &real_argv),
    );
    assert!(out.stdout.starts_with(&preview), "want\n{preview}\n{out}");
    assert!(
        out.stdout.ends_with(&format!(
            "\n✔ Istio core installed\n✔ Istiod installed\n✔ Installation complete\n\
             istioctl install -y -f {}: done (istioctl dry run)\n",
            scratch.display()
        )),
        "{out}"
    );
    assert_eq!(
        env.istioctl.kubectl_output(),
        format!("istiooperator.install.istio.io/{REV_IOP} serverside-applied (server dry run)\n")
    );
    assert_eq!(iop_names(&client).await, iops_before);
    assert!(
        deployment(&client, "istio-system", REV_ISTIOD)
            .await
            .is_none()
    );
    assert_eq!(
        audit_rows(&env.audit()),
        vec![row(REV_AUDIT_ACTION, REV_AUDIT_TARGET, true, "ok")]
    );

    // The install: saved where --file says, istioctl without --dry-run, the resource
    // applied by it.
    let out = env.meshtop(&args).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        env.istioctl.calls(),
        vec![calls[0].clone(), real_argv.clone()],
        "{out}"
    );
    assert_eq!(saved(&file), rendered);
    assert!(out.stdout.starts_with(&preview), "want\n{preview}\n{out}");
    assert!(
        out.stdout.ends_with(&format!(
            "\n✔ Istio core installed\n✔ Istiod installed\n✔ Installation complete\n\
             istioctl install -y -f {file_arg}: done\n"
        )),
        "{out}"
    );
    assert!(
        env.istioctl.kubectl_output().ends_with(&format!(
            "\nistiooperator.install.istio.io/{REV_IOP} serverside-applied\n"
        )),
        "{}",
        env.istioctl.kubectl_output()
    );
    let stored = iop(&client, REV_IOP)
        .await
        .expect("the resource is in the cluster");
    assert_eq!(stored["spec"], rendered["spec"]);
    // Applied by istioctl's kubectl, not by meshtop.
    let by = managers(&stored);
    assert!(
        by.iter().any(|m| m == "kubectl") && !by.iter().any(|m| m == "meshtop"),
        "{by:?}"
    );
    // The sandbox reconciles every IstioOperator (it stands in for whatever installs it):
    // the revision's istiod comes up and the resource turns HEALTHY.
    ready(&client, "istio-system", REV_ISTIOD).await;
    healthy(&client, REV_IOP).await;
    assert_eq!(
        audit_rows(&env.audit()),
        vec![
            row(REV_AUDIT_ACTION, REV_AUDIT_TARGET, true, "ok"),
            row(REV_AUDIT_ACTION, REV_AUDIT_TARGET, false, "ok"),
        ]
    );

    // Installed: the revision is in use, a second install is refused (exit 2) before
    // istioctl runs, and not audited.
    let out = env.meshtop(&args).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr.contains("revision 1-10-0 is already in use"),
        "{out}"
    );
    assert_eq!(env.istioctl.calls().len(), 2);
    assert_eq!(env.audit().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istioctl_failing_fails_the_install_with_its_error() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let client = harness::client(&sandbox, CONTEXT).await.expect("client");
    let env = Env::new(&sandbox, Behaviour::Fails);
    let file = env.dir.path().join("rev.yaml");
    let file_arg = file.display().to_string();
    let args = revision_args(&file_arg);
    let iops_before = iop_names(&client).await;
    let rendered = env.rendered(&args).await;

    let failure_of = |file: &Path| {
        format!(
            "istioctl install -f {} failed (exit status: 1): {}",
            file.display(),
            FAILING_STDERR.join("\n")
        )
    };
    let failure = failure_of(&file);
    let mut dry_failure = String::new();
    for (n, dry_run) in [(1, false), (2, true)] {
        let mut run_args = args.clone();
        if dry_run {
            run_args.push("--dry-run");
        }
        let out = env.meshtop(&run_args).await;
        assert_eq!(out.code, Some(1), "{out}");
        let calls = env.istioctl.calls();
        assert_eq!(calls.len(), n);
        // A dry run hands istioctl a temporary copy, removed after.
        let given = if dry_run {
            PathBuf::from(&calls[n - 1][3])
        } else {
            file.clone()
        };
        assert_eq!(
            calls[n - 1],
            istioctl_argv(&given, &env.kubeconfig, dry_run),
            "{out}"
        );
        assert_eq!(env.istioctl.file_seen(), rendered);
        if dry_run {
            assert_ne!(given, file);
            assert!(!given.exists(), "{} was left behind", given.display());
            dry_failure = failure_of(&given);
        }
        // stderr carries the tail of istioctl's output: its error, in its words.
        assert_eq!(
            out.stderr,
            format!("meshtop: {}\n", failure_of(&given)),
            "{out}"
        );
        assert!(
            out.stdout.starts_with(&format!(
                "install revision {REV} on context {CONTEXT}:\n{}",
                istioctl_step(
                    1,
                    REV_IOP,
                    &env.istioctl.path,
                    &istioctl_argv(&file, &env.kubeconfig, false)
                )
            )),
            "{out}"
        );
        assert!(!out.stdout.contains(": done"), "{out}");
        // The resource was saved for istioctl; nothing reached the cluster.
        assert_eq!(saved(&file), rendered);
        assert_eq!(env.istioctl.kubectl_output(), "");
        assert_eq!(iop_names(&client).await, iops_before);
        assert!(
            deployment(&client, "istio-system", REV_ISTIOD)
                .await
                .is_none()
        );
    }

    // A gateway forced onto the istioctl route fails the same way; its resource is not
    // stored and no gateway comes up. Its namespace and ConfigMap copy were sent before
    // istioctl ran: they stay, and the error says so.
    let gw_file = env.dir.path().join("gw.yaml");
    let gw_file_arg = gw_file.display().to_string();
    let out = env.meshtop(&gateway_args(&gw_file_arg)).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(env.istioctl.calls().len(), 3);
    assert_eq!(
        env.istioctl.calls().last(),
        Some(&istioctl_argv(&gw_file, &env.kubeconfig, false)),
        "{out}"
    );
    let gw_failure = format!(
        "istioctl install -f {gw_file_arg} failed (exit status: 1): {} (done before it \
         failed: namespace/{GW_NS} created; configmap/istio-1-9-1 copied to {GW_NS})",
        FAILING_STDERR.join("\n")
    );
    assert_eq!(out.stderr, format!("meshtop: {gw_failure}\n"), "{out}");
    assert_eq!(saved(&gw_file)["metadata"]["name"], GW_NAME);
    assert_eq!(env.istioctl.kubectl_output(), "");
    assert_eq!(iop_names(&client).await, iops_before);
    assert!(deployment(&client, GW_NS, GW_NAME).await.is_none());
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), GW_NS)
            .get_opt("istio-1-9-1")
            .await
            .expect("get the ConfigMap copy")
            .is_some()
    );

    assert_eq!(
        audit_rows(&env.audit()),
        vec![
            row(REV_AUDIT_ACTION, REV_AUDIT_TARGET, false, &failure),
            row(REV_AUDIT_ACTION, REV_AUDIT_TARGET, true, &dry_failure),
            row(
                &format!("install gateway {GW_NS}/{GW_NAME} (revision 1-9-1) (istioctl)"),
                &format!("istiooperator/istio-system/{GW_NAME}"),
                false,
                &gw_failure
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_with_istioctl_flag_applies_prerequisites_then_runs_istioctl() {
    let sandbox = harness::start_file(K1).await.expect("sandbox");
    let client = harness::client(&sandbox, CONTEXT).await.expect("client");
    let env = Env::new(&sandbox, Behaviour::Installs);
    let file = env.dir.path().join("gw.yaml");
    let file_arg = file.display().to_string();
    let args = gateway_args(&file_arg);
    let rendered = env.rendered(&args).await;
    assert_eq!(rendered["metadata"]["name"], GW_NAME);

    let out = env.meshtop(&args).await;
    assert_eq!(out.code, Some(0), "{out}");
    let argv = istioctl_argv(&file, &env.kubeconfig, false);
    assert_eq!(env.istioctl.calls(), vec![argv.clone()], "{out}");
    assert_eq!(saved(&file), rendered);
    let stdout = &out.stdout;
    let title =
        format!("install gateway {GW_NS}/{GW_NAME} (revision 1-9-1) on context {CONTEXT}:\n");
    assert!(stdout.starts_with(&title), "{out}");
    for want in [
        format!("\n  1. create namespace/{GW_NS} (it does not exist)\n"),
        format!("\n  2. copy configmap/istio-1-9-1 from istio-system to {GW_NS} "),
        format!("\n{}", istioctl_step(3, GW_NAME, &env.istioctl.path, &argv)),
        // The seed's operator would act: the flag alone sends the resource to istioctl.
        "\n  note: istioctl route asked for: the resource is not applied, the operator does not see it\n"
            .to_string(),
        "\n✔ Istio core installed\n✔ Ingress gateways installed\n✔ Installation complete\n"
            .to_string(),
        format!("\nnamespace/{GW_NS} created\n"),
        format!("\nconfigmap/istio-1-9-1 copied to {GW_NS}\n"),
    ] {
        assert!(stdout.contains(&want), "want {want:?} in\n{out}");
    }
    // In the order it happened: meshtop's writes, then istioctl and its outcome.
    assert!(
        stdout.ends_with(&format!(
            "\nnamespace/{GW_NS} created\nconfigmap/istio-1-9-1 copied to {GW_NS}\n\
             ✔ Istio core installed\n✔ Ingress gateways installed\n✔ Installation complete\n\
             istioctl install -y -f {file_arg}: done\n"
        )),
        "{out}"
    );

    // meshtop wrote the prerequisites; istioctl (the stand-in's kubectl) the resource.
    assert!(
        Api::<Namespace>::all(client.clone())
            .get_opt(GW_NS)
            .await
            .expect("get namespace")
            .is_some()
    );
    let copy = Api::<ConfigMap>::namespaced(client.clone(), GW_NS)
        .get("istio-1-9-1")
        .await
        .expect("the ConfigMap copy");
    let copy = serde_json::to_value(copy).expect("json");
    assert_eq!(managers(&copy), vec!["meshtop".to_string()]);
    let stored = iop(&client, GW_NAME).await.expect("the resource is stored");
    assert_eq!(stored["spec"], rendered["spec"]);
    let by = managers(&stored);
    assert!(
        by.iter().any(|m| m == "kubectl") && !by.iter().any(|m| m == "meshtop"),
        "{by:?}"
    );
    ready(&client, GW_NS, GW_NAME).await;
    healthy(&client, GW_NAME).await;
    assert_eq!(
        audit_rows(&env.audit()),
        vec![row(
            &format!("install gateway {GW_NS}/{GW_NAME} (revision 1-9-1) (istioctl)"),
            &format!("istiooperator/istio-system/{GW_NAME}"),
            false,
            "ok"
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_sandbox_gives_istioctl_a_kubeconfig_next_to_the_default_file() {
    let env = Env::demo(K1, Behaviour::Installs);
    let dir = env.state_home().join("meshtop").join("install");
    // Printing the plan writes nothing, not even the kubeconfig istioctl would get.
    let out = env
        .meshtop(&["install", "revision", "--rev", REV, "-o", "yaml"])
        .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("kind: IstioOperator"), "{out}");
    assert!(!dir.exists(), "{} was written", dir.display());
    assert!(env.istioctl.calls().is_empty());
    let out = env.meshtop(&["install", "revision", "--rev", REV]).await;
    assert_eq!(out.code, Some(0), "{out}");
    // No --file: $XDG_STATE_HOME/meshtop/install/NAMESPACE-NAME.yaml, and the in-memory
    // kubeconfig of meshtop's own sandbox copied next to it for istioctl.
    let file = dir.join(format!("istio-system-{REV_IOP}.yaml"));
    let kubeconfig = dir.join(format!("istio-system-{REV_IOP}.kubeconfig"));
    assert_eq!(
        env.istioctl.calls(),
        vec![istioctl_argv(&file, &kubeconfig, false)],
        "{out}"
    );
    assert_eq!(saved(&file)["metadata"]["name"], REV_IOP);
    // It holds the sandbox's bearer token: its owner's alone while istioctl runs, and
    // removed once it is done.
    let (seen, mode) = env.istioctl.kubeconfig_seen();
    assert_eq!(mode, "600");
    let kc = kube::config::Kubeconfig::from_yaml(&seen).expect("the kubeconfig copy");
    assert!(
        kc.contexts.iter().any(|c| c.name == CONTEXT),
        "{:?}",
        kc.contexts
    );
    assert!(
        !kubeconfig.exists(),
        "{} was left behind",
        kubeconfig.display()
    );
    // The copy reaches meshtop's sandbox: the stand-in's apply went through.
    assert_eq!(
        env.istioctl.kubectl_output(),
        format!("istiooperator.install.istio.io/{REV_IOP} serverside-applied\n")
    );
    assert!(
        out.stdout.ends_with(&format!(
            "\n✔ Installation complete\nistioctl install -y -f {}: done\n",
            file.display()
        )),
        "{out}"
    );
    assert_eq!(
        audit_rows(&env.audit()),
        vec![row(REV_AUDIT_ACTION, REV_AUDIT_TARGET, false, "ok")]
    );
}
