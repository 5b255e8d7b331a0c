"""The issuer's ledger: every credential issued, its status-list slot and state, and every change.

SQLAlchemy, so a course runs on SQLite (the default, a file beside the course) or PostgreSQL (a
URL). The ledger is trusted state: only the coordinator writes it, never a grading worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, make_url, ForeignKey, Integer, String, Text, UniqueConstraint, create_engine, event, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from kit.errors import CredkitError

__all__ = ["Ledger", "LedgerError", "IssuedRecord", "STATES"]

STATES = ("active", "revoked", "suspended")


class LedgerError(CredkitError):
    """The ledger cannot be opened or written, or a change to it is not allowed."""


class _Base(DeclarativeBase):
    pass


class _StatusListRow(_Base):
    __tablename__ = "status_lists"
    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _CredentialRow(_Base):
    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("status_list", "status_index", name="one_credential_per_status_slot"),)
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # What makes an award unique: re-running issuance finds it and issues nothing new.
    award_key: Mapped[str] = mapped_column(String(700), unique=True)
    course: Mapped[str] = mapped_column(String(200), index=True)
    learner: Mapped[str] = mapped_column(String(200), index=True)
    achievement_id: Mapped[str] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(500))
    status_list: Mapped[str] = mapped_column(ForeignKey("status_lists.url"))
    status_index: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="active")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    grades: Mapped[str] = mapped_column(Text)  # JSON: the grades the award came from
    document: Mapped[str] = mapped_column(Text)  # the signed credential, as delivered


class _EventRow(_Base):
    __tablename__ = "status_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class IssuedRecord:
    """One ledger row, as callers see it."""

    id: str
    award_key: str
    course: str
    learner: str
    achievement_id: str
    name: str
    status_list: str
    status_index: int
    state: str
    issued_at: datetime
    grades: dict[str, Any]
    document: str

    @classmethod
    def _from_row(cls, row: _CredentialRow) -> IssuedRecord:
        return cls(
            id=row.id, award_key=row.award_key, course=row.course, learner=row.learner,
            achievement_id=row.achievement_id, name=row.name, status_list=row.status_list,
            status_index=row.status_index, state=row.state, issued_at=_utc(row.issued_at),
            grades=json.loads(row.grades), document=row.document,
        )


class Ledger:
    """Open (and create if needed) the ledger at a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_engine(url, future=True)
            if self._engine.dialect.name == "sqlite":
                event.listen(self._engine, "connect", _sqlite_pragmas)
            _Base.metadata.create_all(self._engine)
        except (SQLAlchemyError, ImportError, OSError, ValueError) as exc:
            raise LedgerError(f"ledger {_redact(url)}: cannot open ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise LedgerError(f"ledger {_redact(self.url)}: refused a duplicate ({str(exc.orig).splitlines()[0]})") from None
        except SQLAlchemyError as exc:
            session.rollback()
            raise LedgerError(f"ledger {_redact(self.url)}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
        finally:
            session.close()

    # --- status lists -------------------------------------------------------------------------

    def ensure_status_list(self, url: str, purpose: str, size: int) -> None:
        with self._session() as session:
            if session.get(_StatusListRow, url) is None:
                session.add(_StatusListRow(url=url, purpose=purpose, size=size, created=datetime.now(timezone.utc)))

    def status_lists(self) -> list[tuple[str, str, int]]:
        with self._session() as session:
            return [(r.url, r.purpose, r.size) for r in session.scalars(select(_StatusListRow).order_by(_StatusListRow.url))]

    def taken_indexes(self, list_url: str) -> set[int]:
        with self._session() as session:
            return set(session.scalars(select(_CredentialRow.status_index).where(_CredentialRow.status_list == list_url)))

    def flagged_indexes(self, list_url: str) -> list[int]:
        """Indexes whose bit is set on the list: revoked or suspended credentials."""
        with self._session() as session:
            query = select(_CredentialRow.status_index).where(
                _CredentialRow.status_list == list_url, _CredentialRow.state != "active"
            )
            return list(session.scalars(query))

    def flagged_records(self, list_url: str) -> list[IssuedRecord]:
        """The revoked or suspended credentials on a list."""
        with self._session() as session:
            query = select(_CredentialRow).where(_CredentialRow.status_list == list_url, _CredentialRow.state != "active")
            return [IssuedRecord._from_row(row) for row in session.scalars(query)]

    def learners_on_list(self, list_url: str) -> list[str]:
        with self._session() as session:
            query = select(_CredentialRow.learner).where(_CredentialRow.status_list == list_url).distinct()
            return sorted(session.scalars(query))

    # --- credentials --------------------------------------------------------------------------

    def award_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` already have a credential."""
        wanted = list(keys)
        found: set[str] = set()
        with self._session() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(session.scalars(select(_CredentialRow.award_key).where(_CredentialRow.award_key.in_(chunk))))
        return found

    def record(self, records: Iterable[IssuedRecord]) -> None:
        """Insert issued credentials in one transaction: all of them are recorded, or none."""
        with self._session() as session:
            session.add_all(
                _CredentialRow(
                    id=r.id, award_key=r.award_key, course=r.course, learner=r.learner,
                    achievement_id=r.achievement_id, name=r.name, status_list=r.status_list,
                    status_index=r.status_index, state=r.state, issued_at=r.issued_at,
                    grades=json.dumps(r.grades, sort_keys=True), document=r.document,
                )
                for r in records
            )

    def get(self, credential_id: str) -> IssuedRecord:
        with self._session() as session:
            row = session.get(_CredentialRow, credential_id)
            if row is None:
                raise LedgerError(f"no credential {credential_id} in the ledger")
            return IssuedRecord._from_row(row)

    def credentials(self, *, course: str | None = None, learner: str | None = None) -> list[IssuedRecord]:
        with self._session() as session:
            query = select(_CredentialRow).order_by(_CredentialRow.issued_at, _CredentialRow.id)
            if course is not None:
                query = query.where(_CredentialRow.course == course)
            if learner is not None:
                query = query.where(_CredentialRow.learner == learner)
            return [IssuedRecord._from_row(row) for row in session.scalars(query)]

    def change_state(self, credential_id: str, action: str, reason: str) -> IssuedRecord:
        """Revoke, suspend or unsuspend; records the event. Revocation is final."""
        target = {"revoke": "revoked", "suspend": "suspended", "unsuspend": "active"}[action]
        with self._session() as session:
            row = session.get(_CredentialRow, credential_id)
            if row is None:
                raise LedgerError(f"no credential {credential_id} in the ledger")
            if row.state == "revoked":
                raise LedgerError(f"credential {credential_id} is revoked; revocation is final")
            if action == "unsuspend" and row.state != "suspended":
                raise LedgerError(f"credential {credential_id} is not suspended")
            row.state = target
            session.add(_EventRow(credential_id=credential_id, action=action, reason=reason, at=datetime.now(timezone.utc)))
            session.flush()
            return IssuedRecord._from_row(row)

    def events(self, credential_id: str) -> list[tuple[str, str, datetime]]:
        with self._session() as session:
            query = select(_EventRow).where(_EventRow.credential_id == credential_id).order_by(_EventRow.seq)
            return [(e.action, e.reason, _utc(e.at)) for e in session.scalars(query)]


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the ledger stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the learner UI, reports) never block issuing
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url
