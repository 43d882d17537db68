"""Presentations through the bank's HTTP service: a challenge, the resident's answer, and a refused replay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crossverify import Certificate, load_bundle, load_challenge, present
from crossverify.config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
from crossverify.format.holder import holder_claim
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


def test_challenge_presentation_and_replay(consortium: Consortium, bank: TestClient, tmp_path: Path) -> None:
    holder = generate_holder_key()
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "j.sqlite"), tmp_path / "bundles")
    [(ref, cert)] = deposit_certificates(consortium, 1)
    issuer.issue([(ref, Certificate(cert.header, {**cert.claims, "cnf": holder_claim(holder.public_key())}))])
    [path] = issuer.run().delivered
    issuer.journal.close()
    bundle = load_bundle(path.read_bytes())

    bare = bank.post("/v1/verifications", content=bundle.dumps()).json()
    assert [c["name"] for c in bare["checks"] if c["outcome"] == "failed"] == ["holder_bound"]
    reply = bank.post("/v1/challenges", params={"purpose": "ACCTOPEN"})
    assert reply.status_code == 200
    challenge = load_challenge(reply.text)
    p = present(bundle.redact(["account_no"]), challenge, holder, int(time.time()))  # the service keeps wall time
    verdict = bank.post("/v1/verifications", content=p.dumps()).json()
    assert verdict["valid"] and verdict["purpose"] == "ACCTOPEN"
    assert verdict["presentationHash"] == "0x" + p.hash().hex()
    replay = bank.post("/v1/verifications", content=p.dumps()).json()
    assert [c["name"] for c in replay["checks"] if c["outcome"] == "failed"] == ["challenge_fresh"]
    refused = bank.post("/v1/challenges", params={"purpose": "account opening"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["name"] == "purpose"  # not a purpose code
