"""Two foreign nbgrader courses, built from what ships inside the installed nbgrader package, for
measuring that ``credkit grade`` gives the per-cell scores stock ``nbgrader autograde`` gives.

1. :func:`build_docs_course`: nbgrader's documentation course (``docs/source/user_guide``): the
   ``ps1`` source (problem1, problem2, the header notebook the docs release it with) and the two
   submissions the docs ship (``bitdiddle``, ``hacker``).
2. :func:`build_fixture_course`: one assignment whose notebooks are nbgrader's own test fixtures
   (``tests/apps/files``) that release, each submitted in the variants the fixtures provide
   (see :data:`FIXTURE_NOTEBOOKS` and :data:`FIXTURE_SUBMISSIONS`, and the comments on what is left
   out and why).

Every path is derived from ``nbgrader.__file__``; each course is released once with real
``nbgrader generate_assignment`` and copied, so both graders see the same release (the same
autotest salts) and each grades from a fresh copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import nbgrader
from grading_course import VENV_BIN, grader_env, run_nbgrader
from nbformat.v4 import new_code_cell, new_notebook

NBGRADER = Path(nbgrader.__file__).resolve().parent
DOCS = NBGRADER / "docs" / "source" / "user_guide"
FILES = NBGRADER / "tests" / "apps" / "files"

CELL_TIMEOUT = 3  # seconds, for both graders; timeout.ipynb sleeps 5 s, infinite-loop.ipynb forever

DOCS_COURSE_ID = "example_course"
DOCS_ASSIGNMENT = "ps1"
DOCS_STUDENTS = ("bitdiddle", "hacker")

FIXTURE_COURSE_ID = "nbgrader_fixtures"
FIXTURE_ASSIGNMENT = "fixtures"

# Released notebook name -> the fixture it is released from (its source version).
#
# Fixtures that are valid nbgrader source notebooks and release with `nbgrader generate_assignment`
# (checked: each one of tests/apps/files/*.ipynb was released on its own):
FIXTURE_NOTEBOOKS = {
    "test": "test.ipynb",
    "test_hidden_tests": "test-hidden-tests.ipynb",
    "submitted": "submitted-unchanged.ipynb",  # nbgrader's own tests release this one as "p1"
    # The autotest sources release only with the course's autotests.yml (copied from the fixtures,
    # as nbgrader's tests do); the release draws random salts, so it happens once per test and both
    # graders grade copies of it.
    "autotest_simple": "autotest-simple.ipynb",
    "autotest_hashed": "autotest-hashed.ipynb",
    "autotest_multi": "autotest-multi.ipynb",
    "autotest_hidden": "autotest-hidden.ipynb",
    "open_relative_file": "open_relative_file.ipynb",  # reads the fixtures' data.txt
    "side_effects": "side-effects.ipynb",              # no grade cell: writes a file, must still grade
    "timeout": "timeout.ipynb",                        # a test that sleeps 5 s: 0 under a 3 s cell timeout
    "validating_env": "validating-environment-variable.ipynb",  # 0 points iff NBGRADER_EXECUTION is set
    "validation_zero_points": "validation-zero-points.ipynb",   # a 0-point test cell
    "infinite_loop": "infinite-loop.ipynb",            # no grade cell: `while True: pass`, stopped by the timeout
}
# Left out, and why:
# - test-v0.ipynb, test-v1.ipynb, test-v2.ipynb, test-v0-invalid.ipynb, too-new.ipynb: old or future
#   nbgrader metadata schemas; generate_assignment refuses them ("use an old/newer version", invalid).
# - test-no-metadata.ipynb: solution regions outside solution cells; generate_assignment refuses it.
# - test-no-metadata-autotest.ipynb: refused the same way (autotest directives without metadata).
# - infinite-loop-with-output.ipynb: releases, but has no grade cell, and its loop appends to a list
#   until the timeout: what stock does with it depends on the machine's free memory and speed (stock
#   sets no memory limit; nbgrader's own test of it is skipped: "takes too long to run and consumes a
#   LOT of memory"), so it is nondeterministic and has no cell to compare.
# - The *-changed / *-unchanged / submitted-* / test-with-output fixtures also release, but they are
#   the submissions of the sources above (same grade cells), and are graded as such below.

# Learner -> released notebook -> the fixture file submitted for it. "solution" submits each source
# (solutions and all, as an instructor checking the release would); "release" submits the released
# notebooks untouched (a blank attempt). A notebook a learner does not submit is missing from the
# submission, which stock scores 0 (compared too, counted apart).
FIXTURE_SUBMISSIONS: dict[str, dict[str, str]] = {
    "solution": dict(FIXTURE_NOTEBOOKS),
    "release": {"test": "<release>", "test_hidden_tests": "<release>", "validation_zero_points": "<release>"},
    "unchanged": {
        "submitted": "submitted-unchanged.ipynb",
        "autotest_simple": "autotest-simple-unchanged.ipynb",
        "autotest_hashed": "autotest-hashed-unchanged.ipynb",
        "autotest_multi": "autotest-multi-unchanged.ipynb",
        "autotest_hidden": "autotest-hidden-unchanged.ipynb",
    },
    "changed": {
        "submitted": "submitted-changed.ipynb",
        "autotest_simple": "autotest-simple-changed.ipynb",
        "autotest_hashed": "autotest-hashed-changed.ipynb",
        "autotest_multi": "autotest-multi-changed.ipynb",
        "autotest_hidden": "autotest-hidden-changed-right.ipynb",
        "test": "test-with-output.ipynb",
    },
    "wrong": {"autotest_hidden": "autotest-hidden-changed-wrong.ipynb"},
    "grade_cell_changed": {"submitted": "submitted-grade-cell-changed.ipynb"},
    "locked_cell_changed": {"submitted": "submitted-locked-cell-changed.ipynb"},
    # nbgrader's own cheat-attempt fixtures (showtraceback disabled in the learner's kernel): stock
    # scores them as it scores any submission; compared like the rest.
    "cheat": {"submitted": "submitted-cheat-attempt.ipynb"},
    "cheat_alt": {"submitted": "submitted-cheat-attempt-alternative.ipynb"},
}

# Not from nbgrader: a probe of NBGRADER_EXECUTION on both sides (the learner's kernel and the
# test cells), graded in the same assignment but counted apart from the foreign cells.
PROBE = "probe_env"


def _probe_notebook() -> nbformat.NotebookNode:
    def meta(grade_id: str, grade: bool, points: float = 0) -> dict:
        md = {"grade": grade, "grade_id": grade_id, "locked": True, "schema_version": 3,
              "solution": False, "task": False}
        if grade:
            md["points"] = points
        return {"nbgrader": md}

    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell("import os\nlearner_side = os.environ.get('NBGRADER_EXECUTION')\n",
                      metadata=meta("probe_learner", False)),
        new_code_cell("assert learner_side == 'autograde', learner_side\n",
                      metadata=meta("env_in_learner_kernel", True, 1)),
        new_code_cell("import os as _os\nassert _os.environ.get('NBGRADER_EXECUTION') == 'autograde'\n",
                      metadata=meta("env_in_test_cell", True, 1)),
    ]
    return nb


def _config(course: Path, course_id: str) -> None:
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.Execute.timeout = {CELL_TIMEOUT}\n"
        f"c.SandboxedExecute.timeout = {CELL_TIMEOUT}\n"
        "c.SandboxedExecute.total_timeout = 120\n"
    )


def _nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_nbgrader(course, *args, check=check, timeout=900)  # the fixture course is slow under stock


def build_docs_course(root: Path) -> Path:
    """nbgrader's documentation course: ps1 released as the docs release it, the docs' submissions."""
    course = root / "docs-course"
    course.mkdir(parents=True)
    _config(course, DOCS_COURSE_ID)
    shutil.copytree(DOCS / "source", course / "source", ignore=shutil.ignore_patterns("ps1_autotest"))
    # As in the docs (creating_and_grading_assignments.ipynb):
    _nbgrader(course, "generate_assignment", DOCS_ASSIGNMENT, "--IncludeHeaderFooter.header=source/header.ipynb")
    for student in DOCS_STUDENTS:
        shutil.copytree(DOCS / "submitted" / student, course / "submitted" / student)
    return course


def build_fixture_course(root: Path) -> Path:
    """One assignment of nbgrader's test fixtures, with the fixtures' submissions of them."""
    course = root / "fixture-course"
    source = course / "source" / FIXTURE_ASSIGNMENT
    source.mkdir(parents=True)
    _config(course, FIXTURE_COURSE_ID)
    shutil.copy(FILES / "autotests.yml", course / "autotests.yml")
    for name, fixture in FIXTURE_NOTEBOOKS.items():
        shutil.copy(FILES / fixture, source / f"{name}.ipynb")
    nbformat.write(_probe_notebook(), source / f"{PROBE}.ipynb")
    shutil.copy(FILES / "data.txt", source / "data.txt")
    shutil.copy(FILES / "jupyter.png", source / "jupyter.png")
    _nbgrader(course, "generate_assignment", FIXTURE_ASSIGNMENT)
    release = course / "release" / FIXTURE_ASSIGNMENT
    assert sorted(p.stem for p in release.glob("*.ipynb")) == sorted([*FIXTURE_NOTEBOOKS, PROBE])

    for student, notebooks in FIXTURE_SUBMISSIONS.items():
        dest = course / "submitted" / student / FIXTURE_ASSIGNMENT
        dest.mkdir(parents=True)
        for extra in release.iterdir():  # the released files a learner fetches, not the notebooks
            if extra.suffix != ".ipynb":
                shutil.copy(extra, dest / extra.name)
        for name, fixture in notebooks.items():
            shutil.copy(release / f"{name}.ipynb" if fixture == "<release>" else FILES / fixture,
                        dest / f"{name}.ipynb")
        if student == "solution":
            shutil.copy(release / f"{PROBE}.ipynb", dest / f"{PROBE}.ipynb")
        (dest / "timestamp.txt").write_text((FILES / "timestamp.txt").read_text())
    return course


def copy_course(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def stock_autograde(course: Path, assignment: str) -> subprocess.CompletedProcess[str]:
    """Stock `nbgrader autograde`, unsandboxed, with the course's config (3 s cell timeout)."""
    return _nbgrader(course, "autograde", assignment, f"--Execute.timeout={CELL_TIMEOUT}")


def credkit_grade(course: Path, assignment: str) -> dict:
    """`credkit grade` (sandboxed, the options the other grading tests use); returns its summary."""
    proc = subprocess.run([str(VENV_BIN / "credkit"), "grade", assignment, "--course-dir", str(course),
                           "--cell-timeout", str(CELL_TIMEOUT), "--json"],
                          cwd=course.parent, env=grader_env(course), capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        try:
            failures = json.dumps(json.loads(proc.stdout)["failures"], indent=1)
        except (ValueError, KeyError):
            failures = proc.stdout
        tail = [line for line in proc.stderr.splitlines() if "SAWarning" not in line and not line.startswith("  ")]
        raise AssertionError(f"credkit grade failed ({proc.returncode}): {failures}\n" + "\n".join(tail[-30:]))
    assert "SAWarning" not in proc.stderr, proc.stderr[-2000:]  # nbgrader's harmless cascade warnings, folded
    return json.loads(proc.stdout)


def cell_scores(course: Path, course_id: str, assignment: str) -> dict[tuple[str, str, str], tuple]:
    """(learner, notebook, grade_id) -> (auto_score, needs_manual_grade) for every grade cell."""
    from nbgrader.api import Gradebook

    out: dict[tuple[str, str, str], tuple] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id) as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                for grade in nb.grades:
                    out[(sub.student.id, nb.name, grade.name)] = (grade.auto_score, grade.needs_manual_grade)
    return out
