"""A failed submission is recorded and retried by running the same command. (A batch stopped at each
step boundary, resumed with the gradebook, provenance and ledger checked: tests/issuing/test_recovery.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from grading_course import ASSIGNMENT, HONEST, run_credkit, submit, total_scores

from grading.provenance import ProvenanceStore, provenance_path


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
