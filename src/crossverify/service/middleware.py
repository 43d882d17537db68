"""The service's plain ASGI middleware, on every request's path before the framework: request ids, metrics and
the log line, and the body's bounds in size and time (:class:`Front`); strict I-JSON reading of JSON bodies
(:class:`StrictJson`); HEAD answered as GET without its body (:class:`Head`)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import BundleError
from ..format.strict_json import MAX_DEPTH, read_json
from . import problems
from .problems import INTERNAL, REQUEST_TIMEOUT, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, ProblemType

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Front:
    """The first middleware every request meets. It gives the request an id (the client's ``X-Request-Id``, or a
    new one), answers it in a header, and hands ``record`` the request's scope, status and seconds for metrics
    and the JSON log (499 for a client that went away). It bounds a request body: at most ``limit`` bytes (413,
    by Content-Length or as it streams in), all of it within ``timeout`` seconds of the request's head (408,
    and the connection is closed: a slow sender holds no worker; one timer a second checks every body being
    read, so the bound costs a request a dictionary entry). It adds the headers a route put in the request's state
    under :data:`ANSWER_HEADERS` to whatever it answers. A client that goes away before its
    body is in is logged as such, and answered nothing. A fault of the service itself is logged with the
    request id and its traceback and answered 500 (the connection stays usable)."""

    def __init__(self, app: ASGIApp, record: Callable[[Scope, int, float], None], limit: int,
                 timeout: float) -> None:
        self.app, self.record, self.limit, self.timeout = app, record, limit, timeout
        #: Each request whose body is being read, and when it is due.
        self._due: dict[_Exchange, float] = {}
        self._ticking: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"")
        request_id = request_id_text(given) if given else new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        exchange = _Exchange(given or request_id.encode(), receive, send, self.limit, state)
        try:
            declared = headers.get(b"content-length")
            if (declared is None and b"transfer-encoding" not in headers) or declared == b"0":
                await self.app(scope, receive, exchange.send)  # no body
            elif declared is not None and (not declared.isdigit() or int(declared) > self.limit):
                await self._too_large(scope, exchange.send)
            else:
                await self._bounded(scope, exchange)
        except Exception:
            exchange.status = 500
            log.exception("request failed", extra={"request_id": request_id, "method": scope["method"],
                                                   "path": scope["path"]})
            if exchange.answering:
                raise  # half answered: the server closes the connection
            await send_problem(scope, exchange.send, INTERNAL, INTERNAL_DETAIL)
        finally:
            self.record(scope, exchange.status, time.perf_counter() - started)

    async def _bounded(self, scope: Scope, exchange: _Exchange) -> None:
        """Run the app with the body bounded in size and time."""
        loop = asyncio.get_running_loop()
        exchange.task = asyncio.current_task()
        self._due[exchange] = loop.time() + self.timeout
        if self._ticking is not loop:  # one timer per event loop checks every body being read, each second
            self._ticking = loop
            loop.call_later(1.0, self._tick, loop)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except _TooLarge:
            if not exchange.answering:
                await self._too_large(scope, exchange.send)
        except _Gone:
            exchange.status = 499
            log.info("client went away", extra={"request_id": scope["state"]["request_id"],
                                                "method": scope["method"], "path": scope["path"]})
        except asyncio.CancelledError:
            if not exchange.expired:
                raise
            exchange.task.uncancel()  # type: ignore[union-attr]
            await send_problem(scope, exchange.send, REQUEST_TIMEOUT, f"the request body did not arrive within "
                               f"{self.timeout:g} seconds", _CLOSE)
        finally:
            self._due.pop(exchange, None)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        """Expire the bodies past their time; come again in a second while any is being read."""
        now = loop.time()
        for exchange, due in list(self._due.items()):
            if due <= now and exchange.task is not None and exchange.task.get_loop() is loop:
                del self._due[exchange]
                exchange.expire()
        if self._due:
            loop.call_later(1.0, self._tick, loop)
        else:
            self._ticking = None

    async def _too_large(self, scope: Scope, send: Send) -> None:
        """413, closing the connection: the rest of the body is not worth reading."""
        await send_problem(scope, send, TOO_LARGE, f"request bodies are limited to {self.limit} bytes", _CLOSE)


def request_id_text(given: bytes) -> str:
    """A client's ``X-Request-Id`` as its logs and problem bodies show it: UTF-8, as clients write ids beyond ASCII,
    or else Latin-1, HTTP's own reading of a header (its bytes are written back as they came either way)."""
    try:
        return given.decode("utf-8")
    except UnicodeDecodeError:
        return given.decode("latin-1")


def new_request_id() -> str:
    """A request id unique among this process's and any other's: a random 64-bit prefix per process (drawn again
    in a forked child) and a counter, 32 hex digits as a UUID's (without drawing randomness per request)."""
    return f"{_prefix}{next(_counter):016x}"


def _new_prefix() -> None:
    global _prefix, _counter
    _prefix, _counter = os.urandom(8).hex(), itertools.count()


_prefix, _counter = "", itertools.count()
_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)

_CLOSE = [(b"connection", b"close")]
#: Where a route puts the headers every answer to its request carries (problem details and its own answers alike).
ANSWER_HEADERS = "answer_headers"
INTERNAL_DETAIL = "the service failed to answer this request; quote its request id"


class Head:
    """HEAD on any resource answers what GET would, headers only (RFC 9110, 9.3.2): the request is routed as a
    GET and the body of the answer is dropped (its Content-Length stays, as GET's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Any) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class _Exchange:
    """One request as :class:`Front` follows it: its status, and its body as it arrives (size, completeness)."""

    __slots__ = (
        "_receive",
        "_send",
        "answering",
        "complete",
        "expired",
        "limit",
        "request_id",
        "seen",
        "state",
        "status",
        "task",
    )

    def __init__(self, request_id: bytes, receive: Receive, send: Send, limit: int, state: dict[str, Any]) -> None:
        self.request_id, self._receive, self._send, self.limit, self.state = request_id, receive, send, limit, state
        self.status, self.seen, self.answering, self.complete, self.expired = 500, 0, False, False, False
        self.task: asyncio.Task[Any] | None = None

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.answering, self.status = True, message["status"]
            message["headers"] = [*message.get("headers", []), (b"x-request-id", self.request_id),
                                  *self.state.get(ANSWER_HEADERS, ())]
        await self._send(message)

    async def receive(self) -> Any:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            if not self.complete:
                raise _Gone
            return message
        self.seen += len(message.get("body", b""))
        if self.seen > self.limit:
            raise _TooLarge
        if not message.get("more_body", False):
            self.complete = True
        return message

    def expire(self) -> None:
        """The body is late: unless the answer has begun, cancel the request (:class:`Front` answers 408)."""
        if not self.answering and not self.complete and self.task is not None:
            self.expired = True
            self.task.cancel()


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client disconnected before its request body was in."""


async def _whole_body(receive: Receive) -> bytes | None:
    """The request's body, once all of it is in; ``None`` if the client went away first."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app ``body``, already read, then hands over to the client's ``receive``."""
    replayed = False

    async def replay() -> Any:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class StrictJson:
    """Reads every JSON request body as I-JSON before the framework parses it: bounded depth (the process runs
    with web3's raised recursion limit, so a deep body could otherwise overflow the C stack), numbers exactly
    what they read as, no member named twice, no lone surrogate. A body that breaks a rule gets a 422 naming
    the error and its JSON pointer; a body that is not JSON at all, a 415. Routes in ``raw`` read their bodies
    themselves (as a bundle, with a verdict for a bad one, whatever its media type) and are passed through."""

    def __init__(self, app: ASGIApp, limit: int, raw: set[str]) -> None:
        self.app, self.limit, self.raw = app, limit, raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.raw:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if not (media_type == b"application/json" or media_type.endswith(b"+json")):
            if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
                given = media_type.decode("latin-1") or "a body without Content-Type"
                await send_problem(scope, send, UNSUPPORTED_MEDIA_TYPE, f"request bodies are application/json, not "
                                   f"{given}", [(b"accept-post", b"application/json")])
                return
            await self.app(scope, receive, send)  # no body
            return
        body = await _whole_body(receive)
        if body is None:
            return
        if body:
            try:  # two levels more than a bundle's: a batch carries bundles in {"bundles": [...]}
                await run_in_threadpool(read_json, body, self.limit, MAX_DEPTH + 2)
            except BundleError as exc:
                kind, detail, _ = problems.of_error(exc)
                await send_problem(scope, send, kind, detail)
                return
        await self.app(scope, _replaying(body, receive), send)


async def send_problem(scope: Scope, send: Send, kind: ProblemType, detail: str,
                       headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Answer the request of ``scope`` with problem details, from below the framework."""
    content = problems.body(kind, detail, scope["path"], scope.get("state", {}).get("request_id"))
    await send({"type": "http.response.start", "status": kind.status,
                "headers": [(b"content-type", problems.MEDIA_TYPE.encode()),
                            (b"content-length", str(len(content)).encode()), *headers]})
    await send({"type": "http.response.body", "body": content})
