"""A deprecated operation says so in the OpenAPI document and in every answer, before it is removed."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, FastAPI, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from crossverify.service.dependencies import json_response
from crossverify.service.deprecation import deprecated
from crossverify.service.middleware import Front
from crossverify.service.openapi import document
from crossverify.service.problems import HANDLERS, NOT_FOUND, Problem


def service(routes: APIRouter) -> FastAPI:
    """``routes`` behind the service's front middleware and problem handlers."""
    app = FastAPI(exception_handlers=HANDLERS)
    app.include_router(routes)
    app.add_middleware(Front, record=lambda *_: None, limit=1024, timeout=5)
    return app


def test_a_deprecated_operation_announces_its_sunset() -> None:
    routes = APIRouter()

    @routes.get("/v1/old", operation_id="getOld", **deprecated(datetime(2027, 1, 1), datetime(2027, 7, 1), "/v1/new"))
    def old() -> dict[str, str]:
        return {"state": "still here"}

    client = TestClient(service(routes))
    reply = client.get("/v1/old")
    assert reply.json() == {"state": "still here"}
    assert reply.headers["deprecation"] == "@1798761600"
    assert reply.headers["sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert reply.headers["link"] == '</v1/new>; rel="successor-version"'
    operation = client.get("/openapi.json").json()["paths"]["/v1/old"]["get"]
    assert operation["deprecated"] is True and operation["x-sunset"] == "2027-07-01"
    served = document(client.app, [r for r in routes.routes if isinstance(r, APIRoute)])  # type: ignore[arg-type]
    answers = served["paths"]["/v1/old"]["get"]["responses"]
    assert answers and all({"Deprecation", "Sunset", "Link"} <= set(answer.get("headers", {}))
                           for answer in answers.values()), answers  # a client's generator knows to expect them


def test_every_answer_of_a_deprecated_operation_announces_it() -> None:
    """The service's routes mostly answer a Response of their own (verdicts, replayed answers, problem details):
    those carry the announcement too, as the service's front middleware adds it to whatever is answered."""
    routes = APIRouter()
    announced = deprecated(datetime(2027, 1, 1), datetime(2027, 7, 1), "/v1/new")

    @routes.post("/v1/old", **announced)
    def old(fail: bool = False) -> Response:
        if fail:
            raise Problem(NOT_FOUND, "no such thing")
        return json_response({"state": "still here"})

    client = TestClient(service(routes))
    for reply in (client.post("/v1/old"), client.post("/v1/old", params={"fail": "true"})):
        assert reply.headers.get("deprecation") == "@1798761600", reply.status_code
        assert reply.headers["sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
        assert reply.headers["link"] == '</v1/new>; rel="successor-version"'
    assert "deprecation" not in client.get("/openapi.json").headers
