"""A resident's key file that is not a P-256 (or SM2) key is named, whatever it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify.errors import KeyLoadError
from crossverify.keys.holder import load_holder_key

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
