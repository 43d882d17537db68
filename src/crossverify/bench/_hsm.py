"""Keys in a PKCS#11 token (SoftHSM2) against eth-account keys in memory, in the same run: signing, and issuance
end to end with the issuer's signing key and its admin in the token."""

from __future__ import annotations

import secrets
from pathlib import Path

from eth_account import Account
from eth_typing import Hash32
from pkcs11 import Mechanism
from web3 import Web3

from ..chain.typed_data import AnchorRequest, Domain
from ..format.codes import doc_type_code
from ..keys.pkcs11 import TokenAccount, TokenKeyRef, generate_token_key
from ..keys.softhsm import init_softhsm
from ._clock import Sample
from ._sections import ISSUANCE_STEPS, Section, issuance_run, least, timed, total
from ._world import scratch, world

TOKEN = "crossverify-bench"


_keys: list[TokenAccount] = []


def token_keys(root: Path) -> tuple[TokenAccount, TokenAccount]:
    """The benchmark's signer and admin keys, in one SoftHSM2 token made once per process (SoftHSM2 lists its
    tokens when the module is first loaded)."""
    if not _keys:
        pin = secrets.token_hex(8)
        module = init_softhsm(scratch(root, "softhsm"), [TOKEN], pin, secrets.token_hex(8))
        _keys.extend(generate_token_key(TokenKeyRef(module, TOKEN, label), pin) for label in ("signer", "admin"))
    return _keys[0], _keys[1]


def signing(token: TokenAccount, n: int) -> Section:
    """Signatures per second through the token beside eth-account (libsecp256k1 through coincurve) in memory."""
    local = Account.create()
    digests = [Hash32(Web3.keccak(i.to_bytes(8, "big"))) for i in range(n)]
    domain = Domain("crossverify", "1", 1337, "0x" + "ab" * 20)
    anchors = [AnchorRequest(d, doc_type_code("ACCTSTMT"), 1, 1000, 2**39, 2**39).typed_data(domain)
               for d in digests]
    tx = {"to": Web3.to_checksum_address("0x" + "cd" * 20), "value": 0, "gas": 100_000, "maxFeePerGas": 10**9,
          "maxPriorityFeePerGas": 10**9, "chainId": 1337, "data": b"\x00" * 400}
    s = Section("Signing with a key in an HSM (SoftHSM2)",
                f"{n:,} signatures per row by a secp256k1 key generated inside a SoftHSM2 token (PKCS#11, "
                "`CKM_ECDSA` on the digest, then s folded to the low half and the recovery id found against the "
                "token's public key), beside an eth-account key in memory signing the same inputs in the same run.",
                ["operation", "eth-account /s", "token /s", "token time / eth-account time"])
    raw = token._key  # the bare token call, without the Ethereum post-processing

    def bare() -> None:
        for d in digests:
            raw.sign(d, mechanism=Mechanism.ECDSA)

    cases = [
        ("32-byte digest (`unsafe_sign_hash`)", lambda a: [a.unsafe_sign_hash(d) for d in digests], None),
        ("anchor request (EIP-712 typed data)", lambda a: [a.sign_message(m) for m in anchors], None),
        ("EIP-1559 transaction", lambda a: [a.sign_transaction({**tx, "nonce": i}) for i in range(n)], None),
        ("token ECDSA alone (no recovery id)", None, bare),
    ]
    for label, run, alone in cases:
        t_local = timed(lambda r=run: r(local))[0] if run else None  # type: ignore[misc]
        t_token = timed(lambda r=run: r(token))[0] if run else timed(alone)[0]  # type: ignore[misc, arg-type]
        s.rows.append([label, f"{n / t_local:,.0f}" if t_local else "", f"{n / t_token:,.0f}",
                       f"{t_token / t_local:.1f}x" if t_local else ""])
    return s


def issuance_in_token(signer: TokenAccount, admin: TokenAccount, documents: int, batch_size: int,
                      root: Path) -> Section:
    """The issuance pipeline on fresh chains, keys in memory and keys in the token taking turns, twice each after an
    untimed run of each; per step the run with the least CPU seconds counts (the disk and the shared machine are
    noisy)."""
    local: list[dict[str, Sample]] = []
    token: list[dict[str, Sample]] = []
    for turn in range(3):  # the first warms up, untimed
        for runs, key, sender in ((local, Account.create(), None), (token, signer, admin)):
            w = world(key, sender)
            before = (signer.signatures, admin.signatures)  # (the world's key proof and key registration before)
            run, _ = issuance_run(w, key, sender or w.operator, documents, batch_size,
                                  scratch(root, f"hsm-{len(runs)}-{turn}-{id(key)}"))
            if turn:
                runs.append(run)
            if key is signer:
                anchors, transactions = signer.signatures - before[0], admin.signatures - before[1]
    s = Section("Issuance with the keys in an HSM",
                f"{documents:,} documents, batches of {batch_size:,}, end to end as in *Issuance end to end*, with "
                "an eth-account signing key and a node-managed operator sending, and with the issuer's signing key "
                "and its admin (which sends `anchorMany` itself) inside SoftHSM2; each twice after an untimed run, "
                "taking turns, the run with the least CPU seconds per step (wall time beside). Per run the token "
                f"signed {anchors} "
                f"anchor request{'s' if anchors != 1 else ''} (one per batch, not one per document) and {transactions} "
                f"transaction{'s' if transactions != 1 else ''}: the HSM is touched per batch, so its speed shows "
                "only in the signing step; the other steps do not involve a key and differ by noise.",
                ["step", "keys in memory, s (CPU)", "keys in the token, s (CPU)", "token / memory"])
    best_local, best_token = least(local), least(token)
    for step in ISSUANCE_STEPS:
        s.rows.append([step, best_local[step].seconds(), best_token[step].seconds(),
                       best_token[step] / best_local[step]])
    whole_local, whole_token = min(map(total, local), key=lambda t: t.work), min(map(total, token),
                                                                                 key=lambda t: t.work)
    s.rows.append(["total, the run with the least CPU", whole_local.seconds(), whole_token.seconds(),
                   whole_token / whole_local])
    s.rows.append(["documents/s", f"{documents / whole_local.wall:,.0f}", f"{documents / whole_token.wall:,.0f}",
                   ""])
    return s
