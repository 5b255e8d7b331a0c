"""did:web credentials checked online by two independent verifiers against the same HTTPS server.

tests/interop/verify-online.mjs runs Digital Bazaar's libraries (the DID resolved with
@digitalbazaar/did-io + did-method-web) and the Digital Credentials Consortium's
@digitalcredentials/verifier-core (its own document loader, did:web resolver and status list
checker) on each file. Both fetch the DID document and the status list from tests/didweb_site.py's
server themselves; Node trusts its test CA through NODE_EXTRA_CA_CERTS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trustme

from kit.keys import IssuerKey
from kit.proofs import sign
from tests.didweb_site import Course, Site, course, site  # noqa: F401 - fixtures
from tests.helpers import run_credkit
from tests.interop_helpers import node


def _verify_online(ca_file: Path, *files: str | Path) -> list[dict[str, Any]]:
    result = node("verify-online.mjs", *map(str, files), env={"NODE_EXTRA_CA_CERTS": str(ca_file)})
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(files), result.stdout + result.stderr
    assert [line["file"] for line in lines] == list(map(str, files))
    return lines


@pytest.mark.node
def test_both_verifiers_accept_genuine_report_revoked_and_refuse_forged(course: Course, site: Site, tmp_path: Path) -> None:
    revoked = run_credkit("revoke", course.credentials[0]["id"], "--reason", "plagiarism confirmed", "--course", str(course.root), "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert run_credkit("publish", "--course", str(course.root), "--out", str(site.root)).returncode == 0
    # the same issuer id and name, signed with a key the DID document does not list
    forger = IssuerKey.generate()
    unsigned = {k: v for k, v in course.credentials[1].items() if k != "proof"}
    forged_method = f"{site.did}#{forger.public_key_multibase}"
    forged = sign(unsigned, forger, verification_method=forged_method)
    assert forged["issuer"] == course.credentials[1]["issuer"] and forged["issuer"]["id"] == site.did
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged))

    genuine, revoked_line, forged_line = _verify_online(site.ca_file, course.ids[1], course.ids[0], forged_file)

    assert genuine["digitalbazaar"] == {"verified": True, "error": None, "status": {"revocation": False}}, genuine
    assert genuine["dcc"]["verified"] is True and genuine["dcc"]["errors"] == [], genuine
    # no known DID registry is given, so verifier-core names no trusted issuer; the rest holds
    assert genuine["dcc"]["steps"] == {"valid_signature": True, "expiration": True, "revocation_status": True, "registered_issuer": False}
    assert genuine["dcc"]["revoked"] is False

    # a revoked credential still has a good signature; both read the bit from the fetched list
    assert revoked_line["digitalbazaar"] == {"verified": True, "error": None, "status": {"revocation": True}}, revoked_line
    assert revoked_line["dcc"]["steps"]["valid_signature"] is True and revoked_line["dcc"]["steps"]["revocation_status"] is False
    assert revoked_line["dcc"]["revoked"] is True

    assert forged_line["digitalbazaar"]["verified"] is False
    assert f'DID document entity with id "{forged_method}" not found' in forged_line["digitalbazaar"]["error"], forged_line
    assert forged_line["dcc"]["verified"] is False and forged_line["dcc"]["steps"] == {}
    assert forged_line["dcc"]["errors"] == [{"name": "invalid_signature", "message": "The signature is not valid."}], forged_line


@pytest.mark.node
def test_both_verifiers_depend_on_the_server(course: Course, site: Site, tmp_path: Path) -> None:
    """What the verdicts above rest on: the DID document and status list really come from the HTTPS server."""
    # a CA Node does not trust: neither can resolve the issuer
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    [untrusted] = _verify_online(other_ca, course.ids[1])
    assert untrusted["digitalbazaar"]["verified"] is False
    assert f"cannot resolve {course.credentials[1]['proof'][0]['verificationMethod']}" in untrusted["digitalbazaar"]["error"], untrusted
    assert "certificate" in untrusted["digitalbazaar"]["error"]
    # verifier-core calls an unresolvable did:web issuer an invalid signature (only errors named HTTPError are told apart)
    assert untrusted["dcc"]["verified"] is False and [e["name"] for e in untrusted["dcc"]["errors"]] == ["invalid_signature"], untrusted

    # the status list gone from the site: Digital Bazaar fails the credential, verifier-core keeps
    # the signature valid and reports the status step as an error
    status_url = course.credentials[1]["credentialStatus"]["statusListCredential"]
    (site.root / "ds101" / "status" / "revocation-1").unlink()
    [missing] = _verify_online(site.ca_file, course.ids[1])
    assert missing["digitalbazaar"]["verified"] is False
    assert f"cannot fetch {status_url}: HTTP 404" in missing["digitalbazaar"]["error"], missing
    assert missing["dcc"]["verified"] is True and missing["dcc"]["revoked"] is None
    status_step = missing["dcc"]["steps"]["revocation_status"]["error"]
    assert status_step["name"] == "status_list_not_found", missing
    assert status_url in status_step["message"] and "404" in status_step["message"], missing
