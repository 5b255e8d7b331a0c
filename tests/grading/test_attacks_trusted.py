"""Attacks on the trusted side (issue 10): what the grader's own process does with learner content.

Each is first shown working where credkit is not in the way (stock `nbgrader autograde`, or the kind
of code credkit ran before), then shown contained under `credkit grade`: a notebook too large to
parse fails alone before it is read, text processing of learner cells stays linear, and files a
learner submits never bring their links or Python's start-up hooks into `autograded/` or `feedback/`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
from grading_course import ASSIGNMENT, CANARY_HIDDEN, HONEST, NOTEBOOK, run_credkit, run_nbgrader, submit

from grading.feedback import FEEDBACK_PREPROCESSORS, hide_hidden_regions

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
