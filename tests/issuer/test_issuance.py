"""The issuer pipeline on the embedded chain: thousands through the journal, and a crash at every step."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import TransactionNotFound

from crossverify import RevocationReason, load_bundle
from crossverify.chain.connection import JsonRpc
from crossverify.chain.registry import Registry
from crossverify.errors import JournalError, NodeUnavailable, ReceiptTimeout, RegistryKeyRetired
from crossverify.format.certificate import Certificate, DocumentHeader
from crossverify.format.codes import issuer_id_code
from crossverify.issuer import client as client_module
from crossverify.issuer import journal as journal_module
from crossverify.issuer import watch
from crossverify.issuer.client import FAULT_POINTS, IssuerClient
from crossverify.issuer.journal import MIGRATIONS, BatchState, Journal
from crossverify.store import Store

from ..conftest import Consortium, admit_issuer, deposit_certificates, labelled_test_key
from ..postgres import Locate, empty
from ..sqlite_steps import counted


class Crash(Exception):
    """A process dying at a chosen point."""


def client(c: Consortium, tmp_path: Path, location: Locate | None = None, **kwargs: Any) -> IssuerClient:
    return IssuerClient(c.registry, "BNUMMOMX", c.signing_key, kwargs.pop("sender", c.macao_operator),
                        Journal(location("journal.sqlite") if location else tmp_path / "journal.sqlite"),
                        tmp_path / "bundles", **kwargs)


def anchored_roots(c: Consortium) -> list[bytes]:
    logs = c.registry.contract.events.BatchAnchored().get_logs(from_block=0)
    return [bytes(log["args"]["batchRoot"]) for log in logs]


def check_all_delivered(c: Consortium, issuer: IssuerClient, references: list[str]) -> dict[str, bytes]:
    """Every reference has a bundle that verifies against an anchored root; returns the bundle bytes."""
    files = {ref: issuer.bundle_path(ref).read_bytes() for ref in references}
    bundles = [load_bundle(data) for data in files.values()]
    assert all(b.leads_to_root() for b in bundles)
    statuses = c.registry.document_statuses([(c.issuer_id, b.proof.batch_root, b.document_digest()) for b in bundles])
    assert all(s.anchored and s.issuer_id == c.issuer_id for s in statuses)
    return files


def write_history(journal: Journal, per_batch: int, batches: int = 20) -> None:
    """Delivered batches of ``per_batch`` documents each, long expired, written straight into the journal as years
    of issuing leave it."""
    with journal.transaction() as db:
        for b in range(batches):
            batch_id = db.execute(
                "INSERT INTO batches (issuer_id, doc_type, hash_alg, root, leaf_count, not_after, state, sealed_at, "
                "documents) VALUES ('BNUMMOMX', 'DEPCERT', 1, ?, ?, 1, 'delivered', 0, ?) RETURNING id",
                (os.urandom(32), per_batch, per_batch)).fetchone()[0]
            db.executemany("INSERT INTO documents (issuer_id, reference, doc_type, hash_alg, body, digest, batch_id, "
                           "leaf_index, added_at) VALUES ('BNUMMOMX', ?, 'DEPCERT', 1, '{}', ?, ?, ?, 0)",
                           [(f"OLD-{b}-{i}", os.urandom(32), batch_id, i) for i in range(per_batch)])


def steps(journal: Journal, work: Callable[[], object]) -> int:
    """How many times SQLite's virtual machine ran 10 instructions on the journal's connection during ``work``."""
    return counted(journal.store.db, work)[1]


def asked_roots(monkeypatch: pytest.MonkeyPatch, part: int = 1) -> list[bytes]:
    """The batch roots (``part=2``: the document digests) the registry is asked about, from now on."""
    asked: list[bytes] = []
    statuses = Registry.document_statuses

    def spying(registry: Registry, triples: Any) -> Any:
        asked.extend(triple[part] for triple in triples)
        return statuses(registry, triples)

    monkeypatch.setattr(Registry, "document_statuses", spying)
    return asked


NewRoots = Callable[[], list[bytes]]


@pytest.fixture
def new_roots(consortium: Consortium) -> NewRoots:
    """The roots anchored since the test began (the session chain holds earlier ones)."""
    before = set(anchored_roots(consortium))
    return lambda: [r for r in anchored_roots(consortium) if r not in before]


def test_thousands_of_certificates_through_the_journal(
    consortium: Consortium, new_roots: NewRoots, tmp_path: Path, location: Locate,
) -> None:
    c = consortium
    issuer = client(c, tmp_path, location)
    certs = deposit_certificates(c, 3000)
    issuer.issue(certs)
    report = issuer.run(max_batch=500)
    assert (report.sealed, report.signed, report.anchored, report.transactions) == (6, 6, 6, 1)
    assert len(report.delivered) == 3000
    roots = new_roots()
    assert len(roots) == len(set(roots)) == 6
    check_all_delivered(c, issuer, [ref for ref, _ in certs])
    assert issuer.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 3000}
    assert issuer.run().delivered == []


def test_a_round_does_the_same_work_however_many_documents_were_issued_before(consortium: Consortium,
                                                                            tmp_path: Path) -> None:
    """A round reads batches by state and documents by batch, pending or superseded through indexes of their own:
    issuing 3 certificates beside 20 old batches of 1,000 documents each takes SQLite as many steps as beside 20 of
    one (a round used to go through every document ever issued once per batch)."""
    def round_steps(per_batch: int) -> int:
        (tmp_path / str(per_batch)).mkdir()
        issuer = client(consortium, tmp_path / str(per_batch))
        write_history(issuer.journal, per_batch)
        issuer.issue(deposit_certificates(consortium, 3))
        taken = steps(issuer.journal, issuer.run)
        assert issuer.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 20 * per_batch + 3}
        return taken

    small, large = round_steps(1), round_steps(1000)
    assert large < small * 1.2, (small, large)


def test_a_round_does_the_same_work_however_many_batches_expired_before(consortium: Consortium,
                                                                      tmp_path: Path) -> None:
    """A round checks that the unexpired anchors are still on chain, found by expiry: beside 2,000 batches expired
    long ago as many SQLite steps as beside 20 (it used to read every anchored batch ever, then drop the expired)."""
    def round_steps(batches: int) -> int:
        (tmp_path / str(batches)).mkdir()
        issuer = client(consortium, tmp_path / str(batches))
        write_history(issuer.journal, 1, batches)
        issuer.issue(deposit_certificates(consortium, 3))
        return steps(issuer.journal, issuer.run)

    small, large = round_steps(20), round_steps(2_000)
    assert large < small * 1.2, (small, large)


def test_a_backlog_is_anchored_with_each_transaction_looked_up_once(consortium: Consortium, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A backlog (a reset network, a successor registry) goes out in several ``anchorMany`` transactions: after
    each, only its own batches are read back, and its receipt (which holds every batch's log) is looked up once
    however many batches it carried. Reading back every open batch after each transaction made the statuses asked
    grow with the square of the backlog, and a receipt per batch took ~70 ms each on a Hardhat node."""
    monkeypatch.setattr(client_module, "MAX_ANCHORS_PER_TX", 3)
    issuer = client(consortium, tmp_path)
    issuer.issue(deposit_certificates(consortium, 12))
    issuer.seal(max_batch=1)
    issuer.sign()
    asked = asked_roots(monkeypatch)
    receipts: list[bytes] = []
    receipt = type(consortium.w3.eth).get_transaction_receipt

    def looked_up(eth: Any, tx_hash: Any) -> Any:
        receipts.append(bytes(tx_hash))
        return receipt(eth, tx_hash)

    monkeypatch.setattr(type(consortium.w3.eth), "get_transaction_receipt", looked_up)
    assert issuer.anchor() == 12
    assert len(asked) == 12 + 12  # every open batch once before sending, then each transaction's own
    sent = {b.tx_hash for b in issuer.journal.batches("BNUMMOMX", BatchState.ANCHORED)}
    assert len(sent) == 4 and len(receipts) == len(set(receipts)) <= 4
    assert all(b.anchor_block and b.anchor_block_hash for b in issuer.journal.batches("BNUMMOMX", BatchState.ANCHORED))
    issuer.deliver()
    assert not issuer.journal.batches("BNUMMOMX", BatchState.SIGNED, BatchState.SENT, BatchState.ANCHORED)


def test_a_batch_that_expired_before_it_could_be_anchored_holds_up_nothing(consortium: Consortium, tmp_path: Path,
                                                                          location: Locate) -> None:
    """A batch sealed but not anchored before its documents expired (a node out of reach for longer than they were
    valid) is neither signed nor sent: the registry refuses an anchor past its not-after, and refused the whole
    anchorMany with it, every run. The other batches go on; the journal marks it lapsed, once, and counts its
    documents so."""
    c = consortium
    issuer = client(c, tmp_path, location)
    now = c.now()
    brief = DocumentHeader("DEPCERT", "BNUMMOMX", now, now - 86400, now + 600)
    issuer.issue([("BNUMMOMX-BRIEF", Certificate(brief, {"holder_name": "CHAN Tai Man", "balance_mop": 1}))])
    [stale] = issuer.seal(10)
    c.travel(900)
    issuer.issue(deposit_certificates(c, 2, start=10))
    report = issuer.run()
    assert (report.anchored, len(report.delivered), report.lapsed) == (1, 2, 1)
    [lapsed] = issuer.journal.batches("BNUMMOMX", BatchState.SEALED)
    assert lapsed.id == stale and now + 600 <= (lapsed.lapsed_at or 0) <= c.now()  # marked at the chain's time
    assert issuer.journal.counts("BNUMMOMX") == {"pending": 0, "lapsed": 1, "delivered": 2}  # not a stuck "sealed"
    again = issuer.run()
    assert (again.transactions, again.lapsed) == (0, 0)  # not tried again, nor reported again


def brief_batch(c: Consortium, issuer: IssuerClient) -> int:
    """The id of a sealed batch of one document that expires 100 s from the chain's time now, the chain's latest
    block first brought to the wall clock: a revert puts the next block there, and ``c.travel(50)`` after one must
    not fall behind it (an earlier test may have left the latest block minutes old)."""
    c.w3.testing.mine(2)  # the first takes the pending block's old time, the second the wall clock's
    now = c.now()
    brief = DocumentHeader("DEPCERT", "BNUMMOMX", now, now - 86400, now + 100)
    issuer.issue([("BNUMMOMX-BRIEF", Certificate(brief, {"holder_name": "CHAN Tai Man", "balance_mop": 1}))])
    [batch] = issuer.seal(10)
    return batch


def test_a_batch_found_lapsed_then_signed_after_all_is_lapsed_no_more(consortium: Consortium, tmp_path: Path) -> None:
    """Marked lapsed within SEND_MARGIN of its not-after, then the chain's time reads earlier (a reorganisation, or
    a lagging node behind a load balancer): the next round signs, anchors and delivers it, and it is no longer
    counted lapsed (the review's reproducer: it kept lapsed_at)."""
    c = consortium
    issuer = client(c, tmp_path)
    batch = brief_batch(c, issuer)
    fork = c.w3.testing.snapshot()
    c.travel(50)  # within SEND_MARGIN of its not-after, still before it
    assert issuer.run().lapsed == 1
    c.w3.testing.revert(fork)
    assert len(issuer.run().delivered) == 1
    [b] = issuer.journal.batches("BNUMMOMX", *BatchState, ids=[batch])
    assert (b.state, b.lapsed_at) == (BatchState.DELIVERED, None)
    assert issuer.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 1}


def test_a_batch_lapsed_after_a_reorganisation_dropped_its_anchor_is_found_anchored_when_it_comes_back(
        consortium: Consortium, tmp_path: Path) -> None:
    """A reorganisation drops a delivered batch's anchor within SEND_MARGIN of its not-after: the next round sends it
    back to sealed and marks it lapsed (it cannot be anchored again in time). Then the new branch mines the same
    anchor transaction after all: the following round finds the root on chain, and the batch is delivered again, no
    longer counted lapsed (the review's suspicion: it stayed sealed and lapsed for good, its anchor on chain)."""
    c = consortium
    issuer = client(c, tmp_path)
    batch = brief_batch(c, issuer)
    fork = c.w3.testing.snapshot()
    [delivered] = issuer.run().delivered
    [anchored] = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    sent = c.w3.eth.get_transaction(anchored.tx_hash)  # type: ignore[arg-type]
    c.w3.testing.revert(fork)  # the branch with the anchor is abandoned
    c.travel(50)  # within SEND_MARGIN of its not-after, still before it
    lost = issuer.run()
    assert (lost.reanchored, lost.lapsed, lost.transactions) == (1, 1, 0)
    c.w3.eth.send_transaction({"from": sent["from"], "to": sent["to"], "data": sent["input"],  # mined again
                               "gas": sent["gas"]})
    [status] = c.registry.document_statuses([(issuer_id_code("BNUMMOMX"), anchored.root, bytes(32))])
    assert status.anchored
    again = issuer.run()
    assert (again.lapsed, again.transactions, [p.read_bytes() for p in again.delivered]) == (
        0, 0, [delivered.read_bytes()])
    [b] = issuer.journal.batches("BNUMMOMX", *BatchState, ids=[batch])
    assert (b.state, b.lapsed_at) == (BatchState.DELIVERED, None)
    assert issuer.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 1}


def test_a_round_restores_the_revocations_of_unexpired_batches_alone(consortium: Consortium, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A round checks that the chain still holds the revocations the journal sent, twice: of unexpired batches only
    (a document of an expired batch fails verification whatever its revocation says), found from the batches by
    expiry. Beside 2,000 revocations of batches expired long ago, a round asks the chain about as many and takes
    as many SQLite steps as beside 20 (it used to ask about every revocation ever sent, every round)."""
    asked = asked_roots(monkeypatch)
    monkeypatch.setattr(watch, "FULL_CHECK_EVERY", 0.0)  # every round checks everything (issuer/watch.py)

    def round_cost(revoked: int) -> tuple[int, int]:
        (tmp_path / str(revoked)).mkdir()
        issuer = client(consortium, tmp_path / str(revoked))
        write_history(issuer.journal, 1, revoked)
        with issuer.journal.transaction() as db:
            db.execute("INSERT INTO revocations (issuer_id, target, batch_root, scope, reason) SELECT d.issuer_id, "
                       "d.digest, b.root, 'document', 2 FROM documents d JOIN batches b ON b.id = d.batch_id")
        issuer.issue(deposit_certificates(consortium, 3))
        issuer.run()
        asked.clear()
        taken = steps(issuer.journal, issuer.run)
        assert asked  # the round did ask (its own batch's anchor, at least)
        return len(asked), taken

    (small_asked, small), (large_asked, large) = round_cost(20), round_cost(2_000)
    assert large_asked == small_asked and large < small * 1.2, (small_asked, large_asked, small, large)


def test_a_full_round_asks_about_each_documents_revocation_once(consortium: Consortium, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A full round checks every live revocation before anchoring; after anchoring, only whole batches' (their
    roots may have been anchored again that round): a document's was checked whether its batch was anchored or not,
    so each is asked about once (twice before: the bulk of a full check's revocations, which superseded documents
    make)."""
    issuer = client(consortium, tmp_path)
    issuer.issue(deposit_certificates(consortium, 4))
    issuer.run()
    for reference in ("BNUMMOMX-000001", "BNUMMOMX-000002"):
        issuer.revoke(RevocationReason.WITHDRAWN, reference=reference)
    [batch] = issuer.journal.batches("BNUMMOMX", BatchState.DELIVERED)
    issuer.revoke(RevocationReason.FRAUD, batch=batch.root)
    asked = asked_roots(monkeypatch, part=2)
    monkeypatch.setattr(watch, "FULL_CHECK_EVERY", 0.0)  # every round checks everything (issuer/watch.py)
    issuer.run()
    found = [issuer.journal.find("BNUMMOMX", reference=f"BNUMMOMX-00000{i}") for i in (1, 2)]
    assert [asked.count(r.digest) for r in found if r is not None] == [1, 1]
    assert asked.count(bytes(32)) == 3  # the batch's anchor, its revocation before and after anchoring


def test_a_revocation_back_on_chain_before_its_batch_is_found_there_and_not_sent_again(
        consortium: Consortium, tmp_path: Path) -> None:
    """After a reset, a document's revocation goes back on chain before its batch is anchored again (the root is
    never on chain without it). Until the batch is, the registry's status of the document says nothing of its
    revocations: the next check sent it again, the registry refused it as already revoked, and so every round
    failed from then on, before anchoring anything. A revocation the registry already holds is kept as held."""
    issuer = client(consortium, tmp_path)
    issuer.issue(deposit_certificates(consortium, 2))
    [batch_id] = issuer.seal(10)
    [batch] = [b for b in issuer.journal.batches("BNUMMOMX", BatchState.SEALED) if b.id == batch_id]
    (_, revoked), _ = issuer.journal.batch_documents(batch_id)
    issuer.journal.record_revocation("BNUMMOMX", revoked.digest, batch.root, int(RevocationReason.SUPERSEDED))
    assert issuer.restore_revocations() == 1  # sent before its batch is anchored
    assert issuer.restore_revocations() == 0  # held on chain: not sent again
    issuer.run()  # the batch is anchored: the revocation counts
    [status] = consortium.registry.document_statuses([(consortium.issuer_id, batch.root, revoked.digest)])
    assert status.anchored and status.document_revocation.counts
    assert issuer.restore_revocations() == 0


def test_the_batches_route_reads_the_same_however_many_documents_its_batches_hold(tmp_path: Path) -> None:
    """GET /v1/batches reads a page of batches, each with the document count kept when it was sealed, and counts
    from the batches: beside 20 batches of 1,000 documents as many SQLite steps as beside 20 of one."""
    def page_steps(per_batch: int) -> int:
        journal = Journal(tmp_path / f"journal-{per_batch}.sqlite")
        write_history(journal, per_batch)
        taken = steps(journal, lambda: (journal.batches("BNUMMOMX", *BatchState, limit=101),
                                          journal.counts("BNUMMOMX")))
        assert [b.documents for b in journal.batches("BNUMMOMX", *BatchState, limit=101)] == [per_batch] * 20
        assert journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 20 * per_batch}
        return taken

    small, large = page_steps(1), page_steps(1000)
    assert large < small * 1.2, (small, large)


def test_the_batches_routes_counts_read_one_index_and_one_batch_is_found_by_its_root(tmp_path: Path) -> None:
    """GET /v1/batches counts on every page: from an index of the batches' states and document counts, not their
    rows (at 200,000 batches 52 -> 22 ms). Revoking a batch finds it by its root, not among every batch."""
    journal = Journal(tmp_path / "journal.sqlite")
    write_history(journal, 3)
    db = journal.store._sqlite
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        journal.counts("BNUMMOMX")
        [batch] = journal.batches("BNUMMOMX", *BatchState, limit=1)
        assert journal.batches("BNUMMOMX", *BatchState, root=batch.root) == [batch]
    finally:
        db.set_trace_callback(None)
    counts, found = (next(s for s in statements if word in s) for word in ("GROUP BY state", "root = "))
    with journal.store.lock:
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + counts)]
        assert any("COVERING INDEX batches_counted" in step for step in plan), plan
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + found)]
        assert any("INDEX sqlite_autoindex_batches" in step for step in plan), plan


def test_an_upgraded_journal_counts_the_documents_its_batches_were_sealed_with(location: Locate) -> None:
    counted = next(i for i, m in enumerate(MIGRATIONS) if "ADD COLUMN documents" in str(m))
    old = Store(location("journal.sqlite"), MIGRATIONS[:counted], kind="journal")  # before batches kept counts
    with old.transaction() as db:
        for batch_id, size in ((1, 2), (2, 3)):
            db.execute("INSERT INTO batches (id, issuer_id, doc_type, hash_alg, root, leaf_count, not_after, state, "
                       "sealed_at) VALUES (?, 'BNUMMOMX', 'DEPCERT', 1, ?, 4, 1, 'sealed', 0)",
                       (batch_id, os.urandom(32)))
            db.executemany("INSERT INTO documents (issuer_id, reference, doc_type, hash_alg, body, digest, batch_id, "
                           "leaf_index, added_at) VALUES ('BNUMMOMX', ?, 'DEPCERT', 1, '{}', ?, ?, ?, 0)",
                           [(f"D-{batch_id}-{i}", os.urandom(32), batch_id, i) for i in range(size)])
    old.close()
    journal = Journal(location("journal.sqlite"))
    assert [b.documents for b in journal.batches("BNUMMOMX", BatchState.SEALED)] == [2, 3]
    assert journal.counts("BNUMMOMX") == {"pending": 0, "sealed": 5}
    with journal.transaction() as db:  # a batch sealed by a replica still running the version before: no count
        db.execute("UPDATE batches SET documents = 0 WHERE id = 2")
    assert [b.documents for b in journal.batches("BNUMMOMX", BatchState.SEALED)] == [2, 3]
    assert journal.counts("BNUMMOMX") == {"pending": 0, "sealed": 5}
    journal.close()


def test_replicas_journalling_and_sealing_one_reference_at_once(consortium: Consortium, tmp_path: Path,
                                                                 postgres_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two issuer replicas on one PostgreSQL journal, each committing between the other's read of a reference and
    its write: the same certificate journalled by both is one document (the second failed as a damaged store), and
    a correction superseding a document the other sealed meanwhile is its next revision, the sealed one left as its
    batch's root holds it (it was overwritten: its bundle no longer led to the root)."""
    c = consortium
    first, second = (client(c, tmp_path, lambda _: postgres_url) for _ in range(2))
    [(reference, certificate)] = deposit_certificates(c, 1)
    corrected = Certificate(certificate.header, {**certificate.claims, "balance_mop": 2000})
    meanwhile: list[Callable[[], object]] = []

    def at_the_write(wrapped: Callable[..., Any]) -> Callable[..., Any]:
        def read_then(*args: Any) -> Any:
            if meanwhile:  # the other replica commits now, in a thread of its own
                other = threading.Thread(target=meanwhile.pop())
                other.start()
                other.join()
            return wrapped(*args)
        return read_then

    monkeypatch.setattr(journal_module, "time", SimpleNamespace(time=at_the_write(time.time)))
    meanwhile.append(lambda: first.issue([(reference, certificate)]))
    [doc_id] = second.issue([(reference, certificate)])
    found = first.journal.find("BNUMMOMX", reference=reference)
    assert found is not None and (found.id, found.revision) == (doc_id, 0)
    sealed = first.journal.documents([doc_id])[0]
    monkeypatch.setattr(journal_module, "_content", at_the_write(journal_module._content))
    meanwhile.append(lambda: first.journal.record_sealed("BNUMMOMX", "DEPCERT", first.hash_alg, sealed.digest,
                                                         certificate.header.not_after, [doc_id], 1))
    [revised] = second.issue([(reference, corrected)], supersede=True)
    [batch] = first.journal.batches("BNUMMOMX", BatchState.SEALED)
    assert [doc.digest for _, doc in first.journal.batch_documents(batch.id)] == [sealed.digest]
    newest = first.journal.find("BNUMMOMX", reference=reference)
    assert newest is not None and (newest.id, newest.revision) == (revised, 1) and revised != doc_id
    for replica in (first, second):
        replica.journal.close()
    empty(postgres_url)


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_crash_at_every_step_loses_nothing_and_doubles_nothing(
    consortium: Consortium, new_roots: NewRoots, tmp_path: Path, location: Locate, point: str,
) -> None:
    c = consortium

    def crash_at(p: str) -> None:
        if p == point:
            raise Crash(p)

    certs = deposit_certificates(c, 250)
    first = client(c, tmp_path, location, faults=crash_at)
    first.issue(certs)
    with pytest.raises(Crash):
        first.run(max_batch=100)
    first.journal.close()

    restarted = client(c, tmp_path, location)
    restarted.issue(certs)  # the caller retries its whole input: nothing is doubled
    restarted.run(max_batch=100)
    roots = new_roots()
    assert len(roots) == len(set(roots)) == 3
    files = check_all_delivered(c, restarted, [ref for ref, _ in certs])
    assert restarted.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 250}

    # Delivering again writes byte-identical bundles: salts and order live in the journal.
    for b in restarted.journal.batches("BNUMMOMX", BatchState.DELIVERED):
        restarted.journal.record_anchored(b.id, b.anchored_at or 0, b.anchor_block, b.anchor_block_hash)
    restarted.deliver()
    assert check_all_delivered(c, restarted, [ref for ref, _ in certs]) == files


def test_node_refusing_keeps_the_batch_and_a_retry_anchors_it_once(
    consortium: Consortium, new_roots: NewRoots, tmp_path: Path, location: Locate, monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = consortium
    issuer = client(c, tmp_path, location)
    issuer.issue(deposit_certificates(c, 40))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(JsonRpc, "send", refuse)  # every broadcast
    with pytest.raises(NodeUnavailable):
        issuer.run()
    assert [b.state for b in issuer.journal.batches("BNUMMOMX", *BatchState)] == [BatchState.SIGNED]
    monkeypatch.undo()
    assert len(issuer.run().delivered) == 40
    assert len(new_roots()) == 1


def test_receipt_timeout_then_reconcile_does_not_resend(
    consortium: Consortium, new_roots: NewRoots, tmp_path: Path, location: Locate, monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = consortium
    issuer = client(c, tmp_path, location, receipt_timeout=0.3)
    issuer.issue(deposit_certificates(c, 10))

    def slow(*args: Any, **kwargs: Any) -> Any:
        raise TransactionNotFound("no receipt yet")

    monkeypatch.setattr(c.w3.eth, "get_transaction_receipt", slow)
    with pytest.raises(ReceiptTimeout):
        issuer.run()
    monkeypatch.undo()
    report = issuer.run()
    assert (report.transactions, report.anchored, len(report.delivered)) == (0, 1, 10)
    assert len(new_roots()) == 1


def test_failed_issue_commits_nothing(consortium: Consortium, tmp_path: Path, location: Locate) -> None:
    c = consortium
    issuer = client(c, tmp_path, location)
    mixed = deposit_certificates(c, 3) + deposit_certificates(c, 1, issuer="ICBKMOMX")
    with pytest.raises(ValueError, match="ICBKMOMX"):
        issuer.issue(mixed)
    for bad in ("bad reference!", "DEP-1\n"):
        with pytest.raises(JournalError):
            issuer.issue([(bad, deposit_certificates(c, 1)[0][1])])
    assert issuer.journal.counts("BNUMMOMX") == {"pending": 0}


def test_operator_relaying_for_two_issuers_keeps_them_apart(consortium: Consortium, tmp_path: Path,
                                                            location: Locate) -> None:
    c = consortium
    other_key = labelled_test_key("ICBC signing key")
    admit_issuer(c, "ICBKMOMX", c.outsider, [other_key], ["DEPCERT"])
    bnu = client(c, tmp_path, location)
    icbc = IssuerClient(c.registry, "ICBKMOMX", other_key, c.macao_operator, bnu.journal, tmp_path / "bundles")
    for start in (0, 50):
        bnu.issue(deposit_certificates(c, 50, start=start))
        icbc.issue(deposit_certificates(c, 50, issuer="ICBKMOMX", start=start))
    assert bnu.run(max_batch=60).anchored == 2
    assert icbc.journal.counts("ICBKMOMX") == {"pending": 100}
    assert icbc.run(max_batch=60).anchored == 2
    for issuer, expected in ((bnu, c.issuer_id), (icbc, b"ICBKMOMX\0\0\0")):
        bundles = [load_bundle(p.read_bytes()) for p in (tmp_path / "bundles" / issuer.issuer_id).iterdir()]
        assert len(bundles) == 100 and {b.header.issuer_id for b in bundles} == {issuer.issuer_id}
        statuses = c.registry.document_statuses([(expected, b.proof.batch_root, b.document_digest()) for b in bundles])
        assert {s.issuer_id for s in statuses} == {expected} and all(s.anchored for s in statuses)


def test_partial_batches_wait_for_their_age(consortium: Consortium, tmp_path: Path, location: Locate) -> None:
    issuer = client(consortium, tmp_path, location)
    issuer.issue(deposit_certificates(consortium, 30))
    assert issuer.seal(max_batch=20, max_age=3600) != []  # the full batch of 20 goes
    assert issuer.journal.counts("BNUMMOMX")["pending"] == 10  # the 10 wait for an hour or a full batch
    assert len(issuer.seal(max_batch=20, max_age=0)) == 1


def test_rotation_revocation_and_compromise(consortium: Consortium, tmp_path: Path, location: Locate) -> None:
    c = consortium
    issuer = client(c, tmp_path, location, sender=c.issuer_admin)
    issuer.issue(deposit_certificates(c, 5))
    issuer.run()
    old_key = c.signing_key
    issuer.rotate_key(labelled_test_key("BNU rotated key"))
    issuer.issue(deposit_certificates(c, 5, start=5))
    issuer.run()
    latest = load_bundle(issuer.bundle_path("BNUMMOMX-000007").read_bytes())
    status = c.registry.document_status(c.issuer_id, latest.proof.batch_root, latest.document_digest())
    assert status.signing_key == labelled_test_key("BNU rotated key").address
    with pytest.raises(RegistryKeyRetired):
        c.anchor(Web3.keccak(text="late"), signer=old_key)

    issuer.revoke_document(latest.document_digest(), RevocationReason.SUPERSEDED)
    revocation = c.registry.document_status(c.issuer_id, latest.proof.batch_root, latest.document_digest())
    assert revocation.document_revocation.reason == RevocationReason.SUPERSEDED
    since = c.now()
    issuer.report_compromised(issuer.signer.address, since)
    assert c.registry.call(lambda f: f.signingKey(issuer.signer.address))[3] == since


def test_signed_revocation_relayed_by_an_operator(consortium: Consortium, tmp_path: Path, location: Locate) -> None:
    from crossverify import OperatorClient

    c = consortium
    issuer = client(c, tmp_path, location)
    issuer.issue(deposit_certificates(c, 3))
    bundle = load_bundle(issuer.run().delivered[0].read_bytes())
    request, signature = issuer.signed_revocation(bytes(32), bundle.document_digest(), RevocationReason.FRAUD)
    OperatorClient(c.registry, c.guangdong_operator).relay_revocation(request, signature)
    status = c.registry.document_status(c.issuer_id, bundle.proof.batch_root, bundle.document_digest())
    assert status.document_revocation.reason == RevocationReason.FRAUD
    assert status.document_revocation.signing_key == c.signing_key.address


def test_a_journal_read_waits_for_another_threads_write_and_never_sees_it_half_done(tmp_path: Path) -> None:
    """A service's threads share one SQLite connection: a read that did not wait for a write transaction another
    thread holds open would see its rows before they are committed, or after they are rolled back."""
    journal = Journal(tmp_path / "journal.sqlite")
    inside, release = threading.Event(), threading.Event()

    def written_then_rolled_back() -> None:
        with contextlib.suppress(Crash), journal.transaction() as db:
            db.execute("INSERT INTO documents (issuer_id, reference, doc_type, hash_alg, body, digest, added_at) "
                       "VALUES ('BNUMMOMX', 'D-1', 'DEPCERT', 1, '{}', ?, 0)", (os.urandom(32),))
            inside.set()
            release.wait(10)
            raise Crash("rolled back")

    writer = threading.Thread(target=written_then_rolled_back)
    writer.start()
    assert inside.wait(10)
    seen: list[Any] = []
    reader = threading.Thread(target=lambda: seen.append((
        journal.pending("BNUMMOMX"), journal.counts("BNUMMOMX"), journal.find("BNUMMOMX", reference="D-1"))))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive()  # waiting for the write to end
    release.set()
    writer.join(10)
    reader.join(10)
    assert seen == [([], {"pending": 0}, None)]
    journal.close()
