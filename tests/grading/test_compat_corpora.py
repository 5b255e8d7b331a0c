"""Compatibility measured, not assumed (issue 9, point 4): two foreign corpora, each graded by stock
`nbgrader autograde` and by `credkit grade` (sandboxed), each from a fresh copy of the same release,
give the same auto score on every grade cell of every submission.

- nbgrader's documentation course (ps1: problem1, problem2; bitdiddle and hacker), from the installed
  nbgrader package.
- A course of nbgrader's own test fixtures (tests/apps/files): the notebooks that release, graded in
  the submissions the fixtures provide (see compat_courses for what is in, what is out and why).

Each test prints how many cells it compared. The score compared is the gradebook's ``auto_score``
(with ``needs_manual_grade``) per (learner, notebook, grade cell); stock is run, never assumed.

Cells here that a design running test cells outside the learner's kernel must get right:
``sum_of_squares_uses_squares`` (docs problem1, fixtures test / test_hidden_tests) deletes the
learner's global ``squares`` from the test cell, calls the learner's ``sum_of_squares`` expecting a
NameError, and restores it; ``squares_invalid_input`` and autotest_multi's ``test_func_throws``
expect the learner's ValueError; the autotest cells hash ``str(type(x))`` of learner values;
``timeout`` calls a learner function that sleeps past the cell timeout; ``validating_env`` reads
NBGRADER_EXECUTION through the learner's ``import os``; ``open_relative_file`` reads a released file.
"""

from __future__ import annotations

import time
from pathlib import Path

import compat_courses as cc

from grading.provenance import ProvenanceStore, provenance_path


def _grade_both(template: Path, tmp_path: Path, course_id: str, assignment: str,
                students: list[str]) -> tuple[dict, dict]:
    stock = cc.copy_course(template, tmp_path / "stock")
    ours = cc.copy_course(template, tmp_path / "credkit")

    started = time.monotonic()
    cc.stock_autograde(stock, assignment)
    middle = time.monotonic()
    summary = cc.credkit_grade(ours, assignment)
    print(f"\n{course_id}: stock nbgrader autograde {middle - started:.1f} s, "
          f"credkit grade {time.monotonic() - middle:.1f} s")
    assert summary["failed"] == 0, summary["failures"]
    assert summary["graded"] == len(students), summary
    db_url = f"sqlite:///{ours / 'gradebook.db'}"
    with ProvenanceStore(provenance_path(db_url, str(ours))) as store:
        for student in students:
            rows = store.notebooks(assignment, student)
            assert rows and all(row.sandboxed for row in rows), (student, rows)
    # Both wrote an autograded copy of every submitted notebook (those without a grade cell too).
    for student in students:
        submitted = sorted(p.name for p in (template / "submitted" / student / assignment).glob("*.ipynb"))
        for course in (stock, ours):
            graded = sorted(p.name for p in (course / "autograded" / student / assignment).glob("*.ipynb"))
            assert graded == submitted, (course.name, student, graded, submitted)

    return cc.cell_scores(stock, course_id, assignment), cc.cell_scores(ours, course_id, assignment)


def _differences(stock: dict, ours: dict) -> list[str]:
    return [f"{key}: stock {stock.get(key)} credkit {ours.get(key)}"
            for key in sorted(set(stock) | set(ours)) if stock.get(key) != ours.get(key)]


def test_nbgrader_docs_course_matches_stock(tmp_path: Path) -> None:
    template = cc.build_docs_course(tmp_path / "template")
    stock, ours = _grade_both(template, tmp_path, cc.DOCS_COURSE_ID, cc.DOCS_ASSIGNMENT, list(cc.DOCS_STUDENTS))

    assert {learner for learner, _, _ in stock} == set(cc.DOCS_STUDENTS)
    auto = [k for k, (score, _) in stock.items() if score is not None]
    print(f"nbgrader docs course: {len(stock)} grade cells compared "
          f"({len(auto)} with an auto score) over {len(cc.DOCS_STUDENTS)} learners")
    for learner in cc.DOCS_STUDENTS:  # problem1's four test cells are autograded for each learner
        for cell in ("correct_squares", "squares_invalid_input", "correct_sum_of_squares",
                     "sum_of_squares_uses_squares"):
            assert stock[(learner, "problem1", cell)][0] is not None, (learner, cell)
    assert _differences(stock, ours) == [], "\n".join(_differences(stock, ours))
    # Files: what each grader left beside the notebooks in autograded/, byte for byte.
    assert _autograded_files(tmp_path / "stock") == _autograded_files(tmp_path / "credkit")


def _autograded_files(course: Path) -> dict[str, bytes]:
    """Every file of autograded/ but the notebooks, nbgrader's timestamps and bytecode caches."""
    return {str(p.relative_to(course)): p.read_bytes() for p in sorted((course / "autograded").rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and p.name != "timestamp.txt" and "__pycache__" not in p.parts}


def test_nbgrader_fixture_course_matches_stock(tmp_path: Path) -> None:
    template = cc.build_fixture_course(tmp_path / "template")
    students = sorted(cc.FIXTURE_SUBMISSIONS)
    stock, ours = _grade_both(template, tmp_path, cc.FIXTURE_COURSE_ID, cc.FIXTURE_ASSIGNMENT, students)

    def submitted(key: tuple[str, str, str]) -> bool:
        learner, notebook, _ = key
        return notebook in cc.FIXTURE_SUBMISSIONS[learner] or (learner == "solution" and notebook == cc.PROBE)

    foreign = [k for k in stock if submitted(k) and k[1] != cc.PROBE]
    missing = [k for k in stock if not submitted(k)]
    probe = [k for k in stock if submitted(k) and k[1] == cc.PROBE]
    auto = [k for k in foreign if stock[k][0] is not None]
    print(f"nbgrader fixture course: {len(foreign)} grade cells of submitted fixture notebooks compared "
          f"({len(auto)} with an auto score) over {len(students)} learners; plus {len(missing)} cells of "
          f"notebooks missing from a submission and {len(probe)} NBGRADER_EXECUTION probe cells")

    # What stock does, from nbgrader's own tests of these fixtures (so the comparison below is
    # against stock behaving as nbgrader means it to):
    assert stock[("solution", "timeout", "correct_squares")][0] == 0            # 5 s sleep, 3 s timeout
    assert stock[("solution", "validating_env", "cell-bfbdf1784663b6b6")][0] == 0  # NBGRADER_EXECUTION set
    assert stock[("solution", "test", "correct_squares")][0] == 1
    assert stock[("unchanged", "submitted", "bar")][0] == 0
    assert stock[("changed", "submitted", "bar")][0] == 1
    # ... and stock hands NBGRADER_EXECUTION=autograde to the learner's kernel and the test cells.
    assert stock[("solution", cc.PROBE, "env_in_learner_kernel")][0] == 1
    assert stock[("solution", cc.PROBE, "env_in_test_cell")][0] == 1

    assert _differences(stock, ours) == [], "\n".join(_differences(stock, ours))
    # nbgrader's own side-effects test: what a notebook writes while graded lands in autograded/
    files = _autograded_files(tmp_path / "credkit")
    assert files[f"autograded/solution/{cc.FIXTURE_ASSIGNMENT}/side-effect.txt"] == b"a side effect"
    assert _autograded_files(tmp_path / "stock") == files
