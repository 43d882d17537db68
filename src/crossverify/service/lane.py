"""The fast lane: a bank's plain verification answered inside the HTTP protocol, without the ASGI app.

``POST /v1/verifications`` with a bank's key within its rate limit, a JSON body of declared length within the
bound, no query parameter but ``purpose`` (a purpose code) and ``case``, no ``Idempotency-Key``: the protocol
(:class:`~crossverify.service.server.GuardedHttp`) reads the body and hands it to the coalescing queue, and writes
the verdict when its batch is checked: no task, no future, no middleware per request. :class:`VerifyLane` is what
the route would do for such a request (admission, receipt, verdict, metrics, log line), decided from the request's
head alone, so that a request it declines goes to the app untouched. The app stays the one definition of the
route: anything else, and any failure, is the app's to answer (tests/service/test_fast_lane.py proves the two
answer alike, byte for byte).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol
from urllib.parse import parse_qsl

from ..verifier.client import VerificationReport
from ..verifier.outbox import REFERENCE
from . import middleware
from .auth import RateLimit, SharedRateLimit, presented_key
from .dependencies import RECEIPT_THREADS, Context
from .workers import VerifyQueue

log = logging.getLogger(__name__)

PATH = b"/v1/verifications"
#: What the metrics and the log line name a request the lane answered (the route's path, as the app's router).
ROUTE = SimpleNamespace(path=PATH.decode())
#: A purpose code the route accepts (its query pattern, without the end-of-line latitude of ``$``).
_PURPOSE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,7}")
#: Where a request the lane checked but could not answer carries its report to the app (its scope's state).
CHECKED = "lane_checked"
#: Bytes a header value must not hold (the server would refuse to write it back as ``X-Request-Id``).
_UNWRITABLE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")


class Answering(Protocol):
    """A request the lane took (the protocol's exchange): its ticket, its event loop, and its answer."""

    ticket: Ticket

    def get_loop(self) -> asyncio.AbstractEventLoop: ...

    def give(self, report: VerificationReport, receipt: dict[str, Any] | None) -> None:
        """Answer with the verdict on ``report``, and where its receipt stands."""

    def to_app(self, report: VerificationReport) -> None:
        """Have the app answer from ``report``."""


@dataclass(slots=True)
class Ticket:
    """An admitted request: its client, receipt parameters and request id, and what its metrics and log name."""

    client: str
    purpose: str | None
    case: str
    request_id: bytes
    #: The request as :meth:`Context.observed` reads it (method, route, request id, client).
    seen: dict[str, Any]


class VerifyLane:
    """The route ``POST /v1/verifications`` for the requests it can answer from their head (:meth:`admit`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.queue: VerifyQueue = ctx.queue
        self.limit, self.timeout = ctx.settings.max_body_bytes, ctx.settings.body_timeout
        #: Each event loop's requests whose receipts are queued together next (:meth:`receipt_due`).
        self._due: dict[asyncio.AbstractEventLoop, list[tuple[Answering, VerificationReport]]] = {}

    def admit(self, query: bytes, headers: list[tuple[bytes, bytes]]) -> Ticket | None:
        """The ticket of a plain request, its rate-limit token spent; ``None`` (nothing spent) for any other.
        ``headers`` are lowercased names with their values, as the protocol read them."""
        given = dict(headers)
        media_type = given.get(b"content-type", b"").split(b";")[0].strip().lower()
        if len(given) != len(headers) or media_type != b"application/json" or b"idempotency-key" in given:
            return None
        declared = given.get(b"content-length", b"")
        if not declared.isdigit() or not 0 < int(declared) <= self.limit or b"transfer-encoding" in given:
            return None
        request_id = given.get(b"x-request-id", b"")
        if _UNWRITABLE.search(request_id):
            return None
        purpose, case = None, ""
        if query:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            named = dict(pairs)
            if len(named) != len(pairs) or not named.keys() <= {"purpose", "case"}:
                return None
            purpose, case = named.get("purpose"), named.get("case", "")
            if (purpose is not None and not _PURPOSE.fullmatch(purpose)) or not REFERENCE.fullmatch(case):
                return None
        key = presented_key(given.get(b"authorization", b"").decode("latin-1"),
                            given.get(b"x-api-key", b"").decode("latin-1"))
        client = self.ctx.keys.identify(key) if key else None
        if client is None or client.role != "bank" or not self._allowed(client.name):
            return None
        request_id = request_id or middleware.new_request_id().encode()
        return Ticket(client.name, purpose, case, request_id,
                      {"method": "POST", "route": ROUTE,
                       "state": {"request_id": middleware.request_id_text(request_id), "client": client.name}})

    def _allowed(self, client: str) -> bool:
        """A token of the client's limit spent here and now: in memory, or one this process holds of a shared
        limit, whose next lease is then taken ahead in a thread when it runs low (a request finding none goes to
        the app, which makes the round trip and answers a refusal)."""
        limits = self.ctx.limits
        if type(limits) is RateLimit:
            return limits.allow(client) == 0.0
        if not isinstance(limits, SharedRateLimit) or not limits.spend_leased(client):
            return False
        if limits.claim_refill(client):
            try:
                asyncio.get_running_loop().run_in_executor(None, limits.refill, client)
            except RuntimeError:  # the server is shutting down: no lease ahead
                limits.unclaim(client)
        return True

    def records(self, ticket: Ticket, report: VerificationReport) -> bool:
        """Whether the verdict on ``report`` records a receipt: a purpose was given and the document passed."""
        return (ticket.purpose is not None and report.valid and report.bundle is not None
                and report.document_digest is not None)

    def receipt_due(self, exchange: Answering, report: VerificationReport) -> None:
        """Queue the receipt of ``exchange``'s passing ``report`` with those of its batch, then give its verdict.
        The queue hands a batch's reports to their requests one after another on their event loop; right after,
        their receipts are queued in one transaction (one durable commit per batch, not one per request), in a
        thread (:data:`~.dependencies.RECEIPT_THREADS`: the loop reads and answers other requests meanwhile, and a
        store that is locked or slow holds up no request but these), and each request is then given its verdict
        with where its receipt stands. If they cannot be queued, the app answers each request from its report
        (:meth:`Context.receipt`: its receipt queued again, and its verdict withdrawn if it must be)."""
        loop = exchange.get_loop()
        due = self._due.get(loop)
        if due is None:
            due = self._due[loop] = []
            loop.call_soon(self._queue_receipts, loop)
        due.append((exchange, report))

    def _queue_receipts(self, loop: asyncio.AbstractEventLoop) -> None:
        due = self._due.pop(loop)
        items = [(report, exchange.ticket.purpose or "", exchange.ticket.case) for exchange, report in due]
        try:
            queued = loop.run_in_executor(RECEIPT_THREADS, self.ctx.receipts, items)
        except RuntimeError:  # the process is exiting: no thread to queue them in
            self._given(due, None)
            return
        queued.add_done_callback(lambda done: self._given(due, done))

    def _given(self, due: list[tuple[Answering, VerificationReport]],
               queued: asyncio.Future[list[dict[str, Any] | None]] | None) -> None:
        """Each request of ``due`` given its verdict with where its receipt stands, or (its receipts not queued)
        handed to the app."""
        if queued is None or queued.cancelled() or queued.exception() is not None:
            for exchange, report in due:
                self._each(exchange.to_app, report)
            return
        for (exchange, report), receipt in zip(due, queued.result(), strict=True):
            self._each(exchange.give, report, receipt)

    @staticmethod
    def _each(step: Callable[..., None], *args: Any) -> None:
        """One request's step of a batch's: its fault (its connection closed) leaves the others' to them."""
        try:
            step(*args)
        except Exception:
            log.exception("a verification's answer failed")

    def record(self, ticket: Ticket, status: int, elapsed: float) -> None:
        """Metrics and the JSON log line, as the app's for the route."""
        self.ctx.observed(ticket.seen, status, elapsed)

    def gone(self, ticket: Ticket) -> None:
        """The client went away before its body was in: logged as the app logs it."""
        middleware.log.info("client went away", extra={"request_id": ticket.seen["state"]["request_id"],
                                                       "method": "POST", "path": ROUTE.path})
