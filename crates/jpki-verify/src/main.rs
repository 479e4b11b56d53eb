//! `jpki-verify`: the verifier on files, for operators and support staff diagnosing a failed
//! verification. It runs exactly the `verifier` library's verification, with revocation from a
//! crl-sync snapshot directory through the platform's one answer rule, and prints the report as
//! JSON. The library itself stays pure (no files, no revocation index, no command line).
#![forbid(unsafe_code)]

mod cli;
mod snapshot_source;

fn main() {
    std::process::exit(cli::run(std::env::args_os()));
}
