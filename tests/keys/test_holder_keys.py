"""A resident's key file that is not a P-256 (or SM2) key is named, whatever it holds; an SM2 key is bound only
where banks take it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify.errors import HolderKeyError, KeyLoadError
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.holder import HOLDER_CLAIM, holder_claim
from crossverify.format.suite import Suite
from crossverify.issuer.client import journal_certificates
from crossverify.issuer.inputs import certificate_entry
from crossverify.issuer.journal import Journal
from crossverify.keys.holder import generate_holder_key, load_holder_key

#: A test-only key on secp112r1, a curve the ``cryptography`` package does not support.
SECP112R1_KEY = """-----BEGIN PRIVATE KEY-----
ME4CAQAwEAYHKoZIzj0CAQYFK4EEAAYENzA1AgEBBA4kQjnLFZGawE4D7iROA6Eg
Ax4ABAoN6ZS4bzQgN3OzXOe4OaC7fjB6xvQAGuI8dXA=
-----END PRIVATE KEY-----
"""


def test_a_key_on_a_curve_the_library_does_not_know_is_named(tmp_path: Path) -> None:
    (tmp_path / "old.pem").write_text(SECP112R1_KEY)
    with pytest.raises(KeyLoadError, match="not a readable holder key"):
        load_holder_key(tmp_path / "old.pem")


def test_an_sm2_holder_key_is_bound_only_to_a_batch_of_the_gm_suites_hash(tmp_path: Path) -> None:
    """A keccak-256 issuer is of the standard suite, whose banks refuse SM2 holder keys (SuiteMismatch): a
    certificate bound to one could never be presented, so it is refused before it is journalled."""
    item = {"reference": "DEP-SM2", "docType": "DEPCERT", "notAfter": 1_900_000_000,
            "claims": {"balance_mop": 1, HOLDER_CLAIM: holder_claim(generate_holder_key(Suite.GM).public_key())}}
    bound = certificate_entry(item, "BNUMMOMX", 1_800_000_000)
    journal = Journal(tmp_path / "journal.sqlite")
    with pytest.raises(HolderKeyError, match="certificate DEP-SM2: the holder key is SM2"):
        journal_certificates(journal, "BNUMMOMX", [bound], HashAlgorithm.KECCAK256)
    assert journal.pending("BNUMMOMX") == []
    assert len(journal_certificates(journal, "BNUMMOMX", [bound], HashAlgorithm.SM3)) == 1
