"""The resident pages' own routes (no key, limited per network address): on a bank's service, read a handed-over
challenge by its code and verify what the page made; on an issuer's, enrol the holder key for a pickup and
collect the bundle. The pages themselves are served by :mod:`crossverify.service.resident`.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ...chain.metadata import MetadataReader
from ...errors import UNAVAILABLE, MetadataError
from ...format.codes import doc_type_code, issuer_id_code
from ...format.encoding import to_hex
from ...regulator.words import purpose_names
from ...verifier.answers import AnswerReceipts
from ...verifier.client import Outcome
from ...verifier.outbox import receipt_state
from ..dependencies import Context, Visitor, json_response
from ..models import ChallengeOut, CodeIn, VerificationOut
from ..openapi import raw_body
from ..problems import NOT_FOUND, TOO_LARGE, Problem, responses


class EnrolIn(CodeIn):
    jwk: dict[str, Any] = Field(description="The holder key's public JWK: kty EC, crv P-256, x, y")


class EnrolOut(BaseModel):
    reference: str
    collectToken: str = Field(description="Collects the bundle once it is anchored; keep it on the device")


class CollectIn(BaseModel):
    collectToken: str = Field(max_length=128)


class MetadataOut(BaseModel):
    digest: str = Field(description="The registry's digest for it (zero: none registered)")
    metadata: dict[str, Any] | None = Field(default=None, description="The display metadata with exactly that digest")
    problem: str | None = Field(default=None, description="Why none is given although one is registered: "
                                                  "MetadataMismatch or MetadataUnavailable")


class DisplayOut(BaseModel):
    issuer: MetadataOut
    docType: MetadataOut


class InstitutionOut(BaseModel):
    name: dict[str, str] | None = Field(default=None, description="This service's institution, in each language "
                                                                  "([display] name)")
    issuer: MetadataOut | None = Field(default=None, description="On an issuer's service: its name as registered")
    suite: str = Field(default="standard", description="The consortium's crypto suite, as its registry says: "
                                                        "'standard' (P-256 holder keys) or 'gm' (SM2 holder keys)")
    purposes: dict[str, dict[str, str]] = Field(
        default_factory=purpose_names, description="The purpose codes a page names, each in every language: what "
                                                   "a resident's signature consents to, said before they sign")


#: A holder key's public JWK, as the pickup page sends it (the format's test key).
JWK = {"kty": "EC", "crv": "P-256", "x": "v8CMeyVbsLm9gcHeSG3KXDVlXyJU4PKJ6PxtBB15hDo",
       "y": "gwDu6zp5plbkqj1XzAYEfh-VhCP--Yej435cKZm2ZEE"}


TOKEN = "kW3Lr0y2m2Zc9V1u6bqGf1sJ8oTqkHxY4pN7eD5aR0c"


def _example(value: dict[str, Any]) -> dict[str, Any]:
    return {"page": {"summary": "As the page sends it", "value": value}}


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["residents"], responses=responses(429, 500, 502, 503))
    if ctx.roles & {"bank", "issuer"}:
        _display_routes(routes, ctx)
    if "bank" in ctx.roles:
        _bank_routes(routes, ctx)
    if ctx.pickups is not None:
        _pickup_routes(routes, ctx)
    return routes


def _bank_routes(routes: APIRouter, ctx: Context) -> None:
    queue, answers = ctx.queue, ctx.answers
    largest = ctx.session.config.verifier.max_bundle_bytes

    @routes.post("/resident/challenges", operation_id="readChallenge", response_model=ChallengeOut,
                 responses=responses(404),
                 summary="The resident page reads the challenge the bank's clerk handed over, by its code")
    def challenge_by_code(payload: Annotated[CodeIn, Body(openapi_examples=_example({"code": "7K2MX-94QDR"}))],
                          _: Visitor) -> ChallengeOut:
        challenges = queue.verifier.challenges
        if challenges is None:
            raise Problem(NOT_FOUND, "this bank issues no challenges ([verifier] audience is not set)")
        return ChallengeOut.model_validate(challenges.by_code(payload.code, int(time.time())).to_json())

    @routes.post("/resident/verifications", operation_id="verifyForResident", response_model=VerificationOut,
                 openapi_extra=raw_body(),
                 summary="The resident page's own request: verify the bundle or presentation it made; a "
                         "presentation that answers the bank's challenge and passes leaves one sealed receipt")
    async def verify_for_resident(request: Request, _: Visitor) -> Response:
        body = await request.body()
        if len(body) > largest:
            raise Problem(TOO_LARGE, f"a bundle is at most {largest} bytes")
        [report] = await ctx.checked([body])
        data = ctx.verdict(report)
        # the challenge was consumed when its presentation passed both (an open challenge that the presentation
        # outlives stays open)
        consumed = [c for c in report.checks if c.name in ("challenge_fresh", "presentation_within_challenge")]
        if report.presentation is not None and consumed and all(c.outcome is Outcome.PASSED for c in consumed):
            assert answers is not None  # the challenge was consumed in this bank's store
            try:
                receipt = next(iter(queue.verifier.receipts([report])), None)  # none for a failed verification
                commitment = answers.answer(report.presentation.binding.nonce, json.dumps(data), receipt)
            except BaseException:  # no answer kept (the store keeps a kept one's challenge used): the page's
                queue.verifier.withdraw([report])  # presentation sent again is checked, not refused
                raise
            if commitment is not None:
                ctx.workers["outbox"].wake()
                data["receipt"] = _where(answers, commitment)
        return json_response(data)


def _where(answers: AnswerReceipts, commitment: bytes) -> dict[str, Any]:
    """Where a kept answer's receipt stands: as the outbox says, or queued when the outbox does not hold it yet or
    cannot say (it is kept with the answer, and queued by the outbox's next round)."""
    try:
        found = answers.outbox.state(commitment)
    except UNAVAILABLE:
        found = None
    return found or receipt_state(commitment)


def _display_routes(routes: APIRouter, ctx: Context) -> None:
    session = ctx.session
    name = session.config.display.name or None

    @routes.get("/resident/institution", operation_id="getInstitution", response_model=InstitutionOut,
                summary="The name of the institution whose page this is ([display] name), in each language")
    def institution(_: Visitor) -> InstitutionOut:
        with ctx.chain_lock:
            suite = session.registry.crypto_suite().label
            if "issuer" not in ctx.roles:
                return InstitutionOut(name=name, suite=suite)
            return InstitutionOut(name=name, issuer=_metadata(session.metadata, session.issuer_id, ""), suite=suite)

    @routes.get("/resident/metadata", operation_id="getDisplayMetadata", response_model=DisplayOut,
                summary="An issuer's name and a document type's labels, as the registry's digests name them: the "
                        "page checks each against its digest and uses nothing else")
    def display(issuer: str, docType: str, _: Visitor) -> DisplayOut:
        issuer_id_code(issuer)
        doc_type_code(docType)
        with ctx.chain_lock:
            return DisplayOut(issuer=_metadata(session.metadata, issuer, ""),
                              docType=_metadata(session.metadata, issuer, docType))


def _metadata(reader: MetadataReader, issuer: str, doc_type: str) -> MetadataOut:
    digest = reader.digest(issuer, doc_type)
    try:
        found = reader.doc_type(issuer, doc_type) if doc_type else reader.issuer(issuer)
    except MetadataError as exc:
        return MetadataOut(digest=to_hex(digest), problem=type(exc).__name__)
    return MetadataOut(digest=to_hex(digest), metadata=found.as_json() if found is not None else None)


def _pickup_routes(routes: APIRouter, ctx: Context) -> None:
    pickups = ctx.pickups
    assert pickups is not None

    @routes.post("/resident/pickups/enrol", operation_id="enrolHolderKey", response_model=EnrolOut,
                 responses=responses(403, 410),
                 summary="The pickup page enrols the resident's new holder key with their one-time code")
    def enrol(payload: Annotated[EnrolIn, Body(openapi_examples=_example({"code": "H7QK-2M9X-TR4D-8PWB", "jwk": JWK}))],
              _: Visitor) -> EnrolOut:
        enrolment = pickups.enrol(payload.code, payload.jwk, int(time.time()))
        ctx.workers["issuer"].wake()
        return EnrolOut(reference=enrolment.reference, collectToken=enrolment.collect_token)

    @routes.post("/resident/pickups/collect", operation_id="collectBundle", response_model=dict[str, Any],
                 responses=responses(403, 409, 410),
                 summary="The pickup page collects the bundle, once it is anchored (409 with Retry-After until then)")
    def collect(payload: Annotated[CollectIn, Body(openapi_examples=_example({"collectToken": TOKEN}))],
                _: Visitor) -> Response:
        bundle = pickups.collect(payload.collectToken, int(time.time()))
        return Response(bundle, media_type="application/json", headers={"Cache-Control": "no-store"})
