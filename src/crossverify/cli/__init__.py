"""The ``crossverify`` command: a thin shell over the role clients, one module per command group.

Every command gets an :class:`~crossverify.cli._shell.App` whose :class:`~crossverify.session.Session` builds
the clients from the TOML configuration (and ``CROSSVERIFY_<SECTION>_<KEY>`` overrides). Exit codes: 0 success
(for ``verify``: every bundle valid), 1 invalid or refused, 2 unusable input or configuration, 3 the node, the
registry or local storage unavailable (see :mod:`crossverify.cli._shell`).
"""

from __future__ import annotations

import click

from ..config import Config
from ..session import Session
from . import audit, demo, dispute, holder, issuer, keys, operator, regulator, serve, store, verify
from ._logs import log_as_json
from ._shell import App, failures


@click.group()
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
    if log_json:
        log_as_json()
    with failures():
        session = Session(Config.load(config_path), lambda text: click.prompt(text, hide_input=True))
    ctx.obj = App(session, as_json)
    ctx.call_on_close(session.close)


main.add_command(keys.keys)
main.add_command(operator.operator)
main.add_command(issuer.issuer)
main.add_command(verify.verify)
main.add_command(verify.challenge)
main.add_command(holder.holder)
main.add_command(dispute.dispute)
main.add_command(audit.audit)
main.add_command(regulator.regulator)
main.add_command(demo.demo)
main.add_command(serve.serve)
main.add_command(store.store)
