"""Holder binding: the resident's ECDSA P-256 public key, carried inside the certificate as the ``cnf`` claim.

The key is a claim like any other (salted, hashed into the document digest, redactable), named ``cnf`` and
valued ``{"jwk": {"kty": "EC", "crv": "P-256", "x": …, "y": …}}`` as RFC 7800 and SD-JWT confirm a holder's
key. Because it is covered by the digest the issuer anchors, nobody can swap it; because it is salted, it
never reaches the chain. The private key stays with the resident (a key file, a browser's WebCrypto store, a
passkey); holders sign with ECDSA over SHA-256, signatures as the 64 bytes ``r || s`` (IEEE P1363, WebCrypto's
form).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ..errors import HolderKeyError

#: The reserved claim that holds the holder's public key.
HOLDER_CLAIM = "cnf"
SIGNATURE_BYTES = 64
_COORDINATE = 32
_ECDSA = ec.ECDSA(hashes.SHA256())
_RFC6979 = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: Any, member: str) -> bytes:
    if not isinstance(text, str) or "=" in text or len(text) != 43:
        raise HolderKeyError(f"JWK member {member!r} must be 43 characters of unpadded base64url")
    try:
        data = base64.b64decode(text + "=", altchars=b"-_", validate=True)
    except binascii.Error:
        raise HolderKeyError(f"JWK member {member!r} is not base64url") from None
    if _b64url(data) != text:
        raise HolderKeyError(f"JWK member {member!r} is not in canonical base64url")
    return data


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The key as a JWK (RFC 7517): ``kty``, ``crv``, ``x``, ``y`` and nothing else."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise HolderKeyError(f"holder keys are P-256, got {key.curve.name}")
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64url(numbers.x.to_bytes(_COORDINATE, "big")),
            "y": _b64url(numbers.y.to_bytes(_COORDINATE, "big"))}


def holder_claim(key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The value of the ``cnf`` claim that binds a certificate to ``key``."""
    return {"jwk": public_jwk(key)}


def key_from_jwk(jwk: Any) -> ec.EllipticCurvePublicKey:
    """The P-256 public key a JWK names; anything else (other members, curves, points off the curve) raises."""
    if not isinstance(jwk, Mapping) or set(jwk) != {"kty", "crv", "x", "y"}:
        raise HolderKeyError("a holder JWK has exactly the members kty, crv, x, y")
    if jwk["kty"] != "EC" or jwk["crv"] != "P-256":
        raise HolderKeyError(f"holder keys are EC P-256, got kty {jwk['kty']!r}, crv {jwk['crv']!r}")
    x, y = _unb64url(jwk["x"], "x"), _unb64url(jwk["y"], "y")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError:
        raise HolderKeyError("the JWK's point is not on P-256") from None


def key_from_claim(value: Any) -> ec.EllipticCurvePublicKey:
    """The holder key a ``cnf`` claim value holds (``{"jwk": {...}}``)."""
    if not isinstance(value, Mapping) or set(value) != {"jwk"}:
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
