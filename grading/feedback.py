"""What learners read in their nbgrader feedback: a per-skill section, and no hidden tests.

Two preprocessors for ``nbgrader generate_feedback`` (``credkit release`` adds them to the course's
``nbgrader_config.py``):

- :class:`HideHiddenTests` removes ``### BEGIN HIDDEN TESTS`` regions from test cells and replaces
  the error output of a failed hidden test, whose traceback would quote the hidden code (stock
  nbgrader shows both: jupyter/nbgrader#917, #1363).
- :class:`SkillFeedback` puts a "Skills and credentials" section first: each skill's points, the
  threshold, and what is earned or missing and by how much.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

__all__ = ["HideHiddenTests", "SkillFeedback", "FEEDBACK_PREPROCESSORS", "skill_section", "hide_hidden_regions"]

_HIDDEN_NOTE = "# (hidden tests are not shown)"

FEEDBACK_PREPROCESSORS = [
    "nbgrader.preprocessors.GetGrades",
    "grading.feedback.HideHiddenTests",
    "grading.feedback.SkillFeedback",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def hide_hidden_regions(source: str, begin: str = "BEGIN HIDDEN TESTS",
                        end: str = "END HIDDEN TESTS") -> tuple[str, bool]:
    """``source`` with each hidden-test region replaced by one note line, and whether it had one.

    Regions are read as nbgrader's ClearHiddenTests reads them: a line holding ``begin`` opens one,
    a line holding ``end`` closes it. One pass over the lines, because the cell may be learner text:
    a regex with a lazy ``.*?`` took quadratic time (30,000 unclosed begin lines: 109 s). A region
    left open hides the rest of the cell (nbgrader refuses such a cell at release).
    """
    if begin not in source:
        return source, False
    kept: list[str] = []
    inside = False
    for line in source.split("\n"):
        if inside:
            inside = end not in line
        elif begin in line:
            kept.append(_HIDDEN_NOTE)
            inside = True
        else:
            kept.append(line)
    return "\n".join(kept), True


class HideHiddenTests(NbGraderPreprocessor):
    """Strip hidden tests, and the tracebacks that quote them, from the feedback notebook."""

    def _delimiters(self) -> tuple[str, str]:
        """The course's own hidden-test delimiters (``c.ClearHiddenTests.*``), read once."""
        if not hasattr(self, "_read_delimiters"):
            clear = ClearHiddenTests(config=self.config)
            self._read_delimiters = (clear.begin_test_delimeter, clear.end_test_delimeter)
        return self._read_delimiters

    def preprocess_cell(self, cell: NotebookNode, resources: dict[str, Any], index: int) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type != "code":
            return cell, resources
        source, hidden = hide_hidden_regions(cell.source, *self._delimiters())
        if hidden:
            cell.source = source
            if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
                cell.outputs = [new_output("stream", name="stderr", text="A test in this cell failed (hidden tests are not shown).\n")]
            else:
                # Anything a hidden test printed could reveal it as well.
                cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") not in ("stream", "display_data", "execute_result")]
        return cell, resources


def _course_root(config: Any) -> Path:
    root = config.get("CourseDirectory", {}).get("root") if config else None
    return Path(str(root)) if root else Path(os.getcwd())


def _percent(value: float) -> str:
    return f"{value:.0f}%" if abs(value - round(value)) < 0.05 else f"{value:.1f}%"


def skill_section(course: Path, assignment: str, learner: str, db_url: str) -> str | None:
    """The markdown section for one learner's feedback, or None if the assessment has no manifest."""
    from .awards import read_grades
    from .config import load_course_config
    from .course import released_assessment, released_ids
    from .manifest import earned_credentials, score_skills

    if assignment not in released_ids(course):
        return None
    assessment = released_assessment(course, assignment)
    course_id = load_course_config(course).course_id
    graded = read_grades(db_url, course_id, assignment, [learner]) if db_url else []
    if not graded:
        return None
    scores = score_skills(assessment, graded[0].cells)
    earned = {rule.id for rule in earned_credentials(assessment, scores)}
    lines = ["## Skills and credentials", ""]
    lines.append("| skill | your points | needed for the credential | |")
    lines.append("|---|---|---|---|")
    for rule in assessment.credentials.values():
        for threshold in rule.requires:
            score = scores[threshold.skill]
            name = assessment.skills[threshold.skill].name
            possible = float(score.possible)
            needed = float(threshold.needed(score.possible))
            have = float(score.earned)
            if score.pending:
                state = "waiting for manual grading"
            elif have >= needed:
                state = "✔ met"
            else:
                state = f"{needed - have:g} more point(s) needed"
            mine = f"{have:g} of {possible:g} ({_percent(100 * have / possible)})" if possible else "–"
            lines.append(f"| {name} | {mine} | {needed:g} ({_percent(100 * needed / possible) if possible else '–'}) | {state} |")
    lines.append("")
    for rule in assessment.credentials.values():
        if rule.id in earned:
            lines.append(f"- **{rule.name}**: earned. It arrives in your Credentials panel in JupyterLab.")
        else:
            missing = []
            for t in rule.requires:
                score = scores[t.skill]
                if score.pending:
                    missing.append(f"{assessment.skills[t.skill].name}: waiting for manual grading")
                elif score.earned < t.needed(score.possible):
                    have = 100 * float(score.earned) / float(score.possible) if score.possible else 0.0
                    need = 100 * float(t.needed(score.possible)) / float(score.possible) if score.possible else 0.0
                    missing.append(f"{assessment.skills[t.skill].name}: {_percent(have)}, {_percent(need)} needed")
            lines.append(f"- **{rule.name}**: not yet — " + "; ".join(missing) + ".")
    lines.append("")
    lines.append("_Points are before any late penalty. Hidden tests count but are not shown._")
    return "\n".join(lines)


class SkillFeedback(NbGraderPreprocessor):
    """Insert the learner's per-skill section at the top of the feedback."""

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        info = resources.get("nbgrader", {})
        section = skill_section(_course_root(self.config), info.get("assignment", ""), info.get("student", ""), info.get("db_url", ""))
        if section:
            nb.cells.insert(0, new_markdown_cell(section))
        return nb, resources
