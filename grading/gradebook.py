"""One SQLAlchemy engine per gradebook URL for the length of a ``credkit grade`` batch.

nbgrader opens a new ``Gradebook`` about a dozen times per submission (``init_assignment``,
``OverwriteCells``, ``SaveAutoGrades``, …), and each one creates a new SQLAlchemy engine. A new engine
starts with an empty compiled-statement cache, so every query was compiled again for every
submission: the largest part of the trusted coordinator's cost. Inside :func:`shared_gradebook_engines`
those Gradebooks share one engine per URL. The SQL, the database and the transactions are the same
(each Gradebook keeps its own session, and its ``close`` still disposes of the pool's idle
connections); only the compiled statements are reused.

A Gradebook that creates a new database stamps it with nbgrader's alembic head, which
``nbgrader.api.get_alembic_version`` finds by running ``alembic heads`` in a second Python (1.4 s
here, and only with the venv's bin folder on PATH). Inside :func:`new_gradebooks_stamped_in_process`
the same head is read from the same migration scripts in process.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nbgrader.api
import sqlalchemy
from sqlalchemy.engine import Engine

from .swap import swapped

from kit.errors import GradingError

__all__ = ["shared_gradebook_engines", "gradebook_errors", "new_gradebooks_stamped_in_process"]


@contextmanager
def gradebook_errors(db_url: str) -> Iterator[None]:
    """Turn a damaged or unreadable gradebook (not a database, malformed, locked) into one line naming it."""
    try:
        yield
    except sqlalchemy.exc.SQLAlchemyError as exc:
        why = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        where = db_url.removeprefix("sqlite:///")
        raise GradingError(f"{where}: the gradebook cannot be used ({why}); restore it from a backup or fix its database") from None


@contextmanager
def shared_gradebook_engines() -> Iterator[None]:
    """Make nbgrader's ``Gradebook`` reuse one engine per (URL, options) until the block ends.

    Only for the trusted coordinator's main thread: it patches ``nbgrader.api`` for the process.
    """
    engines: dict[tuple[str, tuple[tuple[str, Any], ...]], Engine] = {}

    def create_engine(url: str, **options: Any) -> Engine:
        key = (str(url), tuple(sorted(options.items())))
        if key not in engines:
            engines[key] = sqlalchemy.create_engine(url, **options)
        return engines[key]

    try:
        with swapped(nbgrader.api, "create_engine", create_engine), warnings.catch_warnings():
            # nbgrader 0.9.6 under SQLAlchemy 2 builds a submission's rows before it adds them to
            # its session, and the autoflush in between warns three times per submission that
            # the cascade "will not proceed": harmless (nbgrader adds them itself next), and
            # pages of it buried the batch's own lines.
            warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session",
                                    category=sqlalchemy.exc.SAWarning)
            yield
    finally:
        for engine in engines.values():
            engine.dispose()


def _alembic_head() -> str:
    """nbgrader's alembic head, as ``alembic heads`` prints it for ``nbgrader.dbutil.ALEMBIC_DIR``."""
    import nbgrader.dbutil
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(nbgrader.dbutil.ALEMBIC_DIR).get_current_head()
    if head is None:  # no migration scripts: nbgrader's own install is broken
        raise GradingError(f"{nbgrader.dbutil.ALEMBIC_DIR}: nbgrader's gradebook migrations are missing; reinstall nbgrader")
    return head


@contextmanager
def new_gradebooks_stamped_in_process() -> Iterator[None]:
    """Make a ``Gradebook`` that creates a new database stamp it without running ``alembic``.

    Only for credkit's own commands (release, the grading coordinator): it patches ``nbgrader.api``
    for the process, so stock nbgrader run elsewhere is untouched.
    """
    with swapped(nbgrader.api, "get_alembic_version", _alembic_head):
        yield
