"""Issuing: ledger, wallets, status lists; idempotent reruns; crashes at every step boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kit.credentials import IssuerProfile
from kit.fileio import FAULT_ENV
from kit.issuance import CredentialIssuer, IssuanceError, wallet_file
from kit.keys import IssuerKey, save_key
from kit.ledger import Ledger
from kit.verify import verify_credential
from tests.helpers import SAMPLE_ISSUER_ARGS, assert_one_line_error, run_credkit
from tests.issue_driver import requests

ROOT = Path(__file__).resolve().parents[2]


def _issuer(tmp_path: Path, key: IssuerKey, ledger_url: str | None = None, **options: object) -> CredentialIssuer:
    return CredentialIssuer(
        key=key,
        profile=IssuerProfile(**SAMPLE_ISSUER_ARGS),  # type: ignore[arg-type]
        ledger=Ledger(ledger_url or f"sqlite:///{tmp_path / 'ledger.db'}"),
        wallet_root=tmp_path / "wallets",
        status_dir=tmp_path / "status",
        status_base_url="https://credkit.example.edu/status",
        **options,  # type: ignore[arg-type]
    )


def _status_lists(tmp_path: Path) -> dict[str, dict]:
    lists = {}
    for path in (tmp_path / "status").glob("*.json"):
        document = json.loads(path.read_text())
        lists[document["id"]] = document
    return lists


def _wallet_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "wallets").glob("*/*.json"))


def test_issue_deliver_and_rerun_issues_nothing_new(tmp_path: Path) -> None:
    issuer = _issuer(tmp_path, IssuerKey.generate())
    first = issuer.issue(requests(7))
    issuer.publish_status_lists()
    assert len(first.issued) == 7 and first.already_issued == 0
    files = _wallet_files(tmp_path)
    assert len(files) == 7
    lists = _status_lists(tmp_path)
    for path in files:
        report = verify_credential(json.loads(path.read_text()), status_lists=lists, recipient=f"{path.parent.name}@example.edu")
        assert report.verified, report.to_json()
    assert len({r.status_index for r in issuer.ledger.credentials()}) == 7
    assert sorted(str(i.path) for i in first.issued) == [str(f) for f in files]

    again = issuer.issue(requests(7))
    assert again.issued == [] and again.already_issued == 7
    assert len(_wallet_files(tmp_path)) == 7 and len(issuer.ledger.credentials()) == 7
    # each wallet holds the status lists its credentials sit on, for offline checks
    for path in files:
        assert {p.name for p in (path.parent / "status").iterdir()} == {p.name for p in (tmp_path / "status").iterdir()}


def test_the_ledger_runs_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    issuer = _issuer(tmp_path, IssuerKey.generate(), ledger_url=postgres_url)
    assert issuer.ledger.url.startswith("postgresql") and issuer.ledger._engine.dialect.name == "postgresql"
    assert len(issuer.issue(requests(5)).issued) == 5
    assert issuer.issue(requests(6)).already_issued == 5
    records = issuer.ledger.credentials(course="course-1")
    assert len(records) == 6 and len({r.status_index for r in records}) == 6
    issuer.change_state(records[0].id, "revoke", "test")
    issuer.publish_status_lists()
    states = [verify_credential(json.loads(r.document), status_lists=_status_lists(tmp_path)).status for r in records]
    assert states == ["revoked"] + ["verified"] * 5
    issuer.ledger.close()


def test_revoke_is_seen_by_verify_and_is_final(tmp_path: Path) -> None:
    issuer = _issuer(tmp_path, IssuerKey.generate())
    issuer.issue(requests(3))
    issuer.publish_status_lists()
    issued = issuer.ledger.credentials()
    target = issued[1]
    issuer.change_state(target.id, "revoke", "plagiarism confirmed")
    lists = _status_lists(tmp_path)
    states = [verify_credential(json.loads(r.document), status_lists=lists).status for r in issued]
    assert states == ["verified", "revoked", "verified"]
    assert issuer.ledger.events(target.id)[0][:2] == ("revoke", "plagiarism confirmed")
    with pytest.raises(IssuanceError, match="final"):
        issuer.change_state(target.id, "unsuspend", "oops")
    with pytest.raises(IssuanceError, match="can be revoked but not suspended"):
        issuer.change_state(issued[0].id, "suspend", "investigating")
    path = wallet_file(tmp_path / "wallets", target.learner, target.id)
    args = [a for url in lists for a in ("--status-list", f"{url}={tmp_path / 'status' / (url.rsplit('/', 1)[1] + '.json')}")]
    result = run_credkit("verify", *args, str(path))
    assert result.returncode == 1 and "revoked" in result.stdout


def test_suspend_and_unsuspend_on_a_suspension_course(tmp_path: Path) -> None:
    issuer = _issuer(tmp_path, IssuerKey.generate(), status_purpose="suspension")
    issuer.issue(requests(1))
    record = issuer.ledger.credentials()[0]
    issuer.change_state(record.id, "suspend", "under review")
    assert verify_credential(json.loads(record.document), status_lists=_status_lists(tmp_path)).status == "suspended"
    issuer.change_state(record.id, "unsuspend", "cleared")
    assert verify_credential(json.loads(record.document), status_lists=_status_lists(tmp_path)).status == "verified"


def test_hostile_learner_ids_never_name_a_path(tmp_path: Path) -> None:
    for learner in ("../../etc", "a/b", ".", "..", "x" * 300):
        path = wallet_file(tmp_path, learner, "urn:uuid:1")
        assert path.parent.parent == tmp_path and path.parent.name not in (".", "..")
    with pytest.raises(IssuanceError, match="empty learner id"):
        wallet_file(tmp_path, "", "urn:uuid:1")


@pytest.mark.parametrize("fault", ["after-sign", "after-commit", "mid-write"])
def test_a_killed_run_then_a_rerun_leaves_no_duplicate_and_none_missing(fault: str, tmp_path: Path) -> None:
    key = IssuerKey.generate()
    save_key(key, tmp_path / "key.json")
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    command = [sys.executable, "-m", "tests.issue_driver", ledger_url, str(tmp_path), str(tmp_path / "key.json"), "10"]
    killed = subprocess.run(command, cwd=ROOT, env={FAULT_ENV: fault, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert killed.returncode == 86, killed.stderr
    assert f"fault injected at {fault}" in killed.stderr
    if fault == "mid-write":
        assert list((tmp_path / "wallets").glob("*/.*.tmp")), "the kill should leave a half-written temp file"

    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    records = Ledger(ledger_url).credentials()
    assert len(records) == 10 and len({r.award_key for r in records}) == 10
    files = _wallet_files(tmp_path)
    assert len(files) == 10 and not list((tmp_path / "wallets").glob("*/.*.tmp"))
    by_id = {r.id.removeprefix("urn:uuid:"): r for r in records}
    lists = _status_lists(tmp_path)
    for path in files:
        assert path.read_text() == by_id[path.stem].document
        assert verify_credential(json.loads(path.read_text()), status_lists=lists).verified


def test_revoke_command_on_a_course(tmp_path: Path) -> None:
    course, keys = tmp_path / "course", tmp_path / "instructor"
    course.mkdir()
    keys.mkdir()
    key = IssuerKey.generate()
    save_key(key, keys / "issuer.json")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'ds101'\n"
        f"c.Credkit.key_file = {str(keys / 'issuer.json')!r}\n"
        "c.Credkit.status_base_url = 'https://credkit.example.edu/ds101/status'\n"
    )
    from grading.config import load_course_config

    settings = load_course_config(course)
    issuer = CredentialIssuer(
        key=key, profile=IssuerProfile(**SAMPLE_ISSUER_ARGS), ledger=Ledger(settings.ledger_url),  # type: ignore[arg-type]
        wallet_root=settings.wallet_root, status_dir=settings.status_dir, status_base_url=settings.status_base_url("unused"),
    )
    issuer.issue(requests(2))
    issuer.publish_status_lists()
    target = issuer.ledger.credentials()[0]
    issuer.ledger.close()

    result = run_credkit("revoke", target.id.removeprefix("urn:uuid:"), "--reason", "identity fraud", "--course", str(course), "--yes")
    assert result.returncode == 0, result.stderr
    assert "now revoked" in result.stdout
    wallet = wallet_file(settings.wallet_root, target.learner, target.id).parent
    status_file = next((wallet / "status").glob("*.json"))
    list_url = json.loads(status_file.read_text())["id"]
    assert list_url.startswith("https://credkit.example.edu/ds101/status/")
    check = run_credkit("verify", "--status-list", f"{list_url}={status_file}", str(wallet_file(settings.wallet_root, target.learner, target.id)))
    assert check.returncode == 1 and "revoked" in check.stdout
    again = run_credkit("revoke", target.id, "--reason", "twice", "--course", str(course), "--yes")
    assert again.returncode == 0 and "already" in again.stdout  # a retry republishes, never stuck
    unsuspend = run_credkit("unsuspend", target.id, "--reason", "undo", "--course", str(course), "--yes")
    assert_one_line_error(unsuspend, "revocation is final")
