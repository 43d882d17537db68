"""Consortium governance: deployment rules, quorum proposals, issuer and member lifecycle."""

from __future__ import annotations

import pytest
from web3 import Web3

from crossverify import errors
from crossverify.chain.records import ProposalKind, Role, Status
from crossverify.chain.registry import Registry
from crossverify.format.codes import doc_type_code, issuer_id_code, jurisdiction_code

from ..conftest import Consortium, admit_issuer, labelled_test_key
from .helpers import events, only_event


class TestDeployment:
    def test_operators_quorum_and_domain(self, consortium: Consortium) -> None:
        reg = consortium.registry
        assert reg.call(lambda f: f.operators()) == [consortium.macao_operator, consortium.guangdong_operator]
        assert reg.call(lambda f: f.quorum()) == 2
        assert reg.call(lambda f: f.proposalLifetime()) == 7 * 86400
        assert consortium.domain.chain_id == consortium.w3.eth.chain_id
        assert consortium.domain.verifying_contract == reg.address
        assert consortium.domain.name == "crossverify DocumentRegistry"

    @pytest.mark.parametrize(("count", "quorum"), [(1, 0), (1, 1), (2, 1), (2, 3), (7, 0)])
    def test_invalid_operator_sets(self, w3: Web3, count: int, quorum: int) -> None:
        accounts = w3.eth.accounts
        with pytest.raises(errors.RegistryInvalidQuorum):
            Registry.deploy(w3, accounts[0], accounts[:count], quorum)

    def test_zero_and_duplicate_operators(self, w3: Web3) -> None:
        a = w3.eth.accounts
        with pytest.raises(errors.RegistryZeroAddress):
            Registry.deploy(w3, a[0], [a[0], "0x" + "00" * 20])
        with pytest.raises(errors.RegistryDuplicateOperator):
            Registry.deploy(w3, a[0], [a[0], a[1], a[0]])

    def test_partial_quorum(self, w3: Web3) -> None:
        a = w3.eth.accounts
        reg, _ = Registry.deploy(w3, a[0], a[:3], quorum=2)
        assert reg.call(lambda f: f.quorum()) == 2
        assert reg.call(lambda f: f.operators()) == a[:3]


class TestProposals:
    def test_one_operator_alone_cannot_admit(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        new_id = issuer_id_code("ICBKMOMX")
        receipt = reg.transact(lambda f: f.proposeAdmitIssuer(
            new_id, jurisdiction_code("MO"), c.outsider, [doc_type_code("DEPCERT")], []), c.macao_operator)
        assert [name for name, _ in events(reg, receipt)] == ["ProposalCreated", "ProposalApproved"]
        assert reg.call(lambda f: f.issuer(new_id))[3] == Status.NONE
        proposal_id = reg.call(lambda f: f.proposalCount())
        with pytest.raises(errors.RegistryAlreadyApproved):
            reg.transact(lambda f: f.approve(proposal_id), c.macao_operator)
        assert reg.call(lambda f: f.proposal(proposal_id))[4:6] == (1, False)

    def test_quorum_admits_issuer_with_exact_events(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        key = labelled_test_key("ICBC key")
        new_id = issuer_id_code("ICBKMOMX")
        propose = reg.transact(lambda f: f.proposeAdmitIssuer(
            new_id, jurisdiction_code("MO"), c.outsider, [doc_type_code("CREDREC")], [key.address]), c.macao_operator)
        pid = reg.call(lambda f: f.proposalCount())
        created = only_event(reg, propose, "ProposalCreated")
        assert created["proposalId"] == pid
        assert created["kind"] == ProposalKind.ADMIT_ISSUER
        assert created["proposer"] == c.macao_operator
        assert created["expiresAt"] == c.w3.eth.get_block(propose["blockNumber"])["timestamp"] + 7 * 86400
        assert only_event(reg, propose, "ProposalApproved") == {
            "proposalId": pid, "operator": c.macao_operator, "approvals": 1}

        receipt = reg.transact(lambda f: f.approve(pid), c.guangdong_operator)
        at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert [n for n, _ in events(reg, receipt)] == [
            "ProposalApproved", "IssuerAdmitted", "DocTypePermissionChanged", "SigningKeyAdded", "ProposalExecuted"]
        assert only_event(reg, receipt, "IssuerAdmitted") == {
            "issuerId": new_id, "admin": c.outsider, "proposalId": pid, "jurisdiction": jurisdiction_code("MO")}
        assert only_event(reg, receipt, "DocTypePermissionChanged") == {
            "issuerId": new_id, "docType": doc_type_code("CREDREC"), "proposalId": pid, "allowed": True}
        assert only_event(reg, receipt, "SigningKeyAdded") == {
            "issuerId": new_id, "key": key.address, "actor": c.guangdong_operator}
        assert only_event(reg, receipt, "ProposalExecuted") == {
            "proposalId": pid, "kind": ProposalKind.ADMIT_ISSUER, "operator": c.guangdong_operator}
        assert reg.call(lambda f: f.issuer(new_id)) == (new_id, jurisdiction_code("MO"), c.outsider, Status.ACTIVE, at)
        assert reg.call(lambda f: f.issuerKeys(new_id)) == [key.address]
        assert reg.call(lambda f: f.mayIssue(new_id, doc_type_code("CREDREC")))
        assert not reg.call(lambda f: f.mayIssue(new_id, doc_type_code("DEPCERT")))
        assert reg.call(lambda f: f.issuerHistory(new_id)) == [(at, 0)]
        with pytest.raises(errors.RegistryProposalAlreadyExecuted):
            reg.transact(lambda f: f.approve(pid), c.guangdong_operator)

    def test_expired_proposal(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        reg.transact(lambda f: f.proposeAdmitMember(c.outsider, Role.VERIFIER), c.macao_operator)
        pid = reg.call(lambda f: f.proposalCount())
        c.travel(7 * 86400 + 10)
        with pytest.raises(errors.RegistryProposalExpired) as raised:
            reg.transact(lambda f: f.approve(pid), c.guangdong_operator)
        assert raised.value.args_by_name["proposalId"] == pid
        assert reg.call(lambda f: f.member(c.outsider))[0] == Role.NONE

    def test_only_operators_propose_and_approve(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        with pytest.raises(errors.RegistryNotOperator) as raised:
            reg.transact(lambda f: f.proposeSuspendIssuer(c.issuer_id), c.issuer_admin)
        assert raised.value.args_by_name == {"account": c.issuer_admin}
        reg.transact(lambda f: f.proposeSuspendIssuer(c.issuer_id), c.macao_operator)
        with pytest.raises(errors.RegistryNotOperator):
            reg.transact(lambda f: f.approve(1), c.outsider)

    def test_unknown_proposal(self, consortium: Consortium) -> None:
        with pytest.raises(errors.RegistryUnknownProposal):
            consortium.registry.transact(lambda f: f.approve(999), consortium.guangdong_operator)

    @pytest.mark.parametrize(
        ("error", "issuer", "admin_index", "doc_types", "key"),
        [
            (errors.RegistryIssuerExists, "BNUMMOMX", 5, ["DEPCERT"], None),
            (errors.RegistryZeroAddress, "NEWISSUER", None, ["DEPCERT"], None),
            (errors.RegistryAdminInUse, "NEWISSUER", 2, ["DEPCERT"], None),
            (errors.RegistryKeyExists, "NEWISSUER", 5, ["DEPCERT"], "existing"),
            (errors.RegistryZeroAddress, "NEWISSUER", 5, ["DEPCERT"], "zero"),
        ],
    )
    def test_admission_refused_at_proposal(
        self, consortium: Consortium, error: type, issuer: str, admin_index: int | None, doc_types: list[str],
        key: str | None,
    ) -> None:
        c = consortium
        admin = c.w3.eth.accounts[admin_index] if admin_index is not None else "0x" + "00" * 20
        keys = {None: [], "existing": [c.signing_key.address], "zero": ["0x" + "00" * 20]}[key]
        with pytest.raises(error):
            admit_issuer(c, issuer, admin, keys, doc_types)
        assert c.registry.call(lambda f: f.proposalCount()) == 3  # the fixture's three

    def test_zero_issuer_id_and_doc_type(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        with pytest.raises(errors.RegistryZeroIssuerId):
            reg.transact(lambda f: f.proposeAdmitIssuer(b"\0" * 11, b"\0" * 32, c.outsider, [], []), c.macao_operator)
        with pytest.raises(errors.RegistryZeroDocType):
            reg.transact(lambda f: f.proposeAdmitIssuer(
                issuer_id_code("X"), b"\0" * 32, c.outsider, [b"\0" * 8], []), c.macao_operator)
        with pytest.raises(errors.RegistryZeroDocType):
            reg.transact(lambda f: f.proposeSetDocTypes(c.issuer_id, [b"\0" * 8], True), c.macao_operator)

    def test_execution_rechecks_state(self, consortium: Consortium) -> None:
        """Two competing admissions of the same id: the second one's final approval fails, naming why."""
        c, reg = consortium, consortium.registry
        args = (issuer_id_code("NEWISSUER"), jurisdiction_code("MO"), c.outsider, [], [])
        reg.transact(lambda f: f.proposeAdmitIssuer(*args), c.macao_operator)
        reg.transact(lambda f: f.proposeAdmitIssuer(*args), c.macao_operator)
        first, second = reg.call(lambda f: f.proposalCount()) - 1, reg.call(lambda f: f.proposalCount())
        reg.transact(lambda f: f.approve(first), c.guangdong_operator)
        with pytest.raises(errors.RegistryIssuerExists):
            reg.transact(lambda f: f.approve(second), c.guangdong_operator)


class TestIssuerLifecycle:
    def test_suspend_and_reinstate_keep_history(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        admitted = reg.call(lambda f: f.issuer(c.issuer_id))[4]
        receipt = c.govern(lambda f: f.proposeSuspendIssuer(c.issuer_id))
        suspended_at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert only_event(reg, receipt, "IssuerSuspended") == {
            "issuerId": c.issuer_id, "proposalId": reg.call(lambda f: f.proposalCount())}
        assert reg.call(lambda f: f.issuer(c.issuer_id))[3] == Status.SUSPENDED
        with pytest.raises(errors.RegistryIssuerNotActive):
            c.govern(lambda f: f.proposeSuspendIssuer(c.issuer_id))
        c.travel(100)
        receipt = c.govern(lambda f: f.proposeReinstateIssuer(c.issuer_id))
        reinstated_at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert only_event(reg, receipt, "IssuerReinstated")["issuerId"] == c.issuer_id
        assert reg.call(lambda f: f.issuerHistory(c.issuer_id)) == [(admitted, suspended_at), (reinstated_at, 0)]
        active_at = lambda t: reg.call(lambda f: f.issuerActiveAt(c.issuer_id, t))  # noqa: E731
        assert [active_at(t) for t in (admitted - 1, admitted, suspended_at - 1, suspended_at, reinstated_at)] == [
            False, True, True, False, True]
        with pytest.raises(errors.RegistryIssuerNotSuspended):
            c.govern(lambda f: f.proposeReinstateIssuer(c.issuer_id))

    def test_unknown_issuer(self, consortium: Consortium) -> None:
        with pytest.raises(errors.RegistryUnknownIssuer):
            consortium.govern(lambda f: f.proposeSetDocTypes(issuer_id_code("NOBODY"), [doc_type_code("X")], True))
        with pytest.raises(errors.RegistryIssuerNotActive):
            consortium.govern(lambda f: f.proposeSuspendIssuer(issuer_id_code("NOBODY")))

    def test_doc_types_change(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        receipt = c.govern(lambda f: f.proposeSetDocTypes(c.issuer_id, [c.doc_type, doc_type_code("INSPOL")], False))
        # DEPCERT was allowed and is now not; INSPOL was not allowed, so nothing changes for it.
        assert [a["docType"] for _, a in events(reg, receipt, "DocTypePermissionChanged")] == [c.doc_type]
        assert not reg.call(lambda f: f.mayIssue(c.issuer_id, c.doc_type))


class TestMembers:
    def test_admit_suspend_reinstate(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        receipt = c.govern(lambda f: f.proposeAdmitMember(c.outsider, Role.VERIFIER))
        pid = reg.call(lambda f: f.proposalCount())
        assert only_event(reg, receipt, "MemberAdmitted") == {
            "account": c.outsider, "role": Role.VERIFIER, "proposalId": pid}
        receipt = c.govern(lambda f: f.proposeSuspendMember(c.outsider))
        assert only_event(reg, receipt, "MemberSuspended")["role"] == Role.VERIFIER
        assert reg.call(lambda f: f.member(c.outsider))[:2] == (Role.VERIFIER, Status.SUSPENDED)
        receipt = c.govern(lambda f: f.proposeReinstateMember(c.outsider))
        assert only_event(reg, receipt, "MemberReinstated")["account"] == c.outsider
        assert reg.call(lambda f: f.member(c.regulator))[:2] == (Role.REGULATOR, Status.ACTIVE)

    def test_member_errors(self, consortium: Consortium) -> None:
        c = consortium
        with pytest.raises(errors.RegistryInvalidRole):
            c.govern(lambda f: f.proposeAdmitMember(c.outsider, Role.NONE))
        with pytest.raises(errors.RegistryZeroAddress):
            c.govern(lambda f: f.proposeAdmitMember("0x" + "00" * 20, Role.VERIFIER))
        with pytest.raises(errors.RegistryMemberExists):
            c.govern(lambda f: f.proposeAdmitMember(c.verifier, Role.REGULATOR))
        with pytest.raises(errors.RegistryUnknownMember):
            c.govern(lambda f: f.proposeSuspendMember(c.outsider))
        with pytest.raises(errors.RegistryUnknownMember):
            c.govern(lambda f: f.proposeReinstateMember(c.outsider))
        with pytest.raises(errors.RegistryMemberNotSuspended):
            c.govern(lambda f: f.proposeReinstateMember(c.verifier))
        c.govern(lambda f: f.proposeSuspendMember(c.verifier))
        with pytest.raises(errors.RegistryMemberNotActive):
            c.govern(lambda f: f.proposeSuspendMember(c.verifier))
