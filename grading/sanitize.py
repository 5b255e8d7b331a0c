"""Sanitize each submission once, with nbgrader's own sanitize preprocessors.

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

__all__ = ["SanitizeOnceExporter", "Sanitized"]


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

    def _registered(self) -> tuple[tuple[type, bool], ...]:
        return tuple((type(pp), bool(pp.enabled)) for pp in self._preprocessors)

    def from_file(self, file_stream: Any, resources: dict[str, Any] | None = None,
                  **kw: Any) -> tuple[Any, dict[str, Any]]:
        # NotebookExporter's own, keeping the exact text converted for sanitize()
        self._source = file_stream.read()
        return self.from_notebook_node(nbformat.reads(self._source, as_version=4), resources=resources, **kw)

    def sanitize(self, filename: str, resources: dict[str, Any]) -> Sanitized:
        """Convert ``filename`` now; what the preprocessors log is held back until the result is used."""
        hold = _Hold()
        self.log.addFilter(hold)
        try:
            output, resources = super().from_filename(filename, resources)
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
        if done is not None and done.preprocessors == self._registered():
            with open(filename, encoding="utf-8") as fh:  # as nbconvert reads it
                unchanged = fh.read() == done.source
            if unchanged:
                for record in done.records:
                    self.log.handle(record)
                return done.output, done.resources
        return super().from_filename(filename, resources, **kw)
