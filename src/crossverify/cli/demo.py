"""``crossverify demo``: the whole story on the embedded chain."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from ..demo import run_demo, softhsm_signing_keys
from ..format.suite import Suite
from ._shell import App, BadInput, command, demo_folder


@click.command("demo")
@click.option("--certificates", type=click.IntRange(min=12), default=1000, show_default=True,
              help="How many to issue (at least 12: the story's failures take five of BNU's 40%).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True,
              help="Where the report and the demo's files are written: a new or empty folder, or an earlier demo's "
                   "(emptied first).")
@click.option("--hsm", is_flag=True, help="Keep the issuers' signing keys in a SoftHSM2 token (PKCS#11) under OUT.")
@click.option("--suite", type=click.Choice(["standard", "gm"]), default="standard", show_default=True,
              help="The consortium's crypto suite: keccak-256, secp256k1, P-256 and X25519 + AES-GCM; or GM (SM3, "
                   "SM2, SM4).")
@command
def demo(app: App, certificates: int, out: Path, hsm: bool, suite: str) -> None:
    """Run the whole story on the embedded chain: admit, issue, redact, verify, fail, audit. With --json the story
    goes to stderr, and stdout gets what it did as one JSON document."""
    if hsm and suite == "gm":
        raise BadInput("--hsm keeps secp256k1 keys in SoftHSM2, which has no SM2: run the GM suite without --hsm")
    demo_folder(out)
    keys = softhsm_signing_keys(out / "softhsm") if hsm else None
    story = app.console if app.as_json else Console(width=None if sys.stdout.isatty() else 120)  # (--json: stderr)
    result = run_demo(out, certificates, story, signing_key=keys, suite=Suite.named(suite))
    if app.as_json:
        assert result.report is not None
        app.emit({"out": out, "suite": suite, "registry": result.registry_address,
                  "circulation": result.circulation_address, "issued": result.issued,
                  "genuineValid": result.genuine_valid,
                  "failures": [{"presented": presented, "check": check, "why": why}
                               for presented, check, why in result.failures],
                  "anomalies": {group["kind"]: group["count"] for group in result.report.anomalies},
                  "report": out / "audit-report.html", "reportJson": out / "audit-report.json",
                  "seconds": round(result.seconds, 1)}, "")
