"""`credkit new assessment` scaffolds something that validates, releases and grades; test quality by mutants."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from grading.manifest import CellGrade, earned_credentials, load_assessment, score_skills
from grading.validate import validate_path

from .course import autograde, make_course, max_scores, scores, submit

ROOT = Path(__file__).resolve().parents[2]
TRACK = ROOT / "assessments" / "python-data-analysis"
ASSESSMENTS = ["foundations", "numpy-arrays", "pandas-wrangling", "sql-sqlite"]
CREDKIT = str(Path(sys.executable).parent / "credkit")


def test_scaffold_validates_releases_and_grades(tmp_path: Path) -> None:
    run = subprocess.run([CREDKIT, "new", "assessment", str(tmp_path / "mean-values")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "mean-values"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.toml", "mean-values.ipynb"]
    (report,) = validate_path(folder)
    assert report.problems == [] and report.warnings == []

    a = load_assessment(folder)
    course = make_course(tmp_path, a)
    released = (course / "release" / a.id / "mean-values.ipynb").read_text()
    assert "HIDDEN TESTS" not in released and "mean([10])" not in released
    assert "SOLUTION" not in released and "float(sum(values))" not in released

    source = nbformat.read(folder / "mean-values.ipynb", as_version=4)
    for cell in source.cells:  # the learner's answer: the solution without nbgrader's markers
        cell.source = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
    nbformat.write(source, tmp_path / "answer.ipynb")
    submit(course, a, "learner-right", tmp_path / "answer.ipynb")
    submit(course, a, "learner-blank", course / "release" / a.id / "mean-values.ipynb")
    assert autograde(course, a).returncode == 0
    got, maxima = scores(course, a), max_scores(course, a)
    assert got == {"learner-right": {"test_mean_visible": 1.0, "test_mean_hidden": 2.0},
                   "learner-blank": {"test_mean_visible": 0.0, "test_mean_hidden": 0.0}}
    right = score_skills(a, {g: CellGrade(s, maxima[g]) for g, s in got["learner-right"].items()})
    assert [c.id for c in earned_credentials(a, right)] == ["https://example.edu/achievements/mean-values/summary-statistics"]


def test_scaffold_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    run = subprocess.run([CREDKIT, "new", "assessment", str(tmp_path / "taken")], capture_output=True, text=True, check=False)
    assert run.returncode == 1 and run.stderr == f"credkit: error: {tmp_path / 'taken'}: folder is not empty; choose a new folder\n"
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def mutant_runs() -> dict[str, dict]:
    """Each assessment's reference solution and mutants, in one kernel per assessment (assessments in parallel)."""
    runner = Path(__file__).with_name("run_mutants.py")
    procs = {name: subprocess.Popen([sys.executable, str(runner), str(TRACK / name)], text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in ASSESSMENTS}
    out, errors = {}, {}
    try:
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=300)
            if proc.returncode == 0:
                out[name] = json.loads(stdout)
            else:
                errors[name] = stderr[-2000:]
    finally:
        for proc in procs.values():  # never leave a runner behind, whatever failed
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert not errors, errors
    return out


@pytest.mark.parametrize("name", ASSESSMENTS)
def test_mutants_of_the_reference_solution_fail_some_test(mutant_runs: dict, name: str) -> None:
    mutants = tomllib.loads((TRACK / name / "corpus" / "mutants.toml").read_text())["mutant"]
    run = mutant_runs[name]
    assert run["reference"] == [], "the reference solution must pass every test, hidden ones included"
    assert len(mutants) >= 10 and len(run["mutants"]) == len(mutants)
    survivors = [f"{m['cell']}: {m['find']!r} -> {m['replace']!r} ({m['kind']})"
                 for m, failed in zip(mutants, run["mutants"]) if not failed]
    killed = len(mutants) - len(survivors)
    assert killed >= 0.9 * len(mutants), f"{name}: mutants surviving every test: {survivors}"
