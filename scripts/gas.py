#!/usr/bin/env python3
"""Measure the gas of every registry operation on the embedded chain and record it in docs/benchmarks.md."""

from __future__ import annotations

import platform
import re
from pathlib import Path

from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from crossverify._eip712 import AnchorRequest, Domain, sign
from crossverify._registry import Registry, artifact
from crossverify._types import RevocationReason, Role, doc_type_code, issuer_id_code, jurisdiction_code

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
TX_GAS_CAP = 16_777_216  # EIP-7825: the most one transaction may use on chains with the newer rules
TARGETS = {"anchor one batch (operator relays)": 65_000, "record a verification": 30_000, "revoke one document": 50_000}


def measure() -> list[tuple[str, int, str]]:
    w3 = Web3(EthereumTesterProvider())
    a = w3.eth.accounts
    macao, guangdong, admin, verifier = a[0], a[1], a[2], a[3]
    key = Account.from_key(Web3.keccak(text="crossverify gas script key (test only)"))
    rows: list[tuple[str, int, str]] = []

    registry, receipt = Registry.deploy(w3, macao, [macao, guangdong])
    print(f"registry deployed at {registry.address} on chain {w3.eth.chain_id} (embedded eth-tester)")
    rows.append(("deploy registry", receipt["gasUsed"], f"{len(artifact()['deployedBytecode']) // 2 - 1} bytes"))
    issuer_id, dep = issuer_id_code("BNUMMOMX"), doc_type_code("DEPCERT")
    propose = registry.transact(lambda f: f.proposeAdmitIssuer(
        issuer_id, jurisdiction_code("MO"), admin, [dep], [key.address]), macao)
    approve = registry.transact(lambda f: f.approve(1), guangdong)
    rows.append(("admit issuer: propose (Macao operator)", propose["gasUsed"], "1 doc type, 1 key"))
    rows.append(("admit issuer: approve + execute (Guangdong operator)", approve["gasUsed"], ""))
    registry.transact(lambda f: f.proposeAdmitMember(verifier, Role.VERIFIER), macao)
    registry.transact(lambda f: f.approve(2), guangdong)

    domain = Domain.of(registry)
    now = w3.eth.get_block("latest")["timestamp"]

    def request(label: str) -> AnchorRequest:
        return AnchorRequest(Web3.keccak(text=label), dep, 1, 1000, now + 10 * 365 * 86400, now + 86400)

    def anchor_many(labels: list[str]) -> int:
        reqs = [request(label) for label in labels]
        return int(registry.transact(lambda f: f.anchorMany(
            [r.as_abi() for r in reqs], [sign(r, domain, key) for r in reqs]), macao)["gasUsed"])

    first = request("one")
    gas = registry.transact(lambda f: f.anchor(first.as_abi(), sign(first, domain, key)), macao)["gasUsed"]
    rows.append(("anchor one batch (operator relays)", gas, "signed root, 1,000 documents"))
    by_admin = request("by admin")
    gas = registry.transact(lambda f: f.anchor(by_admin.as_abi(), sign(by_admin, domain, key)), admin)["gasUsed"]
    rows.append(("anchor one batch (issuer admin submits)", gas, ""))
    ten = anchor_many([f"ten {i}" for i in range(10)])
    rows.append(("anchorMany: 10 batches", ten, f"{ten // 10:,} per batch"))
    hundred = anchor_many([f"hundred {i}" for i in range(100)])
    marginal = (hundred - ten) // 90
    fits = (TX_GAS_CAP - (ten - 10 * marginal)) // marginal
    rows.append(("anchorMany: 100 batches", hundred, f"{marginal:,} marginal; {fits} fit under {TX_GAS_CAP:,}"))

    doc = Web3.keccak(text="document")
    gas = registry.transact(lambda f: f.revokeDocument(doc, RevocationReason.SUPERSEDED), admin)["gasUsed"]
    rows.append(("revoke one document", gas, "issuer admin"))
    gas = registry.transact(lambda f: f.revokeBatch(first.batch_root, RevocationReason.WITHDRAWN), admin)["gasUsed"]
    rows.append(("revoke a batch", gas, "issuer admin"))
    gas = registry.transact(lambda f: f.recordVerification(first.batch_root, doc, Web3.keccak(text="loan")),
                            verifier)["gasUsed"]
    rows.append(("record a verification", gas, "event only"))
    return rows


def render(rows: list[tuple[str, int, str]]) -> str:
    lines = [
        "<!-- gas:begin (written by scripts/gas.py) -->",
        "## Gas per registry operation",
        "",
        f"Embedded chain (eth-tester {_version('eth-tester')}, py-evm {_version('py-evm')}), "
        f"solc {artifact()['compiler']}, EVM `{artifact()['evmVersion']}`, optimizer runs "
        f"{artifact()['optimizerRuns']}; Python {platform.python_version()}.",
        "",
        "| operation | gas | target | notes |",
        "|---|---:|---:|---|",
    ]
    for name, gas, note in rows:
        target = f"<= {TARGETS[name]:,}" if name in TARGETS else ""
        lines.append(f"| {name} | {gas:,} | {target} | {note} |")
    lines.append("<!-- gas:end -->")
    return "\n".join(lines)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def write(section: str) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"<!-- gas:begin.*?<!-- gas:end -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    BENCHMARKS.write_text(text)


if __name__ == "__main__":
    section = render(measure())
    print(section)
    write(section)
    for name, limit in TARGETS.items():
        print(f"{name}: target <= {limit:,}")
