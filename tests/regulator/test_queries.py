"""The console's questions at the index: every page query reads through an index (no table scan, no sort of the
matches), keyset pages neither skip nor repeat a row whatever the filters, and an overview's figures agree with
the rows they summarise."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from crossverify.bench._console import BANKS, ISSUERS, TYPES, _index
from crossverify.bench._world import REGULATORS, world
from crossverify.errors import InvalidQuery
from crossverify.regulator.circulation import CirculationTrail
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import TABLES, Filters, Supervision, page_query, parse_filters

VALUES = {"bank": BANKS[0], "issuer": ISSUERS[0], "purpose": "LOAN", "doc_type": TYPES[0], "consent": "none",
          "kind": "circulation_without_consent", "reason": "withdrawn"}


@pytest.fixture(scope="module")
def supervision(tmp_path_factory: pytest.TempPathFactory) -> Supervision:
    """An index of 2,000 receipts of 300 documents over a year, from the benchmark's own maker."""
    w = world()
    reader = RegulatorReader(w.registry, tmp_path_factory.mktemp("index") / "index.sqlite", circulation=w.circulation)
    reader.sync()
    end = _index(reader, w.circulation.address, w.registry.address, w.circulation.regulator_keys().epoch, 2_000,
                 300)
    trail = CirculationTrail(reader, [REGULATORS[1]], now=lambda: end)
    assert trail.open_new().receipts == 2_000
    return Supervision(reader, trail, now=lambda: end)


def plans(db: sqlite3.Connection, sql: str, args: list[object]) -> list[str]:
    return [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, args)]


@pytest.mark.parametrize("table", list(TABLES))
def test_every_page_query_reads_through_an_index(supervision: Supervision, table: str) -> None:
    spec = TABLES[table]
    db = supervision.reader.store.db
    names = list(spec.filters)
    for size in range(len(names) + 1):
        for chosen in itertools.combinations(names, size):
            for period, after in itertools.product(((None, None), (1, 2**40)), (None, "1900000000.99")):
                filters = Filters(*period, **{n: VALUES[n] for n in chosen})
                sql, args = page_query(spec, filters, after, 51)
                plan = plans(db, sql, args)  # type: ignore[arg-type]
                assert all("USING" in step for step in plan if step.startswith(("SCAN", "SEARCH"))), (chosen, plan)
                assert not any("TEMP B-TREE" in step for step in plan), (chosen, plan)


def test_keyset_pages_cover_every_row_once(supervision: Supervision) -> None:
    for filters in (Filters(), Filters(bank=BANKS[0]), Filters(consent="in_person", since=0, until=2**40)):
        seen, after = [], None
        while True:
            page = supervision.page("receipts", filters, after, 37)
            seen += [r["commitment"] for r in page.rows]
            if page.after is None:
                break
            after = page.after
        expected = sum(1 for _ in supervision.rows("receipts", filters))
        assert len(seen) == len(set(seen)) == expected > 0, filters
        times = [r["recordedAt"] for r in supervision.rows("receipts", filters)]
        assert times == sorted(times, reverse=True)


def test_the_overview_agrees_with_the_rows(supervision: Supervision) -> None:
    overview = supervision.overview()
    assert overview["totals"]["receipts"] == 2_000 == sum(r["amount"] for r in overview["receiptsByBank"])
    assert sum(r["amount"] for r in overview["receiptsByDay"]) == 2_000
    for row in overview["receiptsByBank"][:3]:
        assert row["amount"] == sum(1 for _ in supervision.rows("receipts", Filters(bank=row["value"])))
    without = overview["totals"]["withoutConsent"]
    assert without == sum(1 for _ in supervision.rows("receipts", Filters(consent="none"))) > 0
    counts = {a["kind"]: a["count"] for a in overview["anomalies"]}
    assert counts["circulation_without_consent"] == without
    assert counts["circulation_of_revoked"] == sum(1 for _ in supervision.rows(
        "anomalies", Filters(kind="circulation_of_revoked"))) > 0
    digest = next(supervision.rows("receipts"))["documentDigest"]
    timeline = supervision.timeline(bytes.fromhex(digest[2:]))
    assert timeline["events"][0]["event"] == "anchored"


def test_a_bank_is_found_however_its_address_is_written(supervision: Supervision, tmp_path: Path) -> None:
    lower = parse_filters(bank=BANKS[0].lower())
    assert lower.bank == BANKS[0]
    assert supervision.page("receipts", lower).rows


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    """A period typed the wrong way round would read as a quiet one (every figure zero): it is refused by name."""
    with pytest.raises(InvalidQuery, match="from 2026-12-08 is after to 2026-12-01"):
        parse_filters("2026-12-08", "2026-12-01")
    one_day = parse_filters("2026-12-01", "2026-12-01")
    assert one_day.until is not None and one_day.since is not None and one_day.until - one_day.since == 86400
