"""A deprecated operation says so in the OpenAPI document and in every answer, before it is removed."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from crossverify.service.deprecation import deprecated


def test_a_deprecated_operation_announces_its_sunset() -> None:
    routes = APIRouter()

    @routes.get("/v1/old", operation_id="getOld", **deprecated(datetime(2027, 1, 1), datetime(2027, 7, 1), "/v1/new"))
    def old() -> dict[str, str]:
        return {"state": "still here"}

    app = FastAPI()
    app.include_router(routes)
    client = TestClient(app)
    reply = client.get("/v1/old")
    assert reply.json() == {"state": "still here"}
    assert reply.headers["deprecation"] == "@1798761600"
    assert reply.headers["sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert reply.headers["link"] == '</v1/new>; rel="successor-version"'
    operation = client.get("/openapi.json").json()["paths"]["/v1/old"]["get"]
    assert operation["deprecated"] is True and operation["x-sunset"] == "2027-07-01"
