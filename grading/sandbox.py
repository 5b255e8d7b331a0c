"""The sandbox in which learner code runs: namespaces, tmpfs, limits and one unprivileged user per
worker slot, forked from a preloaded fork server that lives in a bubblewrap sandbox of its own.

Each notebook runs as a pair: the learner's side executes every cell but the autograded test cells
in the learner's kernel; the checker's side, as another user in namespaces of its own, executes the
test cells in a kernel of its own, reaching learner values only through the data-only bridge
(``_bridge.py``), and is the only source of the outputs that score. Each side gets:

- a fresh mount namespace holding only the Python installation (read-only), a read-only copy of
  the runner, and two size-capped tmpfs (the private working copy and ``/tmp``) — no course
  directory, gradebook, source, other submissions, key file or home directory exists in it;
- fresh PID, IPC, UTS, cgroup and network namespaces (loopback only: no network);
- a real unprivileged user of its own (``credkit-slot<N>`` for the learner, ``credkit-check<N>`` for
  the checker), so ``RLIMIT_NPROC`` bounds a fork bomb to its slot and nothing the learner starts
  can signal the checker or the grader's processes;
- a scrubbed environment, no capabilities, ``no_new_privs``;
- ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``, no core dumps;
- a per-cell timeout, a total wall-clock deadline, and an output budget enforced while it runs.

When the execution ends (or is killed) the PID namespace goes with it, taking every process the
learner started. The fork server (``_forkserver.py``) has the runner's and the kernel's imports done
once, so an execution starts with a few forks rather than two interpreters and their imports.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pwd
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kit.errors import SandboxError

from .cgroups import ServerCgroups

__all__ = ["Job", "Limits", "Reply", "Sandbox", "WarmPool", "ExecutionFailed", "Launched", "Execution", "ForkServer", "UnsafePair",
           "SLOT_USER_PREFIX", "CHECKER_USER_PREFIX"]

SLOT_USER_PREFIX = "credkit-slot"
CHECKER_USER_PREFIX = "credkit-check"
RUNNER = Path(__file__).with_name("_runner.py")
BRIDGE = Path(__file__).with_name("_bridge.py")
FORKSERVER = Path(__file__).with_name("_forkserver.py")
LOCK_DIR = Path("/run/credkit")
WORKDIR = "/home/learner"
CHECKDIR = "/home/checker"  # the checker's working directory (see _forkserver.py)
CHECK_LAYERS = "/opt/credkit-check"


@dataclass(frozen=True)
class Limits:
    """What one sandboxed execution (one notebook) may use. Every field has a sane default."""

    cell_timeout: int = 30
    startup_timeout: int = 60
    total_timeout: int = 600
    cpu_seconds: int = 300
    memory_bytes: int = 2 * 1024**3  # each process (RLIMIT_AS), and each side as a whole (cgroup)
    processes: int = 128  # each side's processes and threads (RLIMIT_NPROC, cgroup pids)
    cpus: float = 0.0  # each side's CPU share, in cores (cgroup CPU quota); 0: no quota
    inodes: int = 16_384  # files and folders on each tmpfs (the working copy, /tmp)
    file_bytes: int = 64 * 1024**2
    disk_bytes: int = 256 * 1024**2
    output_bytes: int = 4 * 1024**2
    written_bytes: int = 4 * 1024**2  # files the notebook writes that reach autograded/, in all
    open_files: int = 256
    interrupt_grace: int = 10  # seconds a cell may ignore the interrupt at its timeout before it is killed; 0: never
    # Refuse to grade where per-execution cgroups cannot be made (False: run without, loudly).
    cgroup_limits: bool = True
    bridge_bytes: int = 64 * 1024**2  # largest value that crosses the bridge in one reply
    extra_arguments: tuple[str, ...] = field(default_factory=tuple)
    # Modules the fork server imports once, before forking, so executions start with them loaded.
    preload: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """One notebook to execute: the sanitized notebook text, the learner's working copy, the
    instructor's released files (the checker's, pristine) and the test cells not to run, each as
    (cell index, error name, why): they get that error as their output and score zero (a test cell
    missing from the submission, one the checker cannot judge)."""

    notebook: str
    files: dict[str, bytes]
    released: dict[str, bytes] = field(default_factory=dict)
    refused: tuple[tuple[int, str, str], ...] = ()
    modules: tuple[tuple[str, str], ...] = ()  # (name, module) the instructor's notebook imports


class ExecutionFailed(SandboxError):
    """This submission's execution failed (limit hit, kernel dead, bad reply); the batch goes on."""


def runner_settings(limits: Limits) -> str:
    """The unsandboxed runner's argument: what it needs before its request arrives (to start the
    kernel ahead of time). A forked runner reads the same keys from the limits it was forked with."""
    return json.dumps({"extra_arguments": list(limits.extra_arguments),
                       "startup_timeout": limits.startup_timeout, "cell_timeout": limits.cell_timeout,
                       "bridge_bytes": limits.bridge_bytes, "output_bytes": limits.output_bytes})


def _encode_files(files: dict[str, bytes]) -> list[list[str]]:
    return [[rel, base64.b64encode(data).decode()] for rel, data in sorted(files.items())]


def runner_requests(job: Job, limits: Limits) -> tuple[bytes, bytes]:
    """The two requests of one notebook: the learner's side gets the working copy and nothing of
    the notebook (its cells come one by one from the checker, never a test cell); the checker's
    side gets the whole sanitized notebook, the released files, the test cells not to run and the
    names the instructor's notebook binds to modules."""
    learner = json.dumps({
        "files": _encode_files(job.files),
        "cell_timeout": limits.cell_timeout,
        "output_limit": limits.output_bytes,
        "interrupt_grace": limits.interrupt_grace,
    }).encode()
    checker = json.dumps({
        "notebook": job.notebook,
        "files": _encode_files(job.released),
        "refused": [list(r) for r in job.refused],
        "modules": dict(job.modules),
        "cell_timeout": limits.cell_timeout,
        "output_limit": limits.output_bytes,
        "interrupt_grace": limits.interrupt_grace,
        "bridge_bytes": limits.bridge_bytes,
        "written_bytes": written_budget(limits),
        "written_files": WRITTEN_FILES,
    }).encode()
    return learner, checker


WRITTEN_FILES = 1_000  # most files a notebook's run may add to autograded/
WRITTEN_BYTES_MAX = 32 * 1024**2  # they travel base64-encoded in one control frame of FRAME_LIMIT (64 MiB)
LEFT_OUT_NAMED = 100  # written files left out that a reply names one by one


@dataclass(frozen=True)
class Reply:
    """What an execution returns: the executed notebook text, the files its run created or changed
    in the working copy (relative path → bytes, within the written budget) and the written files
    left out, each (relative path, why). Nothing in it is trusted: the grader checks every path
    again before writing (submitted_files.keep_written)."""

    notebook: str
    written: dict[str, bytes] = field(default_factory=dict)
    left_out: tuple[tuple[str, str], ...] = ()


def parse_reply(out: bytes, returncode: int | None) -> Reply:
    """The executed notebook and written files from the runner's reply, or ExecutionFailed saying why not."""
    try:
        reply = json.loads(out)
    except ValueError:
        raise ExecutionFailed(
            f"the sandbox returned no reply (exit status {returncode}; "
            "the runner was killed or hit a limit)"
        ) from None
    if not isinstance(reply, dict) or not reply.get("ok") or not isinstance(reply.get("notebook"), str):
        reason = reply.get("reason") if isinstance(reply, dict) else None
        raise ExecutionFailed(f"execution failed in the sandbox: {str(reason)[:300]}")
    written: dict[str, bytes] = {}
    left_out: list[tuple[str, str]] = []
    try:
        for rel, b64 in reply.get("written", []):
            if not isinstance(rel, str) or not isinstance(b64, str) or rel in written:
                raise ValueError(rel)
            written[rel] = base64.b64decode(b64, validate=True)
        for rel, why in reply.get("left_out", [])[:LEFT_OUT_NAMED + 1]:
            left_out.append((str(rel)[:300], str(why)[:300]))
    except (TypeError, ValueError):  # a malformed list (binascii.Error is a ValueError)
        written, left_out = {}, [(".", "the sandbox's list of written files was malformed; none was kept")]
    return Reply(reply["notebook"], written, tuple(left_out))


def reply_cap(request: bytes, limits: Limits) -> int:
    # The reply holds the notebook plus at most both sides' output budgets (JSON-escaped, so doubled),
    # and the written files (base64: 4/3 of their size) with the names of those left out.
    return 2 * len(request) + 8 * limits.output_bytes + 2 * written_budget(limits) + 2 * 1024**2


def written_budget(limits: Limits) -> int:
    """Bytes of written files one execution may return (the setting, at most WRITTEN_BYTES_MAX)."""
    return max(0, min(limits.written_bytes, WRITTEN_BYTES_MAX))


class Launched:
    """A sandbox started ahead of its request: the runner has (or is) starting its kernel."""

    def __init__(self, proc: Execution, slot: int, lock: int, limits: Limits) -> None:
        self.proc = proc
        self.slot = slot
        self.lock = lock
        self.limits = limits

    def discard(self) -> None:
        _kill(self.proc)
        os.close(self.lock)


def _no_cgroups(why: str) -> str:
    return (f"cannot set up the grading sandbox: no cgroup to bound each execution's memory and processes "
            f"as a whole ({why}); grade on a host that delegates one (README: Grading safely), or pass "
            "--unsafe-no-cgroup-limits to grade with per-process limits only")


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class Sandbox:
    """Runs the in-sandbox runner for one notebook at a time on a worker slot.

    Construct with :meth:`Sandbox.create`, which checks that the sandbox can be set up here and
    raises :class:`SandboxError` if not.
    """

    def __init__(self, *, bwrap: str) -> None:
        self._bwrap = bwrap
        self._server: ForkServer | None = None
        self._server_lock = threading.Lock()

    @staticmethod
    def check_cgroups() -> None:
        """Raise SandboxError, saying what to do, when this host cannot give each execution its
        own cgroup (see grading/cgroups.py)."""
        try:
            ServerCgroups.make().remove()
        except SandboxError as exc:
            raise SandboxError(_no_cgroups(str(exc))) from None

    @classmethod
    def create(cls) -> Sandbox:
        """Find the tools and the privileges the sandbox needs; raise SandboxError if any is missing."""
        if sys.platform != "linux":
            raise SandboxError("the grading sandbox needs Linux (bubblewrap, namespaces)")
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxError("cannot set up the grading sandbox: bwrap not found (install bubblewrap)")
        if os.geteuid() != 0:
            raise SandboxError(
                "cannot set up the grading sandbox: it needs root to run each worker slot as its "
                "own unprivileged user (credkit-slot<N>)"
            )
        return cls(bwrap=bwrap)

    # -- slots -----------------------------------------------------------------------------------

    @staticmethod
    def _slot_user(slot: int, prefix: str = SLOT_USER_PREFIX) -> tuple[int, int]:
        name = f"{prefix}{slot}"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            proc = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--user-group",
                 "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                capture_output=True, text=True,
            )
            if proc.returncode not in (0, 9):  # 9: created meanwhile by another worker
                raise SandboxError(f"cannot create sandbox user {name}: {proc.stderr.strip()}")
            entry = pwd.getpwnam(name)
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise SandboxError(f"sandbox user {name} must not be root")
        return entry.pw_uid, entry.pw_gid

    def acquire_slot(self, max_slots: int = 256) -> tuple[int, int]:
        """Lock a free slot (across processes on this machine); returns (slot, lock fd)."""
        LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            for slot in range(max_slots):
                fd = os.open(LOCK_DIR / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return slot, fd
            time.sleep(0.05)

    @staticmethod
    def release_slot(fd: int) -> None:
        os.close(fd)

    # -- command line ----------------------------------------------------------------------------

    def server_command(self, control_fd: int, cgroups: ServerCgroups | None = None) -> list[str]:
        """The bubblewrap sandbox the fork server lives in: the read-only Python installation and
        the runner, nothing of the course or the grader, no network. Each execution forked from
        it adds namespaces, tmpfs, limits and an unprivileged user of its own (see _forkserver.py).
        """
        args = [
            self._bwrap,
            # No cgroup namespace for the server: each side moves itself into its own cgroup (a
            # sibling of the server's) and only then unshares one, so it sees nothing above it.
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--new-session",
            # Root with its capabilities, inside: the server needs them to build each execution's
            # namespaces and to become the slot's user. Learner code never runs with them.
            "--cap-add", "ALL",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc",
            "--dev", "/dev",
        ]
        for name in ("ld.so.cache", "localtime", "fonts", "mime.types"):
            if os.path.exists(f"/etc/{name}"):
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        args += ["--perms", "1777", "--dir", "/tmp", "--perms", "0755", "--dir", WORKDIR,
                 "--perms", "0755", "--dir", CHECKDIR, "--perms", "0755", "--dir", CHECK_LAYERS]
        made: set[str] = {"/tmp", *_ancestors(WORKDIR + "/x"), *_ancestors(CHECKDIR + "/x"),
                          *_ancestors(CHECK_LAYERS + "/x")}  # already there: leave their modes alone
        for prefix in self.prefixes():
            if prefix.startswith("/usr/") or prefix == "/usr":
                continue
            for parent in _ancestors(prefix + "/x"):
                if parent not in made:
                    made.add(parent)
                    args += ["--perms", "0755", "--dir", parent]
            args += ["--ro-bind", prefix, prefix]
        if cgroups is not None:
            args += cgroups.bind_arguments()
        args += [
            "--perms", "0755", "--dir", "/opt/credkit",
            "--ro-bind", str(RUNNER), "/opt/credkit/runner.py",
            "--ro-bind", str(BRIDGE), "/opt/credkit/bridge.py",
            "--ro-bind", str(FORKSERVER), "/opt/credkit/forkserver.py",
            "--chdir", "/",
            os.path.join(sys.prefix, "bin", "python"), "-I", "/opt/credkit/forkserver.py", str(control_fd),
        ]
        return args

    @staticmethod
    def prefixes() -> list[str]:
        """The Python installation's directories (the venv and the interpreter it was made from)."""
        return sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)})

    @staticmethod
    def environment() -> dict[str, str]:
        """The whole environment learner code sees: nothing of the grader's."""
        return {
            "PATH": f"{os.path.join(sys.prefix, 'bin')}:/usr/bin:/bin",
            "HOME": WORKDIR,
            "USER": "learner",
            "LOGNAME": "learner",
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
            "IPYTHONDIR": "/tmp/.ipython",
            "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter-runtime",
            "JUPYTER_CONFIG_DIR": "/tmp/.jupyter",
            "JUPYTER_DATA_DIR": "/tmp/.jupyter-data",
            "JUPYTER_PLATFORM_DIRS": "1",
            "MPLCONFIGDIR": "/tmp/.matplotlib",
            "MPLBACKEND": "agg",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    # -- one execution ---------------------------------------------------------------------------

    def launch(self, limits: Limits) -> Launched:
        """Start a sandbox on a free slot; its runner starts a kernel and waits for a request."""
        slot, lock = self.acquire_slot()
        try:
            learner = self._slot_user(slot)
            checker = self._slot_user(slot, CHECKER_USER_PREFIX)
            with self._server_lock:
                if self._server is None or not self._server.alive:
                    self._server = ForkServer(self)
                server = self._server
            if server.cgroups is None and limits.cgroup_limits:
                raise SandboxError(_no_cgroups(server.no_cgroups))
            proc = server.fork(learner, checker, limits)
        except BaseException:
            os.close(lock)
            raise
        return Launched(proc, slot, lock, limits)

    def close(self) -> None:
        """Stop the fork server (and with it any execution still running)."""
        with self._server_lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()

    def run(self, launched: Launched, job: Job) -> Reply:
        """Send the job to a launched sandbox pair and return what it executed and wrote.

        The sandbox is always torn down afterwards. Raises ExecutionFailed when the execution broke
        a limit or did not produce a notebook.
        """
        limits = launched.limits
        requests = runner_requests(job, limits)
        try:
            out, why = _exchange(launched.proc, requests, reply_cap(requests[1], limits), limits.total_timeout)
        finally:
            launched.discard()
        if why:
            raise ExecutionFailed(why)
        return parse_reply(out, launched.proc.returncode)

    def execute(self, job: Job, limits: Limits) -> Reply:
        """Execute a job (a sanitized notebook and its files) in a fresh sandbox, started cold."""
        return self.run(self.launch(limits), job)

    def probe(self) -> dict[str, object]:
        """Run a tiny notebook that looks around the sandbox; returns what it saw (for checks)."""
        import nbformat

        code = (
            "import os, socket, json\n"
            "seen = {'uid': os.getuid(), 'root': sorted(os.listdir('/')), 'env': sorted(os.environ)}\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 53), timeout=1); seen['net'] = True\n"
            "except OSError:\n"
            "    seen['net'] = False\n"
            "print(json.dumps(seen))\n"
        )
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        out = nbformat.reads(self.execute(Job(nbformat.writes(nb), {}), Limits(cell_timeout=20)).notebook, as_version=4)
        text = "".join(o.get("text", "") for o in out.cells[0].outputs if o.output_type == "stream")
        seen: dict[str, object] = json.loads(text)
        if seen["uid"] == 0 or seen["net"]:
            raise SandboxError(f"sandbox probe failed: {seen}")
        return seen


class Execution:
    """One notebook's pair forked by the fork server, seen from the worker: the two request pipes
    (the learner's and the checker's), the checker's reply pipe (stdout) and, once it has ended,
    its exit status (returncode)."""

    def __init__(self, server: ForkServer, ident: int, requests: tuple[int, int], stdout: int) -> None:
        self.server = server
        self.ident = ident
        self.requests = [os.fdopen(fd, "wb", buffering=0) for fd in requests]
        self.stdout = os.fdopen(stdout, "rb", buffering=0)
        self.returncode: int | None = None
        self.started: str | None = None  # "" once forked, else why not
        self._changed = threading.Condition()

    def _update(self, **fields: object) -> None:
        with self._changed:
            for name, value in fields.items():
                setattr(self, name, value)
            self._changed.notify_all()

    def wait_started(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self.started is not None or self.returncode is not None, timeout)
        if self.started != "":
            self.kill()
            for stream in (*self.requests, self.stdout):
                stream.close()
            raise SandboxError(f"cannot start a sandboxed execution: {self.started or 'the fork server did not answer'}")

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._changed:
            if not self._changed.wait_for(lambda: self.returncode is not None, timeout):
                raise subprocess.TimeoutExpired("sandboxed execution", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            self.server.kill(self.ident)


class ForkServer:
    """The worker's end of the fork server (grading/_forkserver.py), started in its bubblewrap
    sandbox on first use; one per :class:`Sandbox`, shared by the worker's threads."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.cgroups: ServerCgroups | None = None
        self.no_cgroups = ""  # why not, when there are none
        try:
            self.cgroups = ServerCgroups.make()
        except SandboxError as exc:
            self.no_cgroups = str(exc)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                sandbox.server_command(theirs.fileno(), self.cgroups), pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=Sandbox.environment(), cwd="/", start_new_session=True,
            )
        finally:
            theirs.close()
        self._socket = ours
        self._send_lock = threading.Lock()
        self._executions: dict[int, Execution] = {}
        self._next = 0
        self.alive = True
        self.last_error = ""  # the server's last line on stderr, to say why it died
        self._keep = [p for p in sandbox.prefixes() if p == "/tmp" or p.startswith("/tmp/")]
        threading.Thread(target=self._read, name="credkit-forkserver", daemon=True).start()
        self._stderr = threading.Thread(target=self._read_stderr, name="credkit-forkserver-stderr", daemon=True)
        self._stderr.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.strip():
                self.last_error = line.decode(errors="replace").strip()[:300]

    def fork(self, learner: tuple[int, int], checker: tuple[int, int], limits: Limits) -> Execution:
        learner_r, learner_w = os.pipe()
        checker_r, checker_w = os.pipe()
        reply_r, reply_w = os.pipe()
        with self._send_lock:
            self._next += 1
            execution = Execution(self, self._next, (learner_w, checker_w), reply_r)
            self._executions[execution.ident] = execution
            message = {"op": "fork", "id": execution.ident, "limits": limits.as_dict(),
                       "learner": {"uid": learner[0], "gid": learner[1]},
                       "checker": {"uid": checker[0], "gid": checker[1]},
                       "keep_under_tmp": self._keep}
            try:
                socket.send_fds(self._socket, [json.dumps(message).encode()], [learner_r, checker_r, reply_w])
            except OSError:
                execution._update(started=f"the fork server is gone: {self.last_error or 'no reason given'}",
                                  returncode=-1)
            finally:
                for fd in (learner_r, checker_r, reply_w):
                    os.close(fd)
        # The server answers once it has forked; the first answer waits for its imports.
        execution.wait_started(limits.startup_timeout)
        return execution

    def kill(self, ident: int) -> None:
        with self._send_lock:
            try:
                self._socket.send(json.dumps({"op": "kill", "id": ident}).encode())
            except OSError:
                pass

    def _read(self) -> None:
        while True:
            try:
                data = self._socket.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            execution = self._executions.get(message["id"])
            if execution is None:
                continue
            if "exit" in message:
                self._executions.pop(message["id"], None)
                execution._update(returncode=int(message["exit"]))
            else:
                execution._update(started="" if message.get("started") else str(message.get("error", "")))
        # The server is gone: so is every execution it forked (each one's init dies with it).
        self.alive = False
        self._stderr.join(timeout=5)  # its last words, if any
        self._socket.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        why = f"the fork server is gone: {self.last_error or 'no reason given'}"
        for execution in list(self._executions.values()):
            execution._update(returncode=-1, started=execution.started if execution.started is not None else why)
        self._executions.clear()
        if self.cgroups is not None:
            self.cgroups.remove()

    def close(self) -> None:
        """Hang up: the server kills what it still runs and exits; the reader thread then reaps it."""
        self.alive = False
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _exchange(proc: Execution | UnsafePair, requests: tuple[bytes, bytes], cap: int,
              deadline_s: float) -> tuple[bytes, str]:
    """Feed both requests, read the checker's reply up to ``cap`` bytes before the deadline.
    Returns (reply, why)."""
    deadline = time.monotonic() + deadline_s
    sel = selectors.DefaultSelector()
    pending: dict[object, memoryview] = {}
    for stream, request in zip(proc.requests, requests):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_WRITE)
        pending[stream] = memoryview(request)
    os.set_blocking(proc.stdout.fileno(), False)
    sel.register(proc.stdout, selectors.EVENT_READ)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"", f"total time limit of {deadline_s:g} s exceeded"
            events = sel.select(timeout=min(left, 1.0))
            for key, _ in events:
                stream = key.fileobj
                if stream is not proc.stdout:
                    view = pending[stream]
                    try:
                        n = os.write(stream.fileno(), view[:65536])  # type: ignore[attr-defined]
                    except BrokenPipeError:
                        n = len(view)
                    pending[stream] = view = view[n:]
                    if not view:
                        sel.unregister(stream)
                        stream.close()  # type: ignore[attr-defined]
                else:
                    data = os.read(proc.stdout.fileno(), 1 << 20)
                    if not data:
                        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                        return b"".join(chunks), ""
                    size += len(data)
                    if size > cap:
                        return b"", f"output limit exceeded (more than {cap} bytes)"
                    chunks.append(data)
    except subprocess.TimeoutExpired:
        return b"", f"total time limit of {deadline_s:g} s exceeded"
    finally:
        sel.close()


def _kill(proc: Execution | UnsafePair) -> None:
    """Kill an execution; its PID namespaces die with it, and with that every learner process."""
    proc.kill()
    proc.wait()
    for stream in (*proc.requests, proc.stdout):
        if not stream.closed:
            stream.close()


class UnsafePair:
    """The two runners as plain subprocesses of the grader's user (``--unsafe-no-sandbox`` only):
    the same protocol as a sandboxed :class:`Execution`, none of its isolation."""

    def __init__(self, limits: Limits, scratch: str) -> None:
        bridge = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        control = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        settings = runner_settings(limits)
        self.procs: list[subprocess.Popen[bytes]] = []
        try:
            for role, bridge_end, control_end in (("learner", bridge[0], control[0]), ("checker", bridge[1], control[1])):
                cwd = os.path.join(scratch, role)
                os.makedirs(cwd, exist_ok=True)
                fds = [bridge_end.fileno(), control_end.fileno()]
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-I", str(RUNNER), role, settings, *map(str, fds)], cwd=cwd, pass_fds=fds,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE if role == "checker" else subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, env={**Sandbox.environment(), "HOME": cwd}, start_new_session=True,
                ))
        finally:
            for sock in (*bridge, *control):
                sock.close()
        self.requests = [p.stdin for p in self.procs]
        self.stdout = self.procs[1].stdout

    @property
    def returncode(self) -> int | None:
        return self.procs[1].returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.procs[1].wait(timeout)

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()


class WarmPool:
    """Executes in sandboxes started ahead of time: while one runs, the next one's runner and
    kernel are already starting on another slot (its own user), so kernel start-up is off the
    critical path. Each sandbox still executes exactly one notebook and is then torn down, so
    nothing (files, modules, processes, kernel state) passes from one submission to the next.
    """

    def __init__(self, sandbox: Sandbox, standby: int) -> None:
        import threading

        self.sandbox = sandbox
        self.standby = standby
        self._ready: list[Launched] = []
        self._lock = threading.Lock()

    def _take(self, limits: Limits) -> Launched:
        with self._lock:
            for i, launched in enumerate(self._ready):
                if launched.limits == limits and launched.proc.poll() is None:
                    return self._ready.pop(i)
        return self.sandbox.launch(limits)

    def _refill(self, limits: Limits) -> None:
        with self._lock:
            stale = [x for x in self._ready if x.limits != limits or x.proc.poll() is not None]
            self._ready = [x for x in self._ready if x not in stale]
            need = self.standby - len(self._ready)
        for launched in stale:
            launched.discard()
        for _ in range(max(0, need)):
            launched = self.sandbox.launch(limits)
            with self._lock:
                self._ready.append(launched)

    def execute(self, job: Job, limits: Limits) -> Reply:
        launched = self._take(limits)
        self._refill(limits)
        return self.sandbox.run(launched, job)

    def close(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        for launched in ready:
            launched.discard()
