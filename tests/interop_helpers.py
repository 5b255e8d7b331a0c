"""Run the independent Node verifier (Digital Bazaar's libraries, tests/interop) from the tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

INTEROP = Path(__file__).parent / "interop"


def node(script: str, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``node tests/interop/SCRIPT ARGS`` (``env`` added to the environment); the interop tests fail (never skip) without Node."""
    executable = shutil.which("node")
    assert executable, "Node.js is required for the interop tests (make test installs the npm packages)"
    assert (INTEROP / "node_modules").is_dir(), "run `npm ci` in tests/interop (make test does)"
    return subprocess.run(
        [executable, str(INTEROP / script), *args], capture_output=True, text=True, input=input, timeout=300,
        env={**os.environ, **env} if env else None,
    )


def node_verify(*files: Path, status_lists: dict[str, Path] | None = None) -> list[dict[str, Any]]:
    """One result object per file from the independent verifier."""
    args = [arg for url, path in (status_lists or {}).items() for arg in ("--status-list", f"{url}={path}")]
    result = node("verify.mjs", *args, *map(str, files))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(files), result.stdout + result.stderr
    return lines
