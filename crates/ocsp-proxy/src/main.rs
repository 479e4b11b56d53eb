//! `ocsp-proxy`: the PF's RFC 6960 OCSP responder.
//!
//! ```text
//! ocsp-proxy serve --config ocsp-proxy.toml
//! ocsp-proxy check-config --config ocsp-proxy.toml
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ocsp-proxy",
    about = "RFC 6960 OCSP responder over the JPKI revocation index"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve until SIGTERM or SIGINT.
    Serve {
        /// The configuration file (TOML; `JPKI_PF_OCSP_*` variables override any key).
        #[arg(long)]
        config: PathBuf,
    },
    /// Load and validate the configuration, print every problem, and exit (0: usable).
    CheckConfig {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => match ocsp_proxy::config::Config::load(&config) {
            Ok(_) => {
                println!("{}: ok", config.display());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ocsp-proxy: {e}");
                std::process::ExitCode::from(2)
            }
        },
        Command::Serve { config } => {
            pf_server::logging::init("info", pf_server::logging::Format::Json);
            let config = match ocsp_proxy::config::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("ocsp-proxy: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("ocsp-proxy: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            match runtime.block_on(ocsp_proxy::server::serve(config)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "ocsp-proxy stopped");
                    eprintln!("ocsp-proxy: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
