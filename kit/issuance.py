"""Issue awards as signed credentials: status slot → sign → ledger → wallet, idempotently.

Crash model: the process may be killed at any point (not the power cut). The order of the steps
makes every rerun converge:

1. sign (nothing recorded yet: a crash here loses only work, and the rerun signs afresh);
2. record the batch in the ledger in one transaction (the award key is unique, so it is recorded
   once or not at all);
3. deliver each recorded credential to the learner's wallet atomically (a rerun first re-delivers
   every recorded credential whose wallet file is missing).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path
from typing import Any

from kit.credentials import Award, IssuerProfile, build_credential, format_datetime
from kit.didweb import check_did_web, verification_method_id
from kit.errors import CredkitError
from kit.fileio import fault_point, write_atomic
from kit.keys import IssuerKey
from kit.ledger import IssuedRecord, Ledger
from kit.proofs import OPEN_BADGE_SUITE_RULE, RDFC, sign
from kit.status import (
    DEFAULT_LIST_TTL, DEFAULT_LIST_VALIDITY, MIN_ENTRIES, PURPOSES, StatusList, status_entry, status_list_credential,
)
from kit.wallet_folders import LEARNER_ID_FILE, wallet_folder

__all__ = ["AwardRequest", "Issued", "IssueResult", "CredentialIssuer", "StatusPublisher", "wallet_file", "IssuanceError", "issuer_identifier"]

class IssuanceError(CredkitError):
    """An award cannot be issued or delivered (bad learner id, unwritable wallet, …)."""


@dataclass(frozen=True)
class AwardRequest:
    """An award to issue: ``award_key`` makes it unique (course/learner/achievement)."""

    award_key: str
    course: str
    learner: str
    award: Award
    grades: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Issued:
    """What a run issued, without the documents (a cohort's credentials stay on disk, not in memory)."""

    id: str
    learner: str
    achievement_id: str
    name: str
    path: Path


@dataclass
class IssueResult:
    issued: list[Issued] = field(default_factory=list)
    already_issued: int = 0
    # (learner, one-line reason): recorded in the ledger but not delivered; the next run re-delivers.
    undelivered: list[tuple[str, str]] = field(default_factory=list)


def wallet_file(wallet_root: Path, learner: str, credential_id: str) -> Path:
    """``<wallet_root>/<learner's folder>/<uuid>.json``, the folder named by :mod:`kit.wallet_folders`."""
    try:
        folder = wallet_folder(wallet_root, learner)
    except ValueError as exc:
        raise IssuanceError(f"learner id {learner!r}: {exc}") from None
    return folder / f"{credential_id.removeprefix('urn:uuid:')}.json"


def _batches(items: Iterable[AwardRequest], size: int) -> Iterator[list[AwardRequest]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class CredentialIssuer:
    """The trusted issuing step of a course: holds the key, the ledger and the delivery folders."""

    def __init__(
        self,
        *,
        key: IssuerKey,
        profile: IssuerProfile,
        ledger: Ledger,
        wallet_root: Path,
        status_dir: Path,
        status_base_url: str,
        status_purpose: str = "revocation",
        cryptosuite: str = RDFC,
        batch_size: int = 200,
        issuer_did: str | None = None,
    ) -> None:
        if status_purpose not in PURPOSES:
            raise IssuanceError(f"status purpose must be one of {', '.join(PURPOSES)}")
        if cryptosuite != RDFC:  # every credential issued here is an OpenBadgeCredential
            raise IssuanceError(f"cryptosuite {cryptosuite}: {OPEN_BADGE_SUITE_RULE}")
        self.key, self.profile, self.ledger = key, profile, ledger
        self.issuer_did = issuer_identifier(key, issuer_did)
        self.wallet_root, self.status_dir = Path(wallet_root), Path(status_dir)
        self.status_base_url = status_base_url.rstrip("/")
        self.status_purpose, self.cryptosuite, self.batch_size = status_purpose, cryptosuite, batch_size
        self._list_url: str | None = None
        self._taken: set[int] = set()
        self.status = StatusPublisher(
            key=key, ledger=ledger, status_dir=self.status_dir, wallet_root=self.wallet_root, cryptosuite=cryptosuite,
            issuer_did=self.issuer_did,
        )

    # --- issuing ------------------------------------------------------------------------------

    def issue(self, requests: Iterable[AwardRequest], *, progress: Callable[[int], None] | None = None) -> IssueResult:
        """Issue every request not yet in the ledger; deliver; return what happened."""
        result = IssueResult()
        for batch in _batches(requests, self.batch_size):
            known = self.ledger.award_keys(r.award_key for r in batch)
            fresh = [r for r in batch if r.award_key not in known]
            result.already_issued += len(batch) - len(fresh)
            records = [self._sign(request) for request in _unique(fresh)]
            fault_point("after-sign")
            self.ledger.record(records)
            fault_point("after-commit")
            for record in records:
                # One learner's unwritable wallet must not stop the others' delivery: the
                # credential is in the ledger, so the next run's redeliver_missing retries it.
                try:
                    path = self.deliver(record)
                except IssuanceError as exc:
                    result.undelivered.append((record.learner, exc.diagnostics()))
                    path = wallet_file(self.wallet_root, record.learner, record.id)
                result.issued.append(Issued(record.id, record.learner, record.achievement_id, record.name, path))
            if progress is not None:
                progress(len(batch))
        return result

    def _sign(self, request: AwardRequest) -> IssuedRecord:
        list_url, index = self._allocate_slot()
        award = dataclasses.replace(request.award, credential_status=status_entry(list_url, index, self.status_purpose))
        document = sign(
            build_credential(award, self.profile, self.issuer_did), self.key, cryptosuite=self.cryptosuite,
            verification_method=verification_method_id(self.issuer_did, self.key),
        )
        return IssuedRecord(
            id=award.credential_id, award_key=request.award_key, course=request.course, learner=request.learner,
            achievement_id=award.achievement.id, name=award.achievement.name, status_list=list_url,
            status_index=index, state="active", issued_at=datetime.now(timezone.utc), grades=request.grades,
            document=json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        )

    def _allocate_slot(self) -> tuple[str, int]:
        """A random unused index on the current list, opening the next list when one fills up."""
        if self._list_url is None:
            lists = [url for url, purpose, _ in self.ledger.status_lists() if purpose == self.status_purpose]
            self._list_url = lists[-1] if lists else self._new_list(1)
            self._taken = self.ledger.taken_indexes(self._list_url)
        # Keep lists at most half full: random indexes stay cheap to find and say nothing.
        if len(self._taken) >= MIN_ENTRIES // 2:
            number = int(self._list_url.rsplit("-", 1)[1]) + 1
            self._list_url, self._taken = self._new_list(number), set()
        index = _random_free(self._taken)
        self._taken.add(index)
        return self._list_url, index

    def _new_list(self, number: int) -> str:
        url = f"{self.status_base_url}/{self.status_purpose}-{number}"
        self.ledger.ensure_status_list(url, self.status_purpose, MIN_ENTRIES)
        return url

    # --- delivery -----------------------------------------------------------------------------

    def deliver(self, record: IssuedRecord) -> Path:
        """Write the credential into the learner's wallet (atomically; unchanged files are left)."""
        path = wallet_file(self.wallet_root, record.learner, record.id)
        try:
            _make_wallet_folder(path.parent, record.learner)
            if not (path.exists() and path.read_text(encoding="utf-8") == record.document):
                write_atomic(path, record.document)
        except OSError as exc:
            raise IssuanceError(f"{path}: cannot deliver ({exc.strerror or exc.__class__.__name__})") from None
        return path

    def redeliver_missing(self, *, course: str | None = None, failures: list[tuple[str, str]] | None = None) -> int:
        """Deliver every recorded credential whose wallet file is missing (after a crash); count them.

        A learner whose wallet cannot be written is added to ``failures`` (learner, reason) and
        skipped, so the others are still delivered; without ``failures`` the first one raises.
        """
        count = 0
        for record in self.ledger.credentials(course=course):
            path = wallet_file(self.wallet_root, record.learner, record.id)
            if not path.exists():
                try:
                    self.deliver(record)
                except IssuanceError as exc:
                    if failures is None:
                        raise
                    failures.append((record.learner, exc.diagnostics()))
                    continue
                count += 1
            _remove_stale_temp_files(path.parent)
        return count

    # --- status -------------------------------------------------------------------------------

    def publish_status_lists(self, *, now: datetime | None = None) -> list[Path]:
        return self.status.publish(now=now)

    def change_state(self, credential_id: str, action: str, reason: str) -> IssuedRecord:
        return self.status.change_state(credential_id, action, reason)


class StatusPublisher:
    """Revocation and suspension: the ledger's states, published as signed status lists."""

    def __init__(
        self,
        *,
        key: IssuerKey,
        ledger: Ledger,
        status_dir: Path,
        wallet_root: Path | None = None,
        cryptosuite: str = RDFC,
        issuer_did: str | None = None,
        list_validity: timedelta = DEFAULT_LIST_VALIDITY,
        list_ttl: timedelta = DEFAULT_LIST_TTL,
    ) -> None:
        self.key, self.ledger, self.status_dir, self.cryptosuite = key, ledger, Path(status_dir), cryptosuite
        self.issuer_did = issuer_identifier(key, issuer_did)
        self.list_validity, self.list_ttl = list_validity, list_ttl
        # Local wallets get a copy of every list under <wallet>/status/, so a learner's server and
        # an employer handed the wallet can check revocation offline.
        self.wallet_root = Path(wallet_root) if wallet_root is not None else None
        self.undelivered: list[tuple[str, str]] = []  # wallets whose copy of a list could not be written

    def publish(self, *, now: datetime | None = None) -> list[Path]:
        """Sign every status list from the ledger's states and write it to the status folder."""
        now = now or datetime.now(timezone.utc)
        try:
            self.status_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IssuanceError(f"{self.status_dir}: cannot create the status folder ({exc.strerror or exc.__class__.__name__})") from None
        written = []
        for url, purpose, size in self.ledger.status_lists():
            bits = StatusList.new(size)
            for index in self.ledger.flagged_indexes(url):
                bits.set(index, True)
            unsigned = status_list_credential(
                url, purpose, bits, self.issuer_did, now, valid_until=now + self.list_validity, ttl=self.list_ttl
            )
            document = sign(unsigned, self.key, cryptosuite=self.cryptosuite, verification_method=verification_method_id(self.issuer_did, self.key))
            name, text = f"{url.rsplit('/', 1)[1]}.json", json.dumps(document, indent=2) + "\n"
            try:
                write_atomic(self.status_dir / name, text)
            except OSError as exc:
                raise IssuanceError(
                    f"{self.status_dir / name}: cannot publish the status list ({exc.strerror or exc.__class__.__name__}); "
                    "the ledger is up to date, so the next credkit issue publishes it"
                ) from None
            written.append(self.status_dir / name)
            if self.wallet_root is not None:
                for learner in self.ledger.learners_on_list(url):
                    folder = wallet_file(self.wallet_root, learner, "x").parent / "status"
                    try:
                        _make_wallet_folder(folder.parent, learner)
                        folder.mkdir(exist_ok=True)
                        write_atomic(folder / name, text)
                    except OSError as exc:
                        # A wallet's copy is a convenience: one unwritable wallet must not stop
                        # the others (the published list in the status folder is what counts).
                        self.undelivered.append((learner, f"{folder / name}: cannot write ({exc.strerror or exc.__class__.__name__})"))
        return written

    def notices(self, list_url: str) -> dict[str, Any]:
        """The date and reason of each flagged entry on a list, as published next to it (see kit.status.notices_url)."""
        entries: dict[str, dict[str, str]] = {}
        for record in self.ledger.flagged_records(list_url):
            events = [e for e in self.ledger.events(record.id) if e[0] in ("revoke", "suspend")]
            if events:
                action, reason, at = events[-1]
                entries[str(record.status_index)] = {
                    "state": record.state, "date": format_datetime(at), "reason": reason,
                }
        return {"statusListCredential": list_url, "entries": entries}

    def change_state(self, credential_id: str, action: str, reason: str) -> IssuedRecord:
        """Revoke, suspend or unsuspend a credential, then republish the status lists."""
        current = self.ledger.get(credential_id)
        if (action, current.state) in (("revoke", "revoked"), ("suspend", "suspended")):
            # Already recorded (an earlier try may have failed to publish): publish again, so the
            # change is retryable and never stuck in the ledger only.
            self.publish()
            return current
        if current.state == "revoked":
            raise IssuanceError(f"credential {credential_id} is revoked; revocation is final")
        entry = json.loads(current.document).get("credentialStatus", {})
        if action in ("suspend", "unsuspend") and entry.get("statusPurpose") != "suspension":
            raise IssuanceError(
                f"credential {credential_id} sits on a {entry.get('statusPurpose')} list, so it can be revoked but not "
                "suspended (the strict OB schema allows one status entry; set c.Credkit.status_purpose = 'suspension' "
                "for courses that suspend)"
            )
        if action == "revoke" and entry.get("statusPurpose") != "revocation":
            raise IssuanceError(f"credential {credential_id} sits on a suspension list; suspend it instead")
        record = self.ledger.change_state(credential_id, action, reason)
        self.publish()
        return record


def issuer_identifier(key: IssuerKey, issuer_did: str | None) -> str:
    """The issuer ``id`` credentials carry: the configured did:web, else the key's own did:key."""
    if not issuer_did or issuer_did == key.did:
        return key.did
    try:
        return check_did_web(issuer_did)
    except ValueError as exc:
        raise IssuanceError(f"issuer DID: {exc} (use did:web:<host>[:<path>], or leave it unset for the key's did:key)") from None


def _random_free(taken: set[int]) -> int:
    while True:
        index = secrets.randbelow(MIN_ENTRIES)
        if index not in taken:
            return index


def _unique(requests: list[AwardRequest]) -> list[AwardRequest]:
    seen: dict[str, AwardRequest] = {}
    for request in requests:
        seen.setdefault(request.award_key, request)
    return list(seen.values())


def _make_wallet_folder(folder: Path, learner: str) -> None:
    """Create a learner's wallet folder; a hashed name also records the id, so the name decodes."""
    folder.mkdir(parents=True, exist_ok=True)
    if folder.name.startswith("~~") and not (folder / LEARNER_ID_FILE).exists():
        write_atomic(folder / LEARNER_ID_FILE, learner)


def _remove_stale_temp_files(folder: Path) -> None:
    """Temp files a killed writer left behind (``.<name>.<random>.tmp``)."""
    if folder.is_dir():
        for stale in folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
