"""Build hook: bundles the static verify page (``verifier/`` → ``kit/data/verify.html``) into every build.

The page is built with npm from ``verifier/package-lock.json`` (``npm ci``, then esbuild), so a fresh
clone, an sdist and ``pip install`` all get it; it is rebuilt only when a source is newer.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PAGE = "kit/data/verify.html"


class VerifyPageHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        page, verifier = root / PAGE, root / "verifier"
        sources = [verifier / "package-lock.json", verifier / "build.mjs", *(verifier / "src").iterdir(), *(root / "kit/data/contexts").iterdir()]
        if not page.exists() or page.stat().st_mtime < max(p.stat().st_mtime for p in sources):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("building credkit needs Node.js and npm (for the verify page, kit/data/verify.html)")
            lock_stamp = verifier / "node_modules" / ".package-lock.json"
            if not lock_stamp.exists() or lock_stamp.stat().st_mtime < (verifier / "package-lock.json").stat().st_mtime:
                subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=verifier, check=True)
            subprocess.run([shutil.which("node") or "node", "build.mjs"], cwd=verifier, check=True)
        build_data["artifacts"].append(PAGE)
