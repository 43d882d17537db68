"""An installed crossverify (a wheel, not this checkout) carries every file it reads at run time: each non-Python
file under src/crossverify is named by pyproject.toml's package data."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "crossverify"


def test_every_data_file_ships_in_the_package() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "crossverify"]
    data = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data
    left_out = [name for name in data if not any(fnmatch(name, pattern) and name.count("/") == pattern.count("/")
                                                 for pattern in patterns)]
    assert left_out == []
