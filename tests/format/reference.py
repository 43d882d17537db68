"""A second implementation of the format's schema checks, for the tests only: the shipped JSON Schemas run by
the ``jsonschema`` library (Draft 2020-12, an "integer" being a number written without fraction or exponent),
as another reader of the published specification would run them."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from crossverify.errors import BundleError
from crossverify.format.bundle import _named


def schema_validator(document_schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A Draft 2020-12 validator in which an "integer" is a number read as ``int``: ``1.0`` is not an index, and a
    ``pattern`` is an ECMA-262 regular expression, as JSON Schema defines it (the library runs Python's, whose
    ``$`` also matches before a final newline)."""
    types = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _, value: type(value) is int)
    strict = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, {"pattern": _ecma_pattern}, type_checker=types)
    return strict(document_schema)  # type: ignore[no-any-return]


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not re.search(pattern.replace("$", r"\Z"), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def without_claim_entries(bundle_schema: dict[str, Any]) -> dict[str, Any]:
    """The bundle schema as ``load_bundle`` applies it: the claim entries are checked on their own, after it."""
    runtime = copy.deepcopy(bundle_schema)
    runtime["properties"]["claims"]["items"] = True
    return runtime


def named_fault(validator: jsonschema.protocols.Validator, doc: Any) -> BundleError | None:
    """The named error for the validator's best match on ``doc``, or ``None`` when it is valid."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    return None if error is None else _named(error)  # type: ignore[arg-type]
