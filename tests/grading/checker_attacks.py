"""Attack submissions on the tests themselves (issue 9), for the checker-process design.

Each attacker's code goes into the solution cells of the `ps1` course fixture (see grading_course).
``ATTACKERS`` maps a learner to (code, honest score): the honest score is what that code earns when
its functions are judged by the values they really return, with no help from the attack. Any total
above it is the attack working. ``HONEST_WITH_ATTACK`` are the same attacks appended to the honest
answers: they must keep full marks. None of this code contains a canary value.

Also here: the small ``types`` assessment (honest answers whose correct result is a Counter, a
numpy scalar, an OrderedDict, a Fraction, a list of numpy scalars), helpers that write submissions
of any shape (symlinks, deleted cells, another kernelspec), and a reader of a process's whole memory.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
from pathlib import Path

import nbformat
from grading_course import CANARY_HIDDEN, COURSE_ID, HONEST, VENV_BIN, _meta, grader_env, run_nbgrader
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SQUARES_BLANK = "def squares(n):\n    return []\n"
MEAN_BLANK = "def mean(xs):\n    raise NotImplementedError()\n"


def _code(squares: str, mean: str = HONEST["mean"]) -> dict[str, str]:
    return {"squares": squares, "mean": mean}


# -- 1. sys.displayhook called from a learner function, during a test cell ----------------------------
DISPLAYHOOK = """
import sys

def squares(n):
    sys.displayhook('all good')  # an execute_result in the test cell, before its error
{body}"""

# -- 2a. the base class's run_cell patched: test cells (they assert) run as `pass` ---------------------
RUN_CELL = """
from IPython.core.interactiveshell import InteractiveShell

_run_cell = InteractiveShell.run_cell

def _run_cell_patched(self, raw_cell, *args, **kwargs):
    if 'assert' in raw_cell:
        raw_cell = 'pass\\n'
    return _run_cell(self, raw_cell, *args, **kwargs)

InteractiveShell.run_cell = _run_cell_patched
"""

# -- 2a'. the same class, one layer down or up: the kernel's handler, the instance's transform_cell
# (a patch of InteractiveShell.run_cell_async changes nothing under stock with ipykernel 7: not used)
DO_EXECUTE = """
from ipykernel.ipkernel import IPythonKernel

_do_execute = IPythonKernel.do_execute

async def _do_execute_patched(self, code, *args, **kwargs):
    if 'assert' in code:
        code = 'pass\\n'
    return await _do_execute(self, code, *args, **kwargs)

IPythonKernel.do_execute = _do_execute_patched
"""
TRANSFORM_CELL = """
_ip = get_ipython()
_ip.transform_cell = lambda raw, _orig=_ip.transform_cell: 'pass\\n' if 'assert' in raw else _orig(raw)
"""

# -- 2b. showtraceback and ExecutionResult patched: a failing cell leaves no error output ---------------
TRACEBACK = """
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

InteractiveShell.showtraceback = lambda self, *args, **kwargs: None
ExecutionResult.success = property(lambda self: True)
ExecutionResult.raise_error = lambda self: None
"""

# -- 3a. a pre_run_cell hook registered by the learner's function, from inside a test cell --------------
EVENT_HOOK = """
_registered = []

def _before_each_cell(info):
    get_ipython().displayhook('all good')  # the shell's; sys.displayhook is swapped in only for the cell

def _register_once():
    if not _registered:
        get_ipython().events.register('pre_run_cell', _before_each_cell)
        _registered.append(True)
"""

# -- 3b. an input transformer added by the learner's function while a test cell runs --------------------
TRANSFORMER = """
_added = []

def _register_once():
    if not _added:
        get_ipython().input_transformers_cleanup.append(
            lambda lines: ['pass\\n'] if any('assert' in line for line in lines) else lines)
        _added.append(True)
"""

# -- 4a. an always-equal object, and a fake builtins.type installed just in time ------------------------
FAKE_TYPE = """
import builtins

_real_type = builtins.type

class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

class _FakeTypeMeta(_real_type):
    def __call__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs:
            return list if isinstance(args[0], Anything) else _real_type(args[0])
        return _real_type(*args, **kwargs)
    def __instancecheck__(cls, obj):
        return isinstance(obj, _real_type)
    def __subclasscheck__(cls, sub):
        return issubclass(sub, _real_type)

class _FakeType(metaclass=_FakeTypeMeta):
    pass

def _install_fake_type():
    builtins.type = _FakeType  # type(x) now says list for an Anything
"""

# -- 4b. a float subclass dressed as numpy's, equal to anything ----------------------------------------
NUMPY_FLOAT = """
class float64(float):
    __module__ = 'numpy'
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
"""

# -- 5. the learner's function reads the calling test's source and returns the expected value ------------
CALLER_SOURCE = """
import ast, inspect, linecache, sys

def _expected_from_caller():
    try:
        frame = sys._getframe(2)
        lines = linecache.getlines(frame.f_code.co_filename)
        line = lines[frame.f_lineno - 1] if lines else inspect.stack()[2].code_context[0]
        test = ast.parse(line.strip()).body[0].test
        return ast.literal_eval(test.comparators[0])
    except Exception:
        return None
"""

# -- 6. hidden tests copied into this cell's output with update_display ---------------------------------
LEAK = """
import linecache, sys
from IPython.display import display, update_display

display({'text/plain': 'notes will appear here'}, raw=True, display_id='notes')

def _leak_caller():
    try:
        frame = sys._getframe(2)
        text = ''.join(linecache.getlines(frame.f_code.co_filename))
        text += '\\n'.join(get_ipython().user_ns.get('In', [])[-1:])
        update_display({'text/plain': text}, raw=True, display_id='notes')
    except Exception:
        pass
"""

# -- 9. kernelspec not "python3", and a module in the submission folder shadowing numpy ------------------
# Stock kernels have '' (their working directory, where the submitted files are copied) on sys.path,
# after the standard library and before site-packages: a numpy.py there is the numpy the tests import.
# This one hands back the real numpy with isclose/allclose agreeing with anything.
SHADOW_NUMPY = '''"""numpy, as the tests will see it."""
import importlib, os, sys

_here = os.path.dirname(os.path.abspath(__file__))
_saved = list(sys.path)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here]
del sys.modules['numpy']
try:
    _real = importlib.import_module('numpy')
finally:
    sys.path[:] = _saved
_real.isclose = lambda *args, **kwargs: True
_real.allclose = lambda *args, **kwargs: True
sys.modules['numpy'] = _real
'''
SHADOW_KERNEL = "Python3"  # not the string "python3", yet jupyter_client finds the python3 kernel by it

HONEST_SQUARES_BODY = "    return [i * i for i in range(1, n + 1)]\n"


def attackers() -> dict[str, tuple[dict[str, str], float]]:
    """learner -> (solution-cell code, honest score out of 10). The attack is what lifts it above."""
    return {
        # squares is wrong: only mean's 5 are honest
        "displayhook": (_code(DISPLAYHOOK.format(body="    return []\n")), 5.0),
        "runcell": (_code(RUN_CELL + "\n" + SQUARES_BLANK), 5.0),
        "traceback": (_code(TRACEBACK + "\n" + SQUARES_BLANK), 5.0),
        "doexecute": (_code(DO_EXECUTE + "\n" + SQUARES_BLANK), 5.0),
        "transformcell": (_code(TRANSFORM_CELL + "\n" + SQUARES_BLANK), 5.0),
        # nothing is right; the hook helps every cell after the one that registered it
        "eventhook": (_code(EVENT_HOOK + "\ndef squares(n):\n    _register_once()\n    return []\n", MEAN_BLANK), 0.0),
        # squares is right (5), mean is not
        "transformer": (_code(TRANSFORMER + "\ndef squares(n):\n    _register_once()\n" + HONEST_SQUARES_BODY,
                              MEAN_BLANK), 5.0),
        "faketype": (_code(FAKE_TYPE + "\ndef squares(n):\n    _install_fake_type()\n    return Anything()\n"), 5.0),
        # mean is wrong on [1, 2, 3] (returns a "numpy" 0.0), right on [1.5, 2.0]: the cell is worth 0
        "npfloat": (_code(HONEST["squares"], NUMPY_FLOAT + "\ndef mean(xs):\n"
                          "    return float64(0.0) if len(xs) == 3 else sum(xs) / len(xs)\n"), 5.0),
        "callersource": (_code(CALLER_SOURCE + "\ndef squares(n):\n    found = _expected_from_caller()\n"
                               "    return found if found is not None else []\n"), 5.0),
    }


def honest_with_attack() -> dict[str, dict[str, str]]:
    """The same attacks appended to honest answers: full marks (10) under stock and under credkit."""
    return {
        "displayhook-ok": _code(DISPLAYHOOK.format(body=HONEST_SQUARES_BODY)),
        "runcell-ok": _code(RUN_CELL + "\n" + HONEST["squares"]),
        "traceback-ok": _code(TRACEBACK + "\n" + HONEST["squares"]),
        "doexecute-ok": _code(DO_EXECUTE + "\n" + HONEST["squares"]),
        "transformcell-ok": _code(TRANSFORM_CELL + "\n" + HONEST["squares"]),
        "eventhook-ok": _code(EVENT_HOOK + "\ndef squares(n):\n    _register_once()\n" + HONEST_SQUARES_BODY),
        "transformer-ok": _code(TRANSFORMER + "\ndef squares(n):\n    _register_once()\n" + HONEST_SQUARES_BODY),
        "faketype-ok": _code(FAKE_TYPE + "\ndef squares(n):\n    _install_fake_type()\n" + HONEST_SQUARES_BODY),
        "npfloat-ok": _code(HONEST["squares"], NUMPY_FLOAT + "\ndef mean(xs):\n    return float64(sum(xs) / len(xs))\n"),
        "callersource-ok": _code(CALLER_SOURCE + "\ndef squares(n):\n    _expected_from_caller()\n"
                                 + HONEST_SQUARES_BODY),
        # the leak gains no points; what it copies is the question
        "leaker": _code(LEAK + "\ndef squares(n):\n    _leak_caller()\n" + HONEST_SQUARES_BODY),
    }



# The sleeper (on the types assessment): honest, but `average` (the last task) sleeps on its first call,
# after the hidden test cell has run. The marker is computed when it runs, so it is only ever in the
# memory of the process that ran it; the flag file in its working directory tells the watching test
# which processes to read, and when.
SLEEPER = {"float64": """import numpy as np
import time

_calls = []

def average(xs):
    if not _calls:
        _calls.append('-'.join(['LEARNER', 'PROCESS', 'MARK', str(7 * 6151)]))
        try:
            open('sleeping.flag', 'w').close()
        except OSError:
            pass
        time.sleep(3)
    return np.mean(xs)
"""}
SLEEPER_MARK = "LEARNER-PROCESS-MARK-43057"
# The leak of class 6 on the types assessment: word_counts, called by the hidden test, copies the
# calling cell's source into its own cell's output.
TYPES_LEAKER = {"counter": LEAK + "\nfrom collections import Counter\n\ndef word_counts(text):\n"
                           "    _leak_caller()\n    return Counter(text.split())\n"}
SLEEPER_FLAG = "sleeping.flag"


# -- submissions of any shape ---------------------------------------------------------------------------
def released(course: Path, assignment: str, notebook: str) -> nbformat.NotebookNode:
    return nbformat.read(course / "release" / assignment / f"{notebook}.ipynb", as_version=4)


def fill(nb: nbformat.NotebookNode, code: dict[str, str]) -> nbformat.NotebookNode:
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in code:
            cell.source = code[grade_id]
    return nb


def submit_notebook(course: Path, student: str, assignment: str, notebook: str, nb: nbformat.NotebookNode, *,
                    files: dict[str, str] | None = None,
                    timestamp: str = "2026-11-01 10:00:00.000000 UTC") -> Path:
    dest = course / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{notebook}.ipynb"
    if path.is_symlink():
        path.unlink()
    nbformat.write(nb, path)
    (dest / "timestamp.txt").write_text(timestamp)
    for rel, text in (files or {}).items():
        (dest / rel).write_text(text)
    return dest


def submit_link_to_source(course: Path, student: str) -> None:
    """The submitted notebook is a symlink to the instructor's source notebook (with solutions)."""
    dest = course / "submitted" / student / "ps1"
    dest.mkdir(parents=True)
    (dest / "problem1.ipynb").symlink_to(course / "source" / "ps1" / "problem1.ipynb")
    (dest / "timestamp.txt").write_text("2026-11-01 10:00:00.000000 UTC")


def submit_link_to_other(course: Path, student: str, other: str) -> None:
    """The whole submission folder is a symlink to another learner's."""
    (course / "submitted" / student).mkdir(parents=True)
    (course / "submitted" / student / "ps1").symlink_to(course / "submitted" / other / "ps1",
                                                       target_is_directory=True)


def without_cells(nb: nbformat.NotebookNode, grade_ids: set[str]) -> nbformat.NotebookNode:
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in grade_ids]
    return nb


# -- results --------------------------------------------------------------------------------------------
def scores(course: Path, assignment: str) -> dict[str, dict[str, float | None]]:
    """learner -> grade_id -> auto_score, for every submission in the gradebook."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, float | None]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        for sub in gb.assignment_submissions(assignment):
            out[sub.student_id] = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
    return out


def total(score_row: dict[str, float | None] | None) -> float:
    """A learner's total; a learner with no gradebook row (refused, failed) has 0."""
    return float(sum(v or 0.0 for v in (score_row or {}).values()))


def gradebook_rows(course: Path, exclude: tuple[str, ...] = ()) -> str:
    """Every row of every table of the gradebook (but ``exclude``), as text."""
    import sqlite3

    db = sqlite3.connect(course / "gradebook.db")
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'") if r[0] not in exclude]
        return "\n".join(repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))
    finally:
        db.close()


def cell_outputs(course: Path, learner: str | None = None, *, test_cells: bool | None = None,
                 errors: bool = True) -> str:
    """The outputs (only) of autograded notebooks; sources legitimately hold hidden tests.
    ``test_cells``: True only autograded test cells, False only the others, None all. ``errors=False``
    leaves out error outputs (a failed test's traceback quotes its cell's code, hidden tests included,
    under stock nbgrader too; the feedback replaces it)."""
    texts = []
    base = course / "autograded"
    for path in sorted(base.rglob("*.ipynb")):
        if learner is not None and path.relative_to(base).parts[0] != learner:
            continue
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            is_test = bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))
            if test_cells is None or test_cells == is_test:
                outputs = [o for o in cell.get("outputs", []) if errors or o.get("output_type") != "error"]
                texts.append(json.dumps(outputs))
    return "\n".join(texts)


def learner_files(course: Path, learner: str) -> str:
    """Every file under autograded/<learner> and feedback/<learner>, as text."""
    parts = []
    for sub in ("autograded", "feedback"):
        base = course / sub / learner
        if base.exists():
            parts += [p.read_text(errors="replace") for p in base.rglob("*") if p.is_file()]
    return "\n".join(parts)


def all_files(course: Path, except_learner: str | None = None) -> str:
    """Every file under autograded/ and feedback/ (but ``except_learner``'s), and the course's logs."""
    parts = []
    for sub in ("autograded", "feedback"):
        base = course / sub
        for path in sorted(base.rglob("*")) if base.exists() else []:
            if except_learner and path.relative_to(base).parts[0] == except_learner:
                continue
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
    parts += [p.read_text(errors="replace") for p in course.glob("*.log")]
    return "\n".join(parts)


def add_feedback_config(course: Path) -> None:
    """Add the lines `credkit release` asks an instructor to add to the course's own configuration
    (skills and no hidden tests in the feedback, learner HTML sanitized), once."""
    from grading.course import missing_config_lines

    config = course / "nbgrader_config.py"
    missing = missing_config_lines(config.read_text())
    if missing:
        config.write_text(config.read_text().rstrip("\n") + "\n" + missing + "\n")


def feedback(course: Path, assignment: str = "ps1", *, hide_hidden: bool = False) -> str:
    """Run `nbgrader generate_feedback`; with ``hide_hidden`` the course first gets credkit's feedback
    configuration (hidden tests never shown), as `credkit release` would add it."""
    if hide_hidden:
        add_feedback_config(course)
    run_nbgrader(course, "generate_feedback", assignment)
    return "\n".join(p.read_text(errors="replace") for p in (course / "feedback").rglob("*.html"))


def credkit_command(course: Path, assignment: str, *args: str) -> list[str]:
    # 5 s a cell, for the course and the sandbox alike (the stricter of the two applies)
    return [str(VENV_BIN / "credkit"), "grade", assignment, "--course-dir", str(course),
            "--cell-timeout", "5", "--Execute.timeout=5", "--json", "--no-issue", *args]


def run_credkit_on(course: Path, assignment: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(credkit_command(course, assignment, *args), cwd=course.parent, env=grader_env(course),
                          capture_output=True, text=True, timeout=timeout)


def popen_credkit(course: Path, assignment: str, *args: str) -> subprocess.Popen[bytes]:
    """`credkit grade` in the background, its output into files (a full pipe would stall it while the
    caller watches): read them back with :func:`finished`."""
    out = open(course.parent / "credkit-grade.stdout", "wb")
    err = open(course.parent / "credkit-grade.stderr", "wb")
    with out, err:
        return subprocess.Popen(credkit_command(course, assignment, *args), cwd=course.parent,
                                env=grader_env(course), stdout=out, stderr=err)


def finished(course: Path, proc: subprocess.Popen[bytes], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc.wait(timeout=timeout)
    return subprocess.CompletedProcess(
        proc.args, proc.returncode,
        (course.parent / "credkit-grade.stdout").read_text(errors="replace"),
        (course.parent / "credkit-grade.stderr").read_text(errors="replace"))


def summary(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode in (0, 2), (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout)


# -- the types assessment ---------------------------------------------------------------------------------
TYPES_ASSIGNMENT = "types"
TYPES_NOTEBOOK = "answers"
# grade_id -> (solution, test); every honest answer's value is of the type named by its grade_id
TYPES = {
    "counter": ("from collections import Counter\n\ndef word_counts(text):\n    return Counter(text.split())\n",
                "assert word_counts('a b a') == {'a': 2, 'b': 1}\n"
                "assert word_counts('a b a')['a'] == 2\n"
                # the canary is code here (a string constant), not a comment: it survives any
                # parse/unparse of the test, so a process that ever held this test's code holds it
                "### BEGIN HIDDEN TESTS\n"
                f"assert word_counts('') == {{}}, {CANARY_HIDDEN!r}\n"
                "### END HIDDEN TESTS\n"),
    "int64": ("import numpy as np\n\ndef total(xs):\n    return np.sum(np.array(xs, dtype=np.int64))\n",
              "assert total([1, 2, 3]) == 6\n"
              "assert total([1, 2, 3]) + 1 == 7\n"),
    "bool_": ("import numpy as np\n\ndef is_big(x):\n    return np.array(x) > 10\n",
              "assert is_big(11) == True\n"
              "assert is_big(11)\n"
              "assert not is_big(3)\n"),
    "ordereddict": ("from collections import OrderedDict\n\ndef ranking():\n"
                    "    return OrderedDict([('b', 1), ('a', 2)])\n",
                    "assert ranking() == {'a': 2, 'b': 1}\n"
                    "assert list(ranking()) == ['b', 'a']\n"),
    "fraction": ("from fractions import Fraction\n\ndef half():\n    return Fraction(1, 2)\n",
                 "from fractions import Fraction\n"
                 "assert half() == 0.5\n"
                 "assert half() == Fraction(1, 2)\n"),
    "scalars": ("import numpy as np\n\ndef doubled(xs):\n    return [np.float64(x) * 2 for x in xs]\n",
                "assert doubled([1, 2]) == [2.0, 4.0]\n"
                "assert doubled([1.5])[0] == 3\n"),
}
# numpy.float64 checked with numpy's own isclose/allclose (what the shadow module below bends)
TYPES["float64"] = ("import numpy as np\n\ndef average(xs):\n    return np.mean(xs)\n",
                    "import numpy as np\n"
                    "assert np.isclose(average([1, 2]), 1.5)\n"
                    "assert np.allclose([average([1, 3]), average([2])], [2.0, 2.0])\n")


def types_source_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [new_markdown_cell("# Types\nAnswers whose values are not plain builtins.",
                                  metadata=_meta("types-intro", locked=True))]
    for grade_id, (solution, test) in TYPES.items():
        nb.cells.append(new_code_cell(solution, metadata=_meta(grade_id, solution=True)))
        nb.cells.append(new_code_cell(test, metadata=_meta(f"test_{grade_id}", grade=True, locked=True, points=1)))
    return nb


def add_types_assignment(course: Path) -> None:
    (course / "source" / TYPES_ASSIGNMENT).mkdir(parents=True)
    nbformat.write(types_source_notebook(), course / "source" / TYPES_ASSIGNMENT / f"{TYPES_NOTEBOOK}.ipynb")
    run_nbgrader(course, "generate_assignment", TYPES_ASSIGNMENT)


def submit_types(course: Path, student: str, overrides: dict[str, str] | None = None, *,
                 files: dict[str, str] | None = None, kernel_name: str | None = None) -> None:
    """Honest answers to every cell of the types assessment, except ``overrides`` (grade_id -> code)."""
    code = {k: v[0] for k, v in TYPES.items()} | (overrides or {})
    nb = fill(released(course, TYPES_ASSIGNMENT, TYPES_NOTEBOOK), code)
    if kernel_name:
        nb.metadata["kernelspec"]["name"] = kernel_name
    submit_notebook(course, student, TYPES_ASSIGNMENT, TYPES_NOTEBOOK, nb, files=files)


TYPES_POINTS = float(len(TYPES))
# class 9 on the types assessment: kernelspec "Python3", numpy.py in the submission folder
SHADOW_FILES = {"numpy.py": SHADOW_NUMPY}
SHADOW_WRONG_AVERAGE = {"float64": "def average(xs):\n    return 0.0\n"}


# -- processes and their memory ---------------------------------------------------------------------------
def processes() -> dict[int, tuple[str, int]]:
    """pid -> (user name, parent pid) of every process."""
    out: dict[int, tuple[str, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        ppid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        out[int(entry)] = (user, ppid)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return ""


def descendants(root: int, procs: dict[int, tuple[str, int]]) -> set[int]:
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (_, ppid) in procs.items() if ppid in frontier} - found
        found |= frontier
    return found


def read_memory(pid: int) -> bytes:
    """Every readable mapping of the process (as root, through /proc/<pid>/maps and /proc/<pid>/mem)."""
    chunks = []
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except OSError:
        return b""
    with mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vvar_vclock]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                while start < end:
                    block = mem.read(min(end - start, 16 * 1024 * 1024))
                    if not block:
                        break
                    chunks.append(block)
                    start += len(block)
            except (OSError, OverflowError, ValueError):
                continue
    return b"".join(chunks)


def encodings(text: str) -> list[bytes]:
    """The forms a str takes in CPython's memory (1-, 2-, 4-byte kinds) or in a message."""
    return [text.encode(), text.encode("utf-16-le"), text.encode("utf-32-le")]
