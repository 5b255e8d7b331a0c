"""Learner wallets with credentials signed by the kit's real signer, for the extension's tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kit.credentials import Achievement, Award, IssuerProfile, Recipient, build_credential
from kit.keys import IssuerKey
from kit.proofs import sign
from kit.status import StatusList, status_entry, status_list_credential
from tests.helpers import SAMPLE_ISSUER_ARGS, sample_award

ADA_EMAIL = "ada.lovelace@example.edu"
BOB_EMAIL = "bob.babbage@example.edu"
STATUS_BASE = "https://credkit.example.edu/status"


@dataclass
class Wallets:
    """``root/<learner>/`` wallets; ``ids`` names each planted credential by its role."""

    root: Path
    key: IssuerKey
    ids: dict[str, str] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def issue(self, award: Award) -> dict[str, Any]:
        return sign(build_credential(award, IssuerProfile(**SAMPLE_ISSUER_ARGS), self.key.did), self.key)

    def publish_status(self, learner: str, url: str, purpose: str, flagged: list[int]) -> None:
        """A signed status list in the learner's wallet, as the course delivers it (status/<name>.json)."""
        bits = StatusList.new()
        for index in flagged:
            bits.set(index, True)
        document = sign(status_list_credential(url, purpose, bits, self.key.did, datetime.now(timezone.utc)), self.key)
        folder = self.root / learner / "status"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{url.rsplit('/', 1)[1]}.json").write_text(json.dumps(document, indent=2), encoding="utf-8")

    def put(self, learner: str, role: str, document: dict[str, Any]) -> str:
        uuid = document["id"].removeprefix("urn:uuid:")
        folder = self.root / learner
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{uuid}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.ids[role] = uuid
        self.documents[role] = document
        return uuid


def ada_award(**overrides: Any) -> Award:
    return sample_award(recipient=Recipient(ADA_EMAIL, salt="5a1t"), **overrides)


def build_wallets(root: Path) -> Wallets:
    """ada: a good credential, a second good one, a tampered one, an expired one, a revoked one, a
    suspended one, and bob's one copied into her folder; bob: his own credential."""
    wallets = Wallets(root=root, key=IssuerKey.generate())
    now = datetime.now(timezone.utc)
    wallets.put("ada", "good", wallets.issue(ada_award()))
    second = ada_award()
    second = replace(
        second,
        achievement=Achievement(
            id="https://credkit.example.edu/credentials/python-functions",
            name="Python functions",
            description="Writes correct, tested Python functions.",
            criteria="At least 8 of 10 points on the function tests.",
        ),
    )
    wallets.put("ada", "second", wallets.issue(second))
    tampered = wallets.issue(ada_award())
    tampered["credentialSubject"]["result"][0]["value"] = "10"  # the learner raises her own score
    wallets.put("ada", "tampered", tampered)
    expired = ada_award(valid_from=now - timedelta(days=400), valid_until=now - timedelta(days=35))
    wallets.put("ada", "expired", wallets.issue(expired))
    revocations, suspensions = f"{STATUS_BASE}/revocation-1", f"{STATUS_BASE}/suspension-1"
    wallets.put("ada", "revoked", wallets.issue(ada_award(credential_status=status_entry(revocations, 4242, "revocation"))))
    wallets.put("ada", "suspended", wallets.issue(ada_award(credential_status=status_entry(suspensions, 77, "suspension"))))
    wallets.put("ada", "not-revoked", wallets.issue(ada_award(credential_status=status_entry(revocations, 4243, "revocation"))))
    wallets.publish_status("ada", revocations, "revocation", [4242])
    wallets.publish_status("ada", suspensions, "suspension", [77])
    bobs = wallets.issue(sample_award(recipient=Recipient(BOB_EMAIL, salt="b0b")))
    wallets.put("bob", "bob", bobs)
    # bob's credential dropped into ada's folder: not hers, whatever folder it sits in
    wallets.put("ada", "bob-in-ada", wallets.issue(sample_award(recipient=Recipient(BOB_EMAIL, salt="b0b2"))))
    return wallets


@pytest.fixture
def wallets(tmp_path: Path) -> Wallets:
    return build_wallets(tmp_path / "wallets")
