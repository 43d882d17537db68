"""``crossverify demo``: the whole story on the embedded chain."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from rich.console import Console

from ..demo import run_demo, softhsm_signing_keys
from ._shell import App, command


@click.command("demo")
@click.option("--certificates", type=int, default=1000, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True)
@click.option("--hsm", is_flag=True, help="Keep the issuers' signing keys in a SoftHSM2 token (PKCS#11) under OUT.")
@command
def demo(app: App, certificates: int, out: Path, hsm: bool) -> None:
    """Run the whole story on the embedded chain: admit, issue, redact, verify, fail, audit."""
    shutil.rmtree(out, ignore_errors=True)
    keys = softhsm_signing_keys(out / "softhsm") if hsm else None
    run_demo(out, certificates, Console(width=None if sys.stdout.isatty() else 120), signing_key=keys)
