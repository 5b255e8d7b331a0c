"""`credkit credentials list|show`, and `revoke`/`suspend` that confirm, want a reason and can be retried."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from grading.config import load_course_config
from kit.ledger import Ledger
from kit.verify import verify_credential
from tests.assessments.course import BIN, env
from tests.helpers import assert_one_line_error, run_credkit
from tests.issuing.tiny_course import ADDING, HALF, RIGHT, earned, submit, tiny_course

LEARNERS = {"josé": RIGHT, "ben": HALF, "李": RIGHT}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course, _ = tiny_course(tmp_path_factory.mktemp("cli"))
    for learner, code in LEARNERS.items():
        submit(course, learner, code)
    graded = subprocess.run([str(BIN / "credkit"), "grade", "tiny", "--course-dir", str(course), "--cell-timeout", "5"],
                            env=env(), capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0, graded.stderr
    return course


def _list(course: Path, *options: str) -> list[dict]:
    result = run_credkit("credentials", "list", "--course", str(course), "--json", *options)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _state(course: Path, credential_id: str) -> str:
    with Ledger(load_course_config(course).ledger_url) as ledger:
        return ledger.get(credential_id).state


def test_list_filters_by_learner_assessment_and_state_and_show_gives_one(course: Path) -> None:
    everything = _list(course)
    assert sorted((r["learner"], r["achievement"]) for r in everything) == sorted(
        (l, a) for l, code in LEARNERS.items() for a in earned(code))
    assert all(r["state"] == "active" and r["assessment"] == "tiny" for r in everything)
    assert {r["achievement"] for r in _list(course, "--learner", "josé")} == earned(RIGHT)
    assert _list(course, "--learner", "nobody") == [] and _list(course, "--assessment", "other") == []
    assert _list(course, "--state", "revoked") == []
    plain = run_credkit("credentials", "list", "--course", str(course), "--learner", "李")
    assert plain.returncode == 0 and len(plain.stdout.splitlines()) == 2 and "李" in plain.stdout

    target = next(r for r in everything if r["learner"] == "ben")
    shown = run_credkit("credentials", "show", target["id"].removeprefix("urn:uuid:"), "--course", str(course), "--json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["credential"]["id"] == target["id"] and document["achievement"] == ADDING
    assert document["grades"]["assessment"] == "tiny" and Path(document["wallet_file"]).is_file()
    text = run_credkit("credentials", "show", target["id"], "--course", str(course))
    assert target["id"] in text.stdout and "learner:" in text.stdout and "ben" in text.stdout
    assert_one_line_error(run_credkit("credentials", "show", "urn:uuid:00000000-0000-4000-8000-000000000000", "--course", str(course)),
                          "no credential")


def test_revoke_wants_a_reason_and_a_confirmation(course: Path) -> None:
    target = _list(course, "--learner", "josé")[0]["id"]
    for reason in ("", "   ", "\t\n"):
        assert_one_line_error(run_credkit("revoke", target, "--reason", reason, "--course", str(course), "--yes"), "--reason")
    # no terminal to ask and no --yes: nothing changes
    assert_one_line_error(run_credkit("revoke", target, "--reason", "copied", "--course", str(course), input=""), "--yes")
    assert _state(course, target) == "active"
    done = run_credkit("revoke", target, "--reason", "copied", "--course", str(course), "--yes")
    assert done.returncode == 0 and "now revoked" in done.stdout
    assert [r["id"] for r in _list(course, "--state", "revoked")] == [target]


def test_a_revoke_whose_publishing_failed_is_published_by_the_next_try(course: Path) -> None:
    settings = load_course_config(course)
    target = _list(course, "--learner", "李")[0]["id"]
    saved = settings.status_dir.with_name("status-saved")
    shutil.move(settings.status_dir, saved)
    settings.status_dir.write_text("a file where the status folder should be")  # nothing can be written there
    failed = run_credkit("revoke", target, "--reason", "identity fraud", "--course", str(course), "--yes")
    assert_one_line_error(failed, str(settings.status_dir), "status folder")
    settings.status_dir.unlink()
    shutil.move(saved, settings.status_dir)
    lists = {json.loads(p.read_text())["id"]: json.loads(p.read_text()) for p in settings.status_dir.glob("*.json")}
    wallet_file = Path(next(r for r in _list(course) if r["id"] == target)["wallet_file"])
    document = json.loads(wallet_file.read_text())
    assert verify_credential(document, status_lists=lists).status == "verified"  # not yet published as revoked

    retry = run_credkit("revoke", target, "--reason", "identity fraud", "--course", str(course), "--yes")
    assert retry.returncode == 0, retry.stderr
    assert "already" in retry.stdout
    lists = {json.loads(p.read_text())["id"]: json.loads(p.read_text()) for p in settings.status_dir.glob("*.json")}
    assert verify_credential(document, status_lists=lists).status == "revoked"
