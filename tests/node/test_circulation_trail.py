"""The regulator's circulation trail against a real node: receipts and a dispute recorded over HTTP, traced by the
regulators (an old key still reads its epoch, an outsider reads nothing), and a node reverted to a snapshot
rewinds the opened trail."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from crossverify.chain.connection import connect
from crossverify.chain.records import ProposalKind
from crossverify.format.codes import issuer_id_code, jurisdiction_code
from crossverify.format.encoding import to_hex
from crossverify.regulator.circulation import CirculationTrail
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Filters, Supervision
from crossverify.sealing import (
    Dispute,
    DisputeAnswer,
    DisputeReason,
    DisputeStatus,
    Receipt,
    RegulatorKey,
    answer_key_address,
    answer_signing_key,
    issuer_answer_key,
    seal_answer,
    seal_dispute,
    seal_receipts,
)

from .conftest import rpc
from .test_flow import Net

DIGEST = Web3.keccak(text="a deposit certificate traced on a real node")
ROOT = Web3.keccak(text="the batch it was anchored in")


class Trail(Net):
    """A consortium with its circulation contract and two regulators' sealing keys."""

    def __init__(self, node_url: str, keys: list[LocalAccount]) -> None:
        super().__init__(connect(node_url, chain_id=1337), keys, list(keys[:5]))
        self.regulator_keys = [RegulatorKey.generate(), RegulatorKey.generate()]
        self.set_keys(self.regulator_keys)

    def set_keys(self, keys: list[RegulatorKey]) -> None:
        self.guangdong.approve(self.macao.propose(
            ProposalKind.SET_REGULATOR_KEYS, [k.public_key.raw for k in keys],
            [jurisdiction_code("MO"), jurisdiction_code("GD")]))

    def record(self, *receipts: Receipt) -> None:
        batch = seal_receipts(receipts, [k.public_key for k in self.regulator_keys])
        self.circulation.record(batch.commitments, batch.sealed, self.verifier)  # type: ignore[arg-type]

    def trail(self, tmp_path: Path, keys: list[RegulatorKey], name: str) -> CirculationTrail:
        reader = RegulatorReader(self.registry, tmp_path / f"{name}.sqlite", chunk=3, circulation=self.circulation)
        return CirculationTrail(reader, keys)


@pytest.fixture(scope="module")
def net(node_url: str, dev_accounts: list[LocalAccount]) -> Trail:
    return Trail(node_url, dev_accounts)


def receipt(purpose: str, consented: bool = True) -> Receipt:
    return Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", ROOT, purpose, 1_790_000_000,
                       presentation_hash=secrets.token_bytes(32) if consented else None)


def test_the_regulators_trace_a_document_and_its_dispute(net: Trail, tmp_path: Path) -> None:
    first = receipt("ACCTOPEN")
    net.record(first, Receipt.new(Web3.keccak(text="another"), "BNUMMOMX", "DEPCERT", ROOT, "LOAN", 1_790_000_000))
    reply, issuer_key = RegulatorKey.generate(), RegulatorKey.generate()
    dispute = Dispute.new(DIGEST, "BNUMMOMX", Web3.keccak(text="root"), DisputeReason.SUSPECTED_REUSE,
                          first.commitment(), net.now(), reply.public_key)
    net.circulation.set_issuer_keys(issuer_id_code("BNUMMOMX"), issuer_key.public_key.raw,
                                    issuer_answer_key(issuer_key), net.admin)  # type: ignore[arg-type]
    answer_key = answer_key_address(dispute, issuer_answer_key(issuer_key))
    dispute_id, _ = net.circulation.open_dispute(
        answer_key, seal_dispute(dispute, [issuer_key.public_key, *(
            k.public_key for k in net.regulator_keys)], answer_key), net.verifier)  # type: ignore[arg-type]
    signature = net.signer.sign_message(encode_defunct(DisputeAnswer.signed_bytes(
        dispute_id, DisputeStatus.BEING_INVESTIGATED, net.now()))).signature
    answer = DisputeAnswer(dispute_id, DisputeStatus.BEING_INVESTIGATED, net.now(), bytes(signature))
    net.circulation.answer_dispute(dispute_id, seal_answer(answer, [reply.public_key, *(
        k.public_key for k in net.regulator_keys)]), Account.from_key(answer_signing_key(dispute, issuer_key)),
        net.operator)  # type: ignore[arg-type]

    old_amcm = net.regulator_keys[0]
    net.regulator_keys = [RegulatorKey.generate(), net.regulator_keys[1]]  # AMCM rotates its key
    net.set_keys(net.regulator_keys)
    net.record(receipt("LOAN", consented=False))

    amcm = net.trail(tmp_path, [net.regulator_keys[0], old_amcm], "amcm")
    _, opened = amcm.sync()
    assert (opened.receipts, opened.disputes, opened.unreadable) == (3, 2, 0)
    found = amcm.circulation(DIGEST)
    assert [(r.purpose, r.consented, r.verifier) for r in found.receipts] == [
        ("ACCTOPEN", True, net.verifier.address), ("LOAN", False, net.verifier.address)]  # type: ignore[attr-defined]
    [disputed] = found.disputes
    assert (disputed["reason"], disputed["state"]) == ("suspected_reuse", "being_investigated")
    assert disputed["answers"][0]["signedByIssuer"]
    assert sorted(a["documentDigest"] for a in Supervision(amcm.reader, amcm).rows(
        "anomalies", Filters(kind="circulation_without_consent"))) == sorted([to_hex(DIGEST),
                                                                              to_hex(Web3.keccak(text="another"))])

    outsider = net.trail(tmp_path, [RegulatorKey.generate()], "outsider")
    _, unread = outsider.sync()
    assert (unread.receipts, unread.disputes) == (0, 0) and outsider.circulation(DIGEST).receipts == []


def test_a_reverted_node_rewinds_the_opened_trail(net: Trail, tmp_path: Path) -> None:
    pboc = net.trail(tmp_path, [net.regulator_keys[1]], "pboc")
    pboc.sync()
    before = len(pboc.circulation(DIGEST).receipts)
    snapshot = rpc(pboc.reader.registry.w3.provider.endpoint_uri, "evm_snapshot")  # type: ignore[attr-defined]
    net.record(receipt("KYC"), receipt("KYC"))
    pboc.sync()
    assert len(pboc.circulation(DIGEST).receipts) == before + 2

    assert rpc(pboc.reader.registry.w3.provider.endpoint_uri, "evm_revert", [snapshot])  # type: ignore[attr-defined]
    net.record(receipt("CARDAPP"))
    indexed, opened = pboc.sync()
    assert indexed.rewound > 0 and opened.receipts == 1
    assert [r.purpose for r in pboc.circulation(DIGEST).receipts][before:] == ["CARDAPP"]
