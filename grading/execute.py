"""nbgrader preprocessors that move the execute step into the sandbox and record provenance.

``SandboxedExecute`` takes the place of nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``.
It runs in the trusted process: it sends the sanitized notebook text, the submission's working
copy and the instructor's released files to a sandboxed worker, parses and validates the notebook
text that comes back with nbformat, and copies only the outputs of the cells it sent into its own
copy of the notebook. On the worker the notebook runs as a pair (see sandbox.py): the learner's
cells in the learner's kernel, the autograded test cells in a separate checker, the only source of
test-cell outputs. A test cell that was missing from the submission (nbgrader restores it, with
``OverwriteCells.add_missing_cells``) is not run: it gets an error output and scores zero.
Everything after it (``SaveAutoGrades`` and the rest) is nbgrader's own, in the trusted process.

``RecordProvenance`` goes after ``SaveAutoGrades`` and writes, for the issuing step, whether the
grades of this notebook came from a sandboxed execution.

Both work inside ``credkit grade`` and inside stock ``nbgrader autograde`` (see README, "Grading
safely"); under stock nbgrader each notebook is executed synchronously.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader import utils
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, List, Unicode

from .learner_state import learner_state_uses
from .provenance import ProvenanceStore, provenance_path
from .sandbox import (ExecutionFailed, Job, Limits, Reply, Sandbox, UnsafePair, WarmPool, _exchange, _kill, parse_reply,
                      reply_cap, runner_requests)
from .submitted_files import (STARTUP_IGNORE, LeftOut, is_listed, keep_written, read_files, released_names,
                              startup_reason)

__all__ = [
    "SandboxedExecute",
    "RecordProvenance",
    "Broker",
    "DirectBroker",
    "UnsafeNoSandboxBroker",
    "job_files",
    "autograded_files",
    "missing_test_cells",
    "build_job",
    "module_names",
    "merge_outputs",
]

log = logging.getLogger("credkit.grading")

NOTEBOOK_BYTES = 32 * 1024**2  # default c.SandboxedExecute.notebook_bytes

UNSAFE_WARNING = (
    "UNSAFE: --unsafe-no-sandbox: learner code runs WITHOUT the sandbox, as the grader's user; it can "
    "read solutions and other submissions and rewrite the gradebook. Grades made now are recorded as "
    "unsandboxed and will not be issued as credentials."
)


@dataclass(frozen=True)
class Executed:
    reply: Reply  # the executed notebook and the files the run wrote (untrusted)
    sandboxed: bool
    engine: str
    seconds: float = 0.0  # wall time of the execution on its worker


class Broker(Protocol):
    """Where the execute step runs. ``execute`` returns the executed notebook text."""

    def execute(self, key: tuple[str, str, str], job: Job, limits: Limits) -> Executed: ...


class DirectBroker:
    """Execute synchronously in a sandbox on this machine (the hook's path under stock nbgrader).

    One per process (:meth:`shared`): its fork server starts once, and while nbgrader scores one
    notebook the sandbox for the next is already forked and its kernel starting.
    """

    _shared: DirectBroker | None = None

    def __init__(self) -> None:
        self._pool = WarmPool(Sandbox.create(), standby=1)

    @classmethod
    def shared(cls) -> DirectBroker:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def execute(self, key: tuple[str, str, str], job: Job, limits: Limits) -> Executed:
        return Executed(self._pool.execute(job, limits), True, "local")


class UnsafeNoSandboxBroker:
    """Run the same runner with no sandbox at all (the grader's user, a scratch directory).

    Only for machines where no sandbox can be set up; logs a loud warning, and the grades are
    recorded as unsandboxed.
    """

    def __init__(self) -> None:
        log.warning(UNSAFE_WARNING)

    def execute(self, key: tuple[str, str, str], job: Job, limits: Limits) -> Executed:
        requests = runner_requests(job, limits)
        with tempfile.TemporaryDirectory(prefix="credkit-unsafe-") as scratch:
            pair = UnsafePair(limits, scratch)
            try:
                out, why = _exchange(pair, requests, reply_cap(requests[1], limits), limits.total_timeout)
            finally:
                _kill(pair)
        if why:
            raise ExecutionFailed(why)
        return Executed(parse_reply(out, pair.returncode), False, "unsafe-no-sandbox")


def _gather(coursedir: CourseDirectory, assignment: str, student: str, exclude_overwriting: list[str],
            disk_bytes: int) -> tuple[dict[str, bytes], dict[str, bytes], list[LeftOut]]:
    """(submission's files, released files, left out) for one submission, read once (see job_files)."""
    budget = [disk_bytes]
    patterns = list(coursedir.ignore)
    listed = released_names(coursedir.root, assignment,
                            coursedir.format_path(coursedir.release_directory, ".", assignment), patterns)
    released, _ = read_files(Path(coursedir.format_path(coursedir.source_directory, ".", assignment)), patterns,
                             budget, keep=lambda rel: is_listed(rel, listed) and rel not in exclude_overwriting)
    submitted, left_out = read_files(Path(coursedir.format_path(coursedir.submitted_directory, student, assignment)),
                                     patterns, budget, base=Path(coursedir.root))
    return submitted, released, left_out


def job_files(coursedir: CourseDirectory, assignment: str, student: str, *, exclude_overwriting: list[str],
              disk_bytes: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(working copy, released files) of one submission, each relative path → bytes.

    The released files are the source files the instructor released (the manifest's ``files``, see
    submitted_files.py) except those the learner is meant to change (``exclude_overwriting``): the
    checker's, pristine. The working copy is what ``nbgrader autograde`` lays out for the learner's
    code: the submission's own files overlaid with the released ones. Never any notebook (the
    sanitized notebooks hold the hidden tests; the executed notebook travels separately), never
    through a symlink; the source is read once.
    """
    files, released, _ = _gather(coursedir, assignment, student, exclude_overwriting, disk_bytes)
    files.update(released)
    return files, released


def autograded_files(coursedir: CourseDirectory, assignment: str, student: str, *, exclude_overwriting: list[str],
                     disk_bytes: int) -> tuple[dict[str, bytes], list[LeftOut]]:
    """What goes into ``autograded/<learner>/<assessment>/`` beside the notebooks, and what is left out.

    The working copy of :func:`job_files` without the learner's files that Python or Jupyter would
    run on start (submitted_files.startup_reason); links were never read.
    """
    files, released, left_out = _gather(coursedir, assignment, student, exclude_overwriting, disk_bytes)
    for relative in sorted(files):
        why = startup_reason(relative)
        if why and relative not in released:
            del files[relative]
            left_out.append(LeftOut(relative, why))
    files.update(released)
    return files, sorted(left_out, key=lambda item: item.path)


def _is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: nbgrader's grade cell that is not a solution."""
    return cell.cell_type == "code" and bool(utils.is_grade(cell)) and not utils.is_solution(cell)


def missing_test_cells(nb: NotebookNode, submitted_path: str) -> tuple[int, ...]:
    """Indexes of the autograded test cells of ``nb`` (sanitized) that the submitted file did not
    hold: nbgrader restored them, and they score zero. The file is read without following a link;
    one that cannot be read holds no test cell."""
    from .sanitize import is_link_free

    present: set[str] = set()
    if not is_link_free(submitted_path):
        return tuple(i for i, cell in enumerate(nb.cells) if _is_test_cell(cell))
    try:
        fd = os.open(submitted_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                submitted = nbformat.reads(fh.read().decode("utf-8"), as_version=4)
                present = {c["metadata"]["nbgrader"].get("grade_id", "") for c in submitted.cells
                           if "nbgrader" in c.get("metadata", {})}
    except Exception:  # noqa: BLE001 - unreadable: nothing of it counts
        present = set()
    return tuple(i for i, cell in enumerate(nb.cells)
                 if _is_test_cell(cell) and cell["metadata"]["nbgrader"].get("grade_id") not in present)


def module_names(source_notebook: str) -> tuple[tuple[str, str], ...]:
    """The same for every submission: read once per version of the file (see _module_names)."""
    try:
        version = os.stat(source_notebook).st_mtime_ns
    except OSError:
        return ()  # no source notebook (a hook course without source/): none known
    return _module_names(source_notebook, version)


@functools.lru_cache(maxsize=64)
def _module_names(source_notebook: str, version: int) -> tuple[tuple[str, str], ...]:
    """(name, module) for every ``import m`` / ``import m as name`` / ``from pkg import module`` in the
    instructor's source notebook: test code reading those names gets the checker's own import of the
    module, whatever the learner's kernel binds them to (a fake ``np`` whose ``allclose`` always
    agrees earns nothing)."""
    import ast
    import importlib.util

    try:
        source = nbformat.read(source_notebook, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: none known
        return ()
    names: dict[str, str] = {}
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                                       for ln in cell.source.splitlines()))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    try:
                        is_module = importlib.util.find_spec(full) is not None
                    except (ImportError, ValueError):
                        is_module = False
                    if is_module:
                        names[alias.asname or alias.name] = full
    return tuple(sorted(names.items()))


def build_job(nb: NotebookNode, coursedir: CourseDirectory, assignment: str, student: str, notebook_id: str, *,
              exclude_overwriting: list[str], disk_bytes: int) -> Job:
    """What the worker needs to execute one sanitized notebook of a submission."""
    files, released = job_files(coursedir, assignment, student, exclude_overwriting=exclude_overwriting,
                                disk_bytes=disk_bytes)
    submitted = os.path.join(coursedir.format_path(coursedir.submitted_directory, student, assignment),
                             f"{notebook_id}.ipynb")
    missing = missing_test_cells(nb, submitted)
    refused = [(i, "MissingTestCell", "this test cell was missing from the submission; it was restored from "
                "the release and scores 0") for i in missing]
    for i, cell in enumerate(nb.cells):
        if i in missing or not _is_test_cell(cell):
            continue
        reasons = learner_state_uses(cell.source)
        if reasons:
            grade_id = cell["metadata"]["nbgrader"].get("grade_id", "")
            refused.append((i, "LearnerStateTest", f"test cell {grade_id!r} cannot be judged outside the learner's "
                            f"kernel: {reasons[0]} (see credkit's README, 'Writing tests the checker can judge')"))
    source = os.path.join(coursedir.format_path(coursedir.source_directory, ".", assignment), f"{notebook_id}.ipynb")
    return Job(nbformat.writes(nb), files, released, tuple(sorted(refused)), module_names(source))


def merge_outputs(sent: NotebookNode, returned_text: str) -> NotebookNode:
    """Copy outputs from the untrusted executed notebook into our copy of what we sent.

    The returned text must parse and validate as a notebook with the same cells (type and source)
    as sent; only outputs, execution counts and execution timing are taken from it.
    """
    try:
        returned = nbformat.reads(returned_text, as_version=4)
        nbformat.validate(returned)
    except Exception as exc:  # nbformat raises several unrelated types
        raise ExecutionFailed(f"the worker returned an invalid notebook: {str(exc)[:200]}") from None
    if len(returned.cells) != len(sent.cells):
        raise ExecutionFailed("the worker returned a notebook with different cells")
    merged = nbformat.from_dict(sent)
    for ours, theirs in zip(merged.cells, returned.cells):
        if ours.cell_type != theirs.cell_type or ours.source != theirs.source:
            raise ExecutionFailed("the worker returned a notebook whose cells were changed")
        if ours.cell_type == "code":
            ours.outputs = theirs.outputs
            ours.execution_count = theirs.execution_count
            if "execution" in theirs.metadata:
                ours.metadata["execution"] = theirs.metadata["execution"]
    if "language_info" in returned.metadata:
        merged.metadata["language_info"] = returned.metadata["language_info"]
    try:
        nbformat.validate(merged)
    except Exception as exc:
        raise ExecutionFailed(f"the executed notebook does not validate: {str(exc)[:200]}") from None
    return merged


@dataclass(frozen=True)
class BatchContext:
    """What ``credkit grade`` hands its preprocessors (nbconvert deep-copies resources, so the
    resources carry only this registry's key)."""

    broker: Broker
    coursedir: CourseDirectory
    exclude_overwriting: dict[str, list[str]]
    # (assessment, learner, files) for written files left out of autograded/, for the summary
    note_left_out: Callable[[str, str, list[LeftOut]], None] | None = None


_BATCHES: dict[str, BatchContext] = {}


def register_batch(key: str, context: BatchContext) -> None:
    _BATCHES[key] = context


def unregister_batch(key: str) -> None:
    _BATCHES.pop(key, None)


def _batch(resources: ResourcesDict) -> BatchContext | None:
    return _BATCHES.get(resources.get("credkit", {}).get("batch", ""))


class SandboxedExecute(NbGraderPreprocessor):
    """Execute the notebook in the credkit sandbox instead of in the grader's own process."""

    timeout = Integer(30, help="Seconds a single cell may run before it is interrupted.").tag(config=True)
    startup_timeout = Integer(60, help="Seconds the kernel may take to start.").tag(config=True)
    total_timeout = Integer(600, help="Seconds one notebook's whole execution may take (wall clock).").tag(config=True)
    cpu_seconds = Integer(300, help="CPU seconds any one process of the execution may use (RLIMIT_CPU).").tag(config=True)
    memory_bytes = Integer(2 * 1024**3, help=(
        "Memory of the learner's side as a whole (cgroup), and address space of any one process "
        "(RLIMIT_AS), bytes. The checker's side has the same.")).tag(config=True)
    processes = Integer(128, help="Processes and threads each side may have at once (cgroup pids, RLIMIT_NPROC).").tag(config=True)
    cpus = Float(0.0, help="CPU share of each side, in cores (cgroup CPU quota); 0, the default: no quota.").tag(config=True)
    inodes = Integer(16_384, help="Files and folders on each of the sandbox's tmpfs (working copy, /tmp).").tag(config=True)
    interrupt_grace = Integer(10, help=(
        "Seconds a cell may go on after the interrupt at its timeout before its kernel is killed "
        "(the cells after it then score 0); 0: never kill.")).tag(config=True)
    file_bytes = Integer(64 * 1024**2, help="Largest file the learner's code may write (RLIMIT_FSIZE), bytes.").tag(config=True)
    disk_bytes = Integer(256 * 1024**2, help="Size of the private working copy and of /tmp (tmpfs), bytes.").tag(config=True)
    output_bytes = Integer(4 * 1024**2, help="Output kept per notebook while it runs; the rest is dropped.").tag(config=True)
    written_bytes = Integer(4 * 1024**2, help=(
        "Files a notebook creates or changes while graded that are kept in autograded/, bytes in all "
        "(at most 32 MiB); files past it are left out and named in the summary.")).tag(config=True)
    notebook_bytes = Integer(NOTEBOOK_BYTES, help=(
        "Largest submitted notebook file, bytes. Checked before the grader reads it: a larger one fails "
        "that submission as too large (parsing a notebook takes many times its size in memory)."
    )).tag(config=True)
    extra_arguments = List(Unicode(), [], help="Extra arguments for the kernel.").tag(config=True)
    preload = List(Unicode(), [], help=(
        "Modules imported once by the sandbox's fork server, so that every execution starts with "
        "them already loaded (e.g. ['numpy', 'pandas']): the notebooks' own imports then cost "
        "nothing. Each execution still gets its own copy; one that fails to import is left out."
    )).tag(config=True)
    unsafe_no_sandbox = Bool(
        False, help="UNSAFE: execute without the sandbox. Grades are recorded as unsandboxed."
    ).tag(config=True)
    unsafe_no_cgroup_limits = Bool(False, help=(
        "UNSAFE: grade on a host without a cgroup for each execution (memory, processes and CPU "
        "are then bounded per process only: a notebook's children together can exhaust the host)."
    )).tag(config=True)

    def limits(self) -> Limits:
        from .commands_grade import applied_limits

        # The course's own execution timeout (c.Execute / c.ExecutePreprocessor.timeout) counts here
        # too, under stock `nbgrader autograde` with the hook, by the same rule as in credkit grade.
        cell_timeout = applied_limits(self.config, {})["cell_timeout"]
        return Limits(
            cell_timeout=cell_timeout, startup_timeout=self.startup_timeout,
            total_timeout=self.total_timeout, cpu_seconds=self.cpu_seconds,
            memory_bytes=self.memory_bytes, processes=self.processes, file_bytes=self.file_bytes,
            disk_bytes=self.disk_bytes, output_bytes=self.output_bytes, written_bytes=self.written_bytes,
            cpus=self.cpus, inodes=self.inodes,
            interrupt_grace=self.interrupt_grace, cgroup_limits=not self.unsafe_no_cgroup_limits,
            extra_arguments=tuple(self.extra_arguments), preload=tuple(self.preload),
        )

    def _broker(self, resources: ResourcesDict) -> Broker:
        batch = _batch(resources)
        if batch is not None:
            return batch.broker
        if self.unsafe_no_sandbox:
            return UnsafeNoSandboxBroker()
        return DirectBroker.shared()

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        credkit = resources.setdefault("credkit", {})
        batch = _batch(resources)
        coursedir = batch.coursedir if batch else CourseDirectory(config=self.config)
        exclude = (batch.exclude_overwriting if batch else {}).get(info["assignment"], [])
        limits = self.limits()
        job = build_job(nb, coursedir, info["assignment"], info["student"], info["notebook"],
                        exclude_overwriting=exclude, disk_bytes=limits.disk_bytes)
        executed = self._broker(resources).execute(
            (info["assignment"], info["student"], info["notebook"]), job, limits)
        credkit["sandboxed"] = executed.sandboxed
        credkit["engine"] = executed.engine
        merged = merge_outputs(nb, executed.reply.notebook)
        left_out = keep_written_files(coursedir, info["assignment"], info["student"], executed)
        if left_out and batch is not None and batch.note_left_out is not None:
            batch.note_left_out(info["assignment"], info["student"], left_out)
        else:
            for item in left_out:
                self.log.warning("%s/%s: left out of autograded/: %s", info["student"], info["assignment"], item)
        return merged, resources


def keep_written_files(coursedir: CourseDirectory, assignment: str, student: str, executed: Executed) -> list[LeftOut]:
    """Put the files a notebook's run wrote into its ``autograded/`` folder, as stock nbgrader's run
    in that folder would leave them, by submitted_files.keep_written's rules; those left out."""
    reply = executed.reply
    if not reply.written and not reply.left_out:
        return []
    dest = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    release = coursedir.format_path(coursedir.release_directory, ".", assignment)
    # the course's own ignore globs are skipped quietly; those the hook adds for start-up files are reported
    quiet = [p for p in coursedir.ignore if p not in STARTUP_IGNORE] + ["__pycache__", "*.pyc"]
    released = released_names(coursedir.root, assignment, release, list(coursedir.ignore))
    return keep_written(dest, reply.written, released=released, patterns=quiet, left_out=reply.left_out)


class RecordProvenance(NbGraderPreprocessor):
    """After SaveAutoGrades: record whether this notebook's grades came from the sandbox."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        credkit = resources.get("credkit", {})
        batch = _batch(resources)
        coursedir = batch.coursedir if batch else CourseDirectory(config=self.config)
        with Gradebook(info["db_url"], coursedir.course_id) as gb:
            sub = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            scores = {g.name: g.auto_score for g in sub.grades}
        with ProvenanceStore(provenance_path(info["db_url"], coursedir.root)) as store:
            store.record_notebook(
                assignment=info["assignment"], student=info["student"], notebook=info["notebook"],
                sandboxed=bool(credkit.get("sandboxed", False)), engine=str(credkit.get("engine", "")),
                scores=scores,
            )
        return nb, resources


def gradebook_auto_scores(db_url: str, course_id: str, assignment: str,
                          students: Iterable[str]) -> dict[str, dict[str, dict[str, float | None]]]:
    """learner → notebook → grade_id → auto_score for ``students``, read from the trusted gradebook
    in one session (a learner without a submission is left out)."""
    if isinstance(students, str):
        raise TypeError("students: a collection of learner ids, not one id")
    wanted = set(students)
    with Gradebook(db_url, course_id) as gb:
        return {
            sub.student.id: {nb.name: {g.name: g.auto_score for g in nb.grades} for nb in sub.notebooks}
            for sub in gb.find_assignment(assignment).submissions
            if sub.student.id in wanted
        }
