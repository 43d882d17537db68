"""The supervisor's questions, answered from the index: an overview of a period, any table's rows filtered and
paged, a document's whole circulation on one timeline, and the audit report.

Every page query reads through an index: a filter column is indexed with ``(block_time, id)`` after it, so a
period is a range of the index and a page continues below the ``(block_time, id)`` of the last row shown (keyset
pagination: the thousandth page costs what the first does). Figures come from the per-day counts
(:mod:`crossverify.regulator.rollup`). The SQL is the portable subset both engines run.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

from ..chain.records import Role
from ..errors import InvalidQuery, NoRegulatorKey
from ..format.codes import code_name
from ..format.encoding import from_hex, to_hex, utc_time
from ..sealing import Consent
from .anomalies import KINDS, Severity
from .circulation import DAY, CirculationTrail
from .index import GOVERNANCE, Freshness, RegulatorReader

#: Rows a page holds at most.
MAX_PAGE = 500
CONSENTS = {c.name.lower(): int(c) for c in Consent}
SEVERITY_ORDER = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}


@dataclass(frozen=True, slots=True)
class Filters:
    """What a supervisor narrows a table to: a period (``since`` inclusive, ``until`` exclusive, unix seconds of
    the block that recorded the row), and any of issuer, bank, purpose, document type, anomaly kind, revocation
    reason, consent (``none``, ``presentation``, ``in_person``)."""

    since: int | None = None
    until: int | None = None
    issuer: str | None = None
    bank: str | None = None
    purpose: str | None = None
    doc_type: str | None = None
    kind: str | None = None
    reason: str | None = None
    consent: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """A table a supervisor pages through: its SQL table, its columns as shown, and its filter columns."""

    sql: str
    columns: tuple[tuple[str, str], ...]
    filters: dict[str, str]
    keyed: bool = False


TABLES: dict[str, Table] = {
    "receipts": Table("circulation_receipts", (
        ("recordedAt", "block_time"), ("bank", "verifier"), ("issuer", "issuer_id"), ("docType", "doc_type"),
        ("purpose", "purpose"), ("consent", "consent"), ("consentReference", "consent_reference"),
        ("documentDigest", "document_digest"), ("batchRoot", "batch_root"), ("verifiedAt", "verified_at"),
        ("commitment", "commitment"), ("block", "block_number")),
        {"bank": "verifier", "issuer": "issuer_id", "purpose": "purpose", "doc_type": "doc_type",
         "consent": "consent"}, keyed=True),
    "anchors": Table("anchors", (
        ("anchoredAt", "block_time"), ("issuer", "issuer_id"), ("docType", "doc_type"), ("documents", "documents"),
        ("batchRoot", "batch_root"), ("signingKey", "signing_key"), ("notAfter", "not_after"), ("moved", "moved"),
        ("block", "block_number")), {"issuer": "issuer_id", "doc_type": "doc_type"}),
    "revocations": Table("revocations", (
        ("revokedAt", "block_time"), ("issuer", "issuer_id"), ("scope", "scope"), ("target", "target"),
        ("reason", "reason"), ("documents", "documents"), ("counted", "counted"), ("restored", "restored"),
        ("signingKey", "signing_key"), ("block", "block_number")), {"issuer": "issuer_id", "reason": "reason"}),
    "anomalies": Table("anomalies", (
        ("raisedAt", "block_time"), ("kind", "kind"), ("happenedAt", "happened_at"), ("bank", "verifier"),
        ("issuer", "issuer_id"), ("documentDigest", "document_digest"), ("details", "details"),
        ("block", "block_number")), {"kind": "kind", "bank": "verifier", "issuer": "issuer_id"}),
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a table, newest first; ``after`` continues below its last row (``None``: the last page)."""

    rows: list[dict[str, Any]]
    after: str | None

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "after": self.after}


@dataclass
class AuditReport:
    """Everything a regulator asked for, computed from the index: figures per issuer, bank, document type and
    day, anomalies by kind (a count and the first few of each), governance, and with the regulator's keys the
    circulation trail."""

    generated_at: int
    registry: str
    chain_id: int
    freshness: dict[str, Any]
    totals: dict[str, int]
    by_issuer: dict[str, dict[str, int]]
    by_verifier: dict[str, dict[str, int]]
    by_doc_type: dict[str, dict[str, int]]
    by_day: dict[str, dict[str, int]]
    revocation_reasons: dict[str, int]
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    governance: list[dict[str, Any]] = field(default_factory=list)
    circulation: dict[str, Any] | None = None  # the opened trail; None: read without keys
    registries: list[dict[str, Any]] = field(default_factory=list)  # where the history came from (successions)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Supervision:
    """The regulator's questions over ``reader``'s index, and over ``trail`` when the regulator's keys opened the
    circulation (else the keyless figures only). ``now`` is the clock disputes age by (default: the latest
    block's time)."""

    def __init__(self, reader: RegulatorReader, trail: CirculationTrail | None = None, *,
                 now: Callable[[], int] | None = None) -> None:
        self.reader = reader
        self.trail = trail
        self._db = reader.store.db
        self._now = now

    @property
    def keyed(self) -> bool:
        return self.trail is not None

    def freshness(self) -> Freshness:
        return self.reader.freshness()

    def now(self) -> int:
        if self._now is not None:
            return self._now()
        return int(self.reader.registry.w3.eth.get_block("latest")["timestamp"])

    # -- the overview -------------------------------------------------------------------------------------------

    def overview(self, filters: Filters = Filters()) -> dict[str, Any]:
        """The figures of a period (whole days of ``filters``' period; its other filters do not apply): documents
        issued, revoked and verified, receipts by bank, purpose, issuer, document type and day, anomalies by
        kind and severity, disputes by state and age."""
        self.reader.require_synced()
        days = _days(filters)
        measure = "receipts" if self.keyed else "sealed"
        totals = {
            "batches": self._sum("batches", "", days), "issued": self._sum("issued", "", days),
            "revoked": self._sum("revoked", "", days), "sealed": self._sum("sealed", "", days),
        }
        out: dict[str, Any] = {"keyed": self.keyed, "period": _period_json(filters), "totals": totals,
                               "receiptsByBank": self._by(measure, "bank", days),
                               "receiptsByDay": self._by_day(measure, days),
                               "issuedByIssuer": self._by("issued", "issuer", days),
                               "issuedByDocType": self._by("issued", "doc_type", days),
                               "revokedByReason": self._by("revoked", "reason", days)}
        if self.keyed:
            totals |= {"receipts": self._sum("receipts", "", days), "verified": self._sum("verified", "", days),
                       "withoutConsent": self._sum("receipts", "consent", days, str(int(Consent.NONE)))}
            out |= {"receiptsByPurpose": self._by("receipts", "purpose", days),
                    "receiptsByIssuer": self._by("receipts", "issuer", days),
                    "receiptsByDocType": self._by("receipts", "doc_type", days),
                    "receiptsByConsent": [{"value": Consent(int(r["value"])).name.lower(), "amount": r["amount"]}
                                          for r in self._by("receipts", "consent", days)]}
            out["disputes"] = self._dispute_figures(filters)
        out["anomalies"] = self.anomaly_counts(filters)
        totals["anomalies"] = sum(a["count"] for a in out["anomalies"])
        out["registries"] = self.registries()
        return out

    def _sum(self, measure: str, dimension: str, days: tuple[int, int], value: str = "") -> int:
        row = self._db.execute("SELECT COALESCE(SUM(amount), 0) FROM rollup WHERE measure = ? AND dimension = ? "
                               "AND day >= ? AND day <= ? AND value = ?", (measure, dimension, *days, value)).fetchone()
        return int(row[0])

    def _by(self, measure: str, dimension: str, days: tuple[int, int]) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT value, SUM(amount) FROM rollup WHERE measure = ? AND dimension = ? AND "
                                "day >= ? AND day <= ? GROUP BY value", (measure, dimension, *days)).fetchall()
        return [{"value": v, "amount": int(n)} for v, n in sorted(rows, key=lambda r: (-r[1], r[0]))]

    def _by_day(self, measure: str, days: tuple[int, int]) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT day, amount FROM rollup WHERE measure = ? AND dimension = '' AND day >= ? "
                                "AND day <= ? ORDER BY day", (measure, *days)).fetchall()
        return [{"value": utc_time(d * DAY)[:10], "amount": int(n)} for d, n in rows]

    def issued_types(self) -> list[tuple[str, str]]:
        """Each (issuer, document type) the index saw anchored."""
        return [(str(i), str(t)) for i, t in self._db.execute(
            "SELECT DISTINCT issuer_id, doc_type FROM anchors ORDER BY issuer_id, doc_type")]

    def anomaly_counts(self, filters: Filters = Filters()) -> list[dict[str, Any]]:
        """Each anomaly kind raised in the period, with its severity, explanation and count (most severe first)."""
        since, until = _bounds(filters)
        counts = Counter({kind: int(n) for kind, n in self._db.execute(
            "SELECT kind, COUNT(*) FROM anomalies WHERE block_time >= ? AND block_time < ? GROUP BY kind",
            (since, until))})
        if self.keyed:
            late = len(self.unanswered_disputes(filters))
            if late:
                counts["dispute_unanswered"] = late
        return [{**KINDS[k].as_json(), "count": n}
                for k, n in sorted(counts.items(), key=lambda kn: (SEVERITY_ORDER[KINDS[kn[0]].severity], -kn[1]))]

    def _dispute_figures(self, filters: Filters) -> dict[str, Any]:
        disputes = self.disputes(filters)
        by_age: Counter[str] = Counter()
        for d in disputes:
            if d["state"] == "open":
                by_age["under 1 day" if d["ageDays"] < 1 else "1 to 5 days" if d["ageDays"] <= 5 else
                       "over 5 days"] += 1
        return {"count": len(disputes), "byState": dict(Counter(d["state"] for d in disputes)),
                "openByAge": dict(by_age)}

    # -- rows ---------------------------------------------------------------------------------------------------

    def page(self, table: str, filters: Filters = Filters(), after: str | None = None,
             limit: int = 50) -> Page:
        """Rows of ``table`` (receipts, anchors, revocations, anomalies; disputes: :meth:`disputes`) matching
        ``filters``, newest first, ``limit`` of them, continuing below the cursor ``after``."""
        self.reader.require_synced()
        spec = self._table(table)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidQuery(f"a page holds 1 to {MAX_PAGE} rows, not {limit}")
        rows = self._db.execute(*page_query(spec, filters, after, limit + 1)).fetchall()
        shown = self._on_chain([_row(spec, row) for row in rows[:limit]])
        last = rows[limit - 1] if len(rows) > limit else None
        return Page(shown, None if last is None else f"{last[0]}.{last[-1]}")

    def rows(self, table: str, filters: Filters = Filters()) -> Iterator[dict[str, Any]]:
        """Every row of ``table`` matching ``filters``, newest first (a page at a time: for an export)."""
        after: str | None = None
        while True:
            found = self.page(table, filters, after, MAX_PAGE)
            yield from found.rows
            if found.after is None:
                return
            after = found.after

    def columns(self, table: str) -> list[str]:
        """The names of ``table``'s rows as :meth:`page` shows them, in order: an export's header, whether or not
        a row matches."""
        spec = self._table(table)
        names = [name for name, _ in spec.columns if name != "consentReference"] + list(_DERIVED.get(spec.sql, ()))
        return names + (["registry"] if len(self.reader.registries()) > 1 else [])

    def _table(self, table: str) -> Table:
        spec = TABLES.get(table)
        if spec is None:
            raise InvalidQuery(f"no table {table!r}; tables are {', '.join(TABLES)} (and disputes)")
        if spec.keyed and not self.keyed:
            raise NoRegulatorKey(f"{table} are opened with the regulator's keys, which this index was not given")
        return spec

    def disputes(self, filters: Filters = Filters()) -> list[dict[str, Any]]:
        """Every dispute opened in the period (of ``filters``' bank and issuer), newest first, with its answers,
        state and age."""
        if self.trail is None:
            raise NoRegulatorKey("disputes are opened with the regulator's keys, which this index was not given")
        since, until = _bounds(filters)
        return [d for d in reversed(self.trail.disputes(now=self.now()))
                if since <= d["openedAt"] < until and filters.bank in (None, d["verifier"])
                and filters.issuer in (None, d.get("issuer"))]

    def unanswered_disputes(self, filters: Filters = Filters()) -> list[dict[str, Any]]:
        """Open disputes older than the time an issuer has to answer."""
        assert self.trail is not None
        limit = self.trail.dispute_answer_within / DAY
        return [d for d in self.disputes(filters) if d["state"] == "open" and d["ageDays"] > limit]

    # -- one document -------------------------------------------------------------------------------------------

    def timeline(self, document_digest: bytes) -> dict[str, Any]:
        """A document's whole circulation on one timeline: its anchoring, every bank that verified it (when, for
        what, how the resident consented), its revocation, disputes and answers, and its anomalies."""
        self.reader.require_synced()
        if self.trail is None:
            raise NoRegulatorKey("a document's circulation is opened with the regulator's keys, which this index "
                                 "was not given")
        trail = self.trail.circulation(document_digest, now=self.now())
        events: list[dict[str, Any]] = []
        roots = {bytes(r[0]) for r in self._db.execute(
            "SELECT DISTINCT batch_root FROM circulation_receipts WHERE document_digest = ?", (document_digest,))}
        roots |= {from_hex(d["batchRoot"]) for d in trail.disputes}
        roots.discard(bytes(32))
        # anchors and revocations are each issuer's own: another issuer's of the same root or digest are not those of
        # the issuer the receipts and disputes name (when none do, every issuer's are shown, each naming its issuer)
        issuers = sorted({r.issuer_id for r in trail.receipts} | {d["issuer"] for d in trail.disputes})
        of_issuers = f" AND issuer_id IN ({','.join('?' * len(issuers))})" if issuers else ""
        document: dict[str, Any] = {}
        for root in sorted(roots):
            for t, issuer, doc_type, documents, not_after, block, moved in self._db.execute(
                    "SELECT block_time, issuer_id, doc_type, documents, not_after, block_number, moved FROM anchors "
                    f"WHERE batch_root = ?{of_issuers}", (root, *issuers)):
                document = {"issuer": issuer, "docType": doc_type, "batchRoot": to_hex(root), "notAfter": not_after}
                events.append({"event": "anchored", "at": t, "issuer": issuer, "docType": doc_type,
                               "batchRoot": to_hex(root), "documents": documents, "notAfter": not_after,
                               "block": block, "moved": bool(moved)})
        for r in trail.receipts:
            events.append({"event": "verified", "at": r.recorded_at, **r.as_json()})
            document = document or {"issuer": r.issuer_id, "docType": r.doc_type}
        targets = [document_digest, *roots]
        for t, issuer, scope, reason, counted, block, restored in self._db.execute(
                "SELECT block_time, issuer_id, scope, reason, counted, block_number, restored FROM revocations WHERE "
                f"target IN ({','.join('?' * len(targets))}){of_issuers}", (*targets, *issuers)):
            events.append({"event": "revoked", "at": t, "issuer": issuer, "scope": scope, "reason": reason,
                           "counted": bool(counted), "block": block, "restored": bool(restored)})
        for d in trail.disputes:
            events.append({"event": "disputed", "at": d["openedAt"], **{k: v for k, v in d.items() if k != "answers"}})
            events += [{"event": "answered", "at": a["at"], "disputeId": d["disputeId"], **a} for a in d["answers"]]
        anomalies = [_row(TABLES["anomalies"], row) for row in self._db.execute(
            f"SELECT {', '.join(c for _, c in TABLES['anomalies'].columns)}, id FROM anomalies "
            "WHERE document_digest = ? ORDER BY block_time, id", (document_digest,))]
        order = {"anchored": 0, "verified": 1, "revoked": 2, "disputed": 3, "answered": 4}
        events.sort(key=lambda e: (e["at"], order[e["event"]]))
        return {"documentDigest": to_hex(document_digest), "document": document, "events": self._on_chain(events),
                "anomalies": self._on_chain(anomalies)}

    def _on_chain(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows whose ``block`` is the index's number, with the chain's number instead and, once the index follows
        a registry succession, the ``registry`` that holds it."""
        held = self.reader.registries()
        if len(held) < 2:
            return rows
        for row in rows:
            if row.get("block") is not None:
                era = max((r for r in held if r.first_block <= row["block"]), key=lambda r: r.era, default=held[0])
                row["block"] -= era.block_offset
                row["registry"] = era.registry
        return rows

    # -- the report ---------------------------------------------------------------------------------------------

    def report(self, examples: int = 3) -> AuditReport:
        """Issued, revoked and verified per issuer, verifier, document type and day; anomalies by kind with their
        count and first ``examples``; governance; and with the regulator's keys the circulation."""
        self.reader.require_synced()
        every = (0, 2**40 // DAY)
        by_issuer: defaultdict[str, dict[str, int]] = defaultdict(dict)
        for measure, name in (("batches", "batches"), ("issued", "documents")):
            for r in self._by(measure, "issuer", every):
                by_issuer[r["value"]][name] = r["amount"]
        for issuer, scope, n in self._db.execute("SELECT issuer_id, scope, COUNT(*) FROM revocations "
                                                 "WHERE counted = 1 GROUP BY issuer_id, scope"):
            by_issuer[issuer][{"document": "documents_revoked", "batch": "batches_revoked"}[scope]] = int(n)
        by_doc_type: defaultdict[str, dict[str, int]] = defaultdict(dict)
        for measure, name in (("batches", "batches"), ("issued", "documents")):
            for r in self._by(measure, "doc_type", every):
                by_doc_type[r["value"]][name] = r["amount"]
        by_verifier = {r["value"]: {"receipts": r["amount"]} for r in self._by("sealed", "bank", every)}
        by_day: defaultdict[str, dict[str, int]] = defaultdict(dict)
        for measure, name in (("batches", "batches"), ("issued", "documents"), ("revoked", "revocations"),
                              ("sealed", "receipts")):
            for r in self._by_day(measure, every):
                by_day[r["value"]][name] = r["amount"]
        reasons = {reason: int(n) for reason, n in self._db.execute(
            "SELECT reason, COUNT(*) FROM revocations WHERE counted = 1 GROUP BY reason ORDER BY reason")}
        groups = self.anomaly_groups(examples)
        totals = {"batches": self._sum("batches", "", every), "documents": self._sum("issued", "", every),
                  "revocations": sum(reasons.values()), "receipts": self._sum("sealed", "", every),
                  "anomalies": sum(g["count"] for g in groups)}
        freshness = self.freshness()
        report = AuditReport(
            generated_at=int(time.time()), registry=self.reader.registry.address,
            chain_id=self.reader.registry.w3.eth.chain_id, freshness=freshness.as_json(), totals=totals,
            by_issuer=dict(sorted(by_issuer.items())), by_verifier=dict(sorted(by_verifier.items())),
            by_doc_type=dict(sorted(by_doc_type.items())), by_day=dict(sorted(by_day.items())),
            revocation_reasons=reasons, anomalies=groups, governance=self.governance(),
            registries=self.registries())
        if self.trail is not None:
            report.circulation = self._circulation(every)
            report.totals["disputes"] = len(report.circulation["disputes"])
        return report

    def registries(self) -> list[dict[str, Any]]:
        """Where the index's history came from: every registry it read, in order, with when its successor's
        consortium recorded the succession and when the index followed it; and how many batches and revocations the
        successor held again (re-anchored, restored: counted once, on the registry that first held them)."""
        held = self.reader.registries()
        out = []
        for i, r in enumerate(held):
            end = held[i + 1].first_block if i + 1 < len(held) else 2**62
            reanchored, restored = (int(n) for n in self._db.execute(
                "SELECT (SELECT COUNT(*) FROM anchors WHERE moved = 1 AND block_number >= ? AND block_number < ?), "
                "(SELECT COUNT(*) FROM revocations WHERE restored = 1 AND block_number >= ? AND block_number < ?)",
                (r.first_block, end, r.first_block, end)).fetchone())
            out.append({**r.as_json(), "reanchoredBatches": reanchored, "restoredRevocations": restored})
        return out

    def anomaly_groups(self, examples: int = 3, filters: Filters = Filters()) -> list[dict[str, Any]]:
        """Anomalies by kind: the catalogue's explanation, the count, and the first ``examples`` rows."""
        groups = []
        for counted in self.anomaly_counts(filters):
            if counted["kind"] == "dispute_unanswered":
                first = [{"raisedAt": d["openedAt"], "kind": "dispute_unanswered", "bank": d["verifier"],
                          "issuer": d.get("issuer", ""), "details": {"disputeId": d["disputeId"],
                                                                      "ageDays": d["ageDays"]}}
                         for d in self.unanswered_disputes(filters)[-examples:]]
            else:
                spec = TABLES["anomalies"]
                since, until = _bounds(filters)
                first = [_row(spec, row) for row in self._db.execute(
                    f"SELECT {', '.join(c for _, c in spec.columns)}, id FROM anomalies WHERE kind = ? "
                    "AND block_time >= ? AND block_time < ? ORDER BY block_time, id LIMIT ?",
                    (counted["kind"], since, until, examples))]
            groups.append({**counted, "examples": first})
        return groups

    def governance(self) -> list[dict[str, Any]]:
        """Membership, key, operator and display-name changes, recoveries and succession, in chain order, as a
        supervisor reads them (an issuer's own display name is set with no document type)."""
        return [{"at": t, "event": name, **{k: _show(k, v) for k, v in a.items() if k != "docType" or any(
            from_hex(v))}} for t, name, a in self.reader.events(*GOVERNANCE)]

    def _circulation(self, every: tuple[int, int]) -> dict[str, Any]:
        assert self.trail is not None
        without = {r["value"]: r["amount"] for r in self._by("receipts", "bank_without_consent", every)}
        revoked = {bank: int(n) for bank, n in self._db.execute(
            "SELECT verifier, COUNT(*) FROM anomalies WHERE kind = 'circulation_of_revoked' GROUP BY verifier")}
        by_verifier = {r["value"]: {"sealed_receipts": r["amount"], "consented": r["amount"] - without.get(
            r["value"], 0), "without_consent": without.get(r["value"], 0), "for_revoked": revoked.get(r["value"], 0)}
            for r in self._by("receipts", "bank", every)}
        return {
            "receipts": self._sum("receipts", "", every),
            "withoutConsent": sum(without.values()),
            "byVerifier": dict(sorted(by_verifier.items())),
            "byPurpose": {r["value"]: r["amount"] for r in self._by("receipts", "purpose", every)},
            "byConsent": {Consent(int(r["value"])).name.lower(): r["amount"]
                          for r in self._by("receipts", "consent", every)},
            "byDay": {r["value"]: {"sealed_receipts": r["amount"]} for r in self._by_day("receipts", every)},
            "disputes": self.trail.disputes(now=self.now()),
        }


def parse_filters(since: str | None = None, until: str | None = None, *, issuer: str | None = None,
                  bank: str | None = None, purpose: str | None = None, doc_type: str | None = None,
                  kind: str | None = None, reason: str | None = None, consent: str | None = None) -> Filters:
    """Filters from a request: a period as dates (``YYYY-MM-DD``, UTC, both days included; ``from`` after ``to``
    is refused) and the rest as given (an empty value is no filter)."""
    bounds: list[int | None] = []
    for name, text, shift in (("from", since, 0), ("to", until, DAY)):
        if not text:
            bounds.append(None)
            continue
        try:
            bounds.append(calendar.timegm(time.strptime(text, "%Y-%m-%d")) + shift)
        except ValueError:
            raise InvalidQuery(f"{name} is a date as YYYY-MM-DD, got {text!r}") from None
    if bounds[0] is not None and bounds[1] is not None and bounds[0] >= bounds[1]:
        raise InvalidQuery(f"from {since} is after to {until}: the period holds no day")
    if consent and consent not in CONSENTS:
        raise InvalidQuery(f"consent is one of {', '.join(CONSENTS)}, got {consent!r}")
    if kind and kind not in KINDS:
        raise InvalidQuery(f"no anomaly kind {kind!r}")
    if bank and re.fullmatch(r"0x[0-9a-fA-F]{40}", bank):
        bank = to_checksum_address(bank)  # as the index keeps accounts
    return Filters(bounds[0], bounds[1], issuer or None, bank or None, purpose or None, doc_type or None,
                   kind or None, reason or None, consent or None)


def page_query(spec: Table, filters: Filters, after: str | None, limit: int) -> tuple[str, list[Any]]:
    """The SQL (and its arguments) of up to ``limit`` rows of ``spec`` matching ``filters``, newest first, below the
    cursor ``after``: an equality on an indexed column, then one range of ``block_time`` (the period, cut at the
    cursor's time) the index seeks, then the rows of the cursor's own time that come before it."""
    last = _cursor(after) if after is not None else None
    where, args = _where(spec, filters, None if last is None else last[0])
    if last is not None:  # the rows below the cursor's (block_time, id); its time is the range's end above
        where.append("(block_time < ? OR id < ?)")
        args += last
    columns = ", ".join(column for _, column in spec.columns)
    return (f"SELECT {columns}, id FROM {spec.sql} WHERE {' AND '.join(where)} ORDER BY block_time DESC, id DESC "
            "LIMIT ?", [*args, limit])


def _bounds(filters: Filters) -> tuple[int, int]:
    return (filters.since or 0, filters.until if filters.until is not None else 2**40)


def _days(filters: Filters) -> tuple[int, int]:
    since, until = _bounds(filters)
    return since // DAY, (until - 1) // DAY


def _period_json(filters: Filters) -> dict[str, str | None]:
    return {"from": utc_time(filters.since)[:10] if filters.since is not None else None,
            "to": utc_time(filters.until - DAY)[:10] if filters.until is not None else None}


def _where(spec: Table, filters: Filters, up_to: int | None = None) -> tuple[list[str], list[Any]]:
    """The conditions of ``filters``: one equality per filter column, and the period as one range of
    ``block_time`` (ending at ``up_to`` too, a cursor's time), so that an index seeks both ends."""
    since, until = _bounds(filters)
    end = until - 1 if up_to is None else min(until - 1, up_to)
    where, args = ["block_time >= ?", "block_time <= ?"], [since, end]
    for name, column in spec.filters.items():
        value = getattr(filters, name)
        if value is None:
            continue
        where.append(f"{column} = ?")
        args.append(CONSENTS[value] if name == "consent" else value)
    asked = {n for n in ("issuer", "bank", "purpose", "doc_type", "kind", "reason", "consent") if getattr(filters, n)}
    if unknown := asked - set(spec.filters):
        raise InvalidQuery(f"{', '.join(sorted(unknown))} cannot filter this table; it filters by period, "
                           f"{', '.join(spec.filters)}")
    return where, args


def _cursor(after: str) -> list[int]:
    """A page cursor's time and row id: integers the database holds (signed 64 bits)."""
    try:
        found = [int(part) for part in after.split(".")]
    except ValueError:
        found = []
    if len(found) != 2 or not all(-2**63 <= n < 2**63 for n in found):
        raise InvalidQuery(f"not a page cursor: {after!r}")
    return found


#: What a table's rows show after its columns (a receipt's consentReference is shown as these two instead).
_DERIVED = {"circulation_receipts": ("presentationHash", "case"), "anomalies": ("severity",)}


def _row(spec: Table, row: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (name, column), value in zip(spec.columns, row, strict=False):
        if isinstance(value, bytes):
            value = to_hex(value)
        if column == "consent":
            value = Consent(value).name.lower()
        elif column == "details":
            value = json.loads(value)
        elif column in ("counted", "moved", "restored"):
            value = bool(value)
        out[name] = value
    if spec.sql == "circulation_receipts":
        reference = from_hex(out.pop("consentReference"))
        out["presentationHash"] = to_hex(reference) if out["consent"] == "presentation" else None
        out["case"] = reference.rstrip(b"\0").decode("utf-8", "replace") if out["consent"] == "in_person" else None
    if spec.sql == "anomalies":
        out["severity"] = KINDS[out["kind"]].severity.value
    return out


def _show(name: str, value: Any) -> Any:
    """An event argument as a supervisor reads it: codes as text, roles by name, times as dates."""
    if name in ("issuerId", "docType", "jurisdiction"):
        return code_name(from_hex(value))
    if name == "role":
        return Role(value).name.lower()
    if name in ("compromisedFrom", "unlockAt"):
        return utc_time(value)
    return value
