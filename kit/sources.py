"""Where a verifier gets what a credential points at: DID documents and status lists.

From files the user gave, from a small on-disk cache, and (unless offline) over HTTPS with the
system's trust store (``ssl.create_default_context``: OpenSSL's default paths, so ``SSL_CERT_FILE``
and ``SSL_CERT_DIR`` are honoured). Whatever cannot be obtained raises :class:`SourceUnavailable`,
which verification reports as "could not be checked", never as valid or invalid.

The cache (``<user cache dir>/credkit/fetched/``, or ``$CREDKIT_CACHE_DIR``) keeps each document
with the time it was fetched; a copy is fresh for the status list's ``ttl`` (milliseconds; the
Bitstring Status List default is 5 minutes) and never past its ``validUntil``. Offline, a cached
copy of any age is used and the report says when it was fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kit.credentials import format_datetime, parse_datetime
from kit.errors import CredkitError, VerificationError
from kit.fileio import write_atomic

__all__ = ["Sources", "SourceUnavailable", "Fetched", "default_cache_dir", "CACHE_ENV", "DEFAULT_TTL"]

CACHE_ENV = "CREDKIT_CACHE_DIR"
DEFAULT_TTL = timedelta(minutes=5)
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


class SourceUnavailable(VerificationError):
    """A document a check needs could not be obtained: the check could not be made."""


@dataclass(frozen=True)
class Fetched:
    """A document and where it came from (``given``, ``cache`` or ``network``), for the report."""

    document: Any
    origin: str
    fetched: datetime | None = None

    def note(self) -> str:
        if self.origin == "given":
            return "from the file given"
        if self.origin == "cache" and self.fetched is not None:
            return f"cached copy fetched {format_datetime(self.fetched)}"
        return "fetched just now"


def default_cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("credkit", appauthor=False)) / "fetched"


def _ttl(document: Any) -> timedelta:
    subject = document.get("credentialSubject") if isinstance(document, dict) else None
    ttl = subject.get("ttl") if isinstance(subject, dict) else None
    try:
        milliseconds = int(ttl)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_TTL
    return timedelta(milliseconds=max(0, min(milliseconds, 366 * 86_400_000)))


def _valid_until(document: Any) -> datetime | None:
    try:
        return parse_datetime(document.get("validUntil")) if isinstance(document, dict) and "validUntil" in document else None
    except ValueError:
        return None


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to https:// URLs (a DID document or list is never taken from plain HTTP)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if not newurl.startswith("https://"):
            raise SourceUnavailable(f"{req.full_url} redirects to {newurl}, which is not https://; refusing to follow")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass
class Sources:
    """The documents verification may use; ``offline`` forbids the network (files and cache only)."""

    status_lists: dict[str, Any] = field(default_factory=dict)
    did_documents: dict[str, Any] = field(default_factory=dict)
    offline: bool = True
    cache_dir: Path | None = None
    timeout: float = 10.0

    @classmethod
    def online(cls, **given: Any) -> Sources:
        """Network allowed, with the default cache."""
        return cls(offline=False, cache_dir=default_cache_dir(), **given)

    def status_list(self, url: str, now: datetime) -> Fetched:
        if url in self.status_lists:
            return Fetched(self.status_lists[url], "given")
        return self._get(url, url, now, hint=f"--status-list {url}=FILE")

    def status_notices(self, url: str, now: datetime) -> Any:
        """The issuer's (unsigned, informative) dates and reasons for a list's flagged entries."""
        return self._get(url, url, now, hint="network access").document

    def did_document(self, did: str, url: str, now: datetime) -> Fetched:
        if did in self.did_documents:
            return Fetched(self.did_documents[did], "given")
        return self._get(did, url, now, hint=f"--did-document {did}=FILE")

    def document(self, url: str, now: datetime) -> Fetched:
        """Any other JSON document a check needs (a trust registry), from the cache or over HTTPS."""
        return self._get(url, url, now, hint="network access")

    # --- the cache and the network ---------------------------------------------------------------

    def _cache_file(self, key: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}.json"

    def _cached(self, key: str) -> tuple[Any, datetime] | None:
        path = self._cache_file(key)
        if path is None or not path.is_file():
            return None
        try:
            from kit.limits import parse_json

            entry = parse_json(path.read_bytes(), source=str(path))
            if entry.get("key") != key:
                return None
            return entry["document"], parse_datetime(entry["fetched"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, CredkitError):
            return None  # a damaged cache entry is as good as none

    def _store(self, key: str, document: Any, now: datetime) -> None:
        path = self._cache_file(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps({"key": key, "fetched": format_datetime(now), "document": document}), mode=0o600)
        except OSError:
            pass  # a cache that cannot be written only costs a refetch

    def _get(self, key: str, url: str, now: datetime, *, hint: str) -> Fetched:
        cached = self._cached(key)
        if cached is not None:
            document, fetched = cached
            until = _valid_until(document)
            fresh = now < fetched + _ttl(document) and (until is None or now < until)
            if fresh or self.offline:
                return Fetched(document, "cache", fetched)
        if self.offline:
            raise SourceUnavailable(f"{url} is needed and this is an offline check: give {hint} (or verify once online to cache it)")
        document = self._fetch(url)
        self._store(key, document, now)
        return Fetched(document, "network", now)

    def _fetch(self, url: str) -> Any:
        if not url.startswith("https://"):
            raise SourceUnavailable(f"{url} is not an https:// URL; refusing to fetch it")
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()), _HttpsOnlyRedirects())
        request = urllib.request.Request(url, headers={"Accept": "application/json, application/did+json, */*", "User-Agent": "credkit-verify"})
        try:
            with opener.open(request, timeout=self.timeout) as response:
                data = response.read(MAX_DOCUMENT_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SourceUnavailable(f"{url} answered HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                why = f"its TLS certificate is not trusted ({reason.verify_message})"
            elif isinstance(reason, OSError):
                why = reason.strerror or reason.__class__.__name__
            else:
                why = str(reason)
            raise SourceUnavailable(f"cannot reach {url}: {why}") from None
        except (OSError, ssl.SSLError) as exc:
            raise SourceUnavailable(f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from None
        if len(data) > MAX_DOCUMENT_BYTES:
            raise SourceUnavailable(f"{url} is larger than {MAX_DOCUMENT_BYTES // 2**20} MiB")
        from kit.limits import parse_json

        return parse_json(data, source=url, error=SourceUnavailable, max_bytes=MAX_DOCUMENT_BYTES)
