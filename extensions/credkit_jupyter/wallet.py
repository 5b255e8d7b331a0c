"""The learner's wallet: reading, summarising, verifying, baking and fetching credentials.

No web framework here; :mod:`credkit_jupyter.routes` maps these calls and their errors to HTTP.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kit.artwork import badge_png, badge_svg, credential_artwork_inputs, renders_alone, svg_to_png
from kit.baking import bake_png, bake_svg, image_kind
from kit.credentials import identity_hash
from kit.errors import CredkitError, InvalidCredential
from kit.exchange import CREDENTIALS_DROP_ID, credential_drop_name, drop_folder, status_folder
from kit.limits import parse_json

__all__ = [
    "CREDENTIALS_DROP_ID",
    "CredentialNotFound",
    "NotYourCredential",
    "Wallet",
    "credential_drop_name",
    "is_credential_id",
]

# The exchange layout (kit.exchange): a submission's credentials in
# <exchange>/<course>/credentials/<drop>/, public status lists in .../credentials/status/.

_UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_SAFE_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,200}\Z")


class CredentialNotFound(InvalidCredential):
    """No credential with that id in this learner's wallet."""


class NotYourCredential(InvalidCredential):
    """The credential in the wallet was issued to somebody else."""


def is_credential_id(value: str) -> bool:
    """A wallet id is a lower-case UUID: the credential's file name without ``.json``."""
    return bool(_UUID.match(value))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Wallet:
    """One learner's wallet folder."""

    root: Path
    learner: str | None = None
    learner_email: str | None = None

    # --- reading ---------------------------------------------------------------------------------

    def status_dir(self) -> Path:
        return self.root / "status"

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if is_credential_id(p.stem) and p.is_file())

    def path_of(self, credential_id: str) -> Path:
        """The file of ``credential_id``; raises CredentialNotFound for a malformed or absent id."""
        if not is_credential_id(credential_id):
            raise InvalidCredential(f"malformed credential id {credential_id!r}: expected a UUID")
        path = self.root / f"{credential_id}.json"
        # the id is a UUID, so it cannot leave the folder; a symlink could, and is refused
        if not path.is_file() or path.resolve().parent != self.root.resolve():
            raise CredentialNotFound(f"no credential {credential_id} in this wallet")
        return path

    def read_text(self, credential_id: str) -> str:
        return self.path_of(credential_id).read_text(encoding="utf-8")

    def load(self, credential_id: str) -> dict[str, Any]:
        """The credential document; raises NotYourCredential when issued to another learner."""
        try:
            data = self.path_of(credential_id).read_bytes()
        except OSError as exc:
            raise InvalidCredential(f"credential {credential_id}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
        document = parse_json(data, source=f"credential {credential_id}", error=InvalidCredential)
        if not isinstance(document, dict):
            raise InvalidCredential(f"credential {credential_id} is not a JSON object")
        if not self.belongs_to_learner(document):
            raise NotYourCredential(f"credential {credential_id} was issued to another learner")
        return document

    def belongs_to_learner(self, document: dict[str, Any]) -> bool:
        """False only when the credential names its recipient and that recipient is provably not us.

        The recipient is salted and hashed (OB 3.0 IdentityObject); we compare our own student id
        (systemId) and e-mail (emailAddress) under the same salt. An identity we cannot compute (an
        e-mail we were not told) proves nothing either way.
        """
        subject = document.get("credentialSubject")
        if not isinstance(subject, dict):
            return True
        identities = [i for i in _as_list(subject.get("identifier")) if isinstance(i, dict)]
        decidable = False
        for identity in identities:
            kind = identity.get("identityType")
            mine = {"systemId": self.learner, "emailAddress": self.learner_email}.get(str(kind))
            if not mine:
                continue
            decidable = True
            claimed = str(identity.get("identityHash", ""))
            if identity.get("hashed") is False:
                if claimed == mine:
                    return True
            elif claimed in {identity_hash(mine, str(identity.get("salt") or "")), identity_hash(mine.lower(), str(identity.get("salt") or ""))}:
                return True
        return not decidable

    # --- verifying -------------------------------------------------------------------------------

    def status_lists(self) -> dict[str, dict[str, Any]]:
        """The status list credentials the course released, by their id (URL)."""
        lists: dict[str, dict[str, Any]] = {}
        folder = self.status_dir()
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                try:
                    document = parse_json(path.read_bytes(), source=str(path))
                except (OSError, CredkitError):
                    continue  # an unreadable list is as good as none: the status shows as not checked
                if isinstance(document, dict) and isinstance(document.get("id"), str):
                    lists[document["id"]] = document
        return lists

    def verify(self, document: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
        """The kit's verification report as JSON, with the status lists from the wallet."""
        from kit.didweb import is_did_web
        from kit.sources import Sources
        from kit.verify import verify_credential  # the kit's verifier: signature, dates, status, schema

        try:
            # The wallet's status lists. A did:web issuer's identity needs its domain: then the DID
            # document (and a list missing from the wallet) come over HTTPS, cached, as an
            # employer's `credkit verify` gets them; a did:key credential is checked offline.
            issuer = document.get("issuer") if isinstance(document, dict) else None
            issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
            lists = self.status_lists()
            sources = Sources.online(status_lists=lists) if is_did_web(issuer_id) else Sources(status_lists=lists)
            report = verify_credential(document, sources=sources, now=now)
        except CredkitError as exc:
            return {"verified": False, "status": "invalid", "checks": [{"check": "format", "passed": False, "message": exc.diagnostics()}]}
        return report.to_json()

    # --- summarising -----------------------------------------------------------------------------

    def summary(self, credential_id: str, document: dict[str, Any]) -> dict[str, Any]:
        """What the Credentials panel shows of one credential (no verification)."""
        subject = document.get("credentialSubject") if isinstance(document.get("credentialSubject"), dict) else {}
        achievement = subject.get("achievement") if isinstance(subject.get("achievement"), dict) else {}
        issuer = document.get("issuer")
        issuer_info = (
            {"id": _text(issuer.get("id")), "name": _text(issuer.get("name")), "url": _text(issuer.get("url"))}
            if isinstance(issuer, dict)
            else {"id": _text(issuer), "name": None, "url": None}
        )
        results = [r for r in _as_list(subject.get("result")) if isinstance(r, dict)]
        skills = []
        for rd in _as_list(achievement.get("resultDescription")):
            if not isinstance(rd, dict):
                continue
            result = next((r for r in results if r.get("resultDescription") == rd.get("id")), {})
            skills.append(
                {
                    "id": _text(rd.get("id")),
                    "name": _text(rd.get("name")) or "Skill",
                    "value": result.get("value"),
                    "status": _text(result.get("status")),
                    "valueMax": rd.get("valueMax"),
                    "requiredValue": rd.get("requiredValue"),
                    "alignments": self._alignments(rd.get("alignment")),
                }
            )
        criteria = achievement.get("criteria") if isinstance(achievement.get("criteria"), dict) else {}
        evidence = [
            {
                "id": _text(e.get("id")),
                "name": _text(e.get("name")),
                "description": _text(e.get("description")),
                "narrative": _text(e.get("narrative")),
            }
            for e in _as_list(document.get("evidence"))
            if isinstance(e, dict)
        ]
        return {
            "id": credential_id,
            "credentialId": _text(document.get("id")),
            "name": _text(achievement.get("name")) or _text(document.get("name")) or "Credential",
            "description": _text(achievement.get("description")) or _text(document.get("description")),
            "achievementId": _text(achievement.get("id")),
            "achievementType": _text(achievement.get("achievementType")),
            "issuer": issuer_info,
            "validFrom": _text(document.get("validFrom")),
            "validUntil": _text(document.get("validUntil")),
            "criteria": {"narrative": _text(criteria.get("narrative")), "id": _text(criteria.get("id"))},
            "alignments": self._alignments(achievement.get("alignment")),
            "skills": skills,
            "evidence": evidence,
        }

    @staticmethod
    def _alignments(value: Any) -> list[dict[str, Any]]:
        return [
            {
                "targetName": _text(a.get("targetName")),
                "targetUrl": _text(a.get("targetUrl")) if str(a.get("targetUrl", "")).startswith(("https://", "http://")) else None,
                "targetFramework": _text(a.get("targetFramework")),
                "targetCode": _text(a.get("targetCode")),
                "targetDescription": _text(a.get("targetDescription")),
            }
            for a in _as_list(value)
            if isinstance(a, dict)
        ]

    # --- images ----------------------------------------------------------------------------------

    def artwork(self, document: dict[str, Any], kind: str) -> bytes:
        """The credential's own badge image when it carries one as a data: URI of that kind, else drawn."""
        achievement = (document.get("credentialSubject") or {}).get("achievement") or {}
        image = achievement.get("image") if isinstance(achievement, dict) else None
        uri = image.get("id") if isinstance(image, dict) else image
        if isinstance(uri, str) and uri.startswith("data:image/") and ";base64," in uri:
            try:
                data = base64.b64decode(uri.split(",", 1)[1], validate=True)
                if image_kind(data) == kind:
                    return data
                # Its SVG artwork as a PNG, so that the download shows what the panel shows.
                if kind == "png" and image_kind(data) == "svg" and renders_alone(data.decode("utf-8")):
                    return svg_to_png(data.decode("utf-8"))
            except (ValueError, InvalidCredential):
                pass
        name, skills, colour, issuer = credential_artwork_inputs(document)
        if kind == "png":
            return badge_png(name, skills, colour, issuer=issuer)
        return badge_svg(name, skills, colour, issuer=issuer).encode("utf-8")

    def baked(self, credential_id: str, kind: str) -> bytes:
        """The credential baked into its badge image, byte for byte the wallet's JSON."""
        document = self.load(credential_id)
        text = self.read_text(credential_id)
        if kind == "png":
            return bake_png(self.artwork(document, "png"), text)
        return bake_svg(self.artwork(document, "svg").decode("utf-8"), text).encode("utf-8")

    # --- fetching from the nbgrader exchange -----------------------------------------------------

    def fetch(self, exchange_root: Path, cache: Path, courses: list[str]) -> dict[str, Any]:
        """Copy newly released credentials and the courses' status lists into the wallet.

        Looks, for each of the learner's submissions in nbgrader's cache
        (``<cache>/<course>/<learner>+<assignment>+<timestamp>/submission_secret.txt``), in that
        submission's drop folder. Returns the new credential ids and the status lists updated.
        """
        new: list[str] = []
        status_updated: list[str] = []
        course_ids = courses or sorted(p.name for p in cache.glob("*") if p.is_dir() and _SAFE_NAME.match(p.name))
        for course in course_ids:
            if not _SAFE_NAME.match(course):
                continue
            if not (exchange_root / course / "credentials").is_dir():
                continue
            for secret_file in sorted(glob.glob(str(cache / course / "*+*+*" / "submission_secret.txt"))):
                secret = Path(secret_file).read_text(encoding="utf-8")
                drop = drop_folder(exchange_root, course, secret)
                if not drop.is_dir():
                    continue
                for source in sorted(drop.glob("*.json")):
                    if not is_credential_id(source.stem) or (self.root / source.name).exists():
                        continue
                    try:
                        document = parse_json(source.read_bytes(), source=str(source))
                    except (OSError, CredkitError):
                        continue
                    if not isinstance(document, dict) or not self.belongs_to_learner(document):
                        continue
                    self._copy_in(source, self.root / source.name)
                    new.append(source.stem)
            status_source = status_folder(exchange_root, course)
            if status_source.is_dir():
                for source in sorted(status_source.glob("*.json")):
                    if not _SAFE_NAME.match(source.name):
                        continue
                    target = self.status_dir() / source.name
                    if not target.exists() or target.read_bytes() != source.read_bytes():
                        self._copy_in(source, target)
                        status_updated.append(source.name)
        return {"new": new, "statusLists": status_updated}

    @staticmethod
    def _copy_in(source: Path, target: Path) -> None:
        """Copy atomically (temp file in the target folder, then rename): a wallet file is never half-written."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
