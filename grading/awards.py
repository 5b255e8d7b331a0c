"""From trusted grades to awards: the manifest's rules applied to the gradebook, and stacks.

Scores are read back from nbgrader's gradebook (never from what a kernel printed), before late
penalties; a cell awaiting manual grading holds back every credential that depends on it.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from kit.credentials import Achievement, Alignment, Award, Evidence, IssuerProfile, Recipient, SkillResult
from kit.errors import ManifestError
from kit.issuance import AwardRequest

from .manifest import Assessment, CellGrade, CredentialRule, Issuer, SkillScore, StackRule, earned_credentials, score_skills

__all__ = ["LearnerGrades", "read_grades", "issuer_profile", "skill_awards", "stack_awards", "held_back"]


@dataclass(frozen=True)
class LearnerGrades:
    """One learner's graded submission of one assessment, as the gradebook holds it."""

    learner: str
    email: str | None
    cells: dict[str, CellGrade]


def read_grades(db_url: str, course_id: str, assignment: str, learners: Iterable[str] | None = None) -> list[LearnerGrades]:
    """Per-cell grades of every graded submission (or of ``learners``) from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    out = []
    with Gradebook(db_url, course_id=course_id) as gradebook:
        try:
            submissions = gradebook.find_assignment(assignment).submissions
        except MissingEntry:
            raise ManifestError(f"gradebook {db_url}: no assignment {assignment!r}") from None
        wanted = set(learners) if learners is not None else None
        for submission in submissions:
            learner = submission.student.id
            if wanted is not None and learner not in wanted:
                continue
            cells: dict[str, CellGrade] = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    pending = grade.needs_manual_grade
                    cells[grade.name] = CellGrade(score=None if pending else float(grade.score), max_score=float(grade.max_score))
            if cells:
                out.append(LearnerGrades(learner, submission.student.email or None, cells))
    return out


def _image_uri(folder: Path, name: str | None) -> str | None:
    """An image the manifest names, as a data: URI so the credential shows it offline."""
    if not name:
        return None
    if "://" in name or name.startswith("data:"):
        return name
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError:
        raise ManifestError(f"{path}: image named in the manifest cannot be read") from None
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def issuer_profile(issuer: Issuer, folder: Path) -> IssuerProfile:
    return IssuerProfile(name=issuer.name, url=issuer.url, email=issuer.email, image=_image_uri(folder, issuer.image))


def _recipient(grades: LearnerGrades) -> Recipient:
    if grades.email:
        return Recipient(grades.email.strip().lower(), identity_type="emailAddress")
    return Recipient(grades.learner, identity_type="systemId")


def _number(value: Decimal) -> float:
    return float(value)


def _award_for(rule: CredentialRule, assessment: Assessment, scores: dict[str, SkillScore], grades: LearnerGrades, now: datetime) -> Award:
    skills = []
    for threshold in rule.requires:
        skill = assessment.skills[threshold.skill]
        score = scores[threshold.skill]
        skills.append(
            SkillResult(
                skill_id=skill.id, name=skill.name, earned=_number(score.earned), possible=_number(score.possible),
                required=_number(threshold.needed(score.possible)),
                alignments=tuple(
                    Alignment(target_name=a.name, target_url=a.url, target_code=a.code, target_framework=a.framework, target_type=a.target_type)
                    for a in skill.alignment
                ),
            )
        )
    methods = {t.skill: _how_assessed(assessment, t.skill) for t in rule.requires}
    how = "; ".join(f"\u201c{assessment.skills[s].name}\u201d {m}" for s, m in methods.items())
    criteria = rule.criteria + (f" How each skill is assessed: {how}." if rule.criteria_generated else "")
    by_hand = any("by hand" in m for m in methods.values())
    return Award(
        achievement=Achievement(
            id=rule.id, name=rule.name, description=rule.description, criteria=criteria,
            image=_image_uri(assessment.folder, rule.image), achievement_type="MicroCredential",
        ),
        recipient=_recipient(grades),
        skills=tuple(skills),
        valid_from=now,
        valid_until=now + timedelta(days=rule.validity_days) if rule.validity_days else None,
        # no evidence id: nothing per learner is published (privacy), and an OB 3.0 Evidence id is a URL
        evidence=(Evidence(name=f"{assessment.title}: {'graded' if by_hand else 'autograded'} submission",
                           description=f"nbgrader assessment '{assessment.id}': {how}; the learner's code "
                                       "executed in credkit's sandbox; scores read from the course gradebook",
                           genre="Assessment"),),
    )


_CELL_KINDS: dict[tuple[object, ...], dict[str, bool]] = {}


def _autograded_cells(assessment: Assessment) -> dict[str, bool]:
    """grade_id -> True for an autograder test cell, False for a hand-graded answer or task cell
    (read once per assessment from the instructor's source notebooks)."""
    key = (str(assessment.path), *((nb, _mtime(assessment.folder / nb)) for nb in assessment.notebooks))
    if key not in _CELL_KINDS:
        from .validate import read_graded_cells

        cells, _ = read_graded_cells(assessment.folder, assessment.notebooks)
        _CELL_KINDS[key] = {g: c.is_test for g, c in cells.items()}
    return _CELL_KINDS[key]


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _how_assessed(assessment: Assessment, skill: str) -> str:
    kinds = _autograded_cells(assessment)
    auto = [kinds.get(g, True) for g in assessment.cells_of(skill)]
    if all(auto):
        return "by autograded tests"
    if not any(auto):
        return "graded by hand by an instructor"
    return "by autograded tests and answers graded by hand by an instructor"


def award_key(course_id: str, learner: str, achievement_id: str) -> str:
    return f"{course_id}/{learner}/{achievement_id}"


def skill_awards(course_id: str, assessment: Assessment, grades: Iterable[LearnerGrades], *, now: datetime | None = None) -> list[AwardRequest]:
    """The micro-credentials each learner's grades earn (pending manual grades hold them back)."""
    now = now or datetime.now(timezone.utc)
    requests = []
    for learner_grades in grades:
        scores = score_skills(assessment, learner_grades.cells)
        for rule in earned_credentials(assessment, scores):
            provenance = {
                grade_id: [learner_grades.cells[grade_id].score, learner_grades.cells[grade_id].max_score]
                for threshold in rule.requires for grade_id in assessment.cells_of(threshold.skill)
            }
            requests.append(
                AwardRequest(
                    award_key=award_key(course_id, learner_grades.learner, rule.id), course=course_id,
                    learner=learner_grades.learner, award=_award_for(rule, assessment, scores, learner_grades, now),
                    grades={"assessment": assessment.id, "cells": provenance},
                )
            )
    return requests


def held_back(assessment: Assessment, grades: LearnerGrades) -> list[str]:
    """Credentials waiting on manual grading for this learner (names), for the instructor's report."""
    scores = score_skills(assessment, grades.cells)
    return [rule.name for rule in assessment.credentials.values() if any(scores[t.skill].pending for t in rule.requires)]


def stack_awards(
    course_id: str,
    stacks: Iterable[StackRule],
    held: dict[str, dict[str, tuple[str, str]]],
    recipients: dict[str, Recipient],
    track_folder: Path,
    *,
    now: datetime | None = None,
) -> list[AwardRequest]:
    """Stacked credentials for learners who hold every component.

    ``held`` maps learner → achievement id → (credential id, name) from the ledger.
    """
    now = now or datetime.now(timezone.utc)
    requests = []
    for learner, achievements in sorted(held.items()):
        for stack in stacks:
            if not all(component in achievements for component in stack.components):
                continue
            # OB 3.0: an Evidence id is the URL of a page presenting the evidence. A component's is its
            # achievement's page (credkit publish writes one at every https achievement id); the
            # learner's own component credential, never published, is named in the narrative.
            evidence = tuple(
                Evidence(name=achievements[c][1], id=c if c.startswith(("https://", "http://")) else None,
                         description="Component micro-credential", narrative=f"Earned as the credential {achievements[c][0]}.",
                         genre="Credential")
                for c in stack.components
            )
            award = Award(
                achievement=Achievement(
                    id=stack.id, name=stack.name, description=stack.description, criteria=stack.criteria,
                    image=_image_uri(track_folder, stack.image), achievement_type="Certificate",
                ),
                recipient=recipients[learner], skills=(), valid_from=now,
                valid_until=now + timedelta(days=stack.validity_days) if stack.validity_days else None, evidence=evidence,
            )
            requests.append(
                AwardRequest(
                    award_key=award_key(course_id, learner, stack.id), course=course_id, learner=learner, award=award,
                    grades={"stack": stack.id, "components": {c: achievements[c][0] for c in stack.components}},
                )
            )
    return requests
