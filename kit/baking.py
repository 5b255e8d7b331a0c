"""Baked badges: an Open Badges 3.0 credential carried inside its own badge image.

PNG: one uncompressed ``iTXt`` chunk with the keyword ``openbadgecredential`` (PNG spec §11.3.4.5,
OB 3.0 §5.3.1). SVG: the ``openbadges`` namespace declared on the root and one
``<openbadges:credential>`` element, first child of ``<svg>``, holding the JSON in CDATA.

Baking replaces a credential already in the image, so an image carries exactly one. Unbaking only
extracts the text; whether it is a valid credential is for :mod:`kit.verify` to say.
"""

from __future__ import annotations

import json
import re
import struct
import xml.etree.ElementTree as ET
import zlib

from kit.errors import InvalidCredential

__all__ = [
    "OB_NAMESPACE",
    "PNG_KEYWORD",
    "bake",
    "bake_png",
    "bake_svg",
    "image_kind",
    "unbake",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"openbadgecredential"
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"

# A badge is a small image; refusing huge inputs keeps unbake cheap on whatever a learner uploads.
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def _check_credential_text(credential_json: str) -> None:
    from kit.limits import parse_json

    document = parse_json(credential_json, source="cannot bake: the credential", error=InvalidCredential)
    if not isinstance(document, dict):
        raise InvalidCredential("cannot bake: the credential is not a JSON object")


# --- PNG -------------------------------------------------------------------------------------------


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, data) chunks, checking the signature, lengths and every CRC."""
    if not png.startswith(PNG_SIGNATURE):
        raise InvalidCredential("not a PNG image (bad signature)")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while pos < len(png):
        if pos + 8 > len(png):
            raise InvalidCredential("PNG image is truncated (incomplete chunk header)")
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        ctype = png[pos + 4 : pos + 8]
        end = pos + 8 + length
        if length > 0x7FFFFFFF or end + 4 > len(png):
            raise InvalidCredential(f"PNG image is truncated in a {ctype!r} chunk")
        data = png[pos + 8 : end]
        (crc,) = struct.unpack(">I", png[end : end + 4])
        if zlib.crc32(ctype + data) != crc:
            raise InvalidCredential(f"PNG image is corrupt: CRC mismatch in a {ctype!r} chunk")
        chunks.append((ctype, data))
        pos = end + 4
        if ctype == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR":
        raise InvalidCredential("PNG image is corrupt: IHDR is not the first chunk")
    if chunks[-1][0] != b"IEND":
        raise InvalidCredential("PNG image is truncated (no IEND chunk)")
    return chunks


def _png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _is_credential_itxt(ctype: bytes, data: bytes) -> bool:
    return ctype == b"iTXt" and data.split(b"\x00", 1)[0] == PNG_KEYWORD


def _itxt_text(data: bytes) -> str:
    """The text of an iTXt chunk: keyword\\0 flag method language\\0 translated\\0 text."""
    try:
        _keyword, rest = data.split(b"\x00", 1)
        compressed, method = rest[0], rest[1]
        _language, rest = rest[2:].split(b"\x00", 1)
        _translated, text = rest.split(b"\x00", 1)
    except (ValueError, IndexError) as exc:
        raise InvalidCredential("PNG openbadgecredential chunk is malformed") from exc
    if compressed:
        # OB 3.0 §5.3.1: the chunk MUST NOT be compressed.
        raise InvalidCredential(
            f"PNG openbadgecredential chunk is compressed (method {method}); Open Badges 3.0 requires it uncompressed"
        )
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidCredential("PNG openbadgecredential chunk is not UTF-8") from exc


def bake_png(png: bytes, credential_json: str) -> bytes:
    """Return ``png`` with ``credential_json`` in its one ``openbadgecredential`` iTXt chunk.

    Raises InvalidCredential when the image is not a well-formed PNG or the credential not JSON.
    """
    _check_credential_text(credential_json)
    chunks = _png_chunks(png)
    # keyword, NUL, compression flag 0, method 0, empty language tag + NUL, empty translation + NUL.
    itxt = PNG_KEYWORD + b"\x00" + b"\x00\x00" + b"\x00" + b"\x00" + credential_json.encode("utf-8")
    out = [PNG_SIGNATURE]
    for ctype, data in chunks:
        if _is_credential_itxt(ctype, data):
            continue
        out.append(_png_chunk(ctype, data))
        if ctype == b"IHDR":
            out.append(_png_chunk(b"iTXt", itxt))
    return b"".join(out)


def _unbake_png(png: bytes) -> str:
    found = [data for ctype, data in _png_chunks(png) if _is_credential_itxt(ctype, data)]
    if not found:
        raise InvalidCredential("PNG image carries no credential (no openbadgecredential iTXt chunk)")
    if len(found) > 1:
        raise InvalidCredential(f"PNG image carries {len(found)} openbadgecredential chunks; exactly one is allowed")
    return _itxt_text(found[0])


# --- SVG -------------------------------------------------------------------------------------------

# The <svg> start tag, after an optional XML declaration, comments, processing instructions and doctype.
_SVG_START = re.compile(
    r"\A(?P<prolog>(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*)"
    r"(?P<tag><svg\b(?P<attrs>(?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(?P<close>/?)>)",
    re.DOTALL,
)
# An existing credential element, its CDATA taken as a unit so JSON text inside cannot end it early.
_SVG_CREDENTIAL = re.compile(
    r"\s*<openbadges:credential\b[^>]*?(?:/>|>(?:<!\[CDATA\[.*?\]\]>|[^<])*</openbadges:credential>)",
    re.DOTALL,
)
_NS_DECL = re.compile(r"""\sxmlns:openbadges\s*=\s*(["'])(?P<uri>.*?)\1""")


def _parse_svg(svg: str) -> ET.Element:
    if re.search(r"<!ENTITY", svg):
        raise InvalidCredential("SVG image declares XML entities; refused")
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        raise InvalidCredential(f"not a well-formed SVG image ({exc})") from exc
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise InvalidCredential(f"not an SVG image (root element is {root.tag!r})")
    return root


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA. Splitting the section is valid XML, but a reader that takes
    # only the first CDATA section (as simple badge readers do) then gets half the JSON. In JSON text ">" can
    # only stand inside a string, where "\u003e" is the same character: the JSON value, and so
    # the signed credential, is unchanged, and "]]>" can no longer occur.
    return "<![CDATA[" + text.replace(">", "\\u003e") + "]]>"


def bake_svg(svg: str, credential_json: str) -> str:
    """Return ``svg`` with ``credential_json`` in its one ``<openbadges:credential>`` element.

    Raises InvalidCredential when the image is not a well-formed SVG or the credential not JSON.
    """
    _check_credential_text(credential_json)
    _parse_svg(svg)
    body = _SVG_CREDENTIAL.sub("", svg)
    match = _SVG_START.match(body)
    if match is None:
        raise InvalidCredential("SVG image: cannot find the <svg> start tag")
    attrs = match.group("attrs")
    declared = _NS_DECL.search(attrs)
    if declared and declared.group("uri") != OB_NAMESPACE:
        raise InvalidCredential(f"SVG image binds the prefix openbadges to {declared.group('uri')!r}, not {OB_NAMESPACE}")
    if not declared:
        attrs = f'{attrs.rstrip()} xmlns:openbadges="{OB_NAMESPACE}"'
    element = f"<openbadges:credential>{_cdata(credential_json)}</openbadges:credential>"
    if match.group("close"):
        start = f"<svg{attrs}>{element}</svg>"
    else:
        start = f"<svg{attrs}>{element}"
    baked = body[: match.start("tag")] + start + body[match.end("tag") :]
    _unbake_svg(baked)  # exactly one credential element, and the document still parses
    return baked


def _unbake_svg(svg: str) -> str:
    root = _parse_svg(svg)
    found = root.findall(f".//{{{OB_NAMESPACE}}}credential")
    if not found:
        raise InvalidCredential("SVG image carries no credential (no <openbadges:credential> element)")
    if len(found) > 1:
        raise InvalidCredential(f"SVG image carries {len(found)} <openbadges:credential> elements; exactly one is allowed")
    # no strip(): the text round-trips byte for byte (JSON ignores any whitespace a baker added)
    return "".join(found[0].itertext())


# --- either ----------------------------------------------------------------------------------------


def image_kind(data: bytes) -> str:
    """``"png"`` or ``"svg"`` by content (never by file name); raises InvalidCredential otherwise."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith((b"<?xml", b"<svg", b"<!--", b"<!DOCTYPE svg")) and b"<svg" in data[:65536]:
        return "svg"
    raise InvalidCredential("not a baked badge: the file is neither a PNG nor an SVG image")


def bake(image: bytes, credential_json: str) -> bytes:
    """Bake into a PNG or SVG image given as bytes, whichever it is."""
    if image_kind(image) == "png":
        return bake_png(image, credential_json)
    return bake_svg(_decode_svg(image), credential_json).encode("utf-8")


def _decode_svg(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidCredential("SVG image is not UTF-8") from exc


def unbake(data: bytes) -> str:
    """The credential text baked into a PNG or SVG badge image.

    Raises InvalidCredential when the data is neither image type, is corrupt, or carries no credential
    or more than one.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidCredential(f"badge image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB; refused")
    if image_kind(data) == "png":
        return _unbake_png(data)
    return _unbake_svg(_decode_svg(data))
