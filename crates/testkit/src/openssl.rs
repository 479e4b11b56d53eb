//! The OpenSSL command-line tool as an independent judge of our certificates, CRLs, OCSP responses
//! and signatures.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `openssl` with `args`; returns the output whatever the exit status.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is installed (make test installs it)")
}

/// Runs `openssl` in `dir` and returns (success, stdout + stderr as text).
pub fn run_in<I, S>(dir: &Path, args: I) -> (bool, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl CLI");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Runs `openssl` and panics with its output unless it succeeds; returns stdout + stderr.
pub fn must<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = run(args);
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "openssl failed: {text}");
    text
}
