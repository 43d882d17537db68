"""Display metadata from the command line: operators admit an issuer with its published name and labels; the
issuer's admin registers new ones; a file that is not metadata is refused before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

from crossverify.format.codes import doc_type_code, issuer_id_code
from crossverify.format.encoding import to_hex
from crossverify.format.metadata import read_metadata, standard_digest

from ..conftest import EXAMPLES, Consortium
from .test_cli_issuer import as_json, config, run  # noqa: F401  (fixture)

ICBC = {"format": "crossverify-issuer-display/1", "issuer": "ICBKMOMX",
        "name": {"zh-Hant": "中國工商銀行（澳門）", "zh-Hans": "中国工商银行（澳门）", "pt": "ICBC (Macau)",
                 "en": "ICBC (Macau)"}}


def test_operators_admit_an_issuer_with_its_name_and_labels(consortium: Consortium, config: Path,  # noqa: F811
                                                          tmp_path: Path) -> None:
    c = consortium
    name = tmp_path / "icbc.json"
    name.write_text(json.dumps(ICBC, ensure_ascii=False, indent=2))
    digest = read_metadata(name.read_bytes()).digest
    created = as_json(run(config, "--json", "operator", "propose", "admit-issuer", "ICBKMOMX", "--admin",
                          c.outsider, "--doc-type", "CREDREC", "--doc-type", "OWNTYPE", "--metadata", str(name)))
    shown = as_json(run(config, "--json", "operator", "show", str(created["proposal"])))
    # Whole digests, as the issuer publishes them: a proposer's name sharing the first bytes must not read as it.
    assert shown["action"].endswith(f"may issue CREDREC, OWNTYPE; its name {to_hex(digest)}; labels for CREDREC "
                                    f"{to_hex(standard_digest('CREDREC'))}")
    run(config, "operator", "approve", str(created["proposal"]),
        env={"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.guangdong_operator})
    icbc = issuer_id_code("ICBKMOMX")
    assert c.registry.metadata_digest(icbc) == digest
    assert c.registry.metadata_digest(icbc, doc_type_code("CREDREC")) == standard_digest("CREDREC")


def test_the_admin_registers_the_issuers_published_metadata(consortium: Consortium, config: Path,  # noqa: F811
                                                          tmp_path: Path) -> None:
    c = consortium
    renamed = json.loads((EXAMPLES / "metadata" / "BNUMMOMX.json").read_text())
    renamed["name"]["pt"] = "BNU - Banco Nacional Ultramarino"
    file = tmp_path / "bnu.json"
    file.write_text(json.dumps(renamed, ensure_ascii=False))
    admin = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.issuer_admin}
    [done] = as_json(run(config, "--json", "issuer", "metadata", str(file), env=admin))
    assert done["for"] == "name" and c.registry.metadata_digest(c.issuer_id) == bytes.fromhex(done["digest"][2:])

    renamed["issuer"] = "ICBKMOMX"
    file.write_text(json.dumps(renamed))
    refused = run(config, "issuer", "metadata", str(file), env=admin)
    assert refused.exit_code == 2 and "names issuer ICBKMOMX, not BNUMMOMX" in refused.output
    del renamed["name"]["zh-Hans"]
    file.write_text(json.dumps(renamed))
    refused = run(config, "operator", "propose", "admit-issuer", "X", "--admin", c.outsider, "--doc-type", "DEPCERT",
                  "--metadata", str(file))
    assert refused.exit_code == 2 and "missing member 'zh-Hans' (at /name)" in refused.output
