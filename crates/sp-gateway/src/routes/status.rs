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
//!
//! With `"live": true` (`?live=true` for one id) every certificate found is checked at J-LIS's
//! OCSP responder instead ([`crate::live`]; refused with `LIVE_CHECK_NOT_CONFIGURED` when no
//! `[upstream]` is configured), except those the index answers `revoked`; with
//! `[upstream] relay_stale`, items the index answers `unknown` because their partition is stale
//! are checked there without being asked. At most `max_live_items` live checks per request, each
//! metered apart (`method="ocsp"`, and `sp_gateway_live_checks_total`).

use std::collections::{BTreeMap, HashMap};

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
use crate::live::{LiveChecks, LiveSource, is_stale};
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
    /// Check every certificate found at J-LIS's OCSP responder (`[upstream]`).
    #[serde(default)]
    pub live: bool,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    live_error: Option<&'static str>,
}

/// Counts per answer, for the audit line and metrics.
#[derive(Debug, Default, Serialize)]
struct Tally {
    good: u64,
    revoked: u64,
    unknown: u64,
    not_found: u64,
    /// Checks by (method, status), for `sp_gateway_revocation_checks_total`.
    #[serde(skip)]
    checks: BTreeMap<(&'static str, &'static str), u64>,
    /// Live checks by source, for `sp_gateway_live_checks_total` and the audit line.
    #[serde(skip)]
    live: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn count(&mut self, status: &CertStatus, live: Option<LiveSource>) {
        match status {
            CertStatus::Good(_) => self.good += 1,
            CertStatus::Revoked { .. } => self.revoked += 1,
            CertStatus::Unknown { .. } => self.unknown += 1,
        }
        let method = if live.is_some() { "ocsp" } else { "crl" };
        *self.checks.entry((method, status.label())).or_default() += 1;
        if let Some(source) = live {
            *self.live.entry(source.label()).or_default() += 1;
        }
    }

    fn live_checks(&self) -> u64 {
        self.live.values().sum()
    }

    /// `crl`, `ocsp`, or `crl+ocsp` when both answered items of the request.
    fn check_method(&self) -> &'static str {
        let live = self.live_checks();
        let found = self.good + self.revoked + self.unknown;
        match (live, found) {
            (0, _) => "crl",
            (l, f) if l == f => "ocsp",
            _ => "crl+ocsp",
        }
    }

    /// The audit record's fields (no personal data: counts only).
    fn audit(&self, items: usize, live_requested: bool, id: Option<&str>) -> serde_json::Value {
        let mut v = json!({
            "purpose": "liveness_check",
            "check_method": self.check_method(),
            "items": items,
            "result": self,
            "live": live_requested,
            "live_checks": self.live_checks(),
        });
        if let Some(o) = v.as_object_mut() {
            if !self.live.is_empty() {
                o.insert("live_sources".into(), json!(self.live));
            }
            if let Some(id) = id {
                o.insert("id".into(), json!(id));
            }
        }
        v
    }
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

/// One certificate found for a query: its answer and, when it was checked live, where that
/// answer came from.
struct Found {
    cert: CertRef,
    status: CertStatus,
    live: Option<LiveSource>,
}

/// A query (its list and position in the request) and what was found.
struct Row {
    kind: Query,
    at: usize,
    found: Option<Found>,
}

/// Answers every query from the index, in request order (ids, user ids, serials).
fn rows(gw: &Shared, sp: &str, r: &StatusRequest, resolved: &[Option<CertRef>]) -> Vec<Row> {
    let now = now_unix();
    let set = gw.index.load();
    let set = set.as_deref();
    let queries = (0..r.ids.len())
        .map(|i| (Query::Id, i))
        .chain((0..r.user_ids.len()).map(|i| (Query::User, i)))
        .chain((0..r.serials.len()).map(|i| (Query::Serial, i)));
    let mut resolved = resolved.iter();
    queries
        .map(|(kind, at)| {
            let cert = match kind {
                Query::Id => r
                    .ids
                    .get(at)
                    .and_then(|q| gw.ids.open(sp, q))
                    .and_then(|v| v.cert),
                Query::User | Query::Serial => resolved.next().cloned().flatten(),
            };
            let found = cert.and_then(|cert| {
                lookup(gw, set, &cert, now).map(|status| Found {
                    cert,
                    status,
                    live: None,
                })
            });
            Row { kind, at, found }
        })
        .collect()
}

/// Whether `found` is checked at J-LIS's responder: asked for (`live`) unless the index answers
/// revoked (final: J-LIS never un-revokes), or stale with `relay_stale`.
fn wants_live(live: &LiveChecks, requested: bool, found: &Found) -> bool {
    if requested {
        !matches!(found.status, CertStatus::Revoked { .. })
    } else {
        live.relay_stale && is_stale(&found.status)
    }
}

/// Replaces the index's answer of the items that go to J-LIS's responder (at most
/// `max_live_items`) with the live answer.
async fn relay(gw: &Shared, found: Vec<&mut Found>, requested: bool) {
    let Some(live) = gw.live.as_ref() else {
        return;
    };
    let targets: Vec<&mut Found> = found
        .into_iter()
        .filter(|f| wants_live(live, requested, f))
        .take(live.max_items)
        .collect();
    if targets.is_empty() {
        return;
    }
    let certs: Vec<CertRef> = targets.iter().map(|f| f.cert.clone()).collect();
    let answers = live.check_all(&certs).await;
    for (f, a) in targets.into_iter().zip(answers) {
        f.status = a.status;
        f.live = Some(a.source);
    }
}

#[derive(Serialize)]
struct Answer<'a> {
    checked_at: String,
    count: usize,
    results: Vec<Item<'a>>,
}

fn render(r: &StatusRequest, rows: &[Row]) -> Result<(Vec<u8>, Tally), serde_json::Error> {
    let now = now_unix();
    // CRL times repeat: format each once.
    let mut times: HashMap<i64, String> = HashMap::new();
    for f in rows
        .iter()
        .filter_map(|row| row.found.as_ref().and_then(|f| f.status.freshness()))
    {
        times
            .entry(f.this_update)
            .or_insert_with(|| rfc3339(f.this_update));
        times
            .entry(f.next_update)
            .or_insert_with(|| rfc3339(f.next_update));
    }
    let mut tally = Tally::default();
    let time = |f: Option<&Freshness>, pick: fn(&Freshness) -> i64| {
        f.and_then(|f| times.get(&pick(f)).map(String::as_str))
    };
    let items: Vec<Item<'_>> = rows
        .iter()
        .map(|row| {
            let list = match row.kind {
                Query::Id => &r.ids,
                Query::User => &r.user_ids,
                Query::Serial => &r.serials,
            };
            let q = list.get(row.at).map(String::as_str);
            let mut item = Item {
                id: q.filter(|_| matches!(row.kind, Query::Id)),
                user_id: q.filter(|_| matches!(row.kind, Query::User)),
                serial: q.filter(|_| matches!(row.kind, Query::Serial)).map(str::to_owned),
                status: "not_found",
                check_method: None,
                source_updated_at: None,
                source_next_update: None,
                source_basis: None,
                revoked_at: None,
                reason: None,
                reason_code: None,
                live_error: None,
            };
            let Some(found) = &row.found else {
                tally.not_found += 1;
                return item;
            };
            let s = &found.status;
            let f = s.freshness();
            tally.count(s, found.live);
            item.serial = Some(found.cert.serial.to_hex());
            item.status = s.label();
            item.source_updated_at = time(f, |f| f.this_update);
            item.source_next_update = time(f, |f| f.next_update);
            match found.live {
                Some(source) => {
                    item.check_method = Some("ocsp");
                    item.live_error = source.error();
                }
                None => {
                    item.check_method = Some("crl");
                    item.source_basis = f.map(|f| f.basis.as_str());
                }
            }
            match s {
                CertStatus::Good(_) => {}
                CertStatus::Revoked {
                    revoked_at, reason, ..
                } => {
                    item.revoked_at = Some(rfc3339(*revoked_at));
                    item.reason = reason.map(jpki::Reason::rfc_name);
                }
                CertStatus::Unknown { .. } => item.reason_code = Some("TRY_LATER"),
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
    for ((method, status), n) in &t.checks {
        gw.metrics
            .checks
            .with_label_values(&[sp, "liveness_check", method, status])
            .inc_by(*n);
    }
    for (source, n) in &t.live {
        gw.metrics.live_checks.with_label_values(&[sp, source]).inc_by(*n);
    }
}

/// Runs `f` on the blocking pool when a request is large (`n` items), else inline.
async fn maybe_blocking<T: Send + 'static>(
    n: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    if n > 2000 {
        web::block(f).await.map_err(|e| ApiError::Internal(e.to_string()))
    } else {
        Ok(f())
    }
}

/// Refuses a live check when no `[upstream]` is configured.
fn check_live_available(gw: &Shared, requested: bool) -> Result<(), ApiError> {
    if requested && gw.live.is_none() {
        return Err(ApiError::LiveNotConfigured);
    }
    Ok(())
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
    check_live_available(&gw, body.live)?;
    let max = gw.config.limits.max_bulk_items;
    if n > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "{n} items: at most {max} per request"
        )));
    }
    if let Some(live) = gw.live.as_ref().filter(|_| body.live)
        && n > live.max_items
    {
        return Err(ApiError::PayloadTooLarge(format!(
            "{n} items: at most {} per request with live",
            live.max_items
        )));
    }
    gw.limit(sp, n as u64).await?;
    let resolved = resolve(&gw, &sp.id, &body).await?;
    let sp_id = sp.id.clone();
    let gw2 = gw.get_ref().clone();
    let (body, mut rows) = maybe_blocking(n, move || {
        let rows = rows(&gw2, &sp_id, &body, &resolved);
        (body, rows)
    })
    .await?;
    if gw.live.is_some() {
        let found: Vec<&mut Found> = rows.iter_mut().filter_map(|r| r.found.as_mut()).collect();
        relay(&gw, found, body.live).await;
    }
    let live_requested = body.live;
    let (out, tally) = maybe_blocking(n, move || render(&body, &rows))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    meter(&gw, &sp.id, &tally);
    gw.audit
        .record("status_check", Some(&sp.id), tally.audit(n, live_requested, None));
    Ok(HttpResponse::Ok().content_type("application/json").body(out))
}

/// The query of `GET /v1/verifications/{id}/status` (other parameters are ignored, as before
/// `live` existed).
#[derive(Debug, Default, Deserialize)]
pub struct SingleQuery {
    /// Check the certificate at J-LIS's OCSP responder (`[upstream]`).
    #[serde(default)]
    pub live: bool,
}

/// `GET /v1/verifications/{id}/status`: one certificate; 404 unless this SP registered it.
pub async fn single(
    gw: web::Data<Shared>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::Status)?;
    let query = web::Query::<SingleQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?
        .into_inner();
    check_live_available(&gw, query.live)?;
    gw.limit(sp, 1).await?;
    let cert = gw.ids.open(&sp.id, &id).and_then(|v| v.cert);
    let set = gw.index.load();
    let st = cert
        .as_ref()
        .and_then(|c| lookup(&gw, set.as_deref(), c, now_unix()));
    drop(set);
    let (Some(cert), Some(status)) = (cert, st) else {
        gw.audit.record(
            "status_check",
            Some(&sp.id),
            json!({"purpose": "liveness_check", "items": 1, "result": {"not_found": 1}}),
        );
        return Err(ApiError::NotFound);
    };
    let mut found = Found {
        cert,
        status,
        live: None,
    };
    relay(&gw, vec![&mut found], query.live).await;
    let mut tally = Tally::default();
    tally.count(&found.status, found.live);
    meter(&gw, &sp.id, &tally);
    gw.audit.record(
        "status_check",
        Some(&sp.id),
        tally.audit(1, query.live, Some(id.as_str())),
    );
    let view = match found.live {
        Some(source) => RevocationView::of_live(&found.status, source),
        None => RevocationView::of(&found.status),
    };
    let mut v = serde_json::to_value(view).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(id.as_str()));
        o.insert("serial".into(), json!(found.cert.serial.to_hex()));
    }
    Ok(HttpResponse::Ok().json(v))
}
