//! `meshtop install revision|gateway`: check the input, sync a model of the cluster as
//! `meshtop get` does and take the facts from it, plan, preview, apply (or dry-run), and
//! print kubectl's kind of outcome lines.

use std::io::Write as _;
use std::time::Duration;

use super::editor::edit_in_editor;
use super::{AppError, GlobalArgs, Target, executor, preflight, synced_model};
use crate::cli::InstallCmd;
use crate::cluster::WatchOptions;
use crate::cluster::actions::install::read_mesh_configs;
use crate::ops::install::{
    GatewayForm, GatewayKind, InstallFacts, InstallPlan, PlanOptions, PrivateFile, RevisionForm,
    default_install_file, find_istioctl, find_on_path, parse_key_values, plan_gateway,
    plan_revision,
};

enum Form {
    Revision(RevisionForm),
    Gateway(GatewayForm),
}

impl Form {
    fn iop_name(&self) -> String {
        match self {
            Form::Revision(f) => f.iop_name(),
            Form::Gateway(f) => f.iop_name(),
        }
    }
}

/// The flags both install commands take.
struct Flags {
    dry_run: bool,
    yaml: bool,
    edit: bool,
    istioctl: bool,
    chart: Option<String>,
    file: Option<std::path::PathBuf>,
    sync_timeout: Duration,
}

pub(super) async fn run(global: &GlobalArgs, cmd: &InstallCmd) -> Result<(), AppError> {
    // The form's own checks come before anything else: a bad name never reaches a cluster.
    let (form, args) = match cmd {
        InstallCmd::Revision(c) => {
            let form = RevisionForm {
                revision: c.rev.clone(),
                profile: c.profile.clone(),
                hub: c.hub.clone(),
                tag: c.tag.clone(),
                node_selector: parse_key_values(&c.node_selector, "node selector")?,
                hpa_min: c.hpa_min,
                hpa_max: c.hpa_max,
                iop_name: c.install.iop_name.clone(),
            };
            form.validate()?;
            (Form::Revision(form), &c.install)
        }
        InstallCmd::Gateway(c) => {
            let namespace = global.namespace.clone().ok_or_else(|| {
                AppError::Usage(
                    "install gateway needs the gateway's namespace: --namespace NS".into(),
                )
            })?;
            let form = GatewayForm {
                namespace,
                name: c.name.clone(),
                revision: c.rev.clone(),
                kind: if c.egress {
                    GatewayKind::Egress
                } else {
                    GatewayKind::Ingress
                },
                labels: parse_key_values(&c.labels, "gateway label")?,
                service_type: c.service_type,
                http_node_port: c.http_node_port,
                https_node_port: c.https_node_port,
                replicas: c.replicas,
                hpa_min: c.hpa_min,
                hpa_max: c.hpa_max,
                iop_name: c.install.iop_name.clone(),
            };
            form.validate()?;
            (Form::Gateway(form), &c.install)
        }
    };
    let flags = Flags {
        dry_run: args.dry_run,
        yaml: args.output.is_some(),
        edit: args.edit,
        istioctl: args.istioctl,
        chart: args.chart.clone(),
        file: args.file.clone(),
        sync_timeout: args.sync.duration(),
    };
    install(global, form, flags).await
}

/// The flags an installer needs to reach the cluster meshtop reaches (its context flag is
/// istioctl's `--context` or helm's `--kube-context`), and the demo's in-memory kubeconfig as
/// a private file beside the resource (written only while the installer runs).
pub(super) fn installer_args(
    global: &GlobalArgs,
    target: &Target,
    file: &std::path::Path,
    context_flag: &str,
) -> (Vec<String>, Option<PrivateFile>) {
    let mut args = Vec::new();
    let mut private = None;
    if let Some(sandbox) = &target._sandbox {
        let path = PrivateFile::kubeconfig_beside(file);
        args.extend(["--kubeconfig".to_string(), path.display().to_string()]);
        private = Some(PrivateFile {
            path,
            contents: sandbox.kubeconfig_yaml(),
        });
    } else if let Some(k) = &global.kubeconfig {
        args.extend(["--kubeconfig".to_string(), k.display().to_string()]);
    }
    args.extend([context_flag.to_string(), target.connection.context.clone()]);
    (args, private)
}

/// helm on PATH, pointed at `target`, for uninstalling a revision Helm installed (the demo's
/// kubeconfig a private file while helm runs).
pub(super) fn helm_program(
    global: &GlobalArgs,
    target: &Target,
) -> Option<crate::cluster::actions::HelmProgram> {
    let binary = find_on_path("helm", std::env::var_os("PATH").as_deref())?;
    let file = default_install_file(&global.istio_namespace, "uninstall");
    let (args, kubeconfig) = installer_args(global, target, &file, "--kube-context");
    Some(crate::cluster::actions::HelmProgram {
        binary,
        args,
        kubeconfig,
    })
}

/// How installs are planned against `target`: istioctl and helm where they are on PATH,
/// each with the flags that point it at the cluster meshtop talks to.
pub(super) fn plan_options(
    global: &GlobalArgs,
    target: &Target,
    file: &std::path::Path,
) -> PlanOptions {
    let istioctl = find_istioctl();
    let (istioctl_args, mut kubeconfig) = match istioctl {
        Some(_) => installer_args(global, target, file, "--context"),
        None => (Vec::new(), None),
    };
    let helm = find_on_path("helm", std::env::var_os("PATH").as_deref());
    let helm_args = match helm {
        Some(_) => {
            let (args, private) = installer_args(global, target, file, "--kube-context");
            kubeconfig = kubeconfig.or(private);
            args
        }
        None => Vec::new(),
    };
    PlanOptions {
        istioctl,
        force_istioctl: false,
        file: None,
        istioctl_args,
        istioctl_kubeconfig: kubeconfig,
        helm,
        helm_args,
        chart: None,
    }
}

async fn install(global: &GlobalArgs, form: Form, args: Flags) -> Result<(), AppError> {
    let resource = format!(
        "istiooperator/{}/{}",
        global.istio_namespace,
        form.iop_name()
    );
    // Printing the plan writes nothing: allowed under --readonly.
    if !args.yaml {
        preflight(global, "install", &resource)?;
    }
    let (target, executor) = executor(global).await?;
    // Every namespace, whatever --namespace says: it names the gateway's here, and the checks
    // look at all of them.
    let model = synced_model(
        &target.connection,
        WatchOptions::default(),
        args.sync_timeout,
    )
    .await?;
    let facts = InstallFacts::from_model(&model, &global.istio_namespace)
        .map_err(|e| AppError::Failed(e.to_string()))?;
    let facts = read_mesh_configs(&target.connection.client, facts).await?;
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| default_install_file(&global.istio_namespace, &form.iop_name()));
    let opts = PlanOptions {
        force_istioctl: args.istioctl,
        chart: args.chart.clone(),
        file: args.file.clone(),
        ..plan_options(global, &target, &file)
    };
    let mut plan = match &form {
        Form::Revision(f) => plan_revision(f, &facts, &opts)?,
        Form::Gateway(f) => plan_gateway(f, &facts, &opts)?,
    };
    if args.edit {
        plan = edit(&plan).await?;
    }
    let mut out = std::io::stdout().lock();
    let print = |out: &mut std::io::StdoutLock, text: &str| {
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| AppError::Failed(format!("writing output: {e}")))
    };
    if args.yaml {
        return print(&mut out, &plan.objects_yaml());
    }
    let mut preview = format!(
        "{} on context {}:\n",
        plan.title(),
        target.connection.context
    );
    for line in plan.preview() {
        preview.push_str(&format!("  {line}\n"));
    }
    print(&mut out, &preview)?;
    drop(out);
    let outcome = executor.install(&plan, args.dry_run).await?;
    let mut out = std::io::stdout().lock();
    // The steps in the order they ran; istioctl's own output right before its step's line.
    let mut text = String::new();
    for line in &outcome.lines {
        if (line.starts_with("istioctl install ") || line.starts_with("helm upgrade "))
            && let Some(output) = &outcome.istioctl_output
        {
            text.push_str(output);
            if !output.ends_with('\n') && !output.is_empty() {
                text.push('\n');
            }
        }
        text.push_str(line);
        text.push('\n');
    }
    print(&mut out, &text)?;
    if let Some(why) = outcome.not_installed(&plan, args.dry_run) {
        return Err(AppError::Failed(why));
    }
    Ok(())
}

/// Opens the resource in the user's editor and checks what comes back.
async fn edit(plan: &InstallPlan) -> Result<InstallPlan, AppError> {
    let text = plan.document_yaml();
    let edited = tokio::task::spawn_blocking(move || edit_in_editor(&text))
        .await
        .map_err(|e| AppError::Failed(format!("the editor: {e}")))??;
    Ok(plan.with_edited_document(&edited)?)
}
