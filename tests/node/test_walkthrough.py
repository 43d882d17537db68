"""docs/deploy.md's walk-through, run as written: each command of its block, in a copy of examples/, against a
fresh Hardhat node (the configurations name the addresses a fresh node gives the contracts)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from crossverify.bench._node import hardhat_node

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- walk-through: run by tests/node/test_walkthrough.py -->"


def walkthrough() -> list[str]:
    text = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text[text.index(MARKER):], re.S)
    assert block is not None
    return re.sub(r"\\\n\s*", " ", block.group(1)).strip().splitlines()


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    lines = walkthrough()
    assert lines[0] == 'cd examples && export PATH="$PWD/../.venv/bin:$PATH"'
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns(*(
        (ROOT / "examples" / ".gitignore").read_text().split("\n")[1:])))
    with hardhat_node(tmp_path / "hardhat") as url:
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               "CROSSVERIFY_NETWORK_RPC": url}
        outputs = []
        for line in lines[1:]:
            run = subprocess.run(["bash", "-c", line], cwd=examples, env=env, capture_output=True, text=True,
                                 timeout=300)
            assert run.returncode == 0, f"{line}\n{run.stdout}\n{run.stderr}"
            outputs.append(run.stdout)
    assert "registry deployed at 0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" in outputs[0]
    verified = [out for line, out in zip(lines[1:], outputs, strict=True) if " verify " in line]
    assert verified[0].startswith("DEP-2026-0002.bundle.json: VALID") and "Banco Nacional Ultramarino" in verified[0]
    assert verified[1].startswith("alice.presentation.json: VALID") and "Deposit balance" not in verified[1]
    assert "Holder's name" in verified[1] and "陳大文 CHAN Tai Man" in verified[1]
    assert "holder_signed" in verified[1] and "challenge_fresh" in verified[1]  # --verbose: every check
    said = dict(zip(lines[1:], outputs, strict=True))
    [opened] = [out for line, out in said.items() if " dispute open " in line]
    dispute = opened.split()[1]
    assert dispute.startswith("0x") and len(dispute) == 66
    assert next(out for line, out in said.items() if line.endswith("dispute list")).count(dispute) == 1
    assert "not answered yet" in next(out for line, out in said.items() if " dispute show " in line)
    assert (examples / "report.html").stat().st_size > 1000
    assert "<p>No anomalies.</p>" in (examples / "report.html").read_text()  # the walk-through's flow is lawful

