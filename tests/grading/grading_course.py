"""A small real nbgrader course for the grading tests, released with real `nbgrader generate_assignment`.

Assessment ``ps1`` has one notebook, ``problem1``, with two solution cells and three autograded test
cells (2 + 3 + 5 points), one holding hidden tests, and a data file the tests read. Canary strings
sit in the solution, the hidden test, the course's secret file, the grader's environment and the key
file; the attack tests search every output for them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

VENV_BIN = Path(sys.executable).parent
ASSIGNMENT = "ps1"
NOTEBOOK = "problem1"
COURSE_ID = "course101"

CANARY_SOLUTION = "CANARY-SOLUTION-7f3a91"
CANARY_HIDDEN = "CANARY-HIDDEN-TEST-52bd0e"
CANARY_ENV = "CANARY-GRADER-ENV-c0ffee"
CANARY_KEY = "CANARY-SIGNING-KEY-9d1e44"
CANARY_OTHER = "CANARY-OTHER-LEARNER-e81f20"
CANARIES = (CANARY_SOLUTION, CANARY_HIDDEN, CANARY_ENV, CANARY_KEY, CANARY_OTHER)

POINTS = {"test_squares": 2.0, "test_squares_hidden": 3.0, "test_mean": 5.0}

HONEST = {
    "squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]\n",
    "mean": "def mean(xs):\n    return sum(xs) / len(xs)\n",
}
# Fails the hidden test only (squares(0) should be []): 2 + 0 + 5.
HALF = {
    "squares": "def squares(n):\n    return [i * i for i in range(1, max(n, 1) + 1)]\n",
    "mean": HONEST["mean"],
}
# Passes nothing; `mean` raises.
BLANK = {
    "squares": "def squares(n):\n    return []\n",
    "mean": "def mean(xs):\n    raise NotImplementedError()\n",
}


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: float = 0) -> dict:
    md = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
          "solution": solution, "task": False}
    if grade:
        md["points"] = points
    return {"nbgrader": md}


def source_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        new_markdown_cell("# Problem 1\nWrite `squares` and `mean`.", metadata=_meta("intro", locked=True)),
        new_code_cell(
            "def squares(n):\n"
            "    \"\"\"The first n squares, from 1.\"\"\"\n"
            "    ### BEGIN SOLUTION\n"
            f"    # {CANARY_SOLUTION}\n"
            "    return [i * i for i in range(1, n + 1)]\n"
            "    ### END SOLUTION\n",
            metadata=_meta("squares", solution=True)),
        new_code_cell("assert squares(3) == [1, 4, 9]\n",
                      metadata=_meta("test_squares", grade=True, locked=True, points=2)),
        new_code_cell(
            "assert squares(1) == [1]\n"
            "### BEGIN HIDDEN TESTS\n"
            f"# {CANARY_HIDDEN}\n"
            "assert squares(0) == []\n"
            "### END HIDDEN TESTS\n",
            metadata=_meta("test_squares_hidden", grade=True, locked=True, points=3)),
        new_code_cell(
            "def mean(xs):\n"
            "    ### BEGIN SOLUTION\n"
            "    return sum(xs) / len(xs)\n"
            "    ### END SOLUTION\n",
            metadata=_meta("mean", solution=True)),
        new_code_cell(
            "import math\n"
            "values = [float(x) for x in open('data.txt').read().split()]\n"
            "assert mean(values) == 2.0\n"
            "assert math.isclose(mean([1.5, 2.0]), 1.75)\n",
            metadata=_meta("test_mean", grade=True, locked=True, points=5)),
    ]
    return nb


def build_course(root: Path) -> Path:
    """Create the course and release ps1 with real nbgrader. Returns the course directory."""
    course = root / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        "c.Execute.timeout = 2\n"
        "c.SandboxedExecute.timeout = 2\n"
        "c.SandboxedExecute.total_timeout = 60\n"
    )
    nbformat.write(source_notebook(), course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    (course / "source" / ASSIGNMENT / "data.txt").write_text("1 2 3\n")
    (course / "instructor-secret.txt").write_text(CANARY_SOLUTION + "\n")
    run_nbgrader(course, "generate_assignment", ASSIGNMENT)
    assert (course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()
    return course


def grader_env(course: Path) -> dict[str, str]:
    """The grader's environment: with a planted secret and the path of a (canary) key file."""
    key = course.parent / "issuer-key.json"
    if not key.exists():
        key.write_text('{"type": "Multikey", "secretKeyMultibase": "%s"}\n' % CANARY_KEY)
        key.chmod(0o600)
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs `alembic` from PATH
    env["CREDKIT_TEST_GRADER_SECRET"] = CANARY_ENV
    env["CREDKIT_KEY_FILE"] = str(key)
    env.pop("CREDKIT_FAULT_INJECT", None)
    return env


def run_nbgrader(course: Path, *args: str, check: bool = True,
                 timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(VENV_BIN / "nbgrader"), *args], cwd=course, env=grader_env(course),
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_credkit(course: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "credkit"), "grade", ASSIGNMENT, "--course-dir", str(course), *args],
                          cwd=course.parent, env=env or grader_env(course), capture_output=True, text=True,
                          timeout=timeout)


def submit(course: Path, student: str, code: dict[str, str], *, extra_cells: list[str] = (),
           files: dict[str, str] | None = None, timestamp: str = "2026-11-01 10:00:00.000000 UTC") -> Path:
    """Write a submission: the released notebook with the learner's code in the solution cells."""
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in code:
            cell.source = code[grade_id]
    for i, src in enumerate(extra_cells):
        # a learner may add cells of their own right after the first solution cell
        nb.cells.insert(2 + i, new_code_cell(src))
    dest = course / "submitted" / student / ASSIGNMENT
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / f"{NOTEBOOK}.ipynb")
    (dest / "timestamp.txt").write_text(timestamp)
    for rel, text in (files or {}).items():
        (dest / rel).write_text(text)
    return dest


def copy_course(template: Path, root: Path) -> Path:
    course = root / "course"
    shutil.copytree(template, course, symlinks=True)
    return course


def auto_scores(course: Path, student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        sub = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return {g.name: g.auto_score for g in sub.grades}


def total_scores(course: Path, student: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return float(gb.find_submission(ASSIGNMENT, student).score)


def all_text(course: Path, *extra: str, except_learner: str | None = None) -> str:
    """Everything a canary could leak into: autograded notebooks, feedback, logs, plus ``extra``
    (leaving out ``except_learner``'s own files, which rightly hold that learner's work)."""
    parts = list(extra)
    for sub in ("autograded", "feedback"):
        base = course / sub
        if base.exists():
            for path in base.rglob("*"):
                if except_learner and path.relative_to(base).parts[0] == except_learner:
                    continue
                if path.is_file():
                    parts.append(path.read_text(errors="replace"))
    for log in course.glob("*.log"):
        parts.append(log.read_text(errors="replace"))
    return "\n".join(parts)
