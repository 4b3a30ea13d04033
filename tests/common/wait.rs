//! Waiting for a condition with a deadline, never by sleeping a guessed time: the async
//! form for tests on tokio, the blocking form for tests that drive processes.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// What a check returns: `Some` or `Ok` once the condition holds. An `Err` carries what was
/// seen instead (a screen, a command's output), shown only if the wait times out.
pub trait Check {
    type Value;
    type Seen: Display;
    fn into_result(self) -> Result<Self::Value, Self::Seen>;
}

impl<T> Check for Option<T> {
    type Value = T;
    type Seen = &'static str;
    fn into_result(self) -> Result<T, &'static str> {
        self.ok_or("")
    }
}

impl<T, E: Display> Check for Result<T, E> {
    type Value = T;
    type Seen = E;
    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// The pause between two checks: short at first, for conditions that hold almost at once,
/// then longer, so a slow condition does not keep a shared machine busy.
fn pause(attempt: u32) -> Duration {
    Duration::from_millis(25 << attempt.min(3))
}

fn timed_out(what: &str, within: Duration, seen: impl Display) -> ! {
    let seen = seen.to_string();
    if seen.is_empty() {
        panic!("timed out after {within:?} waiting for {what}")
    }
    panic!("timed out after {within:?} waiting for {what}; last seen:\n{seen}")
}

/// Polls `check` until the condition holds, or panics naming `what` once `within` has
/// passed: how tests wait for the sandbox's controllers and meshtop's tasks.
pub async fn eventually<C, F, Fut>(what: &str, within: Duration, mut check: F) -> C::Value
where
    C: Check,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let deadline = Instant::now() + within;
    let mut attempt = 0;
    loop {
        match check().await.into_result() {
            Ok(v) => return v,
            Err(seen) if Instant::now() >= deadline => timed_out(what, within, seen),
            Err(_) => {}
        }
        tokio::time::sleep(pause(attempt)).await;
        attempt += 1;
    }
}

/// The same for a test without a runtime: `check` is called on this thread.
pub fn eventually_blocking<C: Check>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> C,
) -> C::Value {
    let deadline = Instant::now() + within;
    let mut attempt = 0;
    loop {
        match check().into_result() {
            Ok(v) => return v,
            Err(seen) if Instant::now() >= deadline => timed_out(what, within, seen),
            Err(_) => {}
        }
        std::thread::sleep(pause(attempt));
        attempt += 1;
    }
}
