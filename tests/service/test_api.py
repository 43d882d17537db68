"""The HTTP service on the embedded chain: a bank, an issuer and a regulator each run their own."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from crossverify.config import (
    AuditSettings,
    Config,
    DisplaySettings,
    IssuerSettings,
    KeySettings,
    NetworkSettings,
    ServiceSettings,
    VerifierSettings,
)
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session
from crossverify.verifier.client import Policy

from ..conftest import EXAMPLES, Consortium

KEYS = {role: new_key() for role in ("bank", "issuer", "regulator")}


def service(c: Consortium, tmp_path: Path, role: str, **keys: object) -> TestClient:
    key, digest = KEYS[role]
    config = Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        keys=KeySettings(dev_mode=True, **keys),  # type: ignore[arg-type]
        issuer=IssuerSettings(id="BNUMMOMX", journal=tmp_path / "journal.sqlite", bundles=tmp_path / "bundles",
                              pickups=tmp_path / "pickups.sqlite"),
        verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite"),
        audit=AuditSettings(index=tmp_path / "audit.sqlite"),
        service=ServiceSettings(api_keys={f"test-{role}": f"{role} {digest}"}, requests_per_minute=6000,
                                max_body_bytes=256 * 1024),
        display=DisplaySettings(metadata=[EXAMPLES / "metadata"]),
    )
    app = create_app(Session(config), start_workers=False)
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    client.app_state = app.state  # type: ignore[attr-defined]
    return client


@pytest.fixture
def issuer_api(consortium: Consortium, tmp_path: Path) -> Iterator[TestClient]:
    api = service(consortium, tmp_path / "issuer", "issuer", sender_address=consortium.macao_operator,
                  signer_private_key="0x" + consortium.signing_key.key.hex())
    yield api
    api.app_state.session.close()  # type: ignore[attr-defined]


@pytest.fixture
def bank_api(consortium: Consortium, tmp_path: Path) -> Iterator[TestClient]:
    api = service(consortium, tmp_path / "bank", "bank", sender_address=consortium.verifier)
    yield api
    api.app_state.session.close()  # type: ignore[attr-defined]


def declared_headers(api: TestClient, method: str, path: str, status: int) -> set[str]:
    """The headers the served OpenAPI document declares for an operation's ``status`` answer, lowercased."""
    answer = api.get("/openapi.json").json()["paths"][path][method]["responses"][str(status)]
    return {name.lower() for name in answer.get("headers", {})}


def issue(consortium: Consortium, api: TestClient, n: int) -> list[dict[str, object]]:
    now = consortium.now()
    entries = [{"reference": f"DEP-{i}", "docType": "DEPCERT", "notAfter": now + 86400 * 30, "asOf": now,
                "claims": {"holder_name": f"LAM Sio {i}", "balance_mop": 1000 * i}} for i in range(n)]
    assert api.post("/v1/certificates", json={"certificates": entries}).json() == {"journalled": n}
    api.app_state.workers["issuer"].run_once()  # type: ignore[attr-defined]
    folder = Path(api.app_state.session.config.issuer.bundles) / "BNUMMOMX"  # type: ignore[attr-defined]
    return [json.loads((folder / f"DEP-{i}.bundle.json").read_text()) for i in range(n)]


def test_a_bank_verifies_and_records_each_receipt_once(consortium: Consortium, issuer_api: TestClient,
                                                       bank_api: TestClient) -> None:
    bundles = issue(consortium, issuer_api, 3)
    no_case = bank_api.post("/v1/verifications", json=bundles[0], params={"purpose": "ACCTOPEN", "inPerson": "true"})
    assert no_case.status_code == 422 and "inPerson needs case" in no_case.json()["detail"]  # as documented
    assert no_case.json()["type"].endswith("/invalid-request") and no_case.json()["errors"][0]["name"] == "case"
    declared = bank_api.get("/openapi.json").json()["paths"]["/v1/verifications"]["post"]["responses"]
    assert str(no_case.status_code) in declared
    for case in ("C" * 33, "A-1\t"):  # a case a receipt cannot carry (1 to 32 bytes, printable): the client's fault
        unfit = bank_api.post("/v1/verifications", json=bundles[0],
                              params={"purpose": "ACCTOPEN", "case": case, "inPerson": "true"})
        assert unfit.status_code == 422 and unfit.json()["errors"][0]["name"] == "case", unfit.text
    reply = bank_api.post("/v1/verifications", json=bundles[0], params={"purpose": "ACCTOPEN", "case": "A-1",
                                                                        "inPerson": "true"})
    assert reply.status_code == 200 and reply.headers["x-request-id"]
    verdict = reply.json()
    assert verdict["valid"] and verdict["disclosed"]["holder_name"] == "LAM Sio 0"
    assert {c["name"] for c in verdict["checks"]} >= {"anchored", "not_revoked", "key_held_by_issuer"}
    assert verdict["receipt"]["state"] == "queued"
    commitment = verdict["receipt"]["commitment"]
    again = bank_api.post("/v1/verifications", json=bundles[0], params={"purpose": "ACCTOPEN", "case": "A-1"})
    assert again.json()["receipt"]["commitment"] == commitment  # one receipt per document, purpose and case
    for purpose in ("ACCTOPEN\n", "acctopen", "ACCOUNTOPEN"):  # not a purpose code: refused, nothing queued
        refused = bank_api.post("/v1/verifications", json=bundles[0], params={"purpose": purpose, "case": "A-2"})
        assert refused.status_code == 422 and refused.json()["errors"][0]["name"] == "purpose", refused.text
    bank_api.app_state.workers["outbox"].run_once()  # type: ignore[attr-defined]
    state = bank_api.get(f"/v1/receipts/{commitment}").json()
    assert state["state"] == "recorded" and state["block"] > 0
    assert bank_api.get(f"/v1/receipts/0x{'11' * 32}").status_code == 404
    opened = [r for r in consortium.opened_receipts() if r.document_digest.hex() == verdict["documentDigest"][2:]]
    assert [(r.purpose, "0x" + r.commitment().hex(), r.case_reference) for r in opened] == [
        ("ACCTOPEN", commitment, "A-1")]

    tampered = {**bundles[1], "claims": [{**c, "value": 9_999_999} if c.get("name") == "balance_mop" else c
                                         for c in bundles[1]["claims"]]}
    many = bank_api.post("/v1/verifications/batch", json={"bundles": [bundles[1], tampered, bundles[2]]}).json()
    assert [v["valid"] for v in many] == [True, False, True]
    assert not bank_api.post("/v1/verifications", content=b"not a bundle").json()["valid"]


def test_a_batch_hands_each_bundle_over_as_compact_as_it_came(consortium: Consortium, issuer_api: TestClient,
                                                                bank_api: TestClient) -> None:
    """A bundle file within the bank's ``max_bundle_bytes`` is within it in a batch too: the batch gives the
    verifier each bundle without a space after every comma and colon, which would push one near the limit over it
    (``BundleTooLarge`` in a batch, valid alone)."""
    [bundle] = issue(consortium, issuer_api, 1)
    compact = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
    bank_api.app_state.queue.verifier.policy = Policy(max_bundle_bytes=len(compact))  # type: ignore[attr-defined]
    assert bank_api.post("/v1/verifications", content=compact).json()["valid"]
    [verdict] = bank_api.post("/v1/verifications/batch", json={"bundles": [bundle]}).json()
    assert verdict["valid"], verdict["checks"][0]


@pytest.mark.usefixtures("still_limits")
def test_institutions_are_authenticated_limited_and_capped(consortium: Consortium, tmp_path: Path,
                                                           bank_api: TestClient) -> None:
    anonymous = TestClient(bank_api.app)
    reply = anonymous.post("/v1/verifications", json={})
    assert reply.status_code == 401 and reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["title"] == "Unauthenticated" and reply.headers["www-authenticate"] == "Bearer"
    assert "www-authenticate" in declared_headers(bank_api, "post", "/v1/verifications", 401)
    wrong = TestClient(bank_api.app, headers={"Authorization": "Bearer cvk_guessed"})
    assert wrong.get("/v1/audit/report").status_code == 401
    assert bank_api.get("/v1/audit/report").status_code == 403
    bank_key = bank_api.headers["authorization"].removeprefix("Bearer ")
    for scheme in ("bearer", "BEARER"):  # the scheme is case-insensitive (RFC 9110, 11.1)
        spelt = TestClient(bank_api.app, headers={"Authorization": f"{scheme} {bank_key}"})
        assert spelt.get(f"/v1/receipts/0x{'11' * 32}").status_code == 404, scheme
    refused = bank_api.post("/v1/pickups", json={"certificate": {}})
    assert refused.status_code == 403 and refused.json()["detail"] == "test-bank is a bank; this needs an issuer"
    too_big = bank_api.post("/v1/verifications", content=b"{" + b" " * 300_000 + b"}")
    assert too_big.status_code == 413 and too_big.json()["status"] == 413

    key, digest = new_key()
    limited = create_app(Session(Config(network=NetworkSettings(registry=consortium.registry.address),
                                        verifier=VerifierSettings(outbox=tmp_path / "o.sqlite"),
                                        keys=KeySettings(sender_address=consortium.verifier),
                                        service=ServiceSettings(api_keys={"b": f"bank {digest}"},
                                                                requests_per_minute=60))), start_workers=False)
    client = TestClient(limited, headers={"Authorization": f"Bearer {key}"})
    by_header = TestClient(limited, headers={"X-API-Key": key})  # the documented alternative: one limit for both
    codes = [c.get("/v1/receipts/0x" + "00" * 32, params={"purpose": "x"}).status_code for c in [client, by_header] * 4]
    assert codes[:6] == [404] * 6 and codes[-1] == 429
    limited.state.session.close()


def test_an_issuer_submits_follows_and_revokes(consortium: Consortium, issuer_api: TestClient,
                                               bank_api: TestClient) -> None:
    bundles = issue(consortium, issuer_api, 2)
    batches = issuer_api.get("/v1/batches").json()
    assert batches["counts"] == {"pending": 0, "delivered": 2} and batches["batches"][0]["state"] == "delivered"
    now = consortium.now()
    again = [{"reference": "DEP-0", "docType": "DEPCERT", "notAfter": now + 86400 * 30, "asOf": now,
              "claims": {"holder_name": "someone else"}}]
    refused = issuer_api.post("/v1/certificates", json={"certificates": again})
    assert refused.status_code == 422 and refused.json()["title"] == "JournalError"
    assert issuer_api.post("/v1/revocations", json={"reference": "DEP-1", "reason": "withdrawn"}).json() == \
        {"revoked": "DEP-1", "reason": "withdrawn"}
    unknown = issuer_api.post("/v1/revocations", json={"reference": "DEP-404", "reason": "withdrawn"})
    assert unknown.status_code == 422 and "not in BNUMMOMX's journal" in unknown.json()["detail"]
    failed = bank_api.post("/v1/verifications", json=bundles[1]).json()
    assert [c["name"] for c in failed["checks"] if c["outcome"] == "failed"] == ["not_revoked"]


def test_an_issuer_sees_a_batch_that_lapsed_before_it_could_be_anchored(consortium: Consortium,
                                                                         issuer_api: TestClient) -> None:
    """A batch sealed while the node was away, whose documents expired meanwhile, is never anchored: the batches
    route says so (lapsedAt, and its documents counted as lapsed), not "sealed" as if the pipeline were stuck."""
    now = consortium.now()
    brief = [{"reference": "DEP-BRIEF", "docType": "DEPCERT", "notAfter": now + 600, "asOf": now,
              "claims": {"holder_name": "LAM Sio"}}]
    assert issuer_api.post("/v1/certificates", json={"certificates": brief}).json() == {"journalled": 1}
    issuer_api.app_state.session.issuer().seal(10)  # type: ignore[attr-defined]
    consortium.travel(900)
    issuer_api.app_state.workers["issuer"].run_once()  # type: ignore[attr-defined]
    page = issuer_api.get("/v1/batches").json()
    assert page["counts"] == {"pending": 0, "lapsed": 1}
    [batch] = page["batches"]
    assert batch["state"] == "sealed" and now + 600 <= batch["lapsedAt"] <= consortium.now()


def test_a_regulator_reads_the_live_report(consortium: Consortium, issuer_api: TestClient, tmp_path: Path) -> None:
    issue(consortium, issuer_api, 2)
    api = service(consortium, tmp_path / "regulator", "regulator")
    api.app_state.workers["audit"].run_once()  # type: ignore[attr-defined]
    report = api.get("/v1/audit/report").json()
    assert report["totals"]["documents"] >= 2
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_operations_endpoints(bank_api: TestClient) -> None:
    assert bank_api.get("/healthz").json() == {"status": "ok"}
    ready = bank_api.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["outbox"] == "starting"
    bank_api.app_state.workers["outbox"].run_once()  # type: ignore[attr-defined]
    assert bank_api.get("/readyz").json()["ready"] is True
    bank_api.get("/healthz")
    assert "crossverify_requests_total" in bank_api.get("/metrics").text
    paths = bank_api.get("/openapi.json").json()["paths"]
    assert {"/v1/verifications", "/v1/verifications/batch", "/v1/receipts/{commitment}"} <= set(paths)
    assert not {"/v1/certificates", "/v1/audit/report"} & set(paths)  # another role's: 403 to every key here


def test_liveness_answers_while_every_thread_is_taken(bank_api: TestClient) -> None:
    """/healthz is answered on the event loop: while the threads that answer the app's other routes are all
    taken (slow stores), or the loop is busy checking batches, it does not wait for one (under 64 verifying
    clients on Hardhat its p50 was 56 ms, 12 ms since)."""
    app = bank_api.app

    async def probe() -> int:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens, release = 1, threading.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, release.wait)  # the only thread, held
            await anyio.sleep(0.05)
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://bank.example") as client:
                    with anyio.fail_after(10):
                        status = (await client.get("/healthz")).status_code
            finally:
                release.set()
        return status

    with ThreadPoolExecutor(1) as thread:  # an event loop of its own (a session's browser runs one in this thread)
        assert thread.submit(anyio.run, probe).result() == 200


def test_head_answers_what_get_would_without_the_body(bank_api: TestClient) -> None:
    for path in ("/healthz", "/openapi.json", "/resident/institution"):
        got, head = bank_api.get(path), bank_api.head(path)
        assert head.status_code == got.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    assert bank_api.head("/v1/verifications").status_code == 405  # a POST resource has no GET to stand for


def test_json_bodies_are_read_as_i_json(consortium: Consortium, issuer_api: TestClient,
                                        bank_api: TestClient) -> None:
    """Before the framework parses a body: no deep recursion, no number rounded, no member taken twice."""
    bundles = issue(consortium, issuer_api, 1)
    text = json.dumps({"bundles": [bundles[0]]})
    assert '"value": 0}' in text  # the balance of LAM Sio 0
    headers = {"content-type": "application/json"}
    for body, error, where in [
        ("[" * 10_000, "NestingTooDeep", ""),
        (text.replace('"value": 0}', '"value": 1e-400}'), "InvalidNumber", "/bundles/0/claims/"),
        (text.replace('"value": 0}', '"value": 0.00000000000000000000000000000000000000000000000000000000000000000'
                                     '00000000000000000000000000000000000000000000000000000000000000000000000000'
                                     '00000000000000000000000000000000000000000000000000000000000000000000000000'
                                     '00000000000000000000000000000000000000000000000000000000000000000000000000'
                                     '00000000000000000000000000000000000000000000000000000000000000000000001}'),
         "InvalidNumber", "/bundles/0/claims/"),
        (text.replace('"version": "1.2"', '"version": "1.2", "version": "1.2"'), "DuplicateKey",
         "/bundles/0/version"),
    ]:
        refused = bank_api.post("/v1/verifications/batch", content=body.encode(), headers=headers)
        assert refused.status_code == 422 and refused.json()["title"] == error, refused.text[:300]
        assert f"(at {where}" in refused.json()["detail"] or not where
    single = bank_api.post("/v1/verifications", content=json.dumps(bundles[0]).replace('"value": 0}',
                                                                                      '"value": 1e-400}'))
    assert single.status_code == 200 and single.json()["checks"][0]["detail"].startswith("InvalidNumber:")
    now = consortium.now()
    nan = json.dumps({"certificates": [{"reference": "X-1", "docType": "DEPCERT", "notAfter": now + 86400,
                                        "asOf": now, "claims": {"balance": float("nan")}}]})
    refused = issuer_api.post("/v1/certificates", content=nan.encode(), headers=headers)
    assert refused.status_code == 422 and refused.json()["title"] == "InvalidNumber"
    assert bank_api.post("/v1/verifications/batch", content=text.encode(), headers=headers).json()[0]["valid"]
