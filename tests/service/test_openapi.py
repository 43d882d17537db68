"""The served OpenAPI document is complete enough for a generator: security, bodies with examples, every status
with the problem schema, stable operation ids, a tag per role; each service documents the operations its API keys
can call, and shows them at /docs without reaching outside."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from crossverify.format.bundle import load_bundle
from crossverify.format.presentation import load_presentation
from crossverify.service.openapi import examples

from ..conftest import Consortium
from .test_api import bank_api, issuer_api  # noqa: F401  (fixtures)
from .test_presentations_api import bank  # noqa: F401  (fixture)
from .test_regulator_api import regulator

ROOT = Path(__file__).resolve().parents[2]

#: Changing one breaks generated clients: a deliberate act (docs/api.md, versioning).
OPERATIONS = {
    "verifyOne", "verifyBatch", "issueChallenge", "handOverChallenge", "getHandOver", "getReceipt",
    "submitCertificates", "listBatches", "revokeDocument", "offerPickup", "getPickup",
    "getAuditReport", "getCirculation", "getIndexFreshness", "getSupervisionOverview", "getSupervisionRows",
    "getSupervisionRowsCsv", "getSupervisionDisputes", "getSupervisionDisputesCsv", "getDocumentTimeline",
    "readChallenge", "verifyForResident", "enrolHolderKey", "collectBundle",
    "getInstitution", "getDisplayMetadata",
    "getHealth", "getReadiness", "getMetrics",
}
INSTITUTIONS = {"banks", "issuers", "regulators"}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_the_document_drives_a_generator(bank_api: TestClient) -> None:  # noqa: F811
    doc = bank_api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1.") and doc["info"]["version"] == "1.0"
    assert doc["components"]["securitySchemes"]["bearer"] == {**doc["components"]["securitySchemes"]["bearer"],
                                                               "type": "http", "scheme": "bearer"}
    assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "X-API-Key"
    assert {t["name"] for t in doc["tags"]} == {"banks", "residents", "operations"}  # what a bank's key can call
    found = {op["operationId"] for _, _, op in operations(doc)}
    assert found == {"verifyOne", "verifyBatch", "issueChallenge", "handOverChallenge", "getHandOver", "getReceipt",
                     "readChallenge", "verifyForResident", "getInstitution", "getDisplayMetadata", "getHealth",
                     "getReadiness", "getMetrics"}
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        [tag] = op["tags"]
        assert (op.get("security") == [{"bearer": []}, {"apiKey": []}]) == (tag in INSTITUTIONS), where
        if tag in INSTITUTIONS:
            assert {"401", "403", "429"} <= set(op["responses"]), where
        if "requestBody" in op:
            [(media_type, content)] = op["requestBody"]["content"].items()
            assert media_type == "application/json" and content.get("examples"), where
            assert {"408", "413"} <= set(op["responses"]), where
        elif method == "post":
            assert all(p["in"] in ("query", "header") for p in op["parameters"]), f"{where} takes no body"
        for status, answer in op["responses"].items():
            if status.startswith(("4", "5")) and path != "/readyz":
                assert answer["content"] == {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}, f"{where} {status}"
                if status in ("429", "503"):
                    assert "Retry-After" in answer["headers"], f"{where} {status}"
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    creating = {op["operationId"] for _, _, op in operations(doc)
                if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", ()))}
    assert creating == {"verifyOne", "issueChallenge", "handOverChallenge"}
    raw = doc["paths"]["/v1/verifications"]["post"]["requestBody"]["content"]["application/json"]
    assert set(raw["examples"]) == {"bundle", "presentation"}


def test_the_examples_are_the_format_vectors() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "make_vectors.py"))
    rendered = {name: (ROOT / "docs" / "vectors" / name).read_text() for name in ("v1.1.json",
                                                                                   "presentation-v1.json")}
    assert json.loads(script["api_examples"](rendered)) == examples(), \
        "service/examples.json is stale: run scripts/make_vectors.py"
    load_bundle(json.dumps(examples()["bundle"]))
    load_presentation(json.dumps(examples()["presentation"]))


def test_an_issuers_service_documents_its_pickup_routes(issuer_api: TestClient) -> None:  # noqa: F811
    doc = issuer_api.get("/openapi.json").json()
    assert {op["operationId"] for _, _, op in operations(doc)} == {
        "submitCertificates", "listBatches", "revokeDocument", "offerPickup", "getPickup", "enrolHolderKey",
        "collectBundle", "getInstitution", "getDisplayMetadata", "getHealth", "getReadiness", "getMetrics"}
    creating = {op["operationId"] for _, _, op in operations(doc)
                if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", ()))}
    assert creating == {"submitCertificates", "revokeDocument", "offerPickup"}
    listed = doc["paths"]["/v1/batches"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"cursor", "limit"}
    assert "next" in doc["components"]["schemas"]["BatchesOut"]["required"]


def test_each_service_documents_what_its_keys_can_call(consortium: Consortium, tmp_path: Path,
                                                       bank_api: TestClient,  # noqa: F811
                                                       issuer_api: TestClient) -> None:  # noqa: F811
    """A regulator's service (with a bank's key too) documents the regulators' and banks' operations, none of an
    issuer's, which would answer 403 to every key it knows; the three services together document every one."""
    api, _ = regulator(consortium, tmp_path, [])
    doc = api.get("/openapi.json").json()
    assert {t["name"] for t in doc["tags"]} == {"banks", "regulators", "residents", "operations"}
    found = {op["operationId"] for _, _, op in operations(doc)}
    assert "getAuditReport" in found and "submitCertificates" not in found
    every = found | {op["operationId"] for api in (bank_api, issuer_api)
                     for _, _, op in operations(api.get("/openapi.json").json())}
    assert every == OPERATIONS
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_the_documentation_page_loads_only_from_the_service(bank_api: TestClient) -> None:  # noqa: F811
    page = bank_api.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    loaded = re.findall(r"""(?:src|href)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert loaded and all(url.startswith("/docs/assets/") for url in loaded), loaded
    for url in loaded:
        assert bank_api.get(url).status_code == 200, url
    assert bank_api.get("/redoc").status_code == 404


def test_the_document_bounds_the_lifetimes_the_service_takes(consortium: Consortium, bank: TestClient,  # noqa: F811
                                                             issuer_api: TestClient) -> None:  # noqa: F811
    """A challenge's or a pickup code's ``ttl`` is taken exactly when the document's schema admits it: 0 is refused
    (not read as "the default"), as a lifetime beyond the service's bound is."""
    [ttl] = [p for p in bank.get("/openapi.json").json()["paths"]["/v1/challenges"]["post"]["parameters"]
             if p["name"] == "ttl"]
    admits = Draft202012Validator(ttl["schema"])
    for seconds in (-1, 0, 1, 3600, 3601):
        issued = bank.post("/v1/challenges", params={"purpose": "ACCTOPEN", "ttl": seconds})
        assert admits.is_valid(seconds) == (issued.status_code == 200), (seconds, issued.text)
    admits = Draft202012Validator(issuer_api.get("/openapi.json").json()["components"]["schemas"]["PickupIn"]
                                  ["properties"]["ttl"])
    certificate = {"reference": "DEP-T", "docType": "DEPCERT", "notAfter": consortium.now() + 86400 * 30,
                   "claims": {"holder_name": "CHAN Tai Man"}}
    for seconds in (0, 1, 90 * 86400, 90 * 86400 + 1):
        offered = issuer_api.post("/v1/pickups", json={"certificate": certificate, "ttl": seconds})
        assert admits.is_valid(seconds) == (offered.status_code == 200), (seconds, offered.text)
