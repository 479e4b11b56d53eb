//! Graceful shutdown: the signals that ask a server to stop (SIGTERM from the supervisor, SIGINT
//! from a terminal). Register them before anything starts, so that a signal during start-up still
//! means a graceful stop rather than the default action (killed with in-flight work lost); then
//! stop accepting, finish in-flight requests and flush what must be flushed once
//! [`Signals::recv`] returns.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM and SIGINT, registered once.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Registers the handlers; from then on either signal is received here instead of ending the
    /// process. Must be called inside a Tokio runtime.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for either.
    pub async fn recv(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
