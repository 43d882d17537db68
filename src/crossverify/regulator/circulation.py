"""The circulation trail: the sealed receipts and disputes of the circulation contract, opened with the regulator's
keys and kept in clear in the index, so that a regulator can answer "who verified this document, for what, with
whose consent" and follow every dispute.

The index stores the circulation events as the chain has them (sealed); :class:`CirculationTrail` opens each one
once, with every key the regulator has held (keys rotate by epoch; old receipts stay sealed to old keys), into the
``circulation_*`` tables, each event with the hash of its block. When the index no longer holds that block (a
reorganisation or a reset rewound it), the trail rewinds to the last block it still holds, and the next pass
opens the new events. What does not open is kept as an anomaly: sealed to other keys (the bank left this
regulator out), altered (our part does not open, or does not match its commitment), or malformed.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from ..errors import NoRegulatorKey, NotSealedToThisKey, SealingError, StoreLocked
from ..format.codes import code_name
from ..format.encoding import from_hex, to_hex, utc_time
from ..sealing import DisputeAnswer, Receipt, RegulatorKey, SealedReceipts, open_answer, open_dispute, open_receipts
from .index import AuditReport, IndexedEvent, RegulatorReader, SyncReport
from .schema import SET_META

log = logging.getLogger(__name__)

EVENTS = ("RegulatorKeysChanged", "ReceiptsSealed", "DisputeOpened", "DisputeAnswered")
TABLES = ("read", "receipts", "disputes", "answers", "anomalies", "epochs")
T = TypeVar("T")
DAY = 86400

#: Purpose codes banks use, in words; any other code is shown as it is.
PURPOSES = {
    "ACCTOPEN": "account opening",
    "LOAN": "loan application",
    "MORTGAGE": "mortgage application",
    "KYC": "customer due diligence",
    "CARDAPP": "card application",
    "INSURE": "insurance application",
    "INVEST": "investment account",
}


def purpose_words(code: str) -> str:
    return PURPOSES.get(code, code)


@dataclass(frozen=True, slots=True)
class Circulation:
    """One receipt of a document's trail: which bank verified it, when, in which block, for what, and whether the
    resident consented (the bank verified a holder-signed presentation, whose hash the receipt carries)."""

    verifier: str
    member: str
    recorded_at: int
    block_number: int
    verified_at: int
    issuer_id: str
    purpose: str
    presentation_hash: bytes
    commitment: bytes

    @property
    def consented(self) -> bool:
        return self.presentation_hash != bytes(32)

    def as_json(self) -> dict[str, Any]:
        return {"verifier": self.verifier, "member": self.member, "recordedAt": utc_time(self.recorded_at),
                "block": self.block_number, "verifiedAt": utc_time(self.verified_at), "issuer": self.issuer_id,
                "purpose": self.purpose, "purposeInWords": purpose_words(self.purpose), "consented": self.consented,
                "presentationHash": to_hex(self.presentation_hash) if self.consented else None,
                "commitment": to_hex(self.commitment)}


@dataclass(frozen=True)
class Trail:
    """Everything the regulator knows of one document's circulation, in chain order."""

    document_digest: bytes
    receipts: list[Circulation]
    disputes: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"documentDigest": to_hex(self.document_digest), "receipts": [r.as_json() for r in self.receipts],
                "disputes": self.disputes}


@dataclass(frozen=True, slots=True)
class OpenReport:
    """What one pass opened: ``receipts`` and ``disputes`` (openings and answers) read, ``unreadable`` kept as
    anomalies."""

    receipts: int
    disputes: int
    unreadable: int


class CirculationTrail:
    """The regulator's opened view of the circulation contract, over a :class:`RegulatorReader`'s index.

    ``keys`` are every sealing key the regulator has held; at least one is needed (:class:`NoRegulatorKey`). A
    payload is tried with our keys among its key epoch's regulator keys only (the sealed bytes name no key). A
    dispute's answer key, which its sealed bytes are bound to, is read from the contract. ``now`` is the clock
    disputes age by (default: the latest block's time).
    """

    def __init__(self, reader: RegulatorReader, keys: Sequence[RegulatorKey], *,
                 dispute_answer_within: float = 5 * DAY, now: Callable[[], float] | None = None) -> None:
        if not keys:
            raise NoRegulatorKey("no regulator key is configured: set [regulator] key_files (crossverify regulator "
                                 "keygen makes one)")
        self.reader = reader
        self.keys = list(keys)
        self.dispute_answer_within = dispute_answer_within
        self._now = now
        self._db = reader.store.db
        self._reset_if_keys_changed()

    def _reset_if_keys_changed(self) -> None:
        """Open everything again when the key set changed: a key added later may open what did not open before."""
        fingerprint = ",".join(sorted(k.public_key.key_id.hex() for k in self.keys))
        row = self._db.execute("SELECT value FROM meta WHERE key = 'circulation_keys'").fetchone()
        if row is not None and row[0] == fingerprint:
            return
        with self.reader.store.transaction() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM circulation_{table}")
            db.execute(SET_META, ("circulation_keys", fingerprint))

    def sync(self, on_chunk: Callable[[int, int], None] | None = None) -> tuple[SyncReport, OpenReport]:
        """Index new events (:meth:`RegulatorReader.sync`), then open the new sealed ones."""
        with self.reader.syncing():
            return self.reader.index_new(on_chunk), self._open_new()

    def open_new(self) -> OpenReport:
        """Open every sealed event indexed since the last pass, in one transaction; nothing when another process
        (a replica) is syncing the index: it opens them."""
        try:
            with self.reader.syncing():
                return self._open_new()
        except StoreLocked:
            return OpenReport(0, 0, 0)

    def _open_new(self) -> OpenReport:
        self._rewind()
        last = self._db.execute("SELECT block_number, log_index FROM circulation_read "
                                "ORDER BY block_number DESC, log_index DESC LIMIT 1").fetchone() or (-1, -1)
        epochs = self._epochs()
        rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        hashes: dict[int, bytes] = {}
        for e in self.reader.events_after(last[0], last[1], *EVENTS):
            where, a = (e.block_number, e.log_index), e.args
            if e.block_number not in hashes:
                hashes[e.block_number] = self._block_hash(e.block_number)
            rows["read"].append((*where, hashes[e.block_number]))
            if e.name == "RegulatorKeysChanged":
                epochs[a["epoch"]] = self._ours(a["keys"])
                rows["epochs"].append((*where, e.block_time, a["epoch"], json.dumps(a["keys"]),
                                       json.dumps([code_name(from_hex(j)) for j in a["jurisdictions"]])))
            elif e.name == "ReceiptsSealed":
                batch = SealedReceipts(tuple(from_hex(c) for c in a["commitments"]), from_hex(a["ciphertext"]))
                opened = _open(epochs.get(a["keyEpoch"], []), partial(_open_receipts, batch))
                for i, commitment in enumerate(a["commitments"]):
                    r = opened if isinstance(opened, str) else opened[i] or "sealed_altered"
                    if isinstance(r, str):
                        rows["anomalies"].append((*where, i, e.block_time, r, json.dumps(
                            {"verifier": a["verifier"], "keyEpoch": a["keyEpoch"], "commitment": commitment})))
                        continue
                    rows["receipts"].append((*where, i, e.block_time, a["verifier"], a["keyEpoch"],
                                             from_hex(commitment), r.document_digest, r.issuer_id, r.purpose,
                                             r.presentation_hash, r.verified_at))
            else:
                self._dispute_event(e, epochs.get(a["keyEpoch"], []), rows)
        if rows["read"]:
            with self.reader.store.transaction() as db:
                for table, values in rows.items():
                    if values:
                        db.executemany(f"INSERT INTO circulation_{table} VALUES ({','.join('?' * len(values[0]))})",
                                       values)
        return OpenReport(len(rows["receipts"]), len(rows["disputes"]) + len(rows["answers"]), len(rows["anomalies"]))

    def _block_hash(self, number: int) -> bytes:
        row = self._db.execute("SELECT hash FROM blocks WHERE number = ?", (number,)).fetchone()
        assert row is not None, "the index holds the hash of every block with an indexed event"
        return bytes(row[0])

    def _rewind(self) -> None:
        """Drop what was opened from blocks the index no longer holds (it rewound them), so they are read again."""
        held = ("SELECT r.block_number, r.block_hash, b.hash FROM circulation_read r "
                "LEFT JOIN blocks b ON b.number = r.block_number")
        last = self._db.execute(held + " ORDER BY r.block_number DESC, r.log_index DESC LIMIT 1").fetchone()
        if last is None or (last[2] is not None and bytes(last[1]) == bytes(last[2])):
            return
        keep = next((number for number, stored, current in self._db.execute(
            held.replace("SELECT", "SELECT DISTINCT", 1) + " ORDER BY r.block_number DESC")
            if current is not None and bytes(stored) == bytes(current)), -1)
        log.warning("the index rewound: rewinding the circulation trail", extra={"last_block_kept": keep})
        with self.reader.store.transaction() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM circulation_{table} WHERE block_number > ?", (keep,))

    def _epochs(self) -> dict[int, list[tuple[RegulatorKey, int]]]:
        """Our keys among each key epoch's regulator keys, as opened so far."""
        return {epoch: self._ours(json.loads(keys)) for epoch, keys in
                self._db.execute("SELECT epoch, keys FROM circulation_epochs")}

    def _ours(self, public_keys: list[str]) -> list[tuple[RegulatorKey, int]]:
        """Our keys among an epoch's regulator keys, each with its position in the list."""
        position = {from_hex(k): i for i, k in enumerate(public_keys)}
        return [(k, position[k.public_key.raw]) for k in self.keys if k.public_key.raw in position]

    def _dispute_event(self, e: IndexedEvent, ours: list[tuple[RegulatorKey, int]],
                       rows: dict[str, list[tuple[Any, ...]]]) -> None:
        """Open a dispute (with the answer key its id commits to, read from the contract) or its answer."""
        a, where = e.args, (e.block_number, e.log_index)
        dispute_id, sealed = from_hex(a["disputeId"]), from_hex(a["ciphertext"])
        if e.name == "DisputeOpened":
            assert self.reader.circulation is not None
            answer_key = self.reader.circulation.dispute(dispute_id).answer_key
            opened = _open(ours, lambda key, _: open_dispute(sealed, answer_key, key))
            if not isinstance(opened, str):
                d = opened
                content = {"issuer": d.issuer_id, "batchRoot": to_hex(d.batch_root), "reason": d.reason.name.lower(),
                           "receiptCommitment": to_hex(d.receipt_commitment) if any(d.receipt_commitment) else None,
                           "statedAt": d.opened_at}
                rows["disputes"].append((*where, e.block_time, dispute_id, a["verifier"], a["keyEpoch"],
                                         json.dumps(content), d.document_digest))
                return
        else:
            answered = _open(ours, lambda key, _: open_answer(sealed, dispute_id, key))
            if not isinstance(answered, str):
                content = {"answer": answered.status.name.lower(), "answeredAt": answered.answered_at,
                           "signer": _signer(answered)}
                rows["answers"].append((*where, e.block_time, dispute_id, a["keyEpoch"], json.dumps(content)))
                return
            opened = answered
        rows["anomalies"].append((*where, 0, e.block_time, opened, json.dumps(
            {"event": e.name, "disputeId": a["disputeId"], "keyEpoch": a["keyEpoch"]})))

    # -- queries ------------------------------------------------------------------------------------------------

    def circulation(self, document_digest: bytes) -> Trail:
        """Every receipt of ``document_digest`` in chain order, and its disputes with their answers."""
        self._rewind()
        members = self._members()
        rows = self._db.execute(
            "SELECT verifier, block_time, block_number, verified_at, issuer_id, purpose, presentation_hash, "
            "commitment FROM circulation_receipts WHERE document_digest = ? ORDER BY block_number, log_index, "
            "position", (document_digest,)).fetchall()
        receipts = [Circulation(v, members.get(v, "not a member"), t, n, at, who, p, bytes(ph), bytes(c))
                    for v, t, n, at, who, p, ph, c in rows]
        disputes = self._disputes(document_digest)
        return Trail(document_digest, receipts, disputes)

    def _members(self) -> dict[str, str]:
        """Each verifier's standing in the registry, from the indexed membership events."""
        standing: dict[str, str] = {}
        for t, name, a in self.reader.events("MemberAdmitted", "MemberSuspended", "MemberReinstated"):
            verb = {"MemberAdmitted": "admitted", "MemberSuspended": "suspended", "MemberReinstated": "reinstated"}
            standing[a["account"]] = f"verifier, {verb[name]} {utc_time(t)[:10]}"
        return standing

    def _disputes(self, document_digest: bytes | None = None) -> list[dict[str, Any]]:
        """Every dispute (of ``document_digest``, if given) with its lifecycle: opened, answered (with what, when,
        signed by whom), age."""
        signing_keys: defaultdict[str, set[str]] = defaultdict(set)
        for _, _, a in self.reader.events("SigningKeyAdded"):
            signing_keys[code_name(from_hex(a["issuerId"]))].add(a["key"].lower())
        answers: dict[bytes, list[dict[str, Any]]] = defaultdict(list)
        for dispute_id, t, content in self._db.execute(
                "SELECT dispute_id, block_time, content FROM circulation_answers ORDER BY block_number, log_index"):
            answers[bytes(dispute_id)].append({"at": t, **json.loads(content)})
        now = int(self._now() if self._now else self.reader.registry.w3.eth.get_block("latest")["timestamp"])
        out = []
        query = "SELECT dispute_id, block_time, verifier, content, document_digest FROM circulation_disputes"
        if document_digest is not None:
            query += " WHERE document_digest = ?"
        for dispute_id, t, verifier, content, digest in self._db.execute(
                query + " ORDER BY block_number, log_index", () if document_digest is None else (document_digest,)):
            opened = json.loads(content)
            said = [{**answer, "signedByIssuer": (answer["signer"] or "").lower() in signing_keys[opened["issuer"]]}
                    for answer in answers.get(bytes(dispute_id), [])]
            last = said[-1] if said else None
            out.append({"disputeId": to_hex(bytes(dispute_id)), "openedAt": t, "verifier": verifier,
                        "documentDigest": to_hex(bytes(digest)), **opened, "answers": said,
                        "state": last["answer"] if last else "open",
                        "ageDays": round(((last["at"] if last else now) - t) / DAY, 2)})
        return out

    def report(self) -> AuditReport:
        """The index's audit report with the circulation: receipts per bank, purpose and day, consent, every
        dispute's lifecycle, and the anomalies ``circulation_without_consent``, ``circulation_of_revoked`` (recorded
        after the issuer revoked the document), ``dispute_unanswered``, ``dispute_answer_not_by_issuer`` and what
        did not open."""
        self._rewind()
        report = self.reader.report()
        per_bank: defaultdict[str, Counter[str]] = defaultdict(Counter)
        per_purpose: Counter[str] = Counter()
        per_day: defaultdict[str, Counter[str]] = defaultdict(Counter)
        anomalies = list(report.anomalies)
        revoked = {(code_name(from_hex(a["issuerId"])), a["documentDigest"]): t
                   for t, _, a in self.reader.events("DocumentRevoked")}
        rows = self.reader.store.stream("SELECT block_time, verifier, purpose, presentation_hash, issuer_id, "
                                        "document_digest, commitment, verified_at FROM circulation_receipts "
                                        "ORDER BY block_number, log_index, position")
        for t, verifier, purpose, presentation, issuer, digest, commitment, verified_at in rows:
            consented = bytes(presentation) != bytes(32)
            per_bank[verifier]["sealed_receipts"] += 1
            per_bank[verifier]["consented" if consented else "without_consent"] += 1
            per_purpose[purpose_words(purpose)] += 1
            per_day[utc_time(t)[:10]]["sealed_receipts"] += 1
            revoked_at = revoked.get((issuer, to_hex(bytes(digest))))
            if revoked_at is not None and revoked_at <= verified_at:  # the bank verified it after its revocation
                per_bank[verifier]["for_revoked"] += 1
                anomalies.append({"kind": "circulation_of_revoked", "at": t, "verifier": verifier, "issuer": issuer,
                                  "documentDigest": to_hex(bytes(digest)), "revokedAt": revoked_at})
            if not consented:
                anomalies.append({"kind": "circulation_without_consent", "at": t, "verifier": verifier,
                                  "issuer": issuer, "purpose": purpose, "documentDigest": to_hex(bytes(digest)),
                                  "commitment": to_hex(bytes(commitment))})
        disputes = self._disputes()
        for d in disputes:
            if d["state"] == "open" and d["ageDays"] * DAY > self.dispute_answer_within:
                anomalies.append({"kind": "dispute_unanswered", "at": d["openedAt"], "disputeId": d["disputeId"],
                                  "verifier": d["verifier"], "issuer": d["issuer"], "ageDays": d["ageDays"]})
            for answer in d["answers"]:
                if not answer["signedByIssuer"]:
                    anomalies.append({"kind": "dispute_answer_not_by_issuer", "at": answer["at"],
                                      "disputeId": d["disputeId"], "issuer": d["issuer"], "signer": answer["signer"]})
        for number, t, kind, details in self._db.execute(
                "SELECT block_number, block_time, kind, details FROM circulation_anomalies "
                "ORDER BY block_number, log_index, position"):
            anomalies.append({"kind": kind, "at": t, "block": number, **json.loads(details)})
        report.circulation = {
            "receipts": sum(c["sealed_receipts"] for c in per_bank.values()),
            "withoutConsent": sum(c["without_consent"] for c in per_bank.values()),
            "byVerifier": {k: dict(v) for k, v in sorted(per_bank.items())},
            "byPurpose": dict(sorted(per_purpose.items())),
            "byDay": {k: dict(v) for k, v in sorted(per_day.items())},
            "disputes": disputes,
        }
        report.anomalies = sorted(anomalies, key=lambda a: (a["at"], a["kind"]))
        report.totals = {**report.totals, "disputes": len(disputes), "anomalies": len(report.anomalies)}
        return report


def _open(ours: list[tuple[RegulatorKey, int]], attempt: Callable[[RegulatorKey, int], T]) -> T | str:
    """What ``attempt`` opens with one of ``ours`` (our keys in the payload's key epoch, with their positions), or
    why nothing opened: ``sealed_to_other_keys`` (none of our keys was a regulator key of that epoch),
    ``sealed_malformed`` (not a sealed payload), ``sealed_altered`` (our part does not open, or does not match its
    commitment)."""
    if not ours:
        return "sealed_to_other_keys"
    malformed = False
    for key, position in ours:
        try:
            return attempt(key, position)
        except NotSealedToThisKey:
            continue
        except SealingError:
            malformed = True
    return "sealed_malformed" if malformed else "sealed_altered"


def _open_receipts(batch: SealedReceipts, key: RegulatorKey, position: int) -> list[Receipt | None]:
    """A batch's receipts opened at our position in its epoch's key list, as banks seal them; else by trying every
    part (a bank that sealed in another order). ``None`` where a plaintext does not match its commitment."""
    try:
        return open_receipts(batch, key, position)
    except NotSealedToThisKey:
        return open_receipts(batch, key)


def _signer(answer: DisputeAnswer) -> str | None:
    """The address that signed an answer; ``None`` when the signature does not recover."""
    try:
        return answer.signer()
    except SealingError:
        return None
