//! The response verifier: pure and synchronous, for response bytes from anywhere.
//!
//! A response is accepted only when every check passes, in this order:
//!
//! 1. it is at most [`jpki::ocsp::MAX_OCSP_LEN`] bytes of DER, `responseStatus` is `successful`
//!    and the response type is `id-pkix-ocsp-basic`;
//! 2. the signature over the exact `tbsResponseData` bytes verifies, under an algorithm the
//!    platform's policy accepts ([`jpki::algorithm`]), with the key of the signer the ResponderID
//!    names, and that signer is authorized for the CA (the CA itself, or a certificate in `certs`
//!    the CA signed, with id-kp-OCSPSigning, valid now: see the `responder` module);
//! 3. there is exactly one SingleResponse and its CertID is the one asked (hash algorithm,
//!    issuerNameHash, issuerKeyHash, serial);
//! 4. no critical extension other than the nonce, in the response or the SingleResponse;
//! 5. the nonce sent is echoed; a missing nonce is refused unless [`VerifyPolicy::require_nonce`]
//!    is off; a different one always is;
//! 6. `thisUpdate ≤ now + skew`, `producedAt ≤ now + skew`, nextUpdate present,
//!    `thisUpdate ≤ nextUpdate` and `now − skew < nextUpdate`.
//!
//! Any failure is an [`OcspClientError`]; nothing here ever yields a good status from an answer
//! that failed a check.

use der::Decode;
use der::asn1::{GeneralizedTime, OctetStringRef};
use jpki::ocsp::{BasicOcspResponse, CertStatus as OcspStatus, OID_NONCE, OcspResponse, ResponseStatus};
use jpki::{Basis, CertStatus, CheckMethod, Freshness, Serial, UnknownReason};
use x509_cert::ext::Extension;

use crate::error::OcspClientError;
use crate::issuer::IssuingCa;
use crate::request::OcspQuery;
use crate::responder;

/// The partition name of an answer verified from bytes alone ([`crate::OcspClient`] names the
/// responder URL instead).
pub const DEFAULT_SOURCE: &str = "ocsp";

/// What the verifier tolerates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Clock difference tolerated with the responder, in seconds (thisUpdate and producedAt in the
    /// future, nextUpdate in the past, the responder certificate's notBefore). Default 300.
    pub max_skew_secs: i64,
    /// Refuse a response that omits the nonce we sent. Default true: J-LIS's responder echoes
    /// nonces, so an answer without one may be a replay. Turn off only for a responder that serves
    /// pre-signed answers.
    pub require_nonce: bool,
    /// Most certificates accepted in a response's `certs` (each is parsed; the one the ResponderID
    /// names is verified). Default 4.
    pub max_certs: usize,
}

impl Default for VerifyPolicy {
    fn default() -> VerifyPolicy {
        VerifyPolicy {
            max_skew_secs: 300,
            require_nonce: true,
            max_certs: 4,
        }
    }
}

/// A verified answer about one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The status in the platform's vocabulary, with `method: ocsp` and `basis: own_partition`
    /// (the answer is about the certificate itself); the partition is the responder's URL, or
    /// [`DEFAULT_SOURCE`]. OCSP `unknown` maps to [`CertStatus::Unknown`] with
    /// [`UnknownReason::Unavailable`].
    pub status: CertStatus,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds: the answer must not be used at or after it.
    pub next_update: i64,
    /// producedAt, unix seconds.
    pub produced_at: i64,
}

impl Verified {
    /// The same answer with `source` as its partition name.
    pub fn with_source(mut self, source: &str) -> Verified {
        match &mut self.status {
            CertStatus::Good(f) | CertStatus::Revoked { freshness: f, .. } => f.partition = source.into(),
            CertStatus::Unknown { freshness, .. } => {
                if let Some(f) = freshness {
                    f.partition = source.into();
                }
            }
        }
        self
    }

    /// Whether the answer may still be used at `now` (before its nextUpdate).
    pub fn usable_at(&self, now: i64) -> bool {
        now < self.next_update
    }
}

fn unix(t: GeneralizedTime) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn status_name(s: ResponseStatus) -> &'static str {
    match s {
        ResponseStatus::Successful => "successful",
        ResponseStatus::MalformedRequest => "malformedRequest",
        ResponseStatus::InternalError => "internalError",
        ResponseStatus::TryLater => "tryLater",
        ResponseStatus::SigRequired => "sigRequired",
        ResponseStatus::Unauthorized => "unauthorized",
    }
}

/// Verifies `der`, the answer to `query` about a certificate of `issuer`, at `now` (unix
/// seconds). See the module documentation for the checks.
pub fn verify_response(
    der: &[u8],
    query: &OcspQuery,
    issuer: &IssuingCa,
    now: i64,
    policy: &VerifyPolicy,
) -> Result<Verified, OcspClientError> {
    let skew = policy.max_skew_secs.max(0);
    let response = OcspResponse::from_der(der)?;
    if response.response_status != ResponseStatus::Successful {
        return Err(OcspClientError::ResponderError {
            status: status_name(response.response_status),
        });
    }
    let basic = response
        .basic()?
        .ok_or_else(|| OcspClientError::malformed("a successful response without responseBytes"))?;
    let basic_der = response
        .response_bytes
        .as_ref()
        .map(|b| b.response.as_bytes())
        .unwrap_or_default();
    let tbs = BasicOcspResponse::tbs_der(basic_der)?;

    responder::verify_signed_by_authorized(&basic, tbs, issuer, now, skew, policy.max_certs)?;

    let data = &basic.tbs_response_data;
    let single = match data.responses.as_slice() {
        [one] => one,
        other => {
            return Err(OcspClientError::CertIdMismatch {
                detail: format!("{} SingleResponses for one CertID", other.len()),
            });
        }
    };
    check_cert_id(query, single)?;
    check_critical(
        data.response_extensions.as_deref().unwrap_or_default(),
        "responseExtensions",
    )?;
    check_critical(
        single.single_extensions.as_deref().unwrap_or_default(),
        "singleExtensions",
    )?;
    check_nonce(
        query,
        data.response_extensions.as_deref().unwrap_or_default(),
        policy,
    )?;

    let this_update = unix(single.this_update);
    let produced_at = unix(data.produced_at);
    let next_update = single
        .next_update
        .map(unix)
        .ok_or_else(|| OcspClientError::Stale {
            detail: "the answer has no nextUpdate".into(),
        })?;
    let horizon = now.saturating_add(skew);
    if this_update > horizon {
        return Err(OcspClientError::NotYetValid {
            detail: format!("thisUpdate {this_update} is after now {now} + {skew} s"),
        });
    }
    if produced_at > horizon {
        return Err(OcspClientError::NotYetValid {
            detail: format!("producedAt {produced_at} is after now {now} + {skew} s"),
        });
    }
    if next_update < this_update {
        return Err(OcspClientError::malformed(format!(
            "nextUpdate {next_update} is before thisUpdate {this_update}"
        )));
    }
    if next_update <= now.saturating_sub(skew) {
        return Err(OcspClientError::Stale {
            detail: format!("nextUpdate {next_update} is past (now {now}, skew {skew} s)"),
        });
    }

    let freshness = Freshness {
        method: CheckMethod::Ocsp,
        partition: DEFAULT_SOURCE.into(),
        this_update,
        next_update,
        basis: Basis::OwnPartition,
    };
    let status = match &single.cert_status {
        OcspStatus::Good(_) => CertStatus::Good(freshness),
        OcspStatus::Revoked(info) => CertStatus::Revoked {
            revoked_at: unix(info.revocation_time),
            reason: info.reason(),
            freshness,
        },
        OcspStatus::Unknown(_) => CertStatus::Unknown {
            reason: UnknownReason::Unavailable("the OCSP responder does not know the certificate".into()),
            freshness: Some(freshness),
        },
    };
    Ok(Verified {
        status,
        this_update,
        next_update,
        produced_at,
    })
}

fn check_cert_id(query: &OcspQuery, single: &jpki::ocsp::SingleResponse) -> Result<(), OcspClientError> {
    let asked = query.cert_id();
    let got = &single.cert_id;
    let mismatch = |what: &str| OcspClientError::CertIdMismatch {
        detail: format!("{what} differs"),
    };
    if got.hash_algorithm.oid != asked.hash_algorithm.oid {
        return Err(mismatch("hashAlgorithm"));
    }
    if got.issuer_name_hash != asked.issuer_name_hash {
        return Err(mismatch("issuerNameHash"));
    }
    if got.issuer_key_hash != asked.issuer_key_hash {
        return Err(mismatch("issuerKeyHash"));
    }
    let serial =
        Serial::from_der_content(got.serial_number.as_bytes()).map_err(|_| mismatch("serialNumber"))?;
    if serial != query.serial() {
        return Err(mismatch("serialNumber"));
    }
    Ok(())
}

fn check_critical(exts: &[Extension], context: &str) -> Result<(), OcspClientError> {
    match exts.iter().find(|e| e.critical && e.extn_id != OID_NONCE) {
        Some(e) => Err(OcspClientError::malformed(format!(
            "unsupported critical extension {} in {context}",
            e.extn_id
        ))),
        None => Ok(()),
    }
}

fn check_nonce(query: &OcspQuery, exts: &[Extension], policy: &VerifyPolicy) -> Result<(), OcspClientError> {
    let mut nonces = exts.iter().filter(|e| e.extn_id == OID_NONCE);
    let echoed = nonces.next();
    if nonces.next().is_some() {
        return Err(OcspClientError::malformed("two nonce extensions"));
    }
    let Some(sent) = query.nonce() else {
        // Nothing to compare with: any nonce in the response is not ours to judge.
        return Ok(());
    };
    let Some(echoed) = echoed else {
        return if policy.require_nonce {
            Err(OcspClientError::NonceMissing)
        } else {
            Ok(())
        };
    };
    // RFC 8954: extnValue is the DER of an OCTET STRING holding the nonce.
    let raw = echoed.extn_value.as_bytes();
    let value = <&OctetStringRef>::from_der(raw)
        .map(|o| o.as_bytes())
        .unwrap_or(raw);
    if value == sent {
        Ok(())
    } else {
        Err(OcspClientError::NonceMismatch)
    }
}
