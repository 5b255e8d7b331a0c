"""Verify a credential: every check reported one by one, each with a plain outcome.

Checks, in order: ``format`` (a VC 2.0 credential), ``proof`` (cryptosuite, purpose, signature;
the key from a did:key, or from the issuer's did:web DID document), ``issuer`` (who vouches for
the key: a domain for did:web, nobody for did:key; and issuer id = the key's controller),
``validity`` (validFrom / validUntil against now, with a small clock-skew allowance), ``schema``
(strict OB 3.0 JSON schema for Open Badges), ``recipient`` (only when asked) and ``status``
(handlers register in :data:`STATUS_CHECKERS`).

Every check passes, fails, does not apply, or *could not be made* (a DID document or status list
that cannot be obtained): the last is neither valid nor invalid, and makes the report
``unchecked``. Documents come from a :class:`kit.sources.Sources`; by default only the files given
(no network), so library callers stay offline unless they ask.

:func:`verify_credential` returns a :class:`VerificationReport` for tables and JSON;
:func:`verify` raises :class:`VerificationError` for the first failed check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from kit.credentials import Credential, identity_hash, validate_open_badge
from kit.didweb import KeyNotVouched, assertion_key, did_web_domain, did_web_url, is_did_web
from kit.errors import CredkitError, VerificationError
from kit.keys import resolve_did_key
from kit.proofs import verify_proof
from kit.sources import Sources, SourceUnavailable
from kit.trust import TrustRegistries

__all__ = [
    "CheckResult", "VerificationReport", "verify_credential", "verify", "STATUS_CHECKERS", "StatusOutcome", "CLOCK_SKEW",
]

CLOCK_SKEW = timedelta(minutes=5)  # clocks disagree a little; dates closer than this are not held against a credential


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``passed`` True/False, or None when it did not apply or ``unchecked``.

    ``caution`` marks a passed check the reader must still weigh (an issuer name nobody vouches for).
    """

    name: str
    passed: bool | None
    message: str
    unchecked: bool = False
    caution: bool = False

    @property
    def outcome(self) -> str:
        if self.unchecked:
            return "could-not-check"
        return {True: "passed", False: "failed", None: "not-applicable"}[self.passed]

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "passed": self.passed, "outcome": self.outcome, "message": self.message}


@dataclass(frozen=True)
class StatusOutcome:
    """What a status checker found: ``revoked`` / ``suspended`` / ``active``, and why."""

    state: str
    message: str


# credentialStatus type -> checker(credential, status entry, sources, now) -> outcome. A checker
# raises SourceUnavailable when the status cannot be established, VerificationError when it is bad.
StatusChecker = Callable[[Credential, dict[str, Any], Sources, datetime], StatusOutcome]
STATUS_CHECKERS: dict[str, StatusChecker] = {}

_FAILURE_STATUS = {"format", "proof", "issuer", "trust", "schema", "recipient"}


@dataclass
class VerificationReport:
    """Every check's outcome for one credential, the issuer identity established, and the status."""

    source: str
    checks: list[CheckResult] = field(default_factory=list)
    credential: Credential | None = None
    status_state: str | None = None
    issuer: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return (
            all(check.passed is not False and not check.unchecked for check in self.checks)
            and self.status_state in (None, "active")
        )

    @property
    def complete(self) -> bool:
        """Whether every check that applies could be made."""
        return not any(check.unchecked for check in self.checks)

    @property
    def status(self) -> str:
        """One of verified, invalid, revoked, suspended, expired, not-yet-valid, unchecked."""
        failed = {check.name for check in self.checks if check.passed is False}
        if failed & _FAILURE_STATUS or "status" in failed and self.status_state is None:
            return "invalid"
        if self.status_state in ("revoked", "suspended"):
            return self.status_state
        for check in self.checks:
            if check.name == "validity" and check.passed is False:
                return "expired" if "expired" in check.message else "not-yet-valid"
        if not self.complete:
            return "unchecked"
        return "verified"

    @property
    def first_failure(self) -> CheckResult | None:
        return next((check for check in self.checks if check.passed is False), None)

    @property
    def first_unchecked(self) -> CheckResult | None:
        return next((check for check in self.checks if check.unchecked), None)

    def check(self, name: str) -> CheckResult | None:
        return next((check for check in self.checks if check.name == name), None)

    def add(self, name: str, passed: bool | None, message: str, *, unchecked: bool = False, caution: bool = False) -> None:
        self.checks.append(CheckResult(name, passed, message, unchecked, caution))

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
            out["issuer"] = self.issuer
        return out

    def raise_for_failure(self) -> None:
        """Raise VerificationError for the first failed or unmade check (or the revocation), if any."""
        failure = self.first_failure or self.first_unchecked
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
    """Match an e-mail address (case-insensitive) or a system id (exact) against the hashed identifiers."""
    subject = credential.document.get("credentialSubject")
    identifiers = subject.get("identifier", []) if isinstance(subject, dict) else []
    given = recipient.strip()
    for entry in identifiers if isinstance(identifiers, list) else [identifiers]:
        if not isinstance(entry, dict):
            continue
        kind = entry.get("identityType")
        # the issuer lower-cases e-mail addresses before hashing; a system id is hashed as it is
        candidates = {given, given.lower()} if kind == "emailAddress" else {given}
        stored = entry.get("identityHash")
        if entry.get("hashed"):
            salt = entry.get("salt") or ""
            matched = any(stored == identity_hash(candidate, salt) for candidate in candidates)
        else:
            matched = isinstance(stored, str) and (stored.strip() in candidates or kind == "emailAddress" and stored.strip().lower() == given.lower())
        if matched:
            what = "e-mail address" if kind == "emailAddress" else ("id" if kind == "systemId" else str(kind))
            return True, f"issued to {recipient} (the {what} in the credential)"
    return False, f"not issued to {recipient}"


def _claimed_name(credential: Credential) -> str:
    issuer = credential.document.get("issuer")
    name = issuer.get("name") if isinstance(issuer, dict) else None
    return name if isinstance(name, str) and name else "(no name)"


class _Resolver:
    """Finds the public key of a verification method, remembering which DID document vouched for it."""

    def __init__(self, sources: Sources, now: datetime) -> None:
        self.sources, self.now = sources, now
        self.did_document_note: str | None = None

    def __call__(self, method: str) -> tuple[str, bytes]:
        if method.startswith("did:key:"):
            return resolve_did_key(method)
        if is_did_web(method):
            did = method.partition("#")[0]
            try:
                url = did_web_url(did)
            except ValueError as exc:
                raise VerificationError(f"cannot resolve {did}: {exc}", check="issuer") from None
            fetched = self.sources.did_document(did, url, self.now)
            key = assertion_key(fetched.document, method, source=url)
            self.did_document_note = f"{url}, {fetched.note()}"
            return did, key
        raise VerificationError(
            f"verification method {method!r} uses a DID method credkit cannot resolve (it knows did:key and did:web)", check="proof"
        )


def verify_credential(
    document: Any,
    *,
    source: str = "credential",
    recipient: str | None = None,
    status_lists: dict[str, dict[str, Any]] | None = None,
    sources: Sources | None = None,
    require_bound: bool = False,
    trust: TrustRegistries | None = None,
    require_trusted: bool = False,
    now: datetime | None = None,
) -> VerificationReport:
    """Run every check on ``document`` and report each; never raises for a bad credential.

    ``sources`` supplies DID documents and status lists (default: ``status_lists`` only, offline);
    ``require_bound`` fails an issuer that no domain vouches for (did:key); ``trust`` looks the
    issuer up in trust registries, and ``require_trusted`` fails an issuer none of them lists.
    """
    if sources is None:
        sources = Sources(status_lists=dict(status_lists or {}))
    elif status_lists:
        sources.status_lists.update(status_lists)
    report = VerificationReport(source=source)
    now = now or datetime.now(timezone.utc)
    try:
        credential = Credential.from_document(document, source=source)
    except CredkitError as exc:
        report.add("format", False, exc.diagnostics().removeprefix(f"{source}: "))
        return report
    report.credential = credential
    report.add("format", True, "a VC 2.0 credential")
    issuer_id = credential.issuer_id
    report.issuer = {"id": issuer_id, "name": _claimed_name(credential), "domain": None, "registries": []}

    resolver = _Resolver(sources, now)
    controller: str | None = None
    try:
        proof = verify_proof(credential.document, resolve=resolver)
        controller = proof.controller
        if proof.cryptosuite != "eddsa-rdfc-2022" and credential.is_open_badge:
            # a third party's choice: the signature holds, but Open Badges verifiers may refuse it
            report.add("proof", True, f"valid {proof.cryptosuite} signature by {proof.verification_method}, but Open Badges 3.0 "
                       "expects eddsa-rdfc-2022: 1EdTech-certified verifiers and DCC's reject this one", caution=True)
        else:
            report.add("proof", True, f"valid {proof.cryptosuite} signature by {proof.verification_method}")
    except KeyNotVouched as exc:
        report.add("proof", False, f"not made with a key its issuer's domain lists: {exc}")
        report.add("issuer", False, str(exc))
    except SourceUnavailable as exc:
        report.add("proof", None, f"could not be checked: the issuer's DID document is unavailable: {exc}", unchecked=True)
        report.add("issuer", None, "could not be checked: the issuer's DID document is unavailable", unchecked=True)
    except VerificationError as exc:
        if exc.check == "issuer":
            report.add("proof", False, f"not verified: {exc}")
            report.add("issuer", False, str(exc))
        else:
            report.add("proof", False, str(exc))

    if report.check("issuer") is not None:
        pass
    elif controller is None:
        report.add("issuer", False, "no verified signature, so no issuer can be established")
    elif controller != issuer_id:
        report.add("issuer", False, f"issuer {issuer_id} is not the signing key's controller {controller}")
    elif is_did_web(issuer_id):
        domain = did_web_domain(issuer_id)
        report.issuer["domain"] = domain
        report.add("issuer", True, f"domain {domain} vouches for this key ({resolver.did_document_note})")
    else:
        report.add(
            "issuer", False if require_bound else True,
            f'identity not bound to any domain: the name "{_claimed_name(credential)}" is only claimed (issuer {issuer_id})',
            caution=True,
        )

    if trust is not None or require_trusted:
        _check_trust(report, trust or TrustRegistries(), require_trusted)

    valid_from, valid_until = credential.valid_from, credential.valid_until
    if valid_from is not None and now + CLOCK_SKEW < valid_from:
        report.add("validity", False, f"not yet valid: validFrom is {credential.document['validFrom']}")
    elif valid_until is not None and now - CLOCK_SKEW >= valid_until:
        report.add("validity", False, f"expired: validUntil was {credential.document['validUntil']}")
    else:
        start = f"from {credential.document['validFrom']}" if valid_from else "with no start date"
        until = f" until {credential.document['validUntil']}" if valid_until else " with no end date"
        report.add("validity", True, f"valid {start}{until}")

    if credential.is_open_badge:
        try:
            validate_open_badge(_proof_as_array(credential.document))
            report.add("schema", True, "matches the Open Badges 3.0 JSON schema")
        except CredkitError as exc:
            report.add("schema", False, exc.diagnostics().removeprefix("schema: "))
    else:
        report.add("schema", None, "not an Open Badge; no schema applies")

    entries = credential.document.get("credentialStatus")
    if entries is not None:
        _check_status(report, credential, entries, sources, now)
    else:
        report.add("status", None, "the credential has no status entry, so its issuer cannot revoke it")

    if recipient is not None:
        ok, message = _check_recipient(credential, recipient)
        report.add("recipient", ok, message)
    else:
        report.add("recipient", None, "not checked (give --recipient with the applicant's e-mail address or id)")
    return report


def _check_trust(report: VerificationReport, trust: TrustRegistries, required: bool) -> None:
    """Which registries list the issuer; only once the issuer itself is established."""
    issuer = report.check("issuer")
    if issuer is None or issuer.passed is not True:
        report.add("trust", None, "not looked up: the issuer's identity was not established")
        return
    listed = trust.listing(report.issuer["id"])
    report.issuer["registries"] = [registry.name for registry, _entry in listed]
    if listed:
        registry, entry = listed[0]
        also = f" (and {len(listed) - 1} more)" if len(listed) > 1 else ""
        report.add("trust", True, f'listed in {registry.name}{also} as "{entry.get("name", "?")}"')
        return
    missing = "; ".join(f"{name}: {why}" for name, why in trust.unavailable)
    given = ", ".join(r.name for r in trust.loaded) or "none loaded"
    if missing and required:
        report.add("trust", None, f"could not be checked: not in {given}, and some registries could not be loaded ({missing})", unchecked=True)
    elif required:
        report.add("trust", False, f"the issuer is not listed in any trust registry given ({given})")
    else:
        note = f"; not loaded: {missing}" if missing else ""
        report.add("trust", True, f"the issuer is not listed in any trust registry given ({given}){note}", caution=True)


def _check_status(
    report: VerificationReport,
    credential: Credential,
    entries: Any,
    sources: Sources,
    now: datetime,
) -> None:
    state, messages = "active", []
    for entry in entries if isinstance(entries, list) else [entries]:
        entry_type = entry.get("type") if isinstance(entry, dict) else None
        checker = STATUS_CHECKERS.get(str(entry_type))
        if checker is None:
            report.add("status", None, f"could not be checked: credentialStatus of type {entry_type!r} is unknown to credkit", unchecked=True)
            return
        try:
            outcome = checker(credential, entry, sources, now)
        except SourceUnavailable as exc:
            report.add("status", None, f"could not be checked: {exc}", unchecked=True)
            return
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
