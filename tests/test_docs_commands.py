"""Every ``crossverify …`` command line in README.md and docs/*.md names real commands and options: each line of
a shell block, and each inline code span, is parsed against the command line's own definition (its command
path, its options and their choices, its number of arguments, its required options), so a newcomer who copies
one never meets "No such option" or "No such command". A ``…`` stands for what the reader fills in."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from crossverify.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ELIDED = "…"


@dataclass(frozen=True)
class Line:
    where: str
    text: str
    whole: bool = True  # a line to run; an inline span may name a command without its arguments


def command_lines(path: Path) -> list[Line]:
    """The crossverify invocations of a Markdown file: shell block lines (continuations joined, commands chained
    with && or ; split) and inline code spans."""
    text = path.read_text()
    found: list[Line] = []
    for block in re.finditer(r"```(?:sh|bash|shell|console)?\n(.*?)```", text, re.S):
        start = text[:block.start()].count("\n") + 2
        joined = re.sub(r"\\\n\s*", " ", block.group(1))
        for offset, line in enumerate(joined.splitlines()):
            for part in re.split(r"\s(?:&&|;|\|\|)\s", line):
                if re.match(r"\s*(\$ )?(\.venv/bin/)?crossverify\s", part):
                    found.append(Line(f"{path.name}:{start + offset}", part))
    for span in re.finditer(r"`((?:\.venv/bin/)?crossverify\s[^`]+)`", text):
        first = span.group(1).split()[1]
        if first in COMMANDS or first.startswith("-"):  # else prose: the EIP-712 domain's name, a log prefix
            found.append(Line(f"{path.name}:{text[:span.start()].count(chr(10)) + 1}", " ".join(span.group(1).split()),
                              whole=False))
    return found


def check(text: str, whole: bool = True) -> None:
    """Raise AssertionError if ``text`` would not parse as written (``whole``: with every argument it needs)."""
    text = re.sub(r"\s#\s.*$", "", text).strip()
    words = shlex.split(text.removeprefix("$ "))[1:]
    command: click.Command = main
    ctx = click.Context(main)
    elided = ELIDED in text or not whole
    positional = 0
    given: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and word not in ("-",):
            name = word.split("=", 1)[0]
            options = {o: p for p in command.params if isinstance(p, click.Option)
                       for o in [*p.opts, *p.secondary_opts]}
            if name == "--help":
                return
            assert name in options, f"{' '.join(ctx.command_path.split()[1:]) or 'crossverify'} has no option {name}"
            option = options[name]
            given.add(option.name or "")
            if not option.is_flag and not option.count and "=" not in word:
                i += 1
                value = words[i] if i < len(words) else ""
                if isinstance(option.type, click.Choice) and ELIDED not in value:
                    assert value in option.type.choices, f"{name} takes one of {option.type.choices}, not {value!r}"
        elif isinstance(command, click.Group) and not (ELIDED in word and command is not main):
            sub = command.get_command(ctx, word)
            if sub is None and word == ELIDED:
                return
            assert sub is not None, f"{ctx.command_path} has no command {word!r}"
            _required(command, given, elided)
            command, ctx, given = sub, click.Context(sub, parent=ctx, info_name=word), set()
        else:
            positional += 1
        i += 1
    assert not isinstance(command, click.Group) or elided or command.invoke_without_command, \
        f"{ctx.command_path} needs a command"
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if not any(a.nargs == -1 for a in arguments):
        assert positional <= sum(a.nargs for a in arguments), f"{ctx.command_path} takes {len(arguments)} arguments"
    if not elided:
        needed = sum(a.nargs if a.nargs > 0 else 1 for a in arguments if a.required)
        assert positional >= needed, f"{ctx.command_path} needs {needed} arguments"
    _required(command, given, elided)


def _required(command: click.Command, given: set[str], elided: bool) -> None:
    missing = [p.opts[-1] for p in command.params if isinstance(p, click.Option) and p.required
               and p.name not in given and p.envvar is None]
    assert elided or not missing, f"{command.name} needs {', '.join(missing)}"


LINES = [line for path in DOCUMENTS for line in command_lines(path)]


def test_the_documents_show_commands() -> None:
    assert len(LINES) > 40 and {line.where.split(":")[0] for line in LINES} >= {"README.md", "deploy.md"}


@pytest.mark.parametrize("line", LINES, ids=lambda line: line.where)
def test_each_command_line_parses_as_written(line: Line) -> None:
    try:
        check(line.text, line.whole)
    except AssertionError as exc:
        raise AssertionError(f"{line.where}: {line.text!r}: {exc}") from None


@pytest.mark.parametrize(("text", "fault"), [
    ("crossverify --config x.toml operator propose admit-issuer BNUMMOMX --admin 0x1 --doc-type DEPCERT --key k",
     "has no option --key"),
    ("crossverify issuer launch", "has no command 'launch'"),
    ("crossverify operator propose admit-member 0x1", "needs --role"),
    ("crossverify operator propose admit-member 0x1 --role banker", "takes one of"),
    ("crossverify verify", "needs 1 arguments"),
])
def test_the_check_catches_what_a_newcomer_would_meet(text: str, fault: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(fault)):
        check(text)


def _shell_block(path: Path, after: str) -> list[str]:
    """The commands of the first shell block after ``after`` in ``path``: continuations joined, comments and runs
    of spaces dropped."""
    text = path.read_text()
    block = re.search(r"```sh\n(.*?)```", text[text.index(after):], re.S)
    assert block is not None
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    return [" ".join(re.sub(r"\s#\s.*$", "", line).split()) for line in joined.strip().splitlines()]


def test_the_readme_runs_the_walkthrough_as_tested() -> None:
    """README's commands are docs/deploy.md's walk-through, which tests/node/test_walkthrough.py runs as written
    on a fresh Hardhat node: a newcomer who copies README's block runs exactly what was tested."""
    readme = _shell_block(ROOT / "README.md", "`examples/` holds one for every role")
    walkthrough = _shell_block(ROOT / "docs" / "deploy.md", "<!-- walk-through: run by tests/node/test_walkthrough.py")
    assert readme == walkthrough


PATHS = [(path.name, found) for path in DOCUMENTS for found in re.findall(
    r"`((?:src|tests|scripts|docs|examples|contracts|crossverify)/[^`\s]*)`", path.read_text())]


def test_the_documents_name_paths_that_exist() -> None:
    """Each file or folder of the checkout (or of the package: ``crossverify/…``) a document names in code exists,
    so that a reader sent to a test, a script or a module finds it."""
    assert len(PATHS) > 20
    missing = [f"{where}: {found}" for where, found in PATHS
               if not (ROOT / ("src/" if found.startswith("crossverify/") else "") / found).exists()]
    assert missing == []


def test_issue_help_names_every_member_of_an_input_certificate() -> None:
    """An issuer preparing its own file learns its shape from 'issuer issue --help': every member the reader takes."""
    reader = (ROOT / "src" / "crossverify" / "issuer" / "inputs.py").read_text()
    members = set(re.findall(r'item(?:\["|\.get\(")(\w+)"', reader)) | set(re.findall(r'"(\w+)" in item', reader))
    assert {"reference", "docType", "notAfter", "claims", "holderKey"} <= members
    issuer = main.get_command(click.Context(main), "issuer")
    assert isinstance(issuer, click.Group)
    issue = issuer.get_command(click.Context(issuer), "issue")
    assert issue is not None and issue.help is not None
    assert [m for m in sorted(members) if m not in issue.help] == []
