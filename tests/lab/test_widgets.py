"""The notebook widgets: skill progress through nbgrader's validation, and credential cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credkit_jupyter.widgets import CredentialCard, SkillMap, SkillProgress, run_visible_tests, wallet_cards
from kit.artwork import badge_png
from kit.baking import bake_png
from kit.errors import ManifestError
from tests.lab.assessment import write_assessment
from tests.lab.conftest import Wallets


def test_visible_tests_scored_by_nbgrader_per_skill(tmp_path: Path) -> None:
    notebook = write_assessment(tmp_path / "ps1")
    assert run_visible_tests(notebook) == {"test_add": (2.0, 2.0), "test_mean": (0.0, 3.0)}
    progress = SkillProgress(notebook)
    results = {r.id: r for r in progress.check()}
    assert results["add"].passed == ["test_add"] and results["add"].failed == []
    assert results["mean"].failed == ["test_mean"] and results["mean"].fraction == 0
    html = progress.view.value
    assert 'class="credkit-skill credkit-skill-pass" data-skill="add"' in html
    assert 'class="credkit-skill credkit-skill-fail" data-skill="mean"' in html
    assert html.count('data-on-track="true"') == 1 and html.count('data-on-track="false"') == 1
    assert "hidden tests" in html


def test_fixing_the_answer_turns_the_skill_green(tmp_path: Path) -> None:
    notebook = write_assessment(tmp_path / "ps1")
    text = notebook.read_text().replace("return sum(xs)  # forgot to divide", "return sum(xs) / len(xs)")
    notebook.write_text(text)
    results = {r.id: r for r in SkillProgress(notebook).check()}
    assert results["mean"].passed == ["test_mean"]


def test_skill_map_errors_are_one_clear_line(tmp_path: Path) -> None:
    notebook = write_assessment(tmp_path / "ps1")
    (tmp_path / "ps1" / "credkit-skills.json").write_text('{"skills": [{"id": "a", "tests": []}], "credentials": [{"skills": {"b": 1}}]}')
    with pytest.raises(ManifestError, match="unknown skill 'b'"):
        SkillMap.load(tmp_path / "ps1" / "credkit-skills.json")
    progress = SkillProgress(notebook)
    assert progress.check() == []
    assert "unknown skill" in progress.view.value


def test_credential_cards_verify_json_and_baked_badges(wallets: Wallets, tmp_path: Path) -> None:
    ada = wallets.root / "ada"
    good = CredentialCard(ada / f"{wallets.ids['good']}.json")
    assert good.report["status"] == "verified"
    assert "pandas data wrangling" in good.value and 'data-status="verified"' in good.value
    tampered = CredentialCard(ada / f"{wallets.ids['tampered']}.json")
    assert tampered.report["status"] == "invalid" and "proof" in tampered.value
    baked = tmp_path / "badge.png"
    baked.write_bytes(bake_png(badge_png("x", []), (ada / f"{wallets.ids['good']}.json").read_text()))
    assert CredentialCard(baked).report["status"] == "verified"
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    assert CredentialCard(broken).report["status"] == "invalid"
    box = wallet_cards(ada)
    statuses = sorted(card.report["status"] for card in box.children)
    # bob's copy verifies (it is genuine); the revoked and suspended ones read the wallet's status lists
    assert statuses == ["expired", "invalid", "revoked", "suspended", "verified", "verified", "verified", "verified"]
    assert json.loads((ada / f"{wallets.ids['good']}.json").read_text())["id"].startswith("urn:uuid:")


def test_skill_progress_on_a_released_shipped_assessment(tmp_path: Path) -> None:
    """credkit release's own skill map and released notebook; the learner's work misses one skill."""
    import shutil

    from grading.manifest import load_assessment
    from tests.assessments.course import make_course

    assessment = load_assessment(Path(__file__).resolve().parents[2] / "assessments" / "python-data-analysis" / "foundations")
    course = make_course(tmp_path, assessment)
    learner_copy = tmp_path / "ada" / assessment.id
    shutil.copytree(course / "release" / assessment.id, learner_copy)
    released_map = json.loads((learner_copy / "credkit-skills.json").read_text())
    assert released_map["format"] == 1  # the map release writes, not a hand-made one
    notebook = learner_copy / assessment.notebooks[0]

    # words not lower-cased: the visible word-count test ("Rain, rain; ...") catches it
    shutil.copy(assessment.folder / "corpus" / "partial-collections.ipynb", notebook)
    progress = SkillProgress(notebook)
    results = {r.id: r for r in progress.check()}
    assert set(results) == {"control-flow", "collections", "data-files"}
    assert "test_word_counts" in results["collections"].failed
    assert not results["control-flow"].failed and not results["data-files"].failed
    html = progress.view.value
    assert 'data-skill="collections"' in html and "credkit-skill-fail" in html
    assert html.count('data-on-track="true"') == 2 and html.count('data-on-track="false"') == 1

    # wrong only at the boundaries, which only hidden tests probe: the visible tests all pass, the
    # widget says grading runs more, and nothing of the hidden tests shows
    shutil.copy(assessment.folder / "corpus" / "partial-control-flow.ipynb", notebook)
    progress = SkillProgress(notebook)
    results = {r.id: r for r in progress.check()}
    assert all(not r.failed and r.earned == r.possible > 0 for r in results.values())
    assert "hidden tests" in progress.view.value and "4.99" not in progress.view.value

    untouched = tmp_path / "blank"
    shutil.copytree(course / "release" / assessment.id, untouched)
    blank = {r.id: r for r in SkillProgress(untouched / assessment.notebooks[0]).check()}
    assert all(r.failed and r.earned == 0 for r in blank.values())
