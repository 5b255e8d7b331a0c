"""The shipped track under stock nbgrader: validation, the corpus against its oracle, release safety."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from grading.manifest import Assessment, CellGrade, earned_credentials, load_assessment, load_track, score_skills
from grading.validate import read_graded_cells, validate_path

from .course import autograde_cmd, env, make_course, max_scores, scores, submit

ROOT = Path(__file__).resolve().parents[2]
TRACK = ROOT / "assessments" / "python-data-analysis"
ASSESSMENTS = ["foundations", "numpy-arrays", "pandas-wrangling", "sql-sqlite"]
ATTACKS = [  # issue 4, section 8
    "gradebook-rewrite", "read-solutions", "other-submissions", "read-secrets", "write-outside", "network",
    "fork-bomb", "memory-bomb", "output-flood", "infinite-loop", "kill-kernel", "eq-always-true",
    "monkeypatch-helper", "input-transformer", "detect-autograder",
]


def oracle(a: Assessment) -> dict[str, dict]:
    return tomllib.loads((a.folder / "corpus" / "oracle.toml").read_text())["submissions"]


def corpus(a: Assessment) -> list[Path]:
    return sorted((a.folder / "corpus").glob("*.ipynb"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Assessment, Path, dict, dict]]:
    """Every non-attack corpus submission of each assessment, autograded by stock nbgrader in its own course.

    The four courses grade concurrently (separate processes and gradebooks), as nbgrader allows.
    """
    root = tmp_path_factory.mktemp("courses")
    running = []
    for name in ASSESSMENTS:
        a = load_assessment(TRACK / name)
        course = make_course(root, a)
        for nb in corpus(a):
            if not nb.stem.startswith("attack-"):
                submit(course, a, nb.stem, nb)
        proc = subprocess.Popen(autograde_cmd(course, a), cwd=course, env=env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        running.append((a, course, proc))
    out = {}
    for a, course, proc in running:
        log = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, log[-3000:]
        out[a.id] = (a, course, scores(course, a), max_scores(course, a))
    return out


def test_shipped_assessments_validate_clean() -> None:
    reports = validate_path(ROOT / "assessments")
    assert [p for r in reports for p in r.problems] == []
    assert [w for r in reports for w in r.warnings] == []
    assert len(reports) == 1 + len(ASSESSMENTS)
    run = subprocess.run([str(Path(sys.executable).parent / "credkit"), "validate", str(ROOT / "assessments")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout == "ok: 5 file(s) valid, 0 warning(s)\n", run.stderr


def test_track_shape() -> None:
    track = load_track(TRACK)
    assert sorted(track.assessments) == ASSESSMENTS
    for a in track.assessments.values():
        cells, problems = read_graded_cells(a.folder, a.notebooks)
        assert problems == []
        assert 3 <= len(a.skills) <= 4, a.id
        for sid in a.skills:
            tests = [cells[g] for g in a.cells_of(sid)]
            assert len(tests) >= 2 and all(c.is_test for c in tests), (a.id, sid)
            assert any(c.has_hidden for c in tests), (a.id, sid, "needs hidden tests")
            assert a.skills[sid].alignment, (a.id, sid)
        assert {t.skill for c in a.credentials.values() for t in c.requires} == set(a.skills)
        for f in a.files:
            assert (a.folder / f).stat().st_size > 200, f
    (stack,) = track.stacks.values()
    assert set(stack.components) == set(track.credential_ids())


@pytest.mark.parametrize("name", ASSESSMENTS)
def test_oracle_covers_the_corpus(name: str) -> None:
    a = load_assessment(TRACK / name)
    o = oracle(a)
    assert sorted(o) == sorted(nb.stem for nb in corpus(a))
    partials = {k: v for k, v in o.items() if k.startswith("partial-")}
    assert len(partials) >= 3 and {"solution", "blank"} <= set(o)
    assert sorted(p["misses"] for p in partials.values()) == sorted({p["misses"] for p in partials.values()})
    assert all(p["misses"] in a.skills for p in partials.values())
    for key, sub in o.items():
        assert set(sub) <= {"intent", "misses", "attack", "outcome", "may_fail", "scores", "credentials"}, key
        assert ("attack" in sub) == key.startswith("attack-") and ("misses" in sub) == key.startswith("partial-")
        assert sub.get("outcome", "graded") in {"graded", "failed"}
        assert set(sub["credentials"]) <= set(a.credentials), key
        if sub.get("outcome", "graded") == "failed":
            assert sub["scores"] == {} and sub["credentials"] == []
            continue
        assert sorted(sub["scores"]) == sorted(a.cells), key
        # the hand-written credentials agree with the hand-written scores under the manifest's rules
        points = {c.grade_id: c.points for c in read_graded_cells(a.folder, a.notebooks)[0].values()}
        grades = {g: CellGrade(s, points[g]) for g, s in sub["scores"].items()}
        assert sorted(c.key for c in earned_credentials(a, score_skills(a, grades))) == sorted(sub["credentials"]), key
    if name == "foundations":
        assert sorted(k.removeprefix("attack-") for k in o if k.startswith("attack-")) == sorted(ATTACKS)


@pytest.mark.parametrize("name", ASSESSMENTS)
def test_stock_nbgrader_gives_the_oracle_scores(graded: dict, name: str) -> None:
    a, _course, got, _max = graded[name]
    expected = {k: v for k, v in oracle(a).items() if "attack" not in v}
    assert sorted(got) == sorted(expected)
    for learner, sub in expected.items():
        assert got[learner] == {g: float(s) for g, s in sub["scores"].items()}, learner


@pytest.mark.parametrize("name", ASSESSMENTS)
def test_invariants(graded: dict, name: str) -> None:
    a, _course, got, maxima = graded[name]
    assert got["solution"] == maxima, "the full solution earns every point"
    assert set(got["blank"].values()) == {0.0}, "the blank copy earns nothing"
    for learner, cells in got.items():
        skills = score_skills(a, {g: CellGrade(cells[g], maxima[g]) for g in a.cells})
        won = {c.key for c in earned_credentials(a, skills)}
        assert sorted(won) == sorted(oracle(a)[learner]["credentials"]), learner
        if learner.startswith("partial-"):
            missed = oracle(a)[learner]["misses"]
            for rule in a.credentials.values():
                needs_missed = any(t.skill == missed for t in rule.requires)
                assert (rule.key in won) is not needs_missed, (learner, rule.key)
            below = [t for r in a.credentials.values() for t in r.requires
                     if skills[t.skill].earned < t.needed(skills[t.skill].possible)]
            assert {t.skill for t in below} == {missed}, learner


@pytest.mark.parametrize("name", ASSESSMENTS)
def test_blank_is_the_released_copy_and_test_cells_are_untouched(graded: dict, name: str) -> None:
    a, course, _got, _max = graded[name]
    released = nbformat.read(course / "release" / a.id / a.notebooks[0], as_version=4)
    rel_cells = [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in released.cells]
    blank = nbformat.read(a.folder / "corpus" / "blank.ipynb", as_version=4)
    assert [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in blank.cells] == rel_cells
    locked = {c.metadata["nbgrader"]["grade_id"]: c.source for c in released.cells
              if c.metadata.get("nbgrader", {}).get("locked")}
    for path in corpus(a):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        mine = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("locked")}
        assert mine == locked, f"{path.name} must keep every locked and test cell as released"


def _secret_lines(a: Assessment) -> tuple[list[str], list[str]]:
    """Distinctive lines of the hidden tests and of the solutions (lines not also shown to learners)."""
    nb = nbformat.read(a.folder / a.notebooks[0], as_version=4)
    hidden, solution, public = [], [], []
    for cell in nb.cells:
        region = None
        for line in cell.source.splitlines():
            m = re.match(r"\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", line)
            if m:
                region = m.group(2) if m.group(1) == "BEGIN" else None
                continue
            {"SOLUTION": solution, "HIDDEN TESTS": hidden, None: public}[region].append(line.strip())
    shown = "\n".join(public)

    def pick(lines: list[str]) -> list[str]:
        return [ln for ln in lines if len(ln) >= 16 and ln not in shown and not ln.startswith("#")]

    return pick(hidden), pick(solution)


@pytest.mark.parametrize("name", ASSESSMENTS)
def test_released_files_hold_no_hidden_test_and_no_solution(graded: dict, name: str) -> None:
    a, course, _got, _max = graded[name]
    hidden, solution = _secret_lines(a)
    assert len(hidden) >= 2 * len(a.skills) and len(solution) >= len(a.skills)
    released = [p for p in (course / "release" / a.id).rglob("*") if p.is_file()]
    assert {p.name for p in released} >= {a.notebooks[0], "credkit-skills.json"}
    for path in released:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c.source) for c in nbformat.reads(text, as_version=4).cells)
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, path
        for line in hidden + solution:
            assert line not in text, (path.name, line)
    skill_map = json.loads((course / "release" / a.id / "credkit-skills.json").read_text())
    assert [s["id"] for s in skill_map["skills"]] == list(a.skills)
    for s in skill_map["skills"]:
        assert s["possible"] == sum(_max[g] for g in a.cells_of(s["id"]))
        assert [t["grade_id"] for t in s["visible_tests"]] == a.cells_of(s["id"])
    assert {c["id"] for c in skill_map["credentials"]} == {c.id for c in a.credentials.values()}
    assert all(r["fraction"] == 0.75 for c in skill_map["credentials"] for r in c["requires"])
