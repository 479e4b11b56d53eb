//! `POST /v1/verifications` (KYC, 犯収法 JPKI method) and `GET /v1/verifications/{id}`.
//!
//! A verification judges a signing certificate and a signature over the SP's data (raw or CMS)
//! against the live index, and, **when the verdict is valid**, registers the certificate for the
//! SP: the raw certificate is kept here (SPs must not keep it), the SP gets a verification id it
//! can re-check later and a `user_id` that stays the same across the user's later certificates.
//!
//! When Redis is down the verdict is still given (from the index) with `registered: false` and
//! no id: nothing was written, and the same request can be sent again to register.

use actix_web::http::header::HeaderName;
use actix_web::{HttpRequest, HttpResponse, web};
use jpki::{BasicInfo, CertKind, Serial};
use pf_server::registry::Purpose;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verifier::{HashAlg, Payload, Report, Scheme, SignatureRequest};

use crate::body::{b64, b64_opt, read_json};
use crate::error::ApiError;
use crate::index;
use crate::report::{Record, cert_ref, reason_label, record, revocation_view, verdict_label};
use crate::state::Shared;
use crate::store::{CertToRegister, Idempotency, Registered, Registration};
use pf_server::clock::now_unix;

/// The request. Either `certificate` + `signature` + (`data` | `digest` + `hash`), or `cms`
/// (with `data` as the detached content when the CMS does not carry it).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    /// Signer certificate, base64 DER.
    pub certificate: Option<String>,
    /// Raw signature, base64.
    pub signature: Option<String>,
    /// Signed data, base64.
    pub data: Option<String>,
    /// Digest of the signed data, base64.
    pub digest: Option<String>,
    /// `sha256`, `sha384` or `sha512`.
    pub hash: Option<String>,
    /// `auto` (default), `pkcs1`, `pss` or `ecdsa`.
    pub scheme: Option<String>,
    /// CMS SignedData, base64 DER.
    pub cms: Option<String>,
}

struct Decoded {
    certificate: Vec<u8>,
    signature: Vec<u8>,
    data: Option<Vec<u8>>,
    digest: Option<Vec<u8>>,
    hash: Option<HashAlg>,
    scheme: Scheme,
    cms: Option<Vec<u8>>,
}

fn parse_hash(h: Option<&str>) -> Result<Option<HashAlg>, ApiError> {
    h.map(|name| {
        HashAlg::from_name(name)
            .ok_or_else(|| ApiError::InvalidRequest(format!("hash {name:?} is not sha256, sha384 or sha512")))
    })
    .transpose()
}

fn decode(r: &VerificationRequest) -> Result<Decoded, ApiError> {
    let scheme = match r.scheme.as_deref().unwrap_or("auto") {
        "auto" => Scheme::Auto,
        "pkcs1" => Scheme::Pkcs1,
        "pss" => Scheme::Pss,
        "ecdsa" => Scheme::Ecdsa,
        other => {
            return Err(ApiError::InvalidRequest(format!(
                "scheme {other:?} is not auto, pkcs1, pss or ecdsa"
            )));
        }
    };
    let hash = parse_hash(r.hash.as_deref())?;
    if let Some(cms) = &r.cms {
        if r.certificate.is_some()
            || r.signature.is_some()
            || r.digest.is_some()
            || r.hash.is_some()
            || r.scheme.is_some()
        {
            return Err(ApiError::InvalidRequest(
                "with cms, only data (the detached content) may be given".into(),
            ));
        }
        return Ok(Decoded {
            certificate: Vec::new(),
            signature: Vec::new(),
            data: b64_opt("data", r.data.as_deref())?,
            digest: None,
            hash: None,
            scheme,
            cms: Some(b64("cms", cms)?),
        });
    }
    let (Some(cert), Some(sig)) = (&r.certificate, &r.signature) else {
        return Err(ApiError::InvalidRequest(
            "certificate and signature are required (or cms)".into(),
        ));
    };
    match (&r.data, &r.digest) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::InvalidRequest(
                "give exactly one of data and digest".into(),
            ));
        }
        (None, Some(_)) if hash.is_none() => {
            return Err(ApiError::InvalidRequest("digest needs hash".into()));
        }
        _ => {}
    }
    Ok(Decoded {
        certificate: b64("certificate", cert)?,
        signature: b64("signature", sig)?,
        data: b64_opt("data", r.data.as_deref())?,
        digest: b64_opt("digest", r.digest.as_deref())?,
        hash,
        scheme,
        cms: None,
    })
}

/// What [`judge`] found: the report, the revocation view and the signer certificate DER.
type Judged = (Report, Value, Option<Vec<u8>>);

/// Runs the verifier.
fn judge(gw: &Shared, d: &Decoded, now: i64) -> Judged {
    let set = gw.index.load();
    // The verifier tells the source the signer's cRLDistributionPoints (CMS signers too); a
    // certificate naming none gets its CA key's stalest partition (fail closed).
    let (grace, map) = (gw.index.grace(), &gw.config.index.crl_dp_partitions);
    let src = |key: &[u8], serial: &Serial, points: &[String], at: i64| {
        index::status(set.as_deref(), key, serial, at, grace, points, map)
    };
    let (report, der) = match &d.cms {
        Some(cms) => {
            let r = gw
                .verifier
                .verify_cms(cms, d.data.as_deref(), Some(CertKind::Signing), now, &src);
            let der = r
                .certificate
                .as_ref()
                .and_then(|c| signer_der(cms, &c.fingerprint));
            (r, der)
        }
        None => {
            let payload = match (&d.data, &d.digest, d.hash) {
                (_, Some(dg), Some(h)) => Payload::Digest { hash: h, bytes: dg },
                (Some(data), _, h) => Payload::Data { bytes: data, hash: h },
                _ => Payload::Data {
                    bytes: &[],
                    hash: None,
                },
            };
            let r = gw.verifier.verify_signature(
                &SignatureRequest {
                    cert_der: &d.certificate,
                    kind: Some(CertKind::Signing),
                    payload,
                    signature: &d.signature,
                    scheme: d.scheme,
                    at_unix: now,
                },
                &src,
            );
            (r, Some(d.certificate.clone()))
        }
    };
    let rev = revocation_view(&report);
    (report, rev, der)
}

/// The signer certificate inside a CMS, found by its fingerprint. The verifier does not hand it
/// out, so OpenSSL's PKCS#7 reader lists the embedded certificates.
fn signer_der(cms: &[u8], fingerprint_hex: &str) -> Option<Vec<u8>> {
    let p7 = openssl::pkcs7::Pkcs7::from_der(cms).ok()?;
    let certs = p7.signed()?.certificates()?;
    certs.iter().find_map(|c| {
        let der = c.to_der().ok()?;
        (hex::encode(verifier::sha256(&der)) == fingerprint_hex).then_some(der)
    })
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get(HeaderName::from_static("idempotency-key")) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("");
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(Some(s.to_owned()))
    } else {
        Err(ApiError::InvalidRequest(
            "Idempotency-Key must be 1-128 characters of [A-Za-z0-9-_.:]".into(),
        ))
    }
}

/// `POST /v1/verifications`.
pub async fn create(
    gw: web::Data<Shared>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::Kyc)?;
    gw.limit(sp, 0).await?;
    let idem = idempotency_key(&req)?;
    let body: VerificationRequest = read_json(&req, payload, gw.config.limits.max_json_bytes).await?;
    let decoded = decode(&body)?;
    // The request's fingerprint, only needed to tell a retry from a reused Idempotency-Key.
    let req_hash = match idem {
        Some(_) => hex::encode(verifier::sha256(
            serde_json::to_string(&body).unwrap_or_default().as_bytes(),
        )),
        None => String::new(),
    };
    // Idempotency first: a replay answers from the record, a conflict is refused.
    let mut store_ok = true;
    if let Some(key) = &idem {
        match gw
            .store
            .idempotency_begin(&sp.id, key, &req_hash, gw.config.idempotency.lock_secs)
            .await
        {
            Ok(Idempotency::Fresh) => {}
            Ok(Idempotency::Replay(id)) => return replay(&gw, &sp.id, &id).await,
            Ok(Idempotency::InProgress) => return Err(ApiError::IdempotencyInProgress),
            Ok(Idempotency::Reused) => return Err(ApiError::IdempotencyKeyReused),
            Err(e) => {
                tracing::warn!(error = %e, "redis down: verifying without registration");
                store_ok = false;
            }
        }
    }
    let now = now_unix();
    let (report, revocation, der) = judge(&gw, &decoded, now);
    let to_register = cert_ref(&report, &gw.tags)
        .zip(der.as_deref())
        .map(|((mut c, kind), der)| {
            // Recorded in the id and in Redis, so later status checks use this partition.
            c.partition = index::record_partition(
                report.revocation_status.as_ref(),
                der,
                &gw.config.index.crl_dp_partitions,
            );
            (c, kind)
        });
    let id = gw
        .ids
        .seal(&sp.id, to_register.as_ref().map(|(c, _)| c))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut rec = record(Some(&id), "kyc", &report, &revocation);
    let rec_text = serde_json::to_string(&rec).map_err(|e| ApiError::Internal(e.to_string()))?;
    let fingerprint = report
        .certificate
        .as_ref()
        .map(|c| c.fingerprint.clone())
        .unwrap_or_default();
    let (mut registered, mut user_id) = (false, None::<String>);
    if store_ok {
        let cert = match (&to_register, &der) {
            (Some((c, kind)), Some(der)) => Some(CertToRegister {
                cert: c,
                kind: kind.short_name(),
                der,
                fingerprint: &fingerprint,
            }),
            _ => None,
        };
        let has_cert = cert.is_some();
        let reg = Registration {
            id: &id,
            record: &rec_text,
            cert,
            link_user: None,
            idempotency: idem.as_deref().map(|k| (k, req_hash.as_str())),
            idempotency_ttl: gw.config.idempotency.ttl_secs,
        };
        match gw.store.register(&sp.id, &reg).await {
            Ok(Registered::Ok { user_id: uid, .. }) => {
                registered = has_cert;
                user_id = (!uid.is_empty()).then_some(uid);
            }
            Ok(other) => {
                return Err(ApiError::Internal(format!(
                    "unexpected registration result {other:?}"
                )));
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis down: verification not registered");
                store_ok = false;
                if let Some(k) = &idem {
                    gw.store.idempotency_abort(&sp.id, k).await;
                }
            }
        }
    }
    account(&gw, &sp.id, &report, &revocation, "signature_verification");
    let c = report.certificate.as_ref();
    gw.audit.record(
        "verification",
        Some(&sp.id),
        json!({
            "id": store_ok.then_some(id.as_str()),
            "verdict": report.verdict,
            "reason": report.reason,
            "serial": c.map(|c| c.serial.as_str()),
            "fingerprint": c.map(|c| c.fingerprint.as_str()),
            "revocation": revocation.get("status"),
            "check_method": revocation.get("check_method"),
            "registered": registered,
            "user_id": user_id,
            "idempotency_key": idem,
            "cms": decoded.cms.is_some(),
        }),
    );
    // The answer's id is null when nothing was written.
    rec.id = store_ok.then_some(id.as_str());
    Ok(HttpResponse::Ok().json(KycAnswer {
        record: rec,
        user_id: user_id.as_deref(),
        registered,
        basic_info: &report.basic_info,
    }))
}

/// The KYC answer: the record (its id `null` when nothing was written), the user, whether the
/// certificate was registered, and the 4 info (which is not kept).
#[derive(Debug, Serialize)]
struct KycAnswer<'a> {
    #[serde(flatten)]
    record: Record<'a>,
    user_id: Option<&'a str>,
    registered: bool,
    basic_info: &'a Option<jpki::BasicInfoView>,
}

/// Counts a verdict and, when the index was consulted, a metered revocation check.
pub fn account(gw: &Shared, sp: &str, report: &Report, revocation: &Value, purpose: &str) {
    gw.metrics
        .verdicts
        .with_label_values(&[sp, purpose, verdict_label(report), reason_label(report)])
        .inc();
    if let Some(status) = revocation.get("status").and_then(Value::as_str)
        && status != "not_checked"
    {
        gw.metrics
            .checks
            .with_label_values(&[sp, purpose, "crl", status])
            .inc();
    }
}

/// Answers a retried request from its record; the 4 info is read again from the stored
/// certificate (it is not kept anywhere else).
async fn replay(gw: &Shared, sp: &str, id: &str) -> Result<HttpResponse, ApiError> {
    let stored = gw
        .store
        .verification(sp, id)
        .await?
        .ok_or(ApiError::IdempotencyInProgress)?;
    let mut rec: Value =
        serde_json::from_str(&stored.record).map_err(|e| ApiError::Internal(e.to_string()))?;
    let valid = rec.get("verdict").and_then(Value::as_str) == Some("valid");
    let basic_info = if valid && !stored.cert.is_empty() {
        match gw.store.certificate(sp, &stored.cert).await? {
            Some(der) => BasicInfo::from_certificate_der(&der)
                .ok()
                .map(|b| json!(b.view())),
            None => None,
        }
    } else {
        None
    };
    if let Some(o) = rec.as_object_mut() {
        let uid = (!stored.user_id.is_empty()).then_some(stored.user_id);
        o.insert(
            "registered".into(),
            json!(uid.is_some() && !stored.cert.is_empty()),
        );
        o.insert("user_id".into(), json!(uid));
        o.insert("basic_info".into(), basic_info.unwrap_or(Value::Null));
    }
    gw.audit
        .record("verification_replayed", Some(sp), json!({"id": id}));
    Ok(HttpResponse::Ok()
        .insert_header(("Idempotent-Replayed", "true"))
        .json(rec))
}

/// `GET /v1/verifications/{id}`: the record (never the 4 info, never the certificate).
pub async fn get(
    gw: web::Data<Shared>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::Kyc)?;
    gw.limit(sp, 0).await?;
    // Ids of other SPs do not open under this SP's id: not found, without a Redis call.
    if gw.ids.open(&sp.id, &id).is_none() {
        return Err(ApiError::NotFound);
    }
    let stored = gw
        .store
        .verification(&sp.id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut rec: Value =
        serde_json::from_str(&stored.record).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(o) = rec.as_object_mut() {
        o.insert(
            "user_id".into(),
            json!((!stored.user_id.is_empty()).then_some(stored.user_id)),
        );
    }
    gw.audit
        .record("verification_read", Some(&sp.id), json!({"id": id.as_str()}));
    Ok(HttpResponse::Ok().json(rec))
}
