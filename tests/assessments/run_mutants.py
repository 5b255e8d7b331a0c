"""Run an assessment's reference solution and its mutants in one process; print the failing test cells.

Usage: python run_mutants.py ASSESSMENT_DIR. Each run executes the instructor's source notebook as
the autograder does (solution regions filled in, hidden tests included): its code cells in order, in
a fresh namespace, from the assessment folder (where the data files are); a test cell "fails" when
it raises. Prints one JSON object: {"reference": [...], "mutants": [[...], ...]}.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import tomllib
from pathlib import Path

import nbformat

PER_RUN_SECONDS = 20
SOLUTION_MARK = re.compile(r"\s*### (BEGIN|END) SOLUTION\s*$")


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # type: ignore[no-untyped-def]
    raise _Timeout()


def run(cells: list[tuple[str | None, bool, str]]) -> list[str]:
    """Execute (grade_id, is_test, source) cells; return the grade_ids of the test cells that raised."""
    namespace: dict = {"__name__": "__main__"}
    failed: list[str] = []
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(PER_RUN_SECONDS)
    try:
        for grade_id, is_test, source in cells:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(source, f"<cell {grade_id}>", "exec"), namespace)
            except _Timeout:
                raise
            except BaseException:
                if is_test:
                    failed.append(str(grade_id))
    except _Timeout:
        failed.append("(timeout)")
    finally:
        signal.alarm(0)
    return failed


def main(folder: Path) -> None:
    manifest = tomllib.loads((folder / "manifest.toml").read_text())
    nb = nbformat.read(folder / manifest["assessment"]["notebooks"][0], as_version=4)
    mutants = tomllib.loads((folder / "corpus" / "mutants.toml").read_text())["mutant"]
    base = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        source = "\n".join(ln for ln in cell.source.splitlines() if not SOLUTION_MARK.match(ln))
        base.append((meta.get("grade_id"), bool(meta.get("grade")) and not meta.get("solution"), source))
    os.chdir(folder)
    result = {"reference": run(base), "mutants": []}
    for m in mutants:
        cells = []
        for grade_id, is_test, source in base:
            if grade_id == m["cell"]:
                if source.count(m["find"]) != 1:
                    raise SystemExit(f"mutant {m}: 'find' must occur exactly once in cell {grade_id}")
                source = source.replace(m["find"], m["replace"])
            cells.append((grade_id, is_test, source))
        result["mutants"].append(run(cells))
    print(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
