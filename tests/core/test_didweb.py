"""did:web issuers end to end: `credkit publish` a site, serve it over real HTTPS, `credkit verify` the file alone.

The site and its HTTPS server are tests/didweb_site.py's fixtures.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from kit.didweb import did_web_url
from kit.keys import IssuerKey
from kit.proofs import sign
from tests.didweb_site import Course, Site, course, site, site_env  # noqa: F401 - fixtures
from tests.helpers import run_credkit


def _write(tmp_path: Path, name: str, document: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2))
    return str(path)


def _no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr


def test_publish_writes_the_did_document_status_list_and_pages(course: Course, site: Site) -> None:
    did_doc = json.loads((site.root / ".well-known" / "did.json").read_text())
    assert did_web_url(site.did) == f"{site.base}/.well-known/did.json"
    method = f"{site.did}#{course.key.public_key_multibase}"
    assert did_doc["id"] == site.did and did_doc["assertionMethod"] == [method]
    assert did_doc["verificationMethod"] == [
        {"id": method, "type": "Multikey", "controller": site.did, "publicKeyMultibase": course.key.public_key_multibase}
    ]
    credential = course.credentials[0]
    assert credential["issuer"]["id"] == site.did and credential["proof"][0]["verificationMethod"] == method
    status = json.loads((site.root / "ds101" / "status" / "revocation-1").read_text())
    assert status["id"] == f"{site.base}/ds101/status/revocation-1" and status["issuer"] == site.did
    assert "validUntil" in status and status["credentialSubject"]["ttl"] == 3_600_000
    page = (site.root / "achievements" / "pandas-wrangling" / "index.html").read_text()
    assert "pandas data wrangling" in page and "application/ld+json" in page


def test_genuine_credential_verifies_with_nothing_but_the_file(course: Course, site: Site, tmp_path: Path) -> None:
    result = run_credkit("verify", course.ids[1], env=site_env(site, tmp_path / "cache"))
    _no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OK") and f"(domain localhost:{site.port})" in lines[0]
    assert any(line.split()[:2] == ["issuer", "ok"] and f"domain localhost:{site.port} vouches for this key" in line for line in lines)
    assert any(line.split()[:2] == ["status", "ok"] and "not revoked" in line and "fetched just now" in line for line in lines)
    # e-mail and system ids both identify the recipient
    by_mail = run_credkit("verify", "--json", "--recipient", "Learner1@Example.edu", course.ids[1], env=site_env(site, tmp_path / "cache"))
    report = json.loads(by_mail.stdout)
    assert by_mail.returncode == 0 and report["verified"] is True
    assert report["issuer"] == {"id": site.did, "name": "Example University", "domain": f"localhost:{site.port}", "registries": []}
    by_id = run_credkit("verify", "--recipient", "learner0", course.ids[0], env=site_env(site, tmp_path / "cache"))
    assert by_id.returncode == 0 and "issued to learner0 (the id in the credential)" in by_id.stdout
    wrong = run_credkit("verify", "--recipient", "learner1", course.ids[0], env=site_env(site, tmp_path / "cache"))
    assert wrong.returncode == 1 and "recipient: not issued to learner1" in wrong.stdout.splitlines()[0]


def test_revoked_credential_fails_with_its_date_and_reason(course: Course, site: Site, tmp_path: Path) -> None:
    target = course.credentials[0]["id"]
    revoked = run_credkit("revoke", target, "--reason", "plagiarism confirmed", "--course", str(course.root), "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert "republish" in revoked.stdout and "credkit publish" in revoked.stdout
    # before republishing, the site still says valid; after it, revoked
    assert run_credkit("verify", course.ids[0], env=site_env(site, tmp_path / "cache-before")).returncode == 0
    assert run_credkit("publish", "--course", str(course.root), "--out", str(site.root)).returncode == 0
    result = run_credkit("verify", course.ids[0], env=site_env(site, tmp_path / "cache-after"))
    _no_traceback(result)
    assert result.returncode == 1
    head = result.stdout.splitlines()[0]
    assert head.startswith("FAIL") and "revoked" in head and "plagiarism confirmed" in head and " on 20" in head
    other = run_credkit("verify", course.ids[1], env=site_env(site, tmp_path / "cache-after"))
    assert other.returncode == 0, other.stdout


def test_forged_copy_under_a_new_key_is_unbound_or_not_vouched(course: Course, site: Site, tmp_path: Path) -> None:
    genuine = {k: v for k, v in course.credentials[1].items() if k != "proof"}
    forger = IssuerKey.generate()
    env = site_env(site, tmp_path / "cache")

    # 1. the same name, re-signed as a did:key: verifies as a signature, but nobody vouches for the name
    as_did_key = copy.deepcopy(genuine)
    as_did_key["issuer"]["id"] = forger.did
    del as_did_key["credentialStatus"]  # the real list is the real issuer's; a forger leaves it out
    forged_key = _write(tmp_path, "forged-did-key.json", sign(as_did_key, forger))
    result = run_credkit("verify", forged_key, env=env)
    _no_traceback(result)
    assert result.returncode == 0, result.stdout
    assert 'identity not bound to any domain: the name "Example University" is only claimed' in result.stdout
    assert "NOTE" in next(line for line in result.stdout.splitlines() if line.split()[0] == "issuer")
    strict = run_credkit("verify", "--require-bound", forged_key, env=env)
    assert strict.returncode == 1 and "issuer: identity not bound" in strict.stdout.splitlines()[0]

    # 2. claiming the did:web issuer with a key its DID document does not list: invalid
    as_did_web = sign(genuine, forger, verification_method=f"{site.did}#{forger.public_key_multibase}")
    result = run_credkit("verify", _write(tmp_path, "forged-did-web.json", as_did_web), env=env)
    _no_traceback(result)
    assert result.returncode == 1
    assert f"domain localhost:{site.port} does not vouch for this key" in result.stdout.splitlines()[0]

    # 3. claiming the did:web issuer but signing with a did:key: the issuer is not the key's controller
    mixed = sign(genuine, forger)
    result = run_credkit("verify", _write(tmp_path, "forged-mixed.json", mixed), env=env)
    assert result.returncode == 1 and "not the signing key's controller" in result.stdout.splitlines()[0]


def test_server_down_is_could_not_be_checked_and_offline_uses_files_or_cache(course: Course, site: Site, tmp_path: Path) -> None:
    warm = tmp_path / "warm-cache"
    assert run_credkit("verify", course.ids[1], env=site_env(site, warm)).returncode == 0
    did_file = tmp_path / "did.json"
    did_file.write_bytes((site.root / ".well-known" / "did.json").read_bytes())
    list_url = course.credentials[1]["credentialStatus"]["statusListCredential"]
    list_file = tmp_path / "list.json"
    list_file.write_bytes((site.root / "ds101" / "status" / "revocation-1").read_bytes())
    site.stop()

    cold = run_credkit("verify", course.ids[1], env=site_env(site, tmp_path / "cold-cache"))
    _no_traceback(cold)
    assert cold.returncode == 3, cold.stdout
    head = cold.stdout.splitlines()[0]
    assert head.startswith("??") and "not fully checked" in head and "could not be checked" in head
    assert f"cannot reach https://localhost:{site.port}/.well-known/did.json" in head

    # offline, from the files the employer was handed
    files = run_credkit(
        "verify", "--offline", "--did-document", f"{site.did}={did_file}", "--status-list", f"{list_url}={list_file}",
        course.ids[1], env=site_env(site, tmp_path / "cold-cache"),
    )
    assert files.returncode == 0, files.stdout
    assert "from the file given" in files.stdout and "vouches for this key" in files.stdout
    # offline, from what an earlier online check cached
    cached = run_credkit("verify", "--offline", course.ids[1], env=site_env(site, warm))
    assert cached.returncode == 0, cached.stdout
    assert "cached copy fetched" in cached.stdout
    # offline with neither: says what is missing and how to give it
    bare = run_credkit("verify", "--offline", course.ids[1], env=site_env(site, tmp_path / "empty-cache"))
    assert bare.returncode == 3 and f"--did-document {site.did}=FILE" in bare.stdout.splitlines()[0]


def test_untrusted_certificate_is_could_not_be_checked(course: Course, site: Site, tmp_path: Path) -> None:
    result = run_credkit("verify", course.ids[1], env={"CREDKIT_CACHE_DIR": str(tmp_path / "cache"), "SSL_CERT_FILE": str(tmp_path / "none.pem")})
    _no_traceback(result)
    assert result.returncode == 3
    assert "certificate is not trusted" in result.stdout.splitlines()[0]


def test_a_tampered_did_web_credential_is_invalid(course: Course, site: Site, tmp_path: Path) -> None:
    tampered = copy.deepcopy(course.credentials[1])
    tampered["credentialSubject"]["result"][0]["value"] = "10"
    result = run_credkit("verify", _write(tmp_path, "tampered.json", tampered), env=site_env(site, tmp_path / "cache"))
    assert result.returncode == 1 and "proof: the signature does not match" in result.stdout.splitlines()[0]


def test_rotation_keeps_old_credentials_and_a_compromised_key_fails_them(course: Course, site: Site, tmp_path: Path) -> None:
    from kit.keys import load_key

    key_file = course.root.parent / "instructor" / "issuer.json"
    rotated = run_credkit("keys", "rotate", "--course", str(course.root))
    assert rotated.returncode == 0, rotated.stderr
    second = load_key(key_file)
    assert second.public_key != course.key.public_key and "credkit publish" in rotated.stdout
    assert run_credkit("publish", "--course", str(course.root), "--out", str(site.root)).returncode == 0
    methods = json.loads((site.root / ".well-known" / "did.json").read_text())["assertionMethod"]
    assert methods == [f"{site.did}#{course.key.public_key_multibase}", f"{site.did}#{second.public_key_multibase}"]
    # a credential from the retired key still verifies; one signed with the new key too
    assert run_credkit("verify", course.ids[1], env=site_env(site, tmp_path / "c1")).returncode == 0
    unsigned = {k: v for k, v in course.credentials[1].items() if k != "proof"}
    by_second = _write(tmp_path, "second.json", sign(unsigned, second, verification_method=f"{site.did}#{second.public_key_multibase}"))
    assert run_credkit("verify", by_second, env=site_env(site, tmp_path / "c1")).returncode == 0

    # the second key leaks: rotate again, marking it compromised
    leaked = run_credkit("keys", "rotate", "--compromised", "--course", str(course.root))
    assert leaked.returncode == 0, leaked.stderr
    assert run_credkit("publish", "--course", str(course.root), "--out", str(site.root)).returncode == 0
    result = run_credkit("verify", by_second, env=site_env(site, tmp_path / "c2"))
    _no_traceback(result)
    assert result.returncode == 1 and "revoked this key" in result.stdout.splitlines()[0]
    assert run_credkit("verify", course.ids[1], env=site_env(site, tmp_path / "c2")).returncode == 0
    no_did_web = run_credkit("keys", "rotate", "--course", str(tmp_path))
    assert no_did_web.returncode == 1 and "needs a did:web issuer" in no_did_web.stderr and "Traceback" not in no_did_web.stderr
