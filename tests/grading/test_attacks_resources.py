"""Issue 10: kernel objects a learner's process can name, resources of the machine as a whole, and
kernels that stop or stall. Each attack first works under stock `nbgrader autograde` (the grader's
own user, one machine), then is contained under `credkit grade`, on the local engine and on Dask.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import uuid
from pathlib import Path

import nbformat
import pytest
from grading_attacks import KEY_DESCRIPTION, floods, isolation, stoppers
from grading_course import (
    ASSIGNMENT, HONEST, NOTEBOOK, POINTS, VENV_BIN, auto_scores, copy_course, grader_env, run_credkit, run_nbgrader,
    submit,
)

LIMITS = ("c.SandboxedExecute.output_bytes = 1024 * 1024\n"
          "c.SandboxedExecute.total_timeout = 120\n")
SQUARES_ONLY = {"test_squares": 2.0, "test_squares_hidden": 3.0, "test_mean": 0.0}

_libc = ctypes.CDLL(None, use_errno=True)


def _unlink_planted_keys() -> None:
    """Stock's planter leaves a key in the test user's keyring: take it out again."""
    while True:
        key = _libc.syscall(250, 10, ctypes.c_int(-4), b"user", KEY_DESCRIPTION.encode(), 0)  # KEYCTL_SEARCH
        if key < 0:
            return
        _libc.syscall(250, 9, key, ctypes.c_int(-4))  # KEYCTL_UNLINK


@pytest.fixture
def keyring_canary() -> str:
    _unlink_planted_keys()
    yield f"CANARY-KEYRING-{uuid.uuid4().hex[:12]}"
    _unlink_planted_keys()


def _cell_text(course: Path, student: str) -> str:
    nb = json.loads((course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text())
    return "\n".join(json.dumps(c.get("outputs", [])) for c in nb["cells"])


def _notebook_size(course: Path, student: str) -> int:
    return (course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").stat().st_size


def _limit(course: Path, timeout: int) -> None:
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + LIMITS + f"c.Execute.timeout = {timeout}\nc.SandboxedExecute.timeout = {timeout}\n")


def _credkit_summary(course: Path, *args: str) -> dict:
    proc = run_credkit(course, "--json", *args)
    summary = json.loads(proc.stdout) if proc.stdout.startswith("{") else {}
    assert proc.returncode == 0, (summary.get("failures"), proc.stderr[-1500:])
    return summary


def _assert_contained(course: Path, canary: str) -> None:
    assert "blocked EPERM" in _cell_text(course, "keyplanter")
    reader = _cell_text(course, "keyreader")
    assert canary not in reader and "READ blocked EPERM" in reader
    assert "nesting blocked EPERM" in _cell_text(course, "nester")
    ptys = _cell_text(course, "ptyspy")
    assert "PTYS ['0'] MINE /dev/pts/0" in ptys, ptys  # its own terminal only
    files = int(_cell_text(course, "inodes").split("FILES ")[1].split("\\n")[0])
    assert files < 16_384, files  # the tmpfs inode cap (default 16,384)
    memhog = _cell_text(course, "memhog")
    assert "CHILDREN [" in memhog and "-9" in memhog.split("CHILDREN [")[1].split("]")[0], memhog[-3000:]
    assert _notebook_size(course, "updater") < 3 * 1024 * 1024
    assert "output limit" in _cell_text(course, "updater")
    for name in isolation("x"):
        assert auto_scores(course, name) == POINTS, (name, auto_scores(course, name))


def test_kernel_objects_and_machine_resources(course: Path, stock_course: Path, template_course: Path,
                                              tmp_path: Path, keyring_canary: str) -> None:
    attacks = isolation(keyring_canary)
    held = os.openpty()  # a terminal of the grading machine's: stock's learners can see it
    try:
        # --- stock nbgrader: every one works
        for name, code in attacks.items():
            submit(stock_course, name, code)
        config = stock_course / "nbgrader_config.py"
        config.write_text(config.read_text() + "c.Execute.timeout = 20\n")  # 30,000 files on a disk
        run_nbgrader(stock_course, "autograde", ASSIGNMENT)
        assert f"READ BACK {keyring_canary}" in _cell_text(stock_course, "keyreader")
        assert "NESTED with capabilities" in _cell_text(stock_course, "nester")
        assert repr(os.path.basename(os.ttyname(held[1]))) in _cell_text(stock_course, "ptyspy")
        assert "FILES 30000" in _cell_text(stock_course, "inodes")
        assert "CHILDREN [0, 0, 0, 0]" in _cell_text(stock_course, "memhog")
        assert _notebook_size(stock_course, "updater") > 6 * 1024 * 1024
        _unlink_planted_keys()

        # --- credkit grade, local engine: the planter first, the reader in a later run
        _limit(course, 30)  # a memory cgroup at its limit reclaims before it kills: give it time
        submit(course, "keyplanter", attacks["keyplanter"])
        _credkit_summary(course, "--student", "keyplanter")
        for name, code in attacks.items():
            if name != "keyplanter":
                submit(course, name, code)
        _credkit_summary(course)
        _assert_contained(course, keyring_canary)

        # --- the same on Dask workers, from a fresh course
        on_dask = copy_course(template_course, tmp_path / "dask")
        _limit(on_dask, 30)
        for name, code in attacks.items():
            submit(on_dask, name, code)
        summary = _credkit_summary(on_dask, "--cluster", "local:2")
        assert summary["engine"] == "dask" and summary["dask_workers"], summary
        _assert_contained(on_dask, keyring_canary)
    finally:
        os.close(held[0])
        os.close(held[1])


def _duplicate_test_cell(nb: nbformat.NotebookNode) -> None:
    i = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "test_mean")
    nb.cells.insert(i + 1, nbformat.from_dict(json.loads(json.dumps(nb.cells[i]))))
    nb.cells[i + 1]["id"] = "learner-copy"


def _rename_solution_cell(nb: nbformat.NotebookNode) -> None:
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "squares")
    cell.metadata["nbgrader"]["grade_id"] = "squares_renamed"


def test_a_stopped_kernel_keeps_what_was_scored_before(course: Path) -> None:
    """An exit, SystemExit, a closed output channel or an interrupt-proof loop in the mean cell:
    the squares tests before it keep their points, the cells after it score 0."""
    _limit(course, 4)
    submit(course, "alice", HONEST)
    for name, code in stoppers().items():
        submit(course, name, code)
    # Cell ids a learner edited: the test_mean cell twice over, the squares solution cell renamed.
    for name, edit in (("duplicator", _duplicate_test_cell), ("renamer", _rename_solution_cell)):
        path = submit(course, name, HONEST) / f"{NOTEBOOK}.ipynb"
        nb = nbformat.read(path, as_version=4)
        edit(nb)
        nbformat.write(nb, path)
    summary = _credkit_summary(course)
    assert summary["failures"] == [], summary["failures"]
    assert auto_scores(course, "alice") == POINTS
    assert auto_scores(course, "duplicator") == POINTS  # the instructor's test cell, once
    assert auto_scores(course, "renamer")["test_mean"] == 5.0, auto_scores(course, "renamer")
    for name in stoppers():
        scores = auto_scores(course, name)
        if name == "sysexit":  # IPython reports SystemExit and goes on: mean is defined, honest
            assert scores == POINTS, (name, scores)
        elif name == "quitter":  # exit() stops the kernel once its cell is done: mean may still be asked
            assert scores in (POINTS, SQUARES_ONLY), (name, scores)
        else:
            assert scores == SQUARES_ONLY, (name, scores)
    # The interrupt-proof loop is stopped after its timeout and grace (not left to hold the slot).
    assert "ignored the interrupt; its kernel was stopped" in _cell_text(course, "hanger")


def test_output_past_the_kernels_own_memory_keeps_the_honest_points(course: Path) -> None:
    """A flood bigger than the learner's memory limit, down stdout, stderr, display messages and
    the raw file descriptor: ipykernel would buffer it until its kernel died (stock's kernel has no
    memory limit: there the flood reaches the grader, test_attacks_outside). Under credkit the
    kernel drops its own output past the budget, goes on, and the honest functions score."""
    _limit(course, 60)
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + "c.SandboxedExecute.memory_bytes = 1024 ** 3\n")
    for name, code in floods().items():
        submit(course, name, code)
    summary = _credkit_summary(course)
    assert summary["failures"] == [], summary["failures"]
    for name in floods():
        assert auto_scores(course, name) == POINTS, (name, auto_scores(course, name))
        assert "output limit" in _cell_text(course, name), name
        assert _notebook_size(course, name) < 3 * 1024 * 1024, name


def test_a_host_without_cgroups_refuses_to_grade_unless_told(course: Path) -> None:
    """Without a cgroup for each execution, `credkit grade` refuses with one line; the explicit flag
    grades with per-process limits only, and says so."""
    submit(course, "alice", HONEST)
    # A host without cgroups: this grader's own mount namespace, /sys/fs/cgroup hidden under a tmpfs.
    hide = "mount -t tmpfs none /sys/fs/cgroup && exec \"$@\""
    base = ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide, "sh",
            str(VENV_BIN / "credkit"), "grade", ASSIGNMENT, "--course-dir", str(course), "--json"]
    refused = subprocess.run(base, cwd=course.parent, env=grader_env(course), capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode != 0
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no cgroup" in lines[0] and "--unsafe-no-cgroup-limits" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (course / "autograded" / "alice").exists()  # nothing graded

    allowed = subprocess.run([*base, "--unsafe-no-cgroup-limits"], cwd=course.parent, env=grader_env(course),
                             capture_output=True, text=True, timeout=300)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert "WARNING: grading without per-execution cgroups" in allowed.stderr
    assert auto_scores(course, "alice") == POINTS
