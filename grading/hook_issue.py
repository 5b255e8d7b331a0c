"""Issue right after stock ``nbgrader autograde`` scores a submission (the formgrader's button too).

In the course's ``nbgrader_config.py``, together with the sandbox hook::

    from grading.hook import sandbox_autograde
    from grading.hook_issue import issue_after_autograde
    sandbox_autograde(c)
    issue_after_autograde(c)

nbgrader calls ``post_convert_hook`` once per graded submission with the command line's student
filter (``'*'`` in a batch), not the learner, and swallows any exception it raises; so the learner
is taken from the submission's path, and failures are logged as errors, appended to
``<course>/credkit/issue-failures.log`` and never lost silently. Because an ordinary exception
would be swallowed, a failure ends the run with ``SystemExit`` — which nbgrader passes on — once
the submission is graded: at once for one learner (the formgrader's autograde button, whose reply
then says ``success: false`` with the reason), after the batch's last submission for a batch
(``nbgrader autograde`` then exits 1); no other learner's grading is cut short. The issuer key must be readable
without a prompt (an unencrypted key file, or ``CREDKIT_KEY_PASSPHRASE`` in the grader's own
environment — the sandbox never passes it on to learner code).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["issue_after_autograde", "post_autograde"]

log = logging.getLogger("credkit.hook")

# This process's issuing failures since the last report (the formgrader's server lives on).
_failures: list[str] = []


def issue_after_autograde(c: Any) -> None:
    """Configure ``c`` so that nbgrader autograde issues credentials after scoring each submission."""
    c.Autograde.post_convert_hook = post_autograde


def _submission(notebooks: list[str]) -> tuple[Path, str, str]:
    """(course root, learner, assignment) from ``<course>/submitted/<learner>/<assignment>/<nb>.ipynb``."""
    path = Path(notebooks[0]).resolve()
    assignment_dir = path.parent
    learner_dir = assignment_dir.parent
    submitted = learner_dir.parent
    if submitted.name != "submitted":
        raise ValueError(f"{path} is not in nbgrader's submitted/<learner>/<assignment>/ layout")
    return submitted.parent, learner_dir.name, assignment_dir.name


def post_autograde(assignment: str, student: str, notebooks: list[str], **_: Any) -> None:
    """nbgrader's post_convert_hook: issue what this one submission's grades earn."""
    from kit.keys import key_file_is_encrypted, load_key

    from .config import load_course_config
    from .course import released_ids
    from .issuing import issue_course

    course = learner = None
    try:
        course, learner, assignment_id = _submission(notebooks)
        if assignment_id not in released_ids(course):
            return  # not a credkit assessment: nothing to issue
        settings = load_course_config(course)
        passphrase = os.environ.get("CREDKIT_KEY_PASSPHRASE")
        if key_file_is_encrypted(settings.key_file) and not passphrase:
            raise RuntimeError(f"{settings.key_file} is encrypted and CREDKIT_KEY_PASSPHRASE is not set")
        key = load_key(settings.key_file, passphrase=passphrase.encode() if passphrase else None)
        report = issue_course(course, key, assignments=[assignment_id], learners=[learner])
        for item in report.issued:
            log.warning("credkit: issued %s to %s (%s)", item.name, item.learner, item.path)
        for _, who, name in report.held_back:
            log.warning("credkit: %s: %s waits for manual grading", who, name)
        if report.unsandboxed:
            raise RuntimeError("the grades were not produced in the sandbox; add sandbox_autograde(c) to nbgrader_config.py")
    except Exception as exc:  # nbgrader would swallow it: make it loud and durable instead
        message = f"credkit: ISSUING FAILED for learner {learner or '?'} on {assignment}: {exc}"
        _failures.append(message)
        log.error(message)
        print(message, file=sys.stderr, flush=True)
        if course is not None:
            failures = course / "credkit" / "issue-failures.log"
            failures.parent.mkdir(parents=True, exist_ok=True)
            with open(failures, "a", encoding="utf-8") as handle:
                handle.write(f"{datetime.now(timezone.utc).isoformat()} {message}\n{traceback.format_exc()}\n")
    if _failures and _end_of_run(student, assignment, notebooks):
        lines = list(_failures)
        _failures.clear()
        where = f"; details in {course / 'credkit' / 'issue-failures.log'}" if course is not None else ""
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise SystemExit(f"{lines[0]}{more}{where}")


def _end_of_run(student: str, assignment: str, notebooks: list[str]) -> bool:
    """True for the last submission nbgrader converts in this run (or the only one)."""
    if not any(ch in student for ch in "*?["):
        return True
    try:
        course, _, _ = _submission(notebooks)
    except ValueError:
        return True
    this = Path(notebooks[0]).resolve().parent
    batch = sorted({p.resolve().parent for p in (course / "submitted").glob(f"{student}/{assignment}/*.ipynb")},
                   key=str)
    return not batch or batch[-1] == this
