"""``crossverify serve new-key``: the line to paste into the configuration stays one line, at any terminal width."""

from __future__ import annotations

import tomllib

from click.testing import CliRunner

from crossverify.cli import main
from crossverify.service.auth import key_digest


def test_the_configuration_line_survives_a_narrow_terminal() -> None:
    result = CliRunner().invoke(main, ["serve", "new-key", "guangdong-bank-a", "--role", "bank"],
                                env={"COLUMNS": "40"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    key = lines[lines.index("API key for guangdong-bank-a (give it to them once; it is not stored):") + 1].strip()
    pasted = lines[lines.index("Add to [service.api_keys]:") + 1].strip()
    assert tomllib.loads(pasted) == {"guangdong-bank-a": f"bank {key_digest(key)}"}


def test_any_name_gives_a_line_that_pastes_as_toml() -> None:
    for name in ("bank a", "x[bold]y", "銀行"):
        result = CliRunner().invoke(main, ["serve", "new-key", name, "--role", "bank"], catch_exceptions=False)
        lines = result.output.splitlines()
        key = lines[1].strip()
        assert tomllib.loads(lines[lines.index("Add to [service.api_keys]:") + 1]) == {name: f"bank {key_digest(key)}"}
