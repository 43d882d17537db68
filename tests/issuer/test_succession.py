"""Registry succession: the consortium of a new registry records by quorum that it succeeds an earlier one (a
rebuilt network, or a new version of the contracts); the issuer moves its journal there (``rebind``), anchors the
same roots and sends its revocations again; banks reading the successor accept the files residents hold, which
name the predecessor, and say so in the ``registry_succession`` check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crossverify import Bundle, VerifierClient, errors, load_bundle
from crossverify.chain.consortium import deploy_consortium, encode_payload
from crossverify.chain.records import ProposalKind, RevocationReason
from crossverify.chain.typed_data import Domain
from crossverify.errors import StoreChainMismatch, SuccessionNotRecorded
from crossverify.format.certificate import Certificate, DocumentHeader
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.verifier.client import Outcome, VerificationReport

from ..capped_logs import cap_log_ranges
from ..conftest import Consortium, admit_issuer, deposit_certificates
from .test_issuance import client


def successor(c: Consortium, *, record: bool = True) -> Consortium:
    """A second consortium on the same chain (the next version of the contracts), BNU admitted with the same signing
    key; with ``record``, its registry records the first one as its predecessor, by quorum."""
    accounts = c.w3.eth.accounts
    consortium, registry, circulation = deploy_consortium(c.w3, accounts[0], [(accounts[0], "MO"),
                                                                               (accounts[1], "GD")])
    new = replace(c, consortium=consortium, registry=registry, circulation=circulation, domain=Domain.of(registry))
    admit_issuer(new, "BNUMMOMX", new.issuer_admin, [new.signing_key], ["DEPCERT", "ACCTSTMT"])
    if record:
        new.govern(ProposalKind.RECORD_PREDECESSOR, c.w3.eth.chain_id, c.registry.address)
    return new


def moved(c: Consortium, tmp_path: Path) -> IssuerClient:
    """The issuer's pipeline configured for ``c``'s registry, over the journal it kept so far."""
    return IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.macao_operator, Journal(tmp_path / "journal.sqlite"),
                        tmp_path / "bundles")


def delivered(c: Consortium, tmp_path: Path, count: int) -> list[Bundle]:
    """``count`` certificates issued and anchored on ``c``'s registry: the files residents hold."""
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, count))
    held = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    issuer.journal.close()
    return held


def check(report: VerificationReport, name: str) -> tuple[Outcome, str]:
    [found] = [(x.outcome, x.detail) for x in report.checks if x.name == name]
    return found


def test_a_journal_follows_a_recorded_successor_and_residents_keep_their_files(consortium: Consortium,
                                                                                tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 5))
    held = [p.read_bytes() for p in issuer.run().delivered]  # the files residents keep
    issuer.revoke(RevocationReason.WITHDRAWN, reference="BNUMMOMX-000001")
    issuer.journal.close()
    bundles = [load_bundle(b) for b in held]
    new = successor(c)
    bank = VerifierClient(new.registry)
    assert not any(r.valid for r in bank.verify_many(bundles))  # recorded, but the roots are not anchored there yet

    pipeline = moved(new, tmp_path)
    left = pipeline.rebind()
    assert left["registry"] == c.registry.address
    assert pipeline.journal.store.binding()["registry"] == new.registry.address
    report = pipeline.run()
    assert (report.anchored, report.restored) == (1, 1)  # the same root, and the revocation sent again
    reports = bank.verify_many(bundles)
    assert [r.valid for r in reports] == [True, False, True, True, True]
    assert check(reports[0], "registry_matches")[0] is Outcome.PASSED
    outcome, detail = check(reports[0], "registry_succession")
    assert outcome is Outcome.PASSED and c.registry.address in detail and new.registry.address in detail
    assert check(reports[1], "not_revoked")[0] is Outcome.FAILED
    assert [load_bundle(p.read_bytes()).registry for p in sorted((tmp_path / "bundles").rglob("*.json"))] == \
        [new.registry.address] * 5  # bundles written anew name the successor; the old ones verify through it
    assert pipeline.rebind() == {} and pipeline.run().transactions == 0  # moving twice moves nothing

    direct = VerifierClient(c.registry).verify_many(bundles)[0]  # the predecessor still answers for itself
    assert direct.valid and check(direct, "registry_succession")[0] is Outcome.NOT_APPLICABLE


def test_a_running_bank_follows_a_succession_recorded_after_it_started(consortium: Consortium, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    held = delivered(c, tmp_path, 2)
    new = successor(c, record=False)
    bank = VerifierClient(new.registry)
    reads: list[str] = []
    real = type(new.registry).predecessors
    monkeypatch.setattr(type(new.registry), "predecessors", lambda self: reads.append(self.address) or real(self))
    assert not any(r.valid for r in bank.verify_many(held)) and len(reads) == 1
    new.govern(ProposalKind.RECORD_PREDECESSOR, c.w3.eth.chain_id, c.registry.address)
    pipeline = moved(new, tmp_path)
    pipeline.rebind()
    pipeline.run()
    reads.clear()
    assert not any(r.valid for r in bank.verify_many(held)) and not reads  # read again a minute later at most
    monkeypatch.setattr("crossverify.verifier.client.SUCCESSIONS_REREAD", 0.0)
    assert all(r.valid for r in bank.verify_many(held)) and len(reads) == 1
    assert all(r.valid for r in bank.verify_many(held)) and len(reads) == 1  # known now: not read again


def test_no_journal_moves_to_a_registry_that_does_not_record_the_succession(consortium: Consortium,
                                                                            tmp_path: Path) -> None:
    c = consortium
    held = delivered(c, tmp_path, 2)
    stranger = successor(c, record=False)
    pipeline = moved(stranger, tmp_path)
    with pytest.raises(SuccessionNotRecorded, match="operator propose predecessor"):
        pipeline.rebind()
    with pytest.raises(StoreChainMismatch):  # still bound to the registry it came from
        pipeline.run()
    [report] = VerifierClient(stranger.registry).verify_many(held[:1])
    assert check(report, "registry_matches")[0] is Outcome.FAILED and "does not succeed it" in \
        check(report, "registry_matches")[1]


def test_a_predecessor_is_recorded_once_and_only_by_quorum(consortium: Consortium) -> None:
    c = consortium
    new = successor(c)
    assert [(chain_id, registry) for chain_id, registry, _ in new.registry.predecessors()] == \
        [(c.w3.eth.chain_id, c.registry.address)]
    for chain_id, registry in ((c.w3.eth.chain_id, c.registry.address), (0, c.registry.address),
                               (2**53, c.registry.address), (c.w3.eth.chain_id, "0x" + "00" * 20)):
        with pytest.raises(errors.RegistryInvalidPredecessor):  # twice, no chain, beyond 2^53 - 1, no address
            new.govern(ProposalKind.RECORD_PREDECESSOR, chain_id, registry)
    with pytest.raises(errors.ContractRevert):
        new.registry.transact(lambda f: f.execute(int(ProposalKind.RECORD_PREDECESSOR), encode_payload(
            ProposalKind.RECORD_PREDECESSOR, 1, c.outsider), 1), c.outsider)  # only its consortium executes


def test_a_revoked_document_never_verifies_on_the_successor(consortium: Consortium, tmp_path: Path) -> None:
    """Its revocation reaches the successor before its root does: a run stopped between the two (here right after
    the anchors were mined) leaves no moment in which a bank reading the successor accepts the revoked file."""
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    issuer.revoke(RevocationReason.FRAUD, reference="BNUMMOMX-000001")
    issuer.journal.close()
    new = successor(c)

    def crash_after_anchoring(point: str) -> None:
        if point == "after_receipt":
            raise RuntimeError(point)

    pipeline = IssuerClient(new.registry, "BNUMMOMX", new.signing_key, new.macao_operator,
                            Journal(tmp_path / "journal.sqlite"), tmp_path / "bundles", faults=crash_after_anchoring)
    pipeline.rebind()
    with pytest.raises(RuntimeError):
        pipeline.run()
    assert [r.valid for r in VerifierClient(new.registry).verify_many(bundles)] == [True, False, True]


@pytest.mark.parametrize("capped", [False, True], ids=["node", "node capping log ranges"])
def test_revocations_sent_outside_the_journal_follow_it_to_the_successor(consortium: Consortium, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capped: bool) -> None:
    """The admin revoked a document and a batch from its own wallet (not through the journal); the predecessor on the
    same chain still holds them, so the move takes them along: the successor refuses both. On a node that answers
    ``eth_getLogs`` over 25 blocks at most, the move reads the predecessor's revocations span by span."""
    c = consortium
    answered = cap_log_ranges(monkeypatch, c.w3, 25) if capped else []
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 2))
    first = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    issuer.issue(deposit_certificates(c, 2, start=3))
    second = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    c.registry.transact(lambda f: f.revokeDocument(first[0].document_digest(), RevocationReason.FRAUD), c.issuer_admin)
    c.registry.transact(lambda f: f.revokeBatch(second[0].proof.batch_root, RevocationReason.WITHDRAWN), c.issuer_admin)
    issuer.journal.close()
    new = successor(c)
    pipeline = moved(new, tmp_path)
    pipeline.rebind()
    assert pipeline.run().restored == 2
    assert [r.valid for r in VerifierClient(new.registry).verify_many(first + second)] == [False, True, False, False]
    assert not capped or any(low == 0 for low, _ in answered)  # read from the chain's first block, in spans


def test_a_journal_moves_without_its_expired_batches(consortium: Consortium, tmp_path: Path) -> None:
    """A batch that expired on the predecessor stays as it was: the successor would refuse its anchor (and, in one
    anchorMany with the others, theirs: every run failed), and its documents fail verification anyway."""
    c = consortium
    issuer = client(c, tmp_path)
    now = c.now()
    brief = DocumentHeader("DEPCERT", "BNUMMOMX", now, now - 86400, now + 3600)
    issuer.issue([("BNUMMOMX-BRIEF", Certificate(brief, {"holder_name": "CHAN Tai Man", "balance_mop": 1}))])
    [expired] = [p.read_bytes() for p in issuer.run().delivered]
    issuer.issue(deposit_certificates(c, 2, start=10))
    issuer.run()
    issuer.journal.close()
    c.travel(7200)
    new = successor(c)
    pipeline = moved(new, tmp_path)
    pipeline.rebind()
    report = pipeline.run()
    assert (report.anchored, len(report.delivered)) == (1, 2)
    assert pipeline.journal.counts("BNUMMOMX") == {"pending": 0, "delivered": 3}  # the expired one as it was
    assert not VerifierClient(new.registry).verify(load_bundle(expired)).valid


def test_an_expired_batch_not_delivered_yet_is_not_delivered_naming_the_successor(consortium: Consortium,
                                                                                 tmp_path: Path) -> None:
    """A batch anchored on the predecessor, waiting for confirmations when it expired, goes back to sealed at the
    move and stays there, lapsed: delivered, its bundles would name the successor, which never held its root."""
    c = consortium
    issuer = client(c, tmp_path, confirmations=3)
    now = c.now()
    brief = DocumentHeader("DEPCERT", "BNUMMOMX", now, now - 86400, now + 3600)
    issuer.issue([("BNUMMOMX-BRIEF", Certificate(brief, {"holder_name": "CHAN Tai Man", "balance_mop": 1}))])
    report = issuer.run()
    assert report.anchored == 1 and not report.delivered  # anchored, waiting for depth
    issuer.journal.close()
    c.travel(7200)
    new = successor(c)
    pipeline = IssuerClient(new.registry, "BNUMMOMX", c.signing_key, c.macao_operator,
                            Journal(tmp_path / "journal.sqlite"), tmp_path / "bundles", confirmations=3)
    pipeline.rebind()
    c.w3.testing.mine(5)
    report = pipeline.run()
    assert (report.anchored, report.delivered, report.transactions, report.lapsed) == (0, [], 0, 1)
    assert pipeline.journal.counts("BNUMMOMX") == {"pending": 0, "lapsed": 1}

