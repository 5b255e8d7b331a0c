"""Badge artwork: a clean, legible badge for any credential, drawn from its name, skills and a colour.

The same design comes as SVG (:func:`badge_svg`, the artwork shipped with a track and shown in the
Credentials panel) and PNG (:func:`badge_png`, that SVG rendered with resvg, for baking into a PNG badge):
a hexagonal medal in the credential's colour, the credential's initials, a ribbon with its name,
and its skills underneath. Output is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import re
import subprocess
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["PALETTE", "badge_png", "badge_svg", "colour_for", "credential_artwork_inputs", "renders_alone", "svg_to_png",
           "undrawable"]

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
    """The same badge as :func:`badge_svg`, rendered as a 512×512 PNG: the SVG artwork itself, so
    the two never differ (see :func:`svg_to_png`)."""
    return svg_to_png(badge_svg(name, skills, colour, issuer=issuer))


def svg_to_png(svg: str) -> bytes:
    """Render SVG artwork as a PNG, 512 pixels wide, with resvg (the library made for rendering
    static SVG: no scripts, no network) and the installed fonts, falling back from font to font so
    that any script the fonts cover is drawn (Latin, Arabic, CJK: see tools/system-packages.sh).
    Raises ValueError for SVG it cannot render. Deterministic: the same SVG gives the same bytes."""
    import resvg_py  # only rendering a PNG needs it

    return bytes(resvg_py.svg_to_bytes(svg_string=svg, width=SIZE, font_family="DejaVu Sans",
                                       sans_serif_family="DejaVu Sans"))


def renders_alone(svg: str) -> bool:
    """True when SVG artwork refers to nothing outside itself (no external image or file), so it
    can be rendered as it is."""
    return re.search(r"""href\s*=\s*["'](?!#|data:)""", svg) is None


@functools.lru_cache(maxsize=1)
def _font_coverage() -> tuple[tuple[int, int], ...]:
    """The code point ranges some installed font draws (fontconfig's charsets), merged."""
    try:
        out = subprocess.run(["fc-list", "--format", "%{charset}\n"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    ranges = []
    for item in out.split():
        low, _, high = item.partition("-")
        try:
            ranges.append((int(low, 16), int(high or low, 16)))
        except ValueError:
            continue
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def undrawable(*texts: str | None) -> str:
    """The characters of ``texts`` that no installed font draws (they would be left blank), in
    order of first appearance; "" when fontconfig cannot be asked."""
    coverage = _font_coverage()
    if not coverage:
        return ""
    starts = [low for low, _ in coverage]
    missing: dict[str, None] = {}
    for ch in "".join(t for t in texts if t):
        if ch.isspace() or ch in missing:
            continue
        i = bisect.bisect_right(starts, ord(ch)) - 1
        if i < 0 or ord(ch) > coverage[i][1]:
            missing[ch] = None
    return "".join(missing)


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
