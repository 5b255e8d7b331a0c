"""The shipped track's badge artwork: one drawing per credential, current with the manifests."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
TRACK = ROOT / "assessments" / "python-data-analysis"


def _tool():
    spec = importlib.util.spec_from_file_location("track_badges", ROOT / "tools" / "track_badges.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_credential_has_its_own_current_artwork() -> None:
    planned = _tool().planned(TRACK)
    credentials = [
        (manifest, c)
        for manifest in sorted(TRACK.glob("*/manifest.toml"))
        for c in tomllib.loads(manifest.read_text()).get("credentials", {}).values()
    ]
    assert len(credentials) >= 12
    images = {manifest.parent / c["image"] for manifest, c in credentials}
    assert len(images) == len(credentials), "two credentials share one image"
    assert images <= set(planned)
    for path, svg in planned.items():
        assert path.read_text(encoding="utf-8") == svg, f"{path} is stale: run tools/track_badges.py"
        root = etree.fromstring(svg.encode())
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for manifest, credential in credentials:
        svg = (manifest.parent / credential["image"]).read_text(encoding="utf-8")
        assert etree.fromstring(svg.encode()).findtext("{http://www.w3.org/2000/svg}title").startswith(credential["name"])
