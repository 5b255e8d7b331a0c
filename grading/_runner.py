"""Runs inside the sandbox: execute one notebook with nbgrader's own Execute preprocessor.

This file is bind-mounted read-only into the sandbox and run as the slot's unprivileged user. It
reads one JSON request on stdin (the sanitized notebook, the working-copy files, the limits), writes
the files into its private tmpfs working directory, executes the notebook, and writes one JSON reply
on a private copy of stdout. Nothing it returns is trusted: the coordinator keeps only outputs.

It imports only the standard library until the request is read, and never this package (the
package's checkout is not mounted) nor nbgrader (a second of imports per execution): the execution
settings below are nbgrader 0.9.6's ``Execute`` preprocessor's, and the tests check that the scores
equal stock ``nbgrader autograde``'s.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import sys

PR_SET_DUMPABLE = 4


def _private_stdout() -> int:
    """Keep fd 1 for the reply; the kernel and anything it starts get /dev/null on 1 and 2.

    The copy is close-on-exec and the process is made non-dumpable, so learner code running as the
    same user can neither inherit it nor reach it through /proc/<pid>/fd.
    """
    reply_fd = os.dup(1)  # non-inheritable by default
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    return reply_fd


def _write_files(files: list[list[str]]) -> None:
    root = os.getcwd()
    for rel, b64 in files:
        path = os.path.normpath(os.path.join(root, rel))
        if os.path.isabs(rel) or not path.startswith(root + os.sep):
            raise ValueError(f"refusing file outside the working copy: {rel!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(b64))


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    reply_fd = _private_stdout()
    reply: dict[str, object]
    try:
        _write_files(request["files"])
        os.environ["NBGRADER_EXECUTION"] = "autograde"

        # jsonschema builds an RFC 3987 grammar on import when rfc3987_syntax is installed (seconds
        # of CPU per execution); nbformat never needs it.
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
        import nbformat
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient
        from nbformat.notebooknode import NotebookNode

        output_limit = int(request["output_limit"])

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

        class CappedClient(NotebookClient):  # type: ignore[misc]
            """nbgrader's Execute settings; drops outputs once the output budget is spent."""

            _spent = 0
            _told = False

            def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
                self._spent += len(json.dumps(msg.get("content", {})))
                if self._spent > output_limit:
                    if not self._told:
                        self._told = True
                        outs.append(nbformat.v4.new_output(
                            "stream", name="stderr",
                            text=f"[credkit: output limit of {output_limit} bytes reached; "
                            "further output dropped]\n"))
                    return None
                return super().output(outs, msg, display_id, cell_index)

        nb = nbformat.reads(request["notebook"], as_version=4)
        client = CappedClient(
            nb,
            timeout=int(request["cell_timeout"]),
            startup_timeout=int(request["startup_timeout"]),
            interrupt_on_timeout=True,
            allow_errors=True,
            raise_on_iopub_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": "",
                "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"],
            },
            extra_arguments=list(request.get("extra_arguments", [])),
            kernel_manager_class=AsyncKernelManager,
            on_cell_executed=on_cell_executed,
            resources={"metadata": {"path": os.getcwd()}},
        )
        nb = client.execute()
        reply = {"ok": True, "notebook": nbformat.writes(nb)}
    except BaseException as exc:  # the reply says why; the coordinator decides
        reply = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"[:2000]}
    data = json.dumps(reply).encode()
    view = memoryview(data)
    while view:
        n = os.write(reply_fd, view)
        view = view[n:]
    os.close(reply_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
