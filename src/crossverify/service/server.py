"""How ``crossverify serve`` runs the app: uvicorn with its httptools protocol (HTTP/1.1 parsed in C) on uvloop's
event loop (libuv; asyncio's own in an environment installed without it), plus the bounds a public server needs
that this protocol lacks. httptools accepts a request head (request line and headers) of any size, and uvicorn
waits for one for ever; :class:`GuardedHttp` answers a head over ``max_header_bytes`` with 431 and one that has
not arrived ``head_timeout`` seconds after the connection opened or its first byte came with 408, closing the
connection either way, and answers unparsable requests with problem details too. The body's bounds are the
app's own (:class:`~crossverify.service.middleware.Front`), so they hold under any server. It also writes each
response's head together with the first part of its body: one write, one segment on the wire instead of two.
A bank's plain verification is answered by the protocol itself, through the fast lane of
:mod:`crossverify.service.lane`: its body goes from the parser to the verification queue and its verdict from the
queue to the socket.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from ..config import ServiceSettings
from ..verifier.client import VerificationReport
from . import problems
from .dependencies import off_the_loop
from .lane import CHECKED, PATH, ROUTE, Ticket, VerifyLane
from .problems import BAD_REQUEST, HEAD_TOO_LARGE, REQUEST_TIMEOUT, ProblemType


class _Refused(Exception):
    """Stops the parser of a request that was answered already."""


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request head bounded in size and time (set per server by
    :func:`config`). The head's bytes are counted as they arrive; the connections awaiting a head are checked
    each second by one timer per event loop, so the bound costs a request a dictionary entry."""

    max_head_bytes = 16 * 1024
    head_timeout = 10.0
    #: The fast lane of the app this server serves (none: the app answers every request).
    lane: ClassVar[VerifyLane | None] = None
    #: Connections awaiting a request's head, and when it is due (one table per server's protocol class).
    awaiting: ClassVar[dict[GuardedHttp, float]] = {}
    ticking: ClassVar[asyncio.AbstractEventLoop | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes, self._chunk, self._head_open = 0, 0, True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.awaiting.pop(self, None)
        exchange: object = self.cycle
        if isinstance(exchange, _LaneExchange):
            self.cycle = None  # type: ignore[assignment]
            exchange.disconnected = True
            if exchange.running and not exchange.complete and not exchange.response_complete:  # its body never
                exchange.response_complete = True  # came whole: logged and counted as the app does
                assert self.lane is not None
                self.lane.gone(exchange.ticket)
                self.lane.record(exchange.ticket, 499, self.loop.time() - exchange.started)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._chunk = len(data)
        super().data_received(data)
        if self._head_open and not self.transport.is_closing():  # all of it head (or the previous body's end)
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes, self._head_open = 0, True
        self._await_head()

    def on_headers_complete(self) -> None:
        self._head_open = False
        self.awaiting.pop(self, None)
        # The head is within the chunks that brought it; measured exactly only when those could exceed the bound.
        if self._head_bytes + self._chunk > self.max_head_bytes and self._head_size() > self.max_head_bytes:
            self._too_large()
            raise _Refused  # stops the parser: the request never reaches the app
        if self.lane is not None and self._by_lane(self.lane):
            return
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # a request's cycle (not an upgrade): its writes joined
            self._join(cycle)

    def on_body(self, body: bytes) -> None:
        exchange: object = self.cycle
        if type(exchange) is _LaneExchange:
            exchange.body += body
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        exchange: object = self.cycle
        if type(exchange) is _LaneExchange:
            exchange.complete = True
            if exchange.running:
                self.awaiting.pop(self, None)
                exchange.verify()
        else:
            super().on_message_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if type(cycle) is _LaneExchange:  # type: ignore[comparison-overlap]  # a pipelined request's turn
            self._start_lane(cycle)
        else:
            super()._start_asgi_task(cycle, app)

    def _join(self, cycle: RequestResponseCycle) -> None:
        joined = _HeadWithBody(self.transport, cycle)
        cycle.transport, cycle.on_response = joined, joined.completed  # type: ignore[assignment]

    def _by_lane(self, lane: VerifyLane) -> bool:
        """Whether the fast lane takes this request, whose head is in: then the protocol, not the app, reads its
        body and answers it (in its turn on the connection, as uvicorn runs pipelined requests)."""
        parser = self.parser
        if parser.get_method() != b"POST" or self.expect_100_continue or self.root_path:
            return False
        path, _, query = self.url.partition(b"?")
        if path != PATH or b"#" in query or parser.get_http_version() != "1.1" or parser.should_upgrade():
            return False
        ticket = lane.admit(query, self.headers)
        if ticket is None:
            return False
        scope = self.scope
        scope["method"], scope["path"], scope["raw_path"], scope["query_string"] = "POST", ROUTE.path, path, query
        exchange = _LaneExchange(self, ticket, scope, parser.should_keep_alive(), self.loop.time())
        existing, self.cycle = self.cycle, exchange  # type: ignore[assignment]
        if existing is None or existing.response_complete:
            self._start_lane(exchange)
        else:
            self.flow.pause_reading()
            self.pipeline.appendleft((exchange, self.app))  # type: ignore[arg-type]
        return True

    def _start_lane(self, exchange: _LaneExchange) -> None:
        """The lane's request has its turn: verified once its body is in, which is due ``timeout`` from now."""
        assert self.lane is not None
        exchange.running = True
        exchange.started = self.loop.time()
        if exchange.complete:
            exchange.verify()
        else:
            self._await(exchange.started + self.lane.timeout)

    def answered(self, exchange: _LaneExchange, report: VerificationReport) -> None:
        """The queue checked the lane's request: its verdict, once its receipt is queued with those of its batch
        when it records one (:meth:`VerifyLane.receipt_due`)."""
        assert self.lane is not None
        if self.lane.records(exchange.ticket, report):
            self.lane.receipt_due(exchange, report)
        else:
            self.give(exchange, report, None)

    def give(self, exchange: _LaneExchange, report: VerificationReport, receipt: dict[str, Any] | None) -> None:
        """The verdict on ``report``, with where its ``receipt`` stands (the app answers it from ``report`` if that
        fails: checked once, its challenge consumed once)."""
        assert self.lane is not None
        try:
            content = self.lane.ctx.verdict_text(report, receipt)
        except Exception:
            self.to_app(exchange, report)
            return
        self._write(exchange, 200, [(b"content-length", str(len(content)).encode()),
                                    (b"content-type", b"application/json")], content)
        self.lane.record(exchange.ticket, 200, self.loop.time() - exchange.started)

    def to_app(self, exchange: _LaneExchange, report: VerificationReport) -> None:
        """The app answers the lane's request from its ``report`` (its receipt queued again, the verdict withdrawn
        if it must be: :meth:`Context.receipt`)."""
        exchange.scope["state"][CHECKED] = report
        self.hand_over(exchange)

    def hand_over(self, exchange: _LaneExchange) -> None:
        """The app answers a request the lane took but cannot answer (its verification failed, or its receipt
        could not be queued): its body in, its rate-limit token spent already (the route counts it no more)."""
        state = exchange.scope["state"]
        state["client"] = state["counted"] = exchange.ticket.client
        cycle = RequestResponseCycle(
            scope=exchange.scope, transport=self.transport, flow=self.flow, logger=self.logger,
            access_logger=self.access_logger, access_log=self.access_log,
            default_headers=self.server_state.default_headers, message_event=asyncio.Event(),
            expect_100_continue=False, keep_alive=exchange.keep_alive, on_response=self.on_response_complete)
        cycle.body, cycle.more_body, cycle.disconnected = exchange.body, False, exchange.disconnected
        cycle.message_event.set()
        if self.cycle is exchange:  # type: ignore[comparison-overlap]
            self.cycle = cycle
        self._join(cycle)
        super()._start_asgi_task(cycle, self._answering(exchange))

    def _answering(self, exchange: _LaneExchange) -> Any:
        """The app, for a request the lane hands over: a report of the lane's that the route never took (the
        client left before the app read the body) is a verdict not given, withdrawn unless its receipt may be
        queued (:meth:`Context.withdraw_unless_queued`)."""
        app, lane = self.app, self.lane
        assert lane is not None

        async def answering(scope: Any, receive: Any, send: Any) -> None:
            try:
                await app(scope, receive, send)
            finally:
                report = scope["state"].pop(CHECKED, None)
                if report is not None:  # (off the loop: the outbox's store may be locked or slow)
                    await off_the_loop(lane.ctx.withdraw_unless_queued, report, exchange.ticket.case)

        return answering

    def _write(self, exchange: _LaneExchange, status: int, headers: list[tuple[bytes, bytes]],
               content: bytes) -> None:
        """The lane's answer, as uvicorn writes the app's: its default headers (server, date), ``headers``, the
        request id, ``Connection: close`` unless kept alive; one write. The connection's next request waits until
        the answers the client has not read yet are under the transport's bound, as the app's answer would."""
        if exchange.disconnected or self.transport.is_closing():
            exchange.response_complete = True
            return
        close = not exchange.keep_alive or (b"connection", b"close") in headers
        out = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *headers,
                            (b"x-request-id", exchange.ticket.request_id)]:
            out += [name, b": ", value, b"\r\n"]
        if not exchange.keep_alive and (b"connection", b"close") not in headers:
            out.append(b"connection: close\r\n")
        out += [b"\r\n", content]
        self.transport.write(b"".join(out))
        if close:
            exchange.keep_alive = False
            self.transport.close()
        elif self.flow.write_paused:  # a client that does not read its answers: its requests wait, unread
            task = self.loop.create_task(self._drained(exchange))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)
            return
        exchange.response_complete = True
        self.on_response_complete()

    async def _drained(self, exchange: _LaneExchange) -> None:
        await self.flow.drain()
        exchange.response_complete = True
        if not exchange.keep_alive:  # the server is shutting down
            self.transport.close()
        self.on_response_complete()

    def _late(self) -> None:
        """The head (or the lane's body) did not arrive in time: 408, and the connection is closed."""
        exchange: object = self.cycle
        if self.transport.is_closing():
            return
        if self._head_open:
            self._refuse(REQUEST_TIMEOUT, f"the request's head did not arrive within {self.head_timeout:g} seconds")
        elif isinstance(exchange, _LaneExchange) and exchange.running and not exchange.complete:
            assert self.lane is not None
            detail = f"the request body did not arrive within {self.lane.timeout:g} seconds"
            content = problems.body(REQUEST_TIMEOUT, detail, ROUTE.path,
                                    exchange.ticket.seen["state"]["request_id"])
            self._write(exchange, 408, [(b"content-type", problems.MEDIA_TYPE.encode()),
                                        (b"content-length", str(len(content)).encode()), (b"connection", b"close")],
                        content)
            self.lane.record(exchange.ticket, 408, self.loop.time() - exchange.started)

    def send_400_response(self, msg: str) -> None:
        """What uvicorn sends for a request httptools cannot parse (or that was refused already)."""
        self.awaiting.pop(self, None)
        if not self.transport.is_closing():
            self._refuse(BAD_REQUEST, "the request is not well-formed HTTP/1.1")

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _too_large(self) -> None:
        self.awaiting.pop(self, None)
        self._refuse(HEAD_TOO_LARGE, f"request line and headers are limited to {self.max_head_bytes} bytes")

    def _await_head(self) -> None:
        if self not in self.awaiting:
            self._await(self.loop.time() + self.head_timeout)

    def _await(self, due: float) -> None:
        self.awaiting[self] = due
        cls = type(self)
        if cls.ticking is not self.loop:
            cls.ticking = self.loop
            self.loop.call_later(1.0, cls._tick, self.loop)

    @classmethod
    def _tick(cls, loop: asyncio.AbstractEventLoop) -> None:
        """Answer 408 to the connections whose head (or lane's body) is late; come again in a second while any
        is awaited."""
        now = loop.time()
        for protocol, due in list(cls.awaiting.items()):
            if due <= now:
                del cls.awaiting[protocol]
                protocol._late()
        if cls.awaiting:
            loop.call_later(1.0, cls._tick, loop)
        else:
            cls.ticking = None

    def _refuse(self, kind: ProblemType, detail: str) -> None:
        """Answer with problem details and close the connection (the request never reached the app)."""
        target = getattr(self, "url", b"").decode("latin-1").split("?")[0] or "/"
        body = problems.body(kind, detail, target, None)
        self.transport.write(b"".join([
            STATUS_LINE[kind.status], b"content-type: ", problems.MEDIA_TYPE.encode(), b"\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n", body]))
        self.transport.close()


class _HeadWithBody:
    """The connection's transport as one response's cycle writes to it: the response's head (the write that
    follows its start) is held and written with the body's first part, or when the response completes or the
    connection closes. Everything before the head (``100 Continue``) goes out as it comes. Once the connection is
    closing, writes are dropped, as the lane drops its answers to a client gone (uvicorn marks only a connection's
    last request as disconnected: an earlier one, still answering, would write to a closed transport and fail)."""

    __slots__ = ("_completed", "_cycle", "_head", "_sent", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport, self._cycle, self._completed = transport, cycle, cycle.on_response
        self._head: bytes | None = None  # held until the body's first part
        self._sent = False  # the head went out

    def write(self, data: bytes) -> None:
        if not self._sent:
            if self._head is not None:
                data, self._head, self._sent = self._head + data, None, True
            elif self._cycle.response_started:
                self._head = data
                return
        if not self._transport.is_closing():
            self._transport.write(data)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head, self._sent = self._head, None, True
            if not self._transport.is_closing():
                self._transport.write(head)

    def completed(self) -> None:
        """The response is complete: its head goes out if no body came to join it (HEAD)."""
        self.flush()
        self._completed()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, ...: the transport's
        return getattr(self._transport, name)


class _LaneExchange:
    """A request the fast lane answers, in the place of uvicorn's request-response cycle on its connection (the
    protocol reads its current cycle's ``response_complete``, ``keep_alive``, ``disconnected`` and ``scope``):
    its body as it arrives, then its report, of which it is the queue's waiter on the connection's event loop."""

    __slots__ = ("body", "complete", "disconnected", "keep_alive", "protocol", "response_complete", "running",
                 "scope", "started", "ticket")

    def __init__(self, protocol: GuardedHttp, ticket: Ticket, scope: Any, keep_alive: bool, started: float) -> None:
        self.protocol, self.ticket, self.scope, self.keep_alive, self.started = \
            protocol, ticket, scope, keep_alive, started
        self.body = bytearray()  # grown in place as the body arrives (not copied whole at each part)
        self.complete = self.running = self.disconnected = self.response_complete = False

    def verify(self) -> None:
        assert self.protocol.lane is not None
        self.protocol.lane.queue.put(bytes(self.body), self)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self.protocol.loop

    def done(self) -> bool:
        return self.response_complete

    def set_result(self, report: VerificationReport) -> None:
        self._closing_on_fault(self.protocol.answered, report)

    def give(self, report: VerificationReport, receipt: dict[str, Any] | None) -> None:
        self._closing_on_fault(self.protocol.give, report, receipt)

    def to_app(self, report: VerificationReport) -> None:
        self._closing_on_fault(self.protocol.to_app, report)

    def _closing_on_fault(self, step: Any, *args: Any) -> None:
        try:
            step(self, *args)
        except Exception:  # a fault of the lane's own: the connection is closed (the caller logs the fault)
            self.protocol.transport.close()
            raise

    def set_exception(self, exception: BaseException) -> None:
        self.protocol.hand_over(self)


class WorkerHttp(GuardedHttp):
    """:class:`GuardedHttp` in each worker of ``crossverify serve --workers N``: uvicorn imports it by name in the
    worker, whose app factory gives it the configuration's bounds (:func:`bound_workers`)."""

    awaiting: ClassVar[dict[GuardedHttp, float]] = {}
    ticking: ClassVar[asyncio.AbstractEventLoop | None] = None


def bound_workers(settings: ServiceSettings, app: Any) -> None:
    """Give this worker's :class:`WorkerHttp` the request head's bounds of ``settings`` and ``app``'s fast lane."""
    WorkerHttp.max_head_bytes, WorkerHttp.head_timeout = settings.max_header_bytes, settings.head_timeout
    WorkerHttp.lane = _lane(app)


def _lane(app: Any) -> VerifyLane | None:
    return getattr(getattr(app, "state", None), "lane", None)


def config(app: Any, settings: ServiceSettings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration for ``app`` under ``settings``: the guarded protocol on uvloop (with ``app``'s
    fast lane, ``app.state.lane``), the keep-alive time, and logging left to crossverify's own JSON log (no
    access log: the app logs every request)."""
    protocol = type("GuardedHttp", (GuardedHttp,), {"max_head_bytes": settings.max_header_bytes,
                                                   "head_timeout": settings.head_timeout, "awaiting": {},
                                                   "ticking": None, "lane": _lane(app)})
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "http": protocol, "loop": "auto",
                               "timeout_keep_alive": settings.keep_alive, "log_config": None, "access_log": False,
                               **overrides}
    return uvicorn.Config(app, **options)
