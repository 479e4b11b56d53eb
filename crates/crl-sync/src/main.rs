//! `crl-sync`: see the crate documentation and `crl-sync --help`.
use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    std::process::exit(crl_sync::cli::main_with(crl_sync::cli::Cli::parse()));
}
