//! Stopping on a signal: SIGINT (Ctrl-C), SIGTERM, SIGHUP (the terminal went away) and
//! SIGQUIT all stop meshtop the same way. The handlers are registered when asked for, so a
//! signal that arrives before the wait starts (right after a "serving" line, say) still
//! stops cleanly instead of killing the process.

use std::future::Future;

use tokio::signal::unix::SignalKind;

/// A signal that stops meshtop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
    Hangup,
    Quit,
}

impl StopSignal {
    pub const ALL: [StopSignal; 4] = [
        StopSignal::Interrupt,
        StopSignal::Terminate,
        StopSignal::Hangup,
        StopSignal::Quit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
            StopSignal::Quit => "SIGQUIT",
        }
    }

    fn kind(self) -> SignalKind {
        match self {
            StopSignal::Interrupt => SignalKind::interrupt(),
            StopSignal::Terminate => SignalKind::terminate(),
            StopSignal::Hangup => SignalKind::hangup(),
            StopSignal::Quit => SignalKind::quit(),
        }
    }

    /// What a shell reports for a process this signal ended: 128 + the signal's number
    /// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 131 for SIGQUIT).
    pub fn exit_code(self) -> u8 {
        let number = u8::try_from(self.kind().as_raw_value()).unwrap_or(0);
        128u8.saturating_add(number)
    }
}

/// Registers for every [`StopSignal`] now; the future resolves with the first one to arrive.
/// A signal that cannot be registered is not waited for (the others still are).
pub fn stop_signal() -> impl Future<Output = StopSignal> {
    let registered: Vec<_> = StopSignal::ALL
        .into_iter()
        .filter_map(|s| {
            tokio::signal::unix::signal(s.kind())
                .map(|stream| (s, stream))
                .ok()
        })
        .collect();
    async move {
        if registered.is_empty() {
            return std::future::pending().await;
        }
        let waits = registered.into_iter().map(|(s, mut stream)| {
            Box::pin(async move {
                stream.recv().await;
                s
            })
        });
        futures::future::select_all(waits).await.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        let codes: Vec<(&str, u8)> = StopSignal::ALL
            .iter()
            .map(|s| (s.name(), s.exit_code()))
            .collect();
        assert_eq!(
            codes,
            [
                ("SIGINT", 130),
                ("SIGTERM", 143),
                ("SIGHUP", 129),
                ("SIGQUIT", 131)
            ]
        );
    }
}
