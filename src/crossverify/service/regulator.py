"""The regulator's routes beyond the audit report: a document's circulation trail, opened with the regulator's keys.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations at runtime.)
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from ..format.encoding import from_hex
from ..regulator.circulation import CirculationTrail
from .auth import Client


def router(trail: Callable[[], CirculationTrail], authenticate: Callable[..., Client]) -> APIRouter:
    """Routes over ``trail`` (built on first use: a service without a regulator key answers
    :class:`NoRegulatorKey`), each for a client ``authenticate`` accepts as a regulator."""
    routes = APIRouter(tags=["regulators"])
    Regulator = Annotated[Client, Depends(authenticate)]

    @routes.get("/v1/regulator/circulation/{digest}",
                summary="Who verified a document, for what, with whose consent; and its disputes")
    def circulation(_: Regulator, digest: Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$",
                                                              description="The document digest")]
                    ) -> dict[str, Any]:
        opened = trail()
        with opened.reader.store.lock:
            opened.open_new()
            return opened.circulation(from_hex(digest, 32)).as_json()

    return routes

