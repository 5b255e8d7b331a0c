"""Issue N sample awards in a fresh process, as ``credkit issue`` does: for the crash tests.

Usage: python -m tests.issue_driver LEDGER_URL WORKDIR KEYFILE N
"""

from __future__ import annotations

import sys
from pathlib import Path

from kit.credentials import IssuerProfile, Recipient
from kit.issuance import AwardRequest, CredentialIssuer
from kit.keys import load_key
from kit.ledger import Ledger
from tests.helpers import SAMPLE_ISSUER_ARGS, sample_award


def requests(n: int) -> list[AwardRequest]:
    return [
        AwardRequest(
            award_key=f"course-1/learner{i}/pandas-wrangling",
            course="course-1",
            learner=f"learner{i}",
            award=sample_award(recipient=Recipient(f"learner{i}@example.edu")),
            grades={"groupby-1": [8, 10]},
        )
        for i in range(n)
    ]


def main(ledger_url: str, workdir: str, key_file: str, n: str) -> None:
    root = Path(workdir)
    issuer = CredentialIssuer(
        key=load_key(key_file),
        profile=IssuerProfile(**SAMPLE_ISSUER_ARGS),  # type: ignore[arg-type]
        ledger=Ledger(ledger_url),
        wallet_root=root / "wallets",
        status_dir=root / "status",
        status_base_url="https://credkit.example.edu/status",
        batch_size=4,
    )
    issuer.redeliver_missing()
    result = issuer.issue(requests(int(n)))
    issuer.publish_status_lists()
    print(f"issued {len(result.issued)} already {result.already_issued}")


if __name__ == "__main__":
    main(*sys.argv[1:])
