"""Verify a credential offline: every check reported one by one.

Checks, in order: ``format`` (a VC 2.0 credential), ``proof`` (cryptosuite, purpose, signature,
did:key resolved offline), ``issuer`` (issuer id = the verification method's controller),
``validity`` (validFrom / validUntil against now), ``schema`` (strict OB 3.0 JSON schema for Open
Badges), ``recipient`` (only when asked) and ``status`` (only when the credential has a
``credentialStatus``; handlers register in :data:`STATUS_CHECKERS`).

:func:`verify_credential` returns a :class:`VerificationReport` for tables and JSON;
:func:`verify` raises :class:`VerificationError` for the first failed check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kit.credentials import Credential, identity_hash, validate_open_badge
from kit.errors import CredkitError, VerificationError
from kit.proofs import verify_proof

__all__ = ["CheckResult", "VerificationReport", "verify_credential", "verify", "STATUS_CHECKERS", "StatusOutcome"]


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; ``passed`` is None when the check did not apply."""

    name: str
    passed: bool | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "passed": self.passed, "message": self.message}


@dataclass(frozen=True)
class StatusOutcome:
    """What a status checker found: ``revoked`` / ``suspended`` / ``active``, and why."""

    state: str
    message: str


# credentialStatus type -> checker(credential, status entry, status lists by URL, now) -> outcome.
# A checker raises VerificationError when the status cannot be established.
StatusChecker = Callable[[Credential, dict[str, Any], dict[str, dict[str, Any]], datetime], StatusOutcome]
STATUS_CHECKERS: dict[str, StatusChecker] = {}

_FAILURE_STATUS = {"format": "invalid", "proof": "invalid", "issuer": "invalid", "schema": "invalid", "recipient": "invalid"}


@dataclass
class VerificationReport:
    """Every check's outcome for one credential, and the resulting status."""

    source: str
    checks: list[CheckResult] = field(default_factory=list)
    credential: Credential | None = None
    status_state: str | None = None

    @property
    def verified(self) -> bool:
        return all(check.passed is not False for check in self.checks) and self.status_state in (None, "active")

    @property
    def status(self) -> str:
        """One of verified, invalid, revoked, suspended, expired, not-yet-valid."""
        failed = {check.name for check in self.checks if check.passed is False}
        if failed & set(_FAILURE_STATUS) or "status" in failed and self.status_state is None:
            return "invalid"
        if self.status_state in ("revoked", "suspended"):
            return self.status_state
        for check in self.checks:
            if check.name == "validity" and check.passed is False:
                return "expired" if "expired" in check.message else "not-yet-valid"
        return "verified"

    @property
    def first_failure(self) -> CheckResult | None:
        return next((check for check in self.checks if check.passed is False), None)

    def add(self, name: str, passed: bool | None, message: str) -> None:
        self.checks.append(CheckResult(name, passed, message))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.source,
            "verified": self.verified,
            "status": self.status,
            "checks": [check.to_json() for check in self.checks],
        }
        if self.credential is not None:
            out["id"] = self.credential.id
            out["name"] = self.credential.name
            out["issuer"] = self.credential.issuer_id
        return out

    def raise_for_failure(self) -> None:
        """Raise VerificationError for the first failed check (or the revocation), if any."""
        failure = self.first_failure
        if failure is not None:
            raise VerificationError(f"{self.source}: {failure.name}: {failure.message}", check=failure.name)
        if self.status_state not in (None, "active"):
            raise VerificationError(f"{self.source}: status: the credential is {self.status_state}", check="status")


def _proof_as_array(document: dict[str, Any]) -> dict[str, Any]:
    """JSON-LD reads a single proof object as a set of one; the strict schema wants the array form.

    credkit issues the array form; other issuers (Digital Bazaar's libraries among them) write the
    object form, which is the same credential.
    """
    if isinstance(document.get("proof"), dict):
        return {**document, "proof": [document["proof"]]}
    return document


def _check_recipient(credential: Credential, recipient: str) -> tuple[bool, str]:
    subject = credential.document.get("credentialSubject")
    identifiers = subject.get("identifier", []) if isinstance(subject, dict) else []
    wanted = recipient.strip().lower()
    for entry in identifiers if isinstance(identifiers, list) else [identifiers]:
        if not isinstance(entry, dict) or entry.get("identityType") != "emailAddress":
            continue
        stored = entry.get("identityHash")
        if entry.get("hashed"):
            salt = entry.get("salt") or ""
            if stored in (identity_hash(recipient, salt), identity_hash(wanted, salt)):
                return True, f"issued to {recipient}"
        elif isinstance(stored, str) and stored.strip().lower() == wanted:
            return True, f"issued to {recipient}"
    return False, f"not issued to {recipient}"


def verify_credential(
    document: Any,
    *,
    source: str = "credential",
    recipient: str | None = None,
    status_lists: dict[str, dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """Run every check on ``document`` and report each; never raises for a bad credential."""
    report = VerificationReport(source=source)
    now = now or datetime.now(timezone.utc)
    try:
        credential = Credential.from_document(document, source=source)
    except CredkitError as exc:
        report.add("format", False, exc.diagnostics().removeprefix(f"{source}: "))
        return report
    report.credential = credential
    report.add("format", True, "a VC 2.0 credential")

    controller: str | None = None
    try:
        proof = verify_proof(credential.document)
        controller = proof.controller
        report.add("proof", True, f"{proof.cryptosuite} signature by {proof.verification_method}")
    except VerificationError as exc:
        report.add("proof", False, str(exc))

    if controller is None:
        report.add("issuer", False, "no verified signature, so no issuer can be established")
    elif controller != credential.issuer_id:
        report.add("issuer", False, f"issuer {credential.issuer_id} is not the signing key's controller {controller}")
    else:
        report.add("issuer", True, f"issuer {controller} controls the signing key")

    valid_from, valid_until = credential.valid_from, credential.valid_until
    if valid_from is not None and now < valid_from:
        report.add("validity", False, f"not yet valid: validFrom is {credential.document['validFrom']}")
    elif valid_until is not None and now >= valid_until:
        report.add("validity", False, f"expired: validUntil was {credential.document['validUntil']}")
    else:
        until = f" until {credential.document['validUntil']}" if valid_until else ""
        report.add("validity", True, f"valid{until}")

    if credential.is_open_badge:
        try:
            validate_open_badge(_proof_as_array(credential.document))
            report.add("schema", True, "matches the Open Badges 3.0 JSON schema")
        except CredkitError as exc:
            report.add("schema", False, exc.diagnostics().removeprefix("schema: "))
    else:
        report.add("schema", None, "not an Open Badge; no schema applies")

    if recipient is not None:
        ok, message = _check_recipient(credential, recipient)
        report.add("recipient", ok, message)

    entries = credential.document.get("credentialStatus")
    if entries is not None:
        _check_status(report, credential, entries, status_lists or {}, now)
    return report


def _check_status(
    report: VerificationReport,
    credential: Credential,
    entries: Any,
    status_lists: dict[str, dict[str, Any]],
    now: datetime,
) -> None:
    state, messages = "active", []
    for entry in entries if isinstance(entries, list) else [entries]:
        entry_type = entry.get("type") if isinstance(entry, dict) else None
        checker = STATUS_CHECKERS.get(str(entry_type))
        if checker is None:
            report.add("status", False, f"cannot check credentialStatus of type {entry_type!r}")
            return
        try:
            outcome = checker(credential, entry, status_lists, now)
        except VerificationError as exc:
            report.add("status", False, str(exc))
            return
        messages.append(outcome.message)
        if outcome.state != "active" and state != "revoked":
            state = outcome.state
    report.status_state = state
    report.add("status", state == "active", "; ".join(messages))


def verify(document: Any, **options: Any) -> Credential:
    """Verify and return the parsed credential; raises VerificationError naming the failed check."""
    report = verify_credential(document, **options)
    report.raise_for_failure()
    assert report.credential is not None
    return report.credential


# Register the status-list checker (kit.status imports this module, so it comes last).
import kit.status  # noqa: E402,F401
