"""``credkit new assessment DIR``: a small assessment that validates, releases and grades as it stands."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kit.errors import ManifestError
from kit.fileio import write_atomic

from .manifest import MANIFEST_NAME

__all__ = ["new_assessment"]

_MANIFEST = '''\
# credkit assessment manifest (format 1). See README.md, "Authoring assessments".
format = 1

[assessment]
id = "{id}"                      # the nbgrader assignment name in the course
title = "{title}"
notebooks = ["{id}.ipynb"]
files = []                       # data files released with the notebooks

[issuer]                         # or leave out and put it in ../track.toml
name = "Example University"
url = "https://example.edu"
email = "credentials@example.edu"

[skills.summary-statistics]
name = "Summary statistics in Python"
description = "Computes the mean of a list of numbers, handling the empty case."

[[skills.summary-statistics.alignment]]
framework = "ESCO"
name = "use Python"
code = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
url = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
target_type = "ceasn:Competency"

[cells]                          # nbgrader grade_id -> the skills it assesses
test_mean_visible = ["summary-statistics"]
test_mean_hidden = ["summary-statistics"]

[credentials.summary-statistics]
id = "https://example.edu/achievements/{id}/summary-statistics"
name = "Summary statistics in Python"
description = "Writes a correct, defensive mean function in Python."
requires = {{ summary-statistics = 0.75 }}   # fraction of the skill's possible points
validity_days = 1095
'''


def _nb(sid: str, title: str) -> nbformat.NotebookNode:
    def meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float = 0) -> dict:
        m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
             "solution": solution, "task": False}
        if grade:
            m["points"] = points
        return {"nbgrader": m}

    cells = [
        new_markdown_cell(f"# {title}\n\nWrite `mean(values)`: the arithmetic mean of a list of numbers, "
                          "as a `float`. For an empty list, raise `ValueError`.",
                          metadata=meta("intro", grade=False, solution=False, locked=True)),
        new_code_cell("def mean(values):\n    \"\"\"The arithmetic mean of ``values`` as a float.\"\"\"\n"
                      "    ### BEGIN SOLUTION\n    if len(values) == 0:\n"
                      "        raise ValueError(\"mean of an empty list\")\n"
                      "    return float(sum(values)) / len(values)\n    ### END SOLUTION",
                      metadata=meta("mean", grade=False, solution=True, locked=False)),
        new_code_cell("# Visible tests: run this cell to check your work.\n"
                      "result = mean([1, 2, 3, 4])\nassert type(result) is float and result == 2.5\n",
                      metadata=meta("test_mean_visible", grade=True, solution=False, locked=True, points=1)),
        new_code_cell("# Hidden tests check more cases when your work is graded.\n"
                      "### BEGIN HIDDEN TESTS\nresult = mean([10])\nassert type(result) is float and result == 10.0\n"
                      "try:\n    mean([])\nexcept ValueError:\n    pass\nelse:\n"
                      "    raise AssertionError(\"mean([]) must raise ValueError\")\n### END HIDDEN TESTS\n",
                      metadata=meta("test_mean_hidden", grade=True, solution=False, locked=True, points=2)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def new_assessment(folder: str | Path) -> Path:
    """Create an assessment folder with a manifest and a source notebook; returns the manifest path.

    Raises ManifestError when the folder already holds files or its name cannot be an assessment id.
    """
    folder = Path(folder)
    sid = folder.name.lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", sid):
        raise ManifestError(f"{folder}: the folder name must be an assessment id "
                            "(lower-case letters, digits, '-' or '_')")
    if folder.exists() and any(folder.iterdir()):
        raise ManifestError(f"{folder}: folder is not empty; choose a new folder")
    title = sid.replace("-", " ").replace("_", " ").capitalize()
    created = not folder.exists()
    manifest = folder / MANIFEST_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{sid}.ipynb", nbformat.writes(_nb(sid, title)).encode("utf-8"))
        write_atomic(manifest, _MANIFEST.format(id=sid, title=title).encode("utf-8"))
    except OSError as exc:
        # No half-made assessment: take back what this call wrote (the folder was empty or new).
        for path in (manifest, folder / f"{sid}.ipynb"):
            path.unlink(missing_ok=True)
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise ManifestError(f"{exc.filename or folder}: cannot create the assessment ({exc.strerror or exc.__class__.__name__})") from None
    return manifest
