"""RFC 8785 canonical JSON for claims and headers, with a fast path for the values most claims hold.

Strings, safe integers, booleans and null are encoded directly: CPython's C string encoder
(``json.encoder.encode_basestring``) escapes exactly the characters RFC 8785 escapes, in the same forms. So are
lists and objects of them (a holder's key, an address), an object's members sorted by name where every name lies
in the Basic Multilingual Plane (there, the order of code points is RFC 8785's order of UTF-16 code units).
Everything else (floats, names beyond the plane, other types) goes through the ``rfc8785`` package. A property
test holds both paths equal.
"""

from __future__ import annotations

from functools import lru_cache
from json.encoder import encode_basestring as quote
from typing import Any

import rfc8785

from ..errors import InvalidClaim
from .frozen import FrozenArray, FrozenObject

MAX_SAFE_INTEGER = 2**53 - 1


def _scalar(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        return quote(value)
    if kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return None


def _value(value: Any) -> str | None:
    """The RFC 8785 text of ``value`` when the fast path covers it (see above); ``None`` otherwise."""
    text = _scalar(value)
    if text is not None:
        return text
    kind = type(value)
    if kind is list or kind is FrozenArray:
        items = [_value(item) for item in value]
        return None if None in items else f"[{','.join(items)}]"  # type: ignore[arg-type]
    if kind is dict or kind is FrozenObject:
        if not value:
            return "{}"
        if set(map(type, value)) != {str}:
            return None
        names = sorted(value)
        spelled = "".join(names)
        if not spelled.isascii() and max(spelled) > "\uffff":
            return None
        if set(map(type, value.values())) == {str}:  # a key, an address: quoted alike, as members
            return f"{{{','.join([f'{quote(n)}:{quote(value[n])}' for n in names])}}}"
        members = [_value(value[n]) for n in names]
        if None in members:
            return None
        return f"{{{','.join([f'{quote(n)}:{m}' for n, m in zip(names, members, strict=True)])}}}"
    return None


@lru_cache(maxsize=4096)  # the same few claim names recur in every document of a type
def _quoted(name: str) -> str:
    return quote(name)


def canonical_claim(name: str, value: Any) -> bytes:
    """``JCS([name, value])``: the bytes a claim leaf hashes. A value RFC 8785 cannot encode (NaN, an integer
    beyond ±(2^53 − 1), a lone surrogate, a non-JSON type) raises :class:`~crossverify.errors.InvalidClaim`."""
    text = quote(value) if type(value) is str else _value(value)
    if text is not None:
        try:
            return f"[{_quoted(name)},{text}]".encode()
        except UnicodeEncodeError:  # a lone surrogate: let RFC 8785 refuse it in its own words
            pass
    try:
        return rfc8785.dumps([name, value])
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidClaim(f"claim {name!r} is not canonical JSON: {exc}") from None


def canonical_json(value: Any) -> bytes:
    """``JCS(value)``, raising as the ``rfc8785`` package does for what it cannot encode."""
    text = _value(value)
    if text is not None:
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate: let RFC 8785 refuse it in its own words
            pass
    return rfc8785.dumps(value)


def canonical_header(doc_type: str, issuer_id: str, issued_at: int, as_of: int, not_after: int,
                     holder_bound: bool = False) -> bytes:
    """``JCS(header)``, members in RFC 8785 order: asOf, docType, holderBound (only when true), issuedAt, issuer,
    notAfter."""
    bound = '"holderBound":true,' if holder_bound else ""
    return (f'{{"asOf":{as_of},"docType":{quote(doc_type)},{bound}"issuedAt":{issued_at},'
            f'"issuer":{quote(issuer_id)},"notAfter":{not_after}}}').encode()
