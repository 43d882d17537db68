"""Every benchmark section is run by one of the smoke modules beside this one."""

from __future__ import annotations

import ast
from pathlib import Path

from crossverify.bench.__main__ import SECTIONS

from .smoke import TITLES


def test_each_section_is_run_by_exactly_one_smoke_test() -> None:
    run: list[str] = []
    for module in Path(__file__).parent.glob("test_smoke_*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "run_sections":
                run += [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
    assert sorted(run) == sorted(SECTIONS) == sorted(TITLES)
