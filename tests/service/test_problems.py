"""Every error the service answers is RFC 9457 problem details with a documented, stable type: the framework's own
(404, 405, 415, request validation), the service's, and named errors; nothing internal leaks into a detail."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from crossverify.chain.connection import _Provider
from crossverify.config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
from crossverify.errors import UNAVAILABLE, NodeTooSlow
from crossverify.service import problems
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session
from crossverify.verifier import client as verifier_client

from ..conftest import Consortium
from .test_api import bank_api, declared_headers, issue, issuer_api  # noqa: F401  (fixtures)

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()


def assert_problem(reply: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"] == f"https://crossverify.example/problems/{slug}" and problem["status"] == status
    assert problem["title"] and problem["detail"] and problem["instance"] and problem["requestId"]
    assert problem["requestId"] == reply.headers["x-request-id"]
    return problem  # type: ignore[no-any-return]


def test_the_frameworks_own_errors_are_problems(bank_api: TestClient) -> None:  # noqa: F811
    assert_problem(bank_api.get("/v1/nowhere"), 404, "not-found")
    assert_problem(bank_api.get("/resident/static/nowhere.js"), 404, "not-found")
    wrong_method = bank_api.delete("/v1/verifications")
    assert "POST" in str(assert_problem(wrong_method, 405, "method-not-allowed")["detail"])
    assert wrong_method.headers["allow"] == "POST"

    as_text = bank_api.post("/v1/verifications/batch", content=b'{"bundles": []}',
                            headers={"content-type": "text/plain"})
    assert "text/plain" in str(assert_problem(as_text, 415, "unsupported-media-type")["detail"])
    assert as_text.headers["accept-post"] == "application/json"
    assert "accept-post" in declared_headers(bank_api, "post", "/v1/verifications/batch", 415)
    form = bank_api.post("/v1/verifications/batch", content=b"[1,2]",  # what curl -d sends
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert_problem(form, 415, "unsupported-media-type")

    not_an_object = assert_problem(bank_api.post("/v1/verifications/batch", json=[1, 2]), 422, "invalid-request")
    assert not_an_object["errors"] == [{"location": "body", "pointer": "/", "detail": not_an_object["errors"][0]
                                        ["detail"]}]  # type: ignore[index]
    items = assert_problem(bank_api.post("/v1/verifications/batch", json={"bundles": [1, {}]}), 422,
                           "invalid-request")
    assert items["errors"] == [{"location": "body", "pointer": "/bundles/0", "detail": "must be a JSON object"}]
    assert items["detail"] == "body /bundles/0: must be a JSON object"  # in the API's words, not a library's
    no_purpose = assert_problem(bank_api.post("/v1/challenges"), 422, "invalid-request")
    assert no_purpose["errors"][0]["location"] == "query" and no_purpose["errors"][0]["name"] == "purpose"  # type: ignore[index]

    malformed = assert_problem(bank_api.get("/v1/receipts/zzz"), 422, "invalid-request")
    assert malformed["errors"][0] == {"location": "path", "name": "commitment",  # type: ignore[index]
                                      "detail": malformed["errors"][0]["detail"]}  # type: ignore[index]
    assert_problem(bank_api.get(f"/v1/receipts/0x{'11' * 32}"), 404, "not-found")


def test_the_services_and_named_problems(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                         bank_api: TestClient) -> None:  # noqa: F811
    assert_problem(TestClient(bank_api.app).post("/v1/verifications", content=b"{}"), 401, "unauthenticated")
    assert_problem(bank_api.get("/v1/batches"), 403, "forbidden")
    assert_problem(bank_api.post("/v1/verifications/batch", content=b"[" * 100, headers={
        "content-type": "application/json"}), 422, "nesting-too-deep")
    assert_problem(bank_api.post("/v1/verifications", content=b" " * 300_000), 413, "request-too-large")
    bad_reason = issuer_api.post("/v1/revocations", json={"reference": "DEP-0", "reason": "bored"})
    assert "withdrawn" in str(assert_problem(bad_reason, 422, "invalid-request")["detail"])
    issue(consortium, issuer_api, 1)
    now = consortium.now()
    changed = issuer_api.post("/v1/certificates", json={"certificates": [
        {"reference": "DEP-0", "docType": "DEPCERT", "notAfter": now + 86400, "asOf": now, "claims": {"a": 1}}]})
    assert assert_problem(changed, 422, "journal-error")["title"] == "JournalError"
    revoked = issuer_api.post("/v1/revocations", json={"reference": "DEP-0", "reason": "withdrawn"})
    assert revoked.status_code == 200
    again = issuer_api.post("/v1/revocations", json={"reference": "DEP-0", "reason": "withdrawn"})
    assert assert_problem(again, 409, "registry-document-already-revoked")["title"] == \
        "RegistryDocumentAlreadyRevoked"


def test_a_node_that_is_down_is_a_503_without_internals(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                        tmp_path: Path) -> None:
    [bundle] = issue(consortium, issuer_api, 1)
    w3 = Web3(consortium.w3.provider)  # the embedded chain, through a provider of its own
    key, digest = new_key()
    config = Config(network=NetworkSettings(registry=consortium.registry.address),
                    keys=KeySettings(sender_address=consortium.verifier),
                    verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite"),
                    service=ServiceSettings(api_keys={"bank": f"bank {digest}"}))
    session = Session(config, w3=w3)
    client = TestClient(create_app(session, start_workers=False), headers={"Authorization": f"Bearer {key}"})
    with socket.socket() as probe:  # then the node goes away: a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    w3.provider = _Provider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 2})
    reply = client.post("/v1/verifications", json=bundle)
    problem = assert_problem(reply, 503, "node-unavailable")
    assert reply.headers["retry-after"] == str(problems.RETRY_UNAVAILABLE)
    assert str(port) not in reply.text and "127.0.0.1" not in reply.text and "urllib3" not in reply.text
    assert problem["title"] == "NodeUnavailable"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["retry-after"] and str(port) not in ready.text
    session.close()


def test_a_node_behind_the_chain_is_a_503_not_a_verdict(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose latest block is older than ``[verifier] max_head_age`` by the bank's clock (it stopped following
    the chain) gets no verdict from the bank's routes, one document or many: a 503 to retry, as a node away."""
    [bundle] = issue(consortium, issuer_api, 1)
    key, digest = new_key()
    config = Config(network=NetworkSettings(registry=consortium.registry.address),
                    keys=KeySettings(sender_address=consortium.verifier),
                    verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite", max_head_age=60),
                    service=ServiceSettings(api_keys={"bank": f"bank {digest}"}))
    session = Session(config, w3=Web3(consortium.w3.provider))
    client = TestClient(create_app(session, start_workers=False), headers={"Authorization": f"Bearer {key}"})
    assert client.post("/v1/verifications", json=bundle).json()["valid"]
    head = consortium.now()  # the bank's clock an hour past the node's latest block
    monkeypatch.setattr(verifier_client, "time", SimpleNamespace(time=lambda: head + 3600, monotonic=time.monotonic))
    for reply in (client.post("/v1/verifications", json=bundle),
                  client.post("/v1/verifications/batch", json={"bundles": [bundle]})):
        assert assert_problem(reply, 503, "node-behind")["title"] == "NodeBehind"
        assert reply.headers["retry-after"] == str(problems.RETRY_UNAVAILABLE)
    assert client.get("/readyz").json()["checks"]["node"].startswith("NodeBehind: ")  # a load balancer's cue
    session.close()


def test_every_problem_type_is_documented() -> None:
    for kind in problems.OWN.values():
        assert f"`{kind.slug}`" in DOCS, f"docs/api.md does not list the problem type {kind.slug}"
    kinds = set(UNAVAILABLE)
    while more := {sub for kind in kinds for sub in kind.__subclasses__()} - kinds:
        kinds |= more  # and each kind of each: a client meets the subclass's own type
    kinds.discard(NodeTooSlow)  # the event loop's give-up: read again on a worker thread, never answered
    for unavailable in {problems.slug_of(c.__name__) for c in kinds} | {"pickup-not-ready", "journal-error"}:
        assert f"`{unavailable}`" in DOCS, f"docs/api.md does not list the problem type {unavailable}"
    documented = set(re.findall(r"https://crossverify\.example/problems/([a-z0-9-]+)", DOCS))
    assert documented, "docs/api.md shows no problem type URI"
    assert problems.slug_of("RegistryRootAlreadyAnchored") == "registry-root-already-anchored"
    assert problems.slug_of("NoRegulatorKey") == "no-regulator-key"
