"""The example configurations (examples/, the walk-through of docs/deploy.md) read as written, and each that
shows certificates to people keeps the issuer's published name: the pickup page, the resident page, verify and
the regulator's reports name BNU, not BNUMMOMX."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify.config import Config
from crossverify.format.metadata import Catalogue, IssuerDisplay, read_metadata

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PUBLISHED = read_metadata((EXAMPLES / "metadata" / "BNUMMOMX.json").read_bytes())


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_each_example_configuration_loads(name: str) -> None:
    assert Config.load(EXAMPLES / name, environ={}).network.chain_id == 1337


@pytest.mark.parametrize("name", ["bnu.toml", "bank.toml", "amcm.toml"])
def test_who_shows_certificates_keeps_the_issuers_published_name(name: str) -> None:
    """bnu.toml serves the pickup page, bank.toml the resident page and verify, amcm.toml the reports."""
    catalogue = Catalogue.standard()
    for folder in Config.load(EXAMPLES / name, environ={}).display.metadata:
        catalogue.add_folder(folder)
    assert isinstance(PUBLISHED, IssuerDisplay) and catalogue.get(PUBLISHED.digest) == PUBLISHED
