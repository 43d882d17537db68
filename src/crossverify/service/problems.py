"""Problem details (RFC 9457) for every error the service answers: each kind of problem has a stable ``type`` URI
``https://crossverify.example/problems/<slug>`` (docs/api.md lists them), a fixed title and a status.

The service's own problems are the :class:`ProblemType` constants below. A named error of :mod:`crossverify.errors`
is its own problem type: slug = its name in kebab case, title = its name (``JournalError`` →
``journal-error``), status from :data:`STATUS`. Errors that mean "try later" or "the service failed" (503, 502)
say so in words of their class's docstring: their own text can hold a node's address, a file path or a library's
message, which go to the log (with the request id), never to the client.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    UNAVAILABLE,
    BundleError,
    ConfigError,
    ContractRevert,
    CrossverifyError,
    JournalError,
    PickupCodeInvalid,
    PickupCodeUsed,
    PickupExpired,
    PickupLocked,
    PickupNotReady,
    PickupStoreFull,
)

log = logging.getLogger(__name__)

BASE = "https://crossverify.example/problems/"
MEDIA_TYPE = "application/problem+json"
#: Seconds a client should wait before trying again after a 503 (the node or a store is briefly away).
RETRY_UNAVAILABLE = 5


@dataclass(frozen=True, slots=True)
class ProblemType:
    """A kind of problem: ``type`` is :data:`BASE` + ``slug``; ``title`` never changes between occurrences."""

    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return BASE + self.slug


BAD_REQUEST = ProblemType("bad-request", 400, "Bad request")
UNAUTHENTICATED = ProblemType("unauthenticated", 401, "Unauthenticated")
FORBIDDEN = ProblemType("forbidden", 403, "Forbidden")
NOT_FOUND = ProblemType("not-found", 404, "Not found")
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", 405, "Method not allowed")
REQUEST_TIMEOUT = ProblemType("request-timeout", 408, "Request timeout")
IDEMPOTENCY_CONFLICT = ProblemType("idempotency-key-in-use", 409, "Idempotency key in use")
TOO_LARGE = ProblemType("request-too-large", 413, "Request too large")
UNSUPPORTED_MEDIA_TYPE = ProblemType("unsupported-media-type", 415, "Unsupported media type")
INVALID_REQUEST = ProblemType("invalid-request", 422, "Invalid request")
IDEMPOTENCY_MISMATCH = ProblemType("idempotency-key-reused", 422, "Idempotency key reused")
RATE_LIMITED = ProblemType("rate-limited", 429, "Too many requests")
HEAD_TOO_LARGE = ProblemType("request-header-fields-too-large", 431, "Request header fields too large")
INTERNAL = ProblemType("internal-error", 500, "Internal error")

#: The service's own problem types (named errors add theirs), by slug.
OWN: dict[str, ProblemType] = {p.slug: p for p in (
    BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, METHOD_NOT_ALLOWED, REQUEST_TIMEOUT, IDEMPOTENCY_CONFLICT,
    TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, INVALID_REQUEST, IDEMPOTENCY_MISMATCH, RATE_LIMITED, HEAD_TOO_LARGE, INTERNAL)}

#: Named errors: their status, and the Retry-After (seconds) sent with it, if any. The first match counts.
STATUS: tuple[tuple[tuple[type[Exception], ...], int, int | None], ...] = (
    ((PickupStoreFull,), 503, None),  # (no retry in seconds frees a handle: pickups are pruned after 30 days)
    (UNAVAILABLE, 503, RETRY_UNAVAILABLE),
    ((PickupCodeInvalid, PickupCodeUsed, PickupLocked), 403, None),
    ((PickupNotReady,), 409, 2),
    ((PickupExpired,), 410, None),
    ((BundleError, ConfigError, JournalError, ValueError), 422, None),
    ((ContractRevert,), 409, None),
    ((CrossverifyError,), 502, None),
)


class Problem(Exception):
    """An error answered as problem details of ``kind``; ``detail`` is for the client (no internals)."""

    def __init__(self, kind: ProblemType, detail: str, headers: Mapping[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.headers, self.extensions = kind, detail, dict(headers or {}), extensions


class ProblemOut(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered (``application/problem+json``)."""

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str = Field(description="Identifies the kind of problem: https://crossverify.example/problems/<slug>, "
                                  "stable (docs/api.md lists them)")
    title: str = Field(description="A short summary of the kind; for a named error, its name (e.g. JournalError)")
    status: int = Field(description="The HTTP status")
    detail: str = Field(description="What went wrong this time, in plain words")
    instance: str = Field(description="The request's path")
    requestId: str | None = Field(None, description="The X-Request-Id of the request, also in the service's log")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For invalid-request: each fault, with its location and a JSON pointer in the body")


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def slug_of(name: str) -> str:
    """``JournalError`` → ``journal-error``, ``RegistryRootAlreadyAnchored`` → ``registry-root-already-anchored``."""
    return _CAMEL.sub("-", name).lower()


def of_status(status: int) -> ProblemType:
    """The problem type for a status the framework answers by itself (404, 405, ...)."""
    for kind in OWN.values():
        if kind.status == status and kind not in (IDEMPOTENCY_CONFLICT, IDEMPOTENCY_MISMATCH):
            return kind
    phrase = HTTPStatus(status).phrase
    return ProblemType(slug_of(phrase.title().replace(" ", "").replace("-", "")), status, phrase)


def of_error(exc: Exception) -> tuple[ProblemType, str, dict[str, str]]:
    """The problem type, the client's detail and the headers for a raised error."""
    status, retry = next((code, retry) for kinds, code, retry in STATUS if isinstance(exc, kinds))
    headers = {"Retry-After": str(retry)} if retry else {}
    if not isinstance(exc, CrossverifyError):  # a ValueError from reading the request
        return INVALID_REQUEST, str(exc), headers
    name = type(exc).__name__
    detail = public_text(exc) if status >= 500 else str(exc)
    return ProblemType(slug_of(name), status, name), detail, headers


def public_text(exc: BaseException) -> str:
    """What a client may read of an internal error: its class's docstring, first paragraph."""
    doc = (type(exc).__doc__ or "").strip().split("\n\n")[0].replace("``", "`")
    return " ".join(doc.split()) or "the service could not complete the request"


def body(kind: ProblemType, detail: str, instance: str, request_id: str | None, **extensions: Any) -> bytes:
    """The problem document's bytes."""
    return json.dumps({"type": kind.uri, "title": kind.title, "status": kind.status, "detail": detail,
                       "instance": instance, "requestId": request_id, **extensions},
                      ensure_ascii=False, separators=(",", ":")).encode()


def response(request: Request, kind: ProblemType, detail: str, headers: Mapping[str, str] | None = None,
             **extensions: Any) -> Response:
    """``application/problem+json`` for ``request``, carrying its request id."""
    return Response(body(kind, detail, request.url.path, request.scope.get("state", {}).get("request_id"),
                         **extensions), status_code=kind.status, media_type=MEDIA_TYPE, headers=headers)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return response(request, exc.kind, exc.detail, exc.headers, **exc.extensions)


async def _named(request: Request, exc: Exception) -> Response:
    kind, detail, headers = of_error(exc)
    if kind.status >= 500:
        log.warning("request failed", extra={"request_id": request.scope.get("state", {}).get("request_id"),
                                             "error": f"{type(exc).__name__}: {exc}"})
    return response(request, kind, detail, headers)


async def _framework(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = of_status(exc.status_code)
    if kind is NOT_FOUND:
        detail = f"nothing is served at {request.url.path}"
    elif kind is METHOD_NOT_ALLOWED:
        detail = f"{request.url.path} does not take {request.method}; it takes {(exc.headers or {}).get('Allow')}"
    else:
        detail = exc.detail if isinstance(exc.detail, str) else kind.title
    return response(request, kind, detail, exc.headers)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    faults = [_fault(error) for error in exc.errors()[:20]]
    detail = "; ".join(f"{f['location']} {f.get('pointer', f.get('name', ''))}: {f['detail']}".replace("  ", " ")
                       for f in faults[:3])
    return response(request, INVALID_REQUEST, detail or INVALID_REQUEST.title, errors=faults)


def _fault(error: Mapping[str, Any]) -> dict[str, Any]:
    location, *path = error.get("loc", ("body",))
    fault: dict[str, Any] = {"location": location, "detail": _said(error)}
    if location == "body":
        fault["pointer"] = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in path) or "/"
    elif path:
        fault["name"] = str(path[0])
    return fault


#: Validation faults in the API's words (not the validation library's), by its error type; ``{…}`` from its context.
FAULTS = {
    "missing": "is required", "extra_forbidden": "is not a member this takes",
    "dict_type": "must be a JSON object", "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object", "list_type": "must be an array",
    "string_type": "must be a string", "int_type": "must be an integer", "int_parsing": "must be an integer",
    "int_from_float": "must be an integer", "bool_type": "must be true or false",
    "bool_parsing": "must be true or false", "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "must match {pattern}",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items", "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}", "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}", "json_invalid": "is not JSON",
}


def _said(error: Mapping[str, Any]) -> str:
    said = FAULTS.get(error.get("type", ""))
    if said is None:
        return "is not what this takes"
    try:
        return said.format(**error.get("ctx", {}))
    except (KeyError, IndexError):
        return said.split(" {")[0]


async def _internal(request: Request, exc: Exception) -> Response:
    """A fault of the service itself outside the app's front middleware (which answers and logs those inside it
    with their request id): the server logs the traceback."""
    return response(request, INTERNAL, "the service failed to answer this request")


#: The app's exception handlers: every error, the framework's included, becomes problem details.
HANDLERS: dict[int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]] = {
    Problem: _problem, CrossverifyError: _named, ValueError: _named, StarletteHTTPException: _framework,
    RequestValidationError: _invalid, Exception: _internal}


#: What each error status means, as the OpenAPI document describes it.
MEANING = {
    400: "Not well-formed HTTP", 401: "No API key, or an unknown one", 403: "Not allowed to this client",
    404: "Not found", 408: "The request did not arrive in time; the connection is closed", 409: "Conflict",
    410: "Expired", 413: "The request body is too large", 415: "The request body is not application/json",
    422: "Invalid request", 429: "Over the rate limit: wait Retry-After seconds", 500: "A fault of the service",
    502: "The chain failed the request",
    503: "The node, the registry or a store is unavailable: retry after Retry-After",
}


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
#: The headers the answers of a status carry, as the OpenAPI document declares them (Retry-After on a 409 while the
#: conflict passes: an idempotency key in use, a pickup not ready yet).
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`: send the API key as a Bearer token",
                               "schema": {"type": "string"}}},
    409: _RETRY_AFTER,
    415: {"Accept-Post": {"description": "`application/json`: the media type request bodies take",
                          "schema": {"type": "string"}}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for ``statuses``, each problem details, with the headers the status has (:data:`HEADERS`)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"description": MEANING[status], "content": {MEDIA_TYPE: {
            "schema": {"$ref": "#/components/schemas/Problem"}}}}
        if status in HEADERS:
            out[status]["headers"] = HEADERS[status]
    return out
