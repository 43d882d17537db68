"""The fast registry reads answer exactly as web3's contract calls do on a real node, over random states: what
eth-tester hides (JSON-RPC error objects with the revert data, hex results) included."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings

from crossverify.chain.connection import connect
from crossverify.chain.records import Role
from crossverify.chain.typed_data import Domain, key_proof
from crossverify.consortium.operator import OperatorClient
from crossverify.format.codes import issuer_id_code

from ..chain.fast_reads import ISSUER, Chain, check_equivalence, check_equivalence_by_number, plans, queries
from ..conftest import labelled_test_key

GASLESS = {"gasPrice": 0}


@pytest.fixture(scope="module")
def chain(node_url: str, dev_accounts: list[LocalAccount]) -> Chain:
    w3 = connect(node_url, chain_id=1337)
    operator, other, admin, verifier = dev_accounts[5:9]
    macao = OperatorClient.deploy(w3, operator, [(operator.address, "MO"), (other.address, "GD")], tx_params=GASLESS)
    guangdong = OperatorClient(macao.registry, other, macao.consortium)
    guangdong.approve(macao.propose_admit_issuer(ISSUER, "MO", admin.address, ["DEPCERT"]))
    guangdong.approve(macao.propose_admit_member(verifier.address, Role.VERIFIER))
    keys = [labelled_test_key(f"node equivalence key {i}") for i in range(3)]
    issuer_id = issuer_id_code(ISSUER)
    proof = key_proof(issuer_id, keys[0], Domain.of(macao.registry))
    macao.registry.transact(lambda f: f.addSigningKey(issuer_id, keys[0].address, proof), admin)
    return Chain(macao.registry, macao, guangdong, admin, operator, keys)


@settings(max_examples=20, deadline=None)
@given(plan=plans(), triples=queries())
def test_fast_reads_match_web3_on_a_node(chain: Chain, plan: dict[str, Any],
                                         triples: list[tuple[bytes, bytes, bytes]]) -> None:
    check_equivalence(chain, plan, triples)


@settings(max_examples=8, deadline=None)
@given(plan=plans(), triples=queries())
def test_fast_reads_by_block_number_match_web3_on_a_node(chain: Chain, plan: dict[str, Any],
                                                         triples: list[tuple[bytes, bytes, bytes]]) -> None:
    check_equivalence_by_number(chain, plan, triples)
