//! `crl-sync`: see the crate documentation and `crl-sync --help`.
use clap::Parser;

fn main() {
    pf_server::logging::init("warn", pf_server::logging::Format::Text);
    std::process::exit(crl_sync::cli::main_with(crl_sync::cli::Cli::parse()));
}
