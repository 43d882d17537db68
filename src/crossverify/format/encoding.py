"""How values are written as text wherever crossverify shows or stores them: 0x-hex and UTC times."""

from __future__ import annotations

import time


def utc_time(t: int) -> str:
    """A registry time (unix seconds) as a UTC date and time, as reports and verdicts show it."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
