"""SM2 signing keys for the GM suite: in a keystore file, or inside a PKCS#11 token whose module offers SM2.

A key's address is the last 20 bytes of SM3(x || y), as FISCO BCOS names SM2 accounts; the registry knows an
issuer's SM2 key by it. The keystore file uses GM primitives only::

    {"crypto": "sm2", "address": "0x...", "publicKey": "0x<x || y>",
     "kdf": "pbkdf2-hmac-sm3", "iterations": 300000, "salt": "0x<16 bytes>",
     "cipher": "sm4-gcm", "nonce": "0x<12 bytes>", "ciphertext": "0x<private key || tag>"}

The SM4 key is PBKDF2-HMAC-SM3(password, salt, iterations), 16 bytes; the GCM associated data is
``"crossverify SM2 keystore" || publicKey``, so a file whose public key was swapped does not open.

PKCS#11 (through 3.1) defines no SM2 mechanism: a module implementing GM/T 0018's SM2 exposes it under a
vendor-defined number, which :class:`SM2Mechanism` names. SoftHSM2 offers none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_utils.address import to_checksum_address

from .. import gm
from ..errors import InvalidSM2Key, KeyLoadError, SigningFailed
from .keystore import empty_variable, write_key_file

_KEYSTORE_AAD = b"crossverify SM2 keystore"
_KEYSTORE_MEMBERS = {"crypto", "address", "publicKey", "kdf", "iterations", "salt", "cipher", "nonce", "ciphertext"}


def sm2_address(public_key: bytes) -> str:
    """The address of an SM2 public key: the last 20 bytes of SM3(x || y), checksummed."""
    return str(to_checksum_address(gm.sm3(gm.require_public_key(public_key))[12:]))


class LocalSM2Key:
    """An SM2 private key held in this process: signs GM requests (the ``SM2Signer`` of
    :mod:`crossverify.chain.typed_data`)."""

    def __init__(self, private_key: bytes) -> None:
        self._signing = gm.SigningKey(private_key)
        self._private = bytes(private_key)
        self.public_key: bytes = self._signing.public_key
        self.address: str = sm2_address(self.public_key)

    def __repr__(self) -> str:
        return f"LocalSM2Key({self.address})"

    @classmethod
    def generate(cls) -> LocalSM2Key:
        return cls(gm.generate_private_key())

    @classmethod
    def labelled(cls, label: str) -> LocalSM2Key:
        """A deterministic key named by ``label``, for tests and the demo only: SM3(label), reduced into range."""
        return cls((int.from_bytes(gm.sm3(label.encode()), "big") % (gm.N - 2) + 1).to_bytes(32, "big"))

    def sign(self, message: bytes) -> bytes:
        return self._signing.sign(message)

    def write_keystore(self, path: Path, password: str, iterations: int = gm.PASSWORD_ITERATIONS) -> None:
        """Encrypt the key into a new keystore file readable by its owner only; never overwrites."""
        data = {"crypto": "sm2", "address": self.address, "publicKey": "0x" + self.public_key.hex(),
                **gm.password_seal(self._private, password, _KEYSTORE_AAD + self.public_key, iterations)}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_key_file(path, json.dumps(data).encode())


def is_sm2_keystore(path: Path) -> bool:
    """Whether ``path`` is an SM2 keystore file (rather than an Ethereum keystore)."""
    try:
        return bool(json.loads(path.read_text()).get("crypto") == "sm2")
    except (OSError, ValueError, AttributeError):
        return False


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyLoadError(f"cannot read SM2 keystore {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) != _KEYSTORE_MEMBERS or data["crypto"] != "sm2" \
            or data["kdf"] != "pbkdf2-hmac-sm3" or data["cipher"] != "sm4-gcm":
        raise KeyLoadError(f"{path} is not an SM2 keystore (pbkdf2-hmac-sm3, sm4-gcm)")
    return data


def sm2_keystore_address(path: Path) -> str:
    """The address an SM2 keystore declares, read without its password (and checked against its public key)."""
    data = _read(path)
    try:
        address = sm2_address(bytes.fromhex(data["publicKey"][2:]))
    except (ValueError, TypeError, InvalidSM2Key) as exc:
        raise KeyLoadError(f"{path}: unusable public key: {exc}") from None
    try:
        named = to_checksum_address(data["address"])
    except (ValueError, TypeError):
        named = None
    if address != named:
        raise KeyLoadError(f"{path}: the address does not belong to the public key")
    return address


def load_sm2_keystore(path: Path, password_env: str, prompt: Callable[[str], str] | None = None) -> LocalSM2Key:
    """Decrypt an SM2 keystore; the password comes from ``$password_env``, else from ``prompt``."""
    data = _read(path)
    sm2_keystore_address(path)
    password = os.environ.get(password_env)
    if password is None:
        if prompt is None:
            raise KeyLoadError(f"no password for {path}: set {password_env}")
        password = prompt(f"Password for {path.name}")
    try:
        public_key = bytes.fromhex(data["publicKey"][2:])
        private = gm.password_open(data, password, _KEYSTORE_AAD + public_key)
    except InvalidTag:
        raise KeyLoadError(f"wrong password for SM2 keystore {path}{empty_variable(password, password_env)}") from None
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{path} is not a readable SM2 keystore: {exc}") from None
    local = LocalSM2Key(private)
    if local.public_key != public_key:
        raise KeyLoadError(f"{path}: the private key does not match the public key")
    return local


@dataclass(frozen=True, slots=True)
class SM2Mechanism:
    """How a PKCS#11 module signs with SM2: its vendor-defined mechanism number, whether the token is given the
    digest e = SM3(Z || M) (crossverify computes Z with the default ID) or the message itself (the token hashes),
    and whether it answers raw ``r || s`` or DER."""

    code: int
    signs: Literal["digest", "message"] = "digest"
    output: Literal["raw", "der"] = "raw"


class TokenSM2Key:
    """An SM2 key that stays in a PKCS#11 token: ``key`` is the token's private key object (``python-pkcs11``'s
    ``SignMixin``, found by label), ``public_key`` its public half's ``x || y``. Every signature is checked
    against the public key before it leaves, so a token that answers wrongly is named, never believed."""

    def __init__(self, key: Any, public_key: bytes, mechanism: SM2Mechanism, where: str) -> None:
        self._key = key
        self.public_key = gm.require_public_key(public_key)
        self.address = sm2_address(self.public_key)
        self.mechanism = mechanism
        self.where = where

    def __repr__(self) -> str:
        return f"TokenSM2Key({self.address}, {self.where})"

    def sign(self, message: bytes) -> bytes:
        data = gm.signed_digest(self.public_key, message) if self.mechanism.signs == "digest" else message
        try:
            raw = bytes(self._key.sign(data, mechanism=self.mechanism.code))
        except Exception as exc:  # python-pkcs11 raises a PKCS11Error subclass per return value
            raise SigningFailed(f"{self.where}: the token could not sign ({type(exc).__name__} {exc})") from None
        if self.mechanism.output == "der":
            try:
                r, s = decode_dss_signature(raw)
                raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            except (ValueError, OverflowError):
                raise SigningFailed(f"{self.where}: the token's signature is not DER") from None
        if not gm.verify(self.public_key, message, raw):
            raise SigningFailed(f"{self.where}: the token's signature does not verify against its public key")
        return raw
