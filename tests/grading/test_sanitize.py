"""Sanitize once: a conversion run ahead is reused only for the very text it converted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor
from nbformat.v4 import new_code_cell, new_notebook

from grading.sanitize import SanitizeOnceExporter


class Stamp(Preprocessor):
    """Records each run in the notebook, and logs it, so a reuse is visible."""

    runs = 0

    def preprocess(self, nb: Any, resources: Any) -> Any:
        Stamp.runs += 1
        nb.metadata["stamp"] = Stamp.runs
        self.log.warning("stamped %s", Stamp.runs)
        return nb, resources


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _exporter(*preprocessors: type, log: logging.Logger | None = None) -> SanitizeOnceExporter:
    exporter = SanitizeOnceExporter(log=log) if log else SanitizeOnceExporter()
    for pp in preprocessors:
        exporter.register_preprocessor(pp, enabled=True)
    return exporter


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    Stamp.runs = 0
    path = tmp_path / "problem1.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), path)
    return path


def test_real_pass_reuses_the_pass_run_ahead_and_logs_its_warnings_then(notebook: Path) -> None:
    log = logging.getLogger("credkit.test_sanitize")  # the converter's logger, in the batch
    log.propagate = False
    log.setLevel(logging.WARNING)
    collect = Collect()
    log.addHandler(collect)
    try:
        ahead = _exporter(Stamp, log=log).sanitize(str(notebook), {})
        assert collect.messages == []  # held back until the result is used
        real = _exporter(Stamp, log=log)
        real.keep(str(notebook), ahead)
        output, _ = real.from_filename(str(notebook), {})
    finally:
        log.removeHandler(collect)
    assert output == ahead.output and Stamp.runs == 1
    assert collect.messages == ["stamped 1"]


def test_a_changed_file_is_sanitized_again(notebook: Path) -> None:
    ahead = _exporter(Stamp).sanitize(str(notebook), {})
    nbformat.write(new_notebook(cells=[new_code_cell("x = 2")]), notebook)
    real = _exporter(Stamp)
    real.keep(str(notebook), ahead)
    output, _ = real.from_filename(str(notebook), {})
    assert Stamp.runs == 2
    assert nbformat.reads(output, as_version=4).cells[0].source == "x = 2"


def test_other_preprocessors_do_not_reuse_it(notebook: Path) -> None:
    ahead = _exporter(Stamp).sanitize(str(notebook), {})
    real = _exporter(Stamp, ClearOutputPreprocessor)
    real.keep(str(notebook), ahead)
    real.from_filename(str(notebook), {})
    assert Stamp.runs == 2


def test_a_kept_pass_is_used_once(notebook: Path) -> None:
    real = _exporter(Stamp)
    real.keep(str(notebook), _exporter(Stamp).sanitize(str(notebook), {}))
    real.from_filename(str(notebook), {})
    real.from_filename(str(notebook), {})
    assert Stamp.runs == 2
