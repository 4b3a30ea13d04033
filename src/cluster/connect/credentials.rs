//! A kubeconfig user's credentials taken as kubectl takes them: tokens and `tokenFile`
//! contents trimmed of surrounding whitespace, a token that cannot be an HTTP header refused
//! with an error, and a failed exec credential plugin reported by its command and exit
//! code alone, never its arguments, environment or output, which may hold secrets.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::HeaderValue;
use kube::client::AuthError;
use kube::config::{AuthInfo, ExecConfig};
use secrecy::{ExposeSecret as _, SecretString};

/// How often a `tokenFile` is read again: the tokens projected into files rotate.
const TOKEN_FILE_REREAD: Duration = Duration::from_secs(60);

/// The `auth-provider` settings that are sent as a bearer token.
const PROVIDER_TOKENS: [&str; 2] = ["id-token", "access-token"];

/// Trims the user's tokens and checks that each can be sent. A `tokenFile` that would be
/// used is taken out of `auth` and returned, read once already: kube would send its
/// contents untrimmed, so meshtop sends them itself ([`TokenFileLayer`]).
pub(super) fn prepare(auth: &mut AuthInfo) -> Result<Option<TokenFileLayer>, String> {
    if let Some(token) = auth.token.take() {
        let trimmed = token.expose_secret().trim();
        if !trimmed.is_empty() {
            bearer(trimmed).map_err(|e| format!("the user's token {e}"))?;
            auth.token = Some(SecretString::from(trimmed.to_string()));
        }
    }
    if let Some(provider) = auth.auth_provider.as_mut() {
        for key in PROVIDER_TOKENS {
            if let Some(value) = provider.config.get_mut(key) {
                *value = value.trim().to_string();
                bearer(value).map_err(|e| format!("the auth-provider's {key} {e}"))?;
            }
        }
    }
    // kube's precedence: an auth provider, then a username and password, then a token,
    // then a token file.
    let basic = auth.username.is_some() && auth.password.is_some();
    if auth.auth_provider.is_some() || basic || auth.token.is_some() {
        return Ok(None);
    }
    let Some(path) = auth.token_file.take() else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let header = read_token_file(&path)?;
    Ok(Some(TokenFileLayer {
        token: Arc::new(TokenFile {
            path,
            cached: Mutex::new((header, Instant::now())),
        }),
    }))
}

/// `Bearer TOKEN` as a header value, marked sensitive so that it is never logged.
fn bearer(token: &str) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "is not a valid HTTP header value (it holds control characters)")?;
    value.set_sensitive(true);
    Ok(value)
}

fn read_token_file(path: &std::path::Path) -> Result<HeaderValue, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    bearer(text.trim()).map_err(|e| format!("the token in {} {e}", path.display()))
}

/// A `tokenFile`'s token: the last one read, and when.
struct TokenFile {
    path: PathBuf,
    cached: Mutex<(HeaderValue, Instant)>,
}

impl TokenFile {
    /// The header to send. A reread that fails keeps the last token, as client-go does: a
    /// file may be removed once read, to limit the credential's exposure.
    fn header(&self) -> HeaderValue {
        let mut cached = match self.cached.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cached.1.elapsed() >= TOKEN_FILE_REREAD {
            // A small file read once a minute: not worth a trip to the blocking pool.
            match read_token_file(&self.path) {
                Ok(header) => cached.0 = header,
                Err(e) => tracing::warn!(error = %e, "keeping the last token"),
            }
            cached.1 = Instant::now();
        }
        cached.0.clone()
    }
}

/// Sends a `tokenFile`'s trimmed token on every request of a client.
#[derive(Clone)]
pub(super) struct TokenFileLayer {
    token: Arc<TokenFile>,
}

impl std::fmt::Debug for TokenFileLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFileLayer")
            .field("path", &self.token.path)
            .finish_non_exhaustive()
    }
}

impl<S> tower_layer::Layer<S> for TokenFileLayer {
    type Service = TokenFileService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenFileService {
            inner,
            token: self.token.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct TokenFileService<S> {
    inner: S,
    token: Arc<TokenFile>,
}

impl<S, B> tower_service::Service<http::Request<B>> for TokenFileService<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, self.token.header());
        self.inner.call(request)
    }
}

/// A credential plugin's failure in kubectl's words: `getting credentials: exec: executable
/// CMD failed with exit code N`. kube's own message quotes the plugin's command line with
/// its environment and arguments, and its output: passwords included. `None` for any other
/// error, whose message holds no credential.
pub(crate) fn plugin_failure(err: &AuthError, exec: Option<&ExecConfig>) -> Option<String> {
    let command = exec.and_then(|e| e.command.as_deref()).map_or_else(
        || "the credential plugin".to_string(),
        |c| format!("executable {c}"),
    );
    let why = match err {
        AuthError::AuthExecRun { out, .. } => match out.status.code() {
            Some(code) => format!("{command} failed with exit code {code}"),
            None => format!("{command} failed: {}", out.status),
        },
        AuthError::AuthExecParse(_) => {
            format!("{command} did not print an ExecCredential")
        }
        AuthError::ExecPluginFailed => {
            format!("{command} printed an ExecCredential without a status")
        }
        AuthError::AuthExecStart(e) => {
            let hint = exec
                .and_then(|e| e.install_hint.as_deref())
                .filter(|_| e.kind() == std::io::ErrorKind::NotFound)
                .map(|h| format!("\n\n{}", h.trim_end()))
                .unwrap_or_default();
            format!("{command} could not be started: {e}{hint}")
        }
        _ => return None,
    };
    Some(format!("getting credentials: exec: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(yaml: &str) -> AuthInfo {
        serde_yaml::from_str(yaml).expect("auth info")
    }

    #[test]
    fn tokens_are_trimmed_and_a_bad_one_is_an_error() {
        let mut a = auth("token: \"  abc\\n\"");
        assert!(prepare(&mut a).expect("prepare").is_none());
        assert_eq!(a.token.as_ref().map(|t| t.expose_secret()), Some("abc"));
        let mut a = auth("token: \"a\\u0001b\"");
        let e = prepare(&mut a).expect_err("control character");
        assert!(e.contains("not a valid HTTP header value"), "{e}");
        assert!(!e.contains("a\u{1}b"), "{e}");
        let mut a = auth("token: \"\\n\"");
        prepare(&mut a).expect("an empty token is no token");
        assert!(a.token.is_none());
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_taken_from_kube() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "abc\n").expect("write");
        let mut a = auth(&format!("tokenFile: {}", file.display()));
        let layer = prepare(&mut a)
            .expect("prepare")
            .expect("a token file layer");
        assert!(a.token_file.is_none());
        assert_eq!(layer.token.header(), "Bearer abc");
        // An inline token wins, as in kube and kubectl.
        let mut a = auth(&format!("token: x\ntokenFile: {}", file.display()));
        assert!(prepare(&mut a).expect("prepare").is_none());
        assert!(a.token_file.is_some());
        let mut a = auth(&format!("tokenFile: {}", dir.path().join("none").display()));
        let e = prepare(&mut a).expect_err("missing");
        assert!(e.starts_with("cannot read the token file "), "{e}");
    }
}
