"""The served OpenAPI document is complete enough for a generator: security, bodies with examples, every status
with the problem schema, stable operation ids, a tag per role; each service documents the operations its API keys
can call, and shows them at /docs without reaching outside."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from crossverify.chain.metadata import MetadataReader
from crossverify.errors import TransactionFailed
from crossverify.format.bundle import load_bundle
from crossverify.format.presentation import load_presentation
from crossverify.service.openapi import examples

from ..conftest import Consortium
from .test_api import bank_api, issue, issuer_api  # noqa: F401  (fixtures)
from .test_presentations_api import bank  # noqa: F401  (fixture)
from .test_problems import DOCS
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



def bank_requests(bundle: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Requests that meet the answers a bank's service gives, good and bad: (method, path, keyword arguments)."""
    return [
        ("POST", "/v1/verifications?purpose=ACCTOPEN&case=C-1&inPerson=true", {"json": bundle}),
        ("POST", "/v1/verifications", {"content": b"not a bundle"}),
        ("POST", "/v1/verifications?inPerson=true", {"content": b"{}"}),
        ("POST", "/v1/verifications/batch", {"json": {"bundles": [bundle, {}]}}),
        ("POST", "/v1/verifications/batch", {"content": b'{"bundles": [{"v": 1e400}]}',
                                             "headers": {"content-type": "application/json"}}),
        ("POST", "/v1/verifications/batch", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
        *[("POST", f"/v1/challenges?purpose={purpose}", {"headers": {"Idempotency-Key": key}})
          for purpose, key in (("ACCTOPEN", "k" * 16), ("ACCTOPEN", "k" * 16), ("LOAN", "k" * 16), ("LOAN", "k"))],
        ("POST", "/v1/challenges/hand-over?purpose=ACCTOPEN", {}),
        ("POST", "/v1/challenges/hand-over?purpose=ACCTOPEN&ttl=0", {}),
        ("GET", "/v1/challenges/hand-over/ABCDE-FGHIJ", {}),
        ("GET", f"/v1/receipts/0x{'00' * 32}", {}),
        ("GET", "/v1/receipts/0x00", {}),
        ("GET", "/resident/metadata?issuer=BNUMMOMX&docType=DEPCERT", {}),
        ("GET", "/resident/metadata?issuer=bnummomx&docType=DEPCERT", {}),
        ("POST", "/resident/challenges", {"json": {"code": "ABCDE-FGHIJ"}}),
        ("GET", "/readyz", {}),
    ]


CERTIFICATE = {"reference": "R-1", "docType": "DEPCERT", "notAfter": 2**39, "claims": {"a": 1}}
ISSUER_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/certificates", {"json": {"certificates": [CERTIFICATE]}}),
    ("POST", "/v1/certificates", {"json": {"certificates": [{"reference": "R-2"}]}}),
    ("POST", "/v1/certificates", {"json": {"certificates": [{**CERTIFICATE, "docType": "dep"}]}}),
    ("GET", "/v1/batches?limit=1", {}),
    ("GET", "/v1/batches?cursor=forged", {}),
    ("GET", "/v1/batches?limit=0", {}),
    ("POST", "/v1/revocations", {"json": {"reference": "R-1", "reason": "withdrawn"}}),
    ("POST", "/v1/pickups", {"json": {"certificate": {**CERTIFICATE, "reference": "P-1"}}}),
    ("GET", "/v1/pickups/P-1", {}),
    ("GET", "/v1/pickups/P-2", {}),
    ("POST", "/resident/pickups/enrol", {"json": {"code": "AAAA-BBBB-CCCC-DDDD", "jwk": {}}}),
    ("POST", "/resident/pickups/collect", {"json": {"collectToken": "nothing"}}),
    ("GET", "/resident/institution", {}),
]
REGULATOR_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1/audit/report", {}),
    ("GET", f"/v1/regulator/circulation/0x{'00' * 32}", {}),
    ("GET", "/v1/regulator/freshness", {}),
    ("GET", "/v1/regulator/overview?from=2026-01-01&to=2026-12-31", {}),
    ("GET", "/v1/regulator/overview?from=2026-13-01", {}),
    ("GET", "/v1/regulator/tables/anchors?limit=1", {}),
    ("GET", "/v1/regulator/tables/anchors?after=forged", {}),
    ("GET", "/v1/regulator/tables/anomalies?kind=nothing", {}),
    ("GET", "/v1/regulator/tables/anchors/csv", {}),
    ("GET", "/v1/regulator/disputes", {}),
    ("GET", f"/v1/regulator/documents/0x{'00' * 32}", {}),
]


def test_every_answer_is_one_the_document_declares(consortium: Consortium, tmp_path: Path, bank: TestClient,  # noqa: F811
                                                   issuer_api: TestClient,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What each service really answers, good and bad, and whoever asks (no key, another role's, its own), is an
    answer its OpenAPI document declares: the status, the headers a client acts on, the media type and the body's
    schema; every problem's type is one docs/api.md lists, so that a client generated from the document, or
    written to it, parses every answer it gets."""
    [bundle] = issue(consortium, issuer_api, 1)
    regulator_api, bank_key = regulator(consortium, tmp_path / "regulator", [])
    declared_answer(regulator_api, "GET", "/v1/audit/report", regulator_api.get("/v1/audit/report"))  # unsynced
    regulator_api.app_state.workers["audit"].run_once()  # type: ignore[attr-defined]
    with monkeypatch.context() as node:  # a node whose answer does not decode: the chain failed the request
        node.setattr(MetadataReader, "digest", undecodable)
        for api, path in ((bank, "/resident/metadata?issuer=BNUMMOMX&docType=DEPCERT"),
                          (regulator_api, "/v1/regulator/overview")):
            reply = api.get(path)
            assert reply.status_code == 502, reply.text
            declared_answer(api, "GET", path, reply)
    issuer_key = issuer_api.headers["authorization"]
    for api, requests in ((bank, bank_requests(bundle)), (issuer_api, ISSUER_REQUESTS),
                          (regulator_api, REGULATOR_REQUESTS)):
        stranger = issuer_key if api is not issuer_api else f"Bearer {bank_key}"
        for method, path, given in requests:
            declared_answer(api, method, path, api.request(method, path, **given))
            for authorization in ("", stranger):
                declared_answer(api, method, path, api.request(method, path, headers={"Authorization": authorization}))
    regulator_api.app_state.session.close()  # type: ignore[attr-defined]


def undecodable(*_: object) -> bytes:
    raise TransactionFailed("eth_call metadataDigest answered '0x12', which does not decode")


def declared_answer(api: TestClient, method: str, path: str, reply: httpx.Response) -> None:
    """``reply`` to ``method path`` is an answer ``api``'s document declares; a problem's type is in docs/api.md."""
    doc = api.get("/openapi.json").json()
    where = f"{method} {path}: {reply.status_code} {reply.text[:200]}"
    [operation] = [ops[method.lower()] for template, ops in doc["paths"].items()
                   if re.fullmatch(re.sub(r"\\\{\w+\\}", "[^/]+", re.escape(template)), path.split("?")[0])]
    answer = operation["responses"].get(str(reply.status_code))
    assert answer is not None, f"undeclared status: {where}"
    headers = {name.lower() for name in answer.get("headers", {})}
    for header in ("retry-after", "www-authenticate", "accept-post", "link", "idempotent-replayed"):
        assert header not in reply.headers or header in headers, f"undeclared {header}: {where}"
    media_type = reply.headers["content-type"].split(";")[0]
    assert media_type in answer["content"], f"undeclared {media_type}: {where}"
    if media_type.endswith("json"):
        schema = {**answer["content"][media_type]["schema"], "components": doc["components"]}
        assert not (errors := [e.message for e in Draft202012Validator(schema).iter_errors(reply.json())]), \
            f"{errors[:3]}: {where}"
    if media_type == "application/problem+json":
        slug = reply.json()["type"].removeprefix("https://crossverify.example/problems/")
        assert f"`{slug}`" in DOCS, f"docs/api.md does not list the problem type {slug}: {where}"
