"""ipywidgets for notebooks: credential cards, and the skill-progress check a learner runs in an assessment.

``SkillProgress("ps1.ipynb")`` runs the notebook's *visible* tests through nbgrader's validation
(a fresh kernel, nbgrader's own execution and scoring rule) and shows, per skill, which visible
tests pass, and what each credential requires. It reads the learner-safe skill map that
``credkit release`` ships next to the notebook, ``credkit-skills.json`` (format 1: skills with their
``visible_tests`` and ``possible`` points, credentials' ``requires`` with ``points_needed``); a
short form is read too::

    {"skills": [{"id": "groupby", "name": "Aggregate with groupby", "tests": ["test_groupby", ...]}],
     "credentials": [{"id": "https://…/pandas", "name": "pandas wrangling", "skills": {"groupby": 0.8}}]}

Hidden tests are not in a released notebook, so they are never run or revealed here; the check
says so, because grading counts them.

``CredentialCard(path)`` shows one credential (JSON or baked PNG/SVG) verified by the kit;
``wallet_cards()`` shows every credential in the learner's wallet.
"""

from __future__ import annotations

import base64
import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from kit.artwork import badge_svg, credential_artwork_inputs
from kit.baking import unbake
from kit.errors import CredkitError, ManifestError

__all__ = ["CredentialCard", "Requirement", "SkillMap", "SkillProgress", "SkillResult", "run_visible_tests", "wallet_cards"]

SKILL_MAP_FILE = "credkit-skills.json"


# --- the learner-safe skill map ------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    skill: str
    points_needed: float | None  # release's absolute rule: earned points >= points_needed
    fraction: float | None  # or a fraction of the skill's points


@dataclass(frozen=True)
class SkillMap:
    """Skills with their visible test cells, and what each credential requires of which skill."""

    skills: list[dict[str, Any]]  # {"id", "name", "tests": [grade_id], "possible": float | None}
    credentials: list[dict[str, Any]]  # {"id", "name", "requires": [Requirement]}

    @classmethod
    def load(cls, path: Path) -> SkillMap:
        """Parse ``credkit-skills.json``; raises ManifestError naming the file and the problem.

        Reads the map ``credkit release`` writes (``format`` 1: ``visible_tests`` per skill,
        ``requires`` with ``points_needed``) and the short form (``tests`` per skill, credentials'
        ``skills`` as {skill id: threshold fraction}).
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(f"{path}: no skill map here (release ships {SKILL_MAP_FILE} with the notebook)") from None
        except ValueError as exc:
            raise ManifestError(f"{path}: not JSON ({exc})") from None
        raw_skills = data.get("skills") if isinstance(data, dict) else None
        raw_credentials = data.get("credentials", []) if isinstance(data, dict) else None
        if not isinstance(raw_skills, list) or not isinstance(raw_credentials, list):
            raise ManifestError(f"{path}: expected {{'skills': [...], 'credentials': [...]}}")
        skills = []
        for skill in raw_skills:
            if not (isinstance(skill, dict) and isinstance(skill.get("id"), str)):
                raise ManifestError(f"{path}: each skill needs an 'id'")
            if isinstance(skill.get("visible_tests"), list):
                tests = [t["grade_id"] for t in skill["visible_tests"] if isinstance(t, dict) and isinstance(t.get("grade_id"), str)]
            elif isinstance(skill.get("tests"), list):
                tests = [t for t in skill["tests"] if isinstance(t, str)]
            else:
                raise ManifestError(f"{path}: skill {skill['id']!r} lists no tests ('visible_tests' or 'tests')")
            possible = skill.get("possible")
            skills.append({"id": skill["id"], "name": skill.get("name") or skill["id"], "tests": tests,
                           "possible": float(possible) if isinstance(possible, (int, float)) else None})
        ids = {s["id"] for s in skills}
        credentials = []
        for credential in raw_credentials:
            if not isinstance(credential, dict):
                raise ManifestError(f"{path}: each credential must be an object")
            requires: list[Requirement] = []
            if isinstance(credential.get("requires"), list):
                for need in credential["requires"]:
                    needed, fraction = need.get("points_needed"), need.get("fraction")
                    requires.append(Requirement(str(need.get("skill")), float(needed) if needed is not None else None,
                                                float(fraction) if fraction is not None else None))
            elif isinstance(credential.get("skills"), dict):
                for skill_id, threshold in credential["skills"].items():
                    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
                        raise ManifestError(f"{path}: threshold for {skill_id!r} must be a fraction between 0 and 1")
                    requires.append(Requirement(skill_id, None, float(threshold)))
            else:
                raise ManifestError(f"{path}: credential {credential.get('id')!r} says nothing of what it requires")
            for need in requires:
                if need.skill not in ids:
                    raise ManifestError(f"{path}: credential {credential.get('id')!r} requires unknown skill {need.skill!r}")
            credentials.append({"id": credential.get("id"), "name": credential.get("name") or credential.get("id"), "requires": requires})
        return cls(skills=skills, credentials=credentials)


# --- running the visible tests -------------------------------------------------------------------


def run_visible_tests(notebook: Path, *, timeout: int = 60) -> dict[str, tuple[float, float]]:
    """Execute ``notebook`` with nbgrader's validation and score every graded cell in it.

    Returns ``{grade_id: (earned, possible)}`` for the autograded test cells, scored by nbgrader's
    own rule (``nbgrader.utils.determine_grade``: an error or stderr output earns nothing).
    """
    import nbformat
    from nbgrader import utils as nbgrader_utils
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    config.ExecutePreprocessor.timeout = timeout
    validator = Validator(config=config)
    nb = nbformat.read(str(notebook), as_version=4)
    with nbgrader_utils.chdir(str(notebook.parent)):
        # The validator's own pipeline (the same preprocessors `nbgrader validate` runs); its public
        # validate() reports failing sources only, and we need the scores by grade id.
        nb = validator._preprocess(nb)
    scores: dict[str, tuple[float, float]] = {}
    for cell in nb.cells:
        if nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell) and cell.cell_type == "code":
            earned, possible = nbgrader_utils.determine_grade(cell)
            scores[cell.metadata["nbgrader"]["grade_id"]] = (float(earned or 0), float(possible))
    return scores


@dataclass(frozen=True)
class SkillResult:
    id: str
    name: str
    passed: list[str]
    failed: list[str]
    missing: list[str]
    earned: float
    possible: float  # of the visible tests in this notebook
    skill_possible: float | None = None  # of the whole skill, hidden tests included (from the map)

    @property
    def fraction(self) -> float | None:
        total = self.skill_possible or self.possible
        return self.earned / total if total else None

    def meets(self, need: Requirement) -> bool:
        """Whether the visible points already reach what the credential needs of this skill."""
        if need.points_needed is not None:
            return self.earned >= need.points_needed
        fraction = self.fraction
        return fraction is not None and need.fraction is not None and fraction >= need.fraction


def skill_results(skill_map: SkillMap, scores: dict[str, tuple[float, float]]) -> list[SkillResult]:
    results = []
    for skill in skill_map.skills:
        passed, failed, missing, earned, possible = [], [], [], 0.0, 0.0
        for grade_id in skill["tests"]:
            if grade_id not in scores:
                missing.append(grade_id)
                continue
            got, out_of = scores[grade_id]
            earned, possible = earned + got, possible + out_of
            (passed if got >= out_of else failed).append(grade_id)
        results.append(SkillResult(skill["id"], skill["name"], passed, failed, missing, earned, possible, skill.get("possible")))
    return results


# --- widgets -------------------------------------------------------------------------------------

_STYLE = """<style>
.credkit-w {font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; color: var(--jp-ui-font-color1, #222)}
.credkit-w table {border-collapse: collapse; margin: 6px 0}
.credkit-w td, .credkit-w th {padding: 3px 10px; border-bottom: 1px solid var(--jp-border-color2, #ddd); text-align: left}
.credkit-w .pass {color: #1a7f37; font-weight: 600} .credkit-w .fail {color: #cf222e; font-weight: 600}
.credkit-w .muted {color: var(--jp-ui-font-color2, #666)}
.credkit-w .pill {border-radius: 10px; padding: 1px 8px; color: #fff; font-size: 11px; font-weight: 600}
.credkit-w .verified {background: #1a7f37} .credkit-w .invalid, .credkit-w .revoked {background: #cf222e}
.credkit-w .expired, .credkit-w .suspended, .credkit-w .not-yet-valid {background: #b35900}
.credkit-card-w {display: flex; gap: 12px; border: 1px solid var(--jp-border-color2, #ddd); border-radius: 6px; padding: 10px; margin: 6px 0; max-width: 640px}
</style>"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


class SkillProgress(widgets.VBox):
    """Check which skills this notebook's visible tests show, and what each credential needs."""

    def __init__(self, notebook: str | os.PathLike[str], *, skill_map: str | os.PathLike[str] | None = None, timeout: int = 60) -> None:
        self.notebook = Path(notebook).resolve()
        self.skill_map_path = Path(skill_map).resolve() if skill_map else self.notebook.parent / SKILL_MAP_FILE
        self.timeout = timeout
        self.button = widgets.Button(description="Check my skills", icon="check", tooltip="Run this notebook's visible tests (save it first)")
        self.view = widgets.HTML(_STYLE + '<div class="credkit-w muted">Save the notebook, then check which skills your work shows so far.</div>')
        self.results: list[SkillResult] = []
        self.button.on_click(lambda _button: self.check())
        super().__init__([self.button, self.view])

    def check(self) -> list[SkillResult]:
        """Run the visible tests now and show the result; returns it per skill."""
        if os.environ.get("NBGRADER_VALIDATING"):
            # this notebook is itself being validated: do not start a validation inside it
            return []
        self.button.disabled = True
        self.view.value = _STYLE + '<div class="credkit-w muted">Running the visible tests in a fresh kernel…</div>'
        try:
            skill_map = SkillMap.load(self.skill_map_path)
            scores = run_visible_tests(self.notebook, timeout=self.timeout)
        except CredkitError as exc:
            self.view.value = _STYLE + f'<div class="credkit-w fail">{_e(exc.diagnostics())}</div>'
            return []
        except Exception as exc:  # nbgrader/nbclient failures: show them to the learner, one line
            self.view.value = _STYLE + f'<div class="credkit-w fail">Could not run the tests: {_e(exc)}</div>'
            return []
        finally:
            self.button.disabled = False
        self.results = skill_results(skill_map, scores)
        self.view.value = _STYLE + self._render(skill_map, self.results)
        return self.results

    @staticmethod
    def _render(skill_map: SkillMap, results: list[SkillResult]) -> str:
        by_id = {r.id: r for r in results}
        rows = []
        for r in results:
            state = "pass" if r.possible and not r.failed else "fail"
            of = f" (of {r.skill_possible:g} in all)" if r.skill_possible and r.skill_possible != r.possible else ""
            fraction = f"{r.earned:g} / {r.possible:g} points{of}" if r.possible else "no visible tests in this notebook"
            tests = ", ".join([f"✓ {t}" for t in r.passed] + [f"✗ {t}" for t in r.failed])
            rows.append(
                f'<tr class="credkit-skill credkit-skill-{state}" data-skill="{_e(r.id)}"><td class="{state}">{"✓" if state == "pass" else "✗"}</td>'
                f"<td>{_e(r.name)}</td><td>{_e(fraction)}</td><td class='muted'>{_e(tests)}</td></tr>"
            )
        credentials = []
        for credential in skill_map.credentials:
            needs = []
            on_track = True
            for need in credential["requires"]:
                result = by_id[need.skill]
                ok = result.meets(need)
                on_track = on_track and ok
                amount = f"{need.points_needed:g} points" if need.points_needed is not None else f"{need.fraction:.0%}"
                needs.append(f'<span class="{"pass" if ok else "fail"}">{_e(result.name)} ≥ {_e(amount)}</span>')
            verdict = "visible tests meet this" if on_track else "not yet"
            credentials.append(
                f'<tr class="credkit-credential" data-on-track="{str(on_track).lower()}"><td>{_e(credential.get("name") or credential.get("id"))}</td>'
                f'<td>{", ".join(needs)}</td><td class="{"pass" if on_track else "fail"}">{verdict}</td></tr>'
            )
        return (
            '<div class="credkit-w"><table><tr><th></th><th>Skill</th><th>Visible tests</th><th>Tests</th></tr>'
            + "".join(rows)
            + "</table>"
            + (
                "<table><tr><th>Credential</th><th>Requires</th><th>So far</th></tr>" + "".join(credentials) + "</table>"
                if credentials
                else ""
            )
            + '<div class="muted">Only the visible tests ran. Grading also runs hidden tests, so a skill that passes here can still fall short.</div></div>'
        )


class CredentialCard(widgets.HTML):
    """One credential, verified by the kit: from a JSON file, a baked PNG/SVG badge, or a document."""

    def __init__(self, source: str | os.PathLike[str] | dict[str, Any], *, status_lists: dict[str, dict[str, Any]] | None = None) -> None:
        from kit.verify import verify_credential

        label = "credential"
        try:
            if isinstance(source, dict):
                document: Any = source
            else:
                label = str(source)
                data = Path(source).read_bytes()
                text = data.decode("utf-8") if data.lstrip()[:1] in (b"{", b"[") else unbake(data)
                document = json.loads(text)
            report = verify_credential(document, source=label, status_lists=status_lists).to_json()
        except (OSError, ValueError, CredkitError) as exc:
            message = exc.diagnostics() if isinstance(exc, CredkitError) else str(exc)
            super().__init__(_STYLE + f'<div class="credkit-w credkit-card-w"><span class="pill invalid">Invalid</span> {_e(label)}: {_e(message)}</div>')
            self.report = {"verified": False, "status": "invalid"}
            return
        self.report = report
        super().__init__(_STYLE + self._render(document, report))

    @staticmethod
    def _render(document: dict[str, Any], report: dict[str, Any]) -> str:
        name, skills, colour, issuer = credential_artwork_inputs(document)
        art = base64.b64encode(badge_svg(name, skills, colour, issuer=issuer).encode()).decode()
        subject = document.get("credentialSubject") or {}
        results = {r.get("resultDescription"): r.get("value") for r in subject.get("result") or [] if isinstance(r, dict)}
        rds = (subject.get("achievement") or {}).get("resultDescription") or []
        skill_rows = "".join(
            f"<tr><td>{_e(rd.get('name'))}</td><td>{_e(results.get(rd.get('id'), ''))} / {_e(rd.get('valueMax', ''))}</td></tr>"
            for rd in rds
            if isinstance(rd, dict)
        )
        status = str(report.get("status", "invalid"))
        failed = "; ".join(f"{c.get('check')}: {c.get('message')}" for c in report.get("checks", []) if c.get("passed") is False)
        dates = f"Issued {_e(str(document.get('validFrom', ''))[:10])}" + (
            f" · expires {_e(str(document['validUntil'])[:10])}" if document.get("validUntil") else ""
        )
        return (
            f'<div class="credkit-w credkit-card-w" data-status="{_e(status)}">'
            f'<img src="data:image/svg+xml;base64,{art}" width="96" height="96" alt="{_e(name)} badge"/>'
            f'<div><div><b style="font-size:15px">{_e(name)}</b> <span class="pill {_e(status)}" title="{_e(failed)}">{_e(status)}</span></div>'
            f'<div class="muted">{_e(issuer or "")}</div><table>{skill_rows}</table><div class="muted">{dates}</div>'
            + (f'<div class="fail">{_e(failed)}</div>' if failed else "")
            + "</div></div>"
        )


def wallet_cards(wallet: str | os.PathLike[str] | None = None) -> widgets.VBox:
    """Cards for every credential in a wallet folder (default: this server's wallet)."""
    from grading.config import Credkit

    folder = Path(wallet) if wallet else Credkit().wallet_path()
    status_lists = {}
    for path in sorted((folder / "status").glob("*.json")) if (folder / "status").is_dir() else []:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            status_lists[doc["id"]] = doc
        except (OSError, ValueError, KeyError, TypeError):
            continue
    cards: list[widgets.Widget] = [CredentialCard(path, status_lists=status_lists) for path in sorted(folder.glob("*.json"))]
    if not cards:
        cards = [widgets.HTML(_STYLE + f'<div class="credkit-w muted">No credentials in {_e(folder)} yet.</div>')]
    return widgets.VBox(cards)
