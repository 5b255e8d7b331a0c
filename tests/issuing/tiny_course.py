"""A tiny released course for the issuing tests: one notebook, two skills, two credentials.

Each cell is a one-liner, so a real `credkit grade` of a handful of learners takes seconds. What a
submission earns is known from what it was written to do: ``RIGHT`` earns both credentials,
``HALF`` only ``adding``, ``WRONG`` none.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook

from grading.release import release
from kit.keys import IssuerKey, save_key
from tests.assessments.course import BIN

__all__ = ["ADDING", "DOUBLING", "RIGHT", "HALF", "WRONG", "earned", "tiny_course", "submit"]

ADDING = "https://tiny.example.edu/achievements/adding"
DOUBLING = "https://tiny.example.edu/achievements/doubling"
RIGHT = {"add": "def add(a, b):\n    return a + b", "double": "def double(x):\n    return 2 * x"}
HALF = {"add": RIGHT["add"], "double": "def double(x):\n    return x"}
WRONG = {"add": "def add(a, b):\n    return a - b", "double": HALF["double"]}

MANIFEST = f"""format = 1
[assessment]
id = "tiny"
title = "Tiny"
notebooks = ["tiny.ipynb"]
[issuer]
name = "Tiny College"
url = "https://tiny.example.edu"
email = "credentials@tiny.example.edu"
[skills.adding]
name = "Adding"
description = "Adds two numbers."
[skills.doubling]
name = "Doubling"
description = "Doubles a number."
[cells]
test_add = ["adding"]
test_double = ["doubling"]
[credentials.adding]
id = "{ADDING}"
name = "Adding numbers"
description = "Adds."
requires = {{ adding = 1.0 }}
[credentials.doubling]
id = "{DOUBLING}"
name = "Doubling numbers"
description = "Doubles."
requires = {{ doubling = 1.0 }}
"""


def earned(code: dict[str, str]) -> set[str]:
    """The oracle: what a submission was written to earn."""
    return {ADDING, DOUBLING} if code is RIGHT else {ADDING} if code is HALF else set()


def _meta(grade_id: str, *, solution: bool, points: float = 0) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": not solution, "locked": not solution, "schema_version": 3}
    if not solution:
        meta["points"] = points
    return {"nbgrader": meta}


def _notebook(code: dict[str, str]) -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_code_cell(code["add"], metadata=_meta("add_answer", solution=True)),
            new_code_cell("assert add(1, 2) == 3", metadata=_meta("test_add", solution=False, points=1)),
            new_code_cell(code["double"], metadata=_meta("double_answer", solution=True)),
            new_code_cell("assert double(2) == 4", metadata=_meta("test_double", solution=False, points=1)),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )


def tiny_course(root: Path, *, config: str = "", points_thresholds: bool = False) -> tuple[Path, IssuerKey]:
    """Release the tiny assessment into ``root/course``, with an issuer key outside the course.

    ``points_thresholds`` writes the pass marks as ``{ points = 1 }`` instead of fractions.
    """
    source = root / "assessments" / "tiny"
    source.mkdir(parents=True)
    manifest = MANIFEST
    if points_thresholds:
        manifest = manifest.replace("adding = 1.0", "adding = { points = 1 }").replace("doubling = 1.0", "doubling = { points = 1 }")
    (source / "manifest.toml").write_text(manifest)
    nbformat.write(_notebook(RIGHT), str(source / "tiny.ipynb"))
    course = root / "course"
    release(source, course)
    key = IssuerKey.generate()
    (root / "instructor").mkdir()
    save_key(key, root / "instructor" / "issuer.json")
    with open(course / "nbgrader_config.py", "a") as file:
        file.write(f"c.Credkit.key_file = {str(root / 'instructor' / 'issuer.json')!r}\n")
        file.write(f"c.Credkit.wallet_root = {str(root / 'wallets')!r}\n")
        file.write("c.Credkit.status_base_url = 'https://tiny.example.edu/status'\n" + config)
    return course, key


def submit(course: Path, learner: str, code: dict[str, str], *, email: str | None = None) -> None:
    """``learner``'s submission of ``tiny`` in nbgrader's layout, and the learner in the gradebook."""
    import os

    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # nbgrader's Gradebook runs alembic
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_student(learner, email=email)
    dest = course / "submitted" / learner / "tiny"
    shutil.copytree(course / "release" / "tiny", dest, dirs_exist_ok=True)
    notebook = nbformat.read(str(dest / "tiny.ipynb"), as_version=4)
    for cell in notebook.cells:  # the learner fills in the released notebook's answer cells
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.endswith("_answer"):
            cell.source = code[grade_id.removesuffix("_answer")]
    nbformat.write(notebook, str(dest / "tiny.ipynb"))
    (dest / "timestamp.txt").write_text("2026-11-29 12:00:00.000000 UTC")
