"""Exit codes scripts can rely on: 0 valid, 1 invalid or refused, 2 unusable input, 3 unavailable."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from crossverify.cli import main
from crossverify.issuer.journal import Journal

from ..conftest import Consortium


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"CROSSVERIFY_PASSWORD": None})
    return result.exit_code, result.output


def test_version() -> None:
    code, out = run("--version")
    assert code == 0 and out.startswith("crossverify ")


def test_a_store_held_by_another_writer_exits_3(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\n')
    holder = Journal(tmp_path / "journal.sqlite")
    try:
        code, out = run("--config", str(config), "issuer", "status")
    finally:
        holder.close()
    assert code == 3 and "StoreLocked" in out and "in use by process" in out
    code, out = run("--config", str(config), "--json", "issuer", "status")
    assert code == 0, out


def test_a_journal_only_command_needs_no_node_and_no_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[network]\nrpc = "http://127.0.0.1:9"\n[keys]\nsigner_keystore = "absent.json"\n'
                      '[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\n')
    code, out = run("--config", str(config), "--json", "issuer", "status")
    assert code == 0, out


def test_unusable_configuration_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[issuer]\nmax_batch = 'many'\n")
    code, out = run("--config", str(config), "issuer", "status")
    assert code == 2 and "expected int" in out


def test_a_registry_that_refuses_exits_1(consortium: Consortium, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[network]\nregistry = "{consortium.registry.address}"\n'
                      f'[keys]\nsender_address = "{consortium.outsider}"\n')
    code, out = run("--config", str(config), "operator", "approve", "1")
    assert code == 1 and "ConsortiumNotOperator" in out


def test_an_index_of_a_chain_without_the_registry_exits_3(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[network]\nregistry = "0x' + '12' * 20 + '"\n[audit]\nindex = "audit.sqlite"\n')
    for command in ("audit", "regulator"):
        code, out = run("--config", str(config), command, "sync")
        assert code == 3 and "RegistryNotFound: no registry at" in out and "Traceback" not in out, out


def test_a_keystore_without_its_password_and_no_terminal_exits_2(consortium: Consortium, tmp_path: Path) -> None:
    from eth_account import Account

    from crossverify.keys.keystore import write_keystore

    write_keystore(Account.create(), tmp_path / "signer.json", "a password (test only)")
    config = tmp_path / "c.toml"
    config.write_text(f'[network]\nregistry = "{consortium.registry.address}"\n'
                      f'[keys]\nsender_address = "{consortium.macao_operator}"\nsigner_keystore = "signer.json"\n'
                      '[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\n')
    code, out = run("--config", str(config), "issuer", "run")
    assert code == 2 and "Aborted" not in out, out


def test_workers_need_a_node_and_on_sqlite_a_bank_alone(tmp_path: Path) -> None:
    from crossverify.service.auth import new_key

    config = tmp_path / "c.toml"
    config.write_text(f'[service.api_keys]\nbank = "bank {new_key()[1]}"\n')
    code, out = run("--config", str(config), "serve", "--workers", "2")
    assert code == 2 and "JSON-RPC node" in out
    config.write_text(f'[network]\nrpc = "http://127.0.0.1:9"\n[service.api_keys]\nbnu = "issuer {new_key()[1]}"\n')
    code, out = run("--config", str(config), "serve", "--workers", "2")
    assert code == 2 and "one process" in out
