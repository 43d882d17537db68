"""``crossverify dispute`` for a bank and an issuer, and ``operator propose regulator-keys``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossverify.format.codes import issuer_id_code
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.sealing import RegulatorKey

from ..conftest import Consortium, deposit_certificates
from .test_cli_issuer import as_json, run


@pytest.fixture
def config(consortium: Consortium, tmp_path: Path) -> Path:
    return _configured(consortium, tmp_path, consortium.verifier,
                       f'signer_private_key = "0x{bytes(consortium.signing_key.key).hex()}"')


def _configured(c: Consortium, tmp_path: Path, sender: str, keys: str = "") -> Path:
    """A configuration on ``c``'s chain for the issuer BNUMMOMX (its dispute sealing key in bnu-sealing.json),
    sending from ``sender``, with ``keys`` more in its ``[keys]``."""
    path = tmp_path / "crossverify.toml"
    path.write_text(f"""
[network]
rpc = "embedded"
registry = "{c.registry.address}"
circulation = "{c.circulation.address}"

[keys]
dev_mode = true
sender_address = "{sender}"
{keys}

[issuer]
id = "BNUMMOMX"
sealing_key = "bnu-sealing.json"
""")
    return path


def test_a_bank_opens_the_issuer_answers_the_bank_reads(consortium: Consortium, config: Path,
                                                       tmp_path: Path) -> None:
    c = consortium
    issuer = IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.issuer_admin, Journal(tmp_path / "j.sqlite"),
                          tmp_path / "bundles")
    issuer.issue(deposit_certificates(c, 2))
    bundle = sorted(issuer.run().delivered)[0]
    as_json(run(config, "--json", "dispute", "keygen", str(tmp_path / "bnu-sealing.json")))
    admin = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.issuer_admin}
    relay = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.outsider}
    as_json(run(config, "--json", "dispute", "register-key", env=admin))

    receipt = json.loads(run(config, "--json", "verify", str(bundle), "--record", "--purpose", "KYC").stdout)
    assert receipt[0]["valid"]
    opened = as_json(run(config, "--json", "dispute", "open", str(bundle), "--reason", "suspected-reuse",
                         "--out", str(tmp_path / "dispute.json")))
    assert as_json(run(config, "--json", "dispute", "show", str(tmp_path / "dispute.json")))["answer"] is None
    assert run(config, "dispute", "open", str(bundle), "--reason", "other", "--out",
               str(tmp_path / "dispute.json")).exit_code == 2  # never overwrites the reply key

    [listed] = as_json(run(config, "--json", "dispute", "list", "--open-only", env=relay))
    assert as_json(run(config, "--json", "dispute", "list", "--since", str(listed["openedAt"]))) == [listed]
    assert as_json(run(config, "--json", "dispute", "list", "--since", str(listed["openedAt"] + 1))) == []
    assert listed["disputeId"] == opened["disputeId"] and listed["reason"] == "suspected_reuse"
    assert listed["verifier"] == c.verifier and not listed["answered"]
    said = run(config, "dispute", "list").stdout  # on an 80-column terminal, the id whole: the issuer answers by it
    assert f"dispute {listed['disputeId']}\n  suspected reuse, opened " in said and "not answered yet" in said
    stranger = RegulatorKey.generate()
    stranger.write(tmp_path / "stranger.json")
    assert as_json(run(config, "--json", "dispute", "list", "--key", str(tmp_path / "stranger.json"))) == []

    as_json(run(config, "--json", "dispute", "answer", opened["disputeId"], "--status", "revoked", env=relay))
    assert as_json(run(config, "--json", "dispute", "list", "--open-only")) == []
    shown = as_json(run(config, "--json", "dispute", "show", str(tmp_path / "dispute.json")))
    assert shown["answer"]["status"] == "revoked" and shown["answer"]["signedByIssuer"]
    assert "replyKey" not in shown and "salt" not in shown
    assert run(config, "dispute", "answer", opened["disputeId"], "--status", "revoked").exit_code == 1
    assert run(config, "dispute", "answer", "0x" + "22" * 32, "--status", "revoked").exit_code == 2


def test_regulator_keys_are_proposed_from_public_key_files(consortium: Consortium, config: Path,
                                                          tmp_path: Path) -> None:
    c = consortium
    files = []
    for name in ("amcm", "pboc"):
        key = RegulatorKey.generate()
        (tmp_path / f"{name}.pub.json").write_text(json.dumps(key.public_key.to_json()))
        key.write(tmp_path / f"{name}.json")
        files.append((tmp_path / f"{name}.pub.json", key))
    macao = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.macao_operator}
    guangdong = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.guangdong_operator}
    proposal = as_json(run(config, "--json", "operator", "propose", "regulator-keys", "--key",
                           f"{files[0][0]}@MO", "--key", f"{files[1][0]}@GD", env=macao))["proposal"]
    action = as_json(run(config, "--json", "operator", "show", str(proposal)))["action"]
    # The whole key: a proposer's key sharing the first bytes of the regulator's must not read as it.
    assert action == ("set the regulators' sealing keys: "
                      f"Macao (MO) key 0x{files[0][1].public_key.raw.hex()}, "
                      f"Guangdong (GD) key 0x{files[1][1].public_key.raw.hex()}")
    as_json(run(config, "--json", "operator", "approve", str(proposal), env=guangdong))
    keys = c.circulation.regulator_keys()
    assert keys.epoch == 2 and keys.keys == tuple(k.public_key.raw for _, k in files)
    private = run(config, "operator", "propose", "regulator-keys", "--key", f"{tmp_path / 'amcm.json'}@MO", env=macao)
    assert private.exit_code == 2 and "private key" in private.output
    assert run(config, "operator", "propose", "regulator-keys", "--key", str(files[0][0]), env=macao).exit_code == 2


def test_a_gm_issuer_makes_and_registers_an_sm2_dispute_key(gm_consortium: Consortium, tmp_path: Path) -> None:
    """The GM suite's circulation contract takes SM2 sealing keys only: keygen makes one when told."""
    c = gm_consortium
    config = _configured(c, tmp_path, c.issuer_admin)
    made = as_json(run(config, "--json", "dispute", "keygen", "--kem", "sm2", str(tmp_path / "bnu-sealing.json")))
    assert made["public"]["kem"] == "SM2"
    as_json(run(config, "--json", "dispute", "register-key"))
    key = RegulatorKey.read(tmp_path / "bnu-sealing.json")
    assert c.circulation.issuer_sealing_key(issuer_id_code("BNUMMOMX")) == key.public_key.raw


def test_registering_without_a_key_says_how_to_give_one(tmp_path: Path) -> None:
    """register-key takes the key's file as PATH (list and answer take --key): its error names what it takes."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\n')
    result = run(config, "dispute", "register-key")
    assert result.exit_code == 2 and "give its file (PATH) or set [issuer] sealing_key" in result.output, result.output
    missing = run(config, "dispute", "register-key", str(tmp_path / "bnu-dispute.key"))
    assert missing.exit_code == 2 and "cannot read sealing key" in missing.output, missing.output  # not "regulator"


def test_showing_a_file_that_is_not_a_dispute_is_unusable_input(tmp_path: Path) -> None:
    """A clerk who gives 'dispute show' another file (the bundle) is told it is not a dispute file, exit 2: not
    exit 1 ('refused') with a bare "'replyKey'"."""
    config = tmp_path / "c.toml"
    config.write_text("")
    (tmp_path / "bundle.json").write_text('{"version": "1.2"}')
    shown = run(config, "dispute", "show", str(tmp_path / "bundle.json"))
    assert shown.exit_code == 2 and "not a dispute file" in shown.output and "replyKey" in shown.output, shown.output
