"""verify.html, the static verify page `credkit publish` writes, in Debian's Chromium (Playwright).

The page is opened from the file system (``file://``), as an employer who saved it would, and from
the issuer's HTTPS site; credentials are given to it through its file picker and by a drop event.
Online it fetches the DID document and status list from the test site (tests/didweb_site.py,
Chromium trusting exactly the test certificate's key); with the server stopped it takes them as
files.
"""

from __future__ import annotations

import copy
import json
import shutil
from importlib import resources
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from kit.credentials import IssuerProfile, build_credential
from kit.keys import IssuerKey
from kit.proofs import sign
from tests.didweb_site import Course, Site, course, site  # noqa: F401 - fixtures
from tests.helpers import ENDORSEMENT_JWS, SAMPLE_ISSUER_ARGS, run_credkit, sample_award
from tests.verify_page_driver import CHROMIUM, CHROMIUM_ARGS, VerifyPage

@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """pytest-jupyter's autouse event loop is not wanted: sync Playwright runs its own."""
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    return None


def _browser(site: Site | None) -> Iterator[Browser]:
    args = list(CHROMIUM_ARGS)
    if site is not None:
        # trust the test server's certificate, and nothing else, as an installed CA would
        args.append(f"--ignore-certificate-errors-spki-list={site.spki_sha256}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(site: Site) -> Iterator[Browser]:
    yield from _browser(site)


def _write(folder: Path, name: str, document: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def _open_from_file(browser: Browser, site: Site, tmp_path: Path) -> VerifyPage:
    """The published page saved to disk and opened from there (file://)."""
    saved = tmp_path / "saved" / "verify.html"
    saved.parent.mkdir()
    shutil.copy(site.root / "verify.html", saved)
    page = browser.new_page()
    page.goto(saved.as_uri())
    return VerifyPage(page)


def test_online_genuine_tampered_forged_baked_and_revoked(course: Course, site: Site, browser: Browser, tmp_path: Path) -> None:
    assert (site.root / "verify.html").is_file()  # credkit publish wrote it
    page = _open_from_file(browser, site, tmp_path)
    domain = f"localhost:{site.port}"

    [genuine] = page.check(course.ids[1])
    assert genuine["verdict"] == "verified", genuine
    assert f"domain {domain} vouches for this key" in genuine["issuer"] and "fetched just now" in genuine["issuer"]
    assert "valid: not revoked" in genuine["status"]
    assert genuine["skills"] and all(row[0] and " of " in row[1] for row in genuine["skills"]), genuine["skills"]
    expected_scores = {r["resultDescription"]: r["value"] for r in course.credentials[1]["credentialSubject"]["result"]}
    assert sorted(row[1].split(" of ")[0] for row in genuine["skills"]) == sorted(str(v) for v in expected_scores.values())

    # the same file by a drop event
    [dropped] = page.drop("credential.json", Path(course.ids[1]).read_text())
    assert dropped["verdict"] == "verified", dropped

    tampered = copy.deepcopy(course.credentials[1])
    tampered["credentialSubject"]["result"][0]["value"] = "10"
    [result] = page.check(_write(tmp_path, "tampered.json", tampered))
    assert result["verdict"] == "invalid" and "signature does not match" in result["reason"], result

    # forged: a copy re-signed with a new key, keeping the name
    unsigned = {k: v for k, v in course.credentials[1].items() if k != "proof"}
    forger = IssuerKey.generate()
    as_did_key = copy.deepcopy(unsigned)
    as_did_key["issuer"]["id"] = forger.did
    del as_did_key["credentialStatus"]
    [result] = page.check(_write(tmp_path, "forged-did-key.json", sign(as_did_key, forger)))
    assert result["verdict"] == "unbound", result
    assert 'identity not bound to any domain: the name "Example University" is only claimed' in result["issuer"]
    assert "no domain vouches" in result["headline"]
    as_did_web = sign(unsigned, forger, verification_method=f"{site.did}#{forger.public_key_multibase}")
    [result] = page.check(_write(tmp_path, "forged-did-web.json", as_did_web))
    assert result["verdict"] == "invalid" and f"domain {domain} does not vouch for this key" in result["reason"], result
    [result] = page.check(_write(tmp_path, "forged-mixed.json", sign(unsigned, forger)))
    assert result["verdict"] == "invalid" and result["checks"]["proof"] == "failed", result
    # another issuer's eddsa-jcs-2022 badge: not judged here (credkit verify does), never "genuine"
    jcs = {**unsigned, "issuer": {**unsigned["issuer"], "id": forger.did}}
    del jcs["credentialStatus"]
    [result] = page.check(_write(tmp_path, "jcs.json", sign(jcs, forger, cryptosuite="eddsa-jcs-2022")))
    assert result["verdict"] == "unchecked" and "eddsa-jcs-2022, which this page does not check" in result["reason"], result

    # baked badges carry the credential inside
    for suffix in ("png", "svg"):
        baked = tmp_path / f"badge.{suffix}"
        made = run_credkit("bake", course.ids[1], "--out", str(baked))
        assert made.returncode == 0, made.stderr
        [result] = page.check(baked)
        assert result["verdict"] == "verified", (suffix, result)
    [result] = page.check(_write(tmp_path, "not-a-badge.json", {"hello": "world"}))
    assert result["verdict"] == "unreadable" and "not-a-badge.json: not a credential" in result["reason"], result
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    [result] = page.check(broken)
    assert result["verdict"] == "unreadable" and "broken.json: not a JSON credential or a baked badge image" in result["reason"], result

    # revoked, once the issuer republishes
    revoked = run_credkit("revoke", course.credentials[0]["id"], "--reason", "plagiarism confirmed", "--course", str(course.root), "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert run_credkit("publish", "--course", str(course.root), "--out", str(site.root)).returncode == 0
    [result, other] = page.check(course.ids[0], course.ids[1])
    assert result["verdict"] == "revoked", result
    assert "revoked by its issuer on 20" in result["status"] and "plagiarism confirmed" in result["status"]
    assert other["verdict"] == "verified"

    # the page served by the issuer's own site reads its documents the same way
    served = browser.new_page()
    served.goto(f"{site.base}/verify.html")
    [result] = VerifyPage(served).check(course.ids[0])
    assert result["verdict"] == "revoked", result


def test_from_files_when_the_site_cannot_be_reached(course: Course, site: Site, browser: Browser, tmp_path: Path) -> None:
    revoked = run_credkit("revoke", course.credentials[0]["id"], "--reason", "exam misconduct", "--course", str(course.root), "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert run_credkit("publish", "--course", str(course.root), "--out", str(site.root)).returncode == 0
    handed = tmp_path / "handed"
    handed.mkdir()
    did_file = handed / "did.json"
    shutil.copy(site.root / ".well-known" / "did.json", did_file)
    list_file = handed / "revocation-1.json"
    shutil.copy(site.root / "ds101" / "status" / "revocation-1", list_file)
    notices_file = handed / "revocation-1.notices.json"
    shutil.copy(site.root / "ds101" / "status" / "revocation-1.notices.json", notices_file)
    page = _open_from_file(browser, site, tmp_path)
    site.stop()

    # online, but the site is down: could not be checked, never valid or invalid
    [result] = page.check(course.ids[1])
    assert result["verdict"] == "unchecked", result
    assert f"cannot reach https://localhost:{site.port}/.well-known/did.json" in result["reason"]

    # no network: the employer drops what the issuer handed out with the credential
    [result] = page.check(course.ids[1], did_file, list_file, notices_file, online=False)
    assert result["verdict"] == "verified", result
    assert "vouches for this key" in result["issuer"] and "from the file given" in result["issuer"]
    [result] = page.check(course.ids[0], did_file, list_file, notices_file, online=False)
    assert result["verdict"] == "revoked" and "exam misconduct" in result["status"], result
    # the status list missing: the status could not be checked, and the page says what to drop
    [result] = page.check(course.ids[1], did_file, online=False)
    assert result["verdict"] == "unchecked" and result["checks"]["proof"] == "passed", result
    assert "drop the status list file too" in result["reason"]
    # the DID document missing: neither the key nor the status can be checked
    [result] = page.check(course.ids[1], online=False)
    assert result["verdict"] == "unchecked" and "drop the DID document (did.json) file too" in result["reason"], result
    # a tampered one is invalid from files too
    tampered = copy.deepcopy(course.credentials[1])
    tampered["validFrom"] = "2020-01-01T00:00:00Z"
    [result] = page.check(_write(tmp_path, "tampered.json", tampered), did_file, list_file, online=False)
    assert result["verdict"] == "invalid" and "signature does not match" in result["reason"], result


def test_an_untrusted_certificate_is_could_not_be_checked(course: Course, site: Site, tmp_path: Path) -> None:
    for browser in _browser(None):  # no pin: the test CA is unknown to this Chromium
        page = _open_from_file(browser, site, tmp_path)
        [result] = page.check(course.ids[1])
        assert result["verdict"] == "unchecked", result
        assert result["checks"]["proof"] == "could-not-check"


def test_a_badge_carrying_endorsement_jwt_is_checked(tmp_path: Path) -> None:
    """``endorsementJwt``, added to the published OB 3.0 context after our copy, is defined on the page too.

    The page merges kit/data/contexts/ob-v3p0-context-3.0.3-added-terms.json into its OB context, as
    kit/contexts.py does. The published definition could not be read offline: if its IRI differed, a
    third party's credential using the term would fail the page's signature check.
    """
    key = IssuerKey.generate()
    unsigned = build_credential(sample_award(), IssuerProfile(**SAMPLE_ISSUER_ARGS), key.did)  # type: ignore[arg-type]
    unsigned["endorsementJwt"] = [ENDORSEMENT_JWS]
    unsigned["credentialSubject"]["achievement"]["endorsementJwt"] = [ENDORSEMENT_JWS]
    signed = sign(unsigned, key)
    header, payload, signature = ENDORSEMENT_JWS.split(".")
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["endorsementJwt"] = [f"{header}.{payload}.{signature[::-1]}"]
    page_file = Path(resources.files("kit.data").joinpath("verify.html"))  # type: ignore[arg-type]
    for browser in _browser(None):
        tab = browser.new_page()
        tab.goto(page_file.as_uri())
        page = VerifyPage(tab)
        [genuine, changed] = page.check(_write(tmp_path, "endorsed.json", signed), _write(tmp_path, "changed.json", tampered), online=False)
        assert genuine["verdict"] == "unbound" and genuine["checks"]["proof"] == "passed", genuine
        assert "identity not bound to any domain" in genuine["issuer"], genuine
        assert changed["verdict"] == "invalid" and "signature does not match" in changed["reason"], changed
