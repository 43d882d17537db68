"""Finality on the embedded chain: bundles go out only under enough blocks, and an anchor that a reorganisation
or a network reset removed is found on the next run and anchored again, so residents' bundles verify again."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify import VerifierClient, load_bundle
from crossverify.chain import registry as registry_module
from crossverify.chain.consortium import deploy_consortium
from crossverify.errors import StoreChainMismatch
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import BatchState, Journal

from ..conftest import Consortium, deposit_certificates
from .test_issuance import client


def test_bundles_wait_for_confirmations(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path, confirmations=3)
    issuer.issue(deposit_certificates(c, 20))
    first = issuer.run()
    assert (first.anchored, first.delivered, first.awaiting) == (1, [], 1)
    [batch] = issuer.journal.batches("BNUMMOMX", BatchState.ANCHORED)
    assert batch.anchor_block == c.w3.eth.block_number and batch.anchor_block_hash is not None
    c.w3.testing.mine(2)
    assert issuer.run().delivered == []
    c.w3.testing.mine(1)
    second = issuer.run()
    assert (len(second.delivered), second.awaiting, second.transactions) == (20, 0, 0)


def test_an_anchor_undone_by_a_reorganisation_is_sent_again(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    before_anchor = c.w3.testing.snapshot()
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 30))
    delivered = issuer.run().delivered
    assert len(delivered) == 30
    bundles = [load_bundle(p.read_bytes()) for p in delivered]
    verifier = VerifierClient(c.registry)
    assert all(r.valid for r in verifier.verify_many(bundles))

    c.w3.testing.revert(before_anchor)  # the blocks holding the anchor are gone, as after a reorg or a reset
    assert not any(r.valid for r in verifier.verify_many(bundles))
    assert issuer.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 30}  # what the journal believed

    again = issuer.run()
    assert (again.reanchored, again.anchored, again.transactions) == (1, 1, 1)
    assert [p.read_bytes() for p in again.delivered] == [p.read_bytes() for p in delivered]  # the same files
    assert all(r.valid for r in verifier.verify_many(bundles))
    assert issuer.run().reanchored == 0


def test_a_journal_refuses_another_registry(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    issuer.run()
    issuer.journal.close()
    _, other, _ = deploy_consortium(c.w3, c.w3.eth.accounts[0], [(c.w3.eth.accounts[0], "MO"),
                                                             (c.w3.eth.accounts[1], "GD")])
    elsewhere = IssuerClient(other, "BNUMMOMX", c.signing_key, c.macao_operator, Journal(tmp_path / "journal.sqlite"),
                             tmp_path / "bundles")
    with pytest.raises(StoreChainMismatch, match="belongs to registry"):
        elsewhere.run()
    assert elsewhere.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 3}


def test_an_anchor_a_reorganisation_put_back_in_the_pool_is_waited_for_not_sent_again(
        consortium: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hardhat test of tests/node/test_faults.py on the embedded chain: a delivered batch whose anchor a
    reorganisation took away while its transaction went back to the node's pool goes back to sent with that
    transaction, not to signing (before: to sealed, its hash forgotten); the round waits for it and sends nothing."""
    c = consortium
    fork = c.w3.testing.snapshot()
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 10))
    delivered = issuer.run().delivered
    [batch] = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    assert batch.tx_hash is not None
    sent = c.w3.eth.get_transaction(batch.tx_hash)
    c.w3.testing.revert(fork)  # the branch with the anchor is abandoned
    tester = c.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.disable_auto_mine_transactions()
    try:
        assert c.w3.eth.send_transaction({"data": sent["input"], **{k: sent[k] for k in (  # the same one, pending
            "from", "to", "gas", "nonce", "maxFeePerGas", "maxPriorityFeePerGas")}}) == batch.tx_hash
        assert issuer.verify_anchors() == 1
        [back] = issuer.journal.batches("BNUMMOMX", *BatchState)
        assert (back.state, back.tx_hash, back.signature) == (BatchState.SENT, batch.tx_hash, batch.signature)
        assert (back.anchored_at, back.anchor_block, back.anchor_block_hash) == (None, None, None)  # (GET /v1/batches)
        real_wait = registry_module.wait
        monkeypatch.setattr(registry_module, "wait", lambda w3, tx_hash, timeout: (  # mined as the round waits
            tester.mine_blocks(), real_wait(w3, tx_hash, timeout))[1])
        again = issuer.run()
    finally:
        tester.enable_auto_mine_transactions()
    assert (again.anchored, again.transactions) == (1, 0)
    assert [p.read_bytes() for p in again.delivered] == [p.read_bytes() for p in delivered]
    mined = c.w3.eth.get_transaction_receipt(batch.tx_hash)
    [b] = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    assert (b.tx_hash, b.anchor_block) == (batch.tx_hash, mined["blockNumber"])
