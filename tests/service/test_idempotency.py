"""Idempotency-Key on every operation that creates something, kept in the store whose state it protects; cursor
pagination on lists."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import threading
import time
import uuid
import weakref
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from crossverify.errors import StoreError
from crossverify.idempotency import Answers
from crossverify.service.idempotency import Once
from crossverify.service.problems import Problem
from crossverify.service.routes.issuers import CertificatesIn
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import Consortium
from .test_api import bank_api, declared_headers, issue, issuer_api  # noqa: F401  (fixtures)
from .test_presentations_api import bank  # noqa: F401  (fixture)

REUSED = "https://crossverify.example/problems/idempotency-key-reused"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def entry(consortium: Consortium, reference: str, **claims: Any) -> dict[str, Any]:
    now = consortium.now()
    return {"reference": reference, "docType": "DEPCERT", "notAfter": now + 86400 * 30, "asOf": now,
            "claims": claims or {"holder_name": "CHAN Tai Man"}}


def test_a_retried_pickup_offer_gets_its_first_code_again(consortium: Consortium,
                                                          issuer_api: TestClient) -> None:  # noqa: F811
    offer, headers = {"certificate": entry(consortium, "DEP-P")}, key()
    first = issuer_api.post("/v1/pickups", json=offer, headers=headers)
    again = issuer_api.post("/v1/pickups", json=offer, headers=headers)
    assert first.status_code == again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # the same code: the first is not retired by the retry
    assert "idempotent-replayed" not in first.headers
    assert "idempotent-replayed" in declared_headers(issuer_api, "post", "/v1/pickups", 200)
    fresh = issuer_api.post("/v1/pickups", json=offer, headers=key())  # a new request: a new code
    assert fresh.json()["code"] != first.json()["code"]
    other = issuer_api.post("/v1/pickups", json={"certificate": entry(consortium, "DEP-Q")}, headers=headers)
    assert other.status_code == 422 and other.json()["type"] == REUSED
    store = issuer_api.app_state.session.pickups.store  # type: ignore[attr-defined]
    kept = store.db.execute("SELECT answer FROM idempotency").fetchall()
    assert len(kept) == 2 and all(first.json()["code"].encode() not in bytes(row[0]) for row in kept)


def test_retried_submissions_and_revocations(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                             bank_api: TestClient) -> None:  # noqa: F811
    issue(consortium, issuer_api, 1)
    revocation, headers = {"reference": "DEP-0", "reason": "withdrawn"}, key()
    first = issuer_api.post("/v1/revocations", json=revocation, headers=headers)
    again = issuer_api.post("/v1/revocations", json=revocation, headers=headers)  # not a second transaction
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    unkeyed = issuer_api.post("/v1/revocations", json=revocation)
    assert unkeyed.status_code == 409 and unkeyed.json()["title"] == "RegistryDocumentAlreadyRevoked"

    failing, headers = {"reference": "DEP-404", "reason": "withdrawn"}, key()
    for _ in range(2):  # a failure is not kept: the same request runs (and fails) again
        refused = issuer_api.post("/v1/revocations", json=failing, headers=headers)
        assert refused.status_code == 422 and refused.json()["title"] == "JournalError"
    journal = issuer_api.app_state.session.journal  # type: ignore[attr-defined]
    assert journal.store.db.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0] == 1

    submitted, headers = {"certificates": [entry(consortium, "DEP-9")]}, key()
    assert issuer_api.post("/v1/certificates", json=submitted, headers=headers).json() == {"journalled": 1}
    assert issuer_api.post("/v1/certificates", json=submitted, headers=headers).json() == {"journalled": 1}
    changed = {"certificates": [entry(consortium, "DEP-9", holder_name="someone else")]}
    assert issuer_api.post("/v1/certificates", json=changed, headers=headers).json()["type"] == REUSED
    for bad in ("short", "x" * 300, "has space in it!!"):
        refused = issuer_api.post("/v1/certificates", json=submitted, headers={"Idempotency-Key": bad})
        assert refused.status_code == 422 and refused.json()["errors"][0]["name"] == "Idempotency-Key"
    given = headers["Idempotency-Key"]  # the draft's structured-field form (quoted) names the same key
    quoted = issuer_api.post("/v1/certificates", json=submitted, headers={"Idempotency-Key": f'"{given}"'})
    assert quoted.headers["idempotent-replayed"] == "true"


def test_a_retried_verification_gets_its_first_verdict_and_one_receipt(consortium: Consortium,
                                                                       issuer_api: TestClient,  # noqa: F811
                                                                       bank_api: TestClient) -> None:  # noqa: F811
    [bundle] = issue(consortium, issuer_api, 1)
    headers, params = key(), {"purpose": "ACCTOPEN", "case": "A-7"}
    first = bank_api.post("/v1/verifications", json=bundle, params=params, headers=headers)
    assert first.json()["valid"]
    assert issuer_api.post("/v1/revocations", json={"reference": "DEP-0", "reason": "fraud"}).status_code == 200
    again = bank_api.post("/v1/verifications", json=bundle, params=params, headers=headers)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other_case = bank_api.post("/v1/verifications", json=bundle, params={**params, "case": "A-8"}, headers=headers)
    assert other_case.status_code == 422 and other_case.json()["type"] == REUSED
    outbox = bank_api.app_state.session.outbox  # type: ignore[attr-defined]
    assert outbox.store.db.execute("SELECT COUNT(*) FROM sealed_receipts").fetchone()[0] == 1


def test_the_document_admits_the_keys_the_service_takes(bank: TestClient) -> None:  # noqa: F811
    """A key the OpenAPI document's schema admits is taken, one it does not is refused: the same rule."""
    [parameter] = [p for p in bank.get("/openapi.json").json()["paths"]["/v1/challenges"]["post"]["parameters"]
                   if p["name"] == "Idempotency-Key"]
    admits = Draft202012Validator(parameter["schema"])
    for given in (str(uuid.uuid4()), "k" * 16, "k" * 255, f'"{"k" * 255}"', "k" * 15, "k" * 256, f'"{"k" * 14}"',
                  "has space in it!!", 'a "quote" in the key'):
        taken = bank.post("/v1/challenges", params={"purpose": "ACCTOPEN"}, headers={"Idempotency-Key": given})
        assert admits.is_valid(given) == (taken.status_code == 200), (given, taken.status_code)


def test_a_retried_hand_over_gets_the_same_code(bank: TestClient) -> None:  # noqa: F811
    headers = key()
    first = bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}, headers=headers).json()
    again = bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}, headers=headers).json()
    assert again == first
    other = bank.post("/v1/challenges/hand-over", params={"purpose": "LOAN"}, headers=headers)
    assert other.json()["type"] == REUSED
    challenge = bank.post("/v1/challenges", params={"purpose": "ACCTOPEN"}, headers=key())
    assert challenge.status_code == 200


def test_two_keys_in_one_request_are_refused(bank: TestClient) -> None:  # noqa: F811
    """Which of two keys the first run was kept under would be a guess: the request is refused, nothing made."""
    two = [("Idempotency-Key", key()["Idempotency-Key"]), ("Idempotency-Key", key()["Idempotency-Key"])]
    refused = bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}, headers=two)
    assert refused.status_code == 422 and "given 2 times" in refused.json()["detail"]
    assert refused.json()["errors"] == [{"location": "header", "name": "Idempotency-Key",
                                         "detail": "given more than once"}]


def test_a_request_still_being_answered_is_a_409(consortium: Consortium,
                                                 issuer_api: TestClient) -> None:  # noqa: F811
    submitted, headers = {"certificates": [entry(consortium, "DEP-1")]}, key()
    journal = issuer_api.app_state.session.journal  # type: ignore[attr-defined]
    body = issuer_api.post("/v1/certificates", json=submitted, headers=key())  # warm: the route works
    assert body.status_code == 200
    material = b"\0".join([b"POST", b"/v1/certificates", b"", CertificatesIn.model_validate(
        submitted).model_dump_json().encode()])
    once = Once(Answers(journal.store), "test-issuer", headers["Idempotency-Key"], material)
    assert once.answers.begin(once.key_id, once.fingerprint, int(time.time())) is None  # another worker has it
    busy = issuer_api.post("/v1/certificates", json=submitted, headers=headers)
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    assert "retry-after" in declared_headers(issuer_api, "post", "/v1/certificates", 409)
    assert busy.json()["type"] == "https://crossverify.example/problems/idempotency-key-in-use"
    other_client = Once(Answers(journal.store), "another-issuer", headers["Idempotency-Key"], material)
    assert other_client.key_id != once.key_id  # clients' keys never meet


def test_batches_are_paged_by_cursor(consortium: Consortium, issuer_api: TestClient) -> None:  # noqa: F811
    for i in range(3):  # three rounds of the pipeline: three batches
        entries = [entry(consortium, f"DEP-{i}")]
        assert issuer_api.post("/v1/certificates", json={"certificates": entries}).status_code == 200
        issuer_api.app_state.workers["issuer"].run_once()  # type: ignore[attr-defined]
    first = issuer_api.get("/v1/batches", params={"limit": 2})
    page = first.json()
    assert [b["state"] for b in page["batches"]] == ["delivered"] * 2 and page["counts"]["delivered"] == 3
    assert first.headers["link"] == f'</v1/batches?limit=2&cursor={page["next"]}>; rel="next"'
    assert "link" in declared_headers(issuer_api, "get", "/v1/batches", 200)
    rest = issuer_api.get("/v1/batches", params={"limit": 2, "cursor": page["next"]}).json()
    assert len(rest["batches"]) == 1 and rest["next"] is None
    assert [b["id"] for b in page["batches"] + rest["batches"]] == \
        [b["id"] for b in issuer_api.get("/v1/batches").json()["batches"]]
    assert issuer_api.get("/v1/batches", params={"state": ["sealed", "signed"]}).json()["batches"] == []
    tampered = [base64.urlsafe_b64encode(f"{kind}:{at}".encode()).decode() for kind, at in (
        ("batch", 10**20), ("batch", -1), ("batch", "\u00b2"), ("batch", "\u0663"), ("batch", "1e3"), ("pickup", 1))]
    for bad in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 1001}, {"state": "lost"},
                *({"cursor": cursor} for cursor in tampered)):
        refused = issuer_api.get("/v1/batches", params=bad)
        assert refused.status_code == 422 and refused.json()["type"].endswith("/invalid-request"), bad


def in_a_thread(work: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(work)`` in a thread of its own (a session's browser runs an event loop in this one)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


def test_concurrent_requests_under_keys_are_reserved_and_kept_together(tmp_path: Path) -> None:
    """The requests an event loop reads in one turn reserve their keys in one transaction, and keep their answers
    in one more: one at a time, each waited for its own disk sync before its verification was queued, and the
    verifications came to their batch one by one. A key given twice in one turn is still answered once (409)."""
    answers = Answers(ReceiptOutbox(tmp_path / "outbox.sqlite").store)
    writes: list[tuple[str, int]] = []
    begin_many, finish_many = answers.begin_many, answers.finish_many
    answers.begin_many = lambda requests, now: writes.append(("begin", len(requests))) or begin_many(  # type: ignore[method-assign]
        requests, now)
    answers.finish_many = lambda kept: writes.append(("finish", len(kept))) or finish_many(kept)  # type: ignore[method-assign]
    keys = [str(uuid.uuid4()) for _ in range(8)]

    async def answered(key: str, body: bytes) -> Any:
        async def work() -> dict[str, str]:
            await asyncio.sleep(0)
            return {"verdict": body.decode()}

        try:
            return (await Once(answers, "bank", key, body).arun(work)).body
        except Problem as problem:
            return problem.kind.status

    async def turn() -> list[Any]:
        return await asyncio.gather(*(answered(k, k.encode()) for k in [*keys, keys[0]]))

    first = in_a_thread(turn())
    assert first[:8] == [json.dumps({"verdict": k}, separators=(",", ":")).encode() for k in keys]
    assert first[8] == 409  # the same key, in the same turn: the first is still being answered
    assert writes == [("begin", 9), ("finish", 8)]
    again = in_a_thread(answered(keys[3], keys[3].encode()))
    assert again == first[3] and writes[2:] == [("begin", 1)]  # the first answer again, nothing kept anew


def test_replicas_reserving_the_same_keys_in_other_orders_both_succeed(postgres_url: str) -> None:
    """Two replicas on one PostgreSQL database reserve the same keys in one turn each, in opposite orders (a client
    retrying its requests on the other replica): in the order of their ids, neither is a deadlock's victim (the
    review's reproducer: one turn in two failed whole, every request of it)."""
    a, b = ReceiptOutbox(postgres_url), ReceiptOutbox(postgres_url)
    failures: list[str] = []
    try:
        for _ in range(5):
            keys = [os.urandom(32) for _ in range(200)]
            start = threading.Barrier(2)

            def turn(answers: Answers, order: list[bytes], start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    answers.begin_many([(k, b"f") for k in order], int(time.time()))
                except StoreError as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")

            threads = [threading.Thread(target=turn, args=(Answers(a.store), keys)),
                       threading.Thread(target=turn, args=(Answers(b.store), keys[::-1]))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        a.close()
        b.close()
    assert not failures


def test_the_requests_of_a_closed_event_loop_are_not_held(tmp_path: Path) -> None:
    """What groups an event loop's requests goes with the loop (the review's reproducer: every loop that ever
    answered under a key stayed alive)."""
    answers = Answers(ReceiptOutbox(tmp_path / "outbox.sqlite").store)
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def one(i: int) -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))

        async def work() -> dict[str, int]:
            return {"i": i}

        await Once(answers, "bank", f"key-{i:020d}", b"x").arun(work)

    for i in range(5):
        in_a_thread(one(i))
    gc.collect()
    assert not any(ref() for ref in loops)
