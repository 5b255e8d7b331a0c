"""``credkit publish``: write the issuer's public site (DID document, status lists, pages)."""

from __future__ import annotations

import click


@click.command()
@click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Folder to write the site into; serve it at https://<issuer host>/.")
def publish(course: str, out: str) -> None:
    """Write the issuer's public site as static files: DID document, signed status lists, issuer profile, achievement pages."""
    from kit.commands import load_signing_key

    from .config import load_course_config
    from .publish import publish_site

    settings = load_course_config(course)
    key = load_signing_key(str(settings.key_file))
    report = publish_site(course, out, key)
    for line in report.skipped:
        click.echo(f"skipped  {line}", err=True)
    click.echo(f"wrote {len(report.written)} files for {report.issuer} into {report.site}", err=True)
    click.echo(f"next: upload {report.site} so that it is served at https://{report.host}/ (every file under its own path)")
