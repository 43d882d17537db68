"""What every route shares: the :class:`Context` built once from the session (the chain's locks, the coalescing
verification queue, each role's stores and background workers, the metrics), the authentication and rate-limit
dependencies (``Bank``, ``Issuer``, ``Regulator``, ``Visitor``).

(No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at runtime.)
"""

import asyncio
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, MutableMapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from json.encoder import encode_basestring as _quoted
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.concurrency import run_in_threadpool
from web3 import EthereumTesterProvider

from ..session import Session
from ..store import Store
from ..verifier.answers import AnswerReceipts
from ..verifier.client import Check, VerificationReport
from .auth import BUCKETS, ApiKeys, Client, RateLimit, SharedRateLimit, presented_key
from .console import COOKIE
from .problems import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, Problem
from .sessions import Sessions, sessions_store
from .workers import Periodic, VerifyQueue

log = logging.getLogger(__name__)
#: The threads that queue receipts and withdraw verdicts off the event loop (for every app of this process): the
#: outbox's store may be locked or slow, and what waits for it takes neither the loop nor the threads other work runs
#: in (anyio's, for the routes and the shared rate limits' leases).
RECEIPT_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="receipts")
#: The least time between the starts of two rounds of the receipt outbox, in seconds: a receipt is sent at most this
#: much later than it would be alone, and under load each round's transactions carry a share of the stream's.
RECEIPT_ROUNDS = 0.25
#: The longest a stopping service gives the outbox to send what is queued, in seconds (it never holds up a shutdown
#: for longer: the supervisor kills workers that are not done in 30 seconds).
LAST_FLUSH = 5.0
Scope = MutableMapping[str, Any]

#: Each check's JSON by the check's identity: the documents of a batch share most of their checks (the same
#: objects), written once. The check is kept beside its text, so that its id is not reused meanwhile.
_checks_written: dict[int, tuple[Check, str]] = {}
#: Compact JSON, as ``json.dumps(content, ensure_ascii=False, separators=(",", ":"))`` (one encoder for every call).
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_response(content: Any) -> Response:
    """``content`` as compact JSON (built directly: the verdicts are the hot path)."""
    return Response(_compact(content).encode(), media_type="application/json")


class Context:
    """Everything the routes of ``session``'s roles need, built on one thread before any request or worker can
    race for it. Workers (issuer pipeline, receipt outbox, audit index) exist for the roles that have API keys;
    :meth:`start` starts them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.settings = settings = session.config.service
        self.keys = ApiKeys(settings.api_keys)
        self.roles = roles = self.keys.roles
        self.limits, self.visitors = RateLimit(settings.requests_per_minute), \
            RateLimit(settings.resident_requests_per_minute)
        storage = session.config.storage.url
        if storage is not None:  # replicas share the database: they share the limits too
            self.buckets: Store | None = Store(storage, BUCKETS, kind="rate limits", durable=False)
        elif settings.workers > 1:  # the workers of one machine share a store beside the others
            self.buckets = Store(settings.rate_limits, BUCKETS, kind="rate limits", exclusive=False, durable=False)
        else:
            self.buckets = None
        if self.buckets is not None:
            self.limits = SharedRateLimit(self.buckets, settings.requests_per_minute, "client")
            self.visitors = SharedRateLimit(self.buckets, settings.resident_requests_per_minute, "address")
        # What sends transactions (one account's nonces) runs one at a time, under `send_lock`. A node answers each
        # thread on its own connection, so reads take no lock and never wait for a transaction to be mined; the
        # embedded chain runs in this process and answers one thread at a time: there every read takes it too.
        self.send_lock = threading.Lock()
        embedded = isinstance(session.w3.provider, EthereumTesterProvider)
        self.chain_lock: AbstractContextManager[object] = self.send_lock if embedded else nullcontext()
        self.metrics = CollectorRegistry()
        self.requests_total = Counter("crossverify_requests_total", "HTTP requests", ["route", "status"],
                                      registry=self.metrics)
        self.latency = Histogram("crossverify_request_seconds", "HTTP request time", ["route"],
                                 registry=self.metrics, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.verifications = Counter("crossverify_verifications_total", "Documents verified", ["valid"],
                                     registry=self.metrics)
        self._series: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._verified = {valid: self.verifications.labels(str(valid).lower()) for valid in (True, False)}

        self.queue = VerifyQueue(session.verifier(), self.chain_lock, on_loop=not embedded,
                                 on_loop_budget=settings.loop_budget, on_loop_read_limit=settings.loop_read_limit)
        self.outbox = outbox = session.outbox if "bank" in roles else None
        self.issuer = issuer = session.issuer() if "issuer" in roles else None
        self.pickups = pickups = session.pickups if issuer is not None else None
        self.regulator = regulator = session.regulator if "regulator" in roles else None
        self.sessions = Sessions(sessions_store(session.config), self.keys) if regulator is not None else None
        challenges = self.queue.verifier.challenges
        self.answers = answers = AnswerReceipts(challenges, outbox, lambda: self.queue.verifier.suite) \
            if outbox is not None and challenges is not None else None
        self.workers: dict[str, Periodic] = {}
        if outbox is not None:
            def outbox_round() -> object:
                if answers is not None:
                    answers.recover()  # receipts of answers kept just before a crash
                if challenges is not None:  # challenges long expired, their codes and answers
                    _housekeeping("challenge purge", lambda: challenges.purge(int(time.time())))
                return outbox.flush(session.circulation, session.sender)

            self.workers["outbox"] = Periodic("outbox", outbox_round, self.send_lock, 1.0, RECEIPT_ROUNDS)
        if issuer is not None and pickups is not None:
            batching = session.config.issuer

            def issue_round() -> object:
                _housekeeping("pickup recovery", pickups.resume)  # certificates enrolled just before a crash
                _housekeeping("pickup pruning", lambda: pickups.prune(int(time.time())))  # a batch a round
                return issuer.run(batching.max_batch, batching.max_age)

            self.workers["issuer"] = Periodic("issuer", issue_round, self.send_lock, settings.run_every)
        if regulator is not None:  # with the regulator's keys, the worker opens what it indexes
            sync = session.trail.sync if session.config.regulator.key_files else regulator.sync
            self.workers["audit"] = Periodic("audit", sync, self.send_lock, settings.run_every)

    def stores(self) -> list[Store]:
        """The stores this service opened (to check that each can be reached)."""
        challenges = self.queue.verifier.challenges
        journal = self.issuer.journal if self.issuer is not None else None
        owners = (self.outbox, challenges, journal, self.pickups, self.regulator)
        shared = (self.buckets, self.sessions.store if self.sessions is not None else None)
        return [owner.store for owner in owners if owner is not None] + [s for s in shared if s is not None]

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()

    def stop(self) -> None:
        """At shutdown: the workers stop, not waited for; the outbox's first sends what is queued, in one last round
        of :data:`LAST_FLUSH` seconds at most (receipts queued by the last requests go now, not at the next start;
        what it does not send stays queued, durable)."""
        for name, worker in self.workers.items():
            if name != "outbox":  # (no new round of theirs meanwhile)
                worker.stop(wait=0)
        outbox = self.workers.get("outbox")
        if outbox is not None and not outbox.finish(LAST_FLUSH):
            log.warning("the outbox's last flush did not end in time: what it did not send is sent on the next start",
                        extra={"worker": "outbox", "seconds": LAST_FLUSH})

    def observed(self, scope: Scope, status: int, elapsed: float) -> None:
        """Metrics and the JSON log line of a finished request."""
        route = getattr(scope.get("route"), "path", "unmatched")
        series = self._series.get((route, status))
        if series is None:  # each route and status's metrics, looked up once
            series = self._series[route, status] = (self.requests_total.labels(route, str(status)),
                                                    self.latency.labels(route))
        series[0].inc()
        series[1].observe(elapsed)
        state = scope.get("state", {})
        log.info("request", extra={"request_id": state.get("request_id"), "method": scope["method"], "route": route,
                                   "status": status, "ms": round(elapsed * 1000, 1), "client": state.get("client")})

    @staticmethod
    async def allow(limit: RateLimit, name: str) -> float:
        """``limit.allow(name)``: on the event loop for the limits in memory (microseconds) and for a token a
        shared limit holds already, in a thread for a shared one's round trip (a store's transaction)."""
        if type(limit) is RateLimit:
            return limit.allow(name)
        if isinstance(limit, SharedRateLimit) and limit.spend_leased(name):
            return 0.0
        return await run_in_threadpool(limit.allow, name)

    async def checked(self, bodies: list[bytes]) -> list[VerificationReport]:
        """The reports of ``bodies``, from the coalescing queue, awaited without holding a thread."""
        return await self.queue.check(bodies)

    def receipt(self, report: VerificationReport, purpose: str, case: str, in_person: bool = False
                ) -> dict[str, Any] | None:
        """The sealed receipt of a passing ``report`` queued in the outbox (for ``purpose``, or a presentation's own;
        under the bank's ``case``), and where it stands. If it cannot be queued and the outbox surely holds none for
        it, the verdict is withdrawn (its presentation's challenge open again, so that the request may be sent
        again); if the outbox may hold one, the challenge stays used: a verdict that left a receipt stands."""
        try:
            [state] = self.receipts([(report, purpose, case)], in_person)
        except BaseException:
            self.withdraw_unless_queued(report, case)
            raise
        return state

    async def receipt_together(self, report: VerificationReport, purpose: str, case: str, in_person: bool = False
                               ) -> dict[str, Any] | None:
        """:meth:`receipt`, queued in one transaction with those of the other requests the event loop reads in the
        same turn (as the fast lane queues a batch's), in :data:`RECEIPT_THREADS`. If they cannot be queued, each
        fails as :meth:`receipt` does (its verdict withdrawn if it must be)."""
        return await in_one_turn((self, in_person), partial(self._receipts_or_withdrawn, in_person),
                                 (report, purpose, case), RECEIPT_THREADS)

    def _receipts_or_withdrawn(self, in_person: bool, due: list[tuple[VerificationReport, str, str]]
                               ) -> list[dict[str, Any] | None]:
        try:
            return self.receipts(due, in_person)
        except BaseException:
            for report, _, case in due:
                self.withdraw_unless_queued(report, case)
            raise

    def receipts(self, due: Sequence[tuple[VerificationReport, str, str]], in_person: bool = False
                 ) -> list[dict[str, Any] | None]:
        """:meth:`receipt` for passing reports, each with its purpose and case, queued in one transaction (the fast
        lane's, a batch's at a time); if that fails, nothing is withdrawn: the caller decides."""
        if self.outbox is None:
            raise RuntimeError("receipts need the bank's outbox")
        verifier = self.queue.verifier
        made = [receipt for report, purpose, case in due
                for receipt in verifier.receipts([report], purpose, case if in_person else None)]
        commitments = self.outbox.enqueue(made, [case for _, _, case in due], verifier.suite)
        self.workers["outbox"].wake()
        return self.outbox.states(commitments)

    def withdraw_unless_queued(self, report: VerificationReport, case: str) -> None:
        """Withdraw the verdict on ``report`` (:meth:`VerifierClient.withdraw`), which was not given, unless the
        outbox may hold a receipt of its presentation under ``case`` (it cannot be read: it may)."""
        if self.outbox is not None:
            self.queue.verifier.withdraw_unless_queued([report], case, self.outbox)

    def verdict(self, report: VerificationReport, receipt: dict[str, Any] | None = None) -> dict[str, Any]:
        """The verdict as :class:`~crossverify.service.models.VerificationOut` documents it (built directly:
        this is the hot path)."""
        self._verified[report.valid].inc()
        data = report.as_json()
        data["disclosed"] = report.bundle.disclosed() if report.bundle else {}
        data["receipt"] = receipt
        return data

    def verdict_text(self, report: VerificationReport, receipt: dict[str, Any] | None = None) -> bytes:
        """:meth:`verdict` as compact JSON, the very bytes ``json.dumps`` would give, built from its parts: the
        checks' names and details go through the encoder's string escaping alone, their outcomes (three plain
        words) as they are, each check once for all the documents of a batch that share it (a fifth of the
        time)."""
        self._verified[report.valid].inc()
        written = _checks_written
        parts = []
        for c in report.checks:
            kept = written.get(id(c))
            if kept is None or kept[0] is not c:
                if len(written) >= 4096:
                    written.clear()
                kept = written[id(c)] = (c, f'{{"name":{_quoted(c.name)},"outcome":"{c.outcome._value_}","detail":'
                                            f'{_quoted(c.detail)}}}')
            parts.append(kept[1])
        checks = ",".join(parts)
        disclosed = report.bundle.disclosed() if report.bundle else {}
        return f'{_compact(report.summary())[:-1]},"checks":[{checks}],"disclosed":{_compact(disclosed)},' \
               f'"receipt":{_compact(receipt)}}}'.encode()


T = TypeVar("T")


def _housekeeping(work: str, step: Callable[[], object]) -> None:
    """Run ``step``, upkeep that a round does before its real work (recovery, tidying), without letting its failure
    stop that work (or pass for another replica's lock): logged, tried again next round."""
    try:
        step()
    except Exception as exc:
        log.warning("housekeeping failed", extra={"work": work, "error": f"{type(exc).__name__}: {exc}"})


async def off_the_loop(step: Callable[..., T], *args: Any) -> T:
    """``step(*args)`` in :data:`RECEIPT_THREADS`, awaited: submitted at once, so that a caller cancelled meanwhile (a
    server shutting down) neither stops it nor leaves it unstarted."""
    return await asyncio.shield(asyncio.wrap_future(RECEIPT_THREADS.submit(step, *args)))


#: What waits for its turn's write (:func:`in_one_turn`), by event loop and key: held until written, no longer.
_TURNS: dict[tuple[asyncio.AbstractEventLoop, Hashable], list[tuple[Any, asyncio.Future[Any]]]] = {}


async def in_one_turn(key: Hashable, write: Callable[[list[Any]], Sequence[T] | None], item: Any,
                      executor: Executor | None = None) -> T:
    """``item``'s part of one ``write`` of every item given under ``key`` on the running event loop in the same
    turn (one transaction, one disk sync, for concurrent requests), in a thread of ``executor`` (the loop's default
    when ``None``): its item of the list ``write`` returns (``None`` when it returns ``None``), or its exception. A
    caller cancelled meanwhile stops nothing: its item is written with the others."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    due = _TURNS.setdefault((loop, key), [])
    due.append((item, future))
    if len(due) == 1:
        loop.call_soon(_write_turn, loop, key, write, executor)
    return await future


def _write_turn(loop: asyncio.AbstractEventLoop, key: Hashable, write: Callable[[list[Any]], Sequence[Any] | None],
                executor: Executor | None) -> None:
    due = _TURNS.pop((loop, key))
    written: asyncio.Future[Sequence[Any] | None]
    try:
        written = loop.run_in_executor(executor, write, [item for item, _ in due])
    except RuntimeError as exc:  # the process is exiting: no thread to write in
        written = loop.create_future()
        written.set_exception(exc)

    def given(done: asyncio.Future[Sequence[Any] | None]) -> None:
        for i, (_, future) in enumerate(due):
            if future.done():  # (its caller was cancelled)
                continue
            if done.cancelled():
                future.cancel()
            elif (failure := done.exception()) is not None:
                future.set_exception(failure)
            else:
                result = done.result()
                future.set_result(None if result is None else result[i])

    written.add_done_callback(given)


class _Authenticate:
    """The dependency that admits a client of ``role`` by its API key, within its rate limit (the OpenAPI
    document marks the operations that use one as needing the Bearer key)."""

    def __init__(self, role: str) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Client:  # no thread hop for the keys and limits in memory
        ctx: Context = request.app.state.context
        key = presented_key(request.headers.get("authorization", ""), request.headers.get("x-api-key", ""))
        client = ctx.keys.identify(key) if key else None
        if client is None:
            raise Problem(UNAUTHENTICATED, "send your API key as 'Authorization: Bearer KEY'",
                          {"WWW-Authenticate": "Bearer"})
        if client.role != self.role:
            raise Problem(FORBIDDEN, f"{client.name} is {_a(client.role)}; this needs {_a(self.role)}")
        counted = request.scope.get("state", {}).get("counted") == client.name  # by the fast lane
        wait = 0.0 if counted else await ctx.allow(ctx.limits, client.name)
        if wait:
            raise Problem(RATE_LIMITED, f"{client.name} is over its rate limit",
                          {"Retry-After": str(max(1, round(wait)))})
        request.state.client = client.name
        return client


class _Supervise(_Authenticate):
    """A regulator by its API key, or by the console session its supervisor's browser holds (the HttpOnly cookie
    :mod:`crossverify.service.console` set), within the regulator's rate limit."""

    async def __call__(self, request: Request) -> Client:
        ctx: Context = request.app.state.context
        token = request.cookies.get(COOKIE)
        client = ctx.sessions.client(token) if token and ctx.sessions is not None else None
        if client is None:
            return await super().__call__(request)
        wait = await ctx.allow(ctx.limits, client.name)
        if wait:
            raise Problem(RATE_LIMITED, f"{client.name} is over its rate limit",
                          {"Retry-After": str(max(1, round(wait)))})
        request.state.client = client.name
        return client


async def _visitor(request: Request) -> None:
    """Limits the resident routes (no key) per network address: verifications, challenge and pickup codes."""
    address = _subscriber(request.client.host) if request.client else "unknown"
    ctx: Context = request.app.state.context
    wait = await ctx.allow(ctx.visitors, address)
    if wait:
        raise Problem(RATE_LIMITED, "too many requests from this address",
                      {"Retry-After": str(max(1, round(wait)))})


def _subscriber(host: str) -> str:
    """The network address a limit counts: an IPv4 address, or an IPv6 address's /64, which one subscriber holds
    whole and takes any address of at will."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if not isinstance(address, ipaddress.IPv6Address):
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


#: A route's caller, authenticated by API key as an institution of that role and within its rate limit.
Bank = Annotated[Client, Depends(_Authenticate("bank"))]
Issuer = Annotated[Client, Depends(_Authenticate("issuer"))]
Regulator = Annotated[Client, Depends(_Authenticate("regulator"))]
#: A regulator by its API key or by its console session (the routes the console reads).
Supervisor = Annotated[Client, Depends(_Supervise("regulator"))]
#: A resident page's request (no key), within the limit per network address.
Visitor = Annotated[None, Depends(_visitor)]


def no_store(response: Response) -> None:
    """A dependency: the answer stays out of every cache, the browser's included (it holds what only its caller may
    read again)."""
    response.headers["Cache-Control"] = "no-store"


def _a(role: str) -> str:
    """The role with its article: "a bank", "an issuer"."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"
