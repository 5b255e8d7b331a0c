"""Assessment manifests (``manifest.toml``) and track files (``track.toml``).

One loader per file kind parses TOML, checks it against the bundled JSON schema, then checks the
cross-references inside the file; every problem is reported as ``<file>: <key path>: <problem>``.
The rules that turn per-cell scores into skills and credentials live in :func:`score_skills`,
:func:`earned_credentials` and :func:`earned_stacks` (pure functions; README "Authoring assessments").
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from kit.errors import AssessmentInvalid, ManifestError

__all__ = [
    "MANIFEST_NAME",
    "TRACK_NAME",
    "Alignment",
    "Assessment",
    "CellGrade",
    "CredentialRule",
    "Issuer",
    "Skill",
    "SkillScore",
    "StackRule",
    "Threshold",
    "Track",
    "earned_credentials",
    "earned_stacks",
    "load_assessment",
    "load_track",
    "score_skills",
    "skill_passed",
    "skill_thresholds",
]

MANIFEST_NAME = "manifest.toml"
MAX_TOML_CHARS = 1024 * 1024  # a manifest is a few KiB
TRACK_NAME = "track.toml"


@dataclass(frozen=True)
class Issuer:
    """Who issues the credentials; the issuer's ``id`` always derives from the signing key."""

    name: str
    url: str
    email: str
    image: str | None = None


@dataclass(frozen=True)
class Alignment:
    """A skill's alignment to a node of a skill framework (ESCO, O*NET, CASE or any URL)."""

    framework: str
    url: str
    name: str
    code: str | None = None
    target_type: str | None = None


@dataclass(frozen=True)
class Skill:
    """A skill the assessment measures."""

    id: str
    name: str
    description: str
    alignment: tuple[Alignment, ...] = ()


@dataclass(frozen=True)
class Threshold:
    """Pass mark for one skill: a fraction of the skill's possible points, or a number of points."""

    skill: str
    fraction: Decimal | None = None
    points: Decimal | None = None

    def needed(self, possible: Decimal) -> Decimal:
        """Points needed to pass, given the skill's possible points (exact, no rounding)."""
        if self.points is not None:
            return self.points
        assert self.fraction is not None
        return self.fraction * possible

    def met(self, score: SkillScore) -> bool:
        """The one pass rule, for awarding and for reports: ``earned >= needed``, exact, never while pending."""
        return not score.pending and score.possible > 0 and score.earned >= self.needed(score.possible)

    def describe(self) -> str:
        if self.points is not None:
            return f"at least {_num(self.points)} points"
        assert self.fraction is not None
        return f"at least {_num(self.fraction * 100)}% of the points"


@dataclass(frozen=True)
class CredentialRule:
    """A micro-credential: awarded when every required skill meets its threshold."""

    key: str
    id: str
    name: str
    description: str
    requires: tuple[Threshold, ...]
    criteria: str
    image: str | None = None
    validity_days: int | None = None
    criteria_generated: bool = False  # True when the manifest gave none (issuing adds how each skill is assessed)


@dataclass(frozen=True)
class StackRule:
    """A stacked credential: awarded when every component credential (by achievement id) is held."""

    key: str
    id: str
    name: str
    description: str
    components: tuple[str, ...]
    criteria: str
    image: str | None = None
    validity_days: int | None = None


@dataclass(frozen=True)
class Assessment:
    """One assessment: its notebooks, skills, cell map and credential rules."""

    path: Path  # the manifest file
    id: str
    title: str
    notebooks: tuple[str, ...]
    files: tuple[str, ...]
    issuer: Issuer
    skills: dict[str, Skill]
    cells: dict[str, tuple[str, ...]]  # grade_id -> skill ids
    credentials: dict[str, CredentialRule]
    stacks: dict[str, StackRule] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def cells_of(self, skill: str) -> list[str]:
        """The grade_ids mapped to a skill, in manifest order."""
        return [grade_id for grade_id, skills in self.cells.items() if skill in skills]


@dataclass(frozen=True)
class Track:
    """A track: a folder of assessments with a shared issuer and stacked credentials over them."""

    path: Path  # the track.toml file
    id: str
    title: str
    issuer: Issuer
    stacks: dict[str, StackRule]
    assessments: dict[str, Assessment]

    def credential_ids(self) -> dict[str, CredentialRule]:
        """Every micro-credential of the track, by achievement id."""
        return {c.id: c for a in self.assessments.values() for c in a.credentials.values()}


# ---------------------------------------------------------------------------------------------
# Scores -> skills -> credentials (the rules the grading hook implements)


@dataclass(frozen=True)
class CellGrade:
    """One graded cell's result: ``score`` is None while it awaits manual grading."""

    score: float | None
    max_score: float


@dataclass(frozen=True)
class SkillScore:
    """A skill's earned and possible points; ``pending`` while a mapped cell awaits grading."""

    skill: str
    earned: Decimal
    possible: Decimal
    pending: bool = False


def _dec(value: float | Decimal) -> Decimal:
    # str() of a float is its shortest round-trip repr: 0.1 -> Decimal("0.1"), never 0.1000000000000000055
    return value if isinstance(value, Decimal) else Decimal(str(value))


def score_skills(assessment: Assessment, grades: Mapping[str, CellGrade]) -> dict[str, SkillScore]:
    """Per-skill earned/possible points from per-cell grades (scores before late penalties).

    A cell mapped to several skills counts fully in each. Sums are exact decimals. Raises
    ManifestError when a mapped cell has no grade (the gradebook does not match the manifest).
    """
    missing = [g for g in assessment.cells if g not in grades]
    if missing:
        raise ManifestError(
            f"{assessment.path}: cells: no grade for mapped cell(s) {', '.join(sorted(missing))}"
        )
    out: dict[str, SkillScore] = {}
    for skill in assessment.skills:
        earned = possible = Decimal(0)
        pending = False
        for grade_id in assessment.cells_of(skill):
            grade = grades[grade_id]
            possible += _dec(grade.max_score)
            if grade.score is None:
                pending = True
            else:
                earned += _dec(grade.score)
        out[skill] = SkillScore(skill, earned, possible, pending)
    return out


def earned_credentials(
    assessment: Assessment, skill_scores: Mapping[str, SkillScore]
) -> list[CredentialRule]:
    """The micro-credentials whose every threshold is met (``earned >= needed``, no rounding).

    A skill still pending manual grading earns nothing yet.
    """
    won = []
    for rule in assessment.credentials.values():
        if all(threshold.met(skill_scores[threshold.skill]) for threshold in rule.requires):
            won.append(rule)
    return won


def skill_thresholds(assessment: Assessment) -> dict[str, list[Threshold]]:
    """Each skill's pass marks across the assessment's credentials; a skill none requires needs all its points."""
    out: dict[str, list[Threshold]] = {skill: [] for skill in assessment.skills}
    for rule in assessment.credentials.values():
        for threshold in rule.requires:
            out.setdefault(threshold.skill, []).append(threshold)
    for skill, marks in out.items():
        if not marks:
            marks.append(Threshold(skill, fraction=Decimal(1)))
    return out


def skill_passed(thresholds: list[Threshold], score: SkillScore) -> bool:
    """A skill is passed when its score meets every credential's mark on it (so the strictest)."""
    return all(threshold.met(score) for threshold in thresholds)


def earned_stacks(stacks: Iterable[StackRule], held: Iterable[str]) -> list[StackRule]:
    """The stacked credentials all of whose components are among ``held`` achievement ids."""
    have = set(held)
    return [s for s in stacks if all(c in have for c in s.components)]


# ---------------------------------------------------------------------------------------------
# Loading


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    text = resources.files("grading").joinpath("schemas", name).read_text(encoding="utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _key_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            bare = text.replace("-", "").replace("_", "").isalnum()
            out += ("." if out else "") + (text if bare else json.dumps(text))
    return out or "(top level)"


def _schema_problem(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(key path, problem) in an instructor's words for one schema error."""
    path = list(error.absolute_path)
    v = error.validator
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return _key_path(path + [missing]), "missing (required)"
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return _key_path(path), f"unknown key(s) {', '.join(map(repr, extra))}"
    if v == "propertyNames":
        return _key_path(path + [error.instance]), "not a valid id (lower-case letters, digits, '-' or '_')"
    if v == "pattern" and len(path) >= 1:
        return _key_path(path), f"{error.instance!r} is not in the expected form"
    if v == "const":
        return _key_path(path), f"must be {error.validator_value!r}"
    if v in ("anyOf", "oneOf"):
        return _key_path(path), f"{error.instance!r} is not an allowed value here"
    if v == "type":
        return _key_path(path), f"must be of type {error.validator_value}, not {type(error.instance).__name__}"
    if v in ("minProperties", "minItems"):
        return _key_path(path), f"must have at least {error.validator_value} entr{'y' if error.validator_value == 1 else 'ies'}"
    return _key_path(path), error.message


def _read_toml(path: Path, schema: str) -> dict[str, Any]:
    from kit.limits import MAX_DEPTH, InputTooLarge, check_depth

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from exc
    if len(text) > MAX_TOML_CHARS:
        raise AssessmentInvalid([f"{path}: (size): larger than {MAX_TOML_CHARS // 1024} KiB; not read"])
    try:
        data = tomllib.loads(text)
        check_depth(data, source=f"{path}: (syntax)")  # the schema validator recurses
    except tomllib.TOMLDecodeError as exc:
        raise AssessmentInvalid([f"{path}: (syntax): not valid TOML: {exc}"]) from exc
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise AssessmentInvalid([f"{path}: (syntax): nested deeper than {MAX_DEPTH} levels"]) from None
    except InputTooLarge as exc:
        raise AssessmentInvalid([exc.diagnostics()]) from None
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        problems = []
        for e in errors:
            key, problem = _schema_problem(e)
            line = f"{path}: {key}: {problem}"
            if line not in problems:
                problems.append(line)
        raise AssessmentInvalid(problems)
    return data


def _issuer(raw: Mapping[str, Any]) -> Issuer:
    return Issuer(name=raw["name"], url=raw["url"], email=raw["email"], image=raw.get("image"))


def _num(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _stack_rule(key: str, raw: Mapping[str, Any], names: Mapping[str, str]) -> StackRule:
    comps = tuple(raw["components"])
    criteria = raw.get("criteria") or (
        "Awarded to a learner who holds all of these credentials: "
        + "; ".join(names.get(c, c) for c in comps)
        + "."
    )
    return StackRule(
        key=key, id=raw["id"], name=raw["name"], description=raw["description"], components=comps,
        criteria=criteria, image=raw.get("image"), validity_days=raw.get("validity_days"),
    )


def _track_issuer(folder: Path) -> Issuer | None:
    track = folder.parent / TRACK_NAME
    if not track.is_file():
        return None
    try:
        return _issuer(_read_toml(track, "track.schema.json")["issuer"])
    except AssessmentInvalid:
        # the track file's own problems are reported for the track; use its issuer if that part is sound
        try:
            raw = tomllib.loads(track.read_text(encoding="utf-8")).get("issuer")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
            return None
        schema = json.loads(resources.files("grading").joinpath("schemas", "track.schema.json").read_text())
        ok = jsonschema.Draft202012Validator({**schema["$defs"]["issuer"], "$defs": schema["$defs"]}).is_valid(raw)
        return _issuer(raw) if ok and isinstance(raw, dict) else None


def load_assessment(path: str | Path) -> Assessment:
    """Load an assessment from its folder or its ``manifest.toml``.

    Raises AssessmentInvalid listing every problem (schema and cross-references), ManifestError
    when the file cannot be read. The issuer comes from the manifest, else from ``../track.toml``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    data = _read_toml(path, "manifest.schema.json")
    problems: list[str] = []

    def problem(key: str, text: str) -> None:
        problems.append(f"{path}: {key}: {text}")

    skills = {
        sid: Skill(
            id=sid, name=s["name"], description=s["description"],
            alignment=tuple(
                Alignment(framework=a["framework"], url=a["url"], name=a.get("name", s["name"]),
                          code=a.get("code"), target_type=a.get("target_type"))
                for a in s.get("alignment", [])
            ),
        )
        for sid, s in data["skills"].items()
    }
    cells = {g: tuple(sk) for g, sk in data["cells"].items()}
    for grade_id, sk in cells.items():
        for s in sk:
            if s not in skills:
                problem(_key_path(["cells", grade_id]), f"unknown skill {s!r}")
    for sid in skills:
        if not any(sid in sk for sk in cells.values()):
            problem(_key_path(["skills", sid]), "no graded cell assesses this skill (map one under [cells])")

    if "issuer" in data:
        issuer = _issuer(data["issuer"])
    else:
        found = _track_issuer(path.parent)
        if found is None:
            problem("issuer", f"missing: give [issuer] here or a valid one in ../{TRACK_NAME}")
            issuer = Issuer(name="", url="", email="")
        else:
            issuer = found

    credentials: dict[str, CredentialRule] = {}
    seen_ids: dict[str, str] = {}
    for key, c in data["credentials"].items():
        if c["id"] in seen_ids:
            problem(_key_path(["credentials", key, "id"]), f"same id as credentials.{seen_ids[c['id']]}")
        seen_ids[c["id"]] = key
        thresholds = []
        for sid, t in c["requires"].items():
            if sid not in skills:
                problem(_key_path(["credentials", key, "requires", sid]), f"unknown skill {sid!r}")
            value = _dec(t["points"] if isinstance(t, dict) else t)
            if not value.is_finite():  # TOML allows nan and inf; a pass mark must be a number
                problem(_key_path(["credentials", key, "requires", sid]), f"must be a finite number, not {t!r}")
                continue
            if isinstance(t, dict):
                thresholds.append(Threshold(sid, points=value))
            else:
                thresholds.append(Threshold(sid, fraction=value))
        criteria = c.get("criteria") or _criteria(data["assessment"]["title"], thresholds, skills)
        credentials[key] = CredentialRule(
            key=key, id=c["id"], name=c["name"], description=c["description"],
            requires=tuple(thresholds), criteria=criteria, image=c.get("image"),
            validity_days=c.get("validity_days"), criteria_generated=not c.get("criteria"),
        )

    names = {c.id: c.name for c in credentials.values()}
    stacks = {k: _stack_rule(k, s, names) for k, s in data.get("stacks", {}).items()}
    for key, s in stacks.items():
        if s.id in seen_ids:
            problem(_key_path(["stacks", key, "id"]), f"same id as credentials.{seen_ids[s.id]}")
        for i, comp in enumerate(s.components):
            if comp not in names:
                problem(_key_path(["stacks", key, "components", i]),
                        f"no credential with id {comp!r} in this assessment")

    for key, img in _images(data):
        if not img.startswith(("http://", "https://")) and not (path.parent / img).is_file():
            problem(key, f"image file {img!r} not found beside the manifest")
    for i, nb in enumerate(data["assessment"]["notebooks"]):
        if not (path.parent / nb).is_file():
            problem(_key_path(["assessment", "notebooks", i]), f"notebook {nb!r} not found beside the manifest")
    for i, f in enumerate(data["assessment"].get("files", [])):
        if not (path.parent / f).exists():
            problem(_key_path(["assessment", "files", i]), f"{f!r} not found beside the manifest")

    if problems:
        raise AssessmentInvalid(problems)
    a = data["assessment"]
    return Assessment(
        path=path, id=a["id"], title=a["title"], notebooks=tuple(a["notebooks"]),
        files=tuple(a.get("files", [])), issuer=issuer, skills=skills, cells=cells,
        credentials=credentials, stacks=stacks,
    )


def _images(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    if "image" in data.get("issuer", {}):
        out.append(("issuer.image", data["issuer"]["image"]))
    for section in ("credentials", "stacks"):
        for key, c in data.get(section, {}).items():
            if "image" in c:
                out.append((_key_path([section, key, "image"]), c["image"]))
    return out


def _criteria(title: str, thresholds: Iterable[Threshold], skills: Mapping[str, Skill]) -> str:
    parts = [
        f"{t.describe()} on the graded cells assessing \u201c{skills[t.skill].name if t.skill in skills else t.skill}\u201d"
        for t in thresholds
    ]
    return (
        f"Awarded for the assessment \u201c{title}\u201d, graded with nbgrader, to a learner who earns "
        + "; and ".join(parts)
        + ". Scores are taken before late penalties and compared exactly, without rounding."
    )


def load_track(path: str | Path) -> Track:
    """Load a track folder: its ``track.toml`` and every ``*/manifest.toml`` below it.

    Every problem of every file is collected before raising AssessmentInvalid.
    """
    folder = Path(path)
    if folder.name == TRACK_NAME:
        folder = folder.parent
    track_file = folder / TRACK_NAME
    problems: list[str] = []
    try:
        data = _read_toml(track_file, "track.schema.json")
    except AssessmentInvalid as exc:
        problems.extend(exc.problems)
        data = None
    assessments: dict[str, Assessment] = {}
    for manifest in sorted(folder.glob(f"*/{MANIFEST_NAME}")):
        try:
            a = load_assessment(manifest)
        except AssessmentInvalid as exc:
            problems.extend(exc.problems)
            continue
        if a.id in assessments:
            problems.append(f"{manifest}: assessment.id: {a.id!r} is also the id of {assessments[a.id].path}")
        assessments[a.id] = a
    problems = list(dict.fromkeys(problems))
    if data is None:
        raise AssessmentInvalid(problems)
    if not assessments and not problems:
        problems.append(f"{track_file}: (track): no assessment folders (*/{MANIFEST_NAME}) beside it")
    by_id: dict[str, str] = {}
    for a in assessments.values():
        for c in a.credentials.values():
            if c.id in by_id:
                problems.append(f"{a.path}: credentials.{c.key}.id: {c.id!r} is also used in {by_id[c.id]}")
            by_id[c.id] = str(a.path)
    names = {c.id: c.name for a in assessments.values() for c in a.credentials.values()}
    stacks = {k: _stack_rule(k, s, names) for k, s in data.get("stacks", {}).items()}
    for key, s in stacks.items():
        for i, comp in enumerate(s.components):
            if comp not in names:
                problems.append(f"{track_file}: {_key_path(['stacks', key, 'components', i])}: "
                                f"no credential with id {comp!r} in this track")
        if s.id in by_id:
            problems.append(f"{track_file}: stacks.{key}.id: {s.id!r} is also a micro-credential id")
    for key, img in _images(data):
        if not img.startswith(("http://", "https://")) and not (folder / img).is_file():
            problems.append(f"{track_file}: {key}: image file {img!r} not found beside the track file")
    if problems:
        raise AssessmentInvalid(problems)
    return Track(
        path=track_file, id=data["track"]["id"], title=data["track"]["title"],
        issuer=_issuer(data["issuer"]), stacks=stacks, assessments=assessments,
    )
