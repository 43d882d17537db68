"""The connection factory: proof-of-authority detection, chain id checks, unreachable nodes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from web3.exceptions import ExtraDataLengthError

from crossverify import connect
from crossverify.chain.connection import chain_time, first_block_since
from crossverify.errors import ConfigError, NodeUnavailable

from ..conftest import Consortium

ZERO32 = "0x" + "00" * 32


def block(extra: str) -> dict[str, Any]:
    return {
        "number": "0x10", "hash": "0x" + "11" * 32, "parentHash": ZERO32, "nonce": "0x0000000000000000",
        "sha3Uncles": ZERO32, "logsBloom": "0x" + "00" * 256, "transactionsRoot": ZERO32, "stateRoot": ZERO32,
        "receiptsRoot": ZERO32, "miner": "0x" + "00" * 20, "difficulty": "0x1", "totalDifficulty": "0x10",
        "extraData": extra, "size": "0x200", "gasLimit": "0x1c9c380", "gasUsed": "0x0", "timestamp": "0x6553f100",
        "transactions": [], "uncles": [], "mixHash": ZERO32, "baseFeePerGas": "0x0",
    }


@pytest.fixture
def stub_node() -> Iterator[tuple[str, dict[str, Any]]]:
    """A loopback JSON-RPC stub whose blocks carry QBFT-sized (97-byte) extraData."""
    state = {"extraData": "0x" + "ab" * 97, "chainId": "0x539"}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            result = {"eth_chainId": state["chainId"],
                      "eth_getBlockByNumber": block(state["extraData"])}[request["method"]]
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def test_poa_extra_data_is_detected_and_handled(stub_node: tuple[str, dict[str, Any]]) -> None:
    url, _ = stub_node
    w3 = connect(url, chain_id=1337)
    assert len(w3.eth.get_block("latest")["proofOfAuthorityData"]) == 97
    with pytest.raises(ExtraDataLengthError):
        connect(url, poa=False).eth.get_block("latest")


def test_short_extra_data_needs_no_middleware(stub_node: tuple[str, dict[str, Any]]) -> None:
    url, state = stub_node
    state["extraData"] = "0x" + "ab" * 32
    assert connect(url).eth.get_block("latest")["extraData"] == bytes.fromhex("ab" * 32)


def test_wrong_chain_and_unreachable_node(stub_node: tuple[str, dict[str, Any]]) -> None:
    url, _ = stub_node
    with pytest.raises(ConfigError, match="serves chain 1337"):  # the package's own error, not a bare ValueError
        connect(url, chain_id=8853)
    with pytest.raises(NodeUnavailable):
        connect("http://127.0.0.1:9", timeout=2)
    with pytest.raises(ConfigError, match="embedded"):
        connect("ws://127.0.0.1:8546")


def test_a_stalled_node_is_reported_in_seconds() -> None:
    """A node that accepts connections and never answers (paused, overloaded) fails fast, reads retried once."""
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_stay_silent() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept_and_stay_silent, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(NodeUnavailable):
            connect(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.5, retries=1)
    finally:
        stop.set()
        for s in held:
            s.close()
        server.close()
    assert time.monotonic() - started < 5  # two attempts of 0.5 s and a back-off, not minutes


def test_the_first_block_since_a_time_is_found_by_its_header(consortium: Consortium) -> None:
    """A dispute's answer is looked for from the block it was opened in, found from its time: the first block of
    that time or later, by binary search over the headers."""
    c = consortium
    c.travel(100)
    start = c.w3.eth.block_number
    c.travel(100)
    c.w3.testing.mine(3)
    times = [chain_time(c.w3, n) for n in range(c.w3.eth.block_number + 1)]
    for t in sorted({0, times[start], times[start] + 1, times[-1], times[-1] + 50}):
        expected = next((n for n, at in enumerate(times) if at >= t), len(times) - 1)
        assert first_block_since(c.w3, t) == expected
