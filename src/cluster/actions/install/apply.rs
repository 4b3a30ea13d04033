//! Running a plan's steps in order: server-side apply with field manager `meshtop`
//! (`dryRun=All` for a dry run), files saved, istioctl or helm run with its output kept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::super::{FIELD_MANAGER, api_error};
use super::read::{iop_resource, istio_revision_resource};
use crate::ops::ActionError;
use crate::ops::install::plan::{InstallPlan, PrivateFile, Route, StepKind, to_yaml};

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallOutcome {
    /// kubectl-like lines, one per step: `namespace/NS created`, `configmap/istio-1-9-1
    /// copied to NS`, `istiooperator.install.istio.io/NAME created (server dry run)`.
    pub lines: Vec<String>,
    /// What istioctl (or helm) printed (stdout, then stderr), on its route.
    pub istioctl_output: Option<String>,
    /// The files written.
    pub saved: Vec<PathBuf>,
    /// False when only files were saved (no operator, no istioctl): nothing was installed.
    pub installed: bool,
}

fn dry(dry_run: bool) -> &'static str {
    if dry_run { " (server dry run)" } else { "" }
}

fn params(dry_run: bool) -> PatchParams {
    let mut p = PatchParams::apply(FIELD_MANAGER);
    p.dry_run = dry_run;
    p
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn save(file: &Path, text: &str) -> Result<(), ActionError> {
    let fail = |e: std::io::Error| ActionError::Refused(format!("saving {}: {e}", file.display()));
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    std::fs::write(file, text).map_err(fail)
}

/// The last lines of a command's output, for an error message.
fn tail(output: &str, lines: usize) -> String {
    let all: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How long istioctl may run before it is stopped.
const ISTIOCTL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Writes a secret file readable by its owner only.
fn save_private(file: &PrivateFile) -> Result<(), ActionError> {
    crate::files::replace(&file.path, file.contents.as_bytes())
        .map_err(|e| ActionError::Refused(format!("saving {}: {e}", file.path.display())))
}

/// Runs the plan's steps in order. A step that fails stops the install; the error then says
/// what the steps before it did, since that stays done (nothing is rolled back).
pub(in super::super) async fn run(
    client: &kube::Client,
    plan: &InstallPlan,
    dry_run: bool,
) -> Result<InstallOutcome, ActionError> {
    let mut out = InstallOutcome {
        installed: !matches!(plan.route(), Route::SaveOnly),
        ..InstallOutcome::default()
    };
    match run_steps(client, plan, dry_run, &mut out).await {
        Ok(()) => Ok(out),
        Err(e) if out.lines.is_empty() => Err(e),
        Err(e) => {
            let done = format!("{e} (done before it failed: {})", out.lines.join("; "));
            Err(match e {
                ActionError::Refused(_) => ActionError::Refused(done),
                _ => ActionError::Api(done),
            })
        }
    }
}

async fn run_steps(
    client: &kube::Client,
    plan: &InstallPlan,
    dry_run: bool,
    out: &mut InstallOutcome,
) -> Result<(), ActionError> {
    let suffix = dry(dry_run);
    // Namespaces this install creates: in a dry run nothing can be sent into them (the API
    // server answers 404 for a namespace that does not exist yet).
    let mut new_namespaces = BTreeSet::new();
    let not_sent = |ns: &str| {
        format!(
            " (not sent in the server dry run: namespace/{ns} does not exist before this install)"
        )
    };
    for step in plan.steps() {
        match &step.kind {
            StepKind::CreateNamespace { namespace } => {
                let api: Api<Namespace> = Api::all(client.clone());
                for o in &step.objects {
                    api.patch(namespace, &params(dry_run), &Patch::Apply(o))
                        .await
                        .map_err(|e| api_error(&format!("creating namespace/{namespace}"), &e))?;
                }
                new_namespaces.insert(namespace.clone());
                out.lines
                    .push(format!("namespace/{namespace} created{suffix}"));
            }
            StepKind::CopyConfigMap { name, to, .. } => {
                if dry_run && new_namespaces.contains(to) {
                    out.lines.push(format!(
                        "configmap/{name} would be copied to {to}{}",
                        not_sent(to)
                    ));
                    continue;
                }
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), to);
                for o in &step.objects {
                    api.patch(name, &params(dry_run), &Patch::Apply(o))
                        .await
                        .map_err(|e| api_error(&format!("copying configmap/{name} to {to}"), &e))?;
                }
                out.lines
                    .push(format!("configmap/{name} copied to {to}{suffix}"));
            }
            StepKind::ApplyIstioOperator => {
                for o in &step.objects {
                    let (ns, name) = (text(o, "/metadata/namespace"), text(o, "/metadata/name"));
                    let resource = format!("istiooperator.install.istio.io/{name}");
                    if dry_run && new_namespaces.contains(ns) {
                        out.lines
                            .push(format!("{resource} would be created{}", not_sent(ns)));
                        continue;
                    }
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client.clone(), ns, &iop_resource());
                    api.patch(name, &params(dry_run), &Patch::Apply(o))
                        .await
                        .map_err(|e| api_error(&format!("applying {resource}"), &e))?;
                    out.lines.push(format!("{resource} created{suffix}"));
                }
            }
            StepKind::ApplyIstioRevision => {
                for o in &step.objects {
                    let name = text(o, "/metadata/name");
                    let resource = format!("istiorevision.sailoperator.io/{name}");
                    let api: Api<DynamicObject> =
                        Api::all_with(client.clone(), &istio_revision_resource());
                    // The model sees revisions by their istiod: one whose istiod is not
                    // there (yet, or turned off) is found here, and left as it is.
                    let existing = api
                        .get_opt(name)
                        .await
                        .map_err(|e| api_error(&format!("reading {resource}"), &e))?;
                    if existing.is_some() {
                        return Err(ActionError::Refused(format!(
                            "{resource} already exists: nothing was changed; choose another \
                             revision name"
                        )));
                    }
                    api.patch(name, &params(dry_run), &Patch::Apply(o))
                        .await
                        .map_err(|e| api_error(&format!("applying {resource}"), &e))?;
                    out.lines.push(format!("{resource} created{suffix}"));
                }
            }
            StepKind::IstioctlInstall { binary, file: kept } => {
                let scratch = scratch(dry_run)?;
                let file = scratch_or(&scratch, kept, "iop.yaml");
                save(&file, &to_yaml(&step.objects))?;
                if scratch.is_none() {
                    out.saved.push(file.clone());
                }
                let mut args: Vec<String> = ["install", "-y", "-f"].map(String::from).to_vec();
                args.push(file.display().to_string());
                args.extend(plan.istioctl_args().iter().cloned());
                if dry_run {
                    args.push("--dry-run".into());
                }
                let what = format!("istioctl install -f {}", file.display());
                let output =
                    run_installer(binary, &args, plan.istioctl_kubeconfig(), &what).await?;
                out.istioctl_output = Some(output);
                out.lines.push(format!(
                    "istioctl install -y -f {}: done{}",
                    file.display(),
                    if dry_run { " (istioctl dry run)" } else { "" }
                ));
            }
            StepKind::HelmInstall { binary, file: kept } => {
                let Some(release) = plan.helm() else {
                    return Err(ActionError::Invalid("a helm step without a release".into()));
                };
                let scratch = scratch(dry_run)?;
                let file = scratch_or(&scratch, kept, "values.yaml");
                save(&file, &to_yaml(&step.objects))?;
                if scratch.is_none() {
                    out.saved.push(file.clone());
                }
                let mut args = release.args(&file.display().to_string());
                args.extend(plan.helm_args().iter().cloned());
                if dry_run {
                    args.push("--dry-run=server".into());
                }
                let what = format!("helm upgrade --install {}", release.release);
                let output =
                    run_installer(binary, &args, plan.istioctl_kubeconfig(), &what).await?;
                out.istioctl_output = Some(output);
                out.lines.push(format!(
                    "helm upgrade --install {} {} -n {}: done{}",
                    release.release,
                    release.chart,
                    release.namespace,
                    if dry_run {
                        " (helm server dry run)"
                    } else {
                        ""
                    }
                ));
            }
            StepKind::Save { file } if dry_run => {
                // A dry run changes nothing, files included (one may hold the user's edits).
                out.lines.push(format!(
                    "would save {} (dry run: nothing written)",
                    file.display()
                ));
            }
            StepKind::Save { file } => {
                save(file, &to_yaml(&step.objects))?;
                out.saved.push(file.clone());
                out.lines.push(format!("saved {}", file.display()));
            }
        }
    }
    Ok(())
}

/// A dry run gives the installer a private temporary file and leaves the user's as it is.
fn scratch(dry_run: bool) -> Result<Option<ScratchDir>, ActionError> {
    if !dry_run {
        return Ok(None);
    }
    ScratchDir::new()
        .map(Some)
        .map_err(|e| ActionError::Refused(format!("a temporary directory for a dry run: {e}")))
}

/// The file an installer reads: `kept`, or its namesake in the dry run's scratch directory.
fn scratch_or(scratch: &Option<ScratchDir>, kept: &Path, fallback: &str) -> PathBuf {
    match scratch {
        Some(dir) => dir.path.join(kept.file_name().unwrap_or(fallback.as_ref())),
        None => kept.to_path_buf(),
    }
}

/// Runs an installer (istioctl, helm) with the plan's private kubeconfig written while it
/// runs; its output (stdout, then stderr) when it succeeds, else `WHAT failed (STATUS):`
/// and the output's tail.
pub(in super::super) async fn run_installer(
    binary: &Path,
    args: &[String],
    kubeconfig: Option<&PrivateFile>,
    what: &str,
) -> Result<String, ActionError> {
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    if let Some(k) = kubeconfig {
        save_private(k)?;
    }
    // Installers wait for readiness themselves (istioctl 5m by default): far beyond that,
    // one hangs; it is killed (kill_on_drop) rather than holding the action forever.
    let done = match tokio::time::timeout(ISTIOCTL_TIMEOUT, cmd.output()).await {
        Ok(done) => done,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "no answer within {} minutes: stopped",
                ISTIOCTL_TIMEOUT.as_secs() / 60
            ),
        )),
    };
    if let Some(k) = kubeconfig {
        // Its token is the demo's: nothing else needs it once the installer is done.
        if let Err(e) = std::fs::remove_file(&k.path) {
            tracing::warn!(file = %k.path.display(), error = %e, "removing");
        }
    }
    let done =
        done.map_err(|e| ActionError::Refused(format!("cannot run {}: {e}", binary.display())))?;
    let output = joined_output(&done.stdout, &done.stderr);
    tracing::info!(program = %binary.display(), status = %done.status, output = %output, "installer");
    if !done.status.success() {
        return Err(ActionError::Api(format!(
            "{what} failed ({}): {}",
            done.status,
            tail(&output, 5)
        )));
    }
    Ok(output)
}

/// A private temporary directory, removed with what it holds when dropped.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt as _;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("meshtop-dry-run-{}-{nanos:x}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(dir = %self.path.display(), error = %e, "removing");
        }
    }
}

impl InstallOutcome {
    /// Why nothing was installed, when nothing was (no operator acts, no istioctl): the
    /// action's result for the audit log, the task and the exit code.
    pub fn not_installed(&self, plan: &InstallPlan, dry_run: bool) -> Option<String> {
        if self.installed {
            return None;
        }
        let files: Vec<String> = plan
            .steps()
            .iter()
            .filter_map(|s| match &s.kind {
                StepKind::Save { file } => Some(file.display().to_string()),
                _ => None,
            })
            .collect();
        let why = match plan.helm() {
            Some(h) => format!(
                "the cluster's revisions are Helm releases and helm is not on PATH (release {}/{})",
                h.namespace, h.release
            ),
            None => format!(
                "no operator acts on the resource ({}) and istioctl is not on PATH",
                plan.operator().describe()
            ),
        };
        Some(format!(
            "not installed: {why}; {}: {}",
            if dry_run {
                "the files would be saved (dry run: nothing written)"
            } else {
                "the files are saved"
            },
            files.join(", ")
        ))
    }
}

/// A program's stdout then stderr, each ending its last line.
fn joined_output(stdout: &[u8], stderr: &[u8]) -> String {
    let mut output = String::new();
    for part in [stdout, stderr] {
        let text = String::from_utf8_lossy(part);
        output.push_str(&text);
        if !text.is_empty() && !text.ends_with('\n') {
            output.push('\n');
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_do_not_run_together() {
        assert_eq!(
            joined_output(b"- Processing", b"Error: x"),
            "- Processing\nError: x\n"
        );
        assert_eq!(joined_output(b"a\n", b""), "a\n");
        assert_eq!(joined_output(b"", b""), "");
    }

    #[test]
    fn a_private_file_is_its_owners_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = PrivateFile {
            path: dir.path().join("sub/k.kubeconfig"),
            contents: "token: secret".into(),
        };
        save_private(&file).expect("save");
        let mode = std::fs::metadata(&file.path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&file.path).expect("read"),
            "token: secret"
        );
        assert!(!format!("{file:?}").contains("secret"));
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 3), "");
    }
}
