"""Sanitize each submission once, with nbgrader's own sanitize preprocessors; refuse links; restore
missing test cells.

A submitted notebook reached through a symbolic link (the file itself, or any folder above it
inside ``submitted/``) is refused on its own: nbgrader is handed the blank released notebook in its
place, so that notebook scores what a blank one scores, and the rest of the submission is graded as
usual. A submitted notebook larger than ``c.SandboxedExecute.notebook_bytes`` fails its submission as
too large, checked by its size before anything reads it. :class:`RestoreMissingCells` is nbgrader's ``OverwriteCells`` with missing grade cells always
restored (they then score zero, see execute.py), placed correctly whatever else is missing.

``credkit grade`` sanitizes submissions ahead of their turn to start their execution early
(prefetch); nbgrader's real sanitize pass used to sanitize the same file a second time.
:class:`SanitizeOnceExporter` is both the prefetch's exporter and the converter's: the prefetch
converts with :meth:`~SanitizeOnceExporter.sanitize` and hands the result to the converter's
exporter with :meth:`~SanitizeOnceExporter.keep`; nbgrader's real pass then gets it back from
``from_filename`` instead of running the preprocessors again. It is used only if the file's text is
still exactly the text that was sanitized and the exporter is set up with the same preprocessors;
anything else converts as usual. (The sanitize preprocessors also read the assessment's source cells
from the gradebook, which autograding never writes.)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, cast

import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import OverwriteCells
from traitlets import Bool

from kit.errors import GradingError

__all__ = ["SanitizeOnceExporter", "Sanitized", "RestoreMissingCells", "NotebookTooLarge", "check_notebook_size",
           "is_link_free"]

log = logging.getLogger("credkit.grading")


class NotebookTooLarge(GradingError):
    """A submitted notebook is larger than ``c.SandboxedExecute.notebook_bytes``."""


def check_notebook_size(path: str, limit: int) -> None:
    """Raise NotebookTooLarge when the file at ``path`` (not followed if a link) exceeds ``limit`` bytes.

    Checked before anything parses the file: parsing takes many times a notebook's size in memory
    (a 100 MiB markdown cell took the grader to about 1 GB).
    """
    size = os.lstat(path).st_size
    if size > limit:
        raise NotebookTooLarge(f"{path}: too large: {size:,} bytes, the limit is {limit:,} "
                               f"(c.SandboxedExecute.notebook_bytes)")


def is_link_free(path: str) -> bool:
    """True when ``path`` is a regular file reached without following any symbolic link."""
    absolute = os.path.abspath(path)
    return os.path.realpath(absolute) == absolute and os.path.isfile(absolute) and not os.path.islink(absolute)


class RestoreMissingCells(OverwriteCells):
    """nbgrader's OverwriteCells, with every grade cell missing from a submission put back.

    nbgrader's own ``add_missing_cells`` fails (KeyError) when the cell before a missing one in the
    source is one the learner also deleted, or a locked cell; this one inserts each missing cell
    after the nearest earlier source cell the notebook still has. Always on: a deleted test cell
    must never keep the grade of an earlier submission.
    """

    add_missing_cells = Bool(True).tag(config=False)

    def preprocess(self, nb, resources):  # type: ignore[no-untyped-def]
        self._seen: set[str] = set()
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):  # type: ignore[no-untyped-def]
        """Cell ids a learner edited never fail the notebook: a second cell with an id already seen
        (a copy) and a cell whose id the source does not have (renamed) become plain cells; the
        source's own cell is then restored if it is missing. (nbgrader drops only the unknown id and
        keeps the rest of its metadata, which its own add_missing_task_cells then fails on.)"""
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            if "nbgrader" in cell.metadata:  # nbgrader's DeduplicateIds empties a copy's metadata
                del cell.metadata["nbgrader"]
            return cell, resources
        if grade_id in self._seen:
            self.log.warning("Cell '%s' appears twice: the copy is graded as a plain cell", grade_id)
            del cell.metadata["nbgrader"]
            return cell, resources
        self._seen.add(grade_id)
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if "grade_id" not in cell.metadata.get("nbgrader", {"grade_id": None}):
            del cell.metadata["nbgrader"]
        return cell, resources

    def add_missing_grade_cells(self, nb, resources):  # type: ignore[no-untyped-def]
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = source_nb.source_cells
        source_ids = [cell.name for cell in source_cells]
        solution_ids = {cell.name for cell in source_nb.solution_cells}
        grade_cells = {cell.name: cell for cell in source_nb.grade_cells}

        def present() -> dict[str, int]:
            # (the cells nbgrader adds are NotebookNodes holding plain dicts: index, don't dot)
            found = {}
            for i, cell in enumerate(nb.cells):
                grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
                if grade_id is not None:
                    found[grade_id] = i
            return found

        for position, grade_id in enumerate(source_ids):
            if grade_id not in grade_cells or grade_id in present():
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", grade_id)
            cell = self.missing_cell_transform(source_cells[position], grade_cells[grade_id].max_score,
                                               is_solution=grade_id in solution_ids)
            where = present()
            before = next((where[i] for i in reversed(source_ids[:position]) if i in where), -1)
            nb.cells.insert(before + 1, cell)
        return nb, resources


def _released_notebook(exporter: NotebookExporter, filename: str) -> str | None:
    """The blank released notebook that stands in for a refused submitted one, if there is one."""
    coursedir = getattr(exporter.parent, "coursedir", None)
    if coursedir is None:
        return None
    assignment = os.path.basename(os.path.dirname(os.path.abspath(filename)))
    path = os.path.join(coursedir.format_path(coursedir.release_directory, ".", assignment), os.path.basename(filename))
    return path if is_link_free(path) else None


@dataclass(frozen=True)
class Sanitized:
    """One notebook file converted ahead of nbgrader's pass."""

    source: str  # the file's text that was converted
    preprocessors: tuple[tuple[type, bool], ...]  # each one's class and whether it was enabled
    output: str
    resources: dict[str, Any]
    records: tuple[logging.LogRecord, ...]  # what the preprocessors logged, emitted when it is used


class _Hold(logging.Filter):
    """Keeps a logger's records instead of letting them through."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False


class SanitizeOnceExporter(NotebookExporter):
    """nbgrader's notebook exporter, able to hand back a conversion that was run ahead."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ahead: dict[str, Sanitized] = {}
        self._source = ""

    def _notebook_bytes(self) -> int:
        """The course's ``c.SandboxedExecute.notebook_bytes``."""
        from .execute import SandboxedExecute

        if not hasattr(self, "_limit"):
            self._limit = SandboxedExecute(config=self.config).notebook_bytes
        return self._limit

    def _registered(self) -> tuple[tuple[type, bool], ...]:
        return tuple((type(pp), bool(pp.enabled)) for pp in self._preprocessors)

    def from_file(self, file_stream: Any, resources: dict[str, Any] | None = None,
                  **kw: Any) -> tuple[Any, dict[str, Any]]:
        # NotebookExporter's own, keeping the exact text converted for sanitize()
        self._source = file_stream.read()
        return self.from_notebook_node(nbformat.reads(self._source, as_version=4), resources=resources, **kw)

    def _convert(self, filename: str, resources: dict[str, Any] | None, **kw: Any) -> tuple[Any, dict[str, Any]]:
        """nbconvert's from_filename, refusing a submitted notebook reached through a link or too large."""
        if is_link_free(filename):
            check_notebook_size(filename, self._notebook_bytes())
            return super().from_filename(filename, resources, **kw)
        self.log.warning("%s: refused, it is (or is reached through) a symbolic link; graded as the blank "
                         "released notebook", filename)
        stand_in = _released_notebook(self, filename)
        if stand_in is not None:
            return super().from_filename(stand_in, resources, **kw)
        self._source = ""
        return self.from_notebook_node(nbformat.v4.new_notebook(), resources=resources, **kw)

    def sanitize(self, filename: str, resources: dict[str, Any]) -> Sanitized:
        """Convert ``filename`` now; what the preprocessors log is held back until the result is used."""
        hold = _Hold()
        self.log.addFilter(hold)
        try:
            output, resources = self._convert(filename, resources)
        finally:
            self.log.removeFilter(hold)
        # a NotebookExporter's output is the notebook's JSON text (nbconvert annotates it as a node)
        return Sanitized(self._source, self._registered(), cast(str, output), resources, tuple(hold.records))

    def keep(self, filename: str, sanitized: Sanitized) -> None:
        """Use ``sanitized`` for the next conversion of ``filename``, if it still applies then."""
        self._ahead[os.path.abspath(filename)] = sanitized

    def forget(self, filename: str) -> None:
        self._ahead.pop(os.path.abspath(filename), None)

    def from_filename(self, filename: str, resources: dict[str, Any] | None = None,
                      **kw: Any) -> tuple[Any, dict[str, Any]]:
        done = self._ahead.pop(os.path.abspath(filename), None)
        if done is not None and done.preprocessors == self._registered() and is_link_free(filename):
            with open(filename, encoding="utf-8") as fh:  # as nbconvert reads it
                unchanged = fh.read() == done.source
            if unchanged:
                for record in done.records:
                    self.log.handle(record)
                return done.output, done.resources
        return self._convert(filename, resources, **kw)
