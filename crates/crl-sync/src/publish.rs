//! Delta events to a Redis stream, written in one MULTI/EXEC transaction together with a marker
//! key per (CA key, CRL numbers), so a rerun for the same CRLs adds nothing twice and a crash
//! mid-way leaves either all entries or none.
//!
//! The entries are [`revocation::DeltaEvent`]s, encoded by [`revocation::DeltaEvent::to_fields`]:
//! that type is the contract with the stream's readers and documents every field. Two kinds:
//!
//! - `revoked`: one per newly revoked certificate ([`RevokedEvent`], with the CA key and the CRL
//!   numbers of the delta, joined with `+`).
//! - `baseline`: one per partition whose CRL is indexed for the first time (no previous snapshot
//!   of that CA key, or a previous snapshot without that partition) ([`BaselineMarker`]).
//!
//! **The baseline rule.** The entries of a partition's first snapshot are the state of the world,
//! not news: a J-LIS CRL lists every unexpired revoked certificate (about 20 million), and one
//! stream entry each would flood the stream and every consumer. So the first snapshot of a
//! partition publishes one `baseline` marker and no `revoked` event for its entries; every later
//! snapshot publishes the entries added since the previous one, exactly as before. Consumers
//! acknowledge a marker and move on (the gateway's webhook worker counts it). A certificate
//! revoked before its partition's baseline is never announced.
//!
//! No personal data: a serial is all the 4-info relay needs to find the consent.

use std::path::Path;

use jpki::{Reason, Serial};
use redis::AsyncCommands;
use revocation::{DeltaEvent, PartitionBaseline, RevokedCertificate};

/// One newly revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEvent {
    /// Its serial.
    pub serial: Serial,
    /// Revocation time, unix seconds.
    pub revoked_at: i64,
    /// The CRL entry's reasonCode, if it had one.
    pub reason: Option<Reason>,
    /// The partition id whose CRL listed it.
    pub partition: String,
}

/// A partition indexed for the first time: its entries are a baseline, not news.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineMarker {
    /// The partition id.
    pub partition: String,
    /// Its CRL number, hex (upper case, as the summary prints it); empty when the CRL has none.
    pub crl_number_hex: String,
    /// Entries its CRL listed.
    pub entries: u64,
    /// Its CRL's thisUpdate, unix seconds.
    pub this_update: i64,
}

/// What one snapshot publishes: baseline markers for its new partitions, events for the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Publication {
    /// One per partition the previous snapshot did not have.
    pub baselines: Vec<BaselineMarker>,
    /// One per newly revoked certificate of a partition the previous snapshot had.
    pub events: Vec<RevokedEvent>,
}

impl Publication {
    /// Stream entries it appends.
    pub fn len(&self) -> usize {
        self.baselines.len() + self.events.len()
    }

    /// Whether it appends nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The partitions of the new snapshot that the old one did not have.
pub fn new_partitions(delta: &revocation::Delta) -> Vec<&str> {
    delta
        .new_partitions
        .iter()
        .filter(|p| !delta.old_partitions.contains(p))
        .map(String::as_str)
        .collect()
}

/// The events of a delta: one per newly revoked certificate of a partition the previous snapshot
/// had. Entries of a partition new to the snapshot are its baseline and make no event.
pub fn events_of(delta: &revocation::Delta) -> Vec<RevokedEvent> {
    let old: Vec<bool> = delta
        .new_partitions
        .iter()
        .map(|p| delta.old_partitions.contains(p))
        .collect();
    delta
        .added
        .iter()
        .filter(|e| old.get(usize::from(e.partition)).copied().unwrap_or(false))
        .map(|e| RevokedEvent {
            serial: e.serial,
            revoked_at: e.revoked_at,
            reason: e.reason,
            partition: delta.partition_name(e.partition).unwrap_or_default(),
        })
        .collect()
}

/// The baseline markers of the partitions of `snapshot` that `is_new` selects.
pub fn baseline_markers(
    snapshot: &revocation::Snapshot,
    is_new: impl Fn(&str) -> bool,
) -> Vec<BaselineMarker> {
    snapshot
        .partitions()
        .iter()
        .filter(|p| is_new(&p.id))
        .map(|p| BaselineMarker {
            partition: p.id.clone(),
            crl_number_hex: crl_number_hex(&p.crl_number),
            entries: p.entries,
            this_update: p.this_update,
        })
        .collect()
}

/// A CRL number as `CrlHeader::crl_number_hex` prints it: upper-case hex of the magnitude.
fn crl_number_hex(n: &[u8]) -> String {
    let magnitude = match n {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => n,
    };
    magnitude.iter().map(|b| format!("{b:02X}")).collect()
}

/// What the snapshot file `new` publishes, given its `delta` from the previous snapshot (`None`
/// when it is the CA key's first snapshot, or when the delta was not collected because it was).
/// The snapshot file is opened only when some partition is new.
pub fn publication(delta: Option<&revocation::Delta>, new: &Path) -> Result<Publication, PublishError> {
    let open = || revocation::Snapshot::open(new).map_err(|e| PublishError::Snapshot(e.to_string()));
    match delta {
        None => Ok(Publication {
            baselines: baseline_markers(&open()?, |_| true),
            events: Vec::new(),
        }),
        Some(d) => {
            let fresh = new_partitions(d);
            let baselines = if fresh.is_empty() {
                Vec::new()
            } else {
                baseline_markers(&open()?, |p| fresh.contains(&p))
            };
            Ok(Publication {
                baselines,
                events: events_of(d),
            })
        }
    }
}

/// What a publish did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// The entries were appended.
    Appended {
        /// `revoked` events.
        events: usize,
        /// `baseline` markers.
        baselines: usize,
    },
    /// This (CA key, CRL numbers) was published before; nothing was added.
    AlreadyPublished,
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// Redis was unreachable or refused the transaction.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The new snapshot, whose partitions the baseline markers describe, could not be read.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// An event is out of the stream format's bounds (a key id or partition id too long, a CRL
    /// number that is not hex): its readers would reject it, so nothing is appended.
    #[error("event: {0}")]
    Event(#[from] revocation::EventError),
}

impl PublishError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            PublishError::Redis(_) => "DELTA_PUBLISH_REDIS",
            PublishError::Snapshot(_) => "DELTA_PUBLISH_SNAPSHOT",
            PublishError::Event(_) => "DELTA_PUBLISH_EVENT",
        }
    }
}

/// Appends `events` for the CRL `crl_number_hex` of CA key `issuer_key_id_hex` to `stream`,
/// once (no baseline markers; see [`publish`]).
pub async fn publish_delta(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    issuer_key_id_hex: &str,
    crl_number_hex: &str,
    events: &[RevokedEvent],
) -> Result<Published, PublishError> {
    append_once(conn, stream, issuer_key_id_hex, crl_number_hex, &[], events).await
}

/// Appends a snapshot's [`Publication`] for the CRLs `crl_numbers` of CA key
/// `issuer_key_id_hex` to `stream`, once: markers first, then events, in one transaction.
pub async fn publish(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    issuer_key_id_hex: &str,
    crl_numbers: &str,
    publication: &Publication,
) -> Result<Published, PublishError> {
    append_once(
        conn,
        stream,
        issuer_key_id_hex,
        crl_numbers,
        &publication.baselines,
        &publication.events,
    )
    .await
}

/// The stream entries of a publication, markers first, each checked against the bounds its
/// readers enforce.
fn stream_entries(
    issuer_key_id_hex: &str,
    crl_number_hex: &str,
    baselines: &[BaselineMarker],
    events: &[RevokedEvent],
) -> Result<Vec<DeltaEvent>, PublishError> {
    let issuer_key_id = hex::decode(issuer_key_id_hex).map_err(|_| revocation::EventError::BadHex {
        field: "issuer_key_id",
    })?;
    let baselines = baselines.iter().map(|b| {
        DeltaEvent::Baseline(PartitionBaseline {
            issuer_key_id: issuer_key_id.clone(),
            partition: b.partition.clone(),
            crl_number: b.crl_number_hex.clone(),
            entries: b.entries,
            this_update: b.this_update,
        })
    });
    let events = events.iter().map(|e| {
        DeltaEvent::Revoked(RevokedCertificate {
            issuer_key_id: issuer_key_id.clone(),
            serial: e.serial,
            reason: e.reason,
            revoked_at: e.revoked_at,
            partition: e.partition.clone(),
            crl_number: crl_number_hex.to_owned(),
        })
    });
    baselines
        .chain(events)
        .map(|e| e.validate().map(|()| e).map_err(PublishError::from))
        .collect()
}

async fn append_once(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    issuer_key_id_hex: &str,
    crl_number_hex: &str,
    baselines: &[BaselineMarker],
    events: &[RevokedEvent],
) -> Result<Published, PublishError> {
    let entries = stream_entries(issuer_key_id_hex, crl_number_hex, baselines, events)?;
    let marker = format!("{stream}:published:{issuer_key_id_hex}:{crl_number_hex}");
    // WATCH the marker so that two concurrent runs cannot both publish.
    redis::cmd("WATCH").arg(&marker).exec_async(conn).await?;
    let seen: bool = conn.exists(&marker).await?;
    if seen {
        redis::cmd("UNWATCH").exec_async(conn).await?;
        return Ok(Published::AlreadyPublished);
    }
    let mut pipe = redis::pipe();
    pipe.atomic();
    for e in &entries {
        pipe.xadd(stream, "*", &e.to_fields()).ignore();
    }
    pipe.set(&marker, baselines.len() + events.len()).ignore();
    // EXEC returns nil when the WATCHed marker changed: someone else published first.
    let done: Option<()> = pipe.query_async(conn).await?;
    Ok(match done {
        Some(()) => Published::Appended {
            events: events.len(),
            baselines: baselines.len(),
        },
        None => Published::AlreadyPublished,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn crl_numbers_print_like_the_header() {
        assert_eq!(crl_number_hex(&[0x00, 0x8A]), "8A");
        assert_eq!(crl_number_hex(&[0x05]), "05");
        assert_eq!(crl_number_hex(&[0x00]), "00");
        assert_eq!(crl_number_hex(&[]), "");
    }

    fn snapshot(dir: &Path, partitions: &[(&str, &[u64])]) -> std::path::PathBuf {
        let mut b = revocation::IndexBuilder::new(&[0xAB]).unwrap();
        for (id, serials) in partitions {
            let idx = b
                .add_partition(revocation::PartitionMeta {
                    id: (*id).to_owned(),
                    dp_name: None,
                    crl_number: vec![0x07],
                    this_update: 1_800_000_000,
                    next_update: 1_800_086_400,
                    source_sha256: [0; 32],
                    entries: 0,
                })
                .unwrap();
            for s in *serials {
                b.push(&s.to_be_bytes(), 1_799_000_000, None, idx).unwrap();
            }
        }
        b.write_atomically(dir, 5).unwrap()
    }

    #[test]
    fn new_partitions_are_baselines_and_old_ones_publish_their_additions() {
        let dir = tempfile::tempdir().unwrap();
        let old = snapshot(dir.path(), &[("p1", &[1, 2])]);
        let new = snapshot(dir.path(), &[("p1", &[1, 2, 3]), ("p2", &[10, 11, 12])]);
        let (o, n) = (
            revocation::Snapshot::open(&old).unwrap(),
            revocation::Snapshot::open(&new).unwrap(),
        );
        let d = revocation::delta(&o, &n);
        assert_eq!(d.added.len(), 4);
        let p = publication(Some(&d), &new).unwrap();
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.events[0].partition, "p1");
        assert_eq!(p.events[0].serial.to_hex(), "03");
        assert_eq!(
            p.baselines,
            vec![BaselineMarker {
                partition: "p2".into(),
                crl_number_hex: "07".into(),
                entries: 3,
                this_update: 1_800_000_000,
            }]
        );
        // The first snapshot of a CA key: every partition is a baseline, nothing else.
        let first = publication(None, &old).unwrap();
        assert!(first.events.is_empty());
        assert_eq!(first.baselines.len(), 1);
        assert_eq!(first.baselines[0].entries, 2);
        // The same from an empty delta (collected from nothing).
        let from_empty = publication(Some(&revocation::delta_from_empty(&o)), &old).unwrap();
        assert_eq!(from_empty, first);
    }
}
