"""The coalescing verification queue: concurrent requests checked in one batch, on their event loop on a node,
and a batch that fails or is slow."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from crossverify import Certificate, load_presentation, present
from crossverify.errors import NodeTooSlow, NodeUnavailable, TransactionFailed
from crossverify.format.batch import salt_document, seal_batch
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.holder import holder_claim
from crossverify.keys.holder import generate_holder_key
from crossverify.service.workers import VerifyQueue
from crossverify.verifier.challenges import ChallengeStore
from crossverify.verifier.client import Prepared, VerificationReport, VerifierClient

from ..conftest import Consortium, deposit_certificates


class Verifier:
    """Reports each bundle's own text; a batch holding ``b"poison"`` fails with ``error`` (before its reads), one
    holding ``b"poison-read"`` in its reads. Given a time limit, its reads (``complete``) are too slow ``stalls``
    times, the reads of its checks before them (``prepare``: a first batch's chain id, say) ``early_stalls`` times."""

    def __init__(self, error: Exception) -> None:
        self.error, self.calls, self.stalls, self.early_stalls = error, 0, 0, 0
        #: Each batch prepared (its checks but the reads: a presentation's challenge consumed): its bundles, and the
        #: thread that prepared it.
        self.batches: list[tuple[list[bytes], int]] = []
        #: Seconds the next batches take, one per batch.
        self.delays: list[float] = []
        #: Each batch's reads: the thread that made them, and the time limit they were given.
        self.reads: list[tuple[int, float | None]] = []
        #: The bundles of each batch on which no verdict will be given (their challenges opened again).
        self.abandoned: list[list[bytes]] = []
        self._limit = threading.local()

    def verify_many(self, bundles: Sequence[bytes]) -> list[Any]:
        return self.complete(self.prepare(bundles))

    def prepare(self, bundles: Sequence[bytes]) -> Prepared:
        self.calls += 1
        self.batches.append((list(bundles), threading.get_ident()))
        if getattr(self._limit, "seconds", None) is not None and self.early_stalls:
            self.early_stalls -= 1
            raise NodeTooSlow("the node did not answer within the limit")
        if self.delays:
            time.sleep(self.delays.pop(0))
        if b"poison" in bundles:
            raise self.error
        return Prepared([(bundle, [], bundle, None) for bundle in bundles],  # type: ignore[misc]
                        [(b"", b"", bundle) for bundle in bundles])

    def abandon(self, prepared: Prepared) -> None:
        self.abandoned.append([bundle for bundle, _, _, _ in prepared.parsed])

    def complete(self, prepared: Prepared) -> list[Any]:
        limit = getattr(self._limit, "seconds", None)
        self.reads.append((threading.get_ident(), limit))
        if limit is not None and self.stalls:
            self.stalls -= 1
            time.sleep(limit)
            raise NodeTooSlow(f"the node did not answer within {limit:g} s")
        digests = [digest for _, _, digest, _ in prepared.parsed]
        assert [digest for _, _, digest in prepared.triples] == digests  # each document's status read with it
        if b"poison-read" in digests:
            raise self.error
        return [digest.decode() for digest in digests]  # type: ignore[union-attr]

    @contextmanager
    def reads_within(self, seconds: float) -> Iterator[None]:
        self._limit.seconds = seconds
        try:
            yield
        finally:
            self._limit.seconds = None


T = TypeVar("T")


def on_a_loop(scenario: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, int]:
    """``scenario`` run on a new event loop in a thread of its own (the suite's browser tests keep a loop running
    in the main thread), and that thread's id."""
    def run() -> tuple[T, int]:
        return asyncio.run(scenario()), threading.get_ident()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(60)


@pytest.mark.parametrize(("poison", "prepared", "read"), [(b"poison", 4, 2), (b"poison-read", 1, 4)],
                         ids=["before the reads", "in the reads"])
def test_an_input_no_check_foresaw_fails_its_own_request_only(poison: bytes, prepared: int, read: int) -> None:
    """The batch is checked again document by document: from the texts when the checks before the reads failed,
    else from the batch as prepared (those checks consumed its presentations' challenges: checked again from its
    text, a presentation would be refused as a replay)."""
    verifier = Verifier(KeyError("a case no check foresaw"))
    queue = VerifyQueue(verifier, threading.Lock())  # type: ignore[arg-type]
    futures = queue.submit([b"one", poison, b"two"])
    assert [f.result(10) for f in (futures[0], futures[2])] == ["one", "two"]
    with pytest.raises(KeyError, match="no check foresaw"):
        futures[1].result(10)
    assert (verifier.calls, len(verifier.reads)) == (prepared, read)
    assert verifier.abandoned == ([] if poison == b"poison" else [[poison]])  # no verdict on it: its challenge open


def test_a_batch_that_fails_for_want_of_the_node_fails_as_one() -> None:
    verifier = Verifier(NodeUnavailable("the node is away"))
    queue = VerifyQueue(verifier, threading.Lock())  # type: ignore[arg-type]
    futures = queue.submit([b"one", b"poison", b"two"])
    for future in futures:
        with pytest.raises(NodeUnavailable):
            future.result(10)
    assert verifier.calls == 1  # not asked again per document while it is away


def test_on_a_node_what_arrives_together_is_checked_on_its_loop_in_one_batch() -> None:
    verifier = Verifier(KeyError("unused"))
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True)  # type: ignore[arg-type]

    async def clients() -> list[list[Any]]:
        return await asyncio.gather(*(queue.check([name]) for name in (b"one", b"two", b"three")))

    answers, loop = on_a_loop(clients)
    assert answers == [["one"], ["two"], ["three"]]
    assert verifier.batches == [([b"one", b"two", b"three"], loop)]
    many = [b"%d" % i for i in range(100)]
    answers, loop = on_a_loop(lambda: queue.check(many))  # in two turns of the loop
    assert answers == [m.decode() for m in many]
    assert verifier.batches[1:] == [(many[:queue.on_loop_batch], loop), (many[queue.on_loop_batch:], loop)]
    assert [f.result(10) for f in queue.submit([b"four"])] == ["four"]  # from a thread: the worker checks it
    assert verifier.batches[-1][1] not in (loop, threading.get_ident())


def test_a_slow_batch_on_the_loop_sends_the_next_to_the_worker_until_one_is_quick_again() -> None:
    """The loop does nothing else while it checks a batch: after one slower than the budget, batches go to the
    worker (the loop keeps answering meanwhile), and back to the loop after the worker's first quick one."""
    verifier = Verifier(KeyError("unused"))
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True, on_loop_budget=0.05,  # type: ignore[arg-type]
                        on_loop_cooldown=0.0)  # (the cooldown: below)

    async def ticking_while(check: Any) -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        await asyncio.sleep(0)
        await check
        ticker.cancel()
        return ticks

    async def scenario() -> list[int]:
        verifier.delays[:] = [0.2, 0.2, 0.0]
        first = await ticking_while(queue.check([b"slow"]))  # on the loop: it stands still
        assert queue.slow
        second = await ticking_while(queue.check([b"slow again"]))  # on the worker: the loop ticks
        assert queue.slow
        await queue.check([b"quick"])  # on the worker, quick: the loop takes over again
        assert not queue.slow
        await queue.check([b"on the loop"])
        return [first, second]

    (first, second), loop = on_a_loop(scenario)
    assert first == 0 and second >= 5
    assert [thread == loop for _, thread in verifier.batches] == [True, False, False, True]


def test_a_batch_on_the_loop_that_lacks_the_node_fails_as_one_and_sends_the_next_to_the_worker() -> None:
    verifier = Verifier(NodeUnavailable("the node is away"))
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True, on_loop_cooldown=0.0)  # type: ignore[arg-type]

    async def scenario() -> list[Any]:
        return await asyncio.gather(queue.check([b"one"]), queue.check([b"poison"]), return_exceptions=True)

    outcomes, loop = on_a_loop(scenario)
    assert all(isinstance(outcome, NodeUnavailable) for outcome in outcomes)
    assert verifier.calls == 1 and queue.slow
    answers, loop = on_a_loop(lambda: queue.check([b"two"]))  # the worker's, quick: the loop's again after it
    assert answers == ["two"] and not queue.slow and verifier.batches[-1][1] != loop


def test_a_batch_whose_node_is_too_slow_for_the_loop_is_read_by_the_worker_not_checked_again() -> None:
    """A stalled node holds the loop for the loop's read limit, not the node's timeout: the worker then makes the
    batch's reads with the full timeout, from the batch as the loop prepared it (a presentation's challenge is
    consumed once: checked again, it would be refused as a replay)."""
    verifier = Verifier(KeyError("unused"))
    verifier.stalls = 1
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True, on_loop_read_limit=0.05,  # type: ignore[arg-type]
                        on_loop_cooldown=0.0)

    async def scenario() -> list[list[Any]]:
        return await asyncio.gather(queue.check([b"one"]), queue.check([b"two", b"three"]))

    answers, loop = on_a_loop(scenario)
    assert answers == [["one"], ["two", "three"]]
    assert verifier.calls == 1 and verifier.batches[0][1] == loop  # prepared once, on the loop
    (loop_read, limit), (worker_read, full) = verifier.reads
    assert (loop_read, limit) == (loop, 0.05) and worker_read != loop and full is None
    assert queue.slow  # the batches after it go to the worker until one of its batches is quick
    answers, loop = on_a_loop(lambda: queue.check([b"four"]))
    assert answers == ["four"] and not queue.slow and verifier.reads[-1] == (verifier.batches[-1][1], None)


@pytest.mark.parametrize("fault", ["a read too slow", "a case no check foresaw"])
def test_a_batch_whose_checks_before_the_reads_fail_on_the_loop_is_checked_by_the_worker(fault: str) -> None:
    """Those checks consume no challenge until their last step: the worker checks the texts again from the start,
    with the node's full time (one by one when no check foresaw the fault), never on the loop without a limit."""
    verifier = Verifier(KeyError("a case no check foresaw"))
    poison = b"poison" if fault == "a case no check foresaw" else b"fine"
    verifier.early_stalls = int(fault == "a read too slow")
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True, on_loop_cooldown=0.0)  # type: ignore[arg-type]

    async def scenario() -> list[Any]:
        return await asyncio.gather(queue.check([b"one"]), queue.check([poison]), return_exceptions=True)

    (one, other), loop = on_a_loop(scenario)
    assert one == ["one"]
    assert (other == ["fine"]) if poison == b"fine" else isinstance(other, KeyError)
    threads = [thread for _, thread in verifier.batches]
    assert threads[0] == loop and loop not in threads[1:]  # prepared on the loop once, then on the worker
    assert all(thread != loop and limit is None for thread, limit in verifier.reads)


def test_a_batch_handed_to_the_worker_is_finished_even_if_the_loop_has_the_batches_again() -> None:
    """The loop hands a batch to the worker, and the worker, finishing a quick batch meanwhile, gives the loop the
    batches back before the loop looks: the handed batch is still finished (it was stranded, its waiters never
    answered, the loop rescheduling itself without end)."""
    went_slow = threading.Event()

    class Racing(Verifier):
        def complete(self, prepared: Prepared) -> list[Any]:
            if getattr(self._limit, "seconds", None) is not None:  # on the loop: a stalled node
                queue.submit([b"meanwhile"])  # a batch reaches the worker
                raise NodeTooSlow("the node did not answer within 0.05 s")
            went_slow.wait(5)  # the worker's batch ends just after the loop's went slow
            return super().complete(prepared)

    queue = VerifyQueue(Racing(KeyError("unused")), threading.Lock(), on_loop=True,  # type: ignore[arg-type]
                        on_loop_budget=5.0, on_loop_cooldown=0.0, on_loop_read_limit=0.05)
    to_worker = queue._to_worker

    def then_wait_for_the_worker() -> None:
        to_worker()
        went_slow.set()
        deadline = time.monotonic() + 2
        while queue.slow and time.monotonic() < deadline:  # the worker's quick batch gives the loop its batches back
            time.sleep(0.001)

    queue._to_worker = then_wait_for_the_worker  # type: ignore[method-assign]

    async def scenario() -> bool:
        done, _ = await asyncio.wait([asyncio.ensure_future(queue.check([b"handed"]))], timeout=2.0)
        return bool(done) and next(iter(done)).result() == ["handed"]

    assert on_a_loop(scenario)[0]


def test_a_batch_on_the_loop_waits_for_as_many_requests_as_the_last_had_at_most_the_linger() -> None:
    """Closed-loop clients answered together send again together: the loop reads on until as many requests as the
    last batch had are queued, or ``linger`` seconds pass."""
    verifier = Verifier(KeyError("unused"))
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True, linger=1.0)  # type: ignore[arg-type]

    async def scenario() -> float:
        await asyncio.gather(*(queue.check([name]) for name in (b"a", b"b", b"c")))
        first = asyncio.ensure_future(queue.check([b"d"]))
        await asyncio.sleep(0.01)  # d waits for company
        await asyncio.gather(first, queue.check([b"e"]), queue.check([b"f"]))
        started = time.monotonic()
        await queue.check([b"g"])  # alone, after a batch of three: after the linger
        waited = time.monotonic() - started
        await queue.check([b"h"])  # after a batch of one: at once
        return waited

    waited, _ = on_a_loop(scenario)
    assert [bundles for bundles, _ in verifier.batches] == [[b"a", b"b", b"c"], [b"d", b"e", b"f"], [b"g"], [b"h"]]
    assert waited >= 1.0


def test_a_slow_batch_on_the_loop_keeps_the_worker_checking_for_a_cooldown_that_doubles() -> None:
    """A cause of slow batches that recurs (a costly document now and then, a node that stalls at times) costs the
    loop one stall per cooldown, not one per batch: the worker keeps the batches until the cooldown has passed and
    one of them was quick, and the next slow batch on the loop doubles the cooldown."""
    verifier = Verifier(KeyError("unused"))
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True, on_loop_budget=0.05,  # type: ignore[arg-type]
                        on_loop_cooldown=1.0)

    async def scenario() -> list[float]:
        cooldowns = []
        verifier.delays[:] = [0.1]
        await queue.check([b"slow"])  # on the loop
        cooldowns.append(queue._cooldown)
        await queue.check([b"quick, within the cooldown"])  # on the worker, which keeps the batches
        assert queue.slow
        await asyncio.sleep(1.0)
        await queue.check([b"quick, after it"])  # on the worker: the loop's again after it
        assert not queue.slow
        verifier.delays[:] = [0.1]
        await queue.check([b"slow again"])  # on the loop
        cooldowns.append(queue._cooldown)
        return cooldowns

    cooldowns, loop = on_a_loop(scenario)
    assert [thread == loop for _, thread in verifier.batches] == [True, False, False, True]
    assert cooldowns == [2.0, 4.0]  # the next cooldown each time: 1 s, then 2 s, then 4 s


def test_a_cancelled_waiter_spares_its_batch_and_the_worker() -> None:
    verifier = Verifier(KeyError("unused"))
    queue = VerifyQueue(verifier, threading.Lock())  # type: ignore[arg-type]
    verifier.delays[:] = [0.3]
    cancelled, other = queue.submit([b"a", b"b"])
    time.sleep(0.1)  # the worker is checking them
    assert cancelled.cancel()
    assert other.result(10) == "b" and queue.verify([b"c"]) == ["c"]


def test_a_loop_that_closed_with_a_batch_due_hands_the_queue_to_the_next() -> None:
    verifier = Verifier(KeyError("unused"))
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True, linger=0.05)  # type: ignore[arg-type]

    async def closing_with_one_due() -> None:
        await asyncio.gather(*(queue.check([name]) for name in (b"a", b"b", b"c")))
        behind = asyncio.ensure_future(queue.check([b"left behind"]))
        await asyncio.sleep(0)  # queued, waiting for company, when the loop closes
        assert not behind.done()

    on_a_loop(closing_with_one_due)
    answers, loop = on_a_loop(lambda: queue.check([b"d"]))
    assert answers == ["d"] and verifier.batches[-1] == ([b"left behind", b"d"], loop)


def presented(c: Consortium, folder: Path, n: int) -> tuple[VerifierClient, list[bytes]]:
    """A bank's verifier (with its challenge store) and ``n`` residents' genuine presentations to it."""
    keys = [generate_holder_key() for _ in range(n)]
    bound = [Certificate(cert.header, {**cert.claims, "cnf": holder_claim(key.public_key())})
             for (_, cert), key in zip(deposit_certificates(c, n), keys, strict=True)]
    batch = seal_batch([salt_document(cert, HashAlgorithm.KECCAK256) for cert in bound])
    c.anchor(batch.root, leaf_count=n)
    store = ChallengeStore(folder / "challenges.sqlite", "ICBKCNBJGDG")
    verifier = VerifierClient(c.registry, audience="ICBKCNBJGDG", challenges=store)
    now = int(time.time())
    return verifier, [present(batch.bundle(i, c.w3.eth.chain_id, c.registry.address), store.issue("ACCTOPEN", now),
                              key, now).dumps().encode() for i, key in enumerate(keys)]


def failing_reads(verifier: VerifierClient, error: Callable[[Prepared], Exception | None]) -> None:
    """Make ``verifier``'s reads (and the checks on them, after the challenges are consumed) raise what ``error``
    gives for a batch, if anything."""
    reads = verifier._complete

    def faulty(prepared: Prepared) -> list[VerificationReport]:
        if (exc := error(prepared)) is not None:
            raise exc
        return reads(prepared)

    verifier._complete = faulty  # type: ignore[method-assign]


def names(reports: Sequence[VerificationReport]) -> list[list[str]]:
    return [[c.name for c in r.failed] for r in reports]


def test_presentations_of_a_batch_whose_reads_failed_unforeseen_are_not_refused_as_replays(
        consortium: Consortium, tmp_path: Path) -> None:
    """With a real verifier: the batch's checks before its reads consumed each presentation's challenge once;
    completed document by document from there, each is valid (checked again from its text, each would be refused:
    its challenge already used)."""
    verifier, texts = presented(consortium, tmp_path, 3)
    failing_reads(verifier, lambda p: KeyError("a case no check foresaw") if len(p.parsed) > 1 else None)
    reports = VerifyQueue(verifier, threading.Lock()).verify(texts)
    assert [r.valid for r in reports] == [True] * 3, names(reports)


@pytest.mark.parametrize("on_loop", [False, True], ids=["worker", "loop"])
def test_presentations_whose_reads_found_the_node_away_can_be_presented_again(
        consortium: Consortium, tmp_path: Path, on_loop: bool) -> None:
    """No verdict was given, so the challenges the batch consumed are open again: the same presentations, sent
    again once the node is back (a retry after the 503, or the fast lane handing the request to the app), are valid,
    not refused as replays."""
    verifier, texts = presented(consortium, tmp_path, 2)
    away = [NodeUnavailable("the node is away")]
    failing_reads(verifier, lambda p: away.pop() if away else None)
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=on_loop)

    async def twice() -> tuple[list[Any], list[Any]]:
        first = await asyncio.gather(*(queue.check([text]) for text in texts), return_exceptions=True)
        return first, [await queue.check([text]) for text in texts]

    first, again = on_a_loop(twice)[0] if on_loop else (
        [f.exception(10) for f in queue.submit(texts)], [queue.verify([text]) for text in texts])
    assert all(isinstance(outcome, NodeUnavailable) for outcome in first)
    assert [r.valid for [r] in again] == [True] * 2, names([r for [r] in again])


def test_presentations_whose_reads_failed_unforeseen_each_alone_can_be_presented_again(
        consortium: Consortium, tmp_path: Path) -> None:
    """Reads that fail for a reason no check foresaw (a node's error object, 'header not found' during a
    reorganisation: TransactionFailed), for the batch and then for each document alone: no verdict was given, so
    each presentation's challenge is open again, and the same presentation sent again once the node answers is
    valid, not refused as a replay (it was, its challenge used for good); so too through verify_many itself."""
    verifier, texts = presented(consortium, tmp_path, 3)
    failing = [True]
    failing_reads(verifier, lambda p: TransactionFailed("header not found") if failing else None)
    assert all(isinstance(outcome, TransactionFailed)
               for outcome in [f.exception(10) for f in VerifyQueue(verifier, threading.Lock()).submit(texts)])
    with pytest.raises(TransactionFailed):
        verifier.verify_many(texts[:1])
    failing.clear()
    again = verifier.verify_many(texts)
    assert [r.valid for r in again] == [True] * 3, names(again)


def test_a_withdrawn_verdict_opens_its_own_batch_s_challenge_and_no_other(consortium: Consortium,
                                                                          tmp_path: Path) -> None:
    """What had to follow a verdict failed (its receipt not queued): withdrawn, its presentation's challenge is
    open again and the same presentation is valid once more. A replay's report consumed nothing and opens nothing;
    an old report, withdrawn after its challenge was consumed again (within the same second), opens nothing."""
    verifier, texts = presented(consortium, tmp_path, 2)
    first, second, replay = verifier.verify_many([*texts, texts[0]])
    assert first.valid and second.valid and names([replay]) == [["challenge_fresh"]]
    assert first.consumed_by is not None and first.consumed_by == second.consumed_by and replay.consumed_by is None
    verifier.withdraw([replay])
    assert names(verifier.verify_many(texts[:1])) == [["challenge_fresh"]]
    verifier.withdraw([first])
    [again] = verifier.verify_many(texts[:1])
    assert again.valid and again.consumed_by not in (None, first.consumed_by)
    verifier.withdraw([first])
    assert names(verifier.verify_many(texts)) == [["challenge_fresh"]] * 2


def test_a_batch_too_slow_for_the_caller_s_limit_keeps_its_challenges_for_its_completion(
        consortium: Consortium, tmp_path: Path) -> None:
    """``NodeTooSlow`` (the loop's limit): the caller completes the batch again elsewhere, so its challenges stay
    consumed: the same presentation checked again from its text is refused as a replay, the batch completes."""
    verifier, texts = presented(consortium, tmp_path, 1)
    slow = [NodeTooSlow("the node did not answer within 0.5 s")]
    failing_reads(verifier, lambda p: slow.pop() if slow else None)
    prepared = verifier.prepare(texts)
    with pytest.raises(NodeTooSlow):
        verifier.complete(prepared)
    assert names(verifier.verify_many(texts)) == [["challenge_fresh"]]
    assert [r.valid for r in verifier.complete(prepared)] == [True]


def test_a_batch_failing_unforeseen_on_the_loop_is_completed_once_by_the_worker(
        consortium: Consortium, tmp_path: Path) -> None:
    """The worker completes it, document by document, with the node's full time; nothing of it on the loop. (The
    one-by-one pass once ran on the loop under its limit: one document's read found the node away, which opened its
    challenge again, another's was too slow, which handed the whole batch to the worker, and the first got a valid
    verdict with its challenge open: sent again, a second valid verdict, a replay.)"""
    verifier, texts = presented(consortium, tmp_path, 2)
    first_nonce, loop = load_presentation(texts[0]).binding.nonce, []

    def on_the_loop(prepared: Prepared) -> Exception | None:
        if threading.get_ident() not in loop:
            return None
        if len(prepared.parsed) > 1:
            return KeyError("a case no check foresaw")
        return NodeUnavailable("away") if prepared.consumed[0] == first_nonce else NodeTooSlow("too slow")

    failing_reads(verifier, on_the_loop)
    queue = VerifyQueue(verifier, threading.Lock(), on_loop=True)

    async def scenario() -> list[list[VerificationReport]]:
        loop.append(threading.get_ident())
        return await asyncio.gather(*(queue.check([text]) for text in texts))

    answers, _ = on_a_loop(scenario)
    assert [r.valid for [r] in answers] == [True, True]
    assert names(verifier.verify_many(texts[:1])) == [["challenge_fresh"]]  # sent again: a replay, refused
    assert not queue.slow  # an input no check foresaw is no sign of a slow node
