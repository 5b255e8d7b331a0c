"""A small released nbgrader notebook (one skill right, one wrong) and its learner-safe skill map."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _meta(grade_id: str, *, solution: bool, grade: bool, points: float = 0) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution, "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def write_assessment(folder: Path, *, widget_cell: bool = False) -> Path:
    """``folder/assessment.ipynb`` + ``folder/credkit-skills.json``; returns the notebook path."""
    folder.mkdir(parents=True, exist_ok=True)
    cells = [
        new_markdown_cell("# Functions\nWrite `add` and `mean`."),
        new_code_cell("def add(a, b):\n    return a + b", metadata=_meta("add_answer", solution=True, grade=False)),
        new_code_cell("assert add(1, 2) == 3\nassert add(-1, 1) == 0", metadata=_meta("test_add", solution=False, grade=True, points=2)),
        new_code_cell("def mean(xs):\n    return sum(xs)  # forgot to divide", metadata=_meta("mean_answer", solution=True, grade=False)),
        new_code_cell("assert mean([1, 2, 3]) == 2", metadata=_meta("test_mean", solution=False, grade=True, points=3)),
    ]
    if widget_cell:
        # near the top, where a learner sees it; nbgrader's validation runs it too, and it holds back then
        cells.insert(
            1,
            new_code_cell(
                "from credkit_jupyter.widgets import SkillProgress\n"
                "progress = SkillProgress('assessment.ipynb')\nprogress.check()\nprogress"
            ),
        )
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = folder / "assessment.ipynb"
    nbformat.write(nb, str(path))
    (folder / "credkit-skills.json").write_text(
        json.dumps(
            {
                "skills": [
                    {"id": "add", "name": "Add numbers", "tests": ["test_add"]},
                    {"id": "mean", "name": "Compute a mean", "tests": ["test_mean"]},
                ],
                "credentials": [
                    {"id": "https://credkit.example.edu/credentials/add", "name": "Adding", "skills": {"add": 1.0}},
                    {"id": "https://credkit.example.edu/credentials/stats", "name": "Basic statistics", "skills": {"add": 1.0, "mean": 0.5}},
                ],
            }
        )
    )
    return path
