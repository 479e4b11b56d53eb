//! Shared by the tests that run the real `crl-sync` binary: a jlis-sim directory made once per test
//! binary, the binary's invocations with their JSON, snapshot-directory fingerprints, and a small
//! DER rewriter for CRLs the simulator cannot make (an extra extension, re-signed with the CA key).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use jlis_sim::{Simulator, SyntheticCrlRequest};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// thisUpdate of the fixture CRLs: the 07:00 JST publication.
pub fn at() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-22T22:00:00Z", &Rfc3339).unwrap()
}

/// The "now" every CLI call is given: two hours after [`at`].
pub fn now() -> OffsetDateTime {
    at() + Duration::hours(2)
}

/// RFC 3339 text of a time.
pub fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// A directory under the cargo target's temporary directory (removed on drop).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// A simulator initialised once per test binary (CA keys take a while to derive).
pub struct Sim {
    _dir: tempfile::TempDir,
    pub sim: Simulator,
}

impl Sim {
    /// The shared simulator.
    pub fn get() -> &'static Sim {
        static SIM: OnceLock<Sim> = OnceLock::new();
        SIM.get_or_init(|| {
            let dir = tempdir();
            let (sim, _) = Simulator::init(
                &dir.path().join("sim"),
                "crl-sync-cli",
                at() - Duration::days(1),
                false,
            )
            .unwrap();
            Sim { _dir: dir, sim }
        })
    }

    /// A CA's root certificate file (`sign-2023`, `sign-2019`, `auth-2023`, ...).
    pub fn root(&self, ca: &str) -> PathBuf {
        self.sim.dir().join(format!("ca/{ca}/root.pem"))
    }

    /// A CA's private key file (a test key).
    pub fn root_key(&self, ca: &str) -> PathBuf {
        self.sim.dir().join(format!("ca/{ca}/root.key.pem"))
    }

    /// Writes a synthetic CRL and returns its bytes.
    pub fn crl(
        &self,
        out: &Path,
        ca: &str,
        entries: u64,
        number: u64,
        at: OffsetDateTime,
        seed: &str,
    ) -> Vec<u8> {
        self.sim
            .synthetic_crl(&SyntheticCrlRequest {
                entries,
                out: out.to_path_buf(),
                ca: ca.to_owned(),
                crl_number: number,
                at,
                next_update_hours: 48,
                seed: seed.to_owned(),
                wide_fraction: 0.0,
            })
            .unwrap();
        std::fs::read(out).unwrap()
    }
}

/// What one `crl-sync` run gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

/// Runs `crl-sync` with `args`; stdout is parsed as JSON when it is JSON (`Null` otherwise).
pub fn crl_sync<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out: Output = Command::new(env!("CARGO_BIN_EXE_crl-sync"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    Run {
        code: out.status.code().expect("crl-sync exited by a signal"),
        json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `crl-sync ingest --crl CRL --issuer ISSUER --out DIR --partition p --json --now NOW` plus `extra`.
pub fn ingest(crl: &Path, issuer: &Path, dir: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<&OsStr> = vec![
        "ingest".as_ref(),
        "--crl".as_ref(),
        crl.as_os_str(),
        "--issuer".as_ref(),
        issuer.as_os_str(),
        "--out".as_ref(),
        dir.as_os_str(),
        "--partition".as_ref(),
        "p".as_ref(),
        "--json".as_ref(),
    ];
    let now = rfc(now());
    if !extra.contains(&"--now") {
        args.extend(["--now".as_ref(), now.as_ref()] as [&OsStr; 2]);
    }
    args.extend(extra.iter().map(OsStr::new));
    crl_sync(args)
}

/// `crl-sync lookup --snapshot DIR SERIAL --now NOW`: the JSON answer.
pub fn lookup(dir: &Path, serial: &str, now: OffsetDateTime) -> Value {
    let r = crl_sync([
        "lookup".as_ref(),
        "--snapshot".as_ref(),
        dir.as_os_str(),
        serial.as_ref(),
        "--now".as_ref(),
        rfc(now).as_ref() as &OsStr,
    ]);
    assert_eq!(r.code, 0, "lookup {serial}: {}", r.stderr);
    r.json
}

/// The `error_code` of the first partition of a summary.
pub fn error_code(v: &Value) -> &str {
    v["partitions"][0]["error_code"].as_str().unwrap_or("")
}

/// Every file of a directory (not recursive) with its bytes.
pub fn dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            );
        }
    }
    out
}

/// The snapshot files of a directory (`rev-*.snap`) with their bytes.
pub fn snapshot_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    dir_files(dir)
        .into_iter()
        .filter(|(n, _)| revocation::parse_file_name(n).is_some())
        .collect()
}

/// (serial hex, revoked at, reason code) of every entry of a CRL, in CRL order.
pub fn entries(der: &[u8]) -> Vec<(String, i64, Option<u8>)> {
    let header = crl_sync::parse::parse_crl(der, usize::MAX).unwrap();
    let mut out = Vec::new();
    header
        .walk_revoked(&mut |s: &[u8], t: i64, r: Option<u8>| {
            out.push((jpki::Serial::from_der_content(s).unwrap().to_hex(), t, r));
            Ok(())
        })
        .unwrap();
    out
}

// ---- DER rewriting ----

/// One TLV: (tag, whole element, content).
pub fn read_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let first = input[1];
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let len = input[2..2 + n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, 2 + n)
    };
    (tag, &input[..hdr + len], &input[hdr..hdr + len])
}

/// The elements of a constructed content.
pub fn children(mut content: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (_, whole, _) = read_tlv(content);
        out.push(whole);
        content = &content[whole.len()..];
    }
    out
}

/// Encodes a TLV with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }` with
/// a NULL value.
pub fn null_extension(oid_content: &[u8], critical: bool) -> Vec<u8> {
    let mut c = tlv(0x06, oid_content);
    if critical {
        c.extend_from_slice(&[0x01, 0x01, 0xFF]);
    }
    c.extend_from_slice(&tlv(0x04, &[0x05, 0x00]));
    tlv(0x30, &c)
}

/// The CRL with `extension` appended to its crlExtensions and, if given, a new cRLNumber, re-signed
/// (sha256WithRSAEncryption, as the simulator's RSA CAs sign) with the CA key in `key_pem`.
pub fn rewrite_crl(der: &[u8], extension: Option<&[u8]>, crl_number: Option<u8>, key_pem: &Path) -> Vec<u8> {
    const CRL_NUMBER_OID: &[u8] = &[0x55, 0x1D, 0x14];
    let (_, _, list) = read_tlv(der);
    let parts = children(list);
    let (tbs, alg) = (parts[0], parts[1]);
    let (_, _, tbs_content) = read_tlv(tbs);
    let mut fields: Vec<Vec<u8>> = children(tbs_content).into_iter().map(<[u8]>::to_vec).collect();
    let last = fields.pop().unwrap();
    let (tag, _, exts_explicit) = read_tlv(&last);
    assert_eq!(tag, 0xA0, "crlExtensions must be last");
    let (_, _, exts) = read_tlv(exts_explicit);
    let mut new_exts = Vec::new();
    for ext in children(exts) {
        let (_, _, ext_content) = read_tlv(ext);
        let (_, _, oid) = read_tlv(ext_content);
        match crl_number {
            Some(n) if oid == CRL_NUMBER_OID => {
                assert!(n < 0x80);
                let value = tlv(0x04, &tlv(0x02, &[n]));
                new_exts.extend_from_slice(&tlv(0x30, &[tlv(0x06, oid), value].concat()));
            }
            _ => new_exts.extend_from_slice(ext),
        }
    }
    if let Some(e) = extension {
        new_exts.extend_from_slice(e);
    }
    fields.push(tlv(0xA0, &tlv(0x30, &new_exts)));
    let tbs = tlv(0x30, &fields.concat());
    let key = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(key_pem).unwrap()).unwrap();
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    signer.update(&tbs).unwrap();
    let sig = signer.sign_to_vec().unwrap();
    let bits = [&[0u8][..], &sig].concat();
    tlv(0x30, &[tbs.as_slice(), alg, &tlv(0x03, &bits)].concat())
}

/// A small deterministic RNG (SplitMix64) for test choices.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
