"""``crossverify serve new-key``: the line to paste into the configuration stays one line, at any terminal width."""

from __future__ import annotations

import tomllib
from pathlib import Path

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


def test_configuration_sections_are_printed_as_written(tmp_path: Path) -> None:
    """A human message that names a configuration section ("[regulator] key_files") prints it whole: the text
    is not read as terminal markup, which would swallow the section."""
    config = tmp_path / "crossverify.toml"
    config.write_text('[keys]\ndev_mode = true\nsigner_private_key = "0x' + "11" * 32 + '"\n')
    made = CliRunner().invoke(main, ["--config", str(config), "regulator", "keygen", "--out", str(tmp_path / "r.key")],
                              catch_exceptions=False)
    assert made.exit_code == 0 and "add it to [regulator] key_files" in made.output, made.output
    listed = CliRunner().invoke(main, ["--config", str(config), "keys", "list"], catch_exceptions=False)
    assert listed.exit_code == 0 and "[keys] signer_private_key" in listed.output, listed.output


def test_any_name_gives_a_line_that_pastes_as_toml() -> None:
    for name in ("bank a", "x[bold]y", "銀行"):
        result = CliRunner().invoke(main, ["serve", "new-key", name, "--role", "bank"], catch_exceptions=False)
        lines = result.output.splitlines()
        key = lines[1].strip()
        assert tomllib.loads(lines[lines.index("Add to [service.api_keys]:") + 1]) == {name: f"bank {key_digest(key)}"}


def test_a_new_keystore_without_a_terminal_or_password_names_the_variable(tmp_path: Path) -> None:
    """A script (no terminal to type at) that forgot the password gets a one-line error naming where it goes, not
    'Aborted!' after a prompt nobody can answer, and no file."""
    made = CliRunner().invoke(main, ["keys", "new", str(tmp_path / "bank.json")], env={"CROSSVERIFY_PASSWORD": None})
    assert made.exit_code == 2 and "CROSSVERIFY_PASSWORD" in made.output, made.output
    assert not (tmp_path / "bank.json").exists()
