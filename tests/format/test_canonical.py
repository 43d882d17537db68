"""The fast canonical encodings equal the rfc8785 package's output, for every JSON value."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from crossverify import DocumentHeader
from crossverify.errors import InvalidClaim, InvalidDocType, InvalidIssuerId
from crossverify.format.canonical import canonical_claim

from .strategies import headers, json_values


@given(st.text(), json_values | st.text() | st.integers())
def test_claim_encoding_is_rfc8785(name: str, value: object) -> None:
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
