"""Run a README section's code blocks verbatim: the tests of the instructors' step-by-step paths.

The blocks of one section are taken in order; ``sh`` blocks run in bash (``set -e``) from a given
folder, ``toml`` and ``python`` blocks are handed to the caller, which says where they go.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"

_BLOCK = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    """The README's text under the heading ``title`` (to the next heading of the same level)."""
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"^(#+) {re.escape(title)}\n", text, re.MULTILINE)
    assert m, f"README has no section {title!r}"
    level = len(m.group(1))
    end = re.search(rf"^#{{1,{level}}} ", text[m.end():], re.MULTILINE)
    return text[m.end(): m.end() + end.start() if end else len(text)]


def blocks(title: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block of a README section, indentation removed."""
    out = []
    for m in _BLOCK.finditer(section(title)):
        indent = len(m.group(1))
        code = "".join(line[indent:] if line[:indent].strip() == "" else line
                       for line in m.group(3).splitlines(keepends=True))
        out.append((m.group(2), code))
    return out


def instructor_env(home: Path) -> dict[str, str]:
    """A new instructor's shell: their own home, this checkout's credkit and nbgrader on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "CREDKIT", "NBGRADER", "PYTEST", "VIRTUAL_ENV"))}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_sh(code: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run one sh block as typed; AssertionError with its output when a command fails."""
    proc = subprocess.run(["bash", "-e", "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"README block failed ({proc.returncode}):\n{code}\n--- stdout\n{proc.stdout}"
                             f"\n--- stderr\n{proc.stderr[-4000:]}")
    return proc
