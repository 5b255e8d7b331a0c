"""Trust registries: which issuers a verifier's chosen registries list, in DCC's formats.

``credkit verify --trust FILE|URL`` takes either

- a *known registries* list, as DCC's verifier-core and Learner Credential Wallet configure it:
  ``[{"name": "DCC Sandbox Registry", "type": "dcc-legacy", "url": "https://…/registry.json"}, …]``
  (each registry fetched over HTTPS like a DID document, cached; other types, such as ``oidf``, are
  reported as not loaded), or
- one registry in DCC's ``dcc-legacy`` format:
  ``{"meta": {…}, "registry": {"did:web:…": {"name": …, "url": …, "location": …}, …}}``.

A registry that cannot be loaded is reported, never silently treated as "not listed". Listing is
looked up by the issuer's DID only after its signature and issuer identity verified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kit.errors import CredkitError
from kit.sources import Sources, SourceUnavailable

__all__ = ["TrustError", "TrustRegistry", "TrustRegistries", "load_trust"]

MAX_REGISTRY_BYTES = 16 * 1024 * 1024


class TrustError(CredkitError):
    """A trust registry file given on the command line cannot be read."""


@dataclass(frozen=True)
class TrustRegistry:
    name: str
    source: str
    entries: dict[str, dict[str, Any]]


@dataclass
class TrustRegistries:
    """The registries loaded, and those that could not be (name, why)."""

    loaded: list[TrustRegistry] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)

    def listing(self, did: str) -> list[tuple[TrustRegistry, dict[str, Any]]]:
        """Every registry that lists ``did``, most authoritative first (the order given), with its entry."""
        return [(registry, registry.entries[did]) for registry in self.loaded if did in registry.entries]


def _entries(document: Any, source: str) -> dict[str, dict[str, Any]]:
    registry = document.get("registry") if isinstance(document, dict) else None
    if not isinstance(registry, dict):
        raise ValueError(f"{source}: not a DCC registry (no \"registry\" object of DIDs)")
    return {did: entry for did, entry in registry.items() if isinstance(did, str) and isinstance(entry, dict)}


def _read(spec: str) -> Any:
    path = Path(spec)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_REGISTRY_BYTES + 1)
    except OSError as exc:
        raise TrustError(f"{spec}: cannot read the trust registry ({exc.strerror or exc.__class__.__name__})") from None
    if len(data) > MAX_REGISTRY_BYTES:
        raise TrustError(f"{spec}: larger than {MAX_REGISTRY_BYTES // 2**20} MiB; not a trust registry")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TrustError(f"{spec}: not JSON; a trust registry or a known-registries list is expected") from None


def load_trust(specs: list[str], sources: Sources, now: datetime) -> TrustRegistries:
    """Load every ``--trust`` argument (file path or https URL); raises TrustError for an unreadable file."""
    out = TrustRegistries()
    for spec in specs:
        if spec.startswith("https://"):
            try:
                document = sources.document(spec, now).document
            except SourceUnavailable as exc:
                out.unavailable.append((spec, str(exc)))
                continue
        elif "://" in spec:
            raise TrustError(f"{spec}: a trust registry is read from a file or an https:// URL")
        else:
            document = _read(spec)
        if isinstance(document, list):
            for known in document:
                _load_known(known, spec, sources, now, out)
            continue
        try:
            entries = _entries(document, spec)
        except ValueError as exc:
            if not spec.startswith("https://"):
                raise TrustError(str(exc)) from None
            out.unavailable.append((spec, str(exc)))
            continue
        meta = document.get("meta") if isinstance(document.get("meta"), dict) else {}
        name = meta.get("name") if isinstance(meta.get("name"), str) else spec
        out.loaded.append(TrustRegistry(name, spec, entries))
    return out


def _load_known(known: Any, spec: str, sources: Sources, now: datetime, out: TrustRegistries) -> None:
    if not isinstance(known, dict) or not isinstance(known.get("name"), str):
        out.unavailable.append((spec, "an entry of the known-registries list has no name"))
        return
    name, kind, url = known["name"], known.get("type", "dcc-legacy"), known.get("url")
    if kind != "dcc-legacy":
        out.unavailable.append((name, f"registry type {kind!r} is not supported (credkit reads dcc-legacy registries)"))
        return
    if not isinstance(url, str) or not url.startswith("https://"):
        out.unavailable.append((name, "its url is not an https:// URL"))
        return
    try:
        out.loaded.append(TrustRegistry(name, url, _entries(sources.document(url, now).document, url)))
    except SourceUnavailable as exc:
        out.unavailable.append((name, str(exc)))
    except ValueError as exc:
        out.unavailable.append((name, str(exc)))
