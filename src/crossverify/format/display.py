"""How values read in front of people: a claim's value by its kind (amounts with their currency and grouping,
dates, identifiers masked until chosen, yes or no), dates and counts, in each language of
:data:`~crossverify.format.metadata.LANGUAGES` (numbers and dates as CLDR has them for Macao, through Babel,
as the pages do through the browser's ``Intl``)."""

from __future__ import annotations

import base64
import datetime
import decimal
import hashlib
import json
import re
from typing import Any

from .metadata import LANGUAGES, ClaimDisplay, Kind

#: The CLDR locale each language formats numbers and dates in.
LOCALES = {"zh-Hant": "zh_Hant_MO", "zh-Hans": "zh_Hans_MO", "pt": "pt_MO", "en": "en_MO"}
#: CLDR's minimumGroupingDigits where it is not 1 (Babel does not apply it; browsers do): Portuguese groups
#: thousands only from five digits on.
MIN_GROUPING = {"pt": 2}
YES_NO = {"zh-Hant": ("是", "否"), "zh-Hans": ("是", "否"), "pt": ("Sim", "Não"), "en": ("Yes", "No")}
#: The label of the holder's key (the ``cnf`` claim): the format's own claim, the same in every document type.
HOLDER_KEY = {"zh-Hant": "持有人的金鑰", "zh-Hans": "持有人的密钥", "pt": "Chave do titular", "en": "Holder's key"}
#: What stands in for each hidden letter or digit of a masked identifier.
MASK = "•"
#: An identifier shows this many of its last letters and digits while masked.
SHOWN = 4
#: Decimals precise enough to round any double written out (up to 309 digits before the point): Babel rounds in the
#: current context, whose default 28 digits cannot hold 1e25 to 0.001 (``decimal.InvalidOperation``).
_DIGITS = decimal.Context(prec=400)
#: 1970-01-01 as an ordinal (day 1 is 0001-01-01), and the days of 400 Gregorian years.
_EPOCH = datetime.date(1970, 1, 1).toordinal()
_CYCLE = 146_097
#: As the page's patterns read (ECMA-262): ASCII digits, and the end of the text (``$`` would pass ``"MOP\\n"``).
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")


def claim_value(value: Any, claim: ClaimDisplay | None, language: str, reveal: bool = False) -> str:
    """``value`` as it reads in ``language`` by its claim's kind; a value that does not fit its kind, or a claim
    the metadata does not know, reads as plain text. Identifiers stay masked unless ``reveal``."""
    _check(language)
    kind = claim.kind if claim is not None else Kind.TEXT
    if kind is Kind.AMOUNT and claim is not None:
        if claim.currency is not None and _is_number(value):
            return amount(value, claim.currency, language)
        if claim.currency is None and isinstance(value, dict) and value and all(
                _CURRENCY.match(k) and _is_number(v) for k, v in value.items()):
            return ", ".join(amount(v, k, language) for k, v in value.items())
    elif kind is Kind.NUMBER and claim is not None and _is_number(value):
        text = number(value, language)
        if claim.unit is None:
            return text
        return f"{text}{'' if language.startswith('zh') else ' '}{claim.unit[language]}"
    elif kind is Kind.DATE and isinstance(value, str) and _DATE.match(value):
        try:
            return calendar_date(datetime.date.fromisoformat(value), language)
        except ValueError:
            pass
    elif kind is Kind.IDENTIFIER and isinstance(value, str) and not reveal:
        return masked(value)
    return plain(value, language)


def holder_key(value: Any, language: str) -> str:
    """The ``cnf`` claim's key as a person can compare it: its curve and its JWK thumbprint (RFC 7638: SHA-256
    of the key's required members, base64url); anything else reads as plain text."""
    jwk = value.get("jwk") if isinstance(value, dict) else None
    if not isinstance(jwk, dict) or not all(isinstance(jwk.get(m), str) for m in ("crv", "kty", "x", "y")):
        return plain(value, language)
    required = json.dumps({m: jwk[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(required.encode()).digest()).rstrip(b"=").decode()
    return f"{jwk['crv']} · {thumbprint}"


def plain(value: Any, language: str) -> str:
    """Any JSON value as text: yes or no for booleans, grouped numbers, lists and objects spelled out."""
    if isinstance(value, bool):
        return YES_NO[language][0 if value else 1]
    if _is_number(value):
        return number(value, language)
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(plain(v, language) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {plain(v, language)}" for k, v in value.items())
    return str(value)


def masked(text: str) -> str:
    """Every letter and digit but the last :data:`SHOWN` replaced by :data:`MASK`; punctuation stays."""
    keep = sum(ch.isalnum() for ch in text) - SHOWN
    out = []
    for ch in text:
        if ch.isalnum() and keep > 0:
            keep -= 1
            out.append(MASK)
        else:
            out.append(ch)
    return "".join(out)


def amount(value: float, currency: str, language: str) -> str:
    """``value`` in ``currency`` with every decimal it holds, and at least the currency's (never rounded to them);
    -0.0 reads as 0, as RFC 8785 writes it (the digest does not tell them apart)."""
    from babel.numbers import format_currency

    with decimal.localcontext(_DIGITS):
        return str(format_currency(value + 0, currency, locale=LOCALES[language], decimal_quantization=False,
                                   group_separator=_grouped(value, language)))


def number(value: float, language: str) -> str:
    """``value`` with every digit it holds, grouped; -0.0 reads as 0, as RFC 8785 writes it."""
    from babel.numbers import format_decimal

    with decimal.localcontext(_DIGITS):
        return str(format_decimal(value + 0, locale=LOCALES[language], decimal_quantization=False,
                                  group_separator=_grouped(value, language)))


def calendar_date(day: datetime.date, language: str) -> str:
    from babel.dates import format_date

    return str(format_date(day, "long", locale=LOCALES[language]))


def moment(seconds: int, language: str) -> str:
    """A time on chain (UNIX seconds) as the calendar date it falls on in Macao (UTC+8). Times are uint40s, which
    run to the year 36812, beyond Python's 9999: such a day is written as the day whole 400-year cycles of the
    Gregorian calendar before it (the same month and day), with its own year."""
    days = (seconds + 8 * 3600) // 86400 + _EPOCH
    cycles = max(0, -((datetime.date.max.toordinal() - days) // _CYCLE))
    day = datetime.date.fromordinal(days - cycles * _CYCLE)
    text = calendar_date(day, language)
    return text.replace(str(day.year), str(day.year + 400 * cycles), 1) if cycles else text


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in agreement: ``counted(1, "batch") == "1 batch"``, ``counted(3, "batch") == "3 batches"``."""
    if n == 1:
        return f"1 {noun}"
    if plural is None:
        plural = noun + ("es" if noun.endswith(("s", "sh", "ch", "x", "z")) else "s")
    return f"{n:,} {plural}"


def _grouped(value: float, language: str) -> bool:
    return bool(abs(value) >= 10 ** (2 + MIN_GROUPING.get(language, 1)))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
