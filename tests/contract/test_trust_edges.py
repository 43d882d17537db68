"""The trust rules at their edges: a compromise time equal to an act's own second, an issuer whose admin is stolen
twice, a regulator suspended before it vetoes."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from crossverify import errors
from crossverify.chain.records import ProposalKind, RevocationReason
from crossverify.chain.typed_data import sign
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision

from ..conftest import Consortium, add_key, admit_issuer, labelled_test_key
from .helpers import only_event

DAY = 86400


def block_time(c: Consortium, receipt) -> int:  # type: ignore[no-untyped-def]
    return int(c.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def test_a_key_compromised_from_an_anchors_own_second_loses_the_root_and_a_second_later_does_not(
        consortium: Consortium) -> None:
    """"At or before": compromised from the squat's own second, the squat yields the root to the genuine anchor; a
    squat one second before the compromise keeps it."""
    c, reg = consortium, consortium.registry
    k2 = labelled_test_key("BNU signing key 2")
    add_key(c, "BNUMMOMX", c.issuer_admin, k2)
    held, lost = Web3.keccak(text="squatted a second early"), Web3.keccak(text="squatted at the compromise")
    early = block_time(c, c.anchor(held, leaf_count=5))
    at = block_time(c, c.anchor(lost, leaf_count=5))
    assert at > early
    reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, at), c.issuer_admin)
    c.anchor(lost, signer=k2, leaf_count=16)
    assert reg.document_status(c.issuer_id, lost, b"\0" * 32).signing_key == k2.address
    with pytest.raises(errors.RegistryRootAlreadyAnchored):
        c.anchor(held, signer=k2, leaf_count=16)


def test_an_admin_stolen_twice_loses_only_what_each_thief_did(consortium: Consortium) -> None:
    """Admin 0 stolen at T0, replaced; admin 1 cancels and revokes honestly, then is stolen at T1, replaced. Each
    recovery voids its thief's acts from the second it names on, and the honest acts in between stand."""
    c, reg = consortium, consortium.registry
    roots = [Web3.keccak(text=f"batch {i}") for i in range(3)]
    for root in roots:
        c.anchor(root, leaf_count=2)
    c.travel(DAY)
    t0 = c.now()
    reg.transact(lambda f: f.revokeBatch(roots[0], RevocationReason.FRAUD), c.issuer_admin)  # thief 0, at T0
    reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, c.now() + 7 * DAY), c.issuer_admin)
    first, second = c.w3.eth.accounts[8], c.w3.eth.accounts[9]
    c.govern(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, first, t0)
    assert reg.call(lambda f: f.issuer(c.issuer_id))[5] == 0
    c.travel(3600)
    honest = c.now() + 60
    reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, honest), first)
    reg.transact(lambda f: f.revokeBatch(roots[1], RevocationReason.WITHDRAWN), first)
    c.travel(3600)
    in_flight = c.anchor_request(Web3.keccak(text="in flight"), deadline=c.now() + 2 * DAY)
    signature = sign(in_flight, c.domain, c.signing_key)
    receipt = reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, c.now() + 7 * DAY), first)  # thief 1
    t1 = block_time(c, receipt)
    reg.transact(lambda f: f.revokeBatch(roots[2], RevocationReason.FRAUD), first)
    with pytest.raises(errors.RegistryInvalidAdminCompromiseTime):  # not back into the first admin's tenure
        c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, second, t0)
    receipt = c.govern(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, second, t1)
    assert only_event(reg, receipt, "IssuerAdminReplaced")["oldAdmin"] == first
    statuses = reg.document_statuses([(c.issuer_id, root, b"\0" * 32) for root in roots])
    assert [(s.batch_revocation.counts, s.batch_revocation.void) for s in statuses] == \
        [(False, True), (True, False), (False, True)]
    assert reg.call(lambda f: f.issuer(c.issuer_id))[5] == honest  # the honest cancellation stands, not T1's
    reg.transact(lambda f: f.anchor(in_flight.as_abi(), signature), c.macao_operator)


def test_a_suspended_regulator_no_longer_vetoes_a_recovery(consortium: Consortium) -> None:
    c = consortium
    c.govern(ProposalKind.SUSPEND_MEMBER, c.regulator)
    c.propose(ProposalKind.RECOVER_OPERATOR, c.guangdong_operator, c.outsider)
    pid = int(c.consortium.call(lambda f: f.proposalCount()))
    with pytest.raises(errors.ConsortiumNotVetoer):
        c.consortium.transact(lambda f: f.veto(pid), c.regulator)


def test_a_batch_revocation_counts_the_documents_of_its_own_issuers_live_anchor(consortium: Consortium,
                                                                               tmp_path: Path) -> None:
    """Another issuer anchored BNU's root under its own id with 1,000 leaves first, and BNU's own root was squatted
    with 5 leaves by its stolen key, then replaced by the genuine 16: BNU's batch revocation revokes 16 documents."""
    c, reg = consortium, consortium.registry
    admit_issuer(c, "ICBKMOMX", c.outsider, [labelled_test_key("ICBC key")], ["DEPCERT"])
    k2 = labelled_test_key("BNU signing key 2")
    add_key(c, "BNUMMOMX", c.issuer_admin, k2)
    root = Web3.keccak(text="a batch others anchored too")
    rival = c.anchor_request(root, leaf_count=1000)
    reg.transact(lambda f: f.anchor(rival.as_abi(), sign(rival, c.domain, labelled_test_key("ICBC key"))), c.outsider)
    stolen_at = c.now()
    c.anchor(root, leaf_count=5)  # the squat, with BNU's stolen key
    reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, stolen_at), c.issuer_admin)
    c.anchor(root, signer=k2, leaf_count=16)
    reg.transact(lambda f: f.revokeBatch(root, RevocationReason.WITHDRAWN), c.issuer_admin)
    reader = RegulatorReader(reg, tmp_path / "audit.sqlite")
    reader.sync()
    report = Supervision(reader).report()
    assert sum(day.get("revocations", 0) for day in report.by_day.values()) == 16


def test_the_30_days_run_back_from_the_proposal_not_from_its_last_approval(consortium: Consortium) -> None:
    """Proposed with T 27 days back, approved 6 days later (within the proposal's week): the replacement still
    reaches T (the approval used to revert, and a new proposal could no longer reach the theft's first days)."""
    c, reg = consortium, consortium.registry
    c.travel(60 * DAY)
    theft = c.now() - 27 * DAY
    new_admin = c.w3.eth.accounts[8]
    c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, new_admin, theft)
    pid = int(c.consortium.call(lambda f: f.proposalCount()))
    c.travel(6 * DAY)
    receipt = c.consortium.transact(lambda f: f.approve(pid), c.guangdong_operator)
    assert only_event(reg, receipt, "IssuerAdminReplaced")["compromisedFrom"] == theft
    with pytest.raises(errors.RegistryInvalidAdminCompromiseTime):  # a new proposal is measured from now
        c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.outsider, theft)
