"""Attacks on the tests themselves (issue 9), and honest answers the old in-kernel `==` rewrite failed.

Every test first shows the attack working under stock `nbgrader autograde` (a total above the
attacker's honest score, or a canary where it must not be), then shows it gaining nothing under
`credkit grade`, whose autograded test cells run in a separate checker process: cheaters score at most
their honest work, honest work scores exactly what stock gives it, and no canary reaches an
autograded notebook's outputs, the feedback, the gradebook, the logs, or the learner's memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import checker_attacks as ca
import pytest
from grading_course import (
    ASSIGNMENT, CANARY_HIDDEN, CANARY_OTHER, CANARY_SOLUTION, HONEST, NOTEBOOK, POINTS, VENV_BIN,
    copy_course, grader_env, run_nbgrader, submit,
)

FULL = dict(POINTS)  # {"test_squares": 2.0, "test_squares_hidden": 3.0, "test_mean": 5.0}
ALICE = {**HONEST, "squares": f"# {CANARY_OTHER}\n" + HONEST["squares"]}


def _submit_ps1_batch(course: Path) -> None:
    submit(course, "alice", ALICE)
    for name, (code, _) in ca.attackers().items():
        ca.submit_notebook(course, name, ASSIGNMENT, NOTEBOOK, ca.fill(ca.released(course, ASSIGNMENT, NOTEBOOK), code))
    for name, code in ca.honest_with_attack().items():
        ca.submit_notebook(course, name, ASSIGNMENT, NOTEBOOK, ca.fill(ca.released(course, ASSIGNMENT, NOTEBOOK), code))
    ca.submit_link_to_source(course, "linked")       # 7a: the notebook is a link to source/ps1
    ca.submit_link_to_other(course, "copycat", "alice")  # 7b: the folder is a link to alice's


def _hidden_canary_places(course: Path, assignment: str, *logs: str) -> dict[str, bool]:
    """Where CANARY_HIDDEN shows up, outside what holds hidden tests by nbgrader's design: the test
    cells' sources (autograded notebook; the gradebook's source_cell table) and the traceback of a
    failed test in the instructor's autograded notebook (the feedback replaces it)."""
    return {
        "test-cell outputs (not tracebacks)": CANARY_HIDDEN in ca.cell_outputs(course, test_cells=True, errors=False),
        "other cells' outputs": CANARY_HIDDEN in ca.cell_outputs(course, test_cells=False),
        "feedback": CANARY_HIDDEN in ca.feedback(course, assignment, hide_hidden=True),
        "gradebook (not source_cell)": CANARY_HIDDEN in ca.gradebook_rows(course, exclude=("source_cell",)),
        "logs": any(CANARY_HIDDEN in log for log in logs)
                or any(CANARY_HIDDEN in p.read_text(errors="replace") for p in course.glob("*.log")),
    }


def test_attacks_on_the_tests_gain_nothing(course: Path, stock_course: Path) -> None:
    """Classes 1-7 of issue 9 in one batch of ps1 submissions, each attack also appended to honest work."""
    attackers = ca.attackers()
    honest_ok = ca.honest_with_attack()

    # --- stock nbgrader: each attack lifts its total above its honest work, or leaks
    _submit_ps1_batch(stock_course)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    stock = ca.scores(stock_course, ASSIGNMENT)
    assert stock["alice"] == FULL
    for name, (_, honest) in attackers.items():
        assert ca.total(stock[name]) > honest, (name, stock[name])
    for name in honest_ok:
        assert stock[name] == FULL, (name, stock[name])
    # 6: the hidden test's text is copied into the squares cell's output, past credkit's feedback filter
    assert CANARY_HIDDEN in ca.cell_outputs(stock_course, "leaker", test_cells=False)
    assert CANARY_HIDDEN in ca.feedback(stock_course, hide_hidden=True)
    # 7: the link to source/ is graded (full marks for no work, solutions in its files); the link to
    # alice's folder gets alice's grade and her work
    assert ca.total(stock["linked"]) == 10.0 and CANARY_SOLUTION in ca.learner_files(stock_course, "linked")
    assert ca.total(stock["copycat"]) == 10.0 and CANARY_OTHER in ca.learner_files(stock_course, "copycat")

    # --- credkit grade
    _submit_ps1_batch(course)
    proc = ca.run_credkit_on(course, ASSIGNMENT)
    ca.summary(proc)
    got = ca.scores(course, ASSIGNMENT)
    assert got.get("alice") == FULL, got.get("alice")
    for name, (_, honest) in attackers.items():
        assert ca.total(got.get(name)) <= honest, (name, got.get(name))
    for name in honest_ok:
        assert got.get(name) == stock[name], (name, got.get(name))
    assert ca.total(got.get("linked")) == 0.0, got.get("linked")
    assert ca.total(got.get("copycat")) == 0.0, got.get("copycat")
    places = _hidden_canary_places(course, ASSIGNMENT, proc.stdout, proc.stderr)
    assert not any(places.values()), places
    everything = "\n".join([ca.all_files(course), ca.gradebook_rows(course), proc.stdout, proc.stderr])
    assert CANARY_SOLUTION not in everything
    assert CANARY_OTHER not in "\n".join([ca.all_files(course, except_learner="alice"), proc.stdout, proc.stderr])

    # (The Dask engine runs the same runner in the same sandbox on its workers; the shipped attack
    # corpus is graded on both engines and compared in test_corpus.py.)


def test_resubmission_without_test_cells_keeps_no_earlier_score(course: Path, stock_course: Path) -> None:
    """Class 8: first right on squares only (5), then right on mean only with the squares test cells
    deleted (honest work 5): stock keeps the first run's squares points (10); credkit scores the new
    submission alone, its missing test cells 0."""
    first = {"squares": HONEST["squares"], "mean": ca.MEAN_BLANK}
    second = {"squares": ca.SQUARES_BLANK, "mean": HONEST["mean"]}
    deleted = {"test_squares", "test_squares_hidden"}

    def resubmit(target: Path) -> None:
        nb = ca.without_cells(ca.fill(ca.released(target, ASSIGNMENT, NOTEBOOK), second), deleted)
        ca.submit_notebook(target, "resub", ASSIGNMENT, NOTEBOOK, nb, timestamp="2026-11-02 10:00:00.000000 UTC")

    # --- stock
    submit(stock_course, "resub", first)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    assert ca.scores(stock_course, ASSIGNMENT)["resub"] == {"test_squares": 2.0, "test_squares_hidden": 3.0,
                                                           "test_mean": 0.0}
    resubmit(stock_course)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT, "--student", "resub", "--force")
    assert ca.scores(stock_course, ASSIGNMENT)["resub"] == FULL  # two half-right submissions: 10

    # --- credkit
    submit(course, "resub", first)
    ca.summary(ca.run_credkit_on(course, ASSIGNMENT))
    assert ca.scores(course, ASSIGNMENT)["resub"] == {"test_squares": 2.0, "test_squares_hidden": 3.0,
                                                     "test_mean": 0.0}
    resubmit(course)
    regraded = ca.summary(ca.run_credkit_on(course, ASSIGNMENT, "--student", "resub", "--force"))
    assert regraded["graded"] == 1 and not regraded["failures"], regraded["failures"]
    assert ca.scores(course, ASSIGNMENT)["resub"] == {"test_squares": 0.0, "test_squares_hidden": 0.0,
                                                     "test_mean": 5.0}


@pytest.fixture(scope="module")
def types_template(template_course: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = copy_course(template_course, tmp_path_factory.mktemp("types-template"))
    ca.add_types_assignment(course)
    return course


def _watch(proc: subprocess.Popen, pids_now) -> dict[int, dict]:  # type: ignore[type-arg]
    """While ``proc`` runs, read again and again the whole memory of every process ``pids_now()``
    names whose working directory holds the sleeper's flag file. Returns pid -> {user, mark (the
    sleeper's marker seen), canary (CANARY_HIDDEN seen), reads, cmd}."""
    seen: dict[int, dict] = {}
    marks, canaries = ca.encodings(ca.SLEEPER_MARK), ca.encodings(CANARY_HIDDEN)
    while proc.poll() is None:
        procs = ca.processes()
        flagged = [pid for pid in pids_now(procs) if os.path.exists(f"/proc/{pid}/cwd/{ca.SLEEPER_FLAG}")]
        for pid in flagged:
            memory = ca.read_memory(pid)
            if not memory:
                continue
            row = seen.setdefault(pid, {"user": procs[pid][0], "mark": False, "canary": False, "reads": 0,
                                        "cmd": ca.cmdline(pid)})
            row["reads"] += 1
            row["mark"] |= any(m in memory for m in marks)
            row["canary"] |= any(c in memory for c in canaries)
            del memory
        time.sleep(0.05)
    return seen


def _brief(seen: dict[int, dict]) -> list[str]:
    return [f"{pid} {row['user']} mark={row['mark']} canary={row['canary']} reads={row['reads']} {row['cmd'][:90]}"
            for pid, row in seen.items()]


def _submit_types_batch(course: Path) -> None:
    ca.submit_types(course, "honest")
    ca.submit_types(course, "shadow", ca.SHADOW_WRONG_AVERAGE, files=ca.SHADOW_FILES, kernel_name=ca.SHADOW_KERNEL)
    ca.submit_types(course, "shadow-ok", files=ca.SHADOW_FILES, kernel_name=ca.SHADOW_KERNEL)
    ca.submit_types(course, "leaker", ca.TYPES_LEAKER)
    ca.submit_types(course, "sleeper", ca.SLEEPER)


def test_types_shadowed_numpy_and_hidden_tests_in_memory(types_template: Path, tmp_path: Path) -> None:
    """On the types assessment (first test cell with hidden tests whose code holds CANARY_HIDDEN):
    - honest answers that are a Counter, numpy.int64, numpy.bool_, OrderedDict, Fraction, a list of
      numpy scalars, numpy.float64: full marks under stock, exactly stock's per-cell scores under credkit;
    - class 9: kernelspec "Python3" (not "python3") and a numpy.py in the submission folder that makes
      numpy.isclose agree with anything: wrong `average` scores under stock, not under credkit; the same
      on honest work keeps full marks;
    - class 6 again: the hidden test's code copied into an earlier cell's output with update_display;
    - the sleeper's `average` sleeps 3 s on its first call, after the hidden test cell ran; meanwhile
      the test, as root, reads the whole memory of the learner's kernel: under stock the canary is there
      (which shows the reader finds it); under credkit the learner kernel (a credkit-slot<N> user,
      recognised by a marker only the learner's code computes) never holds it.
    """
    full = {f"test_{grade_id}": 1.0 for grade_id in ca.TYPES}
    stock_course = copy_course(types_template, tmp_path / "stock")
    course = copy_course(types_template, tmp_path / "ours")

    # --- stock: the kernel is a descendant of the nbgrader process
    _submit_types_batch(stock_course)
    proc = subprocess.Popen([str(VENV_BIN / "nbgrader"), "autograde", ca.TYPES_ASSIGNMENT, "--Execute.timeout=6"],
                            cwd=stock_course, env=grader_env(stock_course),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen = _watch(proc, lambda procs: ca.descendants(proc.pid, procs))
    finally:
        proc.wait(timeout=600)
    stock = ca.scores(stock_course, ca.TYPES_ASSIGNMENT)
    for name in ("honest", "shadow-ok", "leaker", "sleeper"):
        assert stock[name] == full, (name, stock[name])
    assert stock["shadow"] == full  # honest work: 6 of 7 (average is wrong)
    # stock puts the source's kernelspec back (the name does not matter to it); its kernel has the
    # submission folder ('') on sys.path before site-packages, so numpy.py shadows numpy all the same
    shadowed = ca.released(stock_course, ca.TYPES_ASSIGNMENT, ca.TYPES_NOTEBOOK)  # for its kernelspec
    autograded = stock_course / "autograded" / "shadow" / ca.TYPES_ASSIGNMENT / f"{ca.TYPES_NOTEBOOK}.ipynb"
    assert json.loads(autograded.read_text())["metadata"]["kernelspec"]["name"] == shadowed.metadata.kernelspec.name
    assert CANARY_HIDDEN in ca.cell_outputs(stock_course, "leaker", test_cells=False)
    learner = {pid: row for pid, row in seen.items() if row["mark"]}
    assert learner, ("no descendant of nbgrader held the learner's marker", _brief(seen))
    assert all(row["canary"] for row in learner.values()), _brief(learner)

    # --- credkit: learner code runs as a credkit-slot<N> user
    _submit_types_batch(course)
    proc = ca.popen_credkit(course, ca.TYPES_ASSIGNMENT)
    try:
        seen = _watch(proc, lambda procs: {pid for pid, (user, _) in procs.items() if user.startswith("credkit-")})
    finally:
        done = ca.finished(course, proc)
    ca.summary(done)
    out, err = done.stdout, done.stderr
    got = ca.scores(course, ca.TYPES_ASSIGNMENT)
    for name in ("honest", "shadow-ok", "leaker", "sleeper"):
        assert got.get(name) == stock[name], (name, got.get(name))
    assert ca.total(got.get("shadow")) <= ca.TYPES_POINTS - 1, got.get("shadow")
    places = _hidden_canary_places(course, ca.TYPES_ASSIGNMENT, out, err)
    assert not any(places.values()), places
    assert CANARY_HIDDEN not in ca.cell_outputs(course)  # no hidden test fails here: no traceback quotes it
    learner = {pid: row for pid, row in seen.items() if row["mark"]}
    assert learner, ("no process of a credkit-* user held the learner's marker", _brief(seen))
    assert all(row["user"].startswith("credkit-slot") for row in learner.values()), _brief(learner)
    assert not any(row["canary"] for row in learner.values()), _brief(learner)

