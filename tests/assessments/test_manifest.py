"""The manifest: loading, every class of authoring error, and the scoring rules (pure functions)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from grading.manifest import (
    CellGrade,
    earned_credentials,
    earned_stacks,
    load_assessment,
    load_track,
    score_skills,
)
from grading.validate import validate_path
from kit.errors import AssessmentInvalid, ManifestError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "authoring-errors"
TRACK = ROOT / "assessments" / "python-data-analysis"
CREDKIT = str(Path(sys.executable).parent / "credkit")

# one fixture per class of authoring error -> the key path and the problem its message must name
AUTHORING_ERRORS = {
    "unknown-grade-id": r"manifest\.toml: cells\.test_mean_hiden: unknown grade_id 'test_mean_hiden': no such nbgrader cell",
    "unreachable-threshold": r"manifest\.toml: credentials\.summary-statistics\.requires\.summary-statistics: "
                             r"unreachable threshold: needs 4 points but the skill's cells give 3",
    "skill-without-cell": r"manifest\.toml: skills\.plotting: no graded cell assesses this skill",
    "stack-missing-credential": r"manifest\.toml: stacks\.statistics-pair\.components\[1\]: no credential with id "
                                r"'https://example\.edu/achievements/stack-missing-credential/dispersion'",
    "malformed-toml": r"manifest\.toml: \(syntax\): not valid TOML: .*line 11",
    "schema-violation": r"manifest\.toml: credentials\.summary-statistics\.validity_days: must be of type integer",
}


@pytest.mark.parametrize("case", sorted(AUTHORING_ERRORS))
def test_each_authoring_error_has_its_own_clear_message(case: str) -> None:
    reports = validate_path(FIXTURES / case)
    problems = [p for r in reports for p in r.problems]
    assert problems, f"{case} must not validate"
    assert any(re.search(AUTHORING_ERRORS[case], p) for p in problems), problems
    # the other classes' messages do not fire: each fixture has exactly its own error class
    others = [pat for other, pat in AUTHORING_ERRORS.items() if other != case]
    assert not any(re.search(pat, p) for pat in others for p in problems)


def test_cli_reports_authoring_errors_as_lines_without_traceback() -> None:
    cases = sorted(AUTHORING_ERRORS)
    run = subprocess.run([CREDKIT, "validate", *(str(FIXTURES / c) for c in cases)], capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and run.stdout == ""
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("credkit: error: ")]
    for case in cases:
        mine = [ln for ln in errors if ln.startswith(f"credkit: error: {FIXTURES / case}/manifest.toml: ")]
        assert mine and any(re.search(AUTHORING_ERRORS[case], ln) for ln in mine), (case, run.stderr)
    assert run.stderr.splitlines()[-1] == f"credkit: {len(errors)} error(s), 1 warning(s) in {len(cases)} file(s)"


def test_release_of_an_invalid_assessment_is_one_line(tmp_path: Path) -> None:
    run = subprocess.run([CREDKIT, "release", str(FIXTURES / "unknown-grade-id"), "--course", str(tmp_path / "c")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("credkit: error: ")
    assert "unknown grade_id 'test_mean_hiden'" in run.stderr
    assert not (tmp_path / "c" / "release").exists()


def test_validate_of_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    run = subprocess.run([CREDKIT, "validate", str(tmp_path / "nowhere")], capture_output=True, text=True, check=False)
    assert run.returncode == 1 and run.stderr == f"credkit: error: {tmp_path / 'nowhere'}: no such folder\n"


def test_schema_reports_every_error_with_file_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    shutil.copytree(FIXTURES / "schema-violation", folder)
    text = (folder / "manifest.toml").read_text()
    text = text.replace('framework = "ESCO"', 'framework = "ESCO"\ncolour = "blue"')
    text = text.replace('id = "many"', 'id = "Many Things"').replace('id = "schema-violation"', 'id = "Not A Slug"')
    (folder / "manifest.toml").write_text(text)
    with pytest.raises(AssessmentInvalid) as info:
        load_assessment(folder)
    problems = info.value.problems
    path = str(folder / "manifest.toml")
    assert all(p.startswith(path + ": ") for p in problems)
    joined = "\n".join(problems)
    assert "assessment.id: 'Not A Slug' is not in the expected form" in joined
    assert "skills.summary-statistics.alignment[0]: unknown key(s) 'colour'" in joined
    assert "issuer.email: missing (required)" in joined
    assert "validity_days: must be of type integer, not str" in joined
    assert len(problems) == 4


def test_missing_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest\.toml: file not found"):
        load_assessment(tmp_path)


def test_issuer_is_inherited_from_the_track() -> None:
    a = load_assessment(TRACK / "foundations")
    assert a.issuer.name == "Northbridge University, School of Data Science"
    assert a.issuer.image == "images/issuer.svg"


def test_track_stack_naming_a_missing_credential(tmp_path: Path) -> None:
    track = tmp_path / "track"
    shutil.copytree(TRACK, track, ignore=shutil.ignore_patterns("corpus"))
    text = (track / "track.toml").read_text()
    (track / "track.toml").write_text(text.replace("foundations/control-flow", "foundations/loops"))
    with pytest.raises(AssessmentInvalid) as info:
        load_track(track)
    assert info.value.problems == [
        (f"{track / 'track.toml'}: stacks.data-analyst-python.components[0]: no credential with id "
         "'https://datascience.northbridge.example.edu/achievements/python-data-analysis/foundations/loops' in this track")
    ]


def test_generated_criteria_state_the_rule() -> None:
    a = load_assessment(TRACK / "numpy-arrays")
    text = a.credentials["masking-aggregation"].criteria
    assert "at least 75% of the points" in text and "Boolean masking and aggregation" in text
    assert "without rounding" in text


# --- the scoring rules --------------------------------------------------------------------------


def _assessment_with_shared_cell(tmp_path: Path):
    """The scaffold with a second skill that shares the hidden test cell."""
    folder = tmp_path / "shared"
    shutil.copytree(FIXTURES / "unknown-grade-id", folder)
    (folder / "unknown-grade-id.ipynb").rename(folder / "shared.ipynb")
    text = (folder / "manifest.toml").read_text().replace("unknown-grade-id", "shared")
    text = text.replace('test_mean_hiden = ["summary-statistics"]', 'test_mean_hidden = ["summary-statistics", "edge-cases"]')
    text = text.replace("[cells]", '[skills.edge-cases]\nname = "Edge cases"\ndescription = "Handles empty input."\n\n[cells]')
    text += (
        '\n[credentials.edge-cases]\nid = "https://example.edu/achievements/shared/edge-cases"\nname = "Edge cases"\n'
        'description = "Handles edge cases."\nrequires = { edge-cases = 1.0 }\n'
        '\n[credentials.both]\nid = "https://example.edu/achievements/shared/both"\nname = "Both"\n'
        'description = "Both skills."\nrequires = { summary-statistics = { points = 3 }, edge-cases = 0.5 }\n'
    )
    (folder / "manifest.toml").write_text(text)
    return load_assessment(folder)


def test_a_cell_mapped_to_two_skills_counts_fully_in_each(tmp_path: Path) -> None:
    a = _assessment_with_shared_cell(tmp_path)
    scores = score_skills(a, {"test_mean_visible": CellGrade(1, 1), "test_mean_hidden": CellGrade(2, 2)})
    assert scores["summary-statistics"].earned == Decimal(3) and scores["summary-statistics"].possible == Decimal(3)
    assert scores["edge-cases"].earned == Decimal(2) and scores["edge-cases"].possible == Decimal(2)
    assert [c.key for c in earned_credentials(a, scores)] == ["summary-statistics", "edge-cases", "both"]


def test_threshold_is_inclusive_and_exact(tmp_path: Path) -> None:
    a = _assessment_with_shared_cell(tmp_path)
    # 0.75 of 3 points is 2.25: 2.25 passes (>=), 2.24 fails; no rounding either way
    at = score_skills(a, {"test_mean_visible": CellGrade(0.25, 1), "test_mean_hidden": CellGrade(2, 2)})
    assert "summary-statistics" in [c.key for c in earned_credentials(a, at)]
    below = score_skills(a, {"test_mean_visible": CellGrade(0.24, 1), "test_mean_hidden": CellGrade(2, 2)})
    assert "summary-statistics" not in [c.key for c in earned_credentials(a, below)]
    # fractions that are inexact in binary floating point still compare exactly: 0.7 * 10 == 7
    assert Decimal("0.7") * Decimal(10) == Decimal(7)
    # points thresholds: 'both' needs 3 points of summary-statistics and half of edge-cases
    only_hidden = score_skills(a, {"test_mean_visible": CellGrade(0, 1), "test_mean_hidden": CellGrade(2, 2)})
    assert [c.key for c in earned_credentials(a, only_hidden)] == ["edge-cases"]


def test_pending_manual_grades_earn_nothing_yet(tmp_path: Path) -> None:
    a = _assessment_with_shared_cell(tmp_path)
    scores = score_skills(a, {"test_mean_visible": CellGrade(None, 1), "test_mean_hidden": CellGrade(2, 2)})
    assert scores["summary-statistics"].pending and not scores["edge-cases"].pending
    assert [c.key for c in earned_credentials(a, scores)] == ["edge-cases"]


def test_a_missing_grade_is_an_error(tmp_path: Path) -> None:
    a = _assessment_with_shared_cell(tmp_path)
    with pytest.raises(ManifestError, match="no grade for mapped cell"):
        score_skills(a, {"test_mean_visible": CellGrade(1, 1)})


def test_stacks_need_every_component() -> None:
    track = load_track(TRACK)
    stack = track.stacks["data-analyst-python"]
    all_ids = list(track.credential_ids())
    assert set(stack.components) == set(all_ids) and len(all_ids) == 12
    assert earned_stacks(track.stacks.values(), all_ids) == [stack]
    assert earned_stacks(track.stacks.values(), all_ids[1:]) == []
    assert "Python Control Flow and Functions" in stack.criteria


def test_a_broken_track_still_checks_its_valid_assessments_notebooks(tmp_path: Path) -> None:
    track = tmp_path / "track"
    shutil.copytree(TRACK, track, ignore=shutil.ignore_patterns("corpus"))
    (track / "track.toml").write_text((track / "track.toml").read_text().replace('format = 1', 'format = 2'))
    nb = track / "sql-sqlite" / "sql-sqlite.ipynb"
    nb.write_text(nb.read_text().replace('"grade_id": "test_overdue"', '"grade_id": "test_overdue_renamed"'))
    problems = [p for r in validate_path(track) for p in r.problems]
    assert problems == [
        f"{track / 'track.toml'}: format: must be 1",
        (f"{track / 'sql-sqlite' / 'manifest.toml'}: cells.test_overdue: unknown grade_id 'test_overdue': "
         "no such nbgrader cell in sql-sqlite.ipynb"),
    ]


def test_validate_warns_about_tests_the_checker_cannot_judge(tmp_path: Path) -> None:
    folder = tmp_path / "figure"
    shutil.copytree(FIXTURES / "unknown-grade-id", folder)
    (folder / "unknown-grade-id.ipynb").rename(folder / "figure.ipynb")
    text = (folder / "manifest.toml").read_text().replace("unknown-grade-id", "figure")
    (folder / "manifest.toml").write_text(text.replace("test_mean_hiden", "test_mean_hidden"))
    nb = folder / "figure.ipynb"
    defensive = "assert type(result) is float and result == 2.5"
    assert defensive in nb.read_text()
    (report,) = validate_path(folder)
    assert report.problems == [] and report.warnings == []
    # A test that inspects pyplot's current figure: that figure lives in the learner's kernel.
    nb.write_text(nb.read_text().replace(defensive, defensive + "\\n\",\n    \"assert len(plt.gcf().axes) == 1"))
    (report,) = validate_path(folder)
    assert report.problems == []
    assert report.warnings == [
        (f"{nb}: cell 'test_mean_visible': the checker cannot judge this test: it calls plt.gcf(), which reads "
         "pyplot's current figure (that figure lives in the learner's kernel); it will score 0 "
         "(see the README, 'Writing tests the checker can judge')")
    ]
    run = subprocess.run([CREDKIT, "validate", "--strict", str(folder)], capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "credkit: warning: " in run.stderr
