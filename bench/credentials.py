"""Sign and verify throughput on realistic skill credentials, against the plain PyLD recipe.

The baseline ("plain recipe") is what the notes measured: PyLD ``normalize`` (URDNA2015) of the
proof options and the document with a warm in-memory context loader, SHA-256 of each, Ed25519 sign.
Every credential in a run is different (learner, scores, ids), so no cache can win by content.
"""

from __future__ import annotations

import hashlib
import os
import resource
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pyld import jsonld

from kit.contexts import document_loader
from kit.credentials import Achievement, Alignment, Award, Evidence, IssuerProfile, Recipient, SkillResult, build_credential
from kit.keys import IssuerKey
from kit.proofs import JCS, RDFC, sign
from kit.verify import verify_credential

COUNT = int(os.environ.get("CREDKIT_BENCH_CREDENTIALS", "300"))
ISSUER = IssuerProfile(name="Bench University", url="https://bench.example.edu", email="badges@bench.example.edu")


def _credential(i: int, key: IssuerKey) -> dict[str, Any]:
    skills = tuple(
        SkillResult(
            f"skill-{s}",
            f"Skill {s}: {['groupby', 'merge', 'reshape', 'clean'][s]}",
            earned=(i * 7 + s) % 11,
            possible=10,
            required=8,
            alignments=(Alignment(f"ESCO skill {s}", f"http://data.europa.eu/esco/skill/bench-{s}", target_framework="ESCO"),),
        )
        for s in range(4)
    )
    award = Award(
        achievement=Achievement(
            id="https://bench.example.edu/credentials/pandas",
            name="pandas data wrangling",
            description="Cleans, reshapes and aggregates tabular data with pandas.",
            criteria="At least 8 of 10 points in each skill.",
            image="https://bench.example.edu/badges/pandas.svg",
        ),
        recipient=Recipient(f"learner{i}@example.edu"),
        skills=skills,
        valid_from=datetime(2026, 1, 1, tzinfo=timezone.utc),
        evidence=(Evidence(name=f"submission {i}", description="Autograded nbgrader submission"),),
    )
    return build_credential(award, ISSUER, key.did)


def _plain_recipe(document: dict[str, Any], key: IssuerKey) -> bytes:
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": RDFC,
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": key.verification_method,
        "proofPurpose": "assertionMethod",
        "@context": document["@context"],
    }
    normalize = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": document_loader}
    proof_hash = hashlib.sha256(jsonld.normalize(options, normalize).encode()).digest()
    doc_hash = hashlib.sha256(jsonld.normalize(document, normalize).encode()).digest()
    return key.sign(proof_hash + doc_hash)


def _rate(label: str, work: Callable[[Any], Any], inputs: list[Any]) -> float:
    work(inputs[0])  # warm the context cache; the timed inputs are all different
    start = time.process_time()
    for item in inputs[1:]:
        work(item)
    seconds = (time.process_time() - start) / (len(inputs) - 1)
    print(f"  {label:<44} {seconds * 1000:8.3f} ms  {1 / seconds:9.1f} /s")
    return seconds


def run() -> None:
    key = IssuerKey.generate()
    documents = [_credential(i, key) for i in range(COUNT)]
    print(f"  {COUNT} different 4-skill credentials, one core (CPU time per credential)")
    plain = _rate("plain recipe: PyLD normalize + sign (baseline)", lambda d: _plain_recipe(d, key), documents)
    rdfc = _rate("credkit sign eddsa-rdfc-2022", lambda d: sign(d, key, cryptosuite=RDFC), documents)
    jcs = _rate("credkit sign eddsa-jcs-2022", lambda d: sign(d, key, cryptosuite=JCS), documents)
    signed_rdfc = [sign(d, key, cryptosuite=RDFC) for d in documents]
    signed_jcs = [sign(d, key, cryptosuite=JCS) for d in documents]
    verify_rdfc = _rate("credkit verify eddsa-rdfc-2022 (all checks)", verify_credential, signed_rdfc)
    verify_jcs = _rate("credkit verify eddsa-jcs-2022 (all checks)", verify_credential, signed_jcs)
    print(f"  ratios vs baseline (higher is faster): sign rdfc {plain / rdfc:.2f}x, sign jcs {plain / jcs:.2f}x, "
          f"verify rdfc {plain / verify_rdfc:.2f}x, verify jcs {plain / verify_jcs:.2f}x")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
