"""A bank's receipts on a real node survive a reorganisation (``evm_snapshot``/``evm_revert``) and a network reset
to the same genesis (``hardhat_reset``): the outbox re-checks recorded receipts until final, and sends again,
exactly once, what the fork or the reset dropped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from crossverify import VerifierClient, load_bundle
from crossverify.chain.connection import connect
from crossverify.errors import NodeUnavailable
from crossverify.verifier import outbox as outbox_module
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import deposit_certificates
from .conftest import rpc
from .test_flow import Net, _Clock


@pytest.fixture
def fresh(node_url: str, dev_accounts: list[LocalAccount]) -> Iterator[Net]:
    """A consortium deployed first thing on a reset chain, so that a second reset and the same deployment give
    the same addresses; the chain is reset again afterwards."""
    rpc(node_url, "hardhat_reset")
    yield Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    rpc(node_url, "hardhat_reset")


def bank(net: Net, tmp_path: Path, confirmations: int = 0) -> VerifierClient:
    return VerifierClient(net.registry, sender=net.verifier, circulation=net.circulation,  # type: ignore[arg-type]
                          outbox=ReceiptOutbox(tmp_path / "outbox.sqlite", confirmations=confirmations))


def test_receipts_dropped_by_a_reorganisation_are_recorded_again_once(fresh: Net, node_url: str,
                                                                      tmp_path: Path) -> None:
    net = fresh
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 5))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    client = bank(net, tmp_path, confirmations=3)
    reports = client.verify_many(bundles)
    fork = rpc(node_url, "evm_snapshot")
    first = client.record(reports, "ACCTOPEN")
    assert first.recorded == 5 and set(first.commitments) <= set(net.commitments())
    rpc(node_url, "evm_revert", [fork])  # the branch with the receipts is abandoned
    rpc(node_url, "hardhat_mine", ["0x2"])
    assert not set(first.commitments) & set(net.commitments())
    again = client.record([], "ACCTOPEN")
    assert (again.recorded, again.transactions) == (5, 1)
    assert [net.commitments().count(c) for c in first.commitments] == [1] * 5
    rpc(node_url, "hardhat_mine", ["0x3"])
    assert client.record([], "ACCTOPEN").transactions == 0
    assert client.outbox is not None and client.outbox.state(first.commitments[0])["final"]  # type: ignore[index]


def test_receipts_lost_in_a_same_genesis_reset_are_recorded_again_once(fresh: Net, node_url: str, tmp_path: Path,
                                                                       dev_accounts: list[LocalAccount]) -> None:
    net = fresh
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 4))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    issuer.journal.close()
    before = bank(net, tmp_path)
    first = before.record(before.verify_many(bundles), "LOAN")
    assert first.recorded == 4
    assert before.outbox is not None
    before.outbox.close()

    rpc(node_url, "hardhat_reset")  # the network is rebuilt from the same genesis: everything on it is gone
    rebuilt = Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    assert (rebuilt.registry.address, rebuilt.circulation.address) == (net.registry.address, net.circulation.address)
    assert rebuilt.issuer(tmp_path, "journal").run().reanchored == 1  # the issuer's anchors come back first
    client = bank(rebuilt, tmp_path)
    assert all(r.valid for r in client.verify_many(bundles))
    again = client.record([], "LOAN")
    assert (again.recorded, again.transactions) == (4, 1)
    assert [rebuilt.commitments().count(c) for c in first.commitments] == [1] * 4


def test_a_wave_of_receipt_transactions_is_mined_in_one_block(fresh: Net, node_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A flush sends its transactions before it waits: the node's next block takes them all (one at a time, a
    chain mining every few seconds recorded RECEIPTS_PER_TX receipts a block at most)."""
    net = fresh
    monkeypatch.setattr(outbox_module, "RECEIPTS_PER_TX", 2)
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 5))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    client = bank(net, tmp_path)
    reports = client.verify_many(bundles)
    rpc(node_url, "evm_setAutomine", [False])
    try:
        threading.Timer(1.0, rpc, (node_url, "evm_mine")).start()  # one block, while the flush waits
        report = client.record(reports, "ACCTOPEN")
    finally:
        rpc(node_url, "evm_setAutomine", [True])
    assert (report.recorded, report.transactions) == (5, 3)
    assert client.outbox is not None
    assert len({s["block"] for s in client.outbox.states(report.commitments) if s}) == 1


def wave_with_its_first_forgotten(net: Net, node_url: str, tmp_path: Path) -> list[dict[str, Any]]:
    """Six receipts in a wave of three transactions, sent by a process killed before it waited for them, the first
    then forgotten by the node: two pending behind its nonce. Where each receipt stands."""
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 6))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    sends = iter(range(3))

    def die(point: str) -> None:
        if point == "after_send" and next(sends) == 2:
            raise RuntimeError("killed with its wave sent")

    killed = VerifierClient(net.registry, sender=net.verifier, circulation=net.circulation,  # type: ignore[arg-type]
                            outbox=ReceiptOutbox(tmp_path / "outbox.sqlite", faults=die))
    rpc(node_url, "evm_setAutomine", [False])
    try:
        with pytest.raises(RuntimeError):
            killed.record(killed.verify_many(bundles), "ACCTOPEN")
        assert killed.outbox is not None
        waves = killed.outbox.states([bytes(c) for (c,) in killed.outbox.store.db.execute(
            "SELECT commitment FROM sealed_receipts ORDER BY rowid")])
        killed.outbox.close()
        assert rpc(node_url, "hardhat_dropTransaction", [waves[0]["transaction"]]) is True  # type: ignore[index]
    finally:
        rpc(node_url, "evm_setAutomine", [True])
    return waves  # type: ignore[return-value]


def test_receipts_pending_behind_a_forgotten_transaction_are_recorded_once(
        fresh: Net, node_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node forgets the first transaction of a wave and keeps the two sent after it, which wait for its nonce:
    the next flush sends the first one's receipts again (taking that nonce) without waiting for the others, and a
    later flush settles them. Each receipt is on chain once."""
    net = fresh
    monkeypatch.setattr(outbox_module, "RECEIPTS_PER_TX", 2)
    waves = wave_with_its_first_forgotten(net, node_url, tmp_path)
    client = VerifierClient(net.registry, sender=net.verifier, circulation=net.circulation,  # type: ignore[arg-type]
                            outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"))
    again = client.record([], "ACCTOPEN")
    assert (again.recorded, again.transactions) == (2, 1)  # the forgotten one's, not waiting for the others
    rpc(node_url, "evm_mine")
    last = client.record([], "ACCTOPEN")
    assert (last.settled, last.transactions) == (4, 0)
    assert client.outbox is not None and client.outbox.counts() == {"recorded": 6}
    on_chain = net.commitments()
    assert [on_chain.count(bytes.fromhex(w["commitment"][2:])) for w in waves] == [1] * 6


def test_a_gap_whose_filling_flush_was_interrupted_is_filled_by_the_next(
        fresh: Net, node_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flush that would fill the forgotten transaction's nonce stops after settling, before it sends (the node
    away a moment): the next one still sends the queued receipts without waiting for those pending behind the gap
    (the review's reproducer: every later flush waited for them and timed out, for good)."""
    net = fresh
    monkeypatch.setattr(outbox_module, "RECEIPTS_PER_TX", 2)
    wave_with_its_first_forgotten(net, node_url, tmp_path)
    outbox = ReceiptOutbox(tmp_path / "outbox.sqlite")
    keys, calls = outbox_module.regulator_keys, iter(range(100))

    def away_once(circulation: Any) -> Any:
        if next(calls) == 0:
            raise NodeUnavailable("the node went away for a moment")  # after settling, before any send
        return keys(circulation)

    monkeypatch.setattr(outbox_module, "regulator_keys", away_once)
    with pytest.raises(NodeUnavailable):
        outbox.flush(net.circulation, net.verifier, timeout=3)
    assert outbox.flush(net.circulation, net.verifier, timeout=3).recorded == 2
    rpc(node_url, "evm_mine")
    assert outbox.flush(net.circulation, net.verifier, timeout=3).settled == 4
    assert outbox.counts() == {"recorded": 6}
    outbox.close()
