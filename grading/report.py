"""``credkit report``: per-skill results and credentials of a course as a CSV and PNG charts."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kit.fileio import write_atomic
from kit.ledger import Ledger

from .awards import read_grades
from .config import CourseSettings, load_course_config
from .gradebook import gradebook_errors
from .course import released_assessment, released_ids
from .issuing import gradebook_url
from .manifest import score_skills, skill_passed, skill_thresholds

__all__ = ["CourseReport", "build_report", "write_report"]


@dataclass
class CourseReport:
    """Rows of (learner, assessment, skill, earned, possible, passed) and the ledger's credentials."""

    rows: list[tuple[str, str, str, str, float, float, bool]] = field(default_factory=list)
    thresholds: dict[tuple[str, str], str] = field(default_factory=dict)  # (assessment, skill) -> the pass marks, described
    credentials: Counter[str] = field(default_factory=Counter)  # credential name -> active count
    states: Counter[str] = field(default_factory=Counter)


def build_report(course: str | Path) -> CourseReport:
    settings = load_course_config(course)
    db_url = gradebook_url(settings)
    with gradebook_errors(db_url):
        return _build_report(settings, db_url)


def _build_report(settings: CourseSettings, db_url: str) -> CourseReport:
    report = CourseReport()
    for assignment in released_ids(settings.course_root):
        assessment = released_assessment(settings.course_root, assignment)
        marks = skill_thresholds(assessment)
        for skill, thresholds in marks.items():
            report.thresholds[(assignment, skill)] = "; ".join(t.describe() for t in thresholds)
        for grades in read_grades(db_url, settings.course_id, assignment):
            for skill_id, score in score_skills(assessment, grades.cells).items():
                if score.pending:
                    continue
                # the awarding rule itself (grading.manifest), so a report never disagrees with the credentials
                passed = skill_passed(marks[skill_id], score)
                report.rows.append((grades.learner, assignment, skill_id, assessment.skills[skill_id].name,
                                    float(score.earned), float(score.possible), passed))
    with Ledger(settings.ledger_url) as ledger:
        for record in ledger.credentials(course=settings.course_id):
            report.states[record.state] += 1
            if record.state == "active":
                report.credentials[record.name] += 1
    return report


def write_report(course: str | Path, out: str | Path) -> list[Path]:
    """Write skills.csv and three charts into ``out``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    report = build_report(course)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["learner", "assessment", "skill", "skill_name", "earned", "possible", "percent", "passed"])
    for learner, assessment, skill, name, earned, possible, passed in sorted(report.rows):
        writer.writerow([learner, assessment, skill, name, f"{earned:g}", f"{possible:g}",
                         f"{100 * earned / possible:.1f}" if possible else "", "yes" if passed else "no"])
    write_atomic(folder / "skills.csv", text.getvalue())
    written.append(folder / "skills.csv")

    by_skill: dict[tuple[str, str], list[bool]] = defaultdict(list)
    percents: dict[str, list[float]] = defaultdict(list)
    for _, assessment, skill, name, earned, possible, passed in report.rows:
        by_skill[(assessment, name)].append(passed)
        if possible:
            percents[assessment].append(100 * earned / possible)

    def save(fig: object, name: str) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        write_atomic(folder / name, buffer.getvalue())
        written.append(folder / name)

    labels = [f"{a}: {n}" for a, n in sorted(by_skill)]
    rates = [100 * sum(v) / len(v) for _, v in sorted(by_skill.items())]
    fig, ax = plt.subplots(figsize=(9, 0.4 * max(len(labels), 3) + 1))
    ax.barh(labels, rates, color="#2b6cb0")
    ax.set_xlim(0, 100)
    ax.set_xlabel("learners meeting the skill's threshold (%)")
    ax.set_title("Per-skill pass rates")
    ax.invert_yaxis()
    save(fig, "skill-pass-rates.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.hist([percents[a] for a in sorted(percents)], bins=10, range=(0, 100), label=sorted(percents))
    ax.set_xlabel("skill score (% of the skill's points)")
    ax.set_ylabel("learner × skill")
    ax.set_title("Score distributions by assessment")
    if percents:
        ax.legend()
    save(fig, "score-distributions.png")

    names = sorted(report.credentials, key=lambda n: (-report.credentials[n], n))
    fig, ax = plt.subplots(figsize=(9, 0.4 * max(len(names), 3) + 1))
    ax.barh(names, [report.credentials[n] for n in names], color="#2f855a")
    ax.set_xlabel("credentials in force")
    ax.set_title(f"Credentials issued ({sum(report.states.values())} in all; {report.states.get('revoked', 0)} revoked)")
    ax.invert_yaxis()
    save(fig, "credentials-issued.png")
    return written
