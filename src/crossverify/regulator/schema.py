"""The regulator's index on disk: its tables and the steps that brought them to this version.

The index (:mod:`crossverify.regulator.index`) holds the registry's, consortium's and circulation contract's
events packed, with the hashes of their blocks; the circulation trail (:mod:`crossverify.regulator.circulation`)
keeps what it opened beside them. Both modules build on this one.
"""

from __future__ import annotations

import json

from ..chain.logs import EventCodec, LogDecoder
from ..store import Connection, Migration, statements

#: The opened circulation trail (:mod:`crossverify.regulator.circulation`), and every event it read with its
#: block's hash.
CIRCULATION = """
CREATE TABLE circulation_read (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, block_hash BLOB NOT NULL,
    PRIMARY KEY (block_number, log_index));
CREATE TABLE circulation_receipts (
    block_number      INTEGER NOT NULL,
    log_index         INTEGER NOT NULL,
    position          INTEGER NOT NULL,
    block_time        INTEGER NOT NULL,
    verifier          TEXT    NOT NULL,
    key_epoch         INTEGER NOT NULL,
    commitment        BLOB    NOT NULL,
    document_digest   BLOB    NOT NULL,
    issuer_id         TEXT    NOT NULL,
    purpose           TEXT    NOT NULL,
    presentation_hash BLOB    NOT NULL,
    verified_at       INTEGER NOT NULL,
    PRIMARY KEY (block_number, log_index, position)
);
CREATE INDEX circulation_receipts_by_document ON circulation_receipts (document_digest);
CREATE TABLE circulation_disputes (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, block_time INTEGER NOT NULL,
    dispute_id BLOB NOT NULL, verifier TEXT NOT NULL, key_epoch INTEGER NOT NULL, content TEXT NOT NULL,
    document_digest BLOB NOT NULL, PRIMARY KEY (block_number, log_index)
);
CREATE INDEX circulation_disputes_by_document ON circulation_disputes (document_digest);
CREATE TABLE circulation_answers (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, block_time INTEGER NOT NULL,
    dispute_id BLOB NOT NULL, key_epoch INTEGER NOT NULL, content TEXT NOT NULL, PRIMARY KEY (block_number, log_index)
);
CREATE TABLE circulation_epochs (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, block_time INTEGER NOT NULL, epoch INTEGER NOT NULL,
    keys TEXT NOT NULL, jurisdictions TEXT NOT NULL, PRIMARY KEY (block_number, log_index)
);
CREATE TABLE circulation_anomalies (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, position INTEGER NOT NULL, block_time INTEGER NOT NULL,
    kind TEXT NOT NULL, details TEXT NOT NULL, PRIMARY KEY (block_number, log_index, position)
);
"""

#: Set one of the index's own values (its cursor, its span, the trail's key fingerprint).
SET_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"

MIGRATIONS = ("""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    block_number INTEGER NOT NULL,
    log_index    INTEGER NOT NULL,
    tx_hash      BLOB    NOT NULL,
    block_time   INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    args         TEXT    NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS events_by_name ON events (name, block_number);
""", """
-- The hash of every block that holds an indexed event, and of each chunk's last block: a block whose hash
-- the chain no longer has marks a reorganisation or a reset, and the index rewinds to the last one it still has.
CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash BLOB NOT NULL);
""", CIRCULATION)

#: Version 4 stores each event's arguments packed (:mod:`crossverify.chain.logs`) under a small event number,
#: and a transaction's hash once per run of its events (NULL: the same transaction as the event before).
PACKED = """
CREATE TABLE event_kinds (id INTEGER PRIMARY KEY, topic BLOB NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE packed_events (
    block_number INTEGER NOT NULL,
    log_index    INTEGER NOT NULL,
    block_time   INTEGER NOT NULL,
    kind         INTEGER NOT NULL,
    tx_hash      BLOB,
    args         BLOB    NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
"""


#: Version 5: what supervision reads, kept as rows a page query finds through an index: every filter column is
#: indexed with ``(block_time, id)`` after it, so a period is a range and a newest-first page continues below the
#: ``(block_time, id)`` of the last row shown (keyset pagination). The fact tables come from the events alone
#: (:mod:`crossverify.regulator.facts`); the receipts opened with the regulator's keys name the document's type,
#: batch root and how the resident consented (receipts of version 2), and the trail is opened again. ``rollup``
#: holds per-day counts for the overview, refreshed from the day of the first new row.
SUPERVISION = """
CREATE TABLE anchors (
    id           INTEGER PRIMARY KEY,
    block_number INTEGER NOT NULL,
    block_time   INTEGER NOT NULL,
    issuer_id    TEXT    NOT NULL,
    doc_type     TEXT    NOT NULL,
    batch_root   BLOB    NOT NULL,
    documents    INTEGER NOT NULL,
    signing_key  TEXT    NOT NULL,
    not_after    INTEGER NOT NULL
);
CREATE INDEX anchors_by_time ON anchors (block_time, id);
CREATE INDEX anchors_by_issuer ON anchors (issuer_id, block_time, id);
CREATE INDEX anchors_by_doc_type ON anchors (doc_type, block_time, id);
CREATE INDEX anchors_by_root ON anchors (batch_root);
CREATE INDEX anchors_by_key ON anchors (signing_key, block_time);
CREATE TABLE revocations (
    id           INTEGER PRIMARY KEY,
    block_number INTEGER NOT NULL,
    block_time   INTEGER NOT NULL,
    issuer_id    TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    target       BLOB    NOT NULL,
    reason       TEXT    NOT NULL,
    signing_key  TEXT    NOT NULL,
    documents    INTEGER NOT NULL,
    counted      INTEGER NOT NULL
);
CREATE INDEX revocations_by_time ON revocations (block_time, id);
CREATE INDEX revocations_by_issuer ON revocations (issuer_id, block_time, id);
CREATE INDEX revocations_by_reason ON revocations (reason, block_time, id);
CREATE INDEX revocations_by_target ON revocations (target);
CREATE INDEX revocations_by_key ON revocations (signing_key, block_time);
CREATE TABLE compromised_keys (
    id               INTEGER PRIMARY KEY,
    block_number     INTEGER NOT NULL,
    block_time       INTEGER NOT NULL,
    issuer_id        TEXT    NOT NULL,
    signing_key      TEXT    NOT NULL,
    compromised_from INTEGER NOT NULL
);
CREATE TABLE sealed_batches (
    id           INTEGER PRIMARY KEY,
    block_number INTEGER NOT NULL,
    block_time   INTEGER NOT NULL,
    verifier     TEXT    NOT NULL,
    key_epoch    INTEGER NOT NULL,
    receipts     INTEGER NOT NULL
);
CREATE INDEX sealed_batches_by_time ON sealed_batches (block_time, id);
CREATE INDEX sealed_batches_by_verifier ON sealed_batches (verifier, block_time);
CREATE TABLE anomalies (
    id              INTEGER PRIMARY KEY,
    block_number    INTEGER NOT NULL,
    block_time      INTEGER NOT NULL,
    happened_at     INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    keyed           INTEGER NOT NULL,
    verifier        TEXT    NOT NULL,
    issuer_id       TEXT    NOT NULL,
    document_digest BLOB,
    details         TEXT    NOT NULL,
    UNIQUE (kind, subject)
);
CREATE INDEX anomalies_by_time ON anomalies (block_time, id);
CREATE INDEX anomalies_by_kind ON anomalies (kind, block_time, id);
CREATE INDEX anomalies_by_verifier ON anomalies (verifier, block_time, id);
CREATE INDEX anomalies_by_issuer ON anomalies (issuer_id, block_time, id);
CREATE INDEX anomalies_by_document ON anomalies (document_digest);
DROP TABLE circulation_anomalies;
DROP TABLE circulation_receipts;
CREATE TABLE circulation_receipts (
    id                INTEGER PRIMARY KEY,
    block_number      INTEGER NOT NULL,
    log_index         INTEGER NOT NULL,
    position          INTEGER NOT NULL,
    block_time        INTEGER NOT NULL,
    verifier          TEXT    NOT NULL,
    key_epoch         INTEGER NOT NULL,
    commitment        BLOB    NOT NULL,
    document_digest   BLOB    NOT NULL,
    issuer_id         TEXT    NOT NULL,
    doc_type          TEXT    NOT NULL,
    batch_root        BLOB    NOT NULL,
    purpose           TEXT    NOT NULL,
    consent           INTEGER NOT NULL,
    consent_reference BLOB    NOT NULL,
    verified_at       INTEGER NOT NULL
);
CREATE INDEX circulation_receipts_by_time ON circulation_receipts (block_time, id);
CREATE INDEX circulation_receipts_by_verifier ON circulation_receipts (verifier, block_time, id);
CREATE INDEX circulation_receipts_by_issuer ON circulation_receipts (issuer_id, block_time, id);
CREATE INDEX circulation_receipts_by_purpose ON circulation_receipts (purpose, block_time, id);
CREATE INDEX circulation_receipts_by_doc_type ON circulation_receipts (doc_type, block_time, id);
CREATE INDEX circulation_receipts_by_consent ON circulation_receipts (consent, block_time, id);
CREATE INDEX circulation_receipts_by_document ON circulation_receipts (document_digest);
CREATE INDEX circulation_receipts_by_batch ON circulation_receipts (batch_root);
CREATE INDEX circulation_receipts_by_presentation ON circulation_receipts (consent_reference) WHERE consent = 1;
CREATE TABLE circulation_documents (
    document_digest BLOB    PRIMARY KEY,
    first_id        INTEGER NOT NULL,
    first_time      INTEGER NOT NULL,
    issuer_id       TEXT    NOT NULL,
    doc_type        TEXT    NOT NULL
);
CREATE INDEX circulation_documents_by_time ON circulation_documents (first_time);
CREATE TABLE rollup (
    measure   TEXT    NOT NULL,
    dimension TEXT    NOT NULL,
    day       INTEGER NOT NULL,
    value     TEXT    NOT NULL,
    amount    INTEGER NOT NULL,
    PRIMARY KEY (measure, dimension, day, value)
);
DELETE FROM meta WHERE key = 'circulation_keys';
"""

#: An anchor that a later one of the same root replaced (its signing key was compromised by then) stops counting;
#: a revocation keeps the admin account that sent it, and an admin the consortium replaced as compromised from a
#: moment on voids what it sent since (the rows are derived again: ``facts.VERSION``).
STOLEN_ACCOUNTS = """
ALTER TABLE anchors ADD COLUMN replaced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revocations ADD COLUMN admin TEXT NOT NULL DEFAULT '';
CREATE TABLE compromised_admins (
    id               INTEGER PRIMARY KEY,
    block_number     INTEGER NOT NULL,
    block_time       INTEGER NOT NULL,
    issuer_id        TEXT    NOT NULL,
    admin            TEXT    NOT NULL,
    compromised_from INTEGER NOT NULL
);
"""

#: Registry succession: the registries whose events the index holds, in the order it followed them. Blocks are
#: numbered on across them (a registry's block ``b`` is held as ``b + block_offset``, from ``first_block`` on), so
#: one history runs through a new version of the contracts or a rebuilt network. An anchor of a root a predecessor
#: held (``moved``) and a revocation a predecessor already counted (``restored``) are the same issuance and the same
#: revocation, carried over: they do not count again.
SUCCESSION = """
CREATE TABLE registries (
    era          INTEGER NOT NULL PRIMARY KEY,
    chain_id     INTEGER NOT NULL,
    genesis      TEXT    NOT NULL,
    registry     TEXT    NOT NULL,
    first_block  INTEGER NOT NULL,
    block_offset INTEGER NOT NULL,
    recorded_at  INTEGER NOT NULL,
    followed_at  INTEGER NOT NULL
);
ALTER TABLE anchors ADD COLUMN moved INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revocations ADD COLUMN restored INTEGER NOT NULL DEFAULT 0;
"""

#: What an audit round and a console request look up among a year's rows, through indexes: the dispute an answer
#: opened names, by its id; and for the registries' counts, the few batches and revocations a successor held again
#: (``moved``, ``restored``), by block. Each was a scan of its whole table.
LOOKUPS = """
CREATE INDEX circulation_disputes_by_id ON circulation_disputes (dispute_id);
CREATE INDEX anchors_moved ON anchors (block_number) WHERE moved = 1;
CREATE INDEX revocations_restored ON revocations (block_number) WHERE restored = 1;
"""

#: A receipt recorded again (its commitment held already, from the same bank or another) is found by its commitment
#: and counted once: the trail is opened again.
RECORDED_AGAIN = """
CREATE INDEX circulation_receipts_by_commitment ON circulation_receipts (commitment);
DELETE FROM meta WHERE key = 'circulation_keys';
"""


def migrations(decoder: LogDecoder) -> tuple[Migration, ...]:
    """The index's schema steps; the fourth (a function of ``decoder``'s ABIs) packs the JSON rows of version 3."""

    def pack_rows(db: Connection) -> None:
        for statement in statements(PACKED):
            db.execute(statement)
        numbers = kinds(db, decoder)
        codecs: dict[str, tuple[int, EventCodec]] = {}
        previous: tuple[int, bytes] | None = None
        rows = db.execute("SELECT block_number, log_index, tx_hash, block_time, name, args FROM events "
                          "ORDER BY block_number, log_index")
        while batch := rows.fetchmany(10_000):
            packed = []
            for number, index, tx_hash, block_time, name, args in batch:
                if name not in codecs:
                    codec = decoder.by_name(name)
                    codecs[name] = (numbers[codec.topic], codec)
                kind, codec = codecs[name]
                packed.append((number, index, block_time, kind, None if previous == (number, tx_hash) else tx_hash,
                               codec.pack_args(json.loads(args))))
                previous = (number, tx_hash)
            db.executemany("INSERT INTO packed_events VALUES (?, ?, ?, ?, ?, ?)", packed)
        db.execute("DROP TABLE events")
        db.execute("ALTER TABLE packed_events RENAME TO events")
        db.execute("CREATE INDEX events_by_kind ON events (kind, block_number)")

    return (*MIGRATIONS, pack_rows, SUPERVISION, STOLEN_ACCOUNTS, SUCCESSION, LOOKUPS, RECORDED_AGAIN)


def kinds(db: Connection, decoder: LogDecoder) -> dict[bytes, int]:
    """Every event the decoder knows, numbered in the index (new ones added): topic -> number."""
    db.executemany("INSERT INTO event_kinds (topic, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [(topic, codec.name) for topic, codec in decoder.by_topic.items()])
    return {bytes(topic): number for number, topic in db.execute("SELECT id, topic FROM event_kinds")}


