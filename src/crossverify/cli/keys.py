"""``crossverify keys``: create keys (keystore files, or inside an HSM) and show which keys a configuration uses."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click
from eth_account import Account

from ..keys.keystore import write_keystore
from ..keys.pkcs11 import generate_token_key, read_pin
from ..keys.sm2 import LocalSM2Key
from ..session import token_ref
from ._shell import App, BadInput, command


@click.group()
def keys() -> None:
    """Create keys (keystore files, or inside an HSM) and show which keys the configuration uses."""


@keys.command("new")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hsm", is_flag=True,
              help="Generate the key inside the PKCS#11 token named by [keys.<role>_pkcs11]; it never leaves it.")
@click.option("--role", type=click.Choice(["signer", "sender"]), default="signer", show_default=True,
              help="With --hsm: whose token settings to use.")
@click.option("--label", help="With --hsm: the new key's label instead of the configured one (a successor key).")
@click.option("--password", envvar="CROSSVERIFY_PASSWORD", help="Keystore password (env: CROSSVERIFY_PASSWORD).")
@click.option("--suite", type=click.Choice(["standard", "gm"]), default="standard", show_default=True,
              help="An Ethereum (secp256k1) key, or an SM2 signing key for a GM deployment (a keystore of SM3, "
                   "SM4 and PBKDF2-HMAC-SM3).")
@command
def keys_new(app: App, path: Path | None, hsm: bool, role: str, label: str | None, password: str | None,
             suite: str) -> None:
    """Generate a key: encrypted into the keystore file PATH, or with --hsm inside the token."""
    if hsm:
        if path is not None:
            raise BadInput("--hsm keeps the key in the token: give no PATH")
        if suite == "gm":
            raise BadInput("--hsm generates a secp256k1 key: an SM2 key in a token is made with its vendor's tools")
        config = app.session.config
        settings = config.need(getattr(config.keys, f"{role}_pkcs11"), f"keys.{role}_pkcs11")
        if label is not None:
            settings = replace(settings, label=label)
        account = generate_token_key(token_ref(settings), read_pin(settings.pin_env, settings.pin_file))
        app.emit({"address": account.address, "module": settings.module, "token": settings.token,
                  "label": settings.label},
                 f"{account.address} generated in token {settings.token!r} as {settings.label!r} (not extractable)")
        return
    if path is None:
        raise BadInput("give the keystore file PATH, or --hsm")
    if label is not None:
        raise BadInput("--label names a key inside a token: use it with --hsm")
    if path.exists():
        raise BadInput(f"{path} exists; not overwriting a key")
    if password is None and not sys.stdin.isatty():
        raise BadInput(f"no password for {path}: set CROSSVERIFY_PASSWORD (or give --password)")
    if password is None:
        password = click.prompt("Keystore password", hide_input=True, confirmation_prompt=True)
    if suite == "gm":
        sm2 = LocalSM2Key.generate()
        sm2.write_keystore(path, password)
        app.emit({"address": sm2.address, "keystore": path, "suite": "gm"}, f"{sm2.address} (SM2) -> {path}")
        return
    account = Account.create()
    write_keystore(account, path, password)
    app.emit({"address": account.address, "keystore": path}, f"{account.address} -> {path}")


@keys.command("list")
@command
def keys_list(app: App) -> None:
    """Which keys the configuration uses and where they live (reads addresses without passwords or PINs)."""
    found = [entry for role in ("signer", "sender") if (entry := app.session.describe_key(role)) is not None]
    said = "\n".join(f"{e['role']}  {e['address']}\n  {e['kind']}: {e['where']}" for e in found)
    app.emit(found, said or "the configuration names no keys")
