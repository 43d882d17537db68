"""Registry governance through the consortium: admission with exact events, proposal rules, issuer and member
lifecycle, and replacing an issuer's admin."""

from __future__ import annotations

import pytest

from crossverify import errors
from crossverify.chain.records import ProposalKind, Role, Status
from crossverify.format.codes import doc_type_code, issuer_id_code, jurisdiction_code

from ..conftest import Consortium, add_key, admission, labelled_test_key
from .helpers import events, only_event


class TestProposals:
    def test_one_operator_alone_cannot_admit(self, consortium: Consortium) -> None:
        c = consortium
        receipt = c.propose(ProposalKind.ADMIT_ISSUER, *admission("ICBKMOMX", c.outsider, ["DEPCERT"]))
        assert [name for name, _ in events(c.consortium, receipt)] == ["ProposalCreated", "ProposalApproved"]
        assert c.registry.call(lambda f: f.issuer(issuer_id_code("ICBKMOMX")))[3] == Status.NONE
        pid = c.consortium.call(lambda f: f.proposalCount())
        with pytest.raises(errors.ConsortiumAlreadyApproved):
            c.consortium.transact(lambda f: f.approve(pid), c.macao_operator)
        info = c.consortium.proposal(pid)
        assert (info.approved_by, info.executed) == (0b01, False)

    def test_quorum_admits_issuer_with_exact_events(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        new_id = issuer_id_code("ICBKMOMX")
        propose = c.propose(ProposalKind.ADMIT_ISSUER, *admission("ICBKMOMX", c.outsider, ["CREDREC"]))
        pid = c.consortium.call(lambda f: f.proposalCount())
        created = only_event(c.consortium, propose, "ProposalCreated")
        assert (created["proposalId"], created["kind"], created["proposer"]) == (
            pid, ProposalKind.ADMIT_ISSUER, c.macao_operator)
        assert created["expiresAt"] == c.w3.eth.get_block(propose["blockNumber"])["timestamp"] + 7 * 86400
        assert only_event(c.consortium, propose, "ProposalApproved") == {
            "proposalId": pid, "operator": c.macao_operator, "approvals": 1}

        receipt = c.consortium.transact(lambda f: f.approve(pid), c.guangdong_operator)
        at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert [n for n, _ in events(c.consortium, receipt)] == ["ProposalApproved", "ProposalExecuted"]
        assert [n for n, _ in events(reg, receipt)] == ["IssuerAdmitted", "DocTypePermissionChanged"]
        assert only_event(reg, receipt, "IssuerAdmitted") == {
            "issuerId": new_id, "admin": c.outsider, "proposalId": pid, "jurisdiction": jurisdiction_code("MO")}
        assert only_event(reg, receipt, "DocTypePermissionChanged") == {
            "issuerId": new_id, "docType": doc_type_code("CREDREC"), "proposalId": pid, "allowed": True}
        assert only_event(c.consortium, receipt, "ProposalExecuted") == {
            "proposalId": pid, "kind": ProposalKind.ADMIT_ISSUER, "operator": c.guangdong_operator}
        assert reg.call(lambda f: f.issuer(new_id)) == (
            new_id, jurisdiction_code("MO"), c.outsider, Status.ACTIVE, at, 0)
        assert reg.call(lambda f: f.issuerKeys(new_id)) == []
        assert reg.call(lambda f: f.mayIssue(new_id, doc_type_code("CREDREC")))
        assert reg.call(lambda f: f.issuerHistory(new_id)) == [(at, 0)]
        with pytest.raises(errors.ConsortiumProposalAlreadyExecuted):
            c.consortium.transact(lambda f: f.approve(pid), c.guangdong_operator)

    def test_expired_proposal(self, consortium: Consortium) -> None:
        c = consortium
        c.propose(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        pid = c.consortium.call(lambda f: f.proposalCount())
        c.travel(7 * 86400 + 10)
        with pytest.raises(errors.ConsortiumProposalExpired) as raised:
            c.consortium.transact(lambda f: f.approve(pid), c.guangdong_operator)
        assert raised.value.args_by_name["proposalId"] == pid
        assert c.registry.call(lambda f: f.member(c.outsider))[0] == Role.NONE

    def test_only_operators_propose_and_approve(self, consortium: Consortium) -> None:
        c = consortium
        with pytest.raises(errors.ConsortiumNotOperator) as raised:
            c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id, proposer=c.issuer_admin)
        assert raised.value.args_by_name == {"account": c.issuer_admin}
        c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        pid = c.consortium.call(lambda f: f.proposalCount())
        with pytest.raises(errors.ConsortiumNotOperator):
            c.consortium.transact(lambda f: f.approve(pid), c.outsider)

    def test_only_the_consortium_governs_the_registry(self, consortium: Consortium) -> None:
        c = consortium
        payload = b"\0" * 32
        with pytest.raises(errors.RegistryNotConsortium) as raised:
            c.registry.transact(lambda f: f.execute(1, payload, 0), c.macao_operator)
        assert raised.value.args_by_name == {"account": c.macao_operator}

    def test_unknown_proposal(self, consortium: Consortium) -> None:
        with pytest.raises(errors.ConsortiumUnknownProposal):
            consortium.consortium.transact(lambda f: f.approve(999), consortium.guangdong_operator)

    @pytest.mark.parametrize(
        ("error", "issuer", "admin_index"),
        [
            (errors.RegistryIssuerExists, "BNUMMOMX", 5),
            (errors.RegistryZeroAddress, "NEWISSUER", None),
            (errors.RegistryAdminInUse, "NEWISSUER", 2),
        ],
    )
    def test_admission_refused_at_proposal(self, consortium: Consortium, error: type, issuer: str,
                                           admin_index: int | None) -> None:
        c = consortium
        admin = c.w3.eth.accounts[admin_index] if admin_index is not None else "0x" + "00" * 20
        with pytest.raises(error):
            c.propose(ProposalKind.ADMIT_ISSUER, *admission(issuer, admin, ["DEPCERT"]))
        assert c.consortium.call(lambda f: f.proposalCount()) == 4  # the fixture's four

    def test_zero_issuer_id_and_doc_type(self, consortium: Consortium) -> None:
        c = consortium
        with pytest.raises(errors.RegistryZeroIssuerId):
            c.propose(ProposalKind.ADMIT_ISSUER, b"\0" * 11, b"\0" * 32, c.outsider, [], b"\0" * 32, [])
        with pytest.raises(errors.RegistryZeroDocType):
            c.propose(ProposalKind.ADMIT_ISSUER, issuer_id_code("X"), b"\0" * 32, c.outsider, [b"\0" * 8], b"\0" * 32,
                      [b"\0" * 32])
        with pytest.raises(errors.RegistryZeroDocType):
            c.propose(ProposalKind.SET_DOC_TYPES, c.issuer_id, [b"\0" * 8], True, [b"\0" * 32])

    def test_execution_rechecks_state(self, consortium: Consortium) -> None:
        """Two competing admissions of the same id: the second one's final approval fails, naming why."""
        c = consortium
        values = admission("NEWISSUER", c.outsider, [])
        c.propose(ProposalKind.ADMIT_ISSUER, *values)
        c.propose(ProposalKind.ADMIT_ISSUER, *values)
        second = c.consortium.call(lambda f: f.proposalCount())
        c.consortium.transact(lambda f: f.approve(second - 1), c.guangdong_operator)
        with pytest.raises(errors.RegistryIssuerExists):
            c.consortium.transact(lambda f: f.approve(second), c.guangdong_operator)


class TestIssuerAdmin:
    def test_quorum_replaces_a_stolen_admin(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        new_admin = c.w3.eth.accounts[8]
        receipt = c.govern(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, new_admin, 0)
        assert only_event(reg, receipt, "IssuerAdminReplaced") == {
            "issuerId": c.issuer_id, "oldAdmin": c.issuer_admin, "newAdmin": new_admin,
            "proposalId": c.consortium.call(lambda f: f.proposalCount()), "compromisedFrom": 0}
        thief_key = labelled_test_key("the thief's key")
        with pytest.raises(errors.RegistryNotIssuerAdmin):
            add_key(c, "BNUMMOMX", c.issuer_admin, thief_key)
        add_key(c, "BNUMMOMX", new_admin, labelled_test_key("BNU key after the theft"))
        assert reg.call(lambda f: f.issuer(c.issuer_id))[2] == new_admin

    def test_replacement_refusals(self, consortium: Consortium) -> None:
        c = consortium
        with pytest.raises(errors.RegistryAdminInUse):
            c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.issuer_admin, 0)
        with pytest.raises(errors.RegistryZeroAddress):
            c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, "0x" + "00" * 20, 0)
        with pytest.raises(errors.RegistryUnknownIssuer):
            c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, issuer_id_code("NOBODY"), c.outsider, 0)


class TestIssuerLifecycle:
    def test_suspend_and_reinstate_keep_history(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        admitted = reg.call(lambda f: f.issuer(c.issuer_id))[4]
        receipt = c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        suspended_at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert only_event(reg, receipt, "IssuerSuspended") == {
            "issuerId": c.issuer_id, "proposalId": c.consortium.call(lambda f: f.proposalCount())}
        assert reg.call(lambda f: f.issuer(c.issuer_id))[3] == Status.SUSPENDED
        with pytest.raises(errors.RegistryIssuerNotActive):
            c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        c.travel(100)
        receipt = c.govern(ProposalKind.REINSTATE_ISSUER, c.issuer_id)
        reinstated_at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert only_event(reg, receipt, "IssuerReinstated")["issuerId"] == c.issuer_id
        assert reg.call(lambda f: f.issuerHistory(c.issuer_id)) == [(admitted, suspended_at), (reinstated_at, 0)]
        active_at = lambda t: reg.call(lambda f: f.issuerActiveAt(c.issuer_id, t))  # noqa: E731
        assert [active_at(t) for t in (admitted - 1, admitted, suspended_at, suspended_at + 1, reinstated_at)] == [
            False, True, True, False, True]  # the suspension's own second still counts: an anchor before it did
        with pytest.raises(errors.RegistryIssuerNotSuspended):
            c.govern(ProposalKind.REINSTATE_ISSUER, c.issuer_id)

    def test_unknown_issuer(self, consortium: Consortium) -> None:
        with pytest.raises(errors.RegistryUnknownIssuer):
            consortium.govern(ProposalKind.SET_DOC_TYPES, issuer_id_code("NOBODY"), [doc_type_code("X")], True,
                              [bytes(32)])
        with pytest.raises(errors.RegistryIssuerNotActive):
            consortium.govern(ProposalKind.SUSPEND_ISSUER, issuer_id_code("NOBODY"))

    def test_doc_types_change(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        receipt = c.govern(ProposalKind.SET_DOC_TYPES, c.issuer_id, [c.doc_type, doc_type_code("INSPOL")], False,
                           [bytes(32)] * 2)
        # DEPCERT was allowed and is now not; INSPOL was not allowed, so nothing changes for it.
        assert [a["docType"] for _, a in events(reg, receipt, "DocTypePermissionChanged")] == [c.doc_type]
        assert not reg.call(lambda f: f.mayIssue(c.issuer_id, c.doc_type))


class TestMembers:
    def test_admit_suspend_reinstate(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        receipt = c.govern(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
        pid = c.consortium.call(lambda f: f.proposalCount())
        assert only_event(reg, receipt, "MemberAdmitted") == {
            "account": c.outsider, "role": Role.VERIFIER, "proposalId": pid}
        receipt = c.govern(ProposalKind.SUSPEND_MEMBER, c.outsider)
        assert only_event(reg, receipt, "MemberSuspended")["role"] == Role.VERIFIER
        assert reg.call(lambda f: f.member(c.outsider))[:2] == (Role.VERIFIER, Status.SUSPENDED)
        receipt = c.govern(ProposalKind.REINSTATE_MEMBER, c.outsider)
        assert only_event(reg, receipt, "MemberReinstated")["account"] == c.outsider
        assert reg.call(lambda f: f.member(c.regulator))[:2] == (Role.REGULATOR, Status.ACTIVE)

    def test_member_errors(self, consortium: Consortium) -> None:
        c = consortium
        with pytest.raises(errors.RegistryInvalidRole):
            c.govern(ProposalKind.ADMIT_MEMBER, c.outsider, Role.NONE, bytes(32))
        with pytest.raises(errors.RegistryZeroAddress):
            c.govern(ProposalKind.ADMIT_MEMBER, "0x" + "00" * 20, Role.VERIFIER, bytes(32))
        with pytest.raises(errors.RegistryMemberExists):
            c.govern(ProposalKind.ADMIT_MEMBER, c.verifier, Role.REGULATOR, bytes(32))
        with pytest.raises(errors.RegistryZeroJurisdiction):
            c.govern(ProposalKind.ADMIT_MEMBER, c.outsider, Role.REGULATOR, bytes(32))
        with pytest.raises(errors.RegistryUnknownMember):
            c.govern(ProposalKind.SUSPEND_MEMBER, c.outsider)
        with pytest.raises(errors.RegistryUnknownMember):
            c.govern(ProposalKind.REINSTATE_MEMBER, c.outsider)
        with pytest.raises(errors.RegistryMemberNotSuspended):
            c.govern(ProposalKind.REINSTATE_MEMBER, c.verifier)
        c.govern(ProposalKind.SUSPEND_MEMBER, c.verifier)
        with pytest.raises(errors.RegistryMemberNotActive):
            c.govern(ProposalKind.SUSPEND_MEMBER, c.verifier)
