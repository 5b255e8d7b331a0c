"""Canonical forms for Data Integrity proofs: RDFC-1.0 N-Quads (via PyLD) and RFC 8785 JCS.

PyLD is the JSON-LD processor; this module closes its gaps (shared/notes/credentials.md):

1. RDFC-1.0 escaping. PyLD escapes only ``\\ \\t \\n \\r "`` in literals; RDFC-1.0 also escapes
   ``\\b``, ``\\f`` and every other control character as ``\\uXXXX``. The escaping affects blank-node
   hashes as well as the output, so both are done here with the correct serializer.
2. No safe mode. Terms missing from the contexts are dropped silently and relative IRIs are kept,
   so they would go unsigned. ``strict=True`` refuses both.
3. ``base`` is always None, so relative IRIs never resolve against PyLD's example base.
4. No work limit. Crafted blank-node graphs make canonicalization exponential; ``max_work`` bounds
   the Hash N-Degree Quads calls and the dataset's size.
"""

from __future__ import annotations

import re
from typing import Any

import rfc8785
from pyld import jsonld
from pyld.canon import URDNA2015
from pyld.identifier_issuer import IdentifierIssuer

from kit.contexts import document_loader
from kit.errors import CanonicalizationError

__all__ = ["check_terms", "canonicalize_rdfc", "canonicalize_jcs", "serialize_nquad", "escape_literal", "DEFAULT_MAX_WORK"]

# Generous for any real credential (a 20-skill credential has a few dozen blank nodes and
# needs no N-degree hashing at all); small enough that a crafted graph fails in well under a second.
DEFAULT_MAX_WORK = 2_000
MAX_QUADS = 20_000

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_ESCAPES = {i: f"\\u{i:04X}" for i in range(0x20)}
_ESCAPES.update({0x7F: "\\u007F", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"})
_ESCAPES.update({0x22: '\\"', 0x5C: "\\\\"})

_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def escape_literal(value: str) -> str:
    """Escape a literal's lexical form as RDFC-1.0 canonical N-Quads requires."""
    return value.translate(_ESCAPES)


def _term(term: dict[str, Any]) -> str:
    if term["type"] == "IRI":
        return f"<{term['value']}>"
    return str(term["value"])


def serialize_nquad(quad: dict[str, Any]) -> str:
    """One canonical N-Quads line (with its newline) for a PyLD quad dict."""
    obj = quad["object"]
    if obj["type"] == "literal":
        out = f'"{escape_literal(obj["value"])}"'
        if obj["datatype"] == _RDF_LANGSTRING:
            if obj.get("language"):
                out += "@" + obj["language"]
        elif obj["datatype"] != _XSD_STRING:
            out += f"^^<{obj['datatype']}>"
    else:
        out = _term(obj)
    line = f"{_term(quad['subject'])} {_term(quad['predicate'])} {out}"
    name = quad.get("name")
    if name is not None and name.get("value") is not None:
        line += " " + _term(name)
    return line + " .\n"


class _RDFC10(URDNA2015):
    """PyLD's URDNA2015 with RDFC-1.0's escaping and a bound on the work it may do."""

    def __init__(self, max_work: int) -> None:
        super().__init__()
        self._budget = max_work

    def hash_first_degree_quads(self, id_: str) -> str:
        info = self.blank_node_info[id_]
        if "hash" in info:
            return str(info["hash"])
        lines = []
        for quad in info["quads"]:
            copy = {
                key: self.modify_first_degree_component(id_, component, key) if key != "predicate" else component
                for key, component in quad.items()
            }
            lines.append(serialize_nquad(copy))
        lines.sort()
        info["hash"] = self.hash_nquads(lines)
        return str(info["hash"])

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise CanonicalizationError("canonicalization exceeded its work bound (a crafted blank-node graph?)")
        return super().hash_n_degree_quads(id_, issuer)

    def canonical_nquads(self, dataset: dict[str, Any]) -> str:
        # PyLD's main() labels the blank nodes in place (and serializes with its own escaping,
        # which we discard); we then serialize the relabelled quads correctly.
        self.main(dataset, {"format": "application/n-quads"})
        return "".join(sorted(serialize_nquad(quad) for quad in self.quads))


def _check_absolute(expanded: Any, path: str = "$") -> None:
    """Refuse relative IRIs in ``@id`` / ``@type`` of an expanded document (they would go unsigned)."""
    if isinstance(expanded, list):
        for i, item in enumerate(expanded):
            _check_absolute(item, f"{path}[{i}]")
    elif isinstance(expanded, dict):
        if "@value" in expanded:
            return
        node_id = expanded.get("@id")
        if isinstance(node_id, str) and not node_id.startswith("_:") and not _ABSOLUTE_IRI.match(node_id):
            raise CanonicalizationError(f"relative IRI {node_id!r} as an id; every id must be an absolute IRI")
        for node_type in expanded.get("@type", []) if isinstance(expanded.get("@type"), list) else []:
            if not _ABSOLUTE_IRI.match(node_type):
                raise CanonicalizationError(f"type {node_type!r} is not defined by the credential's contexts")
        for key, value in expanded.items():
            if key not in ("@id", "@type"):
                _check_absolute(value, f"{path}.{key}")


_OPTIONS = {
    "base": None,
    "documentLoader": document_loader,
    "produceGeneralizedRdf": False,
    "processingMode": "json-ld-1.1",
    "rdfDirection": None,
}


def _expand(processor: jsonld.JsonLdProcessor, document: Any, dropped: list[str], *, strict: bool) -> Any:
    expanded = processor.expand(document, dict(_OPTIONS))
    if strict:
        if dropped:
            names = ", ".join(sorted(set(dropped)))
            raise CanonicalizationError(f"property {names} is not defined by the credential's contexts")
        _check_absolute(expanded)
    return expanded


def _to_dataset(processor: jsonld.JsonLdProcessor, expanded: Any) -> dict[str, Any]:
    """The RDF dataset of an already expanded document.

    This is the tail of PyLD's ``to_rdf`` (3.3.0, pinned); calling ``to_rdf`` itself would expand
    the document a second time, which costs as much as the rest of canonicalization.
    """
    issuer = IdentifierIssuer("_:b")
    node_map: dict[str, Any] = {"@default": {}}
    processor._create_node_map(expanded, node_map, "@default", issuer)
    dataset = {}
    for graph_name, graph in sorted(node_map.items()):
        if graph_name == "@default" or jsonld._is_absolute_iri(graph_name):
            dataset[graph_name] = processor._graph_to_rdf(graph, issuer, dict(_OPTIONS))
    return dataset


def check_terms(document: dict[str, Any]) -> None:
    """Raise CanonicalizationError if JSON-LD would drop a property or keep a relative IRI."""
    dropped: list[str] = []
    processor = jsonld.JsonLdProcessor(on_property_dropped=lambda prop: dropped.append(str(prop)))
    try:
        _expand(processor, document, dropped, strict=True)
    except jsonld.JsonLdError as exc:
        raise CanonicalizationError(f"JSON-LD processing failed: {_root_cause(exc)}") from exc


def canonicalize_rdfc(document: dict[str, Any], *, strict: bool = True, max_work: int = DEFAULT_MAX_WORK) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, contexts from the bundle only.

    With ``strict`` (the default) a property the contexts do not define or a relative IRI raises
    CanonicalizationError instead of being silently left out of what is signed.
    """
    dropped: list[str] = []
    processor = jsonld.JsonLdProcessor(on_property_dropped=lambda prop: dropped.append(str(prop)))
    try:
        expanded = _expand(processor, document, dropped, strict=strict)
        dataset = _to_dataset(processor, expanded)
    except CanonicalizationError:
        raise
    except jsonld.JsonLdError as exc:
        raise CanonicalizationError(f"JSON-LD processing failed: {_root_cause(exc)}") from exc
    if sum(len(quads) for quads in dataset.values()) > MAX_QUADS:
        raise CanonicalizationError(f"document has more than {MAX_QUADS} statements; refusing to canonicalize")
    return _RDFC10(max_work).canonical_nquads(dataset)


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, CanonicalizationError):
        return str(exc)
    message = getattr(exc, "message", None) or str(exc)
    return str(message).splitlines()[0]


def canonicalize_jcs(document: Any) -> bytes:
    """RFC 8785 JSON Canonicalization Scheme bytes of ``document``."""
    try:
        return rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"cannot canonicalize as JCS: {exc}") from exc
