"""``credkit grade``: a sandboxed, parallel drop-in for ``nbgrader autograde``."""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import nullcontext
from typing import Any

import click

from kit.errors import CredkitError, GradingError

from .summary import batch_summary, format_summary

__all__ = ["applied_limits", "grade", "run_grade"]


def run_grade(
    assignment: str, *, course_dir: str = ".", student: str = "*", force: bool = False,
    cluster: str | None = None, workers: int | None = None, cell_timeout: int | None = None,
    total_timeout: int | None = None, unsafe_no_sandbox: bool = False, verbose: bool = False,
    progress: Any = None, notebook: str | None = None, nbgrader_args: tuple[str, ...] = (),
    unsafe_no_cgroup_limits: bool = False,
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
    os.chdir(course_dir)  # nbgrader reads its config and course root from the working directory

    argv = [assignment, "--student", student, f"--log-level={'INFO' if verbose else 'WARN'}", *nbgrader_args]
    if notebook:
        argv += ["--notebook", notebook]
    if unsafe_no_sandbox:
        argv.append("--SandboxedExecute.unsafe_no_sandbox=True")
    if unsafe_no_cgroup_limits:
        argv.append("--SandboxedExecute.unsafe_no_cgroup_limits=True")
        click.echo("credkit: WARNING: grading without per-execution cgroups: memory, processes and CPU "
                   "are bounded per process only, and a notebook's processes together can exhaust this host",
                   err=True)
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
    changed = ChangedCellNotes()
    if not verbose:
        app.log.addFilter(changed)
    limits = applied_limits(app.config, app.cli_config)
    app.config.SandboxedExecute.timeout = limits["cell_timeout"]
    if unsafe_no_sandbox:
        click.echo(f"credkit: WARNING: {UNSAFE_WARNING}", err=True)

    no_cgroups = unsafe_no_cgroup_limits or bool(app.config.SandboxedExecute.get("unsafe_no_cgroup_limits"))
    if not (unsafe_no_sandbox or no_cgroups or cluster):  # Dask workers check on their own host
        from .sandbox import Sandbox

        Sandbox.check_cgroups()
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
        result.limits = limits
        result.changed_cells = dict(sorted(changed.counts.items()))
        from .summary import submission_notes

        result.notes = submission_notes(app.coursedir.root, assignment, student)
        learners = [s.student for s in result.submissions if s.status in ("graded", "skipped")]
        result.skills = {}
        if learners:
            from .summary import manifest_skill_rates

            result.skills = manifest_skill_rates(
                app.coursedir.root, app.coursedir.db_url, app.coursedir.course_id, assignment, learners) or {}
    return result


def applied_limits(config: Any, cli_config: Any) -> dict[str, Any]:
    """The cell timeout this run applies, and where it comes from.

    The course's own execution timeout (``c.Execute.timeout``, or ``c.ExecutePreprocessor.timeout``
    that nbgrader's FAQ suggests; ``--Execute.timeout=N`` on the command line) is honoured as stock
    nbgrader honours it; the sandbox's (``c.SandboxedExecute.timeout``, ``--cell-timeout``) wins
    only where it is stricter, or where the course sets none or disables it (a sandbox always has one).
    """
    from nbgrader.preprocessors import Execute

    from .execute import SandboxedExecute

    def where(section: str, trait: str) -> str:
        return f"--{section}.{trait}" if trait in cli_config.get(section, {}) else f"c.{section}.{trait}"

    sandboxed = SandboxedExecute(config=config)  # traitlets resolves command-line strings and class order
    sandbox = sandboxed.timeout if "timeout" in config.get("SandboxedExecute", {}) else None
    sandbox_from = where("SandboxedExecute", "timeout") if sandbox is not None else ""
    if sandbox_from == "--SandboxedExecute.timeout":
        sandbox_from = "--cell-timeout"
    course = course_from = None
    for section in ("Execute", "ExecutePreprocessor"):  # Execute's own setting beats its base class's
        if "timeout" in config.get(section, {}):
            course, course_from = Execute(config=config).timeout, where(section, "timeout")
            break
    total = sandboxed.total_timeout
    if course is not None and course > 0:
        if sandbox is not None and sandbox < course:
            cell, why = sandbox, f"{sandbox_from}, stricter than {_theirs(course_from)} = {course}"
        else:
            cell, why = course, _theirs(course_from)
    elif sandbox is not None:
        cell, why = sandbox, sandbox_from
    else:
        cell = 30
        why = (f"the sandbox's default: {_theirs(course_from)} = {course} sets no limit" if course_from
               else "nbgrader's default, the same in the sandbox")
    return {"cell_timeout": int(cell), "cell_timeout_from": why, "total_timeout": int(total)}


def _theirs(setting: str) -> str:
    return setting if setting.startswith("--") else f"the course's {setting}"


class ChangedCellNotes(logging.Filter):
    """Folds nbgrader's per-cell "Attribute 'checksum' for cell X has changed!" warnings (one per
    locked or test cell a learner edited, restored from the gradebook) into a count per learner,
    and drops its "No notebooks were matched" warning (the summary names the folder)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("No notebooks were matched by"):
            return False  # the summary names the folder
        if not (message.startswith("Attribute '") and " for cell " in message and "has changed!" in message):
            return True
        learner = "?"
        frame = sys._getframe(1)
        for _ in range(12):  # the preprocessor that logs it holds the submission's resources
            if frame is None:
                break
            resources = frame.f_locals.get("resources")
            if isinstance(resources, dict) and isinstance(resources.get("nbgrader"), dict):
                learner = str(resources["nbgrader"].get("student", "?"))
                break
            frame = frame.f_back
        if "'checksum'" in message:  # nbgrader logs the cell's other changed attributes too
            self.counts[learner] = self.counts.get(learner, 0) + 1
        return False


class _GradeCommand(click.Command):
    """Usage errors exit 1, as every configuration error does; 2 means some submissions failed."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise


_NBGRADER_SETTING = r"--[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*=.*"


@click.command(cls=_GradeCommand, context_settings={"ignore_unknown_options": True})
@click.argument("assignment")
@click.option("--course-dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The nbgrader course directory.")
@click.option("--student", default="*", show_default=True, help="Grade only this learner (a glob).")
@click.option("--notebook", default=None, help="Grade only this notebook of each submission (as nbgrader's --notebook).")
@click.option("--force", "-f", is_flag=True, help="Grade again submissions that were already graded.")
@click.option("--course", "course_id", default=None, help="The course id (as nbgrader's --course).")
@click.option("--db", "db_url", default=None, help="The gradebook's URL (as nbgrader's --db).")
@click.option("--create", is_flag=True, hidden=True, help="Accepted for nbgrader's sake: learners are always created.")
@click.option("--cluster", default=None,
              help="Execute on Dask: local:N starts a LocalCluster, tcp://host:port joins a scheduler.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Sandbox slots of the local engine (default: the number of cores).")
@click.option("--cell-timeout", type=click.IntRange(1), default=None, help="Seconds per cell (default 30).")
@click.option("--total-timeout", type=click.IntRange(1), default=None,
              help="Seconds per notebook, wall clock (default 600).")
@click.option("--unsafe-no-sandbox", is_flag=True,
              help="UNSAFE: run learner code without the sandbox; grades are marked unsandboxed.")
@click.option("--unsafe-no-cgroup-limits", is_flag=True,
              help="UNSAFE: grade on a host without a cgroup for each execution (per-process limits only).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Show a progress bar on stderr (default: when stderr is a terminal).")
@click.option("--issue/--no-issue", "issue", default=True, show_default=True,
              help="Issue the credentials the new grades earn (assessments released with credkit release).")
@click.argument("nbgrader_args", nargs=-1, type=click.UNPROCESSED, metavar="[--Class.trait=value]...")
@click.pass_context
def grade(ctx: click.Context, assignment: str, course_dir: str, student: str, notebook: str | None, force: bool,
          course_id: str | None, db_url: str | None, create: bool,
          cluster: str | None, workers: int | None, cell_timeout: int | None, total_timeout: int | None,
          unsafe_no_sandbox: bool, unsafe_no_cgroup_limits: bool, as_json: bool, show_progress: bool | None,
          issue: bool, nbgrader_args: tuple[str, ...]) -> None:
    """Autograde ASSIGNMENT's submissions in the sandbox (a drop-in for `nbgrader autograde`).

    nbgrader autograde's options mean the same here, and --Class.trait=value settings (e.g.
    --Execute.timeout=120) override nbgrader_config.py as they do for nbgrader. Exit status: 0 all
    graded (and issued), 1 usage or configuration error (issuing that could not run included),
    2 some submissions failed.
    """
    import re

    for arg in nbgrader_args:
        if not re.fullmatch(_NBGRADER_SETTING, arg, re.DOTALL):
            error = click.UsageError(f"{arg}: not an option of credkit grade nor an nbgrader setting "
                                     "(--Class.trait=value)", ctx)
            error.exit_code = 1
            raise error
    extra = list(nbgrader_args)
    if course_id:
        extra.append(f"--CourseDirectory.course_id={course_id}")
    if db_url:
        extra.append(f"--CourseDirectory.db_url={db_url}")
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
                progress=bar.advance if bar else None, notebook=notebook, nbgrader_args=tuple(extra),
                unsafe_no_cgroup_limits=unsafe_no_cgroup_limits,
            )
        finally:
            if bar:
                bar.stop()
        summary = batch_summary(result, getattr(result, "skills", None))
        summary["limits"] = getattr(result, "limits", {})
        summary["changed_cells"] = getattr(result, "changed_cells", {})
        summary["notes"] = getattr(result, "notes", [])
        try:
            summary.update(after_grading(course_root, assignment, result, issue=issue and not unsafe_no_sandbox))
        except CredkitError as exc:  # the grades are written: say so, then why issuing could not run
            summary["issue_error"] = exc.diagnostics()
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        click.echo(format_summary(summary))
    problem = summary.get("issue_error") or summary.get("issue_skipped") or summary.get("issue_failed")
    if problem:
        click.echo(f"credkit: error: graded, but nothing was issued: {problem}", err=True)
        ctx.exit(1)
    if summary["failed"]:
        ctx.exit(2)
    if summary.get("undelivered"):
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
