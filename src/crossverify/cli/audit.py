"""``crossverify audit``: the regulator's index and report under their older name (the same commands as
``crossverify regulator sync`` and ``regulator report``)."""

from __future__ import annotations

import click

from .regulator import report, sync


@click.group()
def audit() -> None:
    """Regulator: index the registry's events and report on them (as 'regulator sync' and 'report')."""


audit.add_command(sync)
audit.add_command(report)
