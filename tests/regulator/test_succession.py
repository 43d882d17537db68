"""The regulator's index follows a registry succession: configured for a registry whose consortium recorded the one
the index was reading as its predecessor, it carries on in the same index. The predecessor's history stays; its
roots anchored again and its revocations sent again on the successor count once; the report says which registries
the history came from and when each succession was recorded. Any other registry is still refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crossverify import RevocationReason
from crossverify.errors import StoreChainMismatch
from crossverify.regulator.export import to_csv, to_html
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision

from ..conftest import Consortium, deposit_certificates
from ..issuer.test_issuance import client
from ..issuer.test_succession import moved, successor
from ..postgres import Locate, empty
from ..sqlite_steps import counted


def test_the_index_follows_a_recorded_successor_and_counts_each_batch_once(consortium: Consortium,
                                                                            location: Locate, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    issuer.run()
    issuer.revoke(RevocationReason.WITHDRAWN, reference="BNUMMOMX-000001")
    reader = RegulatorReader(c.registry, location("audit.sqlite"))
    reader.sync()
    reader.close()
    issuer.issue(deposit_certificates(c, 2, start=10))  # anchored on the predecessor after the index last read it
    issuer.run()
    issuer.journal.close()

    new = successor(c)
    pipeline = moved(new, tmp_path)
    pipeline.rebind()
    carried = pipeline.run()
    assert (carried.anchored, carried.restored) == (2, 1)  # both roots again, and the revocation
    reader = RegulatorReader(new.registry, location("audit.sqlite"))
    assert reader.pending_succession == (c.registry.address, new.registry.predecessors()[0][2])
    synced = reader.sync()
    assert synced.followed is not None and synced.followed.registry == new.registry.address
    pipeline.issue(deposit_certificates(new, 1, start=20))  # new issuance on the successor counts
    pipeline.run()
    reader.sync()

    report = Supervision(reader).report()
    assert (report.totals["batches"], report.totals["documents"], report.totals["revocations"]) == (3, 6, 1)
    assert report.by_issuer["BNUMMOMX"] == {"batches": 3, "documents": 6, "documents_revoked": 1}
    first, second = report.registries
    assert (first["registry"], second["registry"]) == (c.registry.address, new.registry.address)
    assert first["recordedAsPredecessorAt"] == new.registry.predecessors()[0][2] and first["genesis"] == \
        second["genesis"]  # the same chain: a new version of the contracts
    assert (second["reanchoredBatches"], second["restoredRevocations"]) == (2, 1)
    assert (first["reanchoredBatches"], first["restoredRevocations"]) == (0, 0)
    assert not any(g["kind"] == "anchor_replaced" for g in report.anomalies)  # a re-anchor is not a squat
    page = to_html(report)
    assert "history of 2 registries" in page and c.registry.address in page and new.registry.address in page
    assert f"registry,{new.registry.address},reanchoredBatches,2" in to_csv(report)
    rows = list(Supervision(reader).rows("anchors"))
    assert sorted(r["moved"] for r in rows) == [False, False, False, True, True]
    on_chain = {log["blockNumber"] for log in new.registry.contract.events.BatchAnchored().get_logs(from_block=0)}
    assert {r["block"] for r in rows if r["registry"] == new.registry.address} == on_chain  # the chain's numbers
    assert reader.freshness().behind == 0
    revocations = list(Supervision(reader).rows("revocations"))
    assert sorted((r["counted"], r["restored"]) for r in revocations) == [(False, True), (True, False)]
    reader.close()

    again = RegulatorReader(new.registry, location("audit.sqlite"))  # bound to the successor from now on
    assert again.pending_succession is None and len(again.registries()) == 2
    again.close()


def test_a_registry_that_does_not_record_the_index_s_as_predecessor_is_refused(consortium: Consortium,
                                                                                tmp_path: Path) -> None:
    c = consortium
    RegulatorReader(c.registry, tmp_path / "audit.sqlite").close()
    unrelated = successor(c, record=False)
    with pytest.raises(StoreChainMismatch, match="does not record"):
        RegulatorReader(unrelated.registry, tmp_path / "audit.sqlite")


def test_replicas_sharing_an_index_follow_a_succession_once(consortium: Consortium, postgres_url: str,
                                                             tmp_path: Path) -> None:
    """Two regulator replicas started for the successor before either synced: the first to sync moves the shared
    index; the other then finds it moved and carries on (it once moved it again: a second era, a second
    predecessor binding, and a unique-key failure)."""
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 2, start=40))
    issuer.run()
    reader = RegulatorReader(c.registry, postgres_url)
    reader.sync()
    reader.close()
    issuer.journal.close()
    new = successor(c)
    pipeline = moved(new, tmp_path)
    pipeline.rebind()
    pipeline.run()
    one, other = RegulatorReader(new.registry, postgres_url), RegulatorReader(new.registry, postgres_url)
    try:
        assert one.pending_succession is not None and other.pending_succession is not None
        assert one.sync().followed is not None
        assert other.sync().followed is None
        assert [r.era for r in other.registries()] == [0, 1] and other.pending_succession is None
        assert sum(k.startswith("predecessor.") for k in other.store.binding()) == 3  # one predecessor's keys
    finally:
        one.close()
        other.close()
        empty(postgres_url)


def test_the_registries_are_counted_through_what_moved_alone(consortium: Consortium, tmp_path: Path) -> None:
    """The overview and the report count the batches and revocations a successor held again through indexes of
    those rows: beside 20,000 anchors and revocations that did not move, the count takes SQLite as many steps as
    beside none (each count was a scan of its table)."""
    c = consortium

    def steps(history: int) -> int:
        reader = RegulatorReader(c.registry, tmp_path / f"audit-{history}.sqlite")
        reader.sync()
        with reader.store.transaction() as db:
            db.executemany("INSERT INTO anchors (block_number, block_time, issuer_id, doc_type, batch_root, documents, "
                           "signing_key, not_after, moved) VALUES (?, 0, 'BNUMMOMX', 'DEPCERT', ?, 1, '', 0, ?)",
                           [(i, os.urandom(32), int(i < 3)) for i in range(3 + history)])
            db.executemany("INSERT INTO revocations (block_number, block_time, issuer_id, scope, target, reason, "
                           "signing_key, documents, counted, restored) VALUES (?, 0, 'BNUMMOMX', 'document', ?, "
                           "'withdrawn', '', 1, 1, ?)", [(i, os.urandom(32), int(i < 2)) for i in range(2 + history)])
        [registry], steps_taken = counted(reader.store.db, Supervision(reader).registries)
        assert (registry["reanchoredBatches"], registry["restoredRevocations"]) == (3, 2)
        reader.close()
        return steps_taken

    alone, beside_history = steps(0), steps(20_000)
    assert beside_history < alone * 1.2, (alone, beside_history)
