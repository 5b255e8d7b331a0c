"""Swap a library's module attribute for the length of a block (the coordinator's batch shortcuts).

nbgrader calls ``create_engine`` and ``jsonschema.validate`` through its modules' namespaces, so the
batch shortcuts (``gradebook.py``, ``schema_cache.py``) replace those names while a batch runs and
put the originals back afterwards, whatever happens. Process-wide: the trusted coordinator only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["swapped"]


@contextmanager
def swapped(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)
