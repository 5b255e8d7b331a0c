"""Run an assessment's reference solution and its mutants in one Jupyter kernel; print the failing tests.

Usage: python run_mutants.py ASSESSMENT_DIR. Each run executes the instructor's source notebook as
the autograder does (solution regions filled in, hidden tests included): `%reset -f`, then its code
cells in order, in one real IPython kernel started in the assessment folder (where the data files
are); a test cell fails when its execution reply is an error. A run that exceeds the time limit
counts as failing and the kernel is restarted. Prints one JSON object:
{"reference": [failed grade_ids], "mutants": [[failed grade_ids], ...]}.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager

CELL_SECONDS = 10
SOLUTION_MARK = re.compile(r"\s*### (BEGIN|END) SOLUTION\s*$")

Cell = tuple[str | None, bool, str]  # grade_id, is a test cell, source


class Runner:
    """One kernel, reused from run to run; the user namespace is reset before each run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # IPC sockets, not TCP ports: several runners start kernels at once, and jupyter_client's
        # free-port pick races between processes ("Address already in use").
        self.km = KernelManager(kernel_name="python3", transport="ipc")
        self.km.connection_file = str(Path(tempfile.mkdtemp(prefix="credkit-mutants-")) / "kernel.json")
        self.km.ip = str(Path(self.km.connection_file).with_name("ipc"))
        self.km.start_kernel(cwd=str(folder))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def execute(self, code: str) -> bool:
        """Run code; True when the reply is ok. Raises TimeoutError past CELL_SECONDS."""
        try:
            reply = self.kc.execute_interactive(code, timeout=CELL_SECONDS, output_hook=lambda msg: None,
                                                store_history=False)
        except queue.Empty as exc:  # older jupyter_client signals a timeout this way
            raise TimeoutError() from exc
        return reply["content"]["status"] == "ok"

    def run(self, cells: list[Cell]) -> list[str]:
        failed: list[str] = []
        try:
            self.execute("%reset -f")
            for grade_id, is_test, source in cells:
                if not self.execute(source) and is_test:
                    failed.append(str(grade_id))
        except TimeoutError:
            failed.append("(timeout)")
            self.km.restart_kernel(now=True)
            self.kc.wait_for_ready(timeout=60)
        return failed

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        shutil.rmtree(Path(self.km.connection_file).parent, ignore_errors=True)


def main(folder: Path) -> None:
    manifest = tomllib.loads((folder / "manifest.toml").read_text())
    nb = nbformat.read(folder / manifest["assessment"]["notebooks"][0], as_version=4)
    mutants = tomllib.loads((folder / "corpus" / "mutants.toml").read_text())["mutant"]
    base: list[Cell] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        source = "\n".join(ln for ln in cell.source.splitlines() if not SOLUTION_MARK.match(ln))
        base.append((meta.get("grade_id"), bool(meta.get("grade")) and not meta.get("solution"), source))
    runs: list[list[Cell]] = []
    for m in mutants:
        cells = []
        for grade_id, is_test, source in base:
            if grade_id == m["cell"]:
                if source.count(m["find"]) != 1:
                    raise SystemExit(f"mutant {m}: 'find' must occur exactly once in cell {grade_id}")
                source = source.replace(m["find"], m["replace"])
            cells.append((grade_id, is_test, source))
        runs.append(cells)
    runner = Runner(folder)
    try:
        result = {"reference": runner.run(base), "mutants": [runner.run(cells) for cells in runs]}
    finally:
        runner.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
