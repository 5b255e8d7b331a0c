"""``jsonschema.validate`` with each schema checked once, for the length of a ``credkit grade`` batch.

nbgrader's ``CheckCellMetadata`` calls ``jsonschema.validate`` on every nbgrader cell's metadata, in
the sanitize pass and again in the autograde pass, and ``jsonschema.validate`` first checks the
*schema* against its metaschema on every call: the same schema file that ships with nbgrader, every
time. That check was the coordinator's largest cost after the gradebook's. Inside
:func:`schemas_checked_once`, ``jsonschema.validate`` checks each distinct schema once and then
validates each instance exactly as jsonschema does (same validator class, same ``best_match`` error).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from .swap import swapped

__all__ = ["schemas_checked_once"]


@contextmanager
def schemas_checked_once() -> Iterator[None]:
    """Patch ``jsonschema.validate`` for the process until the block ends (trusted coordinator only).

    Raises what ``jsonschema.validate`` raises: SchemaError for a bad schema, ValidationError for an
    invalid instance.
    """
    checked: dict[str, Validator] = {}
    stock = jsonschema.validate

    def validate(instance: Any, schema: Mapping[str, Any], cls: Any = None, *args: Any, **kwargs: Any) -> None:
        if cls is not None or args or kwargs:  # not nbgrader's call: jsonschema's own
            stock(instance, schema, cls, *args, **kwargs)
            return
        key = json.dumps(schema, sort_keys=True)  # nbgrader loads a fresh copy of its schema each time
        if key not in checked:
            cls = validator_for(schema)
            cls.check_schema(schema)
            checked[key] = cls(schema)
        error = best_match(checked[key].iter_errors(instance))
        if error is not None:
            raise error

    with swapped(jsonschema, "validate", validate):
        yield
