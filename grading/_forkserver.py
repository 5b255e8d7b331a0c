"""The fork server: a preloaded template from which each sandboxed execution is forked.

Runs as root inside a long-lived bubblewrap sandbox (read-only Python installation, no course
files, no network, scrubbed environment), with the runner's and the kernel's imports already done.
For each notebook the worker sends, over a Unix socket, the two users (the slot's learner user and
its checker user) and the limits together with three pipe ends (SCM_RIGHTS): the learner's request,
the checker's request and the checker's reply. The server forks the pair's parent, which:

1. unshares a mount namespace and mounts the learner's size-capped working copy (tmpfs) in it;
2. makes the two sockets between the sides: the *bridge* (the checker's test code asks the learner's
   kernel for values) and the *control* channel (the checker's runner tells the learner's runner
   which cell to run);
3. forks the two sides. Each unshares fresh mount, PID, network, IPC, UTS and cgroup namespaces,
   mounts its own ``/tmp``, and forks its PID namespace's init, which mounts a fresh ``/proc``,
   brings up loopback (no other interface), sets the resource limits, drops every capability and
   becomes that side's unprivileged user with ``no_new_privs``, then forks the runner. The checker's
   side also mounts its working directory: the instructor's released files over a read-only view
   of the learner's working copy.

The learner's side cannot signal, trace, read or write the checker's: another user, another PID
and network namespace, and its runner and kernel never receive a test cell. The runners fork their
kernels from the same preloaded memory, so a notebook starts with a few forks instead of four
interpreter starts. Nothing passes from one notebook to the next. This file imports only the
standard library at module level and never the credkit package (it is not mounted).

Messages are JSON, one per datagram (SOCK_SEQPACKET). Worker → server: ``{"op": "fork", "id",
"learner": {"uid", "gid"}, "checker": {"uid", "gid"}, "limits", "keep_under_tmp"}`` with three fds,
or ``{"op": "kill", "id"}``. Server → worker: ``{"id", "started": true}`` or ``{"id", "error"}``,
and ``{"id", "exit": status}`` (the checker's) when it ends.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.util
import json
import os
import resource
import selectors
import signal
import socket
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER, CLONE_NEWTIME = 0x10000000, 0x00000080
NAMESPACE_FLAGS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUSER | CLONE_NEWTIME
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
SIOCSIFFLAGS, IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x8914, 0x1, 0x8, 0x40
WORKDIR = "/home/learner"
CHECKDIR = "/home/checker"
CHECK_LAYERS = "/opt/credkit-check"
CGROUPS = "/opt/credkit-cgroup"  # the worker's cgroup subtrees for this server, one per controller
SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING = 250, 1  # x86_64
# Syscalls learner code never needs, refused with EPERM (docker's default profile refuses them too):
# the kernel's key store (a keyring outlives the execution: a channel between learners), every
# namespace and mount operation (nested user namespaces give back capabilities), tracing, kernel
# modules and BPF, and the clock.
DENIED_SYSCALLS = (
    "add_key", "keyctl", "request_key",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init", "open_by_handle_at", "name_to_handle_at",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "syslog", "vhangup", "iopl", "ioperm", "lookup_dcookie",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)
HERE = os.path.dirname(os.path.abspath(__file__))

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _load_runner():  # type: ignore[no-untyped-def]
    path = next(p for p in (os.path.join(HERE, n) for n in ("runner.py", "_runner.py")) if os.path.exists(p))
    spec = importlib.util.spec_from_file_location("credkit_runner", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))


def _become_unprivileged(uid: int, gid: int, limits: dict) -> None:  # type: ignore[type-arg]
    """Limits, then no capabilities and the slot's user: from here on nothing is privileged."""
    for rlimit, value in ((resource.RLIMIT_CPU, limits["cpu_seconds"]), (resource.RLIMIT_AS, limits["memory_bytes"]),
                          (resource.RLIMIT_NPROC, limits["processes"]), (resource.RLIMIT_FSIZE, limits["file_bytes"]),
                          (resource.RLIMIT_NOFILE, limits["open_files"]), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(rlimit, (value, value))
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        last_cap = int(fh.read())
    for cap in range(last_cap + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop capability")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # from root to a user: permitted and effective capabilities go too
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("still root after setresuid")


def _syscall_filter():  # type: ignore[no-untyped-def]
    """The seccomp filter every process of an execution runs under: built once in the server (it
    imports libseccomp's bindings), loaded by each side's init before anything of the learner's runs."""
    import errno

    import pyseccomp as seccomp

    denied = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(denied, name)
        except (OSError, ValueError):  # not a syscall of this architecture
            continue
    # clone: new threads and processes, never new namespaces. clone3 passes its flags in memory a
    # filter cannot read: ENOSYS makes the C library fall back to clone, which is checked.
    for flag in (1 << bit for bit in range(32) if NAMESPACE_FLAGS >> bit & 1):
        rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return rules


def _join_cgroups(name: str, limits: dict) -> list[str]:  # type: ignore[type-arg]
    """Put this process (and so everything it starts) in a cgroup of its own under each of the
    worker's controller folders, limited as a whole: memory, processes, CPU. Returns the folders
    made (the pair's parent removes them once the side has ended)."""
    made = []
    if not os.path.isdir(CGROUPS):
        return made
    memory, cpu_quota, period = int(limits["memory_bytes"]), int(float(limits["cpus"]) * 100_000), 100_000
    # Above RLIMIT_NPROC: the user's limit refuses a fork bomb's forks early and cheaply; the cgroup's
    # check comes only after the kernel has copied the process (a bomb hitting it first starves its
    # own kernel of CPU), so it is the backstop, also counting this side's own root processes.
    tasks = int(limits["processes"]) + 16
    for controller in sorted(os.listdir(CGROUPS)):
        folder = os.path.join(CGROUPS, controller, name)
        os.mkdir(folder, 0o700)
        made.append(folder)
        settings: list[tuple[str, str]] = {
            # cgroup v2: one folder with every controller; v1: one hierarchy per controller.
            "unified": [("memory.max", str(memory)), ("memory.swap.max", "0"), ("pids.max", str(tasks)),
                        ("cpu.max", f"{cpu_quota} {period}")],
            "memory": [("memory.limit_in_bytes", str(memory)), ("memory.memsw.limit_in_bytes", str(memory))],
            "pids": [("pids.max", str(tasks))],
            "cpu": [("cpu.cfs_period_us", str(period)), ("cpu.cfs_quota_us", str(cpu_quota))],
        }[controller]
        for key, value in settings:
            if key.startswith("cpu.") and float(limits["cpus"]) <= 0:  # no CPU quota asked for
                continue
            path = os.path.join(folder, key)
            if os.path.exists(path):  # memsw and swap.max only where swap is accounted
                with open(path, "w") as fh:
                    fh.write(value)
        with open(os.path.join(folder, "cgroup.procs"), "w") as fh:
            fh.write("0")  # this process: its children are born in it
    return made


def _cgroups_of(ident: object) -> list[str]:
    controllers = os.listdir(CGROUPS) if os.path.isdir(CGROUPS) else []
    return [os.path.join(CGROUPS, c, f"exec-{ident}-{role}") for c in controllers for role in ("learner", "checker")]


def _remove_cgroups(folders: list[str], tries: int = 50) -> None:
    """Remove a side's cgroups once its processes are gone (they may take a moment to be reaped)."""
    import time

    for folder in folders:
        for _ in range(tries):
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _sub_execution(runner, syscall_filter, role: str, request: dict, fds: dict, peer_fds: list,  # type: ignore[no-untyped-def,type-arg]
                   parent_pid: int) -> None:
    """One side of the pair (``learner`` or ``checker``), in a child of the pair's parent: its own
    PID, network, IPC, UTS and cgroup namespaces, its own /tmp, its own unprivileged user."""
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    if os.getppid() != parent_pid:
        os._exit(1)
    for fd in peer_fds:  # nothing of the other side's
        os.close(fd)
    limits = request["limits"]
    user = request[role]
    uid, gid = int(user["uid"]), int(user["gid"])
    # A session keyring of its own (a keyring is a kernel object any process of the user can name).
    if libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        raise OSError(ctypes.get_errno(), "keyctl: a session keyring of its own")
    _join_cgroups(f"exec-{request['id']}-{role}", limits)
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP),
           "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # A Python installation under /tmp (a checkout's .venv) must stay visible above the fresh /tmp:
    # hold it open, then bind it back in through /proc/self/fd once the tmpfs is mounted.
    held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in request["keep_under_tmp"]]
    size, inodes = int(limits["disk_bytes"]), int(limits["inodes"])
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},nr_inodes={inodes},mode=1777")
    # Terminals of its own: a devpts instance no other execution shares (bwrap's /dev/ptmx points
    # into /dev/pts, so it follows).
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0600")
    for path, fd in held:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    if role == "checker":
        # The checker's working directory: the instructor's released files (pristine, on top) over
        # the learner's working copy (below, read-only through the overlay); what test code writes
        # goes to an upper layer of its own and never reaches the learner.
        _mount("tmpfs", CHECK_LAYERS, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},nr_inodes={inodes},mode=0755")
        for name in ("released", "upper", "work"):
            os.mkdir(os.path.join(CHECK_LAYERS, name), 0o755)
            os.chown(os.path.join(CHECK_LAYERS, name), uid, gid)
        os.makedirs(CHECKDIR, mode=0o755, exist_ok=True)
        _mount("overlay", CHECKDIR, "overlay", MS_NOSUID | MS_NODEV,
               f"lowerdir={CHECK_LAYERS}/released:{WORKDIR},upperdir={CHECK_LAYERS}/upper,"
               f"workdir={CHECK_LAYERS}/work")
        _mount(None, WORKDIR, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    init = os.fork()
    if init:  # outside the new PID namespace: wait for its init and pass its status on
        for fd in fds.values():
            os.close(fd)
        _, status = os.waitpid(init, 0)
        os._exit(_exit_code(status))
    # PID 1 of the new namespace: when it dies, every process in the namespace dies with it.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _loopback_up()
    os.chdir(CHECKDIR if role == "checker" else WORKDIR)
    _become_unprivileged(uid, gid, limits)
    # Changing user cleared the parent-death signal: set it again, for the user it now is.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    syscall_filter.load()  # from here on, for this process and all it starts
    child = os.fork()
    if child == 0:  # the runner (non-dumpable, as fork passes it on)
        if role == "checker":
            runner.serve_checker(fds["request"], fds["reply"], fds["bridge"], fds["control"], limits)
        else:
            runner.serve_learner(fds["request"], fds["bridge"], fds["control"], limits)
        os._exit(0)
    for fd in fds.values():
        os.close(fd)
    while True:  # reap orphans until the runner ends
        pid, status = os.wait()
        if pid == child:
            os._exit(_exit_code(status))


def _execution(runner, syscall_filter, request: dict, learner_request: int, checker_request: int,  # type: ignore[no-untyped-def,type-arg]
               reply_fd: int, server_pid: int) -> None:
    """In the forked child: the parent of one notebook's pair of sandboxes (learner and checker).

    It holds the mount namespace in which the learner's working copy lives (so the checker can see
    it read-only), makes the two sockets between the runners (the bridge and the control channel),
    forks the two sides and waits for the checker; the learner's side is killed when it is done.
    """
    # If the server dies, so does this execution (and with it both sides).
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    if os.getppid() != server_pid:
        os._exit(1)
    os.setsid()
    # Nothing of the server's stdio: its stderr reaches the worker, and learner output must not.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    runner.close_inherited_fds(keep=(learner_request, checker_request, reply_fd))
    for fd in (learner_request, checker_request, reply_fd):
        os.set_inheritable(fd, False)  # received fds are inheritable: an exec must not get them
    limits = request["limits"]
    _check(libc.unshare(CLONE_NEWNS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    learner = request["learner"]
    # 0755: the checker's user reads what learner code wrote (nobody else shares this namespace).
    _mount("tmpfs", WORKDIR, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={int(limits['disk_bytes'])},nr_inodes={int(limits['inodes'])},mode=0755,"
           f"uid={int(learner['uid'])},gid={int(learner['gid'])}")
    bridge_l, bridge_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    control_l, control_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    learner_fds = {"request": learner_request, "bridge": bridge_l.detach(), "control": control_l.detach()}
    checker_fds = {"request": checker_request, "reply": reply_fd, "bridge": bridge_c.detach(),
                   "control": control_c.detach()}
    me = os.getpid()
    pids = {}
    for role, own, other in (("learner", learner_fds, checker_fds), ("checker", checker_fds, learner_fds)):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _sub_execution(runner, syscall_filter, role, request, own, list(other.values()), me)
            finally:
                os._exit(code)
        pids[pid] = role
    for fd in (*learner_fds.values(), *checker_fds.values()):
        os.close(fd)
    code = 1
    while pids:
        pid, status = os.wait()
        role = pids.pop(pid, None)
        if role == "checker":
            code = _exit_code(status)
            for other in pids:  # the learner's side: nothing left to answer
                os.kill(other, signal.SIGKILL)
    _remove_cgroups(_cgroups_of(request["id"]))
    os._exit(code)


def _preload(modules: list[str]) -> None:
    """Import the grader's preload list (config, trusted) once; a module that fails is left out,
    and the notebook's own import of it then fails in the sandbox as it would have anyway."""
    for name in modules:
        if name not in sys.modules:
            before = set(sys.modules)
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - any import failure means: not preloaded
                for partial in set(sys.modules) - before:
                    del sys.modules[partial]


def serve(control: socket.socket) -> None:
    runner = _load_runner()
    runner.preload()
    syscall_filter = _syscall_filter()
    children: dict[int, int] = {}  # pid → request id
    pids: dict[int, int] = {}  # request id → pid
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)

    def send(message: dict) -> None:  # type: ignore[type-arg]
        try:
            control.send(json.dumps(message).encode())
        except OSError:
            pass

    while True:
        for key, _ in sel.select():
            if key.fileobj is control:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(control, 1 << 20, 3)
                except OSError:
                    data, fds = b"", []
                if not data:  # the worker is gone: so are its executions
                    for pid in children:
                        os.kill(pid, signal.SIGKILL)
                    os._exit(0)
                message = json.loads(data)
                if message["op"] == "kill":
                    pid = pids.get(message["id"])
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
                    continue
                if len(fds) != 3:
                    for fd in fds:
                        os.close(fd)
                    send({"id": message["id"], "error": "fork request without its three pipes"})
                    continue
                _preload(message["limits"]["preload"])
                server_pid = os.getpid()
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        _execution(runner, syscall_filter, message, fds[0], fds[1], fds[2], server_pid)
                    finally:
                        os._exit(code)
                for fd in fds:
                    os.close(fd)
                children[pid] = message["id"]
                pids[message["id"]] = pid
                send({"id": message["id"], "started": True})
            else:
                os.read(wake_r, 4096)
                while children:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    ident = children.pop(pid, None)
                    if ident is not None:
                        pids.pop(ident, None)
                        _remove_cgroups(_cgroups_of(ident), tries=1)  # a killed pair leaves them
                        send({"id": ident, "exit": _exit_code(status)})


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
