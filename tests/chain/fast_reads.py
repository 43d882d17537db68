"""The fast registry reads (bare ``eth_call``, eth-abi decoding, revoked-only revocation view) against web3's
contract calls, over random registry states: shared by the embedded chain and the Hardhat node tiers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import strategies as st
from web3 import Web3

from crossverify import errors
from crossverify.chain.connection import chain_time, rpc
from crossverify.chain.records import DocumentStatus, RevocationReason
from crossverify.chain.registry import Registry
from crossverify.chain.typed_data import AnchorRequest, Domain, RevocationRequest, key_proof, sign
from crossverify.consortium.operator import OperatorClient
from crossverify.format.codes import doc_type_code, issuer_id_code

ISSUER = "BNUMMOMX"
ROOTS = [Web3.keccak(text=f"equivalence root {i}") for i in range(4)]
DOCS = [bytes(32)] + [Web3.keccak(text=f"equivalence doc {i}") for i in range(5)]
UNKNOWN_ISSUER = issuer_id_code("NOBODYMOMX")
YEAR = 365 * 86400

#: Who revokes: nobody, the admin, or a signature by key 0, 1 or 2.
REVOKERS = st.sampled_from([None, "admin", 0, 1, 2])
REASONS = st.sampled_from([r for r in RevocationReason if r])


@dataclass
class Chain:
    """One chain's consortium as the equivalence test drives it: the issuer ``ISSUER`` with ``keys[0]``
    registered; ``keys[1:]`` are added by the plan."""

    registry: Registry
    macao: OperatorClient
    guangdong: OperatorClient
    admin: Any
    operator: Any
    keys: list[LocalAccount]

    @property
    def w3(self) -> Web3:
        return self.registry.w3

    @property
    def domain(self) -> Domain:
        return Domain.of(self.registry)


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    """A random registry state: which keys exist, which roots each anchored and for how long, revocations of
    batches and documents (by the admin or by a key's signature), key retirements and compromises, suspension."""
    return {
        "anchors": draw(st.lists(st.tuples(st.sampled_from(ROOTS), st.integers(0, 2),
                                           st.sampled_from([2, 600, YEAR]), st.integers(1, 2**24 - 1)),
                                 unique_by=lambda a: a[0], max_size=len(ROOTS))),
        "batch_revocations": draw(st.lists(st.tuples(st.sampled_from(ROOTS), REVOKERS, REASONS),
                                           unique_by=lambda r: r[0], max_size=3)),
        "document_revocations": draw(st.lists(st.tuples(st.sampled_from(DOCS), REVOKERS, REASONS),
                                              unique_by=lambda r: r[0], max_size=4)),
        "key_fates": draw(st.lists(st.sampled_from([None, "retired", "compromised", "compromised early"]),
                                   min_size=3, max_size=3)),
        "suspended": draw(st.booleans()),
    }


def queries() -> st.SearchStrategy[list[tuple[bytes, bytes, bytes]]]:
    return st.lists(st.tuples(st.sampled_from([issuer_id_code(ISSUER), UNKNOWN_ISSUER]),
                              st.sampled_from([*ROOTS, Web3.keccak(text="never anchored")]),
                              st.sampled_from(DOCS)), max_size=40)


def build(c: Chain, plan: dict[str, Any]) -> set[bytes]:
    """Put ``plan`` on chain; returns the digests with a recorded document revocation."""
    issuer_id = issuer_id_code(ISSUER)
    start = chain_time(c.w3)
    for key in c.keys[1:]:
        proof = key_proof(issuer_id, key, c.domain)
        c.registry.transact(lambda f, k=key, p=proof: f.addSigningKey(issuer_id, k.address, p), c.admin)
    anchored = set()
    for root, key, lifetime, leaves in plan["anchors"]:
        now = chain_time(c.w3)
        request = AnchorRequest(root, doc_type_code("DEPCERT"), 1, leaves, now + lifetime + 60, now + 3600)
        signature = sign(request, c.domain, c.keys[key])
        c.registry.transact(lambda f, r=request, s=signature: f.anchor(r.as_abi(), s), c.operator)
        anchored.add(root)
    for root, who, reason in plan["batch_revocations"]:
        if root in anchored and who is not None:
            _revoke(c, root, bytes(32), who, reason, batch=True)
    revoked = set()
    for digest, who, reason in plan["document_revocations"]:
        if who is not None and (who == "admin" or digest != bytes(32)):
            _revoke(c, bytes(32), digest, who, reason, batch=False)
            revoked.add(digest)
    for key, fate in zip(c.keys, plan["key_fates"], strict=True):
        if fate == "retired":
            c.registry.transact(lambda f, k=key: f.retireSigningKey(k.address), c.admin)
        elif fate is not None:
            since = start if fate == "compromised early" else chain_time(c.w3)
            c.registry.transact(lambda f, k=key, t=since: f.markKeyCompromised(k.address, t), c.admin)
    if plan["suspended"]:
        c.guangdong.approve(c.macao.propose_suspend_issuer(ISSUER))
    return revoked


def _revoke(c: Chain, root: bytes, digest: bytes, who: str | int, reason: RevocationReason, *, batch: bool) -> None:
    if who == "admin":
        if batch:
            c.registry.transact(lambda f: f.revokeBatch(root, reason), c.admin)
        else:
            c.registry.transact(lambda f: f.revokeDocument(digest, reason), c.admin)
        return
    request = RevocationRequest(root, digest, reason, chain_time(c.w3) + 3600)
    signature = sign(request, c.domain, c.keys[int(who)])
    c.registry.transact(lambda f: f.revokeBySignature(request.as_abi(), signature), c.operator)


def web3_statuses(registry: Registry, triples: list[tuple[bytes, bytes, bytes]]) -> list[DocumentStatus]:
    """The straightforward path: web3's contract call, one document per query."""
    if not triples:
        return []
    return [DocumentStatus.from_abi(r) for r in registry.call(lambda f: f.documentStatuses([list(t) for t in triples]))]


def check_equivalence(c: Chain, plan: dict[str, Any], triples: list[tuple[bytes, bytes, bytes]]) -> None:
    """On a fresh snapshot: build ``plan``, then every fast read must answer as web3's path does.

    The reads as of a block (``statuses_at_head``) too, whatever head they are lent: none, the block before the
    plan (every change since made a block: a head lent from before must not hide one), the block itself, and,
    once the plan is reverted (the chain reorganised under it), the plan's block, which the chain no longer has."""
    snapshot = c.w3.testing.snapshot()
    before_expected = web3_statuses(c.registry, triples)
    _, before = c.registry.statuses_at_head(triples)
    try:
        revoked = build(c, plan)
        expected = web3_statuses(c.registry, triples)
        assert c.registry.document_statuses(triples) == expected
        assert c.registry.bulk_statuses(triples) == expected
        assert before.hash != _latest_hash(c.w3)  # the plan adds keys, at least
        statuses, head = c.registry.statuses_at_head(triples, before)
        assert (statuses, head.hash, head.time) == (expected, _latest_hash(c.w3), chain_time(c.w3))
        assert c.registry.statuses_at_head(triples)[0] == expected
        assert c.registry.statuses_at_head(triples, head) == (expected, head)
        assert c.registry.statuses_at_head(triples[:3], head)[0] == expected[:3]
        digests = [d for _, _, d in triples]
        assert c.registry.revoked_documents(issuer_id_code(ISSUER), digests) == [
            i for i, d in enumerate(digests) if d in revoked]
        assert c.registry.revoked_documents(UNKNOWN_ISSUER, digests) == []
        check_reverts(c.registry)
    finally:
        c.w3.testing.revert(snapshot)
    statuses, after_revert = c.registry.statuses_at_head(triples, head)
    assert (statuses, after_revert.hash) == (before_expected, _latest_hash(c.w3))


def check_equivalence_by_number(c: Chain, plan: dict[str, Any], triples: list[tuple[bytes, bytes, bytes]]) -> None:
    """:func:`check_equivalence` read as from a node before EIP-1898: each read at a block names it by its number
    (with the header at that number checked in the same round trip)."""
    node = rpc(c.registry.w3)
    node.block_hashes = False
    try:
        check_equivalence(c, plan, triples)
    finally:
        node.block_hashes = True


def _latest_hash(w3: Web3) -> bytes:
    return bytes(w3.eth.get_block("latest")["hash"])


def check_reverts(registry: Registry) -> None:
    """A view that reverts raises the same named error, with the same arguments, on both paths."""
    suspend_unknown = (1, UNKNOWN_ISSUER.ljust(32, b"\0"))
    with pytest.raises(errors.RegistryIssuerNotActive) as by_web3:
        registry.call(lambda f: f.checkAction(*suspend_unknown))
    arguments = (1).to_bytes(32, "big") + (64).to_bytes(32, "big") + (32).to_bytes(32, "big") + suspend_unknown[1]
    with pytest.raises(errors.RegistryIssuerNotActive) as fast:
        registry.raw_call("checkAction", arguments)
    assert (fast.value.args, vars(fast.value)) == (by_web3.value.args, vars(by_web3.value))
