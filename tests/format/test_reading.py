"""Reading untrusted bytes: only named errors come out, whatever the input, and nothing exhausts the process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossverify import Certificate, DocumentHeader, HashAlgorithm, load_bundle, salt_document, seal_batch
from crossverify import errors as e
from crossverify.format.bundle import schema
from crossverify.format.strict_json import MAX_DEPTH, read_json, read_pairs

from .reference import schema_validator

HEADER = DocumentHeader("DEPCERT", "BNUMMOMX", 1_790_000_000, 1_789_900_000, 1_821_536_000)
CLAIMS = {"holder": "陳大文", "balance": {"MOP": 125000.5, "HKD": 0}, "joint": False, "branches": ["Taipa"]}
BATCH = seal_batch([salt_document(Certificate(HEADER, CLAIMS), HashAlgorithm.KECCAK256) for _ in range(3)])
GOOD = BATCH.bundle(1, 8853, "0x5FbDB2315678afecb367f032d93F642f64180aa3").dumps()
PUBLISHED = schema_validator(schema())  # the shipped schema as a second implementation would use it


def outcome(data: str | bytes) -> str:
    """``"ok"`` or the named error's class; anything else propagates and fails the test."""
    try:
        load_bundle(data)
    except e.BundleError as exc:
        assert exc.path == "" or exc.path.startswith("/")
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize(
    ("literal", "read_as"),
    [("0", 0), ("-0", 0), ("0.0", 0.0), ("1E5", 1e5), ("0.1", 0.1), ("125000.5", 125000.5), ("1e21", 1e21),
     ("1.0", 1.0), ("9007199254740991", 2**53 - 1), ("-9007199254740991", -(2**53 - 1)),
     ("9007199254740992", 2.0**53), ("5e-324", 5e-324), ("1.7976931348623157e308", 1.7976931348623157e308),
     ("1" + "0" * 400 + "e-400", 1.0), ("0.10000", 0.1), ("0e99999999999999999999", 0.0),
     ("-0.0E-99999999999999999999", -0.0)],
)
def test_numbers_a_double_holds_exactly(literal: str, read_as: object) -> None:
    value = read_json(f"[{literal}]", 1000)[0]
    assert value == read_as and type(value) is type(read_as)
    assert read_pairs(f'{{"a":{literal}}}', 1000) == (("a", read_as),)  # the bulk reading's parser reads it alike


@pytest.mark.parametrize(
    "literal",
    ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "9007199254740993", "9007199254740993.0",
     "125000.50000000000000001", "1152921504606846976", "0.1000000000000000055511151231257827", "2e-324",
     "1e-99999999999999999999", "-0.01E-99999999999999999999"],
)
def test_numbers_refused(literal: str) -> None:
    with pytest.raises(e.InvalidNumber) as raised:
        read_json(f'{{"a":[1,{{"b":{literal}}}]}}', 10_000)
    assert raised.value.path == "/a/1/b"
    pairs = read_pairs(f'{{"a":{literal}}}', 10_000)
    assert pairs is None or type(pairs[0][1]) is int  # declined, or an integer left to its caller


def test_brackets_inside_strings_do_not_count() -> None:
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert read_json(json.dumps({"s": "[" * 10_000, "t": "\\\"[[[" * 100}), 100_000)
    assert read_json(deep, 1000) == json.loads(deep)
    with pytest.raises(e.NestingTooDeep):
        read_json("[" + deep + "]", 1000)
    with pytest.raises(e.MalformedBundle):
        read_json('["unterminated', 1000)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("\ufeff" + GOOD, e.InvalidEncoding),
        (b"\xef\xbb\xbf" + GOOD.encode(), e.InvalidEncoding),
        (GOOD.encode("utf-16"), e.InvalidEncoding),
        (GOOD.encode("utf-16-be"), e.InvalidEncoding),
        (GOOD.encode("utf-32"), e.InvalidEncoding),
        (GOOD.replace("陳", "\ud800"), e.InvalidEncoding),  # text holding a raw lone surrogate
        (GOOD.encode().replace("陳".encode(), b"\xc0\xaf"), e.InvalidEncoding),  # overlong
        (GOOD.replace("陳", "\\ud800"), e.InvalidString),  # an escaped one
        (GOOD.replace("陳", "\\udc00\\ud800"), e.InvalidString),  # a pair in the wrong order
    ],
)
def test_encodings(data: str | bytes, error: type[e.BundleError]) -> None:
    with pytest.raises(error):
        load_bundle(data)


def test_surrogate_pairs_escaped_are_characters() -> None:
    assert load_bundle(GOOD.replace("陳", "\\ud842\\udfb7")).disclosed()["holder"] == "𠮷大文"


def test_size_cap_is_configurable() -> None:
    size = len(GOOD.encode())
    assert load_bundle(GOOD, max_bytes=size).leads_to_root()
    for data in (GOOD, GOOD.encode()):
        with pytest.raises(e.BundleTooLarge):
            load_bundle(data, max_bytes=size - 1)
    with pytest.raises(e.BundleTooLarge):  # counted in UTF-8 bytes, not characters
        load_bundle(GOOD, max_bytes=len(GOOD))
    padded = GOOD + " " * (4 * 2**20 - size + 1)
    with pytest.raises(e.BundleTooLarge):
        load_bundle(padded)
    assert load_bundle(padded, max_bytes=8 * 2**20).leads_to_root()


# -- fuzzing ----------------------------------------------------------------------------------------------------

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
    | st.sampled_from(["0x" + "ab" * 32, "0x" + "ab" * 16, "keccak256", "sm3", "1.1", "DEPCERT"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def _locations(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _locations(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _locations(value, (*path, i))
    return out


@settings(max_examples=300)
@given(st.data())
def test_structured_fuzz_gives_only_named_errors(data: st.DataObject) -> None:
    """Replace, delete or add one member or item anywhere in a valid bundle."""
    doc = json.loads(GOOD)
    where = data.draw(st.sampled_from(_locations(doc)[1:]))
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[where[-1]] = data.draw(json_like)
    elif action == "delete":
        del parent[where[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=6))] = data.draw(json_like)
    else:
        parent.append(data.draw(json_like))
    text = json.dumps(doc, ensure_ascii=data.draw(st.booleans()))
    if outcome(text) == "ok":  # whatever is accepted fits the published schema, and is written back the same
        assert PUBLISHED.is_valid(json.loads(text))
        bundle = load_bundle(text)
        assert load_bundle(bundle.dumps()) == bundle


@settings(max_examples=300)
@given(st.data())
def test_byte_fuzz_gives_only_named_errors(data: st.DataObject) -> None:
    """Insert, delete or overwrite a few bytes of a valid bundle."""
    raw = bytearray(GOOD.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=4) | st.sampled_from(
            [b"[", b"{", b'"', b"\\", b"\\u", b"1e999", b"NaN", b"-", b".5", b"\xff", b"\x00"]))
        how = data.draw(st.sampled_from(["insert", "delete", "overwrite"]))
        if how == "insert":
            raw[at:at] = chunk
        elif how == "delete":
            del raw[at:at + len(chunk)]
        else:
            raw[at:at + len(chunk)] = chunk
    outcome(bytes(raw))


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_input_gives_only_named_errors(data: str | bytes) -> None:
    assert outcome(data) != "ok"


# -- pathological input, in a process of its own ------------------------------------------------------------------

PATHOLOGICAL = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    import crossverify.verifier.client  # loads the chain layer, which raises the recursion limit
    from crossverify import load_bundle
    from crossverify.errors import BundleError
    cap = 4 * 2**20
    cases = {
        "deep arrays": "[" * (cap - 1),
        "deep objects": '{"a":' * (cap // 5),
        "deep after a string of brackets": '{"s":"' + "[" * 100_000 + '","t":' + "[" * 100_000,
        "huge integer": '{"version":' + "9" * (cap - 20) + "}",
        "huge exponent": '{"version":1e999999999}',
        "many objects": '{"version":"1.1","claims":[' + ",".join(["{}"] * (cap // 3 - 20)) + "]}",
        "100 MB": b" " * 100_000_000,
    }
    for name, data in cases.items():
        try:
            load_bundle(data)
            print(name, "accepted")
        except BundleError as exc:
            print(name + ":", type(exc).__name__)
        del data
    print("recursion limit", sys.getrecursionlimit())
""")


def test_pathological_input_under_a_memory_limit() -> None:
    limit = 768 * 2**20
    run = subprocess.run([sys.executable, "-c", PATHOLOGICAL.replace("MEMORY", str(limit))],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "deep arrays: NestingTooDeep",
        "deep objects: NestingTooDeep",
        "deep after a string of brackets: NestingTooDeep",
        "huge integer: InvalidNumber",
        "huge exponent: InvalidNumber",
        "many objects: InvalidValue",
        "100 MB: BundleTooLarge",
        "recursion limit 100000",
    ]


def test_the_format_layer_leaves_the_recursion_limit_alone() -> None:
    code = "import sys; import crossverify.format.bundle, crossverify.format.batch; print(sys.getrecursionlimit())"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "1000"
