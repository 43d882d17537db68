"""``scripts/setup`` on a current checkout installs nothing: no pip, no npm, no apt (so a second ``./scripts/demo``
takes as long as its story). Each part is stamped with the digest of its inputs (pyproject.toml,
package-lock.json, the slither pin): a change to them installs that part again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_installs_nothing_when_everything_is_current(tmp_path: Path) -> None:
    for tool in ("npm", "python3", "apt-get", "sudo"):  # any install would call one of these, and fail
        stub = tmp_path / tool
        stub.write_text(f"#!/bin/sh\necho 'setup called {tool}' >&2\nexit 97\n")
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    run = subprocess.run([str(ROOT / "scripts" / "setup")], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"{run.stderr}\n(a checkout set up before the stamps existed: run ./scripts/setup)"

