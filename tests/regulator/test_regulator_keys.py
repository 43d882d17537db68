"""The regulator's sealing keys: made by the command line (0600, optionally encrypted), shown, configured as every
key it has held, and refused by name when none is configured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crossverify.cli import main
from crossverify.config import Config
from crossverify.errors import NoRegulatorKey, SealingError
from crossverify.sealing import Kem, Receipt, RegulatorKey, open_sealed, seal
from crossverify.session import Session

PASSWORD = {"CROSSVERIFY_REGULATOR_PASSWORD": "amcm seal 2026"}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"CROSSVERIFY_REGULATOR_PASSWORD": "", **(env or {})})
    return result.exit_code, result.output


@pytest.mark.parametrize("kem", ["x25519", "mlkem768-x25519"])
def test_keygen_writes_an_encrypted_key_the_configuration_reads(tmp_path: Path, kem: str) -> None:
    path = tmp_path / "amcm.key"
    code, out = run("--json", "regulator", "keygen", "--out", str(path), "--kem", kem, env=PASSWORD)
    made = json.loads(out)
    assert code == 0 and path.stat().st_mode & 0o777 == 0o600
    assert "private" not in path.read_text() and "ENCRYPTED PRIVATE KEY" in path.read_text()
    assert json.loads((tmp_path / "amcm.pub.json").read_text()) == {"kem": made["kem"], "public": made["public"]}
    assert run("regulator", "keygen", "--out", str(path))[0] == 2  # never overwrites a key
    code, out = run("regulator", "keygen", "--out", str(tmp_path / "spare.key"), "--kem", kem, env=PASSWORD)
    assert code == 0 and "add it to [regulator] key_files" in out  # said as written, not read as markup

    config = tmp_path / "regulator.toml"
    config.write_text(f'[regulator]\nkey_files = ["{path.name}"]\n')
    code, out = run("--config", str(config), "--json", "regulator", "key", "show", env=PASSWORD)
    assert code == 0 and json.loads(out) == [{"file": str(path), "kem": made["kem"], "public": made["public"],
                                             "keyId": made["keyId"]}]
    code, out = run("--config", str(config), "regulator", "key", "show")  # no password
    assert code == 2 and "encrypted" in out


def test_a_key_read_back_opens_what_was_sealed_to_it(tmp_path: Path) -> None:
    key = RegulatorKey.generate(Kem.MLKEM768_X25519)
    key.write(tmp_path / "plain.key")
    key.write(tmp_path / "locked.key", "pw")
    receipt = Receipt.new(bytes(range(32)), "BNUMMOMX", "DEPCERT", bytes(32), "ACCTOPEN", 1_790_000_000)
    sealed = seal(receipt, [key.public_key])
    for path, password in (("plain.key", None), ("locked.key", "pw")):
        assert open_sealed(sealed, RegulatorKey.read(tmp_path / path, password)) == receipt
    with pytest.raises(SealingError, match="password is wrong"):
        RegulatorKey.read(tmp_path / "locked.key", "not it")


def test_commands_that_open_the_trail_refuse_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(NoRegulatorKey, match=r"\[regulator\] key_files"):
        Session(Config.load(None, environ={})).regulator_keys  # noqa: B018
    config = tmp_path / "regulator.toml"
    config.write_text('[network]\nrpc = "embedded"\n')
    for command in (["regulator", "circulation", "0x" + "11" * 32], ["regulator", "key", "show"]):
        code, out = run("--config", str(config), *command)
        assert code == 2 and "no regulator key is configured" in out, command


def test_key_files_are_taken_from_the_configuration_folder(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[regulator]\nkey_files = ["keys/2026.key", "/abs/2025.key"]\ndispute_answer_within = 2.5\n')
    settings = Config.load(config, environ={}).regulator
    assert settings.key_files == [tmp_path / "keys" / "2026.key", Path("/abs/2025.key")]
    assert settings.dispute_answer_within == 2.5
    env = {"CROSSVERIFY_REGULATOR_KEY_FILES": "a.key, b.key"}
    assert Config.load(None, environ=env).regulator.key_files == [Path.cwd() / "a.key", Path.cwd() / "b.key"]
