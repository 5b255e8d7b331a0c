"""A JupyterHub course: credentials released through nbgrader's exchange, fetched by the learner's server."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from credkit_jupyter.wallet import Wallet
from grading.config import load_course_config
from kit.exchange import drop_folder, status_folder
from tests.helpers import run_credkit
from tests.issuing.test_issue_course import LEARNERS, _course, _grade

SECRETS = {"ada": "ada-secret-0b5e7c", "ben": "ben-secret-93f1aa"}


def test_release_through_the_exchange_and_fetch_into_the_learners_wallet(tmp_path: Path) -> None:
    exchange = Path(tempfile.mkdtemp(prefix="credkit-exchange-"))
    try:
        exchange.chmod(0o755)
        learners = {name: LEARNERS[name] for name in SECRETS}
        course, _ = _course(tmp_path, learners)
        with open(course / "nbgrader_config.py", "a") as config:
            config.write(f"c.Exchange.root = {str(exchange)!r}\nc.Credkit.delivery = 'exchange'\n")
        for learner, secret in SECRETS.items():  # nbgrader submit writes it; collect copies it here
            (course / "submitted" / learner / "foundations" / "submission_secret.txt").write_text(secret)
        _grade(course)
        issued = run_credkit("issue", "--course", str(course), "--json")
        assert issued.returncode == 0, issued.stderr
        assert json.loads(issued.stdout)["released_to_exchange"] == 5

        course_id = load_course_config(course).course_id
        credentials = exchange / course_id / "credentials"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o711
        ada_drop = drop_folder(exchange, course_id, SECRETS["ada"])
        assert len(list(ada_drop.glob("*.json"))) == 3
        assert len(list(drop_folder(exchange, course_id, SECRETS["ben"]).glob("*.json"))) == 2
        assert list(status_folder(exchange, course_id).glob("*.json"))

        # Another account cannot list the drops, but the learner's server can open its own by name.
        listing = subprocess.run(["runuser", "-u", "nobody", "--", "ls", str(credentials)], capture_output=True, text=True)
        assert listing.returncode != 0 and "Permission denied" in listing.stderr
        own = subprocess.run(["runuser", "-u", "nobody", "--", "ls", str(ada_drop)], capture_output=True, text=True)
        assert own.returncode == 0 and own.stdout.count(".json") == 3

        cache = tmp_path / "ada-cache"
        submission = cache / course_id / "ada+foundations+2026-11-29 12:00:00.000000 UTC"
        submission.mkdir(parents=True)
        (submission / "submission_secret.txt").write_text(SECRETS["ada"])
        wallet = Wallet(root=tmp_path / "ada-wallet", learner="ada", learner_email="ada.lovelace@example.edu")
        fetched = wallet.fetch(exchange, cache, [course_id])
        assert sorted(fetched["new"]) == sorted(p.stem for p in ada_drop.glob("*.json"))
        assert fetched["statusLists"]
        again = run_credkit("issue", "--course", str(course), "--json")
        assert json.loads(again.stdout)["released_to_exchange"] == 0
    finally:
        shutil.rmtree(exchange, ignore_errors=True)
