//! Revocation snapshots from DER CRLs, for the tests of the snapshot readers (the gateway, the
//! OCSP responder) without depending on crl-sync, the service that writes them in production.
//!
//! The CRLs are trusted: nothing is verified (no signature, no issuer, no times). Each CRL is one
//! partition; CRLs are grouped into one snapshot per CA key by their authorityKeyIdentifier, the
//! key id crl-sync takes from the issuing CA certificate (the same value for a conforming CRL).
//! As crl-sync does, a partition of the previous snapshot that is not among the inputs keeps its
//! CRL (entries, thisUpdate, nextUpdate), and a CA key whose CRLs are all unchanged (same CRL
//! number and SHA-256) gets no new snapshot. The CRLs are parsed with the RustCrypto `x509-cert`
//! crate, an implementation crl-sync does not use, so the tests that run both also hold the two
//! parsers against each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use der::Decode;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason};

const ID_CE_AUTHORITY_KEY_IDENTIFIER: &str = "2.5.29.35";
const ID_CE_CRL_NUMBER: &str = "2.5.29.20";
const ID_CE_CRL_REASONS: &str = "2.5.29.21";

/// One CRL: the partition id it stands for and its DER.
#[derive(Clone, Debug)]
pub struct Crl {
    /// The partition id (crl-sync's `[[partition]] id`).
    pub partition: String,
    /// The DER of the CertificateList.
    pub der: Vec<u8>,
}

/// Builds one snapshot per CA key from `crls` into `out`, keeping `keep` generations per key.
/// Returns the snapshot files written. Panics on a CRL it cannot read: a test fixture is broken.
pub fn build(out: &Path, crls: &[Crl], keep: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(out).unwrap();
    let mut by_key: BTreeMap<Vec<u8>, Vec<(&Crl, CertificateList)>> = BTreeMap::new();
    for crl in crls {
        let list = CertificateList::from_der(&crl.der)
            .unwrap_or_else(|e| panic!("{}: not a CRL: {e}", crl.partition));
        let key_id = extension(
            list.tbs_cert_list.crl_extensions.as_deref(),
            ID_CE_AUTHORITY_KEY_IDENTIFIER,
        )
        .and_then(|v| AuthorityKeyIdentifier::from_der(v).ok())
        .and_then(|aki| aki.key_identifier)
        .unwrap_or_else(|| panic!("{}: the CRL has no authorityKeyIdentifier", crl.partition));
        by_key
            .entry(key_id.as_bytes().to_vec())
            .or_default()
            .push((crl, list));
    }
    let mut written = Vec::new();
    for (key_id, lists) in by_key {
        let prev = revocation::Snapshot::open_latest(out, &key_id).unwrap();
        let metas: Vec<revocation::PartitionMeta> = lists
            .iter()
            .map(|(crl, list)| partition_meta(crl, list))
            .collect();
        let unchanged = prev.as_ref().is_some_and(|p| {
            metas.iter().all(|m| {
                p.partitions().iter().any(|old| {
                    old.id == m.id && old.crl_number == m.crl_number && old.source_sha256 == m.source_sha256
                })
            })
        });
        if unchanged {
            continue;
        }
        let mut b = revocation::IndexBuilder::new(&key_id).unwrap();
        if let Some(prev) = &prev {
            let mut remap = BTreeMap::new();
            for (i, meta) in prev.partitions().iter().enumerate() {
                if !metas.iter().any(|m| m.id == meta.id) {
                    remap.insert(i, b.add_partition(meta.clone()).unwrap());
                }
            }
            for e in prev.entries() {
                if let Some(&to) = remap.get(&usize::from(e.partition)) {
                    b.push_entry(&e, to).unwrap();
                }
            }
        }
        for ((_, list), meta) in lists.iter().zip(metas) {
            let idx = b.add_partition(meta).unwrap();
            for entry in list.tbs_cert_list.revoked_certificates.iter().flatten() {
                let reason = extension(entry.crl_entry_extensions.as_deref(), ID_CE_CRL_REASONS)
                    .map(|v| CrlReason::from_der(v).unwrap() as u8);
                let at = unix(&entry.revocation_date);
                b.push(entry.serial_number.as_bytes(), at, reason, idx).unwrap();
            }
        }
        written.push(b.write_atomically(out, keep).unwrap());
    }
    written
}

/// A partition's metadata from its CRL.
fn partition_meta(crl: &Crl, list: &CertificateList) -> revocation::PartitionMeta {
    let tbs = &list.tbs_cert_list;
    let crl_number = extension(tbs.crl_extensions.as_deref(), ID_CE_CRL_NUMBER)
        .map(|v| {
            let n = CrlNumber::from_der(v).unwrap();
            let magnitude = n.0.as_bytes();
            // The INTEGER's content octets, as crl-sync keeps them: a leading zero when the
            // magnitude's top bit is set.
            match magnitude.first() {
                Some(b) if b & 0x80 != 0 => [&[0u8][..], magnitude].concat(),
                _ => magnitude.to_vec(),
            }
        })
        .unwrap_or_default();
    revocation::PartitionMeta {
        id: crl.partition.clone(),
        // The name the CRL gives itself, which its certificates give in cRLDistributionPoints.
        dp_name: extension(tbs.crl_extensions.as_deref(), "2.5.29.28")
            .and_then(|v| jpki::dp_name::idp_names(v).into_iter().next()),
        crl_number,
        this_update: unix(&tbs.this_update),
        next_update: tbs.next_update.as_ref().map_or(i64::MAX, unix),
        source_sha256: ::openssl::sha::sha256(&crl.der),
        entries: 0,
    }
}

/// The value of the extension `oid` (dotted), if present.
fn extension<'a>(exts: Option<&'a [x509_cert::ext::Extension]>, oid: &str) -> Option<&'a [u8]> {
    exts?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

fn unix(t: &x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap()
}
