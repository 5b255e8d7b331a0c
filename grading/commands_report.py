"""``credkit report``: a course's per-skill results and credentials as CSV and charts."""

from __future__ import annotations

import click


@click.command("report")
@click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder.")
@click.option("--out", default="credkit-report", show_default=True, type=click.Path(file_okay=False), help="Folder for the CSV and PNG charts.")
def report(course: str, out: str) -> None:
    """Write skills.csv and charts: per-skill pass rates, score distributions, credentials issued."""
    from .report import write_report

    for path in write_report(course, out):
        click.echo(str(path))
