"""credkit's settings: one ``Credkit`` config section, read on both sides of a course.

The course side (``credkit grade``/``issue``/``release``, the nbgrader hooks) reads it from the
course's ``nbgrader_config.py``; the learner side (the Jupyter server extension and the widgets)
from the Jupyter server's config. Each side uses its own settings and ignores the other's, so one
file can hold both (a single-user course folder). Example::

    c.Credkit.key_file = "/home/instructor/.jupyter/credkit/issuer-key.json"
    c.Credkit.ledger_url = "postgresql+psycopg://credkit@db.example.edu/credkit"
    c.Credkit.status_base_url = "https://courses.example.edu/ds101/credentials/status"
    c.Credkit.issuer_did = "did:web:courses.example.edu:ds101"

CLI flags override these; everything has a default that works on one machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_config_dir, jupyter_data_dir
from traitlets import Enum, List, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

from kit.errors import CredkitError
from kit.wallet_folders import wallet_folder

__all__ = ["Credkit", "load_course_config", "CourseSettings", "ConfigError"]


class ConfigError(CredkitError):
    """The course's nbgrader_config.py cannot be read, or a setting is unusable."""


class Credkit(Configurable):
    """credkit's settings for one course."""

    key_file = Unicode(
        "",
        help="Issuer key file (Multikey JSON). Never inside the course folder. "
        "Default: <jupyter config dir>/credkit/<course_id>-issuer-key.json, created 0600 on first use.",
    ).tag(config=True)
    ledger_url = Unicode(
        "",
        help="SQLAlchemy URL of the credential ledger. Default: sqlite:///<course>/credkit/ledger.db. "
        "A PostgreSQL URL (postgresql+psycopg://…) works too.",
    ).tag(config=True)
    wallet_root = Unicode(
        "",
        help="Folder of learners' wallets, one per learner (<wallet_root>/<learner>/): where the course "
        "delivers credentials (default <course>/credkit/wallets) and, on a learner's server, where its "
        "wallet is found when wallet_dir is not set.",
    ).tag(config=True)
    status_dir = Unicode(
        "", help="Folder the signed status lists are published to. Default: <course>/credkit/status."
    ).tag(config=True)
    issuer_did = Unicode(
        "",
        help="The issuer's DID: 'did:web:<host>[:<path>]' binds the credentials to a domain you control "
        "(credkit publish writes the DID document to serve at https://<host>/.well-known/did.json, or "
        "https://<host>/<path>/did.json); a port is written %3A. Empty: the key's own did:key, which no "
        "domain vouches for (fine for offline demos).",
    ).tag(config=True)
    status_base_url = Unicode(
        "",
        help="Public URL the status folder is served at; status list ids are <status_base_url>/<list>. "
        "Default: <issuer url from the manifest>/credentials/<course_id>/status.",
    ).tag(config=True)
    status_purpose = Enum(
        ["revocation", "suspension"],
        default_value="revocation",
        help="The status list each credential sits on. The strict Open Badges schema allows one status entry "
        "per credential: 'revocation' (permanent) or 'suspension' (reversible).",
    ).tag(config=True)
    cryptosuite = Enum(
        ["eddsa-rdfc-2022", "eddsa-jcs-2022"], default_value="eddsa-rdfc-2022",
        help="Data Integrity cryptosuite for new credentials. Open Badges 3.0 credentials (what a course issues) are "
        "signed with eddsa-rdfc-2022 only; issuing refuses eddsa-jcs-2022 (1EdTech certification and DCC reject it).",
    ).tag(config=True)
    delivery = Enum(
        ["wallet", "exchange"],
        default_value="wallet",
        help="Where credentials go: 'wallet' writes <wallet_root>/<learner>/ (one machine, or a shared "
        "filesystem); 'exchange' also releases them through nbgrader's exchange (c.Exchange.root) for a "
        "JupyterHub course, where each learner's server fetches its own.",
    ).tag(config=True)

    # -- the learner side: the Jupyter server extension and the widgets ---------------------------

    learner_id = Unicode(
        "",
        help="The learner (nbgrader student id) on a single-user server. Under JupyterHub the learner is "
        "always the hub user who owns the server, and this setting is ignored.",
    ).tag(config=True)
    learner_email = Unicode(
        "", help="The learner's e-mail, to recognise credentials issued to an emailAddress identity."
    ).tag(config=True)
    wallet_dir = Unicode(
        "",
        help="The learner's wallet folder (credential files named <uuid>.json, status lists under status/). "
        "Default: <wallet_root>/<learner> when wallet_root is set, else <jupyter_data_dir>/credkit/wallet.",
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
        """The learner's wallet on this server."""
        if self.wallet_dir:
            return Path(self.wallet_dir).expanduser().resolve()
        learner = self.learner()
        if self.wallet_root and learner:
            return wallet_folder(Path(self.wallet_root).expanduser(), learner).resolve()
        return Path(jupyter_data_dir(), "credkit", "wallet").resolve()

    def cache_path(self) -> Path:
        """nbgrader's submission cache on this server (where the exchange drop's secret is found)."""
        return Path(self.exchange_cache or Path(jupyter_data_dir(), "nbgrader_cache")).expanduser()


class CourseSettings:
    """The resolved settings of a course folder: config values with their defaults filled in."""

    def __init__(self, course_root: Path, course_id: str, config: Config) -> None:
        self.course_root, self.course_id = course_root, course_id
        self.credkit = Credkit(config=config)
        self.config = config

    @property
    def key_file(self) -> Path:
        if self.credkit.key_file:
            return Path(self.credkit.key_file).expanduser()
        return Path(jupyter_config_dir()) / "credkit" / f"{self.course_id}-issuer-key.json"

    @property
    def ledger_url(self) -> str:
        return self.credkit.ledger_url or f"sqlite:///{self.course_root / 'credkit' / 'ledger.db'}"

    @property
    def wallet_root(self) -> Path:
        return Path(self.credkit.wallet_root).expanduser() if self.credkit.wallet_root else self.course_root / "credkit" / "wallets"

    @property
    def status_dir(self) -> Path:
        return Path(self.credkit.status_dir).expanduser() if self.credkit.status_dir else self.course_root / "credkit" / "status"

    @property
    def issuer_did(self) -> str | None:
        """The configured did:web issuer, or None for the key's did:key."""
        return self.credkit.issuer_did.strip() or None

    def status_base_url(self, issuer_url: str) -> str:
        return self.credkit.status_base_url or f"{issuer_url.rstrip('/')}/credentials/{self.course_id}/status"

    def check_key_outside_course(self) -> None:
        """The key must not live where grading touches files (DESIGN.md, trust boundaries)."""
        key = self.key_file.resolve()
        if key.is_relative_to(self.course_root.resolve()):
            raise ConfigError(f"{key}: the issuer key must not be inside the course folder {self.course_root}")


def load_course_config(course_root: str | Path) -> CourseSettings:
    """Read ``<course_root>/nbgrader_config.py`` (if any) the way nbgrader does; one-line errors."""
    root = Path(course_root).resolve()
    if not root.is_dir():
        raise ConfigError(f"{root}: no such course folder")
    config = Config()
    path = root / "nbgrader_config.py"
    if path.exists():
        try:
            config = PyFileConfigLoader(path.name, path=str(root)).load_config()
        except ConfigFileNotFound:
            pass
        except Exception as exc:  # a config file is Python: any error in it is the instructor's to fix
            raise ConfigError(f"{path}: cannot load ({exc.__class__.__name__}: {exc})") from None
    course_id = str(config.get("CourseDirectory", {}).get("course_id", "") or root.name)
    return CourseSettings(root, course_id, config)
