"""``credkit release``: an assessment into an nbgrader course, with its learner-safe skill map."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import nbformat

from kit.errors import AssessmentInvalid, ManifestError
from kit.fileio import write_atomic

from .course import CREATED_MARK, ensure_feedback_config, record_release, released_source_files
from .instructor_files import read_regular, regular_files, tree_problems
from .manifest import Assessment, load_assessment
from .validate import GradedCell, check_assessment, read_graded_cells

__all__ = ["SKILL_MAP_NAME", "release", "skill_map"]

SKILL_MAP_NAME = "credkit-skills.json"
log = logging.getLogger("credkit.release")

_MINIMAL_CONFIG = CREATED_MARK + """
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
"""


def _course_config(course: Path, overrides: Any) -> Any:
    """The configuration ``nbgrader generate_assignment`` would use in the course folder.

    nbgrader_config.py from Jupyter's config path (the instructor's own), then the course's, then
    the command line's overrides, as nbgrader's applications load them.
    """
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(course)]:
        try:
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
        except ConfigFileNotFound:
            continue
        except Exception as exc:  # a user's config file can raise anything
            raise ManifestError(f"{Path(folder) / 'nbgrader_config.py'}: cannot load: {exc}") from exc
    config.merge(overrides)
    config.CourseDirectory.root = str(course)
    return config


def _generate_assignment(course: Path, assignment: str, overrides: Any) -> None:
    from nbgrader.apps.generateassignmentapp import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    from .gradebook import new_gradebooks_stamped_in_process

    config = _course_config(course, overrides)
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
        # relative paths in the config (a header notebook) as nbgrader reads them
        with contextlib.chdir(course), new_gradebooks_stamped_in_process():
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


def release(assessment_path: str | Path, course: str | Path, *, nbgrader_args: Sequence[str] = ()) -> Path:
    """Put an assessment into an nbgrader course and generate the learners' version.

    An assessment whose manifest sits in the course's own ``source/<id>/`` is released in place:
    nothing is written there. Otherwise its notebooks and declared files are copied into
    ``source/<id>/``, replacing only copies an earlier release made and nobody changed since; no
    file is ever deleted. Then nbgrader's generate_assignment runs with the course's configuration
    (plus ``nbgrader_args``, ``--Class.trait=value``) and ``release/<id>/credkit-skills.json`` is
    written; returns the release folder. Raises AssessmentInvalid when the assessment does not
    validate, ManifestError when a file is in the way or nbgrader fails; in both cases before
    anything was written.
    """
    assessment = load_assessment(assessment_path)
    report = check_assessment(assessment)
    if report.problems:
        raise AssessmentInvalid(report.problems)
    overrides = nbgrader_overrides(nbgrader_args)
    course = Path(course).resolve()
    source = course / "source" / assessment.id
    in_place = source.exists() and source.resolve() == assessment.folder.resolve()
    copies = {} if in_place else _copies(course, assessment, source)
    problems = list(tree_problems(source)) if source.exists() else []
    if problems:
        raise AssessmentInvalid(problems)  # nbgrader would copy through them into release/

    course.mkdir(parents=True, exist_ok=True)
    if not (course / "nbgrader_config.py").exists():
        write_atomic(course / "nbgrader_config.py", _MINIMAL_CONFIG.format(course_id=course.name).encode())
    for name, data in copies.items():
        dst = source / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() or dst.read_bytes() != data:
            write_atomic(dst, data)
    _generate_assignment(course, assessment.id, overrides)
    released_dir = course / "release" / assessment.id
    released, problems = read_graded_cells(released_dir, assessment.notebooks)
    if problems:
        raise AssessmentInvalid(problems)
    data = json.dumps(skill_map(assessment, released), indent=2, ensure_ascii=False) + "\n"
    write_atomic(released_dir / "credkit-skills.json", data.encode("utf-8"))
    record_release(course, assessment, {n: hashlib.sha256(b).hexdigest() for n, b in copies.items()})
    _warn_without_email(course, overrides)
    missing = ensure_feedback_config(course)
    if missing:
        log.warning("%s: not changed by credkit; to show learners their skills and never hidden tests in "
                    "feedback, and to keep learner HTML from running in the feedback and the formgrader, add:\n%s",
                    course / "nbgrader_config.py", missing)
    return released_dir


def _warn_without_email(course: Path, overrides: Any) -> None:
    """Before anything is issued: say which learners the gradebook has no e-mail for."""
    from nbgrader.coursedir import CourseDirectory

    from .gradebook import new_gradebooks_stamped_in_process
    from .issuing import warn_learners_without_email

    coursedir = CourseDirectory(config=_course_config(course, overrides))
    with new_gradebooks_stamped_in_process():  # no gradebook yet with GenerateAssignment.no_database
        warn_learners_without_email(coursedir.db_url, coursedir.course_id)


def _copies(course: Path, assessment: Assessment, source: Path) -> dict[str, bytes]:
    """What to copy into ``source/<id>/``: every file the manifest names, read without links.

    A file already there is replaced only when it is the copy an earlier ``credkit release`` made
    and nobody changed it since (an edit in the formgrader is the instructor's); else ManifestError.
    """
    copies: dict[str, bytes] = {}
    for name in regular_files(assessment.folder, (*assessment.notebooks, *assessment.files)):
        copies[name] = read_regular(assessment.folder / name)
    made = released_source_files(course, assessment.id)
    for name, data in copies.items():
        dst = source / name
        if not dst.exists() and not dst.is_symlink():
            continue
        try:
            have = read_regular(dst)
        except ManifestError:
            have = None
        if have == data:
            continue
        if have is None or made.get(name) != hashlib.sha256(have).hexdigest():
            raise ManifestError(
                f"{dst}: already in the course and not the copy an earlier credkit release made "
                f"(edited there, e.g. in the formgrader?); credkit never overwrites it: bring the change into "
                f"{assessment.folder / name} or move {dst} away, then release again")
    return copies


def nbgrader_overrides(args: Sequence[str]) -> Any:
    """``--Class.trait=value`` arguments as a traitlets Config; ManifestError for anything else."""
    from traitlets.config import Config
    from traitlets.config.loader import KVArgParseConfigLoader

    for arg in args:
        if not re.fullmatch(r"--[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*=.*", arg, re.DOTALL):
            raise ManifestError(f"{arg}: not an nbgrader setting (give --Class.trait=value)")
    if not args:
        return Config()
    try:
        return KVArgParseConfigLoader(list(args)).load_config()
    except Exception as exc:  # traitlets raises ArgumentError and others for a bad value
        raise ManifestError(f"{' '.join(args)}: not a valid nbgrader setting: {exc}") from None


def released_notebook(course: Path, assessment: str, notebook: str) -> nbformat.NotebookNode:
    """Read one released notebook (for callers that want the learners' copy)."""
    return nbformat.read(course / "release" / assessment / notebook, as_version=4)
