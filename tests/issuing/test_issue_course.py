"""The grading hook end to end on a shipped assessment: sandboxed grades → credentials → wallets.

Real nbgrader, real kernels in the sandbox, the foundations corpus and its hand-written oracle.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from grading.config import load_course_config
from grading.manifest import load_assessment
from kit.keys import IssuerKey, save_key
from kit.verify import verify_credential
from tests.assessments.course import BIN, autograde, env, make_course, submit
from tests.helpers import run_credkit
from tests.interop_helpers import node_verify

ROOT = Path(__file__).resolve().parents[2]
FOUNDATIONS = ROOT / "assessments" / "python-data-analysis" / "foundations"
# learner -> (corpus submission, e-mail or None)
LEARNERS = {
    "ada": ("solution", "Ada.Lovelace@example.edu"),
    "ben": ("partial-control-flow", "ben@example.edu"),
    "cai": ("partial-collections", None),
    "dee": ("partial-data-files", "dee@example.edu"),
    "eve": ("blank", "eve@example.edu"),
    "mal": ("attack-gradebook-rewrite", "mal@example.edu"),
}


def _course(tmp_path: Path, learners: dict[str, tuple[str, str | None]]) -> tuple[Path, IssuerKey]:
    assessment = load_assessment(FOUNDATIONS)
    course = make_course(tmp_path, assessment)
    instructor = tmp_path / "instructor"
    instructor.mkdir()
    key = IssuerKey.generate()
    save_key(key, instructor / "issuer.json")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"c.Credkit.key_file = {str(instructor / 'issuer.json')!r}\n")
        config.write("c.Credkit.status_base_url = 'https://datascience.northbridge.example.edu/status/ds101'\n")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for learner, (_, email) in learners.items():
            gradebook.update_or_create_student(learner, email=email)
    for learner, (name, _) in learners.items():
        submit(course, assessment, learner, FOUNDATIONS / "corpus" / f"{name}.ipynb")
    return course, key


def _grade(course: Path, *options: str) -> dict:
    """``credkit grade``, by default without its issuing step, so ``credkit issue`` is what is tested."""
    options = options or ("--no-issue",)
    result = subprocess.run([str(BIN / "credkit"), "grade", "foundations", "--course-dir", str(course), "--cell-timeout", "10", "--json", *options],
                            cwd=course, env=env(), capture_output=True, text=True, timeout=900)
    assert result.returncode in (0, 2), result.stderr
    return json.loads(result.stdout)


def _held(course: Path) -> dict[str, set[str]]:
    settings = load_course_config(course)
    held: dict[str, set[str]] = {}
    for path in sorted(settings.wallet_root.glob("*/*.json")):
        held.setdefault(path.parent.name, set()).add(json.loads(path.read_text())["credentialSubject"]["achievement"]["id"])
    return held


def _expected(learners: dict[str, tuple[str, str | None]]) -> dict[str, set[str]]:
    oracle = tomllib.loads((FOUNDATIONS / "corpus" / "oracle.toml").read_text())["submissions"]
    assessment = load_assessment(FOUNDATIONS)
    out = {}
    for learner, (name, _) in learners.items():
        ids = {assessment.credentials[key].id for key in oracle[name]["credentials"]}
        if ids:
            out[learner] = ids
    return out


def test_sandboxed_grades_become_the_oracles_credentials(tmp_path: Path) -> None:
    course, key = _course(tmp_path, LEARNERS)
    _grade(course)
    first = run_credkit("issue", "--course", str(course), "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["refused_unsandboxed"] == []
    assert _held(course) == _expected(LEARNERS)

    settings = load_course_config(course)
    lists = {json.loads(p.read_text())["id"]: json.loads(p.read_text()) for p in settings.status_dir.glob("*.json")}
    files = sorted(settings.wallet_root.glob("*/*.json"))
    for path in files:
        document = json.loads(path.read_text())
        assert document["issuer"]["id"] == key.did
        assert verify_credential(document, status_lists=lists).verified, path
    ada = next(p for p in files if p.parent.name == "ada")
    assert verify_credential(json.loads(ada.read_text()), status_lists=lists, recipient="ada.lovelace@example.edu").verified
    cai = json.loads(next(p for p in files if p.parent.name == "cai").read_text())
    assert cai["credentialSubject"]["identifier"][0]["identityType"] == "systemId"
    list_files = {url: next(settings.status_dir.glob(url.rsplit("/", 1)[1] + ".json")) for url in lists}
    assert all(r["verified"] for r in node_verify(*files, status_lists=list_files))

    again = json.loads(run_credkit("issue", "--course", str(course), "--json").stdout)
    assert again["issued"] == [] and again["already_issued"] == len(files)
    assert sorted(settings.wallet_root.glob("*/*.json")) == files

    # the issuer's public site: status lists at their URLs' paths, the profile, one page per achievement
    site = tmp_path / "site"
    published = run_credkit("publish", "--course", str(course), "--out", str(site))
    assert published.returncode == 0, published.stderr
    assert "https://datascience.northbridge.example.edu/" in published.stdout
    for url in lists:
        served = json.loads((site / url.removeprefix("https://datascience.northbridge.example.edu/")).read_text())
        assert served["id"] == url and served["issuer"] == key.did
    profile = json.loads((site / "issuer.json").read_text())
    assert profile["id"] == key.did and profile["name"] == load_assessment(FOUNDATIONS).issuer.name
    for achievement in {i for ids in _expected(LEARNERS).values() for i in ids}:
        page = site / achievement.removeprefix("https://datascience.northbridge.example.edu/") / "index.html"
        assert achievement in page.read_text()
    assert not (site / ".well-known").exists()  # a did:key course has no DID document to publish
    # a learner without an e-mail is the recipient by id
    cai_file = next(p for p in files if p.parent.name == "cai")
    list_args = [a for url, path in list_files.items() for a in ("--status-list", f"{url}={path}")]
    by_id = run_credkit("verify", "--offline", "--recipient", "cai", *list_args, str(cai_file))
    assert by_id.returncode == 0 and "issued to cai" in by_id.stdout and "identity not bound to any domain" in by_id.stdout

    report = run_credkit("report", "--course", str(course), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader((tmp_path / "report" / "skills.csv").read_text().splitlines()))
    assert len(rows) == len(LEARNERS) * 3
    passed = {(r["learner"], r["skill"]): r["passed"] for r in rows}
    assert passed[("ben", "control-flow")] == "no" and passed[("ben", "collections")] == "yes"
    assert passed[("ada", "data-files")] == "yes" and passed[("eve", "data-files")] == "no"
    for chart in ("skill-pass-rates.png", "score-distributions.png", "credentials-issued.png"):
        assert (tmp_path / "report" / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_credkit_grade_issues_right_after_scoring(tmp_path: Path) -> None:
    learners = {"ada": LEARNERS["ada"], "ben": LEARNERS["ben"]}
    course, _ = _course(tmp_path, learners)
    summary = _grade(course, "--issue")
    assert summary["issued"] == 5 and summary["held_back"] == 0
    assert summary["skills"]["control-flow"] == {"passed": 1, "learners": 2, "rate": 0.5}
    assert "credkit report --course" in summary["report_hint"]
    assert _held(course) == _expected(learners)
    assert json.loads(run_credkit("issue", "--course", str(course), "--json").stdout)["issued"] == []


def test_grades_from_stock_nbgrader_are_refused_unless_unsafe(tmp_path: Path) -> None:
    learners = {"ada": LEARNERS["ada"]}
    course, _ = _course(tmp_path, learners)
    assert autograde(course, load_assessment(FOUNDATIONS)).returncode == 0
    refused = run_credkit("issue", "--course", str(course), "--json")
    assert refused.returncode == 1, refused.stderr  # nothing could be issued: the exit status says so
    report = json.loads(refused.stdout)
    assert report["issued"] == [] and report["refused_unsandboxed"] == [{"assessment": "foundations", "learner": "ada"}]
    unsafe = run_credkit("issue", "--course", str(course), "--unsafe-issue-unsandboxed-grades", "--json")
    assert len(json.loads(unsafe.stdout)["issued"]) == 3
    assert "UNSAFE" in unsafe.stderr


def test_a_regrade_below_threshold_is_reported_not_revoked(tmp_path: Path) -> None:
    learners = {"ada": LEARNERS["ada"]}
    course, _ = _course(tmp_path, learners)
    _grade(course)
    assert len(json.loads(run_credkit("issue", "--course", str(course), "--json").stdout)["issued"]) == 3
    shutil.copy(FOUNDATIONS / "corpus" / "partial-collections.ipynb", course / "submitted" / "ada" / "foundations" / "foundations.ipynb")
    result = subprocess.run([str(BIN / "credkit"), "grade", "foundations", "--course-dir", str(course), "--force", "--cell-timeout", "10", "--no-issue"],
                            cwd=course, env=env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    rerun = run_credkit("issue", "--course", str(course))
    assert "ada no longer meets Python Lists, Dictionaries and Comprehensions" in rerun.stderr
    assert "issued 0 credential(s)" in rerun.stdout
    assert len(_held(course)["ada"]) == 3  # nothing revoked without the instructor asking


def _text_of_html(path: Path) -> str:
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", path.read_text())).split())


def _hidden_lines() -> list[str]:
    import nbformat

    source = nbformat.read(FOUNDATIONS / "foundations.ipynb", as_version=4)
    lines, elsewhere = [], set()
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line or "END HIDDEN TESTS" in line:
                inside = "BEGIN HIDDEN TESTS" in line
            elif inside:
                if len(line.strip()) > 12:
                    lines.append(" ".join(line.split()))
            else:
                elsewhere.add(" ".join(line.split()))
    # Only lines that exist nowhere but in hidden tests prove a leak.
    unique = [line for line in lines if line not in elsewhere]
    assert len(unique) >= 5, "the shipped assessment has hidden tests"
    return unique


def test_feedback_has_a_skill_section_and_no_hidden_tests(tmp_path: Path) -> None:
    learners = {"ada": LEARNERS["ada"], "ben": LEARNERS["ben"]}
    course, _ = _course(tmp_path, learners)
    _grade(course)
    stock = subprocess.run(
        [str(BIN / "nbgrader"), "generate_feedback", "foundations", "--force",
         "--GenerateFeedback.preprocessors=['nbgrader.preprocessors.GetGrades','nbconvert.preprocessors.CSSHTMLHeaderPreprocessor']"],
        cwd=course, env=env(), capture_output=True, text=True, timeout=300)
    assert stock.returncode == 0, stock.stderr
    hidden = _hidden_lines()
    stock_text = _text_of_html(course / "feedback" / "ben" / "foundations" / "foundations.html")
    assert any(line in stock_text for line in hidden), "stock nbgrader shows hidden tests in feedback"

    ours = subprocess.run([str(BIN / "nbgrader"), "generate_feedback", "foundations", "--force"],
                          cwd=course, env=env(), capture_output=True, text=True, timeout=300)
    assert ours.returncode == 0, ours.stderr
    for learner in learners:
        text = _text_of_html(course / "feedback" / learner / "foundations" / "foundations.html")
        assert not [line for line in hidden if line in text], learner
        assert "Skills and credentials" in text
    ben = _text_of_html(course / "feedback" / "ben" / "foundations" / "foundations.html")
    assert "Python Control Flow and Functions: not yet — Control flow and functions in Python: 0%, 75% needed." in ben
    assert "Python Lists, Dictionaries and Comprehensions: earned" in ben
