"""Tampering and misuse: every change to an issued credential makes verification fail, by name."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kit.credentials import IssuerProfile, build_credential
from kit.errors import SigningError, VerificationError
from kit.keys import IssuerKey
from kit.proofs import sign
from kit.verify import verify, verify_credential
from tests.helpers import SAMPLE_ISSUER_ARGS, assert_one_line_error, run_credkit, sample_award

ISSUER = IssuerProfile(**SAMPLE_ISSUER_ARGS)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def key() -> IssuerKey:
    return IssuerKey.generate()


@pytest.fixture(scope="module", params=["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def issued(request: pytest.FixtureRequest, key: IssuerKey) -> dict[str, Any]:
    return sign(build_credential(sample_award(), ISSUER, key.did), key, cryptosuite=request.param)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _altered(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    return value + "x" if value else "x"


def test_issued_credential_verifies(issued: dict[str, Any]) -> None:
    report = verify_credential(issued, recipient="ada.lovelace@example.edu")
    assert report.verified, report.to_json()
    # every outcome is stated, including the ones that do not apply (no status entry here)
    assert [c.name for c in report.checks] == ["format", "proof", "issuer", "validity", "schema", "status", "recipient"]
    issuer = report.check("issuer")
    assert issuer is not None and issuer.caution and 'the name "Example University" is only claimed' in issuer.message
    assert report.to_json()["issuer"] == {"id": issued["issuer"]["id"], "name": "Example University", "domain": None, "registries": []}


def test_changing_any_leaf_fails_verification(issued: dict[str, Any]) -> None:
    leaves = list(_leaves(issued))
    assert len(leaves) > 50
    for path, value in leaves:
        tampered = copy.deepcopy(issued)
        parent = tampered
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = _altered(value)
        report = verify_credential(tampered)
        assert not report.verified, f"changing {'/'.join(map(str, path))} went unnoticed"
        assert report.first_failure is not None and report.first_failure.name in {"format", "proof"}, path


def test_cli_names_the_failing_check_for_a_tampered_file(issued: dict[str, Any], tmp_path: Path) -> None:
    tampered = copy.deepcopy(issued)
    tampered["credentialSubject"]["result"][0]["value"] = "10"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    (tmp_path / "good.json").write_text(json.dumps(issued))
    plain = run_credkit("verify", str(tmp_path / "good.json"), str(tmp_path / "tampered.json"))
    assert plain.returncode == 1
    # one verdict line per file, then one indented line per outcome
    lines = [line for line in plain.stdout.splitlines() if not line.startswith(" ")]
    assert lines[0].startswith("OK") and lines[1].startswith("FAIL") and "tampered.json" in lines[1]
    assert "proof: the signature does not match" in lines[1]
    details = plain.stdout.split("FAIL", 1)[1].splitlines()[1:]
    assert any(line.split()[:2] == ["signature", "FAIL"] for line in details), details
    assert any(line.split()[0] == "issuer" and "identity not bound to any domain" in line for line in plain.stdout.splitlines())
    as_json = run_credkit("verify", "--json", str(tmp_path / "tampered.json"))
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["verified"] is False and report["status"] == "invalid"
    assert {c["check"]: c["passed"] for c in report["checks"]}["proof"] is False


def test_removed_proof(issued: dict[str, Any]) -> None:
    bare = {k: v for k, v in issued.items() if k != "proof"}
    with pytest.raises(VerificationError, match="no proof") as info:
        verify(bare)
    assert info.value.check == "proof"


def test_signed_by_a_different_key(key: IssuerKey) -> None:
    other = IssuerKey.generate()
    forged = sign(build_credential(sample_award(), ISSUER, key.did), other)
    with pytest.raises(VerificationError, match="not the signing key's controller") as info:
        verify(forged)
    assert info.value.check == "issuer"


def test_swapped_issuer(issued: dict[str, Any]) -> None:
    swapped = copy.deepcopy(issued)
    swapped["issuer"]["id"] = IssuerKey.generate().did
    with pytest.raises(VerificationError, match="signature does not match"):
        verify(swapped)


def test_swapped_verification_method(issued: dict[str, Any]) -> None:
    swapped = copy.deepcopy(issued)
    other = IssuerKey.generate()
    proof = swapped["proof"][0]
    proof["verificationMethod"] = other.verification_method
    with pytest.raises(VerificationError) as info:
        verify(swapped)
    assert info.value.check in {"proof", "issuer"}


def test_expired_and_not_yet_valid(key: IssuerKey, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    expired = sign(build_credential(sample_award(valid_from=now - timedelta(days=30), valid_until=now - timedelta(days=1)), ISSUER, key.did), key)
    future = sign(build_credential(sample_award(valid_from=now + timedelta(days=30)), ISSUER, key.did), key)
    assert verify_credential(expired).status == "expired"
    assert verify_credential(future).status == "not-yet-valid"
    (tmp_path / "expired.json").write_text(json.dumps(expired))
    result = run_credkit("verify", str(tmp_path / "expired.json"))
    assert result.returncode == 1 and "expired" in result.stdout


def test_wrong_recipient(issued: dict[str, Any], tmp_path: Path) -> None:
    assert verify_credential(issued, recipient="Ada.Lovelace@example.edu").verified
    report = verify_credential(issued, recipient="grace.hopper@example.edu")
    assert not report.verified and report.first_failure is not None and report.first_failure.name == "recipient"
    (tmp_path / "c.json").write_text(json.dumps(issued))
    result = run_credkit("verify", str(tmp_path / "c.json"), "--recipient", "grace.hopper@example.edu")
    assert result.returncode == 1 and "recipient: not issued to grace.hopper@example.edu" in result.stdout


@pytest.mark.parametrize("cryptosuite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def test_property_outside_the_contexts_is_refused_when_issuing(key: IssuerKey, cryptosuite: str, tmp_path: Path) -> None:
    document = build_credential(sample_award(), ISSUER, key.did)
    top = dict(document, gpa="4.0")
    nested = copy.deepcopy(document)
    nested["credentialSubject"]["achievement"]["secretSauce"] = "x"
    for bad, name in ((top, "gpa"), (nested, "secretSauce")):
        with pytest.raises(SigningError, match=f"property .*{name}.* is not defined"):
            sign(bad, key, cryptosuite=cryptosuite)
    relative = dict(document, id="credentials/1")
    with pytest.raises(SigningError, match="relative IRI"):
        sign(relative, key, cryptosuite=cryptosuite)
    (tmp_path / "k.json").write_text(json.dumps(key.to_multikey()))
    (tmp_path / "k.json").chmod(0o600)  # a secret key others can read is refused before anything else
    (tmp_path / "bad.json").write_text(json.dumps(top))
    # the CLI refuses eddsa-jcs-2022 for an Open Badge before looking further (tests/core/test_suites_and_proof_sets.py)
    reason = "gpa" if cryptosuite == "eddsa-rdfc-2022" else "eddsa-rdfc-2022 only"
    assert_one_line_error(run_credkit("sign", str(tmp_path / "bad.json"), "--key", str(tmp_path / "k.json"), "--cryptosuite", cryptosuite), "bad.json", reason)


def test_unbundled_context_is_refused(key: IssuerKey) -> None:
    document = build_credential(sample_award(), ISSUER, key.did)
    document["@context"] = [*document["@context"], "https://evil.example/context.jsonld"]
    with pytest.raises(SigningError, match="not bundled"):
        sign(document, key)


def test_malformed_inputs_to_verify_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "notjson.json").write_text("{not json")
    (tmp_path / "array.json").write_text("[1, 2]")
    result = run_credkit("verify", str(tmp_path / "notjson.json"), str(tmp_path / "array.json"), str(tmp_path / "missing.json"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("FAIL") for line in lines)
    assert "not valid JSON" in lines[0] and "JSON object" in lines[1] and "cannot read" in lines[2]
