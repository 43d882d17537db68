"""The pickup flow and the clerk's hand-over code through the HTTP service: every misuse answered with a named
problem, nothing personal in the logs."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crossverify import Certificate, load_bundle, load_challenge, present
from crossverify.format.holder import holder_claim, public_jwk
from crossverify.issuer import pickup
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.issuer.pickup import KEEP_AFTER, MAX_ATTEMPTS
from crossverify.keys.holder import generate_holder_key

from ..conftest import Consortium, deposit_certificates
from .test_api import declared_headers, issuer_api  # noqa: F401  (fixture)
from .test_presentations_api import bank  # noqa: F401  (fixture)

CLAIMS = {"holder_name": "陳大文 CHAN Tai Man", "balance_mop": 125000}


def offer(consortium: Consortium, api: TestClient, reference: str = "DEP-P", **extra: object) -> dict[str, str]:
    entry = {"reference": reference, "docType": "DEPCERT", "notAfter": consortium.now() + 86400 * 30,
             "claims": CLAIMS}
    reply = api.post("/v1/pickups", json={"certificate": entry, **extra})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_a_resident_collects_with_the_code_once(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    offered = offer(consortium, issuer_api)
    assert offered["page"] == f"/resident/pickup/#code={offered['code']}"
    assert offer(consortium, issuer_api)["code"] != offered["code"]  # offered again: a new code retires the old
    resident = TestClient(issuer_api.app)  # no key
    jwk = public_jwk(generate_holder_key().public_key())
    old = resident.post("/resident/pickups/enrol", json={"code": offered["code"], "jwk": jwk})
    assert old.status_code == 403 and old.json()["title"] == "PickupCodeInvalid"
    offered = offer(consortium, issuer_api)
    enrolled = resident.post("/resident/pickups/enrol", json={"code": offered["code"], "jwk": jwk})
    assert enrolled.status_code == 200 and enrolled.json()["reference"] == "DEP-P"
    token = enrolled.json()["collectToken"]
    again = resident.post("/resident/pickups/enrol", json={"code": offered["code"], "jwk": jwk})
    assert again.status_code == 403 and again.json()["title"] == "PickupCodeUsed"
    early = resident.post("/resident/pickups/collect", json={"collectToken": token})
    assert early.status_code == 409 and early.headers["retry-after"] == "2"
    assert "retry-after" in declared_headers(issuer_api, "post", "/resident/pickups/collect", 409)
    assert early.json()["title"] == "PickupNotReady"
    assert issuer_api.get("/v1/pickups/DEP-P").json() == {"reference": "DEP-P", "state": "journalled"}
    issuer_api.app_state.workers["issuer"].run_once()  # type: ignore[attr-defined]
    collected = resident.post("/resident/pickups/collect", json={"collectToken": token})
    assert collected.status_code == 200 and collected.headers["cache-control"] == "no-store"
    assert load_bundle(collected.content).disclosed()["cnf"] == {"jwk": jwk}
    assert issuer_api.get("/v1/pickups/DEP-P").json()["state"] == "delivered"
    assert resident.post("/v1/pickups", json={}).status_code == 401  # offering needs the issuer's key
    assert issuer_api.get("/v1/pickups/NOPE").status_code == 404
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "/resident/pickups/enrol" in logged
    for secret in [offered["code"], token, "CHAN Tai Man", jwk["x"]]:
        assert secret not in logged


@pytest.mark.usefixtures("still_limits")
def test_wrong_codes_lock_the_pickup(consortium: Consortium, issuer_api: TestClient) -> None:  # noqa: F811
    resident = TestClient(issuer_api.app)
    jwk = public_jwk(generate_holder_key().public_key())
    offered = offer(consortium, issuer_api, "DEP-Q")
    handle = offered["code"][:4]
    for _ in range(MAX_ATTEMPTS):
        wrong = resident.post("/resident/pickups/enrol", json={"code": f"{handle}-0000-0000-0000", "jwk": jwk})
        assert wrong.status_code == 403 and wrong.json()["title"] == "PickupCodeInvalid"
    locked = resident.post("/resident/pickups/enrol", json={"code": offered["code"], "jwk": jwk})
    assert locked.status_code == 403 and locked.json()["title"] == "PickupLocked"
    assert issuer_api.get("/v1/pickups/DEP-Q").json()["state"] == "locked"
    limited = resident.post("/resident/pickups/enrol", json={"code": offered["code"], "jwk": jwk})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1  # and per address, too


def test_expired_codes_bad_keys_and_bound_offers_are_refused(consortium: Consortium,
                                                              issuer_api: TestClient) -> None:  # noqa: F811
    resident = TestClient(issuer_api.app)
    jwk = public_jwk(generate_holder_key().public_key())
    short = offer(consortium, issuer_api, "DEP-R", ttl=1)
    time.sleep(1.1)
    expired = resident.post("/resident/pickups/enrol", json={"code": short["code"], "jwk": jwk})
    assert expired.status_code == 410 and expired.json()["title"] == "PickupExpired"
    fresh = offer(consortium, issuer_api, "DEP-S")
    bad_key = resident.post("/resident/pickups/enrol", json={"code": fresh["code"], "jwk": {**jwk, "crv": "P-384"}})
    assert bad_key.status_code == 422 and bad_key.json()["title"] == "HolderKeyError"
    unknown = resident.post("/resident/pickups/collect", json={"collectToken": "guessed"})
    assert unknown.status_code == 403 and unknown.json()["title"] == "PickupCodeInvalid"
    bound = issuer_api.post("/v1/pickups", json={"certificate": {
        "reference": "DEP-T", "docType": "DEPCERT", "notAfter": consortium.now() + 86400,
        "claims": {**CLAIMS, "cnf": {"jwk": jwk}}}})
    assert bound.status_code == 422 and bound.json()["title"] == "PickupError"


def test_the_issuers_round_prunes_a_pickup_past_keeping(consortium: Consortium,
                                                        issuer_api: TestClient) -> None:  # noqa: F811
    offer(consortium, issuer_api, "DEP-OLD")
    offer(consortium, issuer_api, "DEP-NEW")
    pickups = issuer_api.app_state.context.pickups  # type: ignore[attr-defined]
    with pickups.store.transaction() as db:  # its code expired unused longer ago than pickups are kept
        db.execute("UPDATE pickups SET expires_at = ? WHERE reference = 'DEP-OLD'", (int(time.time()) - KEEP_AFTER,))
    issuer_api.app_state.workers["issuer"].run_once()  # type: ignore[attr-defined]
    gone = issuer_api.get("/v1/pickups/DEP-OLD")
    assert gone.status_code == 404 and "deleted 30 days after its code expired" in gone.json()["detail"]
    assert issuer_api.get("/v1/pickups/DEP-NEW").json() == {"reference": "DEP-NEW", "state": "offered"}


def test_an_offer_that_finds_no_free_handle_is_refused_without_a_retry_in_seconds(
        consortium: Consortium, issuer_api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Every handle drawn taken is a full store, not a busy one: 503 ``PickupStoreFull``, nothing written, and no
    ``Retry-After`` of seconds (handles come free as pickups are pruned, 30 days after their codes expire)."""
    taken = offer(consortium, issuer_api, "DEP-FIRST")["code"][:4]
    monkeypatch.setattr(pickup, "_new_code", lambda: (taken, f"{taken}-0000-0000-0000"))
    entry = {"reference": "DEP-FULL", "docType": "DEPCERT", "notAfter": consortium.now() + 86400, "claims": CLAIMS}
    refused = issuer_api.post("/v1/pickups", json={"certificate": entry})
    assert refused.status_code == 503 and refused.json()["title"] == "PickupStoreFull"
    assert "retry-after" not in refused.headers and "been pruned" in refused.json()["detail"]
    assert issuer_api.get("/v1/pickups/DEP-FULL").status_code == 404


def test_the_clerk_hands_the_challenge_over_by_code(bank: TestClient) -> None:  # noqa: F811
    handed = bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()
    assert handed["page"] == f"/resident/#code={handed['code']}"
    resident = TestClient(bank.app)
    read = resident.post("/resident/challenges", json={"code": handed["code"].lower()})
    assert read.status_code == 200 and read.json() == handed["challenge"]
    wrong = resident.post("/resident/challenges", json={"code": "ZZZZZ-ZZZZZ"})
    assert wrong.status_code == 422 and wrong.json()["title"] == "ChallengeError"
    assert resident.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).status_code == 401
    assert json.loads(bank.post("/v1/challenges", params={"purpose": "ACCTOPEN"}).text).keys() == {
        "version", "aud", "nonce", "purpose", "expiresAt"}  # the bare challenge stays a challenge file


def test_the_clerk_sees_what_became_of_the_challenge(consortium: Consortium, bank: TestClient,  # noqa: F811
                                                     tmp_path: Path) -> None:
    holder = generate_holder_key()
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "j.sqlite"), tmp_path / "bundles")
    [(ref, cert)] = deposit_certificates(consortium, 1)
    issuer.issue([(ref, Certificate(cert.header, {**cert.claims, "cnf": holder_claim(holder.public_key())}))])
    [path] = issuer.run().delivered
    issuer.journal.close()
    handed = bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()
    assert bank.get(f"/v1/challenges/hand-over/{handed['code']}").json()["state"] == "open"
    resident = TestClient(bank.app)
    challenge = load_challenge(resident.post("/resident/challenges", json={"code": handed["code"]}).text)
    presentation = present(load_bundle(path.read_bytes()).redact(["account_no"]), challenge, holder, int(time.time()))
    assert resident.post("/resident/verifications", content=presentation.dumps()).json()["valid"]
    replay = resident.post("/resident/verifications", content=presentation.dumps()).json()
    assert not replay["valid"]
    state = bank.get(f"/v1/challenges/hand-over/{handed['code'].lower()}").json()
    assert state["state"] == "answered" and state["verdict"]["valid"]  # the replay did not overwrite it
    assert state["verdict"]["presentationHash"] == "0x" + presentation.hash().hex()
    assert "account_no" not in state["verdict"]["disclosed"]
    assert bank.get("/v1/challenges/hand-over/ZZZZZ-ZZZZZ").status_code == 404
    assert resident.get(f"/v1/challenges/hand-over/{handed['code']}").status_code == 401
