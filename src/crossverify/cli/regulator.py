"""``crossverify regulator``: the regulator's sealing keys, the opened circulation trail, and the audit report
with it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from ..format.bundle import load_bundle
from ..format.display import counted
from ..format.encoding import from_hex, to_hex, utc_minute
from ..format.metadata import LANGUAGES
from ..format.presentation import load_presentation, looks_like_presentation
from ..regulator.anomalies import KINDS
from ..regulator.export import to_csv, to_html, to_json
from ..regulator.index import Freshness
from ..regulator.words import Names
from ..sealing import Kem, RegulatorKey
from ._shell import App, BadInput, as_written, command

KEMS = {"x25519": Kem.X25519, "mlkem768-x25519": Kem.MLKEM768_X25519, "sm2": Kem.SM2}


@click.group()
def regulator() -> None:
    """Regulator: sealing keys, the circulation trail of a document, and the audit report."""


@regulator.command("keygen")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The new key file.")
@click.option("--kem", type=click.Choice(list(KEMS)), default="x25519", show_default=True,
              help="X25519, or the post-quantum hybrid ML-KEM-768 + X25519 (the standard suite); SM2 (the GM "
                   "suite).")
@command
def keygen(app: App, out: Path, kem: str) -> None:
    """Create a sealing key in OUT (mode 0600; encrypted when [regulator] password_env names a set variable) and
    its public half beside it (OUT with .pub.json), for the operators' 'operator propose regulator-keys'."""
    key = RegulatorKey.generate(KEMS[kem])
    public, public_file = key.public_key, out.with_suffix(".pub.json")
    if public_file.exists():
        raise BadInput(f"{public_file} exists; not overwriting it")
    key.write(out, os.environ.get(app.session.config.regulator.password_env))
    public_file.write_text(json.dumps(public.to_json()) + "\n")
    app.emit({"key": out, "publicKeyFile": public_file, **public.to_json(), "keyId": to_hex(public.key_id)},
             f"{out} written (keep it private; add it to [regulator] key_files); its public half is in "
             f"{public_file}, for the operators' proposal: operator propose regulator-keys --key "
             f"{public_file}@JURISDICTION")


@regulator.group("key")
def key() -> None:
    """The regulator's configured sealing keys."""


@key.command("show")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@command
def key_show(app: App, path: Path | None) -> None:
    """Show the public half and key id of PATH, or of every key in [regulator] key_files."""
    settings = app.session.config.regulator
    if path is not None:
        keys = [(path, RegulatorKey.read(path, os.environ.get(settings.password_env)))]
    else:
        keys = list(zip(settings.key_files, app.session.regulator_keys, strict=True))
    shown = [{"file": str(p), **k.public_key.to_json(), "keyId": to_hex(k.public_key.key_id)} for p, k in keys]
    table = Table("file", "kem", "key id", "public key")
    for s in shown:
        table.add_row(s["file"], s["kem"], s["keyId"], s["public"])
    app.emit(shown, table)


def _sync(app: App) -> tuple[dict[str, Any], str]:
    """Index new events (and with the regulator's keys open the new sealed ones); what was read, as data and as
    a sentence."""
    session = app.session
    with Progress(console=app.console, transient=True, disable=not app.console.is_terminal) as progress:
        task = progress.add_task("reading events", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if session.opens_circulation:
            indexed, opened = session.trail.sync(advance)
        else:
            indexed, opened = session.regulator.sync(advance), None
    rewound = (f" (first rewound {counted(indexed.rewound, 'event')} from blocks that left the chain)"
               if indexed.rewound else "")
    said = f"indexed {counted(indexed.events, 'event')} from blocks {indexed.from_block}-{indexed.to_block}{rewound}"
    data: dict[str, Any] = {"fromBlock": indexed.from_block, "toBlock": indexed.to_block,
                            "events": indexed.events, "rewound": indexed.rewound}
    if indexed.followed is not None:
        before = session.regulator.registries()[-2]
        said = (f"followed the registry succession from {before.registry} (chain {before.chain_id}) to "
                f"{indexed.followed.registry} (chain {indexed.followed.chain_id}), recorded by its consortium at "
                f"{utc_minute(before.recorded_at)} UTC; the history so far stays in this index\n{said}")
        data["followed"] = indexed.followed.as_json()
    if opened is not None:
        data |= {"receipts": opened.receipts, "disputes": opened.disputes, "unreadable": opened.unreadable}
        said += (f"; opened {counted(opened.receipts, 'receipt')} and {counted(opened.disputes, 'dispute event')} "
                 f"({opened.unreadable} unreadable)")
    return data, said


def _fresh(app: App, sync_first: bool) -> Freshness:
    """Sync first if asked; refuse an index that was never synced; say how far it is behind the chain (as a
    line on stderr; ``--json`` output carries it instead)."""
    if sync_first:
        _, said = _sync(app)
        if not app.as_json:
            app.console.print(said)
    session = app.session
    session.regulator.require_synced()
    if session.opens_circulation:
        session.trail.open_new()
    freshness = session.regulator.freshness()
    if not app.as_json:
        app.console.print(f"[dim]{freshness.describe()}[/]")
    return freshness


SYNC_FIRST = click.option("--sync", "sync_first", is_flag=True, help="Sync the index with the chain first.")


@regulator.command("sync")
@command
def sync(app: App) -> None:
    """Read new events into the index; with the regulator's keys ([regulator] key_files), open the new sealed
    receipts and disputes too."""
    data, said = _sync(app)
    freshness = app.session.regulator.freshness()
    app.emit(data | {"freshness": freshness.as_json()}, f"{said}\n{freshness.describe()}")


@regulator.command("report")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--language", type=click.Choice(LANGUAGES),
              help="The HTML report's language (default: [display] language); CSV and JSON keep codes.")
@SYNC_FIRST
@command
def report(app: App, fmt: str, out: Path | None, language: str | None, sync_first: bool) -> None:
    """Issued, revoked and verified per issuer, verifier, type and day; anomalies by kind (count, meaning, what
    to do, first examples); governance changes; with the regulator's keys, the circulation trail too: receipts
    per bank, purpose and day, consent, disputes. The HTML page names issuers and document types by their
    registered display metadata and banks by [regulator] bank_names. With --json: the JSON report, or with --out
    where it was written."""
    if app.as_json and out is None and fmt != "json":
        raise BadInput(f"--json prints JSON only: give --format json, or --out for the {fmt} report")
    _fresh(app, sync_first)
    supervision = app.session.supervision
    found = supervision.report()
    if fmt == "html":
        names = Names.registered(app.session.metadata, supervision.issued_types(),
                                 app.session.config.regulator.bank_names)
        text = to_html(found, language or app.session.config.display.language, names)
    else:
        text = {"csv": to_csv, "json": to_json}[fmt](found)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        if app.as_json:
            app.emit({"format": fmt, "out": out, "freshness": found.freshness}, "")
        else:
            app.console.print(f"{fmt} report written to {out}")


@regulator.command("circulation")
@click.argument("document")
@SYNC_FIRST
@command
def circulation(app: App, document: str, sync_first: bool) -> None:
    """Who verified DOCUMENT, for what, with whose consent; its anchoring, revocation, disputes and anomalies, on
    one timeline. DOCUMENT is a document digest (0x and 64 hex digits) or a bundle or presentation file."""
    digest = document_digest(document)
    _ = app.session.trail  # refused by name first: no key, nothing to open
    freshness = _fresh(app, sync_first)
    found = app.session.supervision.timeline(digest) | {"freshness": freshness.as_json()}
    table = Table("when", "what", "who", "details", title_justify="left", title=f"circulation of {to_hex(digest)}")
    for e in found["events"]:
        table.add_row(utc_minute(e["at"]), *_timeline_row(e))
    for a in found["anomalies"]:
        table.add_row(utc_minute(a["raisedAt"]), f"[red]anomaly: {a['kind'].replace('_', ' ')}[/]", a["bank"],
                      KINDS[a["kind"]].title)
    app.emit(found, table)


def _timeline_row(e: dict[str, Any]) -> tuple[str, str, str]:
    """What happened, who did it, and the details, for one event of a document's timeline (text an institution
    chose, a bank's purpose code or case reference, shown as written: not as the table's markup)."""
    if e["event"] == "anchored":
        return "anchored", as_written(e["issuer"]), (f"{as_written(e['docType'])}, batch of {e['documents']:,}, "
                                                     f"valid to {utc_minute(e['notAfter'])}")
    if e["event"] == "verified":
        consent = ("consent: a presentation the resident signed" if e["consent"] == "presentation" else
                   f"consent: in person, case {as_written(e['case'])}" if e["consent"] == "in_person" else
                   "[red]consent: NONE stated[/]")
        return "verified", e["verifier"], (f"{as_written(e['purpose'])} ({as_written(e['purposeInWords'])}); "
                                           f"{consent}; {e['member']}")
    if e["event"] == "revoked":
        return "revoked", as_written(e["issuer"]), f"{e['scope']}, {e['reason']}" + (
            "" if e["counted"] else " [red](does not count)[/]")
    if e["event"] == "disputed":
        return "disputed", e["verifier"], f"{e['reason']}; now {e['state'].replace('_', ' ')}"
    signed = "signed by the issuer" if e["signedByIssuer"] else "[red]not signed by the issuer[/]"
    return "answered", e.get("signer") or "", f"{e['answer'].replace('_', ' ')}, {signed}"


def document_digest(document: str) -> bytes:
    """The digest given, or the document digest of a bundle or presentation file."""
    if document.startswith("0x"):
        return from_hex(document, 32)
    path = Path(document)
    if not path.is_file():
        raise BadInput(f"{document} is neither a document digest (0x and 64 hex digits) nor a file")
    data = path.read_bytes()
    bundle = load_presentation(data).bundle if looks_like_presentation(data) else load_bundle(data)
    return bundle.document_digest()
