//! Delta events to a Redis stream: one stream entry per newly revoked certificate, written in one
//! MULTI/EXEC transaction together with a marker key per (CA key, CRL number), so a rerun for the
//! same CRL adds nothing twice and a crash mid-way leaves either all entries or none.
//!
//! Event fields: `event` (`revoked`), `issuer_key_id` (hex), `serial` (hex as OpenSSL prints it),
//! `reason` (RFC 5280 name or empty), `revoked_at` (unix seconds), `partition`, `crl_number` (hex).
//! No personal data: a serial is all the 4-info relay needs to find the consent.

use redis::AsyncCommands;

/// One newly revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEvent {
    /// Serial in hex.
    pub serial_hex: String,
    /// Revocation time, unix seconds.
    pub revoked_at: i64,
    /// RFC 5280 reason name, if the CRL gave one.
    pub reason: Option<&'static str>,
    /// The partition id whose CRL listed it.
    pub partition: String,
}

/// The events of a delta: one per newly revoked certificate.
pub fn events_of(delta: &revocation::Delta) -> Vec<RevokedEvent> {
    delta
        .added
        .iter()
        .map(|e| RevokedEvent {
            serial_hex: e.serial.to_hex(),
            revoked_at: e.revoked_at,
            reason: e.reason.map(|r| r.rfc_name()),
            partition: delta.partition_name(e.partition).unwrap_or_default(),
        })
        .collect()
}

/// What a publish did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// The events were appended.
    Appended(usize),
    /// This (CA key, CRL number) was published before; nothing was added.
    AlreadyPublished,
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// Redis was unreachable or refused the transaction.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Appends `events` for the CRL `crl_number_hex` of CA key `issuer_key_id_hex` to `stream`,
/// once.
pub async fn publish_delta(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    issuer_key_id_hex: &str,
    crl_number_hex: &str,
    events: &[RevokedEvent],
) -> Result<Published, PublishError> {
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
    for e in events {
        let at = e.revoked_at.to_string();
        pipe.xadd(
            stream,
            "*",
            &[
                ("event", "revoked"),
                ("issuer_key_id", issuer_key_id_hex),
                ("serial", e.serial_hex.as_str()),
                ("reason", e.reason.unwrap_or("")),
                ("revoked_at", at.as_str()),
                ("partition", e.partition.as_str()),
                ("crl_number", crl_number_hex),
            ],
        )
        .ignore();
    }
    pipe.set(&marker, events.len()).ignore();
    // EXEC returns nil when the WATCHed marker changed: someone else published first.
    let done: Option<()> = pipe.query_async(conn).await?;
    Ok(match done {
        Some(()) => Published::Appended(events.len()),
        None => Published::AlreadyPublished,
    })
}
