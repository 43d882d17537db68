"""What an issuer's round checks on chain: every unexpired anchor and revocation when something may have changed
them, else only the recent ones (crossverify.issuer.watch)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from crossverify import Bundle, VerifierClient, load_bundle
from crossverify.chain.records import ProposalKind, RevocationReason
from crossverify.issuer import watch
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal

from ..conftest import Consortium, add_key, deposit_certificates, labelled_test_key
from ..postgres import empty
from .test_issuance import asked_roots, client, steps


def deep_batches(journal: Journal, count: int) -> list[bytes]:
    """``count`` delivered batches valid for a long time, anchored in block 0 (as deep as can be), each with a
    document revocation kept, written straight into the journal; their roots."""
    roots = [os.urandom(32) for _ in range(count)]
    with journal.transaction() as db:
        db.executemany("INSERT INTO batches (issuer_id, doc_type, hash_alg, root, leaf_count, not_after, state, "
                       "sealed_at, documents, anchor_block) VALUES ('BNUMMOMX', 'DEPCERT', 1, ?, 1, 9999999999, "
                       "'delivered', 0, 1, 0)", [(root,) for root in roots])
        db.executemany("INSERT INTO revocations (issuer_id, target, batch_root, scope, reason) VALUES ('BNUMMOMX', "
                       "?, ?, 'document', 2)", [(os.urandom(32), root) for root in roots])
    return roots


def test_a_steady_round_asks_about_recent_anchors_only(consortium: Consortium, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a round checked everything, the next ones ask the chain about the anchors above the reorganisation window
    and the revocations kept since: beside 2,000 unexpired batches anchored deep, each with a revocation, as many
    SQLite steps as beside 20, and none of them asked about (every round used to ask about every unexpired batch
    and revocation)."""
    def round_cost(deep: int) -> int:
        (tmp_path / str(deep)).mkdir()
        issuer = client(consortium, tmp_path / str(deep))
        issuer.issue(deposit_certificates(consortium, 3))
        issuer.run()  # the pipeline's first round checks everything
        roots = deep_batches(issuer.journal, deep)
        with monkeypatch.context() as m:  # as if a full check had found them all held
            m.setattr(watch, "FULL_CHECK_EVERY", 0.0)
            issuer._watch.done(issuer._watch.scope(issuer.journal.revocations_kept))
        asked = asked_roots(monkeypatch)
        issuer.issue(deposit_certificates(consortium, 3, start=10))
        taken = steps(issuer.journal, issuer.run)
        assert asked and not set(roots) & set(asked)
        return taken

    small, large = round_cost(20), round_cost(2_000)
    assert large < small * 1.2, (small, large)


def test_what_may_have_changed_anything_makes_the_round_check_everything(consortium: Consortium, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    issuer.run()
    deep = deep_batches(issuer.journal, 3)

    def checks_everything() -> bool:
        scope = issuer._watch.scope(issuer.journal.revocations_kept)
        issuer._watch.done(scope)
        return scope.since is None

    assert not checks_everything()  # nothing happened
    issuer.issue(deposit_certificates(c, 3, start=10))
    issuer.run()
    assert not checks_everything()  # its own anchors: routine
    add_key(c, "BNUMMOMX", c.issuer_admin, labelled_test_key("a key the pipeline does not hold"))
    assert checks_everything()  # an act on the issuer's keys
    assert not checks_everything()
    thief = labelled_test_key("a thief's admitted key")
    add_key(c, "BNUMMOMX", c.issuer_admin, thief)
    assert checks_everything()
    c.anchor(Web3.keccak(text="a root a thief anchored"), signer=thief)
    assert checks_everything()  # an anchor of the issuer's by a key this pipeline does not hold
    shallow = c.w3.testing.snapshot()
    c.w3.testing.mine(3)
    assert not checks_everything()
    c.w3.testing.revert(shallow)  # a short reorganisation: another branch, with an act on the issuer in it
    add_key(c, "BNUMMOMX", c.issuer_admin, labelled_test_key("a key added on the other branch"))
    assert checks_everything()  # (its block is under the last round's head, which the branch replaced)
    fork = c.w3.testing.snapshot()
    c.w3.testing.mine(2 * watch.REORG_WINDOW)
    assert not checks_everything()
    assert not checks_everything()  # (the checkpoint now stands on a block the fork will take away)
    monkeypatch.setattr(watch, "FULL_CHECK_EVERY", 0.0)
    assert checks_everything()  # at least every FULL_CHECK_EVERY seconds
    monkeypatch.undo()
    c.w3.testing.revert(fork)
    assert checks_everything()  # the block the last full check stood on left the chain
    asked = asked_roots(monkeypatch)
    issuer.verify_anchors()
    assert set(deep) <= set(asked)  # a full check asks about every unexpired anchor


def test_an_anchor_deep_under_the_window_comes_back_after_a_deep_reorganisation(consortium: Consortium,
                                                                                 tmp_path: Path) -> None:
    """The reorganisation test of test_finality, with the anchor deeper than the window when its blocks go: the
    block the last full check stood on went with them, so the round checks everything and anchors it again."""
    c = consortium
    before_anchor = c.w3.testing.snapshot()
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 5))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    c.w3.testing.mine(2 * watch.REORG_WINDOW)
    assert issuer.run().reanchored == 0
    c.w3.testing.mine(2 * watch.REORG_WINDOW)
    assert issuer.run().reanchored == 0  # steady: the anchor is deep, and not asked about
    c.w3.testing.revert(before_anchor)
    c.w3.testing.mine(4 * watch.REORG_WINDOW + 10)  # a longer branch without the anchor
    again = issuer.run()
    assert (again.reanchored, again.anchored) == (1, 1)
    assert all(r.valid for r in VerifierClient(c.registry).verify_many(bundles))


def test_a_theft_found_out_long_after_the_anchor_it_replaced_is_undone_at_the_next_round(
        consortium: Consortium, tmp_path: Path) -> None:
    """test_stolen_admin's theft, with the genuine anchor deep under the window by the time the thief replaces it
    and by the time the consortium finds the thief out: the admin's replacement is an act on the issuer, so the
    next round checks everything and anchors the root again."""
    c, reg = consortium, consortium.registry
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    root = bundles[0].proof.batch_root
    c.w3.testing.mine(2 * watch.REORG_WINDOW)
    issuer.run()  # steady: the anchor is deep now
    c.travel(3600)
    theft = c.now()
    thief = labelled_test_key("a thief's key, long after the anchor")
    reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, 1), c.issuer_admin)
    add_key(c, "BNUMMOMX", c.issuer_admin, thief)
    c.anchor(root, signer=thief, leaf_count=7)
    c.w3.testing.mine(2 * watch.REORG_WINDOW)
    assert issuer.run().reanchored == 0  # (nothing says the thief's anchor is void yet)
    c.govern(ProposalKind.REPLACE_ISSUER_ADMIN, c.issuer_id, c.w3.eth.accounts[8], theft)
    c.w3.testing.mine(2 * watch.REORG_WINDOW)
    assert issuer.run().reanchored == 1
    assert reg.document_status(c.issuer_id, root, bytes(32)).signing_key == c.signing_key.address
    assert all(r.valid for r in VerifierClient(c.registry).verify_many(bundles))


def test_a_revocation_kept_while_a_full_check_begins_is_not_left_out(consortium: Consortium, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread revokes as a full check begins: the journal's position is read before the head, so the
    revocation is either after the position (checked every round) or mined under the round's head (a
    reorganisation that takes it away replaces that head: everything is checked)."""
    c = consortium
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    fork: list[Any] = []
    kept = issuer.journal.revocations_kept

    def revoked_meanwhile() -> int:
        if not fork:
            fork.append(c.w3.testing.snapshot())
            issuer.revoke(RevocationReason.FRAUD, reference="BNUMMOMX-000001")
        return kept()

    monkeypatch.setattr(issuer.journal, "revocations_kept", revoked_meanwhile)
    with monkeypatch.context() as m:
        m.setattr(watch, "FULL_CHECK_EVERY", 0.0)
        issuer.run()
    c.w3.testing.revert(fork[0])  # the block holding the revocation goes
    c.w3.testing.mine(3)
    assert issuer.run().restored == 1
    assert [r.valid for r in VerifierClient(c.registry).verify_many(bundles)] == [True, False, True]


def test_the_pipelines_own_anchors_stay_routine_after_a_key_rotation(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = client(c, tmp_path, sender=c.issuer_admin)
    issuer.issue(deposit_certificates(c, 3))
    issuer.run()
    issuer.rotate_key(labelled_test_key("the pipeline's next key"))
    issuer.issue(deposit_certificates(c, 1, start=100))
    issuer.run()  # (the rotation named the issuer: this round checks everything)
    issuer.issue(deposit_certificates(c, 1, start=101))
    issuer.run()  # anchored with the new key
    scope = issuer._watch.scope(issuer.journal.revocations_kept)
    assert scope.since is not None  # its own anchor: routine


def delivered_then_revoked(c: Consortium, tmp_path: Path) -> tuple[IssuerClient, list[Bundle], Any]:
    """A pipeline that delivered 3 certificates, then revoked the second for fraud; their bundles, and a snapshot
    of the chain before the revocation."""
    issuer = client(c, tmp_path)
    issuer.issue(deposit_certificates(c, 3))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    before_revoke = c.w3.testing.snapshot()
    issuer.revoke(RevocationReason.FRAUD, reference="BNUMMOMX-000001")
    return issuer, bundles, before_revoke


def test_a_revocation_sent_again_by_a_full_round_is_checked_until_a_round_stands_on_it(
        consortium: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full round sends a lost revocation again: it is mined above the round's head, under journal positions the
    round's checkpoint covers. A short reorganisation that takes only that block away replaces neither the head nor
    the checkpoint's block: the next round checks everything again, so it is sent once more."""
    c = consortium
    issuer, bundles, before_revoke = delivered_then_revoked(c, tmp_path)
    c.w3.testing.revert(before_revoke)  # the revocation's block goes; the journal keeps it
    c.w3.testing.mine(3)
    before_full = c.w3.testing.snapshot()
    with monkeypatch.context() as m:
        m.setattr(watch, "FULL_CHECK_EVERY", 0.0)
        assert issuer.run().restored == 1  # sent again, above this round's head
    c.w3.testing.revert(before_full)  # only the blocks above that head go
    c.w3.testing.mine(3)
    assert issuer.run().restored == 1
    assert [r.valid for r in VerifierClient(c.registry).verify_many(bundles)] == [True, False, True]
    assert issuer.run().restored == 0


def test_the_revocation_position_waits_for_one_being_kept(postgres_url: str) -> None:
    """The journal's position covers every revocation kept by then: one another replica is keeping (on PostgreSQL,
    its identity value taken, not committed yet) is waited for, not passed over by a later one's higher position.
    (On SQLite one process writes the journal, and its reads wait for its transactions.)"""
    journal, other = Journal(postgres_url), Journal(postgres_url)
    keeping, later = threading.Event(), threading.Event()
    read: list[int] = []

    def kept_by_another() -> None:
        with other.transaction() as db:
            db.execute("INSERT INTO revocations (issuer_id, target, batch_root, scope, reason) VALUES ('BNUMMOMX', ?, "
                       "?, 'document', 2)", (os.urandom(32), os.urandom(32)))
            keeping.set()
            later.wait(10)

    writer = threading.Thread(target=kept_by_another)
    writer.start()
    assert keeping.wait(10)
    reader = threading.Thread(target=lambda: read.append(journal.revocations_kept()))
    reader.start()
    reader.join(0.3)
    alive = reader.is_alive()  # waiting for the one being kept
    later.set()
    writer.join(10)
    reader.join(10)
    [(position,)] = journal.store.db.execute("SELECT MAX(rowid) FROM revocations").fetchall()
    journal.close()
    other.close()
    empty(postgres_url)
    assert alive and read == [position]


def test_a_key_reported_compromised_during_a_full_round_is_answered_in_that_round(
        consortium: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full round checks every document's revocation before anchoring, and after it only whole batches', unless
    the chain changed under the round: a key reported compromised meanwhile voids the revocations it signed, and
    the same round sends them again (one round of an `issuer run` from cron is all a process does)."""
    c = consortium
    issuer = client(c, tmp_path, sender=c.issuer_admin)
    issuer.issue(deposit_certificates(c, 3))
    bundles = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    c.travel(60)
    old_key = issuer.signer.address
    issuer.revoke(RevocationReason.FRAUD, reference="BNUMMOMX-000001")  # signed by the old key
    revoked_at = c.registry.document_status(c.issuer_id, bundles[1].proof.batch_root,
                                            bundles[1].document_digest()).document_revocation.revoked_at
    issuer.rotate_key(labelled_test_key("the pipeline's next key"))
    issuer.run()
    issuer.issue(deposit_certificates(c, 2, start=10))

    def compromise(point: str) -> None:
        if point == "before_deliver":  # between the round's two checks
            issuer.report_compromised(old_key, revoked_at)

    monkeypatch.setattr(issuer, "_fault", compromise)
    monkeypatch.setattr(watch, "FULL_CHECK_EVERY", 0.0)
    assert issuer.run().restored == 1
    assert [r.valid for r in VerifierClient(c.registry).verify_many(bundles)] == [True, False, True]


def test_a_revocation_a_reorganisation_takes_during_a_full_round_is_restored_in_that_round(
        consortium: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A document's revocation held when a full round checked it, taken away by a reorganisation before the round
    ended, goes back on chain in the same round."""
    c = consortium
    issuer, bundles, before_revoke = delivered_then_revoked(c, tmp_path)
    c.w3.testing.mine(3)
    issuer.issue(deposit_certificates(c, 2, start=10))

    def reorganise(point: str) -> None:
        if point == "before_sign":  # after the round's first check
            c.w3.testing.revert(before_revoke)
            c.w3.testing.mine(6)

    monkeypatch.setattr(issuer, "_fault", reorganise)
    monkeypatch.setattr(watch, "FULL_CHECK_EVERY", 0.0)
    assert issuer.run().restored == 1
    assert [r.valid for r in VerifierClient(c.registry).verify_many(bundles)] == [True, False, True]
