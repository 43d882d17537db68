"""The Guangdong bank's routes: verify bundles and presentations, one or many; issue and hand over challenges and
follow them; follow the sealed receipts the outbox records.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ...errors import SealingError
from ...format.encoding import from_hex
from ...idempotency import Answers
from ...sealing import case_reference_code
from ...verifier.challenges import MAX_CHALLENGE_TTL
from ...verifier.outbox import MAX_REFERENCE, REFERENCE
from ..dependencies import Bank, Context, json_response, no_store, off_the_loop
from ..idempotency import at_most_once, idempotent, once
from ..lane import CHECKED
from ..models import ChallengeOut, ReceiptOut, VerificationOut
from ..openapi import examples, raw_body
from ..problems import INVALID_REQUEST, NOT_FOUND, Problem, responses

#: A purpose code, as the registry and the receipts hold it (``bytes8``).
PURPOSE = "^[A-Z0-9][A-Z0-9._-]{0,7}$"
ChallengeTtl = Annotated[int | None, Query(ge=1, le=MAX_CHALLENGE_TTL, description="Seconds it stays open (the "
                                           "service's [verifier] challenge_ttl when left out)")]


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


class BatchVerificationIn(BaseModel):
    bundles: list[dict[str, Any]] = Field(description="Bundles as residents handed them over", max_length=1000)


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["banks"], responses=responses(401, 403, 429, 500, 502, 503))
    session, queue, outbox, answers = ctx.session, ctx.queue, ctx.outbox, ctx.answers
    challenges = queue.verifier.challenges
    receipts_kept = Answers(outbox.store) if outbox is not None else None
    challenges_kept = Answers(challenges.store) if challenges is not None else None

    @routes.post("/v1/verifications", operation_id="verifyOne", response_model=VerificationOut,
                 openapi_extra={**raw_body(), **idempotent()},
                 summary="Verify one bundle or presentation; optionally record a receipt (exactly once per "
                         "document, purpose, case)")
    async def verify_one(request: Request, _: Bank,
                         purpose: Annotated[str | None, Query(
                             pattern=PURPOSE, description="Record a receipt sealed to the regulators, for this "
                             "purpose code (a presentation's own purpose counts), e.g. ACCTOPEN")] = None,
                         case: Annotated[str, Query(
                             max_length=MAX_REFERENCE, pattern=f"^{REFERENCE.pattern}$",
                             description=f"Your case reference: one receipt per case (at most {MAX_REFERENCE} "
                             "printable characters; with inPerson, 1 to 32 bytes of printable UTF-8)")] = "",
                         in_person: Annotated[bool, Query(
                             alias="inPerson", description="For a bare bundle: the resident consented in person, "
                             "their consent filed under `case`; the receipt attests it (else it states no consent, "
                             "which regulators flag)")] = False,
                         ) -> Response:
        if in_person:
            try:
                case_reference_code(case)
            except SealingError:
                raise Problem(INVALID_REQUEST, "inPerson needs case: the reference under which the resident's "
                                               "consent is filed, 1 to 32 bytes of printable UTF-8",
                              errors=[{"location": "query", "name": "case",
                                       "detail": "1 to 32 bytes of printable UTF-8 with inPerson"}]) from None
        body = await request.body()

        async def verify() -> Response:
            checked = request.scope.get("state", {}).pop(CHECKED, None)  # by the fast lane, which could not answer
            [report] = [checked] if checked is not None else await ctx.checked([body])
            receipt = None
            if purpose is not None and report.valid and report.bundle and report.document_digest:
                # off the loop: a store that is locked or slow holds up this request, not the event loop; on its own
                # when the fast lane could not queue it with its batch's
                receipt = await (off_the_loop(ctx.receipt, report, purpose, case, in_person) if checked is not None
                                 else ctx.receipt_together(report, purpose, case, in_person))
            return Response(ctx.verdict_text(report, receipt), media_type="application/json")

        kept = once(request, receipts_kept, body)
        return await verify() if kept is None else await kept.arun(verify)

    @routes.post("/v1/challenges", operation_id="issueChallenge", response_model=ChallengeOut,
                 openapi_extra=idempotent(),
                 summary="Issue a one-time challenge for a resident to answer with a presentation")
    def challenge(request: Request, _: Bank,
                  purpose: Annotated[str, Query(pattern=PURPOSE, description="Purpose code", examples=["ACCTOPEN"])],
                  ttl: ChallengeTtl = None) -> Any:
        def issue() -> ChallengeOut:
            issued = queue.verifier.issue_challenge(purpose, ttl or session.config.verifier.challenge_ttl)
            return ChallengeOut.model_validate(issued.to_json())

        return at_most_once(request, challenges_kept, b"", issue)

    @routes.post("/v1/challenges/hand-over", operation_id="handOverChallenge", response_model=HandOverOut,
                 openapi_extra=idempotent(),
                 summary="Issue a one-time challenge and the code by which the resident page reads it (for the clerk "
                         "to show, as text or a QR code of `page`)")
    def hand_over(request: Request, _: Bank,
                  purpose: Annotated[str, Query(pattern=PURPOSE, description="Purpose code", examples=["ACCTOPEN"])],
                  ttl: ChallengeTtl = None) -> Any:
        return at_most_once(request, challenges_kept, b"", lambda: handed_over(purpose, ttl))

    def handed_over(purpose: str, ttl: int | None) -> HandOverOut:
        issued = queue.verifier.issue_challenge(purpose, ttl or session.config.verifier.challenge_ttl)
        assert challenges is not None  # issue_challenge needs them
        code = challenges.hand_over(issued)
        return HandOverOut(challenge=ChallengeOut.model_validate(issued.to_json()), code=code,
                           page=f"/resident/#code={code}")

    @routes.get("/v1/challenges/hand-over/{code}", operation_id="getHandOver", response_model=HandOverStateOut,
                responses=responses(404), dependencies=[Depends(no_store)],  # the resident's disclosed claims
                summary="What became of a handed-over challenge: open, answered (with the verdict the resident page "
                        "got and, when it passed, its sealed receipt) or expired")
    def hand_over_state(code: str, _: Bank) -> HandOverStateOut:
        found = challenges.hand_over_state(code, int(time.time())) if challenges is not None else None
        if found is None:
            raise Problem(NOT_FOUND, "this bank handed over no challenge with that code")
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

    @routes.post("/v1/verifications/batch", operation_id="verifyBatch", response_model=list[VerificationOut],
                 summary="Verify many bundles at once (no receipts)")
    async def verify_many(payload: Annotated[BatchVerificationIn, Body(openapi_examples={"bundles": {
                              "summary": "Bundles as residents handed them over",
                              "value": {"bundles": [examples()["bundle"]]}}})], _: Bank) -> Response:
        # as compact as a bundle file: each is held to the bank's max_bundle_bytes as the single route holds it
        texts = [json.dumps(b, ensure_ascii=False, separators=(",", ":")).encode() for b in payload.bundles]
        return json_response([ctx.verdict(r) for r in await ctx.checked(texts)])

    @routes.get("/v1/receipts/{commitment}", operation_id="getReceipt", response_model=ReceiptOut,
                responses=responses(404),
                summary="Where a receipt stands, by its commitment: queued, sent or recorded on chain (sealed)")
    def receipt_state(commitment: Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$",
                                                      description="The receipt's commitment")],
                      _: Bank) -> ReceiptOut:
        assert outbox is not None
        state = outbox.state(from_hex(commitment, 32))
        if state is None:
            raise Problem(NOT_FOUND, "no receipt with that commitment")
        return ReceiptOut.model_validate(state)

    return routes
