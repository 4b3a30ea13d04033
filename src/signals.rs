//! Stopping on SIGINT (Ctrl-C) or SIGTERM: the handlers are registered when asked for, so a
//! signal that arrives before the wait starts (right after a "serving" line, say) still
//! stops cleanly instead of killing the process.

use std::future::Future;

/// Registers for SIGINT and SIGTERM now; the future resolves with the first one's name.
pub fn stop_signal() -> impl Future<Output = &'static str> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async fn next(signal: Option<Signal>) {
        match signal {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    async move {
        tokio::select! {
            _ = next(interrupt) => "SIGINT",
            _ = next(terminate) => "SIGTERM",
        }
    }
}
