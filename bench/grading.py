"""Grading throughput: stock ``nbgrader autograde`` against ``credkit grade`` on one corpus.

One run, one corpus of distinct submissions (no two alike, so nothing can win by caching content),
each engine grading its own fresh copy of the same course:

1. stock ``nbgrader autograde``, one process over the whole batch (as instructors run it);
2. two stock processes in parallel, each on half of the learners;
3. ``credkit grade`` with the sandbox on (a probe execution shows it), default local engine;
4. ``credkit grade --cluster local:2`` (Dask).

Prints wall times, submissions per second and ratios against (1); checks that every honest
submission got stock's per-cell scores; and reports the coordinator's trusted cost per submission
against the execute cost per notebook (how many workers one coordinator can keep busy).

``CREDKIT_BENCH_SUBMISSIONS`` sets the corpus size (default 40).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

BIN = Path(sys.executable).parent
ASSIGNMENT = "ps1"
NOTEBOOK = "problem1"
COURSE_ID = "bench101"


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, points: float = 0) -> dict:
    md = {"grade": grade, "grade_id": grade_id, "locked": grade, "schema_version": 3,
          "solution": solution, "task": False}
    if grade:
        md["points"] = points
    return {"nbgrader": md}


def _source() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        new_markdown_cell("# Problem set 1"),
        new_code_cell("def squares(n):\n    ### BEGIN SOLUTION\n    return [i * i for i in range(1, n + 1)]\n"
                      "    ### END SOLUTION\n", metadata=_meta("squares", solution=True)),
        new_code_cell("assert squares(3) == [1, 4, 9]\n", metadata=_meta("t_squares", grade=True, points=2)),
        new_code_cell("assert squares(1) == [1]\n### BEGIN HIDDEN TESTS\nassert squares(0) == []\n"
                      "### END HIDDEN TESTS\n", metadata=_meta("t_squares_hidden", grade=True, points=3)),
        new_code_cell("def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION\n",
                      metadata=_meta("mean", solution=True)),
        new_code_cell("import math\nassert mean([1, 2, 3]) == 2\nassert math.isclose(mean([1.5, 2.5]), 2.0)\n",
                      metadata=_meta("t_mean", grade=True, points=5)),
        new_code_cell("def word_counts(text):\n    ### BEGIN SOLUTION\n    counts = {}\n"
                      "    for w in text.split():\n        counts[w] = counts.get(w, 0) + 1\n    return counts\n"
                      "    ### END SOLUTION\n", metadata=_meta("words", solution=True)),
        new_code_cell("assert word_counts('a b a') == {'a': 2, 'b': 1}\nassert word_counts('') == {}\n",
                      metadata=_meta("t_words", grade=True, points=5)),
    ]
    return nb


def _learner_code(i: int) -> dict[str, str]:
    """Distinct code per learner: varied styles; every 5th fails the hidden test, every 7th `mean`."""
    squares = [
        f"def squares(n):\n    # learner {i}\n    return [k * k for k in range(1, n + 1)]\n",
        f"def squares(n):\n    out = []  # v{i}\n    for k in range(n):\n        out.append((k + 1) ** 2)\n    return out\n",
        f"squares = lambda n: [k ** 2 for k in range(1, n + 1)]  # {i}\n",
    ][i % 3]
    if i % 5 == 0:
        squares = f"def squares(n):\n    return [k * k for k in range(1, max(n, 1) + 1)]  # {i}\n"
    mean = f"def mean(xs):\n    total = {i} - {i}\n    for x in xs:\n        total += x\n    return total / len(xs)\n"
    if i % 7 == 0:
        mean = f"def mean(xs):\n    return {i}\n"
    words = f"from collections import Counter\n\ndef word_counts(text):\n    return dict(Counter(text.split()))  # {i}\n"
    return {"squares": squares, "mean": mean, "words": words}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def build_course(root: Path, n: int) -> Path:
    course = root / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n")
    nbformat.write(_source(), course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    subprocess.run([str(BIN / "nbgrader"), "generate_assignment", ASSIGNMENT], cwd=course, env=_env(),
                   check=True, capture_output=True)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for i in range(n):
        nb = nbformat.from_dict(released)
        code = _learner_code(i)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in code:
                cell.source = code[gid]
        dest = course / "submitted" / f"learner{i:03d}" / ASSIGNMENT
        dest.mkdir(parents=True)
        nbformat.write(nb, dest / f"{NOTEBOOK}.ipynb")
        (dest / "timestamp.txt").write_text("2026-11-01 10:00:00.000000 UTC")
    return course


def scores(course: Path) -> dict[str, dict[str, float | None]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return {
            sub.student.id: {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
            for sub in gb.find_assignment(ASSIGNMENT).submissions
        }


def _timed(cmds: list[list[str]], cwd: Path) -> float:
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cmds]
    outs = [p.communicate() for p in procs]
    elapsed = time.monotonic() - t0
    for p, (out, err) in zip(procs, outs):
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(p.args)} failed:\n{err.decode()[-2000:]}")
    return elapsed


def run() -> None:
    from grading.sandbox import Sandbox

    n = int(os.environ.get("CREDKIT_BENCH_SUBMISSIONS", "40"))
    with tempfile.TemporaryDirectory(prefix="credkit-bench-") as tmp:
        root = Path(tmp)
        template = build_course(root / "template", n)
        learners = sorted(p.name for p in (template / "submitted").iterdir())

        def fresh(name: str) -> Path:
            dest = root / name / "course"
            shutil.copytree(template, dest)
            return dest

        rows: list[tuple[str, float, Path, dict | None]] = []
        stock = fresh("stock")
        rows.append(("stock nbgrader autograde, 1 process",
                     _timed([[str(BIN / "nbgrader"), "autograde", ASSIGNMENT]], stock), stock, None))
        half = len(learners) // 2
        par = fresh("stock2")
        rows.append(("stock nbgrader autograde, 2 processes", _timed([
            [str(BIN / "nbgrader"), "autograde", ASSIGNMENT,
             f"--CourseDirectory.student_id_exclude={','.join(learners[half:])}"],
            [str(BIN / "nbgrader"), "autograde", ASSIGNMENT,
             f"--CourseDirectory.student_id_exclude={','.join(learners[:half])}"],
        ], par), par, None))

        probe = Sandbox.create().probe()
        print(f"sandbox probe: uid {probe['uid']}, network {'reachable' if probe['net'] else 'none'}, "
              f"root holds {', '.join(probe['root'])}")
        for label, extra in (("credkit grade (sandbox, local engine)", []),
                             ("credkit grade --cluster local:2 (sandbox, Dask)", ["--cluster", "local:2"])):
            course = fresh(label.split()[2] if extra else "credkit")
            summary: dict = {}
            t0 = time.monotonic()
            proc = subprocess.run([str(BIN / "credkit"), "grade", ASSIGNMENT, "--course-dir", str(course),
                                   "--json", *extra], env=_env(), capture_output=True, text=True)
            elapsed = time.monotonic() - t0
            if proc.returncode != 0:
                raise SystemExit(f"bench: credkit grade failed:\n{proc.stderr[-2000:]}")
            summary = json.loads(proc.stdout)
            rows.append((label, elapsed, course, summary))

        base = rows[0][1]
        expected = scores(stock)
        print(f"{n} submissions, 1 notebook each, {os.cpu_count()} cores")
        print(f"{'run':50} {'wall s':>8} {'subs/s':>8} {'vs stock':>9}  grades")
        for label, elapsed, course, summary in rows:
            got = scores(course)
            same = "same as stock" if got == expected else "DIFFER FROM STOCK"
            print(f"{label:50} {elapsed:8.1f} {n / elapsed:8.2f} {base / elapsed:8.2f}x  {same}")
        for label, _, _, summary in rows[2:]:
            assert summary is not None
            print(f"{label}: coordinator (trusted) {summary['coordinator_seconds_per_submission']:.3f} s "
                  f"per submission; execute {summary['execute_seconds_per_notebook']:.3f} s per notebook "
                  f"on a worker; prefetch hits {summary['prefetch']['hits']}/{summary['prefetch']['hits'] + summary['prefetch']['misses']}")
