"""``credkit revoke`` / ``suspend`` / ``unsuspend``: change a credential's status and republish.

A stacked credential follows its components: revoking (or suspending) a component revokes (or
suspends) every stacked credential of that learner built on it, with a reason naming the component;
unsuspending it lifts a stack's suspension once none of its components is suspended or revoked.
"""

from __future__ import annotations

import click

from grading.config import load_course_config
from kit.errors import CredkitError
from kit.issuance import StatusPublisher
from kit.ledger import IssuedRecord, Ledger

_PAST = {"revoke": "revoked", "suspend": "suspended", "unsuspend": "unsuspended"}


def _stacks_on(ledger: Ledger, record: IssuedRecord) -> list[IssuedRecord]:
    """The learner's stacked credentials whose components include ``record``."""
    out = []
    for stack in ledger.credentials(course=record.course, learner=record.learner):
        components = stack.grades.get("components") if isinstance(stack.grades, dict) else None
        if isinstance(components, dict) and record.id in components.values():
            out.append(stack)
    return out


def _cascade(ledger: Ledger, publisher: StatusPublisher, record: IssuedRecord, action: str, reason: str) -> list[str]:
    """Apply ``action`` to the stacks built on ``record``; one line per stack, saying what happened."""
    lines = []
    for stack in _stacks_on(ledger, record):
        if stack.state == "revoked" or (action == "suspend" and stack.state == "suspended") or (action == "unsuspend" and stack.state != "suspended"):
            continue
        if action == "unsuspend":
            held_back = [c for c in stack.grades["components"].values() if c != record.id and ledger.get(c).state != "active"]
            if held_back:
                lines.append(f"still suspended: {stack.id} ({stack.name}): its component {held_back[0]} is not active")
                continue
        why = reason if action == "unsuspend" else f"its component {record.name} ({record.id}) was {_PAST[action]}: {reason}"
        try:
            changed = publisher.change_state(stack.id, action, why)
        except CredkitError as exc:
            lines.append(f"not {_PAST[action]}: {stack.id} ({stack.name}), a stacked credential built on it: {exc.diagnostics()}")
            continue
        lines.append(f"also {_PAST[action]}: {changed.id} ({changed.name}), a stacked credential built on it")
    return lines


def _change(action: str, credential_id: str, reason: str, course: str) -> None:
    from kit.commands import load_signing_key

    settings = load_course_config(course)
    settings.check_key_outside_course()
    key = load_signing_key(str(settings.key_file))
    with Ledger(settings.ledger_url) as ledger:
        publisher = StatusPublisher(
            key=key, ledger=ledger, status_dir=settings.status_dir, wallet_root=settings.wallet_root,
            cryptosuite=settings.credkit.cryptosuite, issuer_did=settings.issuer_did,
        )
        if not credential_id.startswith("urn:uuid:"):
            credential_id = f"urn:uuid:{credential_id}"
        record = publisher.change_state(credential_id, action, reason)
        stacked = _cascade(ledger, publisher, record, action, reason)
    click.echo(f"{record.id} ({record.name}, learner {record.learner}): now {record.state}; status lists republished to {settings.status_dir}")
    for line in stacked:
        click.echo(line)
    name = record.status_list.rsplit("/", 1)[1]
    click.echo(
        f"republish: verifiers see this once {record.status_list} (and {record.status_list}.notices.json, the date and "
        f"reason) are updated on your site: run credkit publish --course {settings.course_root} --out SITE and upload "
        f"SITE, or copy {settings.status_dir / (name + '.json')} to that URL"
    )


def _command(action: str, summary: str) -> click.Command:
    @click.command(action, help=summary)
    @click.argument("credential_id")
    @click.option("--reason", required=True, help="Why; kept in the ledger and published by credkit publish next to the status list, where verifiers show it to employers.")
    @click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder.")
    def command(credential_id: str, reason: str, course: str) -> None:
        _change(action, credential_id, reason, course)

    return command


revoke = _command("revoke", "Revoke a credential for good (it sits on a revocation list).")
suspend = _command("suspend", "Suspend a credential until unsuspended (it sits on a suspension list).")
unsuspend = _command("unsuspend", "Lift a credential's suspension.")
