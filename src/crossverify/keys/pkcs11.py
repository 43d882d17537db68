"""Keys inside a PKCS#11 token: an HSM, or SoftHSM2 in tests. The private key never leaves the token.

The token signs a 32-byte digest with ``CKM_ECDSA`` and returns ``r || s``. :class:`TokenAccount` turns that
into an ordinary Ethereum signature: ``s`` moved to the low half of the curve order (the registry and every
Ethereum node refuse high-s signatures), and the recovery id found by recovering against the token's public
key. It is an eth-account ``BaseAccount``, so EIP-712 requests and transactions are signed as with a local key.

PKCS#11 logs a user in per application and token, not per session, so this module opens one session per
(module, token) in a process and hands it to every key loaded from that token. A token that has forgotten that
session (the HSM restarted) is logged in to again at the next signature, and the key found anew.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pkcs11
from eth_account._utils.signing import sign_transaction_dict
from eth_account.datastructures import SignedMessage, SignedTransaction
from eth_account.messages import SignableMessage
from eth_account.signers.base import BaseAccount
from eth_account.types import TransactionDictType
from eth_keys.datatypes import PublicKey, Signature
from eth_keys.exceptions import BadSignature
from eth_typing import ChecksumAddress, Hash32
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.types import SignMixin
from pkcs11.util.ec import encode_named_curve_parameters

from ..errors import (
    KeyLoadError,
    SigningFailed,
    TokenError,
    TokenKeyMismatch,
    TokenKeyNotFound,
    TokenKeyWrongCurve,
    TokenModuleUnavailable,
    TokenNotFound,
    TokenPinIncorrect,
)

#: ``CKA_EC_PARAMS`` of a secp256k1 key: the DER encoding of the curve's OID 1.3.132.0.10.
SECP256K1_PARAMS = encode_named_curve_parameters("secp256k1")
#: What a token answers once it has forgotten the session a key was found in: the HSM restarted, a network HSM
#: failed over, the token was pulled out (and perhaps put back).
_SESSION_LOST = (pkcs11.SessionHandleInvalid, pkcs11.SessionClosed, pkcs11.KeyHandleInvalid,
                 pkcs11.ObjectHandleInvalid, pkcs11.UserNotLoggedIn, pkcs11.DeviceRemoved, pkcs11.TokenNotPresent)
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True)
class TokenKeyRef:
    """Where a key lives: the vendor's PKCS#11 module (a shared library), the token's label, the key's label."""

    module: str
    token: str
    label: str

    def __str__(self) -> str:
        return f"pkcs11:{self.module} token {self.token!r} key {self.label!r}"


#: Why a PIN file that does not exist is not named: the PIN itself may have been written in place of its name.
_NAME_HIDDEN = "its name is not shown, in case the PIN was written in its place"


def pin_source(pin_env: str | None, pin_file: Path | None) -> str:
    """Where the PIN comes from, for people: the variable, or the file unless it does not exist."""
    if pin_env is not None:
        return f"env {pin_env}"
    if pin_file is not None and pin_file.exists():
        return f"file {pin_file}"
    return f"a file that does not exist; {_NAME_HIDDEN}"


def read_pin(pin_env: str | None = None, pin_file: Path | None = None,
             environ: Mapping[str, str] | None = None) -> str:
    """The token's user PIN from an environment variable or a file (one line; the newline is dropped)."""
    environ = os.environ if environ is None else environ
    if pin_env is not None:
        pin = environ.get(pin_env)
        if not pin:
            raise TokenPinIncorrect(f"no token PIN: set {pin_env}")
        return pin
    if pin_file is not None:
        try:
            pin = pin_file.read_text().rstrip("\r\n")
        except FileNotFoundError:
            raise TokenPinIncorrect(f"no token PIN: the file pin_file names does not exist ({_NAME_HIDDEN})") from None
        except OSError as exc:
            raise TokenPinIncorrect(f"cannot read the token PIN from {pin_file}: {exc.strerror}") from None
        if not pin:
            raise TokenPinIncorrect(f"the PIN file {pin_file} is empty")
        return pin
    raise TokenPinIncorrect("no PIN source: name an environment variable or a file")


@dataclass
class _Login:
    module: str
    token: str
    session: pkcs11.Session
    pin_digest: bytes
    pin: str | None = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reopen(self, lost: pkcs11.Session) -> None:
        """Log in again in a new session, once the token has forgotten ``lost`` (unless a key of this token did
        so already). A PIN the token refuses is never tried again: retrying it would lock the PIN."""
        if self.session is not lost:
            return
        if self.pin is None:
            raise TokenPinIncorrect(f"token {self.token!r} refused the PIN when logging in again: restart with "
                                    "the right one")
        token = _token(self.module, self.token)
        try:
            self.session = token.open(rw=True, user_pin=self.pin)
        except pkcs11.UserAlreadyLoggedIn:  # the token kept this process's login: a new session shares it
            self.session = token.open(rw=True)
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange, pkcs11.PinLocked, pkcs11.PinExpired):
            self.pin = None
            raise
        with suppress(pkcs11.PKCS11Error):
            lost.close()


_logins: dict[tuple[str, str], _Login] = {}
_logins_lock = threading.Lock()
_PIN_KEY = secrets.token_bytes(32)  # keys the PIN digest kept to check a second caller: not a plain PIN hash


def _token(module: str, token: str) -> pkcs11.Token:
    try:
        lib = pkcs11.lib(module)
    except pkcs11.PKCS11Error as exc:
        raise TokenModuleUnavailable(f"cannot load the PKCS#11 module {module}: {exc}") from None
    try:
        return lib.get_token(token_label=token)
    except pkcs11.NoSuchToken:
        raise TokenNotFound(f"no token labelled {token!r} in {module}") from None
    except pkcs11.MultipleTokensReturned:
        raise TokenNotFound(f"more than one token labelled {token!r} in {module}") from None


def _login(module: str, token: str, pin: str) -> _Login:
    """The process's logged-in session on ``token``; a second caller must know the same PIN."""
    digest = hmac.digest(_PIN_KEY, pin.encode(), "sha256")
    with _logins_lock:
        login = _logins.get((module, token))
        if login is not None:
            if not hmac.compare_digest(login.pin_digest, digest):
                raise TokenPinIncorrect(f"token {token!r} is logged in with another PIN")
            return login
        try:
            session = _token(module, token).open(rw=True, user_pin=pin)
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
            raise TokenPinIncorrect(f"token {token!r} refused the PIN ({type(exc).__name__})") from None
        except (pkcs11.PinLocked, pkcs11.PinExpired) as exc:
            raise TokenPinIncorrect(f"the PIN of token {token!r} is {type(exc).__name__[3:].lower()}") from None
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"cannot open token {token!r}: {type(exc).__name__} {exc}") from None
        login = _logins[(module, token)] = _Login(module, token, session, digest, pin)
        return login


def _public_point(session: pkcs11.Session, label: str) -> bytes:
    """The 64-byte ``x || y`` of the public key stored beside the private key ``label``."""
    try:
        public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        point = bytes(public[Attribute.EC_POINT])
    except pkcs11.NoSuchKey:
        raise TokenKeyNotFound(f"the token holds no public key labelled {label!r} beside the private key") from None
    except pkcs11.MultipleObjectsReturned:
        raise TokenKeyNotFound(f"the token holds more than one public key labelled {label!r}") from None
    if len(point) == 67 and point[:2] == b"\x04\x41":  # a DER OCTET STRING around the point; some tokens omit it
        point = point[2:]
    if len(point) != 65 or point[0] != 4:
        raise TokenKeyWrongCurve(f"key {label!r}: the public key is not an uncompressed secp256k1 point")
    return point[1:]


class TokenAccount(BaseAccount):
    """An eth-account signer whose secp256k1 key stays in a PKCS#11 token.

    Build one with :func:`load_token_key` or :func:`generate_token_key`. ``signatures`` counts the signatures
    the token has made for this object.
    """

    def __init__(self, ref: TokenKeyRef, key: SignMixin, public_key: PublicKey, login: _Login) -> None:
        self.ref = ref
        self.public_key = public_key
        self._key = key
        self._login = login
        self._session = login.session
        self._address = public_key.to_checksum_address()
        self.signatures = 0

    def __repr__(self) -> str:
        return f"TokenAccount({self._address}, {self.ref})"

    @property
    def address(self) -> ChecksumAddress:
        return self._address

    def sign_message(self, signable_message: SignableMessage) -> SignedMessage:
        """Sign an EIP-191 message: EIP-712 typed data from ``encode_typed_data``, or a personal message."""
        m = signable_message
        return self.unsafe_sign_hash(Hash32(keccak(b"\x19" + m.version + m.header + m.body)))

    def unsafe_sign_hash(self, message_hash: Hash32) -> SignedMessage:
        """Sign any 32-byte digest with the token's key.

        .. WARNING:: *Never* sign a hash you did not compute: it can be a transaction or another request.
           Prefer :meth:`sign_message`.
        """
        signature = self._sign(bytes(message_hash))
        v, r, s = signature.vrs
        return SignedMessage(message_hash=HexBytes(message_hash), r=r, s=s, v=v + 27,
                             signature=HexBytes(signature.to_bytes()[:64] + bytes([v + 27])))

    def sign_transaction(self, transaction_dict: TransactionDictType) -> SignedTransaction:
        """Sign a transaction (legacy, EIP-2930 or EIP-1559) for this account; ``from``, if given, must match."""
        tx = dict(transaction_dict)
        sender = tx.pop("from", self._address)
        if sender != self._address:
            raise TypeError(f"from field must match the token key's address {self._address}, but it was {sender!r}")
        # eth-account's own routine, given this token as the key: it serialises and encodes every transaction type.
        v, r, s, encoded = sign_transaction_dict(_TokenKeyAdapter(self), tx)  # type: ignore[arg-type]
        return SignedTransaction(raw_transaction=HexBytes(encoded), hash=HexBytes(keccak(encoded)), r=r, s=s, v=v)

    def _sign(self, digest: bytes) -> Signature:
        if len(digest) != 32:
            raise ValueError("the message hash must be exactly 32 bytes")
        with self._login.lock, _signing_errors(self.ref):
            try:
                raw = self._key.sign(digest, mechanism=Mechanism.ECDSA)
            except _SESSION_LOST as exc:
                self._find_again(exc)
                raw = self._key.sign(digest, mechanism=Mechanism.ECDSA)
            self.signatures += 1
        signature = self._verified(digest, raw)
        if signature is None:
            raise SigningFailed(f"{self.ref}: the token's signature does not verify against its public key")
        return signature

    def _verified(self, digest: bytes, raw: bytes) -> Signature | None:
        """The token's signature ``raw`` (r || s) of ``digest`` with its recovery id, low s; ``None`` if it is not
        by this account's public key."""
        if len(raw) != 64:
            raise SigningFailed(f"{self.ref}: the token returned a {len(raw)}-byte signature, expected r || s")
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        if not (0 < r < _ORDER and 0 < s < _ORDER):
            raise SigningFailed(f"{self.ref}: the token returned r or s outside the curve order")
        s = min(s, _ORDER - s)
        for v in (0, 1):
            candidate = Signature(vrs=(v, r, s))
            try:
                if candidate.recover_public_key_from_msg_hash(digest) == self.public_key:
                    return candidate
            except BadSignature:
                continue
        return None

    def _find_again(self, lost: pkcs11.PKCS11Error) -> None:
        """Find the key again in a new session: a long-running service signs again once the token is back."""
        login = self._login
        try:
            login.reopen(self._session)
            try:
                self._key = _private_key(login.session, self.ref)
            except _SESSION_LOST:  # the session another key of this token reopened was lost in turn
                login.reopen(login.session)
                self._key = _private_key(login.session, self.ref)
        except (TokenError, pkcs11.PKCS11Error) as exc:
            raise SigningFailed(f"{self.ref}: the token lost its session ({type(lost).__name__}) and cannot be "
                                f"reopened: {type(exc).__name__} {exc}") from None
        self._session = self._login.session


class _TokenKeyAdapter:
    """What eth-account's transaction signer asks of a key: ``sign_msg_hash``."""

    def __init__(self, account: TokenAccount) -> None:
        self._account = account

    def sign_msg_hash(self, message_hash: bytes) -> Signature:
        return self._account._sign(message_hash)


@contextmanager
def _signing_errors(ref: TokenKeyRef) -> Iterator[None]:
    try:
        yield
    except pkcs11.PKCS11Error as exc:
        raise SigningFailed(f"{ref}: the token could not sign ({type(exc).__name__} {exc})") from None


#: What a token key signs when it is loaded, to check that its private half belongs to its public half.
_PROBE = keccak(b"crossverify: does this token key sign for its public key?")


def load_token_key(ref: TokenKeyRef, pin: str) -> TokenAccount:
    """Log in to the token and find the secp256k1 private key labelled ``ref.label``."""
    login = _login(ref.module, ref.token, pin)
    with login.lock:
        key = _private_key(login.session, ref)
        point = _public_point(login.session, ref.label)
        account = TokenAccount(ref, key, PublicKey(point), login)
        with _signing_errors(ref):  # (not counted among the account's signatures)
            probe = key.sign(_PROBE, mechanism=Mechanism.ECDSA)
    if account._verified(_PROBE, probe) is None:
        raise TokenKeyMismatch(f"{ref}: the private key does not sign for the public key of the same label (address "
                               f"{account.address}): the token holds two pairs' halves under it")
    return account


def _private_key(session: pkcs11.Session, ref: TokenKeyRef) -> SignMixin:
    """The secp256k1 private key labelled ``ref.label``, allowed to sign."""
    try:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=ref.label)
    except pkcs11.NoSuchKey:
        raise TokenKeyNotFound(f"token {ref.token!r} holds no private key labelled {ref.label!r}") from None
    except pkcs11.MultipleObjectsReturned:
        raise TokenKeyNotFound(f"token {ref.token!r} holds more than one key labelled {ref.label!r}") from None
    if not isinstance(key, SignMixin):
        raise TokenError(f"key {ref.label!r} in token {ref.token!r} is not allowed to sign (CKA_SIGN)")
    if key.key_type != KeyType.EC:
        raise TokenKeyWrongCurve(f"key {ref.label!r} is a {key.key_type.name} key, not EC on secp256k1")
    if bytes(key[Attribute.EC_PARAMS]) != SECP256K1_PARAMS:
        raise TokenKeyWrongCurve(f"key {ref.label!r} is on another curve (CKA_EC_PARAMS "
                                 f"{bytes(key[Attribute.EC_PARAMS]).hex()}), not secp256k1")
    return key


def token_key_address(ref: TokenKeyRef) -> str:
    """The address of a token key, read from its public half without logging in (no PIN needed)."""
    with _token(ref.module, ref.token).open() as session:
        return PublicKey(_public_point(session, ref.label)).to_checksum_address()


def generate_token_key(ref: TokenKeyRef, pin: str) -> TokenAccount:
    """Generate a secp256k1 key pair inside the token: sensitive, never extractable, only able to sign."""
    login = _login(ref.module, ref.token, pin)
    with login.lock:
        if any(True for _ in login.session.get_objects({Attribute.LABEL: ref.label})):
            raise KeyLoadError(f"token {ref.token!r} already holds an object labelled {ref.label!r}")
        try:
            params = login.session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: SECP256K1_PARAMS}, local=True)
            params.generate_keypair(
                store=True, label=ref.label,
                public_template={Attribute.VERIFY: True},
                private_template={
                    Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True,
                    Attribute.DECRYPT: False, Attribute.UNWRAP: False, Attribute.DERIVE: False,
                },
            )
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"token {ref.token!r} cannot generate a secp256k1 key: {type(exc).__name__}") from None
    return load_token_key(ref, pin)

