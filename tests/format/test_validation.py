"""The validators generated from the shipped JSON Schemas accept and refuse exactly what a JSON Schema library
running the same schemas does, with the same named error, message and JSON pointer: on every vector, on every
must-reject vector, and on documents fuzzed from genuine ones."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossverify.errors import BundleError
from crossverify.format import bundle, presentation
from crossverify.format.bundle import _named
from crossverify.format.strict_json import MAX_SAFE_INTEGER, read_json
from crossverify.format.validation import compile_schema

from .reference import named_fault, schema_validator, without_claim_entries
from .test_vectors import READING, ROOT, reading_input

PRESENTATIONS: dict[str, Any] = json.loads((ROOT / "docs" / "vectors" / "presentation-v1.json").read_text())
SCHEMAS = {
    "bundle as read": without_claim_entries(bundle.schema()),
    "bundle as published": bundle.schema(),
    "presentation": presentation.schema("presentation"),
    "challenge": presentation.schema("challenge"),
}
COMPILED = {name: compile_schema(s) for name, s in SCHEMAS.items()}
REFERENCE = {name: schema_validator(s) for name, s in SCHEMAS.items()}
GENUINE = {
    "bundle as read": json.loads(reading_input(READING["mustAccept"][0])),
    "bundle as published": json.loads(reading_input(READING["mustAccept"][0])),
    "presentation": PRESENTATIONS["presentation"],
    "challenge": PRESENTATIONS["challenge"],
}


def assert_same(name: str, doc: Any) -> None:
    compiled, reference = COMPILED[name], REFERENCE[name]
    assert compiled.valid(doc) == reference.is_valid(doc)
    theirs = named_fault(reference, doc)
    ours = compiled.fault(doc)
    if theirs is None:
        assert ours is None
        return
    assert ours is not None
    mine = _named(ours)
    assert (type(mine).__name__, mine.path, str(mine)) == (type(theirs).__name__, theirs.path, str(theirs))


def test_genuine_documents_are_valid() -> None:
    for name, doc in GENUINE.items():
        assert COMPILED[name].valid(doc), name
        assert COMPILED[name].fault(doc) is None


@pytest.mark.parametrize("case", READING["mustAccept"] + READING["mustReject"], ids=lambda c: c["name"])
@pytest.mark.parametrize("name", ["bundle as read", "bundle as published"])
def test_reading_vectors(name: str, case: dict[str, Any]) -> None:
    try:
        doc = read_json(reading_input(case), 2 * READING["maxBytes"])
    except BundleError:  # refused before any schema applies
        return
    assert_same(name, doc)


@pytest.mark.parametrize("case", PRESENTATIONS["mustReject"] + PRESENTATIONS["mustRefuse"], ids=lambda c: c["case"])
def test_presentation_vectors(case: dict[str, Any]) -> None:
    assert_same("presentation", case["presentation"])
    assert_same("bundle as read", case["presentation"]["bundle"])


HEX = st.from_regex(r"\A0x[0-9a-fA-F]{0,68}\Z")
SCALARS = st.one_of(
    st.none(), st.booleans(), HEX, st.text(max_size=12), st.sampled_from(["1.1", "keccak256", "sha256", "sm3", "EC"]),
    st.integers(-2, 3), st.sampled_from([16_777_214, 16_777_215, 16_777_216, 2**40 - 1, 2**40, MAX_SAFE_INTEGER]),
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER), st.floats(allow_nan=False, allow_infinity=False),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["name", "salt", "value", "redacted", "x", "jwk"]),
                                                 inner, max_size=3)), max_leaves=6)
EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["replace", "delete", "add", "grow", "nudge",
                                                                    "nudge"]), VALUES), min_size=1, max_size=4)


def places(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``doc``, itself first."""
    found = [at]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += places(v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += places(v, (*at, i))
    return found


def edited(doc: Any, edits: list[tuple[int, str, Any]]) -> Any:
    """``doc`` with each edit applied at one of its places: a value replaced, a member or item removed, a member
    added, an array grown, or a string or number nudged (a character changed, dropped or added; one more or
    less, or a power of two further)."""
    doc = copy.deepcopy(doc)
    for pick, how, value in edits:
        path = places(doc)[pick % len(places(doc))]
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        target = parent[path[-1]] if path else doc
        if how == "replace" and path:
            parent[path[-1]] = value
        elif how == "delete" and path:
            del parent[path[-1]]
        elif how == "add" and isinstance(target, dict):
            target[("extra", "name", "salt", "version", "path", "aud")[pick % 6]] = value
        elif how == "grow" and isinstance(target, list):
            target.extend([value] * (1 + pick % 30))
        elif how == "nudge" and path and isinstance(target, str):
            where = pick % (len(target) + 1)
            parent[path[-1]] = target[:where] + "aAg0 \n"[pick % 6] * (pick % 3) + target[where + pick % 2:]
        elif how == "nudge" and path and type(target) is int:
            parent[path[-1]] = target + (-1, 1, 2**24, -(2**40), 2**40)[pick % 5]
    return doc


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(SCHEMAS)), edits=EDITS)
def test_fuzzed_documents(name: str, edits: list[tuple[int, str, Any]]) -> None:
    assert_same(name, edited(GENUINE[name], edits))


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(SCHEMAS)), doc=VALUES)
def test_arbitrary_values(name: str, doc: Any) -> None:
    assert_same(name, doc)


def test_a_keyword_outside_the_subset_is_refused_when_compiled() -> None:
    with pytest.raises(ValueError, match="patternProperties"):
        compile_schema({"type": "object", "patternProperties": {"^x": {"type": "string"}}})
    with pytest.raises(ValueError, match="reference"):
        compile_schema({"$ref": "https://example.com/other.json"})
