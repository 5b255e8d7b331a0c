"""Attacks on the trusted side (issue 10): what the grader's own process does with learner content.

Each is first shown working where credkit is not in the way (stock `nbgrader autograde`, or the kind
of code credkit ran before), then shown contained under `credkit grade`: a notebook too large to
parse fails alone before it is read, text processing of learner cells stays linear, and files a
learner submits never bring their links or Python's start-up hooks into `autograded/` or `feedback/`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import nbformat
from grading_course import (
    ASSIGNMENT, CANARY_HIDDEN, CANARY_KEY, CANARY_SOLUTION, HONEST, NOTEBOOK, POINTS, VENV_BIN, all_text, grader_env,
    run_credkit, run_nbgrader, submit, total_scores,
)
from nbformat.v4 import new_markdown_cell

from grading.feedback import FEEDBACK_PREPROCESSORS, hide_hidden_regions
from grading.summary import format_summary

MiB = 1024**2


def _peak_rss(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``args``; its result and the peak resident memory (bytes) of it or any process it waited for."""
    proc = subprocess.run(["/usr/bin/time", "-f", "PEAK-RSS-KB %M", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    peak = re.findall(r"PEAK-RSS-KB (\d+)", proc.stderr)
    assert peak, proc.stderr
    return proc, int(peak[-1]) * 1024


def _submit_big_markdown(course: Path, student: str, size: int) -> Path:
    dest = submit(course, student, HONEST)
    nb = nbformat.read(dest / f"{NOTEBOOK}.ipynb", as_version=4)
    nb.cells.insert(1, new_markdown_cell("A" * size))
    nbformat.write(nb, dest / f"{NOTEBOOK}.ipynb")
    return dest


def test_a_notebook_too_large_to_parse_fails_alone_before_it_is_read(course: Path, stock_course: Path) -> None:
    payload = 96 * MiB  # large enough that parsing it dwarfs the coordinator's own memory
    # --- stock nbgrader parses and rewrites whatever it is given: memory grows with the payload
    submit(stock_course, "alice", HONEST)
    _submit_big_markdown(stock_course, "bloater", payload)
    stock, stock_peak = _peak_rss([str(VENV_BIN / "nbgrader"), "autograde", ASSIGNMENT], stock_course,
                                  grader_env(stock_course))
    assert stock.returncode == 0, stock.stderr
    assert (stock_course / "autograded" / "bloater" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").stat().st_size > payload
    assert stock_peak > 4 * payload, stock_peak

    # --- credkit grade: the too-large notebook is refused by its size, unread; the others grade
    (course / "nbgrader_config.py").write_text(
        (course / "nbgrader_config.py").read_text() + f"c.SandboxedExecute.notebook_bytes = {4 * MiB}\n")
    submit(course, "alice", HONEST)
    _submit_big_markdown(course, "bloater", payload)
    submit(course, "zed", HONEST)
    ours, our_peak = _peak_rss([str(VENV_BIN / "credkit"), "grade", ASSIGNMENT, "--course-dir", str(course)],
                               course.parent, grader_env(course))
    assert ours.returncode == 2, ours.stderr  # some submissions failed
    lines = [ln for ln in ours.stdout.splitlines() if "bloater" in ln]
    assert len(lines) == 1, ours.stdout
    assert "too large" in lines[0] and f"{NOTEBOOK}.ipynb" in lines[0] and "notebook_bytes" in lines[0], lines
    assert "Traceback" not in ours.stdout + ours.stderr
    assert not (course / "autograded" / "bloater" / ASSIGNMENT).exists()
    assert total_scores(course, "alice") == total_scores(course, "zed") == sum(POINTS.values())
    # never parsed: the file's bytes are read once (the link-free read of the submission), never the
    # several copies parsing and rewriting it make under stock
    assert our_peak < stock_peak - 1.5 * payload, (our_peak, stock_peak)


# --- linear-time text processing of learner cells ---------------------------------------------------

# The regex credkit's feedback used before (its lazy `.*?` rescans the rest of the cell from every
# unclosed begin line): the reference for honest cells, and the shape of the attack.
_OLD_HIDDEN = re.compile(r"(?ms)^[ \t]*###\s*BEGIN HIDDEN TESTS.*?###\s*END HIDDEN TESTS[^\n]*\n?")

HONEST_HIDDEN = [
    "assert squares(1) == [1]\n### BEGIN HIDDEN TESTS\nassert squares(0) == []\n### END HIDDEN TESTS\n",
    "x = 1\n    ### BEGIN HIDDEN TESTS\n    assert f(2) == 4\n    ### END HIDDEN TESTS\nassert g()\n",
    "### BEGIN HIDDEN TESTS\nassert a\n### END HIDDEN TESTS\n### BEGIN HIDDEN TESTS\nassert b\n### END HIDDEN TESTS",
    "assert visible()\n",
]


def _shipped_test_sources() -> list[str]:
    root = Path(__file__).resolve().parents[2] / "assessments"
    sources = []
    for path in root.rglob("*.ipynb"):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
                sources.append(cell.source)
    return sources


def test_hidden_test_stripping_gives_the_same_results_on_honest_cells() -> None:
    shipped = _shipped_test_sources()
    assert shipped, "the shipped assessments have hidden tests"
    for source in HONEST_HIDDEN + shipped:
        old = _OLD_HIDDEN.sub("# (hidden tests are not shown)\n", source)
        new, found = hide_hidden_regions(source)
        assert found == ("BEGIN HIDDEN TESTS" in source)
        assert new.rstrip("\n") == old.rstrip("\n"), source
        assert "BEGIN HIDDEN" not in new and "END HIDDEN" not in new


def _seconds(fn, *args) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def test_hidden_test_stripping_is_linear_on_hostile_cells(course: Path) -> None:
    # --- the attack on a regex over learner text: doubling the begin lines quadruples the time
    small, large = "### BEGIN HIDDEN TESTS\n" * 1500, "### BEGIN HIDDEN TESTS\n" * 3000
    old_small, old_large = _seconds(_OLD_HIDDEN.sub, "", small), _seconds(_OLD_HIDDEN.sub, "", large)
    assert old_large > 3 * old_small and old_large > 0.05, (old_small, old_large)

    # --- credkit: the same class of payloads, far larger, each in well under a second
    payloads = {
        "unclosed begin lines": "### BEGIN HIDDEN TESTS\n" * 300_000,
        "begin lines, indented, with text": "    ###  BEGIN HIDDEN TESTS  x = 1\n" * 300_000,
        "one long line of begins": "### BEGIN HIDDEN TESTS " * 300_000,
        "begins then one end": "### BEGIN HIDDEN TESTS\n" * 300_000 + "### END HIDDEN TESTS\n",
        "near-misses": "### BEGIN HIDDEN TEST\n" * 300_000 + "### BEGIN HIDDEN TESTS",
    }
    for name, text in payloads.items():
        assert _seconds(hide_hidden_regions, text) < 1.0, name

    # --- end to end: feedback for a learner who filled a solution cell with 30,000 begin lines
    (course / "nbgrader_config.py").write_text(
        (course / "nbgrader_config.py").read_text() + f"c.GenerateFeedback.preprocessors = {FEEDBACK_PREPROCESSORS!r}\n")
    attack = {**HONEST, "squares": HONEST["squares"] + "### BEGIN HIDDEN TESTS\n" * 30_000}
    submit(course, "hider", attack)
    submit(course, "alice", HONEST)
    proc = run_credkit(course, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["graded"] == 2, proc.stdout + proc.stderr
    t0 = time.monotonic()
    run_nbgrader(course, "generate_feedback", ASSIGNMENT, timeout=120)
    seconds = time.monotonic() - t0
    assert seconds < 30, seconds  # 109 s with the regex
    feedback = (course / "feedback" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert CANARY_HIDDEN not in feedback and "hidden tests are not shown" in feedback
    assert (course / "feedback" / "hider" / ASSIGNMENT / f"{NOTEBOOK}.html").exists()


# --- files: only what the instructor released goes in; links and start-up files never come out ---------

# Python's and Jupyter's start-up path, at the top and deeper (any folder can be a kernel's cwd).
# The launcher, run by a kernel started in its folder, marks that it ran and then starts the real one.
LAUNCHER = (
    "import os, runpy, sys\n"
    "open('/tmp/PWNED-launcher-' + open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'token.txt')).read(),"
    " 'w').write(str(os.getuid()))\n"
    "here = os.path.dirname(os.path.abspath(__file__))\n"
    "sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]\n"
    "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)\n"
)
STARTUP = {
    "ipykernel_launcher.py": LAUNCHER,
    "sitecustomize.py": "open('/tmp/PWNED-site', 'w')\n",
    "usercustomize.py": "open('/tmp/PWNED-user', 'w')\n",
    "evil.pth": "import os; os.system('touch /tmp/PWNED-pth')\n",
    ".ipython/profile_default/startup/00-run.py": "open('/tmp/PWNED-ipython', 'w')\n",
    ".jupyter/jupyter_server_config.py": "c.ServerApp.token = ''\n",
    "nbgrader_config.py": "c = get_config()\n",
    "sub/sitecustomize.py": "open('/tmp/PWNED-sub', 'w')\n",
    "sub/json.py": "raise SystemExit('shadowed json')\n",
    "sub/zmq/__init__.py": "raise SystemExit('shadowed zmq')\n",
    "sub/IPython.cpython-311-x86_64-linux-gnu.so": "not really an extension module\n",
}
PEEK = "try:\n    print(open('answers-key.txt').read())\nexcept OSError as exc:\n    print('blocked', type(exc).__name__)\n"
# (read, not imported: the sandbox's learner kernel does not put its working folder on sys.path)
HELPER = "exec(open('helper.py').read())\nprint('helper says', WORD, open('notes.txt').read())\n"


def _files_batch(course: Path, token: str) -> None:
    # an instructor's file in source/ that was never released (no manifest lists it)
    (course / "source" / ASSIGNMENT / "answers-key.txt").write_text(f"{CANARY_SOLUTION}\n")
    submit(course, "alice", HONEST, extra_cells=[HELPER], files={"helper.py": "WORD = 'hello'\n", "notes.txt": "kept"})
    submit(course, "peeker", HONEST, extra_cells=[PEEK])
    starter = submit(course, "starter", HONEST, files={"token.txt": token})
    for relative, text in STARTUP.items():
        (starter / relative).parent.mkdir(parents=True, exist_ok=True)
        (starter / relative).write_text(text)
    linker = submit(course, "linker", HONEST)
    (linker / "key.json").symlink_to(course.parent / "issuer-key.json")
    (linker / "gradebook.db").symlink_to(course / "gradebook.db")
    (linker / "peers").symlink_to(course / "submitted" / "alice" / ASSIGNMENT, target_is_directory=True)
    (linker / "hard.db").hardlink_to(course / "gradebook.db")


def _copies_of_outside_files(course: Path) -> list[str]:
    """Files under autograded/ and feedback/ holding the key file's secret or a SQLite database."""
    found = []
    for sub in ("autograded", "feedback"):
        for path in (course / sub).rglob("*") if (course / sub).exists() else []:
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if CANARY_KEY.encode() in data or data.startswith(b"SQLite format 3"):
                    found.append(str(path.relative_to(course)))
    return found


def test_files_released_only_links_never_followed_startup_files_never_copied(course: Path, stock_course: Path) -> None:
    key = course.parent / "issuer-key.json"
    grader_env(course)  # writes the (canary) key file beside each course
    grader_env(stock_course)
    token = uuid.uuid4().hex[:8]
    marker = Path(f"/tmp/PWNED-launcher-{token}")
    # --- stock nbgrader
    _files_batch(stock_course, token)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    graded = stock_course / "autograded"
    assert CANARY_SOLUTION in (graded / "peeker" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()  # unlisted file read
    assert (graded / "linker" / ASSIGNMENT / "key.json").read_bytes() == (stock_course.parent / "issuer-key.json").read_bytes()
    assert {"linker/ps1/gradebook.db", "linker/ps1/hard.db"} <= {p.split("/", 1)[1] for p in _copies_of_outside_files(stock_course)}
    for relative in STARTUP:
        assert (graded / "starter" / ASSIGNMENT / relative).is_file(), relative
    # the kernel started in that folder ran the learner's launcher as the grader; so would the
    # instructor's, opening the autograded notebook in Jupyter
    assert marker.read_text() == str(os.getuid())
    marker.unlink()

    # --- credkit grade, first stopped right after the files were laid out (before any execution)
    _files_batch(course, token)
    env = {**grader_env(course), "CREDKIT_FAULT_INJECT": "started:linker"}
    stopped = run_credkit(course, "--json", env=env)
    assert stopped.returncode == 70, stopped.stderr
    assert (course / "autograded" / "linker" / ASSIGNMENT).is_dir()  # it did stop in the middle of linker
    assert _copies_of_outside_files(course) == []
    proc = run_credkit(course, "--json")
    summary = json.loads(proc.stdout)
    # alice was graded before the stop, and is skipped now
    assert proc.returncode == 0 and (summary["graded"], summary["skipped"]) == (3, 1), proc.stdout + proc.stderr
    left = {item["learner"]: item["files"] for item in summary["left_out"]}
    assert sorted(left) == ["linker", "starter"], left
    for relative in STARTUP:
        assert any(entry.startswith(relative + " (") for entry in left["starter"]), (relative, left["starter"])
    assert {entry.split(" (")[0] for entry in left["linker"]} == {"key.json", "gradebook.db", "peers", "hard.db"}
    lines = [ln for ln in format_summary(summary).splitlines() if "left out" in ln]  # the text summary
    assert len(lines) == 2 and lines[1].startswith("  left out of autograded/: starter: ipykernel_launcher.py (") \
        or any(ln.startswith("  left out of autograded/: starter: ") and "ipykernel_launcher.py (" in ln for ln in lines), lines
    run_nbgrader(course, "generate_feedback", ASSIGNMENT)
    for sub in ("autograded", "feedback"):
        out = course / sub / "starter" / ASSIGNMENT
        assert out.is_dir()
        others = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.suffix not in (".html", ".ipynb")}
        assert others <= {"data.txt", "timestamp.txt", "token.txt"} and ("data.txt" in others or sub == "feedback"), others
        for relative in STARTUP:
            assert not (out / relative).exists(), (sub, relative)
        assert not any((course / sub / "linker" / ASSIGNMENT / n).exists() for n in ("key.json", "gradebook.db", "peers", "hard.db"))
    assert _copies_of_outside_files(course) == []
    assert not marker.exists()
    assert key.exists() and (course / "gradebook.db").exists()  # nothing of the instructor's was touched
    # honest files still travel: alice's helper module and notes are in the sandbox and in autograded/
    assert (course / "autograded" / "alice" / ASSIGNMENT / "helper.py").is_file()
    assert "helper says hello kept" in (course / "autograded" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()
    assert "blocked FileNotFoundError" in (course / "autograded" / "peeker" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()
    assert not (course / "autograded" / "peeker" / ASSIGNMENT / "answers-key.txt").exists()
    assert (course / "autograded" / "alice" / ASSIGNMENT / "data.txt").is_file()  # the released data file
    assert CANARY_SOLUTION not in all_text(course, proc.stdout, proc.stderr)
    for name in ("alice", "peeker", "starter", "linker"):
        assert total_scores(course, name) == sum(POINTS.values()), name


def test_only_the_manifest_files_reach_the_sandbox(tmp_path: Path) -> None:
    """An assessment released with credkit release: its manifest's `files`, nothing else of source/."""
    from nbgrader.coursedir import CourseDirectory

    from grading.execute import autograded_files, job_files
    from grading.release import release

    assessment = Path(__file__).resolve().parents[2] / "assessments" / "python-data-analysis" / "foundations"
    course = tmp_path / "course"
    release(assessment, course)
    source = course / "source" / "foundations"
    (source / "instructor-notes.txt").write_text(CANARY_SOLUTION)  # added after release, never listed
    (source / "data" / "answers.csv").write_text(CANARY_SOLUTION)
    learner = course / "submitted" / "ann" / "foundations"
    learner.mkdir(parents=True)
    (learner / "mine.txt").write_text("mine")
    (learner / "usercustomize.py").write_text("x = 1")
    coursedir = CourseDirectory(root=str(course))
    files, released = job_files(coursedir, "foundations", "ann", exclude_overwriting=[], disk_bytes=MiB)
    assert sorted(released) == ["data/readings.csv", "data/review.txt"]
    assert sorted(files) == ["data/readings.csv", "data/review.txt", "mine.txt", "usercustomize.py"]
    kept, left_out = autograded_files(coursedir, "foundations", "ann", exclude_overwriting=[], disk_bytes=MiB)
    assert sorted(kept) == ["data/readings.csv", "data/review.txt", "mine.txt"]
    assert [item.path for item in left_out] == ["usercustomize.py"]
    assert all(CANARY_SOLUTION.encode() not in data for data in [*files.values(), *kept.values()])


# A notebook that writes files while graded (issue 12): honest results, and every kind of file that
# must not reach autograded/ — Python's start-up files, links, a FIFO, a notebook, a forgery of the
# instructor's data file and of nbgrader's timestamp, a file past the budget, a name made of a
# terminal escape.
WRITER = """import os
os.makedirs('results', exist_ok=True)
open('results/summary.csv', 'w').write('n,mean\\n3,2.0\\n')
open('sitecustomize.py', 'w').write("open('/tmp/PWNED-written-site', 'w')\\n")
os.makedirs('.ipython/profile_default/startup', exist_ok=True)
open('.ipython/profile_default/startup/00-run.py', 'w').write("open('/tmp/PWNED-written-ipython', 'w')\\n")
os.makedirs('sub', exist_ok=True)
open('sub/json.py', 'w').write("raise SystemExit('shadowed json')\\n")
os.symlink(KEY, 'key.json')
os.mkfifo('pipe')
open('other.ipynb', 'w').write('{}')
open('data.txt', 'w').write('9 9 9\\n')
open('timestamp.txt', 'w').write('2099-01-01 00:00:00.000000 UTC')
open('big.bin', 'wb').write(b'b' * (5 * 1024 * 1024))
open('\\x1b[31mred.txt', 'w').write('escape')
print('wrote')
"""
WRITTEN_LEFT_OUT = {"sitecustomize.py", ".ipython/profile_default/startup/00-run.py", "sub/json.py", "key.json",
                    "pipe", "other.ipynb", "data.txt", "timestamp.txt", "big.bin"}


def test_files_a_notebook_writes_reach_autograded_by_the_same_rules_as_submitted_ones(
        course: Path, stock_course: Path) -> None:
    def batch(where: Path) -> None:
        submit(where, "alice", HONEST, extra_cells=["import os\nos.makedirs('results', exist_ok=True)\n"
                                                    "open('results/out.csv', 'w').write('x,y\\n1,1\\n')\n"])
        key = str(where.parent / "issuer-key.json")
        submit(where, "writer", HONEST, extra_cells=[f"KEY = {key!r}\n" + WRITER])

    # --- stock nbgrader: the notebook runs in autograded/writer/ps1/, so all of it lands there, and
    # its forged data file is what the instructor's test reads (it costs the writer test_mean)
    grader_env(stock_course)
    batch(stock_course)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    stock = stock_course / "autograded" / "writer" / ASSIGNMENT
    for name in WRITTEN_LEFT_OUT - {"pipe", "key.json"}:
        assert (stock / name).is_file(), name
    assert (stock / "key.json").is_symlink() and (stock / "pipe").is_fifo()
    assert (stock / "data.txt").read_text() == "9 9 9\n"
    assert (stock / "timestamp.txt").read_text().startswith("2099")
    assert total_scores(stock_course, "writer") == sum(POINTS.values()) - POINTS["test_mean"]

    # --- credkit grade: exactly the honest files, each other one named in the summary
    batch(course)
    proc = run_credkit(course, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    ours = course / "autograded" / "writer" / ASSIGNMENT
    assert (ours / "results" / "summary.csv").read_text() == "n,mean\n3,2.0\n"
    assert (ours / "\x1b[31mred.txt").read_text() == "escape"
    assert (ours / "data.txt").read_text() == "1 2 3\n"  # the instructor's released file
    assert not (ours / "timestamp.txt").read_text().startswith("2099")
    for name in WRITTEN_LEFT_OUT - {"data.txt", "timestamp.txt"}:
        assert not os.path.lexists(ours / name), name
    assert (course / "autograded" / "alice" / ASSIGNMENT / "results" / "out.csv").read_text() == "x,y\n1,1\n"
    assert (stock_course / "autograded" / "alice" / ASSIGNMENT / "results" / "out.csv").read_text() == "x,y\n1,1\n"
    left = {item["learner"]: item["files"] for item in summary["left_out"]}
    assert sorted(left) == ["writer"], left
    named = {entry.split(" (")[0]: entry for entry in left["writer"]}
    assert set(named) == WRITTEN_LEFT_OUT, named
    assert all("written while graded" in entry for entry in named.values()), named
    assert "\x1b" not in format_summary(summary)  # a learner's file name never drives the grader's terminal
    assert total_scores(course, "writer") == sum(POINTS.values())  # the checker read its own data.txt
    assert total_scores(course, "alice") == total_scores(stock_course, "alice") == sum(POINTS.values())
    assert not Path("/tmp/PWNED-written-site").exists() and not Path("/tmp/PWNED-written-ipython").exists()


def _runner_module():  # type: ignore[no-untyped-def]
    """grading/_runner.py as the sandbox loads it: a file of its own, not part of the package."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "grading" / "_runner.py"
    spec = importlib.util.spec_from_file_location("credkit_runner_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_given_file_larger_than_the_written_budget_is_not_reported_as_written(tmp_path: Path) -> None:
    import base64

    runner = _runner_module()
    data = os.urandom(3 * MiB)  # a course's data file, larger than the whole budget for written files
    given = runner._write_files([["data.bin", base64.b64encode(data).decode()]], str(tmp_path))
    (tmp_path / "new.txt").write_text("new")
    written, left_out = runner._written_files(str(tmp_path), given, MiB, 1000)
    assert [rel for rel, _ in written] == ["new.txt"] and left_out == []
    changed = bytearray(data)
    changed[MiB + 7] ^= 1  # one bit, in place: the same size, so it is read whole and found changed
    (tmp_path / "data.bin").write_bytes(bytes(changed))
    written, left_out = runner._written_files(str(tmp_path), given, MiB, 1000)
    assert [rel for rel, _ in written] == ["new.txt"]
    assert left_out == [["data.bin", "past the budget for written files"]]


def test_a_written_file_with_the_longest_name_the_file_system_allows_is_kept(tmp_path: Path) -> None:
    from grading.submitted_files import keep_written

    name = "n" * 251 + ".txt"  # NAME_MAX, 255 bytes
    dest = tmp_path / "autograded"
    dest.mkdir()
    left_out = keep_written(dest, {name: b"long", f"deep/{name}": b"deeper"}, released=(), patterns=[])
    assert left_out == []
    assert (dest / name).read_bytes() == b"long" and (dest / "deep" / name).read_bytes() == b"deeper"
    assert sorted(p.name for p in dest.iterdir()) == sorted(["deep", name])  # no temporary left behind


def test_a_lying_report_of_written_files_is_dropped_whole_and_the_grader_checks_every_path_again(tmp_path: Path) -> None:
    """The learner's side runs as the learner: the checker holds its report to the bounds it was given,
    and the grader, trusting neither, checks each path once more before writing."""
    import base64

    from grading.submitted_files import keep_written

    runner = _runner_module()

    def report(*files: tuple[str, bytes]) -> dict:
        return {"op": "files", "files": [[rel, base64.b64encode(data).decode()] for rel, data in files], "left_out": []}

    honest = report(("out/a.txt", b"a"), ("b.txt", b"b"))
    assert runner._checked_files(honest, 10, 10) == (honest["files"], [])
    for lie in (report(("../x", b"x")), report(("/etc/x", b"x")), report(("a/../../x", b"x")),
                report(("./x", b"x")), report(("a//x", b"x")), report(("x\0y", b"x")),
                report(("big", b"x" * 11)), report(*[(f"f{i}", b"") for i in range(11)]),
                report(("same", b"1"), ("same", b"2")),
                {"files": [["x", "not base64!"]], "left_out": []}, {"files": "x"}, {"files": [[1, ""]], "left_out": []}):
        written, left_out = runner._checked_files(lie, 10, 10)
        assert written == [] and len(left_out) == 1 and "malformed" in left_out[0][1], lie

    many = {"files": [], "left_out": [[f"f{i}", "past the budget"] for i in range(5000)]}
    _, named = runner._checked_files(many, 10, 10)
    assert len(named) == runner.LEFT_OUT_NAMED + 1 and "4900 more" in named[-1][1]

    # 10,000 new files: the first 1,000 (in sorted order) are kept, the rest named
    work = tmp_path / "work"
    work.mkdir()
    for i in range(10_000):
        (work / f"f{i:05d}").write_bytes(b"")
    written, left_out = runner._written_files(str(work), {}, MiB, 1000)
    assert [rel for rel, _ in written] == [f"f{i:05d}" for i in range(1000)]
    assert len(left_out) == 9000 and left_out[0] == ["f01000", "past the 1000 written files kept"]

    dest = tmp_path / "autograded"
    (dest / "folder-is-a-file").parent.mkdir()
    (dest / "folder-is-a-file").write_text("a file")
    (dest / "link").symlink_to(tmp_path)
    kept_out = keep_written(dest, {"../escaped": b"x", "/abs": b"x", "link/inside": b"x", "folder-is-a-file/x": b"x",
                                   "link": b"x", "ok.txt": b"ok"}, released=(), patterns=[])
    assert {item.path for item in kept_out} == {"../escaped", "/abs", "link/inside", "folder-is-a-file/x", "link"}
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "inside").exists()
    assert (dest / "ok.txt").read_bytes() == b"ok" and (dest / "link").is_symlink()
