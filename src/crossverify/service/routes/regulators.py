"""The regulator's routes: the audit report from the live index; the console's questions (an overview of a
period, any table's rows filtered and paged, or as CSV, a document's circulation on one timeline), answered for
the regulator's API key or its console session; and the console's login and logout.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from ...format.encoding import from_hex
from ...regulator.export import rows_csv
from ...regulator.queries import MAX_PAGE, TABLES, Filters, Supervision, parse_filters
from ...regulator.words import Names
from ..console import COOKIE
from ..dependencies import Context, Regulator, Supervisor, Visitor, no_store
from ..problems import UNAUTHENTICATED, Problem, responses
from ..sessions import IDLE

DIGEST = Path(pattern="^0x[0-9a-fA-F]{64}$", description="The document digest")


class LoginIn(BaseModel):
    key: str = Field(max_length=200, description="The regulator's API key; exchanged for a console session")


class LoginOut(BaseModel):
    name: str = Field(description="The regulator the key belongs to")
    idleSeconds: int = Field(description="The session lapses after this long unused")


def _filters(from_: str | None, to: str | None, issuer: str | None, bank: str | None, purpose: str | None,
             doc_type: str | None, kind: str | None, reason: str | None, consent: str | None) -> Filters:
    return parse_filters(from_, to, issuer=issuer, bank=bank, purpose=purpose, doc_type=doc_type, kind=kind,
                         reason=reason, consent=consent)


#: The columns of the disputes' CSV, as a dispute's row flattens (its header, the period holding a dispute or none).
DISPUTE_COLUMNS = ["disputeId", "openedAt", "verifier", "documentDigest", "issuer", "batchRoot", "reason",
                   "receiptCommitment", "statedAt", "state", "ageDays", "answers", "lastAnswerSignedByIssuer"]

Since = Annotated[str | None, Query(alias="from", description="First day of the period, YYYY-MM-DD (UTC)")]
Until = Annotated[str | None, Query(alias="to", description="Last day of the period, YYYY-MM-DD (UTC)")]
Text = Annotated[str | None, Query(max_length=64)]


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["regulators"], responses=responses(401, 403, 429, 500, 502, 503),
                       dependencies=[Depends(no_store)])  # what a regulator reads: in no cache
    session, regulator = ctx.session, ctx.regulator

    def supervision() -> Supervision:
        return session.supervision

    @routes.get("/v1/audit/report", operation_id="getAuditReport", summary="The audit report, from the live index")
    def audit_report(_: Regulator) -> dict[str, Any]:
        assert regulator is not None
        with regulator.store.lock:
            if session.opens_circulation:
                session.trail.open_new()
            return session.supervision.report().as_json()

    @routes.get("/v1/regulator/circulation/{digest}", operation_id="getCirculation",
                summary="Who verified a document, for what, with whose consent; and its disputes")
    def circulation(_: Regulator, digest: Annotated[str, DIGEST]) -> dict[str, Any]:
        opened = session.trail
        with opened.reader.store.lock:
            opened.open_new()
            return opened.circulation(from_hex(digest, 32)).as_json()

    @routes.get("/v1/regulator/freshness", operation_id="getIndexFreshness",
                summary="How far the regulator's index is behind the chain")
    def fresh(_: Supervisor) -> dict[str, Any]:
        assert regulator is not None
        with regulator.store.lock:
            return regulator.freshness().as_json()

    @routes.get("/v1/regulator/overview", operation_id="getSupervisionOverview",
                summary="A period's figures: documents issued, revoked and verified; receipts by bank, purpose, "
                        "issuer, type, consent and day; anomalies by kind; disputes; how fresh the index is")
    def overview(_: Supervisor, since: Since = None, until: Until = None) -> dict[str, Any]:
        filters = parse_filters(since, until)
        assert regulator is not None
        with regulator.store.lock:
            found = supervision().overview(filters)
            issued = supervision().issued_types()
        return {**found, "freshness": regulator.freshness().as_json(), "names": _names(ctx, issued)}

    @routes.get("/v1/regulator/tables/{table}", operation_id="getSupervisionRows",
                summary="A table's rows (receipts, anchors, revocations, anomalies), filtered, newest first, a page "
                        "at a time: pass the answer's `after` to read on")
    def rows(_: Supervisor, table: Annotated[str, Path(pattern=f"^({'|'.join(TABLES)})$")],
             since: Since = None, until: Until = None, issuer: Text = None, bank: Text = None, purpose: Text = None,
             doc_type: Annotated[str | None, Query(alias="docType", max_length=8)] = None, kind: Text = None,
             reason: Text = None, consent: Text = None,
             after: Annotated[str | None, Query(max_length=40, description="The cursor a page ended with")] = None,
             limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> dict[str, Any]:
        filters = _filters(since, until, issuer, bank, purpose, doc_type, kind, reason, consent)
        assert regulator is not None
        with regulator.store.lock:
            return dict(supervision().page(table, filters, after, limit).as_json())

    @routes.get("/v1/regulator/tables/{table}/csv", operation_id="getSupervisionRowsCsv",
                summary="Every row of a table the filters select, as CSV (UTF-8, a header line first)",
                response_class=StreamingResponse,
                responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                 "description": "The rows, as CSV"}})
    def rows_as_csv(_: Supervisor, table: Annotated[str, Path(pattern=f"^({'|'.join(TABLES)})$")],
                    since: Since = None, until: Until = None, issuer: Text = None, bank: Text = None,
                    purpose: Text = None, doc_type: Annotated[str | None, Query(alias="docType", max_length=8)] = None,
                    kind: Text = None, reason: Text = None, consent: Text = None) -> StreamingResponse:
        filters = _filters(since, until, issuer, bank, purpose, doc_type, kind, reason, consent)
        assert regulator is not None
        with regulator.store.lock:
            first = supervision().page(table, filters, None, MAX_PAGE)  # bad filters are refused before streaming
            header = supervision().columns(table)

        return StreamingResponse(rows_csv(_chain(first.rows, first.after, table, filters), header),
                                 media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="crossverify-{table}.csv"',
                                          "Cache-Control": "no-store"})

    def _chain(first: list[dict[str, Any]], after: str | None, table: str, filters: Filters
               ) -> Iterator[dict[str, Any]]:
        """The first page's rows, then the rest, a page at a time (the store locked per page only)."""
        assert regulator is not None
        yield from first
        while after is not None:
            with regulator.store.lock:
                page = supervision().page(table, filters, after, MAX_PAGE)
            yield from page.rows
            after = page.after

    @routes.get("/v1/regulator/disputes", operation_id="getSupervisionDisputes",
                summary="Every dispute opened in the period, newest first, with its answers, state and age")
    def disputes(_: Supervisor, since: Since = None, until: Until = None, bank: Text = None,
                 issuer: Text = None) -> list[dict[str, Any]]:
        filters = parse_filters(since, until, bank=bank, issuer=issuer)
        assert regulator is not None
        with regulator.store.lock:
            return list(supervision().disputes(filters))

    @routes.get("/v1/regulator/disputes/csv", operation_id="getSupervisionDisputesCsv",
                summary="The disputes of the period as CSV (UTF-8, a header line first), each with its last answer",
                response_class=StreamingResponse,
                responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                 "description": "The disputes, as CSV"}})
    def disputes_as_csv(_: Supervisor, since: Since = None, until: Until = None, bank: Text = None,
                        issuer: Text = None) -> StreamingResponse:
        filters = parse_filters(since, until, bank=bank, issuer=issuer)
        assert regulator is not None
        with regulator.store.lock:
            found = supervision().disputes(filters)
        flat = ({**{k: v for k, v in d.items() if k != "answers"}, "answers": len(d["answers"]),
                 "lastAnswerSignedByIssuer": d["answers"][-1]["signedByIssuer"] if d["answers"] else None}
                for d in found)
        return StreamingResponse(rows_csv(flat, DISPUTE_COLUMNS), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="crossverify-disputes.csv"',
                                          "Cache-Control": "no-store"})

    @routes.get("/v1/regulator/documents/{digest}", operation_id="getDocumentTimeline",
                summary="A document's circulation on one timeline: anchored, verified (by whom, for what, with what "
                        "consent), revoked, disputed, answered; and its anomalies")
    def timeline(_: Supervisor, digest: Annotated[str, DIGEST]) -> dict[str, Any]:
        assert regulator is not None
        with regulator.store.lock:
            return dict(supervision().timeline(from_hex(digest, 32)))

    @routes.post("/regulator/session", include_in_schema=False)
    def login(payload: LoginIn, request: Request, _: Visitor) -> JSONResponse:
        client = ctx.keys.identify(payload.key)
        if client is None or client.role != "regulator" or ctx.sessions is None:
            raise Problem(UNAUTHENTICATED, "that is not a regulator's API key")
        if earlier := request.cookies.get(COOKIE):  # the browser's session before this one ends, not left to lapse
            ctx.sessions.close(earlier)
        token = ctx.sessions.open(client, payload.key)
        answer = JSONResponse(LoginOut(name=client.name, idleSeconds=IDLE).model_dump(),
                              headers={"Cache-Control": "no-store"})
        answer.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/", secure=_over_https(request))
        return answer

    @routes.get("/regulator/session", include_in_schema=False)
    def who(request: Request) -> dict[str, Any]:
        """Whom the browser's session is for (``name`` null: none, or it lapsed), so the page knows to sign in."""
        token = request.cookies.get(COOKIE)
        client = ctx.sessions.client(token) if token and ctx.sessions is not None else None
        return {"name": client.name if client else None, "idleSeconds": IDLE}

    @routes.delete("/regulator/session", include_in_schema=False, status_code=204)
    def logout(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token and ctx.sessions is not None:
            ctx.sessions.close(token)
        answer = Response(status_code=204, headers={"Cache-Control": "no-store", "Clear-Site-Data": '"cookies"'})
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    return routes


def _over_https(request: Request) -> bool:
    """Whether the browser reached the service over HTTPS: directly, or through a proxy that ended TLS and says so
    (``X-Forwarded-Proto``; a client that claims it falsely only gets a cookie its browser keeps for HTTPS)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _names(ctx: Context, issued: list[tuple[str, str]]) -> dict[str, Any]:
    """The names the console shows for what the index holds as codes, in every language."""
    return Names.registered(ctx.session.metadata, issued, ctx.session.config.regulator.bank_names).as_json()
