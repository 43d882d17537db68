"""ESLint (pinned in package.json, configured in eslint.config.mjs) over the project's JavaScript: the pages
run in residents' browsers, where a name used without its import breaks a screen that no Python test renders."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


def eslint(*args: str, text: str | None = None) -> subprocess.CompletedProcess[str]:
    assert ESLINT.exists(), "ESLint is missing: ./scripts/setup installs it (npm ci)"
    return subprocess.run([str(ESLINT), "--max-warnings", "0", *args], cwd=ROOT, input=text, capture_output=True,
                          text=True, timeout=120)


def test_the_javascript_passes_the_linter() -> None:
    run = eslint(".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_linter_catches_a_helper_used_without_its_import() -> None:
    page = ROOT / "src" / "crossverify" / "service" / "page" / "pickup.js"
    unimported = page.read_text().replace(" documentRows,", "")
    run = eslint("--stdin", "--stdin-filename", str(page), text=unimported)
    assert run.returncode == 1 and "'documentRows' is not defined" in run.stdout and "no-undef" in run.stdout
