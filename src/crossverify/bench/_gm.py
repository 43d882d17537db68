"""The GM suite's primitives beside the standard suite's, measured in the same run."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import coincurve
import gmssl_pyx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from .. import gm
from ..chain.connection import chain_time, estimating_by_execution
from ..chain.records import ProposalKind, RevocationReason, Role
from ..chain.typed_data import AnchorRequest, Domain, RevocationRequest, gm_key_proof, key_proof, sign, sign_gm
from ..consortium.operator import OperatorClient
from ..format.batch import salt_document, seal_batch
from ..format.bundle import Bundle
from ..format.codes import doc_type_code, issuer_id_code, jurisdiction_code
from ..format.hashing import HashAlgorithm
from ..format.holder import HOLDER_CLAIM, SM2HolderKey
from ..format.presentation import load_presentation
from ..format.suite import Suite
from ..keys.sm2 import LocalSM2Key, sm2_address
from ..sealing import DEFAULT_KEM, Kem, RegulatorKey
from ..verifier.challenges import ChallengeStore
from ._clock import SHORT_RUNS, Sample, in_turns, interleaved
from ._consent import BANK, Bank, _digests, genuine, held, signed_bytes, standard_bank
from ._sections import Section, _preimages
from ._world import ISSUER, scratch

#: Bytes of a body of 100 receipts, as one envelope of sealed receipts carries them.
BODY_BYTES = 100 * 177


def _rate(fn: Callable[[], object], n: int, rounds: int = 5) -> tuple[float, float]:
    """Operations per second (best of ``rounds`` warm runs of ``n``) and CPU seconds per 1,000 of them."""
    fn()
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return n / best_wall, best_cpu / n * 1000


def primitives(n: int) -> Section:
    """Signatures per second (SM2 against secp256k1 and P-256), and SM4-GCM against AES-GCM."""
    s = Section("GM suite: primitives",
                f"Warm, best of 5 runs of {n:,} operations each, one process; CPU seconds per 1,000 beside. "
                "Every signature is over a 32-byte message: secp256k1 (coincurve, what signs and recovers the "
                "standard suite's anchors; verification is recovery, as on chain), P-256 (OpenSSL, the standard "
                "suite's holder keys), SM2 with its identity digest Z (Tongsuo, chosen; GmSSL, through gmssl-pyx, "
                "and gmssl, pure Python, measured for the choice). Bodies: one envelope of 100 receipts "
                f"({BODY_BYTES:,} bytes), sealed and opened with a fresh key.",
                ["operation", "library", "per second", "CPU s per 1,000", "vs the standard suite's"])
    message = os.urandom(32)

    k1 = coincurve.PrivateKey()
    k1_signature = k1.sign_recoverable(message, hasher=None)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_signature = p256.sign(message, ec.ECDSA(hashes.SHA256()))
    p256_public = p256.public_key()
    sm2_private = gm.generate_private_key()
    sm2 = gm.SigningKey(sm2_private)
    sm2_signature = sm2.sign(message)
    pyx_public, pyx_private = gmssl_pyx.sm2_key_generate()
    pyx_signature = gmssl_pyx.sm2_sign(pyx_private, pyx_public, message)

    def row(operation: str, library: str, rate: tuple[float, float], base: float | None) -> None:
        s.rows.append([operation, library, f"{rate[0]:,.0f}", f"{rate[1]:.2f}",
                       f"{rate[0] / base:.2f}x" if base else ""])

    k1_sign = _rate(lambda: k1.sign_recoverable(message, hasher=None), n)
    row("sign", "secp256k1, coincurve", k1_sign, None)
    row("sign", "P-256, OpenSSL", _rate(lambda: p256.sign(message, ec.ECDSA(hashes.SHA256())), n), k1_sign[0])
    row("sign", "SM2, Tongsuo (chosen)", _rate(lambda: sm2.sign(message), n), k1_sign[0])
    row("sign", "SM2, GmSSL", _rate(lambda: gmssl_pyx.sm2_sign(pyx_private, pyx_public, message), n), k1_sign[0])
    k1_verify = _rate(lambda: coincurve.PublicKey.from_signature_and_message(k1_signature, message, hasher=None), n)
    row("verify", "secp256k1 recovery, coincurve", k1_verify, None)
    row("verify", "P-256, OpenSSL",
        _rate(lambda: p256_public.verify(p256_signature, message, ec.ECDSA(hashes.SHA256())), n), k1_verify[0])
    row("verify", "SM2, Tongsuo (chosen)", _rate(lambda: gm.verify(sm2.public_key, message, sm2_signature), n),
        k1_verify[0])
    row("verify", "SM2, GmSSL", _rate(lambda: gmssl_pyx.sm2_verify(pyx_public, message, pyx_signature), n),
        k1_verify[0])
    _pure_python(s, message, sm2_private, sm2.public_key, max(n // 50, 5), k1_sign[0], k1_verify[0])

    body, nonce = os.urandom(BODY_BYTES), bytes(12)
    aes = AESGCM(AESGCM.generate_key(128))
    sm4 = gm.SM4GCM(gm.SM4GCM.generate_key())
    aes_sealed, sm4_sealed = aes.encrypt(nonce, body, b"info"), sm4.encrypt(nonce, body, b"info")
    seal_base = _rate(lambda: aes.encrypt(nonce, body, b"info"), n)
    row("seal a body", "AES-128-GCM, OpenSSL", seal_base, None)
    row("seal a body", "SM4-GCM, OpenSSL (chosen)", _rate(lambda: sm4.encrypt(nonce, body, b"info"), n),
        seal_base[0])
    open_base = _rate(lambda: aes.decrypt(nonce, aes_sealed, b"info"), n)
    row("open a body", "AES-128-GCM, OpenSSL", open_base, None)
    row("open a body", "SM4-GCM, OpenSSL (chosen)", _rate(lambda: sm4.decrypt(nonce, sm4_sealed, b"info"), n),
        open_base[0])
    key_ciphertext = gm.encrypt(sm2.public_key, os.urandom(16))
    row("encrypt a body key", "SM2, GmSSL (chosen)", _rate(lambda: gm.encrypt(sm2.public_key, body[:16]), n), None)
    row("decrypt a body key", "SM2, GmSSL (chosen)", _rate(lambda: gm.decrypt(sm2_private, key_ciphertext), n),
        None)
    s.notes = ("SM2 costs about ten times the CPU of the standard suite's signatures (the CPU column; wall rates move "
               "with the shared machine's load): Tongsuo's wheel has no assembly for the SM2 curve, where OpenSSL and "
               "libsecp256k1 have it for theirs. SM4 has no hardware instructions here, AES has (AES-NI): a body "
               "seals at tens of MB/s against GB/s, still a fraction of a millisecond per envelope. gmssl-fast "
               "(GmSSL) was slower than gmssl-pyx; smcryptopy aborts the process on a malformed signature and was "
               "not considered further.")
    return s


def _pure_python(s: Section, message: bytes, private: bytes, public: bytes, n: int, sign_base: float,
                 verify_base: float) -> None:
    try:
        from gmssl import func
        from gmssl import sm2 as pure
    except ImportError:  # a development dependency: measured for the choice only
        return

    crypt = pure.CryptSM2(private_key=private.hex(), public_key="")
    crypt.public_key = public.hex()  # its constructor's lstrip("04") would eat an x beginning with 0 or 4 digits
    signature = crypt.sign_with_sm3(message, func.random_hex(64))
    for operation, fn, base in (
            ("sign", lambda: crypt.sign_with_sm3(message, func.random_hex(64)), sign_base),
            ("verify", lambda: crypt.verify_with_sm3(signature, message), verify_base)):
        rate = _rate(fn, n, rounds=2)
        s.rows.append([operation, "SM2, gmssl (pure Python)", f"{rate[0]:,.0f}", f"{rate[1]:.2f}",
                       f"{rate[0] / base:.2f}x"])



#: The issue's figure for a relayed SM2 anchor on the EVM: at most 400 gas per document at a batch of 1,000.
SM2_ANCHOR_TARGET = 400_000
#: Bytes of a sealed dispute answer: its body sealed to the bank's reply key and two regulators' keys.
ANSWER_BYTES = 520


def gas() -> Section:
    """Gas of the GM suite's registry operations (SM2 verified by EVM code) beside the standard suite's (secp256k1
    recovery), each on its own consortium of a fresh embedded chain, in the same run."""
    s = Section("GM suite: gas of SM2 on chain",
                "Each operation on a consortium of each suite, deployed on one fresh embedded chain: the standard "
                "suite's (EIP-712 digest, secp256k1 recovered by ecrecover) and the GM suite's (the GM digest of the "
                "same fields, two SM3 blocks, and the SM2 signature checked by the SM2Verifier contract, EVM code "
                "for any chain). Gas used as the receipt gives it, first use of each key and root (cold storage). "
                "A dispute's answer is signed by its one-time answer key: EIP-712 and ecrecover, or SM2 over the GM "
                "message, whose SM3 of the sealed answer the contract computes too.",
                ["operation", "secp256k1 gas", "SM2 gas", "SM2 / secp256k1", "target"])
    w3 = Web3(EthereumTesterProvider(EthereumTester(estimating_by_execution(PyEVMBackend()))))
    standard, gm_suite = (_suite_gas(w3, suite) for suite in (Suite.STANDARD, Suite.GM))
    targets = {"anchor one batch of 1,000 documents (operator relays)": SM2_ANCHOR_TARGET}
    for operation, used in standard.items():
        target = targets.get(operation)
        s.rows.append([operation, f"{used:,}", f"{gm_suite[operation]:,}", f"{gm_suite[operation] / used:.1f}x",
                       f"≤ {target:,} ({'met' if gm_suite[operation] <= target else 'MISSED'})" if target else ""])
    anchor = gm_suite["anchor one batch of 1,000 documents (operator relays)"]
    s.notes = (f"An SM2-signed anchor of a batch of 1,000 documents costs {anchor / 1000:,.0f} gas per document "
               f"({standard['anchor one batch of 1,000 documents (operator relays)'] / 1000:,.0f} with secp256k1). "
               "Where the chain verifies SM2 natively (FISCO BCOS in national-cryptography mode, through "
               "SM2PrecompileVerifier) the curve arithmetic and SM3 cost the precompile's price instead.")
    return s


def _suite_gas(w3: Web3, suite: Suite) -> dict[str, int]:
    a = list(w3.eth.accounts)
    operator = OperatorClient.deploy(w3, a[0], [(a[0], "MO"), (a[1], "GD")], suite=suite)
    guangdong = OperatorClient(operator.registry, a[1], operator.consortium)
    registry = operator.registry
    issuer, dep = issuer_id_code(ISSUER), doc_type_code("DEPCERT")
    guangdong.approve(operator.propose(ProposalKind.ADMIT_ISSUER, issuer, jurisdiction_code("MO"), a[2], [dep],
                                       bytes(32), [bytes(32)]))
    domain = Domain.of(registry)
    label = f"crossverify benchmark key (test only): {suite.label}"
    out: dict[str, int] = {}
    now = int(w3.eth.get_block("latest")["timestamp"])

    def sent(build: Callable[[Any], Any], sender: str) -> int:
        return int(registry.transact(build, sender)["gasUsed"])

    def request(text: str) -> AnchorRequest:
        return AnchorRequest(Web3.keccak(text=text), dep, 3 if suite is Suite.GM else 1, 1000,
                             now + 10 * 365 * 86400, now + 86400)

    if suite is Suite.GM:
        key = LocalSM2Key.labelled(label)
        proof = gm_key_proof(issuer, key, domain)
        x, y = key.public_key[:32], key.public_key[32:]
        out["add a signing key (issuer admin, with proof of possession)"] = sent(
            lambda f: f.addSM2SigningKey(issuer, x, y, (proof[:32], proof[32:], key.address)), a[2])

        def signature(r: AnchorRequest | RevocationRequest) -> tuple[Any, ...]:
            signed = sign_gm(r, domain, key)
            return signed[:32], signed[32:], key.address

        anchor, anchor_many, revoke = "anchorSM2", "anchorManySM2", "revokeBySM2Signature"
    else:
        account = Account.from_key(Web3.keccak(text=label))
        plain = key_proof(issuer, account, domain)
        out["add a signing key (issuer admin, with proof of possession)"] = sent(
            lambda f: f.addSigningKey(issuer, account.address, plain), a[2])

        def signature(r: AnchorRequest | RevocationRequest) -> tuple[Any, ...]:
            return sign(r, domain, account)

        anchor, anchor_many, revoke = "anchor", "anchorMany", "revokeBySignature"
    first = request("one")
    out["anchor one batch of 1,000 documents (operator relays)"] = sent(
        lambda f: getattr(f, anchor)(first.as_abi(), signature(first)), a[0])
    ten = [request(f"ten {i}") for i in range(10)]
    many = sent(lambda f: getattr(f, anchor_many)([r.as_abi() for r in ten], [signature(r) for r in ten]), a[0])
    out["anchor 10 batches in one transaction, per batch"] = many // 10
    revocation = RevocationRequest(bytes(32), Web3.keccak(text="a document"), int(RevocationReason.FRAUD), now + 3600)
    out["revoke one document (signed request, relayed)"] = sent(
        lambda f: getattr(f, revoke)(revocation.as_abi(), signature(revocation)), a[0])

    kem = Kem.SM2 if suite is Suite.GM else DEFAULT_KEM
    guangdong.approve(operator.propose_admit_member(a[3], Role.VERIFIER))
    guangdong.approve(operator.propose_regulator_keys([(RegulatorKey.generate(kem).public_key.raw, j)
                                                       for j in ("MO", "GD")]))
    circulation = operator.circulation
    assert circulation is not None
    answer = os.urandom(ANSWER_BYTES)
    if suite is Suite.GM:
        secret = gm.generate_private_key()
        dispute_id, _ = circulation.open_dispute(sm2_address(gm.public_key_of(secret)), answer, a[3])
        receipt = circulation.answer_dispute_sm2(dispute_id, answer, secret, a[0])
    else:
        answer_key = Account.create()
        dispute_id, _ = circulation.open_dispute(answer_key.address, answer, a[3])
        receipt = circulation.answer_dispute(dispute_id, answer, answer_key, a[0])
    out[f"answer a dispute ({ANSWER_BYTES}-byte sealed answer, relayed)"] = int(receipt["gasUsed"])
    return out


def presentations(n: int, root: Path) -> Section:
    """``n`` residents with SM2 holder keys each present a 12-claim statement (2 claims redacted) to one bank's
    challenge on a GM-suite consortium, against a floor of the same texts; the standard suite beside."""
    bank = _gm_bank(n, root)
    texts = bank.texts()
    parsed = [load_presentation(t) for t in texts]
    signed = [(p.holder_key(), p.signature, p.binding.signing_input(p.bundle.document_digest())) for p in parsed]
    (from_texts, by_gm), (floor, _), (bare_verify, _), (standard, by_standard) = interleaved(
        [bank.checking(texts=True), _sm2_text_floor(texts, [p.bundle for p in parsed]),
         lambda: [gm.verify(k.raw, msg, sig) for k, sig, msg in signed if isinstance(k, SM2HolderKey)],
         standard_bank(n, root).checking(texts=True)], SHORT_RUNS, paused=True)
    genuine(by_gm)
    genuine(by_standard)
    s = Section("GM suite: presentations",
                f"{n:,} residents, each with their own SM2 holder key (`\"crv\": \"SM2\"`), present a 12-claim "
                "statement with 2 claims redacted to one bank's challenge, on a GM-suite consortium: SM3 batches "
                "anchored with the issuer's SM2 signature. The holder checks run as in *Presentations* (the "
                "holder's SM2 signature, with its identity digest Z, over the recomputed SM3 digest; the challenge "
                "consumed in the SQLite challenge store, synchronous FULL), from the texts a bank receives, on "
                "one core. Their floor takes the same texts: `json.loads`, loading each SM2 holder key from its "
                "JWK (a point of the curve), writing the bytes it signed from the text's binding and the document's "
                "digest, a bare SM2 verify (Tongsuo) of its signature over them, "
                "and raw SM3 of the preimages the digest and proof hash. Beside them, the standard suite's same "
                "checks (P-256, keccak256) over as many presentations, in the same run. "
                + in_turns(SHORT_RUNS, paused=True),
                ["path", "seconds (CPU)", "presentations/s", "ratio"])

    def row(what: str, t: Sample, ratio: str) -> list[str]:
        return [what, t.seconds(), f"{n / t.wall:,.0f}", ratio]

    s.rows += [
        row("GM: off-chain checks from texts, challenges consumed in one durable transaction", from_texts,
            f"{from_texts / floor} the floor"),
        row("floor: `json.loads` + SM2 JWK + signed bytes + bare SM2 verify + raw SM3", floor, "floor"),
        row("bare SM2 verify alone (Tongsuo)", bare_verify, "baseline"),
        row("standard suite: the same checks from texts (P-256, keccak256)", standard,
            f"GM is {from_texts / standard}"),
    ]
    return s


def _gm_bank(n: int, root: Path) -> Bank:
    """A bank meeting ``n`` residents with SM2 holder keys, their statements in one SM3 batch anchored with an
    SM2 signature on a new GM-suite consortium."""
    w3 = Web3(EthereumTesterProvider())
    a = list(w3.eth.accounts)
    operator = OperatorClient.deploy(w3, a[0], [(a[0], "MO"), (a[1], "GD")], suite=Suite.GM)
    OperatorClient(operator.registry, a[1], operator.consortium).approve(
        operator.propose_admit_issuer(ISSUER, "MO", a[2], ["ACCTSTMT"]))
    registry, issuer = operator.registry, issuer_id_code(ISSUER)
    domain = Domain.of(registry)
    key = LocalSM2Key.labelled("crossverify benchmark key (test only): GM presentations")
    proof = gm_key_proof(issuer, key, domain)
    registry.transact(lambda f: f.addSM2SigningKey(issuer, key.public_key[:32], key.public_key[32:],
                                                   (proof[:32], proof[32:], key.address)), a[2])
    now = chain_time(w3)
    keys, certs = held(n, now, Suite.GM)
    batch = seal_batch([salt_document(c, HashAlgorithm.SM3) for c in certs], HashAlgorithm.SM3)
    request = AnchorRequest(batch.root, doc_type_code("ACCTSTMT"), int(HashAlgorithm.SM3), len(batch.documents),
                            now + 10**7, now + 3600)
    signature = sign_gm(request, domain, key)
    registry.transact(lambda f: f.anchorSM2(request.as_abi(), (signature[:32], signature[32:], key.address)), a[0])
    return Bank(registry, batch, keys, ChallengeStore(scratch(root, "gm") / "challenges.sqlite", BANK))


def _sm2_text_floor(texts: list[bytes], bundles: list[Bundle]) -> Callable[[], None]:
    """One run of the least a verifier of GM presentations ``texts`` must do: parse each, load its SM2 holder key
    from the JWK, write the bytes it signed (:func:`~._consent.signed_bytes`) and verify its signature over them,
    and SM3 the preimages of its digest and proof."""
    preimages = _preimages(bundles, HashAlgorithm.SM3)
    hasher = HashAlgorithm.SM3.hasher()
    digests = _digests(bundles)

    def run() -> None:
        for text, digest in zip(texts, digests, strict=True):
            doc = json.loads(text)
            jwk = next(c for c in doc["bundle"]["claims"] if c.get("name") == HOLDER_CLAIM)["value"]["jwk"]
            key = base64.urlsafe_b64decode(jwk["x"] + "=") + base64.urlsafe_b64decode(jwk["y"] + "=")
            if not gm.verify(key, signed_bytes(doc, digest), bytes.fromhex(doc["signature"][2:])):
                raise AssertionError("a genuine SM2 signature failed")
        for x in preimages:
            hasher(x)

    return run
