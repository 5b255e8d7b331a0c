"""Baked badges: PNG iTXt and SVG <openbadges:credential>, checked with independent parsers."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image

from kit.artwork import badge_png, badge_svg, colour_for, credential_artwork_inputs
from kit.baking import OB_NAMESPACE, bake, bake_png, bake_svg, unbake
from kit.errors import InvalidCredential

CREDENTIAL = json.dumps(
    {
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Tricky ]]> text, é, \u2713 and </openbadges:credential>",
        "credentialSubject": {"achievement": {"name": "Data Cleaning", "resultDescription": [{"name": "Load data"}]}},
    }
)


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    pos, out = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        out.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


@pytest.fixture(scope="module")
def png() -> bytes:
    return badge_png("Data Cleaning", ["Load data", "Handle missing values"], "#1f6feb")


def test_png_round_trip_readable_by_pillow(png: bytes) -> None:
    baked = bake_png(png, CREDENTIAL)
    assert unbake(baked) == CREDENTIAL
    image = Image.open(io.BytesIO(baked))
    image.load()  # Pillow checks every CRC and decodes the pixels
    assert image.text["openbadgecredential"] == CREDENTIAL
    assert image.size == (512, 512)


def test_png_chunk_is_uncompressed_itxt_right_after_ihdr(png: bytes) -> None:
    chunks = _chunks(bake_png(png, CREDENTIAL))
    assert chunks[0][0] == b"IHDR" and chunks[1][0] == b"iTXt"
    assert chunks[1][1] == b"openbadgecredential\x00\x00\x00\x00\x00" + CREDENTIAL.encode()


def test_png_rebake_replaces_the_credential(png: bytes) -> None:
    other = json.dumps({"id": "urn:uuid:2"})
    baked = bake_png(bake_png(png, CREDENTIAL), other)
    assert [c for c, d in _chunks(baked)].count(b"iTXt") == 1
    assert unbake(baked) == other


def test_png_two_credentials_refused(png: bytes) -> None:
    baked = bake_png(png, CREDENTIAL)
    chunks = _chunks(baked)
    dup = b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(d)) + c + d + struct.pack(">I", zlib.crc32(c + d)) for c, d in [chunks[0], chunks[1], *chunks[1:]]
    )
    with pytest.raises(InvalidCredential, match="2 openbadgecredential chunks"):
        unbake(dup)


def test_png_corrupt_crc_refused(png: bytes) -> None:
    baked = bytearray(bake_png(png, CREDENTIAL))
    baked[60] ^= 0x01  # a byte inside the credential text
    with pytest.raises(InvalidCredential, match="CRC mismatch"):
        unbake(bytes(baked))


def test_png_without_credential_and_compressed_refused(png: bytes) -> None:
    with pytest.raises(InvalidCredential, match="carries no credential"):
        unbake(png)
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("openbadgecredential", CREDENTIAL, zip=True)
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).save(out, format="PNG", pnginfo=info)
    with pytest.raises(InvalidCredential, match="compressed"):
        unbake(out.getvalue())


def test_svg_round_trip_namespace_and_position() -> None:
    svg = badge_svg("Data Cleaning", ["Load data"], "#1f6feb")
    baked = bake_svg(svg, CREDENTIAL)
    # ">" inside JSON strings is written \u003e, so "]]>" never ends the one CDATA section early
    assert "]]>" not in baked.split("<![CDATA[", 1)[1].rsplit("]]>", 1)[0]
    assert baked.count("<![CDATA[") == 1
    assert json.loads(unbake(baked.encode())) == json.loads(CREDENTIAL)
    root = etree.fromstring(baked.encode())
    assert root.nsmap["openbadges"] == OB_NAMESPACE
    first = root[0]
    assert first.tag == f"{{{OB_NAMESPACE}}}credential"
    assert json.loads(first.text) == json.loads(CREDENTIAL)
    assert len(root.findall(f".//{{{OB_NAMESPACE}}}credential")) == 1
    rebaked = bake_svg(baked, json.dumps({"id": "urn:uuid:2"}))
    assert rebaked.count("<openbadges:credential>") == 1
    assert rebaked.count('xmlns:openbadges="') == 1
    assert json.loads(unbake(rebaked.encode())) == {"id": "urn:uuid:2"}


def test_svg_with_prolog_and_self_closing_root() -> None:
    svg = '<?xml version="1.0"?>\n<!-- art -->\n<svg xmlns="http://www.w3.org/2000/svg" width="10"/>'
    baked = bake_svg(svg, CREDENTIAL)
    assert baked.startswith('<?xml version="1.0"?>\n<!-- art -->\n<svg ')
    assert json.loads(unbake(baked.encode())) == json.loads(CREDENTIAL)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a....", "neither a PNG nor an SVG"),
        (b"", "neither a PNG nor an SVG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><g></svg>", "not a well-formed SVG"),
        (b"<?xml version='1.0'?><html><svg/></html>", "not an SVG image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "truncated"),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
            "entities",
        ),
    ],
)
def test_unbake_refuses_what_is_not_a_badge(data: bytes, message: str) -> None:
    with pytest.raises(InvalidCredential, match=message):
        unbake(data)


def test_bake_refuses_non_json_and_dispatches_by_content(png: bytes) -> None:
    with pytest.raises(InvalidCredential, match="not valid JSON"):
        bake(png, "eyJhbGciOi.not-json")
    assert bake(png, CREDENTIAL).startswith(b"\x89PNG")
    assert b"<openbadges:credential>" in bake(badge_svg("X", []).encode(), CREDENTIAL)


def test_artwork_inputs_and_colour_are_stable() -> None:
    doc = json.loads(CREDENTIAL)
    doc["issuer"] = {"name": "Example University"}
    doc["credentialSubject"]["achievement"]["id"] = "https://example.edu/achievements/clean"
    name, skills, colour, issuer = credential_artwork_inputs(doc)
    assert (name, skills, issuer) == ("Data Cleaning", ["Load data"], "Example University")
    assert colour == colour_for("https://example.edu/achievements/clean")
    svg = badge_svg(name, skills, colour, issuer=issuer)
    assert svg == badge_svg(name, skills, colour, issuer=issuer)
    assert "Data Cleaning" in svg and "Load data" in svg and colour not in ("#808080",)
    etree.fromstring(svg.encode())
    with pytest.raises(ValueError, match="#rrggbb"):
        badge_svg("X", [], "red")


def test_cli_bake_png_and_svg(tmp_path, png: bytes) -> None:
    cred = tmp_path / "c.json"
    cred.write_text(CREDENTIAL, encoding="utf-8")
    (tmp_path / "in.png").write_bytes(png)
    cli = [str(Path(sys.executable).with_name("credkit"))]
    for args, out in (
        (["--image", str(tmp_path / "in.png")], tmp_path / "out.png"),
        ([], tmp_path / "drawn.svg"),
        ([], tmp_path / "drawn.png"),
    ):
        result = subprocess.run([*cli, "bake", str(cred), *args, "--out", str(out)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert json.loads(unbake(out.read_bytes())) == json.loads(CREDENTIAL)
        assert out.stat().st_mode & 0o777 == 0o644  # a badge is for sharing, like wallet files
    bad = subprocess.run(
        [*cli, "bake", str(cred), "--image", str(cred), "--out", str(tmp_path / "x.png")], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "neither a PNG nor an SVG" in bad.stderr and "Traceback" not in bad.stderr


def _signed_credential() -> str:
    from kit.credentials import IssuerProfile, build_credential
    from kit.keys import IssuerKey
    from kit.proofs import sign
    from tests.helpers import SAMPLE_ISSUER_ARGS, sample_award

    key = IssuerKey.generate()
    return json.dumps(sign(build_credential(sample_award(), IssuerProfile(**SAMPLE_ISSUER_ARGS), key.did), key), indent=2)


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_baked_signed_credential_verifies_and_altered_one_does_not(tmp_path: Path, kind: str) -> None:
    text = _signed_credential()
    art = badge_png("pandas", ["groupby"]) if kind == "png" else badge_svg("pandas", ["groupby"]).encode()
    good = tmp_path / f"good.{kind}"
    good.write_bytes(bake(art, text))
    # the learner edits the baked credential: a higher score, re-baked with correct CRCs
    altered = tmp_path / f"altered.{kind}"
    altered.write_bytes(bake(good.read_bytes(), text.replace('"value": "8"', '"value": "10"')))
    assert unbake(altered.read_bytes()) != text
    credkit = str(Path(sys.executable).with_name("credkit"))
    ok = subprocess.run([credkit, "verify", str(good), "--json"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["status"] == "verified"
    bad = subprocess.run([credkit, "verify", str(altered), "--json"], capture_output=True, text=True)
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["status"] == "invalid"
    assert [c["check"] for c in report["checks"] if c["passed"] is False][0] == "proof"


def test_cli_artwork(tmp_path: Path) -> None:
    credkit = str(Path(sys.executable).with_name("credkit"))
    out = tmp_path / "badge.svg"
    result = subprocess.run(
        [credkit, "artwork", "Data Cleaning", "--skill", "Load data", "--skill", "Handle missing values", "--colour", "#0a7d5a", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    root = etree.fromstring(out.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert out.read_text() == badge_svg("Data Cleaning", ["Load data", "Handle missing values"], "#0a7d5a")
    assert out.read_text() != badge_svg("Data Cleaning", ["Load data", "Handle missing values"], "#1f6feb")
    bad = subprocess.run([credkit, "artwork", "X", "--colour", "green", "--out", str(tmp_path / "x.svg")], capture_output=True, text=True)
    assert bad.returncode == 2 and "#rrggbb" in bad.stderr
