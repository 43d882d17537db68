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


def migrations(decoder: LogDecoder) -> tuple[Migration, ...]:
    """The index's schema steps; the last one packs the JSON rows of version 3 with ``decoder``'s ABIs."""

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

    return (*MIGRATIONS, pack_rows)


def kinds(db: Connection, decoder: LogDecoder) -> dict[bytes, int]:
    """Every event the decoder knows, numbered in the index (new ones added): topic -> number."""
    db.executemany("INSERT INTO event_kinds (topic, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [(topic, codec.name) for topic, codec in decoder.by_topic.items()])
    return {bytes(topic): number for number, topic in db.execute("SELECT id, topic FROM event_kinds")}


