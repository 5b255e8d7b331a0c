"""A stacked credential follows its components: revoked or suspended with one, lifted when all are active again."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kit.credentials import Achievement, Award, Evidence, IssuerProfile, Recipient
from kit.issuance import AwardRequest, CredentialIssuer
from kit.keys import IssuerKey, save_key
from kit.ledger import Ledger
from tests.helpers import SAMPLE_ISSUER_ARGS, run_credkit, sample_award

BASE = "https://credentials.example.edu"


def _course(tmp_path: Path, purpose: str) -> tuple[Path, dict[str, dict[str, Any]]]:
    """A course with two component credentials and a stack over them for one learner (and one component for another)."""
    root, instructor = tmp_path / "course", tmp_path / "instructor"
    root.mkdir()
    instructor.mkdir()
    key = IssuerKey.generate()
    save_key(key, instructor / "issuer.json")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'ds101'\n"
        f"c.Credkit.key_file = {str(instructor / 'issuer.json')!r}\n"
        f"c.Credkit.status_base_url = '{BASE}/ds101/status'\n"
        f"c.Credkit.status_purpose = {purpose!r}\n"
    )
    from grading.config import load_course_config

    settings = load_course_config(root)
    components = [
        Achievement(id=f"{BASE}/achievements/{name}", name=name, description=f"{name} skills.", criteria="80%.") for name in ("numpy", "pandas")
    ]
    recipient = Recipient("ada@example.edu")
    requests = [AwardRequest(award_key=f"ds101/{who}/{a.name}", course="ds101", learner=who, award=sample_award(achievement=a, recipient=recipient))
                for who in ("ada", "bob") for a in components]
    issued: dict[str, dict[str, Any]] = {}
    with Ledger(settings.ledger_url) as ledger:
        issuer = CredentialIssuer(
            key=key, profile=IssuerProfile(**SAMPLE_ISSUER_ARGS), ledger=ledger,  # type: ignore[arg-type]
            wallet_root=settings.wallet_root, status_dir=settings.status_dir,
            status_base_url=settings.status_base_url("unused"), status_purpose=purpose,
        )
        for item in issuer.issue(requests).issued:
            issued[f"{item.learner}/{item.name}"] = {"id": item.id, "path": item.path}
        held = {a.id: issued[f"ada/{a.name}"]["id"] for a in components}
        stack = Award(
            achievement=Achievement(id=f"{BASE}/achievements/analyst", name="Data Analyst", description="Both.", criteria="Holds both."),
            recipient=recipient, skills=(), valid_from=datetime.now(timezone.utc),
            evidence=tuple(Evidence(name=a.name, id=held[a.id], genre="Credential") for a in components),
        )
        request = AwardRequest(award_key="ds101/ada/analyst", course="ds101", learner="ada", award=stack,
                               grades={"stack": stack.achievement.id, "components": held})
        [item] = issuer.issue([request]).issued
        issued["ada/analyst"] = {"id": item.id, "path": item.path}
        issuer.publish_status_lists()  # the signed status lists, as credkit issue writes them
    return root, issued


def _states(root: Path) -> dict[str, str]:
    from grading.config import load_course_config

    with Ledger(load_course_config(root).ledger_url) as ledger:
        return {f"{r.learner}/{r.name}": r.state for r in ledger.credentials(course="ds101")}


def _verify_offline(root: Path, path: Path) -> Any:
    from grading.config import load_course_config

    lists = [a for f in sorted(load_course_config(root).status_dir.glob("*.json"))
             for a in ("--status-list", f"{json.loads(f.read_text())['id']}={f}")]
    return run_credkit("verify", "--offline", *lists, str(path))


def test_revoking_a_component_revokes_the_stack_built_on_it(tmp_path: Path) -> None:
    root, issued = _course(tmp_path, "revocation")
    assert _verify_offline(root, issued["ada/analyst"]["path"]).returncode == 0
    result = run_credkit("revoke", issued["ada/numpy"]["id"], "--reason", "copied work", "--course", str(root), "--yes")
    assert result.returncode == 0, result.stderr
    assert f"also revoked: {issued['ada/analyst']['id']} (Data Analyst), a stacked credential built on it" in result.stdout
    assert _states(root) == {"ada/numpy": "revoked", "ada/pandas": "active", "ada/Data Analyst": "revoked", "bob/numpy": "active", "bob/pandas": "active"}
    from grading.config import load_course_config

    with Ledger(load_course_config(root).ledger_url) as ledger:
        reasons = [reason for action, reason, _at in ledger.events(issued["ada/analyst"]["id"]) if action == "revoke"]
    assert reasons == [f"its component numpy ({issued['ada/numpy']['id']}) was revoked: copied work"]
    stack = _verify_offline(root, issued["ada/analyst"]["path"])
    assert stack.returncode == 1 and "revoked" in stack.stdout.splitlines()[0]


def test_suspension_follows_components_and_is_lifted_when_all_are_active(tmp_path: Path) -> None:
    root, issued = _course(tmp_path, "suspension")
    for component in ("ada/numpy", "ada/pandas"):
        result = run_credkit("suspend", issued[component]["id"], "--reason", "under review", "--course", str(root), "--yes")
        assert result.returncode == 0, result.stderr
    assert _states(root)["ada/Data Analyst"] == "suspended"
    one = run_credkit("unsuspend", issued["ada/numpy"]["id"], "--reason", "cleared", "--course", str(root), "--yes")
    assert one.returncode == 0 and f"still suspended: {issued['ada/analyst']['id']} (Data Analyst)" in one.stdout, one.stdout
    assert _states(root)["ada/Data Analyst"] == "suspended"
    both = run_credkit("unsuspend", issued["ada/pandas"]["id"], "--reason", "cleared", "--course", str(root), "--yes")
    assert both.returncode == 0 and "also unsuspended" in both.stdout, both.stdout
    assert _states(root) == {"ada/numpy": "active", "ada/pandas": "active", "ada/Data Analyst": "active", "bob/numpy": "active", "bob/pandas": "active"}
    assert _verify_offline(root, issued["ada/analyst"]["path"]).returncode == 0
