"""did:web issuers: a domain vouches for the issuer's keys by publishing a DID document.

``did:web:datascience.example.edu`` resolves to ``https://datascience.example.edu/.well-known/did.json``;
``did:web:example.edu:ds101`` to ``https://example.edu/ds101/did.json``; a port is written ``%3A``
(``did:web:localhost%3A8443``), as the did:web spec says. The DID document lists each key as a
``Multikey`` verification method referenced from ``assertionMethod``; a key the issuer marked
compromised keeps its entry (with ``revoked``) but leaves ``assertionMethod``, so what it signed
fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from kit.errors import VerificationError
from kit.keys import IssuerKey, public_key_from_multibase

__all__ = [
    "DID_CONTEXTS",
    "DidKey",
    "KeyNotVouched",
    "is_did_web",
    "did_web_url",
    "did_web_domain",
    "did_web_site_path",
    "check_did_web",
    "verification_method_id",
    "did_document",
    "assertion_key",
]

DID_CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~%-]+$")


class KeyNotVouched(VerificationError):
    """The DID document was read, and it does not list the signing key for assertions."""

    def __init__(self, message: str) -> None:
        super().__init__(message, check="issuer")


def is_did_web(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("did:web:")


def _parts(did: str) -> tuple[str, list[str]]:
    if not is_did_web(did):
        raise ValueError(f"{did!r} is not a did:web identifier")
    pieces = did[len("did:web:"):].split(":")
    host = unquote(pieces[0]).lower()
    if not _HOST.match(host) or host.startswith(".") or ".." in host:
        raise ValueError(f"{did!r}: {host!r} is not a host name (a port is written %3A)")
    segments = pieces[1:]
    for segment in segments:
        if not _SEGMENT.match(segment) or unquote(segment) in (".", "..") or "/" in unquote(segment):
            raise ValueError(f"{did!r}: path segment {segment!r} is not allowed")
    return host, [unquote(s) for s in segments]


def check_did_web(did: str) -> str:
    """``did`` if it is a well-formed did:web identifier (no fragment); raises ValueError otherwise."""
    if "#" in did or "?" in did:
        raise ValueError(f"{did!r}: an issuer DID has no fragment or query")
    _parts(did)
    return did


def did_web_url(did: str) -> str:
    """The HTTPS URL of the DID document, per the did:web spec; raises ValueError."""
    host, segments = _parts(did)
    return f"https://{host}/{'/'.join(segments)}/did.json" if segments else f"https://{host}/.well-known/did.json"


def did_web_domain(did: str) -> str:
    """The host (with its port, if any) whose owner vouches for the DID's keys."""
    return _parts(did)[0]


def did_web_site_path(did: str) -> str:
    """Where the DID document goes inside a published site (the folder served at the host's root)."""
    return did_web_url(did).split("/", 3)[3]


def verification_method_id(did: str, key: IssuerKey) -> str:
    """The key's verification method under ``did``: ``did:key:z…#z…`` or ``did:web:…#z6Mk…``."""
    if did == key.did:
        return key.verification_method
    return f"{did}#{key.public_key_multibase}"


@dataclass(frozen=True)
class DidKey:
    """A key listed in a DID document: current or retired keys assert; a revoked one no longer does."""

    public_key_multibase: str
    revoked: str | None = None  # when the issuer declared it compromised (XML Schema dateTime)


def did_document(did: str, keys: list[DidKey]) -> dict[str, Any]:
    """The DID document publishing ``keys`` for ``did``."""
    check_did_web(did)
    methods, assertion = [], []
    for entry in keys:
        method: dict[str, Any] = {
            "id": f"{did}#{entry.public_key_multibase}",
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": entry.public_key_multibase,
        }
        if entry.revoked:
            method["revoked"] = entry.revoked
        else:
            assertion.append(method["id"])
        methods.append(method)
    return {"@context": list(DID_CONTEXTS), "id": did, "verificationMethod": methods, "assertionMethod": assertion}


def _absolute(reference: Any, did: str) -> Any:
    return did + reference if isinstance(reference, str) and reference.startswith("#") else reference


def assertion_key(document: Any, method_id: str, *, source: str) -> bytes:
    """The Ed25519 public key of ``method_id`` if the DID document lets it make assertions.

    Raises KeyNotVouched when the document does not list it, lists it revoked or not for
    assertions, and VerificationError (check ``issuer``) when the document itself is malformed.
    """
    did = method_id.partition("#")[0]
    if not isinstance(document, dict) or document.get("id") != did:
        found = document.get("id") if isinstance(document, dict) else None
        raise VerificationError(f"{source} is not the DID document of {did} (its id is {found!r})", check="issuer")
    methods = document.get("verificationMethod", [])
    methods = methods if isinstance(methods, list) else [methods]
    assertion = document.get("assertionMethod", [])
    assertion = assertion if isinstance(assertion, list) else [assertion]
    embedded = [m for m in assertion if isinstance(m, dict)]
    candidates = [m for m in methods + embedded if isinstance(m, dict) and _absolute(m.get("id"), did) == method_id]
    domain = did_web_domain(did)
    if not candidates:
        raise KeyNotVouched(f"domain {domain} does not vouch for this key: {method_id} is not in {source}")
    method = candidates[0]
    if method.get("revoked"):
        raise KeyNotVouched(f"domain {domain} revoked this key on {method['revoked']} (compromised): {method_id}")
    referenced = {_absolute(m, did) if isinstance(m, str) else _absolute(m.get("id"), did) for m in assertion}
    if method_id not in referenced:
        raise KeyNotVouched(f"domain {domain} lists {method_id} but not for issuing credentials (assertionMethod)")
    if _absolute(method.get("controller"), did) != did:
        raise KeyNotVouched(f"{method_id} in {source} is controlled by {method.get('controller')!r}, not {did}")
    if method.get("type") not in ("Multikey", "Ed25519VerificationKey2020"):
        raise VerificationError(f"{method_id}: unsupported key type {method.get('type')!r} (Ed25519 Multikey expected)", check="issuer")
    try:
        return public_key_from_multibase(method.get("publicKeyMultibase"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise VerificationError(f"{method_id} in {source}: {exc}", check="issuer") from None
