"""Bundled JSON-LD contexts, pinned by sha256, served to PyLD by an offline document loader."""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from kit.errors import CanonicalizationError

__all__ = ["VC_V2", "OB_V3", "OB_EXTENSIONS", "EXAMPLES_V2", "BUNDLED", "ADDED_TERMS", "document_loader", "load_context"]

VC_V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"

# URL -> (file in kit/data/contexts, sha256 of its bytes). A changed file fails loudly.
BUNDLED: dict[str, tuple[str, str]] = {
    VC_V2: ("credentials-v2.jsonld", "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"),
    EXAMPLES_V2: (
        "credentials-examples-v2.jsonld",
        "57393fbc69d6efb9b9b5dc9cb6b9880b0944360abfe2eaf459c9e58cf2279d7c",
    ),
    OB_V3: ("ob-v3p0-context-3.0.3.json", "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761"),
    OB_EXTENSIONS: (
        "ob-v3p0-extensions.json",
        "146f85aa16effd7ca1da8056eb443f53ce1eca8a34186cb062832c0a97d889c3",
    ),
}

# URL -> (file, sha256) of term definitions the publisher added in place to the context at that URL
# after our copy was taken. The upstream file stays byte-for-byte as published; these top-level terms
# are merged into its "@context" at load (verifier/src/verify.js does the same). 1EdTech added
# ``endorsementJwt`` to context-3.0.3.json in 2026; its IRI is the vocabulary's (ob_v3p0/vocab.ttl).
ADDED_TERMS: dict[str, tuple[str, str]] = {
    OB_V3: (
        "ob-v3p0-context-3.0.3-added-terms.json",
        "cc28a5665700cb175c063bb32032657e67c4cd81fb171bf0c8e91e425082d73c",
    ),
}


def _read_pinned(filename: str, digest: str) -> dict[str, Any]:
    data = resources.files("kit.data").joinpath("contexts", filename).read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise CanonicalizationError(f"bundled context {filename} does not match its pinned sha256")
    parsed: dict[str, Any] = json.loads(data)
    return parsed


@cache
def load_context(url: str) -> dict[str, Any]:
    """The parsed context document for ``url``; raises CanonicalizationError if it is not bundled."""
    try:
        filename, digest = BUNDLED[url]
    except KeyError:
        raise CanonicalizationError(
            f"context {url!r} is not bundled with credkit (contexts are never fetched)"
        ) from None
    parsed = _read_pinned(filename, digest)
    if url in ADDED_TERMS:
        added = _read_pinned(*ADDED_TERMS[url])["@context"]
        terms = parsed["@context"]
        already = sorted(set(added) & set(terms))
        if already:  # a newer upstream copy defines them itself: drop them from the added terms
            raise CanonicalizationError(f"bundled context {filename} already defines {', '.join(already)}")
        terms.update(added)
    return parsed


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """PyLD document loader that serves only the bundled contexts.

    The ``static`` tag lets PyLD keep the processed context in its shared cache; without it PyLD
    re-fetches and re-canonicalizes every context on every operation (a third of the signing time).
    PyLD may rewrite the document it gets, so it gets a copy.
    """
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": copy.deepcopy(load_context(url)),
        "tag": "static",
    }
