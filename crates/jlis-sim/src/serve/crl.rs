//! CRL distribution: `GET /crl/{ca_id}/{municipality}.crl` and `GET /crl/index.json`.
//!
//! The file is read from `D/crl/<ca_id>/<municipality>.crl` on every request, so a new
//! `jlis-sim crl` run is served at once. The CA id must be one of the simulator's and the
//! municipality a known 6-digit code, which also rules out path traversal. Responses carry a strong
//! `ETag` (quoted hex SHA-256 of the bytes) and `Last-Modified` (the file's mtime); a matching
//! `If-None-Match`, or else an `If-Modified-Since` not older than the mtime, gives `304`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{AppState, json_error};

fn valid_ca_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The path of a partition URL, relative to the server root.
pub fn crl_url_path(ca: &str, municipality: &str) -> String {
    format!("/crl/{ca}/{municipality}.crl")
}

/// `GET /crl/index.json`: every partition, its URL, and its current CRL (number, times, size).
pub(crate) async fn index(state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = state.sim.reload() {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string());
    }
    let parts: Vec<serde_json::Value> = state
        .sim
        .partitions()
        .into_iter()
        .map(|p| {
            json!({
                "ca": p.ca,
                "municipality": p.municipality,
                "url": crl_url_path(&p.ca, &p.municipality),
                "published": p.crl.is_some(),
                "crl_number": p.crl.as_ref().map(|c| c.number),
                "this_update": p.crl.as_ref().map(|c| rfc3339(c.this_update)),
                "next_update": p.crl.as_ref().map(|c| rfc3339(c.next_update)),
                "entries": p.crl.as_ref().map(|c| c.entries),
                "sha256": p.crl.as_ref().map(|c| c.sha256.clone()),
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({ "partitions": parts }))
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `GET /crl/{ca_id}/{file}`.
pub(crate) async fn get_crl(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (ca_id, file) = path.into_inner();
    let not_found = || json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such CRL");
    let Some(muni) = file.strip_suffix(".crl") else {
        return not_found();
    };
    if !valid_ca_id(&ca_id)
        || muni.len() != 6
        || !muni.bytes().all(|b| b.is_ascii_digit())
        || crate::person::municipality(muni).is_none()
        || state.sim.ca(&ca_id).is_none()
    {
        return not_found();
    }
    let fs_path = state
        .sim
        .dir()
        .join("crl")
        .join(&ca_id)
        .join(format!("{muni}.crl"));
    let read = web::block(move || -> std::io::Result<(Vec<u8>, SystemTime)> {
        let bytes = std::fs::read(&fs_path)?;
        let mtime = std::fs::metadata(&fs_path)?.modified()?;
        Ok((bytes, mtime))
    })
    .await;
    let (bytes, mtime) = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return not_found(),
        Ok(Err(e)) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()),
        Err(e) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()),
    };
    let etag = format!("\"{}\"", hex::encode(openssl::sha::sha256(&bytes)));
    // HTTP dates have one-second resolution.
    let mtime = UNIX_EPOCH + Duration::from_secs(mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    let last_modified = HttpDate::from(mtime);
    if not_modified(&req, &etag, mtime) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::LAST_MODIFIED, last_modified.to_string()))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/pkix-crl")
        .insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, last_modified.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(bytes)
}

/// RFC 9110 §13.2.2: `If-None-Match` (weak comparison) takes precedence; `If-Modified-Since` is
/// only looked at without it.
fn not_modified(req: &HttpRequest, etag: &str, mtime: SystemTime) -> bool {
    let headers = req.headers();
    let inm: Vec<&str> = headers
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !inm.is_empty() {
        return inm.iter().flat_map(|v| v.split(',')).any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
        });
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<HttpDate>().ok())
        .is_some_and(|since| mtime <= SystemTime::from(since))
}
