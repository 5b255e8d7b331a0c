"""Interoperability both ways with an independent implementation (Digital Bazaar, under Node)."""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kit.canonical import canonicalize_rdfc
from kit.credentials import Alignment, Evidence, IssuerProfile, Recipient, SkillResult, build_credential
from kit.keys import IssuerKey
from kit.proofs import sign
from kit.status import StatusList, status_entry, status_list_credential
from kit.verify import verify_credential
from tests.helpers import SAMPLE_ISSUER_ARGS, run_credkit, sample_award
from tests.interop_helpers import node, node_verify

ISSUER = IssuerProfile(**SAMPLE_ISSUER_ARGS)  # type: ignore[arg-type]
SUITES = ["eddsa-rdfc-2022", "eddsa-jcs-2022"]


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False))
    return path


@pytest.mark.node
def test_kit_credentials_verify_in_the_independent_verifier(tmp_path: Path) -> None:
    key = IssuerKey.generate()
    files = []
    for suite in SUITES:
        signed = sign(build_credential(sample_award(), ISSUER, key.did), key, cryptosuite=suite)
        files.append(_write(tmp_path / f"{suite}.json", signed))
        tampered = copy.deepcopy(signed)
        tampered["credentialSubject"]["result"][1]["value"] = "4"
        files.append(_write(tmp_path / f"{suite}-tampered.json", tampered))
    results = node_verify(*files)
    assert [r["verified"] for r in results] == [True, False, True, False], results


@pytest.mark.node
@pytest.mark.parametrize("suite", SUITES)
def test_independently_signed_credential_verifies_in_credkit(suite: str, tmp_path: Path) -> None:
    key = IssuerKey.generate()
    key_file = _write(tmp_path / "key.json", key.to_multikey())
    unsigned = _write(tmp_path / "unsigned.json", build_credential(sample_award(), ISSUER, key.did))
    signed = node("sign.mjs", "--cryptosuite", suite, "--key", str(key_file), str(unsigned))
    assert signed.returncode == 0, signed.stderr
    document = json.loads(signed.stdout)
    (tmp_path / "signed.json").write_text(signed.stdout)
    result = run_credkit("verify", "--json", "--recipient", "ada.lovelace@example.edu", str(tmp_path / "signed.json"))
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["verified"], report
    proofs = document["proof"] if isinstance(document["proof"], list) else [document["proof"]]
    assert proofs[0]["cryptosuite"] == suite
    document["name"] = "Changed after signing"
    assert not verify_credential(document).verified


@pytest.mark.node
def test_revocation_and_suspension_agree_with_the_independent_library(tmp_path: Path) -> None:
    key = IssuerKey.generate()
    now = datetime.now(timezone.utc)
    lists = {purpose: (f"https://credkit.example.edu/status/{purpose}-1", StatusList.new()) for purpose in ("revocation", "suspension")}
    # The strict OB schema allows one credentialStatus object per credential, so each carries one
    # entry: learner 0 on the revocation list (revoked), learner 1 on the suspension list
    # (suspended), learner 2 on the revocation list (in good standing).
    credentials, indexes = [], []
    for i, purpose in enumerate(("revocation", "suspension", "revocation")):
        url, status = lists[purpose]
        index = status.random_free_index(set(indexes))
        indexes.append(index)
        award = sample_award(credential_status=status_entry(url, index, purpose), recipient=Recipient(f"learner{i}@example.edu"))
        credentials.append(sign(build_credential(award, ISSUER, key.did), key))
    lists["revocation"][1].set(indexes[0], True)
    lists["suspension"][1].set(indexes[1], True)
    list_files = {}
    for purpose, (url, status) in lists.items():
        list_files[url] = _write(tmp_path / f"{purpose}.json", sign(status_list_credential(url, purpose, status, key.did, now), key))
    files = [_write(tmp_path / f"c{i}.json", c) for i, c in enumerate(credentials)]

    theirs = node_verify(*files, status_lists=list_files)
    assert [r["status"] for r in theirs] == [{"revocation": True}, {"suspension": True}, {"revocation": False}], theirs
    args = [a for url, path in list_files.items() for a in ("--status-list", f"{url}={path}")]
    ours = run_credkit("verify", "--json", *args, *map(str, files))
    assert [json.loads(line)["status"] for line in ours.stdout.splitlines()] == ["revoked", "suspended", "verified"]
    assert ours.returncode == 1


_ALPHABET = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789\"\\\t\n\r\x07\x08\x0b\x0c\x1b\x7f\x01éßø–漢字🎓"


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 24)))


def _random_credential(rng: random.Random, key: IssuerKey) -> dict[str, Any]:
    skills = tuple(
        SkillResult(
            f"s{i}",
            _random_text(rng),
            earned=rng.randint(0, 10) + rng.choice([0, 0.5]),
            possible=10,
            required=rng.choice([6, 7.5, 8]),
            alignments=(Alignment(_random_text(rng), f"https://example.org/skill/{rng.randint(0, 99)}", target_code=_random_text(rng)),)
            if rng.random() < 0.5
            else (),
        )
        for i in range(rng.randint(1, 20))
    )
    evidence = tuple(Evidence(name=_random_text(rng), description=_random_text(rng), narrative=_random_text(rng)) for _ in range(rng.randint(0, 3)))
    issuer = IssuerProfile(name=_random_text(rng), url="https://example.edu/" + str(rng.randint(0, 9)), description=_random_text(rng))
    return build_credential(sample_award(skills=skills, evidence=evidence, recipient=Recipient(_random_text(rng) + "@example.edu")), issuer, key.did)


@pytest.mark.node
def test_canonical_form_matches_rdf_canonize_on_random_credentials() -> None:
    rng = random.Random(20261129)
    key = IssuerKey.generate()
    documents = [_random_credential(rng, key) for _ in range(300)]
    result = node("canonize.mjs", input="".join(json.dumps(d) + "\n" for d in documents))
    assert result.returncode == 0, result.stderr[-2000:]
    theirs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(theirs) == len(documents)
    for i, (document, expected) in enumerate(zip(documents, theirs)):
        assert canonicalize_rdfc(document) == expected, f"credential {i} canonicalizes differently"
