"""The bank's service against the real node: concurrent clients coalesced into shared reads, and receipts
recorded once through the outbox over JSON-RPC."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from crossverify.chain.connection import connect
from crossverify.config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session

from ..conftest import deposit_certificates
from .test_flow import Net, _Clock


def test_concurrent_bank_clients_on_the_node(node_url: str, dev_accounts: list[LocalAccount],
                                             tmp_path: Path) -> None:
    w3 = connect(node_url, chain_id=1337)
    net = Net(w3, dev_accounts, list(dev_accounts[:5]))
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 64))
    bundles = [p.read_bytes() for p in issuer.run().delivered]

    key, digest = new_key()
    config = Config(network=NetworkSettings(rpc=node_url, registry=net.registry.address, gas_price=0,
                                            circulation=net.circulation.address),
                    keys=KeySettings(dev_mode=True, sender_private_key="0x" + dev_accounts[3].key.hex()),
                    verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite"),
                    service=ServiceSettings(api_keys={"bank": f"bank {digest}"}, requests_per_minute=10**6))
    app = create_app(Session(config), start_workers=False)
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    verdicts: list[dict[str, object]] = []

    def bank_clerk(part: list[bytes]) -> None:
        for body in part:
            verdicts.append(client.post("/v1/verifications", content=body,
                                        params={"purpose": "ACCTOPEN"}).json())

    clerks = [threading.Thread(target=bank_clerk, args=(bundles[i::16],)) for i in range(16)]
    for clerk in clerks:
        clerk.start()
    for clerk in clerks:
        clerk.join()
    assert len(verdicts) == 64 and all(v["valid"] for v in verdicts)
    assert app.state.queue.batches < 64  # requests that arrived together were checked together

    app.state.workers["outbox"].run_once()
    app.state.workers["outbox"].run_once()
    assert len(net.sealed_receipts()) == 64
    assert json.loads(client.get("/readyz").text)["checks"]["outbox"] == "current"
    app.state.session.close()
