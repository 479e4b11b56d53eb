//! `jlis-sim`: see the library documentation for the commands and the directory layout.
//!
//! Exit status: 0 on success, 2 for a usage error (clap's, or an argument the simulator refused),
//! 1 for anything else. A failed command changes nothing on disk.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use jlis_sim::SimError;

fn main() -> ExitCode {
    let cli = jlis_sim::cli::Cli::parse();
    match jlis_sim::cli::run(cli) {
        Ok(out) => {
            let text =
                serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            // A closed stdout (e.g. `| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = if matches!(e, SimError::InvalidArgument { .. }) {
                2
            } else {
                1
            };
            let _ = writeln!(
                std::io::stderr().lock(),
                "jlis-sim: error: {:#}",
                anyhow::Error::new(e)
            );
            ExitCode::from(code)
        }
    }
}
