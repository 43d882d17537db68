"""Holder binding: the resident's public key, carried inside the certificate as the ``cnf`` claim.

The key is a claim like any other (salted, hashed into the document digest, redactable), named ``cnf`` and
valued ``{"jwk": {"kty": "EC", "crv": "P-256", "x": …, "y": …}}`` as RFC 7800 and SD-JWT confirm a holder's
key. Because it is covered by the digest the issuer anchors, nobody can swap it; because it is salted, it
never reaches the chain. The private key stays with the resident (a key file, a browser's WebCrypto store, a
passkey); holders sign with ECDSA over SHA-256, signatures as the 64 bytes ``r || s`` (IEEE P1363, WebCrypto's
form).

In the GM suite the key is SM2 (``"crv": "SM2"``, the 32-byte coordinates of the recommended curve), and the
holder signs with SM2 (GB/T 32918.2, the default signer ID), again as ``r || s``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from .. import gm
from ..errors import HolderKeyError, InvalidSM2Key

#: The reserved claim that holds the holder's public key.
HOLDER_CLAIM = "cnf"
SIGNATURE_BYTES = 64
_COORDINATE = 32
_ECDSA = ec.ECDSA(hashes.SHA256())
_RFC6979 = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_P256 = ec.SECP256R1()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


#: 32 bytes in canonical unpadded base64url: 42 characters, then one whose two low bits (beyond the 256th) are zero.
_COORDINATE_B64 = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]\Z")


def _unb64url(text: Any, member: str) -> bytes:
    if type(text) is str and _COORDINATE_B64.match(text):
        return binascii.a2b_base64(text.replace("-", "+").replace("_", "/") + "=")
    if not isinstance(text, str) or "=" in text or len(text) != 43:
        raise HolderKeyError(f"JWK member {member!r} must be 43 characters of unpadded base64url")
    try:
        data = base64.b64decode(text + "=", altchars=b"-_", validate=True)
    except binascii.Error:
        raise HolderKeyError(f"JWK member {member!r} is not base64url") from None
    if _b64url(data) != text:
        raise HolderKeyError(f"JWK member {member!r} is not in canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class SM2HolderKey:
    """A holder's SM2 public key (the GM suite): the 64 bytes ``x || y`` of a point of the curve."""

    raw: bytes

    def __post_init__(self) -> None:
        if not gm.is_public_key(self.raw):
            raise HolderKeyError("an SM2 holder key is the 64 bytes x || y of a point of the SM2 curve")


@dataclass(frozen=True, slots=True, repr=False)
class SM2HolderPrivateKey:
    """A holder's SM2 private key: 32 bytes. Keep it secret."""

    raw: bytes

    def __post_init__(self) -> None:
        try:
            gm.require_private_key(self.raw)
        except InvalidSM2Key as exc:
            raise HolderKeyError(str(exc)) from None

    def __repr__(self) -> str:
        return "SM2HolderPrivateKey(...)"

    @classmethod
    def generate(cls) -> SM2HolderPrivateKey:
        return cls(gm.generate_private_key())

    def public_key(self) -> SM2HolderKey:
        return SM2HolderKey(gm.public_key_of(self.raw))


#: A holder's public key: ECDSA P-256 (the standard suite, and the GM suite where the consortium allows it), or SM2.
HolderPublicKey = ec.EllipticCurvePublicKey | SM2HolderKey
HolderPrivateKey = ec.EllipticCurvePrivateKey | SM2HolderPrivateKey


def public_jwk(key: HolderPublicKey) -> dict[str, str]:
    """The key as a JWK (RFC 7517): ``kty``, ``crv``, ``x``, ``y`` and nothing else."""
    if isinstance(key, SM2HolderKey):
        return {"kty": "EC", "crv": "SM2", "x": _b64url(key.raw[:_COORDINATE]), "y": _b64url(key.raw[_COORDINATE:])}
    if not isinstance(key.curve, ec.SECP256R1):
        raise HolderKeyError(f"holder keys are P-256, got {key.curve.name}")
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64url(numbers.x.to_bytes(_COORDINATE, "big")),
            "y": _b64url(numbers.y.to_bytes(_COORDINATE, "big"))}


def holder_claim(key: HolderPublicKey) -> dict[str, Any]:
    """The value of the ``cnf`` claim that binds a certificate to ``key``."""
    return {"jwk": public_jwk(key)}


_JWK_MEMBERS = frozenset({"kty", "crv", "x", "y"})
_CNF_MEMBERS = frozenset({"jwk"})


def key_from_jwk(jwk: Any) -> HolderPublicKey:
    """The P-256 or SM2 public key a JWK names; anything else (other members, curves, points off the curve)
    raises."""
    if not isinstance(jwk, Mapping) or jwk.keys() != _JWK_MEMBERS:
        raise HolderKeyError("a holder JWK has exactly the members kty, crv, x, y")
    if jwk["kty"] != "EC" or jwk["crv"] not in ("P-256", "SM2"):
        raise HolderKeyError(f"holder keys are EC P-256 or SM2, got kty {jwk['kty']!r}, crv {jwk['crv']!r}")
    x, y = _unb64url(jwk["x"], "x"), _unb64url(jwk["y"], "y")
    if jwk["crv"] == "SM2":
        return SM2HolderKey(x + y)
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_P256, b"\x04" + x + y)
    except ValueError:
        raise HolderKeyError("the JWK's point is not on P-256") from None


def key_from_claim(value: Any) -> HolderPublicKey:
    """The holder key a ``cnf`` claim value holds (``{"jwk": {...}}``)."""
    if not isinstance(value, Mapping) or value.keys() != _CNF_MEMBERS:
        raise HolderKeyError(f"the {HOLDER_CLAIM!r} claim is an object with the single member 'jwk'")
    return key_from_jwk(value["jwk"])


def sign_p1363(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA P-256 / SHA-256 over ``message``, as the 64 bytes ``r || s``, with RFC 6979 deterministic nonces
    (verifiers accept randomised ones too, as WebCrypto makes)."""
    r, s = decode_dss_signature(key.sign(message, _RFC6979))
    return r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")


def verify_p1363(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` (``r || s``) is ``key``'s ECDSA P-256 / SHA-256 signature over ``message``."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    r, s = int.from_bytes(signature[:_COORDINATE], "big"), int.from_bytes(signature[_COORDINATE:], "big")
    if not (r and s):
        return False
    try:
        key.verify(encode_dss_signature(r, s), message, _ECDSA)
    except InvalidSignature:
        return False
    return True


def holder_sign(key: HolderPrivateKey, message: bytes) -> bytes:
    """The holder's signature over ``message`` as ``r || s``: ECDSA P-256 / SHA-256, or SM2."""
    if isinstance(key, SM2HolderPrivateKey):
        return gm.sign(key.raw, message)
    return sign_p1363(key, message)


def holder_verify(key: HolderPublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` (``r || s``) is ``key``'s signature over ``message``."""
    if isinstance(key, SM2HolderKey):
        return gm.verify(key.raw, message, signature)
    return verify_p1363(key, signature, message)


def holder_public_key(key: HolderPrivateKey) -> HolderPublicKey:
    return key.public_key()


def is_sm2(key: HolderPublicKey) -> bool:
    """Whether ``key`` is an SM2 key (the GM suite's holder keys)."""
    return isinstance(key, SM2HolderKey)
