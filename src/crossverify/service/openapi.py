"""The OpenAPI 3.1 document the service serves at ``/openapi.json``, complete enough for a client generator to use
as is: the Bearer API key as a security scheme on every institution operation, a request body with its media
type and examples for every operation that takes one (the raw bundles and presentations included), every
status an operation can answer with the problem details schema, stable operation ids and a tag per role.
FastAPI builds most of it from the routes; :func:`document` adds what it cannot know. Built once, on first
request. ``/docs`` shows it in Swagger UI, served from the copy inside this package (no CDN: a bank's network
may reach nothing outside).
"""

from __future__ import annotations

import json
from collections.abc import Set
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from . import problems
from .deprecation import ANNOUNCED
from .resident import VENDORED

#: Where ``/docs`` loads Swagger UI's script, style sheet and icon from.
DOCS_ASSETS = "/docs/assets"

TAGS = [
    {"name": "banks", "description": "A Guangdong bank: verify the bundles and presentations residents hand over, "
                                     "hand challenges over at the counter, follow sealed receipts."},
    {"name": "issuers", "description": "A Macao issuer: submit certificates, follow batches, offer certificates "
                                       "for pickup, revoke."},
    {"name": "regulators", "description": "A regulator: the audit report and a document's circulation trail."},
    {"name": "residents", "description": "The resident pages' own requests: no key, limited per network address."},
    {"name": "operations", "description": "Liveness, readiness and metrics, for the operator's monitoring."},
]

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "API key",
               "description": "The institution's API key (`crossverify serve new-key`): `Authorization: Bearer "
                              "cvk_…`. The key's role (bank, issuer or regulator) decides which operations it may "
                              "call."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "The same key in a header of its own, for a client that cannot set Authorization "
                              "(read only when Authorization carries no Bearer key)."},
}
#: Either scheme authenticates an institution's operation.
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

#: Routes whose JSON body the route reads itself; their body's schema and examples.
RAW_BODY_SCHEMA = {
    "title": "BundleOrPresentation", "type": "object", "additionalProperties": True,
    "description": "A certificate bundle (format 1.2; 1.1 and 1 are read too) or a holder-signed presentation, "
                   "exactly as the resident handed it over: send the file's bytes. Its rules are docs/format.md's "
                   "and the JSON Schemas https://crossverify.example/schema/bundle-1.1.json and "
                   "presentation-v1.json; a body that breaks them is not an error but a verdict with the failed "
                   "check."}


@cache
def examples() -> dict[str, Any]:
    """A redacted bundle, a presentation and the challenge it answers (the format's test vectors)."""
    loaded: dict[str, Any] = json.loads((Path(__file__).parent / "examples.json").read_text())
    return loaded


def raw_body() -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a bundle or presentation from its body itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/BundleOrPresentation"},
        "examples": {"bundle": {"summary": "A bundle, two claims redacted", "value": examples()["bundle"]},
                     "presentation": {"summary": "A presentation answering the bank's challenge",
                                      "value": examples()["presentation"]}}}}}}


#: The tag of each institution's operations, by the role whose API keys call them.
ROLE_TAGS = {"bank": "banks", "issuer": "issuers", "regulator": "regulators"}


def install(app: FastAPI, routers: list[APIRouter], roles: Set[str]) -> None:
    """Serve :func:`document` as the app's OpenAPI document, over the routes of ``routers`` that this service
    serves to someone: the operations of the institutions ``roles`` names (another role's answer 403 to every
    key), the resident pages' and operations'."""
    left_out = {tag for role, tag in ROLE_TAGS.items() if role not in roles}
    routes = [route for router in routers for route in router.routes
              if isinstance(route, APIRoute) and not left_out & set(route.tags)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app, routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(DOCS_ASSETS, StaticFiles(directory=VENDORED / "swagger-ui"), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")


def document(app: FastAPI, routes: list[APIRoute]) -> dict[str, Any]:
    used = {tag for route in routes for tag in route.tags}
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                      routes=routes, tags=[tag for tag in TAGS if tag["name"] in used])
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = problems.ProblemOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["BundleOrPresentation"] = RAW_BODY_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    by_operation = {(route.path, method.lower()): route for route in routes for method in route.methods or ()}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            route = by_operation[path, method]
            if any(getattr(d.call, "role", None) for d in route.dependant.dependencies):
                operation["security"] = SECURITY
            answers = operation["responses"]
            body = operation.get("requestBody")
            if body is not None:
                raw = "BundleOrPresentation" in json.dumps(body)
                answers.update(_described(408, 413) if raw else _described(408, 413, 415, 422))
            if operation.get("parameters"):
                answers.update(_described(422))
            if operation.get("deprecated"):  # every answer announces it (deprecation.deprecated)
                answers = {status: {**answer, "headers": {**answer.get("headers", {}), **ANNOUNCED}}
                           for status, answer in answers.items()}
            operation["responses"] = dict(sorted(answers.items()))
            for ref in _refs(body):
                _optional_without_default(schemas[ref])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in json.dumps(doc["paths"]):
            schemas.pop(unused, None)
    return doc


def _described(*statuses: int) -> dict[str, Any]:
    return {str(status): answer for status, answer in problems.responses(*statuses).items()}


def _refs(node: Any) -> list[str]:
    """The component schemas ``node`` refers to."""
    text = json.dumps(node)
    return [part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]]


def _optional_without_default(schema: dict[str, Any]) -> None:
    """In a request body, a property with a default may be left out: say its default in words rather than as
    ``default``, which openapi-typescript reads as "always present" in a component schema (and would make the
    client send it)."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name not in required and "default" in prop:
            default = prop.pop("default")
            said = f"Optional (the service takes {json.dumps(default)} when it is left out)."
            prop["description"] = f"{prop['description']} {said}" if prop.get("description") else said
