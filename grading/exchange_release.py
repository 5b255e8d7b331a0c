"""Release issued credentials through nbgrader's exchange, for JupyterHub courses.

With ``c.Credkit.delivery = "exchange"``, after issuing, every credential of the course is copied to
``<exchange>/<course>/credentials/<drop>/<uuid>.json`` (layout in :mod:`kit.exchange`): ``<drop>`` is
derived from the secret of the learner's submission, which only that learner's server and the
course hold, and the ``credentials`` folder cannot be listed by learners (mode 0711) — the scheme
nbgrader uses for feedback. Status lists go to the public ``credentials/status/``. The learner's
Jupyter server fetches from there into its own wallet. Copies are atomic and a rerun fills in
whatever is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kit.exchange import drop_folder, status_folder
from kit.fileio import write_atomic
from kit.ledger import IssuedRecord, Ledger

from .config import CourseSettings

__all__ = ["exchange_root", "release_to_exchange"]


def exchange_root(settings: CourseSettings) -> Path:
    root = settings.config.get("Exchange", {}).get("root")
    return Path(str(root)) if root else Path("/srv/nbgrader/exchange")


def _secret(settings: CourseSettings, learner: str, assessment: str | None) -> str | None:
    """The submission secret of the learner's submission of ``assessment`` (or of any, for stacks)."""
    submitted = settings.course_root / "submitted" / learner
    candidates = [submitted / assessment] if assessment else sorted(submitted.glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in candidates:
        secret = folder / "submission_secret.txt"
        if secret.is_file():
            return secret.read_text(encoding="utf-8")
    return None


def release_to_exchange(settings: CourseSettings, ledger: Ledger) -> tuple[int, list[str]]:
    """Copy every credential of the course to its learner's drop; returns (copied, learners without a secret)."""
    root = exchange_root(settings)
    course_folder = root / settings.course_id / "credentials"
    course_folder.mkdir(parents=True, exist_ok=True)
    os.chmod(course_folder, 0o711)  # learners may enter a drop they can name, never list the others
    copied, missing = 0, []
    for record in ledger.credentials(course=settings.course_id):
        assessment = record.grades.get("assessment") if isinstance(record.grades, dict) else None
        secret = _secret(settings, record.learner, assessment)
        if secret is None:
            missing.append(record.learner)
            continue
        copied += _copy(record, drop_folder(root, settings.course_id, secret))
    status = status_folder(root, settings.course_id)
    status.mkdir(parents=True, exist_ok=True)
    os.chmod(status, 0o755)
    for source in sorted(settings.status_dir.glob("*.json")):
        target = status / source.name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            write_atomic(target, source.read_bytes())
    return copied, sorted(set(missing))


def _copy(record: IssuedRecord, drop: Path) -> int:
    drop.mkdir(parents=True, exist_ok=True)
    os.chmod(drop, 0o755)
    target = drop / f"{record.id.removeprefix('urn:uuid:')}.json"
    if target.exists() and target.read_text(encoding="utf-8") == record.document:
        return 0
    json.loads(record.document)  # the ledger holds exactly what was signed; never copy anything else
    write_atomic(target, record.document)
    return 1


