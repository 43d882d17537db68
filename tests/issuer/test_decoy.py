"""One-document batches: anchored under a decoy leaf, never under the document digest; and a batch of one sealed
before decoy leaves existed is still delivered from its journal."""

from __future__ import annotations

from pathlib import Path

from crossverify import load_bundle
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.verifier.client import VerifierClient

from ..conftest import Consortium, deposit_certificates


def issuer(c: Consortium, tmp_path: Path) -> IssuerClient:
    return IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.macao_operator, Journal(tmp_path / "j.sqlite"),
                        tmp_path / "bundles")


def test_a_batch_of_one_is_anchored_under_its_decoy(consortium: Consortium, tmp_path: Path) -> None:
    client = issuer(consortium, tmp_path)
    client.issue(deposit_certificates(consortium, 1))
    [path] = client.run().delivered
    client.journal.close()
    bundle = load_bundle(path.read_bytes())
    issuer_id = consortium.issuer_id
    status = consortium.registry.document_status(issuer_id, bundle.proof.batch_root, bundle.document_digest())
    assert bundle.proof.batch_root != bundle.document_digest() and status.leaf_count == bundle.proof.leaf_count == 2
    assert not consortium.registry.document_status(issuer_id, bundle.document_digest(), bytes(32)).anchored
    assert VerifierClient(consortium.registry).verify(bundle).valid


def test_a_batch_of_one_sealed_before_decoys_is_still_delivered(consortium: Consortium, tmp_path: Path) -> None:
    client = issuer(consortium, tmp_path)
    client.issue(deposit_certificates(consortium, 1))
    [(doc_id, _, _, _)] = client.journal.pending("BNUMMOMX")
    [document] = client.journal.documents([doc_id])
    client.journal.record_sealed("BNUMMOMX", "DEPCERT", client.hash_alg, document.digest, document.header.not_after,
                                 [doc_id], 1)
    [path] = client.run().delivered
    client.journal.close()
    bundle = load_bundle(path.read_bytes())
    assert bundle.proof.batch_root == document.digest and bundle.proof.leaf_count == 1
    assert VerifierClient(consortium.registry).verify(bundle).valid
