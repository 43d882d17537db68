"""Registry succession on a real node: the next version of the contracts is deployed beside the first, its
consortium records the first registry as its predecessor by quorum, the issuer moves its journal there, and a bank
reading the new registry accepts the files residents hold, which name the old one."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from crossverify import VerifierClient, load_bundle
from crossverify.bench._node import hardhat_node
from crossverify.chain.connection import connect
from crossverify.chain.records import RevocationReason
from crossverify.errors import SuccessionNotRecorded
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision
from crossverify.verifier import outbox as outbox_module
from crossverify.verifier.client import Outcome
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import deposit_certificates
from .test_flow import Net, _Clock
from .test_receipts_final import fresh, wave_with_its_first_forgotten  # noqa: F401  (fresh: the fixture)


def test_an_issuer_follows_its_registry_to_the_next_version(fresh: Net, tmp_path: Path,  # noqa: F811
                                                             node_url: str, dev_accounts: list[LocalAccount]) -> None:
    old = fresh
    issuer = old.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(old), 3))
    held = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    issuer.revoke(RevocationReason.WITHDRAWN, reference="BNUMMOMX-000002")
    issuer.journal.close()

    new = Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    assert new.registry.address != old.registry.address
    new.guangdong.approve(new.macao.propose_predecessor(1337, old.registry.address))
    moved = new.issuer(tmp_path, "journal")
    assert moved.rebind()["registry"] == old.registry.address
    report = moved.run()
    assert (report.anchored, report.restored) == (1, 1)
    reports = VerifierClient(new.registry).verify_many(held)
    assert [r.valid for r in reports] == [True, True, False]
    assert reports[0].check("registry_succession").outcome is Outcome.PASSED
    assert reports[2].check("not_revoked").outcome is Outcome.FAILED


def test_a_rebuilt_network_with_a_new_genesis_takes_the_residents_old_files(
        fresh: Net, tmp_path: Path, dev_accounts: list[LocalAccount]) -> None:  # noqa: F811
    """The network is rebuilt: a first node (the old network) is stopped for good, the session's node, started at
    another moment, has another genesis under the same chain id, and the same deployment gives the registry the same
    address there. Its consortium records the old (chain id, address) as predecessor; the issuer's journal, the
    regulator's index and the bank's outbox, all bound to the old genesis, move by the recorded succession (an
    unrecorded one is refused), and a resident's old file, which names that chain id and address, verifies on the
    new network once the issuer anchored its root again."""
    with hardhat_node(tmp_path / "old-network") as old_url:
        old = Net(connect(old_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
        issuer = old.issuer(tmp_path, "journal")
        issuer.issue(deposit_certificates(_Clock(old), 2))
        held = [p.read_bytes() for p in issuer.run().delivered]  # the files residents keep
        issuer.revoke(RevocationReason.WITHDRAWN, reference="BNUMMOMX-000001")
        issuer.journal.close()
        index = RegulatorReader(old.registry, tmp_path / "audit.sqlite", circulation=old.circulation)
        index.sync()
        index.close()
        bank = VerifierClient(old.registry, sender=old.verifier, circulation=old.circulation,  # type: ignore[arg-type]
                              outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"))
        [first] = bank.record(bank.verify_many([load_bundle(held[0])]), "ACCTOPEN").commitments
        old_genesis = old.registry.identity()["genesis"]
    new = fresh
    assert new.registry.address == old.registry.address and new.registry.identity()["genesis"] != old_genesis
    refused = new.issuer(tmp_path, "journal")
    with pytest.raises(SuccessionNotRecorded):
        refused.rebind()
    refused.journal.close()

    new.guangdong.approve(new.macao.propose_predecessor(1337, old.registry.address))
    moved = new.issuer(tmp_path, "journal")
    assert moved.rebind()["genesis"] == old_genesis
    report = moved.run()
    assert (report.anchored, report.restored) == (1, 1)
    reports = VerifierClient(new.registry).verify_many([load_bundle(b) for b in held])
    assert [r.valid for r in reports] == [True, False]  # the old file verifies; the revoked one stays revoked
    assert reports[0].check("registry_matches").outcome is Outcome.PASSED  # the file names this chain id and address

    index = RegulatorReader(new.registry, tmp_path / "audit.sqlite", circulation=new.circulation)
    assert index.sync().followed is not None
    figures = Supervision(index).report()
    assert (figures.totals["batches"], figures.totals["documents"], figures.totals["revocations"]) == (1, 2, 1)
    assert [r["genesis"] for r in figures.registries] == [old_genesis, new.registry.identity()["genesis"]]
    index.close()

    bank = VerifierClient(new.registry, sender=new.verifier, circulation=new.circulation,  # type: ignore[arg-type]
                          outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"))
    [second] = bank.record(reports[:1], "ACCTOPEN", reference="CASE-2").commitments
    assert new.commitments() == [second] and bank.outbox is not None  # the final one is not sent again
    assert bank.outbox.state(first)["final"]  # type: ignore[index]


def test_an_outbox_moving_on_fills_the_nonce_gap_a_forgotten_transaction_left_on_the_old_contract(
        fresh: Net, node_url: str, tmp_path: Path, dev_accounts: list[LocalAccount],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The node forgot the first transaction of a wave sent to the old circulation contract and keeps the two sent
    after it, which wait for its nonce. Moving to the successor, the outbox sends the forgotten one's receipts to the
    old contract again (that nonce: the two others are mined behind it), then moves (the review's reproducer: it
    sent nothing, refused with ReceiptsUnsettled, and every later flush refused again). Each receipt is recorded
    once, on the old contract."""
    old = fresh
    monkeypatch.setattr(outbox_module, "RECEIPTS_PER_TX", 2)
    waves = wave_with_its_first_forgotten(old, node_url, tmp_path)
    new = Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    new.guangdong.approve(new.macao.propose_predecessor(1337, old.registry.address))
    outbox = ReceiptOutbox(tmp_path / "outbox.sqlite")
    assert outbox.flush(new.circulation, new.verifier, timeout=5).transactions == 0  # none to the new one
    assert outbox.counts() == {"recorded": 6} and outbox.store.binding()["circulation"] == new.circulation.address
    on_chain = old.commitments()
    assert [on_chain.count(bytes.fromhex(w["commitment"][2:])) for w in waves] == [1] * 6
    assert new.commitments() == []
    outbox.close()
