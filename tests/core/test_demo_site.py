"""The demo issuer's site served at its host gives every verifier the right verdict (the README's recipe).

The site is served by tools/serve-site.py on a loopback address, port 443. The host
datascience.northbridge.example.edu is mapped to it only for the verifying processes: `credkit
verify` runs in its own mount namespace whose /etc/hosts names the host (as an employer's resolver
would), Chromium with a host-resolver rule; each trusts the tool's test CA only.

`credkit demo` takes minutes (it grades 120 submissions), so by default the site is a course
published exactly as the demo publishes, for the demo's issuer (grading.demo.DEMO_ISSUER) and host,
with one credential revoked. ``CREDKIT_DEMO_DIR=demo`` runs the same checks on a real `make demo`
output instead.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from kit.keys import IssuerKey
from kit.proofs import sign
from tests.verify_page_driver import CHROMIUM, CHROMIUM_ARGS, VerifyPage
from grading.demo import DEMO_HOST, DEMO_ISSUER
from tests.didweb_site import issue_course
from tests.helpers import CREDKIT, run_credkit

ROOT = Path(__file__).resolve().parents[2]
HOST = DEMO_HOST


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """pytest-jupyter's autouse event loop is not wanted: sync Playwright runs its own."""
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    return None


class Served:
    def __init__(self, site: Path, genuine: Path, revoked: Path, reason: str, bind: str, pin: str, process: subprocess.Popen[str]) -> None:
        self.site, self.genuine, self.revoked, self.reason = site, genuine, revoked, reason
        self.bind, self.pin, self.process = bind, pin, process
        self.ca_file = site.with_name(f"{site.name}-test-ca.pem")


def _published(folder: Path) -> tuple[Path, Path, Path, str]:
    """(site, genuine credential, revoked credential, revocation reason): the real demo's, or one published the same way."""
    given = os.environ.get("CREDKIT_DEMO_DIR")
    if given:
        demo = Path(given).resolve()
        summary = json.loads((demo / "summary.json").read_text())
        assert summary["issuer"] == DEMO_ISSUER, summary["issuer"]
        revoked = next(a for a in summary["awards"] if a["id"] == summary["revoked"][0])
        genuine = next(a for a in summary["awards"] if a["status"] == "verified")
        return demo / "site", Path(genuine["file"]), Path(revoked["file"]), "demo: academic-integrity review"
    course = issue_course(folder, DEMO_ISSUER, f"https://{HOST}", folder / "site")
    reason = "demo: academic-integrity review"
    revoked = run_credkit("revoke", course.credentials[0]["id"], "--reason", reason, "--course", str(course.root), "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert run_credkit("publish", "--course", str(course.root), "--out", str(folder / "site")).returncode == 0
    return folder / "site", Path(course.ids[1]), Path(course.ids[0]), reason


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    site, genuine, revoked, reason = _published(tmp_path_factory.mktemp("demo"))
    assert (site / ".well-known" / "did.json").is_file() and (site / "verify.html").is_file()
    # a loopback address of our own: other test runs on this machine may serve port 443 too
    for _attempt in range(5):
        bind = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "serve-site.py"), str(site), "--bind", bind],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        if first.startswith("serving"):
            break
        process.communicate(timeout=10)  # that address was taken: closes the pipes too
    else:
        pytest.fail(f"tools/serve-site.py did not start: {process.stderr.read() if process.stderr else ''}")
    lines = [process.stdout.readline() for _ in range(3)]
    assert f"hosts file line:  {bind} {HOST}" in lines[0], lines
    pin = re.search(r"--ignore-certificate-errors-spki-list=(\S+)", lines[2])
    assert pin, lines
    try:
        yield Served(site, genuine, revoked, reason, bind, pin.group(1), process)
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _verify(served: Served, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`credkit verify ARGS` on a machine whose hosts file maps the demo host to the server."""
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{served.bind} {HOST}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CREDKIT_KEY_PASSPHRASE"}
    env.update(SSL_CERT_FILE=str(served.ca_file), CREDKIT_CACHE_DIR=str(tmp_path / "cache"))
    command = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"',
               str(hosts), CREDKIT, "verify", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def _files(served: Served, tmp_path: Path) -> dict[str, Path]:
    document = json.loads(served.genuine.read_text())
    forger = IssuerKey.generate()
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    as_did_key = copy.deepcopy(unsigned)
    as_did_key["issuer"]["id"] = forger.did
    del as_did_key["credentialStatus"]
    forged, forged_web = tmp_path / "forged.json", tmp_path / "forged-did-web.json"
    forged.write_text(json.dumps(sign(as_did_key, forger)), encoding="utf-8")
    forged_web.write_text(json.dumps(sign(unsigned, forger, verification_method=f"{DEMO_ISSUER}#{forger.public_key_multibase}")), encoding="utf-8")
    return {"genuine": served.genuine, "revoked": served.revoked, "forged": forged, "forged-did-web": forged_web}


def test_bare_credkit_verify_against_the_served_demo_site(served: Served, tmp_path: Path) -> None:
    files = _files(served, tmp_path)
    genuine = _verify(served, tmp_path, str(files["genuine"]))
    assert genuine.returncode == 0, genuine.stdout + genuine.stderr
    assert f"domain {HOST} vouches for this key" in genuine.stdout and "fetched just now" in genuine.stdout
    revoked = _verify(served, tmp_path, str(files["revoked"]))
    assert revoked.returncode == 1, revoked.stdout
    assert "revoked" in revoked.stdout.splitlines()[0] and served.reason in revoked.stdout.splitlines()[0]
    forged = _verify(served, tmp_path, str(files["forged"]))
    name = json.loads(served.genuine.read_text())["issuer"]["name"]
    assert forged.returncode == 0 and f'the name "{name}" is only claimed' in forged.stdout, forged.stdout
    strict = _verify(served, tmp_path, "--require-bound", str(files["forged"]))
    assert strict.returncode == 1
    claimed = _verify(served, tmp_path, str(files["forged-did-web"]))
    assert claimed.returncode == 1 and f"domain {HOST} does not vouch for this key" in claimed.stdout.splitlines()[0]
    # without the mapping (this machine's own resolver), the host is unknown: could not be checked
    bare = run_credkit("verify", str(files["genuine"]), env={"SSL_CERT_FILE": str(served.ca_file), "CREDKIT_CACHE_DIR": str(tmp_path / "c2")})
    assert bare.returncode == 3, bare.stdout


def test_verify_page_from_the_served_demo_site(served: Served, tmp_path: Path) -> None:
    files = _files(served, tmp_path)
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} {served.bind}:443", f"--ignore-certificate-errors-spki-list={served.pin}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page()
            page.goto(f"https://{HOST}/verify.html")
            verify = VerifyPage(page)
            [result] = verify.check(files["genuine"])
            assert result["verdict"] == "verified" and f"domain {HOST} vouches for this key" in result["issuer"], result
            [result] = verify.check(files["revoked"])
            assert result["verdict"] == "revoked" and served.reason in result["status"], result
            [result] = verify.check(files["forged"])
            assert result["verdict"] == "unbound", result
            [result] = verify.check(files["forged-did-web"])
            assert result["verdict"] == "invalid" and f"domain {HOST} does not vouch" in result["reason"], result
            # the page saved to disk and opened from there reads the same site
            saved = tmp_path / "verify.html"
            shutil.copy(served.site / "verify.html", saved)
            local = browser.new_page()
            local.goto(saved.as_uri())
            [result] = VerifyPage(local).check(files["genuine"])
            assert result["verdict"] == "verified", result
        finally:
            browser.close()
