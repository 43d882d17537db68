"""``crossverify holder``: the resident's own commands: a key of their own, redaction, and presentations.

None of these needs a node or a configuration: they read and write the resident's files only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from rich.table import Table

from ..errors import KeyLoadError
from ..format.bundle import Bundle, load_bundle
from ..format.certificate import Claim
from ..format.holder import HOLDER_CLAIM, holder_claim, public_jwk
from ..format.presentation import DEFAULT_LIFETIME, MAX_LIFETIME, load_challenge, present
from ..format.suite import Suite
from ..keys.holder import generate_holder_key, load_holder_key, write_holder_key
from ._shell import App, BadInput, command

PASSWORD_ENV = "CROSSVERIFY_HOLDER_PASSWORD"


@click.group()
def holder() -> None:
    """The resident's commands: create a key, inspect and redact a bundle, answer a bank's challenge."""


@holder.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--suite", type=click.Choice(["standard", "gm"]), default="standard", show_default=True,
              help="The crypto suite of the issuer's consortium: a P-256 key, or an SM2 key (GM).")
@click.option("--claim", "claim_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the public claim to this file, for the issuer's input (its holderKey).")
@command
def keygen(app: App, path: Path, suite: str, claim_file: Path | None) -> None:
    """Create a key in PATH (mode 0600; encrypted if $CROSSVERIFY_HOLDER_PASSWORD is set) and print the claim to
    hand the issuer."""
    if claim_file is not None and claim_file.exists():
        raise BadInput(f"{claim_file} exists; not overwriting a claim the issuer may read")
    key = generate_holder_key(Suite.named(suite))
    password = os.environ.get(PASSWORD_ENV)
    write_holder_key(key, path, password)
    claim = {HOLDER_CLAIM: holder_claim(key.public_key())}
    if claim_file is not None:
        claim_file.write_text(json.dumps(claim) + "\n")
    handed = f"the file {claim_file}" if claim_file is not None else "this claim"
    sealed = "encrypted with your password" if password else f"NOT encrypted: set ${PASSWORD_ENV} to encrypt it"
    app.emit({"key": path, "encrypted": bool(password), **claim},
             f"{path} written, {sealed} (keep it private). Hand the issuer {handed}:\n{json.dumps(claim)}")


@holder.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@command
def show(app: App, path: Path) -> None:
    """Show a holder key's public claim, or a bundle's claims (disclosed, redacted) and holder binding."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN") or b'"crypto": "sm2"' in data:
        key = load_holder_key(path, os.environ.get(PASSWORD_ENV))
        claim = {HOLDER_CLAIM: holder_claim(key.public_key())}
        app.emit(claim, json.dumps(claim))
        return
    bundle = load_bundle(data)
    table = Table(title=f"{bundle.header.doc_type} from {bundle.header.issuer_id}", title_justify="left")
    table.add_column("claim")
    table.add_column("value", overflow="fold")
    for c in bundle.claims:
        if isinstance(c, Claim):
            table.add_row(c.name, json.dumps(c.value, ensure_ascii=False))
        else:
            table.add_row("[dim](redacted)[/]", f"[dim]0x{c.leaf_hash.hex()}[/]")
    bound = HOLDER_CLAIM in bundle.disclosed()
    app.emit({"docType": bundle.header.doc_type, "issuer": bundle.header.issuer_id, "disclosed": bundle.disclosed(),
              "redacted": bundle.redacted_count, "holderBound": bound}, table)


@holder.command("redact")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--claim", "claims", multiple=True, required=True, help="A claim to withhold (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@command
def redact(app: App, bundle: Path, claims: tuple[str, ...], out: Path) -> None:
    """Withhold claims from BUNDLE; the copy written to --out still verifies."""
    redacted = _redacted(load_bundle(bundle.read_bytes()), claims)
    _write_new(out, redacted.dumps())
    app.emit({"out": out, "disclosed": sorted(redacted.disclosed())}, f"{out}: {redacted.redacted_count} redacted")


@holder.command("present")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The holder key file the certificate names.")
@click.option("--challenge", required=True, help="The bank's challenge: a file, or its JSON text.")
@click.option("--redact", "claims", multiple=True, help="A claim to withhold first (repeatable).")
@click.option("--lifetime", type=click.IntRange(1, MAX_LIFETIME), default=DEFAULT_LIFETIME, show_default=True,
              help="Seconds the presentation stays valid (never past the challenge's expiry).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@command
def present_cmd(app: App, bundle: Path, key_path: Path, challenge: str, claims: tuple[str, ...], lifetime: int,
                out: Path) -> None:
    """Answer a bank's CHALLENGE with BUNDLE, signed with your key: valid at that bank, once, for a short time."""
    source = Path(challenge)
    if not source.is_file() and not challenge.lstrip().startswith("{"):
        raise BadInput(f"--challenge: no file {challenge} (nor a challenge's JSON text)")
    text = source.read_text() if source.is_file() else challenge
    asked = load_challenge(text)
    try:
        key = load_holder_key(key_path, os.environ.get(PASSWORD_ENV))
    except KeyLoadError as exc:
        raise BadInput(str(exc)) from None
    p = present(_redacted(load_bundle(bundle.read_bytes()), claims), asked, key, int(time.time()), lifetime)
    _write_new(out, p.dumps())
    app.emit({"out": out, "aud": asked.aud, "purpose": asked.purpose, "disclosed": list(p.binding.disclosed),
              "expiresAt": p.binding.exp, "holderKey": public_jwk(key.public_key())},
             f"{out}: for {asked.aud}, purpose {asked.purpose}, disclosing {', '.join(p.binding.disclosed)}; "
             f"valid {p.binding.exp - p.binding.iat} s")


def _redacted(bundle: Bundle, claims: tuple[str, ...]) -> Bundle:
    try:
        return bundle.redact(claims)
    except KeyError as exc:
        raise BadInput(str(exc.args[0])) from None


def _write_new(path: Path, text: str) -> None:
    if path.exists():
        raise BadInput(f"{path} exists; not overwriting")
    path.write_text(text)
