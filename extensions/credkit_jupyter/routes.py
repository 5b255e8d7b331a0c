"""REST routes under ``/credkit/``: the learner's wallet, its verification, badges and fetching.

Every handler is ``@tornado.web.authenticated``; the learner comes from the server's configuration
(the JupyterHub user owning this server, or ``c.Credkit.learner_id``), never from the request.
"""

from __future__ import annotations

import json
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from grading.config import Credkit
from kit.errors import CredkitError, InvalidCredential

from .wallet import CredentialNotFound, NotYourCredential, Wallet, is_credential_id

__all__ = ["setup_route_handlers"]

NAMESPACE = "credkit"
# Anything up to the next slash: a malformed id reaches the handler and is answered 400, not 404.
_ID = r"(?P<credential_id>[^/]+)"

_MEDIA = {
    "json": ("application/ld+json", "json"),
    "png": ("image/png", "png"),
    "svg": ("image/svg+xml", "svg"),
}


class _CredkitHandler(APIHandler):
    """Shared: the learner's wallet and the mapping of wallet errors to status codes."""

    @property
    def credkit(self) -> Credkit:
        return self.settings["credkit_config"]

    def wallet(self) -> Wallet:
        config = self.credkit
        return Wallet(config.wallet_path(), learner=config.learner(), learner_email=config.learner_email or None)

    def checked_id(self, credential_id: str) -> str:
        if not is_credential_id(credential_id):
            raise tornado.web.HTTPError(400, "malformed credential id: expected a UUID")
        return credential_id

    def load(self, wallet: Wallet, credential_id: str) -> tuple[dict[str, Any], str]:
        """(document, text) of a credential, or the HTTP error that says why not."""
        try:
            return wallet.load(credential_id), wallet.read_text(credential_id)
        except NotYourCredential as exc:
            raise tornado.web.HTTPError(403, exc.diagnostics()) from exc
        except CredentialNotFound as exc:
            raise tornado.web.HTTPError(404, exc.diagnostics()) from exc
        except InvalidCredential as exc:
            raise tornado.web.HTTPError(422, exc.diagnostics()) from exc

    def entry(self, wallet: Wallet, credential_id: str, document: dict[str, Any]) -> dict[str, Any]:
        summary = wallet.summary(credential_id, document)
        summary["verification"] = wallet.verify(document)
        base = url_path_join(self.base_url, NAMESPACE, "credentials", credential_id)
        summary["links"] = {
            "self": base,
            "image": url_path_join(base, "image.svg"),
            "json": url_path_join(base, "download", "json"),
            "png": url_path_join(base, "download", "png"),
            "svg": url_path_join(base, "download", "svg"),
        }
        return summary


class CredentialsHandler(_CredkitHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """List the learner's credentials, each verified by the server."""
        wallet = self.wallet()
        credentials, unreadable = [], []
        for credential_id in wallet.ids():
            try:
                document = wallet.load(credential_id)
            except NotYourCredential:
                continue  # somebody else's file in this folder is not the learner's credential
            except CredkitError as exc:
                unreadable.append({"id": credential_id, "message": exc.diagnostics()})
                continue
            credentials.append(self.entry(wallet, credential_id, document))
        credentials.sort(key=lambda c: (c.get("validFrom") or "", c["id"]), reverse=True)
        self.finish(json.dumps({"learner": self.credkit.learner(), "credentials": credentials, "unreadable": unreadable}))


class CredentialHandler(_CredkitHandler):
    @tornado.web.authenticated
    def get(self, credential_id: str) -> None:
        """One credential: its document, its summary and the server's verification."""
        wallet = self.wallet()
        document, _ = self.load(wallet, self.checked_id(credential_id))
        entry = self.entry(wallet, credential_id, document)
        entry["credential"] = document
        self.finish(json.dumps(entry))


class VerifyHandler(_CredkitHandler):
    @tornado.web.authenticated
    def post(self, credential_id: str) -> None:
        """Verify one credential again (signature, dates, status lists in the wallet, schema)."""
        wallet = self.wallet()
        document, _ = self.load(wallet, self.checked_id(credential_id))
        self.finish(json.dumps(wallet.verify(document)))


class ImageHandler(_CredkitHandler):
    @tornado.web.authenticated
    def get(self, credential_id: str) -> None:
        """The credential's badge artwork (SVG) for display."""
        wallet = self.wallet()
        document, _ = self.load(wallet, self.checked_id(credential_id))
        self.set_header("Cache-Control", "private, max-age=300")
        self.finish(wallet.artwork(document, "svg"), set_content_type="image/svg+xml")


class DownloadHandler(_CredkitHandler):
    @tornado.web.authenticated
    def get(self, credential_id: str, kind: str) -> None:
        """The credential as its JSON file, or baked into a PNG or SVG badge."""
        if kind not in _MEDIA:
            raise tornado.web.HTTPError(404, f"no download format {kind!r}: use json, png or svg")
        wallet = self.wallet()
        _, text = self.load(wallet, self.checked_id(credential_id))
        media, suffix = _MEDIA[kind]
        body = text.encode("utf-8") if kind == "json" else wallet.baked(credential_id, kind)
        self.set_header("Content-Disposition", f'attachment; filename="credential-{credential_id}.{suffix}"')
        self.set_header("Cache-Control", "no-store")
        self.finish(body, set_content_type=media)


class FetchHandler(_CredkitHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        """Fetch newly released credentials and status lists from the nbgrader exchange."""
        from pathlib import Path

        config = self.credkit
        wallet = self.wallet()
        if config.learner() is None:
            raise tornado.web.HTTPError(409, "no learner configured: set c.Credkit.learner_id or run under JupyterHub")
        result = wallet.fetch(Path(config.exchange_root), config.cache_path(), list(config.courses))
        self.finish(json.dumps(result))


def setup_route_handlers(web_app: Any, config: Credkit) -> list[tuple[str, type]]:
    """Register the routes on the server's web app; returns them (pattern, handler)."""
    base_url = web_app.settings["base_url"]
    web_app.settings["credkit_config"] = config
    prefix = url_path_join(base_url, NAMESPACE)
    handlers: list[tuple[str, type]] = [
        (url_path_join(prefix, "credentials"), CredentialsHandler),
        (url_path_join(prefix, "credentials", _ID), CredentialHandler),
        (url_path_join(prefix, "credentials", _ID, "verify"), VerifyHandler),
        (url_path_join(prefix, "credentials", _ID, "image.svg"), ImageHandler),
        (url_path_join(prefix, "credentials", _ID, "download", r"(?P<kind>[^/]+)"), DownloadHandler),
        (url_path_join(prefix, "fetch"), FetchHandler),
    ]
    web_app.add_handlers(".*$", handlers)
    return handlers
