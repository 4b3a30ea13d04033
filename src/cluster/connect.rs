//! Connecting to a cluster the way kubectl does: `--kubeconfig`, else `KUBECONFIG`, else
//! `~/.kube/config`, else the in-cluster service account; then one `/version` call, so an
//! unreachable server is a clear error at start rather than a silent empty screen.

pub(crate) mod credentials;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

/// The context name shown when meshtop runs inside a pod with its service account.
pub const IN_CLUSTER_CONTEXT: &str = "in-cluster";

/// The audit log's user when the kubeconfig names none.
pub const UNKNOWN_USER: &str = "unknown";

/// How long the first `/version` call may take before the server counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the kubeconfig comes from and which context to use.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// An explicit kubeconfig file; it must exist.
    pub kubeconfig: Option<PathBuf>,
    /// The context; default: the kubeconfig's current context.
    pub context: Option<String>,
}

/// A client for one cluster, and what the header shows about it.
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    /// The same credentials without kube's retries of 429 and 503 (up to 15, with backoff):
    /// for requests that run on their own schedule, like the sync poller's, where a retry
    /// would only pile onto a failing server and hold up the next poll.
    pub poll_client: kube::Client,
    pub context: String,
    /// The kubeconfig user of the context (`unknown` when it names none, or in-cluster), for
    /// the audit log.
    pub user: String,
    /// The API server's URL.
    pub server: String,
    /// The context's namespace (`default` if it names none).
    pub default_namespace: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("context", &self.context)
            .field("user", &self.user)
            .field("server", &self.server)
            .field("default_namespace", &self.default_namespace)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read kubeconfig {}: {source}", path.display())]
    KubeconfigUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubeconfig {} is malformed: {message}", path.display())]
    KubeconfigMalformed { path: PathBuf, message: String },
    #[error("no kubeconfig found ({looked}) and not running inside a cluster ({in_cluster})")]
    NoConfig { looked: String, in_cluster: String },
    #[error(
        "context \"{context}\" is not in {origin}; available contexts: {}",
        list(available)
    )]
    UnknownContext {
        context: String,
        origin: String,
        available: Vec<String>,
    },
    #[error(
        "{origin} sets no current context; choose one with --context: {}",
        list(available)
    )]
    NoCurrentContext {
        origin: String,
        available: Vec<String>,
    },
    #[error("context \"{context}\" in {origin} cannot be used: {message}")]
    InvalidContext {
        context: String,
        origin: String,
        message: String,
    },
    #[error("cannot make a client for context \"{context}\": {message}")]
    Client { context: String, message: String },
    #[error("cannot reach the API server {server} (context \"{context}\"): {message}")]
    Unreachable {
        context: String,
        server: String,
        message: String,
    },
    #[error("the API server {server} refused context \"{context}\": {message}")]
    Refused {
        context: String,
        server: String,
        message: String,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

/// Connects as kubectl would and checks that the API server answers.
pub async fn connect(opts: &ConnectOptions) -> Result<Connection, ConnectError> {
    match load_kubeconfig(opts.kubeconfig.as_deref())? {
        Loaded::Found { kubeconfig, origin } => {
            connect_kubeconfig(*kubeconfig, &origin, opts.context.as_deref()).await
        }
        Loaded::Nothing { looked } => {
            if let Some(context) = &opts.context {
                return Err(ConnectError::UnknownContext {
                    context: context.clone(),
                    origin: format!("any kubeconfig (looked in {looked})"),
                    available: Vec::new(),
                });
            }
            let config = kube::Config::incluster().map_err(|e| ConnectError::NoConfig {
                looked,
                in_cluster: e.to_string(),
            })?;
            finish(
                config,
                IN_CLUSTER_CONTEXT.to_string(),
                UNKNOWN_USER.to_string(),
            )
            .await
        }
    }
}

/// The kubeconfig `connect` read, as kubectl's loading rules find it, and where from:
/// what `:ctx` lists and switches in. `None` when there is none (in a cluster's pod) or it
/// cannot be read.
pub fn loaded_kubeconfig(explicit: Option<&Path>) -> Option<(Kubeconfig, String)> {
    match load_kubeconfig(explicit) {
        Ok(Loaded::Found { kubeconfig, origin }) => Some((*kubeconfig, origin)),
        _ => None,
    }
}

/// Connects with an already-parsed kubeconfig; `origin` names it in errors (a path, or
/// "the sandbox kubeconfig").
pub async fn connect_kubeconfig(
    kubeconfig: Kubeconfig,
    origin: &str,
    context: Option<&str>,
) -> Result<Connection, ConnectError> {
    let (config, context, user) = resolve(kubeconfig, origin, context).await?;
    finish(config, context, user).await
}

/// The chosen context's config, its name and its user.
async fn resolve(
    kubeconfig: Kubeconfig,
    origin: &str,
    context: Option<&str>,
) -> Result<(kube::Config, String, String), ConnectError> {
    let available: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    let chosen = match context.or(kubeconfig.current_context.as_deref()) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => {
            return Err(ConnectError::NoCurrentContext {
                origin: origin.to_string(),
                available,
            });
        }
    };
    if !available.contains(&chosen) {
        return Err(ConnectError::UnknownContext {
            context: chosen,
            origin: origin.to_string(),
            available,
        });
    }
    let user = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == chosen)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| UNKNOWN_USER.to_string());
    let options = KubeConfigOptions {
        context: Some(chosen.clone()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ConnectError::InvalidContext {
            context: chosen.clone(),
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
    Ok((config, chosen, user))
}

async fn finish(
    config: kube::Config,
    context: String,
    user: String,
) -> Result<Connection, ConnectError> {
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let default_namespace = config.default_namespace.clone();
    let (client, poll_client) = clients(config, &context)?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(info)) => {
            tracing::info!(%context, %server, version = %info.git_version, "connected");
        }
        Ok(Err(kube::Error::Api(status))) if matches!(status.code, 401 | 403) => {
            return Err(ConnectError::Refused {
                context,
                server,
                message: format!("{} {}: {}", status.code, status.reason, status.message),
            });
        }
        Ok(Err(e)) => {
            return Err(ConnectError::Unreachable {
                context,
                server,
                message: super::describe(&e),
            });
        }
        Err(_) => {
            return Err(ConnectError::Unreachable {
                context,
                server,
                message: format!("no answer within {}s", PROBE_TIMEOUT.as_secs()),
            });
        }
    }
    Ok(Connection {
        client,
        poll_client,
        context,
        user,
        server,
        default_namespace,
    })
}

/// The client and its no-retry twin for a config: everything before the first request. The
/// credentials are taken as kubectl takes them ([`credentials`]); an exec plugin runs here.
fn clients(
    mut config: kube::Config,
    context: &str,
) -> Result<(kube::Client, kube::Client), ConnectError> {
    let client_error = |message: String| ConnectError::Client {
        context: context.to_string(),
        message,
    };
    let token_file = credentials::prepare(&mut config.auth_info).map_err(client_error)?;
    let exec = config.auth_info.exec.clone();
    let mut poll_config = config.clone();
    poll_config.default_retry = false;
    let build = |config: kube::Config| -> Result<kube::Client, ConnectError> {
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| {
            client_error(match &e {
                kube::Error::Auth(auth) => credentials::plugin_failure(auth, exec.as_ref())
                    .unwrap_or_else(|| super::describe(&e)),
                _ => super::describe(&e),
            })
        })?;
        Ok(match &token_file {
            Some(layer) => builder.with_layer(layer).build(),
            None => builder.build(),
        })
    };
    Ok((build(config)?, build(poll_config)?))
}

enum Loaded {
    Found {
        kubeconfig: Box<Kubeconfig>,
        origin: String,
    },
    /// No kubeconfig with anything in it: kubectl then tries the in-cluster config.
    Nothing { looked: String },
}

/// kubectl's loading rules: an explicit file must exist; files named by `KUBECONFIG` are
/// merged (first wins) and missing ones skipped; `KUBECONFIG` unset means `~/.kube/config`.
fn load_kubeconfig(explicit: Option<&Path>) -> Result<Loaded, ConnectError> {
    if let Some(path) = explicit {
        return Ok(Loaded::Found {
            kubeconfig: Box::new(read_file(path)?),
            origin: path.display().to_string(),
        });
    }
    let paths: Vec<PathBuf> = match std::env::var_os("KUBECONFIG") {
        Some(v) if !v.is_empty() => std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        _ => std::env::var_os("HOME")
            .map(|home| vec![Path::new(&home).join(".kube").join("config")])
            .unwrap_or_default(),
    };
    let looked = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut merged: Option<Kubeconfig> = None;
    let mut origins = Vec::new();
    for path in paths.iter().filter(|p| p.exists()) {
        let next = read_file(path)?;
        origins.push(path.display().to_string());
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).map_err(|e| malformed(path, &e))?,
        });
    }
    match merged {
        Some(kubeconfig) if !kubeconfig.contexts.is_empty() || !kubeconfig.clusters.is_empty() => {
            Ok(Loaded::Found {
                kubeconfig: Box::new(kubeconfig),
                origin: origins.join(", "),
            })
        }
        _ => Ok(Loaded::Nothing {
            looked: if looked.is_empty() {
                "KUBECONFIG and HOME are unset".to_string()
            } else {
                looked
            },
        }),
    }
}

fn read_file(path: &Path) -> Result<Kubeconfig, ConnectError> {
    Kubeconfig::read_from(path).map_err(|e| match e {
        KubeconfigError::ReadConfig(source, _) => ConnectError::KubeconfigUnreadable {
            path: path.to_path_buf(),
            source,
        },
        other => malformed(path, &other),
    })
}

fn malformed(path: &Path, e: &KubeconfigError) -> ConnectError {
    let message = match e {
        KubeconfigError::Parse(inner) => inner.to_string(),
        other => other.to_string(),
    };
    ConnectError::KubeconfigMalformed {
        path: path.to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_context_lists_the_available_ones() {
        let e = ConnectError::UnknownContext {
            context: "prod".into(),
            origin: "/tmp/kc".into(),
            available: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "context \"prod\" is not in /tmp/kc; available contexts: a, b"
        );
    }

    /// A kubeconfig with every field meshtop's loading path reads, and no exec plugin or auth
    /// provider command: garbage must never make a test run a program.
    fn template(token_file: &Path) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "ctx",
            "preferences": {},
            "clusters": [{"name": "c", "cluster": {
                "server": "https://127.0.0.1:1",
                "insecure-skip-tls-verify": true,
                "tls-server-name": "localhost",
            }}],
            "users": [
                {"name": "u", "user": {"token": "abc\n", "as": "someone", "as-groups": ["g"]}},
                {"name": "f", "user": {"tokenFile": token_file.display().to_string()}},
                {"name": "b", "user": {"username": "admin", "password": "secret"}},
                {"name": "o", "user": {"auth-provider": {"name": "oidc", "config": {
                    "id-token": "abc\n", "client-id": "x", "idp-issuer-url": "https://127.0.0.1:3",
                }}}},
            ],
            "contexts": [
                {"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "ns"}},
                {"name": "file", "context": {"cluster": "c", "user": "f"}},
                {"name": "basic", "context": {"cluster": "c", "user": "b"}},
                {"name": "oidc", "context": {"cluster": "c", "user": "o"}},
            ],
        })
    }

    #[tokio::test]
    async fn garbage_in_a_kubeconfig_is_an_error_never_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "abc\n").expect("token file");
        let mut g = crate::garbage::Garbage::new(0x6b75_6265);
        let contexts = ["ctx", "file", "basic", "oidc"];
        let mut built = 0;
        for round in 0..400 {
            let mut value = template(&token_file);
            // The first rounds keep the template whole: each of its contexts must connect.
            if round >= contexts.len() {
                g.mutate(&mut value, 6);
            }
            let mut text = serde_yaml::to_string(&value).expect("yaml");
            if g.one_in(5) {
                let at = g.below(text.len());
                let at = (0..=at)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                text.insert_str(at, &g.text());
            }
            let Ok(kubeconfig) = Kubeconfig::from_yaml(&text) else {
                continue;
            };
            let context = if round < contexts.len() {
                Some(contexts[round].to_string())
            } else {
                match g.below(4) {
                    0 => None,
                    1 => Some(g.text()),
                    _ => Some(g.pick(&contexts).to_string()),
                }
            };
            let Ok((config, chosen, _user)) =
                resolve(kubeconfig, "garbage", context.as_deref()).await
            else {
                continue;
            };
            if clients(config, &chosen).is_ok() {
                built += 1;
            }
        }
        // The template's contexts at least: the path was walked to its end.
        assert!(built >= contexts.len(), "{built}");
    }

    #[test]
    fn an_explicit_missing_file_is_an_error_naming_it() {
        let e = load_kubeconfig(Some(Path::new("/nonexistent/meshtop/kubeconfig")))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/meshtop/kubeconfig"), "{e}");
    }
}
