"""Adopting credentials in an existing nbgrader course (issue 12): nbgrader's documentation course
(``ps1`` from the installed nbgrader package, released with its header notebook, the docs'
submissions), taken through the README's "Adopting an existing nbgrader course" verbatim.

What is proved: every file the instructor had is byte-identical after release and after grading;
files of ``source/ps1`` the manifest does not name stay; the release is what the course's own
``nbgrader generate_assignment`` made (header included); the formgrader's autograde REST call
grades in the sandbox and issues; an issuing failure makes that reply ``success: false`` and
``nbgrader autograde`` exit non-zero; hand-graded and task cells then earn their credential.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import compat_courses as cc
import pytest
import readme_steps

from grading.course import feedback_config_lines

SECTION = "Adopting an existing nbgrader course"
INSTRUCTOR_NOTE = "notes-for-graders.txt"  # a file of source/ps1 the manifest does not name


def _digests(course: Path) -> dict[str, str]:
    """sha256 of every file the instructor had (not nbgrader's outputs, not credkit's own folder)."""
    out = {}
    for path in sorted(course.rglob("*")):
        rel = path.relative_to(course)
        if path.is_file() and rel.parts[0] not in ("release", "autograded", "feedback", "credkit") \
                and rel.name != "gradebook.db":
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cc.build_docs_course(tmp_path_factory.mktemp("docs"))


def _course(template: Path, root: Path) -> Path:
    course = root / "example_course"
    shutil.copytree(template, course, symlinks=True)
    (course / "source" / "ps1" / INSTRUCTOR_NOTE).write_text("problem 2 is graded by hand; see rubric\n")
    return course


def _held(course: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for wallet in (course / "credkit" / "wallets").glob("*"):
        for f in wallet.glob("*.json"):
            out.setdefault(wallet.name, set()).add(json.loads(f.read_text())["credentialSubject"]["achievement"]["name"])
    return out


class _Formgrader:
    """A real Jupyter server with nbgrader's formgrader, started in the course folder."""

    def __init__(self, course: Path, env: dict[str, str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = secrets.token_hex(16)
        self.log = open(course.parent / "formgrader.log", "w+")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(
            [str(readme_steps.VENV_BIN / "jupyter"), "server", "--no-browser", "--allow-root",
             "--ServerApp.ip=127.0.0.1", f"--port={self.port}", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={course}"],
            cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                assert self.proc.poll() is None, (course.parent / "formgrader.log").read_text()
                time.sleep(0.3)
        raise AssertionError("the formgrader's server did not start")

    def autograde(self, assignment: str, learner: str) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/formgrader/api/submission/{assignment}/{learner}/autograde",
            data=b"", method="POST", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=300) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def test_readme_adoption_on_nbgrader_docs_course(template: Path, tmp_path: Path) -> None:
    steps = readme_steps.blocks(SECTION)
    assert [lang for lang, _ in steps] == ["toml", "sh", "python", "sh"], steps
    course = _course(template, tmp_path)
    env = readme_steps.instructor_env(tmp_path / "home")
    before = _digests(course)
    nbgrader_release = {p.name: p.read_bytes() for p in (course / "release" / "ps1").iterdir()}

    # 1. the manifest beside the course's own notebooks
    (course / "source" / "ps1" / "manifest.toml").write_text(steps[0][1])
    before["source/ps1/manifest.toml"] = hashlib.sha256(steps[0][1].encode()).hexdigest()
    # 2. validate, key, release (twice: a second release changes nothing either)
    readme_steps.run_sh(steps[1][1], tmp_path, env)
    released = readme_steps.run_sh(steps[1][1].replace("credkit keys new", "true"), tmp_path, env)
    assert "not changed by credkit" in released.stderr  # the course's own config is left alone
    assert _digests(course) == before  # nothing changed, nothing added, nothing deleted
    assert (course / "source" / "ps1" / INSTRUCTOR_NOTE).exists()
    release = course / "release" / "ps1"
    for name, data in nbgrader_release.items():  # the course's own options: header notebook included
        assert (release / name).read_bytes() == data, name
    assert (release / INSTRUCTOR_NOTE).exists() and (release / "credkit-skills.json").exists()
    assert (tmp_path / "home" / ".jupyter" / "credkit" / "example_course-issuer-key.json").exists()

    # 3. the hook lines (the README's feedback line is the one credkit asks for), then stock autograde
    assert feedback_config_lines() in steps[2][1]
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(steps[2][1])
    before = _digests(course)
    readme_steps.run_sh(steps[3][1], tmp_path, env)
    held = _held(course)
    assert held.get("hacker") == {"Python functions"}, held  # hacker's functions pass the tests
    assert "bitdiddle" not in held, held

    # the formgrader's autograde button: sandboxed, issues nothing twice
    server = _Formgrader(course, env)
    try:
        reply = server.autograde("ps1", "hacker")
        assert reply["success"] is True, reply
        assert _held(course) == held
        # issuing that cannot run: the reply says so (the grades themselves are kept)
        key = tmp_path / "home" / ".jupyter" / "credkit" / "example_course-issuer-key.json"
        key.rename(key.with_suffix(".moved"))
        reply = server.autograde("ps1", "bitdiddle")
        assert reply["success"] is False, reply
        assert "ISSUING FAILED for learner bitdiddle on ps1" in reply.get("error", ""), reply
        assert (course / "autograded" / "bitdiddle" / "ps1" / "problem1.ipynb").exists()
    finally:
        server.stop()
    stock = subprocess.run([str(readme_steps.VENV_BIN / "nbgrader"), "autograde", "ps1", "--force"],
                           cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert stock.returncode == 1, stock.stderr[-2000:]
    assert "ISSUING FAILED" in stock.stderr
    assert sorted(p.name for p in (course / "autograded").iterdir()) == ["bitdiddle", "hacker"]
    key.with_suffix(".moved").rename(key)
    after = _digests(course)
    assert {name: after.get(name) for name in before} == before  # grading touched no instructor's file

    # 4. hand grading (task cell included), as the formgrader records it; then credkit issue
    from nbgrader.api import Gradebook

    by_hand = {"sum_of_squares_equation", "sum_of_squares_application", "cell-938593c4a215c6cc", "part-a", "part-b"}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "example_course") as gb:
        grades = [g for nb in gb.find_submission("ps1", "hacker").notebooks for g in nb.grades if g.name in by_hand]
        assert {g.name for g in grades} == by_hand  # the task cell has its grade row too
        for grade in grades:  # what the formgrader's PUT /formgrader/api/grade/<id> does
            grade.manual_score = grade.max_score
            grade.needs_manual_grade = False
        gb.db.commit()
    issued = subprocess.run([str(readme_steps.VENV_BIN / "credkit"), "issue", "--course", "example_course"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert issued.returncode == 0, issued.stderr
    assert "1 learner(s) have no e-mail in the gradebook (hacker)" in issued.stderr  # said before issuing
    assert _held(course)["hacker"] == {"Python functions", "Explaining mathematics"}
    [math] = [json.loads(f.read_text()) for f in (course / "credkit" / "wallets" / "hacker").glob("*.json")
              if "Explaining" in f.read_text()]
    assert "\u201cExplaining mathematics\u201d graded by hand by an instructor" in math["credentialSubject"]["achievement"]["criteria"]["narrative"]
    assert "graded by hand" in math["evidence"][0]["description"]

    # a re-autograde marks the hand-graded cells as waiting again: a credential held is not "waiting"
    again = subprocess.run([str(readme_steps.VENV_BIN / "nbgrader"), "autograde", "ps1", "--force", "--student", "hacker"],
                           cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    issued = subprocess.run([str(readme_steps.VENV_BIN / "credkit"), "issue", "--course", "example_course"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert issued.returncode == 0, issued.stderr
    assert "held back: hacker" not in issued.stderr and "no longer meets" not in issued.stderr, issued.stderr
    assert "held back: bitdiddle: Explaining mathematics (ps1) waits for manual grading" in issued.stderr


def test_readme_first_steps_for_a_new_instructor_in_an_empty_folder(tmp_path: Path) -> None:
    [(lang, code)] = readme_steps.blocks("First steps for a new instructor")
    assert lang == "sh"
    folder = tmp_path / "empty"
    folder.mkdir()
    home = tmp_path / "home"
    env = readme_steps.instructor_env(home)
    done = readme_steps.run_sh(code, folder, env)
    assert "ok: 1 file(s) valid" in done.stdout
    assert "graded 1, failed 0" in done.stdout and "issued 1 credential(s)" in done.stdout, done.stdout
    assert len(list((folder / "my-course" / "credkit" / "wallets" / "ada").glob("*.json"))) == 1
    assert list((folder / "site").rglob("*.json")), "the status lists are in the site to upload"

    # without an issuer key: graded and summarised, then one line saying how to make one, exit 1
    other = readme_steps.instructor_env(tmp_path / "home-without-key")
    proc = subprocess.run([str(readme_steps.VENV_BIN / "credkit"), "grade", "my-assessment", "--course-dir",
                           "my-course", "--force", "--no-progress"], cwd=folder, env=other, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "graded 1, failed 0" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("credkit: error:")]
    assert len(errors) == 1 and "credkit keys new" in errors[0] and "my-course-issuer-key.json" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
