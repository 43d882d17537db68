"""Deprecating an operation before its removal (docs/api.md, "Versions"): the OpenAPI document marks it
``deprecated``, and every answer carries ``Deprecation`` (RFC 9745: since when), ``Sunset`` (RFC 8594: when it
goes) and a ``Link`` to its successor, so clients and their logs see it months ahead."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Request

from .middleware import ANSWER_HEADERS

#: The headers every answer of a deprecated operation carries, as the OpenAPI document declares them.
ANNOUNCED: dict[str, Any] = {
    "Deprecation": {"description": "`@<unix time>` (RFC 9745): the operation is deprecated since then",
                    "schema": {"type": "string"}},
    "Sunset": {"description": "An HTTP date (RFC 8594): the operation is removed then", "schema": {"type": "string"}},
    "Link": {"description": "`<path>; rel=\"successor-version\"`: the operation that replaces it, if any",
             "schema": {"type": "string"}},
}


def deprecated(since: datetime, sunset: datetime, successor: str | None = None) -> dict[str, Any]:
    """Route keyword arguments for an operation deprecated at ``since`` and removed at ``sunset`` (UTC),
    replaced by ``successor`` (a path), if any. :class:`~.middleware.Front` adds the headers to every answer
    (problem details and a route's own Response included, which would drop headers set on the dependency's); the
    OpenAPI document declares them on each (:data:`ANNOUNCED`)."""
    headers = [(b"deprecation", f"@{int(since.replace(tzinfo=UTC).timestamp())}".encode()),
               (b"sunset", format_datetime(sunset.replace(tzinfo=UTC), usegmt=True).encode())]
    if successor is not None:
        headers.append((b"link", f'<{successor}>; rel="successor-version"'.encode()))

    def announce(request: Request) -> None:
        request.scope["state"][ANSWER_HEADERS] = headers

    return {"deprecated": True, "dependencies": [Depends(announce)],
            "openapi_extra": {"x-sunset": sunset.date().isoformat()}}
