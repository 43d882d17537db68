"""The resident's own key: an ECDSA P-256 private key in a PKCS #8 PEM file, readable by its owner only; in the
GM suite an SM2 key in a JSON file.

Residents generate it themselves (``crossverify holder keygen``); the issuer only ever sees the public half,
which goes into the certificate's ``cnf`` claim. A password, when given, encrypts the file (PKCS #8 with the
best encryption ``cryptography`` offers; an SM2 key with GM primitives only, PBKDF2-HMAC-SM3 and SM4-GCM)::

    {"crypto": "sm2", "publicKey": "0x<x || y>", "privateKey": "0x<32 bytes>"}
    {"crypto": "sm2", "publicKey": "0x<x || y>", "kdf": "pbkdf2-hmac-sm3", ..., "ciphertext": "0x..."}
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .. import gm
from ..errors import HolderKeyError, KeyLoadError
from ..format.holder import HolderPrivateKey, SM2HolderPrivateKey
from ..format.suite import Suite
from .keystore import write_key_file

_SM2_AAD = b"crossverify SM2 holder key"


def generate_holder_key(suite: Suite = Suite.STANDARD) -> HolderPrivateKey:
    """A fresh key from the operating system's secure generator: P-256, or SM2 in the GM suite."""
    if suite is Suite.GM:
        return SM2HolderPrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def write_holder_key(key: HolderPrivateKey, path: Path, password: str | None = None) -> None:
    """Write ``key`` to a new file ``path`` with mode 0600; an existing file is never overwritten."""
    if isinstance(key, SM2HolderPrivateKey):
        public = key.public_key().raw
        sealed = gm.password_seal(key.raw, password, _SM2_AAD + public) if password else {
            "privateKey": "0x" + key.raw.hex()}
        pem = json.dumps({"crypto": "sm2", "publicKey": "0x" + public.hex(), **sealed}).encode()
    else:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    write_key_file(path, pem)


def load_holder_key(path: Path, password: str | None = None) -> HolderPrivateKey:
    """Read a holder key file; a missing file, wrong password or a key that is neither P-256 nor SM2 raises
    ``KeyLoadError``."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"cannot read holder key {path}: {exc}") from None
    if pem.lstrip().startswith(b"{"):
        return _load_sm2(path, pem, password)
    try:
        key = serialization.load_pem_private_key(pem, password.encode() if password else None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"{path} is not a readable holder key (or the password is wrong): {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyLoadError(f"{path} holds a key that is not ECDSA P-256")
    return key


def _load_sm2(path: Path, text: bytes, password: str | None) -> SM2HolderPrivateKey:
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("crypto") != "sm2":
            raise ValueError("not an SM2 holder key")
        public = bytes.fromhex(data["publicKey"][2:])
        if "privateKey" in data:
            raw = bytes.fromhex(data["privateKey"][2:])
        elif not password:
            raise KeyLoadError(f"holder key {path} is encrypted: give its password")
        else:
            raw = gm.password_open(data, password, _SM2_AAD + public)
        key = SM2HolderPrivateKey(raw)
    except InvalidTag:
        raise KeyLoadError(f"wrong password for holder key {path}") from None
    except (ValueError, KeyError, TypeError, HolderKeyError) as exc:
        raise KeyLoadError(f"{path} is not a readable SM2 holder key: {exc}") from None
    if key.public_key().raw != public:
        raise KeyLoadError(f"{path}: the private key does not match the public key")
    return key
