"""Serve a published issuer site (``credkit publish``, or ``make demo``'s demo/site) over HTTPS, for trying verifiers.

    .venv/bin/python tools/serve-site.py demo/site [--host datascience.northbridge.example.edu] [--bind 127.0.0.1] [--port 443]

A throwaway certificate authority (trustme, in the test extra) signs a certificate for the host; its
CA file is written next to the site (``<site>-test-ca.pem``). This is a test tool, not a web host:
a real issuer uploads the site to its own HTTPS host. The script prints what a verifier on this
machine needs: the hosts-file line that maps the host to the bind address, ``SSL_CERT_FILE`` for
``credkit verify`` and the flags for Chromium. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import http.server
import ssl
import sys
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DEMO_HOST = "datascience.northbridge.example.edu"


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, readable from pages of any origin (a saved verify.html is origin ``null``)."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def make_server(site: Path, host: str, bind: str, port: int, ca_file: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """An HTTPS server for ``site`` at ``host`` (certificate from a new test CA written to ``ca_file``) and the certificate key's pin."""
    ca = trustme.CA()
    cert = ca.issue_cert(host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    ca.cert_pem.write_to_path(str(ca_file))
    server = http.server.ThreadingHTTPServer((bind, port), functools.partial(SiteHandler, directory=str(site)))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    leaf = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
    pin = base64.b64encode(hashlib.sha256(leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()).decode()
    return server, pin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the published site folder (e.g. demo/site)")
    parser.add_argument("--host", default=DEMO_HOST, help=f"the issuer's host name (default: the demo's, {DEMO_HOST})")
    parser.add_argument("--bind", default="127.0.0.1", help="the address to listen on")
    parser.add_argument("--port", type=int, default=443, help="the port (did:web without a port means 443)")
    args = parser.parse_args()
    site = args.site.resolve()
    if not (site / "verify.html").is_file():
        print(f"{site}: not a published site (no verify.html); run `make demo` or `credkit publish` first", file=sys.stderr)
        return 1
    ca_file = site.with_name(f"{site.name}-test-ca.pem")
    try:
        server, pin = make_server(site, args.host, args.bind, args.port, ca_file)
    except OSError as exc:
        print(f"cannot listen on {args.bind}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    where = args.host if args.port == 443 else f"{args.host}:{args.port}"
    print(f"serving {site} at https://{where}/ (listening on {args.bind}:{args.port})")
    print(f"  hosts file line:  {args.bind} {args.host}")
    print(f"  credkit verify:   SSL_CERT_FILE={ca_file} credkit verify FILE")
    print(f"  Chromium:         chromium --host-resolver-rules='MAP {args.host} {args.bind}:{args.port}' "
          f"--ignore-certificate-errors-spki-list={pin} https://{where}/verify.html")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
