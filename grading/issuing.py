"""``credkit issue``: turn a course's trusted grades into signed, delivered skill credentials.

For every released assessment: read each learner's grades from the gradebook, keep only
submissions whose grades were produced in the sandbox (unless the instructor passes the unsafe
flag), apply the manifest's rules, issue what is newly earned, then issue the track's stacked
credentials for learners who now hold all their components, and republish the status lists.
Running it again issues nothing new.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kit.credentials import Recipient
from kit.issuance import CredentialIssuer, Issued
from kit.keys import IssuerKey
from kit.ledger import Ledger

from .awards import LearnerGrades, held_back, issuer_profile, read_grades, skill_awards, stack_awards
from .config import CourseSettings, load_course_config
from .course_lock import course_lock
from .course import released_assessment, released_ids, released_track
from .manifest import earned_credentials, score_skills

__all__ = ["IssueReport", "issue_course", "warn_learners_without_email", "gradebook_url", "UNSAFE_FLAG"]

log = logging.getLogger("credkit.issue")
UNSAFE_FLAG = "--unsafe-issue-unsandboxed-grades"


@dataclass
class IssueReport:
    """What an issuing run did, for the summary and ``--json``."""

    issued: list[Issued] = field(default_factory=list)
    already_issued: int = 0
    redelivered: int = 0
    unsandboxed: list[tuple[str, str]] = field(default_factory=list)  # (assessment, learner) refused
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (assessment, learner, why): grading failed
    undelivered: list[tuple[str, str]] = field(default_factory=list)  # (learner, why): in the ledger, delivered next run
    held_back: list[tuple[str, str, str]] = field(default_factory=list)  # (assessment, learner, credential)
    no_longer_earned: list[tuple[str, str, str]] = field(default_factory=list)  # (learner, credential, id)
    released_to_exchange: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "issued": [{"id": i.id, "learner": i.learner, "credential": i.achievement_id, "name": i.name, "file": str(i.path)} for i in self.issued],
            "already_issued": self.already_issued,
            "redelivered": self.redelivered,
            "refused_unsandboxed": [{"assessment": a, "learner": l} for a, l in self.unsandboxed],
            "failed_grading": [{"assessment": a, "learner": l, "reason": r} for a, l, r in self.failed],
            "undelivered": [{"learner": l, "reason": r} for l, r in self.undelivered],
            "held_back_for_manual_grading": [{"assessment": a, "learner": l, "credential": c} for a, l, c in self.held_back],
            "no_longer_earned": [{"learner": l, "credential": c, "id": i} for l, c, i in self.no_longer_earned],
            "released_to_exchange": self.released_to_exchange,
        }


def gradebook_url(settings: CourseSettings) -> str:
    configured = settings.config.get("CourseDirectory", {}).get("db_url")
    return str(configured) if configured else f"sqlite:///{settings.course_root / 'gradebook.db'}"


def _sandboxed_only(settings: CourseSettings, db_url: str, assignment: str, grades: list[LearnerGrades], report: IssueReport) -> list[LearnerGrades]:
    from .execute import gradebook_auto_scores
    from .provenance import ProvenanceStore, provenance_path

    path = provenance_path(db_url, str(settings.course_root))
    if not path.exists():
        report.unsandboxed.extend((assignment, g.learner) for g in grades)
        return []
    kept = []
    auto_scores = gradebook_auto_scores(db_url, settings.course_id, assignment, (g.learner for g in grades))
    with ProvenanceStore(path) as store:
        for learner_grades in grades:
            scores = auto_scores.get(learner_grades.learner, {})
            status = store.status(assignment, learner_grades.learner)
            if status is not None and status[0] == "failed":
                # The sandbox ran and grading failed: that is not an unsandboxed grade to refuse.
                report.failed.append((assignment, learner_grades.learner, status[1]))
            elif store.is_sandboxed(assignment, learner_grades.learner, scores):
                kept.append(learner_grades)
            else:
                report.unsandboxed.append((assignment, learner_grades.learner))
    return kept


def _recipients(db_url: str, course_id: str) -> dict[str, Recipient]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id=course_id) as gradebook:
        return {
            s.id: Recipient(s.email.strip().lower(), identity_type="emailAddress") if s.email else Recipient(s.id, identity_type="systemId")
            for s in gradebook.students
        }


def warn_learners_without_email(db_url: str, course_id: str, learners: list[str] | None = None) -> list[str]:
    """Log one warning naming the learners (of ``learners``, default all) the gradebook has no e-mail for.

    Their credentials name the nbgrader student id (``systemId``), which an employer can only check
    with ``credkit verify --recipient <id>``. Returns their ids.
    """
    from nbgrader.api import Gradebook

    try:
        with Gradebook(db_url, course_id=course_id) as gradebook:
            missing = sorted(s.id for s in gradebook.students
                             if not (s.email or "").strip() and (learners is None or s.id in learners))
    except Exception:  # noqa: BLE001 -- a warning must never stop the command; the gradebook's own errors come later
        return []
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        log.warning("%d learner(s) have no e-mail in the gradebook (%s): their credentials name their course id "
                    "instead; add e-mails first (formgrader: Manage Students, or nbgrader db student add ID "
                    "--email=ADDRESS)", len(missing), shown)
    return missing


def issue_course(
    course_root: str | Path,
    key: IssuerKey,
    *,
    assignments: list[str] | None = None,
    learners: list[str] | None = None,
    unsafe_issue_unsandboxed_grades: bool = False,
    now: datetime | None = None,
) -> IssueReport:
    """Issue everything the course's trusted grades earn and deliver it; see the module docstring.

    Holds the course lock (:mod:`grading.course_lock`); raises CourseBusy when another run has it.
    """
    from .gradebook import gradebook_errors

    settings = load_course_config(course_root)
    settings.check_key_outside_course()
    with course_lock(settings.course_root), gradebook_errors(gradebook_url(settings)):
        return _issue_course(settings, key, assignments, learners, unsafe_issue_unsandboxed_grades, now)


def _issue_course(settings: CourseSettings, key: IssuerKey, assignments: list[str] | None, learners: list[str] | None,
                  unsafe_issue_unsandboxed_grades: bool, now: datetime | None) -> IssueReport:
    if unsafe_issue_unsandboxed_grades:
        log.warning("UNSAFE: issuing from grades that were not produced in the sandbox (%s)", UNSAFE_FLAG)
    now = now or datetime.now(timezone.utc)
    db_url = gradebook_url(settings)
    report = IssueReport()
    tracks = {}
    with Ledger(settings.ledger_url) as ledger:
        held_ids = defaultdict(dict)  # learner -> achievement id -> (credential id, name)
        for record in ledger.credentials(course=settings.course_id):
            if record.state == "active":
                held_ids[record.learner][record.achievement_id] = (record.id, record.name)
        for assignment in assignments or released_ids(settings.course_root):
            assessment = released_assessment(settings.course_root, assignment)
            track = released_track(settings.course_root, assignment)
            if track is not None:
                tracks[track.path] = track
            grades = read_grades(db_url, settings.course_id, assignment, learners)
            if not unsafe_issue_unsandboxed_grades:
                grades = _sandboxed_only(settings, db_url, assignment, grades, report)
            earning = [g.learner for g in grades  # about to get a new credential
                       if any(r.id not in held_ids[g.learner]
                              for r in earned_credentials(assessment, score_skills(assessment, g.cells)))]
            if earning:
                warn_learners_without_email(db_url, settings.course_id, earning)
            for learner_grades in grades:
                # a credential the learner already holds is not "waiting": a re-autograde marks its
                # hand-graded cells as needing grading again, but what was issued stays valid
                ids = {r.name: r.id for r in assessment.credentials.values()}
                pending = held_back(assessment, learner_grades)
                report.held_back.extend((assignment, learner_grades.learner, name) for name in pending
                                        if ids.get(name) not in held_ids[learner_grades.learner])
                earned = {r.id for r in earned_credentials(assessment, score_skills(assessment, learner_grades.cells))}
                for rule in assessment.credentials.values():
                    held = held_ids[learner_grades.learner].get(rule.id)
                    if held and rule.id not in earned and rule.name not in pending:
                        report.no_longer_earned.append((learner_grades.learner, rule.name, held[0]))
            folder = track.path.parent if track is not None else assessment.folder
            issuer = _issuer(settings, key, ledger, issuer_profile(assessment.issuer, folder))
            report.redelivered += issuer.redeliver_missing(course=settings.course_id, failures=report.undelivered)
            result = issuer.issue(skill_awards(settings.course_id, assessment, grades, now=now))
            report.issued.extend(result.issued)
            report.already_issued += result.already_issued
            report.undelivered.extend(result.undelivered)
            for issued in result.issued:
                held_ids[issued.learner][issued.achievement_id] = (issued.id, issued.name)
        for track in tracks.values():
            if not track.stacks:
                continue
            recipients = _recipients(db_url, settings.course_id)
            issuer = _issuer(settings, key, ledger, issuer_profile(track.issuer, track.path.parent))
            eligible = {l: a for l, a in held_ids.items() if l in recipients}
            result = issuer.issue(stack_awards(settings.course_id, track.stacks.values(), eligible, recipients, track.path.parent, now=now))
            report.issued.extend(result.issued)
            report.already_issued += result.already_issued
            report.undelivered.extend(result.undelivered)
        publisher = _issuer(settings, key, ledger, None)
        publisher.publish_status_lists(now=now)
        report.undelivered.extend(publisher.status.undelivered)
        if settings.credkit.delivery == "exchange":
            from .exchange_release import release_to_exchange

            report.released_to_exchange, without_secret = release_to_exchange(settings, ledger)
            for learner in without_secret:
                log.warning("%s has credentials but no submission secret (collected without the exchange?): "
                            "not released through the exchange", learner)
    for learner, name, credential_id in report.no_longer_earned:
        log.warning("%s no longer meets the rules of %s (%s); it stays valid unless you run: credkit revoke %s --reason …",
                    learner, name, credential_id, credential_id)
    return report


def _issuer(settings: CourseSettings, key: IssuerKey, ledger: Ledger, profile: object) -> CredentialIssuer:
    base = settings.status_base_url(getattr(profile, "url", "") or "https://credkit.invalid")
    return CredentialIssuer(
        key=key, profile=profile,  # type: ignore[arg-type]
        ledger=ledger, wallet_root=settings.wallet_root, status_dir=settings.status_dir,
        status_base_url=base, status_purpose=settings.credkit.status_purpose, cryptosuite=settings.credkit.cryptosuite,
        issuer_did=settings.issuer_did,
    )


def after_grading(course_root: str, assignment: str, result: object, *, issue: bool) -> dict[str, object]:
    """What ``credkit grade`` adds to its summary: issuing, and where the report comes from.

    Issuing happens right after scoring when the assessment was released with credkit and the
    course's issuer key can be opened without a prompt; otherwise the summary says why not.
    """
    from kit.keys import key_file_is_encrypted, load_key

    settings = load_course_config(course_root)
    if assignment not in released_ids(settings.course_root):
        return {}
    graded = sorted({s.student for s in getattr(result, "submissions", []) if getattr(s, "status", "") == "graded"})
    out: dict[str, object] = {
        "report_hint": f"report: credkit report --course {settings.course_root} --out credkit-report",
    }
    if not issue:
        return out
    import os

    passphrase = os.environ.get("CREDKIT_KEY_PASSPHRASE")
    if not settings.key_file.exists():
        out["issue_skipped"] = (f"no issuer key at {settings.key_file}; make one with: credkit keys new --encrypt "
                                f"--out {settings.key_file} (or grade with --no-issue)")
        return out
    if key_file_is_encrypted(settings.key_file) and not passphrase:
        out["issue_skipped"] = "the issuer key is encrypted; set CREDKIT_KEY_PASSPHRASE or run credkit issue"
        return out
    from kit.errors import CredkitError

    try:
        key = load_key(settings.key_file, passphrase=passphrase.encode() if passphrase else None)
        # Every learner of the assessment, not only this run's: a rerun after a killed run skips
        # the submissions graded before, and their credentials must still be issued (once).
        report = issue_course(settings.course_root, key, assignments=[assignment])
    except CredkitError as exc:
        out["issue_failed"] = exc.diagnostics()
        return out
    out["issued"] = len(report.issued)
    out["held_back"] = len(report.held_back)
    recovered = [i for i in report.issued if i.learner not in graded]
    if recovered or report.redelivered:
        out["recovered"] = {"issued": len(recovered), "redelivered": report.redelivered}
    if report.undelivered:
        out["undelivered"] = [f"{learner}: {why}" for learner, why in report.undelivered]
    return out
