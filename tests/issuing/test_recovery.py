"""Grading and issuing are one recoverable unit: whatever stops a run, the next run finishes the work.

Faults are injected deterministically at every step boundary of grading (a submission started,
a notebook scored, the grades saved, the submission recorded) and of issuing (after signing,
after the ledger commit, in the middle of a wallet write); then a seeded loop of real SIGINT and
SIGKILL at random moments. After the rerun: ledger = wallets = what the grades earn, once each.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from grading.autograde import FAULT_ENV as GRADING_FAULT
from grading.config import load_course_config
from kit.fileio import FAULT_ENV as ISSUING_FAULT
from kit.ledger import Ledger
from kit.wallet_folders import wallet_folder
from tests.assessments.course import BIN, env
from tests.issuing.tiny_course import HALF, RIGHT, WRONG, earned, submit, tiny_course

LEARNERS = {"ada": RIGHT, "ben": HALF, "cai": RIGHT, "dee": WRONG}


def _course(root: Path) -> Path:
    course, _ = tiny_course(root)
    for learner, code in LEARNERS.items():
        submit(course, learner, code)
    return course


def _credkit(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "credkit"), *args], env={**env(), **(extra_env or {})},
                          capture_output=True, text=True, timeout=timeout)


def _grade(course: Path, *options: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _credkit("grade", "tiny", "--course-dir", str(course), "--cell-timeout", "5", "--workers", "1", *options, extra_env=extra_env)


def assert_everything_issued_once(course: Path) -> None:
    """Ledger = wallets = the oracle: each earned credential recorded once and delivered as recorded."""
    settings = load_course_config(course)
    with Ledger(settings.ledger_url) as ledger:
        records = ledger.credentials(course=settings.course_id)
    keys = Counter((r.learner, r.achievement_id) for r in records)
    assert all(n == 1 for n in keys.values()), keys
    assert {(l, a) for l, a in keys} == {(l, a) for l, code in LEARNERS.items() for a in earned(code)}
    delivered = {p for p in settings.wallet_root.glob("*/*.json")}
    assert delivered == {wallet_folder(settings.wallet_root, r.learner) / f"{r.id.removeprefix('urn:uuid:')}.json" for r in records}
    for record in records:
        path = wallet_folder(settings.wallet_root, record.learner) / f"{record.id.removeprefix('urn:uuid:')}.json"
        assert path.read_text(encoding="utf-8") == record.document
    assert not list(settings.wallet_root.glob("*/.*.tmp")), "a killed writer's temp file was left"


def assert_nothing_half_done(course: Path) -> None:
    """What a stopped run may leave: fewer credentials, never a duplicate, a stray or a half-written file."""
    settings = load_course_config(course)
    with Ledger(settings.ledger_url) as ledger:
        records = {r.id: r for r in ledger.credentials(course=settings.course_id)}
    keys = Counter((r.learner, r.achievement_id) for r in records.values())
    assert all(n == 1 for n in keys.values()), keys
    for path in settings.wallet_root.glob("*/*.json"):
        record = records.get(f"urn:uuid:{path.stem}")
        assert record is not None, f"{path} is not in the ledger"
        assert path.read_text(encoding="utf-8") == record.document, f"{path} is half written"


SCORES = {"ada": 2.0, "ben": 1.0, "cai": 2.0, "dee": 0.0}  # what each learner's code scores


def assert_graded_once_each(course: Path) -> None:
    """Gradebook and provenance: each learner's submission graded once, with its score, and written."""
    from nbgrader.api import Gradebook

    from grading.provenance import ProvenanceStore, provenance_path

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    settings = load_course_config(course)
    with Gradebook(db_url, settings.course_id) as gradebook:
        assert sorted(s.id for s in gradebook.students) == sorted(LEARNERS)
        assert len(gradebook.find_assignment("tiny").submissions) == len(LEARNERS)
        for learner, score in SCORES.items():
            submission = gradebook.find_submission("tiny", learner)
            assert [nb.name for nb in submission.notebooks] == ["tiny"]
            assert len(submission.notebooks[0].grades) == 2
            assert submission.score == score, learner
    with ProvenanceStore(provenance_path(db_url, str(course))) as store:
        for learner in LEARNERS:
            assert store.status("tiny", learner) == ("graded", "")
            assert len(store.notebooks("tiny", learner)) == 1
            assert (course / "autograded" / learner / "tiny" / "tiny.ipynb").exists()


@pytest.mark.parametrize("fault", ["started:ben", "notebook:ben", "scored:ben", "recorded:ben"])
def test_a_grading_run_stopped_at_a_step_boundary_is_finished_by_the_next_grade(tmp_path: Path, fault: str) -> None:
    course = _course(tmp_path)
    stopped = _grade(course, extra_env={GRADING_FAULT: fault})
    assert stopped.returncode == 70, stopped.stderr
    assert_nothing_half_done(course)
    again = _grade(course, "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert_everything_issued_once(course)
    assert_graded_once_each(course)
    # ada was kept; ben is graded again unless the stop came after his grading was recorded
    assert summary["skipped"] == (2 if fault == "recorded:ben" else 1), summary
    # ada was graded before the stop and not again: her credentials are what this run recovered
    assert summary["recovered"]["issued"] >= len(earned(LEARNERS["ada"])), summary


@pytest.mark.parametrize("rerun", ["grade", "issue"])
@pytest.mark.parametrize("fault", ["after-sign", "after-commit", "mid-write"])
def test_an_issuing_step_stopped_at_a_boundary_is_finished_by_the_next_run(tmp_path: Path, fault: str, rerun: str) -> None:
    course = _course(tmp_path)
    stopped = _grade(course, extra_env={ISSUING_FAULT: fault})
    assert stopped.returncode == 86 and f"fault injected at {fault}" in stopped.stderr, stopped.stderr
    assert_nothing_half_done(course)
    again = _grade(course, "--json") if rerun == "grade" else _credkit("issue", "--course", str(course), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert_everything_issued_once(course)
    if fault != "after-sign":  # recorded before the stop: re-delivered, not issued again
        redelivered = report["recovered"]["redelivered"] if rerun == "grade" else report["redelivered"]
        assert redelivered >= 1, report
    third = _credkit("issue", "--course", str(course), "--json")
    assert json.loads(third.stdout)["issued"] == [] and json.loads(third.stdout)["redelivered"] == 0


def test_a_second_run_on_the_course_refuses_naming_the_holder(tmp_path: Path) -> None:
    course = _course(tmp_path)
    first = subprocess.Popen([str(BIN / "credkit"), "grade", "tiny", "--course-dir", str(course), "--cell-timeout", "5", "--workers", "1"],
                             env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = course / "credkit" / "run.lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for second in (_grade(course), _credkit("issue", "--course", str(course))):
            assert second.returncode == 1
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
            assert f"pid {first.pid} on " in lines[0] and "since 20" in lines[0] and str(course) in lines[0]
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert_everything_issued_once(course)
    assert _grade(course).returncode == 0  # released when the holder ends


def test_failed_submissions_are_not_called_unsandboxed(tmp_path: Path) -> None:
    course, _ = tiny_course(tmp_path)
    submit(course, "ada", RIGHT)
    submit(course, "zed", {"add": "import time\ntime.sleep(60)", "double": RIGHT["double"]})
    graded = _grade(course, "--total-timeout", "3", "--json")
    assert graded.returncode == 2, graded.stderr
    assert json.loads(graded.stdout)["failed"] == 1
    report = json.loads(_credkit("issue", "--course", str(course), "--json").stdout)
    assert report["refused_unsandboxed"] == []


def test_real_interrupts_and_kills_at_random_moments_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    """A seeded loop: each run (regrading everyone, then issuing) is stopped by SIGINT, SIGTERM or SIGKILL at a
    random moment inside it; after every stop nothing is half done, and one final run finishes the work."""
    course = _course(tmp_path / "stopped")
    # How long an uninterrupted run takes here, on a course of its own (so every stop below lands inside a run)
    measured = _course(tmp_path / "measured")
    started = time.monotonic()
    assert _grade(measured, "--force").returncode == 0
    run_seconds = time.monotonic() - started
    rng = random.Random(20261201)
    plan = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL] * 3
    rng.shuffle(plan)
    stops = Counter()
    interrupt_exits = []
    for sig in plan:
        delay = rng.uniform(0.3, 0.9) * run_seconds
        for _attempt in range(4):  # a run that ends before its moment is no stop: try again sooner
            process = subprocess.Popen([str(BIN / "credkit"), "grade", "tiny", "--course-dir", str(course), "--cell-timeout", "5",
                                        "--workers", "1", "--force"], env=env(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, start_new_session=True)
            stopped = False
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                sent = time.monotonic()
                # Ctrl-C reaches the whole foreground process group; SIGTERM and kill -9 only the credkit process.
                os.killpg(process.pid, signal.SIGINT) if sig == signal.SIGINT else process.send_signal(sig)
                process.wait(timeout=30)
                if sig != signal.SIGKILL:
                    interrupt_exits.append((sig.name, round(time.monotonic() - sent, 2)))
                stops[sig.name] += 1
                stopped = True
            _, err = process.communicate()
            assert b"Traceback" not in err, err.decode()
            _wait_for_orphans(course)
            assert_nothing_half_done(course)
            if stopped:
                break
            delay /= 2
    assert stops == {"SIGINT": 3, "SIGTERM": 3, "SIGKILL": 3}, (stops, run_seconds)
    # Ctrl-C and SIGTERM stop within a few seconds (measured here well under 2 s on an idle machine;
    # the bound leaves room for a loaded CI machine)
    seconds = sorted(t for _, t in interrupt_exits)
    print(f"stop times after SIGINT/SIGTERM: {interrupt_exits}")
    assert seconds[len(seconds) // 2] < 3.0 and seconds[-1] < 10.0, interrupt_exits
    final = _grade(course, "--json")
    assert final.returncode == 0, final.stderr
    assert_everything_issued_once(course)


def _wait_for_orphans(course: Path) -> None:
    """The course lock must be free once a stopped run is gone (the kernel drops an flock with its holder)."""
    deadline = time.monotonic() + 10
    lock = course / "credkit" / "run.lock"
    while lock.exists():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{lock} still held after the run stopped: {lock.read_text()}") from None
            time.sleep(0.2)
        finally:
            os.close(fd)  # closing drops the probe's own lock
