"""Per-day counts for the overview, so that its figures and charts read a few hundred rows whatever the size of
the index: documents issued and revoked, batches, sealed receipts by bank (what a keyless index sees), and with
the regulator's keys receipts by bank, purpose, issuer, document type and consent, and documents verified for the
first time.

A measure is a pure function of the rows below it: :func:`refresh` recomputes its days from a given day on, which
is all a sync needs (new rows arrive at the head) and what a rewind needs (from the earliest day it touched).
"""

from __future__ import annotations

from ..store import Connection

DAY = 86400

#: measure -> (dimension -> the SELECT of ``day, value, amount`` from ``?``, a unix time, onwards)
MEASURES: dict[str, dict[str, str]] = {
    "batches": {
        "": "SELECT block_time / 86400, '', COUNT(*) FROM anchors WHERE replaced = 0 AND moved = 0 "
            "AND block_time >= ? GROUP BY block_time / 86400",
        "issuer": "SELECT block_time / 86400, issuer_id, COUNT(*) FROM anchors WHERE replaced = 0 AND moved = 0 "
                  "AND block_time >= ? GROUP BY block_time / 86400, issuer_id",
        "doc_type": "SELECT block_time / 86400, doc_type, COUNT(*) FROM anchors WHERE replaced = 0 AND moved = 0 "
                    "AND block_time >= ? GROUP BY block_time / 86400, doc_type",
    },
    "issued": {
        "": "SELECT block_time / 86400, '', SUM(documents) FROM anchors WHERE replaced = 0 AND moved = 0 "
            "AND block_time >= ? GROUP BY block_time / 86400",
        "issuer": "SELECT block_time / 86400, issuer_id, SUM(documents) FROM anchors WHERE replaced = 0 AND moved = 0 "
                  "AND block_time >= ? GROUP BY block_time / 86400, issuer_id",
        "doc_type": "SELECT block_time / 86400, doc_type, SUM(documents) FROM anchors WHERE replaced = 0 AND moved = 0 "
                    "AND block_time >= ? GROUP BY block_time / 86400, doc_type",
    },
    "revoked": {
        "": "SELECT block_time / 86400, '', SUM(documents) FROM revocations WHERE counted = 1 AND block_time >= ? "
            "GROUP BY block_time / 86400",
        "issuer": "SELECT block_time / 86400, issuer_id, SUM(documents) FROM revocations WHERE counted = 1 "
                  "AND block_time >= ? GROUP BY block_time / 86400, issuer_id",
        "reason": "SELECT block_time / 86400, reason, SUM(documents) FROM revocations WHERE counted = 1 "
                  "AND block_time >= ? GROUP BY block_time / 86400, reason",
    },
    "sealed": {
        "": "SELECT block_time / 86400, '', SUM(receipts) FROM sealed_batches WHERE block_time >= ? "
            "GROUP BY block_time / 86400",
        "bank": "SELECT block_time / 86400, verifier, SUM(receipts) FROM sealed_batches WHERE block_time >= ? "
                "GROUP BY block_time / 86400, verifier",
    },
    "receipts": {
        "": "SELECT block_time / 86400, '', COUNT(*) FROM circulation_receipts WHERE block_time >= ? "
            "GROUP BY block_time / 86400",
        **{dimension: f"SELECT block_time / 86400, {column}, COUNT(*) FROM circulation_receipts "
                      f"WHERE block_time >= ? GROUP BY block_time / 86400, {column}"
           for dimension, column in (("bank", "verifier"), ("purpose", "purpose"), ("issuer", "issuer_id"),
                                     ("doc_type", "doc_type"), ("consent", "CAST(consent AS TEXT)"))},
        "bank_without_consent": "SELECT block_time / 86400, verifier, COUNT(*) FROM circulation_receipts "
                                "WHERE consent = 0 AND block_time >= ? GROUP BY block_time / 86400, verifier",
    },
    "verified": {
        "": "SELECT first_time / 86400, '', COUNT(*) FROM circulation_documents WHERE first_time >= ? "
            "GROUP BY first_time / 86400",
        "issuer": "SELECT first_time / 86400, issuer_id, COUNT(*) FROM circulation_documents WHERE first_time >= ? "
                  "GROUP BY first_time / 86400, issuer_id",
        "doc_type": "SELECT first_time / 86400, doc_type, COUNT(*) FROM circulation_documents "
                    "WHERE first_time >= ? GROUP BY first_time / 86400, doc_type",
    },
}
#: Measures of the index alone, and those of the opened trail.
KEYLESS = ("batches", "issued", "revoked", "sealed")
KEYED = ("receipts", "verified")


def refresh(db: Connection, measures: tuple[str, ...], from_time: int) -> None:
    """Recompute ``measures`` for every day from the day of ``from_time`` on (inside the caller's transaction)."""
    day = from_time // DAY
    for measure in measures:
        for dimension, select in MEASURES[measure].items():
            # a seek on the key (measure, dimension, day): by measure alone it read every day ever counted
            db.execute("DELETE FROM rollup WHERE measure = ? AND dimension = ? AND day >= ?", (measure, dimension, day))
            rows = db.execute(select, (day * DAY,)).fetchall()
            db.executemany("INSERT INTO rollup (measure, dimension, day, value, amount) VALUES (?, ?, ?, ?, ?)",
                           [(measure, dimension, d, value, int(amount)) for d, value, amount in rows if amount])


def clear(db: Connection, measures: tuple[str, ...]) -> None:
    db.executemany("DELETE FROM rollup WHERE measure = ?", [(m,) for m in measures])
