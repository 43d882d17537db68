"""What every command shares: the context object, output, and errors turned into exit codes.

Exit codes, for scripts to rely on:

- 0: success (for ``verify``: every bundle valid);
- 1: invalid, or refused: a bundle failed a check, the registry reverted, a transaction failed;
- 2: unusable input or configuration (a bad file, setting, key or password, a reference or digest the
  journal does not know, a regulator's index never synced); nothing was done;
- 3: the node, the registry, the HSM or local storage is unavailable (unreachable, no code at the address, a
  token that stopped signing, a store locked by another process, a full or read-only disk); nothing was lost,
  run again once it is back.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from ..errors import (
    UNAVAILABLE,
    BundleError,
    ConfigError,
    CrossverifyError,
    DomainMismatch,
    IndexNotSynced,
    JournalError,
    KeyLoadError,
    SealingError,
    TokenError,
)
from ..format.encoding import to_hex

if TYPE_CHECKING:
    from ..session import Session

F = TypeVar("F", bound=Callable[..., Any])


#: Control characters but the line feed.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character but the line feed written out (``\\x1b``): text from a file (a claim
    value, a member's name quoted in an error) goes to a terminal, which would obey it (move the cursor, rewrite
    what is above it: a verdict)."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found[0]):02x}", text)


def as_written(text: str) -> str:
    """Text from a file or the chain (a member's name, a bank's case reference) as rich markup that shows it as
    written, control characters written out: none moves the reader's cursor or rewrites what is above it."""
    return escape(printable(text))


class _Said(click.ClickException):
    """An error whose message may quote a file: said with :func:`printable`."""

    def format_message(self) -> str:
        return printable(self.message)


class Failure(_Said):
    """A registry, node or verification failure (exit 1)."""

    exit_code = 1


class BadInput(_Said):
    """Unusable input or configuration (exit 2)."""

    exit_code = 2


class Unavailable(_Said):
    """The node, the registry or local storage is unavailable (exit 3)."""

    exit_code = 3



class _Address(click.ParamType[str, str]):
    """An account address: 0x and 40 hex digits, checksummed. One written in mixed case must pass its EIP-55
    checksum: a mistyped character would otherwise name another account (an admin or an operator seat nobody
    holds)."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from eth_utils.address import is_checksum_address, to_checksum_address

        if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
            self.fail(f"expected an account address (0x and 40 hex digits), got {value!r}", param, ctx)
        if value[2:] not in (value[2:].lower(), value[2:].upper()) and not is_checksum_address(value):
            self.fail(f"{value} fails its EIP-55 checksum (its letters' case): a character is mistyped", param, ctx)
        return to_checksum_address(value)


ADDRESS = _Address()


#: The file that marks a folder as a demo's own, which the next demo may empty.
DEMO_MARK = ".crossverify-demo"


def demo_folder(out: Path) -> Path:
    """``out`` emptied for a demo and marked as its own; refused if it holds anything a demo did not write, so that
    a mistyped ``--out`` (``.``, a home folder) never deletes a person's files."""
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_MARK).exists():
        raise BadInput(f"{out} is not empty and not a demo's folder (an earlier version's: remove it yourself): give "
                       "--out a new or empty folder, which the demo empties each time")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / DEMO_MARK).write_text("written by crossverify's demo, which empties this folder each time it runs\n")
    return out


@dataclass
class App:
    """The context object: the session that builds clients from the configuration, and the output mode."""

    session: Session
    as_json: bool
    console: Console = field(default_factory=lambda: Console(stderr=True))

    def emit(self, data: Any, human: str | Table) -> None:
        """Print ``data`` as JSON with ``--json``, else the human form."""
        if self.as_json:
            click.echo(json.dumps(data, indent=1, default=_jsonable))
        else:
            text = isinstance(human, str)  # text is said as written (never read as markup), never cut into lines
            console = Console()
            if not text and not console.is_terminal:  # a table into a file or a pipe: whole, however wide
                widest = Measurement.get(console, console.options.update_width(1 << 16), human).maximum
                console = Console(width=max(console.width, widest))
            console.print(human, soft_wrap=text, markup=not text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot show {type(value).__name__}")


@contextmanager
def failures() -> Iterator[None]:
    """Map errors to the exit codes above."""
    try:
        yield
    except (TokenError, IndexNotSynced, DomainMismatch) as exc:  # (nothing to wait for: a step or setting to fix)
        raise BadInput(f"{type(exc).__name__}: {exc}") from exc
    except (ConfigError, KeyLoadError, BundleError, JournalError, SealingError, ValueError) as exc:
        raise BadInput(str(exc)) from exc
    except UNAVAILABLE as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
    except CrossverifyError as exc:
        raise Failure(f"{type(exc).__name__}: {exc}") from exc
    except OSError as exc:  # writing bundles, reports or keys: the disk, not the input
        raise Unavailable(f"storage: {exc}") from exc


def command(fn: F) -> F:
    """Turn crossverify errors into exit codes and pass the :class:`App`."""

    @click.pass_obj
    @wraps(fn)
    def wrapper(app: App, *args: Any, **kwargs: Any) -> Any:
        with failures():
            return fn(app, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
