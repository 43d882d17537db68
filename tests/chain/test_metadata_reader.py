"""Names and labels as the registry's digests vouch for them: what a reader shows, and what it refuses."""

from __future__ import annotations

import json

import pytest

from crossverify.chain.metadata import MetadataReader
from crossverify.errors import MetadataMismatch, MetadataUnavailable
from crossverify.format.metadata import Catalogue, from_json, read_metadata, standard_types
from crossverify.format.suite import Suite
from crossverify.issuer.client import register_metadata

from ..conftest import EXAMPLES, Consortium

BNU = read_metadata((EXAMPLES / "metadata" / "BNUMMOMX.json").read_bytes())


def test_names_and_labels_come_from_registered_digests(consortium: Consortium) -> None:
    catalogue = Catalogue.standard()
    catalogue.add(BNU)
    reader = MetadataReader(consortium.registry, catalogue)
    assert reader.issuer("BNUMMOMX") == BNU
    assert reader.issuer_name("BNUMMOMX", "zh-Hant") == "大西洋銀行"
    assert reader.doc_type_name("BNUMMOMX", "DEPCERT", "pt") == "Certificado de depósito"
    assert reader.doc_type("BNUMMOMX", "INSPOL") is None  # nothing registered: the code, and names, marked
    assert reader.doc_type_name("BNUMMOMX", "INSPOL", "en") == "INSPOL"
    assert reader.issuer_name("NOBODY", "en") == "NOBODY"


def test_a_relabelled_copy_is_refused_and_never_shown(consortium: Consortium) -> None:
    """A verifier's metadata folder holds DEPCERT labels changed after registration: they are not used."""
    genuine = next(t for t in standard_types() if t.doc_type == "DEPCERT")
    doc = json.loads((EXAMPLES.parent / "src" / "crossverify" / "format" / "types" / "DEPCERT.json").read_text())
    doc["claims"][4]["label"]["en"] = "Overdue balance"
    reader = MetadataReader(consortium.registry, Catalogue([from_json(doc), BNU]))
    with pytest.raises(MetadataMismatch):
        reader.doc_type("BNUMMOMX", "DEPCERT")
    assert reader.doc_type_name("BNUMMOMX", "DEPCERT", "en") == "DEPCERT"
    assert reader.digest("BNUMMOMX", "DEPCERT") == genuine.digest
    with pytest.raises(MetadataUnavailable):  # nobody here publishes BNU's name
        MetadataReader(consortium.registry, Catalogue()).issuer("BNUMMOMX")


def test_an_admins_change_shows_once_the_cached_digest_expires(consortium: Consortium) -> None:
    clock = [0.0]
    renamed = json.loads((EXAMPLES / "metadata" / "BNUMMOMX.json").read_text())
    renamed["name"]["en"] = "BNU"
    catalogue = Catalogue([BNU, from_json(renamed)])
    reader = MetadataReader(consortium.registry, catalogue, ttl=60, clock=lambda: clock[0])
    assert reader.issuer_name("BNUMMOMX", "en") == "Banco Nacional Ultramarino"
    register_metadata(consortium.registry, consortium.issuer_admin, "BNUMMOMX", from_json(renamed))
    clock[0] = 59.0
    assert reader.issuer_name("BNUMMOMX", "en") == "Banco Nacional Ultramarino"
    clock[0] = 60.0
    assert reader.issuer_name("BNUMMOMX", "en") == "BNU"


def test_a_gm_registry_holds_sm3_digests_and_readers_check_them(gm_consortium: Consortium) -> None:
    """In a GM deployment the digests are SM3 of the same RFC 8785 form: registered so by the admin, read so."""
    c = gm_consortium
    register_metadata(c.registry, c.issuer_admin, "BNUMMOMX", BNU)
    assert c.registry.metadata_digest(c.issuer_id) == BNU.digest_in(Suite.GM) != BNU.digest
    reader = MetadataReader(c.registry, Catalogue([BNU]))
    assert reader.issuer_name("BNUMMOMX", "zh-Hant") == "大西洋銀行"
    c.registry.transact(lambda f: f.setMetadataDigest(bytes(8), BNU.digest), c.issuer_admin)  # keccak: refused
    with pytest.raises(MetadataMismatch):
        MetadataReader(c.registry, Catalogue([BNU])).issuer("BNUMMOMX")
