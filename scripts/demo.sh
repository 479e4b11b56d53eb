#!/usr/bin/env bash
# The jpki-pf story, end to end, against the J-LIS simulator (embedded defaults, everything under demo-out/):
#   1. J-LIS (simulated) sets up its CAs;
#   2. a customer gets a My Number Card (signing + user-authentication certificates);
#   3. the customer signs a bank-account application with the card;
#   4. the PF verifies it (jpki-verify, cross-checked with OpenSSL);
#   5. J-LIS publishes today's CRLs; the PF ingests them (crl-sync) and the certificate is good;
#   6. the customer moves house: J-LIS revokes the signing certificate (affiliationChanged) and issues a new one;
#   7. J-LIS publishes the next CRLs; crl-sync ingests them, the lookup says revoked and the verifier refuses.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
OUT=${DEMO_OUT:-demo-out}
SIM="$BIN/jlis-sim"
rm -rf "$OUT" && mkdir -p "$OUT"
D="$OUT/jlis"

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

say "1. J-LIS simulator: CA hierarchies (RSA-2048 generations 2019 and 2023 sharing one DN, ECDSA P-384 2026, a test hierarchy)"
"$SIM" init --dir "$D" --at 2026-11-01T00:00:00Z >"$OUT/init.json"
jq -r '.cas[] | "   \(.id)\tkey id \(.key_id)\tSHA-256 \(.fingerprint_sha256[0:16])…"' "$OUT/init.json"

say "2. A customer receives a My Number Card (signing + user-authentication certificates)"
"$SIM" issue --dir "$D" --name "渡辺　花子" --address "東京都千代田区千代田１番１号" --dob 419900215 --sex 2 \
  --municipality 131016 --at 2026-11-02T09:00:00Z >"$OUT/issue.json"
HOLDER=$(jq -r .holder "$OUT/issue.json")
SIGN_CERT=$(jq -r .sign.cert "$OUT/issue.json"); OLD_SERIAL=$(jq -r .sign.serial "$OUT/issue.json")
note "holder $HOLDER: signing cert serial $OLD_SERIAL (${SIGN_CERT##*/}), auth cert serial $(jq -r .auth.serial "$OUT/issue.json")"
note "subjectAltName carries the basic 4 information as otherNames:"
san=$(openssl asn1parse -in "$SIGN_CERT" | grep -A1 "Subject Alternative Name" | tail -1 | cut -d: -f1 | tr -d ' ')
openssl asn1parse -in "$SIGN_CERT" -strparse "$san" | grep -o '1\.2\.392\.200149\.8\.5\.5\.[0-9]' | sed 's/^/     /' | paste -sd' ' 

say "3. The customer signs a bank-account application with the card (PKCS#1 v1.5, SHA-256; and CMS detached)"
printf '口座開設申込書\n申込日: 2026-11-23\n' >"$OUT/application.txt"
"$SIM" sign --dir "$D" --holder "$HOLDER" --data "$OUT/application.txt" --hash sha256 --out "$OUT/application.sig" >/dev/null
"$SIM" sign --dir "$D" --holder "$HOLDER" --data "$OUT/application.txt" --cms detached --out "$OUT/application.p7s" >/dev/null
note "signature: $(stat -c %s "$OUT/application.sig") bytes; CMS: $(stat -c %s "$OUT/application.p7s") bytes"

say "4. The PF verifies the application"
ROOT=$(jq -r '.cas[] | select(.id=="sign-2023") | .cert' "$OUT/init.json")
mkdir -p "$OUT/trust"; for id in sign-2019 sign-2023 sign-2026; do cp "$D/ca/$id/root.pem" "$OUT/trust/$id.pem"; done
if [ -x "$BIN/jpki-verify" ]; then
  set +e
  "$BIN/jpki-verify" --trust "$OUT/trust" --kind sign --data "$OUT/application.txt" --signature "$OUT/application.sig" \
    --cert "$SIGN_CERT" --at 2026-11-23T10:00:00Z >"$OUT/verify.json"
  rc=$?; set -e
  note "jpki-verify exit $rc: verdict $(jq -r .verdict "$OUT/verify.json"), reason $(jq -r '.reason // "-"' "$OUT/verify.json")"
  note "certificate serial $(jq -r .certificate.serial "$OUT/verify.json"), kind $(jq -r .certificate.kind "$OUT/verify.json"); basic 4 info returned to the SP (sex/date of birth shown): $(jq -c '{sex: .basic_info.sex, date_of_birth: .basic_info.date_of_birth}' "$OUT/verify.json")"
  [ "$rc" -eq 0 ] || { echo "demo: the application should verify" >&2; exit 1; }
fi
openssl x509 -in "$SIGN_CERT" -pubkey -noout >"$OUT/sign.pub.pem"
note "cross-check, OpenSSL: $(openssl dgst -sha256 -verify "$OUT/sign.pub.pem" -signature "$OUT/application.sig" "$OUT/application.txt")"
note "cross-check, OpenSSL chain: $(openssl verify -CAfile "$ROOT" "$SIGN_CERT" 2>&1 | tail -1)"

say "5. J-LIS publishes today's CRLs (07:00); the PF ingests them with crl-sync and checks the customer"
"$SIM" crl --dir "$D" --at 2026-11-23T07:00:00Z >"$OUT/crl-day1.json"
cat "$D"/ca/sign-*/root.pem >"$OUT/sign-cas.pem"
SNAP="$OUT/snapshots"
ingest() { # ingest NOW: every signing-hierarchy partition into $SNAP, as the 07:05 cron job would
  local f rc
  for f in "$D"/crl/sign-*/*.crl; do
    set +e
    "$BIN/crl-sync" ingest --crl "$f" --issuer "$OUT/sign-cas.pem" --out "$SNAP" \
      --partition "$(basename "$(dirname "$f")")/$(basename "$f" .crl)" --now "$1" --json >"$OUT/ingest.json"
    rc=$?; set -e
    [ "$rc" -eq 0 ] || { echo "demo: crl-sync ingest $f exit $rc" >&2; cat "$OUT/ingest.json" >&2; exit 1; }
    jq -c '.partitions[]' "$OUT/ingest.json" >>"$OUT/ingest-$1.jsonl"
  done
  note "crl-sync ingest: $(jq -s 'length' "$OUT/ingest-$1.jsonl") partitions verified and indexed ($(jq -rs 'group_by(.status) | map("\(length) \(.[0].status)") | join(", ")' "$OUT/ingest-$1.jsonl")); snapshot files: $(ls "$SNAP" | grep -c '\.snap$') (newest few generations per CA key)"
  jq -r 'select((.entries // 0) > 0) | "   crl-sync: \(.partition) CRL number \(.crl_number), \(.entries) revoked entries"' "$OUT/ingest-$1.jsonl"
}
ingest 2026-11-23T07:05:00Z
"$BIN/crl-sync" lookup --snapshot "$SNAP" "$OLD_SERIAL" --now 2026-11-23T10:00:00Z >"$OUT/lookup-before.json"
note "crl-sync lookup $OLD_SERIAL: $(jq -c '{status, this_update, next_update}' "$OUT/lookup-before.json")"
[ "$(jq -r .status "$OUT/lookup-before.json")" = good ] || { echo "demo: the certificate should be good" >&2; exit 1; }

say "6. The customer moves house: J-LIS revokes the signing certificate (affiliationChanged) and issues a new one"
"$SIM" move --dir "$D" --holder "$HOLDER" --address "大阪府大阪市北区中之島１丁目３番２０号" --at 2026-11-24T13:00:00Z >"$OUT/move.json"
NEW_SERIAL=$(jq -r '.new.serial // .new_serial // .sign.serial // empty' "$OUT/move.json")
note "old signing cert $OLD_SERIAL revoked; new signing cert ${NEW_SERIAL:-?}"

say "7. J-LIS publishes the next daily CRLs (07:00); crl-sync ingests them and the PF sees the revocation"
"$SIM" crl --dir "$D" --at 2026-11-25T07:00:00Z >"$OUT/crl.json"
CRL="$D/crl/sign-2023/131016.crl"
note "$(jq -r '[.. | objects | select(has("entries"))] | length' "$OUT/crl.json") CRLs published; partition ${CRL#"$D"/}:"
openssl crl -inform DER -in "$CRL" -CAfile "$ROOT" -noout 2>&1 | sed 's/^/     openssl: /'
openssl crl -inform DER -in "$CRL" -text -noout | grep -A4 "Serial Number: $OLD_SERIAL" | sed 's/^/    /'
ingest 2026-11-25T07:05:00Z
"$BIN/crl-sync" lookup --snapshot "$SNAP" "$OLD_SERIAL" --now 2026-11-25T08:00:00Z >"$OUT/lookup-after.json"
note "crl-sync lookup $OLD_SERIAL: $(jq -c '{status, reason, revoked_at}' "$OUT/lookup-after.json")"
[ "$(jq -r .status "$OUT/lookup-after.json")" = revoked ] || { echo "demo: the old certificate should be revoked" >&2; exit 1; }
if [ -n "${NEW_SERIAL:-}" ]; then
  "$BIN/crl-sync" lookup --snapshot "$SNAP" "$NEW_SERIAL" --now 2026-11-25T08:00:00Z >"$OUT/lookup-new.json"
  note "crl-sync lookup $NEW_SERIAL (the new certificate): $(jq -c '{status}' "$OUT/lookup-new.json")"
fi
if [ -x "$BIN/jpki-verify" ]; then
  set +e
  "$BIN/jpki-verify" --trust "$OUT/trust" --kind sign --data "$OUT/application.txt" --signature "$OUT/application.sig" \
    --cert "$SIGN_CERT" --crl-snapshot "$SNAP" --at 2026-11-25T08:00:00Z >"$OUT/verify-after.json" 2>"$OUT/verify-after.log"
  rc=$?; set -e
  note "jpki-verify with the snapshot, after the move: exit $rc, verdict $(jq -r .verdict "$OUT/verify-after.json"), reason $(jq -r '.reason // "-"' "$OUT/verify-after.json"), revocation $(jq -c '.revocation | {status, reason}' "$OUT/verify-after.json")"
  [ "$rc" -eq 1 ] || { echo "demo: the old certificate must not verify after the move" >&2; exit 1; }
fi

say "Done. Everything is under $OUT/."
