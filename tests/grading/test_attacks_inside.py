"""Attacks from inside the kernel on the shipped-style tests: each works under stock `nbgrader
autograde`; under `credkit grade` (test cells in the checker, learner values by value) it earns
exactly its honest work."""

from __future__ import annotations

import json
from pathlib import Path

from grading_attacks import in_kernel
from grading_course import ASSIGNMENT, HONEST, auto_scores, run_credkit, run_nbgrader, submit, total_scores

HONEST_WORK = {"eqcheat": 5.0, "patcher": 5.0, "blanker": 0.0, "detector": 10.0, "alice": 10.0}


def test_in_kernel_attacks(course: Path, stock_course: Path) -> None:
    for target in (stock_course, course):
        submit(target, "alice", HONEST)
        for name, code in in_kernel(str(target)).items():
            submit(target, name, code)

    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    assert total_scores(stock_course, "eqcheat") == 10.0
    assert total_scores(stock_course, "patcher") == 10.0
    assert total_scores(stock_course, "blanker") == 10.0
    assert total_scores(stock_course, "alice") == 0.0  # the detector zeroed another learner

    proc = run_credkit(course, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["graded"] == len(HONEST_WORK)
    for name, honest in HONEST_WORK.items():
        assert total_scores(course, name) <= honest, (name, auto_scores(course, name))
    # Exactly the honest work: tampering stays in the learner's kernel, so honest answers still count.
    for name, honest in HONEST_WORK.items():
        assert total_scores(course, name) == honest, (name, auto_scores(course, name))
    assert auto_scores(course, "eqcheat") == {"test_squares": 0.0, "test_squares_hidden": 0.0, "test_mean": 5.0}
    assert auto_scores(course, "patcher") == {"test_squares": 2.0, "test_squares_hidden": 3.0, "test_mean": 0.0}
    detector = (course / "autograded" / "detector" / ASSIGNMENT / "problem1.ipynb").read_text()
    assert "blocked OperationalError" in detector
