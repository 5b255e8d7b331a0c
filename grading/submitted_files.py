"""Which files of a submission travel, and where.

A submission is read without following links: a symbolic link (to a file or a folder), a hard link,
a FIFO or a device in it is left out, so nothing outside the submission is ever read through it and no crash can
leave a copy of what it points at behind (nbgrader's own copy follows links).

Of the regular files, those a Python process started in their folder would run or import on start
are never copied into ``autograded/`` (so never into ``feedback/``): a kernel started there — the
instructor opening the notebook in Jupyter — would run them as the instructor. They still reach the
learner's own sandbox, where they run as the learner. The class (:func:`startup_reason`), at every
folder depth, since any folder can become a kernel's working directory:

- a module that would be imported in place of one Python can import: ``NAME.py`` (``.pyc``, ``.so``,
  …) or a package's ``NAME/__init__.py`` where ``NAME`` is a standard-library module, an installed
  top-level module (``ipykernel_launcher``, ``IPython``, ``zmq``, …), ``sitecustomize`` or
  ``usercustomize``;
- ``*.pth`` files, and anything under ``.ipython/``, ``.jupyter/``, ``.local/``, ``.config/`` or
  ``__pycache__/`` (IPython profiles and startup scripts, Jupyter config, the user site-packages);
- the configuration files the tools read from their working directory (``nbgrader_config.py``,
  ``ipython_*config.py``, ``jupyter_*config.py`` / ``.json``).

Only the files the instructor released reach the sandbox from ``source/``: the manifest's ``files``
for an assessment released with ``credkit release``, else the non-notebook files nbgrader put in
``release/<assessment>/`` (what learners were given anyway). Anything else in ``source/`` stays there.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import pkgutil
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kit.errors import ManifestError

from .sandbox import ExecutionFailed

__all__ = ["STARTUP_IGNORE", "LeftOut", "read_files", "keep_written", "startup_reason", "released_names", "is_listed"]

_STARTUP_DIRS = frozenset({".ipython", ".jupyter", ".local", ".config", "__pycache__"})
_CONFIG_FILES = ("*.pth", "nbgrader_config.py", "ipython_*config.py", "jupyter_*config.py", "jupyter_*config.json")
_MODULE_SUFFIXES = (".py", ".pyc", ".pyw", ".pyi", ".so", ".pyd")
# nbgrader's ignore globs for the hook, which cannot change how nbgrader copies: the names alone
STARTUP_IGNORE = [*sorted(_STARTUP_DIRS), *_CONFIG_FILES, "sitecustomize.*", "usercustomize.*", "ipykernel_launcher.*"]


@dataclass(frozen=True)
class LeftOut:
    """A file of the submission that was not copied, and why (for the grade summary)."""

    path: str  # relative to the submission folder
    why: str

    def __str__(self) -> str:
        # a learner names the files: control characters (terminal escapes) never reach the grader's terminal
        return f"{_printable(self.path)} ({_printable(self.why)})"


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


@functools.lru_cache(maxsize=1)
def _module_names() -> frozenset[str]:
    """Top-level modules this Python can import (the sandbox's kernel runs the same installation)."""
    here = os.path.abspath(os.getcwd())
    paths = [p for p in sys.path if p and os.path.isdir(p) and os.path.abspath(p) != here]
    installed = {m.name for m in pkgutil.iter_modules(paths)}
    return frozenset(set(sys.stdlib_module_names) | set(sys.builtin_module_names) | installed
                     | {"sitecustomize", "usercustomize", "ipykernel_launcher"})


def startup_reason(relative: str) -> str | None:
    """Why a Python or Jupyter process started in the submission would run ``relative``, or None."""
    parts = Path(relative).parts
    for folder in parts[:-1]:
        if folder in _STARTUP_DIRS:
            return f"{folder}/ is read by Python, IPython or Jupyter on start"
    name = parts[-1]
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in _CONFIG_FILES):
        return "read by Python, IPython, Jupyter or nbgrader on start"
    stem, _, _ = name.partition(".")
    if name.endswith(_MODULE_SUFFIXES):
        if stem == "__init__" and len(parts) > 1 and parts[-2] in _module_names():
            return f"would be imported in place of Python's module {parts[-2]!r}"
        if stem in _module_names():
            return f"would be imported in place of Python's module {stem!r}"
    return None


def _ignored(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _link_free(root: Path, base: Path) -> bool:
    """True when no folder from ``base`` down to ``root`` is a symbolic link."""
    relative = os.path.relpath(os.path.abspath(root), os.path.abspath(base))
    if relative == ".." or relative.startswith(".." + os.sep):
        return False
    return os.path.realpath(root) == os.path.normpath(os.path.join(os.path.realpath(base), relative))


def read_files(root: Path, patterns: list[str], budget: list[int], *, base: Path | None = None,
               keep: Callable[[str], bool] | None = None) -> tuple[dict[str, bytes], list[LeftOut]]:
    """Regular non-notebook files under ``root`` (relative path → bytes), never through a link, and
    what was left out for being a link or not a regular file.

    ``base``: a folder above ``root`` from which no component may be a link (a submission folder
    reached through a link yields nothing). ``keep``: read only the relative paths it accepts. ``budget`` (a one-item list, bytes) is shared across
    calls; ExecutionFailed when the files outgrow it.
    """
    files: dict[str, bytes] = {}
    left_out: list[LeftOut] = []
    if not root.exists() and not root.is_symlink():
        return files, left_out
    if root.is_symlink() or not root.is_dir() or (base is not None and not _link_free(root, base)):
        return files, [LeftOut(".", "the folder is reached through a symbolic link; nothing in it was read")]
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        kept = []
        for d in dirnames:
            if _ignored(d, patterns):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                left_out.append(LeftOut(os.path.relpath(os.path.join(dirpath, d), root), "a symbolic link"))
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in filenames:
            if _ignored(name, patterns) or name.endswith(".ipynb"):
                continue
            path = os.path.join(dirpath, name)
            relative = os.path.relpath(path, root)
            if keep is not None and not keep(relative):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:  # ELOOP: a link (or it went away): never followed
                left_out.append(LeftOut(relative, "a symbolic link" if os.path.islink(path) else "unreadable"))
                continue
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    left_out.append(LeftOut(relative, "not a regular file"))
                    continue
                if info.st_nlink > 1 and base is not None:  # another name for a file elsewhere
                    left_out.append(LeftOut(relative, "a hard link"))
                    continue
                with os.fdopen(fd, "rb", closefd=False) as fh:
                    data = fh.read(budget[0] + 1)
            finally:
                os.close(fd)
            budget[0] -= len(data)
            if budget[0] < 0:
                raise ExecutionFailed(f"the working copy is larger than the sandbox's disk ({root})")
            files[relative] = data
    return files, left_out


def is_listed(relative: str, listed: tuple[str, ...]) -> bool:
    """True when ``relative`` is one of ``listed`` or inside a listed folder."""
    return any(relative == name or relative.startswith(name.rstrip("/") + "/") for name in listed)


def released_names(course_root: str, assignment: str, release_folder: str, patterns: list[str]) -> tuple[str, ...]:
    """The source files the instructor released: the manifest's ``files`` (assessments released with
    ``credkit release``), else the non-notebook files in ``release/<assessment>/``."""
    from .course import REGISTRY

    def version(path: str) -> int:
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return 0

    # read once per release (each notebook of each submission asks)
    return _released_names(course_root, assignment, release_folder, tuple(patterns),
                           version(os.path.join(course_root, REGISTRY)), version(release_folder))


@functools.lru_cache(maxsize=64)
def _released_names(course_root: str, assignment: str, release_folder: str, patterns: tuple[str, ...],
                    *versions: int) -> tuple[str, ...]:
    from .course import released_assessment, released_ids

    root = Path(course_root)
    if assignment in released_ids(root):
        try:
            return tuple(os.path.normpath(name) for name in released_assessment(root, assignment).files)
        except ManifestError:
            pass  # moved or changed since release: what nbgrader released is still what learners have
    names: list[str] = []
    for dirpath, dirnames, filenames in os.walk(release_folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if not _ignored(d, list(patterns))]
        names += [os.path.relpath(os.path.join(dirpath, f), release_folder) for f in filenames
                  if not _ignored(f, list(patterns)) and not f.endswith(".ipynb")]
    return tuple(sorted(names))


def keep_written(dest: Path, written: dict[str, bytes], *, released: tuple[str, ...], patterns: list[str],
                 left_out: tuple[tuple[str, str], ...] = ()) -> list[LeftOut]:
    """Write the files a notebook's run created or changed into its ``autograded/`` folder ``dest``,
    by the rules submitted files follow; return those left out (with the sandbox's own ``left_out``),
    each marked as written while graded.

    Never a start-up file (:func:`startup_reason`), never a notebook, never over a file the
    instructor released or nbgrader's ``timestamp.txt``, never through a link or where a folder on
    the way is a file. ``patterns`` (the course's ignore globs, e.g. ``__pycache__``) are skipped
    quietly, as nbgrader skips them. Each file is written whole under a temporary name, then
    renamed. Nothing here trusts the sandbox: every path is checked again.
    """
    kept_out = [LeftOut(rel, f"written while graded; {why}") for rel, why in left_out]
    root = os.path.realpath(dest)
    for relative, data in sorted(written.items()):
        parts = relative.split("/")
        why = None
        if any(_ignored(part, patterns) for part in parts):
            continue
        if (not relative or "\0" in relative or os.path.isabs(relative)
                or os.path.normpath(relative) != relative or ".." in parts):
            why = "not a path inside the working copy"
        elif relative.endswith(".ipynb"):
            why = "a notebook; only the graded notebooks go to autograded/"
        elif is_listed(relative, released):
            why = "would replace a file the instructor released"
        elif relative == "timestamp.txt":
            why = "would replace nbgrader's timestamp.txt"
        else:
            why = startup_reason(relative) or _write_inside(root, parts, data)
        if why:
            kept_out.append(LeftOut(relative, f"written while graded; {why}"))
    return kept_out


def _write_inside(root: str, parts: list[str], data: bytes) -> str | None:
    """Write ``data`` at ``root/parts…`` without following a link; why not, or None when written."""
    folder = root
    for name in parts[:-1]:
        folder = os.path.join(folder, name)
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            os.mkdir(folder, 0o755)
            continue
        if not stat.S_ISDIR(info.st_mode):
            return "a folder on its path is a link or a file"
    target = os.path.join(folder, parts[-1])
    try:
        if not stat.S_ISREG(os.lstat(target).st_mode):
            return "would replace a link or a folder"
    except FileNotFoundError:
        pass
    fd, temporary = tempfile.mkstemp(prefix=".credkit-", dir=folder)  # O_EXCL: a name of its own
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), 0o644)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return None
