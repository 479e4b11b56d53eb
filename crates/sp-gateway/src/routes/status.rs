//! `POST /v1/certificate-status` (one to 100,000 certificates) and
//! `GET /v1/verifications/{id}/status` (one, 404 when not found).
//!
//! An SP sees only certificates it registered: a verification id opens only under the SP that
//! received it (no Redis needed, so checks by id keep working when Redis is down); user ids and
//! serials are looked up in the SP's own Redis hashes. Everything else is `not_found`, so the CRL
//! cannot be read through the gateway. Answers follow [`crate::index`]: a certificate whose CRL
//! partition was recorded at registration (in the id, and in the Redis values) is answered from
//! that partition, otherwise from its CA key's stalest one; past nextUpdate + grace the status is
//! `unknown` with `TRY_LATER`, never `good`. Each item is a metered liveness check.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use jpki::{CertStatus, Freshness, Serial};
use pf_server::registry::Purpose;
use revocation::{Policy, SnapshotSet};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::body::read_json;
use crate::error::ApiError;
use crate::ids::CertRef;
use crate::index::RevocationView;
use crate::state::Shared;
use pf_server::clock::{now_unix, rfc3339};

/// The request: any mix of the three lists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Verification (or login) ids.
    #[serde(default)]
    pub ids: Vec<String>,
    /// User ids: their latest signing certificate (else authentication certificate).
    #[serde(default)]
    pub user_ids: Vec<String>,
    /// Certificate serials, hex.
    #[serde(default)]
    pub serials: Vec<String>,
}

#[derive(Clone, Copy)]
enum Query {
    Id,
    User,
    Serial,
}

#[derive(Serialize)]
struct Item<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    serial: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    check_method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_updated_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_next_update: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_basis: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<&'static str>,
}

/// Counts per answer, for the audit line and metrics.
#[derive(Debug, Default, Serialize)]
struct Tally {
    good: u64,
    revoked: u64,
    unknown: u64,
    not_found: u64,
}

/// The status of a registered certificate, from its own CRL partition when it is recorded (else
/// the CA key's stalest); `None` when the CA key is no longer configured.
fn lookup(gw: &Shared, set: Option<&SnapshotSet>, c: &CertRef, now: i64) -> Option<CertStatus> {
    let key_id = gw.tags.key_id(&c.tag)?;
    let policy = Policy::with_grace(gw.index.grace());
    Some(revocation::status(
        set,
        key_id,
        &c.serial,
        now,
        c.partition.as_slice(),
        policy,
    ))
}

/// Resolves user ids and serials to registered certificates (Redis), in request order.
async fn resolve(gw: &Shared, sp: &str, r: &StatusRequest) -> Result<Vec<Option<CertRef>>, ApiError> {
    let mut out = Vec::with_capacity(r.user_ids.len() + r.serials.len());
    if !r.user_ids.is_empty() {
        let sign: Vec<String> = r.user_ids.iter().map(|u| format!("{u}:sign")).collect();
        let auth: Vec<String> = r.user_ids.iter().map(|u| format!("{u}:auth")).collect();
        let s = gw.store.hmget(sp, "users", &sign).await?;
        let a = if s.iter().any(Option::is_none) {
            gw.store.hmget(sp, "users", &auth).await?
        } else {
            Vec::new()
        };
        for (i, v) in s.into_iter().enumerate() {
            let v = v.or_else(|| a.get(i).cloned().flatten());
            out.push(v.as_deref().and_then(CertRef::from_value));
        }
    }
    if !r.serials.is_empty() {
        let mut serials = Vec::with_capacity(r.serials.len());
        for (i, s) in r.serials.iter().enumerate() {
            let serial = Serial::from_hex(s.trim())
                .map_err(|_| ApiError::InvalidRequest(format!("serials[{i}] is not a hex serial number")))?;
            serials.push(serial);
        }
        let hexes: Vec<String> = serials.iter().map(Serial::to_hex).collect();
        let entries = gw.store.hmget(sp, "serials", &hexes).await?;
        for (serial, e) in serials.into_iter().zip(entries) {
            // The first CA key this SP registered the serial under (`tag[:partition]`).
            let first = e.as_deref().and_then(|e| e.split(',').next());
            out.push(first.and_then(|e| CertRef::from_serials_entry(e, serial)));
        }
    }
    Ok(out)
}

/// A query, its text, and the registered certificate's serial and status.
type Resolved<'a> = (Query, &'a str, Option<(Serial, CertStatus)>);

#[derive(Serialize)]
struct Answer<'a> {
    checked_at: String,
    count: usize,
    results: Vec<Item<'a>>,
}

fn answer(
    gw: &Shared,
    sp: &str,
    r: &StatusRequest,
    resolved: &[Option<CertRef>],
) -> Result<(Vec<u8>, Tally), serde_json::Error> {
    let now = now_unix();
    let set = gw.index.load();
    let set = set.as_deref();
    let queries = r
        .ids
        .iter()
        .map(|q| (Query::Id, q.as_str()))
        .chain(r.user_ids.iter().map(|q| (Query::User, q.as_str())))
        .chain(r.serials.iter().map(|q| (Query::Serial, q.as_str())));
    let mut statuses: Vec<Resolved<'_>> = Vec::with_capacity(resolved.len() + r.ids.len());
    let mut resolved = resolved.iter();
    for (kind, q) in queries {
        let cert = match kind {
            Query::Id => gw.ids.open(sp, q).and_then(|v| v.cert),
            Query::User | Query::Serial => resolved.next().cloned().flatten(),
        };
        let st = cert.and_then(|c| lookup(gw, set, &c, now).map(|s| (c.serial, s)));
        statuses.push((kind, q, st));
    }
    // CRL times repeat: format each once.
    let mut times: HashMap<i64, String> = HashMap::new();
    for (_, _, st) in &statuses {
        if let Some(f) = st.as_ref().and_then(|(_, s)| s.freshness()) {
            times
                .entry(f.this_update)
                .or_insert_with(|| rfc3339(f.this_update));
            times
                .entry(f.next_update)
                .or_insert_with(|| rfc3339(f.next_update));
        }
    }
    let mut tally = Tally::default();
    let time = |f: Option<&Freshness>, pick: fn(&Freshness) -> i64| {
        f.and_then(|f| times.get(&pick(f)).map(String::as_str))
    };
    let items: Vec<Item<'_>> = statuses
        .iter()
        .map(|(kind, q, st)| {
            let mut item = Item {
                id: matches!(kind, Query::Id).then_some(*q),
                user_id: matches!(kind, Query::User).then_some(*q),
                serial: matches!(kind, Query::Serial).then(|| q.to_string()),
                status: "not_found",
                check_method: None,
                source_updated_at: None,
                source_next_update: None,
                source_basis: None,
                revoked_at: None,
                reason: None,
                reason_code: None,
            };
            let Some((serial, s)) = st else {
                tally.not_found += 1;
                return item;
            };
            let f = s.freshness();
            item.serial = Some(serial.to_hex());
            item.status = s.label();
            item.check_method = Some("crl");
            item.source_updated_at = time(f, |f| f.this_update);
            item.source_next_update = time(f, |f| f.next_update);
            item.source_basis = f.map(|f| f.basis.as_str());
            match s {
                CertStatus::Good(_) => tally.good += 1,
                CertStatus::Revoked {
                    revoked_at, reason, ..
                } => {
                    tally.revoked += 1;
                    item.revoked_at = Some(rfc3339(*revoked_at));
                    item.reason = reason.map(jpki::Reason::rfc_name);
                }
                CertStatus::Unknown { .. } => {
                    tally.unknown += 1;
                    item.reason_code = Some("TRY_LATER");
                }
            }
            item
        })
        .collect();
    let body = serde_json::to_vec(&Answer {
        checked_at: rfc3339(now),
        count: items.len(),
        results: items,
    })?;
    Ok((body, tally))
}

fn meter(gw: &Shared, sp: &str, t: &Tally) {
    for (status, n) in [("good", t.good), ("revoked", t.revoked), ("unknown", t.unknown)] {
        if n > 0 {
            gw.metrics
                .checks
                .with_label_values(&[sp, "liveness_check", "crl", status])
                .inc_by(n);
        }
    }
}

/// `POST /v1/certificate-status`.
pub async fn bulk(
    gw: web::Data<Shared>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::Status)?;
    let body: StatusRequest = read_json(&req, payload, gw.config.limits.max_bulk_json_bytes).await?;
    let n = body.ids.len() + body.user_ids.len() + body.serials.len();
    if n == 0 {
        return Err(ApiError::InvalidRequest(
            "give at least one of ids, user_ids, serials".into(),
        ));
    }
    let max = gw.config.limits.max_bulk_items;
    if n > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "{n} items: at most {max} per request"
        )));
    }
    gw.limit(sp, n as u64).await?;
    let resolved = resolve(&gw, &sp.id, &body).await?;
    let sp_id = sp.id.clone();
    let gw2 = gw.get_ref().clone();
    let (out, tally) = if n > 2000 {
        web::block(move || answer(&gw2, &sp_id, &body, &resolved))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    } else {
        answer(&gw2, &sp_id, &body, &resolved)
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    meter(&gw, &sp.id, &tally);
    gw.audit.record(
        "status_check",
        Some(&sp.id),
        json!({"purpose": "liveness_check", "check_method": "crl", "items": n, "result": tally}),
    );
    Ok(HttpResponse::Ok().content_type("application/json").body(out))
}

/// `GET /v1/verifications/{id}/status`: one certificate; 404 unless this SP registered it.
pub async fn single(
    gw: web::Data<Shared>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::Status)?;
    gw.limit(sp, 1).await?;
    let cert = gw.ids.open(&sp.id, &id).and_then(|v| v.cert);
    let set = gw.index.load();
    let st = cert
        .as_ref()
        .and_then(|c| lookup(&gw, set.as_deref(), c, now_unix()));
    let (Some(c), Some(s)) = (cert, st) else {
        gw.audit.record(
            "status_check",
            Some(&sp.id),
            json!({"purpose": "liveness_check", "items": 1, "result": {"not_found": 1}}),
        );
        return Err(ApiError::NotFound);
    };
    let tally = Tally {
        good: u64::from(matches!(s, CertStatus::Good(_))),
        revoked: u64::from(matches!(s, CertStatus::Revoked { .. })),
        unknown: u64::from(matches!(s, CertStatus::Unknown { .. })),
        not_found: 0,
    };
    meter(&gw, &sp.id, &tally);
    gw.audit.record(
        "status_check",
        Some(&sp.id),
        json!({"purpose": "liveness_check", "check_method": "crl", "items": 1, "id": id.as_str(), "result": tally}),
    );
    let mut v =
        serde_json::to_value(RevocationView::of(&s)).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(id.as_str()));
        o.insert("serial".into(), json!(c.serial.to_hex()));
    }
    Ok(HttpResponse::Ok().json(v))
}
