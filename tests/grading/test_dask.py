"""The Dask engine's errors. (Identical grades on both engines, on Dask workers: test_corpus.py.)"""

from __future__ import annotations

from pathlib import Path

from grading_course import HONEST, run_credkit, submit


def test_unreachable_scheduler_is_one_clear_line(course: Path) -> None:
    submit(course, "alice", HONEST)
    proc = run_credkit(course, "--cluster", "tcp://127.0.0.1:1")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("credkit: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1")
    assert len(proc.stderr.strip().splitlines()) == 1
