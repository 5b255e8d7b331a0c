"""One credkit run at a time on a course: grading, issuing and status changes hold the course lock.

The lock is an ``flock`` on ``<course>/credkit/run.lock``, so the kernel releases it when the holder
dies (Ctrl-C, ``kill -9``, a power cut): a stale lock never blocks the next run. The file holds the
holder's pid, host and start time, which a refused run names in its one-line error. Within one
process the lock is re-entrant (``credkit grade`` holds it and issues under it).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from kit.errors import CredkitError

__all__ = ["CourseBusy", "course_lock", "lock_path"]

_held: dict[Path, int] = {}  # lock file -> depth, for re-entry from the same process


class CourseBusy(CredkitError):
    """Another credkit run holds the course."""


def lock_path(course_root: Path) -> Path:
    return Path(course_root).resolve() / "credkit" / "run.lock"


@contextmanager
def course_lock(course_root: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the course for this run; raises CourseBusy naming the holder if ``wait`` seconds pass."""
    path = lock_path(course_root)
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: a sandbox process started from this one must not inherit (and so keep) the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise CourseBusy(f"{path}: cannot open the course lock ({exc.strerror or exc.__class__.__name__})") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CourseBusy(f"{Path(course_root).resolve()}: another credkit run holds this course ({_holder(path)}); "
                                     "wait for it to finish, or stop it and run again") from None
                time.sleep(0.2)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode() + b"\n", 0)
        _held[path] = 1
        try:
            yield
        finally:
            del _held[path]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {int(holder['pid'])} on {holder['host']} since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
