"""`credkit grade` as a drop-in for `nbgrader autograde` (issue 12): the course's execution timeout
honoured the way stock honours it, set each way nbgrader allows (c.ExecutePreprocessor.timeout,
c.Execute.timeout, --Execute.timeout=N), with the same per-cell scores as stock; the sandbox's own
limit only where it is stricter, and the summary says which one applied; exit codes; folders nbgrader
passes over named in the summary.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest
import readme_steps
from grading_course import VENV_BIN, grader_env
from nbformat.v4 import new_code_cell, new_notebook

COURSE_ID = "dropin"
ASSIGNMENT = "slow"
SLEEP = 3  # seconds the learner's function takes: scored 0 under a 1 s cell timeout, full under 8 s


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, points: int = 0) -> dict:
    md = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
          "solution": solution, "task": False}
    if grade:
        md["points"] = points
    return {"nbgrader": md}


def _course(root: Path, config: str) -> Path:
    course = root / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n{config}")
    nb = new_notebook(cells=[
        new_code_cell("import time\ndef answer(x):\n    ### BEGIN SOLUTION\n"
                      f"    time.sleep({SLEEP})\n    return x + 1\n    ### END SOLUTION\n",
                      metadata=_meta("answer", solution=True)),
        new_code_cell("assert answer(1) == 2\n", metadata=_meta("test_slow", grade=True, points=1)),
        new_code_cell("assert 1 + 1 == 2\n", metadata=_meta("test_quick", grade=True, points=1)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    _run(course, "nbgrader", "generate_assignment", ASSIGNMENT)
    dest = course / "submitted" / "ada" / ASSIGNMENT
    dest.mkdir(parents=True)
    nbformat.write(nb, dest / f"{ASSIGNMENT}.ipynb")  # the reference solution as the answer
    (dest / "timestamp.txt").write_text("2026-11-29 12:00:00.000000 UTC")
    return course


def _run(course: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(VENV_BIN / tool), *args], cwd=course, env=grader_env(course),
                          capture_output=True, text=True, timeout=600)
    return proc


def _scores(course: Path) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        sub = gb.find_submission(ASSIGNMENT, "ada")
        return {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}


@pytest.mark.parametrize(("config", "args", "slow_points", "applied"), [
    ("c.ExecutePreprocessor.timeout = 1\n", (), 0.0, "1 s (the course's c.ExecutePreprocessor.timeout)"),
    ("c.Execute.timeout = 8\n", (), 1.0, "8 s (the course's c.Execute.timeout)"),
    ("", ("--Execute.timeout=1",), 0.0, "1 s (--Execute.timeout)"),
])
def test_the_courses_timeout_gives_stocks_scores(tmp_path: Path, config: str, args: tuple[str, ...],
                                                 slow_points: float, applied: str) -> None:
    stock = _course(tmp_path / "stock", config)
    ours = _course(tmp_path / "credkit", config)
    graded = _run(stock, "nbgrader", "autograde", ASSIGNMENT, *args)
    assert graded.returncode == 0, graded.stderr[-2000:]
    proc = _run(ours, "credkit", "grade", ASSIGNMENT, "--no-progress", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert _scores(stock) == _scores(ours) == {"test_slow": slow_points, "test_quick": 1.0}
    assert f"cell timeout {applied}" in proc.stdout, proc.stdout


def test_the_sandbox_wins_only_where_stricter_and_says_so(tmp_path: Path) -> None:
    course = _course(tmp_path, "c.Execute.timeout = 8\n")
    proc = _run(course, "credkit", "grade", ASSIGNMENT, "--json", "--cell-timeout", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    limits = json.loads(proc.stdout)["limits"]
    assert limits["cell_timeout"] == 1
    assert limits["cell_timeout_from"] == "--cell-timeout, stricter than the course's c.Execute.timeout = 8"
    assert _scores(course)["test_slow"] == 0.0


def test_usage_errors_exit_1_with_one_line(tmp_path: Path) -> None:
    course = _course(tmp_path, "")
    for args in (("--bogus",), ("Execute.timeout=3",), ()):
        proc = _run(course, "credkit", "grade", *((ASSIGNMENT,) if args else ()), *args)
        assert proc.returncode == 1, (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert [line for line in proc.stderr.splitlines() if line.startswith("Error:")], proc.stderr


def test_every_learner_folder_is_accounted_for(tmp_path: Path) -> None:
    course = _course(tmp_path, "c.Execute.timeout = 8\n")
    (course / "submitted" / "ben" / ASSIGNMENT).mkdir(parents=True)
    (course / "submitted" / "ben" / ASSIGNMENT / "answers.txt").write_text("forgot the notebook\n")
    old = course / "submitted" / "cai" / ASSIGNMENT
    old.mkdir(parents=True)
    (old / f"{ASSIGNMENT}.ipynb").write_text(json.dumps({  # as IPython 2 saved it
        "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
        "worksheets": [{"metadata": {}, "cells": [
            {"cell_type": "code", "collapsed": False, "input": "x = 1", "language": "python",
             "metadata": {}, "outputs": []}]}]}))
    proc = _run(course, "credkit", "grade", ASSIGNMENT, "--no-progress")
    assert "ben: " in proc.stdout and "no notebook in the submission" in proc.stdout, proc.stdout
    assert "cai: " in proc.stdout and "an nbformat 3 notebook" in proc.stdout, proc.stdout
    assert "No notebooks were matched" not in proc.stderr


def test_a_manifest_changed_since_release_still_gets_a_summary(tmp_path: Path) -> None:
    folder = tmp_path / "assessments" / "t" / "mean-values"
    env = readme_steps.instructor_env(tmp_path / "home")
    key = tmp_path / "home" / ".jupyter" / "credkit" / "c-issuer-key.json"  # the course's default key
    for args in (("new", "assessment", str(folder)), ("release", str(folder), "--course", str(tmp_path / "c")),
                 ("keys", "new", "--out", str(key))):
        made = subprocess.run([str(VENV_BIN / "credkit"), *args], env=env, capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, made.stderr
    course = tmp_path / "c"
    dest = course / "submitted" / "ada" / "mean-values"
    dest.mkdir(parents=True)
    nbformat.write(nbformat.read(folder / "mean-values.ipynb", as_version=4), dest / "mean-values.ipynb")
    manifest = folder / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("Example University", "Example University (edited)"))
    proc = subprocess.run([str(VENV_BIN / "credkit"), "grade", "mean-values", "--course-dir", str(course),
                           "--no-progress"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "graded 1, failed 0" in proc.stdout  # the grades are written and said so
    errors = [line for line in proc.stderr.splitlines() if line.startswith("credkit: error:")]
    assert len(errors) == 1 and "changed since it was released" in errors[0], proc.stderr


# A course's own preprocessor list: nbgrader's, plus one of the instructor's after SaveAutoGrades.
OWN_PREPROCESSORS = """
from nbgrader.converters import Autograde
from nbgrader.preprocessors import NbGraderPreprocessor

class StampGraded(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        nb.metadata["course_stamp"] = "graded"
        return nb, resources

c.Autograde.autograde_preprocessors = Autograde.class_traits()["autograde_preprocessors"].default() + [StampGraded]
"""


def test_the_courses_own_preprocessors_run_with_the_execute_step_sandboxed(tmp_path: Path) -> None:
    from grading.provenance import ProvenanceStore, provenance_path

    config = "c.Execute.timeout = 8\n" + OWN_PREPROCESSORS
    stock, ours = _course(tmp_path / "stock", config), _course(tmp_path / "credkit", config)
    graded = _run(stock, "nbgrader", "autograde", ASSIGNMENT)
    assert graded.returncode == 0, graded.stderr[-2000:]
    proc = _run(ours, "credkit", "grade", ASSIGNMENT, "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "not recognized" not in proc.stderr, proc.stderr  # was: the course's list ignored, with that warning
    assert _scores(stock) == _scores(ours) == {"test_slow": 1.0, "test_quick": 1.0}
    for course in (stock, ours):  # the instructor's preprocessor ran under both
        nb = nbformat.read(course / "autograded" / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        assert nb.metadata.get("course_stamp") == "graded", course
    with ProvenanceStore(provenance_path(f"sqlite:///{ours / 'gradebook.db'}", str(ours))) as store:
        [row] = store.notebooks(ASSIGNMENT, "ada")
    assert row.sandboxed

    # A list without an execute step would score the outputs the learner submitted: refused.
    no_execute = _course(tmp_path / "no-execute", "from nbgrader.preprocessors import SaveAutoGrades\n"
                         "c.Autograde.autograde_preprocessors = [SaveAutoGrades]\n")
    proc = _run(no_execute, "credkit", "grade", ASSIGNMENT, "--no-progress")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "credkit: error: nbgrader_config.py: c.Autograde.autograde_preprocessors has no execute step; "
        "credkit grades only notebooks it ran in its sandbox")
    assert not list((no_execute / "autograded").rglob("*.ipynb"))
