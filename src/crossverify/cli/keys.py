"""``crossverify keys``: create encrypted keystore files."""

from __future__ import annotations

from pathlib import Path

import click
from eth_account import Account

from ..keys.keystore import write_keystore
from ._shell import App, BadInput, command


@click.group()
def keys() -> None:
    """Create encrypted keystore files."""


@keys.command("new")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.password_option(envvar="CROSSVERIFY_PASSWORD", help="Keystore password (env: CROSSVERIFY_PASSWORD).")
@command
def keys_new(app: App, path: Path, password: str) -> None:
    """Generate a key and write it encrypted to PATH."""
    if path.exists():
        raise BadInput(f"{path} exists; not overwriting a key")
    account = Account.create()
    write_keystore(account, path, password)
    app.emit({"address": account.address, "keystore": path}, f"{account.address} -> {path}")
