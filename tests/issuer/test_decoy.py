"""One-document batches: anchored under a decoy leaf, never under the document digest, as one document; and a batch
of one sealed before decoy leaves existed is still delivered from its journal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crossverify import load_bundle
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import BatchState, Journal
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import Supervision
from crossverify.verifier.client import VerifierClient

from ..conftest import Consortium, deposit_certificates


def test_an_issuer_resumes_a_batch_of_one_anchored_with_its_leaves(consortium: Consortium, tmp_path: Path) -> None:
    """Anchored as 2 leaves by an earlier version (the decoy counted), the batch is still recognised as its own."""
    client = issuer(consortium, tmp_path)
    client.issue(deposit_certificates(consortium, 1))
    client.seal()
    [batch] = client.journal.batches("BNUMMOMX", BatchState.SEALED)
    consortium.anchor(batch.root, leaf_count=batch.leaf_count, not_after=batch.not_after)
    [path] = client.run().delivered
    assert VerifierClient(consortium.registry).verify(load_bundle(path.read_bytes())).valid
    client.journal.close()


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
    assert bundle.proof.batch_root != bundle.document_digest() and bundle.proof.leaf_count == 2
    assert status.leaf_count == 1  # the anchor counts documents: the decoy is no document
    assert not consortium.registry.document_status(issuer_id, bundle.document_digest(), bytes(32)).anchored
    assert VerifierClient(consortium.registry).verify(bundle).valid

    reader = RegulatorReader(consortium.registry, tmp_path / "audit.sqlite")
    reader.sync()
    assert Supervision(reader).report().totals["documents"] == 1


def test_a_proof_fits_an_anchor_of_its_documents_only(consortium: Consortium, tmp_path: Path) -> None:
    """An anchor of one document fits a two-leaf proof of its first leaf (the decoy is the second), and nothing
    else: the decoy's place, or a two-document batch anchored as one, is refused as a batch size mismatch."""
    client = issuer(consortium, tmp_path)
    client.issue(deposit_certificates(consortium, 1))
    [path] = client.run().delivered
    client.journal.close()
    bundle = load_bundle(path.read_bytes())
    p = bundle.proof
    assert p.fits_anchor(1) and p.fits_anchor(2) and not p.fits_anchor(3)
    assert not replace(p, index=1).fits_anchor(1) and not replace(p, leaf_count=3).fits_anchor(1)
    assert bundle.leads_to_root(leaf_count=1) and not bundle.leads_to_root(leaf_count=3)


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
