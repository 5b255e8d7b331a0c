"""A batch stopped at any step boundary resumes by running the same command: nothing lost, nothing
counted twice. Faults are injected deterministically (the process exits at that boundary)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grading_course import (
    ASSIGNMENT, BLANK, COURSE_ID, HALF, HONEST, NOTEBOOK, grader_env, run_credkit, submit,
    total_scores,
)
from nbgrader.api import Gradebook

from grading.autograde import FAULT_ENV
from grading.provenance import ProvenanceStore, provenance_path

ORACLE = {"alice": 10.0, "bob": 7.0, "carol": 0.0}


@pytest.mark.parametrize("stage", ["started", "notebook", "scored", "recorded"])
def test_resume_after_a_stop_at_each_boundary(course: Path, stage: str) -> None:
    submit(course, "alice", HONEST)
    submit(course, "bob", HALF)
    submit(course, "carol", BLANK)
    env = {**grader_env(course), FAULT_ENV: f"{stage}:bob"}
    stopped = run_credkit(course, "--workers", "1", env=env)
    assert stopped.returncode == 70, stopped.stderr  # stopped abruptly, mid-batch
    assert not (course / "autograded" / "carol").exists()

    again = run_credkit(course, "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    # alice was kept; bob is graded again unless the stop came after his grading was recorded
    assert summary["skipped"] == (2 if stage == "recorded" else 1)
    assert summary["graded"] == (1 if stage == "recorded" else 2)

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url, COURSE_ID) as gb:
        assert sorted(s.id for s in gb.students) == sorted(ORACLE)
        assignment = gb.find_assignment(ASSIGNMENT)
        assert len(assignment.submissions) == 3
        for name, total in ORACLE.items():
            sub = gb.find_submission(ASSIGNMENT, name)
            assert [nb.name for nb in sub.notebooks] == [NOTEBOOK]
            assert len(sub.notebooks[0].grades) == 3
            assert sub.score == total, name
    with ProvenanceStore(provenance_path(db_url, str(course))) as store:
        for name in ORACLE:
            assert store.status(ASSIGNMENT, name) == ("graded", "")
            assert len(store.notebooks(ASSIGNMENT, name)) == 1
    for name in ORACLE:
        assert (course / "autograded" / name / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()


def test_failed_submission_is_recorded_and_retried(course: Path) -> None:
    submit(course, "alice", HONEST)
    # Past the notebook's total time limit the whole execution is stopped: the submission fails.
    submit(course, "mallory", {"squares": "import time\ntime.sleep(120)\n", "mean": HONEST["mean"]})
    proc = run_credkit(course, "--json", "--total-timeout", "12", "--cell-timeout", "60", "--Execute.timeout=60")
    assert proc.returncode == 2
    summary = json.loads(proc.stdout)
    assert summary["graded"] == 1 and [f["learner"] for f in summary["failures"]] == ["mallory"]
    assert "time limit" in summary["failures"][0]["reason"]
    assert total_scores(course, "alice") == 10.0
    assert not (course / "autograded" / "mallory" / ASSIGNMENT).exists()
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with ProvenanceStore(provenance_path(db_url, str(course))) as store:
        status, reason = store.status(ASSIGNMENT, "mallory")
        assert status == "failed" and reason
    # The learner's fixed resubmission is graded on the next run; alice is not graded twice.
    submit(course, "mallory", HONEST, timestamp="2026-11-02 09:00:00.000000 UTC")
    summary = json.loads(run_credkit(course, "--json", "--total-timeout", "12", "--cell-timeout", "60", "--Execute.timeout=60").stdout)
    assert (summary["graded"], summary["skipped"], summary["failed"]) == (1, 1, 0)
    assert total_scores(course, "mallory") == 10.0
