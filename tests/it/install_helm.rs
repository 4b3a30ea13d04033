//! `meshtop install revision|gateway` on the Helm route, at the command line, on the 2026
//! cluster whose revisions are Helm releases (istiod-1-29-2, istiod-1-30-1). helm cannot be
//! installed here, so a stand-in `helm` (a POSIX sh script first on meshtop's PATH) takes its
//! place: it refuses any arguments but `upgrade --install REL CHART -n NS [--set revision=REV]
//! [--version V] -f VALUES --kubeconfig K --kube-context C [--dry-run=server]`, records them
//! with the values file it was given, and applies to the sandbox with kubectl what Istio's
//! chart would create (for istio/istiod: istiod-REV's ServiceAccount, Deployment, Service,
//! HPA from `pilot.autoscaleMin`, mesh and injector ConfigMaps and injection webhook; for
//! istio/gateway: the gateway's Deployment and Service), with Helm's labels and release
//! annotations. The sandbox then runs the new istiod, and meshtop reads it back as a
//! revision installed by Helm. The same install driven in a real terminal under tmux.

use std::path::{Path, PathBuf};

use super::install_istioctl::{deployment, ready};
use super::uninstall_actions::uninstall_preview;
use crate::common::harness;
use crate::common::process::{self, Run, SandboxProcess, audit_steps, step};
use crate::common::stand_in::{self, sh_quote};
use crate::common::tmux::{Session, require_tmux};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use meshtop_sandbox::Sandbox;
use serde_json::{Value, json};

const CANARY: &str = "assets/scenarios/canary-2026.yaml";
const CONTEXT: &str = harness::ADMIN_CONTEXT;
const REV: &str = "1-31-0";
const RELEASE: &str = "istiod-1-31-0";

/// What `istio/istiod` creates, with `@REV@`, `@RELEASE@`, `@NS@`, `@VERSION@` and `@MIN@`
/// (the autoscaler's minimum from the values) filled by the stand-in.
const ISTIOD_CHART: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: istiod-@REV@
  namespace: @NS@
  labels: {app: istiod, app.kubernetes.io/managed-by: Helm, helm.sh/chart: istiod-@VERSION@, release: @RELEASE@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
---
apiVersion: v1
kind: Service
metadata:
  name: istiod-@REV@
  namespace: @NS@
  labels: {app: istiod, istio: pilot, istio.io/rev: @REV@, app.kubernetes.io/managed-by: Helm, helm.sh/chart: istiod-@VERSION@, release: @RELEASE@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
spec:
  selector: {app: istiod, istio.io/rev: @REV@}
  ports:
  - {name: grpc-xds, port: 15010, protocol: TCP}
  - {name: https-dns, port: 15012, protocol: TCP}
  - {name: https-webhook, port: 443, targetPort: 15017, protocol: TCP}
  - {name: http-monitoring, port: 15014, protocol: TCP}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istiod-@REV@
  namespace: @NS@
  labels: {app: istiod, istio: pilot, istio.io/rev: @REV@, app.kubernetes.io/managed-by: Helm, helm.sh/chart: istiod-@VERSION@, release: @RELEASE@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
spec:
  replicas: @MIN@
  selector:
    matchLabels: {app: istiod, istio.io/rev: @REV@}
  template:
    metadata:
      labels: {app: istiod, istio: istiod, istio.io/rev: @REV@, sidecar.istio.io/inject: "false"}
    spec:
      serviceAccountName: istiod-@REV@
      containers:
      - name: discovery
        image: docker.io/istio/pilot:@VERSION@
        args: [discovery, --monitoringAddr=:15014]
        env:
        - {name: REVISION, value: @REV@}
        ports:
        - {containerPort: 15010, name: grpc-xds, protocol: TCP}
        - {containerPort: 15014, name: http-monitoring, protocol: TCP}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: istiod-@REV@
  namespace: @NS@
  labels: {app: istiod, istio.io/rev: @REV@, app.kubernetes.io/managed-by: Helm, release: @RELEASE@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
spec:
  minReplicas: @MIN@
  maxReplicas: 5
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: istiod-@REV@}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio-@REV@
  namespace: @NS@
  labels: {istio.io/rev: @REV@, app.kubernetes.io/managed-by: Helm, release: @RELEASE@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
data:
  mesh: |
    defaultConfig:
      discoveryAddress: istiod-@REV@.@NS@.svc:15012
    rootNamespace: @NS@
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio-sidecar-injector-@REV@
  namespace: @NS@
  labels: {istio.io/rev: @REV@, app.kubernetes.io/managed-by: Helm, release: @RELEASE@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
data:
  values: '{"revision": "@REV@", "global": {"hub": "docker.io/istio", "tag": "@VERSION@"}}'
  config: |
    policy: enabled
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector-@REV@
  labels: {app: sidecar-injector, istio.io/rev: @REV@, app.kubernetes.io/managed-by: Helm, release: @RELEASE@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod-@REV@, namespace: @NS@, path: /inject, port: 443}
  sideEffects: None
  admissionReviewVersions: [v1]
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}
  namespaceSelector:
    matchExpressions:
    - {key: istio.io/rev, operator: In, values: [@REV@]}
    - {key: istio-injection, operator: DoesNotExist}
"#;

/// What `istio/gateway` creates for release @RELEASE@ (the Deployment and Service are named
/// after it, labels `app` and `istio` from it), with `@REPLICAS@` from `replicaCount`.
const GATEWAY_CHART: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: @RELEASE@
  namespace: @NS@
  labels: {app: @RELEASE@, istio: @SHORT@, app.kubernetes.io/managed-by: Helm, helm.sh/chart: gateway-@VERSION@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
spec:
  type: LoadBalancer
  selector: {app: @RELEASE@, istio: @SHORT@}
  ports:
  - {name: status-port, port: 15021, targetPort: 15021, protocol: TCP}
  - {name: http2, port: 80, targetPort: 80, protocol: TCP}
  - {name: https, port: 443, targetPort: 443, protocol: TCP}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: @RELEASE@
  namespace: @NS@
  labels: {app: @RELEASE@, istio: @SHORT@, istio.io/rev: @REV@, app.kubernetes.io/managed-by: Helm, helm.sh/chart: gateway-@VERSION@}
  annotations: {meta.helm.sh/release-name: @RELEASE@, meta.helm.sh/release-namespace: @NS@}
spec:
  replicas: @REPLICAS@
  selector:
    matchLabels: {app: @RELEASE@, istio: @SHORT@}
  template:
    metadata:
      labels: {app: @RELEASE@, istio: @SHORT@, istio.io/rev: @REV@, sidecar.istio.io/inject: "true"}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      containers:
      - {name: istio-proxy, image: auto}
"#;

/// The stand-in after its prologue ([`stand_in::prologue`]). Placeholders `@NAME@` are
/// filled with shell-quoted values.
const STAND_IN: &str = r#"kubectl=@KUBECTL@
charts=@CHARTS@
all="$*"
if [ "${1:-}" = uninstall ]; then
    [ "$#" -ge 8 ] && [ "$3" = -n ] && [ "$5" = --kubeconfig ] && [ "$7" = --kube-context ] \
        || usage "$@"
    release=$2 ns=$4 kubeconfig=$6 context=$8 dry_run=
    case "${9:-}" in "") ;; --dry-run) dry_run=--dry-run=server ;; *) usage "$@" ;; esac
    [ "$#" -le 9 ] || usage "$@"
    # What the chart made carries the release's label (the webhook is cluster-scoped).
    for scope in "-n $ns serviceaccount,service,deployment,horizontalpodautoscaler,configmap" \
            "mutatingwebhookconfiguration"; do
        # shellcheck disable=SC2086
        if ! out=$("$kubectl" --kubeconfig "$kubeconfig" --context "$context" delete $scope \
                -l "release=$release" $dry_run 2>&1); then
            printf 'Error: uninstallation completed with 1 error(s): %s\n' "$out" >&2
            exit 1
        fi
    done
    echo "release \"$release\" uninstalled"
    exit 0
fi
[ "$#" -ge 12 ] || usage "$@"
[ "$1" = upgrade ] && [ "$2" = --install ] && [ "$5" = -n ] || usage "$@"
release=$3 chart=$4 ns=$6
shift 6
rev=default version=1.31.0 file= kubeconfig= context= dry_run=
while [ "$#" -gt 0 ]; do
    case "$1" in
        --set) case "$2" in revision=*) rev=${2#revision=} ;; *) usage $all ;; esac; shift 2 ;;
        --version) version=$2; shift 2 ;;
        -f) file=$2; shift 2 ;;
        --kubeconfig) kubeconfig=$2; shift 2 ;;
        --kube-context) context=$2; shift 2 ;;
        --dry-run=server) dry_run=--dry-run=server; shift ;;
        *) usage $all ;;
    esac
done
[ -n "$file" ] && [ -n "$kubeconfig" ] && [ -n "$context" ] || usage $all
if [ ! -r "$file" ]; then echo "Error: open $file: no such file or directory" >&2; exit 1; fi
cp "$file" "$calls.values"
case "$chart" in
    istio/istiod)
        min=$(sed -n 's/^  autoscaleMin: *//p' "$file")
        template="$charts/istiod.yaml" replicas=${min:-1} ;;
    istio/gateway)
        replicas=$(sed -n 's/^replicaCount: *//p' "$file")
        template="$charts/gateway.yaml" replicas=${replicas:-1} min=1 ;;
    *) echo "Error: repo ${chart%%/*} not found" >&2; exit 1 ;;
esac
short=${release#istio-}
if ! applied=$(sed -e "s|@REV@|$rev|g" -e "s|@RELEASE@|$release|g" -e "s|@NS@|$ns|g" \
        -e "s|@VERSION@|$version|g" -e "s|@MIN@|$replicas|g" -e "s|@REPLICAS@|$replicas|g" \
        -e "s|@SHORT@|$short|g" "$template" \
        | "$kubectl" --kubeconfig "$kubeconfig" --context "$context" apply --server-side $dry_run -f - 2>&1); then
    printf 'Error: UPGRADE FAILED: %s\n' "$applied" >&2
    exit 1
fi
echo "Release \"$release\" does not exist. Installing it now."
echo "NAME: $release"
echo "NAMESPACE: $ns"
echo "STATUS: deployed"
"#;

/// The stand-in helm and what it records.
struct Helm {
    bin: PathBuf,
    path: PathBuf,
    calls: PathBuf,
}

impl Helm {
    fn write(root: &Path) -> Self {
        let charts = root.join("charts");
        std::fs::create_dir_all(&charts).expect("charts dir");
        std::fs::write(charts.join("istiod.yaml"), ISTIOD_CHART).expect("write chart");
        std::fs::write(charts.join("gateway.yaml"), GATEWAY_CHART).expect("write chart");
        let calls = root.join("helm.calls");
        let script = stand_in::prologue(
            "helm",
            &calls,
            "upgrade --install REL CHART -n NS [--set revision=REV] [--version V] -f FILE --kubeconfig K --kube-context C [--dry-run=server] | uninstall REL -n NS --kubeconfig K --kube-context C [--dry-run]",
        ) + &STAND_IN
            .replace(
                "@KUBECTL@",
                &sh_quote(&process::kubectl().display().to_string()),
            )
            .replace("@CHARTS@", &sh_quote(&charts.display().to_string()));
        let bin = root.join("bin");
        let path = stand_in::write_script(&bin, "helm", &script);
        Self { bin, path, calls }
    }

    fn calls(&self) -> Vec<Vec<String>> {
        stand_in::calls(&self.calls)
    }

    /// The values file the last call was given, parsed.
    fn values_seen(&self) -> Value {
        let mut name = self.calls.as_os_str().to_owned();
        name.push(".values");
        let text = std::fs::read_to_string(PathBuf::from(name)).expect("the stand-in's copy");
        serde_yaml::from_str(&text).expect("values YAML")
    }
}

struct Env {
    dir: tempfile::TempDir,
    helm: Helm,
    kubeconfig: PathBuf,
    target: Vec<String>,
}

impl Env {
    fn new(sandbox: &Sandbox) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, sandbox.kubeconfig_yaml()).expect("write kubeconfig");
        Self {
            helm: Helm::write(dir.path()),
            target: vec![
                "--kubeconfig".into(),
                kubeconfig.display().to_string(),
                "--context".into(),
                CONTEXT.into(),
            ],
            kubeconfig,
            dir,
        }
    }

    async fn meshtop(&self, args: &[&str]) -> Run {
        stand_in::meshtop(&self.helm.bin, self.dir.path(), &self.target, args).await
    }

    /// The arguments meshtop must give helm after the release's own.
    fn cluster_args(&self, dry_run: bool) -> Vec<String> {
        let mut v = vec![
            "--kubeconfig".to_string(),
            self.kubeconfig.display().to_string(),
            "--kube-context".into(),
            CONTEXT.into(),
        ];
        if dry_run {
            v.push("--dry-run=server".into());
        }
        v
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// helm's arguments for the install of revision 1-31-0 with values `file`, before the
/// flags that reach the cluster.
fn istiod_install_args(file: &str) -> Vec<String> {
    strings(&[
        "upgrade",
        "--install",
        RELEASE,
        "istio/istiod",
        "-n",
        "istio-system",
        "--set",
        "revision=1-31-0",
        "--version",
        "1.31.0",
        "-f",
        file,
    ])
}

/// The revision row `meshtop get revisions -o json` gives for `rev`.
async fn revision_row(env: &Env, rev: &str) -> Option<Value> {
    process::revision_row(&env.meshtop(&["get", "revisions", "-o", "json"]).await, rev)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_goes_through_helm_where_the_revisions_are_helm_releases() {
    let sandbox = harness::start_file(CANARY).await.expect("sandbox");
    let client = harness::client(&sandbox, CONTEXT).await.expect("client");
    let env = Env::new(&sandbox);
    let file = env.dir.path().join("values").join("istiod-1-31-0.yaml");
    let file_arg = file.display().to_string();
    let install = [
        "install",
        "revision",
        "--rev",
        REV,
        "--tag",
        "1.31.0",
        "--hpa-min",
        "2",
        "--file",
        &file_arg,
    ];

    // -o yaml: the values, nothing run, nothing saved.
    let out = env.meshtop(&[&install[..], &["-o", "yaml"]].concat()).await;
    assert_eq!(out.code, Some(0), "{out}");
    let values: Value = serde_yaml::from_str(&out.stdout).expect("values YAML");
    assert_eq!(
        values,
        json!({"pilot": {"autoscaleMin": 2, "autoscaleMax": 5}})
    );
    assert!(env.helm.calls().is_empty() && !file.exists());

    // The dry run: helm's server dry run on a private copy; nothing changes.
    let out = env.meshtop(&[&install[..], &["--dry-run"]].concat()).await;
    assert_eq!(out.code, Some(0), "{out}");
    let calls = env.helm.calls();
    assert_eq!(calls.len(), 1, "{out}");
    let scratch = PathBuf::from(&calls[0][11]);
    assert!(
        scratch.starts_with(std::env::temp_dir()) && !scratch.exists(),
        "{}",
        scratch.display()
    );
    let head = istiod_install_args;
    assert_eq!(
        calls[0],
        [head(&scratch.display().to_string()), env.cluster_args(true)].concat()
    );
    assert_eq!(env.helm.values_seen(), values);
    assert!(!file.exists(), "the dry run wrote {}", file.display());
    assert!(deployment(&client, "istio-system", RELEASE).await.is_none());
    let command = format!("{} {}", env.helm.path.display(), head(&file_arg).join(" "));
    assert!(
        out.stdout.starts_with(&format!(
            "install revision {REV} on context {CONTEXT}:\n  1. save the values to {file_arg} \
             and run `{command}`\n  installer: helm (the cluster's revisions are Helm releases: \
             istiod-1-29-2, istiod-1-30-1)\n"
        )),
        "{out}"
    );
    assert!(
        out.stdout.ends_with(&format!(
            "STATUS: deployed\nhelm upgrade --install {RELEASE} istio/istiod -n istio-system: \
             done (helm server dry run)\n"
        )),
        "{out}"
    );

    // The install: the values saved where --file says, helm run on them, istiod up.
    let out = env.meshtop(&install).await;
    assert_eq!(out.code, Some(0), "{out}");
    let calls = env.helm.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1],
        [head(&file_arg), env.cluster_args(false)].concat()
    );
    let saved: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&file).expect("saved")).expect("YAML");
    assert_eq!(saved, values);
    ready(&client, "istio-system", RELEASE).await;
    let hpa = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), "istio-system")
        .get(RELEASE)
        .await
        .expect("the chart's HPA");
    assert_eq!(hpa.spec.min_replicas, Some(2));
    let mesh = Api::<ConfigMap>::namespaced(client.clone(), "istio-system")
        .get("istio-1-31-0")
        .await
        .expect("the revision's mesh config");
    assert_eq!(
        mesh.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("meta.helm.sh/release-name"))
            .map(String::as_str),
        Some(RELEASE)
    );
    let row = revision_row(&env, REV).await.expect("the new revision");
    assert_eq!(row["installed_by"], format!("helm {RELEASE}"), "{row}");
    assert_eq!(row["version"], "1.31.0", "{row}");

    // In use now: a second install is refused before helm runs.
    let out = env.meshtop(&install).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr.contains("revision 1-31-0 is already in use"),
        "{out}"
    );
    assert_eq!(env.helm.calls().len(), 2);

    let target = format!("helm/istio-system/{RELEASE}");
    let action = format!("install revision {REV} (helm)");
    assert_eq!(
        audit_steps(&env.dir.path().join("audit.log")),
        [
            step(&action, &target, true, "ok"),
            step(&action, &target, false, "ok"),
        ]
    );

    // Uninstall through Helm: refused for a revision in use before helm runs; for the new
    // one, `helm uninstall` of its release, with helm's dry run first.
    let out = env.meshtop(&["uninstall", "revision", "1-30-1"]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains("revision tags point at it: canary"),
        "{out}"
    );
    assert_eq!(env.helm.calls().len(), 2);
    let uninstall = |dry_run: bool| {
        let mut v = strings(&["uninstall", RELEASE, "-n", "istio-system"]);
        v.extend(env.cluster_args(false));
        if dry_run {
            v.push("--dry-run".into());
        }
        v
    };
    let conn = harness::connection(&sandbox, CONTEXT)
        .await
        .expect("connect");
    let lines = uninstall_preview(&conn, REV, false).await;
    assert_eq!(
        lines,
        [
            format!(
                "uninstall revision {REV} through Helm: nothing uses it (no namespace, tag or \
                 proxy); runs:"
            ),
            format!("  `helm uninstall {RELEASE} -n istio-system`"),
            format!(
                "what the chart installed with release {RELEASE} goes with it (helm's own \
                 --dry-run for a dry run)"
            ),
        ]
    );
    let out = env
        .meshtop(&["uninstall", "revision", REV, "--dry-run"])
        .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(env.helm.calls()[2], uninstall(true));
    assert_eq!(
        out.stdout,
        format!(
            "helm release \"{RELEASE}\" deleted (server dry run)\nrevision {REV} uninstalled \
             (server dry run): 1 object deleted, 0 not found\n"
        )
    );
    assert!(deployment(&client, "istio-system", RELEASE).await.is_some());
    let out = env.meshtop(&["uninstall", "revision", REV]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(env.helm.calls()[3], uninstall(false));
    assert!(deployment(&client, "istio-system", RELEASE).await.is_none());
    let hook = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .get_opt(&format!("istio-sidecar-injector-{REV}"))
        .await
        .expect("get");
    assert!(hook.is_none(), "the chart's webhook stayed");
    assert!(revision_row(&env, REV).await.is_none());
    assert!(
        deployment(&client, "istio-system", "istiod-1-30-1")
            .await
            .is_some()
    );
    assert_eq!(
        audit_steps(&env.dir.path().join("audit.log"))[2..],
        [
            step("uninstall: delete", &target, true, "ok"),
            step("uninstall: delete", &target, false, "ok"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_of_a_helm_revision_is_the_gateway_chart() {
    let sandbox = harness::start_file(CANARY).await.expect("sandbox");
    let client = harness::client(&sandbox, CONTEXT).await.expect("client");
    let env = Env::new(&sandbox);
    let name = "istio-ingressgateway-shop";
    let file = env.dir.path().join("gw.yaml");
    let file_arg = file.display().to_string();
    let install = [
        "install",
        "gateway",
        "--namespace",
        "shop",
        "--name",
        name,
        "--rev",
        "1-30-1",
        "--replicas",
        "2",
        "--file",
        &file_arg,
    ];
    let out = env.meshtop(&install).await;
    assert_eq!(out.code, Some(0), "{out}");
    // The namespace first (the chart does not make it), then the chart; no ConfigMap copy.
    assert!(
        out.stdout
            .contains("\n  1. create namespace/shop (it does not exist)\n  2. save the values"),
        "{out}"
    );
    assert!(!out.stdout.contains("copy configmap"), "{out}");
    assert!(!out.stdout.contains("PodDisruptionBudget"), "{out}");
    let calls = env.helm.calls();
    assert_eq!(
        calls,
        [[
            strings(&[
                "upgrade",
                "--install",
                name,
                "istio/gateway",
                "-n",
                "shop",
                "--set",
                "revision=1-30-1",
                "--version",
                "1.30.1",
                "-f",
                &file_arg,
            ]),
            env.cluster_args(false)
        ]
        .concat()]
    );
    assert_eq!(
        env.helm.values_seen(),
        json!({
            "service": {"type": "LoadBalancer", "ports": [
                {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
                {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
            ]},
            "replicaCount": 2,
            "autoscaling": {"enabled": false},
        })
    );
    ready(&client, "shop", name).await;
    let out = env.meshtop(&["get", "gateways", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let rows: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let row = rows
        .as_array()
        .and_then(|r| r.iter().find(|g| g["name"] == name))
        .unwrap_or_else(|| panic!("gateway {name} listed: {rows}"));
    assert_eq!(row["installed_by"], format!("helm {name}"), "{row}");
    assert_eq!(row["revision"], "1-30-1", "{row}");
}

/// The Helm install flow in a real terminal: the revision form (version pre-filled), the
/// preview naming helm, the release's name typed to confirm, helm run with the exact
/// arguments, and the new revision on screen as installed by Helm.
#[test]
fn the_tui_installs_a_revision_through_helm() {
    require_tmux();
    let cluster = SandboxProcess::start(CANARY);
    let dir = tempfile::tempdir().expect("tempdir");
    let helm = Helm::write(dir.path());
    let mut path = std::ffi::OsString::from(helm.bin.as_os_str());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let state = dir.path().join("state");
    let audit = dir.path().join("audit.log");
    let s = Session::start_with_env(
        &format!(
            "--kubeconfig {} --context {CONTEXT} --audit-log {}",
            cluster.kubeconfig.display(),
            audit.display()
        ),
        160,
        45,
        &[
            ("PATH", path.as_os_str()),
            ("XDG_STATE_HOME", state.as_os_str()),
        ],
    );
    s.wait_for("the overview", |sc| sc.contains("1-30-1"));
    s.keys(&[":", "revisions", "Enter"]);
    s.wait_for("the Revisions view", |sc| sc.contains("Revisions ("));
    s.keys(&["I"]);
    let form = s.wait_for("the form, its version pre-filled", |sc| {
        sc.contains("install a control-plane revision") && sc.contains("version (tag)    1.30.1")
    });
    assert!(form.contains("revision"), "{form}");
    for _ in 0..20 {
        s.keys(&["BSpace"]);
    }
    s.keys(&[REV, "Down", "Down", "Down"]);
    for _ in 0..10 {
        s.keys(&["BSpace"]);
    }
    s.keys(&["1.31.0", "Enter"]);
    let preview = s.wait_for("the preview naming helm", |sc| {
        sc.contains("installer: helm") && sc.contains("HELM VALUES istio-system/istiod-1-31-0")
    });
    assert!(preview.contains("install revision 1-31-0"), "{preview}");
    assert!(helm.calls().is_empty(), "nothing runs at the preview");
    s.keys(&["y"]);
    s.wait_for("the typed confirmation", |sc| {
        sc.contains(&format!("type {RELEASE} to install revision {REV}"))
    });
    // A wrong name runs nothing.
    s.keys(&["istiod", "Enter"]);
    s.wait_for("the wrong name refused", |sc| {
        sc.contains(&format!("that is not {RELEASE}: type the name exactly"))
    });
    assert!(helm.calls().is_empty());
    s.keys(&["--", "-1-31-0", "Enter"]);
    let done = s.wait_for(
        "the new revision installed by helm, and the action done",
        |sc| {
            sc.contains(&format!("install revision {REV}: done"))
                && sc
                    .lines()
                    .any(|l| l.contains(REV) && l.contains(&format!("helm {RELEASE}")))
        },
    );
    let calls = helm.calls();
    assert_eq!(calls.len(), 1, "{done}");
    let values = state.join("meshtop/install/istio-system-istiod-1-31-0.values.yaml");
    assert_eq!(
        calls[0][..12],
        istiod_install_args(&values.display().to_string())
    );
    assert_eq!(
        calls[0][12..],
        strings(&[
            "--kubeconfig",
            &cluster.kubeconfig.display().to_string(),
            "--kube-context",
            CONTEXT,
        ])
    );
    cluster.kubectl_ok(&["get", "deployment", RELEASE, "-n", "istio-system"]);
    s.keys(&["q"]);
    assert_eq!(s.wait_exit(), Some(0));
    let action = format!("install revision {REV} (helm)");
    assert_eq!(
        audit_steps(&audit),
        [step(
            &action,
            &format!("helm/istio-system/{RELEASE}"),
            false,
            "ok"
        )]
    );
}
