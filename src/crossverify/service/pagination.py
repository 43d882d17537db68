"""Cursor pagination, as every list of the API pages: ``?limit=`` (1 to 1000, default 100) and ``?cursor=`` (the
previous page's ``next``, opaque), answered with ``next`` (``null`` on the last page) and a ``Link: <…>;
rel="next"`` header. A cursor names a position, not an offset: what is added while a client pages is not
skipped or repeated."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import Query, Request, Response

from .problems import INVALID_REQUEST, Problem

Limit = Annotated[int, Query(ge=1, le=1000, description="How many items a page holds")]
#: The ``responses`` of a paged list's operation: its ``Link`` to the next page.
PAGED: dict[int | str, dict[str, Any]] = {200: {"headers": {"Link": {
    "description": "`<path?query>; rel=\"next\"`: the next page (absent on the last)", "schema": {"type": "string"}}}}}
Cursor = Annotated[str | None, Query(max_length=64, description="Where the page starts: the previous page's `next` "
                                                                "(leave out for the first page)")]


def position(cursor: str | None, kind: str) -> int:
    """The position ``cursor`` (made by :func:`cursor` for ``kind``) names; 0 for the first page."""
    if cursor is None:
        return 0
    try:
        named, _, at = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        if named == kind and at.isascii() and at.isdigit() and int(at) < 2**63:  # a position a store holds
            return int(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Problem(INVALID_REQUEST, "not a cursor of this list: pass a page's `next` as it came",
                  errors=[{"location": "query", "name": "cursor", "detail": "not a cursor of this list"}])


def cursor(kind: str, at: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{at}".encode()).decode().rstrip("=")


def next_page(request: Request, response: Response, kind: str, last: int | None) -> str | None:
    """The ``next`` of a page that ended at position ``last`` (``None``: it was the last page), with its Link."""
    if last is None:
        return None
    following = cursor(kind, last)
    url = request.url.include_query_params(cursor=following)
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return following
