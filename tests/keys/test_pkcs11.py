"""A secp256k1 key inside a SoftHSM2 token signs like an eth-account key; every failure to load it is named."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pkcs11
import pytest
import rlp
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from eth_keys.datatypes import PrivateKey
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from pkcs11 import Attribute

from crossverify.errors import (
    KeyLoadError,
    SigningFailed,
    TokenKeyMismatch,
    TokenKeyNotFound,
    TokenKeyWrongCurve,
    TokenModuleUnavailable,
    TokenNotFound,
    TokenPinIncorrect,
)
from crossverify.keys.pkcs11 import (
    TokenAccount,
    TokenKeyRef,
    _public_point,
    generate_token_key,
    load_token_key,
    pin_source,
    read_pin,
)

from ..conftest import labelled_test_key
from ..softhsm import PIN, SPARE_TOKEN, SoftHsm, _import_secp256k1

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
TYPED = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
        "Mail": [{"name": "contents", "type": "string"}, {"name": "count", "type": "uint24"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "crossverify test", "chainId": 1337},
    "message": {"contents": "澳門 deposit certificate", "count": 7},
}
LEGACY_TX = {"nonce": 3, "gasPrice": 10**9, "gas": 100_000, "to": to_checksum_address("0x" + "ab" * 20), "value": 5,
             "data": b"\x01\x02", "chainId": 1337}
DYNAMIC_TX = {"type": 2, "nonce": 4, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, "gas": 90_000,
              "to": to_checksum_address("0x" + "cd" * 20), "value": 0, "data": b"", "chainId": 1337}


@pytest.fixture(scope="module")
def hsm_key(softhsm: SoftHsm) -> TokenAccount:
    return generate_token_key(softhsm.ref("pkcs11 test key"), softhsm.pin)


@pytest.fixture(scope="module")
def imported(softhsm: SoftHsm) -> TokenAccount:
    return load_token_key(softhsm.ref("imported"), softhsm.pin)


def test_a_private_key_not_of_its_labels_public_key_is_refused_at_load(softhsm: SoftHsm,
                                                                       imported: TokenAccount) -> None:
    """Two pairs' halves under one label: the address read from the public half is not the key that signs. Found
    at the first signature, after the admin had registered that address; it is refused when loaded."""
    _import_secp256k1(imported._login.session, "halves", labelled_test_key("halves a"),
                      public_of=labelled_test_key("halves b"))
    with pytest.raises(TokenKeyMismatch, match="does not sign for the public key"):
        load_token_key(softhsm.ref("halves"), softhsm.pin)
    assert load_token_key(softhsm.ref("imported"), softhsm.pin).signatures == 0  # the check is not counted


def test_a_generated_key_stays_in_the_token(hsm_key: TokenAccount) -> None:
    key = hsm_key._key
    assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
    assert key[Attribute.SIGN] and not key[Attribute.DECRYPT]
    assert hsm_key.public_key.to_canonical_address() == bytes.fromhex(hsm_key.address[2:])


def test_typed_data_signatures_recover_to_the_token_key(hsm_key: TokenAccount) -> None:
    for count in range(40):  # about half the token's raw signatures are high-s: all come out low-s
        message = encode_typed_data(full_message={**TYPED, "message": {**TYPED["message"], "count": count}})
        signed = hsm_key.sign_message(message)
        assert signed.v in (27, 28) and 0 < signed.s <= ORDER // 2
        assert signed.signature[64] == signed.v and len(signed.signature) == 65
        assert Account.recover_message(message, signature=signed.signature) == hsm_key.address


def test_a_key_imported_into_the_token_signs_as_eth_account_does(imported: TokenAccount) -> None:
    local = labelled_test_key("HSM comparison")
    assert imported.address == local.address
    for message in (encode_typed_data(full_message=TYPED), encode_defunct(text="crossverify")):
        ours, theirs = imported.sign_message(message), local.sign_message(message)
        assert ours.message_hash == theirs.message_hash  # the same digest signed
        # ECDSA in the token draws a fresh nonce: r differs, both recover to the one address
        assert Account.recover_message(message, signature=ours.signature) == local.address
        assert Account.recover_message(message, signature=theirs.signature) == local.address
    digest = keccak(b"a prehashed digest")
    assert Account._recover_hash(digest, signature=imported.unsafe_sign_hash(digest).signature) == local.address


@pytest.mark.parametrize("tx", [LEGACY_TX, DYNAMIC_TX], ids=["legacy", "eip1559"])
def test_transactions_match_eth_account_but_for_the_signature(imported: TokenAccount, tx: dict[str, object]) -> None:
    local = labelled_test_key("HSM comparison")
    ours, theirs = imported.sign_transaction({**tx, "from": local.address}), local.sign_transaction(tx)
    assert Account.recover_transaction(ours.raw_transaction) == local.address
    assert ours.v in ((0, 1) if "type" in tx else (1337 * 2 + 35, 1337 * 2 + 36))  # EIP-155 for legacy
    assert ours.s <= ORDER // 2
    assert _unsigned(bytes(ours.raw_transaction)) == _unsigned(bytes(theirs.raw_transaction))
    with pytest.raises(TypeError, match="must match"):
        imported.sign_transaction({**tx, "from": "0x" + "00" * 20})


def _unsigned(raw: bytes) -> object:
    """The transaction's fields without v, r and s."""
    if raw[0] < 0x7F:
        fields = dict(TypedTransaction.from_bytes(HexBytes(raw)).as_dict())
        return {k: v for k, v in fields.items() if k not in ("v", "r", "s")}
    return rlp.decode(raw)[:6]


class FakeToken:
    """A token whose ECDSA hands back a chosen transformation of a real signature."""

    def __init__(self, key: PrivateKey, transform) -> None:  # type: ignore[no-untyped-def]
        self.key, self.transform = key, transform

    def sign(self, digest: bytes, mechanism: object) -> bytes:
        _v, r, s = self.key.sign_msg_hash(digest).vrs
        return self.transform(r, s)  # type: ignore[no-any-return]


def fake_account(imported: TokenAccount, transform) -> TokenAccount:  # type: ignore[no-untyped-def]
    key = PrivateKey(labelled_test_key("HSM comparison").key)
    return TokenAccount(imported.ref, FakeToken(key, transform), imported.public_key, imported._login)  # type: ignore[arg-type]


def test_high_s_from_the_token_is_folded_to_the_low_half(imported: TokenAccount) -> None:
    account = fake_account(imported, lambda r, s: r.to_bytes(32, "big") + (ORDER - s).to_bytes(32, "big"))
    digest = keccak(b"high s")
    signed = account.unsafe_sign_hash(digest)
    assert signed.s <= ORDER // 2
    assert Account._recover_hash(digest, signature=signed.signature) == imported.address


@pytest.mark.parametrize("raw", [
    lambda r, s: r.to_bytes(32, "big") + s.to_bytes(32, "big") + b"\0",    # not 64 bytes
    lambda r, s: b"\0" * 32 + s.to_bytes(32, "big"),                        # r = 0
    lambda r, s: r.to_bytes(32, "big") + ORDER.to_bytes(32, "big"),         # s out of range
    lambda r, s: (r ^ 1).to_bytes(32, "big") + s.to_bytes(32, "big"),       # another key's signature
], ids=["length", "zero-r", "s-range", "wrong-key"])
def test_a_bad_signature_from_the_token_is_refused(imported: TokenAccount, raw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SigningFailed):
        fake_account(imported, raw).unsafe_sign_hash(keccak(b"bad"))


def test_a_token_failing_while_signing_is_named(imported: TokenAccount) -> None:
    class Removed:
        def sign(self, digest: bytes, mechanism: object) -> bytes:
            raise pkcs11.DeviceRemoved()

    unplugged = replace(imported.ref, label="gone with the HSM")  # nor found again in a new session
    account = TokenAccount(unplugged, Removed(), imported.public_key, imported._login)  # type: ignore[arg-type]
    with pytest.raises(SigningFailed, match=r"DeviceRemoved.*cannot be reopened"):
        account.sign_message(encode_defunct(text="after the HSM was unplugged"))


# python-pkcs11 finalises the operation refused in the forgotten session from __del__, which reports it as unraisable
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_signing_resumes_once_the_token_forgot_its_session(imported: TokenAccount) -> None:
    """An HSM that restarted forgets every session: a long-running service logs in again and goes on signing."""
    imported._login.session.close()
    digest = keccak(b"after the HSM restarted")
    assert Account._recover_hash(digest, signature=imported.unsafe_sign_hash(digest).signature) == imported.address


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_pin_refused_when_logging_in_again_is_not_tried_again(softhsm: SoftHsm, imported: TokenAccount) -> None:
    """The PIN was changed while the HSM was down: one refusal, then no more tries that would lock it."""
    login = imported._login
    login.pin = "000000"
    try:
        login.session.close()
        with pytest.raises(SigningFailed, match="PinIncorrect"):
            imported.unsafe_sign_hash(keccak(b"first"))
        with pytest.raises(SigningFailed, match="restart with the right one"):
            imported.unsafe_sign_hash(keccak(b"second"))
    finally:
        login.pin = softhsm.pin
    imported.unsafe_sign_hash(keccak(b"the token's PIN given again"))


def test_threads_share_one_token_session(imported: TokenAccount) -> None:
    digests = [keccak(i.to_bytes(4, "big")) for i in range(120)]
    with ThreadPoolExecutor(4) as pool:
        signed = list(pool.map(imported.unsafe_sign_hash, digests))
    assert {Account._recover_hash(d, signature=s.signature) for d, s in zip(digests, signed, strict=True)} == {
        imported.address}


def test_load_errors_are_named(softhsm: SoftHsm, hsm_key: TokenAccount) -> None:
    with pytest.raises(TokenPinIncorrect, match="refused the PIN"):
        load_token_key(softhsm.ref("any", token=SPARE_TOKEN), "000000")
    with pytest.raises(TokenPinIncorrect, match="another PIN"):  # the suite's token is logged in already
        load_token_key(softhsm.ref("imported"), "000000")
    with pytest.raises(TokenNotFound):
        load_token_key(softhsm.ref("imported", token="no such token"), PIN)
    with pytest.raises(TokenKeyNotFound):
        load_token_key(softhsm.ref("no such key"), PIN)
    with pytest.raises(TokenKeyWrongCurve, match="another curve"):
        load_token_key(softhsm.ref("p256"), PIN)
    with pytest.raises(TokenModuleUnavailable):
        load_token_key(TokenKeyRef("/nonexistent/libpkcs11.so", softhsm.token, "imported"), PIN)
    with pytest.raises(KeyLoadError, match="already holds"):
        generate_token_key(hsm_key.ref, PIN)


def test_a_bare_public_point_whose_x_begins_like_the_der_wrapping_is_read_whole() -> None:
    """Some tokens give CKA_EC_POINT without its DER wrapping: one key in 256 has x beginning with 0x41."""
    public = PrivateKey((219).to_bytes(32, "big")).public_key.to_bytes()
    assert public[0] == 0x41

    class Bare:
        def get_key(self, **_: object) -> dict[Attribute, bytes]:
            return {Attribute.EC_POINT: b"\x04" + public}

    assert _public_point(Bare(), "bare") == public  # type: ignore[arg-type]


def test_the_pin_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert read_pin("HSM_PIN", environ={"HSM_PIN": "1234"}) == "1234"
    (tmp_path / "pin").write_text("5678\n")
    assert read_pin(pin_file=tmp_path / "pin") == "5678"
    with pytest.raises(TokenPinIncorrect, match="set HSM_PIN"):
        read_pin("HSM_PIN", environ={})
    with pytest.raises(TokenPinIncorrect, match="cannot read"):
        read_pin(pin_file=tmp_path)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(TokenPinIncorrect, match="empty"):
        read_pin(pin_file=tmp_path / "empty")
    with pytest.raises(TokenPinIncorrect, match="no PIN source"):
        read_pin()


def test_a_pin_written_in_place_of_its_file_is_never_shown(tmp_path: Path) -> None:
    """``pin_file = "9173"``: the PIN itself, not a file; neither the error nor ``keys show`` repeats it."""
    with pytest.raises(TokenPinIncorrect, match="does not exist") as raised:
        read_pin(pin_file=tmp_path / "9173")
    assert "9173" not in str(raised.value)
    assert "9173" not in pin_source(None, tmp_path / "9173")
    (tmp_path / "pin").write_text("5678\n")
    assert pin_source(None, tmp_path / "pin") == f"file {tmp_path / 'pin'}"
    assert pin_source("HSM_PIN", None) == "env HSM_PIN"

