"""Attack submissions (learner code placed in the `squares` solution cell).

Every attacker also defines honest `squares` and `mean`, so its honest work is full marks: any score
above that, or any change to someone else's, is the attack working. None of this code contains a
canary value; it only knows where secrets live (paths an attacker could guess) or asks for them.
"""

from __future__ import annotations

from grading_course import HONEST


def _with(prelude: str) -> dict[str, str]:
    return {"squares": prelude + "\n" + HONEST["squares"], "mean": HONEST["mean"]}


def readers(course: str, key_file: str, port: int, token: str) -> dict[str, dict[str, str]]:
    """Batch A: attacks that read or reach beyond the working copy."""
    return {
        # Solutions and instructor files: the course's source notebook, a secret file, and the
        # notebook on disk in the working directory (nbgrader's sanitized copy holds hidden tests).
        "reader": _with(f"""
import glob, os
for path in [{course!r} + '/source/ps1/problem1.ipynb', '../../../source/ps1/problem1.ipynb',
             {course!r} + '/instructor-secret.txt', '../../../instructor-secret.txt',
             *glob.glob('*.ipynb')]:
    try:
        print(path, open(path).read())
    except OSError as exc:
        print('blocked', path, type(exc).__name__)
"""),
        # Other learners' work.
        "peeker": _with(f"""
import glob
for path in glob.glob({course!r} + '/submitted/*/ps1/*.ipynb') + glob.glob('../../../submitted/*/ps1/*.ipynb'):
    try:
        print(path, open(path).read())
    except OSError as exc:
        print('blocked', path, type(exc).__name__)
"""),
        # The grader's environment and the issuer's key file.
        "thief": _with(f"""
import os
print(dict(os.environ))
for path in [os.environ.get('CREDKIT_KEY_FILE', ''), {key_file!r}]:
    try:
        print(path, open(path).read())
    except OSError as exc:
        print('blocked', path, type(exc).__name__)
"""),
        # The network: a listener on the grader's loopback.
        "netcat": _with(f"""
import socket
try:
    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)
    s.sendall(b'exfiltrated by netcat')
    s.close()
    print('connected')
except OSError as exc:
    print('blocked', type(exc).__name__)
"""),
        # Writing outside the working copy, and one very large file inside it.
        "writer": _with(f"""
for path in [{course!r} + '/PWNED-{token}', '../../../PWNED-{token}-rel', '/tmp/PWNED-{token}']:
    try:
        open(path, 'w').write('pwned')
        print('wrote', path)
    except OSError as exc:
        print('blocked', path, type(exc).__name__)
try:
    with open('big.bin', 'wb') as fh:
        for _ in range(100):
            fh.write(b'0' * 1024 * 1024)
    print('WROTE 100 MiB')
except OSError as exc:
    print('blocked big file', type(exc).__name__)
"""),
    }


def resources(course: str) -> dict[str, dict[str, str]]:
    """Batch B: attacks on the gradebook, on resources and on the grading process."""
    return {
        # Rewrite the gradebook: full marks for itself, zero for everyone else (manual beats auto).
        "forger": _with(f"""
import sqlite3
for path in [{course!r} + '/gradebook.db', '../../../gradebook.db']:
    try:
        db = sqlite3.connect(path)
        db.execute('''UPDATE grade SET manual_score = CASE WHEN notebook_id IN (
            SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            WHERE sa.student_id = 'forger') THEN 100 ELSE 0 END''')
        db.commit()
        print('forged', path)
        break
    except Exception as exc:
        print('blocked', path, type(exc).__name__)
"""),
        # A (bounded) fork bomb: 200 children, each becoming a short sleep.
        "forkbomb": _with("""
import os
n = 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execv('/bin/sleep', ['sleep', '3'])
    n += 1
print('FORKED', n)
"""),
        # A memory bomb: 3 GiB of address space (the kernel hands out zero pages lazily).
        "bigmem": _with("""
try:
    block = bytes(3 * 1024 ** 3)
    print('ALLOCATED 3 GiB')
    del block
except MemoryError:
    print('blocked MemoryError')
"""),
        # Output flood: 30 MB of rich output, which nbgrader's LimitOutput never trims.
        "flooder": _with("""
from IPython.display import display
for i in range(30):
    display({'text/plain': 'F' * (1024 * 1024)}, raw=True)
"""),
        # Kill the grading process (the kernel's parent): under stock nbgrader, the whole batch.
        "killer": _with("""
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
"""),
        # Kill its own kernel.
        "suicide": _with("""
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
"""),
        # An infinite loop that ignores interrupts.
        "hanger": _with("""
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""),
    }


def in_kernel(course: str) -> dict[str, dict[str, str]]:
    """Batch C: attacks on the tests from inside the kernel. Their honest work is noted per attack."""
    return {
        # Honest work: mean only (5). `squares` returns an object equal to anything.
        "eqcheat": {
            "squares": "class Anything:\n    def __eq__(self, other):\n        return True\n\n"
                       "def squares(n):\n    return Anything()\n",
            "mean": HONEST["mean"],
        },
        # Honest work: squares only (5). `mean` is hard-coded and math.isclose patched to agree.
        "patcher": {
            "squares": HONEST["squares"] + "import math\nmath.isclose = lambda *a, **k: True\n",
            "mean": "def mean(xs):\n    return 2.0\n",
        },
        # Honest work: nothing (0). An input transformer blanks every later cell that asserts.
        "blanker": {
            "squares": "def squares(n):\n    return []\n\n"
                       "get_ipython().input_transformers_cleanup.append(\n"
                       "    lambda lines: [] if any('assert' in l for l in lines) else lines)\n",
            "mean": BLANK_MEAN,
        },
        # Honest work: full (10). Under the autograder only, it zeroes another learner's grades.
        "detector": _with(f"""
import os, sqlite3
if os.environ.get('NBGRADER_EXECUTION') == 'autograde':
    try:
        db = sqlite3.connect({course!r} + '/gradebook.db')
        db.execute('''UPDATE grade SET manual_score = 0 WHERE notebook_id IN (
            SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            WHERE sa.student_id = 'alice')''')
        db.commit()
        print('forged')
    except Exception as exc:
        print('blocked', type(exc).__name__)
"""),
    }


BLANK_MEAN = "def mean(xs):\n    raise NotImplementedError()\n"


# The user keyring a planted key goes to: KEY_SPEC_USER_KEYRING, shared by every process of a user,
# and outliving them. The description is fixed so that a later learner can look it up.
KEY_DESCRIPTION = "credkit-attack-channel"
KEYRING = """
import ctypes, errno
_libc = ctypes.CDLL(None, use_errno=True)
def _keyctl_result(r):
    return r if r >= 0 else 'blocked ' + errno.errorcode.get(ctypes.get_errno(), '?')
"""


def isolation(payload: str) -> dict[str, dict[str, str]]:
    """Batch D (issue 10): kernel objects a process can name, and resources of the machine as a
    whole. ``payload`` is what the planter leaves in the keyring (the test's canary)."""
    return {
        # Leave a value in the slot user's keyring, for a later learner on the same user.
        "keyplanter": _with(KEYRING + f"""
print('PLANTED', _keyctl_result(_libc.syscall(248, b'user', {KEY_DESCRIPTION.encode()!r}, {payload.encode()!r},
                                               {len(payload)}, ctypes.c_int(-4))))
"""),
        # Read it back: KEYCTL_SEARCH the user keyring, then KEYCTL_READ.
        "keyreader": _with(KEYRING + f"""
key = _libc.syscall(250, 10, ctypes.c_int(-4), b'user', {KEY_DESCRIPTION.encode()!r}, 0)
buf = ctypes.create_string_buffer(256)
if key >= 0:
    n = _libc.syscall(250, 11, key, buf, 256)
    print('READ BACK', buf.raw[:max(n, 0)].decode(errors='replace'))
else:
    print('READ', _keyctl_result(key))
"""),
        # A user namespace of its own, then a mount namespace in it: capabilities again.
        "nester": _with("""
import ctypes, errno, os
_libc = ctypes.CDLL(None, use_errno=True)
_r, _w = os.pipe()
if os.fork() == 0:  # a single-threaded child: a kernel has threads, and unshare needs one
    ok = _libc.unshare(0x10000000) == 0 and _libc.unshare(0x00020000) == 0
    os.write(_w, b'NESTED with capabilities' if ok else b'nesting blocked ' + errno.errorcode.get(ctypes.get_errno(), '?').encode())
    os._exit(0)
os.wait()
print(os.read(_r, 100).decode())
"""),
        # Whose terminals can it see?
        "ptyspy": _with("""
import os
_pty = os.openpty()
print('PTYS', sorted(n for n in os.listdir('/dev/pts') if n != 'ptmx'), 'MINE', os.ttyname(_pty[1]))
"""),
        # Empty files until the file system says no (each costs the host an inode's kernel memory).
        "inodes": _with("""
import os
os.makedirs('many', exist_ok=True)
made = 0
try:
    for i in range(30_000):
        open(f'many/{i}', 'w').close()
        made += 1
except OSError as exc:
    print('stopped', type(exc).__name__)
print('FILES', made)
"""),
        # Four children touching 700 MiB each: each under the per-process limit, together far over.
        "memhog": _with("""
import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(700 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(2)
        finally:
            os._exit(0)
    kids.append(pid)
print('CHILDREN', [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in kids])
"""),
        # A small display, then updated in place with 6 MiB: stock's output limit never sees updates.
        "updater": _with("""
from IPython.display import display, update_display
display('small', display_id='grow')
update_display({'text/plain': 'U' * (6 * 1024 * 1024)}, raw=True, display_id='grow')
"""),
    }


def _mean_then(attack: str) -> dict[str, str]:
    """Honest squares; the mean cell defines an honest mean, then stops the kernel its way."""
    return {"squares": HONEST["squares"], "mean": HONEST["mean"] + attack}


def stoppers() -> dict[str, dict[str, str]]:
    """Batch E (issue 10): kernels that stop or stall in the mean cell. Squares (5 points) was
    scored before; only what comes after may be lost."""
    return {
        "exiter": _mean_then("import os\nos._exit(0)\n"),
        "sysexit": _mean_then("raise SystemExit(3)\n"),
        "quitter": _mean_then("exit()\n"),
        # The kernel's output channel closed under it: no output, no idle status, ever again.
        "starver": _mean_then("get_ipython().kernel.iopub_socket.close()\n"),
        # A loop that ignores the interrupt at the cell's timeout.
        "hanger": _mean_then("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"),
    }


def floods() -> dict[str, dict[str, str]]:
    """Batch F (issue 10): output past the kernel's own memory (1.5 GiB against a 1 GiB limit),
    down each path ipykernel buffers without bound, and in one print; then the honest functions. The raw file
    descriptor, which ipykernel drains a thousand bytes at a time (slow, never piling up), gets
    64 MiB."""
    chunk = "chunk = 'F' * (1024 * 1024)\nfor _ in range(1536):\n    "
    return {
        "printer": _with(chunk + "print(chunk)\n"),
        "stderrer": _with("import sys\n" + chunk + "sys.stderr.write(chunk)\n"),
        "displayer": _with("from IPython.display import display\n" + chunk
                           + "display({'text/plain': chunk}, raw=True)\n"),
        "fdwriter": _with("import os\ndata = b'F' * (1024 * 1024)\nfor _ in range(64):\n    os.write(1, data)\n"),
        # one write that crosses the budget by far: 256 MiB in a single print
        "oneprint": _with("print('F' * (256 * 1024 * 1024))\n"),
    }
