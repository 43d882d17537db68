"""The challenge store: single use, durable, and atomic when many presentations race for one challenge (on SQLite
and on PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from crossverify.errors import ChallengeError
from crossverify.verifier.challenges import ANSWERS_KEPT, MAX_CHALLENGE_TTL, ChallengeStore, Consumed

from ..postgres import Locate
from ..sqlite_steps import counted

NOW = 1_790_000_000
BANK = "ICBKCNBJGDG"


def test_a_challenge_is_consumed_once_and_survives_a_restart(location: Locate) -> None:
    store = ChallengeStore(location("c.sqlite"), BANK)
    challenge = store.issue("ACCTOPEN", NOW, ttl=300)
    assert (challenge.aud, challenge.purpose, challenge.expires_at) == (BANK, "ACCTOPEN", NOW + 300)
    store.close()
    reopened = ChallengeStore(location("c.sqlite"), BANK)
    assert reopened.consume(challenge.nonce, "ACCTOPEN", NOW + 10) is Consumed.FRESH
    assert reopened.consume(challenge.nonce, "ACCTOPEN", NOW + 11) is Consumed.USED


def test_what_consuming_finds(location: Locate) -> None:
    store = ChallengeStore(location("c.sqlite"), BANK)
    challenge = store.issue("ACCTOPEN", NOW, ttl=300)
    assert store.consume(bytes(32), "ACCTOPEN", NOW) is Consumed.UNKNOWN
    assert store.consume(challenge.nonce, "LOAN", NOW) is Consumed.MISMATCH
    assert store.consume(challenge.nonce, "ACCTOPEN", NOW + 300) is Consumed.EXPIRED
    other_bank = ChallengeStore(location("c.sqlite"), "BKCHCNBJ45A")  # one file shared by two banks' ids
    assert other_bank.consume(challenge.nonce, "ACCTOPEN", NOW) is Consumed.MISMATCH
    assert store.consume(challenge.nonce, "ACCTOPEN", NOW + 299) is Consumed.FRESH


def test_a_challenge_is_released_only_by_the_batch_that_consumed_it_and_gave_no_verdict(location: Locate) -> None:
    """Released: consumed by the batch that names its mark, no answer recorded; then it can be consumed again. Not
    released: consumed by another batch (in the same second too), unmarked, answered (a verdict was given), or
    another bank's."""
    store = ChallengeStore(location("c.sqlite"), BANK)
    released, later, unmarked, answered, theirs = (store.issue("ACCTOPEN", NOW) for _ in range(5))
    mine, other = b"\x01" * 16, b"\x02" * 16
    assert store.consume_many([(c.nonce, "ACCTOPEN", None) for c in (released, answered, theirs)], NOW + 5,
                              mine) == [Consumed.FRESH] * 3
    assert store.consume_many([(later.nonce, "ACCTOPEN", None)], NOW + 5, other) == [Consumed.FRESH]
    assert store.consume(unmarked.nonce, "ACCTOPEN", NOW + 5) is Consumed.FRESH
    store.record_answer(answered.nonce, '{"valid": true}')
    ChallengeStore(location("c.sqlite"), "BKCHCNBJ45A").release_many([theirs.nonce], mine)
    store.release_many([released.nonce, later.nonce, unmarked.nonce, answered.nonce], mine)
    assert [store.consume(c.nonce, "ACCTOPEN", NOW + 7) for c in (released, later, unmarked, answered, theirs)] == [
        Consumed.FRESH, Consumed.USED, Consumed.USED, Consumed.USED, Consumed.USED]
    store.release_many([released.nonce], mine)  # consumed again, unmarked: the old mark no longer opens it
    assert store.consume(released.nonce, "ACCTOPEN", NOW + 8) is Consumed.USED


def test_purge_forgets_challenges_long_expired_only(location: Locate) -> None:
    store = ChallengeStore(location("c.sqlite"), BANK)
    old, new = store.issue("ACCTOPEN", NOW, ttl=60), store.issue("ACCTOPEN", NOW, ttl=3600)
    assert store.purge(NOW + 61) == 0  # expired, but its record is kept for the clerk a while
    assert store.purge(NOW + 61 + ANSWERS_KEPT) == 1
    assert store.consume(old.nonce, "ACCTOPEN", NOW + 62) is Consumed.UNKNOWN  # still refused
    assert store.consume(new.nonce, "ACCTOPEN", NOW + 62) is Consumed.FRESH


def test_purge_forgets_a_bounded_batch_oldest_first(location: Locate) -> None:
    store = ChallengeStore(location("c.sqlite"), BANK)
    for ttl in (50, 10, 40, 20, 30):
        store.issue("ACCTOPEN", NOW, ttl=ttl)
    later = NOW + 60 + ANSWERS_KEPT
    assert store.purge(later, limit=2) == 2
    left = store.store.db.execute("SELECT expires_at - ? FROM challenges ORDER BY expires_at", (NOW,)).fetchall()
    assert [ttl for (ttl,) in left] == [30, 40, 50]  # those that expired first went first
    assert [store.purge(later, limit=2) for _ in range(3)] == [2, 1, 0]


def test_replicas_purging_at_once_forget_each_challenge_once(location: Locate) -> None:
    replicas = [ChallengeStore(location("c.sqlite"), BANK) for _ in range(2)]
    with replicas[0].store.transaction() as db:
        db.executemany("INSERT INTO challenges (nonce, aud, purpose, issued_at, expires_at) VALUES "
                       "(?, ?, 'ACCTOPEN', ?, ?)", [(os.urandom(32), BANK, NOW, NOW + 60) for _ in range(2_000)])
    forgotten = [0, 0]

    def purge(i: int) -> None:
        while n := replicas[i].purge(NOW + 61 + ANSWERS_KEPT, limit=100):
            forgotten[i] += n

    threads = [threading.Thread(target=purge, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(forgotten) == 2_000 and replicas[0].purge(NOW + 61 + ANSWERS_KEPT) == 0


def test_the_outbox_round_s_reads_do_the_same_work_beside_a_long_history(tmp_path: Path) -> None:
    """Purging one old challenge handed over, and finding the answers whose receipts are not queued, take SQLite as
    many steps beside 20,000 answered challenges handed over as beside none (both run every second in a bank's
    service)."""

    def steps(history: int) -> int:
        store = ChallengeStore(tmp_path / f"c-{history}.sqlite", BANK)
        with store.store.transaction() as db:
            nonces = [os.urandom(32) for _ in range(history)]
            db.executemany("INSERT INTO challenges (nonce, aud, purpose, issued_at, expires_at, used_at) VALUES "
                           "(?, ?, 'ACCTOPEN', ?, ?, ?)", [(n, BANK, NOW, NOW + 600, NOW + 1) for n in nonces])
            db.executemany("INSERT INTO challenge_answers (nonce, verdict, receipt, receipt_queued) VALUES "
                           "(?, '{}', ?, 1)", [(n, b"\x04") for n in nonces])
            db.executemany("INSERT INTO challenge_codes (code_hash, nonce) VALUES (?, ?)",
                           [(os.urandom(32), n) for n in nonces])
        store.hand_over(store.issue("ACCTOPEN", NOW - ANSWERS_KEPT - 120, ttl=60))
        found, steps_taken = counted(store.store.db, lambda: (store.purge(NOW + 1), store.unqueued_receipts()))
        assert found == (1, [])
        store.close()
        return steps_taken

    alone, beside_history = steps(0), steps(20_000)
    assert beside_history < alone * 1.2 + 10, (alone, beside_history)


def test_a_hand_over_code_reads_the_open_challenge_only(location: Locate) -> None:
    store = ChallengeStore(location("c.sqlite"), BANK)
    challenge = store.issue("ACCTOPEN", NOW, ttl=300)
    code = store.hand_over(challenge)
    assert len(code) == 11 and code[5] == "-"
    assert store.by_code(code, NOW + 1) == challenge
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")  # as a resident may type it
    assert store.by_code(typed, NOW + 1) == challenge
    stored = store.store.db.execute("SELECT code_hash FROM challenge_codes").fetchall()
    assert [len(row[0]) for row in stored] == [32]
    if store.store.path is not None:
        assert code.encode() not in store.store.path.read_bytes()
    with pytest.raises(ChallengeError, match="no challenge has this code"):
        store.by_code("ZZZZZ-ZZZZZ", NOW)
    with pytest.raises(ChallengeError, match="no challenge has this code"):
        ChallengeStore(location("c.sqlite"), "BKCHCNBJ45A").by_code(code, NOW)  # another bank's
    with pytest.raises(ChallengeError, match="expired"):
        store.by_code(code, NOW + 300)
    assert store.hand_over_state(code, NOW + 1) == ("open", challenge, None, None)
    assert store.consume(challenge.nonce, "ACCTOPEN", NOW + 2) is Consumed.FRESH
    with pytest.raises(ChallengeError, match="answered already"):
        store.by_code(code, NOW + 3)
    store.record_answer(challenge.nonce, '{"valid": true}')
    store.record_answer(challenge.nonce, '{"valid": false}')  # the first answer stands
    assert store.hand_over_state(code, NOW + 3) == ("answered", challenge, '{"valid": true}', None)
    assert store.hand_over_state("ZZZZZ-ZZZZZ", NOW) is None
    assert store.purge(NOW + 301) == 0  # the clerk still reads the verdict
    assert store.hand_over_state(code, NOW + 301)[0] == "answered"  # type: ignore[index]
    assert store.purge(NOW + 301 + ANSWERS_KEPT) == 1
    for table in ("challenge_codes", "challenge_answers"):
        assert store.store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0


@pytest.mark.parametrize(("purpose", "ttl"), [("", 60), ("account opening", 60), ("ACCTOPEN", 0),
                                              ("ACCTOPEN", MAX_CHALLENGE_TTL + 1)])
def test_bad_challenges_are_not_issued(location: Locate, purpose: str, ttl: int) -> None:
    store = ChallengeStore(location("c.sqlite"), BANK)
    with pytest.raises(ChallengeError):
        store.issue(purpose, NOW, ttl)
    assert store.store.db.execute("SELECT COUNT(*) FROM challenges").fetchone()[0] == 0


def test_racing_threads_consume_a_challenge_once(location: Locate) -> None:
    nonce = ChallengeStore(location("c.sqlite"), BANK).issue("ACCTOPEN", NOW).nonce
    barrier = threading.Barrier(8)
    results: list[Consumed] = []

    def present() -> None:
        store = ChallengeStore(location("c.sqlite"), BANK)  # one connection per thread, as per server worker
        barrier.wait()
        results.append(store.consume(nonce, "ACCTOPEN", NOW + 1))

    threads = [threading.Thread(target=present) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted([Consumed.FRESH] + [Consumed.USED] * 7)


def _consume_in_process(path: str, nonce: bytes, start: multiprocessing.synchronize.Barrier,
                        results: multiprocessing.queues.Queue[str]) -> None:
    store = ChallengeStore(path, BANK)
    start.wait()  # every process holds its own connection before any consumes
    results.put(store.consume(nonce, "ACCTOPEN", NOW + 1).value)


def test_racing_processes_consume_a_challenge_once(location: Locate) -> None:
    path = str(location("c.sqlite"))
    nonce = ChallengeStore(path, BANK).issue("ACCTOPEN", NOW).nonce
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_consume_in_process, args=(path, nonce, start, results)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(results.get(timeout=10) for _ in workers) == ["fresh", "used", "used", "used"]


def _issue_in_process(path: str, start: multiprocessing.synchronize.Barrier,
                      results: multiprocessing.queues.Queue[str]) -> None:
    start.wait()  # every worker opens the fresh file at once
    results.put(ChallengeStore(path, BANK).issue("ACCTOPEN", NOW).nonce.hex())


def test_workers_open_a_fresh_store_at_once(location: Locate) -> None:
    path = str(location("fresh.sqlite"))
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_issue_in_process, args=(path, start, results)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    nonces = {bytes.fromhex(results.get(timeout=10)) for _ in workers}
    store = ChallengeStore(path, BANK)
    assert len(nonces) == 4 and all(store.consume(n, "ACCTOPEN", NOW + 1) is Consumed.FRESH for n in nonces)
