"""Presentations through the bank's HTTP service: a challenge, the resident's answer, and a refused replay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crossverify import Certificate, load_bundle, load_challenge, present
from crossverify.config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
from crossverify.format.bundle import Bundle
from crossverify.format.holder import HolderPrivateKey, holder_claim
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.keys.holder import generate_holder_key
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session

from ..conftest import Consortium, deposit_certificates

KEY, DIGEST = new_key()


@pytest.fixture
def bank(consortium: Consortium, tmp_path: Path) -> Iterator[TestClient]:
    config = Config(
        network=NetworkSettings(registry=consortium.registry.address),
        keys=KeySettings(sender_address=consortium.verifier),
        verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=tmp_path / "challenges.sqlite", holder_binding=["DEPCERT"]),
        service=ServiceSettings(api_keys={"test-bank": f"bank {DIGEST}"}, requests_per_minute=6000),
    )
    session = Session(config)
    yield TestClient(create_app(session, start_workers=False), headers={"Authorization": f"Bearer {KEY}"})
    session.close()


def bound_bundle(consortium: Consortium, holder: HolderPrivateKey, folder: Path) -> Bundle:
    """A deposit certificate issued to ``holder``'s key, as its holder keeps it."""
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(folder / "j.sqlite"), folder / "bundles")
    [(ref, cert)] = deposit_certificates(consortium, 1)
    issuer.issue([(ref, Certificate(cert.header, {**cert.claims, "cnf": holder_claim(holder.public_key())}))])
    [path] = issuer.run().delivered
    issuer.journal.close()
    return load_bundle(path.read_bytes())


def failed(verdict: dict[str, Any]) -> list[str]:
    return [c["name"] for c in verdict["checks"] if c["outcome"] == "failed"]


def test_challenge_presentation_and_replay(consortium: Consortium, bank: TestClient, tmp_path: Path) -> None:
    holder = generate_holder_key()
    bundle = bound_bundle(consortium, holder, tmp_path)

    bare = bank.post("/v1/verifications", content=bundle.dumps()).json()
    assert failed(bare) == ["holder_bound"]
    reply = bank.post("/v1/challenges", params={"purpose": "ACCTOPEN"})
    assert reply.status_code == 200
    challenge = load_challenge(reply.text)
    p = present(bundle.redact(["account_no"]), challenge, holder, int(time.time()))  # the service keeps wall time
    verdict = bank.post("/v1/verifications", content=p.dumps()).json()
    assert verdict["valid"] and verdict["purpose"] == "ACCTOPEN"
    assert verdict["presentationHash"] == "0x" + p.hash().hex()
    replay = bank.post("/v1/verifications", content=p.dumps()).json()
    assert failed(replay) == ["challenge_fresh"]
    refused = bank.post("/v1/challenges", params={"purpose": "account opening"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["name"] == "purpose"  # not a purpose code


def test_a_presentation_outliving_its_challenge_is_refused_by_name(consortium: Consortium, bank: TestClient,
                                                                   tmp_path: Path) -> None:
    """A holder signs an exp ten minutes past the challenge's expiresAt (its software shown a longer challenge, or
    stretching its consent on purpose); the bank refuses it within the challenge's life, one request or a batch,
    and the challenge stays open for a presentation that keeps within it."""
    holder = generate_holder_key()
    bundle = bound_bundle(consortium, holder, tmp_path).redact(["account_no"])
    challenge = load_challenge(bank.post("/v1/challenges", params={"purpose": "ACCTOPEN", "ttl": 60}).text)
    now = int(time.time())
    stretched = present(bundle, replace(challenge, expires_at=challenge.expires_at + 600), holder, now)
    assert stretched.binding.exp > challenge.expires_at > now
    verdict = bank.post("/v1/verifications", content=stretched.dumps()).json()
    assert not verdict["valid"] and failed(verdict) == ["presentation_within_challenge"]
    assert verdict["receipt"] is None
    assert "after its challenge does" in {c["name"]: c["detail"] for c in verdict["checks"]}[
        "presentation_within_challenge"]
    # in one batch, the stretched one first: it takes nothing from the honest one after it
    honest = present(bundle, challenge, holder, now)
    assert honest.binding.exp == challenge.expires_at
    both = bank.post("/v1/verifications/batch", json={"bundles": [stretched.to_json(), honest.to_json()]}).json()
    assert [failed(v) for v in both] == [["presentation_within_challenge"], []]
    assert failed(bank.post("/v1/verifications", content=honest.dumps()).json()) == ["challenge_fresh"]  # answered
