"""The fast canonical encodings equal the rfc8785 package's output, for every JSON value."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from crossverify import DocumentHeader
from crossverify.errors import InvalidClaim, InvalidDocType, InvalidIssuerId
from crossverify.format.canonical import canonical_claim, canonical_json
from crossverify.format.frozen import frozen
from crossverify.format.presentation import TYP, Binding

from .strategies import headers, json_values


@given(st.text(), json_values | st.text() | st.integers())
def test_claim_encoding_is_rfc8785(name: str, value: object) -> None:
    assert_rfc8785(name, value)


def assert_rfc8785(name: str, value: object) -> None:
    try:
        expected = rfc8785.dumps([name, value])
    except rfc8785.CanonicalizationError:
        with pytest.raises(InvalidClaim):
            canonical_claim(name, value)
        return
    assert canonical_claim(name, value) == expected


@given(st.text(alphabet=st.characters(max_codepoint=0x40)))
def test_control_characters_escape_alike(text: str) -> None:
    assert canonical_claim(text, text) == rfc8785.dumps([text, text])


@given(headers)
def test_header_encoding_is_rfc8785(header: DocumentHeader) -> None:
    assert header.canonical() == rfc8785.dumps(header.as_json())


def test_header_fields_are_checked() -> None:
    with pytest.raises(InvalidDocType):
        DocumentHeader("deposit", "BNUMMOMX", 0, 0, 0)
    with pytest.raises(InvalidIssuerId):
        DocumentHeader("DEPCERT", "Banco Nacional Ultramarino", 0, 0, 0)
    with pytest.raises(InvalidDocType):  # a trailing newline is not the end of a code (a 9-byte "bytes8")
        DocumentHeader("DEPCERT\n", "BNUMMOMX", 0, 0, 0)
    with pytest.raises(InvalidIssuerId):
        DocumentHeader("DEPCERT", "BNUMMOMX\n", 0, 0, 0)
    with pytest.raises(InvalidClaim):
        DocumentHeader("DEPCERT", "BNUMMOMX", -1, 0, 0)
    with pytest.raises(InvalidClaim):
        DocumentHeader("DEPCERT", "BNUMMOMX", 0, True, 0)  # type: ignore[arg-type]


NAMES_ACROSS_PLANES = st.text(alphabet=st.sampled_from(["a", "é", "\uffff", "\ue000", "\U00010000", "\U0001f600"]),
                              max_size=3)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.floats(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES_ACROSS_PLANES, inner,
                                                                                max_size=4), max_leaves=10))
def test_lists_and_objects_encode_as_rfc8785(value: object) -> None:
    """Members named across planes sort by UTF-16 code units, not code points; integers beyond 2^53 refuse."""
    assert_rfc8785("name", value)


def test_an_object_with_a_lone_surrogate_or_a_name_not_text_is_refused_or_left_to_rfc8785() -> None:
    with pytest.raises(InvalidClaim):
        canonical_claim("n", {"\ud800": 1})
    with pytest.raises(InvalidClaim):
        canonical_claim("n", {"a": ["\udc00"]})
    with pytest.raises(InvalidClaim):
        canonical_claim("n", {1: "a"})
    assert canonical_claim("n", {"\U00010000": 1, "\uffff": 2}) == rfc8785.dumps(["n", {"\U00010000": 1, "\uffff": 2}])


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.floats(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES_ACROSS_PLANES, inner,
                                                                                max_size=4), max_leaves=10))
def test_any_value_encodes_as_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        with pytest.raises(type(exc)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.floats(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES_ACROSS_PLANES, inner,
                                                                                max_size=4), max_leaves=10))
def test_frozen_values_encode_as_the_values_they_freeze(value: object) -> None:
    """A bundle's claim values are frozen (read-only dict and list subclasses): they encode as what they freeze."""
    try:
        expected = canonical_claim("name", value)
    except InvalidClaim:
        with pytest.raises(InvalidClaim):
            canonical_claim("name", frozen(value))
        return
    assert canonical_claim("name", frozen(value)) == expected and frozen(value) == value


@given(st.text(max_size=6), st.text(max_size=6), st.lists(st.text(max_size=4), max_size=4),
       st.integers(-2, 2**54), st.integers(-2, 2**54), st.binary(min_size=32, max_size=32))
def test_a_binding_signs_its_rfc8785_encoding(aud: str, purpose: str, disclosed: list[str], iat: int, exp: int,
                                              digest: bytes) -> None:
    """What a holder signs, written directly, is RFC 8785's encoding of the binding (or refused alike)."""
    binding = Binding(aud, b"\x07" * 32, purpose, tuple(disclosed), iat, exp)
    members = {"aud": aud, "digest": "0x" + digest.hex(), "disclosed": disclosed, "exp": exp, "iat": iat,
               "nonce": "0x" + "07" * 32, "purpose": purpose, "typ": TYP}
    try:
        expected = rfc8785.dumps(members)
    except rfc8785.CanonicalizationError as exc:
        with pytest.raises(type(exc)):
            binding.signing_input(digest)
        return
    assert binding.signing_input(digest) == expected
