"""The whole flow over HTTP against a real node: what eth-tester hides (mining delay, nonces, gas price zero,
refused connections) included."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from crossverify import RevocationReason, load_bundle
from crossverify.chain.connection import connect, embedded_chain
from crossverify.chain.consortium import encode_payload
from crossverify.chain.records import ProposalKind, Role
from crossverify.chain.typed_data import Domain, key_proof
from crossverify.consortium.operator import OperatorClient
from crossverify.errors import NodeUnavailable
from crossverify.format.codes import issuer_id_code
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.disputes import answer_dispute, received_disputes, register_sealing_key
from crossverify.issuer.journal import BatchState, Journal
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision
from crossverify.sealing import DisputeReason, DisputeStatus, Receipt, RegulatorKey, SealedReceipts, open_receipts
from crossverify.verifier.client import VerifierClient
from crossverify.verifier.disputes import open_dispute, read_answer
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import deposit_certificates
from .conftest import Proxy, rpc

GASLESS = {"gasPrice": 0}


class Net:
    """A consortium on one chain: operators, issuer admin, verifier, regulator, and the issuer's signing key."""

    def __init__(self, w3: Web3, keys: list[LocalAccount], senders: list[object],
                 tx_params: dict[str, int] = GASLESS) -> None:
        self.w3 = w3
        self.tx_params = tx_params
        founders = [(_addr(senders[0]), "MO"), (_addr(senders[1]), "GD")]
        macao = OperatorClient.deploy(w3, senders[0], founders, tx_params=tx_params)  # type: ignore[arg-type]
        guangdong = OperatorClient(macao.registry, senders[1], macao.consortium)  # type: ignore[arg-type]
        self.macao, self.guangdong = macao, guangdong
        self.registry = macao.registry
        self.operator, self.admin, self.verifier = senders[0], senders[2], senders[3]
        self.signer = keys[9]
        guangdong.approve(macao.propose_admit_issuer("BNUMMOMX", "MO", _addr(senders[2]), ["DEPCERT"]))
        issuer_id = issuer_id_code("BNUMMOMX")
        proof = key_proof(issuer_id, self.signer, Domain.of(self.registry))
        self.registry.transact(lambda f: f.addSigningKey(issuer_id, self.signer.address, proof), self.admin)  # type: ignore[arg-type]
        guangdong.approve(macao.propose_admit_member(_addr(senders[3]), Role.VERIFIER))
        guangdong.approve(macao.propose_admit_member(_addr(senders[4]), Role.REGULATOR, "MO"))
        assert macao.circulation is not None
        self.circulation = macao.circulation
        self.regulator_keys = [RegulatorKey.generate(), RegulatorKey.generate()]
        guangdong.approve(macao.propose_regulator_keys([(k.public_key.raw, j) for k, j in zip(
            self.regulator_keys, ("MO", "GD"), strict=True)]))

    def sealed_batches(self) -> list[SealedReceipts]:
        """Every batch of sealed receipts on the circulation contract."""
        return [SealedReceipts(tuple(bytes(c) for c in e.args["commitments"]), bytes(e.args["ciphertext"]))
                for e in self.circulation.events() if e.name == "ReceiptsSealed"]

    def commitments(self) -> list[bytes]:
        """Every receipt commitment on the circulation contract, in chain order."""
        return [c for b in self.sealed_batches() for c in b.commitments]

    def issuer(self, tmp: Path, name: str, sender: object | None = None, w3: Web3 | None = None) -> IssuerClient:
        registry = self.registry if w3 is None else type(self.registry).at(w3, self.registry.address, self.tx_params)
        return IssuerClient(registry, "BNUMMOMX", self.signer, sender or self.operator,  # type: ignore[arg-type]
                            Journal(tmp / f"{name}.sqlite"), tmp / name, receipt_timeout=30)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def _addr(sender: object) -> str:
    return sender if isinstance(sender, str) else sender.address  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def net(node_url: str, dev_accounts: list[LocalAccount]) -> Net:
    return Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))


def test_issue_verify_revoke_audit_over_http(net: Net, tmp_path: Path) -> None:
    """Deploy, admit, issue and anchor, verify (single and batched), revoke, record receipts, audit: over HTTP."""
    issuer = net.issuer(tmp_path, "flow")
    issuer.issue(deposit_certificates(_Clock(net), 600))
    report = issuer.run(max_batch=250)
    assert (report.anchored, len(report.delivered), report.transactions) == (3, 600, 1)
    assert net.w3.eth.get_transaction(
        net.w3.eth.get_block("latest", full_transactions=False)["transactions"][0])["gasPrice"] == 0

    bundles = [load_bundle(p.read_bytes()) for p in sorted(report.delivered)]
    verifier = VerifierClient(net.registry, sender=net.verifier, circulation=net.circulation)  # type: ignore[arg-type]
    assert verifier.verify(bundles[0]).valid
    reports = verifier.verify_many(bundles)
    assert all(r.valid for r in reports)
    recorded = verifier.record(reports[:10], "ACCTOPEN")
    assert net.commitments()[-10:] == list(recorded.commitments)

    admin = net.issuer(tmp_path, "admin", sender=net.admin)
    admin.revoke_document(bundles[1].document_digest(), RevocationReason.SUPERSEDED)
    assert verifier.verify(bundles[1]).failed[0].name == "not_revoked"
    # At one block a verifier keeps its batches' statuses: each document's revocation is still read every time;
    # a block undone (a reorganised chain) is seen as such.
    assert [r.valid for r in verifier.verify_many(bundles[:3])] == [True, False, True]
    snapshot = net.w3.testing.snapshot()
    admin.revoke_batch(bundles[0].proof.batch_root, RevocationReason.FRAUD)
    assert not any(r.valid for r in verifier.verify_many(bundles[:3]))
    net.w3.testing.revert(snapshot)
    assert verifier.verify_many(bundles[:3]) == VerifierClient(net.registry).verify_many(bundles[:3])
    assert [r.valid for r in verifier.verify_many(bundles[:3])] == [True, False, True]

    reader = RegulatorReader(net.registry, tmp_path / "audit.sqlite", chunk=5)
    reader.sync()
    audit = Supervision(reader).report()
    assert audit.totals["documents"] >= 600
    assert audit.revocation_reasons.get("superseded", 0) >= 1


def test_hong_kong_joins_and_leaves_over_http(net: Net, dev_accounts: list[LocalAccount]) -> None:
    """The consortium grows from two operators to three and back on a real node, and reads as text."""
    hong_kong = dev_accounts[6]
    joining = net.macao.propose_add_operator(hong_kong.address, "HK")
    assert net.macao.show(joining).progress == "1 of 2 approvals, needs Guangdong"
    assert net.guangdong.approve(joining)
    assert len(net.macao.consortium.operators()) == 3
    leaver = OperatorClient(net.registry, hong_kong, net.macao.consortium)
    leaving = leaver.propose_remove_operator(hong_kong.address)
    assert leaver.show(leaving).progress == "1 of 2 approvals, needs Macao and Guangdong"
    assert not net.macao.approve(leaving)
    assert net.guangdong.approve(leaving)
    assert hong_kong.address not in [a for a, _ in net.macao.consortium.operators()]
    assert len(net.macao.consortium.operators()) == 2


def test_not_mined_at_once_and_back_to_back_nonces(net: Net, node_url: str, tmp_path: Path) -> None:
    """Several transactions from one key go out before any is mined (nonces from ``pending``); with interval
    mining, the issuer polls for receipts."""
    rpc(node_url, "evm_setAutomine", [False])
    try:
        operator = OperatorClient(net.registry, net.operator)  # type: ignore[arg-type]
        before = len(operator.proposals())
        payload = encode_payload(ProposalKind.SUSPEND_MEMBER, _addr(net.verifier))
        hashes = [net.macao.consortium.submit(lambda f: f.propose(int(ProposalKind.SUSPEND_MEMBER), payload),
                                              net.operator) for _ in range(3)]
        assert all(net.w3.eth.get_transaction(h)["blockNumber"] is None for h in hashes)  # all still pending
        rpc(node_url, "evm_mine")
        assert all(net.macao.consortium.wait(h, timeout=30)["status"] == 1 for h in hashes)
        assert len(operator.proposals()) == before + 3
        rpc(node_url, "evm_setIntervalMining", [300])
        issuer = net.issuer(tmp_path, "slow")
        issuer.issue(deposit_certificates(_Clock(net), 40))
        assert len(issuer.run(max_batch=20).delivered) == 40
    finally:
        rpc(node_url, "evm_setIntervalMining", [0])
        rpc(node_url, "evm_setAutomine", [True])


def test_refused_connection_keeps_the_batch_and_a_retry_anchors_it_once(net: Net, node_url: str,
                                                                       tmp_path: Path) -> None:
    proxy = Proxy(int(node_url.rsplit(":", 1)[1]))
    proxy.start()
    through = connect(proxy.url, chain_id=1337)
    issuer = net.issuer(tmp_path, "proxied", w3=through)
    issuer.issue(deposit_certificates(_Clock(net), 30))
    issuer.seal()
    issuer.sign()
    proxy.stop()
    with pytest.raises(NodeUnavailable):
        issuer.run()
    assert [b.state for b in issuer.journal.batches("BNUMMOMX", *BatchState)] == [BatchState.SIGNED]
    proxy.start()
    report = issuer.run()
    assert report.anchored == 1 and len(report.delivered) == 30
    root = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)[0].root
    logs = net.registry.contract.events.BatchAnchored().get_logs(from_block=0, argument_filters={"batchRoot": root})
    assert len(logs) == 1
    proxy.stop()


def test_throughput_over_the_node_beside_the_embedded_chain(net: Net, dev_accounts: list[LocalAccount],
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issuance end to end over HTTP and in-process, same run (figures for the notes, not asserted)."""
    figures = {}
    local = Net(embedded_chain(), dev_accounts, list(embedded_chain().eth.accounts[:5]), tx_params={})
    for label, chain in (("hardhat node over HTTP", net), ("embedded eth-tester", local)):
        issuer = chain.issuer(tmp_path, label.split()[0])
        issuer.issue(deposit_certificates(_Clock(chain), 2000))
        started = time.perf_counter()
        issuer.run(max_batch=500)
        figures[label] = 2000 / (time.perf_counter() - started)
        bundles = [load_bundle(issuer.bundle_path(f"BNUMMOMX-{i:06d}").read_bytes()) for i in range(500)]
        started = time.perf_counter()
        assert all(r.valid for r in VerifierClient(chain.registry).verify_many(bundles))
        figures[f"{label}: verify"] = 500 / (time.perf_counter() - started)
    with capsys.disabled():
        print("\n" + "; ".join(f"{k}: {v:,.0f} docs/s" for k, v in figures.items()))


class _Clock:
    """What ``certificates`` needs of a consortium: the chain's time."""

    def __init__(self, net: Net) -> None:
        self.net = net

    def now(self) -> int:
        return self.net.now()


def test_sealed_receipts_and_a_dispute_on_the_node(net: Net, tmp_path: Path) -> None:
    """Receipts recorded sealed through the outbox, exactly once; a dispute opened, listed, answered and read."""
    issuer = net.issuer(tmp_path, "sealed")
    issuer.issue(deposit_certificates(_Clock(net), 6))
    bundles = [load_bundle(p.read_bytes()) for p in sorted(issuer.run().delivered)]
    bank = VerifierClient(net.registry, sender=net.verifier, circulation=net.circulation,  # type: ignore[arg-type]
                          outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"))
    reports = bank.verify_many(bundles)
    before = len(net.sealed_batches())
    first = bank.record(reports, "LOAN")
    again = bank.record(reports, "LOAN")
    assert (first.recorded, again.recorded, again.commitments) == (6, 0, first.commitments)
    [on_chain] = net.sealed_batches()[before:]  # one envelope for the transaction
    assert on_chain.commitments == first.commitments
    opened = open_receipts(on_chain, net.regulator_keys[1])
    assert [r.document_digest for r in opened if isinstance(r, Receipt)] == [r.document_digest for r in reports]

    sealing = RegulatorKey.generate()
    register_sealing_key(net.circulation, "BNUMMOMX", sealing, net.admin)  # type: ignore[arg-type]
    dispute = open_dispute(net.circulation, net.verifier, reports[0], DisputeReason.SUSPECTED_ALTERATION,  # type: ignore[arg-type]
                           net.now(), first.commitments[0])
    [received] = [d for d in received_disputes(net.circulation, sealing) if d.dispute_id == dispute.dispute_id]
    assert received.dispute.document_digest == reports[0].document_digest
    answer_dispute(net.circulation, received, DisputeStatus.BEING_INVESTIGATED, net.signer, net.operator,  # type: ignore[arg-type]
                   net.now(), sealing)
    read = read_answer(net.circulation, net.registry, dispute)
    assert read is not None and read.signed_by_issuer and read.answer.status is DisputeStatus.BEING_INVESTIGATED
