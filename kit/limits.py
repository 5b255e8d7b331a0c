"""Inputs read with limits: JSON and TOML parsed with a size and a nesting-depth bound.

Every file a user, a learner or a web server hands the kit goes through here, so that a deeply
nested document is one clear error naming the file, never a ``RecursionError`` (from the parser,
or later from JSON-LD expansion, canonicalization or schema validation, which all recurse).
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from kit.errors import CredkitError

__all__ = ["MAX_DEPTH", "MAX_JSON_BYTES", "InputTooLarge", "check_depth", "parse_json", "parse_toml"]

# A credential nests about 8 levels deep, a notebook 6, a manifest 4: 32 is generous for real
# documents and far below where any of the recursive libraries the kit uses run out of stack.
MAX_DEPTH = 32
MAX_JSON_BYTES = 8 * 1024 * 1024


class InputTooLarge(CredkitError):
    """A document is larger or nested deeper than the kit reads."""


def check_depth(value: Any, *, source: str, max_depth: int = MAX_DEPTH, error: type[CredkitError] = InputTooLarge) -> None:
    """Raise ``error`` when lists/objects in ``value`` nest deeper than ``max_depth`` (iterative, no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item  # type: ignore[assignment]
        else:
            continue
        if depth > max_depth:
            raise error(f"{source}: nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)


def parse_json(
    data: str | bytes, *, source: str, error: type[CredkitError] = InputTooLarge, what: str = "JSON",
    max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse JSON text or bytes; ``error`` naming ``source`` when too large, too deep, malformed or not UTF-8."""
    if len(data) > max_bytes:
        raise error(f"{source}: larger than {_size(max_bytes)}; not read")
    try:
        value = json.loads(data)
    except RecursionError:
        raise error(f"{source}: nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise error(f"{source}: not valid {what} (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise error(f"{source}: not valid {what} (line {exc.lineno}: {exc.msg}); truncated?") from None
    check_depth(value, source=source, max_depth=max_depth, error=error)
    return value


def parse_toml(
    text: str, *, source: str, error: type[CredkitError] = InputTooLarge,
    max_bytes: int = 1024 * 1024, max_depth: int = MAX_DEPTH,
) -> dict[str, Any]:
    """Parse TOML text; ``error`` naming ``source`` when too large, too deep or malformed."""
    if len(text) > max_bytes:
        raise error(f"{source}: larger than {_size(max_bytes)}; not read")
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise error(f"{source}: nested deeper than {max_depth} levels") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: not valid TOML ({exc})") from None
    check_depth(value, source=source, max_depth=max_depth, error=error)
    return value


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
