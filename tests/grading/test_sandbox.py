"""The sandbox on its own: what learner code sees, warm isolation between submissions, limits."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grading.sandbox import ExecutionFailed, Job, Limits, Reply, Sandbox, WarmPool


def _notebook(*sources: str) -> str:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb)


def _stdout(reply: Reply, cell: int = 0) -> str:
    nb = nbformat.reads(reply.notebook, as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[cell].outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox.create()
    yield sandbox
    sandbox.close()


def test_probe_sees_a_bare_unprivileged_offline_world(sandbox: Sandbox) -> None:
    seen = sandbox.probe()
    assert seen["uid"] != 0 and seen["net"] is False
    assert "CREDKIT_TEST_GRADER_SECRET" not in seen["env"] and "PATH" in seen["env"]
    # The top-level directories are the system's plus whichever one holds the interpreter (a venv
    # under /work here, under /check or /tmp on CI's clean clone) — never the course or the grader.
    interpreter_roots = {os.path.realpath(p).split(os.sep)[1] for p in (sys.prefix, sys.base_prefix)}
    assert set(seen["root"]) <= {"bin", "dev", "etc", "home", "lib", "lib64", "opt", "proc", "sbin", "tmp",
                                  "usr"} | interpreter_roots


def test_learner_code_holds_no_privilege_and_nothing_of_the_fork_server(sandbox: Sandbox) -> None:
    """Each execution is forked from a root fork server: what it inherits must be nothing."""
    text = sandbox.execute(Job(_notebook(
        "import os, json\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
        "procs = {p: open(f'/proc/{p}/status').read().split('Uid:')[1].split()[0]\n"
        "         for p in os.listdir('/proc') if p.isdigit()}\n"
        "fds = {}\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        fds[fd] = os.readlink(f'/proc/self/fd/{fd}')\n"
        "    except FileNotFoundError:\n"
        "        pass  # the listing's own descriptor, closed by now\n"
        "print(json.dumps({k: status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd',\n"
        "                  'CapAmb', 'NoNewPrivs')} | {'procs': procs, 'fds': fds, 'uid': os.getuid()}))\n"),
        {}), Limits(cell_timeout=20))
    seen = json.loads(_stdout(text))
    assert all(seen[cap] == "0000000000000000" for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))
    assert seen["NoNewPrivs"] == "1"
    # Only its own namespace's processes (init, runner, kernel), all the slot's user: the fork
    # server and the grader are not even visible.
    assert set(seen["procs"].values()) == {str(seen["uid"])} and len(seen["procs"]) <= 4
    # The kernel's descriptors: /dev/null, its own ZMQ sockets and output pipes — no file, and
    # nothing the kernel did not open (the fork closes everything it inherits above stderr).
    assert all(fds_target.startswith(("/dev/null", "socket:", "pipe:", "anon_inode:", "/proc/"))
               for fds_target in seen["fds"].values())
    assert seen["fds"]["0"] == "/dev/null"  # (1 and 2 are the pipes ipykernel captures output with)


def test_warm_pool_leaks_nothing_from_one_submission_to_the_next(sandbox: Sandbox) -> None:
    """One slot's worth of warm pool: the second submission runs in the sandbox started while the
    first one ran, and finds nothing the first one left behind."""
    pool = WarmPool(sandbox, standby=1)
    limits = Limits(cell_timeout=10)
    first = _notebook(
        "import os, subprocess, sys, builtins\n"
        "open('left-behind.txt', 'w').write('x')\n"
        "open('/tmp/left-behind.txt', 'w').write('x')\n"
        "os.environ['LEFT_BEHIND'] = '1'\n"
        "builtins.LEFT_BEHIND = True\n"
        "sys.modules['left_behind'] = sys\n"
        "p = subprocess.Popen(['sleep', '60'])\n"
        "print('pid', p.pid, os.getuid())\n",
    )
    second = _notebook(
        "import os, sys, builtins, subprocess\n"
        "print(sorted(os.listdir('.')), os.path.exists('/tmp/left-behind.txt'),\n"
        "      'LEFT_BEHIND' in os.environ, hasattr(builtins, 'LEFT_BEHIND'), 'left_behind' in sys.modules,\n"
        "      [p for p in os.listdir('/proc') if p.isdigit() and\n"
        "       'sleep' in open(f'/proc/{p}/cmdline').read()], os.getuid())\n",
    )
    try:
        out1 = _stdout(pool.execute(Job(first, {"data.txt": b"1"}), limits))
        out2 = _stdout(pool.execute(Job(second, {"other.txt": b"2"}), limits))
    finally:
        pool.close()
    assert out1.startswith("pid ")
    uid1 = int(out1.split()[-1])
    listing, rest = out2.split("]", 1)
    assert listing == "['other.txt'"
    fields = rest.split()
    assert fields[:4] == ["False", "False", "False", "False"]
    assert fields[4] == "[]"  # no process survives its sandbox
    assert int(fields[5]) != uid1  # the next sandbox is another slot's user


def test_total_wall_clock_limit_kills_the_execution(sandbox: Sandbox) -> None:
    with pytest.raises(ExecutionFailed, match="total time limit of 3 s exceeded"):
        sandbox.execute(Job(_notebook("import time\ntime.sleep(60)\n"), {}), Limits(cell_timeout=60, total_timeout=3))


def test_cpu_and_process_limits(sandbox: Sandbox) -> None:
    text = sandbox.execute(Job(_notebook(
        "import resource\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU)[0], resource.getrlimit(resource.RLIMIT_NPROC)[0],\n"
        "      resource.getrlimit(resource.RLIMIT_FSIZE)[0], resource.getrlimit(resource.RLIMIT_AS)[0])\n"),
        {}), Limits(cpu_seconds=7, processes=99, file_bytes=12345, memory_bytes=3 * 1024**3))
    assert _stdout(text).split() == ["7", "99", "12345", str(3 * 1024**3)]


def test_returned_notebook_cannot_rewrite_cells() -> None:
    from grading.execute import merge_outputs

    sent = nbformat.reads(_notebook("assert False"), as_version=4)
    forged = nbformat.reads(_notebook("assert True"), as_version=4)
    with pytest.raises(ExecutionFailed, match="cells were changed"):
        merge_outputs(sent, nbformat.writes(forged))
    with pytest.raises(ExecutionFailed, match="invalid notebook"):
        merge_outputs(sent, json.dumps({"cells": "nope"}))


def test_not_root_refuses() -> None:
    if os.geteuid() == 0:
        pid = os.fork()
        if pid == 0:  # drop to nobody in a child and check the refusal there
            os.setgid(65534)
            os.setuid(65534)
            try:
                Sandbox.create()
            except Exception as exc:  # noqa: BLE001 - reported through the exit code
                os._exit(0 if "needs root" in str(exc) else 2)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    else:
        with pytest.raises(Exception, match="needs root"):
            Sandbox.create()


def test_preloaded_modules_are_loaded_and_each_execution_gets_its_own_copy(sandbox: Sandbox) -> None:
    limits = Limits(cell_timeout=20, preload=("numpy", "no_such_module_credkit"))
    pool = WarmPool(sandbox, standby=1)
    try:
        first = _stdout(pool.execute(Job(_notebook(
            "import sys\n"
            "print('numpy' in sys.modules, 'no_such_module_credkit' in sys.modules)\n"
            "import numpy\n"
            "numpy.LEFT_BEHIND = True\n"
            "print(int(numpy.arange(4).sum()))\n"), {}), limits))
        second = _stdout(pool.execute(Job(_notebook(
            "import numpy\nprint(hasattr(numpy, 'LEFT_BEHIND'))\n"), {}), limits))
    finally:
        pool.close()
    assert first.split() == ["True", "False", "6"]
    assert second.split() == ["False"]


def test_a_dead_fork_server_fails_its_executions_and_is_started_again(sandbox: Sandbox) -> None:
    hello = _notebook("print('hello')")
    assert _stdout(sandbox.execute(Job(hello, {}), Limits())) == "hello\n"
    launched = sandbox.launch(Limits(cell_timeout=20))
    server = launched.proc.server
    server._socket.send(b"not a request")  # the server crashes on it, as on any bug of its own
    with pytest.raises(ExecutionFailed, match="no reply"):  # its executions go with it
        sandbox.run(launched, Job(_notebook("import time\ntime.sleep(30)"), {}))
    launched.proc.wait(timeout=10)
    assert not server.alive and "JSONDecodeError" in server.last_error
    assert _stdout(sandbox.execute(Job(hello, {}), Limits())) == "hello\n"


def _test_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "locked": True, "points": 1, "schema_version": 3,
        "solution": False, "task": False}})


def test_test_cells_run_in_a_checker_the_learner_cannot_see_or_reach(sandbox: Sandbox) -> None:
    """The pair: test cells run as another user, in namespaces of their own; the learner's side
    sees neither the checker's processes nor its files, and the checker reads released files
    pristine beside what learner code wrote."""
    look = ("import os, json\n"
            "procs = sorted({open(f'/proc/{p}/status').read().split('Uid:')[1].split()[0]\n"
            "                for p in os.listdir('/proc') if p.isdigit()})\n"
            "print(json.dumps({'uid': os.getuid(), 'procs': procs, 'here': sorted(os.listdir('.')),\n"
            "                  'checker_home': sorted(os.listdir('/home/checker'))}))\n")
    nb = new_notebook(cells=[
        new_code_cell("open('data.csv', 'w').write('tampered')\nopen('answer.txt', 'w').write('42')\n" + look),
        _test_cell(look + "print(open('data.csv').read(), open('answer.txt').read())\n"
                   "open('checker-note.txt', 'w').write('mine')", "t1"),
        new_code_cell(look),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    text = sandbox.execute(Job(nbformat.writes(nb), {"data.csv": b"a,b\n"}, {"data.csv": b"a,b\n"}),
                           Limits(cell_timeout=20))
    learner, after = json.loads(_stdout(text, 0)), json.loads(_stdout(text, 2))
    checker_line, files = _stdout(text, 1).split("\n", 1)
    checker = json.loads(checker_line)
    assert learner["uid"] != checker["uid"] and 0 not in (learner["uid"], checker["uid"])
    assert learner["procs"] == [str(learner["uid"])] and checker["procs"] == [str(checker["uid"])]
    assert learner["checker_home"] == [] and "checker-note.txt" not in after["here"]
    assert files == "a,b\n 42\n"  # the released file as released; the learner's own file beside it


# Syscalls the sandbox's seccomp filter refuses, each called with arguments that make it fail
# harmlessly wherever it does reach the kernel (x86_64 numbers): name → (number, arguments).
SYSCALL_PROBES = (
    "import ctypes, errno, json\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "probes = {'add_key': (248, 0, 0, 0, 0, 0), 'keyctl': (250, 9999), 'request_key': (249, 0, 0, 0, 0),\n"
    "          'unshare': (272, 0), 'setns': (308, -1, 0), 'mount': (165, 0, 0, 0, 0, 0),\n"
    "          'ptrace': (101, -1, 0, 0, 0), 'bpf': (321, -1, 0, 0), 'perf_event_open': (298, 0, 0, 0, 0, 0),\n"
    "          'userfaultfd': (323, -1), 'io_uring_setup': (425, 0, 0), 'open_tree': (428, -1, 0, 0),\n"
    "          'fsopen': (430, 0, 0), 'clone3': (435, 0, 0), 'init_module': (175, 0, 0, 0),\n"
    "          'process_vm_readv': (310, 0, 0, 0, 0, 0, 0), 'kcmp': (312, -1, -1, 0, 0, 0)}\n"
    "seen = {}\n"
    "for name, (number, *args) in probes.items():\n"
    "    r = libc.syscall(number, *[ctypes.c_long(a) for a in args])\n"
    "    seen[name] = 'ok' if r >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')\n"
    "print(json.dumps(seen))\n"
)


def test_syscalls_learner_code_never_needs_are_refused(sandbox: Sandbox, tmp_path) -> None:
    """Each probe reaches the kernel in a bare process (root: an argument error, or success) and is
    refused with EPERM in the sandbox (clone3 with ENOSYS, so the C library falls back to clone)."""
    import subprocess

    bare = json.loads(subprocess.run([sys.executable, "-c", SYSCALL_PROBES], capture_output=True, text=True,
                                     check=True, cwd=tmp_path).stdout)
    assert not any(v == "EPERM" for v in bare.values()), bare
    assert bare["clone3"] != "ENOSYS"
    inside = json.loads(_stdout(sandbox.execute(Job(_notebook(SYSCALL_PROBES), {}), Limits(cell_timeout=20))))
    assert inside.pop("clone3") == "ENOSYS"
    assert set(inside.values()) == {"EPERM"}, inside


def test_learner_code_imports_its_own_modules(sandbox: Sandbox) -> None:
    """A submission's own helper module imports in the learner's kernel, as under stock nbgrader."""
    text = sandbox.execute(Job(_notebook("import helper\nprint(helper.ANSWER)"), {"helper.py": b"ANSWER = 42\n"}),
                           Limits(cell_timeout=20))
    assert _stdout(text) == "42\n"
