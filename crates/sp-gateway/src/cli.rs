//! The command line:
//!
//! ```text
//! sp-gateway serve --config sp-gateway.toml     run the server (SIGTERM: graceful stop)
//! sp-gateway check-config --config FILE         load and validate, print the problems
//! sp-gateway audit verify FILE                  check the audit log's hash chain (exit 1 if broken)
//! sp-gateway hash-key                           read an API key on stdin, print its SHA-256
//! sp-gateway gen-key                            print a new API key and its SHA-256
//! ```

use std::io::Read;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The sp-gateway command line.
#[derive(Debug, Parser)]
#[command(
    name = "sp-gateway",
    version,
    about = "JPKI PF gateway for SPs (KYC, login, re-checks)"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server.
    Serve {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Loads and validates the configuration.
    CheckConfig {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Audit log tools.
    Audit {
        /// What to do with the log.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Reads an API key on stdin and prints its SHA-256 for `api_key_sha256`.
    HashKey,
    /// Prints a new random API key and its SHA-256.
    GenKey,
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks the hash chain; prints a JSON report; exit 0 when intact, 1 when broken.
    Verify {
        /// The audit log.
        file: PathBuf,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the CLI; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            init_logging();
            let cfg = match crate::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("sp-gateway: {e}");
                    return 2;
                }
            };
            let workers = cfg.workers.max(1);
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers.min(4))
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("sp-gateway: starting the runtime: {e}");
                    return 1;
                }
            };
            match rt.block_on(crate::server::serve(cfg)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("sp-gateway: {e:#}");
                    1
                }
            }
        }
        Command::CheckConfig { config } => match crate::Config::load(&config) {
            Ok(_) => {
                println!("{{\"ok\":true}}");
                0
            }
            Err(e) => {
                eprintln!("sp-gateway: {e}");
                2
            }
        },
        Command::Audit {
            command: AuditCommand::Verify { file },
        } => match crate::audit::verify(&file) {
            Ok(r) => {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
                if r.ok { 0 } else { 1 }
            }
            Err(e) => {
                eprintln!("sp-gateway: {}: {e}", file.display());
                2
            }
        },
        Command::HashKey => {
            let mut key = String::new();
            if std::io::stdin().take(4096).read_to_string(&mut key).is_err() || key.trim().is_empty() {
                eprintln!("sp-gateway: give the key on stdin");
                return 64;
            }
            println!("{}", crate::registry::hash_key(&key));
            0
        }
        Command::GenKey => match crate::registry::generate_key() {
            Ok((key, hash)) => {
                println!("{{\"api_key\":\"{key}\",\"api_key_sha256\":\"{hash}\"}}");
                0
            }
            Err(e) => {
                eprintln!("sp-gateway: {e}");
                1
            }
        },
    }
}
