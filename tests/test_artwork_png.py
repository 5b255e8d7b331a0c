"""PNG badges: the SVG artwork itself rendered with resvg and the installed fonts, so every script the
badge's text uses is drawn, the PNG and the SVG never differ, and a character no font covers is named."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from credkit_jupyter.wallet import Wallet
from kit.artwork import badge_png, badge_svg, svg_to_png, undrawable

CREDKIT = Path(sys.executable).with_name("credkit")
RIBBON = (48, 282, 464, 334)  # the title's band on the ribbon (one line of title)


def _ink(png: bytes, box: tuple[int, int, int, int] = RIBBON) -> int:
    """White text pixels in ``box`` (the ribbon is dark: only glyphs are near white)."""
    image = Image.open(io.BytesIO(png)).convert("RGB").crop(box)
    return sum(1 for r, g, b in image.get_flattened_data() if min(r, g, b) > 200)


@pytest.mark.parametrize("title", ["Universität Zürich", "数据科学入门", "علم البيانات", "Ελληνικά Кириллица"])
def test_every_script_of_the_title_is_drawn(title: str) -> None:
    assert undrawable(title) == ""
    drawn = badge_png(title, ["Pandas"], "#0a7d5a")
    blank = badge_png(" ", ["Pandas"], "#0a7d5a")
    assert Image.open(io.BytesIO(drawn)).size == (512, 512)
    assert _ink(blank) == 0 and _ink(drawn) > 300, (title, _ink(drawn))
    # The same text with the system's fonts withheld (only the Latin DejaVu face): CJK and Arabic go
    # blank, as they went to boxes with Pillow's default font before — the fonts are what draws them.
    import resvg_py

    dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    latin_only = bytes(resvg_py.svg_to_bytes(svg_string=badge_svg(title, ["Pandas"], "#0a7d5a"), width=512,
                                             skip_system_fonts=True, font_files=[dejavu]))
    if any(ord(c) > 0x2000 for c in title):
        assert _ink(latin_only) < _ink(drawn) / 2


def test_the_png_is_the_svg_artwork(tmp_path: Path) -> None:
    """The downloaded PNG of a credential that carries SVG artwork is that artwork, not a redrawing
    in another colour."""
    svg = badge_svg("Data Wrangling", ["Pandas"], "#0a7d5a", issuer="Northbridge")
    document = {"credentialSubject": {"achievement": {
        "id": "https://example.edu/achievements/wrangling", "name": "Data Wrangling",
        "image": {"id": "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(), "type": "Image"}}},
        "issuer": {"name": "Northbridge"}}
    wallet = Wallet(root=tmp_path / "w", learner="ada")
    png = wallet.artwork(document, "png")
    assert png == svg_to_png(svg)
    assert wallet.artwork(document, "svg") == svg.encode()
    assert badge_png("Data Wrangling", ["Pandas"], "#0a7d5a", issuer="Northbridge") == png


def test_a_character_no_font_draws_is_named(tmp_path: Path) -> None:
    out = tmp_path / "badge.png"
    proc = subprocess.run([str(CREDKIT), "artwork", "Hieroglyphs \U00013000", "--skill", "Reading", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "no installed font draws '\U00013000'" in proc.stderr, proc.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    quiet = subprocess.run([str(CREDKIT), "artwork", "Universität 数据", "--out", str(tmp_path / "ok.png")],
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "no installed font" not in quiet.stderr
