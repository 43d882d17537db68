"""The service's background work, and the one lock that orders every chain access.

Verification requests that arrive together are checked in one ``verify_many`` (so concurrent clients share
their status look-ups instead of each paying a round of ``eth_call``\\ s); the issuer's pipeline, the receipt
outbox and the regulator's index are driven by periodic workers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from ..errors import StoreLocked
from ..verifier.client import VerificationReport, VerifierClient
from .problems import public_text

log = logging.getLogger(__name__)


class VerifyQueue:
    """Coalesces concurrent verifications: a worker takes everything queued (up to ``max_batch``), waiting at
    most ``linger`` seconds for company when the last batch had company (a lone client is not kept waiting),
    and checks it in one batched call under ``chain_lock``."""

    def __init__(self, verifier: VerifierClient, chain_lock: threading.Lock, *, max_batch: int = 512,
                 linger: float = 0.002) -> None:
        self.verifier = verifier
        self.chain_lock = chain_lock
        self.max_batch = max_batch
        self.linger = linger
        self.batches = 0
        self._queue: queue.Queue[tuple[bytes, Future[VerificationReport]]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="verify-queue", daemon=True)
        self._thread.start()

    def submit(self, bundles: Sequence[bytes]) -> list[Future[VerificationReport]]:
        """Queue ``bundles``; each future holds its report once the batch it joined is checked."""
        futures: list[Future[VerificationReport]] = []
        for bundle in bundles:
            future: Future[VerificationReport] = Future()
            self._queue.put((bundle, future))
            futures.append(future)
        return futures

    def verify(self, bundles: Sequence[bytes], timeout: float = 60.0) -> list[VerificationReport]:
        """Queue ``bundles`` and wait for their reports (from a thread; the service awaits :meth:`submit`)."""
        return [f.result(timeout) for f in self.submit(bundles)]

    def _loop(self) -> None:
        company = False
        while True:
            items = [self._queue.get()]
            deadline = time.monotonic() + (self.linger if company else 0.0)
            while len(items) < self.max_batch:
                try:
                    items.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                with self.chain_lock:
                    reports = self.verifier.verify_many([bundle for bundle, _ in items])
            except Exception as exc:  # every waiting request learns why
                for _, future in items:
                    future.set_exception(exc)
                continue
            self.batches += 1
            company = len(items) > 1
            for (_, future), report in zip(items, reports, strict=True):
                future.set_result(report)


class Periodic:
    """Runs ``work`` every ``every`` seconds (or sooner when woken) on its own thread, under ``chain_lock``.

    A failure is logged and remembered (``last_error``) for the readiness check; the next round tries again.
    A round that finds the work running in another process (a replica sharing the store) leaves it to that one
    (``standby``) and tries again next round: it takes over when that process dies.
    """

    def __init__(self, name: str, work: Callable[[], object], chain_lock: threading.Lock, every: float) -> None:
        self.name = name
        self.work = work
        self.chain_lock = chain_lock
        self.every = every
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

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def run_once(self) -> None:
        try:
            with self.chain_lock:
                self.work()
        except StoreLocked:  # another replica runs it now
            self.last_success, self.last_error, self.standby = time.time(), None, True
        except Exception as exc:  # logged, shown by /readyz (in words fit for anyone), retried next round
            self.last_error = f"{type(exc).__name__}: {public_text(exc)}"
            log.warning("background work failed", extra={"worker": self.name, "error": f"{type(exc).__name__}: {exc}"})
        else:
            self.last_success, self.last_error, self.standby = time.time(), None, False

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.every)
            self._wake.clear()
