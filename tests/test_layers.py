"""The package's folders are its layers, and imports only run downward: the certificate format needs no chain,
the roles need no face, and nothing but a face imports one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "crossverify"

#: What each room may import from crossverify (besides itself). Faces sit on top and may import anything.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "gm": {"errors"},
    "format": {"errors", "gm"},
    "chain": {"errors", "format", "gm"},
    "keys": {"errors", "gm", "format"},
    "config": {"errors"},
    "store": {"errors"},
    "idempotency": {"errors", "store"},
    "sealing": {"errors", "format", "gm"},
    "issuer": {"errors", "format", "chain", "store", "sealing", "idempotency"},
    "consortium": {"errors", "format", "chain"},
    "verifier": {"errors", "format", "chain", "store", "sealing", "idempotency"},
    "regulator": {"errors", "format", "chain", "store", "sealing"},
}
ALLOWED["session"] = set(ALLOWED)  # the wiring sits on every layer below the faces
FACES = {"cli", "service", "demo", "bench", "__init__"}


def _room(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_rooms(path: Path) -> set[str]:
    """The rooms of crossverify that ``path`` imports, from its absolute and relative imports."""
    package = path.relative_to(PACKAGE).with_suffix("").parts[:-1]
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = [*package[: len(package) - node.level + 1], *(node.module.split(".") if node.module else [])]
                names = [a.name for a in node.names] if not target else []
                rooms.update(target[:1] or names)
            elif node.module and node.module.split(".")[0] == "crossverify":
                rooms.update(node.module.split(".")[1:2] or [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "crossverify" and len(parts) > 1:
                    rooms.add(parts[1])
    return rooms


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_downward(path: Path) -> None:
    room = _room(path)
    if room in FACES:
        return
    assert room in ALLOWED, f"{room} is a new room: say in ALLOWED which layers it may import"
    upward = _imported_rooms(path) - ALLOWED[room] - {room}
    assert not upward, f"{path.relative_to(PACKAGE)} imports {sorted(upward)} from a layer above it"


def test_the_format_works_without_the_chain() -> None:
    """Importing the format in a fresh interpreter loads neither web3 nor crossverify.chain."""
    import subprocess
    import sys

    code = ("import sys, crossverify.format.bundle, crossverify.format.batch; "
            "print(sorted(m for m in sys.modules if m.startswith(('web3', 'crossverify.chain'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
