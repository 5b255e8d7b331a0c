"""Draw the badge artwork of every credential of a track, from its manifests, with kit.artwork.

    .venv/bin/python tools/track_badges.py assessments/python-data-analysis

Each credential's (and each stack's) ``image`` in the manifest names the file to draw; the drawing
shows the credential's name, the names of the skills it requires (for a stack: its components) and
the issuer. Colours: one per assessment, in the order of the assessments' folders, and one for
stacked credentials, so a learner sees at a glance which assessment a badge comes from.
tests/lab/test_track_badges.py checks the committed files are what this draws.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from kit.artwork import PALETTE, badge_svg

STACK_COLOUR = "#b35900"


def _issuer_label(name: str) -> str:
    return name.split(",")[0].strip()


def planned(track: Path) -> dict[Path, str]:
    """Path of each badge image the track's manifests name → the SVG it should hold."""
    track_data = tomllib.loads((track / "track.toml").read_text(encoding="utf-8"))
    issuer = _issuer_label(track_data["issuer"]["name"])
    out: dict[Path, str] = {}
    names_by_id: dict[str, str] = {}
    manifests = sorted(track.glob("*/manifest.toml"))
    for index, manifest in enumerate(manifests):
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        colour = PALETTE[index % len(PALETTE)]
        skills = data.get("skills", {})
        for credential in data.get("credentials", {}).values():
            names_by_id[credential["id"]] = credential["name"]
            image = credential.get("image")
            if not image or "://" in image or image.startswith("data:"):
                continue
            skill_names = [skills[s]["name"] for s in credential.get("requires", {})]
            out[manifest.parent / image] = badge_svg(credential["name"], skill_names, colour, issuer=issuer)
    for stack in track_data.get("stacks", {}).values():
        image = stack.get("image")
        if image and "://" not in image and not image.startswith("data:"):
            components = [names_by_id.get(c, c) for c in stack.get("components", [])]
            out[track / image] = badge_svg(stack["name"], components, STACK_COLOUR, issuer=issuer)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for path, svg in planned(Path(argv[0])).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
