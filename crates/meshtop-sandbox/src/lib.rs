//! The sandbox cluster: a Kubernetes API server on loopback with a few small controllers,
//! loaded from a scenario file. `--demo`, the integration tests and the benchmarks run the
//! real kube client against it. The product never calls into it except to start it.

#![forbid(unsafe_code)]

mod api;
mod auth;
mod churn;
mod controllers;
mod discovery;
mod error;
pub mod generate;
mod istiod;
mod kubeconfig;
mod logs;
mod openapi;
mod patch;
mod protobuf;
mod resources;
mod scale;
pub mod scenario;
mod selector;
mod server;
mod store;
mod table;
mod tls;
mod validation;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, watch};

pub use error::{ApiError, SandboxError};
pub use kubeconfig::{ADMIN_CONTEXT, RESTRICTED_CONTEXT};
pub use scenario::Scenario;
pub use store::Stored;

use resources::Registry;
use store::Store;

/// The prefix of every sandbox-only annotation in a scenario.
pub const ANNOTATION_PREFIX: &str = "sandbox.meshtop.dev/";

/// The scenario `meshtop --demo` and the tests start from.
pub const DEFAULT_SCENARIO: &str = "assets/scenarios/k1-upgrade.yaml";

/// The built-in scenario `--demo` runs when given no name.
pub const DEFAULT_DEMO: &str = "k1-upgrade";

/// One rule refused to the restricted user: `VERB RESOURCE[/SUB] [NAMESPACE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenyRule {
    pub verb: String,
    pub resource: String,
    /// `None`: everywhere.
    pub namespace: Option<DenyScope>,
}

/// Where a rule refuses: in one namespace, or only at the cluster scope (requests that name
/// no namespace), as a Role bound in some namespaces but no ClusterRole leaves a user.
#[derive(Debug, Clone, PartialEq)]
pub enum DenyScope {
    Namespace(String),
    Cluster,
}

/// Cluster-wide settings, read from annotations on the `kube-system` Namespace.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server_version: String,
    pub pod_ready_delay: Duration,
    pub proxy_sync_delay: Duration,
    pub watch_history: usize,
    pub bookmark_interval: Duration,
    pub restricted_deny: Vec<DenyRule>,
    /// Whether loading a scenario removes objects whose owners are all missing.
    pub gc_orphans: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server_version: "v1.30.0".into(),
            pod_ready_delay: Duration::from_secs(2),
            proxy_sync_delay: Duration::from_secs(3),
            watch_history: 1000,
            bookmark_interval: Duration::from_secs(10),
            restricted_deny: Vec::new(),
            gc_orphans: false,
        }
    }
}

/// Everything the API server and the controllers share; one lock guards it.
pub struct Cluster {
    pub store: Store,
    pub registry: Registry,
    pub settings: Settings,
    pub controllers: controllers::State,
    /// The OpenAPI documents built so far.
    pub openapi: openapi::Documents,
}

impl Cluster {
    pub fn new(settings: Settings) -> Self {
        Self {
            store: Store::new(settings.watch_history),
            registry: Registry::new(),
            settings,
            controllers: controllers::State::default(),
            openapi: openapi::Documents::default(),
        }
    }
}

/// What the HTTP server and the controller task hold.
pub struct Shared {
    cluster: Mutex<Cluster>,
    pub admin_token: String,
    pub restricted_token: String,
    /// The CA clients trust, PEM.
    pub ca_pem: String,
    /// Wakes the controller task when a write may have moved its next deadline.
    pub wake: Notify,
}

impl Shared {
    /// The cluster, locked. A panic while locked must not take the sandbox down with it.
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the controllers now, after a write.
    pub fn reconcile(&self, cluster: &mut Cluster) {
        controllers::reconcile(cluster, Timestamp::now());
        self.wake.notify_one();
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

fn random_token() -> String {
    let b: [u8; 24] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

impl Sandbox {
    /// Loads the scenario and serves it on `listen`, which must be a loopback address.
    pub async fn start(scenario: &Scenario, listen: SocketAddr) -> Result<Self, SandboxError> {
        if !is_loopback(&listen) {
            return Err(SandboxError::NotLoopback(listen.to_string()));
        }
        let mut cluster =
            scenario
                .build(Timestamp::now())
                .map_err(|message| SandboxError::Scenario {
                    path: scenario.path.clone(),
                    message,
                })?;
        // The controllers' first pass over what was loaded (ReplicaSets' pods, kubelets,
        // budgets' status, istiod's proxies), before the port is even open: at 100,000 pods
        // it takes seconds with the store held, and a server that says it serves answers.
        controllers::reconcile(&mut cluster, Timestamp::now());
        let tls = tls::generate().map_err(SandboxError::Tls)?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: listen.to_string(),
            source,
        })?;
        let shared = Arc::new(Shared {
            cluster: Mutex::new(cluster),
            admin_token: random_token(),
            restricted_token: random_token(),
            ca_pem: tls.ca_pem.clone(),
            wake: Notify::new(),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(server::serve(
            listener,
            tls.acceptor,
            shared.clone(),
            stopped.clone(),
        ));
        if let Some(churn) = scenario.generated.as_ref().map(|g| g.churn) {
            tokio::spawn(churn::run(shared.clone(), churn, stopped.clone()));
        }
        tokio::spawn(controllers::run(shared.clone(), stopped));
        Ok(Self { shared, addr, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A kubeconfig with the contexts `meshtop-sandbox` and `meshtop-sandbox-restricted`.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::render(
            &self.url(),
            &self.shared.ca_pem,
            &self.shared.admin_token,
            &self.shared.restricted_token,
        )
    }

    /// Stops serving; open connections end.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `meshtop sandbox`: what the command line gave.
#[derive(Debug, Clone)]
pub struct SandboxArgs {
    /// A built-in scenario's name or a scenario file; ignored when `generate` is given.
    pub scenario: PathBuf,
    /// `nodes=N,pods=M,…`: a generated cluster instead of a scenario.
    pub generate: Option<String>,
    pub listen: String,
    pub kubeconfig_out: Option<PathBuf>,
}

/// Parses `--listen`; an address that is not loopback is refused before anything binds.
pub fn parse_listen(listen: &str) -> Result<SocketAddr, SandboxError> {
    let addr: SocketAddr = listen.parse().map_err(|_| SandboxError::Bind {
        addr: listen.to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "expected IP:PORT, e.g. 127.0.0.1:6443",
        ),
    })?;
    if !is_loopback(&addr) {
        return Err(SandboxError::NotLoopback(listen.to_string()));
    }
    Ok(addr)
}

/// Runs `meshtop sandbox` until `stop` resolves. The caller registers its signal handlers
/// before calling, so a signal sent right after the "serving" lines still stops cleanly.
pub async fn run(
    args: SandboxArgs,
    stop: impl std::future::Future<Output = &'static str>,
) -> Result<(), SandboxError> {
    let listen = parse_listen(&args.listen)?;
    let scenario = match &args.generate {
        Some(spec) => {
            Scenario::generate(generate::GenerateSpec::parse(spec).map_err(|message| {
                SandboxError::Scenario {
                    path: format!("--generate {spec}"),
                    message,
                }
            })?)
        }
        None => Scenario::named_or_file(&args.scenario)?,
    };
    let sandbox = Sandbox::start(&scenario, listen).await?;
    let kubeconfig_path = args.kubeconfig_out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "meshtop-sandbox-{}.kubeconfig",
            sandbox.addr().port()
        ))
    });
    write_kubeconfig(&kubeconfig_path, &sandbox.kubeconfig_yaml())?;
    println!(
        "meshtop sandbox: serving {} on {}",
        scenario.path,
        sandbox.url()
    );
    println!("kubeconfig: {}", kubeconfig_path.display());
    println!(
        "try: kubectl --kubeconfig {} get nodes",
        kubeconfig_path.display()
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    stop.await;
    sandbox.stop();
    Ok(())
}

/// Writes the kubeconfig (it holds the tokens) as a new file only its owner can read: owner
/// only from creation, a file already there removed rather than truncated (its mode would
/// stay), and a symbolic link there refused, since the default path is in the shared temp
/// directory.
fn write_kubeconfig(path: &Path, text: &str) -> Result<(), SandboxError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let err = |source| SandboxError::WriteKubeconfig {
        path: path.display().to_string(),
        source,
    };
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(err(std::io::Error::other(
            "it is a symbolic link: the sandbox does not write through one",
        )));
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[tokio::test]
    async fn the_controllers_have_gone_over_what_was_loaded_before_the_port_opens() {
        let spec = generate::GenerateSpec::parse("nodes=2,pods=30").expect("spec");
        let loaded = Scenario::generate(spec.clone())
            .build(Timestamp::now())
            .expect("build");
        assert!(
            !controllers::settled(&loaded),
            "a loaded cluster has writes no controller has seen"
        );
        let scenario = Scenario::generate(spec);
        let sandbox = Sandbox::start(&scenario, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("start");
        // Nothing else has run yet on this runtime's one thread: what `start` did itself.
        assert!(controllers::settled(&sandbox.shared().lock()));
    }

    #[test]
    fn the_kubeconfig_is_its_owners_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sandbox.kubeconfig");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_kubeconfig(&path, "token: x").expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "token: x");
        let link = dir.path().join("link");
        let target = dir.path().join("target");
        std::fs::write(&target, "mine").expect("write");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(write_kubeconfig(&link, "token: x").is_err());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "mine");
    }
}
