"""``credkit validate``: a manifest against its schema and against its nbgrader notebooks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import nbformat
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from kit.errors import AssessmentInvalid, ManifestError

from .instructor_files import link_problems
from .learner_state import learner_state_uses
from .manifest import MANIFEST_NAME, TRACK_NAME, Assessment, Track, load_assessment, load_track

__all__ = ["GradedCell", "Report", "check_assessment", "read_graded_cells", "validate_path"]

_MARK = re.compile(r"^\s*###\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class GradedCell:
    """A cell of a source notebook with nbgrader metadata that carries points or a solution."""

    notebook: str
    index: int
    grade_id: str
    cell_type: str
    grade: bool
    solution: bool
    locked: bool
    points: float
    source: str
    task: bool = False

    @property
    def is_test(self) -> bool:
        """An autograder test cell (graded, not a learner's answer)."""
        return self.grade and not self.solution and self.cell_type == "code"

    @property
    def has_hidden(self) -> bool:
        return bool(re.search(r"###\s*BEGIN HIDDEN TESTS", self.source))

    def visible_source(self) -> str:
        """The cell as learners see it: hidden test regions removed."""
        return re.sub(r"(?ms)^\s*###\s*BEGIN HIDDEN TESTS.*?###\s*END HIDDEN TESTS[^\n]*\n?", "", self.source)


@dataclass
class Report:
    """What validate found for one assessment or track file."""

    path: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_graded_cells(folder: Path, notebooks: tuple[str, ...]) -> tuple[dict[str, GradedCell], list[str]]:
    """Every nbgrader cell of the notebooks by grade_id, and the problems found reading them."""
    cells: dict[str, GradedCell] = {}
    problems: list[str] = []
    validator = MetadataValidator()
    for name in notebooks:
        path = folder / name
        try:
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
        except Exception as exc:  # noqa: BLE001 -- nbformat raises many kinds; all mean "not a valid notebook"
            problems.append(f"{path}: (notebook): not a valid notebook: {str(exc).splitlines()[0]}")
            continue
        try:
            validator.validate_nb(nb)
        except ValidationError as exc:
            problems.append(f"{path}: (nbgrader metadata): {exc}")
            continue
        for i, cell in enumerate(nb.cells):
            meta = cell.get("metadata", {}).get("nbgrader")
            source = cell.source
            where = f"{path}: cell {i + 1}"
            problems.extend(_marker_problems(where, source, meta or {}))
            if not meta or not (meta.get("grade") or meta.get("solution") or meta.get("task")):
                continue
            grade_id = meta["grade_id"]
            if grade_id in cells:
                problems.append(f"{where}: grade_id {grade_id!r} is used twice (also {cells[grade_id].notebook})")
            cells[grade_id] = GradedCell(
                notebook=name, index=i, grade_id=grade_id, cell_type=cell.cell_type,
                grade=bool(meta.get("grade")), solution=bool(meta.get("solution")),
                locked=bool(meta.get("locked")), points=float(meta.get("points") or 0), source=source,
                task=bool(meta.get("task")),
            )
    return cells, problems


def _marker_problems(where: str, source: str, meta: dict) -> Iterator[str]:
    open_: str | None = None
    for m in _MARK.finditer(source):
        what, region = m.group(1), m.group(2)
        if what == "BEGIN":
            if open_:
                yield f"{where}: '### BEGIN {region}' inside an open {open_} region"
            open_ = region
        else:
            if open_ != region:
                yield f"{where}: '### END {region}' without a matching BEGIN"
            open_ = None
        if region == "SOLUTION" and not meta.get("solution"):
            yield f"{where}: a solution region in a cell that is not a solution cell (nbgrader would not clear it)"
            return
        if region == "HIDDEN TESTS" and not (meta.get("grade") and not meta.get("solution")):
            yield f"{where}: a hidden test region outside an autograder test cell (it would not be hidden)"
            return
    if open_:
        yield f"{where}: '### BEGIN {open_}' is never closed"


def check_assessment(assessment: Assessment) -> Report:
    """Cross-check a loaded manifest against its notebooks; problems are errors, warnings advice."""
    report = Report(assessment.path)
    mf = assessment.path
    images = [c.image for c in assessment.credentials.values() if c.image and "://" not in c.image]
    report.problems.extend(link_problems(assessment.folder, [*assessment.notebooks, *assessment.files, *images]))
    if report.problems:
        return report  # nothing is read through a link
    cells, problems = read_graded_cells(assessment.folder, assessment.notebooks)
    report.problems.extend(problems)
    if problems:
        return report
    for grade_id in assessment.cells:
        cell = cells.get(grade_id)
        key = f"cells.{grade_id}" if grade_id.replace("_", "").replace("-", "").isalnum() else f'cells."{grade_id}"'
        if cell is None:
            report.problems.append(f"{mf}: {key}: unknown grade_id {grade_id!r}: no such nbgrader cell in "
                                   f"{', '.join(assessment.notebooks)}")
        elif not (cell.grade or cell.task) or cell.points <= 0:
            report.problems.append(f"{mf}: {key}: cell {grade_id!r} is not a graded or task cell with points")
    possible = {
        sid: sum(cells[g].points for g in assessment.cells_of(sid) if g in cells) for sid in assessment.skills
    }
    for cred in assessment.credentials.values():
        for t in cred.requires:
            have = Decimal(str(possible[t.skill]))
            need = t.needed(have)
            if need > have:
                report.problems.append(
                    f"{mf}: credentials.{cred.key}.requires.{t.skill}: unreachable threshold: needs "
                    f"{format(need.normalize(), 'f')} points but the skill's cells give {format(have.normalize(), 'f')}"
                )
    for cell in cells.values():
        if (cell.grade or cell.task) and cell.points > 0 and cell.grade_id not in assessment.cells:
            report.warnings.append(f"{assessment.folder / cell.notebook}: cell {cell.grade_id!r}: graded cell "
                                   "not mapped to any skill in the manifest")
        if cell.is_test:
            report.warnings.extend(_checker_cannot_judge(assessment.folder / cell.notebook, cell))
    return report


def _checker_cannot_judge(path: Path, cell: GradedCell) -> Iterator[str]:
    """Warn about a test cell that reads state living in the learner's kernel (see learner_state.py)."""
    for reason in learner_state_uses(cell.source):
        yield (f"{path}: cell {cell.grade_id!r}: the checker cannot judge this test: {reason}; it will score 0 "
               "(see the README, 'Writing tests the checker can judge')")


def validate_path(path: str | Path) -> list[Report]:
    """Validate an assessment folder, a track folder, or a folder of tracks.

    Loading errors become problems in the reports; raises ManifestError when PATH holds none.
    """
    path = Path(path)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise ManifestError(f"{path}: no such folder")
    if (path / MANIFEST_NAME).is_file() and not (path / TRACK_NAME).is_file():
        return [_validate_assessment(path)]
    if (path / TRACK_NAME).is_file():
        return _validate_track(path)
    # any depth: `credkit new assessment assessments/my-track/my-assessment` needs no track.toml
    tracks = sorted(p.parent for p in _found(path, TRACK_NAME))
    loose = sorted(p.parent for p in _found(path, MANIFEST_NAME) if p.parent.parent not in tracks)
    if not tracks and not loose:
        raise ManifestError(f"{path}: no {MANIFEST_NAME} or {TRACK_NAME} found in it or below it")
    reports = [_validate_assessment(p) for p in loose]
    for t in tracks:
        reports.extend(_validate_track(t))
    return reports


def _found(root: Path, name: str) -> list[Path]:
    """Files called ``name`` below ``root``, outside hidden folders and notebook checkpoints."""
    return [p for p in root.rglob(name)
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])]


def _validate_assessment(folder: Path) -> Report:
    try:
        a = load_assessment(folder)
    except AssessmentInvalid as exc:
        return Report(folder / MANIFEST_NAME, problems=exc.problems)
    return check_assessment(a)


def _validate_track(folder: Path) -> list[Report]:
    reports: list[Report] = []
    try:
        track: Track = load_track(folder)
    except AssessmentInvalid as exc:
        reports.append(Report(folder / TRACK_NAME, problems=exc.problems))
        for manifest in sorted(folder.glob(f"*/{MANIFEST_NAME}")):
            try:
                a = load_assessment(manifest)
            except AssessmentInvalid:
                continue  # its problems are already in the track's report
            reports.append(check_assessment(a))
        return reports
    reports.append(Report(track.path))
    for a in track.assessments.values():
        reports.append(check_assessment(a))
    return reports
