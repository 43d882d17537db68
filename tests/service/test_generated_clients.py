"""Clients generated from the served OpenAPI document, in Python (openapi-python-client) and TypeScript
(openapi-typescript + openapi-fetch, compiled with tsc, run under Node), run the issuer's flow (submit, offer a
pickup, follow batches, revoke) and the bank's (hand a challenge over, verify one, verify a batch, follow the
receipts) against a live service on the embedded chain. Each is generated once per test session, in a temporary
folder, from the document as served: an API change that breaks a generated client fails here."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crossverify.config import (
    Config,
    IssuerSettings,
    KeySettings,
    NetworkSettings,
    ServiceSettings,
    VerifierSettings,
)
from crossverify.format.bundle import load_bundle
from crossverify.format.holder import public_jwk
from crossverify.format.presentation import load_challenge, present
from crossverify.keys.holder import generate_holder_key
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session

from ..conftest import Consortium
from .live import serving

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "node_modules" / ".bin"
BANK_KEY, BANK_DIGEST = new_key()
ISSUER_KEY, ISSUER_DIGEST = new_key()


@dataclass
class Live:
    issuer: str
    bank: str
    bundles: Path
    now: int


def config(c: Consortium, work: Path, roles: tuple[str, ...] = ("bank", "issuer"), **service: Any) -> Config:
    """A service for ``roles``: the issuer's relays through the Macao operator, the bank's records receipts as
    the admitted verifier."""
    keys = {"bank": f"bank {BANK_DIGEST}", "issuer": f"issuer {ISSUER_DIGEST}"}
    return Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        keys=KeySettings(dev_mode=True, sender_address=c.macao_operator if "issuer" in roles else c.verifier,
                         signer_private_key="0x" + c.signing_key.key.hex()),
        issuer=IssuerSettings(id="BNUMMOMX", journal=work / "journal.sqlite", bundles=work / "bundles",
                              pickups=work / "pickups.sqlite"),
        verifier=VerifierSettings(outbox=work / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=work / "challenges.sqlite"),
        service=ServiceSettings(api_keys={role: keys[role] for role in roles}, requests_per_minute=100_000,
                                resident_requests_per_minute=100_000, **service))


@pytest.fixture(scope="session")
def openapi_document(session_consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The document as a service serves it; configured for both roles, it describes both institutions'
    operations and both resident pages' (a bank's service alone documents only the bank's, an issuer's only the
    issuer's)."""
    work = tmp_path_factory.mktemp("openapi")
    session = Session(config(session_consortium, work))
    try:
        text = TestClient(create_app(session, start_workers=False)).get("/openapi.json").text
    finally:
        session.close()
    (work / "openapi.json").write_text(text)
    return work / "openapi.json"


@pytest.fixture(scope="session")
def python_client(openapi_document: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The package openapi-python-client generates (no warnings allowed), imported."""
    out = tmp_path_factory.mktemp("python-client")
    run = subprocess.run([Path(sys.executable).parent / "openapi-python-client", "generate", "--path",
                          str(openapi_document), "--output-path", str(out / "bank_api"), "--meta", "none"],
                         capture_output=True, text=True, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                                                                                  f"{os.environ['PATH']}"})
    assert run.returncode == 0 and "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(out))
    try:
        package = importlib.import_module("bank_api")
        for module in pkgutil.walk_packages(package.__path__, "bank_api."):
            importlib.import_module(module.name)  # api.<tag>.<operation>, models
        return package
    finally:
        sys.path.remove(str(out))


@pytest.fixture(scope="session")
def typescript_flows(openapi_document: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """flows.ts beside the types openapi-typescript generates, compiled by tsc in strict mode."""
    out = tmp_path_factory.mktemp("typescript-client")
    generated = subprocess.run([BIN / "openapi-typescript", str(openapi_document), "-o", str(out / "schema.d.ts")],
                               capture_output=True, text=True)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    shutil.copy(Path(__file__).parent / "clients" / "flows.ts", out)
    (out / "node_modules").symlink_to(ROOT / "node_modules")
    (out / "package.json").write_text('{"type": "module"}\n')
    (out / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": True,
        "noUncheckedIndexedAccess": False, "skipLibCheck": True, "types": ["node"], "lib": ["ES2022", "DOM"]},
        "files": ["flows.ts", "schema.d.ts"]}))
    compiled = subprocess.run([BIN / "tsc", "-p", str(out)], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return out / "flows.js"


@pytest.fixture
def live(consortium: Consortium, tmp_path: Path) -> Iterator[Live]:
    """An issuer's and a bank's live services, their background workers (pipeline, receipt outbox) running."""
    with ExitStack() as stack:
        urls = []
        for role in ("issuer", "bank"):
            cfg = config(consortium, tmp_path / role, (role,), run_every=0.2)
            session = Session(cfg)
            stack.callback(session.close)
            app = create_app(session)
            stack.callback(lambda workers=app.state.workers: [w.stop() for w in workers.values()])
            host, port = stack.enter_context(serving(app, cfg.service))
            urls.append(f"http://{host}:{port}")
        yield Live(*urls, tmp_path / "issuer" / "bundles" / "BNUMMOMX", consortium.now())


def certificates(now: int, prefix: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Two certificates to submit and one to offer for pickup."""
    def entry(reference: str, name: str) -> dict[str, Any]:
        return {"reference": reference, "docType": "DEPCERT", "notAfter": now + 86400 * 30, "asOf": now,
                "claims": {"holder_name": name, "balance_mop": 125000}}
    return [entry(f"{prefix}-1", "CHAN Tai Man"), entry(f"{prefix}-2", "LAM Sio")], entry(f"{prefix}-P", "WONG Ka")


def until(what: str, poll: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while (found := poll()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


@pytest.fixture
def clients(python_client: Any, live: Live) -> Iterator[tuple[Any, Any, Any, Any]]:
    """The issuer's and the bank's authenticated clients, and the pickup and resident pages' (no key)."""
    with (python_client.AuthenticatedClient(live.issuer, ISSUER_KEY, raise_on_unexpected_status=True) as issuer,
          python_client.AuthenticatedClient(live.bank, BANK_KEY, raise_on_unexpected_status=True) as bank,
          python_client.Client(live.issuer, raise_on_unexpected_status=True) as pickup_page,
          python_client.Client(live.bank, raise_on_unexpected_status=True) as page):
        yield issuer, bank, pickup_page, page


def test_the_python_client_runs_the_issuer_and_bank_flows(python_client: Any, live: Live,
                                                           clients: tuple[Any, Any, Any, Any]) -> None:
    api = python_client.api
    models = python_client.models
    issuer, bank, pickup_page, page = clients
    submitted, pickup = certificates(live.now, "PY")

    # The issuer.
    answer = api.issuers.submit_certificates.sync(client=issuer, idempotency_key=str(uuid.uuid4()),
                                                  body=models.CertificatesIn.from_dict({"certificates": submitted}))
    assert answer.journalled == 2
    retried = str(uuid.uuid4())  # a pickup offer retried under its key: the first code again, not a new one
    offer, again = (api.issuers.offer_pickup.sync(client=issuer, idempotency_key=retried,
                                                  body=models.PickupIn.from_dict({"certificate": pickup}))
                    for _ in range(2))
    assert again.code == offer.code
    holder = generate_holder_key()  # the resident's device
    enrolled = api.residents.enrol_holder_key.sync(client=pickup_page, body=models.EnrolIn.from_dict(
        {"code": offer.code, "jwk": public_jwk(holder.public_key())}))

    def all_delivered() -> Any:
        batches, cursor = [], python_client.types.UNSET
        while True:  # a page of one batch at a time, to follow the cursors
            listed = api.issuers.list_batches.sync(client=issuer, limit=1, cursor=cursor)
            batches += listed.batches
            if listed.next_ is None:
                break
            cursor = listed.next_
        delivered = listed.counts["pending"] == 0 and {b.state for b in batches} == {"delivered"}
        return batches if delivered else None

    assert len(until("every batch delivered", all_delivered)) >= 1
    assert api.issuers.get_pickup.sync(offer.reference, client=issuer).state == "delivered"
    collected = api.residents.collect_bundle.sync(client=pickup_page, body=models.CollectIn(enrolled.collect_token))
    revoked = api.issuers.revoke_document.sync(client=issuer, idempotency_key=str(uuid.uuid4()),
                                               body=models.RevocationIn.from_dict(
        {"reference": "PY-2", "reason": "withdrawn"}))
    assert (revoked.revoked, revoked.reason) == ("PY-2", "withdrawn")

    # The bank, with the resident answering its handed-over challenge.
    handed = api.banks.hand_over_challenge.sync(client=bank, purpose="ACCTOPEN", idempotency_key=str(uuid.uuid4()))
    read = api.residents.read_challenge.sync(client=page, body=models.CodeIn(handed.code))
    bundle = load_bundle(json.dumps(collected.to_dict()))
    presentation = present(bundle, load_challenge(json.dumps(read.to_dict())), holder, int(time.time()))
    answered = api.residents.verify_for_resident.sync(
        client=page, body=models.BundleOrPresentation.from_dict(json.loads(presentation.dumps())))
    assert answered.valid, [c.to_dict() for c in answered.checks]
    state = api.banks.get_hand_over.sync(handed.code, client=bank)
    assert state.state == "answered" and state.verdict.presentation_hash == answered.presentation_hash

    def bundle_of(reference: str) -> Any:
        return json.loads((live.bundles / f"{reference}.bundle.json").read_text())

    one = api.banks.verify_one.sync(client=bank, purpose="ACCTOPEN", case="LOAN-2027-0042",
                                    idempotency_key=str(uuid.uuid4()),
                                    body=models.BundleOrPresentation.from_dict(bundle_of("PY-1")))
    assert one.valid and one.receipt.state == "queued"
    many = api.banks.verify_batch.sync(client=bank, body=models.BatchVerificationIn.from_dict(
        {"bundles": [bundle_of("PY-1"), bundle_of("PY-2")]}))
    assert [v.valid for v in many] == [True, False]
    assert [c.name for c in many[1].checks if c.outcome == "failed"] == ["not_revoked"]
    for commitment in (one.receipt.commitment, state.receipt.commitment):
        receipt = until("the receipt recorded", lambda c=commitment: (
            r if (r := api.banks.get_receipt.sync(c, client=bank)).state == "recorded" else None))
        assert receipt.block > 0
    missing = api.banks.get_receipt.sync_detailed(f"0x{'11' * 32}", client=bank)
    assert missing.status_code == 404 and missing.parsed.type_ == "https://crossverify.example/problems/not-found"


def test_the_typescript_client_runs_the_issuer_and_bank_flows(typescript_flows: Path, live: Live,
                                                               tmp_path: Path) -> None:
    submitted, pickup = certificates(live.now, "TS")
    flow_input = tmp_path / "flow.json"
    flow_input.write_text(json.dumps({
        "issuerUrl": live.issuer, "bankUrl": live.bank, "bankKey": BANK_KEY, "issuerKey": ISSUER_KEY,
        "certificates": submitted, "pickup": pickup, "bundlesDir": str(live.bundles),
        "pagePresentation": str(ROOT / "src" / "crossverify" / "service" / "page" / "presentation.js")}))
    run = subprocess.run(["node", str(typescript_flows)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "FLOW_INPUT": str(flow_input)})
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["pickup"] == "delivered" and result["collectedDocType"]["docType"] == "DEPCERT"
    assert result["valid"] == [True, True, True, False] and result["failed"] == ["not_revoked"]
    assert all(block > 0 for block in result["recorded"])
    assert result["missing"] == {"status": 404, "type": "https://crossverify.example/problems/not-found"}
