"""A bank's disputes: open one about a document it verified and doubts, and read the issuer's answer.

The dispute is sealed to the issuer's sealing key (registered on the circulation contract by the issuer's
admin) and to the regulators' keys of the current epoch; the answer comes back sealed to a one-time reply key
the bank made for this dispute. Keep the :class:`OpenedDispute` (it holds that reply key): without it the
answer cannot be read. Nothing on chain names the document, the issuer or the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chain.circulation import CirculationContract
from ..chain.connection import first_block_since, node_errors
from ..chain.registry import Registry
from ..chain.transactions import Sender
from ..errors import CrossverifyError, SealingError
from ..format.codes import issuer_id_code
from ..format.encoding import from_hex, to_hex
from ..sealing import (
    Dispute,
    DisputeAnswer,
    DisputeReason,
    RegulatorKey,
    RegulatorPublicKey,
    answer_key_address,
    kem_of_public_key,
    open_answer,
    seal_dispute,
)
from .client import VerificationReport
from .outbox import regulator_keys


@dataclass(frozen=True)
class OpenedDispute:
    """A dispute this bank opened: its id on chain, its content, and the private reply key for the answer."""

    dispute_id: bytes
    dispute: Dispute
    reply_key: RegulatorKey

    def to_json(self) -> dict[str, Any]:
        d = self.dispute
        return {"disputeId": to_hex(self.dispute_id), "documentDigest": to_hex(d.document_digest),
                "issuer": d.issuer_id, "batchRoot": to_hex(d.batch_root), "reason": d.reason.name.lower(),
                "receipt": to_hex(d.receipt_commitment), "openedAt": d.opened_at, "salt": to_hex(d.salt),
                "replyKey": {"kem": self.reply_key.kem.name, "private": to_hex(self.reply_key.raw)}}

    def write(self, path: Path) -> None:
        """Write to a new file readable by its owner only (it holds the reply key); never overwrites."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CrossverifyError(f"{path} exists; not overwriting a dispute file") from None
        with os.fdopen(fd, "w") as file:
            json.dump(self.to_json(), file, indent=1)

    @classmethod
    def read(cls, path: Path) -> OpenedDispute:
        try:
            data = json.loads(path.read_text())
            reply = RegulatorKey.from_json({"kem": data["replyKey"]["kem"], "private": data["replyKey"]["private"]})
            dispute = Dispute(from_hex(data["documentDigest"], 32), data["issuer"], from_hex(data["batchRoot"], 32),
                              DisputeReason[data["reason"].upper()], from_hex(data["receipt"], 32),
                              int(data["openedAt"]), reply.public_key, from_hex(data["salt"], 16))
            return cls(from_hex(data["disputeId"], 32), dispute, reply)
        except KeyError as exc:
            raise SealingError(f"{path} is not a dispute file (as 'dispute open --out' writes): it has no {exc}")\
                from None
        except (OSError, ValueError, TypeError) as exc:
            raise SealingError(f"cannot read dispute file {path}: {exc}") from None


def open_dispute(circulation: CirculationContract, sender: Sender, report: VerificationReport,
                 reason: DisputeReason, now: int, receipt: bytes | None = None) -> OpenedDispute:
    """Open a dispute about the document of ``report`` (verified earlier; ``receipt`` is its receipt's
    commitment, if one was recorded), sealed to the issuer's key and the regulators' keys."""
    if report.bundle is None or report.document_digest is None:
        raise CrossverifyError("a dispute needs a readable bundle")
    issuer = report.bundle.header.issuer_id
    issuer_key = circulation.issuer_sealing_key(issuer_id_code(issuer))
    answer_root = circulation.issuer_answer_key(issuer_id_code(issuer))
    if not issuer_key or not answer_root:
        raise SealingError(f"issuer {issuer} registered no keys for disputes on the circulation contract")
    regulators = regulator_keys(circulation)
    kem = regulators[0].kem
    if kem_of_public_key(issuer_key) is not kem:
        raise SealingError(f"issuer {issuer} registered a {kem_of_public_key(issuer_key).name} key for disputes, "
                           f"which are sealed with the regulators' KEM, {kem.name}: the issuer must register a "
                           f"{kem.name} key ('crossverify dispute keygen --kem ...', then 'dispute register-key')")
    recipient = RegulatorPublicKey(kem, issuer_key)
    reply = RegulatorKey.generate(regulators[0].kem)
    dispute = Dispute.new(report.document_digest, issuer, report.bundle.proof.batch_root, reason, receipt, now,
                          reply.public_key)
    answer_key = answer_key_address(dispute, answer_root)
    sealed = seal_dispute(dispute, [recipient, *regulators], answer_key)
    dispute_id, _ = circulation.open_dispute(answer_key, sealed, sender)
    return OpenedDispute(dispute_id, dispute, reply)


@dataclass(frozen=True, slots=True)
class ReadAnswer:
    """The issuer's answer as the bank reads it; ``signed_by_issuer``: its signer is a signing key of the issuer, whose
    signature it is (in the GM suite the answer names the key, and the signature is checked against it)."""

    answer: DisputeAnswer
    signer: str
    signed_by_issuer: bool


def read_answer(circulation: CirculationContract, registry: Registry, opened: OpenedDispute) -> ReadAnswer | None:
    """The answer to ``opened``, if the issuer answered yet, with its signer checked against the registry."""
    info = circulation.dispute(opened.dispute_id)
    if not info.opened_at:  # no such dispute (yet)
        return None
    with node_errors():
        since = first_block_since(circulation.w3, info.opened_at)  # the answer comes after its opening
    for event in circulation.events(since, name="DisputeAnswered", first=opened.dispute_id):
        if bytes(event.args["disputeId"]) == opened.dispute_id:
            answer = open_answer(bytes(event.args["ciphertext"]), opened.dispute_id, opened.reply_key)
            signer = answer.signer()
            key = registry.call(lambda f, s=signer: f.signingKey(s))  # type: ignore[misc]
            signed = bytes(key[0]) == issuer_id_code(opened.dispute.issuer_id) and answer.signed_by_signer(
                registry.sm2_public_key)
            return ReadAnswer(answer, signer, signed)
    return None
