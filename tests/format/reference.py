"""A second implementation of the format's schema checks, for the tests only: the shipped JSON Schemas run by
the ``jsonschema`` library (Draft 2020-12, an "integer" being a number written without fraction or exponent),
as another reader of the published specification would run them."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from crossverify.errors import BundleError
from crossverify.format.bundle import _named


def schema_validator(document_schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A Draft 2020-12 validator in which an "integer" is a number read as ``int``: ``1.0`` is not an index."""
    types = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _, value: type(value) is int)
    strict = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=types)  # type: ignore[no-untyped-call]
    return strict(document_schema)  # type: ignore[no-any-return]


def without_claim_entries(bundle_schema: dict[str, Any]) -> dict[str, Any]:
    """The bundle schema as ``load_bundle`` applies it: the claim entries are checked on their own, after it."""
    runtime = copy.deepcopy(bundle_schema)
    runtime["properties"]["claims"]["items"] = True
    return runtime


def named_fault(validator: jsonschema.protocols.Validator, doc: Any) -> BundleError | None:
    """The named error for the validator's best match on ``doc``, or ``None`` when it is valid."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    return None if error is None else _named(error)  # type: ignore[arg-type]
