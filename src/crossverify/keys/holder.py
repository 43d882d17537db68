"""The resident's own key: an ECDSA P-256 private key in a PKCS #8 PEM file, readable by its owner only.

Residents generate it themselves (``crossverify holder keygen``); the issuer only ever sees the public half,
which goes into the certificate's ``cnf`` claim. A password, when given, encrypts the file (PKCS #8 with the
best encryption ``cryptography`` offers).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import KeyLoadError

FILE_MODE = 0o600


def generate_holder_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key from the operating system's secure generator."""
    return ec.generate_private_key(ec.SECP256R1())


def write_holder_key(key: ec.EllipticCurvePrivateKey, path: Path, password: str | None = None) -> None:
    """Write ``key`` to a new file ``path`` with mode 0600; an existing file is never overwritten."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        raise KeyLoadError(f"{path} exists; not overwriting a key") from None
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
        file.flush()
        os.fsync(file.fileno())


def load_holder_key(path: Path, password: str | None = None) -> ec.EllipticCurvePrivateKey:
    """Read a holder key file; a missing file, wrong password or a key that is not P-256 raises ``KeyLoadError``."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"cannot read holder key {path}: {exc}") from None
    try:
        key = serialization.load_pem_private_key(pem, password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{path} is not a readable holder key (or the password is wrong): {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyLoadError(f"{path} holds a key that is not ECDSA P-256")
    return key
