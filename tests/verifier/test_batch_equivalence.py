"""``verify_many`` shares work between the documents of a batch: its verdicts are those of verifying each bundle
on its own, check for check, whatever the registry says and however the bundles were altered."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from crossverify import Bundle, Certificate, DocumentHeader, HashAlgorithm, salt_document, seal_batch
from crossverify.chain.records import NOT_REVOKED, DocumentStatus, RevocationReason, RevocationRecord, Status
from crossverify.format.codes import doc_type_code, issuer_id_code
from crossverify.format.suite import Suite
from crossverify.verifier.client import Policy, VerifierClient

REGISTRY = "0x" + "11" * 20
KEY = "0x" + "22" * 20
NOW = 1_800_000_000


def _batch(doc_type: str, size: int, not_after: int) -> list[Bundle]:
    header = DocumentHeader(doc_type, "BNUMMOMX", NOW - 500, NOW - 86400 * 3, not_after)
    docs = [salt_document(Certificate(header, {"amount": i, "name": f"holder {i}"}), HashAlgorithm.KECCAK256)
            for i in range(size)]
    return list(seal_batch(docs).bundles(1337, REGISTRY))


_GENUINE = _batch("DEPCERT", 3, NOW + 1000) + _batch("ACCTSTMT", 2, NOW - 10) + _batch("DEPCERT", 1, NOW + 99)
POOL = [
    *_GENUINE,
    replace(_GENUINE[0], claims=_GENUINE[0].claims[::-1]),  # claims out of order: not well formed
    replace(_GENUINE[1], proof=_GENUINE[2].proof),  # another document's proof
    replace(_GENUINE[2], registry="0x" + "12" * 20),  # another registry
    replace(_GENUINE[3], proof=replace(_GENUINE[3].proof, leaf_count=3)),  # another batch size, same root
    _GENUINE[4].redact(["amount"]),
    _GENUINE[0].redact(["name"]),
]
ROOTS = sorted({b.proof.batch_root for b in POOL})

records = st.builds(RevocationRecord, st.sampled_from(list(RevocationReason)), st.integers(0, NOW),
                    st.sampled_from([None, KEY]), st.booleans())
batch_statuses = st.builds(
    DocumentStatus, issuer_id=st.just(issuer_id_code("BNUMMOMX")), signing_key=st.just(KEY),
    anchored_at=st.sampled_from([0, NOW - 3600, NOW - 100]), not_after=st.sampled_from([NOW - 1, NOW + 10**6]),
    doc_type=st.sampled_from([doc_type_code("DEPCERT"), doc_type_code("ACCTSTMT")]), hash_alg=st.sampled_from([1, 2]),
    leaf_count=st.sampled_from([1, 2, 3, 4]), batch_revocation=st.just(NOT_REVOKED) | records,
    document_revocation=st.just(NOT_REVOKED), issuer_status=st.sampled_from(list(Status)),
    issuer_active_at_anchor=st.booleans(), issuer_may_issue=st.booleans(), key_added_at=st.sampled_from([0, NOW]),
    key_retired_at=st.sampled_from([0, NOW - 200]), key_compromised_from=st.sampled_from([0, NOW - 5000, NOW - 50]),
)


class Registry:
    """What the verifier reads, as drawn: each batch's status is one object for all its documents (as
    ``Registry.bulk_statuses`` answers), a revoked document gets its own."""

    address = REGISTRY

    def chain_id(self) -> int:
        return 1337

    def __init__(self, batches: dict[bytes, DocumentStatus], revoked: dict[bytes, RevocationRecord]) -> None:
        self.batches, self.revoked = batches, revoked

    def crypto_suite(self) -> Suite:
        return Suite.STANDARD

    def predecessors(self) -> list[tuple[int, str, int]]:
        return []

    def bulk_statuses(self, triples: list[tuple[bytes, bytes, bytes]]) -> list[DocumentStatus]:
        out = []
        for _, root, digest in triples:
            batch = self.batches[root]
            record = self.revoked.get(digest)
            out.append(batch if record is None else batch.with_document_revocation(record))
        return out


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({root: batch_statuses for root in ROOTS}),
       st.dictionaries(st.sampled_from([b.document_digest() for b in _GENUINE]), records, max_size=3),
       st.lists(st.sampled_from(POOL), max_size=12), st.sampled_from([{}, {"DEPCERT": 86400}, {"ACCTSTMT": 10**6}]))
def test_batched_verdicts_are_those_of_one_bundle_at_a_time(
        batches: dict[bytes, DocumentStatus], revoked: dict[bytes, RevocationRecord], bundles: list[Bundle],
        max_age: dict[str, int]) -> None:
    verifier = VerifierClient(Registry(batches, revoked), Policy(max_age), clock=lambda: NOW)  # type: ignore[arg-type]
    assert verifier.verify_many(bundles) == [verifier.verify(b) for b in bundles]


TEXTS = [*POOL, _GENUINE[1].dumps(), _GENUINE[4].redact(["name"]).dumps().encode(), "{", b"\xff", "[]"]


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({root: batch_statuses for root in ROOTS}),
       st.dictionaries(st.sampled_from([b.document_digest() for b in _GENUINE]), records, max_size=3),
       st.lists(st.lists(st.sampled_from(TEXTS), max_size=6), max_size=3),
       st.sampled_from([b.document_digest() for b in _GENUINE]), records)
def test_batches_prepared_ahead_are_completed_as_verify_many_with_what_the_registry_says_then(
        batches: dict[bytes, DocumentStatus], revoked: dict[bytes, RevocationRecord], items: list[list[object]],
        later: bytes, record: RevocationRecord) -> None:
    """``prepare`` then ``complete``, with other batches prepared in between (as the service's queue does), gives
    ``verify_many``'s reports; what the registry says is read at ``complete``: a revocation recorded after a
    batch was prepared is in its reports."""
    registry = Registry(batches, revoked)
    verifier = VerifierClient(registry, clock=lambda: NOW)  # type: ignore[arg-type]
    prepared = [verifier.prepare(batch) for batch in items]  # type: ignore[arg-type]
    revoked[later] = record
    assert [verifier.complete(p) for p in prepared] == [verifier.verify_many(b) for b in items]  # type: ignore[arg-type]
