"""The regulator's view: every event of the registry and of its consortium in a local SQLite index, and reports
built from it.

``sync`` reads logs in raw ``eth_getLogs`` queries whose block span adapts to the event density, and commits
each chunk together with the cursor, so a re-run reads only new blocks and a crash mid-sync leaves neither a gap
nor a duplicate. Arguments are stored packed (about 150 bytes per receipt). Reports need no chain.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from ..chain.circulation import CirculationContract
from ..chain.connection import node_errors
from ..chain.consortium import ConsortiumContract
from ..chain.logs import LogDecoder, LogSource, RawLog
from ..chain.records import RevocationReason, Role
from ..chain.registry import Deployed, Registry
from ..errors import LogNotDecodable, TransactionFailed
from ..format.codes import code_name
from ..format.encoding import from_hex, utc_time
from ..store import Location, Store, store_errors
from .schema import MIGRATIONS, SET_META, kinds, migrations

log = logging.getLogger(__name__)

#: Hex characters of log data that count as one event when sizing a chunk (a log of sealed receipts is large).
DATA_PER_EVENT = 256

GOVERNANCE = (
    "IssuerAdmitted", "IssuerSuspended", "IssuerReinstated", "IssuerAdminReplaced", "DocTypePermissionChanged",
    "MemberAdmitted", "MemberSuspended", "MemberReinstated", "SigningKeyAdded", "SigningKeyRetired",
    "SigningKeyCompromised", "SignedRequestsCancelled", "OperatorAdded", "OperatorRemoved", "OperatorReplaced",
    "ThresholdChanged", "PredecessorRecorded", "RecoveryScheduled", "RecoveryVetoed",
)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync read: blocks ``from_block`` to ``to_block``, holding ``events`` registry and consortium
    events.

    ``rewound`` events were dropped first because their blocks left the chain (a reorganisation or a reset).
    """

    from_block: int
    to_block: int
    events: int
    rewound: int = 0


@dataclass(frozen=True, slots=True)
class IndexedEvent:
    """An event as indexed: where it is in the chain, its block's time, its name and arguments (bytes as hex)."""

    block_number: int
    log_index: int
    block_time: int
    name: str
    args: dict[str, Any]


@dataclass
class AuditReport:
    """Everything a regulator asked for, computed from the index."""

    generated_at: int
    registry: str
    chain_id: int
    last_block: int
    totals: dict[str, int]
    by_issuer: dict[str, dict[str, int]]
    by_verifier: dict[str, dict[str, int]]
    by_doc_type: dict[str, dict[str, int]]
    by_day: dict[str, dict[str, int]]
    revocation_reasons: dict[str, int]
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    governance: list[dict[str, Any]] = field(default_factory=list)
    circulation: dict[str, Any] | None = None  # the opened trail (regulator.circulation); None: read without keys

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


class RegulatorReader:
    """Reads the events of a registry, its consortium (and its circulation contract, if given) into an index at
    ``index_path`` and reports on them. It holds no key.

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
            if 0 < self.store.opened_at_version < len(MIGRATIONS) + 1 and self.store.engine == "sqlite":
                with store_errors(self.store.where):
                    self._db.execute("VACUUM")  # give back the pages of the JSON rows the migration replaced
            self.store.bind(registry.identity())
            with self.store.transaction() as db:
                self._kinds = kinds(db, self.decoder)
        except BaseException:
            self.store.close()
            raise
        self._names = {number: name for number, name in self._db.execute("SELECT id, name FROM event_kinds")}
        self._codecs = {self._kinds[topic]: codec for topic, codec in self.decoder.by_topic.items()}

    def close(self) -> None:
        self.store.close()

    @property
    def next_block(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'next_block'").fetchone()
        return int(row[0]) if row else self.from_block

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
        the cursor and its blocks' hashes. A fork is found first and the index rewound to where it began."""
        with self.syncing():
            return self.index_new(on_chunk)

    def index_new(self, on_chunk: Callable[[int, int], None] | None = None) -> SyncReport:
        """:meth:`sync`, for a caller that holds :meth:`syncing`."""
        w3 = self.registry.w3
        addresses = self.decoder.addresses
        with node_errors():
            rewound = self._rewind_to_fork()
            start, total, span, cap = self.next_block, 0, self.span, self.chunk
            latest = w3.eth.block_number - self.confirmations
            low = start
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
                found = self._source.blocks({x.block_number for x in logs} | {high})
                if found[high] is None:
                    latest = low - 1  # the chain became shorter while we read: the next sync rewinds
                    break
                blocks = {n: b for n, b in found.items() if b is not None}
                if any(x.block_number not in blocks or blocks[x.block_number][0] != bytes.fromhex(x.block_hash[2:])
                       for x in logs):
                    continue  # the chain reorganised while we read: read the chunk again
                rows = self._rows(logs, blocks)
                span = _next_span(span, load, self.max_events, cap)
                with self.store.transaction() as db:
                    db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
                    db.executemany("INSERT INTO blocks VALUES (?, ?) ON CONFLICT (number) DO UPDATE SET "
                                   "hash = excluded.hash", [(n, b[0]) for n, b in blocks.items()])
                    db.executemany(SET_META,
                                   [("next_block", str(high + 1)), ("span", str(span))])
                total += len(rows)
                log.info("events indexed", extra={"from_block": low, "to_block": high, "events": len(rows)})
                if on_chunk:
                    on_chunk(high + 1 - start, latest + 1 - start)
                low = high + 1
        return SyncReport(start, max(latest, start - 1), total, rewound)

    def _rows(self, logs: list[RawLog], blocks: dict[int, tuple[bytes, int]]) -> list[tuple[Any, ...]]:
        """Index rows for one chunk's logs, packed; every log must decode strictly."""
        rows = []
        previous: tuple[int, str] | None = None
        codec_of, numbers = self.decoder.codec, self._kinds
        for x in sorted(logs, key=lambda x: (x.block_number, x.log_index)):
            codec = codec_of(x)
            here = (x.block_number, x.transaction_hash)
            rows.append((x.block_number, x.log_index, blocks[x.block_number][1], numbers[codec.topic],
                         None if here == previous else bytes.fromhex(x.transaction_hash[2:]),
                         codec.pack(x.topics, x.data)))
            previous = here
        return rows

    def _rewind_to_fork(self) -> int:
        """Drop what was indexed from blocks the chain no longer has; returns how many events were dropped.

        Stored block hashes that the chain still has form a prefix (each block commits to its parent), so the
        last one still held is found by binary search: one look-up when nothing changed.
        """
        stored = self._db.execute("SELECT number, hash FROM blocks ORDER BY number").fetchall()
        if not stored or self._holds(*stored[-1]):
            return 0
        low, high = 0, len(stored) - 1  # stored[high] is gone; find the last index still held
        while low < high:
            middle = (low + high) // 2
            if self._holds(*stored[middle]):
                low = middle + 1
            else:
                high = middle
        keep = stored[low - 1][0] if low > 0 else self.from_block - 1
        log.warning("fork found: rewinding the index", extra={"last_block_kept": keep})
        with self.store.transaction() as db:
            dropped = db.execute("DELETE FROM events WHERE block_number > ?", (keep,)).rowcount
            db.execute("DELETE FROM blocks WHERE number > ?", (keep,))
            db.execute(SET_META, ("next_block", str(keep + 1)))
        return int(dropped)

    def _holds(self, number: int, block_hash: bytes) -> bool:
        """Whether the chain's block ``number`` is still the one with ``block_hash``."""
        found = self._source.blocks([number])[number]
        return found is not None and found[0] == bytes(block_hash)

    def events(self, *names: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """Indexed events in chain order as (block time, name, args); all names if none given."""
        query, kinds = "SELECT block_time, kind, args FROM events", ()
        if names:
            kinds = tuple(n for n, name in self._names.items() if name in names)
            if not kinds:
                return
            query += f" WHERE kind IN ({','.join('?' * len(kinds))})"
        codecs, event_names = self._codecs, self._names
        for block_time, kind, args in self._db.execute(query + " ORDER BY block_number, log_index", kinds):
            codec = codecs.get(kind)
            if codec is None:
                raise LogNotDecodable(f"the index holds {event_names.get(kind, kind)} events of a contract this "
                                      "reader was not given")
            yield block_time, codec.name, codec.unpack(args)

    def events_after(self, block_number: int, log_index: int, *names: str) -> Iterator[IndexedEvent]:
        """Indexed events named ``names`` after position (``block_number``, ``log_index``), in chain order."""
        kinds = tuple(n for n, name in self._names.items() if name in names)
        if not kinds:
            return
        query = ("SELECT block_number, log_index, block_time, kind, args FROM events "
                 f"WHERE (block_number, log_index) > (?, ?) AND kind IN ({','.join('?' * len(kinds))}) "
                 "ORDER BY block_number, log_index")
        for number, index, block_time, kind, args in self._db.execute(query, (block_number, log_index, *kinds)):
            codec = self._codecs[kind]
            yield IndexedEvent(number, index, block_time, codec.name, codec.unpack(args))

    def report(self) -> AuditReport:
        """Issued, revoked and verified per issuer, verifier, document type and day; anomalies; governance."""
        anchors: dict[tuple[str, str], dict[str, Any]] = {}
        compromised: dict[str, int] = {}
        admin_revocations: list[dict[str, Any]] = []
        doc_revoked: dict[tuple[str, str], tuple[int, str, str]] = {}
        batch_revoked: dict[tuple[str, str], tuple[int, str, str]] = {}
        signed_revocations: list[dict[str, Any]] = []
        issuer: defaultdict[str, Counter[str]] = defaultdict(Counter)
        verifier: defaultdict[str, Counter[str]] = defaultdict(Counter)
        doc_type: defaultdict[str, Counter[str]] = defaultdict(Counter)
        day: defaultdict[str, Counter[str]] = defaultdict(Counter)
        reasons: Counter[str] = Counter()
        anomalies: list[dict[str, Any]] = []
        governance: list[dict[str, Any]] = []
        hourly: Counter[tuple[str, int]] = Counter()
        for t, name, a in self.events():
            d = utc_time(t)[:10]
            if name == "BatchAnchored":
                who, kind = code_name(from_hex(a["issuerId"])), code_name(from_hex(a["docType"]))
                replaced = anchors.get((who, a["batchRoot"]))
                if replaced is not None:  # its key was compromised by then: the chain holds the new record only
                    for counter in (issuer[who], doc_type[replaced["docType"]], day[replaced["day"]]):
                        counter["batches"] -= 1
                        counter["documents"] -= replaced["documents"]
                    anomalies.append(_anomaly("anchor_replaced", t, issuer=who, batchRoot=a["batchRoot"],
                                              key=replaced["key"]))
                anchors[(who, a["batchRoot"])] = {"issuer": who, "docType": kind, "notAfter": a["notAfter"], "at": t,
                                           "key": a["signingKey"], "documents": a["leafCount"], "day": d}
                for counter in (issuer[who], doc_type[kind], day[d]):
                    counter["batches"] += 1
                    counter["documents"] += a["leafCount"]
                if a["signingKey"] in compromised and t >= compromised[a["signingKey"]]:
                    anomalies.append(_anomaly("anchor_in_compromised_window", t, issuer=who, batchRoot=a["batchRoot"],
                                              key=a["signingKey"]))
            elif name == "SigningKeyCompromised":
                compromised[a["key"]] = a["compromisedFrom"]
                for (_, root), anchor in anchors.items():
                    if anchor["key"] == a["key"] and anchor["at"] >= a["compromisedFrom"]:
                        anomalies.append(_anomaly("anchor_in_compromised_window", anchor["at"], issuer=anchor["issuer"],
                                                  batchRoot=root, key=a["key"]))
                for revocation in signed_revocations:
                    if revocation["key"] == a["key"] and revocation["at"] >= a["compromisedFrom"]:
                        anomalies.append(_anomaly("revocation_by_compromised_key", **revocation))
                        _unrevoke(doc_revoked, batch_revoked, revocation)
            elif name in ("DocumentRevoked", "BatchRevoked"):
                who, why = code_name(from_hex(a["issuerId"])), RevocationReason(a["reason"]).name.lower()
                target = a["documentDigest"] if name == "DocumentRevoked" else a["batchRoot"]
                key = a["signingKey"] if int(a["signingKey"], 16) else ""
                record = (t, why, key)
                if name == "DocumentRevoked":
                    doc_revoked[(who, target)] = record
                    issuer[who]["documents_revoked"] += 1
                else:
                    batch_revoked[(who, target)] = record
                    issuer[who]["batches_revoked"] += 1
                if not key:
                    admin_revocations.append({"at": t, "issuer": who, "target": target, "key": "", "reason": why,
                                              "scope": "document" if name == "DocumentRevoked" else "batch",
                                              "admin": a["actor"]})
                if key:
                    revocation = {"at": t, "issuer": who, "target": target, "key": key, "reason": why,
                                  "scope": "document" if name == "DocumentRevoked" else "batch"}
                    signed_revocations.append(revocation)
                    if key in compromised and t >= compromised[key]:
                        anomalies.append(_anomaly("revocation_by_compromised_key", **revocation))
                        _unrevoke(doc_revoked, batch_revoked, revocation)
                reasons[why] += 1
                day[d]["revocations"] += 1
            elif name == "IssuerAdminReplaced" and a["compromisedFrom"]:
                for revocation in admin_revocations:
                    if revocation["admin"] == a["oldAdmin"] and revocation["at"] >= a["compromisedFrom"]:
                        anomalies.append(_anomaly("revocation_by_compromised_admin", **revocation))
                        _unrevoke(doc_revoked, batch_revoked, revocation)
            elif name == "ReceiptsSealed":  # sealed: who recorded how many, and when, is all a keyless index sees
                bank, count = a["verifier"], len(a["commitments"])
                verifier[bank]["receipts"] += count
                day[d]["receipts"] += count
                hourly[(bank, t // 3600)] += count
            if name in GOVERNANCE:
                governance.append({"at": t, "event": name, **{k: _show(k, v) for k, v in a.items()}})
        for (bank, hour), count in sorted(hourly.items()):
            if count > self.burst_per_hour:
                anomalies.append(_anomaly("receipt_burst", hour * 3600, verifier=bank, receipts=count))
        totals = {
            "batches": sum(c["batches"] for c in issuer.values()),
            "documents": sum(c["documents"] for c in issuer.values()),
            "revocations": sum(reasons.values()),
            "receipts": sum(c["receipts"] for c in verifier.values()),
            "anomalies": len(anomalies),
        }
        return AuditReport(
            generated_at=int(time.time()), registry=self.registry.address, chain_id=self.registry.w3.eth.chain_id,
            last_block=self.next_block - 1, totals=totals, by_issuer=_plain(issuer), by_verifier=_plain(verifier),
            by_doc_type=_plain(doc_type), by_day=dict(sorted(_plain(day).items())),
            revocation_reasons=dict(reasons), anomalies=_unique(anomalies),
            governance=governance)


def _next_span(span: int, count: int, max_events: int, cap: int) -> int:
    """The next query's block span, after ``span`` blocks held ``count`` events."""
    if count > max_events:
        return max(1, span * max_events // (2 * count))
    if count < max_events // 4:
        return min(cap, 2 * span)
    return span


def _unrevoke(doc_revoked: dict[tuple[str, str], tuple[int, str, str]],
              batch_revoked: dict[tuple[str, str], tuple[int, str, str]], revocation: dict[str, Any]) -> None:
    """Forget a revocation that does not count (its key was compromised by then), unless a later one replaced it."""
    table = doc_revoked if revocation["scope"] == "document" else batch_revoked
    place = (revocation["issuer"], revocation["target"])
    if table.get(place, (0, "", ""))[2] == revocation["key"] and table[place][0] == revocation["at"]:
        del table[place]


def _anomaly(kind: str, at: int, **details: Any) -> dict[str, Any]:
    return {"kind": kind, "at": at, **details}


def _unique(anomalies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {json.dumps(a, sort_keys=True): a for a in anomalies}
    return sorted(seen.values(), key=lambda a: (a["at"], a["kind"]))


def _plain(counters: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {k: dict(v) for k, v in sorted(counters.items())}


def _show(name: str, value: Any) -> Any:
    """An event argument as a supervisor reads it: codes as text, roles by name, times as dates."""
    if name in ("issuerId", "docType", "jurisdiction"):
        return code_name(from_hex(value))
    if name == "role":
        return Role(value).name.lower()
    if name == "compromisedFrom":
        return utc_time(value)
    return value
