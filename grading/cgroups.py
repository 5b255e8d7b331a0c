"""The cgroups that bound each sandboxed execution as a whole: memory, processes and CPU.

Resource limits (``RLIMIT_*``) bound one process at a time; a notebook that forks four children
touching a GiB each passes every one of them. A cgroup bounds all the processes of one side of an
execution together, kernel memory (inodes, page cache, tmpfs pages) included.

The worker makes one folder per fork server under each controller it uses — cgroup v2's unified
hierarchy, or the v1 ``memory``, ``pids`` and ``cpu`` hierarchies — and binds them into the fork
server's sandbox at ``/opt/credkit-cgroup/<controller>``. Each side of each execution makes its own
cgroup there, sets its limits and moves in before anything of the learner's runs
(``_forkserver._join_cgroups``); it is removed when the side ends. A host without a cgroup the
grader may use cannot hold these limits: grading refuses unless told otherwise, loudly.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from kit.errors import SandboxError

__all__ = ["ServerCgroups", "CGROUPS_IN_SANDBOX"]

CGROUPS_IN_SANDBOX = "/opt/credkit-cgroup"
V1_CONTROLLERS = ("memory", "pids", "cpu")  # memory and pids are required, cpu where it exists
_serial = itertools.count()


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(filesystem type, mount point, options) of every cgroup mount of this process."""
    found = []
    with open("/proc/self/mounts") as fh:
        for line in fh:
            _, point, fstype, options, *_ = line.split()
            if fstype in ("cgroup", "cgroup2"):
                found.append((fstype, point.replace("\\040", " "), set(options.split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup in each hierarchy: controller (or ``""`` for v2) → path."""
    paths = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    return paths


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _sweep(parent: Path) -> None:
    """Remove the folders a grader that was killed (``kill -9``) left behind: its pid is gone."""
    for folder in parent.glob("credkit-*-*"):
        try:
            pid = int(folder.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            ServerCgroups({"stale": folder}).remove(tries=1)
        except (ValueError, OSError):
            continue


class ServerCgroups:
    """One fork server's cgroup folders: controller name in the sandbox → folder on the host."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.folders = folders

    @classmethod
    def make(cls) -> ServerCgroups:
        """Make this server's folders (v2 if it has the memory and pids controllers, else v1).
        Raises SandboxError saying what is missing when neither can be used."""
        name = f"credkit-{os.getpid()}-{next(_serial)}"
        own = _own_paths()
        mounts = _mounts()
        problems = []
        for fstype, point, _ in mounts:
            if fstype != "cgroup2":
                continue
            try:
                return cls({"unified": cls._make_v2(Path(point), own.get("", "/"), name)})
            except (OSError, SandboxError) as exc:
                problems.append(f"cgroup v2 at {point}: {exc}")
        v1 = {}
        for controller in V1_CONTROLLERS:
            point = next((p for t, p, opts in mounts if t == "cgroup" and controller in opts), None)
            if point is None or controller not in own:
                continue
            folder = Path(point) / own[controller].lstrip("/") / name
            _sweep(folder.parent)
            try:
                folder.mkdir(mode=0o700)
            except OSError as exc:
                problems.append(f"cgroup v1 {controller}: {exc.strerror} ({folder.parent})")
                continue
            v1[controller] = folder
        if "memory" in v1 and "pids" in v1:
            return cls(v1)
        cls(v1).remove()
        problems.append("no usable cgroup v1 memory and pids hierarchies")
        raise SandboxError("; ".join(problems))

    @staticmethod
    def _make_v2(point: Path, own: str, name: str) -> Path:
        # A cgroup with processes cannot also hand controllers to children (v2's "no internal
        # processes" rule), so the folder is a sibling of the grader's own cgroup, under its parent,
        # which hands out the controllers the grader's own cgroup has. At the root, enable them.
        if own == "/":
            parent = point
            available = (point / "cgroup.controllers").read_text().split()
            for controller in ("memory", "pids", "cpu"):
                if controller in available:
                    _write(point / "cgroup.subtree_control", f"+{controller}")
        else:
            parent = (point / own.lstrip("/")).parent
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        if not {"memory", "pids"} <= set(enabled):
            raise SandboxError(f"the memory and pids controllers are not enabled in {parent}")
        folder = parent / name
        _sweep(parent)
        folder.mkdir(mode=0o700)
        try:
            for controller in ("memory", "pids", "cpu"):
                if controller in enabled:
                    _write(folder / "cgroup.subtree_control", f"+{controller}")
        except OSError:
            folder.rmdir()
            raise
        return folder

    def bind_arguments(self) -> list[str]:
        """bubblewrap arguments that make the folders the fork server's (read-write)."""
        args = ["--perms", "0755", "--dir", CGROUPS_IN_SANDBOX]
        for controller, folder in sorted(self.folders.items()):
            args += ["--bind", str(folder), f"{CGROUPS_IN_SANDBOX}/{controller}"]
        return args

    def remove(self, tries: int = 100) -> None:
        """Remove the folders and any execution's cgroup left in them (a killed execution's).
        Called once the fork server is gone: every process in them is dead or dying."""
        for folder in self.folders.values():
            for _ in range(tries):
                try:
                    for child in folder.iterdir():
                        if child.is_dir():
                            child.rmdir()
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still being emptied
                    import time

                    time.sleep(0.02)
