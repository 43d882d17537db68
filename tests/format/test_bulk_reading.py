"""The bulk reading of a bundle or a presentation (one pass over what the C parser returns) only ever accepts, and
what it accepts is what the strict reading gives: on every reading vector, on genuine bundles of any claims and
redactions, and on texts fuzzed from genuine ones. Whatever it declines, the strict reading judges and names."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossverify import Bundle, Certificate, DocumentHeader, HashAlgorithm
from crossverify.errors import BundleError, CrossverifyError
from crossverify.format.bundle import bundle_from_json, bundle_from_pairs, load_bundle
from crossverify.format.certificate import MAX_BUNDLE_BYTES, Claims
from crossverify.format.presentation import (
    MAX_PRESENTATION_BYTES,
    Presentation,
    _presentation,
    load_document,
    load_presentation,
    presentation_from_pairs,
)
from crossverify.format.strict_json import MAX_DEPTH, read_json, read_pairs

from .strategies import hash_algs
from .test_bundle_properties import batches, bundles_of
from .test_validation import EDITS, edited
from .test_vectors import READING, ROOT, reading_input


def bulk(text: str | bytes, max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle | None:
    return bundle_from_pairs(read_pairs(text, max_bytes))


def strict(text: str | bytes, max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle | CrossverifyError:
    try:
        return bundle_from_json(read_json(text, max_bytes))
    except CrossverifyError as exc:
        return exc


def assert_agrees(text: str | bytes, max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle | None:
    """The bulk reading declines or gives exactly the strict reading's bundle; ``load_bundle`` answers as the
    strict reading does."""
    quick, careful = bulk(text, max_bytes), strict(text, max_bytes)
    if quick is not None:
        assert isinstance(careful, Bundle), careful
        assert quick == careful
        assert (quick.header, quick.proof, quick.chain_id, quick.registry) == (
            careful.header, careful.proof, careful.chain_id, careful.registry)
        assert type(quick.claims) is Claims and list(quick.claims) == list(careful.claims)
    if isinstance(careful, CrossverifyError):
        with pytest.raises(type(careful)) as raised:
            load_bundle(text, max_bytes=max_bytes)
        got = raised.value
        assert (getattr(got, "path", None), str(got)) == (getattr(careful, "path", None), str(careful))
    else:
        assert load_bundle(text, max_bytes=max_bytes) == careful
    return quick


@pytest.mark.parametrize("case", READING["mustAccept"], ids=lambda c: c["name"])
def test_genuine_vectors_are_read_in_bulk(case: dict[str, Any]) -> None:
    assert assert_agrees(reading_input(case), READING["maxBytes"]) is not None


@pytest.mark.parametrize("case", READING["mustReject"], ids=lambda c: c["name"])
def test_refused_vectors_are_left_to_the_strict_reading(case: dict[str, Any]) -> None:
    quick = assert_agrees(reading_input(case), READING["maxBytes"])
    if "attachments" in case:  # the file is a genuine bundle; the attached bytes are what is refused
        files = {name: bytes.fromhex(data[2:]) for name, data in case["attachments"].items()}
        assert quick is not None
        with pytest.raises(BundleError) as raised:
            load_bundle(reading_input(case), files)
        assert (type(raised.value).__name__, raised.value.path) == (case["error"], case["pointer"])
    else:
        assert quick is None


@settings(max_examples=150, deadline=None)
@given(batches, hash_algs, st.data())
def test_genuine_bundles_are_read_in_bulk(certs: list[Certificate], alg: HashAlgorithm, data: st.DataObject) -> None:
    bundle = data.draw(st.sampled_from(bundles_of(certs, alg)))
    names = data.draw(st.sets(st.sampled_from(sorted(bundle.disclosed()))))
    if len(names) == len(bundle.claims):
        names.pop()
    for shown in (bundle, bundle.redact(names)):
        text = shown.dumps()
        assert assert_agrees(text) == shown
        assert assert_agrees(text.encode()) == shown


GENUINE_TEXT = bundles_of([Certificate(
    DocumentHeader("DEPCERT", "BNUMMOMX", 1_790_000_000, 1_790_000_000, 1_800_000_000),
    {"account": "MO-1234", "balance": 125000.5, "currency": "MOP", "holder": {"name": "陳大文", "ids": [1, 2]},
     "open": True, "note": None})], HashAlgorithm.KECCAK256)[0].redact(["note"]).dumps()
#: Spellings the strict reading refuses or reads otherwise, set into a genuine text by the fuzzer below.
TEXT_EDITS = ['"\\ud800"', '"\\udc00x"', "1e400", "-0.0", "1.0", "0.1", "100000000000000000000",
              "9007199254740993", "-9007199254740992", "1E2", "NaN", '{"a":1,"a":2}', '{"\\ud800":1}', "[]", "{}",
              '{"attachment":{"hashAlg":"keccak256","digest":"0x' + "00" * 32 + '","size":1,"mediaType":"a"}}',
              '{"attachment":{"hashAlg":"md5"}}', " ", "\ufeff", "\n", "[[[[[[[[[[]]]]]]]]]]", '"\\n"', "true"]


def _respelled(text: str, pick: int, spelling: str) -> str:
    """``text`` with the value after one of its colons or commas (or at one place) replaced by ``spelling``."""
    anchors = [i for i, c in enumerate(text) if c in ":,[{"]
    at = anchors[pick % len(anchors)] + 1
    end = at
    with contextlib.suppress(ValueError):
        end = json.JSONDecoder().raw_decode(text, at)[1]
    return text[:at] + spelling + text[end:]


@settings(max_examples=300, deadline=None)
@given(edits=EDITS)
def test_fuzzed_documents_agree(edits: list[tuple[int, str, Any]]) -> None:
    assert_agrees(json.dumps(edited(json.loads(GENUINE_TEXT), edits), ensure_ascii=False))


@settings(max_examples=300, deadline=None)
@given(spellings=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(TEXT_EDITS)), min_size=1, max_size=3),
       as_bytes=st.booleans())
def test_fuzzed_texts_agree(spellings: list[tuple[int, str]], as_bytes: bool) -> None:
    text = GENUINE_TEXT
    for pick, spelling in spellings:
        text = _respelled(text, pick, spelling)
    try:
        data: str | bytes = text.encode() if as_bytes else text
    except UnicodeEncodeError:
        data = text
    assert_agrees(data)


def test_deep_or_large_texts_are_left_to_the_strict_reading() -> None:
    genuine = json.loads(GENUINE_TEXT)
    deep = json.loads(GENUINE_TEXT)
    deep["claims"][0]["value"] = json.loads("[" * 30 + "]" * 30)  # a bundle nests 32 levels at most
    assert assert_agrees(json.dumps(deep)) is None
    deep["claims"][0]["value"] = json.loads("[" * 29 + "]" * 29)
    assert assert_agrees(json.dumps(deep)) is not None
    assert assert_agrees(GENUINE_TEXT, max_bytes=len(GENUINE_TEXT) - 1) is None
    assert assert_agrees(" " + GENUINE_TEXT) is None  # still read, strictly
    assert assert_agrees(GENUINE_TEXT + " \n") is not None
    genuine["document"]["docType"] = "DEPCERT\n"
    assert assert_agrees(json.dumps(genuine)) is None


# --- presentations ------------------------------------------------------------------------------------------------

PRESENTATIONS: dict[str, Any] = json.loads((ROOT / "docs" / "vectors" / "presentation-v1.json").read_text())
GENUINE_PRESENTATION = json.dumps(PRESENTATIONS["presentation"], ensure_ascii=False)


def strict_presentation(text: str | bytes) -> Presentation | CrossverifyError:
    try:
        return _presentation(read_json(text, MAX_PRESENTATION_BYTES, MAX_DEPTH + 1))
    except CrossverifyError as exc:
        return exc


def assert_presentations_agree(text: str | bytes) -> Presentation | None:
    """As :func:`assert_agrees`, for presentations: read in bulk, strictly, and by ``load_presentation`` and
    ``load_document`` (which reads a text with a top-level binding as a presentation)."""
    quick, careful = presentation_from_pairs(read_pairs(text, MAX_PRESENTATION_BYTES)), strict_presentation(text)
    if quick is not None:
        assert isinstance(careful, Presentation), careful
        assert quick == careful
        assert type(quick.bundle.claims) is Claims
    if isinstance(careful, CrossverifyError):
        with pytest.raises(type(careful)) as raised:
            load_presentation(text)
        got = raised.value
        assert (getattr(got, "path", None), str(got)) == (getattr(careful, "path", None), str(careful))
    else:
        assert load_presentation(text) == careful
        assert load_document(text, max_bytes=MAX_PRESENTATION_BYTES) == careful
    return quick


def test_a_genuine_presentation_is_read_in_bulk() -> None:
    assert assert_presentations_agree(GENUINE_PRESENTATION) is not None
    assert assert_presentations_agree(GENUINE_PRESENTATION.encode()) is not None


@pytest.mark.parametrize("case", PRESENTATIONS["mustReject"], ids=lambda c: c["case"])
def test_refused_presentations_are_left_to_the_strict_reading(case: dict[str, Any]) -> None:
    assert assert_presentations_agree(json.dumps(case["presentation"])) is None


@pytest.mark.parametrize("case", PRESENTATIONS["mustRefuse"], ids=lambda c: c["case"])
def test_presentations_a_bank_refuses_on_their_signature_are_read_in_bulk(case: dict[str, Any]) -> None:
    assert assert_presentations_agree(json.dumps(case["presentation"])) is not None


@settings(max_examples=300, deadline=None)
@given(edits=EDITS)
def test_fuzzed_presentations_agree(edits: list[tuple[int, str, Any]]) -> None:
    assert_presentations_agree(json.dumps(edited(PRESENTATIONS["presentation"], edits), ensure_ascii=False))


@settings(max_examples=200, deadline=None)
@given(spellings=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(TEXT_EDITS)), min_size=1, max_size=3))
def test_fuzzed_presentation_texts_agree(spellings: list[tuple[int, str]]) -> None:
    text = GENUINE_PRESENTATION
    for pick, spelling in spellings:
        text = _respelled(text, pick, spelling)
    assert_presentations_agree(text)


def test_a_presentation_s_binding_is_checked_in_bulk_as_strictly() -> None:
    for binding in ({"iat": 10, "exp": 10 + 901}, {"iat": 10, "exp": 10}, {"disclosed": ["b", "a"]},
                    {"disclosed": ["a", "a"]}, {"disclosed": [""]}, {"disclosed": ["n" * 129]},
                    {"aud": "ICBKCNBJGDG\n"}, {"purpose": "acctopen"}, {"nonce": "0x" + "AB" * 32}):
        doc = json.loads(GENUINE_PRESENTATION)
        doc["binding"].update(binding)
        assert assert_presentations_agree(json.dumps(doc)) is None, binding
