//! Log set-up for the services and their commands: `tracing` events to stderr, filtered by
//! `RUST_LOG` when it is set and by the caller's default level otherwise.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// One JSON object per line, for servers whose logs are collected.
    Json,
    /// Human-readable lines, for commands run by hand or from cron.
    Text,
}

/// Installs the global subscriber: stderr, `format`, the `RUST_LOG` filter or else
/// `default_level` (`info`, `warn`, or any filter directive). A second call leaves the first
/// subscriber in place.
pub fn init(default_level: &str, format: Format) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        Format::Json => builder.json().try_init(),
        Format::Text => builder.try_init(),
    };
}
