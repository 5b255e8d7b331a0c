"""credkit's Jupyter extension: the learner's Credentials panel, its server routes and notebook widgets."""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_labextension_paths", "_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "credkit-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "credkit_jupyter"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the ``/credkit/`` routes with the learner's settings from the ``Credkit`` config section."""
    from grading.config import Credkit

    from .routes import setup_route_handlers

    config = Credkit(parent=server_app)
    setup_route_handlers(server_app.web_app, config)
    server_app.log.info(
        "credkit: wallet %s for learner %s", config.wallet_path(), config.learner() or "(not configured)"
    )
