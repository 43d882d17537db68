"""``crossverify --help`` answers without loading the clients (web3, the chain, the stores): each command's module
is imported when that command runs, and the list's one-line help is each command's own."""

from __future__ import annotations

import subprocess
import sys

import click

from crossverify.cli import COMMANDS, main


def test_help_loads_no_client() -> None:
    code = ("import sys\nfrom crossverify.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('web3', 'eth_account', 'fastapi') "
            "or m.startswith(('crossverify.session', 'crossverify.chain', 'crossverify.cli.'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listing, loaded = run.stdout.rsplit("\n", 2)[0], run.stdout.rsplit("\n", 2)[1]
    assert "verify" in listing and "operator" in listing
    assert loaded == "['crossverify.cli._logs', 'crossverify.cli._shell']"


def test_the_list_shows_each_commands_own_help() -> None:
    ctx = click.Context(main)
    for name, (_, help) in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=500) == help, name
    assert main.get_command(ctx, "nothing") is None


def test_every_help_reads_as_plain_text() -> None:
    """Help is printed as written: no reStructuredText literals (``x``) meant for docstrings, at any depth."""
    ctx = click.Context(main)

    def texts(command: click.Command) -> list[str]:
        found = [command.help or "", *(p.help or "" for p in command.params if isinstance(p, click.Option))]
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                found += texts(sub)
        return found

    for name, (_, help) in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None
        assert not [t for t in [help, *texts(command)] if "``" in t], name
