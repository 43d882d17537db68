"""Trust rules on a real node: a stolen admin's acts undone by the quorum, a stolen key's squat replaced, and a
lost operator recovered after the time lock (the node's own clock, moved by ``evm_increaseTime``). The registry's
governance half answers through the registry's fallback; its errors reach the client by name over JSON-RPC."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from crossverify import errors
from crossverify.chain.connection import connect
from crossverify.chain.records import RevocationReason
from crossverify.chain.typed_data import AnchorRequest, Domain, key_proof, sign
from crossverify.format.codes import doc_type_code, issuer_id_code

from .conftest import rpc
from .test_flow import Net

ROOT = Web3.keccak(text="a batch on the node")
ZERO = bytes(32)


@pytest.fixture(scope="module")
def net(node_url: str, dev_accounts: list[LocalAccount]) -> Net:
    return Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))


@pytest.fixture
def node(node_url: str) -> Iterator[str]:
    """The node, with every change of the test (its clock included) reverted afterwards."""
    snapshot = rpc(node_url, "evm_snapshot")
    yield node_url
    assert rpc(node_url, "evm_revert", [snapshot]) is True


def travel(url: str, seconds: int) -> None:
    rpc(url, "evm_increaseTime", [seconds])
    rpc(url, "evm_mine")


def anchor(net: Net, root: bytes, signer: LocalAccount, leaf_count: int) -> None:
    request = AnchorRequest(root, doc_type_code("DEPCERT"), 1, leaf_count, net.now() + 365 * 86400, net.now() + 3600)
    signature = sign(request, Domain.of(net.registry), signer)
    net.registry.transact(lambda f: f.anchor(request.as_abi(), signature), net.operator)  # type: ignore[arg-type]


def test_a_stolen_admins_revocation_and_a_stolen_keys_squat_are_undone(net: Net, node: str,
                                                                         dev_accounts: list[LocalAccount]) -> None:
    issuer = issuer_id_code("BNUMMOMX")
    second = dev_accounts[8]
    proof = key_proof(issuer, second, Domain.of(net.registry))
    net.registry.transact(lambda f: f.addSigningKey(issuer, second.address, proof), net.admin)  # type: ignore[arg-type]
    anchor(net, ROOT, net.signer, 4)
    travel(node, 60)
    theft = net.now()
    travel(node, 60)
    net.registry.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.FRAUD), net.admin)  # type: ignore[arg-type]
    squatted = Web3.keccak(text="a pending batch on the node")
    anchor(net, squatted, net.signer, 5)  # the signing key was stolen too
    assert net.registry.document_status(issuer, ROOT, ZERO).batch_revocation.counts
    with pytest.raises(errors.RegistryInvalidAdminCompromiseTime):  # reverted in the governance half, by name
        net.macao.propose_replace_issuer_admin("BNUMMOMX", dev_accounts[7].address, net.now() + 3600)
    net.guangdong.approve(net.macao.propose_replace_issuer_admin("BNUMMOMX", dev_accounts[7].address, theft))
    net.guangdong.approve(net.macao.propose_compromised_key(net.signer.address, theft))
    status = net.registry.document_status(issuer, ROOT, ZERO)
    assert status.batch_revocation.void and not status.batch_revocation.counts
    anchor(net, squatted, second, 16)  # the genuine anchor takes the root back
    assert net.registry.document_status(issuer, squatted, ZERO).leaf_count == 16


def test_a_lost_operator_is_recovered_after_the_time_lock(net: Net, node: str,
                                                          dev_accounts: list[LocalAccount]) -> None:
    replacement = dev_accounts[6].address
    proposal = net.macao.propose_recovery(net.guangdong.sender.address, replacement)  # type: ignore[union-attr]
    unlock_at = net.macao.consortium.proposal(proposal).unlock_at
    assert unlock_at > net.now()
    with pytest.raises(errors.ConsortiumRecoveryPending):
        net.macao.execute_recovery(proposal)
    travel(node, 30 * 86400)
    net.macao.execute_recovery(proposal)
    assert replacement in [a for a, _ in net.macao.consortium.operators()]
