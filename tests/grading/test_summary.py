"""Per-skill pass rates for the end-of-batch summary (the manifest's cell map plugs in here)."""

from __future__ import annotations

from types import SimpleNamespace

from grading.summary import batch_summary, format_summary, skill_pass_rates

CELLS = {"t_squares": ["loops"], "t_hidden": ["loops", "edge-cases"], "t_mean": ["arithmetic"]}


def test_threshold_is_inclusive_and_shared_cells_count_in_each_skill() -> None:
    learners = [
        {"t_squares": (2.0, 2.0), "t_hidden": (3.0, 3.0), "t_mean": (5.0, 5.0)},  # everything
        {"t_squares": (2.0, 2.0), "t_hidden": (0.0, 3.0), "t_mean": (5.0, 5.0)},  # loops 2/5
        {"t_squares": (0.0, 2.0), "t_hidden": (3.0, 3.0), "t_mean": (2.5, 5.0)},  # loops 3/5, half mean
    ]
    rates = skill_pass_rates(learners, CELLS, {"loops": 0.6, "arithmetic": 0.5})
    assert rates["loops"] == {"passed": 2, "learners": 3, "rate": 2 / 3}  # 3/5 >= 0.6 passes
    assert rates["edge-cases"]["passed"] == 2  # default threshold: all points
    assert rates["arithmetic"]["passed"] == 3  # 2.5 >= 0.5 * 5


def test_summary_lists_failures_and_skills() -> None:
    result = SimpleNamespace(
        submissions=[SimpleNamespace(status="graded", student="a", assignment="ps1", reason=""),
                     SimpleNamespace(status="failed", student="b", assignment="ps1", reason="total time limit")],
        engine="local", workers=2, seconds=4.0, prefetch_hits=1, prefetch_misses=0, dask_workers=[],
        coordinator_seconds=1.0, executions=1, execute_seconds=2.0,
        count=lambda status: 0,
    )
    summary = batch_summary(result, {"loops": {"passed": 1, "learners": 1, "rate": 1.0}})
    assert summary["graded"] == 1 and summary["failed"] == 1
    assert summary["failures"] == [{"learner": "b", "assessment": "ps1", "reason": "total time limit"}]
    text = format_summary(summary)
    assert "failed: b: total time limit" in text and "skill loops: 1/1 passed (100%)" in text
