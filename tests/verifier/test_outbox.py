"""Sealed receipts through the outbox: each recorded exactly once, across retries, crashes and a node that is down."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from crossverify import Bundle, VerifierClient
from crossverify.chain.circulation import CirculationContract
from crossverify.chain.connection import JsonRpc
from crossverify.chain.records import ProposalKind, Role
from crossverify.errors import (
    NodeUnavailable,
    NotSealedToThisKey,
    ReceiptsUnsettled,
    SealingError,
    StoreChainMismatch,
    StoreLocked,
)
from crossverify.sealing import Receipt, SealedReceipt, open_sealed
from crossverify.store import Location
from crossverify.verifier import outbox as outbox_module
from crossverify.verifier.outbox import FAULT_POINTS, FlushReport, ReceiptOutbox

from ..conftest import Consortium
from ..issuer.test_succession import successor
from ..postgres import Locate
from ..sqlite_steps import counted
from .test_verifier import issued  # noqa: F401 - the fixture


class Crash(Exception):
    """A process dying at a chosen point."""


def recorded(c: Consortium) -> list[bytes]:
    """The commitments of every sealed receipt on chain."""
    return [commitment for _, commitment, _ in c.sealed_receipts()]


def bank(c: Consortium, path: Location, **kwargs: object) -> VerifierClient:
    return VerifierClient(c.registry, sender=c.verifier, outbox=ReceiptOutbox(path, **kwargs),  # type: ignore[arg-type]
                          circulation=c.circulation)


def test_a_retried_command_records_each_receipt_once(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                      location: Locate) -> None:
    c = consortium
    before = len(recorded(c))
    client = bank(c, location("outbox.sqlite"))
    reports = client.verify_many(issued)
    first = client.record(reports, "ACCTOPEN")
    again = client.record(reports, "ACCTOPEN")
    assert (first.recorded, first.transactions, again.recorded, again.transactions) == (8, 1, 0, 0)
    assert again.commitments == first.commitments  # the receipt references stay what they were
    assert recorded(c)[before:] == list(first.commitments)
    opened = c.opened_receipts()[before:]
    assert [r.document_digest for r in opened] == [r.document_digest for r in reports]
    assert {r.purpose for r in opened} == {"ACCTOPEN"} and not any(r.consented for r in opened)  # bare bundles
    assert client.record(reports[:2], "ACCTOPEN", reference="LOAN-2027-001").recorded == 2  # a new case
    assert client.outbox is not None and client.outbox.counts() == {"recorded": 10}
    assert client.outbox.state(first.commitments[0])["state"] == "recorded"  # type: ignore[index]


def test_receipts_queued_together_each_under_its_own_case(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                          location: Locate) -> None:
    """One transaction queues receipts each under its own case (a bank's service queues a batch's at once): each
    is kept once per document, purpose and case, the earlier receipt's commitment answered for one queued before,
    and where each stands is read at once."""
    client = bank(consortium, location("outbox.sqlite"))
    outbox = client.outbox
    assert outbox is not None
    reports = client.verify_many(issued[:3])
    receipts = client.receipts([*reports, reports[0]], "ACCTOPEN")
    [earlier] = outbox.enqueue(receipts[:1], "C-1")
    commitments = outbox.enqueue(receipts, ["C-1", "C-2", "C-3", "C-4"])
    assert commitments[0] == earlier and len(set(commitments)) == 4  # the same document under C-4: a receipt of its own
    assert outbox.store.db.execute("SELECT reference FROM sealed_receipts ORDER BY reference").fetchall() == \
        [("C-1",), ("C-2",), ("C-3",), ("C-4",)]
    states = outbox.states([commitments[2], b"\x00" * 32, commitments[2]])
    assert states[0] == states[2] == outbox.state(commitments[2]) and states[1] is None
    assert states[0] == {"commitment": "0x" + commitments[2].hex(), "state": "queued", "transaction": None,
                         "block": None, "final": False}
    with pytest.raises(ValueError, match="2 references for 4 receipts"):
        outbox.enqueue(receipts, ["C-5", "C-6"])
    assert outbox.counts() == {"queued": 4}  # nothing of a refused call
    many = client.receipts(reports * 150, "ACCTOPEN")  # read back in more than one query
    cases = [f"M-{i}" for i in range(len(many))]
    assert outbox.enqueue(many, cases) == [r.commitment() for r in many]
    assert outbox.enqueue(client.receipts(reports * 150, "ACCTOPEN"), cases) == [r.commitment() for r in many]


def test_replicas_queuing_the_same_receipts_in_opposite_orders_both_succeed(location: Locate) -> None:
    """Two replicas queue the same receipts at once, each batch in its own order (on PostgreSQL they take the rows'
    locks crosswise, and the server ends one transaction as a deadlock's victim): the victim runs again once the
    other committed, so neither is refused, each receipt is kept once, and both learn the same commitments."""
    replicas = [ReceiptOutbox(location("outbox.sqlite")) for _ in range(2)]
    failures: list[Exception] = []
    answers: dict[int, list[bytes]] = {}

    def queue(n: int, batch: list[tuple[Receipt, str]], together: threading.Barrier) -> None:
        together.wait()
        try:
            kept = replicas[n].enqueue([r for r, _ in batch], [case for _, case in batch])
            answers[n] = kept if n == 0 else kept[::-1]
        except Exception as exc:
            failures.append(exc)

    for round_ in range(3):
        keys = [(bytes([round_, i]) * 16, f"CASE-{round_}-{i}") for i in range(200)]
        batches = [[(Receipt.new(digest, "BNUMMOMX", "DEPCERT", b"\x01" * 32, "ACCTOPEN", 1_790_000_000), case)
                    for digest, case in order] for order in (keys, keys[::-1])]
        together = threading.Barrier(2)
        threads = [threading.Thread(target=queue, args=(n, batch, together)) for n, batch in enumerate(batches)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures and answers[0] == answers[1], failures
    assert replicas[0].counts() == {"queued": 600}
    for outbox in replicas:
        outbox.close()


def test_a_second_recorder_waits_for_a_flush_in_progress_as_long_as_for_a_receipt(
        consortium: Consortium, issued: list[Bundle], tmp_path: Path) -> None:  # noqa: F811
    """Another process flushing the same outbox is waited for up to ``[network] receipt_timeout`` (it waits on one
    receipt at a time): released in time, this one's receipts go; held longer, the holder is named and the receipts
    stay queued for the next flush."""
    c = consortium
    outbox = ReceiptOutbox(tmp_path / "outbox.sqlite")
    client = VerifierClient(c.registry, sender=c.verifier, outbox=outbox, circulation=c.circulation,
                            receipt_timeout=0.5)
    reports = client.verify_many(issued[:2])
    other = ReceiptOutbox(tmp_path / "outbox.sqlite")  # as another process: its own lock file handle
    with other.store.exclusively("receipt sending"):
        started = time.monotonic()
        with pytest.raises(StoreLocked, match=r"receipt sending .* runs in process"):
            client.record(reports, "ACCTOPEN")
        assert 0.5 <= time.monotonic() - started < 30  # bounded by the configured timeout, not a fixed one
    assert outbox.counts() == {"queued": 2}
    held, release = threading.Event(), threading.Event()

    def flushing() -> None:
        with other.store.exclusively("receipt sending"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=flushing)
    holder.start()
    held.wait(10)
    threading.Timer(0.2, release.set).start()
    client.receipt_timeout = 30.0
    assert client.record(reports, "ACCTOPEN").recorded == 2  # waited for the holder, then sent
    holder.join()
    other.close()


def test_a_flush_reads_no_receipt_another_thread_has_not_committed(
        consortium: Consortium, issued: list[Bundle], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A bank's service queues receipts on its request threads while its outbox worker flushes, over one SQLite
    connection: a flush that read a receipt another thread was still queuing, which then rolled back, sealed it
    with the others, found it gone when it came to journal the transaction, and sent none of them (``StoreLocked``,
    as if another sender had taken them)."""
    c = consortium
    client = bank(c, tmp_path / "outbox.sqlite")
    outbox = client.outbox
    assert outbox is not None
    kept, rolled_back = client.receipts(client.verify_many(issued[:2]), "ACCTOPEN")
    outbox.enqueue([kept])
    inside, release = threading.Event(), threading.Event()

    def queued_then_rolled_back() -> None:
        with contextlib.suppress(Crash), outbox.store.transaction() as db:
            db.execute("INSERT INTO sealed_receipts (commitment, plaintext, document_digest, purpose, reference, "
                       "state) VALUES (?, ?, ?, 'ACCTOPEN', '', 'queued')",
                       (rolled_back.commitment(), rolled_back.plaintext(), rolled_back.document_digest))
            inside.set()
            release.wait(10)
            raise Crash("rolled back")

    writer = threading.Thread(target=queued_then_rolled_back)
    recheck = outbox._recheck

    def then_queue_meanwhile(contract: object) -> None:  # the flush has begun: the other thread queues now
        recheck(contract)  # type: ignore[arg-type]
        if not writer.is_alive() and not inside.is_set():
            writer.start()
            assert inside.wait(10)
            threading.Timer(0.3, release.set).start()

    monkeypatch.setattr(outbox, "_recheck", then_queue_meanwhile)
    before = len(recorded(c))
    assert outbox.flush(c.circulation, c.verifier) == FlushReport(0, 1, 1)
    writer.join(10)
    assert recorded(c)[before:] == [kept.commitment()]
    assert outbox.counts() == {"recorded": 1}


def test_receipts_queued_before_a_key_change_are_sealed_to_the_new_keys(
        consortium: Consortium, issued: list[Bundle], location: Locate) -> None:  # noqa: F811
    from ..conftest import labelled_regulator_key

    c = consortium
    client = bank(c, location("outbox.sqlite"))
    assert client.outbox is not None
    [commitment] = client.outbox.enqueue(client.receipts(client.verify_many(issued[:1]), "LOAN"))
    new_keys = [labelled_regulator_key("AMCM 2027"), labelled_regulator_key("PBoC 2027")]
    c.set_regulator_keys(new_keys, ["MO", "GD"])
    before = len(recorded(c))
    client.outbox.flush(c.circulation, c.verifier)
    [(_, on_chain, batch)] = c.sealed_receipts()[before:]
    assert on_chain == commitment
    assert open_sealed(SealedReceipt(commitment, batch.sealed), new_keys[1]).purpose == "LOAN"
    with pytest.raises(NotSealedToThisKey):
        open_sealed(SealedReceipt(commitment, batch.sealed), c.regulator_keys[0])


def test_receipts_queued_by_an_older_version_ride_in_batches_of_their_own(
        consortium: Consortium, issued: list[Bundle], location: Locate) -> None:  # noqa: F811
    """A version 1 receipt still queued after an upgrade is recorded as it was made (its commitment is the bank's
    reference), in its own envelope: a batch's receipts share one version."""
    c = consortium
    client = bank(c, location("outbox.sqlite"))
    assert client.outbox is not None
    new, *_ = client.receipts(client.verify_many(issued[:1]), "LOAN", in_person_case="LOAN-9")
    old = Receipt.from_plaintext(b"\x01" + new.document_digest + new.plaintext()[33:44] + b"KYC\0\0\0\0\0"
                                 + bytes(32) + new.plaintext()[125:])
    client.outbox.enqueue([old], "KYC-1")
    client.outbox.enqueue([new], "LOAN-9")
    before = len(recorded(c))
    assert client.outbox.flush(c.circulation, c.verifier).transactions == 2
    assert c.opened_receipts()[before:] == [old, new]


def test_a_flush_does_the_same_work_however_many_receipts_were_recorded_before(
        consortium: Consortium, issued: list[Bundle], tmp_path: Path) -> None:  # noqa: F811
    """A flush finds what it settles through indexes: recording a batch beside 20,000 receipts recorded and final
    long ago takes SQLite as many steps as beside none (a round used to scan the whole table several times)."""
    c = consortium

    def steps(history: int) -> int:
        client = bank(c, tmp_path / f"outbox-{history}.sqlite")
        reports = client.verify_many(issued)
        assert client.outbox is not None and client.record(reports[:2], "ACCTOPEN").recorded == 2
        store = client.outbox.store
        (block,) = store.db.execute("SELECT DISTINCT block FROM sealed_receipts").fetchone()
        with store.transaction() as db:  # older receipts, in older blocks: the newest final one stays the chain's
            db.executemany("INSERT INTO sealed_receipts (commitment, plaintext, document_digest, purpose, reference, "
                           "state, tx_hash, block, block_hash, final) VALUES (?, ?, ?, 'ACCTOPEN', '', 'recorded', ?, "
                           "?, ?, 1)", [(os.urandom(32), b"\x04", os.urandom(32), os.urandom(32), i * block // history,
                                         os.urandom(32)) for i in range(history)])
        report, steps_taken = counted(store.db, lambda: client.record(reports[2:], "ACCTOPEN"))
        assert (report.recorded, report.transactions) == (len(reports) - 2, 1)
        return steps_taken

    alone, beside_history = steps(0), steps(20_000)
    assert beside_history < alone * 1.2, (alone, beside_history)


def test_a_flush_sends_its_transactions_before_it_waits_for_them(
        consortium: Consortium, issued: list[Bundle], location: Locate,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A flush sends a wave of transactions, then waits for them: a chain that mines a block every few seconds
    takes the wave in one block (one transaction at a time recorded at most RECEIPTS_PER_TX receipts a block)."""
    c = consortium
    monkeypatch.setattr(outbox_module, "RECEIPTS_PER_TX", 2)
    monkeypatch.setattr(outbox_module, "TXS_IN_FLIGHT", 3)
    steps: list[str] = []
    submit, wait = CirculationContract.submit, CirculationContract.wait
    monkeypatch.setattr(CirculationContract, "submit",
                        lambda self, *a, **k: steps.append("send") or submit(self, *a, **k))
    monkeypatch.setattr(CirculationContract, "wait", lambda self, *a, **k: steps.append("wait") or wait(self, *a, **k))
    before = len(recorded(c))
    client = bank(c, location("outbox.sqlite"))
    report = client.record(client.verify_many(issued), "ACCTOPEN")  # 8 receipts: 4 transactions
    assert (report.recorded, report.transactions) == (8, 4)
    assert steps == ["send"] * 3 + ["wait"] * 3 + ["send", "wait"]
    assert recorded(c)[before:] == list(report.commitments)


@pytest.mark.parametrize("case", ["LOAN\x002027", "x" * 129, "".join(chr(0x4e00 + i) for i in range(2000))])
def test_a_case_reference_a_database_cannot_key_is_refused_by_name(location: Locate, case: str) -> None:
    """A case reference is printable text of at most 128 characters: PostgreSQL's text holds no NUL (the queue
    failed as a store 'not the crossverify store this version expects') and its unique index no key over 2,704
    bytes (it failed as a database that 'cannot be reached … retried', for ever); SQLite took both."""
    outbox = ReceiptOutbox(location("outbox.sqlite"))
    with pytest.raises(SealingError, match="case reference is at most 128 printable characters"):
        outbox.enqueue([Receipt.new(os.urandom(32), "BNUMMOMX", "DEPCERT", os.urandom(32), "ACCTOPEN", 1)], case)
    assert outbox.counts() == {}
    outbox.close()


def test_a_flush_sends_what_was_queued_when_it_began(consortium: Consortium, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A flush reads the queue a wave at a time, up to what was queued when it began: a receipt queued meanwhile
    waits for the next flush (a bank verifying without pause would otherwise keep one flush going for ever)."""
    c = consortium
    monkeypatch.setattr(outbox_module, "RECEIPTS_PER_TX", 2)
    monkeypatch.setattr(outbox_module, "TXS_IN_FLIGHT", 2)

    def receipt() -> Receipt:
        return Receipt.new(os.urandom(32), "BNUMMOMX", "DEPCERT", os.urandom(32), "ACCTOPEN", 1_790_000_000)

    late = receipt()
    outbox = ReceiptOutbox(tmp_path / "outbox.sqlite", faults=lambda at: at == "after_send" and outbox.enqueue([late]))
    outbox.enqueue([receipt() for _ in range(7)])
    first = outbox.flush(c.circulation, c.verifier)
    assert (first.recorded, first.transactions) == (7, 4)
    assert outbox.state(late.commitment())["state"] == "queued"  # type: ignore[index]
    assert outbox.flush(c.circulation, c.verifier).recorded == 1
    outbox.close()


def test_a_transaction_claims_its_receipts_by_their_key(consortium: Consortium, tmp_path: Path) -> None:
    """Each transaction claims its receipts by commitment, under the outbox's lock: by the index of states, which
    SQLite chose for 200 of them, the claim walked every queued receipt (500,000 queued behind a slow chain:
    157 ms a transaction, while every receipt request waited for the lock)."""
    c = consortium
    outbox = ReceiptOutbox(tmp_path / "outbox.sqlite")
    outbox.enqueue([Receipt.new(os.urandom(32), "BNUMMOMX", "DEPCERT", os.urandom(32), "ACCTOPEN", 1_790_000_000)
                    for _ in range(250)])
    db = outbox.store._sqlite
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        assert outbox.flush(c.circulation, c.verifier).recorded == 250
    finally:
        db.set_trace_callback(None)
    claims = [s for s in statements if s.startswith("SELECT state FROM sealed_receipts WHERE commitment IN")]
    assert len(claims) == 2
    with outbox.store.lock:
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + claims[0])]
    assert any("sqlite_autoindex_sealed_receipts" in step for step in plan), plan
    outbox.close()


@pytest.mark.parametrize(("point", "wave", "settled"), [
    *((point, False, 8) for point in FAULT_POINTS),
    ("after_send", True, 2),  # the first send of a wave of three: the others not sent
    ("after_receipt", True, 6),  # at its first receipt: all three sent
])
def test_a_crash_after_sending_neither_loses_nor_doubles(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                         location: Locate, monkeypatch: pytest.MonkeyPatch,
                                                         point: str, wave: bool, settled: int) -> None:
    """Killed at each point of a flush, in one transaction or in a wave of three (two receipts each): the restart
    settles what was sent and sends the rest, each receipt once."""
    c = consortium
    if wave:
        monkeypatch.setattr(outbox_module, "RECEIPTS_PER_TX", 2)
        monkeypatch.setattr(outbox_module, "TXS_IN_FLIGHT", 3)
    before = len(recorded(c))

    def crash(at: str) -> None:
        if at == point:
            raise Crash(at)

    first = bank(c, location("outbox.sqlite"), faults=crash)
    with pytest.raises(Crash):
        first.record(first.verify_many(issued), "LOAN")
    assert first.outbox is not None
    first.outbox.close()

    restarted = bank(c, location("outbox.sqlite"))
    report = restarted.record(restarted.verify_many(issued), "LOAN")
    assert (report.settled, report.recorded) == (settled, 8 - settled)
    assert len(recorded(c)) == before + 8 and sorted(recorded(c)[before:]) == sorted(report.commitments)


def test_a_node_outage_keeps_the_receipts_queued(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                 location: Locate, monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    before = len(recorded(c))
    client = bank(c, location("outbox.sqlite"))
    reports = client.verify_many(issued)

    def down(*args: object, **kwargs: object) -> bytes:
        raise ConnectionError("node down")

    monkeypatch.setattr(JsonRpc, "send", down)  # every broadcast
    with pytest.raises(NodeUnavailable):
        client.record(reports, "INSCLAIM")
    monkeypatch.undo()
    assert client.outbox is not None and client.outbox.counts() == {"queued": 8}  # nothing reached the node
    report = client.record([], "INSCLAIM")  # the next run settles and sends what is left
    assert (report.settled, report.recorded, report.transactions) == (0, 8, 1)
    assert len(recorded(c)) == before + 8


def test_receipts_a_reorganisation_dropped_are_sent_again_once(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                               location: Locate) -> None:
    """The outbox said "recorded" and never looked again: after the chain went back to before the receipts'
    block, none was on chain. Now recorded receipts are re-checked until final, and what the fork dropped goes
    out again, exactly once."""
    c = consortium
    client = bank(c, location("outbox.sqlite"), confirmations=2)
    assert client.outbox is not None
    reports = client.verify_many(issued[:5])
    fork = c.w3.testing.snapshot()
    first = client.record(reports, "ACCTOPEN")
    assert first.recorded == 5 and not client.outbox.state(first.commitments[0])["final"]  # type: ignore[index]
    c.w3.testing.revert(fork)  # the branch holding the receipts is abandoned, and the node forgets its transaction
    assert not set(first.commitments) & set(recorded(c))
    again = client.record([], "ACCTOPEN")
    assert (again.recorded, again.transactions) == (5, 1)
    assert recorded(c).count(first.commitments[0]) == 1 and set(first.commitments) <= set(recorded(c))
    c.w3.testing.mine(2)
    assert client.record([], "ACCTOPEN").transactions == 0
    state = client.outbox.state(first.commitments[0])
    assert state is not None and state["final"] and state["state"] == "recorded"
    assert sorted(recorded(c)).count(first.commitments[4]) == 1


def test_a_reset_deeper_than_finality_sends_final_receipts_again(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                                 location: Locate) -> None:
    """Final receipts are watched through the newest final block: a network reset that removed it sends them
    back to re-checking, and they are recorded again once."""
    c = consortium
    client = bank(c, location("outbox.sqlite"))
    assert client.outbox is not None
    reports = client.verify_many(issued[:3])
    before_reset = c.w3.testing.snapshot()
    first = client.record(reports, "LOAN")
    assert client.outbox.state(first.commitments[0])["final"]  # type: ignore[index]  # no confirmations asked
    c.w3.testing.revert(before_reset)
    c.w3.testing.mine(3)  # the new chain grows past the old receipts' block
    again = client.record([], "LOAN")
    assert (again.recorded, again.transactions) == (3, 1)
    assert [recorded(c).count(x) for x in first.commitments] == [1, 1, 1]
    assert client.record([], "LOAN").transactions == 0


def next_version(c: Consortium) -> Consortium:
    """The next version of the contracts beside ``c``'s, recording ``c``'s registry as its predecessor, with the
    bank admitted and the regulators' keys set."""
    new = successor(c)
    new.govern(ProposalKind.ADMIT_MEMBER, c.verifier, Role.VERIFIER, bytes(32))
    new.set_regulator_keys(c.regulator_keys, ["MO", "GD"])
    return new


def test_an_outbox_follows_a_recorded_successor_and_sends_each_receipt_once(
        consortium: Consortium, issued: list[Bundle], location: Locate) -> None:  # noqa: F811
    """Moved to the circulation contract of a successor registry, the outbox first waits for what it recorded on
    the old contract to be final (a named refusal meanwhile, nothing sent), then sends what is queued to the new
    contract; nothing is recorded twice, nothing lost."""
    c = consortium
    new = next_version(c)
    before = len(recorded(c))
    client = bank(c, location("outbox.sqlite"), confirmations=3)
    reports = client.verify_many(issued[:4])
    first = client.record(reports[:2], "ACCTOPEN")  # on the old contract, not final yet
    assert client.outbox is not None
    outbox = client.outbox
    later = outbox.enqueue(client.receipts(reports[2:], "ACCTOPEN"))
    with pytest.raises(ReceiptsUnsettled, match=c.circulation.address):
        outbox.flush(new.circulation, c.verifier)
    assert outbox.counts() == {"recorded": 2, "queued": 2} and new.sealed_receipts() == []

    c.w3.testing.mine(3)
    report = outbox.flush(new.circulation, c.verifier)
    assert (report.recorded, report.transactions) == (2, 1)
    assert recorded(c)[before:] == list(first.commitments)  # once each, where they were first recorded
    assert [commitment for _, commitment, _ in new.sealed_receipts()] == later
    binding = outbox.store.binding()
    assert (binding["circulation"], binding["predecessor.1.circulation"]) == (new.circulation.address,
                                                                              c.circulation.address)
    assert outbox.flush(new.circulation, c.verifier) == FlushReport(0, 0, 0)
    assert [outbox.state(x)["final"] for x in first.commitments] == [True, True]  # type: ignore[index]

    unrelated = successor(c, record=False)
    with pytest.raises(StoreChainMismatch):
        outbox.flush(unrelated.circulation, c.verifier)


def test_after_a_rebuilt_network_what_the_old_chain_held_short_of_final_is_sent_to_the_successor(
        consortium: Consortium, issued: list[Bundle], tmp_path: Path) -> None:  # noqa: F811
    """The old chain is gone (another genesis): receipts it held short of final are queued again and recorded on
    the successor with the same commitments; final ones stay as they were."""
    c = consortium
    new = next_version(c)
    client = bank(c, tmp_path / "outbox.sqlite", confirmations=2)
    reports = client.verify_many(issued[:3])
    final = client.record(reports[:1], "ACCTOPEN")
    c.w3.testing.mine(2)
    short = client.record(reports[1:], "ACCTOPEN")  # the first is final now, these two are not
    assert client.outbox is not None
    outbox = client.outbox
    with outbox.store.transaction() as db:  # as if the outbox's chain had been another network, now gone
        db.execute("UPDATE store_binding SET value = ? WHERE key = 'genesis'", ("0x" + "ab" * 32,))
    report = outbox.flush(new.circulation, c.verifier)
    assert (report.recorded, report.transactions) == (2, 1)
    assert [commitment for _, commitment, _ in new.sealed_receipts()] == list(short.commitments)
    assert outbox.state(final.commitments[0])["final"] and outbox.counts() == {"recorded": 3}  # type: ignore[index]
