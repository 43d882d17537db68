"""``scripts/setup`` on a current checkout installs nothing: no pip, no npm, no apt (so a second ``./scripts/demo``
takes as long as its story). Each part is stamped with the digest of its inputs (pyproject.toml,
package-lock.json, the slither pin): a change to them installs that part again."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
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



def _checkout_without_debian_packages(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A checkout whose Python and npm parts are current, and a PATH with a shell's tools but no apt-get, no
    softhsm2-util and an unprivileged user without sudo: a developer's laptop."""
    checkout, tools = tmp_path / "checkout", tmp_path / "bin"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", checkout / "scripts" / "setup")
    slither = re.search(r'^slither="(.*)"$', (ROOT / "scripts" / "setup").read_text(), re.M)
    assert slither is not None
    for stamp, made_from, program in [(".venv", b"[project]\n", "crossverify"), ("node_modules", b"{}\n", None),
                                      (".venv-slither", f"{slither[1]}\n".encode(), "slither")]:
        (checkout / stamp / "bin").mkdir(parents=True)
        (checkout / stamp / ".setup-stamp").write_text(hashlib.sha256(made_from).hexdigest() + "\n")
        if program:
            (checkout / stamp / "bin" / program).write_text("")
            (checkout / stamp / "bin" / program).chmod(0o755)
    (checkout / "pyproject.toml").write_bytes(b"[project]\n")
    (checkout / "package-lock.json").write_bytes(b"{}\n")
    tools.mkdir()
    for tool in ("bash", "dirname", "cat", "sha256sum", "cut", "grep"):
        (tools / tool).symlink_to(shutil.which(tool) or tool)
    for tool, says in [("id", "echo 1000"), ("sudo", "exit 1")]:
        (tools / tool).write_text(f"#!/bin/sh\n{says}\n")
        (tools / tool).chmod(0o755)
    return checkout, {**os.environ, "PATH": str(tools)}


def test_setup_without_root_names_the_missing_packages_and_goes_on_for_the_demo(tmp_path: Path) -> None:
    """The demo needs none of the Debian packages: without apt-get, root or sudo, setup says which are missing and
    what needs them, and goes on; ``--all`` (scripts/test, whose tests need them) stops there."""
    checkout, env = _checkout_without_debian_packages(tmp_path)
    run = subprocess.run([str(checkout / "scripts" / "setup")], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "apt-get install softhsm2" in run.stderr and "demo --hsm" in run.stderr
    strict = subprocess.run([str(checkout / "scripts" / "setup"), "--all"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert strict.returncode == 1 and "apt-get install softhsm2" in strict.stderr
    assert "./scripts/setup --all" in (ROOT / "scripts" / "test").read_text()
