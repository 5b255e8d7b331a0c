"""``credkit release``: an assessment into an nbgrader course, with its learner-safe skill map."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat

from kit.errors import AssessmentInvalid, ManifestError
from kit.fileio import write_atomic

from .course import ensure_feedback_config, record_release
from .manifest import Assessment, load_assessment
from .validate import GradedCell, check_assessment, read_graded_cells

__all__ = ["SKILL_MAP_NAME", "release", "skill_map"]

SKILL_MAP_NAME = "credkit-skills.json"

_MINIMAL_CONFIG = """\
# nbgrader course configuration, created by `credkit release`.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
"""


def _course_config(course: Path) -> Any:
    from traitlets.config import Config
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    except ConfigFileNotFound:
        config = Config()
    except Exception as exc:  # a user's config file can raise anything
        raise ManifestError(f"{course / 'nbgrader_config.py'}: cannot load: {exc}") from exc
    config.CourseDirectory.root = str(course)
    return config


def _generate_assignment(course: Path, assignment: str) -> None:
    from nbgrader.apps.generateassignmentapp import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    _alembic_on_path()
    config = _course_config(course)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    app = GenerateAssignment(coursedir=coursedir, config=config)
    app.force = True
    app.create_assignment = True
    errors = _ErrorLines()
    app.log.addHandler(errors)
    app.log.propagate = False
    app.log.setLevel(logging.ERROR)
    try:
        app.start()
    except Exception as exc:  # nbgrader raises NbGraderException and RuntimeError from preprocessors
        why = errors.reason() or str(exc)
        raise ManifestError(f"{course / 'source' / assignment}: nbgrader generate_assignment failed: {why}") from exc
    finally:
        app.log.removeHandler(errors)


class _ErrorLines(logging.Handler):
    """Keeps nbgrader's logged errors so the one-line message can say what went wrong."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.extend(ln for ln in record.getMessage().splitlines() if ln.strip())

    def reason(self) -> str:
        tb_last = [ln for ln in self.lines if not ln.startswith((" ", "Traceback", "There was", "Please see"))]
        return tb_last[-1] if tb_last else ""


def _alembic_on_path() -> None:
    # nbgrader's Gradebook runs the `alembic` script from PATH; a venv used without activation
    # (.venv/bin/credkit) does not have it there, so add the running interpreter's bin folder.
    bindir = os.path.dirname(sys.executable)
    if shutil.which("alembic") is None and os.path.exists(os.path.join(bindir, "alembic")):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def skill_map(assessment: Assessment, released: dict[str, GradedCell]) -> dict[str, Any]:
    """The learner-safe skill map: skills, visible test cells per skill, points and thresholds.

    Built from the *released* notebooks, so it can hold nothing nbgrader removed.
    """
    skills = []
    for sid, skill in assessment.skills.items():
        cells = [released[g] for g in assessment.cells_of(sid)]
        possible = sum(c.points for c in cells)
        skills.append({
            "id": sid,
            "name": skill.name,
            "description": skill.description,
            "possible": possible,
            "visible_tests": [
                {"grade_id": c.grade_id, "notebook": c.notebook, "points": c.points}
                for c in cells if c.is_test and _has_code(c.source)
            ],
        })
    credentials = []
    for rule in assessment.credentials.values():
        reqs = []
        for t in rule.requires:
            possible = sum(released[g].points for g in assessment.cells_of(t.skill))
            entry: dict[str, Any] = {"skill": t.skill, "points_needed": float(t.needed(Decimal(str(possible))))}
            if t.fraction is not None:
                entry["fraction"] = float(t.fraction)
            reqs.append(entry)
        credentials.append({"id": rule.id, "name": rule.name, "criteria": rule.criteria, "requires": reqs})
    return {
        "format": 1,
        "assessment": assessment.id,
        "title": assessment.title,
        "skills": skills,
        "credentials": credentials,
        "rule": "A skill's earned points are compared to the points needed with >=, without rounding; "
                "a cell mapped to two skills counts fully in each; scores are taken before late penalties.",
    }


def _has_code(source: str) -> bool:
    return any(ln.strip() and not ln.strip().startswith("#") for ln in source.splitlines())


def release(assessment_path: str | Path, course: str | Path) -> Path:
    """Put an assessment into an nbgrader course and generate the learners' version.

    Copies the notebooks and declared files into ``<course>/source/<id>/`` (replacing that folder), runs nbgrader's
    generate_assignment, writes ``release/<id>/credkit-skills.json``; returns the release folder.
    Raises AssessmentInvalid when the assessment does not validate, ManifestError when nbgrader fails.
    """
    assessment = load_assessment(assessment_path)
    report = check_assessment(assessment)
    if report.problems:
        raise AssessmentInvalid(report.problems)
    course = Path(course).resolve()
    course.mkdir(parents=True, exist_ok=True)
    if not (course / "nbgrader_config.py").exists():
        write_atomic(course / "nbgrader_config.py", _MINIMAL_CONFIG.format(course_id=course.name).encode())
    source = course / "source" / assessment.id
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    for name in (*assessment.notebooks, *assessment.files):
        src = assessment.folder / name
        dst = source / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    _generate_assignment(course, assessment.id)
    released_dir = course / "release" / assessment.id
    released, problems = read_graded_cells(released_dir, assessment.notebooks)
    if problems:
        raise AssessmentInvalid(problems)
    data = json.dumps(skill_map(assessment, released), indent=2, ensure_ascii=False) + "\n"
    write_atomic(released_dir / "credkit-skills.json", data.encode("utf-8"))
    record_release(course, assessment)
    ensure_feedback_config(course)
    return released_dir


def released_notebook(course: Path, assessment: str, notebook: str) -> nbformat.NotebookNode:
    """Read one released notebook (for callers that want the learners' copy)."""
    return nbformat.read(course / "release" / assessment / notebook, as_version=4)
