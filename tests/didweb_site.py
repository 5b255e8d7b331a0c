"""A did:web issuer's published site served over real HTTPS, for the did:web and verify-page tests.

The server is Python's http.server with TLS on 127.0.0.1, its certificate from a throwaway test CA
(trustme) that only the verifying process trusts (``SSL_CERT_FILE``; Chromium: the certificate's
key pinned with ``--ignore-certificate-errors-spki-list``). The issuer is
``did:web:localhost%3A<port>``: the did:web spec writes the port as %3A, so no hosts file is needed.
It answers with ``Access-Control-Allow-Origin: *``, as public static hosts do (GitHub Pages, S3 with
CORS), so that verify.html opened from another origin or from a file can read the DID document.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kit.credentials import Achievement, IssuerProfile, Recipient
from kit.issuance import AwardRequest, CredentialIssuer
from kit.keys import IssuerKey, save_key
from kit.ledger import Ledger
from tests.helpers import SAMPLE_ISSUER_ARGS, run_credkit, sample_award

__all__ = ["Site", "Course", "site", "course", "site_env", "issue_course"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@dataclasses.dataclass
class Site:
    """A published issuer site served over HTTPS, and what a verifier needs to trust it."""

    root: Path
    port: int
    ca_file: Path
    spki_sha256: str  # base64 SHA-256 of the server certificate's public key (Chromium's pin)
    server: http.server.ThreadingHTTPServer
    thread: threading.Thread

    @property
    def did(self) -> str:
        return f"did:web:localhost%3A{self.port}"

    @property
    def base(self) -> str:
        return f"https://localhost:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    root = tmp_path / "site"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
    spki = base64.b64encode(hashlib.sha256(leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()).decode()
    served = Site(root, server.server_address[1], ca_file, spki, server, thread)
    yield served
    if thread.is_alive():
        served.stop()


@dataclasses.dataclass
class Course:
    root: Path
    key: IssuerKey
    credentials: list[dict[str, Any]]
    ids: list[str]  # the credential files in the wallets


def site_env(site: Site, cache: Path) -> dict[str, str]:
    return {"SSL_CERT_FILE": str(site.ca_file), "CREDKIT_CACHE_DIR": str(cache)}


def issue_course(folder: Path, issuer_did: str, base: str, site_root: Path) -> Course:
    """A course under ``folder`` whose issuer is ``issuer_did`` (its site at ``base``), two credentials issued, the site published into ``site_root``."""
    root, instructor = folder / "course", folder / "instructor"
    root.mkdir()
    instructor.mkdir()
    key = IssuerKey.generate()
    save_key(key, instructor / "issuer.json")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'ds101'\n"
        f"c.Credkit.key_file = {str(instructor / 'issuer.json')!r}\n"
        f"c.Credkit.issuer_did = {issuer_did!r}\n"
        f"c.Credkit.status_base_url = '{base}/ds101/status'\n"
    )
    from grading.config import load_course_config

    settings = load_course_config(root)
    achievement = Achievement(
        id=f"{base}/achievements/pandas-wrangling", name="pandas data wrangling",
        description="Cleans, reshapes and aggregates tabular data with pandas.", criteria="80% on groupby and merge.",
    )
    requests = [
        AwardRequest(
            award_key=f"ds101/learner{i}/pandas", course="ds101", learner=f"learner{i}",
            award=sample_award(achievement=achievement, recipient=Recipient(f"learner{i}@example.edu") if i else Recipient("learner0", identity_type="systemId")),
        )
        for i in range(2)
    ]
    with Ledger(settings.ledger_url) as ledger:
        issuer = CredentialIssuer(
            key=key, profile=IssuerProfile(**SAMPLE_ISSUER_ARGS), ledger=ledger,  # type: ignore[arg-type]
            wallet_root=settings.wallet_root, status_dir=settings.status_dir,
            status_base_url=settings.status_base_url("unused"), issuer_did=settings.issuer_did,
        )
        issued = issuer.issue(requests)
    published = run_credkit("publish", "--course", str(root), "--out", str(site_root))
    assert published.returncode == 0, published.stderr
    assert f"{base}/" in published.stdout
    documents = [json.loads(i.path.read_text()) for i in issued.issued]
    return Course(root, key, documents, [str(i.path) for i in issued.issued])


@pytest.fixture
def course(tmp_path: Path, site: Site) -> Course:
    """A course whose issuer is the did:web of the test site, with two credentials issued and the site published."""
    return issue_course(tmp_path, site.did, site.base, site.root)
