"""A credential held back for manual grading, released when graded; a stack completed over time."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook

from grading.awards import stack_awards
from grading.config import load_course_config
from grading.manifest import StackRule
from grading.scaffold import new_assessment
from kit.credentials import Recipient
from kit.keys import IssuerKey, save_key
from tests.assessments.course import BIN, env
from tests.helpers import run_credkit

STACK_ID = "https://example.edu/achievements/stats-track/stack"


def _track(root: Path) -> Path:
    """Two scaffolded assessments in a track with a stack over both; ``a1`` has a manually graded answer."""
    track = root / "stats-track"
    for name in ("a1", "a2"):
        new_assessment(track / name)
        manifest = track / name / "manifest.toml"
        text = manifest.read_text()
        text = re.sub(r"(?ms)^\[issuer\].*?(?=^\[)", "", text)  # the issuer comes from track.toml
        if name == "a1":
            text = text.replace('test_mean_hidden = ["summary-statistics"]', 'test_mean_hidden = ["summary-statistics"]\nexplain = ["summary-statistics"]')
            notebook = nbformat.read(track / name / f"{name}.ipynb", as_version=4)
            notebook.cells.append(new_markdown_cell(
                "Explain in two sentences why your `mean` handles the empty list the way it does.\n\nYOUR ANSWER HERE",
                metadata={"nbgrader": {"grade": True, "solution": True, "locked": False, "grade_id": "explain",
                                       "points": 2, "schema_version": 3, "task": False}}))
            nbformat.write(notebook, track / name / f"{name}.ipynb")
        manifest.write_text(text)
    ids = [f"https://example.edu/achievements/{n}/summary-statistics" for n in ("a1", "a2")]
    (track / "track.toml").write_text(
        'format = 1\n[track]\nid = "stats-track"\ntitle = "Statistics track"\ndescription = "Two small assessments."\n'
        '[issuer]\nname = "Example University"\nurl = "https://example.edu"\nemail = "credentials@example.edu"\n'
        f'[stacks.both]\nid = "{STACK_ID}"\nname = "Summary statistics, twice over"\n'
        'description = "Holds both summary-statistics credentials."\nvalidity_days = 365\n'
        f"components = {json.dumps(ids)}\n"
    )
    validated = run_credkit("validate", str(track))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    return track


def _submit_and_grade(course: Path, track: Path, name: str, learner: str) -> None:
    released = run_credkit("release", str(track / name), "--course", str(course))
    assert released.returncode == 0, released.stderr
    dest = course / "submitted" / learner / name
    shutil.copytree(course / "release" / name, dest, dirs_exist_ok=True)
    shutil.copy(track / name / f"{name}.ipynb", dest / f"{name}.ipynb")  # the reference solution as the answer
    (dest / "timestamp.txt").write_text("2026-11-29 12:00:00.000000 UTC")
    graded = subprocess.run([str(BIN / "credkit"), "grade", name, "--course-dir", str(course), "--cell-timeout", "10", "--no-issue"],
                            cwd=course, env=env(), capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stdout + graded.stderr


def _issue(course: Path) -> dict:
    result = run_credkit("issue", "--course", str(course), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_manual_grading_releases_a_held_award_and_a_stack_completes_across_assessments(tmp_path: Path) -> None:
    track = _track(tmp_path)
    course = tmp_path / "course"
    course.mkdir()
    (tmp_path / "keys").mkdir()
    save_key(IssuerKey.generate(), tmp_path / "keys" / "issuer.json")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'stats'\n"
        f"c.Credkit.key_file = {str(tmp_path / 'keys' / 'issuer.json')!r}\n"
    )
    _submit_and_grade(course, track, "a1", "ada")
    first = _issue(course)
    assert first["issued"] == []
    assert first["held_back_for_manual_grading"] == [
        {"assessment": "a1", "learner": "ada", "credential": "Summary statistics in Python"}]

    # The instructor grades the answer in the formgrader, which writes these two fields.
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="stats") as gradebook:
        grade = gradebook.find_grade("explain", "a1", "a1", "ada")
        grade.manual_score = 2
        grade.needs_manual_grade = False
        gradebook.db.commit()
    second = _issue(course)
    assert [i["credential"] for i in second["issued"]] == ["https://example.edu/achievements/a1/summary-statistics"]

    _submit_and_grade(course, track, "a2", "ada")
    third = _issue(course)
    issued = {i["credential"]: i for i in third["issued"]}
    assert set(issued) == {"https://example.edu/achievements/a2/summary-statistics", STACK_ID}
    stack = json.loads(Path(issued[STACK_ID]["file"]).read_text())
    # OB 3.0: an Evidence id is the URL of a page presenting it. Each component's is the component's
    # achievement page (credkit publish writes one at every achievement id); its narrative names the
    # learner's own component credential, of which nothing per learner is published.
    components = {
        "https://example.edu/achievements/a1/summary-statistics": second["issued"][0]["id"],
        "https://example.edu/achievements/a2/summary-statistics": issued["https://example.edu/achievements/a2/summary-statistics"]["id"],
    }
    assert sorted(e["id"] for e in stack["evidence"]) == sorted(components)
    for item in stack["evidence"]:
        assert item["narrative"] == f"Earned as the credential {components[item['id']]}.", item
    wallet = load_course_config(course).wallet_root / "ada"
    for document in (json.loads(p.read_text()) for p in wallet.glob("*.json")):
        assert document["evidence"] and all(not e.get("id", "").startswith("urn:") for e in document["evidence"]), document["evidence"]
        if document["id"] != stack["id"]:  # a micro-credential's assessment evidence: no id at all (privacy)
            assert all("id" not in e for e in document["evidence"]), document["evidence"]
    assert stack["credentialSubject"]["achievement"]["achievementType"] == "Certificate"
    assert _issue(course)["issued"] == []
    assert len(list(wallet.glob("*.json"))) == 3


def test_a_stack_over_a_urn_achievement_gives_that_component_no_evidence_id(tmp_path: Path) -> None:
    """An Evidence id is a URL; a component whose achievement id is a urn: has no page, so no evidence id."""
    url, urn = "https://example.edu/achievements/a1/summary-statistics", "urn:example:achievements:a2"
    stack = StackRule(key="both", id=STACK_ID, name="Both", description="Both.", components=(url, urn), criteria="Holds both.")
    held = {"ada": {url: ("urn:uuid:00000000-0000-4000-8000-000000000001", "One"), urn: ("urn:uuid:00000000-0000-4000-8000-000000000002", "Two")}}
    [request] = stack_awards("stats", [stack], held, {"ada": Recipient("ada@example.edu")}, tmp_path)
    evidence = [e.to_json() for e in request.award.evidence]
    assert [e.get("id") for e in evidence] == [url, None]
    assert [e["narrative"] for e in evidence] == [f"Earned as the credential {held['ada'][c][0]}." for c in (url, urn)]
