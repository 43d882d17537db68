"""The node tier: a real Ethereum JSON-RPC node (Hardhat 2) on 127.0.0.1, started and stopped by process id."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount

from crossverify.bench._node import hardhat_node

#: Hardhat's publicly known development mnemonic: its accounts hold test ether on its local network only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/node/" in str(item.fspath):
            item.add_marker(pytest.mark.node)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc(url: str, method: str, params: list[object] | None = None) -> object:
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=5)
    return reply.json()["result"]


@pytest.fixture(scope="session")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Hardhat node on a free port (the benchmarks' launcher); stopped by its process group when the session
    ends, whatever happened."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(hardhat_node(tmp_path_factory.mktemp("hardhat")))
        except RuntimeError as failed:
            pytest.fail(str(failed))
        yield url


@pytest.fixture(scope="session")
def dev_accounts() -> list[LocalAccount]:
    """The node's funded development accounts as local keys (transactions are signed here, sent raw)."""
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]


class Proxy:
    """A TCP forwarder in front of the node, to make it refuse connections and come back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: socket.socket | None = None
        self._open: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones (HTTP keep-alive would otherwise carry on)."""
        if self._server:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone would not
            self._server.close()
            self._server = None
        for s in self._open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self._open.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
