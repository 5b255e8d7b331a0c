"""Runs inside the sandbox: execute one notebook with nbgrader's own Execute preprocessor.

This file is bind-mounted read-only into the sandbox. The fork server loads it once (``preload``)
and calls :func:`serve` in each forked execution, as the slot's unprivileged user; unsandboxed
(``--unsafe-no-sandbox``) it runs as a script (:func:`main`). It forks a kernel first (so a sandbox
can be started ahead of time, "warm", while another one runs), then reads one JSON request (the
sanitized notebook, the working-copy files, the limits), writes the files into its private tmpfs
working directory, executes the notebook, and writes one JSON reply on a private pipe. Nothing it
returns is trusted: the coordinator keeps only outputs. One runner executes one notebook, then its
whole sandbox is torn down.

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


def _write_files(files: list[list[str]]) -> None:
    root = os.getcwd()
    for rel, b64 in files:
        path = os.path.normpath(os.path.join(root, rel))
        if os.path.isabs(rel) or not path.startswith(root + os.sep):
            raise ValueError(f"refusing file outside the working copy: {rel!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(b64))


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        data = os.read(fd, 1 << 20)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


STANDBY_KERNEL = "python3"
# In the sandbox the harness is mounted beside the runner as harness.py; unsandboxed it is _harness.py.
HARNESS = next(p for p in (os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
                           for name in ("harness.py", "_harness.py")) if os.path.exists(p))


def _is_test_cell(cell) -> bool:  # type: ignore[no-untyped-def]
    md = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(md.get("grade")) and not md.get("solution")


def _strict_asserts(source: str, eq_name: str) -> str:
    """``assert a == b`` → ``assert <strict equality>(a, b)`` in a test cell's code.

    Cells that are not plain Python (magics, shell escapes) are left as they are.
    """
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source

    class Rewrite(ast.NodeTransformer):
        changed = False

        def visit_Assert(self, node: ast.Assert) -> ast.Assert:
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
                node.test = ast.copy_location(ast.Call(
                    func=ast.Name(id=eq_name, ctx=ast.Load()),
                    args=[test.left, test.comparators[0]], keywords=[]), test)
                self.changed = True
            return node

    rewrite = Rewrite()
    tree = rewrite.visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n" if rewrite.changed else source


def _client(extra_arguments: list[str]):  # type: ignore[no-untyped-def]
    """An nbclient NotebookClient with nbgrader 0.9.6 Execute's settings, output-capped."""
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbformat.notebooknode import NotebookNode

    def on_cell_executed(cell, execute_reply, **_):  # type: ignore[no-untyped-def]
        # nbgrader's Execute.on_cell_executed (0.9.6): an error reply with no matching error
        # output (a timeout) is recorded as an error output, so the cell scores zero.
        if execute_reply["content"]["status"] == "error":
            if not any(o.output_type == "error" and o.ename == execute_reply["content"]["ename"]
                       for o in cell.outputs):
                err = NotebookNode(output_type="error")
                err.ename = execute_reply["content"]["ename"]
                err.evalue = execute_reply["content"]["evalue"]
                err.traceback = execute_reply["content"]["traceback"] or [
                    "ERROR: An error occurred while showtraceback was disabled"]
                cell.outputs.append(err)

    import secrets

    token = secrets.token_hex(8)
    with open(HARNESS) as fh:
        harness_source = fh.read()
    install_expr = (
        "(lambda g: (__import__('builtins').exec(" + repr(harness_source) + ", g), "
        f"g['_install']({token!r}))[1])"
        "({'get_ipython': get_ipython, '__name__': '__credkit_harness__'})"
    )
    check_expr = f"__credkit_check_{token}__()"
    eq_name = f"__credkit_eq_{token}__"

    class CappedClient(NotebookClient):  # type: ignore[misc]
        """Drops outputs once the notebook's output budget is spent, while it runs; runs the
        trusted harness before the first cell and its integrity check before every test cell."""

        output_limit = 0
        _spent = 0
        _told = False
        _installed = False
        _violations: list[str] = []

        async def _user_expression(self, expr: str):  # type: ignore[no-untyped-def]
            from nbclient.util import ensure_async

            msg_id = await ensure_async(self.kc.execute(
                "", silent=True, store_history=False, user_expressions={"v": expr}))
            reply = await self.async_wait_for_reply(msg_id)
            value = (reply or {}).get("content", {}).get("user_expressions", {}).get("v", {})
            if value.get("status") != "ok":
                return None
            import ast

            try:
                result = ast.literal_eval(value.get("data", {}).get("text/plain", ""))
            except (ValueError, SyntaxError):
                return None
            return result

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):  # type: ignore[no-untyped-def]
            if cell.cell_type != "code" or not cell.source.strip():
                return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            if not self._installed:
                self._installed = True
                self._violations = []
                if await self._user_expression(install_expr) != "installed":
                    self._violations.append("the grading harness could not be installed")
            if not _is_test_cell(cell):
                return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            outcome = await self._user_expression(check_expr)
            restored = ""
            if not (isinstance(outcome, list) and len(outcome) == 2 and all(isinstance(x, str) for x in outcome)):
                self._violations.append("the grading harness was tampered with")
            else:
                restored, fatal = outcome
                if fatal:
                    self._violations.append(fatal)
            original = cell.source
            cell.source = _strict_asserts(original, eq_name)
            try:
                result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            finally:
                cell.source = original
            if restored:
                # stdout: shown in the feedback, no effect on the score
                cell.outputs.insert(0, nbformat.v4.new_output(
                    "stream", name="stdout",
                    text=f"[credkit: restored before this test ran: {restored[:1000]}]\n"))
            if self._violations:
                err = NotebookNode(output_type="error")
                err.ename = "KernelIntegrityError"
                err.evalue = "; ".join(dict.fromkeys(self._violations))[:2000]
                err.traceback = [f"KernelIntegrityError: the kernel was tampered with before this test ran: {err.evalue}"]
                cell.outputs.append(err)
            return result

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
            self._spent += len(json.dumps(msg.get("content", {})))
            if self._spent > self.output_limit:
                if not self._told:
                    self._told = True
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stderr",
                        text=f"[credkit: output limit of {self.output_limit} bytes reached; "
                        "further output dropped]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

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
        on_cell_executed=on_cell_executed,
        resources={"metadata": {"path": os.getcwd()}},
    )


class ForkedKernel:
    """Stands in for nbclient's kernel manager for a kernel forked from this process.

    Forking a kernel from the runner, which has IPython, ipykernel and zmq already imported (in the
    sandbox, inherited from the fork server), skips the interpreter start and the imports that
    dominate a fresh kernel's start-up. The kernel is forked before the request is read and before
    the harness's secret token exists, so its memory holds neither the notebook nor the token.
    """

    ipykernel = True
    has_kernel = True

    def __init__(self, pid: int, connection_file: str) -> None:
        self.pid = pid
        self.connection_file = connection_file
        self.status: int | None = None

    def client(self, **kwargs):  # type: ignore[no-untyped-def]
        from jupyter_client.asynchronous import AsyncKernelClient

        kc = AsyncKernelClient(**kwargs)
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


def fork_kernel(extra_arguments: list[str]) -> ForkedKernel:
    """Fork an IPython kernel from this process (IPython already imported); return its manager."""
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
            close_inherited_fds()
            if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
                del sys.modules["rfc3987_syntax"]  # the runner's shortcut, not the learner's
            # Dumpable again (the runner is not): learner code may inspect its own process as it
            # can in a kernel started by exec.
            ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
            # As nbclient starts an IPython kernel: history in memory (no SQLite file, no saving
            # thread that learner code's forks would stop and the next cell have to restart).
            sys.argv = [kernelapp.__file__, "-f", connection_file, *extra_arguments,
                        "--HistoryManager.hist_file=:memory:"]
            kernelapp.launch_new_instance(argv=sys.argv[1:])
            code = 0
        finally:
            os._exit(code)
    return ForkedKernel(pid, connection_file)


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


def serve(request_fd: int, reply_fd: int, settings: dict[str, object]) -> None:
    """Start a kernel, read one request, execute the notebook, write one reply.

    ``settings`` holds at least ``extra_arguments`` and ``startup_timeout`` (the limits' own keys).
    """
    reply: dict[str, object]
    kernel: ForkedKernel | None = None
    try:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
        # jsonschema builds an RFC 3987 grammar on import when rfc3987_syntax is installed (seconds
        # of CPU per execution); nbformat never needs it.
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
        import nbformat

        # Warm start: the kernel starts before the submission is known, in the empty working copy.
        extra_arguments = list(settings["extra_arguments"])  # type: ignore[call-overload]
        kernel = fork_kernel(extra_arguments)
        client = _client(extra_arguments)
        client.startup_timeout = int(settings["startup_timeout"])  # type: ignore[call-overload]
        client.km = kernel
        client.owns_km = False  # nothing to shut down politely: the kernel is killed below
        client.start_new_kernel_client()

        request = json.loads(_read_all(request_fd))
        _write_files(request["files"])
        nb = nbformat.reads(request["notebook"], as_version=4)
        if nb.metadata.get("kernelspec", {}).get("name", STANDBY_KERNEL) != STANDBY_KERNEL:
            # another kernel: start it cold, as nbgrader would
            client.kc.stop_channels()
            kernel.kill()
            client.km = client.kc = None
            client.owns_km = True
            client.shutdown_kernel = "immediate"
            client.kernel_name = nb.metadata["kernelspec"]["name"]
        client.nb = nb
        client.timeout = int(request["cell_timeout"])
        client.output_limit = int(request["output_limit"])
        nb = client.execute()
        reply = {"ok": True, "notebook": nbformat.writes(nb)}
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


def main() -> int:
    """Unsandboxed entry point (``--unsafe-no-sandbox``): one runner process, one notebook."""
    request_fd, reply_fd = _private_stdio()
    serve(request_fd, reply_fd, json.loads(sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
