//! `init`: create the hierarchies in an empty directory, deterministically from the seed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use crate::ca::{CA_SPECS, create_ca, serial_start};
use crate::error::{Result, SimError};
use crate::store::{STATE_FORMAT, Simulator, State};

/// The default seed.
pub const DEFAULT_SEED: &str = "jpki-pf";

/// One CA in the `init` summary.
#[derive(Clone, Debug, Serialize)]
pub struct InitCa {
    /// CA id.
    pub id: String,
    /// Root certificate PEM.
    pub cert: std::path::PathBuf,
    /// Root key PEM (a test key).
    pub key: std::path::PathBuf,
    /// Delegated OCSP responder certificate PEM.
    pub responder_cert: std::path::PathBuf,
    /// Its key PEM.
    pub responder_key: std::path::PathBuf,
    /// Key algorithm.
    pub algorithm: crate::keys::KeyAlgorithm,
    /// SHA-256 fingerprint of the root, hex.
    pub fingerprint_sha256: String,
    /// Key id (SKI), hex.
    pub key_id: String,
}

/// What `init` made.
#[derive(Clone, Debug, Serialize)]
pub struct InitSummary {
    /// The directory.
    pub dir: std::path::PathBuf,
    /// The seed.
    pub seed: String,
    /// The state file.
    pub state: std::path::PathBuf,
    /// The CAs.
    pub cas: Vec<InitCa>,
}

impl Simulator {
    /// Initialises `dir`. Refuses a non-empty directory unless `force`, in which case the
    /// simulator's own entries (`ca/`, `crl/`, `holders/`, `state.json`) are replaced.
    pub fn init(
        dir: &Path,
        seed: &str,
        now: OffsetDateTime,
        force: bool,
    ) -> Result<(Simulator, InitSummary)> {
        if seed.is_empty() {
            return Err(SimError::arg("seed", "must not be empty"));
        }
        if dir.exists() && !dir.is_dir() {
            return Err(SimError::Directory {
                path: dir.to_owned(),
                detail: "exists and is not a directory".into(),
            });
        }
        let non_empty = dir.exists()
            && std::fs::read_dir(dir)
                .map_err(SimError::io("read directory", dir))?
                .next()
                .is_some();
        if non_empty && !force {
            return Err(SimError::Directory {
                path: dir.to_owned(),
                detail: "not empty; pass --force to re-initialise".into(),
            });
        }
        // Build everything in memory first, so that a failure leaves the directory untouched.
        let mut files = Vec::new();
        let mut cas = Vec::new();
        for spec in &CA_SPECS {
            let created = create_ca(seed, spec, now)?;
            files.extend(created.files);
            cas.push(created.record);
        }
        if non_empty {
            for sub in ["ca", "crl", "holders"] {
                let p = dir.join(sub);
                if p.exists() {
                    std::fs::remove_dir_all(&p).map_err(SimError::io("remove", &p))?;
                }
            }
        }
        let next_serial: BTreeMap<String, u64> = ["sign", "auth", "test-sign", "test-auth"]
            .into_iter()
            .map(|h| (h.to_owned(), serial_start(h)))
            .collect();
        let state = State {
            format: STATE_FORMAT,
            seed: seed.to_owned(),
            initialized_at: now.replace_nanosecond(0).unwrap_or(now),
            cas,
            next_serial,
            next_holder: 1,
            next_consent: 1,
            holders: BTreeMap::new(),
            certificates: BTreeMap::new(),
            crls: BTreeMap::new(),
            consents: BTreeMap::new(),
        };
        let sim = Simulator::create(dir, state, files)?;
        let summary = InitSummary {
            dir: dir.to_owned(),
            seed: seed.to_owned(),
            state: dir.join(crate::store::STATE_FILE),
            cas: sim.with_state(|s| {
                s.cas
                    .iter()
                    .map(|c| InitCa {
                        id: c.id.clone(),
                        cert: dir.join(&c.cert_path),
                        key: dir.join(&c.key_path),
                        responder_cert: dir.join(&c.responder_cert_path),
                        responder_key: dir.join(&c.responder_key_path),
                        algorithm: c.algorithm,
                        fingerprint_sha256: c.fingerprint_sha256.clone(),
                        key_id: c.key_id.clone(),
                    })
                    .collect()
            }),
        };
        Ok((sim, summary))
    }
}
