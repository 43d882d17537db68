"""What people read: counts in words."""

from __future__ import annotations

from crossverify.format.display import counted


def test_counts_agree_with_their_nouns() -> None:
    assert counted(1, "transaction") == "1 transaction"
    assert counted(2, "transaction") == "2 transactions"
    assert counted(1, "batch") == "1 batch" and counted(0, "batch") == "0 batches"
    assert counted(12_000, "receipt") == "12,000 receipts"
    assert counted(3, "anomaly", "anomalies") == "3 anomalies"
