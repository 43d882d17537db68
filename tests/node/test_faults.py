"""Fault injection against the real node: a process killed (SIGKILL) at every named point of issuance and of
receipt recording, a transaction left pending by the dead process, and a reorganisation via evm_snapshot and
evm_revert. Nothing may be lost, doubled or misreported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from crossverify import VerifierClient, load_bundle
from crossverify.chain import registry as registry_module
from crossverify.chain.connection import connect
from crossverify.format.encoding import to_hex
from crossverify.issuer import client as issuer_module
from crossverify.issuer.journal import BatchState
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision
from crossverify.verifier import outbox as outbox_module
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import deposit_certificates
from .conftest import DEV_MNEMONIC, rpc
from .test_flow import Net, _Clock

#: A child process that does the work and kills itself, as kill -9 would, at one named point.
CHILD = textwrap.dedent("""
    import os, signal, sys
    from eth_account import Account
    from crossverify.chain.connection import connect
    from crossverify.chain.circulation import CirculationContract
    from crossverify.chain.registry import Registry
    from crossverify.issuer.client import IssuerClient
    from crossverify.issuer.journal import Journal
    from crossverify.verifier.client import VerifierClient
    from crossverify.verifier.outbox import ReceiptOutbox
    from crossverify import load_bundle

    role, url, registry, circulation, work, point = sys.argv[1:7]
    Account.enable_unaudited_hdwallet_features()
    key = lambda i: Account.from_mnemonic({mnemonic!r}, account_path=f"m/44'/60'/0'/0/{{i}}")
    die = lambda at: os.kill(os.getpid(), signal.SIGKILL) if at == point else None
    reg = Registry.at(connect(url), registry, {{"gasPrice": 0}})
    if role == "issuer":
        client = IssuerClient(reg, "BNUMMOMX", key(9), key(0), Journal(f"{{work}}/journal.sqlite"),
                              f"{{work}}/bundles", faults=die, receipt_timeout=30)
        client.run(max_batch=40)
    else:
        bundles = [load_bundle(open(p, "rb").read()) for p in sys.argv[7:]]
        bank = VerifierClient(reg, sender=key(3), outbox=ReceiptOutbox(f"{{work}}/outbox.sqlite", faults=die),
                              circulation=CirculationContract.at(reg.w3, circulation, {{"gasPrice": 0}}))
        bank.record(bank.verify_many(bundles), "ACCTOPEN")
""").format(mnemonic=DEV_MNEMONIC)


def child(*args: str) -> int:
    return subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, timeout=120,
                          check=False).returncode


@pytest.fixture(scope="module")
def net(node_url: str, dev_accounts: list[LocalAccount]) -> Net:
    return Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))


def anchored_roots(net: Net) -> list[bytes]:
    return [bytes(log["args"]["batchRoot"]) for log in
            net.registry.contract.events.BatchAnchored().get_logs(from_block=0)]


def signed_again(net: Net, tx_hash: bytes) -> bytes:
    """The same signed bytes of the operator's sent transaction ``tx_hash`` (RFC 6979), to put it back in the node's
    pool after ``evm_revert`` took its block, as geth and Besu do with a dropped block's transactions."""
    sent = net.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    return bytes(net.operator.sign_transaction({  # type: ignore[attr-defined]
        "nonce": sent["nonce"], "gasPrice": sent["gasPrice"], "gas": sent["gas"], "to": sent["to"], "value": 0,
        "data": sent["input"], "chainId": net.w3.eth.chain_id}).raw_transaction)


@pytest.mark.parametrize("point", issuer_module.FAULT_POINTS)
def test_issuance_killed_at_every_point_loses_and_doubles_nothing(net: Net, node_url: str, tmp_path: Path,
                                                                  point: str) -> None:
    before = set(anchored_roots(net))
    issuer = net.issuer(tmp_path, "journal")
    certs = deposit_certificates(_Clock(net), 100)
    issuer.issue(certs)
    issuer.journal.close()
    assert child("issuer", node_url, net.registry.address, net.circulation.address, str(tmp_path), point) == -9

    restarted = net.issuer(tmp_path, "journal")
    restarted.issue(certs)  # the caller retries its whole input: nothing is doubled
    restarted.run(max_batch=40)
    new = [r for r in anchored_roots(net) if r not in before]
    assert len(new) == len(set(new)) == 3
    assert restarted.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 100}
    bundles = [load_bundle(restarted.bundle_path(ref).read_bytes()) for ref, _ in certs]
    assert all(r.valid for r in VerifierClient(net.registry).verify_many(bundles))


def test_a_transaction_left_pending_by_a_dead_process_is_waited_for(net: Net, node_url: str,
                                                                      tmp_path: Path) -> None:
    before = set(anchored_roots(net))
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 30))
    issuer.journal.close()
    rpc(node_url, "evm_setAutomine", [False])
    try:
        assert child("issuer", node_url, net.registry.address, net.circulation.address, str(tmp_path),
                     "after_send") == -9
        assert len(rpc(node_url, "eth_getBlockByNumber", ["pending", False])["transactions"]) == 1  # type: ignore[index]
        threading.Timer(1.0, rpc, (node_url, "evm_mine")).start()  # the block comes while the restart waits
        report = net.issuer(tmp_path, "journal").run()
    finally:
        rpc(node_url, "evm_setAutomine", [True])
    assert (report.transactions, len(report.delivered)) == (0, 30)
    assert len([r for r in anchored_roots(net) if r not in before]) == 1


@pytest.mark.parametrize("point", outbox_module.FAULT_POINTS)
def test_receipts_killed_mid_recording_are_recorded_once(net: Net, node_url: str, tmp_path: Path,
                                                         point: str) -> None:
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 12))
    paths = sorted(str(p) for p in issuer.run().delivered)
    before = len(net.commitments())
    assert child("bank", node_url, net.registry.address, net.circulation.address, str(tmp_path), point,
                 *paths) == -9
    bank = VerifierClient(net.registry, sender=net.verifier, outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"),  # type: ignore[arg-type]
                          circulation=net.circulation)
    report = bank.record(bank.verify_many([load_bundle(Path(p).read_bytes()) for p in paths]), "ACCTOPEN")
    assert (report.settled, report.recorded) == (12, 0)
    assert net.commitments()[before:] == list(report.commitments)


def test_a_reorganisation_is_repaired_by_the_issuer_and_the_regulator(net: Net, node_url: str,
                                                                      tmp_path: Path) -> None:
    reader = RegulatorReader(net.registry, tmp_path / "audit.sqlite", chunk=50)
    reader.sync()
    fork = rpc(node_url, "evm_snapshot")
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 20))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    assert reader.sync().events > 0

    rpc(node_url, "evm_revert", [fork])  # the branch with the anchor is abandoned
    rpc(node_url, "hardhat_mine", ["0x3"])  # and the chain grows past it without it
    verifier = VerifierClient(net.registry)
    assert not any(r.valid for r in verifier.verify_many(bundles))

    rewound = reader.sync()
    consortium = net.macao.consortium
    logs = net.w3.eth.get_logs({"address": [net.registry.address, consortium.address], "fromBlock": 0,
                                "toBlock": "latest"})
    chain_events = net.registry.decode_logs(logs) + consortium.decode_logs(logs)
    assert rewound.rewound > 0 and len(list(reader.events())) == len(chain_events)

    again = issuer.run()
    assert (again.reanchored, again.anchored) == (1, 1)
    assert all(r.valid for r in verifier.verify_many(bundles))
    reader.sync()
    assert Supervision(reader).report().totals["documents"] == sum(
        e.args["leafCount"] for e in net.registry.decode_logs(net.w3.eth.get_logs(
            {"address": net.registry.address, "fromBlock": 0, "toBlock": "latest"})) if e.name == "BatchAnchored")


def test_an_anchor_a_reorganisation_put_back_in_the_pool_is_waited_for_not_sent_again(
        net: Net, node_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """geth and Besu put the transactions of the blocks a reorganisation dropped back in their pool: the next round
    finds a delivered batch's anchor gone and its transaction pending, waits for it and sends nothing (before, it
    signed the batch again and sent a second ``anchorMany`` behind the first, which the registry skipped as
    identical: a transaction paid for that did nothing, whose hash the journal then kept as the anchor's)."""
    fork = rpc(node_url, "evm_snapshot")
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 20))
    delivered = issuer.run().delivered
    [batch] = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    assert batch.tx_hash is not None
    raw = signed_again(net, batch.tx_hash)
    rpc(node_url, "evm_revert", [fork])  # the branch with the anchor is abandoned
    rpc(node_url, "hardhat_mine", ["0x3"])
    real_wait = registry_module.wait
    monkeypatch.setattr(registry_module, "wait", lambda w3, tx_hash, timeout: (  # the next block comes as it waits
        rpc(node_url, "evm_mine"), real_wait(w3, tx_hash, timeout))[1])
    rpc(node_url, "evm_setAutomine", [False])
    try:
        assert rpc(node_url, "eth_sendRawTransaction", [to_hex(raw)]) == to_hex(batch.tx_hash)  # pending again
        again = issuer.run()
    finally:
        rpc(node_url, "evm_setAutomine", [True])
    mined = net.w3.eth.get_transaction_receipt(batch.tx_hash)
    assert (again.reanchored, again.anchored, again.transactions) == (1, 1, 0)
    assert [p.read_bytes() for p in again.delivered] == [p.read_bytes() for p in delivered]
    [b] = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    assert (b.tx_hash, b.anchor_block, b.anchor_block_hash) == (batch.tx_hash, mined["blockNumber"],
                                                                bytes(mined["blockHash"]))
    assert all(r.valid for r in VerifierClient(net.registry).verify_many(
        [load_bundle(p.read_bytes()) for p in delivered]))


def test_an_anchor_pending_again_behind_a_forgotten_one_does_not_stop_every_round(
        net: Net, node_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches anchored by two transactions (nonces n, n+1); a reorganisation drops both blocks and the node
    puts back only the second (the first forgotten: evicted, or a load-balanced node that never had it). The
    second waits for nonce n, which only the issuer can fill. The round does not wait for it (it would wait
    for good: every round raised ReceiptTimeout, nothing else ever anchored): both batches are signed and sent
    again, one anchorMany taking nonce n, and the old transaction then mines as a no-op."""
    monkeypatch.setattr(issuer_module, "MAX_ANCHORS_PER_TX", 1)
    fork = rpc(node_url, "evm_snapshot")
    issuer = net.issuer(tmp_path, "journal")
    issuer.receipt_timeout = 3
    issuer.issue(deposit_certificates(_Clock(net), 20))
    issuer.run(max_batch=10)
    first, second = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    assert first.tx_hash != second.tx_hash
    raw = signed_again(net, second.tx_hash)  # type: ignore[arg-type]
    rpc(node_url, "evm_revert", [fork])  # the branch with both anchors is abandoned
    rpc(node_url, "hardhat_mine", ["0x3"])
    rpc(node_url, "evm_setAutomine", [False])
    try:
        assert rpc(node_url, "eth_sendRawTransaction", [to_hex(raw)]) == to_hex(second.tx_hash)  # queued behind n
    finally:
        rpc(node_url, "evm_setAutomine", [True])
    try:
        again = issuer.run(max_batch=10)
        rpc(node_url, "evm_mine")
        issuer.run(max_batch=10)
    finally:  # the old transaction is not left queued for the module's other tests
        if net.w3.eth.get_transaction(second.tx_hash)["blockNumber"] is None:  # type: ignore[arg-type]
            rpc(node_url, "hardhat_dropTransaction", [to_hex(second.tx_hash)])
    assert again.reanchored == 2
    assert {b.root for b in issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)} == {first.root, second.root}
    statuses = net.registry.document_statuses([(issuer_module.issuer_id_code("BNUMMOMX"), b.root, bytes(32))
                                               for b in (first, second)])
    assert all(s.anchored for s in statuses)
