"""One way to reach a chain: the embedded eth-tester chain, or any Ethereum JSON-RPC node by URL.

``connect`` checks the node's chain id once; the reads on a hot path (registry views, logs, block headers, the
chain's clock) then go through :func:`rpc`: one bare JSON-RPC request per read (or one per batch of reads) on a
keep-alive connection of this thread, with none of web3's middleware, which would ask the node for its chain id
again on every call.
"""

from __future__ import annotations

import http.client
import json
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import requests
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.exceptions import Web3RPCError
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
    except (ConnectionError, OSError, http.client.HTTPException, requests.exceptions.ConnectionError,
            requests.exceptions.Timeout) as exc:
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
    return block_time(rpc(w3)("eth_getBlockByNumber", [block if isinstance(block, str) else hex(block), False]))


def block_time(block: Any) -> int:
    """The timestamp of a block as ``eth_getBlockByNumber`` answers it (hex over JSON-RPC, an int embedded)."""
    if not isinstance(block, dict):
        raise NodeUnavailable(f"the node has no such block: {block!r}")
    stamp = block["timestamp"]
    return int(stamp, 16) if isinstance(stamp, str) else int(stamp)


class JsonRpc:
    """Bare JSON-RPC to the node behind one :class:`Web3`: ``rpc(method, params)`` answers the ``result``, and
    :meth:`batch` many requests in one round trip (sent one by one to a node that refuses batches).

    Over HTTP each thread keeps its own keep-alive ``http.client`` connection, reopened once if the node closed
    it; a node that cannot be reached raises :class:`NodeUnavailable`, an error object :class:`Web3RPCError`
    (carrying the response, so reverts can be decoded). The embedded chain is called in process.
    """

    def __init__(self, w3: Web3, timeout: float = 10.0) -> None:
        provider = w3.provider
        self._tester = provider.ethereum_tester if isinstance(provider, EthereumTesterProvider) else None
        self._embedded = w3 if self._tester is not None else None
        self._local = threading.local()
        self._batches = True
        if self._tester is None:
            url = urlsplit(str(getattr(provider, "endpoint_uri", "")))
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(f"bare JSON-RPC needs an http(s) node, not {url.geturl()!r}")
            self._url, self._timeout = url, timeout
            self._headers = {"Content-Type": "application/json", **_extra_headers(provider)}

    def __call__(self, method: str, params: Sequence[Any]) -> Any:
        if self._tester is not None:
            return self._in_process(method, params)
        return _result(self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}), method)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of ``calls`` (method, params), in order; an error object in any raises."""
        if self._tester is not None or len(calls) < 2 or not self._batches:
            return [self(method, params) for method, params in calls]
        answers = self._post([{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                              for i, (m, p) in enumerate(calls)])
        if not isinstance(answers, list):  # the node does not take batches: ask one by one from now on
            self._batches = False
            return [self(method, params) for method, params in calls]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [_result(by_id.get(i, {"error": {"message": "no answer in the batch"}}), m)
                for i, (m, _) in enumerate(calls)]

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        path = self._url.path or "/"
        for attempt in (1, 2):
            connection = self._connection()
            with node_errors():
                try:
                    connection.request("POST", path, body, self._headers)
                    reply = connection.getresponse()
                    data = reply.read()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    connection.close()  # a kept-alive connection the node closed: open a new one, once
                    if attempt == 2:
                        raise
                    continue
            if reply.status != 200 and not data.startswith((b"{", b"[")):
                raise NodeUnavailable(f"the node answered HTTP {reply.status}")
            return json.loads(data)
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._url.scheme == "https" else http.client.HTTPConnection
            connection = kind(self._url.hostname or "", self._url.port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def _in_process(self, method: str, params: Sequence[Any]) -> Any:
        tester = self._tester
        assert tester is not None
        if method == "eth_call":
            request, block = params
            try:
                return tester.call({"from": _tester_account(tester), **request}, block)
            except TesterTransactionFailed as exc:  # answered as a node answers a revert, in an error object
                message = f"execution reverted: {exc}"  # eth-tester's text holds the revert data
                raise Web3RPCError(f"eth_call: {message}", rpc_response={
                    "jsonrpc": "2.0", "id": 1, "error": {"code": 3, "message": message}}) from exc
        if method == "eth_getBlockByNumber":
            block = params[0]
            return tester.get_block_by_number(int(block, 16) if block.startswith("0x") else block)
        assert self._embedded is not None  # anything else through the provider, without middleware
        return _result(self._embedded.provider.make_request(RPCEndpoint(method), list(params)), method)


_RPCS: weakref.WeakKeyDictionary[Web3, JsonRpc] = weakref.WeakKeyDictionary()
_RPCS_LOCK = threading.Lock()


def rpc(w3: Web3) -> JsonRpc:
    """The bare JSON-RPC client of ``w3``'s node (one per :class:`Web3`, shared by its threads)."""
    with _RPCS_LOCK:
        found = _RPCS.get(w3)
        if found is None:
            timeout = getattr(w3.provider, "_request_kwargs", {}).get("timeout", 10.0)
            found = _RPCS[w3] = JsonRpc(w3, timeout)
        return found


def _result(answer: Any, method: str) -> Any:
    if not isinstance(answer, dict):
        raise NodeUnavailable(f"{method}: the node answered {str(answer)[:200]}")
    if "error" in answer:
        raise Web3RPCError(f"{method}: {answer['error']}", rpc_response=answer)  # type: ignore[arg-type]
    return answer.get("result")


def _extra_headers(provider: Any) -> dict[str, str]:
    """Headers the provider was configured with (an API token for a hosted node), without web3's own."""
    headers = dict(getattr(provider, "_request_kwargs", {}).get("headers", {}))
    return {k: v for k, v in headers.items() if k.lower() not in ("content-type", "user-agent")}


@cache
def _tester_account(tester: Any) -> str:
    """The account eth-tester calls from (a call needs a sender that could pay for its gas)."""
    return str(tester.get_accounts()[0])
