"""``crossverify verify``: check the bundles and presentations residents handed over, and optionally record
receipts; ``crossverify challenge``: issue the one-time challenge a resident's presentation answers."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Column, Table

from ..chain.metadata import MetadataReader
from ..errors import MetadataError, MetadataUnavailable, SealingError
from ..format.codes import doc_type_code
from ..format.display import HOLDER_KEY, claim_value, counted, holder_key, moment
from ..format.encoding import to_hex
from ..format.holder import HOLDER_CLAIM
from ..format.metadata import LANGUAGES, TypeDisplay
from ..sealing import case_reference_code
from ..verifier.client import Outcome, VerificationReport, VerifierClient
from ..verifier.outbox import FlushReport
from ._shell import App, BadInput, as_written, command


@click.command("challenge")
@click.option("--purpose", required=True, help="Purpose code, 1-8 of A-Z 0-9 . _ - (e.g. ACCTOPEN).")
@click.option("--ttl", type=int, help="Seconds the challenge stays open (default: [verifier] challenge_ttl).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it to a file to hand over.")
@command
def challenge(app: App, purpose: str, ttl: int | None, out: Path | None) -> None:
    """Issue a one-time challenge for a resident's session (needs [verifier] audience; no node)."""
    store = app.session.challenges
    if store is None:
        raise BadInput("issuing challenges needs [verifier] audience, this bank's verifier id")
    issued = store.issue(purpose, int(time.time()), app.session.config.verifier.challenge_ttl if ttl is None else ttl)
    if out is not None:
        out.write_text(issued.dumps())
    if app.as_json:
        app.emit(issued.to_json(), "")
    else:
        click.echo(issued.dumps())


@click.command("verify")
@click.argument("bundles", type=click.Path(dir_okay=False, path_type=Path), nargs=-1, required=True)
@click.option("--attachment", "attachments", multiple=True, metavar="NAME=PATH",
              help="An attachment's file, by claim name (for every bundle given).")
@click.option("--record", is_flag=True, help="Record a receipt, sealed to the regulators, for each valid bundle.")
@click.option("--purpose", help="Purpose code of bare bundles, e.g. ACCTOPEN (a presentation carries its own); "
              "sealed: only the regulators read it.")
@click.option("--case", "case", default="", help="The bank's case reference: a receipt is recorded once per case, "
              "however often the command is run again.")
@click.option("--in-person", is_flag=True, help="The residents of the bare bundles consented in person (your "
              "consent form, filed under --case): the receipts attest it. Without it, or a presentation the resident "
              "signed, a receipt states no consent and regulators flag it.")
@click.option("--verbose", "-v", is_flag=True, help="List every check, with its detail (default: the failed ones).")
@click.option("--language", type=click.Choice(LANGUAGES),
              help="The language of claim labels, names and values (default: [display] language).")
@click.option("--reveal", is_flag=True, help="Show identity and account numbers whole (default: masked).")
@command
def verify(app: App, bundles: tuple[Path, ...], attachments: tuple[str, ...], record: bool,
           purpose: str | None, case: str, in_person: bool, verbose: bool, language: str | None, reveal: bool) -> None:
    """Check bundles or presentations a resident handed over: the verdict first, then any failed check with its
    reason, then the disclosed claims by their registered labels. Exit 0: all valid; 1: any invalid; 2: unusable
    input; 3: the node, registry or outbox unavailable (receipts already queued are recorded by the next run)."""
    if purpose is not None and not record:
        raise BadInput("--purpose is sealed into the receipts that --record records: give --record too")
    if in_person and not case:
        raise BadInput("--in-person needs --case: the reference under which you filed the resident's consent")
    if in_person:  # refused before any presentation's challenge is used
        try:
            case_reference_code(case)
        except SealingError as exc:
            raise BadInput(f"--case: {exc}") from None
    if purpose is not None:
        try:
            doc_type_code(purpose)
        except ValueError as exc:
            raise BadInput(f"--purpose: {exc}") from None
    client = app.session.verifier(record=record)
    files = {}
    try:
        for item in attachments:
            name, _, file = item.partition("=")
            if not file:
                raise BadInput(f"--attachment takes NAME=PATH, got {item!r}")
            files[name] = Path(file).read_bytes()
        texts = [_read(p, client.policy.max_bundle_bytes) for p in bundles]
    except OSError as exc:
        raise BadInput(str(exc)) from None
    reports = client.verify_many(texts, [files or None] * len(texts) if files else None)
    valid = [r for r in reports if r.valid]
    if record and purpose is None and any(r.presentation is None for r in valid):
        client.withdraw(reports)  # no verdict given: the presentations' challenges are open again
        raise BadInput("--record needs --purpose for bare bundles (a presentation carries its own)")
    language = language or app.session.config.display.language
    shown = [_shown(app.session.metadata, report, language) for report in reports]
    if app.as_json:  # one document, each valid verdict with its receipt recorded: written once they are recorded
        recorded = dict(zip(map(id, valid), _record(app, client, valid, purpose, case, in_person).commitments,
                            strict=True)) if record else {}
        app.emit([{"file": str(p), **r.as_json(), "disclosed": r.bundle.disclosed() if r.bundle else {},
                   "display": display.as_json(), **({"receipt": to_hex(recorded[id(r)])} if id(r) in recorded else {})}
                  for p, r, display in zip(bundles, reports, shown, strict=True)], "")
    else:  # the verdicts first, then what was recorded
        out = Console(soft_wrap=True)
        for path, report, display in zip(bundles, reports, shown, strict=True):
            _print(out, path, report, display, language, verbose, reveal)
        if record:
            flushed = _record(app, client, valid, purpose, case, in_person)
            app.console.print(f"{counted(flushed.recorded, 'receipt')} recorded in "
                              f"{counted(flushed.transactions, 'transaction')}"
                              + (f", {flushed.settled} settled from an earlier run" if flushed.settled else ""))
            for commitment in flushed.commitments:
                app.console.print(f"  receipt {to_hex(commitment)}")
    if any(r.check("bundle_well_formed").outcome is Outcome.FAILED for r in reports):
        sys.exit(2)
    sys.exit(0 if all(r.valid for r in reports) else 1)


def _record(app: App, client: VerifierClient, valid: list[VerificationReport], purpose: str | None, case: str,
            in_person: bool) -> FlushReport:
    """Record the receipts of the ``valid`` reports, with a progress bar on a terminal."""
    with Progress(console=app.console, transient=True, disable=not app.console.is_terminal) as bars:
        task = bars.add_task("recording receipts", total=len(valid))
        return client.record(valid, purpose, case, lambda done, total: bars.update(task, completed=done, total=total),
                             in_person=in_person)


@dataclass
class _Shown:
    """How one verified document reads: its issuer's and type's names, and its claims' metadata, if registered."""

    issuer: str | None = None
    doc_type: str | None = None
    labels: TypeDisplay | None = None
    refused: str | None = None  # why registered metadata was not used

    def as_json(self) -> dict[str, object]:
        claims = {c.name: c.label.as_json() for c in self.labels.claims} if self.labels else {}
        return {"issuerName": self.issuer, "docTypeName": self.doc_type, "labels": claims,
                "metadataRefused": self.refused}


def _shown(reader: MetadataReader, report: VerificationReport, language: str) -> _Shown:
    """The issuer's name and the type's labels, each on its own: a name this bank does not keep costs no labels.
    Metadata that does not match the registry's digest is refused (and said); metadata not kept here is not."""
    if report.bundle is None:
        return _Shown()
    header = report.bundle.header
    shown = _Shown()
    try:
        issuer = reader.issuer(header.issuer_id)
        shown.issuer = issuer.name[language] if issuer else None
    except MetadataUnavailable:
        pass
    except MetadataError as exc:
        shown.refused = f"{type(exc).__name__}: {exc}"
    try:
        shown.labels = reader.doc_type(header.issuer_id, header.doc_type)
        shown.doc_type = shown.labels.name[language] if shown.labels else None
    except MetadataUnavailable:
        pass
    except MetadataError as exc:
        shown.refused = f"{type(exc).__name__}: {exc}"
    return shown


#: The words of a certificate's description, in each language its labels are shown in.
_WORDS = {
    "en": ("issued {issued} · figures as of {as_of} · valid until {until}", "(as named in the file)",
           "{claims} withheld by the resident"),
    "zh-Hant": ("簽發日期 {issued} · 數據截至 {as_of} · 有效至 {until}", "（檔案中的名稱）",
                "持有人隱藏了 {n} 項資料"),
    "zh-Hans": ("签发日期 {issued} · 数据截至 {as_of} · 有效期至 {until}", "（文件中的名称）",
                "持有人隐藏了 {n} 项信息"),
    "pt": ("emitido em {issued} · valores à data de {as_of} · válido até {until}", "(nome tal como no ficheiro)",
           "dados ocultados pelo titular: {n}"),
}


def _print(out: Console, path: Path, report: VerificationReport, shown: _Shown, language: str, verbose: bool,
           reveal: bool) -> None:
    dates, unlabelled, withheld = _WORDS[language]
    failed = report.failed
    verdict = "[green]VALID[/]" if report.valid else f"[red]INVALID[/]: {counted(len(failed), 'check')} failed"
    out.print(f"[bold]{escape(path.name)}[/]: {verdict}")
    for check in failed:
        out.print(f"  [red]✗ {check.name}[/]: {as_written(check.detail)}")
    if report.bundle is None:
        return
    header = report.bundle.header
    names = " · ".join(escape(n) for n in (shown.doc_type, shown.issuer) if n)
    codes = f"{header.doc_type}, {header.issuer_id}"
    out.print(f"  {names} ({codes})" if names else f"  {codes}")
    out.print("  " + dates.format(issued=moment(header.issued_at, language), as_of=moment(header.as_of, language),
                                  until=moment(header.not_after, language)))
    if shown.refused:
        out.print(f"  [yellow]labels not used[/]: {escape(shown.refused)}")
    disclosed = report.bundle.disclosed()
    order = shown.labels.order(disclosed) if shown.labels else list(disclosed)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column(overflow="fold")
    for name in order:
        if name == HOLDER_CLAIM:  # labelled by the reader itself, whatever the metadata says (as the page does)
            table.add_row(f"  {HOLDER_KEY[language]}", _one_line(holder_key(disclosed[name], language)))
            continue
        claim = shown.labels.claim(name) if shown.labels else None
        label = escape(claim.label[language]) if claim else f"{escape(name)} [dim]{unlabelled}[/]"
        table.add_row(f"  {label}", _one_line(claim_value(disclosed[name], claim, language, reveal)))
    out.print(table)
    if report.bundle.redacted_count:
        n = report.bundle.redacted_count
        out.print(f"  [dim]{withheld.format(n=n, claims=counted(n, 'claim'))}[/]")
    if verbose:
        checks = Table(Column("check", no_wrap=True), Column("result", no_wrap=True),
                       Column("detail", overflow="fold"), box=None, padding=(0, 2))
        colours = {Outcome.PASSED: "green", Outcome.FAILED: "red", Outcome.NOT_APPLICABLE: "dim"}
        for c in report.checks:
            checks.add_row(f"  {c.name}", f"[{colours[c.outcome]}]{c.outcome.value}[/]", as_written(c.detail))
        out.print(checks)


def _one_line(text: str) -> str:
    """A claim's value as :func:`~._shell.as_written` shows it, each run of white space one space, as a browser
    shows it: a value the issuer signed (an address its customer gave) starts no line of its own, by a line feed or
    by spaces filling the line, that reads as another claim's row."""
    return as_written(_SPACES.sub(" ", text))


_SPACES = re.compile(r"\s+")


def _read(path: Path, limit: int) -> bytes:
    """At most one byte more than ``limit``: enough for the reader to refuse a file too large, never all of it."""
    with path.open("rb") as file:
        return file.read(limit + 1)
