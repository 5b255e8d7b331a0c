"""``credkit revoke`` / ``suspend`` / ``unsuspend``: change a credential's status and republish."""

from __future__ import annotations

import click

from grading.config import load_course_config
from kit.issuance import StatusPublisher
from kit.ledger import Ledger


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
    click.echo(f"{record.id} ({record.name}, learner {record.learner}): now {record.state}; status lists republished to {settings.status_dir}")
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
