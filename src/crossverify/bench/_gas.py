"""Gas of every registry operation, against the issue's targets."""

from __future__ import annotations

from web3 import Web3

from ..chain.records import RevocationReason
from ..chain.registry import Registry, artifact
from ..chain.typed_data import AnchorRequest, Domain, sign
from ..format.codes import doc_type_code
from ._sections import Section
from ._world import world

TX_GAS_CAP = 16_777_216  # EIP-7825: the most one transaction may use on chains with the newer rules
TARGETS = {"anchor one batch (operator relays)": 65_000, "record a verification": 30_000,
           "revoke one document": 50_000}


def operations() -> Section:
    w = world()
    rows: list[tuple[str, int, str]] = []
    a = list(w.w3.eth.accounts)
    _, deployed = Registry.deploy(w.w3, a[0], [a[0], a[1]])
    rows.append(("deploy registry", deployed["gasUsed"], f"{len(artifact()['deployedBytecode']) // 2 - 1:,} bytes"))
    propose = w.registry.transact(lambda f: f.proposeAdmitIssuer(
        b"ICBKMOMX".ljust(11, b"\0"), b"MO".ljust(32, b"\0"), a[5], [doc_type_code("DEPCERT")], [a[6]]), a[0])
    approve = w.registry.transact(lambda f: f.approve(w.registry.call(lambda g: g.proposalCount())), a[1])
    rows.append(("admit issuer: propose (Macao operator)", propose["gasUsed"], "1 doc type, 1 key"))
    rows.append(("admit issuer: approve + execute (Guangdong operator)", approve["gasUsed"], ""))

    domain = Domain.of(w.registry)
    now = w.now()

    def request(label: str) -> AnchorRequest:
        return AnchorRequest(Web3.keccak(text=label), doc_type_code("DEPCERT"), 1, 1000, now + 10 * 365 * 86400,
                             now + 86400)

    def anchor_many(labels: list[str]) -> int:
        reqs = [request(label) for label in labels]
        return int(w.registry.transact(lambda f: f.anchorMany(
            [r.as_abi() for r in reqs], [sign(r, domain, w.key) for r in reqs]), w.operator)["gasUsed"])

    first = request("one")
    gas = w.registry.transact(lambda f: f.anchor(first.as_abi(), sign(first, domain, w.key)), w.operator)["gasUsed"]
    rows.append(("anchor one batch (operator relays)", gas, "signed root of 1,000 documents"))
    by_admin = request("by admin")
    gas = w.registry.transact(lambda f: f.anchor(by_admin.as_abi(), sign(by_admin, domain, w.key)),
                              w.admin)["gasUsed"]
    rows.append(("anchor one batch (issuer admin submits)", gas, ""))
    ten = anchor_many([f"ten {i}" for i in range(10)])
    rows.append(("anchorMany: 10 batches", ten, f"{ten // 10:,} per batch"))
    hundred = anchor_many([f"hundred {i}" for i in range(100)])
    marginal = (hundred - ten) // 90
    fits = (TX_GAS_CAP - (ten - 10 * marginal)) // marginal
    rows.append(("anchorMany: 100 batches", hundred, f"{marginal:,} marginal; {fits} fit under {TX_GAS_CAP:,}"))
    doc = Web3.keccak(text="document")
    gas = w.registry.transact(lambda f: f.revokeDocument(doc, RevocationReason.SUPERSEDED), w.admin)["gasUsed"]
    rows.append(("revoke one document", gas, "issuer admin"))
    gas = w.registry.transact(lambda f: f.revokeBatch(first.batch_root, RevocationReason.WITHDRAWN),
                              w.admin)["gasUsed"]
    rows.append(("revoke a batch", gas, "issuer admin"))
    purpose = Web3.keccak(text="loan")
    gas = w.registry.transact(lambda f: f.recordVerification(first.batch_root, doc, purpose), w.verifier)["gasUsed"]
    rows.append(("record a verification", gas, "event only"))
    many = [[first.batch_root, Web3.keccak(i)] for i in range(100)]
    gas = w.registry.transact(lambda f: f.recordVerifications(many, purpose), w.verifier)["gasUsed"]
    rows.append(("recordVerifications: 100 documents", gas, f"{gas // 100:,} per document"))

    s = Section("Gas per registry operation", f"Optimizer runs {artifact()['optimizerRuns']}.",
                ["operation", "gas", "target", "notes"])
    for name, used, note in rows:
        target = f"<= {TARGETS[name]:,}" if name in TARGETS else ""
        s.rows.append([name, f"{used:,}", target, note])
    return s
