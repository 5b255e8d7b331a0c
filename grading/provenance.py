"""Provenance of grades: which notebooks were executed in the sandbox, and each submission's state.

A small SQLite file beside the gradebook (``credkit-provenance.sqlite``), written only by the trusted
process, one transaction per change (atomic). The issuing step reads it to refuse grades that were
not produced in the sandbox; ``credkit grade`` reads it to resume a stopped batch.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kit.errors import GradingError

__all__ = ["ProvenanceStore", "NotebookProvenance", "provenance_path"]

FILENAME = "credkit-provenance.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notebooks (
    assignment TEXT NOT NULL,
    student    TEXT NOT NULL,
    notebook   TEXT NOT NULL,
    sandboxed  INTEGER NOT NULL,
    engine     TEXT NOT NULL,
    scores     TEXT NOT NULL,
    graded_at  REAL NOT NULL,
    PRIMARY KEY (assignment, student, notebook)
);
CREATE TABLE IF NOT EXISTS submissions (
    assignment TEXT NOT NULL,
    student    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('grading', 'graded', 'failed')),
    reason     TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    PRIMARY KEY (assignment, student)
);
"""


def provenance_path(db_url: str, course_root: str) -> Path:
    """Beside the gradebook when it is a SQLite file, else in the course root."""
    if db_url.startswith("sqlite:///"):
        return Path(db_url[len("sqlite:///"):]).resolve().parent / FILENAME
    return Path(course_root).resolve() / FILENAME


@dataclass(frozen=True)
class NotebookProvenance:
    assignment: str
    student: str
    notebook: str
    sandboxed: bool
    engine: str
    scores: dict[str, float | None]
    graded_at: float


class ProvenanceStore:
    """The provenance table. Every write is its own committed transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise GradingError(f"{self.path}: cannot open the grading provenance table: {exc}") from exc
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ProvenanceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record_notebook(
        self, *, assignment: str, student: str, notebook: str, sandboxed: bool, engine: str,
        scores: Mapping[str, float | None],
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO notebooks VALUES (?, ?, ?, ?, ?, ?, ?)",
                (assignment, student, notebook, int(sandboxed), engine,
                 json.dumps(dict(scores), sort_keys=True), time.time()),
            )

    def set_status(self, assignment: str, student: str, status: str, reason: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?)",
                (assignment, student, status, reason, time.time()),
            )

    def status(self, assignment: str, student: str) -> tuple[str, str] | None:
        row = self._db.execute(
            "SELECT status, reason FROM submissions WHERE assignment = ? AND student = ?",
            (assignment, student),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def notebooks(self, assignment: str, student: str) -> list[NotebookProvenance]:
        rows = self._db.execute(
            "SELECT assignment, student, notebook, sandboxed, engine, scores, graded_at FROM notebooks"
            " WHERE assignment = ? AND student = ? ORDER BY notebook",
            (assignment, student),
        ).fetchall()
        return [
            NotebookProvenance(r[0], r[1], r[2], bool(r[3]), r[4], json.loads(r[5]), r[6]) for r in rows
        ]

    def is_sandboxed(self, assignment: str, student: str, gradebook_scores: Mapping[str, Mapping[str, float | None]]) -> bool:
        """True only if every notebook was executed in the sandbox and its recorded auto scores are
        still the gradebook's (a later unsandboxed ``nbgrader autograde`` would change or not record them).

        ``gradebook_scores`` maps notebook → grade_id → auto_score as read from the gradebook.
        """
        rows = {p.notebook: p for p in self.notebooks(assignment, student)}
        if not gradebook_scores or set(rows) != set(gradebook_scores):
            return False
        return all(
            rows[nb].sandboxed and rows[nb].scores == dict(scores)
            for nb, scores in gradebook_scores.items()
        )
