//! The simulator's state on disk and the API a server uses.
//!
//! Everything lives in one directory (layout in the crate docs). `state.json` is the only mutable
//! index: every mutation takes an exclusive lock on `D/.lock` (so a CLI and a server can share a
//! directory), reloads the state, validates, plans the change **without touching disk**, then
//! writes the new files and replaces `state.json` atomically (temporary file, fsync, rename, fsync
//! of the directory). A failed command therefore leaves the directory as it was.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use jpki::{Carrier, CertKind, Reason, Serial};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ca::CaRecord;
use crate::error::{Result, SimError};
use crate::person::Person;

/// Version of the state-file format.
pub const STATE_FORMAT: u32 = 1;
/// The state file's name inside the directory.
pub const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = ".lock";

/// Revocation status of a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    /// Not revoked.
    Good,
    /// Revoked (never lifted, even for certificateHold).
    Revoked,
}

/// A certificate the simulator issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    /// Serial number (hex in JSON); unique across the simulator's hierarchies.
    pub serial: Serial,
    /// Issuing CA id.
    pub ca: String,
    /// Signing or user authentication.
    pub kind: CertKind,
    /// Card or smartphone.
    pub carrier: Carrier,
    /// Holder id.
    pub holder: String,
    /// Municipality code: the CRL partition.
    pub municipality: String,
    /// notBefore.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// notAfter.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Revocation status.
    pub status: CertStatus,
    /// When it was revoked.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Why.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// The certificate this one replaced (old → new link).
    #[serde(default)]
    pub predecessor: Option<Serial>,
    /// The certificate that replaced this one.
    #[serde(default)]
    pub successor: Option<Serial>,
    /// The other certificate of the pair (sign ↔ auth link).
    #[serde(default)]
    pub linked: Option<Serial>,
    /// Certificate PEM, relative to the directory.
    pub cert_path: String,
    /// Private key PEM (a test key), relative.
    pub key_path: String,
}

/// A card (or smartphone) holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `H000001`, …
    pub id: String,
    /// Generation of the CAs that issue for this holder (`2019`, `2023`, `2026`, `test`).
    pub generation: String,
    /// Card or smartphone.
    pub carrier: Carrier,
    /// Test hierarchy.
    pub test: bool,
    /// Current personal data (the latest 4 info).
    pub person: Person,
    /// Current signing certificate.
    pub sign_serial: Serial,
    /// Current user-authentication certificate.
    pub auth_serial: Serial,
    /// All signing certificates, oldest first.
    pub sign_history: Vec<Serial>,
    /// Number of signing keys drawn so far (labels the next key).
    pub sign_keys: u32,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A 4-info provision consent (最新の利用者情報提供の同意).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// `C000001`, …
    pub id: String,
    /// The service provider it was given to.
    pub sp_id: String,
    /// The holder.
    pub holder: String,
    /// The signing certificate the consent was signed with.
    pub sign_serial: Serial,
    /// When it was given.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Valid for ten years.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was withdrawn, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub withdrawn_at: Option<OffsetDateTime>,
}

impl Consent {
    /// Whether the consent is in force at `at`.
    pub fn is_active(&self, at: OffsetDateTime) -> bool {
        self.withdrawn_at.is_none_or(|w| w > at) && self.created_at <= at && at < self.expires_at
    }
}

/// The last CRL published for a partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlRecord {
    /// CA id.
    pub ca: String,
    /// Municipality code.
    pub municipality: String,
    /// DER file, relative to the directory.
    pub path: String,
    /// cRLNumber.
    pub number: u64,
    /// thisUpdate.
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
    /// Number of entries.
    pub entries: usize,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
}

/// The whole state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version ([`STATE_FORMAT`]).
    pub format: u32,
    /// The seed every key and drawn value derives from.
    pub seed: String,
    /// When `init` ran (or the `--at` it was given).
    #[serde(with = "time::serde::rfc3339")]
    pub initialized_at: OffsetDateTime,
    /// CAs, in creation order.
    pub cas: Vec<CaRecord>,
    /// Next serial per hierarchy.
    pub next_serial: BTreeMap<String, u64>,
    /// Next holder number.
    pub next_holder: u64,
    /// Next consent number.
    pub next_consent: u64,
    /// Holders by id.
    pub holders: BTreeMap<String, Holder>,
    /// Certificates by serial hex.
    pub certificates: BTreeMap<String, CertRecord>,
    /// Last published CRL per partition, keyed `"<ca>/<municipality>"`.
    pub crls: BTreeMap<String, CrlRecord>,
    /// Consents by id.
    pub consents: BTreeMap<String, Consent>,
}

impl State {
    /// A CA by id.
    pub fn ca(&self, id: &str) -> Option<&CaRecord> {
        self.cas.iter().find(|c| c.id == id)
    }

    /// A certificate by serial.
    pub fn cert(&self, serial: &Serial) -> Option<&CertRecord> {
        self.certificates.get(&serial.to_hex())
    }

    pub(crate) fn cert_mut(&mut self, serial: &Serial) -> Result<&mut CertRecord> {
        self.certificates
            .get_mut(&serial.to_hex())
            .ok_or_else(|| SimError::NotFound {
                what: "certificate",
                id: serial.to_hex(),
            })
    }

    /// The last CRL number of a partition (0 before the first).
    pub fn crl_number(&self, ca: &str, municipality: &str) -> u64 {
        self.crls
            .get(&partition_key(ca, municipality))
            .map_or(0, |c| c.number)
    }
}

/// The key of a partition in [`State::crls`].
pub fn partition_key(ca: &str, municipality: &str) -> String {
    format!("{ca}/{municipality}")
}

/// How a server names the issuer of a certificate it asks about.
#[derive(Clone, Copy, Debug)]
pub enum IssuerRef<'a> {
    /// A CA id such as `sign-2023`.
    CaId(&'a str),
    /// The SHA-1 of the issuer's public key bits (OCSP issuerKeyHash, also its SKI).
    KeyHash(&'a [u8]),
}

/// A CRL partition and its current file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionInfo {
    /// CA id.
    pub ca: String,
    /// Municipality code.
    pub municipality: String,
    /// The last published CRL, if any.
    pub crl: Option<CrlRecord>,
    /// Absolute path of the CRL file, if published.
    pub crl_file: Option<PathBuf>,
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync dir.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(SimError::io("create directory", parent))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(SimError::io("create", &tmp))?;
    f.write_all(bytes).map_err(SimError::io("write", &tmp))?;
    f.sync_all().map_err(SimError::io("fsync", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(SimError::io("rename", path))?;
    sync_dir(parent)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SimError::io("fsync directory", dir))
}

/// Files planned by a mutation, relative to the directory.
pub(crate) type Files = Vec<(String, Vec<u8>)>;

/// A J-LIS simulator directory, opened.
///
/// Read-only queries answer from the state loaded last ([`Simulator::reload`] refreshes it).
/// Mutations lock the directory, reload, apply, and persist atomically; they are safe to call
/// from several threads (the type is `Sync`) and alongside the CLI.
#[derive(Debug)]
pub struct Simulator {
    dir: PathBuf,
    state: RwLock<State>,
}

fn read_state(dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let bytes = fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SimError::Directory {
                path: dir.to_owned(),
                detail: "no state.json: run `jlis-sim init` first".into(),
            }
        } else {
            SimError::Io {
                op: "read",
                path: path.clone(),
                source: e,
            }
        }
    })?;
    let st: State = serde_json::from_slice(&bytes).map_err(|e| SimError::State {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if st.format != STATE_FORMAT {
        return Err(SimError::State {
            path,
            detail: format!("format {} (expected {STATE_FORMAT})", st.format),
        });
    }
    Ok(st)
}

struct DirLock(File);

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(SimError::io("open lock", &path))?;
        f.lock().map_err(SimError::io("lock", &path))?;
        Ok(DirLock(f))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Simulator {
    /// Opens an initialised directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Simulator> {
        let dir = dir.as_ref().to_owned();
        let state = read_state(&dir)?;
        Ok(Simulator {
            dir,
            state: RwLock::new(state),
        })
    }

    /// Creates the state in `dir` (used by `init`, which has checked the directory).
    pub(crate) fn create(dir: &Path, state: State, files: Files) -> Result<Simulator> {
        fs::create_dir_all(dir).map_err(SimError::io("create directory", dir))?;
        let _lock = DirLock::acquire(dir)?;
        for (rel, bytes) in &files {
            write_atomic(&dir.join(rel), bytes)?;
        }
        persist(dir, &state)?;
        Ok(Simulator {
            dir: dir.to_owned(),
            state: RwLock::new(state),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An absolute path for a path relative to the directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Re-reads `state.json` (after another process changed it).
    pub fn reload(&self) -> Result<()> {
        let st = read_state(&self.dir)?;
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = st;
        Ok(())
    }

    /// Runs `f` on the current state.
    pub fn with_state<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> State {
        self.with_state(State::clone)
    }

    /// A CA by id.
    pub fn ca(&self, id: &str) -> Option<CaRecord> {
        self.with_state(|s| s.ca(id).cloned())
    }

    /// A CA by its key hash (SKI / OCSP issuerKeyHash).
    pub fn ca_by_key_hash(&self, key_hash: &[u8]) -> Option<CaRecord> {
        let h = hex::encode(key_hash);
        self.with_state(|s| s.cas.iter().find(|c| c.key_id == h).cloned())
    }

    /// Every CA whose subject name has this SHA-1 hash (OCSP issuerNameHash). All generations of a
    /// hierarchy share one DN, so this is several CAs: match the key hash too.
    pub fn cas_by_name_hash(&self, name_hash: &[u8]) -> Vec<CaRecord> {
        let h = hex::encode(name_hash);
        self.with_state(|s| s.cas.iter().filter(|c| c.name_hash == h).cloned().collect())
    }

    /// The CA an OCSP `CertID` names (SHA-1 issuerNameHash and issuerKeyHash); `None` when the
    /// hashes do not belong to one CA of the simulator.
    pub fn ca_by_cert_id(&self, name_hash: &[u8], key_hash: &[u8]) -> Option<CaRecord> {
        self.ca_by_key_hash(key_hash)
            .filter(|c| c.name_hash == hex::encode(name_hash))
    }

    /// The CA that issued a certificate, for a serial the simulator knows.
    pub fn issuer_of(&self, serial: &Serial) -> Option<CaRecord> {
        let ca = self.with_state(|s| s.cert(serial).map(|c| c.ca.clone()))?;
        self.ca(&ca)
    }

    /// A certificate by issuer and serial; `None` when that issuer did not issue that serial.
    pub fn certificate(&self, issuer: IssuerRef<'_>, serial: &Serial) -> Option<CertRecord> {
        let ca = match issuer {
            IssuerRef::CaId(id) => self.ca(id)?,
            IssuerRef::KeyHash(h) => self.ca_by_key_hash(h)?,
        };
        self.with_state(|s| s.cert(serial).filter(|c| c.ca == ca.id).cloned())
    }

    /// A certificate by serial alone (serials are unique in the simulator).
    pub fn certificate_by_serial(&self, serial: &Serial) -> Option<CertRecord> {
        self.with_state(|s| s.cert(serial).cloned())
    }

    /// The DER of an issued certificate.
    pub fn certificate_der(&self, serial: &Serial) -> Result<Vec<u8>> {
        let rec = self
            .certificate_by_serial(serial)
            .ok_or_else(|| SimError::NotFound {
                what: "certificate",
                id: serial.to_hex(),
            })?;
        let path = self.path(&rec.cert_path);
        crate::profile::cert_pem_to_der(&fs::read(&path).map_err(SimError::io("read", &path))?)
    }

    /// A holder by id.
    pub fn holder(&self, id: &str) -> Option<Holder> {
        self.with_state(|s| s.holders.get(id).cloned())
    }

    /// The newest signing certificate reached from `serial` by following old → new links.
    pub fn latest_signing_cert(&self, serial: &Serial) -> Option<CertRecord> {
        self.with_state(|s| {
            let mut cur = s.cert(serial)?;
            if cur.kind != CertKind::Signing {
                cur = s.cert(&cur.linked?)?;
            }
            for _ in 0..=s.certificates.len() {
                match cur.successor.and_then(|n| s.cert(&n)) {
                    Some(next) => cur = next,
                    None => break,
                }
            }
            Some(cur.clone())
        })
    }

    /// Every (CA, municipality) partition with its current CRL.
    pub fn partitions(&self) -> Vec<PartitionInfo> {
        self.with_state(|s| {
            let mut out = Vec::new();
            for ca in &s.cas {
                for m in crate::person::MUNICIPALITIES {
                    let crl = s.crls.get(&partition_key(&ca.id, m.code)).cloned();
                    out.push(PartitionInfo {
                        ca: ca.id.clone(),
                        municipality: m.code.to_owned(),
                        crl_file: crl.as_ref().map(|c| self.dir.join(&c.path)),
                        crl,
                    });
                }
            }
            out
        })
    }

    /// A CA's root certificate.
    pub fn ca_certificate(&self, ca_id: &str) -> Result<X509> {
        let ca = self.ca(ca_id).ok_or_else(|| SimError::NotFound {
            what: "CA",
            id: ca_id.into(),
        })?;
        load_cert(&self.path(&ca.cert_path))
    }

    /// A CA's delegated OCSP responder certificate and key (test keys).
    pub fn responder(&self, ca_id: &str) -> Result<(X509, PKey<Private>)> {
        let ca = self.ca(ca_id).ok_or_else(|| SimError::NotFound {
            what: "CA",
            id: ca_id.into(),
        })?;
        let cert = load_cert(&self.path(&ca.responder_cert_path))?;
        let key = load_key(&self.path(&ca.responder_key_path))?;
        Ok((cert, key))
    }

    /// A consent by id.
    pub fn consent(&self, id: &str) -> Option<Consent> {
        self.with_state(|s| s.consents.get(id).cloned())
    }

    /// The consents of a holder, oldest first.
    pub fn consents_of(&self, holder: &str) -> Vec<Consent> {
        self.with_state(|s| {
            s.consents
                .values()
                .filter(|c| c.holder == holder)
                .cloned()
                .collect()
        })
    }

    /// The current CRL file of a partition, if one was published.
    pub fn crl_of(&self, ca_id: &str, municipality: &str) -> Option<(CrlRecord, PathBuf)> {
        self.with_state(|s| {
            s.crls
                .get(&partition_key(ca_id, municipality))
                .map(|c| (c.clone(), self.dir.join(&c.path)))
        })
    }

    /// Locks the directory, reloads the state, lets `plan` change a copy and name the files to
    /// write (without touching disk), then writes them and the state atomically.
    pub(crate) fn mutate<T>(&self, plan: impl FnOnce(&mut State) -> Result<(T, Files)>) -> Result<T> {
        let _lock = DirLock::acquire(&self.dir)?;
        let mut st = read_state(&self.dir)?;
        let (out, files) = plan(&mut st)?;
        for (rel, bytes) in &files {
            write_atomic(&self.dir.join(rel), bytes)?;
        }
        persist(&self.dir, &st)?;
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = st;
        Ok(out)
    }
}

fn persist(dir: &Path, st: &State) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(st).map_err(|e| SimError::Encoding {
        what: "state",
        detail: e.to_string(),
    })?;
    json.push(b'\n');
    write_atomic(&dir.join(STATE_FILE), &json)
}

pub(crate) fn load_cert(path: &Path) -> Result<X509> {
    X509::from_pem(&fs::read(path).map_err(SimError::io("read", path))?)
        .map_err(SimError::ssl("read certificate"))
}

pub(crate) fn load_key(path: &Path) -> Result<PKey<Private>> {
    PKey::private_key_from_pem(&fs::read(path).map_err(SimError::io("read", path))?)
        .map_err(SimError::ssl("read key"))
}
