"""One lost key never freezes the consortium, and nobody can use the way out to take a live operator's seat: a
recovery needs the other jurisdictions' quorum, then waits 30 days in public, during which the lost operator's
jurisdiction (itself included, if it is not lost after all) or a regulator of that jurisdiction can veto it; no
other jurisdiction can keep the seat lost. Approvals are kept by
account, so an operator that moves into another's seat inherits none of its approvals."""

from __future__ import annotations

import pytest

from crossverify import errors
from crossverify.chain.records import ProposalKind, Role
from crossverify.format.codes import jurisdiction_code

from ..conftest import Consortium
from .helpers import only_event

DELAY = 30 * 86400


def last_id(c: Consortium) -> int:
    return int(c.consortium.call(lambda f: f.proposalCount()))


def recovery(c: Consortium, lost: str, replacement: str, proposer: str) -> int:
    c.propose(ProposalKind.RECOVER_OPERATOR, lost, replacement, proposer=proposer)
    return last_id(c)


def execute(c: Consortium, proposal_id: int, operator: str):  # type: ignore[no-untyped-def]
    return c.consortium.transact(lambda f: f.executeRecovery(proposal_id), operator)


class TestRecovery:
    def test_the_two_operator_consortium_survives_a_lost_key(self, consortium: Consortium) -> None:
        """Today, with Guangdong's only key lost, no proposal can ever pass again. Macao alone proposes the
        recovery (its quorum: every other jurisdiction); 30 public days later it is carried out."""
        c = consortium
        new_guangdong = c.w3.eth.accounts[9]
        receipt = c.propose(ProposalKind.RECOVER_OPERATOR, c.guangdong_operator, new_guangdong)
        pid = last_id(c)
        scheduled = only_event(c.consortium, receipt, "RecoveryScheduled")
        unlock_at = c.consortium.proposal(pid).unlock_at
        assert scheduled == {"proposalId": pid, "lost": c.guangdong_operator, "replacement": new_guangdong,
                             "unlockAt": unlock_at}
        assert unlock_at == c.w3.eth.get_block(receipt["blockNumber"])["timestamp"] + DELAY
        assert c.consortium.call(lambda f: f.RECOVERY_DELAY()) == DELAY
        assert not c.consortium.call(lambda f: f.hasApproved(pid, c.guangdong_operator))  # its seat, not its act
        with pytest.raises(errors.ConsortiumRecoveryPending):
            execute(c, pid, c.macao_operator)
        with pytest.raises(errors.ConsortiumRecoveryPending):
            c.consortium.transact(lambda f: f.approve(pid), c.macao_operator)
        c.travel(DELAY)
        receipt = execute(c, pid, c.macao_operator)
        assert only_event(c.consortium, receipt, "OperatorReplaced") == {
            "oldAccount": c.guangdong_operator, "newAccount": new_guangdong, "proposalId": pid}
        assert c.consortium.proposal(pid).executed
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        c.consortium.transact(lambda f: f.approve(last_id(c)), new_guangdong)
        assert c.registry.call(lambda f: f.member(c.outsider))[0] == Role.VERIFIER

    def test_an_operator_that_is_not_lost_vetoes(self, consortium: Consortium) -> None:
        """The other side cannot seize a live operator's seat: the operator itself vetoes."""
        c = consortium
        pid = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        receipt = c.consortium.transact(lambda f: f.veto(pid), c.guangdong_operator)
        assert only_event(c.consortium, receipt, "RecoveryVetoed") == {"proposalId": pid,
                                                                        "vetoer": c.guangdong_operator}
        assert c.consortium.proposal(pid).vetoed
        c.travel(DELAY)
        with pytest.raises(errors.ConsortiumRecoveryVetoed):
            execute(c, pid, c.macao_operator)
        assert (c.guangdong_operator, jurisdiction_code("GD")) in c.consortium.operators()

    def test_a_regulator_vetoes_and_nobody_else(self, consortium: Consortium) -> None:
        c = consortium
        pid = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        for who in (c.macao_operator, c.outsider, c.verifier, c.issuer_admin):
            with pytest.raises(errors.ConsortiumNotVetoer):
                c.consortium.transact(lambda f: f.veto(pid), who)
        c.consortium.transact(lambda f: f.veto(pid), c.regulator)
        with pytest.raises(errors.ConsortiumRecoveryVetoed):
            c.consortium.transact(lambda f: f.veto(pid), c.guangdong_operator)

    def test_another_jurisdictions_regulator_cannot_keep_a_seat_lost(self, consortium: Consortium) -> None:
        """Macao's regulator may not veto the recovery of Guangdong's seat (one regulator would otherwise keep it
        lost for ever); Guangdong's regulator (the session's) may, and a regulator's jurisdiction is recorded."""
        c = consortium
        macao_regulator = c.w3.eth.accounts[7]
        c.govern(ProposalKind.ADMIT_MEMBER, macao_regulator, Role.REGULATOR, jurisdiction_code("MO"))
        pid = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        with pytest.raises(errors.ConsortiumNotVetoer):
            c.consortium.transact(lambda f: f.veto(pid), macao_regulator)
        assert not c.consortium.proposal(pid).vetoed
        assert c.registry.call(lambda f: f.memberJurisdiction(macao_regulator)) == jurisdiction_code("MO")
        assert c.registry.call(lambda f: f.memberJurisdiction(c.regulator)) == jurisdiction_code("GD")
        c.consortium.transact(lambda f: f.veto(pid), c.regulator)
        assert c.consortium.proposal(pid).vetoed

    def test_a_jurisdictions_remaining_operator_vetoes(self, consortium: Consortium) -> None:
        """Macao runs two operators; one is lost, and threshold "all" froze the consortium. Guangdong proposes the
        recovery; the remaining Macao operator can stop it."""
        c = consortium
        second_macao = c.w3.eth.accounts[8]
        c.govern(ProposalKind.ADD_OPERATOR, second_macao, jurisdiction_code("MO"))
        assert c.consortium.call(lambda f: f.threshold()) == 2
        c.govern(ProposalKind.SET_THRESHOLD, 3)
        pid = recovery(c, c.macao_operator, c.w3.eth.accounts[9], c.guangdong_operator)
        assert c.consortium.proposal(pid).unlock_at == 0  # two seats of three: the second Macao operator too
        c.consortium.transact(lambda f: f.approve(pid), second_macao)
        assert c.consortium.proposal(pid).unlock_at > 0
        c.consortium.transact(lambda f: f.veto(pid), second_macao)
        assert c.consortium.proposal(pid).vetoed

    def test_a_vetoed_recovery_takes_no_more_approvals(self, consortium: Consortium) -> None:
        """Operators MO, GD, HK: Guangdong, not lost, vetoes its recovery before Hong Kong approved. Hong Kong's
        approval was taken and scheduled the vetoed recovery (RecoveryScheduled, an unlock time, for an audit to
        read as agreed); it is refused."""
        c = consortium
        c.govern(ProposalKind.ADD_OPERATOR, c.hong_kong_operator, jurisdiction_code("HK"))
        pid = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        c.consortium.transact(lambda f: f.veto(pid), c.guangdong_operator)
        with pytest.raises(errors.ConsortiumRecoveryVetoed):
            c.consortium.transact(lambda f: f.approve(pid), c.hong_kong_operator)
        assert c.consortium.proposal(pid).unlock_at == 0

    def test_a_recovery_is_listed_open_while_it_can_be_vetoed_or_carried_out(self, consortium: Consortium) -> None:
        """A recovery waits 30 days, then one lifetime to be carried out, far past its proposal's 7 days: the open
        list dropped it after 7, so the lost seat's jurisdiction, reading what needs it, saw nothing to veto."""
        c = consortium
        vetoed = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        c.consortium.transact(lambda f: f.veto(vetoed), c.guangdong_operator)
        pid = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        c.travel(DELAY)
        c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        assert c.consortium.call(lambda f: f.openProposals()) == [last_id(c), pid]
        c.travel(7 * 86400 + 10)  # past its window: one proposal lifetime after the lock
        assert c.consortium.call(lambda f: f.openProposals()) == []

    def test_recovery_refusals(self, consortium: Consortium) -> None:
        c = consortium
        with pytest.raises(errors.ConsortiumInvalidRecovery):
            recovery(c, c.macao_operator, c.outsider, c.macao_operator)
        with pytest.raises(errors.ConsortiumNotOperator):
            recovery(c, c.outsider, c.w3.eth.accounts[9], c.macao_operator)
        with pytest.raises(errors.ConsortiumDuplicateOperator):
            recovery(c, c.guangdong_operator, c.macao_operator, c.macao_operator)
        c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        with pytest.raises(errors.ConsortiumNotRecovery):
            c.consortium.transact(lambda f: f.veto(last_id(c)), c.regulator)
        pid = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        with pytest.raises(errors.ConsortiumNotOperator):
            execute(c, pid, c.outsider)
        c.travel(DELAY + 7 * 86400 + 10)  # past its window: one proposal lifetime after the lock
        with pytest.raises(errors.ConsortiumProposalExpired):
            execute(c, pid, c.macao_operator)

    def test_an_operator_change_voids_a_pending_recovery(self, consortium: Consortium) -> None:
        c = consortium
        pid = recovery(c, c.guangdong_operator, c.outsider, c.macao_operator)
        c.govern(ProposalKind.ADD_OPERATOR, c.hong_kong_operator, jurisdiction_code("HK"))
        c.travel(DELAY)
        with pytest.raises(errors.ConsortiumProposalStale):
            execute(c, pid, c.macao_operator)


class TestApprovalsByAccount:
    def test_the_operator_moving_into_a_removed_seat_inherits_no_approval(self, consortium: Consortium) -> None:
        """Operators [MO, GD, HK]: GD approves P; GD is removed and HK moves into its seat (position 1).
        ``hasApproved(P, HK)`` said true; it is false, and GD's own record stands."""
        c = consortium
        c.govern(ProposalKind.ADD_OPERATOR, c.hong_kong_operator, jurisdiction_code("HK"))
        second_guangdong = c.w3.eth.accounts[8]
        c.propose(ProposalKind.ADD_OPERATOR, second_guangdong, jurisdiction_code("GD"))
        add = last_id(c)
        c.consortium.transact(lambda f: f.approve(add), c.guangdong_operator)
        c.consortium.transact(lambda f: f.approve(add), c.hong_kong_operator)
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        pid = last_id(c)
        c.consortium.transact(lambda f: f.approve(pid), c.guangdong_operator)
        c.propose(ProposalKind.REMOVE_OPERATOR, c.guangdong_operator)
        leave = last_id(c)
        for operator in (c.guangdong_operator, c.hong_kong_operator):
            c.consortium.transact(lambda f: f.approve(leave), operator)
        assert [a for a, _ in c.consortium.operators()][:2] == [c.macao_operator, second_guangdong]
        assert not c.consortium.call(lambda f: f.hasApproved(pid, second_guangdong))
        assert not c.consortium.call(lambda f: f.hasApproved(pid, c.hong_kong_operator))
        assert c.consortium.call(lambda f: f.hasApproved(pid, c.guangdong_operator))
        assert c.consortium.call(lambda f: f.hasApproved(pid, c.macao_operator))
