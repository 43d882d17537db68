"""Display metadata digests on the registry: registered by the consortium when it admits an issuer or a document
type, changed only by the issuer's own admin, for its own name and the types it may issue."""

from __future__ import annotations

import pytest

from crossverify import errors
from crossverify.chain.records import ProposalKind
from crossverify.format.codes import doc_type_code, issuer_id_code, jurisdiction_code
from crossverify.format.metadata import NONE, standard_digest

from ..conftest import Consortium
from .helpers import events, only_event

NAME = b"\x11" * 32
LABELS = b"\x22" * 32
OTHER = b"\x33" * 32


def test_admission_registers_the_issuers_name_and_its_types_labels(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    admin = c.w3.eth.accounts[9]
    issuer = issuer_id_code("ICBKMOMX")
    receipt = c.govern(ProposalKind.ADMIT_ISSUER, issuer, jurisdiction_code("MO"), admin,
                       [doc_type_code("CREDREC"), doc_type_code("OWNTYPE")], NAME,
                       [standard_digest("CREDREC"), NONE])
    assert reg.metadata_digest(issuer) == NAME
    assert reg.metadata_digest(issuer, doc_type_code("CREDREC")) == standard_digest("CREDREC")
    assert reg.metadata_digest(issuer, doc_type_code("OWNTYPE")) == NONE  # zero: nothing registered
    set_ = events(reg, receipt, "MetadataDigestSet")
    assert [(a["docType"], a["digest"]) for _, a in set_] == [(bytes(8), NAME),
                                                              (doc_type_code("CREDREC"), standard_digest("CREDREC"))]
    assert all(a["issuerId"] == issuer and a["proposalId"] > 0 for _, a in set_)


def test_digests_must_pair_with_the_types_when_proposed(consortium: Consortium) -> None:
    c = consortium
    with pytest.raises(errors.RegistryMetadataLength) as caught:
        c.propose(ProposalKind.ADMIT_ISSUER, issuer_id_code("X"), jurisdiction_code("MO"), c.outsider,
                  [doc_type_code("DEPCERT")], NAME, [])
    assert caught.value.args_by_name == {"docTypes": 1, "digests": 0}
    with pytest.raises(errors.RegistryMetadataLength):
        c.propose(ProposalKind.SET_DOC_TYPES, c.issuer_id, [doc_type_code("INSPOL")], True, [LABELS, OTHER])


def test_allowing_a_type_registers_its_labels_and_disallowing_keeps_them(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    inspol = doc_type_code("INSPOL")
    c.govern(ProposalKind.SET_DOC_TYPES, c.issuer_id, [inspol], True, [LABELS])
    assert reg.metadata_digest(c.issuer_id, inspol) == LABELS
    receipt = c.govern(ProposalKind.SET_DOC_TYPES, c.issuer_id, [inspol], False, [NONE])
    assert events(reg, receipt, "MetadataDigestSet") == []
    assert reg.metadata_digest(c.issuer_id, inspol) == LABELS  # residents still hold its documents


def test_the_issuers_admin_updates_its_own_metadata(consortium: Consortium) -> None:
    c, reg = consortium, consortium.registry
    receipt = reg.transact(lambda f: f.setMetadataDigest(c.doc_type, OTHER), c.issuer_admin)
    assert only_event(reg, receipt, "MetadataDigestSet") == {"issuerId": c.issuer_id, "docType": c.doc_type,
                                                             "proposalId": 0, "digest": OTHER}
    reg.transact(lambda f: f.setMetadataDigest(bytes(8), NAME), c.issuer_admin)
    assert (reg.metadata_digest(c.issuer_id, c.doc_type), reg.metadata_digest(c.issuer_id)) == (OTHER, NAME)
    reg.transact(lambda f: f.setMetadataDigest(c.doc_type, NONE), c.issuer_admin)  # withdrawn
    assert reg.metadata_digest(c.issuer_id, c.doc_type) == NONE


def test_nobody_else_relabels_an_issuers_documents(consortium: Consortium) -> None:
    """A bank, an operator, the signing key or an outsider cannot change what residents read; nor can the admin
    label a type its issuer may not issue."""
    c, reg = consortium, consortium.registry
    before = reg.metadata_digest(c.issuer_id, c.doc_type)
    for account in (c.verifier, c.macao_operator, c.outsider, c.regulator):
        with pytest.raises(errors.RegistryNotIssuerAdmin):
            reg.transact(lambda f: f.setMetadataDigest(c.doc_type, OTHER), account)
    with pytest.raises(errors.RegistryDocTypeNotAllowed):
        reg.transact(lambda f: f.setMetadataDigest(doc_type_code("INSPOL"), OTHER), c.issuer_admin)
    assert reg.metadata_digest(c.issuer_id, c.doc_type) == before
