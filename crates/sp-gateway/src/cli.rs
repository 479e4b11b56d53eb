//! The command line:
//!
//! ```text
//! sp-gateway serve --config sp-gateway.toml     run the server (SIGTERM: graceful stop)
//! sp-gateway check-config --config FILE         load and validate, print the problems
//! sp-gateway audit verify FILE                  check the audit log's hash chain (exit 1 if broken)
//! sp-gateway hash-key                           read an API key on stdin, print its SHA-256
//! sp-gateway gen-key                            print a new API key and its SHA-256
//! sp-gateway webhooks dead-letters list --config FILE [--sp ID]
//!                                               the dead letters, one JSON line each
//! sp-gateway webhooks dead-letters replay --config FILE [--sp ID] [--id ENTRY_ID...]
//!          [--audit-log FILE]                   requeue them (all, or these) with the same event id
//! sp-gateway consents reindex --config FILE [--audit-log FILE]
//!                                               rebuild the consents' by-serial index (idempotent)
//! ```
//!
//! The operator commands ([`crate::admin`]) print JSON lines on stdout and, on failure,
//! `sp-gateway: CODE: message` on stderr; exit 0 done, 1 Redis or I/O, 2 configuration, 64 usage.

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
    /// Webhook operations.
    Webhooks {
        /// What to do.
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Consent maintenance.
    Consents {
        /// What to do.
        #[command(subcommand)]
        command: ConsentsCommand,
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

/// Webhook subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Deliveries that used up their attempts.
    DeadLetters {
        /// What to do with them.
        #[command(subcommand)]
        command: DeadLettersCommand,
    },
}

/// Dead-letter subcommands.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// Prints the dead letters, oldest first, one JSON line each (ids, SP, attempts, last error,
    /// serial; never 4 info).
    List {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Only this SP's.
        #[arg(long)]
        sp: Option<String>,
    },
    /// Puts dead letters back in the outbox with the same event id and body (attempts count from
    /// 1 again) and removes them from the dead letters, each atomically; prints one JSON line
    /// each and audits each requeue.
    Replay {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Only this SP's.
        #[arg(long)]
        sp: Option<String>,
        /// These dead letters (entry ids as `list` prints them); default: all (of `--sp`).
        #[arg(long = "id", num_args = 1..)]
        ids: Vec<String>,
        /// The audit log for the replay records (default: beside the configured `audit_log`,
        /// `NAME.operator.EXT`).
        #[arg(long)]
        audit_log: Option<PathBuf>,
    },
}

/// Consent subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsentsCommand {
    /// Rebuilds the by-serial consent index (`cc:<serial>`) from the stored consent records, so
    /// that consents registered before the index existed get their webhooks; idempotent. `serve`
    /// does it once per deployment by itself. Prints the counts as JSON.
    Reindex {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// The audit log for the record of this run (default: beside the configured
        /// `audit_log`, `NAME.operator.EXT`).
        #[arg(long)]
        audit_log: Option<PathBuf>,
    },
}

/// Loads the configuration and runs an operator command on a small runtime; returns the exit code.
fn admin<T>(
    config: &std::path::Path,
    run: impl AsyncFnOnce(&crate::Config) -> Result<T, crate::admin::AdminError>,
) -> i32 {
    init_logging();
    let cfg = match crate::Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            let e = crate::admin::AdminError::from(e);
            eprintln!("sp-gateway: {}: {e}", e.code());
            return e.exit_code();
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sp-gateway: RUNTIME: starting the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(run(&cfg)) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("sp-gateway: {}: {e}", e.code());
            e.exit_code()
        }
    }
}

/// JSON lines on stderr, `info` unless `RUST_LOG` says otherwise.
fn init_logging() {
    pf_server::logging::init("info", pf_server::logging::Format::Json);
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
        Command::Webhooks {
            command: WebhooksCommand::DeadLetters { command },
        } => match command {
            DeadLettersCommand::List { config, sp } => admin(&config, async |cfg| {
                crate::admin::list_dead_letters(cfg, sp.as_deref(), &mut std::io::stdout().lock()).await
            }),
            DeadLettersCommand::Replay {
                config,
                sp,
                ids,
                audit_log,
            } => admin(&config, async |cfg| {
                let audit = audit_log.unwrap_or_else(|| crate::admin::operator_audit_path(&cfg.audit_log));
                let out = &mut std::io::stdout().lock();
                crate::admin::replay_dead_letters(cfg, sp.as_deref(), &ids, &audit, out).await
            }),
        },
        Command::Consents {
            command: ConsentsCommand::Reindex { config, audit_log },
        } => admin(&config, async |cfg| {
            let audit = audit_log.unwrap_or_else(|| crate::admin::operator_audit_path(&cfg.audit_log));
            crate::admin::reindex_consents(cfg, &audit, &mut std::io::stdout().lock()).await
        }),
        Command::HashKey => {
            let mut key = String::new();
            if std::io::stdin().take(4096).read_to_string(&mut key).is_err() || key.trim().is_empty() {
                eprintln!("sp-gateway: give the key on stdin");
                return 64;
            }
            println!("{}", pf_server::registry::hash_key(&key));
            0
        }
        Command::GenKey => match pf_server::registry::generate_key() {
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
