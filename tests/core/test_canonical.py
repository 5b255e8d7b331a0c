"""Canonicalization guards: bounded work on hostile input, and none of it wasted on honest input."""

from __future__ import annotations

from typing import Any

import pytest

from kit.canonical import DEFAULT_MAX_WORK, canonicalize_rdfc
from kit.credentials import IssuerProfile, SkillResult, build_credential
from kit.errors import CanonicalizationError
from kit.keys import IssuerKey
from kit.proofs import sign
from kit.verify import verify_credential
from tests.helpers import SAMPLE_ISSUER_ARGS, sample_award


def _clique(n: int) -> list[dict[str, Any]]:
    """n blank nodes that all know each other: every node looks alike, so RDFC must try permutations."""
    return [{"@id": f"_:n{i}", "https://schema.org/knows": [{"@id": f"_:n{j}"} for j in range(n) if j != i]} for i in range(n)]


def test_crafted_blank_node_graph_hits_the_work_bound() -> None:
    # A 6-clique still canonicalizes with an unlimited budget (so the graph is legitimate RDF) ...
    assert canonicalize_rdfc({"@graph": _clique(6)}, max_work=10**9).count("\n") == 30
    # ... but needs far more work than any credential; an 8-clique is refused under the default bound.
    with pytest.raises(CanonicalizationError, match="work bound"):
        canonicalize_rdfc({"@graph": _clique(8)})


def test_hostile_credential_fails_verification_instead_of_hanging() -> None:
    key = IssuerKey.generate()
    document = build_credential(sample_award(), IssuerProfile(**SAMPLE_ISSUER_ARGS), key.did)  # type: ignore[arg-type]
    signed = sign(document, key)
    signed["evidence"] = [{"@id": f"_:n{i}", "https://schema.org/knows": [{"@id": f"_:n{j}"} for j in range(9) if j != i]} for i in range(9)]
    report = verify_credential(signed)
    assert report.first_failure is not None and report.first_failure.name == "proof"
    assert "work bound" in report.first_failure.message


def test_large_honest_credential_is_within_the_bound() -> None:
    key = IssuerKey.generate()
    skills = tuple(SkillResult(f"skill-{i}", f"Skill {i}", i % 5, 5, 3) for i in range(20))
    document = build_credential(sample_award(skills=skills), IssuerProfile(**SAMPLE_ISSUER_ARGS), key.did)  # type: ignore[arg-type]
    assert verify_credential(sign(document, key)).verified
    assert DEFAULT_MAX_WORK >= 100
