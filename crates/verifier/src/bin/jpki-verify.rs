//! `jpki-verify`: runs the library's verification on files and prints the report as JSON.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(verifier::cli::run(std::env::args_os()));
}
