"""``credkit grade``'s batch: nbgrader's Autograde converter, with execute in the sandbox, in parallel.

The per-submission flow is nbgrader's own (``init_destination``, ``init_assignment``, sanitize,
autograde preprocessors, ``set_permissions``), so scores are exactly stock nbgrader's. Two things
change: ``SandboxedExecute`` replaces ``Execute``, and executions are prefetched — the trusted
process sanitizes the next few submissions the same way and hands them to the engine's workers
while it scores the current one, so the workers stay busy. A prefetched result is used only if the
notebook nbgrader later asks to execute is byte-identical to the one prefetched. Each submission is
sanitized once: nbgrader's own sanitize pass reuses the prefetch's when the file is unchanged
(``sanitize.py``). For the batch, nbgrader's Gradebooks share one SQLAlchemy engine
(``gradebook.py``) and its cell-metadata schema is checked once (``schema_cache.py``).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import nbformat
import sqlalchemy
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.utils import rmtree
from traitlets import List, Type, validate

from kit.errors import GradingError

from .engines import Engine
from .execute import BatchContext, Executed, SandboxedExecute, register_batch, unregister_batch
from .gradebook import new_gradebooks_stamped_in_process, shared_gradebook_engines
from .hook import sandboxed_preprocessors, sanitize_preprocessors
from .provenance import ProvenanceStore, provenance_path
from .sandbox import Job, Limits
from .sanitize import SanitizeOnceExporter
from .schema_cache import schemas_checked_once
from .submitted_files import LeftOut

__all__ = ["CredkitAutograde", "BatchResult", "SubmissionResult", "FAULT_ENV"]

log = logging.getLogger("credkit.grading")

# Test-only: "<stage>:<student>" makes the process exit abruptly at that step boundary, so the
# resume tests can stop a batch deterministically (stages: started, notebook, scored, recorded).
FAULT_ENV = "CREDKIT_FAULT_INJECT"


@dataclass
class SubmissionResult:
    assignment: str
    student: str
    status: str  # graded | failed | skipped
    reason: str = ""
    seconds: float = 0.0
    left_out: tuple[str, ...] = ()  # the learner's files not copied into autograded/, each with why


@dataclass
class BatchResult:
    submissions: list[SubmissionResult] = field(default_factory=list)
    prefetch_hits: int = 0
    prefetch_misses: int = 0
    engine: str = ""
    workers: int = 0
    seconds: float = 0.0
    dask_workers: list[str] = field(default_factory=list)
    coordinator_seconds: float = 0.0  # trusted work: batch time minus time waiting for workers
    executions: int = 0
    execute_seconds: float = 0.0
    skills: dict[str, Any] = field(default_factory=dict)  # per-skill pass rates, when there is a manifest

    def count(self, status: str) -> int:
        return sum(1 for s in self.submissions if s.status == status)


class PrefetchBroker:
    """Keeps up to ``window`` executions in flight ahead of the submission being scored."""

    def __init__(self, engine: Engine, window: int) -> None:
        self.engine = engine
        self.window = window
        self._inflight: OrderedDict[tuple[str, str, str], tuple[Job, Limits, Future[Executed]]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.waited = 0.0  # coordinator time spent waiting for workers
        self.executed = 0
        self.execute_seconds = 0.0  # sum of executions' wall time on the workers

    def prefetch(self, key: tuple[str, str, str], job: Job, limits: Limits) -> None:
        if key not in self._inflight:
            self._inflight[key] = (job, limits, self.engine.submit(job, limits))

    def has(self, key: tuple[str, str, str]) -> bool:
        return key in self._inflight

    def room(self) -> int:
        return self.window - len(self._inflight)

    def execute(self, key: tuple[str, str, str], job: Job, limits: Limits) -> Executed:
        entry = self._inflight.pop(key, None)
        if entry is not None and entry[0] == job and entry[1] == limits:
            self.hits += 1
            future = entry[2]
        else:
            if entry is not None:
                entry[2].cancel()
            self.misses += 1
            future = self.engine.submit(job, limits)
        t0 = time.monotonic()
        try:
            done = future.result()
        finally:
            self.waited += time.monotonic() - t0
        self.executed += 1
        self.execute_seconds += done.seconds
        return done

    def drop_student(self, assignment: str, student: str) -> None:
        for key in [k for k in self._inflight if k[0] == assignment and k[1] == student]:
            self._inflight.pop(key)[2].cancel()


class CredkitAutograde(Autograde):
    """nbgrader's Autograde with the execute step in the credkit sandbox."""

    # The course's own list, with its execute step always the sandbox's (see the validator):
    # nbgrader_config.py cannot put the unsandboxed Execute back. Not configurable: a deleted
    # test cell cannot keep an earlier grade.
    autograde_preprocessors = List(sandboxed_preprocessors()).tag(config=True)
    sanitize_preprocessors = List(sanitize_preprocessors()).tag(config=False)
    # Not configurable either: the prefetch hands its sanitize passes to this exporter.
    exporter_class = Type(SanitizeOnceExporter, klass=SanitizeOnceExporter).tag(config=False)

    @validate("autograde_preprocessors")
    def _execute_in_the_sandbox(self, proposal: Any) -> list[type]:
        return sandboxed_preprocessors(list(proposal["value"]))

    def __init__(self, *, engine: Engine, progress: Callable[[SubmissionResult], None] | None = None,
                 force: bool = False, **kwargs: Any) -> None:
        # progress: called once per submission with its SubmissionResult; if it is a bound method
        # of an object with set_total(n), that is called first with the number of submissions.
        super().__init__(**kwargs)
        self.force = force
        self.engine = engine
        self.broker = PrefetchBroker(engine, window=2 * engine.workers)
        self.progress = progress
        self.result = BatchResult(engine=engine.name, workers=engine.workers)
        self._sanitizer: SanitizeOnceExporter | None = None
        self._limits = SandboxedExecute(parent=self).limits()
        self._batch_key = uuid.uuid4().hex
        # nbgrader's CourseDirectory calls self.fail() on a garbage timestamp.txt, a method it does
        # not have (an AttributeError traceback): make it the submission's one-line failure instead.
        self.coursedir.fail = _submission_problem  # type: ignore[attr-defined]
        self._left_out: tuple[str, ...] = ()
        register_batch(self._batch_key, BatchContext(self.broker, self.coursedir, dict(self.exclude_overwriting),
                                                     self._note_left_out))

    # -- plumbing ----------------------------------------------------------------------------

    def init_single_notebook_resources(self, notebook_filename: str) -> dict[str, Any]:
        resources = super().init_single_notebook_resources(notebook_filename)
        resources["credkit"] = {"batch": self._batch_key}
        return resources

    def _parse(self, path: str) -> tuple[str, str]:
        regexp = self._format_source("(?P<assignment_id>.*)", "(?P<student_id>.*)", escape=True)
        m = re.match(regexp, path)
        if m is None:
            raise GradingError(f"cannot tell learner and assessment from {path}")
        return m.group("assignment_id"), m.group("student_id")

    def _dest(self, assignment: str, student: str) -> str:
        return os.path.normpath(self._format_dest(assignment, student))

    def _is_done(self, store: ProvenanceStore, assignment: str, student: str) -> bool:
        """Side-effect-free: would nbgrader skip this submission as already graded?"""
        if self.force or not os.path.exists(self._dest(assignment, student)):
            return False
        status = store.status(assignment, student)
        if status is None or status[0] != "graded":
            return False
        new = self.coursedir.get_existing_timestamp(self._format_source(assignment, student))
        old = self.coursedir.get_existing_timestamp(self._dest(assignment, student))
        return not (new is not None and old is not None and new > old)

    def _sanitized(self, notebook_path: str) -> str | None:
        """Sanitize a submitted notebook ahead of its turn; the notebook text to prefetch with.

        The result is kept for nbgrader's own sanitize pass (see SanitizeOnceExporter), so each
        submission is sanitized once.
        """
        if self._sanitizer is None:
            self._sanitizer = SanitizeOnceExporter(parent=self, config=self.config)
            for pp in self.sanitize_preprocessors:
                self._sanitizer.register_preprocessor(pp)
        try:
            done = self._sanitizer.sanitize(notebook_path, self.init_single_notebook_resources(notebook_path))
        except Exception:  # the real pass will meet the same problem and record it
            return None
        self.exporter.keep(notebook_path, done)
        # what SandboxedExecute will send: nbgrader reads the written output back before executing
        return nbformat.writes(nbformat.reads(done.output, as_version=4))

    def _top_up(self, store: ProvenanceStore, pending: list[str], start: int) -> None:
        from .execute import build_job

        i = start
        while self.broker.room() > 0 and i < len(pending):
            path = pending[i]
            i += 1
            assignment, student = self._parse(path)
            keys = [(assignment, student, os.path.splitext(os.path.basename(p))[0])
                    for p in sorted(self.assignments[path])]
            if all(self.broker.has(key) for key in keys) or self._is_done(store, assignment, student):
                continue  # already in flight (sanitizing costs as much as scoring) or already graded
            for nb_path in sorted(self.assignments[path]):
                if self.broker.room() <= 0:
                    break
                notebook_id = os.path.splitext(os.path.basename(nb_path))[0]
                if self.broker.has((assignment, student, notebook_id)):
                    continue
                text = self._sanitized(nb_path)
                if text is None:
                    continue
                try:
                    job = build_job(nbformat.reads(text, as_version=4), self.coursedir, assignment, student,
                                    notebook_id, exclude_overwriting=self.exclude_overwriting.get(assignment, []),
                                    disk_bytes=self._limits.disk_bytes)
                except Exception:  # the real pass will meet the same problem and record it
                    continue
                self.broker.prefetch((assignment, student, notebook_id), job, self._limits)

    def _forget_sanitized(self, path: str) -> None:
        """Drop sanitize passes kept for a submission that nbgrader will not convert now."""
        for nb_path in self.assignments[path]:
            self.exporter.forget(nb_path)

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        """nbgrader's, except the files: it would copy the submission following links, every source
        file, and Python's start-up files. Here nbgrader copies none, and the files of
        :func:`~grading.execute.autograded_files` are written instead (read without following links)."""
        from .execute import autograded_files

        ignore = list(self.coursedir.ignore)
        self.coursedir.ignore = ["*", ".*"]  # nbgrader's copy loops then find no file at all
        try:
            super().init_assignment(assignment_id, student_id)
        finally:
            self.coursedir.ignore = ignore
        files, left_out = autograded_files(
            self.coursedir, assignment_id, student_id, disk_bytes=self._limits.disk_bytes,
            exclude_overwriting=self.exclude_overwriting.get(assignment_id, []))
        dest = self._dest(assignment_id, student_id)
        for relative, data in sorted(files.items()):
            path = os.path.join(dest, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        self._left_out = tuple(str(item) for item in left_out)
        for item in left_out:
            self.log.warning("%s/%s: left out of autograded/: %s", student_id, assignment_id, item)

    def _note_left_out(self, assignment: str, student: str, left_out: list[LeftOut]) -> None:
        """Files the notebook wrote while graded that were not kept: named in the summary."""
        self._left_out += tuple(str(item) for item in left_out)
        for item in left_out:
            self.log.warning("%s/%s: left out of autograded/: %s", student, assignment, item)

    @staticmethod
    def _fault(stage: str, student: str) -> None:
        if os.environ.get(FAULT_ENV) == f"{stage}:{student}":
            os._exit(70)

    # -- the batch ---------------------------------------------------------------------------

    def start(self) -> None:
        with shared_gradebook_engines(), new_gradebooks_stamped_in_process(), schemas_checked_once():
            super().start()

    def init_notebooks(self) -> None:
        try:
            super().init_notebooks()
        except NbGraderException as exc:
            raise GradingError(f"{self.coursedir.root}: {exc}") from None

    def convert_notebooks(self) -> None:
        started = time.monotonic()
        pending = sorted(self.assignments)
        sink = getattr(self.progress, "__self__", None)
        if sink is not None and hasattr(sink, "set_total"):
            sink.set_total(len(pending))
        store = ProvenanceStore(provenance_path(self.coursedir.db_url, self.coursedir.root))
        try:
            for index, path in enumerate(pending):
                self.notebooks = sorted(self.assignments[path])
                assignment, student = self._parse(path)
                t0 = time.monotonic()
                try:
                    done = self._is_done(store, assignment, student)
                except SubmissionProblem as exc:
                    store.set_status(assignment, student, "failed", str(exc))
                    self._report(SubmissionResult(assignment, student, "failed", str(exc), time.monotonic() - t0))
                    continue
                if done:
                    self._report(SubmissionResult(assignment, student, "skipped", "already graded"))
                    continue
                dest = self._dest(assignment, student)
                if os.path.exists(dest) and (self.force or (store.status(assignment, student) or ("",))[0] != "graded"):
                    # a stopped or failed run left it half done: grade it again from scratch (with
                    # --notebook, only that notebook, as nbgrader's own init_destination does)
                    if self.coursedir.notebook_id == "*":
                        rmtree(dest)
                    else:
                        for nb_path in self.notebooks:
                            done = os.path.join(dest, os.path.basename(nb_path))
                            if os.path.exists(done):
                                os.remove(done)
                if not self.init_destination(assignment, student):
                    self._forget_sanitized(path)
                    self._report(SubmissionResult(assignment, student, "skipped", "excluded"))
                    continue
                self._top_up(store, pending, index)
                store.set_status(assignment, student, "grading")
                self._left_out = ()
                try:
                    self.run_pre_convert_hook()
                    self.init_assignment(assignment, student)
                    self._fault("started", student)
                    for notebook_filename in self.notebooks:
                        self.convert_single_notebook(notebook_filename)
                        self._fault("notebook", student)
                    self.set_permissions(assignment, student)
                    self._fault("scored", student)
                    store.set_status(assignment, student, "graded")
                    self._fault("recorded", student)
                    self.run_post_convert_hook()
                except KeyboardInterrupt:
                    self._remove(dest)
                    raise
                except sqlalchemy.exc.DatabaseError as exc:  # the gradebook itself (locked, damaged): fatal for the batch
                    self._remove(dest)
                    why = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
                    raise GradingError(f"{self.coursedir.db_url}: the gradebook cannot be used ({why})") from None
                except Exception as exc:
                    reason = _reason(exc)
                    self.log.debug("grading %s failed", path, exc_info=True)
                    self._remove(dest)
                    self.broker.drop_student(assignment, student)
                    self._forget_sanitized(path)
                    store.set_status(assignment, student, "failed", reason)
                    self._report(SubmissionResult(assignment, student, "failed", reason, time.monotonic() - t0,
                                                  self._left_out))
                    continue
                self._report(SubmissionResult(assignment, student, "graded", "", time.monotonic() - t0,
                                              self._left_out))
        finally:
            unregister_batch(self._batch_key)
            store.close()
            self.result.prefetch_hits = self.broker.hits
            self.result.prefetch_misses = self.broker.misses
            self.result.seconds = time.monotonic() - started
            self.result.dask_workers = sorted(getattr(self.engine, "worker_addresses", ()))
            self.result.coordinator_seconds = self.result.seconds - self.broker.waited
            self.result.executions = self.broker.executed
            self.result.execute_seconds = self.broker.execute_seconds

    @staticmethod
    def _remove(dest: str) -> None:
        if os.path.exists(dest):
            rmtree(dest)

    def _report(self, item: SubmissionResult) -> None:
        self.result.submissions.append(item)
        if self.progress is not None:
            self.progress(item)


class SubmissionProblem(GradingError):
    """One submission cannot be graded as it stands (e.g. its timestamp.txt is not a date)."""


def _submission_problem(message: str, *args: object) -> None:
    raise SubmissionProblem(" ".join(str(message).split()))


def _reason(exc: BaseException) -> str:
    text = exc.diagnostics() if hasattr(exc, "diagnostics") else f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:300]
