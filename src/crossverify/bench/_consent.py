"""Presentations and sealed receipts: the holder checks against a bare P-256 verify, and HPKE per KEM."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring as quote
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..chain.connection import chain_time
from ..chain.registry import Registry
from ..chain.typed_data import Domain
from ..format.batch import SealedBatch, salt_document, seal_batch
from ..format.bundle import Bundle
from ..format.certificate import Certificate
from ..format.holder import HOLDER_CLAIM, HolderPrivateKey, holder_claim, holder_public_key
from ..format.presentation import TYP, Presentation, load_presentation, present
from ..format.suite import Suite
from ..keys.holder import generate_holder_key
from ..sealing import Kem, Receipt, RegulatorKey, open_receipts, seal_receipts
from ..verifier.challenges import ChallengeStore
from ..verifier.client import VerifierClient
from ._clock import SHORT_RUNS, Sample, SetUp, in_turns, interleaved, sample
from ._sections import KECCAK, Section, _anchor, _preimages, timed
from ._world import scratch, statements, world

BANK = "ICBKCNBJGDG"
#: The claims each resident redacts before presenting.
REDACTED = ("account_no", "balance_mop")
#: Gas per byte of calldata (EIP-2028, non-zero bytes) plus per byte of log data, for the size estimate.
GAS_PER_BYTE = 16 + 8
#: Receipts per envelope in the sealing benchmark, as a transaction of 100 records them.
SEAL_BATCH = 100


class Bank:
    """One bank's off-chain holder checks over presentations of ``batch`` (anchored on ``registry``), each
    document ``i`` presented by ``keys[i]`` to a challenge of ``store``."""

    def __init__(self, registry: Registry, batch: SealedBatch, keys: Sequence[HolderPrivateKey],
                 store: ChallengeStore) -> None:
        self.registry, self.batch, self.keys, self.store = registry, batch, keys, store
        self.now: Callable[[], int] = lambda: chain_time(registry.w3)
        self.chain_id = registry.w3.eth.chain_id

    def issued(self, count: int | None = None) -> list[Presentation]:
        """The first ``count`` (default: all) documents, 2 claims redacted, each answering a fresh challenge."""
        now = self.now()
        return [present(self.batch.bundle(i, self.chain_id, self.registry.address).redact(REDACTED),
                        self.store.issue("ACCTOPEN", now), self.keys[i], now)
                for i in range(len(self.keys) if count is None else count)]

    def verifier(self) -> tuple[VerifierClient, int]:
        """A fresh verifier that has read what it reads once in its life (the chain id and the registry's suite),
        as a bank's running service has, and the chain's time."""
        client = VerifierClient(self.registry, audience=BANK, challenges=self.store, wall_clock=self.now)
        assert client.chain_id and client.suite
        return client, self.now()

    def checks(self, items: Sequence[Presentation | bytes]) -> Sample:
        """One run of the off-chain checks over ``items``, their challenges consumed in one transaction."""
        client, now = self.verifier()
        t, results = sample(lambda: client._offline_all(items, None, now))
        genuine(results)
        return t

    def checking(self, texts: bool) -> SetUp:
        """The off-chain checks over every document's presentation, as one timed run of ``interleaved``: each
        run by a fresh verifier (:meth:`verifier`), over presentations answering challenges of their own (a
        challenge is consumed once) issued beforehand, untimed; as the texts a bank receives if ``texts``."""
        def prepare() -> tuple[Sequence[Presentation | bytes], VerifierClient, int]:
            return (self.texts() if texts else self.issued(), *self.verifier())

        def run(ready: tuple[Sequence[Presentation | bytes], VerifierClient, int]) -> Any:
            items, client, now = ready
            return client._offline_all(items, None, now)

        return SetUp(prepare, run)

    def texts(self) -> list[bytes]:
        """Every document's presentation, answering a challenge of its own, as the text a bank receives."""
        return [p.dumps().encode() for p in self.issued()]


def genuine(results: Sequence[tuple[object, object, bytes | None, object]]) -> None:
    """Fail unless every presentation the off-chain checks ran over passed them."""
    assert all(digest is not None for _, _, digest, _ in results), "a genuine presentation failed"


def held(n: int, now: int, suite: Suite = Suite.STANDARD) -> tuple[list[HolderPrivateKey], list[Certificate]]:
    """``n`` residents' own holder keys of ``suite``, and a 12-claim statement bound to each."""
    keys = [generate_holder_key(suite) for _ in range(n)]
    return keys, [Certificate(c.header, {**c.claims, "cnf": holder_claim(holder_public_key(k))})
                  for (_, c), k in zip(statements(n, now=now), keys, strict=True)]


def standard_bank(n: int, root: Path) -> Bank:
    """A bank meeting ``n`` residents with P-256 keys, their statements anchored on a standard-suite chain."""
    w = world()
    keys, certs = held(n, w.now())
    batch = seal_batch([salt_document(c, KECCAK) for c in certs])
    _anchor(w, batch.root, len(batch.documents), Domain.of(w.registry))
    return Bank(w.registry, batch, keys, ChallengeStore(scratch(root, "standard") / "challenges.sqlite", BANK))


def presentations(n: int, root: Path) -> Section:
    """``n`` holders each present a 12-claim statement (2 claims redacted) to one bank's challenge."""
    bank = standard_bank(n, root)
    store = bank.store

    texts = bank.texts()
    parsed = [load_presentation(t) for t in texts]
    signed = [(p.holder_key(), encode_dss_signature(int.from_bytes(p.signature[:32], "big"),
                                                    int.from_bytes(p.signature[32:], "big")),
               p.binding.signing_input(p.bundle.document_digest())) for p in parsed]
    ecdsa = ec.ECDSA(hashes.SHA256())
    floor_run = _text_floor(texts, [p.bundle for p in parsed])
    (from_texts, by_texts), (floor, _), (parse, _), (objects, by_objects), (bare_verify, _) = interleaved(
        [bank.checking(texts=True), floor_run, lambda: [load_presentation(t) for t in texts],
         bank.checking(texts=False),
         lambda: [k.verify(sig, msg, ecdsa) for k, sig, msg in signed if isinstance(k, ec.EllipticCurvePublicKey)]],
        SHORT_RUNS, paused=True)
    genuine(by_texts)
    genuine(by_objects)
    one_by_one = bank.issued(max(1, n // 10))
    single = sum(bank.checks([p]).wall for p in one_by_one) * n / len(one_by_one)
    full = bank.issued()
    client = VerifierClient(bank.registry, audience=BANK, challenges=store, wall_clock=bank.now)
    t_full, reports = timed(lambda: client.verify_many(full))
    assert all(r.valid for r in reports)
    s = Section("Presentations",
                f"{n:,} residents, each with their own P-256 key, present a 12-claim statement with 2 claims redacted "
                "to one bank's challenge. The holder checks (`holder_bound`, `holder_signed` over the recomputed "
                "digest, `disclosure_matches_signature`, `audience_matches`, `presentation_not_expired`, "
                "`challenge_fresh` against the SQLite challenge store, synchronous FULL) run with the digest and "
                "proof checks, on one core. From the texts a bank receives they also read and validate each file; "
                "their floor is `json.loads` of the same texts, loading each holder key from its JWK, writing the "
                "bytes it signed from the text's binding and the document's digest, a bare ECDSA P-256 verify of "
                "its signature over them, and raw keccak256 of the preimages the digest and proof hash, in the "
                "same run. " + in_turns(SHORT_RUNS, paused=True)
                + " Goals: >= 2,000 presentations/s off chain; from texts within 1.5x of the floor.",
                ["path", "seconds (CPU)", "presentations/s", "ratio"])

    def row(what: str, t: Sample, against: Sample, name: str) -> list[str]:
        return [what, t.seconds(), f"{n / t.wall:,.0f}", f"{t / against} {name}"]

    s.rows += [
        row("off-chain checks from texts, challenges consumed in one durable transaction", from_texts, floor,
            "the floor"),
        [*row("floor: `json.loads` + JWK + signed bytes + bare P-256 verify + raw hashing", floor, floor, "")[:3],
         "floor"],
        [*row("bare P-256 verify alone", bare_verify, bare_verify, "")[:3], "baseline"],
        row("off-chain checks from parsed presentations", objects, bare_verify, "bare P-256 verify"),
        [f"the same, one presentation per call: one disk sync each ({len(one_by_one):,} timed)", f"{single:.2f}",
         f"{n / single:,.0f}", f"{single / bare_verify.wall:.2f}x wall bare P-256 verify"],
        row("read and validate the files (`load_presentation`)", parse, floor, "the floor"),
        [*row("`verify_many` from parsed presentations, registry reads included", Sample(t_full, t_full),
              bare_verify, "")[:3], ""],
    ]
    return s


def _text_floor(texts: list[bytes], bundles: list[Bundle]) -> Callable[[], None]:
    """One run of the least a verifier of ``texts`` must do: parse each, load its holder key from the JWK, write the
    bytes it signed (:func:`signed_bytes`) and verify its signature over them, and hash the preimages of its digest
    and proof."""
    ecdsa = ec.ECDSA(hashes.SHA256())
    preimages = _preimages(bundles)
    hasher = KECCAK.hasher()
    digests = _digests(bundles)

    def run() -> None:
        for text, digest in zip(texts, digests, strict=True):
            doc = json.loads(text)
            jwk = next(c for c in doc["bundle"]["claims"] if c.get("name") == HOLDER_CLAIM)["value"]["jwk"]
            point = b"\x04" + base64.urlsafe_b64decode(jwk["x"] + "=") + base64.urlsafe_b64decode(jwk["y"] + "=")
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
            signature = bytes.fromhex(doc["signature"][2:])
            key.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                            int.from_bytes(signature[32:], "big")), signed_bytes(doc, digest), ecdsa)
        for x in preimages:
            hasher(x)

    return run


def signed_bytes(doc: dict[str, Any], digest: str) -> bytes:
    """The bytes the holder of a parsed presentation ``doc`` signed, written from its binding and its document's
    ``digest`` (``0x`` hex) as the least a floor does: the members in RFC 8785's order, trusted to be of their
    types (the path checks them, and writes them the same way)."""
    b = doc["binding"]
    return (f'{{"aud":{quote(b["aud"])},"digest":"{digest}","disclosed":[{",".join(map(quote, b["disclosed"]))}],'
            f'"exp":{b["exp"]},"iat":{b["iat"]},"nonce":"{b["nonce"]}","purpose":{quote(b["purpose"])},'
            f'"typ":"{TYP}"}}').encode()


def _digests(bundles: list[Bundle]) -> list[str]:
    """Each bundle's document digest as ``0x`` hex: the value a floor's hashing of the preimages ends in, handed to
    the signature check (the hashing itself is timed in full)."""
    return ["0x" + b.document_digest().hex() for b in bundles]


def sealing(n: int) -> Section:
    """Seal ``n`` receipts to two regulators, ``SEAL_BATCH`` to an envelope, and open them, per KEM; sizes and the
    calldata they would cost."""
    s = Section("Sealed receipts",
                f"{n:,} receipts ({Receipt.plaintext_bytes()}-byte plaintext) sealed to two regulators, "
                f"{SEAL_BATCH} to an envelope as a transaction records them (envelope version 4: in the standard "
                "suite the body key sealed to each with HPKE, HKDF-SHA256 and AES-256-GCM, one AES-128-GCM body of "
                f"{Receipt.body_bytes()} bytes per receipt; in the GM suite SM2 and SM4-GCM), then opened by one of "
                "them (at its position in the key list). The baseline is the X25519 KEM, measured in the same run. "
                f"Gas is estimated for each receipt's commitment and share of the envelope as calldata and log data "
                f"({GAS_PER_BYTE} gas per byte), before any fixed transaction cost; the next section measures it. "
                "X25519 is the default: the hybrid's 1,152 bytes per regulator stay affordable shared by 100 "
                "receipts, but a receipt recorded alone would cost far beyond the 45,000 gas it may.",
                ["KEM", "bytes per regulator", f"bytes per receipt, 2 regulators, {SEAL_BATCH} together",
                 "est. gas per receipt", "seal/s", "open/s", "seal time vs X25519"])
    base = 0.0
    for kem in Kem:
        keys = [RegulatorKey.generate(kem), RegulatorKey.generate(kem)]
        public = [k.public_key for k in keys]
        receipts = [Receipt.new(secrets.token_bytes(32), "BNUMMOMX", "DEPCERT", secrets.token_bytes(32), "ACCTOPEN",
                                1_790_000_000 + i, presentation_hash=secrets.token_bytes(32)) for i in range(n)]
        batches = [receipts[i:i + SEAL_BATCH] for i in range(0, n, SEAL_BATCH)]
        t_seal, sealed = timed(lambda: [seal_receipts(b, public) for b in batches])  # noqa: B023
        t_open, opened = timed(lambda: [r for x in sealed  # noqa: B023
                                        for r in open_receipts(x, keys[1], part_index=1)])  # noqa: B023
        assert opened == receipts
        base = base or t_seal
        size = sum(len(x.sealed) for x in sealed) / n
        s.rows.append([kem.name + (" (default)" if kem is Kem.X25519 else ""), f"{kem.enc_bytes + 32:,}",
                       f"{size:,.1f}", f"{(size + 32) * GAS_PER_BYTE:,.0f}", f"{n / t_seal:,.0f}",
                       f"{n / t_open:,.0f}", f"{t_seal / base:.2f}x"])
    return s
