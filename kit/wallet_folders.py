"""Learner ids are data, not paths: the wallet folder a learner's credentials go to.

Any id nbgrader accepts (spaces, accents, CJK, a leading dash, ``/``, 200 characters) names
exactly one folder directly under the wallet root, and no two ids name the same folder:

- a plain id (ASCII letters, digits and ``._@+-``, not starting with a punctuation mark, at most
  200 bytes) is its own folder name, so existing wallets (``wallets/ada``) keep their place;
- any other id is ``~`` followed by its percent-encoded UTF-8 (``josé`` → ``~jos%C3%A9``); plain
  names never start with ``~``, so the two kinds cannot collide, and the name decodes back;
- an id whose encoding would pass the file system's 255-byte name limit is ``~~`` followed by
  the SHA-256 of its UTF-8; the folder then holds the id itself in ``.learner-id``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import quote, unquote

__all__ = ["wallet_folder", "wallet_folder_name", "learner_of_folder", "LEARNER_ID_FILE"]

_PLAIN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}\Z")
_NAME_LIMIT = 240  # below NAME_MAX (255), leaving room for the atomic writer's temp names elsewhere
LEARNER_ID_FILE = ".learner-id"


def wallet_folder_name(learner: str) -> str:
    """The folder name (one path component, never ``.``/``..``) for a learner id; raises ValueError on ''."""
    if not isinstance(learner, str) or learner == "":
        raise ValueError("an empty learner id names no wallet")
    if _PLAIN.match(learner):
        return learner
    # "~" is escaped too, so an encoded name never starts with the hashed form's "~~".
    encoded = "~" + quote(learner, safe="", errors="surrogatepass").replace("~", "%7E")
    if len(encoded) <= _NAME_LIMIT:
        return encoded
    return "~~" + hashlib.sha256(learner.encode("utf-8", "surrogatepass")).hexdigest()


def wallet_folder(wallet_root: Path, learner: str) -> Path:
    """``<wallet_root>/<wallet_folder_name(learner)>``."""
    return Path(wallet_root) / wallet_folder_name(learner)


def learner_of_folder(folder: Path) -> str | None:
    """The learner id a wallet folder belongs to (None if the name is not one this module makes)."""
    name = Path(folder).name
    if name.startswith("~~"):
        try:
            learner = (Path(folder) / LEARNER_ID_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        return learner if wallet_folder_name(learner) == name else None
    if name.startswith("~"):
        learner = unquote(name[1:], errors="strict") if _is_encoding(name[1:]) else None
        return learner if learner and wallet_folder_name(learner) == name else None
    return name if _PLAIN.match(name) else None


def _is_encoding(text: str) -> bool:
    try:
        unquote(text, errors="strict")
    except UnicodeDecodeError:
        return False
    return True
