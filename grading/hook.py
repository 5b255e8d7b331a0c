"""The nbgrader hook: make stock ``nbgrader autograde`` (and the formgrader's autograde button)
execute through credkit's sandbox. In ``nbgrader_config.py``::

    from grading.hook import sandbox_autograde
    sandbox_autograde(c)

It swaps nbgrader's ``Execute`` for :class:`~grading.execute.SandboxedExecute` in
``Autograde.autograde_preprocessors`` and appends :class:`~grading.execute.RecordProvenance`,
keeping every other preprocessor nbgrader runs, in nbgrader's order.
"""

from __future__ import annotations

from typing import Any

from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, OverwriteCells

from kit.errors import GradingError

from .execute import RecordProvenance, SandboxedExecute
from .safe_html import sanitize_notebook_html
from .sanitize import RestoreMissingCells, SanitizeOnceExporter
from .submitted_files import STARTUP_IGNORE

__all__ = ["sandbox_autograde", "sandboxed_preprocessors", "sanitize_preprocessors"]


def sandboxed_preprocessors(course: list[Any] | None = None, where: str = "nbgrader_config.py") -> list[type]:
    """A course's autograde preprocessors (nbgrader's when it sets none) with the execute step
    sandboxed and provenance recorded: any preprocessor that executes the notebook (nbgrader's
    Execute, a course's subclass of it, nbconvert's ExecutePreprocessor) becomes
    SandboxedExecute; every other one is the instructor's and stays, in the course's order."""
    from nbconvert.preprocessors import ExecutePreprocessor
    from traitlets.utils.importstring import import_item

    if course is None:
        course = Autograde.class_traits()["autograde_preprocessors"].default()
    steps: list[type] = []
    for pp in course:
        try:
            cls = import_item(pp) if isinstance(pp, str) else pp
        except (ImportError, ValueError, AttributeError) as exc:
            raise GradingError(f"{where}: c.Autograde.autograde_preprocessors names {pp!r}, "
                               f"which cannot be imported ({exc})") from None
        if cls is RecordProvenance:
            continue  # appended once, last
        if cls is SandboxedExecute or (isinstance(cls, type) and issubclass(cls, (Execute, ExecutePreprocessor))):
            cls = SandboxedExecute
        steps.append(cls)
    if SandboxedExecute not in steps:
        # Without an execute step nbgrader scores the outputs the learner submitted.
        raise GradingError(f"{where}: c.Autograde.autograde_preprocessors has no execute step; "
                           "credkit grades only notebooks it ran in its sandbox")
    return steps + [RecordProvenance]


def sanitize_preprocessors() -> list[type]:
    """nbgrader's sanitize preprocessors with every missing grade cell restored (it scores zero)."""
    stock = Autograde.class_traits()["sanitize_preprocessors"].default()
    return [RestoreMissingCells if pp is OverwriteCells else pp for pp in stock]


def sandbox_autograde(c: Any) -> None:
    """Configure ``c`` (the ``get_config()`` of nbgrader_config.py) to autograde in the sandbox."""
    # The course's own list when it set one above the hook, its execute step sandboxed.
    course = list(c.Autograde.autograde_preprocessors) if "autograde_preprocessors" in c.Autograde else None
    c.Autograde.autograde_preprocessors = sandboxed_preprocessors(course)
    # A test cell missing from the submission is restored and scores zero: no grade carries over;
    # a notebook reached through a link is refused (see sanitize.py).
    c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
    c.Autograde.exporter_class = SanitizeOnceExporter
    # Learner HTML in the formgrader's views and the feedback is sanitized (see safe_html.py).
    sanitize_notebook_html(c)
    # nbgrader copies a submission's files itself here: at least Python's and Jupyter's start-up
    # files by name never reach autograded/ (credkit grade leaves out the whole class, and links).
    ignore = list(c.CourseDirectory.ignore) if "ignore" in c.CourseDirectory else \
        CourseDirectory.class_traits()["ignore"].default()
    c.CourseDirectory.ignore = [*ignore, *(name for name in STARTUP_IGNORE if name not in ignore)]
