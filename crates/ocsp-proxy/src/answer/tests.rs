use jpki::ocsp::CertStatus as OcspStatus;
use jpki::{Basis, Reason, Serial, UnknownReason};
use revocation::{IndexBuilder, PartitionMeta, Policy, SnapshotSet};

use super::*;
use crate::issuers::tests::{ca, sha1_id};
use crate::issuers::{IssuerTable, ServedCa};
use crate::request::{AskedCert, Limits, Request};

const NOW: i64 = 1_750_000_000;
const REVOKED: u64 = 0x1002;
const REVOKED_AT: i64 = NOW - 86_400;

/// A table serving one CA, and a snapshot set for its key with partitions of the given windows.
fn fixture(windows: &[(i64, i64)]) -> (IssuerTable, ServedCa, SnapshotSet) {
    let (der, _) = ca("JPKI answer CA", true);
    let mut table = IssuerTable::new();
    let served = table.add_der(&der).unwrap().clone();
    let mut b = IndexBuilder::new(served.key_id()).unwrap();
    for (i, (this_update, next_update)) in windows.iter().enumerate() {
        b.add_partition(PartitionMeta {
            id: format!("p{i}"),
            dp_name: None,
            crl_number: vec![1],
            this_update: *this_update,
            next_update: *next_update,
            source_sha256: [0; 32],
            entries: 0,
        })
        .unwrap();
    }
    b.push_serial(
        &Serial::from_u64(REVOKED),
        REVOKED_AT,
        Some(Reason::KeyCompromise),
        0,
    )
    .unwrap();
    let set = SnapshotSet::new(vec![b.finish().unwrap()]).unwrap();
    (table, served, set)
}

fn ctx<'a>(table: &'a IssuerTable, set: Option<&'a SnapshotSet>, stale: StalePolicy) -> Context<'a> {
    Context {
        issuers: table,
        snapshots: set,
        at: NOW,
        policy: Policy::default(),
        stale,
    }
}

fn asked(id: CertId) -> AskedCert {
    let serial = id.serial().unwrap();
    AskedCert { cert_id: id, serial }
}

fn status(a: Answer) -> SingleResponse {
    match a {
        Answer::Status(s) => s,
        other => panic!("expected a status, got {other:?}"),
    }
}

#[test]
fn good_and_revoked_carry_the_partition_dates() {
    let fresh = (NOW - 3600, NOW + 3600);
    let (table, served, set) = fixture(&[fresh]);
    let c = ctx(&table, Some(&set), StalePolicy::TryLater);
    let good = status(answer_one(&c, &asked(sha1_id(&served, 0x1001))).unwrap());
    assert_eq!(good.cert_status, OcspStatus::Good(Null));
    assert_eq!(good.this_update, gtime(fresh.0).unwrap());
    assert_eq!(good.next_update, Some(gtime(fresh.1).unwrap()));
    assert_eq!(good.cert_id, sha1_id(&served, 0x1001));

    let revoked = status(answer_one(&c, &asked(sha1_id(&served, REVOKED))).unwrap());
    let OcspStatus::Revoked(info) = revoked.cert_status else {
        panic!("{revoked:?}")
    };
    assert_eq!(info.revocation_time, gtime(REVOKED_AT).unwrap());
    assert_eq!(info.revocation_reason, Some(CrlReason::KeyCompromise));
    assert_eq!(info.reason(), Some(Reason::KeyCompromise));
}

#[test]
fn an_issuer_not_served_is_unknown() {
    let (table, _, set) = fixture(&[(NOW - 3600, NOW + 3600)]);
    let (other, _) = ca("JPKI answer CA", true);
    let other = crate::issuers::ServedCa::from_der(&other).unwrap();
    let c = ctx(&table, Some(&set), StalePolicy::Relay);
    let unknown = status(answer_one(&c, &asked(sha1_id(&other, 5))).unwrap());
    assert_eq!(unknown.cert_status, OcspStatus::Unknown(Null));
    assert_eq!(unknown.this_update, gtime(NOW).unwrap());
}

#[test]
fn stale_data_never_answers_good() {
    // One fresh partition and one stale: with no partition hint the stalest decides.
    let (table, served, set) = fixture(&[(NOW - 3600, NOW + 3600), (NOW - 7200, NOW - 60)]);
    let id = sha1_id(&served, 0x1001);
    let c = ctx(&table, Some(&set), StalePolicy::TryLater);
    assert_eq!(
        answer_one(&c, &asked(id.clone())).unwrap(),
        Answer::TryLater(UnknownReason::Stale)
    );
    let c = ctx(&table, Some(&set), StalePolicy::Relay);
    let Answer::NeedsLiveCheck(live) = answer_one(&c, &asked(id.clone())).unwrap() else {
        panic!()
    };
    assert_eq!(live.ca_key_id, served.key_id());
    assert_eq!(live.serial, Serial::from_u64(0x1001));
    assert_eq!(live.reason, UnknownReason::Stale);
    assert_eq!(live.freshness.unwrap().basis, Basis::StalestPartition);
    // Revoked stands whatever the freshness.
    let revoked = status(answer_one(&c, &asked(sha1_id(&served, REVOKED))).unwrap());
    assert!(matches!(revoked.cert_status, OcspStatus::Revoked(_)));
    // No index at all, or not yet valid: the same path.
    let c = ctx(&table, None, StalePolicy::TryLater);
    assert_eq!(
        answer_one(&c, &asked(id.clone())).unwrap(),
        Answer::TryLater(UnknownReason::NoIndex)
    );
    let (table, served, set) = fixture(&[(NOW + 60, NOW + 3600)]);
    let c = ctx(&table, Some(&set), StalePolicy::TryLater);
    assert_eq!(
        answer_one(&c, &asked(sha1_id(&served, 1))).unwrap(),
        Answer::TryLater(UnknownReason::NotYetValid)
    );
}

#[test]
fn a_request_is_answered_whole() {
    let (table, served, set) = fixture(&[(NOW - 7200, NOW - 60)]);
    let body = |serials: &[u64]| {
        let ids = serials.iter().map(|s| sha1_id(&served, *s)).collect();
        let der = jpki::ocsp::OcspRequest::build(ids, None)
            .unwrap()
            .to_der()
            .unwrap();
        Request::from_post(&der, &Limits::default()).unwrap()
    };
    // Revoked alone is ready even from a stale partition.
    let c = ctx(&table, Some(&set), StalePolicy::TryLater);
    let Decision::Respond(r) = answer_request(&c, &body(&[REVOKED])).unwrap() else {
        panic!()
    };
    assert_eq!(r.len(), 1);
    // One stale CertID makes the whole request tryLater, or wait for a live check.
    assert_eq!(
        answer_request(&c, &body(&[REVOKED, 7])).unwrap(),
        Decision::TryLater(UnknownReason::Stale)
    );
    let c = ctx(&table, Some(&set), StalePolicy::Relay);
    let Decision::NeedsLiveCheck(answers) = answer_request(&c, &body(&[REVOKED, 7])).unwrap() else {
        panic!()
    };
    assert!(matches!(answers[0], Answer::Status(_)));
    assert!(matches!(answers[1], Answer::NeedsLiveCheck(_)));
    let resp = jpki::ocsp::OcspResponse::from_der(&try_later_response()).unwrap();
    assert_eq!(resp.response_status, jpki::ocsp::ResponseStatus::TryLater);
}

#[test]
fn times_outside_generalized_time_are_errors() {
    assert_eq!(gtime(-1).unwrap_err().code(), "TIME");
    assert_eq!(gtime(i64::MAX).unwrap_err().code(), "TIME");
    assert!(gtime(0).is_ok());
}

#[test]
fn every_reason_maps_to_its_crl_reason_code() {
    for r in Reason::ALL {
        assert_eq!(crl_reason(r) as u32, u32::from(r.code()), "{r:?}");
    }
}
