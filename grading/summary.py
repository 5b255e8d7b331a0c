"""End-of-batch summary: counts, failures with reasons, and per-skill pass rates.

Per-skill figures come from :func:`skill_pass_rates`, which takes the graded cells' scores (read
from the trusted gradebook) and a ``grade_id → skills`` map — the manifest's cell map plugs in there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["skill_pass_rates", "manifest_skill_rates", "batch_summary", "format_summary", "gradebook_cell_scores"]


def skill_pass_rates(
    submissions: Iterable[Mapping[str, tuple[float, float]]],
    cell_skills: Mapping[str, Sequence[str]],
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, dict[str, float | int]]:
    """Per skill: how many submissions earned at least its threshold.

    ``submissions`` yields, per learner, ``grade_id → (earned, possible)``. A cell mapped to two
    skills counts fully in each. ``thresholds`` gives, per skill, the fraction of the skill's
    possible points needed (default 1.0); the comparison is ``earned >= threshold * possible``.
    """
    thresholds = thresholds or {}
    skills = sorted({s for names in cell_skills.values() for s in names})
    passed = dict.fromkeys(skills, 0)
    total = 0
    for cells in submissions:
        total += 1
        for skill in skills:
            earned = possible = 0.0
            for grade_id, names in cell_skills.items():
                if skill in names and grade_id in cells:
                    e, p = cells[grade_id]
                    earned += e
                    possible += p
            if possible > 0 and earned >= thresholds.get(skill, 1.0) * possible:
                passed[skill] += 1
    return {
        skill: {"passed": passed[skill], "learners": total, "rate": (passed[skill] / total) if total else 0.0}
        for skill in skills
    }


def gradebook_cell_scores(db_url: str, course_id: str, assignment: str, students: Iterable[str]) -> Iterable[dict[str, tuple[float, float]]]:
    """Yield ``grade_id → (score, max_score)`` per learner, from the gradebook (one at a time)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        for student in students:
            sub = gb.find_submission(assignment, student)
            yield {g.name: (float(g.score or 0.0), float(g.max_score)) for nb in sub.notebooks for g in nb.grades}


def manifest_skill_rates(course_root: str, db_url: str, course_id: str, assignment: str,
                         learners: Iterable[str]) -> dict[str, dict[str, float | int]] | None:
    """Per-skill pass rates through the released assessment's manifest, or None when the assessment
    was not released with ``credkit release`` (a plain nbgrader course).

    A skill passes at the lowest threshold any credential sets for it (all points if none does).
    """
    from pathlib import Path

    from kit.errors import ManifestError

    from .course import released_assessment

    try:
        assessment = released_assessment(Path(course_root), assignment)
    except ManifestError:
        return None
    learners = list(learners)
    cells = list(gradebook_cell_scores(db_url, course_id, assignment, learners))
    possible: dict[str, float] = {}
    for skill in assessment.skills:
        possible[skill] = sum(cells[0][g][1] for g in assessment.cells_of(skill) if cells and g in cells[0])
    fractions: dict[str, float] = {}
    for rule in assessment.credentials.values():
        for th in rule.requires:
            if possible.get(th.skill):
                need = float(th.needed(Decimal(str(possible[th.skill])))) / possible[th.skill]
                fractions[th.skill] = min(fractions.get(th.skill, need), need)
    return skill_pass_rates(cells, {g: list(s) for g, s in assessment.cells.items()}, fractions)


def submission_notes(course_root: str, assignment: str, student: str = "*") -> list[dict[str, str]]:
    """What the grader should know about learner folders nbgrader passes over or misreads: a
    folder without a notebook (nbgrader silently skips it), an nbformat 3 notebook (read as version 4,
    its nbgrader metadata is gone, so its cells look ungraded)."""
    import json
    from pathlib import Path

    notes: list[dict[str, str]] = []
    for folder in sorted(Path(course_root, "submitted").glob(f"{student}/{assignment}")):
        if not folder.is_dir():
            continue
        learner = folder.parent.name
        notebooks = sorted(folder.glob("*.ipynb"))
        if not notebooks:
            notes.append({"learner": learner, "note": f"{folder}: no notebook in the submission, not graded"})
        for nb in notebooks:
            try:
                with open(nb, "rb") as handle:
                    major = json.loads(handle.read(64 * 1024 * 1024)).get("nbformat")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(major, int) and major < 4:
                notes.append({"learner": learner, "note": (
                    f"{nb}: an nbformat {major} notebook; nbgrader needs version 4 (saved by Jupyter 4 or later): "
                    "its cells' nbgrader metadata is lost, so they are not autograded")})
    return notes


def batch_summary(result: Any, skills: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-able summary of a BatchResult (``skills`` from :func:`skill_pass_rates`, if any)."""
    failures = [
        {"learner": s.student, "assessment": s.assignment, "reason": s.reason}
        for s in result.submissions if s.status == "failed"
    ]
    graded = [s for s in result.submissions if s.status == "graded"]
    left_out = [
        {"learner": s.student, "assessment": s.assignment, "files": list(s.left_out)}
        for s in result.submissions if getattr(s, "left_out", ())
    ]
    return {
        "graded": len(graded),
        "failed": len(failures),
        "skipped": result.count("skipped"),
        "failures": failures,
        "left_out": left_out,
        "engine": result.engine,
        "workers": result.workers,
        "seconds": round(result.seconds, 3),
        "per_submission_seconds": round(result.seconds / len(graded), 3) if graded else None,
        "prefetch": {"hits": result.prefetch_hits, "misses": result.prefetch_misses},
        "skills": dict(skills or {}),
        "dask_workers": sorted(getattr(result, "dask_workers", []) or []),
        "coordinator_seconds_per_submission": (
            round(result.coordinator_seconds / len(graded), 3) if graded else None),
        "execute_seconds_per_notebook": (
            round(result.execute_seconds / result.executions, 3) if result.executions else None),
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    lines = [
        f"graded {summary['graded']}, failed {summary['failed']}, skipped {summary['skipped']} "
        f"in {summary['seconds']:.1f} s on {summary['engine']} ({summary['workers']} workers)"
    ]
    limits = summary.get("limits") or {}
    if limits:
        lines.append(f"  cell timeout {limits['cell_timeout']} s ({limits['cell_timeout_from']}); "
                     f"at most {limits['total_timeout']} s per notebook")
    for f in summary["failures"]:
        lines.append(f"  failed: {f['learner']}: {f['reason']}")
    for n in summary.get("notes", []):
        lines.append(f"  not graded as submitted: {n['learner']}: {n['note']}")
    for learner, count in (summary.get("changed_cells") or {}).items():
        lines.append(f"  restored: {learner}: {count} locked or test cell(s) the learner changed "
                     "(nbgrader's 'checksum has changed' warnings; -v shows them)")
    for item in summary.get("left_out", []):
        lines.append(f"  left out of autograded/: {item['learner']}: {'; '.join(item['files'])}")
    for skill, row in summary["skills"].items():
        lines.append(f"  skill {skill}: {row['passed']}/{row['learners']} passed ({100 * row['rate']:.0f}%)")
    if "issued" in summary:
        lines.append(f"issued {summary['issued']} credential(s), {summary['held_back']} held back for manual grading")
    if "recovered" in summary:
        recovered = summary["recovered"]
        lines.append(f"recovered from an earlier run that stopped: {recovered['issued']} credential(s) issued, "
                     f"{recovered['redelivered']} re-delivered")
    for line in summary.get("undelivered", []):
        lines.append(f"not delivered (the next credkit grade or issue retries): {line}")
    if "issue_failed" in summary:
        lines.append(f"not issued: {summary['issue_failed']} (run credkit issue to retry)")
    if "issue_skipped" in summary:
        lines.append(f"not issued: {summary['issue_skipped']}")
    if "report_hint" in summary:
        lines.append(summary["report_hint"])
    return "\n".join(lines)
