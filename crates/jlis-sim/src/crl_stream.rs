//! Fast synthetic CRLs: millions of JPKI-like entries streamed to a file in constant memory.
//!
//! The generator is deterministic (seeded from the simulator seed, `--seed` and the entry count),
//! so it runs once to measure the exact TBS length and once more to write: the header goes out
//! first, then the entries through a `BufWriter` while a hasher sees the same bytes, and finally the
//! digest is signed (RSA PKCS#1 v1.5 or RFC 6979 ECDSA) and signatureAlgorithm + signature are
//! appended. The outer SEQUENCE header is patched in place once the signature length is known
//! (ECDSA signatures vary by a few octets).
//!
//! Serials start at 0x01000001 and climb with small random gaps and the occasional long jump, so
//! they stay 4 octets as JPKI's do; `wide_fraction` mixes in 9–20-octet serials for wide-path tests.
//! Reasons follow a J-LIS-like mix and revocation dates spread over the five years before
//! `thisUpdate`, rising with the serial.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use openssl::hash::Hasher;
use serde::Serialize;
use time::OffsetDateTime;

use crate::asn1;
use crate::ca::ca_spec;
use crate::crl::{entry_len, frame, push_entry};
use crate::drbg::{Drbg, FastRng};
use crate::error::{Result, SimError};
use crate::keys::SigningKey;
use crate::store::{Simulator, load_key};

/// What to generate.
#[derive(Clone, Debug)]
pub struct SyntheticCrlRequest {
    /// Number of entries.
    pub entries: u64,
    /// Output file (DER).
    pub out: PathBuf,
    /// Signing CA id.
    pub ca: String,
    /// cRLNumber.
    pub crl_number: u64,
    /// thisUpdate.
    pub at: OffsetDateTime,
    /// nextUpdate − thisUpdate, hours.
    pub next_update_hours: u32,
    /// Extra seed text for the entries.
    pub seed: String,
    /// Fraction of entries with 9–20-octet serials (0 by default).
    pub wide_fraction: f64,
}

/// What was written.
#[derive(Clone, Debug, Serialize)]
pub struct SyntheticCrlSummary {
    /// Output file.
    pub file: PathBuf,
    /// Signing CA id.
    pub ca: String,
    /// cRLNumber.
    pub crl_number: u64,
    /// Entries written.
    pub entries: u64,
    /// File size.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Wall time, seconds.
    pub seconds: f64,
}

struct Generator {
    rng: FastRng,
    next_serial: u64,
    i: u64,
    n: u64,
    start: i64,
    span: i64,
    wide_ppm: u64,
    buf: [u8; 20],
}

struct Entry {
    len: usize,
    unix: i64,
    reason: Option<u8>,
}

impl Generator {
    fn new(seed: &str, label: &str, n: u64, at: i64, wide_fraction: f64) -> Result<Generator> {
        let rng = Drbg::new(seed, label)?.fast()?;
        let span = 5 * 365 * 86_400;
        Ok(Generator {
            rng,
            next_serial: 0x0100_0001,
            i: 0,
            n: n.max(1),
            start: at - span,
            span,
            wide_ppm: (wide_fraction.clamp(0.0, 1.0) * 1e6) as u64,
            buf: [0; 20],
        })
    }

    fn next(&mut self) -> Entry {
        let len = if self.wide_ppm > 0 && self.rng.below(1_000_000) < self.wide_ppm {
            let len = 9 + self.rng.below(12) as usize;
            for b in self.buf.iter_mut().take(len) {
                *b = self.rng.next_u64() as u8;
            }
            if let Some(first) = self.buf.first_mut() {
                *first = 1 + (*first & 0x7E);
            }
            len
        } else {
            let s = self.next_serial;
            // Mostly small gaps; one entry in a thousand after a long run of unrevoked serials.
            let gap = if self.rng.below(1000) == 0 {
                1 + self.rng.below(20_000)
            } else {
                1 + self.rng.below(8)
            };
            self.next_serial = s.saturating_add(gap);
            let bytes = s.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
            let len = 8 - skip;
            if let (Some(dst), Some(src)) = (self.buf.get_mut(..len), bytes.get(skip..)) {
                dst.copy_from_slice(src);
            }
            len
        };
        let base = self.start + (i128::from(self.i) * i128::from(self.span) / i128::from(self.n)) as i64;
        let unix = (base + self.rng.below(86_400) as i64).min(self.start + self.span - 1);
        self.i += 1;
        let reason = match self.rng.below(1000) {
            0..=419 => Some(3),   // affiliationChanged
            420..=619 => Some(4), // superseded
            620..=869 => Some(5), // cessationOfOperation
            870..=949 => Some(6), // certificateHold
            950..=989 => Some(1), // keyCompromise
            _ => None,            // unspecified
        };
        Entry { len, unix, reason }
    }

    fn serial(&self, e: &Entry) -> &[u8] {
        self.buf.get(..e.len).unwrap_or_default()
    }
}

fn progress_bar(n: u64) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let pb = ProgressBar::with_draw_target(Some(n), target);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} entries {per_sec} eta {eta}") {
        pb.set_style(style);
    }
    pb
}

impl Simulator {
    /// Streams a signed synthetic CRL of `req.entries` entries to `req.out` (written to a temporary
    /// file beside it and renamed). Memory use does not depend on the entry count.
    pub fn synthetic_crl(&self, req: &SyntheticCrlRequest) -> Result<SyntheticCrlSummary> {
        let started = std::time::Instant::now();
        if !(0.0..=1.0).contains(&req.wide_fraction) {
            return Err(SimError::arg(
                "wide-fraction",
                format!("{}: must be within 0..=1", req.wide_fraction),
            ));
        }
        if req.next_update_hours == 0 {
            return Err(SimError::arg("next-update-hours", "must be at least 1"));
        }
        let ca = self
            .ca(&req.ca)
            .ok_or_else(|| SimError::arg("ca", format!("unknown CA {}", req.ca)))?;
        let spec = ca_spec(&ca.id).ok_or_else(|| SimError::arg("ca", format!("unknown CA {}", ca.id)))?;
        let key = SigningKey::new(load_key(&self.path(&ca.key_path))?)?;
        let key_id = hex::decode(&ca.key_id).map_err(|e| SimError::arg("state key_id", e.to_string()))?;
        let this_update = req.at.replace_nanosecond(0).unwrap_or(req.at);
        let next_update = this_update + time::Duration::hours(i64::from(req.next_update_hours));
        let fr = frame(
            &key,
            &spec.name_der()?,
            &key_id,
            req.crl_number,
            this_update,
            next_update,
            None,
        )?;
        let seed = self.with_state(|s| s.seed.clone());
        let label = format!("synthetic-crl/{}/{}/{}", req.seed, req.ca, req.entries);
        let at_unix = this_update.unix_timestamp();

        // Pass 1: exact length of revokedCertificates.
        let mut g = Generator::new(&seed, &label, req.entries, at_unix, req.wide_fraction)?;
        let mut list_len = 0usize;
        for _ in 0..req.entries {
            let e = g.next();
            list_len += entry_len(g.serial(&e), e.unix, e.reason);
        }
        let list_tlv = if req.entries == 0 {
            0
        } else {
            asn1::tlv_len(list_len)
        };
        let tbs_len = fr.head.len() + list_tlv + fr.tail.len();
        let predicted_sig = match key.algorithm() {
            crate::keys::KeyAlgorithm::Rsa2048 => 256,
            crate::keys::KeyAlgorithm::EcdsaP384 => 104,
        };
        let outer = |sig_len: usize| {
            let mut h = Vec::new();
            let total = asn1::tlv_len(tbs_len) + fr.alg.len() + asn1::tlv_len(sig_len + 1);
            asn1::push_header(&mut h, asn1::tag::SEQUENCE, total);
            h
        };
        let reserved = outer(predicted_sig);

        let parent = req
            .out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = req
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "crl".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| -> Result<SyntheticCrlSummary> {
            let file = File::create(&tmp).map_err(SimError::io("create", &tmp))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let mut hasher = Hasher::new(key.cert_digest()).map_err(SimError::ssl("hasher"))?;
            let mut head = Vec::new();
            asn1::push_header(&mut head, asn1::tag::SEQUENCE, tbs_len);
            head.extend_from_slice(&fr.head);
            if req.entries > 0 {
                asn1::push_header(&mut head, asn1::tag::SEQUENCE, list_len);
            }
            w.write_all(&reserved).map_err(SimError::io("write", &tmp))?;
            w.write_all(&head).map_err(SimError::io("write", &tmp))?;
            hasher.update(&head).map_err(SimError::ssl("hash"))?;

            let pb = progress_bar(req.entries);
            let mut g = Generator::new(&seed, &label, req.entries, at_unix, req.wide_fraction)?;
            let mut buf = Vec::with_capacity(1 << 16);
            let mut i = 0u64;
            while i < req.entries {
                let e = g.next();
                push_entry(&mut buf, g.serial(&e), e.unix, e.reason);
                i += 1;
                if buf.len() >= (1 << 16) - 64 || i == req.entries {
                    hasher.update(&buf).map_err(SimError::ssl("hash"))?;
                    w.write_all(&buf).map_err(SimError::io("write", &tmp))?;
                    buf.clear();
                    if i % 65_536 < 2048 || i == req.entries {
                        pb.set_position(i);
                    }
                }
            }
            pb.finish_and_clear();
            w.write_all(&fr.tail).map_err(SimError::io("write", &tmp))?;
            hasher.update(&fr.tail).map_err(SimError::ssl("hash"))?;
            let digest = hasher.finish().map_err(SimError::ssl("hash"))?;
            let sig = key.sign_digest(key.cert_digest(), &digest)?;
            w.write_all(&fr.alg).map_err(SimError::io("write", &tmp))?;
            w.write_all(&asn1::bit_string(&sig))
                .map_err(SimError::io("write", &tmp))?;
            let mut file = w.into_inner().map_err(|e| SimError::Io {
                op: "flush",
                path: tmp.clone(),
                source: e.into_error(),
            })?;
            let actual = outer(sig.len());
            if actual.len() == reserved.len() {
                file.seek(SeekFrom::Start(0))
                    .map_err(SimError::io("seek", &tmp))?;
                file.write_all(&actual).map_err(SimError::io("write", &tmp))?;
            } else {
                // The ECDSA signature's length moved the outer length across a DER length-octet
                // boundary (rare): copy the body behind a header of the right size.
                file = rewrite_header(&tmp, file, &actual, reserved.len())?;
            }
            file.sync_all().map_err(SimError::io("fsync", &tmp))?;
            let bytes = file.metadata().map_err(SimError::io("stat", &tmp))?.len();
            drop(file);
            std::fs::rename(&tmp, &req.out).map_err(SimError::io("rename", &req.out))?;
            Ok(SyntheticCrlSummary {
                file: req.out.clone(),
                ca: req.ca.clone(),
                crl_number: req.crl_number,
                entries: req.entries,
                bytes,
                sha256: hash_file(&req.out)?,
                seconds: started.elapsed().as_secs_f64(),
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Copies `file` (at `path`) without its first `skip` octets behind `header` into a new file that
/// replaces it; returns the new file.
fn rewrite_header(path: &Path, mut file: File, header: &[u8], skip: usize) -> Result<File> {
    let fixed = path.with_extension("fix");
    let mut out = File::create(&fixed).map_err(SimError::io("create", &fixed))?;
    let result = (|| -> Result<()> {
        out.write_all(header).map_err(SimError::io("write", &fixed))?;
        file.seek(SeekFrom::Start(skip as u64))
            .map_err(SimError::io("seek", path))?;
        std::io::copy(&mut file, &mut out).map_err(SimError::io("copy", &fixed))?;
        std::fs::rename(&fixed, path).map_err(SimError::io("rename", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&fixed);
    }
    result.map(|()| out)
}

fn hash_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(SimError::io("open", path))?;
    let mut h = openssl::sha::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).map_err(SimError::io("read", path))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rewrite_keeps_the_body() {
        let dir = std::env::temp_dir().join(format!("jlis-sim-rewrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.crl");
        std::fs::write(&path, b"\x30\x81body").unwrap();
        let f = File::open(&path).unwrap();
        let out = rewrite_header(&path, f, b"\x30\x82\x01", 2).unwrap();
        out.sync_all().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"\x30\x82\x01body");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
