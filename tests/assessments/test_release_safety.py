"""``credkit release`` never deletes or overwrites an instructor's file, and never publishes a file
through a link or from a special file (issues 11 and 12).

The link attack is first shown working under stock ``nbgrader generate_assignment`` (the target's
bytes land in ``release/``, readable by learners), then refused by ``credkit validate`` and
``credkit release`` for every kind of path a manifest or ``source/<id>/`` can hold.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pytest

from grading.scaffold import _nb
from tests.assessments.course import BIN, env

SECRET = "CANARY-issuer-secret-3f9c1e"


def _credkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "credkit"), *args], cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=300)


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert any(all(n in line for n in needles) for line in proc.stderr.splitlines()), proc.stderr


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    key = tmp_path / "keys" / "issuer.json"
    key.parent.mkdir()
    key.write_text(SECRET)
    key.chmod(0o600)
    return key


@pytest.fixture
def assessment(tmp_path: Path) -> Path:
    folder = tmp_path / "assessments" / "track" / "stats"
    made = _credkit("new", "assessment", str(folder), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return folder


def _declare_files(folder: Path, *names: str) -> None:
    manifest = folder / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("files = []", f"files = {list(names)!r}".replace("'", '"')))


def test_stock_generate_assignment_publishes_a_linked_key(tmp_path: Path, secret: Path) -> None:
    course = tmp_path / "stock"
    source = course / "source" / "ps"
    source.mkdir(parents=True)
    nbformat.write(_nb("ps", "Ps"), source / "ps.ipynb")
    (source / "data.json").symlink_to(secret)
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'stock'\n")
    proc = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "ps"], cwd=course, env=env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    leaked = course / "release" / "ps" / "data.json"
    assert not leaked.is_symlink() and SECRET in leaked.read_text()  # the attack works under stock


@pytest.mark.parametrize("how", ["file", "notebook", "folder-on-the-way", "inside-a-folder", "fifo", "escape"])
def test_links_and_special_files_are_refused(tmp_path: Path, assessment: Path, secret: Path, how: str) -> None:
    if how == "file":
        (assessment / "data.json").symlink_to(secret)
        _declare_files(assessment, "data.json")
        needle = "data.json"
    elif how == "notebook":
        real = tmp_path / "elsewhere.ipynb"
        shutil.move(assessment / "stats.ipynb", real)
        (assessment / "stats.ipynb").symlink_to(real)
        needle = "stats.ipynb"
    elif how == "folder-on-the-way":
        (assessment / "data").symlink_to(secret.parent, target_is_directory=True)
        _declare_files(assessment, "data/issuer.json")
        needle = "data"
    elif how == "inside-a-folder":
        (assessment / "data").mkdir()
        (assessment / "data" / "ok.csv").write_text("a,b\n1,2\n")
        (assessment / "data" / "key.json").symlink_to(secret)
        _declare_files(assessment, "data")
        needle = "key.json"
    elif how == "fifo":
        os.mkfifo(assessment / "readings.csv")
        _declare_files(assessment, "readings.csv")
        needle = "FIFO"
    else:
        _declare_files(assessment, "../../../keys/issuer.json")
        needle = "files[0]"  # the schema already refuses a path out of the folder
    validated = _credkit("validate", str(assessment), cwd=tmp_path)
    _one_line_error(validated, needle)
    course = tmp_path / "course"
    released = _credkit("release", str(assessment), "--course", str(course), cwd=tmp_path)
    _one_line_error(released, needle)
    assert not (course / "release").exists() and not (course / "source").exists()
    if course.exists():
        assert SECRET not in "".join(p.read_text(errors="replace") for p in course.rglob("*") if p.is_file())


def test_a_link_in_the_courses_own_source_folder_is_refused(tmp_path: Path, assessment: Path, secret: Path) -> None:
    course = tmp_path / "course"
    assert _credkit("release", str(assessment), "--course", str(course), cwd=tmp_path).returncode == 0
    (course / "source" / "stats" / "notes.txt").symlink_to(secret)  # not in the manifest
    released = _credkit("release", str(assessment), "--course", str(course), cwd=tmp_path)
    _one_line_error(released, "notes.txt", "symbolic link")
    assert not (course / "release" / "stats" / "notes.txt").exists()


def test_release_never_overwrites_or_deletes_an_instructors_file(tmp_path: Path, assessment: Path) -> None:
    course = tmp_path / "course"
    first = _credkit("release", str(assessment), "--course", str(course), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    source = course / "source" / "stats"
    (source / "figure.png").write_bytes(b"\x89PNG instructor's own image")  # not in the manifest
    config = (course / "nbgrader_config.py").read_bytes()

    # an edit of the assessment's notebook reaches the course (the course's copy was credkit's, unchanged)
    notebook = assessment / "stats.ipynb"
    notebook.write_text(notebook.read_text().replace("Write `mean(values)`", "Write the function `mean(values)`"))
    again = _credkit("release", str(assessment), "--course", str(course), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (source / "stats.ipynb").read_bytes() == notebook.read_bytes()
    assert "Write the function" in (course / "release" / "stats" / "stats.ipynb").read_text()
    assert (source / "figure.png").exists() and (course / "release" / "stats" / "figure.png").exists()
    assert (course / "nbgrader_config.py").read_bytes() == config

    # an edit made in the course (the formgrader edits source/) is the instructor's: never overwritten
    (source / "stats.ipynb").write_text((source / "stats.ipynb").read_text().replace("mean", "average", 1))
    before = _tree(course)
    notebook.write_text(notebook.read_text().replace("the function", "a function"))
    refused = _credkit("release", str(assessment), "--course", str(course), cwd=tmp_path)
    _one_line_error(refused, str(source / "stats.ipynb"), "never overwrites")
    assert _tree(course) == before


def test_an_assessment_in_the_courses_source_folder_is_released_in_place(tmp_path: Path, assessment: Path) -> None:
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    shutil.copytree(assessment, course / "source" / "stats")
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'mine'\n")
    before = _tree(course)
    released = _credkit("release", "source/stats", "--course", ".", cwd=course)
    assert released.returncode == 0, released.stderr
    assert "not changed by credkit" in released.stderr and "GenerateFeedback.preprocessors" in released.stderr
    after = _tree(course)
    assert {k: after.get(k) for k in before} == before
    assert (course / "release" / "stats" / "stats.ipynb").exists()
    assert (course / "release" / "stats" / "credkit-skills.json").exists()


def test_a_released_courses_gradebook_is_stamped_as_nbgrader_stamps_it(
        tmp_path: Path, assessment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # credkit reads nbgrader's alembic head in process instead of running `alembic heads`; the
    # release runs without the venv's bin folder on PATH, where that script would not be found.
    course = tmp_path / "course"
    released = subprocess.run([str(BIN / "credkit"), "release", str(assessment), "--course", str(course)],
                              cwd=tmp_path, env=dict(os.environ, PATH="/usr/bin:/bin"),
                              capture_output=True, text=True, timeout=300)
    assert released.returncode == 0, released.stderr
    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        stamped = db.execute("SELECT version_num FROM alembic_version").fetchall()

    from nbgrader.api import get_alembic_version

    monkeypatch.setenv("PATH", env()["PATH"])  # nbgrader's own runs `alembic heads` from PATH
    assert stamped == [(get_alembic_version(),)]

    upgrade = subprocess.run([str(BIN / "nbgrader"), "db", "upgrade"], cwd=course, env=env(),
                             capture_output=True, text=True, timeout=300)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "Upgrading" in upgrade.stderr and "Running upgrade" not in upgrade.stderr + upgrade.stdout, upgrade.stderr
