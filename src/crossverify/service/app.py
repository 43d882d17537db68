"""The HTTP service: routes for banks, issuers and regulators over one :class:`~crossverify.session.Session`.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime,
including the role dependencies defined inside :func:`create_app`.)
"""

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..chain.records import RevocationReason
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
)
from ..format.encoding import from_hex, to_hex
from ..format.hashing import HashAlgorithm
from ..format.strict_json import MAX_DEPTH, read_json
from ..issuer.client import journal_certificates
from ..issuer.inputs import certificate_entry
from ..issuer.journal import BatchState
from ..issuer.pickup import DEFAULT_CODE_TTL
from ..session import Session
from ..verifier.answers import AnswerReceipts
from ..verifier.client import Outcome, VerificationReport
from . import regulator as regulator_routes
from . import resident
from .auth import ApiKeys, Client, RateLimit
from .workers import Periodic, VerifyQueue

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

#: Seconds a handed-over challenge's record (and the verdict kept for the clerk) outlives the challenge.
ANSWERS_KEPT = 3600
#: Error classes and the HTTP status each is answered with.
STATUS: tuple[tuple[tuple[type[Exception], ...], int], ...] = (
    (UNAVAILABLE, 503),
    ((PickupCodeInvalid, PickupCodeUsed, PickupLocked), 403),
    ((PickupNotReady,), 409),
    ((PickupExpired,), 410),
    ((BundleError, ConfigError, JournalError, ValueError), 422),
    ((ContractRevert,), 409),
    ((CrossverifyError,), 502),
)


class Problem(Exception):
    """An error answered as RFC 9457 problem details."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}


class CheckOut(BaseModel):
    name: str = Field(description="The check, e.g. anchored, not_revoked, signing_key_valid")
    outcome: str = Field(description="passed, failed or not applicable")
    detail: str = Field(description="The reason, in plain words")


class ReceiptOut(BaseModel):
    commitment: str = Field(description="The receipt's reference: the commitment recorded on chain, sealed")
    state: str = Field(description="queued, sent or recorded")
    transaction: str | None = None
    block: int | None = None


class VerificationOut(BaseModel):
    valid: bool
    docType: str | None = None
    issuer: str | None = None
    documentDigest: str | None = None
    batchRoot: str | None = None
    checks: list[CheckOut]
    purpose: str | None = Field(None, description="A presentation's purpose code, as its holder signed it")
    presentationHash: str | None = Field(None, description="SHA-256 of what the holder signed: their consent")
    disclosed: dict[str, Any] = Field(default_factory=dict, description="The claims the resident disclosed")
    receipt: ReceiptOut | None = Field(None, description="Present when a receipt was asked for")


class ChallengeOut(BaseModel):
    version: int
    aud: str = Field(description="This bank's verifier id: the presentation must name it")
    nonce: str = Field(description="32 bytes, hex: answered at most once")
    purpose: str
    expiresAt: int = Field(description="Unix seconds")


class HandOverOut(BaseModel):
    challenge: ChallengeOut
    code: str = Field(description="What the clerk shows the resident (text, or a QR code of `page`): the resident's "
                                  "page reads the challenge with it")
    page: str = Field(description="The resident page's path with the code in its fragment (never sent to a server)")


class HandOverStateOut(BaseModel):
    state: str = Field(description="open, answered (a presentation used the challenge) or expired")
    challenge: ChallengeOut
    verdict: VerificationOut | None = Field(None, description="The verdict on the presentation the resident page "
                                                               "sent in answer, when it came through the page")
    receipt: ReceiptOut | None = Field(None, description="The sealed receipt of that presentation, when it passed: "
                                                         "its reference and where it stands, as /v1/receipts shows")


class CodeIn(BaseModel):
    code: str = Field(description="The code as the resident typed it (case, spaces and dashes do not matter)",
                      max_length=64)


class PickupIn(BaseModel):
    certificate: dict[str, Any] = Field(description="An issuer input entry: reference, docType, notAfter, claims, "
                                                    "issuedAt, asOf; no cnf claim (the resident's key comes at pickup)")
    ttl: int | None = Field(None, description="Seconds the code works (default 14 days, at most 90)")


class OfferOut(BaseModel):
    reference: str
    code: str = Field(description="Hand it to the resident out of band, once; it is not stored and cannot be shown "
                                  "again (offer the reference again for a new one)")
    expiresAt: int
    page: str = Field(description="The pickup page's path with the code in its fragment, for a QR code")


class EnrolIn(CodeIn):
    jwk: dict[str, Any] = Field(description="The holder key's public JWK: kty EC, crv P-256, x, y")


class EnrolOut(BaseModel):
    reference: str
    collectToken: str = Field(description="Collects the bundle once it is anchored; keep it on the device")


class CollectIn(BaseModel):
    collectToken: str = Field(max_length=128)


class BatchVerificationIn(BaseModel):
    bundles: list[dict[str, Any]] = Field(description="Bundles as residents handed them over", max_length=1000)


class CertificatesIn(BaseModel):
    certificates: list[dict[str, Any]] = Field(
        description="Entries as in an issuer input file: reference, docType, notAfter, claims, issuedAt, asOf",
        max_length=10_000)
    supersede: bool = Field(False, description="Re-issue references whose content changed")


class RevocationIn(BaseModel):
    reference: str
    reason: str = Field(description="withdrawn, superseded, fraud or issued_in_error")


def create_app(session: Session, *, start_workers: bool = True) -> FastAPI:
    """The service for ``session``'s configuration. Workers (issuer pipeline, receipt outbox, audit index)
    start for the roles that have API keys; ``start_workers=False`` leaves them to the caller (tests)."""
    settings = session.config.service
    keys = ApiKeys(settings.api_keys)
    roles = keys.roles
    limits = RateLimit(settings.requests_per_minute)
    chain_lock = threading.Lock()
    metrics = CollectorRegistry()
    requests_total = Counter("crossverify_requests_total", "HTTP requests", ["route", "status"], registry=metrics)
    latency = Histogram("crossverify_request_seconds", "HTTP request time", ["route"], registry=metrics,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
    verifications = Counter("crossverify_verifications_total", "Documents verified", ["valid"], registry=metrics)

    app = FastAPI(title="crossverify", version="1", description=(
        "Cross-border document verification. Banks verify the bundles residents hand over; issuers submit "
        "certificates; regulators read the audit report. Errors are RFC 9457 problem details."))
    app.add_middleware(_StrictJson, limit=settings.max_body_bytes,
                       raw={"/v1/verifications", "/resident/verifications"})
    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes)

    def observed(scope: Scope, status: int, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        requests_total.labels(route, str(status)).inc()
        latency.labels(route).observe(elapsed)
        state = scope.get("state", {})
        log.info("request", extra={"request_id": state.get("request_id"), "method": scope["method"], "route": route,
                                   "status": status, "ms": round(elapsed * 1000, 1), "client": state.get("client")})

    app.add_middleware(_Observe, record=observed)  # added last, so it runs first

    # Everything a role needs is built here, on one thread, before any request or worker can race for it.
    queue = VerifyQueue(session.verifier(), chain_lock)
    outbox = session.outbox if "bank" in roles else None
    issuer = session.issuer() if "issuer" in roles else None
    pickups = session.pickups if issuer is not None else None
    regulator = session.regulator if "regulator" in roles else None
    challenges = queue.verifier.challenges
    answers = AnswerReceipts(challenges, outbox) if outbox is not None and challenges is not None else None
    workers: dict[str, Periodic] = {}
    if outbox is not None:
        def outbox_round() -> object:
            if answers is not None:
                answers.recover()  # receipts of answers kept just before a crash
            return outbox.flush(session.circulation, session.sender)

        workers["outbox"] = Periodic("outbox", outbox_round, chain_lock, 1.0)
    if issuer is not None and pickups is not None:
        batching = session.config.issuer

        def issue_round() -> object:
            pickups.resume()  # certificates enrolled just before a crash
            return issuer.run(batching.max_batch, batching.max_age)

        workers["issuer"] = Periodic("issuer", issue_round, chain_lock, settings.run_every)
    if regulator is not None:  # with the regulator's keys, the worker opens what it indexes
        sync = session.trail.sync if session.config.regulator.key_files else regulator.sync
        workers["audit"] = Periodic("audit", sync, chain_lock, settings.run_every)
    if start_workers:
        for worker in workers.values():
            worker.start()
    app.state.workers, app.state.queue, app.state.session = workers, queue, session

    def client_of(role: str) -> Callable[[Request], Client]:
        def authenticate(request: Request) -> Client:
            header = request.headers.get("authorization", "")
            key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else \
                request.headers.get("x-api-key", "")
            client = keys.identify(key) if key else None
            if client is None:
                raise Problem(401, "Unauthenticated", "send your API key as 'Authorization: Bearer KEY'",
                              {"WWW-Authenticate": "Bearer"})
            if client.role != role:
                raise Problem(403, "Forbidden", f"{client.name} is a {client.role}; this needs a {role}")
            wait = limits.allow(client.name)
            if wait:
                raise Problem(429, "Too many requests", f"{client.name} is over its rate limit",
                              {"Retry-After": str(max(1, round(wait)))})
            request.state.client = client.name
            return client
        return authenticate

    Bank = Annotated[Client, Depends(client_of("bank"))]
    Issuer = Annotated[Client, Depends(client_of("issuer"))]
    Regulator = Annotated[Client, Depends(client_of("regulator"))]

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        return _problem(request, exc.status, exc.title, exc.detail, exc.headers)

    @app.exception_handler(CrossverifyError)
    @app.exception_handler(ValueError)
    async def crossverify_error(request: Request, exc: Exception) -> JSONResponse:
        status = next(code for kinds, code in STATUS if isinstance(exc, kinds))
        return _problem(request, status, type(exc).__name__, str(exc))

    # ---------------------------------------------------------------------------------------------------------
    # operations

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Node reachable, registry present, background work current")
    def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        reachable = True
        try:
            with chain_lock:
                checks["node"] = f"block {session.w3.eth.block_number}"
                checks["registry"] = session.registry.address
        except CrossverifyError as exc:
            checks["node"], reachable = f"{type(exc).__name__}: {exc}", False
        for name, worker in workers.items():
            checks[name] = worker.last_error or ("current" if worker.last_success else "starting")
        ready = reachable and all(w.last_success and not w.last_error for w in workers.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def prometheus() -> Response:
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    # ---------------------------------------------------------------------------------------------------------
    # banks

    def verdict(report: VerificationReport, receipt: dict[str, Any] | None = None) -> dict[str, Any]:
        """The verdict as :class:`VerificationOut` documents it (built directly: this is the hot path)."""
        verifications.labels(str(report.valid).lower()).inc()
        data = report.as_json()
        data["disclosed"] = report.bundle.disclosed() if report.bundle else {}
        data["receipt"] = receipt
        return data

    async def checked(bodies: list[bytes]) -> list[VerificationReport]:
        """The reports of ``bodies``, from the coalescing queue, awaited without holding a thread."""
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in queue.submit(bodies))))

    @app.post("/v1/verifications", tags=["banks"], response_model=VerificationOut,
              summary="Verify one bundle or presentation; optionally record a receipt (exactly once per document, "
                      "purpose, case)")
    async def verify_one(request: Request, _: Bank,
                         purpose: Annotated[str | None, Query(
                             description="Record a receipt sealed to the regulators, for this purpose code (a "
                                         "presentation's own purpose counts), e.g. ACCTOPEN")] = None,
                         case: Annotated[str, Query(description="Your case reference: one receipt per case")] = "",
                         ) -> Response:
        body = await request.body()
        [report] = await checked([body])
        receipt = None
        if purpose is not None and report.valid and report.bundle and report.document_digest:
            assert outbox is not None  # a bank's key was configured, so the outbox was opened
            [commitment] = outbox.enqueue(queue.verifier.receipts([report], purpose), case)
            workers["outbox"].wake()
            receipt = outbox.state(commitment)
        return _json(verdict(report, receipt))

    @app.post("/v1/challenges", tags=["banks"], response_model=ChallengeOut,
              summary="Issue a one-time challenge for a resident to answer with a presentation")
    def challenge(_: Bank, purpose: Annotated[str, Query(description="Purpose code, e.g. ACCTOPEN")],
                  ttl: Annotated[int | None, Query(description="Seconds it stays open")] = None) -> ChallengeOut:
        issued = queue.verifier.issue_challenge(purpose, ttl or session.config.verifier.challenge_ttl)
        return ChallengeOut.model_validate(issued.to_json())

    @app.post("/v1/challenges/hand-over", tags=["banks"], response_model=HandOverOut,
              summary="Issue a one-time challenge and the code by which the resident page reads it (for the clerk to "
                      "show, as text or a QR code of `page`)")
    def hand_over(_: Bank, purpose: Annotated[str, Query(description="Purpose code, e.g. ACCTOPEN")],
                  ttl: Annotated[int | None, Query(description="Seconds it stays open")] = None) -> HandOverOut:
        issued = queue.verifier.issue_challenge(purpose, ttl or session.config.verifier.challenge_ttl)
        challenges = queue.verifier.challenges
        assert challenges is not None  # issue_challenge needs them
        code = challenges.hand_over(issued)
        challenges.purge(int(time.time()) - ANSWERS_KEPT)  # verdicts kept for clerks are not kept longer
        return HandOverOut(challenge=ChallengeOut.model_validate(issued.to_json()), code=code,
                           page=f"/resident/#code={code}")

    @app.get("/v1/challenges/hand-over/{code}", tags=["banks"], response_model=HandOverStateOut,
             summary="What became of a handed-over challenge: open, answered (with the verdict the resident page "
                     "got and, when it passed, its sealed receipt) or expired")
    def hand_over_state(code: str, _: Bank) -> HandOverStateOut:
        challenges = queue.verifier.challenges
        found = challenges.hand_over_state(code, int(time.time())) if challenges is not None else None
        if found is None:
            raise Problem(404, "Not found", "this bank handed over no challenge with that code")
        state, issued, verdict_text, kept = found
        receipt = None
        if kept is not None and answers is not None:
            commitment = answers.commitment(kept)
            receipt = answers.outbox.state(commitment)
            if receipt is None:  # kept, but a crash came before the outbox had it
                answers.recover()
                receipt = answers.outbox.state(commitment)
        given = None if verdict_text is None else {**json.loads(verdict_text), "receipt": receipt}
        return HandOverStateOut.model_validate({"state": state, "challenge": issued.to_json(), "verdict": given,
                                                "receipt": receipt})

    @app.post("/v1/verifications/batch", tags=["banks"], response_model=list[VerificationOut],
              summary="Verify many bundles at once (no receipts)")
    async def verify_many(payload: BatchVerificationIn, _: Bank) -> Response:
        texts = [json.dumps(b, ensure_ascii=False).encode() for b in payload.bundles]
        return _json([verdict(r) for r in await checked(texts)])

    @app.get("/v1/receipts/{commitment}", tags=["banks"], response_model=ReceiptOut,
             summary="Where a receipt stands, by its commitment: queued, sent or recorded on chain (sealed)")
    def receipt_state(commitment: str, _: Bank) -> ReceiptOut:
        assert outbox is not None
        state = outbox.state(from_hex(commitment, 32))
        if state is None:
            raise Problem(404, "Not found", "no receipt with that commitment")
        return ReceiptOut.model_validate(state)

    visitors = RateLimit(settings.resident_requests_per_minute)

    def visitor(request: Request) -> None:
        """Limits the resident routes (no key) per network address: verifications, challenge and pickup codes."""
        address = request.client.host if request.client else "unknown"
        wait = visitors.allow(address)
        if wait:
            raise Problem(429, "Too many requests", "too many requests from this address",
                          {"Retry-After": str(max(1, round(wait)))})

    Visitor = Annotated[None, Depends(visitor)]
    if roles & {"bank", "issuer"}:
        resident.mount(app, roles)

    if "bank" in roles:
        largest = session.config.verifier.max_bundle_bytes

        @app.post("/resident/challenges", tags=["residents"], response_model=ChallengeOut,
                  summary="The resident page reads the challenge the bank's clerk handed over, by its code")
        def challenge_by_code(payload: CodeIn, _: Visitor) -> ChallengeOut:
            challenges = queue.verifier.challenges
            if challenges is None:
                raise Problem(404, "Not found", "this bank issues no challenges ([verifier] audience is not set)")
            return ChallengeOut.model_validate(challenges.by_code(payload.code, int(time.time())).to_json())

        @app.post("/resident/verifications", tags=["residents"], response_model=VerificationOut,
                  summary="The resident page's own request: verify the bundle or presentation it made; a "
                          "presentation that answers the bank's challenge and passes leaves one sealed receipt")
        async def verify_for_resident(request: Request, _: Visitor) -> Response:
            body = await request.body()
            if len(body) > largest:
                raise Problem(413, "Request too large", f"a bundle is at most {largest} bytes")
            [report] = await checked([body])
            data = verdict(report)
            fresh = next((c for c in report.checks if c.name == "challenge_fresh"), None)
            if report.presentation is not None and fresh is not None and fresh.outcome is Outcome.PASSED:
                assert answers is not None  # the challenge was consumed in this bank's store
                receipt = next(iter(queue.verifier.receipts([report])), None)  # none for a failed verification
                commitment = answers.answer(report.presentation.binding.nonce, json.dumps(data), receipt)
                if commitment is not None:
                    workers["outbox"].wake()
                    data["receipt"] = answers.outbox.state(commitment)
            return _json(data)

    # ---------------------------------------------------------------------------------------------------------
    # issuers

    @app.post("/v1/certificates", tags=["issuers"], summary="Submit certificates (idempotent by reference)")
    def submit(payload: CertificatesIn, _: Issuer) -> dict[str, int]:
        issuer_id, now = session.issuer_id, int(time.time())
        entries = [certificate_entry(item, issuer_id, now) for item in payload.certificates]
        ids = journal_certificates(session.journal, issuer_id, entries,
                                   HashAlgorithm.from_label(session.config.issuer.hash_alg),
                                   supersede=payload.supersede)
        workers["issuer"].wake()
        return {"journalled": len(ids)}

    @app.get("/v1/batches", tags=["issuers"], summary="Batches and where each stands")
    def batches(_: Issuer) -> dict[str, Any]:
        journal = session.journal
        with journal.store.lock:
            found = journal.batches(session.issuer_id, *BatchState)
            counts = journal.counts(session.issuer_id)
        return {"counts": counts, "batches": [
            {"id": b.id, "state": b.state.value, "docType": b.doc_type, "documents": b.documents,
             "root": to_hex(b.root), "anchorBlock": b.anchor_block} for b in found]}

    @app.post("/v1/revocations", tags=["issuers"], summary="Revoke a document by its reference (final)")
    def revoke(payload: RevocationIn, _: Issuer) -> dict[str, str]:
        try:
            reason = RevocationReason[payload.reason.upper()]
        except KeyError:
            raise Problem(422, "Unknown reason", f"reason must be one of "
                          f"{', '.join(r.name.lower() for r in RevocationReason if r)}") from None
        assert issuer is not None
        with chain_lock:
            issuer.revoke(reason, reference=payload.reference)
        return {"revoked": payload.reference, "reason": reason.name.lower()}

    @app.post("/v1/pickups", tags=["issuers"], response_model=OfferOut,
              summary="Offer a certificate for pickup: the resident enrols their key with the code, once")
    def offer_pickup(payload: PickupIn, _: Issuer) -> OfferOut:
        assert pickups is not None
        offer = pickups.offer(payload.certificate, int(time.time()), payload.ttl or DEFAULT_CODE_TTL)
        return OfferOut(reference=offer.reference, code=offer.code, expiresAt=offer.expires_at,
                        page=f"/resident/pickup/#code={offer.code}")

    @app.get("/v1/pickups/{reference}", tags=["issuers"], summary="Where a pickup stands")
    def pickup_state(reference: str, _: Issuer) -> dict[str, str]:
        assert pickups is not None
        state = pickups.state(reference)
        if state is None:
            raise Problem(404, "Not found", "no pickup was offered for that reference")
        found = session.journal.find(session.issuer_id, reference=reference)
        batch = found.batch_state.value if found and found.batch_state else None
        return {"reference": reference, "state": batch if state == "journalled" and batch else state}

    if pickups is not None:
        @app.post("/resident/pickups/enrol", tags=["residents"], response_model=EnrolOut,
                  summary="The pickup page enrols the resident's new holder key with their one-time code")
        def enrol(payload: EnrolIn, _: Visitor) -> EnrolOut:
            enrolment = pickups.enrol(payload.code, payload.jwk, int(time.time()))
            workers["issuer"].wake()
            return EnrolOut(reference=enrolment.reference, collectToken=enrolment.collect_token)

        @app.post("/resident/pickups/collect", tags=["residents"],
                  summary="The pickup page collects the bundle, once it is anchored (409 with Retry-After until then)")
        def collect(payload: CollectIn, _: Visitor) -> Response:
            try:
                bundle = pickups.collect(payload.collectToken, int(time.time()))
            except PickupNotReady as exc:
                raise Problem(409, "PickupNotReady", str(exc), {"Retry-After": "2"}) from None
            return Response(bundle, media_type="application/json", headers={"Cache-Control": "no-store"})

    # ---------------------------------------------------------------------------------------------------------
    # regulators

    @app.get("/v1/audit/report", tags=["regulators"], summary="The audit report, from the live index")
    def audit_report(_: Regulator) -> dict[str, Any]:
        assert regulator is not None
        with regulator.store.lock:
            report = session.trail.report() if session.config.regulator.key_files else regulator.report()
            return report.as_json()

    app.include_router(regulator_routes.router(lambda: session.trail, client_of("regulator")))

    return app


def _json(content: Any) -> Response:
    return Response(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode(),
                    media_type="application/json")


class _Observe:
    """Gives every request an id (the client's ``X-Request-Id``, or a new one), answers it in a header, and hands
    ``record`` the request's scope, status and seconds for metrics and the JSON log."""

    def __init__(self, app: ASGIApp, record: Callable[[Scope, int, float], None]) -> None:
        self.app, self.record = app, record

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = given or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.record(scope, status, time.perf_counter() - started)


def _problem(request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None
             ) -> JSONResponse:
    slug = "".join(f"-{c.lower()}" if c.isupper() else c for c in title.replace(" ", "")).lstrip("-")
    return JSONResponse(
        {"type": f"urn:crossverify:problem:{slug}", "title": title, "status": status, "detail": detail,
         "instance": request.url.path, "requestId": getattr(request.state, "request_id", None)},
        status_code=status, media_type="application/problem+json", headers=headers)


class _BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413, by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and int(declared) > self.limit:
            await _too_large(self.limit, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(self.limit, send)


class _TooLarge(Exception):
    pass


class _StrictJson:
    """Reads every JSON request body as I-JSON before the framework parses it: bounded depth (the process runs
    with web3's raised recursion limit, so a deep body could otherwise overflow the C stack), numbers exactly
    what they read as, no member named twice, no lone surrogate. A body that breaks a rule gets a 422 naming
    the error and its JSON pointer. Routes in ``raw`` read their bodies themselves (as a bundle, with a
    verdict for a bad one) and are passed through."""

    def __init__(self, app: ASGIApp, limit: int, raw: set[str]) -> None:
        self.app, self.limit, self.raw = app, limit, raw

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if (scope["type"] != "http" or scope["path"] in self.raw
                or not content_type.split(b";")[0].strip().endswith(b"json")):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:  # two levels more than a bundle's: a batch carries bundles in {"bundles": [...]}
                await run_in_threadpool(read_json, body, self.limit, MAX_DEPTH + 2)
            except BundleError as exc:
                await _refuse(send, type(exc).__name__, str(exc))
                return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(send: Callable[[Any], Awaitable[None]], title: str, detail: str) -> None:
    body = json.dumps({"type": "urn:crossverify:problem:not-i-json", "title": title, "status": 422,
                       "detail": detail}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _too_large(limit: int, send: Callable[[Any], Awaitable[None]]) -> None:
    body = json.dumps({"type": "urn:crossverify:problem:too-large", "title": "Request too large", "status": 413,
                       "detail": f"request bodies are limited to {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
