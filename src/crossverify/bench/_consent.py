"""Presentations and sealed receipts: the holder checks against a bare P-256 verify, and HPKE per KEM."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..chain.typed_data import Domain
from ..format.batch import salt_document, seal_batch
from ..format.certificate import Certificate
from ..format.holder import holder_claim
from ..format.presentation import Presentation, load_presentation, present
from ..keys.holder import generate_holder_key
from ..sealing import Kem, Receipt, RegulatorKey, open_receipts, seal_receipts
from ..verifier.challenges import ChallengeStore
from ..verifier.client import VerifierClient
from ._sections import KECCAK, Section, _anchor, timed
from ._world import statements, world

BANK = "ICBKCNBJGDG"
#: Gas per byte of calldata (EIP-2028, non-zero bytes) plus per byte of log data, for the size estimate.
GAS_PER_BYTE = 16 + 8
#: Receipts per envelope in the sealing benchmark, as a transaction of 100 records them.
SEAL_BATCH = 100


def presentations(n: int, root: Path) -> Section:
    """``n`` holders each present a 12-claim statement (2 claims redacted) to one bank's challenge."""
    w = world()
    keys = [generate_holder_key() for _ in range(n)]
    certs = [Certificate(c.header, {**c.claims, "cnf": holder_claim(k.public_key())})
             for (_, c), k in zip(statements(n, now=w.now()), keys, strict=True)]
    batch = seal_batch([salt_document(c, KECCAK) for c in certs])
    _anchor(w, batch.root, len(batch.documents), Domain.of(w.registry))
    chain_id = w.w3.eth.chain_id

    def issued(store: ChallengeStore, count: int = n) -> list[Presentation]:
        now = w.now()
        return [present(batch.bundle(i, chain_id, w.registry.address).redact(["account_no", "balance_mop"]),
                        store.issue("ACCTOPEN", now), keys[i], now) for i in range(count)]

    def checks(store: ChallengeStore, items: list[Presentation]) -> float:
        client = VerifierClient(w.registry, audience=BANK, challenges=store, wall_clock=w.now)
        now = w.now()
        def run() -> list[tuple[Any, ...]]:
            parsed = [client._offline(p, None, now) for p in items]
            client._consume_challenges(parsed, now)
            return parsed

        t, results = timed(run)
        assert all(digest is not None for _, _, digest, _ in results), "a genuine presentation failed"
        return t

    store = ChallengeStore(root / "challenges.sqlite", BANK)
    timed_items = issued(store)
    signed = [(p.holder_key(), encode_dss_signature(int.from_bytes(p.signature[:32], "big"),
                                                    int.from_bytes(p.signature[32:], "big")),
               p.binding.signing_input(p.bundle.document_digest())) for p in timed_items]
    ecdsa = ec.ECDSA(hashes.SHA256())
    t_floor, _ = timed(lambda: [k.verify(sig, msg, ecdsa) for k, sig, msg in signed if k is not None])
    t_batch = checks(store, timed_items)
    one_by_one = issued(store, max(1, n // 10))
    t_single = sum(checks(store, [p]) for p in one_by_one) * n / len(one_by_one)
    texts = [p.dumps() for p in issued(store)]
    t_parse, _ = timed(lambda: [load_presentation(t) for t in texts])
    full = issued(store)
    client = VerifierClient(w.registry, audience=BANK, challenges=store, wall_clock=w.now)
    t_full, reports = timed(lambda: client.verify_many(full))
    assert all(r.valid for r in reports)
    s = Section("Presentations",
                f"{n:,} residents, each with their own P-256 key, present a 12-claim statement with 2 claims redacted "
                "to one bank's challenge. The holder checks (`holder_bound`, `holder_signed` over the recomputed "
                "digest, `disclosure_matches_signature`, `audience_matches`, `presentation_not_expired`, "
                "`challenge_fresh` against the SQLite challenge store, synchronous FULL) run with the digest and "
                "proof checks, on one core; the baseline is a bare ECDSA P-256 verify of the same signatures, in "
                "the same run. Goal: >= 2,000 presentations/s off chain.",
                ["path", "seconds", "presentations/s", "vs bare P-256 verify"])

    def row(what: str, t: float) -> list[str]:
        return [what, f"{t:.2f}", f"{n / t:,.0f}", f"{t / t_floor:.2f}x the time"]

    s.rows += [
        [*row("bare P-256 verify (baseline)", t_floor)[:3], "baseline"],
        row("off-chain checks, challenges consumed in one durable transaction", t_batch),
        row(f"the same, one presentation per call: one disk sync each ({len(one_by_one):,} timed)", t_single),
        row("parse and validate the file (JSON Schema)", t_parse),
        row("`verify_many`, every check, registry reads included", t_full),
    ]
    return s


def sealing(n: int) -> Section:
    """Seal ``n`` receipts to two regulators, ``SEAL_BATCH`` to an envelope, and open them, per KEM; sizes and the
    calldata they would cost."""
    s = Section("Sealed receipts",
                f"{n:,} receipts ({Receipt.plaintext_bytes()}-byte plaintext) sealed to two regulators, "
                f"{SEAL_BATCH} to an envelope as a transaction records them (envelope version 3: the body key sealed "
                "to each with HPKE, HKDF-SHA256 and AES-256-GCM, one AES-128-GCM body of "
                f"{Receipt.body_bytes()} bytes per receipt), then opened by one of them (at its position in the key "
                "list). The baseline is the X25519 KEM, measured in the same run. "
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
