"""Where a JupyterHub course releases credentials in nbgrader's exchange, and where a learner finds them.

``<exchange>/<course>/credentials/<drop>/<uuid>.json`` for one submission's credentials, where
``<drop>`` is nbgrader's ``notebook_hash(secret=<submission_secret.txt>, notebook_id=CREDENTIALS_DROP_ID)``:
only the learner's server (nbgrader's submission cache) and the course (the collected submission)
hold the secret, so nobody can name another learner's drop -- the scheme nbgrader uses for
feedback. Status lists are public: ``<exchange>/<course>/credentials/status/<name>.json``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["CREDENTIALS_DROP_ID", "credential_drop_name", "drop_folder", "status_folder"]

CREDENTIALS_DROP_ID = "credkit-credentials"


def credential_drop_name(submission_secret: str) -> str:
    """The drop folder's name for one submission (nbgrader's notebook_hash with a secret)."""
    md5 = hashlib.md5(usedforsecurity=False)  # nbgrader's hash: a name, not a security boundary by itself
    md5.update(submission_secret.encode("utf-8"))
    md5.update(CREDENTIALS_DROP_ID.encode("utf-8"))
    return md5.hexdigest()


def drop_folder(exchange_root: Path, course: str, submission_secret: str) -> Path:
    return Path(exchange_root) / course / "credentials" / credential_drop_name(submission_secret)


def status_folder(exchange_root: Path, course: str) -> Path:
    return Path(exchange_root) / course / "credentials" / "status"
