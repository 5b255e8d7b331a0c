"""A property-based fuzz over every CLI command's file inputs, and a full disk for each writing command.

For any damaged input (truncated, wrong types, deep nesting, huge strings, not UTF-8, PNG and SVG
oddities) each command ends with a non-zero exit and at most one line on stderr, never a
traceback, and changes no file. Hypothesis runs the real CLI entry point in-process (bounded: a
few seconds per command); the full-disk cases run the real console script on a small tmpfs this
test mounts.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.cli import main
from kit.keys import IssuerKey, save_key
from tests.helpers import run_credkit, sample_award

FUZZ = settings(max_examples=15, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


STATUS_URL = "https://credkit.example.edu/status/revocation-1"
# Hypothesis warns when it prints a failing example of a few hundred kB (the huge-string case).
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")


def _signed_credential() -> dict[str, Any]:
    from kit.credentials import IssuerProfile, build_credential
    from kit.proofs import sign
    from tests.helpers import SAMPLE_ISSUER_ARGS

    from kit.status import status_entry

    key = IssuerKey.generate()
    award = sample_award(credential_status=status_entry(STATUS_URL, 7, "revocation"))
    return sign(build_credential(award, IssuerProfile(**SAMPLE_ISSUER_ARGS), key.did), key)


GOOD = _signed_credential()
GOOD_TEXT = json.dumps(GOOD, indent=2)


def _deep(depth: int, kind: str) -> str:
    opener, closer = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opener * depth + "1" + closer * depth


@st.composite
def damaged_json(draw: st.DrawFn) -> bytes:
    """A credential-like file damaged in one of the ways a user or an attacker hands one over."""
    how = draw(st.sampled_from(["truncate", "retype", "deep", "deep-inside", "huge-string", "not-utf8", "garbage", "top-level"]))
    if how == "truncate":
        return GOOD_TEXT.encode()[: draw(st.integers(0, len(GOOD_TEXT) - 1))]
    if how == "retype":
        document = json.loads(GOOD_TEXT)
        path = draw(st.sampled_from([["@context"], ["type"], ["issuer"], ["credentialSubject"], ["proof"], ["validFrom"],
                                     ["credentialSubject", "achievement"], ["credentialSubject", "result"], ["proof", 0]]))
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = draw(JSON_VALUES)
        return json.dumps(document).encode()
    if how == "deep":
        return _deep(draw(st.integers(33, 20000)), draw(st.sampled_from(["list", "object"]))).encode()
    if how == "deep-inside":
        document = json.loads(GOOD_TEXT)
        document["credentialSubject"]["achievement"]["criteria"] = json.loads(_deep(draw(st.integers(33, 400)), "object"))
        return json.dumps(document).encode()
    if how == "huge-string":
        document = json.loads(GOOD_TEXT)
        document["name"] = "x" * draw(st.integers(100_000, 400_000))
        return json.dumps(document).encode()
    if how == "not-utf8":
        raw = bytearray(GOOD_TEXT.encode())
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.sampled_from([0xFF, 0xC3, 0x80, 0xFE]))
        return bytes(raw)
    if how == "top-level":
        return json.dumps(draw(JSON_VALUES)).encode()
    return draw(st.binary(max_size=300))


@st.composite
def damaged_image(draw: st.DrawFn) -> tuple[str, bytes]:
    """A PNG or SVG badge that is not what it claims (bad chunks, bad XML, a credential that is not one)."""
    from kit.baking import bake_png, bake_svg

    kind = draw(st.sampled_from(["png", "svg"]))
    if kind == "png":
        baked = bake_png(_tiny_png(), json.dumps({"not": draw(st.text(max_size=50))}))  # a "credential" that is not one
        cut = draw(st.integers(8, len(baked)))
        mangled = bytearray(baked[:cut])
        if draw(st.booleans()) and len(mangled) > 20:
            mangled[draw(st.integers(8, len(mangled) - 1))] ^= 0xFF
        return "png", bytes(mangled)
    body = draw(st.sampled_from([
        '<svg xmlns="http://www.w3.org/2000/svg"><openbadges:credential>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
        "<openbadges:credential><![CDATA[{}]]></openbadges:credential></svg>",
        '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><svg>&b;</svg>',
        "not xml at all",
    ]))
    if draw(st.booleans()):
        body = bake_svg('<svg xmlns="http://www.w3.org/2000/svg"></svg>', json.dumps({"not": draw(st.text(max_size=40))}))
    return "svg", body.encode("utf-8")[: draw(st.integers(1, 4000))]


def _tiny_png() -> bytes:
    from kit.artwork import badge_png

    return badge_png("Fuzz", ["a"], "#336699", issuer="Fuzz College")


def _cli(*args: str) -> tuple[int, str, str]:
    """The real entry point, in-process; any exception it does not turn into an exit is a test failure."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return code, out.getvalue(), err.getvalue()


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refused(folder: Path, code: int, out: str, err: str) -> None:
    assert code != 0, (out, err)
    assert "Traceback" not in out + err and "Error:" not in err.replace("credkit: error:", ""), err
    assert len([line for line in err.splitlines() if line.strip()]) <= 1, err


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "issuer.json"
    save_key(IssuerKey.generate(), path)
    return path


@FUZZ
@given(data=damaged_json())
def test_verify_sign_bake_and_keys_show_refuse_damaged_json(tmp_path_factory: pytest.TempPathFactory, key_file: Path, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "input.json").write_bytes(data)
    before = _snapshot(folder)
    for args in (["verify", str(folder / "input.json")],
                 ["verify", "--json", str(folder / "input.json")],
                 ["sign", str(folder / "input.json"), "--key", str(key_file)],
                 ["bake", str(folder / "input.json"), "--out", str(folder / "out.png")],
                 ["keys", "show", str(folder / "input.json")]):
        code, out, err = _cli(*args)
        if args[0] in ("sign", "bake") and code == 0:
            # a retyped field that signing or baking does not look at is not a failure (verify refuses it)
            (folder / "out.png").unlink(missing_ok=True)
            continue
        assert_refused(folder, code, out, err)
        assert _snapshot(folder) == before, args
    # the same bytes as a key file (mode 0600, so the parser, not the permission check, sees them)
    os.chmod(folder / "input.json", 0o600)
    (folder / "unsigned.json").write_text(GOOD_TEXT)
    before = _snapshot(folder)
    code, out, err = _cli("sign", str(folder / "unsigned.json"), "--key", str(folder / "input.json"))
    assert_refused(folder, code, out, err)
    assert _snapshot(folder) == before


@FUZZ
@given(image=damaged_image())
def test_verify_and_bake_refuse_damaged_badges(tmp_path_factory: pytest.TempPathFactory, image: tuple[str, bytes]) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    kind, data = image
    (folder / f"badge.{kind}").write_bytes(data)
    (folder / "credential.json").write_text(GOOD_TEXT)
    before = _snapshot(folder)
    for args in (["verify", str(folder / f"badge.{kind}")],
                 ["bake", str(folder / "credential.json"), "--image", str(folder / f"badge.{kind}"), "--out", str(folder / f"out.{kind}")]):
        code, out, err = _cli(*args)
        if args[0] == "bake" and code == 0:
            (folder / f"out.{kind}").unlink()  # an odd but readable image takes the credential: fine
            continue
        assert_refused(folder, code, out, err)
        assert _snapshot(folder) == before, args


@FUZZ
@given(data=damaged_json())
def test_a_damaged_status_list_is_one_line(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "list.json").write_bytes(data)
    (folder / "credential.json").write_text(GOOD_TEXT)
    before = _snapshot(folder)
    code, out, err = _cli("verify", "--status-list", f"{STATUS_URL}={folder / 'list.json'}", str(folder / "credential.json"))
    assert_refused(folder, code, out, err)
    assert _snapshot(folder) == before


@FUZZ
@given(manifest=st.one_of(
    st.binary(max_size=200),
    st.integers(33, 3000).map(lambda n: "format = 1\nx = " + "[" * n + "]" * n),
    st.integers(33, 3000).map(lambda n: "format = 1\nx = " + "{a = " * n + "1" + "}" * n),
    st.sampled_from(["nan", "inf", "-inf", "{ points = nan }", "{ points = -1 }", '"half"', "[1]"]).map(
        lambda v: (Path(__file__).parents[2] / "tests" / "issuing" / "tiny_course.py").read_text().split('MANIFEST = f"""')[1]
        .split('"""')[0].replace("{{", "{").replace("}}", "}").replace("{ADDING}", "https://x.example/a")
        .replace("{DOUBLING}", "https://x.example/d").replace("adding = 1.0", f"adding = {v}")),
))
def test_validate_refuses_damaged_manifests(tmp_path_factory: pytest.TempPathFactory, manifest: str | bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz") / "tiny"
    folder.mkdir()
    (folder / "manifest.toml").write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
    before = _snapshot(folder)
    code, out, err = _cli("validate", str(folder))
    assert code != 0 and "Traceback" not in out + err, err
    assert _snapshot(folder) == before


# --- a full disk for each writing command ------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path: Path):
    """A 256 KiB tmpfs, filled up: every write there fails with ENOSPC."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
        os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_every_writing_command_on_a_full_disk_is_one_line_and_leaves_nothing(full_disk: Path, tmp_path: Path, key_file: Path) -> None:
    (tmp_path / "credential.json").write_text(GOOD_TEXT)
    cases = [
        (["keys", "new", "--out", str(full_disk / "k.json")], "k.json"),
        (["bake", str(tmp_path / "credential.json"), "--out", str(full_disk / "b.png")], "b.png"),
        (["bake", str(tmp_path / "credential.json"), "--out", str(full_disk / "b.svg")], "b.svg"),
        (["artwork", "Fuzz badge", "--out", str(full_disk / "a.png")], "a.png"),
        (["artwork", "Fuzz badge", "--out", str(full_disk / "a.svg")], "a.svg"),
        (["new", "assessment", str(full_disk / "newone")], "newone"),
        (["demo", "--out", str(full_disk / "demo")], "demo"),
    ]
    for args, name in cases:
        result = run_credkit(*args)
        assert result.returncode != 0, args
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert "Traceback" not in result.stderr and lines and "No space left" in lines[-1], (args, result.stderr)
        assert name in lines[-1], (args, lines[-1])
        leftovers = [p.name for p in full_disk.iterdir() if p.name != "filler"]
        # no file is left behind (an empty output folder the command made is no half-written file)
        assert not [p for p in leftovers if not (full_disk / p).is_dir() or any(f.is_file() for f in (full_disk / p).rglob("*"))], (args, leftovers)
        for p in leftovers:
            shutil.rmtree(full_disk / p)
