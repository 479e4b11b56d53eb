//! Card lifecycle: issuing a holder's certificate pair, revoking, and moving house (revoke the
//! signing certificate with affiliationChanged and issue a new one with the new address).

use std::path::PathBuf;

use jpki::{Carrier, CertKind, Reason, Serial, oid};
use serde::Serialize;
use time::{Month, OffsetDateTime};

use crate::ca::{CaRecord, add_years, ca_spec, jst_midnight};
use crate::drbg::Drbg;
use crate::error::{Result, SimError};
use crate::keys::{self, SigningKey};
use crate::person::{self, Person, PersonInput};
use crate::profile::{self, CertSpec, attr, ext, key_usage};
use crate::store::{CertRecord, CertStatus, Files, Holder, Simulator, State, load_key};

/// What `issue` is asked for.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// `2019`, `2023` (default) or `2026` (next-generation card, ECDSA P-384).
    pub generation: Option<String>,
    /// A smartphone certificate pair instead of a card.
    pub smartphone: bool,
    /// Issue from the test hierarchy.
    pub test: bool,
    /// Given person fields; the rest are drawn from the seed.
    pub person: PersonInput,
    /// Issue time.
    pub at: OffsetDateTime,
}

/// One issued certificate, as reported to the user.
#[derive(Clone, Debug, Serialize)]
pub struct IssuedCert {
    /// Serial, hex as OpenSSL prints it.
    pub serial: Serial,
    /// Issuing CA id.
    pub ca: String,
    /// Certificate PEM.
    pub cert: PathBuf,
    /// Private key PEM (a test key).
    pub key: PathBuf,
}

/// The result of `issue`.
#[derive(Clone, Debug, Serialize)]
pub struct Issued {
    /// Holder id.
    pub holder: String,
    /// The signing certificate.
    pub sign: IssuedCert,
    /// The user-authentication certificate.
    pub auth: IssuedCert,
}

/// The result of `move`.
#[derive(Clone, Debug, Serialize)]
pub struct Moved {
    /// Holder id.
    pub holder: String,
    /// The revoked signing certificate.
    pub old_serial: Serial,
    /// Its successor.
    pub new: IssuedCert,
}

/// The holder's 5th birthday after `at`, at 23:59:59 JST (the card-certificate validity end).
pub(crate) fn fifth_birthday_after(person: &Person, at: OffsetDateTime) -> Result<OffsetDateTime> {
    let dob = person.dob()?;
    let month = Month::try_from(dob.month).map_err(|e| SimError::arg("date of birth", e.to_string()))?;
    let jst = at + time::Duration::hours(9);
    let birthday = |year: i32| -> Result<OffsetDateTime> {
        let day = if time::util::days_in_month(month, year) < dob.day {
            28
        } else {
            dob.day
        };
        jst_midnight(year, month, day)
    };
    let mut year = jst.year();
    if birthday(year)? + time::Duration::days(1) <= at {
        year += 1;
    }
    Ok(birthday(year + 4)? + time::Duration::days(1) - time::Duration::seconds(1))
}

fn policy_for(ca: &CaRecord, carrier: Carrier) -> const_oid::ObjectIdentifier {
    match (ca.kind, ca.test, carrier) {
        (CertKind::Signing, true, _) => oid::POLICY_SIGNING_TEST,
        (CertKind::UserAuthentication, true, _) => oid::POLICY_AUTH_TEST,
        (CertKind::Signing, false, Carrier::Smartphone) => oid::POLICY_SIGNING_SMARTPHONE,
        (CertKind::Signing, false, _) => oid::POLICY_SIGNING_CARD,
        (CertKind::UserAuthentication, false, _) => oid::POLICY_AUTH_CARD,
    }
}

struct EeRequest<'a> {
    ca: &'a CaRecord,
    holder: &'a str,
    person: &'a Person,
    carrier: Carrier,
    key_label: String,
    at: OffsetDateTime,
    not_after: OffsetDateTime,
}

/// Plans one end-entity certificate: draws the key and serial, builds and signs the certificate.
fn plan_ee(sim: &Simulator, st: &mut State, req: &EeRequest<'_>) -> Result<(CertRecord, Files)> {
    let ca = req.ca;
    let spec = ca_spec(&ca.id).ok_or_else(|| SimError::NotFound {
        what: "CA",
        id: ca.id.clone(),
    })?;
    let ca_key = SigningKey::new(load_key(&sim.path(&ca.key_path))?)?;
    let key = SigningKey::new(keys::generate(
        ca.algorithm,
        &mut Drbg::new(&st.seed, &req.key_label)?,
    )?)?;
    let next = st
        .next_serial
        .entry(ca.hierarchy.clone())
        .or_insert_with(|| crate::ca::serial_start(&ca.hierarchy));
    let serial = Serial::from_u64(*next);
    *next += 1;

    let muni = req.person.municipality()?;
    let short = ca.kind.short_name();
    let cn = format!(
        "JPKISIM {} {} {}",
        req.holder,
        short.to_uppercase(),
        serial.to_hex()
    );
    let subject = match ca.kind {
        CertKind::Signing => profile::name_der(&[
            (attr::C, "JP"),
            (attr::L, muni.prefecture_romaji),
            (attr::L, muni.name_romaji),
            (attr::CN, &cn),
        ])?,
        CertKind::UserAuthentication => profile::name_der(&[(attr::C, "JP"), (attr::CN, &cn)])?,
    };
    let mut extensions = vec![
        ext::key_usage(match ca.kind {
            CertKind::Signing => key_usage::DIGITAL_SIGNATURE_NON_REPUDIATION,
            CertKind::UserAuthentication => key_usage::DIGITAL_SIGNATURE,
        }),
        ext::policy(&policy_for(ca, req.carrier)),
        ext::aki(&hex::decode(&ca.key_id).map_err(|e| SimError::State {
            path: sim.path(crate::store::STATE_FILE),
            detail: format!("CA {} key_id: {e}", ca.id),
        })?),
        ext::ski(&key.key_id()?),
        ext::crl_dp_dirname(&spec.crl_dp_name_der(muni)?),
    ];
    if ca.kind == CertKind::Signing {
        extensions.push(ext::san(req.person.subject_alt_name_der()?));
    }
    let not_before = req.at.replace_nanosecond(0).unwrap_or(req.at);
    let der = profile::build_certificate(
        &CertSpec {
            serial: serial.magnitude(),
            issuer: spec.name_der()?,
            subject,
            not_before,
            not_after: req.not_after,
            spki: key.spki_der()?,
            extensions,
        },
        &ca_key,
    )?;
    let base = format!("holders/{}/{}-{}", req.holder, short, serial.to_hex());
    let rec = CertRecord {
        serial,
        ca: ca.id.clone(),
        kind: ca.kind,
        carrier: req.carrier,
        holder: req.holder.to_owned(),
        municipality: muni.code.to_owned(),
        not_before,
        not_after: req.not_after,
        status: CertStatus::Good,
        revoked_at: None,
        reason: None,
        predecessor: None,
        successor: None,
        linked: None,
        cert_path: format!("{base}.pem"),
        key_path: format!("{base}.key.pem"),
    };
    let files = vec![
        (rec.cert_path.clone(), profile::pem("CERTIFICATE", &der)),
        (rec.key_path.clone(), key.to_pem()?),
    ];
    Ok((rec, files))
}

fn issued(sim: &Simulator, rec: &CertRecord) -> IssuedCert {
    IssuedCert {
        serial: rec.serial,
        ca: rec.ca.clone(),
        cert: sim.path(&rec.cert_path),
        key: sim.path(&rec.key_path),
    }
}

fn validity_end(holder: &Holder, person: &Person, at: OffsetDateTime) -> Result<OffsetDateTime> {
    if holder.generation == "2026" {
        Ok(add_years(at.replace_nanosecond(0).unwrap_or(at), 10))
    } else {
        fifth_birthday_after(person, at)
    }
}

fn revoke_in(st: &mut State, serial: &Serial, reason: Reason, at: OffsetDateTime) -> Result<CertRecord> {
    let rec = st.cert_mut(serial)?;
    if rec.status == CertStatus::Revoked {
        return Err(SimError::Conflict {
            what: "already revoked",
            detail: format!(
                "certificate {} was revoked at {} ({})",
                serial,
                rec.revoked_at.map(|t| t.to_string()).unwrap_or_default(),
                rec.reason.map(|r| r.rfc_name()).unwrap_or("unspecified")
            ),
        });
    }
    rec.status = CertStatus::Revoked;
    rec.revoked_at = Some(at.replace_nanosecond(0).unwrap_or(at));
    rec.reason = Some(reason);
    Ok(rec.clone())
}

impl Simulator {
    /// Issues a new holder with a signing and a user-authentication certificate.
    pub fn issue(&self, req: &IssueRequest) -> Result<Issued> {
        let generation = match (req.test, req.generation.as_deref()) {
            (true, None) => "test",
            (true, Some(g)) => {
                return Err(SimError::arg(
                    "generation",
                    format!("--test has one generation; drop --generation {g}"),
                ));
            }
            (false, None) => "2023",
            (false, Some(g @ ("2019" | "2023" | "2026"))) => g,
            (false, Some(g)) => {
                return Err(SimError::arg(
                    "generation",
                    format!("{g}: expected 2019, 2023 or 2026"),
                ));
            }
        };
        let (sign_id, auth_id) = if req.test {
            ("test-sign".to_owned(), "test-auth".to_owned())
        } else {
            (format!("sign-{generation}"), format!("auth-{generation}"))
        };
        let carrier = if req.smartphone {
            Carrier::Smartphone
        } else {
            Carrier::Card
        };
        self.mutate(|st| {
            let sign_ca = st.ca(&sign_id).cloned().ok_or_else(|| SimError::NotFound {
                what: "CA",
                id: sign_id.clone(),
            })?;
            let auth_ca = st.ca(&auth_id).cloned().ok_or_else(|| SimError::NotFound {
                what: "CA",
                id: auth_id.clone(),
            })?;
            let id = format!("H{:06}", st.next_holder);
            let person = Person::from_input(&req.person, &mut Drbg::new(&st.seed, &format!("person/{id}"))?)?;
            st.next_holder += 1;
            let mut holder = Holder {
                id: id.clone(),
                generation: generation.to_owned(),
                carrier,
                test: req.test,
                person: person.clone(),
                sign_serial: Serial::from_u64(0),
                auth_serial: Serial::from_u64(0),
                sign_history: Vec::new(),
                sign_keys: 1,
                created_at: req.at,
            };
            let not_after = validity_end(&holder, &person, req.at)?;
            let mk = |ca, label| EeRequest {
                ca,
                holder: &id,
                person: &person,
                carrier,
                key_label: label,
                at: req.at,
                not_after,
            };
            let (mut sign, mut files) = plan_ee(self, st, &mk(&sign_ca, format!("holder/{id}/sign/0")))?;
            let (mut auth, auth_files) = plan_ee(self, st, &mk(&auth_ca, format!("holder/{id}/auth/0")))?;
            files.extend(auth_files);
            sign.linked = Some(auth.serial);
            auth.linked = Some(sign.serial);
            holder.sign_serial = sign.serial;
            holder.auth_serial = auth.serial;
            holder.sign_history.push(sign.serial);
            let out = Issued {
                holder: id.clone(),
                sign: issued(self, &sign),
                auth: issued(self, &auth),
            };
            st.certificates.insert(sign.serial.to_hex(), sign);
            st.certificates.insert(auth.serial.to_hex(), auth);
            st.holders.insert(id, holder);
            Ok((out, files))
        })
    }

    /// Revokes a certificate. With `ca`, the serial must belong to that CA. Refuses unknown and
    /// already-revoked certificates without changing anything.
    pub fn revoke(
        &self,
        serial: &Serial,
        ca: Option<&str>,
        reason: Reason,
        at: OffsetDateTime,
    ) -> Result<CertRecord> {
        self.mutate(|st| {
            let rec = st.cert(serial).ok_or_else(|| SimError::NotFound {
                what: "certificate",
                id: serial.to_hex(),
            })?;
            if let Some(ca) = ca
                && rec.ca != ca
            {
                return Err(SimError::NotFound {
                    what: "certificate",
                    id: format!("{ca}/{serial}"),
                });
            }
            Ok((revoke_in(st, serial, reason, at)?, Vec::new()))
        })
    }

    /// Moves a holder: revokes the current signing certificate (affiliationChanged) and issues a
    /// new one with the new address, linking old → new and the new one to the auth certificate.
    /// The municipality is taken from `municipality` or recognised from the address.
    pub fn move_holder(
        &self,
        holder_id: &str,
        address: &str,
        municipality: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Moved> {
        person::validate_address(address)?;
        let muni = match municipality {
            Some(code) => person::municipality(code)
                .ok_or_else(|| SimError::arg("municipality", format!("unknown code {code}")))?,
            None => person::municipality_of_address(address).ok_or_else(|| {
                SimError::arg(
                    "address",
                    "no known municipality at its start; pass --municipality CODE",
                )
            })?,
        };
        self.mutate(|st| {
            let mut holder = st
                .holders
                .get(holder_id)
                .cloned()
                .ok_or_else(|| SimError::NotFound {
                    what: "holder",
                    id: holder_id.into(),
                })?;
            if holder.person.address == address {
                return Err(SimError::arg(
                    "address",
                    "unchanged: the holder already lives there",
                ));
            }
            let old_serial = holder.sign_serial;
            let old = st.cert(&old_serial).cloned().ok_or_else(|| SimError::NotFound {
                what: "certificate",
                id: old_serial.to_hex(),
            })?;
            let ca = st.ca(&old.ca).cloned().ok_or_else(|| SimError::NotFound {
                what: "CA",
                id: old.ca.clone(),
            })?;
            if old.status == CertStatus::Good {
                revoke_in(st, &old_serial, Reason::AffiliationChanged, at)?;
            }
            let mut person = holder.person.clone();
            person.address = address.to_owned();
            person.address_substitutes = "0".repeat(address.chars().count());
            person.municipality = muni.code.to_owned();
            let not_after = validity_end(&holder, &person, at)?;
            let label = format!("holder/{holder_id}/sign/{}", holder.sign_keys);
            let (mut new, files) = plan_ee(
                self,
                st,
                &EeRequest {
                    ca: &ca,
                    holder: holder_id,
                    person: &person,
                    carrier: old.carrier,
                    key_label: label,
                    at,
                    not_after,
                },
            )?;
            new.predecessor = Some(old_serial);
            new.linked = Some(holder.auth_serial);
            st.cert_mut(&old_serial)?.successor = Some(new.serial);
            if let Ok(auth) = st.cert_mut(&holder.auth_serial) {
                auth.linked = Some(new.serial);
            }
            holder.sign_keys += 1;
            holder.sign_serial = new.serial;
            holder.sign_history.push(new.serial);
            holder.person = person;
            let out = Moved {
                holder: holder_id.to_owned(),
                old_serial,
                new: issued(self, &new),
            };
            st.certificates.insert(new.serial.to_hex(), new);
            st.holders.insert(holder_id.to_owned(), holder);
            Ok((out, files))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifth_birthday() {
        let p = Person {
            name: "x".into(),
            name_substitutes: "0".into(),
            sex: 1,
            date_of_birth: "319801231".into(),
            address: "a".into(),
            address_substitutes: "0".into(),
            municipality: "131016".into(),
        };
        let at = time::macros::datetime!(2025-06-01 00:00 UTC);
        let end = fifth_birthday_after(&p, at).unwrap();
        assert_eq!(end, time::macros::datetime!(2029-12-31 14:59:59 UTC));
    }
}
