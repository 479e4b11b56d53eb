#!/usr/bin/env bash
# The jpki-pf story, end to end, against the J-LIS simulator (embedded defaults, everything under demo-out/):
#   1. J-LIS (simulated) sets up its CAs;
#   2. a customer gets a My Number Card (signing + user-authentication certificates);
#   3. the customer signs a bank-account application with the card;
#   4. the PF verifies it;
#   5. the customer moves house: J-LIS revokes the signing certificate (affiliationChanged) and issues a new one;
#   6. J-LIS publishes the next CRLs, and the PF sees the revocation.
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

say "5. The customer moves house: J-LIS revokes the signing certificate (affiliationChanged) and issues a new one"
"$SIM" move --dir "$D" --holder "$HOLDER" --address "大阪府大阪市北区中之島１丁目３番２０号" --at 2026-11-24T13:00:00Z >"$OUT/move.json"
NEW_SERIAL=$(jq -r '.new.serial // .new_serial // .sign.serial // empty' "$OUT/move.json")
note "old signing cert $OLD_SERIAL revoked; new signing cert ${NEW_SERIAL:-?} ($(jq -c . "$OUT/move.json" | head -c 160)…)"

say "6. J-LIS publishes the next daily CRLs (07:00), and the revocation shows up"
"$SIM" crl --dir "$D" --at 2026-11-25T07:00:00Z >"$OUT/crl.json"
CRL="$D/crl/sign-2023/131016.crl"
note "$(jq -r '[.. | objects | select(has("entries"))] | length' "$OUT/crl.json") CRLs published; partition ${CRL#"$D"/}:"
openssl crl -inform DER -in "$CRL" -CAfile "$ROOT" -noout 2>&1 | sed 's/^/     openssl: /'
openssl crl -inform DER -in "$CRL" -text -noout | grep -A4 "Serial Number: $OLD_SERIAL" | sed 's/^/    /'

say "Done. Everything is under $OUT/."
