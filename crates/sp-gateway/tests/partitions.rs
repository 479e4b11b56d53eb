//! CRL partitions: a certificate finds its partition by its cRLDistributionPoints name (the name
//! its CRL gives itself, or a configured map); when one CRL partition of a CA key is stale, status
//! checks of certificates of its other partitions stay good (the partition is recorded at
//! registration), while registrations that did not record one fail closed on the stalest
//! partition; and the verifier and the gateway give the same answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::Duration;

use jpki::{Reason, Serial};
use serde_json::json;
use support::{Gw, Holder, KEY_A, Opts, now, sim, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_name_their_crl_partition() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let (dp, id) = partition_of(&h.sign_der);
    assert!(
        dp.starts_with("C=JP, O=JPKI, OU=") && dp.ends_with(" CRLDP"),
        "{dp}"
    );
    assert!(id.starts_with("sign-2023/"), "{id}");
    let map = [(dp.clone(), id.clone())].into_iter().collect();
    assert_eq!(
        sp_gateway::index::partition_candidates(&h.sign_der, &map),
        vec![id.clone()]
    );
    // The mapped id is a partition of the live snapshot, and a good answer carries its dates.
    let set = gw.gw.index.load().unwrap();
    let (_, v) = gw.kyc(KEY_A, &h, b"partition").await;
    let key_id = set
        .snapshots()
        .find(|snap| snap.partition_index(&id).is_some())
        .map(|snap| snap.issuer_key_id().to_vec())
        .expect("a snapshot has the partition");
    let serial = Serial::from_hex(v["certificate"]["serial"].as_str().unwrap()).unwrap();
    let status = sp_gateway::index::status(
        Some(&set),
        &key_id,
        &serial,
        now().unix_timestamp(),
        0,
        std::slice::from_ref(&id),
        &Default::default(),
    );
    let part = set.get(&key_id).unwrap().partitions()
        [usize::from(set.get(&key_id).unwrap().partition_index(&id).unwrap())]
    .clone();
    let jpki::CertStatus::Good(f) = status else {
        panic!("{status:?}")
    };
    assert_eq!(
        (f.this_update, f.next_update),
        (part.this_update, part.next_update)
    );
    gw.stop().await;
}

/// With no `[index] crl_dp_partitions` configured, a certificate finds its CRL partition by the
/// name that partition's CRL gives itself (issuingDistributionPoint), which is the name the
/// certificate's cRLDistributionPoints give: answered from its own partition, which is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_find_their_partition_by_the_crl_idp_with_no_map() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    assert!(gw.gw.config.index.crl_dp_partitions.is_empty());
    let (dp, id) = partition_of(&h.sign_der);
    let set = gw.gw.index.load().unwrap();
    let named = set
        .snapshots()
        .flat_map(|snap| snap.partitions().iter())
        .find(|p| p.id == id)
        .unwrap();
    assert_eq!(named.dp_name.as_deref(), Some(dp.as_str()));
    let (st, v) = gw.kyc(KEY_A, &h, b"named by the CRL").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["revocation"]["status"], "good", "{v}");
    assert_eq!(v["revocation"]["source_basis"], "own_partition", "{v}");
    assert_eq!(
        v["revocation"]["source_updated_at"],
        pf_server::clock::rfc3339(named.this_update),
        "{v}"
    );
    let id_text = v["id"].as_str().unwrap();
    let recorded = gw.gw.ids.open("bank-a", id_text).unwrap().cert.unwrap().partition;
    assert_eq!(recorded, Some(id.clone()));
    let (st, v) = gw
        .get(&format!("/v1/verifications/{id_text}/status"), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["source_basis"], "own_partition", "{v}");
    gw.stop().await;
}

/// The municipality whose CRLs stay fresh, and the one whose CRLs fail to refresh.
const FRESH_TOWN: &str = "131016";
const STALE_TOWN: &str = "131130";

/// A certificate's cRLDistributionPoints DirName and the crl-sync partition id of these tests
/// (`<ca>/<municipality>`) it stands for, which `[index] crl_dp_partitions` maps it to.
fn partition_of(der: &[u8]) -> (String, String) {
    let dp = sp_gateway::index::partition_candidates(der, &Default::default());
    assert_eq!(dp.len(), 1, "{dp:?}");
    let dp = dp[0].clone();
    let ca = dp
        .split(", ")
        .filter_map(|e| e.strip_prefix("OU="))
        .find(|ou| ou.starts_with("sign-") || ou.starts_with("auth-"))
        .unwrap();
    let code = dp.rsplit("CN=").next().unwrap().trim_end_matches(" CRLDP");
    let id = format!("{ca}/{code}");
    (dp, id)
}

/// Three holders of the 2023 generation: `fresh` in [`FRESH_TOWN`], `stale` and `revoked` in
/// [`STALE_TOWN`], registered by bank-a through KYC (and `fresh` logged in too) while every CRL
/// was fresh. Then `revoked` is revoked and crl-sync's view changes to: every partition refreshed
/// a few minutes ago, except [`STALE_TOWN`]'s of both 2023 CA keys, whose last CRL (listing
/// `revoked`) expired two hours ago. The gateway maps the certificates' distribution points to
/// the partition ids (`[index] crl_dp_partitions`).
struct OnePartitionStale {
    gw: Gw,
    /// The holder in the fresh partition.
    holder: Holder,
    /// The holders in the stale partition: not revoked, and revoked.
    stale_holder: Holder,
    revoked_holder: Holder,
    fresh: Registered,
    stale: Registered,
    revoked: Registered,
    /// The login id of `fresh`'s authentication certificate.
    fresh_login: String,
    /// thisUpdate of the fresh partitions, and of the stale ones.
    fresh_at: i64,
    stale_at: i64,
}

struct Registered {
    id: String,
    user_id: String,
    serial: String,
}

async fn one_partition_stale() -> OnePartitionStale {
    let s = sim();
    let (fresh, stale, revoked) = (
        s.issue_in("2023", FRESH_TOWN),
        s.issue_in("2023", STALE_TOWN),
        s.issue_in("2023", STALE_TOWN),
    );
    let mut map = std::collections::BTreeMap::new();
    for der in [&fresh.sign_der, &fresh.auth_der, &stale.sign_der, &stale.auth_der] {
        let (dp, id) = partition_of(der);
        map.insert(dp, id);
    }
    let entries: Vec<String> = map.iter().map(|(dp, id)| format!("{dp:?} = {id:?}")).collect();
    let gw = start(Opts {
        index_extra: format!("crl_dp_partitions = {{ {} }}\n", entries.join(", ")),
        ..Default::default()
    })
    .await;
    let mut registered = Vec::new();
    for h in [&fresh, &stale, &revoked] {
        let (st, v) = gw.kyc(KEY_A, h, b"onboarding").await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["verdict"], "valid", "{v}");
        assert_eq!(v["registered"], true, "{v}");
        registered.push(Registered {
            id: v["id"].as_str().unwrap().to_owned(),
            user_id: v["user_id"].as_str().unwrap().to_owned(),
            serial: v["certificate"]["serial"].as_str().unwrap().to_owned(),
        });
    }
    let (st, c) = gw.post("/v1/challenges", Some(KEY_A), &json!({})).await;
    assert_eq!(st, 201, "{c}");
    let nonce = c["challenge"].as_str().unwrap();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, nonce).unwrap();
    let sig = s.sim.sign_challenge(&fresh.id, &raw).unwrap();
    let (st, v) = gw
        .post(
            "/v1/logins",
            Some(KEY_A),
            &json!({"challenge": nonce, "certificate": support::b64(&fresh.auth_der),
                    "signature": support::b64(&sig), "link_user_id": registered[0].user_id}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["verdict"], "valid", "{v}");
    let fresh_login = v["id"].as_str().unwrap().to_owned();

    // The revocation is dated before the stale partition's last CRL, which lists it.
    let stale_at = now() - time::Duration::hours(3);
    s.sim
        .revoke(
            &Serial::from_hex(&registered[2].serial).unwrap(),
            None,
            Reason::KeyCompromise,
            stale_at - time::Duration::hours(1),
        )
        .unwrap();
    // crl-sync's history, built beside the gateway's directory (it refuses to go back in time
    // in that one): every partition three hours ago for an hour, then all but STALE_TOWN's.
    let fresh_at = now() - time::Duration::minutes(5);
    let stage = gw.dir.path().join("stage");
    let st2 = stage.clone();
    tokio::task::spawn_blocking(move || {
        let s = sim();
        s.build_snapshots(&st2, stale_at, 1);
        let failed = [
            format!("sign-2023/{STALE_TOWN}"),
            format!("auth-2023/{STALE_TOWN}"),
        ];
        let failed: Vec<&str> = failed.iter().map(String::as_str).collect();
        s.build_snapshots_except(&st2, fresh_at, 48, &failed);
    })
    .await
    .unwrap();
    // Move the newest generations in (renamed into place, so the watcher never sees half a file).
    let mut moved = 0;
    for e in std::fs::read_dir(&stage).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_owned();
        if p.extension().is_some_and(|x| x == "snap") && !gw.snap.join(&name).exists() {
            let tmp = gw.snap.join(format!(".{}.tmp-copy", name.to_string_lossy()));
            std::fs::copy(&p, &tmp).unwrap();
            std::fs::rename(&tmp, gw.snap.join(&name)).unwrap();
            moved += 1;
        }
    }
    assert!(moved > 0, "no new snapshot generation");
    // Wait until the gateway has every new generation (the watcher may swap between two files).
    let (fresh_ts, stale_ts) = (fresh_at.unix_timestamp(), stale_at.unix_timestamp());
    let swapped = || {
        gw.gw.index.load().is_some_and(|set| {
            set.snapshots()
                .flat_map(|snap| snap.partitions().iter())
                .all(|p| {
                    let failed = p.id.ends_with(&format!("-2023/{STALE_TOWN}"));
                    p.this_update == if failed { stale_ts } else { fresh_ts }
                })
        })
    };
    for _ in 0..100 {
        if swapped() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(swapped(), "the new snapshots were not swapped in");
    let mut it = registered.into_iter();
    let (fresh_r, stale_r, revoked_r) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    OnePartitionStale {
        gw,
        holder: fresh,
        stale_holder: stale,
        revoked_holder: revoked,
        fresh: fresh_r,
        stale: stale_r,
        revoked: revoked_r,
        fresh_login,
        fresh_at: fresh_at.unix_timestamp(),
        stale_at: stale_at.unix_timestamp(),
    }
}

/// The verifier library, answering revocation through the platform's rule over the same snapshot
/// set (as `jpki-verify --crl-snapshot` does), and the gateway agree for the same certificate,
/// instant and grace: good from the certificate's own fresh partition, unknown from its stale
/// one, revoked from the CRL that lists it; and for other graces the gateway's lookup agrees too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_and_the_gateway_give_the_same_answer() {
    let e = one_partition_stale().await;
    let gw = &e.gw;
    let set = gw.gw.index.load().unwrap();
    let map = &gw.gw.config.index.crl_dp_partitions;
    let data = b"agreement";
    let mut labels = Vec::new();
    for h in [&e.holder, &e.stale_holder, &e.revoked_holder] {
        let sig = sim().sign(h, data);
        let (st, v) = gw.kyc(KEY_A, h, data).await;
        assert_eq!(st, 200, "{v}");
        let at = now().unix_timestamp();
        let ours = |grace: i64| {
            let src = |key: &[u8], serial: &Serial, points: &[String], at: i64| {
                let named: Vec<&str> = points.iter().map(|p| map.get(p).unwrap_or(p).as_str()).collect();
                set.status(key, serial, at, &named, revocation::Policy::with_grace(grace))
            };
            let req = verifier::SignatureRequest {
                cert_der: &h.sign_der,
                kind: Some(jpki::CertKind::Signing),
                payload: verifier::Payload::Data {
                    bytes: data,
                    hash: None,
                },
                signature: &sig,
                scheme: verifier::Scheme::Auto,
                at_unix: at,
            };
            gw.gw.verifier.verify_signature(&req, &src)
        };
        let report = ours(gw.gw.index.grace());
        let status = report.revocation_status.clone().unwrap();
        let f = status.freshness().unwrap();
        let rev = &v["revocation"];
        assert_eq!(rev["status"], status.label(), "{v}");
        assert_eq!(
            rev["source_updated_at"],
            pf_server::clock::rfc3339(f.this_update),
            "{v}"
        );
        assert_eq!(
            rev["source_next_update"],
            pf_server::clock::rfc3339(f.next_update),
            "{v}"
        );
        assert_eq!(rev["source_basis"], f.basis.as_str(), "{v}");
        assert_eq!(v["verdict"], serde_json::to_value(report.verdict).unwrap(), "{v}");
        labels.push(status.label());
        // Other graces: the gateway's lookup and the verifier's agree as well.
        for grace in [0, 3 * 3600, -5] {
            let report = ours(grace);
            let serial = Serial::from_hex(&report.certificate.as_ref().unwrap().serial).unwrap();
            let points = sp_gateway::index::partition_candidates(&h.sign_der, &Default::default());
            // The CA key: the one whose snapshot has the partition that answered.
            let answered = &report
                .revocation_status
                .as_ref()
                .unwrap()
                .freshness()
                .unwrap()
                .partition;
            let snap = set
                .snapshots()
                .find(|snap| snap.partition_index(answered).is_some());
            let key = snap.unwrap().issuer_key_id().to_vec();
            let gateway = sp_gateway::index::status(Some(&set), &key, &serial, at, grace, &points, map);
            assert_eq!(report.revocation_status.as_ref(), Some(&gateway), "grace {grace}");
        }
    }
    assert_eq!(labels, ["good", "unknown", "revoked"]);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_checks_answer_from_the_certificates_own_partition() {
    let e = one_partition_stale().await;
    let gw = &e.gw;
    let fresh_at = pf_server::clock::rfc3339(e.fresh_at);
    let stale_at = pf_server::clock::rfc3339(e.stale_at);
    // The ids carry the partition they were registered with.
    let part = |id: &str| gw.gw.ids.open("bank-a", id).unwrap().cert.unwrap().partition;
    assert_eq!(part(&e.fresh.id), Some(format!("sign-2023/{FRESH_TOWN}")));
    assert_eq!(part(&e.stale.id), Some(format!("sign-2023/{STALE_TOWN}")));
    assert_eq!(part(&e.fresh_login), Some(format!("auth-2023/{FRESH_TOWN}")));

    // One bulk request: by id, user id and serial.
    let (st, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({
                "ids": [e.fresh.id, e.fresh_login, e.stale.id, e.revoked.id],
                "user_ids": [e.fresh.user_id, e.stale.user_id, e.revoked.user_id],
                "serials": [e.fresh.serial, e.stale.serial, e.revoked.serial],
            }),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 10, "{r}");
    let good = [0, 1, 4, 7];
    let unknown = [2, 5, 8];
    let revoked = [3, 6, 9];
    for i in good {
        let item = &results[i];
        assert_eq!(item["status"], "good", "{i}: {item}");
        assert_eq!(item["source_updated_at"], fresh_at.as_str(), "{i}: {item}");
        assert!(item.get("reason_code").is_none(), "{i}: {item}");
    }
    for i in unknown {
        let item = &results[i];
        assert_eq!(item["status"], "unknown", "{i}: {item}");
        assert_eq!(item["reason_code"], "TRY_LATER", "{i}: {item}");
        assert_eq!(item["source_updated_at"], stale_at.as_str(), "{i}: {item}");
        assert_eq!(item["serial"], e.stale.serial.as_str(), "{i}: {item}");
    }
    for i in revoked {
        let item = &results[i];
        assert_eq!(item["status"], "revoked", "{i}: {item}");
        assert_eq!(item["reason"], "keyCompromise", "{i}: {item}");
        assert_eq!(item["source_updated_at"], stale_at.as_str(), "{i}: {item}");
    }
    assert_eq!(results[7]["serial"], e.fresh.serial.as_str());

    // One by one.
    let (st, v) = gw
        .get(&format!("/v1/verifications/{}/status", e.fresh.id), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "good", "{v}");
    assert_eq!(v["source_updated_at"], fresh_at.as_str(), "{v}");
    assert_eq!(v["serial"], e.fresh.serial.as_str(), "{v}");
    let (st, v) = gw
        .get(&format!("/v1/verifications/{}/status", e.stale.id), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "unknown", "{v}");
    assert_eq!(v["reason_code"], "TRY_LATER", "{v}");
    assert_eq!(v["source_updated_at"], stale_at.as_str(), "{v}");
    let (st, v) = gw
        .get(&format!("/v1/verifications/{}/status", e.revoked.id), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "revoked", "{v}");
    assert_eq!(v["reason"], "keyCompromise", "{v}");

    // Two CA keys have a stale partition each: the gateway stays ready (its other partitions
    // answer good) and reports them in the body and the metrics.
    let set = gw.gw.index.load().unwrap();
    let mut stale_keys: Vec<String> = set
        .snapshots()
        .filter(|snap| snap.partitions().iter().any(|p| p.this_update == e.stale_at))
        .map(|snap| hex::encode(snap.issuer_key_id()))
        .collect();
    stale_keys.sort();
    assert_eq!(stale_keys.len(), 2, "{stale_keys:?}");
    let (st, ready) = gw.get("/readyz", None).await;
    assert_eq!(st, 200, "{ready}");
    assert_eq!(ready["checks"]["crl_freshness"]["ok"], false, "{ready}");
    assert_eq!(ready["checks"]["crl_freshness"]["stale_partitions"], 2, "{ready}");
    assert_eq!(
        ready["checks"]["crl_freshness"]["stale_ca_keys"],
        json!(stale_keys),
        "{ready}"
    );
    let m = gw.metrics().await;
    assert_eq!(
        support::sample(&m, "sp_gateway_index_stale_partitions"),
        Some(2.0),
        "{m}"
    );
    for key in &stale_keys {
        let series = format!("sp_gateway_index_ca_stale_partitions{{ca_key=\"{key}\"}}");
        assert_eq!(support::sample(&m, &series), Some(1.0), "{m}");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_without_a_partition_still_answer_from_the_stalest_one() {
    let e = one_partition_stale().await;
    let gw = &e.gw;
    let store = &gw.gw.store;
    let mut con = redis::Client::open(gw.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let users = store.key("bank-a", "users");
    let serials = store.key("bank-a", "serials");
    // What the registrations wrote: the partition after the certificate.
    let fresh = gw.gw.ids.open("bank-a", &e.fresh.id).unwrap().cert.unwrap();
    let tag = hex::encode(fresh.tag);
    let value: String = redis::AsyncCommands::hget(&mut con, &users, format!("{}:sign", e.fresh.user_id))
        .await
        .unwrap();
    assert_eq!(value, format!("{tag}:{}:sign-2023/{FRESH_TOWN}", e.fresh.serial));
    let entry: String = redis::AsyncCommands::hget(&mut con, &serials, &e.fresh.serial)
        .await
        .unwrap();
    assert_eq!(entry, format!("{tag}:sign-2023/{FRESH_TOWN}"));

    // Values and ids from before partitions were recorded: they still name the certificate, and
    // it is answered from its CA key's stalest partition (the stale one), as before.
    let legacy_id = gw
        .gw
        .ids
        .seal(
            "bank-a",
            Some(&sp_gateway::ids::CertRef {
                partition: None,
                ..fresh.clone()
            }),
        )
        .unwrap();
    let _: () = redis::AsyncCommands::hset(&mut con, &users, "usr_legacy:sign", fresh.to_key())
        .await
        .unwrap();
    let (st, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"ids": [legacy_id], "user_ids": ["usr_legacy"]}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    for item in r["results"].as_array().unwrap() {
        assert_eq!(item["status"], "unknown", "{item}");
        assert_eq!(item["reason_code"], "TRY_LATER", "{item}");
        assert_eq!(item["serial"], e.fresh.serial.as_str(), "{item}");
    }
    // A legacy `serials` entry (no partition), and another CA key's entry behind it: registering
    // the certificate again puts the partition on its own entry, in place.
    let _: () = redis::AsyncCommands::hset(&mut con, &serials, &e.fresh.serial, format!("{tag},0badc0de"))
        .await
        .unwrap();
    let (st, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"serials": [e.fresh.serial]}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["results"][0]["status"], "unknown", "{r}");
    let (_, v) = gw.kyc(KEY_A, &e.holder, b"again").await;
    assert_eq!(v["verdict"], "valid", "{v}");
    let entry: String = redis::AsyncCommands::hget(&mut con, &serials, &e.fresh.serial)
        .await
        .unwrap();
    assert_eq!(entry, format!("{tag}:sign-2023/{FRESH_TOWN},0badc0de"));
    let (_, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"serials": [e.fresh.serial]}),
        )
        .await;
    assert_eq!(r["results"][0]["status"], "good", "{r}");
    gw.stop().await;
}
