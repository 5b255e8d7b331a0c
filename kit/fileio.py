"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kit.errors import CredkitError

__all__ = ["write_atomic", "fault_point", "FAULT_ENV", "WriteFailed"]


class WriteFailed(OSError, CredkitError):
    """A file could not be written (full disk, read-only or missing folder); names the file.

    Still an OSError, so callers that handle a failed write keep doing so.
    """

    def __init__(self, path: Path, exc: OSError) -> None:
        super().__init__(exc.errno, exc.strerror or exc.__class__.__name__)
        self.filename = str(path)
        self.message = f"{path}: cannot write ({exc.strerror or exc.__class__.__name__}); it was not written"

    def __str__(self) -> str:
        return self.message

    def diagnostics(self) -> str:
        return self.message

# Crash tests set this to a step name; the process then dies there as if killed (os._exit, no
# cleanup), so a rerun can be checked for duplicates and losses. Unset in normal use.
FAULT_ENV = "CREDKIT_TEST_FAULT"


def fault_point_active(name: str) -> bool:
    return os.environ.get(FAULT_ENV) == name


def crash(name: str) -> None:
    os.write(2, f"credkit: test fault injected at {name}\n".encode())
    os._exit(86)


def fault_point(name: str) -> None:
    """Die here, like a killed process, when the crash tests ask for it."""
    if fault_point_active(name):
        crash(name)


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync, then ``os.replace``.

    ``mode`` is applied before any byte is written, so a secret never exists with looser permissions.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:200]}.", suffix=".tmp")  # NAME_MAX: 255
    except OSError as exc:
        raise WriteFailed(target, exc) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            if fault_point_active("mid-write"):
                handle.write(payload[: len(payload) // 2])
                handle.flush()
                crash("mid-write")
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, WriteFailed):
            raise WriteFailed(target, exc) from None
        raise
