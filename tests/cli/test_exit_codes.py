"""Exit codes scripts can rely on: 0 valid, 1 invalid or refused, 2 unusable input, 3 unavailable."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner

from crossverify.cli import main
from crossverify.cli._shell import BadInput, failures
from crossverify.errors import DomainMismatch, IndexNotSynced
from crossverify.issuer.journal import Journal

from ..conftest import Consortium


def run(*args: str) -> tuple[int, str]:
    # `serve --workers` hands its workers the configuration through the environment: restored here, so that no
    # `crossverify serve` this test process starts later (the replicas of tests/node) inherits it.
    with mock.patch.dict(os.environ):
        result = CliRunner().invoke(main, list(args), env={"CROSSVERIFY_PASSWORD": None})
    return result.exit_code, result.output


def test_version() -> None:
    code, out = run("--version")
    assert code == 0 and out.startswith("crossverify ")


def _certificates(folder: Path, claim_bytes: int = 16, count: int = 1, name: str = "DEP") -> Path:
    file = folder / f"{name}.json"
    file.write_text(json.dumps([{"reference": f"{name}-{i}", "docType": "DEPCERT", "notAfter": 2**40 - 1,
                                 "claims": {"holder_name": "LEI Ka Ian", "statement": "x" * claim_bytes}}
                                for i in range(count)]))
    return file


@pytest.mark.parametrize("error", [DomainMismatch("the contract signs under another chain's domain"),
                                   IndexNotSynced("run crossverify regulator sync")])
def test_a_setting_or_step_to_fix_exits_2_by_name(error: Exception) -> None:
    """What no wait cures (the registry configured answers for another chain or contract; an index never synced)
    is unusable input, named: not 'refused' (1) nor 'unavailable, run again' (3)."""
    with pytest.raises(BadInput, match=f"^{type(error).__name__}: "), failures():
        raise error


def test_a_store_held_by_another_writer_exits_3_and_can_still_be_read(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\nhash_alg = "keccak256"\n')
    holder = Journal(tmp_path / "journal.sqlite")
    try:
        code, out = run("--config", str(config), "issuer", "issue", str(_certificates(tmp_path)))
        assert code == 3 and "StoreLocked" in out and "in use by process" in out
        code, out = run("--config", str(config), "--json", "issuer", "status")  # a reader needs no lock
        assert (code, json.loads(out)) == (0, {"pending": 0}), out
    finally:
        holder.close()
    code, out = run("--config", str(config), "--json", "issuer", "issue", str(_certificates(tmp_path)))
    assert code == 0, out


def test_a_read_only_journal_is_still_read(tmp_path: Path) -> None:
    """A journal nobody may write (here immutable, which binds root too: a read-only disk) answers the commands
    that only read it; one that writes is told why it cannot."""
    journal = tmp_path / "var" / "journal.sqlite"
    config = tmp_path / "c.toml"
    config.write_text(f'[issuer]\nid = "BNUMMOMX"\njournal = "{journal}"\npickups = "{journal.parent}/pickups.sqlite"'
                      f'\nhash_alg = "keccak256"\n')
    assert run("--config", str(config), "issuer", "issue", str(_certificates(tmp_path)))[0] == 0
    assert run("--config", str(config), "issuer", "pickup", "offer", str(_certificates(tmp_path, name="PICK")))[0] == 0
    frozen = [journal.parent, *journal.parent.iterdir()]
    if subprocess.run(["chattr", "+i", *map(str, frozen)], capture_output=True).returncode != 0:
        pytest.skip("this file system cannot make files immutable (chattr +i)")
    try:
        code, out = run("--config", str(config), "--json", "issuer", "status")
        assert (code, json.loads(out) if code == 0 else out) == (0, {"pending": 1})
        code, out = run("--config", str(config), "--json", "issuer", "backup", str(tmp_path / "copy.sqlite"))
        assert code == 0, out
        code, out = run("--config", str(config), "--json", "issuer", "pickup", "status", "PICK-0")
        assert (code, json.loads(out) if code == 0 else out) == (0, {"reference": "PICK-0", "state": "offered"})
        code, out = run("--config", str(config), "issuer", "issue", str(_certificates(tmp_path)))
        assert code == 3 and "StoreUnavailable" in out, out
    finally:
        subprocess.run(["chattr", "-i", *map(str, frozen)], check=True)
    copy = Journal(tmp_path / "copy.sqlite", read_only=True)
    assert copy.counts("BNUMMOMX") == {"pending": 1}
    copy.close()


def test_a_backup_onto_an_existing_file_is_unusable_input_not_unavailable(tmp_path: Path) -> None:
    """A backup job whose target exists (yesterday's name again) is told so with exit 2: exit 3 means "run it again
    later", which a retrying cron would do for ever."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\nhash_alg = "keccak256"\n')
    assert run("--config", str(config), "issuer", "issue", str(_certificates(tmp_path)))[0] == 0
    assert run("--config", str(config), "issuer", "backup", str(tmp_path / "copy.sqlite"))[0] == 0
    code, out = run("--config", str(config), "issuer", "backup", str(tmp_path / "copy.sqlite"))
    assert code == 2 and "copy.sqlite exists; not overwriting it" in out, out


@pytest.mark.parametrize(("typed", "said"), [
    ("0x90F79bf6EB2c4f870365E785982E1f101E93b907", "fails its EIP-55 checksum"),  # the last digit mistyped
    ("0x90F79bf6EB2c4f870365E785982E1f101E93b90", "expected an account address"),  # one digit dropped
    ("0x90f79bf6eb2c4f870365e785982e1f101e93b906", None),  # lower case: no checksum, taken (no node here)
])
def test_an_account_is_checked_before_anything_is_proposed(typed: str, said: str | None) -> None:
    """An operator who mistypes a character of a checksummed address is stopped (exit 2) before a proposal names
    an account nobody holds; an address in one case carries no checksum and is taken as written."""
    for args in (["operator", "propose", "admit-member", typed, "--role", "verifier"],
                 ["operator", "propose", "replace-operator", typed, typed],
                 ["operator", "deploy", "--operator", f"{typed}@MO", "--operator", f"{typed}@GD"]):
        code, out = run(*args)
        assert code == 2 and (said in out if said else "account address" not in out and "EIP-55" not in out), out


@pytest.mark.parametrize(("holder_key", "said"), [
    (None, "holderKey alice.cnf.json: cannot read it"),  # the resident's file not copied in
    ('{"jwk": {}}', "holderKey alice.cnf.json: not the file 'crossverify holder keygen --claim' writes"),
])
def test_a_missing_or_wrong_holder_key_file_is_named_as_such(tmp_path: Path, holder_key: str | None,
                                                             said: str) -> None:
    """An issuer whose input names a resident's key file it does not have (or another file) is told so, not that an
    attachment is unreadable (there is none) nor that the entry lacks reference, docType, notAfter or claims."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\nhash_alg = "keccak256"\n')
    if holder_key is not None:
        (tmp_path / "alice.cnf.json").write_text(holder_key)
    entry = {"reference": "DEP-1", "docType": "DEPCERT", "notAfter": 2**40 - 1, "claims": {"holder_name": "LEI"},
             "holderKey": "alice.cnf.json"}
    (tmp_path / "in.json").write_text(json.dumps([entry]))
    code, out = run("--config", str(config), "issuer", "issue", str(tmp_path / "in.json"))
    assert code == 2 and said in out and "attachment" not in out, out


@pytest.mark.parametrize(("entry", "said"), [
    (1, "an entry is int, not an object"),
    ({"reference": "P-1", "docType": "DEPCERT", "notAfter": 2**40 - 1, "claims": {}, "holderKey": "alice.cnf.json"},
     "comes from them at pickup"),  # the input of 'issuer issue', offered as it is
])
def test_a_pickup_offer_of_a_wrong_entry_is_named(tmp_path: Path, entry: object, said: str) -> None:
    """An offer file with an entry that is not a certificate, or one already bound to a key file (holderKey, as
    'issue' takes), is refused by name (exit 2): not a traceback, nor 'a holder key is a file; give it in an input
    file' for a file given."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\npickups = "pickups.sqlite"\nhash_alg = "keccak256"\n')
    (tmp_path / "offer.json").write_text(json.dumps([entry]))
    code, out = run("--config", str(config), "issuer", "pickup", "offer", str(tmp_path / "offer.json"))
    assert code == 2 and said in out, out


def test_an_expired_certificate_is_refused_before_anything_is_journalled(tmp_path: Path) -> None:
    """Journalling needs no node, so a certificate whose notAfter has passed by this machine's clock would be taken,
    only to lapse unanchored: it is refused by name (exit 2), and the file's other certificates are not journalled."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\nhash_alg = "keccak256"\n')
    file = _certificates(tmp_path, count=2)
    entries = json.loads(file.read_text())
    entries[1] |= {"issuedAt": int(time.time()) - 86400, "asOf": int(time.time()) - 86400,
                   "notAfter": int(time.time()) - 3600}  # issued yesterday, as a back office exports it
    file.write_text(json.dumps(entries))
    code, out = run("--config", str(config), "issuer", "issue", str(file))
    assert code == 2 and "certificate DEP-1 expires at" in out and "this machine's clock" in out, out
    code, out = run("--config", str(config), "--json", "issuer", "status")
    assert (code, json.loads(out) if code == 0 else out) == (0, {"pending": 0})


def test_a_certificate_journalled_by_mistake_is_withdrawn_before_it_is_sealed(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\nhash_alg = "keccak256"\n')
    assert run("--config", str(config), "issuer", "issue", str(_certificates(tmp_path, count=2)))[0] == 0
    code, out = run("--config", str(config), "--json", "issuer", "withdraw", "DEP-0")
    assert (code, json.loads(out) if code == 0 else out) == (0, {"withdrawn": "DEP-0"})
    code, out = run("--config", str(config), "issuer", "withdraw", "DEP-0")
    assert code == 2 and "DEP-0 is not in BNUMMOMX's journal" in out, out
    code, out = run("--config", str(config), "--json", "issuer", "status")
    assert (code, json.loads(out) if code == 0 else out) == (0, {"pending": 1})


def test_a_pickup_offer_is_all_or_nothing(tmp_path: Path) -> None:
    """An offer file with one entry refused (here: a reference offered before with other content, or given twice)
    offers none of them: an entry before it keeps the code its resident holds, and none gets a code never shown."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\npickups = "pickups.sqlite"\njournal = "journal.sqlite"\n'
                      'hash_alg = "keccak256"\n')
    entries = [{"reference": f"P-{i}", "docType": "DEPCERT", "notAfter": 2**40 - 1, "claims": {"n": i}}
               for i in range(3)]

    def offer(*items: object) -> tuple[int, str]:
        (tmp_path / "offer.json").write_text(json.dumps(items))
        return run("--config", str(config), "--json", "issuer", "pickup", "offer", str(tmp_path / "offer.json"))

    code, out = offer(entries[0], entries[2])
    assert code == 0, out
    codes = {o["reference"]: o["code"] for o in json.loads(out)}
    changed = {**entries[2], "claims": {"n": "changed"}}
    for refused, said in [((entries[0], entries[1], changed), "other content"),
                          ((entries[1], entries[1]), "P-1 is offered twice")]:
        code, out = offer(*refused)
        assert code == 2 and said in out, out
        code, out = run("--config", str(config), "issuer", "pickup", "status", "P-1")
        assert code == 2 and "no pickup is kept for P-1" in out, out
    with sqlite3.connect(tmp_path / "pickups.sqlite") as db:
        kept = dict(db.execute("SELECT reference, code_hash FROM pickups").fetchall())
    assert kept == {r: hashlib.sha256(c.replace("-", "").encode()).digest() for r, c in codes.items()}


def test_a_backup_of_a_journal_in_postgresql_says_how_to_back_it_up(tmp_path: Path) -> None:
    """'issuer backup' copies an SQLite journal; one in PostgreSQL is backed up by the database's own tools: said at
    once (exit 2), not exit 3 ('run again once it is back') after reaching for the database."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\n[storage]\nurl = "postgresql://crossverify@127.0.0.1:9/bank"\n')
    code, out = run("--config", str(config), "issuer", "backup", str(tmp_path / "copy.sqlite"))
    assert code == 2 and "pg_dump" in out, out


def test_a_full_disk_stops_issuance_by_name_and_journals_nothing(tmp_path: Path) -> None:
    """A file-size limit (as a full disk) met while the journal spills a large transaction to disk: exit 3 with
    the store's error named (not the engine's "cannot rollback"), and the journal keeps only what it had."""
    config = tmp_path / "c.toml"
    config.write_text('[issuer]\nid = "BNUMMOMX"\njournal = "journal.sqlite"\nhash_alg = "keccak256"\n')
    assert run("--config", str(config), "issuer", "issue", str(_certificates(tmp_path)))[0] == 0
    large = _certificates(tmp_path, claim_bytes=400_000, count=8, name="LARGE")  # beyond SQLite's 2 MiB cache

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    result = subprocess.run([sys.executable, "-m", "crossverify.cli", "--config", str(config), "issuer", "issue",
                             str(large)], capture_output=True, text=True, preexec_fn=limited, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "StoreUnavailable" in result.stderr and "disk is full" in result.stderr, result.stderr
    assert "rollback" not in result.stderr and "Traceback" not in result.stderr
    code, out = run("--config", str(config), "--json", "issuer", "status")
    assert (code, json.loads(out)) == (0, {"pending": 1})


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


def test_workers_on_a_port_in_use_exit_2_before_any_starts(tmp_path: Path) -> None:
    from crossverify.service.auth import new_key

    config = tmp_path / "c.toml"
    config.write_text(f'[network]\nrpc = "http://127.0.0.1:9"\n[service.api_keys]\nbank = "bank {new_key()[1]}"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out = run("--config", str(config), "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port))
    assert code == 2 and f"cannot serve on 127.0.0.1:{port}: Address already in use" in out, out
