"""Badge artwork: a clean, legible badge for any credential, drawn from its name, skills and a colour.

The same design comes as SVG (:func:`badge_svg`, the artwork shipped with a track and shown in the
Credentials panel) and PNG (:func:`badge_png`, drawn with Pillow, for baking into a PNG badge):
a hexagonal medal in the credential's colour, the credential's initials, a ribbon with its name,
and its skills underneath. Output is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["PALETTE", "badge_png", "badge_svg", "colour_for", "credential_artwork_inputs"]

# Accessible mid-tone colours: white text on each has a contrast ratio of at least 4.5:1.
PALETTE = ("#1f6feb", "#8250df", "#bf3989", "#0a7d5a", "#b35900", "#cf222e", "#116f8c", "#5a4fcf")

SIZE = 512
_HEX_RADIUS = 244
_CENTRE = SIZE / 2

_COLOUR = re.compile(r"\A#[0-9a-fA-F]{6}\Z")


def colour_for(key: str) -> str:
    """A palette colour chosen stably from ``key`` (a credential id or name)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def _check_colour(colour: str) -> str:
    if not _COLOUR.match(colour):
        raise ValueError(f"colour must be #rrggbb, got {colour!r}")
    return colour.lower()


def _shade(colour: str, factor: float) -> str:
    """Darken (factor < 1) or lighten (factor > 1, towards white) an #rrggbb colour."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    if factor <= 1:
        out = [round(c * factor) for c in rgb]
    else:
        out = [round(c + (255 - c) * (factor - 1)) for c in rgb]
    return "#" + "".join(f"{min(255, max(0, c)):02x}" for c in out)


def _initials(name: str) -> str:
    words = [w for w in re.split(r"[^\w]+", name) if w and w[0].isalnum()]
    skip = {"and", "of", "the", "in", "for", "with", "to", "a", "an"}
    picked = [w for w in words if w.lower() not in skip] or words or ["?"]
    return "".join(w[0] for w in picked[:3]).upper()


def _wrap(text: str, max_chars: int, max_lines: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if len(candidate) <= max_chars or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, max_chars - 1)].rstrip() + "…"
    return [line if len(line) <= max_chars else line[: max_chars - 1] + "…" for line in lines]


def _hexagon(radius: float) -> list[tuple[float, float]]:
    return [
        (_CENTRE + radius * math.cos(math.radians(60 * i)), _CENTRE + radius * math.sin(math.radians(60 * i)))
        for i in range(6)
    ]


def _layout(name: str, skills: Sequence[str]) -> dict[str, Any]:
    title_lines = _wrap(name, 20, 2)
    title_size = 30 if len(title_lines) == 1 else 25
    shown = list(skills[:3])
    if len(skills) > 3:
        shown[-1] = f"+ {len(skills) - 2} more skills"
    skill_lines = [_wrap(s, 28, 1)[0] for s in shown]
    return {
        "initials": _initials(name),
        "title_lines": title_lines,
        "title_size": title_size,
        "skill_lines": skill_lines,
    }


def badge_svg(name: str, skills: Sequence[str], colour: str | None = None, *, issuer: str | None = None) -> str:
    """An SVG badge (512×512) for a credential called ``name`` certifying ``skills``."""
    colour = _check_colour(colour or colour_for(name))
    light, dark, darker = _shade(colour, 1.25), _shade(colour, 0.72), _shade(colour, 0.5)
    lay = _layout(name, skills)
    outer = " ".join(f"{x:.1f},{y:.1f}" for x, y in _hexagon(_HEX_RADIUS))
    inner = " ".join(f"{x:.1f},{y:.1f}" for x, y in _hexagon(_HEX_RADIUS - 18))
    title_text = []
    ribbon_h = 54 if len(lay["title_lines"]) == 1 else 84
    ribbon_y = 280
    first_baseline = ribbon_y + (ribbon_h - lay["title_size"] * 1.15 * len(lay["title_lines"])) / 2 + lay["title_size"] * 0.92
    for i, line in enumerate(lay["title_lines"]):
        y = first_baseline + i * lay["title_size"] * 1.15
        title_text.append(f'<tspan x="256" y="{y:.1f}">{escape(line)}</tspan>')
    skills_y = ribbon_y + ribbon_h + 28
    skill_text = "".join(
        f'<text x="256" y="{skills_y + 22 * i}" class="skill">{escape(line)}</text>' for i, line in enumerate(lay["skill_lines"])
    )
    label = f"{name} — skills: {', '.join(skills)}" if skills else name
    issuer_text = f'<text x="256" y="94" class="issuer">{escape(_wrap(issuer, 22, 1)[0])}</text>' if issuer else ""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512" role="img" '
        f'aria-label="{escape(label, {chr(34): "&quot;"})}">'
        f"<title>{escape(label)}</title>"
        "<defs>"
        f'<linearGradient id="face" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{light}"/>'
        f'<stop offset="1" stop-color="{dark}"/></linearGradient>'
        f'<linearGradient id="ribbon" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{darker}"/>'
        f'<stop offset="1" stop-color="{_shade(colour, 0.4)}"/></linearGradient>'
        "<style>text{font-family:'DejaVu Sans','Helvetica Neue',Arial,sans-serif;fill:#fff;text-anchor:middle}"
        ".initials{font-size:84px;font-weight:700;letter-spacing:4px}"
        f".title{{font-size:{lay['title_size']}px;font-weight:700}}"
        ".skill{font-size:17px;fill-opacity:.92}.issuer{font-size:16px;fill-opacity:.85;letter-spacing:1px}</style>"
        "</defs>"
        f'<polygon points="{outer}" fill="{darker}"/>'
        f'<polygon points="{inner}" fill="url(#face)" stroke="#ffffff" stroke-opacity=".55" stroke-width="4"/>'
        '<circle cx="256" cy="192" r="72" fill="#ffffff" fill-opacity=".16" stroke="#ffffff" stroke-opacity=".7" stroke-width="3"/>'
        f'<text x="256" y="223" class="initials">{escape(lay["initials"])}</text>'
        f"{issuer_text}"
        f'<path d="M14 {ribbon_y + 10} L48 {ribbon_y} L48 {ribbon_y + ribbon_h} L14 {ribbon_y + ribbon_h + 10} L30 {ribbon_y + ribbon_h / 2 + 5} Z" fill="{_shade(colour, 0.35)}"/>'
        f'<path d="M498 {ribbon_y + 10} L464 {ribbon_y} L464 {ribbon_y + ribbon_h} L498 {ribbon_y + ribbon_h + 10} L482 {ribbon_y + ribbon_h / 2 + 5} Z" fill="{_shade(colour, 0.35)}"/>'
        f'<rect x="40" y="{ribbon_y}" width="432" height="{ribbon_h}" rx="6" fill="url(#ribbon)"/>'
        f'<text class="title">{"".join(title_text)}</text>'
        f"{skill_text}"
        "</svg>"
    )


def badge_png(name: str, skills: Sequence[str], colour: str | None = None, *, issuer: str | None = None) -> bytes:
    """The same badge as :func:`badge_svg`, drawn as a 512×512 PNG with Pillow."""
    from PIL import Image, ImageDraw, ImageFont  # only baking a PNG needs Pillow

    colour = _check_colour(colour or colour_for(name))
    light, dark, darker = _shade(colour, 1.25), _shade(colour, 0.72), _shade(colour, 0.5)
    lay = _layout(name, skills)

    def rgb(c: str) -> tuple[int, int, int]:
        return (int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16))

    scale = 2  # draw at twice the size, then downsample: smooth edges without antialiasing support
    big = SIZE * scale
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)

    def pts(radius: float) -> list[tuple[float, float]]:
        return [(x * scale, y * scale) for x, y in _hexagon(radius)]

    draw.polygon(pts(_HEX_RADIUS), fill=rgb(darker))
    # vertical gradient clipped to the inner hexagon
    gradient = Image.new("RGBA", (big, big))
    top, bottom = rgb(light), rgb(dark)
    gdraw = ImageDraw.Draw(gradient)
    for y in range(big):
        t = y / (big - 1)
        gdraw.line([(0, y), (big, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).polygon(pts(_HEX_RADIUS - 18), fill=255)
    img.paste(gradient, (0, 0), mask)
    draw.polygon(pts(_HEX_RADIUS - 18), outline=(255, 255, 255, 140), width=4 * scale)

    overlay = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    odraw = ImageDraw.Draw(overlay)
    cx, cy, r = 256 * scale, 192 * scale, 72 * scale
    odraw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 255, 255, 41), outline=(255, 255, 255, 179), width=3 * scale)
    img = Image.alpha_composite(img, overlay)
    draw = ImageDraw.Draw(img)

    def font(size: int) -> Any:
        return ImageFont.load_default(size=size * scale)

    def centred(text: str, baseline: float, size: int, fill: tuple[int, ...] = (255, 255, 255, 255)) -> None:
        draw.text((256 * scale, baseline * scale), text, font=font(size), fill=fill, anchor="ms")

    centred(lay["initials"], 223, 84)
    if issuer:
        centred(_wrap(issuer, 22, 1)[0], 94, 16, (255, 255, 255, 217))
    ribbon_h = 54 if len(lay["title_lines"]) == 1 else 84
    ribbon_y = 280
    tail = rgb(_shade(colour, 0.35))
    for left, edge, notch in ((True, 14, 30), (False, 498, 482)):
        inner_x = 48 if left else 464
        poly = [
            (edge, ribbon_y + 10),
            (inner_x, ribbon_y),
            (inner_x, ribbon_y + ribbon_h),
            (edge, ribbon_y + ribbon_h + 10),
            (notch, ribbon_y + ribbon_h / 2 + 5),
        ]
        draw.polygon([(x * scale, y * scale) for x, y in poly], fill=tail)
    draw.rounded_rectangle(
        [40 * scale, ribbon_y * scale, 472 * scale, (ribbon_y + ribbon_h) * scale], radius=6 * scale, fill=rgb(darker)
    )
    size = lay["title_size"]
    first = ribbon_y + (ribbon_h - size * 1.15 * len(lay["title_lines"])) / 2 + size * 0.92
    for i, line in enumerate(lay["title_lines"]):
        centred(line, first + i * size * 1.15, size)
    for i, line in enumerate(lay["skill_lines"]):
        centred(line, ribbon_y + ribbon_h + 28 + 22 * i, 17, (255, 255, 255, 235))

    out = io.BytesIO()
    img.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=False)
    return out.getvalue()


def credential_artwork_inputs(document: dict[str, Any]) -> tuple[str, list[str], str, str | None]:
    """(name, skill names, colour, issuer name) for a credential document, for the badge drawings.

    Skill names are the credential's results' descriptions (``credentialSubject.achievement.
    resultDescription``), falling back to its alignments' names; the colour derives from the
    achievement id, so every copy of one credential gets the same colour.
    """
    subject = document.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {} if isinstance(subject, dict) else {}
    name = str(achievement.get("name") or document.get("name") or "Credential")
    skills: list[str] = [
        str(rd.get("name")) for rd in achievement.get("resultDescription") or [] if isinstance(rd, dict) and rd.get("name")
    ]
    if not skills:
        skills = [str(al.get("targetName")) for al in achievement.get("alignment") or [] if isinstance(al, dict) and al.get("targetName")]
    issuer = document.get("issuer")
    issuer_name = issuer.get("name") if isinstance(issuer, dict) else None
    key = str(achievement.get("id") or name)
    return name, skills, colour_for(key), (str(issuer_name) if issuer_name else None)
