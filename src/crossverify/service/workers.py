"""The service's background work, and the locks that order its access to the chain.

Verification requests that arrive together are checked in one ``verify_many`` (so concurrent clients share
their status look-ups instead of each paying a round of ``eth_call``\\ s); the issuer's pipeline, the receipt
outbox and the regulator's index are driven by periodic workers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import AbstractContextManager, suppress
from typing import Protocol

from ..errors import UNAVAILABLE, NodeTooSlow, StoreLocked
from ..verifier.client import Prepared, VerificationReport, VerifierClient
from .problems import public_text

log = logging.getLogger(__name__)
#: The longest the worker keeps the batches of a loop after a slow one, in seconds.
MAX_COOLDOWN = 60.0


class VerifyQueue:
    """Coalesces concurrent verifications: a worker takes everything queued (up to ``max_batch``), waiting at
    most ``linger`` seconds for company when the last batch had company (a lone client is not kept waiting),
    and checks it in one batched call under ``chain_lock`` (the embedded chain's lock; none on a node).
    Requests awaited on an event loop (:meth:`check`) cost no thread and learn their reports together: one call
    into their loop per batch.

    ``on_loop`` (a service on a node): requests queued from an event loop are checked on that loop itself, once
    as many as the last batch had are queued (or ``linger`` seconds passed, the loop reading on meanwhile), after
    the input of the loop's turn has been read; the reports are handed over with no thread between (no wake-up,
    no passing of the interpreter lock back and forth while the batch is checked). The loop does nothing else
    while it checks, so it takes at most ``on_loop_batch`` requests at a time (the rest in its next turn, after
    it has read and answered what came meanwhile), and a batch that takes longer than ``on_loop_budget`` seconds
    (a slow node, costly documents), or fails for want of the node, sends the batches after it to the worker for
    ``on_loop_cooldown`` seconds, doubled each time it happens again (at most :data:`MAX_COOLDOWN`), and until one of
    the worker's batches is quick and answered again. Its registry reads give up after ``on_loop_read_limit`` seconds
    (a stalled node): the worker then makes them again for that batch, with the node's full timeout, from where the
    loop left it (its presentations' challenges consumed once, on the loop). One loop checks batches (the first
    that queues here, the next once that one is closed); another loop's requests go to the worker."""

    def __init__(self, verifier: VerifierClient, chain_lock: AbstractContextManager[object], *,
                 max_batch: int = 512, linger: float = 0.002, on_loop: bool = False, on_loop_batch: int = 64,
                 on_loop_budget: float = 0.1, on_loop_cooldown: float = 1.0, on_loop_read_limit: float = 0.5
                 ) -> None:
        self.verifier = verifier
        self.chain_lock = chain_lock
        self.max_batch = max_batch
        self.linger = linger
        self.on_loop = on_loop
        self.on_loop_batch = on_loop_batch
        self.on_loop_budget = on_loop_budget
        self.on_loop_cooldown = on_loop_cooldown
        self.on_loop_read_limit = on_loop_read_limit
        self.batches = 0
        #: Whether the worker checks the batches that the loop would: the last batch was slow or lacked the node.
        self.slow = False
        self._pending: deque[tuple[bytes, _Waiter]] = deque()
        #: Batches the loop handed to the worker to finish (:meth:`_on_loop`), as prepared or (``None``) as texts.
        self._handed: deque[tuple[list[tuple[bytes, _Waiter]], Prepared | None]] = deque()
        #: Whether a batch is due on a loop (one at a time).
        self._due = False
        #: Requests the next batch on a loop waits for (at most ``linger`` seconds): as many as the last one had.
        self._expected = 1
        self._timer: asyncio.TimerHandle | None = None
        #: The loop that checks batches, and until when (``time.monotonic``) the worker keeps them after a slow one.
        self._home: asyncio.AbstractEventLoop | None = None
        self._cooldown = on_loop_cooldown
        self._worker_until = 0.0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="verify-queue", daemon=True)
        self._thread.start()

    async def check(self, bundles: Sequence[bytes]) -> list[VerificationReport]:
        """The reports of ``bundles``, awaited on the running event loop."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in bundles]
        self._put(zip(bundles, futures, strict=True), loop)
        return [await f for f in futures]

    def submit(self, bundles: Sequence[bytes]) -> list[Future[VerificationReport]]:
        """Queue ``bundles``; each future holds its report once the batch it joined is checked."""
        futures: list[Future[VerificationReport]] = [Future() for _ in bundles]
        self._put(zip(bundles, futures, strict=True))
        return futures

    def put(self, bundle: bytes, waiter: LoopWaiter) -> None:
        """Queue ``bundle`` for ``waiter``, which learns its report on its event loop (the fast lane's requests);
        called on that loop."""
        self._put([(bundle, waiter)], waiter.get_loop())

    def verify(self, bundles: Sequence[bytes], timeout: float = 60.0) -> list[VerificationReport]:
        """Queue ``bundles`` and wait for their reports (from a thread; the service awaits :meth:`check`)."""
        return [f.result(timeout) for f in self.submit(bundles)]

    def _put(self, items: Iterable[tuple[bytes, _Waiter]], loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Queue ``items``, from ``loop`` (running it) or from a thread (``None``: the worker checks them)."""
        self._pending.extend(items)
        if loop is not None and self.on_loop and not self.slow and self._checks_on(loop):
            if len(self._pending) >= self._expected:  # as many as the last batch: checked after this turn's input
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                if not self._due:
                    self._due = True
                    loop.call_soon(self._check_on_loop, loop)
            elif not self._due and self._timer is None:  # fewer: the loop reads on, ``linger`` at most
                self._timer = loop.call_later(self.linger, self._check_on_loop, loop)
            return
        if not self._wake.is_set():
            self._wake.set()

    def _checks_on(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether ``loop`` checks batches: the first loop to queue here, or the next once that one is closed (what
        a closed loop had due is dropped with it)."""
        if self._home is not loop:
            if self._home is not None and not self._home.is_closed():
                return False
            self._home, self._due, self._timer = loop, False, None
        return True

    def _check_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: what is queued (up to ``on_loop_batch``) checked as one batch, its waiters answered (or the
        batch handed to the worker to finish: :meth:`_on_loop`); then the rest scheduled, however this batch
        ended."""
        self._due = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending = self._pending
        items = _taken(pending, self.on_loop_batch)
        self._expected = max(len(items), 1)
        try:
            if items:
                started = time.monotonic()
                outcomes = self._on_loop([bundle for bundle, _ in items])
                if outcomes is None or isinstance(outcomes, Prepared):  # for the worker to finish (``_on_loop``)
                    self._handed.append((items, outcomes))
                else:
                    if not _quick(outcomes, time.monotonic() - started, self.on_loop_budget):
                        self._to_worker()
                    _answer(items, outcomes, loop)
        finally:
            if self._handed:  # the worker finishes it, whether or not the batches after it are still the worker's
                self._wake.set()
            if pending:  # more than one batch was queued, or the batch was slow: the rest as the next one is
                if self.slow:
                    self._wake.set()
                elif not self._due:
                    self._due = True
                    loop.call_soon(self._check_on_loop, loop)

    def _to_worker(self) -> None:
        """After a slow batch on the loop: the worker checks the batches for the cooldown, which doubles each time
        (a cause that recurs costs the loop one stall per cooldown), back to its first length after a quiet one."""
        now = time.monotonic()
        if now > self._worker_until + MAX_COOLDOWN:  # the last slow batch is long past
            self._cooldown = self.on_loop_cooldown
        self._worker_until = now + self._cooldown
        self._cooldown = min(2 * self._cooldown, MAX_COOLDOWN)
        self.slow = True

    def _loop(self) -> None:
        company = False
        pending = self._pending
        while True:
            if not pending and not self._handed:
                self._wake.wait()
            self._wake.clear()  # before taking: whatever comes after it sets the event again
            while self._handed:
                handed, prepared = self._handed.popleft()
                _answer(handed, self._checked([bundle for bundle, _ in handed]) if prepared is None
                        else self._completed(prepared))
            if company and len(pending) < self.max_batch:
                time.sleep(self.linger)
            items = _taken(pending, self.max_batch)
            if not items:
                continue
            company = len(items) > 1
            started = time.monotonic()
            outcomes = self._checked([bundle for bundle, _ in items])
            if (self.slow and _quick(outcomes, time.monotonic() - started, self.on_loop_budget)
                    and time.monotonic() >= self._worker_until):
                self.slow = False  # the batches after it are checked on their loop again
            _answer(items, outcomes)

    def _on_loop(self, bundles: list[bytes]) -> Sequence[VerificationReport | BaseException] | Prepared | None:
        """The batch's reports, checked on the loop with its registry reads given ``on_loop_read_limit`` seconds
        together; or what the worker is to finish with the node's full timeout: the batch as prepared (its
        presentations' challenges consumed once, here), when the node was too slow for its reads or they failed for a
        reason no check foresaw (the worker completes its documents one by one); ``None`` (its texts, checked again
        from the start), when that befell the checks before them. A node too slow sends the batches after it to the
        worker (:meth:`_to_worker`); an input no check foresaw does not. Completed once here or once there, never
        in part: a batch whose reads found the node away has its challenges opened again (no verdict was given on
        them), and so must never be completed after that."""
        prepared: Prepared | None = None  # (until the checks before the reads are through)
        try:
            with self.verifier.reads_within(self.on_loop_read_limit), self.chain_lock:
                prepared = self.verifier.prepare(bundles)
                reports = self.verifier.complete(prepared)
        except NodeTooSlow:
            self._to_worker()
            return prepared
        except UNAVAILABLE as exc:
            return [exc] * len(bundles)
        except Exception:
            return prepared
        self.batches += 1
        return reports

    def _checked(self, bundles: list[bytes]) -> Sequence[VerificationReport | BaseException]:
        """The batch's reports. A batch that fails for want of the node or a store fails as one (every waiting
        request learns why); one that fails for any other reason is checked again document by document, so that
        an input no check foresaw fails its own request only, not its batch's: from its texts when the checks before
        the reads failed (their last step consumes the presentations' challenges), else from the batch as
        prepared (:meth:`_completed`)."""
        try:
            with self.chain_lock:
                prepared = self.verifier.prepare(bundles)
        except UNAVAILABLE as exc:
            return [exc] * len(bundles)
        except Exception as exc:
            if len(bundles) == 1:
                return [exc]
            _one_by_one(len(bundles), exc)
            return [self._checked([bundle])[0] for bundle in bundles]
        return self._completed(prepared)

    def _completed(self, prepared: Prepared) -> Sequence[VerificationReport | BaseException]:
        """The reports of a prepared batch: the registry read for it. A failure for want of the node or a store
        fails it as one; any other completes its documents one by one, each as prepared (a presentation's
        challenge is consumed once: checked again from its text, it would be refused as a replay), and a document
        that fails alone has its challenge opened again."""
        try:
            with self.chain_lock:
                reports: Sequence[VerificationReport | BaseException] = self.verifier.complete(prepared)
        except UNAVAILABLE as exc:
            return [exc] * len(prepared.parsed)
        except Exception as exc:
            if len(prepared.parsed) == 1:  # no verdict on it: its presentation may be sent again
                self.verifier.abandon(prepared)
                return [exc]
            _one_by_one(len(prepared.parsed), exc)
            return [self._completed(one)[0] for one in _each(prepared)]
        self.batches += 1
        return reports


def _one_by_one(documents: int, exc: Exception) -> None:
    """Log a batch that failed for a reason no check foresaw, whose documents are checked one by one."""
    log.warning("a verification batch failed: checking its documents one by one",
                extra={"documents": documents, "error": f"{type(exc).__name__}: {exc}"})


def _each(prepared: Prepared) -> Iterator[Prepared]:
    """``prepared`` as batches of one document each (with its status read's triple, if it goes on to one)."""
    triples = iter(prepared.triples)
    for item in prepared.parsed:
        bundle, _, digest, _ = item
        yield Prepared([item], [next(triples)] if bundle is not None and digest is not None else [],
                       prepared.consumed_by)


class LoopWaiter(Protocol):
    """What awaits a report on an event loop, as an asyncio future does (and the fast lane's requests)."""

    def get_loop(self) -> asyncio.AbstractEventLoop: ...

    def done(self) -> bool: ...

    def set_result(self, result: VerificationReport) -> None: ...

    def set_exception(self, exception: BaseException) -> None: ...


#: What a queued verification's report is handed to: a thread's future, or a waiter on an event loop.
_Waiter = Future[VerificationReport] | LoopWaiter


def _taken(pending: deque[tuple[bytes, _Waiter]], most: int) -> list[tuple[bytes, _Waiter]]:
    """Up to ``most`` of the queued requests, oldest first (the loop and the worker may both be taking)."""
    items = []
    with suppress(IndexError):
        for _ in range(min(len(pending), most)):
            items.append(pending.popleft())
    return items


def _quick(outcomes: Sequence[VerificationReport | BaseException], took: float, budget: float) -> bool:
    """Whether a batch that took ``took`` seconds was within ``budget`` and had the node and stores it needs."""
    return took <= budget and not any(isinstance(outcome, UNAVAILABLE) for outcome in outcomes)


def _answer(items: list[tuple[bytes, _Waiter]], outcomes: Sequence[VerificationReport | BaseException],
            here: asyncio.AbstractEventLoop | None = None) -> None:
    """:func:`_settle` for a batch's waiters; should that fail (a fault of the queue's own, say outcomes that do
    not match the batch), each waiter not yet answered learns the fault, and the loop or worker goes on."""
    waiters = [waiter for _, waiter in items]
    try:
        _settle(waiters, outcomes, here)
    except Exception as exc:
        log.exception("a verification batch's waiters could not be answered")
        _settle(waiters, [exc] * len(waiters), here)


def _settle(waiters: list[_Waiter], outcomes: Sequence[VerificationReport | BaseException],
            here: asyncio.AbstractEventLoop | None = None) -> None:
    """Hand each waiter its report (or the failure): threads' futures at once, each event loop's in one call
    (``here``'s, the loop this runs on, directly)."""
    loops: dict[asyncio.AbstractEventLoop, list[tuple[LoopWaiter, object]]] = {}
    for waiter, outcome in zip(waiters, outcomes, strict=True):
        if isinstance(waiter, Future):
            with suppress(InvalidStateError):  # cancelled by its thread: nobody waits for it
                if isinstance(outcome, BaseException):
                    waiter.set_exception(outcome)
                else:
                    waiter.set_result(outcome)
        else:
            loops.setdefault(waiter.get_loop(), []).append((waiter, outcome))
    for loop, settled in loops.items():
        if loop is here:
            _resolve(settled)
            continue
        with suppress(RuntimeError):  # a loop that has closed: nobody awaits its futures any more
            loop.call_soon_threadsafe(_resolve, settled)


def _resolve(settled: list[tuple[LoopWaiter, object]]) -> None:
    """On their event loop: the waiters' reports (those still awaited: a client that went away cancelled its)."""
    for future, outcome in settled:
        if not future.done():
            try:  # one waiter's fault (the lane's answer to a request) leaves the others' reports to them
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)  # type: ignore[arg-type]
            except Exception:
                log.exception("a verification's waiter failed")


class Periodic:
    """Runs ``work`` every ``every`` seconds (or sooner when woken) on its own thread, under ``send_lock`` (the
    background workers of one service send from one account: one at a time). Rounds start at least ``spacing``
    seconds apart: the wakes of a steady stream (a receipt queued with every verification batch) join the next
    round instead of each starting one, so that each round carries more.

    A failure is logged and remembered (``last_error``) for the readiness check; the next round tries again.
    A round that finds the work running in another process (a replica sharing the store) leaves it to that one
    (``standby``) and tries again next round: it takes over when that process dies.
    """

    def __init__(self, name: str, work: Callable[[], object], send_lock: threading.Lock, every: float,
                 spacing: float = 0.0) -> None:
        self.name = name
        self.work = work
        self.send_lock = send_lock
        self.every = every
        self.spacing = spacing
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.standby = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, wait: float = 30.0) -> None:
        """Stop after the round running, if any, waiting for it ``wait`` seconds at most."""
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=wait)

    def finish(self, within: float) -> bool:
        """Stop after one last round (once the round running, if any, is over), ``within`` seconds at most in all,
        and say whether it ended in time: a round cut short is left as it is (the process exits; the outbox's queue
        is durable, sent on the next start). A worker never started has no last round."""
        self._stop.set()
        self._wake.set()
        if self._thread.ident is None:
            return True
        last = threading.Thread(target=self._last_round, name=f"{self.name} last round", daemon=True)
        last.start()
        last.join(within)
        return not last.is_alive()

    def run_once(self) -> None:
        try:
            with self.send_lock:
                self.work()
        except StoreLocked:  # another replica runs it now
            self.last_success, self.last_error, self.standby = time.time(), None, True
        except Exception as exc:  # logged, shown by /readyz (in words fit for anyone), retried next round
            self.last_error = f"{type(exc).__name__}: {public_text(exc)}"
            log.warning("background work failed", extra={"worker": self.name, "error": f"{type(exc).__name__}: {exc}"})
        else:
            self.last_success, self.last_error, self.standby = time.time(), None, False

    def _last_round(self) -> None:
        self._thread.join()
        self.run_once()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a wake while it runs calls for the next one
            started = time.monotonic()
            self.run_once()
            self._wake.wait(self.every)
            rest = self.spacing - (time.monotonic() - started)
            if rest > 0:
                self._stop.wait(rest)
