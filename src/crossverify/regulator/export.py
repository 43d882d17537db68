"""Audit reports as JSON, CSV, or one self-contained HTML page with charts (inline SVG, no scripts); and any
table of the console as CSV."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..format.encoding import utc_minute
from .queries import AuditReport


def to_json(report: AuditReport) -> str:
    return json.dumps(report.as_json(), indent=1, ensure_ascii=False)


def to_csv(report: AuditReport) -> str:
    """One row per figure: ``section, key, metric, value``; anomalies follow as ``anomaly, kind, at, details``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "metric", "value"])
    for metric, value in report.totals.items():
        writer.writerow(["total", "", metric, value])
    for section in ("by_issuer", "by_verifier", "by_doc_type", "by_day"):
        for key, figures in getattr(report, section).items():
            for metric, value in figures.items():
                writer.writerow([section.removeprefix("by_"), key, metric, value])
    for reason, count in report.revocation_reasons.items():
        writer.writerow(["revocation_reason", reason, "count", count])
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


def rows_csv(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Rows of one table (dicts with the same keys) as CSV text, a header line first, a line at a time; nested
    values as JSON. Text a bank chose (a case reference) that a spreadsheet would run as a formula is quoted."""
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


def _cell(value: Any) -> Any:
    """A value as a spreadsheet shows it, never runs it: text starting as a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_html(report: AuditReport) -> str:
    """A page a supervisor would rather look at than read: figures, charts, anomalies, governance."""
    t = report.totals
    cards = "".join(f'<div class="card"><b>{v:,}</b><span>{html.escape(k)}</span></div>' for k, v in t.items())
    days = list(report.by_day.items())
    charts = [
        _columns("Documents issued per day", [(d, f.get("documents", 0)) for d, f in days], "#2f6db5"),
        _columns("Verification receipts per day", [(d, f.get("receipts", 0)) for d, f in days], "#2e8b57"),
        _bars("Documents issued per issuer", [(k, f.get("documents", 0)) for k, f in report.by_issuer.items()],
              "#2f6db5"),
        _bars("Receipts per verifier", [(_short(k), f.get("receipts", 0)) for k, f in report.by_verifier.items()],
              "#2e8b57"),
        _bars("Revocations by reason", list(report.revocation_reasons.items()), "#c0392b"),
        _bars("Documents issued per type", [(k, f.get("documents", 0)) for k, f in report.by_doc_type.items()],
              "#8e44ad"),
    ]
    anomalies = "".join(_anomaly_group(g) for g in report.anomalies) or "<p>No anomalies.</p>"
    governance = _table(["when", "event", "details"], [
        [utc_minute(g["at"]), g["event"], ", ".join(f"{k}={v}" for k, v in g.items() if k not in ("at", "event"))]
        for g in report.governance])
    circulation = _circulation(report.circulation)
    issuers = _figures_table("issuer", report.by_issuer)
    verifiers = _figures_table("verifier", report.by_verifier)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>crossverify audit report</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;padding:0 1rem}}
h1{{margin-bottom:.2rem}} .sub{{color:#5b6875;margin-top:0}}
.cards{{display:flex;gap:1rem;flex-wrap:wrap;margin:1.5rem 0}}
.card{{background:#f3f6fa;border-radius:8px;padding:.8rem 1.2rem;min-width:8rem}}
.card b{{display:block;font-size:1.6rem}} .card span{{color:#5b6875}}
.charts{{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1.5rem}}
figure{{margin:0}} figcaption{{font-weight:600;margin-bottom:.3rem}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:13px}}
th,td{{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e8ee}} th{{background:#f3f6fa}}
.kind{{border-left:4px solid #c0392b;padding:.2rem 0 .2rem 1rem;margin:1rem 0}}
.kind.medium{{border-color:#d68910}} .kind.low{{border-color:#7f8c8d}}
.kind h3{{margin:.2rem 0}} .kind .count{{color:#c0392b}} .kind.medium .count{{color:#d68910}}
</style></head><body>
<h1>crossverify audit report</h1>
<p class="sub">Registry {html.escape(report.registry)} on chain {report.chain_id}; {html.escape(_fresh(report))};
generated {utc_minute(report.generated_at)}. Only digests and non-personal metadata are shown.</p>
<div class="cards">{cards}</div>
<h2>Anomalies by kind</h2><div class="anomalies">{anomalies}</div>
<div class="charts">{''.join(charts)}</div>
{circulation}
<h2>Issuers</h2>{issuers}
<h2>Verifiers</h2>{verifiers}
<h2>Membership and key changes</h2>{governance}
</body></html>
"""


def _fresh(report: AuditReport) -> str:
    f = report.freshness
    if f["indexedBlock"] is None:
        return "the index was never synced"
    behind = f["behind"]
    lag = "the node did not answer" if behind is None else "up to date" if behind == 0 else f"{behind:,} blocks behind"
    return f"events to block {f['indexedBlock']:,} ({lag})"


def _anomaly_group(group: dict[str, Any]) -> str:
    """One kind: its count, severity, meaning, what to do, and its first examples."""
    examples = _table(["when", "bank", "issuer", "details"], [
        [utc_minute(e["raisedAt"]), e.get("bank", ""), e.get("issuer", ""),
         ", ".join(f"{k}={v}" for k, v in e["details"].items())] for e in group["examples"]])
    more = group["count"] - len(group["examples"])
    return (f'<div class="kind {html.escape(group["severity"])}"><h3>{html.escape(group["title"])} '
            f'<span class="count">×{group["count"]:,}</span> <small>({html.escape(group["severity"])}; '
            f'{html.escape(group["kind"])})</small></h3><p>{html.escape(group["meaning"])}</p>'
            f'<p><b>Next:</b> {html.escape(group["nextStep"])}</p>{examples}'
            + (f"<p>… and {more:,} more of this kind.</p>" if more > 0 else "") + "</div>")


def _circulation(c: dict[str, Any] | None) -> str:
    """The opened circulation trail: receipts per bank and purpose, consent, and each dispute's lifecycle."""
    if c is None:
        return "<h2>Circulation</h2><p>Not opened: the report was made without a regulator key.</p>"
    disputes = _table(["opened", "bank", "issuer", "reason", "state", "age (days)"], [
        [utc_minute(d["openedAt"]), d["verifier"], d.get("issuer", ""), d.get("reason", ""),
         d["state"].replace("_", " "), d["ageDays"]] for d in c["disputes"]]) if c["disputes"] else "<p>None.</p>"
    per_day = [(d, f.get("sealed_receipts", 0)) for d, f in c["byDay"].items()]
    charts = (_bars("Sealed receipts per purpose", list(c["byPurpose"].items()), "#2e8b57")
              + _columns("Sealed receipts per day", per_day, "#2e8b57"))
    return (f"<h2>Circulation</h2><p>{c['receipts']:,} sealed receipts opened, {c['withoutConsent']:,} without "
            f"the resident's consent.</p><div class=\"charts\">{charts}</div>"
            f'{_figures_table("verifier", c["byVerifier"])}<h2>Disputes</h2>{disputes}')


def _short(address: str) -> str:
    """An address shortened for a chart's label (tables show it whole)."""
    return address[:8] + "…" + address[-4:] if len(address) > 14 else address


def _columns(title: str, data: list[tuple[str, int]], colour: str) -> str:
    """A time series as columns, one per day, however many days: the first and last day labelled."""
    if not data:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>None.</p></figure>"
    width, height, top = 480, 160, max(v for _, v in data) or 1
    step = (width - 20) / len(data)
    columns = "".join(
        f'<rect x="{10 + i * step:.1f}" y="{130 - 120 * v / top:.1f}" width="{max(step * 0.8, 0.5):.1f}" '
        f'height="{max(120 * v / top, 0.5):.1f}" fill="{colour}"><title>{html.escape(d)}: {v:,}</title></rect>'
        for i, (d, v) in enumerate(data))
    labels = (f'<text x="10" y="150" font-size="11">{html.escape(data[0][0])}</text>'
              f'<text x="{width - 10}" y="150" font-size="11" text-anchor="end">{html.escape(data[-1][0])}</text>'
              f'<text x="{width - 10}" y="12" font-size="11" text-anchor="end">max {top:,}</text>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{html.escape(title)}">'
            f'{columns}{labels}</svg></figure>')


def _bars(title: str, data: list[tuple[str, int]], colour: str) -> str:
    if not data:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>None.</p></figure>"
    width, row = 480, 26
    top = max(v for _, v in data) or 1
    height = row * len(data) + 10
    bars = []
    for i, (label, value) in enumerate(data):
        y = 5 + i * row
        w = int((width - 200) * value / top)
        bars.append(
            f'<text x="0" y="{y + 17}" font-size="12">{html.escape(str(label))}</text>'
            f'<rect x="140" y="{y + 4}" width="{max(w, 1)}" height="{row - 8}" rx="3" fill="{colour}"/>'
            f'<text x="{146 + w}" y="{y + 17}" font-size="12">{value:,}</text>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{html.escape(title)}">'
            f'{"".join(bars)}</svg></figure>')


def _figures_table(what: str, figures: dict[str, dict[str, int]]) -> str:
    metrics = sorted({m for f in figures.values() for m in f})
    return _table([what, *metrics], [[k, *(f"{f.get(m, 0):,}" for m in metrics)] for k, f in figures.items()])


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h.replace('_', ' '))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"



