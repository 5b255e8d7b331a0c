"""A real nbgrader course in a temp folder: release with credkit, submit corpus notebooks, autograde."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook

from grading.manifest import Assessment
from grading.release import release

BIN = Path(sys.executable).parent
CELL_TIMEOUT = 10  # seconds; the corpus solutions need well under 1 s per cell


def env() -> dict[str, str]:
    """The environment for nbgrader subprocesses: this venv's scripts first (nbgrader calls alembic)."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def make_course(root: Path, assessment: Assessment) -> Path:
    """Release ``assessment`` into a fresh course under ``root``; returns the course folder."""
    course = root / f"course-{assessment.id}"
    release(assessment.folder, course)
    return course


def submit(course: Path, assessment: Assessment, learner: str, notebook: Path) -> None:
    """Put ``notebook`` in nbgrader's layout as ``learner``'s submission, with the released files."""
    dest = course / "submitted" / learner / assessment.id
    shutil.copytree(course / "release" / assessment.id, dest, dirs_exist_ok=True)
    shutil.copy(notebook, dest / assessment.notebooks[0])
    (dest / "timestamp.txt").write_text("2026-11-29 12:00:00.000000 UTC")


def autograde_cmd(course: Path, assessment: Assessment) -> list[str]:
    """Stock ``nbgrader autograde`` over every submission of the assessment, with a short cell timeout."""
    return [str(BIN / "nbgrader"), "autograde", assessment.id, "--force",
            f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}", "--Execute.timeout=" + str(CELL_TIMEOUT),
            "--CourseDirectory.root=" + str(course)]


def autograde(course: Path, assessment: Assessment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(autograde_cmd(course, assessment), cwd=course, env=env(),
                          capture_output=True, text=True, timeout=600, check=False)


def scores(course: Path, assessment: Assessment) -> dict[str, dict[str, float]]:
    """learner -> grade_id -> score of every graded cell, read from the gradebook."""
    out: dict[str, dict[str, float]] = {}
    os.environ["PATH"] = env()["PATH"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assessment.id):
            cells: dict[str, float] = {}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    cells[grade.name] = grade.score
            out[sub.student.id] = cells
    return out


def max_scores(course: Path, assessment: Assessment) -> dict[str, float]:
    os.environ["PATH"] = env()["PATH"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        a = gb.find_assignment(assessment.id)
        return {c.name: c.max_score for nb in a.notebooks for c in nb.grade_cells}
