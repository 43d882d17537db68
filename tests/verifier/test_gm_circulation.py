"""The circulation trail of a GM-suite deployment: SM2 regulator and issuer keys (the other suite's refused by
name), receipts sealed with SM2 and SM4-GCM and opened by a regulator, and a dispute answered with the SM2 answer
key only the issuer can form, its answer signed by the issuer's SM2 signing key."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from crossverify import errors
from crossverify.chain.records import ProposalKind
from crossverify.format.codes import jurisdiction_code
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.suite import Suite
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.disputes import answer_dispute, received_disputes, register_sealing_key
from crossverify.issuer.journal import Journal
from crossverify.keys.sm2 import LocalSM2Key
from crossverify.regulator.circulation import CirculationTrail
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision
from crossverify.sealing import (
    DisputeReason,
    DisputeStatus,
    Kem,
    RegulatorKey,
    issuer_answer_key,
    open_receipts,
    seal_receipts,
)
from crossverify.verifier.client import VerificationReport, VerifierClient
from crossverify.verifier.disputes import open_dispute, read_answer
from crossverify.verifier.outbox import ReceiptOutbox, regulator_keys

from ..conftest import Consortium, deposit_certificates


def _with_sm2_regulators(c: Consortium) -> list[RegulatorKey]:
    keys = [RegulatorKey.generate(Kem.SM2), RegulatorKey.generate(Kem.SM2)]
    c.govern(ProposalKind.SET_REGULATOR_KEYS, [k.public_key.raw for k in keys],
             [jurisdiction_code("MO"), jurisdiction_code("GD")])
    return keys


def _verified(c: Consortium, tmp_path: Path, count: int
              ) -> tuple[list[RegulatorKey], RegulatorKey, VerifierClient, list[VerificationReport]]:
    """SM2 regulator keys, the issuer's SM2 dispute sealing key (registered), ``count`` deposit certificates it
    issued and anchored with its SM2 key, and a bank's (valid) reports on them."""
    assert c.sm2_key is not None
    regulators = _with_sm2_regulators(c)
    issuer_sealing = RegulatorKey.generate(Kem.SM2)
    register_sealing_key(c.circulation, "BNUMMOMX", issuer_sealing, c.issuer_admin)
    issuer = IssuerClient(c.registry, "BNUMMOMX", c.sm2_key, c.macao_operator, Journal(tmp_path / "journal.sqlite"),
                          tmp_path / "bundles", hash_alg=HashAlgorithm.SM3)
    certificates = deposit_certificates(c, count)
    issuer.issue(certificates)
    issuer.run()
    bank = VerifierClient(c.registry, circulation=c.circulation)
    reports = bank.verify_many([issuer.bundle_path(ref).read_bytes() for ref, _ in certificates])
    assert all(r.valid for r in reports)
    return regulators, issuer_sealing, bank, reports


def test_keys_of_the_other_suite_are_refused(gm_consortium: Consortium) -> None:
    c = gm_consortium
    standard = RegulatorKey.generate(Kem.X25519)
    with pytest.raises(errors.CirculationInvalidKey):
        c.propose(ProposalKind.SET_REGULATOR_KEYS, [standard.public_key.raw], [jurisdiction_code("MO")])
    sm2 = RegulatorKey.generate(Kem.SM2).public_key.raw
    off_curve = sm2[:63] + bytes([sm2[63] ^ 1])
    with pytest.raises(errors.CirculationInvalidKey):
        c.propose(ProposalKind.SET_REGULATOR_KEYS, [off_curve], [jurisdiction_code("MO")])
    with pytest.raises(errors.CirculationInvalidKey):  # a secp256k1 answer key
        c.circulation.set_issuer_keys(c.issuer_id, sm2, issuer_answer_key(standard), c.issuer_admin)
    with pytest.raises(errors.CirculationInvalidKey):  # an X25519 sealing key
        c.circulation.set_issuer_keys(c.issuer_id, standard.public_key.raw, sm2, c.issuer_admin)


def test_the_other_suites_answer_is_refused(gm_consortium: Consortium, consortium: Consortium) -> None:
    key = Account.create()
    with pytest.raises(errors.CirculationSuiteMismatch) as raised:
        gm_consortium.circulation.answer_dispute(bytes(32), b"answer", key, gm_consortium.outsider)
    assert raised.value.args_by_name == {"suite": 2}
    with pytest.raises(errors.CirculationSuiteMismatch) as raised:
        consortium.circulation.answer_dispute_sm2(bytes(32), b"answer", bytes(31) + b"\1", consortium.outsider)
    assert raised.value.args_by_name == {"suite": 1}


def test_receipts_and_a_dispute_in_the_gm_suite(gm_consortium: Consortium, tmp_path: Path) -> None:
    c = gm_consortium
    assert c.sm2_key is not None
    regulators, issuer_sealing, bank, reports = _verified(c, tmp_path, 3)

    receipts = bank.receipts(reports, purpose="ACCTOPEN")
    batch = seal_receipts(receipts, regulator_keys(c.circulation))
    c.circulation.record(batch.commitments, batch.sealed, c.verifier)
    [(_, recorded)] = c.sealed_batches()
    assert recorded.sealed[:2] == b"\x04\x02"  # envelope version 4, the GM suite
    assert open_receipts(recorded, regulators[1]) == receipts

    opened = open_dispute(c.circulation, c.verifier, reports[0], DisputeReason.STATEMENT_MISMATCH, c.now(),
                          batch.commitments[0])
    [received] = received_disputes(c.circulation, issuer_sealing)
    assert received.dispute_id == opened.dispute_id
    with pytest.raises(errors.CirculationAnswerNotAuthorised):  # an SM2 key that is not the dispute's
        c.circulation.answer_dispute_sm2(opened.dispute_id, b"answer", bytes(31) + b"\7", c.outsider)
    answer_dispute(c.circulation, received, DisputeStatus.CONFIRMED_GENUINE, c.sm2_key, c.outsider, c.now(),
                   issuer_sealing)
    read = read_answer(c.circulation, c.registry, opened)
    assert read is not None and read.answer.status is DisputeStatus.CONFIRMED_GENUINE
    assert read.signer == c.sm2_key.address and read.signed_by_issuer
    with pytest.raises(errors.CirculationDisputeAnswered):
        c.circulation.answer_dispute_sm2(opened.dispute_id, b"again", bytes(31) + b"\7", c.outsider)


def test_receipts_recorded_through_the_outbox_open_under_the_commitments_the_bank_keeps(
        gm_consortium: Consortium, tmp_path: Path) -> None:
    """The outbox commits to receipts with the suite's hash (SM3), which binds the envelope: a regulator opens
    them, and the bank's references are the chain's."""
    c = gm_consortium
    regulators, _, bank, reports = _verified(c, tmp_path, 2)
    bank = VerifierClient(c.registry, sender=c.verifier, outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"),
                          circulation=c.circulation)
    flushed = bank.record(reports, "ACCTOPEN")
    [(_, recorded)] = c.sealed_batches()
    assert recorded.commitments == flushed.commitments
    opened = open_receipts(recorded, regulators[0])
    assert [r.commitment(Suite.GM) for r in opened if r is not None] == list(flushed.commitments)


class _Impostor:
    """An SM2 key that names another key's address: what the holder of an issuer's dispute sealing key (and so of
    its answer keys), but not of its signing key, can make the answer say."""

    def __init__(self, named: str) -> None:
        self.address, self._key = named, LocalSM2Key.labelled("an impostor")
        self.public_key = self._key.public_key

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def test_an_answer_naming_the_issuers_key_without_its_signature_is_not_the_issuers(
        gm_consortium: Consortium, tmp_path: Path) -> None:
    """SM2 recovers no key: the answer names its signing key, and the bank and the regulator check the signature
    against that key's public half in the registry, as the standard suite's recovered signer is checked."""
    c = gm_consortium
    assert c.sm2_key is not None
    regulators, issuer_sealing, _, [report] = _verified(c, tmp_path, 1)
    opened = open_dispute(c.circulation, c.verifier, report, DisputeReason.STATEMENT_MISMATCH, c.now())
    [received] = received_disputes(c.circulation, issuer_sealing)
    answer_dispute(c.circulation, received, DisputeStatus.CONFIRMED_GENUINE, _Impostor(c.sm2_key.address),
                   c.outsider, c.now(), issuer_sealing)

    read = read_answer(c.circulation, c.registry, opened)
    assert read is not None and read.signer == c.sm2_key.address
    assert not read.signed_by_issuer

    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite", circulation=c.circulation)
    trail = CirculationTrail(reader, [regulators[0]], now=c.now)
    trail.sync()
    [dispute] = trail.circulation(report.document_digest).disputes
    assert not dispute["answers"][0]["signedByIssuer"]
    kinds = {g["kind"] for g in Supervision(reader, trail).report().anomalies}
    assert "dispute_answer_not_by_issuer" in kinds
