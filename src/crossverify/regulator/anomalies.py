"""What a regulator is shown as an anomaly: every kind, what it means, how serious it is, and what a supervisor
does next (docs/regulator.md says the same at length).

The lawful flows raise none: an issuer anchoring and revoking with its own keys, a bank recording a receipt for
a presentation its resident signed or for a bundle whose resident consented in person (the bank's attestation,
under its case reference), a dispute its issuer answers in time. Each anomaly is raised once, by the index
(:mod:`crossverify.regulator.facts`, from the events alone) or by the opened circulation trail
(:mod:`crossverify.regulator.circulation`), and kept with the block that raised it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..store import Connection, rows_in


class Severity(StrEnum):
    """``high``: a rule of the platform was broken or personal data may have moved without a basis; ``medium``:
    a duty is late or a pattern needs a look; ``low``: worth knowing."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Kind:
    """An anomaly kind: ``keyed`` ones need the regulator's keys (they come from opened receipts and disputes)."""

    name: str
    severity: Severity
    title: str
    meaning: str
    next_step: str
    keyed: bool

    def as_json(self) -> dict[str, object]:
        return {"kind": self.name, "severity": self.severity.value, "title": self.title, "meaning": self.meaning,
                "nextStep": self.next_step}


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("anchor_in_compromised_window", Severity.HIGH, "Batch anchored under a compromised key",
         "A batch was anchored with a signing key at or after the moment its issuer later reported the key "
         "compromised. Verifiers now refuse its documents; whoever held the stolen key may have issued them.",
         "Ask the issuer which of the batch's documents it issued itself, have it re-issue those under a sound key, "
         "and look at the batch's circulation for banks that accepted them before the report.", keyed=False),
    Kind("revocation_by_compromised_key", Severity.HIGH, "Revocation signed by a compromised key",
         "A revocation was signed with a key at or after the moment it was reported compromised: it does not "
         "count, so the documents stay valid unless a sound key revokes them.",
         "Ask the issuer whether it meant the revocation; if so, it revokes again with a sound key or its admin. "
         "A revocation it did not mean is evidence of the key's misuse.", keyed=False),
    Kind("anchor_replaced", Severity.HIGH, "Pending batch squatted by a compromised key",
         "A batch root was first anchored with a signing key that its issuer later reported compromised from a "
         "moment at or before that anchor, and the genuine anchor took its place: whoever held the stolen key "
         "anchored the issuer's pending root with other terms to block it. Only the genuine anchor counts.",
         "Ask the issuer how the key was stolen and whether any other batch of that key's window is its own.",
         keyed=False),
    Kind("revocation_by_compromised_admin", Severity.HIGH, "Revocation sent by a compromised admin",
         "The consortium replaced an issuer's admin account as compromised from a moment on; a revocation that "
         "account sent at or after that moment does not count, so the documents stay valid unless the new admin "
         "revokes them.",
         "Ask the issuer whether it meant the revocation; if so, its new admin revokes again. One it did not mean "
         "is evidence of the account's misuse.", keyed=False),
    Kind("receipt_burst", Severity.MEDIUM, "Burst of receipts from one bank",
         "A bank recorded more receipts in one hour than the index's threshold ([audit] burst_per_hour): bulk "
         "verification outside its usual business, or a bank scanning documents it has no case for.",
         "Ask the bank what the hour's verifications were for, and compare with its usual volume.", keyed=False),
    Kind("circulation_without_consent", Severity.HIGH, "Verification recorded without consent",
         "A bank recorded a verification stating neither a presentation its resident signed nor its own "
         "attestation that the resident consented in person.",
         "Ask the bank for the legal basis of the verification and the resident's consent; a bank that records "
         "such receipts repeatedly needs its procedure reviewed.", keyed=True),
    Kind("consent_reused", Severity.HIGH, "One consent cited twice",
         "Two receipts cite the same holder-signed presentation. A presentation answers one bank's one-time "
         "challenge, so the second receipt reuses a consent given for another verification.",
         "Compare the two receipts' banks, purposes and times; ask the bank that recorded the second for the "
         "presentation it verified.", keyed=True),
    Kind("receipt_recorded_again", Severity.HIGH, "One receipt recorded twice",
         "A receipt's commitment was recorded before, by the same bank (its transaction was sent twice) or by "
         "another (one of the two copied the other's sealed batch, which is public, possibly ahead of it, having "
         "seen its transaction pending). It is one verification, counted once, under the bank that recorded it "
         "first.",
         "Ask both banks for the verification the receipt states: only the bank that made it holds the "
         "presentation or the case it cites. A bank that records another's receipt claims a verification it did "
         "not make.", keyed=True),
    Kind("circulation_of_revoked", Severity.HIGH, "Revoked document accepted",
         "A bank recorded a verification of a document at or after its issuer revoked it (the document or its "
         "whole batch). A bank records receipts only for documents that passed every check: its view of the "
         "registry was stale or forked, or the receipt is not what it checked.",
         "Ask the bank which node it read the registry from and to reverse any decision it based on the "
         "document; tell the issuer.", keyed=True),
    Kind("circulation_of_expired", Severity.MEDIUM, "Expired document accepted",
         "A bank recorded a verification of a document after the validity its issuer anchored with it "
         "(notAfter) had passed.",
         "Ask the bank about its clock and its freshness policy, and whether it relied on the document.",
         keyed=True),
    Kind("circulation_of_unanchored", Severity.HIGH, "Document of no anchor by its issuer accepted",
         "A bank recorded a verification of a document whose batch root the issuer its receipt names never "
         "anchored. Revocations and expiry are checked against that issuer's own anchors and revocations, so a "
         "receipt naming another issuer than the document's escapes those checks; a genuine verification names "
         "the issuer that anchored the batch.",
         "Compare the issuers that anchored the batch (anchoredBy) with the one the receipt names; ask the "
         "bank for the document's bundle and check it again yourself.", keyed=True),
    Kind("dispute_unanswered", Severity.MEDIUM, "Dispute not answered in time",
         "A bank disputed a document and its issuer has not answered within the time allowed "
         "([regulator] dispute_answer_within days).",
         "Remind the issuer of its duty to answer; the bank should not rely on the document meanwhile.",
         keyed=True),
    Kind("dispute_answer_not_by_issuer", Severity.HIGH, "Dispute answered by someone else",
         "A dispute's answer is signed by a key that was never a signing key of the issuer of the disputed "
         "document.",
         "Treat the answer as void; ask the issuer to answer with one of its signing keys and find out who "
         "signed this one.", keyed=True),
    Kind("sealed_to_other_keys", Severity.MEDIUM, "Receipts sealed to keys you do not hold",
         "None of your configured keys was a regulator key of the key epoch the receipts were sealed in: you "
         "lack the key you held then, or the consortium set that epoch's keys without you.",
         "Add the key you held in that epoch to [regulator] key_files and sync again; if you held none, ask the "
         "operators why the epoch left you out.", keyed=True),
    Kind("sealed_altered", Severity.HIGH, "Sealed receipts that do not open",
         "Your part of the sealed bytes does not open, or a plaintext does not match its commitment: the bank "
         "left you out of an epoch you belong to, or sealed something other than what it committed to.",
         "Ask the bank to explain the transaction; receipts it cannot account for hide verifications from you.",
         keyed=True),
    Kind("sealed_malformed", Severity.HIGH, "Malformed sealed receipts",
         "The bytes recorded as sealed receipts or a dispute are not a sealed payload at all.",
         "Ask the bank (or the party that sent the transaction) what it recorded and why its software did so.",
         keyed=True),
)}


def kind(name: str) -> Kind:
    """The catalogue entry of ``name``; an anomaly the catalogue lacks is a programming error."""
    return KINDS[name]


def next_id(db: Connection, table: str) -> int:
    """The id the next row of ``table`` takes (ids only grow; a rewind frees the highest)."""
    return int(db.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])


#: An anomaly as :func:`record_all` takes it: its kind, its subject, and :func:`record`'s other arguments.
Found = tuple[str, str, dict[str, Any]]

_INSERT = ("INSERT INTO anomalies (id, block_number, block_time, happened_at, kind, subject, keyed, verifier, "
           "issuer_id, document_digest, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def record(db: Connection, name: str, subject: str, *, block_number: int, block_time: int, happened_at: int,
           verifier: str = "", issuer_id: str = "", document_digest: bytes | None = None,
           **details: Any) -> bool:
    """Keep an anomaly of kind ``name`` about ``subject`` (unique within the kind), raised by the block
    ``block_number``; ``happened_at`` is when what it describes happened. Returns whether it is new."""
    if db.execute("SELECT 1 FROM anomalies WHERE kind = ? AND subject = ?", (name, subject)).fetchone():
        return False
    db.execute(_INSERT, (next_id(db, "anomalies"), block_number, block_time, happened_at, name, subject,
                         int(kind(name).keyed), verifier, issuer_id, document_digest, as_details(**details)))
    return True


def record_all(db: Connection, found: list[Found]) -> None:
    """:func:`record` for each of ``found``, in order, with a few statements for all: the subjects held already
    asked 500 at a time, the new anomalies numbered from one ``MAX(id)`` and inserted together."""
    subjects: dict[str, list[str]] = {}
    for name, subject, _ in found:
        subjects.setdefault(name, []).append(subject)
    held: set[tuple[str, str]] = set()
    for name, names in subjects.items():
        held.update((name, str(subject)) for (subject,) in rows_in(
            db, "SELECT subject FROM anomalies WHERE kind = ? AND subject IN ({})", names, name))
    rows, number = [], next_id(db, "anomalies") if found else 0
    for name, subject, fields in found:
        if (name, subject) in held:
            continue
        held.add((name, subject))
        a = dict(fields)
        where = (a.pop("block_number"), a.pop("block_time"), a.pop("happened_at"))
        rows.append((number, *where, name, subject, int(kind(name).keyed), a.pop("verifier", ""),
                     a.pop("issuer_id", ""), a.pop("document_digest", None), as_details(**a)))
        number += 1
    if rows:
        db.executemany(_INSERT, rows)


def as_details(**details: Any) -> str:
    """An anomaly's details as stored: JSON, keys sorted."""
    return json.dumps(details, sort_keys=True)


def record_revoked_receipt(db: Connection, *, block_number: int, block_time: int, commitment: bytes,
                           verifier: str, issuer_id: str, document_digest: bytes, verified_at: int, revoked_at: int,
                           scope: str) -> None:
    """A receipt for a document verified at or after its revocation (raised by the later of the two blocks)."""
    name, subject, fields = revoked_receipt(block_number=block_number, block_time=block_time, commitment=commitment,
                                            verifier=verifier, issuer_id=issuer_id, document_digest=document_digest,
                                            verified_at=verified_at, revoked_at=revoked_at, scope=scope)
    record(db, name, subject, **fields)


def revoked_receipt(*, block_number: int, block_time: int, commitment: bytes, verifier: str, issuer_id: str,
                    document_digest: bytes, verified_at: int, revoked_at: int, scope: str) -> Found:
    """The anomaly :func:`record_revoked_receipt` keeps, for :func:`record_all`."""
    subject = "0x" + bytes(commitment).hex()
    return "circulation_of_revoked", subject, {
        "block_number": block_number, "block_time": block_time, "happened_at": verified_at, "verifier": verifier,
        "issuer_id": issuer_id, "document_digest": bytes(document_digest), "commitment": subject,
        "revokedAt": revoked_at, "scope": scope}
