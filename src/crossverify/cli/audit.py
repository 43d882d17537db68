"""``crossverify audit``: the regulator indexes the registry's events and reports on them."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress

from ..regulator.export import to_csv, to_html, to_json
from ._shell import App, command


@click.group()
def audit() -> None:
    """Regulator: index the registry's events and report on them."""


@audit.command("sync")
@command
def audit_sync(app: App) -> None:
    """Read new events into the local index (resumes where the last sync stopped)."""
    reader = app.session.regulator
    with Progress(console=app.console, transient=True) as progress:
        task = progress.add_task("reading events", total=None)
        report = reader.sync(lambda done, total: progress.update(task, completed=done, total=total))
    rewound = f" (first rewound {report.rewound} events from blocks that left the chain)" if report.rewound else ""
    app.emit({"fromBlock": report.from_block, "toBlock": report.to_block, "events": report.events,
              "rewound": report.rewound},
             f"indexed {report.events} events from blocks {report.from_block}-{report.to_block}{rewound}")


@audit.command("report")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@command
def audit_report(app: App, fmt: str, out: Path | None) -> None:
    """Issued, revoked and verified per issuer, verifier, type and day; anomalies; governance changes."""
    report = app.session.regulator.report()
    text = {"html": to_html, "csv": to_csv, "json": to_json}[fmt](report)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text)
        app.console.print(f"{fmt} report written to {out}")
