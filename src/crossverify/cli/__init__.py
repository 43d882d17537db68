"""The ``crossverify`` command: a thin shell over the role clients, one module per command group.

Every command gets an :class:`~crossverify.cli._shell.App` whose :class:`~crossverify.session.Session` builds
the clients from the TOML configuration (and ``CROSSVERIFY_<SECTION>_<KEY>`` overrides). Exit codes: 0 success
(for ``verify``: every bundle valid), 1 invalid or refused, 2 unusable input or configuration, 3 the node, the
registry or local storage unavailable (see :mod:`crossverify.cli._shell`).

A command's module is imported when that command runs, so ``crossverify --help`` loads neither web3 nor the
clients: :data:`COMMANDS` gives each command's one-line help for the list (a test keeps it equal to the
command's own).
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

from ._logs import log_as_json
from ._shell import App, failures

#: Each command, in the order ``--help`` lists them: (its module in this package, its one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "keys": ("keys", "Create keys (keystore files, or inside an HSM) and show which keys the configuration uses."),
    "operator": ("operator", "Consortium operator: deploy, propose, approve, relay."),
    "issuer": ("issuer", "Macao issuer: journal certificates, anchor batches, deliver bundles, revoke, manage keys."),
    "verify": ("verify", "Check bundles or presentations a resident handed over: the verdict first, then any "
                         "failed check with its reason, then the disclosed claims by their registered labels."),
    "challenge": ("verify", "Issue a one-time challenge for a resident's session (needs [verifier] audience; no "
                            "node)."),
    "holder": ("holder", "The resident's commands: create a key, inspect and redact a bundle, answer a bank's "
                         "challenge."),
    "dispute": ("dispute", "Disputes: a bank opens one and reads the answer; the issuer concerned lists and answers "
                           "them."),
    "audit": ("audit", "Regulator: index the registry's events and report on them (as 'regulator sync' and "
                       "'report')."),
    "regulator": ("regulator", "Regulator: sealing keys, the circulation trail of a document, and the audit "
                               "report."),
    "demo": ("demo", "Run the whole story on the embedded chain: admit, issue, redact, verify, fail, audit."),
    "serve": ("serve", "Serve the API (OpenAPI at /docs); for a bank, the resident page (/resident/); for a "
                       "regulator, the console (/regulator/)."),
    "store": ("store", "The stores: check, migrate, copy into PostgreSQL ([storage] url; unset: the SQLite files)."),
}


class _Commands(click.Group):
    """Commands imported on first use; the list shows :data:`COMMANDS`' help without importing them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command = getattr(import_module(f"{__name__}.{COMMANDS[cmd_name][0]}"), cmd_name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help) for name, (_, help) in COMMANDS.items()])


@click.group(cls=_Commands)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="CROSSVERIFY_CONFIG",
              help="TOML configuration (env: CROSSVERIFY_CONFIG). Any setting can be overridden as "
                   "CROSSVERIFY_<SECTION>_<KEY>.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--log-json", is_flag=True, envvar="CROSSVERIFY_LOG_JSON",
              help="Log each step of long-running commands to stderr as JSON lines (no personal data).")
@click.version_option(package_name="crossverify", prog_name="crossverify", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, as_json: bool, log_json: bool) -> None:
    """crossverify: anchor, verify and audit cross-border certificates."""
    from ..config import Config
    from ..session import Session

    if log_json:
        log_as_json()
    with failures():
        # a keystore password is asked for on a terminal only; without one, KeyLoadError names the variable (exit 2)
        ask = (lambda text: click.prompt(text, hide_input=True)) if sys.stdin.isatty() else None
        session = Session(Config.load(config_path), ask)
    ctx.obj = App(session, as_json)
    ctx.call_on_close(session.close)
