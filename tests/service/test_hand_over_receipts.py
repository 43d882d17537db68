"""The resident page's answer to a clerk's hand-over leaves one sealed receipt: queued with the verdict, shown to
the clerk, recorded in the background, and read by the regulator as consented for the hand-over's purpose."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from crossverify import Certificate, load_bundle, load_challenge, present
from crossverify.chain.records import RevocationReason
from crossverify.config import (
    AuditSettings,
    Config,
    KeySettings,
    NetworkSettings,
    RegulatorSettings,
    ServiceSettings,
    VerifierSettings,
)
from crossverify.errors import StoreLocked
from crossverify.format.bundle import Bundle
from crossverify.format.holder import holder_claim
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.keys.holder import generate_holder_key
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session
from crossverify.verifier.challenges import ANSWERS_KEPT

from ..conftest import Consortium, deposit_certificates

BANK_KEY, BANK_DIGEST = new_key()
REGULATOR_KEY, REGULATOR_DIGEST = new_key()


class Crash(Exception):
    pass


@pytest.fixture
def service(consortium: Consortium, tmp_path: Path) -> Iterator[TestClient]:
    """One service for the bank (its clerk) and a regulator, with the page's routes for the resident."""
    c = consortium
    c.regulator_keys[0].write(tmp_path / "amcm.key")
    config = Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        keys=KeySettings(sender_address=c.verifier),
        verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=tmp_path / "challenges.sqlite"),
        audit=AuditSettings(index=tmp_path / "audit.sqlite"),
        regulator=RegulatorSettings(key_files=[tmp_path / "amcm.key"]),
        service=ServiceSettings(api_keys={"bank": f"bank {BANK_DIGEST}", "amcm": f"regulator {REGULATOR_DIGEST}"},
                                requests_per_minute=6000))
    session = Session(config)
    app = create_app(session, start_workers=False)
    client = TestClient(app, headers={"Authorization": f"Bearer {BANK_KEY}"})
    client.app_state = app.state  # type: ignore[attr-defined]
    yield client
    session.close()


def holder_bound(c: Consortium, tmp_path: Path, holder: ec.EllipticCurvePrivateKey, n: int
                 ) -> tuple[IssuerClient, list[Bundle]]:
    issuer = IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.issuer_admin, Journal(tmp_path / "j.sqlite"),
                          tmp_path / "bundles")
    issuer.issue([(ref, Certificate(cert.header, {**cert.claims, "cnf": holder_claim(holder.public_key())}))
                  for ref, cert in deposit_certificates(c, n)])
    return issuer, [load_bundle(p.read_bytes()) for p in issuer.run().delivered]


def answer(api: TestClient, bundle: Bundle, holder: ec.EllipticCurvePrivateKey) -> tuple[str, bytes, dict[str, Any]]:
    """The clerk hands a challenge over; the page reads it, presents ``bundle`` and gets the verdict."""
    code = _open(api)
    return (code, *submit(api, code, bundle, holder))


def submit(api: TestClient, code: str, bundle: Bundle, holder: ec.EllipticCurvePrivateKey
           ) -> tuple[bytes, dict[str, Any]]:
    """The page reads the challenge by ``code``, presents ``bundle`` and gets the verdict."""
    resident = TestClient(api.app)  # no key
    challenge = load_challenge(resident.post("/resident/challenges", json={"code": code}).text)
    presented = present(bundle.redact(["account_no"]), challenge, holder, int(time.time())).dumps()
    return presented, resident.post("/resident/verifications", content=presented).json()


def outbox_counts(api: TestClient) -> dict[str, int]:
    return api.app_state.session.outbox.counts()  # type: ignore[attr-defined,no-any-return]


def test_the_page_leaves_one_receipt_the_regulator_reads_as_consented(consortium: Consortium, service: TestClient,
                                                                      tmp_path: Path) -> None:
    holder = generate_holder_key()
    issuer, [bundle] = holder_bound(consortium, tmp_path, holder, 1)
    issuer.journal.close()
    assert service.get(f"/v1/challenges/hand-over/{_open(service)}").json()["receipt"] is None

    code, presented, verdict = answer(service, bundle, holder)
    assert verdict["valid"] and verdict["receipt"]["state"] == "queued"
    commitment = verdict["receipt"]["commitment"]
    followed = service.get(f"/v1/challenges/hand-over/{code}")
    assert followed.headers["cache-control"] == "no-store"  # the resident's claims stay on no clerk's disk
    clerk = followed.json()
    assert clerk["state"] == "answered" and clerk["receipt"] == service.get(f"/v1/receipts/{commitment}").json()
    assert clerk["receipt"]["commitment"] == commitment and clerk["verdict"]["receipt"] == clerk["receipt"]

    replay = TestClient(service.app).post("/resident/verifications", content=presented).json()
    assert not replay["valid"] and replay["receipt"] is None
    assert outbox_counts(service) == {"queued": 1}

    workers = service.app_state.workers  # type: ignore[attr-defined]
    workers["outbox"].run_once()
    recorded = service.get(f"/v1/challenges/hand-over/{code}").json()["receipt"]
    assert recorded["state"] == "recorded" and recorded["block"] is not None
    workers["audit"].run_once()
    regulator = {"Authorization": f"Bearer {REGULATOR_KEY}"}
    trail = service.get(f"/v1/regulator/circulation/{verdict['documentDigest']}", headers=regulator).json()
    [seen] = trail["receipts"]
    assert (seen["commitment"], seen["purpose"], seen["consented"], seen["verifier"]) == (
        commitment, "ACCTOPEN", True, consortium.verifier)
    assert seen["presentationHash"] == verdict["presentationHash"]
    workers["outbox"].run_once()
    assert outbox_counts(service) == {"recorded": 1}


def test_a_failed_verification_leaves_no_receipt(consortium: Consortium, service: TestClient,
                                                 tmp_path: Path) -> None:
    holder = generate_holder_key()
    issuer, [bundle] = holder_bound(consortium, tmp_path, holder, 1)
    issuer.revoke(RevocationReason.FRAUD, document=bundle.document_digest())
    issuer.journal.close()
    code, _, verdict = answer(service, bundle, holder)
    assert not verdict["valid"] and verdict["receipt"] is None
    clerk = service.get(f"/v1/challenges/hand-over/{code}").json()
    assert clerk["state"] == "answered" and not clerk["verdict"]["valid"] and clerk["receipt"] is None
    assert outbox_counts(service) == {}


def test_a_presentation_outliving_the_clerks_challenge_is_refused_and_leaves_it_open(consortium: Consortium,
                                                                                     service: TestClient,
                                                                                     tmp_path: Path) -> None:
    """The page's answer, signed to expire ten minutes after the clerk's challenge, is refused by name: no answer
    on the clerk's screen, no receipt; the resident's honest answer then takes the challenge as usual."""
    holder = generate_holder_key()
    issuer, [bundle] = holder_bound(consortium, tmp_path, holder, 1)
    issuer.journal.close()
    code = service.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN", "ttl": 60}).json()["code"]
    resident = TestClient(service.app)
    challenge = load_challenge(resident.post("/resident/challenges", json={"code": code}).text)
    now = int(time.time())
    stretched = present(bundle, replace(challenge, expires_at=challenge.expires_at + 600), holder, now)
    assert stretched.binding.exp > challenge.expires_at
    verdict = resident.post("/resident/verifications", content=stretched.dumps()).json()
    assert [c["name"] for c in verdict["checks"] if c["outcome"] == "failed"] == ["presentation_within_challenge"]
    assert verdict["receipt"] is None
    clerk = service.get(f"/v1/challenges/hand-over/{code}").json()
    assert clerk["state"] == "open" and clerk["verdict"] is None and outbox_counts(service) == {}

    _, honest = submit(service, code, bundle, holder)
    assert honest["valid"] and honest["receipt"]["state"] == "queued"
    assert service.get(f"/v1/challenges/hand-over/{code}").json()["state"] == "answered"
    assert outbox_counts(service) == {"queued": 1}


def test_a_crash_before_the_outbox_loses_no_receipt(consortium: Consortium, service: TestClient, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    holder = generate_holder_key()
    issuer, bundles = holder_bound(consortium, tmp_path, holder, 2)
    issuer.journal.close()
    outbox = service.app_state.session.outbox  # type: ignore[attr-defined]

    def crash(*_: object) -> None:
        raise Crash("the process dies after the verdict is kept, before the outbox has the receipt")

    codes = [_open(service) for _ in bundles]
    monkeypatch.setattr(outbox, "enqueue", crash)
    for code, bundle in zip(codes, bundles, strict=True):  # the request fails as the crash would leave it
        assert submit(service, code, bundle, holder)[1]["type"] == "https://crossverify.example/problems/internal-error"
    monkeypatch.undo()
    assert outbox_counts(service) == {}

    first = service.get(f"/v1/challenges/hand-over/{codes[0]}").json()  # the clerk's screen queues what was kept
    assert first["state"] == "answered" and first["verdict"]["valid"] and first["receipt"]["state"] == "queued"
    assert outbox_counts(service) == {"queued": 2}
    service.app_state.workers["outbox"].run_once()  # type: ignore[attr-defined]
    assert outbox_counts(service) == {"recorded": 2}
    again = service.get(f"/v1/challenges/hand-over/{codes[0]}").json()["receipt"]
    assert again["commitment"] == first["receipt"]["commitment"] and again["state"] == "recorded"


def test_an_answer_that_could_not_be_kept_leaves_the_challenge_open_for_the_page_s_retry(
        consortium: Consortium, service: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The presentation passed (its challenge consumed), then its answer could not be kept (the store locked by
    another replica): the page is answered 503 and nothing is on the clerk's screen; the challenge is open again,
    so the page's retry of the same presentation is valid, not refused as a replay, and leaves one receipt."""
    holder = generate_holder_key()
    issuer, [bundle] = holder_bound(consortium, tmp_path, holder, 1)
    issuer.journal.close()
    challenges = service.app_state.context.queue.verifier.challenges  # type: ignore[attr-defined]
    record_answer = challenges.record_answer

    def locked(*_: object) -> None:
        raise StoreLocked("the store is locked by another replica")

    code = _open(service)
    monkeypatch.setattr(challenges, "record_answer", locked)
    presented, refused = submit(service, code, bundle, holder)
    assert refused["status"] == 503 and refused["type"].endswith("/store-locked")
    assert service.get(f"/v1/challenges/hand-over/{code}").json()["state"] == "open"
    monkeypatch.setattr(challenges, "record_answer", record_answer)
    verdict = TestClient(service.app).post("/resident/verifications", content=presented).json()
    assert verdict["valid"] and verdict["receipt"]["state"] == "queued"
    assert service.get(f"/v1/challenges/hand-over/{code}").json()["state"] == "answered"
    assert outbox_counts(service) == {"queued": 1}


def test_an_answer_kept_while_the_outbox_is_away_is_valid_and_its_receipt_follows(
        consortium: Consortium, service: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer was kept, then its receipt could not be queued (the outbox locked by another replica): the page
    is told the verdict (valid, its receipt's reference, queued), not 503, for the answer stands (sent again it
    is a replay); the clerk's screen has the same receipt, which the outbox's next round queues once."""
    holder = generate_holder_key()
    issuer, [bundle] = holder_bound(consortium, tmp_path, holder, 1)
    issuer.journal.close()
    outbox = service.app_state.session.outbox  # type: ignore[attr-defined]

    def locked(*_: object) -> None:
        raise StoreLocked("the outbox is locked by another replica")

    code = _open(service)
    monkeypatch.setattr(outbox, "enqueue", locked)
    presented, verdict = submit(service, code, bundle, holder)
    assert verdict["valid"] and verdict["receipt"]["state"] == "queued", verdict
    assert outbox_counts(service) == {}
    monkeypatch.undo()
    replay = TestClient(service.app).post("/resident/verifications", content=presented).json()
    assert not replay["valid"] and replay["receipt"] is None
    clerk = service.get(f"/v1/challenges/hand-over/{code}").json()
    assert clerk["state"] == "answered" and clerk["receipt"]["commitment"] == verdict["receipt"]["commitment"]
    assert outbox_counts(service) == {"queued": 1}


def _open(api: TestClient) -> str:
    return str(api.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()["code"])


def test_the_outbox_worker_forgets_challenges_an_hour_after_they_expire(service: TestClient) -> None:
    """A bank that hands nothing over still forgets old challenges: the outbox's round purges them (a bounded
    batch a round), codes and verdicts with them, once the clerk's hour to read the verdict has passed."""
    challenges = service.app_state.session.challenges  # type: ignore[attr-defined]
    now = int(time.time())
    long_ago = challenges.issue("ACCTOPEN", now - ANSWERS_KEPT - 120, ttl=60)
    challenges.hand_over(long_ago)
    recent = challenges.issue("ACCTOPEN", now - ANSWERS_KEPT + 120, ttl=60)  # expired: its hour not over yet
    challenges.hand_over(recent)
    service.app_state.workers["outbox"].run_once()  # type: ignore[attr-defined]
    left = {bytes(n) for (n,) in challenges.store.db.execute("SELECT nonce FROM challenges")}
    assert left == {recent.nonce}
    assert challenges.store.db.execute("SELECT COUNT(*) FROM challenge_codes").fetchone()[0] == 1


def test_a_purge_that_fails_neither_stops_the_receipts_nor_passes_for_another_replica(
        consortium: Consortium, service: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = generate_holder_key()
    issuer, [bundle] = holder_bound(consortium, tmp_path, holder, 1)
    issuer.journal.close()
    answer(service, bundle, holder)

    def locked(now: int) -> int:
        raise StoreLocked("the challenge store is locked by another process")

    monkeypatch.setattr(service.app_state.session.challenges, "purge", locked)  # type: ignore[attr-defined]
    worker = service.app_state.workers["outbox"]  # type: ignore[attr-defined]
    worker.run_once()
    assert outbox_counts(service) == {"recorded": 1}
    assert (worker.standby, worker.last_error) == (False, None)
