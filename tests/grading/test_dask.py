"""The Dask engine's errors, and what its workers return besides grades. (Identical grades on both
engines, on Dask workers: test_corpus.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from distributed import LocalCluster
from grading_course import HONEST, run_credkit, submit


def test_unreachable_scheduler_is_one_clear_line(course: Path) -> None:
    submit(course, "alice", HONEST)
    proc = run_credkit(course, "--cluster", "tcp://127.0.0.1:1")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("credkit: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_worker_that_cannot_build_the_sandbox_refuses_and_runs_nothing(course: Path, tmp_path: Path) -> None:
    """A Dask worker without bubblewrap (here: no bwrap on its PATH) must refuse, not run bare."""
    marker = tmp_path / "learner-code-ran"
    submit(course, "alice", HONEST, extra_cells=[f"open({str(marker)!r}, 'w').write('ran')"])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                      env={"PATH": "/nonexistent-credkit"}) as cluster:
        proc = run_credkit(course, "--cluster", cluster.scheduler_address, "--json")
    summary = json.loads(proc.stdout)
    assert proc.returncode == 2 and summary["graded"] == 0
    [failure] = summary["failures"]
    assert failure["learner"] == "alice" and "bwrap not found" in failure["reason"]
    assert not marker.exists()
    assert not list((course / "autograded").rglob("*.ipynb"))  # nothing graded, nothing half-written


def test_files_a_notebook_writes_on_a_worker_reach_autograded(course: Path) -> None:
    submit(course, "alice", HONEST, extra_cells=["import os\nos.makedirs('out', exist_ok=True)\n"
                                                 "open('out/result.txt', 'w').write('from the worker')\n"
                                                 "open('usercustomize.py', 'w').write('import os')\n"])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster:
        proc = run_credkit(course, "--cluster", cluster.scheduler_address, "--json")
    summary = json.loads(proc.stdout)
    assert proc.returncode == 0 and summary["graded"] == 1, proc.stdout + proc.stderr
    graded = course / "autograded" / "alice" / "ps1"
    assert (graded / "out" / "result.txt").read_text() == "from the worker"
    assert not (graded / "usercustomize.py").exists()
    [item] = summary["left_out"]
    assert [entry.split(" (")[0] for entry in item["files"]] == ["usercustomize.py"], item
