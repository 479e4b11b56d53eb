//! What the index holds: one revoked entry, the answer to a lookup, and per-partition metadata.

use jpki::{Reason, Serial};

/// The reason byte stored for an entry whose CRL entry has no `reasonCode` extension.
pub const NO_REASON: u8 = 0xFF;

/// Largest CRL number the partition table holds (RFC 5280 §5.2.3: at most 20 octets).
pub const MAX_CRL_NUMBER_OCTETS: usize = 20;

/// Longest partition id, in bytes of UTF-8.
pub const MAX_PARTITION_ID_BYTES: usize = 1024;

/// One revoked certificate, as stored in a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The certificate serial number.
    pub serial: Serial,
    /// revocationDate, unix seconds.
    pub revoked_at: i64,
    /// CRLReason, `None` when the CRL entry has no reasonCode.
    pub reason: Option<Reason>,
    /// Index into the snapshot's partition table ([`crate::Snapshot::partitions`]).
    pub partition: u16,
}

/// The answer to a lookup of a serial that is listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Revoked {
    /// revocationDate, unix seconds.
    pub revoked_at: i64,
    /// CRLReason, `None` when the CRL entry has no reasonCode.
    pub reason: Option<Reason>,
    /// Index into the snapshot's partition table: the partition whose CRL listed it, so the answer
    /// can carry that CRL's thisUpdate/nextUpdate.
    pub partition: u16,
}

/// One CRL partition merged into a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PartitionMeta {
    /// Partition id: the CRL distribution point name or URL, as configured.
    pub id: String,
    /// The name the CRL gives itself in its issuingDistributionPoint (a DirName as
    /// [`jpki::dp_name`] writes it, or a URI), which certificates name in their
    /// cRLDistributionPoints: the index finds the partition by it ([`crate::Snapshot::partition_index`]).
    /// `None` for a CRL without one.
    pub dp_name: Option<String>,
    /// cRLNumber, big-endian magnitude (at most 20 octets; empty when the CRL has none).
    pub crl_number: Vec<u8>,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds.
    pub next_update: i64,
    /// SHA-256 of the source CRL (DER), computed by the caller.
    pub source_sha256: [u8; 32],
    /// Entries the CRL listed (counted by the builder as they are pushed; duplicates included).
    pub entries: u64,
}

impl PartitionMeta {
    /// Whether this partition is not stale at `now` (unix seconds): `now` is before nextUpdate
    /// plus `grace` seconds. For staleness metrics and alerts only: answers go through
    /// [`crate::answer`], which also requires `thisUpdate ≤ now`.
    pub fn is_fresh(&self, now: i64, grace: i64) -> bool {
        now < self.next_update.saturating_add(grace.max(0))
    }
}

/// The stored reason byte for a reason.
#[inline]
pub(crate) fn reason_byte(reason: Option<Reason>) -> u8 {
    reason.map_or(NO_REASON, Reason::code)
}

/// The reason nibble of a compact record: the CRLReason code (0 to 10), or
/// [`crate::format::COMPACT_NO_REASON`] for none.
#[inline]
pub(crate) fn reason_nibble(byte: u8) -> u8 {
    if byte == NO_REASON {
        crate::format::COMPACT_NO_REASON
    } else {
        byte & 0xF
    }
}

/// Decodes a compact record's reason nibble; `Err(())` for a nibble that is not a CRLReason.
#[inline]
pub(crate) fn decode_nibble(nibble: u8) -> Result<Option<Reason>, ()> {
    if nibble == crate::format::COMPACT_NO_REASON {
        Ok(None)
    } else {
        decode_reason(nibble)
    }
}

/// Decodes a stored reason byte; `Err(())` for a byte that is neither a CRLReason nor [`NO_REASON`].
#[inline]
pub(crate) fn decode_reason(byte: u8) -> Result<Option<Reason>, ()> {
    // A match rather than `Reason::from_code` (a search): this runs on every lookup hit.
    Ok(Some(match byte {
        NO_REASON => return Ok(None),
        0 => Reason::Unspecified,
        1 => Reason::KeyCompromise,
        2 => Reason::CaCompromise,
        3 => Reason::AffiliationChanged,
        4 => Reason::Superseded,
        5 => Reason::CessationOfOperation,
        6 => Reason::CertificateHold,
        8 => Reason::RemoveFromCrl,
        9 => Reason::PrivilegeWithdrawn,
        10 => Reason::AaCompromise,
        _ => return Err(()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_bytes_round_trip() {
        assert_eq!(decode_reason(reason_byte(None)), Ok(None));
        for r in Reason::ALL {
            assert_eq!(decode_reason(reason_byte(Some(r))), Ok(Some(r)));
        }
        assert!(decode_reason(7).is_err());
        assert!(decode_reason(11).is_err());
        for r in Reason::ALL {
            let b = reason_byte(Some(r));
            assert_eq!(decode_nibble(reason_nibble(b)), Ok(Some(r)));
        }
        assert_eq!(decode_nibble(reason_nibble(NO_REASON)), Ok(None));
        assert!(decode_nibble(7).is_err());
        assert!(decode_nibble(11).is_err());
        for b in 0..=255u8 {
            let expected = if b == NO_REASON {
                Ok(None)
            } else {
                Reason::from_code(b).map(Some).ok_or(())
            };
            assert_eq!(decode_reason(b), expected);
        }
    }

    #[test]
    fn freshness() {
        let m = PartitionMeta {
            id: "p".into(),
            dp_name: None,
            crl_number: vec![1],
            this_update: 100,
            next_update: 200,
            source_sha256: [0; 32],
            entries: 0,
        };
        assert!(m.is_fresh(199, 0));
        assert!(!m.is_fresh(200, 0));
        assert!(m.is_fresh(250, 60));
        assert!(!m.is_fresh(i64::MAX, i64::MAX));
    }
}
