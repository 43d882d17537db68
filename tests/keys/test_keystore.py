"""Keystore files: written private to their owner, read with the password from the environment or a prompt,
and plain keys only in development mode."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from eth_account import Account

from crossverify.errors import KeyLoadError
from crossverify.keys.keystore import keystore_address, load_keystore, plain_key, write_keystore
from crossverify.keys.sm2 import LocalSM2Key

TEST_KEY = "0x" + "11" * 32  # a labelled test key, never a real one


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "signer.json"
    write_keystore(Account.from_key(TEST_KEY), path, "correct horse")
    return path


def test_written_owner_only_and_read_back_with_the_environment(keystore: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    monkeypatch.setenv("TEST_KEYSTORE_PASSWORD", "correct horse")
    assert load_keystore(keystore, "TEST_KEYSTORE_PASSWORD").address == Account.from_key(TEST_KEY).address


def test_an_existing_file_is_never_overwritten(keystore: Path) -> None:
    kept = keystore.read_bytes()
    with pytest.raises(KeyLoadError, match="not overwriting"):
        write_keystore(Account.create(), keystore, "another")
    assert keystore.read_bytes() == kept


def test_a_new_keystore_and_its_directory_entry_are_synced(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A power cut after ``keys new`` must not lose the key the issuer has just registered on the chain."""
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), stat.S_ISDIR(os.fstat(fd).st_mode)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_keystore(Account.from_key(TEST_KEY), tmp_path / "new" / "signer.json", "pw")
    LocalSM2Key.generate().write_keystore(tmp_path / "sm2.json", "pw", iterations=1000)
    assert synced == [(str(tmp_path / "new" / "signer.json"), False), (str(tmp_path / "new"), True),
                      (str(tmp_path / "sm2.json"), False), (str(tmp_path), True)]


def test_the_prompt_is_asked_when_the_variable_is_unset(keystore: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_KEYSTORE_PASSWORD", raising=False)
    asked = []
    account = load_keystore(keystore, "TEST_KEYSTORE_PASSWORD", lambda text: asked.append(text) or "correct horse")
    assert account.address == Account.from_key(TEST_KEY).address
    assert asked == ["Password for signer.json"]


def test_no_password_and_no_prompt(keystore: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_KEYSTORE_PASSWORD", raising=False)
    with pytest.raises(KeyLoadError, match="set TEST_KEYSTORE_PASSWORD"):
        load_keystore(keystore, "TEST_KEYSTORE_PASSWORD")


def test_wrong_password(keystore: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEYSTORE_PASSWORD", "wrong")
    with pytest.raises(KeyLoadError, match=r"wrong password for keystore .*signer\.json$"):
        load_keystore(keystore, "TEST_KEYSTORE_PASSWORD")
    monkeypatch.setenv("TEST_KEYSTORE_PASSWORD", "")  # the secret was not injected
    with pytest.raises(KeyLoadError, match=r"\$TEST_KEYSTORE_PASSWORD is set but empty"):
        load_keystore(keystore, "TEST_KEYSTORE_PASSWORD")


@pytest.mark.parametrize("content", [None, "not json", '{"version": 3}'])
def test_unreadable_keystores(tmp_path: Path, content: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("TEST_KEYSTORE_PASSWORD", "x")
    with pytest.raises(KeyLoadError):
        load_keystore(path, "TEST_KEYSTORE_PASSWORD")


def test_a_damaged_iv_is_named_not_decrypted_to_another_key(keystore: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The v3 MAC covers the ciphertext, not the IV: a changed IV decrypts, with the right password, to a key
    nobody registered."""
    damaged = json.loads(keystore.read_text())
    damaged["crypto"]["cipherparams"]["iv"] = "00" * 16
    (tmp_path / "damaged.json").write_text(json.dumps(damaged))
    monkeypatch.setenv("TEST_KEYSTORE_PASSWORD", "correct horse")
    with pytest.raises(KeyLoadError, match="not to the address it declares"):
        load_keystore(tmp_path / "damaged.json", "TEST_KEYSTORE_PASSWORD")


@pytest.mark.parametrize("kdf, params", [
    ("scrypt", {"n": 2**30}), ("scrypt", {"r": 2**20}), ("scrypt", {"p": 2**20}), ("scrypt", {"dklen": 2**20}),
    ("pbkdf2", {"c": 2**40}),
])
def test_a_costly_key_derivation_is_refused_before_deriving(keystore: Path, tmp_path: Path, kdf: str,
                                                           params: dict[str, int],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile or damaged file asking for scrypt n = 2**30 would hang the process or exhaust its memory."""
    hostile = json.loads(keystore.read_text())
    defaults = {"dklen": 32, "salt": "00" * 16} | ({"n": 2**18, "r": 8, "p": 1} if kdf == "scrypt" else
                                                    {"c": 262144, "prf": "hmac-sha256"})
    hostile["crypto"] |= {"kdf": kdf, "kdfparams": defaults | params}
    (tmp_path / "hostile.json").write_text(json.dumps(hostile))
    monkeypatch.setenv("TEST_KEYSTORE_PASSWORD", "correct horse")
    monkeypatch.setattr(Account, "decrypt", lambda *_: pytest.fail("derived the key"))
    with pytest.raises(KeyLoadError, match=f"asks for a key derivation \\({kdf} .*not deriving"):
        load_keystore(tmp_path / "hostile.json", "TEST_KEYSTORE_PASSWORD")


def test_an_sm2_keystore_is_named_where_an_ethereum_key_sends(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    LocalSM2Key.generate().write_keystore(tmp_path / "sm2.json", "pw", iterations=1000)
    monkeypatch.setenv("TEST_KEYSTORE_PASSWORD", "pw")
    for read in (lambda path: load_keystore(path, "TEST_KEYSTORE_PASSWORD"), keystore_address):
        with pytest.raises(KeyLoadError, match="is an SM2 keystore"):
            read(tmp_path / "sm2.json")


def test_plain_keys_only_in_development_mode() -> None:
    with pytest.raises(KeyLoadError, match="development only"):
        plain_key(TEST_KEY, dev_mode=False)
    assert plain_key(TEST_KEY, dev_mode=True).address == Account.from_key(TEST_KEY).address
    with pytest.raises(KeyLoadError, match="not 32 bytes"):
        plain_key("0x1234", dev_mode=True)
