"""What people read: claim values by their kind in each language, identifiers masked, counts in words."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossverify.format.canonical import canonical_claim
from crossverify.format.display import MASK, SHOWN, claim_value, counted, holder_key, masked, moment, plain
from crossverify.format.metadata import LANGUAGES, ClaimDisplay, standard_types

DEPOSIT = next(t for t in standard_types() if t.doc_type == "DEPCERT")


def test_counts_agree_with_their_nouns() -> None:
    assert counted(1, "transaction") == "1 transaction"
    assert counted(2, "transaction") == "2 transactions"
    assert counted(1, "batch") == "1 batch" and counted(0, "batch") == "0 batches"
    assert counted(12_000, "receipt") == "12,000 receipts"
    assert counted(3, "anomaly", "anomalies") == "3 anomalies"


@given(st.text(max_size=40))
def test_a_masked_identifier_shows_at_most_its_last_letters_and_digits(text: str) -> None:
    shown = masked(text)
    assert len(shown) == len(text)
    kept = [a for a, b in zip(text, shown, strict=True) if a == b and a.isalnum() and a != MASK]
    assert len(kept) <= SHOWN
    assert all(b == MASK or a == b for a, b in zip(text, shown, strict=True))


def test_identifiers_are_masked_until_chosen() -> None:
    claim = DEPOSIT.claim("id_number")
    assert claim_value("1234567(8)", claim, "en") == "••••567(8)"
    assert claim_value("1234567(8)", claim, "en", reveal=True) == "1234567(8)"


def test_values_that_do_not_fit_their_kind_read_as_given() -> None:
    assert claim_value({"MOP": "lots"}, DEPOSIT.claim("balance"), "pt") == "MOP lots"
    assert claim_value({"MOP\n": 5}, DEPOSIT.claim("balance"), "en") == "MOP\n 5"  # no currency code, as on the page
    assert claim_value("2021-02-30", DEPOSIT.claim("opened_on"), "en") == "2021-02-30"
    assert claim_value([1500, True, None], None, "zh-Hant") == "1,500, 是, —"
    assert plain({"a": 1}, "en") == "a 1"


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(LANGUAGES),
       st.sampled_from([None, *DEPOSIT.claims]))
def test_every_number_a_bundle_can_hold_reads_in_every_kind(value: float, language: str,
                                                            claim: ClaimDisplay | None) -> None:
    assert claim_value(value, claim, language)
    assert claim_value({"MOP": value}, DEPOSIT.claim("balance"), language)


def test_amounts_read_with_every_decimal_they_hold() -> None:
    """Never rounded to the currency's minor unit (0.005 MOP read MOP$0.00 here and MOP$0.01 in a browser), and
    with at least its decimals."""
    balance_mop, balance = DEPOSIT.claim("balance_mop"), DEPOSIT.claim("balance")
    assert claim_value(0.005, balance_mop, "en") == "MOP$0.005"
    assert claim_value(1.005, balance_mop, "pt") == "1,005\xa0MOP$"
    assert claim_value(125000.5, balance_mop, "en") == "MOP$125,000.50"
    assert claim_value({"JPY": 125000.5, "KWD": 2}, balance, "en") == "JP¥125,000.5, KWD2.000"


def test_negative_zero_reads_as_the_zero_it_is_hashed_as() -> None:
    """A resident may write a zero balance as -0.0: the digest is the same, so the screen must be too."""
    assert canonical_claim("balance_mop", -0.0) == canonical_claim("balance_mop", 0)
    assert claim_value(-0.0, DEPOSIT.claim("balance_mop"), "en") == claim_value(0, DEPOSIT.claim("balance_mop"), "en")
    assert claim_value({"MOP": -0.0}, DEPOSIT.claim("balance"), "pt") == "0,00\xa0MOP$"
    assert plain(-0.0, "en") == "0"


def test_large_numbers_read_whole() -> None:
    """Beyond 28 digits (the default precision of Python's decimals) too."""
    assert claim_value(1e25, None, "en") == "10,000,000,000,000,000,000,000,000"
    assert claim_value(1e26, DEPOSIT.claim("balance_mop"), "en") == "MOP$100,000,000,000,000,000,000,000,000.00"
    assert claim_value(1.7976931348623157e308, None, "pt").startswith("179\xa0769\xa0313\xa0486\xa0231\xa0570\xa0000")


def test_the_holder_key_reads_as_its_curve_and_thumbprint() -> None:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace, base64url."""
    jwk = {"y": "y0", "x": "x0", "kty": "EC", "crv": "P-256"}
    digest = hashlib.sha256(b'{"crv":"P-256","kty":"EC","x":"x0","y":"y0"}').digest()
    assert holder_key({"jwk": jwk}, "en") == "P-256 · " + base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert holder_key({"jwk": {"kty": "EC"}}, "en") == "jwk kty EC"  # not a key: as given


def test_times_on_chain_read_as_the_day_in_macao() -> None:
    assert moment(1_790_000_000, "en") == "21 September 2026"
    assert moment(1_790_000_000 - 1_790_000_000 % 86400 + 16 * 3600, "en") == "22 September 2026"  # 00:00 in Macao


def test_times_beyond_the_year_9999_read_as_the_page_reads_them() -> None:
    """A time on chain is a uint40: up to the year 36812."""
    assert moment(253_402_300_799, "en") == "1 January 10000"  # 9999-12-31 23:59:59 UTC, in Macao
    assert moment(2**40 - 1, "en") == "20 February 36812"
    assert moment(2**40 - 1, "zh-Hant") == "36812年2月20日"
    assert moment(2**40 - 1, "pt") == "20 de fevereiro de 36812"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="zh-Hant, zh-Hans, pt, en"):
        claim_value(1, None, "fr")
