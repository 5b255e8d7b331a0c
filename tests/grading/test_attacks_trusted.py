"""Attacks on the trusted side (issue 10): what the grader's own process does with learner content.

Each is first shown working where credkit is not in the way (stock `nbgrader autograde`, or the kind
of code credkit ran before), then shown contained under `credkit grade`: a notebook too large to
parse fails alone before it is read, text processing of learner cells stays linear, and files a
learner submits never bring their links or Python's start-up hooks into `autograded/` or `feedback/`.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import nbformat
from grading_course import (
    ASSIGNMENT, CANARY_HIDDEN, HONEST, NOTEBOOK, POINTS, VENV_BIN, grader_env, run_credkit, run_nbgrader, submit,
    total_scores,
)
from nbformat.v4 import new_markdown_cell

from grading.feedback import FEEDBACK_PREPROCESSORS, hide_hidden_regions

MiB = 1024**2


def _peak_rss(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``args``; its result and the peak resident memory (bytes) of it or any process it waited for."""
    proc = subprocess.run(["/usr/bin/time", "-f", "PEAK-RSS-KB %M", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    peak = re.findall(r"PEAK-RSS-KB (\d+)", proc.stderr)
    assert peak, proc.stderr
    return proc, int(peak[-1]) * 1024


def _submit_big_markdown(course: Path, student: str, size: int) -> Path:
    dest = submit(course, student, HONEST)
    nb = nbformat.read(dest / f"{NOTEBOOK}.ipynb", as_version=4)
    nb.cells.insert(1, new_markdown_cell("A" * size))
    nbformat.write(nb, dest / f"{NOTEBOOK}.ipynb")
    return dest


def test_a_notebook_too_large_to_parse_fails_alone_before_it_is_read(course: Path, stock_course: Path) -> None:
    payload = 24 * MiB
    # --- stock nbgrader parses and rewrites whatever it is given: memory grows with the payload
    submit(stock_course, "alice", HONEST)
    _submit_big_markdown(stock_course, "bloater", payload)
    stock, stock_peak = _peak_rss([str(VENV_BIN / "nbgrader"), "autograde", ASSIGNMENT], stock_course,
                                  grader_env(stock_course))
    assert stock.returncode == 0, stock.stderr
    assert (stock_course / "autograded" / "bloater" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").stat().st_size > payload
    assert stock_peak > 4 * payload, stock_peak

    # --- credkit grade: the too-large notebook is refused by its size, unread; the others grade
    (course / "nbgrader_config.py").write_text(
        (course / "nbgrader_config.py").read_text() + f"c.SandboxedExecute.notebook_bytes = {4 * MiB}\n")
    submit(course, "alice", HONEST)
    _submit_big_markdown(course, "bloater", payload)
    submit(course, "zed", HONEST)
    ours, our_peak = _peak_rss([str(VENV_BIN / "credkit"), "grade", ASSIGNMENT, "--course-dir", str(course)],
                               course.parent, grader_env(course))
    assert ours.returncode == 2, ours.stderr  # some submissions failed
    lines = [ln for ln in ours.stdout.splitlines() if "bloater" in ln]
    assert len(lines) == 1, ours.stdout
    assert "too large" in lines[0] and f"{NOTEBOOK}.ipynb" in lines[0] and "notebook_bytes" in lines[0], lines
    assert "Traceback" not in ours.stdout + ours.stderr
    assert not (course / "autograded" / "bloater" / ASSIGNMENT).exists()
    assert total_scores(course, "alice") == total_scores(course, "zed") == sum(POINTS.values())
    # nothing grew with the payload: the whole run stayed below what parsing it costs stock
    assert our_peak < stock_peak - 3 * payload, (our_peak, stock_peak)


# --- linear-time text processing of learner cells ---------------------------------------------------

# The regex credkit's feedback used before (its lazy `.*?` rescans the rest of the cell from every
# unclosed begin line): the reference for honest cells, and the shape of the attack.
_OLD_HIDDEN = re.compile(r"(?ms)^[ \t]*###\s*BEGIN HIDDEN TESTS.*?###\s*END HIDDEN TESTS[^\n]*\n?")

HONEST_HIDDEN = [
    "assert squares(1) == [1]\n### BEGIN HIDDEN TESTS\nassert squares(0) == []\n### END HIDDEN TESTS\n",
    "x = 1\n    ### BEGIN HIDDEN TESTS\n    assert f(2) == 4\n    ### END HIDDEN TESTS\nassert g()\n",
    "### BEGIN HIDDEN TESTS\nassert a\n### END HIDDEN TESTS\n### BEGIN HIDDEN TESTS\nassert b\n### END HIDDEN TESTS",
    "assert visible()\n",
]


def _shipped_test_sources() -> list[str]:
    root = Path(__file__).resolve().parents[2] / "assessments"
    sources = []
    for path in root.rglob("*.ipynb"):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
                sources.append(cell.source)
    return sources


def test_hidden_test_stripping_gives_the_same_results_on_honest_cells() -> None:
    shipped = _shipped_test_sources()
    assert shipped, "the shipped assessments have hidden tests"
    for source in HONEST_HIDDEN + shipped:
        old = _OLD_HIDDEN.sub("# (hidden tests are not shown)\n", source)
        new, found = hide_hidden_regions(source)
        assert found == ("BEGIN HIDDEN TESTS" in source)
        assert new.rstrip("\n") == old.rstrip("\n"), source
        assert "BEGIN HIDDEN" not in new and "END HIDDEN" not in new


def _seconds(fn, *args) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def test_hidden_test_stripping_is_linear_on_hostile_cells(course: Path) -> None:
    # --- the attack on a regex over learner text: doubling the begin lines quadruples the time
    small, large = "### BEGIN HIDDEN TESTS\n" * 1500, "### BEGIN HIDDEN TESTS\n" * 3000
    old_small, old_large = _seconds(_OLD_HIDDEN.sub, "", small), _seconds(_OLD_HIDDEN.sub, "", large)
    assert old_large > 3 * old_small and old_large > 0.05, (old_small, old_large)

    # --- credkit: the same class of payloads, far larger, each in well under a second
    payloads = {
        "unclosed begin lines": "### BEGIN HIDDEN TESTS\n" * 300_000,
        "begin lines, indented, with text": "    ###  BEGIN HIDDEN TESTS  x = 1\n" * 300_000,
        "one long line of begins": "### BEGIN HIDDEN TESTS " * 300_000,
        "begins then one end": "### BEGIN HIDDEN TESTS\n" * 300_000 + "### END HIDDEN TESTS\n",
        "near-misses": "### BEGIN HIDDEN TEST\n" * 300_000 + "### BEGIN HIDDEN TESTS",
    }
    for name, text in payloads.items():
        assert _seconds(hide_hidden_regions, text) < 1.0, name

    # --- end to end: feedback for a learner who filled a solution cell with 30,000 begin lines
    (course / "nbgrader_config.py").write_text(
        (course / "nbgrader_config.py").read_text() + f"c.GenerateFeedback.preprocessors = {FEEDBACK_PREPROCESSORS!r}\n")
    attack = {**HONEST, "squares": HONEST["squares"] + "### BEGIN HIDDEN TESTS\n" * 30_000}
    submit(course, "hider", attack)
    submit(course, "alice", HONEST)
    proc = run_credkit(course, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["graded"] == 2, proc.stdout + proc.stderr
    t0 = time.monotonic()
    run_nbgrader(course, "generate_feedback", ASSIGNMENT, timeout=120)
    seconds = time.monotonic() - t0
    assert seconds < 30, seconds  # 109 s with the regex
    feedback = (course / "feedback" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert CANARY_HIDDEN not in feedback and "hidden tests are not shown" in feedback
    assert (course / "feedback" / "hider" / ASSIGNMENT / f"{NOTEBOOK}.html").exists()
