"""The circulation contract as Python sees it: sealed receipts, sealed disputes, and the sealing keys.

It stands beside the registry (deployed with it: :func:`~crossverify.chain.consortium.deploy_consortium`), reads
the registry's members and issuers, and takes the regulators' keys only from the registry's consortium, which
names it (a ``SET_REGULATOR_KEYS`` proposal). Everything it carries about a document is
sealed (:mod:`crossverify.sealing`): commitments, dispute ids and ciphertexts are all anybody else sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_account.messages import encode_typed_data
from eth_account.signers.base import BaseAccount
from web3 import Web3
from web3.types import TxReceipt

from .. import gm
from ..errors import TransactionFailed
from ..format.encoding import to_hex
from .connection import node_errors
from .logs import spanning
from .registry import Deployed, event_topic
from .transactions import Sender
from .typed_data import ANSWER_TYPE, Domain, compact, gm_answer_message


@dataclass(frozen=True, slots=True)
class RegulatorKeySet:
    """The regulators' sealing keys of one key epoch (0: none set yet), each with its jurisdiction code."""

    epoch: int
    keys: tuple[bytes, ...]
    jurisdictions: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class DisputeInfo:
    """A dispute as the contract stores it: the address that may sign its answer, when it was opened, whether it
    was answered (``opened_at == 0``: no such dispute)."""

    answer_key: str
    opened_at: int
    answered: bool


def answer_keys_at(timed: Sequence[tuple[int, bytes]], at: int) -> list[bytes]:
    """Of the answer keys an issuer set (time, key), in chain order, those in force at time ``at``: the last one set
    before, and any set in that very second. A dispute's answer key derives from the one in force when it was
    opened, whatever the issuer registered since."""
    return [key for t, key in timed if t < at][-1:] + [key for t, key in timed if t == at]


@dataclass(frozen=True)
class CirculationContract(Deployed):
    """A deployed circulation contract."""

    NAME: ClassVar[str] = "Circulation"

    def registry_address(self) -> str:
        return str(Web3.to_checksum_address(self.raw_call("registry", b"")[0]))

    def regulator_keys(self) -> RegulatorKeySet:
        """The current key epoch and its regulator keys, as the contract holds them (one bare ``eth_call``: the
        outbox reads them every round)."""
        epoch, keys, jurisdictions = self.raw_call("regulatorKeys", b"")
        return RegulatorKeySet(int(epoch), tuple(bytes(k) for k in keys), tuple(bytes(j) for j in jurisdictions))

    def issuer_sealing_key(self, issuer_id: bytes) -> bytes:
        """The key disputes about ``issuer_id``'s documents are sealed to (empty if none was registered)."""
        return bytes(self.call(lambda f: f.issuerSealingKey(issuer_id)))

    def issuer_answer_key(self, issuer_id: bytes) -> bytes:
        """The secp256k1 public key (x || y) the answer keys of disputes about ``issuer_id`` derive from."""
        return bytes(self.call(lambda f: f.issuerAnswerKey(issuer_id)))

    def issuer_keys_set(self, issuer_id: bytes, to_block: int | None = None) -> list[tuple[int, bytes]]:
        """The answer keys ``issuer_id`` registered up to ``to_block`` (the latest if ``None``), each with its block's
        time, in chain order (its ``IssuerKeysSet`` events): :func:`answer_keys_at` tells which were in force when."""
        with node_errors():
            end = self.w3.eth.block_number if to_block is None else to_block
            logs = spanning(lambda low, high: self.contract.events.IssuerKeysSet().get_logs(
                from_block=low, to_block=high, argument_filters={"issuerId": issuer_id}), 0, end)
            return [(int(self.w3.eth.get_block(log["blockNumber"])["timestamp"]), bytes(log["args"]["answerKey"]))
                    for log in logs]

    def set_issuer_keys(self, issuer_id: bytes, sealing_key: bytes, answer_key: bytes, sender: Sender) -> TxReceipt:
        """Register, as the issuer's admin, the public key disputes about the issuer are sealed to and the
        secp256k1 public key (64 bytes) their answer keys derive from."""
        return self.transact(lambda f: f.setIssuerKeys(issuer_id, sealing_key, answer_key), sender)

    def record(self, commitments: Sequence[bytes], sealed: bytes, sender: Sender) -> TxReceipt:
        """Record receipts sealed together as an active verifier: their commitments and one envelope (one
        ``ReceiptsSealed`` event)."""
        return self.transact(lambda f: f.recordSealedReceipts(list(commitments), sealed), sender)

    def open_dispute(self, answer_key: str, sealed: bytes, sender: Sender) -> tuple[bytes, TxReceipt]:
        """Open a dispute as an active verifier; returns its id and the receipt."""
        receipt = self.transact(lambda f: f.openDispute(Web3.to_checksum_address(answer_key), sealed), sender)
        opened = [e for e in self.decode_logs(receipt["logs"]) if e.name == "DisputeOpened"]
        if len(opened) != 1:
            raise TransactionFailed("openDispute mined without one DisputeOpened event")
        return bytes(opened[0].args["disputeId"]), receipt

    def answer_signature(self, dispute_id: bytes, sealed: bytes, answer_key: BaseAccount) -> tuple[bytes, bytes]:
        """The answer key's EIP-712 ``Answer`` signature, compact ``(r, vs)``."""
        domain = Domain.of(self)
        message = encode_typed_data(full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
                ],
                "Answer": ANSWER_TYPE,
            },
            "primaryType": "Answer",
            "domain": domain.as_dict(),
            "message": {"disputeId": dispute_id, "ciphertextHash": Web3.keccak(sealed)},
        })
        return compact(bytes(answer_key.sign_message(message).signature))

    def answer_dispute_sm2(self, dispute_id: bytes, sealed: bytes, answer_secret: bytes, sender: Sender
                           ) -> TxReceipt:
        """Answer a dispute in the GM suite: the SM2 answer key (its secret ``answer_secret``) signs the GM message
        of ``Answer(disputeId, SM3(sealed))`` under this contract's domain (docs/format.md)."""
        public = gm.public_key_of(answer_secret)
        signature = gm.sign(answer_secret, self.gm_answer_message(dispute_id, sealed))
        return self.transact(lambda f: f.answerDisputeSM2(dispute_id, sealed, signature[:32], signature[32:],
                                                          public[:32], public[32:]), sender)

    def gm_answer_message(self, dispute_id: bytes, sealed: bytes) -> bytes:
        """The 32-byte message M an SM2 answer key signs for ``sealed`` under this contract's domain
        (:func:`~crossverify.chain.typed_data.gm_answer_message`)."""
        return gm_answer_message(Domain.of(self), dispute_id, sealed)

    def answer_dispute(self, dispute_id: bytes, sealed: bytes, answer_key: BaseAccount, sender: Sender
                       ) -> TxReceipt:
        """Answer a dispute, signed with its answer key and sent by ``sender`` (any account: a relay hides the
        issuer)."""
        signature = self.answer_signature(dispute_id, sealed, answer_key)
        return self.transact(lambda f: f.answerDispute(dispute_id, sealed, signature), sender)

    def dispute(self, dispute_id: bytes) -> DisputeInfo:
        answer_key, opened_at, answered = self.call(lambda f: f.dispute(dispute_id))
        return DisputeInfo(str(answer_key), int(opened_at), bool(answered))

    def events(self, from_block: int = 0, to_block: int | None = None, name: str | None = None,
               first: bytes | None = None) -> list[Any]:
        """Every event of this contract from ``from_block`` to ``to_block`` (the latest if ``None``), decoded; only
        ``name``'s, whose first indexed argument is ``first`` (when given), when ``name`` is given: the node finds
        those by topic, without sending every bank's receipts along."""
        query: Any = {"address": self.contract.address}
        if name is not None:
            query["topics"] = [to_hex(event_topic(self.NAME, name)), *([] if first is None else [to_hex(first)])]
        with node_errors():
            end = self.w3.eth.block_number if to_block is None else to_block
            logs = spanning(lambda low, high: self.w3.eth.get_logs(query | {"fromBlock": low, "toBlock": high}),
                            from_block, end)
        return self.decode_logs(logs)
