"""What the events say, as rows a supervisor's queries find through an index: anchors, revocations (and whether
they count), compromised keys, each bank's sealed batches, and the anomalies the events alone reveal.

:func:`add` runs inside the transaction that indexes a chunk of events, so the rows and the events they come
from are committed together; :func:`rewind` drops what came from blocks that left the chain. Both return the
earliest time they touched, from which the per-day counts (:mod:`crossverify.regulator.rollup`) are refreshed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..chain.records import RevocationReason
from ..format.codes import code_name
from ..format.encoding import from_hex, to_hex
from ..store import Connection
from . import anomalies

HOUR = 3600
#: Bumped when the rows derived from the events change: the index derives them again from its events.
VERSION = "4"
TABLES = ("anchors", "revocations", "compromised_keys", "compromised_admins", "sealed_batches")


@dataclass(frozen=True, slots=True)
class IndexedEvent:
    """An event as indexed: where it is in the chain, its block's time, its name and arguments (bytes as hex)."""

    block_number: int
    log_index: int
    block_time: int
    name: str
    args: dict[str, Any]


def add(db: Connection, events: Iterable[IndexedEvent], burst_per_hour: int) -> int | None:
    """Derive the rows of ``events`` (in chain order; each dynamic value, such as the sealed receipts'
    commitments, given as its length); returns the earliest block time they touched."""
    touched: list[int] = []
    hours: set[tuple[str, int]] = set()
    eras = [int(first) for (first,) in db.execute("SELECT first_block FROM registries ORDER BY first_block")]
    for e in events:
        a, t = e.args, e.block_time
        if e.name == "BatchAnchored":
            issuer = code_name(from_hex(a["issuerId"]))
            era = _era_start(eras, e.block_number)
            moved = _held_before(db, "anchors", era, issuer_id=issuer, batch_root=from_hex(a["batchRoot"]),
                                 replaced=0)
            if not moved:
                _replace_squat(db, e, issuer, era)
            db.execute("INSERT INTO anchors (id, block_number, block_time, issuer_id, doc_type, batch_root, documents, "
                       "signing_key, not_after, moved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                anomalies.next_id(db, "anchors"), e.block_number, t, issuer, code_name(from_hex(a["docType"])),
                from_hex(a["batchRoot"]), a["leafCount"], a["signingKey"].lower(), a["notAfter"], int(moved)))
            since = db.execute("SELECT MIN(compromised_from) FROM compromised_keys WHERE signing_key = ?",
                               (a["signingKey"].lower(),)).fetchone()[0]
            if since is not None and t >= since:
                _compromised_anchor(db, e, issuer, a["batchRoot"], a["signingKey"].lower(), t)
            touched.append(t)
        elif e.name == "SigningKeyCompromised":
            touched.append(_compromised(db, e))
        elif e.name in ("DocumentRevoked", "BatchRevoked"):
            touched.append(_revoked(db, e, _era_start(eras, e.block_number)))
        elif e.name == "IssuerAdminReplaced" and a["compromisedFrom"]:
            touched.append(_compromised_admin(db, e))
        elif e.name == "ReceiptsSealed":
            verifier = a["verifier"]
            db.execute("INSERT INTO sealed_batches (id, block_number, block_time, verifier, key_epoch, receipts) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (
                anomalies.next_id(db, "sealed_batches"), e.block_number, t, verifier, a["keyEpoch"],
                a["commitments"]))
            hours.add((verifier, t // HOUR))
            touched.append(t)
    for verifier, hour in sorted(hours):
        _burst(db, verifier, hour, burst_per_hour)
    return min(touched, default=None)


def _era_start(eras: list[int], block_number: int) -> int:
    """The index's first block of the registry (era) that holds ``block_number`` (0 before any succession)."""
    return max((first for first in eras if first <= block_number), default=0)


def _held_before(db: Connection, table: str, era_start: int, **equal: Any) -> bool:
    """Whether a row of ``table`` from a predecessor registry (before ``era_start``) has the ``equal`` values: the
    successor holds again what its predecessor held (the same batch re-anchored, the same revocation restored)."""
    if not era_start:
        return False
    where = " AND ".join(f"{column} = ?" for column in equal)
    return db.execute(f"SELECT 1 FROM {table} WHERE block_number < ? AND {where} LIMIT 1",
                      (era_start, *equal.values())).fetchone() is not None


def _compromised_anchor(db: Connection, raised_by: IndexedEvent, issuer: str, root: str, key: str,
                        anchored_at: int) -> None:
    anomalies.record(db, "anchor_in_compromised_window", root.lower(), block_number=raised_by.block_number,
                     block_time=raised_by.block_time, happened_at=anchored_at, issuer_id=issuer, batchRoot=root.lower(),
                     key=key)


def _replace_squat(db: Connection, e: IndexedEvent, issuer: str, era_start: int) -> None:
    """A root anchored again on the same registry: the registry let the genuine anchor take the place of one whose
    key was compromised at or before it (a squat). The squat stops counting and is an anomaly."""
    root = from_hex(e.args["batchRoot"])
    for number, key, anchored_at in db.execute("SELECT id, signing_key, block_time FROM anchors WHERE issuer_id = ? "
                                               "AND batch_root = ? AND replaced = 0 AND block_number >= ?",
                                               (issuer, root, era_start)).fetchall():
        db.execute("UPDATE anchors SET replaced = 1 WHERE id = ?", (number,))
        anomalies.record(db, "anchor_replaced", f"{to_hex(root)}:{anchored_at}", block_number=e.block_number,
                         block_time=e.block_time, happened_at=anchored_at, issuer_id=issuer, batchRoot=to_hex(root),
                         key=key)


def _compromised_admin(db: Connection, e: IndexedEvent) -> int:
    """An admin replaced as compromised from a moment on: revocations it sent since no longer count. Returns the
    earliest time whose figures changed."""
    a = e.args
    admin, since, issuer = a["oldAdmin"].lower(), a["compromisedFrom"], code_name(from_hex(a["issuerId"]))
    db.execute("INSERT INTO compromised_admins (id, block_number, block_time, issuer_id, admin, compromised_from) "
               "VALUES (?, ?, ?, ?, ?, ?)", (
        anomalies.next_id(db, "compromised_admins"), e.block_number, e.block_time, issuer, admin, since))
    revocations = db.execute("SELECT id, block_time, scope, target, reason FROM revocations WHERE issuer_id = ? AND "
                             "admin = ? AND block_time >= ? AND counted = 1", (issuer, admin, since)).fetchall()
    for number, revoked_at, scope, target, reason in revocations:
        db.execute("UPDATE revocations SET counted = 0 WHERE id = ?", (number,))
        anomalies.record(db, "revocation_by_compromised_admin", f"{scope}:{to_hex(bytes(target))}:{revoked_at}",
                         block_number=e.block_number, block_time=e.block_time, happened_at=revoked_at,
                         issuer_id=issuer, scope=scope, target=to_hex(bytes(target)), reason=reason, admin=admin)
    return min([e.block_time, *(int(r[1]) for r in revocations)])


def _void_since(db: Connection, issuer: str, key: str, admin: str) -> int | None:
    """From when a revocation signed by ``key`` (or, unsigned, sent by the admin ``admin``) stops counting."""
    if key:
        row = db.execute("SELECT MIN(compromised_from) FROM compromised_keys WHERE signing_key = ?", (key,)).fetchone()
    else:
        row = db.execute("SELECT MIN(compromised_from) FROM compromised_admins WHERE issuer_id = ? AND admin = ?",
                         (issuer, admin)).fetchone()
    return None if row[0] is None else int(row[0])


def _compromised(db: Connection, e: IndexedEvent) -> int:
    """A key reported compromised from a moment on: anchors made with it since are anomalies, and revocations it
    signed since no longer count. Returns the earliest time whose figures changed."""
    a = e.args
    key, since, issuer = a["key"].lower(), a["compromisedFrom"], code_name(from_hex(a["issuerId"]))
    db.execute("INSERT INTO compromised_keys (id, block_number, block_time, issuer_id, signing_key, "
               "compromised_from) VALUES (?, ?, ?, ?, ?, ?)", (
        anomalies.next_id(db, "compromised_keys"), e.block_number, e.block_time, issuer, key, since))
    for root, anchored_at in db.execute("SELECT batch_root, block_time FROM anchors WHERE signing_key = ? AND "
                                        "block_time >= ?", (key, since)).fetchall():
        _compromised_anchor(db, e, issuer, to_hex(bytes(root)), key, anchored_at)
    revocations = db.execute("SELECT id, block_time, issuer_id, scope, target, reason FROM revocations "
                             "WHERE signing_key = ? AND block_time >= ? AND counted = 1", (key, since)).fetchall()
    for number, revoked_at, who, scope, target, reason in revocations:
        db.execute("UPDATE revocations SET counted = 0 WHERE id = ?", (number,))
        _void_revocation(db, e, revoked_at, who, scope, to_hex(bytes(target)), reason, key)
    return min([e.block_time, *(int(r[1]) for r in revocations)])


def _void_revocation(db: Connection, raised_by: IndexedEvent, revoked_at: int, issuer: str, scope: str,
                     target: str, reason: str, key: str) -> None:
    anomalies.record(db, "revocation_by_compromised_key", f"{scope}:{target}:{revoked_at}",
                     block_number=raised_by.block_number, block_time=raised_by.block_time, happened_at=revoked_at,
                     issuer_id=issuer, scope=scope, target=target, reason=reason, key=key)


def _revoked(db: Connection, e: IndexedEvent, era_start: int) -> int:
    a, t = e.args, e.block_time
    issuer, reason = code_name(from_hex(a["issuerId"])), RevocationReason(a["reason"]).name.lower()
    scope = "document" if e.name == "DocumentRevoked" else "batch"
    target = a["documentDigest"] if scope == "document" else a["batchRoot"]
    key = a["signingKey"].lower() if int(a["signingKey"], 16) else ""
    documents = 1
    if scope == "batch":
        # The issuer's own anchor that holds the root now: not another issuer's of the same root, not a squat.
        found = db.execute("SELECT documents FROM anchors WHERE issuer_id = ? AND batch_root = ? AND replaced = 0 "
                           "ORDER BY id DESC LIMIT 1", (issuer, from_hex(target))).fetchone()
        documents = found[0] if found else 0
    admin = "" if key else a["actor"].lower()
    restored = _held_before(db, "revocations", era_start, issuer_id=issuer, scope=scope, target=from_hex(target),
                            counted=1)
    since = _void_since(db, issuer, key, admin)
    counted = not restored and (since is None or t < since)
    db.execute("INSERT INTO revocations (id, block_number, block_time, issuer_id, scope, target, reason, "
               "signing_key, documents, counted, admin, restored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
        anomalies.next_id(db, "revocations"), e.block_number, t, issuer, scope, from_hex(target), reason, key,
        documents, int(counted), admin, int(restored)))
    if restored:  # the predecessor's revocation, held again by its successor: counted once, where it was made
        return t
    if not counted:  # a compromise the index already holds (a chain read again from an earlier block)
        _void_revocation(db, e, t, issuer, scope, target.lower(), reason, key)
        return t
    # Receipts the regulator opened already, of this issuer's documents, for verifications at or after this
    # revocation (another issuer's revocation of the same digest or root is its own).
    column = "document_digest" if scope == "document" else "batch_root"
    for commitment, verifier, digest, verified_at in db.execute(
            f"SELECT commitment, verifier, document_digest, verified_at FROM circulation_receipts WHERE {column} = ? "
            "AND issuer_id = ? AND verified_at >= ?", (from_hex(target), issuer, t)).fetchall():
        anomalies.record_revoked_receipt(db, block_number=e.block_number, block_time=t, commitment=commitment,
                                         verifier=verifier, issuer_id=issuer, document_digest=digest,
                                         verified_at=verified_at, revoked_at=t, scope=scope)
    return t


def _burst(db: Connection, verifier: str, hour: int, threshold: int) -> None:
    """Flag a bank's hour once its sealed receipts exceed ``threshold`` (the count kept up to date)."""
    count, last_block = db.execute(
        "SELECT COALESCE(SUM(receipts), 0), MAX(block_number) FROM sealed_batches WHERE verifier = ? "
        "AND block_time >= ? AND block_time < ?", (verifier, hour * HOUR, (hour + 1) * HOUR)).fetchone()
    count = int(count)  # a SUM: Decimal on PostgreSQL
    if count <= threshold:
        return
    subject = f"{verifier}:{hour}"
    if not anomalies.record(db, "receipt_burst", subject, block_number=last_block, block_time=hour * HOUR,
                            happened_at=hour * HOUR, verifier=verifier, receipts=count, threshold=threshold):
        db.execute("UPDATE anomalies SET details = ? WHERE kind = 'receipt_burst' AND subject = ?",
                   (anomalies.as_details(receipts=count, threshold=threshold), subject))


def rewind(db: Connection, keep: int, burst_per_hour: int) -> int | None:
    """Drop the rows of blocks after ``keep``; count again the revocations only a dropped compromise voided, and
    weigh again the hours that lost sealed batches. Returns the earliest block time whose figures changed."""
    times = [t for table in (*TABLES, "anomalies") for (t,) in db.execute(
        f"SELECT MIN(block_time) FROM {table} WHERE block_number > ?", (keep,)) if t is not None]
    hours = {(verifier, t // HOUR) for verifier, t in db.execute(
        "SELECT verifier, block_time FROM sealed_batches WHERE block_number > ?", (keep,))}
    for table in TABLES:
        db.execute(f"DELETE FROM {table} WHERE block_number > ?", (keep,))
    db.execute("DELETE FROM anomalies WHERE block_number > ?", (keep,))
    for verifier, hour in sorted(hours):
        db.execute("DELETE FROM anomalies WHERE kind = 'receipt_burst' AND subject = ?", (f"{verifier}:{hour}",))
        _burst(db, verifier, hour, burst_per_hour)
    # a replaced squat whose replacement left the chain counts again
    db.execute("UPDATE anchors SET replaced = 0 WHERE id IN (SELECT MAX(id) FROM anchors GROUP BY issuer_id, "
               "batch_root HAVING MIN(replaced) = 1)")
    voided = db.execute("SELECT id, block_time, issuer_id, signing_key, admin FROM revocations WHERE counted = 0 "
                        "AND restored = 0").fetchall()
    for number, revoked_at, issuer, key, admin in voided:
        since = _void_since(db, issuer, key, admin)
        if since is None or revoked_at < since:
            db.execute("UPDATE revocations SET counted = 1 WHERE id = ?", (number,))
            times.append(revoked_at)
    return min(times, default=None)


def clear(db: Connection) -> None:
    """Forget every derived row (before deriving them again from the events)."""
    for table in TABLES:
        db.execute(f"DELETE FROM {table}")
    db.execute("DELETE FROM anomalies WHERE keyed = 0")
