"""Standards audit: Open Badges are signed with eddsa-rdfc-2022 only; proof sets verify on one valid accepted proof."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kit import contexts
from kit.canonical import canonicalize_rdfc
from kit.credentials import IssuerProfile, build_credential
from kit.errors import CredkitError
from kit.issuance import CredentialIssuer
from kit.keys import IssuerKey
from kit.ledger import Ledger
from kit.proofs import sign
from kit.verify import verify_credential
from tests.helpers import ENDORSEMENT_JWS, SAMPLE_ISSUER_ARGS, assert_one_line_error, run_credkit, sample_award

ISSUER = IssuerProfile(**SAMPLE_ISSUER_ARGS)  # type: ignore[arg-type]
W3C_UNSIGNED = Path(__file__).resolve().parents[1] / "data" / "vectors" / "vc-di-eddsa" / "unsigned.json"


def _unsigned(key: IssuerKey) -> dict[str, Any]:
    return build_credential(sample_award(), ISSUER, key.did)


def test_credkit_sign_refuses_jcs_for_an_open_badge_only(tmp_path: Path) -> None:
    key = IssuerKey.generate()
    key_file = tmp_path / "k.json"
    key_file.write_text(json.dumps(key.to_multikey()))
    key_file.chmod(0o600)  # a secret key: credkit refuses one others can read
    badge = tmp_path / "badge.json"
    badge.write_text(json.dumps(_unsigned(key)))
    refused = run_credkit("sign", str(badge), "--key", str(key_file), "--cryptosuite", "eddsa-jcs-2022")
    assert_one_line_error(refused, "badge.json", "eddsa-rdfc-2022 only", "reject eddsa-jcs-2022")
    assert refused.stdout == ""
    assert run_credkit("sign", str(badge), "--key", str(key_file)).returncode == 0
    assert W3C_UNSIGNED.is_file()
    other = run_credkit("sign", str(W3C_UNSIGNED), "--key", str(key_file), "--cryptosuite", "eddsa-jcs-2022")
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["proof"]["cryptosuite"] == "eddsa-jcs-2022"


def test_a_course_cannot_issue_open_badges_with_jcs(tmp_path: Path) -> None:
    key = IssuerKey.generate()
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger, pytest.raises(CredkitError, match="eddsa-rdfc-2022 only"):
        CredentialIssuer(key=key, profile=ISSUER, ledger=ledger, wallet_root=tmp_path / "w", status_dir=tmp_path / "s",
                         status_base_url="https://example.edu/status", cryptosuite="eddsa-jcs-2022")


def test_a_third_party_jcs_open_badge_verifies_with_a_loud_note(tmp_path: Path) -> None:
    key = IssuerKey.generate()
    signed = sign(_unsigned(key), key, cryptosuite="eddsa-jcs-2022")  # as another issuer's library may
    path = tmp_path / "third-party.json"
    path.write_text(json.dumps(signed))
    result = run_credkit("verify", str(path))
    assert result.returncode == 0, result.stdout
    line = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["signature"])
    assert line.split()[1] == "NOTE" and "Open Badges 3.0 expects eddsa-rdfc-2022" in line


def _proof_set(document: dict[str, Any], *keys: IssuerKey, suites: tuple[str, ...] = ()) -> dict[str, Any]:
    proofs = [sign(document, k, cryptosuite=suites[i] if suites else "eddsa-rdfc-2022")["proof"][0] for i, k in enumerate(keys)]
    return {**copy.deepcopy(document), "proof": proofs}


def test_a_proof_set_verifies_on_one_valid_proof_by_the_issuer() -> None:
    issuer, endorser = IssuerKey.generate(), IssuerKey.generate()
    unsigned = _unsigned(issuer)
    foreign = {"type": "Ed25519Signature2020", "proofPurpose": "assertionMethod", "verificationMethod": endorser.verification_method,
               "proofValue": "z" + "1" * 80}
    # an issuer proof beside a proof of a suite credkit does not accept
    document = _proof_set(unsigned, issuer)
    document["proof"].insert(0, foreign)
    report = verify_credential(document)
    assert report.verified, report.to_json()
    # two valid proofs: the issuer's is the one that counts, wherever it stands
    both = _proof_set(unsigned, endorser, issuer)
    report = verify_credential(both)
    assert report.verified and issuer.verification_method in report.check("proof").message, report.to_json()  # type: ignore[union-attr]
    # a broken proof beside a valid one by the issuer
    broken = _proof_set(unsigned, endorser, issuer)
    broken["proof"][0]["proofValue"] = broken["proof"][1]["proofValue"]
    assert verify_credential(broken).verified


def test_a_proof_set_without_a_valid_issuer_proof_fails() -> None:
    issuer, forger = IssuerKey.generate(), IssuerKey.generate()
    unsigned = _unsigned(issuer)
    # only the forger's proof holds: the issuer is not its controller
    forged = _proof_set(unsigned, forger, issuer)
    forged["proof"][1]["proofValue"] = forged["proof"][0]["proofValue"]
    report = verify_credential(forged)
    assert not report.verified and "not the signing key's controller" in report.check("issuer").message  # type: ignore[union-attr]
    # altered after signing: every proof fails
    tampered = _proof_set(unsigned, issuer, forger)
    tampered["credentialSubject"]["result"][0]["value"] = "10"
    report = verify_credential(tampered)
    assert not report.verified and "signature does not match" in report.check("proof").message  # type: ignore[union-attr]
    # no proof of an accepted suite at all
    foreign = [{"type": "Ed25519Signature2020", "proofValue": "z1"}, {"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019"}]
    report = verify_credential({**unsigned, "proof": foreign})
    assert not report.verified and "none of the 2 proofs uses a suite credkit accepts" in report.check("proof").message  # type: ignore[union-attr]


ENDORSEMENT_JWT_IRI = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#endorsementJwt"


def _with_endorsement_jwt(unsigned: dict[str, Any], jws: str = ENDORSEMENT_JWS) -> dict[str, Any]:
    """``endorsementJwt`` on the credential, its Achievement and its issuer Profile, as OB 3.0 allows."""
    document = copy.deepcopy(unsigned)
    document["endorsementJwt"] = [jws]
    document["credentialSubject"]["achievement"]["endorsementJwt"] = [jws]
    document["issuer"]["endorsementJwt"] = [jws]
    return document


def test_a_third_party_badge_with_endorsement_jwt_verifies_and_the_jws_is_signed(tmp_path: Path) -> None:
    """``endorsementJwt`` was added to the published OB 3.0 context after our bundled copy was taken.

    credkit merges the term in (kit/data/contexts/ob-v3p0-context-3.0.3-added-terms.json) with the
    IRI of 1EdTech's vocabulary. The published definition could not be read offline: if its IRI
    differed, a third party's credential using the term would fail credkit's signature check.
    """
    key = IssuerKey.generate()
    unsigned = _with_endorsement_jwt(_unsigned(key))
    # the JWS strings are under the signature: one statement each for credential, achievement, issuer
    nquads = canonicalize_rdfc(unsigned)
    signed_lines = [line for line in nquads.splitlines() if f'<{ENDORSEMENT_JWT_IRI}> "{ENDORSEMENT_JWS}" .' in line]
    assert len(signed_lines) == 3, nquads
    assert any(line.startswith(f"<{unsigned['credentialSubject']['achievement']['id']}> ") for line in signed_lines)
    assert any(line.startswith(f"<{unsigned['id']}> ") for line in signed_lines)
    assert any(line.startswith(f"<{key.did}> ") for line in signed_lines)

    signed = sign(unsigned, key)  # as another issuer's library would
    path = tmp_path / "endorsed.json"
    path.write_text(json.dumps(signed))
    result = run_credkit("verify", str(path))
    assert result.returncode == 0, result.stdout + result.stderr

    # a changed endorsement (another signature byte) no longer matches the issuer's proof
    header, payload, signature = ENDORSEMENT_JWS.split(".")
    changed = f"{header}.{payload}.{('B' if signature[0] == 'A' else 'A') + signature[1:]}"
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["endorsementJwt"] = [changed]
    path.write_text(json.dumps(tampered))
    result = run_credkit("verify", str(path))
    assert result.returncode != 0, result.stdout
    line = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["signature"])
    assert "signature does not match" in line, result.stdout


def test_the_added_terms_are_pinned_and_the_upstream_context_is_kept_as_published(monkeypatch: pytest.MonkeyPatch) -> None:
    upstream, _ = contexts.BUNDLED[contexts.OB_V3]
    added, _ = contexts.ADDED_TERMS[contexts.OB_V3]
    upstream_terms = json.loads((Path(contexts.__file__).parent / "data" / "contexts" / upstream).read_bytes())["@context"]
    assert "endorsementJwt" not in upstream_terms and "jti" not in upstream_terms
    merged = contexts.load_context(contexts.OB_V3)["@context"]
    assert merged["endorsementJwt"]["@id"] == ENDORSEMENT_JWT_IRI and "jti" not in merged
    assert {k: v for k, v in merged.items() if k != "endorsementJwt"} == upstream_terms
    monkeypatch.setitem(contexts.ADDED_TERMS, contexts.OB_V3, (added, "0" * 64))
    contexts.load_context.cache_clear()
    try:
        with pytest.raises(CredkitError, match=f"bundled context {added} does not match its pinned sha256"):
            contexts.load_context(contexts.OB_V3)
    finally:
        monkeypatch.undo()
        contexts.load_context.cache_clear()
