"""The regulator's index: resumable sync without gaps or duplicates, anomalies, and exports."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from crossverify import RevocationReason
from crossverify.chain.consortium import deploy_consortium
from crossverify.chain.logs import LogSource, RawLog
from crossverify.chain.records import ProposalKind
from crossverify.chain.typed_data import sign
from crossverify.errors import IndexNotSynced, LogNotDecodable, NodeUnavailable, StoreChainMismatch, TransactionFailed
from crossverify.format.encoding import to_hex, utc_time
from crossverify.regulator.export import to_csv, to_html, to_json
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import AuditReport, Supervision
from crossverify.regulator.schema import MIGRATIONS, migrations
from crossverify.store import Store

from ..conftest import Consortium
from ..postgres import Locate, empty
from ..sqlite_steps import counted


def activity(c: Consortium, n: int, tag: str) -> list[bytes]:
    roots = [Web3.keccak(text=f"{tag} {i}") for i in range(n)]
    for root in roots:
        c.anchor(root)
    return roots


def all_events(c: Consortium, to_block: int | str = "latest") -> int:
    """Every event of the registry and of its consortium: the regulator reads both."""
    logs = c.w3.eth.get_logs({"address": [c.registry.contract.address, c.consortium.contract.address],
                              "fromBlock": 0, "toBlock": to_block})  # type: ignore[typeddict-item]
    return len(c.registry.decode_logs(logs)) + len(c.consortium.decode_logs(logs))


def test_sync_resumes_after_a_crash_without_gaps_or_duplicates(consortium: Consortium, location: Locate,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    activity(c, 12, "before")
    reader = RegulatorReader(c.registry, location("audit.sqlite"), chunk=3)
    calls = {"n": 0}
    original = LogSource.logs

    def crash_on_fourth_chunk(self: LogSource, *args: Any) -> list[RawLog]:
        calls["n"] += 1
        if calls["n"] == 4:
            raise ConnectionError("node went away mid-sync")
        return original(self, *args)

    monkeypatch.setattr(LogSource, "logs", crash_on_fourth_chunk)
    committed: list[int] = []
    with pytest.raises(NodeUnavailable):
        reader.sync(on_chunk=lambda done, _: committed.append(done))
    assert len(committed) == 3 and reader.next_block == committed[-1]  # three chunks committed, with their cursor
    assert len(list(reader.events())) == all_events(c, reader.next_block - 1)
    monkeypatch.undo()
    reader.close()

    resumed = RegulatorReader(c.registry, location("audit.sqlite"), chunk=3)
    report = resumed.sync()
    assert report.from_block == committed[-1]
    assert len(list(resumed.events())) == all_events(c)

    activity(c, 4, "after")
    head = c.w3.eth.block_number
    incremental = resumed.sync()
    assert incremental.from_block == report.to_block + 1 and incremental.to_block == head
    assert incremental.events == 4
    assert len(list(resumed.events())) == all_events(c)


def test_anomalies_and_figures(consortium: Consortium, location: Locate) -> None:
    c = consortium
    reg = c.registry
    roots = activity(c, 3, "batch")
    doc = Web3.keccak(text="doc")
    reg.transact(lambda f: f.revokeDocument(doc, RevocationReason.FRAUD), c.issuer_admin)
    leaked_at = reg.document_status(c.issuer_id, roots[2], doc).anchored_at  # the third anchor falls in the window
    reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, leaked_at), c.issuer_admin)

    reader = RegulatorReader(c.registry, location("audit.sqlite"))
    reader.sync()
    report = Supervision(reader).report()
    [group] = [g for g in report.anomalies if g["kind"] == "anchor_in_compromised_window"]
    assert group["count"] == 1 and group["severity"] == "high" and "compromised" in group["meaning"]
    assert group["examples"][0]["details"]["batchRoot"] == to_hex(roots[2])
    assert report.by_issuer["BNUMMOMX"]["documents_revoked"] == 1
    assert report.revocation_reasons == {"fraud": 1}
    assert {g["event"] for g in report.governance} >= {"IssuerAdmitted", "MemberAdmitted", "SigningKeyCompromised"}
    assert report.freshness["behind"] == 0 and report.freshness["indexedBlock"] == c.w3.eth.block_number

    assert json.loads(to_json(report))["totals"]["receipts"] == 0  # receipts are sealed, on the circulation contract
    csv_text = to_csv(report)
    assert "anomaly,anchor_in_compromised_window,count,1" in csv_text and csv_text.startswith("section,key,metric")
    page = to_html(report)
    assert page.count("<svg") >= 4 and "Batch anchored under a compromised key" in page and "<script" not in page
    assert "up to date" in page


def test_the_governance_timeline_shows_recoveries_and_display_names(consortium: Consortium, tmp_path: Path) -> None:
    """A recovery agreed and then vetoed (what the lost seat's jurisdiction must watch for, within its 30 days) and
    an issuer's own display name set are in the report, in the supervisor's language."""
    c = consortium
    c.registry.transact(lambda f: f.setMetadataDigest(bytes(8), Web3.keccak(text="name")), c.issuer_admin)
    c.propose(ProposalKind.RECOVER_OPERATOR, c.guangdong_operator, c.outsider)  # Macao's quorum: scheduled
    pid = int(c.consortium.call(lambda f: f.proposalCount()))
    unlock_at = c.consortium.proposal(pid).unlock_at
    c.consortium.transact(lambda f: f.veto(pid), c.guangdong_operator)
    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite")
    reader.sync()
    report = Supervision(reader).report()
    changes = {g["event"]: g for g in report.governance}
    assert changes["RecoveryScheduled"] == {"at": changes["RecoveryScheduled"]["at"], "event": "RecoveryScheduled",
                                            "proposalId": pid, "lost": c.guangdong_operator,
                                            "replacement": c.outsider, "unlockAt": utc_time(unlock_at)}
    assert changes["RecoveryVetoed"]["vetoer"] == c.guangdong_operator
    assert changes["MetadataDigestSet"]["issuerId"] == "BNUMMOMX" and "docType" not in changes["MetadataDigestSet"]
    page = to_html(report, "zh-Hant")
    for words in ("營運方帳戶恢復獲同意（執行前仍可否決）", "營運方帳戶恢復被否決", "更改顯示資料"):
        assert words in page
    assert f"可執行時間: {utc_time(unlock_at)}" in page
    reader.close()


def test_a_query_on_an_index_never_synced_names_the_command(consortium: Consortium, tmp_path: Path) -> None:
    reader = RegulatorReader(consortium.registry, tmp_path / "audit.sqlite")
    assert reader.freshness().indexed_block is None and reader.freshness().describe() == "the index was never synced"
    for question in (Supervision(reader).report, Supervision(reader).overview, lambda: Supervision(reader).page(
            "anchors")):
        with pytest.raises(IndexNotSynced, match="run crossverify regulator sync first"):
            question()
    reader.sync()
    consortium.anchor(Web3.keccak(text="after the sync"))
    freshness = reader.freshness()
    assert (freshness.indexed_block, freshness.behind) == (consortium.w3.eth.block_number - 1, 1)
    assert freshness.describe() == f"index at block {freshness.indexed_block:,}, 1 block behind the chain"


def test_index_is_bound_to_one_registry(consortium: Consortium, location: Locate) -> None:
    c = consortium
    RegulatorReader(c.registry, location("audit.sqlite")).close()
    _, other, _ = deploy_consortium(c.w3, c.macao_operator, [(c.macao_operator, "MO"), (c.guangdong_operator, "GD")])
    with pytest.raises(StoreChainMismatch):
        RegulatorReader(other, location("audit.sqlite"))


def test_replicas_opening_a_new_shared_index_together_set_it_up_once(
        consortium: Consortium, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two regulator replicas starting at once on an empty database: the second waits for the first's set-up
    (it once found no registry row, inserted its own beside the first's and stopped: ``StoreCorrupt``)."""
    first_binds, resume = threading.Event(), threading.Event()
    bind = Store.bind

    def slow_first_bind(store: Store, identity: dict[str, str]) -> None:
        bind(store, identity)
        if not first_binds.is_set():
            first_binds.set()
            assert resume.wait(10)

    monkeypatch.setattr(Store, "bind", slow_first_bind)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(RegulatorReader, consortium.registry, postgres_url)
        assert first_binds.wait(10)
        second = pool.submit(RegulatorReader, consortium.registry, postgres_url)
        with pytest.raises(TimeoutError):
            second.result(0.5)  # waits for the first's set-up
        resume.set()
        readers = [first.result(10), second.result(10)]
    try:
        assert [r.era for r in readers[1].registries()] == [0]
    finally:
        for reader in readers:
            reader.close()
        empty(postgres_url)


def test_a_reorganisation_is_rewound_and_the_totals_match_the_chain(consortium: Consortium, location: Locate) -> None:
    c = consortium
    activity(c, 5, "shared")
    reader = RegulatorReader(c.registry, location("audit.sqlite"), chunk=4)
    reader.sync()
    fork = c.w3.testing.snapshot()
    activity(c, 6, "abandoned")
    assert reader.sync().events > 0
    indexed_before = len(list(reader.events()))

    c.w3.testing.revert(fork)  # the abandoned branch leaves the chain; another one grows in its place
    activity(c, 3, "winning")
    report = reader.sync()
    assert report.rewound > 0
    assert len(list(reader.events())) == all_events(c) < indexed_before + 1
    assert reader.sync() == type(report)(report.to_block + 1, c.w3.eth.block_number, 0, 0)


@pytest.mark.parametrize("fork_at", [0, 1, 777, 19_998, 19_999, 39_997])
def test_a_fork_is_found_among_a_year_of_stored_blocks_in_a_few_look_ups(consortium: Consortium, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         fork_at: int) -> None:
    """The blocks still the chain's form a prefix of those the index stored: the last one is found by binary search
    over the block numbers, asking the node about ~log2 of the span, without reading every stored block (a year
    holds millions: 3,000,000 took 1.76 s and 649 MB)."""
    c = consortium
    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite")
    reader.sync()
    numbers = list(range(0, 40_000, 2))  # every other block held an event
    with reader.store.transaction() as db:
        db.execute("DELETE FROM blocks")
        db.executemany("INSERT INTO blocks (number, hash) VALUES (?, ?)", [(n, os.urandom(32)) for n in numbers])
    asked: list[int] = []

    def holds(number: int, block_hash: bytes) -> bool:  # the chain kept every block up to ``fork_at``
        asked.append(number)
        return number <= fork_at

    monkeypatch.setattr(reader, "_holds", holds)
    _, steps = counted(reader.store._sqlite, reader._rewind_to_fork)
    kept = max(n for n in numbers if n <= fork_at)
    assert reader.next_block == kept + 1
    assert [n for (n,) in reader.store.db.execute("SELECT number FROM blocks ORDER BY number DESC LIMIT 1")] == [kept]
    assert len(asked) == len(set(asked)) <= 17  # log2(40,000) + the newest
    assert fork_at < 39_000 or steps < 200  # a short rewind reads a few stored blocks, not 20,000 (8,016 steps)


def test_a_sync_with_nothing_new_does_the_same_work_however_many_blocks_the_index_holds(
        consortium: Consortium, tmp_path: Path) -> None:
    """A sync checks the newest block the index holds against the chain and reads the others only when that one is
    gone: beside 2,000 stored block hashes it takes SQLite as many steps as beside a few (it used to read them all)."""
    c = consortium
    activity(c, 2, "early")
    c.w3.testing.mine(2000)
    activity(c, 1, "late")

    def steps(history: int) -> int:
        reader = RegulatorReader(c.registry, tmp_path / f"audit-{history}.sqlite")
        reader.sync()
        with reader.store.transaction() as db:  # every older block's hash, as an index a year old holds them
            db.executemany("INSERT INTO blocks (number, hash) VALUES (?, ?) ON CONFLICT (number) DO NOTHING",
                           [(n, os.urandom(32)) for n in range(history)])
        report, steps_taken = counted(reader.store.db, reader.sync)
        assert (report.events, report.rewound) == (0, 0)
        reader.close()
        return steps_taken

    alone, beside_history = steps(0), steps(2000)
    assert beside_history < alone * 1.2, (alone, beside_history)


def test_events_wait_for_confirmations(consortium: Consortium, location: Locate) -> None:
    c = consortium
    activity(c, 3, "deep")
    reader = RegulatorReader(c.registry, location("audit.sqlite"), confirmations=2)
    report = reader.sync()
    assert report.to_block == c.w3.eth.block_number - 2
    c.w3.testing.mine(2)
    reader.sync()
    assert len(list(reader.events())) == all_events(c)


def _write_json_index(c: Consortium, path: Path) -> int:
    """An index as the JSON-row schema (version 3) wrote it: its own migrations and its row format."""
    store = Store(path, MIGRATIONS, kind="audit index")
    store.bind(c.registry.identity())
    logs = c.w3.eth.get_logs({"address": [c.registry.contract.address, c.consortium.contract.address],
                              "fromBlock": 0, "toBlock": "latest"})
    events = sorted(c.registry.decode_logs(logs) + c.consortium.decode_logs(logs),
                    key=lambda e: (e.block_number, e.log_index))
    head = c.w3.eth.block_number
    with store.transaction() as db:
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", [
            (e.block_number, e.log_index, e.transaction_hash, c.w3.eth.get_block(e.block_number)["timestamp"],
             e.name, json.dumps(e.args, default=lambda b: "0x" + b.hex())) for e in events])
        db.executemany("INSERT OR REPLACE INTO blocks VALUES (?, ?)", [
            (n, bytes(c.w3.eth.get_block(n)["hash"])) for n in {e.block_number for e in events} | {head}])
        db.execute("INSERT INTO meta VALUES ('next_block', ?)", (str(head + 1),))
    assert store.version == 3
    store.close()
    return len(events)


def test_an_index_of_json_rows_is_migrated_to_packed_rows(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    activity(c, 3, "migrated")
    c.registry.transact(lambda f: f.revokeDocument(Web3.keccak(text="doc"), RevocationReason.FRAUD), c.issuer_admin)
    count = _write_json_index(c, tmp_path / "old.sqlite")
    old = sqlite3.connect(tmp_path / "old.sqlite")
    old_rows = [(t, name, json.loads(args)) for t, name, args in old.execute(
        "SELECT block_time, name, args FROM events ORDER BY block_number, log_index")]
    old.close()

    migrated = RegulatorReader(c.registry, tmp_path / "old.sqlite")
    assert migrated.store.version == len(migrations(migrated.decoder))
    assert migrated.store.db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the JSON rows' pages returned
    assert list(migrated.events()) == old_rows and len(old_rows) == count
    assert migrated.sync().events == 0  # the cursor came along
    fresh = RegulatorReader(c.registry, tmp_path / "fresh.sqlite")
    fresh.sync()
    assert list(fresh.events()) == old_rows
    assert Supervision(migrated).report().as_json() | {"generated_at": 0, "freshness": {}} == Supervision(
        fresh).report().as_json() | {"generated_at": 0, "freshness": {}}
    assert list(migrated.events("DocumentRevoked", "IssuerAdmitted")) == [
        e for e in old_rows if e[1] in ("DocumentRevoked", "IssuerAdmitted")]


def test_a_migration_that_cannot_read_a_row_leaves_the_old_index_whole(consortium: Consortium,
                                                                       tmp_path: Path) -> None:
    c = consortium
    _write_json_index(c, tmp_path / "old.sqlite")
    db = sqlite3.connect(tmp_path / "old.sqlite")
    db.execute("UPDATE events SET name = 'NoSuchEvent' WHERE rowid = (SELECT max(rowid) FROM events)")
    db.commit()
    rows = db.execute("SELECT * FROM events").fetchall()
    db.close()
    with pytest.raises(LogNotDecodable):
        RegulatorReader(c.registry, tmp_path / "old.sqlite")
    db = sqlite3.connect(tmp_path / "old.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert db.execute("SELECT * FROM events").fetchall() == rows
    db.close()


def test_dense_blocks_are_read_in_short_spans(consortium: Consortium, location: Locate,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Sparse blocks let the span grow; dense ones after them must not all land in one chunk."""
    c = consortium
    c.w3.testing.mine(40)  # empty blocks: the span grows
    for block in range(6):  # then six blocks of 40 anchors each
        requests = [c.anchor_request(Web3.keccak(text=f"dense {block} {i}")) for i in range(40)]
        c.registry.transact(lambda f, r=requests: f.anchorMany(  # type: ignore[misc]
            [x.as_abi() for x in r], [sign(x, c.domain, c.signing_key) for x in r]), c.macao_operator)
    held: list[int] = []
    rows = RegulatorReader._rows

    def count(self: RegulatorReader, logs: list[RawLog], *more: Any) -> Any:
        held.append(len(logs))
        return rows(self, logs, *more)

    monkeypatch.setattr(RegulatorReader, "_rows", count)
    reader = RegulatorReader(c.registry, location("audit.sqlite"), max_events=50)
    report = reader.sync()
    assert max(held) <= 2 * 50 and sum(held) == report.events == all_events(c)
    assert reader.span < 4  # learned for the next sync: about one dense block per query
    assert len(list(reader.events("BatchAnchored"))) == 240


def test_a_node_that_refuses_long_ranges_is_read_in_shorter_ones(consortium: Consortium, location: Locate,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    activity(c, 4, "capped")
    c.w3.testing.mine(30)
    original = LogSource.logs
    refused = []

    def capped(self: LogSource, addresses: list[str], low: int, high: int) -> list[RawLog]:
        if high - low >= 3:
            refused.append(low)
            raise TransactionFailed("query exceeds max block range 3")
        return original(self, addresses, low, high)

    monkeypatch.setattr(LogSource, "logs", capped)
    reader = RegulatorReader(c.registry, location("audit.sqlite"))
    assert reader.sync().events == all_events(c) == len(list(reader.events()))
    assert reader.next_block == c.w3.eth.block_number + 1 and len(refused) == 1  # the cap holds for the sync


def test_a_log_the_abi_does_not_describe_stops_the_sync_before_its_chunk(consortium: Consortium, location: Locate,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    activity(c, 3, "strict")
    reader = RegulatorReader(c.registry, location("audit.sqlite"), chunk=1)
    original = LogSource.logs
    bad_block = c.w3.eth.block_number

    def tampered(self: LogSource, addresses: list[str], low: int, high: int) -> list[RawLog]:
        logs = original(self, addresses, low, high)
        return [x._replace(topics=x.topics[:-1]) if x.block_number == bad_block else x for x in logs]

    monkeypatch.setattr(LogSource, "logs", tampered)
    with pytest.raises(LogNotDecodable):
        reader.sync()
    assert reader.next_block == bad_block  # everything before it indexed, nothing of it
    assert len(list(reader.events())) == all_events(c, bad_block - 1)


def test_a_chain_that_shrinks_while_it_is_read_ends_the_sync(consortium: Consortium, location: Locate,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    activity(c, 3, "shrinking")
    original = LogSource.blocks

    def gone(self: LogSource, numbers: Any) -> dict[int, tuple[bytes, int] | None]:
        return {n: None for n in original(self, numbers)}

    monkeypatch.setattr(LogSource, "blocks", gone)
    reader = RegulatorReader(c.registry, location("audit.sqlite"))
    report = reader.sync()  # returns: no endless re-reading
    assert (report.to_block, report.events, reader.next_block) == (-1, 0, 0)
    monkeypatch.undo()
    assert reader.sync().events == all_events(c)


def test_large_logs_count_by_their_size(consortium: Consortium, location: Locate) -> None:
    """A log of many sealed receipts weighs its data, so a chunk of them stays small in memory."""
    c = consortium
    reader = RegulatorReader(c.registry, location("audit.sqlite"), circulation=c.circulation, max_events=100)
    c.w3.testing.mine(40)
    reader.sync()  # the span grew over the empty blocks
    assert reader.span > 8
    for _ in range(4):
        c.circulation.record([os.urandom(32) for _ in range(60)], os.urandom(60 * 326), c.verifier)
    report = reader.sync()
    assert report.events == 4 and reader.span <= 2
    assert [len(a["commitments"]) for _, _, a in reader.events("ReceiptsSealed")] == [60] * 4


def test_a_reorganisation_during_a_sync_is_rewound(consortium: Consortium, location: Locate) -> None:
    """A branch that leaves the chain after a chunk of it was indexed, while the sync reads on along the winning
    one, is found and dropped: the index holds the winning branch's events only."""
    c = consortium
    activity(c, 2, "shared")
    reader = RegulatorReader(c.registry, location("audit.sqlite"), chunk=2)
    reader.sync()
    fork = c.w3.testing.snapshot()
    activity(c, 4, "abandoned")
    winning: list[bytes] = []

    def reorganise_after_the_first_chunk(done: int, total: int) -> None:
        if not winning:
            c.w3.testing.revert(fork)  # the chunk just indexed leaves the chain
            winning.extend(activity(c, 6, "winning"))

    assert reader.sync(reorganise_after_the_first_chunk).rewound > 0
    reader.sync()  # the rest of the winning branch
    roots = [bytes.fromhex(a["batchRoot"][2:]) for _, _, a in reader.events("BatchAnchored")]
    assert roots[-6:] == winning and len(list(reader.events())) == all_events(c)


def test_a_report_as_csv_quotes_what_a_spreadsheet_would_run() -> None:
    """A purpose is any 8 bytes a bank sealed: one a spreadsheet would run as a formula is quoted, as the console's
    tables quote them."""
    report = AuditReport(0, "0x" + "11" * 20, 1, {}, {}, {}, {}, {}, {}, {}, circulation={
        "byVerifier": {}, "byDay": {}, "byPurpose": {"=1+2": 1, "@SUM(1)": 2, "ACCTOPEN": 3}, "disputes": []})
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert [r[1] for r in rows if r[0] == "circulation_purpose"] == ["'=1+2", "'@SUM(1)", "ACCTOPEN"]
