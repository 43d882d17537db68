"""Display metadata against docs/vectors/display-v1.json, recomputed with plain libraries (JCS and keccak), and the
catalogue's lookups by the registry's digest: a label that is not the registered one is never used."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from eth_utils import keccak
from gmssl import sm3 as gmssl_sm3

from crossverify.errors import MalformedMetadata, MetadataMismatch, MetadataUnavailable, UnsupportedHashAlgorithm
from crossverify.format import hashing
from crossverify.format.display import claim_value
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.metadata import (
    LANGUAGES,
    NONE,
    Catalogue,
    IssuerDisplay,
    TypeDisplay,
    check_registered,
    from_json,
    read_metadata,
    standard_digest,
    standard_types,
)
from crossverify.format.suite import Suite

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "docs" / "vectors" / "display-v1.json"
V: dict[str, Any] = json.loads(FILE.read_text())


def test_file_is_what_the_generator_writes() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "make_vectors.py"))
    assert script["render"]()["display-v1.json"] == FILE.read_text()


@pytest.mark.parametrize("vector", V["documents"], ids=lambda v: v["metadata"].get("docType") or "issuer")
def test_digest_is_keccak_of_the_canonical_form(vector: dict[str, Any]) -> None:
    canonical = rfc8785.dumps(vector["metadata"])
    assert canonical.decode() == vector["canonical"]
    assert "0x" + keccak(canonical).hex() == vector["digest"]
    display = read_metadata(json.dumps(vector["metadata"], ensure_ascii=False, indent=3))  # any spelling
    assert "0x" + display.digest.hex() == vector["digest"]
    # The GM suite's registry holds SM3 of the same form (gmssl, pure Python, not crossverify's SM3).
    assert "0x" + gmssl_sm3.sm3_hash(list(canonical)) == vector["sm3Digest"]
    assert "0x" + display.digest_in(Suite.GM).hex() == vector["sm3Digest"]


def test_the_standard_types_are_the_vectors() -> None:
    shipped = {"0x" + t.digest.hex() for t in standard_types()}
    assert shipped == {v["digest"] for v in V["documents"] if "docType" in v["metadata"]}
    assert {t.doc_type for t in standard_types()} == {"DEPCERT", "ACCTSTMT", "CREDREC", "INSPOL"}
    assert standard_digest("DEPCERT") == next(t.digest for t in standard_types() if t.doc_type == "DEPCERT")
    assert standard_digest("OWNTYPE") == NONE


@pytest.mark.parametrize("vector", V["mustReject"], ids=lambda v: v["name"])
def test_malformed_metadata_is_refused_where_the_fault_is(vector: dict[str, Any]) -> None:
    with pytest.raises(MalformedMetadata) as caught:
        from_json(vector["metadata"])
    assert caught.value.path == vector["pointer"]


def test_reading_refuses_what_strict_json_refuses() -> None:
    with pytest.raises(MalformedMetadata, match="twice"):
        read_metadata('{"format": "crossverify-issuer-display/1", "format": "x"}')
    with pytest.raises(MalformedMetadata, match="more than"):
        read_metadata(b" " * 40_000)


def test_altered_metadata_is_refused() -> None:
    altered = V["altered"]
    display = from_json(altered["metadata"])
    assert "0x" + display.digest.hex() == altered["digest"]
    with pytest.raises(MetadataMismatch, match="the registry holds 0xd830"):
        check_registered(display, bytes.fromhex(altered["registered"][2:]))


@pytest.mark.parametrize("vector", V["values"], ids=lambda v: f"{v['claim']}-{v['language']}")
def test_values_read_as_the_vectors_say(vector: dict[str, Any]) -> None:
    [display] = [t for t in standard_types() if t.doc_type == vector["docType"]]
    assert claim_value(vector["value"], display.claim(vector["claim"]), vector["language"]) == vector["text"]


def test_the_catalogue_takes_only_the_registered_digest(tmp_path: Path) -> None:
    [deposit] = [t for t in standard_types() if t.doc_type == "DEPCERT"]
    [credit] = [t for t in standard_types() if t.doc_type == "CREDREC"]
    catalogue = Catalogue.standard()
    assert catalogue.doc_type("BNUMMOMX", "DEPCERT", deposit.digest) is deposit
    assert catalogue.doc_type("BNUMMOMX", "DEPCERT", NONE) is None  # nothing registered: names, marked
    with pytest.raises(MetadataMismatch):  # the registry names CREDREC's labels for DEPCERT: refused
        catalogue.doc_type("BNUMMOMX", "DEPCERT", credit.digest)
    altered = from_json(V["altered"]["metadata"])
    catalogue.add(altered)  # a tampered copy is known here, but the registry holds the genuine digest
    assert catalogue.doc_type("BNUMMOMX", "CREDREC", credit.digest) is credit
    relabelled = Catalogue([altered])
    with pytest.raises(MetadataMismatch, match="the registry holds"):
        relabelled.doc_type("BNUMMOMX", "CREDREC", credit.digest)
    with pytest.raises(MetadataUnavailable):
        Catalogue().doc_type("BNUMMOMX", "CREDREC", credit.digest)

    issuer = next(v["metadata"] for v in V["documents"] if "issuer" in v["metadata"])
    (tmp_path / "bnu.json").write_text(json.dumps(issuer, ensure_ascii=False))
    published = Catalogue()
    published.add_folder(tmp_path)
    found = published.issuer("BNUMMOMX", from_json(issuer).digest)
    assert isinstance(found, IssuerDisplay) and found.name["zh-Hant"] == "大西洋銀行"
    with pytest.raises(MetadataMismatch):  # BNU's name registered for another issuer
        published.issuer("ICBKMOMX", found.digest)
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(MalformedMetadata, match=r"broken\.json"):
        Catalogue().add_folder(tmp_path)
    (tmp_path / "broken.json").unlink()
    (tmp_path / "archive.json").mkdir()  # a folder whose name says metadata
    with pytest.raises(MalformedMetadata, match=r"archive\.json: cannot be read"):
        Catalogue().add_folder(tmp_path)


def test_a_standard_deployment_reads_metadata_without_sm3(monkeypatch: pytest.MonkeyPatch) -> None:
    """SM3 digests are for GM deployments: a Python whose OpenSSL has no SM3 still shows a standard one's labels."""
    with_sm3 = hashing._hasher

    def without_sm3(alg: HashAlgorithm) -> hashing.Hasher:
        if alg is HashAlgorithm.SM3:
            raise UnsupportedHashAlgorithm("sm3", "this Python's OpenSSL does not provide SM3")
        return with_sm3(alg)

    monkeypatch.setattr(hashing, "_hasher", without_sm3)
    catalogue = Catalogue.standard()
    catalogue.add(from_json(V["altered"]["metadata"]))
    assert catalogue.doc_type("BNUMMOMX", "DEPCERT", standard_digest("DEPCERT")) in standard_types()
    with pytest.raises(UnsupportedHashAlgorithm):  # a GM deployment's lookup says why it cannot read
        catalogue.doc_type("BNUMMOMX", "DEPCERT", standard_digest("DEPCERT"), Suite.GM)
    monkeypatch.undo()
    assert catalogue.doc_type("BNUMMOMX", "DEPCERT", standard_digest("DEPCERT", Suite.GM), Suite.GM)


def test_display_order_lists_known_claims_first() -> None:
    [deposit] = [t for t in standard_types() if t.doc_type == "DEPCERT"]
    assert isinstance(deposit, TypeDisplay)
    given = ["zeta", "balance_mop", "account_no", "holder_name", "alpha"]
    assert deposit.order(given) == ["holder_name", "account_no", "balance_mop", "zeta", "alpha"]
    assert all(set(c.label.as_json()) == set(LANGUAGES) for c in deposit.claims)
