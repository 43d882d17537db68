"""The regulator's commands on the embedded chain: a document's circulation as a table and as JSON, from a digest
or a bundle file, and the report with the trail."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from click.testing import CliRunner

from crossverify import load_bundle
from crossverify.cli import main
from crossverify.format.encoding import to_hex
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.sealing import Receipt, seal

from ..conftest import EXAMPLES, Consortium, deposit_certificates
from ..issuer.test_succession import successor


def test_circulation_of_a_bundle_file(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    issuer = IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.macao_operator, Journal(tmp_path / "j.sqlite"),
                          tmp_path / "bundles")
    issuer.issue(deposit_certificates(c, 1))
    [bundle] = issuer.run().delivered
    issuer.journal.close()
    digest = load_bundle(bundle.read_bytes()).document_digest()
    receipt = Receipt.new(digest, "BNUMMOMX", "DEPCERT", load_bundle(bundle.read_bytes()).proof.batch_root, "ACCTOPEN",
                          c.now(),
                          presentation_hash=secrets.token_bytes(32))
    sealed = seal(receipt, [k.public_key for k in c.regulator_keys])
    c.circulation.record([sealed.commitment], sealed.sealed, c.verifier)

    c.regulator_keys[1].write(tmp_path / "pboc.key", "pboc")
    config = tmp_path / "pboc.toml"
    config.write_text(f"""
[network]
rpc = "embedded"
registry = "{c.registry.address}"
circulation = "{c.circulation.address}"

[audit]
index = "audit.sqlite"

[regulator]
key_files = ["pboc.key"]

[regulator.bank_names]
"{c.verifier}" = "Guangdong Bank A"

[display]
metadata = ["{EXAMPLES / "metadata"}"]
""")
    env = {"CROSSVERIFY_REGULATOR_PASSWORD": "pboc", "COLUMNS": "200"}

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    said = run("regulator", "sync")  # nouns agree with their counts
    first, freshness = said.splitlines()
    assert first.startswith("indexed ") and first.endswith("; opened 1 receipt and 0 dispute events (0 unreadable)")
    assert freshness.endswith("up to date with the chain")
    synced = json.loads(run("--json", "regulator", "sync"))
    assert synced["events"] == synced["receipts"] == synced["unreadable"] == 0
    by_file = json.loads(run("--json", "regulator", "circulation", str(bundle)))
    assert by_file == json.loads(run("--json", "regulator", "circulation", to_hex(digest)))
    assert by_file["freshness"]["behind"] == 0
    anchored, shown = by_file["events"]
    assert (anchored["event"], anchored["issuer"], anchored["docType"]) == ("anchored", "BNUMMOMX", "DEPCERT")
    assert (shown["verifier"], shown["purposeInWords"], shown["consent"]) == (c.verifier, "account opening",
                                                                              "presentation")
    table = run("regulator", "circulation", str(bundle))
    assert "account opening" in table and "a presentation the resident signed" in table and "up to date" in table
    assert "up to date" in run("regulator", "report", "--format", "json", "--out", str(tmp_path / "report.json"))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["circulation"]["receipts"] == 1 and report["totals"]["receipts"] == 1
    run("regulator", "report", "--language", "zh-Hans", "--out", str(tmp_path / "report.html"))
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in page and "审计报告" in page and "Anomalies" not in page
    assert "大西洋银行" in page and "Guangdong Bank A" in page and "开立账户" in page  # issuer, bank, purpose named
    bad = CliRunner().invoke(main, ["--config", str(config), "regulator", "circulation", "0x12"], env=env)
    assert bad.exit_code == 2
    assert to_hex(receipt.commitment()) == shown["commitment"]

    # A case reference is any printable text the bank chose: shown as written, not read as the table's markup
    at_the_counter = seal(Receipt.new(digest, "BNUMMOMX", "DEPCERT", receipt.batch_root, "LOAN", c.now(),
                                      case="[/] [bold]LOAN-17"), [k.public_key for k in c.regulator_keys])
    c.circulation.record([at_the_counter.commitment], at_the_counter.sealed, c.verifier)
    assert "consent: in person, case [/] [bold]LOAN-17;" in run("regulator", "circulation", "--sync", to_hex(digest))


def test_sync_says_when_the_index_follows_a_registry_succession(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium

    def sync(registry: str) -> str:
        config = tmp_path / "amcm.toml"
        config.write_text(f'[network]\nrpc = "embedded"\nregistry = "{registry}"\n\n[audit]\nindex = "audit.sqlite"\n')
        result = CliRunner().invoke(main, ["--config", str(config), "audit", "sync"], env={"COLUMNS": "200"},
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "followed" not in sync(c.registry.address)
    new = successor(c)
    said = sync(new.registry.address)
    assert f"followed the registry succession from {c.registry.address}" in said and new.registry.address in said
    assert "followed" not in sync(new.registry.address)
