"""`credkit report` passes a skill by the manifest's own rule, the one awarding uses (fractions and points)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from grading.config import load_course_config
from kit.wallet_folders import wallet_folder
from tests.assessments.course import BIN, env
from tests.issuing.tiny_course import ADDING, DOUBLING, HALF, RIGHT, WRONG, earned, submit, tiny_course

LEARNERS = {"ada": RIGHT, "ben": HALF, "eve": WRONG}
SKILL_OF = {ADDING: "adding", DOUBLING: "doubling"}


@pytest.mark.parametrize("points", [True, False], ids=["points-thresholds", "fraction-thresholds"])
def test_report_passes_exactly_the_skills_whose_credentials_were_earned(tmp_path: Path, points: bool) -> None:
    course, _ = tiny_course(tmp_path, points_thresholds=points)
    for learner, code in LEARNERS.items():
        submit(course, learner, code)
    graded = subprocess.run([str(BIN / "credkit"), "grade", "tiny", "--course-dir", str(course), "--cell-timeout", "5", "--json"],
                            env=env(), capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0, graded.stderr
    out = tmp_path / "report"
    made = subprocess.run([str(BIN / "credkit"), "report", "--course", str(course), "--out", str(out)],
                          env=env(), capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    with open(out / "skills.csv", newline="") as file:
        passed = {(row["learner"], row["skill"]) for row in csv.DictReader(file) if row["passed"] == "yes"}
    # the oracle: what each submission was written to earn, one skill per credential
    assert passed == {(l, SKILL_OF[a]) for l, code in LEARNERS.items() for a in earned(code)}
    # and the credentials actually delivered agree with the report
    wallets = load_course_config(course).wallet_root
    held = {(l, SKILL_OF[json.loads(p.read_text())["credentialSubject"]["achievement"]["id"]])
            for l in LEARNERS for p in wallet_folder(wallets, l).glob("*.json")}
    assert held == passed
