"""One way to reach a chain: the embedded eth-tester chain, or any Ethereum JSON-RPC node by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import requests
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse

from ..errors import NodeUnavailable

EMBEDDED = "embedded"


@contextmanager
def node_errors() -> Iterator[None]:
    """Re-raise a node that cannot be reached as :class:`NodeUnavailable`."""
    try:
        yield
    except (ConnectionError, OSError, requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise NodeUnavailable(f"the node did not answer: {exc}") from exc


class _Provider(HTTPProvider):
    """web3's HTTP provider, with an unreachable node reported as :class:`NodeUnavailable` on every request."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with node_errors():
            return super().make_request(method, params)


@cache
def embedded_chain() -> Web3:
    """This process's in-memory py-evm chain (one per process, shared by every client in it)."""
    return Web3(EthereumTesterProvider())


def connect(rpc: str, *, poa: bool | None = None, timeout: float = 10.0, retries: int = 1,
            chain_id: int | None = None) -> Web3:
    """A Web3 for ``rpc`` (``"embedded"`` or an http(s) URL).

    Each request gives up after ``timeout`` seconds; reads (never sends) are tried ``retries`` more times on a
    connection error or time-out, so a stalled node is reported in seconds, as :class:`NodeUnavailable`.
    Proof-of-authority chains (Besu QBFT/Clique, GoQuorum) put more than 32 bytes in ``extraData``; with
    ``poa=None`` that is detected from the latest block and web3's POA middleware is injected at layer 0.
    ``chain_id``, when given, must match the node's.
    """
    if rpc == EMBEDDED:
        return embedded_chain()
    if not rpc.startswith(("http://", "https://")):
        raise ValueError(f"rpc must be 'embedded' or an http(s) URL, got {rpc!r}")
    retry = ExceptionRetryConfiguration(  # web3 counts attempts, not retries
        errors=(requests.exceptions.ConnectionError, requests.exceptions.Timeout), retries=1 + retries,
        backoff_factor=0.25)
    w3 = Web3(_Provider(rpc, request_kwargs={"timeout": timeout}, exception_retry_configuration=retry))
    with node_errors():
        if poa is None:  # read the raw block: web3's validation would refuse it before we could look
            latest = w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), ["latest", False])
            poa = len(latest["result"]["extraData"]) > 66  # "0x" + more than 32 bytes
        if poa:
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        node_chain = w3.eth.chain_id
    if chain_id is not None and node_chain != chain_id:
        raise ValueError(f"{rpc} serves chain {node_chain}, the configuration expects {chain_id}")
    return w3


def chain_time(w3: Web3, block: int | str = "latest") -> int:
    """The chain's clock: the timestamp of ``block`` (the latest by default), which is what the contracts see
    as ``block.timestamp`` and what every deadline, expiry and as-of check is measured against."""
    with node_errors():
        return int(w3.eth.get_block(block)["timestamp"])  # type: ignore[arg-type]
