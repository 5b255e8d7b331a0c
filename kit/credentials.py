"""Open Badges 3.0 skill credentials: build one from an award, parse one from JSON, check the schema.

A skill micro-credential is an ``OpenBadgeCredential`` whose Achievement carries one
``ResultDescription`` per skill (a ``RawScore`` out of the skill's possible points, with the
threshold as ``requiredValue``) and whose subject carries the matching ``Result`` values.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from kit.contexts import OB_EXTENSIONS, OB_V3, VC_V2
from kit.errors import InvalidCredential

__all__ = [
    "IssuerProfile",
    "Alignment",
    "SkillResult",
    "Achievement",
    "Recipient",
    "Evidence",
    "Award",
    "Credential",
    "build_credential",
    "identity_hash",
    "validate_open_badge",
    "OB_SCHEMA_ID",
    "format_datetime",
    "parse_datetime",
]

OB_SCHEMA_ID = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
OPEN_BADGE_TYPES = frozenset({"OpenBadgeCredential", "AchievementCredential"})


def format_datetime(moment: datetime) -> str:
    """XML Schema dateTime in UTC, whole seconds, ``Z`` suffix (what every verifier parses)."""
    if moment.tzinfo is None:
        raise ValueError("datetimes in credentials must be timezone-aware")
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> datetime:
    """Parse an XML Schema dateTime with an explicit offset; raises ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date-time string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment


def identity_hash(identity: str, salt: str) -> str:
    """OB 3.0 ``identityHash``: ``sha256$`` + hex SHA-256 of identity followed by salt."""
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuerProfile:
    """Who issues: name, url, email, image from the manifest; ``id`` is always the key's DID."""

    name: str
    url: str
    email: str | None = None
    image: str | None = None
    description: str | None = None

    def to_json(self, issuer_id: str) -> dict[str, Any]:
        profile: dict[str, Any] = {"id": issuer_id, "type": ["Profile"], "name": self.name, "url": self.url}
        if self.email:
            profile["email"] = self.email
        if self.description:
            profile["description"] = self.description
        if self.image:
            profile["image"] = {"id": self.image, "type": "Image"}
        return profile


@dataclass(frozen=True)
class Alignment:
    """A skill's place in a framework (ESCO, O*NET, CASE, or any URL)."""

    target_name: str
    target_url: str
    target_code: str | None = None
    target_framework: str | None = None
    target_type: str | None = None
    target_description: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": ["Alignment"], "targetName": self.target_name, "targetUrl": self.target_url}
        for key, value in (
            ("targetCode", self.target_code),
            ("targetFramework", self.target_framework),
            ("targetType", self.target_type),
            ("targetDescription", self.target_description),
        ):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True)
class SkillResult:
    """One skill's score in an award: ``earned`` of ``possible`` points, ``required`` to pass."""

    skill_id: str
    name: str
    earned: float
    possible: float
    required: float
    alignments: tuple[Alignment, ...] = ()

    @property
    def passed(self) -> bool:
        return self.earned >= self.required


@dataclass(frozen=True)
class Achievement:
    """What the credential certifies, with its stable id from the manifest."""

    id: str
    name: str
    description: str
    criteria: str
    image: str | None = None
    achievement_type: str = "MicroCredential"
    alignments: tuple[Alignment, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipient:
    """The learner, as the gradebook knows them: an e-mail address when there is one, else the id."""

    identity: str
    identity_type: str = "emailAddress"  # or "systemId"
    salt: str = field(default_factory=lambda: secrets.token_hex(16))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "IdentityObject",
            "identityHash": identity_hash(self.identity, self.salt),
            "identityType": self.identity_type,
            "hashed": True,
            "salt": self.salt,
        }


@dataclass(frozen=True)
class Evidence:
    """What the award rests on (an assessment submission, or component credentials of a stack)."""

    name: str
    description: str | None = None
    id: str | None = None
    narrative: str | None = None
    genre: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": ["Evidence"], "name": self.name}
        for key, value in (("id", self.id), ("description", self.description), ("narrative", self.narrative), ("genre", self.genre)):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True)
class Award:
    """A learner earned an achievement: everything a credential needs except the issuer's key."""

    achievement: Achievement
    recipient: Recipient
    skills: tuple[SkillResult, ...]
    valid_from: datetime
    valid_until: datetime | None = None
    evidence: tuple[Evidence, ...] = ()
    credential_id: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    credential_status: dict[str, Any] | None = None


def _number(value: float) -> str:
    """Points as OB wants them (strings), without a spurious ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def build_credential(award: Award, issuer: IssuerProfile, issuer_id: str) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential for ``award``; raises InvalidCredential if it breaks the schema."""
    achievement = award.achievement
    descriptions = []
    results = []
    for skill in award.skills:
        description_id = f"{achievement.id}#skill-{skill.skill_id}"
        description: dict[str, Any] = {
            "id": description_id,
            "type": ["ResultDescription"],
            "name": skill.name,
            "resultType": "RawScore",
            "valueMin": "0",
            "valueMax": _number(skill.possible),
            "requiredValue": _number(skill.required),
        }
        if skill.alignments:
            description["alignment"] = [a.to_json() for a in skill.alignments]
        descriptions.append(description)
        results.append({"type": ["Result"], "resultDescription": description_id, "value": _number(skill.earned)})
    achievement_json: dict[str, Any] = {
        "id": achievement.id,
        "type": ["Achievement"],
        "achievementType": achievement.achievement_type,
        "name": achievement.name,
        "description": achievement.description,
        "criteria": {"narrative": achievement.criteria},
    }
    if achievement.image:
        achievement_json["image"] = {"id": achievement.image, "type": "Image"}
    alignments = list(achievement.alignments) + [a for s in award.skills for a in s.alignments]
    if alignments:
        seen: dict[str, Alignment] = {}
        for alignment in alignments:
            seen.setdefault(alignment.target_url, alignment)
        achievement_json["alignment"] = [a.to_json() for a in seen.values()]
    if descriptions:
        achievement_json["resultDescription"] = descriptions
    if achievement.tags:
        achievement_json["tag"] = list(achievement.tags)
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [award.recipient.to_json()],
        "achievement": achievement_json,
    }
    if results:
        subject["result"] = results
    credential: dict[str, Any] = {
        "@context": [VC_V2, OB_V3, OB_EXTENSIONS],
        "id": award.credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": achievement.name,
        "issuer": issuer.to_json(issuer_id),
        "validFrom": format_datetime(award.valid_from),
    }
    if award.valid_until is not None:
        credential["validUntil"] = format_datetime(award.valid_until)
    credential["credentialSubject"] = subject
    if award.evidence:
        credential["evidence"] = [e.to_json() for e in award.evidence]
    if award.credential_status is not None:
        credential["credentialStatus"] = award.credential_status
    credential["credentialSchema"] = [{"id": OB_SCHEMA_ID, "type": "1EdTechJsonSchemaValidator2019"}]
    validate_open_badge(credential, require_proof=False)
    return credential


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(
        resources.files("kit.data").joinpath("schemas", "ob_v3p0_achievementcredential_schema.json").read_text("utf-8")
    )
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def validate_open_badge(document: dict[str, Any], *, require_proof: bool = True) -> None:
    """Check ``document`` against the strict OB 3.0 JSON schema; raises InvalidCredential with the path."""
    errors = sorted(_schema_validator().iter_errors(document), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        error = jsonschema.exceptions.best_match(errors) or errors[0]
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InvalidCredential(f"schema: {where}: {error.message[:200]}")
    if require_proof and not document.get("proof"):
        raise InvalidCredential("schema: proof: a signed credential needs a proof")


@dataclass(frozen=True)
class Credential:
    """A parsed credential: the JSON document and the few fields every check reads."""

    document: dict[str, Any]
    source: str = "credential"

    @classmethod
    def from_json(cls, data: str | bytes, *, source: str = "credential") -> Credential:
        """Parse JSON text; raises InvalidCredential naming ``source`` for anything malformed."""
        from kit.limits import parse_json

        return cls.from_document(parse_json(data, source=source, error=InvalidCredential), source=source)

    @classmethod
    def from_document(cls, document: Any, *, source: str = "credential") -> Credential:
        from kit.limits import check_depth

        if not isinstance(document, dict):
            raise InvalidCredential(f"{source}: a credential must be a JSON object")
        check_depth(document, source=source, error=InvalidCredential)  # later steps (JSON-LD, schema) recurse
        context = document.get("@context")
        if not isinstance(context, list) or not context or context[0] != VC_V2:
            raise InvalidCredential(f"{source}: @context must be a list starting with {VC_V2}")
        types = document.get("type")
        if not isinstance(types, list) or "VerifiableCredential" not in types:
            raise InvalidCredential(f"{source}: type must be a list including VerifiableCredential")
        issuer = document.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
        if not isinstance(issuer_id, str) or not issuer_id:
            raise InvalidCredential(f"{source}: issuer must be a URL/DID or an object with an id")
        if not isinstance(document.get("credentialSubject"), (dict, list)):
            raise InvalidCredential(f"{source}: credentialSubject is missing")
        for key in ("validFrom", "validUntil"):
            if key in document:
                try:
                    parse_datetime(document[key])
                except ValueError as exc:
                    raise InvalidCredential(f"{source}: {key}: {exc}") from None
        return cls(document=document, source=source)

    @property
    def id(self) -> str | None:
        value = self.document.get("id")
        return value if isinstance(value, str) else None

    @property
    def types(self) -> list[str]:
        return list(self.document["type"])

    @property
    def is_open_badge(self) -> bool:
        return bool(OPEN_BADGE_TYPES & set(self.types))

    @property
    def issuer_id(self) -> str:
        issuer = self.document["issuer"]
        return str(issuer["id"] if isinstance(issuer, dict) else issuer)

    @property
    def valid_from(self) -> datetime | None:
        return parse_datetime(self.document["validFrom"]) if "validFrom" in self.document else None

    @property
    def valid_until(self) -> datetime | None:
        return parse_datetime(self.document["validUntil"]) if "validUntil" in self.document else None

    @property
    def name(self) -> str:
        name = self.document.get("name")
        if isinstance(name, str):
            return name
        subject = self.document.get("credentialSubject")
        if isinstance(subject, dict) and isinstance(subject.get("achievement"), dict):
            return str(subject["achievement"].get("name", self.id))
        return str(self.id)
