"""The holes an adversarial review found in version 1, each with the attack that worked there and fails now."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from web3 import Web3

from crossverify import errors
from crossverify.chain.records import ProposalKind, RevocationReason
from crossverify.chain.typed_data import Domain, RevocationRequest, key_proof, sign
from crossverify.format.bundle import load_bundle
from crossverify.format.codes import issuer_id_code
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import BatchState, Journal
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Filters, Supervision
from crossverify.verifier.client import Outcome, VerifierClient

from ..conftest import Consortium, add_key, admit_issuer, deposit_certificates, labelled_test_key
from .helpers import events

ZERO = b"\0" * 32
OTHER = "ICBKMOMX"


@pytest.fixture
def rival(consortium: Consortium) -> Consortium:
    """A second issuer, ICBKMOMX, administered by the outsider account with its own key."""
    admit_issuer(consortium, OTHER, consortium.outsider, [labelled_test_key("ICBC key")], ["DEPCERT"])
    return consortium


def issuer_client(c: Consortium, tmp_path: Path, sender: str | None = None) -> IssuerClient:
    return IssuerClient(c.registry, "BNUMMOMX", c.signing_key, sender or c.macao_operator,
                        Journal(tmp_path / "j.sqlite"), tmp_path / "bundles")


@contextmanager
def one_block(c: Consortium) -> Iterator[None]:
    """Send everything inside into the same block (mined at the end)."""
    tester = c.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.disable_auto_mine_transactions()
    try:
        yield
    finally:
        tester.enable_auto_mine_transactions()


class TestRootSquatting:
    def test_another_issuer_cannot_squat_a_root(self, rival: Consortium, tmp_path: Path) -> None:
        """v1: B anchored A's root first, A's anchor reverted and every document of A's batch failed."""
        c = rival
        issuer = issuer_client(c, tmp_path)
        issuer.issue(deposit_certificates(c, 4))
        issuer.seal()
        root = issuer.journal.batches("BNUMMOMX", *BatchState)[0].root
        squat = c.anchor_request(root, leaf_count=4)
        c.registry.transact(lambda f: f.anchor(squat.as_abi(), sign(squat, c.domain, labelled_test_key("ICBC key"))),
                            c.outsider)
        report = issuer.run()
        assert report.anchored == 1
        bundle = load_bundle(report.delivered[0].read_bytes())
        assert VerifierClient(c.registry).verify(bundle).valid
        with pytest.raises(errors.RegistryUnknownBatch):  # B's admin revokes only B's own record of the root
            c.registry.transact(lambda f: f.revokeBatch(ZERO, RevocationReason.FRAUD), c.outsider)
        c.registry.transact(lambda f: f.revokeBatch(root, RevocationReason.FRAUD), c.outsider)
        assert VerifierClient(c.registry).verify(bundle).valid

    def test_issuer_client_checks_the_anchor_it_finds_is_its_own(self, consortium: Consortium,
                                                                 tmp_path: Path) -> None:
        """v1 marked a batch anchored when any anchor existed for its root."""
        c = consortium
        issuer = issuer_client(c, tmp_path)
        issuer.issue(deposit_certificates(c, 4))
        issuer.seal()
        issuer.sign()
        root = issuer.journal.batches("BNUMMOMX", *BatchState)[0].root
        c.anchor(root, leaf_count=5)  # this issuer's key signed another record for the root
        with pytest.raises(errors.AnchorMismatch):
            issuer.anchor()


class TestProofOfPossession:
    def test_nobody_registers_another_institutions_key(self, rival: Consortium) -> None:
        """v1: B's admin registered a newcomer's key first; the newcomer's admission then reverted."""
        c = rival
        newcomer = labelled_test_key("newcomer key")
        stolen_proof = key_proof(issuer_id_code(OTHER), labelled_test_key("ICBC key"), c.domain)
        with pytest.raises(errors.RegistryInvalidKeyProof) as raised:
            c.registry.transact(lambda f: f.addSigningKey(issuer_id_code(OTHER), newcomer.address, stolen_proof),
                                c.outsider)
        assert raised.value.args_by_name["key"] == newcomer.address
        # A proof the newcomer gave its own issuer cannot be replayed for another issuer, or another registry.
        own_proof = key_proof(c.issuer_id, newcomer, c.domain)
        with pytest.raises(errors.RegistryInvalidKeyProof):
            c.registry.transact(lambda f: f.addSigningKey(issuer_id_code(OTHER), newcomer.address, own_proof),
                                c.outsider)
        elsewhere = Domain(c.domain.name, c.domain.version, c.domain.chain_id, c.consortium.address)
        with pytest.raises(errors.RegistryInvalidKeyProof):
            c.registry.transact(lambda f: f.addSigningKey(
                c.issuer_id, newcomer.address, key_proof(c.issuer_id, newcomer, elsewhere)), c.issuer_admin)
        add_key(c, "BNUMMOMX", c.issuer_admin, newcomer)
        assert c.registry.call(lambda f: f.signingKey(newcomer.address))[0] == c.issuer_id


class TestStolenKeyRevocations:
    def test_revocation_signed_after_the_compromise_does_not_count(self, consortium: Consortium,
                                                                   tmp_path: Path) -> None:
        """v1: a thief revoked every batch as FRAUD, irreversibly, and no record named the key."""
        c = consortium
        issuer = issuer_client(c, tmp_path)
        issuer.issue(deposit_certificates(c, 4))
        bundle = load_bundle(sorted(issuer.run().delivered)[0].read_bytes())
        root, digest = bundle.proof.batch_root, bundle.document_digest()
        stolen_at = c.travel(60)
        c.travel(60)
        for request in (RevocationRequest(root, ZERO, RevocationReason.FRAUD, c.now() + 600),
                        RevocationRequest(ZERO, digest, RevocationReason.FRAUD, c.now() + 600)):
            receipt = c.registry.transact(lambda f, r=request: f.revokeBySignature(
                r.as_abi(), sign(r, c.domain, c.signing_key)), c.outsider)
            assert events(c.registry, receipt)[0][1]["signingKey"] == c.signing_key.address
        assert not VerifierClient(c.registry).verify(bundle).valid
        c.registry.transact(lambda f: f.markKeyCompromised(c.signing_key.address, stolen_at), c.issuer_admin)

        status = c.registry.document_status(c.issuer_id, root, digest)
        assert status.batch_revocation.void and status.document_revocation.void
        assert status.batch_revocation.signing_key == c.signing_key.address
        check = VerifierClient(c.registry).verify(bundle).check("not_revoked")
        assert check.outcome is Outcome.PASSED and "does not count" in check.detail

        reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite")
        reader.sync()
        flagged = Supervision(reader).rows("anomalies", Filters(kind="revocation_by_compromised_key"))
        assert {a["details"]["scope"] for a in flagged} == {"batch", "document"}

        # The issuer revokes properly now; that revocation counts and is final.
        c.registry.transact(lambda f: f.revokeDocument(digest, RevocationReason.WITHDRAWN), c.issuer_admin)
        assert VerifierClient(c.registry).verify(bundle).check("not_revoked").outcome is Outcome.FAILED
        with pytest.raises(errors.RegistryDocumentAlreadyRevoked):
            c.registry.transact(lambda f: f.revokeDocument(digest, RevocationReason.FRAUD), c.issuer_admin)

    def test_revocation_signed_before_the_compromise_still_counts(self, consortium: Consortium) -> None:
        c = consortium
        c.anchor(Web3.keccak(text="batch"))
        request = RevocationRequest(Web3.keccak(text="batch"), ZERO, RevocationReason.WITHDRAWN, c.now() + 600)
        c.registry.transact(lambda f: f.revokeBySignature(request.as_abi(), sign(request, c.domain, c.signing_key)),
                            c.macao_operator)
        c.travel(60)
        c.registry.transact(lambda f: f.markKeyCompromised(c.signing_key.address, c.now()), c.issuer_admin)
        status = c.registry.document_status(c.issuer_id, Web3.keccak(text="batch"), ZERO)
        assert status.batch_revocation.counts
        with pytest.raises(errors.RegistryBatchAlreadyRevoked):
            c.registry.transact(lambda f: f.revokeBatch(Web3.keccak(text="batch"), RevocationReason.FRAUD),
                                c.issuer_admin)


class TestSameBlockBoundaries:
    def test_anchor_and_key_retirement_in_one_block(self, consortium: Consortium, tmp_path: Path) -> None:
        """v1 accepted the anchor but keyValidAt(anchoredAt) said false: the batch failed for ever."""
        c = consortium
        issuer = issuer_client(c, tmp_path)
        issuer.issue(deposit_certificates(c, 2))
        issuer.seal()
        issuer.sign()
        batch = issuer.journal.batches("BNUMMOMX", *BatchState)[0]
        request = issuer._request(batch, batch.deadline or 0)
        signature = (batch.signature or b"")[:32], (batch.signature or b"")[32:]
        with one_block(c):
            anchored = c.registry.submit(lambda f: f.anchor(request.as_abi(), signature), c.macao_operator)
            retired = c.registry.submit(lambda f: f.retireSigningKey(c.signing_key.address), c.issuer_admin)
            c.w3.provider.ethereum_tester.mine_blocks()  # type: ignore[attr-defined]
        assert c.registry.wait(anchored)["blockNumber"] == c.registry.wait(retired)["blockNumber"]
        status = c.registry.document_status(c.issuer_id, batch.root, ZERO)
        assert status.key_retired_at == status.anchored_at
        assert c.registry.call(lambda f: f.keyValidAt(c.issuer_id, c.signing_key.address, status.anchored_at))
        issuer.anchor()
        bundle = load_bundle(sorted(issuer.deliver())[0].read_bytes())
        assert VerifierClient(c.registry).verify(bundle).valid

    def test_anchor_and_issuer_suspension_in_one_block(self, consortium: Consortium) -> None:
        c = consortium
        root = Web3.keccak(text="same block")
        request = c.anchor_request(root)
        signature = sign(request, c.domain, c.signing_key)
        c.propose(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
        pid = c.consortium.call(lambda f: f.proposalCount())
        with one_block(c):
            c.registry.submit(lambda f: f.anchor(request.as_abi(), signature), c.macao_operator)
            c.consortium.submit(lambda f: f.approve(pid), c.guangdong_operator)
            c.w3.provider.ethereum_tester.mine_blocks()  # type: ignore[attr-defined]
        status = c.registry.document_status(c.issuer_id, root, ZERO)
        assert status.anchored and status.issuer_active_at_anchor
        assert c.registry.call(lambda f: f.issuerActiveAt(c.issuer_id, status.anchored_at))
        assert not c.registry.call(lambda f: f.issuerActiveAt(c.issuer_id, status.anchored_at + 1))


class TestCancellation:
    def test_cancelled_requests_are_void(self, consortium: Consortium) -> None:
        """v1: a signed request could not be withdrawn before its deadline, and deadlines had no bound."""
        c = consortium
        root = Web3.keccak(text="withdrawn before sending")
        pending = c.anchor_request(root)
        revocation = RevocationRequest(ZERO, Web3.keccak(text="doc"), RevocationReason.FRAUD, pending.deadline)
        receipt = c.registry.transact(lambda f: f.cancelSignedRequests(c.issuer_id, pending.deadline), c.issuer_admin)
        assert events(c.registry, receipt) == [("SignedRequestsCancelled", {
            "issuerId": c.issuer_id, "actor": c.issuer_admin, "deadlineUpTo": pending.deadline})]
        with pytest.raises(errors.RegistrySignatureCancelled):
            c.registry.transact(lambda f: f.anchor(pending.as_abi(), sign(pending, c.domain, c.signing_key)),
                                c.macao_operator)
        with pytest.raises(errors.RegistrySignatureCancelled):
            c.registry.transact(lambda f: f.revokeBySignature(
                revocation.as_abi(), sign(revocation, c.domain, c.signing_key)), c.macao_operator)
        c.anchor(root, deadline=pending.deadline + 1)
        with pytest.raises(errors.RegistryInvalidCancellation):
            c.registry.transact(lambda f: f.cancelSignedRequests(c.issuer_id, pending.deadline), c.issuer_admin)
        with pytest.raises(errors.RegistryNotIssuerAdmin):
            c.registry.transact(lambda f: f.cancelSignedRequests(c.issuer_id, pending.deadline + 9), c.outsider)

    def test_deadline_horizon(self, consortium: Consortium) -> None:
        c = consortium
        c.w3.testing.mine()  # the session's last block may be minutes old on a busy machine: read the clock afresh
        horizon = c.registry.call(lambda f: f.MAX_DEADLINE_HORIZON())
        assert horizon == 7 * 86400
        with pytest.raises(errors.RegistryDeadlineTooFar):
            c.anchor(Web3.keccak(text="far"), deadline=c.now() + horizon + 100)
        far = RevocationRequest(ZERO, Web3.keccak(text="doc"), RevocationReason.FRAUD, c.now() + horizon + 100)
        with pytest.raises(errors.RegistryDeadlineTooFar):
            c.registry.transact(lambda f: f.revokeBySignature(far.as_abi(), sign(far, c.domain, c.signing_key)),
                                c.macao_operator)


class TestAnchorManySkips:
    def test_root_already_anchored_identically_is_skipped(self, consortium: Consortium) -> None:
        """v1: another operator relaying the same signed request first reverted the whole anchorMany."""
        c, reg = consortium, consortium.registry
        first = c.anchor_request(Web3.keccak(text="relayed twice"))
        first_signature = sign(first, c.domain, c.signing_key)
        reg.transact(lambda f: f.anchor(first.as_abi(), first_signature), c.guangdong_operator)
        second = c.anchor_request(Web3.keccak(text="new"))
        receipt = reg.transact(lambda f: f.anchorMany(
            [first.as_abi(), second.as_abi()], [first_signature, sign(second, c.domain, c.signing_key)]),
            c.macao_operator)
        assert [a["batchRoot"] for _, a in events(reg, receipt)] == [second.batch_root]
        with pytest.raises(errors.RegistryRootAlreadyAnchored):  # a single anchor still says so
            reg.transact(lambda f: f.anchor(first.as_abi(), first_signature), c.macao_operator)

    def test_a_different_record_still_reverts(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        c.anchor(Web3.keccak(text="root"), leaf_count=16)
        other = c.anchor_request(Web3.keccak(text="root"), leaf_count=17)
        with pytest.raises(errors.RegistryRootAlreadyAnchored):
            reg.transact(lambda f: f.anchorMany([other.as_abi()], [sign(other, c.domain, c.signing_key)]),
                         c.macao_operator)
