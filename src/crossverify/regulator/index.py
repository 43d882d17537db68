"""The regulator's view: every event of the registry, its consortium and the circulation contract in a local
index, with the rows supervision reads derived from them (:mod:`crossverify.regulator.facts`).

``sync`` reads logs in raw ``eth_getLogs`` queries whose block span adapts to the event density, and commits
each chunk together with its derived rows and the cursor, so a re-run reads only new blocks and a crash mid-sync
leaves neither a gap nor a duplicate. Arguments are stored packed (about 150 bytes per receipt). Queries need no
chain; :meth:`RegulatorReader.freshness` says how far the index is behind it.

The index follows a registry succession: configured for a registry that records, by its consortium's quorum, the
one the index was reading as its predecessor (a new version of the contracts, or a rebuilt network), the next sync
first reads the predecessor to the chain's head when it is on the same chain, then carries on in the same index
with the successor's events, numbered after the predecessor's blocks. Roots the successor anchors again and
revocations it holds again are recognised as the predecessor's (:mod:`crossverify.regulator.facts`). Any other
registry, chain or genesis is refused (:class:`~crossverify.errors.StoreChainMismatch`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ..chain.circulation import CirculationContract
from ..chain.connection import node_errors
from ..chain.consortium import ConsortiumContract
from ..chain.logs import LogDecoder, LogSource, RawLog
from ..chain.registry import Deployed, Registry
from ..errors import CrossverifyError, IndexNotSynced, LogNotDecodable, StoreChainMismatch, TransactionFailed
from ..store import Location, Store, store_errors
from . import facts, rollup
from .facts import IndexedEvent
from .schema import MIGRATIONS, SET_META, kinds, migrations

log = logging.getLogger(__name__)

#: Hex characters of log data that count as one event when sizing a chunk (a log of sealed receipts is large).
DATA_PER_EVENT = 256

#: SQLite's page cache for the index, in KiB (the default is 2 MiB): the opened receipts' indexes on random keys
#: (document, batch, consent) outgrow that at a few hundred thousand receipts, and every insert then reads pages
#: back and spills them to the log mid-transaction (an 18% cheaper open of 500,000 receipts with 64 MiB).
CACHE_KIB = 65_536
#: Events :meth:`RegulatorReader.events` reads per statement (each statement's rows are read whole).
EVENTS_PAGE = 10_000
#: Seconds a replica starting beside others waits for their set-up of a shared index (or their sync, when the
#: index's derived rows are built again after an upgrade) before it gives up with ``StoreLocked``.
SET_UP_WAIT = 600.0

#: The events the derived rows come from (:mod:`crossverify.regulator.facts`).
FACT_EVENTS = frozenset({"BatchAnchored", "SigningKeyCompromised", "DocumentRevoked", "BatchRevoked", "ReceiptsSealed",
                         "IssuerAdminReplaced"})

GOVERNANCE = (
    "IssuerAdmitted", "IssuerSuspended", "IssuerReinstated", "IssuerAdminReplaced", "DocTypePermissionChanged",
    "MemberAdmitted", "MemberSuspended", "MemberReinstated", "SigningKeyAdded", "SigningKeyRetired",
    "SigningKeyCompromised", "SignedRequestsCancelled", "OperatorAdded", "OperatorRemoved", "OperatorReplaced",
    "ThresholdChanged", "RecoveryScheduled", "RecoveryVetoed", "PredecessorRecorded", "MetadataDigestSet",
)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync read: blocks ``from_block`` to ``to_block``, holding ``events`` registry and consortium
    events.

    ``rewound`` events were dropped because their blocks left the chain (a reorganisation or a reset), found first
    or while the sync read on.
    ``followed``: the registry the index moved to (a recorded succession); ``events`` then counts the
    predecessor's last events too, read up to the head first when it is on the same chain.
    """

    from_block: int
    to_block: int
    events: int
    rewound: int = 0
    followed: Registration | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """A registry whose events the index holds: ``era`` 0 is the first it read, each successor the next.
    ``first_block`` is the index's number of its first block (its block ``b`` is held as ``b + block_offset``);
    ``recorded_at``: when its successor's consortium recorded it as predecessor (0: the registry read now);
    ``followed_at``: when the index moved to it (0 for the first)."""

    era: int
    chain_id: int
    genesis: str
    registry: str
    first_block: int
    block_offset: int
    recorded_at: int
    followed_at: int

    def as_json(self) -> dict[str, Any]:
        return {"era": self.era, "chainId": self.chain_id, "genesis": self.genesis, "registry": self.registry,
                "firstBlock": self.first_block, "blockOffset": self.block_offset,
                "recordedAsPredecessorAt": self.recorded_at or None, "followedAt": self.followed_at or None}


@dataclass(frozen=True, slots=True)
class Freshness:
    """How far the index is behind the chain: it holds every event up to ``indexed_block`` (``None``: never
    synced), last synced at ``synced_at`` (unix time); the chain's head was ``head_block`` when asked (``None``:
    the node did not answer). ``confirmations`` blocks below the head are all a sync reads."""

    indexed_block: int | None
    indexed_time: int | None
    synced_at: int | None
    head_block: int | None
    confirmations: int

    @property
    def behind(self) -> int | None:
        """Blocks the chain has that the index does not (confirmations aside), when both are known."""
        if self.head_block is None or self.indexed_block is None:
            return None
        return max(0, self.head_block - self.confirmations - self.indexed_block)

    def as_json(self) -> dict[str, Any]:
        return {"indexedBlock": self.indexed_block, "indexedTime": self.indexed_time, "syncedAt": self.synced_at,
                "headBlock": self.head_block, "behind": self.behind, "confirmations": self.confirmations}

    def describe(self) -> str:
        """One line for a person: how current the answer is."""
        if self.indexed_block is None:
            return "the index was never synced"
        behind = self.behind
        lag = ("the node did not answer, so how far behind is unknown" if behind is None else
               "up to date with the chain" if behind == 0 else
               f"{behind:,} block{'s' if behind > 1 else ''} behind the chain")
        return f"index at block {self.indexed_block:,}, {lag}"


class RegulatorReader:
    """Reads the events of a registry, its consortium (and its circulation contract, if given) into an index at
    ``index_path``, with the rows supervision reads derived from them. It holds no key.

    Each ``eth_getLogs`` query spans at most ``chunk`` blocks, and as many as should hold about ``max_events``
    events: the span starts where the last sync left it (one block for a new index), doubles while a chunk holds
    under a quarter of ``max_events`` and shrinks in proportion when one held more (a log counts as one event
    per ``DATA_PER_EVENT`` hex characters of data, so large logs weigh their size). A chunk that came back with
    over twice ``max_events`` is dropped and read again shorter, so no chunk's rows and transaction hold more
    than that, whatever the event density (one block is the floor).
    """

    def __init__(self, registry: Registry, index_path: Location, *, chunk: int = 2000, from_block: int = 0,
                 confirmations: int = 0, burst_per_hour: int = 1000, max_events: int = 10_000,
                 circulation: CirculationContract | None = None) -> None:
        self.registry = registry
        self.consortium = ConsortiumContract.at(registry.w3, registry.consortium_address(), registry.tx_params)
        self.circulation = circulation
        self.contracts: list[Deployed] = [registry, self.consortium, *([circulation] if circulation else [])]
        #: The binding left behind and when the successor recorded it, while a succession waits for the next sync.
        self._succession: tuple[dict[str, str], int] | None = None
        self.chunk = chunk
        self.max_events = max_events
        self.from_block = from_block
        self.confirmations = confirmations
        self.burst_per_hour = burst_per_hour
        self.decoder = LogDecoder((c.address, c.contract.abi) for c in self.contracts)
        self._source = LogSource(registry.w3)
        self.store = Store(index_path, migrations(self.decoder), kind="audit index")
        self._db = self.store.db
        try:
            if self.store.engine == "sqlite":
                self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if 0 < self.store.opened_at_version < len(MIGRATIONS) + 1 and self.store.engine == "sqlite":
                with store_errors(self.store.where):
                    self._db.execute("VACUUM")  # give back the pages of the JSON rows the migration replaced
            identity = registry.identity()
            with self.store.exclusively("audit index set-up", wait=SET_UP_WAIT):  # replicas starting together
                try:
                    self.store.bind(identity)
                except StoreChainMismatch as refused:
                    self._succession = self._recorded_succession(identity, refused)
                with self.store.transaction() as db:
                    self._kinds = kinds(db, self.decoder)
                    if db.execute("SELECT 1 FROM registries").fetchone() is None:
                        held = self._bound(db)
                        db.execute("INSERT INTO registries VALUES (0, ?, ?, ?, 0, 0, 0, 0)",
                                   (int(held["chain_id"]), held.get("genesis", ""), held["registry"]))
                self._codecs = {self._kinds[topic]: codec for topic, codec in self.decoder.by_topic.items()}
                self._facts = {self._kinds[topic] for topic, codec in self.decoder.by_topic.items()
                               if codec.name in FACT_EVENTS}
                if self._meta("facts") != facts.VERSION:
                    # not beside another replica's sync, which adds rows of its own
                    with self.store.exclusively("audit sync", wait=SET_UP_WAIT):
                        if self._meta("facts") != facts.VERSION:
                            self._derive_again()
        except BaseException:
            self.store.close()
            raise
        self._names = {number: name for number, name in self._db.execute("SELECT id, name FROM event_kinds")}

    def _recorded_succession(self, identity: dict[str, str], refused: StoreChainMismatch) -> tuple[dict[str, str], int]:
        """The binding the index holds and when the configured registry recorded it as its predecessor; raises
        ``refused`` unless the configured registry records exactly that (chain id, registry) as its predecessor."""
        with self.store.transaction() as db:
            held = self._bound(db)
        try:
            recorded = {(chain_id, address.lower()): at for chain_id, address, at in self.registry.predecessors()}
        except TransactionFailed:
            raise refused from None  # a registry without successions
        at = recorded.get((int(held["chain_id"]), held["registry"].lower()))
        if at is None:
            raise StoreChainMismatch(f"{refused} (registry {identity['registry']} on chain {identity['chain_id']} does "
                                     f"not record {held['registry']} on chain {held['chain_id']} as its predecessor)")
        return held, at

    @staticmethod
    def _bound(db: Any) -> dict[str, str]:
        return {k: v for k, v in db.execute("SELECT key, value FROM store_binding").fetchall()
                if not k.startswith("predecessor.")}

    def registries(self) -> list[Registration]:
        """Every registry whose events the index holds, in the order it followed them (the last: read now)."""
        return [Registration(*row) for row in self._db.execute("SELECT era, chain_id, genesis, registry, first_block, "
                                                               "block_offset, recorded_at, followed_at FROM "
                                                               "registries ORDER BY era")]

    @property
    def pending_succession(self) -> tuple[str, int] | None:
        """The predecessor's address and when its succession was recorded, if the next sync follows it."""
        return None if self._succession is None else (self._succession[0]["registry"], self._succession[1])

    def _era(self) -> tuple[int, int]:
        """The registry read now: its era and block offset (the index's number of a block is its number plus it)."""
        era, offset = self._db.execute("SELECT era, block_offset FROM registries ORDER BY era DESC LIMIT 1").fetchone()
        return int(era), int(offset)

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _derive_again(self) -> None:
        """Derive every row from the indexed events (an index made before the rows existed, or by an earlier
        derivation), in one transaction; the circulation trail is opened again too."""
        with self.store.transaction() as db:
            facts.clear(db)
            rollup.clear(db, rollup.KEYLESS)
            rows = db.execute("SELECT block_number, log_index, block_time, kind, args FROM events "
                              "ORDER BY block_number, log_index")
            while chunk := rows.fetchmany(10_000):
                facts.add(db, self._decoded(chunk), self.burst_per_hour)
            rollup.refresh(db, rollup.KEYLESS, 0)
            db.execute("DELETE FROM meta WHERE key = 'circulation_keys'")
            db.execute(SET_META, ("facts", facts.VERSION))

    def _decoded(self, rows: Iterable[tuple[Any, ...]]) -> list[IndexedEvent]:
        """The events among index ``rows`` (number, index, time, kind, packed args) that derive rows (dynamic values
        as their lengths: :class:`~crossverify.regulator.facts.IndexedEvent`)."""
        wanted, codecs = self._facts, self._codecs
        return [IndexedEvent(number, index, block_time, codecs[kind].name, codecs[kind].unpack(args, lengths=True))
                for number, index, block_time, kind, args in rows if kind in wanted]

    def close(self) -> None:
        self.store.close()

    @property
    def next_block(self) -> int:
        found = self._meta("next_block")
        return int(found) if found is not None else self.from_block

    @property
    def synced(self) -> bool:
        """Whether a sync ever completed a chunk (or found the chain empty)."""
        return self._meta("next_block") is not None

    def require_synced(self) -> None:
        """Refuse to answer from an index that was never synced (an empty answer would look like a quiet chain)."""
        if not self.synced:
            raise IndexNotSynced(f"the regulator's index {self.store.where} was never synced: run crossverify "
                                 "regulator sync first (or give the command --sync)")

    def freshness(self) -> Freshness:
        """How far the index is behind the chain (the node is asked for its head; ``None`` if it does not
        answer)."""
        try:
            with node_errors():
                head: int | None = self.registry.w3.eth.block_number
        except CrossverifyError:
            head = None
        synced_at, indexed_time = self._meta("synced_at"), self._meta("indexed_time")
        return Freshness(self.next_block - 1 - self._era()[1] if self.synced else None,
                         int(indexed_time) if indexed_time else None, int(synced_at) if synced_at else None, head,
                         self.confirmations)

    @property
    def span(self) -> int:
        """The block span the next query starts with."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'span'").fetchone()
        return min(int(row[0]), self.chunk) if row else 1

    def syncing(self) -> AbstractContextManager[None]:
        """Hold the index's sync: one process syncs it at a time, across the replicas sharing it (a holder that
        dies frees it); :class:`~crossverify.errors.StoreLocked` names the process syncing now."""
        return self.store.exclusively("audit sync")

    def sync(self, on_chunk: Callable[[int, int], None] | None = None) -> SyncReport:
        """Index every event from the cursor to ``confirmations`` blocks below the head; each chunk commits with
        the cursor and its blocks' hashes. A fork is found first and the index rewound to where it began; each chunk
        is read only beside the newest block indexed as the chain still has it, else that fork is rewound too."""
        with self.syncing():
            return self.index_new(on_chunk)

    def index_new(self, on_chunk: Callable[[int, int], None] | None = None) -> SyncReport:
        """:meth:`sync`, for a caller that holds :meth:`syncing`."""
        with node_errors():
            followed, caught_up = self._follow()
            rewound = self._rewind_to_fork()
            report = self._read(self.decoder, on_chunk)
        return SyncReport(report.from_block, report.to_block, report.events + caught_up, rewound + report.rewound,
                          followed)

    def _follow(self) -> tuple[Registration | None, int]:
        """Move the index to the configured registry, which records the one it was reading as its predecessor: on the
        same chain the predecessor is read to the head first; the successor's blocks are numbered after the last
        one held. One transaction, with the store's new binding. Returns where it moved and how many of the
        predecessor's events it read first."""
        if self._succession is None:
            return None, 0
        held, recorded_at = self._succession
        identity = self.registry.identity()
        with self.store.transaction() as db:
            bound = self._bound(db)
            if all(bound.get(key, "").lower() == value.lower() for key, value in identity.items()):
                # another replica sharing the index followed the succession since this one started
                self._succession = None
                return None, 0
        caught_up = 0
        if held.get("genesis") == identity["genesis"]:
            old = Registry.at(self.registry.w3, held["registry"])
            consortium = ConsortiumContract.at(old.w3, old.consortium_address())
            contracts: list[Deployed] = [old, consortium]
            if self.circulation is not None:
                contracts.append(CirculationContract.at(old.w3, consortium.circulation_address()))
            self._rewind_to_fork()
            caught_up = self._read(LogDecoder((c.address, c.contract.abi) for c in contracts)).events
        era, _ = self._era()
        first = self.next_block
        followed = Registration(era + 1, int(identity["chain_id"]), identity["genesis"], identity["registry"], first,
                                first - self.from_block, 0, int(time.time()))
        with self.store.transaction() as db:
            db.execute("UPDATE registries SET recorded_at = ? WHERE era = ?", (recorded_at, era))
            db.execute("INSERT INTO registries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
                followed.era, followed.chain_id, followed.genesis, followed.registry, followed.first_block,
                followed.block_offset, 0, followed.followed_at))
            self.store.rebind(identity, db)
        self._succession = None
        log.warning("the index follows a registry succession", extra={
            "from": held["registry"], "to": identity["registry"], "recorded_at": recorded_at,
            "first_block": first, "caught_up": caught_up})
        return followed, caught_up

    def _read(self, decoder: LogDecoder, on_chunk: Callable[[int, int], None] | None = None) -> SyncReport:
        """Read ``decoder``'s contracts' logs from the cursor to ``confirmations`` below the head (block numbers of
        the report: the chain's)."""
        w3 = self.registry.w3
        addresses = decoder.addresses
        _, offset = self._era()
        start, total, rewound, span, cap = self.next_block - offset, 0, 0, self.span, self.chunk
        latest = w3.eth.block_number - self.confirmations
        low = start
        if low > latest:
            self._synced(low - 1 + offset, None)
        while low <= latest:
            high = min(low + span - 1, latest)
            try:
                logs = self._source.logs(addresses, low, high)
            except TransactionFailed:
                if span == 1:
                    raise
                cap = span = max(1, span // 2)  # the node refused the range or the result's size
                continue
            load = max(len(logs), sum(len(x.data) for x in logs) // DATA_PER_EVENT)
            if load > 2 * self.max_events and span > 1:
                span = _next_span(span, load, self.max_events, cap)
                continue  # denser than the span was sized for: drop it and read a shorter one
            joined = self._newest_block()  # the chunk must follow on from it: each block commits to its parent
            found = self._source.blocks({x.block_number for x in logs} | {high} | ({joined[0]} if joined else set()))
            if found[high] is None:
                latest = low - 1  # the chain became shorter while we read: the next sync rewinds
                break
            if joined is not None and (found[joined[0]] or (b"",))[0] != joined[1]:
                rewound += self._rewind_to_fork()  # blocks indexed by this sync left the chain while it read on
                low = self.next_block - offset
                start = min(start, low)
                continue
            blocks = {n: b for n, b in found.items() if b is not None}
            if any(x.block_number not in blocks or blocks[x.block_number][0] != bytes.fromhex(x.block_hash[2:])
                   for x in logs):
                continue  # the chain reorganised while we read: read the chunk again
            span = _next_span(span, load, self.max_events, cap)
            rows = self.add_chunk(logs, blocks, high, span, offset, decoder)
            total += len(rows)
            log.info("events indexed", extra={"from_block": low, "to_block": high, "events": len(rows)})
            if on_chunk:
                on_chunk(high + 1 - start, latest + 1 - start)
            low = high + 1
        return SyncReport(start, max(latest, start - 1), total, rewound)

    def add_chunk(self, logs: list[RawLog], blocks: dict[int, tuple[bytes, int]], last: int,
                  span: int | None = None, offset: int = 0, decoder: LogDecoder | None = None) -> list[tuple[Any, ...]]:
        """Index ``logs`` (every log of the blocks up to ``last``; ``blocks``: number -> (hash, time) of each block
        holding one, and of ``last``) with the rows derived from them and the cursor, in one transaction; returns
        the index rows. The index numbers a block ``offset`` after the chain does (the registry's era)."""
        rows = self._rows(logs, blocks, offset, decoder or self.decoder)
        with self.store.transaction() as db:
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT INTO blocks (number, hash) VALUES (?, ?) ON CONFLICT (number) DO UPDATE "
                           "SET hash = excluded.hash", [(n + offset, b[0]) for n, b in blocks.items()])
            touched = facts.add(db, self._decoded(r[:4] + r[5:] for r in rows), self.burst_per_hour)
            if touched is not None:
                rollup.refresh(db, rollup.KEYLESS, touched)
            if span is not None:
                db.execute(SET_META, ("span", str(span)))
            self._synced(last + offset, blocks[last][1], db)
        return rows

    def _rows(self, logs: list[RawLog], blocks: dict[int, tuple[bytes, int]], offset: int,
              decoder: LogDecoder) -> list[tuple[Any, ...]]:
        """Index rows for one chunk's logs, packed; every log must decode strictly."""
        rows = []
        previous: tuple[int, str] | None = None
        codec_of, numbers = decoder.codec, self._kinds
        for x in sorted(logs, key=lambda x: (x.block_number, x.log_index)):
            codec = codec_of(x)
            here = (x.block_number, x.transaction_hash)
            rows.append((x.block_number + offset, x.log_index, blocks[x.block_number][1], numbers[codec.topic],
                         None if here == previous else bytes.fromhex(x.transaction_hash[2:]),
                         codec.pack(x.topics, x.data)))
            previous = here
        return rows

    def _rewind_to_fork(self) -> int:
        """Drop what was indexed from blocks the chain no longer has; returns how many events were dropped.

        Stored block hashes that the chain still has form a prefix (each block commits to its parent), so the
        last one still held is found by binary search over the block numbers, one indexed look-up a step (the
        stored blocks are never all read: a year holds millions); when nothing changed, only the newest is read
        and looked up.
        """
        era, offset = self._era()
        first = self._db.execute("SELECT first_block FROM registries WHERE era = ?", (era,)).fetchone()[0]

        def stored_at_or_below(number: int) -> Any:
            return self._db.execute("SELECT number, hash FROM blocks WHERE number >= ? AND number <= ? "
                                    "ORDER BY number DESC LIMIT 1", (first, number)).fetchone()

        asked: dict[int, bool] = {}  # each stored block asked about once, however many numbers lead to it

        def held(number: int) -> bool:  # whether the newest stored block up to ``number`` is held (none: vacuously)
            found = stored_at_or_below(number)
            if found is None:
                return True
            if found[0] not in asked:
                asked[found[0]] = self._holds(*_era_block(found, offset))
            return asked[found[0]]

        newest = self._db.execute("SELECT MAX(number) FROM blocks WHERE number >= ?", (first,)).fetchone()[0]
        if newest is None or held(newest):
            return 0
        low, high = first - 1, newest  # held(low), not held(high): find the greatest number where it holds
        while low < high:
            middle = (low + high + 1) // 2
            if held(middle):
                low = middle
            else:
                high = middle - 1
        kept = stored_at_or_below(low)
        keep = kept[0] if kept is not None else self.from_block - 1 + offset
        log.warning("fork found: rewinding the index", extra={"last_block_kept": keep})
        with self.store.transaction() as db:
            dropped = db.execute("DELETE FROM events WHERE block_number > ?", (keep,)).rowcount
            db.execute("DELETE FROM blocks WHERE number > ?", (keep,))
            db.execute(SET_META, ("next_block", str(keep + 1)))
            touched = facts.rewind(db, keep, self.burst_per_hour)
            if touched is not None:
                rollup.refresh(db, rollup.KEYLESS, touched)
        return int(dropped)

    def _newest_block(self) -> tuple[int, bytes] | None:
        """The newest block the index stored of the registry read now (number, hash; numbered as its chain does)."""
        era, offset = self._era()
        row = self._db.execute("SELECT number, hash FROM blocks WHERE number >= (SELECT first_block FROM registries "
                               "WHERE era = ?) ORDER BY number DESC LIMIT 1", (era,)).fetchone()
        return None if row is None else _era_block(row, offset)

    def _synced(self, block: int, block_time: int | None, db: Any = None) -> None:
        """Note that the index holds every event up to ``block`` (of ``block_time``), as of now."""
        values = [("next_block", str(block + 1)), ("synced_at", str(int(time.time())))]
        if block_time is not None:
            values.append(("indexed_time", str(block_time)))
        if db is not None:
            db.executemany(SET_META, values)
            return
        with self.store.transaction() as tx:
            tx.executemany(SET_META, values)

    def _holds(self, number: int, block_hash: bytes) -> bool:
        """Whether the chain's block ``number`` is still the one with ``block_hash``."""
        found = self._source.blocks([number])[number]
        return found is not None and found[0] == bytes(block_hash)

    def events(self, *names: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """Indexed events in chain order as (block time, name, args); all names if none given. Read
        ``EVENTS_PAGE`` at a time (a statement's rows are read whole), so that memory stays bounded."""
        position = (-1, -1)
        while True:
            page = list(self.events_after(*position, *names, limit=EVENTS_PAGE))
            for event in page:
                yield event.block_time, event.name, event.args
            if len(page) < EVENTS_PAGE:
                return
            position = page[-1].block_number, page[-1].log_index

    def events_after(self, block_number: int, log_index: int, *names: str, limit: int) -> Iterator[IndexedEvent]:
        """The first ``limit`` indexed events named ``names`` (all names if none given) after position
        (``block_number``, ``log_index``), in chain order (a statement's rows are read whole: the limit is the
        query's)."""
        kinds = tuple(n for n, name in self._names.items() if name in names)
        if names and not kinds:  # none of them in this index
            return
        named = f" AND kind IN ({','.join('?' * len(kinds))})" if kinds else ""
        query = ("SELECT block_number, log_index, block_time, kind, args FROM events "
                 f"WHERE (block_number, log_index) > (?, ?){named} ORDER BY block_number, log_index LIMIT ?")
        codecs, event_names = self._codecs, self._names
        for number, index, block_time, kind, args in self._db.execute(query, (block_number, log_index, *kinds,
                                                                              limit)):
            codec = codecs.get(kind)
            if codec is None:
                raise LogNotDecodable(f"the index holds {event_names.get(kind, kind)} events of a contract this "
                                      "reader was not given")
            yield IndexedEvent(number, index, block_time, codec.name, codec.unpack(args))


def _era_block(row: Any, offset: int) -> tuple[int, bytes]:
    """A stored block (number, hash) as the chain of its era numbers it."""
    return row[0] - offset, bytes(row[1])


def _next_span(span: int, count: int, max_events: int, cap: int) -> int:
    """The next query's block span, after ``span`` blocks held ``count`` events."""
    if count > max_events:
        return max(1, span * max_events // (2 * count))
    if count < max_events // 4:
        return min(cap, 2 * span)
    return span
