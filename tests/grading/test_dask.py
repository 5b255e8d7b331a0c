"""The Dask engine: same grades as the local engine, each from a fresh course, run on Dask workers."""

from __future__ import annotations

import json
from pathlib import Path

from grading_course import (
    ASSIGNMENT, BLANK, HALF, HONEST, auto_scores, copy_course, run_credkit, submit,
)

from grading.provenance import ProvenanceStore, provenance_path

LEARNERS = {"alice": HONEST, "bob": HALF, "carol": BLANK, "dan": HONEST}


def test_dask_local_cluster_grades_identically(template_course: Path, tmp_path: Path) -> None:
    local = copy_course(template_course, tmp_path / "local")
    dask = copy_course(template_course, tmp_path / "dask")
    for course in (local, dask):
        for name, code in LEARNERS.items():
            submit(course, name, code)
    on_local = run_credkit(local, "--json")
    on_dask = run_credkit(dask, "--cluster", "local:2", "--json")
    assert on_local.returncode == 0, on_local.stderr
    assert on_dask.returncode == 0, on_dask.stderr
    summary = json.loads(on_dask.stdout)
    assert summary["engine"] == "dask" and summary["graded"] == len(LEARNERS)
    assert summary["dask_workers"] and all(w.startswith("tcp://") for w in summary["dask_workers"])
    for name in LEARNERS:
        assert auto_scores(dask, name) == auto_scores(local, name), name
    db_url = f"sqlite:///{dask / 'gradebook.db'}"
    with ProvenanceStore(provenance_path(db_url, str(dask))) as store:
        engines = {row.engine for name in LEARNERS for row in store.notebooks(ASSIGNMENT, name)}
        assert all(row.sandboxed for name in LEARNERS for row in store.notebooks(ASSIGNMENT, name))
    # every task ran on a Dask worker
    assert engines <= {f"dask:{w}" for w in summary["dask_workers"]}


def test_unreachable_scheduler_is_one_clear_line(course: Path) -> None:
    submit(course, "alice", HONEST)
    proc = run_credkit(course, "--cluster", "tcp://127.0.0.1:1")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("credkit: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1")
    assert len(proc.stderr.strip().splitlines()) == 1
