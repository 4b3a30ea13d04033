//! Waiting for a condition with a deadline, never by sleeping a guessed time: the async
//! form for tests on tokio, the blocking form for tests that drive processes.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// The pause between two checks: short at first, for conditions that hold almost at once,
/// then longer, so a slow condition does not keep a shared machine busy.
fn pause(attempt: u32) -> Duration {
    Duration::from_millis(25 << attempt.min(3))
}

/// Polls `check` until it returns `Some`, or panics naming `what` once `within` has passed:
/// how tests wait for the sandbox's controllers and meshtop's tasks.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    let mut attempt = 0;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(pause(attempt)).await;
        attempt += 1;
    }
}

/// Calls `check` until it returns `Ok`, or panics naming `what` and the last `Err` (what
/// was seen instead: a screen, a command's output) once `within` has passed.
pub fn eventually_blocking<T, E: Display>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + within;
    let mut attempt = 0;
    loop {
        match check() {
            Ok(v) => return v,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; last seen:\n{seen}"
            ),
        }
        std::thread::sleep(pause(attempt));
        attempt += 1;
    }
}
