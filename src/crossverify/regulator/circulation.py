"""The circulation trail: the sealed receipts and disputes of the circulation contract, opened with the regulator's
keys and kept in clear in the index, so that a regulator can answer "who verified this document, for what, with
whose consent" and follow every dispute.

The index stores the circulation events as the chain has them (sealed); :class:`CirculationTrail` opens each one
once, with every key the regulator has held (keys rotate by epoch; old receipts stay sealed to old keys), into the
``circulation_*`` tables, each event with the hash of its block, a few thousand receipts per transaction. When the
index no longer holds that block (a reorganisation or a reset rewound it), the trail rewinds to the last block it
still holds, and the next pass opens the new events. Each pass raises the anomalies of what it opened
(:mod:`crossverify.regulator.anomalies`): receipts without consent, a consent cited twice, documents accepted
after their revocation or expiry, answers not signed by the issuer, and what does not open (sealed to other keys,
altered, or malformed).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from ..chain.circulation import answer_keys_at
from ..chain.registry import Registry
from ..errors import NoRegulatorKey, NotSealedToThisKey, SealingError, StoreLocked, SuiteMismatch
from ..format.codes import code_name, issuer_id_code
from ..format.encoding import from_hex, to_hex, utc_time
from ..sealing import (
    Consent,
    DisputeAnswer,
    Receipt,
    RegulatorKey,
    SealedReceipts,
    open_answer,
    open_dispute,
    open_receipts,
)
from ..store import Connection, rows_in
from . import anomalies, rollup
from .facts import IndexedEvent
from .index import RegulatorReader, SyncReport
from .schema import SET_META

log = logging.getLogger(__name__)

EVENTS = ("RegulatorKeysChanged", "ReceiptsSealed", "DisputeOpened", "DisputeAnswered")
TABLES = ("read", "receipts", "disputes", "answers", "epochs")
#: The columns each table of the trail is written with, in the order of its rows.
COLUMNS = {
    "read": "block_number, log_index, block_hash",
    "disputes": "block_number, log_index, block_time, dispute_id, verifier, key_epoch, content, document_digest",
    "answers": "block_number, log_index, block_time, dispute_id, key_epoch, content",
    "epochs": "block_number, log_index, block_time, epoch, keys, jurisdictions",
}
T = TypeVar("T")
DAY = 86400
#: Seconds after the regulator keys changed during which a batch of receipts may be sealed to the keys before (a
#: bank seals to the keys it reads, and its transaction may be mined after the change): it opens with those too.
SEALED_BEFORE_CHANGE = 3600
#: Circulation events opened (and committed) per transaction: each holds up to 100 receipts as banks record them.
EVENTS_PER_PASS = 500


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
    """One receipt of a document's trail: which bank verified it, when, in which block, for what, and how the
    resident consented (a holder-signed presentation, whose hash the receipt carries; in person, as the bank
    attests under its case reference; or not at all)."""

    verifier: str
    member: str
    recorded_at: int
    block_number: int
    verified_at: int
    issuer_id: str
    doc_type: str
    purpose: str
    consent: Consent
    consent_reference: bytes
    commitment: bytes

    @property
    def consented(self) -> bool:
        return self.consent is not Consent.NONE

    def as_json(self) -> dict[str, Any]:
        return {"verifier": self.verifier, "member": self.member, "recordedAt": utc_time(self.recorded_at),
                "block": self.block_number, "verifiedAt": utc_time(self.verified_at), "issuer": self.issuer_id,
                "docType": self.doc_type, "purpose": self.purpose, "purposeInWords": purpose_words(self.purpose),
                "consent": self.consent.name.lower(), "consented": self.consented,
                "presentationHash": to_hex(self.consent_reference) if self.consent is Consent.PRESENTATION else None,
                "case": self.consent_reference.rstrip(b"\0").decode("utf-8", "replace")
                if self.consent is Consent.IN_PERSON else None,
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
        #: Each issuer's answer keys set before the index's first block, as the node told them (see _answer_keys_at).
        self._keys_before_index: dict[str, list[tuple[int, bytes]]] = {}
        #: The key epochs set before the index's first block (epoch, keys, when), as the node told them (_epochs).
        self._epochs_before_index: list[tuple[int, list[str], int]] | None = None
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
            db.execute("DELETE FROM circulation_documents")
            db.execute("DELETE FROM anomalies WHERE keyed = 1")
            rollup.clear(db, rollup.KEYED)
            db.execute(SET_META, ("circulation_keys", fingerprint))

    def sync(self, on_chunk: Callable[[int, int], None] | None = None) -> tuple[SyncReport, OpenReport]:
        """Index new events (:meth:`RegulatorReader.sync`), then open the new sealed ones."""
        with self.reader.syncing():
            return self.reader.index_new(on_chunk), self._open_new()

    def open_new(self) -> OpenReport:
        """Open every sealed event indexed since the last pass, ``EVENTS_PER_PASS`` to a transaction; nothing
        when another process (a replica) is syncing the index: it opens them."""
        try:
            with self.reader.syncing():
                return self._open_new()
        except StoreLocked:
            return OpenReport(0, 0, 0)

    def _open_new(self) -> OpenReport:
        self._rewind()
        total = OpenReport(0, 0, 0)
        while True:
            last = self._db.execute("SELECT block_number, log_index FROM circulation_read "
                                    "ORDER BY block_number DESC, log_index DESC LIMIT 1").fetchone() or (-1, -1)
            events = list(self.reader.events_after(last[0], last[1], *EVENTS, limit=EVENTS_PER_PASS))
            if not events:
                return total
            opened = self._open(events)
            total = OpenReport(total.receipts + opened.receipts, total.disputes + opened.disputes,
                               total.unreadable + opened.unreadable)

    def _open(self, events: list[IndexedEvent]) -> OpenReport:
        """Open ``events`` and keep them, their receipts' documents, the anomalies they raise and the day counts
        they change, in one transaction."""
        epochs, started = self._epochs(events)
        rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        unreadable: list[tuple[IndexedEvent, int, str, dict[str, Any]]] = []
        hashes: dict[int, bytes] = {}
        for e in events:
            where, a = (e.block_number, e.log_index), e.args
            if e.block_number not in hashes:
                hashes[e.block_number] = self._block_hash(e.block_number)
            rows["read"].append((*where, hashes[e.block_number]))
            if e.name == "RegulatorKeysChanged":
                epochs[a["epoch"]], started[a["epoch"]] = self._ours(a["keys"]), e.block_time
                rows["epochs"].append((*where, e.block_time, a["epoch"], json.dumps(a["keys"]),
                                       json.dumps([code_name(from_hex(j)) for j in a["jurisdictions"]])))
            elif e.name == "ReceiptsSealed":
                batch = SealedReceipts(tuple(from_hex(c) for c in a["commitments"]), from_hex(a["ciphertext"]))
                opened = _open_in(epochs, started, e, partial(_open_receipts, batch))
                for i, commitment in enumerate(a["commitments"]):
                    r = opened if isinstance(opened, str) else opened[i] or "sealed_altered"
                    if isinstance(r, str):
                        unreadable.append((e, i, r, {"keyEpoch": a["keyEpoch"], "commitment": commitment}))
                        continue
                    rows["receipts"].append((*where, i, e.block_time, a["verifier"], a["keyEpoch"],
                                             from_hex(commitment), r.document_digest, r.issuer_id, r.doc_type,
                                             r.batch_root, r.purpose, r.consent, r.consent_reference,
                                             r.verified_at))
            else:
                self._dispute_event(e, partial(_open_in, epochs, started, e), rows, unreadable)
        with self.reader.store.transaction() as db:
            fresh, again = _recorded_again(db, rows.pop("receipts", []))
            first = anomalies.next_id(db, "circulation_receipts")
            receipts = [(first + n, *row) for n, row in enumerate(fresh)]
            db.executemany("INSERT INTO circulation_receipts (id, block_number, log_index, position, block_time, "
                           "verifier, key_epoch, commitment, document_digest, issuer_id, doc_type, batch_root, "
                           "purpose, consent, consent_reference, verified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                           "?, ?, ?, ?, ?)", receipts)
            db.executemany("INSERT INTO circulation_documents (document_digest, first_id, first_time, issuer_id, "
                           "doc_type) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT (document_digest) DO NOTHING",
                           [(r[8], r[0], r[4], r[9], r[10]) for r in receipts])
            for table, values in rows.items():
                if values:
                    db.executemany(f"INSERT INTO circulation_{table} ({COLUMNS[table]}) VALUES "
                                   f"({','.join('?' * len(values[0]))})", values)
            for e, position, kind, details in unreadable:
                anomalies.record(db, kind, f"{e.block_number}:{e.log_index}:{position}", block_number=e.block_number,
                                 block_time=e.block_time, happened_at=e.block_time, verifier=e.args.get("verifier", ""),
                                 event=e.name, **details)
            anomalies.record_all(db, again)
            _check_receipts(db, receipts)
            self._check_answers(db, rows.get("answers", []))
            if receipts:
                rollup.refresh(db, rollup.KEYED, receipts[0][4])
        return OpenReport(len(receipts), len(rows.get("disputes", [])) + len(rows.get("answers", [])),
                          len(unreadable))

    def _check_answers(self, db: Connection, answers: list[tuple[Any, ...]]) -> None:
        """An answer signed by a key that was never a signing key of the disputed document's issuer (the issuers'
        keys read once for all of ``answers``)."""
        signing_keys = self._signing_keys() if answers else {}
        for number, index, t, dispute_id, _, content in answers:
            found = db.execute("SELECT content, verifier, document_digest FROM circulation_disputes "
                               "WHERE dispute_id = ?", (dispute_id,)).fetchone()
            if found is None:
                continue  # the dispute itself did not open: it is an anomaly already
            issuer, signer = json.loads(found[0])["issuer"], json.loads(content)["signer"]
            if (signer or "").lower() not in signing_keys.get(issuer, set()):
                anomalies.record(db, "dispute_answer_not_by_issuer", f"{to_hex(bytes(dispute_id))}:{number}:{index}",
                                 block_number=number, block_time=t, happened_at=t, verifier=found[1],
                                 issuer_id=issuer, document_digest=bytes(found[2]),
                                 disputeId=to_hex(bytes(dispute_id)), signer=signer)

    def _answer_keys_at(self, issuer: str, at: int) -> list[bytes]:
        """The answer keys ``issuer`` had registered at time ``at`` (``answer_keys_at``), from the indexed
        ``IssuerKeysSet`` events (the index holds every block from its first up to the dispute being opened), after
        those set before the index's first block ([audit] from_block), read from the node once per issuer."""
        timed = [(t, from_hex(a["answerKey"])) for t, _, a in self.reader.events("IssuerKeysSet")
                 if code_name(from_hex(a["issuerId"])) == issuer]
        if self.reader.from_block > 0:
            if issuer not in self._keys_before_index:
                assert self.reader.circulation is not None
                self._keys_before_index[issuer] = self.reader.circulation.issuer_keys_set(
                    issuer_id_code(issuer), self.reader.from_block - 1)
            timed = self._keys_before_index[issuer] + timed
        return answer_keys_at(timed, at)

    def _signing_keys(self) -> dict[str, set[str]]:
        """Every signing key each issuer ever registered (lower-case addresses), from the indexed events."""
        keys: defaultdict[str, set[str]] = defaultdict(set)
        for _, _, a in self.reader.events("SigningKeyAdded"):
            keys[code_name(from_hex(a["issuerId"]))].add(a["key"].lower())
        return keys

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
        kept = self._db.execute("SELECT r.block_number FROM circulation_read r JOIN blocks b ON b.number = "
                                "r.block_number AND b.hash = r.block_hash ORDER BY r.block_number DESC LIMIT 1"
                                ).fetchone()
        keep = -1 if kept is None else kept[0]
        log.warning("the index rewound: rewinding the circulation trail", extra={"last_block_kept": keep})
        with self.reader.store.transaction() as db:
            since = db.execute("SELECT MIN(block_time) FROM circulation_receipts WHERE block_number > ?",
                               (keep,)).fetchone()[0]
            for table in TABLES:
                db.execute(f"DELETE FROM circulation_{table} WHERE block_number > ?", (keep,))
            db.execute("DELETE FROM anomalies WHERE keyed = 1 AND block_number > ?", (keep,))
            db.execute("DELETE FROM circulation_documents WHERE first_id > "
                       "(SELECT COALESCE(MAX(id), 0) FROM circulation_receipts)")
            if since is not None:
                rollup.refresh(db, rollup.KEYED, since)

    def _epochs(self, events: list[IndexedEvent]) -> tuple[dict[int, list[tuple[RegulatorKey, int]]], dict[int, int]]:
        """Our keys among each key epoch's regulator keys, and when each epoch began, as opened so far; when
        ``events`` name an epoch set neither so far nor among them, after the epochs set before the index's first
        block ([audit] from_block), read from the node once: what was sealed to them opens too."""
        known = [(int(epoch), json.loads(keys), int(t)) for epoch, keys, t in
                 self._db.execute("SELECT epoch, keys, block_time FROM circulation_epochs")]
        named = {e.args["keyEpoch"] for e in events if "keyEpoch" in e.args}
        if named - {epoch for epoch, _, _ in known} - {e.args["epoch"] for e in events if "epoch" in e.args}:
            known = [*self._key_epochs_before_index(), *known]
        return {epoch: self._ours(keys) for epoch, keys, _ in known}, {epoch: t for epoch, _, t in known}

    def _key_epochs_before_index(self) -> list[tuple[int, list[str], int]]:
        """The key epochs set before the index's first block (epoch, keys, when), from the node, once."""
        if self._epochs_before_index is None:
            self._epochs_before_index = []
            if self.reader.from_block > 0 and self.reader.circulation is not None:
                w3 = self.reader.circulation.w3
                self._epochs_before_index = [
                    (int(e.args["epoch"]), [to_hex(k) for k in e.args["keys"]],
                     int(w3.eth.get_block(e.block_number)["timestamp"]))
                    for e in self.reader.circulation.events(0, self.reader.from_block - 1, "RegulatorKeysChanged")]
        return self._epochs_before_index

    def _ours(self, public_keys: list[str]) -> list[tuple[RegulatorKey, int]]:
        """Our keys among an epoch's regulator keys, each with its position in the list."""
        position = {from_hex(k): i for i, k in enumerate(public_keys)}
        return [(k, position[k.public_key.raw]) for k in self.keys if k.public_key.raw in position]

    def _dispute_event(self, e: IndexedEvent, opened_with: Callable[[Callable[[RegulatorKey, int], Any]], Any],
                       rows: dict[str, list[tuple[Any, ...]]],
                       unreadable: list[tuple[IndexedEvent, int, str, dict[str, Any]]]) -> None:
        """Open a dispute (with the answer key its id commits to, read from the contract) or its answer, with our
        keys of its epoch (:func:`_open_in`)."""
        a, where = e.args, (e.block_number, e.log_index)
        dispute_id, sealed = from_hex(a["disputeId"]), from_hex(a["ciphertext"])
        if e.name == "DisputeOpened":
            assert self.reader.circulation is not None
            info = self.reader.circulation.dispute(dispute_id)
            opened = opened_with(lambda key, _: open_dispute(  # the issuer's answer key when it was opened
                sealed, info.answer_key, key, lambda issuer: self._answer_keys_at(issuer, info.opened_at)))
            if not isinstance(opened, str):
                d = opened
                content = {"issuer": d.issuer_id, "batchRoot": to_hex(d.batch_root), "reason": d.reason.name.lower(),
                           "receiptCommitment": to_hex(d.receipt_commitment) if any(d.receipt_commitment) else None,
                           "statedAt": d.opened_at}
                rows["disputes"].append((*where, e.block_time, dispute_id, a["verifier"], a["keyEpoch"],
                                         json.dumps(content), d.document_digest))
                return
        else:
            answered = opened_with(lambda key, _: open_answer(sealed, dispute_id, key))
            if not isinstance(answered, str):
                content = {"answer": answered.status.name.lower(), "answeredAt": answered.answered_at,
                           "signer": _signer(answered, self.reader.registry)}
                rows["answers"].append((*where, e.block_time, dispute_id, a["keyEpoch"], json.dumps(content)))
                return
            opened = answered
        unreadable.append((e, 0, opened, {"disputeId": a["disputeId"], "keyEpoch": a["keyEpoch"]}))

    # -- queries ------------------------------------------------------------------------------------------------

    def circulation(self, document_digest: bytes, *, now: int | None = None) -> Trail:
        """Every receipt of ``document_digest`` in chain order, and its disputes with their answers (aged at
        ``now``, default the latest block's time)."""
        self._rewind()
        members = self._members()
        rows = self._db.execute(
            "SELECT verifier, block_time, block_number, verified_at, issuer_id, doc_type, purpose, consent, "
            "consent_reference, commitment FROM circulation_receipts WHERE document_digest = ? "
            "ORDER BY block_number, log_index, position", (document_digest,)).fetchall()
        receipts = [Circulation(v, members.get(v, "not a member"), t, n, at, who, kind, p, Consent(how), bytes(ref),
                                bytes(c)) for v, t, n, at, who, kind, p, how, ref, c in rows]
        return Trail(document_digest, receipts, self.disputes(document_digest, now=now))

    def _members(self) -> dict[str, str]:
        """Each verifier's standing in the registry, from the indexed membership events."""
        standing: dict[str, str] = {}
        for t, name, a in self.reader.events("MemberAdmitted", "MemberSuspended", "MemberReinstated"):
            verb = {"MemberAdmitted": "admitted", "MemberSuspended": "suspended", "MemberReinstated": "reinstated"}
            standing[a["account"]] = f"verifier, {verb[name]} {utc_time(t)[:10]}"
        return standing

    def disputes(self, document_digest: bytes | None = None, *, now: int | None = None) -> list[dict[str, Any]]:
        """Every dispute (of ``document_digest``, if given) in chain order with its lifecycle: opened, answered
        (with what, when, signed by whom), age at ``now`` (default: the latest block's time)."""
        signing_keys = self._signing_keys()
        answers: dict[bytes, list[dict[str, Any]]] = defaultdict(list)
        for dispute_id, t, content in self._db.execute(
                "SELECT dispute_id, block_time, content FROM circulation_answers ORDER BY block_number, log_index"):
            answers[bytes(dispute_id)].append({"at": t, **json.loads(content)})
        if now is None:
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


def _recorded_again(db: Connection, receipts: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]],
                                                                              list[anomalies.Found]]:
    """Opened ``receipts`` (rows of ``circulation_receipts`` without their ids, in chain order) split into those
    the trail does not hold yet and an anomaly for each whose commitment it holds (or an earlier one of them does):
    one verification recorded again, by the bank that made it or by one that copied its public batch. A
    commitment commits to a fresh salt, so no two verifications share one. The commitments held are asked 500 at
    a time."""
    commitments = list(dict.fromkeys(bytes(row[6]) for row in receipts))
    first = {bytes(commitment): (verifier, recorded_at) for commitment, verifier, recorded_at in rows_in(
        db, "SELECT commitment, verifier, block_time FROM circulation_receipts WHERE commitment IN ({})", commitments)}
    fresh, found = [], []
    for row in receipts:
        number, index, position, t, verifier, _, commitment, digest, issuer = row[:9]
        earlier = first.get(bytes(commitment))
        if earlier is None:
            first[bytes(commitment)] = (verifier, t)
            fresh.append(row)
            continue
        found.append(("receipt_recorded_again", f"{number}:{index}:{position}", {
            "block_number": number, "block_time": t, "happened_at": t, "verifier": verifier, "issuer_id": issuer,
            "document_digest": digest, "commitment": to_hex(commitment), "firstBy": earlier[0],
            "firstAt": earlier[1]}))
    return fresh, found


def _check_receipts(db: Connection, receipts: list[tuple[Any, ...]]) -> None:
    """The anomalies of newly opened ``receipts`` (rows of ``circulation_receipts``, just inserted): no consent, a
    consent cited before, a document revoked or expired when it was verified, a batch its named issuer never
    anchored. The revocations of their documents and roots are asked 500 at a time (as a list, which PostgreSQL
    too looks up in the index by target), the earlier citations, the expiries and the batches of no anchor by one
    statement each over the new rows, and the anomalies kept together."""
    if not receipts:
        return
    first = receipts[0][0]
    targets = list(dict.fromkeys(bytes(target) for row in receipts for target in (row[8], row[11])))
    revoked = {(issuer, bytes(target)): (when, scope) for issuer, target, when, scope in rows_in(  # each issuer's own
        db, "SELECT issuer_id, target, MIN(block_time), MIN(scope) FROM revocations WHERE counted = 1 "
        "AND target IN ({}) GROUP BY issuer_id, target", targets)}
    # "+r.consent" (a no-op) keeps SQLite from walking every consented receipt in the consent index: the new
    # receipts are an id range.
    cited = {number: earlier for number, *earlier in db.execute(
        "SELECT r.id, e.verifier, e.commitment, e.block_time, e.purpose FROM circulation_receipts r "
        "JOIN circulation_receipts e ON e.id = (SELECT MIN(x.id) FROM circulation_receipts x WHERE x.consent = 1 "
        "AND x.consent_reference = r.consent_reference) WHERE r.id >= ? AND +r.consent = 1 AND e.id < r.id",
        (first,))}
    expired = {number: int(not_after) for number, not_after in db.execute(
        "SELECT r.id, MIN(a.not_after) FROM circulation_receipts r JOIN anchors a ON a.batch_root = r.batch_root "
        "AND a.issuer_id = r.issuer_id AND a.replaced = 0 WHERE r.id >= ? GROUP BY r.id, r.verified_at "
        "HAVING MIN(a.not_after) < r.verified_at", (first,))}
    # a receipt is checked against the anchors and revocations of the issuer it names: one naming an issuer that
    # never anchored its root (another's document, named so as to escape those checks) is itself an anomaly
    unanchored = {number: root for number, root in db.execute(
        "SELECT r.id, r.batch_root FROM circulation_receipts r WHERE r.id >= ? AND NOT EXISTS (SELECT 1 FROM "
        "anchors a WHERE a.batch_root = r.batch_root AND a.issuer_id = r.issuer_id)", (first,)) if any(root)}
    anchored_by = {root: [issuer for (issuer,) in db.execute(
        "SELECT DISTINCT issuer_id FROM anchors WHERE batch_root = ? ORDER BY issuer_id", (root,))]
        for root in {bytes(root) for root in unanchored.values()}}
    found: list[anomalies.Found] = []
    for (number, block, _, _, t, verifier, _, commitment, digest, issuer, _, root, purpose, consent, reference,
         verified_at) in receipts:
        subject = to_hex(commitment)
        where = {"block_number": block, "block_time": t, "happened_at": verified_at, "verifier": verifier,
                 "issuer_id": issuer, "document_digest": digest, "commitment": subject}
        if consent == Consent.NONE:
            found.append(("circulation_without_consent", subject, {**where, "purpose": purpose}))
        elif consent == Consent.PRESENTATION and number in cited:
            earlier = cited[number]
            found.append(("consent_reused", subject, {
                **where, "purpose": purpose, "presentationHash": to_hex(reference), "firstBy": earlier[0],
                "firstCommitment": to_hex(bytes(earlier[1])), "firstAt": earlier[2], "firstPurpose": earlier[3]}))
        for target in (digest, root):
            revocation = revoked.get((issuer, bytes(target)))
            if revocation is not None and revocation[0] <= verified_at:
                found.append(anomalies.revoked_receipt(
                    block_number=block, block_time=t, commitment=commitment, verifier=verifier, issuer_id=issuer,
                    document_digest=digest, verified_at=verified_at, revoked_at=revocation[0], scope=revocation[1]))
        if number in expired and any(root):
            found.append(("circulation_of_expired", subject, {**where, "notAfter": expired[number]}))
        if number in unanchored:
            found.append(("circulation_of_unanchored", subject, {
                **where, "batchRoot": to_hex(root), "anchoredBy": anchored_by[bytes(root)]}))
    anomalies.record_all(db, found)


def _open_in(epochs: dict[int, list[tuple[RegulatorKey, int]]], started: dict[int, int], e: IndexedEvent,
             attempt: Callable[[RegulatorKey, int], T]) -> T | str:
    """What ``attempt`` opens of the sealed event ``e`` with our keys of its key epoch (``epochs``: ours by epoch,
    ``started``: when each began); for one mined within ``SEALED_BEFORE_CHANGE`` of its epoch's start, with our
    keys of the epoch before when those do not open it (a bank seals to the keys it reads, and its transaction may
    be mined after they changed). Else why nothing opened, as the keys of its epoch tell (:func:`_open`)."""
    epoch = e.args["keyEpoch"]
    opened = _open(epochs.get(epoch, []), attempt)
    if isinstance(opened, str) and e.block_time - started.get(epoch, 0) <= SEALED_BEFORE_CHANGE:
        before = _open(epochs.get(epoch - 1, []), attempt)
        if not isinstance(before, str):
            return before
    return opened


def _open(ours: list[tuple[RegulatorKey, int]], attempt: Callable[[RegulatorKey, int], T]) -> T | str:
    """What ``attempt`` opens with one of ``ours`` (our keys in the payload's key epoch, with their positions), or
    why nothing opened: ``sealed_to_other_keys`` (none of our keys was a regulator key of that epoch),
    ``sealed_malformed`` (not a sealed payload, or one of the other crypto suite), ``sealed_altered`` (our part does
    not open, or does not match its commitment)."""
    if not ours:
        return "sealed_to_other_keys"
    malformed = False
    for key, position in ours:
        try:
            return attempt(key, position)
        except NotSealedToThisKey:
            continue
        except (SealingError, SuiteMismatch):
            malformed = True
    return "sealed_malformed" if malformed else "sealed_altered"


def _open_receipts(batch: SealedReceipts, key: RegulatorKey, position: int) -> list[Receipt | None]:
    """A batch's receipts opened at our position in its epoch's key list, as banks seal them; else by trying every
    part (a bank that sealed in another order). ``None`` where a plaintext does not match its commitment."""
    try:
        return open_receipts(batch, key, position)
    except NotSealedToThisKey:
        return open_receipts(batch, key)


def _signer(answer: DisputeAnswer, registry: Registry) -> str | None:
    """The address that signed an answer; ``None`` when the signature does not recover, or in the GM suite does
    not verify against the key the answer names."""
    try:
        return answer.signer() if answer.signed_by_signer(registry.sm2_public_key) else None
    except SealingError:
        return None
