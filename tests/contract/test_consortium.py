"""The consortium contract: founding rules, the quorum (threshold plus every jurisdiction), growing and healing
(add, remove, replace operators, change the threshold), stale proposals, and the open-proposal list."""

from __future__ import annotations

import pytest
import rlp
from web3 import Web3

from crossverify import errors
from crossverify.chain.consortium import deploy_consortium
from crossverify.chain.records import ProposalKind, Role, Status
from crossverify.chain.registry import deploy_contract
from crossverify.format.codes import jurisdiction_code

from ..conftest import Consortium
from .helpers import only_event

ZERO = "0x" + "00" * 20


def approve(c: Consortium, proposal_id: int, *operators: str):  # type: ignore[no-untyped-def]
    receipt = None
    for operator in operators:
        receipt = c.consortium.transact(lambda f: f.approve(proposal_id), operator)
    return receipt


def last_id(c: Consortium) -> int:
    return int(c.consortium.call(lambda f: f.proposalCount()))


def hong_kong_joins(c: Consortium) -> int:
    c.govern(ProposalKind.ADD_OPERATOR, c.hong_kong_operator, jurisdiction_code("HK"))
    return last_id(c)


class TestFounding:
    def test_founded_event_and_views(self, consortium: Consortium) -> None:
        c = consortium
        founded = c.consortium.decode_logs(c.w3.eth.get_logs({"address": c.consortium.address, "fromBlock": 0}))[0]
        assert founded.name == "ConsortiumFounded"
        assert founded.args["registry"] == c.registry.address
        assert founded.args["threshold"] == 2 and founded.args["proposalLifetime"] == 7 * 86400
        assert c.consortium.operators() == [(c.macao_operator, jurisdiction_code("MO")),
                                            (c.guangdong_operator, jurisdiction_code("GD"))]
        assert c.consortium.call(lambda f: f.registry()) == c.registry.address
        assert c.registry.consortium_address() == c.consortium.address
        assert c.domain.verifying_contract == c.registry.address and c.domain.version == "2"

    @pytest.mark.parametrize(
        ("jurisdictions", "threshold"),
        [(["MO"], 0), (["MO", "MO"], 2), (["MO", "GD"], 1), (["MO", "GD"], 3), (["MO", "MO", "GD"], 1)],
    )
    def test_quorum_bounds(self, w3: Web3, jurisdictions: list[str], threshold: int) -> None:
        a = w3.eth.accounts
        with pytest.raises(errors.ConsortiumInvalidQuorum):
            deploy_consortium(w3, a[0], list(zip(a, jurisdictions, strict=False)), threshold)

    @pytest.mark.parametrize("lifetime", [0, 3599, 90 * 86400 + 1, 2**40 - 1])
    def test_lifetime_bounds(self, w3: Web3, lifetime: int) -> None:
        """v1 took a lifetime of 0 (every approval reverts) or 2**40 - 1 (every proposal overflows)."""
        a = w3.eth.accounts
        with pytest.raises(errors.ConsortiumInvalidLifetime):
            deploy_consortium(w3, a[0], [(a[0], "MO"), (a[1], "GD")], 0, lifetime)

    def test_zero_duplicate_and_unnamed_operators(self, w3: Web3) -> None:
        a = w3.eth.accounts
        with pytest.raises(errors.ConsortiumZeroAddress):
            deploy_consortium(w3, a[0], [(a[0], "MO"), (ZERO, "GD")])
        with pytest.raises(errors.ConsortiumDuplicateOperator):
            deploy_consortium(w3, a[0], [(a[0], "MO"), (a[1], "GD"), (a[0], "HK")])

    def test_registry_must_be_the_consortiums(self, w3: Web3) -> None:
        a = w3.eth.accounts
        founders = [(a[0], jurisdiction_code("MO")), (a[1], jurisdiction_code("GD"))]
        council = deploy_contract(w3, "Consortium", [a[9], a[8], founders, 0, 86400], a[0], {})
        governance = deploy_contract(w3, "RegistryGovernance", [council, 1, "0x" + "00" * 20], a[0], {})
        with pytest.raises(errors.RegistryConsortiumMismatch) as raised:
            deploy_contract(w3, "DocumentRegistry", [council, governance], a[0], {})
        assert raised.value.args_by_name == {"consortium": council, "registryOfConsortium": a[9]}

    def test_governance_half_must_serve_the_same_consortium(self, w3: Web3) -> None:
        """A registry paired with a governance half deployed for another consortium is refused at deployment
        (its governance would obey that consortium)."""
        a = w3.eth.accounts
        founders = [(a[0], jurisdiction_code("MO")), (a[1], jurisdiction_code("GD"))]
        other = deploy_contract(w3, "Consortium", [a[9], a[8], founders, 0, 86400], a[0], {})
        foreign = deploy_contract(w3, "RegistryGovernance", [other, 1, "0x" + "00" * 20], a[0], {})
        nonce = w3.eth.get_transaction_count(a[0]) + 1  # the registry's: right after the consortium naming it
        registry = Web3.to_checksum_address(Web3.keccak(rlp.encode([bytes.fromhex(a[0][2:]), nonce]))[12:])
        council = deploy_contract(w3, "Consortium", [registry, a[8], founders, 0, 86400], a[0], {})
        with pytest.raises(errors.RegistryGovernanceMismatch) as raised:
            deploy_contract(w3, "DocumentRegistry", [council, foreign], a[0], {})
        assert raised.value.args_by_name == {"governance": foreign, "consortiumOfGovernance": other}


class TestQuorum:
    def test_two_operators_of_one_side_cannot_act_alone(self, consortium: Consortium) -> None:
        """v1 with quorum 2 over [MO, MO, GD] let Macao act alone; now every jurisdiction must approve."""
        c = consortium
        second_macao = c.w3.eth.accounts[8]
        c.govern(ProposalKind.ADD_OPERATOR, second_macao, jurisdiction_code("MO"))
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        pid = last_id(c)
        approve(c, pid, second_macao)
        info = c.consortium.proposal(pid)
        assert bin(info.approved_by).count("1") == 2 and not info.executed
        assert c.registry.call(lambda f: f.member(c.outsider))[0] == Role.NONE
        approve(c, pid, c.guangdong_operator)
        assert c.consortium.proposal(pid).executed

    def test_threshold_counts_beyond_jurisdictions(self, consortium: Consortium) -> None:
        c = consortium
        second_macao = c.w3.eth.accounts[8]
        c.govern(ProposalKind.ADD_OPERATOR, second_macao, jurisdiction_code("MO"))
        receipt = c.govern(ProposalKind.SET_THRESHOLD, 3)
        assert only_event(c.consortium, receipt, "ThresholdChanged") == {"threshold": 3, "proposalId": last_id(c)}
        c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        pid = last_id(c)
        approve(c, pid, c.guangdong_operator)  # both jurisdictions, but two approvals of three
        assert not c.consortium.proposal(pid).executed
        approve(c, pid, second_macao)
        assert c.registry.call(lambda f: f.issuer(c.issuer_id))[3] == Status.SUSPENDED

    @pytest.mark.parametrize("threshold", [0, 1, 3])
    def test_threshold_bounds(self, consortium: Consortium, threshold: int) -> None:
        with pytest.raises(errors.ConsortiumInvalidQuorum):
            consortium.propose(ProposalKind.SET_THRESHOLD, threshold)


class TestGrowAndHeal:
    def test_hong_kong_joins_and_leaves(self, consortium: Consortium) -> None:
        c = consortium
        receipt = c.govern(ProposalKind.ADD_OPERATOR, c.hong_kong_operator, jurisdiction_code("HK"))
        assert only_event(c.consortium, receipt, "OperatorAdded") == {
            "account": c.hong_kong_operator, "jurisdiction": jurisdiction_code("HK"), "proposalId": last_id(c)}
        assert len(c.consortium.operators()) == 3
        # Now nothing passes without Hong Kong.
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        pid = last_id(c)
        approve(c, pid, c.guangdong_operator)
        assert not c.consortium.proposal(pid).executed
        approve(c, pid, c.hong_kong_operator)
        assert c.consortium.proposal(pid).executed
        # Hong Kong leaves again, by the same rule (all three jurisdictions).
        c.propose(ProposalKind.REMOVE_OPERATOR, c.hong_kong_operator, proposer=c.hong_kong_operator)
        leave = last_id(c)
        approve(c, leave, c.macao_operator)
        assert not c.consortium.proposal(leave).executed
        receipt = approve(c, leave, c.guangdong_operator)
        assert only_event(c.consortium, receipt, "OperatorRemoved") == {
            "account": c.hong_kong_operator, "jurisdiction": jurisdiction_code("HK"), "proposalId": leave}
        assert c.consortium.operators() == [(c.macao_operator, jurisdiction_code("MO")),
                                            (c.guangdong_operator, jurisdiction_code("GD"))]
        with pytest.raises(errors.ConsortiumNotOperator):
            c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id, proposer=c.hong_kong_operator)

    def test_never_an_operator_less_side(self, consortium: Consortium) -> None:
        """Removing the last operator of one of two jurisdictions would leave one side alone: refused."""
        c = consortium
        with pytest.raises(errors.ConsortiumInvalidQuorum) as raised:
            c.propose(ProposalKind.REMOVE_OPERATOR, c.guangdong_operator)
        assert raised.value.args_by_name == {"operators": 1, "jurisdictions": 1, "threshold": 2}
        with pytest.raises(errors.ConsortiumNotOperator):
            c.propose(ProposalKind.REMOVE_OPERATOR, c.outsider)

    def test_lost_operator_key_is_replaced(self, consortium: Consortium) -> None:
        """v1 with quorum "all" lost governance for good with one operator key. Now a jurisdiction that runs a
        second operator account replaces a lost one with the others, and governance goes on meanwhile."""
        c = consortium
        backup = c.w3.eth.accounts[8]
        c.govern(ProposalKind.ADD_OPERATOR, backup, jurisdiction_code("GD"))
        c.govern(ProposalKind.SET_THRESHOLD, 2)  # two of three, with both jurisdictions
        # The first Guangdong key is lost: Macao and the Guangdong backup replace it.
        new_guangdong = c.w3.eth.accounts[9]
        c.propose(ProposalKind.REPLACE_OPERATOR, c.guangdong_operator, new_guangdong)
        pid = last_id(c)
        receipt = approve(c, pid, backup)
        assert only_event(c.consortium, receipt, "OperatorReplaced") == {
            "oldAccount": c.guangdong_operator, "newAccount": new_guangdong, "proposalId": pid}
        assert (new_guangdong, jurisdiction_code("GD")) in c.consortium.operators()
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        approve(c, last_id(c), new_guangdong)
        assert c.registry.call(lambda f: f.member(c.outsider))[0] == Role.VERIFIER
        with pytest.raises(errors.ConsortiumNotOperator):
            c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id, proposer=c.guangdong_operator)

    def test_operator_changes_void_open_proposals(self, consortium: Consortium) -> None:
        c = consortium
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        pending = last_id(c)
        hong_kong_joins(c)
        epoch = c.consortium.call(lambda f: f.epoch())
        with pytest.raises(errors.ConsortiumProposalStale) as raised:
            approve(c, pending, c.guangdong_operator)
        assert raised.value.args_by_name == {"proposalId": pending, "epoch": epoch - 1, "currentEpoch": epoch}

    def test_add_operator_refusals(self, consortium: Consortium) -> None:
        c = consortium
        with pytest.raises(errors.ConsortiumDuplicateOperator):
            c.propose(ProposalKind.ADD_OPERATOR, c.guangdong_operator, jurisdiction_code("HK"))
        with pytest.raises(errors.ConsortiumZeroAddress):
            c.propose(ProposalKind.ADD_OPERATOR, ZERO, jurisdiction_code("HK"))
        with pytest.raises(errors.ConsortiumZeroJurisdiction):
            c.propose(ProposalKind.ADD_OPERATOR, c.outsider, b"\0" * 32)
        with pytest.raises(errors.ConsortiumDuplicateOperator):
            c.propose(ProposalKind.REPLACE_OPERATOR, c.macao_operator, c.guangdong_operator)


class TestOpenProposals:
    def test_listing_leaves_out_expired_proposals(self, consortium: Consortium) -> None:
        c = consortium
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        old = last_id(c)
        c.travel(7 * 86400 + 10)
        c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        fresh = last_id(c)
        c.propose(ProposalKind.ADMIT_MEMBER, c.w3.eth.accounts[8], Role.REGULATOR, jurisdiction_code("MO"))
        approve(c, last_id(c), c.guangdong_operator)
        assert c.consortium.call(lambda f: f.openProposals()) == [fresh]
        assert old < fresh
