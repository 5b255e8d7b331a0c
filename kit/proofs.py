"""Data Integrity proofs: ``DataIntegrityProof`` with ``eddsa-rdfc-2022`` or ``eddsa-jcs-2022``.

Both suites sign ``SHA-256(canonical proof options) ‖ SHA-256(canonical document)`` with Ed25519;
they differ only in the canonical form (RDFC-1.0 N-Quads vs RFC 8785 JCS).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

import base58
import nacl.exceptions
import nacl.signing

from kit.canonical import DEFAULT_MAX_WORK, canonicalize_jcs, canonicalize_rdfc, check_terms
from kit.errors import CanonicalizationError, SigningError, VerificationError
from kit.keys import IssuerKey, resolve_did_key

__all__ = ["RDFC", "JCS", "CRYPTOSUITES", "sign", "verify_proof", "ProofStages", "proof_stages", "VerifiedProof", "KeyResolver"]

RDFC = "eddsa-rdfc-2022"
JCS = "eddsa-jcs-2022"
CRYPTOSUITES = (RDFC, JCS)


@dataclass(frozen=True)
class ProofStages:
    """Every intermediate of a proof, for known-answer tests stage by stage."""

    canonical_proof_options: str
    canonical_document: str
    proof_options_hash: bytes
    document_hash: bytes

    @property
    def message(self) -> bytes:
        return self.proof_options_hash + self.document_hash


@dataclass(frozen=True)
class VerifiedProof:
    """What a successful proof check establishes."""

    cryptosuite: str
    verification_method: str
    controller: str
    created: str | None


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _canonical(value: dict[str, Any], cryptosuite: str, *, strict: bool, max_work: int) -> str:
    if cryptosuite == RDFC:
        return canonicalize_rdfc(value, strict=strict, max_work=max_work)
    return canonicalize_jcs(value).decode("utf-8")


def proof_stages(
    document: dict[str, Any], proof_options: dict[str, Any], *, strict: bool = True, max_work: int = DEFAULT_MAX_WORK
) -> ProofStages:
    """Canonicalize and hash a document (without ``proof``) and proof options (without ``proofValue``)."""
    cryptosuite = proof_options.get("cryptosuite")
    if cryptosuite not in CRYPTOSUITES:
        raise CanonicalizationError(f"unsupported cryptosuite {cryptosuite!r} (supported: {', '.join(CRYPTOSUITES)})")
    canon_options = _canonical(proof_options, cryptosuite, strict=strict, max_work=max_work)
    canon_document = _canonical(document, cryptosuite, strict=strict, max_work=max_work)
    return ProofStages(
        canonical_proof_options=canon_options,
        canonical_document=canon_document,
        proof_options_hash=hashlib.sha256(canon_options.encode("utf-8")).digest(),
        document_hash=hashlib.sha256(canon_document.encode("utf-8")).digest(),
    )


def sign(
    document: dict[str, Any],
    key: IssuerKey,
    *,
    cryptosuite: str = RDFC,
    created: str | None = None,
    verification_method: str | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` with a DataIntegrityProof added.

    Raises SigningError when the document already has a proof, uses an unbundled context, or holds a
    property or IRI that would not be signed (strict JSON-LD), and KeyLoadError for a public-only key.
    """
    if not isinstance(document, dict):
        raise SigningError("a credential must be a JSON object")
    if "proof" in document:
        raise SigningError("the document already has a proof; sign the unsigned credential")
    if cryptosuite not in CRYPTOSUITES:
        raise SigningError(f"unsupported cryptosuite {cryptosuite!r} (supported: {', '.join(CRYPTOSUITES)})")
    if "@context" not in document:
        raise SigningError("the document has no @context")
    key.sign(b"")  # fail before the costly canonicalization if the key is public-only
    options: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": cryptosuite,
        "created": created or _now(),
        "verificationMethod": verification_method or key.verification_method,
        "proofPurpose": "assertionMethod",
        "@context": document["@context"],
    }
    try:
        if cryptosuite == JCS:
            # JCS signs the JSON as written; still refuse what a JSON-LD verifier would drop.
            check_terms(document)
        stages = proof_stages(document, options)
    except CanonicalizationError as exc:
        raise SigningError(f"cannot sign: {exc}") from exc
    signature = key.sign(stages.message)
    proof = {k: v for k, v in options.items() if not (k == "@context" and cryptosuite == RDFC)}
    proof["proofValue"] = "z" + base58.b58encode(signature).decode("ascii")
    signed = copy.deepcopy(document)
    # The strict Open Badges schema wants a proof array; other VCs keep the W3C vectors' single object.
    signed["proof"] = [proof] if _is_open_badge(document) else proof
    return signed


OPEN_BADGE_SUITE_RULE = (
    "Open Badges 3.0 credentials are signed with eddsa-rdfc-2022 only: 1EdTech's certification and DCC's verifier "
    "reject eddsa-jcs-2022 (it remains available for other credential types)"
)


def check_cryptosuite_for(document: dict[str, Any], cryptosuite: str) -> None:
    """Raise SigningError when ``cryptosuite`` is one Open Badges verifiers reject for this document."""
    if cryptosuite != RDFC and _is_open_badge(document):
        raise SigningError(f"cannot sign with {cryptosuite}: {OPEN_BADGE_SUITE_RULE}")


def _is_open_badge(document: dict[str, Any]) -> bool:
    types = document.get("type")
    types = types if isinstance(types, list) else [types]
    return "OpenBadgeCredential" in types or "AchievementCredential" in types


def _proofs(document: dict[str, Any]) -> list[dict[str, Any]]:
    proof = document.get("proof")
    if proof is None:
        raise VerificationError("the credential has no proof", check="proof")
    proofs = proof if isinstance(proof, list) else [proof]
    if not proofs:
        raise VerificationError("the credential has no proof", check="proof")
    if not all(isinstance(p, dict) for p in proofs):
        raise VerificationError("a proof is not a JSON object", check="proof")
    return proofs


def _issuer_id(document: dict[str, Any]) -> Any:
    issuer = document.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


# verification method -> (controller DID, Ed25519 public key); raises VerificationError.
KeyResolver = Callable[[str], "tuple[str, bytes]"]


def verify_proof(document: dict[str, Any], *, max_work: int = DEFAULT_MAX_WORK, resolve: KeyResolver | None = None) -> VerifiedProof:
    """Check the document's DataIntegrityProof; raises VerificationError naming the failed check.

    The public key comes from ``resolve`` (default: did:key methods only, resolved offline). It
    is resolved after the proof's own shape is checked and before any canonicalization.

    A document with several proofs (an OB 3.0 proof set) verifies when one proof from an accepted
    suite (DataIntegrityProof with eddsa-rdfc-2022 or eddsa-jcs-2022) verifies; a valid one by the
    issuer's own key is preferred. Proofs of other suites are passed over; when none verifies, the
    first one's error is raised.
    """
    proofs = _proofs(document)
    accepted = [p for p in proofs if p.get("type") == "DataIntegrityProof" and p.get("cryptosuite") in CRYPTOSUITES]
    if len(proofs) == 1 or not accepted:
        if len(proofs) > 1:
            kinds = ", ".join(sorted({f"{p.get('type')}/{p.get('cryptosuite')}" for p in proofs}))
            raise VerificationError(f"none of the {len(proofs)} proofs uses a suite credkit accepts ({kinds})", check="proof")
        return _verify_one(document, proofs[0], max_work=max_work, resolve=resolve)
    from kit.sources import SourceUnavailable

    verified: list[VerifiedProof] = []
    errors: list[VerificationError] = []
    for proof in accepted:
        try:
            verified.append(_verify_one(document, proof, max_work=max_work, resolve=resolve))
        except VerificationError as exc:
            errors.append(exc)
    issuer = _issuer_id(document)
    by_issuer = next((v for v in verified if v.controller == issuer), None)
    if by_issuer is not None:
        return by_issuer
    # the issuer's own proof could not be checked (its DID document unreachable): say so, not "invalid"
    unavailable = next((e for e in errors if isinstance(e, SourceUnavailable)), None)
    if unavailable is not None:
        raise unavailable
    if verified:
        return verified[0]
    raise errors[0]


def _verify_one(document: dict[str, Any], proof: dict[str, Any], *, max_work: int, resolve: KeyResolver | None) -> VerifiedProof:
    """Check one proof of ``document`` (every proof of a proof set signs the document without its proofs)."""
    if proof.get("type") != "DataIntegrityProof":
        raise VerificationError(f"proof type {proof.get('type')!r} is not DataIntegrityProof", check="proof")
    cryptosuite = proof.get("cryptosuite")
    if cryptosuite not in CRYPTOSUITES:
        raise VerificationError(f"unsupported cryptosuite {cryptosuite!r}", check="proof")
    if proof.get("proofPurpose") != "assertionMethod":
        raise VerificationError(f"proof purpose {proof.get('proofPurpose')!r} is not assertionMethod", check="proof")
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str) or not proof_value.startswith("z"):
        raise VerificationError("proofValue is missing or not base58btc multibase", check="proof")
    try:
        signature = base58.b58decode(proof_value[1:])
    except ValueError:
        raise VerificationError("proofValue is not valid base58btc", check="proof") from None
    if len(signature) != 64:
        raise VerificationError("proofValue is not a 64-byte Ed25519 signature", check="proof")
    method = proof.get("verificationMethod")
    if not isinstance(method, str):
        raise VerificationError("the proof has no verificationMethod", check="proof")
    controller, public_key = (resolve or resolve_did_key)(method)

    unsigned = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if cryptosuite == RDFC:
        options["@context"] = document.get("@context")
    elif "@context" in options and options["@context"] != document.get("@context"):
        raise VerificationError("the proof's @context differs from the credential's", check="proof")
    try:
        if cryptosuite == JCS:
            check_terms(unsigned)
        stages = proof_stages(unsigned, options, strict=True, max_work=max_work)
    except CanonicalizationError as exc:
        raise VerificationError(f"cannot canonicalize: {exc}", check="proof") from exc
    try:
        nacl.signing.VerifyKey(public_key).verify(stages.message, signature)
    except nacl.exceptions.BadSignatureError:
        raise VerificationError("the signature does not match the credential (altered, or signed by another key)", check="proof") from None
    return VerifiedProof(cryptosuite=cryptosuite, verification_method=method, controller=controller, created=proof.get("created"))
