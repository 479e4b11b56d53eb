//! The `jpki-verify` command line, for operators and support staff diagnosing a failed
//! verification. It runs exactly the library's verification and prints the report as JSON.
//!
//! ```text
//! jpki-verify --trust DIR [--kind sign|auth] (--data FILE [--hash H] | --digest HEX --hash H)
//!             --signature FILE --cert FILE [--pss] [--crl-snapshot DIR [--crl-grace SECS]]
//!             [--at RFC3339]
//!             [--test-hierarchy]
//! jpki-verify --trust DIR --cms FILE [--content FILE] ...
//! ```
//! Exit 0 valid, 1 invalid, 2 indeterminate, 64 usage error. Without `--crl-snapshot` the
//! report says `revocation.status: not_checked`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;
use jpki::CertKind;
use openssl::x509::X509;

use verifier::{
    HashAlg, Limits, NotChecked, Payload, Report, RevocationSource, Scheme, SignatureRequest, TrustStore,
    Verdict, Verifier,
};

use crate::snapshot_source::SnapshotSource;

/// Exit code for usage errors (EX_USAGE).
pub const EXIT_USAGE: i32 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "jpki-verify",
    about = "Verify a JPKI signature and print the report as JSON"
)]
struct Args {
    /// Directory of trusted root certificates (DER or PEM; subdirectories are read too).
    #[arg(long)]
    trust: PathBuf,
    /// Required certificate use.
    #[arg(long, value_parser = ["sign", "auth"], default_value = "sign")]
    kind: String,
    /// The signed data.
    #[arg(long, conflicts_with_all = ["digest", "cms"])]
    data: Option<PathBuf>,
    /// The signed digest, hex.
    #[arg(long, conflicts_with = "cms")]
    digest: Option<String>,
    /// sha256, sha384, sha512 (sha1 is refused by the verifier).
    #[arg(long)]
    hash: Option<String>,
    /// The raw signature file.
    #[arg(long)]
    signature: Option<PathBuf>,
    /// The signer's certificate.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// RSASSA-PSS instead of PKCS#1 v1.5.
    #[arg(long)]
    pss: bool,
    /// A CMS SignedData file.
    #[arg(long)]
    cms: Option<PathBuf>,
    /// Detached CMS content.
    #[arg(long, requires = "cms")]
    content: Option<PathBuf>,
    /// A revocation snapshot directory (what crl-sync writes).
    #[arg(long)]
    crl_snapshot: Option<PathBuf>,
    /// Seconds past a CRL's nextUpdate during which it still vouches for "good" (the gateway's
    /// `[index] grace_secs`); give the same value to get the gateway's answer.
    #[arg(long, default_value_t = 0, requires = "crl_snapshot")]
    crl_grace: i64,
    /// Verify at this instant (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Trust the test hierarchy (O=JPKI-TEST) instead of production.
    #[arg(long)]
    test_hierarchy: bool,
}

struct Usage(String);

impl<E: std::fmt::Display> From<E> for Usage {
    fn from(e: E) -> Usage {
        Usage(e.to_string())
    }
}

/// Runs the CLI with `args` (including the program name); returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run_args(&args) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
            );
            match report.verdict {
                Verdict::Valid => 0,
                Verdict::Invalid => 1,
                Verdict::Indeterminate => 2,
            }
        }
        Err(Usage(m)) => {
            eprintln!("jpki-verify: {m}");
            EXIT_USAGE
        }
    }
}

fn read(path: &Path, max: usize) -> Result<Vec<u8>, Usage> {
    let meta = std::fs::metadata(path).map_err(|e| Usage(format!("{}: {e}", path.display())))?;
    if meta.len() > u64::try_from(max).unwrap_or(u64::MAX) {
        return Err(Usage(format!("{}: larger than {max} bytes", path.display())));
    }
    std::fs::read(path).map_err(|e| Usage(format!("{}: {e}", path.display())))
}

fn cert_der(bytes: &[u8]) -> Vec<u8> {
    if bytes.starts_with(b"-----BEGIN")
        && let Ok(c) = X509::from_pem(bytes)
        && let Ok(d) = c.to_der()
    {
        return d;
    }
    bytes.to_vec()
}

fn collect_files(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<(), Usage> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Usage(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if depth < 3 {
                collect_files(&p, depth + 1, out)?;
            }
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn load_trust(dir: &Path, test: bool) -> Result<TrustStore, Usage> {
    let mut store = if test {
        TrustStore::test()
    } else {
        TrustStore::production()
    };
    let mut files = Vec::new();
    collect_files(dir, 0, &mut files)?;
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.contains(".key")
            || !(name.ends_with(".pem")
                || name.ends_with(".der")
                || name.ends_with(".crt")
                || name.ends_with(".cer"))
        {
            continue;
        }
        let bytes = read(&path, 64 * 1024)?;
        let certs: Vec<Vec<u8>> = if bytes.starts_with(b"-----BEGIN") {
            X509::stack_from_pem(&bytes)
                .map(|s| s.iter().filter_map(|c| c.to_der().ok()).collect())
                .unwrap_or_default()
        } else {
            vec![bytes]
        };
        for der in certs {
            match store.add_root(&der) {
                Ok(fp) => eprintln!(
                    "jpki-verify: trusting {} (sha256 {})",
                    path.display(),
                    hex::encode(fp)
                ),
                Err(e) => eprintln!("jpki-verify: skipping {}: {e}", path.display()),
            }
        }
    }
    if store.roots().is_empty() {
        return Err(Usage(format!("no usable root certificate in {}", dir.display())));
    }
    Ok(store)
}

fn parse_at(at: Option<&str>) -> Result<i64, Usage> {
    match at {
        None => Ok(time::OffsetDateTime::now_utc().unix_timestamp()),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .map_err(|e| Usage(format!("--at {s}: {e}"))),
    }
}

fn run_args(args: &Args) -> Result<Report, Usage> {
    let limits = Limits::default();
    let at = parse_at(args.at.as_deref())?;
    let kind = if args.kind == "auth" {
        CertKind::UserAuthentication
    } else {
        CertKind::Signing
    };
    let hash = match &args.hash {
        None => None,
        Some(h) => Some(HashAlg::from_name(h).ok_or_else(|| Usage(format!("unknown --hash {h}")))?),
    };
    let rev: Box<dyn RevocationSource> = match &args.crl_snapshot {
        Some(dir) => {
            let source = SnapshotSource::open(dir, revocation::Policy::with_grace(args.crl_grace));
            if let Some(why) = source.error() {
                eprintln!("jpki-verify: {why}; revocation will be reported unknown");
            }
            Box::new(source)
        }
        None => Box::new(NotChecked),
    };
    let store = load_trust(&args.trust, args.test_hierarchy)?;
    let verifier = Verifier::new(store, limits);
    if let Some(cms) = &args.cms {
        let cms = read(cms, limits.max_cms)?;
        let content = match &args.content {
            Some(p) => Some(read(p, limits.max_data)?),
            None => None,
        };
        return Ok(verifier.verify_cms(&cms, content.as_deref(), Some(kind), at, rev.as_ref()));
    }
    let cert_path = args
        .cert
        .as_ref()
        .ok_or_else(|| Usage("--cert is required".into()))?;
    let sig_path = args
        .signature
        .as_ref()
        .ok_or_else(|| Usage("--signature is required".into()))?;
    let cert = cert_der(&read(cert_path, limits.max_certificate * 2)?);
    let signature = read(sig_path, limits.max_signature)?;
    let data;
    let digest;
    let payload = match (&args.data, &args.digest) {
        (Some(p), None) => {
            data = read(p, limits.max_data)?;
            Payload::Data { bytes: &data, hash }
        }
        (None, Some(h)) => {
            digest = hex::decode(h.trim()).map_err(|e| Usage(format!("--digest: {e}")))?;
            let hash = hash.ok_or_else(|| Usage("--digest needs --hash".into()))?;
            Payload::Digest { hash, bytes: &digest }
        }
        _ => {
            return Err(Usage(
                "exactly one of --data, --digest or --cms is required".into(),
            ));
        }
    };
    let req = SignatureRequest {
        cert_der: &cert,
        kind: Some(kind),
        payload,
        signature: &signature,
        scheme: if args.pss { Scheme::Pss } else { Scheme::Auto },
        at_unix: at,
    };
    Ok(verifier.verify_signature(&req, rev.as_ref()))
}
