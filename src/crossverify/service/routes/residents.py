"""The resident pages' own routes (no key, limited per network address): on a bank's service, read a handed-over
challenge by its code and verify what the page made; on an issuer's, enrol the holder key for a pickup and
collect the bundle. The pages themselves are served by :mod:`crossverify.service.resident`.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ...verifier.client import Outcome
from ..dependencies import Context, Visitor, json_response
from ..models import ChallengeOut, CodeIn, VerificationOut
from ..problems import NOT_FOUND, TOO_LARGE, Problem


class EnrolIn(CodeIn):
    jwk: dict[str, Any] = Field(description="The holder key's public JWK: kty EC, crv P-256, x, y")


class EnrolOut(BaseModel):
    reference: str
    collectToken: str = Field(description="Collects the bundle once it is anchored; keep it on the device")


class CollectIn(BaseModel):
    collectToken: str = Field(max_length=128)


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["residents"])
    if "bank" in ctx.roles:
        _bank_routes(routes, ctx)
    if ctx.pickups is not None:
        _pickup_routes(routes, ctx)
    return routes


def _bank_routes(routes: APIRouter, ctx: Context) -> None:
    queue, answers = ctx.queue, ctx.answers
    largest = ctx.session.config.verifier.max_bundle_bytes

    @routes.post("/resident/challenges", response_model=ChallengeOut,
                 summary="The resident page reads the challenge the bank's clerk handed over, by its code")
    def challenge_by_code(payload: CodeIn, _: Visitor) -> ChallengeOut:
        challenges = queue.verifier.challenges
        if challenges is None:
            raise Problem(NOT_FOUND, "this bank issues no challenges ([verifier] audience is not set)")
        return ChallengeOut.model_validate(challenges.by_code(payload.code, int(time.time())).to_json())

    @routes.post("/resident/verifications", response_model=VerificationOut,
                 summary="The resident page's own request: verify the bundle or presentation it made; a "
                         "presentation that answers the bank's challenge and passes leaves one sealed receipt")
    async def verify_for_resident(request: Request, _: Visitor) -> Response:
        body = await request.body()
        if len(body) > largest:
            raise Problem(TOO_LARGE, f"a bundle is at most {largest} bytes")
        [report] = await ctx.checked([body])
        data = ctx.verdict(report)
        fresh = next((c for c in report.checks if c.name == "challenge_fresh"), None)
        if report.presentation is not None and fresh is not None and fresh.outcome is Outcome.PASSED:
            assert answers is not None  # the challenge was consumed in this bank's store
            receipt = next(iter(queue.verifier.receipts([report])), None)  # none for a failed verification
            commitment = answers.answer(report.presentation.binding.nonce, json.dumps(data), receipt)
            if commitment is not None:
                ctx.workers["outbox"].wake()
                data["receipt"] = answers.outbox.state(commitment)
        return json_response(data)


def _pickup_routes(routes: APIRouter, ctx: Context) -> None:
    pickups = ctx.pickups
    assert pickups is not None

    @routes.post("/resident/pickups/enrol", response_model=EnrolOut,
                 summary="The pickup page enrols the resident's new holder key with their one-time code")
    def enrol(payload: EnrolIn, _: Visitor) -> EnrolOut:
        enrolment = pickups.enrol(payload.code, payload.jwk, int(time.time()))
        ctx.workers["issuer"].wake()
        return EnrolOut(reference=enrolment.reference, collectToken=enrolment.collect_token)

    @routes.post("/resident/pickups/collect",
                 summary="The pickup page collects the bundle, once it is anchored (409 with Retry-After until then)")
    def collect(payload: CollectIn, _: Visitor) -> Response:
        bundle = pickups.collect(payload.collectToken, int(time.time()))
        return Response(bundle, media_type="application/json", headers={"Cache-Control": "no-store"})
