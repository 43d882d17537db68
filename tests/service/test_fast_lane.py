"""The fast lane answers a bank's verification exactly as the route does: the same status, media type, verdict,
receipt and problem details, for the plain case it takes and for every request it hands over."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from crossverify import Certificate, load_challenge, present
from crossverify.config import (
    AuditSettings,
    Config,
    KeySettings,
    NetworkSettings,
    ServiceSettings,
    VerifierSettings,
)
from crossverify.format.batch import salt_document, seal_batch
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.holder import holder_claim
from crossverify.keys.holder import generate_holder_key
from crossverify.service import auth
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.service.middleware import FastLane
from crossverify.session import Session
from crossverify.verifier.client import Check, Outcome, VerificationReport

from ..conftest import Consortium, deposit_certificates

BANK, REGULATOR = new_key(), new_key()


def app(c: Consortium, folder: Path, lane: bool) -> FastAPI:
    config = Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        keys=KeySettings(dev_mode=True, sender_address=c.verifier),
        verifier=VerifierSettings(outbox=folder / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=folder / "challenges.sqlite"),
        audit=AuditSettings(index=folder / "audit.sqlite"),
        service=ServiceSettings(api_keys={"clerk": f"bank {BANK[1]}", "amcm": f"regulator {REGULATOR[1]}"},
                                requests_per_minute=60),  # bursts of 6
    )
    built = create_app(Session(config), start_workers=False)
    if not lane:  # the route alone, as the framework serves it
        built.user_middleware = [m for m in built.user_middleware if m.cls is not FastLane]
    return built


@pytest.fixture
def apps(consortium: Consortium, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with_lane, route_only = app(consortium, tmp_path / "a", True), app(consortium, tmp_path / "b", False)
    yield TestClient(with_lane), TestClient(route_only)
    for built in (with_lane, route_only):
        built.state.session.close()


def answer(client: TestClient, body: bytes, key: str | None, query: str = "") -> tuple[Any, ...]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    reply = client.post(f"/v1/verifications{query}", content=body, headers=headers)
    data = reply.json()
    if isinstance(data, dict):
        data.pop("requestId", None)
        if data.get("receipt"):  # each app's outbox salts its own receipt: the rest must agree
            data["receipt"] = {k: v for k, v in data["receipt"].items() if k != "commitment"}
    return reply.status_code, reply.headers["content-type"], reply.headers.get("retry-after"), data


def test_the_lane_answers_as_the_route(consortium: Consortium, apps: tuple[TestClient, TestClient],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth.time, "monotonic", lambda: 1000.0)  # no tokens come back while the test runs
    certificates = deposit_certificates(consortium, 2)
    batch = seal_batch([salt_document(cert, HashAlgorithm.KECCAK256) for _, cert in certificates])
    consortium.anchor(batch.root, leaf_count=2)
    genuine = batch.bundle(0, consortium.w3.eth.chain_id, consortium.registry.address).dumps().encode()
    cases = [
        (genuine, BANK[0], ""),  # the plain case
        (genuine, BANK[0], "?purpose=ACCTOPEN&case=C-1"),  # with a receipt
        (genuine, BANK[0], "?purpose=ACCTOPEN&case=C-1"),  # the same receipt again: not doubled
        (b'{"version": "1.1"}', BANK[0], ""),  # not a bundle: a verdict that says why
        (genuine, BANK[0], "?purpose=NO%20SUCH"),  # a purpose that is not a code
        (genuine, BANK[0], "?other=1"),  # a parameter the route ignores
        (genuine, None, ""),  # no key
        (genuine, "cvk_not-a-key", ""),  # an unknown key
        (genuine, REGULATOR[0], ""),  # a regulator's key
        *[(genuine, BANK[0], "")] * 3,  # over the clerk's burst of 6: rate limited, with Retry-After
    ]
    lane, route = apps
    answers = [(answer(lane, *case), answer(route, *case)) for case in cases]
    for (got, expected), case in zip(answers, cases, strict=True):
        assert got == expected, case
    statuses = [got[0] for got, _ in answers]
    assert statuses == [200, 200, 200, 200, 422, 200, 401, 401, 403, 429, 429, 429]
    assert answers[1][0][3]["receipt"]["state"] == "queued"


def test_the_verdict_text_is_json_dumps_of_the_verdict_byte_for_byte(consortium: Consortium, tmp_path: Path) -> None:
    """The lane and the route write a verdict from its parts: the very bytes ``json.dumps`` gives its dict, for
    checks whose details hold quotes, backslashes, control characters and text beyond ASCII and the BMP."""
    built = app(consortium, tmp_path, True)
    ctx = built.state.context
    certificates = deposit_certificates(consortium, 1)
    batch = seal_batch([salt_document(cert, HashAlgorithm.KECCAK256) for _, cert in certificates])
    consortium.anchor(batch.root, leaf_count=1)
    genuine = batch.bundle(0, consortium.w3.eth.chain_id, consortium.registry.address).dumps().encode()
    odd = 'BundleError: "名字" \\ at /claims/0\n\t\x00\x1f \u2028 café 🏦'
    [report] = ctx.queue.verify([genuine])
    unreadable = VerificationReport((Check("bundle_well_formed", Outcome.FAILED, odd),))
    for given, receipt in [(report, None), (report, {"state": "queued", "case": "C-1"}),
                           (replace(report, checks=(*report.checks, Check("x", Outcome.NOT_APPLICABLE, odd))), None),
                           (unreadable, None)]:
        expected = json.dumps(ctx.verdict(given, receipt), ensure_ascii=False, separators=(",", ":")).encode()
        assert ctx.verdict_text(given, receipt) == expected
    built.state.session.close()


@pytest.fixture
def consenting(consortium: Consortium, tmp_path: Path) -> Iterator[FastAPI]:
    """A bank's app with the lane, whose lane says (in ``state.taken``) whether it answered each request."""
    built = app(consortium, tmp_path, True)
    [lane] = [m for m in built.user_middleware if m.cls is FastLane]
    handler, built.state.taken = lane.kwargs["handler"], []

    async def watched(scope: Any, body: bytes) -> Any:
        given = await handler(scope, body)
        built.state.taken.append(given is not None)
        return given

    lane.kwargs["handler"] = watched
    yield built
    built.state.session.close()


def test_the_lane_refuses_a_presentation_outliving_its_challenge_as_the_route_does(consortium: Consortium,
                                                                                   consenting: FastAPI) -> None:
    """The lane takes the plain request and the route the same presentation with a parameter the lane leaves to
    it: both refuse it by name, alike, and neither uses the challenge, which an honest presentation then answers
    through the lane."""
    client, taken = TestClient(consenting), consenting.state.taken
    holder = generate_holder_key()
    [(_, cert)] = deposit_certificates(consortium, 1)
    bound = Certificate(cert.header, {**cert.claims, "cnf": holder_claim(holder.public_key())})
    batch = seal_batch([salt_document(bound, HashAlgorithm.KECCAK256)])
    consortium.anchor(batch.root, leaf_count=1)
    bundle = batch.bundle(0, consortium.w3.eth.chain_id, consortium.registry.address)
    issued = client.post("/v1/challenges", params={"purpose": "ACCTOPEN", "ttl": 60},
                         headers={"Authorization": f"Bearer {BANK[0]}"})
    challenge = load_challenge(issued.text)
    now = int(time.time())
    stretched = present(bundle, replace(challenge, expires_at=challenge.expires_at + 600), holder, now)
    by_lane = answer(client, stretched.dumps().encode(), BANK[0], "?purpose=ACCTOPEN")
    by_route = answer(client, stretched.dumps().encode(), BANK[0], "?purpose=ACCTOPEN&other=1")
    assert taken == [True, False] and by_lane == by_route
    assert [c["name"] for c in by_lane[3]["checks"] if c["outcome"] == "failed"] == [
        "presentation_within_challenge"]
    assert by_lane[3]["receipt"] is None
    honest = answer(client, present(bundle, challenge, holder, now).dumps().encode(), BANK[0], "?purpose=ACCTOPEN")
    assert taken[-1] and honest[3]["valid"] and honest[3]["receipt"]["state"] == "queued"
