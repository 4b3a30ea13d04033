//! The only code that talks to the API server: connecting from a kubeconfig, the
//! watchers that turn every watched kind into `ClusterEvent`s on one channel, and the istiod
//! sync poller that sends each replica's `/debug/syncz` answer on the same channel, and the
//! action executors, the only code that writes.

pub mod actions;
pub mod connect;
pub mod inspect;
mod path;
pub mod snapshot;
pub mod sync;
pub mod watch;

pub use connect::{ConnectError, ConnectOptions, Connection, connect, connect_kubeconfig};
pub use sync::{SyncHandle, SyncOptions, spawn_sync_poller};
pub use watch::{InitialList, Progress, WatchHandle, WatchOptions, spawn_watchers};

/// The instant `timeout` from now. The command line bounds every wait, but a deadline
/// must never panic: one beyond what the clock can hold is as far as it can hold.
pub fn deadline_in(timeout: std::time::Duration) -> tokio::time::Instant {
    // tokio's own "far future": about 30 years.
    const FAR: std::time::Duration = std::time::Duration::from_secs(86_400 * 365 * 30);
    let now = tokio::time::Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// A short, readable cause for an error from kube: the API server's own words for an API
/// error, else the innermost cause (e.g. "Connection refused (os error 111)"), which is
/// what a user can act on; kube's outer layers only repeat it. A credential plugin's failure
/// is told without its command line or output, which may hold secrets.
pub(crate) fn describe(err: &kube::Error) -> String {
    if let kube::Error::Api(status) = err {
        return status_text(status);
    }
    let mut cause: &dyn std::error::Error = err;
    loop {
        if let Some(auth) = cause.downcast_ref::<kube::client::AuthError>()
            && let Some(text) = connect::credentials::plugin_failure(auth, None)
        {
            return text;
        }
        match cause.source() {
            Some(next) => cause = next,
            None => return cause.to_string(),
        }
    }
}

/// An API `Status` as one line: `404 NotFound: the server could not find ...`.
pub(crate) fn status_text(status: &kube::core::Status) -> String {
    let mut text = status.code.to_string();
    if !status.reason.is_empty() {
        text.push(' ');
        text.push_str(&status.reason);
    }
    if !status.message.is_empty() {
        text.push_str(": ");
        text.push_str(&status.message);
    }
    text
}
