#!/usr/bin/env bash
# Self-check of the independent Node verifier / signer / canonicalizer against
# published test vectors (W3C vc-di-eddsa, 1EdTech OB 3.0 implementation guide)
# plus round trips (did:key issuer, Bitstring Status List, tampering, offline
# loader). Prints PASS/FAIL per check and "N passed, N failed"; exit 0 iff all
# passed. VECTORS overrides the vectors folder (default: shared/standards/vectors
# beside the repository).
set -u
[ -n "${SELFCHECK_DEBUG:-}" ] && set -x
cd "$(dirname "$0")"
HERE=$PWD
VEC=${VECTORS:-$HERE/../../../shared/standards/vectors}
W3C=$VEC/vc-di-eddsa
OB=$VEC/ob-v3p0-impl-guide
if [ ! -d "$W3C" ] || [ ! -d "$OB" ]; then
  echo "selfcheck: vectors not found under $VEC (set VECTORS)" >&2
  exit 2
fi
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund >&2 || exit 2
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

pass=0
fail=0
check() { # check NAME COMMAND...
  local name=$1; shift
  if "$@" >"$T/last.out" 2>"$T/last.err"; then
    echo "PASS $name"; pass=$((pass + 1))
  else
    echo "FAIL $name"; fail=$((fail + 1))
    sed 's/^/    | /' "$T/last.out" "$T/last.err" | head -20
  fi
}
# jedit IN OUT 'JS statements on d': write a modified copy of a JSON file
jedit() {
  node -e 'const fs=require("fs");const d=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));
new Function("d",process.argv[3])(d);fs.writeFileSync(process.argv[2],JSON.stringify(d,null,2))' "$1" "$2" "$3"
}
# jsonl IN... : one compact JSON line per file (input for canonize.mjs)
jsonl() {
  node -e 'const fs=require("fs");for(const f of process.argv.slice(1))console.log(JSON.stringify(JSON.parse(fs.readFileSync(f,"utf8"))))' "$@"
}
# verify_expect 'JS predicate on L (parsed lines) and rc' ARGS... : run verify.mjs
verify_expect() {
  local pred=$1; shift
  node verify.mjs "$@" >"$T/v.out"; local rc=$?
  cat "$T/v.out"
  node -e 'const fs=require("fs");const L=fs.readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse);
const rc=Number(process.argv[3]);if(!new Function("L","rc","return ("+process.argv[2]+")")(L,rc)){console.error("predicate false, rc="+rc);process.exit(1)}' "$T/v.out" "$pred" "$rc"
}
# same_json A B : deep-equal JSON files (key order ignored)
same_json() {
  node -e 'const fs=require("fs"),assert=require("assert");
assert.deepStrictEqual(JSON.parse(fs.readFileSync(process.argv[1],"utf8")),JSON.parse(fs.readFileSync(process.argv[2],"utf8")))' "$1" "$2"
}
# canon_equals JSONFILE TEXTFILE : canonize.mjs output == the vector text
canon_equals() {
  jsonl "$1" | node canonize.mjs >"$T/c.out" || { cat "$T/c.out"; return 1; }
  node -e 'const fs=require("fs");const got=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));
const want=fs.readFileSync(process.argv[2],"utf8");
if(got!==want){console.log("got:\n"+got+"\nwant:\n"+want);process.exit(1)}' "$T/c.out" "$2"
}
prop() { node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(new Function("d","return "+process.argv[2])(d))' "$1" "$2"; }

RDFC=$W3C/eddsa-rdfc-2022/signedDataInt.json
JCS=$W3C/eddsa-jcs-2022/signedJCS.json
CREATED=$(prop "$RDFC" d.proof.created)

echo "== contexts"
# The verifier's contexts come from npm packages; here they are compared (not
# copied) with the standards bodies' published files under standards/contexts.
STD_CTX=${STD_CONTEXTS:-$VEC/../contexts}
check "npm contexts equal the published v2, OB 3.0.3, extensions.json (and inline examples/v2)" \
  node --input-type=module -e '
import fs from "node:fs"; import assert from "node:assert";
import {CONTEXTS, CONTEXT_SOURCES} from "./loader.mjs";
const dir = process.argv[1];
const pairs = {
  "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
  "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
  "https://www.w3.org/ns/credentials/examples/v2": "credentials-examples-v2.jsonld"};
for(const [url, f] of Object.entries(pairs)) {
  assert.deepStrictEqual(CONTEXTS.get(url), JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")), url);
  console.log(url, "==", f, "from", CONTEXT_SOURCES.get(url));
}' "$STD_CTX"

echo "== W3C vc-di-eddsa vectors"
# The vectors' issuer (https://vc.example/issuers/5678) is not the did:key
# controller of their verification method, so the default (strict, VC issuance
# purpose) verification must reject them; --proof-only checks the proof alone.
check "strict verify rejects the vectors (issuer != key controller)" \
  verify_expect 'rc===1 && L.length===2 && L.every(l=>!l.verified && /issuer must match/.test(l.error))' "$RDFC" "$JCS"
check "verify --proof-only: eddsa-rdfc-2022 and eddsa-jcs-2022 vectors verify" \
  verify_expect 'rc===0 && L.length===2 && L.every(l=>l.verified && l.error===null)' --proof-only "$RDFC" "$JCS"
jedit "$RDFC" "$T/rdfc-tampered.json" 'd.credentialSubject.alumniOf="The School of Examples!"'
jedit "$JCS" "$T/jcs-tampered.json" 'd.credentialSubject.alumniOf="The School of Examples!"'
jedit "$RDFC" "$T/rdfc-created.json" 'd.proof.created="2023-02-24T23:36:39Z"'
jedit "$JCS" "$T/jcs-vm.json" 'd.validFrom="2023-01-01T00:00:01Z"'
check "verify rejects one changed value (subject, proof.created, validFrom)" \
  verify_expect 'rc===1 && L.length===4 && L.every(l=>!l.verified && /Invalid signature/.test(l.error))' \
  --proof-only "$T/rdfc-tampered.json" "$T/jcs-tampered.json" "$T/rdfc-created.json" "$T/jcs-vm.json"
check "verify exits 0 only if all verify (one good + one tampered -> 1)" \
  verify_expect 'rc===1 && L[0].verified && !L[1].verified' --proof-only "$RDFC" "$T/rdfc-tampered.json"
node sign.mjs --cryptosuite eddsa-rdfc-2022 --key "$W3C/keyPair.json" --created "$CREATED" "$W3C/unsigned.json" >"$T/s-rdfc.json"
node sign.mjs --cryptosuite eddsa-jcs-2022 --key "$W3C/keyPair.json" --created "$CREATED" "$W3C/unsigned.json" >"$T/s-jcs.json"
check "sign.mjs eddsa-rdfc-2022 reproduces signedDataInt.json exactly" same_json "$T/s-rdfc.json" "$RDFC"
check "sign.mjs eddsa-jcs-2022 reproduces signedJCS.json exactly" same_json "$T/s-jcs.json" "$JCS"
check "canonize.mjs unsigned.json == canonDocDataInt.txt" \
  canon_equals "$W3C/unsigned.json" "$W3C/eddsa-rdfc-2022/canonDocDataInt.txt"
check "canonize.mjs proofConfigDataInt.json == proofCanonDataInt.txt" \
  canon_equals "$W3C/eddsa-rdfc-2022/proofConfigDataInt.json" "$W3C/eddsa-rdfc-2022/proofCanonDataInt.txt"

echo "== 1EdTech OB 3.0 implementation guide vector"
# expected.json holds the key, proof options and proofValue; the issuer's key
# is served from a controller document at the issuer id (not did:key).
node --input-type=module -e '
import fs from "node:fs";
import * as M from "@digitalbazaar/ed25519-multikey";
const [ob, t] = process.argv.slice(1);
const e = JSON.parse(fs.readFileSync(ob + "/expected.json", "utf8"));
const u = JSON.parse(fs.readFileSync(ob + "/unsigned.json", "utf8"));
const controller = u.issuer.id;
const k = await M.generate({seed: Buffer.from(e.secretKeyHex64.slice(0, 64), "hex"), controller});
if(k.publicKeyMultibase !== e.publicKeyMultibase) throw new Error("key mismatch");
if(k.id !== e.proofOptions.verificationMethod) throw new Error("vm id mismatch");
fs.writeFileSync(t + "/ob-key.json", JSON.stringify({id: k.id, controller,
  publicKeyMultibase: k.publicKeyMultibase, secretKeyMultibase: k.secretKeyMultibase}));
fs.writeFileSync(t + "/ob-controller.json", JSON.stringify({
  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
  id: controller,
  verificationMethod: [{id: k.id, type: "Multikey", controller, publicKeyMultibase: k.publicKeyMultibase}],
  assertionMethod: [k.id]}));
fs.writeFileSync(t + "/ob-signed.json", JSON.stringify({...u, proof: {...e.proofOptions, proofValue: e.proofValue}}, null, 2));
fs.writeFileSync(t + "/ob-proof-options.json", JSON.stringify({"@context": u["@context"], ...e.proofOptions}));
' "$OB" "$T" || { echo "FAIL building OB fixtures"; fail=$((fail + 1)); }
check "canonize.mjs OB unsigned.json == document-canon.txt" canon_equals "$OB/unsigned.json" "$OB/document-canon.txt"
check "canonize.mjs OB proof options == proof-canon.txt" canon_equals "$T/ob-proof-options.json" "$OB/proof-canon.txt"
check "verify: OB vector (unsigned + expected proof) verifies, strict issuer check" \
  verify_expect 'rc===0 && L[0].verified' --controller "$T/ob-controller.json" "$T/ob-signed.json"
jedit "$T/ob-signed.json" "$T/ob-tampered.json" 'd.credentialSubject.achievement.name="Teamwork!"'
check "verify rejects the OB vector with the achievement name changed" \
  verify_expect 'rc===1 && !L[0].verified && /Invalid signature/.test(L[0].error)' --controller "$T/ob-controller.json" "$T/ob-tampered.json"
node sign.mjs --cryptosuite eddsa-rdfc-2022 --key "$T/ob-key.json" --controller "$T/ob-controller.json" \
  --created "$(prop "$OB/expected.json" d.proofOptions.created)" "$OB/unsigned.json" >"$T/ob-resigned.json"
check "sign.mjs reproduces the OB vector proofValue" \
  test "$(prop "$T/ob-resigned.json" d.proof.proofValue)" = "$(prop "$OB/expected.json" d.proofValue)"

echo "== canonicalization details"
printf '%s\n' '{"@context":{"@vocab":"urn:x:"},"@id":"urn:a","note":"bell\u0007 vt\u000b ff\u000c del\u007f nul-ish\u0001 quote\" backslash\\ e-acute\u00e9"}' >"$T/esc.jsonl"
check "RDFC-1.0 escapes control characters (\\u0007 \\u000B \\f \\u007F \\u0001)" bash -c '
  node canonize.mjs <"$1" >"$2" && node -e "const fs=require(\"fs\");const got=JSON.parse(fs.readFileSync(process.argv[1],\"utf8\"));
const want=\"<urn:a> <urn:x:note> \\\"bell\\\\u0007 vt\\\\u000B ff\\\\f del\\\\u007F nul-ish\\\\u0001 quote\\\\\\\" backslash\\\\\\\\ e-acute\u00e9\\\" .\\n\";
if(got!==want){console.log(JSON.stringify(got),JSON.stringify(want));process.exit(1)}" "$2"' _ "$T/esc.jsonl" "$T/esc.out"
printf '%s\n' '{"@context":"https://www.w3.org/ns/credentials/v2","type":"VerifiableCredential","notInContext":1}' \
  '{"@context":"https://example.org/not-packaged","a":1}' >"$T/bad.jsonl"
check "canonize.mjs: safe mode rejects undefined terms, loader refuses unknown URLs" bash -c '
  node canonize.mjs <"$1" >"$2"; rc=$?; cat "$2"; test $rc = 1 &&
  grep -q "Safe mode validation error" "$2" && grep -q "refuses to load" "$2"' _ "$T/bad.jsonl" "$T/bad.out"

echo "== round trips with a did:key issuer"
DID="did:key:$(prop "$W3C/keyPair.json" d.publicKeyMultibase)"
jedit "$W3C/unsigned.json" "$T/dk.json" "d.issuer='$DID'"
jedit "$OB/unsigned.json" "$T/dk-ob.json" "d.issuer.id='$DID'"
for cs in eddsa-rdfc-2022 eddsa-jcs-2022; do
  node sign.mjs --cryptosuite $cs --key "$W3C/keyPair.json" "$T/dk.json" >"$T/dk-$cs.json"
  node sign.mjs --cryptosuite $cs --key "$W3C/keyPair.json" "$T/dk-ob.json" >"$T/dk-ob-$cs.json"
done
check "sign.mjs (now) + strict verify.mjs, both suites, W3C and OB credentials" \
  verify_expect 'rc===0 && L.length===4 && L.every(l=>l.verified)' \
  "$T/dk-eddsa-rdfc-2022.json" "$T/dk-eddsa-jcs-2022.json" "$T/dk-ob-eddsa-rdfc-2022.json" "$T/dk-ob-eddsa-jcs-2022.json"
node -e 'const fs=require("fs");const [a,b,t]=process.argv.slice(1).map((f,i)=>i<2?JSON.parse(fs.readFileSync(f,"utf8")):f);
const w=(n,p)=>fs.writeFileSync(t+"/"+n,JSON.stringify({...a,proof:p}));
w("ps-both.json",[a.proof,b.proof]);
w("ps-one-bad.json",[a.proof,{...b.proof,proofValue:a.proof.proofValue}]);
w("ps-unknown.json",[a.proof,{...b.proof,cryptosuite:"ecdsa-rdfc-2019"}]);
w("ps-array.json",[b.proof]);' "$T/dk-eddsa-rdfc-2022.json" "$T/dk-eddsa-jcs-2022.json" "$T"
check "proof sets: [rdfc, jcs] and a one-element proof array verify" \
  verify_expect 'rc===0 && L.every(l=>l.verified)' "$T/ps-both.json" "$T/ps-array.json"
check "proof sets: every proof must verify (library default: any one suffices)" \
  verify_expect 'rc===1 && /not every proof verified/.test(L[0].error) && /only 1 of 2/.test(L[1].error)' \
  "$T/ps-one-bad.json" "$T/ps-unknown.json"
jedit "$T/dk-eddsa-rdfc-2022.json" "$T/dk-other-issuer.json" "d.issuer='did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi'"
check "strict verify rejects a did:key issuer that is not the signing key" \
  verify_expect 'rc===1 && !L[0].verified' "$T/dk-other-issuer.json"
jedit "$T/dk.json" "$T/dk-undef.json" "d.credentialSubject.notInAnyContext='x'; d['@context']=['https://www.w3.org/ns/credentials/v2']"
check "sign.mjs refuses a credential with a term outside its contexts" \
  bash -c '! node sign.mjs --cryptosuite eddsa-rdfc-2022 --key "$1" "$2"' _ "$W3C/keyPair.json" "$T/dk-undef.json"
jedit "$W3C/keyPair.json" "$T/wrong-key.json" "d.publicKeyMultibase='z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi'"
check "sign.mjs refuses a secret key that does not match the public key" \
  bash -c '! node sign.mjs --cryptosuite eddsa-rdfc-2022 --key "$1" "$2"' _ "$T/wrong-key.json" "$T/dk.json"
jedit "$T/dk-eddsa-rdfc-2022.json" "$T/dk-validuntil.json" "d.validUntil='2024-01-01T00:00:00Z'"
check "verify: validUntil in the past is rejected" \
  verify_expect 'rc===1 && /validUntil/.test(L[0].error)' "$T/dk-validuntil.json"
check "verify --now before validUntil: the date passes, the unsigned validUntil breaks the proof" \
  verify_expect 'rc===1 && /Invalid signature/.test(L[0].error)' --now 2023-06-01T00:00:00Z "$T/dk-validuntil.json"
jedit "$T/dk.json" "$T/dk-vu-unsigned.json" "d.validUntil='2024-01-01T00:00:00Z'"
node sign.mjs --cryptosuite eddsa-rdfc-2022 --key "$W3C/keyPair.json" "$T/dk-vu-unsigned.json" >"$T/dk-vu.json"
check "verify: signed validUntil 2024 fails now, verifies with --now 2023-06-01" bash -c '
  ! node verify.mjs "$1" && node verify.mjs --now 2023-06-01T00:00:00Z "$1"' _ "$T/dk-vu.json"

echo "== Bitstring Status List"
SL=https://status.example/lists/1
node --input-type=module -e '
import fs from "node:fs";
import * as B from "@digitalbazaar/vc-bitstring-status-list";
const [t, url, did] = process.argv.slice(1);
const list = await B.createList({length: 131072});
list.setStatus(7, true);
const c = await B.createCredential({id: url, list, statusPurpose: "revocation"});
c.issuer = did; c.validFrom = "2024-01-01T00:00:00Z";
fs.writeFileSync(t + "/sl-unsigned.json", JSON.stringify(c));
' "$T" "$SL" "$DID"
node sign.mjs --cryptosuite eddsa-rdfc-2022 --key "$W3C/keyPair.json" "$T/sl-unsigned.json" >"$T/sl.json"
jedit "$T/sl.json" "$T/sl-forged.json" 'd.credentialSubject.encodedList=d.credentialSubject.encodedList.replace(/A(?=A*$)/,"B")'
for i in 7 8; do
  jedit "$T/dk.json" "$T/st$i-unsigned.json" "d.credentialStatus={id:'$SL#$i',type:'BitstringStatusListEntry',statusPurpose:'revocation',statusListIndex:'$i',statusListCredential:'$SL'}"
  node sign.mjs --cryptosuite eddsa-jcs-2022 --key "$W3C/keyPair.json" "$T/st$i-unsigned.json" >"$T/st$i.json"
done
check "status: index 7 revoked (verified stays true), index 8 not" \
  verify_expect 'rc===0 && L[0].verified && L[0].status.revocation===true && L[1].verified && L[1].status.revocation===false' \
  --status-list "$SL=$T/sl.json" "$T/st7.json" "$T/st8.json"
check "status: not checked without --status-list (status null)" \
  verify_expect 'rc===0 && L[0].verified && L[0].status===null' "$T/st7.json"
check "status: a forged (re-encoded, unsigned) status list is an error" \
  verify_expect 'rc===1 && !L[0].verified && /not verified/.test(L[0].error)' --status-list "$SL=$T/sl-forged.json" "$T/st7.json"
check "status: a status list for another URL is an error (loader refuses)" \
  verify_expect 'rc===1 && !L[0].verified && /refuses to load/.test(L[0].error)' --status-list "https://status.example/other=$T/sl.json" "$T/st7.json"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
