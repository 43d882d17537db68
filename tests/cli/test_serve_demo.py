"""The README's one command for the resident page: ``crossverify serve --demo``, run as a newcomer would."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_demo_serves_the_page_and_verifies_its_certificates(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "demo"
    env = {**os.environ, "CROSSVERIFY_CONFIG": "", "PYTHONUNBUFFERED": "1"}  # what it says, as it says it
    said = tmp_path / "said.txt"
    with said.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "crossverify.cli", "serve", "--demo", "--port", str(port),
                                    "--out", str(out)], cwd=tmp_path, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, said.read_text()
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo service did not start within a minute"
                time.sleep(0.2)
        assert "<title>crossverify</title>" in httpx.get(f"{base}/resident/").text
        bundles = sorted(out.rglob("*.bundle.json"))
        assert len(bundles) == 3
        shown = httpx.get(f"{base}/resident/metadata", params={"issuer": "BNUMMOMX", "docType": "DEPCERT"}).json()
        assert shown["issuer"]["metadata"]["name"]["zh-Hant"] == "大西洋銀行"  # the page names the issuer, not its BIC
        assert shown["docType"]["metadata"]["name"]["pt"] == "Certificado de depósito"
        verdict = httpx.post(f"{base}/resident/verifications", content=bundles[0].read_bytes()).json()
        assert verdict["valid"] and verdict["issuer"] == "BNUMMOMX"
        key = re.search(r"takes the key (cvk_\S+)", said.read_text())
        assert key is not None and len(key.group(1)) > 40
        hand_over = httpx.post(f"{base}/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"},
                               headers={"Authorization": f"Bearer {key.group(1)}"})
        assert hand_over.status_code == 200, hand_over.text  # the bank can hand a resident a code to present to
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    output = said.read_text()
    assert f"{base}/resident/" in output and str(bundles[0]) in output
    assert not (tmp_path / "crossverify-outbox.sqlite").exists()  # the demo keeps its files in --out
    assert json.loads(bundles[0].read_text())["document"]["docType"] == "DEPCERT"
