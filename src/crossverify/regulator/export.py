"""Audit reports as JSON, CSV (codes and addresses, for machines), or one self-contained HTML page with charts
(inline SVG, no scripts) in a supervisor's language, naming issuers, document types and banks; and any table of
the console as CSV."""

from __future__ import annotations

import csv
import html
import io
import json
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import Any

from ..format.display import number
from ..format.encoding import utc_minute
from .queries import AuditReport
from .words import WORDS, Names, words


def to_json(report: AuditReport) -> str:
    return json.dumps(report.as_json(), indent=1, ensure_ascii=False)


def to_csv(report: AuditReport) -> str:
    """One row per figure: ``section, key, metric, value``; anomalies follow as ``anomaly, kind, at, details``.
    Codes an institution chose (a purpose a bank sealed) that a spreadsheet would run as a formula are quoted."""
    out = io.StringIO()
    writer = _Cells(out)
    writer.writerow(["section", "key", "metric", "value"])
    for metric, value in report.totals.items():
        writer.writerow(["total", "", metric, value])
    for section in ("by_issuer", "by_verifier", "by_doc_type", "by_day"):
        for key, figures in getattr(report, section).items():
            for metric, value in figures.items():
                writer.writerow([section.removeprefix("by_"), key, metric, value])
    for reason, count in report.revocation_reasons.items():
        writer.writerow(["revocation_reason", reason, "count", count])
    if len(report.registries) > 1:  # a succession: where the history came from
        for r in report.registries:
            for metric in ("chainId", "genesis", "recordedAsPredecessorAt", "followedAt", "reanchoredBatches",
                           "restoredRevocations"):
                writer.writerow(["registry", r["registry"], metric, r[metric]])
    if report.circulation is not None:
        c = report.circulation
        for section, key in (("circulation_verifier", "byVerifier"), ("circulation_day", "byDay")):
            for name, figures in c[key].items():
                for metric, value in figures.items():
                    writer.writerow([section, name, metric, value])
        for purpose, count in c["byPurpose"].items():
            writer.writerow(["circulation_purpose", purpose, "sealed_receipts", count])
        for d in c["disputes"]:
            for metric in ("openedAt", "verifier", "issuer", "reason", "state", "ageDays"):
                shown = utc_minute(d[metric]) if metric == "openedAt" else d.get(metric)
                writer.writerow(["dispute", d["disputeId"], metric, shown])
    for group in report.anomalies:
        writer.writerow(["anomaly", group["kind"], "count", group["count"]])
        writer.writerow(["anomaly", group["kind"], "severity", group["severity"]])
        for example in group["examples"]:
            writer.writerow(["anomaly", group["kind"], "example", json.dumps(example, sort_keys=True)])
    return out.getvalue()


def rows_csv(rows: Iterable[dict[str, Any]], header: Sequence[str] = ()) -> Iterator[str]:
    """Rows of one table (dicts with the same keys) as CSV text, a header line first (``header`` when no row
    comes), a line at a time; nested values as JSON. Text a bank chose (a case reference) that a spreadsheet
    would run as a formula is quoted."""
    out = io.StringIO()
    writer: Any = None
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(out, list(row))
            writer.writeheader()
        writer.writerow({k: _cell(json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v)
                         for k, v in row.items()})
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if writer is None and header:
        csv.writer(out).writerow(header)
        yield out.getvalue()


class _Cells:
    """A CSV writer that writes each cell as a spreadsheet shows it (:func:`_cell`)."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: list[Any]) -> None:
        self._writer.writerow([_cell(value) for value in row])


def _cell(value: Any) -> Any:
    """A value as a spreadsheet shows it, never runs it: text starting as a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_html(report: AuditReport, language: str = "en", names: Names | None = None) -> str:
    """A page a supervisor would rather look at than read, in ``language``: figures, charts, anomalies by kind,
    the circulation, governance. Issuers, document types and banks are shown by ``names`` (their codes where
    they have none)."""
    return _Page(language, names or Names()).render(report)


class _Page:
    """The report's page in one language, with the names it gives to codes."""

    def __init__(self, language: str, names: Names) -> None:
        self.language, self.names, self.t = language, names, words(language)

    def n(self, value: float) -> str:
        return number(value, self.language)

    def issuer(self, code: str) -> str:
        return self.names.issuer(code, self.language)

    def bank(self, address: str) -> str:
        """A bank's name as the regulator gave it, else its address shortened (tables show it whole beside)."""
        return self.names.bank(address) or _short(address)

    def purpose(self, code: str) -> str:
        return self.t(f"purpose.{code}") if f"purpose.{code}" in WORDS["en"] else code

    def reason(self, code: str) -> str:
        return self.t(f"reason.{code}") if f"reason.{code}" in WORDS["en"] else code

    def details(self, change: dict[str, Any]) -> str:
        """A governance change's arguments, each under its name in this language, codes by their names."""
        return "; ".join(f"{self.t(f'field.{k}') if f'field.{k}' in WORDS['en'] else k}: {self.argument(k, v)}"
                         for k, v in change.items() if k not in ("at", "event"))

    def anomaly_details(self, details: dict[str, Any]) -> str:
        """An anomaly's details as the console gives them: each under its name in this language, times in UTC,
        purposes, scopes and reasons in words, the first bank by its name."""
        return "; ".join(f"{self.t(f'detail.{k}') if f'detail.{k}' in WORDS['en'] else k}: {self.detail(k, v)}"
                         for k, v in details.items())

    def detail(self, name: str, value: Any) -> str:
        if (name.endswith("At") or name == "notAfter") and isinstance(value, int):
            return f"{utc_minute(value)} UTC"
        if not isinstance(value, str):
            return str(value)
        if name in ("purpose", "firstPurpose"):
            return self.purpose(value)
        if name == "reason":
            return self.reason(value)
        if name == "scope" and f"scope.{value}" in WORDS["en"]:
            return self.t(f"scope.{value}")
        return self.bank(value) if name == "firstBy" else value

    def argument(self, name: str, value: Any) -> str:
        if name == "issuerId":
            return self.issuer(value)
        if name == "docType":
            return self.names.doc_type(value, self.language)
        if name == "role":
            return self.t(f"role.{value}")
        if name == "allowed":
            return self.t("yes" if value else "no")
        if name == "deadlineUpTo":
            return utc_minute(value)
        named = self.names.bank(value) if isinstance(value, str) and value.startswith("0x") else None
        return f"{named} ({value})" if named else str(value)  # addresses whole; proposals, jurisdictions as written

    def render(self, report: AuditReport) -> str:
        t = self.t
        cards = "".join(f'<div class="card"><b>{self.n(v)}</b><span>{_e(t(f"report.metric.{k}"))}</span></div>'
                        for k, v in report.totals.items())
        days = list(report.by_day.items())
        charts = [
            self.columns(t("report.chart.issuedByDay"), [(d, f.get("documents", 0)) for d, f in days], "#2f6db5"),
            self.columns(t("chart.byDay"), [(d, f.get("receipts", 0)) for d, f in days], "#2e8b57"),
            self.bars(t("chart.issuedByIssuer"),
                      [(self.issuer(k), f.get("documents", 0)) for k, f in report.by_issuer.items()], "#2f6db5"),
            self.bars(t("chart.byBank"), [(self.bank(k), f.get("receipts", 0)) for k, f in report.by_verifier.items()],
                      "#2e8b57"),
            self.bars(t("report.chart.revocationsByReason"),
                      [(self.reason(k), v) for k, v in report.revocation_reasons.items()], "#c0392b"),
            self.bars(t("report.chart.issuedByType"), [(self.names.doc_type(k, self.language), f.get("documents", 0))
                                                       for k, f in report.by_doc_type.items()], "#8e44ad"),
        ]
        anomalies = "".join(self.anomaly_group(g) for g in report.anomalies) or \
            f"<p>{_e(t('report.anomalies.none'))}</p>"
        governance = _table([t("column.when"), t("report.column.event"), t("column.details")], [
            [utc_minute(g["at"]), t(f"governance.{g['event']}"), self.details(g)] for g in report.governance])
        issuers = self.figures("issuer", report.by_issuer)
        banks = self.figures("bank", report.by_verifier)
        sub = t("report.sub", registry=report.registry, chain=report.chain_id, freshness=self.fresh(report),
                generated=utc_minute(report.generated_at))
        history = f'<p class="sub">{_e(self.history(report.registries))}</p>' if len(report.registries) > 1 else ""
        return f"""<!doctype html>
<html lang="{_e(self.language)}"><head><meta charset="utf-8"><title>{_e(t("report.title"))}</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;padding:0 1rem}}
h1{{margin-bottom:.2rem}} .sub{{color:#5b6875;margin-top:0}}
.cards{{display:flex;gap:1rem;flex-wrap:wrap;margin:1.5rem 0}}
.card{{background:#f3f6fa;border-radius:8px;padding:.8rem 1.2rem;min-width:8rem}}
.card b{{display:block;font-size:1.6rem}} .card span{{color:#5b6875}}
.charts{{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1.5rem}}
figure{{margin:0}} figcaption{{font-weight:600;margin-bottom:.3rem}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:13px}}
th,td{{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e8ee;overflow-wrap:anywhere}}
th{{background:#f3f6fa}}
td.code{{color:#5b6875;font-family:ui-monospace,monospace;font-size:12px}}
.kind{{border-left:4px solid #c0392b;padding:.2rem 0 .2rem 1rem;margin:1rem 0}}
.kind.medium{{border-color:#d68910}} .kind.low{{border-color:#7f8c8d}}
.kind h3{{margin:.2rem 0}} .kind .count{{color:#c0392b}} .kind.medium .count{{color:#d68910}}
</style></head><body>
<h1>{_e(t("report.title"))}</h1>
<p class="sub">{_e(sub)}</p>{history}
<div class="cards">{cards}</div>
<h2>{_e(t("anomalies.title"))}</h2><div class="anomalies">{anomalies}</div>
<div class="charts">{''.join(charts)}</div>
{self.circulation(report.circulation)}
<h2>{_e(t("report.issuers"))}</h2>{issuers}
<h2>{_e(t("report.banks"))}</h2>{banks}
<h2>{_e(t("report.governance"))}</h2>{governance}
</body></html>
"""

    def history(self, held: list[dict[str, Any]]) -> str:
        """Where the history came from: the registries of a succession, and when each was recorded."""
        steps = [self.t("history.first", registry=held[0]["registry"], chain=held[0]["chainId"],
                        genesis=_short(held[0]["genesis"]))]
        steps += [self.t("history.next", registry=r["registry"], chain=r["chainId"], genesis=_short(r["genesis"]),
                         recorded=utc_minute(before["recordedAsPredecessorAt"] or 0),
                         batches=self.n(r["reanchoredBatches"]), revocations=self.n(r["restoredRevocations"]))
                  for before, r in pairwise(held)]
        return self.t("history.from", count=len(held), steps="; ".join(steps))

    def fresh(self, report: AuditReport) -> str:
        f = report.freshness
        if f["indexedBlock"] is None:
            return self.t("fresh.never")
        block, behind = self.n(f["indexedBlock"]), f["behind"]
        if behind is None:
            return self.t("fresh.unknown", block=block)
        return self.t("fresh.current", block=block) if behind == 0 else \
            self.t("fresh.behind", block=block, behind=self.n(behind))

    def anomaly_group(self, group: dict[str, Any]) -> str:
        """One kind: its count, severity, meaning, what to do, and its first examples."""
        t, kind = self.t, group["kind"]
        examples = _table([t("column.when"), t("column.bank"), t("column.issuer"), t("column.details")], [
            [utc_minute(e["raisedAt"]), self.bank(e["bank"]) if e.get("bank") else "",
             self.issuer(e["issuer"]) if e.get("issuer") else "",
             self.anomaly_details(e["details"])] for e in group["examples"]])
        more = group["count"] - len(group["examples"])
        severity = t("report.anomalies.severity", severity=t(f"severity.{group['severity']}"))
        return (f'<div class="kind {_e(group["severity"])}"><h3>{_e(t(f"kind.{kind}.title"))} '
                f'<span class="count">×{self.n(group["count"])}</span> <small>({_e(severity)}; {_e(kind)})</small>'
                f'</h3><p>{_e(t(f"kind.{kind}.meaning"))}</p>'
                f'<p><b>{_e(t("anomalies.next"))}</b> {_e(t(f"kind.{kind}.next"))}</p>{examples}'
                + (f"<p>{_e(t('report.anomalies.more', more=self.n(more)))}</p>" if more > 0 else "") + "</div>")

    def circulation(self, c: dict[str, Any] | None) -> str:
        """The opened circulation trail: receipts per bank and purpose, consent, and each dispute's lifecycle."""
        t = self.t
        heading = f"<h2>{_e(t('report.circulation'))}</h2>"
        if c is None:
            return f"{heading}<p>{_e(t('report.circulation.closed'))}</p>"
        disputes = _table([t("report.column.opened"), t("column.bank"), t("column.issuer"), t("column.reason"),
                           t("column.state"), t("column.age")], [
            [utc_minute(d["openedAt"]), self.bank(d["verifier"]), self.issuer(d["issuer"]) if d.get("issuer") else "",
             self.reason(d["reason"]) if d.get("reason") else "", t(f"state.{d['state']}"), self.n(d["ageDays"])]
            for d in c["disputes"]]) if c["disputes"] else f"<p>{_e(t('report.none'))}</p>"
        per_day = [(d, f.get("sealed_receipts", 0)) for d, f in c["byDay"].items()]
        charts = (self.bars(t("chart.byPurpose"), [(self.purpose(k), v) for k, v in c["byPurpose"].items()],
                            "#2e8b57")
                  + self.columns(t("report.chart.openedByDay"), per_day, "#2e8b57"))
        opened = t("report.circulation.opened", receipts=self.n(c["receipts"]), without=self.n(c["withoutConsent"]))
        return (f'{heading}<p>{_e(opened)}</p><div class="charts">{charts}</div>'
                f'{self.figures("bank", c["byVerifier"])}<h2>{_e(t("disputes.title"))}</h2>{disputes}')

    def figures(self, what: str, figures: dict[str, dict[str, int]]) -> str:
        """A table of figures per issuer or bank: its name, its code or address, and each metric."""
        metrics = sorted({m for f in figures.values() for m in f})
        named = self.issuer if what == "issuer" else self.bank
        code = self.t("report.column.code") if what == "issuer" else self.t("report.column.account")
        head = [self.t(f"column.{what}"), code, *(self.t(f"report.metric.{m}") for m in metrics)]
        return _table(head, [[named(k), _Code(k), *(self.n(f.get(m, 0)) for m in metrics)]
                             for k, f in figures.items()])

    def columns(self, title: str, data: list[tuple[str, int]], colour: str) -> str:
        return _columns(title, data, colour, self.n, self.t("report.chart.max", value=self.n(max(
            (v for _, v in data), default=0))), self.t("report.none"))

    def bars(self, title: str, data: list[tuple[str, int]], colour: str) -> str:
        return _bars(title, data, colour, self.n, self.t("report.none"))


class _Code(str):
    """A cell that holds a code or an address (set in a quieter, fixed-width type)."""


#: A bar chart's labels take at most this many columns, of at most about this many pixels each at its 12 px type.
LABEL_ROOM = 34
COLUMN_PX = 7.5


def _e(text: object) -> str:
    return html.escape(str(text))


def _short(address: str) -> str:
    """An address shortened for a chart's label (tables show it whole)."""
    return address[:8] + "…" + address[-4:] if len(address) > 14 else address


def _columns(title: str, data: list[tuple[str, int]], colour: str, n: Callable[[float], str], top_label: str,
             none: str) -> str:
    """A time series as columns, one per day, however many days: the first and last day labelled."""
    if not data:
        return f"<figure><figcaption>{_e(title)}</figcaption><p>{_e(none)}</p></figure>"
    width, height, top = 480, 160, max(v for _, v in data) or 1
    step = (width - 20) / len(data)
    columns = "".join(
        f'<rect x="{10 + i * step:.1f}" y="{130 - 120 * v / top:.1f}" width="{max(step * 0.8, 0.5):.1f}" '
        f'height="{max(120 * v / top, 0.5):.1f}" fill="{colour}"><title>{_e(d)}: {n(v)}</title></rect>'
        for i, (d, v) in enumerate(data))
    labels = (f'<text x="10" y="150" font-size="11">{_e(data[0][0])}</text>'
              f'<text x="{width - 10}" y="150" font-size="11" text-anchor="end">{_e(data[-1][0])}</text>'
              f'<text x="{width - 10}" y="12" font-size="11" text-anchor="end">{_e(top_label)}</text>')
    return (f'<figure><figcaption>{_e(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{_e(title)}">'
            f'{columns}{labels}</svg></figure>')


def _bars(title: str, data: list[tuple[str, int]], colour: str, n: Callable[[float], str], none: str) -> str:
    """One bar per label, in the order given; the labels' column as wide as the longest needs, up to
    ``LABEL_ROOM`` columns (a label longer than that is cut, whole on hover)."""
    if not data:
        return f"<figure><figcaption>{_e(title)}</figcaption><p>{_e(none)}</p></figure>"
    width, row = 480, 26
    top = max(v for _, v in data) or 1
    height = row * len(data) + 10
    start = round(min(LABEL_ROOM, max(_columns_of(label) for label, _ in data)) * COLUMN_PX) + 8
    room = width - start - 60  # the figure after the longest bar
    bars = []
    for i, (label, value) in enumerate(data):
        y = 5 + i * row
        w = int(room * value / top)
        bars.append(
            f'<g><title>{_e(label)}: {n(value)}</title><text x="0" y="{y + 17}" font-size="12">{_e(_fitted(label))}'
            f'</text><rect x="{start}" y="{y + 4}" width="{max(w, 1)}" height="{row - 8}" rx="3" fill="{colour}"/>'
            f'<text x="{start + 6 + w}" y="{y + 17}" font-size="12">{n(value)}</text></g>')
    return (f'<figure><figcaption>{_e(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{_e(title)}">'
            f'{"".join(bars)}</svg></figure>')


def _columns_of(label: str) -> int:
    """The columns ``label`` takes (a wide character, such as a Chinese one, takes two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in label)


def _fitted(label: str, room: int = LABEL_ROOM) -> str:
    """``label`` cut to ``room`` columns, the last one an ellipsis."""
    if _columns_of(label) <= room:
        return label
    used = 0
    for i, char in enumerate(label):
        used += _columns_of(char)
        if used > room - 1:
            return label[:i].rstrip() + "…"
    return label


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td class="code">{_e(c)}</td>' if isinstance(c, _Code) else f"<td>{_e(c)}</td>"
                                    for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
