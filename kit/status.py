"""W3C Bitstring Status List v1.0: revocation and suspension lists, their entries, and the check.

A list is a signed ``BitstringStatusListCredential`` whose subject holds ``encodedList``: the
bitstring (index 0 = most significant bit of byte 0), gzipped, then multibase base64url without
padding (``u…``). Each credential carries a ``BitstringStatusListEntry`` pointing at one index.
"""

from __future__ import annotations

import base64
import gzip
import io
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kit.contexts import VC_V2
from kit.credentials import Credential, format_datetime
from kit.errors import VerificationError
from kit.sources import Sources, SourceUnavailable
from kit.verify import STATUS_CHECKERS, StatusOutcome

import contextvars

_STATUS_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("credkit_status_depth", default=0)
MAX_STATUS_CHAIN = 2

__all__ = [
    "MIN_ENTRIES", "PURPOSES", "StatusList", "status_entry", "status_list_credential", "check_status_entry",
    "notices_url", "DEFAULT_LIST_TTL", "DEFAULT_LIST_VALIDITY",
]

DEFAULT_LIST_TTL = timedelta(hours=1)  # how long verifiers may cache a list before fetching it again
DEFAULT_LIST_VALIDITY = timedelta(days=365)  # a list not republished within this stops vouching for anything

MIN_ENTRIES = 131_072  # the spec's minimum: enough that one index says nothing about a learner
PURPOSES = ("revocation", "suspension")
MAX_DECODED_BYTES = 16 * 1024 * 1024  # a gzip bomb in a list stops here


@dataclass
class StatusList:
    """A mutable bitstring of ``size`` entries, all clear when new."""

    bits: bytearray

    @classmethod
    def new(cls, size: int = MIN_ENTRIES) -> StatusList:
        if size < MIN_ENTRIES or size % 8:
            raise ValueError(f"a status list needs at least {MIN_ENTRIES} entries, in whole bytes")
        return cls(bytearray(size // 8))

    @property
    def size(self) -> int:
        return len(self.bits) * 8

    def get(self, index: int) -> bool:
        self._check(index)
        return bool(self.bits[index // 8] & (0x80 >> (index % 8)))

    def set(self, index: int, value: bool) -> None:
        self._check(index)
        mask = 0x80 >> (index % 8)
        if value:
            self.bits[index // 8] |= mask
        else:
            self.bits[index // 8] &= ~mask & 0xFF

    def _check(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError(f"status index {index} is outside the list (0..{self.size - 1})")

    def random_free_index(self, taken: set[int]) -> int:
        """A uniformly random index not in ``taken`` (indexes are never reused or sequential)."""
        if len(taken) >= self.size:
            raise ValueError("the status list is full")
        while True:
            index = secrets.randbelow(self.size)
            if index not in taken:
                return index

    def encode(self) -> str:
        """``encodedList``: gzip (mtime 0, so equal lists encode equally), base64url, no padding, ``u`` prefix."""
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
            handle.write(bytes(self.bits))
        return "u" + base64.urlsafe_b64encode(buffer.getvalue()).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, encoded: Any) -> StatusList:
        """Parse ``encodedList``; raises ValueError for anything malformed or oversized."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise ValueError("encodedList is not multibase base64url (it must start with 'u')")
        body = encoded[1:]
        try:
            compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(compressed, MAX_DECODED_BYTES + 1)
        except (ValueError, zlib.error) as exc:
            raise ValueError(f"encodedList does not decode ({exc.__class__.__name__})") from None
        if len(raw) > MAX_DECODED_BYTES:
            raise ValueError("encodedList expands beyond the size limit")
        if len(raw) * 8 < MIN_ENTRIES:
            raise ValueError(f"encodedList has {len(raw) * 8} entries, fewer than the required {MIN_ENTRIES}")
        return cls(bytearray(raw))


def status_entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    """The ``credentialStatus`` entry for a credential at ``index`` of the list at ``list_url``."""
    if purpose not in PURPOSES:
        raise ValueError(f"status purpose must be one of {PURPOSES}")
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def notices_url(list_url: str) -> str:
    """Where the issuer publishes the date and reason of each revocation or suspension on a list.

    Unsigned and informative only: the verdict comes from the signed list; this file only tells
    the employer when and why (it is served by the same host as the list).
    """
    return f"{list_url}.notices.json"


def status_list_credential(
    list_url: str,
    purpose: str,
    status_list: StatusList,
    issuer_id: str,
    valid_from: datetime,
    *,
    valid_until: datetime | None = None,
    ttl: timedelta | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` publishing ``status_list`` at ``list_url``.

    ``valid_until`` bounds how long the list vouches for anything (a verifier then reports the
    status as not checkable until it is republished); ``ttl`` tells verifiers how long to cache it.
    """
    document: dict[str, Any] = {
        "@context": [VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": format_datetime(valid_from),
    }
    if valid_until is not None:
        document["validUntil"] = format_datetime(valid_until)
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": status_list.encode(),
    }
    if ttl is not None:
        subject["ttl"] = int(ttl.total_seconds() * 1000)
    document["credentialSubject"] = subject
    return document


def check_status_entry(credential: Credential, entry: dict[str, Any], sources: Sources, now: datetime) -> StatusOutcome:
    """Look the credential up in its (verified, same-issuer, current) status list.

    Raises SourceUnavailable when the list cannot be obtained or no longer vouches (expired, its
    key unresolvable), VerificationError when it is malformed, forged or someone else's.
    """
    from kit.verify import verify_credential  # the list is itself a credential, checked the same way

    purpose = entry.get("statusPurpose")
    url = entry.get("statusListCredential")
    if purpose not in PURPOSES:
        raise VerificationError(f"unsupported statusPurpose {purpose!r}", check="status")
    if entry.get("statusSize", 1) not in (1, "1"):
        raise VerificationError("only 1-bit status entries are supported", check="status")
    try:
        index = int(entry.get("statusListIndex"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise VerificationError("statusListIndex is not an integer", check="status") from None
    if not isinstance(url, str) or not url:
        raise VerificationError("statusListCredential is missing", check="status")
    fetched = sources.status_list(url, now)
    # A status list may itself sit on a list, but a chain (or a list naming itself) must end:
    # verifying it recurses, and a hostile list would otherwise recurse until the stack runs out.
    depth = _STATUS_DEPTH.get()
    if depth >= MAX_STATUS_CHAIN:
        raise VerificationError(f"status list {url}: status lists refer to each other more than {MAX_STATUS_CHAIN} deep (a loop?)", check="status")
    token = _STATUS_DEPTH.set(depth + 1)
    try:
        report = verify_credential(fetched.document, source=url, sources=sources, now=now)
    finally:
        _STATUS_DEPTH.reset(token)
    unchecked = report.first_unchecked
    if report.first_failure is None and unchecked is not None and unchecked.name != "status":
        raise SourceUnavailable(f"status list {url}: {unchecked.name}: {unchecked.message}", check="status")
    validity = report.check("validity")
    if validity is not None and validity.passed is False and report.first_failure is validity:
        raise SourceUnavailable(f"status list {url} no longer vouches ({validity.message}): its issuer has to republish it", check="status")
    failure = report.first_failure
    if failure is not None:
        raise VerificationError(f"status list {url} does not verify ({failure.name}: {failure.message})", check="status")
    listed = report.credential
    assert listed is not None
    if listed.issuer_id != credential.issuer_id:
        raise VerificationError(f"status list {url} is issued by {listed.issuer_id}, not by the credential's issuer", check="status")
    if "BitstringStatusListCredential" not in listed.types or listed.id != url:
        raise VerificationError(f"{url} is not the BitstringStatusListCredential it claims to be", check="status")
    subject = listed.document.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("statusPurpose") != purpose:
        raise VerificationError(f"status list {url} is not a {purpose} list", check="status")
    try:
        bits = StatusList.decode(subject.get("encodedList"))
        flagged = bits.get(index)
    except (ValueError, IndexError) as exc:
        raise VerificationError(f"status list {url}: {exc}", check="status") from None
    where = f"({url}, {fetched.note()})"
    word = "revoked" if purpose == "revocation" else "suspended"
    if not flagged:
        return StatusOutcome("active", f"valid: not {word} {where}")
    return StatusOutcome(word, f"{word} by its issuer{_notice(sources, url, index, now)} {where}")


def _notice(sources: Sources, list_url: str, index: int, now: datetime) -> str:
    """`` on DATE: REASON`` from the issuer's published notices, or a note that none is known."""
    try:
        notices = sources.status_notices(notices_url(list_url), now)
    except SourceUnavailable:
        return " (date and reason not available)"
    entry = notices.get("entries", {}).get(str(index)) if isinstance(notices, dict) and isinstance(notices.get("entries"), dict) else None
    if not isinstance(entry, dict):
        return " (no reason published)"
    date, reason = entry.get("date"), entry.get("reason")
    out = f" on {date}" if isinstance(date, str) else ""
    return out + (f": {reason}" if isinstance(reason, str) and reason else "")


STATUS_CHECKERS["BitstringStatusListEntry"] = check_status_entry
