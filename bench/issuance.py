"""Issuing end to end (award → sign → ledger row → wallet file) against pure signing, same awards.

Each phase runs in its own process so its peak memory is its own. Goal (issue #5): end to end at
least 70% of the pure signing rate, under 400 MB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kit.credentials import IssuerProfile, Recipient, build_credential
from kit.issuance import AwardRequest, CredentialIssuer
from kit.keys import IssuerKey
from kit.ledger import Ledger
from kit.proofs import sign

COUNT = int(os.environ.get("CREDKIT_BENCH_AWARDS", "10000"))
PROFILE = IssuerProfile(name="Bench University", url="https://bench.example.edu", email="badges@bench.example.edu")


def _requests(n: int):  # type: ignore[no-untyped-def]
    from tests.helpers import sample_award  # the realistic two-skill award the tests use

    for i in range(n):
        yield AwardRequest(
            award_key=f"bench/learner{i}/pandas",
            course="bench",
            learner=f"learner{i}",
            award=sample_award(recipient=Recipient(f"learner{i}@example.edu")),
            grades={"cell": [i % 11, 10]},
        )


def _phase(kind: str, n: int, workdir: str) -> None:
    key = IssuerKey.generate()
    start, cpu_start = time.perf_counter(), time.process_time()
    if kind == "sign":
        for request in _requests(n):
            sign(build_credential(request.award, PROFILE, key.did), key)
    else:
        root = Path(workdir)
        issuer = CredentialIssuer(
            key=key, profile=PROFILE, ledger=Ledger(f"sqlite:///{root / 'ledger.db'}"),
            wallet_root=root / "wallets", status_dir=root / "status", status_base_url="https://bench.example.edu/status",
        )
        result = issuer.issue(_requests(n))
        issuer.publish_status_lists()
        assert len(result.issued) == n
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rate": n / seconds, "seconds": seconds, "cpu_rate": n / cpu, "cpu": cpu, "peak_mb": peak}))


def run() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ("sign", "e2e"):
            out = subprocess.run([sys.executable, "-m", "bench.issuance", kind, str(COUNT), workdir], capture_output=True, text=True, check=True)
            results[kind] = json.loads(out.stdout)
    sign_, e2e = results["sign"], results["e2e"]
    print(f"  {COUNT} different awards, one process per phase, one core")
    print(f"  {'':44} {'wall /s':>9} {'wall s':>8} {'CPU /s':>9} {'CPU s':>8} {'peak':>7}")
    for label, r in (("pure signing (build + sign)", sign_), ("end to end (sign, ledger, wallet, lists)", e2e)):
        print(f"  {label:<44} {r['rate']:9.1f} {r['seconds']:8.1f} {r['cpu_rate']:9.1f} {r['cpu']:8.1f} {r['peak_mb']:5.0f} MB")
    print(f"  end to end / pure signing: {e2e['rate'] / sign_['rate']:.0%} wall, {e2e['cpu_rate'] / sign_['cpu_rate']:.0%} CPU "
          f"(goal >= 70%); peak {e2e['peak_mb']:.0f} MB (goal < 400 MB)")


if __name__ == "__main__":
    _phase(sys.argv[1], int(sys.argv[2]), sys.argv[3])
