"""SM2 signing keys: the keystore file (GM primitives only), addresses, and the PKCS#11 structure, whose SM2
mechanism SoftHSM2 does not offer: here a software stand-in answers the module's sign call."""

from __future__ import annotations

import json
from pathlib import Path

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from crossverify import gm
from crossverify.errors import KeyLoadError, SigningFailed
from crossverify.keys.sm2 import (
    LocalSM2Key,
    SM2Mechanism,
    TokenSM2Key,
    is_sm2_keystore,
    load_sm2_keystore,
    sm2_address,
    sm2_keystore_address,
)


def test_the_address_is_the_tail_of_the_public_keys_sm3() -> None:
    key = LocalSM2Key.labelled("issuer key")
    assert key.address.lower() == "0x" + gm.sm3(key.public_key)[12:].hex()
    assert key.address == sm2_address(key.public_key)
    assert LocalSM2Key.labelled("issuer key").public_key == key.public_key


def test_a_keystore_round_trips_and_refuses_a_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, path = LocalSM2Key.generate(), tmp_path / "sm2.json"
    key.write_keystore(path, "correct horse", iterations=1000)
    assert is_sm2_keystore(path) and oct(path.stat().st_mode & 0o777) == "0o600"
    assert sm2_keystore_address(path) == key.address
    monkeypatch.setenv("PW", "correct horse")
    loaded = load_sm2_keystore(path, "PW")
    assert loaded.public_key == key.public_key
    assert gm.verify(key.public_key, b"m", loaded.sign(b"m"))
    monkeypatch.setenv("PW", "wrong")
    with pytest.raises(KeyLoadError, match=r"wrong password for SM2 keystore .*sm2\.json$"):
        load_sm2_keystore(path, "PW")
    monkeypatch.setenv("PW", "")
    with pytest.raises(KeyLoadError, match=r"\$PW is set but empty"):
        load_sm2_keystore(path, "PW")
    with pytest.raises(KeyLoadError, match="exists"):
        key.write_keystore(path, "again", iterations=1000)


def test_a_keystore_with_a_swapped_public_key_does_not_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sm2.json"
    LocalSM2Key.generate().write_keystore(path, "pw", iterations=1000)
    other = LocalSM2Key.generate()
    data = json.loads(path.read_text())
    data["publicKey"], data["address"] = "0x" + other.public_key.hex(), other.address
    path.write_text(json.dumps(data))
    monkeypatch.setenv("PW", "pw")
    with pytest.raises(KeyLoadError, match="wrong password"):  # the public key is the GCM associated data
        load_sm2_keystore(path, "PW")
    data["address"] = LocalSM2Key.generate().address
    path.write_text(json.dumps(data))
    with pytest.raises(KeyLoadError, match="does not belong"):
        sm2_keystore_address(path)
    path.write_text(json.dumps({"crypto": "sm2"}))
    with pytest.raises(KeyLoadError, match="not an SM2 keystore"):
        load_sm2_keystore(path, "PW")
    for address in ("0xzz", 5, None):  # an address that is no address: named too
        path.write_text(json.dumps({**data, "address": address}))
        with pytest.raises(KeyLoadError, match="does not belong"):
            sm2_keystore_address(path)


class _SoftwareTokenKey:
    """What python-pkcs11 hands back for a private key, answering ``sign`` as an SM2 module would."""

    def __init__(self, key: LocalSM2Key, mechanism: SM2Mechanism, lie: bool = False) -> None:
        self.key, self.mechanism, self.lie, self.calls = key, mechanism, lie, []  # type: list[bytes]

    def sign(self, data: bytes, mechanism: int) -> bytes:
        assert mechanism == self.mechanism.code
        self.calls.append(data)
        if self.mechanism.signs == "message":
            raw = self.key.sign(data)
        else:  # the token signs the digest e it is given (GmSSL here, as an independent SM2)
            r, s = decode_dss_signature(gmssl_pyx.sm2_sign_sm3_digest(self.key._private, data))
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.lie:
            raw = raw[:32] + bytes(32)
        if self.mechanism.output == "der":
            return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        return raw


@pytest.mark.parametrize("mechanism", [SM2Mechanism(0x80000101), SM2Mechanism(0x80000102, "message", "der")],
                         ids=["digest, raw", "message, DER"])
def test_a_token_key_signs_through_the_modules_mechanism(mechanism: SM2Mechanism) -> None:
    local = LocalSM2Key.generate()
    token = _SoftwareTokenKey(local, mechanism)
    signer = TokenSM2Key(token, local.public_key, mechanism, "pkcs11:vendor.so token 'GM' key 'issuer'")
    assert signer.address == local.address
    signature = signer.sign(b"an anchor's message")
    assert gm.verify(local.public_key, b"an anchor's message", signature)
    expected = gm.signed_digest(local.public_key, b"an anchor's message") if mechanism.signs == "digest" \
        else b"an anchor's message"
    assert token.calls == [expected]


def test_a_token_that_answers_wrongly_is_named() -> None:
    local, mechanism = LocalSM2Key.generate(), SM2Mechanism(0x80000101)
    signer = TokenSM2Key(_SoftwareTokenKey(local, mechanism, lie=True), local.public_key, mechanism, "the token")
    with pytest.raises(SigningFailed, match="does not verify"):
        signer.sign(b"m")


def test_an_sm2_holder_key_file_round_trips_plain_and_encrypted(tmp_path: Path) -> None:
    from crossverify.format.holder import SM2HolderPrivateKey
    from crossverify.format.suite import Suite
    from crossverify.keys.holder import generate_holder_key, load_holder_key, write_holder_key

    key = generate_holder_key(Suite.GM)
    assert isinstance(key, SM2HolderPrivateKey)
    write_holder_key(key, tmp_path / "plain.json")
    write_holder_key(key, tmp_path / "sealed.json", "pw")
    assert oct((tmp_path / "sealed.json").stat().st_mode & 0o777) == "0o600"
    assert load_holder_key(tmp_path / "plain.json") == key
    assert load_holder_key(tmp_path / "sealed.json", "pw") == key
    assert b"privateKey" not in (tmp_path / "sealed.json").read_bytes()
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_holder_key(tmp_path / "sealed.json", "other")
    with pytest.raises(KeyLoadError, match="encrypted"):
        load_holder_key(tmp_path / "sealed.json")
    with pytest.raises(KeyLoadError, match="exists"):
        write_holder_key(key, tmp_path / "plain.json")
