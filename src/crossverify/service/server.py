"""How ``crossverify serve`` runs the app: uvicorn with its httptools protocol (HTTP/1.1 parsed in C), plus the
bounds a public server needs that this protocol lacks. httptools accepts a request head (request line and
headers) of any size, and uvicorn waits for one for ever; :class:`GuardedHttp` answers a head over
``max_header_bytes`` with 431 and one that has not arrived ``head_timeout`` seconds after the connection opened
or its first byte came with 408, closing the connection either way, and answers unparsable requests with
problem details too. The body's bounds are the app's own (:class:`~crossverify.service.middleware.Front`), so
they hold under any server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import ServiceSettings
from . import problems
from .problems import BAD_REQUEST, HEAD_TOO_LARGE, REQUEST_TIMEOUT, ProblemType


class _HeadTooLarge(Exception):
    pass


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request head bounded in size and time (set per server by
    :func:`config`)."""

    max_head_bytes = 16 * 1024
    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """What uvicorn sends for a request httptools cannot parse (and for a head over the limit)."""
        self._disarm()
        if self._head_too_large:
            self._refuse(HEAD_TOO_LARGE, f"request line and headers are limited to {self.max_head_bytes} bytes")
        else:
            self._refuse(BAD_REQUEST, "the request is not well-formed HTTP/1.1")

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge  # stops the parser; uvicorn answers through send_400_response

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._refuse(REQUEST_TIMEOUT, f"the request's head did not arrive within {self.head_timeout:g} seconds")

    def _refuse(self, kind: ProblemType, detail: str) -> None:
        """Answer with problem details and close the connection (the request never reached the app)."""
        target = getattr(self, "url", b"").decode("latin-1").split("?")[0] or "/"
        body = problems.body(kind, detail, target, None)
        self.transport.write(b"".join([
            STATUS_LINE[kind.status], b"content-type: ", problems.MEDIA_TYPE.encode(), b"\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n", body]))
        self.transport.close()


def config(app: Any, settings: ServiceSettings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration for ``app`` under ``settings``: the guarded protocol, the keep-alive time, and
    logging left to crossverify's own JSON log (no access log: the app logs every request)."""
    protocol = type("GuardedHttp", (GuardedHttp,), {"max_head_bytes": settings.max_header_bytes,
                                                   "head_timeout": settings.head_timeout})
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "http": protocol,
                               "timeout_keep_alive": settings.keep_alive, "log_config": None, "access_log": False,
                               **overrides}
    return uvicorn.Config(app, **options)
