"""jsonschema.validate with each schema checked once: same answers as jsonschema's own."""

from __future__ import annotations

from unittest import mock

import jsonschema
import pytest
from jsonschema.validators import Draft202012Validator

from grading.schema_cache import schemas_checked_once

SCHEMA = {"type": "object", "properties": {"points": {"type": "number"}}, "required": ["points"]}


def _error(instance: object) -> str:
    with pytest.raises(jsonschema.ValidationError) as info:
        jsonschema.validate(instance, dict(SCHEMA))
    return info.value.message


def test_same_errors_as_jsonschema_and_the_schema_is_checked_once() -> None:
    stock = [_error({"points": "two"}), _error({})]
    with schemas_checked_once(), mock.patch.object(
            Draft202012Validator, "check_schema", wraps=Draft202012Validator.check_schema) as check:
        jsonschema.validate({"points": 2}, dict(SCHEMA))
        assert [_error({"points": "two"}), _error({})] == stock
    assert check.call_count == 1


def test_a_bad_schema_is_still_refused() -> None:
    with schemas_checked_once(), pytest.raises(jsonschema.SchemaError):
        jsonschema.validate({}, {"type": "no-such-type"})


def test_jsonschema_is_restored_after_the_batch() -> None:
    stock = jsonschema.validate
    with schemas_checked_once():
        assert jsonschema.validate is not stock
    assert jsonschema.validate is stock
