"""``credkit publish``: the issuer's public site as static files, for any static web host.

The folder written is served at the root of the issuer's host (``https://<host>/``): the host of
the did:web issuer, else (a did:key course) the host of ``status_base_url``. It holds

- the DID document (did:web only): ``.well-known/did.json`` for ``did:web:<host>``, or
  ``<path>/did.json`` for ``did:web:<host>:<path>``, listing every key the course has signed with
  (kept in ``<course>/credkit/did-keys.json``, so old credentials keep verifying after a key change);
- the signed status lists, freshly signed, at the paths their URLs name, each with its notices
  (dates and reasons of revocations and suspensions, ``<list URL>.notices.json``);
- the issuer profile (``issuer.json`` next to the DID document, or at the root);
- one page per achievement whose id is under the host (``<id path>/index.html``, with the
  Achievement as JSON-LD inside), so every such achievement id dereferences;
- ``verify.html``, the kit's verifier as one static page (built from ``verifier/`` into
  ``kit/data/verify.html``): employers drop a credential on it, no install.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from kit.contexts import OB_V3, VC_V2
from kit.credentials import IssuerProfile, format_datetime
from kit.didweb import DidKey, did_document, did_web_domain, did_web_site_path, is_did_web
from kit.errors import CredkitError
from kit.fileio import write_atomic
from kit.issuance import StatusPublisher, issuer_identifier
from kit.keys import IssuerKey
from kit.ledger import Ledger
from kit.status import notices_url

from .config import CourseSettings, load_course_config

__all__ = [
    "PublishError", "PublishReport", "publish_site", "did_keys", "record_key", "rotate_key", "verify_page", "DID_KEYS_NAME",
]

DID_KEYS_NAME = "did-keys.json"


class PublishError(CredkitError):
    """The site cannot be published as asked."""


@dataclass
class PublishReport:
    site: Path
    host: str
    issuer: str
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line each: what was not published and why


# --- the keys a did:web issuer has used ----------------------------------------------------------


def _keys_file(settings: CourseSettings) -> Path:
    return settings.course_root / "credkit" / DID_KEYS_NAME


def did_keys(settings: CourseSettings) -> list[dict[str, Any]]:
    """Every key recorded for the course's DID: ``publicKeyMultibase``, ``added``, ``revoked`` (or absent)."""
    path = _keys_file(settings)
    if not path.exists():
        return []
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))["keys"]
        if not isinstance(keys, list) or not all(isinstance(k, dict) and isinstance(k.get("publicKeyMultibase"), str) for k in keys):
            raise ValueError
        return keys
    except (OSError, ValueError, KeyError, TypeError):
        raise PublishError(f"{path}: not a readable key list; restore it from a backup (old credentials need it)") from None


def record_key(settings: CourseSettings, key: IssuerKey, *, revoked: str | None = None) -> list[dict[str, Any]]:
    """Add ``key`` to the course's key list (or mark it revoked); returns the list as saved."""
    keys = did_keys(settings)
    entry = next((k for k in keys if k["publicKeyMultibase"] == key.public_key_multibase), None)
    if entry is None:
        entry = {"publicKeyMultibase": key.public_key_multibase, "added": format_datetime(datetime.now(timezone.utc))}
        keys.append(entry)
    if revoked is not None:
        entry["revoked"] = revoked
    path = _keys_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"keys": keys}, indent=2) + "\n")
    return keys


# --- writing the site ------------------------------------------------------------------------------


def _site_path(site: Path, url: str, host: str) -> Path | None:
    """Where ``url`` lives inside the site folder, or None when it is not under ``host``."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.netloc.lower() != host:
        return None
    segments = PurePosixPath(parts.path).parts[1:]
    if not segments or any(s in (".", "..") for s in segments):
        return None
    return site.joinpath(*segments)


def _write(report: PublishReport, path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    report.written.append(path)


def _achievement_page(achievement: dict[str, Any], issuer: dict[str, Any]) -> str:
    e = html.escape
    rows = []
    for rd in achievement.get("resultDescription") or []:
        if isinstance(rd, dict):
            aligned = ", ".join(
                f'<a href="{e(str(a.get("targetUrl", "")))}">{e(str(a.get("targetName", "")))}</a>'
                for a in rd.get("alignment") or [] if isinstance(a, dict)
            )
            rows.append(f"<tr><td>{e(str(rd.get('name', '')))}</td><td>{e(str(rd.get('requiredValue', '')))} of "
                        f"{e(str(rd.get('valueMax', '')))} points</td><td>{aligned}</td></tr>")
    image = achievement.get("image", {}).get("id") if isinstance(achievement.get("image"), dict) else None
    criteria = achievement.get("criteria", {}).get("narrative", "") if isinstance(achievement.get("criteria"), dict) else ""
    document = json.dumps({"@context": [VC_V2, OB_V3], **achievement}, indent=2).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(str(achievement.get('name', '')))}</title>
<script type="application/ld+json">
{document}
</script></head>
<body>
<h1>{e(str(achievement.get('name', '')))}</h1>
{f'<img src="{e(image)}" alt="" width="160">' if image else ''}
<p>{e(str(achievement.get('description', '')))}</p>
<h2>Criteria</h2><p>{e(str(criteria))}</p>
<h2>Skills</h2>
<table><tr><th>skill</th><th>required</th><th>aligned to</th></tr>{''.join(rows)}</table>
<p>Issued by {e(str(issuer.get('name', '')))} ({e(str(issuer.get('id', '')))}). Achievement id: {e(str(achievement.get('id', '')))}</p>
</body></html>
"""


def verify_page() -> str:
    """The text of the static verify page shipped in the package; raises PublishError when it was not built."""
    from importlib import resources

    page = resources.files("kit.data").joinpath("verify.html")
    if not page.is_file():
        raise PublishError(f"{page}: the verify page was not built; run `make .venv/.credkit-installed` (or reinstall credkit)")
    return page.read_text(encoding="utf-8")


def _profile(settings: CourseSettings) -> IssuerProfile | None:
    from .awards import issuer_profile
    from .course import released_assessment, released_ids, released_track

    for assignment in released_ids(settings.course_root):
        track = released_track(settings.course_root, assignment)
        if track is not None:
            return issuer_profile(track.issuer, track.path.parent)
        assessment = released_assessment(settings.course_root, assignment)
        return issuer_profile(assessment.issuer, assessment.folder)
    return None


def publish_site(course_root: str | Path, out: str | Path, key: IssuerKey, *, now: datetime | None = None) -> PublishReport:
    """Write the issuer's public site for the course into ``out``; see the module docstring."""
    settings = load_course_config(course_root)
    settings.check_key_outside_course()
    issuer_did = issuer_identifier(key, settings.issuer_did)
    profile = _profile(settings)
    base = settings.status_base_url(profile.url if profile else "https://credkit.invalid")
    host = did_web_domain(issuer_did) if is_did_web(issuer_did) else urlsplit(base).netloc.lower()
    site = Path(out).resolve()
    site.mkdir(parents=True, exist_ok=True)
    report = PublishReport(site=site, host=host, issuer=issuer_did)
    page = verify_page()  # before anything is written: a site without its verify page is not published
    did_dir = site
    if is_did_web(issuer_did):
        keys = record_key(settings, key)
        document = did_document(issuer_did, [DidKey(k["publicKeyMultibase"], k.get("revoked")) for k in keys])
        did_path = site / did_web_site_path(issuer_did)
        _write(report, did_path, json.dumps(document, indent=2) + "\n")
        if did_path.parent.name != ".well-known":
            did_dir = did_path.parent
    profile_json: dict[str, Any] = {"id": issuer_did, "name": "", "type": ["Profile"]}
    if profile is not None:
        profile_json = {"@context": [VC_V2, OB_V3], **profile.to_json(issuer_did)}
        _write(report, did_dir / "issuer.json", json.dumps(profile_json, indent=2) + "\n")

    with Ledger(settings.ledger_url) as ledger:
        publisher = StatusPublisher(
            key=key, ledger=ledger, status_dir=settings.status_dir, wallet_root=settings.wallet_root,
            cryptosuite=settings.credkit.cryptosuite, issuer_did=issuer_did,
        )
        publisher.publish(now=now)
        for url, _purpose, _size in ledger.status_lists():
            target = _site_path(site, url, host)
            if target is None:
                report.skipped.append(f"status list {url}: not on https://{host}/; serve {settings.status_dir} there yourself")
                continue
            text = (settings.status_dir / f"{url.rsplit('/', 1)[1]}.json").read_text(encoding="utf-8")
            _write(report, target, text)
            notices = _site_path(site, notices_url(url), host)
            assert notices is not None  # next to the list, so on the same host
            _write(report, notices, json.dumps(publisher.notices(url), indent=2) + "\n")
        seen: set[str] = set()
        for record in ledger.credentials(course=settings.course_id):
            if record.achievement_id in seen:
                continue
            seen.add(record.achievement_id)
            target = _site_path(site, record.achievement_id, host)
            if target is None:
                report.skipped.append(f"achievement {record.achievement_id}: not under https://{host}/, no page written")
                continue
            achievement = json.loads(record.document)["credentialSubject"]["achievement"]
            _write(report, target / "index.html", _achievement_page(achievement, profile_json))
    _write(report, site / "verify.html", page)
    return report


def rotate_key(settings: CourseSettings, *, compromised: bool, passphrase: bytes | None) -> tuple[IssuerKey, IssuerKey, Path]:
    """Replace the course's signing key with a new one; the old one stays in the DID document.

    A retired key keeps asserting, so what it signed keeps verifying; a ``compromised`` one is
    marked revoked, so what it signed fails. The old key file is kept beside the new one
    (``<key file>.retired-<time>``). Returns (old key, new key, where the old file went).
    """
    from kit.keys import save_key

    if not settings.issuer_did:
        raise PublishError("key rotation needs a did:web issuer (c.Credkit.issuer_did): a did:key issuer is its key")
    settings.check_key_outside_course()
    key_file = settings.key_file
    old = _public_key(key_file)
    now = format_datetime(datetime.now(timezone.utc))
    record_key(settings, old, revoked=now if compromised else None)
    kept = key_file.with_name(f"{key_file.name}.retired-{now.replace(':', '')}")
    os.replace(key_file, kept)
    new = IssuerKey.generate()
    try:
        save_key(new, key_file, passphrase=passphrase)
    except BaseException:
        os.replace(kept, key_file)
        raise
    record_key(settings, new)
    return old, new, kept


def _public_key(path: Path) -> IssuerKey:
    from kit.keys import IssuerKey as Key

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Key.from_multikey({"publicKeyMultibase": doc.get("publicKeyMultibase")}, source=str(path))
    except (OSError, ValueError, AttributeError):
        raise PublishError(f"{path}: cannot read the current issuer key") from None
