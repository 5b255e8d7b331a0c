"""`credkit grade` gives stock nbgrader's scores, in the sandbox, and records provenance."""

from __future__ import annotations

import json
from pathlib import Path

from grading_course import (
    ASSIGNMENT, BLANK, COURSE_ID, HALF, HONEST, auto_scores, run_credkit, run_nbgrader, submit,
    total_scores,
)

from grading.execute import gradebook_auto_scores
from grading.provenance import ProvenanceStore, provenance_path

# A learner whose `mean` loops forever: the 2 s cell timeout stops it; squares still earn 5.
LOOPER = {"squares": HONEST["squares"], "mean": "def mean(xs):\n    while True:\n        pass\n"}
# Prints a lot and raises in the middle of a test it otherwise passes.
NOISY = {
    "squares": "print('x' * 5000)\n" + HONEST["squares"],
    "mean": "def mean(xs):\n    print(*xs)\n    return sum(xs) / len(xs)\n",
}
LEARNERS = {"alice": HONEST, "bob": HALF, "carol": BLANK, "dave": LOOPER, "erin": NOISY}
ORACLE = {"alice": 10.0, "bob": 7.0, "carol": 0.0, "dave": 5.0, "erin": 10.0}


def _submit_all(course: Path) -> None:
    for name, code in LEARNERS.items():
        submit(course, name, code)


def test_scores_equal_stock_nbgrader_cell_by_cell(course: Path, stock_course: Path) -> None:
    _submit_all(stock_course)
    _submit_all(course)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    proc = run_credkit(course, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["graded"] == len(LEARNERS) and summary["failed"] == 0

    for name in LEARNERS:
        assert auto_scores(course, name) == auto_scores(stock_course, name), name
        assert total_scores(course, name) == ORACLE[name], name
        assert total_scores(stock_course, name) == ORACLE[name], name

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with ProvenanceStore(provenance_path(db_url, str(course))) as store:
        for name in LEARNERS:
            scores = gradebook_auto_scores(db_url, COURSE_ID, ASSIGNMENT, [name])[name]
            assert store.is_sandboxed(ASSIGNMENT, name, scores)
            assert store.status(ASSIGNMENT, name) == ("graded", "")

    # The sandbox dropped nothing nbgrader keeps: the autograded notebooks hold the outputs.
    erin = json.loads((course / "autograded" / "erin" / ASSIGNMENT / "problem1.ipynb").read_text())
    assert any("x" * 100 in "".join(o.get("text", "")) for c in erin["cells"] for o in c.get("outputs", []))

    # Running again grades nothing twice.
    again = run_credkit(course, "--json")
    assert json.loads(again.stdout)["skipped"] == len(LEARNERS)
    assert total_scores(course, "alice") == 10.0


def test_later_unsandboxed_nbgrader_run_voids_provenance(course: Path) -> None:
    submit(course, "alice", HONEST)
    assert run_credkit(course).returncode == 0
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    # Stock nbgrader (no hook) grades a new version of the submission outside the sandbox.
    submit(course, "alice", HALF, timestamp="2026-11-02 10:00:00.000000 UTC")
    run_nbgrader(course, "autograde", ASSIGNMENT)
    assert total_scores(course, "alice") == 7.0
    with ProvenanceStore(provenance_path(db_url, str(course))) as store:
        assert not store.is_sandboxed(ASSIGNMENT, "alice", gradebook_auto_scores(db_url, COURSE_ID, ASSIGNMENT, ["alice"])["alice"])


def test_unsafe_no_sandbox_is_loud_and_recorded(course: Path) -> None:
    submit(course, "alice", HONEST)
    proc = run_credkit(course, "--unsafe-no-sandbox")
    assert proc.returncode == 0, proc.stderr
    assert "UNSAFE" in proc.stderr and "unsandboxed" in proc.stderr
    assert total_scores(course, "alice") == 10.0
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with ProvenanceStore(provenance_path(db_url, str(course))) as store:
        [row] = store.notebooks(ASSIGNMENT, "alice")
        assert row.sandboxed is False and row.engine == "unsafe-no-sandbox"
        assert not store.is_sandboxed(ASSIGNMENT, "alice", gradebook_auto_scores(db_url, COURSE_ID, ASSIGNMENT, ["alice"])["alice"])


def test_bad_input_is_one_line_and_nonzero(course: Path, tmp_path: Path) -> None:
    missing = run_credkit(tmp_path / "nowhere")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [f"credkit: error: {tmp_path / 'nowhere'}: no such course directory"]

    not_a_course = tmp_path / "empty"
    not_a_course.mkdir()
    proc = run_credkit(not_a_course)
    assert proc.returncode == 1 and "not an nbgrader course" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

    proc = run_credkit(course)  # no submissions yet
    assert proc.returncode == 1 and "No notebooks were matched" in proc.stderr
    assert "Traceback" not in proc.stderr

    proc = run_credkit(course, "--cluster", "bogus")
    assert proc.returncode == 1 and "expected local:N or tcp://host:port" in proc.stderr


def test_hook_makes_stock_nbgrader_autograde_execute_in_the_sandbox(course: Path) -> None:
    from grading_course import CANARY_ENV, CANARY_KEY, all_text

    (course / "nbgrader_config.py").write_text(
        (course / "nbgrader_config.py").read_text()
        + "from grading.hook import sandbox_autograde\nsandbox_autograde(c)\n")
    submit(course, "alice", HONEST, extra_cells=["open('result.txt', 'w').write('mine')"])
    submit(course, "thief", {**HONEST, "squares": HONEST["squares"]
                             + "import os\nprint(dict(os.environ))\n"
                             + "open('sitecustomize.py', 'w').write('import os')\n"
                             + f"print(open({str(course.parent / 'issuer-key.json')!r}).read())\n"})
    proc = run_nbgrader(course, "autograde", ASSIGNMENT)
    # files written while graded reach autograded/ under stock nbgrader with the hook too, by the same rules
    assert (course / "autograded" / "alice" / ASSIGNMENT / "result.txt").read_text() == "mine"
    assert not (course / "autograded" / "thief" / ASSIGNMENT / "sitecustomize.py").exists()
    assert "thief/ps1: left out of autograded/: sitecustomize.py (written while graded; " in proc.stdout + proc.stderr
    for canary in (CANARY_ENV, CANARY_KEY):
        assert canary not in all_text(course, proc.stdout, proc.stderr)
    assert "FileNotFoundError" in (course / "autograded" / "thief" / ASSIGNMENT / "problem1.ipynb").read_text()
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with ProvenanceStore(provenance_path(db_url, str(course))) as store:
        for name in ("alice", "thief"):
            assert store.is_sandboxed(ASSIGNMENT, name, gradebook_auto_scores(db_url, COURSE_ID, ASSIGNMENT, [name])[name])
    assert total_scores(course, "alice") == 10.0
