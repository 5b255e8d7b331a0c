"""`credkit verify --trust`: issuers looked up in trust registries in DCC's formats, served over real HTTPS."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from kit.keys import IssuerKey
from kit.proofs import sign
from tests.didweb_site import Course, Site, course, site, site_env  # noqa: F401 - fixtures
from tests.helpers import assert_one_line_error, run_credkit


def _registry(*dids: str, name: str = "Example Registry") -> dict[str, Any]:
    return {
        "meta": {"created": "2026-01-01T00:00:00+0000", "updated": "2026-11-01T00:00:00+0000"},
        "registry": {did: {"name": f"Issuer {i}" if i else "Example University", "url": "https://example.edu", "location": "Earth"}
                     for i, did in enumerate(dids)},
    }


def _write(path: Path, document: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def _line(stdout: str, label: str) -> str:
    return next(line for line in stdout.splitlines() if line.split()[:1] == [label])


def test_issuers_listed_in_known_registries(course: Course, site: Site, tmp_path: Path) -> None:
    env = site_env(site, tmp_path / "cache")
    other = IssuerKey.generate().did
    _write(site.root / "registries" / "sandbox.json", _registry(other, site.did))
    _write(site.root / "registries" / "community.json", _registry(other))
    known = _write(tmp_path / "known-registries.json", [
        {"name": "Test Member Registry", "type": "oidf", "trustAnchorEC": f"{site.base}/.well-known/openid-federation"},
        {"name": "Sandbox Registry", "type": "dcc-legacy", "url": f"{site.base}/registries/sandbox.json"},
        {"name": "Community Registry", "type": "dcc-legacy", "url": f"{site.base}/registries/community.json"},
    ])
    result = run_credkit("verify", "--trust", known, course.ids[1], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _line(result.stdout, "trust").split()[1] == "ok" and 'listed in Sandbox Registry as "Issuer 1"' in result.stdout
    as_json = json.loads(run_credkit("verify", "--json", "--require-trusted", "--trust", known, course.ids[1], env=env).stdout)
    assert as_json["verified"] is True and as_json["issuer"]["registries"] == ["Sandbox Registry"]

    # a registry file given directly, and a registry URL
    direct = _write(tmp_path / "registry.json", _registry(site.did))
    assert run_credkit("verify", "--require-trusted", "--trust", direct, course.ids[1], env=env).returncode == 0
    by_url = run_credkit("verify", "--require-trusted", "--trust", f"{site.base}/registries/sandbox.json", course.ids[1], env=env)
    assert by_url.returncode == 0, by_url.stdout

    # an issuer no registry lists: a NOTE, or a failure when trust is required
    unlisted = run_credkit("verify", "--trust", f"{site.base}/registries/community.json", course.ids[1], env=env)
    assert unlisted.returncode == 0 and _line(unlisted.stdout, "trust").split()[1] == "NOTE"
    required = run_credkit("verify", "--require-trusted", "--trust", f"{site.base}/registries/community.json", course.ids[1], env=env)
    assert required.returncode == 1, required.stdout
    assert "trust: the issuer is not listed in any trust registry given" in required.stdout.splitlines()[0]
    nothing = run_credkit("verify", "--require-trusted", course.ids[1], env=env)
    assert nothing.returncode == 1 and "not listed in any trust registry given (none loaded)" in nothing.stdout


def test_a_forged_issuer_gains_nothing_from_a_registry_and_unloadable_ones_are_said(course: Course, site: Site, tmp_path: Path) -> None:
    env = site_env(site, tmp_path / "cache")
    registry = _write(tmp_path / "registry.json", _registry(site.did))
    # the genuine issuer's did:web is listed; a copy re-signed under a new key claiming it is not vouched, so not looked up
    unsigned = {k: v for k, v in course.credentials[1].items() if k != "proof"}
    forger = IssuerKey.generate()
    forged = _write(tmp_path / "forged.json", sign(unsigned, forger, verification_method=f"{site.did}#{forger.public_key_multibase}"))
    result = run_credkit("verify", "--json", "--trust", registry, forged, env=env)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["issuer"]["registries"] == []
    assert next(c for c in report["checks"] if c["check"] == "trust")["message"].startswith("not looked up")
    # a tampered copy likewise
    tampered = copy.deepcopy(course.credentials[1])
    tampered["credentialSubject"]["result"][0]["value"] = "10"
    assert run_credkit("verify", "--trust", registry, _write(tmp_path / "t.json", tampered), env=env).returncode == 1

    # a registry that cannot be loaded: with trust required, could not be checked (never "not listed")
    missing = run_credkit("verify", "--require-trusted", "--trust", f"{site.base}/registries/none.json", course.ids[1], env=env)
    assert missing.returncode == 3, missing.stdout
    assert "could not be checked" in missing.stdout.splitlines()[0] and "HTTP 404" in missing.stdout.splitlines()[0]
    # a registry file that cannot be read: one line, no traceback
    assert_one_line_error(run_credkit("verify", "--trust", str(tmp_path / "nope.json"), course.ids[1], env=env), "nope.json", "cannot read")
    bad = _write(tmp_path / "bad.json", {"hello": "world"})
    assert_one_line_error(run_credkit("verify", "--trust", bad, course.ids[1], env=env), "bad.json", "not a DCC registry")
