//! The `jlis-sim` command line. Every subcommand prints one JSON document on stdout.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use jpki::{CertKind, Reason, Serial};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::crl_stream::SyntheticCrlRequest;
use crate::error::{Result, SimError};
use crate::init::DEFAULT_SEED;
use crate::issue::IssueRequest;
use crate::person::PersonInput;
use crate::sign::{CmsMode, HashAlg, SignInput, SignRequest};
use crate::store::{Simulator, write_atomic};

/// A J-LIS stand-in: CAs, cards, card signatures, revocation and CRLs. All keys are test keys.
#[derive(Debug, Parser)]
#[command(name = "jlis-sim", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the CA hierarchies in an empty directory.
    Init(InitArgs),
    /// Issue a holder with a signing and a user-authentication certificate.
    Issue(IssueArgs),
    /// Sign like a card.
    Sign(SignArgs),
    /// Revoke a certificate.
    Revoke(RevokeArgs),
    /// Move a holder: revoke the signing certificate (affiliationChanged) and issue a new one.
    Move(MoveArgs),
    /// Publish partition CRLs, or stream a synthetic CRL with --entries.
    Crl(CrlArgs),
    /// Serve CRLs, OCSP and the 4-info provision service over HTTP on loopback.
    Serve(ServeArgs),
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// State directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Loopback address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Also write the bound address (the JSON printed when ready) to this file.
    #[arg(long)]
    pub port_file: Option<PathBuf>,
    /// File holding the bearer token every /4info request must present.
    #[arg(long)]
    pub pf_token_file: Option<PathBuf>,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// State directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Seed every key and drawn value derives from.
    #[arg(long, default_value = DEFAULT_SEED)]
    pub seed: String,
    /// Re-initialise a non-empty directory.
    #[arg(long)]
    pub force: bool,
    /// "Now" (RFC 3339), for the responder certificates' validity.
    #[arg(long)]
    pub at: Option<String>,
}

/// `issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// State directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// CA generation: 2019, 2023 (default) or 2026 (next-generation, ECDSA P-384).
    #[arg(long)]
    pub generation: Option<String>,
    /// Smartphone certificates (signing policy 1.2.392.200149.8.5.1.1.40).
    #[arg(long)]
    pub smartphone: bool,
    /// Issue from the test hierarchy (O=JPKI-TEST).
    #[arg(long)]
    pub test: bool,
    /// 氏名, family and given name separated by U+3000.
    #[arg(long)]
    pub name: Option<String>,
    /// 住所, full-width, from the prefecture onward.
    #[arg(long)]
    pub address: Option<String>,
    /// 生年月日: era digit + YYYYMMDD, e.g. 319801231.
    #[arg(long)]
    pub dob: Option<String>,
    /// 性別: 1 male, 2 female, 3 unknown.
    #[arg(long)]
    pub sex: Option<u8>,
    /// Municipality code (CRL partition), e.g. 131016.
    #[arg(long)]
    pub municipality: Option<String>,
    /// Issue time (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
}

/// Which key of the holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyChoice {
    /// The signing key.
    Sign,
    /// The user-authentication key (login challenges).
    Auth,
}

/// `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// State directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Holder id, e.g. H000001.
    #[arg(long)]
    pub holder: String,
    /// Which key.
    #[arg(long, value_enum, default_value = "sign")]
    pub key: KeyChoice,
    /// File to sign.
    #[arg(long, conflicts_with = "digest", required_unless_present = "digest")]
    pub data: Option<PathBuf>,
    /// Digest to sign, hex.
    #[arg(long)]
    pub digest: Option<String>,
    /// Hash (default sha256 for RSA keys, sha384 for P-384 keys).
    #[arg(long, value_enum)]
    pub hash: Option<HashAlg>,
    /// RSASSA-PSS instead of PKCS#1 v1.5.
    #[arg(long)]
    pub pss: bool,
    /// Produce CMS SignedData.
    #[arg(long, value_enum)]
    pub cms: Option<CmsMode>,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
}

/// `revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// State directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Serial, hex.
    #[arg(long)]
    pub serial: String,
    /// Reason, RFC 5280 name (affiliationChanged, keyCompromise, superseded, …).
    #[arg(long)]
    pub reason: String,
    /// Only if issued by this CA id.
    #[arg(long)]
    pub ca: Option<String>,
    /// Revocation time (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
}

/// `move`.
#[derive(Debug, Args)]
pub struct MoveArgs {
    /// State directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Holder id.
    #[arg(long)]
    pub holder: String,
    /// The new address.
    #[arg(long)]
    pub address: String,
    /// Municipality code of the new address, if it cannot be recognised from the address.
    #[arg(long)]
    pub municipality: Option<String>,
    /// Time of the move (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
}

/// `crl`.
#[derive(Debug, Args)]
pub struct CrlArgs {
    /// State directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// thisUpdate (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
    /// nextUpdate − thisUpdate.
    #[arg(long, default_value_t = 48)]
    pub next_update_hours: u32,
    /// Synthetic mode: number of entries to stream.
    #[arg(long, requires = "out")]
    pub entries: Option<u64>,
    /// Synthetic mode: output file.
    #[arg(long, requires = "entries")]
    pub out: Option<PathBuf>,
    /// Synthetic mode: signing CA.
    #[arg(long, default_value = "sign-2023")]
    pub ca: String,
    /// Synthetic mode: cRLNumber.
    #[arg(long, default_value_t = 1)]
    pub crl_number: u64,
    /// Synthetic mode: extra seed text.
    #[arg(long, default_value = "")]
    pub seed: String,
    /// Synthetic mode: fraction of 9–20-octet serials.
    #[arg(long, default_value_t = 0.0)]
    pub wide_fraction: f64,
}

/// Parses an optional RFC 3339 time; `None` is now.
pub fn parse_at(at: Option<&str>) -> Result<OffsetDateTime> {
    match at {
        None => Ok(OffsetDateTime::now_utc()),
        Some(s) => OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| t.to_offset(time::UtcOffset::UTC))
            .map_err(|e| SimError::arg("--at", format!("{s:?} is not RFC 3339: {e}"))),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| SimError::Encoding {
        what: "JSON output",
        detail: e.to_string(),
    })
}

/// Runs a parsed command and returns the JSON to print.
pub fn run(cli: Cli) -> Result<serde_json::Value> {
    match cli.command {
        Command::Init(a) => {
            let at = parse_at(a.at.as_deref())?;
            let (_, summary) = Simulator::init(&a.dir, &a.seed, at, a.force)?;
            to_json(&summary)
        }
        Command::Issue(a) => {
            let at = parse_at(a.at.as_deref())?;
            let sim = Simulator::open(&a.dir)?;
            let issued = sim.issue(&IssueRequest {
                generation: a.generation,
                smartphone: a.smartphone,
                test: a.test,
                person: PersonInput {
                    name: a.name,
                    address: a.address,
                    date_of_birth: a.dob,
                    sex: a.sex,
                    municipality: a.municipality,
                },
                at,
            })?;
            to_json(&issued)
        }
        Command::Sign(a) => {
            let sim = Simulator::open(&a.dir)?;
            let input = match (&a.data, &a.digest) {
                (Some(p), None) => SignInput::Data(std::fs::read(p).map_err(SimError::io("read", p))?),
                (None, Some(h)) => SignInput::Digest(
                    hex::decode(h.trim()).map_err(|e| SimError::arg("digest", format!("not hex: {e}")))?,
                ),
                _ => return Err(SimError::arg("input", "give exactly one of --data and --digest")),
            };
            let key = match a.key {
                KeyChoice::Sign => CertKind::Signing,
                KeyChoice::Auth => CertKind::UserAuthentication,
            };
            let sig = sim.sign(&SignRequest {
                holder: a.holder.clone(),
                key,
                input,
                hash: a.hash,
                pss: a.pss,
                cms: a.cms,
            })?;
            write_atomic(&a.out, &sig)?;
            let holder = sim.holder(&a.holder);
            let serial = holder.map(|h| {
                if key == CertKind::Signing {
                    h.sign_serial
                } else {
                    h.auth_serial
                }
            });
            let cert = serial
                .and_then(|s| sim.certificate_by_serial(&s))
                .map(|c| sim.path(&c.cert_path));
            Ok(
                json!({ "out": a.out, "bytes": sig.len(), "holder": a.holder, "serial": serial, "cert": cert }),
            )
        }
        Command::Revoke(a) => {
            let serial = Serial::from_hex(&a.serial)
                .map_err(|e| SimError::arg("serial", format!("{:?}: {e}", a.serial)))?;
            let reason = Reason::from_rfc_name(&a.reason).ok_or_else(|| {
                let names: Vec<&str> = Reason::ALL.iter().map(|r| r.rfc_name()).collect();
                SimError::arg(
                    "reason",
                    format!("{:?}; expected one of {}", a.reason, names.join(", ")),
                )
            })?;
            let at = parse_at(a.at.as_deref())?;
            let sim = Simulator::open(&a.dir)?;
            to_json(&sim.revoke(&serial, a.ca.as_deref(), reason, at)?)
        }
        Command::Move(a) => {
            let at = parse_at(a.at.as_deref())?;
            let sim = Simulator::open(&a.dir)?;
            to_json(&sim.move_holder(&a.holder, &a.address, a.municipality.as_deref(), at)?)
        }
        Command::Crl(a) => {
            let at = parse_at(a.at.as_deref())?;
            let sim = Simulator::open(&a.dir)?;
            match (a.entries, a.out) {
                (Some(entries), Some(out)) => to_json(&sim.synthetic_crl(&SyntheticCrlRequest {
                    entries,
                    out,
                    ca: a.ca,
                    crl_number: a.crl_number,
                    at,
                    next_update_hours: a.next_update_hours,
                    seed: a.seed,
                    wide_fraction: a.wide_fraction,
                })?),
                _ => Ok(json!({ "crls": sim.publish_crls(at, a.next_update_hours)? })),
            }
        }
        Command::Serve(a) => {
            let pf_token = match &a.pf_token_file {
                Some(p) => {
                    let t = std::fs::read_to_string(p).map_err(SimError::io("read", p))?;
                    let t = t.trim().to_owned();
                    if t.is_empty() {
                        return Err(SimError::arg("pf-token-file", "the token file is empty"));
                    }
                    Some(t)
                }
                None => None,
            };
            let sim = Simulator::open(&a.dir)?;
            let opts = crate::serve::ServeOptions {
                pf_token,
                workers: None,
            };
            crate::serve::run_blocking(sim, a.listen, a.port_file.as_deref(), opts)
        }
    }
}
