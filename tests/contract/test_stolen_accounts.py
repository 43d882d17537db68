"""A stolen admin account or signing key does no harm that outlives its discovery: the consortium declares the
admin compromised from a moment on (its revocations, compromise marks, key additions and cancellations from then
stop counting, and the new admin acts again), cancellations are bounded, and a stolen key cannot keep a root."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from crossverify import errors
from crossverify.chain.records import ProposalKind, RevocationReason
from crossverify.chain.typed_data import RevocationRequest, sign
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision

from ..conftest import Consortium, add_key, labelled_test_key
from .helpers import only_event

ROOT = Web3.keccak(text="a batch the thief revokes")
DOCS = [Web3.keccak(text=f"document {i}") for i in range(4)]
ZERO = b"\0" * 32
DAY = 86400
HORIZON = 7 * DAY
LOOKBACK = 30 * DAY


@pytest.fixture
def stolen(consortium: Consortium) -> Consortium:
    """The BNU batch ``ROOT`` anchored a day ago; since then, the admin account is in a thief's hands."""
    consortium.anchor(ROOT, leaf_count=len(DOCS))
    consortium.travel(DAY)
    return consortium


def recover(c: Consortium, compromised_from: int) -> str:
    """The quorum replaces BNU's admin, declaring the old one compromised from ``compromised_from``."""
    new_admin = c.w3.eth.accounts[8]
    c.govern(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, new_admin, compromised_from)
    return new_admin


def batch_status(c: Consortium, digest: bytes = ZERO):  # type: ignore[no-untyped-def]
    return c.registry.document_status(c.issuer_id, ROOT, digest)


class TestAdminCompromise:
    def test_a_thiefs_revocation_stops_counting_and_the_new_admin_revokes_again(self, stolen: Consortium) -> None:
        """The issue's repro: the thief revokes for fraud; replacing the admin alone undid nothing. Declared
        compromised from before the theft, the revocation is void; the new admin may revoke again."""
        c, reg = stolen, stolen.registry
        theft = c.now()
        reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.FRAUD), c.issuer_admin)
        reg.transact(lambda f: f.revokeDocument(DOCS[2], RevocationReason.FRAUD), c.issuer_admin)
        assert batch_status(c).batch_revocation.counts
        new_admin = recover(c, theft)
        status = batch_status(c, DOCS[2])
        assert status.batch_revocation.void and not status.batch_revocation.counts
        assert status.document_revocation.void and status.batch_revocation.signing_key is None
        assert reg.revoked_documents(c.issuer_id, DOCS) == [2]  # void records are still listed
        reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.WITHDRAWN), new_admin)
        assert batch_status(c).batch_revocation.counts
        with pytest.raises(errors.RegistryNotIssuerAdmin):
            reg.transact(lambda f: f.revokeDocument(DOCS[3], RevocationReason.FRAUD), c.issuer_admin)

    def test_what_the_admin_did_before_the_compromise_stands(self, stolen: Consortium) -> None:
        c, reg = stolen, stolen.registry
        reg.transact(lambda f: f.revokeDocument(DOCS[0], RevocationReason.SUPERSEDED), c.issuer_admin)
        c.travel(3600)
        theft = c.now()
        reg.transact(lambda f: f.revokeDocument(DOCS[1], RevocationReason.FRAUD), c.issuer_admin)
        recover(c, theft)
        statuses = reg.document_statuses([(c.issuer_id, ROOT, d) for d in DOCS[:2]])
        assert statuses[0].document_revocation.counts and statuses[1].document_revocation.void

    def test_a_thiefs_compromise_mark_is_void_and_the_key_anchors_again(self, stolen: Consortium) -> None:
        """``markKeyCompromised(key, 1)`` voided every anchor of the key for good; now it is undone."""
        c, reg = stolen, stolen.registry
        theft = c.now()
        reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, 1), c.issuer_admin)
        assert batch_status(c).key_compromised_from == 1
        with pytest.raises(errors.RegistryKeyCompromised):
            c.anchor(Web3.keccak(text="after the mark"))
        new_admin = recover(c, theft)
        assert batch_status(c).key_compromised_from == 0
        assert reg.call(lambda f: f.signingKey(c.signing_key.address))[3] == 0
        assert reg.call(lambda f: f.keyValidAt(c.issuer_id, c.signing_key.address, c.now()))
        c.anchor(Web3.keccak(text="after the recovery"))
        reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, theft), new_admin)  # it may mark again
        assert batch_status(c).key_compromised_from == theft

    def test_keys_the_thief_added_never_counted(self, stolen: Consortium) -> None:
        c, reg = stolen, stolen.registry
        theft = c.now()
        thief: LocalAccount = labelled_test_key("the thief's own key")
        add_key(c, "BNUMMOMX", c.issuer_admin, thief)
        forged = Web3.keccak(text="forged batch")
        receipt = c.anchor(forged, signer=thief)  # accepted while nobody knew
        anchored_at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        revoked = RevocationRequest(ROOT, ZERO, RevocationReason.FRAUD, c.now() + 3600)
        reg.transact(lambda f: f.revokeBySignature(revoked.as_abi(), sign(revoked, c.domain, thief)), c.outsider)
        recover(c, theft)
        status = reg.document_status(c.issuer_id, forged, ZERO)
        assert status.key_compromised_from == status.key_added_at <= anchored_at  # key_not_compromised fails
        assert batch_status(c).batch_revocation.void
        assert not reg.call(lambda f: f.keyValidAt(c.issuer_id, thief.address, anchored_at))
        with pytest.raises(errors.RegistryKeyCompromised):
            c.anchor(Web3.keccak(text="the thief tries again"), signer=thief)

    def test_a_thiefs_cancellation_is_undone(self, stolen: Consortium) -> None:
        """A request the genuine key signed before the theft (in flight) anchors again after the recovery; the
        cancellation the admin made before the theft stands."""
        c, reg = stolen, stolen.registry
        honest = c.now() + 60
        reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, honest), c.issuer_admin)
        c.travel(600)
        in_flight = c.anchor_request(Web3.keccak(text="in flight"), deadline=c.now() + 2 * DAY)
        signature = sign(in_flight, c.domain, c.signing_key)
        theft = c.now()
        reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, c.now() + DAY), c.issuer_admin)
        reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, c.now() + HORIZON), c.issuer_admin)
        with pytest.raises(errors.RegistrySignatureCancelled):
            reg.transact(lambda f: f.anchor(in_flight.as_abi(), signature), c.macao_operator)
        recover(c, theft)
        assert reg.call(lambda f: f.issuer(c.issuer_id))[5] == honest
        reg.transact(lambda f: f.anchor(in_flight.as_abi(), signature), c.macao_operator)

    def test_how_far_back_a_compromise_may_reach(self, stolen: Consortium) -> None:
        """Not before the admin took office, not more than 30 days back, not in the future."""
        c, reg = stolen, stolen.registry
        assert reg.call(lambda f: f.MAX_ADMIN_LOOKBACK()) == LOOKBACK
        admitted = reg.call(lambda f: f.issuer(c.issuer_id))[4]
        with pytest.raises(errors.RegistryInvalidAdminCompromiseTime) as raised:
            c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.outsider, admitted - 1)
        assert raised.value.args_by_name["earliest"] == admitted
        with pytest.raises(errors.RegistryInvalidAdminCompromiseTime):
            c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.outsider, c.now() + 3600)
        c.travel(60 * DAY)
        now = c.now()
        with pytest.raises(errors.RegistryInvalidAdminCompromiseTime) as raised:
            c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.outsider, now - LOOKBACK - 3600)
        assert raised.value.args_by_name["earliest"] >= now - LOOKBACK
        second = recover(c, now - LOOKBACK + 3600)
        c.travel(DAY)
        with pytest.raises(errors.RegistryInvalidAdminCompromiseTime):  # the second admin's tenure began today
            c.propose(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.outsider, c.now() - 2 * DAY)
        since = c.now() - 3600
        receipt = c.govern(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.outsider, since)
        assert only_event(reg, receipt, "IssuerAdminReplaced") == {
            "issuerId": c.issuer_id, "oldAdmin": second, "newAdmin": c.outsider, "compromisedFrom": since,
            "proposalId": c.consortium.call(lambda f: f.proposalCount())}
        assert reg.call(lambda f: f.issuer(c.issuer_id))[2] == c.outsider

    def test_a_plain_replacement_voids_nothing(self, stolen: Consortium) -> None:
        c, reg = stolen, stolen.registry
        reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.FRAUD), c.issuer_admin)
        recover(c, 0)
        assert batch_status(c).batch_revocation.counts


class TestCancellations:
    def test_a_cancellation_reaches_at_most_the_horizon(self, consortium: Consortium) -> None:
        """``cancelSignedRequests(A, 2**40 - 1)`` voided every request the issuer would ever sign."""
        c, reg = consortium, consortium.registry
        for too_far in (2**40 - 1, c.now() + HORIZON + DAY):
            with pytest.raises(errors.RegistryInvalidCancellation):
                reg.transact(lambda f, d=too_far: f.cancelSignedRequests(c.issuer_id, d), c.issuer_admin)
        receipt = reg.transact(lambda f: f.cancelSignedRequests(c.issuer_id, c.now() + HORIZON), c.issuer_admin)
        at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        c.travel(60)
        late = c.anchor_request(Web3.keccak(text="signed after"), deadline=at + HORIZON + 1)
        reg.transact(lambda f: f.anchor(late.as_abi(), sign(late, c.domain, c.signing_key)), c.macao_operator)


class TestSquatting:
    def test_a_stolen_key_cannot_keep_its_issuers_pending_root(self, consortium: Consortium) -> None:
        """With K1, the thief anchors the root of a request K2 signed, with another leaf count; once K1 is
        reported compromised from before that, the genuine anchor takes the root (no re-salting, no re-delivery)."""
        c, reg = consortium, consortium.registry
        k2 = labelled_test_key("BNU signing key 2")
        add_key(c, "BNUMMOMX", c.issuer_admin, k2)
        root = Web3.keccak(text="a pending batch")
        genuine = c.anchor_request(root, leaf_count=16)
        signature = sign(genuine, c.domain, k2)
        stolen_at = c.now()
        c.travel(60)
        c.anchor(root, signer=c.signing_key, leaf_count=5)  # the squat, with the stolen K1
        with pytest.raises(errors.RegistryRootAlreadyAnchored):
            reg.transact(lambda f: f.anchor(genuine.as_abi(), signature), c.macao_operator)
        reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, stolen_at), c.issuer_admin)
        receipt = reg.transact(lambda f: f.anchorMany([genuine.as_abi()], [signature]), c.macao_operator)
        assert only_event(reg, receipt, "BatchAnchored")["signingKey"] == k2.address
        status = reg.document_status(c.issuer_id, root, ZERO)
        assert (status.signing_key, status.leaf_count, status.key_compromised_from) == (k2.address, 16, 0)
        with pytest.raises(errors.RegistryRootAlreadyAnchored):  # the genuine anchor holds its root
            reg.transact(lambda f: f.anchor(genuine.as_abi(), signature), c.macao_operator)

    def test_an_anchor_made_before_the_compromise_keeps_its_root(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        k2 = labelled_test_key("BNU signing key 2")
        add_key(c, "BNUMMOMX", c.issuer_admin, k2)
        root = Web3.keccak(text="anchored honestly")
        c.anchor(root, leaf_count=5)
        c.travel(60)
        reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, c.now()), c.issuer_admin)
        with pytest.raises(errors.RegistryRootAlreadyAnchored):
            c.anchor(root, signer=k2, leaf_count=16)


class TestTheRegulatorsView:
    def test_totals_count_a_replaced_squat_once_and_name_both_thefts(self, stolen: Consortium,
                                                                     tmp_path: Path) -> None:
        """The chain holds one anchor of a squatted root once the genuine one replaced it, and the regulator's
        totals say so; the squat and the stolen admin's revocation are anomalies."""
        c, reg = stolen, stolen.registry
        k2 = labelled_test_key("BNU signing key 2")
        add_key(c, "BNUMMOMX", c.issuer_admin, k2)
        root = Web3.keccak(text="a pending batch")
        genuine = c.anchor_request(root, leaf_count=16)
        signature = sign(genuine, c.domain, k2)
        theft = c.now()
        c.travel(60)
        c.anchor(root, signer=c.signing_key, leaf_count=5)
        reg.transact(lambda f: f.revokeBatch(ROOT, RevocationReason.FRAUD), c.issuer_admin)
        c.govern(ProposalKind.COMPROMISE_KEY, c.signing_key.address, theft)
        reg.transact(lambda f: f.anchor(genuine.as_abi(), signature), c.macao_operator)
        recover(c, theft)
        reader = RegulatorReader(reg, tmp_path / "audit.sqlite")
        reader.sync()
        report = Supervision(reader).report()
        assert report.by_issuer["BNUMMOMX"]["batches"] == 2  # ROOT and the genuine batch, not the squat
        assert report.by_issuer["BNUMMOMX"]["documents"] == len(DOCS) + 16
        kinds = {a["kind"] for a in report.anomalies}
        assert {"anchor_replaced", "anchor_in_compromised_window", "revocation_by_compromised_admin"} <= kinds
        assert "PredecessorRecorded" not in {g["event"] for g in report.governance}
        assert [g["compromisedFrom"] for g in report.governance if g["event"] == "IssuerAdminReplaced"]
