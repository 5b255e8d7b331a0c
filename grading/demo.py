"""``credkit demo``: the whole main job on the shipped track, with embedded defaults.

A course built from the shipped assessments, a cohort of 30 learners drawn from the sample corpus
(perfect, partial and attack submissions), graded in parallel in the sandbox, credentials issued,
delivered and verified, one revoked, a report written. Everything printed is computed in this run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from kit.fileio import write_atomic
from kit.keys import IssuerKey, load_key, save_key
from kit.verify import verify_credential
from kit.wallet_folders import wallet_folder

TRACK = Path(__file__).resolve().parents[1] / "assessments" / "python-data-analysis"
ASSESSMENTS = ["foundations", "numpy-arrays", "pandas-wrangling", "sql-sqlite"]
NAMES = [
    "ada", "ben", "cai", "dee", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lea", "mo", "nia", "oto",
    "pia", "quin", "raj", "sol", "tam", "uma", "vic", "wen", "xia", "yan", "zoe", "mal", "oscar", "trudy", "eve",
]
# The last learners try to cheat on the foundations assessment; the sandbox and the checker stop them.
ATTACKS = {
    "mal": "attack-gradebook-rewrite", "oscar": "attack-read-secrets", "trudy": "attack-eq-always-true",
    "eve": "attack-input-transformer",
}
CELL_TIMEOUT = "10"
# The demo's issuer is bound to the track's (example) domain, as a real course's would be; the demo
# itself verifies offline with the DID document it publishes. Serve DIR/site at that host
# (tools/serve-site.py) and any verifier resolves it (see the README).
DEMO_HOST = "datascience.northbridge.example.edu"
DEMO_ISSUER = f"did:web:{DEMO_HOST}"


def _cohort() -> dict[str, dict[str, str]]:
    """learner -> assessment -> corpus submission; deterministic, so reruns build the same cohort."""
    rng = random.Random(2026)
    cohort: dict[str, dict[str, str]] = {}
    for i, learner in enumerate(NAMES):
        plan = {}
        for assessment in ASSESSMENTS:
            corpus = sorted(p.stem for p in (TRACK / assessment / "corpus").glob("*.ipynb") if not p.stem.startswith("attack-"))
            if i < 6:
                plan[assessment] = "solution"  # the strongest learners complete the whole track
            else:
                plan[assessment] = rng.choice(corpus + ["solution", "solution"])
        if learner in ATTACKS:
            plan["foundations"] = ATTACKS[learner]
        cohort[learner] = plan
    return cohort


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(bin_dir / "credkit"), *args], cwd=cwd, env=env, capture_output=True, text=True)


def _fresh(out: Path) -> IssuerKey:
    """Clear a previous demo (keeping its issuer key, which lives outside the course)."""
    for name in ("course", "wallets", "status", "site", "report", "summary.json"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    key_file = out / "issuer" / "key.json"
    if key_file.exists():
        return load_key(key_file)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.parent.chmod(0o700)
    key = IssuerKey.generate()
    save_key(key, key_file)
    return key


def run_demo(out: Path) -> dict[str, Any]:
    from nbgrader.api import Gradebook

    from .issuing import issue_course
    from .manifest import load_assessment
    from .release import release

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    key = _fresh(out)
    course = out / "course"
    click.echo(f"issuer   {DEMO_ISSUER} (key {key.public_key_multibase} in {out / 'issuer'}, outside the course)")

    for assessment_id in ASSESSMENTS:
        release(TRACK / assessment_id, course)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(
            f"c.Credkit.key_file = {str(out / 'issuer' / 'key.json')!r}\n"
            f"c.Credkit.wallet_root = {str(out / 'wallets')!r}\n"
            f"c.Credkit.status_dir = {str(out / 'status')!r}\n"
            f"c.Credkit.issuer_did = {DEMO_ISSUER!r}\n"
            f"c.Credkit.status_base_url = 'https://{DEMO_HOST}/credentials/demo/status'\n"
            "# The track's notebooks import these: the sandbox's fork server loads them once.\n"
            "c.SandboxedExecute.preload = ['numpy', 'pandas']\n"
        )
    click.echo(f"course   {course} ({len(ASSESSMENTS)} assessments released from {TRACK})")

    cohort = _cohort()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=course.name) as gradebook:
        for i, learner in enumerate(NAMES):
            # a few learners have no e-mail in the gradebook: their credentials name them by id
            gradebook.update_or_create_student(learner, email=None if i % 7 == 3 else f"{learner}@learners.example.edu")
    for learner, plan in cohort.items():
        for assessment_id, submission in plan.items():
            assessment = load_assessment(TRACK / assessment_id)
            dest = course / "submitted" / learner / assessment_id
            shutil.copytree(course / "release" / assessment_id, dest, dirs_exist_ok=True)
            shutil.copy(TRACK / assessment_id / "corpus" / f"{submission}.ipynb", dest / assessment.notebooks[0])
            (dest / "timestamp.txt").write_text("2026-11-29 12:00:00.000000 UTC")
    click.echo(f"cohort   {len(cohort)} learners, {sum(len(p) for p in cohort.values())} submissions "
               f"({len(ATTACKS)} attack submissions among them)")

    failures: list[dict[str, str]] = []
    issued_while_grading = 0
    for assessment_id in ASSESSMENTS:
        click.echo(f"grading  {assessment_id} in the sandbox …")
        graded = _run(["grade", assessment_id, "--course-dir", str(course), "--cell-timeout", CELL_TIMEOUT, "--json"], course)
        if graded.returncode not in (0, 2):
            raise click.ClickException(f"credkit grade {assessment_id} failed: {graded.stderr.strip().splitlines()[-1:]}")
        summary = json.loads(graded.stdout)
        issued_while_grading += int(summary.get("issued", 0))
        click.echo(f"         graded {summary['graded']}, failed {summary['failed']}, "
                   f"issued {summary.get('issued', 0)} credentials right after scoring")
        failures += [{"assessment": assessment_id, **f} for f in summary.get("failures", [])]

    # `credkit issue` over the whole course finds nothing left to issue: issuing is idempotent.
    report = issue_course(course, key)
    click.echo(f"issued   {issued_while_grading} credentials while grading; a later credkit issue "
               f"added {len(report.issued)}")

    # Show revocation: the instructor revokes one of a learner's credentials, as after an
    # academic-integrity review; verifiers with the republished status list see it revoked.
    from kit.issuance import StatusPublisher
    from kit.ledger import Ledger

    from .config import load_course_config

    settings = load_course_config(course)
    with Ledger(settings.ledger_url) as ledger:
        revoked = ledger.credentials(course=settings.course_id, learner=NAMES[6])[0]
        StatusPublisher(key=key, ledger=ledger, status_dir=settings.status_dir, wallet_root=settings.wallet_root).change_state(
            revoked.id, "revoke", "demo: academic-integrity review"
        )

    # The issuer's public site, as `credkit publish` writes it: status lists at their URLs, pages.
    from .publish import publish_site

    site = publish_site(course, out / "site", key)
    click.echo(f"site     {site.site} ({len(site.written)} files to serve at https://{site.host}/)")

    from kit.didweb import did_web_site_path
    from kit.sources import Sources

    lists = {json.loads(p.read_text())["id"]: json.loads(p.read_text()) for p in (out / "status").glob("*.json")}
    did_document = json.loads((site.site / did_web_site_path(DEMO_ISSUER)).read_text())
    rows, awards = [], []
    for learner in NAMES:
        files = sorted(wallet_folder(out / "wallets", learner).glob("*.json"))
        statuses = []
        for path in files:
            document = json.loads(path.read_text())
            result = verify_credential(document, sources=Sources(status_lists=lists, did_documents={DEMO_ISSUER: did_document}))
            statuses.append(result.status)
            awards.append({"learner": learner, "credential": document["credentialSubject"]["achievement"]["id"],
                           "name": document["name"], "id": document["id"], "file": str(path), "status": result.status})
        stacked = any("data-analyst" in a["credential"] for a in awards if a["learner"] == learner)
        rows.append((learner, len(files), "yes" if stacked else "", ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))))

    from rich.console import Console
    from rich.table import Table

    table = Table(title="Credentials in the learners' wallets (verified offline with the published status lists)")
    for column in ("learner", "credentials", "stacked", "verification"):
        table.add_column(column)
    for row in rows:
        table.add_row(row[0], str(row[1]), row[2], row[3] or "-")
    Console().print(table)

    from .report import write_report

    charts = write_report(course, out / "report")
    summary = {
        "issuer": DEMO_ISSUER,
        "learners": NAMES,
        "awards": awards,
        "revoked": [revoked.id],
        "failures": failures,
        "held_back": [list(h) for h in report.held_back],
        "refused_unsandboxed": [list(u) for u in report.unsandboxed],
        "report": [str(c) for c in charts],
        "site": {"folder": str(site.site), "serve_at": f"https://{site.host}/", "files": len(site.written)},
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    verified = sum(1 for a in awards if a["status"] == "verified")
    click.echo(f"stacked  {sum(1 for r in rows if r[2])} learners hold the track's stacked credential")
    click.echo(f"verified {verified} of {len(awards)} credentials; {len(awards) - verified} revoked "
               f"({revoked.name} of {revoked.learner})")
    click.echo(f"report   {out / 'report'} (skills.csv and charts); summary {out / 'summary.json'}")
    click.echo("next     `make lab` opens JupyterLab with the learners' Credentials panel")
    return summary
