#!/usr/bin/env bash
# The jpki-pf story, end to end, against the J-LIS simulator (embedded defaults, everything under demo-out/):
#   1. J-LIS (simulated) sets up its CAs;
#   2. a customer gets a My Number Card (signing + user-authentication certificates);
#   3. the customer signs a bank-account application with the card;
#   4. the PF verifies it (jpki-verify, cross-checked with OpenSSL);
#   5. J-LIS publishes today's CRLs; the PF ingests them (crl-sync) and the certificate is good;
#      the bank runs its KYC through the PF's REST gateway (sp-gateway + its own redis-server);
#   6. the customer moves house: J-LIS revokes the signing certificate (affiliationChanged) and issues a new one;
#   7. J-LIS publishes the next CRLs; crl-sync ingests them, the lookup says revoked and the verifier refuses;
#   8. the bank's liveness check through the gateway says revoked, and so does the PF's OCSP responder
#      (ocsp-proxy, asked with `openssl ocsp`); the audit chain verifies.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
OUT=${DEMO_OUT:-demo-out}
SIM="$BIN/jlis-sim"
rm -rf "$OUT" && mkdir -p "$OUT"
D="$OUT/jlis"
# The timeline ends now, so the gateway (which judges at the real clock) sees fresh CRLs.
iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
T_CRL1=$(iso '-3 hours'); T_INGEST1=$(iso '-175 minutes'); T_VERIFY=$(iso '-170 minutes')
T_MOVE=$(iso '-2 hours'); T_CRL2=$(iso '-1 hour'); T_INGEST2=$(iso '-55 minutes'); T_CHECK=$(iso '-50 minutes')

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
    --cert "$SIGN_CERT" --at "$T_VERIFY" >"$OUT/verify.json"
  rc=$?; set -e
  note "jpki-verify exit $rc: verdict $(jq -r .verdict "$OUT/verify.json"), reason $(jq -r '.reason // "-"' "$OUT/verify.json")"
  note "certificate serial $(jq -r .certificate.serial "$OUT/verify.json"), kind $(jq -r .certificate.kind "$OUT/verify.json"); basic 4 info returned to the SP (sex/date of birth shown): $(jq -c '{sex: .basic_info.sex, date_of_birth: .basic_info.date_of_birth}' "$OUT/verify.json")"
  [ "$rc" -eq 0 ] || { echo "demo: the application should verify" >&2; exit 1; }
fi
openssl x509 -in "$SIGN_CERT" -pubkey -noout >"$OUT/sign.pub.pem"
note "cross-check, OpenSSL: $(openssl dgst -sha256 -verify "$OUT/sign.pub.pem" -signature "$OUT/application.sig" "$OUT/application.txt")"
note "cross-check, OpenSSL chain: $(openssl verify -CAfile "$ROOT" "$SIGN_CERT" 2>&1 | tail -1)"

say "5. J-LIS publishes today's CRLs; the PF ingests them with crl-sync and checks the customer"
"$SIM" crl --dir "$D" --at "$T_CRL1" >"$OUT/crl-day1.json"
cat "$D"/ca/sign-*/root.pem >"$OUT/sign-cas.pem"
SNAP="$OUT/snapshots"
ingest() { # ingest NOW LABEL: every signing-hierarchy partition into $SNAP, as the 07:05 cron job would
  local f rc
  for f in "$D"/crl/sign-*/*.crl; do
    set +e
    "$BIN/crl-sync" ingest --crl "$f" --issuer "$OUT/sign-cas.pem" --out "$SNAP" \
      --partition "$(basename "$(dirname "$f")")/$(basename "$f" .crl)" --now "$1" --json >"$OUT/ingest.json"
    rc=$?; set -e
    [ "$rc" -eq 0 ] || { echo "demo: crl-sync ingest $f exit $rc" >&2; cat "$OUT/ingest.json" >&2; exit 1; }
    jq -c '.partitions[]' "$OUT/ingest.json" >>"$OUT/ingest-$2.jsonl"
  done
  note "crl-sync ingest: $(jq -s 'length' "$OUT/ingest-$2.jsonl") partitions verified and indexed ($(jq -rs 'group_by(.status) | map("\(length) \(.[0].status)") | join(", ")' "$OUT/ingest-$2.jsonl")); snapshot files: $(ls "$SNAP" | grep -c '\.snap$') (newest few generations per CA key)"
  jq -r 'select((.entries // 0) > 0) | "   crl-sync: \(.partition) CRL number \(.crl_number), \(.entries) revoked entries"' "$OUT/ingest-$2.jsonl"
}
ingest "$T_INGEST1" day1
"$BIN/crl-sync" lookup --snapshot "$SNAP" "$OLD_SERIAL" --now "$T_VERIFY" >"$OUT/lookup-before.json"
note "crl-sync lookup $OLD_SERIAL: $(jq -c '{status, this_update, next_update}' "$OUT/lookup-before.json")"
[ "$(jq -r .status "$OUT/lookup-before.json")" = good ] || { echo "demo: the certificate should be good" >&2; exit 1; }

say "5b. The bank runs its KYC (犯収法 JPKI method) through the PF's REST gateway (sp-gateway, with its own redis-server)"
GW="$OUT/gateway"; mkdir -p "$GW/roots"
free_port() { # a loopback port nobody listens on
  local p
  while :; do p=$((20000 + RANDOM % 40000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done
}
RPORT=$(free_port); GPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$GW" >"$GW/redis.log" 2>&1 &
RPID=$!
GPID=
trap 'kill $GPID $RPID 2>/dev/null || true' EXIT
for id in sign-2019 sign-2023 sign-2026 auth-2019 auth-2023 auth-2026; do cp "$D/ca/$id/root.der" "$GW/roots/$id.der"; done
"$BIN/sp-gateway" gen-key >"$GW/key.json"
KEY=$(jq -r .api_key "$GW/key.json")
openssl rand -hex 32 >"$GW/id.secret"
# No partition map: the customer's cRLDistributionPoints DirName is the name its municipality's CRL gives
# itself (issuingDistributionPoint), which crl-sync keeps in the snapshot, so KYC and later status checks
# answer from that partition with no configuration.
DP=$(openssl x509 -in "$SIGN_CERT" -noout -ext crlDistributionPoints | sed -n 's/^ *DirName://p' | head -1 | sed 's/ = /=/g')
{
  printf 'listen = "127.0.0.1:%s"\nworkers = 1\nsnapshot_dir = "%s"\naudit_log = "%s"\nid_secret_file = "%s"\n' \
    "$GPORT" "$(realpath -m "$SNAP")" "$(realpath -m "$GW/audit.jsonl")" "$(realpath -m "$GW/id.secret")"
  printf '[trust]\nhierarchy = "production"\nroots = [\n'
  for f in "$GW"/roots/*.der; do printf '  { path = "%s" },\n' "$(realpath -m "$f")"; done
  printf ']\n[redis]\nurl = "redis://127.0.0.1:%s/"\n[index]\nreload_interval_ms = 500\n' "$RPORT"
  printf '[jlis]\nbase_url = "http://127.0.0.1:9"\n'
  printf '[[sp]]\nid = "bank-a"\nname = "Bank A"\napi_key_sha256 = ["%s"]\n' "$(jq -r .api_key_sha256 "$GW/key.json")"
  printf 'purposes = ["kyc", "login", "status", "basic_info"]\nrequests_per_second = 50\nburst = 100\n'
  printf 'items_per_second = 2000\nitems_burst = 100000\n'
} >"$GW/sp-gateway.toml"
RUST_LOG=warn "$BIN/sp-gateway" serve --config "$GW/sp-gateway.toml" >"$GW/gateway.log" 2>&1 &
GPID=$!
PF="http://127.0.0.1:$GPORT"
for _ in $(seq 100); do curl -fs "$PF/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$PF/readyz" >/dev/null || { echo "demo: sp-gateway not ready" >&2; cat "$GW/gateway.log" >&2; exit 1; }
CERT_DER="$GW/sign-cert.der"; openssl x509 -in "$SIGN_CERT" -outform DER -out "$CERT_DER"
jq -n --arg c "$(base64 -w0 "$CERT_DER")" --arg s "$(base64 -w0 "$OUT/application.sig")" \
  --arg d "$(base64 -w0 "$OUT/application.txt")" '{certificate: $c, signature: $s, data: $d, hash: "sha256"}' >"$GW/kyc.json"
curl -sS "$PF/v1/verifications" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -H 'Idempotency-Key: demo-kyc-1' --data-binary @"$GW/kyc.json" >"$GW/kyc-answer.json"
VID=$(jq -r '.id // empty' "$GW/kyc-answer.json")
note "the customer's cRLDistributionPoints name, which its CRL's issuingDistributionPoint repeats: $DP"
note "POST /v1/verifications: $(jq -c '{verdict, reason, user_id, certificate: .certificate.serial, revocation: (.revocation | {status, check_method, source_basis, source_updated_at}), basic_info: (.basic_info != null)}' "$GW/kyc-answer.json")"
[ "$(jq -r .revocation.source_basis "$GW/kyc-answer.json")" = own_partition ] || { echo "demo: the KYC should answer from the customer's own partition" >&2; exit 1; }
[ "$(jq -r .verdict "$GW/kyc-answer.json")" = valid ] && [ -n "$VID" ] || { echo "demo: the gateway KYC should be valid" >&2; cat "$GW/kyc-answer.json" >&2; exit 1; }
gw_status() {
  curl -sS "$PF/v1/certificate-status" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"ids\": [\"$VID\"]}" | jq -c '.results[0] // .items[0] // .'
}
note "POST /v1/certificate-status (liveness check later on): $(gw_status)"
curl -sS "$PF/v1/certificate-status" -H 'Authorization: Bearer not-a-key' -H 'Content-Type: application/json' -d '{"ids": []}' \
  | jq -c '"   without a valid key: \(.error.code)"' -r

say "5c. SPs whose systems speak OCSP ask the PF's responder (ocsp-proxy) with their usual client"
OC="$OUT/ocsp"; mkdir -p "$OC"
# The PF's own responder certificate: J-LIS does not delegate OCSP signing, so SPs trust it directly.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OC/responder.key" -out "$OC/responder.pem" \
  -days 30 -subj "/C=JP/O=JPKI-PF demo/CN=PF OCSP responder" -addext extendedKeyUsage=OCSPSigning \
  -addext keyUsage=critical,digitalSignature 2>/dev/null
OPORT=$(free_port)
{
  printf 'listen = "127.0.0.1:%s"\nworkers = 1\nsnapshot_dir = "%s"\n' "$OPORT" "$(realpath -m "$SNAP")"
  printf 'ca_certs = ["%s"]\n' "$(realpath -m "$OUT/sign-cas.pem")"
  printf '[responder]\ncert = "%s"\nkey = "%s"\n' "$(realpath -m "$OC/responder.pem")" "$(realpath -m "$OC/responder.key")"
  printf '[index]\nreload_interval_ms = 500\n'
} >"$OC/ocsp-proxy.toml"
RUST_LOG=warn "$BIN/ocsp-proxy" serve --config "$OC/ocsp-proxy.toml" >"$OC/ocsp-proxy.log" 2>&1 &
OPID=$!
trap 'kill $GPID $RPID $OPID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$OPORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
ocsp_check() { # the customer's signing certificate, as an SP's OpenSSL-based stack would ask
  openssl ocsp -issuer "$ROOT" -cert "$SIGN_CERT" -url "http://127.0.0.1:$OPORT/" -VAfile "$OC/responder.pem" -nonce 2>&1
}
ocsp_check >"$OC/before.txt" || true
note "openssl ocsp: $(grep -E 'Response verify|: (good|revoked|unknown)' "$OC/before.txt" | paste -sd ';' | tr -s ' ')"
grep -q ': good' "$OC/before.txt" || { echo "demo: the OCSP answer should be good" >&2; cat "$OC/before.txt" "$OC/ocsp-proxy.log" >&2; exit 1; }

say "6. The customer moves house: J-LIS revokes the signing certificate (affiliationChanged) and issues a new one"
"$SIM" move --dir "$D" --holder "$HOLDER" --address "大阪府大阪市北区中之島１丁目３番２０号" --at "$T_MOVE" >"$OUT/move.json"
NEW_SERIAL=$(jq -r '.new.serial // .new_serial // .sign.serial // empty' "$OUT/move.json")
note "old signing cert $OLD_SERIAL revoked; new signing cert ${NEW_SERIAL:-?}"

say "7. J-LIS publishes the next daily CRLs; crl-sync ingests them and the PF sees the revocation"
"$SIM" crl --dir "$D" --at "$T_CRL2" >"$OUT/crl.json"
CRL="$D/crl/sign-2023/131016.crl"
note "$(jq -r '[.. | objects | select(has("entries"))] | length' "$OUT/crl.json") CRLs published; partition ${CRL#"$D"/}:"
openssl crl -inform DER -in "$CRL" -CAfile "$ROOT" -noout 2>&1 | sed 's/^/     openssl: /'
openssl crl -inform DER -in "$CRL" -text -noout | grep -A4 "Serial Number: $OLD_SERIAL" | sed 's/^/    /'
ingest "$T_INGEST2" day2
"$BIN/crl-sync" lookup --snapshot "$SNAP" "$OLD_SERIAL" --now "$T_CHECK" >"$OUT/lookup-after.json"
note "crl-sync lookup $OLD_SERIAL: $(jq -c '{status, reason, revoked_at}' "$OUT/lookup-after.json")"
[ "$(jq -r .status "$OUT/lookup-after.json")" = revoked ] || { echo "demo: the old certificate should be revoked" >&2; exit 1; }
if [ -n "${NEW_SERIAL:-}" ]; then
  "$BIN/crl-sync" lookup --snapshot "$SNAP" "$NEW_SERIAL" --now "$T_CHECK" >"$OUT/lookup-new.json"
  note "crl-sync lookup $NEW_SERIAL (the new certificate): $(jq -c '{status}' "$OUT/lookup-new.json")"
fi
if [ -x "$BIN/jpki-verify" ]; then
  set +e
  "$BIN/jpki-verify" --trust "$OUT/trust" --kind sign --data "$OUT/application.txt" --signature "$OUT/application.sig" \
    --cert "$SIGN_CERT" --crl-snapshot "$SNAP" --at "$T_CHECK" >"$OUT/verify-after.json" 2>"$OUT/verify-after.log"
  rc=$?; set -e
  note "jpki-verify with the snapshot, after the move: exit $rc, verdict $(jq -r .verdict "$OUT/verify-after.json"), reason $(jq -r '.reason // "-"' "$OUT/verify-after.json"), revocation $(jq -c '.revocation | {status, reason}' "$OUT/verify-after.json")"
  [ "$rc" -eq 1 ] || { echo "demo: the old certificate must not verify after the move" >&2; exit 1; }
fi

say "8. The bank's later liveness check through the gateway now says revoked, and so does the OCSP responder"
sleep 1.5 # the gateway and the responder pick up the new snapshot within their reload interval
note "POST /v1/certificate-status: $(gw_status)"
ocsp_check >"$OC/after.txt" || true
note "openssl ocsp: $(grep -E 'Response verify|: (good|revoked|unknown)|Reason' "$OC/after.txt" | paste -sd ';' | tr -s ' ')"
grep -q ': revoked' "$OC/after.txt" || { echo "demo: the OCSP answer should be revoked after the move" >&2; cat "$OC/after.txt" >&2; exit 1; }
note "audit log (動作記録): $(wc -l <"$GW/audit.jsonl") hash-chained lines; sp-gateway audit verify: $("$BIN/sp-gateway" audit verify "$GW/audit.jsonl" | jq -c .)"
if grep -q '渡辺' "$GW/audit.jsonl" "$GW/gateway.log"; then echo "demo: personal data in the audit log or logs" >&2; exit 1; fi
note "no 4 info in the audit log or the gateway log (checked)"

say "Done. Everything is under $OUT/."
