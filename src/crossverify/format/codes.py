"""Codes as the registry stores them: document types (``bytes8``), issuer ids (``bytes11``), jurisdictions
(``bytes32``), all zero-padded text."""

from __future__ import annotations

import re

from ..errors import InvalidDocType, InvalidIssuerId

_DOC_TYPE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,7}$")
_ISSUER_ID = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,10}$")


def doc_type_code(name: str) -> bytes:
    """Encode a document type (1-8 chars of ``A-Z 0-9 . _ -``, e.g. ``"DEPCERT"``) as the registry's ``bytes8``."""
    if not _DOC_TYPE.fullmatch(name):
        raise InvalidDocType(name)
    return name.encode("ascii").ljust(8, b"\0")


def issuer_id_code(name: str) -> bytes:
    """Encode an issuer id (1-11 chars of ``A-Z 0-9 . _ -``, e.g. its BIC ``"BNUMMOMX"``) as ``bytes11``."""
    if not _ISSUER_ID.fullmatch(name):
        raise InvalidIssuerId(name)
    return name.encode("ascii").ljust(11, b"\0")


def jurisdiction_code(name: str) -> bytes:
    """Encode a jurisdiction (e.g. ``"MO"``, ``"CN-GD"``; at most 32 bytes of UTF-8) as ``bytes32``."""
    raw = name.encode("utf-8")
    if not raw or len(raw) > 32:
        raise ValueError(f"jurisdiction must be 1-32 bytes of UTF-8, got {len(raw)}: {name!r}")
    return raw.ljust(32, b"\0")


def code_name(code: bytes) -> str:
    """Decode a zero-padded registry code (document type, issuer id, jurisdiction) to text."""
    return code.rstrip(b"\0").decode("utf-8", errors="replace")
