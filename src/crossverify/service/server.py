"""How ``crossverify serve`` runs the app: uvicorn with its httptools protocol (HTTP/1.1 parsed in C) on uvloop's
event loop (libuv; asyncio's own in an environment installed without it), plus the bounds a public server needs
that this protocol lacks. httptools accepts a request head (request line and headers) of any size, and uvicorn
waits for one for ever; :class:`GuardedHttp` answers a head over ``max_header_bytes`` with 431 and one that has
not arrived ``head_timeout`` seconds after the connection opened or its first byte came with 408, closing the
connection either way, and answers unparsable requests with problem details too. The body's bounds are the
app's own (:class:`~crossverify.service.middleware.Front`), so they hold under any server. It also writes each
response's head together with the first part of its body: one write, one segment on the wire instead of two.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import ServiceSettings
from . import problems
from .problems import BAD_REQUEST, HEAD_TOO_LARGE, REQUEST_TIMEOUT, ProblemType


class _Refused(Exception):
    """Stops the parser of a request that was answered already."""


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request head bounded in size and time (set per server by
    :func:`config`). The head's bytes are counted as they arrive; the connections awaiting a head are checked
    each second by one timer per event loop, so the bound costs a request a dictionary entry."""

    max_head_bytes = 16 * 1024
    head_timeout = 10.0
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
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # a request's cycle (not an upgrade): its writes joined
            joined = _HeadWithBody(self.transport, cycle)
            cycle.transport, cycle.on_response = joined, joined.completed  # type: ignore[assignment]

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
            self.awaiting[self] = self.loop.time() + self.head_timeout
            cls = type(self)
            if cls.ticking is not self.loop:
                cls.ticking = self.loop
                self.loop.call_later(1.0, cls._tick, self.loop)

    @classmethod
    def _tick(cls, loop: asyncio.AbstractEventLoop) -> None:
        """Answer 408 to the connections whose head is late; come again in a second while any is awaited."""
        now = loop.time()
        for protocol, due in list(cls.awaiting.items()):
            if due <= now:
                del cls.awaiting[protocol]
                if protocol._head_open and not protocol.transport.is_closing():
                    protocol._refuse(REQUEST_TIMEOUT, f"the request's head did not arrive within "
                                                      f"{protocol.head_timeout:g} seconds")
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
    connection closes. Everything before the head (``100 Continue``) goes out as it comes."""

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
        self._transport.write(data)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head, self._sent = self._head, None, True
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


class WorkerHttp(GuardedHttp):
    """:class:`GuardedHttp` in each worker of ``crossverify serve --workers N``: uvicorn imports it by name in the
    worker, whose app factory gives it the configuration's bounds (:func:`bound_workers`)."""

    awaiting: ClassVar[dict[GuardedHttp, float]] = {}
    ticking: ClassVar[asyncio.AbstractEventLoop | None] = None


def bound_workers(settings: ServiceSettings) -> None:
    """Give this worker's :class:`WorkerHttp` the request head's bounds of ``settings``."""
    WorkerHttp.max_head_bytes, WorkerHttp.head_timeout = settings.max_header_bytes, settings.head_timeout


def config(app: Any, settings: ServiceSettings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration for ``app`` under ``settings``: the guarded protocol on uvloop, the keep-alive
    time, and logging left to crossverify's own JSON log (no access log: the app logs every request)."""
    protocol = type("GuardedHttp", (GuardedHttp,), {"max_head_bytes": settings.max_header_bytes,
                                                   "head_timeout": settings.head_timeout, "awaiting": {},
                                                   "ticking": None})
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "http": protocol, "loop": "auto",
                               "timeout_keep_alive": settings.keep_alive, "log_config": None, "access_log": False,
                               **overrides}
    return uvicorn.Config(app, **options)
