"""The Macao issuer's routes: submit certificates, follow batches, offer certificates for pickup and follow them,
revoke by reference. The pipeline that seals, signs, anchors and delivers runs in the background.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, Field

from ...chain.records import RevocationReason
from ...format.encoding import to_hex
from ...idempotency import Answers
from ...issuer.client import journal_certificates
from ...issuer.inputs import certificate_entry
from ...issuer.journal import BatchState
from ...issuer.pickup import DEFAULT_CODE_TTL, MAX_CODE_TTL, NOT_KEPT
from ..dependencies import Context, Issuer
from ..idempotency import at_most_once, idempotent
from ..pagination import PAGED, Cursor, Limit, next_page, position
from ..problems import NOT_FOUND, Problem, responses


class CertificatesIn(BaseModel):
    certificates: list[dict[str, Any]] = Field(
        description="Entries as in an issuer input file: reference, docType, notAfter, claims, issuedAt, asOf",
        max_length=10_000)
    supersede: bool = Field(False, description="Re-issue references whose content changed")


class SubmittedOut(BaseModel):
    journalled: int = Field(description="How many certificates were journalled now (a reference journalled "
                                        "before with the same content counts, and is not journalled twice)")


class BatchOut(BaseModel):
    id: int
    state: str = Field(description="sealed, signed, sent, anchored or delivered")
    docType: str
    documents: int
    root: str = Field(description="The batch's Merkle root, hex")
    anchorBlock: int | None = Field(None, description="The block that anchored it, once anchored")
    lapsedAt: int | None = Field(None, description="Set on a sealed batch whose documents expired before it could be "
                                                   "anchored: the chain's time (unix seconds) when the issuer found it "
                                                   "so. It never will be anchored: issue its documents again")


class BatchesOut(BaseModel):
    counts: dict[str, int] = Field(description="Documents pending and in each batch state; those of lapsed sealed "
                                               "batches (see lapsedAt) as lapsed")
    batches: list[BatchOut] = Field(description="A page of batches, oldest first")
    next: str | None = Field(description="The cursor of the next page; null on the last")


#: A batch's state, as a query names it.
StateName = Literal["sealed", "signed", "sent", "anchored", "delivered"]


class RevocationOut(BaseModel):
    revoked: str = Field(description="The document's reference")
    reason: str


class PickupStateOut(BaseModel):
    reference: str
    state: str = Field(description="offered, locked, enrolled, journalled, then the certificate's batch "
                                   "state (sealed … delivered), or what keeps it from the resident: lapsed (it expired "
                                   "before it was anchored), revoked, withdrawn (from the journal, before it was "
                                   "sealed), other (the issuer journalled another certificate under the reference)")


class RevocationIn(BaseModel):
    reference: str
    reason: Literal["withdrawn", "superseded", "fraud", "issued_in_error"]


class PickupIn(BaseModel):
    certificate: dict[str, Any] = Field(description="An issuer input entry: reference, docType, notAfter, claims, "
                                                    "issuedAt, asOf; no cnf claim (the resident's key comes at pickup)")
    ttl: int | None = Field(None, ge=1, le=MAX_CODE_TTL, description="Seconds the code works (default 14 days, "
                                                                      "at most 90)")


class OfferOut(BaseModel):
    reference: str
    code: str = Field(description="Hand it to the resident out of band, once; it is not stored and cannot be shown "
                                  "again (offer the reference again for a new one)")
    expiresAt: int
    page: str = Field(description="The pickup page's path with the code in its fragment, for a QR code")


CERTIFICATE = {"reference": "DEP-2026-0001", "docType": "DEPCERT", "notAfter": 1821398400, "asOf": 1789862400,
               "claims": {"holder_name": "CHAN Tai Man", "account_no": "9-101-234567-8", "balance_mop": 125000}}
REVOCATION_EXAMPLES = {"withdrawn": {"summary": "Withdraw a certificate", "value": {
    "reference": "DEP-2026-0001", "reason": "withdrawn"}}}
CERTIFICATES_EXAMPLES = {"deposit": {"summary": "One deposit certificate", "value": {
    "certificates": [CERTIFICATE], "supersede": False}}}


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["issuers"], responses=responses(401, 403, 429, 500, 502, 503))
    session, issuer, pickups = ctx.session, ctx.issuer, ctx.pickups
    journal_kept = Answers(session.journal.store) if issuer is not None else None
    pickups_kept = Answers(pickups.store) if pickups is not None else None

    @routes.post("/v1/certificates", operation_id="submitCertificates", response_model=SubmittedOut,
                 openapi_extra=idempotent(), summary="Submit certificates (idempotent by reference)")
    def submit(request: Request, payload: Annotated[CertificatesIn, Body(openapi_examples=CERTIFICATES_EXAMPLES)],
               _: Issuer) -> Any:
        def journalled() -> SubmittedOut:
            issuer_id, now = session.issuer_id, int(time.time())
            entries = [certificate_entry(item, issuer_id, now) for item in payload.certificates]
            ids = journal_certificates(session.journal, issuer_id, entries, session.hash_alg,
                                       supersede=payload.supersede, now=now)
            ctx.workers["issuer"].wake()
            return SubmittedOut(journalled=len(ids))

        return at_most_once(request, journal_kept, payload.model_dump_json().encode(), journalled)

    @routes.get("/v1/batches", operation_id="listBatches", response_model=BatchesOut, responses=PAGED,
                summary="Batches and where each stands, a page at a time")
    def batches(request: Request, response: Response, _: Issuer, cursor: Cursor = None, limit: Limit = 100,
                state: Annotated[list[StateName] | None, Query(
                    description="Only batches in these states (repeat it for several)")] = None) -> BatchesOut:
        journal = session.journal
        states = [BatchState(s) for s in state] if state else list(BatchState)
        with journal.store.lock:
            found = journal.batches(session.issuer_id, *states, after=position(cursor, "batch"), limit=limit + 1)
            counts = journal.counts(session.issuer_id)
        page = found[:limit]
        last = page[-1].id if len(found) > limit else None
        return BatchesOut(counts=counts, next=next_page(request, response, "batch", last), batches=[
            BatchOut(id=b.id, state=b.state.value, docType=b.doc_type, documents=b.documents, root=to_hex(b.root),
                     anchorBlock=b.anchor_block, lapsedAt=b.lapsed_at) for b in page])

    @routes.post("/v1/revocations", operation_id="revokeDocument", response_model=RevocationOut,
                 openapi_extra=idempotent(), responses=responses(409),
                 summary="Revoke a document by its reference (final)")
    def revoke(request: Request, payload: Annotated[RevocationIn, Body(openapi_examples=REVOCATION_EXAMPLES)],
               _: Issuer) -> Any:
        def revoked() -> RevocationOut:
            reason = RevocationReason[payload.reason.upper()]
            assert issuer is not None
            with ctx.send_lock:
                issuer.revoke(reason, reference=payload.reference)
            return RevocationOut(revoked=payload.reference, reason=reason.name.lower())

        return at_most_once(request, journal_kept, payload.model_dump_json().encode(), revoked)

    @routes.post("/v1/pickups", operation_id="offerPickup", response_model=OfferOut, responses=responses(403),
                 openapi_extra=idempotent(),
                 summary="Offer a certificate for pickup: the resident enrols their key with the code, once")
    def offer_pickup(request: Request, payload: Annotated[PickupIn, Body(openapi_examples={"deposit": {
                         "summary": "A deposit certificate, its holder's key to come at pickup",
                         "value": {"certificate": CERTIFICATE, "ttl": 1209600}}})], _: Issuer) -> Any:
        def offered() -> OfferOut:
            assert pickups is not None
            offer = pickups.offer(payload.certificate, int(time.time()), payload.ttl or DEFAULT_CODE_TTL)
            return OfferOut(reference=offer.reference, code=offer.code, expiresAt=offer.expires_at,
                            page=f"/resident/pickup/#code={offer.code}")

        return at_most_once(request, pickups_kept, payload.model_dump_json().encode(), offered)

    @routes.get("/v1/pickups/{reference}", operation_id="getPickup", response_model=PickupStateOut,
                responses=responses(404), summary="Where a pickup stands")
    def pickup_state(reference: str, _: Issuer) -> dict[str, str]:
        assert pickups is not None
        state = pickups.state(reference)
        if state is None:
            raise Problem(NOT_FOUND, f"no pickup is kept for that reference: {NOT_KEPT}")
        return {"reference": reference, "state": state}

    return routes
