"""The issuer pipeline in a GM-suite deployment, end to end on the embedded chain: SM3 batches signed with SM2,
anchored through the registry's SM2 path, delivered, verified by a bank that reads the suite from the chain,
revoked by a relayed SM2 signature; a new SM2 key registered with its proof of possession."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify import RevocationReason
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.suite import Suite
from crossverify.issuer import client
from crossverify.issuer.client import MAX_ANCHORS_PER_TX, MAX_SM2_ANCHORS_PER_TX, IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.keys.sm2 import LocalSM2Key
from crossverify.verifier.client import VerifierClient

from ..conftest import Consortium, deposit_certificates


def _client(c: Consortium, tmp_path: Path, signer: LocalSM2Key, sender: str) -> IssuerClient:
    return IssuerClient(c.registry, "BNUMMOMX", signer, sender, Journal(tmp_path / "journal.sqlite"),
                        tmp_path / "bundles", hash_alg=HashAlgorithm.SM3)


def test_a_gm_issuer_anchors_delivers_and_revokes_and_a_bank_verifies(
        gm_consortium: Consortium, tmp_path: Path) -> None:
    c = gm_consortium
    assert c.sm2_key is not None
    issuer = _client(c, tmp_path, c.sm2_key, c.macao_operator)
    certificates = deposit_certificates(c, 24)
    issuer.issue(certificates)
    report = issuer.run(max_batch=10)
    assert (report.sealed, report.anchored, report.transactions, len(report.delivered)) == (3, 3, 1, 24)

    bank = VerifierClient(c.registry)
    assert bank.suite is Suite.GM
    files = [issuer.bundle_path(reference).read_bytes() for reference, _ in certificates]
    reports = bank.verify_many(files)
    assert all(r.valid for r in reports), [r.failed for r in reports if not r.valid]
    assert {r.check("suite_matches").detail for r in reports} == {"the gm crypto suite"}
    statuses = c.registry.document_statuses([(c.issuer_id, r.bundle.proof.batch_root, r.document_digest or b"")
                                             for r in reports if r.bundle is not None])
    assert {s.signing_key for s in statuses} == {c.sm2_key.address} and {s.hash_alg for s in statuses} == {3}

    issuer.revoke(RevocationReason.FRAUD, reference=certificates[0][0])
    revoked = bank.verify(files[0])
    assert not revoked.valid and "fraud" in revoked.check("not_revoked").detail
    assert bank.verify(files[1]).valid


def test_a_gm_issuers_admin_adds_an_sm2_key_that_then_signs(gm_consortium: Consortium, tmp_path: Path) -> None:
    c = gm_consortium
    assert c.sm2_key is not None
    admin = _client(c, tmp_path, c.sm2_key, c.issuer_admin)
    fresh = LocalSM2Key.labelled("crossverify test key: BNU SM2 signing key 3")
    admin.add_key(fresh)
    assert c.registry.call(lambda f: f.issuerKeys(c.issuer_id))[-1] == fresh.address
    admin.retire_key(c.sm2_key.address)

    issuer = _client(c, tmp_path / "rotated", fresh, c.macao_operator)
    certificates = deposit_certificates(c, 3)
    issuer.issue(certificates)
    assert len(issuer.run().delivered) == 3
    assert VerifierClient(c.registry).verify(issuer.bundle_path(certificates[0][0]).read_bytes()).valid


def test_sm2_anchors_go_in_transactions_their_gas_allows(gm_consortium: Consortium, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An SM2 anchor costs about eight secp256k1 anchors: the GM client sends fewer per transaction."""
    c = gm_consortium
    assert c.sm2_key is not None and MAX_SM2_ANCHORS_PER_TX * 312_000 < 16_777_216 < MAX_ANCHORS_PER_TX * 312_000
    monkeypatch.setattr(client, "MAX_SM2_ANCHORS_PER_TX", 2)
    issuer = _client(c, tmp_path, c.sm2_key, c.macao_operator)
    issuer.issue(deposit_certificates(c, 5))
    report = issuer.run(max_batch=2)
    assert (report.anchored, report.transactions, len(report.delivered)) == (3, 2, 5)
