"""The regulator's circulation route: authenticated for regulators, opened with the regulator's keys, refused by
name without one."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi.testclient import TestClient
from web3 import Web3

from crossverify.config import (
    AuditSettings,
    Config,
    NetworkSettings,
    RegulatorSettings,
    ServiceSettings,
    VerifierSettings,
)
from crossverify.format.encoding import to_hex
from crossverify.sealing import Receipt, seal_receipts
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session

from ..conftest import Consortium

DIGEST = Web3.keccak(text="a certificate the regulator asks about")


def regulator(c: Consortium, tmp_path: Path, key_files: list[Path]) -> tuple[TestClient, str]:
    key, digest = new_key()
    bank_key, bank_digest = new_key()
    config = Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        audit=AuditSettings(index=tmp_path / "audit.sqlite"),
        regulator=RegulatorSettings(key_files=key_files),
        verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite"),  # the bank's key's: not the working folder's
        service=ServiceSettings(api_keys={"amcm": f"regulator {digest}", "bank": f"bank {bank_digest}"}))
    app = create_app(Session(config), start_workers=False)
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    client.app_state = app.state  # type: ignore[attr-defined]
    return client, bank_key


def test_a_regulator_traces_a_document_over_http(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    receipts = [Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", bytes(32), purpose, c.now(),
                            presentation_hash=secrets.token_bytes(32) if consented else None)
                for purpose, consented in (("ACCTOPEN", True), ("LOAN", False))]
    sealed = seal_receipts(receipts, [k.public_key for k in c.regulator_keys])
    c.circulation.record(sealed.commitments, sealed.sealed, c.verifier)
    c.regulator_keys[0].write(tmp_path / "amcm.key")
    api, bank_key = regulator(c, tmp_path, [tmp_path / "amcm.key"])
    api.app_state.workers["audit"].run_once()  # type: ignore[attr-defined]

    trail = api.get(f"/v1/regulator/circulation/{to_hex(DIGEST)}").json()
    assert [(r["purpose"], r["consented"], r["verifier"]) for r in trail["receipts"]] == [
        ("ACCTOPEN", True, c.verifier), ("LOAN", False, c.verifier)]
    report = api.get("/v1/audit/report").json()
    assert report["circulation"]["withoutConsent"] == 1
    assert api.get("/v1/regulator/circulation/0x1234").status_code == 422
    as_bank = api.get(f"/v1/regulator/circulation/{to_hex(DIGEST)}", headers={"Authorization": f"Bearer {bank_key}"})
    assert as_bank.status_code == 403
    assert api.get(f"/v1/regulator/circulation/{to_hex(DIGEST)}", headers={"Authorization": ""}).status_code == 401
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_without_a_key_the_route_refuses_by_name(consortium: Consortium, tmp_path: Path) -> None:
    api, _ = regulator(consortium, tmp_path, [])
    refused = api.get(f"/v1/regulator/circulation/{to_hex(DIGEST)}")
    assert refused.status_code == 422 and refused.json()["title"] == "NoRegulatorKey"
    api.app_state.workers["audit"].run_once()  # type: ignore[attr-defined]
    assert api.get("/v1/audit/report").json()["circulation"] is None  # the registry's report, without the trail
    for route in ("/v1/regulator/tables/receipts", "/v1/regulator/disputes",
                  f"/v1/regulator/documents/{to_hex(DIGEST)}"):
        refused = api.get(route)  # the console's questions that need the keys: the same problem, not a bad query
        assert refused.status_code == 422 and refused.json()["title"] == "NoRegulatorKey", route
    api.app_state.session.close()  # type: ignore[attr-defined]
