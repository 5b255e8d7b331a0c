"""Reading an instructor's files for release without following links or opening special files.

``credkit release`` copies the files a manifest names into the course, and nbgrader then copies
everything in ``source/<assessment>/`` into ``release/`` for learners to fetch. A symbolic link
there (to the issuer's key, to ``/etc/passwd``) would be followed and its target published, and a
FIFO or device would hang the read. So every path is checked component by component with
``lstat``, and files are opened with ``O_NOFOLLOW`` and checked to be regular before reading.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from kit.errors import ManifestError

__all__ = ["link_problems", "read_regular", "regular_files", "tree_problems"]

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def _kind(mode: int) -> str | None:
    """Why a file of this mode is refused, or None for a regular file or folder."""
    if stat.S_ISLNK(mode):
        return "a symbolic link (credkit releases no file through a link: put the file itself there)"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"{_KINDS.get(stat.S_IFMT(mode), 'not a regular file')} (only regular files can be released)"


def tree_problems(root: Path) -> Iterator[str]:
    """One problem per link or special file at or below ``root`` (never followed)."""
    try:
        mode = os.lstat(root).st_mode
    except FileNotFoundError:
        return
    why = _kind(mode)
    if why:
        yield f"{root}: {why}"
        return
    if stat.S_ISDIR(mode):
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            yield from tree_problems(Path(entry.path))


def link_problems(folder: Path, names: Iterable[str]) -> list[str]:
    """Problems with the files a manifest names, relative to its ``folder``.

    Each name must stay inside the folder, and no component of it (nor anything below a named
    folder) may be a link or a special file.
    """
    problems: list[str] = []
    for name in names:
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            problems.append(f"{folder / name}: outside the assessment folder (give a path inside {folder})")
            continue
        here = folder
        for part in rel.parts[:-1]:
            here = here / part
            try:
                why = _kind(os.lstat(here).st_mode)
            except FileNotFoundError:
                break
            if why:
                problems.append(f"{here}: {why}")
                break
        else:
            problems.extend(tree_problems(folder / name))
    return list(dict.fromkeys(problems))


def regular_files(folder: Path, names: Iterable[str]) -> list[str]:
    """The regular files the names denote (a folder's files, recursively), relative to ``folder``."""
    out: list[str] = []
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            out.extend(str(p.relative_to(folder)) for p in sorted(path.rglob("*"))
                       if p.is_file() and not p.is_symlink())
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file, refusing a link or special file even if it appeared just now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", 40):
            raise ManifestError(f"{path}: {_kind(stat.S_IFLNK)}") from None
        raise ManifestError(f"{path}: cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        why = _kind(os.fstat(handle.fileno()).st_mode)
        if why or stat.S_ISDIR(os.fstat(handle.fileno()).st_mode):
            raise ManifestError(f"{path}: {why or 'a folder, not a file'}")
        return handle.read()
