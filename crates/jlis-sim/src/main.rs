//! `jlis-sim`: see the library documentation for the commands and the directory layout.

use std::io::Write;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = jlis_sim::cli::Cli::parse();
    let out = jlis_sim::cli::run(cli)?;
    // A closed stdout (e.g. `| head`) is not an error worth a panic.
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&out)?
    );
    Ok(())
}
