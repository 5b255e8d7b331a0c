"""Which assessments a course has released, and where their manifests live.

``credkit release`` records each assessment in ``<course>/credkit/released.json`` (its manifest and
track file, with their sha256 at release). Issuing reads the manifest from there — from the
instructor's sources, never from anything a learner submitted — and refuses a manifest that changed
since release, because the released notebooks and the skill map would no longer match.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from kit.errors import ManifestError
from kit.fileio import write_atomic

from .manifest import TRACK_NAME, Assessment, Track, load_assessment, load_track

__all__ = ["CREATED_MARK", "REGISTRY", "feedback_config_lines", "html_config_lines", "missing_config_lines", "released_source_files", "ensure_feedback_config", "record_release", "released_ids", "released_assessment", "released_track"]

REGISTRY = Path("credkit") / "released.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(course: Path) -> dict[str, Any]:
    path = course / REGISTRY
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: unreadable ({exc.__class__.__name__}); release the assessments again") from None
    return data if isinstance(data, dict) else {}


def record_release(course: Path, assessment: Assessment, source_files: dict[str, str] | None = None) -> None:
    """Remember where the released assessment's manifest (and track file, if any) are, and the
    sha256 of each file release copied into ``source/<id>/`` (the only files it may replace later)."""
    registry = _read(course)
    track = assessment.folder.parent / TRACK_NAME
    registry[assessment.id] = {
        "manifest": str(assessment.path.resolve()),
        "manifest_sha256": _sha256(assessment.path),
        "track": str(track.resolve()) if track.is_file() else None,
        "track_sha256": _sha256(track) if track.is_file() else None,
        "source_files": dict(sorted((source_files or {}).items())),
    }
    (course / REGISTRY).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(course / REGISTRY, json.dumps(registry, indent=2, sort_keys=True) + "\n")


def released_source_files(course: Path, assignment: str) -> dict[str, str]:
    """name -> sha256 of the files an earlier release copied into ``source/<assignment>/``."""
    entry = _read(course).get(assignment) or {}
    files = entry.get("source_files") if isinstance(entry, dict) else None
    return dict(files) if isinstance(files, dict) else {}


_CONFIG_MARK = "# credkit: learners' feedback"
CREATED_MARK = "# nbgrader course configuration, created by `credkit release`."


_HTML_MARK = "# credkit: learner HTML"
_FEEDBACK_LINE = "c.GenerateFeedback.preprocessors = "
_HTML_LINES = "from grading.safe_html import sanitize_notebook_html\nsanitize_notebook_html(c)  # noqa: F821"


def feedback_config_lines() -> str:
    """The line that makes ``nbgrader generate_feedback`` show skills and hide hidden tests."""
    from .feedback import FEEDBACK_PREPROCESSORS

    return f"{_FEEDBACK_LINE}{FEEDBACK_PREPROCESSORS!r}"


def html_config_lines() -> str:
    """The lines that make every HTML view of a notebook (feedback, formgrader) sanitize learner
    HTML; ``sandbox_autograde(c)`` (the hook) does the same."""
    return _HTML_LINES


def missing_config_lines(text: str) -> str:
    """What of :func:`feedback_config_lines` and :func:`html_config_lines` a configuration's text lacks."""
    missing = []
    if _CONFIG_MARK not in text and feedback_config_lines() not in text:
        missing.append(feedback_config_lines())
    if _HTML_MARK not in text and "sanitize_notebook_html(c)" not in text and "sandbox_autograde(c)" not in text:
        missing.append(html_config_lines())
    return "\n".join(missing)


def ensure_feedback_config(course: Path) -> str:
    """Put the feedback and HTML lines in the course's configuration, where they are missing.

    Only in an ``nbgrader_config.py`` that credkit created: an instructor's own file is never
    rewritten. Returns the lines the course's own file still lacks ("" when none: the caller says so).
    """
    config = course / "nbgrader_config.py"
    text = config.read_text(encoding="utf-8") if config.exists() else "c = get_config()  # noqa: F821\n"
    missing = missing_config_lines(text)
    if not missing:
        return ""
    if config.exists() and not text.startswith(CREATED_MARK):
        return missing
    block = ""
    if feedback_config_lines() in missing:
        block += (f"\n{_CONFIG_MARK} shows per-skill results and never hidden tests (added by credkit release).\n"
                  f"{feedback_config_lines()}\n")
    if html_config_lines() in missing:
        block += (f"\n{_HTML_MARK} is sanitized in the feedback and the formgrader: no script of theirs runs "
                  f"(added by credkit release).\n{html_config_lines()}\n")
    write_atomic(config, text.rstrip("\n") + "\n" + block)
    return ""


def released_ids(course: Path) -> list[str]:
    return sorted(_read(course))


def _entry(course: Path, assignment: str) -> dict[str, Any]:
    entry = _read(course).get(assignment)
    if entry is None:
        raise ManifestError(f"{course / REGISTRY}: assessment {assignment!r} was not released with credkit release")
    return entry


def released_assessment(course: Path, assignment: str) -> Assessment:
    """The manifest of a released assessment; ManifestError if it moved or changed since release."""
    entry = _entry(course, assignment)
    manifest = Path(entry["manifest"])
    if not manifest.is_file():
        raise ManifestError(f"{manifest}: the manifest of released assessment {assignment!r} is gone")
    if _sha256(manifest) != entry["manifest_sha256"]:
        raise ManifestError(f"{manifest}: changed since it was released; run credkit release again")
    return load_assessment(manifest)


def released_track(course: Path, assignment: str) -> Track | None:
    """The track the assessment belongs to (for stacked credentials), if it has one."""
    entry = _entry(course, assignment)
    if not entry.get("track"):
        return None
    track_file = Path(entry["track"])
    if not track_file.is_file() or _sha256(track_file) != entry["track_sha256"]:
        raise ManifestError(f"{track_file}: the track file changed or moved since release; run credkit release again")
    return load_track(track_file.parent)
