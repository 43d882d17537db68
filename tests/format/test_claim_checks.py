"""Bundle checks take common claims in bulk: the bulk path accepts only what the claim-by-claim checks accept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crossverify.errors import BundleError, CrossverifyError
from crossverify.format.bundle import _check_claims, _check_each_claim
from crossverify.format.certificate import Claim, Claims, Disclosure, RedactedClaim
from crossverify.format.hashing import HashAlgorithm

KECCAK = HashAlgorithm.KECCAK256
# Valid names, names out of byte order against each other, invalid ones (empty, a control, not NFC, too long).
NAMES = ["a", "b", "B", "é", "e\u0301", "", "x\u0007", "n" * 129, "holder_name", "line_01", "line_02"]
VALID = ["a", "b", "B", "é", "holder_name", "line_01", "line_02"]
SALTS = [bytes([i]) * 16 for i in range(3)]
VALUES = st.sampled_from([
    "text", 7, None, True, [1, 2], {"k": 1}, {"attachment": 1},
    {"attachment": {"hashAlg": "sha256", "digest": "0x" + "00" * 32, "size": 1, "mediaType": "application/pdf"}},
])
claims = st.lists(
    st.builds(Claim, st.sampled_from(NAMES), VALUES, st.sampled_from(SALTS))
    | st.builds(RedactedClaim, st.sampled_from([b"\1" * 32, b"\2" * 32])),
    max_size=6,
).map(tuple)


def fault(check: object, items: tuple[Disclosure, ...]) -> tuple[type, str, str] | None:
    try:
        check(Claims.of(items), KECCAK)  # type: ignore[operator]
    except BundleError as exc:
        return type(exc), str(exc), exc.path
    except CrossverifyError as exc:  # a value that is no JSON
        return type(exc), str(exc), ""
    return None


@given(claims)
def test_bulk_and_claim_by_claim_checks_agree(items: tuple[Disclosure, ...]) -> None:
    assert fault(_check_claims, items) == fault(_check_each_claim, items)


@given(st.lists(st.sampled_from(VALID), unique=True, min_size=1).flatmap(
    lambda names: st.tuples(*(st.builds(Claim, st.just(n), VALUES, st.sampled_from(SALTS))
                              for n in sorted(names, key=str.encode)))))
def test_bulk_and_claim_by_claim_checks_agree_on_ordered_names(items: tuple[Disclosure, ...]) -> None:
    assert fault(_check_claims, items) == fault(_check_each_claim, items)


@given(claims, st.data())
def test_bulk_and_claim_by_claim_checks_agree_on_redacted_copies(items: tuple[Disclosure, ...],
                                                                 data: st.DataObject) -> None:
    """A claim both disclosed and redacted (its own leaf among the redacted ones), or a value that is no JSON."""
    disclosed = [c for c in items if isinstance(c, Claim)]
    if disclosed:
        copied = data.draw(st.sampled_from(disclosed))
        if data.draw(st.booleans()):
            items = (*items, Claim("zz", float("nan"), b"\7" * 16))
        items = tuple(data.draw(st.permutations([*items, RedactedClaim(copied.leaf(KECCAK.hasher()))])))
    assert fault(_check_claims, items) == fault(_check_each_claim, items)
