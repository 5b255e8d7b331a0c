"""``credkit issue``: issue the credentials a course's trusted grades earn."""

from __future__ import annotations

import json
import sys

import click

from .issuing import UNSAFE_FLAG


@click.command("issue")
@click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder.")
@click.option("--assignment", "assignments", multiple=True, help="Only this released assessment (repeatable); default all.")
@click.option("--learner", "learners", multiple=True, help="Only this learner (repeatable); default everyone graded.")
@click.option(UNSAFE_FLAG, "unsafe", is_flag=True, help="UNSAFE: also issue from grades not produced in the sandbox.")
@click.option("--json", "as_json", is_flag=True, help="Print what happened as JSON.")
def issue(course: str, assignments: tuple[str, ...], learners: tuple[str, ...], unsafe: bool, as_json: bool) -> None:
    """Issue, sign and deliver the skill credentials the course's grades earn (idempotent)."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="credkit: %(levelname)s: %(message)s")
    from kit.commands import load_signing_key

    from .config import load_course_config
    from .issuing import issue_course

    settings = load_course_config(course)
    settings.check_key_outside_course()
    if not settings.key_file.exists():
        raise click.ClickException(
            f"{settings.key_file}: no issuer key; create one with: credkit keys new --encrypt --out {settings.key_file}"
        )
    key = load_signing_key(str(settings.key_file))
    report = issue_course(
        settings.course_root, key, assignments=list(assignments) or None, learners=list(learners) or None,
        unsafe_issue_unsandboxed_grades=unsafe,
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        if report.undelivered or (report.unsandboxed and not report.issued):
            sys.exit(1)  # something could not be issued or delivered: a script must see that
        return
    click.echo(f"issued {len(report.issued)} credential(s); {report.already_issued} already issued; "
               f"{report.redelivered} re-delivered")
    for item in report.issued:
        click.echo(f"  {item.learner:<20} {item.name}  ({item.path})")
    if report.unsandboxed:
        click.echo(f"refused {len(report.unsandboxed)} submission(s) whose grades were not produced in the sandbox "
                   f"(regrade them with credkit grade, or pass {UNSAFE_FLAG})", err=True)
    for assessment, learner, why in report.failed:
        click.echo(f"not issued: {learner}: grading {assessment} failed ({why or 'see credkit grade'})", err=True)
    for assessment, learner, name in report.held_back:
        click.echo(f"held back: {learner}: {name} ({assessment}) waits for manual grading", err=True)
    for learner, name, credential_id in report.no_longer_earned:
        click.echo(f"regrade: {learner} no longer meets {name}; still valid ({credential_id}); "
                   f"revoke with: credkit revoke {credential_id} --reason …", err=True)
    for learner, why in report.undelivered:
        click.echo(f"not delivered: {learner}: {why} (recorded; the next credkit issue delivers it)", err=True)
    if report.undelivered or (report.unsandboxed and not report.issued):
        sys.exit(1)
