"""Known-answer tests: the W3C vc-di-eddsa and the OB 3.0 implementation-guide vectors, stage by stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.canonical import canonicalize_rdfc
from kit.credentials import identity_hash
from kit.keys import IssuerKey
from kit.proofs import proof_stages, sign, verify_proof
from tests.conftest import DATA
from tests.helpers import private_copy, run_credkit

W3C = DATA / "vectors" / "vc-di-eddsa"
OB = DATA / "vectors" / "ob-v3p0-impl-guide"
SUITES = {
    "eddsa-rdfc-2022": ("DataInt", "signedDataInt.json"),
    "eddsa-jcs-2022": ("JCS", "signedJCS.json"),
}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _w3c_key() -> IssuerKey:
    return IssuerKey.from_multikey(json.loads(_text(W3C / "keyPair.json")))


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_w3c_vector_every_stage(suite: str) -> None:
    tag, signed_name = SUITES[suite]
    folder = W3C / suite
    unsigned = json.loads(_text(W3C / "unsigned.json"))
    options = json.loads(_text(folder / f"proofConfig{tag}.json"))

    stages = proof_stages(unsigned, options)
    canon_doc_name = "canonDocDataInt.txt" if tag == "DataInt" else "canonDocJCS.txt"
    assert stages.canonical_document == _text(folder / canon_doc_name), "canonical document"
    assert stages.canonical_proof_options == _text(folder / f"proofCanon{tag}.txt"), "canonical proof options"
    assert stages.document_hash.hex() == _text(folder / f"docHash{tag}.txt").strip(), "document hash"
    assert stages.proof_options_hash.hex() == _text(folder / f"proofHash{tag}.txt").strip(), "proof options hash"
    assert stages.message.hex() == _text(folder / f"combinedHash{tag}.txt").strip(), "combined hash"

    key = _w3c_key()
    assert key.sign(stages.message).hex() == _text(folder / f"sigHex{tag}.txt").strip(), "signature"

    signed = sign(unsigned, key, cryptosuite=suite, created=options["created"])
    expected = json.loads(_text(folder / signed_name))
    assert signed["proof"]["proofValue"] == _text(folder / f"sigBTC58{tag}.txt").strip(), "proofValue"
    assert signed == expected, "signed document"
    assert verify_proof(expected).controller == key.did


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_w3c_vector_through_the_cli(suite: str, tmp_path: Path) -> None:
    tag, signed_name = SUITES[suite]
    created = json.loads(_text(W3C / suite / f"proofConfig{tag}.json"))["created"]
    result = run_credkit(
        "sign", str(W3C / "unsigned.json"), "--key", str(private_copy(W3C / "keyPair.json", tmp_path)), "--cryptosuite", suite, "--created", created
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(_text(W3C / suite / signed_name))
    (tmp_path / "signed.json").write_text(result.stdout)
    # The vector's signature holds, but its issuer is not the key's controller, so it is not verified.
    verified = run_credkit("verify", "--json", str(tmp_path / "signed.json"))
    assert verified.returncode == 1
    checks = {c["check"]: c["passed"] for c in json.loads(verified.stdout)["checks"]}
    assert checks["proof"] is True and checks["issuer"] is False


def _ob_key(tmp_path: Path) -> tuple[IssuerKey, Path]:
    expected = json.loads(_text(OB / "expected.json"))
    seed = bytes.fromhex(expected["secretKeyHex64"])[:32]
    key = IssuerKey.from_seed(seed)
    assert key.public_key.hex() == expected["publicKeyHex"]
    assert key.public_key_multibase == expected["publicKeyMultibase"]
    key_file = tmp_path / "ob-key.json"
    key_file.write_text(json.dumps(key.to_multikey()))
    key_file.chmod(0o600)  # credkit refuses a secret key others can read
    return key, key_file


def test_open_badges_vector_every_stage(tmp_path: Path) -> None:
    expected = json.loads(_text(OB / "expected.json"))
    unsigned = json.loads(_text(OB / "unsigned.json"))
    key, _ = _ob_key(tmp_path)
    options = dict(expected["proofOptions"], **{"@context": unsigned["@context"]})
    stages = proof_stages(unsigned, options)
    assert stages.canonical_document == _text(OB / "document-canon.txt"), "canonical document"
    assert stages.canonical_proof_options == _text(OB / "proof-canon.txt"), "canonical proof options"
    assert stages.document_hash.hex() == expected["documentHashHex"]
    assert stages.proof_options_hash.hex() == expected["proofHashHex"]
    assert key.sign(stages.message).hex() == expected["signatureHex"]
    signed = sign(
        unsigned,
        key,
        created=expected["proofOptions"]["created"],
        verification_method=expected["proofOptions"]["verificationMethod"],
    )
    assert signed["proof"][0]["proofValue"] == expected["proofValue"]


def test_open_badges_vector_through_the_cli(tmp_path: Path) -> None:
    expected = json.loads(_text(OB / "expected.json"))
    _, key_file = _ob_key(tmp_path)
    result = run_credkit(
        "sign", str(OB / "unsigned.json"), "--key", str(key_file),
        "--created", expected["proofOptions"]["created"],
        "--verification-method", expected["proofOptions"]["verificationMethod"],
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["proof"][0]["proofValue"] == expected["proofValue"]


def test_control_characters_canonicalize_as_rdfc_requires() -> None:
    literal = "bell\x07 vt\x0b ff\x0c del\x7f nul-ish\x01 quote\" backslash\\ e-acute\u00e9"
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "name": literal,
        "credentialSubject": {"id": "did:example:subject"},
    }
    lines = canonicalize_rdfc(document).splitlines()
    expected = '"bell\\u0007 vt\\u000B ff\\f del\\u007F nul-ish\\u0001 quote\\" backslash\\\\ e-acute\u00e9"'
    assert f"<urn:uuid:00000000-0000-4000-8000-000000000000> <https://schema.org/name> {expected} ." in lines


def test_identity_hash_matches_the_spec_value() -> None:
    assert identity_hash("a@example.com", "Kosher") == (
        "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399"
    )
