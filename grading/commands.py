"""Click commands for the instructor's side: ``validate``, ``release``, ``new assessment``.

Thin: parsing and output only; the work is in :mod:`grading.validate`, :mod:`grading.release` and
:mod:`grading.scaffold`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["new", "release", "validate"]


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings (e.g. foolable tests) as errors.")
def validate(paths: tuple[Path, ...], strict: bool) -> None:
    """Check assessments, tracks, or folders of tracks: manifest schema, notebooks, credential rules."""
    from .validate import validate_path

    reports = [r for path in paths for r in validate_path(path)]
    problems = [p for r in reports for p in r.problems]
    warnings = [w for r in reports for w in r.warnings]
    for w in warnings:
        click.echo(f"credkit: warning: {w}", err=True)
    for p in problems:
        click.echo(f"credkit: error: {p}", err=True)
    if problems or (strict and warnings):
        click.echo(f"credkit: {len(problems)} error(s), {len(warnings)} warning(s) in {len(reports)} file(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(reports)} file(s) valid, {len(warnings)} warning(s)")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("assessment", type=click.Path(path_type=Path))
@click.option("--course", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The nbgrader course folder (created when missing).")
@click.argument("nbgrader_args", nargs=-1, type=click.UNPROCESSED, metavar="[--Class.trait=value]...")
def release(assessment: Path, course: Path, nbgrader_args: tuple[str, ...]) -> None:
    """Put ASSESSMENT into an nbgrader course: source/, generate_assignment, and the learner-safe skill map.

    Settings for nbgrader generate_assignment (e.g. --IncludeHeaderFooter.header=source/header.ipynb)
    are passed on, as to nbgrader; the course's nbgrader_config.py is used as nbgrader uses it.
    """
    import logging

    from .release import release as do_release

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="credkit: %(levelname)s: %(message)s")
    out = do_release(assessment, course, nbgrader_args=nbgrader_args)
    click.echo(str(out))


@click.group()
def new() -> None:
    """Scaffold new things."""


@new.command("assessment")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def new_assessment(folder: Path) -> None:
    """Create FOLDER with a source notebook and manifest that validate and grade as they stand."""
    from .scaffold import new_assessment as scaffold

    click.echo(str(scaffold(folder)))
