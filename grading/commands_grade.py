"""``credkit grade``: a sandboxed, parallel drop-in for ``nbgrader autograde``."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from contextlib import nullcontext
from typing import Any

import click

from kit.errors import GradingError

from .summary import batch_summary, format_summary

__all__ = ["grade", "run_grade"]


def run_grade(
    assignment: str, *, course_dir: str = ".", student: str = "*", force: bool = False,
    cluster: str | None = None, workers: int | None = None, cell_timeout: int | None = None,
    total_timeout: int | None = None, unsafe_no_sandbox: bool = False, verbose: bool = False,
    progress: Any = None,
) -> Any:
    """Grade one assessment's submissions in a course; returns the BatchResult.

    Raises GradingError (or SandboxError) for anything the grader can fix.
    """
    from nbgrader.apps.autogradeapp import AutogradeApp

    from .autograde import CredkitAutograde
    from .engines import make_engine
    from .execute import UNSAFE_WARNING

    if not os.path.isdir(course_dir):
        raise GradingError(f"{course_dir}: no such course directory")
    if not os.path.exists(os.path.join(course_dir, "nbgrader_config.py")):
        raise GradingError(f"{course_dir}: not an nbgrader course (no nbgrader_config.py)")
    if shutil.which("alembic") is None:  # nbgrader's Gradebook runs `alembic` from PATH
        os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    os.chdir(course_dir)  # nbgrader reads its config and course root from the working directory

    argv = [assignment, "--student", student, f"--log-level={'INFO' if verbose else 'WARN'}"]
    if unsafe_no_sandbox:
        argv.append("--SandboxedExecute.unsafe_no_sandbox=True")
    if cell_timeout is not None:
        argv.append(f"--SandboxedExecute.timeout={cell_timeout}")
    if total_timeout is not None:
        argv.append(f"--SandboxedExecute.total_timeout={total_timeout}")
    app = AutogradeApp()
    try:
        app.initialize(argv)
    except Exception as exc:
        raise GradingError(f"{course_dir}: cannot load the nbgrader configuration: {exc}") from None
    app.coursedir.assignment_id = assignment
    if unsafe_no_sandbox:
        click.echo(f"credkit: WARNING: {UNSAFE_WARNING}", err=True)

    from .gradebook import gradebook_errors

    engine = make_engine(cluster, workers, unsafe_no_sandbox=unsafe_no_sandbox)
    with gradebook_errors(app.coursedir.db_url):
        try:
            converter = CredkitAutograde(
                engine=engine, progress=progress, force=force, coursedir=app.coursedir, parent=app)
            converter.start()
            result = converter.result
        finally:
            engine.close()
        learners = [s.student for s in result.submissions if s.status in ("graded", "skipped")]
        result.skills = {}
        if learners:
            from .summary import manifest_skill_rates

            result.skills = manifest_skill_rates(
                app.coursedir.root, app.coursedir.db_url, app.coursedir.course_id, assignment, learners) or {}
    return result


@click.command()
@click.argument("assignment")
@click.option("--course-dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The nbgrader course directory.")
@click.option("--student", default="*", show_default=True, help="Grade only this learner (a glob).")
@click.option("--force", is_flag=True, help="Grade again submissions that were already graded.")
@click.option("--cluster", default=None,
              help="Execute on Dask: local:N starts a LocalCluster, tcp://host:port joins a scheduler.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Sandbox slots of the local engine (default: the number of cores).")
@click.option("--cell-timeout", type=click.IntRange(1), default=None, help="Seconds per cell (default 30).")
@click.option("--total-timeout", type=click.IntRange(1), default=None,
              help="Seconds per notebook, wall clock (default 600).")
@click.option("--unsafe-no-sandbox", is_flag=True,
              help="UNSAFE: run learner code without the sandbox; grades are marked unsandboxed.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Show a progress bar on stderr (default: when stderr is a terminal).")
@click.option("--issue/--no-issue", "issue", default=True, show_default=True,
              help="Issue the credentials the new grades earn (assessments released with credkit release).")
@click.pass_context
def grade(ctx: click.Context, assignment: str, course_dir: str, student: str, force: bool,
          cluster: str | None, workers: int | None, cell_timeout: int | None, total_timeout: int | None,
          unsafe_no_sandbox: bool, as_json: bool, show_progress: bool | None, issue: bool) -> None:
    """Autograde ASSIGNMENT's submissions in the sandbox (a drop-in for `nbgrader autograde`)."""
    verbose = bool(ctx.obj and ctx.obj.get("verbose"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="credkit: %(levelname)s: %(message)s")
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    bar = _ProgressBar() if show_progress else None
    course_root = os.path.abspath(course_dir)  # run_grade changes the working directory
    from .course_lock import course_lock
    from .issuing import after_grading

    # Grading and issuing are one unit under the course lock: a second run refuses, naming this one.
    with course_lock(course_root) if os.path.isfile(os.path.join(course_root, "nbgrader_config.py")) else nullcontext():
        try:
            result = run_grade(
                assignment, course_dir=course_dir, student=student, force=force, cluster=cluster,
                workers=workers, cell_timeout=cell_timeout, total_timeout=total_timeout,
                unsafe_no_sandbox=unsafe_no_sandbox, verbose=verbose,
                progress=bar.advance if bar else None,
            )
        finally:
            if bar:
                bar.stop()
        summary = batch_summary(result, getattr(result, "skills", None))
        summary.update(after_grading(course_root, assignment, result, issue=issue and not unsafe_no_sandbox))
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        click.echo(format_summary(summary))
    if summary["failed"]:
        ctx.exit(2)
    if summary.get("issue_failed") or summary.get("undelivered"):
        ctx.exit(1)


class _ProgressBar:
    """A rich progress bar with rate and ETA on stderr; the total is learned on the first event."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)

        self._progress = Progress(
            TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), TextColumn("{task.fields[failed]} failed"),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task("grade", total=None, rate="", failed=0)
        self._failed = 0
        self._progress.start()

    def set_total(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, item: Any) -> None:
        if item.status == "failed":
            self._failed += 1
        self._progress.advance(self._task)
        task = self._progress.tasks[0]
        rate = f"{task.speed:.2f}/s" if task.speed else ""
        self._progress.update(self._task, rate=rate, failed=self._failed)

    def stop(self) -> None:
        self._progress.stop()
