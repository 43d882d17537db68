"""Operators, an issuer, a bank and a regulator scripting ``crossverify`` as separate processes against the node."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from crossverify.format.encoding import to_hex
from crossverify.format.metadata import standard_digest
from crossverify.keys.keystore import write_keystore
from crossverify.sealing import RegulatorKey

PASSWORD = "node tier keystore password (test only)"


def cli(config: Path, *args: str, keystore: str | None = None, expect: int = 0) -> Any:
    env = {**os.environ, "CROSSVERIFY_PASSWORD": PASSWORD}
    if keystore:
        env["CROSSVERIFY_KEYS_SENDER_KEYSTORE"] = keystore
    result = subprocess.run([sys.executable, "-m", "crossverify.cli", "--config", str(config), "--json", *args],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == expect, result.stderr[-3000:] + result.stdout[-2000:]
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_the_flow_as_an_operator_would_script_it(node_url: str, dev_accounts: list[LocalAccount],
                                                 tmp_path: Path) -> None:
    names = ["macao", "guangdong", "bnu-admin", "bank", "regulator"]
    for name, account in zip(names, dev_accounts, strict=False):
        write_keystore(account, tmp_path / "keys" / f"{name}.json", PASSWORD)
    write_keystore(dev_accounts[8], tmp_path / "keys" / "bnu-signer.json", PASSWORD)
    addr = {name: account.address for name, account in zip(names, dev_accounts, strict=False)}
    config = tmp_path / "crossverify.toml"

    def write_config(deployed: dict[str, str] | None) -> None:
        contracts = "" if deployed is None else (f'registry = "{deployed["registry"]}"\n'
                                                 f'circulation = "{deployed["circulation"]}"')
        config.write_text(f"""
[network]
rpc = "{node_url}"
chain_id = 1337
{contracts}
gas_price = 0

[keys]
sender_keystore = "keys/macao.json"
signer_keystore = "keys/bnu-signer.json"
password_env = "CROSSVERIFY_PASSWORD"

[issuer]
id = "BNUMMOMX"
journal = "var/journal.sqlite"
bundles = "var/bundles"
max_batch = 50

[audit]
index = "var/audit.sqlite"
chunk = 10
""")

    write_config(None)  # deploying needs no registry yet
    deployed = cli(config, "operator", "deploy", "--operator", f"{addr['macao']}@MO",
                   "--operator", f"{addr['guangdong']}@GD")
    write_config(deployed)
    guangdong = "keys/guangdong.json"

    pid = cli(config, "operator", "propose", "admit-issuer", "BNUMMOMX", "--admin", addr["bnu-admin"],
              "--doc-type", "DEPCERT")["proposal"]
    shown = cli(config, "operator", "show", str(pid))
    assert shown["action"] == (f"admit issuer BNUMMOMX in Macao (MO), admin {addr['bnu-admin']}, may issue DEPCERT; "
                               f"labels for DEPCERT {to_hex(standard_digest('DEPCERT'))}")
    assert shown["progress"] == "1 of 2 approvals, needs Guangdong"
    assert cli(config, "operator", "approve", str(pid), keystore=guangdong) == {str(pid): {"executed": True}}
    assert cli(config, "issuer", "key", "add", keystore="keys/bnu-admin.json") == {"added": dev_accounts[8].address}
    for who, role in (("bank", "verifier"), ("regulator", "regulator")):
        pid = cli(config, "operator", "propose", "admit-member", addr[who], "--role", role, "--jurisdiction", "MO")[
            "proposal"]
        cli(config, "operator", "approve", str(pid), keystore=guangdong)
    for name in ("amcm", "pboc"):
        (tmp_path / f"{name}.pub.json").write_text(json.dumps(RegulatorKey.generate().public_key.to_json()))
    pid = cli(config, "operator", "propose", "regulator-keys", "--key", f"{tmp_path / 'amcm.pub.json'}@MO",
              "--key", f"{tmp_path / 'pboc.pub.json'}@GD")["proposal"]
    assert cli(config, "operator", "approve", str(pid), keystore=guangdong) == {str(pid): {"executed": True}}

    certs = [{"reference": f"dep-{i}", "docType": "DEPCERT", "notAfter": 2_000_000_000,
              "claims": {"holder": f"CHAN Tai Man {i}", "mop": 1000 * i}} for i in range(120)]
    (tmp_path / "certs.json").write_text(json.dumps(certs))
    assert cli(config, "issuer", "issue", str(tmp_path / "certs.json")) == {"journalled": 120}
    report = cli(config, "issuer", "run")
    assert (report["anchored"], report["delivered"]) == (3, 120)

    bundles = sorted((tmp_path / "var" / "bundles" / "BNUMMOMX").glob("*.json"))
    verdicts = cli(config, "verify", *map(str, bundles[:5]), "--record", "--purpose", "ACCTOPEN",
                   keystore="keys/bank.json")
    assert all(v["valid"] for v in verdicts)
    digest = verdicts[0]["documentDigest"]
    cli(config, "issuer", "revoke", "--document", digest, "--reason", "withdrawn", keystore="keys/bnu-admin.json")
    failed = cli(config, "verify", str(bundles[0]), expect=1)
    assert [c["name"] for c in failed[0]["checks"] if c["outcome"] == "failed"] == ["not_revoked"]
    hostile = tmp_path / "hostile.json"
    hostile.write_text(re.sub(r'("name":"mop","salt":"0x[0-9a-f]+","value":)[0-9]+', r"\g<1>1e400",
                              bundles[1].read_text()))
    assert "1e400" in hostile.read_text()
    unreadable = cli(config, "verify", str(bundles[2]), str(hostile), expect=2)
    assert unreadable[0]["valid"] and unreadable[1]["checks"][0]["detail"].startswith("InvalidNumber:")

    synced = cli(config, "audit", "sync")
    assert synced["events"] > 0
    cli(config, "audit", "report", "--format", "json", "--out", str(tmp_path / "audit.json"))
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["totals"]["documents"] == 120
    assert audit["revocation_reasons"] == {"withdrawn": 1}
