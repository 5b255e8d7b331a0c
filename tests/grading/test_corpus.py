"""The shipped assessment's corpus, graded in the sandbox on both engines (each from a fresh course),
against its hand-written oracle; per-skill pass rates through the manifest in the summary."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

from grading.manifest import load_assessment
from grading.provenance import ProvenanceStore, provenance_path
from tests.assessments.course import BIN, env, make_course, scores, submit

ROOT = Path(__file__).resolve().parents[2]
FOUNDATIONS = ROOT / "assessments" / "python-data-analysis" / "foundations"
ORACLE = tomllib.loads((FOUNDATIONS / "corpus" / "oracle.toml").read_text())["submissions"]
# Where the oracle's "honest part" cannot be earned by any grader, the submission must earn no more.
BRICKED = {
    # Replacing builtins.type with a function breaks ipykernel's own message handling
    # (`isinstance(x, type)` raises), under stock nbgrader too: every later cell times out.
    "attack-monkeypatch-helper",
    # 10,000 fork() calls under the process limit: now and then the kernel blocks for good (measured:
    # 0.0 s of CPU through its whole grace; likely the interrupt landing in one of Python's at-fork
    # handlers with a lock held). It is then stopped and its later cells score 0 — on either engine,
    # decided run by run. It costs only its own points.
    "attack-fork-bomb",
}


def _grade(tmp_path: Path, *extra: str) -> tuple[Path, dict]:
    assessment = load_assessment(FOUNDATIONS)
    course = make_course(tmp_path, assessment)
    for name in ORACLE:
        submit(course, assessment, name, FOUNDATIONS / "corpus" / f"{name}.ipynb")
    proc = subprocess.run([str(BIN / "credkit"), "grade", assessment.id, "--course-dir", str(course),
                           "--cell-timeout", "2", "--json", "--no-issue", *extra],
                          cwd=course, env=env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 2), proc.stderr
    return course, json.loads(proc.stdout)


def _check_oracle(course: Path, summary: dict) -> dict[str, dict[str, float]]:
    assessment = load_assessment(FOUNDATIONS)
    got = scores(course, assessment)
    failed = {f["learner"] for f in summary["failures"]}
    for name, expected in ORACLE.items():
        if expected.get("outcome") == "failed":
            assert name in failed, name
            continue
        if expected.get("may_fail") and name in failed:
            continue
        assert name not in failed, (name, summary["failures"])
        if name in BRICKED:
            assert all(got[name][cell] <= points for cell, points in expected["scores"].items()), name
        else:
            assert got[name] == expected["scores"], name
    return got


def test_corpus_on_both_engines_matches_the_oracle(tmp_path: Path) -> None:
    local, on_local = _grade(tmp_path / "local")
    dask, on_dask = _grade(tmp_path / "dask", "--cluster", "local:2")
    local_scores = _check_oracle(local, on_local)
    dask_scores = _check_oracle(dask, on_dask)
    # The engines agree on every submission whose outcome is its own (a bricked kernel's is not).
    def decided(got: dict) -> dict:
        return {name: cells for name, cells in got.items() if name not in BRICKED}

    assert decided(local_scores) == decided(dask_scores)
    bricked_apart = sum(local_scores.get(name) != dask_scores.get(name) for name in BRICKED)
    # every task ran on a Dask worker
    assert on_dask["engine"] == "dask" and on_dask["dask_workers"]
    db_url = f"sqlite:///{dask / 'gradebook.db'}"
    with ProvenanceStore(provenance_path(db_url, str(dask))) as store:
        rows = [row for name in ORACLE for row in store.notebooks("foundations", name)]
    assert rows and all(row.sandboxed and row.engine.startswith("dask:tcp://") for row in rows)
    # Per-skill pass rates through the manifest: the reference solution passes every skill,
    # the blank copy none, so each skill's rate is strictly between 0 and 1.
    skills = on_local["skills"]
    assert set(skills) == set(load_assessment(FOUNDATIONS).skills)
    for row in skills.values():
        assert 0 < row["passed"] < row["learners"]
    assert set(on_dask["skills"]) == set(skills)
    for skill, row in skills.items():  # each bricked submission that scored apart may move a skill's count by one
        other = on_dask["skills"][skill]
        assert other["learners"] == row["learners"] and abs(other["passed"] - row["passed"]) <= bricked_apart, \
            (skill, row, other)
