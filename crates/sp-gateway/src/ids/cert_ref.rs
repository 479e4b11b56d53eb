//! Which certificate a verification registered, as the ids and the Redis values name it: the CA
//! key (by a 4-byte tag, [`KeyTags`]), the serial and, when known, the crl-sync id of the CRL
//! partition that covers it ([`CertRef`]), with the text forms the Redis hashes hold.

use std::collections::HashMap;

use jpki::Serial;

/// The longest partition id a [`CertRef`] carries, in bytes of UTF-8. crl-sync allows longer
/// ids (up to 200 characters); a certificate whose partition id is longer is registered without
/// it and is checked against its CA key's stalest partition. Short ids such as
/// `sign-2023/131016` (mapped to with `[index] crl_dp_partitions`) fit.
pub const MAX_PARTITION_LEN: usize = 64;

/// Whether `partition` can be carried by a [`CertRef`] (in an id and in the Redis values): 1 to
/// [`MAX_PARTITION_LEN`] bytes, no `,` (it separates the entries of the `serials` hash) and no
/// control character.
pub fn partition_fits(partition: &str) -> bool {
    (1..=MAX_PARTITION_LEN).contains(&partition.len())
        && !partition.chars().any(|c| c == ',' || c.is_control())
}

/// The certificate a verification registered: which CA key, which serial and, when known, which
/// CRL partition covers it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertRef {
    /// The 4-byte tag of the CA key (see [`KeyTags`]).
    pub tag: [u8; 4],
    /// The serial.
    pub serial: Serial,
    /// The crl-sync id of the certificate's CRL partition (chosen at registration from its
    /// cRLDistributionPoints, see [`crate::index::record_partition`]); `None` when unknown, and
    /// then its checks use the CA key's stalest partition. Only a partition that
    /// [`partition_fits`] is ever sealed or stored; another one is dropped.
    pub partition: Option<String>,
}

impl CertRef {
    /// `tag-hex:serial-hex`: the certificate's identity (the field of the `certuser` hash, also
    /// matched by the webhooks). It never carries the partition.
    pub fn to_key(&self) -> String {
        format!("{}:{}", hex::encode(self.tag), self.serial.to_hex())
    }

    /// The partition, when it fits ([`partition_fits`]).
    pub fn fitting_partition(&self) -> Option<&str> {
        self.partition.as_deref().filter(|p| partition_fits(p))
    }

    /// `tag-hex:serial-hex[:partition]`, the value of the `users` hash: [`CertRef::to_key`] and
    /// the partition when it is known.
    pub fn to_value(&self) -> String {
        match self.fitting_partition() {
            Some(p) => format!("{}:{p}", self.to_key()),
            None => self.to_key(),
        }
    }

    /// Parses [`CertRef::to_value`]; a value without a partition (as written before partitions
    /// were recorded, or [`CertRef::to_key`]) has `partition: None`. `None` when malformed,
    /// including a partition that does not fit.
    pub fn from_value(s: &str) -> Option<CertRef> {
        let (t, rest) = s.split_once(':')?;
        let (serial, partition) = match rest.split_once(':') {
            Some((serial, p)) => (serial, Some(p)),
            None => (rest, None),
        };
        CertRef::parts(t, Serial::from_hex(serial).ok()?, partition)
    }

    /// `tag-hex[:partition]`, one entry of the comma-separated list the `serials` hash keeps per
    /// serial (one entry per CA key the serial was registered under).
    pub fn serials_entry(&self) -> String {
        match self.fitting_partition() {
            Some(p) => format!("{}:{p}", hex::encode(self.tag)),
            None => hex::encode(self.tag),
        }
    }

    /// Parses one entry of the `serials` hash for `serial`; an entry without a partition (as
    /// written before partitions were recorded) has `partition: None`. `None` when malformed.
    pub fn from_serials_entry(entry: &str, serial: Serial) -> Option<CertRef> {
        let (t, partition) = match entry.split_once(':') {
            Some((t, p)) => (t, Some(p)),
            None => (entry, None),
        };
        CertRef::parts(t, serial, partition)
    }

    fn parts(tag_hex: &str, serial: Serial, partition: Option<&str>) -> Option<CertRef> {
        let tag = <[u8; 4]>::try_from(hex::decode(tag_hex).ok()?.as_slice()).ok()?;
        if partition.is_some_and(|p| !partition_fits(p)) {
            return None;
        }
        Some(CertRef {
            tag,
            serial,
            partition: partition.map(str::to_owned),
        })
    }
}

/// The CA keys the gateway can register certificates under, by 4-byte tag (the first bytes of
/// SHA-256 of the key id) and by root fingerprint.
#[derive(Clone, Debug, Default)]
pub struct KeyTags {
    by_tag: HashMap<[u8; 4], Vec<u8>>,
    by_fingerprint: HashMap<String, [u8; 4]>,
}

impl KeyTags {
    /// From the trust store's roots; `Err` names two roots whose tags collide.
    pub fn from_trust(store: &verifier::TrustStore) -> Result<KeyTags, String> {
        let mut t = KeyTags::default();
        for root in store.roots() {
            let tag = tag_of(root.key_id());
            if let Some(other) = t.by_tag.get(&tag)
                && other.as_slice() != root.key_id()
            {
                return Err(format!(
                    "two CA keys share the tag {}: remove one root",
                    hex::encode(tag)
                ));
            }
            t.by_tag.insert(tag, root.key_id().to_vec());
            t.by_fingerprint.insert(hex::encode(root.fingerprint()), tag);
        }
        Ok(t)
    }

    /// The key id of a tag.
    pub fn key_id(&self, tag: &[u8; 4]) -> Option<&[u8]> {
        self.by_tag.get(tag).map(Vec::as_slice)
    }

    /// The tag of a root, by its fingerprint (hex, as in the verifier's report).
    pub fn tag_of_root(&self, fingerprint_hex: &str) -> Option<[u8; 4]> {
        self.by_fingerprint.get(fingerprint_hex).copied()
    }
}

/// The tag of a CA key id.
pub fn tag_of(key_id: &[u8]) -> [u8; 4] {
    let d = verifier::sha256(key_id);
    [d[0], d[1], d[2], d[3]]
}
