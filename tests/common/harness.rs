//! A sandbox started for a test, meshtop's connection and a real kube client to it, and the
//! few objects tests read and write through them (a node, a budget edited by hand).

use std::net::SocketAddr;
use std::path::Path;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::{Patch, PatchParams};
use meshtop::cluster::Connection;
pub use meshtop_sandbox::{ADMIN_CONTEXT, RESTRICTED_CONTEXT};
use meshtop_sandbox::{Sandbox, Scenario};

/// Starts a sandbox on a free loopback port from a scenario file (relative paths are
/// taken from the crate root).
pub async fn start_file(path: &str) -> Result<Sandbox, String> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let scenario = Scenario::from_file(&full).map_err(|e| e.to_string())?;
    start(&scenario).await
}

/// Starts a sandbox from scenario text.
pub async fn start_text(text: &str) -> Result<Sandbox, String> {
    let scenario = Scenario::parse(text, "inline")?;
    start(&scenario).await
}

/// Starts a sandbox on a generated cluster (`nodes=N,pods=M,…`).
pub async fn start_generated(spec: &str) -> Result<Sandbox, String> {
    let spec = meshtop_sandbox::generate::GenerateSpec::parse(spec)?;
    start(&Scenario::generate(spec)).await
}

async fn start(scenario: &Scenario) -> Result<Sandbox, String> {
    let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    Sandbox::start(scenario, listen)
        .await
        .map_err(|e| e.to_string())
}

/// A kube client for one of the sandbox's contexts, built the way a user's kubeconfig is.
pub async fn client(sandbox: &Sandbox, context: &str) -> Result<kube::Client, String> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig_yaml())
        .map_err(|e| e.to_string())?;
    let options = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| e.to_string())?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// meshtop's connection to one of the sandbox's contexts, made through the same path as a
/// user's kubeconfig.
pub async fn connection(
    sandbox: &Sandbox,
    context: &str,
) -> Result<meshtop::cluster::Connection, String> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig_yaml())
        .map_err(|e| e.to_string())?;
    meshtop::cluster::connect_kubeconfig(kubeconfig, "the sandbox kubeconfig", Some(context))
        .await
        .map_err(|e| e.to_string())
}

/// A kube client without credentials, to see what an anonymous caller gets.
pub async fn anonymous_client(sandbox: &Sandbox) -> Result<kube::Client, String> {
    let yaml = sandbox.kubeconfig_yaml();
    let mut kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).map_err(|e| e.to_string())?;
    for user in &mut kubeconfig.auth_infos {
        if let Some(info) = user.auth_info.as_mut() {
            info.token = None;
        }
    }
    let options = kube::config::KubeConfigOptions {
        context: Some(ADMIN_CONTEXT.to_string()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| e.to_string())?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// A sandbox from a scenario file and meshtop's admin connection to it, for a test: it
/// fails the test if either does not come up.
pub async fn connected(path: &str) -> (Sandbox, Connection) {
    let sandbox = start_file(path).await.expect("start the sandbox");
    let conn = connection(&sandbox, ADMIN_CONTEXT)
        .await
        .expect("connect to the sandbox");
    (sandbox, conn)
}

/// A node as the API server has it now.
pub async fn node(conn: &Connection, name: &str) -> Node {
    Api::<Node>::all(conn.client.clone())
        .get(name)
        .await
        .expect("node")
}

/// Whether a node is cordoned (`spec.unschedulable`).
pub fn cordoned(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

/// Sets a PDB's `minAvailable` with a merge patch, as someone editing the budget by hand.
pub async fn set_min_available(conn: &Connection, namespace: &str, pdb: &str, min: i32) {
    Api::<PodDisruptionBudget>::namespaced(conn.client.clone(), namespace)
        .patch(
            pdb,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"minAvailable": min}})),
        )
        .await
        .expect("patch the budget");
}
