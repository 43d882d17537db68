"""The regulator's routes: the audit report from the live index, and a document's circulation trail, opened with
the regulator's keys (built on first use: a service without a regulator key answers :class:`NoRegulatorKey`).

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path

from ...format.encoding import from_hex
from ..dependencies import Context, Regulator
from ..problems import responses


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["regulators"], responses=responses(401, 403, 429, 500, 503))
    session, regulator = ctx.session, ctx.regulator

    @routes.get("/v1/audit/report", operation_id="getAuditReport", summary="The audit report, from the live index")
    def audit_report(_: Regulator) -> dict[str, Any]:
        assert regulator is not None
        with regulator.store.lock:
            if session.opens_circulation:
                session.trail.open_new()
            return session.supervision.report().as_json()

    @routes.get("/v1/regulator/circulation/{digest}", operation_id="getCirculation",
                summary="Who verified a document, for what, with whose consent; and its disputes")
    def circulation(_: Regulator, digest: Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$",
                                                              description="The document digest")]
                    ) -> dict[str, Any]:
        opened = session.trail
        with opened.reader.store.lock:
            opened.open_new()
            return opened.circulation(from_hex(digest, 32)).as_json()

    return routes
