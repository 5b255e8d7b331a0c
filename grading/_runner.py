"""Runs inside the sandbox: execute one notebook as a pair of kernels, with nbgrader's settings.

This file is bind-mounted read-only into the sandbox. The fork server loads it once (``preload``)
and, for each notebook, calls :func:`serve_learner` on the learner's side (as the slot's learner
user) and :func:`serve_checker` on the checker's side (as the slot's checker user); unsandboxed
(``--unsafe-no-sandbox``) each side runs as a script (:func:`main`). Each side forks its kernel
first (so a pair can be started ahead of time, "warm", while another one runs), then reads its
request:

- the checker gets the sanitized notebook and the released files and runs the cells in order:
  each autograded test cell in its own kernel, whose namespace fetches the notebook's globals from
  the learner's kernel through the data-only bridge (``_bridge.py``); every other code cell it
  sends, over the control channel, to the learner's side. After the last cell it asks the learner's
  side which files the run created or changed (within the written budget) and writes the one
  reply: the notebook and those files.
- the learner gets the working copy, then runs what the checker asks: a learner cell, or a
  bridge session during which its kernel answers the checker's requests, and at the end lists
  the files written. It never receives a test cell, visible or hidden.

Nothing the learner's side returns is trusted; the coordinator keeps only outputs, and test-cell
outputs come only from the checker. One pair executes one notebook, then it is torn down.

It never imports this package (the package's checkout is not mounted) nor nbgrader (a second of
imports): the execution settings below are nbgrader 0.9.6's ``Execute`` preprocessor's, and the
tests check that the scores equal stock ``nbgrader autograde``'s.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import signal
import sys

PR_SET_DUMPABLE = 4


def _private_stdio() -> tuple[int, int]:
    """Keep fds 0 and 1 for the request and the reply; everything started later gets /dev/null.

    The copies are close-on-exec and the process is made non-dumpable, so learner code running as
    the same user can neither inherit them nor reach them through /proc/<pid>/fd.
    """
    request_fd = os.dup(0)  # non-inheritable by default
    reply_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    return request_fd, reply_fd


def _write_files(files: list[list[str]], root: str) -> dict[str, tuple[int, str]]:
    """Write the files a side is given under ``root``; relative path → (size, sha256) of each, to
    tell later what the run changed."""
    import hashlib

    given = {}
    for rel, b64 in files:
        path = os.path.normpath(os.path.join(root, rel))
        if os.path.isabs(rel) or not path.startswith(root + os.sep):
            raise ValueError(f"refusing file outside the working copy: {rel!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = base64.b64decode(b64)
        with open(path, "wb") as fh:
            fh.write(data)
        given[os.path.relpath(path, root)] = (len(data), hashlib.sha256(data).hexdigest())
    return given


def _written_files(root: str, given: dict[str, tuple[int, str]], budget: int, most: int):  # type: ignore[no-untyped-def]
    """The regular files under ``root`` that the run created or changed, within ``budget`` bytes
    and ``most`` files, as [[relative path, base64]], and [[relative path, why]] for those left out.

    Never through a link, never opening a FIFO or a device (O_NOFOLLOW | O_NONBLOCK, then fstat);
    folders in sorted order, so what fits the budget is the same from run to run. The same no-links
    walk as the grader's submitted_files.read_files (this file cannot import the package).
    """
    import hashlib
    import stat

    written: list[list[str]] = []
    left_out: list[list[str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        if "__pycache__" in dirnames:  # the kernel's bytecode of imported files: never kept, not worth the budget
            dirnames.remove("__pycache__")
        for d in [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            dirnames.remove(d)
            left_out.append([os.path.relpath(os.path.join(dirpath, d), root), "a symbolic link"])
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                left_out.append([rel, "a symbolic link" if os.path.islink(path) else "unreadable"])
                continue
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    left_out.append([rel, "not a regular file"])
                    continue
                was = given.get(rel)
                if was is not None and info.st_size == was[0]:
                    # as large as it was given: read it whole to tell whether it changed, whatever the budget
                    with os.fdopen(os.dup(fd), "rb") as fh:
                        data = fh.read(was[0] + 1)
                    if hashlib.sha256(data).hexdigest() == was[1]:
                        continue
                elif info.st_size > budget:
                    left_out.append([rel, "past the budget for written files"])
                    continue
                else:
                    with os.fdopen(os.dup(fd), "rb") as fh:
                        data = fh.read(budget + 1)
            finally:
                os.close(fd)
            if len(data) > budget:
                left_out.append([rel, "past the budget for written files"])
            elif len(written) >= most:
                left_out.append([rel, f"past the {most} written files kept"])
            else:
                budget -= len(data)
                written.append([rel, base64.b64encode(data).decode()])
    return written, left_out


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        data = os.read(fd, 1 << 20)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


STANDBY_KERNEL = "python3"
HERE = os.path.dirname(os.path.abspath(__file__))
# In the sandbox the bridge is mounted beside the runner as bridge.py; unsandboxed it is _bridge.py.
BRIDGE = next(p for p in (os.path.join(HERE, name) for name in ("bridge.py", "_bridge.py")) if os.path.exists(p))
# The checker's released files, under its overlay (see _forkserver.py); unsandboxed, a scratch folder.
CHECK_RELEASED = "/opt/credkit-check/released"
FRAME_LIMIT = 64 * 1024**2  # largest control message (one learner cell's outputs)


def _is_test_cell(cell) -> bool:  # type: ignore[no-untyped-def]
    md = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(md.get("grade")) and not md.get("solution")


def load_bridge():  # type: ignore[no-untyped-def]
    """The data-only bridge module, loaded from its file (the package is not mounted)."""
    import importlib.util

    if "credkit_bridge" in sys.modules:
        return sys.modules["credkit_bridge"]
    spec = importlib.util.spec_from_file_location("credkit_bridge", BRIDGE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["credkit_bridge"] = module
    spec.loader.exec_module(module)
    return module


# -- the control channel between the two runners: length-prefixed JSON frames -------------------
# (the checker's kernel and runner write with send_frame; the runners read with _frames' reader)

def send_frame(fd: int, message: object) -> None:
    data = json.dumps(message).encode()
    view = memoryview(len(data).to_bytes(4, "big") + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _on_cell_executed(cell, execute_reply, **_):  # type: ignore[no-untyped-def]
    """nbgrader's Execute.on_cell_executed (0.9.6): an error reply with no matching error output
    (a timeout) is recorded as an error output, so the cell scores zero."""
    from nbformat.notebooknode import NotebookNode

    if execute_reply["content"]["status"] == "error":
        if not any(o.output_type == "error" and o.ename == execute_reply["content"]["ename"]
                   for o in cell.outputs):
            err = NotebookNode(output_type="error")
            err.ename = execute_reply["content"]["ename"]
            err.evalue = execute_reply["content"]["evalue"]
            err.traceback = execute_reply["content"]["traceback"] or [
                "ERROR: An error occurred while showtraceback was disabled"]
            cell.outputs.append(err)


def _client(extra_arguments: list[str]):  # type: ignore[no-untyped-def]
    """An nbclient NotebookClient with nbgrader 0.9.6 Execute's settings, output-capped."""
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):  # type: ignore[misc]
        """Drops outputs once the notebook's output budget is spent, while it runs."""

        output_limit = 0
        _spent = 0
        _told = False

        interrupt_grace = 0.0
        _last_output = 0.0  # when the kernel last sent output (monotonic clock)
        # The learner's kernel is killed when a cell outlives its interrupt; the checker's (trusted
        # test code, waiting on the bridge, which interrupts the learner's side itself) is not.
        kill_after_grace = True

        def _over_budget(self, msg, copies: int = 1) -> bool:  # type: ignore[no-untyped-def]
            """Count a message against the budget (every copy it writes; the budget is never given
            back, so clearing and rewriting counts too); True once it is spent."""
            import time

            self._last_output = time.monotonic()
            self._spent += copies * len(json.dumps(msg.get("content", {})))
            return self._spent > self.output_limit

        def _note_limit(self, outs) -> None:  # type: ignore[no-untyped-def]
            if not self._told:
                self._told = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text=f"[credkit: output limit of {self.output_limit} bytes reached; further output dropped]\n"))

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
            if self._over_budget(msg):
                self._note_limit(outs)
                return None
            return super().output(outs, msg, display_id, cell_index)

        def _update_display_id(self, display_id, msg):  # type: ignore[no-untyped-def]
            # An update rewrites every output shown with that id, in every cell: each copy counts.
            copies = sum(len(v) for v in self._display_id_map.get(display_id, {}).values())
            if self._over_budget(msg, max(1, copies)):
                if self.nb.cells:
                    self._note_limit(self.nb.cells[-1].setdefault("outputs", []))
                return None
            return super()._update_display_id(display_id, msg)

        async def _async_handle_timeout(self, timeout, cell=None):  # type: ignore[no-untyped-def]
            """At a cell's timeout, interrupt; a cell still running after a short grace (it ignores
            SIGINT) is killed with its kernel, so it cannot hold the slot for every later cell's
            timeout. The cells after it then fail as after any kernel death."""
            from nbclient.exceptions import DeadKernelError

            reply = await super()._async_handle_timeout(timeout, cell)
            if not self.kill_after_grace or self.interrupt_grace <= 0:  # 0: never kill
                return reply
            # The interrupted cell's own reply (nbclient goes on with the timeout's error reply). An
            # interrupt can be lost by honest code too (Python drops a KeyboardInterrupt raised in an
            # at-fork handler, "Exception ignored"): halfway through the grace, interrupt once more.
            for attempt in range(2):
                try:
                    await self._ensure(self.kc.shell_channel.get_msg(timeout=self.interrupt_grace / 2))
                    return reply
                except Exception:  # noqa: BLE001 - queue.Empty: no reply yet
                    if attempt == 0:
                        await self._ensure(self.km.interrupt_kernel())
            else:
                import time

                # A kernel still sending output (a flood past the budget) is busy, not stuck: it is
                # left to finish as under stock; a silent one that ignores interrupts is stopped.
                if time.monotonic() - self._last_output < 2:
                    return reply
                self.km.kill()
                if cell is not None:
                    cell.outputs.append(nbformat.v4.new_output(
                        "error", ename="CellTimeoutError", evalue="",
                        traceback=[f"CellTimeoutError: the cell ran past its {timeout} s timeout and "
                                   "ignored the interrupt; its kernel was stopped"]))
                raise DeadKernelError("the kernel was stopped: its cell ignored the interrupt") from None

        async def set_execution_count(self, count: int) -> None:
            """Make the kernel number its next cell ``count``, as one kernel running every cell
            would: tracebacks then say ``Cell In[count]`` as under stock nbgrader."""
            msg_id = await self._ensure(self.kc.execute(
                f"get_ipython().execution_count = {int(count)}", silent=True, store_history=False))
            await self.async_wait_for_reply(msg_id)

        @staticmethod
        async def _ensure(value):  # type: ignore[no-untyped-def]
            from nbclient.util import ensure_async

            return await ensure_async(value)

    placeholder = nbformat.v4.new_notebook()
    placeholder.metadata["kernelspec"] = {"name": STANDBY_KERNEL, "display_name": "", "language": "python"}
    return CappedClient(
        placeholder,
        interrupt_on_timeout=True,
        allow_errors=True,
        raise_on_iopub_timeout=True,
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": "",
            "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"],
        },
        extra_arguments=list(extra_arguments),
        kernel_manager_class=AsyncKernelManager,
        on_cell_executed=_on_cell_executed,
        resources={"metadata": {"path": os.getcwd()}},
    )


class ForkedKernel:
    """Stands in for nbclient's kernel manager for a kernel forked from this process.

    Forking a kernel from the runner, which has IPython, ipykernel and zmq already imported (in the
    sandbox, inherited from the fork server), skips the interpreter start and the imports that
    dominate a fresh kernel's start-up. The kernel is forked before the request is read, so its
    memory never holds the request (on the checker's side: the notebook and its tests).
    """

    ipykernel = True
    has_kernel = True

    def __init__(self, pid: int, connection_file: str) -> None:
        self.pid = pid
        self.connection_file = connection_file
        self.status: int | None = None

    def client(self, **kwargs):  # type: ignore[no-untyped-def]
        from jupyter_client.asynchronous import AsyncKernelClient

        forked = self

        class ForkedKernelClient(AsyncKernelClient):  # type: ignore[misc]
            async def is_alive(self) -> bool:
                # The process, as a kernel manager answers, not the heartbeat: on a loaded machine
                # (a fork bomb's children, a neighbour's execution) a heartbeat misses its one
                # second and nbclient would give up a live kernel as dead.
                return forked._reap()

        kc = ForkedKernelClient(**kwargs)
        kc.load_connection_file(self.connection_file)
        return kc

    def _reap(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is None

    async def is_alive(self) -> bool:
        return self._reap()

    async def interrupt_kernel(self) -> None:
        if self._reap():
            os.kill(self.pid, signal.SIGINT)

    def kill(self) -> None:
        if self._reap():
            os.kill(self.pid, signal.SIGKILL)
            _, self.status = os.waitpid(self.pid, 0)

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        self.kill()

    async def cleanup_resources(self, restart: bool = False) -> None:
        return None


def close_inherited_fds(keep: tuple[int, ...] = ()) -> None:
    """Close every descriptor above stderr but ``keep`` (the runner's request and reply pipes, in the
    kernel; everything of the fork server's, in a forked execution)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _cap_kernel_output(limit: int) -> None:
    """In a kernel: drop its own output once ``limit`` characters have gone out.

    ipykernel buffers stream text without bound until its I/O thread sends it, and queues display
    messages the same way: a flood fills the kernel's memory and it dies (or its I/O thread does)
    before the runner, which drops everything past the budget, ever sees it. Text here counts no
    more than the runner counts for it (its JSON), so the runner always sees the budget spent and
    says so. Learner code can undo this; it then floods only its own kernel."""
    import json as _json

    from ipykernel.iostream import OutStream
    from ipykernel.zmqshell import ZMQDisplayPublisher

    spent = 0
    write, publish = OutStream.write, ZMQDisplayPublisher.publish

    def capped_write(self, string):  # type: ignore[no-untyped-def]
        nonlocal spent
        if isinstance(string, str):
            if spent > limit:
                return len(string)
            size = len(string)
            if spent + size > limit:
                # the write that crosses the budget goes out cut one character past it: whole, one
                # print of a 256 MiB string would be copied into ipykernel's buffers and kill the kernel
                string = string[:limit - spent + 1]
            spent += size
            write(self, string)
            return size
        return write(self, string)

    def capped_publish(self, data, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal spent
        if spent > limit:
            return None
        try:
            spent += sum(len(v) if isinstance(v, str) else len(_json.dumps(v)) for v in dict(data).values())
        except Exception:  # noqa: BLE001 - not a mime bundle: ipykernel reports it as it would
            pass
        return publish(self, data, *args, **kwargs)

    OutStream.write = capped_write  # type: ignore[method-assign]
    ZMQDisplayPublisher.publish = capped_publish  # type: ignore[method-assign]


def fork_kernel(extra_arguments: list[str], *, keep: tuple[int, ...] = (),
                setup=None, output_limit: int = 0) -> ForkedKernel:  # type: ignore[no-untyped-def]
    """Fork an IPython kernel from this process (IPython already imported); return its manager.

    ``keep``: descriptors the kernel keeps (its end of the bridge). ``setup``: called in the kernel
    before it starts; returns the user namespace to give it (the checker's) or None.
    ``output_limit``: the notebook's output budget; past it the kernel drops its output itself.
    """
    from ipykernel import kernelapp
    from jupyter_client.connect import write_connection_file
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = jupyter_runtime_dir()
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    connection_file, _ = write_connection_file(
        os.path.join(runtime, f"kernel-{os.getpid()}.json"), ip="127.0.0.1")
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 1
        try:
            close_inherited_fds(keep)
            if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
                del sys.modules["rfc3987_syntax"]  # the runner's shortcut, not the kernel's
            # Dumpable again (the runner is not): learner code may inspect its own process as it
            # can in a kernel started by exec.
            ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
            load_bridge()  # the learner's kernel serves the bridge from it; the checker's asks through it
            namespace = setup() if setup is not None else None
            # As nbclient starts an IPython kernel: history in memory (no SQLite file, no saving
            # thread that learner code's forks would stop and the next cell have to restart).
            argv = ["-f", connection_file, *extra_arguments, "--HistoryManager.hist_file=:memory:"]
            sys.argv = [kernelapp.__file__, *argv]
            app = kernelapp.IPKernelApp.instance(**({"user_ns": namespace} if namespace is not None else {}))
            app.initialize(argv)
            if output_limit > 0:
                _cap_kernel_output(output_limit)
            if namespace is None:
                # The learner's kernel imports the learner's own modules from its working copy, as a
                # kernel started with `python -m ipykernel_launcher` there does (its cwd first).
                sys.path.insert(0, os.getcwd())
            else:
                app.shell.events.register("pre_run_cell", lambda *_: namespace.begin_cell())
                # Test code imports only what is installed and what the instructor released, never a
                # module that learner code wrote beside the released files.
                sys.path[:] = [released_directory()] + [p for p in sys.path if p not in ("", ".", os.getcwd())]
            app.start()
            code = 0
        finally:
            os._exit(code)
    return ForkedKernel(pid, connection_file)


def released_directory() -> str:
    return CHECK_RELEASED if os.path.isdir(CHECK_RELEASED) else os.getcwd()


def preload() -> None:
    """Import what the runner and a kernel need, so a fork of this process starts both at once."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import ipykernel.zmqshell  # noqa: F401
    import jupyter_client.asynchronous  # noqa: F401
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401

    load_bridge()


async def _frames(fd: int):  # type: ignore[no-untyped-def]
    """An asyncio reader and writer of control frames on ``fd``."""
    import asyncio
    import socket

    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd), limit=FRAME_LIMIT)

    async def read(timeout: float | None = None) -> object:
        async def one() -> object:
            try:
                head = await reader.readexactly(4)
                size = int.from_bytes(head, "big")
                if size > FRAME_LIMIT:
                    raise ValueError(f"a message of {size} bytes")
                return json.loads(await reader.readexactly(size))
            except asyncio.IncompleteReadError:
                return None
        return await asyncio.wait_for(one(), timeout) if timeout is not None else await one()

    async def write(message: object) -> None:
        data = json.dumps(message).encode()
        writer.write(len(data).to_bytes(4, "big") + data)
        await writer.drain()

    return read, write


def _error_output(ename: str, evalue: str):  # type: ignore[no-untyped-def]
    import nbformat

    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


# The learner's kernel answers one test cell's requests; serve() closes the fd it is given: a copy.
SERVE = "__import__('credkit_bridge').serve(__import__('os').dup({fd}), get_ipython().user_ns)"
# The checker learns which names the instructor's notebook binds to modules (they then resolve to
# the checker's own import, whatever the learner rebinds them to).
USE_MODULES = "get_ipython().user_ns._modules.update(__import__('json').loads({mapping!r}))"


def serve_learner(request_fd: int, bridge_fd: int, control_fd: int, settings: dict[str, object]) -> None:
    """The learner's side: start the learner's kernel, read the working copy, then run what the
    checker asks for, one cell at a time — a learner cell, or a bridge session while a test cell
    runs in the checker. It never sees a test cell."""
    import asyncio

    kernel: ForkedKernel | None = None
    try:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
        import nbformat
        from nbclient.exceptions import DeadKernelError

        extra_arguments = list(settings["extra_arguments"])  # type: ignore[call-overload]
        kernel = fork_kernel(extra_arguments, keep=(bridge_fd,), output_limit=int(settings.get("output_bytes", 0)))  # type: ignore[call-overload]
        os.close(bridge_fd)  # the kernel's end now; the runner never reads it
        client = _client(extra_arguments)
        client.startup_timeout = int(settings["startup_timeout"])  # type: ignore[call-overload]
        client.km = kernel
        client.owns_km = False  # nothing to shut down politely: the kernel is killed below

        async def main() -> None:
            read, write = await _frames(control_fd)
            await client.async_start_new_kernel_client()
            request = json.loads(_read_all(request_fd))
            given = _write_files(request["files"], os.getcwd())
            client.timeout = int(request["cell_timeout"])
            client.output_limit = int(request["output_limit"])
            client.interrupt_grace = float(request.get("interrupt_grace", 0))
            del request  # the working copy's bytes, not needed again
            client.nb = nbformat.v4.new_notebook()
            next_count = 1
            dead = False  # the kernel died: no more cells, but the files it wrote are still asked for
            while True:
                message = await read()
                if not isinstance(message, dict):
                    return
                if message.get("op") == "files":
                    written, left_out = _written_files(os.getcwd(), given, int(message["bytes"]), int(message["most"]))
                    await write({"op": "files", "files": written, "left_out": left_out})
                    return
                if dead:
                    return
                if message.get("op") == "run":
                    index, count = int(message["index"]), int(message["count"])
                    cell = nbformat.from_dict(message["cell"])
                    while len(client.nb.cells) <= index:
                        client.nb.cells.append(nbformat.v4.new_raw_cell())
                    client.nb.cells[index] = cell
                    try:
                        if count != next_count:
                            await client.set_execution_count(count)
                        await client.async_execute_cell(cell, index, execution_count=count)
                    except DeadKernelError:
                        await write({"op": "ran", "outputs": cell.get("outputs", []), "dead": True})
                        kernel.kill()
                        dead = True
                        continue
                    next_count = count + 1
                    await write({"op": "ran", "outputs": cell.outputs})
                elif message.get("op") == "serve":
                    if not await _serve_bridge(client, kernel, read, bridge_fd):
                        await write({"op": "served", "dead": True})
                        kernel.kill()
                        dead = True
                        continue
                    await write({"op": "served"})
                else:
                    return

        asyncio.run(main())
    except BaseException:  # noqa: BLE001 - the checker sees the channel close and says so
        if os.environ.get("CREDKIT_RUNNER_DEBUG"):  # unsandboxed only: the sandbox scrubs it
            import traceback

            with open(os.environ["CREDKIT_RUNNER_DEBUG"], "a") as fh:
                traceback.print_exc(file=fh)
    finally:
        if kernel is not None:
            kernel.kill()


async def _serve_bridge(client, kernel: ForkedKernel, read, bridge_fd: int) -> bool:  # type: ignore[no-untyped-def]
    """Let the learner's kernel answer the checker's bridge requests until the checker ends the
    session; pass on the checker's interrupts (a learner call that ran too long). False when the
    learner's kernel is dead or stuck for good."""
    import asyncio

    msg_id = await client._ensure(client.kc.execute(
        SERVE.format(fd=bridge_fd), silent=True, store_history=False, allow_stdin=False))
    reply = asyncio.ensure_future(client.async_wait_for_reply(msg_id))
    interrupted = 0
    while True:
        order = asyncio.ensure_future(read())
        done, _ = await asyncio.wait({reply, order}, return_when=asyncio.FIRST_COMPLETED)
        if reply in done:
            order.cancel()  # nothing read yet: the next read() starts from a frame boundary
            try:
                await order
            except asyncio.CancelledError:
                pass
            try:
                reply.result()
            except Exception:  # noqa: BLE001 - a timeout or a dead kernel
                return False
            return True
        message = order.result()
        if not isinstance(message, dict):
            reply.cancel()
            return False
        if message.get("op") == "interrupt":
            interrupted += 1
            if interrupted > 3 or not kernel._reap():
                reply.cancel()
                return False
            os.kill(kernel.pid, signal.SIGINT)


def serve_checker(request_fd: int, reply_fd: int, bridge_fd: int, control_fd: int,
                  settings: dict[str, object]) -> None:
    """The checker's side: start the checker's kernel (its namespace asks the learner's kernel for
    the notebook's globals through the bridge), read the notebook, and run it in order — learner
    cells on the learner's side, autograded test cells here. Write one reply: the notebook, and the
    files the learner's run wrote."""
    import asyncio

    reply: dict[str, object]
    kernel: ForkedKernel | None = None
    try:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
        import nbformat

        extra_arguments = list(settings["extra_arguments"])  # type: ignore[call-overload]
        cell_timeout = float(settings["cell_timeout"])  # type: ignore[arg-type]

        def setup():  # type: ignore[no-untyped-def]
            import socket

            bridge = load_bridge()
            channel = bridge.Bridge(
                socket.socket(fileno=bridge_fd), max_frame=int(settings["bridge_bytes"]),  # type: ignore[call-overload]
                reply_timeout=cell_timeout, interrupt=lambda: send_frame(control_fd, {"op": "interrupt"}))
            # Test code uses the real builtins, never a learner's global shadowing one (`abs = ...`).
            # Plain data is kept until learner code next runs (as one interpreter would see it).
            return bridge.LearnerNamespace(channel, learner_builtins=False, cache_data=True)

        kernel = fork_kernel(extra_arguments, keep=(bridge_fd, control_fd), setup=setup)
        client = _client(extra_arguments)
        client.kill_after_grace = False
        client.startup_timeout = int(settings["startup_timeout"])  # type: ignore[call-overload]
        client.km = kernel
        client.owns_km = False

        async def main():  # type: ignore[no-untyped-def]
            read, write = await _frames(os.dup(control_fd))
            await client.async_start_new_kernel_client()
            request = json.loads(_read_all(request_fd))
            _write_files(request["files"], released_directory())
            nb = nbformat.reads(request["notebook"], as_version=4)
            refused = {int(i): (str(name), str(why)) for i, name, why in request.get("refused", [])}
            client.nb = nb
            client.timeout = int(request["cell_timeout"])
            client.output_limit = int(request["output_limit"])
            client.interrupt_grace = float(request.get("interrupt_grace", 0))
            modules = json.dumps(request.get("modules", {}))
            await client.async_wait_for_reply(await client._ensure(client.kc.execute(
                USE_MODULES.format(mapping=modules), silent=True, store_history=False)))
            info = await client.async_wait_for_reply(await client._ensure(client.kc.kernel_info()))
            if info is not None and "language_info" in info["content"]:
                nb.metadata["language_info"] = info["content"]["language_info"]
            learner_gone = ""  # why the learner's side no longer answers, once it does not
            learner_spent = 0  # bytes of outputs the learner's cells have returned
            count, next_count = 0, 1
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                count += 1
                cell.execution_count = count
                if _is_test_cell(cell):
                    if index in refused:
                        cell.outputs = [_error_output(*refused[index])]
                        continue
                    if learner_gone:
                        cell.outputs = [_error_output("LearnerKernelDied", learner_gone)]
                        continue
                    if not await _tell(write, {"op": "serve"}):
                        learner_gone = "the learner's kernel died"
                        cell.outputs = [_error_output("LearnerKernelDied", learner_gone)]
                        continue
                    if count != next_count:
                        await client.set_execution_count(count)
                    await client.async_execute_cell(cell, index, execution_count=count)
                    next_count = count + 1
                    try:
                        send_frame(bridge_fd, {"id": int.from_bytes(os.urandom(8), "big"), "op": "end"})
                        answer = await _answer(read, "served", cell_timeout + 10)
                    except OSError:  # the learner's side is gone (exit(), a dead kernel)
                        answer = None
                    if answer is None or answer.get("dead"):
                        learner_gone = "the learner's kernel stopped answering during an earlier test"
                else:
                    if learner_gone:
                        cell.outputs = [_error_output("LearnerKernelDied", f"not run: {learner_gone}")]
                        continue
                    learner_cell = nbformat.from_dict({k: v for k, v in cell.items() if k != "outputs"})
                    learner_cell.outputs = []
                    sent = await _tell(write, {"op": "run", "index": index, "count": count, "cell": learner_cell})
                    answer = await _answer(read, "ran", 2 * cell_timeout + 30) if sent else None
                    if answer is None:
                        learner_gone = "the learner's kernel died"
                        cell.outputs = [_error_output("LearnerKernelDied", learner_gone)]
                        continue
                    # The learner's side keeps to the budget; the checker holds it to it all the same.
                    learner_spent += len(json.dumps(answer.get("outputs")))
                    cell.outputs = (_valid_outputs(answer.get("outputs")) if learner_spent <= client.output_limit
                                    else [_error_output("OutputLimit", "the learner's outputs exceeded the budget")])
                    if answer.get("dead"):
                        learner_gone = "the learner's kernel died"
                        cell.outputs.append(_error_output("DeadKernelError", "Kernel died"))
            budget, most = int(request.get("written_bytes", 0)), int(request.get("written_files", 0))
            written: list[list[str]] = []
            left_out: list[list[str]] = []
            if budget > 0 and most > 0 and await _tell(write, {"op": "files", "bytes": budget, "most": most}):
                answer = await _answer(read, "files", cell_timeout + 30)
                if answer is None:
                    left_out = [[".", "the learner's side did not say which files its run wrote"]]
                else:
                    written, left_out = _checked_files(answer, budget, most)
            return nb, written, left_out

        nb, written, left_out = asyncio.run(main())
        reply = {"ok": True, "notebook": nbformat.writes(nb), "written": written, "left_out": left_out}
    except BaseException as exc:  # the reply says why; the coordinator decides
        reply = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"[:2000]}
    finally:
        if kernel is not None:
            kernel.kill()
    data = json.dumps(reply).encode()
    view = memoryview(data)
    while view:
        n = os.write(reply_fd, view)
        view = view[n:]
    os.close(reply_fd)


async def _tell(write, message: object) -> bool:  # type: ignore[no-untyped-def]
    """Send the learner's side an order; False when it is gone (its end of the channel closed)."""
    try:
        await write(message)
    except (OSError, ConnectionError):
        return False
    return True


async def _answer(read, op: str, timeout: float):  # type: ignore[no-untyped-def]
    """The learner's side's next answer if it is ``op`` and comes in time, else None."""
    import asyncio

    try:
        answer = await read(timeout)
    except (asyncio.TimeoutError, ValueError, OSError):
        return None
    return answer if isinstance(answer, dict) and answer.get("op") == op else None


LEFT_OUT_NAMED = 100  # as sandbox.LEFT_OUT_NAMED: the reply names at most these, then how many more


def _checked_files(answer, budget: int, most: int):  # type: ignore[no-untyped-def]
    """The learner's side's written files, held to the same bounds it was asked to keep: relative,
    normalized paths inside the working copy, at most ``budget`` bytes and ``most`` files. A report
    that breaks them is dropped whole (the learner's side is not trusted)."""
    files, named = answer.get("files"), answer.get("left_out")
    try:
        written, total = [], 0
        for rel, b64 in files:
            if not isinstance(rel, str):
                raise TypeError(rel)
            parts = rel.split("/")
            if (not isinstance(b64, str) or not rel or "\0" in rel or rel.startswith("/")
                    or os.path.normpath(rel) != rel or ".." in parts or "." in parts):
                raise ValueError(rel)
            total += len(base64.b64decode(b64, validate=True))
            written.append([rel, b64])
        if total > budget or len(written) > most or len({rel for rel, _ in written}) != len(written):
            raise ValueError("over the bounds")
        left_out = [[str(rel)[:300], str(why)[:200]] for rel, why in named]
    except (TypeError, ValueError):
        return [], [[".", "the learner's side sent a malformed list of written files; none was kept"]]
    if len(left_out) > LEFT_OUT_NAMED:
        left_out = [*left_out[:LEFT_OUT_NAMED], ["…", f"and {len(left_out) - LEFT_OUT_NAMED} more files left out"]]
    return written, left_out


def _valid_outputs(outputs):  # type: ignore[no-untyped-def]
    """A learner cell's outputs as the learner's side reported them, if they are valid notebook
    outputs; otherwise a note that they were dropped (they never score)."""
    import nbformat

    try:
        cell = nbformat.v4.new_code_cell(outputs=[nbformat.from_dict(o) for o in outputs])
        nbformat.validate(nbformat.v4.new_notebook(cells=[cell]))
        return cell.outputs
    except Exception:  # noqa: BLE001 - anything malformed
        return [nbformat.v4.new_output("stream", name="stdout",
                                       text="[credkit: this cell's outputs were not valid and were dropped]\n")]


def main() -> int:
    """Unsandboxed entry point (``--unsafe-no-sandbox``): ``runner.py ROLE SETTINGS BRIDGE CONTROL``;
    the request on stdin, the checker's reply on stdout."""
    role, settings = sys.argv[1], json.loads(sys.argv[2])
    bridge_fd, control_fd = int(sys.argv[3]), int(sys.argv[4])
    request_fd, reply_fd = _private_stdio()
    if role == "checker":
        serve_checker(request_fd, reply_fd, bridge_fd, control_fd, settings)
    else:
        os.close(reply_fd)
        serve_learner(request_fd, bridge_fd, control_fd, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
