"""The learner-side settings, a ``Credkit`` section in the Jupyter server's config."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from traitlets import List, Unicode
from traitlets.config import Configurable

__all__ = ["Credkit"]


class Credkit(Configurable):
    """Where the learner's wallet is and where the course releases credentials."""

    learner_id = Unicode(
        "",
        help=(
            "The learner (nbgrader student id) on a single-user server. Under JupyterHub the learner is "
            "always the hub user who owns the server, and this setting is ignored."
        ),
    ).tag(config=True)

    learner_email = Unicode(
        "",
        help="The learner's e-mail, to recognise credentials issued to an emailAddress identity.",
    ).tag(config=True)

    wallet_dir = Unicode(
        "",
        help=(
            "The learner's wallet folder (credential files named <uuid>.json, status lists under status/). "
            "Default: <jupyter_data_dir>/credkit/wallet, or <wallet_root>/<learner> when wallet_root is set."
        ),
    ).tag(config=True)

    wallet_root = Unicode(
        "",
        help="A folder of wallets, one per learner (<wallet_root>/<learner>/), as a local course delivers them.",
    ).tag(config=True)

    exchange_root = Unicode(
        "/srv/nbgrader/exchange",
        help="nbgrader's exchange root, where a JupyterHub course releases credentials (<root>/<course>/credentials/).",
    ).tag(config=True)

    exchange_cache = Unicode(
        "",
        help="nbgrader's submission cache on this server (default <jupyter_data_dir>/nbgrader_cache, nbgrader's own default).",
    ).tag(config=True)

    courses = List(
        Unicode(),
        help="Course ids to fetch credentials for. Default: every course the learner has submitted to.",
    ).tag(config=True)

    def learner(self) -> str | None:
        """The learner this server belongs to: the JupyterHub user, else ``learner_id``, else unknown."""
        hub_user = os.environ.get("JUPYTERHUB_USER")
        if hub_user:
            return hub_user
        return self.learner_id or None

    def wallet_path(self) -> Path:
        if self.wallet_dir:
            return Path(self.wallet_dir).expanduser().resolve()
        learner = self.learner()
        if self.wallet_root and learner:
            return (Path(self.wallet_root).expanduser() / learner).resolve()
        return Path(jupyter_data_dir(), "credkit", "wallet").resolve()

    def cache_path(self) -> Path:
        return Path(self.exchange_cache or Path(jupyter_data_dir(), "nbgrader_cache")).expanduser()
