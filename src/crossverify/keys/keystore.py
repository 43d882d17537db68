"""Keys from encrypted keystore files (eth-account), with plain private keys only in development mode."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from ..errors import KeyLoadError


def load_keystore(path: Path, password_env: str, prompt: Callable[[str], str] | None = None) -> LocalAccount:
    """Decrypt a keystore file; the password comes from ``$password_env``, else from ``prompt``."""
    try:
        keystore = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyLoadError(f"cannot read keystore {path}: {exc}") from None
    _not_sm2(keystore, path)
    _bounded_kdf(keystore, path)
    password = os.environ.get(password_env)
    if password is None:
        if prompt is None:
            raise KeyLoadError(f"no password for {path}: set {password_env}")
        password = prompt(f"Password for {path.name}")
    try:
        account: LocalAccount = Account.from_key(Account.decrypt(keystore, password))
    except (KeyError, TypeError, AttributeError):
        raise KeyLoadError(f"{path} is not an encrypted keystore file (version 3, scrypt or pbkdf2)") from None
    except ValueError:
        raise KeyLoadError(f"wrong password for keystore {path}{empty_variable(password, password_env)}") from None
    declared = str(keystore.get("address", account.address)).lower().removeprefix("0x")
    if declared != account.address.lower()[2:]:
        raise KeyLoadError(f"{path} decrypts to {account.address}, not to the address it declares: the file is "
                           "damaged (its cipher parameters are outside the MAC)")
    return account


def keystore_address(path: Path) -> str:
    """The address a keystore file declares, read without its password."""
    try:
        keystore = json.loads(path.read_text())
        _not_sm2(keystore, path)
        address = str(keystore["address"])
        return str(to_checksum_address(address if address.startswith("0x") else "0x" + address))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyLoadError(f"cannot read the address in keystore {path}: {exc}") from None


def _not_sm2(keystore: object, path: Path) -> None:
    if isinstance(keystore, dict) and keystore.get("crypto") == "sm2":
        raise KeyLoadError(f"{path} is an SM2 keystore: it signs anchors in the GM suite ([keys] signer_keystore), "
                           "but transactions are sent with an Ethereum (secp256k1) key")


#: The costliest key derivation a keystore may ask for: scrypt's memory (128·n·r bytes) up to 1 GiB, geth's and
#: eth-account's defaults (n = 2**18, r = 8: 256 MiB) well inside; a hostile or damaged file asking for more is
#: refused before deriving, not left to hang the process or exhaust its memory.
SCRYPT_MAX_MEMORY = 2**30
SCRYPT_MAX_P = 16
PBKDF2_MAX_ITERATIONS = 10_000_000


def _bounded_kdf(keystore: object, path: Path) -> None:
    """Refuse key-derivation parameters beyond the bounds above (the file's other faults are named on decrypting)."""
    try:
        crypto = {str(k).lower(): v for k, v in keystore.items()}["crypto"]  # type: ignore[attr-defined]
        kdf, params = crypto["kdf"], crypto.get("kdfparams")
        if isinstance(kdf, dict):  # version 4 (EIP-2335)
            kdf, params = kdf["function"], kdf["params"]
        costly = int(params.get("dklen", 32)) > 64
        if kdf == "scrypt":
            n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
            costly |= 128 * n * r > SCRYPT_MAX_MEMORY or p > SCRYPT_MAX_P
            cost = f"scrypt n={n} r={r} p={p} dklen={params.get('dklen')}"
        elif kdf == "pbkdf2":
            costly |= int(params["c"]) > PBKDF2_MAX_ITERATIONS
            cost = f"pbkdf2 c={int(params['c'])} dklen={params.get('dklen')}"
        else:
            return
    except (AttributeError, KeyError, TypeError, ValueError):
        return
    if costly:
        raise KeyLoadError(f"{path} asks for a key derivation ({cost}) beyond the bound crossverify accepts "
                           f"(scrypt up to {SCRYPT_MAX_MEMORY // 2**20} MiB and p <= {SCRYPT_MAX_P}, pbkdf2 up to "
                           f"{PBKDF2_MAX_ITERATIONS} iterations, keys up to 64 bytes): a damaged or hostile file; "
                           "not deriving")


def empty_variable(password: str, password_env: str) -> str:
    """What to add to "wrong password" when the password was an empty variable (a secret not injected)."""
    return f": ${password_env} is set but empty" if not password and password_env in os.environ else ""


def plain_key(private_key: str, dev_mode: bool) -> LocalAccount:
    """A key given in plain text. Refused unless development mode is on: keep real keys in keystores."""
    if not dev_mode:
        raise KeyLoadError("plain private keys are for development only: set [keys] dev_mode = true, or use a keystore")
    try:
        account: LocalAccount = Account.from_key(private_key)
    except (ValueError, TypeError):
        raise KeyLoadError("the private key is not 32 bytes of hex") from None
    return account


def write_keystore(account: LocalAccount, path: Path, password: str) -> None:
    """Encrypt ``account`` into a new keystore file at ``path`` (scrypt, eth-account's defaults), readable by its
    owner only from the start; an existing file is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_key_file(path, json.dumps(Account.encrypt(account.key, password)).encode())


def write_key_file(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data``, readable by its owner only from the start, and make it durable (the file
    and its directory entry are synced): a key registered on the chain must survive a power cut after writing.
    An existing file is never overwritten."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyLoadError(f"{path} exists; not overwriting a key") from None
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
