//! The OCSP responder (RFC 6960): `POST /ocsp` (`application/ocsp-request`) and
//! `GET /ocsp/{base64 request}` (appendix A; standard or URL-safe base64, padded or not,
//! percent-encoded or not).
//!
//! Each CertID is looked up by SHA-1 issuerKeyHash **and** issuerNameHash (the generations of a
//! hierarchy share one DN) and serial: `good`, `revoked` (time and reason) or `unknown` (not
//! issued by that CA, or a CertID hash other than SHA-1).
//!
//! **One issuer per response**: the first CertID that names one of the simulator's CAs chooses the
//! responder (that CA's delegated responder certificate and key); every CertID naming another
//! issuer is answered `unknown`. When no CertID names a known CA, the answer is `unauthorized`
//! (RFC 6960 §2.3). A request that does not parse is `malformedRequest`; a state or key failure
//! is `internalError`.
//!
//! The response: ResponderID byKey (SHA-1 of the responder public key), producedAt and thisUpdate
//! now, nextUpdate now + 15 minutes (J-LIS refreshes OCSP status every 15 minutes), the responder
//! certificate in `certs`, the request's nonce extension echoed unchanged. Signed
//! sha256WithRSAEncryption (RSA responders) or ecdsa-with-SHA384 (the P-384 generation 2026).

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use der::Decode;
use der::asn1::{GeneralizedTime, Null, ObjectIdentifier, OctetString};
use jpki::ocsp::{
    BasicOcspResponse, CertStatus, CrlReason, OcspRequest, OcspResponse, ResponderId, ResponseData,
    ResponseStatus, RevokedInfo, SingleResponse, Version,
};
use time::OffsetDateTime;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::AppState;
use crate::keys::SigningKey;
use crate::store::{CertStatus as SimStatus, IssuerRef, Simulator};

/// `id-sha1`, the only CertID hash supported (OpenSSL's default).
pub const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");

/// How long a response is fresh: J-LIS refreshes OCSP status every 15 minutes.
pub const VALIDITY: Duration = Duration::from_secs(15 * 60);

/// `POST /ocsp`.
pub(crate) async fn post(body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    answer(state, body.to_vec()).await
}

/// `GET /ocsp/{base64}`.
pub(crate) async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let raw = req.uri().path().strip_prefix("/ocsp/").unwrap_or_default();
    match jpki::ocsp::decode_get(raw) {
        Ok(der) => answer(state, der).await,
        Err(_) => der_response(error_der(ResponseStatus::MalformedRequest)),
    }
}

async fn answer(state: web::Data<AppState>, der: Vec<u8>) -> HttpResponse {
    let sim = state.sim.clone();
    let out = web::block(move || respond(&sim, &der, OffsetDateTime::now_utc())).await;
    der_response(out.unwrap_or_else(|_| error_der(ResponseStatus::InternalError)))
}

fn der_response(der: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/ocsp-response")
        .insert_header((header::CACHE_CONTROL, "max-age=0, no-cache"))
        .body(der)
}

fn error_der(status: ResponseStatus) -> Vec<u8> {
    // `error` only fails for `Successful`, never passed here; fall back to a fixed internalError.
    OcspResponse::error(status).unwrap_or_else(|_| vec![0x30, 0x03, 0x0a, 0x01, 0x02])
}

fn gtime(t: OffsetDateTime) -> Option<GeneralizedTime> {
    let secs = u64::try_from(t.unix_timestamp()).ok()?;
    GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).ok()
}

fn crl_reason(code: u8) -> Option<CrlReason> {
    CrlReason::from_der(&[0x0a, 0x01, code]).ok()
}

/// Answers one DER request at time `now`: the full `OCSPResponse` DER, an error status when the
/// request cannot be answered. Re-reads the state first.
pub fn respond(sim: &Simulator, der: &[u8], now: OffsetDateTime) -> Vec<u8> {
    let Ok(req) = OcspRequest::from_der(der) else {
        return error_der(ResponseStatus::MalformedRequest);
    };
    let Ok(requested) = req.requested() else {
        return error_der(ResponseStatus::MalformedRequest);
    };
    if sim.reload().is_err() {
        return error_der(ResponseStatus::InternalError);
    }
    let ca_of = |r: &jpki::ocsp::RequestedCert<'_>| {
        (r.hash_algorithm == OID_SHA1)
            .then(|| sim.ca_by_cert_id(r.issuer_name_hash, r.issuer_key_hash))
            .flatten()
    };
    let Some(ca) = requested.iter().find_map(ca_of) else {
        return error_der(ResponseStatus::Unauthorized);
    };
    match sign_response(sim, &ca.id, &req, &requested, now) {
        Some(der) => der,
        None => error_der(ResponseStatus::InternalError),
    }
}

fn sign_response(
    sim: &Simulator,
    ca_id: &str,
    req: &OcspRequest,
    requested: &[jpki::ocsp::RequestedCert<'_>],
    now: OffsetDateTime,
) -> Option<Vec<u8>> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let this_update = gtime(now)?;
    let next_update = gtime(now + VALIDITY)?;
    let mut responses = Vec::with_capacity(requested.len());
    for (single, r) in req.tbs_request.request_list.iter().zip(requested) {
        let ours = r.hash_algorithm == OID_SHA1
            && sim
                .ca_by_cert_id(r.issuer_name_hash, r.issuer_key_hash)
                .is_some_and(|c| c.id == ca_id);
        let rec = ours
            .then(|| sim.certificate(IssuerRef::CaId(ca_id), &r.serial))
            .flatten();
        let cert_status = match rec {
            None => CertStatus::Unknown(Null),
            Some(c) if c.status == SimStatus::Revoked => CertStatus::Revoked(RevokedInfo {
                revocation_time: gtime(c.revoked_at.unwrap_or(now))?,
                revocation_reason: c.reason.and_then(|x| crl_reason(x.code())),
            }),
            Some(_) => CertStatus::Good(Null),
        };
        responses.push(SingleResponse {
            cert_id: single.req_cert.clone(),
            cert_status,
            this_update,
            next_update: Some(next_update),
            single_extensions: None,
        });
    }
    let (cert, key) = sim.responder(ca_id).ok()?;
    let key = SigningKey::new(key).ok()?;
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(key.key_id().ok()?).ok()?),
        produced_at: this_update,
        responses,
        response_extensions: req.nonce_extension().map(|e| vec![e.clone()]),
    };
    let tbs = data.to_der().ok()?;
    let signature = key.sign_message(&tbs).ok()?;
    let alg = AlgorithmIdentifierOwned::from_der(&key.signature_algorithm_der().ok()?).ok()?;
    BasicOcspResponse::assemble(&tbs, alg, &signature, vec![cert.to_der().ok()?]).ok()
}
