"""The Macao issuer's routes: submit certificates, follow batches, offer certificates for pickup and follow them,
revoke by reference. The pipeline that seals, signs, anchors and delivers runs in the background.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

import time
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...chain.records import RevocationReason
from ...format.encoding import to_hex
from ...format.hashing import HashAlgorithm
from ...issuer.client import journal_certificates
from ...issuer.inputs import certificate_entry
from ...issuer.journal import BatchState
from ...issuer.pickup import DEFAULT_CODE_TTL
from ..dependencies import Context, Issuer
from ..problems import NOT_FOUND, Problem


class CertificatesIn(BaseModel):
    certificates: list[dict[str, Any]] = Field(
        description="Entries as in an issuer input file: reference, docType, notAfter, claims, issuedAt, asOf",
        max_length=10_000)
    supersede: bool = Field(False, description="Re-issue references whose content changed")


class RevocationIn(BaseModel):
    reference: str
    reason: Literal["withdrawn", "superseded", "fraud", "issued_in_error"]


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


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["issuers"])
    session, issuer, pickups = ctx.session, ctx.issuer, ctx.pickups

    @routes.post("/v1/certificates", summary="Submit certificates (idempotent by reference)")
    def submit(payload: CertificatesIn, _: Issuer) -> dict[str, int]:
        issuer_id, now = session.issuer_id, int(time.time())
        entries = [certificate_entry(item, issuer_id, now) for item in payload.certificates]
        ids = journal_certificates(session.journal, issuer_id, entries,
                                   HashAlgorithm.from_label(session.config.issuer.hash_alg),
                                   supersede=payload.supersede)
        ctx.workers["issuer"].wake()
        return {"journalled": len(ids)}

    @routes.get("/v1/batches", summary="Batches and where each stands")
    def batches(_: Issuer) -> dict[str, Any]:
        journal = session.journal
        with journal.store.lock:
            found = journal.batches(session.issuer_id, *BatchState)
            counts = journal.counts(session.issuer_id)
        return {"counts": counts, "batches": [
            {"id": b.id, "state": b.state.value, "docType": b.doc_type, "documents": b.documents,
             "root": to_hex(b.root), "anchorBlock": b.anchor_block} for b in found]}

    @routes.post("/v1/revocations", summary="Revoke a document by its reference (final)")
    def revoke(payload: RevocationIn, _: Issuer) -> dict[str, str]:
        reason = RevocationReason[payload.reason.upper()]
        assert issuer is not None
        with ctx.chain_lock:
            issuer.revoke(reason, reference=payload.reference)
        return {"revoked": payload.reference, "reason": reason.name.lower()}

    @routes.post("/v1/pickups", response_model=OfferOut,
                 summary="Offer a certificate for pickup: the resident enrols their key with the code, once")
    def offer_pickup(payload: PickupIn, _: Issuer) -> OfferOut:
        assert pickups is not None
        offer = pickups.offer(payload.certificate, int(time.time()), payload.ttl or DEFAULT_CODE_TTL)
        return OfferOut(reference=offer.reference, code=offer.code, expiresAt=offer.expires_at,
                        page=f"/resident/pickup/#code={offer.code}")

    @routes.get("/v1/pickups/{reference}", summary="Where a pickup stands")
    def pickup_state(reference: str, _: Issuer) -> dict[str, str]:
        assert pickups is not None
        state = pickups.state(reference)
        if state is None:
            raise Problem(NOT_FOUND, "no pickup was offered for that reference")
        found = session.journal.find(session.issuer_id, reference=reference)
        batch = found.batch_state.value if found and found.batch_state else None
        return {"reference": reference, "state": batch if state == "journalled" and batch else state}

    return routes
