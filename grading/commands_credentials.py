"""``credkit credentials list|show``: find the credentials a course issued (for revoke, suspend, support)."""

from __future__ import annotations

import json
from typing import Any

import click

from kit.errors import CredkitError
from kit.ledger import STATES, IssuedRecord, Ledger


def _assessment(record: IssuedRecord) -> str:
    grades = record.grades if isinstance(record.grades, dict) else {}
    return str(grades.get("assessment") or ("(stack)" if "stack" in grades else ""))


def _summary(record: IssuedRecord, wallet_root: Any) -> dict[str, Any]:
    from kit.issuance import wallet_file

    return {
        "id": record.id, "state": record.state, "learner": record.learner, "assessment": _assessment(record),
        "achievement": record.achievement_id, "name": record.name, "issued": record.issued_at.isoformat(timespec="seconds"),
        "status_list": record.status_list, "status_index": record.status_index,
        "wallet_file": str(wallet_file(wallet_root, record.learner, record.id)),
    }


@click.group("credentials")
def credentials() -> None:
    """List and show the credentials a course issued."""


@credentials.command("list")
@click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder.")
@click.option("--learner", default=None, help="Only this learner's credentials.")
@click.option("--assessment", default=None, help="Only credentials from this assessment.")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only credentials in this state.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
def list_credentials(course: str, learner: str | None, assessment: str | None, state: str | None, as_json: bool) -> None:
    """One line per credential: id, state, learner, assessment, name."""
    from .config import load_course_config

    settings = load_course_config(course)
    with Ledger(settings.ledger_url) as ledger:
        records = ledger.credentials(course=settings.course_id, learner=learner)
    rows = [_summary(r, settings.wallet_root) for r in records
            if (state is None or r.state == state) and (assessment is None or _assessment(r) == assessment)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['state']:<9}  {row['learner']}  {row['assessment']}  {row['name']}")
    click.echo(f"{len(rows)} credential(s)", err=True)


@credentials.command("show")
@click.argument("credential_id")
@click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder.")
@click.option("--json", "as_json", is_flag=True, help="The ledger row, its status changes and the signed credential as JSON.")
def show_credential(credential_id: str, course: str, as_json: bool) -> None:
    """One credential: who, what, when, its status slot and changes, the grades it came from."""
    from .commands_status import credential_urn
    from .config import load_course_config

    settings = load_course_config(course)
    with Ledger(settings.ledger_url) as ledger:
        record = ledger.get(credential_urn(credential_id))
        events = ledger.events(record.id)
    out = _summary(record, settings.wallet_root)
    out["changes"] = [{"action": a, "reason": r, "at": at.isoformat(timespec="seconds")} for a, r, at in events]
    out["grades"] = record.grades
    if as_json:
        try:
            out["credential"] = json.loads(record.document)
        except ValueError:
            raise CredkitError(f"{settings.ledger_url}: credential {record.id}: the stored document is not JSON") from None
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for key in ("id", "state", "learner", "assessment", "name", "achievement", "issued", "status_list", "status_index", "wallet_file"):
        click.echo(f"{key + ':':<14}{out[key]}")
    for change in out["changes"]:
        click.echo(f"{'change:':<14}{change['at']} {change['action']}: {change['reason']}")
