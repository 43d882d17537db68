"""Strict reading of JSON text: UTF-8, bounded in size and depth, I-JSON numbers, no ambiguity.

:func:`read_json` refuses, in this order and each with a named :class:`~crossverify.errors.BundleError`:
more than ``max_bytes`` bytes; anything but UTF-8 without a byte order mark; arrays and objects nested deeper
than :data:`MAX_DEPTH` (counted by a flat scan of the text before any parser runs, so no input can exhaust the
stack); text that is not JSON; and then, with the JSON pointer (RFC 6901) of the first fault a depth-first walk
finds, a member named twice in one object, a lone surrogate escape, and a number that is not I-JSON.

The number rule is on the value: a number is accepted when its literal denotes exactly the value that the
RFC 8785 form of the nearest double denotes. ``125000.5``, ``0.1``, ``1e21`` and ``1.0`` pass (``1.0`` is the
value 1); ``NaN``, ``1e400``, ``1e-400``, ``9007199254740993`` and ``125000.50000000000000001`` do not, since a
reader would otherwise show a value other than the one hashed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from ..errors import (
    BundleTooLarge,
    DuplicateKey,
    InvalidEncoding,
    InvalidNumber,
    InvalidString,
    MalformedBundle,
    NestingTooDeep,
)

#: Arrays and objects nest at most this deep; the outermost object is depth 1.
MAX_DEPTH = 32
#: The largest integer every JSON reader holds exactly (I-JSON, RFC 7493 section 2.2).
MAX_SAFE_INTEGER = 2**53 - 1

_STRUCTURE = re.compile(r'[\[\]{}"]')
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
#: The most arrays and objects a text read by :func:`read_pairs` may open: room for a bundle of 250 claims, and
#: however they nest, well within a thread's stack of 128 KiB (the parser recurses in C, to the interpreter's
#: recursion limit, which web3 raises to 100,000). Larger texts are read strictly, depth counted first.
_QUICK_OPENINGS = 256


def read_json(data: str | bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON text under the rules above. Objects come back as ``dict``; integers written without a
    fraction or exponent and within ±(2^53 − 1) as ``int``; every other number as ``float``. ``max_depth``:
    for texts that carry bundles inside an envelope."""
    text = _decode(data, max_bytes)
    if text.count("[") + text.count("{") > max_depth:  # else it cannot nest too deep
        _check_depth(text, max_depth)
    hooks = _Hooks()
    try:
        doc = json.loads(text, object_pairs_hook=hooks.object, parse_int=hooks.integer, parse_float=hooks.float,
                         parse_constant=hooks.constant)
    except ValueError as exc:
        raise MalformedBundle(f"not valid JSON: {exc}") from None
    if hooks.faulty or _SURROGATE_ESCAPE.search(text):  # else there is nothing to find
        _check_values(doc)
    return doc


def read_pairs(data: str | bytes, max_bytes: int) -> Any:
    """``data`` parsed by the C parser alone, or ``None`` when it is not plainly a JSON object within the rules
    above. Each object comes back as a ``tuple`` of its (name, value) pairs, in written order and with any name
    written twice still there, for the caller to check; each array as a ``list``. What is vouched for: at most
    ``max_bytes`` bytes of UTF-8 without a byte order mark; one object, then only JSON white space; every
    number with a fraction or exponent denotes exactly the double it is read as (I-JSON); no NaN or Infinity.
    What is left to the caller, who returns to :func:`read_json` when in doubt: names written twice, integers
    beyond ±(2^53 − 1), strings holding a lone surrogate, and nesting deeper than :data:`MAX_DEPTH` (the parser
    itself stops at the interpreter's recursion limit)."""
    if type(data) is bytes:
        if len(data) > max_bytes or data[:1] != b"{":  # no BOM, UTF-16 or UTF-32 text starts with "{"
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    elif type(data) is str:
        text = data
        if not (len(text) * 4 <= max_bytes or (text.isascii() and len(text) <= max_bytes)) or text[:1] != "{":
            return None  # the size in UTF-8 would need measuring: read_json measures it
    else:
        return None
    if text.count("[") + text.count("{") > _QUICK_OPENINGS:  # else nothing can nest deep enough to exhaust the
        return None                                          # stack, whatever the recursion limit
    try:
        tree, end = _scan_pairs(text, 0)
    except (ValueError, RecursionError, StopIteration):  # not JSON (where, the strict reading says)
        return None
    if end != len(text) and _JSON_SPACE.match(text, end).end() != len(text):  # type: ignore[union-attr]
        return None
    return tree


def _exact_double(literal: str) -> float:
    """A number with a fraction or exponent, when I-JSON's reading of it is exact; else ``ValueError``."""
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(literal)
    if not _denotes(repr(value), literal):
        raise ValueError(literal)
    return value


def _denotes(shown: str, literal: str) -> bool:
    """Whether the number ``literal`` denotes exactly the value of ``shown``, a finite double's ``repr``. An
    exponent beyond what ``decimal`` holds (10^18 and more) leaves a literal the value zero (its digits all zero)
    or one no finite double is near: nonzero, it is refused."""
    if shown == literal:
        return True
    try:
        return Decimal(shown) == Decimal(literal)
    except InvalidOperation:
        return not any(digit in "123456789" for digit in re.split("[eE]", literal)[0])


def _no_constant(literal: str) -> float:
    raise ValueError(literal)


_scan_pairs = json.JSONDecoder(object_pairs_hook=tuple, parse_float=_exact_double,
                               parse_constant=_no_constant).scan_once  # type: ignore[attr-defined]


def pointer(parent: str, key: str | int) -> str:
    """The JSON pointer (RFC 6901) of member or item ``key`` of the value at ``parent``."""
    if isinstance(key, int):
        return f"{parent}/{key}"
    return f"{parent}/{key.replace('~', '~0').replace('/', '~1')}"


def depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (a scalar: 0), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list | tuple):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node)
    return deepest


def _decode(data: str | bytes, max_bytes: int) -> str:
    if isinstance(data, str):
        if len(data) > max_bytes:  # a character is at least one byte
            raise BundleTooLarge(f"the bundle exceeds {max_bytes} bytes")
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidEncoding("the text holds a lone surrogate, which UTF-8 cannot encode") from None
        if size > max_bytes:
            raise BundleTooLarge(f"the bundle is {size} bytes of UTF-8, more than {max_bytes}")
        text = data
    else:
        if len(data) > max_bytes:
            raise BundleTooLarge(f"the bundle is {len(data)} bytes, more than {max_bytes}")
        if b"\0" in data[:4]:
            raise InvalidEncoding("the bundle is UTF-16 or UTF-32; bundles are UTF-8")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEncoding(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise InvalidEncoding("the bundle starts with a byte order mark; bundles are UTF-8 without one")
    return text


def _check_depth(text: str, max_depth: int) -> None:
    """Count bracket nesting outside strings, in one pass that stops at the first level too deep."""
    level, pos = 0, 0
    while match := _STRUCTURE.search(text, pos):
        char = match.group()
        if char == '"':
            try:
                pos = scanstring(text, match.end(), True)[1]
            except ValueError as exc:
                raise MalformedBundle(f"not valid JSON: {exc}") from None
            continue
        if char in "[{":
            level += 1
            if level > max_depth:
                raise NestingTooDeep(f"arrays and objects nest deeper than {max_depth} levels "
                                     f"(at character {match.start()})")
        else:
            level -= 1
        pos = match.end()


class _Ambiguous(dict[str, Any]):
    """An object that named a member twice; reported with its pointer once the whole text is parsed."""

    duplicate: str


class _Refused:
    """A number refused while parsing; reported with its pointer once the whole text is parsed."""

    __slots__ = ("literal", "why")

    def __init__(self, literal: str, why: str) -> None:
        self.literal, self.why = literal, why


class _Hooks:
    """The parser's hooks for one text; ``faulty`` says whether any of them refused something."""

    __slots__ = ("faulty",)

    def __init__(self) -> None:
        self.faulty = False

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        self.faulty = True
        ambiguous = _Ambiguous(obj)
        seen: set[str] = set()
        ambiguous.duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        return ambiguous

    def integer(self, literal: str) -> int | float | _Refused:
        if len(literal) <= 17:
            value = int(literal)
            if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                return value
        return self.float(literal)

    def float(self, literal: str) -> float | _Refused:
        value = float(literal)
        if not math.isfinite(value):
            self.faulty = True
            return _Refused(literal, "is beyond the range of a double")
        shown = repr(value)
        if not _denotes(shown, literal):
            self.faulty = True
            return _Refused(literal, f"is not exactly a double: it would be read as {shown}")
        return value

    def constant(self, literal: str) -> _Refused:
        self.faulty = True
        return _Refused(literal, "is not a JSON number (I-JSON allows no NaN or Infinity)")


def _check_values(doc: Any) -> None:
    """Walk the parsed text depth-first, without recursion, and raise for the first refused value."""
    stack: list[tuple[str, Iterator[tuple[Any, Any]]]] = []
    where, node = "", doc
    while True:
        kind = type(node)
        if kind is str:
            if not node.isascii() and _SURROGATE.search(node):
                raise InvalidString("a string holds a lone surrogate", where)
        elif kind is _Refused:
            raise InvalidNumber(f"number {node.literal[:40]}{'…' if len(node.literal) > 40 else ''} {node.why}",
                                where)
        elif kind is list:
            stack.append((where, enumerate(node)))
        elif kind is dict or kind is _Ambiguous:
            if kind is _Ambiguous:
                raise DuplicateKey(f"member {node.duplicate[:60]!r} appears twice in one object; the file may have "
                                   f"been tampered with", pointer(where, node.duplicate))
            stack.append((where, iter(node.items())))
        while stack:
            parent, items = stack[-1]
            item = next(items, None)
            if item is None:
                stack.pop()
                continue
            key, node = item
            where = pointer(parent, key)
            if type(key) is str and not key.isascii() and _SURROGATE.search(key):
                raise InvalidString("a member name holds a lone surrogate", parent)
            break
        else:
            return

