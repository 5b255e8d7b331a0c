"""The nbgrader hook: stock ``nbgrader autograde`` executes in the sandbox and issues after scoring."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.assessments.course import BIN, env
from tests.issuing.test_issue_course import LEARNERS, _course, _expected, _held

HOOK = (
    "from grading.hook import sandbox_autograde\n"
    "from grading.hook_issue import issue_after_autograde\n"
    "sandbox_autograde(c)\n"
    "issue_after_autograde(c)\n"
)


def _autograde(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "nbgrader"), "autograde", "foundations", "--ExecutePreprocessor.timeout=10", *args],
                          cwd=course, env=env(), capture_output=True, text=True, timeout=900)


def test_stock_autograde_with_the_hook_issues_to_the_real_learners(tmp_path: Path) -> None:
    learners = {name: LEARNERS[name] for name in ("ada", "ben", "cai")}
    course, _ = _course(tmp_path, learners)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(HOOK)
    result = _autograde(course)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _held(course) == _expected(learners)
    assert "ISSUING FAILED" not in result.stderr


def test_a_failing_hook_is_loud_and_logged(tmp_path: Path) -> None:
    learners = {"ada": LEARNERS["ada"]}
    course, _ = _course(tmp_path, learners)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(HOOK)
    (tmp_path / "instructor" / "issuer.json").rename(tmp_path / "instructor" / "moved.json")
    result = _autograde(course)
    assert result.returncode == 1, result.stderr[-2000:]  # issuing that could not run fails the command
    assert "ISSUING FAILED for learner ada on foundations" in result.stderr
    assert "no such key file" in (course / "credkit" / "issue-failures.log").read_text()
    assert _held(course) == {}
