"""The GM suite from the command line, on the embedded chain: a consortium deployed with ``--suite gm``, an SM2
signing key made with ``keys new --suite gm`` and added by the issuer's admin, an issuer's run that anchors SM3
batches signed with SM2, and a bank's verification that reads the suite from the registry."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from crossverify.chain.registry import Registry
from crossverify.cli import main
from crossverify.format.suite import Suite

from ..conftest import Consortium

PASSWORD = "GM keystore password (test only)"


def run(config: Path, *args: str, sender: str) -> Result:
    environment = {"TEST_KEYSTORE_PASSWORD": PASSWORD, "CROSSVERIFY_KEYS_SENDER_ADDRESS": sender}
    return CliRunner().invoke(main, ["--config", str(config), "--json", *args], env=environment,
                              catch_exceptions=False)


def as_json(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _config(tmp_path: Path, registry: str = "") -> Path:
    path = tmp_path / "crossverify.toml"
    path.write_text(f"""
[network]
rpc = "embedded"
{f'registry = "{registry}"' if registry else ""}

[keys]
signer_keystore = "keys/sm2-signer.json"
password_env = "TEST_KEYSTORE_PASSWORD"

[issuer]
id = "BNUMMOMX"
journal = "var/journal.sqlite"
bundles = "var/bundles"
""")
    return path


def test_operators_deploy_a_gm_consortium(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    config = _config(tmp_path)
    operators = ["--operator", f"{c.macao_operator}@MO", "--operator", f"{c.guangdong_operator}@GD"]
    deployed = as_json(run(config, "operator", "deploy", *operators, "--suite", "gm", sender=c.outsider))
    assert isinstance(deployed, dict) and deployed["suite"] == "gm"
    registry = Registry.at(c.w3, deployed["registry"])
    assert registry.crypto_suite() is Suite.GM
    assert registry.call(lambda f: f.sm2Verifier()) == deployed["sm2Verifier"]
    assert c.w3.eth.get_code(deployed["sm2Verifier"])

    refused = run(config, "operator", "deploy", *operators, "--fisco-precompile", "national", sender=c.outsider)
    assert refused.exit_code == 2 and "--suite gm" in refused.output


def test_a_gm_consortium_refuses_a_verifier_that_is_none(consortium: Consortium, tmp_path: Path) -> None:
    """'--sm2-verifier' naming an account, or a contract that is no SM2 verifier (the registry), deployed the
    consortium and the registry's governance half, then failed with "TransactionFailed: execution reverted: b''"."""
    c = consortium
    config = _config(tmp_path)
    operators = ["--operator", f"{c.macao_operator}@MO", "--operator", f"{c.guangdong_operator}@GD"]
    for wrong in (c.verifier, c.registry.address):
        sent = c.w3.eth.get_transaction_count(c.outsider)
        refused = run(config, "operator", "deploy", *operators, "--suite", "gm", "--sm2-verifier", wrong,
                      sender=c.outsider)
        assert refused.exit_code == 2 and f"{wrong} is not an SM2 verifier" in refused.output
        assert c.w3.eth.get_transaction_count(c.outsider) == sent


def test_a_gm_issuer_and_a_bank_from_the_command_line(gm_consortium: Consortium, tmp_path: Path) -> None:
    c = gm_consortium
    config = _config(tmp_path, c.registry.address)
    made = as_json(run(config, "keys", "new", str(tmp_path / "keys" / "sm2-signer.json"), "--suite", "gm",
                       "--password", PASSWORD, sender=c.issuer_admin))
    assert isinstance(made, dict) and made["suite"] == "gm"
    assert as_json(run(config, "issuer", "key", "add", sender=c.issuer_admin)) == {"added": made["address"]}

    certs = [{"reference": f"dep-{i}", "docType": "DEPCERT", "asOf": c.now(), "notAfter": c.now() + 86400 * 90,
              "claims": {"holder": f"CHAN Tai Man {i}", "mop": 1000 * i}} for i in range(12)]
    (tmp_path / "certs.json").write_text(json.dumps(certs))
    assert as_json(run(config, "issuer", "issue", str(tmp_path / "certs.json"), sender=c.macao_operator)) == {
        "journalled": 12}
    report = as_json(run(config, "issuer", "run", sender=c.macao_operator))
    assert isinstance(report, dict) and (report["anchored"], report["delivered"]) == (1, 12)

    bundle = tmp_path / "var" / "bundles" / "BNUMMOMX" / "dep-3.bundle.json"
    assert json.loads(bundle.read_text())["proof"]["hashAlg"] == "sm3"
    [verdict] = as_json(run(config, "verify", str(bundle), sender=c.verifier))  # type: ignore[misc]
    assert verdict["valid"], verdict
    assert {c["name"]: c["detail"] for c in verdict["checks"]}["suite_matches"] == "the gm crypto suite"
