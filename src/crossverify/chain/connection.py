"""One way to reach a chain: the embedded eth-tester chain, or any Ethereum JSON-RPC node by URL.

``connect`` checks the node's chain id once; the reads on a hot path (registry views, logs, block headers, the
chain's clock) and the transactions sent then go through :func:`rpc`: one bare JSON-RPC request per read (or one
per batch of reads) on a keep-alive connection of this thread, with none of web3's middleware, which would ask the
node for its chain id again on every call.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
from eth.abc import SignedTransactionAPI, StateAPI
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.vm.spoof import SpoofTransaction
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import BlockNotFound
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.exceptions import Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse

from ..errors import ConfigError, NodeTooSlow, NodeUnavailable

EMBEDDED = "embedded"
#: The largest answer read from a node (a hostile or broken one could send without end): far above any read's
#: (a regulator's chunk of logs is tens of megabytes).
MAX_ANSWER_BYTES = 256 * 2**20
#: Reads by block hash a node refuses in a row (each answered by the block's number) before it is asked by number
#: from then on: one refusal may be a passing fault, and a read by hash is the stronger.
HASH_REFUSALS = 3


@contextmanager
def node_errors() -> Iterator[None]:
    """Re-raise a node that cannot be reached as :class:`NodeUnavailable`."""
    try:
        yield
    except (ConnectionError, OSError, http.client.HTTPException, requests.exceptions.ConnectionError,
            requests.exceptions.Timeout) as exc:
        raise NodeUnavailable(f"the node did not answer: {exc}") from exc


class _Provider(HTTPProvider):
    """web3's HTTP provider, with an unreachable node, or an answer that is not JSON, reported as
    :class:`NodeUnavailable` on every request."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with node_errors():
            try:
                return super().make_request(method, params)
            except json.JSONDecodeError as exc:
                raise _not_json_rpc(str(exc)[:200]) from None


@cache
def embedded_chain() -> Web3:
    """This process's in-memory py-evm chain (one per process, shared by every client in it)."""
    return Web3(EthereumTesterProvider(EthereumTester(estimating_by_execution(PyEVMBackend()))))


def estimating_by_execution(backend: PyEVMBackend) -> PyEVMBackend:
    """``backend``, estimating gas as :func:`estimate_by_execution` does (its chain class is its own)."""
    type(backend.chain).gas_estimator = staticmethod(estimate_by_execution)  # for the chains a revert makes
    backend.chain.gas_estimator = estimate_by_execution
    return backend


def estimate_by_execution(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """The gas ``transaction`` needs, from one run at the block's gas limit: what it used, and 1/64 more for the
    gas a call keeps back (EIP-150), checked by a second run. py-evm's own estimate searches the limit by halves
    (a dozen runs): an SM2 verification in EVM code then costs the embedded chain seconds per transaction.
    Falls back to that search if the second run runs out of gas."""
    def run(gas: int) -> Any:
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(SpoofTransaction(transaction, gas=gas, gas_price=0))  # type: ignore[arg-type]
        finally:
            state.revert(snapshot)

    computation = run(state.gas_limit)
    if computation.is_error:
        raise computation.error
    used = int(state.gas_limit - computation.get_gas_remaining())
    estimate = min(int(state.gas_limit), used + used // 64)
    if not run(estimate).is_error:
        return estimate
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))


def connect(rpc: str, *, poa: bool | None = None, timeout: float = 10.0, retries: int = 1,
            chain_id: int | None = None) -> Web3:
    """A Web3 for ``rpc`` (``"embedded"`` or an http(s) URL).

    Each request gives up after ``timeout`` seconds; reads (never sends) are tried ``retries`` more times on a
    connection error or time-out, so a stalled node is reported in seconds, as :class:`NodeUnavailable`.
    Proof-of-authority chains (Besu QBFT/Clique, GoQuorum) put more than 32 bytes in ``extraData``; with
    ``poa=None`` that is detected from the latest block and web3's POA middleware is injected at layer 0.
    ``chain_id``, when given, must match the node's. A URL of another scheme, or a node of another chain, is a
    :class:`ConfigError`.
    """
    if rpc == EMBEDDED:
        return embedded_chain()
    if not rpc.startswith(("http://", "https://")):
        raise ConfigError(f"[network] rpc must be 'embedded' or an http(s) URL, got {rpc!r}")
    retry = ExceptionRetryConfiguration(  # web3 counts attempts, not retries
        errors=(requests.exceptions.ConnectionError, requests.exceptions.Timeout), retries=1 + retries,
        backoff_factor=0.25)
    w3 = Web3(_Provider(rpc, request_kwargs={"timeout": timeout}, exception_retry_configuration=retry))
    with node_errors():
        if poa is None:  # read the raw block: web3's validation would refuse it before we could look
            latest = w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), ["latest", False])
            block = latest.get("result") if isinstance(latest, dict) else None
            if not isinstance(block, dict) or not isinstance(block.get("extraData"), str):
                raise NodeUnavailable(f"the node answered no latest block: {str(latest)[:200]}")
            poa = len(block["extraData"]) > 66  # "0x" + more than 32 bytes
        if poa:
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        node_chain = w3.eth.chain_id
    if chain_id is not None and node_chain != chain_id:
        raise ConfigError(f"{rpc} serves chain {node_chain}, the configuration expects {chain_id}")
    return w3


def chain_time(w3: Web3, block: int | str = "latest") -> int:
    """The chain's clock: the timestamp of ``block`` (the latest by default), which is what the contracts see
    as ``block.timestamp`` and what every deadline, expiry and as-of check is measured against."""
    return block_time(rpc(w3)("eth_getBlockByNumber", [block if isinstance(block, str) else hex(block), False]))


def first_block_since(w3: Web3, timestamp: int) -> int:
    """The first block whose time is ``timestamp`` or later (the latest, if none is): what happened at that time or
    after is in it or above. Block times never go down: a binary search, one header a step."""
    low, high = 0, quantity(rpc(w3)("eth_blockNumber", []))
    while low < high:
        middle = (low + high) // 2
        if chain_time(w3, middle) < timestamp:
            low = middle + 1
        else:
            high = middle
    return low


def block_time(block: Any) -> int:
    """The timestamp of a block as ``eth_getBlockByNumber`` answers it (hex over JSON-RPC, an int embedded)."""
    if not isinstance(block, dict):
        raise NodeUnavailable(f"the node has no such block: {block!r}")
    return quantity(block["timestamp"])


def quantity(value: Any) -> int:
    """A JSON-RPC quantity as an int: hex over JSON-RPC, an int already from the embedded chain."""
    return int(value, 16) if isinstance(value, str) else int(value)


class JsonRpc:
    """Bare JSON-RPC to the node behind one :class:`Web3`: ``rpc(method, params)`` answers the ``result``, and
    :meth:`batch` many requests in one round trip (sent one by one to a node that refuses batches).

    Over HTTP each thread keeps its own keep-alive connection (:class:`_Wire`), reopened once if the node closed
    it; a node that cannot be reached raises :class:`NodeUnavailable`, an error object :class:`Web3RPCError`
    (carrying the response, so reverts can be decoded). The embedded chain is called in process.
    """

    def __init__(self, w3: Web3, timeout: float = 10.0) -> None:
        provider = w3.provider
        self._tester = provider.ethereum_tester if isinstance(provider, EthereumTesterProvider) else None
        self._embedded = w3 if self._tester is not None else None
        self._local = threading.local()
        self._batches = True
        self._chain_id: int | None = None
        #: Whether the node takes a block by its hash where a block is asked for (EIP-1898): cleared after
        #: ``HASH_REFUSALS`` refusals in a row (:meth:`refused_block_hash`), each answered by the block's number.
        self.block_hashes = True
        self.hash_refusals = 0
        if self._tester is None:
            url = urlsplit(str(getattr(provider, "endpoint_uri", "")))
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(f"bare JSON-RPC needs an http(s) node, not {url.geturl()!r}")
            self._url, self._timeout = url, timeout
            headers = {"Host": url.netloc, "Content-Type": "application/json", **_extra_headers(provider)}
            self._head = (f"POST {url.path or '/'}{'?' + url.query if url.query else ''} HTTP/1.1\r\n"
                          + "".join(f"{k}: {v}\r\n" for k, v in headers.items())).encode("latin-1")

    def __call__(self, method: str, params: Sequence[Any]) -> Any:
        if self._tester is not None:
            return self._in_process(method, params)
        return _result(self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}), method)

    def send(self, method: str, params: Sequence[Any]) -> Any:
        """``self(method, params)`` for a request the node may act on though its answer never came (a transaction
        to broadcast): sent once, never again on a new connection, so that it cannot be broadcast twice. A kept-alive
        connection the node closed while idle is replaced first; one it closes without answering raises
        :class:`NodeUnavailable`."""
        if self._tester is not None:
            return self._in_process(method, params)
        return _result(self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, once=True),
                       method)

    def chain_id(self) -> int:
        """The node's chain id, asked once."""
        if self._chain_id is None:
            self._chain_id = quantity(self("eth_chainId", []))
        return self._chain_id

    def check_chain(self, answered: Any) -> None:
        """Keep the chain id the node answered a read with, the first time; raise :class:`NodeUnavailable` if it is
        another than it was: the URL now reaches another network's node (a load balancer moved this client)."""
        found = quantity(answered)
        if self._chain_id is None:
            self._chain_id = found
        elif found != self._chain_id:
            raise NodeUnavailable(f"the node serves chain {found} now, not chain {self._chain_id} as before: another "
                                  "network's node answers at this URL")

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of ``calls`` (method, params), in order; an error object in any raises."""
        if self._tester is not None or len(calls) < 2 or not self._batches:
            return [self(method, params) for method, params in calls]
        answers = self._post([{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                              for i, (m, p) in enumerate(calls)])
        if not isinstance(answers, list):
            error = answers.get("error") if isinstance(answers, dict) else None
            if isinstance(error, dict) and error.get("code") == _LIMIT_EXCEEDED:  # a limit for now (a rate limit),
                raise NodeUnavailable(  # not a refusal of batches: the next is sent as one again
                    f"a batch: the node's limits were exceeded: {str(error.get('message'))[:200]}")
            self._batches = False  # the node does not take batches: ask one by one from now on
            return [self(method, params) for method, params in calls]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [_result(by_id.get(i, {"error": {"message": "no answer in the batch"}}), m)
                for i, (m, _) in enumerate(calls)]

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """The requests this thread makes meanwhile, together, give up ``seconds`` from now (when that is less than
        the connection's own timeout), raising :class:`NodeTooSlow`: for a caller that must not wait the full timeout,
        and asks again, with it, elsewhere. Other threads' requests keep the full timeout. Each request starts with
        the time left, which bounds each wait for the node (to connect, to send, for the next bytes of its answer):
        a node that stops answering, or trickles its answer a few bytes at a time, is cut off in time."""
        previous = getattr(self._local, "limit", None)
        if self._tester is None and seconds < self._timeout:
            self._local.limit = (time.monotonic() + seconds, seconds)
        try:
            yield
        finally:
            self._local.limit = previous

    def refused_block_hash(self) -> None:
        """Note that the node refused a block named by its hash where it answered the block's number."""
        self.hash_refusals += 1
        if self.hash_refusals >= HASH_REFUSALS:
            self.block_hashes = False

    def _post(self, payload: Any, once: bool = False) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = self._head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        limited: tuple[float, float] | None = getattr(self._local, "limit", None)
        for attempt in (1, 2):
            if limited is None:
                limit = self._timeout
            else:  # the time left (a retry on a closed connection included)
                limit = limited[0] - time.monotonic()
                if limit <= 0:
                    raise _too_slow(limited[1])
            wire: _Wire | None = getattr(self._local, "wire", None)
            if once and wire is not None and wire.dropped():  # closed while idle: a broadcast needs a live one
                self._local.wire = None
                wire.close()
                wire = None
            fresh = wire is None
            with node_errors():
                try:
                    if wire is None:
                        wire = self._local.wire = _Wire(self._url, limit)
                    wire.limit(limit, time.monotonic() + limit if limited is None else limited[0])
                    status, data = wire.exchange(request)
                    if wire.closed:  # the node said it closes the connection after this answer
                        self._local.wire = None
                except _Closed:
                    self._local.wire = None
                    wire.close()  # type: ignore[union-attr]
                    if fresh or once or attempt == 2:  # a new connection the node closed: it is not a stale one
                        raise NodeUnavailable("the node closed the connection without answering") from None
                    continue  # a kept-alive connection the node had closed: open a new one, once
                except BaseException as exc:
                    self._local.wire = None
                    if wire is not None:
                        wire.close()
                    if isinstance(exc, TimeoutError) and limited is not None:
                        raise _too_slow(limited[1]) from exc
                    raise
            if status in _NOT_NOW or (status != 200 and not data.startswith((b"{", b"["))):
                raise NodeUnavailable(f"the node answered HTTP {status}")
            try:
                return json.loads(data)
            except ValueError:
                raise _not_json_rpc(f"HTTP {status}, {data[:80]!r}") from None
        raise AssertionError("unreachable")

    def _in_process(self, method: str, params: Sequence[Any]) -> Any:
        tester = self._tester
        assert tester is not None
        if method == "eth_call":
            request, block = params
            try:
                return tester.call({"from": _tester_account(tester), **request}, _tester_block(tester, block))
            except BlockNotFound as exc:  # answered as a node answers a block it does not have
                raise Web3RPCError(f"eth_call: {exc}", rpc_response={
                    "jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": f"header not found: {exc}"}}
                                   ) from exc
            except TesterTransactionFailed as exc:  # answered as a node answers a revert, in an error object
                message = f"execution reverted: {exc}"  # eth-tester's text holds the revert data
                raise Web3RPCError(f"eth_call: {message}", rpc_response={
                    "jsonrpc": "2.0", "id": 1, "error": {"code": 3, "message": message}}) from exc
        if method == "eth_getBlockByNumber":
            block = params[0]
            try:
                return tester.get_block_by_number(int(block, 16) if block.startswith("0x") else block)
            except BlockNotFound:  # a node answers null for a block it does not have
                return None
        if method in ("eth_estimateGas", "eth_sendTransaction"):
            params = [_tester_transaction(params[0]), *params[1:]]
        assert self._embedded is not None  # anything else through the provider, without middleware
        return _result(self._embedded.provider.make_request(RPCEndpoint(method), list(params)), method)


#: A transaction's fields that JSON-RPC writes as hex quantities.
_QUANTITIES = frozenset({"gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value", "nonce", "chainId"})


def _tester_transaction(tx: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC transaction as eth-tester takes it: its numbers as ints, its fields' names in snake case."""
    return {snake_case(k): quantity(v) if k in _QUANTITIES else v for k, v in tx.items()}


def snake_case(name: str) -> str:
    """A JSON-RPC field's name as eth-tester spells it: ``gasPrice`` is ``gas_price``."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _tester_block(tester: EthereumTester, block: Any) -> Any:
    """eth-tester's block for a JSON-RPC block parameter: a tag, a hex number, or (EIP-1898) ``{"blockHash": ...}``
    (:class:`BlockNotFound` if it has no such block)."""
    if isinstance(block, str):
        return int(block, 16) if block.startswith("0x") else block
    return tester.get_block_by_hash(block["blockHash"])["number"]


class _Closed(Exception):
    """The node closed the connection before answering."""


class _Answers(socket.SocketIO):
    """The bytes a node sends, for the answers' reader. Under a ``deadline`` (monotonic) each wait for more is given
    the time left only: a node trickling its answer a few bytes at a time is cut off at the deadline too."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        super().__init__(sock, "rb")
        self.timeout = timeout
        self.deadline: float | None = None

    def settimeout(self, seconds: float) -> None:
        if seconds != self.timeout:  # a system call: made only when it changes
            self._sock.settimeout(seconds)  # type: ignore[attr-defined]
            self.timeout = seconds

    def readinto(self, buffer: Any) -> int | None:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the node's answer did not arrive in time")
            self.settimeout(left)
        return super().readinto(buffer)


class _Wire:
    """One keep-alive HTTP/1.1 connection to a node: a request out in one write (no Nagle delay), the answer read
    by its Content-Length or its chunks. A fifth of ``http.client``'s processor time per request, which parses
    every answer's headers as e-mail."""

    def __init__(self, url: SplitResult, timeout: float) -> None:
        port = url.port or (443 if url.scheme == "https" else 80)
        sock = socket.create_connection((url.hostname or "", port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if url.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=url.hostname)
        self.sock = sock
        self.answers = _Answers(sock, timeout)
        self.file = io.BufferedReader(self.answers)
        self.closed = False

    def limit(self, timeout: float, deadline: float) -> None:
        """The next exchange's time: ``timeout`` to send, all its reads done by ``deadline``."""
        self.answers.settimeout(timeout)
        self.answers.deadline = deadline

    def dropped(self) -> bool:
        """Whether the node has closed this idle connection (or reset it): an idle kept-alive connection has
        nothing to read until it is asked."""
        return bool(select.select([self.sock], [], [], 0)[0])

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        try:
            self.sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            raise _Closed from None
        try:
            line = self.file.readline(65537)
        except ConnectionResetError:  # reset by the node before it answered (a read is asked again)
            raise _Closed from None
        if not line:
            raise _Closed
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise NodeUnavailable(f"the node answered {line[:80]!r}, not HTTP/1.1")
        length, chunked, close = None, False, False
        while (header := self.file.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = _length(value, 10)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if length is not None and length > MAX_ANSWER_BYTES:
            raise _oversized(length)
        body = self._chunks() if chunked else self.file.read(MAX_ANSWER_BYTES + 1 if length is None else length)
        if len(body) > MAX_ANSWER_BYTES:
            raise _oversized(len(body))
        if close or (length is None and not chunked):
            self.close()
        return int(parts[1]), body

    def _chunks(self) -> bytes:
        parts, total = [], 0
        while size := _length(self.file.readline(1024).split(b";")[0], 16):
            total += size
            if total > MAX_ANSWER_BYTES:
                raise _oversized(total)
            parts.append(self.file.read(size))
            self.file.readline(8)
        while self.file.readline(65537) not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(parts)

    def close(self) -> None:
        self.closed = True
        self.file.close()
        self.sock.close()


def _oversized(size: int) -> NodeUnavailable:
    return _not_json_rpc(f"{size:,} bytes, more than the {MAX_ANSWER_BYTES:,} an answer may hold")


def _length(text: bytes, base: int) -> int:
    """A length an HTTP answer gives (a ``Content-Length``, a chunk's size in hex)."""
    try:
        length = int(text, base)
    except ValueError:
        length = -1
    if length < 0:
        raise _not_json_rpc(f"a length of {text.strip()[:20]!r}")
    return length


def _not_json_rpc(what: str) -> NodeUnavailable:
    """A node, or a proxy before it, answering something else than JSON-RPC over HTTP (a page of its own)."""
    return NodeUnavailable(f"the node's answer is not JSON-RPC over HTTP: {what}")


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


#: HTTP statuses by which a node, or the gateway before it, says "not now" (a rate limit; no node behind the gateway),
#: whatever body comes with them: the node is unavailable, the request was not refused.
_NOT_NOW = frozenset({429, 502, 503, 504})
#: The JSON-RPC error code of a request beyond the node's limits (EIP-1474, "limit exceeded"; hosted nodes' rate
#: limits): the node is unavailable for now, the request was not refused (unless it refuses a log query's size).
_LIMIT_EXCEEDED = -32005
#: What a "limit exceeded" message of ``eth_getLogs`` names when it refuses the query's range or results.
_SIZE_REFUSAL = re.compile(r"range|results", re.IGNORECASE)


def _too_slow(seconds: float) -> NodeTooSlow:
    return NodeTooSlow(f"the node did not answer within {seconds:g} s, the time these reads were given")


def _result(answer: Any, method: str) -> Any:
    if not isinstance(answer, dict):
        raise NodeUnavailable(f"{method}: the node answered {str(answer)[:200]}")
    error = answer.get("error")
    if isinstance(error, dict) and error.get("code") == _LIMIT_EXCEEDED and not _too_large(method, error):
        raise NodeUnavailable(f"{method}: the node's limits were exceeded: {str(error.get('message'))[:200]}")
    if "error" in answer:
        raise Web3RPCError(f"{method}: {answer['error']}", rpc_response=answer)  # type: ignore[arg-type]
    return answer.get("result")


def _too_large(method: str, error: dict[str, Any]) -> bool:
    """Whether a "limit exceeded" error object refuses the query for its size, not the node for now: an
    ``eth_getLogs`` over more blocks than the node takes (Besu's ``--rpc-max-logs-range``: "Requested range exceeds
    maximum RPC range limit") or finding more logs than it answers ("query returned more than 10000 results"), which
    shorter ranges get."""
    return method == "eth_getLogs" and bool(_SIZE_REFUSAL.search(str(error.get("message"))))


def _extra_headers(provider: Any) -> dict[str, str]:
    """Headers the provider was configured with (an API token for a hosted node), without web3's own."""
    headers = dict(getattr(provider, "_request_kwargs", {}).get("headers", {}))
    return {k: v for k, v in headers.items() if k.lower() not in ("content-type", "user-agent")}


@cache
def _tester_account(tester: Any) -> str:
    """The account eth-tester calls from (a call needs a sender that could pay for its gas)."""
    return str(tester.get_accounts()[0])
