"""Presentations against a real node: a one-document batch (anchored with its decoy leaf), and two bank workers
in separate processes racing to accept one presentation: exactly one does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from crossverify import Certificate, DocumentHeader, load_bundle
from crossverify.chain.connection import connect
from crossverify.format.holder import holder_claim
from crossverify.format.presentation import present
from crossverify.keys.holder import generate_holder_key
from crossverify.verifier.challenges import ChallengeStore
from crossverify.verifier.client import Policy, VerifierClient

from .test_flow import Net

BANK = "ICBKCNBJGDG"


@pytest.fixture(scope="module")
def net(node_url: str, dev_accounts: list[LocalAccount]) -> Net:
    return Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))


def test_two_workers_race_for_one_presentation(net: Net, node_url: str, tmp_path: Path) -> None:
    holder = generate_holder_key()
    now = net.now()
    header = DocumentHeader("DEPCERT", "BNUMMOMX", now, now - 86400, now + 365 * 86400)
    issuer = net.issuer(tmp_path, "bound")
    issuer.issue([("alice", Certificate(header, {"holder_name": "CHAN Tai Man", "balance_mop": 125000,
                                                 "cnf": holder_claim(holder.public_key())}))])
    report = issuer.run()
    issuer.journal.close()
    bundle = load_bundle(report.delivered[0].read_bytes())
    assert bundle.proof.leaf_count == 2 and bundle.proof.batch_root != bundle.document_digest()  # the decoy

    store = ChallengeStore(tmp_path / "challenges.sqlite", BANK)
    bank = VerifierClient(net.registry, Policy(holder_binding=frozenset({"DEPCERT"})), audience=BANK,
                          challenges=store)
    assert [c.name for c in bank.verify(bundle).failed] == ["holder_bound"]
    presentation = tmp_path / "alice.presentation.json"
    presentation.write_text(present(bundle.redact(["balance_mop"]), bank.issue_challenge("ACCTOPEN"), holder,
                                    int(time.time())).dumps())
    store.close()

    config = tmp_path / "bank.toml"
    config.write_text(f"""
[network]
rpc = "{node_url}"
chain_id = 1337
registry = "{net.registry.address}"

[verifier]
audience = "{BANK}"
challenges = "challenges.sqlite"
holder_binding = ["DEPCERT"]
""")
    workers = [subprocess.Popen([sys.executable, "-m", "crossverify.cli", "--config", str(config), "--json", "verify",
                                 str(presentation)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=os.environ.copy()) for _ in range(2)]
    outcomes = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode in (0, 1), err[-2000:]
        failed = [c["name"] for c in json.loads(out)[0]["checks"] if c["outcome"] == "failed"]
        outcomes.append((w.returncode, failed))
    assert sorted(outcomes) == [(0, []), (1, ["challenge_fresh"])]
