"""The circulation trail on a chain: the issuer, another bank and an outsider hold the whole chain and a document's
digest, and still cannot tell which receipts or disputes concern it, or for what purpose; a regulator's key can."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from eth_utils import keccak

from crossverify import Bundle, VerifierClient
from crossverify.errors import NotSealedToThisKey, SealingError
from crossverify.issuer.disputes import received_disputes, register_sealing_key
from crossverify.sealing import (
    Consent,
    DisputeReason,
    Receipt,
    RegulatorKey,
    issuer_answer_key,
    open_dispute,
    open_receipts,
    seal,
)
from crossverify.verifier.disputes import open_dispute as bank_opens
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import Consortium
from .test_verifier import issued  # noqa: F401 - the fixture

PURPOSES = ["ACCTOPEN", "LOAN", "KYC", "MORTGAGE"]


def test_nobody_but_a_regulator_links_the_trail_to_a_document(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                             tmp_path: Path) -> None:
    c = consortium
    start = c.w3.eth.block_number + 1
    issuer_key = RegulatorKey.generate()
    register_sealing_key(c.circulation, "BNUMMOMX", issuer_key, c.issuer_admin)
    bank = VerifierClient(c.registry, sender=c.verifier, circulation=c.circulation,
                          outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"))
    reports = bank.verify_many(issued)
    target = reports[3].document_digest
    assert target is not None
    for i, purpose in enumerate(PURPOSES):  # every document, each purpose, in cases of its own
        bank.record(reports, purpose, reference=f"case-{i}")
    opened = bank_opens(c.circulation, c.verifier, reports[3], DisputeReason.SUSPECTED_REUSE, c.now())

    # Everything the chain holds since the trail began: calldata, topics and event data.
    public = bytearray()
    for number in range(start, c.w3.eth.block_number + 1):
        for tx_hash in c.w3.eth.get_block(number)["transactions"]:
            public += bytes(c.w3.eth.get_transaction(tx_hash)["input"])  # type: ignore[arg-type]
            for log in c.w3.eth.get_transaction_receipt(tx_hash)["logs"]:  # type: ignore[arg-type]
                public += bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"])
    for probe in (target, keccak(target), hashlib.sha256(target).digest(), target[:12]):
        assert probe not in public  # the digest, or a hash of it, appears nowhere
    for purpose in PURPOSES:
        assert purpose.encode() not in public and keccak(text=purpose) not in public

    chain = [batch for _, batch in c.sealed_batches(start)]
    # One envelope per transaction, its size set by the number of receipts only.
    assert [len(b.commitments) for b in chain] == [len(reports)] * 4 and len({len(b.sealed) for b in chain}) == 1
    # Re-sealing a guess (the digest, every purpose, every second of the window) reproduces no commitment and no
    # ciphertext: the salt is unknown, and HPKE draws a fresh ephemeral key each time.
    commitments = {commitment for b in chain for commitment in b.commitments}
    regulators = [k.public_key for k in c.regulator_keys]
    for purpose, at in itertools.product(PURPOSES, range(c.now() - 30, c.now() + 1)):
        guess = seal(Receipt(target, "BNUMMOMX", "DEPCERT", bytes(32), purpose, Consent.NONE, bytes(32), at, bytes(16)),
                     regulators)
        assert guess.commitment not in commitments and guess.sealed[4:36] not in public
    # The keys the issuer, another bank and an outsider hold open no receipt.
    other_bank_reply = RegulatorKey.generate()
    for key in (issuer_key, other_bank_reply, RegulatorKey.generate()):
        for batch in chain:
            try:
                open_receipts(batch, key)
            except NotSealedToThisKey:
                continue
            raise AssertionError("a key that is not a regulator's opened a receipt")
    # Disputes: another issuer's key, another bank's and an outsider's open nothing; the issuer concerned does.
    sealed_dispute = next(bytes(e.args["ciphertext"]) for e in c.circulation.events(start)
                          if e.name == "DisputeOpened")
    answer_key = c.circulation.dispute(opened.dispute_id).answer_key
    for key in (RegulatorKey.generate(), other_bank_reply):
        try:
            open_dispute(sealed_dispute, answer_key, key, lambda _: issuer_answer_key(issuer_key))
        except SealingError:
            continue
        raise AssertionError("a stranger opened the dispute")
    assert [d.dispute.document_digest for d in received_disputes(c.circulation, issuer_key, start)] == [target]

    # Each regulator traces the document: four receipts, one per purpose, and the dispute.
    for key in c.regulator_keys:
        opened_all = [r for b in chain for r in open_receipts(b, key)]
        assert sorted(r.purpose for r in opened_all if r is not None and r.document_digest == target) == sorted(
            PURPOSES)
        assert None not in opened_all
        assert open_dispute(sealed_dispute, answer_key, key,
                            lambda _: issuer_answer_key(issuer_key)).document_digest == target
