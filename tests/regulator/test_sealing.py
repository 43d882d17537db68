"""Receipts sealed to the regulators: the byte layout, refusals, and the privacy a chain reader is left with."""

from __future__ import annotations

import hashlib
import itertools
import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_utils import keccak

from crossverify import gm
from crossverify.errors import NotSealedToThisKey, SealingError, SuiteMismatch
from crossverify.format.suite import Suite
from crossverify.sealing import (
    COMMITMENT_PREFIX,
    INFO,
    Consent,
    Kem,
    Receipt,
    RegulatorKey,
    RegulatorPublicKey,
    SealedReceipt,
    SealedReceipts,
    open_receipts,
    open_sealed,
    seal,
    seal_receipts,
    sealed_receipts_size,
    sealed_size,
)

from ..conftest import forge_batch

NOW = 1_790_000_000
PURPOSES = ["ACCTOPEN", "LOAN", "KYC", "MORTGAGE"]
#: One KEM per suite: what the tests that hold for both suites run with.
SUITES = [Kem.X25519, Kem.SM2]


def header(kem: Kem) -> int:
    """Version, suite, the standard suite's KEM id, the number of parts."""
    return 3 if kem is Kem.SM2 else 5


BODY_BYTES = Receipt.body_bytes()


def receipt(digest: bytes | None = None, purpose: str = "ACCTOPEN", at: int = NOW) -> Receipt:
    return Receipt.new(digest or secrets.token_bytes(32), "BNUMMOMX", "DEPCERT", secrets.token_bytes(32), purpose, at,
                       presentation_hash=secrets.token_bytes(32))


@pytest.mark.parametrize("kem", list(Kem))
def test_every_regulator_opens_the_same_receipt(kem: Kem) -> None:
    keys = [RegulatorKey.generate(kem) for _ in range(3)]
    r = receipt()
    sealed = seal(r, [k.public_key for k in keys])
    assert len(sealed.sealed) == sealed_size(kem, 3) == header(kem) + 3 * (kem.enc_bytes + 32) + 145 + 16
    suite = kem.crypto_suite
    assert sealed.sealed[:header(kem)] == bytes([4, suite]) + (b"" if kem is Kem.SM2 else kem.to_bytes(2, "big")) \
        + bytes([3])
    assert sealed.commitment == (gm.sm3 if suite is Suite.GM else keccak)(COMMITMENT_PREFIX + r.plaintext())
    assert sealed.commitment == r.commitment(suite)
    assert all(open_sealed(sealed, k) == r for k in keys)
    assert all(open_sealed(sealed, k, part_index=i) == r for i, k in enumerate(keys))  # straight to its part
    with pytest.raises(NotSealedToThisKey):
        open_sealed(sealed, keys[0], part_index=1)
    with pytest.raises(NotSealedToThisKey):
        open_sealed(sealed, keys[0], part_index=3)


def test_plaintext_layout() -> None:
    r = Receipt(bytes(range(32)), "BNUMMOMX", "DEPCERT", b"\xbb" * 32, "LOAN", Consent.PRESENTATION, b"\xaa" * 32,
                0x0102030405, b"\x55" * 16)
    assert r.plaintext() == (b"\x02" + bytes(range(32)) + b"BNUMMOMX\0\0\0" + b"DEPCERT\0" + b"\xbb" * 32
                             + b"LOAN\0\0\0\0" + b"\x01" + b"\xaa" * 32 + bytes.fromhex("0102030405") + b"\x55" * 16)
    assert len(r.plaintext()) == Receipt.plaintext_bytes() == 146 and Receipt.body_bytes() == 145
    assert Receipt.from_plaintext(r.plaintext()) == r
    assert (r.consented, r.presentation_hash, r.case_reference) == (True, b"\xaa" * 32, None)
    in_person = Receipt.new(r.document_digest, "BNUMMOMX", "DEPCERT", r.batch_root, "LOAN", 5, case="LOAN-17")
    assert in_person.plaintext()[92:125] == b"\x02" + b"LOAN-17".ljust(32, b"\0")
    assert Receipt.from_plaintext(in_person.plaintext()) == in_person
    assert (in_person.consented, in_person.presentation_hash, in_person.case_reference) == (True, None, "LOAN-17")
    bare = Receipt.new(r.document_digest, "BNUMMOMX", "DEPCERT", r.batch_root, "LOAN", 5)
    assert (bare.consent, bare.consent_reference, bare.consented) == (Consent.NONE, bytes(32), False)


def test_version_1_receipts_still_read() -> None:
    """A receipt sealed by an older bank: no document type, batch root or consent byte; a hash, or zeros."""
    v1 = (b"\x01" + bytes(range(32)) + b"BNUMMOMX\0\0\0" + b"LOAN\0\0\0\0" + b"\xaa" * 32
          + bytes.fromhex("0102030405") + b"\x55" * 16)
    r = Receipt.from_plaintext(v1)
    assert (r.version, r.doc_type, r.batch_root, r.purpose, r.presentation_hash, r.verified_at) == (
        1, "", bytes(32), "LOAN", b"\xaa" * 32, 0x0102030405)
    assert r.plaintext() == v1 and len(v1) == Receipt.plaintext_bytes(1)
    bare = Receipt.from_plaintext(v1[:52] + bytes(32) + v1[84:])
    assert (bare.consent, bare.consented) == (Consent.NONE, False)
    key = RegulatorKey.generate()
    batch = seal_receipts([r, bare], [key.public_key])  # a batch of one version opens at its length
    assert len(batch.sealed) == sealed_receipts_size(Kem.X25519, 1, 2, version=1)
    assert open_receipts(batch, key) == [r, bare]
    with pytest.raises(SealingError, match="share one version"):
        seal_receipts([r, receipt()], [key.public_key])


@pytest.mark.parametrize("case", ["", "x" * 33, "tab\there", "\u00e9" * 17])
def test_a_case_reference_is_short_printable_text(case: str) -> None:
    with pytest.raises(SealingError, match="case reference"):
        Receipt.new(bytes(32), "BNUMMOMX", "DEPCERT", bytes(32), "LOAN", 5, case=case)


def test_malformed_consent_is_refused() -> None:
    r = Receipt.new(bytes(32), "BNUMMOMX", "DEPCERT", bytes(32), "LOAN", 5, case="LOAN-17")
    with pytest.raises(SealingError, match="no consent kind 3"):
        Receipt.from_plaintext(r.plaintext()[:92] + b"\x03" + r.plaintext()[93:])
    with pytest.raises(SealingError, match="not readable text"):
        Receipt.from_plaintext(r.plaintext()[:93] + b"\xff" * 32 + r.plaintext()[125:])
    with pytest.raises(SealingError, match="only a consent has one"):
        replace(r, consent=Consent.NONE).plaintext()
    with pytest.raises(SealingError, match="one consent"):
        Receipt.new(bytes(32), "BNUMMOMX", "DEPCERT", bytes(32), "LOAN", 5, presentation_hash=bytes(32), case="A")


def test_it_interoperates_with_plain_rfc9180() -> None:
    """A regulator with nothing but an HPKE library opens its part as the docs describe."""
    key = RegulatorKey.generate(Kem.X25519)
    r = receipt()
    others = [receipt() for _ in range(2)]
    batch = seal_receipts([r, *others], [key.public_key])
    assert len(batch.sealed) == 5 + 64 + 3 * 145 + 16 == sealed_receipts_size(Kem.X25519, 1, 3)
    info = INFO + keccak(b"".join(batch.commitments))
    body_key = Kem.X25519.suite.decrypt(batch.sealed[5:69], key._hpke, info=info)
    body = AESGCM(body_key).decrypt(bytes(12), batch.sealed[69:], info)
    assert [b"\x02" + body[i * 145:(i + 1) * 145] for i in range(3)] == [x.plaintext() for x in (r, *others)]


def test_the_gm_envelope_opens_with_an_independent_sm2() -> None:
    """A regulator with gmssl (pure Python SM2) and OpenSSL's SM4-GCM opens its part as the docs describe."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from gmssl import sm2 as pure

    key = RegulatorKey.generate(Kem.SM2)
    receipts = [receipt() for _ in range(3)]
    batch = seal_receipts(receipts, [key.public_key])
    assert len(batch.sealed) == 3 + 113 + 3 * 145 + 16 == sealed_receipts_size(Kem.SM2, 1, 3)
    assert batch.commitments == tuple(gm.sm3(COMMITMENT_PREFIX + r.plaintext()) for r in receipts)
    info = INFO + gm.sm3(b"".join(batch.commitments))
    other = pure.CryptSM2(private_key=key.raw.hex(), public_key=key.public_key.raw.hex(), mode=1)
    body_key = other.decrypt(batch.sealed[3 + 1:3 + 113])  # C1 without its 04, C3, C2
    sealed_body = batch.sealed[3 + 113:]
    decryptor = Cipher(algorithms.SM4(body_key), modes.GCM(bytes(12), sealed_body[-16:])).decryptor()
    decryptor.authenticate_additional_data(info)
    body = decryptor.update(sealed_body[:-16]) + decryptor.finalize()
    assert [b"\x02" + body[i * 145:(i + 1) * 145] for i in range(3)] == [x.plaintext() for x in receipts]


def test_an_envelope_of_one_suite_does_not_open_with_a_key_of_the_other() -> None:
    standard, sm2 = RegulatorKey.generate(Kem.X25519), RegulatorKey.generate(Kem.SM2)
    with pytest.raises(SuiteMismatch):
        open_sealed(seal(receipt(), [standard.public_key]), sm2)
    with pytest.raises(SuiteMismatch):
        open_sealed(seal(receipt(), [sm2.public_key]), standard)
    with pytest.raises(SealingError):  # one envelope, one suite
        seal(receipt(), [standard.public_key, sm2.public_key])


@pytest.mark.parametrize("kem", SUITES)
def test_a_batch_opens_in_order(kem: Kem) -> None:
    amcm, pboc = RegulatorKey.generate(kem), RegulatorKey.generate(kem)
    receipts = [receipt(purpose=p) for p in PURPOSES]
    batch = seal_receipts(receipts, [amcm.public_key, pboc.public_key])
    assert batch.commitments == tuple(r.commitment(kem.crypto_suite) for r in receipts)
    assert len(batch.sealed) == sealed_receipts_size(kem, 2, 4) == header(kem) + 2 * (kem.enc_bytes + 32) \
        + 4 * BODY_BYTES + 16
    assert open_receipts(batch, amcm) == open_receipts(batch, pboc, part_index=1) == receipts
    with pytest.raises(SealingError):
        seal_receipts([], [amcm.public_key])


@pytest.mark.parametrize("kem", SUITES)
def test_a_bank_cannot_pin_a_plaintext_on_another_commitment(kem: Kem) -> None:
    """Reordering, truncating or swapping the commitments on chain never opens a receipt under a commitment that is
    not its own: the envelope is bound to the list, and each plaintext is checked against its position."""
    amcm, suite = RegulatorKey.generate(kem), kem.crypto_suite
    a, b, c = (receipt(purpose=p) for p in PURPOSES[:3])
    batch = seal_receipts([a, b, c], [amcm.public_key])
    with pytest.raises(NotSealedToThisKey):  # the commitments reordered
        open_receipts(SealedReceipts((b.commitment(suite), a.commitment(suite), c.commitment(suite)), batch.sealed),
                      amcm)
    with pytest.raises(NotSealedToThisKey):  # one commitment replaced by another receipt's
        open_receipts(SealedReceipts((a.commitment(suite), b.commitment(suite), receipt().commitment(suite)),
                                     batch.sealed), amcm)
    with pytest.raises(SealingError):  # truncated: the envelope holds three
        open_receipts(SealedReceipts(batch.commitments[:2], batch.sealed), amcm)
    with pytest.raises(SealingError):
        open_receipts(SealedReceipts(batch.commitments, batch.sealed[:-BODY_BYTES]), amcm)
    flipped = bytearray(batch.sealed)
    flipped[-30] ^= 1
    with pytest.raises(NotSealedToThisKey):  # a tampered body
        open_receipts(SealedReceipts(batch.commitments, bytes(flipped)), amcm)
    # A dishonest bank seals the plaintexts in another order under its own key: the swapped ones do not open.
    forged = forge_batch([b, a, c], batch.commitments, [amcm.public_key])
    assert open_receipts(forged, amcm) == [None, None, c]
    with pytest.raises(NotSealedToThisKey):
        open_sealed(SealedReceipt(a.commitment(suite), forge_batch([b], (a.commitment(suite),),
                                                                   [amcm.public_key]).sealed), amcm)


def test_refusals() -> None:
    amcm, pboc, stranger = (RegulatorKey.generate() for _ in range(3))
    r = receipt()
    sealed = seal(r, [amcm.public_key])
    with pytest.raises(NotSealedToThisKey):
        open_sealed(sealed, pboc)  # not addressed to it
    flipped = bytearray(sealed.sealed)
    flipped[-1] ^= 1
    with pytest.raises(NotSealedToThisKey):
        open_sealed(SealedReceipt(sealed.commitment, bytes(flipped)), amcm)
    other = seal(receipt(), [amcm.public_key])
    with pytest.raises(NotSealedToThisKey):  # a ciphertext paired with another receipt's commitment
        open_sealed(SealedReceipt(other.commitment, sealed.sealed), amcm)
    with pytest.raises(SealingError):
        open_sealed(SealedReceipt(sealed.commitment, sealed.sealed[:-1]), amcm)
    with pytest.raises(SealingError):
        open_sealed(sealed, RegulatorKey.generate(Kem.MLKEM768_X25519))  # another KEM
    with pytest.raises(SealingError):
        seal(r, [])
    with pytest.raises(SealingError):
        seal(r, [amcm.public_key, amcm.public_key])
    with pytest.raises(SealingError):
        seal(r, [amcm.public_key, RegulatorKey.generate(Kem.MLKEM768_X25519).public_key])
    with pytest.raises(SealingError):
        RegulatorPublicKey(Kem.X25519, bytes(31))
    with pytest.raises(SealingError):
        RegulatorPublicKey.from_json({"kem": "RSA", "public": "0x00"})
    assert RegulatorPublicKey.from_json(stranger.public_key.to_json()) == stranger.public_key


def test_key_files_round_trip_and_are_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = RegulatorKey.generate(Kem.MLKEM768_X25519)
    key.write(tmp_path / "amcm.key")
    assert (tmp_path / "amcm.key").stat().st_mode & 0o777 == 0o600
    assert RegulatorKey.read(tmp_path / "amcm.key").public_key == key.public_key
    with pytest.raises(SealingError):
        key.write(tmp_path / "amcm.key")


@pytest.mark.parametrize("kem", list(Kem), ids=lambda k: k.name)
def test_a_key_file_encrypted_with_a_password_opens_with_it_only(kem: Kem, tmp_path: Path) -> None:
    """Every KEM's key, the GM suite's SM2 too (PBKDF2-HMAC-SM3 and SM4-GCM, as docs/format.md says)."""
    key = RegulatorKey.generate(kem)
    key.write(tmp_path / "amcm.key", "amcm")
    assert RegulatorKey.read(tmp_path / "amcm.key", "amcm") == key
    assert key.raw.hex() not in (tmp_path / "amcm.key").read_text()
    for wrong in ("pboc", None):
        with pytest.raises(SealingError):
            RegulatorKey.read(tmp_path / "amcm.key", wrong)


@pytest.mark.parametrize("kem", SUITES)
def test_nobody_but_a_regulator_can_tell_which_receipts_concern_a_document(kem: Kem) -> None:
    """The issuer, another bank and an outsider see every sealed receipt and know a document's digest, its issuer,
    every purpose code and roughly when it was checked; they hold keys of their own, not the regulators'. None of
    their tests singles out the document's receipts; the regulator's key does. In both suites."""
    amcm, pboc = RegulatorKey.generate(kem), RegulatorKey.generate(kem)
    regulators = [amcm.public_key, pboc.public_key]
    target = secrets.token_bytes(32)
    receipts = [receipt(purpose=PURPOSES[i % 4], at=NOW + i) for i in range(40)]
    receipts[7] = receipt(target, "ACCTOPEN", NOW + 7)
    receipts[23] = receipt(target, "LOAN", NOW + 23)
    chain = [seal(r, regulators) for r in receipts]

    blobs = [s.commitment + s.sealed for s in chain]
    assert len({len(b) for b in blobs}) == 1  # every receipt is the same size
    for probe in (target, keccak(target), hashlib.sha256(target).digest(), gm.sm3(target), target[:8]):
        assert not any(probe in b for b in blobs)  # the digest, or a hash of it, appears nowhere
    # Re-sealing the guessed receipt (every purpose, every second around the time) never reproduces a commitment
    # or any ciphertext: the salt is unknown and HPKE (or SM2 encryption) draws a fresh ephemeral key each time.
    commitments = {s.commitment for s in chain}
    for purpose, at in itertools.product(PURPOSES, range(NOW, NOW + 40)):
        guess = seal(Receipt(target, "BNUMMOMX", "DEPCERT", bytes(32), purpose, Consent.NONE, bytes(32), at, bytes(16)),
                     regulators)
        assert guess.commitment not in commitments
        assert not any(guess.sealed[header(kem):header(kem) + 32] in b for b in blobs)
    # The two receipts of the target have no 16-byte run in common (the shared header is shorter).
    windows = [{b[i:i + 16] for i in range(len(b) - 15)} for b in blobs]
    assert not windows[7] & windows[23]
    # Keys of the issuer, a bank or an outsider open nothing.
    for stranger in (RegulatorKey.generate(kem) for _ in range(3)):
        for s in chain:
            with pytest.raises(NotSealedToThisKey):
                open_sealed(s, stranger)
    # The regulator traces the document.
    for key in (amcm, pboc):
        opened = [open_sealed(s, key) for s in chain]
        assert [i for i, r in enumerate(opened) if r.document_digest == target] == [7, 23]
        assert [opened[7].purpose, opened[23].purpose] == ["ACCTOPEN", "LOAN"]


@pytest.mark.parametrize("kem", SUITES)
def test_a_dispute_opens_for_the_issuer_and_the_regulators_only(kem: Kem) -> None:
    """Only the issuer can sign for the dispute's answer key, in either suite; the bank and the regulators can
    check it is the issuer's."""
    from crossverify.sealing import (
        Dispute,
        DisputeReason,
        answer_key_address,
        answer_signing_key,
        issuer_answer_key,
        open_dispute,
        seal_dispute,
    )

    issuer, amcm, pboc, bank, stranger = (RegulatorKey.generate(kem) for _ in range(5))
    dispute = Dispute.new(secrets.token_bytes(32), "BNUMMOMX", secrets.token_bytes(32),
                          DisputeReason.SUSPECTED_REUSE, secrets.token_bytes(32), NOW, bank.public_key)
    answer_key = answer_key_address(dispute, issuer_answer_key(issuer))
    secret = answer_signing_key(dispute, issuer)
    if kem is Kem.SM2:  # the answer key is an SM2 key, named as FISCO BCOS names accounts
        assert answer_key.lower() == "0x" + gm.sm3(gm.public_key_of(secret))[12:].hex()
    else:
        from eth_account import Account

        assert Account.from_key(secret).address == answer_key  # the issuer signs for it
    sealed = seal_dispute(dispute, [issuer.public_key, amcm.public_key, pboc.public_key], answer_key)

    def registered(issuer_id: str) -> bytes:
        assert issuer_id == "BNUMMOMX"
        return issuer_answer_key(issuer)

    assert all(open_dispute(sealed, answer_key, k, registered) == dispute for k in (issuer, amcm, pboc))
    for key in (bank, stranger):
        with pytest.raises(NotSealedToThisKey):
            open_dispute(sealed, answer_key, key, registered)
    with pytest.raises(NotSealedToThisKey):  # recorded under another answer key: refused
        open_dispute(sealed, "0x" + "11" * 20, issuer, registered)
    with pytest.raises(NotSealedToThisKey):  # bound to another issuer's answer key: refused
        open_dispute(sealed, answer_key, issuer, lambda _: issuer_answer_key(stranger))
    with pytest.raises(SealingError):
        open_dispute(sealed[:-3], answer_key, issuer, registered)


def test_an_answer_opens_for_the_bank_and_the_regulators_and_names_its_signer() -> None:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from crossverify.sealing import DisputeAnswer, DisputeStatus, open_answer, seal_answer

    bank, amcm, issuer = RegulatorKey.generate(), RegulatorKey.generate(), RegulatorKey.generate()
    signing_key = Account.create()
    dispute_id = secrets.token_bytes(32)
    signed = DisputeAnswer.signed_bytes(dispute_id, DisputeStatus.REVOKED, NOW)
    signature = bytes(signing_key.sign_message(encode_defunct(signed)).signature)
    answer = DisputeAnswer(dispute_id, DisputeStatus.REVOKED, NOW, signature)
    sealed = seal_answer(answer, [bank.public_key, amcm.public_key])
    for key in (bank, amcm):
        opened = open_answer(sealed, dispute_id, key)
        assert opened == answer and opened.signer() == signing_key.address
    with pytest.raises(NotSealedToThisKey):
        open_answer(sealed, dispute_id, issuer)
    with pytest.raises(NotSealedToThisKey):  # the answer is bound to its dispute
        open_answer(sealed, secrets.token_bytes(32), bank)


def test_a_gm_answer_names_its_sm2_signing_key() -> None:
    from crossverify.sealing import DisputeAnswer, DisputeStatus, open_answer, seal_answer

    bank, amcm = RegulatorKey.generate(Kem.SM2), RegulatorKey.generate(Kem.SM2)
    signing_key = gm.generate_private_key()
    public_key = gm.public_key_of(signing_key)
    address = gm.sm3(public_key)[12:]
    dispute_id = secrets.token_bytes(32)
    signed = DisputeAnswer.signed_bytes(dispute_id, DisputeStatus.CONFIRMED_GENUINE, NOW)
    answer = DisputeAnswer(dispute_id, DisputeStatus.CONFIRMED_GENUINE, NOW, address + gm.sign(signing_key, signed))
    sealed = seal_answer(answer, [bank.public_key, amcm.public_key])
    opened = open_answer(sealed, dispute_id, bank)
    assert opened == answer and opened.signer().lower() == "0x" + address.hex()
    assert opened.signed_by(public_key)
    assert not opened.signed_by(gm.public_key_of(gm.generate_private_key()))
    with pytest.raises(SuiteMismatch):  # an SM2-signed answer sealed to standard keys
        seal_answer(answer, [RegulatorKey.generate().public_key])
