"""``credkit demo``: issue, deliver and verify a skill credential end to end with embedded defaults.

It grows into the whole grading pipeline; today it runs the credential core on one sample award.
Everything it prints is computed here, in this run.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from kit.credentials import Achievement, Alignment, Award, Evidence, IssuerProfile, Recipient, SkillResult, build_credential
from kit.fileio import write_atomic
from kit.keys import IssuerKey, load_key, save_key
from kit.proofs import sign
from kit.verify import verify_credential

SAMPLE_ISSUER = IssuerProfile(
    name="credkit demo university",
    url="https://credkit.example.edu",
    email="credentials@credkit.example.edu",
)
SAMPLE_LEARNER = ("ada", "ada.lovelace@example.edu")


def _issuer_key(out: Path) -> IssuerKey:
    """The demo's issuer key: generated once, kept outside the course folder, reused on reruns."""
    key_file = out / "issuer" / "key.json"
    if key_file.exists():
        return load_key(key_file)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.parent.chmod(0o700)
    key = IssuerKey.generate()
    save_key(key, key_file)
    return key


def run_demo(out: Path) -> dict[str, object]:
    """Issue one credential to the sample learner, deliver it to their wallet, verify it, summarize."""
    out.mkdir(parents=True, exist_ok=True)
    key = _issuer_key(out)
    learner, email = SAMPLE_LEARNER
    now = datetime.now(timezone.utc)
    skill = SkillResult(
        skill_id="python-functions",
        name="Write Python functions",
        earned=9,
        possible=10,
        required=8,
        alignments=(
            Alignment(
                target_name="Python (computer programming)",
                target_url="http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
                target_framework="ESCO",
                target_type="ext:ESCOSkill",
            ),
        ),
    )
    award = Award(
        achievement=Achievement(
            id="https://credkit.example.edu/credentials/python-functions",
            name="Python functions",
            description="Writes correct, tested Python functions for small data tasks.",
            criteria="Earn at least 8 of 10 points on the graded function tests of the Python foundations assessment.",
        ),
        recipient=Recipient(email),
        skills=(skill,),
        valid_from=now,
        valid_until=now + timedelta(days=3 * 365),
        evidence=(Evidence(name="Python foundations assessment", description="Autograded nbgrader submission"),),
    )
    credential = sign(build_credential(award, SAMPLE_ISSUER, key.did), key)
    wallet = out / "wallets" / learner
    wallet.mkdir(parents=True, exist_ok=True)
    path = wallet / f"{award.credential_id.removeprefix('urn:uuid:')}.json"
    write_atomic(path, json.dumps(credential, indent=2, ensure_ascii=False) + "\n")

    report = verify_credential(json.loads(path.read_text()), source=str(path), recipient=email)
    summary = {
        "issuer": key.did,
        "learners": [learner],
        "awards": [{"learner": learner, "credential": award.achievement.id, "id": award.credential_id, "file": str(path), "status": report.status}],
        "failures": [] if report.verified else [{"learner": learner, "reason": report.first_failure.message if report.first_failure else report.status}],
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    click.echo(f"issuer   {key.did}")
    click.echo(f"learner  {learner} <{email}>")
    click.echo(f"awarded  {award.achievement.name}: {skill.name} {skill.earned:g}/{skill.possible:g} (needs {skill.required:g})")
    click.echo(f"wallet   {path}")
    for check in report.checks:
        mark = "ok " if check.passed else ("n/a" if check.passed is None else "FAIL")
        click.echo(f"  {mark} {check.name:<9} {check.message}")
    click.echo(f"status   {report.status}")
    click.echo(f"verify it yourself: .venv/bin/credkit verify {path} --recipient {email}")
    if not report.verified:
        raise SystemExit(1)
    return summary
