"""An issuer's side of disputes: register its keys, list the disputes sealed to it, answer them.

Disputes about the issuer's documents are sealed to the issuer's X25519 (or hybrid) sealing key, whose public
half its admin registers on the circulation contract with the issuer's answer key (a secp256k1 key derived from
the sealing key). An answer is signed twice: by one of the issuer's signing keys inside (so the bank and the
regulators know the issuer answered), and by the dispute's one-time answer key outside, the issuer's answer key
moved by a tweak sealed in the dispute: only the issuer can sign for it, so nobody else can take its place, and
the contract accepts it from any sender (a relay keeps the issuer's accounts out of it).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.base import BaseAccount
from web3.types import TxReceipt

from ..chain.circulation import CirculationContract
from ..chain.connection import first_block_since, node_errors
from ..chain.transactions import Sender
from ..chain.typed_data import SM2Signer
from ..errors import CrossverifyError, NotSealedToThisKey, SealingError, SuiteMismatch
from ..format.codes import issuer_id_code
from ..format.suite import Suite
from ..sealing import (
    Dispute,
    DisputeAnswer,
    DisputeStatus,
    RegulatorKey,
    RegulatorPublicKey,
    answer_signing_key,
    issuer_answer_key,
    kem_of_public_key,
    open_dispute,
    seal_answer,
)


@dataclass(frozen=True, slots=True)
class ReceivedDispute:
    """A dispute sealed to this issuer, opened: its id, the disputing bank, the block, the content, whether
    it was answered."""

    dispute_id: bytes
    verifier: str
    block_number: int
    opened_at: int
    dispute: Dispute
    answered: bool


def register_sealing_key(circulation: CirculationContract, issuer_id: str, key: RegulatorKey, admin: Sender
                         ) -> TxReceipt:
    """Register ``key``'s public half as the issuer's dispute sealing key, and the answer key derived from it
    (sent by the issuer's admin). Disputes are sealed to it with the regulators' KEM: a key of another KEM is
    refused (:class:`SealingError`), nothing sent."""
    regulators = circulation.regulator_keys().keys
    if regulators and kem_of_public_key(regulators[0]) is not key.kem:
        raise SealingError(f"disputes are sealed with the regulators' KEM: the issuer's key must be a "
                           f"{kem_of_public_key(regulators[0]).name} key, as the regulators' keys are, not "
                           f"{key.kem.name}")
    return circulation.set_issuer_keys(issuer_id_code(issuer_id), key.public_key.raw, issuer_answer_key(key), admin)


def received_disputes(circulation: CirculationContract, key: RegulatorKey, from_block: int = 0,
                      dispute_id: bytes | None = None) -> list[ReceivedDispute]:
    """Every dispute since ``from_block`` (only ``dispute_id``, when given: looked for from the block it was opened
    in) that opens with the issuer's sealing key ``key`` and that this issuer can answer, oldest first."""
    out = []
    answer_root = issuer_answer_key(key)
    if dispute_id is not None:
        opened_at = circulation.dispute(dispute_id).opened_at
        if not opened_at:
            return []
        with node_errors():
            from_block = max(from_block, first_block_since(circulation.w3, opened_at))
    for event in circulation.events(from_block, name="DisputeOpened", first=dispute_id):
        opened = bytes(event.args["disputeId"])
        info = circulation.dispute(opened)
        try:
            dispute = open_dispute(bytes(event.args["ciphertext"]), info.answer_key, key, lambda _: answer_root)
        except (NotSealedToThisKey, SealingError, SuiteMismatch):
            continue  # about another issuer's document, not for this key, or not for this deployment's suite
        out.append(ReceivedDispute(opened, event.args["verifier"], event.block_number, info.opened_at, dispute,
                                   info.answered))
    return out


def answer_dispute(circulation: CirculationContract, received: ReceivedDispute, status: DisputeStatus,
                   signer: BaseAccount | SM2Signer, sender: Sender, now: int, key: RegulatorKey) -> DisputeAnswer:
    """Answer ``received`` with ``status``, signed by the issuer's signing key ``signer`` (in the GM suite an SM2
    key, which the answer names) and by the dispute's answer key (from the issuer's sealing key ``key``), sealed to
    the bank's reply key and the regulators' keys, sent by ``sender`` (any account)."""
    if received.answered:
        raise CrossverifyError(f"dispute {received.dispute_id.hex()} was already answered")
    signed = DisputeAnswer.signed_bytes(received.dispute_id, status, now)
    if isinstance(signer, BaseAccount):
        signature = bytes(signer.sign_message(encode_defunct(signed)).signature)
    else:
        signature = bytes.fromhex(signer.address[2:]) + signer.sign(signed)
    answer = DisputeAnswer(received.dispute_id, status, now, signature)
    regulators = [RegulatorPublicKey(kem_of_public_key(k), k)
                  for k in circulation.regulator_keys().keys]
    sealed = seal_answer(answer, [received.dispute.reply_key, *regulators])
    secret = answer_signing_key(received.dispute, key)
    if received.dispute.suite is Suite.GM:
        circulation.answer_dispute_sm2(received.dispute_id, sealed, secret, sender)
    else:
        circulation.answer_dispute(received.dispute_id, sealed, Account.from_key(secret), sender)
    return answer
