"""The bank's service against the real node: concurrent clients coalesced into shared reads, and receipts
recorded once through the outbox over JSON-RPC, the resident page's answer to a hand-over included."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from crossverify import Certificate, DocumentHeader, load_bundle, load_challenge, present
from crossverify.chain.connection import connect
from crossverify.config import Config, KeySettings, NetworkSettings, ServiceSettings, VerifierSettings
from crossverify.format.encoding import to_hex
from crossverify.format.holder import holder_claim
from crossverify.keys.holder import generate_holder_key
from crossverify.sealing import open_receipts
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session
from crossverify.verifier.client import VerificationReport

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
    queue = app.state.queue
    assert queue.on_loop  # on a node, batches are checked on the event loop
    queue.on_loop = False  # but the clerks' threads reach TestClient's loop one at a time: the worker gathers them
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
    assert queue.batches < 64  # requests that arrived together were checked together

    async def together() -> list[list[VerificationReport]]:  # on the loop: those of one turn, in one batch
        return await asyncio.gather(*(queue.check([bundle]) for bundle in bundles))

    queue.on_loop, before = True, queue.batches
    with ThreadPoolExecutor(1) as pool:  # a loop of its own (the suite's browser tests keep one in this thread)
        reports = pool.submit(asyncio.run, together()).result(60)
    assert all(report.valid for (report,) in reports) and queue.batches == before + 1

    app.state.workers["outbox"].run_once()
    app.state.workers["outbox"].run_once()
    assert len(net.commitments()) == 64
    assert json.loads(client.get("/readyz").text)["checks"]["outbox"] == "current"
    app.state.session.close()


def test_the_resident_page_leaves_one_sealed_receipt_on_the_node(node_url: str, dev_accounts: list[LocalAccount],
                                                                  tmp_path: Path) -> None:
    net = Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    holder = generate_holder_key()
    now = net.now()
    issuer = net.issuer(tmp_path, "bound")
    issuer.issue([("alice", Certificate(DocumentHeader("DEPCERT", "BNUMMOMX", now, now - 86400, now + 86400), {
        "holder_name": "CHAN Tai Man", "cnf": holder_claim(holder.public_key())}))])
    [path] = issuer.run().delivered
    issuer.journal.close()

    key, digest = new_key()
    config = Config(network=NetworkSettings(rpc=node_url, registry=net.registry.address, gas_price=0,
                                            circulation=net.circulation.address),
                    keys=KeySettings(dev_mode=True, sender_private_key="0x" + dev_accounts[3].key.hex()),
                    verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite", audience="ICBKCNBJGDG",
                                              challenges=tmp_path / "challenges.sqlite"),
                    service=ServiceSettings(api_keys={"bank": f"bank {digest}"}))
    app = create_app(Session(config), start_workers=False)
    clerk = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    code = clerk.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()["code"]
    page = TestClient(app)
    challenge = load_challenge(page.post("/resident/challenges", json={"code": code}).text)
    presented = present(load_bundle(path.read_bytes()), challenge, holder, int(time.time())).dumps()
    verdict = page.post("/resident/verifications", content=presented).json()
    assert verdict["valid"] and verdict["receipt"]["state"] == "queued"
    assert not page.post("/resident/verifications", content=presented).json()["valid"]

    before = len(net.commitments())
    app.state.workers["outbox"].run_once()
    app.state.workers["outbox"].run_once()
    receipt = clerk.get(f"/v1/challenges/hand-over/{code}").json()["receipt"]
    assert receipt["state"] == "recorded" and receipt["commitment"] == verdict["receipt"]["commitment"]
    assert len(net.commitments()) == before + 1
    [batch] = [b for b in net.sealed_batches() if to_hex(b.commitments[0]) == receipt["commitment"]]
    [opened] = open_receipts(batch, net.regulator_keys[0])
    assert opened is not None
    assert (opened.purpose, to_hex(opened.presentation_hash), to_hex(opened.document_digest)) == (
        "ACCTOPEN", verdict["presentationHash"], verdict["documentDigest"])
    app.state.session.close()
