//! `meshtop install revision|gateway`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::ops::install::ServiceType;

#[derive(Debug, Subcommand)]
pub enum InstallCmd {
    /// Install a control-plane revision (istiod-REV) through the cluster's installer (Helm,
    /// Sail, or an IstioOperator resource).
    #[command(long_about = REVISION_LONG_ABOUT)]
    Revision(InstallRevisionCmd),
    /// Install an ingress or egress gateway of a revision into the namespace given with
    /// --namespace (created if missing), through its revision's installer.
    #[command(long_about = GATEWAY_LONG_ABOUT)]
    Gateway(InstallGatewayCmd),
}

const REVISION_LONG_ABOUT: &str = "Install a control-plane revision (istiod-REV) through the \
installer of the cluster's revisions. The revision must be a DNS-1123 label not used by any \
IstioOperator or istiod Deployment. Where the cluster's revisions are Helm releases, the \
istiod chart is installed as release istiod-REV: `helm upgrade --install istiod-REV \
istio/istiod -n ISTIO_NAMESPACE --set revision=REV [--version TAG] -f VALUES` (--chart for \
another chart or a local path). Where the Sail operator manages them, the revision is an \
IstioRevision named REV (sailoperator.io/v1, version v + --tag, else the newest revision's), \
applied with server-side apply (field manager meshtop); the operator installs its istiod. \
Otherwise the revision is an IstioOperator resource: where an \
in-cluster operator watches that namespace and reconciles that revision, the resource is \
applied (server-side apply, field manager meshtop) and the operator installs it; otherwise it \
is saved to a file and `istioctl install -y -f FILE` runs. Without the program on PATH the \
file is only saved (exit code 1).";

const GATEWAY_LONG_ABOUT: &str = "Install a gateway of an installed revision into its own \
namespace (the global -n/--namespace, required here), as an IstioOperator resource (profile \
empty) in the istio namespace. The plan \
creates the namespace if it is missing and copies the revision's istio-REV ConfigMap there \
(the operator does not). Its labels must share no selector label with any other gateway, and \
its node ports must be free. The resource is applied, or installed with istioctl, as for \
`install revision`. Where the revision is a Helm release, the gateway is the istio/gateway \
chart installed as a release named after it in its namespace instead (no ConfigMap copy: its \
pods are injected).";

/// The output of a plan printed instead of applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    Yaml,
}

/// `--service-type`: the domain's type, with the Service API's spelling.
impl ValueEnum for ServiceType {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            ServiceType::NodePort,
            ServiceType::LoadBalancer,
            ServiceType::ClusterIP,
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// What both install commands take.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Send every request with dryRun=All (and istioctl --dry-run): nothing changes.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the objects the plan would write, as YAML, and apply nothing.
    #[arg(short = 'o', long, value_enum, value_name = "yaml")]
    pub output: Option<PlanOutput>,
    /// Open the IstioOperator in $EDITOR (else $VISUAL, else vi) before anything else.
    #[arg(long)]
    pub edit: bool,
    /// Install with `istioctl install -y -f FILE` even where an operator would act or the
    /// cluster's revisions are Helm releases.
    #[arg(long)]
    pub istioctl: bool,
    /// On the Helm route, the chart: a repository chart (default istio/istiod, or
    /// istio/gateway) or a local chart path.
    #[arg(long, value_name = "CHART")]
    pub chart: Option<String>,
    /// Where to save the resource for istioctl (or the values for helm). Default:
    /// $XDG_STATE_HOME/meshtop/install/NAMESPACE-NAME.yaml (NAMESPACE-RELEASE.values.yaml).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The IstioOperator resource's name. Default: istio-controlplane-REV for a revision,
    /// the gateway's name for a gateway.
    #[arg(long, value_name = "NAME")]
    pub iop_name: Option<String>,
    #[command(flatten)]
    pub sync: super::SyncTimeout,
}

#[derive(Debug, Args)]
pub struct InstallRevisionCmd {
    /// The revision: a DNS-1123 label not in use (e.g. 1-10-0, canary).
    #[arg(long, value_name = "REV")]
    pub rev: String,
    /// The profile to start from; minimal is istiod alone.
    #[arg(long, default_value = "minimal", value_name = "PROFILE")]
    pub profile: String,
    /// The image registry (spec.hub). Default: the operator's.
    #[arg(long, value_name = "HUB")]
    pub hub: Option<String>,
    /// The image tag, i.e. the Istio version (spec.tag). Default: the operator's.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// A node label istiod's pods require (repeatable), e.g. taco-istio=enabled.
    #[arg(long, value_name = "KEY=VALUE")]
    pub node_selector: Vec<String>,
    /// istiod's autoscaler minimum (default 1).
    #[arg(long, value_name = "N")]
    pub hpa_min: Option<u32>,
    /// istiod's autoscaler maximum (default 5).
    #[arg(long, value_name = "N")]
    pub hpa_max: Option<u32>,
    #[command(flatten)]
    pub install: InstallArgs,
}

#[derive(Debug, Args)]
pub struct InstallGatewayCmd {
    /// The gateway's Deployment and Service name, e.g. istio-ingressgateway-NS.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The installed revision it belongs to.
    #[arg(long, value_name = "REV")]
    pub rev: String,
    /// An egress gateway (default: ingress).
    #[arg(long)]
    pub egress: bool,
    /// A pod label that also selects it (repeatable). Default: app=NAME and istio=NAME
    /// without its istio- prefix.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The Service's type. Default: NodePort with node ports, else LoadBalancer for ingress
    /// and ClusterIP for egress.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub service_type: Option<ServiceType>,
    /// The node port of http2 (port 80), 30000-32767.
    #[arg(long, value_name = "PORT")]
    pub http_node_port: Option<u16>,
    /// The node port of https (port 443), 30000-32767.
    #[arg(long, value_name = "PORT")]
    pub https_node_port: Option<u16>,
    /// A fixed number of replicas, no autoscaler. A single replica under a
    /// PodDisruptionBudget blocks the drain of its node: give 2.
    #[arg(long, value_name = "N", conflicts_with_all = ["hpa_min", "hpa_max"])]
    pub replicas: Option<u32>,
    /// The autoscaler's minimum (default 1; 2 keeps a node drainable under a budget).
    #[arg(long, value_name = "N")]
    pub hpa_min: Option<u32>,
    /// The autoscaler's maximum (default 5).
    #[arg(long, value_name = "N")]
    pub hpa_max: Option<u32>,
    #[command(flatten)]
    pub install: InstallArgs,
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser as _;

    #[test]
    fn install_commands_parse() {
        let c = Cli::try_parse_from([
            "meshtop",
            "install",
            "revision",
            "--rev",
            "1-10-0",
            "--node-selector",
            "taco-istio=enabled",
            "--node-selector",
            "zone=a",
            "--hpa-min",
            "2",
            "--hpa-max",
            "10",
            "-o",
            "yaml",
        ])
        .expect("parse");
        let Some(Command::Install(InstallCmd::Revision(r))) = c.command else {
            panic!("not install revision: {:?}", c.command);
        };
        assert_eq!(r.profile, "minimal");
        assert_eq!(r.node_selector.len(), 2);
        assert_eq!((r.hpa_min, r.hpa_max), (Some(2), Some(10)));
        assert_eq!(r.install.output, Some(PlanOutput::Yaml));

        let c = Cli::try_parse_from([
            "meshtop",
            "install",
            "gateway",
            "--namespace",
            "shop",
            "--name",
            "istio-ingressgateway-shop",
            "--rev",
            "1-9-1",
            "--service-type",
            "NodePort",
            "--http-node-port",
            "31082",
            "--label",
            "istio=shop",
            "--dry-run",
        ])
        .expect("parse");
        let Some(Command::Install(InstallCmd::Gateway(g))) = c.command else {
            panic!("not install gateway: {:?}", c.command);
        };
        assert_eq!(g.service_type, Some(ServiceType::NodePort));
        assert!(g.install.dry_run && !g.egress);
        // The gateway's namespace is the global -n/--namespace.
        assert_eq!(c.global.namespace.as_deref(), Some("shop"));
        assert!(
            Cli::try_parse_from(["meshtop", "install", "revision", "--rev", "x", "-o", "json"])
                .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "meshtop",
                "install",
                "revision",
                "--rev",
                "x",
                "--hpa-min",
                "-1"
            ])
            .is_err()
        );
    }
}
