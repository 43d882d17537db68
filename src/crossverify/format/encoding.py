"""How values are written as text wherever crossverify shows or stores them: 0x-hex and UTC times."""

from __future__ import annotations

import time
from functools import lru_cache


def to_hex(data: bytes) -> str:
    """``data`` as ``0x``-prefixed lowercase hex, the form bundles, reports and messages use."""
    return "0x" + data.hex()


def from_hex(text: str, length: int | None = None) -> bytes:
    """Bytes from hex with or without ``0x``; ``length``, when given, is the number of bytes required.

    Raises :class:`ValueError` naming the input when it is not hex or has another length.
    """
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ValueError(f"not hex: {text!r}") from None
    if length is not None and len(data) != length:
        raise ValueError(f"expected {length} bytes of hex, got {len(data)}: {text!r}")
    return data


@lru_cache(maxsize=1024)  # verdicts repeat the same few anchor and expiry times
def utc_time(t: int) -> str:
    """A registry time (unix seconds) as a UTC date and time, as reports and verdicts show it."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def utc_minute(t: int) -> str:
    """A time to the minute (``2026-11-28 09:30``), for tables where seconds are noise."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))
