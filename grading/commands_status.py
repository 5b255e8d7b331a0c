"""``credkit revoke`` / ``suspend`` / ``unsuspend``: change a credential's status and republish.

A stacked credential follows its components: revoking (or suspending) a component revokes (or
suspends) every stacked credential of that learner built on it, with a reason naming the component;
unsuspending it lifts a stack's suspension once none of its components is suspended or revoked.
"""

from __future__ import annotations

import sys

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

_STATE_AFTER = {"revoke": "revoked", "suspend": "suspended", "unsuspend": "active"}


class NotConfirmed(CredkitError):
    """A status change was not confirmed."""


def credential_urn(credential_id: str) -> str:
    return credential_id if credential_id.startswith("urn:uuid:") else f"urn:uuid:{credential_id}"


def _confirm(action: str, record: object, yes: bool) -> None:
    if yes:
        return
    what = f"{action} {record.id} ({record.name}, learner {record.learner})"  # type: ignore[attr-defined]
    final = " for good (revocation is final)" if action == "revoke" else ""
    if not sys.stdin.isatty():
        raise NotConfirmed(f"{record.id}: not changed: pass --yes to {action} it{final} (no terminal to ask)")  # type: ignore[attr-defined]
    if not click.confirm(f"{what}{final}?", default=False, err=True):
        raise NotConfirmed(f"{record.id}: not changed")  # type: ignore[attr-defined]


def _change(action: str, credential_id: str, reason: str, course: str, yes: bool) -> None:
    from kit.commands import load_signing_key

    from .course_lock import course_lock

    reason = " ".join(reason.split())
    if not reason:
        raise NotConfirmed(f"{credential_id}: not changed: --reason must say why (it is published next to the status list)")
    settings = load_course_config(course)
    settings.check_key_outside_course()
    credential_id = credential_urn(credential_id)
    with Ledger(settings.ledger_url) as ledger:
        before = ledger.get(credential_id)
    _confirm(action, before, yes)
    key = load_signing_key(str(settings.key_file))
    with course_lock(settings.course_root), Ledger(settings.ledger_url) as ledger:
        publisher = StatusPublisher(
            key=key, ledger=ledger, status_dir=settings.status_dir, wallet_root=settings.wallet_root,
            cryptosuite=settings.credkit.cryptosuite, issuer_did=settings.issuer_did,
        )
        record = publisher.change_state(credential_id, action, reason)
        stacked = _cascade(ledger, publisher, record, action, reason)
    again = " (already; the status lists are published again)" if before.state == _STATE_AFTER[action] else ""
    click.echo(f"{record.id} ({record.name}, learner {record.learner}): now {record.state}{again}; status lists republished to {settings.status_dir}")
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
    @click.option("--reason", required=True, help="Why (not empty); kept in the ledger and published by credkit publish next to the status list, where verifiers show it to employers.")
    @click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder.")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
    def command(credential_id: str, reason: str, course: str, yes: bool) -> None:
        _change(action, credential_id, reason, course, yes)

    return command


revoke = _command("revoke", "Revoke a credential for good (it sits on a revocation list). Find its id with credkit credentials list.")
suspend = _command("suspend", "Suspend a credential until unsuspended (it sits on a suspension list).")
unsuspend = _command("unsuspend", "Lift a credential's suspension.")
