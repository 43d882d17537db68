"""The GM suite's primitives, China's commercial cryptography: SM2 keys and signatures (GB/T 32918.2, through
Tongsuo), SM2 public-key encryption (GB/T 32918.4, through GmSSL: Tongsuo's Python API offers none), SM3
(GB/T 32905) and SM4 in GCM mode (GB/T 32907, through OpenSSL).

Keys and values are raw bytes: a private key is 32 bytes, a public key the 64 bytes ``x || y`` (GB/T 32918.1's
uncompressed point without its ``04`` prefix), a signature the 64 bytes ``r || s``. A signature binds the
signer's identity digest Z (GB/T 32918.2, 5.5) under the default signer ID ``1234567812345678`` of GM/T 0009:
it signs e = SM3(Z || M). An SM2 ciphertext is ``C1 || C3 || C2`` (GB/T 32918.4-2016): the point C1 with its
``04`` prefix (65 bytes), the SM3 check value C3 (32 bytes), then the masked plaintext C2.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import gmssl_pyx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from tongsuopy.crypto import hashes as tongsuo_hashes
from tongsuopy.crypto.asymciphers import ec as tongsuo_ec
from tongsuopy.crypto.exceptions import InvalidSignature

from .errors import InvalidSM2Key

#: The recommended curve of GB/T 32918.5-2017: y^2 = x^3 + ax + b over GF(p), generator (GX, GY) of order N.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

#: The default signer ID of GM/T 0009-2012, which every crossverify SM2 signature uses.
DEFAULT_ID = b"1234567812345678"

PRIVATE_KEY_SIZE = 32
PUBLIC_KEY_SIZE = 64
SIGNATURE_SIZE = 64
#: C1 (65) and C3 (32): what SM2 encryption adds to the plaintext.
CIPHERTEXT_OVERHEAD = 97
SM4_KEY_SIZE = 16
GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16


def sm3(data: bytes) -> bytes:
    """SM3(data)."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _b32(i: int) -> bytes:
    return i.to_bytes(32, "big")


def is_public_key(public_key: bytes) -> bool:
    """Whether ``public_key`` is 64 bytes ``x || y`` of a point of the curve (both coordinates below p)."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        return False
    x, y = _int(public_key[:32]), _int(public_key[32:])
    return x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def require_public_key(public_key: bytes) -> bytes:
    """``public_key`` as bytes, or :class:`InvalidSM2Key` when it is not a point of the curve."""
    if not is_public_key(bytes(public_key)):
        raise InvalidSM2Key("an SM2 public key is the 64 bytes x || y of a point of the curve")
    return bytes(public_key)


def require_private_key(private_key: bytes) -> bytes:
    """``private_key`` as bytes, or :class:`InvalidSM2Key` when it is not 32 bytes of a scalar in [1, n - 2]."""
    if len(private_key) != PRIVATE_KEY_SIZE or not 1 <= _int(private_key) <= N - 2:
        raise InvalidSM2Key("an SM2 private key is 32 bytes of a scalar in [1, n - 2]")
    return bytes(private_key)


def identity_digest(public_key: bytes, signer_id: bytes = DEFAULT_ID) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || x || y) of GB/T 32918.2."""
    entl = (len(signer_id) * 8).to_bytes(2, "big")
    return sm3(entl + signer_id + _b32(A) + _b32(B) + _b32(GX) + _b32(GY) + require_public_key(public_key))


def generate_private_key() -> bytes:
    """A fresh private key."""
    key = tongsuo_ec.generate_private_key(tongsuo_ec.SM2())
    return _b32(key.private_numbers().private_value)


def public_key_of(private_key: bytes) -> bytes:
    """The public key [d]G of the private key d."""
    numbers = _private(private_key).public_key().public_numbers()
    return _b32(numbers.x) + _b32(numbers.y)


def _private(private_key: bytes) -> tongsuo_ec.EllipticCurvePrivateKey:
    return tongsuo_ec.derive_private_key(_int(require_private_key(private_key)), tongsuo_ec.SM2())


@lru_cache(maxsize=4096)
def _public(public_key: bytes) -> tongsuo_ec.EllipticCurvePublicKey:
    """Tongsuo's key object for ``public_key``: built (and the point checked) once per key, as a bank meets the
    same few holder and issuer keys again and again."""
    key = require_public_key(public_key)
    return tongsuo_ec.EllipticCurvePublicNumbers(_int(key[:32]), _int(key[32:]), tongsuo_ec.SM2()).public_key()


def signed_digest(public_key: bytes, message: bytes) -> bytes:
    """e = SM3(Z || M): what an SM2 signature over ``message`` by ``public_key`` signs."""
    return sm3(identity_digest(public_key) + message)


class SigningKey:
    """An SM2 private key that signs: ``sign(message)`` returns ``r || s`` over e = SM3(Z || message)."""

    def __init__(self, private_key: bytes) -> None:
        self._key = _private(private_key)
        numbers = self._key.public_key().public_numbers()
        self.public_key = _b32(numbers.x) + _b32(numbers.y)

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, tongsuo_ec.ECDSA(tongsuo_hashes.SM3())))
        return _b32(r) + _b32(s)


def sign(private_key: bytes, message: bytes) -> bytes:
    """The SM2 signature ``r || s`` of ``private_key`` over ``message``, with the signer's identity digest."""
    return SigningKey(private_key).sign(message)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (``r || s``) is an SM2 signature by ``public_key`` over ``message``; false for any
    malformed input (r or s outside [1, n - 1], a key off the curve)."""
    if len(signature) != SIGNATURE_SIZE or not is_public_key(public_key):
        return False
    r, s = _int(signature[:32]), _int(signature[32:])
    if not (1 <= r < N and 1 <= s < N):
        return False
    try:
        _public(bytes(public_key)).verify(encode_dss_signature(r, s), message, tongsuo_ec.ECDSA(tongsuo_hashes.SM3()))
    except InvalidSignature:
        return False
    return True


def encrypt(public_key: bytes, plaintext: bytes) -> bytes:
    """SM2 public-key encryption (GB/T 32918.4) of a short plaintext (at most 255 bytes: a key, not a body)."""
    if not 1 <= len(plaintext) <= 255:
        raise ValueError("SM2 encryption takes 1 to 255 bytes: seal a body with SM4 and encrypt its key")
    der = gmssl_pyx.sm2_encrypt(require_public_key(public_key), plaintext)
    x, y, c3, c2 = _der_ciphertext(der)
    return b"\x04" + _b32(x) + _b32(y) + c3 + c2


def decrypt(private_key: bytes, ciphertext: bytes) -> bytes | None:
    """The plaintext of an SM2 ciphertext, or None when it was not made for this key or was altered."""
    if len(ciphertext) <= CIPHERTEXT_OVERHEAD or ciphertext[0] != 4 or not is_public_key(ciphertext[1:65]):
        return None
    c1, c3, c2 = ciphertext[1:65], ciphertext[65:97], ciphertext[97:]
    if len(c2) > 255:
        return None
    der = _der_sequence(_der_integer(_int(c1[:32])) + _der_integer(_int(c1[32:])) + _der(0x04, c3) + _der(0x04, c2))
    key = require_private_key(private_key)
    try:
        with _quiet_stderr():
            return bytes(gmssl_pyx.sm2_decrypt(key, der))
    except gmssl_pyx.GmsslInnerError:
        return None


_STDERR_LOCK = threading.Lock()


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 pointed at the null device for the duration: GmSSL prints its call trace there when a
    decryption fails, which for a part sealed to another key is the expected outcome, not an error to show."""
    with _STDERR_LOCK, open(os.devnull, "wb") as null:
        saved = os.dup(2)
        try:
            os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class SM4GCM:
    """SM4 in GCM mode, with the interface of ``cryptography``'s ``AESGCM``: ``encrypt`` returns the ciphertext
    with its 16-byte tag appended, ``decrypt`` raises ``cryptography.exceptions.InvalidTag``."""

    def __init__(self, key: bytes) -> None:
        if len(key) != SM4_KEY_SIZE:
            raise ValueError("an SM4 key is 16 bytes")
        self._key = bytes(key)

    @staticmethod
    def generate_key() -> bytes:
        return secrets.token_bytes(SM4_KEY_SIZE)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        if associated_data:
            encryptor.authenticate_additional_data(associated_data)
        return encryptor.update(data) + encryptor.finalize() + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if len(data) < GCM_TAG_SIZE:
            raise InvalidTag()
        decryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, data[-GCM_TAG_SIZE:])).decryptor()
        if associated_data:
            decryptor.authenticate_additional_data(associated_data)
        return decryptor.update(data[:-GCM_TAG_SIZE]) + decryptor.finalize()


#: PBKDF2-HMAC-SM3 iterations of a key file's password (about 0.7 s here: a key is opened once per process).
PASSWORD_ITERATIONS = 300_000


def password_seal(data: bytes, password: str, aad: bytes, iterations: int = PASSWORD_ITERATIONS) -> dict[str, Any]:
    """Encrypt ``data`` under ``password`` with GM primitives only: an SM4 key from PBKDF2-HMAC-SM3 over a fresh
    16-byte salt, then SM4-GCM with ``aad``. The result's members are what a key file keeps."""
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(GCM_NONCE_SIZE)
    sealed = SM4GCM(_password_key(password, salt, iterations)).encrypt(nonce, data, aad)
    return {"kdf": "pbkdf2-hmac-sm3", "iterations": iterations, "salt": "0x" + salt.hex(), "cipher": "sm4-gcm",
            "nonce": "0x" + nonce.hex(), "ciphertext": "0x" + sealed.hex()}


def password_open(sealed: dict[str, Any], password: str, aad: bytes) -> bytes:
    """The data :func:`password_seal` sealed; ``InvalidTag`` for a wrong password or altered bytes, ``ValueError``
    for members that are not what it writes."""
    if sealed.get("kdf") != "pbkdf2-hmac-sm3" or sealed.get("cipher") != "sm4-gcm":
        raise ValueError("not sealed with pbkdf2-hmac-sm3 and sm4-gcm")
    iterations = sealed.get("iterations")
    if type(iterations) is not int:
        raise ValueError(f"PBKDF2 iterations are an integer, got {iterations!r}")
    try:
        salt, nonce, ciphertext = (bytes.fromhex(sealed[member][2:]) for member in ("salt", "nonce", "ciphertext"))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"salt, nonce and ciphertext are 0x-hex text: {exc!r}") from None
    return SM4GCM(_password_key(password, salt, iterations)).decrypt(nonce, ciphertext, aad)


def _password_key(password: str, salt: bytes, iterations: int) -> bytes:
    if not 1_000 <= iterations <= 10_000_000:
        raise ValueError(f"PBKDF2 iterations out of range: {iterations}")
    return PBKDF2HMAC(hashes.SM3(), SM4_KEY_SIZE, salt, iterations).derive(password.encode())


# GmSSL reads and writes SM2 ciphertexts in DER (SEQUENCE of x, y, C3, C2); crossverify keeps the raw form.


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + body


def _der_integer(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8 or 1, "big")
    return _der(0x02, body)


def _der_sequence(body: bytes) -> bytes:
    return _der(0x30, body)


def _der_ciphertext(der: bytes) -> tuple[int, int, bytes, bytes]:
    def read(buf: bytes, at: int, tag: int) -> tuple[bytes, int]:
        if buf[at] != tag:
            raise ValueError("unexpected DER from GmSSL")
        n, at = buf[at + 1], at + 2
        if n & 0x80:
            size = n & 0x7F
            n, at = int.from_bytes(buf[at:at + size], "big"), at + size
        return buf[at:at + n], at + n

    body, _ = read(der, 0, 0x30)
    x, at = read(body, 0, 0x02)
    y, at = read(body, at, 0x02)
    c3, at = read(body, at, 0x04)
    c2, _ = read(body, at, 0x04)
    return _int(x), _int(y), c3, c2
